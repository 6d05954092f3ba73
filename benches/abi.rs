//! Micro-benchmarks of the C ABI, called as Rust functions (the exports of
//! `qmgr::ffi`, a module hidden from the Rust API's documentation, are the
//! very functions C programs link against), and of the Rust API's progress
//! snapshot.
//!
//! `cargo bench -p qmgr-bench --bench abi` measures, with criterion:
//! - `get_progress/idle_1_thread`: `qm_job_get_progress(SIZE_DONE)`
//!   on an idle job;
//! - `get_progress/idle_1_thread_percent`: the same with `PERCENT_DONE`;
//! - `get_progress/transfer_2_threads`: one call, timed on this thread, while
//!   a second thread polls the same job in a tight loop and the job's worker
//!   copies a local file;
//! - `get_progress/struct_idle_1_thread`: `qm_job_get_progress_ex`, the whole
//!   coherent snapshot (bytes and files, total and done, the rate, the ETA)
//!   into a `qm_job_progress`, on an idle job;
//! - `get_progress/snapshot_idle` and `get_progress/snapshot_transfer_2_threads`:
//!   the same snapshot through the Rust API (`Job::progress`), idle, and
//!   while a second thread polls it and the job copies a local file;
//! - `connected/get_progress_idle_1_thread`: `qm_job_get_progress(SIZE_DONE)`
//!   on a job of a manager connected to a `qmgrd` (`qm_manager_connect`),
//!   whose copy in the process is fresh (the job's notification interval
//!   is long): what a poller pays between two refreshes;
//! - `connected/round_trip`: one call that crosses the socket
//!   (`qm_job_set_description`), what a refresh of that copy, or any call
//!   that changes a job, costs; the `connected` cases need a `qmgrd`:
//!   `$QMGR_BENCH_QMGRD`, else the one built beside the benchmark
//!   (`cargo build --release -p qmgrd`), else they are skipped with a note;
//! - `job/create_add_file_cancel_close`: one job's whole short life;
//! - `enum_jobs_10000/count` and `enum_jobs_10000/list_and_close`:
//!   `qm_manager_enum_jobs` on a manager holding 10,000 jobs.
//!
//! Then, outside criterion, `transfer_with_poller`: a 512 MiB local copy
//! (real data, not a sparse file) timed alone, with a thread polling its job
//! in a tight loop, and with a thread spinning without calling qmgr (the
//! control: what any busy thread costs on this machine), alternating, median
//! of 15 each. It prints one line and, when `QMGR_BENCH_REPORT` names a file,
//! writes its figures there as JSON (bench/run.sh reads it).
//!
//! Scratch files go to `QMGR_BENCH_DIR`, else `/dev/shm` (so the figures do
//! not depend on the disk), else the temporary directory; they are deleted
//! at the end. At most about 1.1 GiB is used at once.

use std::ffi::CString;
use std::fs::File;
use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion};
use qmgr::ffi::files::qm_job_add_file;
use qmgr::ffi::lifecycle::{
    qm_job_cancel, qm_job_close, qm_job_create, qm_job_get_progress, qm_job_get_progress_ex,
    qm_job_resume, qm_job_set_description, qm_job_wait,
};
use qmgr::ffi::manager::{
    qm_manager_close, qm_manager_connect, qm_manager_enum_jobs, qm_manager_open,
};
use qmgr::ffi::notify::qm_job_set_min_notification_interval;
use qmgr::ffi::{
    qm_job_progress, qm_job_t, qm_manager_t, QM_JOB_STATE_TRANSFERRED, QM_PROGRESS_PERCENT_DONE,
    QM_PROGRESS_SIZE_DONE,
};
use qmgr::{FileSpec, Job, Manager};

/// Size of the sparse source behind the transfer that runs during
/// `get_progress/transfer_2_threads`.
const SPARSE_SOURCE: u64 = 1 << 30;
/// Size of the real-data source of `transfer_with_poller`.
const DENSE_SOURCE: usize = 512 << 20;
/// Runs of each variant of `transfer_with_poller`.
const IMPACT_RUNS: usize = 15;
/// Jobs in the manager of `enum_jobs_10000`.
const ENUM_JOBS: usize = 10_000;

fn check(hr: i32, what: &str) {
    assert!(hr >= 0, "{what} failed: {hr:#010x}");
}

fn cstr(s: &str) -> CString {
    CString::new(s).expect("no NUL in benchmark strings")
}

fn open_manager() -> qm_manager_t {
    let mut mgr = 0;
    // SAFETY: NULL state directory (in memory), valid out-pointer.
    check(
        unsafe { qm_manager_open(std::ptr::null(), &mut mgr) },
        "qm_manager_open",
    );
    mgr
}

fn create_job(mgr: qm_manager_t, name: &str) -> qm_job_t {
    let name = cstr(name);
    let mut job = 0;
    // SAFETY: valid C string and out-pointer.
    check(
        unsafe { qm_job_create(mgr, name.as_ptr(), &mut job) },
        "qm_job_create",
    );
    job
}

fn add_file(job: qm_job_t, remote: &Path, local: &Path) {
    let remote = cstr(&remote.to_string_lossy());
    let local = cstr(&local.to_string_lossy());
    // SAFETY: valid C strings.
    check(
        unsafe { qm_job_add_file(job, remote.as_ptr(), local.as_ptr()) },
        "qm_job_add_file",
    );
}

/// One `qm_job_get_progress(SIZE_DONE)` call, as a C caller makes it.
#[inline(always)]
fn poll(job: qm_job_t) -> u64 {
    let mut out = 0u64;
    // SAFETY: valid out-pointer.
    let hr = unsafe { qm_job_get_progress(black_box(job), QM_PROGRESS_SIZE_DONE, &mut out) };
    debug_assert_eq!(hr, 0);
    black_box(hr);
    out
}

/// One whole progress snapshot through the Rust API.
#[inline(always)]
fn snapshot(job: &Job) -> u64 {
    let p = black_box(job).progress();
    black_box(p);
    p.bytes_transferred
}

/// Where scratch files go: a fresh directory, removed by `Drop`.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let base = std::env::var_os("QMGR_BENCH_DIR")
            .map(PathBuf::from)
            .or_else(|| {
                let shm = PathBuf::from("/dev/shm");
                shm.is_dir().then_some(shm)
            })
            .unwrap_or_else(std::env::temp_dir);
        let dir = base.join(format!("qmgr-abi-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the scratch directory");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The job of a running transfer, seen through the C ABI or the Rust API.
#[derive(Clone)]
enum Target {
    C(qm_job_t),
    Rust(Job),
}

impl Target {
    fn add_file(&self, remote: &Path, local: &Path) {
        match self {
            Target::C(job) => add_file(*job, remote, local),
            Target::Rust(job) => job
                .add_files(&[FileSpec::new(
                    remote.to_string_lossy(),
                    local.to_string_lossy(),
                )])
                .expect("add a file"),
        }
    }

    fn transferred(&self) -> u64 {
        match self {
            Target::C(job) => poll(*job),
            Target::Rust(job) => job.bytes_transferred(),
        }
    }
}

/// The manager of a running transfer.
enum Owner {
    C(qm_manager_t),
    Rust(Manager),
}

/// A job that keeps transferring: a feeder thread keeps at least two files
/// (copies of a sparse 1 GiB source, whose copies stay sparse too) queued.
struct RunningTransfer {
    owner: Owner,
    target: Target,
    stop: Arc<AtomicBool>,
    feeder: Option<thread::JoinHandle<()>>,
}

impl RunningTransfer {
    /// Through the C ABI (`rust` false) or the Rust API.
    fn start(dir: &Path, rust: bool) -> RunningTransfer {
        let source = dir.join("sparse-source.bin");
        File::create(&source)
            .and_then(|f| f.set_len(SPARSE_SOURCE))
            .expect("create the sparse source");
        let (owner, target) = if rust {
            let manager = Manager::open(None).expect("open a manager");
            let job = manager.create_job("running transfer").expect("create");
            (Owner::Rust(manager), Target::Rust(job))
        } else {
            let mgr = open_manager();
            (
                Owner::C(mgr),
                Target::C(create_job(mgr, "running transfer")),
            )
        };
        for i in 0..2 {
            target.add_file(&source, &dir.join(format!("sparse-copy-{i}.bin")));
        }
        match &target {
            Target::C(job) => check(qm_job_resume(*job), "qm_job_resume"),
            Target::Rust(job) => job.resume().expect("resume"),
        }
        let stop = Arc::new(AtomicBool::new(false));
        let feeder = {
            let stop = Arc::clone(&stop);
            let dir = dir.to_path_buf();
            let target = target.clone();
            thread::spawn(move || {
                let mut next = 2u64;
                while !stop.load(Ordering::Relaxed) {
                    // Every file is SPARSE_SOURCE bytes long.
                    let done = target.transferred() / SPARSE_SOURCE;
                    if next - done < 2 {
                        target.add_file(&source, &dir.join(format!("sparse-copy-{next}.bin")));
                        next += 1;
                    }
                    thread::sleep(Duration::from_millis(5));
                }
            })
        };
        // Wait until bytes flow.
        let t0 = Instant::now();
        while target.transferred() == 0 {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "the transfer did not start"
            );
            thread::sleep(Duration::from_millis(1));
        }
        RunningTransfer {
            owner,
            target,
            stop,
            feeder: Some(feeder),
        }
    }

    fn transferred(&self) -> u64 {
        self.target.transferred()
    }
}

impl Drop for RunningTransfer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(f) = self.feeder.take() {
            let _ = f.join();
        }
        match (&self.target, &self.owner) {
            (Target::C(job), Owner::C(mgr)) => {
                qm_job_cancel(*job);
                qm_job_close(*job);
                qm_manager_close(*mgr);
            }
            (Target::Rust(job), Owner::Rust(manager)) => {
                let _ = job.cancel();
                manager.close();
            }
            _ => unreachable!("a job of the other API"),
        }
    }
}

/// A thread polling one job in a tight loop until dropped.
struct Poller {
    stop: Arc<AtomicBool>,
    calls: Arc<AtomicU64>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Poller {
    fn start(target: Target) -> Poller {
        match target {
            Target::C(job) => Poller::spawn(move || black_box(poll(job))),
            Target::Rust(job) => Poller::spawn(move || snapshot(&job)),
        }
    }

    /// The control: a thread as busy as a poller that never touches qmgr,
    /// so what it costs a transfer is the price of a busy core, not of qmgr.
    fn spinner() -> Poller {
        let mut x = 1u64;
        Poller::spawn(move || {
            x = black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            x
        })
    }

    fn spawn(mut work: impl FnMut() -> u64 + Send + 'static) -> Poller {
        let stop = Arc::new(AtomicBool::new(false));
        let calls = Arc::new(AtomicU64::new(0));
        let thread = {
            let stop = Arc::clone(&stop);
            let calls = Arc::clone(&calls);
            thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..64 {
                        black_box(work());
                    }
                    n += 64;
                }
                calls.store(n, Ordering::Relaxed);
            })
        };
        Poller {
            stop,
            calls,
            thread: Some(thread),
        }
    }

    /// Stops the thread; returns how many calls it made.
    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.calls.load(Ordering::Relaxed)
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn bench_get_progress(c: &mut Criterion, scratch: &Scratch) {
    let mut group = c.benchmark_group("get_progress");
    group.measurement_time(Duration::from_secs(4));

    let mgr = open_manager();
    let job = create_job(mgr, "idle");
    add_file(
        job,
        Path::new("/nonexistent/source"),
        &scratch.0.join("idle.bin"),
    );
    group.bench_function("idle_1_thread", |b| b.iter(|| poll(job)));
    group.bench_function("idle_1_thread_percent", |b| {
        b.iter(|| {
            let mut out = 0u64;
            // SAFETY: valid out-pointer.
            let hr =
                unsafe { qm_job_get_progress(black_box(job), QM_PROGRESS_PERCENT_DONE, &mut out) };
            black_box((hr, out))
        })
    });
    group.bench_function("struct_idle_1_thread", |b| {
        b.iter(|| {
            let mut out = qm_job_progress {
                struct_size: std::mem::size_of::<qm_job_progress>() as u32,
                ..qm_job_progress::default()
            };
            // SAFETY: valid out-pointer, its size in `struct_size`.
            let hr = unsafe { qm_job_get_progress_ex(black_box(job), &mut out) };
            // As a C caller: the struct stays where it was filled (a copy
            // of it would time the copy).
            black_box(&out);
            hr
        })
    });
    qm_job_cancel(job);
    qm_job_close(job);
    qm_manager_close(mgr);

    let manager = Manager::open(None).expect("open a manager");
    let job = manager.create_job("idle").expect("create");
    job.add_files(&[FileSpec::new(
        "/nonexistent/source",
        scratch.0.join("idle.bin").to_string_lossy(),
    )])
    .expect("add a file");
    group.bench_function("snapshot_idle", |b| b.iter(|| snapshot(&job)));
    let _ = job.cancel();
    manager.close();

    for (rust, name) in [
        (false, "transfer_2_threads"),
        (true, "snapshot_transfer_2_threads"),
    ] {
        let transfer = RunningTransfer::start(&scratch.0, rust);
        let poller = Poller::start(transfer.target.clone());
        let before = transfer.transferred();
        let t0 = Instant::now();
        match &transfer.target {
            Target::C(job) => group.bench_function(name, |b| b.iter(|| poll(*job))),
            Target::Rust(job) => group.bench_function(name, |b| b.iter(|| snapshot(job))),
        };
        let elapsed = t0.elapsed();
        let other_calls = poller.finish();
        let moved = transfer.transferred() - before;
        eprintln!(
            "{name}: the transfer moved {:.0} MiB/s meanwhile; the other thread made {:.1} M calls/s",
            moved as f64 / 1048576.0 / elapsed.as_secs_f64(),
            other_calls as f64 / 1e6 / elapsed.as_secs_f64()
        );
        drop(transfer);
    }
    group.finish();
}

/// A `qmgrd` on a socket in the scratch directory, killed when dropped.
struct Daemon {
    child: std::process::Child,
    address: String,
}

impl Daemon {
    /// `$QMGR_BENCH_QMGRD`, else `qmgrd` beside the benchmark's directory
    /// (`target/release/qmgrd`); `None` (with a note) without one.
    fn start(scratch: &Scratch) -> Option<Daemon> {
        let beside = std::env::current_exe()
            .ok()
            .and_then(|exe| Some(exe.parent()?.parent()?.join("qmgrd")));
        let Some(bin) = std::env::var_os("QMGR_BENCH_QMGRD")
            .map(PathBuf::from)
            .or(beside)
            .filter(|b| b.is_file())
        else {
            eprintln!(
                "note: no qmgrd (set QMGR_BENCH_QMGRD, or cargo build --release -p qmgrd): \
                 the connected cases are skipped"
            );
            return None;
        };
        let dir = scratch.0.join("qmgrd");
        let socket = dir.join("sock");
        let child = std::process::Command::new(&bin)
            .arg("--system")
            .arg("--socket")
            .arg(&socket)
            .arg("--state")
            .arg(dir.join("state"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start qmgrd");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            assert!(Instant::now() < deadline, "qmgrd did not start");
            thread::sleep(Duration::from_millis(5));
        }
        Some(Daemon {
            child,
            address: format!("unix:{}", socket.display()),
        })
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bench_connected(c: &mut Criterion, scratch: &Scratch) {
    let Some(daemon) = Daemon::start(scratch) else {
        return;
    };
    let mut group = c.benchmark_group("connected");
    group.measurement_time(Duration::from_secs(4));
    let address = cstr(&daemon.address);
    let mut mgr = 0;
    // SAFETY: valid C string and out-pointer.
    check(
        unsafe { qm_manager_connect(address.as_ptr(), &mut mgr) },
        "qm_manager_connect",
    );
    let job = create_job(mgr, "idle");
    add_file(
        job,
        Path::new("/nonexistent/source"),
        &scratch.0.join("connected.bin"),
    );
    // The copy in the process stays fresh for a minute: every call below
    // reads it (the first one refreshes it after the change above).
    check(
        qm_job_set_min_notification_interval(job, 60_000),
        "set_min_notification_interval",
    );
    poll(job);
    group.bench_function("get_progress_idle_1_thread", |b| b.iter(|| poll(job)));
    let text = cstr("measured");
    group.bench_function("round_trip", |b| {
        // SAFETY: a valid C string.
        b.iter(|| check(unsafe { qm_job_set_description(job, text.as_ptr()) }, "set"))
    });
    check(qm_job_cancel(job), "cancel");
    qm_job_close(job);
    qm_manager_close(mgr);
    group.finish();
    drop(daemon);
}

fn bench_job_lifecycle(c: &mut Criterion, scratch: &Scratch) {
    let mut group = c.benchmark_group("job");
    group.measurement_time(Duration::from_secs(4));
    let mgr = open_manager();
    let name = cstr("lifecycle");
    let remote = cstr("/srv/data/firmware.bin");
    let local = cstr(&scratch.0.join("firmware.bin").to_string_lossy());
    group.bench_function("create_add_file_cancel_close", |b| {
        b.iter(|| {
            let mut job = 0;
            // SAFETY: valid C strings and out-pointer.
            unsafe {
                check(qm_job_create(mgr, name.as_ptr(), &mut job), "create");
                check(
                    qm_job_add_file(job, remote.as_ptr(), local.as_ptr()),
                    "add_file",
                );
            }
            check(qm_job_cancel(job), "cancel");
            check(qm_job_close(job), "close");
        })
    });
    qm_manager_close(mgr);
    group.finish();
}

fn bench_enum_jobs(c: &mut Criterion) {
    let mut group = c.benchmark_group("enum_jobs_10000");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(5));
    let mgr = open_manager();
    for i in 0..ENUM_JOBS {
        let job = create_job(mgr, &format!("job {i}"));
        qm_job_close(job);
    }
    let mut count = 0usize;
    // SAFETY: cap 0 with a NULL buffer asks for the count.
    check(
        unsafe { qm_manager_enum_jobs(mgr, std::ptr::null_mut(), 0, &mut count) },
        "enum_jobs count",
    );
    assert_eq!(count, ENUM_JOBS);
    group.bench_function("count", |b| {
        b.iter(|| {
            let mut n = 0usize;
            // SAFETY: as above.
            unsafe { qm_manager_enum_jobs(black_box(mgr), std::ptr::null_mut(), 0, &mut n) };
            n
        })
    });
    group.bench_function("list_and_close", |b| {
        b.iter_batched_ref(
            || vec![0 as qm_job_t; ENUM_JOBS],
            |handles| {
                let mut n = 0usize;
                // SAFETY: the buffer holds `handles.len()` handles.
                check(
                    unsafe {
                        qm_manager_enum_jobs(mgr, handles.as_mut_ptr(), handles.len(), &mut n)
                    },
                    "enum_jobs",
                );
                for &h in &handles[..n] {
                    qm_job_close(h);
                }
            },
            BatchSize::SmallInput,
        )
    });
    qm_manager_close(mgr);
    group.finish();
}

/// Fills `path` with `len` bytes of cheap pseudo-random data (no zero
/// blocks, which the worker would write as holes).
fn write_dense(path: &Path, len: usize) {
    let mut f = std::io::BufWriter::with_capacity(1 << 20, File::create(path).expect("create"));
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut block = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        for word in block.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            word.copy_from_slice(&x.to_le_bytes());
        }
        let n = left.min(block.len());
        f.write_all(&block[..n]).expect("write");
        left -= n;
    }
    f.flush().expect("flush");
}

/// What runs beside a timed copy.
#[derive(Clone, Copy, PartialEq)]
enum Beside {
    Nothing,
    Poller,
    Spinner,
}

/// Copies `source` through one job and returns the time from resume to TRANSFERRED.
fn timed_copy(mgr: qm_manager_t, source: &Path, dest: &Path, beside: Beside) -> Duration {
    let job = create_job(mgr, "copy");
    add_file(job, source, dest);
    let poller = match beside {
        Beside::Nothing => None,
        Beside::Poller => Some(Poller::start(Target::C(job))),
        Beside::Spinner => Some(Poller::spinner()),
    };
    let t0 = Instant::now();
    check(qm_job_resume(job), "qm_job_resume");
    let mut state = 0u32;
    // SAFETY: valid out-pointer.
    check(
        unsafe { qm_job_wait(job, u32::MAX, &mut state) },
        "qm_job_wait",
    );
    let elapsed = t0.elapsed();
    if let Some(p) = poller {
        p.finish();
    }
    assert_eq!(state, QM_JOB_STATE_TRANSFERRED, "the copy failed");
    assert_eq!(poll(job), DENSE_SOURCE as u64);
    // Cancel deletes the temporary file: nothing lands, nothing piles up.
    check(qm_job_cancel(job), "qm_job_cancel");
    check(qm_job_close(job), "qm_job_close");
    elapsed
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// A 512 MiB local copy alone, with a second thread polling its job, and
/// with a second thread merely spinning (the control), alternating.
fn transfer_with_poller(scratch: &Scratch) {
    let source = scratch.0.join("dense-source.bin");
    write_dense(&source, DENSE_SOURCE);
    let dest = scratch.0.join("dense-copy.bin");
    let mgr = open_manager();
    let kinds = [Beside::Nothing, Beside::Poller, Beside::Spinner];
    for &kind in &kinds {
        timed_copy(mgr, &source, &dest, kind); // warm-up
    }
    let mut seconds: [Vec<f64>; 3] = Default::default();
    for run in 0..IMPACT_RUNS {
        for i in 0..kinds.len() {
            let k = (run + i) % kinds.len();
            seconds[k].push(timed_copy(mgr, &source, &dest, kinds[k]).as_secs_f64());
        }
    }
    qm_manager_close(mgr);
    let _ = std::fs::remove_file(&source);
    let mib = DENSE_SOURCE as f64 / 1048576.0;
    let [alone, polled, spun] = seconds.map(|mut v| median(&mut v));
    let rate = |t: f64| mib / t;
    let loss = (1.0 - rate(polled) / rate(alone)) * 100.0;
    let loss_spinner = (1.0 - rate(spun) / rate(alone)) * 100.0;
    let loss_vs_spinner = (1.0 - rate(polled) / rate(spun)) * 100.0;
    println!(
        "transfer_with_poller: {mib:.0} MiB local copy, median of {IMPACT_RUNS}: \
         {:.0} MiB/s alone, {:.0} MiB/s with a thread polling qm_job_get_progress \
         in a tight loop ({loss:+.1}% lost), {:.0} MiB/s with a thread spinning \
         without qmgr ({loss_spinner:+.1}% lost); polling vs spinning: {loss_vs_spinner:+.1}%",
        rate(alone),
        rate(polled),
        rate(spun)
    );
    if let Some(path) = std::env::var_os("QMGR_BENCH_REPORT") {
        let json = format!(
            "{{\"mib\": {mib}, \"runs\": {IMPACT_RUNS}, \"seconds_alone\": {alone}, \
             \"seconds_polled\": {polled}, \"seconds_spinner\": {spun}, \
             \"mib_s_alone\": {}, \"mib_s_polled\": {}, \"mib_s_spinner\": {}, \
             \"loss_percent\": {loss}, \"loss_spinner_percent\": {loss_spinner}, \
             \"loss_vs_spinner_percent\": {loss_vs_spinner}, \"dir\": \"{}\"}}\n",
            rate(alone),
            rate(polled),
            rate(spun),
            scratch.0.parent().unwrap_or(Path::new("")).display()
        );
        std::fs::write(path, json).expect("write QMGR_BENCH_REPORT");
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo bench` passes --bench; `cargo test -p qmgr-bench --benches` does not, and
    // then criterion runs each benchmark once: skip the long copy test.
    let benching = args.iter().any(|a| a == "--bench");
    // The filter is the one positional argument (criterion's options that
    // take a value are followed by it).
    const WITH_VALUE: &[&str] = &[
        "--warm-up-time",
        "--measurement-time",
        "--sample-size",
        "--save-baseline",
        "-s",
        "--baseline",
        "-b",
        "--baseline-lenient",
        "--load-baseline",
        "--profile-time",
        "--output-format",
        "--color",
        "-c",
        "--plotting-backend",
        "--noise-threshold",
        "--confidence-level",
        "--significance-level",
        "--nresamples",
        "--format",
    ];
    let filter = args
        .iter()
        .enumerate()
        .skip(1)
        .find(|(i, a)| !a.starts_with('-') && !WITH_VALUE.contains(&args[i - 1].as_str()))
        .map(|(_, a)| a.clone())
        .unwrap_or_default();
    let scratch = Scratch::new();
    let mut c = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .configure_from_args();
    let wants = |id: &str| id.contains(filter.as_str());
    if [
        "get_progress/idle_1_thread_percent",
        "get_progress/transfer_2_threads",
        "get_progress/struct_idle_1_thread",
        "get_progress/snapshot_idle",
        "get_progress/snapshot_transfer_2_threads",
    ]
    .into_iter()
    .any(wants)
    {
        bench_get_progress(&mut c, &scratch);
    }
    if wants("connected/get_progress_idle_1_thread") || wants("connected/round_trip") {
        bench_connected(&mut c, &scratch);
    }
    if wants("job/create_add_file_cancel_close") {
        bench_job_lifecycle(&mut c, &scratch);
    }
    if wants("enum_jobs_10000/list_and_close") || wants("enum_jobs_10000/count") {
        bench_enum_jobs(&mut c);
    }
    c.final_summary();
    if benching && "transfer_with_poller".contains(filter.as_str()) {
        transfer_with_poller(&scratch);
    }
}
