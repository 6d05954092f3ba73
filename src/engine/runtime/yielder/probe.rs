//! Round trips timed by connecting, for servers that send no TCP
//! timestamps (issue 23). Without them the receiver's kernel times a
//! round trip only as the time a whole window takes to arrive, and keeps
//! the least of those (`tcpi_rcv_rtt` never grows), so a queue building
//! in front of us does not show. A TCP handshake's answer crosses that
//! same queue on its way to us: the time `connect` takes to the server's
//! address is the path's round trip, queue included. While connections
//! to a server without timestamps want samples, one thread per address
//! connects every [`PROBE_EVERY`] and resets the connection at once (no
//! request is sent); it stops a moment after the last connection asked.
//! The answers count as the process's own traffic ([`answers`]), not the
//! user's.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::sync::Mutex;

/// How often a server is probed while connections want its round trip:
/// about two adjustments of the controller to a sample.
const PROBE_EVERY: Duration = Duration::from_millis(100);
/// How many of the last handshakes' times the least is taken of.
const FILTER: usize = 2;
/// How long a probe thread goes on after the last connection asked.
const KEEP: Duration = Duration::from_secs(1);
/// The longest handshake waited for (its SYN is sent again at 1 s).
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// The most addresses probed at once. Each probe is a thread that lives
/// at least [`KEEP`] (and a handshake's [`PROBE_TIMEOUT`]) after its last
/// connection asked: a server that redirects each request to another
/// port or address (one of an IPv6 prefix's) made qmgr start a thread per
/// body, without bound. Beyond it, a connection gets no handshake's
/// round trip (as when a probe's handshake is refused).
const MAX_PROBES: usize = 32;

#[derive(Default)]
struct Probe {
    /// The last round trip timed, and its number (from 1).
    latest: Option<(u64, Duration)>,
    /// Until when a connection wants samples.
    wanted_until: Option<Instant>,
}

/// The handshakes' answers the probes received, since the process
/// started.
static ANSWERS: AtomicU64 = AtomicU64::new(0);

/// The packets the probes received, since the process started: one per
/// handshake (its answer), as the interfaces count them too.
pub(crate) fn answers() -> u64 {
    ANSWERS.load(Ordering::Relaxed)
}

/// The probes running, by the address they connect to.
static PROBES: Mutex<BTreeMap<SocketAddr, Arc<Mutex<Probe>>>> = Mutex::new(BTreeMap::new());

/// The latest round trip timed to `peer` when it is newer than the one
/// numbered `seen` (which it then updates), starting the probe of `peer`
/// if none runs. A connection asks at each of its samples.
pub(crate) fn sample(peer: SocketAddr, seen: &mut u64) -> Option<Duration> {
    let probe = {
        let mut probes = PROBES.lock();
        let probe = match probes.get(&peer) {
            Some(p) => Arc::clone(p),
            None if probes.len() >= MAX_PROBES => return None,
            None => {
                let probe = Arc::new(Mutex::new(Probe::default()));
                let runner = Arc::clone(&probe);
                let started = std::thread::Builder::new()
                    .name("qmgr-probe".into())
                    .spawn(move || run(peer, &runner));
                if started.is_err() {
                    return None;
                }
                probes.insert(peer, Arc::clone(&probe));
                probe
            }
        };
        probe.lock().wanted_until = Some(Instant::now() + KEEP);
        probe
    };
    let latest = probe.lock().latest;
    match latest {
        Some((number, rtt)) if number > *seen => {
            *seen = number;
            Some(rtt)
        }
        _ => None,
    }
}

/// Times a handshake with `peer` every [`PROBE_EVERY`] until nobody
/// wants it.
fn run(peer: SocketAddr, probe: &Mutex<Probe>) {
    let mut number = 0;
    let mut last = std::collections::VecDeque::with_capacity(FILTER);
    loop {
        {
            // The map's lock first, as `sample` takes them: a connection
            // that asks now finds this probe running or none.
            let mut probes = PROBES.lock();
            let wanted = probe
                .lock()
                .wanted_until
                .is_some_and(|until| Instant::now() < until);
            if !wanted {
                probes.remove(&peer);
                return;
            }
        }
        let started = Instant::now();
        // A refused or lost handshake gives no sample: the connections'
        // own figures and the controller's hold cover the gap.
        if let Ok(stream) = TcpStream::connect_timeout(&peer, PROBE_TIMEOUT) {
            let rtt = started.elapsed();
            // Closed with a reset, the handshake's answer is the one
            // packet it brings in, counted as ours (not the user's).
            crate::sys::reset_on_close(&stream);
            drop(stream);
            ANSWERS.fetch_add(1, Ordering::Relaxed);
            number += 1;
            // The least of the last few (RFC 6817's filter of the current
            // delay): one handshake's answer is a single packet, and this
            // thread may be woken late for it.
            if last.len() == FILTER {
                last.pop_front();
            }
            last.push_back(rtt);
            let filtered = last.iter().copied().min().unwrap_or(rtt);
            probe.lock().latest = Some((number, filtered));
        }
        std::thread::sleep(PROBE_EVERY.saturating_sub(started.elapsed()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// The probes are the process's: one test of them at a time.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// Waits until no probe runs.
    fn until_none_runs() {
        let deadline = Instant::now() + KEEP + PROBE_TIMEOUT + Duration::from_secs(30);
        while !PROBES.lock().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn a_probe_times_handshakes_while_asked_and_then_stops() {
        let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let peer = listener.local_addr().unwrap();
        let mut seen = 0;
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut samples = 0;
        while samples < 2 && Instant::now() < deadline {
            if let Some(rtt) = sample(peer, &mut seen) {
                assert!(rtt < PROBE_TIMEOUT);
                samples += 1;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(samples, 2, "two handshakes timed");
        // Each sample is handed out once.
        let before = seen;
        let again = sample(peer, &mut seen);
        assert!(again.is_none() || seen > before);
        // Nobody asks: the probe ends and leaves the map.
        let deadline = Instant::now() + KEEP + Duration::from_secs(30);
        while PROBES.lock().contains_key(&peer) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!PROBES.lock().contains_key(&peer), "the probe stopped");
    }

    #[test]
    fn a_server_of_many_addresses_starts_a_bounded_number_of_probes() {
        let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        until_none_runs();
        // Bodies from ever new ports (a redirect each, in turn), each
        // asking for its round trip: closed ports, refused at once.
        let ports: Vec<SocketAddr> = (0..3 * MAX_PROBES)
            .map(|_| {
                TcpListener::bind("127.0.0.1:0")
                    .unwrap()
                    .local_addr()
                    .unwrap()
            })
            .collect();
        let mut most = 0;
        for peer in &ports {
            let mut seen = 0;
            sample(*peer, &mut seen);
            most = most.max(PROBES.lock().len());
        }
        assert!(most <= MAX_PROBES, "{most} probe threads");
        // Once those stop, an address is probed again.
        until_none_runs();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let peer = listener.local_addr().unwrap();
        let mut seen = 0;
        sample(peer, &mut seen);
        assert!(PROBES.lock().contains_key(&peer));
        until_none_runs();
    }
}
