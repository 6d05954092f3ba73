//! The cancel token: how a transfer is told to stop.
//!
//! It lives below everything else so that a transport can register what
//! stopping means for it (closing its sockets, so a blocked read returns at
//! once) without knowing who stops it or why.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::sync::Mutex;

/// Something to run when a token is cancelled, e.g. shutting an HTTP
/// agent's connections down.
pub(crate) type CancelHook = Box<dyn FnOnce() + Send>;

/// The stop signal of one transfer run.
///
/// Its hook list is a leaf lock: `cancel` takes it only to move the hooks
/// out and runs them with no lock held, so a caller must not hold a job's
/// data lock when it cancels (a hook may block on a socket shutdown).
#[derive(Default)]
pub(crate) struct CancelToken {
    cancelled: AtomicBool,
    hooks: Mutex<Vec<CancelHook>>,
}

impl CancelToken {
    /// Marks the token cancelled and runs its hooks (each once).
    pub(crate) fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
        let hooks = std::mem::take(&mut *self.hooks.lock());
        for hook in hooks {
            hook();
        }
    }

    /// True once `cancel` was called.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    /// Runs `hook` when the token is cancelled (at once if it already is).
    pub(crate) fn on_cancel(&self, hook: CancelHook) {
        let mut hooks = self.hooks.lock();
        if self.is_cancelled() {
            drop(hooks);
            hook();
        } else {
            hooks.push(hook);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    #[test]
    fn hooks_run_once_and_late_hooks_run_at_once() {
        let token = CancelToken::default();
        let runs = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&runs);
        token.on_cancel(Box::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        }));
        assert!(!token.is_cancelled());
        token.cancel();
        token.cancel();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        let counter = Arc::clone(&runs);
        token.on_cancel(Box::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        }));
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert!(token.is_cancelled());
    }
}
