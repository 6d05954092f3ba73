//! The header's section "Manager": opening and closing managers, their
//! settings, and the jobs they hold.

use std::ffi::c_char;
use std::path::Path;

use super::constants::QM_ENUM_ALL_USERS;
use super::handles;
use super::types::{qm_guid, qm_hresult, qm_job_t, qm_manager_t};
use super::util::{manager_get, manager_set, opt_str_arg, write_str, Out};
use crate::engine::error::Error;
use crate::hresult::*;
use crate::{JobId, Manager};
/// Opens a manager. `state_dir = NULL` gives an in-memory manager (nothing
/// outlives the process). With `state_dir` (an absolute path, created with
/// mode 0700 if missing) the jobs live in a private SQLite database there:
/// every change is durable before the call returns, progress is
/// checkpointed (the data is fsynced first), and opening the directory again
/// restores every job that is not final; jobs that were queued, transferring
/// or retrying carry on by themselves from their last durable byte.
/// Callbacks are not persisted: set them again after an open.
/// Reads the environment on the calling thread: the proxy variables and
/// the notify programs' environment come from that reading until the next
/// `qm_job_resume` (see there; never `setenv` on another thread meanwhile).
/// Returns `QM_S_OK`, `QM_E_POINTER` (`out` NULL), `QM_E_INVALIDARG`
/// (`state_dir` relative or not UTF-8), `QM_E_SHARING_VIOLATION` (the
/// directory is open in this or another process), the Win32 error of a
/// directory that cannot be created, `QM_E_FAIL` (a database from a newer
/// qmgr), `QM_E_OUTOFMEMORY` (no thread). The handle is the caller's until
/// `qm_manager_close`. Any thread.
///
/// # Safety
/// `state_dir` NULL or a NUL-terminated string; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_manager_open(
    state_dir: *const c_char,
    out: *mut qm_manager_t,
) -> qm_hresult {
    guard!({
        let out = Out::new(out, "out")?;
        // SAFETY: the caller promises a valid C string or NULL.
        let dir = unsafe { opt_str_arg(state_dir, "state_dir") }?;
        let manager = Manager::open(dir.map(Path::new))?;
        // SAFETY: checked non-NULL; writable by the caller's promise.
        unsafe { out.write(handles::add_manager(manager)) };
        Ok(HResult::OK)
    })
}

/// Connects to a qmgr daemon (`qmgrd`) and returns a manager whose every
/// `qm_manager_*` and `qm_job_*` call the daemon carries out, with the
/// same codes, out-parameters and last-error messages as an in-process
/// manager's. Its jobs are the caller's jobs of that daemon: they outlive
/// this process (create, add, resume and exit: the daemon carries the job
/// on, another process completes it) and every process of the user sees
/// them. `address` is a Varlink address, "unix:/path/to/socket" (or an
/// absolute path; on Linux, "unix:" and an at sign then a name is an
/// abstract socket); NULL
/// connects to the caller's default daemon, the first of: the
/// environment variable QMGR_ADDRESS if set and not empty; the per-user
/// daemon's socket $XDG_RUNTIME_DIR/qmgr/io.qmgr if it exists; the
/// system daemon's /run/qmgr/io.qmgr (the environment is read by this
/// call, on the calling thread).
///
/// Which calls cross the socket: the job getters of state, progress
/// (qm_job_get_progress, _ex), status, error, times, counts and
/// properties read a copy of the job kept in this process, which one
/// round trip refreshes when it is older than the job's minimum
/// notification interval (at least 250 ms) or after this process changed
/// the job, and which the daemon's events refresh while a callback is set
/// (then progress is read without leaving the process; a local read costs
/// tens of nanoseconds, a round trip tens of microseconds). The file
/// getters read a copy of the job's files kept the same way: one round
/// trip reads them all when the copy is older than that interval or this
/// process changed the job. Every other call (the changes, qm_job_wait,
/// the manager's settings, qm_manager_enum_jobs) is one round trip.
/// Callbacks run on a thread of this manager with the guarantees of
/// qm_job_set_notify; while one is set on a job, the daemon does not run
/// the job's notify program (as in-process: the program runs only when no
/// callback takes the event), and once this manager is closed it does
/// again; a process gone without closing it (a crash, an exit without
/// qm_manager_close) is taken to have missed the last event: a job then
/// TRANSFERRED or in ERROR runs its program at once.
/// Losing the daemon fails the call in flight and the next ones with
/// QM_E_SERVICE_UNAVAILABLE (never a hang: a reply must begin within 2
/// minutes, 10 for qm_job_complete and qm_job_cancel); the call after the
/// daemon is back connects again, and the job handles stay good. The
/// daemon's environment, not the caller's, is what its transfers and
/// notify programs use.
/// Returns `QM_S_OK`, `QM_E_POINTER` (`out` NULL), `QM_E_INVALIDARG`
/// (`address` not UTF-8 or not a Unix socket's address),
/// `QM_E_SERVICE_UNAVAILABLE` (no daemon listens there),
/// `QM_E_ACCESSDENIED` (the socket refuses this user), `QM_E_NOTIMPL` (a
/// library built without the `service` feature), `QM_E_OUTOFMEMORY` (no
/// thread). The handle is the caller's until `qm_manager_close`, which
/// disconnects (the daemon's jobs go on). Any thread.
///
/// # Safety
/// `address` NULL or a NUL-terminated string; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_manager_connect(
    address: *const c_char,
    out: *mut qm_manager_t,
) -> qm_hresult {
    guard!({
        let out = Out::new(out, "out")?;
        // SAFETY: the caller promises a valid C string or NULL.
        let address = unsafe { opt_str_arg(address, "address") }?;
        let manager = Manager::connect(address)?;
        // SAFETY: checked non-NULL; writable by the caller's promise.
        unsafe { out.write(handles::add_manager(manager)) };
        Ok(HResult::OK)
    })
}

/// Closes a manager: stops its transfers (with a state directory their
/// partial data is checkpointed and kept for the next open; in memory it is
/// deleted), closes the
/// handles of all its jobs, and waits for its threads. After it returns no
/// callback of its jobs is running or will run (unless called from inside
/// a callback, which then finishes normally). A connected manager
/// (`qm_manager_connect`) disconnects: its waits end with `QM_E_ABORT`,
/// and the daemon's jobs go on.
/// Returns `QM_S_OK`, `QM_E_HANDLE` (not an open manager). Any thread.
#[no_mangle]
pub extern "C" fn qm_manager_close(mgr: qm_manager_t) -> qm_hresult {
    guard!({
        let (manager, jobs) = handles::remove_manager(mgr)?;
        // Close first: it wakes waiters (a callback may be in qm_job_wait)
        // and stops the notification thread; then nothing can be running.
        manager.close();
        for (handle, job) in jobs {
            job.clear_notify_of(handle);
        }
        Ok(HResult::OK)
    })
}

/// Sets how many jobs transfer at once (default 4, at least 1). When all
/// are taken, a waiting job may take a running one's place: a FOREGROUND
/// job any background job's, a background job a lower priority's, and a
/// job of the same priority one that has run for two minutes (which goes
/// to the end of the queue); only FOREGROUND preempts a job that would
/// lose its bytes (a source without ranges, dynamic content).
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_INVALIDARG` (0). Any thread.
#[no_mangle]
pub extern "C" fn qm_manager_set_max_active_jobs(mgr: qm_manager_t, n: u32) -> qm_hresult {
    manager_set(mgr, |m| m.set_max_active_jobs(n))
}

/// Gets how many jobs transfer at once.
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_manager_get_max_active_jobs(
    mgr: qm_manager_t,
    out: *mut u32,
) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { manager_get(mgr, out, |m| m.max_active_jobs()) }
}

/// Caps the sum of all background (non-FOREGROUND) transfers, in bytes per
/// second; 0 is unlimited (the default). A job's own limit
/// (`qm_job_set_max_bandwidth`) applies on top.
/// Returns `QM_S_OK`, `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_manager_set_max_bandwidth(
    mgr: qm_manager_t,
    bytes_per_sec: u64,
) -> qm_hresult {
    manager_set(mgr, |m| m.set_max_bandwidth(bytes_per_sec))
}

/// Gets the background bandwidth limit (0: unlimited).
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_manager_get_max_bandwidth(
    mgr: qm_manager_t,
    out: *mut u64,
) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { manager_get(mgr, out, Manager::max_bandwidth) }
}

/// Caps the connections of all the manager's jobs together (at least 1;
/// default 24, the default active jobs times their default connections). A
/// running job always keeps one connection; a run takes more only while
/// the cap allows. Returns `QM_S_OK`, `QM_E_INVALIDARG` (0), `QM_E_HANDLE`.
/// Any thread.
#[no_mangle]
pub extern "C" fn qm_manager_set_max_connections(mgr: qm_manager_t, n: u32) -> qm_hresult {
    manager_set(mgr, |m| m.set_max_connections(n))
}

/// Gets the cap on the connections of all the manager's jobs.
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_manager_get_max_connections(
    mgr: qm_manager_t,
    out: *mut u32,
) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { manager_get(mgr, out, |m| m.max_connections()) }
}

/// Caps the connections one job opens to one server (scheme, host and
/// port; at least 1; default 6, what browsers open to one host). Applies
/// to runs that start after the call. Returns `QM_S_OK`, `QM_E_INVALIDARG`
/// (0), `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_manager_set_max_connections_per_server(
    mgr: qm_manager_t,
    n: u32,
) -> qm_hresult {
    manager_set(mgr, |m| m.set_max_connections_per_server(n))
}

/// Gets the cap on one job's connections to one server.
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_manager_get_max_connections_per_server(
    mgr: qm_manager_t,
    out: *mut u32,
) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { manager_get(mgr, out, |m| m.max_connections_per_server()) }
}

/// Lists the jobs that are not final, newest first, each as a new job
/// reference that the caller closes with `qm_job_close`. `*count` is always
/// set to the number of jobs; `cap = 0` (with `out` NULL or not) only
/// counts. If `cap` is smaller than the count, nothing is written to `out`,
/// no reference is created, and `QM_E_INSUFFICIENT_BUFFER` is returned.
/// The caller's own jobs: `qm_manager_enum_jobs_ex` with
/// `QM_ENUM_ALL_USERS` lists every user's.
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER` (`count` NULL, or `out`
/// NULL with `cap > 0`), `QM_E_INSUFFICIENT_BUFFER`. Any thread.
///
/// # Safety
/// `out` NULL or valid for `cap` handles; `count` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_manager_enum_jobs(
    mgr: qm_manager_t,
    out: *mut qm_job_t,
    cap: usize,
    count: *mut usize,
) -> qm_hresult {
    // SAFETY: forwarded caller promises.
    unsafe { qm_manager_enum_jobs_ex(mgr, 0, out, cap, count) }
}

/// `qm_manager_enum_jobs` with flags (BITS's `EnumJobs(dwFlags)`): 0 lists
/// the caller's jobs; `QM_ENUM_ALL_USERS` every user's. On a connected
/// manager (`qm_manager_connect`) that is the daemon's jobs of every user,
/// for an administrator (root, or a member of the daemon's admin group;
/// `QM_E_ACCESSDENIED` for anyone else); an in-process manager has one
/// user, so the flag lists what 0 lists.
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_INVALIDARG` (unknown flag
/// bits), `QM_E_ACCESSDENIED`, `QM_E_POINTER` (`count` NULL, or `out` NULL
/// with `cap > 0`), `QM_E_INSUFFICIENT_BUFFER`. Any thread.
///
/// # Safety
/// `out` NULL or valid for `cap` handles; `count` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_manager_enum_jobs_ex(
    mgr: qm_manager_t,
    flags: u32,
    out: *mut qm_job_t,
    cap: usize,
    count: *mut usize,
) -> qm_hresult {
    guard!({
        let count = Out::new(count, "count")?;
        if out.is_null() && cap != 0 {
            return Err(Error::new(QM_E_POINTER, "out is NULL but cap is not 0"));
        }
        let manager = handles::manager(mgr)?;
        let all_users = match flags {
            0 => false,
            QM_ENUM_ALL_USERS => true,
            other => {
                return Err(Error::invalid_arg(format!(
                    "unknown job enumeration flags 0x{other:X}"
                )))
            }
        };
        if cap == 0 && !all_users {
            // A count query: no job list to copy.
            // SAFETY: checked non-NULL; writable by the caller's promise.
            unsafe { count.write(manager.job_count()?) };
            return Ok(HResult::OK);
        }
        let jobs = match all_users {
            true => manager.jobs_of_all_users()?,
            false => manager.jobs()?,
        };
        let n = jobs.len();
        // SAFETY: checked non-NULL; writable by the caller's promise.
        unsafe { count.write(n) };
        if cap == 0 {
            return Ok(HResult::OK);
        }
        if cap < n {
            return Err(Error::new(
                QM_E_INSUFFICIENT_BUFFER,
                format!("room for {cap} jobs; there are {n}"),
            ));
        }
        for (i, handle) in handles::add_jobs(jobs, mgr)?.into_iter().enumerate() {
            // SAFETY: out is non-NULL (checked) and valid for cap >= n
            // handles; it need not be aligned.
            unsafe { out.add(i).write_unaligned(handle) };
        }
        Ok(HResult::OK)
    })
}

/// Finds a job that is not final by its id and returns a new reference to
/// it, which the caller closes with `qm_job_close`.
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_INVALIDARG` (`id` NULL),
/// `QM_E_POINTER` (`out` NULL), `QM_BG_E_NOT_FOUND`. Any thread.
///
/// # Safety
/// `id` NULL or valid; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_manager_get_job(
    mgr: qm_manager_t,
    id: *const qm_guid,
    out: *mut qm_job_t,
) -> qm_hresult {
    guard!({
        let out = Out::new(out, "out")?;
        if id.is_null() {
            return Err(Error::invalid_arg("id is NULL"));
        }
        // SAFETY: non-NULL; the caller promises it points to a qm_guid.
        let id = JobId(unsafe { id.read_unaligned() }.bytes);
        let job = handles::manager(mgr)?.job(&id)?;
        // SAFETY: checked non-NULL; writable by the caller's promise.
        unsafe { out.write(handles::add_job(job, mgr)?) };
        Ok(HResult::OK)
    })
}

/// Gets how many jobs of the state directory could not be read when the
/// manager opened it (0 for an in-memory manager). Those jobs are skipped;
/// their rows stay in the directory untouched; every other job opened. A
/// job whose stored HTTP options (CA file, redirect policy, proxy, headers,
/// credentials) do not read is skipped too: it never runs with defaults.
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_manager_get_skipped_job_count(
    mgr: qm_manager_t,
    out: *mut u32,
) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { manager_get(mgr, out, |m| m.skipped_jobs().len() as u32) }
}

/// Describes the skipped jobs, one line each ("job GUID was skipped …:
/// why"), separated by newlines (string out-parameter convention of
/// `qm_format_hresult`). Returns `QM_S_OK`, `QM_S_FALSE` (none skipped: the
/// text is empty), `QM_E_INSUFFICIENT_BUFFER`, `QM_E_HANDLE`, `QM_E_POINTER`.
/// Any thread.
///
/// # Safety
/// `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_manager_get_skipped_jobs(
    mgr: qm_manager_t,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> qm_hresult {
    guard!({
        let manager = handles::manager(mgr)?;
        let text = manager.skipped_jobs().join("\n");
        let ok = HResult(if text.is_empty() { QM_S_FALSE } else { QM_S_OK });
        // SAFETY: forwarded caller promises.
        unsafe { write_str(&text, buf, cap, needed, ok) }
    })
}
