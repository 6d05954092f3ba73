//! The header's section "Transfer options": how and when a job transfers
//! (priority, retries, limits on time, size, speed and connections).

use super::constants::QM_SIZE_UNKNOWN;
use super::handles;
use super::types::*;
use super::util::{
    bool_arg, job_do, job_get, job_get_opt_str, job_set, opt_str_arg, write_bytes, Out,
};
use crate::engine::error::Error;
use crate::hresult::*;
use crate::{Priority, UploadProtocol};
use std::ffi::c_char;

/// Sets the priority, a `QM_PRIORITY_*` value (default NORMAL).
/// Returns `QM_S_OK`, `QM_E_INVALIDARG` (unknown value),
/// `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_job_set_priority(job: qm_job_t, priority: u32) -> qm_hresult {
    job_do(job, |j| {
        let p = Priority::from_u32(priority)
            .ok_or_else(|| Error::invalid_arg(format!("unknown priority {priority}")))?;
        j.set_priority(p).map(|_| HResult::OK)
    })
}

/// Gets the priority (`QM_PRIORITY_*`).
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_priority(job: qm_job_t, out: *mut u32) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { job_get(job, out, |j| Ok(j.priority() as u32)) }
}

/// Sets the minimum delay before a retry after a transient error, in
/// seconds (default 600; values below 1 are stored as 1).
/// Returns `QM_S_OK`, `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_job_set_min_retry_delay(job: qm_job_t, seconds: u32) -> qm_hresult {
    job_set(job, |j| j.set_min_retry_delay(seconds))
}

/// Gets the minimum retry delay in seconds.
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_min_retry_delay(job: qm_job_t, out: *mut u32) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { job_get(job, out, |j| Ok(j.min_retry_delay())) }
}

/// Sets how long transient errors may go on without any progress before the
/// job moves to ERROR, in seconds (default 1,209,600 = 14 days; 0: the
/// first error is final).
/// Returns `QM_S_OK`, `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_job_set_no_progress_timeout(job: qm_job_t, seconds: u32) -> qm_hresult {
    job_set(job, |j| j.set_no_progress_timeout(seconds))
}

/// Gets the no-progress timeout in seconds.
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_no_progress_timeout(
    job: qm_job_t,
    out: *mut u32,
) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { job_get(job, out, |j| Ok(j.no_progress_timeout())) }
}

/// Sets the longest time, in seconds, the job may spend CONNECTING or
/// TRANSFERRING (BITS's `IBackgroundCopyJob4::SetMaximumDownloadTime`;
/// default 7,776,000 s, 90 days; 0: no limit). Time QUEUED, SUSPENDED or
/// in TRANSIENT_ERROR does not count; `qm_job_resume` starts it again.
/// When it runs out the job goes to ERROR with
/// `QM_BG_E_MAXDOWNLOAD_TIMEOUT` (context GENERAL_QUEUE_MANAGER); a
/// resume gives it the full time again. Returns `QM_S_OK`,
/// `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_job_set_max_download_time(job: qm_job_t, seconds: u32) -> qm_hresult {
    job_set(job, |j| j.set_max_download_time(seconds))
}

/// Gets the job's maximum download time, in seconds (0: no limit).
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_max_download_time(job: qm_job_t, out: *mut u32) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { job_get(job, out, |j| Ok(j.max_download_time())) }
}

/// Sets the job's own bandwidth limit in bytes per second (0: none). It
/// applies on top of the manager's limit, whatever the priority, and to
/// every transport, local copies included.
/// Returns `QM_S_OK`, `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_job_set_max_bandwidth(job: qm_job_t, bytes_per_sec: u64) -> qm_hresult {
    job_set(job, |j| j.set_max_bandwidth(bytes_per_sec))
}

/// Gets the job's own bandwidth limit (0: none).
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_max_bandwidth(job: qm_job_t, out: *mut u64) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { job_get(job, out, |j| Ok(j.max_bandwidth())) }
}

/// Sets the largest file the job may download, in bytes (0, the default:
/// no limit; BITS's `BITS_JOB_PROPERTY_MAX_DOWNLOAD_SIZE`). A file whose
/// announced size is larger, or whose body grows past the limit, puts the
/// job in ERROR with `QM_BG_E_MAX_DOWNLOAD_SIZE_LIMIT_REACHED` before any
/// byte past the limit is written.
/// Returns `QM_S_OK`, `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_job_set_max_download_size(job: qm_job_t, bytes: u64) -> qm_hresult {
    job_set(job, |j| j.set_max_download_size(bytes))
}

/// Gets the job's maximum download size in bytes (0: no limit).
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_max_download_size(job: qm_job_t, out: *mut u64) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { job_get(job, out, |j| Ok(j.max_download_size())) }
}

/// Sets a speed floor, as curl's `--speed-limit`/`--speed-time`: a transfer
/// that moves fewer than `bytes_per_sec` on average over `seconds` is given
/// up as a transient timeout (`QM_E_WINHTTP_TIMEOUT`, TRANSIENT_ERROR, retried
/// after the retry delay). Either argument 0 (the default) turns it off.
/// As curl's, it counts the time before the body too: each request must
/// connect and get its response head within `seconds`.
/// Time spent waiting for the job's or the manager's bandwidth limit does not
/// count. Returns `QM_S_OK`, `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`.
/// Any thread.
#[no_mangle]
pub extern "C" fn qm_job_set_low_speed_limit(
    job: qm_job_t,
    bytes_per_sec: u64,
    seconds: u32,
) -> qm_hresult {
    job_set(job, |j| j.set_low_speed_limit(bytes_per_sec, seconds))
}

/// Gets the speed floor: `*bytes_per_sec` and `*seconds` (both 0 when off).
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER` (either pointer NULL).
/// Any thread.
///
/// # Safety
/// `bytes_per_sec` and `seconds` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_low_speed_limit(
    job: qm_job_t,
    bytes_per_sec: *mut u64,
    seconds: *mut u32,
) -> qm_hresult {
    guard!({
        let rate = Out::new(bytes_per_sec, "bytes_per_sec")?;
        let time = Out::new(seconds, "seconds")?;
        let (r, t) = handles::with_job(job, |j| j.low_speed_limit())?;
        // SAFETY: both checked non-NULL; the caller promises they are writable.
        unsafe {
            rate.write(r);
            time.write(t);
        }
        Ok(HResult::OK)
    })
}

/// Sets how many connections the job may use at once (at least 1; default
/// 6, what browsers open to one host). The job transfers that many of its
/// files at once, each on its own connection, reusing kept-alive
/// connections per server, so a job of many small files does not pay one
/// round trip per file; a remote file of 2 MiB or more whose server
/// answers ranges (`Accept-Ranges: bytes`, a strong ETag or Last-Modified)
/// is split into segments over idle connections, each a range request
/// with `If-Range`, so a per-connection rate cap does not bound it. Files
/// may then finish in any order (`QM_NOTIFY_FILE_TRANSFERRED` fires as
/// each one lands); `qm_job_complete` still places them all at once. 1
/// gives the sequential behaviour of qmgr 0.1. The manager's caps apply on
/// top (`qm_manager_set_max_connections`, `_per_server`). Applies from the
/// job's next run. Returns `QM_S_OK`, `QM_E_INVALIDARG` (0),
/// `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_job_set_max_connections(job: qm_job_t, n: u32) -> qm_hresult {
    job_set(job, |j| j.set_max_connections(n))
}

/// Gets how many connections the job may use at once.
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_max_connections(job: qm_job_t, out: *mut u32) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { job_get(job, out, |j| Ok(j.max_connections())) }
}

/// Marks the job's content as dynamic (BITS's
/// `BITS_JOB_PROPERTY_DYNAMIC_CONTENT`): the server may send other bytes on
/// every request and has no stable validator, so each file comes in one
/// request without a range, is never split into segments, and starts
/// again from zero after any interruption (a cut, a suspend, a restart of
/// the process). `enabled` is 1 (on) or 0 (off, the default).
/// Returns `QM_S_OK`, `QM_E_INVALIDARG` (`enabled` neither 0 nor 1),
/// `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_job_set_dynamic_content(job: qm_job_t, enabled: u32) -> qm_hresult {
    job_set(job, |j| {
        j.set_dynamic_content(bool_arg(enabled, "enabled")?)
    })
}

/// Gets whether the job's content is dynamic: 1 or 0.
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_dynamic_content(job: qm_job_t, out: *mut u32) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { job_get(job, out, |j| Ok(u32::from(j.dynamic_content()))) }
}

/// Sets whether the job yields to other traffic. While on, a background
/// job (`QM_PRIORITY_HIGH`, `_NORMAL` or `_LOW`; never `_FOREGROUND`) gives
/// way to other traffic on the network, so that it uses only idle
/// bandwidth: qmgr watches the queuing delay of its HTTP(S) connections
/// (receiver-side LEDBAT, RFC 6817 and RFC 9840: a target of 60 ms for
/// HIGH, 15 ms for NORMAL and LOW) and the traffic of other programs on
/// the host's network interfaces, and slows the job through its reads and
/// its receive window. All background connections of one priority yield
/// as one flow. Linux only; elsewhere the option is kept but has no
/// effect. Off, the job competes like any download, as FOREGROUND jobs
/// always do. The job's and the manager's bandwidth limits apply either
/// way. It may be changed at any time, also while the job transfers (it
/// applies within 20 ms). `enabled` is 1 (on, the default) or 0
/// (off). Returns `QM_S_OK`, `QM_E_INVALIDARG` (`enabled` neither 0 nor
/// 1), `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_job_set_yielding(job: qm_job_t, enabled: u32) -> qm_hresult {
    job_set(job, |j| j.set_yielding(bool_arg(enabled, "enabled")?))
}

/// Gets whether the job yields to other traffic: 1 or 0.
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_yielding(job: qm_job_t, out: *mut u32) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { job_get(job, out, |j| Ok(u32::from(j.yielding()))) }
}

/// Sets an upload job's protocol; how each maps onto BITS's calls:
/// - `QM_UPLOAD_PROTOCOL_TUS` (the default of `QM_JOB_TYPE_UPLOAD` jobs):
///   tus 1.0.0 (core, creation, termination, checksum with SHA-256,
///   expiration). The file's remote name is the server's creation URL
///   (`POST`); the upload URL the server names (`Location`, of the remote
///   name's origin only, or the job fails) is kept with the job; each
///   piece is a `PATCH` whose confirmed `Upload-Offset` is the job's
///   progress (`qm_job_get_progress`); after a cut, a restart or a resume
///   qmgr asks the server (`HEAD`) and sends only the rest; `qm_job_cancel`
///   ends the upload on the server (`DELETE`, best effort). tus has no
///   reply, so it is refused on `QM_JOB_TYPE_UPLOAD_REPLY` jobs.
/// - `QM_UPLOAD_PROTOCOL_RUFH` (experimental until it is an RFC; the
///   protocol of `QM_JOB_TYPE_UPLOAD_REPLY` jobs): the IETF draft
///   draft-ietf-httpbis-resumable-upload-12, `Upload-Draft-Interop-Version:
///   8`. The remote name receives the upload (`POST` with
///   `Upload-Complete`); the 104 interim response names the upload URL
///   (same origin rule); offsets are asked with `HEAD` and appended with
///   `PATCH`; the final response's body is BITS's reply
///   (`qm_job_get_reply_data`, `qm_job_set_reply_file_name`).
///
/// Another protocol is another upload: the next attempt creates it afresh.
/// Returns `QM_S_OK`, `QM_E_INVALIDARG` (an unknown value, or tus on an
/// upload-reply job), `QM_E_NOTIMPL` (a download job),
/// `QM_BG_E_INVALID_STATE` (the upload is running, or the job is final),
/// `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_job_set_upload_protocol(job: qm_job_t, protocol: u32) -> qm_hresult {
    job_set(job, |j| {
        let p = UploadProtocol::from_u32(protocol)
            .ok_or_else(|| Error::invalid_arg(format!("unknown upload protocol {protocol}")))?;
        j.set_upload_protocol(p)
    })
}

/// Gets an upload job's protocol: a `QM_UPLOAD_PROTOCOL_*` value.
/// Returns `QM_S_OK`, `QM_E_NOTIMPL` (a download job), `QM_E_HANDLE`,
/// `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_upload_protocol(job: qm_job_t, out: *mut u32) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { job_get(job, out, |j| Ok(j.upload_protocol()? as u32)) }
}

/// Sets where an upload-reply job's reply goes (`SetReplyFileName`): an
/// absolute path in an existing directory the job's owner may write, or
/// NULL (the default) to keep the reply in memory. A reply over 1 MiB
/// (`QM_MAX_REPLY_DATA`) does not fit there: as BITS does with a reply it
/// was given no file for, it goes to a file beside the local file
/// (`NAME.JOB-ID.reply`), which `qm_job_get_reply_file_name` then names,
/// and `qm_job_get_reply_data` answers `QM_BG_E_TOO_LARGE`. The file is
/// written (a temporary file beside it, fsynced and renamed) when the
/// whole reply has arrived; unlike BITS it is in place before
/// `qm_job_complete`.
/// Returns `QM_S_OK`, `QM_E_INVALIDARG` (not UTF-8, not an absolute
/// path), `QM_E_PATH_NOT_FOUND`, `QM_E_ACCESSDENIED` (its directory),
/// `QM_E_NOTIMPL` (not an upload-reply job), `QM_BG_E_INVALID_STATE`
/// (final), `QM_E_HANDLE`. Any thread.
///
/// # Safety
/// `path` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn qm_job_set_reply_file_name(
    job: qm_job_t,
    path: *const c_char,
) -> qm_hresult {
    job_set(job, |j| {
        // SAFETY: the caller promises a valid C string or NULL.
        j.set_reply_file_name(unsafe { opt_str_arg(path, "path") }?)
    })
}

/// Gets an upload-reply job's reply file (`GetReplyFileName`; string
/// out-parameter convention of `qm_format_hresult`). Returns `QM_S_OK`,
/// `QM_S_FALSE` (none set: the reply is kept in memory; the string is
/// empty; a reply over 1 MiB that arrived names the file it went to),
/// `QM_E_INSUFFICIENT_BUFFER`, `QM_E_NOTIMPL` (not an upload-reply
/// job), `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_reply_file_name(
    job: qm_job_t,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> qm_hresult {
    // SAFETY: forwarded caller promises.
    unsafe {
        job_get_opt_str(job, buf, cap, needed, |j| {
            Ok(j.reply_file_name()?
                .map(|p| p.to_string_lossy().into_owned()))
        })
    }
}

/// Gets the reply's progress (`GetReplyProgress`): its size in bytes
/// (`QM_SIZE_UNKNOWN` until it has arrived) and the bytes received.
/// Returns `QM_S_OK`, `QM_E_NOTIMPL` (not an upload-reply job),
/// `QM_E_HANDLE`, `QM_E_POINTER` (either pointer NULL). Any thread.
///
/// # Safety
/// `bytes_total` and `bytes_transferred` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_reply_progress(
    job: qm_job_t,
    bytes_total: *mut u64,
    bytes_transferred: *mut u64,
) -> qm_hresult {
    guard!({
        let total = Out::new(bytes_total, "bytes_total")?;
        let done = Out::new(bytes_transferred, "bytes_transferred")?;
        let p = handles::job(job)?.reply_progress()?;
        // SAFETY: checked non-NULL; writable by the caller's promise.
        unsafe {
            total.write(p.bytes_total.unwrap_or(QM_SIZE_UNKNOWN));
            done.write(p.bytes_transferred);
        }
        Ok(HResult::OK)
    })
}

/// Copies the server's reply out (`GetReplyData`) once the job is
/// TRANSFERRED (or completed), from memory or from the reply file:
/// `*needed` gets its length in bytes (no NUL is added); `buf = NULL,
/// cap = 0` is a size query. Returns `QM_S_OK`, `QM_E_INSUFFICIENT_BUFFER`,
/// `QM_BG_E_TOO_LARGE` (over 1 MiB, `QM_MAX_REPLY_DATA`: as BITS's
/// `pSize`, `*needed` gets the reply's length and nothing is copied; read
/// the reply file), `QM_BG_E_INVALID_STATE` (the reply has not arrived),
/// `QM_E_NOTIMPL` (not an upload-reply job), `QM_E_HANDLE`, `QM_E_POINTER`
/// (`needed` NULL, or `buf` NULL with `cap` not 0). Any thread.
///
/// # Safety
/// `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_reply_data(
    job: qm_job_t,
    buf: *mut u8,
    cap: usize,
    needed: *mut usize,
) -> qm_hresult {
    guard!({
        if needed.is_null() {
            return Err(Error::new(QM_E_POINTER, "needed is NULL"));
        }
        let job = handles::job(job)?;
        let data = match job.reply_data() {
            Err(e) if e.code == HResult(QM_BG_E_TOO_LARGE) => {
                if let Some(len) = job.reply_progress()?.bytes_total {
                    // SAFETY: checked non-NULL; writable by the caller's promise.
                    unsafe { *needed = usize::try_from(len).unwrap_or(usize::MAX) };
                }
                return Err(e);
            }
            other => other?,
        };
        // SAFETY: forwarded caller promises.
        unsafe { write_bytes(&data, false, buf, cap, needed, HResult::OK) }
    })
}
