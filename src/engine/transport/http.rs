//! HTTP and HTTPS sources, on ureq 3 (blocking HTTP/1.1) over rustls.
//!
//! Resume is byte-exact or it restarts: a range request (`bytes=a-` or, for
//! a segment, `bytes=a-b`) carries `If-Range` with the strong ETag (or
//! Last-Modified) seen first; a 206 counts only if its Content-Range is
//! exactly the range asked for and its total is the one we know;
//! anything else (a 200, a changed validator, a bad Content-Range) restarts
//! the file from zero with a plain request. No `Accept-Encoding` is ever
//! sent, so bytes on the wire are bytes of the file.
//!
//! Redirects are followed here, not by ureq, so that the job's policy
//! applies to each hop (`SecurityFlags`): at most 10; never out of
//! http(s); never from HTTPS to HTTP unless the job allows it; a fatal
//! error under DISALLOW. Credentials (and custom Authorization or Cookie
//! headers) go only to the origin of the file's own URL, as curl does.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use ureq::config::AutoHeaderValue;
use ureq::http::{HeaderMap, Response};
#[cfg(feature = "tls")]
use ureq::tls::{ClientCert, RootCerts, TlsConfig};
use ureq::{Agent, Body, Proxy};

use crate::engine::transport::cancel::CancelToken;
use crate::engine::transport::error::{self, TransferError};
use crate::engine::transport::options::{HttpOptions, ProxySetting};
#[cfg(feature = "tls")]
use crate::engine::transport::pem::{read_pem_certs, read_pem_key};
use crate::engine::transport::source::{check_url, origin, Opened};
use crate::engine::transport::validator::{HttpValidator, Validator};
use crate::engine::types::{ErrorContext, SecurityFlags};
use crate::hresult::*;

/// How long a connection (TCP and TLS handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Redirects followed before giving up.
const MAX_REDIRECTS: u32 = 10;

/// The per-run HTTP client: one agent (connection pool) per worker run, so a
/// job's files reuse connections, and cancelling the run closes its sockets.
/// Clones share the pool.
#[derive(Clone)]
pub(crate) struct Client {
    agent: Agent,
    options: HttpOptions,
}

/// What a response to a range request means for the partial file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ResumeDecision {
    /// A 206 with exactly the bytes asked for, of the same version and size.
    Resume,
    /// A 416 at the end of a partial file that already holds every byte.
    Complete,
    /// A 200: the server sends the whole file from byte 0.
    Whole,
    /// Not the bytes asked for, or another version: fetch the whole file afresh.
    Restart,
    /// An error status.
    Fail,
}

/// Decides what the answer `status` + `headers` to a range request for
/// the bytes from `offset` to `end` (exclusive; `None`: to the end) with
/// `If-Range` from `known` means. Pure: the rules of the module
/// documentation, testable without a server.
pub(crate) fn decide_resume(
    offset: u64,
    end: Option<u64>,
    known: &HttpValidator,
    status: u16,
    headers: &HeaderMap,
) -> ResumeDecision {
    match status {
        206 => {
            let seen = HttpValidator::from_headers(headers, None);
            match content_range(headers) {
                Some(r)
                    if seen.same_version_as(known)
                        && r.start == offset
                        && r.total.is_some()
                        && r.total == known.total
                        && Some(r.end + 1) == end.or(known.total) =>
                {
                    ResumeDecision::Resume
                }
                _ => ResumeDecision::Restart,
            }
        }
        416 => {
            let reported = content_range_total(headers);
            if known.total == Some(offset) && reported.is_none_or(|t| t == offset) {
                ResumeDecision::Complete
            } else {
                ResumeDecision::Restart
            }
        }
        200..=299 => ResumeDecision::Whole,
        _ => ResumeDecision::Fail,
    }
}

/// What the answer to a request for one range of a ranged file means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RangeDecision {
    /// A 206 with exactly the bytes asked for and the file's size.
    Exact,
    /// A 200 of another version than `If-Range` named: ask again without it.
    OtherVersion,
    /// The range lies (partly) outside the file: a 416, or a 206 cut short at its end.
    PastEnd,
    /// A 206 of other bytes than asked (e.g. ranges merged), or without a size.
    Mismatch,
    /// A 2xx without the range: the server does not do ranges.
    NoRanges,
    /// An error status.
    Fail,
}

/// Decides what the answer `status` + `headers` to a request for the
/// bytes from `offset` to `end` (exclusive; `None`: to the end) of a ranged
/// file means; `known` is the version `If-Range` named, if any. Pure.
pub(crate) fn decide_range(
    offset: u64,
    end: Option<u64>,
    known: Option<&HttpValidator>,
    status: u16,
    headers: &HeaderMap,
) -> RangeDecision {
    match status {
        206 => match content_range(headers) {
            Some(ContentRange {
                start,
                end: last,
                total: Some(total),
            }) if start == offset => {
                if end.is_some_and(|e| e > total) && last + 1 == total {
                    RangeDecision::PastEnd
                } else if Some(last + 1) == end.or(Some(total)) {
                    RangeDecision::Exact
                } else {
                    RangeDecision::Mismatch
                }
            }
            _ => RangeDecision::Mismatch,
        },
        416 => RangeDecision::PastEnd,
        200..=299 => {
            let seen = HttpValidator::from_headers(headers, None);
            if known.is_some_and(|k| !seen.same_version_as(k)) {
                RangeDecision::OtherVersion
            } else {
                RangeDecision::NoRanges
            }
        }
        _ => RangeDecision::Fail,
    }
}

impl Client {
    /// Builds the client for a run; cancelling `token` shuts its sockets down.
    pub(crate) fn new(
        options: HttpOptions,
        connections: usize,
        token: &CancelToken,
    ) -> Result<Client, TransferError> {
        let agent = build_agent(&options, connections)?;
        let for_stop = agent.clone();
        token.on_cancel(Box::new(move || for_stop.shutdown()));
        Ok(Client { agent, options })
    }

    /// Opens `url` at `offset` for the bytes up to `end` (`None`: to the
    /// end); see the module documentation for the rules.
    pub(crate) fn open(
        &self,
        url: &str,
        offset: u64,
        end: Option<u64>,
        previous: Option<&Validator>,
    ) -> Result<Opened, TransferError> {
        let known = previous.and_then(Validator::http);
        // Resuming needs something to tie the bytes we have to the server's:
        // without a validator the only safe choice is to start again. A
        // request for the whole file needs no range.
        let end = end.filter(|&e| known.is_some_and(|k| k.total != Some(e)));
        let resume = known
            .and_then(|v| v.if_range().map(|tag| (tag, v)))
            .filter(|_| offset > 0 || end.is_some());
        let Some((tag, known)) = resume else {
            return self.fetch_whole(url);
        };
        let range = Range {
            offset,
            end,
            tag: Some(tag),
        };
        let (response, final_url) = self.send(url, Some(range), offset)?;
        let decision = decide_resume(
            offset,
            end,
            known,
            response.status().as_u16(),
            response.headers(),
        );
        let mut opened = match decision {
            ResumeDecision::Resume => {
                let mut o = opened(response, offset, known.total, known.clone());
                o.end = end.or(known.total);
                o.ranges = true;
                o
            }
            ResumeDecision::Complete => Opened {
                start: offset,
                total: Some(offset),
                validator: previous.cloned(),
                end: Some(offset),
                ranges: true,
                headers: Some(header_text(response.headers())),
                body: Box::new(std::io::empty()),
                final_url: None,
            },
            ResumeDecision::Whole => opened_whole(response),
            ResumeDecision::Restart => return self.fetch_whole(url),
            ResumeDecision::Fail => return Err(status_error(&response, &final_url, offset)),
        };
        opened.final_url = Some(final_url).filter(|f| f != url);
        Ok(opened)
    }

    /// Opens `url` for the bytes from `offset` to `end` (`None`: to the
    /// end) of a ranged file: the answer must be exactly that range, with
    /// the file's size; see `decide_range`. `previous` is the version the
    /// file's other bytes are of: it goes in `If-Range`, and if the server
    /// has another one, the range is asked for again without it (the
    /// returned validator then differs, and the model forgets the rest).
    pub(crate) fn open_range(
        &self,
        url: &str,
        offset: u64,
        end: Option<u64>,
        previous: Option<&Validator>,
    ) -> Result<Opened, TransferError> {
        let known = previous.and_then(Validator::http);
        let range = Range {
            offset,
            end,
            tag: known.and_then(HttpValidator::if_range),
        };
        let (response, final_url) = self.send(url, Some(range), offset)?;
        let fail = |code: qm_hresult, why: String| {
            TransferError::fatal(
                HResult(code),
                ErrorContext::RemoteFile,
                format!("GET {final_url} ({}): {why}", range.bytes()),
            )
        };
        let headers = response.headers();
        match decide_range(offset, end, known, response.status().as_u16(), headers) {
            RangeDecision::Exact => {}
            RangeDecision::OtherVersion if range.tag.is_some() => {
                return self.open_range(url, offset, end, None);
            }
            RangeDecision::PastEnd => {
                return Err(fail(
                    QM_BG_E_INVALID_RANGE,
                    "the range lies outside the remote file".into(),
                ))
            }
            RangeDecision::Mismatch => {
                let got = headers
                    .get("content-range")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("no Content-Range");
                return Err(fail(
                    QM_BG_E_INVALID_SERVER_RESPONSE,
                    format!("the server answered other bytes than asked ({got}); ranges may not be merged"),
                ));
            }
            RangeDecision::OtherVersion | RangeDecision::NoRanges => {
                return Err(fail(
                    QM_BG_E_INSUFFICIENT_RANGE_SUPPORT,
                    format!(
                        "the server answered {} without the range: it does not support ranges",
                        response.status().as_u16()
                    ),
                ))
            }
            RangeDecision::Fail => return Err(status_error(&response, &final_url, offset)),
        }
        let total = content_range(headers).and_then(|r| r.total);
        let seen = HttpValidator::from_headers(headers, total);
        // The same version keeps the validator the other bytes were stored with.
        let validator = match known {
            Some(k) if seen.same_version_as(k) && k.total == total => k.clone(),
            _ => seen,
        };
        let mut opened = opened(response, offset, total, validator);
        opened.end = end.or(total);
        opened.ranges = true;
        opened.final_url = Some(final_url).filter(|f| f != url);
        Ok(opened)
    }

    /// A plain request for the whole file.
    fn fetch_whole(&self, url: &str) -> Result<Opened, TransferError> {
        let (response, final_url) = self.send(url, None, 0)?;
        let status = response.status().as_u16();
        if status == 206 || !(200..=299).contains(&status) {
            return Err(match status {
                206 => TransferError::transient(
                    HResult(QM_BG_E_INVALID_SERVER_RESPONSE),
                    ErrorContext::RemoteFile,
                    format!("GET {url}: the server answered 206 Partial Content to a request without a range"),
                ),
                _ => status_error(&response, &final_url, 0),
            });
        }
        let mut opened = opened_whole(response);
        opened.final_url = Some(final_url).filter(|f| f != url);
        Ok(opened)
    }

    /// Sends the GET and follows redirects as the job's policy allows;
    /// returns the last response and the URL it came from.
    fn send(
        &self,
        url: &str,
        range: Option<Range<'_>>,
        offset: u64,
    ) -> Result<(Response<Body>, String), TransferError> {
        let home = origin(url);
        let mut current = url.to_string();
        for _ in 0..=MAX_REDIRECTS {
            let trusted = origin(&current) == home;
            let response = self.request(&current, range, offset, trusted)?;
            let status = response.status().as_u16();
            let location = match status {
                301 | 302 | 303 | 307 | 308 => response
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .map(str::trim),
                _ => None,
            };
            let Some(location) = location else {
                return Ok((response, current));
            };
            let next = resolve_location(&current, location);
            self.check_redirect(&current, &next)?;
            current = next;
        }
        Err(TransferError::fatal(
            HResult(QM_BG_E_INVALID_SERVER_RESPONSE),
            ErrorContext::RemoteFile,
            format!("GET {url}: more than {MAX_REDIRECTS} redirects"),
        ))
    }

    /// Refuses a redirect from `from` to `to` that the job's policy forbids.
    fn check_redirect(&self, from: &str, to: &str) -> Result<(), TransferError> {
        let flags = self.options.security_flags;
        let scheme = |u: &str| u.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        let (from_scheme, to_scheme) = (scheme(from), scheme(to));
        if !matches!(to_scheme.as_deref(), Some("http" | "https")) || check_url(to).is_err() {
            return Err(error::redirect_refused(
                from,
                to,
                "it is not an http(s) URL",
            ));
        }
        if !cfg!(feature = "tls") && to_scheme.as_deref() == Some("https") {
            return Err(error::redirect_refused(
                from,
                to,
                "this qmgr was built without the `tls` feature (no HTTPS)",
            ));
        }
        if flags.redirect_policy() == SecurityFlags::REDIRECT_POLICY_DISALLOW {
            return Err(error::redirect_refused(
                from,
                to,
                "the job's redirect policy is DISALLOW",
            ));
        }
        if from_scheme.as_deref() == Some("https")
            && to_scheme.as_deref() == Some("http")
            && !flags.allows_https_to_http()
        {
            return Err(error::redirect_refused(
                from,
                to,
                "it leaves HTTPS for plain HTTP (allowed only with QM_HTTP_REDIRECT_POLICY_ALLOW_HTTPS_TO_HTTP)",
            ));
        }
        Ok(())
    }

    /// One GET of `url`; `trusted` when it is the file's own origin (the
    /// credentials and the caller's Authorization/Cookie headers go there only).
    fn request(
        &self,
        url: &str,
        range: Option<Range<'_>>,
        offset: u64,
        trusted: bool,
    ) -> Result<Response<Body>, TransferError> {
        let mut request = self.agent.get(url);
        if let Some((_, list)) = &self.options.custom_headers {
            for (name, value) in list {
                let private = ["authorization", "cookie", "proxy-authorization"]
                    .contains(&name.to_ascii_lowercase().as_str());
                if trusted || !private {
                    request = request.header(name.as_str(), value.as_str());
                }
            }
        }
        if let (Some((user, password)), true) = (&self.options.credentials, trusted) {
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            request = request.header("Authorization", format!("Basic {token}"));
        }
        if let Some(range) = range {
            request = request.header("Range", range.bytes());
            if let Some(tag) = range.tag {
                request = request.header("If-Range", tag);
            }
        }
        request
            .call()
            .map_err(|e| error::request_error(&e, url, offset))
    }
}

/// The URL a `Location` names, resolved against the URL that answered.
fn resolve_location(base: &str, location: &str) -> String {
    if let Some((scheme, _)) = location.split_once("://") {
        if !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            return location.to_string();
        }
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("http", base));
    if let Some(net_path) = location.strip_prefix("//") {
        return format!("{scheme}://{net_path}");
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    if location.starts_with('/') {
        return format!("{scheme}://{authority}{location}");
    }
    let path = path.split(['?', '#']).next().unwrap_or("");
    let dir = path.rfind('/').map_or("/", |i| &path[..=i]);
    format!("{scheme}://{authority}{dir}{location}")
}

/// The bytes a request asks for: from `offset` to `end` (exclusive;
/// `None`: to the end), of the version `tag` names (`If-Range`; `None`:
/// of whatever version the server has).
#[derive(Clone, Copy)]
struct Range<'a> {
    offset: u64,
    end: Option<u64>,
    tag: Option<&'a str>,
}

impl Range<'_> {
    /// The value of the `Range` header: `bytes=a-b` (b inclusive), or
    /// `bytes=a-` to the end.
    fn bytes(&self) -> String {
        let last = self.end.map(|e| (e - 1).to_string()).unwrap_or_default();
        format!("bytes={}-{last}", self.offset)
    }
}

/// A response carrying the whole file from byte 0.
fn opened_whole(response: Response<Body>) -> Opened {
    let total = response.body().content_length();
    let validator = HttpValidator::from_headers(response.headers(), total);
    let ranges = response
        .headers()
        .get_all("accept-ranges")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|unit| unit.trim().eq_ignore_ascii_case("bytes"));
    let mut o = opened(response, 0, total, validator);
    o.end = total;
    o.ranges = ranges;
    o
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
        end: None,
        ranges: false,
        headers: Some(header_text(response.headers())),
        body: Box::new(response.into_body().into_reader()),
        final_url: None,
    }
}

/// A response's headers as text, one `Name: value\r\n` line each, in the
/// order received (names as ureq keeps them: lower case). Values that are
/// not text are left out.
fn header_text(headers: &HeaderMap) -> String {
    headers
        .iter()
        .filter_map(|(name, value)| Some(format!("{name}: {}\r\n", value.to_str().ok()?)))
        .collect()
}

/// A parsed `Content-Range: bytes START-END/TOTAL` (END inclusive; TOTAL
/// may be `*`).
struct ContentRange {
    start: u64,
    end: u64,
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
    Some(ContentRange { start, end, total })
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

/// An HTTP error status, classified.
fn status_error(response: &Response<Body>, url: &str, offset: u64) -> TransferError {
    let status = response.status();
    error::status_error(
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        retry_after(response.headers()),
        url,
        offset,
    )
}

/// The ureq agent for a job's options: no automatic status errors, no
/// Accept-Encoding, connect and stall (per-read) timeouts, TLS roots, client
/// certificate and proxy.
fn build_agent(options: &HttpOptions, connections: usize) -> Result<Agent, TransferError> {
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
        // Redirects are ours to follow (`Client::send`), so the job's
        // policy applies to every hop.
        .max_redirects(0)
        .accept_encoding(AutoHeaderValue::None)
        .user_agent(concat!("qmgr/", env!("CARGO_PKG_VERSION")))
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_per_read(Some(options.stall_timeout))
        .timeout_per_write(Some(options.stall_timeout))
        .proxy(proxy)
        // Each connection of the run keeps its connection alive between files.
        .max_idle_connections_per_host(connections.max(1))
        .max_idle_connections(connections.max(1) * 2);
    #[cfg(feature = "tls")]
    let config = config.tls_config(tls_config(options)?);
    Ok(config.build().new_agent())
}

/// The TLS settings of a job: the system's roots through the platform
/// verifier, or the job's CA file instead; its client certificate.
#[cfg(feature = "tls")]
fn tls_config(options: &HttpOptions) -> Result<TlsConfig, TransferError> {
    let mut tls = TlsConfig::builder().root_certs(RootCerts::PlatformVerifier);
    if let Some(path) = &options.ca_file {
        let certs = read_pem_certs(path).map_err(error::tls_setup_error)?;
        tls = tls.root_certs(RootCerts::new_with_certs(&certs));
    }
    if let Some((cert_path, key_path)) = &options.client_certificate {
        let chain = read_pem_certs(cert_path).map_err(error::tls_setup_error)?;
        let key = read_pem_key(key_path).map_err(error::tls_setup_error)?;
        tls = tls.client_cert(Some(ClientCert::new_with_certs(&chain, key)));
    }
    Ok(tls.build())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::transport::validator::test_headers as headers;

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

    fn known(etag: &str, total: u64) -> HttpValidator {
        HttpValidator {
            etag: Some(etag.into()),
            last_modified: None,
            total: Some(total),
        }
    }

    #[test]
    fn a_ranged_request_takes_exactly_its_range_and_nothing_else() {
        let v = known("\"v1\"", 1000);
        let cr = |value: &str| headers(&[("content-range", value)]);
        let d = |end, status, h: &HeaderMap| decide_range(100, end, Some(&v), status, h);
        assert_eq!(
            d(Some(200), 206, &cr("bytes 100-199/1000")),
            RangeDecision::Exact
        );
        assert_eq!(
            d(None, 206, &cr("bytes 100-999/1000")),
            RangeDecision::Exact
        );
        // Merged into more bytes, or started elsewhere, or without a size.
        assert_eq!(
            d(Some(200), 206, &cr("bytes 100-999/1000")),
            RangeDecision::Mismatch
        );
        assert_eq!(
            d(Some(200), 206, &cr("bytes 0-199/1000")),
            RangeDecision::Mismatch
        );
        assert_eq!(
            d(Some(200), 206, &cr("bytes 100-199/*")),
            RangeDecision::Mismatch
        );
        assert_eq!(
            d(Some(200), 206, &HeaderMap::new()),
            RangeDecision::Mismatch
        );
        // Cut short at the end of the file, or not in it at all.
        assert_eq!(
            d(Some(1200), 206, &cr("bytes 100-999/1000")),
            RangeDecision::PastEnd
        );
        assert_eq!(d(Some(200), 416, &HeaderMap::new()), RangeDecision::PastEnd);
        // A 200: another version (If-Range failed), or no ranges at all.
        let other = headers(&[("etag", "\"v2\"")]);
        assert_eq!(d(Some(200), 200, &other), RangeDecision::OtherVersion);
        assert_eq!(
            d(Some(200), 200, &headers(&[("etag", "\"v1\"")])),
            RangeDecision::NoRanges
        );
        assert_eq!(
            decide_range(100, None, None, 200, &other),
            RangeDecision::NoRanges
        );
        assert_eq!(d(Some(200), 503, &HeaderMap::new()), RangeDecision::Fail);
    }

    #[test]
    fn a_206_counts_only_with_the_exact_range_of_the_same_version() {
        let v = known("\"v1\"", 1000);
        let good = headers(&[("content-range", "bytes 400-999/1000"), ("etag", "\"v1\"")]);
        assert_eq!(
            decide_resume(400, None, &v, 206, &good),
            ResumeDecision::Resume
        );
        let no_etag = headers(&[("content-range", "bytes 400-999/1000")]);
        assert_eq!(
            decide_resume(400, None, &v, 206, &no_etag),
            ResumeDecision::Resume
        );
        for bad in [
            headers(&[("content-range", "bytes 300-999/1000")]),
            headers(&[("content-range", "bytes 400-999/2000")]),
            headers(&[("content-range", "bytes 400-999/*")]),
            headers(&[("content-range", "bytes 400-999/1000"), ("etag", "\"v2\"")]),
            headers(&[("content-range", "garbage")]),
            HeaderMap::new(),
        ] {
            assert_eq!(
                decide_resume(400, None, &v, 206, &bad),
                ResumeDecision::Restart,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_segment_counts_only_with_its_exact_end() {
        let v = known("\"v1\"", 1000);
        let segment = headers(&[("content-range", "bytes 400-499/1000")]);
        assert_eq!(
            decide_resume(400, Some(500), &v, 206, &segment),
            ResumeDecision::Resume
        );
        // More or less than asked, or the rest of the file when a segment
        // was asked: the bytes past the segment would be another's.
        assert_eq!(
            decide_resume(400, Some(600), &v, 206, &segment),
            ResumeDecision::Restart
        );
        assert_eq!(
            decide_resume(400, None, &v, 206, &segment),
            ResumeDecision::Restart
        );
        let to_the_end = headers(&[("content-range", "bytes 400-999/1000")]);
        assert_eq!(
            decide_resume(400, Some(500), &v, 206, &to_the_end),
            ResumeDecision::Restart
        );
        // A 416 to a segment is never "done".
        let at_end = headers(&[("content-range", "bytes */1000")]);
        assert_eq!(
            decide_resume(400, Some(500), &v, 416, &at_end),
            ResumeDecision::Restart
        );
    }

    #[test]
    fn a_200_restarts_a_416_at_the_end_is_done_and_errors_fail() {
        let v = known("\"v1\"", 1000);
        assert_eq!(
            decide_resume(400, None, &v, 200, &HeaderMap::new()),
            ResumeDecision::Whole
        );
        let at_end = headers(&[("content-range", "bytes */1000")]);
        assert_eq!(
            decide_resume(1000, None, &v, 416, &at_end),
            ResumeDecision::Complete
        );
        assert_eq!(
            decide_resume(1000, None, &v, 416, &HeaderMap::new()),
            ResumeDecision::Complete
        );
        let other_size = headers(&[("content-range", "bytes */500")]);
        assert_eq!(
            decide_resume(1000, None, &v, 416, &other_size),
            ResumeDecision::Restart
        );
        assert_eq!(
            decide_resume(400, None, &v, 416, &at_end),
            ResumeDecision::Restart
        );
        for status in [404, 412, 500, 503] {
            assert_eq!(
                decide_resume(400, None, &v, status, &HeaderMap::new()),
                ResumeDecision::Fail
            );
        }
    }

    #[test]
    fn locations_resolve_against_the_url_that_answered() {
        let base = "https://h:8443/a/b/file.bin?x=1";
        for (location, expected) in [
            ("http://other/x", "http://other/x"),
            ("//cdn.example/y", "https://cdn.example/y"),
            ("/root", "https://h:8443/root"),
            ("sibling.bin", "https://h:8443/a/b/sibling.bin"),
            ("../up", "https://h:8443/a/b/../up"),
        ] {
            assert_eq!(resolve_location(base, location), expected, "{location}");
        }
        assert_eq!(resolve_location("http://h", "x"), "http://h/x");
    }

    #[test]
    fn an_origin_is_scheme_host_and_port() {
        assert_eq!(origin("http://H/x"), origin("http://h:80/y"));
        assert_eq!(origin("https://h/x").as_deref(), Some("https://h:443"));
        assert_ne!(origin("http://h/x"), origin("https://h/x"));
        assert_ne!(origin("http://h/x"), origin("http://h:8080/x"));
        assert_ne!(origin("http://h/x"), origin("http://evil/x"));
    }
}
