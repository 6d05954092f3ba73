//! Yielding at run time (issue 23): every connection of a background job
//! feeds its round trips and bytes to the controller of its priority
//! (`engine::model::yielding`), which sets two bounds on all of them: a
//! throttle they pay for each chunk (how fast qmgr reads), and a receive
//! window each socket is clamped to (how much the server may send ahead),
//! so that a cut takes effect within a round trip instead of after the
//! socket's buffer has filled.
//!
//! A connection takes part through a [`Flow`] for as long as it copies a
//! body; FOREGROUND jobs, jobs whose yielding is off, local files and
//! servers on this host (loopback) take no part.

use std::net::{IpAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::engine::model::yielding::{self, Controller};
use crate::engine::runtime::throttle::Throttle;
use crate::engine::types::Priority;
use crate::sync::Mutex;

/// How often a connection reads its round trip (and the job's option).
const SAMPLE_EVERY: Duration = Duration::from_millis(20);
/// How often a controller adjusts its rate.
const ADJUST_EVERY: Duration = Duration::from_millis(50);
/// The longest a connection waits for the throttle at a time: what
/// arrived in a burst (before a cut, or into a large buffer) is paid for
/// over a few rounds, each a fresh look at the socket, not in one stall.
const MAX_WAIT: Duration = Duration::from_millis(100);
/// The least receive window a connection is clamped to: a few segments.
const MIN_WINDOW: u64 = 4096;
/// A clamp so large that the socket's buffer is the limit again.
const UNCLAMPED: u32 = crate::sys::UNBOUNDED_WINDOW;
/// How far the window may run ahead of the rate over a round trip plus
/// the target, so that the throttle, not the window, sets the pace while
/// the queue is below the target.
const WINDOW_SLACK: f64 = 1.5;
/// Unlimited, how far the window may run ahead of what arrives.
const UNLIMITED_SLACK: f64 = 2.0;

/// What a segment's headers weigh in the interfaces' counters: Ethernet
/// (14), IPv4 (20) and TCP with timestamps (32). IPv6 adds 20 bytes a
/// segment, which counts as other traffic (well below its threshold).
const HEADERS: u64 = 66;

/// An interface's name and what it has received: bytes, packets.
type Interface = (String, u64, u64);

/// How long a queue of ours takes to show in the round trips sampled:
/// about a round trip and a sample.
const COUNT_LAG: Duration = Duration::from_millis(25);
/// Packets an interface may count before our sockets without any queue:
/// the two counts are read a moment apart.
const MIN_UNSEEN: i64 = 4;

/// The yielding connections of this process, whose bytes are not "other
/// traffic" to any of them: counted at the same moment as the interfaces,
/// so that a burst is not taken for someone else's.
static METER: Mutex<Meter> = Mutex::new(Meter {
    sockets: Vec::new(),
    ours: (0, 0),
    next_id: 0,
});

struct Meter {
    /// Each connection's socket, with its received counts when last read.
    sockets: Vec<(u64, TcpStream, (u64, u32))>,
    /// All the bytes (with headers) and segments the connections received,
    /// since the process started.
    ours: (u64, u64),
    next_id: u64,
}

impl Meter {
    /// Adds what each socket received since it was last read.
    fn count(&mut self) {
        for (_, socket, counted) in &mut self.sockets {
            if let Some(now) = received(socket) {
                add(&mut self.ours, now, *counted);
                *counted = now;
            }
        }
    }

    /// Starts counting `socket` (from what it has received so far).
    fn join(&mut self, socket: &TcpStream) -> Option<u64> {
        let counted = received(socket)?;
        let socket = socket.try_clone().ok()?;
        let id = self.next_id;
        self.next_id += 1;
        self.sockets.push((id, socket, counted));
        Some(id)
    }

    /// Counts the socket of `id` one last time and forgets it.
    fn leave(&mut self, id: u64) {
        if let Some(i) = self.sockets.iter().position(|(s, _, _)| *s == id) {
            let (_, socket, counted) = self.sockets.swap_remove(i);
            if let Some(now) = received(&socket) {
                add(&mut self.ours, now, counted);
            }
        }
    }
}

/// What `socket` has received: payload bytes and segments (a count that
/// wraps at 2^32).
fn received(socket: &TcpStream) -> Option<(u64, u32)> {
    let info = crate::sys::tcp_receiving(socket)?;
    Some((info.bytes_received?, info.segments_received?))
}

/// Adds to `ours` (bytes as the interfaces count them, with each
/// segment's headers, and segments) what a socket received between two
/// of its counts.
fn add(ours: &mut (u64, u64), now: (u64, u32), before: (u64, u32)) {
    let segments = u64::from(now.1.wrapping_sub(before.1));
    let bytes = now
        .0
        .wrapping_sub(before.0)
        .wrapping_add(segments * HEADERS);
    ours.0 = ours.0.wrapping_add(bytes);
    ours.1 = ours.1.wrapping_add(segments);
}

/// The yielding state of one manager: a controller per background priority.
#[derive(Debug)]
pub(crate) struct Yielding {
    /// HIGH, NORMAL, LOW.
    classes: [Class; 3],
}

/// The connections of one priority, which yield as one flow.
#[derive(Debug)]
struct Class {
    throttle: Throttle,
    state: Mutex<State>,
    /// Connections taking part now.
    flows: AtomicUsize,
}

#[derive(Debug)]
struct State {
    controller: Controller,
    next_adjust: Option<Instant>,
    /// The interfaces' counts (name, bytes, packets) and the yielding
    /// connections' (bytes, segments) at the last adjustment, and when.
    counted: Option<(Vec<Interface>, (u64, u64), Instant)>,
    /// Per interface, the packets it counted that our sockets had not at
    /// the last adjustment ([`yielding::others_on`]).
    unseen: Vec<(String, i64)>,
    /// The segments our yielding sockets received per second: the peak,
    /// decaying.
    segment_rate: f64,
}

impl State {
    /// Tells the controller what the links carried since the last
    /// adjustment, and how much of it was not ours.
    fn count_link(&mut self, now: Instant) {
        let Some(interfaces) = crate::sys::received_traffic() else {
            return;
        };
        let ours = {
            let mut meter = METER.lock();
            meter.count();
            meter.ours
        };
        let before = std::mem::take(&mut self.counted);
        let (our_bytes, our_segments) = match &before {
            Some((_, then, _)) => (ours.0.wrapping_sub(then.0), ours.1.wrapping_sub(then.1)),
            None => (0, 0),
        };
        if let Some(seconds) = before
            .as_ref()
            .map(|(_, _, at)| now.saturating_duration_since(*at).as_secs_f64())
            .filter(|&s| s > 0.0)
        {
            // Up at once, down slowly: a queue filled at a peak drains
            // at the rate that filled it.
            let rate = our_segments as f64 / seconds;
            self.segment_rate = rate.max(0.75 * self.segment_rate + 0.25 * rate);
        }
        // Our packets an interface counted may wait in a queue after it
        // for as long as our queuing delay (capped: the user's traffic
        // lengthens it too), plus the time that delay takes to show.
        let target = self.controller.target();
        let held = self
            .controller
            .queuing_delay()
            .unwrap_or_default()
            .min(2 * target)
            + COUNT_LAG;
        let allowance = (self.segment_rate * held.as_secs_f64()) as i64 + MIN_UNSEEN;
        let mut link = 0;
        let mut others = 0;
        let mut unseen = Vec::with_capacity(interfaces.len());
        for (name, bytes, packets) in &interfaces {
            let Some((_, bytes_then, packets_then)) = before
                .as_ref()
                .and_then(|(list, _, _)| list.iter().find(|(n, _, _)| n == name))
            else {
                continue;
            };
            let bytes = bytes.wrapping_sub(*bytes_then);
            let packets = packets.wrapping_sub(*packets_then);
            // Only an interface our traffic crossed: a tunnel and the
            // device under it, or a device and its ingress mirror (IFB),
            // each carry it once, and must not count it twice.
            if our_segments > 0 && packets < our_segments / 2 {
                continue;
            }
            let mut carried = self
                .unseen
                .iter()
                .find(|(n, _)| n == name)
                .map_or(0, |a| a.1);
            let excess = yielding::others_on(
                (bytes, packets),
                (our_bytes, our_segments),
                &mut carried,
                allowance,
            );
            unseen.push((name.clone(), carried));
            // The busiest path is the one that matters.
            if excess >= others {
                others = excess;
                link = bytes;
            }
        }
        self.unseen = unseen;
        if before.is_some() {
            self.controller.on_link(link.max(our_bytes), others);
        }
        self.counted = Some((interfaces, ours, now));
    }
}

impl Class {
    fn new(target: Duration) -> Class {
        Class {
            throttle: Throttle::new(0),
            state: Mutex::new(State {
                controller: Controller::new(target),
                next_adjust: None,
                counted: None,
                unseen: Vec::new(),
                segment_rate: 0.0,
            }),
            flows: AtomicUsize::new(0),
        }
    }
}

impl Default for Yielding {
    fn default() -> Yielding {
        let class = |p| Class::new(yielding::target(p).unwrap_or(yielding::TARGET));
        Yielding {
            classes: [
                class(Priority::High),
                class(Priority::Normal),
                class(Priority::Low),
            ],
        }
    }
}

impl Yielding {
    fn class(&self, priority: Priority) -> Option<&Class> {
        match priority {
            Priority::Foreground => None,
            Priority::High => Some(&self.classes[0]),
            Priority::Normal => Some(&self.classes[1]),
            Priority::Low => Some(&self.classes[2]),
        }
    }

    /// The part of the connection over `socket` (`None`: not a network
    /// source), which takes part once [`Flow::follow`] says its job yields.
    /// `reusable` is cleared once the socket's buffer is fixed, so that
    /// the connection does not serve a later request with it.
    pub(crate) fn flow<'a>(
        &'a self,
        socket: Option<&'a TcpStream>,
        reusable: Option<&'a AtomicBool>,
    ) -> Flow<'a> {
        // A server on this host shares no link with anyone's traffic.
        let peer = socket
            .and_then(|s| s.peer_addr().ok())
            .map(|a| a.ip())
            .filter(|ip| !ip.is_loopback() && !is_mapped_loopback(ip));
        // Counted from here: what the socket received before (this body's
        // head, an earlier response) is not this flow's.
        let received = socket
            .and_then(crate::sys::tcp_receiving)
            .and_then(|i| i.bytes_received);
        Flow {
            yielding: self,
            class: None,
            socket: socket.filter(|_| peer.is_some()),
            peer,
            next_sample: Instant::now(),
            option: None,
            bytes: 0,
            received,
            clamped: None,
            metered: None,
            reusable,
        }
    }
}

/// `::ffff:127.x.y.z`, which `is_loopback` does not recognise.
fn is_mapped_loopback(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        IpAddr::V4(_) => false,
    }
}

/// One connection's part in its priority's controller, for one body.
pub(crate) struct Flow<'a> {
    yielding: &'a Yielding,
    class: Option<&'a Class>,
    socket: Option<&'a TcpStream>,
    peer: Option<IpAddr>,
    next_sample: Instant,
    /// The job's yielding option as last read, and when to read it again.
    option: Option<(bool, Instant)>,
    /// Bytes read and not yet told to the controller.
    bytes: u64,
    /// The socket's count of received bytes at the last sample.
    received: Option<u64>,
    /// The window the socket is clamped to, if it is.
    clamped: Option<u32>,
    /// The socket's number in the [`METER`], while it takes part.
    metered: Option<u64>,
    /// The connection's permission to serve a later request.
    reusable: Option<&'a AtomicBool>,
}

impl Flow<'_> {
    /// Takes the part a job of `priority` (a `Priority` number, read at
    /// every chunk so that a change to FOREGROUND applies at once) asks
    /// for; none when the job does not yield (`yields`, the job's option,
    /// asked every [`SAMPLE_EVERY`]) or the source is not a network
    /// connection.
    pub(crate) fn follow(&mut self, priority: u32, yields: impl FnOnce() -> bool) {
        if self.socket.is_none() {
            return;
        }
        let now = Instant::now();
        let yields = match self.option {
            Some((yields, until)) if now < until => yields,
            _ => {
                let yields = yields();
                self.option = Some((yields, now + SAMPLE_EVERY));
                yields
            }
        };
        let class = Priority::from_u32(priority)
            .filter(|_| yields)
            .and_then(|p| self.yielding.class(p));
        if class.map(|c| c as *const Class) == self.class.map(|c| c as *const Class) {
            return;
        }
        self.leave();
        if let Some(class) = class {
            class.flows.fetch_add(1, Ordering::Relaxed);
            self.metered = self.socket.and_then(|s| METER.lock().join(s));
        }
        self.class = class;
    }

    /// The largest read that keeps the throttle's waits short.
    pub(crate) fn chunk_size(&self, max: usize) -> usize {
        self.class.map_or(max, |c| c.throttle.chunk_size(max))
    }

    /// Counts `bytes` that arrived, samples the round trip when it is
    /// time, and returns how long to wait before using the bytes.
    pub(crate) fn take(&mut self, bytes: u64) -> Duration {
        let Some(class) = self.class else {
            return Duration::ZERO;
        };
        let info = self.socket.and_then(crate::sys::tcp_receiving);
        // The throttle meters what arrives from the network, not what is
        // read: bytes that waited in the socket's buffer from before a cut
        // cost the link nothing now, and reading them reopens the window.
        let arrived = match (info.and_then(|i| i.bytes_received), self.received) {
            (Some(now), Some(before)) => {
                self.received = Some(now);
                now.saturating_sub(before)
            }
            _ => bytes,
        };
        self.bytes += arrived;
        let now = Instant::now();
        if now >= self.next_sample {
            self.next_sample = now + SAMPLE_EVERY;
            self.sample(class, now, info.and_then(|i| i.round_trip));
        }
        class.throttle.take(arrived).min(MAX_WAIT)
    }

    /// Feeds the controller, adjusts it when due, and clamps the socket's
    /// window to this connection's share of the rate.
    fn sample(&mut self, class: &Class, now: Instant, rtt: Option<Duration>) {
        let Some(peer) = self.peer else {
            return;
        };
        let mut state = class.state.lock();
        state.controller.on_bytes(std::mem::take(&mut self.bytes));
        if let Some(rtt) = rtt {
            state.controller.on_delay(now, peer, rtt);
        }
        if state.next_adjust.is_none_or(|at| now >= at) {
            state.next_adjust = Some(now + ADJUST_EVERY);
            state.count_link(now);
            let rate = state.controller.adjust(now);
            if rate != class.throttle.rate() {
                class.throttle.set_rate(rate);
            }
            class.throttle.limit_debt(MAX_WAIT.as_secs_f64());
        }
        // Unlimited, the window follows what arrives (room to double
        // each round trip): the server never has more in flight than a
        // queue of about the target would hold, so that a cut bites
        // within a round trip, not after megabytes advertised earlier.
        let pace = match state.controller.rate() {
            0 => state.controller.throughput() * UNLIMITED_SLACK,
            rate => rate as f64 * WINDOW_SLACK,
        };
        let window = state.controller.base(peer).map(|base| {
            let flows = class.flows.load(Ordering::Relaxed).max(1) as f64;
            let ahead = (base + state.controller.target()).as_secs_f64();
            ((pace * ahead / flows) as u64).clamp(MIN_WINDOW, u64::from(UNCLAMPED)) as u32
        });
        drop(state);
        if let Some(window) = window {
            self.clamp(window);
        }
    }

    /// Clamps the socket's window, again at every sample: the kernel's
    /// buffer autotuning raises the clamp when it grows the buffer.
    fn clamp(&mut self, window: u32) {
        if let Some(reusable) = self.reusable {
            // A fixed buffer stays fixed: a later request, maybe a
            // FOREGROUND one, must not inherit it.
            reusable.store(false, Ordering::Relaxed);
        }
        if let Some(socket) = self.socket {
            crate::sys::clamp_receive_window(socket, window);
            self.clamped = Some(window);
        }
    }

    fn unclamp(&mut self) {
        if self.clamped.is_some() {
            self.clamp(UNCLAMPED);
            self.clamped = None;
        }
    }

    /// Leaves the class (the connection may serve a FOREGROUND job next).
    fn leave(&mut self) {
        self.unclamp();
        if let Some(class) = self.class.take() {
            class.flows.fetch_sub(1, Ordering::Relaxed);
        }
        if let Some(id) = self.metered.take() {
            METER.lock().leave(id);
        }
    }
}

impl Drop for Flow<'_> {
    fn drop(&mut self) {
        self.leave();
    }
}
