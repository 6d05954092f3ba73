//! The error type of the Rust API.

use crate::engine::transport::url::redact;
use crate::hresult::*;

/// An error of the Rust API: the HRESULT the C API returns for it, and a
/// sentence for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// The code the C API returns.
    pub code: HResult,
    /// What went wrong, with the value or path involved.
    pub message: String,
}

/// "the message [QM_CODE (0x...): its description]".
impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} [{}]", self.message, self.code)
    }
}

impl std::error::Error for Error {}

/// The result type of the Rust API.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error with this code and message; a URL's password in the
    /// message is masked (`scheme://user:***@host`), as in every error
    /// text qmgr makes.
    pub fn new(code: qm_hresult, message: impl Into<String>) -> Error {
        let message = message.into();
        Error {
            code: HResult(code),
            message: redact(&message).into_owned(),
        }
    }

    /// `QM_E_INVALIDARG` with a message.
    pub fn invalid_arg(message: impl Into<String>) -> Error {
        Error::new(QM_E_INVALIDARG, message)
    }

    /// `QM_BG_E_INVALID_STATE` for an action not allowed in `state`.
    pub fn invalid_state(action: &str, state: impl std::fmt::Display) -> Error {
        Error::new(
            QM_BG_E_INVALID_STATE,
            format!("cannot {action} a job in state {state}"),
        )
    }

    /// `QM_E_HANDLE`: the manager is closed.
    pub fn manager_closed() -> Error {
        Error::new(QM_E_HANDLE, "the manager is closed")
    }
}
