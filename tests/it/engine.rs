//! The Rust API against real files: resume correctness, restarts, stops,
//! throttling and notifications.

use crate::support;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use qmgr::hresult::*;
use qmgr::{FileSpec, Job, JobState, Manager, NotifyFlags};
use support::temp_files;

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
    let started = Instant::now();
    while job.bytes_transferred() < at_least {
        assert!(started.elapsed() < Duration::from_secs(30), "no progress");
        std::thread::sleep(Duration::from_millis(2));
    }
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
    let kept = start_then_suspend(&job, 1 << 20);
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
    start_then_suspend(&job, 1 << 20);
    // A new version of the source, same size, different bytes and mtime.
    std::thread::sleep(Duration::from_millis(20));
    let new_data = pattern(6 << 20, 99);
    std::fs::write(&src, &new_data).unwrap();
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
    start_then_suspend(&job, 1 << 20);
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
    let waiter = {
        let job = job.clone();
        std::thread::spawn(move || job.wait(None))
    };
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    manager.close();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "close took {:?}",
        started.elapsed()
    );
    let err = waiter.join().unwrap().unwrap_err();
    assert_eq!(err.code.0, QM_E_ABORT);
    assert!(job.bytes_transferred() > 0);
    assert_eq!(job.resume().unwrap_err().code.0, QM_E_HANDLE);
    assert_eq!(manager.create_job("late").unwrap_err().code.0, QM_E_HANDLE);
}

#[test]
fn the_job_bandwidth_limit_shapes_a_local_copy() {
    // Not a timing assertion on speed: a limited copy must not finish far
    // sooner than the limit allows (the bucket holds at most 50 ms of burst).
    let dir = support::scratch("engine-throttle");
    let size = 3 << 20;
    let src = write(&dir, "src", &pattern(size, 6));
    let manager = Manager::open(None).unwrap();
    let job = manager.create_job("throttle").unwrap();
    job.add_files(&[spec(&src, &dir.join("dst"))]).unwrap();
    job.set_max_bandwidth(2 << 20).unwrap();
    let started = Instant::now();
    job.resume().unwrap();
    assert_eq!(wait(&job), JobState::Transferred);
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1400),
        "3 MiB at 2 MiB/s took only {elapsed:?}"
    );
}

#[test]
fn the_manager_limit_binds_background_jobs_but_not_foreground_ones() {
    let dir = support::scratch("engine-manager-limit");
    let size = 2 << 20;
    let src = write(&dir, "src", &pattern(size, 7));
    let manager = Manager::open(None).unwrap();
    manager.set_bandwidth_limit(1 << 20).unwrap();
    let fg = manager.create_job("foreground").unwrap();
    fg.add_files(&[spec(&src, &dir.join("fg"))]).unwrap();
    fg.switch_to_foreground().unwrap();
    let bg = manager.create_job("background").unwrap();
    bg.add_files(&[spec(&src, &dir.join("bg"))]).unwrap();
    let started = Instant::now();
    bg.resume().unwrap();
    fg.resume().unwrap();
    assert_eq!(wait(&fg), JobState::Transferred);
    let fg_time = started.elapsed();
    assert_eq!(wait(&bg), JobState::Transferred);
    let bg_time = started.elapsed();
    assert!(
        bg_time >= Duration::from_millis(1800),
        "2 MiB at 1 MiB/s took only {bg_time:?}"
    );
    assert!(
        fg_time < bg_time,
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
    let started = Instant::now();
    while events.lock().unwrap().len() < 3 && started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(5));
    }
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
    let running = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let (r, f) = (Arc::clone(&running), Arc::clone(&finished));
    let slow: qmgr::NotifyCallback = Arc::new(move |_job, _event| {
        r.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(300));
        f.fetch_add(1, Ordering::SeqCst);
    });
    job.set_notify(Some(slow), NotifyFlags::JOB_TRANSFERRED, 0)
        .unwrap();
    job.resume().unwrap();
    assert_eq!(wait(&job), JobState::Transferred);
    while running.load(Ordering::SeqCst) == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    job.set_notify(None, NotifyFlags::JOB_TRANSFERRED, 0)
        .unwrap();
    assert_eq!(
        finished.load(Ordering::SeqCst),
        1,
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
    start_then_suspend(&good, 1 << 20);
    good.resume().unwrap();
    assert_eq!(wait(&good), JobState::Transferred);

    // A wrong digest fails validation even though the data was resumed.
    let bad = manager.create_job("bad").unwrap();
    bad.add_files(&[spec(&src, &dir.join("bad"))]).unwrap();
    bad.set_file_sha256(0, Some(&"0".repeat(64))).unwrap();
    start_then_suspend(&bad, 1 << 20);
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
    let entered = Arc::new(AtomicUsize::new(0));
    let flag = Arc::clone(&entered);
    let callback: qmgr::NotifyCallback = Arc::new(move |job, _event| {
        flag.store(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(200));
        let _ = job.set_description("changed from a callback");
    });
    job.set_notify(Some(callback), NotifyFlags::JOB_TRANSFERRED, 0)
        .unwrap();
    job.resume().unwrap();
    assert_eq!(wait(&job), JobState::Transferred);
    while entered.load(Ordering::SeqCst) == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let cancelling = job.clone();
    let result = within(Duration::from_secs(10), "cancel", move || {
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
    while job.bytes_transferred() == 0 {
        std::thread::sleep(Duration::from_millis(2));
    }
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
    let src = write(&dir, "src", &pattern(6 << 20, 14));
    let manager = Manager::open(None).unwrap();
    manager.set_bandwidth_limit(1 << 20).unwrap();
    let job = manager.create_job("switch").unwrap();
    job.add_files(&[spec(&src, &dir.join("dst"))]).unwrap();
    let started = Instant::now();
    job.resume().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    job.switch_to_foreground().unwrap();
    assert_eq!(wait(&job), JobState::Transferred);
    // 6 MiB at the 1 MiB/s limit would take 6 s; unthrottled it is instant.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
}
