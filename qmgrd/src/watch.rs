//! Watches: the events of jobs, fanned out to the connections that asked
//! for them (`io.qmgr.Watch`).
//!
//! The engine has one callback slot per job. The daemon puts its own
//! callback (key [`NOTIFY_KEY`]) on a job while at least one watcher wants
//! that job's events, and takes it off when none does. A watcher only
//! observes (a monitor such as `qmgr monitor`) unless its program said,
//! job by job, that it runs a callback for the job (`TakeEvents`, which a
//! connected manager sends when its program sets a callback). While some
//! live watcher takes a job's events, the daemon's registration takes them
//! too (`Job::set_notify`) and the engine skips the job's notify program,
//! BITS's rule; otherwise it observes (`Job::observe`) and the program
//! runs. A watcher that ends (its program exited or crashed) stops taking,
//! so the program runs again for the events after. A watcher sees what a
//! callback would: the events the job's notify flags let through (`SetJob`
//! sets them), filtered by the kinds it asked for.
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
    /// The jobs whose callback this watcher's program runs (`TakeEvents`).
    takes: HashSet<JobId>,
    queue: SyncSender<Encoded>,
    /// A clone of the watcher's socket, to shut it down when it falls behind.
    socket: UnixStream,
}

impl Watcher {
    fn wants(&self, id: JobId, owner_uid: u32) -> bool {
        let visible = self.admin || owner_uid == self.uid;
        visible
            && (self.takes.contains(&id)
                || match &self.ids {
                    Some(ids) => ids.contains(&id),
                    None => owner_uid == self.uid,
                })
    }

    /// Whether this watcher's program runs a callback for `id`, a job it
    /// may still see.
    fn takes(&self, id: JobId, owner_uid: u32) -> bool {
        self.takes.contains(&id) && (self.admin || owner_uid == self.uid)
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
    /// The jobs that carry the daemon's callback, and whether it takes
    /// their events (true) or observes them.
    registered: Mutex<HashMap<JobId, (Job, bool)>>,
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
                    takes: HashSet::new(),
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

    /// Ends watch `id`: the daemon's callback comes off the jobs no other
    /// watcher wants, and stops taking the events of those no other
    /// watcher takes.
    pub fn unwatch(&self, id: u64) {
        if lock(&self.watchers).all.remove(&id).is_none() {
            return;
        }
        let jobs: Vec<Job> = lock(&self.registered)
            .values()
            .map(|(job, _)| job.clone())
            .collect();
        for job in &jobs {
            self.ensure(job);
        }
    }

    /// Watch `watch` of user `uid` runs a callback for `job` (`take`), or
    /// no longer does; the daemon's registration on the job follows.
    /// `Err` when `watch` is not one of `uid`'s live watches.
    pub fn take_events(&self, watch: u64, uid: u32, job: &Job, take: bool) -> Result<(), ()> {
        {
            let mut watchers = lock(&self.watchers);
            let watcher = watchers
                .all
                .get_mut(&watch)
                .filter(|w| w.uid == uid)
                .ok_or(())?;
            if take {
                watcher.takes.insert(job.id());
            } else {
                watcher.takes.remove(&job.id());
            }
        }
        self.ensure(job);
        Ok(())
    }

    /// Makes the daemon's callback on `job` what the watchers ask: none
    /// when no watcher wants the job, one that takes its events when a
    /// watcher takes them, an observer otherwise.
    fn ensure(&self, job: &Job) {
        let mut registered = lock(&self.registered);
        // A final job's registration went with it (the engine drops it):
        // forget its handle and who took its events, or a long watch
        // would keep every job it saw.
        let mut finished = Vec::new();
        registered.retain(|id, (j, _)| {
            let live = !j.state().is_final();
            if !live {
                finished.push(*id);
            }
            live
        });
        if !finished.is_empty() {
            for w in lock(&self.watchers).all.values_mut() {
                for id in &finished {
                    w.takes.remove(id);
                }
            }
        }
        let owner = job.owner().uid;
        let (wanted, taken) = {
            let watchers = lock(&self.watchers);
            let all = || watchers.all.values();
            (
                all().any(|w| w.wants(job.id(), owner)),
                all().any(|w| w.takes(job.id(), owner)),
            )
        };
        let now = registered.get(&job.id()).map(|(_, takes)| *takes);
        if !wanted {
            if registered.remove(&job.id()).is_some() {
                job.clear_notify_of(NOTIFY_KEY);
            }
            return;
        }
        if now == Some(taken) {
            return;
        }
        // The job's own flags: registering must not change what it reports.
        let callback = Some(self.callback());
        let flags = job.notify_flags().0;
        let done = match taken {
            true => job.set_notify(callback, flags, NOTIFY_KEY),
            false => job.observe(callback, flags, NOTIFY_KEY),
        };
        if done.is_ok() {
            registered.insert(job.id(), (job.clone(), taken));
        }
    }

    /// A job was created for, or taken over by, its owner: the watchers of
    /// all the owner's jobs get its events from now on, and those of a
    /// previous owner stop seeing (and taking) them.
    pub fn job_is_now_of(&self, job: &Job) {
        self.ensure(job);
    }

    /// Sets `job`'s notify flags, keeping the daemon's callback on it if
    /// it has one.
    pub fn set_notify_flags(&self, job: &Job, flags: u32) -> qmgr::Result<()> {
        let registered = lock(&self.registered);
        match registered.get(&job.id()) {
            Some((_, true)) => job.set_notify(Some(self.callback()), flags, NOTIFY_KEY),
            Some((_, false)) => job.observe(Some(self.callback()), flags, NOTIFY_KEY),
            None => job.observe(None, flags, NOTIFY_KEY),
        }
    }
}
