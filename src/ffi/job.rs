//! `qm_job_*`: references, the lifecycle, progress, status and properties.
//!
//! Every function here may be called from any thread, concurrently with any
//! other, on the same or different jobs. A job handle is one reference; it
//! stays valid until `qm_job_close` or the close of its manager, even after
//! the job is final (it then answers reads; changes give
//! `QM_BG_E_INVALID_STATE`). Out-parameters are written only on success.

use std::ffi::{c_char, c_void};
use std::sync::Arc;
use std::time::Duration;

use super::constants::*;
use super::handles;
use super::types::*;
use super::util::{opt_str_arg, str_arg, write_str, Out};
use crate::engine::error::{Error, Result};
use crate::engine::types::epoch_ms;
use crate::hresult::*;
use crate::{Job, NotifyCallback, NotifyCmdLine, Priority};

/// Reads one value of a job into `out` (`QM_E_POINTER` if NULL).
///
/// # Safety
/// `out` NULL or writable.
pub(super) unsafe fn job_get<T>(
    job: qm_job_t,
    out: *mut T,
    read: impl FnOnce(&Job) -> Result<T>,
) -> qm_hresult {
    guard!({
        let out = Out::new(out, "out")?;
        let value = read(&handles::job(job)?)?;
        // SAFETY: checked non-NULL; writable by the caller's promise.
        unsafe { out.write(value) };
        Ok(HResult::OK)
    })
}

/// Runs one change on a job.
pub(super) fn job_do(job: qm_job_t, action: impl FnOnce(&Job) -> Result<HResult>) -> qm_hresult {
    guard!({ action(&handles::job(job)?) })
}

/// Copies one string of a job out (see `qm_format_hresult` for the convention).
///
/// # Safety
/// `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
pub(super) unsafe fn job_get_str(
    job: qm_job_t,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
    read: impl FnOnce(&Job) -> Result<(String, HResult)>,
) -> qm_hresult {
    guard!({
        if needed.is_null() {
            return Err(Error::new(QM_E_POINTER, "needed is NULL"));
        }
        let (text, ok) = read(&handles::job(job)?)?;
        // SAFETY: forwarded caller promises.
        unsafe { write_str(&text, buf, cap, needed, ok) }
    })
}

/// `job_get_str` for a value that may be absent: `QM_S_FALSE` and an
/// empty string then.
///
/// # Safety
/// As for `job_get_str`.
pub(super) unsafe fn job_get_opt_str(
    job: qm_job_t,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
    read: impl FnOnce(&Job) -> Result<Option<String>>,
) -> qm_hresult {
    // SAFETY: forwarded caller promises.
    unsafe {
        job_get_str(job, buf, cap, needed, |j| {
            Ok(match read(j)? {
                Some(text) => (text, HResult::OK),
                None => (String::new(), HResult(QM_S_FALSE)),
            })
        })
    }
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

/// `GetProgress`: with `QM_PROGRESS_PERCENT_DONE`, the whole percent of the
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

/// Gets bytes and files (total and transferred), the smoothed rate and the
/// ETA. `bytes_total` is `QM_SIZE_UNKNOWN` until every file's size is
/// known; `eta_seconds` is `QM_SIZE_UNKNOWN` when it cannot be estimated.
/// Lock-free. Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_progress_ex(
    job: qm_job_t,
    out: *mut qm_job_progress,
) -> qm_hresult {
    guard!({
        let out = Out::new(out, "out")?;
        let p = handles::with_job(job, Job::progress)?;
        let value = qm_job_progress {
            bytes_total: p.bytes_total.unwrap_or(QM_SIZE_UNKNOWN),
            bytes_transferred: p.bytes_transferred,
            files_total: p.files_total,
            files_transferred: p.files_transferred,
            bytes_per_second: p.bytes_per_second,
            eta_seconds: p.eta_seconds.unwrap_or(QM_SIZE_UNKNOWN),
        };
        // SAFETY: checked non-NULL; writable by the caller's promise.
        unsafe { out.write(value) };
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

/// Gets the last error while the job is in ERROR or TRANSIENT_ERROR.
/// Returns `QM_S_OK`, `QM_BG_E_ERROR_INFORMATION_UNAVAILABLE` (no error),
/// `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_error(job: qm_job_t, out: *mut qm_job_error) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe {
        job_get(job, out, |j| {
            let e = j.error()?;
            Ok(qm_job_error {
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
/// epoch milliseconds; 0 for "not yet").
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_times(job: qm_job_t, out: *mut qm_job_times) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe {
        job_get(job, out, |j| {
            let t = j.times();
            Ok(qm_job_times {
                creation_ms: epoch_ms(t.creation),
                modification_ms: epoch_ms(t.modification),
                transfer_completion_ms: t.transfer_completion.map_or(0, epoch_ms),
            })
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
    job_do(job, |j| j.resume().map(|_| HResult::OK))
}

/// Suspends the job; the transfer stops (within about 100 ms; the call
/// returns once it has) and partial data is kept for a later resume.
/// Returns `QM_S_OK`, `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_job_suspend(job: qm_job_t) -> qm_hresult {
    job_do(job, |j| j.suspend().map(|_| HResult::OK))
}

/// Cancels the job: stops it, deletes its temporary files, and leaves it
/// CANCELLED (final; no longer listed).
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
    job_do(job, |j| j.switch_to_foreground().map(|_| HResult::OK))
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

/// Sets the priority, a `QM_PRIORITY_*` value (default NORMAL).
/// Returns `QM_S_OK`, `QM_E_INVALIDARG` (unknown value),
/// `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_job_set_priority(job: qm_job_t, priority: u32) -> qm_hresult {
    job_do(job, |j| {
        let p = Priority::from_u32(priority)
            .ok_or_else(|| Error::invalid_arg(format!("unknown priority {priority}")))?;
        j.set_priority(p).map(|_| HResult::OK)
    })
}

/// Gets the priority (`QM_PRIORITY_*`).
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_priority(job: qm_job_t, out: *mut u32) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { job_get(job, out, |j| Ok(j.priority() as u32)) }
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
    job_do(job, |j| {
        j.set_display_name(unsafe { str_arg(name, "name") }?)
            .map(|_| HResult::OK)
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
    job_do(job, |j| {
        j.set_description(unsafe { str_arg(text, "text") }?)
            .map(|_| HResult::OK)
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

/// Sets the minimum delay before a retry after a transient error, in
/// seconds (default 600; values below 1 are stored as 1).
/// Returns `QM_S_OK`, `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_job_set_minimum_retry_delay(job: qm_job_t, seconds: u32) -> qm_hresult {
    job_do(job, |j| {
        j.set_minimum_retry_delay(seconds).map(|_| HResult::OK)
    })
}

/// Gets the minimum retry delay in seconds.
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_minimum_retry_delay(
    job: qm_job_t,
    out: *mut u32,
) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { job_get(job, out, |j| Ok(j.minimum_retry_delay())) }
}

/// Sets how long transient errors may go on without any progress before the
/// job moves to ERROR, in seconds (default 1,209,600 = 14 days; 0: the
/// first error is final).
/// Returns `QM_S_OK`, `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_job_set_no_progress_timeout(job: qm_job_t, seconds: u32) -> qm_hresult {
    job_do(job, |j| {
        j.set_no_progress_timeout(seconds).map(|_| HResult::OK)
    })
}

/// Gets the no-progress timeout in seconds.
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_no_progress_timeout(
    job: qm_job_t,
    out: *mut u32,
) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { job_get(job, out, |j| Ok(j.no_progress_timeout())) }
}

/// The C callback and its context, moved to the notification thread.
struct CCallback {
    function: unsafe extern "C" fn(qm_job_t, u32, u32, qm_hresult, *mut c_void),
    context: *mut c_void,
    handle: qm_job_t,
}

// SAFETY: the context pointer is the caller's; qm_job_set_notify documents
// that it is used from the library's notification thread.
unsafe impl Send for CCallback {}
// SAFETY: as above; the callback is only ever called from one thread.
unsafe impl Sync for CCallback {}

impl CCallback {
    /// Calls the C function.
    ///
    /// # Safety
    /// The function and context given to `qm_job_set_notify` are still valid.
    unsafe fn call(&self, event: &crate::NotifyEvent) {
        // SAFETY: the caller's promise.
        unsafe {
            (self.function)(
                self.handle,
                event.kind,
                event.file_index,
                event.code.0,
                self.context,
            )
        }
    }
}

/// Sets the notification callback and the `QM_NOTIFY_*` flags (default
/// JOB_TRANSFERRED | JOB_ERROR; DISABLE silences all). `fn = NULL` removes
/// the callback (the flags are stored all the same).
///
/// The callback runs on a library thread (one per manager, events of a job
/// in order), never while the library holds a lock, and may call any
/// `qm_*` function except `qm_job_wait` on its own job. Its `job` argument
/// is the handle used here. Events: JOB_TRANSFERRED, JOB_ERROR (with the
/// code), FILE_TRANSFERRED (with the file index), JOB_MODIFICATION (state,
/// files, properties, and progress at most 4 times a second).
///
/// `context` must stay valid until the callback is replaced or removed, this
/// handle is closed, the job becomes final, or its manager is closed: when
/// any of those calls returns, the old callback is not running and will not
/// run again (unless it is the caller). Callbacks are per process: they are
/// not persisted.
/// Returns `QM_S_OK`, `QM_E_INVALIDARG` (unknown flag bits),
/// `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_job_set_notify(
    job: qm_job_t,
    function: qm_notify_fn,
    context: *mut c_void,
    flags: u32,
) -> qm_hresult {
    job_do(job, |j| {
        let callback = function.map(|function| {
            let c = CCallback {
                function,
                context,
                handle: job,
            };
            // SAFETY: the caller gave a valid function and a context valid
            // for as long as the registration lasts (documented above).
            Arc::new(move |_: &Job, e: &crate::NotifyEvent| unsafe { c.call(e) }) as NotifyCallback
        });
        j.set_notify(callback, flags, job)?;
        // A qm_job_close(job) that ran meanwhile cleared nothing: clear it here.
        if handles::with_job(job, |_| ()).is_err() {
            j.clear_notify_of(job);
            return Err(Error::new(QM_E_HANDLE, format!("handle {job} was closed")));
        }
        Ok(HResult::OK)
    })
}

/// Gets the notification flags.
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_notify_flags(job: qm_job_t, out: *mut u32) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { job_get(job, out, |j| Ok(j.notify_flags().0)) }
}

/// Sets the program to run when the job is transferred or fails (BITS's
/// `IBackgroundCopyJob2::SetNotifyCmdLine`): `program` is an absolute path
/// (no search path is used), `parameters` its command line, first the
/// program's name (its `argv[0]`), then the arguments, separated by spaces
/// (`"..."` keeps spaces in a word, `\"` is a quote; no shell expands
/// anything); NULL `parameters` runs the program alone. Both NULL remove
/// it. The program runs for the JOB_TRANSFERRED and JOB_ERROR events the
/// notify flags ask for, only when no callback is registered (BITS's
/// rule), as a child of the process that runs the job, with that process's
/// environment as the last `qm_job_resume` or `qm_manager_open` read it
/// (see `qm_job_resume`) plus `QMGR_JOB_ID` and `QMGR_JOB_STATE`; an exit status other
/// than 0 runs it again after the retry delay while the job stays in that
/// state (a status lost because the process ignores SIGCHLD is not a
/// failure). Set on a job already TRANSFERRED or in ERROR, it runs at once.
/// It is kept in the state directory. Returns `QM_S_OK`, `QM_E_INVALIDARG`
/// (NULL `program` with non-NULL `parameters`, a relative path, non-UTF-8),
/// `QM_BG_E_STRING_TOO_LONG` (`program` over 260 or `parameters` over 4,000
/// characters), `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
///
/// # Safety
/// `program` and `parameters` NULL or valid C strings.
#[no_mangle]
pub unsafe extern "C" fn qm_job_set_notify_cmdline(
    job: qm_job_t,
    program: *const c_char,
    parameters: *const c_char,
) -> qm_hresult {
    guard!({
        let job = handles::job(job)?;
        // SAFETY: the caller promises valid C strings or NULL.
        let program = unsafe { opt_str_arg(program, "program") }?;
        // SAFETY: as above.
        let parameters = unsafe { opt_str_arg(parameters, "parameters") }?;
        let cmdline = match (program, parameters) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(Error::invalid_arg(
                    "parameters without a program: give both, or both NULL to remove",
                ))
            }
            (Some(program), parameters) => Some(NotifyCmdLine {
                program: program.to_string(),
                parameters: parameters.map(str::to_string),
            }),
        };
        job.set_notify_cmdline(cmdline)?;
        Ok(HResult::OK)
    })
}

/// Gets the notify command line (BITS's `GetNotifyCmdLine`): the program
/// into `program` and its parameters into `parameters`, each by the string
/// convention of `qm_format_hresult`; both are "" when none is set (and
/// `parameters` is "" when the program runs alone). With either buffer too
/// small nothing is copied, both `needed` are set and
/// `QM_E_INSUFFICIENT_BUFFER` is returned. Returns `QM_S_OK`,
/// `QM_E_INSUFFICIENT_BUFFER`, `QM_E_HANDLE`, `QM_E_POINTER` (a `needed`
/// NULL, or a buffer NULL with its cap above 0; nothing is written). Any
/// thread.
///
/// # Safety
/// Each buffer NULL or valid for its `cap` bytes; each `needed` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_notify_cmdline(
    job: qm_job_t,
    program: *mut c_char,
    program_cap: usize,
    program_needed: *mut usize,
    parameters: *mut c_char,
    parameters_cap: usize,
    parameters_needed: *mut usize,
) -> qm_hresult {
    guard!({
        if program_needed.is_null() || parameters_needed.is_null() {
            return Err(Error::new(QM_E_POINTER, "a needed pointer is NULL"));
        }
        // Checked for both before either is written: all or nothing.
        if (program.is_null() && program_cap != 0) || (parameters.is_null() && parameters_cap != 0)
        {
            return Err(Error::new(
                QM_E_POINTER,
                "a buffer is NULL but its cap is not 0",
            ));
        }
        let cmdline = handles::job(job)?.notify_cmdline();
        let (prog, params) = cmdline.map_or((String::new(), String::new()), |c| {
            (c.program, c.parameters.unwrap_or_default())
        });
        let fits = |text: &str, cap: usize| cap == 0 || cap > text.len();
        if !fits(&prog, program_cap) || !fits(&params, parameters_cap) {
            // SAFETY: checked non-NULL; writable by the caller's promise.
            unsafe {
                program_needed.write_unaligned(prog.len() + 1);
                parameters_needed.write_unaligned(params.len() + 1);
            }
            return Err(Error::new(
                QM_E_INSUFFICIENT_BUFFER,
                format!(
                    "the buffers hold {program_cap} and {parameters_cap} bytes; {} and {} are needed",
                    prog.len() + 1,
                    params.len() + 1
                ),
            ));
        }
        // SAFETY: forwarded caller promises; both fit (checked above).
        unsafe { write_str(&prog, program, program_cap, program_needed, HResult::OK) }?;
        // SAFETY: as above.
        unsafe {
            write_str(
                &params,
                parameters,
                parameters_cap,
                parameters_needed,
                HResult::OK,
            )
        }
    })
}

/// Sets the least time between two progress notifications of the job
/// (`QM_NOTIFY_JOB_MODIFICATION` while it transfers), in milliseconds
/// (BITS's `BITS_JOB_PROPERTY_MINIMUM_NOTIFICATION_INTERVAL_MS`; default
/// 500). Progress is measured every 250 ms, so smaller values give that
/// pace; state changes and other modifications are always notified; 0
/// sends every measurement. Returns `QM_S_OK`, `QM_BG_E_INVALID_STATE`
/// (final), `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_job_set_minimum_notification_interval(job: qm_job_t, ms: u32) -> qm_hresult {
    job_do(job, |j| {
        j.set_min_notification_interval(ms).map(|_| HResult::OK)
    })
}

/// Gets the least time between two progress notifications, in milliseconds.
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_minimum_notification_interval(
    job: qm_job_t,
    out: *mut u32,
) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { job_get(job, out, |j| Ok(j.min_notification_interval())) }
}

/// Sets the job's own bandwidth limit in bytes per second (0: none). It
/// applies on top of the manager's limit, whatever the priority, and to
/// every transport, local copies included.
/// Returns `QM_S_OK`, `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_job_set_max_bandwidth(job: qm_job_t, bytes_per_sec: u64) -> qm_hresult {
    job_do(job, |j| {
        j.set_max_bandwidth(bytes_per_sec).map(|_| HResult::OK)
    })
}

/// Gets the job's own bandwidth limit (0: none).
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_max_bandwidth(job: qm_job_t, out: *mut u64) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { job_get(job, out, |j| Ok(j.max_bandwidth())) }
}

/// Sets the largest file the job may download, in bytes (0, the default:
/// no limit; BITS's `BITS_JOB_PROPERTY_MAX_DOWNLOAD_SIZE`). A file whose
/// announced size is larger, or whose body grows past the limit, puts the
/// job in ERROR with `QM_BG_E_MAX_DOWNLOAD_SIZE_LIMIT_REACHED` before any
/// byte past the limit is written.
/// Returns `QM_S_OK`, `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_job_set_max_download_size(job: qm_job_t, bytes: u64) -> qm_hresult {
    job_do(job, |j| j.set_max_download_size(bytes).map(|_| HResult::OK))
}

/// Gets the job's maximum download size in bytes (0: no limit).
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_max_download_size(job: qm_job_t, out: *mut u64) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { job_get(job, out, |j| Ok(j.max_download_size())) }
}

/// Sets a speed floor, as curl's `--speed-limit`/`--speed-time`: a transfer
/// that moves fewer than `bytes_per_sec` on average over `seconds` is given
/// up as a transient timeout (`QM_E_WINHTTP_TIMEOUT`, TRANSIENT_ERROR, retried
/// after the retry delay). Either argument 0 (the default) turns it off.
/// As curl's, it counts the time before the body too: each request must
/// connect and get its response head within `seconds`.
/// Time spent waiting for the job's or the manager's bandwidth limit does not
/// count. Returns `QM_S_OK`, `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`.
/// Any thread.
#[no_mangle]
pub extern "C" fn qm_job_set_low_speed_limit(
    job: qm_job_t,
    bytes_per_sec: u64,
    seconds: u32,
) -> qm_hresult {
    job_do(job, |j| {
        j.set_low_speed_limit(bytes_per_sec, seconds)
            .map(|_| HResult::OK)
    })
}

/// Gets the speed floor: `*bytes_per_sec` and `*seconds` (both 0 when off).
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER` (either pointer NULL).
/// Any thread.
///
/// # Safety
/// `bytes_per_sec` and `seconds` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_low_speed_limit(
    job: qm_job_t,
    bytes_per_sec: *mut u64,
    seconds: *mut u32,
) -> qm_hresult {
    guard!({
        let rate = Out::new(bytes_per_sec, "bytes_per_sec")?;
        let time = Out::new(seconds, "seconds")?;
        let (r, t) = handles::with_job(job, |j| j.low_speed_limit())?;
        // SAFETY: both checked non-NULL; the caller promises they are writable.
        unsafe {
            rate.write(r);
            time.write(t);
        }
        Ok(HResult::OK)
    })
}

/// Sets how many connections the job may use at once (at least 1; default
/// 6, what browsers open to one host). The job transfers that many of its
/// files at once, each on its own connection, reusing kept-alive
/// connections per server, so a job of many small files does not pay one
/// round trip per file; a remote file of 2 MiB or more whose server
/// answers ranges (`Accept-Ranges: bytes`, a strong ETag or Last-Modified)
/// is split into segments over idle connections, each a range request
/// with `If-Range`, so a per-connection rate cap does not bound it. Files
/// may then finish in any order (`QM_NOTIFY_FILE_TRANSFERRED` fires as
/// each one lands); `qm_job_complete` still places them all at once. 1
/// gives the sequential behaviour of qmgr 0.1. The manager's caps apply on
/// top (`qm_manager_set_max_connections`, `_per_server`). Applies from the
/// job's next run. Returns `QM_S_OK`, `QM_E_INVALIDARG` (0),
/// `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_job_set_max_connections(job: qm_job_t, n: u32) -> qm_hresult {
    job_do(job, |j| j.set_max_connections(n).map(|_| HResult::OK))
}

/// Gets how many connections the job may use at once.
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_max_connections(job: qm_job_t, out: *mut u32) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { job_get(job, out, |j| Ok(j.max_connections())) }
}

/// Sets the longest time, in seconds, the job may spend CONNECTING or
/// TRANSFERRING (BITS's `IBackgroundCopyJob4::SetMaximumDownloadTime`;
/// default 7,776,000 s, 90 days; 0: no limit). Time QUEUED, SUSPENDED or
/// in TRANSIENT_ERROR does not count; `qm_job_resume` starts it again.
/// When it runs out the job goes to ERROR with
/// `QM_BG_E_MAXDOWNLOAD_TIMEOUT` (context GENERAL_QUEUE_MANAGER); a
/// resume gives it the full time again. Returns `QM_S_OK`,
/// `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_job_set_maximum_download_time(job: qm_job_t, seconds: u32) -> qm_hresult {
    job_do(job, |j| {
        j.set_max_download_time(seconds).map(|_| HResult::OK)
    })
}

/// Marks the job's content as dynamic (BITS's
/// `BITS_JOB_PROPERTY_DYNAMIC_CONTENT`): the server may send other bytes on
/// every request and has no stable validator, so each file comes in one
/// request without a range, is never split into segments, and starts
/// again from zero after any interruption (a cut, a suspend, a restart of
/// the process). Off by default. Returns `QM_S_OK`,
/// `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_job_set_dynamic_content(job: qm_job_t, enabled: bool) -> qm_hresult {
    job_do(job, |j| j.set_dynamic_content(enabled).map(|_| HResult::OK))
}

/// Gets whether the job's content is dynamic.
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_dynamic_content(job: qm_job_t, out: *mut bool) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { job_get(job, out, |j| Ok(j.dynamic_content())) }
}

/// Gets the job's maximum download time, in seconds (0: no limit).
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_maximum_download_time(
    job: qm_job_t,
    out: *mut u32,
) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { job_get(job, out, |j| Ok(j.max_download_time())) }
}
