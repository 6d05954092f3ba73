//! Notification callbacks are retired job by job: changing or dropping one
//! job's callback (`set_notify`, `clear_notify_of` — what `qm_job_close`
//! does —, `cancel`) waits for that job's running callback only, never for
//! another job's; and a callback may change its own job's registration.

use crate::support;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use qmgr::{FileSpec, Job, JobState, Manager, NotifyCallback, NotifyFlags};
use support::wait_until;

/// A job of one small local file.
fn job_of_one_file(manager: &Manager, dir: &Path, name: &str) -> Job {
    let src = dir.join(format!("{name}.src"));
    std::fs::write(&src, vec![7u8; 1000]).unwrap();
    let job = manager.create_job(name).unwrap();
    let dst = dir.join(format!("{name}.dst"));
    job.add_files(&[FileSpec::new(src.to_str().unwrap(), dst.to_str().unwrap())])
        .unwrap();
    job
}

fn idle_callback() -> NotifyCallback {
    Arc::new(|_job, _event| {})
}

/// The deadlock of a per-manager gate: job A's callback waits for a lock
/// the caller holds while it drops job B's callback. Each way of dropping
/// B's callback must return while A's callback is still blocked.
#[test]
fn dropping_a_callback_does_not_wait_for_another_jobs_callback() {
    let dir = support::scratch("callbacks-per-job");
    let manager = Manager::open(None).unwrap();
    let a = job_of_one_file(&manager, &dir, "a");
    let b = job_of_one_file(&manager, &dir, "b");

    // What the caller holds, and A's callback needs.
    let held = Arc::new(Mutex::new(()));
    let started = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let blocking: NotifyCallback = {
        let (held, started, finished) = (
            Arc::clone(&held),
            Arc::clone(&started),
            Arc::clone(&finished),
        );
        Arc::new(move |_job, _event| {
            started.fetch_add(1, Ordering::SeqCst);
            // Bounded, so that a failing test ends: 60 s, well past the
            // test's own deadline below.
            let until = Instant::now() + Duration::from_secs(60);
            while Instant::now() < until {
                match held.try_lock() {
                    Ok(_) | Err(std::sync::TryLockError::Poisoned(_)) => break,
                    Err(std::sync::TryLockError::WouldBlock) => {
                        std::thread::sleep(Duration::from_millis(1))
                    }
                }
            }
            finished.fetch_add(1, Ordering::SeqCst);
        })
    };
    a.set_notify(Some(blocking), NotifyFlags::JOB_TRANSFERRED, 0)
        .unwrap();
    b.set_notify(Some(idle_callback()), NotifyFlags::JOB_TRANSFERRED, 1)
        .unwrap();

    let guard = held.lock().unwrap();
    a.resume().unwrap();
    assert_eq!(
        support::wait(&a, Duration::from_secs(60)),
        JobState::Transferred
    );
    wait_until("job A's callback to start", Duration::from_secs(30), || {
        started.load(Ordering::SeqCst) == 1
    });

    // Every way of retiring B's callback, on a thread of its own, which
    // reports each step as it returns.
    let (tx, steps) = mpsc::channel::<&'static str>();
    let worker = {
        let b = b.clone();
        std::thread::spawn(move || {
            b.set_notify(Some(idle_callback()), NotifyFlags::JOB_TRANSFERRED, 2)
                .unwrap();
            let _ = tx.send("set_notify replacing B's callback");
            b.set_notify(None, NotifyFlags::JOB_TRANSFERRED, 0).unwrap();
            let _ = tx.send("set_notify(None) on B");
            b.set_notify(Some(idle_callback()), NotifyFlags::JOB_TRANSFERRED, 3)
                .unwrap();
            b.clear_notify_of(3);
            let _ = tx.send("clear_notify_of on B (qm_job_close)");
            b.set_notify(Some(idle_callback()), NotifyFlags::JOB_TRANSFERRED, 4)
                .unwrap();
            b.cancel().unwrap();
            let _ = tx.send("cancel of B");
        })
    };
    let limit = Duration::from_secs(20);
    for step in [
        "set_notify replacing B's callback",
        "set_notify(None) on B",
        "clear_notify_of on B (qm_job_close)",
        "cancel of B",
    ] {
        match steps.recv_timeout(limit) {
            Ok(done) => assert_eq!(done, step),
            Err(_) => {
                drop(guard);
                panic!("{step} did not return within {limit:?}: it waits for job A's callback");
            }
        }
    }
    // A's callback was blocked all along: B's calls did not wait for it.
    assert_eq!(finished.load(Ordering::SeqCst), 0);
    worker.join().unwrap();

    drop(guard);
    wait_until("job A's callback to end", Duration::from_secs(30), || {
        finished.load(Ordering::SeqCst) == 1
    });
    // A's own callback is still retired with a wait, now that it ended.
    a.set_notify(None, NotifyFlags::JOB_TRANSFERRED, 0).unwrap();
    a.complete().unwrap();
    manager.close();
}

/// A callback that replaces or clears its own job's callback, and drops
/// another job's, from inside the call: nothing waits for itself.
#[test]
fn a_callback_may_change_its_own_registration() {
    let dir = support::scratch("callbacks-reentrant");
    let manager = Manager::open(None).unwrap();
    let a = job_of_one_file(&manager, &dir, "a");
    let b = job_of_one_file(&manager, &dir, "b");
    b.set_notify(Some(idle_callback()), NotifyFlags::JOB_TRANSFERRED, 0)
        .unwrap();
    let (tx, done) = mpsc::channel::<()>();
    let tx = Mutex::new(tx);
    let callback: NotifyCallback = Arc::new(move |job, _event| {
        job.set_notify(Some(idle_callback()), NotifyFlags::JOB_TRANSFERRED, 0)
            .unwrap();
        job.set_notify(None, NotifyFlags::JOB_TRANSFERRED, 0)
            .unwrap();
        b.set_notify(None, NotifyFlags::JOB_TRANSFERRED, 0).unwrap();
        let _ = tx.lock().unwrap().send(());
    });
    a.set_notify(Some(callback), NotifyFlags::JOB_TRANSFERRED, 0)
        .unwrap();
    a.resume().unwrap();
    assert_eq!(
        support::wait(&a, Duration::from_secs(60)),
        JobState::Transferred
    );
    done.recv_timeout(Duration::from_secs(30))
        .expect("the callback did not return: it waited for itself");
    a.complete().unwrap();
    manager.close();
}
