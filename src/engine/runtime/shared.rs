//! The state the runtime's threads share: a manager's, and each job's.
//! Data only; the behaviour is in `manager`, `job` and `worker`.
//!
//! A job's model lives in its `data` lock, together with what only the
//! runtime has (the running transfer's cancel token, the persistence
//! version). Lock-free readers see the `live` atomics, which the runtime
//! publishes from the model after every command.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::{Condvar, Mutex};

use crate::engine::model::job::{JobModel, Published, DEFAULT_MAX_CONNECTIONS};
use crate::engine::runtime::notify::Dispatcher;
use crate::engine::runtime::throttle::Throttle;
use crate::engine::store::Store;
use crate::engine::transport::cancel::CancelToken;
use crate::engine::transport::options::Environment;
use crate::engine::types::{JobId, JobState};

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

/// A job's numbers for lock-free readers, published from its model.
#[derive(Debug, Default)]
pub(crate) struct Live {
    pub state: AtomicU32,
    pub priority: AtomicU32,
    pub bytes_total: AtomicU64,
    pub bytes_transferred: AtomicU64,
    pub files_total: AtomicU32,
    pub files_transferred: AtomicU32,
    /// Measured by the copy loop, not part of the model.
    pub bytes_per_second: AtomicU64,
    /// The current rate window of all the job's connections: start, bytes.
    rate_window: Mutex<Option<(std::time::Instant, u64)>>,
}

impl Live {
    /// Counts `bytes` of any connection toward the rate; when a window
    /// closes, folds it into the smoothed rate and returns true (the
    /// caller then reports progress to the model).
    pub(crate) fn count_rate(&self, bytes: u64) -> bool {
        let now = std::time::Instant::now();
        let mut window = self.rate_window.lock();
        let (start, seen) = window.get_or_insert((now, 0));
        *seen += bytes;
        let elapsed = now.duration_since(*start);
        if elapsed < RATE_WINDOW {
            return false;
        }
        let instant = (*seen as f64 / elapsed.as_secs_f64()) as u64;
        *window = Some((now, 0));
        drop(window);
        let old = self.bytes_per_second.load(Ordering::Relaxed);
        let smoothed = if old == 0 {
            instant
        } else {
            (old as f64 * 0.7 + instant as f64 * 0.3) as u64
        };
        self.bytes_per_second.store(smoothed, Ordering::Relaxed);
        true
    }

    /// Forgets the rate (the job stopped transferring).
    pub(crate) fn reset_rate(&self) {
        *self.rate_window.lock() = None;
        self.bytes_per_second.store(0, Ordering::Relaxed);
    }

    /// Publishes the model's numbers.
    pub(crate) fn publish(&self, p: Published) {
        self.state.store(p.state as u32, Ordering::Release);
        self.priority.store(p.priority as u32, Ordering::Relaxed);
        self.bytes_total
            .store(p.bytes_total.unwrap_or(UNKNOWN), Ordering::Relaxed);
        self.bytes_transferred
            .store(p.bytes_transferred, Ordering::Relaxed);
        self.files_total.store(p.files_total, Ordering::Relaxed);
        self.files_transferred
            .store(p.files_transferred, Ordering::Relaxed);
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
        })
    }
}

/// A reference to a job. Cloning it is cheap; every clone sees the same job.
/// The job lives in its manager until it is completed or cancelled, whether
/// or not any reference is held; a final job stays readable through the
/// references to it.
#[derive(Clone)]
pub struct Job {
    pub(crate) shared: Arc<JobShared>,
}
