//! Delta downloads (issue 24): a file with seeds and a zsync control file
//! made by Debian's `zsyncmake` 0.6.2, served with the target by the fault
//! server over real sockets (HTTP and HTTPS). Each test checks what a user
//! relies on: the bytes at the local name (SHA-256), how many body bytes
//! the server sent for the file, and which way the job says it went.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use qmgr::{DeltaSource, DeltaStatus, DeltaWay, FileSpec, Job, JobState, Manager};
use support::http_server::{patterned, Fault, Resource, TestCa, TestServer};
use support::{sha256_hex, wait};

pub(crate) const KIB: usize = 1 << 10;
pub(crate) const MIB: usize = 1 << 20;

/// The control file `zsyncmake` writes for `data` (blocks of `blocksize`,
/// or its own choice), or `None` (skipped) without zsyncmake.
pub(crate) fn zsyncmake(dir: &Path, data: &[u8], blocksize: Option<u32>) -> Option<Vec<u8>> {
    if !support::have_tool_answering("zsyncmake", "-V") {
        return None;
    }
    let input = dir.join("target.img");
    std::fs::write(&input, data).unwrap();
    let out = dir.join("target.img.zsync");
    let mut cmd = Command::new("zsyncmake");
    cmd.arg("-o").arg(&out).args(["-u", "target.img"]);
    if let Some(b) = blocksize {
        cmd.args(["-b", &b.to_string()]);
    }
    let status = cmd.arg(&input).current_dir(dir).output().unwrap();
    assert!(status.status.success(), "zsyncmake: {status:?}");
    let control = std::fs::read(&out).unwrap();
    std::fs::remove_file(&input).unwrap();
    std::fs::remove_file(&out).unwrap();
    Some(control)
}

/// A server with `data` at `/img` and its control file at `/img.zsync`.
pub(crate) fn serve(server: &TestServer, data: &[u8], control: Vec<u8>) {
    server.add("/img", Resource::new(data.to_vec()));
    server.add("/img.zsync", Resource::new(control));
}

/// A scratch directory `name` and a fresh server with `new` at `/img` and
/// the control file zsyncmake makes for it at `/img.zsync`; `None`
/// (skipped) without zsyncmake.
pub(crate) fn served(name: &str, new: &[u8]) -> Option<(support::Scratch, TestServer)> {
    let dir = support::scratch(name);
    let control = zsyncmake(&dir, new, None)?;
    let server = TestServer::start();
    serve(&server, new, control);
    Some((dir, server))
}

/// Writes each seed to `dir` and returns their paths.
pub(crate) fn seeds(dir: &Path, seeds: &[&[u8]]) -> Vec<PathBuf> {
    seeds
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let p = dir.join(format!("seed{i}"));
            std::fs::write(&p, s).unwrap();
            p
        })
        .collect()
}

/// A job (not resumed) fetching `url` to `dst` from `seeds`, the control
/// file beside the URL unless `control` is given.
pub(crate) fn delta_job(
    manager: &Manager,
    url: &str,
    dst: &Path,
    seeds: Vec<PathBuf>,
    control: Option<String>,
) -> Job {
    let job = manager.create_job("delta").unwrap();
    job.add_files(&[FileSpec::new(url, dst.to_str().unwrap())])
        .unwrap();
    job.set_file_delta(
        0,
        Some(DeltaSource {
            seeds,
            control_url: control,
        }),
    )
    .unwrap();
    job
}

/// `delta_job` with the target's SHA-256, resumed.
pub(crate) fn start(
    manager: &Manager,
    url: &str,
    dst: &Path,
    seeds: Vec<PathBuf>,
    control: Option<String>,
    sha256: &[u8],
) -> Job {
    let job = delta_job(manager, url, dst, seeds, control);
    job.set_file_sha256(0, Some(&sha256_hex(sha256))).unwrap();
    job.set_min_retry_delay(1).unwrap();
    job.resume().unwrap();
    job
}

/// Downloads `/img` of `server` (its control file beside it) to
/// `dir/out.img` from `seed_data`, and checks it byte-exact against `new`.
pub(crate) fn download(dir: &Path, server: &TestServer, new: &[u8], seed_data: &[&[u8]]) -> Job {
    let manager = Manager::open(None).unwrap();
    let dst = dir.join("out.img");
    let job = start(
        &manager,
        &server.url("/img"),
        &dst,
        seeds(dir, seed_data),
        None,
        new,
    );
    finish(&job, &dst, new);
    job
}

/// Waits for TRANSFERRED, completes, and checks the bytes at `dst`.
pub(crate) fn finish(job: &Job, dst: &Path, data: &[u8]) {
    assert_eq!(
        wait(job, Duration::from_secs(120)),
        JobState::Transferred,
        "{:?} {:?}",
        job.error(),
        job.file_delta_status(0)
    );
    job.complete().unwrap();
    let got = std::fs::read(dst).unwrap();
    assert_eq!(got.len(), data.len());
    assert_eq!(sha256_hex(&got), sha256_hex(data), "not byte-exact");
}

/// Checks that `job` went the delta way, asked `server` for single ranges
/// only, and took every byte of the `len` once, from a seed or from the
/// server: its status and the body bytes the server sent.
fn every_byte_once(job: &Job, server: &TestServer, len: usize) -> (DeltaStatus, u64) {
    let status = job.file_delta_status(0).unwrap();
    assert_eq!(status.way, DeltaWay::Delta, "{status:?}");
    for r in server.requests("/img") {
        let range = r.range.expect("a range request");
        assert!(!range.contains(','), "{range}");
    }
    let fetched = server.body_bytes_sent("/img");
    assert_eq!(
        status.bytes_from_seeds + fetched,
        len as u64,
        "every byte once: {status:?}"
    );
    (status, fetched)
}

/// `data` with every `every`-th block of `block` bytes changed.
pub(crate) fn with_changed_blocks(data: &[u8], block: usize, every: usize) -> (Vec<u8>, usize) {
    let mut out = data.to_vec();
    let mut changed = 0;
    for (i, b) in out.chunks_mut(block).enumerate() {
        if i % every == every / 2 {
            b[block / 3] ^= 0x5a;
            changed += 1;
        }
    }
    (out, changed)
}

#[test]
fn one_percent_of_blocks_changed_fetches_about_one_percent() {
    let new = patterned(8 * MIB, 1);
    // The device's copy: 1% of its 2 KiB blocks differ from the new one.
    let (old, changed) = with_changed_blocks(&new, 2048, 100);
    let Some((dir, server)) = served("delta-1pct", &new) else {
        return;
    };
    let job = download(&dir, &server, &new, &[&old]);
    let (_, fetched) = every_byte_once(&job, &server, new.len());
    // zsync matches two blocks in a row: a changed block costs its own
    // bytes and at most its neighbours'.
    assert!(
        fetched <= (3 * changed * 2048) as u64,
        "{fetched} bytes fetched for {changed} changed blocks"
    );
    assert!(fetched >= (changed * 2048) as u64);
}

/// A delta download of `new` from `seeds` through a fresh server: the job
/// (completed, checked byte-exact) and the server.
fn delta_of(name: &str, new: &[u8], seed_data: &[&[u8]]) -> Option<(Job, TestServer)> {
    let (dir, server) = served(name, new)?;
    let job = download(&dir, &server, new, seed_data);
    // A delta (not a fallback) took each byte once, by single ranges.
    if job.file_delta_status(0).unwrap().way == DeltaWay::Delta {
        every_byte_once(&job, &server, new.len());
    }
    Some((job, server))
}

#[test]
fn ten_percent_of_blocks_changed() {
    let new = patterned(8 * MIB, 2);
    let (old, changed) = with_changed_blocks(&new, 2048, 10);
    let Some((job, server)) = delta_of("delta-10pct", &new, &[&old]) else {
        return;
    };
    let status = job.file_delta_status(0).unwrap();
    assert_eq!(status.way, DeltaWay::Delta);
    let fetched = server.body_bytes_sent("/img");
    assert!(fetched >= (changed * 2048) as u64);
    assert!(
        fetched <= (3 * changed * 2048) as u64,
        "{fetched} for {changed} blocks"
    );
    // Spread over connections: more than one request.
    assert!(server.requests("/img").len() > 1);
}

/// Many small gaps: a piece covers several, and their single-range
/// requests go out one behind the other on a connection the server kept
/// alive (HTTP/1.1 pipelining), not one round trip each. Each byte still
/// comes once, by one request per gap.
#[test]
fn many_small_gaps_are_asked_for_ahead() {
    let new = patterned(8 * MIB, 5);
    // One 2 KiB block in 32 changed: 128 gaps, 64 KiB apart.
    let (old, changed) = with_changed_blocks(&new, 2048, 32);
    let Some((_, server)) = delta_of("delta-ahead", &new, &[&old]) else {
        return;
    };
    let requests = server.requests("/img").len();
    // One per gap, and one for the last byte (always fetched).
    assert!(
        requests <= changed + 1,
        "{requests} requests for {changed} changed blocks"
    );
    assert!(
        server.requests_queued() > 0,
        "no request was sent ahead of an answer"
    );
}

/// A server that closes its connection after an answer without saying so
/// drops the requests sent ahead on it: their gaps are asked for again
/// (one at a time from then on), the file is byte-exact, each byte once.
#[test]
fn requests_sent_ahead_that_get_no_answer_are_asked_for_again() {
    let new = patterned(8 * MIB, 6);
    let (old, changed) = with_changed_blocks(&new, 2048, 32);
    let Some((dir, server)) = served("delta-ahead-cut", &new) else {
        return;
    };
    // The first range's whole answer, then a close.
    server.script("/img", vec![Fault::CloseAfter(u64::MAX)]);
    let job = download(&dir, &server, &new, &[&old]);
    every_byte_once(&job, &server, new.len());
    assert_eq!(server.faults_left("/img"), 0);
    // Each gap's request at most twice: sent ahead and dropped, then again.
    let requests = server.requests("/img").len();
    assert!(
        requests <= 2 * (changed + 1),
        "{requests} requests for {changed} changed blocks"
    );
}

#[test]
fn a_seed_long_enough_to_be_scanned_in_parts() {
    // Past 16 MiB a seed is scanned in parts, one thread each: blocks on
    // either side of the parts' seams are found, and each once.
    let new = patterned(40 * MIB, 19);
    let (mut old, changed) = with_changed_blocks(&new, 4096, 100);
    old.splice(0..0, patterned(100 * KIB, 20));
    let Some((job, server)) = delta_of("delta-parts", &new, &[&old]) else {
        return;
    };
    let status = job.file_delta_status(0).unwrap();
    assert_eq!(status.way, DeltaWay::Delta);
    let fetched = server.body_bytes_sent("/img");
    assert!(
        fetched <= (3 * changed * 4096) as u64,
        "{fetched} for {changed} blocks"
    );
}

#[test]
fn sixty_four_kib_inserted_at_the_start_shifts_every_block() {
    let new = patterned(4 * MIB, 3);
    let mut old = patterned(64 * KIB, 99);
    old.extend_from_slice(&new);
    let Some((job, server)) = delta_of("delta-insert", &new, &[&old]) else {
        return;
    };
    let status = job.file_delta_status(0).unwrap();
    assert_eq!(status.way, DeltaWay::Delta);
    assert_eq!(server.body_bytes_sent("/img"), 1, "{status:?}");
    assert_eq!(status.bytes_from_seeds, new.len() as u64 - 1);
}

#[test]
fn an_identical_seed_needs_only_the_last_byte_of_the_file() {
    let new = patterned(3 * MIB + 1234, 4);
    let Some((job, server)) = delta_of("delta-same", &new, &[&new]) else {
        return;
    };
    let status = job.file_delta_status(0).unwrap();
    assert_eq!(
        (status.way, status.bytes_from_seeds),
        (DeltaWay::Delta, new.len() as u64 - 1)
    );
    // One request for the file: its last byte, which checks that the
    // server's file is the one the control file describes (its length, a
    // validator) before the copy counts.
    let requests = server.requests("/img");
    assert_eq!(requests.len(), 1, "{requests:?}");
    let last = new.len() - 1;
    assert_eq!(
        requests[0].range.as_deref(),
        Some(&*format!("bytes={last}-{last}"))
    );
    assert_eq!(server.body_bytes_sent("/img"), 1);
    assert_eq!(server.requests("/img.zsync").len(), 1);
}

#[test]
fn an_unrelated_seed_falls_back_to_a_full_download() {
    let new = patterned(2 * MIB, 5);
    let other = patterned(2 * MIB, 6);
    let Some((job, server)) = delta_of("delta-unrelated", &new, &[&other]) else {
        return;
    };
    let status = job.file_delta_status(0).unwrap();
    assert_eq!(status.way, DeltaWay::Full);
    assert!(status.reason.contains("no block"), "{status:?}");
    assert_eq!(status.bytes_from_seeds, 0);
    // A full download, as any: under load another connection may take
    // over a piece before its first byte came, and the answer to the
    // first one is cut (at most a piece, 1 MiB, too many).
    let sent = server.body_bytes_sent("/img");
    assert!(
        sent >= new.len() as u64 && sent <= (new.len() + MIB) as u64,
        "{sent}"
    );
}

#[test]
fn two_seeds_each_holding_half() {
    let new = patterned(4 * MIB, 7);
    let (a, b) = new.split_at(2 * MIB);
    let Some((job, server)) = delta_of("delta-halves", &new, &[b, a]) else {
        return;
    };
    let status = job.file_delta_status(0).unwrap();
    assert_eq!(status.way, DeltaWay::Delta);
    // At most the block that straddles the halves' seam is fetched.
    assert!(server.body_bytes_sent("/img") <= 2 * 4096, "{status:?}");
}

/// Whether this process has `path` open (a descriptor in /proc/self/fd).
pub(crate) fn is_open_here(path: &Path) -> bool {
    is_open_in(std::process::id(), path)
}

/// Whether process `pid` has `path` open.
pub(crate) fn is_open_in(pid: u32, path: &Path) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|fds| {
            fds.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .any(|target| target == path)
        })
        .unwrap_or(false)
}

#[test]
fn a_seed_that_changes_while_it_is_scanned_is_not_trusted() {
    // Seed 0 holds the whole file but is written to while qmgr reads it:
    // none of its blocks is taken. Seed 1 holds the second half: those are.
    let new = patterned(48 * MIB, 21);
    let Some((dir, server)) = served("delta-changing", &new) else {
        return;
    };
    let half = new.len() / 2;
    let paths = seeds(&dir, &[&new, &new[half..]]);
    let changing = paths[0].canonicalize().unwrap();
    let manager = Manager::open(None).unwrap();
    let dst = dir.join("out.img");
    let job = start(&manager, &server.url("/img"), &dst, paths, None, &new);
    // From when qmgr opens seed 0 until it closes it, append to it: some
    // write lands between the looks qmgr takes at it before and after.
    let (mut seen, mut writes) = (false, 0);
    loop {
        if is_open_here(&changing) {
            seen = true;
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&changing)
                .unwrap();
            f.write_all(b"changed").unwrap();
            writes += 1;
        } else if seen {
            break;
        } else {
            assert!(
                !matches!(job.state(), JobState::Transferred | JobState::Error),
                "seed 0 was read before this test saw it open: {:?}",
                job.file_delta_status(0)
            );
            std::thread::yield_now();
        }
    }
    finish(&job, &dst, &new);
    let (status, _) = every_byte_once(&job, &server, new.len());
    // Only seed 1's half came from the seeds (less its last byte, which
    // is always fetched), after {writes} writes to seed 0.
    assert_eq!(
        status.bytes_from_seeds,
        (new.len() - half - 1) as u64,
        "{writes} writes: {status:?}"
    );
}

#[test]
fn seeds_longer_and_shorter_than_the_target() {
    let new = patterned(3 * MIB, 8);
    let mut longer = new.clone();
    longer.extend_from_slice(&patterned(MIB, 9));
    let Some((job, server)) = delta_of("delta-longer", &new, &[&longer]) else {
        return;
    };
    assert_eq!(job.file_delta_status(0).unwrap().way, DeltaWay::Delta);
    assert_eq!(server.body_bytes_sent("/img"), 1);

    // The old version was shorter: the new one has 1 MiB appended.
    let shorter = &new[..2 * MIB];
    let Some((job, server)) = delta_of("delta-shorter", &new, &[shorter]) else {
        return;
    };
    assert_eq!(job.file_delta_status(0).unwrap().way, DeltaWay::Delta);
    let fetched = server.body_bytes_sent("/img");
    assert!(
        (MIB as u64..=MIB as u64 + 8192).contains(&fetched),
        "{fetched}"
    );
}

#[test]
fn no_control_file_falls_back_to_a_full_download() {
    let dir = support::scratch("delta-404");
    let new = patterned(MIB, 10);
    let server = TestServer::start();
    server.add("/img", Resource::new(new.clone()));
    let job = download(&dir, &server, &new, &[&new]);
    let status = job.file_delta_status(0).unwrap();
    assert_eq!(status.way, DeltaWay::Full);
    assert!(status.reason.contains("404"), "{status:?}");
    assert_eq!(server.body_bytes_sent("/img"), new.len() as u64);
}

#[test]
fn a_server_without_ranges_gets_a_full_download() {
    let dir = support::scratch("delta-noranges");
    let new = patterned(2 * MIB, 11);
    let (old, _) = with_changed_blocks(&new, 2048, 10);
    let Some(control) = zsyncmake(&dir, &new, None) else {
        return;
    };
    let server = TestServer::start();
    let mut resource = Resource::new(new.clone());
    resource.ranges = false;
    server.add("/img", resource);
    server.add("/img.zsync", Resource::new(control));
    let job = download(&dir, &server, &new, &[&old]);
    let status = job.file_delta_status(0).unwrap();
    assert_eq!(status.way, DeltaWay::Full, "{status:?}");
    assert!(!status.reason.is_empty());
}

#[test]
fn a_control_file_of_another_file_is_never_spliced() {
    let dir = support::scratch("delta-mismatch");
    let new = patterned(2 * MIB, 12);
    let (old, _) = with_changed_blocks(&new, 2048, 10);
    // The control file describes `old`'s neighbour `stale` (same length,
    // other bytes in a tenth of its blocks), not the server's `new`.
    let (stale, _) = with_changed_blocks(&new, 2048, 7);
    let Some(control) = zsyncmake(&dir, &stale, None) else {
        return;
    };
    let server = TestServer::start();
    serve(&server, &new, control);
    let manager = Manager::open(None).unwrap();
    let dst = dir.join("out.img");
    // No SHA-256 this time: the control file's checks alone must catch it.
    let job = delta_job(
        &manager,
        &server.url("/img"),
        &dst,
        seeds(&dir, &[&old]),
        None,
    );
    job.resume().unwrap();
    finish(&job, &dst, &new);
    let status = job.file_delta_status(0).unwrap();
    assert_eq!(status.way, DeltaWay::Full, "{status:?}");
    assert!(status.reason.contains("MD4"), "{status:?}");

    // A control file of another length: full download from the start.
    let shorter = &new[..MIB];
    let Some(control) = zsyncmake(&dir, shorter, None) else {
        return;
    };
    server.add("/img.zsync", Resource::new(control));
    let dst = dir.join("out2.img");
    let job = start(
        &manager,
        &server.url("/img"),
        &dst,
        seeds(&dir, &[shorter]),
        None,
        &new,
    );
    finish(&job, &dst, &new);
    let status = job.file_delta_status(0).unwrap();
    assert_eq!(status.way, DeltaWay::Full, "{status:?}");
    assert!(status.reason.contains("bytes"), "{status:?}");
}

#[test]
fn a_hostile_control_file_is_a_clear_error() {
    let dir = support::scratch("delta-hostile");
    let new = patterned(MIB, 13);
    let server = TestServer::start();
    server.add("/img", Resource::new(new.clone()));
    let mut hostile = format!(
        "zsync: 0.6.2\nBlocksize: 2048\nLength: {}\nHash-Lengths: 2,2,5\nSHA-1: {}\n\n",
        u64::MAX / 2,
        "00".repeat(20)
    )
    .into_bytes();
    hostile.extend_from_slice(&[0u8; 100]);
    server.add("/img.zsync", Resource::new(hostile));
    let manager = Manager::open(None).unwrap();
    let job = start(
        &manager,
        &server.url("/img"),
        &dir.join("out.img"),
        seeds(&dir, &[&new]),
        None,
        &new,
    );
    assert_eq!(wait(&job, Duration::from_secs(60)), JobState::Error);
    let error = job.error().unwrap();
    assert_eq!(
        error.code.0,
        qmgr::hresult::QM_BG_E_INVALID_SERVER_RESPONSE,
        "{error:?}"
    );
    assert!(error.description.contains("blocks"), "{error:?}");
    job.cancel().unwrap();
}

#[test]
fn a_connection_cut_mid_delta_resumes_byte_exact() {
    let new = patterned(4 * MIB, 14);
    let (old, _) = with_changed_blocks(&new, 2048, 4);
    let Some((dir, server)) = served("delta-cut", &new) else {
        return;
    };
    server.script(
        "/img",
        vec![Fault::CloseAfter(100_000), Fault::ResetAfter(70_000)],
    );
    let job = download(&dir, &server, &new, &[&old]);
    assert_eq!(job.file_delta_status(0).unwrap().way, DeltaWay::Delta);
    assert_eq!(server.faults_left("/img"), 0);
    // Once the file's version was seen, every range carried it in
    // If-Range (the resumed ones too): only the first range of each of the
    // job's 6 connections may have gone out before the first answer.
    let without = server
        .requests("/img")
        .iter()
        .filter(|r| r.if_range.is_none())
        .count();
    assert!(without <= 6, "{without} ranges without If-Range");
}

/// A delta job (not resumed) fetching `/img` of the HTTPS server (which
/// `ca` signed) to `dst` from `seeds`, with the control file at `control`.
pub(crate) fn https_job(
    manager: &Manager,
    (server, ca): (&TestServer, &TestCa),
    dst: &Path,
    seeds: Vec<PathBuf>,
    control: String,
) -> Job {
    let job = delta_job(manager, &server.url("/img"), dst, seeds, Some(control));
    job.set_ca_file(Some(ca.ca_pem.to_str().unwrap())).unwrap();
    job
}

#[test]
fn https_delta() {
    let dir = support::scratch("delta-https");
    let new = patterned(4 * MIB, 15);
    let (old, _) = with_changed_blocks(&new, 2048, 20);
    let Some(control) = zsyncmake(&dir, &new, None) else {
        return;
    };
    let ca = TestCa::generate(&dir.join("ca"));
    let server = TestServer::start_tls(&ca, false);
    serve(&server, &new, control);
    let manager = Manager::open(None).unwrap();
    let dst = dir.join("out.img");
    let job = https_job(
        &manager,
        (&server, &ca),
        &dst,
        seeds(&dir, &[&old]),
        server.url("/img.zsync"),
    );
    job.set_file_sha256(0, Some(&sha256_hex(&new))).unwrap();
    job.resume().unwrap();
    finish(&job, &dst, &new);
    let status = job.file_delta_status(0).unwrap();
    assert_eq!(status.way, DeltaWay::Delta, "{status:?}");
    assert!(server.body_bytes_sent("/img") < new.len() as u64 / 4);
}

#[test]
fn the_control_files_url_line_is_never_fetched() {
    // zsyncmake -u names another server: qmgr fetches from the job's URL.
    let dir = support::scratch("delta-urlline");
    let new = patterned(2 * MIB, 16);
    let (old, _) = with_changed_blocks(&new, 2048, 10);
    let Some(control) = zsyncmake(&dir, &new, None) else {
        return;
    };
    let end = control.windows(2).position(|w| w == b"\n\n").unwrap();
    let header = String::from_utf8(control[..end].to_vec()).unwrap();
    assert!(header.contains("URL: target.img"), "{header}");
    let mut edited = header
        .replace("URL: target.img", "URL: http://127.0.0.1:9/evil.img")
        .into_bytes();
    edited.extend_from_slice(&control[end..]);
    let server = TestServer::start();
    serve(&server, &new, edited);
    let job = download(&dir, &server, &new, &[&old]);
    let status = job.file_delta_status(0).unwrap();
    assert_eq!(status.way, DeltaWay::Delta, "{status:?}");
}

#[test]
fn a_control_file_elsewhere_gets_none_of_the_files_credentials_or_headers() {
    let dir = support::scratch("delta-origin");
    let new = patterned(2 * MIB, 21);
    let (old, _) = with_changed_blocks(&new, 2048, 10);
    let Some(control) = zsyncmake(&dir, &new, None) else {
        return;
    };
    let files = TestServer::start();
    let elsewhere = TestServer::start();
    files.add("/img", Resource::new(new.clone()));
    elsewhere.add("/img.zsync", Resource::new(control));
    let manager = Manager::open(None).unwrap();
    let dst = dir.join("out.img");
    let job = delta_job(
        &manager,
        &files.url("/img"),
        &dst,
        seeds(&dir, &[&old]),
        Some(elsewhere.url("/img.zsync")),
    );
    job.set_custom_headers(Some("X-Secret: 42\r\n")).unwrap();
    job.set_credentials(Some(("user", "pass"))).unwrap();
    job.resume().unwrap();
    finish(&job, &dst, &new);
    assert_eq!(job.file_delta_status(0).unwrap().way, DeltaWay::Delta);
    let control_requests = elsewhere.requests("/img.zsync");
    assert_eq!(control_requests.len(), 1);
    assert!(control_requests[0].header("x-secret").is_none());
    assert!(control_requests[0].header("authorization").is_none());
    // The file's own origin gets both.
    for r in files.requests("/img") {
        assert_eq!(r.header("x-secret"), Some("42"));
        assert!(r.header("authorization").is_some());
    }
}

/// The CLI with the state directory `state` and `args`, its output
/// dropped.
#[cfg(feature = "state")]
pub(crate) fn cli(state: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(support::qmgr_bin());
    cmd.arg("--state").arg(state).args(args);
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    cmd
}

#[cfg(feature = "state")]
#[test]
fn sigkill_of_the_cli_mid_delta_resumes_byte_exact() {
    let new = patterned(4 * MIB, 17);
    let (old, changed) = with_changed_blocks(&new, 2048, 5);
    let Some((dir, server)) = served("delta-sigkill", &new) else {
        return;
    };
    let seed = seeds(&dir, &[&old]).remove(0);
    let state = dir.join("state");
    let dst = dir.join("out.img");
    let url = server.url("/img");
    let args = |extra: &[&str]| cli(&state, extra);
    let mut child = args(&[
        "transfer",
        &url,
        dst.to_str().unwrap(),
        "--seed",
        seed.to_str().unwrap(),
        "--max-bandwidth",
        "256K",
        "--quiet",
    ])
    .spawn()
    .unwrap();
    // Mid-delta: the seeds scanned, ranges flowing.
    support::wait_until("ranges flowing", Duration::from_secs(60), || {
        server.body_bytes_sent("/img") >= 300_000
    });
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(!dst.exists());
    let sent_before = server.body_bytes_sent("/img");
    let run = args(&["run", "--quiet"]).status().unwrap();
    assert!(run.success());
    let got = std::fs::read(&dst).unwrap();
    assert_eq!(sha256_hex(&got), sha256_hex(&new), "not byte-exact");
    // The seeds' blocks were kept: the run fetched about what was missing,
    // not the file.
    let after = server.body_bytes_sent("/img") - sent_before;
    let missing = (3 * changed * 2048) as u64;
    assert!(
        after <= missing,
        "{after} bytes after the kill, {missing} at most missing"
    );
    assert!(server.body_bytes_sent("/img") < new.len() as u64 / 2);
}

/// `ctests/delta.c`: the same through the C API, in this process's
/// library or (`daemon`) through a qmgrd that reads the seed as the owner.
fn c_program(name: &str, daemon: bool) {
    let new = patterned(3 * MIB, 18);
    let (old, _) = with_changed_blocks(&new, 2048, 10);
    let Some((dir, server)) = served(name, &new) else {
        return;
    };
    let seed = seeds(&dir, &[&old]).remove(0);
    let expected = dir.join("expected");
    std::fs::write(&expected, &new).unwrap();
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let exe = support::compile("delta.c", support::Build::Plain, &dir);
    let url = server.url("/img");
    let args = [
        work.to_str().unwrap(),
        &url,
        seed.to_str().unwrap(),
        expected.to_str().unwrap(),
        &sha256_hex(&new),
    ];
    #[cfg(all(feature = "service", feature = "state"))]
    if daemon {
        let qmgrd = support::daemon::Qmgrd::start(&dir.join("daemon"), &[]);
        let address = format!("unix:{}", qmgrd.socket.display());
        support::run_with_env(
            &exe,
            &args,
            &[("QMGR_TEST_ADDRESS", Path::new(&address))],
            Duration::from_secs(120),
        );
        assert!(server.body_bytes_sent("/img") < new.len() as u64 / 2);
        return;
    }
    assert!(!daemon);
    support::run_with_env(&exe, &args, &[], Duration::from_secs(120));
    assert!(server.body_bytes_sent("/img") < new.len() as u64 / 2);
}

#[test]
fn the_c_api_does_a_delta_download() {
    c_program("delta-c", false);
}

#[cfg(all(feature = "service", feature = "state"))]
#[test]
fn the_c_api_does_a_delta_download_through_qmgrd() {
    c_program("delta-c-daemon", true);
}
