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
/// The most paths remembered; the one that carries least of our bytes
/// goes first (of those, the one seen longest ago), so that a server with
/// many addresses (an IPv6 prefix) cannot push out a busy path's base.
const MAX_PATHS: usize = 64;
/// The least rate the controller sets, in bytes per second: slow enough to
/// let a queue drain, fast enough to keep sampling.
pub(crate) const FLOOR: f64 = 16.0 * 1024.0;
/// How often, while limited, the rate drops to the floor to re-learn the
/// base delay; and for how long (at least two base round trips).
pub(crate) const SLOWDOWN_EVERY: Duration = Duration::from_secs(30);
pub(crate) const SLOWDOWN_FOR: Duration = Duration::from_millis(200);
/// A pause in adjustments this long forgets the limit.
pub(crate) const IDLE_RESET: Duration = Duration::from_secs(5);
/// The most the target grows to for what the connections hold in flight
/// at the least (RFC 6817: a target of at most 100 ms).
pub(crate) const MAX_TARGET: Duration = Duration::from_millis(100);

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
    /// Our bytes that came over it since the last adjustment, and per
    /// adjustment, smoothed; and per second, smoothed.
    bytes: u64,
    carried: f64,
    throughput: f64,
    /// While its queue was past the target and another busy path's
    /// short: since when, and when that was last seen
    /// ([`Controller::judge_paths`]).
    alone: Option<(Instant, Instant)>,
    /// Its own limit, while its queue is its own.
    own: Option<OwnLimit>,
    /// The connections to it now (at least one).
    connections: usize,
}

impl Path {
    fn new(address: IpAddr, now: Instant) -> Path {
        Path {
            address,
            base: VecDeque::new(),
            sampled: None,
            seen: now,
            bytes: 0,
            carried: 0.0,
            throughput: 0.0,
            alone: None,
            own: None,
            connections: 1,
        }
    }

    fn base(&self) -> Option<Duration> {
        self.base.iter().map(|&(_, d)| d).min()
    }

    /// The queuing delay its samples since the last adjustment show.
    fn queuing(&self) -> Option<Duration> {
        Some(self.sampled?.saturating_sub(self.base()?))
    }

    /// Whether its queue has been its own for [`ALONE_FOR`] at `now`.
    fn isolated(&self, now: Instant) -> bool {
        self.alone
            .is_some_and(|(since, _)| now.saturating_duration_since(since) >= ALONE_FOR)
    }
}

/// The limit of a path whose queue is its own: a rate its connections'
/// receive windows follow (rLEDBAT's way), cut and grown on its own
/// queuing delay as the class's rate is on the class's.
#[derive(Debug, Clone, Copy)]
struct OwnLimit {
    rate: f64,
    /// No other cut before this.
    holds_until: Instant,
}

/// The controller of one manager's background transfers of one priority.
#[derive(Debug)]
pub(crate) struct Controller {
    target: Duration,
    paths: Vec<Path>,
    /// The last adjustment's queuing delay.
    current: Option<Duration>,
    /// How long no path had a sample, up to the last adjustment.
    unsampled: Duration,
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
    /// The time the counts of `link` and `others` covered.
    counted: Duration,
    /// The most the links were seen to carry, in bytes per second; and
    /// the most our own traffic was seen to carry on them.
    capacity: f64,
    reached: f64,
    /// Other traffic was seen at the last adjustment.
    others_active: bool,
    /// What arrived per second, smoothed.
    throughput: f64,
    /// The last cut.
    cut: Option<Cut>,
    /// When other traffic was last seen to end, and how many bytes of it
    /// the current spell has carried.
    others_left: Option<Instant>,
    others_seen: f64,
    /// When the last small spell of other traffic ended
    /// ([`OTHERS_SMALL`]), and whether the current one came soon after
    /// and has not had the floor.
    others_small: Option<Instant>,
    others_rationed: bool,
    /// The throttle held the connections back since the last adjustment:
    /// what arrived then says nothing of what the source could send.
    held: bool,
    /// The bytes the connections keep in flight whatever the rate (each
    /// one's smallest window), which queue at the bottleneck however far
    /// the rate is cut.
    least_in_flight: f64,
    /// When a path's queue was last its own ([`Controller::judge_paths`]).
    isolated: Option<Instant>,
}

/// A cut of the rate for queuing past the target.
#[derive(Debug, Clone, Copy)]
struct Cut {
    at: Instant,
    /// No other cut before this.
    holds_until: Instant,
    /// Where the queue began: the rate the first of a series of cuts
    /// came from.
    ceiling: f64,
}

impl Controller {
    /// A controller aiming at `target` queuing delay, unlimited until it
    /// sees queuing.
    pub(crate) fn new(target: Duration) -> Controller {
        Controller {
            target,
            paths: Vec::new(),
            current: None,
            unsampled: Duration::ZERO,
            rate: None,
            arrived: 0,
            adjusted: None,
            last_slowdown: None,
            slowdown: None,
            link: 0,
            others: 0,
            counted: Duration::ZERO,
            capacity: 0.0,
            reached: 0.0,
            others_active: false,
            throughput: 0.0,
            cut: None,
            others_left: None,
            others_seen: 0.0,
            others_small: None,
            others_rationed: false,
            held: false,
            least_in_flight: 0.0,
            isolated: None,
        }
    }

    /// The connections keep at least `bytes` in flight between them, at
    /// any rate (each one's smallest receive window). On a slow link that
    /// alone is a queue: six connections' two segments each are 35 ms at
    /// 4 Mbit/s. Cutting the rate cannot shorten it, only starve the
    /// link (a job alone got 70-89% of it), so the target is at least the
    /// time the link takes to carry them, up to [`MAX_TARGET`].
    pub(crate) fn set_least_in_flight(&mut self, bytes: u64) {
        self.least_in_flight = bytes as f64;
    }

    /// Bytes this host's network links received (`link`) over `time`,
    /// of which `others` were not qmgr's background transfers: the user's
    /// own traffic, which background jobs give way to even where it builds
    /// no queue (a fair queue at the bottleneck, a short one).
    pub(crate) fn on_link(&mut self, link: u64, others: u64, time: Duration) {
        self.link = self.link.saturating_add(link);
        self.others = self.others.saturating_add(others);
        self.counted = self.counted.saturating_add(time);
    }

    /// Takes in what the links carried since the last adjustment
    /// (`link` bytes, `others` not ours, counted over `counted`; `since`
    /// the last adjustment): the capacity, and whether other traffic runs.
    /// Returns whether it just appeared and calls for the floor, and its
    /// rate.
    fn observe_link(
        &mut self,
        now: Instant,
        since: Duration,
        (link, others, counted): (u64, u64, Duration),
    ) -> (bool, f64) {
        let seconds = since.as_secs_f64();
        if seconds <= 0.0 {
            return (false, 0.0);
        }
        let decay = CAPACITY_DECAY.powf(seconds);
        self.capacity *= decay;
        // While other traffic runs ours is held back: what it reaches then
        // says nothing of the link.
        if !self.others_active {
            self.reached *= decay;
        }
        // A peak our own traffic never came near may be traffic that does
        // not cross our bottleneck (a copy from a NAS on the LAN, 40 times
        // the uplink): believed for minutes, 2% of it hid the user's
        // traffic, and the room left to it was reckoned on a link we do not
        // have. Past what ours reached, it is forgotten within seconds; a
        // link ours did not fill (a slow source) shows again as soon as
        // someone fills it.
        if self.capacity > self.reached {
            self.capacity =
                self.reached + (self.capacity - self.reached) * BEYOND_REACH_DECAY.powf(seconds);
        }
        // Rates over the time the counts covered: counts and adjustments
        // keep their own schedules, and an adjustment called a few
        // milliseconds after another (`others_appearing`) would take a
        // whole count's bytes for those milliseconds.
        let seconds = counted.as_secs_f64();
        if seconds <= 0.0 {
            return (false, 0.0);
        }
        let (link, others) = (link as f64 / seconds, others as f64 / seconds);
        self.capacity = self.capacity.max(link);
        self.reached = self.reached.max(link - others);
        let active = others > self.others_threshold(link, others);
        let small_below = OTHERS_HOLD_MIN.max((OTHERS_SMALL * self.capacity).min(OTHERS_SMALL_MAX));
        let mut floor = false;
        if active {
            if !self.others_active {
                // Small spells that keep coming back (junk anyone can
                // send, 40 KB every 1.4 s) got the floor and the hold
                // each time: every class sat at the floor for 1% of the
                // link. After one, a spell gets the room it uses, less
                // headroom ([`Controller::leave_room`]), until it has
                // carried as much as the user's real traffic does.
                self.others_rationed = self
                    .others_small
                    .is_some_and(|at| now.saturating_duration_since(at) < OTHERS_REPEAT);
                floor = !self.others_rationed;
            }
            self.others_seen += others * seconds;
            if self.others_rationed && self.others_seen >= small_below {
                self.others_rationed = false;
                floor = true;
            }
        } else if self.others_active {
            // A few packets past the threshold (a queue of ours the
            // counters took for someone else's) call for no pause, nor
            // does a small spell soon after another.
            if self.others_seen >= OTHERS_HOLD_MIN && !self.others_rationed {
                self.others_left = Some(now);
            }
            if self.others_seen < small_below {
                self.others_small = Some(now);
            }
            self.others_seen = 0.0;
        }
        self.others_active = active;
        (floor, others)
    }

    /// After the delay's verdict: where other traffic runs on this host,
    /// leave it the capacity it uses and some: at once down to the floor
    /// when it appears (it may want the whole link; not again and again
    /// for small spells, [`OTHERS_REPEAT`]), then at most what the
    /// capacity leaves over it.
    fn leave_room(
        &mut self,
        now: Instant,
        (floor, others): (bool, f64),
        throughput: f64,
    ) -> Option<f64> {
        if !self.others_active {
            return self.rate;
        }
        if self.rate.is_none() {
            self.last_slowdown = Some(now);
        }
        if floor {
            return Some(FLOOR);
        }
        let room = (self.capacity * (1.0 - OTHERS_SHARE) - OTHERS_HEADROOM * others).max(FLOOR);
        Some(self.rate.unwrap_or(throughput).min(room).max(FLOOR))
    }

    /// Other traffic (bytes per second) below this is noise, with `link`
    /// bytes per second on the busiest link, `others` of them not ours.
    fn others_threshold(&self, link: f64, others: f64) -> f64 {
        OTHERS_MIN
            .max(OTHERS_SHARE * self.capacity)
            .max(OWN_NOISE * (link - others))
    }

    /// Whether other traffic appeared since the last adjustment: then
    /// adjust at once ([`Controller::adjust`] drops to the floor), not
    /// at the next regular adjustment, tens of milliseconds on. At least
    /// [`OTHERS_EARLY`] bytes, so that one packet is not enough.
    pub(crate) fn others_appearing(&self, now: Instant) -> bool {
        let Some(since) = self.adjusted.map(|at| now.saturating_duration_since(at)) else {
            return false;
        };
        let seconds = self.counted.as_secs_f64();
        if self.others_active || seconds <= 0.0 || since.is_zero() {
            return false;
        }
        let (link, others) = (self.link as f64, self.others as f64);
        others
            >= OTHERS_EARLY.max(self.others_threshold(link / seconds, others / seconds) * seconds)
    }

    /// The target queuing delay: the class's, or longer on a link too slow
    /// for what the connections hold in flight at the least
    /// ([`Controller::set_least_in_flight`]).
    pub(crate) fn target(&self) -> Duration {
        if self.capacity <= 0.0 || self.least_in_flight <= 0.0 {
            return self.target;
        }
        // Capped before it becomes a Duration: a capacity decayed over
        // hours of idleness (a few times 1e-18 bytes per second, before
        // it reaches zero) makes the ratio overflow one, which panicked,
        // and every later count of the class panicked again.
        let carried = (self.least_in_flight / self.capacity).min(MAX_TARGET.as_secs_f64());
        self.target.max(Duration::from_secs_f64(carried))
    }

    /// A round trip to `address` measured at `now` by any of the connections.
    pub(crate) fn on_delay(&mut self, now: Instant, address: IpAddr, rtt: Duration) {
        let path = self.path(now, address, rtt);
        path.sampled = Some(path.sampled.map_or(rtt, |least| least.min(rtt)));
    }

    /// A round trip to `address` that says what its base is at most, not
    /// what the delay is now: a connection's own handshake, timed when it
    /// was made. Without any delay samples (a server that sends no TCP
    /// timestamps and answers no probe) it still bounds the receive
    /// windows, and so the queue they let build.
    pub(crate) fn on_base(&mut self, now: Instant, address: IpAddr, rtt: Duration) {
        self.path(now, address, rtt);
    }

    /// The path to `address`, made if it is new, with `rtt` taken into
    /// its base delay.
    fn path(&mut self, now: Instant, address: IpAddr, rtt: Duration) -> &mut Path {
        let index = match self.paths.iter().position(|p| p.address == address) {
            Some(i) => i,
            None => {
                if self.paths.len() >= MAX_PATHS {
                    let least = (0..self.paths.len()).min_by(|&a, &b| {
                        let (a, b) = (&self.paths[a], &self.paths[b]);
                        a.carried.total_cmp(&b.carried).then(a.seen.cmp(&b.seen))
                    });
                    self.paths.swap_remove(least.unwrap_or(0));
                }
                self.paths.push(Path::new(address, now));
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
        path
    }

    /// A connection waited for the throttle: the rate, not the source,
    /// was the limit.
    pub(crate) fn on_held(&mut self) {
        self.held = true;
    }

    /// `connections` of the class are connected to `address` now.
    pub(crate) fn on_connections(&mut self, address: IpAddr, connections: usize) {
        if let Some(path) = self.paths.iter_mut().find(|p| p.address == address) {
            path.connections = connections.max(1);
        }
    }

    /// `bytes` arrived from `address` (on any of its connections).
    pub(crate) fn on_bytes(&mut self, address: IpAddr, bytes: u64) {
        self.arrived = self.arrived.saturating_add(bytes);
        if let Some(path) = self.paths.iter_mut().find(|p| p.address == address) {
            path.bytes = path.bytes.saturating_add(bytes);
        }
    }

    /// The longest base delay of the paths (zero without any).
    fn longest_base(&self) -> Duration {
        self.paths
            .iter()
            .filter_map(Path::base)
            .max()
            .unwrap_or_default()
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
    ///
    /// Only paths that carry a fair share of our bytes count (at least
    /// [`PATH_SHARE`] of the busiest one's): a slow server's round trip
    /// grows with its own pauses (an app-limited sender echoes old
    /// timestamps), or with a queue far from this host, and must not hold
    /// every other download of the class at the floor.
    pub(crate) fn queuing_delay(&self) -> Option<Duration> {
        self.sampled_delay().or(self.current)
    }

    /// The queuing delay the samples since the last adjustment show, on
    /// the busy paths whose queue is not their own.
    fn sampled_delay(&self) -> Option<Duration> {
        let now = self.adjusted?;
        let busiest = self.busiest_path();
        self.paths
            .iter()
            .filter(|p| p.carried >= PATH_SHARE * busiest && !p.isolated(now))
            .filter_map(Path::queuing)
            .max()
    }

    /// What the busiest path carries per adjustment, smoothed.
    fn busiest_path(&self) -> f64 {
        self.paths.iter().map(|p| p.carried).fold(0.0, f64::max)
    }

    /// Tells a queue only one path shows from one they share.
    ///
    /// A queue on this host's link (or anywhere the paths share) shows on
    /// every busy path: their packets wait in it alike. One that a busy
    /// path shows while another busy path shows little is that path's
    /// own: near its server (a slow mirror's uplink), or no queue at all
    /// (a server that echoes old timestamps, or pauses between bursts,
    /// reads a round trip that climbs). Counted for the class, it held
    /// every download of the class at the floor, other users' through
    /// qmgrd too (an attack's finding). Ignored, a server that forges
    /// short round trips would hide a real queue on this host's link from
    /// the class. So such a path, once its queue has been its own for
    /// [`ALONE_FOR`], stops deciding for the class and gets a limit of its
    /// own, cut and grown on its own queue ([`Controller::path_rate`]):
    /// it still yields to the queue it sees, and a forged reading can
    /// only spare its own server's connections, never hold back others'.
    /// The moment no other busy path shows a short queue beside it (the
    /// queue shows on all of them: it is shared), it is the class's
    /// again.
    ///
    /// Within [`ALONE_MEMORY`] of a path whose queue was its own, the
    /// next one's is its own at once: else each of a hostile server's
    /// addresses (or each of its turns at climbing, once its last was
    /// forgotten) decided for the class for 3 s, and two taking turns held
    /// it at the floor for good.
    fn judge_paths(&mut self, now: Instant) {
        let target = self.target();
        let since = match self.isolated {
            Some(at) if now.saturating_duration_since(at) < ALONE_MEMORY => {
                now.checked_sub(ALONE_FOR).unwrap_or(now)
            }
            _ => now,
        };
        let mut isolated = false;
        let busiest = self.busiest_path();
        let busy = |p: &Path| busiest > 0.0 && p.carried >= PATH_SHARE * busiest;
        // A path's own queue counts whatever it carries (one held back by
        // its own limit carries little); another's short one, only if its
        // connections each carry enough to be measured well: by the path,
        // another user's jobs with five connections to a climbing server
        // made the mirror's one connection too slight to tell, and the
        // climbing path decided for the class for good.
        let per_connection = |p: &Path| p.carried / p.connections.max(1) as f64;
        let busiest_connection = self.paths.iter().map(per_connection).fold(0.0, f64::max);
        let queues: Vec<Option<Duration>> = self.paths.iter().map(Path::queuing).collect();
        let short: Vec<bool> = self
            .paths
            .iter()
            .zip(&queues)
            .map(|(p, q)| {
                busiest_connection > 0.0
                    && per_connection(p) >= PATH_SHARE * busiest_connection
                    && q.is_some_and(|q| q <= target / 2)
            })
            .collect();
        for (i, path) in self.paths.iter_mut().enumerate() {
            let past = queues[i].is_some_and(|q| q > target);
            let short_elsewhere = short.iter().enumerate().any(|(j, &s)| j != i && s);
            path.alone = match path.alone {
                _ if past && !short_elsewhere => None,
                Some((since, _)) if past => Some((since, now)),
                // Only a busy path's queue begins to be its own: a slow
                // server's trickle decides nothing for the class anyway,
                // and its round trip reads high with its own pauses.
                None if past && busy(path) => Some((since, now)),
                // Below the target, or unmeasured: still its own for a
                // while (a fresh sample now and then must not make it the
                // class's again), then forgotten.
                Some((_, last)) if now.saturating_duration_since(last) >= ALONE_FOR => None,
                alone => alone,
            };
            if !path.isolated(now) {
                path.own = None;
                continue;
            }
            isolated = true;
            let arriving = path.throughput.max(FLOOR);
            let base = path.base().unwrap_or_default();
            let own = path.own.get_or_insert(OwnLimit {
                rate: arriving,
                holds_until: now,
            });
            let Some(queuing) = queues[i] else {
                continue;
            };
            let off = room_below(target, queuing);
            if off < 0.0 {
                if now >= own.holds_until {
                    own.holds_until = now + cut_hold(base + queuing);
                    own.rate = cut(own.rate.min(arriving), off);
                }
            } else {
                let grown = grow(own.rate, GAIN, off);
                own.rate = grown.min((AHEAD * arriving).max(own.rate)).max(FLOOR);
            }
        }
        if isolated {
            self.isolated = Some(now);
        }
    }

    /// The limit, in bytes per second, of the path to `address` while its
    /// queue is its own ([`Controller::judge_paths`]): its connections'
    /// windows follow it, beside the class's rate.
    pub(crate) fn path_rate(&self, address: IpAddr) -> Option<u64> {
        let path = self.paths.iter().find(|p| p.address == address)?;
        Some(path.own?.rate as u64)
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
            std::mem::take(&mut self.counted),
        );
        for path in &mut self.paths {
            let bytes = std::mem::take(&mut path.bytes) as f64;
            path.carried = 0.75 * path.carried + 0.25 * bytes;
            if since > Duration::ZERO {
                path.throughput = 0.75 * path.throughput + 0.25 * bytes / since.as_secs_f64();
            }
        }
        self.judge_paths(now);
        let others = self.observe_link(now, since, link);
        // No sample for a while: the connections get too little to be
        // measured (at the floor, a segment each now and then, whose
        // round trip the kernel takes from an old echoed timestamp). The
        // last delay then says nothing of now, and kept, it would hold
        // the rate at the floor for good; forgotten, the rate grows until
        // the connections are measured again, and a queue that is still
        // there shows and cuts it back.
        let sampled = self.sampled_delay();
        self.unsampled = match sampled {
            Some(_) => Duration::ZERO,
            None => self.unsampled.saturating_add(since),
        };
        let queuing = sampled.or(self.current.filter(|_| self.unsampled < UNSAMPLED_FORGET));
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
            self.cut = None;
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
        let off = room_below(self.target(), queuing);
        self.rate = match self.rate {
            // Queuing past the target while unlimited: start from what
            // arrives, cut as below; the first slowdown is a period away.
            None if off < 0.0 => {
                self.last_slowdown = Some(now);
                Some(cut(throughput.max(FLOOR), off))
            }
            None => None,
            // The delay samples lag the queue (the kernel smooths each
            // connection's round trip over about eight samples): after a
            // cut, wait for them to show its effect before cutting again,
            // or a queue that is already draining is cut for again and
            // again, down to a fraction of the link.
            Some(rate) if off < 0.0 && self.cut.is_some_and(|c| now < c.holds_until) => Some(rate),
            // The user's traffic ended a moment ago: more of it may follow
            // (the next request of a page, the next command): hold.
            Some(rate)
                if off >= 0.0
                    && self
                        .others_left
                        .is_some_and(|at| now.saturating_duration_since(at) < OTHERS_HOLD) =>
            {
                Some(rate)
            }
            // A cut starts from what arrives, when the rate ran ahead of it.
            Some(rate) if off < 0.0 => {
                let from = rate.min(self.throughput.max(FLOOR));
                // Cuts in a row lower the rate, not where the queue began.
                let ceiling = match self.cut {
                    Some(last) if now.saturating_duration_since(last.at) < CUT_SERIES => {
                        last.ceiling.max(from)
                    }
                    _ => from,
                };
                self.cut = Some(Cut {
                    at: now,
                    holds_until: now + cut_hold(self.longest_base() + queuing),
                    ceiling,
                });
                Some(cut(from, off))
            }
            // Room left: grow in proportion, but not past a few times what
            // arrives: the limit stays, so that a queue that comes back is
            // met at once (the window the runtime derives from it keeps
            // our own queue short meanwhile). Near where the queue began
            // at the last cut, slowly and close to what arrives, so that
            // the queue grows back slowly enough for the delay to show.
            Some(rate) => {
                // Well past it, the link has more room than then (the
                // user's traffic left): fast again.
                let near = self
                    .cut
                    .is_some_and(|c| (NEAR_CUT * c.ceiling..=c.ceiling / NEAR_CUT).contains(&rate));
                // Far below what the link was seen to carry, with nobody
                // else on it (the user's download just ended): double.
                let far = !self.others_active && rate < FAR_BELOW * self.capacity;
                let (gain, ahead) = match (near, far) {
                    (true, _) => (GAIN_NEAR_CUT, AHEAD_NEAR_CUT),
                    (false, true) => (GAIN_FAR, AHEAD),
                    (false, false) => (GAIN, AHEAD),
                };
                let mut grown = grow(rate, gain, off);
                if far {
                    // Doubling stops at the mark: past it, a doubling
                    // would overshoot the link by up to twice.
                    grown = grown.min(FAR_BELOW * self.capacity).max(rate);
                }
                // What arrived, smoothed: at low rates a connection's
                // bytes come in bursts, and one adjustment may see none.
                let mut arriving = throughput.max(self.throughput);
                if std::mem::take(&mut self.held) {
                    arriving = arriving.max(rate);
                }
                Some(grown.min((ahead * arriving).max(rate)).max(FLOOR))
            }
        };
        self.rate = self.leave_room(now, others, throughput);
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
/// Other traffic seen between two adjustments makes the next one come at
/// once from this many bytes (two full packets) on.
const OTHERS_EARLY: f64 = 3000.0;
/// After other traffic ends, the rate holds this long before it grows,
/// if the traffic carried at least [`OTHERS_HOLD_MIN`] bytes.
const OTHERS_HOLD: Duration = Duration::from_millis(1500);
const OTHERS_HOLD_MIN: f64 = 32.0 * 1024.0;
/// A spell of other traffic is small below what the capacity carries in
/// this many seconds, but never from [`OTHERS_SMALL_MAX`] bytes on (and
/// always below [`OTHERS_HOLD_MIN`]): 40 KB of junk is 16 ms of a
/// 2.5 MB/s link, a 256 KiB fetch 105 ms. On a fast link a page's fetch
/// is a few milliseconds of it: at 100 Mbit/s, with 80 ms alone (1 MB),
/// the user's 256 KiB fetches one second apart were each given only the
/// room they used, and took 7 times as long under a LOW job (1.0× with
/// the floor; `bench/yield.sh`).
const OTHERS_SMALL: f64 = 0.08;
const OTHERS_SMALL_MAX: f64 = 64.0 * 1024.0;
/// Other traffic that appears within this long of a small spell's end is
/// given the room it uses less headroom, and the floor only once it is no
/// longer small; if it stays small, no hold after it.
const OTHERS_REPEAT: Duration = Duration::from_secs(10);
/// Other traffic is left this many times what it uses, while it runs.
const OTHERS_HEADROOM: f64 = 1.25;
/// How much the capacity estimate decays per second, so that a link
/// that became slower is believed within minutes.
const CAPACITY_DECAY: f64 = 0.995;
/// How much of the capacity past what our own traffic reached is left
/// after a second: half, so that a LAN burst 40 times the uplink is
/// forgotten within seconds.
const BEYOND_REACH_DECAY: f64 = 0.5;

/// The largest packet other traffic is counted at (an Ethernet frame).
const MAX_PACKET: u64 = 1514;

/// What one network interface's counter carries from one count to the
/// next, to tell other traffic from ours ([`Unseen::others`]).
///
/// Packets tell other traffic from ours: every segment that reached our
/// sockets counts, also one a socket then drops (beyond its window, a
/// duplicate), whose bytes do not. What the interface counted and our
/// sockets did not is carried over:
/// - below zero, ours were read a moment after the interface's and ran
///   ahead; the interface makes up for it next time;
/// - above zero, it may be ours still waiting in a queue *after* the
///   interface's counter (an ingress shaper through an IFB device), which
///   our sockets count once it drains. Such a queue shows itself when it
///   drains (the interface then counts fewer packets than our sockets),
///   so an interface is allowed to hold as many of ours as it was seen
///   to hold (twice that, decaying), never more than our own queuing
///   delay can hold. An interface with no queue after it holds none, and
///   the user's first packets there count at once.
#[derive(Debug, Default, Clone)]
pub(crate) struct Unseen {
    /// Packets counted here and not by our sockets.
    held: i64,
    /// The most packets of ours this interface was seen to count before
    /// our sockets did, decaying.
    queue: f64,
    /// The packets drained in the current run of counts below ours.
    draining: i64,
}

/// How fast what an interface was seen to hold is forgotten, per second
/// (half in about a minute and a half; every slowdown shows it again).
const QUEUE_DECAY: f64 = 0.992;

impl Unseen {
    /// Of what the interface received since the last count (`bytes`,
    /// `packets`, over `seconds`) beside what qmgr's yielding sockets
    /// received (`ours`: bytes with headers, segments), the bytes of
    /// other traffic. `by_delay` is the most packets of ours a queue
    /// could hold at our rate and queuing delay.
    ///
    /// Only what grew past the allowance in this count is other traffic;
    /// an allowance that shrank forgets the rest without calling it
    /// anyone's.
    pub(crate) fn others(
        &mut self,
        (bytes, packets): (u64, u64),
        (our_bytes, our_segments): (u64, u64),
        by_delay: i64,
        seconds: f64,
    ) -> u64 {
        let signed = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let growth = signed(packets).saturating_sub(signed(our_segments));
        self.queue *= QUEUE_DECAY.powf(seconds.max(0.0));
        if growth < 0 {
            self.draining = self.draining.saturating_add(-growth);
            self.queue = self.queue.max(self.draining as f64);
        } else if growth > 0 {
            self.draining = 0;
        }
        let seen = (2.0 * self.queue) as i64;
        let allowance = by_delay.clamp(0, seen);
        let balance = self.held.saturating_add(growth);
        // Saturating: a debt at its least (counters read across a reset)
        // less the allowance overflowed.
        let excess = balance.saturating_sub(allowance).clamp(0, growth.max(0));
        // Below zero, no more than a queue it was seen to hold: a large
        // debt would hide the user's next packets.
        self.held = balance.clamp(-seen, allowance);
        bytes
            .saturating_sub(our_bytes)
            .min((excess as u64).saturating_mul(MAX_PACKET))
    }

    /// Whether an interface that received `packets` while our sockets
    /// received `ours` segments carries our traffic: at least half of
    /// it, counting what its queue holds and now drains (a tunnel and
    /// the device under it each carry all of it; another device, none).
    pub(crate) fn carries(&self, packets: u64, ours: u64) -> bool {
        packets.saturating_add(self.held.max(0) as u64) >= ours / 2
    }
}

/// Packets of ours an interface must have been seen to hold ahead of our
/// sockets, and how many times what the nearest interface to them held,
/// for a queue after its counter (more than the lag between reading its
/// counter and our sockets', and than softirq processing behind it).
const QUEUE_AFTER: f64 = 16.0;
const QUEUE_AFTER_RATIO: f64 = 2.0;

/// What one interface that carried our traffic told at one count.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Counted {
    /// Bytes taken for other traffic ([`Unseen::others`]).
    pub(crate) others: u64,
    /// Bytes it received.
    pub(crate) bytes: u64,
    /// The most packets of ours it was seen to hold ahead of our sockets.
    queue: f64,
    /// Whether it is a point-to-point link (a VPN tunnel).
    tunnel: bool,
}

impl Counted {
    /// What `unseen` took for other traffic of `bytes` received, on a
    /// `tunnel` or not.
    pub(crate) fn new(unseen: &Unseen, others: u64, bytes: u64, tunnel: bool) -> Counted {
        Counted {
            others,
            bytes,
            queue: unseen.queue,
            tunnel,
        }
    }
}

/// Of the interfaces that carried our traffic at one count, (other
/// traffic, bytes received) on the busiest: the most other traffic, else
/// the most traffic.
///
/// An interface with a queue after its counter (an ingress shaper through
/// an IFB device) counts our packets long before our sockets do, and can
/// only guess how many of them its queue holds. Such a queue shows when it
/// drains: the interface was seen to hold many more of our packets ahead
/// of our sockets than the interface nearest them. That one (the IFB,
/// whose counter runs as the queue drains) sees the user's traffic as
/// surely and without the guess, and decides alone.
///
/// Not where the nearest is a tunnel: the device under it is also seen to
/// hold our packets ahead of it (those waiting to be decrypted), and the
/// user's traffic beside the tunnel (a split-tunnel VPN) shows on that
/// device only. Nor a quiet interface (a second device, a bridge of
/// containers), which holds no queue since it carries little of ours.
pub(crate) fn busiest(counted: &[Counted]) -> (u64, u64) {
    let most = counted.iter().map(|c| c.bytes).max().unwrap_or(0);
    let nearest = counted
        .iter()
        .filter(|c| c.bytes >= most / 2)
        .min_by(|a, b| a.queue.total_cmp(&b.queue));
    let queue_after = |c: &Counted| {
        nearest
            .is_some_and(|n| !n.tunnel && c.queue >= QUEUE_AFTER.max(QUEUE_AFTER_RATIO * n.queue))
    };
    counted
        .iter()
        .filter(|c| !queue_after(c))
        .map(|c| (c.others, c.bytes))
        .max()
        .unwrap_or_default()
}

/// How long without a sample makes the last queuing delay unknown.
const UNSAMPLED_FORGET: Duration = Duration::from_millis(300);

/// How far the rate may grow ahead of what arrives.
const AHEAD: f64 = 4.0;

/// How long a path's queue must be its own (past the target while
/// another busy path's is short) before the path stops deciding for the
/// class; and how long, once it is not seen so, it stays its own.
const ALONE_FOR: Duration = Duration::from_secs(3);

/// How long after a path's queue was last its own the next path's is
/// its own at once, without [`ALONE_FOR`].
const ALONE_MEMORY: Duration = Duration::from_secs(60);

/// The least share of the busiest path's bytes a path must carry for its
/// delay to count.
const PATH_SHARE: f64 = 0.25;

/// How fast the rate grows with room below the target: by up to this
/// share per adjustment; and within [`NEAR_CUT`] of the rate the last
/// cut came from (from that much below to as much above), where the
/// queue began, by up to [`GAIN_NEAR_CUT`].
const GAIN: f64 = 0.25;
const NEAR_CUT: f64 = 0.85;
const GAIN_NEAR_CUT: f64 = 0.05;
/// Below this share of the capacity the links were seen to carry, the
/// rate grows by up to [`GAIN_FAR`] per adjustment.
const FAR_BELOW: f64 = 0.5;
const GAIN_FAR: f64 = 1.0;
/// Near there, how far the rate may grow ahead of what arrives.
const AHEAD_NEAR_CUT: f64 = 1.15;
/// Cuts less than this apart are one series.
const CUT_SERIES: Duration = Duration::from_secs(2);

/// How long a cut holds before another: this many round trips (the
/// longest base delay plus the queuing delay), within bounds.
const CUT_HOLD_ROUND_TRIPS: u32 = 8;
const CUT_HOLD_MIN: Duration = Duration::from_millis(150);
const CUT_HOLD_MAX: Duration = Duration::from_secs(1);

/// The room a queuing delay leaves below `target`, as a share of it:
/// 1 with no queue, 0 at the target, below 0 past it.
fn room_below(target: Duration, queuing: Duration) -> f64 {
    let target = target.as_secs_f64();
    (target - queuing.as_secs_f64()) / target
}

/// How long a cut for a queue seen over `round_trip` (the base delay
/// plus the queuing delay) holds before another: a few round trips,
/// within bounds.
fn cut_hold(round_trip: Duration) -> Duration {
    (round_trip * CUT_HOLD_ROUND_TRIPS).clamp(CUT_HOLD_MIN, CUT_HOLD_MAX)
}

/// `rate` cut for a queuing delay `1 - off` times the target (`off` < 0):
/// in proportion to how far past it, at most by half, never below the floor.
fn cut(rate: f64, off: f64) -> f64 {
    (rate * (1.0 + 0.5 * off).max(0.5)).max(FLOOR)
}

/// `rate` grown by up to `gain` with room `off` below the target
/// ([`room_below`]): in proportion, at full `gain` from half the target down
/// (at low rates the round trips read a little high: each connection
/// gets a few packets at a time).
fn grow(rate: f64, gain: f64, off: f64) -> f64 {
    rate * (1.0 + gain * (2.0 * off).min(1.0))
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
        c.on_bytes(path(1), bytes);
        c.adjust(at(time))
    }

    /// Counts `(interface packets, our segments)` in turn on one interface
    /// with full-size packets, every 50 ms, and returns the other traffic
    /// each time in packets.
    fn others_seen(unseen: &mut Unseen, counts: &[(u64, u64)], by_delay: i64) -> Vec<u64> {
        counts
            .iter()
            .map(|&(packets, ours)| {
                let bytes = unseen.others(
                    (packets * MAX_PACKET, packets),
                    (ours * MAX_PACKET, ours),
                    by_delay,
                    0.05,
                );
                bytes / MAX_PACKET
            })
            .collect()
    }

    #[test]
    fn ours_read_late_is_made_up_not_taken_for_others() {
        let mut unseen = Unseen::default();
        // Our sockets counted 5 packets the interface had not yet.
        let counts = [(95, 100), (105, 100), (100, 100)];
        assert_eq!(others_seen(&mut unseen, &counts, 0), [0, 0, 0]);
        // Beyond what was made up, it is someone else's.
        let counts = [(95, 100), (125, 100)];
        assert_eq!(others_seen(&mut unseen, &counts, 0), [0, 20]);
    }

    #[test]
    fn a_queue_after_the_counter_is_ours_once_it_was_seen_to_drain() {
        let mut unseen = Unseen::default();
        // An ingress queue fills with 40 of our packets, holds them, then
        // drains. Before it drained once, its filling looked like someone
        // else's traffic.
        let filling = [(120, 100), (120, 100), (100, 100), (80, 100), (80, 100)];
        assert_eq!(others_seen(&mut unseen, &filling, 50), [20, 20, 0, 0, 0]);
        // Seen to hold 40, it may hold up to twice that, within what our
        // delay allows (50): the next filling is ours.
        assert_eq!(others_seen(&mut unseen, &filling, 50), [0, 0, 0, 0, 0]);
        // Other traffic: first the 40 packets the first filling was taken
        // for are made up, then 50 may be ours (what our delay allows),
        // and what grows past that is someone else's, each packet once.
        let others = [(130, 100); 5];
        assert_eq!(others_seen(&mut unseen, &others, 50), [0, 0, 0, 30, 30]);
        // An interface that never drained holds none of it.
        let mut fresh = Unseen::default();
        assert_eq!(others_seen(&mut fresh, &others, 50), [30; 5]);
    }

    #[test]
    fn behind_an_ingress_queue_the_interface_after_it_decides() {
        // The client's device counts our packets before its ingress queue
        // (an IFB), the IFB as they leave it, just before our sockets.
        let (mut device, mut ifb) = (Unseen::default(), Unseen::default());
        let mut count = |device_packets: u64, ifb_packets: u64, ours: u64| {
            let counted = |unseen: &mut Unseen, packets| {
                let others = unseen.others((packets * 1500, packets), (ours * 1500, ours), 0, 0.02);
                Counted::new(unseen, others, packets * 1500, false)
            };
            let counted = [
                counted(&mut device, device_packets),
                counted(&mut ifb, ifb_packets),
            ];
            busiest(&counted).0 / 1500
        };
        // Before the device was seen to drain, its filling queue looks
        // like someone else's traffic.
        assert_eq!(count(150, 100, 100), 50);
        assert_eq!(count(50, 100, 100), 0);
        // Now a queue after its counter is known: its filling is not
        // taken for other traffic, since the IFB sees none.
        assert_eq!(count(200, 100, 100), 0);
        assert_eq!(count(200, 100, 100), 0);
        // The user's traffic passes the IFB too, and is seen there.
        assert_eq!(count(140, 130, 100), 30);
        // Two interfaces with no queue after them (a tunnel and the
        // device under it): the busiest decides, as before.
        let (mut tunnel, mut under) = (Unseen::default(), Unseen::default());
        let others = |unseen: &mut Unseen, packets: u64| {
            let o = unseen.others((packets * 1500, packets), (100 * 1500, 100), 0, 0.02);
            Counted::new(unseen, o, packets * 1500, false)
        };
        let counted = [others(&mut tunnel, 100), others(&mut under, 125)];
        assert_eq!(busiest(&counted), (25 * 1500, 125 * 1500));
    }

    /// Counts two interfaces (`a` a tunnel or not) against our segments
    /// with full-size packets, and returns what [`busiest`] calls other
    /// traffic, in packets.
    fn two_counted(
        (a, tunnel): (&mut Unseen, bool),
        b: &mut Unseen,
        (packets_a, packets_b, ours): (u64, u64, u64),
    ) -> u64 {
        let count = |unseen: &mut Unseen, packets: u64, tunnel| {
            let others = unseen.others((packets * 1500, packets), (ours * 1500, ours), 0, 0.02);
            Counted::new(unseen, others, packets * 1500, tunnel)
        };
        let counted = [count(a, packets_a, tunnel), count(b, packets_b, false)];
        busiest(&counted).0 / 1500
    }

    #[test]
    fn beside_a_tunnel_the_users_traffic_on_the_device_under_it_is_seen() {
        // Our download goes through wg0; eth0 counts it encrypted, ahead
        // of wg0 by what waits to be decrypted (40 packets, then drained),
        // and the user's own traffic beside the tunnel (60 a count).
        let (mut wg, mut eth) = (Unseen::default(), Unseen::default());
        two_counted((&mut wg, true), &mut eth, (100, 140, 100));
        two_counted((&mut wg, true), &mut eth, (100, 60, 100));
        let seen: u64 = (0..10)
            .map(|_| two_counted((&mut wg, true), &mut eth, (100, 160, 100)))
            .sum();
        assert!(seen >= 500, "{seen}");
    }

    #[test]
    fn a_quiet_interface_does_not_silence_the_busy_one() {
        // eth0 was once seen 20 packets ahead of our sockets (a reader
        // preempted between the counts); docker0 carries a packet a count
        // and none of ours. At the floor (a segment of ours a count), the
        // user's download on eth0 (50 a count) is seen all the same.
        let (mut docker, mut eth) = (Unseen::default(), Unseen::default());
        eth.others((100 * 1500, 100), (120 * 1500, 120), 0, 0.02);
        let seen: u64 = (0..10)
            .map(|_| two_counted((&mut docker, false), &mut eth, (1, 51, 1)))
            .sum();
        assert!(seen >= 400, "{seen}");
    }

    #[test]
    fn a_shrinking_allowance_is_not_other_traffic() {
        let mut unseen = Unseen::default();
        let mut count = |packets: u64, by_delay| {
            unseen.others((packets * 1500, packets), (100 * 1500, 100), by_delay, 0.05)
        };
        // Seen to hold 60 (learned as it drains), then holding 60 again.
        assert_eq!(count(160, 80), 60 * 1500);
        assert_eq!(count(40, 80), 0);
        assert_eq!(count(160, 80), 0);
        assert_eq!(count(160, 80), 0);
        // Our rate was cut: the allowance falls below what is held.
        assert_eq!(count(100, 10), 0);
        // Bytes cap the packets: a packet beyond ours counts at its size.
        assert_eq!(count(105, 10), 5 * 1500);
    }

    #[test]
    fn what_an_interface_was_seen_to_hold_is_forgotten_in_minutes() {
        let mut unseen = Unseen::default();
        others_seen(&mut unseen, &[(140, 100), (60, 100)], 100);
        assert_eq!(
            others_seen(&mut unseen, &[(140, 100), (60, 100)], 100),
            [0, 0]
        );
        // Five idle minutes later, it may hold 7 (and owe as many): of
        // 40 packets, 26 are someone else's.
        unseen.others((0, 0), (0, 0), 100, 300.0);
        assert_eq!(others_seen(&mut unseen, &[(140, 100)], 100), [26]);
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
        // Still queuing hard: cut again, to no less than half of the rate
        // or of what arrives if less, each cut held until the round trips
        // could show it (eight of them, here the most, 1 s), with no
        // other cut before.
        let mut rate = first;
        let mut time = 200;
        for _ in 0..3 {
            let next = step(&mut c, time, 200, rate / 10);
            let from = c.throughput().min(rate as f64);
            assert!(next < rate && next as f64 >= from / 2.0, "{rate} -> {next}");
            for held in 1..10 {
                assert_eq!(step(&mut c, time + held * 100, 200, next / 10), next);
            }
            rate = next;
            time += 1000;
        }
        // The queue drains (the round trip is the base again): it grows,
        // as long as what arrives keeps up; near where the queue began
        // (the rate the first of those cuts came from), slowly, and well
        // past it fast again.
        let mut grew = Vec::new();
        for _ in 0..20 {
            let next = step(&mut c, time, 50, rate / 10);
            assert!(next > rate, "{rate} -> {next}");
            grew.push(next as f64 / rate as f64);
            rate = next;
            time += 100;
        }
        let slow = grew.iter().filter(|&&g| g < 1.1).count();
        assert!(grew[0] > 1.2 && slow >= 3 && grew[19] > 1.2, "{grew:?}");
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
        // (What arrived before, smoothed, may let it grow a little past
        // where it started, never further.)
        let arriving = (10 << 10) as f64 * 10.0;
        let rate = c.rate() as f64;
        assert!(
            rate > arriving && rate <= (1.1 * start).max(AHEAD * arriving * 1.01),
            "{start} -> {rate}"
        );
    }

    #[test]
    fn other_traffic_on_the_host_gets_the_link_at_once_then_what_it_uses() {
        let mut c = Controller::new(TARGET_LOW);
        // Alone: 2.5 MB/s over the link, no queue, unlimited.
        let mut time = 0;
        for _ in 0..20 {
            c.on_link(125_000, 0, ms(50));
            step(&mut c, time, 1, 125_000);
            time += 50;
        }
        assert_eq!(c.rate(), 0);
        // The user's download starts: the floor at once, without a queue.
        c.on_link(125_000, 30_000, ms(50));
        assert_eq!(step(&mut c, time, 1, 95_000), FLOOR as u64);
        // It takes the whole link: the rate stays at the floor.
        for _ in 0..20 {
            time += 50;
            c.on_link(125_000, 124_000, ms(50));
            assert_eq!(step(&mut c, time, 1, 1_000), FLOOR as u64);
        }
        // A stream of 1 MB/s: the rest of the link, less headroom, comes back.
        for _ in 0..60 {
            time += 50;
            let ours = c.rate() / 20;
            c.on_link(50_000 + ours, 50_000, ms(50));
            step(&mut c, time, 1, ours);
        }
        let rate = c.rate() as f64;
        assert!(rate > 800_000.0 && rate < 1_300_000.0, "{rate}");
        // The user's traffic takes the link again, then ends: the rate
        // holds a moment (the user may come back), then, from the floor,
        // doubles while far below what the link carried, back to half of
        // it within a dozen adjustments (0.6 s).
        for _ in 0..20 {
            time += 50;
            c.on_link(125_000, 124_000, ms(50));
            step(&mut c, time, 1, 1_000);
        }
        assert_eq!(c.rate(), FLOOR as u64);
        let ended = time;
        while time < ended + OTHERS_HOLD.as_millis() as u64 - 50 {
            time += 50;
            let ours = c.rate() / 20;
            c.on_link(ours, 0, ms(50));
            assert_eq!(step(&mut c, time, 1, ours), FLOOR as u64);
        }
        time += 50;
        let mut adjustments = 0;
        while c.rate() < 1_250_000 {
            time += 50;
            adjustments += 1;
            assert!(adjustments <= 12, "{} after {adjustments}", c.rate());
            let ours = c.rate() / 20;
            c.on_link(ours, 0, ms(50));
            step(&mut c, time, 1, ours);
        }
        // The user's traffic, seen between two adjustments, calls for one
        // at once; a packet does not.
        c.on_link(100_000, 1_514, ms(10));
        assert!(!c.others_appearing(at(time + 10)));
        c.on_link(100_000, 4_542, ms(10));
        assert!(c.others_appearing(at(time + 20)));
        // A packet or two now and then (ARP, NTP, a keep-alive, counting
        // noise) is not the user's traffic.
        let mut c = Controller::new(TARGET_LOW);
        for i in 0..40 {
            c.on_link(125_000, 1_500, ms(50));
            step(&mut c, i * 50, 1, 123_500);
        }
        assert_eq!(c.rate(), 0);
    }

    #[test]
    fn an_adjustment_called_early_does_not_inflate_the_capacity() {
        // 2.5 MB/s over the link, counted every 20 ms, adjusted every 60.
        let mut c = Controller::new(TARGET_LOW);
        let mut time = 0;
        for _ in 0..20 {
            for _ in 0..3 {
                c.on_link(50_000, 0, ms(20));
            }
            time += 60;
            step(&mut c, time, 1, 150_000);
        }
        // 2 ms after that adjustment, a count of 20 ms sees the user's
        // traffic and calls for another at once.
        c.on_link(50_000, 10_000, ms(20));
        assert!(c.others_appearing(at(time + 2)));
        step(&mut c, time + 2, 1, 40_000);
        assert!(c.capacity < 2_600_000.0, "{}", c.capacity);
    }

    #[test]
    fn a_delay_no_sample_confirms_is_forgotten() {
        // A queue cuts the rate to the floor, where the connections get
        // too little to be measured: no sample comes.
        let mut c = Controller::new(TARGET_LOW);
        for i in 0..10 {
            step(&mut c, i * 50, 20, 125_000);
        }
        let mut time = 500;
        while c.rate() != FLOOR as u64 {
            assert!(time < 5_000, "{}", c.rate());
            step(&mut c, time, 400, 1_000);
            time += 50;
        }
        // The last delay holds a moment, then it is not believed: the rate
        // grows until the connections are measured again.
        let held = time;
        while c.rate() == FLOOR as u64 {
            assert!(time < held + 1_000, "still at the floor");
            c.on_bytes(path(1), 800);
            c.adjust(at(time));
            time += 50;
        }
        assert!(time >= held + UNSAMPLED_FORGET.as_millis() as u64);
        // Samples that show the queue still there cut it back (once the
        // hold after the last cut is over).
        let grown = c.rate();
        let sampled = time;
        while c.rate() > FLOOR as u64 {
            assert!(
                time < sampled + 2 * CUT_HOLD_MAX.as_millis() as u64,
                "{grown} -> {}",
                c.rate()
            );
            time += 50;
            step(&mut c, time, 400, 1_000);
        }
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
            c.on_bytes(path(1), 200 << 10);
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
            c.on_bytes(path(1), 1 << 19);
            c.on_bytes(path(2), 1 << 19);
            assert_eq!(c.adjust(at(i * 100)), 0);
        }
        assert_eq!(c.base(path(2)), Some(ms(150)));
        // The far path's queue grows: that is queuing, whatever the near
        // path shows.
        c.on_delay(at(2_000), path(1), ms(5));
        c.on_delay(at(2_000), path(2), ms(250));
        c.on_bytes(path(1), 1 << 19);
        c.on_bytes(path(2), 1 << 19);
        assert!(c.adjust(at(2_000)) > 0);
        assert_eq!(c.queuing_delay(), Some(ms(100)));
    }

    #[test]
    fn a_path_that_carries_little_of_our_traffic_does_not_decide() {
        // A busy mirror with no queue, and a slow server whose round
        // trip climbs (its own pauses, or a queue near it) while it sends
        // a trickle: the mirror's download is not held back for it.
        let mut c = Controller::new(TARGET_LOW);
        for i in 0..50 {
            c.on_delay(at(i * 100), path(1), ms(5));
            c.on_delay(at(i * 100), path(2), ms(20 + i * 10));
            c.on_bytes(path(1), 1 << 20);
            c.on_bytes(path(2), 4 << 10);
            assert_eq!(c.adjust(at(i * 100)), 0, "at {i}");
        }
        assert_eq!(c.path_rate(path(2)), None, "a trickle gets no limit");
        // Once it carries as much as the mirror, its queue counts: the
        // class's rate is cut. When the queue stays its own (the mirror
        // shows none) it is limited alone: its own limit is cut, and the
        // class's delay is the mirror's again.
        for i in 50..90 {
            c.on_delay(at(i * 100), path(1), ms(5));
            c.on_delay(at(i * 100), path(2), ms(600));
            c.on_bytes(path(1), 1 << 20);
            c.on_bytes(path(2), 1 << 20);
            c.adjust(at(i * 100));
            if i == 51 {
                assert!(c.rate() > 0, "cut at first");
            }
        }
        assert_eq!(c.queuing_delay(), Some(ms(0)));
        // Cut from the 10 MiB/s it carried.
        assert!(c.path_rate(path(2)).is_some_and(|r| r < 6 << 20));
        assert_eq!(c.path_rate(path(1)), None);
    }

    #[test]
    fn a_server_that_reads_short_round_trips_does_not_spare_the_others() {
        // A queue on this host's link, 200 ms past the base: an honest
        // server's round trip shows it; a hostile one forges its base (a
        // future echoed timestamp) while it carries as much. The class
        // first yields to the queue as one; once the queue shows on one
        // path only, that path yields alone, its own limit cut as the
        // class's would be.
        let mut c = Controller::new(TARGET_LOW);
        let mut class_cut = false;
        for i in 0..200 {
            let queue = if i < 20 { 0 } else { 200 };
            c.on_delay(at(i * 50), path(1), ms(10 + queue));
            c.on_delay(at(i * 50), path(2), ms(10));
            c.on_bytes(path(1), 50_000);
            c.on_bytes(path(2), 50_000);
            c.adjust(at(i * 50));
            class_cut |= c.rate() != 0 && c.rate() < 1_000_000;
        }
        assert!(class_cut, "the class yielded at first");
        assert_eq!(c.path_rate(path(2)), None);
        let honest = c.path_rate(path(1)).expect("the honest path has a limit");
        assert!(honest < 300_000, "cut from the 1 MB/s it carried: {honest}");
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
    fn on_a_slow_link_the_queue_the_least_windows_make_is_not_cut_for() {
        // Six connections of at least 4 KiB in flight each, on a link that
        // carries 500 KB/s (4 Mbit/s): 49 ms of queue at any rate.
        let run = |least_in_flight: u64| {
            let mut c = Controller::new(TARGET_LOW);
            c.set_least_in_flight(least_in_flight);
            let mut rates = Vec::new();
            for i in 0..40 {
                c.on_link(25_000, 0, ms(50));
                c.on_delay(at(i * 50), path(1), ms(if i == 0 { 1 } else { 41 }));
                c.on_bytes(path(1), 25_000);
                rates.push(c.adjust(at(i * 50)));
            }
            (c.target(), rates)
        };
        let (target, rates) = run(6 * 4096);
        assert_eq!(
            target,
            Duration::from_micros(49_152),
            "the link's time for 24 KiB"
        );
        assert!(
            rates.iter().all(|&r| r == 0),
            "cut below the link: {rates:?}"
        );
        // Without that floor, the same 40 ms of queue is past the target:
        // the rate is cut below what arrives.
        let (target, rates) = run(0);
        assert_eq!(target, TARGET_LOW);
        assert!(rates.iter().any(|&r| r != 0 && r < 500_000), "{rates:?}");
        // A queue past the longer target is still cut; the target is
        // never past MAX_TARGET.
        let mut c = Controller::new(TARGET_LOW);
        c.set_least_in_flight(1 << 20);
        step(&mut c, 0, 1, 25_000);
        c.on_link(25_000, 0, ms(50));
        step(&mut c, 50, 1, 25_000);
        assert_eq!(c.target(), MAX_TARGET);
        c.on_link(25_000, 0, ms(50));
        assert!(
            step(&mut c, 100, 150, 25_000) != 0,
            "149 ms of queue is cut for"
        );
    }

    #[test]
    fn hours_of_idleness_do_not_break_the_target() {
        // A class carried 1.25 MB/s, then nothing ran for four hours (a
        // daemon overnight): the capacity it saw has decayed to about
        // 1e-25 bytes per second, not to zero, and the first adjustment
        // after the idle spell comes before any count covers it. The link
        // time of what the connections keep in flight must not overflow.
        let mut c = Controller::new(TARGET_LOW);
        c.set_least_in_flight(6 * 4096);
        step(&mut c, 0, 10, 62_500);
        c.on_link(62_500, 0, ms(50));
        step(&mut c, 50, 10, 62_500);
        assert!(c.capacity > 1e6, "{}", c.capacity);
        let later = 50 + 4 * 3_600 * 1_000;
        step(&mut c, later, 10, 62_500);
        assert!(c.target() <= MAX_TARGET, "{:?}", c.target());
        // The next count tells the link again.
        c.on_link(62_500, 0, ms(50));
        step(&mut c, later + 50, 10, 62_500);
        assert!(c.target() < MAX_TARGET, "{:?}", c.target());
    }

    #[test]
    fn extreme_inputs_neither_panic_nor_overflow() {
        // Our sockets counted far more than the interface, again and
        // again (counters read across a reset): the debt saturates.
        let mut unseen = Unseen::default();
        for _ in 0..3 {
            unseen.others((0, 0), (u64::MAX, u64::MAX), 1, 0.05);
        }
        unseen.others((u64::MAX, u64::MAX), (0, 0), i64::MAX, 0.0);
        unseen.others((u64::MAX, u64::MAX), (u64::MAX, u64::MAX), -1, f64::MAX);
        // The controller: the longest round trip the kernel reports
        // (u32::MAX microseconds), every count at its largest, over a
        // nanosecond or no time at all.
        let mut c = Controller::new(TARGET);
        c.set_least_in_flight(u64::MAX);
        let huge = Duration::from_micros(u64::from(u32::MAX));
        c.on_delay(at(0), path(1), ms(1));
        c.on_delay(at(0), path(1), huge);
        c.on_bytes(path(1), u64::MAX);
        c.on_link(u64::MAX, u64::MAX, Duration::ZERO);
        c.adjust(at(0));
        c.adjust(at(0));
        let nano = at(0) + Duration::from_nanos(1);
        c.on_delay(nano, path(1), huge);
        c.on_bytes(path(1), u64::MAX);
        c.on_bytes(path(1), u64::MAX);
        c.on_link(u64::MAX, u64::MAX, Duration::from_nanos(1));
        c.adjust(nano);
        assert!(c.rate() >= FLOOR as u64);
        assert!(c.target() <= MAX_TARGET);
        assert!(c.throughput().is_finite());
    }

    #[test]
    fn many_addresses_of_one_server_do_not_make_a_busy_path_forget_its_base() {
        // A mirror's path (base 10 ms) now holds 100 ms of queue, which
        // the class keeps limited. A hostile server with an IPv6 prefix
        // (as many addresses as it likes) has connections to 64 new ones
        // at each adjustment, each sampled after the mirror's last sample
        // and carrying a trickle. The busy path must keep its base:
        // forgotten and learned anew with the queue in it, the queue
        // reads as none, and an unlimited class has no slowdown to
        // learn it back.
        let mut c = Controller::new(TARGET_LOW);
        for i in 0..20 {
            step(&mut c, i * 50, 10, 100_000);
        }
        let mut time = 1_000;
        for round in 0..20u16 {
            c.on_delay(at(time), path(1), ms(110));
            c.on_bytes(path(1), 100_000);
            for n in 0..64u16 {
                let address = IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, round, n]);
                c.on_delay(at(time + 1), address, ms(10));
                c.on_bytes(address, 100);
            }
            c.adjust(at(time + 1));
            time += 50;
        }
        assert_eq!(c.base(path(1)), Some(ms(10)));
        assert_eq!(c.queuing_delay(), Some(ms(100)));
        assert!(c.rate() != 0);
    }

    #[test]
    fn a_burst_on_the_local_network_does_not_hide_the_users_traffic_for_minutes() {
        // A 2.5 MB/s uplink behind a LAN: the class runs alone, then a
        // copy from a NAS on the LAN (100 MB/s, over the same interface)
        // runs for a second. A minute later the user browses at 1 MB/s:
        // other traffic, which the class must yield to, and leave room.
        // (Before, the capacity stayed near the LAN's 100 MB/s for
        // minutes: 2% of it hid the user's traffic for about ten.)
        let mut c = Controller::new(TARGET_LOW);
        let mut time = 0;
        for _ in 0..20 {
            c.on_link(125_000, 0, ms(50));
            step(&mut c, time, 1, 125_000);
            time += 50;
        }
        for _ in 0..20 {
            c.on_link(5_000_000, 5_000_000, ms(50));
            step(&mut c, time, 1, 0);
            time += 50;
        }
        while time < 60_000 {
            let ours = match c.rate() {
                0 => 125_000,
                rate => (rate / 20).min(125_000),
            };
            c.on_link(ours, 0, ms(50));
            step(&mut c, time, 1, ours);
            time += 50;
        }
        c.on_link(125_000, 50_000, ms(50));
        assert_eq!(
            step(&mut c, time, 1, 75_000),
            FLOOR as u64,
            "{}",
            c.capacity
        );
        // While it browses, what the uplink leaves over it, less headroom
        // (2.45 - 1.25 MB/s), not what the LAN did.
        for _ in 0..40 {
            time += 50;
            let ours = (c.rate() / 20).min(75_000);
            c.on_link(ours + 50_000, 50_000, ms(50));
            step(&mut c, time, 1, ours);
        }
        let rate = c.rate() as f64;
        assert!(rate > 800_000.0 && rate < 1_300_000.0, "{rate}");
    }

    #[test]
    fn a_server_whose_round_trip_alone_climbs_does_not_hold_the_class_at_the_floor() {
        // Two jobs of one class (two users' jobs, through qmgrd): one from
        // a mirror, one from a hostile server that carries its fair share
        // (half of what the rate lets through) while its round trip reads
        // 500 ms past its base: it echoes old timestamps, or pauses
        // between bursts (an app-limited sender); now and then a fresh
        // one keeps its base low. The link (2 MB/s) holds no queue: the
        // mirror's round trip stays its base.
        const LINK: u64 = 2_000_000;
        let feed = |c: &mut Controller, i: u64, mirror: u64, hostile: u64| {
            let time = i * 50;
            let carried = match c.rate() {
                0 => LINK,
                rate => rate.min(LINK),
            };
            c.on_delay(at(time), path(1), ms(mirror));
            c.on_delay(at(time), path(2), ms(hostile));
            c.on_bytes(path(1), carried / 40);
            c.on_bytes(path(2), carried / 40);
            c.adjust(at(time));
            carried
        };
        let mut c = Controller::new(TARGET_LOW);
        let mut got = Vec::new();
        for i in 0..1_200 {
            let hostile = if i < 20 || i % 60 == 0 { 10 } else { 510 };
            got.push(feed(&mut c, i, 10, hostile));
        }
        // Over the last 30 s the mirror's job is not held at the floor.
        let late = &got[600..];
        let mean = late.iter().sum::<u64>() as f64 / late.len() as f64;
        assert!(
            mean > 0.5 * LINK as f64,
            "the class got {mean:.0} B/s of {LINK}"
        );
        // A queue at a link both paths share shows on both: it is cut for
        // at once, the hostile path's past notwithstanding.
        for i in 1_200..1_260 {
            feed(&mut c, i, 210, 710);
        }
        let rate = c.rate();
        assert!(rate != 0 && rate <= LINK / 2, "{rate}");
    }

    /// Runs a class on a 2 MB/s link with no queue for `counts` of 50 ms:
    /// the mirror (path 1) reads its base, 10 ms; each hostile path
    /// `(address, weight)` reads what `hostile(i, n)` says for it (its
    /// `n`th place), and carries `weight` times the mirror's share of what
    /// the rate lets through. Returns the mirror's bytes per second, per
    /// count.
    fn hostile_class(
        c: &mut Controller,
        counts: std::ops::Range<u64>,
        hostiles: &[(u8, u64)],
        hostile: impl Fn(u64, usize) -> u64,
    ) -> Vec<f64> {
        const LINK: u64 = 2_000_000;
        let weights = 1 + hostiles.iter().map(|&(_, w)| w).sum::<u64>();
        counts
            .map(|i| {
                let time = i * 50;
                let carried = match c.rate() {
                    0 => LINK,
                    rate => rate.min(LINK),
                };
                let share = carried / 20 / weights;
                c.on_delay(at(time), path(1), ms(10));
                c.on_bytes(path(1), share);
                for (n, &(address, weight)) in hostiles.iter().enumerate() {
                    c.on_delay(at(time), path(address), ms(hostile(i, n)));
                    c.on_connections(path(address), weight as usize);
                    c.on_bytes(path(address), share * weight);
                }
                c.adjust(at(time));
                share as f64 * 20.0
            })
            .collect()
    }

    fn mean(values: &[f64]) -> f64 {
        values.iter().sum::<f64>() / values.len() as f64
    }

    #[test]
    fn a_server_that_flaps_its_round_trip_does_not_hold_the_class_near_the_floor() {
        // The hostile server of the template above, which reads 500 ms
        // past its base for a little over 3 s, then its base for a little
        // over 3 s (its isolation forgotten), and again: each time its
        // queue is the class's anew for 3 s.
        let mut c = Controller::new(TARGET_LOW);
        let got = hostile_class(&mut c, 0..1_200, &[(2, 1)], |i, _| {
            if i < 20 || i % 140 >= 70 {
                10
            } else {
                510
            }
        });
        // The mirror's share alone of a free 2 MB/s link is 1 MB/s (it
        // got 638 KB/s while each climb was the class's for 3 s).
        let late = mean(&got[600..]);
        assert!(late > 900_000.0, "the mirror got {late:.0} B/s");
    }

    #[test]
    fn hostile_paths_taking_turns_do_not_hold_the_class_at_the_floor() {
        // Two addresses of a hostile server (or two colluding servers),
        // each climbing for 3.05 s then reading its base for 3.1 s, one
        // while the other rests: there is always one whose queue is on
        // its first 3 s.
        let mut c = Controller::new(TARGET_LOW);
        let got = hostile_class(&mut c, 0..1_200, &[(2, 1), (3, 1)], |i, n| {
            let phase = (i + 61 * n as u64) % 123;
            if i < 20 || phase >= 61 {
                10
            } else {
                510
            }
        });
        // A third of the link, 667 KB/s (it was the floor's third).
        let late = mean(&got[600..]);
        assert!(late > 600_000.0, "the mirror got {late:.0} B/s");
    }

    #[test]
    fn a_climbing_path_with_many_connections_does_not_hold_the_class_at_the_floor() {
        // Another user's jobs (through qmgrd) from the hostile server of
        // the template above: five connections to the mirror's one, so
        // that its path carries five times as much, and the mirror's path
        // is not busy enough for its short queue to tell.
        let mut c = Controller::new(TARGET_LOW);
        let got = hostile_class(&mut c, 0..1_200, &[(2, 5)], |i, _| {
            if i < 20 || i % 60 == 0 {
                10
            } else {
                510
            }
        });
        // The mirror's one connection of six: 331 KB/s (it was 2.8 KB/s,
        // a sixth of the floor).
        let late = mean(&got[600..]);
        assert!(
            late > 0.9 * 2_000_000.0 / 6.0,
            "the mirror got {late:.0} B/s"
        );
    }

    /// A class on a 2 MB/s link whose queue its own traffic builds (the
    /// sources send up to 1.2 times the link, as far as the rate lets
    /// them): the mirror (path 1) reads its base, 10 ms, plus the queue;
    /// with `hostile`, a second path of as many bytes reads 500 ms past
    /// its base (after the first second). Returns the bytes per second
    /// the link carried over the last 30 s of 60.
    fn queued_class(hostile: bool) -> f64 {
        const LINK: f64 = 2_000_000.0;
        let mut c = Controller::new(TARGET_LOW);
        let mut queue = 0.0f64;
        let mut carried = 0.0;
        for i in 0..1_200u64 {
            let time = i * 50;
            let offered = match c.rate() {
                0 => 1.2 * LINK,
                rate => (rate as f64).min(1.2 * LINK),
            };
            queue = (queue + (offered - LINK) * 0.05).max(0.0);
            let sent = offered.min(LINK) * 0.05;
            let delay = 10 + (queue / LINK * 1_000.0) as u64;
            let paths = if hostile { 2 } else { 1 };
            c.on_delay(at(time), path(1), ms(delay));
            c.on_bytes(path(1), (sent / paths as f64) as u64);
            if hostile {
                let reading = if i < 20 { delay } else { delay + 500 };
                c.on_delay(at(time), path(2), ms(reading));
                c.on_bytes(path(2), (sent / 2.0) as u64);
            }
            c.adjust(at(time));
            if i >= 600 {
                carried += sent;
            }
        }
        carried / 30.0
    }

    #[test]
    fn a_climbing_server_does_not_hold_a_class_that_fills_the_link_below_it() {
        // At the target, the class's own queue reads past half of it on
        // the mirror, which is then no short queue beside the climbing
        // one: each such moment made it the class's again. Alone the
        // class carried 1.93 MB/s, beside it 1.77.
        let alone = queued_class(false);
        let beside = queued_class(true);
        assert!(
            beside > 0.8 * alone,
            "{beside:.0} B/s beside it, {alone:.0} alone"
        );
    }

    #[test]
    fn paths_of_their_own_survive_extreme_inputs() {
        // A climbing path isolated beside a short one, then fed the
        // largest counts, connections of none or usize::MAX, and clocks
        // that go back: no panic, and rates a u64 can hold.
        let mut c = Controller::new(TARGET_LOW);
        for i in 0..100 {
            c.on_delay(at(i * 50), path(1), ms(10));
            c.on_delay(at(i * 50), path(2), ms(if i < 5 { 10 } else { 900 }));
            c.on_connections(path(1), 0);
            c.on_connections(path(2), usize::MAX);
            c.on_bytes(path(1), 50_000);
            c.on_bytes(path(2), 50_000);
            c.adjust(at(i * 50));
        }
        for i in 0..20 {
            let now = at(5_000 - i * 7);
            c.on_delay(now, path(1), ms(10));
            c.on_delay(now, path(2), Duration::from_micros(u64::from(u32::MAX)));
            c.on_bytes(path(1), u64::MAX);
            c.on_bytes(path(2), u64::MAX);
            c.on_link(u64::MAX, u64::MAX, Duration::from_nanos(1));
            c.adjust(now);
            c.adjust(now + Duration::from_nanos(1));
        }
        let _ = c.path_rate(path(1));
        let _ = c.path_rate(path(2));
        assert!(c.throughput().is_finite());
        assert!(c.target() <= MAX_TARGET);
    }

    #[test]
    #[ignore = "finding (open): a server forging short round trips while its own traffic fills the queue runs unyielding, and the honest path yields to it"]
    fn a_forging_server_does_not_take_the_link_from_the_honest_path() {
        // A 2 MB/s link. An honest mirror (path 1) reads 10 ms plus the
        // queue; a hostile server (path 2) of another user's job forges
        // 10 ms, and sends as fast as it may. Each may send what the
        // class's rate leaves it (half, or what the other does not take),
        // the honest one no more than its own limit.
        const LINK: f64 = 2_000_000.0;
        let mut c = Controller::new(TARGET_LOW);
        let mut queue = 0.0f64;
        let (mut honest, mut hostile) = (0.0, 0.0);
        for i in 0..1_200u64 {
            let time = i * 50;
            let class = match c.rate() {
                0 => f64::INFINITY,
                rate => rate as f64,
            };
            let own = c.path_rate(path(1)).map_or(f64::INFINITY, |r| r as f64);
            let first = (0.6 * LINK).min(own).min(class / 2.0);
            let second = (1.2 * LINK).min(class - first);
            let offered = first + second;
            queue = (queue + (offered - LINK) * 0.05).clamp(0.0, LINK);
            let share = offered.min(LINK) / offered;
            let delay = 10 + (queue / LINK * 1_000.0) as u64;
            c.on_delay(at(time), path(1), ms(delay));
            c.on_delay(at(time), path(2), ms(10));
            c.on_bytes(path(1), (first * share * 0.05) as u64);
            c.on_bytes(path(2), (second * share * 0.05) as u64);
            c.adjust(at(time));
            if i >= 600 {
                honest += first * share * 0.05 / 30.0;
                hostile += second * share * 0.05 / 30.0;
            }
        }
        // The honest path got 16 KB/s, the hostile one the rest: as a
        // FOREGROUND job would, from a background one.
        assert!(
            honest > 0.25 * LINK,
            "honest {honest:.0} B/s, hostile {hostile:.0}"
        );
    }

    #[test]
    fn a_trickle_of_junk_bursts_does_not_hold_every_class_at_the_floor() {
        // A 2.5 MB/s link; any host that knows the client's address (the
        // server of one job) sends it 40 KB of junk (UDP to a closed port)
        // every 1.4 s: 29 KB/s, about 1% of the link. Each burst looks
        // like the user's traffic appearing, and its end like the user
        // who may come back: every background class of every user waited
        // at the floor (1% of the link). The first burst still gets the
        // floor and the hold; the next ones, small after a small one, only
        // the room they use.
        let mut c = Controller::new(TARGET_LOW);
        let mut got = 0;
        let mut time = 0;
        while time < 60_000 {
            let ours = match c.rate() {
                0 => 125_000,
                rate => (rate / 20).min(125_000),
            };
            let junk = if time % 1_400 == 0 { 40_000 } else { 0 };
            c.on_link(ours + junk, junk, ms(50));
            step(&mut c, time, 1, ours);
            if time >= 30_000 {
                got += ours;
            }
            time += 50;
        }
        let share = got as f64 / (125_000.0 * 600.0);
        assert!(
            share > 0.5,
            "the classes got {:.0}% of the link",
            share * 100.0
        );
    }

    #[test]
    fn foreground_never_yields_and_high_queues_more_than_low() {
        assert_eq!(target(Priority::Foreground), None);
        assert!(target(Priority::High) > target(Priority::Low));
        assert_eq!(target(Priority::Normal), target(Priority::Low));
    }

    /// Runs the class on a 2.5 MB/s link for `counts` of 50 ms from `time`
    /// ms, while other traffic takes `others` bytes of each count (ours
    /// gets what the rate lets through of the rest). Returns the time
    /// after.
    fn share_link(c: &mut Controller, mut time: u64, counts: usize, others: u64) -> u64 {
        for _ in 0..counts {
            let room = 125_000 - others;
            let ours = match c.rate() {
                0 => room,
                rate => (rate / 20).min(room),
            };
            c.on_link(ours + others, others, ms(50));
            step(c, time, 1, ours);
            time += 50;
        }
        time
    }

    #[test]
    fn the_users_second_fetch_a_few_seconds_after_the_first_is_yielded_to_at_once() {
        // A 2.5 MB/s link, the class alone; the user fetches 256 KiB (a
        // page, at 2 MB/s), then another 3 s later. Each gets the floor at
        // once, and the hold after it: a fetch that size is no small
        // spell, however often it comes.
        let mut c = Controller::new(TARGET_LOW);
        let mut time = share_link(&mut c, 0, 40, 0);
        assert_eq!(c.rate(), 0);
        for _ in 0..2 {
            c.on_link(125_000, 100_000, ms(50));
            assert_eq!(step(&mut c, time, 1, 25_000), FLOOR as u64);
            time += 50;
            time = share_link(&mut c, time, 1, 100_000);
            time = share_link(&mut c, time, 1, 62_144);
            assert!(c.rate() < 2 * FLOOR as u64, "{}", c.rate());
            // It ended: the class holds near the floor a moment.
            time = share_link(&mut c, time, 20, 0);
            assert!(c.rate() < 2 * FLOOR as u64, "{}", c.rate());
            time = share_link(&mut c, time, 40, 0);
            assert!(c.rate() > 1_000_000, "{}", c.rate());
        }
        // A small spell (40 KB: a few requests, or junk) still gets the
        // floor at once, the first after a while.
        c.on_link(125_000, 40_000, ms(50));
        assert_eq!(step(&mut c, time, 1, 85_000), FLOOR as u64);
        time = share_link(&mut c, time + 50, 60, 0);
        assert!(c.rate() > 1_000_000, "{}", c.rate());
        // A download 3 s after it (half the link, a fair queue's share,
        // and whatever we leave) gets the room it uses less headroom at
        // once, and the floor once it carried 64 KiB, within a few
        // adjustments.
        let mut adjustments = 0;
        while c.rate() > FLOOR as u64 {
            adjustments += 1;
            assert!(adjustments <= 4, "{} after {adjustments}", c.rate());
            let left = 125_000u64.saturating_sub(c.rate() / 20);
            time = share_link(&mut c, time, 1, left.max(62_500));
        }
        // It ends: no small spell, the hold.
        time = share_link(&mut c, time, 40, 125_000);
        time = share_link(&mut c, time, 20, 0);
        assert!(c.rate() < 2 * FLOOR as u64, "{}", c.rate());
        share_link(&mut c, time, 40, 0);
        assert!(c.rate() > 1_000_000, "{}", c.rate());
    }

    #[test]
    #[ignore = "finding (open): a few KB of junk 10 s apart keep every small fetch of the user from the floor"]
    fn a_pinch_of_junk_does_not_keep_the_users_next_fetch_from_the_floor() {
        // A 2.5 MB/s link, the class alone. A host on the network sends
        // 6 KB of junk (four packets) every 9 s: 670 B/s. The user fetches
        // 48 KiB (an API call, a small page) 5 s after the last junk:
        // without the junk it gets the floor at once.
        let fetch = |junk: bool| {
            let mut c = Controller::new(TARGET_LOW);
            let mut time = share_link(&mut c, 0, 40, 0);
            if junk {
                for _ in 0..3 {
                    time = share_link(&mut c, time, 1, 6_000);
                    time = share_link(&mut c, time, 179, 0);
                }
                time = share_link(&mut c, time, 1, 6_000);
            }
            time = share_link(&mut c, time, 100, 0);
            assert!(c.rate() == 0 || c.rate() > 1_000_000, "{}", c.rate());
            share_link(&mut c, time, 1, 49_152);
            c.rate()
        };
        assert_eq!(fetch(false), FLOOR as u64);
        let rate = fetch(true);
        // With it, the class kept 1.22 MB/s of the 2.5: the fetch is
        // rationed, as any under 64 KiB is while junk keeps coming.
        assert_eq!(
            rate, FLOOR as u64,
            "with the junk the class kept {rate} B/s"
        );
    }

    #[test]
    fn on_a_fast_link_the_users_fetches_a_second_apart_each_get_the_floor() {
        // 100 Mbit/s (625 KB a count); the user fetches 256 KiB, a few
        // milliseconds of the link, every second (bench/yield.sh's
        // fetches): each is the user's, not junk, and gets the floor at
        // once.
        const COUNT: u64 = 625_000;
        let mut c = Controller::new(TARGET_LOW);
        let mut time = 0;
        let mut run = |c: &mut Controller, others: u64| {
            let ours = match c.rate() {
                0 => COUNT - others,
                rate => (rate / 20).min(COUNT - others),
            };
            c.on_link(ours + others, others, ms(50));
            let rate = step(c, time, 1, ours);
            time += 50;
            rate
        };
        for _ in 0..40 {
            run(&mut c, 0);
        }
        for fetch in 0..5 {
            assert_eq!(run(&mut c, 262_144), FLOOR as u64, "fetch {fetch}");
            for _ in 0..19 {
                run(&mut c, 0);
            }
        }
    }
}
