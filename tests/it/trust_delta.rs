//! Delta downloads (issue 24) under attack: a hostile server (answers of
//! another version, of other bytes than asked, a control file that changes
//! between runs) and a hostile or careless local user (seeds that are
//! FIFOs, devices, directories, huge sparse files; through qmgrd, seeds the
//! owner may not read). What must hold: never a wrong file, never a hang,
//! and a seed read with the owner's rights only.

#[cfg(feature = "state")]
use crate::delta::cli;
use crate::delta::{
    delta_job, finish, https_job, is_open_here, is_open_in, seeds, serve, served, start,
    with_changed_blocks, zsyncmake, MIB,
};
use crate::support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use qmgr::{DeltaWay, JobState, Manager};
use support::http_server::{patterned, Fault, Resource, TestServer};
use support::wait;

/// A FIFO nobody writes to, a link to /dev/zero and a directory given as
/// seeds are no seeds: the job neither waits on the FIFO nor reads the
/// device for ever, and takes the blocks of the real seed after them.
#[test]
fn seeds_that_are_a_fifo_a_device_or_a_directory_are_passed_over() {
    let new = patterned(2 * MIB, 31);
    let (old, _) = with_changed_blocks(&new, 2048, 10);
    let Some((dir, server)) = served("delta-special-seeds", &new) else {
        return;
    };
    let fifo = dir.join("fifo");
    support::mkfifo(&fifo);
    let zero = dir.join("zero");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let directory = dir.join("directory");
    std::fs::create_dir(&directory).unwrap();
    let mut paths = vec![fifo, zero, directory];
    paths.extend(seeds(&dir, &[&old]));
    let manager = Manager::open(None).unwrap();
    let dst = dir.join("out.img");
    let job = start(
        &manager,
        &server.url("/img"),
        &dst,
        paths.clone(),
        None,
        &new,
    );
    // Dropped first: lets a reader blocked on the FIFO go before the
    // manager waits for its runs to end.
    let _unblock = support::UnblockFifo(paths[0].clone());
    let state = job.wait(Some(Duration::from_secs(30))).unwrap();
    assert_eq!(
        state,
        Some(JobState::Transferred),
        "the job hung on a seed: {:?} {:?}",
        job.state(),
        job.file_delta_status(0)
    );
    finish(&job, &dst, &new);
    let status = job.file_delta_status(0).unwrap();
    assert_eq!(status.way, DeltaWay::Delta, "{status:?}");
    assert!(status.bytes_from_seeds > new.len() as u64 / 2, "{status:?}");
}

/// A control file of `blocks` blocks of 64 bytes (Hash-Lengths 1,1,3)
/// whose every block has the rolling checksum of 64 zeros and an MD4
/// that no window of zeros has: each window of zeros in a seed is a
/// candidate for every block, and none of them ever matches.
fn colliding_control(blocks: u64) -> Vec<u8> {
    let mut out = format!(
        "zsync: 0.6.2\nBlocksize: 64\nLength: {}\nHash-Lengths: 1,1,3\nSHA-1: {}\n\n",
        blocks * 64,
        "00".repeat(20)
    )
    .into_bytes();
    for i in 0..blocks {
        // The low byte of `b` (0 for zeros), then 3 bytes of "MD4".
        out.push(0);
        out.extend_from_slice(&[0xa5, (i >> 8) as u8, i as u8]);
    }
    out
}

/// A hostile control file whose blocks all collide (one rolling checksum,
/// distinct MD4s) against a seed of zeros: the scan must not compare each
/// window with every block (a million blocks, a million windows: hours of
/// CPU before the next look at the cancel token). The job goes on to a
/// full download in a bounded time.
#[test]
fn colliding_blocks_in_a_control_file_do_not_make_the_scan_quadratic() {
    let dir = support::scratch("delta-colliding");
    let new = patterned(256 * 1024, 32);
    let server = TestServer::start();
    server.add("/img", Resource::new(new.clone()));
    server.add("/img.zsync", Resource::new(colliding_control(1 << 20)));
    let seed = dir.join("zeros");
    std::fs::write(&seed, vec![0u8; 2 * MIB]).unwrap();
    let manager = Manager::open(None).unwrap();
    let dst = dir.join("out.img");
    let job = start(&manager, &server.url("/img"), &dst, vec![seed], None, &new);
    let began = Instant::now();
    let state = job.wait(Some(Duration::from_secs(60))).unwrap();
    assert_eq!(
        state,
        Some(JobState::Transferred),
        "after {:?}: {:?} {:?}",
        began.elapsed(),
        job.state(),
        job.file_delta_status(0)
    );
    finish(&job, &dst, &new);
    let status = job.file_delta_status(0).unwrap();
    assert_eq!(status.way, DeltaWay::Full, "{status:?}");
}

/// The most memory (resident, at its peak) the CLI may take to read a
/// control file of 4 million blocks and scan a seed in parts with it.
const CONTROL_MEMORY_LIMIT_KIB: i64 = 400 * 1024;

/// A control file of half the most blocks qmgr reads (2^22 of 64 bytes,
/// 7 bytes of checksums each: 28 MiB), every block a key of its own, and
/// a seed long enough to be scanned in parts: the table of blocks is a
/// few bytes a block, shared by the parts, not a map per part (400 MiB
/// each; the CLI peaked at 1,857 MiB with 2^23 blocks on two cores).
#[test]
fn a_control_file_of_millions_of_blocks_takes_memory_in_proportion_to_its_size() {
    let dir = support::scratch("delta-largest-control");
    let new = patterned(256 * 1024, 33);
    let blocks: u64 = 1 << 22;
    let mut control = format!(
        "zsync: 0.6.2\nBlocksize: 64\nLength: {}\nHash-Lengths: 1,4,3\nSHA-1: {}\n\n",
        blocks * 64,
        "00".repeat(20)
    )
    .into_bytes();
    control.extend_from_slice(&patterned(blocks as usize * 7, 34));
    let server = TestServer::start();
    server.add("/img", Resource::new(new.clone()));
    server.add("/img.zsync", Resource::new(control));
    let seed = seeds(&dir, &[&patterned(20 * MIB, 35)]).remove(0);
    let dst = dir.join("out.img");
    let mut child = std::process::Command::new(support::qmgr_bin())
        .arg("--state")
        .arg(dir.join("state"))
        .args(["transfer", &server.url("/img")])
        .arg(&dst)
        .arg("--seed")
        .arg(&seed)
        .arg("--quiet")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The child's own peak (VmHWM of its image after exec; the rusage of
    // a wait counts the pages it shared with this process before).
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0i64;
    let status = loop {
        if let Some(kib) = std::fs::read_to_string(&status_file).ok().and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<i64>().ok()
        }) {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(status.success(), "{status}");
    assert_eq!(std::fs::read(&dst).unwrap(), new);
    assert!(
        peak_kib < CONTROL_MEMORY_LIMIT_KIB,
        "the CLI peaked at {} MiB",
        peak_kib / 1024
    );
}

/// Through qmgrd (as root), a job of `nobody` whose seeds are a file only
/// root may read and a file anyone may: the daemon reads the seeds with
/// nobody's rights, so the first gives no block (the file comes whole)
/// and the second gives its blocks; neither is written.
#[cfg(all(feature = "service", feature = "state"))]
#[test]
fn through_qmgrd_a_seed_is_read_with_the_owners_rights() {
    use serde_json::json;
    use std::os::unix::fs::PermissionsExt;
    use support::daemon::{call, calls_as, system_python, Qmgrd};
    if !support::daemon::running_as_root() {
        return;
    }
    if system_python().is_none() || !support::have_tool("setpriv") {
        return support::skipped("no system python3 or setpriv for the other users' clients");
    }
    let new = patterned(2 * MIB, 36);
    let (old, _) = with_changed_blocks(&new, 2048, 10);
    let Some((dir, server)) = served("delta-daemon-rights", &new) else {
        return;
    };
    let daemon = Qmgrd::start(&dir.join("daemon"), &[]);
    let theirs = dir.join("nobody");
    std::fs::create_dir(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    let paths = seeds(&dir, &[&old, &old]);
    let (secret, public) = (&paths[0], &paths[1]);
    std::fs::set_permissions(secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(public, std::fs::Permissions::from_mode(0o644)).unwrap();
    let job = |seed: &Path, name: &str| {
        vec![
            call("io.qmgr.CreateJob", json!({"display_name": name})),
            call(
                "io.qmgr.AddFiles",
                json!({"id": "$ID", "files": [{"remote": server.url("/img"), "local": theirs.join(name).to_str().unwrap()}]}),
            ),
            call(
                "io.qmgr.SetFileDelta",
                json!({"id": "$ID", "index": 0, "seeds": [seed.to_str().unwrap()], "control_url": null}),
            ),
            call("io.qmgr.Resume", json!({"id": "$ID"})),
            call("io.qmgr.Wait", json!({"id": "$ID", "timeout_ms": 60_000})),
            call("io.qmgr.GetFiles", json!({"id": "$ID"})),
            call("io.qmgr.Complete", json!({"id": "$ID"})),
        ]
    };
    let mut calls = job(secret, "secret.img");
    calls.extend(job(public, "public.img"));
    let replies = calls_as("nobody", "nogroup", &daemon.socket, &calls);
    assert_eq!(replies.len(), calls.len(), "{replies:?}");
    assert!(
        replies.iter().all(|r| r.get("error").is_none()),
        "{replies:?}"
    );
    let file = |i: usize| replies[i]["parameters"]["files"][0].clone();
    for i in [4, 11] {
        assert_eq!(
            replies[i]["parameters"]["state"],
            JobState::Transferred as u32,
            "{replies:?}"
        );
    }
    let (from_secret, from_public) = (file(5), file(12));
    assert_eq!(
        from_secret["delta_way"],
        DeltaWay::Full as u32,
        "{from_secret}"
    );
    assert_eq!(from_secret["bytes_from_seeds"], 0, "{from_secret}");
    assert_eq!(
        from_public["delta_way"],
        DeltaWay::Delta as u32,
        "{from_public}"
    );
    assert!(from_public["bytes_from_seeds"].as_u64().unwrap() > MIB as u64);
    for name in ["secret.img", "public.img"] {
        assert_eq!(std::fs::read(theirs.join(name)).unwrap(), new, "{name}");
    }
    for seed in [secret, public] {
        assert_eq!(std::fs::read(seed).unwrap(), old);
    }
}

/// A job (not resumed) fetching `/img` of `server` to `dst` from `seeds`,
/// its control file beside it; a retry waits a second.
fn job_from(manager: &Manager, server: &TestServer, dst: &Path, seeds: &[PathBuf]) -> qmgr::Job {
    let job = delta_job(manager, &server.url("/img"), dst, seeds.to_vec(), None);
    job.set_min_retry_delay(1).unwrap();
    job
}

/// `data` with a byte changed in every third block of 2 KiB: another
/// version of the same length.
fn other_version(data: &[u8]) -> Vec<u8> {
    with_changed_blocks(data, 2048, 3).0
}

/// The server publishes a new version (same length, a new control file)
/// while a delta download is suspended: the resumed run reads the new
/// control file, sees it is not the one the seeds were scanned for, and
/// fetches the new version whole; never the old blocks with new ones.
#[test]
fn a_new_version_and_control_file_between_runs_is_fetched_whole() {
    let v1 = patterned(4 * MIB, 37);
    let v2 = other_version(&v1);
    let (old, _) = with_changed_blocks(&v1, 2048, 5);
    let Some((dir, server)) = served("delta-new-version", &v1) else {
        return;
    };
    let Some(control2) = zsyncmake(&dir, &v2, None) else {
        return;
    };
    let paced = |data: &[u8]| {
        let mut r = Resource::new(data.to_vec());
        r.pace = Some((16 * 1024, Duration::from_millis(20)));
        r
    };
    server.add("/img", paced(&v1));
    let manager = Manager::open(None).unwrap();
    let dst = dir.join("out.img");
    let job = job_from(&manager, &server, &dst, &seeds(&dir, &[&old]));
    job.resume().unwrap();
    support::wait_until("ranges flowing", Duration::from_secs(60), || {
        server.body_bytes_sent("/img") >= 64 * 1024
    });
    assert_eq!(job.file_delta_status(0).unwrap().way, DeltaWay::Delta);
    job.suspend().unwrap();
    server.add("/img", Resource::new(v2.clone()));
    server.add("/img.zsync", Resource::new(control2));
    job.resume().unwrap();
    finish(&job, &dst, &v2);
    let status = job.file_delta_status(0).unwrap();
    assert_eq!(status.way, DeltaWay::Full, "{status:?}");
}

/// Backends of one URL holding two versions of the same length, each
/// request answered by the next (no validator at all, so If-Range pins
/// nothing): the blocks' MD4s and the whole file's SHA-1 of the control
/// file are all that stand between the job and a splice. The file is one
/// version whole, or the job fails; never both.
#[test]
fn versions_flipping_under_a_delta_download_are_never_spliced() {
    let v1 = patterned(2 * MIB, 38);
    let v2 = other_version(&v1);
    let (old, _) = with_changed_blocks(&v1, 2048, 10);
    let Some((dir, server)) = served("delta-flipping", &v1) else {
        return;
    };
    let bare = |data: &[u8]| {
        let mut r = Resource::new(data.to_vec());
        r.etag = None;
        r.last_modified = None;
        r
    };
    server.rotate_versions("/img", vec![bare(&v1), bare(&v2)], false);
    let manager = Manager::open(None).unwrap();
    let dst = dir.join("out.img");
    let job = job_from(&manager, &server, &dst, &seeds(&dir, &[&old]));
    job.resume().unwrap();
    match wait(&job, Duration::from_secs(120)) {
        JobState::Transferred => {
            job.complete().unwrap();
            let got = std::fs::read(&dst).unwrap();
            assert!(
                got == v1 || got == v2,
                "a splice: {:?}",
                job.file_delta_status(0)
            );
        }
        other => {
            assert_eq!(other, JobState::Error, "{:?}", job.error());
            job.cancel().unwrap();
        }
    }
}

/// Answers that are not the range asked for, each as the first answer of
/// a delta download and again later (a 200 with the whole file, a range
/// that starts elsewhere, another total, a merge to the end, no or a
/// garbled Content-Range): each is a full download or a range asked
/// again, and the file is byte-exact; no SHA-256 is set, so the control
/// file's checks alone hold.
#[test]
fn answers_other_than_the_range_asked_never_splice() {
    let new = patterned(MIB, 39);
    let (old, _) = with_changed_blocks(&new, 2048, 8);
    let dir = support::scratch("delta-wrong-answers");
    let Some(control) = zsyncmake(&dir, &new, None) else {
        return;
    };
    let faults = [
        Fault::IgnoreRange,
        Fault::WrongStart,
        Fault::WrongTotal,
        Fault::MergeToEnd,
        Fault::NoContentRange,
        Fault::GarbledContentRange,
    ];
    for (i, fault) in faults.into_iter().enumerate() {
        for at in [0, 3] {
            let server = TestServer::start();
            serve(&server, &new, control.clone());
            // `at` honest answers (each then a close) before the fault.
            let mut script: Vec<Fault> = (0..at).map(|_| Fault::CloseAfter(u64::MAX)).collect();
            script.push(fault.clone());
            server.script("/img", script);
            let manager = Manager::open(None).unwrap();
            let dst = dir.join(format!("out-{i}-{at}.img"));
            let job = job_from(&manager, &server, &dst, &seeds(&dir, &[&old]));
            job.resume().unwrap();
            finish(&job, &dst, &new);
            assert_eq!(server.faults_left("/img"), 0, "{fault:?} at {at}");
        }
    }
}

/// A seed that is a huge sparse file (64 GiB of holes): the scan reads
/// it as it would any seed, and Cancel stops it at once (the token is
/// looked at between reads of 1 MiB): the seed is closed within seconds.
#[test]
fn cancelling_the_scan_of_a_huge_sparse_seed_is_prompt() {
    let new = patterned(MIB, 40);
    let Some((dir, server)) = served("delta-sparse", &new) else {
        return;
    };
    let sparse = dir.join("sparse");
    std::fs::File::create(&sparse)
        .unwrap()
        .set_len(64 << 30)
        .unwrap();
    let manager = Manager::open(None).unwrap();
    let job = start(
        &manager,
        &server.url("/img"),
        &dir.join("out.img"),
        vec![sparse.clone()],
        None,
        &new,
    );
    let sparse = sparse.canonicalize().unwrap();
    support::wait_until("the scan of the seed", Duration::from_secs(60), || {
        is_open_here(&sparse)
    });
    std::thread::sleep(Duration::from_millis(300));
    let began = Instant::now();
    job.cancel().unwrap();
    support::wait_until("the seed closed", Duration::from_secs(10), || {
        !is_open_here(&sparse)
    });
    assert!(began.elapsed() < Duration::from_secs(10));
}

/// The usual update: the seed is the destination itself, the old
/// version. The blocks come from it, the new version replaces it when the
/// job completes, and the old file (kept here by a second link) was never
/// written to.
#[test]
fn a_seed_that_is_the_destination_is_read_and_then_replaced_never_written() {
    let new = patterned(2 * MIB, 41);
    let (old, _) = with_changed_blocks(&new, 2048, 10);
    let Some((dir, server)) = served("delta-seed-is-dst", &new) else {
        return;
    };
    let dst = dir.join("out.img");
    std::fs::write(&dst, &old).unwrap();
    let kept = dir.join("old-link");
    std::fs::hard_link(&dst, &kept).unwrap();
    let manager = Manager::open(None).unwrap();
    let job = start(
        &manager,
        &server.url("/img"),
        &dst,
        vec![dst.clone()],
        None,
        &new,
    );
    finish(&job, &dst, &new);
    let status = job.file_delta_status(0).unwrap();
    assert_eq!(status.way, DeltaWay::Delta, "{status:?}");
    assert_eq!(std::fs::read(&kept).unwrap(), old);
}

/// An HTTPS file whose control file the caller put on plain HTTP: the
/// control file decides which bytes are kept (a man in the middle who
/// knows the seed could describe a file of its blocks, SHA-1 included),
/// so it is never read; the file comes whole, over HTTPS.
#[test]
fn a_plain_http_control_file_for_an_https_file_is_never_read() {
    let new = patterned(2 * MIB, 42);
    let (old, _) = with_changed_blocks(&new, 2048, 10);
    let dir = support::scratch("delta-https-floor");
    let Some(control) = zsyncmake(&dir, &new, None) else {
        return;
    };
    let ca = support::http_server::TestCa::generate(&dir.join("ca"));
    let files = TestServer::start_tls(&ca, false);
    files.add("/img", Resource::new(new.clone()));
    let plain = TestServer::start();
    plain.add("/img.zsync", Resource::new(control));
    let manager = Manager::open(None).unwrap();
    let dst = dir.join("out.img");
    let job = https_job(
        &manager,
        (&files, &ca),
        &dst,
        seeds(&dir, &[&old]),
        plain.url("/img.zsync"),
    );
    job.resume().unwrap();
    finish(&job, &dst, &new);
    let status = job.file_delta_status(0).unwrap();
    assert_eq!(status.way, DeltaWay::Full, "{status:?}");
    assert!(status.reason.contains("HTTPS"), "{status:?}");
    assert!(plain.requests("/img.zsync").is_empty());
}

/// The CLI killed (SIGKILL) while it scans a seed (the old version, then
/// 1 GiB of holes), blocks already written to the temporary file but not
/// yet recorded: `qmgr run` scans again and the file is byte-exact.
#[cfg(feature = "state")]
#[test]
fn sigkill_of_the_cli_mid_scan_resumes_byte_exact() {
    let new = patterned(4 * MIB, 43);
    let (old, _) = with_changed_blocks(&new, 2048, 10);
    let Some((dir, server)) = served("delta-sigkill-scan", &new) else {
        return;
    };
    let seed = seeds(&dir, &[&old]).remove(0);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&seed)
        .unwrap()
        .set_len(old.len() as u64 + (1 << 30))
        .unwrap();
    let seed = seed.canonicalize().unwrap();
    let (state, dst) = (dir.join("state"), dir.join("out.img"));
    let qmgr = |args: &[&str]| cli(&state, args);
    let url = server.url("/img");
    let mut child = qmgr(&["transfer", &url, dst.to_str().unwrap(), "--quiet"])
        .arg("--seed")
        .arg(&seed)
        .spawn()
        .unwrap();
    support::wait_until("the scan of the seed", Duration::from_secs(60), || {
        is_open_in(child.id(), &seed)
    });
    std::thread::sleep(Duration::from_millis(200));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(!dst.exists());
    assert!(qmgr(&["run", "--quiet"]).status().unwrap().success());
    assert_eq!(std::fs::read(&dst).unwrap(), new, "not byte-exact");
    assert!(server.body_bytes_sent("/img") < new.len() as u64 / 2);
}
