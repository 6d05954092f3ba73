//! Job owners, with real users and real files: a job of another user than
//! the process's (what `qmgrd` runs for a connected user) reads and writes
//! its files with that user's rights, never the process's, and its notify
//! program runs as that user; the owner is kept in the state directory.
//!
//! The tests need root (to create a user and act for it); without root
//! each says so on a `SKIPPED` line (and fails under `QMGR_REQUIRE_TOOLS`).
//! The user is `qmgr-test-owner` (created once, as a system user without a
//! home), and `nobody`.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use qmgr::hresult::*;
use qmgr::{FileSpec, JobState, Manager, NotifyCmdLine, Owner};

use crate::support::http_server::{Resource, TestCa, TestServer};
use crate::support::{self, wait, wait_until};

const LIMIT: Duration = Duration::from_secs(60);

/// True when the process is root; otherwise reports the skip.
fn root() -> bool {
    // SAFETY: geteuid cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        support::skipped("acting for other users needs root (run the suite as root)");
    }
    root
}

/// `id OPTION NAME` as a number.
fn id(option: &str, name: &str) -> Option<u32> {
    let out = Command::new("id").args([option, name]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// The test user, created the first time (idempotent: an existing user is
/// taken as it is, and a `useradd` that lost a race to another process
/// is fine).
fn test_user() -> Owner {
    static USER: OnceLock<Owner> = OnceLock::new();
    *USER.get_or_init(|| {
        const NAME: &str = "qmgr-test-owner";
        if id("-u", NAME).is_none() {
            let _ = Command::new("useradd")
                .args([
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                ])
                .args(["--user-group", NAME])
                .status();
        }
        Owner {
            uid: id("-u", NAME).expect("useradd qmgr-test-owner"),
            gid: id("-g", NAME).expect("the test user's group"),
        }
    })
}

/// `nobody`.
fn nobody() -> Owner {
    Owner {
        uid: id("-u", "nobody").expect("a user nobody"),
        gid: id("-g", "nobody").expect("nobody's group"),
    }
}

/// A directory made for a test, with this owner and mode.
fn dir_of(path: PathBuf, owner: Owner, mode: u32) -> PathBuf {
    std::fs::create_dir_all(&path).unwrap();
    std::os::unix::fs::chown(&path, Some(owner.uid), Some(owner.gid)).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

/// A file with these bytes and mode, root's.
fn root_file(path: PathBuf, data: &[u8], mode: u32) -> PathBuf {
    std::fs::write(&path, data).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

/// The places of one test: `user` is the test user's own directory (0755),
/// `root` only root may write (0755), `public` a file anyone may read,
/// `secret` a file only root may read.
struct Places {
    scratch: support::Scratch,
    user: PathBuf,
    root: PathBuf,
    public: PathBuf,
    secret: PathBuf,
}

fn places(name: &str) -> Places {
    let scratch = support::scratch(name);
    // Reachable by everyone (the scratch directory's parents are 0755).
    std::fs::set_permissions(&*scratch, std::fs::Permissions::from_mode(0o755)).unwrap();
    let root_owner = Owner { uid: 0, gid: 0 };
    let user = dir_of(scratch.join("user"), test_user(), 0o755);
    let root = dir_of(scratch.join("root"), root_owner, 0o755);
    let public = root_file(root.join("public.bin"), &data(), 0o644);
    let secret = root_file(root.join("secret.bin"), b"root's secret\n", 0o600);
    Places {
        scratch,
        user,
        root,
        public,
        secret,
    }
}

fn data() -> Vec<u8> {
    support::http_server::patterned(300_000, 5)
}

fn url(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// Adds `remote` → `local` to a new job of `owner`, runs it and returns it
/// with its settled state.
fn run_job(manager: &Manager, owner: Owner, remote: &str, local: &Path) -> (qmgr::Job, JobState) {
    let job = manager.create_job_owned_by("owned", owner).unwrap();
    assert_eq!(job.owner(), owner);
    job.add_files(&[FileSpec::new(remote, local.to_str().unwrap())])
        .unwrap();
    job.resume().unwrap();
    let state = wait(&job, LIMIT);
    (job, state)
}

#[test]
fn a_users_job_writes_its_destination_as_the_user() {
    if !root() {
        return;
    }
    let p = places("owners-writes");
    let user = test_user();
    let manager = Manager::open(None).unwrap();
    let local = p.user.join("landed.bin");
    let (job, state) = run_job(&manager, user, &url(&p.public), &local);
    assert_eq!(state, JobState::Transferred, "{:?}", job.error());
    // The temporary file is the user's while it waits for complete.
    let temp = job.file_temporary_name(0).unwrap().unwrap();
    let meta = std::fs::symlink_metadata(&temp).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (user.uid, user.gid));
    assert_eq!(job.complete().unwrap(), qmgr::HResult(QM_S_OK));
    assert!(std::fs::read(&local).unwrap() == data(), "not byte-exact");
    let meta = std::fs::metadata(&local).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid()),
        (user.uid, user.gid),
        "the landed file must be the owner's"
    );
    // The process's own jobs are still the process's, and so are their files.
    let own = manager.create_job("mine").unwrap();
    assert_eq!(own.owner(), Owner::current());
    let mine = p.root.join("mine.bin");
    own.add_files(&[FileSpec::new(url(&p.public), mine.to_str().unwrap())])
        .unwrap();
    own.resume().unwrap();
    assert_eq!(wait(&own, LIMIT), JobState::Transferred);
    own.complete().unwrap();
    assert_eq!(std::fs::metadata(&mine).unwrap().uid(), 0);
}

#[test]
fn a_users_job_cannot_write_where_only_root_can() {
    if !root() {
        return;
    }
    let p = places("owners-root-dir");
    let manager = Manager::open(None).unwrap();
    let job = manager.create_job_owned_by("owned", test_user()).unwrap();
    let local = p.root.join("planted.bin");
    let err = job
        .add_files(&[FileSpec::new(url(&p.public), local.to_str().unwrap())])
        .unwrap_err();
    assert_eq!(err.code.0, QM_E_ACCESSDENIED, "{}", err.message);
    assert!(
        err.message.contains(&p.root.display().to_string()),
        "{}",
        err.message
    );
    let err = job
        .add_file_with_ranges(
            &url(&p.public),
            local.to_str().unwrap(),
            &[qmgr::FileRange {
                offset: 0,
                length: 10,
            }],
        )
        .unwrap_err();
    assert_eq!(err.code.0, QM_E_ACCESSDENIED, "{}", err.message);
    // /etc itself, for good measure.
    let err = job
        .add_files(&[FileSpec::new(url(&p.public), "/etc/qmgr-owner-test")])
        .unwrap_err();
    assert_eq!(err.code.0, QM_E_ACCESSDENIED, "{}", err.message);
    assert_eq!(job.file_count(), 0);
    // The same directory is fine for the process's own job.
    let own = manager.create_job("root's").unwrap();
    own.add_files(&[FileSpec::new(url(&p.public), local.to_str().unwrap())])
        .unwrap();
    own.cancel().unwrap();
    assert!(!local.exists());
}

#[test]
fn links_planted_in_the_destination_directory_are_replaced_not_written_through() {
    if !root() {
        return;
    }
    let p = places("owners-links");
    let user = test_user();
    let target_bytes = b"root:x:0:0:root:/root:/bin/sh\n".to_vec();
    let target = root_file(p.root.join("passwd"), &target_bytes, 0o644);
    let symlink = p.user.join("symlink.bin");
    let hardlink = p.user.join("hardlink.bin");
    std::os::unix::fs::symlink(&target, &symlink).unwrap();
    std::fs::hard_link(&target, &hardlink).unwrap();
    assert_eq!(std::fs::metadata(&target).unwrap().nlink(), 2);

    let manager = Manager::open(None).unwrap();
    let job = manager.create_job_owned_by("links", user).unwrap();
    job.add_files(&[
        FileSpec::new(url(&p.public), symlink.to_str().unwrap()),
        FileSpec::new(url(&p.public), hardlink.to_str().unwrap()),
    ])
    .unwrap();
    job.resume().unwrap();
    assert_eq!(
        wait(&job, LIMIT),
        JobState::Transferred,
        "{:?}",
        job.error()
    );
    assert_eq!(job.complete().unwrap(), qmgr::HResult(QM_S_OK));

    // The root file is untouched: same bytes, owner and mode, and no
    // longer linked from the user's directory.
    assert!(std::fs::read(&target).unwrap() == target_bytes);
    let meta = std::fs::metadata(&target).unwrap();
    assert_eq!(
        (meta.uid(), meta.mode() & 0o7777, meta.nlink()),
        (0, 0o644, 1)
    );
    // Each planted link was replaced by the user's own regular file.
    for planted in [&symlink, &hardlink] {
        let landed = std::fs::symlink_metadata(planted).unwrap();
        assert!(landed.file_type().is_file(), "{}", planted.display());
        assert_eq!(landed.uid(), user.uid);
        assert_ne!(landed.ino(), meta.ino());
        assert!(std::fs::read(planted).unwrap() == data());
    }
}

#[test]
fn a_temporary_file_swapped_for_a_hard_link_to_a_root_file_is_refused() {
    if !root() {
        return;
    }
    let p = places("owners-swap");
    let target_bytes = b"root only\n".to_vec();
    let target = root_file(p.root.join("shadow"), &target_bytes, 0o600);
    let manager = Manager::open(None).unwrap();
    let local = p.user.join("swapped.bin");
    let (job, state) = run_job(&manager, test_user(), &url(&p.public), &local);
    assert_eq!(state, JobState::Transferred, "{:?}", job.error());
    // What a user could do (or, with protected_hardlinks off, do alone):
    // put a hard link to a root file where the temporary file was.
    let temp = job.file_temporary_name(0).unwrap().unwrap();
    std::fs::remove_file(&temp).unwrap();
    std::fs::hard_link(&target, &temp).unwrap();
    // `complete` opens it with the user's rights: refused by the kernel.
    let err = job.complete().unwrap_err();
    assert_eq!(err.code.0, QM_E_ACCESSDENIED, "{}", err.message);
    assert_eq!(
        job.state(),
        JobState::Transferred,
        "the job stays as it was"
    );
    assert!(!local.exists());
    let meta = std::fs::metadata(&target).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o7777), (0, 0o600));
    assert!(std::fs::read(&target).unwrap() == target_bytes);
    std::fs::remove_file(&temp).unwrap();
    job.cancel().unwrap();
}

#[test]
fn a_users_job_cannot_read_a_root_only_source() {
    if !root() {
        return;
    }
    let p = places("owners-source");
    let manager = Manager::open(None).unwrap();
    // The file itself, and a symbolic link to it in the user's directory.
    let link = p.user.join("link-to-secret");
    std::os::unix::fs::symlink(&p.secret, &link).unwrap();
    for (remote, name) in [
        (url(&p.secret), "direct.bin"),
        (link.to_str().unwrap().to_string(), "through-link.bin"),
    ] {
        let local = p.user.join(name);
        let (job, state) = run_job(&manager, test_user(), &remote, &local);
        assert_eq!(state, JobState::Error, "{remote}");
        let error = job.error().unwrap();
        assert_eq!(error.code.0, QM_E_ACCESSDENIED, "{}", error.description);
        assert_eq!(error.context, qmgr::ErrorContext::RemoteFile);
        assert_eq!(job.bytes_transferred(), 0);
        job.cancel().unwrap();
        assert!(!local.exists());
        assert!(support::temp_files(&p.user).is_empty());
    }
    // The process reads it for its own job.
    let local = p.root.join("root-reads.bin");
    let job = manager.create_job("root's").unwrap();
    job.add_files(&[FileSpec::new(url(&p.secret), local.to_str().unwrap())])
        .unwrap();
    job.resume().unwrap();
    assert_eq!(wait(&job, LIMIT), JobState::Transferred);
    job.cancel().unwrap();
}

#[test]
fn a_users_job_cannot_use_root_only_tls_files() {
    if !root() {
        return;
    }
    let p = places("owners-tls");
    let ca = TestCa::generate(&p.root.join("ca"));
    // The CA directory is readable by all; each file's mode decides.
    std::fs::set_permissions(&ca.dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    for pem in [&ca.ca_pem, &ca.client_cert_pem, &ca.client_key_pem] {
        std::fs::set_permissions(pem, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let manager = Manager::open(None).unwrap();
    let job = manager.create_job_owned_by("tls", test_user()).unwrap();
    let err = job.set_ca_file(ca.ca_pem.to_str()).unwrap_err();
    assert_eq!(err.code.0, QM_E_ACCESSDENIED, "{}", err.message);
    let err = job
        .set_client_certificate(Some((
            ca.client_cert_pem.to_str().unwrap(),
            ca.client_key_pem.to_str().unwrap(),
        )))
        .unwrap_err();
    assert_eq!(err.code.0, QM_E_ACCESSDENIED, "{}", err.message);
    assert_eq!(job.ca_file(), None);
    assert_eq!(job.client_certificate(), None);
    // The process's own job may use them.
    let own = manager.create_job("root's").unwrap();
    own.set_ca_file(ca.ca_pem.to_str()).unwrap();

    // Readable by the user, the CA file works for the user's transfer...
    let server = TestServer::start_tls(&ca, false);
    server.add("/over-tls", Resource::new(data()));
    std::fs::set_permissions(&ca.ca_pem, std::fs::Permissions::from_mode(0o644)).unwrap();
    job.set_ca_file(ca.ca_pem.to_str()).unwrap();
    let local = p.user.join("over-tls.bin");
    job.add_files(&[FileSpec::new(
        server.url("/over-tls"),
        local.to_str().unwrap(),
    )])
    .unwrap();
    job.resume().unwrap();
    assert_eq!(
        wait(&job, LIMIT),
        JobState::Transferred,
        "{:?}",
        job.error()
    );
    job.complete().unwrap();
    assert!(std::fs::read(&local).unwrap() == data());
    // ...and once it is root's alone again, the transfer reads it as the
    // user and fails, though it was accepted when set.
    let again = manager
        .create_job_owned_by("tls again", test_user())
        .unwrap();
    again.set_ca_file(ca.ca_pem.to_str()).unwrap();
    std::fs::set_permissions(&ca.ca_pem, std::fs::Permissions::from_mode(0o600)).unwrap();
    let local = p.user.join("refused.bin");
    again
        .add_files(&[FileSpec::new(
            server.url("/over-tls"),
            local.to_str().unwrap(),
        )])
        .unwrap();
    again.resume().unwrap();
    assert_eq!(wait(&again, LIMIT), JobState::Error);
    let error = again.error().unwrap();
    assert!(
        error.description.contains("Permission denied")
            && error.description.contains(&ca.ca_pem.display().to_string()),
        "{}",
        error.description
    );
    again.cancel().unwrap();
    own.cancel().unwrap();
}

#[test]
fn the_notify_program_runs_as_the_owner() {
    if !root() {
        return;
    }
    let p = places("owners-notify");
    let user = test_user();
    let out = p.user.join("ids.txt");
    let manager = Manager::open(None).unwrap();
    let job = manager.create_job_owned_by("notify", user).unwrap();
    // Written to a temporary name and renamed: the test reads it whole.
    let script = format!(
        "(id -u; id -g; id -G; id -ru) > {0}.tmp && mv {0}.tmp {0}",
        out.display()
    );
    job.set_notify_cmdline(Some(NotifyCmdLine {
        program: "/bin/sh".into(),
        parameters: Some(format!("sh -c \"{script}\"")),
    }))
    .unwrap();
    job.add_files(&[FileSpec::new(
        url(&p.public),
        p.user.join("notified.bin").to_str().unwrap(),
    )])
    .unwrap();
    job.resume().unwrap();
    assert_eq!(wait(&job, LIMIT), JobState::Transferred);
    wait_until("the notify program's output", LIMIT, || out.exists());
    let ids = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = ids.lines().collect();
    let (uid, gid) = (user.uid.to_string(), user.gid.to_string());
    assert_eq!(
        lines,
        vec![uid.as_str(), gid.as_str(), gid.as_str(), uid.as_str()],
        "effective uid, gid, groups, real uid"
    );
    // The program wrote its file as the user, too.
    assert_eq!(std::fs::metadata(&out).unwrap().uid(), user.uid);
    job.complete().unwrap();
}

#[test]
fn the_owner_survives_reopening_and_take_ownership_changes_it() {
    if !root() {
        return;
    }
    let p = places("owners-state");
    let user = test_user();
    let other = nobody();
    // A state directory only root may enter: the user's threads write its
    // rows all the same (through the descriptors the process opened).
    let state = dir_of(p.scratch.join("state"), Owner { uid: 0, gid: 0 }, 0o700);
    // Both users may create files here (as in /tmp).
    let shared = dir_of(p.scratch.join("shared"), Owner { uid: 0, gid: 0 }, 0o1777);
    let local = shared.join("handed-over.bin");
    let id = {
        let manager = Manager::open(Some(&state)).unwrap();
        let job = manager.create_job_owned_by("kept", user).unwrap();
        job.add_files(&[FileSpec::new(url(&p.public), local.to_str().unwrap())])
            .unwrap();
        job.resume().unwrap();
        assert_eq!(
            wait(&job, LIMIT),
            JobState::Transferred,
            "{:?}",
            job.error()
        );
        job.id()
    };
    let db = rusqlite::Connection::open(state.join("qmgr.db")).unwrap();
    let (version, uid, gid): (u32, u32, u32) = db
        .query_row(
            "SELECT (SELECT user_version FROM pragma_user_version), owner_uid, owner_gid FROM jobs",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    drop(db);
    assert_eq!(version, qmgr::state_schema::SCHEMA_VERSION);
    assert_eq!(version, 10);
    assert_eq!((uid, gid), (user.uid, user.gid));

    let manager = Manager::open(Some(&state)).unwrap();
    let job = manager.job(&id).unwrap();
    assert_eq!(job.owner(), user);
    // The transfer's thread, acting as the user, recorded the end.
    assert_eq!(job.state(), JobState::Transferred);
    let temp = job.file_temporary_name(0).unwrap().unwrap();
    assert_eq!(std::fs::metadata(&temp).unwrap().uid(), user.uid);

    job.take_ownership(other).unwrap();
    assert_eq!(job.owner(), other);
    assert_eq!(
        job.state(),
        JobState::Transferred,
        "the bytes were handed over, not fetched again"
    );
    let meta = std::fs::metadata(&temp).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (other.uid, other.gid));
    // Taking it again changes nothing.
    job.take_ownership(other).unwrap();
    drop(job);
    manager.close();

    let manager = Manager::open(Some(&state)).unwrap();
    let job = manager.job(&id).unwrap();
    assert_eq!(job.owner(), other, "the new owner is kept");
    assert_eq!(job.complete().unwrap(), qmgr::HResult(QM_S_OK));
    let meta = std::fs::metadata(&local).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid()),
        (other.uid, other.gid),
        "the file lands as the new owner's"
    );
    assert!(std::fs::read(&local).unwrap() == data());
    let err = job.take_ownership(user).unwrap_err();
    assert_eq!(err.code.0, QM_BG_E_INVALID_STATE, "{}", err.message);
}

#[test]
fn a_taken_job_transfers_as_its_new_owner() {
    if !root() {
        return;
    }
    let p = places("owners-taken");
    let manager = Manager::open(None).unwrap();
    // Created by the process, given to the user before it runs.
    let job = manager.create_job("given").unwrap();
    let local = p.user.join("given.bin");
    job.add_files(&[FileSpec::new(url(&p.public), local.to_str().unwrap())])
        .unwrap();
    job.take_ownership(test_user()).unwrap();
    job.resume().unwrap();
    assert_eq!(
        wait(&job, LIMIT),
        JobState::Transferred,
        "{:?}",
        job.error()
    );
    job.complete().unwrap();
    assert_eq!(std::fs::metadata(&local).unwrap().uid(), test_user().uid);

    // Taken while it transfers: the user's run stops, the bytes so far
    // are handed over, and the rest comes with nobody's rights.
    let shared = dir_of(p.scratch.join("shared"), Owner { uid: 0, gid: 0 }, 0o1777);
    let local = shared.join("taken-midway.bin");
    let job = manager.create_job_owned_by("midway", test_user()).unwrap();
    job.add_files(&[FileSpec::new(url(&p.public), local.to_str().unwrap())])
        .unwrap();
    job.set_max_bandwidth(64 * 1024).unwrap();
    job.resume().unwrap();
    wait_until("the user's transfer to start", LIMIT, || {
        job.bytes_transferred() > 0
    });
    job.take_ownership(nobody()).unwrap();
    let kept = job.bytes_transferred();
    assert!(kept > 0, "the bytes were handed over, not dropped");
    // Back to the queue (whence the scheduler may have started it again).
    assert!(job.state().is_active(), "{:?}", job.state());
    let temp = job.file_temporary_name(0).unwrap().unwrap();
    assert_eq!(std::fs::metadata(&temp).unwrap().uid(), nobody().uid);
    job.set_max_bandwidth(0).unwrap();
    assert_eq!(
        wait(&job, LIMIT),
        JobState::Transferred,
        "{:?}",
        job.error()
    );
    job.complete().unwrap();
    assert_eq!(std::fs::metadata(&local).unwrap().uid(), nobody().uid);
    assert!(std::fs::read(&local).unwrap() == data(), "not byte-exact");

    // A new owner's rights are checked when it takes the job: an owner of
    // -1 is no user.
    let other = manager.create_job("other").unwrap();
    let err = other
        .take_ownership(Owner {
            uid: u32::MAX,
            gid: 0,
        })
        .unwrap_err();
    assert_eq!(err.code.0, QM_E_INVALIDARG);
    other.cancel().unwrap();
}

/// Run by `a_process_that_is_not_root_cannot_act_for_another_user` in a
/// child process as `nobody` (this test binary itself, with this test
/// alone): what such a process may and may not do.
#[test]
#[ignore = "a helper: run as nobody by a_process_that_is_not_root_cannot_act_for_another_user"]
fn as_nobody_acting_for_another_user_is_refused() {
    assert_ne!(Owner::current().uid, 0, "run as nobody, not root");
    let manager = Manager::open(None).unwrap();
    let err = manager
        .create_job_owned_by("root's", Owner { uid: 0, gid: 0 })
        .unwrap_err();
    assert_eq!(err.code.0, QM_E_ACCESSDENIED, "{}", err.message);
    assert!(err.message.contains("uid 0 gid 0"), "{}", err.message);
    // Its own jobs it may create, either way.
    let own = manager
        .create_job_owned_by("own", Owner::current())
        .unwrap();
    assert_eq!(own.owner(), Owner::current());
    assert_eq!(
        manager.create_job("own too").unwrap().owner(),
        Owner::current()
    );
    let err = own.take_ownership(Owner { uid: 0, gid: 0 }).unwrap_err();
    assert_eq!(err.code.0, QM_E_ACCESSDENIED, "{}", err.message);
    assert_eq!(own.owner(), Owner::current());
    assert_eq!(manager.jobs().unwrap().len(), 2);
    println!("nobody was refused");
}

#[test]
fn a_process_that_is_not_root_cannot_act_for_another_user() {
    if !root() {
        return;
    }
    use std::os::unix::process::CommandExt;
    let nobody = nobody();
    // This very binary, even if a build replaced its file meanwhile.
    let out = Command::new("/proc/self/exe")
        .args([
            "--exact",
            "owners::as_nobody_acting_for_another_user_is_refused",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .uid(nobody.uid)
        .gid(nobody.gid)
        .current_dir("/")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("nobody was refused") && text.contains("1 passed"),
        "{text}"
    );
}
