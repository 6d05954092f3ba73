//! Temporary ("partial") files: created beside the destination, private,
//! never following links, and moved into place only by an atomic rename
//! after the data is on disk.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::engine::runtime::rights::Rights;

/// How many bytes of the destination's name the temporary name keeps.
const NAME_KEEP: usize = 64;

/// A fresh temporary path in `local`'s directory: hidden, recognisable, and
/// unique in practice (a 48-bit tag; `create` refuses an existing name anyway).
pub(crate) fn temp_path_for(local: &Path) -> PathBuf {
    local.with_file_name(format!(".{}.{:012x}{SUFFIX}", kept_name(local), next_tag()))
}

/// The ending of every temporary file's name.
const SUFFIX: &str = ".qmgr-part";

/// The part of `local`'s file name that its temporary names keep.
fn kept_name(local: &Path) -> String {
    let mut base = local
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut cut = base.len().min(NAME_KEEP);
    while !base.is_char_boundary(cut) {
        cut -= 1;
    }
    base.truncate(cut);
    base
}

/// True when `temp` is a name `temp_path_for(local)` could have given: in
/// `local`'s directory, `.NAME.` + 12 hex digits + `.qmgr-part`. Paths read
/// back from a state directory are touched only if they pass, so a stored
/// path can never make qmgr truncate or delete an unrelated file.
pub(crate) fn is_own_temp(temp: &Path, local: &Path) -> bool {
    let Some(name) = temp.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let prefix = format!(".{}.", kept_name(local));
    let tag = name
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix(SUFFIX));
    temp.parent() == local.parent()
        && local.parent().is_some()
        && tag.is_some_and(|t| t.len() == 12 && t.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The next 48-bit temporary-name tag: a per-process random seed and a
/// counter, mixed (splitmix64), so names differ across processes and runs
/// without asking the kernel for randomness once per file.
fn next_tag() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static SEED: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = *SEED.get_or_init(|| uuid::Uuid::new_v4().as_u64_pair().0);
    let mut z = seed.wrapping_add(
        COUNTER
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15),
    );
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) & 0xffff_ffff_ffff
}

/// Creates a new temporary file: `O_CREAT | O_EXCL | O_NOFOLLOW`, mode 0600.
pub(crate) fn create(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// Reopens an existing temporary file for more data, refusing symbolic links.
pub(crate) fn reopen(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// How many files `finish_all_files` fsyncs at once: concurrent fsyncs share
/// journal commits on ext4/xfs, where serial ones pay one commit each.
const PARALLEL_SYNCS: usize = 8;

/// Readies every temporary file to be renamed into place, several at a
/// time: gives it `mode` (it was private while partial) and makes its data
/// and mode durable (fsync). Every thread it starts acts with the job
/// owner's `rights` (the caller's thread already does). Returns the first
/// failure with its index.
pub(crate) fn finish_all_files(
    paths: &[&Path],
    mode: u32,
    rights: &Rights,
) -> Result<(), (usize, io::Error)> {
    let sync = |i: usize| {
        reopen(paths[i])
            .and_then(|f| {
                f.set_permissions(std::fs::Permissions::from_mode(mode))?;
                f.sync_all()
            })
            .map_err(|e| (i, e))
    };
    if paths.len() <= 1 {
        return (0..paths.len()).try_for_each(sync);
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let workers = PARALLEL_SYNCS.min(paths.len());
    let results: Vec<Result<(), (usize, io::Error)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let _owner = rights.enter().map_err(|e| (0, e))?;
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= paths.len() {
                            return Ok(());
                        }
                        sync(i)?;
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(Ok(())))
            .collect()
    });
    results
        .into_iter()
        .filter_map(Result::err)
        .min_by_key(|(i, _)| *i)
        .map_or(Ok(()), Err)
}

/// The mode a finished file gets: what `open(…, 0666)` would give under the
/// process's umask, as curl and wget do. The umask is read from
/// `/proc/self/status` (setting it to read it would race with other threads);
/// where that is unavailable, 022 is assumed.
pub(crate) fn final_mode() -> u32 {
    let umask = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022);
    0o666 & !umask
}

/// Makes the renames in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Deletes a temporary file; a file already gone is not an error.
pub(crate) fn remove(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_are_hidden_siblings_and_unique() {
        let local = Path::new("/some/dir/firmware.bin");
        let a = temp_path_for(local);
        let b = temp_path_for(local);
        assert_ne!(a, b);
        assert_eq!(a.parent(), local.parent());
        let name = a.file_name().unwrap().to_str().unwrap();
        assert!(
            name.starts_with(".firmware.bin.") && name.ends_with(".qmgr-part"),
            "{name}"
        );
        let tags: std::collections::HashSet<_> =
            (0..10_000).map(|_| temp_path_for(local)).collect();
        assert_eq!(tags.len(), 10_000, "temporary names repeat");
        let long = format!("/d/{}", "é".repeat(100));
        assert!(temp_path_for(Path::new(&long)).file_name().unwrap().len() < 100);
        assert!(is_own_temp(
            &temp_path_for(Path::new(&long)),
            Path::new(&long)
        ));
    }

    #[test]
    fn only_names_qmgr_gives_count_as_its_temporary_files() {
        let local = Path::new("/srv/fw.bin");
        assert!(is_own_temp(&temp_path_for(local), local));
        for other in [
            "/srv/fw.bin",
            "/etc/passwd",
            "/other/.fw.bin.0123456789ab.qmgr-part",
            "/srv/.fw.bin.0123456789a.qmgr-part",
            "/srv/.fw.bin.0123456789xy.qmgr-part",
            "/srv/.other.0123456789ab.qmgr-part",
            "/srv/.fw.bin.0123456789ab.qmgr-part.x",
        ] {
            assert!(!is_own_temp(Path::new(other), local), "{other}");
        }
        assert!(is_own_temp(
            Path::new("/srv/.fw.bin.0123456789ab.qmgr-part"),
            local
        ));
    }

    #[test]
    fn create_refuses_existing_files_and_links() {
        let dir = crate::testing::Scratch::new("partial");
        let path = dir.join("x.part");
        let _ = std::fs::remove_file(&path);
        create(&path).unwrap();
        assert_eq!(
            create(&path).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        let link = dir.join("link.part");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(create(&link).is_err());
        assert!(
            reopen(&link).is_err(),
            "reopen must not follow a symbolic link"
        );
    }
}
