//! The header's section "Jobs": creating and closing job references, the
//! lifecycle (resume, suspend, cancel, complete, wait), and what a job
//! reports (state, status, progress, error, times, names).
//!
//! Every function here may be called from any thread, concurrently with any
//! other, on the same or different jobs. A job handle is one reference; it
//! stays valid until `qm_job_close` or the close of its manager, even after
//! the job is final (it then answers reads; changes give
//! `QM_BG_E_INVALID_STATE`). Out-parameters are written only on success.

use std::ffi::c_char;
use std::time::Duration;

use super::constants::*;
use super::handles;
use super::types::*;
use super::util::{job_do, job_get, job_get_str, job_get_struct, job_set, str_arg, Out};
use crate::engine::error::Error;
use crate::engine::types::{epoch_ms, JobType};
use crate::hresult::*;
use crate::Job;

/// The library's own `qm_job_progress`, as `qm_job_get_progress_ex` fills it.
#[cfg(not(feature = "abi-growth-test"))]
type JobProgressOut = qm_job_progress;

/// `qm_job_progress` with a field appended, as a later library would have
/// it: the `abi-growth-test` feature (test-only, never in the header)
/// builds such a library, to run programs compiled against today's header
/// on it (`tests/it/abi.rs`).
#[cfg(feature = "abi-growth-test")]
#[repr(C)]
#[derive(Clone, Copy)]
struct JobProgressOut {
    base: qm_job_progress,
    /// The appended field: `GROWTH_TEST_VALUE`.
    growth_test: u64,
}

/// What the appended field of the `abi-growth-test` library holds.
#[cfg(feature = "abi-growth-test")]
const GROWTH_TEST_VALUE: u64 = 0x0123_4567_89AB_CDEF;

// SAFETY: repr(C), qm_job_progress first (struct_size at 0), then a u64
// at offset 48, 8-aligned: no padding.
#[cfg(feature = "abi-growth-test")]
unsafe impl super::util::Growable for JobProgressOut {
    const NAME: &'static str = "qm_job_progress";
    const MIN_SIZE: usize = <qm_job_progress as super::util::Growable>::MIN_SIZE;
}

/// A job's progress as the library's own `qm_job_progress`.
fn progress_out(job: &Job) -> JobProgressOut {
    let p = job.progress();
    let base = qm_job_progress {
        struct_size: 0,
        reserved: 0,
        bytes_total: p.bytes_total.unwrap_or(QM_SIZE_UNKNOWN),
        bytes_transferred: p.bytes_transferred,
        files_total: p.files_total,
        files_transferred: p.files_transferred,
        bytes_per_second: p.bytes_per_second,
        eta_seconds: p.eta_seconds.unwrap_or(QM_SIZE_UNKNOWN),
    };
    #[cfg(feature = "abi-growth-test")]
    let base = JobProgressOut {
        base,
        growth_test: GROWTH_TEST_VALUE,
    };
    base
}

/// Creates a job (SUSPENDED, priority NORMAL, no files) and returns a
/// reference to it. The job lives in the manager until it is completed or
/// cancelled, whether or not a reference is open.
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER` (`out` NULL),
/// `QM_E_INVALIDARG` (`display_name` NULL or not UTF-8),
/// `QM_BG_E_STRING_TOO_LONG` (over 256 characters). Any thread.
///
/// # Safety
/// `display_name` NULL or a NUL-terminated string; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_create(
    mgr: qm_manager_t,
    display_name: *const c_char,
    out: *mut qm_job_t,
) -> qm_hresult {
    guard!({
        let out = Out::new(out, "out")?;
        // SAFETY: the caller promises a valid C string or NULL.
        let name = unsafe { super::util::str_arg(display_name, "display_name") }?;
        let job = handles::manager(mgr)?.create_job(name)?;
        // SAFETY: checked non-NULL; writable by the caller's promise.
        unsafe { out.write(handles::add_job(job, mgr)?) };
        Ok(HResult::OK)
    })
}

/// Creates a job of type `type` (BITS's `CreateJob` with a `BG_JOB_TYPE`):
/// `QM_JOB_TYPE_DOWNLOAD` (what `qm_job_create` makes),
/// `QM_JOB_TYPE_UPLOAD` or `QM_JOB_TYPE_UPLOAD_REPLY`. SUSPENDED, priority
/// NORMAL, no files. An upload job holds exactly one file
/// (`qm_job_add_file(job, url, local_path)`: the local file is sent to the
/// URL; a second file gives `QM_BG_E_TOO_MANY_FILES`), over tus 1.0 by
/// default; an upload-reply job over the resumable-upload draft (see
/// `qm_job_set_upload_protocol`). Download-only options (ranges, seeds,
/// dynamic content, a maximum download size, a SHA-256) give
/// `QM_E_INVALIDARG` on an upload job.
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER` (`out` NULL),
/// `QM_E_INVALIDARG` (`display_name` NULL or not UTF-8, an unknown type),
/// `QM_BG_E_STRING_TOO_LONG`, `QM_E_NOTIMPL` (an upload job in a build
/// without the `upload` feature, or on a manager connected to a qmgrd
/// without upload jobs). Any thread.
///
/// # Safety
/// `display_name` NULL or a NUL-terminated string; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_create_ex(
    mgr: qm_manager_t,
    display_name: *const c_char,
    r#type: u32,
    out: *mut qm_job_t,
) -> qm_hresult {
    guard!({
        let out = Out::new(out, "out")?;
        // SAFETY: the caller promises a valid C string or NULL.
        let name = unsafe { super::util::str_arg(display_name, "display_name") }?;
        let kind = JobType::from_u32(r#type)
            .ok_or_else(|| Error::invalid_arg(format!("unknown job type {}", r#type)))?;
        let job = handles::manager(mgr)?.create_job_of_type(name, kind)?;
        // SAFETY: checked non-NULL; writable by the caller's promise.
        unsafe { out.write(handles::add_job(job, mgr)?) };
        Ok(HResult::OK)
    })
}

/// Gets the job's type (`GetType`): a `QM_JOB_TYPE_*` value.
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_type(job: qm_job_t, out: *mut u32) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { job_get(job, out, |j| Ok(j.job_type() as u32)) }
}

/// Releases one job reference. The job itself goes on (it lives in its
/// manager until completed or cancelled). A notify callback registered
/// through this handle is removed, and when this returns it is not running.
/// Returns `QM_S_OK`, `QM_E_HANDLE` (not an open job handle). Any thread.
#[no_mangle]
pub extern "C" fn qm_job_close(job: qm_job_t) -> qm_hresult {
    guard!({
        handles::remove_job(job)?.clear_notify_of(job);
        Ok(HResult::OK)
    })
}

/// Gets the job's GUID (`get_JobID`).
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_id(job: qm_job_t, out: *mut qm_guid) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { job_get(job, out, |j| Ok(qm_guid { bytes: j.id().0 })) }
}

/// Sets the display name (UTF-8, at most 256 characters).
/// Returns `QM_S_OK`, `QM_E_INVALIDARG` (NULL or not UTF-8),
/// `QM_BG_E_STRING_TOO_LONG`, `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`.
/// Any thread.
///
/// # Safety
/// `name` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn qm_job_set_display_name(job: qm_job_t, name: *const c_char) -> qm_hresult {
    // SAFETY: the caller promises a valid C string or NULL.
    job_set(job, |j| {
        j.set_display_name(unsafe { str_arg(name, "name") }?)
    })
}

/// Gets the display name (string out-parameter convention of `qm_format_hresult`).
/// Returns `QM_S_OK`, `QM_E_INSUFFICIENT_BUFFER`, `QM_E_HANDLE`, `QM_E_POINTER`.
/// Any thread.
///
/// # Safety
/// `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_display_name(
    job: qm_job_t,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> qm_hresult {
    // SAFETY: forwarded caller promises.
    unsafe {
        job_get_str(job, buf, cap, needed, |j| {
            Ok((j.display_name(), HResult::OK))
        })
    }
}

/// Sets the description (UTF-8, at most 1,024 characters).
/// Returns `QM_S_OK`, `QM_E_INVALIDARG` (NULL or not UTF-8),
/// `QM_BG_E_STRING_TOO_LONG`, `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`.
/// Any thread.
///
/// # Safety
/// `text` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn qm_job_set_description(job: qm_job_t, text: *const c_char) -> qm_hresult {
    // SAFETY: the caller promises a valid C string or NULL.
    job_set(job, |j| {
        j.set_description(unsafe { str_arg(text, "text") }?)
    })
}

/// Gets the description (string out-parameter convention of `qm_format_hresult`).
/// Returns `QM_S_OK`, `QM_E_INSUFFICIENT_BUFFER`, `QM_E_HANDLE`, `QM_E_POINTER`.
/// Any thread.
///
/// # Safety
/// `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_description(
    job: qm_job_t,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> qm_hresult {
    // SAFETY: forwarded caller promises.
    unsafe {
        job_get_str(job, buf, cap, needed, |j| {
            Ok((j.description(), HResult::OK))
        })
    }
}

/// Queues the job for transfer: SUSPENDED, ERROR and TRANSIENT_ERROR go to
/// QUEUED; an active job is left as it is (`QM_S_OK`).
/// The environment: this call reads it again, on the calling thread, for
/// the whole manager (`qm_manager_open` reads it first). Every later
/// transfer of the manager's jobs takes the proxy variables (`http_proxy`,
/// `https_proxy`, `all_proxy`, `no_proxy`) from that reading, and every
/// notify program its environment, never the environment of the moment
/// (qmgr's own threads do not read these), so a variable set after this
/// call counts from the next `qm_job_resume` on. Do not call `setenv`, `putenv` or `unsetenv` on another thread
/// while this call or `qm_manager_open` runs (glibc's are not safe against
/// a concurrent `getenv`).
/// Returns `QM_S_OK`, `QM_BG_E_EMPTY` (no files, or every file already
/// transferred; the job stays as it was), `QM_BG_E_INVALID_STATE` (final),
/// `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_job_resume(job: qm_job_t) -> qm_hresult {
    job_set(job, |j| j.resume())
}

/// Suspends the job; the transfer stops (within about 100 ms; the call
/// returns once it has) and partial data is kept for a later resume.
/// Returns `QM_S_OK`, `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_job_suspend(job: qm_job_t) -> qm_hresult {
    job_set(job, |j| j.suspend())
}

/// Cancels the job: stops it, deletes its temporary files, and leaves it
/// CANCELLED (final; no longer listed). An upload job's unfinished upload
/// is ended on the server too (a `DELETE` of its upload URL, best effort,
/// in the background); one the server has whole stays there, as BITS's
/// Cancel-Session has no effect after the last fragment.
/// Returns `QM_S_OK`, `QM_BG_S_UNABLE_TO_DELETE_FILES` (cancelled, but some
/// temporary file could not be deleted), `QM_BG_E_INVALID_STATE` (already
/// final, e.g. a second cancel), `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_job_cancel(job: qm_job_t) -> qm_hresult {
    job_do(job, Job::cancel)
}

/// Completes the job: each transferred file is fsynced and atomically
/// renamed to its local name (the directory is then fsynced), partial files
/// are deleted, and the job becomes ACKNOWLEDGED (final).
/// Returns `QM_S_OK`, `QM_BG_S_PARTIAL_COMPLETE` (some files were not
/// transferred and were discarded), `QM_BG_E_INVALID_STATE` (final),
/// `QM_E_HANDLE`, or the Win32 error of a failed rename, in which case the
/// job stays as it was (files already renamed stay renamed). Any thread.
#[no_mangle]
pub extern "C" fn qm_job_complete(job: qm_job_t) -> qm_hresult {
    job_do(job, Job::complete)
}

/// Makes the job FOREGROUND: it runs first, preempts background jobs when
/// every slot is taken, and ignores the manager's bandwidth limit.
/// Returns `QM_S_OK`, `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_job_switch_to_foreground(job: qm_job_t) -> qm_hresult {
    job_set(job, |j| j.switch_to_foreground())
}

/// Makes the calling user the job's owner (BITS's `TakeOwnership`): the
/// process's effective user and group on an in-process manager; on a
/// connected one, the user the kernel names for the connection (the
/// daemon's administrators may take any user's job, others only their
/// own, which changes nothing). From then on the job's files are read and
/// written with the new owner's rights and its notify program runs as the
/// new owner; a running transfer stops and the job goes back to the queue
/// in its place, keeping the bytes it has (its temporary files are handed
/// over, or fetched again when they cannot be). Returns `QM_S_OK`,
/// `QM_E_ACCESSDENIED` (this process cannot act with the owner's rights),
/// `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_job_take_ownership(job: qm_job_t) -> qm_hresult {
    job_set(job, |j| j.take_ownership(crate::Owner::current()))
}

/// Blocks (without polling) until the job is TRANSFERRED, ERROR, SUSPENDED,
/// ACKNOWLEDGED or CANCELLED, and stores that state. `timeout_ms` is
/// `QM_WAIT_INFINITE` for no timeout. TRANSIENT_ERROR does not end the wait:
/// the job is retried.
/// Returns `QM_S_OK` (`*state` set), `QM_S_FALSE` (timed out; `*state` not
/// written), `QM_E_ABORT` (the manager was closed meanwhile), `QM_E_HANDLE`,
/// `QM_E_POINTER`. Any thread except a notify callback of the same job,
/// which would wait for itself.
///
/// # Safety
/// `state` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_wait(
    job: qm_job_t,
    timeout_ms: u32,
    state: *mut u32,
) -> qm_hresult {
    guard!({
        let out = Out::new(state, "state")?;
        let timeout =
            (timeout_ms != QM_WAIT_INFINITE).then(|| Duration::from_millis(u64::from(timeout_ms)));
        match handles::job(job)?.wait(timeout)? {
            Some(s) => {
                // SAFETY: checked non-NULL; writable by the caller's promise.
                unsafe { out.write(s as u32) };
                Ok(HResult::OK)
            }
            None => Ok(HResult(QM_S_FALSE)),
        }
    })
}

/// Gets the state, a `QM_JOB_STATE_*` value. Lock-free.
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_state(job: qm_job_t, out: *mut u32) -> qm_hresult {
    guard!({
        let out = Out::new(out, "out")?;
        let state = handles::with_job(job, Job::state)?;
        // SAFETY: checked non-NULL; writable by the caller's promise.
        unsafe { out.write(state as u32) };
        Ok(HResult::OK)
    })
}

/// `GetStatus`: `*status` gets `QM_STATUS_JOB_COMPLETE` when every file is
/// transferred (else `_INCOMPLETE`), plus `_ERROR` in ERROR or
/// TRANSIENT_ERROR and `_FOREGROUND` for a FOREGROUND job. In an error
/// state, `*win32_result` is the Win32 code inside the error (0 if it is
/// not a Win32 error) and `*transport_result` the HTTP status (0 if none);
/// both are 0 otherwise. `*num_retries` counts the retries after transient
/// errors. `status` is required; the others may be NULL.
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// Each pointer NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_status(
    job: qm_job_t,
    status: *mut u32,
    win32_result: *mut u32,
    transport_result: *mut u32,
    num_retries: *mut u32,
) -> qm_hresult {
    guard!({
        let status = Out::new(status, "status")?;
        let s = handles::job(job)?.status();
        // SAFETY: status checked non-NULL, optional ones only when non-NULL;
        // all writable by the caller's promise.
        unsafe {
            status.write(s.flags());
            if let Some(out) = Out::optional(win32_result) {
                out.write(s.win32_result);
            }
            if let Some(out) = Out::optional(transport_result) {
                out.write(s.transport_result);
            }
            if let Some(out) = Out::optional(num_retries) {
                out.write(s.num_retries);
            }
        }
        Ok(HResult::OK)
    })
}

/// Gets bytes and files (total and transferred), the smoothed rate and the
/// ETA (BITS's `GetProgress` with `BG_JOB_PROGRESS`). `bytes_total` is
/// `QM_SIZE_UNKNOWN` until every file's size is known; `eta_seconds` is
/// `QM_SIZE_UNKNOWN` when it cannot be estimated. Lock-free.
/// `out->struct_size` must be set (see "Structs that grow").
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`, `QM_E_INVALIDARG`
/// (`struct_size` too small or not set). Any thread.
///
/// # Safety
/// `out` NULL or valid for its `struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_progress_ex(
    job: qm_job_t,
    out: *mut qm_job_progress,
) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { job_get_struct(job, out, |j| Ok(progress_out(j))) }
}

/// One number of the job's progress (the `GetProgress(flags)` of BITS's
/// `qmgr.h`): with `QM_PROGRESS_PERCENT_DONE`, the whole percent of the
/// job's bytes transferred, floor(100 * transferred / total), 0 while the
/// total is unknown or zero, 100 only when every byte is transferred; with
/// `QM_PROGRESS_SIZE_DONE`, the bytes transferred over all files (64-bit).
/// Lock-free: it reads atomics and never waits for a transfer.
/// Returns `QM_S_OK`, `QM_E_NOTIMPL` (`QM_PROGRESS_TIME_DONE`; see
/// `qm_job_get_progress_ex`), `QM_E_INVALIDARG` (any other flag),
/// `QM_E_POINTER` (`out` NULL), `QM_E_HANDLE`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_progress(
    job: qm_job_t,
    flags: u32,
    out: *mut u64,
) -> qm_hresult {
    guard!({
        let out = Out::new(out, "out")?;
        let value = match flags {
            QM_PROGRESS_PERCENT_DONE => handles::with_job(job, Job::percent_done)?,
            QM_PROGRESS_SIZE_DONE => handles::with_job(job, Job::bytes_transferred)?,
            QM_PROGRESS_TIME_DONE => {
                handles::with_job(job, |_| ())?;
                return Err(Error::new(
                    QM_E_NOTIMPL,
                    "QM_PROGRESS_TIME_DONE is not supported",
                ));
            }
            other => {
                handles::with_job(job, |_| ())?;
                return Err(Error::invalid_arg(format!("unknown progress flag {other}")));
            }
        };
        // SAFETY: checked non-NULL; writable by the caller's promise.
        unsafe { out.write(value) };
        Ok(HResult::OK)
    })
}

/// Gets the last error while the job is in ERROR or TRANSIENT_ERROR.
/// `out->struct_size` must be set (see "Structs that grow").
/// Returns `QM_S_OK`, `QM_BG_E_ERROR_INFORMATION_UNAVAILABLE` (no error),
/// `QM_E_HANDLE`, `QM_E_POINTER`, `QM_E_INVALIDARG` (`struct_size` too
/// small or not set). Any thread.
///
/// # Safety
/// `out` NULL or valid for its `struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_error(job: qm_job_t, out: *mut qm_job_error) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe {
        job_get_struct(job, out, |j| {
            let e = j.error()?;
            Ok(qm_job_error {
                struct_size: 0,
                code: e.code.0,
                context: e.context as u32,
                file_index: e.file_index.unwrap_or(QM_FILE_INDEX_NONE),
                http_status: u32::from(e.http_status),
            })
        })
    }
}

/// Describes the last error in words: the code's name and meaning, then
/// what happened with the path, URL or offset (a URL's password written
/// `***`: no error text carries a credential). String out-parameter
/// convention of `qm_format_hresult`.
/// Returns `QM_S_OK`, `QM_BG_E_ERROR_INFORMATION_UNAVAILABLE`,
/// `QM_E_INSUFFICIENT_BUFFER`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_error_description(
    job: qm_job_t,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> qm_hresult {
    // SAFETY: forwarded caller promises.
    unsafe {
        job_get_str(job, buf, cap, needed, |j| {
            let e = j.error()?;
            Ok((format!("{}: {}", e.code, e.description), HResult::OK))
        })
    }
}

/// Gets creation, last modification and transfer completion times (Unix
/// epoch milliseconds; 0 for "not yet"). `out->struct_size` must be set
/// (see "Structs that grow").
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`, `QM_E_INVALIDARG`
/// (`struct_size` too small or not set). Any thread.
///
/// # Safety
/// `out` NULL or valid for its `struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_times(job: qm_job_t, out: *mut qm_job_times) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe {
        job_get_struct(job, out, |j| {
            let t = j.times();
            Ok(qm_job_times {
                struct_size: 0,
                reserved: 0,
                creation_ms: epoch_ms(t.creation),
                modification_ms: epoch_ms(t.modification),
                transfer_completion_ms: t.transfer_completion.map_or(0, epoch_ms),
            })
        })
    }
}
