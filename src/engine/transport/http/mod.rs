//! HTTP and HTTPS sources: our own blocking HTTP/1.1 client (`wire` the
//! message format, `connect` the connections, proxies, TLS and pool) over
//! rustls. Our own because a download engine needs little of a general
//! client, and ureq with the `http` crate cost about 290 KB of a
//! firmware-sized library.
//!
//! Resume is byte-exact or it restarts: a range request (`bytes=a-` or, for
//! a segment, `bytes=a-b`) carries `If-Range` with the strong ETag (or
//! Last-Modified) seen first; a 206 counts only if its Content-Range is
//! exactly the range asked for and its total is the one we know;
//! anything else (a 200, a changed validator, a bad Content-Range) restarts
//! the file from zero with a plain request. No `Accept-Encoding` is ever
//! sent, so bytes on the wire are bytes of the file.
//!
//! Every request gets a [`RequestPolicy`] built from the caller's intent
//! alone (DESIGN §7.1): the caller's URL, its origin, the scheme floor, the
//! redirect rules. Redirects are followed here, one request per hop, each
//! hop checked against that policy (`SecurityFlags`): at most 10; never out
//! of http(s); never below HTTPS (from an HTTPS hop, or for an HTTPS
//! remote name) unless the job allows it; a fatal error under DISALLOW.
//! Credentials, the URL's user info and every caller header go only to the
//! origin of the caller's URL; a `Location`'s user info is never used.
//! Where the redirects led is returned as the final URL, a report: the
//! next request starts at the caller's URL again.

mod connect;
#[cfg(feature = "upload")]
pub(crate) mod exchange;
mod policy;
#[cfg(feature = "tls")]
mod tls;
// pub(crate) for `crate::fuzzing` (feature `fuzzing`).
pub(crate) mod wire;

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::engine::transport::cancel::CancelToken;
use crate::engine::transport::error::{self, RequestFailure, TransferError};
use crate::engine::transport::options::{HttpOptions, ProxySetting};
use crate::engine::transport::source::Opened;
use crate::engine::transport::url::{self, Url};
use crate::engine::transport::validator::{HttpValidator, Validator};
use crate::engine::types::ErrorContext;
use crate::hresult::*;
use connect::{Conn, Connector, Deadline, Pool, Route, Sockets};
use policy::Hop;
pub(crate) use policy::RequestPolicy;
pub(crate) use wire::Headers;
use wire::{BodyDecoder, Framing, Head};

/// What every request says it comes from.
pub(crate) const USER_AGENT: &str = concat!("qmgr/", env!("CARGO_PKG_VERSION"));

/// The per-run HTTP client: one connection pool per worker run, so a job's
/// files reuse connections, and cancelling the run closes its sockets.
/// Clones share the pool.
#[derive(Clone)]
pub(crate) struct Client {
    connector: Arc<Connector>,
    pool: Arc<Pool>,
    options: Arc<HttpOptions>,
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
    headers: &Headers,
) -> ResumeDecision {
    match status {
        206 => {
            let seen = validator_of(headers, None);
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
    headers: &Headers,
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
            let seen = validator_of(headers, None);
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
        let sockets = Arc::new(Sockets::default());
        let connector = Arc::new(Connector {
            stall_timeout: options.stall_timeout,
            #[cfg(feature = "tls")]
            tls: tls::server_config(&options)?,
            #[cfg(feature = "tls")]
            proxy_tls: Default::default(),
            sockets: Arc::clone(&sockets),
        });
        // Each connection of the run keeps its connection alive between files.
        let pool = Arc::new(Pool::new(connections.max(1), connections.max(1) * 2));
        let for_stop = Arc::clone(&pool);
        token.on_cancel(Box::new(move || {
            sockets.shut_down();
            for_stop.clear();
        }));
        Ok(Client {
            connector,
            pool,
            options: Arc::new(options),
        })
    }

    /// Opens the caller's URL of `policy` at `offset` for the bytes up to
    /// `end` (`None`: to the end); see the module documentation for the rules.
    pub(crate) fn open(
        &self,
        policy: &RequestPolicy,
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
            return self.fetch_whole(policy);
        };
        let range = Range {
            offset,
            end,
            tag: Some(tag),
        };
        let (response, final_url) = self.send(policy, Some(range), offset)?;
        let decision = decide_resume(
            offset,
            end,
            known,
            response.head.status,
            &response.head.headers,
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
                headers: Some(response.head.headers.text()),
                body: Box::new(std::io::empty()),
                socket: None,
                reusable: None,
                final_url: None,
            },
            ResumeDecision::Whole => opened_whole(response),
            ResumeDecision::Restart => {
                drop(response);
                return self.fetch_whole(policy);
            }
            ResumeDecision::Fail => return Err(status_error(&response, &final_url, offset)),
        };
        opened.final_url = Some(final_url).filter(|f| *f != policy.url);
        Ok(opened)
    }

    /// Opens the caller's URL of `policy` for the bytes from `offset` to `end` (`None`: to the
    /// end) of a ranged file: the answer must be exactly that range, with
    /// the file's size; see `decide_range`. `previous` is the version the
    /// file's other bytes are of: it goes in `If-Range`, and if the server
    /// has another one, the range is asked for again without it (the
    /// returned validator then differs, and the model forgets the rest).
    pub(crate) fn open_range(
        &self,
        policy: &RequestPolicy,
        offset: u64,
        end: Option<u64>,
        previous: Option<&Validator>,
    ) -> Result<Opened, TransferError> {
        self.open_range_ahead(policy, offset, end, previous, &[])
            .map(|(opened, _)| opened)
    }

    /// `open_range`, with the requests for the further ranges `more`
    /// (each `start..end`, exclusive, of the first answer's version: in
    /// `If-Range`) sent right behind it on the same connection (HTTP/1.1
    /// pipelining) when the first answer proved that connection kept
    /// alive and came from the caller's URL itself (see `send_ahead`).
    /// Their answers come from the returned [`Pipeline`], in order, each
    /// once the body before it was read to its end. No pipeline: nothing
    /// was sent ahead.
    pub(crate) fn open_range_ahead(
        &self,
        policy: &RequestPolicy,
        offset: u64,
        end: Option<u64>,
        previous: Option<&Validator>,
        more: &[(u64, u64)],
    ) -> Result<(Opened, Option<Pipeline>), TransferError> {
        let known = previous.and_then(Validator::http);
        let range = Range {
            offset,
            end,
            tag: known.and_then(HttpValidator::if_range),
        };
        let (response, final_url) = self.send(policy, Some(range), offset)?;
        let fail = |code: qm_hresult, why: String| {
            TransferError::fatal(
                HResult(code),
                ErrorContext::RemoteFile,
                format!("GET {final_url} ({}): {why}", range.bytes()),
            )
        };
        let headers = &response.head.headers;
        match decide_range(offset, end, known, response.head.status, headers) {
            RangeDecision::Exact => {}
            RangeDecision::OtherVersion if range.tag.is_some() => {
                drop(response);
                return self.open_range_ahead(policy, offset, end, None, more);
            }
            RangeDecision::PastEnd => {
                return Err(fail(
                    QM_BG_E_INVALID_RANGE,
                    "the range lies outside the remote file".into(),
                ))
            }
            RangeDecision::Mismatch => {
                let got = headers.get("content-range").unwrap_or("no Content-Range");
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
                        response.head.status
                    ),
                ))
            }
            RangeDecision::Fail => return Err(status_error(&response, &final_url, offset)),
        }
        let total = content_range(headers).and_then(|r| r.total);
        let seen = validator_of(headers, total);
        // The same version keeps the validator the other bytes were stored with.
        let validator = match known {
            Some(k) if seen.same_version_as(k) && k.total == total => k.clone(),
            _ => seen,
        };
        let mut response = response;
        let pipeline = match more {
            [] => None,
            _ if final_url != policy.url => None,
            _ => self.send_ahead(policy, &mut response, &validator, more),
        };
        let mut opened = opened(response, offset, total, validator);
        opened.end = end.or(total);
        opened.ranges = true;
        opened.final_url = Some(final_url).filter(|f| *f != policy.url);
        Ok((opened, pipeline))
    }

    /// Sends the requests for `more` (single ranges of `known`'s version)
    /// behind `response` on its connection, when that connection proved
    /// it is kept alive (the answer is framed by its length and does not
    /// close) and goes straight to the server (no proxy: a proxy may not
    /// pipeline). `None`: nothing was sent.
    fn send_ahead(
        &self,
        policy: &RequestPolicy,
        response: &mut Response,
        known: &HttpValidator,
        more: &[(u64, u64)],
    ) -> Option<Pipeline> {
        let target = Url::parse(&policy.url).ok()?;
        if !matches!(self.route(&target).0, Route::Direct) || response.body.pool.is_none() {
            return None;
        }
        let length = response.length?;
        if !matches!(Framing::of(&response.head), Ok(Framing::Length(n)) if n == length) {
            return None;
        }
        let hop = policy.hop(&policy.url);
        let conn = response.body.conn.as_mut()?;
        let mut heads = String::new();
        for &(offset, end) in more {
            let range = Range {
                offset,
                end: Some(end),
                tag: known.if_range(),
            };
            heads.push_str(&self.request_head("GET", &target, conn, Some(range), &[], policy, hop));
        }
        let slot: Arc<crate::sync::Mutex<Option<Conn>>> = Arc::default();
        let written = std::io::Write::write_all(conn.io.get_mut(), heads.as_bytes())
            .and_then(|_| std::io::Write::flush(conn.io.get_mut()));
        if written.is_err() {
            // Part of a request may be on the wire: never reused.
            response.body.pool = None;
            return None;
        }
        response.body.handoff = Some(Arc::clone(&slot));
        Some(Pipeline {
            slot,
            pool: Arc::clone(&self.pool),
            pending: more.iter().copied().collect(),
            known: known.clone(),
            url: policy.url.clone(),
            stall_timeout: self.options.stall_timeout,
        })
    }

    /// Opens connections for the caller's URL of `policy` (straight or
    /// through its proxy, TLS included), at once, until `n` wait idle in
    /// the pool, for requests to come (a delta file's ranges, once its
    /// seeds are scanned). Nothing is sent on them; one that fails is left
    /// for those requests to meet again.
    #[cfg_attr(not(feature = "delta"), allow(dead_code))] // delta downloads only
    pub(crate) fn warm(&self, policy: &RequestPolicy, n: usize) {
        let Ok(target) = Url::parse(&policy.url) else {
            return;
        };
        let (route, key) = self.route(&target);
        let wanted = n.saturating_sub(self.pool.count(&key));
        std::thread::scope(|scope| {
            for _ in 0..wanted {
                let (target, route, key) = (&target, &route, key.clone());
                let spawned = std::thread::Builder::new()
                    .name("qmgr-warm".into())
                    .spawn_scoped(scope, move || {
                        if let Ok(conn) = self.connector.connect(target, route, key, None) {
                            self.pool.put(conn);
                        }
                    });
                if spawned.is_err() {
                    break;
                }
            }
        });
    }

    /// A plain request for the whole file.
    fn fetch_whole(&self, policy: &RequestPolicy) -> Result<Opened, TransferError> {
        let url = &policy.url;
        let (response, final_url) = self.send(policy, None, 0)?;
        let status = response.head.status;
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

    /// Sends the GET to the caller's URL and follows redirects as
    /// `policy` allows, each hop sent as the policy scopes it; returns the
    /// last response and the URL it came from (a report, never a source).
    fn send(
        &self,
        policy: &RequestPolicy,
        range: Option<Range<'_>>,
        offset: u64,
    ) -> Result<(Response, String), TransferError> {
        let mut current = policy.url.clone();
        // A low-speed limit bounds everything before the body from here,
        // over every hop of the redirect chain, not per hop.
        let limit = self.options.low_speed_time.map(Deadline::low_speed);
        for _ in 0..=policy.max_redirects {
            let hop = policy.hop(&current);
            let response = self
                .request(&current, range, offset, policy, hop, limit.as_ref())
                .map_err(|mut err| {
                    // A hop that failed is where this attempt ended: the
                    // report (a refused redirect already names its target).
                    err.redirected_to.get_or_insert_with(|| current.clone());
                    err
                })?;
            let status = response.head.status;
            let location = match status {
                301 | 302 | 303 | 307 | 308 => response.head.headers.get("location"),
                _ => None,
            };
            let Some(location) = location else {
                return Ok((response, current));
            };
            let next = url::resolve(&current, location);
            policy.check_redirect(&current, &next)?;
            current = next;
        }
        Err(TransferError::fatal(
            HResult(QM_BG_E_INVALID_SERVER_RESPONSE),
            ErrorContext::RemoteFile,
            format!(
                "GET {}: more than {} redirects",
                policy.url, policy.max_redirects
            ),
        ))
    }

    /// One GET of `url`, one hop of a request under `policy`: `hop` says
    /// whether the credentials and the caller's headers go along; `limit`
    /// is the low-speed limit's bound on everything before the body.
    fn request(
        &self,
        url: &str,
        range: Option<Range<'_>>,
        offset: u64,
        policy: &RequestPolicy,
        hop: Hop,
        limit: Option<&Deadline>,
    ) -> Result<Response, TransferError> {
        let failed = |(failure, what): (RequestFailure, String)| {
            error::request_error(failure, &what, url, offset)
        };
        let target = Url::parse(url).map_err(|why| {
            failed((
                RequestFailure::BadUrl,
                format!("'{}' is not a URL: {why}", url::shown(url)),
            ))
        })?;
        let (route, key) = self.route(&target);
        // A kept-alive connection the server closed meanwhile fails at once
        // (nothing of the answer arrives): then once more on a new one.
        let mut pooled = self.take_idle(&key);
        // Deadlines before the body (see `connect`): the low-speed limit's,
        // the connect's, the head's; the body has none.
        loop {
            let reused = pooled.is_some();
            let mut conn = match pooled.take() {
                Some(conn) => conn,
                None => self
                    .connector
                    .connect(&target, &route, key.clone(), limit)
                    .map_err(failed)?,
            };
            let head_text = self.request_head("GET", &target, &conn, range, &[], policy, hop);
            let head_by = Deadline::head(self.options.stall_timeout, limit);
            let sent = conn
                .set_deadline(Some(head_by))
                .and_then(|_| std::io::Write::write_all(conn.io.get_mut(), head_text.as_bytes()))
                .and_then(|_| std::io::Write::flush(conn.io.get_mut()))
                .and_then(|_| connect::read_final_head(&mut conn))
                .and_then(|head| conn.set_deadline(None).map(|_| head));
            let head = match sent {
                // A 408 on a kept-alive connection: the server timed it out
                // as the request came; a new connection gets a real answer.
                Ok(head) if reused && head.status == 408 => continue,
                Ok(head) => head,
                // Only a plain connection failure: a timeout, a TLS alert or
                // a malformed answer would come again.
                Err(e) if reused && matches!(RequestFailure::of_io(&e), RequestFailure::Io(_)) => {
                    continue
                }
                Err(e) => return Err(failed((RequestFailure::of_io(&e), e.to_string()))),
            };
            let framing = Framing::of(&head)
                .map_err(|e| failed((RequestFailure::Protocol, e.to_string())))?;
            let reusable = head.keeps_alive(framing);
            return Ok(Response {
                length: framing.length(),
                head,
                body: Body {
                    decoder: BodyDecoder::new(framing),
                    conn: Some(conn),
                    pool: reusable.then(|| Arc::clone(&self.pool)),
                    keep: Arc::new(AtomicBool::new(true)),
                    handoff: None,
                },
            });
        }
    }

    /// How requests to `target` go (directly, or through which proxy),
    /// and the pool key of their connections.
    fn route(&self, target: &Url) -> (Route, String) {
        let route = match &self.options.proxy {
            ProxySetting::FromEnvironment => {
                connect::route_from_environment(&self.options.environment, target)
            }
            ProxySetting::Direct => Route::Direct,
            ProxySetting::Url(proxy) => Route::Proxy(proxy.clone()),
        };
        let key = match &route {
            Route::Direct => target.origin(),
            Route::Proxy(proxy) => format!("{proxy} {}", target.origin()),
        };
        (route, key)
    }

    /// An idle connection for `key` whose server has not closed it.
    fn take_idle(&self, key: &str) -> Option<Conn> {
        while let Some(mut conn) = self.pool.take(key) {
            if !connect::is_stale(&mut conn) {
                return Some(conn);
            }
        }
        None
    }

    /// The request head of a `method` request of `target` over `conn`,
    /// one hop of a request under `policy`, with qmgr's own fields (the
    /// `range`'s, an upload protocol's `extra`) after the caller's headers.
    #[allow(clippy::too_many_arguments)]
    fn request_head(
        &self,
        method: &str,
        target: &Url,
        conn: &Conn,
        range: Option<Range<'_>>,
        extra: &[(&str, String)],
        policy: &RequestPolicy,
        hop: Hop,
    ) -> String {
        let mut fields: Vec<(&str, String)> = Vec::new();
        let custom = self
            .options
            .custom_headers
            .as_ref()
            .map_or(&[][..], |(_, list)| list);
        // Every caller header goes to the caller's origin only; its
        // Proxy-Authorization only to a plain-HTTP proxy (never to a
        // server, nor into a tunnel).
        let via_plain_proxy = conn.via_proxy.is_some();
        let custom: Vec<&(String, String)> = custom
            .iter()
            .filter(|(n, _)| policy.sends_caller_header(n, hop, via_plain_proxy))
            .collect();
        let has = |name: &str| custom.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
        if !has("host") {
            fields.push(("Host", target.host_header()));
        }
        if !has("user-agent") {
            fields.push(("User-Agent", USER_AGENT.to_string()));
        }
        if !has("accept") {
            fields.push(("Accept", "*/*".to_string()));
        }
        for (name, value) in &custom {
            fields.push((name, value.clone()));
        }
        // Basic credentials: the caller's (the job's, else its URL's user
        // info), to its origin only, never beside an Authorization of the
        // caller's.
        if let (Some((user, password)), true, false) =
            (&policy.credentials, hop.trusted, has("authorization"))
        {
            fields.push(("Authorization", wire::basic_credentials(user, password)));
        }
        if let Some(range) = range {
            fields.push(("Range", range.bytes()));
            if let Some(tag) = range.tag {
                fields.push(("If-Range", tag.to_string()));
            }
        }
        for (name, value) in extra {
            fields.push((*name, value.clone()));
        }
        // Through a plain-HTTP proxy the request names the whole URL.
        let request_target = match &conn.via_proxy {
            Some(credentials) => {
                if let (Some(c), false) = (credentials, has("proxy-authorization")) {
                    fields.push(("Proxy-Authorization", c.clone()));
                }
                format!(
                    "{}://{}{}",
                    target.scheme,
                    target.host_header(),
                    target.target
                )
            }
            None => target.target.clone(),
        };
        let mut head = format!("{method} {request_target} HTTP/1.1\r\n");
        for (name, value) in fields {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        head
    }
}

/// A response: its head, the length its framing announces, its body.
struct Response {
    head: Head,
    length: Option<u64>,
    body: Body,
}

/// A response body; once read to its end, its connection goes back to the
/// pool (when the response allows it to be kept alive).
struct Body {
    decoder: BodyDecoder,
    conn: Option<Conn>,
    pool: Option<Arc<Pool>>,
    /// Cleared by the reader when it changed the socket in a way a later
    /// request must not inherit (see [`Opened::reusable`]).
    keep: Arc<AtomicBool>,
    /// Where the connection goes once read to the end when requests were
    /// sent ahead on it (their [`Pipeline`]), instead of the pool.
    handoff: Option<Arc<crate::sync::Mutex<Option<Conn>>>>,
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(0);
        };
        let n = self.decoder.read(&mut conn.io, buf)?;
        if self.decoder.done() {
            if let (Some(conn), Some(pool)) = (self.conn.take(), &self.pool) {
                if self.keep.load(Ordering::Relaxed) {
                    // Answers to requests sent ahead follow on it: to
                    // their pipeline, never to the pool.
                    match &self.handoff {
                        Some(slot) => *slot.lock() = Some(conn),
                        None => pool.put(conn),
                    }
                }
            }
        }
        Ok(n)
    }
}

/// Requests sent ahead on one connection (`Client::open_range_ahead`):
/// their ranges, in the order their answers come. The connection comes
/// back to it when the body before the next answer was read to its end;
/// it goes to the pool only after the last answer. Dropped with answers
/// still to come, it closes the connection.
#[cfg_attr(not(feature = "delta"), allow(dead_code))] // delta downloads only
pub(crate) struct Pipeline {
    slot: Arc<crate::sync::Mutex<Option<Conn>>>,
    pool: Arc<Pool>,
    pending: std::collections::VecDeque<(u64, u64)>,
    /// The first answer's version: every later answer must be of it.
    known: HttpValidator,
    url: String,
    stall_timeout: Duration,
}

#[cfg_attr(not(feature = "delta"), allow(dead_code))] // delta downloads only
impl Pipeline {
    /// The answer to the next request sent ahead, as `open_range` gives
    /// it; `None` when none is left. An error (the connection is gone or
    /// was not read to the end, or the answer is not exactly the range,
    /// of the first answer's version and size) ends the pipeline: its
    /// connection is closed, and the ranges not answered must be asked
    /// for again.
    pub(crate) fn next(&mut self) -> Option<Result<Opened, TransferError>> {
        let (offset, end) = self.pending.pop_front()?;
        let result = self.answer(offset, end);
        if result.is_err() {
            self.pending.clear();
            self.slot.lock().take();
        }
        Some(result)
    }

    fn answer(&mut self, offset: u64, end: u64) -> Result<Opened, TransferError> {
        let url = &self.url;
        let broken = |why: String| {
            TransferError::transient(
                HResult(QM_BG_E_INVALID_SERVER_RESPONSE),
                ErrorContext::RemoteFile,
                format!("GET {url} (bytes={offset}-{}) sent ahead: {why}", end - 1),
            )
        };
        let Some(mut conn) = self.slot.lock().take() else {
            return Err(broken("the connection was not kept for its answer".into()));
        };
        let head = conn
            .set_deadline(Some(Deadline::head(self.stall_timeout, None)))
            .and_then(|_| connect::read_final_head(&mut conn))
            .and_then(|head| conn.set_deadline(None).map(|_| head))
            .map_err(|e| broken(e.to_string()))?;
        let headers = &head.headers;
        let decision = decide_range(offset, Some(end), Some(&self.known), head.status, headers);
        let total = content_range(headers).and_then(|r| r.total);
        let seen = validator_of(headers, total);
        if decision != RangeDecision::Exact
            || total != self.known.total
            || !seen.same_version_as(&self.known)
        {
            return Err(broken(format!(
                "the answer {} ({}) is not that range of the first answer's version",
                head.status,
                headers.get("content-range").unwrap_or("no Content-Range")
            )));
        }
        let framing = Framing::of(&head).map_err(|e| broken(e.to_string()))?;
        let reusable = head.keeps_alive(framing);
        let last = self.pending.is_empty();
        let response = Response {
            length: framing.length(),
            head,
            body: Body {
                decoder: BodyDecoder::new(framing),
                conn: Some(conn),
                // Kept only when nothing more is to come on it.
                pool: reusable.then(|| Arc::clone(&self.pool)),
                keep: Arc::new(AtomicBool::new(true)),
                handoff: (!last).then(|| Arc::clone(&self.slot)),
            },
        };
        if !reusable && !last {
            // The server closes after this answer: the rest never comes.
            self.pending.clear();
        }
        let mut opened = opened(response, offset, total, self.known.clone());
        opened.end = Some(end);
        opened.ranges = true;
        Ok(opened)
    }
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
fn opened_whole(response: Response) -> Opened {
    let total = response.length;
    let validator = validator_of(&response.head.headers, total);
    let ranges = response.head.headers.has_token("accept-ranges", "bytes");
    let mut o = opened(response, 0, total, validator);
    o.end = total;
    o.ranges = ranges;
    o
}

fn opened(response: Response, start: u64, total: Option<u64>, validator: HttpValidator) -> Opened {
    Opened {
        start,
        total,
        validator: Some(Validator::Http(validator)),
        end: None,
        ranges: false,
        headers: Some(response.head.headers.text()),
        socket: response.body.conn.as_ref().and_then(Conn::socket),
        reusable: Some(Arc::clone(&response.body.keep)),
        body: Box::new(response.body),
        final_url: None,
    }
}

/// The validator a response's headers carry, for a file of `total` bytes.
fn validator_of(headers: &Headers, total: Option<u64>) -> HttpValidator {
    HttpValidator::from_fields(headers.get("etag"), headers.get("last-modified"), total)
}

/// A parsed `Content-Range: bytes START-END/TOTAL` (END inclusive; TOTAL
/// may be `*`).
struct ContentRange {
    start: u64,
    end: u64,
    total: Option<u64>,
}

/// The response's `Content-Range`, if it is one: `bytes `, then numbers
/// of digits only (no sign, no spaces), END at least START and below TOTAL.
fn content_range(headers: &Headers) -> Option<ContentRange> {
    let value = headers.get("content-range")?.trim();
    let rest = value.strip_prefix("bytes ")?;
    let (span, total) = rest.split_once('/')?;
    let (start, end) = span.split_once('-')?;
    // Numbers are digits only (RFC 9110 §14.4): no sign, no spaces.
    let start = wire::decimal(start)?;
    let end = wire::decimal(end)?;
    let total = match total {
        "*" => None,
        t => Some(wire::decimal(t)?),
    };
    if end < start || total.is_some_and(|t| end >= t) {
        return None;
    }
    Some(ContentRange { start, end, total })
}

/// The size in a 416's `Content-Range: bytes */SIZE` (SIZE digits only).
fn content_range_total(headers: &Headers) -> Option<u64> {
    let value = headers.get("content-range")?;
    wire::decimal(value.trim().strip_prefix("bytes */")?)
}

/// The longest `Retry-After` taken: a week (a server asking for more is
/// asked again then).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

/// The wait `Retry-After` asks for at `now` (a number of seconds, digits
/// only, or an HTTP-date less `now`), at most `MAX_RETRY_AFTER`, if
/// present and one of those.
fn retry_after(headers: &Headers, now: SystemTime) -> Option<Duration> {
    let value = headers.get("retry-after")?.trim();
    // delay-seconds is digits only (RFC 9110 §10.2.3): `+5` is no wait;
    // more seconds than a u64 holds is the longest wait.
    let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
    let wait = match digits {
        true => Duration::from_secs(wire::decimal(value).unwrap_or(u64::MAX)),
        false => httpdate::parse_http_date(value)
            .ok()?
            .duration_since(now)
            .unwrap_or(Duration::ZERO),
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// An HTTP error status, classified.
fn status_error(response: &Response, url: &str, offset: u64) -> TransferError {
    let mut err = error::status_error(
        response.head.status,
        &response.head.reason,
        retry_after(&response.head.headers, SystemTime::now()),
        url,
        offset,
    );
    // The hop that answered is where this attempt ended: the report.
    err.redirected_to = Some(url.to_string());
    err
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::transport::source::origin;

    fn headers(pairs: &[(&str, &str)]) -> Headers {
        let mut h = Headers::default();
        for (name, value) in pairs {
            h.push(name, value);
        }
        h
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
            // Digits only: no sign, no spaces, no overflow.
            "bytes +0-1/2",
            "bytes 0-+1/2",
            "bytes 0-1/+2",
            "bytes 0 -1/2",
            "bytes 0- 1/2",
            "bytes 0-1/ 2",
            "bytes 0-1/18446744073709551616",
        ] {
            assert!(
                content_range(&headers(&[("content-range", bad)])).is_none(),
                "{bad}"
            );
        }
        assert!(content_range(&Headers::default()).is_none());
        assert_eq!(
            content_range_total(&headers(&[("content-range", "bytes */4096")])),
            Some(4096)
        );
        for bad in ["bytes */+4096", "bytes */-1", "bytes */ 4096", "bytes */4k"] {
            assert_eq!(
                content_range_total(&headers(&[("content-range", bad)])),
                None,
                "{bad}"
            );
        }
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let date = "Wed, 21 Oct 2015 07:28:00 GMT";
        let at = httpdate::parse_http_date(date).unwrap();
        let wait =
            |value: &str, now: SystemTime| retry_after(&headers(&[("retry-after", value)]), now);
        assert_eq!(wait("7", at), Some(Duration::from_secs(7)));
        // A date is a wait from now: 90 s before it, 90 s; after it, none.
        assert_eq!(
            wait(date, at - Duration::from_secs(90)),
            Some(Duration::from_secs(90))
        );
        assert_eq!(wait(date, at), Some(Duration::ZERO));
        assert_eq!(
            wait(date, at + Duration::from_secs(90)),
            Some(Duration::ZERO)
        );
        assert_eq!(wait("soon", at), None);
        // delay-seconds is digits only: a sign or a space is no wait.
        for bad in ["+5", "-5", "5 s", "0x10", "5.0", ""] {
            assert_eq!(wait(bad, at), None, "{bad:?}");
        }
        assert_eq!(
            wait("99999999999999999999999", at),
            Some(MAX_RETRY_AFTER),
            "past u64: the longest wait"
        );
        assert_eq!(retry_after(&Headers::default(), at), None);
        // Either form is capped at a week.
        assert_eq!(wait("18446744073709551615", at), Some(MAX_RETRY_AFTER));
        assert_eq!(
            wait("604801", at),
            Some(MAX_RETRY_AFTER),
            "a week and a second"
        );
        assert_eq!(
            wait(date, at - Duration::from_secs(365 * 24 * 3600)),
            Some(MAX_RETRY_AFTER)
        );
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
        let d = |end, status, h: &Headers| decide_range(100, end, Some(&v), status, h);
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
            d(Some(200), 206, &Headers::default()),
            RangeDecision::Mismatch
        );
        // Cut short at the end of the file, or not in it at all.
        assert_eq!(
            d(Some(1200), 206, &cr("bytes 100-999/1000")),
            RangeDecision::PastEnd
        );
        assert_eq!(
            d(Some(200), 416, &Headers::default()),
            RangeDecision::PastEnd
        );
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
        assert_eq!(d(Some(200), 503, &Headers::default()), RangeDecision::Fail);
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
            Headers::default(),
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
            decide_resume(400, None, &v, 200, &Headers::default()),
            ResumeDecision::Whole
        );
        let at_end = headers(&[("content-range", "bytes */1000")]);
        assert_eq!(
            decide_resume(1000, None, &v, 416, &at_end),
            ResumeDecision::Complete
        );
        assert_eq!(
            decide_resume(1000, None, &v, 416, &Headers::default()),
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
                decide_resume(400, None, &v, status, &Headers::default()),
                ResumeDecision::Fail
            );
        }
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
