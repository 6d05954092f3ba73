//! The transfer of one job: a worker thread that moves its files in order.
//!
//! The worker holds the job's `data` lock only to pick the next file and to
//! record results; bytes move without it. It checks its stop token before
//! every chunk, so `suspend`, `cancel` and preemption take effect within one
//! chunk (1 MiB, or 1/20 s of a throttled rate).

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::engine::job::{FileCounters, Job, RunToken, Save, UNKNOWN};
use crate::engine::partial;
use crate::engine::transport::{Session, Source, TransferError};
use crate::engine::types::{ErrorContext, JobState, NotifyFlags, Priority};
use crate::hresult::*;

/// The largest read and write, in bytes.
const CHUNK: usize = 1 << 20;
/// How often the smoothed rate and JOB_MODIFICATION progress events update.
const RATE_WINDOW: Duration = Duration::from_millis(250);
/// The longest single sleep while throttled, so a stop is seen quickly.
const SLEEP_SLICE: Duration = Duration::from_millis(10);

/// Why a file transfer ended early.
enum Interrupt {
    /// The run was stopped (suspend, cancel, complete, preemption, close).
    Stopped,
    /// The transfer failed.
    Failed(TransferError),
    /// The connection broke while the body was flowing: worth resuming at once.
    Lost(TransferError),
}

impl From<TransferError> for Interrupt {
    fn from(e: TransferError) -> Interrupt {
        Interrupt::Failed(e)
    }
}

/// What the worker needs to know about the next file, copied out of the lock.
struct FileTask {
    index: u32,
    source: Source,
    local: PathBuf,
    sha256: Option<[u8; 32]>,
    counters: Arc<FileCounters>,
}

/// Runs a job until its files are transferred, it fails, or it is stopped.
pub(crate) fn run(job: Job, token: Arc<RunToken>) {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_files(&job, &token)));
    let failure = match result {
        Ok(Ok(())) | Ok(Err(Interrupt::Stopped)) => None,
        Ok(Err(Interrupt::Failed(e) | Interrupt::Lost(e))) => Some(e),
        Err(_) => Some(TransferError::fatal(
            HResult(QM_E_UNEXPECTED),
            ErrorContext::GeneralQueueManager,
            "internal error: the transfer thread panicked".to_string(),
        )),
    };
    let mut data = job.shared.data.lock();
    if data.run.as_ref().is_some_and(|r| Arc::ptr_eq(r, &token)) {
        data.run = None;
    }
    if let Some(err) = failure {
        if !token.is_stopped() {
            let file_index = Job::first_incomplete(&mut data).map(|i| i as u32);
            job.record_error(&mut data, err, file_index);
            let _ = job.save(&data, Save::Job);
        }
    }
    job.shared
        .counters
        .bytes_per_second
        .store(0, Ordering::Relaxed);
    job.shared.changed.notify_all();
    drop(data);
    if let Some(manager) = job.shared.manager.upgrade() {
        manager.worker_exited();
    }
}

fn run_files(job: &Job, token: &RunToken) -> Result<(), Interrupt> {
    let mut session = Session::new(job.shared.data.lock().http.clone());
    while let Some(task) = next_task(job, token)? {
        transfer_file(job, token, &task, &mut session)?;
        make_durable(job, &task)?;
        let mut data = job.shared.data.lock();
        task.counters.completed.store(true, Ordering::Relaxed);
        let _ = job.save(&data, Save::File(task.index as usize));
        job.shared
            .counters
            .files_transferred
            .fetch_add(1, Ordering::Relaxed);
        job.emit(
            &data,
            NotifyFlags::FILE_TRANSFERRED,
            task.index,
            HResult::OK,
        );
        job.touch(&mut data);
    }
    Ok(())
}

/// Picks the first file not yet transferred; with none left, moves the job
/// to TRANSFERRED under the same lock (so a file added meanwhile is not missed).
fn next_task(job: &Job, token: &RunToken) -> Result<Option<FileTask>, Interrupt> {
    let mut data = job.shared.data.lock();
    if token.is_stopped() {
        return Err(Interrupt::Stopped);
    }
    let Some(index) = Job::first_incomplete(&mut data) else {
        data.error = None;
        data.transfer_completed = Some(std::time::SystemTime::now());
        job.set_state(&mut data, JobState::Transferred);
        let _ = job.save(&data, Save::Job);
        return Ok(None);
    };
    job.set_state(&mut data, JobState::Connecting);
    let file = &data.files[index];
    Ok(Some(FileTask {
        index: index as u32,
        source: file.source.clone(),
        local: file.local.clone(),
        sha256: file.sha256,
        counters: Arc::clone(&file.counters),
    }))
}

/// Sets a file's transferred count, keeping the job's sum in step.
fn set_file_transferred(job: &Job, counters: &FileCounters, value: u64) {
    let old = counters.transferred.swap(value, Ordering::Relaxed);
    let c = &job.shared.counters.bytes_transferred;
    if value >= old {
        c.fetch_add(value - old, Ordering::Relaxed);
    } else {
        c.fetch_sub(old - value, Ordering::Relaxed);
    }
}

/// Opens (or reuses) the temporary file and cuts it to `offset`; returns the
/// file and the offset it really holds.
fn open_temp(
    job: &Job,
    task: &FileTask,
    current: Option<&PathBuf>,
    offset: u64,
) -> Result<(File, PathBuf, u64), TransferError> {
    if let Some(temp) = current {
        match partial::reopen(temp) {
            Ok(file) => {
                let len = file
                    .metadata()
                    .map_err(|e| TransferError::local_io("reading", temp, &e))?
                    .len();
                let keep = offset.min(len);
                file.set_len(keep)
                    .map_err(|e| TransferError::local_io("truncating", temp, &e))?;
                return Ok((file, temp.clone(), keep));
            }
            // The temporary file vanished: start this file again.
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(TransferError::local_io("reopening", temp, &e)),
        }
    }
    let temp = partial::temp_path_for(&task.local);
    let file = partial::create(&temp)
        .map_err(|e| TransferError::local_io("creating the temporary file", &temp, &e))?;
    let mut data = job.shared.data.lock();
    if let Some(entry) = data.files.get_mut(task.index as usize) {
        entry.temp = Some(temp.clone());
    }
    Ok((file, temp, 0))
}

/// A broken connection that had delivered at least this much is resumed at
/// once; smaller deliveries count toward `MAX_POOR_RESUMES` in a row.
const GOOD_ATTEMPT: u64 = 64 * 1024;
/// Resumes in a row that delivered little before the error counts.
const MAX_POOR_RESUMES: u32 = 5;

/// Transfers one file; a connection lost after data flowed is resumed at
/// once with a range request, as long as the attempts keep delivering.
fn transfer_file(
    job: &Job,
    token: &RunToken,
    task: &FileTask,
    session: &mut Session,
) -> Result<(), Interrupt> {
    let mut poor_resumes = 0;
    let mut hasher = None;
    loop {
        let before = task.counters.transferred.load(Ordering::Relaxed);
        match transfer_attempt(job, token, task, session, &mut hasher) {
            Err(Interrupt::Lost(err)) => {
                let delivered = task
                    .counters
                    .transferred
                    .load(Ordering::Relaxed)
                    .saturating_sub(before);
                if delivered < GOOD_ATTEMPT {
                    poor_resumes += 1;
                }
                if delivered == 0 || poor_resumes > MAX_POOR_RESUMES {
                    return Err(Interrupt::Failed(err));
                }
                if delivered >= GOOD_ATTEMPT {
                    poor_resumes = 0;
                }
            }
            other => return other,
        }
    }
}

/// One connection's worth of a file: open the source where the temporary
/// file ends (or restart it), then copy until the end or an error.
/// `hasher` carries the SHA-256 state between attempts: `(offset, state)`.
fn transfer_attempt(
    job: &Job,
    token: &RunToken,
    task: &FileTask,
    session: &mut Session,
    hasher: &mut Option<(u64, Sha256)>,
) -> Result<(), Interrupt> {
    let offset = task.counters.transferred.load(Ordering::Relaxed);
    let (current_temp, validator) = {
        let data = job.shared.data.lock();
        let entry = &data.files[task.index as usize];
        (entry.temp.clone(), entry.validator.clone())
    };
    let opened = session.open(token, &task.source, offset, validator.as_ref())?;
    if token.is_stopped() {
        return Err(Interrupt::Stopped);
    }
    let (temp, temp_path, start) = open_temp(job, task, current_temp.as_ref(), opened.start)?;
    set_file_transferred(job, &task.counters, start);
    let total = opened.total.unwrap_or(UNKNOWN);
    {
        let mut data = job.shared.data.lock();
        if let Some(entry) = data.files.get_mut(task.index as usize) {
            entry.validator = opened.validator.clone();
            // Bytes re-fetched after a lost connection are not on disk yet.
            entry.durable = entry.durable.min(start);
        }
        job.set_file_total(&mut data, task.index as usize, total);
        let _ = job.save(&data, Save::File(task.index as usize));
        if token.is_stopped() {
            return Err(Interrupt::Stopped);
        }
        job.set_state(&mut data, JobState::Transferring);
    }
    let mut body = opened.body;
    if start < opened.start {
        // The temporary file holds less than the source would resume from.
        let reopened = session.open(token, &task.source, start, opened.validator.as_ref())?;
        if reopened.start != start {
            set_file_transferred(job, &task.counters, reopened.start);
            temp.set_len(reopened.start)
                .map_err(|e| TransferError::local_io("truncating", &temp_path, &e))?;
        }
        body = reopened.body;
    }
    let start = task.counters.transferred.load(Ordering::Relaxed);
    let mut state = match (task.sha256, hasher.take()) {
        (None, _) => None,
        (Some(_), Some((at, state))) if at == start => Some(state),
        (Some(_), _) => Some(hash_prefix(&temp, &temp_path, start)?),
    };
    let destination = Destination {
        file: &temp,
        path: &temp_path,
    };
    let result = copy(
        job,
        token,
        task,
        destination,
        &mut *body,
        start,
        state.as_mut(),
    );
    let persistent = job.persistent();
    if persistent && matches!(result, Err(Interrupt::Stopped)) {
        // Suspend, close or preemption: keep every byte written so far.
        let written = task.counters.transferred.load(Ordering::Relaxed);
        checkpoint(job, task, destination, written);
    }
    if let Some(state) = state {
        *hasher = Some((task.counters.transferred.load(Ordering::Relaxed), state));
    }
    let written = result?;
    if total != UNKNOWN && written != total {
        return Err(Interrupt::Lost(TransferError::transient(
            HResult::from_win32(12030), // ERROR_WINHTTP_CONNECTION_ERROR
            ErrorContext::RemoteFile,
            format!("the source ended at byte {written} of {total}"),
        )));
    }
    if total == UNKNOWN {
        job.set_file_total(&mut job.shared.data.lock(), task.index as usize, written);
    }
    if let (Some(expected), Some((_, state))) = (task.sha256, hasher.take()) {
        let actual: [u8; 32] = state.finalize().into();
        if actual != expected {
            discard_temp(job, task);
            return Err(TransferError::fatal(
                HResult(QM_BG_E_VALIDATION_FAILED),
                ErrorContext::RemoteFile,
                format!(
                    "file {} failed validation: SHA-256 {} expected, {} received",
                    task.index,
                    hex(&expected),
                    hex(&actual)
                ),
            )
            .into());
        }
    }
    Ok(())
}

/// Deletes a file's temporary data so the next attempt fetches it afresh.
fn discard_temp(job: &Job, task: &FileTask) {
    let mut data = job.shared.data.lock();
    if let Some(entry) = data.files.get_mut(task.index as usize) {
        // A temporary file that cannot be deleted stays recorded, so that
        // cancel reports it; the next attempt truncates it to zero anyway.
        if entry
            .temp
            .as_ref()
            .is_some_and(|t| partial::remove(t).is_ok())
        {
            entry.temp = None;
        }
        entry.validator = None;
        entry.durable = 0;
    }
    set_file_transferred(job, &task.counters, 0);
    let _ = job.save(&data, Save::File(task.index as usize));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A hasher that has already seen the first `len` bytes of the temporary file.
fn hash_prefix(temp: &File, path: &Path, len: u64) -> Result<Sha256, TransferError> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut at = 0;
    while at < len {
        let want = (len - at).min(CHUNK as u64) as usize;
        temp.read_exact_at(&mut buf[..want], at)
            .map_err(|e| TransferError::local_io("re-reading", path, &e))?;
        hasher.update(&buf[..want]);
        at += want as u64;
    }
    Ok(hasher)
}

/// True when every byte is zero (written as a hole instead).
fn is_zero(buf: &[u8]) -> bool {
    buf.chunks(4096)
        .all(|c| c.iter().fold(0u8, |acc, &b| acc | b) == 0)
}

/// Copies `body` into `temp` from `start`; returns the final length.
fn copy(
    job: &Job,
    token: &RunToken,
    task: &FileTask,
    temp: Destination<'_>,
    body: &mut dyn Read,
    start: u64,
    mut hasher: Option<&mut Sha256>,
) -> Result<u64, Interrupt> {
    let manager = job.manager().map_err(|_| Interrupt::Stopped)?;
    let mut buf = CopyBuffer::take();
    let mut written = start;
    let mut window_start = Instant::now();
    let mut window_bytes = 0u64;
    let persistent = manager.store.is_some();
    let mut checkpointed = (Instant::now(), start);
    // Bytes below this offset have been handed to the kernel's writeback.
    let mut writeback_from = start;
    loop {
        if token.is_stopped() {
            return Err(Interrupt::Stopped);
        }
        if persistent
            && (written - checkpointed.1 >= CHECKPOINT_BYTES
                || checkpointed.0.elapsed() >= CHECKPOINT_INTERVAL)
            && written > checkpointed.1
        {
            checkpoint(job, task, temp, written);
            checkpointed = (Instant::now(), written);
        }
        let limit = job
            .shared
            .throttle
            .chunk_size(CHUNK)
            .min(manager.throttle.chunk_size(CHUNK));
        let n = match body.read(&mut buf[..limit]) {
            // A stop shuts the connection down: its EOF or error is not the source's.
            _ if token.is_stopped() => return Err(Interrupt::Stopped),
            Ok(0) => {
                // Write the tail back now, while the job moves on: the
                // fsync before the file counts then has little left to do.
                crate::ffi::os::start_writeback(
                    temp.file,
                    writeback_from,
                    written - writeback_from,
                );
                return Ok(written);
            }
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(Interrupt::Lost(read_error(&task.source, &e, written))),
        };
        let mut wait = job.shared.throttle.take(n as u64);
        // Read per chunk: a priority change applies at once.
        if job.shared.priority.load(Ordering::Relaxed) != Priority::Foreground as u32 {
            wait = wait.max(manager.throttle.take(n as u64));
        }
        sleep_unless_stopped(token, wait)?;
        let chunk = &buf[..n];
        let result = if is_zero(chunk) {
            temp.file.set_len(written + n as u64)
        } else {
            temp.file.write_all_at(chunk, written)
        };
        result.map_err(|e| TransferError::local_io("writing", temp.path, &e))?;
        if let Some(h) = hasher.as_deref_mut() {
            h.update(chunk);
        }
        written += n as u64;
        set_file_transferred(job, &task.counters, written);
        if written - writeback_from >= WRITEBACK_BYTES {
            crate::ffi::os::start_writeback(temp.file, writeback_from, written - writeback_from);
            writeback_from = written;
        }
        window_bytes += n as u64;
        let elapsed = window_start.elapsed();
        if elapsed >= RATE_WINDOW {
            update_rate(job, window_bytes, elapsed);
            window_start = Instant::now();
            window_bytes = 0;
        }
    }
}

thread_local! {
    /// The copy buffer of this worker thread (one thread per run), so that
    /// a job of many small files allocates and zeroes 1 MiB once, not per file.
    static COPY_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The thread's copy buffer, lent for one `copy` and handed back on drop.
struct CopyBuffer(Vec<u8>);

impl CopyBuffer {
    fn take() -> CopyBuffer {
        let buf = COPY_BUFFER.with(|b| b.take());
        CopyBuffer(if buf.len() == CHUNK {
            buf
        } else {
            vec![0u8; CHUNK]
        })
    }
}

impl Drop for CopyBuffer {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.0);
        COPY_BUFFER.with(|b| *b.borrow_mut() = buf);
    }
}

impl std::ops::Deref for CopyBuffer {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl std::ops::DerefMut for CopyBuffer {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

/// How many written bytes a worker lets gather in the page cache before it
/// asks the kernel to start writing them to the disk. Without it a large
/// file is still almost all dirty when it ends, and the fsync that must
/// precede its rename waits for all of it (0.3 s per GiB measured here).
const WRITEBACK_BYTES: u64 = 8 << 20;

/// Most bytes written between two checkpoints of a persistent job.
const CHECKPOINT_BYTES: u64 = 8 << 20;
/// Longest time between two checkpoints of a persistent job.
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// Makes the first `written` bytes durable: fsync the data first, then
/// record the length (so a recorded length never exceeds what is on disk).
/// Best effort: a failed checkpoint only means more bytes to fetch again.
fn checkpoint(job: &Job, task: &FileTask, temp: Destination<'_>, written: u64) {
    if temp.file.sync_data().is_err() {
        return;
    }
    let Some(manager) = job.shared.manager.upgrade() else {
        return;
    };
    let Some(store) = &manager.store else { return };
    let mut data = job.shared.data.lock();
    if let Some(entry) = data.files.get_mut(task.index as usize) {
        if store
            .checkpoint(&job.shared.id.0, task.index, written)
            .is_ok()
        {
            entry.durable = written;
        }
    }
}

/// Before a file counts as transferred its data is fsynced (with a state
/// directory), so that `complete` after a crash renames whole files only.
fn make_durable(job: &Job, task: &FileTask) -> Result<(), Interrupt> {
    let (temp, total) = {
        let data = job.shared.data.lock();
        let entry = &data.files[task.index as usize];
        (
            entry.temp.clone(),
            entry.counters.total.load(Ordering::Relaxed),
        )
    };
    let persistent = job.persistent();
    if let (true, Some(path)) = (persistent, temp) {
        partial::reopen(&path)
            .and_then(|f| f.sync_data())
            .map_err(|e| TransferError::local_io("syncing", &path, &e))?;
    }
    if let Some(entry) = job.shared.data.lock().files.get_mut(task.index as usize) {
        entry.durable = total;
    }
    Ok(())
}

/// The temporary file being written, with its path for error messages.
#[derive(Clone, Copy)]
struct Destination<'a> {
    file: &'a File,
    path: &'a Path,
}

/// A failed read of the source's body, as a transient error.
fn read_error(source: &Source, err: &std::io::Error, at: u64) -> TransferError {
    let (code, context) = match source {
        Source::Local(_) => (HResult::from_io_error(err), ErrorContext::RemoteFile),
        Source::Http(_) if matches!(err.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
            (HResult::from_win32(12002), ErrorContext::GeneralTransport) // ERROR_WINHTTP_TIMEOUT
        }
        Source::Http(_) => (HResult::from_win32(12030), ErrorContext::GeneralTransport), // CONNECTION_ERROR
    };
    TransferError::transient(
        code,
        context,
        format!("reading the source failed at byte {at}: {err}"),
    )
}

/// Folds one window into the smoothed rate, restarts the no-progress clock,
/// and sends a JOB_MODIFICATION progress event.
fn update_rate(job: &Job, bytes: u64, elapsed: Duration) {
    let instant = (bytes as f64 / elapsed.as_secs_f64()) as u64;
    let rate = &job.shared.counters.bytes_per_second;
    let old = rate.load(Ordering::Relaxed);
    let smoothed = if old == 0 {
        instant
    } else {
        (old as f64 * 0.7 + instant as f64 * 0.3) as u64
    };
    rate.store(smoothed, Ordering::Relaxed);
    let mut data = job.shared.data.lock();
    data.progress_clock = Instant::now();
    job.emit(&data, NotifyFlags::JOB_MODIFICATION, u32::MAX, HResult::OK);
}

fn sleep_unless_stopped(token: &RunToken, wait: Duration) -> Result<(), Interrupt> {
    let until = Instant::now() + wait;
    loop {
        if token.is_stopped() {
            return Err(Interrupt::Stopped);
        }
        let now = Instant::now();
        if now >= until {
            return Ok(());
        }
        std::thread::sleep((until - now).min(SLEEP_SLICE));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_detection() {
        assert!(is_zero(&[0u8; 10000]));
        let mut v = vec![0u8; 10000];
        v[9999] = 1;
        assert!(!is_zero(&v));
        assert!(is_zero(&[]));
    }
}
