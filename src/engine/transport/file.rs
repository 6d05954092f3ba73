//! Local sources: `file://` URLs and absolute paths.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::engine::transport::error::TransferError;
use crate::engine::transport::source::Opened;
use crate::engine::transport::validator::Validator;
use crate::engine::types::ErrorContext;
use crate::hresult::*;

/// Opens `path` for reading when it is a regular file (`Ok(None)` when it
/// is something else), without waiting and without side effects: opening
/// a FIFO would wait for a writer (cancel and close with it, or an API call
/// that checks a name) and a terminal would become the process's
/// controlling one (`O_NONBLOCK | O_NOCTTY`, which regular files ignore);
/// a device is not even opened, unless it takes a regular file's place
/// between the look and the open (opening some devices does something).
/// Every file qmgr reads that a caller named goes through it.
pub(crate) fn open_regular(path: &Path) -> std::io::Result<Option<(File, Metadata)>> {
    if !std::fs::metadata(path)?.is_file() {
        return Ok(None);
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    Ok(meta.is_file().then_some((file, meta)))
}

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
    let Some((mut file, meta)) = open_regular(path).map_err(remote_error)? else {
        return Err(TransferError::fatal(
            HResult(QM_E_ACCESSDENIED),
            ErrorContext::RemoteFile,
            format!("the source '{}' is not a regular file", path.display()),
        ));
    };
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
        socket: None,
        reusable: None,
        final_url: None,
        headers: None,
    })
}

/// Opens a local source for the bytes from `offset` to `end` (`None`: to
/// the end) of a ranged file: of the version `previous` names if the file
/// still is it, else of the file as it is now (its validator tells).
/// `QM_BG_E_INVALID_RANGE` when the range lies outside the file.
pub(crate) fn open_range(
    path: &Path,
    offset: u64,
    end: Option<u64>,
    previous: Option<&Validator>,
) -> Result<Opened, TransferError> {
    let mut opened = open(path, offset, previous)?;
    if opened.start != offset {
        opened = open(path, offset, None)?;
    }
    let total = opened.total.unwrap_or(0);
    if opened.start != offset || offset >= total || end.is_some_and(|e| e > total) {
        return Err(TransferError::fatal(
            HResult(QM_BG_E_INVALID_RANGE),
            ErrorContext::RemoteFile,
            format!(
                "the range from byte {offset} lies outside the source '{}' of {total} bytes",
                path.display()
            ),
        ));
    }
    opened.end = end.or(opened.total);
    Ok(opened)
}

/// Hashes the bytes `from..end` of `file` (at `path`, for errors) into
/// `hasher`: the file a transfer wrote, read back to check it.
pub(crate) fn hash_range(
    file: &std::fs::File,
    path: &Path,
    (from, end): (u64, u64),
    hasher: &mut impl sha2::Digest,
) -> Result<(), TransferError> {
    use std::os::unix::fs::FileExt;
    const STEP: u64 = 1 << 20;
    let mut buf = vec![0u8; STEP.min(end.saturating_sub(from)) as usize];
    let mut at = from;
    while at < end {
        let n = (end - at).min(STEP) as usize;
        file.read_exact_at(&mut buf[..n], at)
            .map_err(|e| TransferError::local_io("re-reading", path, &e))?;
        hasher.update(&buf[..n]);
        at += n as u64;
    }
    Ok(())
}
