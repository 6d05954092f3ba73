//! Property tests of the response parser, on generated and mutated
//! responses (a fixed seed: the same cases on every run):
//!
//! - the head parser agrees with `httparse` (hyper's parser: small, and
//!   fuzzed for years), used as the oracle, not as the parser: qmgr reads
//!   a head line by line from a `BufRead` without a second buffer, and
//!   `httparse` wants the whole head in one slice. Whenever one accepts a
//!   head, the other accepts it with the same status, version, reason and
//!   fields, ending at the same byte, but for the deliberate differences
//!   of `DELIBERATE` and `left_out`;
//! - a chunk-size line is read as `httparse::parse_chunk_size` reads it,
//!   but for `chunk_sizes_agree_with_httparse`'s listed differences;
//! - the body and the bytes after it are a reference decoder's (written
//!   here over the whole input, not streaming);
//! - splitting the input into reads of any sizes, at every point, behind
//!   buffers of any capacity, never changes the result (head, framing,
//!   body, rest, or the error's kind and text);
//! - nothing panics, and endless input is refused after a bounded read.

use super::*;
use crate::testing::Rng;
use std::io::BufReader;

/// Lists of what a generated response is made of: (well-formed,
/// malformed or unusual); `Gen::pick` takes from the second now and then.
type Parts = (&'static [&'static [u8]], &'static [&'static [u8]]);

const VERSIONS: Parts = (
    &[b"HTTP/1.1", b"HTTP/1.1", b"HTTP/1.0"],
    &[
        b"HTTP/1.2",
        b"HTTP/2",
        b"http/1.1",
        b"HTTP/1.",
        b"HTTP/1.1 ",
    ],
);
const CODES: Parts = (
    &[
        b"200", b"206", b"204", b"304", b"100", b"101", b"404", b"503", b"999",
    ],
    &[b"099", b"000", b"2000", b"20", b"abc", b"+20", b"2 0"],
);
const REASONS: Parts = (
    &[
        b"",
        b" ",
        b" OK",
        b" OK",
        b" Partial Content",
        b" O\tK",
        b"  OK",
    ],
    &[
        b" caf\xc3\xa9",
        b" caf\xe9",
        b" \x01",
        b" a\rb",
        b"\tOK",
        b" \x7f",
        b"\x00",
    ],
);
const NAMES: Parts = (
    &[
        b"ETag",
        b"X-A",
        b"Connection",
        b"!#$%&'*+-.^_`|~",
        b"content-length",
    ],
    &[
        b"Bad Name",
        b"",
        b"X\x80",
        b"Content-Length ",
        b" X",
        b"\tX",
        b"X\x00",
    ],
);
const SEPARATORS: Parts = (
    &[b":", b": ", b": ", b":\t", b":  \t "],
    &[b" :", b"", b"\t:"],
);
const LENGTHS: Parts = (
    &[
        b"5",
        b"0",
        b"12",
        b"5, 5",
        b"5 ",
        b"18446744073709551615",
        b"000",
    ],
    &[
        b"+5",
        b"-1",
        b"5,6",
        b"18446744073709551616",
        b"",
        b"0x5",
        b"5\x80",
        b",5",
    ],
);
const CODINGS: Parts = (
    &[
        b"chunked",
        b"Chunked",
        b"identity",
        b"identity,chunked",
        b" chunked ",
    ],
    &[
        b"gzip",
        b"chunked, identity",
        b"gzip, chunked",
        b"chunked\x80",
        b"",
        b"chunked, chunked",
    ],
);
const VALUES: Parts = (
    &[
        b"x",
        b"a b",
        b"\"v1\"",
        b"close",
        b"keep-alive",
        b"\t x \t",
        b"",
        b"caf\xc3\xa9",
    ],
    &[
        b"caf\xe9", b"\x00", b"\x7f", b"v\r", b"a\rb", b"\x0b", b"a\nb",
    ],
);
const LINE_ENDS: Parts = (
    &[b"\r\n", b"\r\n", b"\n"],
    &[b"\r", b"\r\r\n", b"", b"\n\r"],
);
/// Bytes a mutation inserts or writes over another.
const NOISE: &[u8] = b"\r\n\t :;0aF\x00\x80\xff-+,";

/// A generator of responses: well-formed ones, with malformed parts at a
/// rate that varies from case to case.
struct Gen {
    rng: Rng,
    /// The chance (in percent) of each part to be a malformed one.
    bad: usize,
}

impl Gen {
    fn pick(&mut self, (good, bad): Parts) -> &'static [u8] {
        match self.rng.chance(self.bad) {
            true => self.rng.pick(bad),
            false => self.rng.pick(good),
        }
    }

    /// A response head, then a body for the framing it announces (or
    /// not), then maybe the next response's first bytes.
    fn response(&mut self) -> Vec<u8> {
        self.bad = *self.rng.pick(&[&0, &0, &2, &5, &20]);
        let mut r = Vec::new();
        for _ in 0..self.rng.below(8).saturating_sub(4) {
            r.extend_from_slice(self.pick(LINE_ENDS));
        }
        r.extend_from_slice(self.pick(VERSIONS));
        r.push(b' ');
        r.extend_from_slice(self.pick(CODES));
        r.extend_from_slice(self.pick(REASONS));
        r.extend_from_slice(self.pick(LINE_ENDS));
        let mut chunked = false;
        let mut length = None;
        for _ in 0..self.rng.below(7) {
            let (name, value): (&[u8], &[u8]) = match self.rng.below(10) {
                0..=2 => (b"Content-Length", self.pick(LENGTHS)),
                3 | 4 => (b"Transfer-Encoding", self.pick(CODINGS)),
                _ => (self.pick(NAMES), self.pick(VALUES)),
            };
            chunked |= value.starts_with(b"chunked");
            if let Ok(n) = std::str::from_utf8(value).unwrap_or("").parse::<usize>() {
                length = Some(n.min(100));
            }
            r.extend_from_slice(name);
            r.extend_from_slice(self.pick(SEPARATORS));
            r.extend_from_slice(value);
            r.extend_from_slice(self.pick(LINE_ENDS));
            if self.rng.chance(self.bad / 2) {
                r.extend_from_slice(b" folded");
                r.extend_from_slice(self.pick(LINE_ENDS));
            }
        }
        if !self.rng.chance(self.bad) {
            r.extend_from_slice(self.pick(LINE_ENDS));
        }
        if chunked && !self.rng.chance(self.bad) {
            self.chunked_body(&mut r);
        } else {
            let n = match length {
                Some(n) if !self.rng.chance(self.bad) => n,
                _ => self.rng.below(20),
            };
            r.extend((0..n).map(|i| b'a' + (i % 26) as u8));
        }
        if self.rng.chance(30) {
            r.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
        }
        mutate(&mut self.rng, r)
    }

    fn chunked_body(&mut self, r: &mut Vec<u8>) {
        const SIZES: Parts = (
            &[b"", b"000", b";ext=1", b" \t; a=\"b\"", b" ", b";"],
            &[b" x", b"\x00", b";\r", b"g"],
        );
        for _ in 0..self.rng.below(4) {
            let n = 1 + self.rng.below(12);
            match self.rng.chance(50) {
                true => r.extend_from_slice(format!("{n:x}").as_bytes()),
                false => r.extend_from_slice(format!("{n:X}").as_bytes()),
            }
            r.extend_from_slice(self.pick(SIZES));
            r.extend_from_slice(self.pick(LINE_ENDS));
            let data = n + usize::from(self.rng.chance(self.bad));
            r.extend((0..data).map(|i| b'A' + (i % 26) as u8));
            r.extend_from_slice(self.pick(LINE_ENDS));
        }
        if !self.rng.chance(self.bad) {
            r.push(b'0');
            r.extend_from_slice(self.pick(SIZES));
            r.extend_from_slice(self.pick(LINE_ENDS));
            for _ in 0..self.rng.below(3) {
                r.extend_from_slice(b"Trailer: x");
                r.extend_from_slice(self.pick(LINE_ENDS));
            }
            r.extend_from_slice(self.pick(LINE_ENDS));
        }
    }
}

/// `bytes` with, now and then, a few bytes inserted, removed or replaced.
fn mutate(rng: &mut Rng, mut bytes: Vec<u8>) -> Vec<u8> {
    if !rng.chance(25) {
        return bytes;
    }
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(bytes.len() + 1);
        let noise = NOISE[rng.below(NOISE.len())];
        match rng.below(3) {
            0 => bytes.insert(at, noise),
            1 if at < bytes.len() => {
                bytes.remove(at);
            }
            _ if at < bytes.len() => bytes[at] = noise,
            _ => bytes.push(noise),
        }
    }
    bytes
}

/// The cases of every property: generated responses and a few by hand.
fn cases(seed: u64, n: usize) -> Vec<Vec<u8>> {
    let mut gen = Gen {
        rng: Rng(seed),
        bad: 0,
    };
    let mut cases: Vec<Vec<u8>> = [
        &b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1"[..],
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x\r\nhello\r\n0\r\nT: 1\r\n\r\nnext",
        b"\r\n\nHTTP/1.0 206 Partial\nContent-Length: 0\n\n",
        b"HTTP/1.1 200 OK\r\n\r\nuntil the close",
        b"",
    ]
    .iter()
    .map(|c| c.to_vec())
    .collect();
    while cases.len() < n {
        cases.push(gen.response());
    }
    cases
}

/// Where qmgr's head parser deliberately differs from httparse's:
/// (what, does it apply to a head httparse parsed as `theirs` from `bytes`).
#[allow(clippy::type_complexity)]
const DELIBERATE: &[(&str, fn(&[u8], &httparse::Response<'_, '_>) -> bool)] = &[
    // RFC 9110 §15: status codes are 100 to 599 (qmgr takes to 999).
    ("a status below 100 is refused", |_, theirs| {
        theirs.code.is_some_and(|c| c < 100)
    }),
    // RFC 9112 §2.2 allows skipping "at least one" empty line; qmgr a few.
    (
        "more than 4 empty lines before the status line are refused",
        |bytes, _| leading_empty_lines(bytes) > 4,
    ),
    // Left out (as other non-ASCII values are), the body's end would be guessed.
    (
        "a Content-Length or Transfer-Encoding with non-ASCII bytes is refused",
        |_, theirs| {
            theirs.headers.iter().any(|h| {
                ["content-length", "transfer-encoding"]
                    .iter()
                    .any(|n| h.name.eq_ignore_ascii_case(n))
                    && !h.value.is_ascii()
            })
        },
    ),
];

fn leading_empty_lines(bytes: &[u8]) -> usize {
    let mut n = 0;
    let mut rest = bytes;
    loop {
        if let Some(r) = rest.strip_prefix(b"\r\n") {
            rest = r;
        } else if let Some(r) = rest.strip_prefix(b"\n") {
            rest = r;
        } else {
            return n;
        }
        n += 1;
    }
}

/// The fields qmgr keeps of httparse's: all but those whose value has
/// non-ASCII bytes (qmgr leaves them out: no qmgr rule reads one, and
/// its error texts and its header report stay ASCII); names lower case.
fn left_out(theirs: &httparse::Response<'_, '_>) -> Vec<(String, String)> {
    theirs
        .headers
        .iter()
        .filter(|h| h.value.is_ascii())
        .map(|h| {
            let value = std::str::from_utf8(h.value).unwrap();
            (h.name.to_ascii_lowercase(), value.to_string())
        })
        .collect()
}

/// Checks qmgr's head parser against httparse's on `bytes`; returns which
/// of the two accepted (qmgr, httparse).
fn compare_heads(bytes: &[u8]) -> (bool, bool) {
    let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut theirs = httparse::Response::new(&mut fields);
    let verdict = theirs.parse(bytes);
    let mut input = bytes;
    let ours = read_head(&mut input);
    let consumed = bytes.len() - input.len();
    let listed = || {
        DELIBERATE
            .iter()
            .find(|(_, applies)| applies(bytes, &theirs))
            .map(|(what, _)| *what)
    };
    match (&ours, &verdict) {
        (Ok(head), Ok(httparse::Status::Complete(end))) => {
            let what = format!("{:?}", String::from_utf8_lossy(bytes));
            assert_eq!(consumed, *end, "where the head ends: {what}");
            assert_eq!(Some(head.status), theirs.code, "{what}");
            assert_eq!(head.http11, theirs.version == Some(1), "{what}");
            // httparse gives "" for a reason with non-ASCII bytes.
            if theirs.reason != Some("") {
                assert_eq!(Some(head.reason.as_str()), theirs.reason, "{what}");
            }
            let ours: Vec<(String, String)> = head.headers.0.clone();
            assert_eq!(ours, left_out(&theirs), "{what}");
        }
        (Ok(_), _) => panic!(
            "qmgr accepts a head httparse does not ({verdict:?}): {:?}",
            String::from_utf8_lossy(bytes)
        ),
        (Err(e), Ok(httparse::Status::Complete(_))) => {
            assert!(
                listed().is_some(),
                "httparse accepts a head qmgr refuses ({e}): {:?}",
                String::from_utf8_lossy(bytes)
            );
        }
        (Err(e), Ok(httparse::Status::Partial)) => {
            assert!(
                e.kind() == io::ErrorKind::UnexpectedEof || listed().is_some(),
                "httparse waits for more where qmgr refuses ({e}): {:?}",
                String::from_utf8_lossy(bytes)
            );
        }
        (Err(_), Err(_)) => {}
    }
    (
        ours.is_ok(),
        matches!(verdict, Ok(httparse::Status::Complete(_))),
    )
}

#[test]
fn the_head_parser_agrees_with_httparse() {
    let (mut both, mut neither, mut only_theirs) = (0, 0, 0);
    for case in cases(0x5eed_0101, 20_000) {
        match compare_heads(&case) {
            (true, true) => both += 1,
            (false, false) => neither += 1,
            (false, true) => only_theirs += 1,
            (true, false) => unreachable!(),
        }
    }
    // The generator reaches both sides of the line (a check on it).
    assert!(
        both > 3000 && neither > 3000,
        "{both} {neither} {only_theirs}"
    );
}

/// A reader that gives its bytes in reads of the sizes `sizes` lists, in
/// turn (the last repeated), as a socket may.
struct Pieces<'a> {
    bytes: &'a [u8],
    sizes: Vec<usize>,
    turn: usize,
}

impl io::Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let size = self.sizes[self.turn.min(self.sizes.len() - 1)];
        self.turn += 1;
        let n = size.min(buf.len()).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

/// Reads `bytes` as a response through reads of `sizes`, a buffer of
/// `capacity` and body reads of `buf` bytes.
fn read_split(
    bytes: &[u8],
    sizes: Vec<usize>,
    capacity: usize,
    buf: usize,
) -> Result<Exchange, (io::ErrorKind, String)> {
    let pieces = Pieces {
        bytes,
        sizes,
        turn: 0,
    };
    read_response(&mut BufReader::with_capacity(capacity, pieces), buf)
}

#[test]
fn splitting_the_input_never_changes_the_result() {
    let mut rng = Rng(0x5eed_0102);
    for (i, case) in cases(0x5eed_0103, 3000).iter().enumerate() {
        let whole = read_response(&mut &case[..], 1 << 16);
        let check = |split: Result<Exchange, _>, how: &str| {
            assert_eq!(split, whole, "{how}: {:?}", String::from_utf8_lossy(case));
        };
        // Every split point, for the first cases: two reads.
        if i < 1000 {
            for at in 0..=case.len() {
                let sizes = vec![at.max(1), usize::MAX];
                check(
                    read_split(case, sizes, 8192, 4096),
                    &format!("split at {at}"),
                );
            }
        }
        // Reads of one byte, behind a one-byte buffer, a byte of body at a time.
        check(read_split(case, vec![1], 1, 1), "bytes one by one");
        // Random read sizes, buffer capacities and body reads.
        let sizes = (0..8).map(|_| 1 + rng.below(16)).collect();
        let capacity = 1 + rng.below(64);
        let buf = 1 + rng.below(32);
        let how = format!("reads {sizes:?}, capacity {capacity}, body reads of {buf}");
        check(read_split(case, sizes, capacity, buf), &how);
    }
}

/// What a body of `framing` is, read from `bytes` (which start right
/// after the head) by the rules of RFC 9112 §6 and §7.1 as qmgr keeps
/// them: the body, and where it ends; an error's kind.
fn reference_body(framing: Framing, bytes: &[u8]) -> Result<(Vec<u8>, usize), io::ErrorKind> {
    use io::ErrorKind::{InvalidData, UnexpectedEof};
    // One line of at most `MAX_CHUNK_LINE` bytes before its LF, without
    // its CRLF or LF; and where the next begins.
    let line = |at: usize| -> Result<(&[u8], usize), io::ErrorKind> {
        let window = &bytes[at..bytes.len().min(at + MAX_CHUNK_LINE + 1)];
        match window.iter().position(|&b| b == b'\n') {
            Some(lf) => {
                let text = &window[..lf];
                Ok((text.strip_suffix(b"\r").unwrap_or(text), at + lf + 1))
            }
            None if window.len() > MAX_CHUNK_LINE => Err(InvalidData),
            None => Err(UnexpectedEof),
        }
    };
    match framing {
        Framing::Empty => Ok((Vec::new(), 0)),
        Framing::UntilClose => Ok((bytes.to_vec(), bytes.len())),
        Framing::Length(n) => match usize::try_from(n) {
            Ok(n) if n <= bytes.len() => Ok((bytes[..n].to_vec(), n)),
            _ => Err(UnexpectedEof),
        },
        Framing::Chunked => {
            let mut body = Vec::new();
            let mut at = 0;
            loop {
                let (size_line, next) = line(at)?;
                at = next;
                let text = String::from_utf8_lossy(size_line);
                let size = chunk_size(&text).ok_or(InvalidData)?;
                if size == 0 {
                    let mut trailers = 0;
                    loop {
                        let (trailer, next) = line(at)?;
                        at = next;
                        if trailer.is_empty() {
                            return Ok((body, at));
                        }
                        trailers += 1;
                        if trailers > MAX_TRAILERS {
                            return Err(InvalidData);
                        }
                    }
                }
                let size = usize::try_from(size).map_err(|_| UnexpectedEof)?;
                if bytes.len() - at < size {
                    return Err(UnexpectedEof);
                }
                body.extend_from_slice(&bytes[at..at + size]);
                at += size;
                let (end, next) = line(at)?;
                if !end.is_empty() {
                    return Err(InvalidData);
                }
                at = next;
            }
        }
    }
}

#[test]
fn bodies_are_the_reference_decoders() {
    let mut bodies = 0;
    for case in cases(0x5eed_0104, 20_000) {
        let mut input = &case[..];
        let Ok(head) = read_head(&mut input) else {
            continue;
        };
        let Ok(framing) = Framing::of(&head) else {
            continue;
        };
        let after_head = input;
        let expected = reference_body(framing, after_head);
        match (read_response(&mut &case[..], 4096), expected) {
            (Ok(got), Ok((body, end))) => {
                assert_eq!(got.body, body, "{:?}", String::from_utf8_lossy(&case));
                assert_eq!(got.rest, &after_head[end..]);
                bodies += 1;
            }
            (Err((kind, _)), Err(expected)) => assert_eq!(kind, expected),
            (got, expected) => panic!(
                "{got:?} where the reference has {expected:?}: {:?}",
                String::from_utf8_lossy(&case)
            ),
        }
    }
    assert!(bodies > 3000, "{bodies}");
}

/// The framing RFC 9112 §6.3 gives a GET's response, restated.
fn reference_framing(head: &Head) -> Option<Framing> {
    if head.status < 200 || head.status == 204 || head.status == 304 {
        return Some(Framing::Empty);
    }
    let list = |name| -> Vec<String> {
        head.headers
            .get_all(name)
            .flat_map(|v| v.split(','))
            .map(|v| v.trim().to_ascii_lowercase())
            .collect()
    };
    if head.headers.get("transfer-encoding").is_some() {
        let codings: Vec<String> = list("transfer-encoding")
            .into_iter()
            .filter(|c| !c.is_empty() && c != "identity")
            .collect();
        return match codings.as_slice() {
            [] => Some(Framing::UntilClose),
            [c] if c == "chunked" => Some(Framing::Chunked),
            _ => None,
        };
    }
    let lengths = list("content-length");
    let Some(first) = lengths.first() else {
        return Some(Framing::UntilClose);
    };
    let all_digits = |v: &String| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
    if !lengths.iter().all(all_digits) {
        return None;
    }
    let n: u64 = first.parse().ok()?;
    lengths
        .iter()
        .all(|v| v.parse() == Ok(n))
        .then_some(Framing::Length(n))
}

#[test]
fn framing_is_rfc_9112s() {
    for case in cases(0x5eed_0105, 20_000) {
        if let Ok(head) = read_head(&mut &case[..]) {
            assert_eq!(
                Framing::of(&head).ok(),
                reference_framing(&head),
                "{head:?}"
            );
        }
    }
}

#[test]
fn chunk_sizes_agree_with_httparse() {
    // Deliberate differences: qmgr takes a bare LF as a line end, as
    // everywhere in a response (httparse wants CRLF), and refuses a line
    // without a digit (httparse reads "" and ";x" as 0) or with a control
    // character in an extension (httparse ignores extensions whole).
    const PARTS: &[&str] = &[
        "0",
        "5",
        "a",
        "F",
        "00",
        "ffffffffffffffff",
        "10000000000000000",
        "000000000000000001",
        " ",
        "\t",
        ";",
        "x",
        "=",
        "\"",
        "g",
        "+",
        "-",
        "\x00",
        "\r",
        "\u{80}",
    ];
    let mut rng = Rng(0x5eed_0106);
    let mut agreed = 0;
    for _ in 0..20_000 {
        let line: String = (0..1 + rng.below(4)).map(|_| rng.pick(PARTS)).collect();
        let ours = chunk_size(&line);
        let theirs = match httparse::parse_chunk_size(format!("{line}\r\n").as_bytes()) {
            Ok(httparse::Status::Complete((end, n))) if end == line.len() + 2 => Some(n),
            _ => None,
        };
        let differs_deliberately = !line.starts_with(|c: char| c.is_ascii_hexdigit())
            || line.bytes().any(|b| b.is_ascii_control() && b != b'\t');
        match (ours, theirs) {
            (Some(n), Some(m)) => {
                assert_eq!(n, m, "{line:?}");
                agreed += 1;
            }
            (None, None) => {}
            (None, Some(_)) if differs_deliberately => {}
            _ => panic!("{line:?}: qmgr {ours:?}, httparse {theirs:?}"),
        }
    }
    assert!(agreed > 1000, "{agreed}");
}

/// An endless input: `prefix`, then `fill` again and again; counts what
/// was read.
struct Endless<'a> {
    prefix: &'a [u8],
    fill: &'a [u8],
    read: usize,
}

impl io::Read for Endless<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            let source = match self.read < self.prefix.len() {
                true => &self.prefix[self.read..],
                false => {
                    let at = (self.read - self.prefix.len()) % self.fill.len();
                    &self.fill[at..]
                }
            };
            let k = source.len().min(buf.len() - n);
            buf[n..n + k].copy_from_slice(&source[..k]);
            n += k;
            self.read += k;
        }
        Ok(n)
    }
}

#[test]
fn endless_input_is_refused_after_a_bounded_read() {
    let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    let last_chunk = format!("{head}0\r\n");
    let cases: [(&[u8], &[u8], usize); 6] = [
        // One endless line, endless fields, endless empty lines.
        (b"", b"a", MAX_HEAD),
        (b"HTTP/1.1 200 OK\r\n", b"X: y\r\n", MAX_HEAD),
        (
            b"HTTP/1.1 200 OK\r\n",
            b"X: yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\r\n",
            MAX_HEAD,
        ),
        (b"", b"\r\n", MAX_HEAD),
        // An endless chunk-size line; endless trailers.
        (head.as_bytes(), b"0", MAX_HEAD + MAX_CHUNK_LINE),
        (
            last_chunk.as_bytes(),
            b"T: x\r\n",
            MAX_HEAD + MAX_CHUNK_LINE * (MAX_TRAILERS + 1),
        ),
    ];
    for (prefix, fill, bound) in cases {
        let mut input = BufReader::with_capacity(
            1024,
            Endless {
                prefix,
                fill,
                read: 0,
            },
        );
        let (kind, _) = read_response(&mut input, 4096).unwrap_err();
        assert_eq!(kind, io::ErrorKind::InvalidData, "{fill:?}");
        let read = input.get_ref().read;
        assert!(read <= bound + 1024, "{fill:?}: {read} bytes read");
    }
}
