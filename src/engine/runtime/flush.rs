//! Syncing a file in steps while it is written. `sync_file_range` starts
//! the writeback, but the disk's (and a virtual disk's host's) own cache
//! is flushed only by an fsync, and its cost grows with what was written
//! since the last one: 256 MiB written at disk speed still left about
//! 0.35 s to the fsync that followed them on the machine this was
//! measured on, and 20 ms with an fsync every 32 MiB along the way. A
//! `Flusher`, run on a thread of its own beside the writers, makes those
//! fsyncs while they go on. It makes nothing durable that the caller can
//! count on: the caller's own fsync still does that, with little left.

use std::fs::File;
use std::sync::Arc;

use crate::sync::{Condvar, Mutex};

/// The bytes written between two of the flusher's fsyncs.
const STEP: u64 = 32 << 20;

#[derive(Default)]
struct State {
    /// Bytes written since the last fsync began.
    unsynced: u64,
    ended: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

/// The writers' handle on a thread that syncs one file each `STEP` bytes
/// they say they wrote. Dropping it ends the thread once the fsync it is
/// making, if any, returns; nobody waits for that.
pub(crate) struct Flusher {
    shared: Arc<Shared>,
}

impl Flusher {
    /// Starts syncing `file` (through a handle of its own) as it is
    /// written. Where no thread or handle can be had, the writers go on
    /// without one: their own fsync at the end then does all the work.
    pub(crate) fn start(file: &File) -> Flusher {
        let shared = Arc::new(Shared::default());
        if let Ok(file) = file.try_clone() {
            let runner = Arc::clone(&shared);
            let _ = std::thread::Builder::new()
                .name("qmgr-flush".into())
                .spawn(move || runner.run(&file));
        }
        Flusher { shared }
    }

    /// Counts `bytes` more written to the file.
    pub(crate) fn wrote(&self, bytes: u64) {
        let mut state = self.shared.state.lock();
        state.unsynced += bytes;
        if state.unsynced >= STEP {
            self.shared.wake.notify_one();
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.shared.state.lock().ended = true;
        self.shared.wake.notify_one();
    }
}

impl Shared {
    /// Syncs `file`'s data each time `STEP` bytes were written since the
    /// last sync began, until the writers' handle is dropped. A failed
    /// sync is left for the writers' own fsync to report.
    fn run(&self, file: &File) {
        let mut state = self.state.lock();
        loop {
            if state.ended {
                return;
            }
            if state.unsynced < STEP {
                self.wake.wait(&mut state);
                continue;
            }
            state.unsynced = 0;
            drop(state);
            let _ = file.sync_data();
            state = self.state.lock();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// Waits (at most 30 s) until `done` holds.
    fn wait_for(done: impl Fn() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done() && Instant::now() < deadline {
            std::thread::yield_now();
        }
        done()
    }

    #[test]
    fn a_flusher_syncs_past_each_step_and_its_thread_ends_with_the_writers() {
        let path = std::env::temp_dir().join(format!("qmgr-flusher-{}", std::process::id()));
        let file = File::create(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let flusher = Flusher::start(&file);
        let shared = Arc::clone(&flusher.shared);
        assert_eq!(
            Arc::strong_count(&shared),
            3,
            "the thread holds the state too"
        );
        flusher.wrote(STEP - 1);
        flusher.wrote(1);
        // The step was reached: the thread takes it (the count starts over).
        assert!(wait_for(|| shared.state.lock().unsynced == 0));
        // Below the step nothing is taken.
        flusher.wrote(5);
        assert_eq!(shared.state.lock().unsynced, 5);
        drop(flusher);
        assert!(
            wait_for(|| Arc::strong_count(&shared) == 1),
            "the thread ended"
        );
    }
}
