//! Yielding (issue 23): the rate controller that keeps background
//! transfers to the network's idle capacity, as a pure model driven by the
//! caller's clock and delay samples.
//!
//! It is LEDBAT (RFC 6817) run by the receiver (rLEDBAT, RFC 9840), with
//! LEDBAT++'s periodic slowdowns: the receiver cannot change the server's
//! congestion control, but it decides how fast it reads (a throttle every
//! background connection of a manager pays) and how much it lets the
//! server send ahead (the receive window), which together bound the queue
//! its own traffic builds.
//!
//! - The *base delay* of a path (a server's address) is the least round
//!   trip seen on it: the path without queues. It is the minimum of
//!   per-interval minima over the last [`BASE_HISTORY`] intervals of
//!   [`BASE_INTERVAL`], so that a longer route learned later replaces it.
//!   Each path has its own: a far server's round trip is not queuing.
//! - A path's *current delay* is its least sample between two adjustments
//!   (one noisy sample among others does not count); the *queuing delay*
//!   is the largest of the paths' current delay minus their base.
//! - Each [`Controller::adjust`] compares the queuing delay with the
//!   target: above, the rate is cut in proportion (at most halved); below,
//!   it grows in proportion to the room left (multiplicatively, so that a
//!   fast link is filled within seconds), and once it runs well ahead of
//!   what actually arrives, the limit is lifted (nothing queues: the link
//!   is not the bottleneck).
//! - While limited, every [`SLOWDOWN_EVERY`] the rate drops to the floor
//!   for a moment ([`Controller::slowing_down`]), so that the queue our own
//!   traffic keeps drains and the base delay can be measured afresh.
//! - After [`IDLE_RESET`] without an adjustment (no background transfer
//!   ran), the limit is forgotten: the next transfer probes afresh.
//!
//! All the manager's background connections of one priority feed one
//! controller, so that six segments yield as one flow. FOREGROUND jobs,
//! and jobs whose yielding is off, never pay it.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::engine::types::Priority;

/// LEDBAT++'s target queuing delay, which HIGH jobs use.
pub(crate) const TARGET: Duration = Duration::from_millis(60);
/// The target of NORMAL and LOW jobs: a short queue, so that the user's
/// own requests wait little behind a background download.
pub(crate) const TARGET_LOW: Duration = Duration::from_millis(15);
/// The width of one base-delay interval.
pub(crate) const BASE_INTERVAL: Duration = Duration::from_secs(60);
/// How many intervals the base delay remembers (RFC 6817: 10 minutes).
pub(crate) const BASE_HISTORY: usize = 10;
/// The most paths remembered; the one seen longest ago goes first.
const MAX_PATHS: usize = 16;
/// The least rate the controller sets, in bytes per second: slow enough to
/// let a queue drain, fast enough to keep sampling.
pub(crate) const FLOOR: f64 = 16.0 * 1024.0;
/// How often, while limited, the rate drops to the floor to re-learn the
/// base delay; and for how long (at least two base round trips).
pub(crate) const SLOWDOWN_EVERY: Duration = Duration::from_secs(30);
pub(crate) const SLOWDOWN_FOR: Duration = Duration::from_millis(200);
/// A pause in adjustments this long forgets the limit.
pub(crate) const IDLE_RESET: Duration = Duration::from_secs(5);

/// The target queuing delay of a job of `priority`; `None` for FOREGROUND,
/// which never yields.
pub(crate) fn target(priority: Priority) -> Option<Duration> {
    match priority {
        Priority::Foreground => None,
        Priority::High => Some(TARGET),
        Priority::Normal | Priority::Low => Some(TARGET_LOW),
    }
}

/// What the controller knows of one path.
#[derive(Debug)]
struct Path {
    address: IpAddr,
    /// (interval start, least delay seen in it), oldest first.
    base: VecDeque<(Instant, Duration)>,
    /// The least sample since the last adjustment.
    sampled: Option<Duration>,
    /// When the last sample came.
    seen: Instant,
}

impl Path {
    fn base(&self) -> Option<Duration> {
        self.base.iter().map(|&(_, d)| d).min()
    }
}

/// The controller of one manager's background transfers of one priority.
#[derive(Debug)]
pub(crate) struct Controller {
    target: Duration,
    paths: Vec<Path>,
    /// The last adjustment's queuing delay.
    current: Option<Duration>,
    /// `None`: unlimited.
    rate: Option<f64>,
    /// Bytes that arrived since the last adjustment, and when that was.
    arrived: u64,
    adjusted: Option<Instant>,
    /// While limited: when the last slowdown ended, and when the current
    /// one ends (with the rate to go back to).
    last_slowdown: Option<Instant>,
    slowdown: Option<(Instant, f64)>,
    /// Bytes this host's links received since the last adjustment: all of
    /// them, and those of other traffic than ours.
    link: u64,
    others: u64,
    /// The most the links were seen to carry, in bytes per second.
    capacity: f64,
    /// Other traffic was seen at the last adjustment.
    others_active: bool,
    /// What arrived per second, smoothed.
    throughput: f64,
}

impl Controller {
    /// A controller aiming at `target` queuing delay, unlimited until it
    /// sees queuing.
    pub(crate) fn new(target: Duration) -> Controller {
        Controller {
            target,
            paths: Vec::new(),
            current: None,
            rate: None,
            arrived: 0,
            adjusted: None,
            last_slowdown: None,
            slowdown: None,
            link: 0,
            others: 0,
            capacity: 0.0,
            others_active: false,
            throughput: 0.0,
        }
    }

    /// Bytes this host's network links received (`link`), of which
    /// `others` were not qmgr's background transfers: the user's own
    /// traffic, which background jobs give way to even where it builds no
    /// queue (a fair queue at the bottleneck, a short one).
    pub(crate) fn on_link(&mut self, link: u64, others: u64) {
        self.link = self.link.saturating_add(link);
        self.others = self.others.saturating_add(others);
    }

    /// After the delay's verdict: where other traffic runs on this host,
    /// leave it the capacity it uses and some: at once down to the floor
    /// when it appears (it may want the whole link), then at most what
    /// the capacity leaves over it.
    fn leave_room(
        &mut self,
        now: Instant,
        since: Duration,
        (link, others): (u64, u64),
        throughput: f64,
    ) -> Option<f64> {
        let seconds = since.as_secs_f64();
        if seconds <= 0.0 {
            return self.rate;
        }
        let (link, others) = (link as f64 / seconds, others as f64 / seconds);
        self.capacity = (self.capacity * CAPACITY_DECAY.powf(seconds)).max(link);
        let ours = link - others;
        let active = others
            > OTHERS_MIN
                .max(OTHERS_SHARE * self.capacity)
                .max(OWN_NOISE * ours);
        let appeared = active && !self.others_active;
        self.others_active = active;
        if !active {
            return self.rate;
        }
        if self.rate.is_none() {
            self.last_slowdown = Some(now);
        }
        if appeared {
            return Some(FLOOR);
        }
        let room = (self.capacity * (1.0 - OTHERS_SHARE) - OTHERS_HEADROOM * others).max(FLOOR);
        Some(self.rate.unwrap_or(throughput).min(room).max(FLOOR))
    }

    /// The target queuing delay.
    pub(crate) fn target(&self) -> Duration {
        self.target
    }

    /// A round trip to `address` measured at `now` by any of the connections.
    pub(crate) fn on_delay(&mut self, now: Instant, address: IpAddr, rtt: Duration) {
        let index = match self.paths.iter().position(|p| p.address == address) {
            Some(i) => i,
            None => {
                if self.paths.len() >= MAX_PATHS {
                    let oldest = (0..self.paths.len()).min_by_key(|&i| self.paths[i].seen);
                    self.paths.swap_remove(oldest.unwrap_or(0));
                }
                self.paths.push(Path {
                    address,
                    base: VecDeque::new(),
                    sampled: None,
                    seen: now,
                });
                self.paths.len() - 1
            }
        };
        let path = &mut self.paths[index];
        path.seen = path.seen.max(now);
        match path.base.back_mut() {
            Some((start, least)) if now.saturating_duration_since(*start) < BASE_INTERVAL => {
                *least = (*least).min(rtt);
            }
            _ => {
                path.base.push_back((now, rtt));
                while path.base.len() > BASE_HISTORY {
                    path.base.pop_front();
                }
            }
        }
        path.sampled = Some(path.sampled.map_or(rtt, |least| least.min(rtt)));
    }

    /// `bytes` arrived on any of the connections.
    pub(crate) fn on_bytes(&mut self, bytes: u64) {
        self.arrived = self.arrived.saturating_add(bytes);
    }

    /// The base delay of the path to `address`, once it has a sample.
    pub(crate) fn base(&self, address: IpAddr) -> Option<Duration> {
        self.paths
            .iter()
            .find(|p| p.address == address)
            .and_then(Path::base)
    }

    /// The queuing delay the samples show (the largest over the paths
    /// sampled since the last adjustment, else the last adjustment's), if
    /// there are any.
    pub(crate) fn queuing_delay(&self) -> Option<Duration> {
        let sampled = self
            .paths
            .iter()
            .filter_map(|p| Some(p.sampled?.saturating_sub(p.base()?)))
            .max();
        sampled.or(self.current)
    }

    /// What arrived per second, smoothed over the last adjustments.
    pub(crate) fn throughput(&self) -> f64 {
        self.throughput
    }

    /// The rate the throttle should have, in bytes per second (0: none).
    pub(crate) fn rate(&self) -> u64 {
        match (self.slowdown, self.rate) {
            (Some(_), _) => FLOOR as u64,
            (None, Some(rate)) => rate as u64,
            (None, None) => 0,
        }
    }

    /// Whether the rate is at the floor for a moment, to re-learn the base.
    #[cfg(test)]
    pub(crate) fn slowing_down(&self) -> bool {
        self.slowdown.is_some()
    }

    /// Looks at the delay since the last call and sets the rate; call it
    /// about once per round trip (every 50 to 200 ms). Returns the new
    /// rate ([`Controller::rate`]).
    pub(crate) fn adjust(&mut self, now: Instant) -> u64 {
        let since = self
            .adjusted
            .map_or(Duration::ZERO, |at| now.saturating_duration_since(at));
        self.adjusted = Some(now);
        let arrived = std::mem::take(&mut self.arrived);
        let throughput = match since.as_secs_f64() {
            s if s > 0.0 => arrived as f64 / s,
            _ => 0.0,
        };
        self.throughput = 0.75 * self.throughput + 0.25 * throughput;
        let link = (
            std::mem::take(&mut self.link),
            std::mem::take(&mut self.others),
        );
        let queuing = self.queuing_delay();
        self.current = queuing;
        for path in &mut self.paths {
            path.sampled = None;
        }
        if let Some(forgotten) = now.checked_sub(BASE_INTERVAL * BASE_HISTORY as u32) {
            self.paths.retain(|p| p.seen > forgotten);
        }
        if since >= IDLE_RESET {
            self.rate = None;
            self.slowdown = None;
            self.last_slowdown = None;
        }
        if let Some((until, resume)) = self.slowdown {
            if now < until {
                return self.rate();
            }
            self.slowdown = None;
            self.last_slowdown = Some(now);
            self.rate = Some(resume);
            return self.rate();
        }
        let queuing = queuing.unwrap_or_default();
        let target = self.target.as_secs_f64();
        let off = (target - queuing.as_secs_f64()) / target;
        self.rate = match self.rate {
            // Queuing past the target while unlimited: start from what
            // arrives, cut as below; the first slowdown is a period away.
            None if off < 0.0 => {
                self.last_slowdown = Some(now);
                Some(cut(throughput.max(FLOOR), off))
            }
            None => None,
            Some(rate) if off < 0.0 => Some(cut(rate, off)),
            // Room left: grow in proportion, but not past a few times what
            // arrives: the limit stays, so that a queue that comes back is
            // met at once (the window the runtime derives from it keeps
            // our own queue short meanwhile).
            Some(rate) => {
                let grown = rate * (1.0 + GAIN * off);
                Some(grown.min((AHEAD * throughput).max(rate)).max(FLOOR))
            }
        };
        self.rate = self.leave_room(now, since, link, throughput);
        if let Some(rate) = self.rate {
            let due = self
                .last_slowdown
                .is_none_or(|at| now.saturating_duration_since(at) >= SLOWDOWN_EVERY);
            if due {
                self.slowdown = Some((now + SLOWDOWN_FOR, rate));
            }
        } else {
            self.last_slowdown = None;
        }
        self.rate()
    }
}

/// Other traffic below this many bytes per second, or below this share
/// of the capacity, is background noise, not the user's.
const OTHERS_MIN: f64 = 32.0 * 1024.0;
const OTHERS_SHARE: f64 = 0.02;
/// Other traffic below this share of ours may be an error in counting ours
/// (headers, bytes that came before a connection was counted).
const OWN_NOISE: f64 = 0.03;
/// Other traffic is left this many times what it uses, while it runs.
const OTHERS_HEADROOM: f64 = 1.25;
/// How much the capacity estimate decays per second, so that a link
/// that became slower is believed within minutes.
const CAPACITY_DECAY: f64 = 0.995;

/// The largest packet other traffic is counted at (an Ethernet frame).
pub(crate) const MAX_PACKET: u64 = 1514;

/// What one network interface received since the last count (`bytes`,
/// `packets`) beside what qmgr's yielding sockets received (`ours`: bytes
/// with headers, segments): how many of those bytes were other traffic.
///
/// Packets tell other traffic from ours: every segment that reached our
/// sockets counts, also one a socket then drops (beyond its window, a
/// duplicate), whose bytes do not. `unseen` carries from one count to
/// the next the packets the interface counted and our sockets did not:
/// - below zero, ours were read a moment after the interface's and ran
///   ahead; the interface makes up for it next time;
/// - above zero, up to `allowance`, ours may still wait in a queue
///   *after* the interface's counter (an ingress shaper through an IFB
///   device), which our sockets count once it drains. The caller sizes
///   the allowance from our own queuing delay: a queue of ours cannot
///   hold more than our rate over that delay.
///
/// Only what grew past the allowance in this count is other traffic; an
/// allowance that shrank forgets the rest without calling it anyone's.
pub(crate) fn others_on(
    (bytes, packets): (u64, u64),
    (our_bytes, our_segments): (u64, u64),
    unseen: &mut i64,
    allowance: i64,
) -> u64 {
    let growth = packets as i64 - our_segments as i64;
    let balance = unseen.saturating_add(growth);
    let allowance = allowance.max(0);
    let excess = (balance - allowance).clamp(0, growth.max(0));
    *unseen = balance.min(allowance);
    bytes
        .saturating_sub(our_bytes)
        .min(excess as u64 * MAX_PACKET)
}

/// How far the rate may grow ahead of what arrives.
const AHEAD: f64 = 4.0;

/// How fast the rate grows with room below the target: by up to this
/// share per adjustment.
const GAIN: f64 = 0.25;

/// `rate` cut for a queuing delay `1 - off` times the target (`off` < 0):
/// in proportion to how far past it, at most by half, never below the floor.
fn cut(rate: f64, off: f64) -> f64 {
    (rate * (1.0 + 0.5 * off).max(0.5)).max(FLOOR)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> Instant {
        use std::sync::OnceLock;
        static T0: OnceLock<Instant> = OnceLock::new();
        *T0.get_or_init(Instant::now)
    }

    fn at(ms: u64) -> Instant {
        t0() + Duration::from_millis(ms)
    }

    fn path(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Feeds one round trip of `rtt` and `bytes` at `time` ms, then adjusts.
    fn step(c: &mut Controller, time: u64, rtt: u64, bytes: u64) -> u64 {
        c.on_delay(at(time), path(1), ms(rtt));
        c.on_bytes(bytes);
        c.adjust(at(time))
    }

    /// Counts `(interface packets, our segments)` in turn on one interface
    /// with full-size packets, and returns the other traffic each time in
    /// packets.
    fn others_seen(counts: &[(u64, u64)], allowance: i64) -> Vec<u64> {
        let mut unseen = 0;
        counts
            .iter()
            .map(|&(packets, ours)| {
                let bytes = others_on(
                    (packets * MAX_PACKET, packets),
                    (ours * MAX_PACKET, ours),
                    &mut unseen,
                    allowance,
                );
                bytes / MAX_PACKET
            })
            .collect()
    }

    #[test]
    fn ours_read_late_is_made_up_not_taken_for_others() {
        // Our sockets counted 5 packets the interface had not yet.
        assert_eq!(
            others_seen(&[(95, 100), (105, 100), (100, 100)], 0),
            [0, 0, 0]
        );
        // Beyond what was made up, it is someone else's.
        assert_eq!(others_seen(&[(95, 100), (125, 100)], 0), [0, 20]);
    }

    #[test]
    fn a_queue_after_the_counter_is_ours_up_to_the_allowance() {
        // An ingress queue fills with 40 of our packets, holds them, then
        // drains: none of it is other traffic with an allowance of 50.
        let filling = [(120, 100), (120, 100), (100, 100), (80, 100), (80, 100)];
        assert_eq!(others_seen(&filling, 50), [0, 0, 0, 0, 0]);
        // Without one, the filling queue looked like someone's traffic:
        // what 0.3's first yielding did with an IFB on the client.
        assert_eq!(others_seen(&filling, 0), [20, 20, 0, 0, 0]);
        // Other traffic past the allowance is seen, each packet once.
        assert_eq!(
            others_seen(&[(130, 100), (130, 100), (130, 100)], 50),
            [0, 10, 30]
        );
    }

    #[test]
    fn a_shrinking_allowance_is_not_other_traffic() {
        let mut unseen = 0;
        let count = |unseen: &mut i64, packets: u64, allowance| {
            others_on(
                (packets * 1500, packets),
                (100 * 1500, 100),
                unseen,
                allowance,
            )
        };
        assert_eq!(count(&mut unseen, 160, 80), 0);
        assert_eq!(unseen, 60);
        // Our rate was cut: the allowance falls below what is held.
        assert_eq!(count(&mut unseen, 100, 10), 0);
        assert_eq!(unseen, 10);
        // Bytes cap the packets: a packet beyond ours counts at its size.
        assert_eq!(count(&mut unseen, 105, 10), 5 * 1500);
    }

    #[test]
    fn no_queuing_no_limit() {
        let mut c = Controller::new(TARGET);
        assert_eq!(c.adjust(at(0)), 0, "no sample yet");
        for i in 0..50 {
            assert_eq!(step(&mut c, i * 100, 50 + i % 3, 1 << 20), 0);
        }
        assert!(c.queuing_delay() <= Some(ms(2)));
    }

    #[test]
    fn delay_past_the_target_cuts_the_rate_and_room_grows_it() {
        let mut c = Controller::new(TARGET);
        step(&mut c, 0, 50, 0);
        // 1 MiB per 100 ms arrives while the round trip grows by 140 ms of
        // queue: limited, below what arrives (10 MiB/s).
        let first = step(&mut c, 100, 190, 1 << 20);
        assert!(first > 0 && first < 10 << 20, "{first}");
        assert!(!c.slowing_down(), "the first slowdown is a period away");
        // Still queuing hard: cut again, at most by half each time.
        let mut rate = first;
        for i in 0..4 {
            let next = step(&mut c, 200 + i * 100, 200, rate / 10);
            assert!(next < rate && next >= rate / 2, "{rate} -> {next}");
            rate = next;
        }
        // The queue drains (the round trip is the base again): it grows,
        // as long as what arrives keeps up.
        for i in 0..4 {
            let next = step(&mut c, 700 + i * 100, 50, rate / 10);
            assert!(next > rate, "{rate} -> {next}");
            rate = next;
        }
        // Never below the floor.
        let mut c = Controller::new(TARGET);
        step(&mut c, 0, 10, 0);
        for i in 1..40 {
            step(&mut c, i * 100, 2_000, 0);
        }
        assert!(c.rate() >= FLOOR as u64);
    }

    #[test]
    fn the_rate_grows_no_further_than_a_few_times_what_arrives() {
        let mut c = Controller::new(TARGET);
        step(&mut c, 0, 20, 0);
        assert!(step(&mut c, 100, 200, 100 << 10) > 0);
        step(&mut c, 350, 20, 0); // the slowdown ends
                                  // No queue, and little arrives (the source is the limit): the rate
                                  // grows to a few times what arrives and stays there, limited, so
                                  // that a queue that comes back is met at once.
        let start = c.rate() as f64;
        let mut time = 450;
        for _ in 0..100 {
            step(&mut c, time, 20, 10 << 10);
            time += 100;
        }
        let arriving = (10 << 10) as f64 * 10.0;
        let rate = c.rate() as f64;
        assert!(
            rate > arriving && rate <= start.max(AHEAD * arriving * 1.01),
            "{start} -> {rate}"
        );
    }

    #[test]
    fn other_traffic_on_the_host_gets_the_link_at_once_then_what_it_uses() {
        let mut c = Controller::new(TARGET_LOW);
        // Alone: 2.5 MB/s over the link, no queue, unlimited.
        let mut time = 0;
        for _ in 0..20 {
            c.on_link(125_000, 0);
            step(&mut c, time, 1, 125_000);
            time += 50;
        }
        assert_eq!(c.rate(), 0);
        // The user's download starts: the floor at once, without a queue.
        c.on_link(125_000, 30_000);
        assert_eq!(step(&mut c, time, 1, 95_000), FLOOR as u64);
        // It takes the whole link: the rate stays at the floor.
        for _ in 0..20 {
            time += 50;
            c.on_link(125_000, 124_000);
            assert_eq!(step(&mut c, time, 1, 1_000), FLOOR as u64);
        }
        // A stream of 1 MB/s: the rest of the link, less headroom, comes back.
        for _ in 0..60 {
            time += 50;
            let ours = c.rate() / 20;
            c.on_link(50_000 + ours, 50_000);
            step(&mut c, time, 1, ours);
        }
        let rate = c.rate() as f64;
        assert!(rate > 800_000.0 && rate < 1_300_000.0, "{rate}");
        // A packet or two now and then (ARP, NTP, a keep-alive, counting
        // noise) is not the user's traffic.
        let mut c = Controller::new(TARGET_LOW);
        for i in 0..40 {
            c.on_link(125_000, 1_500);
            step(&mut c, i * 50, 1, 123_500);
        }
        assert_eq!(c.rate(), 0);
    }

    #[test]
    fn the_base_delay_is_relearned_when_the_route_changes() {
        let mut c = Controller::new(TARGET);
        step(&mut c, 0, 10, 0);
        // A longer route: 100 ms without any queue. Within the base
        // history it looks like 90 ms of queuing...
        for minute in 1..=3 {
            step(&mut c, minute * 60_000, 100, 0);
        }
        assert_eq!(c.queuing_delay(), Some(ms(90)));
        // ...and once the old minimum has left the history, like none.
        for minute in 4..=(BASE_HISTORY as u64 + 1) {
            step(&mut c, minute * 60_000, 100, 0);
        }
        assert_eq!(c.queuing_delay(), Some(ms(0)));
    }

    #[test]
    fn one_noisy_sample_is_not_the_current_delay() {
        let mut c = Controller::new(TARGET);
        step(&mut c, 0, 30, 0);
        for i in 1..4 {
            c.on_delay(at(i), path(1), ms(30));
        }
        c.on_delay(at(10), path(1), ms(500));
        assert_eq!(c.queuing_delay(), Some(ms(0)));
    }

    #[test]
    fn samples_of_every_connection_feed_one_controller() {
        // Six segments, each seeing the queue the others build: one rate.
        let mut c = Controller::new(TARGET);
        for conn in 0..6u64 {
            c.on_delay(at(conn), path(1), ms(40));
        }
        c.adjust(at(10));
        for conn in 0..6u64 {
            c.on_delay(at(100 + conn), path(1), ms(180 + conn));
            c.on_bytes(200 << 10);
        }
        let rate = c.adjust(at(110));
        assert!(rate > 0, "queuing seen across the connections");
        // What arrived on all six (1.2 MiB in 100 ms) is where the cut
        // starts from.
        assert!(rate < 12 << 20, "{rate}");
    }

    #[test]
    fn while_limited_the_rate_dips_to_the_floor_now_and_then() {
        let mut c = Controller::new(TARGET);
        step(&mut c, 0, 20, 0);
        step(&mut c, 100, 120, 1 << 20);
        let mut dips = 0;
        let mut time = 100;
        while time < 100 + 3 * SLOWDOWN_EVERY.as_millis() as u64 {
            time += 100;
            // A queue of the target, and what the throttle lets through
            // arrives: the rate holds.
            let arriving = c.rate() / 10;
            step(&mut c, time, 80, arriving);
            assert!(c.rate() > 0, "the limit went at {time} ms");
            if c.slowing_down() {
                dips += 1;
            }
        }
        // One dip per period, each of SLOWDOWN_FOR (two adjustments of
        // 100 ms): three periods.
        let per_dip = (SLOWDOWN_FOR.as_millis() / 100) as usize;
        assert!((2 * per_dip..=4 * per_dip).contains(&dips), "{dips} dips");
    }

    #[test]
    fn each_path_has_its_own_base_delay() {
        // A near mirror (5 ms) and a far server (150 ms), neither queuing:
        // the far one's round trip is its path, not a queue.
        let mut c = Controller::new(TARGET_LOW);
        for i in 0..20 {
            c.on_delay(at(i * 100), path(1), ms(5));
            c.on_delay(at(i * 100), path(2), ms(150));
            c.on_bytes(1 << 20);
            assert_eq!(c.adjust(at(i * 100)), 0);
        }
        assert_eq!(c.base(path(2)), Some(ms(150)));
        // The far path's queue grows: that is queuing, whatever the near
        // path shows.
        c.on_delay(at(2_000), path(1), ms(5));
        c.on_delay(at(2_000), path(2), ms(250));
        c.on_bytes(1 << 20);
        assert!(c.adjust(at(2_000)) > 0);
        assert_eq!(c.queuing_delay(), Some(ms(100)));
    }

    #[test]
    fn an_idle_spell_forgets_the_limit() {
        let mut c = Controller::new(TARGET);
        step(&mut c, 0, 20, 0);
        assert!(step(&mut c, 100, 200, 1 << 20) > 0);
        // Nothing ran for longer than IDLE_RESET: the next transfer starts
        // unlimited and finds its own rate.
        let later = 100 + IDLE_RESET.as_millis() as u64;
        assert_eq!(step(&mut c, later, 20, 0), 0);
    }

    #[test]
    fn foreground_never_yields_and_high_queues_more_than_low() {
        assert_eq!(target(Priority::Foreground), None);
        assert!(target(Priority::High) > target(Priority::Low));
        assert_eq!(target(Priority::Normal), target(Priority::Low));
    }
}
