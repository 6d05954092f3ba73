//! Resumable uploads (issue 25, stage 1): a local file sent to a server
//! in pieces, over one of two open protocols, so that a cut costs only
//! what the server had not yet confirmed.
//!
//! - `tus`: tus 1.0.0 (core, creation, termination, checksum with
//!   SHA-256, expiration), the default;
//! - `rufh`: the IETF draft "Resumable Uploads for HTTP",
//!   draft-ietf-httpbis-resumable-upload-12 with
//!   `Upload-Draft-Interop-Version: 8`, experimental until it is an RFC.
//!
//! Like the rest of `transport`, this knows no job. Each call of
//! [`upload`] is one attempt: it takes the caller's intent ([`Intent`]:
//! the URL, the job's HTTP options, the local file) and the state the
//! previous attempt left ([`UploadState`], small and plain so the store
//! can keep it in a row), and either finishes or fails with a classified
//! [`TransferError`] after updating the state. The rules every attempt
//! follows:
//!
//! - **Resume is asked, never assumed.** An attempt that starts with an
//!   upload URL asks the server for its offset (HEAD) before it sends a
//!   byte, and sends from there; an upload the server lost (404, 410)
//!   starts again with a new creation; a conflict (409) asks again; a
//!   checksum failure (tus 460) sends that piece again.
//! - **Progress is what the server confirmed**: the offset of its last
//!   answer, never the bytes written to a socket.
//! - **The upload URL is a discovery** (DESIGN §7.1): the `Location` of a
//!   creation. Every request to it carries the caller's credentials and
//!   headers, so it must be of the caller's origin (scheme, host, port),
//!   or the upload is refused: a server, or anyone who can answer in its
//!   name, could otherwise send the credentials and the file anywhere.
//! - **The local file is the version the job started with**: its size and
//!   mtime are checked before the first request and around every piece;
//!   any change stops the upload with `BG_E_LOCAL_FILE_CHANGED`, as BITS
//!   does.
//! - **Bounded**: pieces of at most [`MAX_CHUNK`] bytes, streamed from the
//!   file (never the whole file in memory); unless the caller names a
//!   size, the first of [`DEFAULT_CHUNK`] and each next one sized to take
//!   about [`PIECE_TIME`] at the rate the last one went at (the rest in
//!   one when it is at most two such pieces), so that the
//!   round trip ending each piece costs a few percent at any bandwidth
//!   and latency (16 MiB pieces cost a 50 ms round trip every 0.1 s on a
//!   fast link: half the throughput), and a cut of a server that keeps
//!   no partial piece costs about that long of sending; at most
//!   [`MAX_UNPRODUCTIVE`] requests in a row that confirm no new byte; a
//!   reply body of at most the caller's limit.

pub(crate) mod rufh;
pub(crate) mod tus;

use std::fs::File;
use std::io::Write;
use std::path::Path;

use crate::engine::transport::cancel::CancelToken;
use crate::engine::transport::error::TransferError;
use crate::engine::transport::file;
use crate::engine::transport::http::exchange::Answer;
pub(crate) use crate::engine::transport::http::exchange::Pace;
use crate::engine::transport::http::{Client, Headers, RequestPolicy};
use crate::engine::transport::options::HttpOptions;
use crate::engine::transport::source::origin;
use crate::engine::transport::url;
use crate::engine::types::ErrorContext;
use crate::hresult::*;

pub(crate) use super::upload_state::{mtime_ns, version_of, Protocol, UploadState};

/// The smallest piece a request carries (but the file's last).
pub(crate) const MIN_CHUNK: u64 = 64 * 1024;
/// The largest piece a request carries.
pub(crate) const MAX_CHUNK: u64 = 256 * 1024 * 1024;
/// The first piece's size when the caller names none: large enough that a
/// request's round trip is small beside it, small enough that a cut costs
/// little (a server confirms bytes per request). The pieces after it are
/// sized by the rate the last one went at (see [`PIECE_TIME`]).
pub(crate) const DEFAULT_CHUNK: u64 = 16 * 1024 * 1024;
/// How long a piece should take when the caller names no piece size:
/// each piece ends with a round trip (the server's answer) in which no
/// byte is sent, so a piece sized to take this long at the rate the last
/// one went at costs that round trip once per this long, at any
/// bandwidth (50 ms in 2 s: 2.5%), and the server confirms progress about
/// this often.
pub(crate) const PIECE_TIME: std::time::Duration = std::time::Duration::from_secs(2);
/// The most a piece grows from one to the next (the first piece's rate
/// counts a round trip and a server's start, so it is low on a fast
/// link; a fast moment is not taken as the rate for good).
const MAX_GROWTH: u64 = 16;
/// Requests in a row that may confirm no new byte (a conflict, a checksum
/// failure, a lost upload) before the attempt gives up.
pub(crate) const MAX_UNPRODUCTIVE: u32 = 8;

/// What the caller asked for: set only by the caller's calls.
pub(crate) struct Intent<'a> {
    /// Where the upload is created (the remote name): its origin is the
    /// scope of the credentials and headers, and of every upload URL.
    pub url: &'a str,
    pub options: &'a HttpOptions,
    /// The local file.
    pub path: &'a Path,
    /// Bytes per request (clamped to [`MIN_CHUNK`]..=[`MAX_CHUNK`]; 0:
    /// [`DEFAULT_CHUNK`]).
    pub chunk: u64,
    /// Told of every piece of a body sent (the job's bandwidth limits,
    /// yielding).
    pub pace: Option<&'a dyn Pace>,
}

/// Where the server's reply goes (upload-reply), and how much of it.
pub(crate) struct ReplySink<'a> {
    pub out: &'a mut dyn Write,
    /// Its longest accepted body; a longer one is `BG_E_TOO_LARGE`.
    pub limit: u64,
}

/// What a finished upload's last answer said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Finished {
    /// Its status.
    pub status: u16,
    /// The reply's length, when one was written to the sink.
    pub reply_len: Option<u64>,
}

/// Runs one attempt of the upload `intent` names from `state`, reporting
/// every newly confirmed offset to `progress`; `reply` takes the server's
/// reply (the draft's final response). tus has no reply: asking for one
/// is `E_INVALIDARG` before any request. Cancelling `token` closes the
/// connection at once.
pub(crate) fn upload(
    intent: &Intent<'_>,
    state: &mut UploadState,
    reply: Option<ReplySink<'_>>,
    token: &CancelToken,
    progress: &mut dyn FnMut(&UploadState),
) -> Result<Finished, TransferError> {
    if state.protocol == Protocol::Tus && reply.is_some() {
        return Err(TransferError::fatal(
            HResult(QM_E_INVALIDARG),
            ErrorContext::GeneralQueueManager,
            "tus 1.0 has no reply to an upload: an upload-reply needs the resumable-upload draft"
                .into(),
        ));
    }
    let client = Client::new(intent.options.clone(), 1, token)?;
    let mut run = Run {
        intent,
        client,
        policy: RequestPolicy::new(intent.url, intent.options),
        file: open_local(intent.path)?,
        token,
        unproductive: 0,
        best: state.confirmed,
        rewinds: 0,
        short: 0,
        piece: DEFAULT_CHUNK,
        measured: false,
    };
    run.check_local(state)?;
    match state.protocol {
        Protocol::Tus => tus::run(&mut run, state, progress),
        Protocol::Rufh => rufh::run(&mut run, state, reply, progress),
    }
}

/// Ends the upload on the server (tus termination, the draft's
/// cancellation: `DELETE` of the upload URL), for a cancelled job. A
/// server that no longer has it is fine.
pub(crate) fn terminate(
    url: &str,
    options: &HttpOptions,
    state: &UploadState,
    token: &CancelToken,
) -> Result<(), TransferError> {
    let Some(upload_url) = &state.upload_url else {
        return Ok(());
    };
    let client = Client::new(options.clone(), 1, token)?;
    let policy = RequestPolicy::new(url, options);
    check_same_origin(&policy, upload_url)?;
    let fields = match state.protocol {
        Protocol::Tus => tus::base_fields(),
        Protocol::Rufh => rufh::base_fields(),
    };
    let call = crate::engine::transport::http::exchange::Call {
        method: "DELETE",
        url: upload_url,
        fields,
        body: None,
    };
    let answer = client.exchange(&policy, &call, &mut Vec::new())?;
    match answer.head.status {
        200..=299 | 404 | 410 => Ok(()),
        _ => Err(status_error("DELETE", &answer)),
    }
}

/// One attempt's working set.
pub(crate) struct Run<'a> {
    intent: &'a Intent<'a>,
    client: Client,
    policy: RequestPolicy,
    file: File,
    token: &'a CancelToken,
    unproductive: u32,
    /// The highest offset the server confirmed in this attempt (or the
    /// one it started from): only an offset above it is progress.
    best: u64,
    /// Times the server's offset went below `best`.
    rewinds: u32,
    /// Pieces in a row the server confirmed only a part of.
    short: u32,
    /// The next piece's size when the caller names none.
    piece: u64,
    /// Whether `piece` follows a measured rate (not the first piece's).
    measured: bool,
}

impl Run<'_> {
    /// The piece size: the caller's, or one sized by the last piece's
    /// rate (and then the whole rest when it is at most two such pieces:
    /// no short last piece with a round trip of its own); within the
    /// bounds and the server's limit.
    fn chunk(&self, state: &UploadState) -> u64 {
        let chunk = match self.intent.chunk {
            0 => {
                let rest = state.file_size.saturating_sub(state.confirmed);
                if self.measured && rest <= self.piece.saturating_mul(2) {
                    rest.clamp(MIN_CHUNK, MAX_CHUNK)
                } else {
                    self.piece
                }
            }
            n => n.clamp(MIN_CHUNK, MAX_CHUNK),
        };
        state.max_append.map_or(chunk, |m| chunk.min(m.max(1)))
    }

    /// Notes that a piece of `len` bytes was sent and confirmed in
    /// `took` (from its request's first byte to its answer): the next
    /// piece, when the caller names no size, is what that rate sends in
    /// [`PIECE_TIME`], at most [`MAX_GROWTH`] times this one.
    fn piece_took(&mut self, len: u64, took: std::time::Duration) {
        let next = next_piece(self.piece, len, took);
        self.measured |= next != self.piece || len >= self.piece / 2;
        self.piece = next;
    }

    /// Fails with `BG_E_LOCAL_FILE_CHANGED` when the local file is no
    /// longer the version the upload started with.
    fn check_local(&self, state: &UploadState) -> Result<(), TransferError> {
        let meta = self
            .file
            .metadata()
            .map_err(|e| TransferError::local_io("reading", self.intent.path, &e))?;
        let now = (meta.len(), mtime_ns(&meta));
        let path_now = version_of(self.intent.path)?;
        if now != (state.file_size, state.file_mtime_ns) || path_now != now {
            return Err(TransferError::fatal(
                HResult(QM_BG_E_LOCAL_FILE_CHANGED),
                ErrorContext::LocalFile,
                format!(
                    "'{}' changed during the upload (it had {} bytes; it has {} now, or another modification time)",
                    self.intent.path.display(),
                    state.file_size,
                    path_now.0
                ),
            ));
        }
        Ok(())
    }

    /// Counts a request that confirmed no new byte; fails once there were
    /// too many in a row.
    fn unproductive(&mut self, what: &str) -> Result<(), TransferError> {
        self.unproductive += 1;
        if self.unproductive > MAX_UNPRODUCTIVE {
            return Err(TransferError::transient(
                HResult(QM_BG_E_INVALID_SERVER_RESPONSE),
                ErrorContext::RemoteFile,
                format!(
                    "{}: {} requests in a row confirmed no new byte (the last: {what})",
                    url::shown(self.intent.url),
                    self.unproductive
                ),
            ));
        }
        Ok(())
    }

    /// Counts a piece the server confirmed only a part of (`short`), or
    /// ends the count (a whole piece confirmed). A server may take less
    /// than a piece now and then, but one that keeps confirming a byte of
    /// each would have the file sent again about once per byte: more
    /// than [`MAX_UNPRODUCTIVE`] short pieces in a row end the attempt.
    fn piece_confirmed(&mut self, short: bool, what: &str) -> Result<(), TransferError> {
        if !short {
            self.short = 0;
            return Ok(());
        }
        self.short += 1;
        if self.short > MAX_UNPRODUCTIVE {
            return Err(TransferError::transient(
                HResult(QM_BG_E_INVALID_SERVER_RESPONSE),
                ErrorContext::RemoteFile,
                format!(
                    "{}: the server confirmed only a part of {} pieces in a row (the last: {what})",
                    url::shown(self.intent.url),
                    self.short
                ),
            ));
        }
        Ok(())
    }

    /// Fails when the run was cancelled.
    fn check_cancel(&self) -> Result<(), TransferError> {
        if self.token.is_cancelled() {
            return Err(TransferError::transient(
                HResult(QM_E_ABORT),
                ErrorContext::GeneralTransport,
                "the upload was stopped".into(),
            ));
        }
        Ok(())
    }

    /// Records the server's newly confirmed `offset`. Only an offset above
    /// every one this attempt has seen is progress: a server whose offset
    /// goes back and forth (confirms a piece, then says it has less)
    /// would otherwise look productive forever. An offset below that
    /// mark (a server that lost confirmed bytes) is allowed
    /// [`MAX_UNPRODUCTIVE`] times per attempt.
    fn confirmed(
        &mut self,
        state: &mut UploadState,
        offset: u64,
        progress: &mut dyn FnMut(&UploadState),
    ) -> Result<(), TransferError> {
        if offset > self.best {
            self.best = offset;
            self.unproductive = 0;
        } else if offset < self.best {
            self.rewinds += 1;
            if self.rewinds > MAX_UNPRODUCTIVE {
                return Err(TransferError::transient(
                    HResult(QM_BG_E_INVALID_SERVER_RESPONSE),
                    ErrorContext::RemoteFile,
                    format!(
                        "{}: the server's offset went back {} times (to {offset}, after confirming {})",
                        url::shown(self.intent.url),
                        self.rewinds,
                        self.best
                    ),
                ));
            }
        }
        state.confirmed = offset;
        progress(state);
        Ok(())
    }
}

/// The piece after one of `len` bytes (of a planned `piece`) that took
/// `took`: what that rate sends in [`PIECE_TIME`], at most
/// [`MAX_GROWTH`] times the piece planned, within
/// [`MIN_CHUNK`]..=[`MAX_CHUNK`]. A short last piece says little of the
/// rate: the plan stays.
fn next_piece(piece: u64, len: u64, took: std::time::Duration) -> u64 {
    if len < piece / 2 {
        return piece;
    }
    let secs = took.as_secs_f64().max(1e-3);
    let at_rate = (len as f64 / secs * PIECE_TIME.as_secs_f64()) as u64;
    at_rate
        .min(piece.saturating_mul(MAX_GROWTH))
        .clamp(MIN_CHUNK, MAX_CHUNK)
}

/// The local file opened for reading, or the error BITS gives. It was a
/// regular file when it was added; anything else now (a FIFO put in its
/// place, which would hold the job in `open`) has changed.
fn open_local(path: &Path) -> Result<File, TransferError> {
    match file::open_regular(path) {
        Ok(Some((file, _))) => Ok(file),
        Ok(None) => Err(TransferError::fatal(
            HResult(QM_BG_E_LOCAL_FILE_CHANGED),
            ErrorContext::LocalFile,
            format!(
                "'{}' is no longer a regular file: an upload sends one file",
                path.display()
            ),
        )),
        Err(e) => Err(TransferError::local_io("opening", path, &e)),
    }
}

/// Resolves a `Location` a server sent against the URL that answered and
/// refuses it unless it is of the caller's origin (see the module
/// documentation: credentials follow it).
fn upload_url_of(
    policy: &RequestPolicy,
    answered: &str,
    location: &str,
) -> Result<String, TransferError> {
    let resolved = url::resolve(answered, location);
    check_same_origin(policy, &resolved)?;
    Ok(resolved)
}

fn check_same_origin(policy: &RequestPolicy, upload_url: &str) -> Result<(), TransferError> {
    if policy.trusted_origin.is_none() || origin(upload_url) != policy.trusted_origin {
        return Err(TransferError::fatal(
            HResult(QM_BG_E_INVALID_SERVER_RESPONSE),
            ErrorContext::RemoteFile,
            format!(
                "{}: the server named the upload URL {}, of another origin: refused, since the credentials and headers of the upload would go there",
                url::shown(&policy.url),
                url::shown(upload_url)
            ),
        ));
    }
    Ok(())
}

/// An error status of an upload request, classified as a download's.
fn status_error(method: &str, answer: &Answer) -> TransferError {
    let head = &answer.head;
    let retry = head
        .headers
        .get("retry-after")
        .and_then(|v| crate::engine::transport::http::wire::decimal(v.trim()))
        .map(std::time::Duration::from_secs);
    let mut err = crate::engine::transport::error::status_error(
        head.status,
        &head.reason,
        retry,
        &answer.url,
        0,
    );
    err.description = url::redact(&format!(
        "{method} {}: the server answered {} {}",
        answer.url, head.status, head.reason
    ))
    .trim_end()
    .to_string();
    err
}

/// The offset an offset retrieval (HEAD) answered: its `Upload-Offset`,
/// of an upload of the file's length (when it names one), not past it.
fn offset_of(state: &UploadState, url: &str, headers: &Headers) -> Result<u64, TransferError> {
    let Some(at) = headers.get("upload-offset").and_then(parse_offset) else {
        return Err(bad_answer(
            "HEAD",
            url,
            "no valid Upload-Offset in the answer",
        ));
    };
    if let Some(length) = headers.get("upload-length") {
        if parse_offset(length) != Some(state.file_size) {
            return Err(bad_answer(
                "HEAD",
                url,
                &format!(
                    "the upload has Upload-Length {length}, not the file's {} bytes",
                    state.file_size
                ),
            ));
        }
    }
    if at > state.file_size {
        return Err(bad_answer(
            "HEAD",
            url,
            &format!(
                "Upload-Offset {at} is past the file's {} bytes",
                state.file_size
            ),
        ));
    }
    Ok(at)
}

/// A server's answer qmgr cannot act on: fatal.
fn bad_answer(method: &str, answer_url: &str, why: &str) -> TransferError {
    TransferError::fatal(
        HResult(QM_BG_E_INVALID_SERVER_RESPONSE),
        ErrorContext::RemoteFile,
        format!("{method} {answer_url}: {why}"),
    )
}

/// An offset field's value: digits only (no sign, no spaces), as both
/// protocols define it (tus: a non-negative integer; the draft: a
/// non-negative sf-integer, at most 15 digits).
pub(crate) fn parse_offset(value: &str) -> Option<u64> {
    let value = value.trim_matches(|c| c == ' ' || c == '\t');
    if value.is_empty() || value.len() > 19 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// Header fields of `pairs`, for the protocols' unit tests.
#[cfg(test)]
pub(crate) fn test_headers(pairs: &[(&str, &str)]) -> Headers {
    let mut h = Headers::default();
    for (n, v) in pairs {
        h.push(n, v);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_follow_the_rate_within_bounds() {
        use std::time::Duration;
        let mib = 1024 * 1024;
        // 1 MiB in 10 ms (100 MiB/s): 200 MiB in 2 s, but at most 16x.
        assert_eq!(next_piece(mib, mib, Duration::from_millis(10)), 16 * mib);
        // 16 MiB in 0.2 s (80 MiB/s): 160 MiB.
        assert_eq!(
            next_piece(16 * mib, 16 * mib, Duration::from_millis(200)),
            160 * mib
        );
        // and never past MAX_CHUNK.
        assert_eq!(
            next_piece(128 * mib, 128 * mib, Duration::from_millis(100)),
            MAX_CHUNK
        );
        // 16 MiB in 16 s (1 MiB/s): 2 MiB.
        assert_eq!(
            next_piece(16 * mib, 16 * mib, Duration::from_secs(16)),
            2 * mib
        );
        // A slow link: never below MIN_CHUNK.
        assert_eq!(
            next_piece(16 * mib, 16 * mib, Duration::from_secs(3600)),
            MIN_CHUNK
        );
        // A short last piece leaves the plan as it was.
        assert_eq!(
            next_piece(16 * mib, 1000, Duration::from_millis(1)),
            16 * mib
        );
    }

    #[test]
    fn offsets_are_digits_only() {
        assert_eq!(parse_offset("0"), Some(0));
        assert_eq!(parse_offset(" 4294967296 "), Some(1 << 32));
        for bad in ["", "-1", "+1", "1.0", "0x10", "1 2", "12345678901234567890"] {
            assert_eq!(parse_offset(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn an_upload_url_must_be_of_the_callers_origin() {
        let options = HttpOptions::default();
        let policy = RequestPolicy::new("https://up.example/files/", &options);
        assert_eq!(
            upload_url_of(&policy, "https://up.example/files/", "/files/abc").unwrap(),
            "https://up.example/files/abc"
        );
        assert_eq!(
            upload_url_of(&policy, "https://up.example/files/", "abc").unwrap(),
            "https://up.example/files/abc"
        );
        for elsewhere in [
            "https://evil.example/files/abc",
            "http://up.example/files/abc",
            "https://up.example:8443/files/abc",
            "//evil.example/x",
        ] {
            let err = upload_url_of(&policy, "https://up.example/files/", elsewhere).unwrap_err();
            assert_eq!(
                err.code,
                HResult(QM_BG_E_INVALID_SERVER_RESPONSE),
                "{elsewhere}"
            );
            assert!(!err.transient);
            assert!(
                err.description.contains("another origin"),
                "{}",
                err.description
            );
        }
    }

    #[test]
    fn protocols_have_stable_names() {
        for p in [Protocol::Tus, Protocol::Rufh] {
            assert_eq!(Protocol::from_name(p.name()), Some(p));
        }
        assert_eq!(Protocol::from_name("bits"), None);
    }
}
