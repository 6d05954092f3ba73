//! The C types of `qmgr.h`: handles, plain structs and the callback type.
//!
//! Every struct that may grow starts with `struct_size` (the Win32 `cbSize`
//! rule, stated once at the top of the header): the caller sets it to
//! `sizeof` the struct it was compiled with, and the library reads or
//! writes only that many bytes. None has a padding byte the compiler adds
//! by itself: where alignment needs one, it is a named `reserved` field,
//! so that every byte the library hands out is one it wrote.
#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_void};

pub use crate::hresult::qm_hresult;

/// A manager handle. 0 is never valid; values are never reused in a process.
pub type qm_manager_t = u64;

/// A job reference handle. 0 is never valid; values are never reused in a process.
pub type qm_job_t = u64;

/// A job's GUID, 16 bytes in RFC 4122 order. It never grows.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct qm_guid {
    /// The 16 bytes.
    pub bytes: [u8; 16],
}

/// One file to add (`FILESETINFO`), an in-struct: set `struct_size` (see
/// "Structs that grow" above) and `reserved` to 0, e.g. with
/// `QM_FILE_SET_INFO_INIT`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct qm_file_set_info {
    /// `sizeof(qm_file_set_info)`, set by the caller.
    pub struct_size: u32,
    /// 0 (any other value is refused with `QM_E_INVALIDARG`).
    pub reserved: u32,
    /// `http://`, `https://` or `file://` URL, or an absolute path (UTF-8, at most 2,200 bytes).
    pub remote_name: *const c_char,
    /// Absolute destination path (UTF-8); its directory must exist and be writable when the file is added.
    pub local_name: *const c_char,
    /// Expected size in bytes, 0 if unknown; advisory.
    pub size_hint: u64,
}

/// A stretch of a remote file to download (`BG_FILE_RANGE`): `length`
/// bytes from `initial_offset`, or to the end of the file when `length` is
/// `QM_LENGTH_TO_EOF`. A length of 0 is not valid. An in-struct for
/// `qm_job_add_file_with_ranges` (set `struct_size` and `reserved` to 0,
/// e.g. with `QM_FILE_RANGE_INIT`) and an out-struct for
/// `qm_job_get_file_ranges` (set `struct_size`; see "Structs that grow").
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct qm_file_range {
    /// `sizeof(qm_file_range)`, set by the caller.
    pub struct_size: u32,
    /// 0 (refused otherwise in what the caller passes; written 0).
    pub reserved: u32,
    /// The first byte, counted from 0.
    pub initial_offset: u64,
    /// How many bytes, or `QM_LENGTH_TO_EOF`.
    pub length: u64,
}

/// Progress of one file (`BG_FILE_PROGRESS`), an out-struct: set
/// `struct_size` (see "Structs that grow"), e.g. with `QM_FILE_PROGRESS_INIT`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct qm_file_progress {
    /// Set by the caller to `sizeof(qm_file_progress)`; on return, the
    /// number of bytes the library filled.
    pub struct_size: u32,
    /// 1 when the whole file is transferred (and verified when a SHA-256
    /// is set), else 0.
    pub completed: u32,
    /// Size in bytes, `QM_SIZE_UNKNOWN` until known.
    pub bytes_total: u64,
    /// Bytes transferred so far.
    pub bytes_transferred: u64,
}

/// How a file's delta download went, an out-struct: set `struct_size` (see
/// "Structs that grow"), e.g. with `QM_FILE_DELTA_STATUS_INIT`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct qm_file_delta_status {
    /// Set by the caller to `sizeof(qm_file_delta_status)`; on return, the
    /// number of bytes the library filled.
    pub struct_size: u32,
    /// Which way: `QM_DELTA_WAY_NONE`, `_PENDING`, `_DELTA` or `_FULL`.
    pub way: u32,
    /// Bytes of the file copied from the seeds (0 unless `way` is
    /// `QM_DELTA_WAY_DELTA`); the rest came from the server.
    pub bytes_from_seeds: u64,
}

/// Progress of a job (`BG_JOB_PROGRESS` plus rate and ETA), an out-struct:
/// set `struct_size` (see "Structs that grow"), e.g. with
/// `QM_JOB_PROGRESS_INIT`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct qm_job_progress {
    /// Set by the caller to `sizeof(qm_job_progress)`; on return, the
    /// number of bytes the library filled.
    pub struct_size: u32,
    /// 0.
    pub reserved: u32,
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

/// A job's last error, an out-struct: set `struct_size` (see "Structs that
/// grow"), e.g. with `QM_JOB_ERROR_INIT`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct qm_job_error {
    /// Set by the caller to `sizeof(qm_job_error)`; on return, the number
    /// of bytes the library filled.
    pub struct_size: u32,
    /// The HRESULT of the error.
    pub code: qm_hresult,
    /// A `QM_ERROR_CONTEXT_*` value: where it happened.
    pub context: u32,
    /// The file concerned, `QM_FILE_INDEX_NONE` for the whole job.
    pub file_index: u32,
    /// The HTTP status involved, 0 if none.
    pub http_status: u32,
}

/// A job's times, in Unix epoch milliseconds; 0 means "not yet". An
/// out-struct: set `struct_size` (see "Structs that grow"), e.g. with
/// `QM_JOB_TIMES_INIT`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct qm_job_times {
    /// Set by the caller to `sizeof(qm_job_times)`; on return, the number
    /// of bytes the library filled.
    pub struct_size: u32,
    /// 0.
    pub reserved: u32,
    /// When the job was created.
    pub creation_ms: i64,
    /// When the job (its state, files or properties) last changed.
    pub modification_ms: i64,
    /// When the job became TRANSFERRED, 0 before.
    pub transfer_completion_ms: i64,
}

/// A notification callback: `event` is one `QM_NOTIFY_*` event bit,
/// `file_index` the file (or `QM_FILE_INDEX_NONE`), `code` the error for
/// `QM_NOTIFY_JOB_ERROR` (else `QM_S_OK`), `context` the caller's pointer.
/// It must return normally: see "Callbacks" at the top.
pub type qm_notify_fn = Option<
    unsafe extern "C" fn(
        job: qm_job_t,
        event: u32,
        file_index: u32,
        code: qm_hresult,
        context: *mut c_void,
    ),
>;
