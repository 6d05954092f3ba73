//! HTTP and HTTPS sources, on ureq 3 (blocking HTTP/1.1) over rustls.
//!
//! Resume is byte-exact or it restarts: a range request carries `If-Range`
//! with the strong ETag (or Last-Modified) seen first; a 206 counts only if
//! its Content-Range starts where we asked and its total is the one we know;
//! anything else (a 200, a changed validator, a bad Content-Range) restarts
//! the file from zero with a plain request. No `Accept-Encoding` is ever
//! sent, so bytes on the wire are bytes of the file.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use ureq::config::AutoHeaderValue;
use ureq::http::{HeaderMap, Response};
use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig};
use ureq::{Agent, Body, Proxy};

use super::{Opened, TransferError, Validator};
use crate::engine::job::RunToken;
use crate::engine::options::{HttpOptions, ProxySetting};
use crate::engine::types::ErrorContext;
use crate::hresult::*;

/// How long a connection (TCP and TLS handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Redirects followed before giving up.
const MAX_REDIRECTS: u32 = 10;

/// The per-run HTTP client: one agent (connection pool) per worker run, so a
/// job's files reuse connections, and stopping the run closes its sockets.
pub(crate) struct Client {
    agent: Agent,
    options: HttpOptions,
}

impl Client {
    /// Builds the client for a run; `token` stopping shuts its sockets down.
    pub(crate) fn new(options: HttpOptions, token: &RunToken) -> Result<Client, TransferError> {
        let agent = build_agent(&options)?;
        let for_stop = agent.clone();
        token.on_stop(Box::new(move || for_stop.shutdown()));
        Ok(Client { agent, options })
    }

    /// Opens `url` at `offset`; see the module documentation for the rules.
    pub(crate) fn open(
        &self,
        url: &str,
        offset: u64,
        previous: Option<&Validator>,
    ) -> Result<Opened, TransferError> {
        let known = match previous {
            Some(Validator::Http(v)) => Some(v),
            _ => None,
        };
        // Resuming needs something to tie the bytes we have to the server's:
        // without a validator the only safe choice is to start again.
        let resume = known
            .and_then(|v| v.if_range().map(|tag| (offset, tag, v)))
            .filter(|_| offset > 0);
        let Some((offset, tag, known)) = resume else {
            return self.fetch_whole(url);
        };
        let response = self.send(url, Some((offset, tag)), offset)?;
        let status = response.status().as_u16();
        match status {
            206 => {
                let seen = HttpValidator::from_headers(response.headers(), None);
                let range = content_range(response.headers());
                let same_version = seen.same_version_as(known);
                match range {
                    Some(r)
                        if same_version
                            && r.start == offset
                            && r.total.is_some()
                            && r.total == known.total =>
                    {
                        Ok(opened(response, offset, r.total, known.clone()))
                    }
                    // Not the bytes we asked for, or another version: restart.
                    _ => self.fetch_whole(url),
                }
            }
            416 => {
                // The partial file may already hold every byte.
                let reported = content_range_total(response.headers());
                let complete = known.total == Some(offset) && reported.is_none_or(|t| t == offset);
                if complete {
                    Ok(Opened {
                        start: offset,
                        total: Some(offset),
                        validator: previous.cloned(),
                        body: Box::new(std::io::empty()),
                    })
                } else {
                    self.fetch_whole(url)
                }
            }
            // A 200 to a range request: the server sends everything.
            200..=299 => Ok(opened_whole(response)),
            _ => Err(status_error(&response, url, offset)),
        }
    }

    /// A plain request for the whole file.
    fn fetch_whole(&self, url: &str) -> Result<Opened, TransferError> {
        let response = self.send(url, None, 0)?;
        let status = response.status().as_u16();
        if status == 206 || !(200..=299).contains(&status) {
            return Err(match status {
                206 => TransferError::transient(
                    HResult(QM_BG_E_INVALID_SERVER_RESPONSE),
                    ErrorContext::RemoteFile,
                    format!("GET {url}: the server answered 206 Partial Content to a request without a range"),
                ),
                _ => status_error(&response, url, 0),
            });
        }
        Ok(opened_whole(response))
    }

    fn send(
        &self,
        url: &str,
        range: Option<(u64, &str)>,
        offset: u64,
    ) -> Result<Response<Body>, TransferError> {
        let mut request = self.agent.get(url);
        if let Some((_, list)) = &self.options.custom_headers {
            for (name, value) in list {
                request = request.header(name.as_str(), value.as_str());
            }
        }
        if let Some((user, password)) = &self.options.credentials {
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            request = request.header("Authorization", format!("Basic {token}"));
        }
        if let Some((from, tag)) = range {
            request = request
                .header("Range", format!("bytes={from}-"))
                .header("If-Range", tag);
        }
        request.call().map_err(|e| request_error(e, url, offset))
    }
}

/// A response carrying the whole file from byte 0.
fn opened_whole(response: Response<Body>) -> Opened {
    let total = response.body().content_length();
    let validator = HttpValidator::from_headers(response.headers(), total);
    opened(response, 0, total, validator)
}

fn opened(
    response: Response<Body>,
    start: u64,
    total: Option<u64>,
    validator: HttpValidator,
) -> Opened {
    Opened {
        start,
        total,
        validator: Some(Validator::Http(validator)),
        body: Box::new(response.into_body().into_reader()),
    }
}

/// What identifies one version of a remote file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HttpValidator {
    /// A strong ETag (weak ones cannot be used with If-Range).
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// The size of the whole file, when the server told it.
    pub total: Option<u64>,
}

impl HttpValidator {
    fn from_headers(headers: &HeaderMap, total: Option<u64>) -> HttpValidator {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.trim().to_string())
        };
        HttpValidator {
            etag: text("etag").filter(|e| !e.starts_with("W/") && !e.is_empty()),
            last_modified: text("last-modified").filter(|l| httpdate::parse_http_date(l).is_ok()),
            total,
        }
    }

    /// The If-Range value: the strong ETag, else the Last-Modified date.
    fn if_range(&self) -> Option<&str> {
        self.etag.as_deref().or(self.last_modified.as_deref())
    }

    /// False when the response names a different version than `known`.
    fn same_version_as(&self, known: &HttpValidator) -> bool {
        let differs =
            |a: &Option<String>, b: &Option<String>| matches!((a, b), (Some(x), Some(y)) if x != y);
        !differs(&self.etag, &known.etag) && !differs(&self.last_modified, &known.last_modified)
    }
}

/// A parsed `Content-Range: bytes START-END/TOTAL` (TOTAL may be `*`).
struct ContentRange {
    start: u64,
    total: Option<u64>,
}

fn content_range(headers: &HeaderMap) -> Option<ContentRange> {
    let value = headers.get("content-range")?.to_str().ok()?.trim();
    let rest = value.strip_prefix("bytes ")?;
    let (span, total) = rest.split_once('/')?;
    let (start, end) = span.split_once('-')?;
    let start: u64 = start.trim().parse().ok()?;
    let end: u64 = end.trim().parse().ok()?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse::<u64>().ok()?),
    };
    if end < start || total.is_some_and(|t| end >= t) {
        return None;
    }
    Some(ContentRange { start, total })
}

/// The size in a 416's `Content-Range: bytes */SIZE`.
fn content_range_total(headers: &HeaderMap) -> Option<u64> {
    let value = headers.get("content-range")?.to_str().ok()?;
    value.trim().strip_prefix("bytes */")?.trim().parse().ok()
}

/// Seconds from `Retry-After` (a number or an HTTP-date), if present.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// An HTTP error status: 408, 429 and 5xx gateway/availability errors are
/// transient; other statuses are fatal.
fn status_error(response: &Response<Body>, url: &str, offset: u64) -> TransferError {
    let status = response.status();
    let code = status.as_u16();
    let transient = matches!(code, 408 | 429 | 500 | 502 | 503 | 504);
    let description = format!(
        "GET {url} (from byte {offset}): the server answered {} {}",
        code,
        status.canonical_reason().unwrap_or("")
    );
    let context = if code >= 500 {
        ErrorContext::RemoteApplication
    } else {
        ErrorContext::RemoteFile
    };
    TransferError {
        code: HResult::from_http_status(code),
        context,
        http_status: code,
        transient,
        description: description.trim_end().to_string(),
        retry_after: retry_after(response.headers()).filter(|_| transient),
    }
}

/// Maps a failed request to the Win32/WinHTTP codes Windows reports.
fn request_error(err: ureq::Error, url: &str, offset: u64) -> TransferError {
    use std::io::ErrorKind as K;
    use ureq::Error as E;
    let winhttp = |n: u32| HResult::from_win32(n);
    let (code, transient) = match &err {
        E::Timeout(_) => (winhttp(12002), true),
        E::HostNotFound => (winhttp(12007), true),
        E::ConnectionFailed => (winhttp(12029), true),
        E::Io(io) if is_tls_failure(io) => (winhttp(12175), false),
        E::Io(io) => match io.kind() {
            K::ConnectionRefused
            | K::HostUnreachable
            | K::NetworkUnreachable
            | K::AddrNotAvailable => (winhttp(12029), true),
            K::TimedOut | K::WouldBlock => (winhttp(12002), true),
            _ => (winhttp(12030), true),
        },
        E::Protocol(_) => (HResult(QM_BG_E_INVALID_SERVER_RESPONSE), true),
        E::Tls(_) | E::Pem(_) | E::Rustls(_) => (winhttp(12175), false),
        E::TooManyRedirects | E::RedirectFailed => {
            (HResult(QM_BG_E_INVALID_SERVER_RESPONSE), false)
        }
        E::InvalidProxyUrl => (HResult(QM_BG_E_INVALID_PROXY_INFO), false),
        // The proxy refused or failed the tunnel: like an unreachable server.
        E::ConnectProxyFailed(_) => (winhttp(12029), true),
        E::BadUri(_) => (HResult(QM_BG_E_PROTOCOL_NOT_AVAILABLE), false),
        _ => (HResult(QM_E_FAIL), false),
    };
    TransferError {
        code,
        context: ErrorContext::GeneralTransport,
        http_status: 0,
        transient,
        description: format!("GET {url} (from byte {offset}) failed: {err}"),
        retry_after: None,
    }
}

/// True when an I/O error carries a TLS failure (e.g. an untrusted certificate).
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

/// The ureq agent for a job's options: no automatic status errors, no
/// Accept-Encoding, connect and stall (per-read) timeouts, TLS roots, client
/// certificate and proxy.
fn build_agent(options: &HttpOptions) -> Result<Agent, TransferError> {
    let tls_error = |what: String| {
        TransferError::fatal(
            HResult::from_win32(12175),
            ErrorContext::GeneralTransport,
            what,
        )
    };
    let mut tls = TlsConfig::builder().root_certs(RootCerts::PlatformVerifier);
    if let Some(path) = &options.ca_file {
        let certs = read_pem_certs(path).map_err(tls_error)?;
        tls = tls.root_certs(RootCerts::new_with_certs(&certs));
    }
    if let Some((cert_path, key_path)) = &options.client_certificate {
        let chain = read_pem_certs(cert_path).map_err(tls_error)?;
        let key = read_pem_key(key_path).map_err(tls_error)?;
        tls = tls.client_cert(Some(ClientCert::new_with_certs(&chain, key)));
    }
    let proxy = match &options.proxy {
        ProxySetting::FromEnvironment => Proxy::try_from_env(),
        ProxySetting::Direct => None,
        ProxySetting::Url(url) => Some(Proxy::new(url).map_err(|e| {
            TransferError::fatal(
                HResult(QM_BG_E_INVALID_PROXY_INFO),
                ErrorContext::GeneralTransport,
                format!("the proxy '{url}' cannot be used: {e}"),
            )
        })?),
    };
    let config = Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(MAX_REDIRECTS)
        .accept_encoding(AutoHeaderValue::None)
        .user_agent(concat!("qmgr/", env!("CARGO_PKG_VERSION")))
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_per_read(Some(options.stall_timeout))
        .timeout_per_write(Some(options.stall_timeout))
        .proxy(proxy)
        .tls_config(tls.build())
        .build();
    Ok(config.new_agent())
}

/// Every certificate of a PEM file (at least one).
pub(crate) fn read_pem_certs(path: &std::path::Path) -> Result<Vec<Certificate<'static>>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read '{}': {e}", path.display()))?;
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(format!("'{}' holds no PEM certificate", path.display()));
    }
    Ok(certs)
}

/// The private key of a PEM file.
pub(crate) fn read_pem_key(path: &std::path::Path) -> Result<PrivateKey<'static>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read '{}': {e}", path.display()))?;
    PrivateKey::from_pem(&pem)
        .map_err(|e| format!("'{}' holds no usable PEM private key: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ureq::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn content_range_is_parsed_strictly() {
        let r = content_range(&headers(&[("content-range", "bytes 100-199/1000")])).unwrap();
        assert_eq!((r.start, r.total), (100, Some(1000)));
        let r = content_range(&headers(&[("content-range", "bytes 5-9/*")])).unwrap();
        assert_eq!((r.start, r.total), (5, None));
        for bad in [
            "bytes garbage",
            "bytes 10-5/100",
            "bytes 0-100/100",
            "items 0-1/2",
            "bytes -1/2",
            "bytes 0-1",
        ] {
            assert!(
                content_range(&headers(&[("content-range", bad)])).is_none(),
                "{bad}"
            );
        }
        assert!(content_range(&HeaderMap::new()).is_none());
        assert_eq!(
            content_range_total(&headers(&[("content-range", "bytes */4096")])),
            Some(4096)
        );
    }

    #[test]
    fn only_strong_etags_and_valid_dates_validate() {
        let v = HttpValidator::from_headers(
            &headers(&[
                ("etag", "W/\"weak\""),
                ("last-modified", "Wed, 21 Oct 2015 07:28:00 GMT"),
            ]),
            Some(3),
        );
        assert_eq!(v.etag, None);
        assert_eq!(v.if_range(), Some("Wed, 21 Oct 2015 07:28:00 GMT"));
        let v = HttpValidator::from_headers(
            &headers(&[("etag", "\"abc\""), ("last-modified", "yesterday")]),
            None,
        );
        assert_eq!(v.if_range(), Some("\"abc\""));
        assert_eq!(v.last_modified, None);
        let other = HttpValidator {
            etag: Some("\"xyz\"".into()),
            last_modified: None,
            total: None,
        };
        assert!(!v.same_version_as(&other));
        assert!(v.same_version_as(&HttpValidator {
            etag: None,
            last_modified: None,
            total: None
        }));
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        assert_eq!(
            retry_after(&headers(&[("retry-after", "7")])),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(&headers(&[(
                "retry-after",
                "Wed, 21 Oct 2015 07:28:00 GMT"
            )])),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")])), None);
    }
}
