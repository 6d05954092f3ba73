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
