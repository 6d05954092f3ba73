//! The header's section "Notifications": callbacks, the notify program,
//! and how often progress is reported.

use std::ffi::{c_char, c_void};
use std::sync::Arc;

use super::handles;
use super::types::*;
use super::util::{job_do, job_get, job_set, opt_str_arg, write_str};
use crate::engine::error::Error;
use crate::hresult::*;
use crate::{Job, NotifyCallback, NotifyCmdLine};

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
/// JOB_TRANSFERRED | JOB_ERROR; DISABLE silences all). `function = NULL` removes
/// the callback (the flags are stored all the same).
///
/// The callback runs on a library thread (one per manager, events of a job
/// in order), never while the library holds a lock, and may call any
/// `qm_*` function except `qm_job_wait` on its own job. Its `job` argument
/// is the handle used here. Events: JOB_TRANSFERRED, JOB_ERROR (with the
/// code), FILE_TRANSFERRED (with the file index), JOB_MODIFICATION (state,
/// files, properties, and progress at most 4 times a second). It must
/// return normally: a C++ exception or a `longjmp` out of it aborts the
/// process. While it runs, later events wait in the manager's queue, which
/// has no bound (see "Events" at the top).
///
/// `context` must stay valid until the callback is replaced or removed, this
/// handle is closed, the job becomes final, or its manager is closed: when
/// any of those calls returns, the old callback is not running and will not
/// run again (unless it is the caller). One exception: called from inside a
/// callback for a job of another manager, replacing, removing or closing
/// does not wait for that job's running callback (two managers' callbacks
/// that each closed the other's job would wait for each other forever), so
/// do not free its `context` there. Callbacks are per process: they are
/// not persisted.
/// Returns `QM_S_OK`, `QM_E_INVALIDARG` (unknown flag bits),
/// `QM_BG_E_INVALID_STATE` (a final job: a callback cannot be set on it, as
/// in BITS; removing one with the flags it has succeeds), `QM_E_HANDLE`. Any
/// thread.
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

/// Sets the least time between two progress notifications of the job
/// (`QM_NOTIFY_JOB_MODIFICATION` while it transfers), in milliseconds
/// (BITS's `BITS_JOB_PROPERTY_MINIMUM_NOTIFICATION_INTERVAL_MS`; default
/// 500). Progress is measured every 250 ms, so smaller values give that
/// pace; state changes and other modifications are always notified; 0
/// sends every measurement. Returns `QM_S_OK`, `QM_BG_E_INVALID_STATE`
/// (final), `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_job_set_min_notification_interval(job: qm_job_t, ms: u32) -> qm_hresult {
    job_set(job, |j| j.set_min_notification_interval(ms))
}

/// Gets the least time between two progress notifications, in milliseconds.
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_min_notification_interval(
    job: qm_job_t,
    out: *mut u32,
) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { job_get(job, out, |j| Ok(j.min_notification_interval())) }
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
