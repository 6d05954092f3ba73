//! Ctrl-C (SIGINT) and SIGTERM during `qmgr transfer`: instead of dying
//! mid-write, the tool notices the signal at its next progress tick and
//! stops the job cleanly. A second signal while it does so ends the process
//! at once, as the default action would.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::flag;

/// The signals caught so far, readable from the watching loop.
pub struct Interrupts {
    /// The number of the last signal caught (0: none).
    signal: Arc<AtomicUsize>,
}

impl Interrupts {
    /// Catches SIGINT and SIGTERM from now on. If the handlers cannot be
    /// installed, the signals keep their default action (the process ends,
    /// as it would have anyway).
    pub fn catch() -> Interrupts {
        let signal = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(AtomicBool::new(false));
        for sig in [SIGINT, SIGTERM] {
            // Registered first, so it sees `seen` before this signal sets it:
            // only a second signal takes the default action.
            let _ = flag::register_conditional_default(sig, Arc::clone(&seen))
                .and_then(|_| flag::register(sig, Arc::clone(&seen)))
                .and_then(|_| flag::register_usize(sig, Arc::clone(&signal), sig as usize));
        }
        Interrupts { signal }
    }

    /// The signal caught, if any.
    pub fn caught(&self) -> Option<i32> {
        match self.signal.load(Ordering::Relaxed) {
            0 => None,
            sig => Some(sig as i32),
        }
    }
}
