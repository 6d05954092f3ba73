//! A job: its files, properties and state machine (the BITS job lifecycle).
//!
//! Locks, always taken in this order and never while calling user code:
//! 1. `op_lock` serialises the calls that change a job (add, resume, suspend,
//!    cancel, complete, setters), so that e.g. a suspend that waits for its
//!    worker to stop cannot interleave with a resume;
//! 2. `data` guards everything else and is held only briefly;
//! 3. the manager's job list.
//!
//! The worker thread takes only `data`. Progress lives in atomics, so
//! `progress()` and `state()` take no lock at all.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::engine::error::{Error, Result};
use crate::engine::manager::ManagerShared;
use crate::engine::notify::{NotifyCallback, Registration};
use crate::engine::options::{self, HttpOptions, ProxySetting};
use crate::engine::partial;
use crate::engine::store::{FileRecord, JobRecord};
use crate::engine::throttle::Throttle;
use crate::engine::transport::{Source, TransferError, Validator};
use crate::engine::types::*;
use crate::hresult::*;

/// Error contexts by number, for restoring stored errors.
const ERROR_CONTEXTS: [ErrorContext; 8] = [
    ErrorContext::None,
    ErrorContext::Unknown,
    ErrorContext::GeneralQueueManager,
    ErrorContext::QueueManagerNotification,
    ErrorContext::LocalFile,
    ErrorContext::RemoteFile,
    ErrorContext::GeneralTransport,
    ErrorContext::RemoteApplication,
];

/// Longest display name, in characters.
pub const MAX_DISPLAY_NAME: usize = 256;
/// Longest description, in characters.
pub const MAX_DESCRIPTION: usize = 1024;
/// Default minimum retry delay, in seconds.
pub const DEFAULT_RETRY_DELAY: u32 = 600;
/// Default no-progress timeout, in seconds (14 days).
pub const DEFAULT_NO_PROGRESS_TIMEOUT: u32 = 1_209_600;
/// The counters' marker for "size not known yet".
pub(crate) const UNKNOWN: u64 = u64::MAX;

/// A job's identity: a random (v4) GUID, stable for the job's whole life.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(pub [u8; 16]);

impl JobId {
    pub(crate) fn new_random() -> JobId {
        JobId(*uuid::Uuid::new_v4().as_bytes())
    }
}

impl fmt::Display for JobId {
    /// The canonical 36-character form, lower case.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        uuid::Uuid::from_bytes(self.0).hyphenated().fmt(f)
    }
}

impl fmt::Debug for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for JobId {
    type Err = Error;

    /// Parses the canonical 36-character form (either case).
    fn from_str(s: &str) -> Result<JobId> {
        if s.len() != 36 {
            return Err(Error::invalid_arg(format!(
                "'{s}' is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"
            )));
        }
        uuid::Uuid::try_parse(s)
            .map(|u| JobId(*u.as_bytes()))
            .map_err(|_| {
                Error::invalid_arg(format!(
                    "'{s}' is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"
                ))
            })
    }
}

/// Lock-free progress counters of one file.
#[derive(Debug)]
pub(crate) struct FileCounters {
    pub total: AtomicU64,
    pub transferred: AtomicU64,
    pub completed: AtomicBool,
}

/// One file of a job.
pub(crate) struct FileEntry {
    pub remote: String,
    pub local: PathBuf,
    pub size_hint: u64,
    pub source: Source,
    pub counters: Arc<FileCounters>,
    /// The temporary file, once created.
    pub temp: Option<PathBuf>,
    /// The identity of the source version the temporary file holds.
    pub validator: Option<Validator>,
    pub sha256: Option<[u8; 32]>,
    /// Already renamed to its local name by a `complete` that later failed.
    pub committed: bool,
    /// Bytes of the temporary file known to be on disk (fsynced and recorded).
    pub durable: u64,
}

/// Lock-free progress counters of a job.
#[derive(Debug, Default)]
pub(crate) struct JobCounters {
    pub bytes_total: AtomicU64,
    pub bytes_transferred: AtomicU64,
    pub files_total: AtomicU32,
    pub files_transferred: AtomicU32,
    pub bytes_per_second: AtomicU64,
}

/// Something to run when a worker run is stopped, e.g. closing its sockets
/// so that a blocked read returns at once.
pub(crate) type StopHook = Box<dyn FnOnce() + Send>;

/// The stop signal of one worker run.
#[derive(Default)]
pub(crate) struct RunToken {
    stop: AtomicBool,
    hooks: Mutex<Vec<StopHook>>,
}

impl RunToken {
    /// Tells the run to stop and runs its stop hooks (once).
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        let hooks = std::mem::take(&mut *self.hooks.lock());
        for hook in hooks {
            hook();
        }
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Runs `hook` when the run is stopped (at once if it already is).
    pub(crate) fn on_stop(&self, hook: StopHook) {
        let mut hooks = self.hooks.lock();
        if self.is_stopped() {
            drop(hooks);
            hook();
        } else {
            hooks.push(hook);
        }
    }
}

/// Everything about a job that the `data` lock guards.
pub(crate) struct JobData {
    pub state: JobState,
    pub files: Vec<FileEntry>,
    pub display_name: String,
    pub description: String,
    pub priority: Priority,
    pub retry_delay: u32,
    pub no_progress_timeout: u32,
    pub http: HttpOptions,
    pub notify: Option<Arc<Registration>>,
    pub notify_flags: NotifyFlags,
    pub error: Option<JobError>,
    pub num_retries: u32,
    pub created: SystemTime,
    pub modified: SystemTime,
    pub transfer_completed: Option<SystemTime>,
    /// Order among queued jobs of equal priority.
    pub queue_seq: u64,
    /// The worker now running this job, if any.
    pub run: Option<Arc<RunToken>>,
    /// When a job in TRANSIENT_ERROR goes back to QUEUED.
    pub retry_at: Option<Instant>,
    /// Start of the no-progress window: the last progress, or the last resume.
    pub progress_clock: Instant,
    /// A `complete` or `cancel` is in progress: the scheduler leaves the job alone.
    pub finishing: bool,
    /// Sum of the sizes known so far, and how many files have none yet.
    known_bytes: u64,
    unknown_sizes: usize,
    /// No file before this index is incomplete (files never become incomplete again).
    next_incomplete: usize,
}

/// The shared body of a job; `Job` is a reference to it.
pub(crate) struct JobShared {
    pub id: JobId,
    /// Creation order within the manager (stable across restarts).
    pub created_order: u64,
    pub manager: Weak<ManagerShared>,
    /// A copy of `data.state` for lock-free readers.
    pub state: AtomicU32,
    /// A copy of `data.priority`, read by the worker for every chunk.
    pub priority: AtomicU32,
    pub counters: JobCounters,
    pub throttle: Throttle,
    pub op_lock: Mutex<()>,
    pub data: Mutex<JobData>,
    /// Signalled on every state change and when a worker exits.
    pub changed: Condvar,
}

/// A reference to a job. Cloning it is cheap; every clone sees the same job.
/// The job lives in its manager until it is completed or cancelled, whether
/// or not any reference is held; a final job stays readable through the
/// references to it.
#[derive(Clone)]
pub struct Job {
    pub(crate) shared: Arc<JobShared>,
}

impl fmt::Debug for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Job")
            .field("id", &self.shared.id)
            .field("state", &self.state())
            .finish()
    }
}

impl PartialEq for Job {
    fn eq(&self, other: &Job) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

/// What of a job to write to the state directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Save {
    /// The job's row.
    Job,
    /// The job's row and one file.
    File(usize),
    /// The job's row and every file.
    Files,
}

/// Milliseconds since the Unix epoch (negative before it).
pub(crate) fn epoch_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

fn from_epoch_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

fn file_record(index: usize, f: &FileEntry) -> FileRecord {
    let total = f.counters.total.load(Ordering::Relaxed);
    FileRecord {
        index: index as u32,
        remote: f.remote.clone(),
        local: f.local.to_string_lossy().into_owned(),
        size_hint: f.size_hint,
        temp: f.temp.as_ref().map(|t| t.to_string_lossy().into_owned()),
        validator: f.validator.as_ref().map(Validator::to_json),
        sha256: f.sha256,
        total: (total != UNKNOWN).then_some(total),
        durable: f.durable,
        completed: f.counters.completed.load(Ordering::Relaxed),
        committed: f.committed,
    }
}

/// `QM_E_ITEM_NOT_FOUND` for a file index past the end.
fn no_such_file(index: u32, count: usize) -> Error {
    Error::new(
        QM_E_ITEM_NOT_FOUND,
        format!("the job has no file {index} ({count} files)"),
    )
}

fn check_len(what: &str, text: &str, max: usize) -> Result<()> {
    if text.chars().count() > max {
        return Err(Error::new(
            QM_BG_E_STRING_TOO_LONG,
            format!("the {what} is longer than {max} characters"),
        ));
    }
    Ok(())
}

/// A transferred file waiting to be moved into place by `complete`.
struct PendingCommit {
    index: usize,
    temp: Option<PathBuf>,
    local: PathBuf,
}

/// Fsyncs and renames each pending file in order, then fsyncs the
/// directories touched (even after a failure: renames done stay done).
/// Returns the indexes moved into place, and the first failure.
fn commit_files(pending: &[PendingCommit]) -> (Vec<usize>, Result<()>) {
    let failure = |p: &PendingCommit, err: std::io::Error| Error {
        code: HResult::from_io_error(&err),
        message: format!(
            "cannot move file {} into place at '{}': {err}",
            p.index,
            p.local.display()
        ),
    };
    let missing = || {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "the temporary file is missing",
        )
    };
    // Every file's data on disk before any of them appears (nothing is
    // renamed if one cannot be synced).
    if let Some(p) = pending.iter().find(|p| p.temp.is_none()) {
        return (Vec::new(), Err(failure(p, missing())));
    }
    let temps: Vec<&Path> = pending.iter().filter_map(|p| p.temp.as_deref()).collect();
    if let Err((i, err)) = partial::finish_all_files(&temps, partial::final_mode()) {
        return (Vec::new(), Err(failure(&pending[i], err)));
    }
    let mut done = Vec::new();
    let mut dirs: Vec<&Path> = Vec::new();
    let mut outcome = Ok(());
    for (p, temp) in pending.iter().zip(&temps) {
        if let Err(err) = std::fs::rename(temp, &p.local) {
            outcome = Err(failure(p, err));
            break;
        }
        done.push(p.index);
        if let Some(dir) = p.local.parent() {
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
    }
    for dir in dirs {
        // A failed directory sync cannot undo the renames; nothing to report.
        let _ = partial::sync_dir(dir);
    }
    (done, outcome)
}

/// Deletes every temporary file of a job; returns how many could not be
/// deleted (their paths stay recorded).
pub(crate) fn remove_temp_files(data: &mut JobData) -> usize {
    let mut undeleted = 0;
    for file in &mut data.files {
        if let Some(temp) = &file.temp {
            if partial::remove(temp).is_ok() {
                file.temp = None;
            } else {
                undeleted += 1;
            }
        }
    }
    undeleted
}

fn parse_sha256(hex: &str) -> Result<[u8; 32]> {
    let bad = || Error::invalid_arg(format!("'{hex}' is not a SHA-256 (64 hexadecimal digits)"));
    if hex.len() != 64 || !hex.is_ascii() {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

impl Job {
    pub(crate) fn create(
        manager: &Arc<ManagerShared>,
        display_name: &str,
        queue_seq: u64,
    ) -> Result<Job> {
        check_len("display name", display_name, MAX_DISPLAY_NAME)?;
        let now = SystemTime::now();
        let data = JobData {
            state: JobState::Suspended,
            files: Vec::new(),
            display_name: display_name.to_string(),
            description: String::new(),
            priority: Priority::Normal,
            retry_delay: DEFAULT_RETRY_DELAY,
            no_progress_timeout: DEFAULT_NO_PROGRESS_TIMEOUT,
            http: HttpOptions::default(),
            notify: None,
            notify_flags: NotifyFlags::DEFAULT,
            error: None,
            num_retries: 0,
            created: now,
            modified: now,
            transfer_completed: None,
            queue_seq,
            run: None,
            retry_at: None,
            progress_clock: Instant::now(),
            finishing: false,
            known_bytes: 0,
            unknown_sizes: 0,
            next_incomplete: 0,
        };
        Ok(Job {
            shared: Arc::new(JobShared {
                id: JobId::new_random(),
                created_order: queue_seq,
                manager: Arc::downgrade(manager),
                state: AtomicU32::new(JobState::Suspended as u32),
                priority: AtomicU32::new(Priority::Normal as u32),
                counters: JobCounters::default(),
                throttle: Throttle::new(0),
                op_lock: Mutex::new(()),
                data: Mutex::new(data),
                changed: Condvar::new(),
            }),
        })
    }

    // ----- reading -------------------------------------------------------

    /// The job's GUID.
    pub fn id(&self) -> JobId {
        self.shared.id
    }

    /// The current state; lock-free.
    pub fn state(&self) -> JobState {
        JobState::from_u32(self.shared.state.load(Ordering::Acquire)).unwrap_or(JobState::Error)
    }

    /// Bytes transferred over all files; lock-free (`QM_PROGRESS_SIZE_DONE`).
    pub fn bytes_transferred(&self) -> u64 {
        self.shared
            .counters
            .bytes_transferred
            .load(Ordering::Relaxed)
    }

    /// Whole percent of the job's bytes transferred, `floor(100 * done / total)`;
    /// 0 while the total is unknown or zero; lock-free (`QM_PROGRESS_PERCENT_DONE`).
    pub fn percent_done(&self) -> u64 {
        let total = self.shared.counters.bytes_total.load(Ordering::Relaxed);
        if total == UNKNOWN || total == 0 {
            return 0;
        }
        let done = self.bytes_transferred().min(total);
        (u128::from(done) * 100 / u128::from(total)) as u64
    }

    /// The job's progress, with rate and ETA; lock-free.
    pub fn progress(&self) -> JobProgress {
        let c = &self.shared.counters;
        let total = c.bytes_total.load(Ordering::Relaxed);
        let done = c.bytes_transferred.load(Ordering::Relaxed);
        let rate = c.bytes_per_second.load(Ordering::Relaxed);
        let bytes_total = (total != UNKNOWN).then_some(total);
        JobProgress {
            bytes_total,
            bytes_transferred: done,
            files_total: c.files_total.load(Ordering::Relaxed),
            files_transferred: c.files_transferred.load(Ordering::Relaxed),
            bytes_per_second: rate,
            eta_seconds: match bytes_total {
                Some(t) if done >= t => Some(0),
                Some(t) if rate > 0 => Some((t - done).div_ceil(rate)),
                _ => None,
            },
        }
    }

    /// Number of files in the job.
    pub fn file_count(&self) -> u32 {
        self.shared.counters.files_total.load(Ordering::Relaxed)
    }

    fn with_file<T>(&self, index: u32, f: impl FnOnce(&FileEntry) -> T) -> Result<T> {
        let data = self.shared.data.lock();
        data.files
            .get(index as usize)
            .map(f)
            .ok_or_else(|| no_such_file(index, data.files.len()))
    }

    /// True when the job's manager keeps a state directory.
    pub(crate) fn persistent(&self) -> bool {
        self.shared
            .manager
            .upgrade()
            .is_some_and(|m| m.store.is_some())
    }

    /// The remote name of file `index` as it was added.
    pub fn file_remote_name(&self, index: u32) -> Result<String> {
        self.with_file(index, |f| f.remote.clone())
    }

    /// The local name of file `index`.
    pub fn file_local_name(&self, index: u32) -> Result<String> {
        self.with_file(index, |f| f.local.to_string_lossy().into_owned())
    }

    /// The size hint file `index` was added with (0: none).
    pub fn file_size_hint(&self, index: u32) -> Result<u64> {
        self.with_file(index, |f| f.size_hint)
    }

    /// Progress of file `index`.
    pub fn file_progress(&self, index: u32) -> Result<FileProgress> {
        self.with_file(index, |f| {
            let total = f.counters.total.load(Ordering::Relaxed);
            FileProgress {
                bytes_total: (total != UNKNOWN).then_some(total),
                bytes_transferred: f.counters.transferred.load(Ordering::Relaxed),
                completed: f.counters.completed.load(Ordering::Relaxed),
            }
        })
    }

    /// `GetStatus`: flags and the last error's numbers (zero unless in an error state).
    pub fn status(&self) -> JobStatus {
        let data = self.shared.data.lock();
        let in_error = matches!(data.state, JobState::Error | JobState::TransientError);
        let error = data.error.as_ref().filter(|_| in_error);
        JobStatus {
            complete: self
                .shared
                .counters
                .files_transferred
                .load(Ordering::Relaxed)
                == data.files.len() as u32,
            error: in_error,
            foreground: data.priority == Priority::Foreground,
            win32_result: error.map_or(0, |e| e.code.win32_code()),
            transport_result: error.map_or(0, |e| u32::from(e.http_status)),
            num_retries: data.num_retries,
        }
    }

    /// The last error, while the job is in ERROR or TRANSIENT_ERROR
    /// (`QM_BG_E_ERROR_INFORMATION_UNAVAILABLE` otherwise).
    pub fn error(&self) -> Result<JobError> {
        let data = self.shared.data.lock();
        match (&data.error, data.state) {
            (Some(e), JobState::Error | JobState::TransientError) => Ok(e.clone()),
            _ => Err(Error::new(
                QM_BG_E_ERROR_INFORMATION_UNAVAILABLE,
                "the job has no error",
            )),
        }
    }

    /// Creation, modification and transfer-completion times.
    pub fn times(&self) -> JobTimes {
        let data = self.shared.data.lock();
        JobTimes {
            creation: data.created,
            modification: data.modified,
            transfer_completion: data.transfer_completed,
        }
    }

    /// The display name.
    pub fn display_name(&self) -> String {
        self.shared.data.lock().display_name.clone()
    }

    /// The description.
    pub fn description(&self) -> String {
        self.shared.data.lock().description.clone()
    }

    /// The priority.
    pub fn priority(&self) -> Priority {
        self.shared.data.lock().priority
    }

    /// The minimum retry delay in seconds.
    pub fn minimum_retry_delay(&self) -> u32 {
        self.shared.data.lock().retry_delay
    }

    /// The no-progress timeout in seconds.
    pub fn no_progress_timeout(&self) -> u32 {
        self.shared.data.lock().no_progress_timeout
    }

    /// The notification flags.
    pub fn notify_flags(&self) -> NotifyFlags {
        self.shared.data.lock().notify_flags
    }

    /// The job's own bandwidth limit in bytes per second (0: none).
    pub fn max_bandwidth(&self) -> u64 {
        self.shared.throttle.rate()
    }

    /// The custom headers as set, `None` when there are none.
    pub fn custom_headers(&self) -> Option<String> {
        self.shared
            .data
            .lock()
            .http
            .custom_headers
            .as_ref()
            .map(|(text, _)| text.clone())
    }

    /// The proxy setting.
    pub fn proxy(&self) -> ProxySetting {
        self.shared.data.lock().http.proxy.clone()
    }

    // ----- changing ------------------------------------------------------

    /// The job's row as stored in the state directory.
    fn record(&self, data: &JobData) -> JobRecord {
        JobRecord {
            id: self.shared.id.0,
            created_order: self.shared.created_order,
            display_name: data.display_name.clone(),
            description: data.description.clone(),
            state: data.state as u32,
            priority: data.priority as u32,
            retry_delay: data.retry_delay,
            no_progress_timeout: data.no_progress_timeout,
            notify_flags: data.notify_flags.0,
            max_bandwidth: self.shared.throttle.rate(),
            num_retries: data.num_retries,
            queue_seq: data.queue_seq,
            created_ms: epoch_ms(data.created),
            modified_ms: epoch_ms(data.modified),
            completed_ms: data.transfer_completed.map(epoch_ms),
            error: data.error.as_ref().map(|e| {
                (
                    e.code.0,
                    e.context as u32,
                    e.file_index,
                    e.http_status,
                    e.description.clone(),
                )
            }),
            http_options: data.http.to_json(),
        }
    }

    /// Writes the job (and some files) to the state directory, if there is
    /// one; nothing to do for an in-memory manager.
    pub(crate) fn save(&self, data: &JobData, what: Save) -> Result<()> {
        let Some(manager) = self.shared.manager.upgrade() else {
            return Ok(());
        };
        let Some(store) = &manager.store else {
            return Ok(());
        };
        let job = self.record(data);
        match what {
            Save::Job => store.save_job(&job, &[]),
            Save::File(i) => match data.files.get(i) {
                Some(f) => store.save_job_and_file(&job, &file_record(i, f)),
                None => store.save_job(&job, &[]),
            },
            Save::Files => {
                let files: Vec<_> = data
                    .files
                    .iter()
                    .enumerate()
                    .map(|(i, f)| file_record(i, f))
                    .collect();
                store.save_job(&job, &files)
            }
        }
    }

    /// Rebuilds a job from the state directory. Partial files are cut back to
    /// their durable length (bytes past it may be garbage after a power
    /// loss); a transferred file whose temporary file is gone or short is
    /// fetched again. Active and retrying jobs go back to QUEUED.
    pub(crate) fn restore(
        manager: &Arc<ManagerShared>,
        job: JobRecord,
        files: Vec<FileRecord>,
    ) -> Job {
        let mut entries = Vec::with_capacity(files.len());
        let (mut known_bytes, mut unknown_sizes, mut done_files, mut transferred) =
            (0u64, 0usize, 0u32, 0u64);
        for f in files {
            let temp = f.temp.map(PathBuf::from);
            let total = f.total.unwrap_or(UNKNOWN);
            let on_disk = temp
                .as_ref()
                .and_then(|t| std::fs::symlink_metadata(t).ok())
                .filter(|m| m.is_file())
                .map(|m| m.len());
            let complete = f.completed
                && (f.committed || (on_disk.is_some_and(|len| len >= total) && total != UNKNOWN));
            let durable = if complete {
                total
            } else {
                let keep = f.durable.min(on_disk.unwrap_or(0));
                if let Some(t) = &temp {
                    if on_disk.is_some() {
                        // Cut back: what lies past the durable length is not trusted.
                        let _ = partial::reopen(t).and_then(|file| file.set_len(keep));
                    }
                }
                keep
            };
            if total == UNKNOWN {
                unknown_sizes += 1;
            } else {
                known_bytes += total;
            }
            if complete {
                done_files += 1;
            }
            let shown = if f.committed { total } else { durable };
            transferred += if shown == UNKNOWN { 0 } else { shown };
            entries.push(FileEntry {
                source: Source::parse(&f.remote).unwrap_or(Source::Http(f.remote.clone())),
                remote: f.remote,
                local: PathBuf::from(f.local),
                size_hint: f.size_hint,
                counters: Arc::new(FileCounters {
                    total: AtomicU64::new(total),
                    transferred: AtomicU64::new(if shown == UNKNOWN { 0 } else { shown }),
                    completed: AtomicBool::new(complete),
                }),
                temp: temp.filter(|_| on_disk.is_some()),
                validator: f.validator.as_deref().and_then(Validator::from_json),
                sha256: f.sha256,
                committed: f.committed,
                durable,
            });
        }
        let stored_state = JobState::from_u32(job.state).unwrap_or(JobState::Suspended);
        let state = match stored_state {
            JobState::Connecting | JobState::Transferring | JobState::TransientError => {
                JobState::Queued
            }
            other => other,
        };
        let priority = Priority::from_u32(job.priority).unwrap_or(Priority::Normal);
        let files_total = entries.len() as u32;
        let data = JobData {
            state,
            files: entries,
            display_name: job.display_name,
            description: job.description,
            priority,
            retry_delay: job.retry_delay.max(1),
            no_progress_timeout: job.no_progress_timeout,
            http: HttpOptions::from_json(&job.http_options),
            notify: None,
            notify_flags: NotifyFlags(job.notify_flags & NotifyFlags::ALL),
            error: job
                .error
                .map(
                    |(code, context, file_index, http_status, description)| JobError {
                        code: HResult(code),
                        context: ERROR_CONTEXTS
                            .get(context as usize)
                            .copied()
                            .unwrap_or(ErrorContext::Unknown),
                        file_index,
                        http_status,
                        description,
                    },
                ),
            num_retries: job.num_retries,
            created: from_epoch_ms(job.created_ms),
            modified: from_epoch_ms(job.modified_ms),
            transfer_completed: job.completed_ms.map(from_epoch_ms),
            queue_seq: job.queue_seq,
            run: None,
            retry_at: None,
            progress_clock: Instant::now(),
            finishing: false,
            known_bytes,
            unknown_sizes,
            next_incomplete: 0,
        };
        let restored = Job {
            shared: Arc::new(JobShared {
                id: JobId(job.id),
                created_order: job.created_order,
                manager: Arc::downgrade(manager),
                state: AtomicU32::new(state as u32),
                priority: AtomicU32::new(priority as u32),
                counters: JobCounters {
                    bytes_total: AtomicU64::new(if unknown_sizes > 0 {
                        UNKNOWN
                    } else {
                        known_bytes
                    }),
                    bytes_transferred: AtomicU64::new(transferred),
                    files_total: AtomicU32::new(files_total),
                    files_transferred: AtomicU32::new(done_files),
                    bytes_per_second: AtomicU64::new(0),
                },
                throttle: Throttle::new(job.max_bandwidth),
                op_lock: Mutex::new(()),
                data: Mutex::new(data),
                changed: Condvar::new(),
            }),
        };
        if state != stored_state {
            let _ = restored.save(&restored.shared.data.lock(), Save::Files);
        }
        restored
    }

    /// Takes the locks a mutating call needs; refuses final jobs, and jobs
    /// whose manager is closed (`QM_E_HANDLE`).
    fn lock_for_change(
        &self,
        action: &str,
    ) -> Result<(MutexGuard<'_, ()>, MutexGuard<'_, JobData>)> {
        let op = self.shared.op_lock.lock();
        let data = self.shared.data.lock();
        if data.state.is_final() {
            return Err(Error::invalid_state(action, data.state));
        }
        self.manager()?;
        Ok((op, data))
    }

    /// Applies a property change to a non-final job and records the modification.
    fn change<T>(&self, action: &str, f: impl FnOnce(&mut JobData) -> Result<T>) -> Result<T> {
        let (_op, mut data) = self.lock_for_change(action)?;
        let out = f(&mut data)?;
        self.touch(&mut data);
        self.save(&data, Save::Job)?;
        Ok(out)
    }

    /// Records a modification: the time, and a JOB_MODIFICATION notification.
    pub(crate) fn touch(&self, data: &mut JobData) {
        data.modified = SystemTime::now();
        self.emit(data, NotifyFlags::JOB_MODIFICATION, u32::MAX, HResult::OK);
    }

    /// Queues a notification if the job's flags ask for it.
    pub(crate) fn emit(&self, data: &JobData, kind: u32, file_index: u32, code: HResult) {
        let Some(registration) = &data.notify else {
            return;
        };
        if !data.notify_flags.delivers(kind) {
            return;
        }
        if let Some(manager) = self.shared.manager.upgrade() {
            let event = NotifyEvent {
                kind,
                file_index,
                code,
            };
            manager
                .dispatcher
                .post(Arc::clone(registration), self.clone(), event);
        }
    }

    /// Moves to `state`, records it, notifies, and wakes waiters if it is settled.
    pub(crate) fn set_state(&self, data: &mut JobData, state: JobState) {
        if data.state == state {
            return;
        }
        data.state = state;
        self.shared.state.store(state as u32, Ordering::Release);
        self.touch(data);
        match state {
            JobState::Transferred => {
                self.emit(data, NotifyFlags::JOB_TRANSFERRED, u32::MAX, HResult::OK)
            }
            JobState::Error => {
                let code = data.error.as_ref().map_or(HResult(QM_E_FAIL), |e| e.code);
                self.emit(data, NotifyFlags::JOB_ERROR, u32::MAX, code)
            }
            _ => {}
        }
        // Only `wait` sleeps on a state, and it returns on settled states
        // only: waking it for CONNECTING/TRANSFERRING (twice per file) would
        // cost a context switch and a lock handoff per file for nothing.
        if state.is_settled() {
            self.shared.changed.notify_all();
        }
    }

    /// Puts the job in the queue behind the jobs already queued.
    fn enqueue(&self, data: &mut JobData) -> Result<()> {
        let manager = self.manager()?;
        data.queue_seq = manager.next_queue_seq();
        data.retry_at = None;
        data.progress_clock = Instant::now();
        self.set_state(data, JobState::Queued);
        Ok(())
    }

    pub(crate) fn manager(&self) -> Result<Arc<ManagerShared>> {
        self.shared
            .manager
            .upgrade()
            .filter(|m| m.is_open())
            .ok_or_else(Error::manager_closed)
    }

    fn wake_scheduler(&self) {
        if let Some(manager) = self.shared.manager.upgrade() {
            manager.wake_scheduler();
        }
    }

    /// Records file `index`'s size (or `UNKNOWN`) and updates the job's
    /// total, which stays unknown while any file's size is.
    pub(crate) fn set_file_total(&self, data: &mut JobData, index: usize, total: u64) {
        let old = data.files[index]
            .counters
            .total
            .swap(total, Ordering::Relaxed);
        if old == UNKNOWN {
            data.unknown_sizes -= 1;
        } else {
            data.known_bytes -= old;
        }
        if total == UNKNOWN {
            data.unknown_sizes += 1;
        } else {
            data.known_bytes += total;
        }
        self.publish_total(data);
    }

    fn publish_total(&self, data: &JobData) {
        let total = if data.unknown_sizes > 0 {
            UNKNOWN
        } else {
            data.known_bytes
        };
        self.shared
            .counters
            .bytes_total
            .store(total, Ordering::Relaxed);
    }

    /// The first file not yet transferred, if any.
    pub(crate) fn first_incomplete(data: &mut JobData) -> Option<usize> {
        while data
            .files
            .get(data.next_incomplete)
            .is_some_and(|f| f.counters.completed.load(Ordering::Relaxed))
        {
            data.next_incomplete += 1;
        }
        (data.next_incomplete < data.files.len()).then_some(data.next_incomplete)
    }

    /// Stops the running worker, if any, and waits until it has exited
    /// (within a chunk's time). The state must already be one the scheduler
    /// will not restart.
    fn stop_worker(&self, data: &mut MutexGuard<'_, JobData>) {
        let Some(run) = data.run.clone() else { return };
        run.stop();
        while data.run.as_ref().is_some_and(|r| Arc::ptr_eq(r, &run)) {
            self.shared.changed.wait(data);
        }
    }

    /// Appends files, all or none (`AddFiles`). Sources must be http(s)://,
    /// file:// or absolute paths; local names absolute and unique in the job.
    /// A TRANSFERRED job goes back to QUEUED.
    pub fn add_files(&self, files: &[FileSpec]) -> Result<()> {
        if files.is_empty() {
            return Err(Error::invalid_arg("no files given"));
        }
        let mut parsed = Vec::with_capacity(files.len());
        for (i, spec) in files.iter().enumerate() {
            let source = Source::parse(&spec.remote).map_err(|e| Error {
                message: format!("file {i}: {}", e.message),
                ..e
            })?;
            let local = Path::new(&spec.local);
            if !local.is_absolute() || local.file_name().is_none() || spec.local.ends_with('/') {
                return Err(Error::invalid_arg(format!(
                    "file {i}: the local name '{}' is not an absolute file path",
                    spec.local
                )));
            }
            if spec.local.len() > libc::PATH_MAX as usize
                || spec.local.bytes().any(|b| b.is_ascii_control())
            {
                return Err(Error::invalid_arg(format!(
                    "file {i}: the local name is too long or has control characters"
                )));
            }
            parsed.push((source, local.to_path_buf()));
        }
        let (_op, mut data) = self.lock_for_change("add files to")?;
        // Linear, not pairwise: a job may hold many thousands of files.
        let mut taken: std::collections::HashSet<&Path> =
            data.files.iter().map(|f| f.local.as_path()).collect();
        for (_, local) in &parsed {
            if !taken.insert(local.as_path()) {
                return Err(Error::invalid_arg(format!(
                    "the local name '{}' is already used in this job",
                    local.display()
                )));
            }
        }
        for (spec, (source, local)) in files.iter().zip(parsed) {
            data.files.push(FileEntry {
                remote: spec.remote.clone(),
                local,
                size_hint: spec.size_hint,
                source,
                counters: Arc::new(FileCounters {
                    total: AtomicU64::new(UNKNOWN),
                    transferred: AtomicU64::new(0),
                    completed: AtomicBool::new(false),
                }),
                temp: None,
                validator: None,
                sha256: None,
                committed: false,
                durable: 0,
            });
        }
        self.shared
            .counters
            .files_total
            .store(data.files.len() as u32, Ordering::Relaxed);
        data.unknown_sizes += files.len();
        self.publish_total(&data);
        self.touch(&mut data);
        self.save(&data, Save::Files)?;
        if data.state == JobState::Transferred {
            data.transfer_completed = None;
            self.enqueue(&mut data)?;
            drop(data);
            self.wake_scheduler();
        }
        Ok(())
    }

    /// Starts or restarts the transfer (`Resume`): SUSPENDED, ERROR and
    /// TRANSIENT_ERROR go to QUEUED; an active job is left as it is;
    /// `QM_BG_E_EMPTY` for a job with no files or one already TRANSFERRED. A
    /// job stopped after its last byte arrived goes straight to TRANSFERRED.
    pub fn resume(&self) -> Result<()> {
        let (_op, mut data) = self.lock_for_change("resume")?;
        match data.state {
            JobState::Queued | JobState::Connecting | JobState::Transferring => return Ok(()),
            JobState::Transferred => {
                return Err(Error::new(
                    QM_BG_E_EMPTY,
                    "every file of the job is already transferred",
                ))
            }
            _ => {}
        }
        if data.files.is_empty() {
            return Err(Error::new(QM_BG_E_EMPTY, "the job has no files"));
        }
        if Self::first_incomplete(&mut data).is_none() {
            // Every byte arrived (a suspend raced the last chunk): the job is
            // done, so it goes where the transfer would have taken it.
            data.error = None;
            data.transfer_completed.get_or_insert_with(SystemTime::now);
            self.set_state(&mut data, JobState::Transferred);
            return self.save(&data, Save::Job);
        }
        data.error = None;
        self.enqueue(&mut data)?;
        self.save(&data, Save::Job)?;
        drop(data);
        self.wake_scheduler();
        Ok(())
    }

    /// Stops the job (`Suspend`); partial data is kept for a later resume.
    /// Returns once the transfer has stopped writing.
    pub fn suspend(&self) -> Result<()> {
        let (_op, mut data) = self.lock_for_change("suspend")?;
        data.retry_at = None;
        self.set_state(&mut data, JobState::Suspended);
        self.stop_worker(&mut data);
        self.shared
            .counters
            .bytes_per_second
            .store(0, Ordering::Relaxed);
        self.save(&data, Save::Job)
    }

    /// Cancels the job (`CancelJob`): stops it, deletes every temporary file,
    /// and leaves it CANCELLED. `QM_BG_S_UNABLE_TO_DELETE_FILES` when a
    /// temporary file could not be deleted.
    pub fn cancel(&self) -> Result<HResult> {
        let (op, mut data) = self.lock_for_change("cancel")?;
        data.finishing = true;
        self.stop_worker(&mut data);
        let undeleted = remove_temp_files(&mut data);
        self.set_state(&mut data, JobState::Cancelled);
        let registration = self.finish(data);
        drop(op);
        self.retire(registration);
        Ok(HResult(if undeleted > 0 {
            QM_BG_S_UNABLE_TO_DELETE_FILES
        } else {
            QM_S_OK
        }))
    }

    /// Completes the job (`Complete`): renames each transferred file into
    /// place (after `fsync`), deletes partial ones, and leaves it ACKNOWLEDGED.
    /// `QM_BG_S_PARTIAL_COMPLETE` when some files were not transferred. If a
    /// rename fails the job stays as it was and the error is returned.
    pub fn complete(&self) -> Result<HResult> {
        let (op, mut data) = self.lock_for_change("complete")?;
        let was = data.state;
        data.finishing = true;
        self.stop_worker(&mut data);
        let pending: Vec<PendingCommit> = data
            .files
            .iter()
            .enumerate()
            .filter(|(_, f)| f.counters.completed.load(Ordering::Relaxed) && !f.committed)
            .map(|(index, f)| PendingCommit {
                index,
                temp: f.temp.clone(),
                local: f.local.clone(),
            })
            .collect();
        let partial_files = data
            .files
            .iter()
            .filter(|f| !f.counters.completed.load(Ordering::Relaxed))
            .count();
        // fsync may take long: do it without the data lock, so readers and
        // the scheduler go on. `op` and `finishing` keep the files as they are.
        drop(data);
        let (committed, outcome) = commit_files(&pending);
        let mut data = self.shared.data.lock();
        for index in committed {
            data.files[index].committed = true;
            data.files[index].temp = None;
        }
        if let Err(err) = outcome {
            data.finishing = false;
            // Files already in place must stay known as such.
            let _ = self.save(&data, Save::Files);
            if was.is_active() {
                // The worker was stopped above: back to the queue, in its place.
                self.set_state(&mut data, JobState::Queued);
                drop(data);
                self.wake_scheduler();
            }
            return Err(err);
        }
        remove_temp_files(&mut data);
        self.set_state(&mut data, JobState::Acknowledged);
        let registration = self.finish(data);
        drop(op);
        self.retire(registration);
        Ok(HResult(if partial_files > 0 {
            QM_BG_S_PARTIAL_COMPLETE
        } else {
            QM_S_OK
        }))
    }

    /// Takes a job that just became final out of its manager; returns its
    /// callback registration, to be retired once no lock is held (retiring
    /// waits for a running callback, which may itself be waiting for `op_lock`).
    fn finish(&self, mut data: MutexGuard<'_, JobData>) -> Option<Arc<Registration>> {
        data.finishing = false;
        let registration = data.notify.take();
        drop(data);
        if let Some(manager) = self.shared.manager.upgrade() {
            if let Some(store) = &manager.store {
                // Best effort: a leftover row of a final job is dropped at the next open.
                let _ = store.delete_job(&self.shared.id.0);
            }
            manager.forget_job(self);
            manager.wake_scheduler();
        }
        registration
    }

    /// Makes the job FOREGROUND (`SwitchToForeground`).
    pub fn switch_to_foreground(&self) -> Result<()> {
        self.set_priority(Priority::Foreground)
    }

    /// Waits until the job is TRANSFERRED, ERROR, SUSPENDED, ACKNOWLEDGED or
    /// CANCELLED and returns that state, or `None` at the timeout (`None`
    /// timeout: forever). `QM_E_ABORT` if the manager closes meanwhile.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<Option<JobState>> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut data = self.shared.data.lock();
        loop {
            if data.state.is_settled() {
                return Ok(Some(data.state));
            }
            if !self.shared.manager.upgrade().is_some_and(|m| m.is_open()) {
                return Err(Error::new(
                    QM_E_ABORT,
                    "the manager was closed while waiting",
                ));
            }
            match deadline {
                Some(deadline) => {
                    if self
                        .shared
                        .changed
                        .wait_until(&mut data, deadline)
                        .timed_out()
                        && !data.state.is_settled()
                    {
                        return Ok(None);
                    }
                }
                None => self.shared.changed.wait(&mut data),
            }
        }
    }

    /// Sets the priority; a FOREGROUND job overtakes background ones.
    pub fn set_priority(&self, priority: Priority) -> Result<()> {
        self.change("change the priority of", |d| {
            d.priority = priority;
            self.shared
                .priority
                .store(priority as u32, Ordering::Relaxed);
            Ok(())
        })?;
        self.wake_scheduler();
        Ok(())
    }

    /// Sets the display name (at most 256 characters).
    pub fn set_display_name(&self, name: &str) -> Result<()> {
        check_len("display name", name, MAX_DISPLAY_NAME)?;
        self.change("rename", |d| {
            d.display_name = name.to_string();
            Ok(())
        })
    }

    /// Sets the description (at most 1,024 characters).
    pub fn set_description(&self, text: &str) -> Result<()> {
        check_len("description", text, MAX_DESCRIPTION)?;
        self.change("describe", |d| {
            d.description = text.to_string();
            Ok(())
        })
    }

    /// Sets how long to wait before retrying after a transient error; values
    /// below 1 s are raised to 1 s.
    pub fn set_minimum_retry_delay(&self, seconds: u32) -> Result<()> {
        self.change("change the retry delay of", |d| {
            d.retry_delay = seconds.max(1);
            Ok(())
        })
    }

    /// Sets how long transient errors may go on without progress before the
    /// job moves to ERROR (0: the first error is final).
    pub fn set_no_progress_timeout(&self, seconds: u32) -> Result<()> {
        self.change("change the no-progress timeout of", |d| {
            d.no_progress_timeout = seconds;
            Ok(())
        })
    }

    /// Sets (or with `None` clears) the notification callback and the flags.
    /// `owner` is an opaque value kept with the registration (see
    /// [`Job::clear_notify_of`]). When this returns, the previous callback is
    /// not running and will not be called again (unless this is called from
    /// inside that callback).
    pub fn set_notify(
        &self,
        callback: Option<NotifyCallback>,
        flags: u32,
        owner: u64,
    ) -> Result<()> {
        if flags & !NotifyFlags::ALL != 0 {
            return Err(Error::invalid_arg(format!(
                "unknown notify flags 0x{:x}",
                flags & !NotifyFlags::ALL
            )));
        }
        let old = self.change("set notifications of", |d| {
            d.notify_flags = NotifyFlags(flags);
            Ok(std::mem::replace(
                &mut d.notify,
                callback.map(|c| Registration::new(owner, c)),
            ))
        })?;
        self.retire(old);
        Ok(())
    }

    /// Clears the callback if it was registered with this `owner` value,
    /// waiting for it as `set_notify` does.
    pub fn clear_notify_of(&self, owner: u64) {
        let old = {
            let mut data = self.shared.data.lock();
            if data.notify.as_ref().is_some_and(|r| r.owner == owner) {
                data.notify.take()
            } else {
                None
            }
        };
        self.retire(old);
    }

    fn retire(&self, registration: Option<Arc<Registration>>) {
        if let (Some(registration), Some(manager)) = (registration, self.shared.manager.upgrade()) {
            manager.dispatcher.retire(&registration);
        }
    }

    /// Sets the job's own bandwidth limit in bytes per second (0: none); it
    /// applies on top of the manager's limit, whatever the priority.
    pub fn set_max_bandwidth(&self, bytes_per_second: u64) -> Result<()> {
        self.change("limit", |_| {
            self.shared.throttle.set_rate(bytes_per_second);
            Ok(())
        })
    }

    /// Sets extra request headers (`"Name: value\r\n…"`), or clears them with `None`.
    pub fn set_custom_headers(&self, headers: Option<&str>) -> Result<()> {
        let parsed = match headers {
            Some(text) => Some((text.to_string(), options::parse_headers(text)?)),
            None => None,
        };
        self.change("set headers of", |d| {
            d.http.custom_headers = parsed.filter(|(_, list)| !list.is_empty());
            Ok(())
        })
    }

    /// Sets Basic credentials, or clears them with `None`. They are kept in
    /// memory (and, with a state directory, in its private database).
    pub fn set_credentials(&self, credentials: Option<(&str, &str)>) -> Result<()> {
        if let Some((user, password)) = credentials {
            options::check_credentials(user, password)?;
        }
        self.change("set credentials of", |d| {
            d.http.credentials = credentials.map(|(u, p)| (u.to_string(), p.to_string()));
            Ok(())
        })
    }

    /// Sets the proxy: `None` takes it from the environment, `Some("")` goes direct.
    pub fn set_proxy(&self, proxy: Option<&str>) -> Result<()> {
        let setting = options::parse_proxy(proxy)?;
        self.change("set the proxy of", |d| {
            d.http.proxy = setting;
            Ok(())
        })
    }

    /// Trusts the CA certificates of this PEM file instead of the system's
    /// (`None`: the system's roots again).
    pub fn set_ca_file(&self, pem_path: Option<&str>) -> Result<()> {
        let path = pem_path.map(options::check_ca_file).transpose()?;
        self.change("set the CA file of", |d| {
            d.http.ca_file = path;
            Ok(())
        })
    }

    /// Presents this client certificate and key (PEM files) for mutual TLS,
    /// or none with `None`.
    pub fn set_client_certificate(&self, cert_and_key: Option<(&str, &str)>) -> Result<()> {
        let paths = match cert_and_key {
            Some((cert, key)) => Some(options::check_client_certificate(cert, key)?),
            None => None,
        };
        self.change("set the client certificate of", |d| {
            d.http.client_certificate = paths;
            Ok(())
        })
    }

    /// Sets how long a connection may deliver nothing (any single read or
    /// write) before it is given up and the transfer retried; at least 1 s,
    /// default 60 s.
    pub fn set_stall_timeout(&self, seconds: u32) -> Result<()> {
        self.change("set the stall timeout of", |d| {
            d.http.stall_timeout = Duration::from_secs(u64::from(seconds.max(1)));
            Ok(())
        })
    }

    /// The stall timeout in seconds.
    pub fn stall_timeout(&self) -> u32 {
        self.shared.data.lock().http.stall_timeout.as_secs() as u32
    }

    /// Sets the SHA-256 (64 hex digits) that file `index` must have, or
    /// clears it with `None`. It is checked when the file finishes
    /// transferring; a mismatch is fatal (`QM_BG_E_VALIDATION_FAILED`).
    pub fn set_file_sha256(&self, index: u32, hex: Option<&str>) -> Result<()> {
        let digest = hex.map(parse_sha256).transpose()?;
        self.change("set a checksum in", |d| {
            let count = d.files.len();
            let file = d
                .files
                .get_mut(index as usize)
                .ok_or_else(|| no_such_file(index, count))?;
            file.sha256 = digest;
            Ok(())
        })?;
        self.save(&self.shared.data.lock(), Save::File(index as usize))
    }

    /// Records an error of a worker run: TRANSIENT_ERROR with a retry time,
    /// or ERROR when it is fatal or the no-progress timeout has passed.
    pub(crate) fn record_error(
        &self,
        data: &mut JobData,
        err: TransferError,
        file_index: Option<u32>,
    ) {
        let timed_out = data.progress_clock.elapsed()
            >= Duration::from_secs(u64::from(data.no_progress_timeout));
        data.error = Some(JobError {
            code: err.code,
            context: err.context,
            file_index,
            http_status: err.http_status,
            description: err.description,
        });
        if err.transient && !timed_out {
            // The retry delay, or the server's Retry-After when longer; at least 1 s.
            let delay = Duration::from_secs(u64::from(data.retry_delay))
                .max(err.retry_after.unwrap_or_default())
                .max(Duration::from_secs(1));
            data.retry_at = Some(Instant::now() + delay);
            self.set_state(data, JobState::TransientError);
        } else {
            data.retry_at = None;
            self.set_state(data, JobState::Error);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_round_trip_in_canonical_form() {
        let id = JobId::new_random();
        let text = id.to_string();
        assert_eq!(text.len(), 36);
        assert_eq!(text.parse::<JobId>().unwrap(), id);
        assert_eq!(text.to_uppercase().parse::<JobId>().unwrap(), id);
        for bad in [
            "",
            "not-a-guid",
            "{00000000-0000-0000-0000-000000000000}",
            "00000000000000000000000000000000",
        ] {
            assert!(bad.parse::<JobId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn sha256_hex_is_strict() {
        assert_eq!(parse_sha256(&"ab".repeat(32)).unwrap(), [0xab; 32]);
        assert!(parse_sha256(&"ab".repeat(31)).is_err());
        assert!(parse_sha256(&"zz".repeat(32)).is_err());
        assert!(parse_sha256(&"é".repeat(32)).is_err());
    }
}
