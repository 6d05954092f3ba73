//! Local sources: `file://` URLs and absolute paths.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::engine::transport::error::TransferError;
use crate::engine::transport::source::Opened;
use crate::engine::transport::validator::Validator;
use crate::engine::types::ErrorContext;
use crate::hresult::*;

/// Opens a local source at `offset`, restarting at 0 when the file is not
/// the one the partial data came from.
pub(crate) fn open(
    path: &Path,
    offset: u64,
    previous: Option<&Validator>,
) -> Result<Opened, TransferError> {
    let remote_error = |err: std::io::Error| {
        TransferError::fatal(
            HResult::from_io_error(&err),
            ErrorContext::RemoteFile,
            format!("cannot read the source '{}': {err}", path.display()),
        )
    };
    // O_NONBLOCK: opening a FIFO must not wait for a writer (the check for a
    // regular file below then refuses it); regular files ignore the flag.
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(remote_error)?;
    let meta = file.metadata().map_err(remote_error)?;
    if !meta.is_file() {
        return Err(TransferError::fatal(
            HResult(QM_E_ACCESSDENIED),
            ErrorContext::RemoteFile,
            format!("the source '{}' is not a regular file", path.display()),
        ));
    }
    let validator = Validator::Local {
        len: meta.len(),
        mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
    };
    let same_version = previous.is_none_or(|p| *p == validator);
    let start = if same_version && offset <= meta.len() {
        offset
    } else {
        0
    };
    file.seek(SeekFrom::Start(start)).map_err(remote_error)?;
    Ok(Opened {
        start,
        total: Some(meta.len()),
        validator: Some(validator),
        end: Some(meta.len()),
        // Local files are read by one connection: a disk gains nothing
        // from several readers of one file.
        ranges: false,
        body: Box::new(file.take(meta.len() - start)),
        final_url: None,
        headers: None,
    })
}
