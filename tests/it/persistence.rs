//! The state directory: jobs survive close, SIGKILL and lost page cache,
//! byte-exact; a second opener is refused; older schemas open.
//!
//! The other processes are `ctests/state_child.c`, a C program on the
//! library's C API that the crash tests kill with SIGKILL.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use qmgr::hresult::*;
use qmgr::{
    FileRange, FileSpec, Job, JobId, JobState, Manager, NotifyCmdLine, Priority, LENGTH_TO_EOF,
};
use support::http_server::{patterned, Resource, TestServer};
use support::{temp_files, wait, wait_until};

/// Opens, starts a throttled download on one connection (one durable
/// prefix, one resume request), and closes once `at_least` bytes have
/// arrived (close makes them durable).
fn start_and_close(state: &Path, url: &str, dst: &Path, rate: u64, at_least: u64) -> JobId {
    let manager = Manager::open(Some(state)).unwrap();
    let job = manager.create_job("persisted").unwrap();
    job.add_files(&[FileSpec::new(url, dst.to_str().unwrap())])
        .unwrap();
    job.set_max_bandwidth(rate).unwrap();
    job.set_max_connections(1).unwrap();
    job.set_min_retry_delay(1).unwrap();
    job.resume().unwrap();
    wait_until(
        &format!("{at_least} bytes before the close"),
        Duration::from_secs(30),
        || job.bytes_transferred() >= at_least,
    );
    let id = job.id();
    manager.close();
    id
}

#[test]
fn a_job_carries_on_after_close_and_reopen_with_all_its_settings() {
    let dir = support::scratch("persist-reopen");
    let state = dir.join("state");
    let server = TestServer::start();
    let data = patterned(6 << 20, 1);
    server.add("/fw", Resource::new(data.clone()));
    let dst = dir.join("fw.bin");

    let manager = Manager::open(Some(&state)).unwrap();
    let job = manager.create_job("firmware 2.1").unwrap();
    job.add_files(&[FileSpec::new(server.url("/fw"), dst.to_str().unwrap())])
        .unwrap();
    job.set_description("nightly").unwrap();
    job.set_priority(Priority::High).unwrap();
    job.set_min_retry_delay(7).unwrap();
    job.set_custom_headers(Some("X-Fleet: 9\r\n")).unwrap();
    job.set_max_bandwidth(2 << 20).unwrap();
    // One connection, so that the resume is one request at one offset.
    job.set_max_connections(1).unwrap();
    job.set_max_download_time(3600).unwrap();
    job.resume().unwrap();
    wait_until("512 KiB before the close", Duration::from_secs(30), || {
        job.bytes_transferred() >= 512 << 10
    });
    let id = job.id();
    manager.close();
    // Read after the close (the job stays readable): every byte counted
    // by then; bytes that arrived between a read before it and the close
    // would make a resume offset read earlier look wrong.
    let before = job.bytes_transferred();
    assert!(before >= 512 << 10);
    assert_eq!(
        temp_files(&dir).len(),
        1,
        "a persistent manager keeps its partial file on close"
    );

    let manager = Manager::open(Some(&state)).unwrap();
    let job = manager.job(&id).unwrap();
    assert_eq!(job.display_name(), "firmware 2.1");
    assert_eq!(job.description(), "nightly");
    assert_eq!(job.priority(), Priority::High);
    assert_eq!(job.min_retry_delay(), 7);
    assert_eq!(job.custom_headers().as_deref(), Some("X-Fleet: 9\r\n"));
    assert_eq!(job.max_bandwidth(), 2 << 20);
    assert_eq!(job.max_connections(), 1);
    assert_eq!(job.max_download_time(), 3600);
    assert_eq!(job.file_remote_name(0).unwrap(), server.url("/fw"));
    assert_eq!(manager.jobs().unwrap().len(), 1);
    // It carries on by itself, from its durable bytes (checkpointed on close).
    job.set_max_bandwidth(0).unwrap();
    assert_eq!(wait(&job, Duration::from_secs(60)), JobState::Transferred);
    let requests = server.requests("/fw");
    let resumed_at = requests
        .last()
        .unwrap()
        .range
        .clone()
        .expect("the reopened job resumed with a range");
    assert_eq!(
        resumed_at,
        format!("bytes={before}-"),
        "it resumed exactly where close left it"
    );
    assert_eq!(requests.last().unwrap().header("x-fleet"), Some("9"));
    job.complete().unwrap();
    assert!(std::fs::read(&dst).unwrap() == data);
    manager.close();

    // Final jobs leave the database.
    let manager = Manager::open(Some(&state)).unwrap();
    assert!(manager.jobs().unwrap().is_empty());
    assert_eq!(manager.job(&id).unwrap_err().code.0, QM_BG_E_NOT_FOUND);
}

#[test]
fn suspended_and_failed_jobs_stay_as_they_were() {
    let dir = support::scratch("persist-states");
    let state = dir.join("state");
    let server = TestServer::start();
    let manager = Manager::open(Some(&state)).unwrap();
    let suspended = manager.create_job("suspended").unwrap();
    suspended
        .add_files(&[FileSpec::new(
            server.url("/a"),
            dir.join("a").to_str().unwrap(),
        )])
        .unwrap();
    let failed = manager.create_job("failed").unwrap();
    failed
        .add_files(&[FileSpec::new(
            server.url("/missing"),
            dir.join("b").to_str().unwrap(),
        )])
        .unwrap();
    failed.resume().unwrap();
    assert_eq!(wait(&failed, Duration::from_secs(30)), JobState::Error);
    let (sid, fid) = (suspended.id(), failed.id());
    manager.close();

    let manager = Manager::open(Some(&state)).unwrap();
    assert_eq!(manager.job(&sid).unwrap().state(), JobState::Suspended);
    let failed = manager.job(&fid).unwrap();
    assert_eq!(failed.state(), JobState::Error);
    let err = failed.error().unwrap();
    assert_eq!(err.code, qmgr::HResult::from_http_status(404));
    assert_eq!(err.http_status, 404);
    // Newest first, as before.
    let ids: Vec<JobId> = manager.jobs().unwrap().iter().map(Job::id).collect();
    assert_eq!(ids, vec![fid, sid]);
}

#[test]
fn a_second_opener_is_refused_and_the_first_is_unharmed() {
    let dir = support::scratch("persist-lock");
    let state = dir.join("state");
    let server = TestServer::start();
    let data = patterned(3 << 20, 2);
    server.add("/x", Resource::new(data.clone()));
    let first = Manager::open(Some(&state)).unwrap();
    let job = first.create_job("x").unwrap();
    job.add_files(&[FileSpec::new(
        server.url("/x"),
        dir.join("x").to_str().unwrap(),
    )])
    .unwrap();
    job.set_max_bandwidth(3 << 20).unwrap();
    job.resume().unwrap();

    // In this process...
    assert_eq!(
        Manager::open(Some(&state)).unwrap_err().code.0,
        QM_E_SHARING_VIOLATION
    );
    // ...and in another one.
    let out = child(&["open-only", state.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("child-open-result {QM_E_SHARING_VIOLATION}")),
        "{text}"
    );

    assert_eq!(wait(&job, Duration::from_secs(30)), JobState::Transferred);
    job.complete().unwrap();
    assert!(std::fs::read(dir.join("x")).unwrap() == data);
}

#[test]
fn garbage_past_the_durable_length_is_cut_back() {
    let dir = support::scratch("persist-garbage");
    let state = dir.join("state");
    let server = TestServer::start();
    let data = patterned(8 << 20, 3);
    server.add("/g", Resource::new(data.clone()));
    let dst = dir.join("g");
    let id = start_and_close(&state, &server.url("/g"), &dst, 2 << 20, 1 << 20);
    // A power loss may leave bytes past the recorded length that are not the
    // file's: simulate it by appending garbage to the partial file.
    let part = temp_files(&dir).pop().expect("a partial file");
    let durable = std::fs::metadata(&part).unwrap().len();
    assert!(durable > 0);
    let asked_before = server.requests("/g").len();
    let mut bytes = std::fs::read(&part).unwrap();
    bytes.extend(std::iter::repeat_n(0xEEu8, 1 << 20));
    std::fs::write(&part, &bytes).unwrap();

    let manager = Manager::open(Some(&state)).unwrap();
    let job = manager.job(&id).unwrap();
    job.set_max_bandwidth(0).unwrap();
    assert_eq!(wait(&job, Duration::from_secs(60)), JobState::Transferred);
    job.complete().unwrap();
    assert!(
        std::fs::read(&dst).unwrap() == data,
        "garbage past the durable length survived"
    );
    // The resume asks for the bytes from the durable length on, never
    // from past the garbage.
    let size = data.len() as u64;
    let first_asked = server.requests("/g")[asked_before..]
        .iter()
        .map(|r| requested(r.range.as_deref(), size).0)
        .min()
        .expect("the reopened job asked for the rest");
    assert_eq!(first_asked, durable);
}

#[test]
fn a_remote_file_changed_while_down_restarts_from_zero() {
    let dir = support::scratch("persist-changed");
    let state = dir.join("state");
    let server = TestServer::start();
    server.add("/c", Resource::new(patterned(6 << 20, 4)));
    let dst = dir.join("c");
    let id = start_and_close(&state, &server.url("/c"), &dst, 2 << 20, 512 << 10);
    let new = patterned(5 << 20, 5);
    server.add("/c", Resource::new(new.clone()));

    let manager = Manager::open(Some(&state)).unwrap();
    let job = manager.job(&id).unwrap();
    job.set_max_bandwidth(0).unwrap();
    assert_eq!(wait(&job, Duration::from_secs(60)), JobState::Transferred);
    job.complete().unwrap();
    assert!(
        std::fs::read(&dst).unwrap() == new,
        "bytes of the old version survived"
    );
    assert!(server.requests("/c").last().unwrap().if_range.is_some());
}

#[test]
fn a_partial_file_that_already_holds_every_byte_is_kept_without_a_request() {
    // A crash between a file's last durable byte and the record that the
    // file is complete: on restart the partial file holds the whole length.
    // Nothing is missing, so nothing is asked of the server (it may not
    // even be reachable after the reboot): the file is checked, synced and
    // counts as transferred as it is.
    let dir = support::scratch("persist-416");
    let state = dir.join("state");
    let server = TestServer::start();
    let data = patterned(3 << 20, 6);
    server.add("/w", Resource::new(data.clone()));
    let dst = dir.join("w");
    let id = {
        let manager = Manager::open(Some(&state)).unwrap();
        let job = manager.create_job("whole").unwrap();
        job.add_files(&[FileSpec::new(server.url("/w"), dst.to_str().unwrap())])
            .unwrap();
        // One connection: a segment split off would drop the first
        // response's tail, and the byte count below would not be exact.
        job.set_max_connections(1).unwrap();
        job.resume().unwrap();
        assert_eq!(wait(&job, Duration::from_secs(60)), JobState::Transferred);
        job.id()
    };
    // Put the directory back in the state of that crash: the file not yet
    // marked complete and the job still transferring.
    let db = rusqlite::Connection::open(state.join("qmgr.db")).unwrap();
    let changed = db
        .execute(
            "UPDATE files SET completed = 0 WHERE durable_ranges = ?1",
            [format!("0-{}", data.len())],
        )
        .unwrap();
    assert_eq!(
        changed, 1,
        "the file's whole length was not recorded as durable"
    );
    db.execute(
        "UPDATE jobs SET state = ?1, completed_ms = NULL",
        [JobState::Transferring as i64],
    )
    .unwrap();
    drop(db);
    let sent_before = server.body_bytes_sent("/w");
    assert_eq!(sent_before, data.len() as u64);

    let manager = Manager::open(Some(&state)).unwrap();
    let job = manager.job(&id).unwrap();
    assert_eq!(wait(&job, Duration::from_secs(60)), JobState::Transferred);
    assert_eq!(
        server.requests("/w").len(),
        1,
        "the file was asked for again"
    );
    assert_eq!(
        server.body_bytes_sent("/w"),
        sent_before,
        "bytes were fetched again"
    );
    job.complete().unwrap();
    assert!(std::fs::read(&dst).unwrap() == data);
}

#[test]
fn a_directory_of_an_earlier_schema_version_opens() {
    let dir = support::scratch("persist-schema");
    let state = dir.join("state");
    qmgr::state_schema::create_at_version(&state, 1).unwrap();
    // A job as schema 1 stored it (no HTTP options column yet).
    let db = rusqlite::Connection::open(state.join("qmgr.db")).unwrap();
    db.execute_batch(
        "INSERT INTO jobs (id, created_order, display_name, description, state, priority, retry_delay,
            no_progress_timeout, notify_flags, max_bandwidth, num_retries, queue_seq, created_ms, modified_ms)
         VALUES (x'00112233445566778899aabbccddeeff', 1, 'old job', '', 3, 1, 600, 1209600, 3, 0, 0, 1,
            1700000000000, 1700000000000);
         INSERT INTO files (job_id, idx, remote, local, size_hint)
         VALUES (x'00112233445566778899aabbccddeeff', 0, 'http://127.0.0.1:9/x', '/tmp/qmgr-old-x', 0);",
    )
    .unwrap();
    drop(db);
    let manager = Manager::open(Some(&state)).unwrap();
    let id: JobId = "00112233-4455-6677-8899-aabbccddeeff".parse().unwrap();
    let job = manager.job(&id).unwrap();
    assert_eq!(job.display_name(), "old job");
    assert_eq!(job.state(), JobState::Suspended);
    assert_eq!(job.priority(), Priority::High);
    assert_eq!(job.file_count(), 1);
    assert_eq!(job.proxy(), qmgr::ProxySetting::FromEnvironment);
    // Before schema 7 there were no owners: the jobs are the opener's.
    assert_eq!(job.owner(), qmgr::Owner::current());
    // Before schema 8 there was no yielding: the jobs yield, as new ones do.
    assert!(job.yielding());
    // Before schema 10 there were no job types: the jobs are downloads.
    assert_eq!(job.job_type(), qmgr::JobType::Download);
}

/// `tests/fixtures/state-0.1/qmgr.db` was written by qmgr 0.1 (schema 2,
/// one durable offset per file): a 3 MiB download of `patterned(3 MiB, 7)`
/// from the fault server, suspended with a prefix durable. A 0.2 manager
/// migrates it to byte-range ledgers, and the job resumes from exactly its
/// durable bytes with If-Range, and ends byte-exact.
#[test]
fn a_state_directory_written_by_0_1_opens_and_resumes_byte_exact() {
    use std::os::unix::fs::PermissionsExt;
    let dir = support::scratch("persist-v01");
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
    let fixture = support::root().join("tests/fixtures/state-0.1/qmgr.db");
    std::fs::copy(&fixture, state.join("qmgr.db")).unwrap();
    let data = patterned(3 << 20, 7);
    let server = TestServer::start();
    server.add("/fixture.bin", Resource::new(data.clone()));

    // The fixture names the port and paths of the machine that wrote it:
    // point them here, and put back the partial file 0.1 had written.
    let dst = dir.join("firmware.bin");
    let temp = dir.join(".firmware.bin.29cb9fd0b95f.qmgr-part");
    let db = rusqlite::Connection::open(state.join("qmgr.db")).unwrap();
    let version: u32 = db
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2, "the fixture is a 0.1 directory");
    let (durable, etag): (u64, String) = db
        .query_row("SELECT durable, validator FROM files", [], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get(1)?))
        })
        .unwrap();
    assert!(durable > 0 && durable < data.len() as u64);
    db.execute(
        "UPDATE files SET remote = ?1, local = ?2, temp = ?3",
        rusqlite::params![
            server.url("/fixture.bin"),
            dst.to_str().unwrap(),
            temp.to_str().unwrap()
        ],
    )
    .unwrap();
    drop(db);
    std::fs::write(&temp, &data[..durable as usize]).unwrap();
    std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o600)).unwrap();

    let manager = Manager::open(Some(&state)).unwrap();
    let jobs = manager.jobs().unwrap();
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!(job.display_name(), "written by qmgr 0.1");
    assert_eq!(job.description(), "state directory fixture");
    assert_eq!(job.state(), JobState::Suspended);
    assert_eq!(job.bytes_transferred(), durable);
    assert_eq!(
        job.file_progress(0).unwrap().bytes_total,
        Some(data.len() as u64)
    );
    assert_eq!(job.min_retry_delay(), 1);
    assert_eq!(job.owner(), qmgr::Owner::current());
    job.set_max_bandwidth(0).unwrap();
    job.resume().unwrap();
    assert_eq!(wait(job, Duration::from_secs(60)), JobState::Transferred);
    let requests = server.requests("/fixture.bin");
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(
        requests[0].range.as_deref(),
        Some(&*format!("bytes={durable}-"))
    );
    let if_range = requests[0].if_range.clone().unwrap();
    assert!(
        etag.contains(&if_range.replace('"', "\\\"")),
        "{if_range} vs {etag}"
    );
    assert_eq!(
        server.body_bytes_sent("/fixture.bin"),
        data.len() as u64 - durable
    );
    assert_eq!(job.complete().unwrap(), qmgr::HResult(QM_S_OK));
    assert!(
        std::fs::read(&dst).unwrap() == data,
        "the file is not byte-exact"
    );
    manager.close();
    let db = rusqlite::Connection::open(state.join("qmgr.db")).unwrap();
    let version: u32 = db
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, qmgr::state_schema::SCHEMA_VERSION);
}

/// `ctests/state_child.c` with these arguments (built once per run),
/// its output piped.
fn child(args: &[&str]) -> Command {
    static EXE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let exe = EXE.get_or_init(|| {
        support::compile(
            "state_child.c",
            support::Build::Plain,
            &support::programs_dir(),
        )
    });
    let mut cmd = Command::new(exe);
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

/// What the state directory held after one SIGKILL: the file's durable
/// ranges, and how many requests the server had seen by then.
struct AfterKill {
    durable: Vec<(u64, u64)>,
    requests: usize,
}

/// The stretch a `Range` header asks for, end exclusive (`bytes=a-` runs
/// to `size`); no header: the whole file.
fn requested(range: Option<&str>, size: u64) -> (u64, u64) {
    let Some(spec) = range.and_then(|r| r.strip_prefix("bytes=")) else {
        return (0, size);
    };
    let (a, b) = spec.split_once('-').unwrap();
    let end = if b.is_empty() {
        size
    } else {
        b.parse::<u64>().unwrap() + 1
    };
    (a.parse().unwrap(), end)
}

/// Every request made after a kill asked only for bytes that were not
/// durable at that kill: no segment fetched again what it had made durable.
fn assert_no_durable_byte_requested(server: &TestServer, kills: &[AfterKill], size: u64) {
    let requests = server.requests("/big");
    for (k, kill) in kills.iter().enumerate() {
        for r in &requests[kill.requests..] {
            let (start, end) = requested(r.range.as_deref(), size);
            assert!(
                kill.durable.iter().all(|&(a, b)| end <= a || b <= start),
                "after kill {k}, {:?} asked again for durable bytes {:?}",
                r.range,
                kill.durable
            );
        }
    }
}

/// Downloads `size` bytes over `connections` connections in child
/// processes that are killed with SIGKILL `kills` times at random moments
/// (`delays` ms after each child starts; the first child once it is
/// ready): stratified, each kill in its own `1/kills` of `delays` at a
/// random point, in a random order, so that the moments cover the whole
/// stretch (before, at and after the checkpoints) evenly; then this
/// process finishes the job and checks it is byte-exact. Returns the
/// server, for its log, and what the directory held after each kill.
///
/// While the children run, the server sends at about 20 MiB/s per
/// connection, a little over the children's 16 MiB/s: it does not run
/// megabytes ahead into socket buffers that a killed child never read
/// (which the server counts as sent).
fn download_through_kills(
    name: &str,
    size: usize,
    connections: u32,
    kills: usize,
    delays: std::ops::Range<u64>,
) -> (TestServer, Vec<AfterKill>) {
    let dir = support::scratch(name);
    let state = dir.join("state");
    let server = TestServer::start();
    let data = patterned(size, 6);
    let mut paced = Resource::new(data.clone());
    paced.pace = Some((64 << 10, Duration::from_millis(3)));
    server.add("/big", paced);
    let dst = dir.join("big.bin");
    let url = server.url("/big");
    // A fixed-seed generator: a shuffled order of the strata, and a point
    // in each.
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut random = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut strata: Vec<u64> = (0..kills as u64).collect();
    for i in (1..strata.len()).rev() {
        strata.swap(i, (random() % (i as u64 + 1)) as usize);
    }
    let width = (delays.end - delays.start) as f64 / kills as f64;
    let moments: Vec<Duration> = strata
        .iter()
        .map(|&k| {
            let at = (k as f64 + (random() % 1000) as f64 / 1000.0) * width;
            Duration::from_millis(delays.start + at as u64)
        })
        .collect();
    let connections = connections.to_string();
    let mut after = Vec::new();
    for moment in moments {
        let mut proc = child(&[
            "download",
            state.to_str().unwrap(),
            &url,
            dst.to_str().unwrap(),
            &connections,
        ])
        .spawn()
        .unwrap();
        // Wait until the child has opened the directory, then kill it.
        let ready = std::panic::catch_unwind(|| {
            wait_until("the child's job", Duration::from_secs(30), || {
                state.join("job-id").exists()
            })
        });
        if let Err(panic) = ready {
            let _ = proc.kill();
            let _ = proc.wait();
            std::panic::resume_unwind(panic);
        }
        std::thread::sleep(moment);
        proc.kill().unwrap(); // SIGKILL
        proc.wait().unwrap();
        let db = rusqlite::Connection::open(state.join("qmgr.db")).unwrap();
        let text: String = db
            .query_row("SELECT durable_ranges FROM files", [], |r| r.get(0))
            .unwrap_or_default();
        let durable = text
            .split(',')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (a, b) = p.split_once('-').unwrap();
                (a.parse().unwrap(), b.parse().unwrap())
            })
            .collect();
        after.push(AfterKill {
            durable,
            requests: server.requests("/big").len(),
        });
    }
    // A last process (this one) finds the job by id and finishes it, at
    // full speed (the same version: same validators).
    server.add("/big", Resource::new(data.clone()));
    let id: JobId = std::fs::read_to_string(state.join("job-id"))
        .unwrap()
        .parse()
        .unwrap();
    let manager = Manager::open(Some(&state)).unwrap();
    let job = manager.job(&id).expect("the job survived the SIGKILLs");
    job.set_max_bandwidth(0).unwrap();
    if job.state() != JobState::Transferred {
        assert_eq!(
            wait(&job, Duration::from_secs(120)),
            JobState::Transferred,
            "{:?}",
            job.error()
        );
    }
    job.complete().unwrap();
    assert!(
        std::fs::read(&dst).unwrap() == data,
        "not byte-exact after {kills} kills"
    );
    assert_no_durable_byte_requested(&server, &after, size as u64);
    (server, after)
}

#[test]
fn sigkill_at_20_random_moments_still_ends_byte_exact() {
    // The children fetch at 16 MiB/s and checkpoint every 8 MiB, so the
    // first checkpoint comes about 0.55 s after a child starts (its open,
    // its request, 0.5 s of data): the kills, 60..700 ms after the start,
    // fall before it (the child restarts from the previous durable offset),
    // during it (the fsync and the record) and after it. 20 moments
    // spread evenly over that stretch (stratified) cover it at least as
    // closely as the 30 uniformly random ones that were here, at two
    // thirds of the cost (the time is the kills' delays: the children's
    // rate is fixed by ctests/state_child.c). 64 MiB is more than the
    // kills let become durable, so every kill lands mid-transfer.
    const KILLS: usize = 20;
    let size = 64 << 20;
    let (server, _) = download_through_kills("persist-sigkill", size, 1, KILLS, 60..700);
    // Every restart resumed from a durable offset that never went backwards,
    // and re-fetched at most one checkpoint interval (8 MiB, or 1 s = 16 MiB
    // at the limit: 8 MiB binds) plus what was in flight: one 1 MiB read
    // chunk, and what the server had pushed into loopback socket buffers
    // that the killed process never read (counted by the server as sent; a
    // few MiB at most, the server pacing itself near the children's rate).
    let requests = server.requests("/big");
    let starts: Vec<u64> = requests
        .iter()
        .map(|r| {
            r.range
                .as_deref()
                .map_or(0, |r| r["bytes=".len()..r.len() - 1].parse().unwrap())
        })
        .collect();
    assert!(
        starts.windows(2).all(|w| w[1] >= w[0]),
        "a restart went backwards: {starts:?}"
    );
    let refetched = server.body_bytes_sent("/big").saturating_sub(size as u64);
    let restarts = requests.len().saturating_sub(1).max(1) as u64;
    let per_restart = refetched / restarts;
    println!(
        "{} requests, {refetched} bytes fetched twice ({per_restart} per restart on average)",
        requests.len()
    );
    assert!(
        per_restart <= (8 << 20) + (1 << 20) + (4 << 20),
        "re-fetched {per_restart} bytes per restart"
    );
    assert!(
        requests.len() > KILLS / 2,
        "most kills should land mid-transfer ({} requests)",
        requests.len()
    );
}

#[test]
fn sigkill_during_a_segmented_download_resumes_every_segment_from_its_durable_bytes() {
    // Byte-exact, and after each kill no request asked for a durable byte
    // (checked inside): every segment resumed from its own durable bytes.
    // Four connections share the 16 MiB/s limit, so each checkpoints once
    // a second (before its 8 MiB): the kills come 1.1..2.1 s in, after
    // one, and each makes about 16 MiB durable, so the 64 MiB are done
    // after about four: five kills (there were eight, the last ones on a
    // finished job that only waited to be killed).
    const KILLS: usize = 5;
    let size = 64 << 20;
    let (server, after) =
        download_through_kills("persist-sigkill-segments", size, 4, KILLS, 1100..2100);
    let requests = server.requests("/big");
    let ranged = requests.iter().filter(|r| r.range.is_some()).count();
    let holes = after.iter().map(|k| k.durable.len()).max().unwrap_or(0);
    println!(
        "{} requests ({ranged} ranged), {} bytes sent for {size}; up to {holes} durable ranges",
        requests.len(),
        server.body_bytes_sent("/big")
    );
    assert!(
        ranged > KILLS,
        "{ranged} range requests: the file was not segmented"
    );

    assert!(
        holes > 1,
        "the durable bytes never formed several ranges: the file was not segmented"
    );
}

#[test]
fn the_later_bits_settings_survive_a_reopen() {
    // A mirror switch, dynamic content, yielding turned off, the maximum
    // download time, the notify command line and the notification pace
    // are on disk when their calls return (ranges: see the ranged-file
    // test below).
    let dir = support::scratch("persist-bits");
    let state = dir.join("state");
    let id = {
        let manager = Manager::open(Some(&state)).unwrap();
        let job = manager.create_job("later BITS").unwrap();
        job.add_files(&[FileSpec::new(
            "http://127.0.0.1:9/fw/a.bin",
            dir.join("a.bin").to_str().unwrap(),
        )])
        .unwrap();
        assert!(job
            .replace_remote_prefix("http://127.0.0.1:9/", "http://127.0.0.1:10/mirror/")
            .unwrap());
        job.set_dynamic_content(true).unwrap();
        assert!(job.yielding(), "on by default");
        job.set_yielding(false).unwrap();
        job.set_max_download_time(123).unwrap();
        job.set_notify_cmdline(Some(NotifyCmdLine {
            program: "/usr/bin/logger".into(),
            parameters: Some("logger \"job done\"".into()),
        }))
        .unwrap();
        job.set_min_notification_interval(1500).unwrap();
        let id = job.id();
        manager.close();
        id
    };
    let manager = Manager::open(Some(&state)).unwrap();
    let job = manager.job(&id).unwrap();
    assert_eq!(
        job.file_remote_name(0).unwrap(),
        "http://127.0.0.1:10/mirror/fw/a.bin"
    );
    assert!(job.dynamic_content());
    assert!(!job.yielding());
    assert_eq!(job.max_download_time(), 123);
    assert_eq!(
        job.notify_cmdline(),
        Some(NotifyCmdLine {
            program: "/usr/bin/logger".into(),
            parameters: Some("logger \"job done\"".into()),
        })
    );
    assert_eq!(job.min_notification_interval(), 1500);
    assert_eq!(job.state(), JobState::Suspended);
}

#[test]
fn a_ranged_file_carries_on_after_a_reopen_without_fetching_its_durable_bytes_again() {
    let dir = support::scratch("persist-ranges");
    let state = dir.join("state");
    let data = patterned(6 << 20, 61);
    let server = TestServer::start();
    let mut res = Resource::new(data.clone());
    res.pace = Some((64 * 1024, Duration::from_millis(25))); // about 2.5 MiB/s
    server.add("/r", res);
    // Remote 3-5 MiB, 5 MiB to the end, then 0-1 MiB: a 4 MiB local file.
    let ranges = [
        FileRange {
            offset: 3 << 20,
            length: 2 << 20,
        },
        FileRange {
            offset: 5 << 20,
            length: LENGTH_TO_EOF,
        },
        FileRange {
            offset: 0,
            length: 1 << 20,
        },
    ];
    let dst = dir.join("r.bin");
    let id = {
        let manager = Manager::open(Some(&state)).unwrap();
        let job = manager.create_job("ranged").unwrap();
        job.add_file_with_ranges(&server.url("/r"), dst.to_str().unwrap(), &ranges)
            .unwrap();
        job.set_max_connections(1).unwrap();
        job.resume().unwrap();
        wait_until(
            "2.5 MiB (into the second range)",
            Duration::from_secs(30),
            || job.progress().bytes_transferred >= 5 << 19,
        );
        let id = job.id();
        manager.close();
        id
    };
    let before = server.requests("/r").len();
    // The rest at full speed (the same version: same validators).
    server.add("/r", Resource::new(data.clone()));
    let manager = Manager::open(Some(&state)).unwrap();
    let job = manager.job(&id).unwrap();
    assert_eq!(job.file_ranges(0).unwrap(), ranges);
    let durable = job.file_progress(0).unwrap().bytes_transferred;
    assert!(durable >= 1 << 20, "{durable} bytes kept over the reopen");
    assert_eq!(
        wait(&job, Duration::from_secs(60)),
        JobState::Transferred,
        "{:?}",
        job.error()
    );
    job.complete().unwrap();
    let mut expected = data[3 << 20..].to_vec();
    expected.extend_from_slice(&data[..1 << 20]);
    assert!(std::fs::read(&dst).unwrap() == expected, "not byte-exact");
    let after = &server.requests("/r")[before..];
    let first = after[0].range_start().unwrap();
    assert!(
        first >= (3 << 20) + durable.min(2 << 20),
        "the reopened job asked for remote byte {first} again ({durable} durable)"
    );
    assert!(after.iter().all(|r| r.if_range.is_some()));
}
