//! The rows of the state directory as plain values: what the store writes
//! and reads, whichever store the build has.

use crate::engine::model::file::DeltaFile;
use crate::engine::model::ranges::FileRanges;
use crate::engine::transport::options::HttpOptions;
use crate::engine::transport::validator::Validator;

/// A stored job with its files.
pub(crate) type StoredRows = (JobRecord, Vec<FileRecord>);

/// One job as stored.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct JobRecord {
    pub id: [u8; 16],
    /// Who the job belongs to (`owner_uid`, `owner_gid`; schema 7). A row
    /// without one is skipped: it is never run with the process's rights.
    pub owner: crate::engine::types::Owner,
    pub created_order: u64,
    pub display_name: String,
    pub description: String,
    pub state: u32,
    pub priority: u32,
    pub retry_delay: u32,
    pub no_progress_timeout: u32,
    pub notify_flags: u32,
    pub max_bandwidth: u64,
    pub num_retries: u32,
    pub queue_seq: u64,
    pub created_ms: i64,
    pub modified_ms: i64,
    pub completed_ms: Option<i64>,
    /// When a job in TRANSIENT_ERROR retries (ms since the epoch); `None`
    /// in any other state.
    pub retry_ms: Option<i64>,
    /// code, context, file index, HTTP status, description
    pub error: Option<(i32, u32, Option<u32>, u16, String)>,
    /// The HTTP options (JSON in the row). A row whose options do not read
    /// is skipped, never loaded with defaults (no CA file, the silent
    /// redirect policy): see [`HttpOptions::from_json`].
    pub http_options: HttpOptions,
    pub max_download_size: u64,
    /// Bytes per second and seconds.
    pub low_speed_limit: (u64, u32),
    pub committing: bool,
    pub max_connections: u32,
    pub max_download_time: u32,
    pub dynamic_content: bool,
    /// On unless turned off (schema 8; a row of an older directory is on).
    pub yielding: bool,
    /// The notify program and its parameters.
    pub notify_cmdline: Option<(String, Option<String>)>,
    pub min_notification_interval: u32,
    /// The job's type (schema 10; a row of an older directory is a download).
    pub kind: crate::engine::types::JobType,
    /// An upload job's protocol, resume state and reply (JSON in SQLite).
    pub upload: Option<crate::engine::model::job::UploadJob>,
}

/// One file as stored.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FileRecord {
    pub index: u32,
    pub remote: String,
    pub local: String,
    pub size_hint: u64,
    pub temp: Option<String>,
    /// What identified the version being fetched (JSON in SQLite).
    pub validator: Option<Validator>,
    pub sha256: Option<[u8; 32]>,
    pub total: Option<u64>,
    /// The byte ranges known to be on disk in the temporary file.
    pub durable: String,
    /// The byte ranges the caller wants, `None` for the whole file.
    pub wanted: Option<FileRanges>,
    pub completed: bool,
    pub committed: bool,
    /// The delta download's seeds, control file and state (JSON in SQLite).
    pub delta: Option<DeltaFile>,
}

/// What a state directory held: the jobs that could be read, and a
/// sentence for each job row that could not (those rows stay in the
/// database, untouched).
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    pub jobs: Vec<StoredRows>,
    pub skipped: Vec<String>,
}
