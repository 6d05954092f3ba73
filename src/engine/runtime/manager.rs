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
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::engine::error::{Error, Result};
use crate::engine::model::command::Command;
use crate::engine::model::schedule::{self, Seen, Timers};
use crate::engine::runtime::notify::Dispatcher;
use crate::engine::runtime::partial;
use crate::engine::runtime::rights::Rights;
use crate::engine::runtime::shared::{Job, ManagerShared};
use crate::engine::runtime::worker;
use crate::engine::store::{rows, Store};
use crate::engine::transport::cancel::CancelToken;
use crate::engine::transport::error::TransferError;
use crate::engine::types::{ErrorContext, JobId, JobState, JobType, Owner};
use crate::hresult::*;
use crate::sync::Mutex;

/// Default number of jobs transferring at once.
pub const DEFAULT_MAX_ACTIVE_JOBS: u32 = 4;
/// The scheduler's longest sleep when nothing wakes it.
const IDLE_TICK: Duration = Duration::from_secs(1);

/// What a stored file has on disk: its temporary file's length, if the
/// name is one qmgr gives its temporary files beside `local` and it is a
/// regular file (never following a link); and, when asked, the local file's.
fn look(temp: Option<&Path>, local: &Path, want_local: bool) -> rows::OnDisk {
    let regular_len = |p: &Path| {
        std::fs::symlink_metadata(p)
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len())
    };
    rows::OnDisk {
        temp_len: temp
            .filter(|t| partial::is_own_temp(t, local))
            .and_then(regular_len),
        local_len: want_local.then(|| regular_len(local)).flatten(),
    }
}

/// A manager of jobs. Dropping it closes it.
pub(crate) struct Manager {
    shared: Arc<ManagerShared>,
    scheduler: Mutex<Option<JoinHandle<()>>>,
    /// Why each unreadable stored job was skipped at open.
    skipped: Vec<String>,
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
    ///
    /// Reads the environment on the calling thread: the proxy variables
    /// and the notify programs' environment come from that reading until
    /// the next [`Job::resume`] reads it again (see there); qmgr's own
    /// threads do not read them.
    pub fn open(state_dir: Option<&Path>) -> Result<Manager> {
        let (store, stored, skipped) = match state_dir {
            Some(dir) => {
                let (store, loaded) = Store::open(dir)?;
                (Some(store), loaded.jobs, loaded.skipped)
            }
            None => (None, Vec::new(), Vec::new()),
        };
        let io_error =
            |e: std::io::Error| Error::new(QM_E_OUTOFMEMORY, format!("cannot start a thread: {e}"));
        let next_seq = stored
            .iter()
            .map(|(j, _)| j.created_order.max(j.queue_seq))
            .max()
            .unwrap_or(0)
            + 1;
        let dispatcher = Dispatcher::start().map_err(io_error)?;
        let shared = Arc::new(ManagerShared::new(
            store,
            dispatcher,
            next_seq,
            DEFAULT_MAX_ACTIVE_JOBS as usize,
        ));
        // Each job's files are looked at and cut with its owner's rights;
        // a job whose owner's rights cannot be taken finds nothing on disk
        // (its transfer will fail with QM_E_ACCESSDENIED).
        let mut owners: std::collections::HashMap<Owner, Rights> = Default::default();
        let restored: Vec<Job> = stored
            .into_iter()
            .filter(|(job, _)| !JobState::from_u32(job.state).is_some_and(JobState::is_final))
            .map(|(job, files)| {
                let rights = owners
                    .entry(job.owner)
                    .or_insert_with(|| Rights::of(job.owner));
                let entered = rights.enter();
                let on_disk = |temp: Option<&Path>, local: &Path, want_local: bool| match entered {
                    Ok(_) => look(temp, local, want_local),
                    Err(_) => rows::OnDisk {
                        temp_len: None,
                        local_len: None,
                    },
                };
                let restored = Job::restore(&shared, rows::stored_job(job, files, on_disk));
                drop(entered);
                restored
            })
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
            skipped,
        })
    }

    /// The jobs of the state directory that could not be read when it was
    /// opened, a sentence each (which job, and why). Their rows stay in the
    /// directory as they were; the other jobs opened normally. A job whose
    /// stored HTTP options (CA file, redirect policy, proxy, headers,
    /// credentials) do not read is one of them: it is never run with
    /// defaults, which would be weaker.
    pub fn skipped_jobs(&self) -> &[String] {
        &self.skipped
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
            // Waiters in `Job::wait` see the closed manager and return.
            job.cancel_token();
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
        } else {
            // In memory, nothing can ever resume these jobs: their partial
            // data would only litter the destination directories.
            for job in &jobs {
                job.discard_temps();
            }
        }
    }

    /// Creates a job: SUSPENDED, priority NORMAL, no files, owned by the
    /// process's effective user ([`Owner::current`]).
    pub fn create_job(&self, display_name: &str) -> Result<Job> {
        self.create_job_of_type(display_name, JobType::Download)
    }

    /// Creates a job of type `kind`, as [`create_job`](Manager::create_job)
    /// does: an upload job holds one file, local name to remote name.
    pub fn create_job_of_type(&self, display_name: &str, kind: JobType) -> Result<Job> {
        self.check_open()?;
        let job = Job::create(&self.shared, display_name, kind, Owner::current())?;
        self.shared.jobs.lock().push(job.clone());
        Ok(job)
    }

    /// Creates a job of type `kind` as
    /// [`create_job_of_type`](Manager::create_job_of_type) does, owned by
    /// `owner`: for a service that creates jobs on behalf of the users
    /// connected to it (the owner is the uid and gid the kernel reports
    /// for the connection). Every file of the job is then read and written
    /// with the owner's rights, never the process's, and its notify program
    /// runs as the owner (see [`Owner`]). When `owner` is not the process's
    /// effective user, the process must be able to take the owner's
    /// filesystem credentials (root, or `CAP_SETUID` and `CAP_SETGID`, on
    /// Linux): it tries, and gives `QM_E_ACCESSDENIED` when it cannot.
    /// `QM_E_INVALIDARG` for an id of `u32::MAX`.
    pub fn create_job_of_type_owned_by(
        &self,
        display_name: &str,
        kind: JobType,
        owner: Owner,
    ) -> Result<Job> {
        self.check_open()?;
        Rights::check_may_act_for(owner)?;
        let job = Job::create(&self.shared, display_name, kind, owner)?;
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
    pub fn set_max_bandwidth(&self, bytes_per_second: u64) -> Result<()> {
        self.check_open()?;
        self.shared.throttle.set_rate(bytes_per_second);
        Ok(())
    }

    /// Caps the connections of all the manager's jobs together (at least 1;
    /// default 24). A running job always keeps one connection; beyond
    /// that, a run takes only what the cap leaves.
    pub fn set_max_connections(&self, n: u32) -> Result<()> {
        self.check_open()?;
        if n == 0 {
            return Err(Error::invalid_arg("the connection cap must be at least 1"));
        }
        self.shared
            .max_connections
            .store(n as usize, Ordering::Relaxed);
        Ok(())
    }

    /// The cap on the connections of all jobs.
    pub fn max_connections(&self) -> u32 {
        self.shared.max_connections.load(Ordering::Relaxed) as u32
    }

    /// Caps the connections one job opens to one server (scheme, host and
    /// port; at least 1; default 6, what browsers open to one host).
    pub fn set_max_connections_per_server(&self, n: u32) -> Result<()> {
        self.check_open()?;
        if n == 0 {
            return Err(Error::invalid_arg("the per-server cap must be at least 1"));
        }
        self.shared
            .max_connections_per_server
            .store(n as usize, Ordering::Relaxed);
        Ok(())
    }

    /// The cap on one job's connections to one server.
    pub fn max_connections_per_server(&self) -> u32 {
        self.shared
            .max_connections_per_server
            .load(Ordering::Relaxed) as u32
    }

    /// The background bandwidth limit (0: none).
    pub fn max_bandwidth(&self) -> u64 {
        self.shared.throttle.rate()
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        self.close();
    }
}

fn schedule_loop(manager: &Arc<ManagerShared>) {
    while manager.is_open() {
        let now = Instant::now();
        let next = schedule_pass(manager, now);
        manager.sleep_until(next.unwrap_or(now + IDLE_TICK));
    }
}

/// One scheduling pass at `now`: due retries go back to the queue, jobs
/// past their maximum download time fail (`model::schedule::alarms` says
/// which), then the rule of `model::schedule::decide` picks whom to start
/// and whom to preempt. Returns when the next retry or deadline is due.
fn schedule_pass(manager: &Arc<ManagerShared>, now: Instant) -> Option<Instant> {
    let all = manager.jobs.lock().clone();
    let mut jobs = Vec::with_capacity(all.len());
    let mut timers = Vec::with_capacity(all.len());
    for job in all {
        // A job being completed or cancelled is left alone.
        if let Some(t) = job.read(|m| (!m.finishing()).then(|| Timers::of(m))) {
            jobs.push(job);
            timers.push(t);
        }
    }
    let alarms = schedule::alarms(&timers, now);
    for i in alarms.time_check {
        jobs[i].apply_quietly(Command::TimeCheck);
    }
    for i in alarms.retry {
        jobs[i].apply_quietly(Command::RetryDue {
            seq: manager.next_queue_seq(),
        });
    }
    let seen: Vec<Seen> = jobs.iter().map(|job| job.read(Seen::of)).collect();
    let decision = schedule::decide(&seen, manager.max_active.load(Ordering::Relaxed), now);
    for i in decision.start {
        start_worker(manager, &jobs[i]);
    }
    if let Some(victim) = decision.preempt {
        let requeue = victim.to_the_end.then(|| manager.next_queue_seq());
        jobs[victim.job].apply_quietly(Command::Preempt { requeue });
    }
    [alarms.next, decision.next].into_iter().flatten().min()
}

/// Starts a worker for a job that is still QUEUED and idle.
fn start_worker(manager: &Arc<ManagerShared>, job: &Job) -> bool {
    if !manager.is_open() {
        return false;
    }
    let run = manager.next_run_id();
    let token = Arc::new(CancelToken::default());
    if !job.start_run(run, Arc::clone(&token)) {
        return false;
    }
    *manager.live_workers.lock() += 1;
    let for_thread = job.clone();
    let spawned = std::thread::Builder::new()
        .name("qmgr-transfer".into())
        .spawn(move || worker::run(for_thread, token, run));
    if let Err(e) = spawned {
        job.end_run(run, None);
        manager.worker_exited();
        job.apply_quietly(Command::StartFailed {
            error: TransferError::transient(
                HResult(QM_E_OUTOFMEMORY),
                ErrorContext::GeneralQueueManager,
                format!("cannot start a transfer thread: {e}"),
            ),
        });
        return false;
    }
    true
}
