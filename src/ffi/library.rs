//! The header's section "Library": version, ABI, code descriptions, the
//! calling thread's last error, GUID strings.

use std::ffi::c_char;

use super::last_error;
use super::types::{qm_guid, qm_hresult};
use super::util::{str_arg, write_str, Out};
use crate::hresult::*;
use crate::JobId;

/// The ABI major number; bumped only by incompatible changes (it is the
/// SONAME's number: `libqmgr.so.1`).
pub const QM_ABI_VERSION: u32 = 1;

/// The library's version as a static NUL-terminated string, e.g. "0.3.0".
/// Never NULL; the caller must not free it. Any thread.
#[no_mangle]
pub extern "C" fn qm_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The ABI major number of the loaded library (`QM_ABI_VERSION` of its
/// header). A program built against another major number must not use it.
/// Any thread.
#[no_mangle]
pub extern "C" fn qm_abi_version() -> u32 {
    QM_ABI_VERSION
}

/// Describes any code in words, e.g. "QM_BG_E_INVALID_STATE (0x80200002):
/// the requested action is not allowed in the job's current state"; unknown
/// codes give "0xXXXXXXXX: unknown error" (or "unknown success code").
///
/// String out-parameter convention: `*needed` is set to the size including
/// the NUL whenever `needed` is valid (also with `QM_E_INSUFFICIENT_BUFFER`;
/// not when the call fails for another reason); `buf = NULL, cap = 0` asks
/// for the size.
/// Returns `QM_S_OK`, `QM_E_INSUFFICIENT_BUFFER` (buffer too small),
/// `QM_E_POINTER` (`needed` NULL, or `buf` NULL with `cap > 0`). Any thread.
///
/// # Safety
/// `buf` must be NULL or valid for `cap` bytes; `needed` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_format_hresult(
    hr: qm_hresult,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> qm_hresult {
    guard!({
        let text = HResult(hr).to_string();
        // SAFETY: forwarded caller promises.
        unsafe { write_str(&text, buf, cap, needed, HResult::OK) }
    })
}

/// Writes the message of the calling thread's last failed qmgr call (the
/// engine's words, e.g. "file 0: the local name 'fw.bin' is not an absolute
/// file path"). Each failing call on a thread replaces it; successful calls
/// leave it alone, and this call never changes it, even when it fails.
/// Returns `QM_S_OK`, `QM_S_FALSE` when no call of this thread has failed
/// yet (the text is then empty), or the string out-parameter codes of
/// `qm_format_hresult`. Any thread; each thread sees its own message.
///
/// # Safety
/// `buf` must be NULL or valid for `cap` bytes; `needed` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_get_last_error_message(
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> qm_hresult {
    let text = last_error::message();
    let ok = HResult(if text.is_some() { QM_S_OK } else { QM_S_FALSE });
    // Not through `guard!`: its own failure must not replace the message.
    let outcome = std::panic::catch_unwind(|| {
        // SAFETY: forwarded caller promises.
        unsafe { write_str(text.as_deref().unwrap_or(""), buf, cap, needed, ok) }
    });
    match outcome {
        Ok(Ok(hr)) => hr.0,
        Ok(Err(err)) => err.code.0,
        Err(_) => QM_E_UNEXPECTED,
    }
}

/// Writes the canonical 36-character lower-case form of a GUID
/// ("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", 37 bytes with the NUL).
/// Returns `QM_S_OK`, `QM_E_INVALIDARG` (`guid` NULL), or the string
/// out-parameter codes of `qm_format_hresult`. Any thread.
///
/// # Safety
/// `guid` NULL or valid; `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_guid_to_string(
    guid: *const qm_guid,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> qm_hresult {
    guard!({
        if guid.is_null() {
            return Err(crate::Error::invalid_arg("guid is NULL"));
        }
        // SAFETY: non-NULL; the caller promises it points to a qm_guid.
        let bytes = unsafe { guid.read_unaligned() }.bytes;
        // SAFETY: forwarded caller promises.
        unsafe { write_str(&JobId(bytes).to_string(), buf, cap, needed, HResult::OK) }
    })
}

/// Parses the canonical 36-character form (either case) into `*out`.
/// Returns `QM_S_OK`, `QM_E_INVALIDARG` (NULL, non-UTF-8 or malformed
/// text), `QM_E_POINTER` (`out` NULL). Any thread.
///
/// # Safety
/// `text` NULL or a NUL-terminated string; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_guid_from_string(text: *const c_char, out: *mut qm_guid) -> qm_hresult {
    guard!({
        let out = Out::new(out, "out")?;
        // SAFETY: the caller promises a valid C string or NULL.
        let id: JobId = unsafe { str_arg(text, "text") }?.parse()?;
        // SAFETY: checked non-NULL; the caller promises it is writable.
        unsafe { out.write(qm_guid { bytes: id.0 }) };
        Ok(HResult::OK)
    })
}
