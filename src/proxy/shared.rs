//! The state a connected manager shares with its jobs and its Watch
//! thread: data only, the behaviour is in `manager`, `job` and `watch`
//! (as the engine's `runtime::shared`).

use std::collections::{HashMap, HashSet};
use std::os::unix::net::UnixStream;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::engine::error::Error;
use crate::engine::runtime::notify::{Dispatcher, Gate};
use crate::engine::types::JobId;
use crate::proxy::client::Client;
use crate::service::codec::{FileSnapshot, JobSnapshot};
use crate::sync::{Condvar, Mutex};

/// What a connected manager shares with its jobs and its Watch thread.
pub(crate) struct Remote {
    pub(crate) client: Client,
    /// Runs this process's callbacks of the daemon's jobs.
    pub(crate) dispatcher: Dispatcher,
    /// The body of each job a handle of this process refers to.
    pub(crate) jobs: Mutex<HashMap<JobId, Weak<JobCore>>>,
    pub(crate) watch: WatchState,
}

impl Remote {
    /// The handle of the job `job` describes: the body this process
    /// already has for its id (with this newer snapshot), or a new one.
    pub(crate) fn job_of(self: &Arc<Remote>, job: JobSnapshot) -> Arc<JobCore> {
        let mut jobs = self.jobs.lock();
        if let Some(core) = jobs.get(&job.id).and_then(Weak::upgrade) {
            core.offer(job);
            return core;
        }
        jobs.retain(|_, core| core.strong_count() > 0);
        let core = Arc::new(JobCore::new(Arc::clone(self), job));
        jobs.insert(core.id(), Arc::downgrade(&core));
        core
    }

    /// The body of job `id`, if a handle of this process refers to it.
    pub(crate) fn known(&self, id: &JobId) -> Option<Arc<JobCore>> {
        self.jobs.lock().get(id).and_then(Weak::upgrade)
    }

    /// Every body, for the Watch thread after a gap in its events.
    pub(crate) fn all_known(&self) -> Vec<Arc<JobCore>> {
        self.jobs
            .lock()
            .values()
            .filter_map(Weak::upgrade)
            .collect()
    }
}

/// The least age at which a snapshot is refreshed: the engine measures
/// progress every 250 ms, so a younger one could not be newer.
pub(crate) const MIN_AGE: Duration = Duration::from_millis(250);

/// A job's snapshot and how old it is.
pub(crate) struct Snap {
    pub(crate) job: JobSnapshot,
    pub(crate) fetched: Instant,
    /// A call of this process changed the job since: refresh before reading.
    pub(crate) stale: bool,
    /// The number of the refresh that `job` came from.
    pub(crate) refreshed: u64,
    /// The daemon no longer knows the job (another process completed or
    /// cancelled it): nothing to refresh.
    pub(crate) gone: bool,
}

/// The shared body of a daemon's job: one per job id and manager, shared
/// by every handle of it.
pub(crate) struct JobCore {
    id: JobId,
    pub(crate) remote: Arc<Remote>,
    pub(crate) snap: Mutex<Snap>,
    /// Counts the changes this process made: a refresh that began before
    /// one does not make the snapshot fresh.
    pub(crate) changes: AtomicU64,
    /// Numbers the refreshes in the order they were asked for: a reply
    /// that comes after a later one's is not taken.
    pub(crate) refreshes: AtomicU64,
    /// The job's notify gate on the manager's dispatcher.
    pub(crate) gate: Gate,
    /// The job's files as `GetFiles` last read them, and when: the file
    /// getters of one moment (`qmgr info`) share one round trip.
    pub(crate) files: Mutex<Option<(Arc<Vec<FileSnapshot>>, Instant)>>,
    /// An upload-reply job's `GetReplyData`, read as this process completed
    /// it (the daemon forgets a completed job).
    pub(crate) reply: Mutex<Option<crate::engine::error::Result<Vec<u8>>>>,
}

impl JobCore {
    /// A job's body, with its first snapshot.
    pub(crate) fn new(remote: Arc<Remote>, job: JobSnapshot) -> JobCore {
        JobCore {
            id: job.id,
            remote,
            snap: Mutex::new(Snap {
                job,
                fetched: Instant::now(),
                stale: false,
                refreshed: 0,
                gone: false,
            }),
            changes: AtomicU64::new(0),
            refreshes: AtomicU64::new(0),
            gate: Gate::default(),
            files: Mutex::new(None),
            reply: Mutex::new(None),
        }
    }

    /// The job's id.
    pub(crate) fn id(&self) -> JobId {
        self.id
    }

    /// Takes a snapshot the daemon sent (a reply listing the job, or an
    /// event), unless a change of this process is not in it yet or the
    /// daemon read it before the one held.
    /// A job's files are never taken away: a snapshot with fewer was taken
    /// before files this process added, whatever order it arrived in (an
    /// event may come after the reply to a later `GetJob`).
    pub(crate) fn offer(&self, job: JobSnapshot) {
        let mut snap = self.snap.lock();
        if !snap.stale
            && !snap.job.state.is_final()
            && job.file_count >= snap.job.file_count
            && job.not_older_than(&snap.job)
        {
            snap.job = job;
            snap.fetched = Instant::now();
        }
    }

    /// Marks the snapshot stale: refreshed at the next read (the files too).
    pub(crate) fn invalidate(&self) {
        self.snap.lock().stale = true;
        *self.files.lock() = None;
    }

    /// How old a snapshot may be read: the job's notification interval,
    /// at least [`MIN_AGE`].
    pub(crate) fn max_age(&self) -> Duration {
        let ms = self.snap.lock().job.min_notification_interval;
        Duration::from_millis(u64::from(ms)).max(MIN_AGE)
    }
}

/// The Watch of one manager.
#[derive(Default)]
pub(crate) struct WatchState {
    pub(crate) state: Mutex<Watching>,
    pub(crate) changed: Condvar,
    /// The jobs this process runs a callback for (one that takes events,
    /// not an observer), as the daemon was told (`TakeEvents`). Held while
    /// telling it, so that the daemon hears the changes in their order.
    pub(crate) taking: Mutex<HashSet<JobId>>,
}

#[derive(Default)]
pub(crate) struct Watching {
    pub(crate) thread: Option<JoinHandle<()>>,
    /// The stream is in place: its first reply arrived.
    pub(crate) live: bool,
    /// A clone of the stream's socket, for `stop` to shut it down.
    pub(crate) stream: Option<UnixStream>,
    /// The live watch's number (its first reply's `watch`), for TakeEvents.
    pub(crate) number: Option<u64>,
    pub(crate) stopping: bool,
    /// Why the last attempt to set the stream up failed.
    pub(crate) failed: Option<Error>,
}
