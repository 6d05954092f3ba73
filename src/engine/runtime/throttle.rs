//! Bandwidth limits: a token bucket that readers pay into before they write.
//!
//! A bucket refills at `rate` bytes per second up to a small burst. A reader
//! that takes more than the bucket holds goes into debt and sleeps until the
//! debt is paid, so the long-run rate is exact whatever the chunk sizes, and
//! several jobs sharing one bucket share its rate. A reader that sleeps a
//! little longer than asked finds the difference in the bucket (up to the
//! burst), so oversleeping does not slow it down.
//!
//! The time is a parameter (`take_at`, `set_rate_at`): the copy loop passes
//! `Instant::now()` through `take` and `set_rate`, the tests pass a virtual
//! clock and run seconds of transfer in microseconds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::sync::Mutex;

/// How much a bucket may save up, in seconds of its rate.
const BURST_SECONDS: f64 = 0.05;

/// A shared bandwidth limit; a rate of 0 means unlimited.
#[derive(Debug)]
pub(crate) struct Throttle {
    rate: AtomicU64,
    bucket: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    /// Bytes that may be taken now; negative is debt.
    tokens: f64,
    /// The time `tokens` was counted at; it never goes back.
    refilled_at: Instant,
}

impl Bucket {
    /// Adds what `rate` earned since the last count, up to the burst.
    /// A `now` before the last count (another thread read the clock later
    /// but locked first) earns nothing and leaves the count where it is.
    fn refill(&mut self, rate: u64, now: Instant) {
        if now <= self.refilled_at {
            return;
        }
        if rate > 0 {
            let rate = rate as f64;
            let elapsed = (now - self.refilled_at).as_secs_f64();
            self.tokens = (self.tokens + elapsed * rate).min(rate * BURST_SECONDS);
        }
        self.refilled_at = now;
    }
}

impl Throttle {
    /// A limit of `rate` bytes per second (0: unlimited).
    pub(crate) fn new(rate: u64) -> Throttle {
        Throttle::starting_at(rate, Instant::now())
    }

    /// A limit of `rate` bytes per second with an empty bucket at `now`.
    fn starting_at(rate: u64, now: Instant) -> Throttle {
        Throttle {
            rate: AtomicU64::new(rate),
            bucket: Mutex::new(Bucket {
                tokens: 0.0,
                refilled_at: now,
            }),
        }
    }

    /// The limit in bytes per second (0: unlimited).
    pub(crate) fn rate(&self) -> u64 {
        self.rate.load(Ordering::Relaxed)
    }

    /// Changes the limit; takes effect for the next chunk.
    pub(crate) fn set_rate(&self, rate: u64) {
        self.set_rate_at(rate, Instant::now());
    }

    /// Changes the limit at `now`: the time until then is paid for at the
    /// old rate, any savings are dropped, a debt is paid at the new rate.
    fn set_rate_at(&self, rate: u64, now: Instant) {
        let mut bucket = self.bucket.lock();
        let old = self.rate.swap(rate, Ordering::Relaxed);
        bucket.refill(old, now);
        // Without a limit nothing was owed.
        bucket.tokens = if old == 0 {
            0.0
        } else {
            bucket.tokens.min(0.0)
        };
    }

    /// Takes `bytes` from the bucket and returns how long the caller must wait
    /// before using them (zero when unlimited or covered).
    pub(crate) fn take(&self, bytes: u64) -> Duration {
        if self.rate() == 0 {
            return Duration::ZERO;
        }
        self.take_at(bytes, Instant::now())
    }

    /// `take`, at `now`.
    fn take_at(&self, bytes: u64, now: Instant) -> Duration {
        let rate = self.rate();
        if rate == 0 {
            return Duration::ZERO;
        }
        let mut bucket = self.bucket.lock();
        bucket.refill(rate, now);
        bucket.tokens -= bytes as f64;
        if bucket.tokens >= 0.0 {
            return Duration::ZERO;
        }
        // The debt is due from the time it was counted at, which is `now`
        // unless another taker counted it later.
        let due = bucket.refilled_at + Duration::from_secs_f64(-bucket.tokens / rate as f64);
        due.saturating_duration_since(now)
    }

    /// Forgives any debt beyond `seconds` of the rate: bytes that came in
    /// a burst long ago are not paid for by a long stall now.
    pub(crate) fn limit_debt(&self, seconds: f64) {
        let rate = self.rate() as f64;
        let mut bucket = self.bucket.lock();
        bucket.tokens = bucket.tokens.max(-rate * seconds);
    }

    /// A read size that keeps each wait short (about 1/20 s of the rate).
    pub(crate) fn chunk_size(&self, max: usize) -> usize {
        match self.rate() {
            0 => max,
            rate => (rate / 20).clamp(4096, max as u64) as usize,
        }
    }
}

#[cfg(test)]
mod tests {
    //! The bucket in virtual time: each test runs seconds of transfer as
    //! the copy loop does (read a chunk of `chunk_size(CHUNK)`, pay every
    //! throttle the chunk goes through, sleep the longest wait), in
    //! microseconds of real time.

    use super::*;
    use crate::engine::runtime::copy::CHUNK;

    const MIB: u64 = 1 << 20;

    /// The start of virtual time.
    fn t0() -> Instant {
        use std::sync::OnceLock;
        static T0: OnceLock<Instant> = OnceLock::new();
        *T0.get_or_init(Instant::now)
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    /// `a` and `b` agree to a microsecond (the bucket counts in `f64`).
    fn close(a: Duration, b: Duration) -> bool {
        a.abs_diff(b) <= Duration::from_micros(1)
    }

    /// One copy loop: the throttles its chunks pay, the virtual time of
    /// its next read, the bytes it has written and the chunk it waits to
    /// write (when, how many bytes).
    struct Reader<'a> {
        throttles: Vec<&'a Throttle>,
        next: Duration,
        moved: u64,
        pending: Option<(Duration, u64)>,
    }

    fn reader<'a>(throttles: &[&'a Throttle]) -> Reader<'a> {
        Reader {
            throttles: throttles.to_vec(),
            next: Duration::ZERO,
            moved: 0,
            pending: None,
        }
    }

    /// Runs the readers until `until` (virtual time since `t0`), the
    /// earliest first. A reader reads a chunk (at once: the source is
    /// fast), pays it, and writes it when its wait ends; `moved` counts
    /// the chunks written by `until`. It then sleeps `oversleep()` more,
    /// as a thread woken late would.
    fn run(readers: &mut [Reader], until: Duration, mut oversleep: impl FnMut() -> Duration) {
        let write = |r: &mut Reader| {
            if let Some((_, n)) = r.pending.filter(|&(at, _)| at <= until) {
                r.moved += n;
                r.pending = None;
            }
        };
        readers.iter_mut().for_each(write);
        loop {
            let Some(r) = readers
                .iter_mut()
                .filter(|r| r.next < until)
                .min_by_key(|r| r.next)
            else {
                return;
            };
            let now = t0() + r.next;
            let n = r
                .throttles
                .iter()
                .map(|t| t.chunk_size(CHUNK))
                .min()
                .unwrap() as u64;
            let wait = r.throttles.iter().map(|t| t.take_at(n, now)).max().unwrap();
            let written = r.next + wait;
            r.pending = Some((written, n));
            write(r);
            r.next = written + oversleep();
        }
    }

    fn on_time() -> Duration {
        Duration::ZERO
    }

    /// A late wake-up of 0 to `max`, the same every run (xorshift).
    fn late_by(max: Duration) -> impl FnMut() -> Duration {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            max.mul_f64((x % 1000) as f64 / 1000.0)
        }
    }

    /// `moved` bytes over `over` at `rate` B/s: the achieved rate over the limit.
    fn ratio(moved: u64, rate: u64, over: Duration) -> f64 {
        moved as f64 / (rate as f64 * over.as_secs_f64())
    }

    #[test]
    fn one_reader_holds_the_rate_to_a_chunk() {
        let ten = secs(10.0);
        for rate in [10_000, 64 << 10, 2 * MIB, 100 * MIB] {
            let t = Throttle::starting_at(rate, t0());
            let mut readers = [reader(&[&t])];
            run(&mut readers, ten, on_time);
            let chunk = t.chunk_size(CHUNK) as f64;
            let exact = rate as f64 * ten.as_secs_f64();
            let moved = readers[0].moved as f64;
            // Never ahead (the bucket starts empty), behind by less than
            // the chunk whose wait ends after the ten seconds.
            assert!(
                moved <= exact && moved > exact - chunk,
                "{rate} B/s: {moved} bytes in 10 s"
            );
        }
        // The ±10% of the design, with room to spare: within 0.5%.
        let t = Throttle::starting_at(2 * MIB, t0());
        let mut readers = [reader(&[&t])];
        run(&mut readers, ten, on_time);
        let r = ratio(readers[0].moved, 2 * MIB, ten);
        assert!((0.995..=1.0).contains(&r), "{r}");
    }

    #[test]
    fn a_late_wake_up_is_made_up_from_the_burst() {
        // Threads wake up to 40 ms late (less than the 50 ms burst): the
        // bucket saves what the sleeper missed, and the next wait is that
        // much shorter.
        let ten = secs(10.0);
        let t = Throttle::starting_at(2 * MIB, t0());
        let mut readers = [reader(&[&t])];
        run(&mut readers, ten, late_by(Duration::from_millis(40)));
        let r = ratio(readers[0].moved, 2 * MIB, ten);
        assert!((0.99..=1.0).contains(&r), "{r}");
        // Later than the burst, the rest is lost: the rate is a ceiling.
        let t = Throttle::starting_at(2 * MIB, t0());
        let mut readers = [reader(&[&t])];
        run(&mut readers, ten, || Duration::from_millis(100));
        let r = ratio(readers[0].moved, 2 * MIB, ten);
        assert!(r < 0.7, "{r}");
    }

    #[test]
    fn readers_sharing_a_bucket_share_its_rate() {
        let ten = secs(10.0);
        let rate = 2 * MIB;
        for count in [2, 4, 8] {
            let t = Throttle::starting_at(rate, t0());
            let mut readers: Vec<Reader> = (0..count).map(|_| reader(&[&t])).collect();
            run(&mut readers, ten, late_by(Duration::from_millis(20)));
            let total: u64 = readers.iter().map(|r| r.moved).sum();
            let r = ratio(total, rate, ten);
            // Behind by at most one chunk per reader.
            let slack = count as f64 * t.chunk_size(CHUNK) as f64 / (rate as f64 * 10.0);
            assert!(r <= 1.0 && r >= 1.0 - slack, "{count} readers: {r}");
            // And fairly: each within 10% of its share.
            for (i, reader) in readers.iter().enumerate() {
                let share = ratio(reader.moved * count, rate, ten);
                assert!(
                    (0.9..=1.1).contains(&share),
                    "reader {i} of {count}: {share}"
                );
            }
        }
    }

    #[test]
    fn a_job_limit_applies_on_top_of_the_manager_limit() {
        // The copy loop pays the job's bucket and the manager's, and
        // waits the longer of the two.
        let ten = secs(10.0);
        let manager = Throttle::starting_at(2 * MIB, t0());
        let job = Throttle::starting_at(512 << 10, t0());
        let mut readers = [reader(&[&job, &manager])];
        run(&mut readers, ten, late_by(Duration::from_millis(20)));
        let r = ratio(readers[0].moved, 512 << 10, ten);
        assert!((0.99..=1.0).contains(&r), "the job's own limit: {r}");
        // Beside an unlimited job, the manager's limit holds for the two,
        // the job's limit stays a ceiling, and neither starves. (The
        // manager's rate is shared per chunk taken, and the limited job's
        // chunks are smaller: it gets 80% of its limit here, not all of it.)
        let other = Throttle::starting_at(0, t0());
        let manager = Throttle::starting_at(2 * MIB, t0());
        let job = Throttle::starting_at(512 << 10, t0());
        let mut readers = [reader(&[&job, &manager]), reader(&[&other, &manager])];
        run(&mut readers, ten, on_time);
        let limited = ratio(readers[0].moved, 512 << 10, ten);
        let total = ratio(readers[0].moved + readers[1].moved, 2 * MIB, ten);
        assert!((0.99..=1.0).contains(&total), "{total}");
        assert!((0.75..=1.0).contains(&limited), "{limited}");
    }

    #[test]
    fn a_rate_change_takes_effect_at_the_next_chunk() {
        let t = Throttle::starting_at(2 * MIB, t0());
        let mut readers = [reader(&[&t])];
        let five = secs(5.0);
        let mut before = 0;
        for (i, rate) in [2 * MIB, 512 << 10, 4 * MIB].into_iter().enumerate() {
            let start = five * i as u32;
            if i > 0 {
                t.set_rate_at(rate, t0() + start);
            }
            run(&mut readers, start + five, on_time);
            let moved = readers[0].moved - before;
            before = readers[0].moved;
            let r = ratio(moved, rate, five);
            assert!((0.97..=1.03).contains(&r), "{rate} B/s from {start:?}: {r}");
        }
        // Slower: the next chunk waits at the new rate, a debt included.
        let t = Throttle::starting_at(2 * MIB, t0());
        assert_eq!(t.take_at(100_000, t0() + secs(1.0)), Duration::ZERO);
        t.set_rate_at(1000, t0() + secs(1.0));
        assert!(close(t.take_at(3000, t0() + secs(1.0)), secs(3.0)));
        t.set_rate_at(2000, t0() + secs(2.0));
        // 2000 of the 3000 were still owed: 1 s at 2000 B/s.
        assert!(close(t.take_at(0, t0() + secs(2.0)), secs(1.0)));
    }

    #[test]
    fn a_burst_is_at_most_burst_seconds_of_the_rate() {
        let rate = MIB;
        let t = Throttle::starting_at(rate, t0());
        // After 10 idle seconds, 4 KiB reads at one instant go through
        // without a wait only while the burst lasts.
        let at = t0() + secs(10.0);
        let mut free = 0;
        while t.take_at(4096, at) == Duration::ZERO {
            free += 4096;
        }
        let burst = rate as f64 * BURST_SECONDS;
        assert!(
            (free as f64) <= burst && free as f64 > burst - 4096.0,
            "{free}"
        );
        // A reader that starts after an idle spell is ahead of the rate by
        // at most the burst.
        let t = Throttle::starting_at(rate, t0());
        let mut readers = [Reader {
            next: secs(10.0),
            ..reader(&[&t])
        }];
        run(&mut readers, secs(11.0), on_time);
        let moved = readers[0].moved as f64;
        assert!(moved <= rate as f64 * (1.0 + BURST_SECONDS), "{moved}");
        assert!(moved > rate as f64 * (1.0 + BURST_SECONDS) - t.chunk_size(CHUNK) as f64);
    }

    #[test]
    fn unlimited_never_waits() {
        let t = Throttle::starting_at(0, t0());
        for s in [0.0, 0.001, 1.0, 1e6] {
            assert_eq!(t.take_at(u64::MAX / 2, t0() + secs(s)), Duration::ZERO);
        }
        assert_eq!(t.take(u64::MAX / 2), Duration::ZERO);
        assert_eq!(t.chunk_size(CHUNK), CHUNK);
        // Lifting a limit lifts its debt, now and when a limit returns.
        let t = Throttle::starting_at(1000, t0());
        assert!(close(t.take_at(5000, t0()), secs(5.0)));
        t.set_rate_at(0, t0() + secs(1.0));
        assert_eq!(t.take_at(1 << 30, t0() + secs(1.0)), Duration::ZERO);
        t.set_rate_at(1000, t0() + secs(2.0));
        assert!(close(t.take_at(1000, t0() + secs(2.0)), secs(1.0)));
    }

    #[test]
    fn debt_is_proportional_to_the_rate() {
        let t = Throttle::starting_at(1000, t0());
        assert!(close(t.take_at(2000, t0()), secs(2.0)));
        // A second taker queues behind the first one's debt.
        assert!(close(t.take_at(1000, t0()), secs(3.0)));
        // A second later a third of it is paid.
        assert!(close(t.take_at(0, t0() + secs(1.0)), secs(2.0)));
    }

    #[test]
    fn a_clock_read_before_the_last_count_is_not_counted_twice() {
        // Two threads: one read the clock at 0.5 s, the other at 1 s, and
        // the second locked the bucket first.
        let t = Throttle::starting_at(1000, t0());
        // 1 s refilled only the 50-byte burst: 950 owed, 0.95 s.
        assert!(close(t.take_at(1000, t0() + secs(1.0)), secs(0.95)));
        // The earlier reading earns nothing and waits for both debts from
        // its own time: 1950 owed at 1 s, paid at 2.95 s.
        assert!(close(t.take_at(1000, t0() + secs(0.5)), secs(2.45)));
        // And the count did not go back: at 2.95 s nothing is owed.
        assert_eq!(t.take_at(0, t0() + secs(2.95)), Duration::ZERO);
    }
}
