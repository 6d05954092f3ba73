//! Notification callbacks, keyed by job id and delivered in order on one
//! thread per manager.
//!
//! The model only says which events happened to which job; this module
//! keeps the callback registered for each job and calls it from its own
//! thread, holding no qmgr lock while it runs, so a callback may call
//! anything. Retiring a registration waits for a running call of that
//! job's callbacks (unless called from the delivery thread, i.e. from a
//! callback), so that once `set_notify` or a handle's close returns, the
//! old callback's context may be freed. The wait is per job: a callback of
//! another job may block on anything (a lock the caller of `set_notify`
//! holds included) without making it wait.
//!
//! Locks: the registry and the sender are leaves; a job's gate is held
//! only by the delivery thread around a call of that job's callback, and
//! `retire` takes it with no other lock held.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::engine::types::{JobId, NotifyEvent};
use crate::sync::Mutex;

/// A registered callback, with the job handle it reports already bound.
pub(crate) type BoundCallback = Box<dyn Fn(&NotifyEvent) + Send + Sync>;

/// A job's gate: held by the delivery thread while a callback of that job
/// runs, so that retiring one of the job's registrations can wait for it.
/// One per job, shared by all its registrations (a registration replaced
/// while it runs is still waited for by the next retirement).
pub(crate) type Gate = Arc<Mutex<()>>;

/// One `set_notify` registration.
pub(crate) struct Registration {
    /// Opaque value of whoever registered it (the C layer puts its handle here).
    pub owner: u64,
    /// An observer sees the events without standing for the job's
    /// callback: the notify program still runs (see [`Dispatcher::takes_events`]).
    observer: bool,
    callback: BoundCallback,
    active: AtomicBool,
    /// The job's gate.
    gate: Gate,
}

/// The per-manager registry of callbacks and their delivery thread.
pub(crate) struct Dispatcher {
    registry: Arc<Mutex<HashMap<JobId, Arc<Registration>>>>,
    sender: Mutex<Option<mpsc::Sender<(JobId, NotifyEvent)>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Cleared at shutdown: queued deliveries are then dropped, not run.
    open: Arc<AtomicBool>,
}

thread_local! {
    /// True on the delivery threads of every manager (where callbacks run).
    static IS_DELIVERY_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl Dispatcher {
    /// Starts the delivery thread.
    pub(crate) fn start() -> std::io::Result<Dispatcher> {
        let (sender, receiver) = mpsc::channel::<(JobId, NotifyEvent)>();
        let registry: Arc<Mutex<HashMap<JobId, Arc<Registration>>>> = Arc::default();
        let open = Arc::new(AtomicBool::new(true));
        let (lookup, still_open) = (Arc::clone(&registry), Arc::clone(&open));
        let thread = std::thread::Builder::new()
            .name("qmgr-notify".into())
            .spawn(move || {
                IS_DELIVERY_THREAD.with(|d| d.set(true));
                for (job, event) in receiver {
                    // The job's gate first (every registration of a job has
                    // the same), then the registration, under the gate: one
                    // retired before the gate was taken is out of the
                    // registry by then, so nothing of it is touched once
                    // `retire` returned; one retired after waits for this.
                    let gate = lookup.lock().get(&job).map(|r| Arc::clone(&r.gate));
                    let Some(gate) = gate else {
                        continue;
                    };
                    let _running = gate.lock();
                    let registration = lookup.lock().get(&job).cloned();
                    let Some(registration) = registration else {
                        continue;
                    };
                    if still_open.load(Ordering::Acquire)
                        && registration.active.load(Ordering::Acquire)
                    {
                        // A panicking Rust callback must not kill the dispatcher.
                        let call = || (registration.callback)(&event);
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(call));
                    }
                    // The registration (and its callback) is dropped here,
                    // before the gate is released.
                    drop(registration);
                }
            })?;
        Ok(Dispatcher {
            registry,
            sender: Mutex::new(Some(sender)),
            thread: Mutex::new(Some(thread)),
            open,
        })
    }

    /// Registers `callback` for `job` (replacing any), or removes the
    /// registration with `None`; returns the previous one, to be retired.
    /// `gate` is the job's (the same at every call for one job).
    pub(crate) fn register(
        &self,
        job: JobId,
        owner: u64,
        callback: Option<BoundCallback>,
        observer: bool,
        gate: &Gate,
    ) -> Option<Arc<Registration>> {
        let mut registry = self.registry.lock();
        match callback {
            Some(callback) => registry.insert(
                job,
                Arc::new(Registration {
                    owner,
                    observer,
                    callback,
                    active: AtomicBool::new(true),
                    gate: Arc::clone(gate),
                }),
            ),
            None => registry.remove(&job),
        }
    }

    /// True when a callback that is not an observer is registered (and not
    /// retired) for `job`: it takes the events the notify program would
    /// otherwise run for (BITS's rule).
    pub(crate) fn takes_events(&self, job: JobId) -> bool {
        self.registry
            .lock()
            .get(&job)
            .is_some_and(|r| !r.observer && r.active.load(Ordering::Acquire))
    }

    /// Removes `job`'s registration if `owner` made it; returns it, to be retired.
    pub(crate) fn unregister_owned(&self, job: JobId, owner: u64) -> Option<Arc<Registration>> {
        let mut registry = self.registry.lock();
        if registry.get(&job).is_some_and(|r| r.owner == owner) {
            registry.remove(&job)
        } else {
            None
        }
    }

    /// Queues an event of `job`; dropped once the dispatcher is shut down,
    /// and at delivery when no callback is registered.
    pub(crate) fn post(&self, job: JobId, event: NotifyEvent) {
        if let Some(sender) = self.sender.lock().as_ref() {
            let _ = sender.send((job, event));
        }
    }

    /// Stops future calls of `registration` and waits for a running call
    /// of its job's callbacks (not another job's). Must be called with no
    /// qmgr lock held (the running callback may be waiting for one). From
    /// a delivery thread (a callback changing a registration) it does not
    /// wait: on this manager's, the only call that could be running is the
    /// caller itself; on another manager's, waiting could deadlock two
    /// callbacks that each retire the other's job (found by an attack).
    pub(crate) fn retire(&self, registration: &Registration) {
        registration.active.store(false, Ordering::Release);
        if !IS_DELIVERY_THREAD.with(std::cell::Cell::get) {
            drop(registration.gate.lock());
        }
    }

    /// Drops undelivered events and waits for the thread (unless called from it).
    pub(crate) fn shutdown(&self) {
        self.open.store(false, Ordering::Release);
        self.sender.lock().take();
        let thread = self.thread.lock().take();
        if let Some(thread) = thread {
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
        self.registry.lock().clear();
    }
}
