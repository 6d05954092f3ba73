//! Self-tests of the fault-injecting test server, driven by raw TCP (and
//! rustls) clients rather than by qmgr, so that a server bug cannot hide
//! behind a client bug.

use crate::support;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::http_server::*;

/// A parsed response head.
#[derive(Debug)]
struct Head {
    status: u16,
    headers: Vec<(String, String)>,
}

impl Head {
    fn get(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

struct Response {
    head: Head,
    body: Vec<u8>,
}

fn connect(server: &TestServer) -> BufReader<TcpStream> {
    let s = TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    BufReader::new(s)
}

fn send<S: Read + Write>(c: &mut BufReader<S>, method: &str, path: &str, headers: &[(&str, &str)]) {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    c.get_mut().write_all(req.as_bytes()).unwrap();
    c.get_mut().flush().unwrap();
}

fn read_head<R: BufRead>(r: &mut R) -> io::Result<Head> {
    let mut line = String::new();
    r.read_line(&mut line)?;
    if line.is_empty() {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    assert!(line.starts_with("HTTP/1.1 "), "{line:?}");
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (n, v) = line.split_once(':').expect("header line");
        headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    Ok(Head { status, headers })
}

/// Reads a body as its framing says (no body for HEAD).
fn read_body<R: BufRead>(r: &mut R, head: &Head, method: &str) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    if method == "HEAD" || head.status == 204 || head.status == 304 {
        return Ok(body);
    }
    if head.get("transfer-encoding") == Some("chunked") {
        loop {
            let mut line = String::new();
            r.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim(), 16).expect("chunk size");
            if size == 0 {
                let mut crlf = String::new();
                r.read_line(&mut crlf)?;
                assert_eq!(crlf, "\r\n");
                return Ok(body);
            }
            let start = body.len();
            body.resize(start + size, 0);
            r.read_exact(&mut body[start..])?;
            let mut crlf = [0u8; 2];
            r.read_exact(&mut crlf)?;
            assert_eq!(&crlf, b"\r\n");
        }
    } else if let Some(len) = head.get("content-length") {
        body.resize(len.parse().unwrap(), 0);
        r.read_exact(&mut body)?;
    } else {
        r.read_to_end(&mut body)?;
    }
    Ok(body)
}

fn exchange<S: Read + Write>(
    c: &mut BufReader<S>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Response {
    send(c, method, path, headers);
    let head = read_head(c).unwrap();
    let body = read_body(c, &head, method).unwrap();
    Response { head, body }
}

/// One request on a fresh connection.
fn get(server: &TestServer, path: &str, headers: &[(&str, &str)]) -> Response {
    exchange(&mut connect(server), "GET", path, headers)
}

/// Reads what is left until EOF or an error, returning the bytes and the
/// error, if any.
fn drain<R: Read>(r: &mut R) -> (Vec<u8>, Option<io::Error>) {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return (out, None),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => return (out, Some(e)),
        }
    }
}

fn server_with(path: &str, len: usize) -> (TestServer, Resource) {
    let server = TestServer::start();
    let res = Resource::new(patterned(len, 7));
    server.add(path, res.clone());
    (server, res)
}

#[test]
fn patterned_bytes_depend_on_position_and_seed() {
    let a = patterned(10_000, 1);
    assert_eq!(a.len(), 10_000);
    assert_eq!(a, patterned(10_000, 1));
    assert_ne!(a, patterned(10_000, 2));
    assert_ne!(a[1..], a[..a.len() - 1], "a one-byte shift must show");
    assert_eq!(patterned(13, 1), a[..13]);
    assert!(patterned(0, 1).is_empty());
}

#[test]
fn honest_200_with_validators() {
    let (server, res) = server_with("/a.bin", 100_000);
    let r = get(&server, "/a.bin", &[]);
    assert_eq!(r.head.status, 200);
    assert_eq!(r.head.get("content-length"), Some("100000"));
    assert_eq!(r.head.get("accept-ranges"), Some("bytes"));
    assert_eq!(r.head.get("etag"), res.etag.as_deref());
    assert!(res.etag.as_ref().unwrap().starts_with('"'));
    assert_eq!(r.head.get("last-modified"), Some(LAST_MODIFIED));
    assert_eq!(r.head.get("content-range"), None);
    assert_eq!(r.body, *res.data);
    assert_eq!(server.body_bytes_sent("/a.bin"), 100_000);
    assert_eq!(
        server.url("/a.bin"),
        format!("http://{}/a.bin", server.addr())
    );
}

#[test]
fn honest_206_with_matching_if_range() {
    let (server, res) = server_with("/a", 1000);
    let etag = res.etag.clone().unwrap();
    for if_range in [etag.as_str(), LAST_MODIFIED] {
        let r = get(
            &server,
            "/a",
            &[("Range", "bytes=100-"), ("If-Range", if_range)],
        );
        assert_eq!(r.head.status, 206);
        assert_eq!(r.head.get("content-range"), Some("bytes 100-999/1000"));
        assert_eq!(r.head.get("content-length"), Some("900"));
        assert_eq!(r.body, res.data[100..]);
    }
    // No If-Range, and a closed range clamped to the end.
    let r = get(&server, "/a", &[("Range", "bytes=10-19")]);
    assert_eq!(r.head.status, 206);
    assert_eq!(r.head.get("content-range"), Some("bytes 10-19/1000"));
    assert_eq!(r.body, res.data[10..20]);
    let r = get(&server, "/a", &[("Range", "bytes=990-5000")]);
    assert_eq!(r.head.get("content-range"), Some("bytes 990-999/1000"));
    assert_eq!(r.body, res.data[990..]);
    assert_eq!(server.body_bytes_sent("/a"), 900 + 900 + 10 + 10);
}

#[test]
fn if_range_mismatch_or_weak_etag_gives_200() {
    let (server, res) = server_with("/a", 1000);
    let r = get(
        &server,
        "/a",
        &[("Range", "bytes=100-"), ("If-Range", "\"other\"")],
    );
    assert_eq!(r.head.status, 200);
    assert_eq!(r.body, *res.data);

    let mut weak = Resource::new(patterned(50, 3));
    weak.etag = Some("W/\"x\"".into());
    server.add("/weak", weak.clone());
    let r = get(
        &server,
        "/weak",
        &[("Range", "bytes=10-"), ("If-Range", "W/\"x\"")],
    );
    assert_eq!(r.head.status, 200, "a weak ETag never matches If-Range");
    assert_eq!(r.head.get("etag"), Some("W/\"x\""));
    assert_eq!(r.body, *weak.data);
}

#[test]
fn range_past_the_end_is_416_with_length() {
    let (server, _) = server_with("/a", 1000);
    for range in ["bytes=1000-", "bytes=5000-"] {
        let r = get(&server, "/a", &[("Range", range)]);
        assert_eq!(r.head.status, 416);
        assert_eq!(r.head.get("content-range"), Some("bytes */1000"));
        assert!(r.body.is_empty());
    }
}

#[test]
fn unknown_path_is_404_and_head_has_no_body() {
    let (server, _) = server_with("/a", 1000);
    let mut c = connect(&server);
    let r = exchange(&mut c, "GET", "/missing", &[]);
    assert_eq!(r.head.status, 404);
    let r = exchange(&mut c, "HEAD", "/a", &[]);
    assert_eq!(r.head.status, 200);
    assert_eq!(r.head.get("content-length"), Some("1000"));
    let r = exchange(&mut c, "HEAD", "/a", &[("Range", "bytes=10-")]);
    assert_eq!(r.head.status, 206);
    assert_eq!(r.head.get("content-range"), Some("bytes 10-999/1000"));
    // Still in step after HEADs: the next GET parses.
    let r = exchange(&mut c, "GET", "/a?query=1", &[]);
    assert_eq!(r.body.len(), 1000);
    assert_eq!(server.body_bytes_sent("/a"), 1000);
    assert_eq!(server.connections(), 1);
    let seen = server.requests("/a");
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[2].path, "/a?query=1");
}

#[test]
fn keep_alive_serves_many_requests_on_one_connection() {
    let (server, res) = server_with("/a", 70_000);
    let mut c = connect(&server);
    for _ in 0..3 {
        let r = exchange(&mut c, "GET", "/a", &[]);
        assert_eq!(r.body, *res.data);
    }
    let r = exchange(&mut c, "GET", "/a", &[("Range", "bytes=69999-")]);
    assert_eq!(r.body, res.data[69_999..]);
    assert_eq!(server.connections(), 1);
    // Connection: close from the client ends it after the response.
    let r = exchange(&mut c, "GET", "/a", &[("Connection", "close")]);
    assert_eq!(r.head.get("connection"), Some("close"));
    let (rest, err) = drain(&mut c);
    assert!(rest.is_empty() && err.is_none());
}

#[test]
fn requests_are_recorded_before_answers() {
    let (server, _) = server_with("/a", 100);
    server.script("/a", vec![Fault::CloseAfter(0)]);
    let mut c = connect(&server);
    send(
        &mut c,
        "GET",
        "/a",
        &[
            ("Range", "bytes=5-"),
            ("If-Range", "\"v1\""),
            ("Accept-Encoding", "gzip"),
            ("X-Custom", "Yes"),
        ],
    );
    let _ = drain(&mut c);
    get(&server, "/a", &[]);
    let seen = server.requests("/a");
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].path, "/a");
    assert_eq!(seen[0].range.as_deref(), Some("bytes=5-"));
    assert_eq!(seen[0].if_range.as_deref(), Some("\"v1\""));
    assert_eq!(seen[0].accept_encoding.as_deref(), Some("gzip"));
    assert_eq!(seen[0].header("X-CUSTOM"), Some("Yes"));
    assert!(seen[0].headers.contains(&("x-custom".into(), "Yes".into())));
    assert_eq!(seen[1].range, None);
    assert_eq!(seen[1].if_range, None);
    assert_eq!(seen[1].accept_encoding, None);
    assert!(server.requests("/other").is_empty());
}

#[test]
fn close_after_sends_exactly_n_bytes_then_fin() {
    let (server, res) = server_with("/a", 100_000);
    server.script("/a", vec![Fault::CloseAfter(12_345)]);
    let mut c = connect(&server);
    send(&mut c, "GET", "/a", &[]);
    let head = read_head(&mut c).unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(head.get("content-length"), Some("100000"), "honest headers");
    let (body, err) = drain(&mut c);
    assert!(err.is_none(), "clean close, got {err:?}");
    assert_eq!(body, res.data[..12_345]);
    assert_eq!(server.body_bytes_sent("/a"), 12_345);
    // The script is used up: the next request is honest.
    assert_eq!(server.faults_left("/a"), 0);
    assert_eq!(get(&server, "/a", &[]).body, *res.data);
    assert_eq!(server.connections(), 2);
}

#[test]
fn close_after_applies_to_a_206_too() {
    let (server, res) = server_with("/a", 1000);
    server.script("/a", vec![Fault::CloseAfter(10)]);
    let mut c = connect(&server);
    send(&mut c, "GET", "/a", &[("Range", "bytes=500-")]);
    let head = read_head(&mut c).unwrap();
    assert_eq!(head.status, 206);
    assert_eq!(head.get("content-range"), Some("bytes 500-999/1000"));
    let (body, err) = drain(&mut c);
    assert!(err.is_none());
    assert_eq!(body, res.data[500..510]);
}

#[test]
fn reset_after_sends_n_bytes_then_rst() {
    let (server, res) = server_with("/a", 100_000);
    server.script("/a", vec![Fault::ResetAfter(4_000)]);
    let mut c = connect(&server);
    send(&mut c, "GET", "/a", &[]);
    let head = read_head(&mut c).unwrap();
    assert_eq!(head.get("content-length"), Some("100000"));
    // Let the RST arrive before reading, the harsh case for the client.
    std::thread::sleep(Duration::from_millis(100));
    let (body, err) = drain(&mut c);
    assert!(body.len() <= 4_000, "{} bytes", body.len());
    assert_eq!(body, res.data[..body.len()]);
    if let Some(e) = &err {
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}");
    }
    assert!(
        err.is_some() || body.len() == 4_000,
        "neither a reset nor all n bytes: {} bytes",
        body.len()
    );
    assert_eq!(server.body_bytes_sent("/a"), 4_000);
}

#[test]
fn stall_after_blocks_then_closes() {
    let (server, res) = server_with("/a", 10_000);
    server.script(
        "/a",
        vec![Fault::StallAfter(500, Duration::from_millis(400))],
    );
    let mut c = connect(&server);
    send(&mut c, "GET", "/a", &[]);
    let head = read_head(&mut c).unwrap();
    assert_eq!(head.get("content-length"), Some("10000"));
    let mut first = vec![0u8; 500];
    c.read_exact(&mut first).unwrap();
    assert_eq!(first, res.data[..500]);
    let t = Instant::now();
    // A client with a shorter timeout sees the stall as a timeout.
    c.get_ref()
        .set_read_timeout(Some(Duration::from_millis(150)))
        .unwrap();
    let err = c.read(&mut [0u8; 10]).unwrap_err();
    assert!(
        matches!(
            err.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ),
        "{err}"
    );
    c.get_ref()
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    // Then a clean close: EOF, not this client's 5 s read timeout (which
    // is what a server that never ended the stall would give).
    let (rest, err) = drain(&mut c);
    let waited = t.elapsed();
    assert!(rest.is_empty() && err.is_none(), "{err:?}");
    assert!(waited >= Duration::from_millis(350), "{waited:?}");
}

#[test]
fn drip_trickles_the_whole_body() {
    let (server, res) = server_with("/a", 1000);
    server.script(
        "/a",
        vec![Fault::Drip {
            bytes: 200,
            every: Duration::from_millis(30),
        }],
    );
    let t = Instant::now();
    let mut c = connect(&server);
    send(&mut c, "GET", "/a", &[]);
    let head = read_head(&mut c).unwrap();
    let mut buf = [0u8; 1000];
    let n = c.read(&mut buf).unwrap();
    assert!(n <= 200, "first read got {n} bytes");
    let mut body = buf[..n].to_vec();
    let mut rest = vec![0u8; 1000 - n];
    c.read_exact(&mut rest).unwrap();
    body.extend(rest);
    assert_eq!(head.status, 200);
    assert_eq!(body, *res.data);
    assert!(
        t.elapsed() >= Duration::from_millis(110),
        "{:?}",
        t.elapsed()
    );
    // The connection stays usable.
    assert_eq!(exchange(&mut c, "GET", "/a", &[]).body, *res.data);
    assert_eq!(server.connections(), 1);
}

#[test]
fn ignore_range_answers_200_with_everything() {
    let (server, res) = server_with("/a", 1000);
    server.script("/a", vec![Fault::IgnoreRange]);
    let r = get(&server, "/a", &[("Range", "bytes=100-")]);
    assert_eq!(r.head.status, 200);
    assert_eq!(r.head.get("content-range"), None);
    assert_eq!(r.head.get("etag"), res.etag.as_deref());
    assert_eq!(r.body, *res.data);
}

#[test]
fn malformed_206_faults() {
    let (server, res) = server_with("/a", 1000);
    server.script(
        "/a",
        vec![
            Fault::WrongStart,
            Fault::WrongTotal,
            Fault::NoContentRange,
            Fault::GarbledContentRange,
        ],
    );
    let mut c = connect(&server);
    let range = [("Range", "bytes=100-")];

    let r = exchange(&mut c, "GET", "/a", &range);
    assert_eq!(r.head.status, 206);
    assert_eq!(r.head.get("content-range"), Some("bytes 101-999/1000"));
    assert_eq!(r.body, res.data[101..]);

    let r = exchange(&mut c, "GET", "/a", &range);
    assert_eq!(r.head.status, 206);
    assert_eq!(r.head.get("content-range"), Some("bytes 100-999/1001"));
    assert_eq!(r.body, res.data[100..]);

    let r = exchange(&mut c, "GET", "/a", &range);
    assert_eq!(r.head.status, 206);
    assert_eq!(r.head.get("content-range"), None);
    assert_eq!(r.body, res.data[100..]);

    let r = exchange(&mut c, "GET", "/a", &range);
    assert_eq!(r.head.status, 206);
    assert_eq!(r.head.get("content-range"), Some("bytes garbage"));
    assert_eq!(r.body, res.data[100..]);

    assert_eq!(server.faults_left("/a"), 0);
    assert_eq!(server.connections(), 1);
}

#[test]
fn status_fault_with_retry_after() {
    let (server, res) = server_with("/a", 1000);
    server.script(
        "/a",
        vec![
            Fault::Status(503, vec![("Retry-After".into(), "2".into())]),
            Fault::Status(500, vec![]),
        ],
    );
    let mut c = connect(&server);
    let r = exchange(&mut c, "GET", "/a", &[]);
    assert_eq!(r.head.status, 503);
    assert_eq!(r.head.get("retry-after"), Some("2"));
    assert!(!r.body.is_empty() && r.body.len() < 100);
    assert_eq!(exchange(&mut c, "GET", "/a", &[]).head.status, 500);
    assert_eq!(exchange(&mut c, "GET", "/a", &[]).body, *res.data);
    // Faults work on paths without a resource as well.
    server.script("/nothing", vec![Fault::Status(401, vec![])]);
    assert_eq!(exchange(&mut c, "GET", "/nothing", &[]).head.status, 401);
    assert_eq!(exchange(&mut c, "GET", "/nothing", &[]).head.status, 404);
    // Bodiless statuses keep the connection in step.
    server.script(
        "/a",
        vec![Fault::Status(304, vec![]), Fault::Status(204, vec![])],
    );
    for code in [304, 204] {
        let r = exchange(&mut c, "GET", "/a", &[]);
        assert_eq!(r.head.status, code);
        assert_eq!(r.head.get("content-length"), None);
    }
    assert_eq!(exchange(&mut c, "GET", "/a", &[]).body, *res.data);
    assert_eq!(server.connections(), 1);
    assert_eq!(server.body_bytes_sent("/a"), 2000);
}

#[test]
fn range_not_satisfiable_fault_with_and_without_size() {
    let (server, _) = server_with("/a", 1000);
    server.script(
        "/a",
        vec![
            Fault::RangeNotSatisfiable { with_size: true },
            Fault::RangeNotSatisfiable { with_size: false },
        ],
    );
    let mut c = connect(&server);
    let r = exchange(&mut c, "GET", "/a", &[("Range", "bytes=10-")]);
    assert_eq!(r.head.status, 416);
    assert_eq!(r.head.get("content-range"), Some("bytes */1000"));
    let r = exchange(&mut c, "GET", "/a", &[("Range", "bytes=10-")]);
    assert_eq!(r.head.status, 416);
    assert_eq!(r.head.get("content-range"), None);
}

#[test]
fn redirect_fault_sends_location() {
    let (server, res) = server_with("/target", 1000);
    let absolute = server.url("/target");
    server.script(
        "/old",
        vec![
            Fault::Redirect(302, "/target".into()),
            Fault::Redirect(301, absolute.clone()),
            Fault::Redirect(307, "/target".into()),
        ],
    );
    let mut c = connect(&server);
    for (code, location) in [(302, "/target"), (301, absolute.as_str()), (307, "/target")] {
        let r = exchange(&mut c, "GET", "/old", &[]);
        assert_eq!(r.head.status, code);
        assert_eq!(r.head.get("location"), Some(location));
    }
    assert_eq!(exchange(&mut c, "GET", "/target", &[]).body, *res.data);
    assert_eq!(server.requests("/old").len(), 3);
}

#[test]
fn replace_changes_the_resource_and_its_validator() {
    let (server, old) = server_with("/a", 1000);
    let new = Resource::new(patterned(800, 99));
    assert_ne!(old.etag, new.etag);
    server.script("/a", vec![Fault::Replace(new.clone())]);
    let old_etag = old.etag.clone().unwrap();
    let r = get(
        &server,
        "/a",
        &[("Range", "bytes=100-"), ("If-Range", &old_etag)],
    );
    assert_eq!(
        r.head.status, 200,
        "a changed validator gives the whole new body"
    );
    assert_eq!(r.head.get("etag"), new.etag.as_deref());
    assert_eq!(r.body, *new.data);
    // And it stays replaced.
    assert_eq!(get(&server, "/a", &[]).body, *new.data);
}

#[test]
fn chunked_framing() {
    let server = TestServer::start();
    let mut res = Resource::new(patterned(150_000, 5));
    res.chunked = true;
    server.add("/c", res.clone());
    let mut c = connect(&server);
    let r = exchange(&mut c, "GET", "/c", &[]);
    assert_eq!(r.head.get("transfer-encoding"), Some("chunked"));
    assert_eq!(r.head.get("content-length"), None);
    assert_eq!(r.body, *res.data);
    let r = exchange(&mut c, "GET", "/c", &[("Range", "bytes=149000-")]);
    assert_eq!(r.head.status, 206);
    assert_eq!(r.body, res.data[149_000..]);
    assert_eq!(server.connections(), 1);

    // Truncated chunked: the stream ends inside a chunk.
    server.script("/c", vec![Fault::CloseAfter(70_000)]);
    let mut c = connect(&server);
    send(&mut c, "GET", "/c", &[]);
    let head = read_head(&mut c).unwrap();
    let err = read_body(&mut c, &head, "GET").unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    assert_eq!(server.body_bytes_sent("/c"), 150_000 + 1_000 + 70_000);
}

#[test]
fn no_length_framing_closes_the_connection() {
    let server = TestServer::start();
    let mut res = Resource::new(patterned(30_000, 6));
    res.no_length = true;
    server.add("/n", res.clone());
    let mut c = connect(&server);
    send(&mut c, "GET", "/n", &[]);
    let head = read_head(&mut c).unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(head.get("content-length"), None);
    assert_eq!(head.get("transfer-encoding"), None);
    assert_eq!(head.get("connection"), Some("close"));
    let (body, err) = drain(&mut c);
    assert!(err.is_none());
    assert_eq!(body, *res.data);
}

#[test]
fn dropping_the_server_ends_connections_promptly() {
    // The stalled connection would stay open past this client's 30 s read
    // timeout (a 300 s stall), the idle keep-alive one until the server's
    // own IO_TIMEOUT: the drop must end both, in EOF or a reset.
    let (server, _) = server_with("/a", 100_000);
    server.script("/a", vec![Fault::StallAfter(10, Duration::from_secs(300))]);
    let mut stalled = connect(&server);
    send(&mut stalled, "GET", "/a", &[]);
    read_head(&mut stalled).unwrap();
    // The 10 bytes before the stall, read before the drop (which could
    // otherwise come between the head and them).
    let mut first = [0u8; 10];
    stalled.read_exact(&mut first).unwrap();
    let mut idle = connect(&server);
    exchange(&mut idle, "GET", "/a", &[]);
    // The server's idle timer runs from here.
    let idle_since = Instant::now();
    for c in [&stalled, &idle] {
        c.get_ref()
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
    }
    let url = server.url("/a");
    let addr = server.addr();
    drop(server);
    let timed_out = |e: &Option<io::Error>| {
        e.as_ref().is_some_and(|e| {
            matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            )
        })
    };
    let (body, err) = drain(&mut stalled);
    assert!(body.is_empty(), "{} bytes past the stall", body.len());
    assert!(
        !timed_out(&err),
        "the stalled connection stayed open: {err:?}"
    );
    let (_, err) = drain(&mut idle);
    assert!(!timed_out(&err), "the idle connection stayed open: {err:?}");
    assert!(
        idle_since.elapsed() < IO_TIMEOUT,
        "the idle connection lasted {:?}, until the server's own timeout: the drop did not end it",
        idle_since.elapsed()
    );
    assert!(url.starts_with("http://127.0.0.1:"));
    assert!(TcpStream::connect(addr).is_err(), "the listener is closed");
}

// --- TLS ---------------------------------------------------------------

fn tls_client(ca: &TestCa, with_cert: bool) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(&ca.ca_pem).unwrap())
        .unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    Arc::new(if with_cert {
        let certs = CertificateDer::pem_file_iter(&ca.client_cert_pem)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(&ca.client_key_pem).unwrap();
        builder.with_client_auth_cert(certs, key).unwrap()
    } else {
        builder.with_no_client_auth()
    })
}

type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

fn tls_connect(server: &TestServer, config: Arc<rustls::ClientConfig>) -> BufReader<TlsStream> {
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(config, name).unwrap();
    let tcp = TcpStream::connect(server.addr()).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    BufReader::new(rustls::StreamOwned::new(conn, tcp))
}

/// A throwaway CA in a scratch directory (kept as long as the first value).
fn test_ca(tag: &str) -> (support::Scratch, TestCa) {
    let dir = support::scratch(tag);
    let ca = TestCa::generate(&dir);
    for p in [&ca.ca_pem, &ca.client_cert_pem, &ca.client_key_pem] {
        assert!(p.starts_with(&ca.dir) && p.is_file(), "{}", p.display());
    }
    (dir, ca)
}

#[test]
fn tls_serves_resources_and_faults() {
    let (_dir, ca) = test_ca("http_server_tls");
    let server = TestServer::start_tls(&ca, false);
    assert!(server.url("/a").starts_with("https://localhost:"));
    let res = Resource::new(patterned(200_000, 11));
    server.add("/a", res.clone());
    let mut c = tls_connect(&server, tls_client(&ca, false));
    let r = exchange(&mut c, "GET", "/a", &[]);
    assert_eq!(r.head.status, 200);
    assert_eq!(r.body, *res.data);
    let r = exchange(&mut c, "GET", "/a", &[("Range", "bytes=199990-")]);
    assert_eq!(r.head.status, 206);
    assert_eq!(r.body, res.data[199_990..]);
    assert_eq!(server.connections(), 1);

    // A cut connection: n bytes, then the TCP stream ends without
    // close_notify.
    server.script("/a", vec![Fault::CloseAfter(1000), Fault::ResetAfter(1000)]);
    for _ in 0..2 {
        let mut c = tls_connect(&server, tls_client(&ca, false));
        send(&mut c, "GET", "/a", &[]);
        read_head(&mut c).unwrap();
        let (body, err) = drain(&mut c);
        assert!(body.len() <= 1000);
        assert_eq!(body, res.data[..body.len()]);
        assert!(
            err.is_some(),
            "a TLS stream cut without close_notify is an error"
        );
    }

    // An orderly close (Connection: close) is a clean TLS EOF.
    let mut c = tls_connect(&server, tls_client(&ca, false));
    exchange(&mut c, "GET", "/a", &[("Connection", "close")]);
    let (rest, err) = drain(&mut c);
    assert!(rest.is_empty() && err.is_none(), "{err:?}");
}

#[test]
fn tls_client_certificate_required() {
    let (_dir, ca) = test_ca("http_server_mtls");
    let server = TestServer::start_tls(&ca, true);
    let res = Resource::new(patterned(1000, 12));
    server.add("/a", res.clone());

    let mut c = tls_connect(&server, tls_client(&ca, false));
    let _ = c
        .get_mut()
        .write_all(b"GET /a HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let _ = c.get_mut().flush();
    let err = read_head(&mut c).expect_err("refused without a client certificate");
    assert_ne!(err.kind(), io::ErrorKind::WouldBlock, "{err}");
    assert!(server.requests("/a").is_empty());

    let mut c = tls_connect(&server, tls_client(&ca, true));
    let r = exchange(&mut c, "GET", "/a", &[]);
    assert_eq!(r.head.status, 200);
    assert_eq!(r.body, *res.data);
    assert_eq!(server.requests("/a").len(), 1);
}
