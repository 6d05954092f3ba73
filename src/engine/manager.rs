//! The manager: a set of jobs, the scheduler that gives them transfer slots,
//! and the threads that move their bytes.
//!
//! The scheduler is one thread per manager. It wakes when a job is queued, a
//! worker exits, a setting changes, or a retry is due, and then starts the
//! best queued jobs: higher priority first, then queue order, at most
//! `max_active_jobs` at once. A queued FOREGROUND job that finds every slot
//! taken preempts the lowest-priority background job, which goes back to the
//! queue with its partial data and its place.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::engine::error::{Error, Result};
use crate::engine::job::{Job, JobId, RunToken, Save};
use crate::engine::notify::Dispatcher;
use crate::engine::store::Store;
use crate::engine::throttle::Throttle;
use crate::engine::types::{JobState, Priority};
use crate::engine::worker;
use crate::hresult::*;

/// Default number of jobs transferring at once.
pub const DEFAULT_MAX_ACTIVE_JOBS: u32 = 4;
/// The scheduler's longest sleep when nothing wakes it.
const IDLE_TICK: Duration = Duration::from_secs(1);

/// State shared by the manager, its jobs and its threads.
pub(crate) struct ManagerShared {
    open: AtomicBool,
    /// Jobs that are not final, oldest first.
    jobs: Mutex<Vec<Job>>,
    next_seq: AtomicU64,
    max_active: AtomicUsize,
    /// The bandwidth limit shared by background jobs.
    pub throttle: Throttle,
    pub dispatcher: Dispatcher,
    /// The state directory, or `None` for an in-memory manager.
    pub store: Option<Store>,
    wake: Mutex<bool>,
    wake_signal: Condvar,
    /// Worker threads still running.
    live_workers: Mutex<usize>,
    workers_done: Condvar,
}

impl ManagerShared {
    pub(crate) fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    pub(crate) fn next_queue_seq(&self) -> u64 {
        self.next_seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Asks the scheduler for a pass.
    pub(crate) fn wake_scheduler(&self) {
        *self.wake.lock() = true;
        self.wake_signal.notify_one();
    }

    /// Removes a job that became final from the list.
    pub(crate) fn forget_job(&self, job: &Job) {
        self.jobs.lock().retain(|j| j != job);
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

/// A manager of jobs. Dropping it closes it.
pub struct Manager {
    shared: Arc<ManagerShared>,
    scheduler: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("open", &self.shared.is_open())
            .finish()
    }
}

impl Manager {
    /// Opens a manager. `None`: in memory, nothing outlives the process.
    /// A state directory (created 0700 if missing) keeps every job that is
    /// not final across restarts and crashes: opening it restores them, and
    /// the ones that were queued, transferring or retrying carry on by
    /// themselves from their last durable byte. A directory already open in
    /// this or another process gives `QM_E_SHARING_VIOLATION`.
    pub fn open(state_dir: Option<&Path>) -> Result<Manager> {
        let (store, stored) = match state_dir {
            Some(dir) => {
                let (store, jobs) = Store::open(dir)?;
                (Some(store), jobs)
            }
            None => (None, Vec::new()),
        };
        let io_error =
            |e: std::io::Error| Error::new(QM_E_OUTOFMEMORY, format!("cannot start a thread: {e}"));
        let next_seq = stored
            .iter()
            .map(|(j, _)| j.created_order.max(j.queue_seq))
            .max()
            .unwrap_or(0)
            + 1;
        let shared = Arc::new(ManagerShared {
            open: AtomicBool::new(true),
            jobs: Mutex::new(Vec::new()),
            next_seq: AtomicU64::new(next_seq),
            max_active: AtomicUsize::new(DEFAULT_MAX_ACTIVE_JOBS as usize),
            throttle: Throttle::new(0),
            dispatcher: Dispatcher::start().map_err(io_error)?,
            store,
            wake: Mutex::new(false),
            wake_signal: Condvar::new(),
            live_workers: Mutex::new(0),
            workers_done: Condvar::new(),
        });
        let restored: Vec<Job> = stored
            .into_iter()
            .filter(|(job, _)| !JobState::from_u32(job.state).is_some_and(JobState::is_final))
            .map(|(job, files)| Job::restore(&shared, job, files))
            .collect();
        *shared.jobs.lock() = restored;
        let for_thread = Arc::clone(&shared);
        let scheduler = std::thread::Builder::new()
            .name("qmgr-scheduler".into())
            .spawn(move || schedule_loop(&for_thread))
            .map_err(io_error)?;
        Ok(Manager {
            shared,
            scheduler: Mutex::new(Some(scheduler)),
        })
    }

    /// The state directory, if the manager has one.
    pub fn state_dir(&self) -> Option<&Path> {
        self.shared.store.as_ref().map(Store::dir)
    }

    fn check_open(&self) -> Result<()> {
        if self.shared.is_open() {
            Ok(())
        } else {
            Err(Error::manager_closed())
        }
    }

    /// Stops every transfer (partial data stays), the scheduler and the
    /// notification thread. Jobs stay readable through their references;
    /// changing them fails with `QM_E_HANDLE`. Closing twice is harmless.
    pub fn close(&self) {
        if !self.shared.open.swap(false, Ordering::AcqRel) {
            return;
        }
        let jobs = self.shared.jobs.lock().clone();
        for job in &jobs {
            let data = job.shared.data.lock();
            if let Some(run) = &data.run {
                run.stop();
            }
            // Waiters in `Job::wait` see the closed manager and return.
            job.shared.changed.notify_all();
        }
        self.shared.wake_scheduler();
        if let Some(thread) = self.scheduler.lock().take() {
            let _ = thread.join();
        }
        let mut live = self.shared.live_workers.lock();
        while *live > 0 {
            self.shared.workers_done.wait(&mut live);
        }
        drop(live);
        self.shared.dispatcher.shutdown();
        if let Some(store) = &self.shared.store {
            // Every worker has checkpointed and exited: release the directory.
            store.close();
        }
        if self.shared.store.is_none() {
            // In memory, nothing can ever resume these jobs: their partial
            // data would only litter the destination directories.
            for job in &jobs {
                crate::engine::job::remove_temp_files(&mut job.shared.data.lock());
            }
        }
    }

    /// Creates a job: SUSPENDED, priority NORMAL, no files.
    pub fn create_job(&self, display_name: &str) -> Result<Job> {
        self.check_open()?;
        let job = Job::create(&self.shared, display_name, self.shared.next_queue_seq())?;
        job.save(&job.shared.data.lock(), Save::Job)?;
        self.shared.jobs.lock().push(job.clone());
        Ok(job)
    }

    /// The jobs that are not final, newest first.
    pub fn jobs(&self) -> Result<Vec<Job>> {
        self.check_open()?;
        Ok(self.shared.jobs.lock().iter().rev().cloned().collect())
    }

    /// How many jobs `jobs` would return, without copying them.
    pub fn job_count(&self) -> Result<usize> {
        self.check_open()?;
        Ok(self.shared.jobs.lock().len())
    }

    /// The job with this id (`QM_BG_E_NOT_FOUND` if there is none, or it is final).
    pub fn job(&self, id: &JobId) -> Result<Job> {
        self.check_open()?;
        self.shared
            .jobs
            .lock()
            .iter()
            .find(|j| j.id() == *id)
            .cloned()
            .ok_or_else(|| Error::new(QM_BG_E_NOT_FOUND, format!("no job with id {id}")))
    }

    /// Sets how many jobs may transfer at once (at least 1).
    pub fn set_max_active_jobs(&self, n: u32) -> Result<()> {
        self.check_open()?;
        if n == 0 {
            return Err(Error::invalid_arg(
                "the number of active jobs must be at least 1",
            ));
        }
        self.shared.max_active.store(n as usize, Ordering::Relaxed);
        self.shared.wake_scheduler();
        Ok(())
    }

    /// How many jobs may transfer at once.
    pub fn max_active_jobs(&self) -> u32 {
        self.shared.max_active.load(Ordering::Relaxed) as u32
    }

    /// Caps the sum of all background transfers in bytes per second (0: none).
    pub fn set_bandwidth_limit(&self, bytes_per_second: u64) -> Result<()> {
        self.check_open()?;
        self.shared.throttle.set_rate(bytes_per_second);
        Ok(())
    }

    /// The background bandwidth limit (0: none).
    pub fn bandwidth_limit(&self) -> u64 {
        self.shared.throttle.rate()
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        self.close();
    }
}

/// What the scheduler saw of one job in a pass.
struct Seen {
    job: Job,
    priority: Priority,
    seq: u64,
    /// Has a worker that has not been told to stop.
    running: bool,
    /// Has a worker that was told to stop and is still exiting.
    stopping: bool,
    queued: bool,
}

fn schedule_loop(manager: &Arc<ManagerShared>) {
    while manager.is_open() {
        let next_retry = schedule_pass(manager);
        let mut wake = manager.wake.lock();
        if !*wake && manager.is_open() {
            let deadline = next_retry.unwrap_or_else(|| Instant::now() + IDLE_TICK);
            manager.wake_signal.wait_until(&mut wake, deadline);
        }
        *wake = false;
    }
}

/// One scheduling pass; returns when the next retry is due.
fn schedule_pass(manager: &Arc<ManagerShared>) -> Option<Instant> {
    let jobs = manager.jobs.lock().clone();
    let now = Instant::now();
    let mut next_retry: Option<Instant> = None;
    let mut seen = Vec::with_capacity(jobs.len());
    for job in jobs {
        let mut data = job.shared.data.lock();
        if data.finishing {
            continue;
        }
        if data.state == JobState::TransientError {
            match data.retry_at {
                Some(at) if at <= now => {
                    data.num_retries += 1;
                    data.retry_at = None;
                    data.queue_seq = manager.next_queue_seq();
                    job.set_state(&mut data, JobState::Queued);
                    let _ = job.save(&data, Save::Job);
                }
                Some(at) => next_retry = Some(next_retry.map_or(at, |n| n.min(at))),
                None => {}
            }
        }
        let run = data.run.as_ref();
        let s = Seen {
            priority: data.priority,
            seq: data.queue_seq,
            running: run.is_some_and(|r| !r.is_stopped()),
            stopping: run.is_some_and(|r| r.is_stopped()),
            queued: data.state == JobState::Queued && run.is_none(),
            job: job.clone(),
        };
        drop(data);
        seen.push(s);
    }
    let max_active = manager.max_active.load(Ordering::Relaxed);
    let busy = seen.iter().filter(|s| s.running || s.stopping).count();
    let mut free = max_active.saturating_sub(busy);
    let mut queued: Vec<&Seen> = seen.iter().filter(|s| s.queued).collect();
    queued.sort_by_key(|s| (s.priority, s.seq));
    for candidate in &queued {
        if free > 0 {
            if start_worker(manager, &candidate.job) {
                free -= 1;
            }
        } else if candidate.priority == Priority::Foreground {
            preempt_for_foreground(&seen);
        }
    }
    next_retry
}

/// Stops the lowest-priority running background job (the last queued among
/// equals) unless one is already stopping; it goes back to QUEUED.
fn preempt_for_foreground(seen: &[Seen]) {
    if seen.iter().any(|s| s.stopping) {
        return;
    }
    let victim = seen
        .iter()
        .filter(|s| s.running && s.priority != Priority::Foreground)
        .max_by_key(|s| (s.priority, s.seq));
    if let Some(victim) = victim {
        let mut data = victim.job.shared.data.lock();
        if let Some(run) = &data.run {
            run.stop();
            if data.state.is_active() {
                victim.job.set_state(&mut data, JobState::Queued);
            }
        }
    }
}

/// Starts a worker for a job that is still QUEUED and idle.
fn start_worker(manager: &Arc<ManagerShared>, job: &Job) -> bool {
    let mut data = job.shared.data.lock();
    if data.state != JobState::Queued || data.run.is_some() || data.finishing || !manager.is_open()
    {
        return false;
    }
    let token = Arc::new(RunToken::default());
    data.run = Some(Arc::clone(&token));
    *manager.live_workers.lock() += 1;
    let for_thread = job.clone();
    let spawned = std::thread::Builder::new()
        .name("qmgr-transfer".into())
        .spawn(move || worker::run(for_thread, token));
    if let Err(e) = spawned {
        data.run = None;
        drop(data);
        manager.worker_exited();
        let mut data = job.shared.data.lock();
        let err = crate::engine::transport::TransferError::transient(
            HResult(QM_E_OUTOFMEMORY),
            crate::engine::types::ErrorContext::GeneralQueueManager,
            format!("cannot start a transfer thread: {e}"),
        );
        job.record_error(&mut data, err, None);
        return false;
    }
    true
}
