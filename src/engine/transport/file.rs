//! Local sources: `file://` URLs and absolute paths.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::{Opened, TransferError, Validator};
use crate::engine::error::{Error, Result};
use crate::engine::types::ErrorContext;
use crate::hresult::*;

/// Parses the part of a `file://` URL after the scheme: an empty host or
/// `localhost`, then an absolute, percent-encoded path.
pub(super) fn parse_file_url(rest: &str) -> Result<PathBuf> {
    let path = if rest.starts_with('/') {
        rest
    } else if let Some(stripped) = rest.strip_prefix("localhost") {
        stripped
    } else {
        return Err(Error::invalid_arg(format!(
            "the file URL 'file://{rest}' must name a local absolute path (file:///path)"
        )));
    };
    if !path.starts_with('/') {
        return Err(Error::invalid_arg(format!(
            "the file URL 'file://{rest}' has no absolute path"
        )));
    }
    let decoded = percent_decode(path).ok_or_else(|| {
        Error::invalid_arg(format!("the file URL 'file://{rest}' has a bad %-escape"))
    })?;
    Ok(PathBuf::from(decoded))
}

/// Decodes %XX escapes; refuses malformed escapes, NUL and non-UTF-8 results.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            let byte = u8::from_str_radix(hex, 16).ok()?;
            if byte == 0 {
                return None;
            }
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Opens a local source at `offset`, restarting at 0 when the file is not
/// the one the partial data came from.
pub(super) fn open(
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
            HResult::from_win32(5),
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
        body: Box::new(file.take(meta.len() - start)),
    })
}
