//! The handle table: `u64` handles that are never reused, mapped to managers
//! and job references.
//!
//! Lookups take a read lock, clone what they need and let go; nothing that
//! blocks or calls user code runs under the table lock. Closing a manager
//! removes the handles of its jobs too, so a stale handle always finds
//! nothing and gets `QM_E_HANDLE`.
//!
//! Quick job reads (`with_job`: progress, state, counts) skip the lock: each
//! thread remembers its last job lookup, valid while no handle has been
//! removed since (handles are never reused, so only a removal can make it
//! wrong). Polling threads then share nothing but a read-only counter,
//! instead of bouncing the lock's word between cores.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use crate::engine::error::{Error, Result};
use crate::hresult::QM_E_HANDLE;
use crate::sync::RwLock;
use crate::{Job, Manager};

enum Entry {
    Manager(Arc<Manager>),
    Job { job: Job, manager: u64 },
}

/// Handles are sequential; one multiply spreads them over the hash space.
#[derive(Default)]
struct HandleHasher(u64);

impl Hasher for HandleHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type Table = HashMap<u64, Entry, BuildHasherDefault<HandleHasher>>;

static TABLE: LazyLock<RwLock<Table>> = LazyLock::new(|| RwLock::new(Table::default()));
static NEXT_HANDLE: AtomicU64 = AtomicU64::new(1);
/// How many removals the table has seen; bumped under its write lock.
static REMOVALS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's last successful job lookup: `(REMOVALS then, handle,
    /// job)`. It keeps that one job alive until the thread's next lookup
    /// after a removal, or its exit.
    static LAST_JOB: RefCell<Option<(u64, u64, Job)>> = const { RefCell::new(None) };
}

fn bad_handle(handle: u64) -> Error {
    Error::new(QM_E_HANDLE, format!("handle {handle} is not open"))
}

/// Registers a manager and returns its new handle.
pub(crate) fn add_manager(manager: Manager) -> u64 {
    let handle = NEXT_HANDLE.fetch_add(1, Ordering::Relaxed);
    TABLE
        .write()
        .insert(handle, Entry::Manager(Arc::new(manager)));
    handle
}

/// Registers new references to `jobs`, owned by manager handle `manager`,
/// all or none: `QM_E_HANDLE` if that manager was closed meanwhile (so no
/// handle can outlive its manager's close).
pub(crate) fn add_jobs(jobs: Vec<Job>, manager: u64) -> Result<Vec<u64>> {
    let mut table = TABLE.write();
    if !matches!(table.get(&manager), Some(Entry::Manager(_))) {
        return Err(bad_handle(manager));
    }
    Ok(jobs
        .into_iter()
        .map(|job| {
            let handle = NEXT_HANDLE.fetch_add(1, Ordering::Relaxed);
            table.insert(handle, Entry::Job { job, manager });
            handle
        })
        .collect())
}

/// Registers one new reference to `job` (see [`add_jobs`]).
pub(crate) fn add_job(job: Job, manager: u64) -> Result<u64> {
    Ok(add_jobs(vec![job], manager)?[0])
}

/// The manager behind a handle.
pub(crate) fn manager(handle: u64) -> Result<Arc<Manager>> {
    match TABLE.read().get(&handle) {
        Some(Entry::Manager(m)) => Ok(Arc::clone(m)),
        _ => Err(bad_handle(handle)),
    }
}

/// Runs `f` on the job behind a handle. For quick, non-blocking reads only:
/// `f` runs under the table's read lock, or with this thread's remembered
/// lookup (see the module's notes), and must not look up handles itself.
pub(crate) fn with_job<R>(handle: u64, f: impl FnOnce(&Job) -> R) -> Result<R> {
    // Acquire: pairs with the increment of a removal, so a lookup that sees
    // the count unchanged saw the table as it was when it was remembered.
    let removals = REMOVALS.load(Ordering::Acquire);
    LAST_JOB.with(|last| {
        let Ok(mut last) = last.try_borrow_mut() else {
            return with_job_locked(handle, f);
        };
        if let Some((seen, cached, job)) = &*last {
            if *seen == removals && *cached == handle {
                return Ok(f(job));
            }
        }
        let table = TABLE.read();
        match table.get(&handle) {
            Some(Entry::Job { job, .. }) => {
                // Read under the lock: no removal can be half done.
                let seen = REMOVALS.load(Ordering::Relaxed);
                *last = Some((seen, handle, job.clone()));
                Ok(f(job))
            }
            _ => Err(bad_handle(handle)),
        }
    })
}

/// `with_job` without the remembered lookup.
fn with_job_locked<R>(handle: u64, f: impl FnOnce(&Job) -> R) -> Result<R> {
    match TABLE.read().get(&handle) {
        Some(Entry::Job { job, .. }) => Ok(f(job)),
        _ => Err(bad_handle(handle)),
    }
}

/// The job behind a handle, for calls that may block.
pub(crate) fn job(handle: u64) -> Result<Job> {
    with_job_locked(handle, Job::clone)
}

/// Removes a job handle and returns its job.
pub(crate) fn remove_job(handle: u64) -> Result<Job> {
    let mut table = TABLE.write();
    match table.get(&handle) {
        Some(Entry::Job { .. }) => match table.remove(&handle) {
            Some(Entry::Job { job, .. }) => {
                REMOVALS.fetch_add(1, Ordering::Release);
                Ok(job)
            }
            _ => Err(bad_handle(handle)),
        },
        _ => Err(bad_handle(handle)),
    }
}

/// A removed manager and the job references (with their handles) removed with it.
pub(crate) type RemovedManager = (Arc<Manager>, Vec<(u64, Job)>);

/// Removes a manager handle and every job handle of it.
pub(crate) fn remove_manager(handle: u64) -> Result<RemovedManager> {
    let mut table = TABLE.write();
    let manager = match table.get(&handle) {
        Some(Entry::Manager(m)) => Arc::clone(m),
        _ => return Err(bad_handle(handle)),
    };
    table.remove(&handle);
    REMOVALS.fetch_add(1, Ordering::Release);
    let job_handles: Vec<u64> = table
        .iter()
        .filter_map(|(h, e)| {
            matches!(e, Entry::Job { manager, .. } if *manager == handle).then_some(*h)
        })
        .collect();
    let jobs = job_handles
        .into_iter()
        .filter_map(|h| match table.remove(&h) {
            Some(Entry::Job { job, .. }) => Some((h, job)),
            _ => None,
        })
        .collect();
    Ok((manager, jobs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_never_reused_and_kinds_do_not_mix() {
        let m = add_manager(Manager::open(None).unwrap());
        let created = manager(m).unwrap().create_job("t").unwrap();
        let j = add_job(created, m).unwrap();
        assert!(j > m);
        assert!(manager(j).is_err(), "a job handle is not a manager handle");
        assert!(
            with_job(m, |_| ()).is_err(),
            "a manager handle is not a job handle"
        );
        let (mgr, jobs) = remove_manager(m).unwrap();
        mgr.close();
        assert_eq!(jobs.len(), 1);
        let late = jobs[0].1.clone();
        assert!(
            add_job(late, m).is_err(),
            "no new handle for a closed manager"
        );
        assert!(
            job(j).is_err(),
            "closing the manager closes its job handles"
        );
        assert!(remove_manager(m).is_err());
        let next = add_manager(Manager::open(None).unwrap());
        assert!(next > j, "handles only grow");
        remove_manager(next).unwrap().0.close();
    }

    #[test]
    fn a_remembered_lookup_never_outlives_the_handle() {
        let m = add_manager(Manager::open(None).unwrap());
        let first = add_job(manager(m).unwrap().create_job("a").unwrap(), m).unwrap();
        let second = add_job(manager(m).unwrap().create_job("b").unwrap(), m).unwrap();
        let name = |h| with_job(h, |job| job.display_name());
        assert_eq!(name(first).unwrap(), "a");
        assert_eq!(
            name(first).unwrap(),
            "a",
            "served from the remembered lookup"
        );
        assert_eq!(name(second).unwrap(), "b", "another handle is looked up");

        // Another thread remembers `second`; this thread closes it; told so
        // through a channel, the other thread must see it gone.
        let (closed_tx, closed_rx) = std::sync::mpsc::channel::<()>();
        let (looked_tx, looked_rx) = std::sync::mpsc::channel::<()>();
        let poller = std::thread::spawn(move || {
            assert_eq!(name(second).unwrap(), "b");
            looked_tx.send(()).unwrap();
            closed_rx.recv().unwrap();
            name(second).map_err(|e| e.code.0)
        });
        looked_rx.recv().unwrap();
        remove_job(second).unwrap();
        closed_tx.send(()).unwrap();
        assert_eq!(poller.join().unwrap(), Err(QM_E_HANDLE));
        assert_eq!(name(second).unwrap_err().code.0, QM_E_HANDLE);

        // A manager's close removes its job handles: remembered ones too.
        assert_eq!(name(first).unwrap(), "a");
        remove_manager(m).unwrap().0.close();
        assert_eq!(name(first).unwrap_err().code.0, QM_E_HANDLE);
    }
}
