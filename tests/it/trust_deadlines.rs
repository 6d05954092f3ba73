//! Issue 19 (trust), items 4 and 5 and the SOCKS refusals: nothing before
//! the body may drip on forever (a TLS handshake, a `CONNECT` answer, a
//! SOCKS reply and a response head each end at a deadline, as a transient
//! timeout naming the phase); suspend and cancel return at once while a
//! connect to a black-holed address is pending; a SOCKS proxy's refusal by
//! its rules fails the job at once, its "connection refused" is retried.

use crate::support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use qmgr::hresult::*;
use qmgr::{FileSpec, HResult, Job, JobState, Manager};
use support::wait_until;

/// A server on 127.0.0.1 that runs `serve` on each connection, on a thread
/// of its own; its address.
fn server(serve: impl Fn(TcpStream) + Send + Sync + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let serve = std::sync::Arc::new(serve);
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let _ = client.set_read_timeout(Some(Duration::from_secs(30)));
            let serve = std::sync::Arc::clone(&serve);
            std::thread::spawn(move || serve(client));
        }
    });
    addr
}

/// Reads one message (what one read gives: the client waits for each
/// answer before it sends more).
fn read_once(client: &mut TcpStream) {
    let mut buf = [0u8; 4096];
    let _ = client.read(&mut buf);
}

/// Reads a request head (up to its empty line).
fn read_head(client: &mut TcpStream) {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") && client.read_exact(&mut byte).is_ok() {
        got.push(byte[0]);
    }
}

/// Writes `start`, then one more byte every 200 ms (well within a stall
/// timeout of 1 s) for at most a minute, until the client goes.
fn drip(client: &mut TcpStream, start: &[u8]) {
    let _ = client.write_all(start);
    for _ in 0..300 {
        std::thread::sleep(Duration::from_millis(200));
        if client.write_all(b"a").is_err() {
            return;
        }
    }
}

/// A job for `url` into `dir` through `proxy` if given: one connection, a
/// 1 s retry delay, a stall timeout of `stall` seconds, and a low-speed
/// limit of 1 byte/s over `low_speed` seconds if not 0; resumed.
fn job_for(
    manager: &Manager,
    url: &str,
    dir: &Path,
    proxy: Option<&str>,
    (stall, low_speed): (u32, u32),
) -> Job {
    let job = manager.create_job("deadlines").unwrap();
    job.add_files(&[FileSpec::new(url, dir.join("x").to_str().unwrap())])
        .unwrap();
    job.set_max_connections(1).unwrap();
    job.set_min_retry_delay(1).unwrap();
    job.set_stall_timeout(stall).unwrap();
    if low_speed > 0 {
        job.set_low_speed_limit(1, low_speed).unwrap();
    }
    if let Some(proxy) = proxy {
        job.set_proxy(Some(proxy)).unwrap();
    }
    job.resume().unwrap();
    job
}

/// Waits until `job` is in ERROR or TRANSIENT_ERROR and returns which.
fn failed_state(job: &Job) -> JobState {
    wait_until("the job to fail", Duration::from_secs(30), || {
        matches!(job.state(), JobState::Error | JobState::TransientError)
    });
    job.state()
}

/// Runs a job for `url` (through `proxy`; with the stall timeout and
/// low-speed time of `limits`) against a server that drips a phase before
/// the body, a byte well within each stall timeout, and checks that it
/// ends in a transient timeout whose text holds each of `words`, long
/// before the 30 s of the connect deadline. (A phase bounded only per
/// read never ends.)
fn assert_times_out(url: &str, proxy: Option<&str>, limits: (u32, u32), words: &[&str]) {
    let dir = support::scratch("deadline");
    let manager = Manager::open(None).unwrap();
    let started = Instant::now();
    let job = job_for(&manager, url, &dir, proxy, limits);
    let state = failed_state(&job);
    let took = started.elapsed();
    let err = job.error().unwrap();
    assert_eq!(state, JobState::TransientError, "{err:?}");
    assert_eq!(err.code.0, QM_E_WINHTTP_TIMEOUT, "{err:?}");
    for w in words {
        assert!(err.description.contains(w), "{w}: {}", err.description);
    }
    assert!(took < Duration::from_secs(15), "it took {took:?}: {err:?}");
    job.cancel().unwrap();
}

// ---- item 4: deadlines before the body ----

/// A server that reads a request head and drips its answer's head.
fn dripping_head(mut c: TcpStream) {
    read_head(&mut c);
    drip(&mut c, b"HTTP/1.1 200 OK\r\nX-Drip: ");
}

#[test]
fn a_response_head_dripped_byte_by_byte_ends_at_the_stall_timeout() {
    let url = format!("http://{}/x", server(dripping_head));
    let words = ["the response head took over 1 s (the stall timeout)"];
    assert_times_out(&url, None, (1, 0), &words);
}

#[test]
fn a_response_head_dripped_ends_at_the_low_speed_limits_time() {
    // A stall timeout of 20 s would allow 20 s; the low-speed limit 2 s.
    let url = format!("http://{}/x", server(dripping_head));
    let words = ["no byte of the body within the low-speed limit's 2 s"];
    assert_times_out(&url, None, (20, 2), &words);
}

#[test]
fn a_redirect_chain_of_slow_hops_ends_at_the_low_speed_limits_time() {
    // Each hop answers in 0.7 s, within the limit of 2 s; ten of them
    // took 7 s before (the bound was per hop) and ended as "too many
    // redirects". The limit counts from the request to its body, every
    // hop included.
    let url = format!(
        "http://{}/x",
        server(|mut c| loop {
            read_head(&mut c);
            std::thread::sleep(Duration::from_millis(700));
            let answer = b"HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n";
            if c.write_all(answer).is_err() {
                return;
            }
        })
    );
    let words = ["no byte of the body within the low-speed limit's 2 s"];
    assert_times_out(&url, None, (20, 2), &words);
}

#[cfg(feature = "tls")]
#[test]
fn a_tls_handshake_dripped_byte_by_byte_ends_at_the_low_speed_limits_time() {
    // A handshake record of 16 KiB announced, then a byte every 200 ms.
    let addr = server(|mut c| {
        read_once(&mut c);
        drip(&mut c, &[0x16, 0x03, 0x03, 0x40, 0x00]);
    });
    let url = format!("https://127.0.0.1:{}/x", addr.port());
    let words = ["the TLS handshake with 127.0.0.1", "low-speed limit's 2 s"];
    assert_times_out(&url, None, (1, 2), &words);
}

#[cfg(feature = "tls")]
#[test]
fn a_proxy_dripping_its_connect_answer_ends_at_the_low_speed_limits_time() {
    let addr = server(|mut c| {
        read_head(&mut c);
        drip(&mut c, b"HTTP/1.1 200 Connection established\r\nX-Drip: ");
    });
    let proxy = format!("http://{addr}");
    let words = ["the proxy tunnel failed", "low-speed limit's 2 s"];
    assert_times_out("https://updates.invalid/x", Some(&proxy), (1, 2), &words);
}

#[test]
fn a_socks5_proxy_dripping_its_reply_ends_at_the_low_speed_limits_time() {
    let addr = server(|mut c| {
        read_once(&mut c);
        let _ = c.write_all(&[5, 0]);
        read_once(&mut c);
        // Success, bound to a name of 255 bytes, which never ends.
        drip(&mut c, &[5, 0, 0, 3, 255]);
    });
    let proxy = format!("socks5h://{addr}");
    let words = ["the SOCKS handshake failed", "low-speed limit's 2 s"];
    assert_times_out("http://updates.invalid/x", Some(&proxy), (1, 2), &words);
}

// ---- item 5: suspend and cancel during a connect ----

/// A listener on 127.0.0.1 whose backlog is full: a connect to it is
/// neither accepted nor refused (Linux drops the SYN), as a black-holed
/// address. Returns it, with the connections that fill it.
fn black_hole() -> (TcpListener, Vec<TcpStream>, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut filling = Vec::new();
    for _ in 0..4096 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(s) => filling.push(s),
            Err(_) => return (listener, filling, addr),
        }
    }
    panic!("the backlog of {addr} never filled");
}

/// True while a socket of this machine is connecting to `port` of
/// 127.0.0.1 (SYN_SENT in /proc/net/tcp): the job's connect is pending.
fn connecting_to(port: u16) -> bool {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let remote = format!("0100007F:{port:04X}");
    table.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.get(2) == Some(&remote.as_str()) && fields.get(3) == Some(&"02")
    })
}

#[test]
fn suspend_and_cancel_return_at_once_while_a_connect_hangs() {
    let (_listener, _filling, addr) = black_hole();
    let dir = support::scratch("deadline-black-hole");
    let manager = Manager::open(None).unwrap();
    let url = format!("http://{addr}/x");
    let job = job_for(&manager, &url, &dir, None, (60, 0));
    let pending = || {
        wait_until("the job's connect", Duration::from_secs(20), || {
            connecting_to(addr.port())
        })
    };
    pending();
    assert_eq!(job.state(), JobState::Connecting);
    let started = Instant::now();
    job.suspend().unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "suspend took {took:?}");
    assert_eq!(job.state(), JobState::Suspended);
    job.resume().unwrap();
    pending();
    let started = Instant::now();
    job.cancel().unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "cancel took {took:?}");
    wait_until(
        "the abandoned connect to close",
        Duration::from_secs(5),
        || !connecting_to(addr.port()),
    );
}

// ---- SOCKS refusals ----

#[test]
fn a_socks_refusal_by_rule_or_identd_is_fatal_and_an_unreachable_target_is_retried() {
    let dir = support::scratch("deadline-socks-refusals");
    let manager = Manager::open(None).unwrap();
    let forbidden = HResult::from_http_status(403);
    let cases = [
        // SOCKS 5 "not allowed by ruleset", and "connection refused".
        (
            "socks5h",
            server(|mut c| socks5_answer(&mut c, 2)),
            JobState::Error,
            forbidden,
        ),
        (
            "socks5h",
            server(|mut c| socks5_answer(&mut c, 5)),
            JobState::TransientError,
            HResult(QM_E_WINHTTP_CANNOT_CONNECT),
        ),
        // SOCKS 4 "rejected", and "the identd check failed".
        (
            "socks4a",
            server(|mut c| socks4_answer(&mut c, 0x5b)),
            JobState::Error,
            forbidden,
        ),
        (
            "socks4a",
            server(|mut c| socks4_answer(&mut c, 0x5d)),
            JobState::Error,
            HResult::from_http_status(407),
        ),
    ];
    for (scheme, addr, state, code) in cases {
        let proxy = format!("{scheme}://{addr}");
        let job = job_for(
            &manager,
            "http://updates.invalid/x",
            &dir,
            Some(&proxy),
            (60, 0),
        );
        assert_eq!(failed_state(&job), state, "{proxy}: {:?}", job.error());
        let err = job.error().unwrap();
        assert_eq!((err.code, err.http_status), (code, 0), "{proxy}: {err:?}");
        assert!(err.description.contains("(code "), "{err:?}");
        job.cancel().unwrap();
    }
}

/// A SOCKS 5 proxy that takes no login and answers the request with `code`.
fn socks5_answer(c: &mut TcpStream, code: u8) {
    read_once(c);
    let _ = c.write_all(&[5, 0]);
    read_once(c);
    let _ = c.write_all(&[5, code, 0, 1, 0, 0, 0, 0, 0, 0]);
    read_once(c);
}

/// A SOCKS 4 proxy that answers the request with `code`.
fn socks4_answer(c: &mut TcpStream, code: u8) {
    read_once(c);
    let _ = c.write_all(&[0, code, 0, 0, 0, 0, 0, 0]);
    read_once(c);
}
