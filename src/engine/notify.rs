//! Notification callbacks, delivered in order on one thread per manager.
//!
//! Events are queued while the job's lock is held and delivered later by the
//! dispatcher thread, which holds no qmgr lock while a callback runs, so a
//! callback may call anything. Retiring a registration waits for a callback
//! of it that is running (unless called from that callback), so that once
//! `set_notify` or a handle's close returns, the old callback's context may
//! be freed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::{JoinHandle, ThreadId};

use parking_lot::Mutex;

use crate::engine::job::Job;
use crate::engine::types::NotifyEvent;

/// A notification callback of the Rust API.
pub type NotifyCallback = Arc<dyn Fn(&Job, &NotifyEvent) + Send + Sync>;

/// One `set_notify` registration.
pub(crate) struct Registration {
    /// Opaque value of whoever registered it (the C layer puts its handle here).
    pub owner: u64,
    pub callback: NotifyCallback,
    active: AtomicBool,
}

impl Registration {
    pub(crate) fn new(owner: u64, callback: NotifyCallback) -> Arc<Registration> {
        Arc::new(Registration {
            owner,
            callback,
            active: AtomicBool::new(true),
        })
    }
}

struct Delivery {
    registration: Arc<Registration>,
    job: Job,
    event: NotifyEvent,
}

/// The per-manager delivery thread.
pub(crate) struct Dispatcher {
    sender: Mutex<Option<mpsc::Sender<Delivery>>>,
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
        let (sender, receiver) = mpsc::channel::<Delivery>();
        let running = Arc::new(Mutex::new(()));
        let gate = Arc::clone(&running);
        let open = Arc::new(AtomicBool::new(true));
        let still_open = Arc::clone(&open);
        let thread = std::thread::Builder::new()
            .name("qmgr-notify".into())
            .spawn(move || {
                for d in receiver {
                    let _running = gate.lock();
                    if still_open.load(Ordering::Acquire)
                        && d.registration.active.load(Ordering::Acquire)
                    {
                        // A panicking Rust callback must not kill the dispatcher.
                        let call = || (d.registration.callback)(&d.job, &d.event);
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(call));
                    }
                }
            })?;
        let thread_id = thread.thread().id();
        Ok(Dispatcher {
            sender: Mutex::new(Some(sender)),
            thread: Mutex::new(Some(thread)),
            thread_id,
            running,
            open,
        })
    }

    /// Queues one delivery; dropped silently once the dispatcher is shut down.
    pub(crate) fn post(&self, registration: Arc<Registration>, job: Job, event: NotifyEvent) {
        if let Some(sender) = self.sender.lock().as_ref() {
            let _ = sender.send(Delivery {
                registration,
                job,
                event,
            });
        }
    }

    /// Stops future calls of `registration` and waits for a running one.
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
    }
}
