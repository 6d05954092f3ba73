//! The store of a build without the `state` feature: no state directory
//! can be opened, so no `Store` value ever exists.

use std::path::Path;

use crate::engine::error::{Error, Result};
use crate::engine::store::records::{FileRecord, JobRecord, Loaded};
use crate::hresult::*;

/// An open state directory; this build cannot open one, so the type has
/// no values and its methods cannot be called.
pub(crate) enum Store {}

impl Store {
    /// Always `QM_E_NOTIMPL`: this build was made without SQLite.
    pub(crate) fn open(dir: &Path) -> Result<(Store, Loaded)> {
        Err(Error::new(
            QM_E_NOTIMPL,
            format!(
                "cannot open the state directory '{}': this qmgr was built without the `state` feature (jobs live in memory only)",
                dir.display()
            ),
        ))
    }

    /// The state directory.
    pub(crate) fn dir(&self) -> &Path {
        match *self {}
    }

    /// Closes the database.
    pub(crate) fn close(&self) {
        match *self {}
    }

    /// Writes a job's row and these rows of its files.
    pub(crate) fn save(
        &self,
        _id: &[u8; 16],
        _job: Option<&JobRecord>,
        _files: &[FileRecord],
    ) -> Result<()> {
        match *self {}
    }

    /// Removes a job that became final.
    pub(crate) fn delete_job(&self, _id: &[u8; 16]) -> Result<()> {
        match *self {}
    }
}
