//! HTTP/1.1 on the wire (RFC 9112), as much as a downloading client needs:
//! a GET's request head, a response's head, and the three ways a body ends
//! (a `Content-Length`, chunks, or the connection's close). Pure over
//! `Read`/`Write`, so every rule is tested without a socket.
//!
//! Strict where leniency could mix bytes up: conflicting `Content-Length`s,
//! folded header lines, a control character in the head, a bad chunk size
//! or a head over 64 KiB are `InvalidData` errors, never guesses. Numbers
//! are digits only (no sign, no spaces).
//!
//! The head parser accepts exactly what `httparse` (hyper's parser)
//! accepts, but for the deliberate differences its property tests list
//! (`wire/props.rs`: a status below 100, more than 4 empty lines before the
//! status line, a head over 64 KiB, a field value with non-ASCII bytes is
//! left out...); the body decoder gives the same bytes however the input
//! is split into reads.

use std::io::{self, BufRead, Read};

/// The largest response head read (status line and header fields).
pub(crate) const MAX_HEAD: usize = 64 * 1024;
/// The most header fields a response may have.
const MAX_FIELDS: usize = 256;
/// The longest chunk-size line (with extensions) or trailer line.
const MAX_CHUNK_LINE: usize = 4096;
/// The most trailer lines after a chunked body.
const MAX_TRAILERS: usize = 64;
/// The longest reason phrase kept.
const MAX_REASON: usize = 200;

/// A response's header fields in the order received, names lower case.
/// Fields whose value is not visible ASCII text are left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Headers(Vec<(String, String)>);

impl Headers {
    /// Adds a field (the name is lower-cased).
    pub(crate) fn push(&mut self, name: &str, value: &str) {
        self.0.push((name.to_ascii_lowercase(), value.to_string()));
    }

    /// The first value of `name` (lower case).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name` (lower case), in order.
    pub(crate) fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// True when a comma-separated field `name` lists `token` (case-insensitive).
    pub(crate) fn has_token(&self, name: &str, token: &str) -> bool {
        self.get_all(name)
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// The fields as text: one `name: value\r\n` line each, in order.
    pub(crate) fn text(&self) -> String {
        self.0
            .iter()
            .map(|(n, v)| format!("{n}: {v}\r\n"))
            .collect()
    }
}

/// A response's status line and header fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Head {
    /// The status code.
    pub status: u16,
    /// The reason phrase (may be empty).
    pub reason: String,
    /// HTTP/1.1 (true) or HTTP/1.0.
    pub http11: bool,
    /// The header fields.
    pub headers: Headers,
}

/// The value of an `Authorization` or `Proxy-Authorization` header with
/// these Basic credentials.
pub(crate) fn basic_credentials(user: &str, password: &str) -> String {
    use base64::Engine as _;
    let pair = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

impl Head {
    /// True when the connection can carry another request once a body of
    /// `framing` has been read: HTTP/1.1, no `Connection: close`, a body
    /// with an end of its own, and not both `Transfer-Encoding` and
    /// `Content-Length` (a smuggling attempt, RFC 9112 §6.3).
    pub(crate) fn keeps_alive(&self, framing: Framing) -> bool {
        self.http11
            && !self.headers.has_token("connection", "close")
            && !(self.headers.get("transfer-encoding").is_some()
                && self.headers.get("content-length").is_some())
            && framing != Framing::UntilClose
    }
}

fn invalid(why: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.into())
}

/// A number as HTTP writes it (`1*DIGIT`): digits only, no sign, no
/// space; `None` for anything else or past `u64::MAX`.
pub(crate) fn decimal(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// True when `line` holds a control character other than a tab (a stray
/// CR among them): RFC 9110 §5.5 lets a recipient refuse them, and
/// `httparse` does.
fn has_control(line: &str) -> bool {
    line.bytes().any(|b| b.is_ascii_control() && b != b'\t')
}

/// The size of a chunk-size line (RFC 9112 §7.1): 1 to 16 hex digits,
/// then optional spaces or tabs and extensions after `;` (ignored); no
/// control characters. `None` for anything else.
fn chunk_size(line: &str) -> Option<u64> {
    let digits = line.bytes().take_while(u8::is_ascii_hexdigit).count();
    let after = line[digits..].trim_start_matches([' ', '\t']);
    if !(1..=16).contains(&digits)
        || !(after.is_empty() || after.starts_with(';'))
        || has_control(line)
    {
        return None;
    }
    u64::from_str_radix(&line[..digits], 16).ok()
}

/// Reads one line ending in LF (CRLF or a bare LF) of at most `limit`
/// bytes, without the line end. `Ok(None)` at a clean end of input.
fn read_line(r: &mut impl BufRead, limit: usize, what: &str) -> io::Result<Option<String>> {
    let mut line = Vec::new();
    let n = r.take(limit as u64 + 1).read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(if n > limit {
            invalid(format!("the {what} is longer than {limit} bytes"))
        } else {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the connection closed within the {what}"),
            )
        });
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line)
        .map(Some)
        .or_else(|e| Ok(Some(String::from_utf8_lossy(e.as_bytes()).into_owned())))
}

/// Reads a response head: up to 4 empty lines, `HTTP/1.1` or `HTTP/1.0`,
/// a status from 100 to 999 and a reason, then at most 256 fields
/// (`token: value`), at most 64 KiB in all, lines ending in CRLF or LF.
/// A control character (a stray CR, a NUL...) anywhere but a tab, a
/// folded line or a space before a colon is an `InvalidData` error; a
/// field whose value has non-ASCII bytes is left out (an error for
/// `Content-Length` and `Transfer-Encoding`). An input that ends before
/// its first byte is an `UnexpectedEof` error saying so (a kept-alive
/// connection the server closed). It reads no byte past the head.
pub(crate) fn read_head(r: &mut impl BufRead) -> io::Result<Head> {
    let mut budget = MAX_HEAD;
    let mut next_line = |what: &str| -> io::Result<String> {
        let line = read_line(r, budget, "response head")?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the server closed the connection before {what}"),
            )
        })?;
        budget = budget.saturating_sub(line.len() + 2);
        Ok(line)
    };
    // A client may skip empty lines before the status line (RFC 9112 §2.2).
    let mut status_line = next_line("answering")?;
    for _ in 0..4 {
        if !status_line.is_empty() {
            break;
        }
        status_line = next_line("answering")?;
    }
    if has_control(&status_line) {
        return Err(invalid("the status line holds a control character"));
    }
    let (version, rest) = status_line
        .split_once(' ')
        .ok_or_else(|| invalid(format!("'{status_line}' is not an HTTP status line")))?;
    let http11 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => {
            return Err(invalid(format!(
                "'{status_line}' is not an HTTP/1.x status line"
            )))
        }
    };
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    let status = decimal(code)
        .filter(|s| (100..=999).contains(s) && code.len() == 3)
        .map(|s| s as u16)
        .ok_or_else(|| invalid(format!("'{status_line}' has no valid status code")))?;
    let mut headers = Headers::default();
    let mut fields = 0;
    loop {
        let line = next_line("the end of its header")?;
        if line.is_empty() {
            break;
        }
        fields += 1;
        if fields > MAX_FIELDS {
            return Err(invalid(format!(
                "the response has more than {MAX_FIELDS} header fields"
            )));
        }
        if line.starts_with([' ', '\t']) {
            return Err(invalid(
                "the response folds a header line (obsolete line folding)",
            ));
        }
        if has_control(&line) {
            return Err(invalid("a header line holds a control character"));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("'{line}' is not a header field")))?;
        let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if name.is_empty() || !name.chars().all(token) {
            return Err(invalid(format!("'{name}' is not a header field name")));
        }
        let value = value.trim_matches([' ', '\t']);
        if value
            .bytes()
            .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
        {
            headers.push(name, value);
        } else if ["content-length", "transfer-encoding"]
            .contains(&name.to_ascii_lowercase().as_str())
        {
            // Left out, the body's end would be guessed.
            return Err(invalid(format!("the {name} field is not text")));
        }
    }
    // The reason goes into error descriptions: one short line of text
    // (no C1 control either).
    let reason: String = reason
        .chars()
        .filter(|&c| !c.is_control() || c == '\t')
        .take(MAX_REASON)
        .collect();
    Ok(Head {
        status,
        reason,
        http11,
        headers,
    })
}

/// How a response's body ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body (1xx, 204, 304).
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the server closes the connection: over TLS with close_notify
    /// (a TCP FIN alone is a read error, a possible truncation).
    UntilClose,
}

impl Framing {
    /// The body's length, when the framing announces it.
    pub(crate) fn length(self) -> Option<u64> {
        match self {
            Framing::Empty => Some(0),
            Framing::Length(n) => Some(n),
            Framing::Chunked | Framing::UntilClose => None,
        }
    }

    /// The framing `head` announces for the answer to a GET.
    pub(crate) fn of(head: &Head) -> io::Result<Framing> {
        if matches!(head.status, 100..=199 | 204 | 304) {
            return Ok(Framing::Empty);
        }
        if head.headers.get("transfer-encoding").is_some() {
            // Only chunked: qmgr decodes no compression, and the bytes on
            // disk must be the file's (a Content-Length beside it is
            // ignored, RFC 9112 §6.3).
            let codings: Vec<&str> = head
                .headers
                .get_all("transfer-encoding")
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("identity"))
                .collect();
            return match codings.as_slice() {
                [] => Ok(Framing::UntilClose),
                [c] if c.eq_ignore_ascii_case("chunked") => Ok(Framing::Chunked),
                _ => Err(invalid(format!(
                    "the response is sent with Transfer-Encoding '{}', which qmgr does not decode",
                    codings.join(", ")
                ))),
            };
        }
        let mut length = None;
        for value in head
            .headers
            .get_all("content-length")
            .flat_map(|v| v.split(','))
        {
            let value = value.trim();
            let n = decimal(value)
                .ok_or_else(|| invalid(format!("'{value}' is not a Content-Length")))?;
            if length.is_some_and(|l| l != n) {
                return Err(invalid(
                    "the response has conflicting Content-Length fields",
                ));
            }
            length = Some(n);
        }
        Ok(length.map_or(Framing::UntilClose, Framing::Length))
    }
}

/// A response read to the end of its body by [`read_head`], [`Framing::of`]
/// and [`BodyDecoder`] (for the property tests and the fuzz targets).
#[cfg(any(test, feature = "fuzzing"))]
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Exchange {
    pub head: Head,
    pub framing: Framing,
    pub body: Vec<u8>,
    /// What follows the body (the next response on a kept-alive connection).
    pub rest: Vec<u8>,
}

/// Reads a response from `input` as a connection does, `buf` bytes of the
/// body at a time, then the rest of the input; an error as its kind and text.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn read_response(
    input: &mut impl BufRead,
    buf: usize,
) -> Result<Exchange, (io::ErrorKind, String)> {
    let err = |e: io::Error| (e.kind(), e.to_string());
    let head = read_head(input).map_err(err)?;
    let framing = Framing::of(&head).map_err(err)?;
    let mut decoder = BodyDecoder::new(framing);
    let mut body = Vec::new();
    let mut buf = vec![0; buf.max(1)];
    loop {
        let n = decoder.read(input, &mut buf).map_err(err)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    assert!(decoder.done(), "a body read to its end is done");
    let mut rest = Vec::new();
    input.read_to_end(&mut rest).map_err(err)?;
    Ok(Exchange {
        head,
        framing,
        body,
        rest,
    })
}

/// Where a body reader stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// This many bytes of a `Content-Length` body, or of the current chunk, are left.
    Remaining(u64),
    /// Before a chunk-size line.
    ChunkSize,
    /// After a chunk's data, before its CRLF.
    ChunkEnd,
    /// Until the input ends.
    UntilClose,
    /// The body has ended.
    Done,
}

/// Reads a body of a given framing from a buffered input; `done` tells
/// when its last byte has been read (and the input may carry the next response).
pub(crate) struct BodyDecoder {
    state: State,
    chunked: bool,
}

impl BodyDecoder {
    /// A decoder for a body of `framing`.
    pub(crate) fn new(framing: Framing) -> BodyDecoder {
        let state = match framing {
            Framing::Empty | Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Remaining(n),
            Framing::Chunked => State::ChunkSize,
            Framing::UntilClose => State::UntilClose,
        };
        BodyDecoder {
            state,
            chunked: framing == Framing::Chunked,
        }
    }

    /// True once the whole body has been read.
    pub(crate) fn done(&self) -> bool {
        self.state == State::Done
    }

    /// Reads body bytes into `buf` from `input`; 0 at the body's end. An
    /// input that ends early is an `UnexpectedEof` error.
    pub(crate) fn read(&mut self, input: &mut impl BufRead, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.state {
                State::Done => return Ok(0),
                State::UntilClose => {
                    // Only a clean end of the input ends such a body: over
                    // TLS, a close_notify. A TLS stream that just stops (a
                    // FIN without close_notify: rustls's `UnexpectedEof`)
                    // may be an attacker's truncation, so it stays an error
                    // (curl accepts it only where a length framed the body).
                    let n = input.read(buf).map_err(|e| {
                        if e.kind() == io::ErrorKind::UnexpectedEof {
                            io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "the TLS connection ended without close_notify before the end of a body that only the close delimits: it may be cut short",
                            )
                        } else {
                            e
                        }
                    })?;
                    if n == 0 {
                        self.state = State::Done;
                    }
                    return Ok(n);
                }
                State::Remaining(left) => {
                    if buf.is_empty() {
                        return Ok(0);
                    }
                    let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    let n = input.read(&mut buf[..want])?;
                    if n == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!("the server closed the connection with {left} bytes of the body still to come"),
                        ));
                    }
                    let left = left - n as u64;
                    self.state = match (left, self.chunked) {
                        (0, true) => State::ChunkEnd,
                        (0, false) => State::Done,
                        (left, _) => State::Remaining(left),
                    };
                    return Ok(n);
                }
                State::ChunkSize => {
                    let line = self.chunk_line(input, "chunk size line")?;
                    let n = chunk_size(&line)
                        .ok_or_else(|| invalid(format!("'{line}' is not a chunk size")))?;
                    if n == 0 {
                        // The last chunk; then trailer fields up to an empty line.
                        let mut trailers = 0;
                        while !self.chunk_line(input, "trailer")?.is_empty() {
                            trailers += 1;
                            if trailers > MAX_TRAILERS {
                                return Err(invalid(format!(
                                    "the body has more than {MAX_TRAILERS} trailer fields"
                                )));
                            }
                        }
                        self.state = State::Done;
                    } else {
                        self.state = State::Remaining(n);
                    }
                }
                State::ChunkEnd => {
                    let line = self.chunk_line(input, "chunk end")?;
                    if !line.is_empty() {
                        return Err(invalid("a chunk is longer than its size"));
                    }
                    self.state = State::ChunkSize;
                }
            }
        }
    }

    fn chunk_line(&self, input: &mut impl BufRead, what: &str) -> io::Result<String> {
        read_line(input, MAX_CHUNK_LINE, what)?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the server closed the connection before the {what}"),
            )
        })
    }
}

#[cfg(test)]
mod props;

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> io::Result<Head> {
        read_head(&mut io::BufReader::new(text.as_bytes()))
    }

    fn body(framing: Framing, wire: &[u8]) -> io::Result<(Vec<u8>, bool)> {
        let mut input = io::BufReader::with_capacity(7, wire);
        let mut decoder = BodyDecoder::new(framing);
        let mut out = Vec::new();
        let mut buf = [0u8; 5];
        loop {
            let n = decoder.read(&mut input, &mut buf)?;
            if n == 0 {
                return Ok((out, decoder.done()));
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    #[test]
    fn a_head_is_parsed_with_lower_case_names_in_order() {
        let h =
            head("HTTP/1.1 206 Partial Content\r\nETag: \"v1\"\r\nX-A: 1\r\nx-a:  2 \r\n\r\nbody")
                .unwrap();
        assert_eq!(
            (h.status, h.reason.as_str(), h.http11),
            (206, "Partial Content", true)
        );
        assert_eq!(h.headers.get("etag"), Some("\"v1\""));
        assert_eq!(h.headers.get_all("x-a").collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(h.headers.text(), "etag: \"v1\"\r\nx-a: 1\r\nx-a: 2\r\n");
        let h = head("HTTP/1.0 200\nA: b\n\n").unwrap();
        assert_eq!((h.status, h.reason.as_str(), h.http11), (200, "", false));
        assert!(head("HTTP/1.1 200 OK\r\nbad: caf\u{e9}\r\n\r\n")
            .unwrap()
            .headers
            .get("bad")
            .is_none());
    }

    #[test]
    fn malformed_or_huge_heads_are_refused() {
        for bad in [
            "ICY 200 OK\r\n\r\n",
            "HTTP/1.1 2000 OK\r\n\r\n",
            "HTTP/1.1 abc\r\n\r\n",
            "HTTP/2 200\r\n\r\n",
            "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            "HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n",
            "HTTP/1.1 200 OK\r\nbad name: x\r\n\r\n",
        ] {
            assert_eq!(
                head(bad).unwrap_err().kind(),
                io::ErrorKind::InvalidData,
                "{bad:?}"
            );
        }
        let huge = format!("HTTP/1.1 200 OK\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        assert_eq!(head(&huge).unwrap_err().kind(), io::ErrorKind::InvalidData);
        let many = format!(
            "HTTP/1.1 200 OK\r\n{}\r\n",
            "A: b\r\n".repeat(MAX_FIELDS + 1)
        );
        assert_eq!(head(&many).unwrap_err().kind(), io::ErrorKind::InvalidData);
        assert_eq!(head("").unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(
            head("HTTP/1.1 200 OK\r\nA: b").unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
    }

    #[test]
    fn a_connection_is_kept_alive_only_when_the_answer_allows_it() {
        let keeps = |text: &str| {
            let h = head(text).unwrap();
            h.keeps_alive(Framing::of(&h).unwrap())
        };
        assert!(keeps("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"));
        assert!(keeps(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        ));
        assert!(!keeps("HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n"));
        assert!(!keeps(
            "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\n"
        ));
        assert!(!keeps("HTTP/1.1 200 OK\r\n\r\n"));
        assert!(!keeps(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
        ));
        assert_eq!(Framing::Length(7).length(), Some(7));
        assert_eq!(Framing::Empty.length(), Some(0));
        assert_eq!(Framing::Chunked.length(), None);
    }

    #[test]
    fn framing_follows_rfc_9112() {
        let f = |text: &str| Framing::of(&head(text).unwrap());
        assert_eq!(
            f("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n").unwrap(),
            Framing::Length(12)
        );
        assert_eq!(
            f("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n").unwrap(),
            Framing::Length(5)
        );
        assert!(f("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n").is_err());
        assert!(f("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n").is_err());
        assert!(f("HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n").is_err());
        assert_eq!(
            f("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n")
                .unwrap(),
            Framing::Chunked
        );
        assert!(f("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n").is_err());
        assert!(f("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n").is_err());
        assert_eq!(
            f("HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n").unwrap(),
            Framing::UntilClose
        );
        assert_eq!(f("HTTP/1.1 200 OK\r\n\r\n").unwrap(), Framing::UntilClose);
        assert_eq!(
            f("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n").unwrap(),
            Framing::Empty
        );
    }

    /// A TLS stream that yields its bytes, then ends as rustls reports a
    /// close without close_notify.
    struct TlsCut(Option<Vec<u8>>);

    impl io::Read for TlsCut {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.0.take() {
                Some(bytes) => {
                    buf[..bytes.len()].copy_from_slice(&bytes);
                    Ok(bytes.len())
                }
                None => Err(io::ErrorKind::UnexpectedEof.into()),
            }
        }
    }

    #[test]
    fn bodies_end_where_their_framing_says() {
        assert_eq!(
            body(Framing::Length(11), b"hello worldEXTRA").unwrap(),
            (b"hello world".to_vec(), true)
        );
        assert_eq!(
            body(Framing::Length(11), b"hello").unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
        let chunked = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\nNEXT";
        assert_eq!(
            body(Framing::Chunked, chunked).unwrap(),
            (b"hello world".to_vec(), true)
        );
        assert_eq!(
            body(Framing::UntilClose, b"all of it").unwrap(),
            (b"all of it".to_vec(), true)
        );
        // TLS that stops without close_notify (rustls: UnexpectedEof) does
        // not end a close-delimited body: the bytes may be cut short.
        let mut truncated = io::BufReader::new(TlsCut(Some(b"half of".to_vec())));
        let mut decoder = BodyDecoder::new(Framing::UntilClose);
        let mut buf = [0u8; 64];
        assert_eq!(decoder.read(&mut truncated, &mut buf).unwrap(), 7);
        let err = decoder.read(&mut truncated, &mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(err.to_string().contains("close_notify"), "{err}");
        assert!(!decoder.done());
        assert_eq!(
            body(Framing::Empty, b"ignored").unwrap(),
            (Vec::new(), true)
        );
        for bad in [
            &b"zz\r\nhello\r\n0\r\n\r\n"[..],
            b"3\r\nhello\r\n0\r\n\r\n",
            b"-1\r\n",
        ] {
            assert_eq!(
                body(Framing::Chunked, bad).unwrap_err().kind(),
                io::ErrorKind::InvalidData,
                "{bad:?}"
            );
        }
        assert_eq!(
            body(Framing::Chunked, b"5\r\nhel").unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
    }
    #[test]
    fn a_control_character_in_a_head_is_refused() {
        // RFC 9110 §5.5 lets a client refuse them, httparse does: a stray
        // CR or a NUL is a sign of smuggling, not text to drop or keep.
        for bad in [
            "HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX: v\r\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX: \x7f\r\n\r\n",
            "HTTP/1.1 200 O\x01K\r\n\r\n",
            "HTTP/1.1 200 OK\r\r\n\r\n",
        ] {
            let err = head(bad).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{bad:?}");
            assert!(err.to_string().contains("control character"), "{err}");
        }
        // A tab is text.
        let h = head("HTTP/1.1 200 O\tK\r\nX: a\tb\r\n\r\n").unwrap();
        assert_eq!(
            (h.reason.as_str(), h.headers.get("x")),
            ("O\tK", Some("a\tb"))
        );
    }

    #[test]
    fn chunk_sizes_are_hex_digits_then_extensions() {
        for (line, size) in [
            ("5", 5),
            ("0005", 5),
            ("5 ", 5),
            ("5\t; a=\"b c\"", 5),
            ("5;x", 5),
            ("aB", 0xab),
            ("ffffffffffffffff", u64::MAX),
        ] {
            assert_eq!(chunk_size(line), Some(size), "{line:?}");
        }
        for bad in [
            " 5",
            "\t5",
            "5\r",
            "5;x\r",
            "5;\x00",
            "5 6",
            "+5",
            "0x5",
            "",
            ";x",
            "00000000000000005",
            "10000000000000000",
        ] {
            assert_eq!(chunk_size(bad), None, "{bad:?}");
            let wire = format!("{bad}\r\nhello\r\n0\r\n\r\n");
            assert_eq!(
                body(Framing::Chunked, wire.as_bytes()).unwrap_err().kind(),
                io::ErrorKind::InvalidData,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn numbers_are_digits_only() {
        assert_eq!(decimal("0"), Some(0));
        assert_eq!(decimal("0042"), Some(42));
        assert_eq!(decimal("18446744073709551615"), Some(u64::MAX));
        for bad in [
            "",
            "+1",
            "-1",
            " 1",
            "1 ",
            "1_000",
            "0x1",
            "18446744073709551616",
        ] {
            assert_eq!(decimal(bad), None, "{bad:?}");
        }
        assert!(head("HTTP/1.1 +20 OK\r\n\r\n").is_err());
    }
}
