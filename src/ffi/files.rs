//! The header's section "Files": adding a job's files, reading them back,
//! their ranges, checksums, names and what the server said about them.

use std::ffi::c_char;

use super::constants::QM_SIZE_UNKNOWN;
use super::handles;
use super::types::*;
use super::util::{
    job_do, job_get, job_get_opt_str, job_get_str, job_get_struct, opt_str_arg, read_in_array,
    str_arg, write_out_array, Out,
};
use crate::engine::error::Error;
use crate::hresult::*;
use crate::{FileRange, FileSpec};

/// Adds `count` files to the job, all or none (`AddFiles`). Each remote
/// name is an `http://`, `https://` or `file://` URL or an absolute path;
/// each local name an absolute path, unique in the job, whose directory
/// exists and is writable (checked now). A TRANSFERRED job goes back to QUEUED.
/// `files` is an array of in-structs: `files[0].struct_size` is the
/// stride, and every element must carry the same (see "Structs that
/// grow"). The strings are copied; the caller keeps ownership of `files`.
/// Returns `QM_S_OK`, `QM_E_INVALIDARG` (`count` 0, `files` NULL, a bad
/// `struct_size` or a `reserved` field that is not 0, a NULL, non-UTF-8,
/// relative, duplicate or unsupported name), `QM_E_PATH_NOT_FOUND` (a local
/// name's directory does not exist), `QM_E_ACCESSDENIED` (this process may
/// not create files in it), `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`.
/// Any thread.
///
/// # Safety
/// `files` NULL or valid for `count` elements of `files[0].struct_size`
/// bytes whose strings are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn qm_job_add_files(
    job: qm_job_t,
    count: u32,
    files: *const qm_file_set_info,
) -> qm_hresult {
    guard!({
        let job = handles::job(job)?;
        if files.is_null() {
            return Err(Error::invalid_arg("files is NULL"));
        }
        // SAFETY: non-NULL; the caller promises `count` valid elements.
        let infos =
            unsafe { read_in_array::<qm_file_set_info>(files.cast(), count as usize, "files") }?;
        let mut specs = Vec::with_capacity(infos.len());
        for (i, info) in infos.iter().enumerate() {
            if info.reserved != 0 {
                return Err(Error::invalid_arg(format!(
                    "files[{i}].reserved is {}: set it to 0",
                    info.reserved
                )));
            }
            // SAFETY: the caller promises valid C strings or NULL.
            let remote = unsafe { str_arg(info.remote_name, &format!("files[{i}].remote_name")) }?;
            // SAFETY: as above.
            let local = unsafe { str_arg(info.local_name, &format!("files[{i}].local_name")) }?;
            specs.push(FileSpec {
                remote: remote.to_string(),
                local: local.to_string(),
                size_hint: info.size_hint,
            });
        }
        job.add_files(&specs)?;
        Ok(HResult::OK)
    })
}

/// Adds one file; the same as `qm_job_add_files` with one element and no
/// size hint. Returns the codes of `qm_job_add_files`. Any thread.
///
/// # Safety
/// Both strings NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn qm_job_add_file(
    job: qm_job_t,
    remote_name: *const c_char,
    local_name: *const c_char,
) -> qm_hresult {
    guard!({
        let job = handles::job(job)?;
        // SAFETY: the caller promises valid C strings or NULL.
        let remote = unsafe { str_arg(remote_name, "remote_name") }?;
        // SAFETY: as above.
        let local = unsafe { str_arg(local_name, "local_name") }?;
        job.add_files(&[FileSpec::new(remote, local)])?;
        Ok(HResult::OK)
    })
}

/// Adds one file of which only `count` ranges of the remote file are
/// wanted (BITS's `IBackgroundCopyJob3::AddFileWithRanges`). The ranges are
/// written one after another to the local file in the order given: remote
/// bytes 100-199, 900-999 and 400-499 make a 300-byte local file. Each range
/// is its own request; at transfer time the job goes to ERROR with
/// `QM_BG_E_INVALID_RANGE` (a range outside the remote file),
/// `QM_BG_E_INSUFFICIENT_RANGE_SUPPORT` (the server does not do ranges) or
/// `QM_BG_E_INVALID_SERVER_RESPONSE` (the server answered other bytes, e.g.
/// merged ranges). `ranges` is an array of in-structs:
/// `ranges[0].struct_size` is the stride, and every element must carry the
/// same (see "Structs that grow"). The ranges are copied.
/// Returns `QM_S_OK`, `QM_E_INVALIDARG` (`count` 0, `ranges` NULL, a bad
/// `struct_size` or a `reserved` field that is not 0, a bad name as for
/// `qm_job_add_files`, or a job with dynamic content),
/// `QM_BG_E_INVALID_RANGE` (an offset of `QM_LENGTH_TO_EOF`, a length of 0,
/// a range past 2^64), `QM_BG_E_OVERLAPPING_RANGES` (duplicates or
/// overlaps), `QM_BG_E_TOO_MANY_RANGES_IN_FILE` (more than 500),
/// `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
///
/// # Safety
/// Both strings NULL or NUL-terminated; `ranges` NULL or valid for `count`
/// elements of `ranges[0].struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn qm_job_add_file_with_ranges(
    job: qm_job_t,
    remote_name: *const c_char,
    local_name: *const c_char,
    count: u32,
    ranges: *const qm_file_range,
) -> qm_hresult {
    guard!({
        let job = handles::job(job)?;
        // SAFETY: the caller promises valid C strings or NULL.
        let remote = unsafe { str_arg(remote_name, "remote_name") }?;
        // SAFETY: as above.
        let local = unsafe { str_arg(local_name, "local_name") }?;
        if count == 0 {
            return Err(Error::invalid_arg(
                "count is 0: a ranged file needs a range",
            ));
        }
        if ranges.is_null() {
            return Err(Error::invalid_arg("ranges is NULL"));
        }
        // SAFETY: non-NULL; the caller promises `count` valid elements.
        let given =
            unsafe { read_in_array::<qm_file_range>(ranges.cast(), count as usize, "ranges") }?;
        let mut list = Vec::with_capacity(given.len());
        for (i, r) in given.iter().enumerate() {
            if r.reserved != 0 {
                return Err(Error::invalid_arg(format!(
                    "ranges[{i}].reserved is {}: set it to 0",
                    r.reserved
                )));
            }
            list.push(FileRange {
                offset: r.initial_offset,
                length: r.length,
            });
        }
        job.add_file_with_ranges(remote, local, &list)?;
        Ok(HResult::OK)
    })
}

/// Gets the number of files (`GetFileCount`).
/// Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_file_count(job: qm_job_t, out: *mut u32) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { job_get(job, out, |j| Ok(j.file_count())) }
}

/// Gets file `index`'s remote name: the URL (or path) the caller asked for,
/// as added or as `qm_job_set_file_remote_name` and
/// `qm_job_replace_remote_prefix` last set it (string out-parameter
/// convention of `qm_format_hresult`). Only those calls change it: never a
/// redirect, under any policy (where redirects led is
/// `qm_job_get_file_final_url`). Every attempt starts at this URL; its
/// origin (scheme, host, port) is the only one the job's credentials, the
/// URL's user info and its custom headers are sent to, and an `https://`
/// name is never fetched over plain HTTP unless the security flags allow
/// `QM_HTTP_REDIRECT_POLICY_ALLOW_HTTPS_TO_HTTP`.
/// Returns `QM_S_OK`, `QM_E_ITEM_NOT_FOUND` (index past the end),
/// `QM_E_INSUFFICIENT_BUFFER`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_file_remote_name(
    job: qm_job_t,
    index: u32,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> qm_hresult {
    // SAFETY: forwarded caller promises.
    unsafe {
        job_get_str(job, buf, cap, needed, |j| {
            Ok((j.file_remote_name(index)?, HResult::OK))
        })
    }
}

/// Gets file `index`'s local name (string out-parameter convention of
/// `qm_format_hresult`).
/// Returns `QM_S_OK`, `QM_E_ITEM_NOT_FOUND` (index past the end),
/// `QM_E_INSUFFICIENT_BUFFER`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_file_local_name(
    job: qm_job_t,
    index: u32,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> qm_hresult {
    // SAFETY: forwarded caller promises.
    unsafe {
        job_get_str(job, buf, cap, needed, |j| {
            Ok((j.file_local_name(index)?, HResult::OK))
        })
    }
}

/// Gets the size hint file `index` was added with (`qm_file_set_info`'s
/// `size_hint`; 0: none).
/// Returns `QM_S_OK`, `QM_E_ITEM_NOT_FOUND` (index past the end),
/// `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_file_size_hint(
    job: qm_job_t,
    index: u32,
    out: *mut u64,
) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe { job_get(job, out, |j| j.file_size_hint(index)) }
}

/// Gets the ranges of file `index` as they were added, in their order
/// (BITS's `IBackgroundCopyFile2::GetFileRanges`); a whole file has none.
/// `*count` is always set to the number of ranges; `cap = 0` (with `out`
/// NULL or not) only counts. If `cap` is smaller than the count, nothing is
/// written to `out` and `QM_E_INSUFFICIENT_BUFFER` is returned. `out` is
/// an array of out-structs: with `cap > 0`, `out[0].struct_size` is the
/// stride, and each element written must carry the same (see "Structs
/// that grow"); each gets `struct_size` set to what the library filled.
/// Returns `QM_S_OK`, `QM_E_ITEM_NOT_FOUND` (index past the end),
/// `QM_E_INSUFFICIENT_BUFFER`, `QM_E_HANDLE`, `QM_E_POINTER` (`count`
/// NULL, or `out` NULL with `cap > 0`), `QM_E_INVALIDARG` (a bad
/// `struct_size`; `*count` is set, nothing else written). Any thread.
///
/// # Safety
/// `out` NULL or valid for `cap` elements of `out[0].struct_size` bytes;
/// `count` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_file_ranges(
    job: qm_job_t,
    index: u32,
    out: *mut qm_file_range,
    cap: u32,
    count: *mut u32,
) -> qm_hresult {
    guard!({
        let count = Out::new(count, "count")?;
        if out.is_null() && cap != 0 {
            return Err(Error::new(QM_E_POINTER, "out is NULL but cap is not 0"));
        }
        let ranges = handles::job(job)?.file_ranges(index)?;
        let n = ranges.len() as u32;
        // SAFETY: checked non-NULL; writable by the caller's promise.
        unsafe { count.write(n) };
        if cap == 0 {
            return Ok(HResult::OK);
        }
        if cap < n {
            return Err(Error::new(
                QM_E_INSUFFICIENT_BUFFER,
                format!("room for {cap} ranges; the file has {n}"),
            ));
        }
        let values: Vec<qm_file_range> = ranges
            .iter()
            .map(|r| qm_file_range {
                struct_size: 0,
                reserved: 0,
                initial_offset: r.offset,
                length: r.length,
            })
            .collect();
        // SAFETY: out is non-NULL (checked) and valid for cap >= n
        // elements of the caller's size.
        unsafe { write_out_array(out.cast(), cap as usize, &values, "out") }?;
        Ok(HResult::OK)
    })
}

/// Gets file `index`'s progress (`GetFile` / `BG_FILE_PROGRESS`):
/// `bytes_total` is `QM_SIZE_UNKNOWN` until the size is known.
/// `out->struct_size` must be set (see "Structs that grow").
/// Returns `QM_S_OK`, `QM_E_ITEM_NOT_FOUND` (index past the end),
/// `QM_E_HANDLE`, `QM_E_POINTER`, `QM_E_INVALIDARG` (`struct_size` too
/// small or not set). Any thread.
///
/// # Safety
/// `out` NULL or valid for its `struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_file_progress(
    job: qm_job_t,
    index: u32,
    out: *mut qm_file_progress,
) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe {
        job_get_struct(job, out, |j| {
            let p = j.file_progress(index)?;
            Ok(qm_file_progress {
                struct_size: 0,
                completed: u32::from(p.completed),
                bytes_total: p.bytes_total.unwrap_or(QM_SIZE_UNKNOWN),
                bytes_transferred: p.bytes_transferred,
            })
        })
    }
}

/// Sets the SHA-256 (64 hex digits, either case) that file `index` must
/// have, or clears it with `hex = NULL`. It is checked when the file has
/// transferred, before it counts as transferred; a mismatch is fatal
/// (ERROR with `QM_BG_E_VALIDATION_FAILED`) and discards the data.
/// Returns `QM_S_OK`, `QM_E_INVALIDARG` (not 64 hex digits),
/// `QM_E_ITEM_NOT_FOUND`, `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`.
/// Any thread.
///
/// # Safety
/// `hex` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn qm_job_set_file_sha256(
    job: qm_job_t,
    index: u32,
    hex: *const c_char,
) -> qm_hresult {
    job_do(job, |j| {
        // SAFETY: the caller promises a valid C string or NULL.
        j.set_file_sha256(index, unsafe { opt_str_arg(hex, "hex") }?)?;
        Ok(HResult::OK)
    })
}

/// Gets the SHA-256 file `index` must have, as 64 lower-case hex digits
/// (string out-parameter convention of `qm_format_hresult`; 65 bytes with
/// the NUL), or "" with `QM_S_FALSE` when none is set.
/// Returns `QM_S_OK`, `QM_S_FALSE`, `QM_E_ITEM_NOT_FOUND` (index past the
/// end), `QM_E_INSUFFICIENT_BUFFER`, `QM_E_HANDLE`, `QM_E_POINTER`. Any
/// thread.
///
/// # Safety
/// `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_file_sha256(
    job: qm_job_t,
    index: u32,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> qm_hresult {
    // SAFETY: forwarded caller promises.
    unsafe { job_get_opt_str(job, buf, cap, needed, |j| j.file_sha256(index)) }
}

/// Makes file `index` a delta download (qmgr's own; BITS has none): before
/// the file is fetched, its zsync control file (as Debian's `zsyncmake`
/// 0.6.2 writes it) is read from `control_url`, or with `control_url =
/// NULL` from the remote name with `.zsync` appended; the `seed_count`
/// seeds (absolute paths of local files that may hold blocks of the new
/// file: the image a device runs, the last download) are scanned for its
/// blocks, read and never written, with the job owner's rights. Blocks
/// found are copied into the temporary file (durable and resumable like
/// fetched bytes); the rest is fetched from the remote name as single
/// `Range` requests over the job's connections (never from a `URL` line
/// of the control file). Each fetched block must match the control
/// file's MD4 and the whole file its SHA-1 and length. MD4 and SHA-1 are
/// weak hashes that a hostile server can defeat: set the file's SHA-256
/// (`qm_job_set_file_sha256`), the real guard. With no control file (an
/// HTTP 4xx), a server that does not answer ranges, no block found, a
/// control file that does not describe the server's file, or a
/// plain-HTTP control file for an HTTPS file (never read: it decides
/// which bytes are kept), the file is downloaded whole;
/// `qm_job_get_file_delta_status` says which way it went.
/// `seeds = NULL, seed_count = 0` makes it a plain download again.
/// The strings are copied; the caller keeps ownership.
/// Returns `QM_S_OK`, `QM_E_INVALIDARG` (`seeds` NULL with a count, a
/// NULL, non-UTF-8 or relative seed, more than 16, a `control_url` that
/// is not http(s), a file that is not fetched over http(s) or has byte
/// ranges), `QM_E_ITEM_NOT_FOUND`, `QM_BG_E_INVALID_STATE` (final, or the
/// file has started transferring), `QM_E_NOTIMPL` (a library built
/// without the `delta` feature), `QM_E_HANDLE`. Any thread.
///
/// # Safety
/// `seeds` NULL or valid for `seed_count` pointers, each NULL or
/// NUL-terminated; `control_url` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn qm_job_set_file_delta(
    job: qm_job_t,
    index: u32,
    seeds: *const *const c_char,
    seed_count: u32,
    control_url: *const c_char,
) -> qm_hresult {
    job_do(job, |j| {
        if seeds.is_null() && seed_count > 0 {
            return Err(Error::invalid_arg("seeds is NULL"));
        }
        let list: &[*const c_char] = if seed_count == 0 {
            &[]
        } else {
            // SAFETY: non-NULL, and the caller promises `seed_count`
            // readable pointers.
            unsafe { std::slice::from_raw_parts(seeds, seed_count as usize) }
        };
        let mut paths = Vec::with_capacity(list.len());
        for (i, &seed) in list.iter().enumerate() {
            // SAFETY: the caller promises valid C strings or NULL.
            let text = unsafe { str_arg(seed, &format!("seeds[{i}]")) }?;
            paths.push(std::path::PathBuf::from(text));
        }
        // SAFETY: the caller promises a valid C string or NULL.
        let control_url = unsafe { opt_str_arg(control_url, "control_url") }?;
        if paths.is_empty() && control_url.is_some() {
            return Err(Error::invalid_arg("a control_url without seeds"));
        }
        let delta = (!paths.is_empty()).then(|| crate::DeltaSource {
            seeds: paths,
            control_url: control_url.map(String::from),
        });
        j.set_file_delta(index, delta)?;
        Ok(HResult::OK)
    })
}

/// Gets how file `index`'s delta download went: which way
/// (`QM_DELTA_WAY_*`) and how many bytes came from the seeds.
/// `out->struct_size` must be set (see "Structs that grow").
/// Returns `QM_S_OK`, `QM_E_ITEM_NOT_FOUND` (index past the end),
/// `QM_E_HANDLE`, `QM_E_POINTER`, `QM_E_INVALIDARG` (`struct_size` too
/// small or not set). Any thread.
///
/// # Safety
/// `out` NULL or valid for its `struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_file_delta_status(
    job: qm_job_t,
    index: u32,
    out: *mut qm_file_delta_status,
) -> qm_hresult {
    // SAFETY: forwarded caller promise.
    unsafe {
        job_get_struct(job, out, |j| {
            let s = j.file_delta_status(index)?;
            Ok(qm_file_delta_status {
                struct_size: 0,
                way: s.way as u32,
                bytes_from_seeds: s.bytes_from_seeds,
            })
        })
    }
}

/// Gets why file `index`'s delta download became a full download (string
/// out-parameter convention of `qm_format_hresult`), or "" with
/// `QM_S_FALSE` when it did not.
/// Returns `QM_S_OK`, `QM_S_FALSE`, `QM_E_ITEM_NOT_FOUND`,
/// `QM_E_INSUFFICIENT_BUFFER`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_file_delta_reason(
    job: qm_job_t,
    index: u32,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> qm_hresult {
    // SAFETY: forwarded caller promises.
    unsafe {
        job_get_opt_str(job, buf, cap, needed, |j| {
            Ok(Some(j.file_delta_status(index)?.reason).filter(|r| !r.is_empty()))
        })
    }
}

/// Gives file `index` a new remote name (BITS's
/// `IBackgroundCopyFile2::SetRemoteName`), keeping its bytes as
/// `qm_job_replace_remote_prefix` does.
/// Returns `QM_S_OK`, `QM_E_INVALIDARG` (NULL or not a valid remote name),
/// `QM_E_ITEM_NOT_FOUND` (index past the end), `QM_BG_E_INVALID_STATE`
/// (final), `QM_E_HANDLE`. Any thread.
///
/// # Safety
/// `remote_name` NULL or a valid C string.
#[no_mangle]
pub unsafe extern "C" fn qm_job_set_file_remote_name(
    job: qm_job_t,
    index: u32,
    remote_name: *const c_char,
) -> qm_hresult {
    guard!({
        let job = handles::job(job)?;
        // SAFETY: the caller promises a valid C string or NULL.
        let remote = unsafe { str_arg(remote_name, "remote_name") }?;
        job.set_file_remote_name(index, remote)?;
        Ok(HResult::OK)
    })
}

/// Replaces `old_prefix` at the start of every file's remote name with
/// `new_prefix` (BITS's `IBackgroundCopyJob3::ReplaceRemotePrefix`), e.g.
/// to switch to another mirror. The bytes already transferred are kept:
/// the next request goes to the new name with `If-Range` of the version
/// they came from, so the same file resumes and a changed one restarts. A
/// running transfer stops and the job goes back to the queue.
/// Returns `QM_S_OK`, `QM_S_FALSE` (no remote name started with
/// `old_prefix`), `QM_E_INVALIDARG` (NULL or empty `old_prefix`, NULL
/// `new_prefix`, or a resulting name that is not a valid remote name:
/// nothing is changed then), `QM_BG_E_INVALID_STATE` (final),
/// `QM_E_HANDLE`. Any thread.
///
/// # Safety
/// `old_prefix` and `new_prefix` NULL or valid C strings.
#[no_mangle]
pub unsafe extern "C" fn qm_job_replace_remote_prefix(
    job: qm_job_t,
    old_prefix: *const c_char,
    new_prefix: *const c_char,
) -> qm_hresult {
    guard!({
        let job = handles::job(job)?;
        // SAFETY: the caller promises valid C strings or NULL.
        let old = unsafe { str_arg(old_prefix, "old_prefix") }?;
        // SAFETY: as above.
        let new = unsafe { str_arg(new_prefix, "new_prefix") }?;
        Ok(if job.replace_remote_prefix(old, new)? {
            HResult::OK
        } else {
            HResult(QM_S_FALSE)
        })
    })
}

/// Gets the URL file `index`'s last response came from: its remote name,
/// unless the server redirected; after a refused redirect, the URL it
/// pointed to (string out-parameter convention of `qm_format_hresult`).
/// Under every redirect policy this is a report of what the network said,
/// kept in memory only: qmgr never fetches from it on a later attempt,
/// never sends credentials or custom headers to it because of it, and never
/// makes it the remote name (BITS's `ALLOW_REPORT` and `DISALLOW` rewrite
/// `GetRemoteName`; qmgr reports here instead). It may name a URL that was
/// refused, even a `file://` one. A new remote name resets it.
/// Returns `QM_S_OK`, `QM_E_ITEM_NOT_FOUND` (index past the end),
/// `QM_E_INSUFFICIENT_BUFFER`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_file_final_url(
    job: qm_job_t,
    index: u32,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> qm_hresult {
    // SAFETY: forwarded caller promises.
    unsafe {
        job_get_str(job, buf, cap, needed, |j| {
            Ok((j.file_final_url(index)?, HResult::OK))
        })
    }
}

/// Gets the full path of the temporary file that holds file `index`'s
/// bytes until `qm_job_complete` (BITS's `IBackgroundCopyFile3::
/// GetTemporaryName`; a hidden `.NAME.XXXXXXXXXXXX.qmgr-part` beside the
/// destination), string out-parameter convention of `qm_format_hresult`.
/// Returns `QM_S_OK`; `QM_S_FALSE` with an empty string before the
/// transfer created it and once the file is in place or cancelled;
/// `QM_E_ITEM_NOT_FOUND` (index past the end), `QM_E_INSUFFICIENT_BUFFER`,
/// `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_file_temporary_name(
    job: qm_job_t,
    index: u32,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> qm_hresult {
    // SAFETY: forwarded caller promises.
    unsafe {
        job_get_opt_str(job, buf, cap, needed, |j| {
            Ok(j.file_temporary_name(index)?
                .map(|path| path.to_string_lossy().into_owned()))
        })
    }
}

/// Gets the header lines of the last HTTP response for file `index`, one
/// `name: value\r\n` each with names in lower case (BITS's
/// `BITS_FILE_PROPERTY_ID_HTTP_RESPONSE_HEADERS`), for reading e.g. a
/// signature header; kept in memory only. String out-parameter
/// convention of `qm_format_hresult`. Returns `QM_S_OK`; `QM_S_FALSE` with
/// an empty string before any response (and for local files);
/// `QM_E_ITEM_NOT_FOUND`, `QM_E_INSUFFICIENT_BUFFER`, `QM_E_HANDLE`,
/// `QM_E_POINTER`. Any thread.
///
/// # Safety
/// `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn qm_job_get_file_response_headers(
    job: qm_job_t,
    index: u32,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> qm_hresult {
    // SAFETY: forwarded caller promises.
    unsafe { job_get_opt_str(job, buf, cap, needed, |j| j.file_response_headers(index)) }
}
