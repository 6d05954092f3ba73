//! How a `qmgr` invocation ends: the exit codes and the one-line messages.

use qmgr::hresult::{
    QM_BG_E_INVALID_RANGE, QM_BG_E_OVERLAPPING_RANGES, QM_BG_E_TOO_MANY_RANGES_IN_FILE,
    QM_E_ACCESSDENIED, QM_E_INVALIDARG, QM_E_PATH_NOT_FOUND, QM_E_UNEXPECTED,
    QM_E_WINHTTP_SECURE_FAILURE,
};
use qmgr::{HResult, JobError};

/// The transfer failed: the job ended in ERROR.
pub const EXIT_TRANSFER_FAILED: u8 = 1;
/// Bad usage: an argument clap or qmgr's own checks refused.
pub const EXIT_USAGE: u8 = 2;
/// A qmgr call failed (invalid state, not found, not implemented, ...).
pub const EXIT_CALL_FAILED: u8 = 3;
/// `complete` succeeded, but some files were not transferred.
pub const EXIT_PARTIAL: u8 = 4;

/// The exit codes, as `qmgr --help` shows them.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  the transfer failed (the job ended in ERROR)
  2  bad usage (an unknown flag, a missing or malformed argument, a destination
     directory that does not exist, 'complete' of a job not TRANSFERRED
     without --partial)
  3  a qmgr call failed (e.g. QM_BG_E_INVALID_STATE, QM_BG_E_NOT_FOUND, QM_E_NOTIMPL)
  4  partial complete (QM_BG_S_PARTIAL_COMPLETE: some files were not transferred)
  130, 143  transfer interrupted by SIGINT (Ctrl-C) or SIGTERM: the job is
     cancelled and its partial files deleted (with --state: kept for 'run')

Every error is one line on stderr naming the code:
  qmgr: error: QM_HTTP_ERROR(404) (0x80190194): the server answered HTTP 404: ...";

/// Why an invocation ends with a non-zero exit code.
#[derive(Debug)]
pub struct Failure {
    /// The process exit code.
    pub exit: u8,
    /// `"error"` or `"warning"`.
    pub label: &'static str,
    /// `NAME (0x........): description: details`.
    pub line: String,
}

impl Failure {
    /// Bad usage found after clap parsed the arguments (exit 2).
    pub fn usage(message: impl AsRef<str>) -> Failure {
        Failure {
            exit: EXIT_USAGE,
            label: "error",
            line: format!("{}: {}", HResult(QM_E_INVALIDARG), message.as_ref()),
        }
    }

    /// A qmgr call that refused an argument the user gave (a URL scheme,
    /// a checksum, a header): bad usage (exit 2), named by its code.
    pub fn argument(err: qmgr::Error) -> Failure {
        Failure {
            exit: EXIT_USAGE,
            label: "error",
            line: format!("{}: {}", err.code, err.message),
        }
    }

    /// A failed call that took the user's words (`add_files`): a refused
    /// argument (`QM_E_INVALIDARG`, e.g. an unsupported URL scheme,
    /// `--range`s that cannot be, a destination whose directory does not
    /// exist or may not be written) is bad usage (exit 2), anything else a
    /// failed call (exit 3).
    pub fn argument_or_call(err: qmgr::Error) -> Failure {
        let refused = [
            QM_E_INVALIDARG,
            QM_E_PATH_NOT_FOUND,
            QM_E_ACCESSDENIED,
            QM_BG_E_INVALID_RANGE,
            QM_BG_E_OVERLAPPING_RANGES,
            QM_BG_E_TOO_MANY_RANGES_IN_FILE,
        ];
        if refused.contains(&err.code.0) {
            Failure::argument(err)
        } else {
            Failure::call(err)
        }
    }

    /// A failed qmgr call (exit 3).
    pub fn call(err: qmgr::Error) -> Failure {
        Failure {
            exit: EXIT_CALL_FAILED,
            label: "error",
            line: format!("{}: {}", err.code, err.message),
        }
    }

    /// Something the Rust API should not have let happen (exit 3).
    pub fn unexpected(message: impl AsRef<str>) -> Failure {
        Failure {
            exit: EXIT_CALL_FAILED,
            label: "error",
            line: format!("{}: {}", HResult(QM_E_UNEXPECTED), message.as_ref()),
        }
    }

    /// A job that ended in ERROR (exit 1), with advice when the error is
    /// one a person can fix by an option (see [`tls_hint`]).
    pub fn transfer(err: &JobError) -> Failure {
        let mut line = format!("{}: {}", err.code, err.description);
        if err.code == HResult(QM_E_WINHTTP_SECURE_FAILURE) {
            if let Some(hint) = tls_hint(&err.description) {
                line = format!("{}: {hint} ({})", err.code, err.description);
            }
        }
        Failure {
            exit: EXIT_TRANSFER_FAILED,
            label: "error",
            line,
        }
    }

    /// `complete` returned `QM_BG_S_PARTIAL_COMPLETE` (exit 4).
    pub fn partial(code: HResult, details: impl AsRef<str>) -> Failure {
        Failure {
            exit: EXIT_PARTIAL,
            label: "warning",
            line: format!("{code}: {}", details.as_ref()),
        }
    }

    /// `transfer` stopped by a signal (exit 128 + the signal's number, as
    /// shells report a process the signal killed).
    pub fn interrupted(signal: i32, message: impl AsRef<str>) -> Failure {
        Failure {
            exit: u8::try_from(128 + signal).unwrap_or(EXIT_CALL_FAILED),
            label: "error",
            line: message.as_ref().to_string(),
        }
    }

    /// An exit code whose reasons were already printed.
    pub fn silent(exit: u8) -> Failure {
        Failure {
            exit,
            label: "error",
            line: String::new(),
        }
    }

    /// Adds words at the end of the line.
    pub fn with_suffix(mut self, suffix: impl AsRef<str>) -> Failure {
        self.line.push_str(suffix.as_ref());
        self
    }

    /// Prints the failure as one line on stderr.
    pub fn print(&self) {
        if self.line.is_empty() {
            return;
        }
        errln!("qmgr: {}: {}", self.label, one_line(&self.line));
    }
}

impl From<qmgr::Error> for Failure {
    fn from(err: qmgr::Error) -> Failure {
        Failure::call(err)
    }
}

/// The text on one line: line breaks and other control characters become spaces.
pub fn one_line(text: &str) -> String {
    text.trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// What to do about a TLS failure (`ERROR_WINHTTP_SECURE_FAILURE`), in
/// words, from the rustls/webpki error its description carries.
pub fn tls_hint(description: &str) -> Option<&'static str> {
    const HINTS: [(&[&str], &str); 7] = [
        (
            &["UnknownIssuer"],
            "the server's certificate is not trusted; pass --ca-file with the CA that signed it",
        ),
        (
            &["CaUsedAsEndEntity"],
            "the server presents a CA certificate (a self-signed one?) as its own; \
             pass --ca-file with that very certificate to trust it",
        ),
        (
            &["NotValidForName", "not valid for name"],
            "the server's certificate is not issued for this host name; \
             use the name it was issued for",
        ),
        (
            &["Expired", "NotValidYet", "not valid before", "not valid after"],
            "the server's certificate is outside its validity period (or this machine's clock is wrong)",
        ),
        (
            &["CertificateRequired", "certificate required"],
            "the server requires a client certificate; pass --cert and --key",
        ),
        (
            &["InvalidPurpose", "BadEncoding", "UnsupportedSignatureAlgorithm"],
            "the server's certificate cannot be used for TLS here; the server needs another certificate",
        ),
        (
            &["HandshakeFailure", "handshake failure"],
            "the TLS handshake failed: the server may require a client certificate (--cert and --key) \
             or support no cipher qmgr offers",
        ),
    ];
    HINTS
        .iter()
        .find(|(needles, _)| needles.iter().any(|n| description.contains(n)))
        .map(|(_, hint)| *hint)
}

#[cfg(test)]
mod tests {
    use super::tls_hint;

    #[test]
    fn tls_failures_get_advice() {
        let hint = |d| tls_hint(d).unwrap_or("");
        assert!(hint("failed: invalid peer certificate: UnknownIssuer").contains("--ca-file"));
        assert!(
            hint("invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))")
                .contains("self-signed")
        );
        assert!(hint("received fatal alert: CertificateRequired").contains("--cert and --key"));
        assert!(hint("invalid peer certificate: NotValidForName").contains("host name"));
        assert_eq!(tls_hint("connection reset"), None);
    }
}
