//! Notification callbacks, keyed by job id and delivered in order on one
//! thread per manager.
//!
//! The model only says which events happened to which job; this module
//! keeps the callback registered for each job and calls it from its own
//! thread, holding no qmgr lock while it runs, so a callback may call
//! anything. Retiring a registration waits for a running call of it (unless
//! called from that call), so that once `set_notify` or a handle's close
//! returns, the old callback's context may be freed.
//!
//! Locks: the registry and the sender are leaves; `running` is held only
//! by the delivery thread around a call, and `retire` takes it with no
//! other lock held.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::{JoinHandle, ThreadId};

use parking_lot::Mutex;

use crate::engine::types::{JobId, NotifyEvent};

/// A registered callback, with the job handle it reports already bound.
pub(crate) type BoundCallback = Box<dyn Fn(&NotifyEvent) + Send + Sync>;

/// One `set_notify` registration.
pub(crate) struct Registration {
    /// Opaque value of whoever registered it (the C layer puts its handle here).
    pub owner: u64,
    callback: BoundCallback,
    active: AtomicBool,
}

/// The per-manager registry of callbacks and their delivery thread.
pub(crate) struct Dispatcher {
    registry: Arc<Mutex<HashMap<JobId, Arc<Registration>>>>,
    sender: Mutex<Option<mpsc::Sender<(JobId, NotifyEvent)>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    thread_id: ThreadId,
    /// Held while a callback runs, so that `retire` can wait for it.
    running: Arc<Mutex<()>>,
    /// Cleared at shutdown: queued deliveries are then dropped, not run.
    open: Arc<AtomicBool>,
}

impl Dispatcher {
    /// Starts the delivery thread.
    pub(crate) fn start() -> std::io::Result<Dispatcher> {
        let (sender, receiver) = mpsc::channel::<(JobId, NotifyEvent)>();
        let registry: Arc<Mutex<HashMap<JobId, Arc<Registration>>>> = Arc::default();
        let running = Arc::new(Mutex::new(()));
        let open = Arc::new(AtomicBool::new(true));
        let (lookup, gate, still_open) = (
            Arc::clone(&registry),
            Arc::clone(&running),
            Arc::clone(&open),
        );
        let thread = std::thread::Builder::new()
            .name("qmgr-notify".into())
            .spawn(move || {
                for (job, event) in receiver {
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
                }
            })?;
        let thread_id = thread.thread().id();
        Ok(Dispatcher {
            registry,
            sender: Mutex::new(Some(sender)),
            thread: Mutex::new(Some(thread)),
            thread_id,
            running,
            open,
        })
    }

    /// Registers `callback` for `job` (replacing any), or removes the
    /// registration with `None`; returns the previous one, to be retired.
    pub(crate) fn register(
        &self,
        job: JobId,
        owner: u64,
        callback: Option<BoundCallback>,
    ) -> Option<Arc<Registration>> {
        let mut registry = self.registry.lock();
        match callback {
            Some(callback) => registry.insert(
                job,
                Arc::new(Registration {
                    owner,
                    callback,
                    active: AtomicBool::new(true),
                }),
            ),
            None => registry.remove(&job),
        }
    }

    /// True when a callback is registered (and not retired) for `job`.
    pub(crate) fn is_registered(&self, job: JobId) -> bool {
        self.registry
            .lock()
            .get(&job)
            .is_some_and(|r| r.active.load(Ordering::Acquire))
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

    /// Stops future calls of `registration` and waits for a running one.
    /// Must be called with no qmgr lock held (the running callback may be
    /// waiting for one).
    pub(crate) fn retire(&self, registration: &Registration) {
        registration.active.store(false, Ordering::Release);
        if std::thread::current().id() != self.thread_id {
            drop(self.running.lock());
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
