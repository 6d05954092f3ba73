//! The message of each thread's last failed call, as COM's `GetErrorInfo`
//! and `sqlite3_errmsg` keep one beside the code: the code says what kind of
//! failure it was, the message says which value, path or URL was at fault.

use std::cell::RefCell;
use std::ffi::c_char;

use super::types::qm_hresult;
use super::util::write_str;
use crate::engine::error::Error;
use crate::hresult::*;

thread_local! {
    /// The message of this thread's last failed call.
    static LAST: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Keeps `err`'s message as this thread's last error; returns its code.
pub(crate) fn record(err: Error) -> qm_hresult {
    let code = err.code.0;
    LAST.with(|last| *last.borrow_mut() = Some(err.message));
    code
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
    let text = LAST.with(|last| last.borrow().clone());
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
