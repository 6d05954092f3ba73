//! Commit: moving transferred files into place, deleting temporary ones,
//! and handing them over to a job's new owner; each with the job owner's
//! rights (`rights`).

use std::path::{Path, PathBuf};

use crate::engine::error::{Error, Result};
use crate::engine::runtime::partial;
use crate::engine::runtime::rights::Rights;
use crate::engine::types::Owner;
use crate::hresult::{HResult, QM_E_ACCESSDENIED};

/// A transferred file waiting to be moved into place by `complete`.
pub(crate) struct Pending {
    pub index: usize,
    pub temp: Option<PathBuf>,
    pub local: PathBuf,
}

/// Fsyncs and renames each pending file in order, then fsyncs the
/// directories touched (even after a failure: renames done stay done),
/// all with the job owner's `rights` (`QM_E_ACCESSDENIED`, nothing done,
/// when they cannot be taken). The rename replaces whatever entry is at
/// the local name (a planted symbolic or hard link is replaced, never
/// written through). Returns the indexes moved into place, and the first
/// failure.
pub(crate) fn commit_files(pending: &[Pending], rights: &Rights) -> (Vec<usize>, Result<()>) {
    // The process's umask, read before the switch.
    let mode = partial::final_mode();
    let _owner = match rights.enter() {
        Ok(guard) => guard,
        Err(e) => {
            return (
                Vec::new(),
                Err(Error::new(QM_E_ACCESSDENIED, rights.refusal(&e))),
            )
        }
    };
    let failure = |p: &Pending, err: std::io::Error| Error {
        code: HResult::from_io_error(&err),
        message: format!(
            "cannot move file {} into place at '{}': {err}",
            p.index,
            p.local.display()
        ),
    };
    let missing = || {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "the temporary file is missing",
        )
    };
    // Every file's data on disk before any of them appears (nothing is
    // renamed if one cannot be synced).
    if let Some(p) = pending.iter().find(|p| p.temp.is_none()) {
        return (Vec::new(), Err(failure(p, missing())));
    }
    let temps: Vec<&Path> = pending.iter().filter_map(|p| p.temp.as_deref()).collect();
    if let Err((i, err)) = partial::finish_all_files(&temps, mode, rights) {
        return (Vec::new(), Err(failure(&pending[i], err)));
    }
    let mut done = Vec::new();
    let mut dirs: Vec<&Path> = Vec::new();
    let mut outcome = Ok(());
    for (p, temp) in pending.iter().zip(&temps) {
        if let Err(err) = std::fs::rename(temp, &p.local) {
            outcome = Err(failure(p, err));
            break;
        }
        done.push(p.index);
        if let Some(dir) = p.local.parent() {
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
    }
    for dir in dirs {
        // A failed directory sync cannot undo the renames; nothing to report.
        let _ = partial::sync_dir(dir);
    }
    (done, outcome)
}

/// Deletes temporary files with the job owner's `rights`; returns the
/// indexes whose file is gone and how many could not be deleted (all of
/// them when the rights cannot be taken).
pub(crate) fn remove_temps(temps: &[(usize, PathBuf)], rights: &Rights) -> (Vec<usize>, usize) {
    let Ok(_owner) = rights.enter() else {
        return (Vec::new(), temps.len());
    };
    let mut removed = Vec::with_capacity(temps.len());
    let mut undeleted = 0;
    for (index, temp) in temps {
        if partial::remove(temp).is_ok() {
            removed.push(*index);
        } else {
            undeleted += 1;
        }
    }
    (removed, undeleted)
}

/// Hands a job's temporary files over from the owner of `old` to `new`
/// (`take_ownership`): each is opened with the old owner's rights (never
/// through a link) and, when it is a regular file of the old owner's with
/// one name, given to the new owner with `fchown` (with the process's
/// rights: root may). Returns the indexes of the files that could not be
/// handed over; their temporary file is deleted with the old owner's
/// rights (best effort), and their bytes are to be fetched again. Files of
/// the same user stay as they are.
pub(crate) fn hand_over(temps: &[(usize, PathBuf)], old: &Rights, new: Owner) -> Vec<usize> {
    use std::os::unix::fs::MetadataExt;
    let from = old.owner().uid;
    if from == new.uid {
        return Vec::new();
    }
    let mut lost = Vec::new();
    for (index, path) in temps {
        let opened = old.enter().and_then(|_old| {
            let file = partial::reopen(path)?;
            let meta = file.metadata()?;
            Ok((file, meta))
        });
        let handed = match opened {
            Ok((file, meta)) if meta.is_file() && meta.nlink() == 1 && meta.uid() == from => {
                std::os::unix::fs::fchown(&file, Some(new.uid), Some(new.gid)).is_ok()
            }
            _ => false,
        };
        if !handed {
            let _ = old.enter().map(|_old| partial::remove(path));
            lost.push(*index);
        }
    }
    lost
}
