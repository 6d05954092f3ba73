//! HRESULT codes: the numbers every qmgr call returns.
//!
//! The values are Microsoft's (winerror.h, qmgr.h, bitsmsg.h) so that a code
//! seen in a qmgr log can be looked up in Windows documentation. They are ABI:
//! never renumber one, and never reuse a retired one.
//!
//! The `QM_*` constants are plain `i32`s so that cbindgen turns each into a
//! `#define` in `include/qmgr.h`; [`HResult`] wraps one for the Rust API.
#![allow(non_camel_case_types)]

use std::fmt;

/// An HRESULT-compatible result code: negative is failure, zero or positive
/// is success (`QM_SUCCEEDED(hr)` is `hr >= 0`).
pub type qm_hresult = i32;

/// The operation succeeded.
pub const QM_S_OK: qm_hresult = 0x0000_0000;
/// The operation succeeded with a qualified answer (e.g. "nothing to report").
pub const QM_S_FALSE: qm_hresult = 0x0000_0001;
/// The function or option is not implemented.
pub const QM_E_NOTIMPL: qm_hresult = 0x8000_4001_u32 as i32;
/// A required out-pointer was NULL.
pub const QM_E_POINTER: qm_hresult = 0x8000_4003_u32 as i32;
/// The operation was aborted (e.g. the manager closed while waiting).
pub const QM_E_ABORT: qm_hresult = 0x8000_4004_u32 as i32;
/// Unspecified failure.
pub const QM_E_FAIL: qm_hresult = 0x8000_4005_u32 as i32;
/// An internal error (a bug in qmgr, reported instead of crashing).
pub const QM_E_UNEXPECTED: qm_hresult = 0x8000_FFFF_u32 as i32;
/// Access denied.
pub const QM_E_ACCESSDENIED: qm_hresult = 0x8007_0005_u32 as i32;
/// The handle is zero, closed, stale, or of the wrong kind.
pub const QM_E_HANDLE: qm_hresult = 0x8007_0006_u32 as i32;
/// Out of memory.
pub const QM_E_OUTOFMEMORY: qm_hresult = 0x8007_000E_u32 as i32;
/// An argument is invalid: a NULL or non-UTF-8 string, an unknown flag or enum value.
pub const QM_E_INVALIDARG: qm_hresult = 0x8007_0057_u32 as i32;
/// The caller's buffer is too small; `*needed` says how large it must be.
pub const QM_E_INSUFFICIENT_BUFFER: qm_hresult = 0x8007_007A_u32 as i32;
/// The state directory is already open in this or another process.
pub const QM_E_SHARING_VIOLATION: qm_hresult = 0x8007_0020_u32 as i32;
/// A file was not found (`HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND)`).
pub const QM_E_FILE_NOT_FOUND: qm_hresult = 0x8007_0002_u32 as i32;
/// A directory was not found (`HRESULT_FROM_WIN32(ERROR_PATH_NOT_FOUND)`).
pub const QM_E_PATH_NOT_FOUND: qm_hresult = 0x8007_0003_u32 as i32;
/// The disk is full (`HRESULT_FROM_WIN32(ERROR_DISK_FULL)`).
pub const QM_E_DISK_FULL: qm_hresult = 0x8007_0070_u32 as i32;
/// A network operation timed out (`ERROR_WINHTTP_TIMEOUT`).
pub const QM_E_WINHTTP_TIMEOUT: qm_hresult = 0x8007_2EE2_u32 as i32;
/// The server name could not be resolved (`ERROR_WINHTTP_NAME_NOT_RESOLVED`).
pub const QM_E_WINHTTP_NAME_NOT_RESOLVED: qm_hresult = 0x8007_2EE7_u32 as i32;
/// The server could not be reached (`ERROR_WINHTTP_CANNOT_CONNECT`).
pub const QM_E_WINHTTP_CANNOT_CONNECT: qm_hresult = 0x8007_2EFD_u32 as i32;
/// The connection was reset or closed early (`ERROR_WINHTTP_CONNECTION_ERROR`).
pub const QM_E_WINHTTP_CONNECTION_ERROR: qm_hresult = 0x8007_2EFE_u32 as i32;
/// TLS failed: certificate not trusted, bad name, handshake error (`ERROR_WINHTTP_SECURE_FAILURE`).
pub const QM_E_WINHTTP_SECURE_FAILURE: qm_hresult = 0x8007_2F8F_u32 as i32;
/// A redirect was refused: by the job's redirect policy, from HTTPS to HTTP,
/// or out of HTTP(S) (`ERROR_WINHTTP_REDIRECT_FAILED`).
pub const QM_E_WINHTTP_REDIRECT_FAILED: qm_hresult = 0x8007_2F7C_u32 as i32;

/// BITS 1.x (qmgr.h): the requested action is not allowed in the current state.
pub const QM_E_INVALID_STATE: qm_hresult = 0x8100_1001_u32 as i32;
/// BITS 1.x (qmgr.h): the service is not available.
pub const QM_E_SERVICE_UNAVAILABLE: qm_hresult = 0x8100_1002_u32 as i32;
/// BITS 1.x (qmgr.h): the downloader is not available.
pub const QM_E_DOWNLOADER_UNAVAILABLE: qm_hresult = 0x8100_1003_u32 as i32;
/// BITS 1.x (qmgr.h): an index is past the end (e.g. a file index).
pub const QM_E_ITEM_NOT_FOUND: qm_hresult = 0x8100_1004_u32 as i32;

/// The requested job was not found.
pub const QM_BG_E_NOT_FOUND: qm_hresult = 0x8020_0001_u32 as i32;
/// The requested action is not allowed in the job's current state.
pub const QM_BG_E_INVALID_STATE: qm_hresult = 0x8020_0002_u32 as i32;
/// The job has no files, or nothing left to transfer.
pub const QM_BG_E_EMPTY: qm_hresult = 0x8020_0003_u32 as i32;
/// The remote file is not available.
pub const QM_BG_E_FILE_NOT_AVAILABLE: qm_hresult = 0x8020_0004_u32 as i32;
/// The URL's protocol is not supported.
pub const QM_BG_E_PROTOCOL_NOT_AVAILABLE: qm_hresult = 0x8020_0005_u32 as i32;
/// The job has no error to report.
pub const QM_BG_E_ERROR_INFORMATION_UNAVAILABLE: qm_hresult = 0x8020_000F_u32 as i32;
/// The network is disconnected.
pub const QM_BG_E_NETWORK_DISCONNECTED: qm_hresult = 0x8020_0010_u32 as i32;
/// The server did not return the file size.
pub const QM_BG_E_MISSING_FILE_SIZE: qm_hresult = 0x8020_0011_u32 as i32;
/// The server does not support the HTTP features required.
pub const QM_BG_E_INSUFFICIENT_HTTP_SUPPORT: qm_hresult = 0x8020_0012_u32 as i32;
/// The server does not support range requests.
pub const QM_BG_E_INSUFFICIENT_RANGE_SUPPORT: qm_hresult = 0x8020_0013_u32 as i32;
/// Complete succeeded, but some files were not transferred and were not kept.
pub const QM_BG_S_PARTIAL_COMPLETE: qm_hresult = 0x0020_0017;
/// Cancel succeeded, but some temporary files could not be deleted.
pub const QM_BG_S_UNABLE_TO_DELETE_FILES: qm_hresult = 0x0020_001A;
/// The server's response was not valid.
pub const QM_BG_E_INVALID_SERVER_RESPONSE: qm_hresult = 0x8020_001B_u32 as i32;
/// Too many files.
pub const QM_BG_E_TOO_MANY_FILES: qm_hresult = 0x8020_001C_u32 as i32;
/// A local file changed while the job used it.
pub const QM_BG_E_LOCAL_FILE_CHANGED: qm_hresult = 0x8020_001D_u32 as i32;
/// The file is too large.
pub const QM_BG_E_TOO_LARGE: qm_hresult = 0x8020_0020_u32 as i32;
/// A string is longer than allowed (display name 256, description 1,024 characters).
pub const QM_BG_E_STRING_TOO_LONG: qm_hresult = 0x8020_0021_u32 as i32;
/// The job made no progress within its no-progress timeout.
pub const QM_BG_E_NO_PROGRESS: qm_hresult = 0x8020_0024_u32 as i32;
/// The user name is too long.
pub const QM_BG_E_USERNAME_TOO_LARGE: qm_hresult = 0x8020_0025_u32 as i32;
/// The password is too long.
pub const QM_BG_E_PASSWORD_TOO_LARGE: qm_hresult = 0x8020_0026_u32 as i32;
/// A requested range is not valid.
pub const QM_BG_E_INVALID_RANGE: qm_hresult = 0x8020_002B_u32 as i32;
/// The ranges of a file overlap or repeat (`BG_E_OVERLAPPING_RANGES`).
pub const QM_BG_E_OVERLAPPING_RANGES: qm_hresult = 0x8020_002C_u32 as i32;
/// The operation timed out.
pub const QM_BG_E_TIMEOUT: qm_hresult = 0x8020_003B_u32 as i32;
/// The proxy settings are not valid.
pub const QM_BG_E_INVALID_PROXY_INFO: qm_hresult = 0x8020_003F_u32 as i32;
/// The user holds the maximum number of jobs (`BG_E_TOO_MANY_JOBS_PER_USER`;
/// BITS's default `MaxJobsPerUser`, 300): a daemon's policy.
pub const QM_BG_E_TOO_MANY_JOBS_PER_USER: qm_hresult = 0x8020_0049_u32 as i32;
/// The job holds the maximum number of files.
pub const QM_BG_E_TOO_MANY_FILES_IN_JOB: qm_hresult = 0x8020_0051_u32 as i32;
/// A file has more ranges than the per-file limit (`BG_E_TOO_MANY_RANGES_IN_FILE`; BITS's default `MaxRangesPerFile`, 500).
pub const QM_BG_E_TOO_MANY_RANGES_IN_FILE: qm_hresult = 0x8020_0052_u32 as i32;
/// The downloaded content failed validation (SHA-256 mismatch).
pub const QM_BG_E_VALIDATION_FAILED: qm_hresult = 0x8020_0053_u32 as i32;
/// The job spent longer than its maximum download time connecting and
/// transferring (`BG_E_MAXDOWNLOAD_TIMEOUT`).
pub const QM_BG_E_MAXDOWNLOAD_TIMEOUT: qm_hresult = 0x8020_0054_u32 as i32;
/// A file is larger than the job's maximum download size (`BG_E_MAX_DOWNLOAD_SIZE_LIMIT_REACHED`).
pub const QM_BG_E_MAX_DOWNLOAD_SIZE_LIMIT_REACHED: qm_hresult = 0x8020_0064_u32 as i32;

/// The base of `QM_HTTP_ERROR(n)` (`BG_E_HTTP_ERROR_nnn` = `0x80190000 | nnn`).
pub const QM_HTTP_ERROR_BASE: qm_hresult = 0x8019_0000_u32 as i32;

/// A result code as a Rust value: a thin wrapper over [`qm_hresult`] with a
/// name, a description and the conversions qmgr uses.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct HResult(pub qm_hresult);

const FACILITY_WIN32: u32 = 7;
const FACILITY_HTTP: u32 = 0x19;

/// One row of the code table: value, name, description.
struct CodeInfo(qm_hresult, &'static str, &'static str);

macro_rules! code_table {
    ($($name:ident => $text:literal,)*) => {
        &[$(CodeInfo($name, stringify!($name), $text),)*]
    };
}

/// Every code qmgr knows by name, with the sentence `qm_format_hresult` prints.
static CODES: &[CodeInfo] = code_table! {
    QM_S_OK => "the operation succeeded",
    QM_S_FALSE => "the operation succeeded with nothing to report",
    QM_E_NOTIMPL => "not implemented",
    QM_E_POINTER => "a required pointer argument is NULL",
    QM_E_ABORT => "the operation was aborted",
    QM_E_FAIL => "unspecified failure",
    QM_E_UNEXPECTED => "unexpected internal failure",
    QM_E_ACCESSDENIED => "access is denied",
    QM_E_HANDLE => "the handle is invalid, closed or stale",
    QM_E_OUTOFMEMORY => "not enough memory",
    QM_E_INVALIDARG => "an argument is invalid",
    QM_E_INSUFFICIENT_BUFFER => "the buffer is too small",
    QM_E_SHARING_VIOLATION => "the state directory is in use by another manager",
    QM_E_FILE_NOT_FOUND => "the file was not found",
    QM_E_PATH_NOT_FOUND => "the directory was not found",
    QM_E_DISK_FULL => "the disk is full",
    QM_E_WINHTTP_TIMEOUT => "the network operation timed out",
    QM_E_WINHTTP_NAME_NOT_RESOLVED => "the server name could not be resolved",
    QM_E_WINHTTP_CANNOT_CONNECT => "the server could not be reached",
    QM_E_WINHTTP_CONNECTION_ERROR => "the connection with the server was reset or closed",
    QM_E_WINHTTP_SECURE_FAILURE => "the server's TLS certificate or handshake failed verification",
    QM_E_WINHTTP_REDIRECT_FAILED => "the server's redirect was refused (redirect policy, HTTPS to HTTP, or not HTTP)",
    QM_E_INVALID_STATE => "the requested action is not allowed in the current state",
    QM_E_SERVICE_UNAVAILABLE => "the service is not available",
    QM_E_DOWNLOADER_UNAVAILABLE => "the downloader is not available",
    QM_E_ITEM_NOT_FOUND => "the item was not found (index out of range)",
    QM_BG_E_NOT_FOUND => "the requested job was not found",
    QM_BG_E_INVALID_STATE => "the requested action is not allowed in the job's current state",
    QM_BG_E_EMPTY => "the job has no files to transfer",
    QM_BG_E_FILE_NOT_AVAILABLE => "the remote file is not available",
    QM_BG_E_PROTOCOL_NOT_AVAILABLE => "the protocol of the URL is not supported",
    QM_BG_E_ERROR_INFORMATION_UNAVAILABLE => "the job has no error information",
    QM_BG_E_NETWORK_DISCONNECTED => "the network is disconnected",
    QM_BG_E_MISSING_FILE_SIZE => "the server did not return the file size",
    QM_BG_E_INSUFFICIENT_HTTP_SUPPORT => "the server does not support the required HTTP features",
    QM_BG_E_INSUFFICIENT_RANGE_SUPPORT => "the server does not support range requests",
    QM_BG_S_PARTIAL_COMPLETE => "some files of the job were not transferred and were discarded",
    QM_BG_S_UNABLE_TO_DELETE_FILES => "some temporary files could not be deleted",
    QM_BG_E_INVALID_SERVER_RESPONSE => "the server's response was not valid",
    QM_BG_E_TOO_MANY_FILES => "too many files",
    QM_BG_E_LOCAL_FILE_CHANGED => "a local file changed while the job used it",
    QM_BG_E_TOO_LARGE => "the file is too large",
    QM_BG_E_STRING_TOO_LONG => "the string is too long",
    QM_BG_E_NO_PROGRESS => "the job made no progress within its no-progress timeout",
    QM_BG_E_USERNAME_TOO_LARGE => "the user name is too long",
    QM_BG_E_PASSWORD_TOO_LARGE => "the password is too long",
    QM_BG_E_INVALID_RANGE => "the requested range is not valid",
    QM_BG_E_OVERLAPPING_RANGES => "the list of byte ranges has overlapping or duplicate ranges",
    QM_BG_E_TIMEOUT => "the operation timed out",
    QM_BG_E_INVALID_PROXY_INFO => "the proxy settings are not valid",
    QM_BG_E_TOO_MANY_JOBS_PER_USER => "the user holds the maximum number of jobs",
    QM_BG_E_TOO_MANY_FILES_IN_JOB => "the job holds the maximum number of files",
    QM_BG_E_TOO_MANY_RANGES_IN_FILE => "the file has more ranges than the per-file limit",
    QM_BG_E_VALIDATION_FAILED => "the downloaded content failed validation (SHA-256 mismatch)",
    QM_BG_E_MAXDOWNLOAD_TIMEOUT => "the job's maximum download time passed",
    QM_BG_E_MAX_DOWNLOAD_SIZE_LIMIT_REACHED => "a file is larger than the job's maximum download size",
};

/// Every named code as `(name, value, description)`, in ABI order; the
/// header's `#define`s are generated from this list.
pub fn known_codes() -> impl Iterator<Item = (&'static str, qm_hresult, &'static str)> {
    CODES.iter().map(|c| (c.1, c.0, c.2))
}

impl HResult {
    /// `QM_S_OK`.
    pub const OK: HResult = HResult(QM_S_OK);

    /// True for success codes (`>= 0`).
    pub fn succeeded(self) -> bool {
        self.0 >= 0
    }

    /// `HRESULT_FROM_WIN32(code)`, exactly as winerror.h defines it.
    pub fn from_win32(code: u32) -> HResult {
        if code as i32 <= 0 {
            HResult(code as i32)
        } else {
            HResult(((code & 0xFFFF) | (FACILITY_WIN32 << 16) | 0x8000_0000) as i32)
        }
    }

    /// `QM_HTTP_ERROR(status)`: `0x80190000 | status`.
    pub fn from_http_status(status: u16) -> HResult {
        HResult(QM_HTTP_ERROR_BASE | i32::from(status))
    }

    /// The facility field (bits 16–26).
    pub fn facility(self) -> u32 {
        (self.0 as u32 >> 16) & 0x1FFF
    }

    /// The Win32 error inside a FACILITY_WIN32 failure, else 0.
    pub fn win32_code(self) -> u32 {
        if !self.succeeded() && self.facility() == FACILITY_WIN32 {
            self.0 as u32 & 0xFFFF
        } else {
            0
        }
    }

    /// The HTTP status inside a `QM_HTTP_ERROR(n)`, else `None`.
    pub fn http_status(self) -> Option<u16> {
        (!self.succeeded() && self.facility() == FACILITY_HTTP)
            .then_some((self.0 as u32 & 0xFFFF) as u16)
    }

    /// The `QM_*` name of a known code (`"QM_HTTP_ERROR(404)"` for HTTP codes).
    pub fn name(self) -> Option<String> {
        if let Some(info) = CODES.iter().find(|c| c.0 == self.0) {
            return Some(info.1.to_string());
        }
        self.http_status().map(|s| format!("QM_HTTP_ERROR({s})"))
    }

    /// A short English description; a generic one for codes qmgr does not know.
    pub fn description(self) -> String {
        if let Some(info) = CODES.iter().find(|c| c.0 == self.0) {
            return info.2.to_string();
        }
        if let Some(status) = self.http_status() {
            return format!("the server answered HTTP {status}");
        }
        let win32 = self.win32_code();
        if win32 != 0 {
            // The OS text for the errno that maps to this Win32 code, when one does.
            return format!("Win32 error {win32}");
        }
        if self.succeeded() {
            "unknown success code".to_string()
        } else {
            "unknown error".to_string()
        }
    }

    /// Maps an I/O error to `HRESULT_FROM_WIN32` of the matching Win32 error.
    pub fn from_io_error(err: &std::io::Error) -> HResult {
        use std::io::ErrorKind as K;
        let win32 = match err.raw_os_error() {
            Some(libc::ENOENT) => 2,                        // ERROR_FILE_NOT_FOUND
            Some(libc::ENOTDIR) => 3,                       // ERROR_PATH_NOT_FOUND
            Some(libc::EACCES) | Some(libc::EPERM) => 5,    // ERROR_ACCESS_DENIED
            Some(libc::EROFS) => 19,                        // ERROR_WRITE_PROTECT
            Some(libc::EBUSY) | Some(libc::ETXTBSY) => 32,  // ERROR_SHARING_VIOLATION
            Some(libc::ENOSPC) | Some(libc::EDQUOT) => 112, // ERROR_DISK_FULL
            Some(libc::EEXIST) => 80,                       // ERROR_FILE_EXISTS
            Some(libc::EISDIR) => 5, // ERROR_ACCESS_DENIED (as Windows reports it)
            Some(libc::ENAMETOOLONG) => 206, // ERROR_FILENAME_EXCED_RANGE
            Some(libc::ELOOP) => 1921, // ERROR_CANT_RESOLVE_FILENAME
            Some(libc::EFBIG) => 223, // ERROR_FILE_TOO_LARGE
            Some(libc::ENOMEM) => 14, // ERROR_OUTOFMEMORY
            Some(libc::EIO) => 1117, // ERROR_IO_DEVICE
            Some(libc::EXDEV) => 17, // ERROR_NOT_SAME_DEVICE
            _ => match err.kind() {
                K::NotFound => 2,
                K::PermissionDenied => 5,
                K::AlreadyExists => 80,
                K::UnexpectedEof => 38, // ERROR_HANDLE_EOF
                K::OutOfMemory => 14,
                _ => return HResult(QM_E_FAIL),
            },
        };
        HResult::from_win32(win32)
    }
}

impl fmt::Display for HResult {
    /// `NAME (0xXXXXXXXX): description`, or `0xXXXXXXXX: description` for unknown codes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(
                f,
                "{name} (0x{:08X}): {}",
                self.0 as u32,
                self.description()
            ),
            None => write!(f, "0x{:08X}: {}", self.0 as u32, self.description()),
        }
    }
}

impl fmt::Debug for HResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn win32_mapping_matches_winerror_h() {
        assert_eq!(HResult::from_win32(2).0 as u32, 0x8007_0002);
        assert_eq!(HResult::from_win32(12029).0 as u32, 0x8007_2EFD);
        assert_eq!(HResult::from_win32(0), HResult::OK);
        assert_eq!(HResult::from_win32(32).0, QM_E_SHARING_VIOLATION);
        assert_eq!(HResult::from_win32(122).0, QM_E_INSUFFICIENT_BUFFER);
        assert_eq!(HResult(QM_E_WINHTTP_CANNOT_CONNECT).win32_code(), 12029);
        assert_eq!(HResult(QM_BG_E_EMPTY).win32_code(), 0);
    }

    #[test]
    fn http_codes_round_trip() {
        let hr = HResult::from_http_status(404);
        assert_eq!(hr.0 as u32, 0x8019_0194);
        assert_eq!(hr.http_status(), Some(404));
        assert_eq!(hr.name().as_deref(), Some("QM_HTTP_ERROR(404)"));
        assert_eq!(HResult::from_http_status(503).0 as u32, 0x8019_01F7);
    }

    #[test]
    fn every_code_has_a_unique_value_and_formats() {
        for (i, a) in CODES.iter().enumerate() {
            for b in &CODES[i + 1..] {
                assert_ne!(a.0, b.0, "{} and {} share a value", a.1, b.1);
            }
        }
        let text = HResult(QM_BG_E_INVALID_STATE).to_string();
        assert_eq!(
            text,
            "QM_BG_E_INVALID_STATE (0x80200002): the requested action is not allowed in the job's current state"
        );
        assert_eq!(
            HResult(0x8123_4567_u32 as i32).to_string(),
            "0x81234567: unknown error"
        );
    }

    #[test]
    fn io_errors_map_to_win32() {
        let e = std::io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(HResult::from_io_error(&e).0, QM_E_FILE_NOT_FOUND);
        let e = std::io::Error::from_raw_os_error(libc::ENOSPC);
        assert_eq!(HResult::from_io_error(&e).0, QM_E_DISK_FULL);
    }
}
