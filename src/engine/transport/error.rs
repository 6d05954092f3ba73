//! How a failed transfer step becomes an HRESULT: the one place where
//! network, HTTP and file errors are classified (transient or fatal, which
//! code, which context), so every transport reports alike.

use std::io::ErrorKind;
use std::path::Path;
use std::time::Duration;

use crate::engine::types::ErrorContext;
use crate::hresult::*;

/// A failed transfer step, classified for the job's error model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TransferError {
    /// The HRESULT the job reports.
    pub code: HResult,
    /// Where it happened.
    pub context: ErrorContext,
    /// The HTTP status involved, 0 if none.
    pub http_status: u16,
    /// Retried after the retry delay (true), or the job stops in ERROR (false).
    pub transient: bool,
    /// What happened, in words, with the URL, path or offset.
    pub description: String,
    /// The server's Retry-After, when it sent one.
    pub retry_after: Option<Duration>,
    /// The URL a refused redirect pointed to.
    pub redirected_to: Option<String>,
}

impl TransferError {
    /// A fatal error.
    pub(crate) fn fatal(
        code: HResult,
        context: ErrorContext,
        description: String,
    ) -> TransferError {
        TransferError {
            code,
            context,
            http_status: 0,
            transient: false,
            description,
            retry_after: None,
            redirected_to: None,
        }
    }

    /// A transient error.
    pub(crate) fn transient(
        code: HResult,
        context: ErrorContext,
        description: String,
    ) -> TransferError {
        TransferError {
            transient: true,
            ..TransferError::fatal(code, context, description)
        }
    }

    /// An I/O error on the destination side: missing directory, full disk, permissions.
    pub(crate) fn local_io(what: &str, path: &Path, err: &std::io::Error) -> TransferError {
        TransferError::fatal(
            HResult::from_io_error(err),
            ErrorContext::LocalFile,
            format!("{what} '{}' failed: {err}", path.display()),
        )
    }

    /// The source ended before the size it announced.
    pub(crate) fn short_body(written: u64, total: u64) -> TransferError {
        TransferError::transient(
            HResult(QM_E_WINHTTP_CONNECTION_ERROR),
            ErrorContext::RemoteFile,
            format!("the source ended at byte {written} of {total}"),
        )
    }
}

/// Which kind of source a read failed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SourceKind {
    /// A local file.
    Local,
    /// An HTTP(S) response body.
    Http,
}

/// A failed read of a source's body at byte `at`: always transient (the
/// connection is resumed or the job retried).
pub(crate) fn read_error(kind: SourceKind, err: &std::io::Error, at: u64) -> TransferError {
    // A stall while the body flows reaches us as ureq's Timeout wrapped in
    // an io::Error of kind Other: a timeout all the same.
    let ureq_timeout = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<ureq::Error>())
        .is_some_and(|e| matches!(e, ureq::Error::Timeout(_)));
    let timed_out =
        ureq_timeout || matches!(err.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock);
    let (code, context) = match kind {
        SourceKind::Local => (HResult::from_io_error(err), ErrorContext::RemoteFile),
        SourceKind::Http if timed_out => (
            HResult(QM_E_WINHTTP_TIMEOUT),
            ErrorContext::GeneralTransport,
        ),
        SourceKind::Http => (
            HResult(QM_E_WINHTTP_CONNECTION_ERROR),
            ErrorContext::GeneralTransport,
        ),
    };
    TransferError::transient(
        code,
        context,
        format!("reading the source failed at byte {at}: {err}"),
    )
}

/// An HTTP error status: 408, 429 and the 5xx gateway/availability errors
/// are transient; other statuses are fatal `QM_HTTP_ERROR(status)`.
pub(crate) fn status_error(
    status: u16,
    reason: &str,
    retry_after: Option<Duration>,
    url: &str,
    offset: u64,
) -> TransferError {
    let transient = matches!(status, 408 | 429 | 500 | 502 | 503 | 504);
    let description =
        format!("GET {url} (from byte {offset}): the server answered {status} {reason}");
    let context = if status >= 500 {
        ErrorContext::RemoteApplication
    } else {
        ErrorContext::RemoteFile
    };
    TransferError {
        code: HResult::from_http_status(status),
        context,
        http_status: status,
        transient,
        description: description.trim_end().to_string(),
        retry_after: retry_after.filter(|_| transient),
        redirected_to: None,
    }
}

/// Maps a failed HTTP request to the Win32/WinHTTP codes Windows reports.
pub(crate) fn request_error(err: &ureq::Error, url: &str, offset: u64) -> TransferError {
    use ureq::Error as E;
    use ErrorKind as K;
    let (code, transient) = match err {
        E::Timeout(_) => (QM_E_WINHTTP_TIMEOUT, true),
        E::HostNotFound => (QM_E_WINHTTP_NAME_NOT_RESOLVED, true),
        E::ConnectionFailed => (QM_E_WINHTTP_CANNOT_CONNECT, true),
        #[cfg(feature = "tls")]
        E::Io(io) if is_tls_failure(io) => (QM_E_WINHTTP_SECURE_FAILURE, false),
        // ureq's resolver hands getaddrinfo's failure on as a plain io::Error.
        E::Io(io)
            if io
                .to_string()
                .starts_with("failed to lookup address information") =>
        {
            (QM_E_WINHTTP_NAME_NOT_RESOLVED, true)
        }
        E::Io(io) => match io.kind() {
            K::ConnectionRefused
            | K::HostUnreachable
            | K::NetworkUnreachable
            | K::AddrNotAvailable => (QM_E_WINHTTP_CANNOT_CONNECT, true),
            K::TimedOut | K::WouldBlock => (QM_E_WINHTTP_TIMEOUT, true),
            _ => (QM_E_WINHTTP_CONNECTION_ERROR, true),
        },
        E::Protocol(_) => (QM_BG_E_INVALID_SERVER_RESPONSE, true),
        E::Tls(_) => (QM_E_WINHTTP_SECURE_FAILURE, false),
        #[cfg(feature = "tls")]
        E::Pem(_) | E::Rustls(_) => (QM_E_WINHTTP_SECURE_FAILURE, false),
        E::TooManyRedirects | E::RedirectFailed => (QM_BG_E_INVALID_SERVER_RESPONSE, false),
        E::InvalidProxyUrl => (QM_BG_E_INVALID_PROXY_INFO, false),
        // The proxy refused or failed the tunnel: like an unreachable server.
        E::ConnectProxyFailed(_) => (QM_E_WINHTTP_CANNOT_CONNECT, true),
        E::BadUri(_) => (QM_BG_E_PROTOCOL_NOT_AVAILABLE, false),
        _ => (QM_E_FAIL, false),
    };
    TransferError {
        code: HResult(code),
        context: ErrorContext::GeneralTransport,
        http_status: 0,
        transient,
        description: format!("GET {url} (from byte {offset}) failed: {err}"),
        retry_after: None,
        redirected_to: None,
    }
}

/// A redirect the job's policy refuses (or one that leaves HTTP): fatal
/// `HRESULT_FROM_WIN32(ERROR_WINHTTP_REDIRECT_FAILED)`, as WinHTTP reports
/// the redirects its policy forbids.
pub(crate) fn redirect_refused(from: &str, to: &str, why: &str) -> TransferError {
    TransferError {
        redirected_to: Some(to.to_string()),
        ..TransferError::fatal(
            HResult(QM_E_WINHTTP_REDIRECT_FAILED),
            ErrorContext::RemoteFile,
            format!("GET {from}: the server redirected to {to}, which is refused: {why}"),
        )
    }
}

/// A TLS set-up failure (unreadable CA file, client certificate or key): fatal.
#[cfg(feature = "tls")]
pub(crate) fn tls_setup_error(what: String) -> TransferError {
    TransferError::fatal(
        HResult(QM_E_WINHTTP_SECURE_FAILURE),
        ErrorContext::GeneralTransport,
        what,
    )
}

/// True when an I/O error carries a TLS failure (e.g. an untrusted certificate).
#[cfg(feature = "tls")]
fn is_tls_failure(err: &std::io::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = err.get_ref().map(|e| e as _);
    while let Some(e) = source {
        if e.is::<rustls::Error>() {
            return true;
        }
        source = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_transient_only_where_a_retry_can_help() {
        for status in [408, 429, 500, 502, 503, 504] {
            let e = status_error(status, "", Some(Duration::from_secs(9)), "http://h/x", 0);
            assert!(e.transient, "{status}");
            assert_eq!(e.retry_after, Some(Duration::from_secs(9)));
        }
        for status in [400, 401, 403, 404, 410, 501] {
            let e = status_error(
                status,
                "Nope",
                Some(Duration::from_secs(9)),
                "http://h/x",
                7,
            );
            assert!(!e.transient, "{status}");
            assert_eq!(e.retry_after, None);
            assert_eq!(e.code, HResult::from_http_status(status));
            assert!(e.description.contains("from byte 7"), "{}", e.description);
        }
        assert_eq!(
            status_error(503, "", None, "u", 0).context,
            ErrorContext::RemoteApplication
        );
        assert_eq!(
            status_error(404, "", None, "u", 0).context,
            ErrorContext::RemoteFile
        );
    }

    #[test]
    fn read_errors_are_transient_with_winhttp_codes() {
        let timeout = std::io::Error::new(ErrorKind::TimedOut, "slow");
        let reset = std::io::Error::new(ErrorKind::ConnectionReset, "reset");
        let e = read_error(SourceKind::Http, &timeout, 5);
        assert_eq!((e.code.0, e.transient), (QM_E_WINHTTP_TIMEOUT, true));
        let e = read_error(SourceKind::Http, &reset, 5);
        assert_eq!(e.code.0, QM_E_WINHTTP_CONNECTION_ERROR);
        let e = read_error(SourceKind::Local, &reset, 5);
        assert_eq!(e.context, ErrorContext::RemoteFile);
        let stalled = std::io::Error::other(ureq::Error::Timeout(ureq::Timeout::PerRead));
        let e = read_error(SourceKind::Http, &stalled, 5);
        assert_eq!(
            e.code.0, QM_E_WINHTTP_TIMEOUT,
            "a stall in the body is a timeout"
        );
    }
}
