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

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, TcpStream};
#[cfg(feature = "upload")]
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::engine::model::yielding::{self, Controller, Counted, Unseen};
use crate::engine::runtime::throttle::Throttle;
use crate::engine::types::Priority;
use crate::sync::Mutex;

pub(crate) mod probe;
#[cfg(feature = "upload")]
pub(crate) mod sending;

/// How often a connection reads its round trip (and the job's option).
const SAMPLE_EVERY: Duration = Duration::from_millis(20);
/// How often a controller adjusts its rate.
const ADJUST_EVERY: Duration = Duration::from_millis(50);
/// After the rate changed, for this long (at least; twice the path's
/// round trip plus the target if longer, at most [`FORGIVE_MAX`]), debt
/// beyond [`FORGIVE_DEBT`] of the new rate is forgiven: after a cut, what
/// arrives was sent under the window advertised before, and paying it at
/// the floor would stall the connections for seconds; after a rise, the
/// debt of the old rate would hold back the growth. While the rate holds,
/// every byte is paid for.
const FORGIVE_MIN: Duration = Duration::from_millis(100);
const FORGIVE_MAX: Duration = Duration::from_secs(1);
const FORGIVE_DEBT: Duration = Duration::from_millis(100);
/// The longest a connection sleeps for the throttle at a time, before it
/// looks again ([`Flow::owed`]): the debt may have been forgiven, or the
/// rate raised, meanwhile.
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

/// A connection without timestamps whose probes were answered no later
/// than this ago is measured (they come every 100 ms).
const UNPROBED: Duration = Duration::from_millis(500);

/// A connection whose data arrived within this long before a sample is
/// flowing, and its round trip measured (see [`Flow::pay`]).
const FLOWING: Duration = Duration::from_millis(100);

/// The segments a joining connection counts as having just received (a
/// handshake, a TLS one, a response's head), and the payload bytes per
/// segment they count at most.
const JOIN_SEGMENTS: u32 = 16;
const MSS: u64 = 1460;

/// How long a queue of ours takes to show in the round trips sampled:
/// about a round trip and a sample.
const COUNT_LAG: Duration = Duration::from_millis(25);

/// The number of the next [`Flow`].
static NEXT_FLOW: AtomicU64 = AtomicU64::new(0);

/// The yielding connections of this process, whose bytes are not "other
/// traffic" to any of them: counted at the same moment as the interfaces,
/// so that a burst is not taken for someone else's.
static METER: Mutex<Meter> = Mutex::new(Meter {
    sockets: Vec::new(),
    ours: (0, 0),
    next_id: 0,
    probe_answers: 0,
});

struct Meter {
    /// Each connection's socket, with its received counts when last read.
    sockets: Vec<(u64, TcpStream, (u64, u32))>,
    /// All the bytes (with headers) and segments the connections received,
    /// since the process started.
    ours: (u64, u64),
    next_id: u64,
    /// The probes' handshake answers counted so far ([`probe::answers`]).
    probe_answers: u64,
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
        // Each probe's answer: a segment without payload.
        let answers = probe::answers();
        let new = answers.wrapping_sub(self.probe_answers);
        self.probe_answers = answers;
        self.ours.0 = self.ours.0.wrapping_add(new * HEADERS);
        self.ours.1 = self.ours.1.wrapping_add(new);
    }

    /// Starts counting `socket`, with the last [`JOIN_SEGMENTS`] it
    /// received: a new connection's handshakes and the response's head
    /// came in since the interfaces were last counted, and were taken for
    /// someone else's traffic (each new connection of a job dropped its
    /// class to the floor). Not all it ever received: a connection that
    /// served other bodies, or one switched to a background priority
    /// mid-body, would count its whole history at once, and the
    /// interfaces' few packets beside it would say nothing for that count
    /// (and the capacity seen, for minutes).
    fn join(&mut self, socket: &TcpStream) -> Option<u64> {
        let (bytes, segments) = received(socket)?;
        let socket = socket.try_clone().ok()?;
        let id = self.next_id;
        self.next_id += 1;
        let head = (
            bytes.saturating_sub(u64::from(JOIN_SEGMENTS) * MSS),
            segments.saturating_sub(JOIN_SEGMENTS),
        );
        self.sockets.push((id, socket, head));
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

/// The yielding state of one manager: a controller per background
/// priority and direction.
#[derive(Debug)]
pub(crate) struct Yielding {
    /// Downloads: HIGH, NORMAL, LOW.
    classes: [Class; 3],
    /// Uploads: HIGH, NORMAL, LOW. Their queue builds on the way out, a
    /// different link (or direction of it) than the downloads' queue.
    #[cfg(feature = "upload")]
    sending: [Class; 3],
}

/// The connections of one priority, which yield as one flow.
#[derive(Debug)]
struct Class {
    throttle: Throttle,
    state: Mutex<State>,
    /// Upload connections taking part now (downloads count theirs, and
    /// which carry something, in [`State::arrivals`]).
    #[cfg(feature = "upload")]
    flows: AtomicUsize,
    /// A connection waited for the throttle since the last adjustment.
    held: AtomicBool,
}

#[derive(Debug)]
struct State {
    controller: Controller,
    next_adjust: Option<Instant>,
    next_count: Option<Instant>,
    /// The interfaces' counts (name, bytes, packets) and the yielding
    /// connections' (bytes, segments) at the last count, and when.
    counted: Option<(Vec<Interface>, (u64, u64), Instant)>,
    /// Per interface, what its counter carries to the next count, and
    /// whether it is a tunnel.
    unseen: HashMap<String, (Unseen, bool)>,
    /// Until when debt is forgiven, after the rate changed.
    forgive_until: Option<Instant>,
    /// The segments our yielding sockets received per second: the peak,
    /// decaying.
    segment_rate: f64,
    /// Connections taking part now, by their number ([`Flow::id`]): the
    /// address each is connected to, and when bytes last arrived on it.
    /// The windows share what arrives (and a path's own limit) among
    /// those that carry something ([`active_flows`]).
    arrivals: HashMap<u64, (IpAddr, Instant)>,
}

impl State {
    /// Notes that the connection `id` to `peer` takes part at `now`
    /// (`carried`: bytes arrived on it since its last sample), and tells
    /// the controller how many connections carry something: to `peer`,
    /// and in all, whose least windows are in flight whatever the rate.
    /// Returns those two counts ([`active_flows`]). Counted by all of the
    /// class's connections, another user's idle ones (a server that
    /// sends nothing) raised the target towards 100 ms of queue.
    fn take_part(&mut self, id: u64, peer: IpAddr, now: Instant, carried: bool) -> (usize, usize) {
        if carried {
            self.arrivals.insert(id, (peer, now));
        }
        let (active, path_flows) = active_flows(&self.arrivals, peer, now);
        self.controller.on_connections(peer, path_flows);
        self.controller
            .set_least_in_flight(active as u64 * MIN_WINDOW);
        (active, path_flows)
    }

    /// Tells the controller what the links carried since the last count,
    /// and how much of it was not ours.
    fn count_link(&mut self, now: Instant) {
        let Some(interfaces) = crate::sys::received_traffic() else {
            return;
        };
        let ours = {
            let mut meter = METER.lock();
            meter.count();
            meter.ours
        };
        // Counts from before an idle spell say nothing of now.
        let before = std::mem::take(&mut self.counted)
            .filter(|(_, _, at)| now.saturating_duration_since(*at) < yielding::IDLE_RESET);
        let (our_bytes, our_segments) = match &before {
            Some((_, then, _)) => (ours.0.wrapping_sub(then.0), ours.1.wrapping_sub(then.1)),
            None => (0, 0),
        };
        let seconds = before.as_ref().map_or(0.0, |(_, _, at)| {
            now.saturating_duration_since(*at).as_secs_f64()
        });
        if seconds > 0.0 {
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
        let by_delay = (self.segment_rate * held.as_secs_f64()) as i64;
        let mut counted = Vec::with_capacity(interfaces.len());
        let mut unseen = HashMap::with_capacity(interfaces.len());
        let then: HashMap<&str, (u64, u64)> = before
            .as_ref()
            .map(|(list, _, _)| {
                list.iter()
                    .map(|(n, b, p)| (n.as_str(), (*b, *p)))
                    .collect()
            })
            .unwrap_or_default();
        let mut most = 0;
        for (name, bytes, packets) in &interfaces {
            // What an interface learned outlives an idle spell and a
            // count it sat out; it goes only with the interface.
            let (mut carried, tunnel) = self
                .unseen
                .remove(name)
                .unwrap_or_else(|| (Unseen::default(), crate::sys::is_point_to_point(name)));
            // A counter that went back was reset (the interface was made
            // anew, or its driver's counters wrapped): start over with it.
            let counts = then
                .get(name.as_str())
                .and_then(|(b, p)| Some((bytes.checked_sub(*b)?, packets.checked_sub(*p)?)));
            let Some((bytes, packets)) = counts else {
                unseen.insert(name.clone(), (carried, tunnel));
                continue;
            };
            most = most.max(bytes);
            // Only an interface our traffic crossed: a tunnel and the
            // device under it, or a device and its ingress mirror (IFB),
            // each carry it once, and must not count it twice. One that
            // did not keeps what it learned.
            if our_segments == 0 || carried.carries(packets, our_segments) {
                let excess = carried.others(
                    (bytes, packets),
                    (our_bytes, our_segments),
                    by_delay,
                    seconds,
                );
                counted.push(Counted::new(&carried, excess, bytes, tunnel));
            }
            unseen.insert(name.clone(), (carried, tunnel));
        }
        let (others, link) = yielding::busiest(&counted);
        self.unseen = unseen;
        if before.is_some() {
            // Ours as the links saw them: never more than the busiest
            // interface received (a socket's count can jump at once).
            let time = Duration::from_secs_f64(seconds);
            self.controller
                .on_link(link.max(our_bytes.min(most)), others, time);
        }
        self.counted = Some((interfaces, ours, now));
    }
}

impl Class {
    /// Adjusts the controller (telling it first whether the throttle held
    /// a connection back since the last time) and gives the throttle its
    /// verdict; returns the rate before and after.
    fn adjust(&self, state: &mut State, now: Instant) -> (u64, u64) {
        state.next_adjust = Some(now + ADJUST_EVERY);
        let before = self.throttle.rate();
        if self.held.swap(false, Ordering::Relaxed) {
            state.controller.on_held();
        }
        let rate = state.controller.adjust(now);
        if rate != before {
            self.throttle.set_rate(rate);
        }
        (before, rate)
    }

    fn new(target: Duration) -> Class {
        Class {
            throttle: Throttle::new(0),
            state: Mutex::new(State {
                controller: Controller::new(target),
                next_adjust: None,
                next_count: None,
                counted: None,
                unseen: HashMap::new(),
                forgive_until: None,
                segment_rate: 0.0,
                arrivals: HashMap::new(),
            }),
            #[cfg(feature = "upload")]
            flows: AtomicUsize::new(0),
            held: AtomicBool::new(false),
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
            #[cfg(feature = "upload")]
            sending: [
                class(Priority::High),
                class(Priority::Normal),
                class(Priority::Low),
            ],
        }
    }
}

impl Yielding {
    fn class(&self, priority: Priority) -> Option<&Class> {
        Some(&self.classes[class_index(priority)?])
    }

    /// The part of the connection over `socket` (`None`: not a network
    /// source), which takes part once [`Flow::follow`] says its job yields.
    /// `reusable` is cleared once it takes part, so that the connection
    /// does not serve a later request with a clamped window or a fixed
    /// buffer.
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
        let address = socket
            .filter(|_| peer.is_some())
            .and_then(|s| s.peer_addr().ok());
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
            address,
            probed: 0,
            probe_answered: None,
            next_sample: Instant::now(),
            option: JobOption::default(),
            bytes: 0,
            received,
            sampled: None,
            arrived: None,
            clamped: None,
            fixed: false,
            metered: None,
            reusable,
            id: NEXT_FLOW.fetch_add(1, Ordering::Relaxed),
        }
    }
}

/// A background priority's place in [`Yielding`]'s arrays; `None` for
/// FOREGROUND, which never yields.
fn class_index(priority: Priority) -> Option<usize> {
    match priority {
        Priority::Foreground => None,
        Priority::High => Some(0),
        Priority::Normal => Some(1),
        Priority::Low => Some(2),
    }
}

/// A job's yielding option as a connection last read it: read again
/// every [`SAMPLE_EVERY`], not at every chunk (it takes the job's lock).
#[derive(Default)]
struct JobOption(Option<(bool, Instant)>);

impl JobOption {
    /// The class a connection of a job of `priority` (whose yielding
    /// option `yields` reads) belongs in now, among those `classes` has,
    /// if that is not `current`: `Some(None)` to leave it for none.
    fn switch<'a>(
        &mut self,
        current: Option<&'a Class>,
        priority: u32,
        yields: impl FnOnce() -> bool,
        classes: impl FnOnce(Priority) -> Option<&'a Class>,
    ) -> Option<Option<&'a Class>> {
        let yields = self.get(Instant::now(), yields);
        let class = Priority::from_u32(priority)
            .filter(|_| yields)
            .and_then(classes);
        let same = class.map(|c| c as *const Class) == current.map(|c| c as *const Class);
        (!same).then_some(class)
    }

    fn get(&mut self, now: Instant, read: impl FnOnce() -> bool) -> bool {
        match self.0 {
            Some((yields, until)) if now < until => yields,
            _ => {
                let yields = read();
                self.0 = Some((yields, now + SAMPLE_EVERY));
                yields
            }
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
    /// The address connected to, for probes (`probe`).
    address: Option<SocketAddr>,
    /// The number of the last probe's round trip fed to the controller,
    /// and when it came.
    probed: u64,
    probe_answered: Option<Instant>,
    next_sample: Instant,
    /// The job's yielding option.
    option: JobOption,
    /// Bytes read and not yet told to the controller.
    bytes: u64,
    /// The socket's count of received bytes at the last read.
    received: Option<u64>,
    /// The socket's count of received bytes at the last round-trip sample.
    sampled: Option<u64>,
    /// The last sample that saw bytes arrive.
    arrived: Option<Instant>,
    /// The window the socket is clamped to, if it is.
    clamped: Option<u32>,
    /// Whether the socket's buffer was fixed (for the socket's life).
    fixed: bool,
    /// The socket's number in the [`METER`], while it takes part.
    metered: Option<u64>,
    /// The connection's permission to serve a later request.
    reusable: Option<&'a AtomicBool>,
    /// Its number among the class's connections ([`State::arrivals`]).
    id: u64,
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
        let Some(class) = self
            .option
            .switch(self.class, priority, yields, |p| self.yielding.class(p))
        else {
            return;
        };
        self.leave();
        if let Some(class) = class {
            if let Some(peer) = self.peer {
                let now = Instant::now();
                class.state.lock().arrivals.insert(self.id, (peer, now));
            }
            self.metered = self.socket.and_then(|s| METER.lock().join(s));
            // What arrived while the flow did not yield (a body begun at
            // FOREGROUND) is not owed to the throttle: from here on.
            self.received = self
                .socket
                .and_then(crate::sys::tcp_receiving)
                .and_then(|i| i.bytes_received);
            self.sampled = None;
            self.arrived = None;
            // A connection that yielded serves no later request: its
            // window may be clamped and its buffer fixed for good, and a
            // body that ends within a read goes back to the pool before
            // the flow could say so, so it is said at once.
            if let Some(reusable) = self.reusable {
                reusable.store(false, Ordering::Relaxed);
            }
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
        self.pay(class, arrived, || info)
    }

    /// How long to wait before reading again (at most [`MAX_WAIT`]; zero
    /// once what the class took is paid for), adjusting the controller
    /// when it is time. A connection reads only when this is zero: one
    /// that read again after a capped wait would reopen its window, and
    /// six of them could pass several times the rate (at the floor,
    /// 0.3's first yielding let ~240 KB/s through, 40% of a 5 Mbit/s
    /// link, that way).
    pub(crate) fn owed(&mut self) -> Duration {
        let Some(class) = self.class else {
            return Duration::ZERO;
        };
        let socket = self.socket;
        self.pay(class, 0, || socket.and_then(crate::sys::tcp_receiving))
    }

    /// Takes `bytes` from the class's throttle, after a sample when one is
    /// due (`receiving` read only then), and returns the wait, at most
    /// [`MAX_WAIT`]; a wait tells the controller the throttle held.
    fn pay(
        &mut self,
        class: &Class,
        bytes: u64,
        receiving: impl FnOnce() -> Option<crate::sys::Receiving>,
    ) -> Duration {
        let now = Instant::now();
        if now >= self.next_sample {
            self.next_sample = now + SAMPLE_EVERY;
            let info = receiving();
            // The kernel measures the round trip on arriving data: with
            // none since the last sample, its figure is an old one. Said
            // again, it would speak for now: an old high one holds the
            // rate at the floor (where little arrives) for good, an old
            // low one hides the queue the other connections see. Nor
            // after a silence: the first segment after one echoes the
            // timestamp of our last acknowledgement, from before the
            // silence (a sender waiting on our window or its timers), and
            // the kernel takes the silence for a round trip.
            let received = info.and_then(|i| i.bytes_received);
            let fresh = received.is_none() || received != self.sampled;
            let flowing = received.is_none()
                || self
                    .arrived
                    .is_some_and(|at| now.saturating_duration_since(at) <= FLOWING);
            self.sampled = received;
            if fresh {
                self.arrived = Some(now);
            }
            let rtt = match (info, self.address) {
                // The kernel's figure would never grow: a handshake's
                // time stands in for it.
                (Some(i), Some(address)) if i.without_timestamps => {
                    probe::sample(address, &mut self.probed)
                }
                _ => info.and_then(|i| i.round_trip).filter(|_| fresh && flowing),
            };
            // Without timestamps, the connection's own handshake is a
            // base no refused probe can take away. (With them, the
            // kernel's receiver figure is another measure, whose base a
            // handshake's would undercut.)
            let without_timestamps = info.is_some_and(|i| i.without_timestamps);
            let base = info
                .filter(|_| without_timestamps)
                .and_then(|i| i.least_round_trip);
            if without_timestamps && rtt.is_some() {
                self.probe_answered = Some(now);
            }
            // Nothing times its round trip: the probes' handshakes go
            // unanswered (a firewall's limit on new connections, or on
            // purpose). A connection with timestamps is always measured,
            // if sparsely at the floor.
            let unmeasured = without_timestamps
                && self
                    .probe_answered
                    .is_none_or(|at| now.saturating_duration_since(at) > UNPROBED);
            self.sample(class, now, rtt, base, unmeasured);
        }
        let wait = class.throttle.take(bytes);
        if !wait.is_zero() {
            class.held.store(true, Ordering::Relaxed);
        }
        wait.min(MAX_WAIT)
    }

    /// Feeds the controller, adjusts it when due, and clamps the socket's
    /// window to this connection's share of the rate.
    fn sample(
        &mut self,
        class: &Class,
        now: Instant,
        rtt: Option<Duration>,
        base: Option<Duration>,
        unmeasured: bool,
    ) {
        let Some(peer) = self.peer else {
            return;
        };
        let mut state = class.state.lock();
        if let Some(base) = base {
            state.controller.on_base(now, peer, base);
        }
        if let Some(rtt) = rtt {
            state.controller.on_delay(now, peer, rtt);
        }
        let (active, path_flows) = state.take_part(self.id, peer, now, self.bytes > 0);
        state
            .controller
            .on_bytes(peer, std::mem::take(&mut self.bytes));
        // The links are counted at every sample of the class, so that the
        // user's traffic is met within a sample, not an adjustment.
        if state.next_count.is_none_or(|at| now >= at) {
            state.next_count = Some(now + SAMPLE_EVERY);
            state.count_link(now);
        }
        let due = state.next_adjust.is_none_or(|at| now >= at);
        if due || state.controller.others_appearing(now) {
            let (before, rate) = class.adjust(&mut state, now);
            // The rate fell: what arrives next was sent under the old
            // window. Or it rose: what the connections owe at the old
            // rate (the bytes their buffers held while they waited) must
            // not keep them waiting now, or the rate never sees the
            // arrivals it needs to grow on.
            if rate != 0 && rate != before {
                let round_trip =
                    state.controller.base(peer).unwrap_or_default() + state.controller.target();
                state.forgive_until = Some(now + (2 * round_trip).clamp(FORGIVE_MIN, FORGIVE_MAX));
            }
            if state.forgive_until.is_some_and(|until| now < until) {
                class.throttle.limit_debt(FORGIVE_DEBT.as_secs_f64());
            }
        }
        let limited = state.controller.rate() != 0 || state.controller.path_rate(peer).is_some();
        let window = window(&state.controller, peer, active, path_flows, unmeasured);
        drop(state);
        if let Some(window) = window {
            // Limited, the buffer is fixed too (autotuning would lift the
            // clamp between two samples); unlimited, autotuning may grow
            // it, as far as a fast, far server needs.
            self.fixed |= limited;
            self.clamp(window);
        }
    }

    /// Clamps the socket's window, again at every sample: the kernel's
    /// buffer autotuning raises the clamp when it grows the buffer.
    fn clamp(&mut self, window: u32) {
        if let Some(socket) = self.socket {
            crate::sys::clamp_receive_window(socket, window, self.fixed);
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
            if self.peer.is_some() {
                class.state.lock().arrivals.remove(&self.id);
            }
        }
        if let Some(id) = self.metered.take() {
            METER.lock().leave(id);
        }
    }
}

/// How long after bytes last arrived on a connection it still counts
/// among those the windows are shared by.
const ACTIVE_WITHIN: Duration = Duration::from_secs(1);

/// Of the connections in `arrivals`, how many carried something lately
/// ([`ACTIVE_WITHIN`] before `now`), and how many of those are to
/// `peer`: at least one each (the one asking). Counted by all of them,
/// two connections of the class that carried nothing (another user's
/// jobs from a server that sends nothing) held an active one to 4 KiB a
/// round trip: its share of what arrives shrank with each round trip.
fn active_flows(
    arrivals: &HashMap<u64, (IpAddr, Instant)>,
    peer: IpAddr,
    now: Instant,
) -> (usize, usize) {
    let active = || {
        arrivals
            .values()
            .filter(move |(_, at)| now.saturating_duration_since(*at) <= ACTIVE_WITHIN)
    };
    let to_peer = active().filter(|(address, _)| *address == peer).count();
    (active().count().max(1), to_peer.max(1))
}

/// The receive window of a connection to `peer`, one of `flows` of its
/// class that carry something and of `path_flows` to that path, once the
/// path has a base; `unmeasured` when nothing times its round trip.
fn window(
    controller: &Controller,
    peer: IpAddr,
    flows: usize,
    path_flows: usize,
    unmeasured: bool,
) -> Option<u32> {
    // Unlimited, the window follows what arrives (room to double
    // each round trip): the server never has more in flight than a
    // queue of about the target would hold, so that a cut bites
    // within a round trip, not after megabytes advertised earlier.
    // A path whose queue is its own has a limit of its own besides,
    // which only its connections' windows follow.
    let own = controller.path_rate(peer);
    // With no round trip measured (a server without timestamps that
    // answers no probe), no queue would show and cut the rate: the
    // windows then follow what arrives, which bounds the queue they
    // let build to about the base plus twice the target (the rate ran
    // twenty times ahead of what arrived, and filled a 400 ms queue).
    let arriving = controller.throughput() * UNLIMITED_SLACK;
    let pace = match controller.rate() {
        0 => arriving,
        rate if unmeasured => arriving.min(rate as f64 * WINDOW_SLACK),
        rate => rate as f64 * WINDOW_SLACK,
    };
    controller.base(peer).map(|base| {
        let ahead = (base + controller.target()).as_secs_f64();
        let mut window = pace * ahead / flows as f64;
        if let Some(own) = own {
            window = window.min(own as f64 * WINDOW_SLACK * ahead / path_flows as f64);
        }
        (window as u64).clamp(MIN_WINDOW, u64::from(UNCLAMPED)) as u32
    })
}

impl Drop for Flow<'_> {
    fn drop(&mut self) {
        self.leave();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One connection of a class that downloads from a mirror (base
    /// 50 ms, on a 2 MB/s link with no queue) beside `idle` connections
    /// of the class that carry nothing (another user's jobs from a server
    /// that keeps its bodies open and sends nothing). Each 50 ms the
    /// mirror sends a window, as far as the link carries. Returns what
    /// the connection got per second over the last 5 s of 10.
    fn beside_idle_connections(idle: usize) -> f64 {
        const LINK: u64 = 100_000;
        let mirror = IpAddr::from([10, 0, 0, 1]);
        let t0 = Instant::now();
        let mut c = Controller::new(yielding::TARGET_LOW);
        let mut got = 0;
        let mut window_now: u64 = 64 * 1024;
        // The idle ones joined with the active one, and carried nothing
        // since (their server sent a head, then nothing).
        let slow = IpAddr::from([10, 0, 0, 2]);
        let mut arrivals: HashMap<u64, (IpAddr, Instant)> =
            (1..=idle as u64).map(|id| (id, (slow, t0))).collect();
        for i in 0..200u64 {
            let now = t0 + Duration::from_millis(i * 50);
            let bytes = window_now.min(LINK);
            arrivals.insert(0, (mirror, now));
            c.on_delay(now, mirror, Duration::from_millis(50));
            c.on_bytes(mirror, bytes);
            c.adjust(now);
            let (flows, path_flows) = active_flows(&arrivals, mirror, now);
            window_now = u64::from(window(&c, mirror, flows, path_flows, false).expect("a base"));
            if i >= 100 {
                got += bytes;
            }
        }
        got as f64 / 5.0
    }

    #[test]
    fn idle_connections_of_the_class_do_not_lengthen_the_queue_it_keeps() {
        // 23 connections of another user's jobs joined and carried
        // nothing since; one connection downloads at 1 MB/s, the
        // link's capacity. Its least window alone (4 KiB, 4 ms there)
        // leaves the target at 15 ms; 24 of them (96 KiB, 98 ms) would
        // have kept a queue of 98 ms.
        let class = Class::new(yielding::TARGET_LOW);
        let mut state = class.state.lock();
        let t0 = Instant::now();
        let (slow, mirror) = (IpAddr::from([10, 0, 0, 2]), IpAddr::from([10, 0, 0, 1]));
        for id in 1..=23 {
            state.arrivals.insert(id, (slow, t0));
        }
        for i in 1..=40u64 {
            let now = t0 + Duration::from_millis(1_000 + i * 50);
            assert_eq!(state.take_part(0, mirror, now, true), (1, 1));
            state
                .controller
                .on_link(50_000, 0, Duration::from_millis(50));
            state.controller.on_bytes(mirror, 50_000);
            state.controller.adjust(now);
        }
        assert_eq!(state.controller.target(), yielding::TARGET_LOW);
    }

    #[test]
    fn idle_connections_of_the_class_do_not_starve_an_active_one() {
        let alone = beside_idle_connections(0);
        assert!(alone > 1_500_000.0, "alone it got {alone:.0} B/s");
        // Another user's 23 connections (the manager's cap is 24) that
        // carry nothing must not hold it to a window of 4 KiB a round
        // trip (82 KB/s).
        let beside = beside_idle_connections(23);
        assert!(beside > 1_500_000.0, "beside them it got {beside:.0} B/s");
    }
}
