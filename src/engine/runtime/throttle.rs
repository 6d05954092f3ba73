//! Bandwidth limits: a token bucket that readers pay into before they write.
//!
//! A bucket refills at `rate` bytes per second up to a small burst. A reader
//! that takes more than the bucket holds goes into debt and sleeps until the
//! debt is paid, so the long-run rate is exact whatever the chunk sizes, and
//! several jobs sharing one bucket share its rate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

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
    refilled_at: Instant,
}

impl Throttle {
    /// A limit of `rate` bytes per second (0: unlimited).
    pub(crate) fn new(rate: u64) -> Throttle {
        Throttle {
            rate: AtomicU64::new(rate),
            bucket: Mutex::new(Bucket {
                tokens: 0.0,
                refilled_at: Instant::now(),
            }),
        }
    }

    /// The limit in bytes per second (0: unlimited).
    pub(crate) fn rate(&self) -> u64 {
        self.rate.load(Ordering::Relaxed)
    }

    /// Changes the limit; takes effect for the next chunk.
    pub(crate) fn set_rate(&self, rate: u64) {
        self.rate.store(rate, Ordering::Relaxed);
        let mut bucket = self.bucket.lock();
        bucket.tokens = bucket.tokens.min(0.0);
        bucket.refilled_at = Instant::now();
    }

    /// Takes `bytes` from the bucket and returns how long the caller must wait
    /// before using them (zero when unlimited or covered).
    pub(crate) fn take(&self, bytes: u64) -> Duration {
        let rate = self.rate();
        if rate == 0 {
            return Duration::ZERO;
        }
        let rate = rate as f64;
        let mut bucket = self.bucket.lock();
        let now = Instant::now();
        let elapsed = now.duration_since(bucket.refilled_at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(rate * BURST_SECONDS);
        bucket.refilled_at = now;
        bucket.tokens -= bytes as f64;
        if bucket.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-bucket.tokens / rate)
        }
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
    use super::*;

    #[test]
    fn unlimited_never_waits() {
        let t = Throttle::new(0);
        assert_eq!(t.take(u64::MAX / 2), Duration::ZERO);
    }

    #[test]
    fn debt_is_proportional_to_the_rate() {
        let t = Throttle::new(1000);
        let wait = t.take(2000);
        // 2000 bytes at 1000 B/s, minus at most the tiny refill since creation.
        assert!(
            wait > Duration::from_millis(1900) && wait <= Duration::from_millis(2000),
            "{wait:?}"
        );
        // A second taker queues behind the first one's debt.
        let wait2 = t.take(1000);
        assert!(wait2 > Duration::from_millis(2900), "{wait2:?}");
    }
}
