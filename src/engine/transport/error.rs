//! How a failed transfer step becomes an HRESULT: the one place where
//! network, HTTP and file errors are classified (transient or fatal, which
//! code, which context), so every transport reports alike.

use std::io::ErrorKind;
use std::path::Path;
use std::time::Duration;

use crate::engine::transport::url::redact;
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
    /// What happened, in words, with the URL, path or offset; a URL's
    /// password masked (made only by [`TransferError::fatal`], which masks it).
    pub description: String,
    /// The server's Retry-After, when it sent one.
    pub retry_after: Option<Duration>,
    /// Where the request ended, reported as the file's final URL: the
    /// target of a refused redirect, or the hop that answered with an
    /// error or failed (the remote name itself when nothing redirected).
    pub redirected_to: Option<String>,
}

impl TransferError {
    /// A fatal error. Every transfer error is made here, so that no
    /// description carries a URL's password (`url::redact`).
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
            description: redact(&description).into_owned(),
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
    let timed_out = matches!(err.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock);
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
        http_status: status,
        transient,
        retry_after: retry_after.filter(|_| transient),
        ..TransferError::fatal(
            HResult::from_http_status(status),
            context,
            description.trim_end().to_string(),
        )
    }
}

/// Why an HTTP request got no response, as the HTTP client found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RequestFailure {
    /// The server's (or proxy's) name did not resolve.
    NameNotResolved,
    /// No TCP connection could be made (refused, unreachable).
    CannotConnect,
    /// Connecting, or waiting for the answer, took too long.
    TimedOut,
    /// The TLS handshake failed (an untrusted or unfit certificate, no common cipher).
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    Tls,
    /// An https:// URL in a build without TLS.
    #[cfg_attr(feature = "tls", allow(dead_code))]
    NoTls,
    /// The SOCKS proxy could not make the connection now (the target
    /// unreachable or refusing, a general failure), or answered amiss.
    ProxyRefused,
    /// A SOCKS proxy's rules forbid the connection (SOCKS 5 "not allowed
    /// by ruleset", a SOCKS 4 rejection).
    ProxyForbidden,
    /// An HTTP proxy answered `CONNECT` with this status (not 2xx).
    ProxyStatus(u16),
    /// The proxy URL cannot be used.
    BadProxy,
    /// A SOCKS proxy refused to let qmgr in: its login failed, it
    /// accepts none of the ways to log in qmgr offers, or (SOCKS 4) its
    /// identd check failed.
    ProxyAuth,
    /// The URL cannot be requested.
    BadUrl,
    /// The answer broke HTTP/1.1 (a bad status line, header or framing).
    Protocol,
    /// The connection failed otherwise (of this kind).
    Io(ErrorKind),
    /// The run was cancelled while the request was made.
    Stopped,
}

impl RequestFailure {
    /// The failure an I/O error while sending a request or reading its answer's head means.
    /// (A TLS alert after the handshake, e.g. a server that wants a client
    /// certificate under TLS 1.3, arrives with the answer: still a TLS failure.)
    pub(crate) fn of_io(err: &std::io::Error) -> RequestFailure {
        #[cfg(feature = "tls")]
        if err.get_ref().is_some_and(|e| e.is::<rustls::Error>()) {
            return RequestFailure::Tls;
        }
        match err.kind() {
            ErrorKind::InvalidData => RequestFailure::Protocol,
            ErrorKind::TimedOut | ErrorKind::WouldBlock => RequestFailure::TimedOut,
            kind => RequestFailure::Io(kind),
        }
    }
}

/// Maps a failed HTTP request to the Win32/WinHTTP codes Windows reports;
/// `what` says what happened.
pub(crate) fn request_error(
    failure: RequestFailure,
    what: &str,
    url: &str,
    offset: u64,
) -> TransferError {
    use ErrorKind as K;
    use RequestFailure as F;
    let (code, transient) = match failure {
        // A proxy that refuses the credentials (tinyproxy says 401, the
        // standard 407): no retry can help; one code for both, and for SOCKS.
        F::ProxyStatus(401 | 407) | F::ProxyAuth => (HResult::from_http_status(407).0, false),
        // The proxy is busy or could not reach the server: retried.
        F::ProxyStatus(408 | 429 | 500..=599) => (QM_E_WINHTTP_CANNOT_CONNECT, true),
        // Any other 4xx: the proxy will not carry this request (policy).
        F::ProxyStatus(status @ 400..=499) => (HResult::from_http_status(status).0, false),
        F::ProxyStatus(_) => (QM_E_WINHTTP_CANNOT_CONNECT, true),
        F::TimedOut => (QM_E_WINHTTP_TIMEOUT, true),
        F::NameNotResolved => (QM_E_WINHTTP_NAME_NOT_RESOLVED, true),
        F::CannotConnect => (QM_E_WINHTTP_CANNOT_CONNECT, true),
        F::Tls => (QM_E_WINHTTP_SECURE_FAILURE, false),
        F::NoTls => (QM_BG_E_PROTOCOL_NOT_AVAILABLE, false),
        // The SOCKS proxy could not reach the server: like an unreachable server.
        F::ProxyRefused => (QM_E_WINHTTP_CANNOT_CONNECT, true),
        // Its rules refuse: as an HTTP proxy's 403 to `CONNECT` (http_status 0).
        F::ProxyForbidden => (HResult::from_http_status(403).0, false),
        F::BadProxy => (QM_BG_E_INVALID_PROXY_INFO, false),
        F::BadUrl => (QM_BG_E_PROTOCOL_NOT_AVAILABLE, false),
        F::Protocol => (QM_BG_E_INVALID_SERVER_RESPONSE, true),
        F::Io(
            K::ConnectionRefused | K::HostUnreachable | K::NetworkUnreachable | K::AddrNotAvailable,
        ) => (QM_E_WINHTTP_CANNOT_CONNECT, true),
        F::Io(_) | F::Stopped => (QM_E_WINHTTP_CONNECTION_ERROR, true),
    };
    TransferError {
        transient,
        http_status: match failure {
            F::ProxyStatus(status) => status,
            _ => 0,
        },
        ..TransferError::fatal(
            HResult(code),
            ErrorContext::GeneralTransport,
            format!("GET {url} (from byte {offset}) failed: {what}"),
        )
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
    fn proxy_refusals_are_fatal_for_credentials_and_policy_transient_when_busy() {
        let proxy_auth = HResult::from_http_status(407);
        for (failure, code, transient, http_status) in [
            (RequestFailure::ProxyStatus(401), proxy_auth, false, 401),
            (RequestFailure::ProxyStatus(407), proxy_auth, false, 407),
            (RequestFailure::ProxyAuth, proxy_auth, false, 0),
            (
                RequestFailure::ProxyForbidden,
                HResult::from_http_status(403),
                false,
                0,
            ),
            (
                RequestFailure::ProxyRefused,
                HResult(QM_E_WINHTTP_CANNOT_CONNECT),
                true,
                0,
            ),
            (
                RequestFailure::ProxyStatus(403),
                HResult::from_http_status(403),
                false,
                403,
            ),
            (
                RequestFailure::ProxyStatus(429),
                HResult(QM_E_WINHTTP_CANNOT_CONNECT),
                true,
                429,
            ),
            (
                RequestFailure::ProxyStatus(502),
                HResult(QM_E_WINHTTP_CANNOT_CONNECT),
                true,
                502,
            ),
        ] {
            let e = request_error(failure, "refused", "https://h/x", 0);
            assert_eq!(
                (e.code, e.transient, e.http_status),
                (code, transient, http_status),
                "{failure:?}"
            );
        }
    }

    #[test]
    fn no_description_carries_a_password() {
        let e = request_error(
            RequestFailure::BadProxy,
            "the proxy URL 'http://p:pw1@x:0' cannot be used",
            "http://u:pw2@h/x",
            0,
        );
        let s = status_error(404, "Not Found", None, "http://u:pw3@h/x", 0);
        let r = redirect_refused("http://u:pw4@h/x", "http://v:pw5@i/", "no");
        for text in [e.description, s.description, r.description] {
            assert!(!text.contains("pw"), "{text}");
            assert!(text.contains(":***@"), "{text}");
        }
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
        let stalled = std::io::Error::from(ErrorKind::WouldBlock);
        let e = read_error(SourceKind::Http, &stalled, 5);
        assert_eq!(
            e.code.0, QM_E_WINHTTP_TIMEOUT,
            "a stall in the body (a socket's read timeout) is a timeout"
        );
    }
}
