//! Watches: the events of jobs, fanned out to the connections that asked
//! for them (`io.qmgr.Watch`).
//!
//! The engine has one callback slot per job. The daemon puts its own
//! callback (key [`NOTIFY_KEY`]) on a job while at least one watcher wants
//! that job's events, and takes it off when none does. It registers as an
//! observer (`Job::observe`): a watcher, be it a monitor or a connected
//! program's callbacks, never stops the job's notify program, which runs
//! in the daemon as if no callback were registered. (BITS skips the
//! program while a callback is registered; a client's callback is not yet
//! known to the daemon job by job, and a program that never runs because
//! someone watches is worse than a program and a callback both told.) A
//! watcher sees what a callback would: the events the job's notify flags
//! let through (`SetJob` sets them), filtered by the kinds it asked for.
//!
//! The callback runs on the engine's delivery thread: it never blocks. It
//! snapshots the job once and offers it to each interested watcher's
//! bounded queue; a watcher whose queue is full is dropped (its socket
//! shut down, which also ends a write its thread is blocked in), so a slow
//! client never holds up the engine or the other watchers.
//!
//! Locks: `registered` serialises every change of the daemon's callbacks
//! (the engine's `set_notify` and `clear_notify_of` wait for a running
//! callback of the job); `watchers` is a leaf, taken by the callback, and
//! never held while calling into the engine.

use std::collections::{HashMap, HashSet};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use qmgr::service::codec::{encode_event, Event};
use qmgr::{Job, JobId, Manager, NotifyCallback, NotifyEvent};
use serde_json::Value;

use crate::snapshot::job_snapshot;

/// The key of the daemon's registrations (`Job::set_notify`'s owner):
/// "qmgrd" in ASCII.
pub const NOTIFY_KEY: u64 = 0x716d_6772_6464;

/// Events one watcher may have waiting to be written.
pub const QUEUE: usize = 1024;

/// One encoded event, shared by every watcher it goes to.
pub type Encoded = Arc<Value>;

struct Watcher {
    uid: u32,
    admin: bool,
    /// `None`: every job of `uid`, those created later included.
    ids: Option<HashSet<JobId>>,
    kinds: u32,
    queue: SyncSender<Encoded>,
    /// A clone of the watcher's socket, to shut it down when it falls behind.
    socket: UnixStream,
}

impl Watcher {
    fn wants(&self, id: JobId, owner_uid: u32) -> bool {
        let visible = self.admin || owner_uid == self.uid;
        visible
            && match &self.ids {
                Some(ids) => ids.contains(&id),
                None => owner_uid == self.uid,
            }
    }
}

#[derive(Default)]
struct Watchers {
    next: u64,
    all: HashMap<u64, Watcher>,
}

/// The daemon's watchers and its callbacks on jobs.
pub struct Hub {
    watchers: Mutex<Watchers>,
    /// The jobs that carry the daemon's callback.
    registered: Mutex<HashMap<JobId, Job>>,
    me: Weak<Hub>,
}

/// A poisoned lock only means a panic elsewhere (caught per connection):
/// the maps stay consistent (every change is one insert or remove).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Hub {
    /// An empty hub.
    pub fn new() -> Arc<Hub> {
        Arc::new_cyclic(|me| Hub {
            watchers: Mutex::default(),
            registered: Mutex::default(),
            me: me.clone(),
        })
    }

    fn callback(&self) -> NotifyCallback {
        let hub = self.me.clone();
        Arc::new(move |job: &Job, event: &NotifyEvent| {
            if let Some(hub) = hub.upgrade() {
                hub.deliver(job, event);
            }
        })
    }

    /// On the engine's delivery thread: offers the event to each watcher
    /// that wants it.
    fn deliver(&self, job: &Job, event: &NotifyEvent) {
        let owner = job.owner().uid;
        let targets: Vec<(u64, SyncSender<Encoded>)> = lock(&self.watchers)
            .all
            .iter()
            .filter(|(_, w)| w.kinds & event.kind != 0 && w.wants(job.id(), owner))
            .map(|(id, w)| (*id, w.queue.clone()))
            .collect();
        if targets.is_empty() {
            return;
        }
        let encoded = Arc::new(encode_event(&Event {
            event: *event,
            job: job_snapshot(job),
        }));
        let behind: Vec<u64> = targets
            .into_iter()
            .filter_map(|(id, queue)| match queue.try_send(Arc::clone(&encoded)) {
                Ok(()) | Err(TrySendError::Disconnected(_)) => None,
                Err(TrySendError::Full(_)) => Some(id),
            })
            .collect();
        if !behind.is_empty() {
            let mut watchers = lock(&self.watchers);
            for id in behind {
                if let Some(w) = watchers.all.remove(&id) {
                    eprintln!(
                        "qmgrd: dropping a watcher of uid {} that fell {QUEUE} events behind",
                        w.uid
                    );
                    let _ = w.socket.shutdown(Shutdown::Both);
                }
            }
        }
    }

    /// Starts a watch for user `uid`: of the jobs `ids` (already checked
    /// to be visible to the caller), or of every job of `uid` when `None`.
    /// Returns its id (for [`Hub::unwatch`]) and its queue.
    pub fn watch(
        &self,
        manager: &Manager,
        uid: u32,
        admin: bool,
        ids: Option<Vec<Job>>,
        kinds: u32,
        socket: UnixStream,
    ) -> (u64, Receiver<Encoded>) {
        let (queue, receiver) = sync_channel(QUEUE);
        let listed = ids.clone();
        // The watcher first, then the jobs: a job created in between is
        // registered by `job_is_now_of`, which sees the watcher.
        let id = {
            let mut watchers = lock(&self.watchers);
            watchers.next += 1;
            let id = watchers.next;
            watchers.all.insert(
                id,
                Watcher {
                    uid,
                    admin,
                    ids: ids.map(|jobs| jobs.iter().map(Job::id).collect()),
                    kinds,
                    queue,
                    socket,
                },
            );
            id
        };
        let jobs: Vec<Job> = match listed {
            Some(jobs) => jobs,
            None => manager
                .jobs()
                .unwrap_or_default()
                .into_iter()
                .filter(|j| j.owner().uid == uid)
                .collect(),
        };
        for job in &jobs {
            self.ensure(job);
        }
        (id, receiver)
    }

    /// Ends watch `id` and takes the daemon's callback off the jobs no
    /// other watcher wants.
    pub fn unwatch(&self, id: u64) {
        lock(&self.watchers).all.remove(&id);
        let mut registered = lock(&self.registered);
        let unwanted: Vec<JobId> = {
            let watchers = lock(&self.watchers);
            registered
                .values()
                .filter(|job| {
                    let owner = job.owner().uid;
                    !watchers.all.values().any(|w| w.wants(job.id(), owner))
                })
                .map(Job::id)
                .collect()
        };
        for id in unwanted {
            if let Some(job) = registered.remove(&id) {
                job.clear_notify_of(NOTIFY_KEY);
            }
        }
    }

    /// Puts the daemon's callback on `job` if it is not there yet.
    fn ensure(&self, job: &Job) {
        let mut registered = lock(&self.registered);
        if registered.contains_key(&job.id()) {
            return;
        }
        // A final job's registration went with it (the engine drops it):
        // forget its handle, or a long watch would keep every job it saw.
        registered.retain(|_, j| !j.state().is_final());
        // The job's own flags: registering must not change what it reports.
        if job
            .observe(Some(self.callback()), job.notify_flags().0, NOTIFY_KEY)
            .is_ok()
        {
            registered.insert(job.id(), job.clone());
        }
    }

    /// A job was created for, or taken over by, user `uid`: the watchers
    /// of all of `uid`'s jobs get its events from now on.
    pub fn job_is_now_of(&self, job: &Job, uid: u32) {
        let wanted = lock(&self.watchers)
            .all
            .values()
            .any(|w| w.ids.is_none() && w.uid == uid);
        if wanted {
            self.ensure(job);
        }
    }

    /// Sets `job`'s notify flags, keeping the daemon's callback on it if
    /// it has one.
    pub fn set_notify_flags(&self, job: &Job, flags: u32) -> qmgr::Result<()> {
        let registered = lock(&self.registered);
        let callback = registered.contains_key(&job.id()).then(|| self.callback());
        job.observe(callback, flags, NOTIFY_KEY)
    }
}
