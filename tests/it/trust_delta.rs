//! Delta downloads (issue 24) under attack: a hostile server (answers of
//! another version, of other bytes than asked, a control file that changes
//! between runs) and a hostile or careless local user (seeds that are
//! FIFOs, devices, directories, huge sparse files; through qmgrd, seeds the
//! owner may not read). What must hold: never a wrong file, never a hang,
//! and a seed read with the owner's rights only.

use crate::delta::{finish, seeds, served, start, with_changed_blocks, MIB};
use crate::support;

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use qmgr::{DeltaWay, JobState, Manager};
use support::http_server::{patterned, Resource, TestServer};

/// Opens the FIFO at `path` for writing without waiting, when it exists:
/// a reader blocked in `open` (the code under test, before its fix) is let
/// go, so that a failing test leaves no thread hung behind it.
struct Unblock(PathBuf);

impl Drop for Unblock {
    fn drop(&mut self) {
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&self.0);
    }
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid, NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

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
    mkfifo(&fifo);
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
    let _unblock = Unblock(paths[0].clone());
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
/// control file of `MAX_BLOCKS` blocks and scan a seed in parts with it.
const CONTROL_MEMORY_LIMIT_KIB: i64 = 400 * 1024;

/// A control file of the most blocks qmgr reads (2^23 of 64 bytes, 7
/// bytes of checksums each: 56 MiB), every block a key of its own, and a
/// seed long enough to be scanned in parts: the table of blocks is a few
/// bytes a block, shared by the parts, not a map per part (800 MiB each).
#[test]
fn the_largest_control_file_takes_memory_in_proportion_to_its_size() {
    let dir = support::scratch("delta-largest-control");
    let new = patterned(256 * 1024, 33);
    let blocks: u64 = 1 << 23;
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
    #[allow(clippy::zombie_processes)] // reaped by wait4 below
    let child = std::process::Command::new(support::qmgr_bin())
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
    // wait4: this child's own peak, whatever other tests' children take.
    let (mut status, mut usage) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
    // SAFETY: a child of this process, waited for once; valid pointers.
    let waited = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(waited, child.id() as i32);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{status}"
    );
    assert_eq!(std::fs::read(&dst).unwrap(), new);
    assert!(
        usage.ru_maxrss < CONTROL_MEMORY_LIMIT_KIB,
        "the CLI peaked at {} MiB",
        usage.ru_maxrss / 1024
    );
}
