//! The Rust API against real files: resume correctness, restarts, stops,
//! throttling and notifications.

use crate::support;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use qmgr::hresult::*;
use qmgr::{FileSpec, Job, JobState, Manager, NotifyFlags};
use support::{temp_files, wait_until};

fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
        .collect()
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    path
}

fn spec(src: &Path, dst: &Path) -> FileSpec {
    FileSpec::new(src.to_str().unwrap(), dst.to_str().unwrap())
}

fn wait(job: &Job) -> JobState {
    support::wait(job, Duration::from_secs(60))
}

/// Starts a throttled job and suspends it once some bytes have moved.
fn start_then_suspend(job: &Job, at_least: u64) -> u64 {
    job.set_max_bandwidth(2 << 20).unwrap();
    job.resume().unwrap();
    wait_until(
        &format!("{at_least} bytes of {job:?}"),
        Duration::from_secs(30),
        || job.bytes_transferred() >= at_least,
    );
    job.suspend().unwrap();
    job.set_max_bandwidth(0).unwrap();
    job.bytes_transferred()
}

#[test]
fn resume_continues_from_the_partial_file() {
    let dir = support::scratch("engine-resume");
    let data = pattern(6 << 20, 1);
    let src = write(&dir, "src", &data);
    let dst = dir.join("dst");
    let manager = Manager::open(None).unwrap();
    let job = manager.create_job("resume").unwrap();
    job.add_files(&[spec(&src, &dst)]).unwrap();
    let kept = start_then_suspend(&job, 256 << 10);
    let temps = temp_files(&dir);
    assert_eq!(temps.len(), 1);
    assert_eq!(
        std::fs::metadata(&temps[0]).unwrap().len(),
        kept,
        "the partial file holds exactly the counted bytes"
    );
    assert_eq!(
        std::fs::read(&temps[0]).unwrap(),
        data[..kept as usize],
        "the partial file is a true prefix"
    );
    job.resume().unwrap();
    assert_eq!(wait(&job), JobState::Transferred);
    assert_eq!(
        temp_files(&dir),
        temps,
        "the same temporary file was continued"
    );
    assert_eq!(job.complete().unwrap().0, QM_S_OK);
    assert_eq!(std::fs::read(&dst).unwrap(), data);
}

#[test]
fn a_source_changed_while_suspended_restarts_from_zero() {
    let dir = support::scratch("engine-changed");
    let src = write(&dir, "src", &pattern(6 << 20, 2));
    let dst = dir.join("dst");
    let manager = Manager::open(None).unwrap();
    let job = manager.create_job("changed").unwrap();
    job.add_files(&[spec(&src, &dst)]).unwrap();
    start_then_suspend(&job, 256 << 10);
    // A new version of the source, same size, different bytes and mtime
    // (set 10 s ahead rather than slept for: the file system's timestamp
    // granularity cannot hide the change).
    let old_mtime = std::fs::metadata(&src).unwrap().modified().unwrap();
    let new_data = pattern(6 << 20, 99);
    std::fs::write(&src, &new_data).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&src)
        .unwrap()
        .set_modified(old_mtime + Duration::from_secs(10))
        .unwrap();
    job.resume().unwrap();
    assert_eq!(wait(&job), JobState::Transferred);
    job.complete().unwrap();
    assert_eq!(
        std::fs::read(&dst).unwrap(),
        new_data,
        "no old prefix may survive a change of source"
    );
}

#[test]
fn a_deleted_temporary_file_is_fetched_again() {
    let dir = support::scratch("engine-deleted-temp");
    let data = pattern(5 << 20, 3);
    let src = write(&dir, "src", &data);
    let dst = dir.join("dst");
    let manager = Manager::open(None).unwrap();
    let job = manager.create_job("deleted").unwrap();
    job.add_files(&[spec(&src, &dst)]).unwrap();
    start_then_suspend(&job, 256 << 10);
    for temp in temp_files(&dir) {
        std::fs::remove_file(temp).unwrap();
    }
    job.resume().unwrap();
    assert_eq!(wait(&job), JobState::Transferred);
    assert_eq!(job.bytes_transferred(), data.len() as u64);
    job.complete().unwrap();
    assert_eq!(std::fs::read(&dst).unwrap(), data);
}

#[test]
fn a_symlink_at_the_temporary_name_is_never_followed() {
    // complete() renames our own temporary file; a link planted in the
    // destination directory cannot redirect the data elsewhere.
    let dir = support::scratch("engine-symlink");
    let data = pattern(100_000, 4);
    let src = write(&dir, "src", &data);
    let victim = write(&dir, "victim", b"keep me");
    let dst = dir.join("dst");
    std::os::unix::fs::symlink(&victim, &dst).unwrap();
    let manager = Manager::open(None).unwrap();
    let job = manager.create_job("symlink").unwrap();
    job.add_files(&[spec(&src, &dst)]).unwrap();
    job.resume().unwrap();
    assert_eq!(wait(&job), JobState::Transferred);
    job.complete().unwrap();
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");
    assert!(!std::fs::symlink_metadata(&dst)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read(&dst).unwrap(), data);
}

#[test]
fn closing_the_manager_ends_waits_and_keeps_jobs_readable() {
    let dir = support::scratch("engine-close");
    let src = write(&dir, "src", &pattern(8 << 20, 5));
    let manager = Manager::open(None).unwrap();
    let job = manager.create_job("close").unwrap();
    job.add_files(&[spec(&src, &dir.join("dst"))]).unwrap();
    job.set_max_bandwidth(1 << 20).unwrap();
    job.resume().unwrap();
    let (tx, waited) = std::sync::mpsc::channel();
    {
        let job = job.clone();
        std::thread::spawn(move || {
            let _ = tx.send(job.wait(None));
        });
    }
    // Mid-transfer (8 MiB at 1 MiB/s: 8 s), with the waiter blocked.
    wait_until("the first bytes", Duration::from_secs(30), || {
        job.bytes_transferred() > 0
    });
    // A close that hangs fails here instead of hanging the suite.
    let manager = within(Duration::from_secs(30), "manager.close()", move || {
        manager.close();
        manager
    });
    let err = waited
        .recv_timeout(Duration::from_secs(30))
        .expect("closing the manager did not end the wait")
        .unwrap_err();
    assert_eq!(err.code.0, QM_E_ABORT);
    assert!(job.bytes_transferred() > 0);
    assert_eq!(job.resume().unwrap_err().code.0, QM_E_HANDLE);
    assert_eq!(manager.create_job("late").unwrap_err().code.0, QM_E_HANDLE);
}

#[test]
fn the_job_bandwidth_limit_shapes_a_local_copy() {
    // That the limit applies to a local copy at all: a lower bound only (a
    // slow machine can only make it longer), half the 0.5 s that 1 MiB
    // takes at 2 MiB/s (the bucket starts empty and saves at most 50 ms);
    // unthrottled, the copy takes milliseconds. How exactly the rate holds
    // is the throttle's unit tests' business (virtual time).
    let dir = support::scratch("engine-throttle");
    let size = 1 << 20;
    let data = pattern(size, 6);
    let src = write(&dir, "src", &data);
    let manager = Manager::open(None).unwrap();
    let job = manager.create_job("throttle").unwrap();
    job.add_files(&[spec(&src, &dir.join("dst"))]).unwrap();
    job.set_max_bandwidth(2 << 20).unwrap();
    let started = Instant::now();
    job.resume().unwrap();
    assert_eq!(wait(&job), JobState::Transferred);
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(250),
        "1 MiB at 2 MiB/s took only {elapsed:?}: not throttled"
    );
    job.complete().unwrap();
    assert_eq!(std::fs::read(dir.join("dst")).unwrap(), data);
}

#[test]
fn the_manager_limit_binds_background_jobs_but_not_foreground_ones() {
    let dir = support::scratch("engine-manager-limit");
    let size = 512 << 10;
    let src = write(&dir, "src", &pattern(size, 7));
    let manager = Manager::open(None).unwrap();
    manager.set_max_bandwidth(512 << 10).unwrap();
    let fg = manager.create_job("foreground").unwrap();
    fg.add_files(&[spec(&src, &dir.join("fg"))]).unwrap();
    fg.switch_to_foreground().unwrap();
    let bg = manager.create_job("background").unwrap();
    bg.add_files(&[spec(&src, &dir.join("bg"))]).unwrap();
    let started = Instant::now();
    bg.resume().unwrap();
    fg.resume().unwrap();
    assert_eq!(wait(&fg), JobState::Transferred);
    assert_eq!(wait(&bg), JobState::Transferred);
    let bg_time = started.elapsed();
    // The background job was throttled at all (a lower bound: half of the
    // 1 s that 512 KiB takes at 512 KiB/s)...
    assert!(
        bg_time >= Duration::from_millis(500),
        "512 KiB at 512 KiB/s took only {bg_time:?}"
    );
    // ...and the foreground one was not: it finished first, by the jobs'
    // own completion times (not by when this thread got to look).
    let done = |job: &Job| job.times().transfer_completion.expect("a completion time");
    assert!(
        done(&fg) < done(&bg),
        "the foreground job was held back by the background limit"
    );
}

#[test]
fn rust_callbacks_see_each_file_then_the_job() {
    let dir = support::scratch("engine-notify");
    let a = write(&dir, "a", &pattern(1000, 8));
    let b = write(&dir, "b", &pattern(2000, 9));
    let manager = Manager::open(None).unwrap();
    let job = manager.create_job("notify").unwrap();
    job.add_files(&[spec(&a, &dir.join("da")), spec(&b, &dir.join("db"))])
        .unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let callback: qmgr::NotifyCallback =
        Arc::new(move |_job, event| sink.lock().unwrap().push((event.kind, event.file_index)));
    job.set_notify(
        Some(callback),
        NotifyFlags::JOB_TRANSFERRED | NotifyFlags::FILE_TRANSFERRED,
        0,
    )
    .unwrap();
    job.resume().unwrap();
    assert_eq!(wait(&job), JobState::Transferred);
    wait_until("three notifications", Duration::from_secs(30), || {
        events.lock().unwrap().len() >= 3
    });
    let seen = events.lock().unwrap().clone();
    // Files travel in parallel, so they may land in either order; each is
    // announced once, and the job's event comes after both.
    assert_eq!(seen.len(), 3, "{seen:?}");
    let mut files = seen[..2].to_vec();
    files.sort_by_key(|&(_, index)| index);
    assert_eq!(
        files,
        vec![
            (NotifyFlags::FILE_TRANSFERRED, 0),
            (NotifyFlags::FILE_TRANSFERRED, 1)
        ],
        "{seen:?}"
    );
    assert_eq!(
        seen[2],
        (NotifyFlags::JOB_TRANSFERRED, u32::MAX),
        "{seen:?}"
    );
}

#[test]
fn replacing_a_callback_waits_for_the_running_one() {
    let dir = support::scratch("engine-retire");
    let src = write(&dir, "src", &pattern(1000, 10));
    let manager = Manager::open(None).unwrap();
    let job = manager.create_job("retire").unwrap();
    job.add_files(&[spec(&src, &dir.join("dst"))]).unwrap();
    // The callback runs until the test releases it (or 30 s pass).
    let running = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(AtomicUsize::new(0));
    let (r, f, go) = (
        Arc::clone(&running),
        Arc::clone(&finished),
        Arc::clone(&release),
    );
    let held: qmgr::NotifyCallback = Arc::new(move |_job, _event| {
        r.fetch_add(1, Ordering::SeqCst);
        let until = Instant::now() + Duration::from_secs(30);
        while go.load(Ordering::SeqCst) == 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
        }
        f.fetch_add(1, Ordering::SeqCst);
    });
    job.set_notify(Some(held), NotifyFlags::JOB_TRANSFERRED, 0)
        .unwrap();
    job.resume().unwrap();
    assert_eq!(wait(&job), JobState::Transferred);
    wait_until("the callback to start", Duration::from_secs(30), || {
        running.load(Ordering::SeqCst) == 1
    });
    // Replace it on another thread, which reports what it saw on return.
    let (tx, returned) = std::sync::mpsc::channel();
    {
        let (job, finished) = (job.clone(), Arc::clone(&finished));
        std::thread::spawn(move || {
            job.set_notify(None, NotifyFlags::JOB_TRANSFERRED, 0)
                .unwrap();
            let _ = tx.send(finished.load(Ordering::SeqCst));
        });
    }
    // While the callback is held, set_notify cannot return: this wait
    // must time out (a return here is the bug, whatever the machine's speed).
    if let Ok(seen) = returned.recv_timeout(Duration::from_millis(300)) {
        panic!("set_notify returned while the old callback was running ({seen} finished)");
    }
    release.store(1, Ordering::SeqCst);
    let seen = returned
        .recv_timeout(Duration::from_secs(30))
        .expect("set_notify did not return once the callback ended");
    assert_eq!(
        seen, 1,
        "set_notify returned while the old callback was still running"
    );
}

#[test]
fn sha256_is_checked_after_a_suspend_and_resume() {
    // The hash must cover the bytes written before the suspend too.
    let dir = support::scratch("engine-sha-resume");
    let data = pattern(4 << 20, 11);
    let src = write(&dir, "src", &data);
    let digest: String = {
        use sha2::{Digest, Sha256};
        Sha256::digest(&data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let manager = Manager::open(None).unwrap();
    let good = manager.create_job("good").unwrap();
    good.add_files(&[spec(&src, &dir.join("good"))]).unwrap();
    good.set_file_sha256(0, Some(&digest)).unwrap();
    start_then_suspend(&good, 256 << 10);
    good.resume().unwrap();
    assert_eq!(wait(&good), JobState::Transferred);

    // A wrong digest fails validation even though the data was resumed.
    let bad = manager.create_job("bad").unwrap();
    bad.add_files(&[spec(&src, &dir.join("bad"))]).unwrap();
    bad.set_file_sha256(0, Some(&"0".repeat(64))).unwrap();
    start_then_suspend(&bad, 256 << 10);
    bad.resume().unwrap();
    assert_eq!(wait(&bad), JobState::Error);
    assert_eq!(bad.error().unwrap().code.0, QM_BG_E_VALIDATION_FAILED);
}

#[test]
fn special_files_are_refused_as_sources_without_blocking() {
    let dir = support::scratch("engine-fifo");
    let fifo = dir.join("fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let manager = Manager::open(None).unwrap();
    for source in [fifo.as_path(), Path::new("/dev/zero"), &*dir] {
        let job = manager.create_job("special").unwrap();
        job.add_files(&[spec(source, &dir.join("out"))]).unwrap();
        job.resume().unwrap();
        assert_eq!(wait(&job), JobState::Error, "{}", source.display());
        let err = job.error().unwrap();
        assert_eq!(err.context, qmgr::ErrorContext::RemoteFile);
        assert!(
            err.description.contains("not a regular file"),
            "{}",
            err.description
        );
        job.cancel().unwrap();
    }
}

/// Runs `f` on a thread and fails the test if it does not finish in time.
fn within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("{what}: did not finish within {limit:?} (deadlock?)"))
}

#[test]
fn cancel_does_not_deadlock_with_a_callback_that_changes_the_job() {
    // The callback is running (and about to take the job's operation lock)
    // while another thread cancels: cancel must not wait for it while
    // holding that lock.
    let dir = support::scratch("engine-cancel-callback");
    let src = write(&dir, "src", &pattern(1000, 12));
    let manager = Manager::open(None).unwrap();
    let job = manager.create_job("cb").unwrap();
    job.add_files(&[spec(&src, &dir.join("dst"))]).unwrap();
    // The callback takes the lock only once cancel has made the job
    // CANCELLED (cancel holds the lock then, or has just let it go): the
    // order that deadlocks if cancel waits for callbacks with it held.
    // (Should cancel never get there, the callback goes on after 15 s and
    // the deadlock, if any, shows below.)
    let entered = Arc::new(AtomicUsize::new(0));
    let flag = Arc::clone(&entered);
    let callback: qmgr::NotifyCallback = Arc::new(move |job, _event| {
        flag.store(1, Ordering::SeqCst);
        let until = Instant::now() + Duration::from_secs(15);
        while job.state() != JobState::Cancelled && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = job.set_description("changed from a callback");
    });
    job.set_notify(Some(callback), NotifyFlags::JOB_TRANSFERRED, 0)
        .unwrap();
    job.resume().unwrap();
    assert_eq!(wait(&job), JobState::Transferred);
    wait_until("the callback to start", Duration::from_secs(30), || {
        entered.load(Ordering::SeqCst) == 1
    });
    let cancelling = job.clone();
    let result = within(Duration::from_secs(30), "cancel", move || {
        cancelling.cancel()
    });
    assert_eq!(result.unwrap().0, QM_S_OK);
    assert_eq!(job.state(), JobState::Cancelled);
}

#[test]
fn closing_an_in_memory_manager_removes_partial_files() {
    let dir = support::scratch("engine-close-temps");
    let src = write(&dir, "src", &pattern(4 << 20, 13));
    let manager = Manager::open(None).unwrap();
    let job = manager.create_job("left behind").unwrap();
    job.add_files(&[spec(&src, &dir.join("dst"))]).unwrap();
    job.set_max_bandwidth(1 << 20).unwrap();
    job.resume().unwrap();
    wait_until("the first bytes", Duration::from_secs(30), || {
        job.bytes_transferred() > 0
    });
    assert_eq!(temp_files(&dir).len(), 1);
    manager.close();
    assert!(
        temp_files(&dir).is_empty(),
        "an in-memory manager left partial files behind"
    );
}

#[test]
fn switching_to_foreground_mid_file_escapes_the_manager_limit_at_once() {
    let dir = support::scratch("engine-priority-switch");
    let size = 4 << 20;
    let data = pattern(size, 14);
    let src = write(&dir, "src", &data);
    let manager = Manager::open(None).unwrap();
    // 4 MiB at 32 KiB/s: 128 s, unless the switch lifts the limit.
    manager.set_max_bandwidth(32 << 10).unwrap();
    let job = manager.create_job("switch").unwrap();
    job.add_files(&[spec(&src, &dir.join("dst"))]).unwrap();
    job.resume().unwrap();
    wait_until("the first bytes", Duration::from_secs(30), || {
        job.bytes_transferred() > 0
    });
    assert!(job.bytes_transferred() < size as u64, "not mid-file");
    job.switch_to_foreground().unwrap();
    // Far sooner than the 128 s the limit would take (30 s only catches
    // a file that stayed throttled).
    assert_eq!(
        support::wait(&job, Duration::from_secs(30)),
        JobState::Transferred,
        "still throttled after the switch: {} of {size} bytes",
        job.bytes_transferred()
    );
    job.complete().unwrap();
    assert_eq!(std::fs::read(dir.join("dst")).unwrap(), data);
}
