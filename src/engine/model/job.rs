//! A job as plain data, and every change of its state: the BITS job
//! lifecycle in one place.
//!
//! ```text
//!              resume                 Start            Opened
//!  SUSPENDED ─────────▶ QUEUED ──────────────▶ CONNECTING ─────▶ TRANSFERRING
//!     ▲  ▲                ▲  ▲ Preempt / RetryDue     │ NextPiece: none left │
//!     │  └── suspend ─────┘  └──── TRANSIENT_ERROR ◀──┤  (failure, transient) │
//!     │                                 │ no progress │                       ▼
//!     └─── suspend ──── ERROR ◀─────────┴─────────────┘ (fatal)        TRANSFERRED
//!  any non-final ── cancel ──▶ CANCELLED;  any non-final ── complete ──▶ ACKNOWLEDGED
//! ```
//!
//! [`JobModel::apply`] takes a [`Command`] and returns the [`Effects`] the
//! runtime must carry out. Nothing here takes a lock, starts a thread,
//! touches a file or reads a clock: the runtime does all of that, tells the
//! model what happened, and the model decides what it means.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::engine::error::{Error, Result};
use crate::engine::model::command::{
    Clock, Command, Effects, Files, Final, NewFile, Persist, Piece, PieceId, Property, RunId,
};
use crate::engine::model::file::{DeltaFile, FileModel};
use crate::engine::model::ledger::{Ledger, RangeSet, Span};
use crate::engine::model::planner::{self, Plan};
use crate::engine::model::ranges::FileRanges;
use crate::engine::transport::error::TransferError;
use crate::engine::transport::options::HttpOptions;
use crate::engine::transport::source::Source;
use crate::engine::transport::upload_state::UploadState;
use crate::engine::transport::validator::Validator;
use crate::engine::types::*;
use crate::hresult::*;

/// Longest display name, in characters.
pub const MAX_DISPLAY_NAME: usize = 256;
/// Longest description, in characters.
pub const MAX_DESCRIPTION: usize = 1024;
/// Longest notify program path, in characters (BITS: `MAX_PATH`).
pub const MAX_NOTIFY_PROGRAM: usize = 260;
/// Longest notify parameters, in characters (BITS: 4,000).
pub const MAX_NOTIFY_PARAMETERS: usize = 4000;
/// Default least time between two progress notifications, in
/// milliseconds (BITS's `BITS_JOB_PROPERTY_MINIMUM_NOTIFICATION_INTERVAL_MS`: 500).
pub const DEFAULT_MIN_NOTIFICATION_INTERVAL: u32 = 500;
/// Default minimum retry delay, in seconds.
pub const DEFAULT_RETRY_DELAY: u32 = 600;
/// Default no-progress timeout, in seconds (14 days).
pub const DEFAULT_NO_PROGRESS_TIMEOUT: u32 = 1_209_600;
/// The longest a job reopened in TRANSIENT_ERROR waits for its stored
/// retry time (when that is longer than its retry delay: a Retry-After, or
/// a wall clock set back meanwhile).
pub(crate) const MAX_RESTORED_RETRY_WAIT: Duration = Duration::from_secs(24 * 3600);
/// Default number of connections of a job, and of a job to one server: 6,
/// what browsers open to one host, so servers and CDNs are provisioned for
/// it, and enough to hide a WAN's round trips for a job of many files.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 6;

/// The time a job may spend connecting and transferring, as BITS's
/// `SetMaximumDownloadTime` defaults to: 90 days, in seconds.
pub const DEFAULT_MAX_DOWNLOAD_TIME: u32 = 7_776_000;

/// How many times, between two resumes by the caller (automatic retries
/// after transient errors included), a file's source may answer with
/// another version than one it gave before the job fails
/// (`QM_BG_E_INVALID_SERVER_RESPONSE`, fatal). The first change makes the
/// file whole-on-one-connection until the caller's next resume, so later changes
/// come only from a resume after a broken connection that lands on another
/// backend. An honest update during a transfer is one change; a rolling
/// deploy that flips a URL between old and new backends a few more; five
/// leaves room for that and caps the waste at five restarts of the file.
/// The bound is fatal, not transient: bytes keep arriving between changes,
/// so the no-progress timeout would never end a retry loop. The caller's
/// `resume` gives a new count.
pub const MAX_VERSION_CHANGES: u32 = 5;

/// Who holds the job's transfer slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Run {
    /// Nobody.
    Idle,
    /// A worker is transferring.
    Running(RunId),
    /// A worker was told to stop and has not ended yet.
    Stopping(RunId),
}

/// A file as the state directory kept it, with what the runtime found on
/// disk (the temporary file's length, `None` if it is missing).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct StoredFile {
    pub remote: String,
    pub local: PathBuf,
    pub size_hint: u64,
    pub temp: Option<PathBuf>,
    pub on_disk: Option<u64>,
    pub validator: Option<Validator>,
    pub sha256: Option<[u8; 32]>,
    pub total: Option<u64>,
    pub durable: RangeSet,
    pub completed: bool,
    pub committed: bool,
    /// The ranges the local file is made of, `None` for the whole source.
    pub ranges: Option<FileRanges>,
    /// The file's delta download, if it has seeds.
    pub delta: Option<DeltaFile>,
    /// The length of the file at the local name, when the runtime looked
    /// (only for a job that was committing).
    pub local_len: Option<u64>,
}

/// A job as the state directory kept it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct StoredJob {
    pub id: JobId,
    /// Who the job belongs to.
    pub owner: Owner,
    pub created_order: u64,
    pub display_name: String,
    pub description: String,
    /// The `BG_JOB_STATE` number as stored.
    pub state: u32,
    /// The `BG_JOB_PRIORITY` number as stored.
    pub priority: u32,
    pub retry_delay: u32,
    pub no_progress_timeout: u32,
    pub notify_flags: u32,
    pub max_bandwidth: u64,
    pub num_retries: u32,
    pub queue_seq: u64,
    pub created: SystemTime,
    pub modified: SystemTime,
    pub transfer_completed: Option<SystemTime>,
    pub error: Option<JobError>,
    /// When a job stored in TRANSIENT_ERROR retries (wall clock).
    pub retry_at: Option<SystemTime>,
    pub http: HttpOptions,
    pub max_download_size: u64,
    pub max_connections: u32,
    pub max_download_time: u32,
    pub dynamic_content: bool,
    pub yielding: bool,
    pub notify_cmdline: Option<NotifyCmdLine>,
    pub min_notification_interval: u32,
    pub low_speed_limit: (u64, u32),
    /// A `complete` was renaming files when the directory was last written.
    pub committing: bool,
    /// The job's type, and an upload job's settings and state.
    pub kind: JobType,
    pub upload: Option<UploadJob>,
    pub files: Vec<StoredFile>,
}

/// The most reply data kept in memory (BITS's `GetReplyData`: 1 MB); a
/// longer reply needs a reply file.
pub const MAX_REPLY_DATA: u64 = 1 << 20;

/// What an upload job holds beside its one file (issue 25): the protocol
/// the caller chose, what the last attempt left (the server's upload URL
/// and the bytes it confirmed), and where the reply goes.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct UploadJob {
    pub protocol: UploadProtocol,
    /// `None` until an attempt starts (or after the protocol changed).
    pub state: Option<UploadState>,
    /// Where an upload-reply job's reply goes; `None`: in memory.
    pub reply_file: Option<PathBuf>,
    /// The reply, once it arrived, when it went to memory.
    pub reply: Option<Vec<u8>>,
    /// The reply's length, once it arrived (in memory or in the file).
    pub reply_len: Option<u64>,
}

impl UploadJob {
    /// A new upload job's: UPLOAD_REPLY jobs speak the draft (tus has no
    /// reply), UPLOAD jobs tus.
    pub(crate) fn new(kind: JobType) -> UploadJob {
        UploadJob {
            protocol: match kind {
                JobType::UploadReply => UploadProtocol::Rufh,
                _ => UploadProtocol::Tus,
            },
            state: None,
            reply_file: None,
            reply: None,
            reply_len: None,
        }
    }
}

/// Every piece of data of one job.
#[derive(Clone, Debug)]
pub(crate) struct JobModel {
    id: JobId,
    /// Download, upload or upload-reply, for the job's whole life.
    kind: JobType,
    /// An upload job's settings and state (`None` for downloads).
    upload: Option<UploadJob>,
    /// Who the job belongs to: whose rights its files are touched with.
    owner: Owner,
    created_order: u64,
    state: JobState,
    files: Vec<FileModel>,
    display_name: String,
    description: String,
    priority: Priority,
    retry_delay: u32,
    no_progress_timeout: u32,
    max_bandwidth: u64,
    http: HttpOptions,
    /// The largest file the job may download (0: no limit).
    max_download_size: u64,
    /// Seconds the job may spend CONNECTING or TRANSFERRING (0: no limit).
    max_download_time: u32,
    /// Time spent CONNECTING or TRANSFERRING since the last resume, not
    /// counting the current stretch...
    active_elapsed: Duration,
    /// ...which began then (while the job is CONNECTING or TRANSFERRING).
    active_since: Option<Instant>,
    /// BITS's dynamic content: no ranges, no resume, no segments.
    dynamic_content: bool,
    /// A background job gives way to other traffic (delay-based; on by
    /// default; FOREGROUND jobs never do).
    yielding: bool,
    /// The program run when the job is transferred or fails.
    notify_cmdline: Option<NotifyCmdLine>,
    /// The least time between two progress notifications, in ms...
    min_notification_interval: u32,
    /// ...since the last one, sent then.
    last_progress_notice: Option<Instant>,
    /// (bytes per second, seconds): slower than that is a transient timeout.
    low_speed_limit: (u64, u32),
    /// `complete` is renaming files (recorded before the first rename).
    committing: bool,
    notify_flags: NotifyFlags,
    error: Option<JobError>,
    num_retries: u32,
    created: SystemTime,
    modified: SystemTime,
    transfer_completed: Option<SystemTime>,
    /// Order among queued jobs of equal priority.
    queue_seq: u64,
    run: Run,
    /// When the current (or last) run started: its time slice.
    run_since: Option<Instant>,
    /// When a job in TRANSIENT_ERROR goes back to QUEUED...
    retry_at: Option<Instant>,
    /// ...and that time on the wall clock, kept in the state directory so
    /// that a job reopened in TRANSIENT_ERROR keeps its error and its time.
    retry_wall: Option<SystemTime>,
    /// Start of the no-progress window: the last progress, or the last resume.
    progress_clock: Instant,
    /// A `complete` or `cancel` is under way: the scheduler leaves the job alone.
    finishing: bool,
    /// The pieces the run's connections are transferring.
    active: Vec<Piece>,
    /// Pieces taken away whose connections have not said they stopped:
    /// their files are not planned again until they have (a restarted
    /// file must not get bytes of the old version after its new start).
    draining: Vec<Piece>,
    /// The next piece's id.
    next_piece_id: PieceId,
    /// The pieces of `active` whose source has answered (data flows).
    opened: Vec<PieceId>,
    /// How many connections of the run may go to one server.
    per_server: usize,
    /// How many connections the job may use at once.
    max_connections: u32,
    // Sums kept up to date so that progress is O(1):
    known_bytes: u64,
    unknown_sizes: usize,
    bytes_done: u64,
    files_done: u32,
    /// No file before this index is incomplete (files never become incomplete again).
    next_incomplete: usize,
}

/// The numbers lock-free readers see, published after every command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Published {
    pub state: JobState,
    pub priority: Priority,
    /// `None` while any file's size is unknown.
    pub bytes_total: Option<u64>,
    pub bytes_transferred: u64,
    pub files_total: u32,
    pub files_transferred: u32,
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

/// `QM_E_NOTIMPL` unless `kind` is one of `kinds`: BITS's answer to an
/// upload call on another job type (in-process and through qmgrd alike).
pub(crate) fn require_kind(kind: JobType, kinds: &[JobType], call: &str) -> Result<()> {
    if kinds.contains(&kind) {
        return Ok(());
    }
    Err(Error::new(
        QM_E_NOTIMPL,
        format!("{call} is not implemented for a job of type {kind:?}"),
    ))
}

/// `QM_E_ITEM_NOT_FOUND` for a file index past the end.
pub(crate) fn no_such_file(index: u32, count: usize) -> Error {
    Error::new(
        QM_E_ITEM_NOT_FOUND,
        format!("the job has no file {index} ({count} files)"),
    )
}

impl JobModel {
    /// A new job of `owner`: SUSPENDED, priority NORMAL, no files, BITS's
    /// defaults.
    pub(crate) fn new(
        id: JobId,
        owner: Owner,
        display_name: &str,
        kind: JobType,
        seq: u64,
        clock: Clock,
    ) -> Result<JobModel> {
        check_len("display name", display_name, MAX_DISPLAY_NAME)?;
        Ok(JobModel {
            id,
            kind,
            upload: kind.is_upload().then(|| UploadJob::new(kind)),
            owner,
            created_order: seq,
            state: JobState::Suspended,
            files: Vec::new(),
            display_name: display_name.to_string(),
            description: String::new(),
            priority: Priority::Normal,
            retry_delay: DEFAULT_RETRY_DELAY,
            no_progress_timeout: DEFAULT_NO_PROGRESS_TIMEOUT,
            max_bandwidth: 0,
            http: HttpOptions::default(),
            max_download_size: 0,
            low_speed_limit: (0, 0),
            committing: false,
            notify_flags: NotifyFlags::DEFAULT,
            error: None,
            num_retries: 0,
            created: clock.wall,
            modified: clock.wall,
            transfer_completed: None,
            queue_seq: seq,
            run: Run::Idle,
            run_since: None,
            retry_at: None,
            retry_wall: None,
            progress_clock: clock.now,
            finishing: false,
            active: Vec::new(),
            draining: Vec::new(),
            next_piece_id: 1,
            opened: Vec::new(),
            per_server: DEFAULT_MAX_CONNECTIONS as usize,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_download_time: DEFAULT_MAX_DOWNLOAD_TIME,
            active_elapsed: Duration::ZERO,
            active_since: None,
            dynamic_content: false,
            yielding: true,
            notify_cmdline: None,
            min_notification_interval: DEFAULT_MIN_NOTIFICATION_INTERVAL,
            last_progress_notice: None,
            known_bytes: 0,
            unknown_sizes: 0,
            bytes_done: 0,
            files_done: 0,
            next_incomplete: 0,
        })
    }

    /// Rebuilds a job from the state directory. A file counts as complete
    /// only if it was recorded so and its bytes are still there; otherwise
    /// only its durable bytes (cut to what the temporary file holds) count
    /// as arrived. Jobs that were active go back to QUEUED; a job that was
    /// retrying stays in TRANSIENT_ERROR with its error (BITS's `GetError`
    /// reads it there) until its stored retry time, which a clock set back
    /// cannot push further than [`MAX_RESTORED_RETRY_WAIT`] or its retry
    /// delay; without a stored time it retries at once.
    /// Returns the job and whether its stored state changed (to be written).
    pub(crate) fn restore(stored: StoredJob, clock: Clock) -> (JobModel, bool) {
        let stored_state = JobState::from_u32(stored.state).unwrap_or(JobState::Suspended);
        let state = match stored_state {
            JobState::TransientError if stored.error.is_some() => JobState::TransientError,
            JobState::Connecting | JobState::Transferring | JobState::TransientError => {
                JobState::Queued
            }
            other => other,
        };
        let mut job = JobModel::new(
            stored.id,
            stored.owner,
            "",
            stored.kind,
            stored.created_order,
            clock,
        )
        .expect("an empty display name is always valid");
        job.state = state;
        job.files = Vec::with_capacity(stored.files.len());
        job.display_name = stored.display_name;
        job.description = stored.description;
        job.priority = Priority::from_u32(stored.priority).unwrap_or(Priority::Normal);
        job.retry_delay = stored.retry_delay.max(1);
        job.no_progress_timeout = stored.no_progress_timeout;
        job.max_bandwidth = stored.max_bandwidth;
        job.http = stored.http;
        job.max_download_size = stored.max_download_size;
        job.max_connections = stored.max_connections.max(1);
        job.max_download_time = stored.max_download_time;
        job.dynamic_content = stored.dynamic_content;
        job.yielding = stored.yielding;
        job.notify_cmdline = stored.notify_cmdline;
        job.min_notification_interval = stored.min_notification_interval;
        job.low_speed_limit = stored.low_speed_limit;
        job.notify_flags = NotifyFlags(stored.notify_flags & NotifyFlags::ALL);
        job.error = stored.error;
        if state == JobState::TransientError {
            let wait = stored
                .retry_at
                .and_then(|at| at.duration_since(clock.wall).ok())
                .unwrap_or_default()
                .min(MAX_RESTORED_RETRY_WAIT.max(Duration::from_secs(u64::from(job.retry_delay))));
            job.retry_at = Some(clock.now + wait);
            job.retry_wall = Some(clock.wall + wait);
        }
        job.num_retries = stored.num_retries;
        job.created = stored.created;
        job.modified = stored.modified;
        job.transfer_completed = stored.transfer_completed;
        job.queue_seq = stored.queue_seq;
        if stored.upload.is_some() {
            job.upload = stored.upload;
        }
        // An upload's bytes are the server's: its stored state counts them
        // until the next attempt asks the server again.
        let upload = stored.kind.is_upload();
        for f in stored.files {
            let source = f.source_or_http();
            // A crash in the middle of `complete`: a transferred file whose
            // temporary file is gone and whose local name holds its length
            // was renamed into place before the crash.
            let renamed = stored.committing
                && f.completed
                && !f.committed
                && f.on_disk.is_none()
                && f.total.is_some()
                && f.local_len == f.total;
            let committed = f.committed || renamed;
            let complete = f.completed
                && (committed
                    || upload
                    || f.total
                        .is_some_and(|total| f.on_disk.is_some_and(|len| len >= total)));
            let ledger = if complete {
                Ledger::restored(
                    f.total,
                    f.total.map_or_else(RangeSet::new, |t| RangeSet::of(0..t)),
                )
            } else {
                let mut durable = f.durable;
                if !upload {
                    durable.truncate(f.on_disk.unwrap_or(0));
                }
                Ledger::restored(f.total, durable)
            };
            job.files.push(FileModel {
                remote: f.remote,
                source,
                local: f.local,
                size_hint: f.size_hint,
                temp: f.temp.filter(|_| f.on_disk.is_some()),
                validator: f.validator,
                sha256: f.sha256,
                completed: complete,
                committed,
                final_url: None,
                splittable: None,
                run_validator: false,
                version_changes: 0,
                response_headers: None,
                ranges: f.ranges,
                // Bytes from seeds that were not durable are gone.
                delta: f.delta.map(|mut d| {
                    d.seeded = d.seeded.intersection(ledger.arrived());
                    d
                }),
                ledger,
            });
        }
        job.recount();
        (job, state != stored_state)
    }

    // ----- reading --------------------------------------------------------

    /// The pieces being fetched.
    #[cfg(test)]
    pub(crate) fn pieces(&self) -> &[Piece] {
        &self.active
    }

    /// The piece `id` as it now stands, while a connection fetches it.
    pub(crate) fn piece(&self, id: PieceId) -> Option<Piece> {
        self.active.iter().find(|p| p.id == id).copied()
    }

    /// The job's GUID.
    pub(crate) fn id(&self) -> JobId {
        self.id
    }

    /// The job's type.
    pub(crate) fn kind(&self) -> JobType {
        self.kind
    }

    /// An upload job's settings and state.
    pub(crate) fn upload(&self) -> Option<&UploadJob> {
        self.upload.as_ref()
    }

    /// Who the job belongs to.
    pub(crate) fn owner(&self) -> Owner {
        self.owner
    }

    /// Creation order within the manager (stable across restarts).
    pub(crate) fn created_order(&self) -> u64 {
        self.created_order
    }
    /// The BITS state.
    pub(crate) fn state(&self) -> JobState {
        self.state
    }
    /// The files, in the order they were added.
    pub(crate) fn files(&self) -> &[FileModel] {
        &self.files
    }
    /// File `index`, or `QM_E_ITEM_NOT_FOUND`.
    pub(crate) fn file(&self, index: u32) -> Result<&FileModel> {
        self.files
            .get(index as usize)
            .ok_or_else(|| no_such_file(index, self.files.len()))
    }
    pub(crate) fn display_name(&self) -> &str {
        &self.display_name
    }
    pub(crate) fn description(&self) -> &str {
        &self.description
    }
    pub(crate) fn priority(&self) -> Priority {
        self.priority
    }
    pub(crate) fn retry_delay(&self) -> u32 {
        self.retry_delay
    }
    pub(crate) fn no_progress_timeout(&self) -> u32 {
        self.no_progress_timeout
    }
    pub(crate) fn max_bandwidth(&self) -> u64 {
        self.max_bandwidth
    }
    pub(crate) fn http(&self) -> &HttpOptions {
        &self.http
    }
    pub(crate) fn max_download_size(&self) -> u64 {
        self.max_download_size
    }
    pub(crate) fn low_speed_limit(&self) -> (u64, u32) {
        self.low_speed_limit
    }
    pub(crate) fn committing(&self) -> bool {
        self.committing
    }
    pub(crate) fn max_connections(&self) -> u32 {
        self.max_connections
    }
    /// Seconds the job may spend connecting and transferring (0: no limit).
    pub(crate) fn max_download_time(&self) -> u32 {
        self.max_download_time
    }
    /// Whether the server's content may change between requests (no
    /// ranges, no resume, no segments).
    pub(crate) fn dynamic_content(&self) -> bool {
        self.dynamic_content
    }
    /// Whether the job, when a background one, gives way to other traffic
    /// (read by the copy loop at every chunk).
    pub(crate) fn yielding(&self) -> bool {
        self.yielding
    }
    /// The program run when the job is transferred or fails, if any.
    pub(crate) fn notify_cmdline(&self) -> Option<&NotifyCmdLine> {
        self.notify_cmdline.as_ref()
    }
    /// The least time between two progress notifications, in milliseconds.
    pub(crate) fn min_notification_interval(&self) -> u32 {
        self.min_notification_interval
    }
    /// When the job's maximum download time runs out, if it is CONNECTING
    /// or TRANSFERRING with a limit.
    pub(crate) fn download_deadline(&self) -> Option<Instant> {
        let since = self.active_since?;
        let limit = Duration::from_secs(u64::from(self.max_download_time));
        (self.max_download_time > 0).then(|| since + limit.saturating_sub(self.active_elapsed))
    }
    pub(crate) fn notify_flags(&self) -> NotifyFlags {
        self.notify_flags
    }
    /// The last error, whatever the state.
    pub(crate) fn last_error(&self) -> Option<&JobError> {
        self.error.as_ref()
    }
    /// When a job in TRANSIENT_ERROR retries, on the wall clock (what the
    /// state directory keeps); `None` in any other state.
    pub(crate) fn retry_wall(&self) -> Option<SystemTime> {
        self.retry_wall
            .filter(|_| self.state == JobState::TransientError)
    }
    pub(crate) fn num_retries(&self) -> u32 {
        self.num_retries
    }
    pub(crate) fn queue_seq(&self) -> u64 {
        self.queue_seq
    }
    pub(crate) fn run(&self) -> Run {
        self.run
    }
    /// When the current run started (meaningful while it runs).
    pub(crate) fn run_since(&self) -> Option<Instant> {
        self.run_since
    }
    /// Whether stopping the transfer now loses no byte: the job has no
    /// dynamic content, and every unfinished file with bytes on disk holds
    /// a version it can continue (a validator for `If-Range`, a source
    /// that answered ranges).
    pub(crate) fn resumable(&self) -> bool {
        !self.dynamic_content
            && self.files.iter().all(|f| {
                f.completed
                    || f.ledger.arrived_bytes() == 0
                    || (f.validator.as_ref().is_some_and(Validator::can_resume)
                        && f.splittable != Some(false))
            })
    }
    pub(crate) fn retry_at(&self) -> Option<Instant> {
        self.retry_at
    }
    pub(crate) fn finishing(&self) -> bool {
        self.finishing
    }

    /// Creation, modification and transfer-completion times.
    pub(crate) fn times(&self) -> JobTimes {
        JobTimes {
            creation: self.created,
            modification: self.modified,
            transfer_completion: self.transfer_completed,
        }
    }

    /// The error while the job is in ERROR or TRANSIENT_ERROR
    /// (`QM_BG_E_ERROR_INFORMATION_UNAVAILABLE` otherwise).
    pub(crate) fn error(&self) -> Result<&JobError> {
        match (&self.error, self.state) {
            (Some(e), JobState::Error | JobState::TransientError) => Ok(e),
            _ => Err(Error::new(
                QM_BG_E_ERROR_INFORMATION_UNAVAILABLE,
                "the job has no error",
            )),
        }
    }

    /// `GetStatus`: flags and the last error's numbers (zero unless in an error state).
    pub(crate) fn status(&self) -> JobStatus {
        let in_error = matches!(self.state, JobState::Error | JobState::TransientError);
        let error = self.error.as_ref().filter(|_| in_error);
        JobStatus {
            complete: self.files_done as usize == self.files.len(),
            error: in_error,
            foreground: self.priority == Priority::Foreground,
            win32_result: error.map_or(0, |e| e.code.win32_code()),
            transport_result: error.map_or(0, |e| u32::from(e.http_status)),
            num_retries: self.num_retries,
        }
    }

    /// The numbers lock-free readers see.
    pub(crate) fn published(&self) -> Published {
        Published {
            state: self.state,
            priority: self.priority,
            bytes_total: (self.unknown_sizes == 0).then_some(self.known_bytes),
            bytes_transferred: self.bytes_done,
            files_total: self.files.len() as u32,
            files_transferred: self.files_done,
        }
    }

    /// The transferred files `complete` must still move into place, in
    /// order (an upload's file stays where it is).
    pub(crate) fn files_to_commit(&self) -> Vec<usize> {
        (0..self.files.len())
            .filter(|&i| self.files[i].completed && !self.files[i].committed)
            .filter(|_| !self.kind.is_upload())
            .collect()
    }

    /// The files that have a temporary file, in order.
    pub(crate) fn files_with_temp(&self) -> Vec<usize> {
        (0..self.files.len())
            .filter(|&i| self.files[i].temp.is_some())
            .collect()
    }

    /// How many files are not transferred.
    pub(crate) fn incomplete_files(&self) -> usize {
        self.files.len() - self.files_done as usize
    }

    /// How many connections a run of the job can keep busy, at most its
    /// maximum: one per file, and for a remote file whose size is unknown
    /// or large, as many as its missing bytes make segments.
    pub(crate) fn useful_connections(&self) -> usize {
        if self.kind.is_upload() {
            return 1; // an upload is one request at a time
        }
        let most = self.max_connections.max(1) as usize;
        let mut useful = 0usize;
        for f in self.files.iter().filter(|f| !f.completed) {
            useful += match (&f.source, f.ledger.total()) {
                (Source::Local(_), _) => 1,
                (Source::Http(_), None) => most,
                (Source::Http(_), Some(total)) => {
                    let missing = total.saturating_sub(f.ledger.arrived_bytes());
                    (missing / planner::MIN_SEGMENT).clamp(1, most as u64) as usize
                }
            };
            if useful >= most {
                return most;
            }
        }
        useful.max(1)
    }

    // ----- changing -------------------------------------------------------

    /// Applies one command and returns what the runtime must do. An error
    /// leaves the job exactly as it was.
    pub(crate) fn apply(&mut self, command: Command, clock: Clock) -> Result<Effects> {
        let mut fx = Effects::default();
        match command {
            Command::AddFiles { files, seq } => self.add_files(files, seq, clock, &mut fx)?,
            Command::Resume { seq } => self.resume(seq, clock, &mut fx)?,
            Command::SetRemoteNames { names } => {
                self.refuse_final("change the remote names of")?;
                if names.is_empty() {
                    return Ok(fx); // nothing matched: nothing changes
                }
                let count = self.files.len();
                if let Some(&(index, _, _)) = names.iter().find(|(i, _, _)| *i >= count) {
                    return Err(no_such_file(index as u32, count));
                }
                for (index, remote, source) in names {
                    let f = &mut self.files[index];
                    f.remote = remote;
                    f.source = source;
                    f.final_url = None;
                    f.forget_versions_seen();
                }
                // Another remote name is another upload: the server's
                // bytes of the old one do not count there.
                if self.upload.is_some() && !self.files[0].completed {
                    if let Some(up) = &mut self.upload {
                        up.state = None;
                    }
                    self.reset_file(0);
                }
                // A running transfer goes on from the new names at once:
                // back to the queue, in its place, as a preempted job does.
                if matches!(self.run, Run::Running(_)) {
                    self.stop_run(&mut fx);
                    if self.state.is_active() {
                        self.set_state(JobState::Queued, clock, &mut fx);
                    }
                }
                self.touch(clock, &mut fx);
                fx.persist = Persist {
                    job: true,
                    files: Files::All,
                };
            }
            Command::Suspend => {
                self.refuse_final("suspend")?;
                self.retry_at = None;
                self.set_state(JobState::Suspended, clock, &mut fx);
                self.stop_run(&mut fx);
                fx.persist.job = true;
            }
            Command::Set(property) => self.set(property, clock, &mut fx)?,
            Command::BeginFinish => {
                self.refuse_final("finish")?;
                self.finishing = true;
                self.stop_run(&mut fx);
            }
            Command::TakeOwnership { owner, lost, seq } => {
                self.refuse_final("take ownership of")?;
                self.finishing = false;
                // The notify program was the old owner's choice (and may be
                // a file the old owner can rewrite): it must not run with
                // the new owner's rights (an administrator's, root's).
                if owner.uid != self.owner.uid {
                    self.notify_cmdline = None;
                }
                self.owner = owner;
                let mut restarted = false;
                for i in lost {
                    let Some(f) = self.files.get_mut(i).filter(|f| !f.committed) else {
                        continue;
                    };
                    let total = f.ledger.total();
                    f.ledger.clear();
                    f.ledger.set_total(total);
                    f.temp = None;
                    f.validator = None;
                    f.completed = false;
                    restarted = true;
                }
                self.recount();
                if self.state.is_active() {
                    self.set_state(JobState::Queued, clock, &mut fx);
                    fx.wake_scheduler = true;
                } else if restarted && self.state == JobState::Transferred {
                    self.transfer_completed = None;
                    self.enqueue(seq, clock, &mut fx);
                }
                self.touch(clock, &mut fx);
                fx.persist = Persist {
                    job: true,
                    files: Files::All,
                };
            }
            Command::CommitStarted => {
                self.committing = true;
                fx.persist.job = true;
            }
            Command::Committed { done, failed } => {
                self.committing = false;
                for &i in &done {
                    if let Some(f) = self.files.get_mut(i) {
                        f.committed = true;
                        f.temp = None;
                    }
                }
                self.recount();
                if failed {
                    // Files already in place must stay known as such; the
                    // job goes on where it was (a stopped transfer goes
                    // back to the queue, in its place).
                    self.finishing = false;
                    fx.persist = Persist {
                        job: true,
                        files: Files::All,
                    };
                    if self.state.is_active() {
                        self.set_state(JobState::Queued, clock, &mut fx);
                        fx.wake_scheduler = true;
                    }
                }
            }
            Command::Finish {
                outcome,
                temps_removed,
            } => {
                for i in temps_removed {
                    if let Some(f) = self.files.get_mut(i) {
                        f.temp = None;
                    }
                }
                self.finishing = false;
                let state = match outcome {
                    Final::Acknowledged => JobState::Acknowledged,
                    Final::Cancelled => JobState::Cancelled,
                };
                self.set_state(state, clock, &mut fx);
                fx.forget = true;
                fx.wake_scheduler = true;
            }
            Command::RetryDue { seq } => {
                if self.state == JobState::TransientError
                    && !self.finishing
                    && self.retry_at.is_some_and(|at| at <= clock.now)
                {
                    self.num_retries += 1;
                    self.retry_at = None;
                    self.queue_seq = seq;
                    self.set_state(JobState::Queued, clock, &mut fx);
                    fx.persist.job = true;
                }
            }
            Command::Start { run, per_server } => {
                if self.state != JobState::Queued || self.run != Run::Idle || self.finishing {
                    return Err(Error::new(
                        QM_BG_E_INVALID_STATE,
                        format!("job {} cannot start: it is {}", self.id, self.state),
                    ));
                }
                self.run = Run::Running(run);
                self.run_since = Some(clock.now);
                self.per_server = per_server.max(1);
                // Each run learns again whether its servers answer ranges
                // (a file whose version changed since the caller's resume
                // stays whole on one connection: see `opened`).
                for f in &mut self.files {
                    f.splittable = None;
                }
            }
            Command::StartFailed { error } => {
                self.run = Run::Idle;
                self.record_error(error, None, clock, &mut fx);
            }
            Command::Preempt { requeue } => {
                if matches!(self.run, Run::Running(_)) {
                    self.stop_run(&mut fx);
                    if self.state.is_active() {
                        if let Some(seq) = requeue {
                            self.queue_seq = seq;
                            fx.persist.job = true;
                        }
                        self.set_state(JobState::Queued, clock, &mut fx);
                    }
                }
            }
            Command::TimeCheck => {
                let due = self.download_deadline().is_some_and(|at| at <= clock.now);
                if due && matches!(self.run, Run::Running(_)) && !self.finishing {
                    let error = TransferError::fatal(
                        HResult(QM_BG_E_MAXDOWNLOAD_TIMEOUT),
                        ErrorContext::GeneralQueueManager,
                        format!(
                            "the job spent more than its maximum download time ({} s) connecting and transferring",
                            self.max_download_time
                        ),
                    );
                    self.record_error(error, None, clock, &mut fx);
                    self.stop_run(&mut fx);
                    fx.persist.job = true;
                }
            }
            Command::NextPiece => self.next_piece(clock, &mut fx),
            Command::TempCreated { file, path } => {
                self.file_mut(file)?.temp = Some(path);
            }
            Command::Opened {
                piece,
                file,
                start,
                total,
                validator,
                ranges,
                headers,
            } => {
                if let (Some(text), Ok(f)) = (headers, self.file_mut(file)) {
                    f.response_headers = Some(text);
                }
                self.opened(piece, file, start, total, validator, ranges, clock, &mut fx)?
            }
            Command::Redirected { file, url } => {
                // A discovery (DESIGN §7.1): reported as the final URL under
                // every redirect policy, kept in memory only. It never
                // becomes the remote name, the source the next request
                // goes to, or the origin credentials follow: those change
                // only by the caller's calls (`SetRemoteNames`).
                let f = self.file_mut(file)?;
                // The remote name itself means nothing redirected this time.
                f.final_url = Some(url).filter(|u| *u != f.remote);
            }
            Command::Arrived { piece, file, range } => {
                self.file_mut(file)?;
                let Some(p) = self.active.iter_mut().find(|p| p.id == piece) else {
                    return Ok(fx); // taken away: these bytes do not count
                };
                let f = &mut self.files[file];
                let before = f.ledger.arrived_bytes();
                f.ledger.record_arrived(range.clone());
                let after = f.ledger.arrived_bytes();
                p.span.start = p.span.start.max(range.end);
                fx.piece = Some(*p);
                if !f.committed {
                    self.bytes_done = self.bytes_done + after - before;
                }
            }
            Command::PieceEnded { piece } => {
                self.opened.retain(|&id| id != piece);
                self.draining.retain(|p| p.id != piece);
                if let Some(at) = self.active.iter().position(|p| p.id == piece) {
                    let file = self.active.remove(at).file;
                    let f = &self.files[file];
                    fx.finalize = !f.completed
                        && f.ledger.is_complete()
                        && !self.active.iter().any(|p| p.file == file);
                }
            }
            Command::TempCut { file, len } => {
                self.file_mut(file)?;
                self.cut_file(file, len);
                fx.persist.files = Files::One(file);
            }
            Command::Durable { file, ranges } => {
                let ledger = &mut self.file_mut(file)?.ledger;
                for range in ranges.iter() {
                    ledger.record_durable(range.clone());
                }
                fx.persist.files = Files::One(file);
            }
            Command::Sized { file, len } => {
                self.file_mut(file)?;
                self.set_total(file, Some(len));
            }
            Command::Discarded { file, temp_removed } => {
                self.file_mut(file)?;
                self.reset_file(file);
                let f = &mut self.files[file];
                f.validator = None;
                if temp_removed {
                    f.temp = None;
                }
                fx.persist.files = Files::One(file);
            }
            #[cfg(feature = "delta")]
            Command::DeltaSeeded {
                file,
                ranges,
                matched,
            } => {
                self.file_mut(file)?;
                let total = Some(matched.0);
                if self.files[file].ledger.total() != total {
                    self.set_total(file, total);
                }
                let f = &mut self.files[file];
                let before = f.shown_bytes();
                for r in ranges.iter() {
                    f.ledger.record_arrived(r.clone());
                }
                let after = f.shown_bytes();
                if let Some(d) = &mut f.delta {
                    d.way = DeltaWay::Delta;
                    d.reason.clear();
                    d.matched = Some(matched);
                    for r in ranges.iter() {
                        d.seeded.insert(r.clone());
                    }
                }
                self.bytes_done = self.bytes_done + after - before;
                fx.persist.files = Files::One(file);
            }
            #[cfg(feature = "delta")]
            Command::DeltaFallBack { file, reason } => {
                self.file_mut(file)?;
                self.delta_fall_back(file, reason);
                fx.persist.files = Files::One(file);
            }
            Command::FileDone { file } => {
                let f = self.file_mut(file)?;
                if !f.completed {
                    f.ledger.record_all_durable();
                    f.completed = true;
                    self.files_done += 1;
                    self.emit(
                        NotifyFlags::FILE_TRANSFERRED,
                        file as u32,
                        HResult::OK,
                        &mut fx,
                    );
                    self.touch(clock, &mut fx);
                    fx.persist = Persist {
                        job: true,
                        files: Files::One(file),
                    };
                }
                self.active.retain(|p| p.file != file);
                // The last file done: TRANSFERRED in the same step, so no
                // reader sees every file complete in an active state.
                if self.active.is_empty()
                    && self.state.is_active()
                    && matches!(self.run, Run::Running(_))
                    && self.first_incomplete().is_none()
                {
                    self.transferred(clock, &mut fx);
                }
            }
            Command::Progressed => self.progressed(clock, &mut fx),
            Command::UploadConfirmed { state } => {
                self.file_mut(0)?;
                let total = Some(state.file_size);
                if self.files[0].ledger.total() != total {
                    self.set_total(0, total);
                }
                let f = &mut self.files[0];
                let before = f.shown_bytes();
                f.ledger.clear();
                f.ledger.set_total(total);
                let confirmed = state.confirmed.min(state.file_size);
                if confirmed > 0 {
                    f.ledger.record_arrived(0..confirmed);
                    f.ledger.record_durable(0..confirmed);
                }
                let after = f.shown_bytes();
                self.bytes_done = self.bytes_done + after - before;
                if let Some(up) = &mut self.upload {
                    up.state = Some(state);
                }
                if matches!(self.run, Run::Running(_)) && self.state == JobState::Connecting {
                    self.set_state(JobState::Transferring, clock, &mut fx);
                }
                if after > before {
                    self.progressed(clock, &mut fx);
                }
                fx.persist = Persist {
                    job: true,
                    files: Files::One(0),
                };
            }
            Command::ReplyReceived { data, len, file } => {
                if let Some(up) = &mut self.upload {
                    up.reply = data;
                    up.reply_len = Some(len);
                    if file.is_some() {
                        up.reply_file = file;
                    }
                    fx.persist.job = true;
                }
            }
            Command::RunEnded { run, failure } => {
                let was = self.run;
                if matches!(was, Run::Running(r) | Run::Stopping(r) if r == run) {
                    self.run = Run::Idle;
                }
                self.active.clear();
                self.draining.clear();
                self.opened.clear();
                fx.wake_waiters = true;
                fx.wake_scheduler = true;
                if let (Some(error), Run::Running(r)) = (failure, was) {
                    if r == run && self.state.is_active() {
                        let file_index = self.first_incomplete().map(|i| i as u32);
                        self.record_error(error, file_index, clock, &mut fx);
                        fx.persist.job = true;
                    }
                }
            }
        }
        Ok(fx)
    }

    /// Refuses what makes no sense for the job's type: download-only
    /// options on an upload, upload options on a download, tus (which has
    /// no reply) or a reply file on the wrong job.
    fn refuse_for_kind(&self, property: &Property) -> Result<()> {
        let kind = self.kind;
        let why = match property {
            Property::UploadProtocol(_) | Property::ReplyFileName(_) if !kind.is_upload() => {
                "is an upload job's option; this job is a download"
            }
            Property::ReplyFileName(_) if kind != JobType::UploadReply => {
                "is an upload-reply job's option; this job has no reply"
            }
            Property::UploadProtocol(UploadProtocol::Tus) if kind == JobType::UploadReply => {
                "cannot be tus: tus 1.0 has no reply to an upload; an upload-reply job speaks the resumable-upload draft (rufh)"
            }
            Property::DynamicContent(true) | Property::MaxDownloadSize(1..)
            | Property::FileSha256 { .. }
                if kind.is_upload() =>
            {
                "is a download option; this job is an upload"
            }
            #[cfg(feature = "delta")]
            Property::FileDelta { delta: Some(_), .. } if kind.is_upload() => {
                "is a download option; this job is an upload"
            }
            _ => return Ok(()),
        };
        let what = match property {
            Property::UploadProtocol(_) => "the upload protocol",
            Property::ReplyFileName(_) => "the reply file",
            Property::DynamicContent(_) => "dynamic content",
            Property::MaxDownloadSize(_) => "the maximum download size",
            Property::FileSha256 { .. } => "a file's SHA-256",
            _ => "seeds",
        };
        Err(Error::invalid_arg(format!("{what} {why}")))
    }

    /// Progress was made: the no-progress window starts again, and a
    /// JOB_MODIFICATION goes out when the notification interval allows.
    fn progressed(&mut self, clock: Clock, fx: &mut Effects) {
        self.progress_clock = clock.now;
        let pace = Duration::from_millis(u64::from(self.min_notification_interval));
        let due = self
            .last_progress_notice
            .is_none_or(|last| clock.now.saturating_duration_since(last) >= pace);
        if due {
            self.last_progress_notice = Some(clock.now);
            self.emit(NotifyFlags::JOB_MODIFICATION, u32::MAX, HResult::OK, fx);
        }
    }

    fn refuse_final(&self, action: &str) -> Result<()> {
        if self.state.is_final() {
            return Err(Error::invalid_state(action, self.state));
        }
        Ok(())
    }

    fn file_mut(&mut self, index: usize) -> Result<&mut FileModel> {
        let count = self.files.len();
        self.files
            .get_mut(index)
            .ok_or_else(|| no_such_file(index as u32, count))
    }

    fn add_files(
        &mut self,
        files: Vec<NewFile>,
        seq: u64,
        clock: Clock,
        fx: &mut Effects,
    ) -> Result<()> {
        self.refuse_final("add files to")?;
        if files.is_empty() {
            return Err(Error::invalid_arg("no files given"));
        }
        if self.kind.is_upload() {
            if self.files.len() + files.len() > 1 {
                return Err(Error::new(
                    QM_BG_E_TOO_MANY_FILES,
                    "an upload job holds exactly one file",
                ));
            }
            if files[0].ranges.is_some() || !matches!(files[0].source, Source::Http(_)) {
                return Err(Error::invalid_arg(
                    "an upload goes to an http(s) URL, whole (no ranges)",
                ));
            }
        }
        if self.dynamic_content && files.iter().any(|f| f.ranges.is_some()) {
            return Err(Error::invalid_arg(
                "the job's content is dynamic: it makes no range requests, so a file with ranges cannot be added",
            ));
        }
        // Linear, not pairwise: a job may hold many thousands of files.
        let mut taken: std::collections::HashSet<&Path> =
            self.files.iter().map(|f| f.local.as_path()).collect();
        for file in &files {
            if !taken.insert(file.local.as_path()) {
                return Err(Error::invalid_arg(format!(
                    "the local name '{}' is already used in this job",
                    file.local.display()
                )));
            }
        }
        self.unknown_sizes += files.len();
        self.files.extend(files.into_iter().map(FileModel::new));
        self.touch(clock, fx);
        fx.persist = Persist {
            job: true,
            files: Files::All,
        };
        if self.state == JobState::Transferred {
            self.transfer_completed = None;
            self.enqueue(seq, clock, fx);
        }
        Ok(())
    }

    fn resume(&mut self, seq: u64, clock: Clock, fx: &mut Effects) -> Result<()> {
        self.refuse_final("resume")?;
        // Resume starts the maximum download time again, as in BITS.
        if self.state != JobState::Transferred {
            self.active_elapsed = Duration::ZERO;
            if self.active_since.is_some() {
                self.active_since = Some(clock.now);
            }
        }
        match self.state {
            JobState::Queued | JobState::Connecting | JobState::Transferring => return Ok(()),
            JobState::Transferred => {
                return Err(Error::new(
                    QM_BG_E_EMPTY,
                    "every file of the job is already transferred",
                ))
            }
            _ => {}
        }
        if self.files.is_empty() {
            return Err(Error::new(QM_BG_E_EMPTY, "the job has no files"));
        }
        self.error = None;
        fx.persist.job = true;
        // The caller's resume gives every file a new budget of version
        // changes (automatic retries do not: a server flipping versions
        // and dropping connections must not restart the count each time).
        for f in &mut self.files {
            f.forget_versions_seen();
        }
        if self.first_incomplete().is_none() {
            // Every byte arrived (a suspend raced the last chunk): the job is
            // done, so it goes where the transfer would have taken it.
            self.transfer_completed.get_or_insert(clock.wall);
            self.set_state(JobState::Transferred, clock, fx);
            return Ok(());
        }
        self.enqueue(seq, clock, fx);
        Ok(())
    }

    fn set(&mut self, property: Property, clock: Clock, fx: &mut Effects) -> Result<()> {
        let action = match &property {
            Property::Priority(_) => "change the priority of",
            Property::DisplayName(_) => "rename",
            Property::Description(_) => "describe",
            Property::RetryDelay(_) => "change the retry delay of",
            Property::NoProgressTimeout(_) => "change the no-progress timeout of",
            Property::NotifyFlags(_) => "set notifications of",
            Property::MaxBandwidth(_) => "limit",
            Property::CustomHeaders(_) => "set headers of",
            Property::Credentials(_) => "set credentials of",
            Property::Proxy(_) => "set the proxy of",
            Property::CaFile(_) => "set the CA file of",
            Property::ClientCertificate(_) => "set the client certificate of",
            Property::StallTimeout(_) => "set the stall timeout of",
            Property::SecurityFlags(_) => "set the security flags of",
            Property::MaxDownloadSize(_) => "limit the download size of",
            Property::MaxConnections(_) => "set the connections of",
            Property::MaxDownloadTime(_) => "limit the download time of",
            Property::DynamicContent(_) => "mark the content of",
            Property::Yielding(_) => "set the yielding of",
            Property::NotifyCmdLine(_) => "set the notify command line of",
            Property::MinNotificationInterval(_) => "pace the notifications of",
            Property::LowSpeedLimit { .. } => "set the low-speed limit of",
            Property::FileSha256 { .. } => "set a checksum in",
            #[cfg(feature = "delta")]
            Property::FileDelta { .. } => "set the seeds of a file of",
            Property::UploadProtocol(_) => "set the upload protocol of",
            Property::ReplyFileName(_) => "set the reply file of",
        };
        self.refuse_final(action)?;
        self.refuse_for_kind(&property)?;
        match property {
            Property::Priority(p) => {
                self.priority = p;
                fx.wake_scheduler = true;
            }
            Property::DisplayName(name) => {
                check_len("display name", &name, MAX_DISPLAY_NAME)?;
                self.display_name = name;
            }
            Property::Description(text) => {
                check_len("description", &text, MAX_DESCRIPTION)?;
                self.description = text;
            }
            Property::RetryDelay(s) => self.retry_delay = s.max(1),
            Property::NoProgressTimeout(s) => self.no_progress_timeout = s,
            Property::NotifyFlags(flags) => {
                if flags.0 & !NotifyFlags::ALL != 0 {
                    return Err(Error::invalid_arg(format!(
                        "unknown notify flags 0x{:x}",
                        flags.0 & !NotifyFlags::ALL
                    )));
                }
                self.notify_flags = flags;
            }
            Property::MaxBandwidth(rate) => self.max_bandwidth = rate,
            Property::CustomHeaders(headers) => {
                self.http.custom_headers = headers.filter(|(_, list)| !list.is_empty())
            }
            Property::Credentials(c) => self.http.credentials = c,
            Property::Proxy(p) => self.http.proxy = p,
            Property::CaFile(p) => self.http.ca_file = p,
            Property::ClientCertificate(p) => self.http.client_certificate = p,
            Property::StallTimeout(t) => self.http.stall_timeout = t.max(Duration::from_secs(1)),
            Property::SecurityFlags(flags) => self.http.security_flags = flags,
            Property::MaxDownloadSize(bytes) => self.max_download_size = bytes,
            Property::MaxConnections(n) => {
                if n == 0 {
                    return Err(Error::invalid_arg("a job needs at least 1 connection"));
                }
                self.max_connections = n;
            }
            Property::MaxDownloadTime(seconds) => self.max_download_time = seconds,
            Property::DynamicContent(dynamic) => {
                if dynamic {
                    if let Some(i) = self.files.iter().position(|f| f.ranges.is_some()) {
                        return Err(Error::invalid_arg(format!(
                            "file {i} has ranges, which need range requests; dynamic content has none"
                        )));
                    }
                }
                self.dynamic_content = dynamic
            }
            Property::Yielding(yielding) => self.yielding = yielding,
            Property::NotifyCmdLine(cmdline) => {
                if let Some(c) = &cmdline {
                    check_len("notify program", &c.program, MAX_NOTIFY_PROGRAM)?;
                    check_len(
                        "notify parameters",
                        c.parameters.as_deref().unwrap_or(""),
                        MAX_NOTIFY_PARAMETERS,
                    )?;
                    if !Path::new(&c.program).is_absolute() {
                        return Err(Error::invalid_arg(format!(
                            "the notify program '{}' is not an absolute path (no search path is used)",
                            c.program
                        )));
                    }
                    if c.program.contains('\0')
                        || c.parameters.as_deref().is_some_and(|p| p.contains('\0'))
                    {
                        return Err(Error::invalid_arg("the notify command line contains a NUL"));
                    }
                }
                self.notify_cmdline = cmdline;
            }
            Property::MinNotificationInterval(ms) => self.min_notification_interval = ms,
            Property::LowSpeedLimit {
                bytes_per_second,
                seconds,
            } => self.low_speed_limit = (bytes_per_second, seconds),
            Property::UploadProtocol(protocol) => {
                let up = self.upload.as_mut().expect("checked: an upload job");
                if up.protocol != protocol {
                    if matches!(self.run, Run::Running(_)) {
                        return Err(Error::new(
                            QM_BG_E_INVALID_STATE,
                            "the upload is running: suspend the job to change its protocol",
                        ));
                    }
                    // Another protocol is another upload: the server's
                    // bytes of this one do not count for it.
                    up.protocol = protocol;
                    up.state = None;
                    if !self.files.is_empty() && !self.files[0].completed {
                        self.reset_file(0);
                    }
                    fx.persist.files = Files::All;
                }
            }
            Property::ReplyFileName(path) => {
                self.upload
                    .as_mut()
                    .expect("checked: an upload job")
                    .reply_file = path;
            }
            Property::FileSha256 { index, digest } => {
                let count = self.files.len();
                self.files
                    .get_mut(index as usize)
                    .ok_or_else(|| no_such_file(index, count))?
                    .sha256 = digest;
                fx.persist.files = Files::One(index as usize);
            }
            #[cfg(feature = "delta")]
            Property::FileDelta { index, delta } => {
                let count = self.files.len();
                let f = self
                    .files
                    .get_mut(index as usize)
                    .ok_or_else(|| no_such_file(index, count))?;
                if delta.is_some() && !matches!(f.source, Source::Http(_)) {
                    return Err(Error::invalid_arg(format!(
                        "file {index} is not fetched over http(s): seeds need a server that answers ranges"
                    )));
                }
                if delta.is_some() && f.ranges.is_some() {
                    return Err(Error::invalid_arg(format!(
                        "file {index} has byte ranges: a delta download fetches a whole file"
                    )));
                }
                let busy = self
                    .active
                    .iter()
                    .chain(self.draining.iter())
                    .any(|p| p.file == index as usize);
                if f.completed || f.ledger.arrived_bytes() > 0 || busy {
                    return Err(Error::new(
                        QM_BG_E_INVALID_STATE,
                        format!(
                            "file {index} has started transferring: its seeds can only be set before"
                        ),
                    ));
                }
                f.delta = delta.map(DeltaFile::new);
                fx.persist.files = Files::One(index as usize);
            }
        }
        self.touch(clock, fx);
        fx.persist.job = true;
        Ok(())
    }

    /// Picks the next piece for the running worker; with none left, the
    /// job is TRANSFERRED (in the same step, so a file added meanwhile is
    /// never missed). A stopping or stopped run gets no piece.
    fn next_piece(&mut self, clock: Clock, fx: &mut Effects) {
        if !matches!(self.run, Run::Running(_)) || !self.state.is_active() || self.finishing {
            return;
        }
        self.first_incomplete();
        let plan = planner::plan(
            &self.files,
            self.next_incomplete,
            &self.active,
            &self.draining,
            self.per_server,
        );
        let piece = match plan {
            Plan::Fetch { file, span } => Piece {
                id: self.next_piece_id,
                file,
                span,
            },
            Plan::Split { victim, at } => {
                let cut = &mut self.active[victim];
                let piece = Piece {
                    id: self.next_piece_id,
                    file: cut.file,
                    span: Span {
                        start: at,
                        end: cut.span.end,
                    },
                };
                cut.span.end = Some(at);
                piece
            }
            Plan::Wait => {
                fx.wait = true;
                return;
            }
            // Other connections still have pieces: this one is done.
            Plan::Done if !self.active.is_empty() || self.first_incomplete().is_some() => return,
            Plan::Done => return self.transferred(clock, fx),
        };
        self.next_piece_id += 1;
        self.active.push(piece);
        fx.piece = Some(piece);
        // CONNECTING until a connection's source answers; another
        // connection's flowing data keeps the job TRANSFERRING.
        if self.opened.is_empty() {
            self.set_state(JobState::Connecting, clock, fx);
        }
    }

    /// A piece's source answered. Alone on its file, the piece takes the
    /// answer as it is: a restart (another version, or the server sent the
    /// whole file) empties the ledger and the piece now covers the file
    /// (a ranged file's piece keeps its stretch). `total` is the local
    /// file's size (for a ranged file, the sum of its ranges).
    /// Beside other pieces of the file, a restart cannot be taken: another
    /// version stops every writer of the file (it starts again once they
    /// have stopped); the same version without the range asked for means
    /// the server does not honour ranges: the piece gives its stretch back
    /// to the piece before it, and the file is not split again.
    ///
    /// Another version than one seen since the caller's resume (backends
    /// of one URL holding different versions) is counted: the file is then
    /// fetched whole on one connection until the next resume by the
    /// caller, so that answers flipping between versions cannot restart
    /// its segments forever, and past `MAX_VERSION_CHANGES` the job fails.
    #[allow(clippy::too_many_arguments)]
    fn opened(
        &mut self,
        piece: PieceId,
        file: usize,
        start: u64,
        total: Option<u64>,
        validator: Option<Validator>,
        ranges: bool,
        clock: Clock,
        fx: &mut Effects,
    ) -> Result<()> {
        self.file_mut(file)?;
        let Some(at) = self.active.iter().position(|p| p.id == piece) else {
            return Ok(()); // taken away meanwhile
        };
        let asked = self.active[at].span;
        let f = &self.files[file];
        let other_version = f.validator.is_some() && validator != f.validator;
        // (Without the `delta` feature no file has blocks from seeds.)
        #[cfg(feature = "delta")]
        if let Some(d) = f.delta.as_ref().filter(|d| d.way == DeltaWay::Delta) {
            // Blocks from the seeds are of the control file's version: the
            // answer must be a range of that version, or the file is
            // fetched whole, from nothing (never a splice).
            let length = d.matched.map(|m| m.0);
            let why = if start != asked.start {
                Some("the server did not answer a range request with that range".to_string())
            } else if total != length {
                Some(format!(
                    "the server's file has {} bytes, the control file describes {} bytes",
                    total.map_or("an unknown number of".to_string(), |t| t.to_string()),
                    length.unwrap_or(0)
                ))
            } else if other_version {
                Some("the server's file changed during the delta download".to_string())
            } else {
                None
            };
            if let Some(reason) = why {
                self.delta_fall_back(file, reason);
                fx.persist.files = Files::One(file);
                return Ok(());
            }
        }
        let f = &self.files[file];
        // Bytes of no known version cannot be kept (a delta file's are of
        // the control file's version: checked above).
        let unknown_bytes =
            f.validator.is_none() && f.ledger.arrived_bytes() > 0 && !f.delta_active();
        let restarted = start != asked.start || other_version || unknown_bytes;
        let alone = !self.active.iter().any(|p| p.file == file && p.id != piece);
        if other_version && f.run_validator {
            let f = &mut self.files[file];
            f.version_changes += 1;
            if f.version_changes > MAX_VERSION_CHANGES {
                self.too_many_versions(at, file, clock, fx);
                return Ok(());
            }
        }
        if restarted && !alone {
            let p = self.active.remove(at);
            if other_version {
                let (gone, kept) = std::mem::take(&mut self.active)
                    .into_iter()
                    .partition(|q| q.file == file);
                self.active = kept;
                self.draining.extend::<Vec<Piece>>(gone);
                self.draining.push(p);
                self.reset_file(file);
                self.set_total(file, None);
                let f = &mut self.files[file];
                f.validator = None;
                f.splittable = None;
                fx.persist.files = Files::One(file);
            } else {
                self.files[file].splittable = Some(false);
                if let Some(before) = self
                    .active
                    .iter_mut()
                    .find(|q| q.file == file && q.span.end == Some(asked.start))
                {
                    before.span.end = asked.end;
                }
            }
            return Ok(());
        }
        if restarted {
            self.reset_file(file);
        }
        let f = &mut self.files[file];
        f.run_validator = validator.is_some();
        f.splittable = Some(
            ranges
                && f.version_changes == 0
                && !self.dynamic_content
                && matches!(f.source, Source::Http(_))
                && total.is_some()
                && validator.as_ref().is_some_and(Validator::can_resume),
        );
        f.validator = validator;
        self.set_total(file, total);
        let ranged = self.files[file].ranges.is_some();
        let p = &mut self.active[at];
        if restarted && !ranged {
            p.span = Span {
                start: 0,
                end: total,
            };
        } else if p.span.end.is_none() || total.is_some_and(|t| p.span.end > Some(t)) {
            p.span.end = total;
        }
        // A ranged file's answer is exactly the range asked for (the
        // transport refuses anything else): another version keeps this
        // piece's bytes and forgets the rest; the piece ends with its range.
        p.span = self.files[file].within_range(p.span);
        fx.piece = Some(*p);
        fx.persist = Persist {
            job: true,
            files: Files::One(file),
        };
        if !self.opened.contains(&piece) {
            self.opened.push(piece);
        }
        if matches!(self.run, Run::Running(_)) && self.state == JobState::Connecting {
            self.set_state(JobState::Transferring, clock, fx);
        }
        Ok(())
    }

    /// File `file`'s source changed version more than `MAX_VERSION_CHANGES`
    /// times since the caller's resume: piece `active[at]` is dropped, the
    /// job goes to ERROR and the run stops. The file keeps its bytes and validator (a
    /// resume goes on from them if the server settles on that version).
    fn too_many_versions(&mut self, at: usize, file: usize, clock: Clock, fx: &mut Effects) {
        self.active.remove(at);
        let changes = self.files[file].version_changes;
        let error = TransferError::fatal(
            HResult(QM_BG_E_INVALID_SERVER_RESPONSE),
            ErrorContext::RemoteFile,
            format!(
                "the server answered with another version of the file {changes} times during \
                 this transfer (servers behind one URL holding different versions, or a file \
                 that keeps changing); qmgr restarts a file at most {MAX_VERSION_CHANGES} times \
                 for another version before the job is resumed again"
            ),
        );
        self.record_error(error, Some(file as u32), clock, fx);
        self.stop_run(fx);
    }

    /// Every file is transferred: TRANSFERRED.
    fn transferred(&mut self, clock: Clock, fx: &mut Effects) {
        self.error = None;
        self.transfer_completed = Some(clock.wall);
        self.set_state(JobState::Transferred, clock, fx);
        fx.persist.job = true;
    }

    /// Records an error of a run: TRANSIENT_ERROR with a retry time, or
    /// ERROR when it is fatal or the no-progress timeout has passed.
    fn record_error(
        &mut self,
        err: TransferError,
        file_index: Option<u32>,
        clock: Clock,
        fx: &mut Effects,
    ) {
        let timed_out = clock.now.saturating_duration_since(self.progress_clock)
            >= Duration::from_secs(u64::from(self.no_progress_timeout));
        let transient = err.transient && !timed_out;
        self.error = Some(JobError {
            code: err.code,
            context: err.context,
            file_index,
            http_status: err.http_status,
            description: err.description,
        });
        if transient {
            // The retry delay, or the server's Retry-After when longer; at least 1 s.
            let delay = Duration::from_secs(u64::from(self.retry_delay))
                .max(err.retry_after.unwrap_or_default())
                .max(Duration::from_secs(1));
            // A delay too far for the clock (a hostile Retry-After) waits the longest it can.
            self.retry_at = Some(
                clock
                    .now
                    .checked_add(delay)
                    .unwrap_or_else(|| clock.now + Duration::from_secs(u64::from(u32::MAX))),
            );
            self.retry_wall = Some(
                clock
                    .wall
                    .checked_add(delay)
                    .unwrap_or(clock.wall + MAX_RESTORED_RETRY_WAIT),
            );
            self.set_state(JobState::TransientError, clock, fx);
            fx.wake_scheduler = true;
        } else {
            self.retry_at = None;
            self.set_state(JobState::Error, clock, fx);
        }
        fx.persist.job = true;
    }

    /// Puts the job in the queue at `seq`.
    fn enqueue(&mut self, seq: u64, clock: Clock, fx: &mut Effects) {
        self.queue_seq = seq;
        self.retry_at = None;
        self.progress_clock = clock.now;
        self.set_state(JobState::Queued, clock, fx);
        fx.wake_scheduler = true;
    }

    fn stop_run(&mut self, fx: &mut Effects) {
        if let Run::Running(run) = self.run {
            self.run = Run::Stopping(run);
            fx.stop_run = true;
        }
    }

    /// Records a modification: the time, and a JOB_MODIFICATION notification.
    fn touch(&mut self, clock: Clock, fx: &mut Effects) {
        self.modified = clock.wall;
        self.emit(NotifyFlags::JOB_MODIFICATION, u32::MAX, HResult::OK, fx);
    }

    fn emit(&self, kind: u32, file_index: u32, code: HResult, fx: &mut Effects) {
        if self.notify_flags.delivers(kind) {
            fx.events.push(NotifyEvent {
                kind,
                file_index,
                code,
            });
        }
    }

    /// Moves to `state`, records the change and asks for its notifications.
    fn set_state(&mut self, state: JobState, clock: Clock, fx: &mut Effects) {
        if self.state == state {
            return;
        }
        // The maximum download time counts CONNECTING and TRANSFERRING only.
        let transferring = |s: JobState| matches!(s, JobState::Connecting | JobState::Transferring);
        match (transferring(self.state), transferring(state)) {
            (false, true) => self.active_since = Some(clock.now),
            (true, false) => {
                if let Some(since) = self.active_since.take() {
                    self.active_elapsed += clock.now.saturating_duration_since(since);
                }
            }
            _ => {}
        }
        self.state = state;
        self.touch(clock, fx);
        match state {
            JobState::Transferred => {
                self.emit(NotifyFlags::JOB_TRANSFERRED, u32::MAX, HResult::OK, fx)
            }
            JobState::Error => {
                let code = self.error.as_ref().map_or(HResult(QM_E_FAIL), |e| e.code);
                self.emit(NotifyFlags::JOB_ERROR, u32::MAX, code, fx)
            }
            _ => {}
        }
        // Only `wait` sleeps on a state, and it returns on settled states
        // only: waking it for CONNECTING/TRANSFERRING (twice per file) would
        // cost a context switch and a lock handoff per file for nothing.
        if state.is_settled() {
            fx.wake_waiters = true;
        }
    }

    /// The first file not yet transferred, if any.
    fn first_incomplete(&mut self) -> Option<usize> {
        while self
            .files
            .get(self.next_incomplete)
            .is_some_and(|f| f.completed)
        {
            self.next_incomplete += 1;
        }
        (self.next_incomplete < self.files.len()).then_some(self.next_incomplete)
    }

    /// Records file `index`'s size and updates the job's total, which stays
    /// unknown while any file's size is.
    fn set_total(&mut self, index: usize, total: Option<u64>) {
        let f = &mut self.files[index];
        match f.ledger.total() {
            None => self.unknown_sizes -= 1,
            Some(old) => self.known_bytes -= old,
        }
        match total {
            None => self.unknown_sizes += 1,
            Some(t) => self.known_bytes += t,
        }
        f.ledger.set_total(total);
    }

    /// A delta file becomes a full download: its bytes and version are
    /// forgotten, and every piece of it is taken away (their connections
    /// drop what they hold; the file is planned again from byte 0 once
    /// they have stopped).
    #[cfg(feature = "delta")]
    fn delta_fall_back(&mut self, index: usize, reason: String) {
        self.reset_file(index);
        self.set_total(index, None);
        let f = &mut self.files[index];
        f.validator = None;
        f.splittable = None;
        if let Some(d) = &mut f.delta {
            d.way = DeltaWay::Full;
            d.reason = reason;
            d.matched = None;
            d.seeded = RangeSet::new();
        }
        let (gone, kept): (Vec<Piece>, Vec<Piece>) = std::mem::take(&mut self.active)
            .into_iter()
            .partition(|p| p.file == index);
        self.active = kept;
        self.draining.extend(gone);
    }

    /// Empties a file's ledger (keeping the job's sums right).
    fn reset_file(&mut self, index: usize) {
        let f = &mut self.files[index];
        let before = f.shown_bytes();
        let total = f.ledger.total();
        f.ledger.clear();
        f.ledger.set_total(total);
        self.bytes_done -= before - f.shown_bytes();
    }

    /// Forgets a file's bytes at or past `offset`.
    fn cut_file(&mut self, index: usize, offset: u64) {
        let f = &mut self.files[index];
        let before = f.shown_bytes();
        f.ledger.truncate(offset);
        self.bytes_done -= before - f.shown_bytes();
    }

    /// Recomputes the sums from the files.
    fn recount(&mut self) {
        self.known_bytes = self.files.iter().filter_map(|f| f.ledger.total()).sum();
        self.unknown_sizes = self
            .files
            .iter()
            .filter(|f| f.ledger.total().is_none())
            .count();
        self.bytes_done = self.files.iter().map(FileModel::shown_bytes).sum();
        self.files_done = self.files.iter().filter(|f| f.completed).count() as u32;
        self.next_incomplete = 0;
    }
}

impl StoredFile {
    /// The parsed remote name; a stored name this build cannot parse is
    /// kept as an HTTP URL, so that its transfer fails with a clear error.
    fn source_or_http(&self) -> Source {
        Source::parse(&self.remote).unwrap_or_else(|_| Source::Http(self.remote.clone()))
    }
}
