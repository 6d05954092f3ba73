//! The message of each thread's last failed call, as COM's `GetErrorInfo`
//! and `sqlite3_errmsg` keep one beside the code: the code says what kind of
//! failure it was, the message says which value, path or URL was at fault.
//! Read by `qm_get_last_error_message` (`library.rs`).

use std::cell::RefCell;

use super::types::qm_hresult;
use crate::engine::error::Error;

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

/// This thread's last error message, if a call of it has failed.
pub(crate) fn message() -> Option<String> {
    LAST.with(|last| last.borrow().clone())
}
