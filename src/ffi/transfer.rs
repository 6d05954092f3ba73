//! The header's section "Transfer options": how and when a job transfers
//! (priority, retries, limits on time, size, speed and connections).

use super::handles;
use super::types::*;
use super::util::{bool_arg, job_do, job_get, job_set, Out};
use crate::engine::error::Error;
use crate::hresult::*;
use crate::Priority;

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

/// Sets the minimum delay before a retry after a transient error, in
/// seconds (default 600; values below 1 are stored as 1).
/// Returns `QM_S_OK`, `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_job_set_min_retry_delay(job: qm_job_t, seconds: u32) -> qm_hresult {
    job_set(job, |j| j.set_min_retry_delay(seconds))
}

/// Gets the minimum retry delay in seconds.
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_min_retry_delay(job: qm_job_t, out: *mut u32) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { job_get(job, out, |j| Ok(j.min_retry_delay())) }
}

/// Sets how long transient errors may go on without any progress before the
/// job moves to ERROR, in seconds (default 1,209,600 = 14 days; 0: the
/// first error is final).
/// Returns `QM_S_OK`, `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_job_set_no_progress_timeout(job: qm_job_t, seconds: u32) -> qm_hresult {
    job_set(job, |j| j.set_no_progress_timeout(seconds))
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

/// Sets the longest time, in seconds, the job may spend CONNECTING or
/// TRANSFERRING (BITS's `IBackgroundCopyJob4::SetMaximumDownloadTime`;
/// default 7,776,000 s, 90 days; 0: no limit). Time QUEUED, SUSPENDED or
/// in TRANSIENT_ERROR does not count; `qm_job_resume` starts it again.
/// When it runs out the job goes to ERROR with
/// `QM_BG_E_MAXDOWNLOAD_TIMEOUT` (context GENERAL_QUEUE_MANAGER); a
/// resume gives it the full time again. Returns `QM_S_OK`,
/// `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_job_set_max_download_time(job: qm_job_t, seconds: u32) -> qm_hresult {
    job_set(job, |j| j.set_max_download_time(seconds))
}

/// Gets the job's maximum download time, in seconds (0: no limit).
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_max_download_time(job: qm_job_t, out: *mut u32) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { job_get(job, out, |j| Ok(j.max_download_time())) }
}

/// Sets the job's own bandwidth limit in bytes per second (0: none). It
/// applies on top of the manager's limit, whatever the priority, and to
/// every transport, local copies included.
/// Returns `QM_S_OK`, `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_job_set_max_bandwidth(job: qm_job_t, bytes_per_sec: u64) -> qm_hresult {
    job_set(job, |j| j.set_max_bandwidth(bytes_per_sec))
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
    job_set(job, |j| j.set_max_download_size(bytes))
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
    job_set(job, |j| j.set_low_speed_limit(bytes_per_sec, seconds))
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
    job_set(job, |j| j.set_max_connections(n))
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

/// Marks the job's content as dynamic (BITS's
/// `BITS_JOB_PROPERTY_DYNAMIC_CONTENT`): the server may send other bytes on
/// every request and has no stable validator, so each file comes in one
/// request without a range, is never split into segments, and starts
/// again from zero after any interruption (a cut, a suspend, a restart of
/// the process). `enabled` is 1 (on) or 0 (off, the default).
/// Returns `QM_S_OK`, `QM_E_INVALIDARG` (`enabled` neither 0 nor 1),
/// `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_job_set_dynamic_content(job: qm_job_t, enabled: u32) -> qm_hresult {
    job_set(job, |j| {
        j.set_dynamic_content(bool_arg(enabled, "enabled")?)
    })
}

/// Gets whether the job's content is dynamic: 1 or 0.
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_dynamic_content(job: qm_job_t, out: *mut u32) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { job_get(job, out, |j| Ok(u32::from(j.dynamic_content()))) }
}

/// Sets whether the job yields to other traffic. While on, a background
/// job (`QM_PRIORITY_HIGH`, `_NORMAL` or `_LOW`; never `_FOREGROUND`) gives
/// way to other traffic on the network, so that it uses only idle
/// bandwidth: qmgr watches the queuing delay of its HTTP(S) connections
/// (receiver-side LEDBAT, RFC 6817 and RFC 9840: a target of 60 ms for
/// HIGH, 15 ms for NORMAL and LOW) and the traffic of other programs on
/// the host's network interfaces, and slows the job through its reads and
/// its receive window. All background connections of one priority yield
/// as one flow. Linux only; elsewhere the option is kept but has no
/// effect. Off, the job competes like any download, as FOREGROUND jobs
/// always do. The job's and the manager's bandwidth limits apply either
/// way. It may be changed at any time, also while the job transfers (it
/// applies within 20 ms). `enabled` is 1 (on, the default) or 0
/// (off). Returns `QM_S_OK`, `QM_E_INVALIDARG` (`enabled` neither 0 nor
/// 1), `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
#[no_mangle]
pub extern "C" fn qm_job_set_yielding(job: qm_job_t, enabled: u32) -> qm_hresult {
    job_set(job, |j| j.set_yielding(bool_arg(enabled, "enabled")?))
}

/// Gets whether the job yields to other traffic: 1 or 0.
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_yielding(job: qm_job_t, out: *mut u32) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { job_get(job, out, |j| Ok(u32::from(j.yielding()))) }
}
