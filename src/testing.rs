//! Helpers for the unit tests (compiled only with `cfg(test)`).

use std::path::{Path, PathBuf};

/// A fresh, empty directory for one unit test under the build's
/// `target/tmp` (never a shared `/tmp` name that two runs could collide
/// on); removed when dropped, unless the test is failing, so its files can
/// be looked at.
pub(crate) struct Scratch(PathBuf);

impl Scratch {
    /// Makes `target/tmp/unit-NAME-PID-N`.
    pub(crate) fn new(name: &str) -> Scratch {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        // The test binary is target/<profile>/deps/<name>-<hash>.
        let exe = std::env::current_exe().expect("the test binary's path");
        let target = exe
            .ancestors()
            .nth(3)
            .expect("a test binary in target/<profile>/deps");
        let dir = target.join("tmp").join(format!(
            "unit-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a scratch directory");
        Scratch(dir)
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A tiny deterministic PRNG (splitmix64) for the property tests: the same
/// cases on every run of a seed.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    /// The next 64 random bits.
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n`.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// One of `items`.
    pub(crate) fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.below(items.len())]
    }

    /// True `percent` times in a hundred.
    pub(crate) fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    /// `1..=max` picks from `items`, joined.
    pub(crate) fn string(&mut self, items: &[&str], max: usize) -> String {
        (0..1 + self.below(max)).map(|_| self.pick(items)).collect()
    }
}
