//! Watches: the events of jobs, fanned out to the connections that asked
//! for them (`io.qmgr.Watch`).
//!
//! The engine has one callback slot per job. The daemon puts its own
//! callback (key [`NOTIFY_KEY`]) on a job while at least one watcher wants
//! that job's events, and takes it off when none does. A watcher only
//! observes (a monitor) unless its program said,
//! job by job, that it runs a callback for the job (`TakeEvents`, which a
//! connected manager sends when its program sets a callback). While some
//! live watcher takes a job's events, the daemon's registration takes them
//! too (`Job::set_notify`) and the engine skips the job's notify program,
//! BITS's rule; otherwise it observes (`Job::observe`) and the program
//! runs. Only the owner's own watchers take (an administrator's callback
//! does not silence a user's program), and only those sent TRANSFERRED and
//! ERROR events. A watcher that ends stops taking, so the program runs
//! again for the events after; one that ends still taking a job (its
//! program crashed, maybe before reading the event) runs the program of a
//! job then TRANSFERRED or in ERROR at once. A watcher sees what a
//! callback would: the events the job's notify flags let through (`SetJob`
//! sets them), filtered by the kinds it asked for.
//!
//! The callback runs on the engine's delivery thread: it never blocks. It
//! snapshots the job once and offers it to each interested watcher's
//! queue, bounded in events and in bytes; a watcher whose queue is full is
//! dropped (its socket
//! shut down, which also ends a write its thread is blocked in, and the
//! thread then ends the watch), so a slow client never holds up the engine
//! or the other watchers.
//!
//! Locks, in this order: a job's stripe serialises the changes of the
//! daemon's callback on that job (the engine's `set_notify` and
//! `clear_notify_of` wait for the job's ongoing operation and its running
//! callback); `registered` and `watchers` are leaves, never held while
//! calling into the engine; the callback takes `watchers` alone.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use qmgr::service::codec::{encode_event, Event};
use qmgr::{Job, JobId, Manager, NotifyCallback, NotifyEvent, NotifyFlags};
use serde_json::Value;

use crate::snapshot::job_snapshot;

/// The key of the daemon's registrations (`Job::set_notify`'s owner):
/// "qmgrd" in ASCII.
pub const NOTIFY_KEY: u64 = 0x716d_6772_6464;

/// Events one watcher may have waiting to be written.
pub const QUEUE: usize = 1024;

/// Bytes of events (as JSON) one watcher may have waiting: an event
/// carries a job's snapshot, up to tens of KiB with custom headers, so a
/// count alone would let one user's 128 watchers hold gigabytes.
pub const QUEUE_BYTES: usize = 1 << 20;

/// One encoded event, shared by every watcher it goes to.
pub type Encoded = Arc<Value>;

/// A watch's end of its queue: the events, and what they weigh.
pub struct Events {
    queue: Receiver<(Encoded, usize)>,
    backlog: Arc<AtomicUsize>,
}

impl Events {
    /// The next event, within `timeout`; `Disconnected` once the hub
    /// dropped the watcher.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Encoded, RecvTimeoutError> {
        let (event, size) = self.queue.recv_timeout(timeout)?;
        self.backlog.fetch_sub(size, Ordering::Relaxed);
        Ok(event)
    }
}

/// Locks that serialise the changes of the daemon's callback on one job
/// (a job's is `STRIPES[first byte of its id % STRIPES]`): a change waits
/// for the job's ongoing operation (a `Complete` that syncs and renames,
/// a transfer that stops), and only calls on jobs of the same stripe wait
/// with it, never the whole daemon.
const STRIPES: usize = 64;

/// The kinds a watch must receive to take a job's events: those the
/// notify program would run for.
const TAKEN_KINDS: u32 = NotifyFlags::JOB_TRANSFERRED | NotifyFlags::JOB_ERROR;

/// Why `TakeEvents` was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum TakeRefused {
    /// Not a live watch of this user.
    NoWatch,
    /// The watch does not receive TRANSFERRED and ERROR events.
    Kinds,
}

struct Watcher {
    uid: u32,
    admin: bool,
    /// `None`: every job of `uid`, those created later included.
    ids: Option<HashSet<JobId>>,
    kinds: u32,
    /// The jobs whose callback this watcher's program runs (`TakeEvents`).
    takes: HashSet<JobId>,
    queue: SyncSender<(Encoded, usize)>,
    /// Bytes queued and not yet taken by the watch's thread.
    backlog: Arc<AtomicUsize>,
    /// A clone of the watcher's socket, to shut it down when it falls behind.
    socket: UnixStream,
    /// Fell behind: its socket is shut down and its thread about to end
    /// it (`Hub::unwatch`); it gets no more events.
    dead: bool,
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

    /// Whether this watcher's program runs a callback for `id`. Only the
    /// owner's own programs count: an administrator's callback on another
    /// user's job does not silence that user's notify program.
    fn takes(&self, id: JobId, owner_uid: u32) -> bool {
        owner_uid == self.uid && self.takes.contains(&id)
    }
}

#[derive(Default)]
struct Watchers {
    all: HashMap<u64, Watcher>,
    /// Keys for watch numbers nobody can predict (a counter would tell
    /// one user how many watches the others open).
    numbers: RandomState,
    drawn: u64,
}

impl Watchers {
    /// A number no live watch has: 53 bits, which every JSON reader
    /// keeps exact.
    fn fresh_number(&mut self) -> u64 {
        loop {
            self.drawn += 1;
            let mut hasher = self.numbers.build_hasher();
            hasher.write_u64(self.drawn);
            let number = hasher.finish() & ((1 << 53) - 1);
            if number != 0 && !self.all.contains_key(&number) {
                return number;
            }
        }
    }
}

/// The daemon's watchers and its callbacks on jobs.
pub struct Hub {
    watchers: Mutex<Watchers>,
    /// The jobs that carry the daemon's callback, and whether it takes
    /// their events (true) or observes them.
    registered: Mutex<HashMap<JobId, (Job, bool)>>,
    stripes: [Mutex<()>; STRIPES],
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
            stripes: std::array::from_fn(|_| Mutex::new(())),
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

    /// The lock of `id`'s stripe.
    fn serial(&self, id: JobId) -> MutexGuard<'_, ()> {
        lock(&self.stripes[id.0[0] as usize % STRIPES])
    }

    /// On the engine's delivery thread: offers the event to each watcher
    /// that wants it.
    fn deliver(&self, job: &Job, event: &NotifyEvent) {
        let owner = job.owner().uid;
        type Target = (u64, SyncSender<(Encoded, usize)>, Arc<AtomicUsize>);
        let targets: Vec<Target> = lock(&self.watchers)
            .all
            .iter()
            .filter(|(_, w)| !w.dead && w.kinds & event.kind != 0 && w.wants(job.id(), owner))
            .map(|(id, w)| (*id, w.queue.clone(), Arc::clone(&w.backlog)))
            .collect();
        if targets.is_empty() {
            return;
        }
        let encoded = Arc::new(encode_event(&Event {
            event: *event,
            job: job_snapshot(job),
        }));
        let size = encoded.to_string().len();
        let behind: Vec<u64> = targets
            .into_iter()
            .filter_map(|(id, queue, backlog)| {
                if backlog.load(Ordering::Relaxed) + size > QUEUE_BYTES {
                    return Some(id);
                }
                match queue.try_send((Arc::clone(&encoded), size)) {
                    Ok(()) => {
                        backlog.fetch_add(size, Ordering::Relaxed);
                        None
                    }
                    Err(TrySendError::Disconnected(_)) => None,
                    Err(TrySendError::Full(_)) => Some(id),
                }
            })
            .collect();
        if !behind.is_empty() {
            // Its thread, whose writes now fail, ends the watch (unwatch):
            // what it took is then given back there.
            let mut watchers = lock(&self.watchers);
            for id in behind {
                if let Some(w) = watchers.all.get_mut(&id).filter(|w| !w.dead) {
                    eprintln!(
                        "qmgrd: dropping a watcher of uid {} that fell behind ({QUEUE} events \
                         or {QUEUE_BYTES} bytes waiting)",
                        w.uid
                    );
                    w.dead = true;
                    let _ = w.socket.shutdown(Shutdown::Both);
                }
            }
        }
    }

    /// Starts a watch for user `uid`: of the jobs `ids` (already checked
    /// to be visible to the caller), or of every job of `uid` when `None`.
    /// Returns its number (for [`Hub::unwatch`] and `TakeEvents`) and its
    /// queue.
    pub fn watch(
        &self,
        manager: &Manager,
        uid: u32,
        admin: bool,
        ids: Option<Vec<Job>>,
        kinds: u32,
        socket: UnixStream,
    ) -> (u64, Events) {
        let (queue, receiver) = sync_channel(QUEUE);
        let backlog = Arc::new(AtomicUsize::new(0));
        let listed = ids.clone();
        // The watcher first, then the jobs: a job created in between is
        // registered by `job_is_now_of`, which sees the watcher.
        let id = {
            let mut watchers = lock(&self.watchers);
            let id = watchers.fresh_number();
            watchers.all.insert(
                id,
                Watcher {
                    uid,
                    admin,
                    ids: ids.map(|jobs| jobs.iter().map(Job::id).collect()),
                    kinds,
                    takes: HashSet::new(),
                    queue,
                    backlog: Arc::clone(&backlog),
                    socket,
                    dead: false,
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
        self.forget_finished();
        for job in &jobs {
            self.reconcile(job);
        }
        (
            id,
            Events {
                queue: receiver,
                backlog,
            },
        )
    }

    /// Ends watch `id` (its thread is done with it): the daemon's callback
    /// comes off the jobs no other watcher wants, and stops taking the
    /// events of those no other watcher takes. A job it still took (its
    /// program went away without saying so, maybe before reading the
    /// event) that is TRANSFERRED or in ERROR runs its notify program now,
    /// as the event would have with no callback: at least once, never
    /// lost.
    pub fn unwatch(&self, id: u64) {
        let took: HashSet<JobId> = lock(&self.watchers)
            .all
            .remove(&id)
            .map(|w| w.takes)
            .unwrap_or_default();
        self.forget_finished();
        let jobs: Vec<Job> = lock(&self.registered)
            .values()
            .map(|(job, _)| job.clone())
            .collect();
        for job in &jobs {
            self.reconcile(job);
            if took.contains(&job.id()) {
                let _ = job.notify_program_if_due();
            }
        }
    }

    /// Watch `watch` of user `uid` runs a callback for `job` (`take`), or
    /// no longer does; the daemon's registration on the job follows.
    pub fn take_events(
        &self,
        watch: u64,
        uid: u32,
        job: &Job,
        take: bool,
    ) -> Result<(), TakeRefused> {
        {
            let mut watchers = lock(&self.watchers);
            let watcher = watchers
                .all
                .get_mut(&watch)
                .filter(|w| w.uid == uid && !w.dead)
                .ok_or(TakeRefused::NoWatch)?;
            if take && watcher.kinds & TAKEN_KINDS != TAKEN_KINDS {
                return Err(TakeRefused::Kinds);
            }
            if take {
                watcher.takes.insert(job.id());
            } else {
                watcher.takes.remove(&job.id());
            }
        }
        self.ensure(job);
        Ok(())
    }

    /// Forgets the final jobs, then makes the daemon's callback on `job`
    /// what the watchers ask ([`Hub::reconcile`]).
    fn ensure(&self, job: &Job) {
        self.forget_finished();
        self.reconcile(job);
    }

    /// Makes the daemon's callback on `job` what the watchers ask: none
    /// when no watcher wants the job, one that takes its events when a
    /// watcher takes them, an observer otherwise. (Callers that go through
    /// many jobs forget the final ones once, first.)
    fn reconcile(&self, job: &Job) {
        let _serial = self.serial(job.id());
        let owner = job.owner().uid;
        let (wanted, taken) = {
            let watchers = lock(&self.watchers);
            let all = || watchers.all.values();
            (
                all().any(|w| w.wants(job.id(), owner)),
                all().any(|w| w.takes(job.id(), owner)),
            )
        };
        let now = lock(&self.registered)
            .get(&job.id())
            .map(|(_, takes)| *takes);
        if !wanted {
            if now.is_some() {
                lock(&self.registered).remove(&job.id());
                job.clear_notify_of(NOTIFY_KEY);
            }
            return;
        }
        if now == Some(taken) {
            return;
        }
        // Outside `registered`: the engine waits for the job's ongoing
        // operation. The job's own flags: registering must not change what
        // it reports.
        let callback = Some(self.callback());
        let flags = job.notify_flags().0;
        let done = match taken {
            true => job.set_notify(callback, flags, NOTIFY_KEY),
            false => job.observe(callback, flags, NOTIFY_KEY),
        };
        if done.is_ok() {
            lock(&self.registered).insert(job.id(), (job.clone(), taken));
        }
    }

    /// Forgets the final jobs: their registration went with them (the
    /// engine drops it), and who took their events no longer matters; a
    /// long watch would otherwise keep every job it saw.
    fn forget_finished(&self) {
        let finished: Vec<Job> = {
            let mut registered = lock(&self.registered);
            let ids: Vec<JobId> = registered
                .iter()
                .filter(|(_, (job, _))| job.state().is_final())
                .map(|(id, _)| *id)
                .collect();
            ids.iter()
                .filter_map(|id| registered.remove(id).map(|(job, _)| job))
                .collect()
        };
        if finished.is_empty() {
            return;
        }
        for w in lock(&self.watchers).all.values_mut() {
            for job in &finished {
                w.takes.remove(&job.id());
            }
        }
        for job in &finished {
            job.clear_notify_of(NOTIFY_KEY);
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
        let _serial = self.serial(job.id());
        let now = lock(&self.registered)
            .get(&job.id())
            .map(|(_, takes)| *takes);
        match now {
            Some(true) => job.set_notify(Some(self.callback()), flags, NOTIFY_KEY),
            Some(false) => job.observe(Some(self.callback()), flags, NOTIFY_KEY),
            None => job.observe(None, flags, NOTIFY_KEY),
        }
    }
}
