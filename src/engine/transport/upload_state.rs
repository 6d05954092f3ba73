//! What an upload keeps between attempts (issue 25): plain data the job
//! model holds and the store writes, in every build (the protocols
//! themselves, `upload`, are the `upload` feature's, the only user of
//! its functions).
#![cfg_attr(not(feature = "upload"), allow(dead_code))]

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::SystemTime;

use crate::engine::transport::error::TransferError;

/// Which protocol an upload speaks.
pub(crate) use crate::engine::types::UploadProtocol as Protocol;

/// What one attempt leaves for the next: everything an upload needs to
/// resume, plain data for the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UploadState {
    pub protocol: Protocol,
    /// The upload's URL, once a creation answered (a discovery, of the
    /// caller's origin); `None`: the next attempt creates one.
    pub upload_url: Option<String>,
    /// The bytes the server has confirmed (its last `Upload-Offset`).
    pub confirmed: u64,
    /// The local file's size and mtime (ns since the epoch) when the
    /// upload started: the version being sent.
    pub file_size: u64,
    pub file_mtime_ns: i128,
    /// When the server said it would drop the upload (tus `Upload-Expires`,
    /// the draft's `Upload-Limit: max-age`), if it did.
    pub expires: Option<SystemTime>,
    /// The server's largest request body (the draft's `max-append-size`).
    pub max_append: Option<u64>,
}

impl UploadState {
    /// The state of a new upload of the file at `path` as it is now.
    pub(crate) fn new(protocol: Protocol, path: &Path) -> Result<UploadState, TransferError> {
        let (file_size, file_mtime_ns) = version_of(path)?;
        Ok(UploadState {
            protocol,
            upload_url: None,
            confirmed: 0,
            file_size,
            file_mtime_ns,
            expires: None,
            max_append: None,
        })
    }

    /// Forgets the upload the server lost: the next request creates one.
    pub(crate) fn lost(&mut self) {
        self.upload_url = None;
        self.confirmed = 0;
        self.expires = None;
    }
}

/// The size and mtime (ns since the epoch) of the file at `path`.
pub(crate) fn version_of(path: &Path) -> Result<(u64, i128), TransferError> {
    let meta = std::fs::metadata(path).map_err(|e| TransferError::local_io("reading", path, &e))?;
    Ok((meta.len(), mtime_ns(&meta)))
}

pub(crate) fn mtime_ns(meta: &std::fs::Metadata) -> i128 {
    i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec())
}
