//! Plain values of the Rust API: states, priorities, progress, errors, times.
//!
//! Numeric values are BITS's (`reference/BITS.md`); the C constants in
//! `ffi/constants.rs` carry the same numbers and a test keeps them equal.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::engine::error::Error;
use crate::hresult::HResult;

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
    fn from_str(s: &str) -> Result<JobId, Error> {
        let bad = || {
            Error::invalid_arg(format!(
                "'{s}' is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"
            ))
        };
        if s.len() != 36 {
            return Err(bad());
        }
        uuid::Uuid::try_parse(s)
            .map(|u| JobId(*u.as_bytes()))
            .map_err(|_| bad())
    }
}

/// Who a job belongs to: a user id and a group id (BITS's job owner).
///
/// A job's files are read and written with its owner's rights: when the
/// owner is not the process's effective user (a service running jobs for
/// several users), every file operation done for the job runs with the
/// owner's filesystem credentials (its uid, this gid and the user's
/// supplementary groups), never the process's, and its notify program runs
/// as the owner. A job whose owner is the process's effective user is run
/// with the process's own credentials, as before owners existed: nothing is
/// switched. `u32::MAX` (`-1`) is neither a user nor a group id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Owner {
    /// The user id (`uid_t`).
    pub uid: u32,
    /// The group id (`gid_t`): the owner's filesystem group; the
    /// supplementary groups come from the group database for the user.
    pub gid: u32,
}

impl Owner {
    /// The process's effective user and group ids (`geteuid`, `getegid`):
    /// the owner of every job that
    /// [`Manager::create_job`](crate::Manager::create_job) creates.
    pub fn current() -> Owner {
        let (uid, gid) = crate::sys::effective_ids();
        Owner { uid, gid }
    }

    /// Refuses `u32::MAX` as a user or group id (`QM_E_INVALIDARG`): the
    /// kernel reads it as "no change", not as an id.
    pub(crate) fn check(self) -> Result<Owner, Error> {
        if self.uid == u32::MAX || self.gid == u32::MAX {
            return Err(Error::invalid_arg(format!(
                "{self} is not an owner: -1 is neither a user nor a group id"
            )));
        }
        Ok(self)
    }
}

impl fmt::Display for Owner {
    /// `uid 1000 gid 1000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "uid {} gid {}", self.uid, self.gid)
    }
}

/// Milliseconds since the Unix epoch (negative before it).
pub(crate) fn epoch_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

/// The time `ms` milliseconds after the Unix epoch (the epoch itself for
/// earlier times).
pub(crate) fn from_epoch_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

/// A job's state, in the order and with the numbers of `BG_JOB_STATE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum JobState {
    /// Waiting for a transfer slot.
    Queued = 0,
    /// Contacting the source of the current file.
    Connecting = 1,
    /// Data is flowing.
    Transferring = 2,
    /// Not scheduled; new jobs start here and `suspend` puts a job here.
    Suspended = 3,
    /// Stopped by an error that needs the caller (resume, cancel or complete).
    Error = 4,
    /// Stopped by an error that qmgr retries after the minimum retry delay.
    TransientError = 5,
    /// Every file is transferred; waiting for `complete`.
    Transferred = 6,
    /// `complete` was called: final.
    Acknowledged = 7,
    /// `cancel` was called: final.
    Cancelled = 8,
}

impl JobState {
    /// Every state, in numeric order.
    pub const ALL: [JobState; 9] = [
        JobState::Queued,
        JobState::Connecting,
        JobState::Transferring,
        JobState::Suspended,
        JobState::Error,
        JobState::TransientError,
        JobState::Transferred,
        JobState::Acknowledged,
        JobState::Cancelled,
    ];

    /// The state with this `BG_JOB_STATE` number.
    pub fn from_u32(value: u32) -> Option<JobState> {
        Self::ALL.get(value as usize).copied()
    }

    /// ACKNOWLEDGED or CANCELLED: nothing can change the job any more.
    pub fn is_final(self) -> bool {
        matches!(self, JobState::Acknowledged | JobState::Cancelled)
    }

    /// QUEUED, CONNECTING or TRANSFERRING: the job wants or has a transfer slot.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            JobState::Queued | JobState::Connecting | JobState::Transferring
        )
    }

    /// The states at which `Job::wait` returns.
    pub fn is_settled(self) -> bool {
        matches!(
            self,
            JobState::Transferred
                | JobState::Error
                | JobState::Suspended
                | JobState::Acknowledged
                | JobState::Cancelled
        )
    }

    /// The upper-case BITS name, e.g. `"TRANSIENT_ERROR"`.
    pub fn name(self) -> &'static str {
        match self {
            JobState::Queued => "QUEUED",
            JobState::Connecting => "CONNECTING",
            JobState::Transferring => "TRANSFERRING",
            JobState::Suspended => "SUSPENDED",
            JobState::Error => "ERROR",
            JobState::TransientError => "TRANSIENT_ERROR",
            JobState::Transferred => "TRANSFERRED",
            JobState::Acknowledged => "ACKNOWLEDGED",
            JobState::Cancelled => "CANCELLED",
        }
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A job's priority, with the numbers of `BG_JOB_PRIORITY` (lower runs first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u32)]
pub enum Priority {
    /// Runs first, ignores the manager's bandwidth limit, preempts background jobs.
    Foreground = 0,
    /// Background, ahead of NORMAL.
    High = 1,
    /// Background; the default.
    Normal = 2,
    /// Background, after everything else.
    Low = 3,
}

impl Priority {
    /// The priority with this `BG_JOB_PRIORITY` number.
    pub fn from_u32(value: u32) -> Option<Priority> {
        match value {
            0 => Some(Priority::Foreground),
            1 => Some(Priority::High),
            2 => Some(Priority::Normal),
            3 => Some(Priority::Low),
            _ => None,
        }
    }
}

/// A job's type, chosen when it is created, with the numbers of
/// `BG_JOB_TYPE` (bits.h).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum JobType {
    /// Files come from remote names to local names (the default).
    Download = 0,
    /// One local file goes to a remote name.
    Upload = 1,
    /// One local file goes to a remote name, and the server's reply comes back.
    UploadReply = 2,
}

impl JobType {
    /// The type with this `BG_JOB_TYPE` number.
    pub fn from_u32(value: u32) -> Option<JobType> {
        match value {
            0 => Some(JobType::Download),
            1 => Some(JobType::Upload),
            2 => Some(JobType::UploadReply),
            _ => None,
        }
    }

    /// UPLOAD or UPLOAD_REPLY.
    pub fn is_upload(self) -> bool {
        self != JobType::Download
    }
}

/// The protocol an upload job speaks (qmgr's own numbers: BITS's upload
/// protocol needs an IIS extension no Linux server has).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum UploadProtocol {
    /// tus 1.0.0 (core, creation, termination, checksum with SHA-256,
    /// expiration): the default for UPLOAD jobs. It has no reply.
    Tus = 0,
    /// The IETF draft "Resumable Uploads for HTTP",
    /// draft-ietf-httpbis-resumable-upload-12 with
    /// `Upload-Draft-Interop-Version: 8`: experimental until it is an RFC;
    /// the protocol of UPLOAD_REPLY jobs (its final response is the reply).
    Rufh = 1,
}

impl UploadProtocol {
    /// The protocol with this number.
    pub fn from_u32(value: u32) -> Option<UploadProtocol> {
        match value {
            0 => Some(UploadProtocol::Tus),
            1 => Some(UploadProtocol::Rufh),
            _ => None,
        }
    }

    /// Its name: `"tus"` or `"rufh"`.
    pub fn name(self) -> &'static str {
        match self {
            UploadProtocol::Tus => "tus",
            UploadProtocol::Rufh => "rufh",
        }
    }

    /// The protocol named `name` (see [`UploadProtocol::name`]).
    pub fn from_name(name: &str) -> Option<UploadProtocol> {
        [UploadProtocol::Tus, UploadProtocol::Rufh]
            .into_iter()
            .find(|p| p.name() == name)
    }
}

/// Progress of an upload-reply job's reply (`BG_JOB_REPLY_PROGRESS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyProgress {
    /// The reply's size, `None` until it has arrived.
    pub bytes_total: Option<u64>,
    /// Bytes of the reply received.
    pub bytes_transferred: u64,
}

/// Where an error happened, with the numbers of `BG_ERROR_CONTEXT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum ErrorContext {
    /// No error.
    None = 0,
    /// Unknown origin.
    Unknown = 1,
    /// In the queue manager itself.
    GeneralQueueManager = 2,
    /// While notifying the application.
    QueueManagerNotification = 3,
    /// The local file: destination directory, disk, permissions.
    LocalFile = 4,
    /// The remote file: missing, refused, changed, failed validation.
    RemoteFile = 5,
    /// The transport: network, TLS, protocol.
    GeneralTransport = 6,
    /// The remote application (the server's own error).
    RemoteApplication = 7,
}

impl ErrorContext {
    /// Every context, in numeric order.
    pub const ALL: [ErrorContext; 8] = [
        ErrorContext::None,
        ErrorContext::Unknown,
        ErrorContext::GeneralQueueManager,
        ErrorContext::QueueManagerNotification,
        ErrorContext::LocalFile,
        ErrorContext::RemoteFile,
        ErrorContext::GeneralTransport,
        ErrorContext::RemoteApplication,
    ];

    /// The context with this `BG_ERROR_CONTEXT` number.
    pub fn from_u32(value: u32) -> Option<ErrorContext> {
        Self::ALL.get(value as usize).copied()
    }
}

/// Which notifications a job sends; the bits of `BG_NOTIFY_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NotifyFlags(pub u32);

impl NotifyFlags {
    /// Every file of the job is transferred.
    pub const JOB_TRANSFERRED: u32 = 0x1;
    /// The job entered ERROR.
    pub const JOB_ERROR: u32 = 0x2;
    /// No notifications at all, whatever the other bits say.
    pub const DISABLE: u32 = 0x4;
    /// The job changed: state, files, properties, or progress (at most 4 times a second).
    pub const JOB_MODIFICATION: u32 = 0x8;
    /// One file of the job is transferred.
    pub const FILE_TRANSFERRED: u32 = 0x10;
    /// Every valid bit.
    pub const ALL: u32 = 0x1F;
    /// The default of a new job: JOB_TRANSFERRED | JOB_ERROR.
    pub const DEFAULT: NotifyFlags = NotifyFlags(Self::JOB_TRANSFERRED | Self::JOB_ERROR);

    /// Whether an event of kind `event` (one bit) is delivered under these flags.
    pub fn delivers(self, event: u32) -> bool {
        self.0 & Self::DISABLE == 0 && self.0 & event != 0
    }
}

/// A job's HTTP security flags (`IBackgroundCopyJobHttpOptions::SetSecurityFlags`),
/// with the values of `BG_SSL_*` and `BG_HTTP_REDIRECT_POLICY_*` (bits2_5.h).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SecurityFlags(pub u32);

impl SecurityFlags {
    /// `BG_SSL_ENABLE_CRL_CHECK`.
    pub const SSL_ENABLE_CRL_CHECK: u32 = 0x0001;
    /// `BG_SSL_IGNORE_CERT_CN_INVALID`.
    pub const SSL_IGNORE_CERT_CN_INVALID: u32 = 0x0002;
    /// `BG_SSL_IGNORE_CERT_DATE_INVALID`.
    pub const SSL_IGNORE_CERT_DATE_INVALID: u32 = 0x0004;
    /// `BG_SSL_IGNORE_UNKNOWN_CA`.
    pub const SSL_IGNORE_UNKNOWN_CA: u32 = 0x0008;
    /// `BG_SSL_IGNORE_CERT_WRONG_USAGE`.
    pub const SSL_IGNORE_CERT_WRONG_USAGE: u32 = 0x0010;
    /// The bits of the redirect policy (`BG_HTTP_REDIRECT_POLICY_MASK`).
    pub const REDIRECT_POLICY_MASK: u32 = 0x0700;
    /// Redirects are followed (the default).
    pub const REDIRECT_POLICY_ALLOW_SILENT: u32 = 0x0000;
    /// Redirects are followed and reported as the final URL (the remote
    /// name stays the caller's, unlike BITS).
    pub const REDIRECT_POLICY_ALLOW_REPORT: u32 = 0x0100;
    /// A redirect is a fatal error; the final URL names where it pointed
    /// (the remote name stays the caller's).
    pub const REDIRECT_POLICY_DISALLOW: u32 = 0x0200;
    /// An HTTPS remote name may be redirected to plain HTTP, without
    /// credentials or custom headers (refused otherwise).
    pub const REDIRECT_POLICY_ALLOW_HTTPS_TO_HTTP: u32 = 0x0800;

    /// The redirect policy: one of the three `REDIRECT_POLICY_*` values.
    pub fn redirect_policy(self) -> u32 {
        self.0 & Self::REDIRECT_POLICY_MASK
    }

    /// Whether an HTTPS request may be redirected to HTTP.
    pub fn allows_https_to_http(self) -> bool {
        self.0 & Self::REDIRECT_POLICY_ALLOW_HTTPS_TO_HTTP != 0
    }
}

/// One notification: what happened, to which file, with which code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotifyEvent {
    /// One of the `NotifyFlags` event bits.
    pub kind: u32,
    /// The file concerned, or `u32::MAX` when the event is about the whole job.
    pub file_index: u32,
    /// The error code for JOB_ERROR, `QM_S_OK` otherwise.
    pub code: HResult,
}

/// A program to run when a job is transferred or fails (BITS's
/// `IBackgroundCopyJob2::SetNotifyCmdLine`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifyCmdLine {
    /// The absolute path of the program (no search path is used).
    pub program: String,
    /// Its command line, first the program's name (its `argv[0]`), then
    /// the arguments, separated by spaces; `"..."` groups words and `\"` is
    /// a quote. `None`: the program alone.
    pub parameters: Option<String>,
}

/// The length of a [`FileRange`] that runs to the end of the remote file
/// (BITS's `BG_LENGTH_TO_EOF`, `(UINT64)-1`).
pub const LENGTH_TO_EOF: u64 = u64::MAX;

/// A stretch of a remote file to download (BITS's `BG_FILE_RANGE`): from
/// `offset`, `length` bytes, or to the end of the file when `length` is
/// [`LENGTH_TO_EOF`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileRange {
    /// The first byte, counted from 0.
    pub offset: u64,
    /// How many bytes, never 0; [`LENGTH_TO_EOF`] for "to the end".
    pub length: u64,
}

/// A file to add to a job (`FILESETINFO`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSpec {
    /// `http://`, `https://` or `file://` URL, or an absolute local path.
    pub remote: String,
    /// The absolute destination path; its directory must exist and be
    /// writable when the file is added (and still when it transfers).
    pub local: String,
    /// Expected size in bytes, 0 if unknown; advisory only.
    pub size_hint: u64,
}

impl FileSpec {
    /// A file with no size hint.
    pub fn new(remote: impl Into<String>, local: impl Into<String>) -> FileSpec {
        FileSpec {
            remote: remote.into(),
            local: local.into(),
            size_hint: 0,
        }
    }
}

/// A file's delta download (issue 24): local files that may already hold
/// blocks of it, and the zsync control file that describes it. The
/// caller's intent (DESIGN §7.1): the `URL` lines inside a control file
/// are never fetched from; the blocks the seeds lack come from the file's
/// own remote name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeltaSource {
    /// Absolute paths of the seeds (the image a device runs, the inactive
    /// partition, the last download). Read, never written; read with the
    /// job owner's rights.
    pub seeds: Vec<std::path::PathBuf>,
    /// The control file's URL (http or https), `None` for the remote name
    /// with `.zsync` appended.
    pub control_url: Option<String>,
}

/// Which way a file with seeds went (`QM_DELTA_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum DeltaWay {
    /// The file has no seeds: a plain download.
    None = 0,
    /// Not decided yet: the control file has not been read.
    Pending = 1,
    /// Blocks came from the seeds; the rest is fetched in ranges.
    Delta = 2,
    /// A full download after all (no control file, no ranges, no seed
    /// matched, or the control file does not describe the server's file):
    /// `DeltaStatus::reason` says why.
    Full = 3,
}

impl DeltaWay {
    /// The way of a C value.
    pub fn from_u32(v: u32) -> Option<DeltaWay> {
        [
            DeltaWay::None,
            DeltaWay::Pending,
            DeltaWay::Delta,
            DeltaWay::Full,
        ]
        .into_iter()
        .find(|w| *w as u32 == v)
    }

    /// A short name: `none`, `pending`, `delta`, `full`.
    pub fn name(self) -> &'static str {
        match self {
            DeltaWay::None => "none",
            DeltaWay::Pending => "pending",
            DeltaWay::Delta => "delta",
            DeltaWay::Full => "full",
        }
    }
}

/// How a file's delta download went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeltaStatus {
    /// Which way.
    pub way: DeltaWay,
    /// Bytes of the file copied from the seeds (0 unless `way` is `Delta`).
    pub bytes_from_seeds: u64,
    /// Why a delta became a full download (empty otherwise).
    pub reason: String,
}

/// Progress of one file (`BG_FILE_PROGRESS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileProgress {
    /// Size in bytes, `None` until the source has told it.
    pub bytes_total: Option<u64>,
    /// Bytes written to the temporary file so far.
    pub bytes_transferred: u64,
    /// The whole file is transferred (and verified, when a SHA-256 is set).
    pub completed: bool,
}

/// Progress of a whole job (`BG_JOB_PROGRESS` plus rate and ETA).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JobProgress {
    /// Sum of the files' sizes, `None` until every size is known.
    pub bytes_total: Option<u64>,
    /// Bytes transferred over all files.
    pub bytes_transferred: u64,
    /// Number of files in the job.
    pub files_total: u32,
    /// Number of files completely transferred.
    pub files_transferred: u32,
    /// Smoothed transfer rate; 0 when not transferring.
    pub bytes_per_second: u64,
    /// Estimated seconds to go, `None` when it cannot be estimated.
    pub eta_seconds: Option<u64>,
}

/// `GetStatus`: the job's status flags and its last error's numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JobStatus {
    /// Every file is transferred (`QM_STATUS_JOB_COMPLETE`, else `_INCOMPLETE`).
    pub complete: bool,
    /// In ERROR or TRANSIENT_ERROR (`QM_STATUS_JOB_ERROR`).
    pub error: bool,
    /// Priority is FOREGROUND (`QM_STATUS_JOB_FOREGROUND`).
    pub foreground: bool,
    /// The Win32 error of the last error, 0 if none or not a Win32 error.
    pub win32_result: u32,
    /// The last HTTP status of the last error, 0 if none.
    pub transport_result: u32,
    /// How many times the job has been retried after a transient error.
    pub num_retries: u32,
}

impl JobStatus {
    /// `QM_STATUS_JOB_COMPLETE`.
    pub const JOB_COMPLETE: u32 = 0x4;
    /// `QM_STATUS_JOB_INCOMPLETE`.
    pub const JOB_INCOMPLETE: u32 = 0x8;
    /// `QM_STATUS_JOB_ERROR`.
    pub const JOB_ERROR: u32 = 0x10;
    /// `QM_STATUS_JOB_FOREGROUND`.
    pub const JOB_FOREGROUND: u32 = 0x20;

    /// The `QM_STATUS_JOB_*` bit set that `qm_job_get_status` reports.
    pub fn flags(&self) -> u32 {
        let mut flags = if self.complete {
            Self::JOB_COMPLETE
        } else {
            Self::JOB_INCOMPLETE
        };
        if self.error {
            flags |= Self::JOB_ERROR;
        }
        if self.foreground {
            flags |= Self::JOB_FOREGROUND;
        }
        flags
    }
}

/// A job's last error, as `qm_job_get_error` and `_get_error_description` report it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobError {
    /// The HRESULT.
    pub code: HResult,
    /// Where it happened.
    pub context: ErrorContext,
    /// The file being transferred, `None` for errors of the whole job.
    pub file_index: Option<u32>,
    /// The HTTP status involved, 0 if none.
    pub http_status: u16,
    /// What happened, in words, with the URL, path or offset.
    pub description: String,
}

/// Creation, modification and completion times of a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JobTimes {
    /// When the job was created.
    pub creation: SystemTime,
    /// When the job last changed (state, files or properties).
    pub modification: SystemTime,
    /// When the last file finished transferring, `None` until then.
    pub transfer_completion: Option<SystemTime>,
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
    fn epoch_milliseconds_round_trip() {
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(from_epoch_ms(epoch_ms(t)), t);
        assert_eq!(from_epoch_ms(-5), UNIX_EPOCH);
    }
}
