//! Requests other than a download's GET, for the upload protocols
//! (`transport::upload`, feature `upload`): any method, qmgr's own header
//! fields beside the caller's, a body streamed from a region of a local
//! file, and the interim (1xx) answers kept, since the resumable-upload
//! draft puts the upload's URL in a `104`.
//!
//! Every hop goes through the same [`RequestPolicy`] as a download's: the
//! caller's credentials and headers go to the caller's origin only. An
//! upload follows only the redirects that keep the method and the body
//! (307 and 308; a 301, 302 or 303 is returned as an answer, which the
//! protocols take as an error) and only within the caller's origin:
//! the credentials travel with every request of an upload, and a server
//! that could send them elsewhere could also have the file's bytes
//! appended anywhere.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::connect::{self, Deadline};
use super::wire::{self, BodyDecoder, Framing, Head};
use super::{Body, Client, RequestPolicy};
use crate::engine::transport::error::{self, RequestFailure, TransferError};
use crate::engine::transport::source::origin;
use crate::engine::transport::url::{self, Url};
use crate::engine::types::ErrorContext;
use crate::hresult::*;

/// Interim answers kept per request; more is a misbehaving server.
const MAX_INTERIM: usize = 64;

/// Bytes of a body written per write (and read from the file per read).
const PIECE: usize = 64 * 1024;

/// The part of a local file a request carries as its body, read from
/// disk as it is sent (never held in memory), so that it can be sent again.
#[derive(Clone, Copy)]
pub(crate) struct FileBody<'a> {
    pub file: &'a File,
    pub offset: u64,
    pub len: u64,
    /// Told of every piece sent, before the next is read: the caller's
    /// bandwidth limits and yielding wait there.
    pub pace: Option<&'a dyn Pace>,
}

/// What paces a body as it is sent: the caller's bandwidth limits, and
/// the yielding of background uploads, which needs the connection's TCP
/// socket (its round trip, and the kernel's pacing of it).
pub(crate) trait Pace {
    /// The bytes to write at a time, at most `max`: a paced connection
    /// is sampled between two writes.
    fn piece(&self, max: usize) -> usize {
        max
    }
    /// `bytes` more of a body went into `socket` (the connection's TCP
    /// socket, the same for the whole body; `None` where it is not known);
    /// returns once the limits allow the next piece.
    fn sent(&self, bytes: u64, socket: Option<&std::net::TcpStream>);
    /// The body was sent whole, or its sending failed: what the pacing
    /// set on the socket comes off. Returns false when something stays
    /// (a fixed buffer): the connection then serves no other request.
    fn ended(&self) -> bool;
}

/// One request of an upload protocol.
pub(crate) struct Call<'a> {
    pub method: &'static str,
    /// The caller's URL, or an upload URL of the caller's origin.
    pub url: &'a str,
    /// The protocol's fields (`Content-Length` is added for a body).
    pub fields: Vec<(&'static str, String)>,
    pub body: Option<FileBody<'a>>,
}

/// The final answer to a [`Call`], and its body, unread.
pub(crate) struct Answer {
    pub head: Head,
    /// The URL that answered (the call's, or where a redirect led).
    pub url: String,
    body: Body,
}

impl Answer {
    /// Reads the body to its end, at most `limit` bytes of it into `out`;
    /// `Ok(false)` when it is longer (the rest is not read).
    pub(crate) fn read_body(&mut self, out: &mut dyn Write, limit: u64) -> io::Result<bool> {
        let mut buf = vec![0u8; PIECE];
        let mut total = 0u64;
        loop {
            let n = self.body.read(&mut buf)?;
            if n == 0 {
                return Ok(true);
            }
            total += n as u64;
            if total > limit {
                return Ok(false);
            }
            out.write_all(&buf[..n])?;
        }
    }

    /// Reads and drops a short body so the connection can serve the next
    /// request; a long or broken one just closes it.
    pub(crate) fn finish(mut self) {
        let _ = self.read_body(&mut io::sink(), 64 * 1024);
    }
}

impl Client {
    /// Sends `call` to its URL under `policy`, following 307 and 308 within
    /// the caller's origin as the module documentation says. The interim
    /// (1xx) answers but `100 Continue` are added to `interim` as they
    /// come, also when the request then fails (a draft upload's URL may
    /// have come in one).
    pub(crate) fn exchange(
        &self,
        policy: &RequestPolicy,
        call: &Call<'_>,
        interim: &mut Vec<Head>,
    ) -> Result<Answer, TransferError> {
        let mut current = call.url.to_string();
        for _ in 0..=policy.max_redirects {
            let answer = self.exchange_once(&current, call, policy, interim)?;
            let location = match answer.head.status {
                307 | 308 => answer.head.headers.get("location"),
                _ => None,
            };
            let Some(location) = location else {
                return Ok(answer);
            };
            let next = url::resolve(&current, location);
            policy.check_redirect(&current, &next).map_err(|mut err| {
                err.description = err
                    .description
                    .replacen("GET ", &format!("{} ", call.method), 1);
                err
            })?;
            if origin(&next) != policy.trusted_origin {
                return Err(TransferError {
                    redirected_to: Some(next.clone()),
                    ..TransferError::fatal(
                        HResult(QM_E_WINHTTP_REDIRECT_FAILED),
                        ErrorContext::RemoteFile,
                        format!(
                            "{} {current}: the server redirected to {next}, which is refused: an upload is redirected within the origin of its URL only",
                            call.method
                        ),
                    )
                });
            }
            answer.finish();
            current = next;
        }
        Err(TransferError::fatal(
            HResult(QM_BG_E_INVALID_SERVER_RESPONSE),
            ErrorContext::RemoteFile,
            format!(
                "{} {}: more than {} redirects",
                call.method, call.url, policy.max_redirects
            ),
        ))
    }

    /// One hop of `call`, to `url`.
    fn exchange_once(
        &self,
        url: &str,
        call: &Call<'_>,
        policy: &RequestPolicy,
        interim: &mut Vec<Head>,
    ) -> Result<Answer, TransferError> {
        let offset = call.body.map_or(0, |b| b.offset);
        let failed = |(failure, what): (RequestFailure, String)| {
            let mut err = error::request_error(failure, &what, url, offset);
            // (request_error words a download's GET.)
            if let Some(rest) = err.description.strip_prefix("GET ") {
                err.description = format!("{} {rest}", call.method);
            }
            err.redirected_to = Some(url.to_string());
            err
        };
        let target = Url::parse(url).map_err(|why| {
            failed((
                RequestFailure::BadUrl,
                format!("'{}' is not a URL: {why}", url::shown(url)),
            ))
        })?;
        let (route, key) = self.route(&target);
        let hop = policy.hop(url);
        let mut fields = call.fields.clone();
        if let Some(body) = call.body {
            fields.push(("Content-Length", body.len.to_string()));
        } else if matches!(call.method, "POST" | "PATCH" | "PUT") {
            fields.push(("Content-Length", "0".to_string()));
        }
        let limit = self.options.low_speed_time.map(Deadline::low_speed);
        // A kept-alive connection the server closed meanwhile fails at
        // once: then once more on a new one, but only for an idempotent
        // request (HEAD, OPTIONS, DELETE; RFC 9110 §9.2.2): a POST may
        // have created an upload, a PATCH may have appended bytes, and
        // the protocols ask the offset rather than assume.
        let mut pooled = self.take_idle(&key);
        loop {
            let reused = pooled.is_some();
            let mut conn = match pooled.take() {
                Some(conn) => conn,
                None => self
                    .connector
                    .connect(&target, &route, key.clone(), limit.as_ref())
                    .map_err(failed)?,
            };
            let head_text =
                self.request_head(call.method, &target, &conn, None, &fields, policy, hop);
            // A server that stops reading the body is a stall like one
            // that stops sending: writes wait at most the stall timeout.
            let socket = conn.socket();
            if let Some(socket) = &socket {
                let _ = socket.set_write_timeout(Some(self.options.stall_timeout));
            }
            let mut poolable = true;
            let sent = conn
                .set_deadline(None)
                .and_then(|_| conn.io.get_mut().write_all(head_text.as_bytes()))
                .and_then(|_| match call.body {
                    Some(body) => send_body(conn.io.get_mut(), body, socket.as_ref())
                        .map(|kept| poolable = kept),
                    None => Ok(()),
                })
                .and_then(|_| conn.io.get_mut().flush());
            let retry = reused && matches!(call.method, "HEAD" | "OPTIONS" | "DELETE");
            // A server may answer before it read the whole body (an error,
            // a conflict) and close: its answer counts, not the failed
            // write. A write that stalled (or was stopped) has no answer
            // to wait for.
            let answered = match &sent {
                Err(e)
                    if !matches!(
                        e.kind(),
                        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
                    ) =>
                {
                    Err(io::Error::new(e.kind(), e.to_string()))
                }
                _ => {
                    let head_by = Deadline::head(self.options.stall_timeout, limit.as_ref());
                    conn.set_deadline(Some(head_by))
                        .and_then(|_| read_heads(&mut conn, interim))
                        .and_then(|head| conn.set_deadline(None).map(|_| head))
                }
            };
            let head = match (sent, answered) {
                (_, Ok(head)) if retry && head.status == 408 => continue,
                (_, Ok(head)) => head,
                (Err(e), Err(_)) | (Ok(()), Err(e)) => {
                    if retry && matches!(RequestFailure::of_io(&e), RequestFailure::Io(_)) {
                        continue;
                    }
                    return Err(failed((RequestFailure::of_io(&e), e.to_string())));
                }
            };
            // HEAD's answer has no body whatever its fields say.
            let framing = if call.method == "HEAD" {
                Framing::Empty
            } else {
                Framing::of(&head).map_err(|e| failed((RequestFailure::Protocol, e.to_string())))?
            };
            let reusable = poolable && head.keeps_alive(framing);
            return Ok(Answer {
                head,
                url: url.to_string(),
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
}

/// Writes `body`'s bytes from its file to `out` (over `socket`), a piece
/// at a time; returns whether the connection may serve another request
/// (see [`Pace::ended`]).
fn send_body(
    out: &mut impl Write,
    body: FileBody<'_>,
    socket: Option<&std::net::TcpStream>,
) -> io::Result<bool> {
    let sent = write_body(out, body, socket);
    let poolable = body.pace.is_none_or(|pace| pace.ended());
    sent.map(|()| poolable)
}

fn write_body(
    out: &mut impl Write,
    body: FileBody<'_>,
    socket: Option<&std::net::TcpStream>,
) -> io::Result<()> {
    let mut buf = vec![0u8; PIECE.min(body.len.max(1) as usize)];
    let mut at = body.offset;
    let end = body.offset + body.len;
    while at < end {
        let piece = body.pace.map_or(buf.len(), |pace| pace.piece(buf.len()));
        let want = piece.clamp(1, buf.len()).min((end - at) as usize);
        let n = body.file.read_at(&mut buf[..want], at)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the local file ended at byte {at}, before byte {end}"),
            ));
        }
        out.write_all(&buf[..n])?;
        at += n as u64;
        if let Some(pace) = body.pace {
            pace.sent(n as u64, socket);
        }
    }
    Ok(())
}

/// Reads the interim answers into `interim` (all but `100 Continue`, up
/// to [`MAX_INTERIM`] of them) and returns the final head.
fn read_heads(conn: &mut connect::Conn, interim: &mut Vec<Head>) -> io::Result<Head> {
    for _ in 0..MAX_INTERIM {
        let head = wire::read_head(&mut conn.io)?;
        match head.status {
            101 => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the server switched protocols (101) unasked",
                ))
            }
            100 => {}
            102..=199 => interim.push(head),
            _ => return Ok(head),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        format!("the server sent more than {MAX_INTERIM} interim (1xx) answers"),
    ))
}
