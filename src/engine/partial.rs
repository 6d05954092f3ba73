//! Temporary ("partial") files: created beside the destination, private,
//! never following links, and moved into place only by an atomic rename
//! after the data is on disk.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// How many bytes of the destination's name the temporary name keeps.
const NAME_KEEP: usize = 64;

/// A fresh temporary path in `local`'s directory: hidden, recognisable, unique.
pub(crate) fn temp_path_for(local: &Path) -> PathBuf {
    let base = local
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut cut = base.len().min(NAME_KEEP);
    while !base.is_char_boundary(cut) {
        cut -= 1;
    }
    let tag = uuid::Uuid::new_v4().simple().to_string();
    local.with_file_name(format!(".{}.{}.qmgr-part", &base[..cut], &tag[..12]))
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

/// How many files `sync_all_files` fsyncs at once: concurrent fsyncs share
/// journal commits on ext4/xfs, where serial ones pay one commit each.
const PARALLEL_SYNCS: usize = 8;

/// Makes the data of every file durable (fsync), several at a time; returns
/// the first failure with its index.
pub(crate) fn sync_all_files(paths: &[&Path]) -> Result<(), (usize, io::Error)> {
    let sync = |i: usize| {
        reopen(paths[i])
            .and_then(|f| f.sync_all())
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
                scope.spawn(|| loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= paths.len() {
                        return Ok(());
                    }
                    sync(i)?;
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
        let long = format!("/d/{}", "é".repeat(100));
        assert!(temp_path_for(Path::new(&long)).file_name().unwrap().len() < 100);
    }

    #[test]
    fn create_refuses_existing_files_and_links() {
        let dir = std::env::temp_dir().join(format!("qmgr-partial-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
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
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
