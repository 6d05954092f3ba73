//! The state the runtime's threads share: a manager's, and each job's.
//! Data only; the behaviour is in `manager`, `job` and `worker`.
//!
//! A job's model lives in its `data` lock, together with what only the
//! runtime has (the running transfer's cancel token, the persistence
//! version). Lock-free readers see the `live` atomics, which the runtime
//! publishes from the model after every command.

use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use crate::engine::model::job::{JobModel, Published, DEFAULT_MAX_CONNECTIONS};
use crate::engine::runtime::notify::{Dispatcher, Gate};
use crate::engine::runtime::throttle::Throttle;
use crate::engine::runtime::yielder::Yielding;
use crate::engine::store::Store;
use crate::engine::transport::cancel::CancelToken;
use crate::engine::transport::options::Environment;
use crate::engine::types::{JobId, JobProgress, JobState};
use crate::sync::{Condvar, Mutex};

/// The counters' marker for "size not known yet".
pub(crate) const UNKNOWN: u64 = u64::MAX;

/// Default cap on the connections of all jobs of a manager: the default
/// number of active jobs times their default connections, so the defaults
/// never bind; a device lowers it.
pub const DEFAULT_MANAGER_CONNECTIONS: usize = 24;

/// How often the smoothed rate and JOB_MODIFICATION progress events update.
const RATE_WINDOW: std::time::Duration = std::time::Duration::from_millis(250);

/// State shared by a manager, its jobs and its threads.
pub(crate) struct ManagerShared {
    pub open: AtomicBool,
    /// Jobs that are not final, oldest first.
    pub jobs: Mutex<Vec<Job>>,
    next_seq: AtomicU64,
    next_run: AtomicU64,
    pub max_active: AtomicUsize,
    /// The most connections all jobs may use at once.
    pub max_connections: AtomicUsize,
    /// The most connections one job may open to one server.
    pub max_connections_per_server: AtomicUsize,
    /// Connections in use by running jobs.
    pub connections_in_use: AtomicUsize,
    /// The bandwidth limit shared by background jobs.
    pub throttle: Throttle,
    /// The controllers that make background jobs give way to other traffic.
    pub yielding: Yielding,
    pub dispatcher: Dispatcher,
    /// The state directory, or `None` for an in-memory manager.
    pub store: Option<Store>,
    wake: Mutex<bool>,
    wake_signal: Condvar,
    /// Worker threads still running.
    pub live_workers: Mutex<usize>,
    pub workers_done: Condvar,
    /// The environment as the caller's thread last read it (at open and
    /// at each resume): what transfers and notify programs use, since
    /// qmgr's own threads never read the process's environment.
    environment: Mutex<Arc<Environment>>,
}

impl ManagerShared {
    /// A manager's shared state; `next_seq` continues the stored jobs'
    /// order. Reads the environment: only on the caller's thread.
    pub(crate) fn new(
        store: Option<Store>,
        dispatcher: Dispatcher,
        next_seq: u64,
        max_active: usize,
    ) -> ManagerShared {
        ManagerShared {
            open: AtomicBool::new(true),
            jobs: Mutex::new(Vec::new()),
            next_seq: AtomicU64::new(next_seq),
            next_run: AtomicU64::new(1),
            max_active: AtomicUsize::new(max_active),
            max_connections: AtomicUsize::new(DEFAULT_MANAGER_CONNECTIONS),
            max_connections_per_server: AtomicUsize::new(DEFAULT_MAX_CONNECTIONS as usize),
            connections_in_use: AtomicUsize::new(0),
            throttle: Throttle::new(0),
            yielding: Yielding::default(),
            dispatcher,
            store,
            wake: Mutex::new(false),
            wake_signal: Condvar::new(),
            live_workers: Mutex::new(0),
            workers_done: Condvar::new(),
            environment: Mutex::new(Arc::new(Environment::capture())),
        }
    }

    /// The environment the caller's thread last read, for a transfer or a
    /// notify program (see [`Environment`]).
    pub(crate) fn environment(&self) -> Arc<Environment> {
        Arc::clone(&self.environment.lock())
    }

    /// Reads the environment again. Only on the caller's thread, inside a
    /// call (`resume`): never on a thread of qmgr's own.
    pub(crate) fn refresh_environment(&self) {
        let fresh = Arc::new(Environment::capture());
        *self.environment.lock() = fresh;
    }

    /// False once `close` began.
    pub(crate) fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    /// The next place in the queue (also the creation order of new jobs).
    pub(crate) fn next_queue_seq(&self) -> u64 {
        self.next_seq.fetch_add(1, Ordering::Relaxed)
    }

    /// A new run id.
    pub(crate) fn next_run_id(&self) -> u64 {
        self.next_run.fetch_add(1, Ordering::Relaxed)
    }

    /// Asks the scheduler for a pass.
    pub(crate) fn wake_scheduler(&self) {
        *self.wake.lock() = true;
        self.wake_signal.notify_one();
    }

    /// Sleeps until woken or `deadline`; returns with the wake flag cleared.
    pub(crate) fn sleep_until(&self, deadline: std::time::Instant) {
        let mut wake = self.wake.lock();
        if !*wake && self.is_open() {
            self.wake_signal.wait_until(&mut wake, deadline);
        }
        *wake = false;
    }

    /// Removes a job that became final from the list.
    pub(crate) fn forget_job(&self, id: JobId) {
        self.jobs.lock().retain(|j| j.shared.id != id);
    }

    /// Called by a worker thread as its last act.
    pub(crate) fn worker_exited(&self) {
        let mut live = self.live_workers.lock();
        *live -= 1;
        if *live == 0 {
            self.workers_done.notify_all();
        }
        drop(live);
        self.wake_scheduler();
    }
}

/// A job's numbers for lock-free readers, published from its model: a
/// sequence lock over atomic words, so that a reader gets them all from one
/// moment (never `files_transferred` of one publication with `bytes_total`
/// of another) without taking a lock.
///
/// Writers (`publish`, `count_rate`, `reset_rate`) are serialised by the
/// `writer` lock (which also holds the rate window); each makes `seq` odd,
/// stores the words, and makes it even again. A reader loads `seq`, the
/// words, then `seq` again, and retries while it was odd or changed. The
/// words are atomics, so a read that races a write is only retried, never
/// undefined; the fences order the words between the two loads of `seq`
/// (the C++ seqlock of Boehm, "Can seqlocks get along with programming
/// language memory models?", 2012). A single word (the state, the bytes
/// transferred) is coherent by itself and read without the sequence.
#[derive(Debug, Default)]
pub(crate) struct Live {
    /// Even when the words are stable, odd while a writer changes them.
    seq: AtomicU64,
    /// The state (low 32 bits) and the priority (high 32 bits).
    status: AtomicU64,
    /// `UNKNOWN` while any file's size is unknown.
    bytes_total: AtomicU64,
    bytes_transferred: AtomicU64,
    /// `files_total` (high 32 bits) and `files_transferred` (low 32 bits).
    files: AtomicU64,
    /// Measured by the copy loop, not part of the model.
    bytes_per_second: AtomicU64,
    /// Serialises the writers; holds the current rate window of all the
    /// job's connections: start, bytes.
    writer: Mutex<Option<(std::time::Instant, u64)>>,
}

impl Live {
    /// Runs `load` (relaxed loads of some of the words) until it ran
    /// between two writes: what it returns is from one publication.
    /// Lock-free (retries while a write is under way).
    fn read<R>(&self, load: impl Fn() -> R) -> R {
        let mut tries = 0u32;
        loop {
            let before = self.seq.load(Ordering::Acquire);
            if before & 1 == 0 {
                let value = load();
                // Orders the loads above before the check below.
                fence(Ordering::Acquire);
                if self.seq.load(Ordering::Relaxed) == before {
                    return value;
                }
            }
            // A writer is between its two stores of `seq` (a few stores
            // long); give way if it was preempted there.
            tries += 1;
            if tries.is_multiple_of(64) {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }

    /// The progress, with the ETA: every number from one publication
    /// (a coherent snapshot); lock-free.
    pub(crate) fn progress(&self) -> JobProgress {
        let (total, done, files, rate) = self.read(|| {
            (
                self.bytes_total.load(Ordering::Relaxed),
                self.bytes_transferred.load(Ordering::Relaxed),
                self.files.load(Ordering::Relaxed),
                self.bytes_per_second.load(Ordering::Relaxed),
            )
        });
        let bytes_total = (total != UNKNOWN).then_some(total);
        JobProgress {
            bytes_total,
            bytes_transferred: done,
            files_total: (files >> 32) as u32,
            files_transferred: files as u32,
            bytes_per_second: rate,
            eta_seconds: match bytes_total {
                Some(t) if done >= t => Some(0),
                Some(t) if rate > 0 => Some((t - done).div_ceil(rate)),
                _ => None,
            },
        }
    }

    /// Whole percent of the bytes transferred, `floor(100 * done / total)`,
    /// 0 while the total is unknown or zero: from two words of one
    /// publication; lock-free.
    pub(crate) fn percent_done(&self) -> u64 {
        let (bytes_total, bytes_transferred) = self.read(|| {
            (
                self.bytes_total.load(Ordering::Relaxed),
                self.bytes_transferred.load(Ordering::Relaxed),
            )
        });
        if bytes_total == UNKNOWN || bytes_total == 0 {
            return 0;
        }
        let done = bytes_transferred.min(bytes_total);
        (u128::from(done) * 100 / u128::from(bytes_total)) as u64
    }

    /// The state's number; one word, lock-free.
    pub(crate) fn state(&self) -> u32 {
        self.status.load(Ordering::Acquire) as u32
    }

    /// The priority's number; one word, lock-free.
    pub(crate) fn priority(&self) -> u32 {
        (self.status.load(Ordering::Relaxed) >> 32) as u32
    }

    /// Bytes transferred over all files; one word, lock-free.
    pub(crate) fn bytes_transferred(&self) -> u64 {
        self.bytes_transferred.load(Ordering::Relaxed)
    }

    /// Number of files; one word, lock-free.
    pub(crate) fn files_total(&self) -> u32 {
        (self.files.load(Ordering::Relaxed) >> 32) as u32
    }

    /// Runs `change` (stores of the words) as one write that readers see
    /// whole or not at all. Only with `writer` held (the caller passes its
    /// guard's contents to prove it).
    fn write(&self, _writer: &mut Option<(std::time::Instant, u64)>, change: impl FnOnce()) {
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        // Orders the odd `seq` before the words' stores.
        fence(Ordering::Release);
        change();
        self.seq.store(seq.wrapping_add(2), Ordering::Release);
    }

    /// Counts `bytes` of any connection toward the rate; when a window
    /// closes, folds it into the smoothed rate and returns true (the
    /// caller then reports progress to the model).
    pub(crate) fn count_rate(&self, bytes: u64) -> bool {
        let now = std::time::Instant::now();
        let mut window = self.writer.lock();
        let (start, seen) = window.get_or_insert((now, 0));
        *seen += bytes;
        let elapsed = now.duration_since(*start);
        if elapsed < RATE_WINDOW {
            return false;
        }
        let instant = (*seen as f64 / elapsed.as_secs_f64()) as u64;
        *window = Some((now, 0));
        let old = self.bytes_per_second.load(Ordering::Relaxed);
        let smoothed = if old == 0 {
            instant
        } else {
            (old as f64 * 0.7 + instant as f64 * 0.3) as u64
        };
        self.write(&mut window, || {
            self.bytes_per_second.store(smoothed, Ordering::Relaxed)
        });
        true
    }

    /// Forgets the rate (the job stopped transferring).
    pub(crate) fn reset_rate(&self) {
        let mut window = self.writer.lock();
        *window = None;
        self.write(&mut window, || {
            self.bytes_per_second.store(0, Ordering::Relaxed)
        });
    }

    /// Publishes the model's numbers, as one write; out of the active
    /// states, with a rate of 0 (in the same write, so no snapshot shows
    /// a stopped job still moving).
    pub(crate) fn publish(&self, p: Published) {
        let mut window = self.writer.lock();
        let stopped = !p.state.is_active();
        if stopped {
            *window = None;
        }
        self.write(&mut window, || {
            let status = u64::from(p.state as u32) | (u64::from(p.priority as u32) << 32);
            // Release: `state()` reads this word alone, with Acquire.
            self.status.store(status, Ordering::Release);
            self.bytes_total
                .store(p.bytes_total.unwrap_or(UNKNOWN), Ordering::Relaxed);
            self.bytes_transferred
                .store(p.bytes_transferred, Ordering::Relaxed);
            let files = (u64::from(p.files_total) << 32) | u64::from(p.files_transferred);
            self.files.store(files, Ordering::Relaxed);
            if stopped {
                self.bytes_per_second.store(0, Ordering::Relaxed);
            }
        });
    }
}

/// Everything the `data` lock guards: the model and the runtime's own part.
pub(crate) struct Slot {
    pub model: JobModel,
    /// The cancel token of the running transfer, if any.
    pub token: Option<Arc<CancelToken>>,
    /// Stamped on every snapshot of rows, so an older one is never written
    /// over a newer one.
    pub version: u64,
    /// The last settled-or-not state whose rows are written (with its
    /// version): what `wait` reports, so it never returns a state that a
    /// crash could still lose.
    pub announced: (u64, JobState),
    /// The model's state at the last command, to see when it changes.
    pub last_state: JobState,
}

/// What of a job has been written to the state directory.
#[derive(Debug, Default)]
pub(crate) struct Written {
    /// The version of the job row written last.
    pub job: u64,
    /// The version of each file row written last.
    pub files: Vec<u64>,
    /// The job's rows were deleted: nothing more is written.
    pub deleted: bool,
}

/// The shared body of a job; `Job` is a reference to it.
pub(crate) struct JobShared {
    pub id: JobId,
    pub manager: Weak<ManagerShared>,
    pub live: Live,
    /// The job's own bandwidth limit (the model's `max_bandwidth`).
    pub throttle: Throttle,
    /// Serialises the calls that change a job, so that e.g. a suspend that
    /// waits for its worker to stop cannot interleave with a resume.
    pub op_lock: Mutex<()>,
    pub data: Mutex<Slot>,
    /// Signalled when an announced state or the running transfer changes.
    pub changed: Condvar,
    /// Serialises writes of this job's rows; never taken under `data`.
    pub written: Mutex<Written>,
    /// Held by the notification thread while this job's callback runs
    /// (see `notify`).
    pub notify_gate: Gate,
}

impl JobShared {
    /// The one constructor of a job's shared state, for new and restored jobs.
    pub(crate) fn new(model: JobModel, manager: Weak<ManagerShared>) -> Arc<JobShared> {
        let live = Live::default();
        live.publish(model.published());
        let state = model.state();
        Arc::new(JobShared {
            id: model.id(),
            manager,
            live,
            throttle: Throttle::new(model.max_bandwidth()),
            op_lock: Mutex::new(()),
            data: Mutex::new(Slot {
                model,
                token: None,
                version: 0,
                announced: (0, state),
                last_state: state,
            }),
            changed: Condvar::new(),
            written: Mutex::new(Written::default()),
            notify_gate: Gate::default(),
        })
    }
}

/// A reference to a job. Cloning it is cheap; every clone sees the same job.
/// The job lives in its manager until it is completed or cancelled, whether
/// or not any reference is held; a final job stays readable through the
/// references to it.
#[derive(Clone)]
pub(crate) struct Job {
    pub(crate) shared: Arc<JobShared>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::types::Priority;
    use std::collections::HashSet;
    use std::time::{Duration, Instant};

    /// Bytes per file of the stress test's jobs.
    const FILE: u64 = 4096;

    /// Step `i` of the writer: `i` files of `FILE` bytes transferred, the
    /// totals alternating between two job sizes.
    fn step(i: u32) -> Published {
        let files_total = if i.is_multiple_of(2) {
            1_000_000
        } else {
            2_000_000
        };
        Published {
            state: JobState::Transferring,
            priority: Priority::Normal,
            bytes_total: Some(u64::from(files_total) * FILE),
            bytes_transferred: u64::from(i) * FILE,
            files_total,
            files_transferred: i,
        }
    }

    /// While a writer publishes steps that keep every field a function of
    /// `files_transferred`, readers check each snapshot against that step:
    /// a torn read (one field from one step, another from the next) fails.
    #[test]
    fn readers_never_see_a_torn_progress_snapshot() {
        let live = Arc::new(Live::default());
        live.publish(step(0));
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (live, stop) = (Arc::clone(&live), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut i = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    i = (i + 1) % 1_000_000;
                    live.publish(step(i));
                }
            })
        };
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let live = Arc::clone(&live);
                std::thread::spawn(move || {
                    let (mut torn, mut seen) = (Vec::new(), HashSet::new());
                    let until = Instant::now() + Duration::from_secs(2);
                    // Enough snapshots taken while the writer ran, or a
                    // deadline on a machine too busy to overlap them.
                    while seen.len() < 20_000 && Instant::now() < until {
                        for _ in 0..100 {
                            let p = live.progress();
                            let want = step(p.files_transferred);
                            if (p.bytes_total, p.bytes_transferred, p.files_total)
                                != (want.bytes_total, want.bytes_transferred, want.files_total)
                            {
                                torn.push(p);
                            }
                            seen.insert(p.files_transferred);
                        }
                    }
                    (torn, seen.len())
                })
            })
            .collect();
        let results: Vec<_> = readers.into_iter().map(|r| r.join().unwrap()).collect();
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap();
        for (torn, distinct) in results {
            // The readers ran while the writer did: they saw it move.
            assert!(distinct > 100, "only {distinct} distinct steps seen");
            assert!(
                torn.is_empty(),
                "{} torn snapshots, e.g. {:?}",
                torn.len(),
                &torn[..torn.len().min(3)]
            );
        }
    }
}
