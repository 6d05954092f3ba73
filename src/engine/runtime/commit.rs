//! Commit: moving transferred files into place, and deleting temporary ones.

use std::path::{Path, PathBuf};

use crate::engine::error::{Error, Result};
use crate::engine::runtime::partial;
use crate::hresult::HResult;

/// A transferred file waiting to be moved into place by `complete`.
pub(crate) struct Pending {
    pub index: usize,
    pub temp: Option<PathBuf>,
    pub local: PathBuf,
}

/// Fsyncs and renames each pending file in order, then fsyncs the
/// directories touched (even after a failure: renames done stay done).
/// Returns the indexes moved into place, and the first failure.
pub(crate) fn commit_files(pending: &[Pending]) -> (Vec<usize>, Result<()>) {
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
    if let Err((i, err)) = partial::finish_all_files(&temps, partial::final_mode()) {
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

/// Deletes temporary files; returns the indexes whose file is gone and how
/// many could not be deleted.
pub(crate) fn remove_temps(temps: &[(usize, PathBuf)]) -> (Vec<usize>, usize) {
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
