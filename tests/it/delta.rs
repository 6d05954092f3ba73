//! Delta downloads (issue 24): a file with seeds and a zsync control file
//! made by Debian's `zsyncmake` 0.6.2, served with the target by the fault
//! server over real sockets (HTTP and HTTPS). Each test checks what a user
//! relies on: the bytes at the local name (SHA-256), how many body bytes
//! the server sent for the file, and which way the job says it went.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use qmgr::{DeltaSource, DeltaWay, FileSpec, Job, JobState, Manager};
use support::http_server::{patterned, Fault, Resource, TestServer};
use support::{sha256_hex, wait};

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

/// The control file `zsyncmake` writes for `data` (blocks of `blocksize`,
/// or its own choice), or `None` (skipped) without zsyncmake.
fn zsyncmake(dir: &Path, data: &[u8], blocksize: Option<u32>) -> Option<Vec<u8>> {
    if !support::have_tool("zsyncmake") {
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
fn serve(server: &TestServer, data: &[u8], control: Vec<u8>) {
    server.add("/img", Resource::new(data.to_vec()));
    server.add("/img.zsync", Resource::new(control));
}

/// Writes each seed to `dir` and returns their paths.
fn seeds(dir: &Path, seeds: &[&[u8]]) -> Vec<PathBuf> {
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

/// A job fetching `url` to `dst` from `seeds` (control file beside the
/// URL unless `control` is given), with the target's SHA-256, resumed.
fn start(
    manager: &Manager,
    url: &str,
    dst: &Path,
    seeds: Vec<PathBuf>,
    control: Option<String>,
    sha256: &[u8],
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
    job.set_file_sha256(0, Some(&sha256_hex(sha256))).unwrap();
    job.set_min_retry_delay(1).unwrap();
    job.resume().unwrap();
    job
}

/// Waits for TRANSFERRED, completes, and checks the bytes at `dst`.
fn finish(job: &Job, dst: &Path, data: &[u8]) {
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

/// `data` with every `every`-th block of `block` bytes changed.
fn with_changed_blocks(data: &[u8], block: usize, every: usize) -> (Vec<u8>, usize) {
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
    let dir = support::scratch("delta-1pct");
    let new = patterned(8 * MIB, 1);
    let Some(control) = zsyncmake(&dir, &new, None) else {
        return;
    };
    // The device's copy: 1% of its 2 KiB blocks differ from the new one.
    let (old, changed) = with_changed_blocks(&new, 2048, 100);
    let server = TestServer::start();
    serve(&server, &new, control);
    let manager = Manager::open(None).unwrap();
    let dst = dir.join("out.img");
    let job = start(
        &manager,
        &server.url("/img"),
        &dst,
        seeds(&dir, &[&old]),
        None,
        &new,
    );
    finish(&job, &dst, &new);
    let status = job.file_delta_status(0).unwrap();
    assert_eq!(status.way, DeltaWay::Delta, "{status:?}");
    let fetched = server.body_bytes_sent("/img");
    assert_eq!(
        status.bytes_from_seeds + fetched,
        new.len() as u64,
        "every byte once"
    );
    // zsync matches two blocks in a row: a changed block costs its own
    // bytes and at most its neighbours'.
    assert!(
        fetched <= (3 * changed * 2048) as u64,
        "{fetched} bytes fetched for {changed} changed blocks"
    );
    assert!(fetched >= (changed * 2048) as u64);
    // Every request for the file was a single range.
    for r in server.requests("/img") {
        let range = r.range.expect("a range request");
        assert!(!range.contains(','), "{range}");
    }
}
