//! What the runtime tells a job's model (commands) and what the model asks
//! the runtime to do in return (effects).
//!
//! Commands come from three places: the caller's API calls (add, resume,
//! suspend, setters, the steps of cancel and complete), the scheduler
//! (start, preempt, retry due) and the worker (pieces opened, bytes
//! arrived or made durable, files done, the run's end). Effects are data:
//! which rows to persist, which notifications to send, whom to wake, and
//! whether the running transfer must be stopped. The runtime carries them
//! out after it has released the job's lock.

use std::ops::Range;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use crate::engine::model::ledger::{RangeSet, Span};
use crate::engine::model::ranges::FileRanges;
use crate::engine::transport::error::TransferError;
use crate::engine::transport::options::ProxySetting;
use crate::engine::transport::source::Source;
use crate::engine::transport::validator::Validator;
use crate::engine::types::{NotifyCmdLine, NotifyEvent, NotifyFlags, Priority};

/// The time a command happens at: both clocks, read once by the runtime,
/// so that the model itself never reads a clock and tests can set any time.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    /// For durations: retry times, the no-progress window.
    pub now: Instant,
    /// For the times the caller reads: creation, modification, completion.
    pub wall: SystemTime,
}

impl Clock {
    /// The current time.
    pub(crate) fn now() -> Clock {
        Clock {
            now: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    /// This clock `by` later.
    #[cfg(test)]
    pub(crate) fn later(self, by: Duration) -> Clock {
        Clock {
            now: self.now + by,
            wall: self.wall + by,
        }
    }
}

/// A file to append to a job, already checked and parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NewFile {
    /// The remote name as the caller gave it.
    pub remote: String,
    /// What the remote name means.
    pub source: Source,
    /// The absolute destination path.
    pub local: PathBuf,
    /// The caller's size hint, 0 for none.
    pub size_hint: u64,
    /// The ranges of the remote file to fetch, `None` for the whole file.
    pub ranges: Option<FileRanges>,
}

/// A job property the caller sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Property {
    Priority(Priority),
    DisplayName(String),
    Description(String),
    /// Seconds; raised to at least 1.
    RetryDelay(u32),
    /// Seconds; 0 makes the first error final.
    NoProgressTimeout(u32),
    NotifyFlags(NotifyFlags),
    /// Bytes per second, 0 for none.
    MaxBandwidth(u64),
    /// The text as given and its parsed lines, or none.
    CustomHeaders(Option<(String, Vec<(String, String)>)>),
    Credentials(Option<(String, String)>),
    Proxy(ProxySetting),
    CaFile(Option<PathBuf>),
    ClientCertificate(Option<(PathBuf, PathBuf)>),
    StallTimeout(Duration),
    /// The redirect policy; already checked.
    SecurityFlags(crate::engine::types::SecurityFlags),
    /// The largest file the job may download, in bytes (0: no limit).
    MaxDownloadSize(u64),
    /// How many connections the job may use at once (at least 1).
    MaxConnections(u32),
    /// Seconds the job may spend CONNECTING or TRANSFERRING (0: no limit).
    MaxDownloadTime(u32),
    /// The server's content may change between requests: one request per
    /// file, no ranges, a restart from zero after any interruption.
    DynamicContent(bool),
    /// A background job gives way to other traffic: it slows when the
    /// queuing delay of its connections rises (on by default).
    Yielding(bool),
    /// The program run when the job is transferred or fails (`None`: none).
    NotifyCmdLine(Option<NotifyCmdLine>),
    /// The least time between two progress notifications (JOB_MODIFICATION
    /// while transferring), in milliseconds.
    MinNotificationInterval(u32),
    /// A transfer slower than `bytes_per_second` for `seconds` is given up
    /// as a transient timeout (either 0: off).
    LowSpeedLimit {
        bytes_per_second: u64,
        seconds: u32,
    },
    FileSha256 {
        index: u32,
        digest: Option<[u8; 32]>,
    },
    /// An upload job's protocol.
    UploadProtocol(crate::engine::types::UploadProtocol),
    /// Where an upload-reply job's reply goes (`None`: in memory).
    ReplyFileName(Option<PathBuf>),
    /// A file's seeds and control file (`None`: a plain download).
    #[cfg(feature = "delta")]
    FileDelta {
        index: u32,
        delta: Option<crate::engine::types::DeltaSource>,
    },
}

/// How a job ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Final {
    Acknowledged,
    Cancelled,
}

/// Identifies one worker run of a job (never reused within a manager).
pub(crate) type RunId = u64;

/// Identifies one piece handed to a connection (never reused within a job's
/// model): a connection's commands name it, so that a piece taken away (its
/// file restarted, its range not honoured) is recognised as stale.
pub(crate) type PieceId = u64;

/// One thing that happened to a job.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Command {
    // ----- the caller --------------------------------------------------
    /// `AddFiles`: append these files, all or none; `seq` is the job's
    /// place in the queue if a TRANSFERRED job goes back to it.
    AddFiles { files: Vec<NewFile>, seq: u64 },
    /// `Resume`; `seq` is the job's place in the queue if it is queued.
    Resume { seq: u64 },
    /// `ReplaceRemotePrefix` / `SetRemoteName`: these files get these
    /// remote names (already parsed), all or none. Their bytes are kept: the
    /// next request goes to the new name with the validator of the old one,
    /// so the same version resumes and another restarts the file.
    SetRemoteNames { names: Vec<(usize, String, Source)> },
    /// `Suspend`.
    Suspend,
    /// A setter.
    Set(Property),
    /// The first step of `cancel` and `complete`: stop the transfer and
    /// keep the scheduler away while the runtime deletes or renames files.
    BeginFinish,
    /// `complete` is about to rename files into place: recorded first, so
    /// that a crash between renames is recognised at the next open.
    CommitStarted,
    /// `complete` renamed these files into place; `failed` when a rename
    /// failed (the job then goes on as it was).
    Committed { done: Vec<usize>, failed: bool },
    /// The last step of `cancel` and `complete`: these files' temporary
    /// files were deleted; the job becomes final.
    Finish {
        outcome: Final,
        temps_removed: Vec<usize>,
    },
    /// The last step of `take_ownership` (after `BeginFinish` stopped the
    /// transfer): the job is `owner`'s from now on. The temporary files of
    /// `lost` could not be handed over to it: their bytes are fetched
    /// again (a TRANSFERRED job that loses one goes back to the queue at
    /// `seq`). A job that was active goes back to the queue in its place.
    TakeOwnership {
        owner: crate::engine::types::Owner,
        lost: Vec<usize>,
        seq: u64,
    },

    // ----- the scheduler -----------------------------------------------
    /// A retry time passed: a job in TRANSIENT_ERROR goes back to the queue.
    RetryDue { seq: u64 },
    /// The scheduler gives the job a transfer slot for run `run`; no more
    /// than `per_server` of its connections may go to one server.
    Start { run: RunId, per_server: usize },
    /// The transfer thread could not be started.
    StartFailed { error: TransferError },
    /// A job of higher priority needs this job's slot, or its time slice
    /// is over: back to the queue, in its place, or at `requeue` (the end
    /// of its priority's queue, after its slice).
    Preempt { requeue: Option<u64> },
    /// The scheduler's look at the clock: a job whose maximum download
    /// time has passed fails with `QM_BG_E_MAXDOWNLOAD_TIMEOUT`.
    TimeCheck,

    // ----- the worker --------------------------------------------------
    /// A connection of the worker wants the next piece to fetch (it is
    /// done with its last one). Answered in `Effects::piece` (or `wait`).
    NextPiece,
    /// The worker created a temporary file for `file`.
    TempCreated { file: usize, path: PathBuf },
    /// The source of piece `piece` of `file` opened: it serves from
    /// `start` (0 when it restarts), with this size and version; `ranges`
    /// when the server answers range requests. Answered in `Effects::piece`
    /// (`None`: the piece was taken away, drop the response).
    Opened {
        piece: PieceId,
        file: usize,
        start: u64,
        total: Option<u64>,
        validator: Option<Validator>,
        ranges: bool,
        /// The response's header lines, when the source has headers.
        headers: Option<String>,
    },
    /// The last answer for `file` came from `url` (the remote name itself,
    /// or where redirects led, followed or refused): a discovery, reported
    /// as the file's final URL, never its source.
    Redirected { file: usize, url: String },
    /// These bytes of piece `piece` were written to the temporary file.
    /// Answered in `Effects::piece`: where the piece now ends (another
    /// connection may have taken its second half), or `None` when it was
    /// taken away (the bytes are not recorded).
    Arrived {
        piece: PieceId,
        file: usize,
        range: Range<u64>,
    },
    /// The connection is done with `piece` (it reached its end, failed, or
    /// was taken away). `Effects::finalize` tells it to verify and keep the
    /// file: its last piece ended and every byte has arrived.
    PieceEnded { piece: PieceId },
    /// The temporary file holds only `len` bytes (the ledger said more):
    /// the ledger forgets what lies past it.
    TempCut { file: usize, len: u64 },
    /// These bytes were fsynced; the row recording them is to be written.
    Durable { file: usize, ranges: RangeSet },
    /// A body of unknown size ended after `len` bytes.
    Sized { file: usize, len: u64 },
    /// The file's data failed validation and was thrown away (its
    /// temporary file deleted when `temp_removed`): fetch it afresh.
    Discarded { file: usize, temp_removed: bool },
    /// Blocks of a delta file were copied from its seeds into its
    /// temporary file (`ranges`, written before this is said), matched
    /// against a control file of a target of `length` bytes with `sha1`.
    /// Empty `ranges` with `matched` set: the control file read again is
    /// the one the file's seeded bytes were matched against.
    #[cfg(feature = "delta")]
    DeltaSeeded {
        file: usize,
        ranges: RangeSet,
        matched: (u64, [u8; 20]),
    },
    /// A delta file becomes a full download, for `reason`: its bytes are
    /// forgotten and its pieces taken away.
    #[cfg(feature = "delta")]
    DeltaFallBack { file: usize, reason: String },
    /// Every byte of `file` arrived, was verified and is on disk.
    FileDone { file: usize },
    /// A rate window passed with progress.
    Progressed,
    /// An upload attempt's state, after the server created the upload or
    /// confirmed bytes: its confirmed offset is the file's progress.
    #[cfg_attr(not(feature = "upload"), allow(dead_code))]
    UploadConfirmed {
        state: crate::engine::transport::upload_state::UploadState,
    },
    /// An upload-reply job's reply arrived: `len` bytes, `data` when they
    /// went to memory, `file` when a reply meant for memory was too long
    /// for it and went to that reply file instead.
    #[cfg_attr(not(feature = "upload"), allow(dead_code))]
    ReplyReceived {
        data: Option<Vec<u8>>,
        len: u64,
        file: Option<std::path::PathBuf>,
    },
    /// Run `run` ended, with the failure that ended it if any.
    RunEnded {
        run: RunId,
        failure: Option<TransferError>,
    },
}

/// Which rows of a job to write to the state directory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Persist {
    /// The job's row.
    pub job: bool,
    /// These files' rows.
    pub files: Files,
}

/// A selection of a job's files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum Files {
    #[default]
    None,
    One(usize),
    All,
}

/// A piece for the worker: a stretch of one file, fetched by one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Piece {
    /// Which piece it is.
    pub id: PieceId,
    /// The file's index.
    pub file: usize,
    /// The stretch still to fetch: `start` moves up as bytes arrive, `end`
    /// moves down when another connection takes the second half.
    pub span: Span,
}

/// What the runtime must do after a command.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Effects {
    /// Rows to write (with a state directory).
    pub persist: Persist,
    /// Notifications, already filtered by the job's notify flags.
    pub events: Vec<NotifyEvent>,
    /// The job reached a settled state, or its run ended: wake `wait`ers.
    pub wake_waiters: bool,
    /// The scheduler has something to do.
    pub wake_scheduler: bool,
    /// The running transfer must stop (cancel its token).
    pub stop_run: bool,
    /// The job became final: drop it from the manager and the directory.
    pub forget: bool,
    /// For the connection that sent the command: the piece it fetches
    /// now (`NextPiece`: the next one, if any; `Opened`/`Arrived`: its
    /// piece as it now stands, `None` when it was taken away).
    pub piece: Option<Piece>,
    /// `NextPiece`: nothing to fetch yet, but ask again soon (a file's
    /// first answer will tell whether it can be split, or a restarted
    /// file waits for its old writers to stop).
    pub wait: bool,
    /// `PieceEnded`: every byte of the file has arrived and this was its
    /// last piece; the connection verifies and keeps the file.
    pub finalize: bool,
}
