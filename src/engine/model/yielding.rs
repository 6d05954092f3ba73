//! Yielding (issue 23, in progress): the rate controller that keeps
//! background transfers to the network's idle capacity, as a pure model
//! driven by the caller's clock and delay samples.
//!
//! It is LEDBAT (RFC 6817) run by the receiver (rLEDBAT, RFC 9840), with
//! LEDBAT++'s 60 ms target and periodic slowdowns: the receiver cannot
//! change the server's congestion control, but it decides how fast it
//! reads (a throttle every background connection of a manager pays), which
//! in turn closes the advertised window.
//!
//! - The *base delay* is the least round trip seen: the path without
//!   queues. It is the minimum of per-interval minima over the last
//!   [`BASE_HISTORY`] intervals of [`BASE_INTERVAL`], so that a longer
//!   route learned later replaces it.
//! - The *current delay* is the least sample between two adjustments
//!   (one noisy sample among others does not count).
//! - The *queuing delay* is their difference. Each [`Controller::adjust`]
//!   compares it with the target: above, the rate is cut in proportion
//!   (at most halved); below, it grows in proportion to the room left
//!   (multiplicatively, so that a fast link is filled within seconds),
//!   and once it runs well ahead of what actually arrives, the limit is
//!   lifted (nothing queues: the link is not the bottleneck).
//! - While limited, every [`SLOWDOWN_EVERY`] the rate drops to the floor
//!   for a moment ([`Controller::slowing_down`]), so that the queue our own
//!   traffic keeps drains and the base delay can be measured afresh.
//!
//! All the manager's background connections feed one controller, so that
//! six segments yield as one flow. FOREGROUND jobs never pay it.
//!
//! Not wired into the copy loop yet: the runtime part (samples from
//! `TCP_INFO`, the shared throttle), the job option and the benchmark that
//! tunes the constants are issue 23's next steps.
#![cfg_attr(not(test), allow(dead_code))]

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// LEDBAT++'s target queuing delay.
pub(crate) const TARGET: Duration = Duration::from_millis(60);
/// The width of one base-delay interval.
pub(crate) const BASE_INTERVAL: Duration = Duration::from_secs(60);
/// How many intervals the base delay remembers (RFC 6817: 10 minutes).
pub(crate) const BASE_HISTORY: usize = 10;
/// The least rate the controller sets, in bytes per second: slow enough to
/// let a queue drain, fast enough to keep sampling.
pub(crate) const FLOOR: f64 = 16.0 * 1024.0;
/// How often, while limited, the rate drops to the floor to re-learn the
/// base delay; and for how long (at least two base round trips).
pub(crate) const SLOWDOWN_EVERY: Duration = Duration::from_secs(30);
pub(crate) const SLOWDOWN_FOR: Duration = Duration::from_millis(200);

/// The controller of one manager's background transfers.
#[derive(Debug)]
pub(crate) struct Controller {
    target: Duration,
    /// (interval start, least delay seen in it), oldest first.
    base: VecDeque<(Instant, Duration)>,
    /// The least sample since the last adjustment, and the one before.
    sampled: Option<Duration>,
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
}

impl Controller {
    /// A controller aiming at `target` queuing delay, unlimited until it
    /// sees queuing.
    pub(crate) fn new(target: Duration) -> Controller {
        Controller {
            target,
            base: VecDeque::new(),
            sampled: None,
            current: None,
            rate: None,
            arrived: 0,
            adjusted: None,
            last_slowdown: None,
            slowdown: None,
        }
    }

    /// A round trip measured at `now` by any of the connections.
    pub(crate) fn on_delay(&mut self, now: Instant, rtt: Duration) {
        match self.base.back_mut() {
            Some((start, least)) if now.saturating_duration_since(*start) < BASE_INTERVAL => {
                *least = (*least).min(rtt);
            }
            _ => {
                self.base.push_back((now, rtt));
                while self.base.len() > BASE_HISTORY {
                    self.base.pop_front();
                }
            }
        }
        self.sampled = Some(self.sampled.map_or(rtt, |least| least.min(rtt)));
    }

    /// `bytes` arrived on any of the connections.
    pub(crate) fn on_bytes(&mut self, bytes: u64) {
        self.arrived = self.arrived.saturating_add(bytes);
    }

    /// The queuing delay the samples show (those since the last
    /// adjustment, else the last adjustment's), if there are any.
    pub(crate) fn queuing_delay(&self) -> Option<Duration> {
        let base = self.base.iter().map(|&(_, d)| d).min()?;
        let current = self.sampled.or(self.current)?;
        Some(current.saturating_sub(base))
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
        let queuing = self.queuing_delay();
        if let Some(sampled) = self.sampled.take() {
            self.current = Some(sampled);
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
        let Some(queuing) = queuing else {
            return self.rate();
        };
        let target = self.target.as_secs_f64();
        let off = (target - queuing.as_secs_f64()) / target;
        let throughput = match since.as_secs_f64() {
            s if s > 0.0 => arrived as f64 / s,
            _ => 0.0,
        };
        self.rate = match self.rate {
            // Queuing past the target while unlimited: start from what
            // arrives, cut as below; the first slowdown is a period away.
            None if off < 0.0 => {
                self.last_slowdown = Some(now);
                Some(cut(throughput.max(FLOOR), off))
            }
            None => None,
            Some(rate) if off < 0.0 => Some(cut(rate, off)),
            // Room left: grow by up to a quarter per adjustment; far ahead
            // of what arrives, the link is not what limits: lift the limit.
            Some(rate) => {
                let grown = rate * (1.0 + 0.25 * off);
                (throughput <= 0.0 || grown < 4.0 * throughput).then_some(grown)
            }
        };
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

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Feeds one round trip of `rtt` and `bytes` at `time` ms, then adjusts.
    fn step(c: &mut Controller, time: u64, rtt: u64, bytes: u64) -> u64 {
        c.on_delay(at(time), ms(rtt));
        c.on_bytes(bytes);
        c.adjust(at(time))
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
    fn far_ahead_of_what_arrives_the_limit_is_lifted() {
        let mut c = Controller::new(TARGET);
        step(&mut c, 0, 20, 0);
        assert!(step(&mut c, 100, 200, 100 << 10) > 0);
        step(&mut c, 350, 20, 0); // the slowdown ends
                                  // No queue, and little arrives (the source is the limit): the rate
                                  // grows until it is four times what arrives, then the limit goes.
        let mut time = 450;
        while c.rate() != 0 {
            step(&mut c, time, 20, 10 << 10);
            time += 100;
            assert!(time < 10_000, "still limited at {}", c.rate());
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
            c.on_delay(at(i), ms(30));
        }
        c.on_delay(at(10), ms(500));
        assert_eq!(c.queuing_delay(), Some(ms(0)));
    }

    #[test]
    fn samples_of_every_connection_feed_one_controller() {
        // Six segments, each seeing the queue the others build: one rate.
        let mut c = Controller::new(TARGET);
        for conn in 0..6u64 {
            c.on_delay(at(conn), ms(40));
        }
        c.adjust(at(10));
        for conn in 0..6u64 {
            c.on_delay(at(100 + conn), ms(180 + conn));
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
}
