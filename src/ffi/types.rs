//! The C types of `qmgr.h`: handles, plain structs and the callback type.
#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_void};

pub use crate::hresult::qm_hresult;

/// A manager handle. 0 is never valid; values are never reused in a process.
pub type qm_manager_t = u64;

/// A job reference handle. 0 is never valid; values are never reused in a process.
pub type qm_job_t = u64;

/// A job's GUID, 16 bytes in RFC 4122 order.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct qm_guid {
    pub bytes: [u8; 16],
}

/// One file to add (`FILESETINFO`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct qm_file_set_info {
    /// `http://`, `https://` or `file://` URL, or an absolute path (UTF-8, at most 2,200 bytes).
    pub remote_name: *const c_char,
    /// Absolute destination path (UTF-8); its directory must exist at transfer time.
    pub local_name: *const c_char,
    /// Expected size in bytes, 0 if unknown; advisory.
    pub size_hint: u64,
}

/// A stretch of a remote file to download (`BG_FILE_RANGE`): `length`
/// bytes from `initial_offset`, or to the end of the file when `length` is
/// `QM_LENGTH_TO_EOF`. A length of 0 is not valid.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct qm_file_range {
    /// The first byte, counted from 0.
    pub initial_offset: u64,
    /// How many bytes, or `QM_LENGTH_TO_EOF`.
    pub length: u64,
}

/// Progress of one file (`BG_FILE_PROGRESS`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct qm_file_progress {
    /// Size in bytes, `QM_SIZE_UNKNOWN` until known.
    pub bytes_total: u64,
    /// Bytes transferred so far.
    pub bytes_transferred: u64,
    /// The whole file is transferred (and verified when a SHA-256 is set).
    pub completed: bool,
}

/// Progress of a job (`BG_JOB_PROGRESS` plus rate and ETA).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct qm_job_progress {
    /// Sum of the file sizes, `QM_SIZE_UNKNOWN` until every size is known.
    pub bytes_total: u64,
    /// Bytes transferred over all files.
    pub bytes_transferred: u64,
    /// Number of files.
    pub files_total: u32,
    /// Number of files completely transferred.
    pub files_transferred: u32,
    /// Smoothed rate in bytes per second; 0 when not transferring.
    pub bytes_per_second: u64,
    /// Estimated seconds to go, `QM_SIZE_UNKNOWN` (UINT64_MAX) when unknown.
    pub eta_seconds: u64,
}

/// A job's last error.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct qm_job_error {
    /// The HRESULT of the error.
    pub code: qm_hresult,
    /// A `QM_ERROR_CONTEXT_*` value: where it happened.
    pub context: u32,
    /// The file concerned, `QM_FILE_INDEX_NONE` for the whole job.
    pub file_index: u32,
    /// The HTTP status involved, 0 if none.
    pub http_status: u32,
}

/// A job's times, in Unix epoch milliseconds; 0 means "not yet".
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct qm_job_times {
    pub creation_ms: i64,
    pub modification_ms: i64,
    pub transfer_completion_ms: i64,
}

/// A notification callback: `event` is one `QM_NOTIFY_*` event bit,
/// `file_index` the file (or `QM_FILE_INDEX_NONE`), `code` the error for
/// `QM_NOTIFY_JOB_ERROR` (else `QM_S_OK`), `context` the caller's pointer.
pub type qm_notify_fn = Option<
    unsafe extern "C" fn(
        job: qm_job_t,
        event: u32,
        file_index: u32,
        code: qm_hresult,
        context: *mut c_void,
    ),
>;
