//! Locks that do not poison: the standard library's, with the habits qmgr's
//! code was written to (it used parking_lot until 0.3): `lock()` returns
//! the guard, and a condition variable waits on a guard borrowed `&mut`.
//!
//! A panic while a lock is held (only ever caught at the C boundary or
//! around a callback) leaves data that every holder keeps consistent
//! between statements, so a poisoned lock is simply taken. The standard
//! locks are futexes on Linux, as fast here as parking_lot's, and leaving
//! parking_lot out saves about 15 KB of every library.

use std::ops::{Deref, DerefMut};
use std::sync::PoisonError;
use std::time::{Duration, Instant};

/// A mutual-exclusion lock whose `lock` cannot fail.
#[derive(Debug, Default)]
pub(crate) struct Mutex<T: ?Sized>(std::sync::Mutex<T>);

/// The guard of a [`Mutex`]: the data while it is held.
pub(crate) struct MutexGuard<'a, T: ?Sized> {
    /// Always `Some` but inside [`Condvar`]'s waits, which hand the std
    /// guard to the std condition variable and put back the one it returns.
    inner: Option<std::sync::MutexGuard<'a, T>>,
}

impl<T> Mutex<T> {
    /// A lock around `value`.
    pub(crate) const fn new(value: T) -> Mutex<T> {
        Mutex(std::sync::Mutex::new(value))
    }

    /// The data, the lock gone.
    pub(crate) fn into_inner(self) -> T {
        self.0.into_inner().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Waits for the lock and holds it until the guard is dropped.
    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        MutexGuard {
            inner: Some(self.0.lock().unwrap_or_else(PoisonError::into_inner)),
        }
    }

    /// The lock if nobody holds it now.
    #[cfg(feature = "delta")]
    pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        let inner = match self.0.try_lock() {
            Ok(guard) => guard,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        Some(MutexGuard { inner: Some(inner) })
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.inner.as_deref().expect("a guard outside a wait")
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.inner.as_deref_mut().expect("a guard outside a wait")
    }
}

/// What a timed wait ended with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// True when the wait ended because its time ran out.
    pub(crate) fn timed_out(self) -> bool {
        self.0
    }
}

/// A condition variable for [`Mutex`] guards.
#[derive(Debug, Default)]
pub(crate) struct Condvar(std::sync::Condvar);

impl Condvar {
    /// A condition variable nobody waits on.
    pub(crate) const fn new() -> Condvar {
        Condvar(std::sync::Condvar::new())
    }

    /// Releases the guard's lock until notified (or woken spuriously),
    /// then holds it again.
    pub(crate) fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
        let held = guard.inner.take().expect("a guard outside a wait");
        guard.inner = Some(self.0.wait(held).unwrap_or_else(PoisonError::into_inner));
    }

    /// As [`Condvar::wait`], for at most `timeout`.
    pub(crate) fn wait_for<T>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        timeout: Duration,
    ) -> WaitTimeoutResult {
        let held = guard.inner.take().expect("a guard outside a wait");
        let (held, result) = self
            .0
            .wait_timeout(held, timeout)
            .unwrap_or_else(PoisonError::into_inner);
        guard.inner = Some(held);
        WaitTimeoutResult(result.timed_out())
    }

    /// As [`Condvar::wait`], until `deadline` at the latest.
    pub(crate) fn wait_until<T>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        deadline: Instant,
    ) -> WaitTimeoutResult {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return WaitTimeoutResult(true);
        }
        self.wait_for(guard, left)
    }

    /// Wakes one waiter.
    pub(crate) fn notify_one(&self) {
        self.0.notify_one();
    }

    /// Wakes every waiter.
    pub(crate) fn notify_all(&self) {
        self.0.notify_all();
    }
}

/// A reader-writer lock whose `read` and `write` cannot fail.
#[derive(Debug, Default)]
pub(crate) struct RwLock<T>(std::sync::RwLock<T>);

impl<T> RwLock<T> {
    /// A lock around `value`.
    pub(crate) const fn new(value: T) -> RwLock<T> {
        RwLock(std::sync::RwLock::new(value))
    }

    /// Shared access, until the guard is dropped.
    pub(crate) fn read(&self) -> std::sync::RwLockReadGuard<'_, T> {
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Exclusive access, until the guard is dropped.
    pub(crate) fn write(&self) -> std::sync::RwLockWriteGuard<'_, T> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_lock_survives_a_panic_and_waits_wake_or_time_out() {
        let shared = Arc::new((Mutex::new(0u32), Condvar::new()));
        let panicking = Arc::clone(&shared);
        let _ = std::thread::spawn(move || {
            let _held = panicking.0.lock();
            panic!("while holding the lock");
        })
        .join();
        *shared.0.lock() += 1;

        let mut guard = shared.0.lock();
        let started = Instant::now();
        assert!(shared
            .1
            .wait_for(&mut guard, Duration::from_millis(20))
            .timed_out());
        assert!(started.elapsed() >= Duration::from_millis(20));
        assert_eq!(*guard, 1, "the guard holds the lock again");

        let waker = Arc::clone(&shared);
        let thread = std::thread::spawn(move || {
            *waker.0.lock() = 2;
            waker.1.notify_all();
        });
        while *guard != 2 {
            shared.1.wait(&mut guard);
        }
        drop(guard);
        thread.join().unwrap();
    }
}
