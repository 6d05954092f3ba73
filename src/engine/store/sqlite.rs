//! The state directory in SQLite (the `state` feature).

use std::fs::{DirBuilder, File, OpenOptions, TryLockError};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OpenFlags};

use crate::engine::error::{Error, Result};
use crate::engine::model::file::DeltaFile;
use crate::engine::model::job::UploadJob;
use crate::engine::model::ranges::FileRanges;
use crate::engine::store::records::{FileRecord, JobRecord, Loaded};
use crate::engine::transport::options::HttpOptions;
use crate::engine::transport::upload_state::UploadState;
use crate::engine::transport::validator::Validator;
use crate::engine::types::{DeltaSource, DeltaWay};
use crate::engine::types::{JobType, UploadProtocol};
use crate::hresult::*;
use crate::sync::Mutex;

/// The schema, one step per version: `MIGRATIONS[i]` takes version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: jobs and their files.
    "CREATE TABLE jobs (
        id BLOB PRIMARY KEY,
        created_order INTEGER NOT NULL,
        display_name TEXT NOT NULL,
        description TEXT NOT NULL,
        state INTEGER NOT NULL,
        priority INTEGER NOT NULL,
        retry_delay INTEGER NOT NULL,
        no_progress_timeout INTEGER NOT NULL,
        notify_flags INTEGER NOT NULL,
        max_bandwidth INTEGER NOT NULL,
        num_retries INTEGER NOT NULL,
        queue_seq INTEGER NOT NULL,
        created_ms INTEGER NOT NULL,
        modified_ms INTEGER NOT NULL,
        completed_ms INTEGER,
        error_code INTEGER,
        error_context INTEGER NOT NULL DEFAULT 0,
        error_file INTEGER,
        error_http INTEGER NOT NULL DEFAULT 0,
        error_text TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE files (
        job_id BLOB NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        remote TEXT NOT NULL,
        local TEXT NOT NULL,
        size_hint INTEGER NOT NULL,
        temp TEXT,
        validator TEXT,
        sha256 BLOB,
        total INTEGER,
        durable INTEGER NOT NULL DEFAULT 0,
        completed INTEGER NOT NULL DEFAULT 0,
        committed INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (job_id, idx)
    );",
    // 2: per-job HTTP options (headers, credentials, proxy, TLS files, stall timeout).
    "ALTER TABLE jobs ADD COLUMN http_options TEXT NOT NULL DEFAULT '{}';",
    // 3: a ledger of byte ranges per file instead of one durable offset
    // (`start-end` pairs, end exclusive), and the ranges the caller wants
    // (NULL: the whole file). A 0.1 directory's offset becomes one range.
    // Also the job's transfer limits, and whether a `complete` was renaming.
    "ALTER TABLE files ADD COLUMN durable_ranges TEXT NOT NULL DEFAULT '';
     ALTER TABLE files ADD COLUMN wanted_ranges TEXT;
     UPDATE files SET durable_ranges = '0-' || durable WHERE durable > 0;
     ALTER TABLE files DROP COLUMN durable;
     ALTER TABLE jobs ADD COLUMN max_download_size INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE jobs ADD COLUMN low_speed_bytes INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE jobs ADD COLUMN low_speed_seconds INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE jobs ADD COLUMN committing INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE jobs ADD COLUMN max_connections INTEGER NOT NULL DEFAULT 6;",
    // 4: the job's maximum download time (BITS's default, 90 days) and
    // whether its content is dynamic.
    "ALTER TABLE jobs ADD COLUMN max_download_time INTEGER NOT NULL DEFAULT 7776000;
     ALTER TABLE jobs ADD COLUMN dynamic_content INTEGER NOT NULL DEFAULT 0;",
    // 5: the notify command line (program NULL: none) and the least time
    // between progress notifications (BITS's default, 500 ms).
    "ALTER TABLE jobs ADD COLUMN notify_program TEXT;
     ALTER TABLE jobs ADD COLUMN notify_parameters TEXT;
     ALTER TABLE jobs ADD COLUMN min_notification_interval INTEGER NOT NULL DEFAULT 500;",
    // 6: when a job in TRANSIENT_ERROR retries (ms since the epoch; NULL in
    // other states), so that it is reopened in TRANSIENT_ERROR, with its
    // error, until then (a job stored retrying without it retries at once).
    "ALTER TABLE jobs ADD COLUMN retry_ms INTEGER;",
    // 7: who the job belongs to (a user and a group id): whose rights its
    // files are touched with. The jobs of an older directory are its
    // opener's (the process's effective ids; see `fill_in`).
    "ALTER TABLE jobs ADD COLUMN owner_uid INTEGER;
     ALTER TABLE jobs ADD COLUMN owner_gid INTEGER;",
    // 8: whether a background job yields to other traffic (on unless
    // turned off: the jobs of an older directory yield).
    "ALTER TABLE jobs ADD COLUMN yielding INTEGER NOT NULL DEFAULT 1;",
    // 9: a file's delta download (seeds, control file, which way it went,
    // the bytes from the seeds) as JSON; NULL: a plain download.
    "ALTER TABLE files ADD COLUMN delta TEXT;",
    // 10: the job's type (`BG_JOB_TYPE`: the jobs of an older directory
    // are downloads) and an upload job's protocol, resume state and reply
    // as JSON (NULL: a download).
    "ALTER TABLE jobs ADD COLUMN job_type INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE jobs ADD COLUMN upload TEXT;",
];

/// What a migration cannot say in SQL: the values of the process that
/// runs it. After migration 7, every job without an owner gets the
/// process's effective uid and gid (whoever opens a directory of an older
/// qmgr owned its jobs: the directory must be that user's).
fn fill_in(tx: &rusqlite::Transaction<'_>, version: u32) -> rusqlite::Result<()> {
    if version == 7 {
        let (uid, gid) = crate::sys::effective_ids();
        tx.execute(
            "UPDATE jobs SET owner_uid = ?1, owner_gid = ?2 WHERE owner_uid IS NULL",
            params![uid, gid],
        )?;
    }
    Ok(())
}

/// The columns of `jobs`, in the order of [`JobRecord::values`]; the first
/// is the key, and `IMMUTABLE_JOB_COLUMNS` are never updated.
const JOB_COLUMNS: [&str; 37] = [
    "id",
    "created_order",
    "display_name",
    "description",
    "state",
    "priority",
    "retry_delay",
    "no_progress_timeout",
    "notify_flags",
    "max_bandwidth",
    "num_retries",
    "queue_seq",
    "created_ms",
    "modified_ms",
    "completed_ms",
    "error_code",
    "error_context",
    "error_file",
    "error_http",
    "error_text",
    "http_options",
    "max_download_size",
    "low_speed_bytes",
    "low_speed_seconds",
    "committing",
    "max_connections",
    "max_download_time",
    "dynamic_content",
    "notify_program",
    "notify_parameters",
    "min_notification_interval",
    "retry_ms",
    "owner_uid",
    "owner_gid",
    "yielding",
    "job_type",
    "upload",
];
const IMMUTABLE_JOB_COLUMNS: [&str; 3] = ["id", "created_order", "created_ms"];

/// The columns of `files`, in the order of [`FileRecord::values`]; the
/// first two are the key.
const FILE_COLUMNS: [&str; 14] = [
    "job_id",
    "idx",
    "remote",
    "local",
    "size_hint",
    "temp",
    "validator",
    "sha256",
    "total",
    "durable_ranges",
    "wanted_ranges",
    "completed",
    "committed",
    "delta",
];
const FILE_KEY_COLUMNS: [&str; 2] = ["job_id", "idx"];

/// `INSERT … ON CONFLICT(key) DO UPDATE SET` every column but `fixed`.
fn upsert_sql(table: &str, columns: &[&str], key: &[&str], fixed: &[&str]) -> String {
    let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
    let updates: Vec<String> = columns
        .iter()
        .filter(|c| !fixed.contains(c) && !key.contains(c))
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT({}) DO UPDATE SET {}",
        columns.join(", "),
        placeholders.join(", "),
        key.join(", "),
        updates.join(", ")
    )
}

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// A text column that may be NULL.
fn opt_text(text: Option<&String>) -> Value {
    text.map_or(Value::Null, |t| Value::Text(t.clone()))
}

impl JobRecord {
    /// The values of `JOB_COLUMNS`, in order.
    fn values(&self) -> [Value; 37] {
        let (code, context, file, http, text) = match &self.error {
            Some((code, context, file, http, text)) => {
                (Some(*code), *context, *file, *http, text.clone())
            }
            None => (None, 0, None, 0, String::new()),
        };
        [
            Value::Blob(self.id.to_vec()),
            int(self.created_order),
            Value::Text(self.display_name.clone()),
            Value::Text(self.description.clone()),
            int(self.state),
            int(self.priority),
            int(self.retry_delay),
            int(self.no_progress_timeout),
            int(self.notify_flags),
            int(self.max_bandwidth),
            int(self.num_retries),
            int(self.queue_seq),
            Value::Integer(self.created_ms),
            Value::Integer(self.modified_ms),
            self.completed_ms.map_or(Value::Null, Value::Integer),
            code.map_or(Value::Null, |c| Value::Integer(c.into())),
            int(context),
            file.map_or(Value::Null, int),
            int(http),
            Value::Text(text),
            Value::Text(self.http_options.to_json()),
            int(self.max_download_size),
            int(self.low_speed_limit.0),
            int(self.low_speed_limit.1),
            Value::Integer(self.committing.into()),
            int(self.max_connections),
            int(self.max_download_time),
            Value::Integer(self.dynamic_content.into()),
            opt_text(self.notify_cmdline.as_ref().map(|(p, _)| p)),
            opt_text(self.notify_cmdline.as_ref().and_then(|(_, a)| a.as_ref())),
            int(self.min_notification_interval),
            self.retry_ms.map_or(Value::Null, Value::Integer),
            int(self.owner.uid),
            int(self.owner.gid),
            Value::Integer(self.yielding.into()),
            int(self.kind as u32),
            self.upload
                .as_ref()
                .map_or(Value::Null, |u| Value::Text(upload_json(u))),
        ]
    }

    fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<JobRecord> {
        let id: Vec<u8> = r.get("id")?;
        let error_code: Option<i32> = r.get("error_code")?;
        Ok(JobRecord {
            id: id.try_into().unwrap_or([0; 16]),
            owner: owner_of(r)?,
            created_order: r.get::<_, i64>("created_order")? as u64,
            display_name: r.get("display_name")?,
            description: r.get("description")?,
            state: r.get("state")?,
            priority: r.get("priority")?,
            retry_delay: r.get("retry_delay")?,
            no_progress_timeout: r.get("no_progress_timeout")?,
            notify_flags: r.get("notify_flags")?,
            max_bandwidth: r.get::<_, i64>("max_bandwidth")? as u64,
            num_retries: r.get("num_retries")?,
            queue_seq: r.get::<_, i64>("queue_seq")? as u64,
            created_ms: r.get("created_ms")?,
            modified_ms: r.get("modified_ms")?,
            completed_ms: r.get("completed_ms")?,
            error: match error_code {
                Some(code) => Some((
                    code,
                    r.get("error_context")?,
                    r.get("error_file")?,
                    r.get("error_http")?,
                    r.get("error_text")?,
                )),
                None => None,
            },
            http_options: {
                // Options that do not read make the row (and so its job)
                // unreadable: run with defaults, it would lose its CA file
                // and redirect policy.
                let column = r.as_ref().column_index("http_options")?;
                HttpOptions::from_json(&r.get::<_, String>(column)?).map_err(|why| {
                    rusqlite::Error::FromSqlConversionFailure(
                        column,
                        rusqlite::types::Type::Text,
                        format!(
                            "its stored HTTP options (CA file, redirect policy, proxy, \
                             headers, credentials) cannot be read: {why}; it is not run \
                             with defaults in their place"
                        )
                        .into(),
                    )
                })?
            },
            max_download_size: r.get::<_, i64>("max_download_size")? as u64,
            low_speed_limit: (
                r.get::<_, i64>("low_speed_bytes")? as u64,
                r.get("low_speed_seconds")?,
            ),
            committing: r.get("committing")?,
            max_connections: r.get("max_connections")?,
            max_download_time: r.get("max_download_time")?,
            dynamic_content: r.get("dynamic_content")?,
            yielding: r.get("yielding")?,
            notify_cmdline: r
                .get::<_, Option<String>>("notify_program")?
                .map(|program| Ok::<_, rusqlite::Error>((program, r.get("notify_parameters")?)))
                .transpose()?,
            min_notification_interval: r.get("min_notification_interval")?,
            retry_ms: r.get("retry_ms")?,
            kind: {
                let column = r.as_ref().column_index("job_type")?;
                let n: u32 = r.get(column)?;
                JobType::from_u32(n).ok_or_else(|| {
                    bad_column(column, format!("its job type {n} is unknown to this qmgr"))
                })?
            },
            upload: {
                let column = r.as_ref().column_index("upload")?;
                r.get::<_, Option<String>>(column)?
                    .map(|text| {
                        upload_from_json(&text).ok_or_else(|| {
                            bad_column(column, "its upload state cannot be read".into())
                        })
                    })
                    .transpose()?
            },
        })
    }
}

/// A column that does not read: its row (and so its job) is skipped.
fn bad_column(column: usize, why: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, why.into())
}

/// An upload job's settings and state as stored.
fn upload_json(u: &UploadJob) -> String {
    use base64::Engine;
    let s = u.state.as_ref();
    serde_json::json!({
        "protocol": u.protocol.name(),
        "url": s.and_then(|s| s.upload_url.as_ref()),
        "confirmed": s.map(|s| s.confirmed),
        "size": s.map(|s| s.file_size),
        "mtime_ns": s.map(|s| s.file_mtime_ns.to_string()),
        "expires_ms": s.and_then(|s| s.expires).map(crate::engine::types::epoch_ms),
        "max_append": s.and_then(|s| s.max_append),
        "reply_file": u.reply_file,
        "reply": u.reply.as_ref().map(|r| base64::engine::general_purpose::STANDARD.encode(r)),
        "reply_len": u.reply_len,
    })
    .to_string()
}

/// What `upload_json` wrote; `None` if it does not read.
fn upload_from_json(text: &str) -> Option<UploadJob> {
    use base64::Engine;
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let protocol = UploadProtocol::from_name(v["protocol"].as_str()?)?;
    let state = match v["size"].as_u64() {
        None => None,
        Some(file_size) => Some(UploadState {
            protocol,
            upload_url: v["url"].as_str().map(String::from),
            confirmed: v["confirmed"].as_u64()?,
            file_size,
            file_mtime_ns: v["mtime_ns"].as_str()?.parse().ok()?,
            expires: v["expires_ms"]
                .as_i64()
                .map(crate::engine::types::from_epoch_ms),
            max_append: v["max_append"].as_u64(),
        }),
    };
    let reply = match v["reply"].as_str() {
        None => None,
        Some(b) => Some(base64::engine::general_purpose::STANDARD.decode(b).ok()?),
    };
    Some(UploadJob {
        protocol,
        state,
        reply_file: v["reply_file"].as_str().map(PathBuf::from),
        reply,
        reply_len: v["reply_len"].as_u64(),
    })
}

/// A job row's owner. A row without one, or with an id that is not a
/// user or group id, does not read: its job is skipped, never run with
/// the process's rights in its owner's place.
fn owner_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<crate::engine::types::Owner> {
    let id = |name: &str| -> rusqlite::Result<u32> {
        let column = r.as_ref().column_index(name)?;
        let bad = |why: String| {
            rusqlite::Error::FromSqlConversionFailure(
                column,
                rusqlite::types::Type::Integer,
                why.into(),
            )
        };
        match r.get::<_, Option<i64>>(column)? {
            None => Err(bad(format!(
                "its owner is not recorded ({name} is NULL); it is not run with this process's rights"
            ))),
            Some(n) => u32::try_from(n)
                .ok()
                .filter(|&n| n != u32::MAX)
                .ok_or_else(|| bad(format!("its {name} {n} is not an id"))),
        }
    };
    Ok(crate::engine::types::Owner {
        uid: id("owner_uid")?,
        gid: id("owner_gid")?,
    })
}

impl FileRecord {
    /// The values of `FILE_COLUMNS`, in order.
    fn values(&self, job: &[u8; 16]) -> [Value; 14] {
        let text = |t: &Option<String>| t.clone().map_or(Value::Null, Value::Text);
        [
            Value::Blob(job.to_vec()),
            int(self.index),
            Value::Text(self.remote.clone()),
            Value::Text(self.local.clone()),
            int(self.size_hint),
            text(&self.temp),
            self.validator
                .as_ref()
                .map_or(Value::Null, |v| Value::Text(v.to_json())),
            self.sha256.map_or(Value::Null, |d| Value::Blob(d.to_vec())),
            self.total.map_or(Value::Null, int),
            Value::Text(self.durable.clone()),
            self.wanted
                .as_ref()
                .map_or(Value::Null, |r| Value::Text(r.to_string())),
            Value::Integer(self.completed.into()),
            Value::Integer(self.committed.into()),
            // A build without delta downloads keeps none (a file's seeded
            // bytes are then of no known version: fetched again).
            self.delta
                .as_ref()
                .filter(|_| cfg!(feature = "delta"))
                .map_or(Value::Null, |d| Value::Text(delta_json(d))),
        ]
    }

    fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FileRecord> {
        let sha: Option<Vec<u8>> = r.get("sha256")?;
        let index: u32 = r.get("idx")?;
        // A ranged file fetched whole would be the wrong bytes: ranges that
        // do not parse make the row (and so its job) unreadable.
        let column = r.as_ref().column_index("wanted_ranges")?;
        let wanted = r
            .get::<_, Option<String>>(column)?
            .map(|text| {
                text.parse::<FileRanges>().map_err(|why| {
                    rusqlite::Error::FromSqlConversionFailure(
                        column,
                        rusqlite::types::Type::Text,
                        format!("file {index} has unreadable ranges: {why}").into(),
                    )
                })
            })
            .transpose()?;
        Ok(FileRecord {
            index,
            remote: r.get("remote")?,
            local: r.get("local")?,
            size_hint: r.get::<_, i64>("size_hint")? as u64,
            temp: r.get("temp")?,
            validator: r
                .get::<_, Option<String>>("validator")?
                .as_deref()
                .and_then(Validator::from_json),
            sha256: sha.and_then(|s| s.try_into().ok()),
            total: r.get::<_, Option<i64>>("total")?.map(|t| t as u64),
            durable: r.get("durable_ranges")?,
            wanted,
            completed: r.get("completed")?,
            committed: r.get("committed")?,
            delta: r
                .get::<_, Option<String>>("delta")?
                .filter(|_| cfg!(feature = "delta"))
                .map(|text| {
                    delta_from_json(&text).ok_or_else(|| {
                        rusqlite::Error::FromSqlConversionFailure(
                            0,
                            rusqlite::types::Type::Text,
                            format!("file {index} has an unreadable delta download").into(),
                        )
                    })
                })
                .transpose()?,
        })
    }
}

/// A file's delta download as stored.
fn delta_json(d: &DeltaFile) -> String {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    serde_json::json!({
        "seeds": d.source.seeds.iter().map(|p| p.to_string_lossy()).collect::<Vec<_>>(),
        "control_url": d.source.control_url,
        "way": d.way as u32,
        "reason": d.reason,
        "length": d.matched.map(|m| m.0),
        "sha1": d.matched.map(|m| hex(&m.1)),
        "seeded": d.seeded.to_string(),
    })
    .to_string()
}

/// What `delta_json` wrote; `None` if it does not read.
fn delta_from_json(text: &str) -> Option<DeltaFile> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let seeds = v["seeds"]
        .as_array()?
        .iter()
        .map(|s| s.as_str().map(PathBuf::from))
        .collect::<Option<Vec<_>>>()?;
    let sha1 = match v["sha1"].as_str() {
        None => None,
        Some(h) if h.len() == 40 && h.is_ascii() => {
            let mut out = [0u8; 20];
            for (i, b) in out.iter_mut().enumerate() {
                *b = u8::from_str_radix(&h[2 * i..2 * i + 2], 16).ok()?;
            }
            Some(out)
        }
        Some(_) => return None,
    };
    Some(DeltaFile {
        source: DeltaSource {
            seeds,
            control_url: v["control_url"].as_str().map(String::from),
        },
        way: DeltaWay::from_u32(u32::try_from(v["way"].as_u64()?).ok()?)?,
        reason: v["reason"].as_str().unwrap_or_default().to_string(),
        matched: v["length"].as_u64().zip(sha1),
        seeded: v["seeded"].as_str().unwrap_or_default().parse().ok()?,
    })
}

/// An unsigned number as SQLite's signed integer (sizes stay below 2^63).
fn int(n: impl Into<u64>) -> Value {
    Value::Integer(n.into() as i64)
}

/// An open state directory: the database and the lock that keeps other
/// managers out while it is open.
pub(crate) struct Store {
    /// `None` once closed: writes are then ignored.
    db: Mutex<Option<Connection>>,
    dir: PathBuf,
    /// Holds the exclusive lock until the store is closed.
    lock: Mutex<Option<File>>,
}

impl Drop for Store {
    fn drop(&mut self) {
        release(self.lock.lock().take());
    }
}

/// Unlocks the directory's lock file before closing it. Closing alone is
/// not enough: a child process that the host forked (or posix_spawn's
/// clone) in the meantime holds a copy of the descriptor, and with it the
/// `flock`, until it calls exec; an explicit unlock releases the lock of
/// every copy at once, so the next opener is never refused by accident.
fn release(lock: Option<File>) {
    if let Some(file) = lock {
        let _ = file.unlock();
    }
}

fn db_error(what: &str, err: rusqlite::Error) -> Error {
    let code = match err.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DiskFull) => QM_E_DISK_FULL,
        Some(rusqlite::ErrorCode::PermissionDenied) | Some(rusqlite::ErrorCode::ReadOnly) => {
            QM_E_ACCESSDENIED
        }
        Some(rusqlite::ErrorCode::DatabaseBusy) | Some(rusqlite::ErrorCode::DatabaseLocked) => {
            QM_E_SHARING_VIOLATION
        }
        _ => QM_E_FAIL,
    };
    Error::new(code, format!("state database: {what}: {err}"))
}

fn io_error(what: &str, path: &Path, err: std::io::Error) -> Error {
    Error {
        code: HResult::from_io_error(&err),
        message: format!("{what} '{}': {err}", path.display()),
    }
}

/// Refuses a state directory that another user owns or that others may
/// write to (as ssh does with `~/.ssh`): whoever can write there can plant
/// jobs that download to any path this user may write.
fn check_trusted(dir: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(dir)
        .map_err(|e| io_error("cannot inspect the state directory", dir, e))?;
    if !meta.is_dir() {
        return Err(Error::invalid_arg(format!(
            "the state directory '{}' is not a directory",
            dir.display()
        )));
    }
    let me = crate::sys::effective_uid();
    if meta.uid() != me {
        return Err(Error::new(
            QM_E_ACCESSDENIED,
            format!(
                "the state directory '{}' belongs to user {}, not to this user ({me})",
                dir.display(),
                meta.uid()
            ),
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(Error::new(
            QM_E_ACCESSDENIED,
            format!(
                "the state directory '{}' may be written by others (mode {:o}); make it 0700",
                dir.display(),
                meta.mode() & 0o777
            ),
        ));
    }
    Ok(())
}

/// Refuses a lock or database file that is itself a symbolic link: qmgr
/// locks and opens only files of its own in the directory.
fn refuse_link(path: &Path, what: &str) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(Error::new(
            QM_E_ACCESSDENIED,
            format!(
                "the {what} '{}' is a symbolic link; qmgr opens only a {what} of its own \
                 (the state directory itself may be reached through links)",
                path.display()
            ),
        )),
        _ => Ok(()),
    }
}

/// Why a state directory cannot be made when `dir` is a symbolic link to
/// nothing, in words that name where it points.
fn dangling_link(dir: &Path) -> Option<Error> {
    let target = std::fs::read_link(dir).ok()?;
    std::fs::metadata(dir).is_err().then(|| {
        Error::new(
            QM_E_PATH_NOT_FOUND,
            format!(
                "the state directory '{}' is a symbolic link to '{}', which does not exist",
                dir.display(),
                target.display()
            ),
        )
    })
}

impl Store {
    /// Opens (creating if needed, mode 0700) a state directory, takes its
    /// lock (`QM_E_SHARING_VIOLATION` if another manager holds it), and
    /// brings its database to the current schema. Returns the stored jobs
    /// with their files, in creation order. The directory may be reached
    /// through symbolic links (it is resolved once, and locked and opened
    /// by its real path); its `qmgr.lock` and `qmgr.db` may not be links.
    pub(crate) fn open(dir: &Path) -> Result<(Store, Loaded)> {
        if !dir.is_absolute() {
            return Err(Error::invalid_arg(format!(
                "the state directory '{}' is not an absolute path",
                dir.display()
            )));
        }
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| match dangling_link(dir) {
                Some(why) => why,
                None => io_error("cannot create the state directory", dir, e),
            })?;
        // Resolved once: SQLite's NOFOLLOW refuses a path with a symbolic
        // link anywhere in it (a device whose /var/lib is a link to a data
        // partition), and the lock and the database must be the same files
        // whether the directory is reached by a link or by its real path.
        let real = std::fs::canonicalize(dir)
            .map_err(|e| io_error("cannot resolve the state directory", dir, e))?;
        let named = if real == dir {
            format!("'{}'", dir.display())
        } else {
            format!("'{}' (really '{}')", dir.display(), real.display())
        };
        let dir_name = dir;
        let dir = real.as_path();
        check_trusted(dir)?;
        let lock_path = dir.join("qmgr.lock");
        refuse_link(&lock_path, "lock file")?;
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&lock_path)
            .map_err(|e| io_error("cannot open the lock file", &lock_path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(Error::new(
                    QM_E_SHARING_VIOLATION,
                    format!("the state directory {named} is in use by another manager"),
                ))
            }
            Err(TryLockError::Error(e)) => return Err(io_error("cannot lock", &lock_path, e)),
        }
        let db_path = dir.join("qmgr.db");
        refuse_link(&db_path, "database file")?;
        let fresh = std::fs::symlink_metadata(&db_path).is_err();
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_NOFOLLOW;
        let mut db =
            Connection::open_with_flags(&db_path, flags).map_err(|e| db_error("open", e))?;
        if fresh {
            // SQLite gives its -wal and -shm files the database's mode.
            std::fs::set_permissions(&db_path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| io_error("cannot protect", &db_path, e))?;
        }
        db.execute_batch(
            // temp_store: no temporary file is ever opened once the
            // directory is open, so that a thread acting with a job
            // owner's filesystem rights can write rows (sys::owner_rights).
            // cache_size: 512 KiB of pages, not SQLite's 2 MiB; qmgr writes
            // rows far more than it reads them, and a long-running qmgrd
            // kept a full cache of a directory that once held many jobs.
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;
             PRAGMA temp_store = MEMORY; PRAGMA cache_size = -512;",
        )
        .map_err(|e| db_error("configure", e))?;
        migrate(&mut db)?;
        let loaded = load(&db)?;
        // One write now, with the opener's rights: SQLite fsyncs the
        // directory at the first sync of a new WAL file, and opens it for
        // that then. On a thread acting with a job owner's rights
        // (`sys::owner_rights`), that open could be refused, and SQLite
        // skips a directory sync it cannot open without a word.
        set_user_version(&db, SCHEMA_VERSION).map_err(|e| db_error("write", e))?;
        Ok((
            Store {
                db: Mutex::new(Some(db)),
                dir: dir_name.to_path_buf(),
                lock: Mutex::new(Some(lock)),
            },
            loaded,
        ))
    }

    /// The state directory, as the caller named it.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Closes the database and releases the directory for the next opener.
    pub(crate) fn close(&self) {
        self.db.lock().take();
        release(self.lock.lock().take());
    }

    /// Runs `f` in a transaction, unless the store is closed.
    fn write(
        &self,
        what: &str,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<()>,
    ) -> Result<()> {
        let mut db = self.db.lock();
        let Some(db) = db.as_mut() else { return Ok(()) };
        let tx = db.transaction().map_err(|e| db_error(what, e))?;
        f(&tx)?;
        tx.commit().map_err(|e| db_error(what, e))
    }

    /// Writes a job's row (when given) and these rows of its files, in one
    /// transaction.
    pub(crate) fn save(
        &self,
        id: &[u8; 16],
        job: Option<&JobRecord>,
        files: &[FileRecord],
    ) -> Result<()> {
        self.write("save job", |tx| {
            static JOB_UPSERT: OnceLock<String> = OnceLock::new();
            static FILE_UPSERT: OnceLock<String> = OnceLock::new();
            if let Some(job) = job {
                let sql = JOB_UPSERT.get_or_init(|| {
                    upsert_sql("jobs", &JOB_COLUMNS, &["id"], &IMMUTABLE_JOB_COLUMNS)
                });
                tx.prepare_cached(sql)
                    .and_then(|mut stmt| stmt.execute(params_from_iter(job.values())))
                    .map_err(|e| db_error("save job", e))?;
            }
            if !files.is_empty() {
                let sql = FILE_UPSERT
                    .get_or_init(|| upsert_sql("files", &FILE_COLUMNS, &FILE_KEY_COLUMNS, &[]));
                let mut stmt = tx
                    .prepare_cached(sql)
                    .map_err(|e| db_error("save file", e))?;
                for file in files {
                    stmt.execute(params_from_iter(file.values(id)))
                        .map_err(|e| db_error("save file", e))?;
                }
            }
            Ok(())
        })
    }

    /// Removes a job that became final.
    pub(crate) fn delete_job(&self, id: &[u8; 16]) -> Result<()> {
        self.write("delete job", |tx| {
            tx.execute("DELETE FROM jobs WHERE id = ?1", params![&id[..]])
                .map(|_| ())
                .map_err(|e| db_error("delete", e))
        })
    }
}

/// Records the schema version in the file. `PRAGMA` takes no bound
/// parameters; an integer formatted here is the whole statement
/// (rusqlite's `pragma_update` would link SQL-quoting and float
/// formatting for this one integer).
fn set_user_version(db: &Connection, version: u32) -> rusqlite::Result<()> {
    db.execute_batch(&format!("PRAGMA user_version = {version}"))
}

/// Applies the migrations the database lacks, each in its own transaction.
fn migrate(db: &mut Connection) -> Result<()> {
    let version: u32 = db
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| db_error("read version", e))?;
    if version > SCHEMA_VERSION {
        return Err(Error::new(
            QM_E_FAIL,
            format!("the state directory has schema version {version}; this qmgr knows up to {SCHEMA_VERSION}"),
        ));
    }
    apply_migrations(db, version, SCHEMA_VERSION)
}

/// Applies migrations `from`..`to`, each in its own transaction with its version.
fn apply_migrations(db: &mut Connection, from: u32, to: u32) -> Result<()> {
    for (i, step) in MIGRATIONS
        .iter()
        .enumerate()
        .take(to as usize)
        .skip(from as usize)
    {
        let tx = db
            .transaction()
            .map_err(|e| db_error("begin migration", e))?;
        tx.execute_batch(step).map_err(|e| db_error("migrate", e))?;
        fill_in(&tx, (i + 1) as u32).map_err(|e| db_error("migrate", e))?;
        set_user_version(&tx, (i + 1) as u32).map_err(|e| db_error("migrate", e))?;
        tx.commit().map_err(|e| db_error("commit migration", e))?;
    }
    Ok(())
}

/// Applies only the first `version` migrations: writes a state directory as
/// an older qmgr would have (for tests of the migration path).
#[doc(hidden)]
pub fn create_at_version(dir: &Path, version: u32) -> Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| io_error("create", dir, e))?;
    let mut db = Connection::open(dir.join("qmgr.db")).map_err(|e| db_error("open", e))?;
    apply_migrations(&mut db, 0, version.min(SCHEMA_VERSION))
}

/// Reads every job with its files. A row that does not read (a wrong type,
/// an id of the wrong length, a state or priority BITS does not have, HTTP
/// options that do not parse, a file row that does not read) skips its
/// job, not the directory: the job is not run, its rows stay as they are,
/// and the reason is in [`Loaded::skipped`].
fn load(db: &Connection) -> Result<Loaded> {
    let select = |table: &str, columns: &[&str], tail: &str| {
        format!("SELECT {} FROM {table} {tail}", columns.join(", "))
    };
    let mut jobs_stmt = db
        .prepare(&select("jobs", &JOB_COLUMNS, "ORDER BY created_order"))
        .map_err(|e| db_error("load jobs", e))?;
    let rows = jobs_stmt
        .query_map([], |r| {
            let key: rusqlite::types::Value = r.get("id")?;
            Ok((key, JobRecord::from_row(r)))
        })
        .map_err(|e| db_error("load jobs", e))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|e| db_error("load jobs", e))?;
    let mut files_stmt = db
        .prepare(&select(
            "files",
            &FILE_COLUMNS,
            "WHERE job_id = ?1 ORDER BY idx",
        ))
        .map_err(|e| db_error("load files", e))?;
    let mut loaded = Loaded::default();
    for (key, row) in rows {
        let name = match &key {
            Value::Blob(b) if b.len() == 16 => {
                crate::engine::types::JobId(b.as_slice().try_into().unwrap_or([0; 16])).to_string()
            }
            Value::Blob(b) => format!("a {}-byte blob", b.len()),
            Value::Integer(i) => i.to_string(),
            Value::Text(t) => format!("{t:?}"),
            // Not formatted: f64's formatting would be linked for this alone.
            Value::Real(_) => "a real number".to_string(),
            Value::Null => "NULL".to_string(),
        };
        let job = row.map_err(unreadable).and_then(|job| {
            if job.id == [0; 16] || !matches!(&key, Value::Blob(b) if b.len() == 16) {
                return Err("its id is not 16 bytes".to_string());
            }
            if crate::engine::types::JobState::from_u32(job.state).is_none() {
                return Err(format!("its state {} is not a BITS job state", job.state));
            }
            if crate::engine::types::Priority::from_u32(job.priority).is_none() {
                return Err(format!(
                    "its priority {} is not a BITS priority",
                    job.priority
                ));
            }
            Ok(job)
        });
        let files = job.and_then(|job| {
            files_stmt
                .query_map(params![&job.id[..]], FileRecord::from_row)
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                .map(|files| (job, files))
                .map_err(|e| format!("a file row does not read: {}", unreadable(e)))
        });
        match files {
            Ok(stored) => loaded.jobs.push(stored),
            Err(why) => loaded.skipped.push(format!(
                "job {name} was skipped (its rows are kept as they are): {why}"
            )),
        }
    }
    Ok(loaded)
}

/// Why a row does not read: the sentence of a check of ours (a value
/// that does not parse), else SQLite's.
fn unreadable(e: rusqlite::Error) -> String {
    match e {
        rusqlite::Error::FromSqlConversionFailure(_, _, why) => why.to_string(),
        other => other.to_string(),
    }
}

/// True when a job row exists (for tests).
#[cfg(test)]
fn has_job(db: &Connection, id: &[u8; 16]) -> bool {
    use rusqlite::OptionalExtension;
    db.query_row("SELECT 1 FROM jobs WHERE id = ?1", params![&id[..]], |_| {
        Ok(())
    })
    .optional()
    .unwrap()
    .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory that does not exist yet, inside a scratch directory.
    fn dir(name: &str) -> (crate::testing::Scratch, PathBuf) {
        let scratch = crate::testing::Scratch::new(name);
        let d = scratch.join("state");
        (scratch, d)
    }

    fn job(id: u8) -> JobRecord {
        JobRecord {
            id: [id; 16],
            owner: crate::engine::types::Owner {
                uid: 1000 + u32::from(id),
                gid: 100,
            },
            created_order: u64::from(id),
            display_name: "n".into(),
            description: String::new(),
            state: 3,
            priority: 2,
            retry_delay: 600,
            no_progress_timeout: 10,
            notify_flags: 3,
            max_bandwidth: 0,
            num_retries: 0,
            queue_seq: 1,
            created_ms: 1,
            modified_ms: 2,
            completed_ms: None,
            retry_ms: Some(1_700_000_000_000),
            error: Some((-5, 4, Some(0), 404, "gone".into())),
            http_options: HttpOptions::default(),
            max_download_size: 1 << 40,
            low_speed_limit: (1000, 30),
            committing: true,
            max_connections: 3,
            max_download_time: 60,
            dynamic_content: true,
            yielding: false,
            notify_cmdline: Some(("/bin/true".into(), Some("true \"a b\"".into()))),
            min_notification_interval: 1500,
            kind: JobType::Download,
            upload: None,
        }
    }

    #[test]
    fn jobs_round_trip_and_the_lock_excludes_a_second_opener() {
        let (_scratch, d) = dir("roundtrip");
        let (store, loaded) = Store::open(&d).unwrap();
        assert!(loaded.jobs.is_empty());
        let file = FileRecord {
            index: 0,
            remote: "http://h/x".into(),
            local: "/tmp/x".into(),
            size_hint: 0,
            temp: Some("/tmp/.x.part".into()),
            validator: None,
            sha256: Some([7; 32]),
            total: Some(10),
            durable: String::new(),
            wanted: None,
            completed: false,
            committed: false,
            delta: None,
        };
        store
            .save(&[1; 16], Some(&job(1)), std::slice::from_ref(&file))
            .unwrap();
        let durable = FileRecord {
            durable: "0-6".into(),
            ..file.clone()
        };
        store
            .save(&[1; 16], None, std::slice::from_ref(&durable))
            .unwrap();
        assert_eq!(
            Store::open(&d).err().unwrap().code.0,
            QM_E_SHARING_VIOLATION
        );
        drop(store);
        let (store, loaded) = Store::open(&d).unwrap();
        let jobs = loaded.jobs;
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].0, job(1));
        assert_eq!(jobs[0].1, vec![durable]);
        store.delete_job(&[1; 16]).unwrap();
        assert!(!has_job(store.db.lock().as_ref().unwrap(), &[1; 16]));
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let mode = std::fs::metadata(d.join("qmgr.db"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        drop(store);
    }

    #[test]
    fn ranges_round_trip_and_a_job_whose_ranges_do_not_parse_is_skipped() {
        let (_scratch, d) = dir("ranges");
        let (store, _) = Store::open(&d).unwrap();
        let ranged = FileRecord {
            index: 0,
            remote: "http://h/x".into(),
            local: "/tmp/x".into(),
            size_hint: 0,
            temp: None,
            validator: None,
            sha256: None,
            total: None,
            durable: String::new(),
            wanted: Some("100:100,900:eof".parse().unwrap()),
            completed: false,
            committed: false,
            delta: None,
        };
        for id in [1, 2] {
            store
                .save(&[id; 16], Some(&job(id)), std::slice::from_ref(&ranged))
                .unwrap();
        }
        store
            .db
            .lock()
            .as_ref()
            .unwrap()
            .execute(
                "UPDATE files SET wanted_ranges = '5:0' WHERE job_id = ?1",
                params![&[2u8; 16][..]],
            )
            .unwrap();
        drop(store);
        let (_store, loaded) = Store::open(&d).unwrap();
        assert_eq!(loaded.jobs.len(), 1);
        assert_eq!(loaded.jobs[0].1, vec![ranged]);
        assert_eq!(loaded.skipped.len(), 1, "{:?}", loaded.skipped);
        assert!(
            loaded.skipped[0].contains("file 0 has unreadable ranges"),
            "{}",
            loaded.skipped[0]
        );
        drop(_store);
    }

    #[test]
    fn a_job_whose_http_options_do_not_read_is_skipped_not_run_with_defaults() {
        use crate::engine::types::SecurityFlags;
        let (_scratch, d) = dir("http-options");
        let (store, _) = Store::open(&d).unwrap();
        let pinned = JobRecord {
            http_options: HttpOptions {
                ca_file: Some("/etc/pinned-ca.pem".into()),
                security_flags: SecurityFlags(SecurityFlags::REDIRECT_POLICY_DISALLOW),
                ..HttpOptions::default()
            },
            ..job(1)
        };
        for record in [&pinned, &job(2), &job(3)] {
            store.save(&record.id, Some(record), &[]).unwrap();
        }
        let tamper = |id: u8, sql: &str| {
            store
                .db
                .lock()
                .as_ref()
                .unwrap()
                .execute(sql, params![&[id; 16][..]])
                .unwrap();
        };
        // A torn value, and a redirect policy of the wrong type.
        tamper(
            2,
            "UPDATE jobs SET http_options = '{\"ca_file\":\"/etc/pi' WHERE id = ?1",
        );
        tamper(
            3,
            "UPDATE jobs SET http_options = '{\"security_flags\":\"512\"}' WHERE id = ?1",
        );
        drop(store);
        let (store, loaded) = Store::open(&d).unwrap();
        assert_eq!(loaded.jobs.len(), 1);
        assert_eq!(
            loaded.jobs[0].0, pinned,
            "the options a job keeps read back"
        );
        assert_eq!(loaded.skipped.len(), 2, "{:?}", loaded.skipped);
        for (why, id, detail) in [
            (&loaded.skipped[0], "02020202-", "not JSON"),
            (&loaded.skipped[1], "03030303-", "'security_flags'"),
        ] {
            assert!(why.starts_with(&format!("job {id}")), "{why}");
            assert!(
                why.contains("its stored HTTP options (CA file, redirect policy"),
                "{why}"
            );
            assert!(why.contains(detail), "{why}");
        }
        let db = store.db.lock();
        assert!(has_job(db.as_ref().unwrap(), &[2; 16]), "the rows stay");
    }

    #[test]
    fn an_upload_job_round_trips_and_an_unknown_job_type_is_skipped() {
        let (_scratch, d) = dir("upload");
        let (store, _) = Store::open(&d).unwrap();
        let upload = JobRecord {
            kind: JobType::UploadReply,
            upload: Some(UploadJob {
                protocol: UploadProtocol::Rufh,
                state: Some(UploadState {
                    protocol: UploadProtocol::Rufh,
                    upload_url: Some("http://h/up/7".into()),
                    confirmed: 1 << 33,
                    file_size: (1 << 33) + 5,
                    file_mtime_ns: -1_700_000_000_123_456_789,
                    expires: None,
                    max_append: Some(1 << 20),
                }),
                reply_file: Some("/tmp/reply".into()),
                reply: Some(vec![0, 1, 2, 255]),
                reply_len: Some(4),
            }),
            ..job(1)
        };
        store.save(&upload.id, Some(&upload), &[]).unwrap();
        store.save(&[2; 16], Some(&job(2)), &[]).unwrap();
        store
            .db
            .lock()
            .as_ref()
            .unwrap()
            .execute(
                "UPDATE jobs SET job_type = 3 WHERE id = ?1",
                params![&[2u8; 16][..]],
            )
            .unwrap();
        drop(store);
        let (_store, loaded) = Store::open(&d).unwrap();
        assert_eq!(loaded.jobs.len(), 1);
        assert_eq!(loaded.jobs[0].0, upload);
        assert_eq!(loaded.skipped.len(), 1);
        assert!(
            loaded.skipped[0].contains("job type 3"),
            "{:?}",
            loaded.skipped
        );
    }

    #[test]
    fn an_older_schema_is_migrated_and_a_newer_one_refused() {
        let (_scratch, d) = dir("migrate");
        create_at_version(&d, 1).unwrap();
        let (_store, loaded) = Store::open(&d).unwrap();
        assert!(loaded.jobs.is_empty());
        drop(_store);
        let db = Connection::open(d.join("qmgr.db")).unwrap();
        let v: u32 = db
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        for column in ["owner_uid", "owner_gid", "yielding", "job_type", "upload"] {
            db.prepare(&format!("SELECT {column} FROM jobs")).expect(
                "schema 7 has the owner's columns, schema 8 yielding, schema 10 the job type",
            );
        }
        db.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(db);
        assert_eq!(Store::open(&d).err().unwrap().code.0, QM_E_FAIL);
    }

    #[test]
    fn jobs_of_a_directory_before_owners_become_the_openers() {
        let (_scratch, d) = dir("owners");
        create_at_version(&d, 6).unwrap();
        let db = Connection::open(d.join("qmgr.db")).unwrap();
        db.execute_batch(
            "INSERT INTO jobs (id, created_order, display_name, description, state, priority,
                retry_delay, no_progress_timeout, notify_flags, max_bandwidth, num_retries,
                queue_seq, created_ms, modified_ms)
             VALUES (x'0101010101010101010101010101010a', 1, 'six', '', 3, 2, 600, 10, 3, 0, 0,
                1, 1700000000000, 1700000000000);",
        )
        .unwrap();
        drop(db);
        let (store, loaded) = Store::open(&d).unwrap();
        assert_eq!(loaded.jobs.len(), 1, "{:?}", loaded.skipped);
        let (uid, gid) = crate::sys::effective_ids();
        assert_eq!(
            loaded.jobs[0].0.owner,
            crate::engine::types::Owner { uid, gid }
        );
        // An owner changes with the row; a row without one is skipped.
        let mine = job(3);
        store.save(&mine.id, Some(&mine), &[]).unwrap();
        let other = JobRecord {
            owner: crate::engine::types::Owner { uid: 4242, gid: 7 },
            ..mine.clone()
        };
        store.save(&other.id, Some(&other), &[]).unwrap();
        store.save(&job(4).id, Some(&job(4)), &[]).unwrap();
        store.save(&job(5).id, Some(&job(5)), &[]).unwrap();
        for (id, sql) in [
            (4u8, "UPDATE jobs SET owner_uid = NULL WHERE id = ?1"),
            (5u8, "UPDATE jobs SET owner_gid = -1 WHERE id = ?1"),
        ] {
            store
                .db
                .lock()
                .as_ref()
                .unwrap()
                .execute(sql, params![&[id; 16][..]])
                .unwrap();
        }
        drop(store);
        let (_store, loaded) = Store::open(&d).unwrap();
        let owners: Vec<_> = loaded.jobs.iter().map(|(j, _)| j.owner).collect();
        assert_eq!(
            owners,
            vec![crate::engine::types::Owner { uid, gid }, other.owner]
        );
        assert_eq!(loaded.skipped.len(), 2, "{:?}", loaded.skipped);
        assert!(
            loaded.skipped[0].contains("its owner is not recorded"),
            "{}",
            loaded.skipped[0]
        );
        assert!(
            loaded.skipped[1].contains("owner_gid -1 is not an id"),
            "{}",
            loaded.skipped[1]
        );
    }
}
