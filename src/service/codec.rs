//! The values of `io.qmgr` as JSON, both ways: the daemon encodes what the
//! Rust API returns and decodes what clients send; the proxy does the
//! opposite with the same functions, so both ends agree by construction.
//!
//! Decoding never panics: a value that is missing, of the wrong type or
//! out of range is an [`Invalid`] naming it as a path (`change.priority`,
//! `files[2].local`), which becomes `org.varlink.service.InvalidParameter`.
//! Members the interface does not know are ignored; a member that is
//! `null` counts as absent. Numbers are the C API's (`BG_*` states,
//! priorities, contexts, flags; `qm_hresult` codes as signed 32-bit
//! integers; [`SIZE_UNKNOWN`] for an unknown size; times in milliseconds
//! since the Unix epoch).

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::varlink::Reply;
use crate::engine::types::{epoch_ms, from_epoch_ms};
use crate::{
    DeltaSource, DeltaStatus, DeltaWay, Error, ErrorContext, FileProgress, FileRange, FileSpec,
    HResult, JobError, JobId, JobProgress, JobState, JobStatus, JobTimes, JobType, NotifyCmdLine,
    NotifyEvent, NotifyFlags, Priority, ProxySetting, ReplyProgress, SecurityFlags, UploadProtocol,
};

/// `BG_SIZE_UNKNOWN`: a size the source has not told yet.
pub const SIZE_UNKNOWN: u64 = u64::MAX;

/// A parameter that does not decode; `parameter` names it as a path
/// (`id`, `change.priority`, `files[2].local`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    /// Where the bad value is.
    pub parameter: String,
}

impl Invalid {
    /// The bad parameter at `parameter`.
    pub fn new(parameter: impl Into<String>) -> Invalid {
        Invalid {
            parameter: parameter.into(),
        }
    }

    /// `org.varlink.service.InvalidParameter` naming it.
    pub fn reply(&self) -> Reply {
        Reply::invalid_parameter(&self.parameter)
    }
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid parameter '{}'", self.parameter)
    }
}

impl std::error::Error for Invalid {}

/// What decoding returns.
pub type Decoded<T> = std::result::Result<T, Invalid>;

/// The members of one JSON object, read with their path for errors.
#[derive(Clone, Copy, Debug)]
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    path: &'a str,
}

/// The parameters of a call or reply are an object whose members are
/// named without a prefix.
impl<'a> Fields<'a> {
    /// The members of `map`, an object at `path` (`""` for parameters).
    pub fn new(map: &'a Map<String, Value>, path: &'a str) -> Fields<'a> {
        Fields { map, path }
    }

    /// The members of `value`, which must be an object.
    pub fn of(value: &'a Value, path: &'a str) -> Decoded<Fields<'a>> {
        match value {
            Value::Object(map) => Ok(Fields { map, path }),
            _ => Err(Invalid::new(path)),
        }
    }

    /// The path of member `key`.
    pub fn name(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// Member `key`, `None` when absent or null.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// Member `key`, which must be present (and not null).
    pub fn value(&self, key: &str) -> Decoded<&'a Value> {
        self.get(key).ok_or_else(|| Invalid::new(self.name(key)))
    }

    fn opt<T>(&self, key: &str, read: impl FnOnce(&'a Value) -> Option<T>) -> Decoded<Option<T>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => read(v)
                .map(Some)
                .ok_or_else(|| Invalid::new(self.name(key))),
        }
    }

    fn req<T>(&self, key: &str, read: impl FnOnce(&'a Value) -> Option<T>) -> Decoded<T> {
        self.opt(key, read)?
            .ok_or_else(|| Invalid::new(self.name(key)))
    }

    /// A string member, if given.
    pub fn opt_string(&self, key: &str) -> Decoded<Option<String>> {
        self.opt(key, |v| v.as_str().map(String::from))
    }

    /// A string member.
    pub fn string(&self, key: &str) -> Decoded<String> {
        self.req(key, |v| v.as_str().map(String::from))
    }

    /// A non-negative integer member, if given.
    pub fn opt_u64(&self, key: &str) -> Decoded<Option<u64>> {
        self.opt(key, Value::as_u64)
    }

    /// A non-negative integer member.
    pub fn u64(&self, key: &str) -> Decoded<u64> {
        self.req(key, Value::as_u64)
    }

    /// A non-negative 32-bit integer member, if given.
    pub fn opt_u32(&self, key: &str) -> Decoded<Option<u32>> {
        self.opt(key, |v| v.as_u64().and_then(|n| u32::try_from(n).ok()))
    }

    /// A non-negative 32-bit integer member.
    pub fn u32(&self, key: &str) -> Decoded<u32> {
        self.req(key, |v| v.as_u64().and_then(|n| u32::try_from(n).ok()))
    }

    /// A `qm_hresult` member: a signed 32-bit integer (its unsigned
    /// spelling, e.g. 2149580801 for 0x80200001, is accepted too).
    pub fn code(&self, key: &str) -> Decoded<HResult> {
        self.req(key, |v| {
            let n = v.as_i64()?;
            i32::try_from(n)
                .ok()
                .or_else(|| u32::try_from(n).ok().map(|u| u as i32))
                .map(HResult)
        })
    }

    /// A boolean member, if given.
    pub fn opt_bool(&self, key: &str) -> Decoded<Option<bool>> {
        self.opt(key, Value::as_bool)
    }

    /// A boolean member.
    pub fn bool(&self, key: &str) -> Decoded<bool> {
        self.req(key, Value::as_bool)
    }

    /// An array member, if given.
    pub fn opt_array(&self, key: &str) -> Decoded<Option<&'a [Value]>> {
        self.opt(key, |v| v.as_array().map(Vec::as_slice))
    }

    /// An array member.
    pub fn array(&self, key: &str) -> Decoded<&'a [Value]> {
        self.req(key, |v| v.as_array().map(Vec::as_slice))
    }
}

/// Decodes member `key` of `fields` with `decode` (which gets its path).
fn member<T>(
    fields: &Fields<'_>,
    key: &str,
    decode: impl FnOnce(&Value, &str) -> Decoded<T>,
) -> Decoded<T> {
    let value = fields.value(key)?;
    decode(value, &fields.name(key))
}

/// Decodes member `key` if it is given.
fn opt_member<T>(
    fields: &Fields<'_>,
    key: &str,
    decode: impl FnOnce(&Value, &str) -> Decoded<T>,
) -> Decoded<Option<T>> {
    match fields.get(key) {
        None => Ok(None),
        Some(value) => decode(value, &fields.name(key)).map(Some),
    }
}

/// Decodes each element of an array at `path` (`path[i]` in errors).
pub fn decode_list<T>(
    values: &[Value],
    path: &str,
    decode: impl Fn(&Value, &str) -> Decoded<T>,
) -> Decoded<Vec<T>> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| decode(v, &format!("{path}[{i}]")))
        .collect()
}

fn path_string(path: &std::path::Path) -> Value {
    Value::String(path.to_string_lossy().into_owned())
}

fn ms(t: std::time::SystemTime) -> i64 {
    epoch_ms(t)
}

fn time(fields: &Fields<'_>, key: &str) -> Decoded<std::time::SystemTime> {
    let v = fields.value(key)?;
    v.as_i64()
        .map(from_epoch_ms)
        .ok_or_else(|| Invalid::new(fields.name(key)))
}

// ----- errors ------------------------------------------------------------

/// `io.qmgr.Failed` with the error's code and message.
pub fn failed(error: &Error) -> Reply {
    Reply::error(
        super::FAILED,
        json!({ "code": error.code.0, "message": error.message }),
    )
}

/// The error an `io.qmgr.Failed` reply carries: the same code and message
/// as the in-process call (the message is taken as sent, not redacted
/// again).
pub fn decode_failed(parameters: &Map<String, Value>) -> Decoded<Error> {
    let f = Fields::new(parameters, "");
    Ok(Error {
        code: f.code("code")?,
        message: f.string("message")?,
    })
}

/// `io.qmgr.LimitReached` for `what` and its bound.
pub fn limit_reached(what: &str, limit: u64) -> Reply {
    Reply::error(
        super::LIMIT_REACHED,
        json!({ "what": what, "limit": limit }),
    )
}

// ----- files to add --------------------------------------------------------

/// `FileSpec`.
pub fn encode_file_spec(spec: &FileSpec) -> Value {
    let mut v = json!({ "remote": spec.remote, "local": spec.local });
    if spec.size_hint != 0 {
        v["size_hint"] = json!(spec.size_hint);
    }
    v
}

/// `FileSpec` (an absent size hint is 0).
pub fn decode_file_spec(value: &Value, path: &str) -> Decoded<FileSpec> {
    let f = Fields::of(value, path)?;
    Ok(FileSpec {
        remote: f.string("remote")?,
        local: f.string("local")?,
        size_hint: f.opt_u64("size_hint")?.unwrap_or(0),
    })
}

/// `FileRange`.
pub fn encode_range(range: &FileRange) -> Value {
    json!({ "offset": range.offset, "length": range.length })
}

/// `FileRange`.
pub fn decode_range(value: &Value, path: &str) -> Decoded<FileRange> {
    let f = Fields::of(value, path)?;
    Ok(FileRange {
        offset: f.u64("offset")?,
        length: f.u64("length")?,
    })
}

// ----- the parts of a job ----------------------------------------------------

/// `Progress`.
pub fn encode_progress(p: &JobProgress) -> Value {
    json!({
        "bytes_total": p.bytes_total.unwrap_or(SIZE_UNKNOWN),
        "bytes_transferred": p.bytes_transferred,
        "files_total": p.files_total,
        "files_transferred": p.files_transferred,
        "bytes_per_second": p.bytes_per_second,
        "eta_seconds": p.eta_seconds,
    })
}

/// `Progress`.
pub fn decode_progress(value: &Value, path: &str) -> Decoded<JobProgress> {
    let f = Fields::of(value, path)?;
    let total = f.u64("bytes_total")?;
    Ok(JobProgress {
        bytes_total: (total != SIZE_UNKNOWN).then_some(total),
        bytes_transferred: f.u64("bytes_transferred")?,
        files_total: f.u32("files_total")?,
        files_transferred: f.u32("files_transferred")?,
        bytes_per_second: f.u64("bytes_per_second")?,
        eta_seconds: f.opt_u64("eta_seconds")?,
    })
}

/// `Status` (the interface has no Win32 result: it is the error's, see
/// [`decode_job`]).
pub fn encode_status(s: &JobStatus) -> Value {
    json!({
        "complete": s.complete,
        "error": s.error,
        "foreground": s.foreground,
        "transport_result": s.transport_result,
        "num_retries": s.num_retries,
    })
}

/// `Status`, with `win32_result` 0 (a job snapshot fills it from its error).
pub fn decode_status(value: &Value, path: &str) -> Decoded<JobStatus> {
    let f = Fields::of(value, path)?;
    Ok(JobStatus {
        complete: f.bool("complete")?,
        error: f.bool("error")?,
        foreground: f.bool("foreground")?,
        win32_result: 0,
        transport_result: f.u32("transport_result")?,
        num_retries: f.u32("num_retries")?,
    })
}

/// `JobError`.
pub fn encode_job_error(e: &JobError) -> Value {
    json!({
        "code": e.code.0,
        "context": e.context as u32,
        "file_index": e.file_index,
        "http_status": e.http_status,
        "description": e.description,
    })
}

/// `JobError`.
pub fn decode_job_error(value: &Value, path: &str) -> Decoded<JobError> {
    let f = Fields::of(value, path)?;
    let context = f.u32("context")?;
    Ok(JobError {
        code: f.code("code")?,
        context: ErrorContext::from_u32(context).ok_or_else(|| Invalid::new(f.name("context")))?,
        file_index: f.opt_u32("file_index")?,
        http_status: u16::try_from(f.u32("http_status")?)
            .map_err(|_| Invalid::new(f.name("http_status")))?,
        description: f.string("description")?,
    })
}

/// `Times`.
pub fn encode_times(t: &JobTimes) -> Value {
    json!({
        "creation": ms(t.creation),
        "modification": ms(t.modification),
        "transfer_completion": t.transfer_completion.map(ms),
    })
}

/// `Times` (to the millisecond).
pub fn decode_times(value: &Value, path: &str) -> Decoded<JobTimes> {
    let f = Fields::of(value, path)?;
    Ok(JobTimes {
        creation: time(&f, "creation")?,
        modification: time(&f, "modification")?,
        transfer_completion: match f.get("transfer_completion") {
            None => None,
            Some(_) => Some(time(&f, "transfer_completion")?),
        },
    })
}

/// `NotifyCmdLine`.
pub fn encode_cmdline(c: &NotifyCmdLine) -> Value {
    json!({ "program": c.program, "parameters": c.parameters })
}

/// `NotifyCmdLine`.
pub fn decode_cmdline(value: &Value, path: &str) -> Decoded<NotifyCmdLine> {
    let f = Fields::of(value, path)?;
    Ok(NotifyCmdLine {
        program: f.string("program")?,
        parameters: f.opt_string("parameters")?,
    })
}

/// `Proxy`.
pub fn encode_proxy(p: &ProxySetting) -> Value {
    match p {
        ProxySetting::Direct => json!({ "kind": "direct" }),
        ProxySetting::FromEnvironment => json!({ "kind": "environment" }),
        ProxySetting::Url(url) => json!({ "kind": "url", "url": url }),
    }
}

/// `Proxy` (`url` required with kind `url`, ignored otherwise).
pub fn decode_proxy(value: &Value, path: &str) -> Decoded<ProxySetting> {
    let f = Fields::of(value, path)?;
    match f.string("kind")?.as_str() {
        "direct" => Ok(ProxySetting::Direct),
        "environment" => Ok(ProxySetting::FromEnvironment),
        "url" => Ok(ProxySetting::Url(f.string("url")?)),
        _ => Err(Invalid::new(f.name("kind"))),
    }
}

/// `ClientCertificate`: the certificate and key files.
pub fn encode_client_certificate(cert: &str, key: &str) -> Value {
    json!({ "certificate": cert, "key": key })
}

/// `ClientCertificate`: (certificate, key).
pub fn decode_client_certificate(value: &Value, path: &str) -> Decoded<(String, String)> {
    let f = Fields::of(value, path)?;
    Ok((f.string("certificate")?, f.string("key")?))
}

/// `LowSpeedLimit`.
pub fn encode_low_speed_limit(bytes_per_second: u64, seconds: u32) -> Value {
    json!({ "bytes_per_second": bytes_per_second, "seconds": seconds })
}

/// `LowSpeedLimit`: (bytes per second, seconds).
pub fn decode_low_speed_limit(value: &Value, path: &str) -> Decoded<(u64, u32)> {
    let f = Fields::of(value, path)?;
    Ok((f.u64("bytes_per_second")?, f.u32("seconds")?))
}

// ----- a job -------------------------------------------------------------------

/// Everything a job's getters return, read at one instant: the `Job` of
/// the interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobSnapshot {
    /// [`Job::id`].
    pub id: JobId,
    /// The owner's user id.
    pub owner_uid: u32,
    /// [`Job::display_name`].
    pub display_name: String,
    /// [`Job::description`].
    pub description: String,
    /// [`Job::state`].
    pub state: JobState,
    /// [`Job::priority`].
    pub priority: Priority,
    /// [`Job::progress`].
    pub progress: JobProgress,
    /// [`Job::status`] (its `win32_result` is the error's Win32 code).
    pub status: JobStatus,
    /// [`Job::error`]: `None` outside ERROR and TRANSIENT_ERROR.
    pub error: Option<JobError>,
    /// [`Job::next_retry_in`], to the millisecond, as of the snapshot.
    pub next_retry: Option<Duration>,
    /// [`Job::times`], to the millisecond.
    pub times: JobTimes,
    /// [`Job::file_count`].
    pub file_count: u32,
    /// [`Job::min_retry_delay`].
    pub min_retry_delay: u32,
    /// [`Job::no_progress_timeout`].
    pub no_progress_timeout: u32,
    /// [`Job::notify_flags`].
    pub notify_flags: NotifyFlags,
    /// [`Job::min_notification_interval`].
    pub min_notification_interval: u32,
    /// [`Job::notify_cmdline`].
    pub notify_cmdline: Option<NotifyCmdLine>,
    /// [`Job::max_bandwidth`].
    pub max_bandwidth: u64,
    /// [`Job::max_download_time`].
    pub max_download_time: u32,
    /// [`Job::max_download_size`].
    pub max_download_size: u64,
    /// [`Job::max_connections`].
    pub max_connections: u32,
    /// [`Job::dynamic_content`].
    pub dynamic_content: bool,
    /// [`Job::yielding`].
    pub yielding: bool,
    /// [`Job::low_speed_limit`]: (bytes per second, seconds).
    pub low_speed_limit: (u64, u32),
    /// [`Job::custom_headers`].
    pub custom_headers: Option<String>,
    /// [`Job::proxy`].
    pub proxy: ProxySetting,
    /// [`Job::ca_file`].
    pub ca_file: Option<PathBuf>,
    /// [`Job::client_certificate`]: (certificate, key).
    pub client_certificate: Option<(PathBuf, PathBuf)>,
    /// [`Job::stall_timeout`].
    pub stall_timeout: u32,
    /// [`Job::security_flags`].
    pub security_flags: SecurityFlags,
    /// [`Job::job_type`].
    pub job_type: JobType,
    /// [`Job::upload_protocol`]: `None` for a download.
    pub upload_protocol: Option<UploadProtocol>,
    /// [`Job::reply_file_name`]: `None` for a reply kept in memory, or a
    /// job that is not UPLOAD_REPLY.
    pub reply_file_name: Option<PathBuf>,
    /// [`Job::reply_progress`]: `None` unless the job is UPLOAD_REPLY.
    pub reply_progress: Option<ReplyProgress>,
    /// When, among the daemon's snapshots, this one's progress was read;
    /// `None` from a daemon that does not say.
    pub taken: Option<Taken>,
}

/// The order in which a daemon read its snapshots of jobs. Replies and
/// events reach a client in another order (several connections, the
/// Watch stream), and an older snapshot taken for newer would show the
/// job's progress going back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Taken {
    /// The daemon's run: it changes when the daemon starts again.
    pub run: u32,
    /// Counts the run's snapshots: of two, the higher was read later.
    pub number: u64,
}

impl JobSnapshot {
    /// Whether this snapshot may replace `held`: not when the daemon says
    /// it read this one before that one.
    pub fn not_older_than(&self, held: &JobSnapshot) -> bool {
        match (self.taken, held.taken) {
            (Some(new), Some(old)) if new.run == old.run => new.number >= old.number,
            _ => true,
        }
    }
}

/// Bytes as a string of the interface (base64, as `GetReplyData` sends).
pub fn encode_bytes(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The bytes of [`encode_bytes`]'s string (the member `path`).
pub fn decode_bytes(text: &str, path: &str) -> Decoded<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| Invalid::new(path))
}

/// `Job`.
pub fn encode_job(j: &JobSnapshot) -> Value {
    json!({
        "id": j.id.to_string(),
        "owner_uid": j.owner_uid,
        "display_name": j.display_name,
        "description": j.description,
        "state": j.state as u32,
        "priority": j.priority as u32,
        "progress": encode_progress(&j.progress),
        "status": encode_status(&j.status),
        "error": j.error.as_ref().map(encode_job_error),
        "next_retry_ms": j.next_retry.map(|d| d.as_millis() as u64),
        "times": encode_times(&j.times),
        "file_count": j.file_count,
        "min_retry_delay": j.min_retry_delay,
        "no_progress_timeout": j.no_progress_timeout,
        "notify_flags": j.notify_flags.0,
        "min_notification_interval": j.min_notification_interval,
        "notify_cmdline": j.notify_cmdline.as_ref().map(encode_cmdline),
        "max_bandwidth": j.max_bandwidth,
        "max_download_time": j.max_download_time,
        "max_download_size": j.max_download_size,
        "max_connections": j.max_connections,
        "dynamic_content": j.dynamic_content,
        "yielding": j.yielding,
        "low_speed_limit": encode_low_speed_limit(j.low_speed_limit.0, j.low_speed_limit.1),
        "custom_headers": j.custom_headers,
        "proxy": encode_proxy(&j.proxy),
        "ca_file": j.ca_file.as_deref().map(path_string),
        "client_certificate": j.client_certificate.as_ref().map(|(c, k)| {
            encode_client_certificate(&c.to_string_lossy(), &k.to_string_lossy())
        }),
        "stall_timeout": j.stall_timeout,
        "security_flags": j.security_flags.0,
        "type": j.job_type as u32,
        "upload_protocol": j.upload_protocol.map(|p| p as u32),
        "reply_file_name": j.reply_file_name.as_deref().map(path_string),
        "reply_progress": j.reply_progress.map(|r| json!({
            "bytes_total": r.bytes_total,
            "bytes_transferred": r.bytes_transferred,
        })),
        "taken": j.taken.map(|t| json!({"run": t.run, "number": t.number})),
    })
}

/// `Job`.
pub fn decode_job(value: &Value, path: &str) -> Decoded<JobSnapshot> {
    let f = Fields::of(value, path)?;
    let id = f
        .string("id")?
        .parse::<JobId>()
        .map_err(|_| Invalid::new(f.name("id")))?;
    let state = JobState::from_u32(f.u32("state")?).ok_or_else(|| Invalid::new(f.name("state")))?;
    let priority =
        Priority::from_u32(f.u32("priority")?).ok_or_else(|| Invalid::new(f.name("priority")))?;
    let error = opt_member(&f, "error", decode_job_error)?;
    let mut status = member(&f, "status", decode_status)?;
    if status.error {
        status.win32_result = error.as_ref().map_or(0, |e| e.code.win32_code());
    }
    let (low_bps, low_secs) = member(&f, "low_speed_limit", decode_low_speed_limit)?;
    Ok(JobSnapshot {
        id,
        owner_uid: f.u32("owner_uid")?,
        display_name: f.string("display_name")?,
        description: f.string("description")?,
        state,
        priority,
        progress: member(&f, "progress", decode_progress)?,
        status,
        error,
        next_retry: f.opt_u64("next_retry_ms")?.map(Duration::from_millis),
        times: member(&f, "times", decode_times)?,
        file_count: f.u32("file_count")?,
        min_retry_delay: f.u32("min_retry_delay")?,
        no_progress_timeout: f.u32("no_progress_timeout")?,
        notify_flags: NotifyFlags(f.u32("notify_flags")?),
        min_notification_interval: f.u32("min_notification_interval")?,
        notify_cmdline: opt_member(&f, "notify_cmdline", decode_cmdline)?,
        max_bandwidth: f.u64("max_bandwidth")?,
        max_download_time: f.u32("max_download_time")?,
        max_download_size: f.u64("max_download_size")?,
        max_connections: f.u32("max_connections")?,
        dynamic_content: f.bool("dynamic_content")?,
        yielding: f.bool("yielding")?,
        low_speed_limit: (low_bps, low_secs),
        custom_headers: f.opt_string("custom_headers")?,
        proxy: member(&f, "proxy", decode_proxy)?,
        ca_file: f.opt_string("ca_file")?.map(PathBuf::from),
        client_certificate: opt_member(&f, "client_certificate", decode_client_certificate)?
            .map(|(c, k)| (PathBuf::from(c), PathBuf::from(k))),
        stall_timeout: f.u32("stall_timeout")?,
        security_flags: SecurityFlags(f.u32("security_flags")?),
        // Absent from a daemon before upload jobs: a download.
        job_type: match f.opt_u32("type")? {
            None => JobType::Download,
            Some(v) => JobType::from_u32(v).ok_or_else(|| Invalid::new(f.name("type")))?,
        },
        upload_protocol: match f.opt_u32("upload_protocol")? {
            None => None,
            Some(v) => Some(
                UploadProtocol::from_u32(v)
                    .ok_or_else(|| Invalid::new(f.name("upload_protocol")))?,
            ),
        },
        reply_file_name: f.opt_string("reply_file_name")?.map(PathBuf::from),
        reply_progress: opt_member(&f, "reply_progress", |v, path| {
            let r = Fields::of(v, path)?;
            Ok(ReplyProgress {
                bytes_total: r.opt_u64("bytes_total")?,
                bytes_transferred: r.u64("bytes_transferred")?,
            })
        })?,
        taken: opt_member(&f, "taken", |v, path| {
            let t = Fields::of(v, path)?;
            Ok(Taken {
                run: t.u32("run")?,
                number: t.u64("number")?,
            })
        })?,
    })
}

// ----- a file ------------------------------------------------------------------

/// Everything a file's getters return, read at one instant: the `File` of
/// the interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSnapshot {
    /// The file's index in its job.
    pub index: u32,
    /// [`Job::file_remote_name`].
    pub remote: String,
    /// [`Job::file_local_name`].
    pub local: String,
    /// [`Job::file_size_hint`].
    pub size_hint: u64,
    /// [`Job::file_sha256`].
    pub sha256: Option<String>,
    /// [`Job::file_progress`].
    pub progress: FileProgress,
    /// [`Job::file_final_url`].
    pub final_url: String,
    /// [`Job::file_temporary_name`].
    pub temporary_name: Option<PathBuf>,
    /// [`Job::file_response_headers`].
    pub response_headers: Option<String>,
    /// [`Job::file_ranges`].
    pub ranges: Vec<FileRange>,
    /// [`Job::file_delta`].
    pub delta: Option<DeltaSource>,
    /// [`Job::file_delta_status`].
    pub delta_status: DeltaStatus,
}

/// `File`.
pub fn encode_file(f: &FileSnapshot) -> Value {
    json!({
        "index": f.index,
        "remote": f.remote,
        "local": f.local,
        "size_hint": f.size_hint,
        "sha256": f.sha256,
        "bytes_total": f.progress.bytes_total.unwrap_or(SIZE_UNKNOWN),
        "bytes_transferred": f.progress.bytes_transferred,
        "completed": f.progress.completed,
        "final_url": f.final_url,
        "temporary_name": f.temporary_name.as_deref().map(path_string),
        "response_headers": f.response_headers,
        "ranges": f.ranges.iter().map(encode_range).collect::<Vec<_>>(),
        "seeds": f.delta.as_ref().map(|d| d.seeds.iter().map(|p| path_string(p)).collect::<Vec<_>>()),
        "control_url": f.delta.as_ref().and_then(|d| d.control_url.clone()),
        "delta_way": f.delta_status.way as u32,
        "bytes_from_seeds": f.delta_status.bytes_from_seeds,
        "delta_reason": f.delta_status.reason,
    })
}

/// `File`.
pub fn decode_file(value: &Value, path: &str) -> Decoded<FileSnapshot> {
    let f = Fields::of(value, path)?;
    let total = f.u64("bytes_total")?;
    Ok(FileSnapshot {
        index: f.u32("index")?,
        remote: f.string("remote")?,
        local: f.string("local")?,
        size_hint: f.u64("size_hint")?,
        sha256: f.opt_string("sha256")?,
        progress: FileProgress {
            bytes_total: (total != SIZE_UNKNOWN).then_some(total),
            bytes_transferred: f.u64("bytes_transferred")?,
            completed: f.bool("completed")?,
        },
        final_url: f.string("final_url")?,
        temporary_name: f.opt_string("temporary_name")?.map(PathBuf::from),
        response_headers: f.opt_string("response_headers")?,
        ranges: decode_list(f.array("ranges")?, &f.name("ranges"), decode_range)?,
        // Absent from a daemon before delta downloads: none.
        delta: match f.opt_array("seeds")? {
            None => None,
            Some(seeds) => Some(DeltaSource {
                seeds: seeds
                    .iter()
                    .map(|s| s.as_str().map(PathBuf::from))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| Invalid::new(f.name("seeds")))?,
                control_url: f.opt_string("control_url")?,
            }),
        },
        delta_status: DeltaStatus {
            way: match f.opt_u32("delta_way")? {
                None => DeltaWay::None,
                Some(v) => {
                    DeltaWay::from_u32(v).ok_or_else(|| Invalid::new(f.name("delta_way")))?
                }
            },
            bytes_from_seeds: f.opt_u64("bytes_from_seeds")?.unwrap_or(0),
            reason: f.opt_string("delta_reason")?.unwrap_or_default(),
        },
    })
}

// ----- a change ----------------------------------------------------------------

/// One change to a job: the `Change` of the interface, one variant per
/// setter. `None` clears (the C setter given NULL).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// [`Job::set_display_name`].
    DisplayName(String),
    /// [`Job::set_description`].
    Description(String),
    /// [`Job::set_priority`].
    Priority(Priority),
    /// [`Job::set_min_retry_delay`].
    MinRetryDelay(u32),
    /// [`Job::set_no_progress_timeout`].
    NoProgressTimeout(u32),
    /// The notify flags ([`Job::set_notify`]'s flags: see [`Change::apply`]).
    NotifyFlags(u32),
    /// [`Job::set_min_notification_interval`].
    MinNotificationInterval(u32),
    /// [`Job::set_notify_cmdline`].
    NotifyCmdLine(Option<NotifyCmdLine>),
    /// [`Job::set_max_bandwidth`].
    MaxBandwidth(u64),
    /// [`Job::set_max_download_time`].
    MaxDownloadTime(u32),
    /// [`Job::set_max_download_size`].
    MaxDownloadSize(u64),
    /// [`Job::set_max_connections`].
    MaxConnections(u32),
    /// [`Job::set_dynamic_content`].
    DynamicContent(bool),
    /// [`Job::set_yielding`].
    Yielding(bool),
    /// [`Job::set_low_speed_limit`].
    LowSpeedLimit {
        /// The least average rate.
        bytes_per_second: u64,
        /// Over this many seconds.
        seconds: u32,
    },
    /// [`Job::set_custom_headers`].
    CustomHeaders(Option<String>),
    /// [`Job::set_credentials`]: (user, password).
    Credentials(Option<(String, String)>),
    /// [`Job::set_proxy`].
    Proxy(ProxySetting),
    /// [`Job::set_ca_file`].
    CaFile(Option<String>),
    /// [`Job::set_client_certificate`]: (certificate, key).
    ClientCertificate(Option<(String, String)>),
    /// [`Job::set_stall_timeout`].
    StallTimeout(u32),
    /// [`Job::set_security_flags`].
    SecurityFlags(u32),
}

/// `Change`: the one member the change gives.
pub fn encode_change(change: &Change) -> Value {
    let (key, value) = match change {
        Change::DisplayName(v) => ("display_name", json!(v)),
        Change::Description(v) => ("description", json!(v)),
        Change::Priority(v) => ("priority", json!(*v as u32)),
        Change::MinRetryDelay(v) => ("min_retry_delay", json!(v)),
        Change::NoProgressTimeout(v) => ("no_progress_timeout", json!(v)),
        Change::NotifyFlags(v) => ("notify_flags", json!(v)),
        Change::MinNotificationInterval(v) => ("min_notification_interval", json!(v)),
        Change::NotifyCmdLine(Some(c)) => ("notify_cmdline", encode_cmdline(c)),
        Change::NotifyCmdLine(None) => ("clear_notify_cmdline", json!(true)),
        Change::MaxBandwidth(v) => ("max_bandwidth", json!(v)),
        Change::MaxDownloadTime(v) => ("max_download_time", json!(v)),
        Change::MaxDownloadSize(v) => ("max_download_size", json!(v)),
        Change::MaxConnections(v) => ("max_connections", json!(v)),
        Change::DynamicContent(v) => ("dynamic_content", json!(v)),
        Change::Yielding(v) => ("yielding", json!(v)),
        Change::LowSpeedLimit {
            bytes_per_second,
            seconds,
        } => (
            "low_speed_limit",
            encode_low_speed_limit(*bytes_per_second, *seconds),
        ),
        Change::CustomHeaders(Some(h)) => ("custom_headers", json!(h)),
        Change::CustomHeaders(None) => ("clear_custom_headers", json!(true)),
        Change::Credentials(Some((user, password))) => {
            ("credentials", json!({ "user": user, "password": password }))
        }
        Change::Credentials(None) => ("clear_credentials", json!(true)),
        Change::Proxy(p) => ("proxy", encode_proxy(p)),
        Change::CaFile(Some(path)) => ("ca_file", json!(path)),
        Change::CaFile(None) => ("clear_ca_file", json!(true)),
        Change::ClientCertificate(Some((c, k))) => {
            ("client_certificate", encode_client_certificate(c, k))
        }
        Change::ClientCertificate(None) => ("clear_client_certificate", json!(true)),
        Change::StallTimeout(v) => ("stall_timeout", json!(v)),
        Change::SecurityFlags(v) => ("security_flags", json!(v)),
    };
    let mut map = Map::new();
    map.insert(key.to_string(), value);
    Value::Object(map)
}

/// `Change`: exactly one member must be given (a `clear_*` member that is
/// `false` counts as absent); none or several is an invalid `path`.
pub fn decode_change(value: &Value, path: &str) -> Decoded<Change> {
    let f = Fields::of(value, path)?;
    let mut found: Option<Change> = None;
    let mut several = false;
    let mut give = |change: Option<Change>| {
        if let Some(change) = change {
            several |= found.is_some();
            found = Some(change);
        }
    };
    let clear = |key: &str| -> Decoded<bool> { Ok(f.opt_bool(key)?.unwrap_or(false)) };
    give(f.opt_string("display_name")?.map(Change::DisplayName));
    give(f.opt_string("description")?.map(Change::Description));
    give(
        f.opt_u32("priority")?
            .map(|p| Priority::from_u32(p).ok_or_else(|| Invalid::new(f.name("priority"))))
            .transpose()?
            .map(Change::Priority),
    );
    give(f.opt_u32("min_retry_delay")?.map(Change::MinRetryDelay));
    give(
        f.opt_u32("no_progress_timeout")?
            .map(Change::NoProgressTimeout),
    );
    give(f.opt_u32("notify_flags")?.map(Change::NotifyFlags));
    give(
        f.opt_u32("min_notification_interval")?
            .map(Change::MinNotificationInterval),
    );
    give(opt_member(&f, "notify_cmdline", decode_cmdline)?.map(|c| Change::NotifyCmdLine(Some(c))));
    give(clear("clear_notify_cmdline")?.then_some(Change::NotifyCmdLine(None)));
    give(f.opt_u64("max_bandwidth")?.map(Change::MaxBandwidth));
    give(f.opt_u32("max_download_time")?.map(Change::MaxDownloadTime));
    give(f.opt_u64("max_download_size")?.map(Change::MaxDownloadSize));
    give(f.opt_u32("max_connections")?.map(Change::MaxConnections));
    give(f.opt_bool("dynamic_content")?.map(Change::DynamicContent));
    give(f.opt_bool("yielding")?.map(Change::Yielding));
    give(
        opt_member(&f, "low_speed_limit", decode_low_speed_limit)?.map(
            |(bytes_per_second, seconds)| Change::LowSpeedLimit {
                bytes_per_second,
                seconds,
            },
        ),
    );
    give(
        f.opt_string("custom_headers")?
            .map(|h| Change::CustomHeaders(Some(h))),
    );
    give(clear("clear_custom_headers")?.then_some(Change::CustomHeaders(None)));
    give(
        opt_member(&f, "credentials", |v, p| {
            let c = Fields::of(v, p)?;
            Ok((c.string("user")?, c.string("password")?))
        })?
        .map(|c| Change::Credentials(Some(c))),
    );
    give(clear("clear_credentials")?.then_some(Change::Credentials(None)));
    give(opt_member(&f, "proxy", decode_proxy)?.map(Change::Proxy));
    give(f.opt_string("ca_file")?.map(|p| Change::CaFile(Some(p))));
    give(clear("clear_ca_file")?.then_some(Change::CaFile(None)));
    give(
        opt_member(&f, "client_certificate", decode_client_certificate)?
            .map(|c| Change::ClientCertificate(Some(c))),
    );
    give(clear("clear_client_certificate")?.then_some(Change::ClientCertificate(None)));
    give(f.opt_u32("stall_timeout")?.map(Change::StallTimeout));
    give(f.opt_u32("security_flags")?.map(Change::SecurityFlags));
    match (found, several) {
        (Some(change), false) => Ok(change),
        _ => Err(Invalid::new(path)),
    }
}

// ----- settings ----------------------------------------------------------------

/// The manager's settings: the `Settings` of the interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// [`Manager::max_active_jobs`].
    pub max_active_jobs: u32,
    /// [`Manager::max_bandwidth`].
    pub max_bandwidth: u64,
    /// [`Manager::max_connections`].
    pub max_connections: u32,
    /// [`Manager::max_connections_per_server`].
    pub max_connections_per_server: u32,
}

/// `Settings`.
pub fn encode_settings(s: &Settings) -> Value {
    json!({
        "max_active_jobs": s.max_active_jobs,
        "max_bandwidth": s.max_bandwidth,
        "max_connections": s.max_connections,
        "max_connections_per_server": s.max_connections_per_server,
    })
}

/// `Settings`.
pub fn decode_settings(value: &Value, path: &str) -> Decoded<Settings> {
    let f = Fields::of(value, path)?;
    Ok(Settings {
        max_active_jobs: f.u32("max_active_jobs")?,
        max_bandwidth: f.u64("max_bandwidth")?,
        max_connections: f.u32("max_connections")?,
        max_connections_per_server: f.u32("max_connections_per_server")?,
    })
}

/// Some of the manager's settings: the `SettingsChange` of the interface.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SettingsChange {
    /// [`Manager::set_max_active_jobs`].
    pub max_active_jobs: Option<u32>,
    /// [`Manager::set_max_bandwidth`].
    pub max_bandwidth: Option<u64>,
    /// [`Manager::set_max_connections`].
    pub max_connections: Option<u32>,
    /// [`Manager::set_max_connections_per_server`].
    pub max_connections_per_server: Option<u32>,
}

/// `SettingsChange` (only the given members).
pub fn encode_settings_change(c: &SettingsChange) -> Value {
    let mut map = Map::new();
    let mut put = |key: &str, value: Option<u64>| {
        if let Some(v) = value {
            map.insert(key.to_string(), json!(v));
        }
    };
    put("max_active_jobs", c.max_active_jobs.map(u64::from));
    put("max_bandwidth", c.max_bandwidth);
    put("max_connections", c.max_connections.map(u64::from));
    put(
        "max_connections_per_server",
        c.max_connections_per_server.map(u64::from),
    );
    Value::Object(map)
}

/// `SettingsChange`.
pub fn decode_settings_change(value: &Value, path: &str) -> Decoded<SettingsChange> {
    let f = Fields::of(value, path)?;
    Ok(SettingsChange {
        max_active_jobs: f.opt_u32("max_active_jobs")?,
        max_bandwidth: f.opt_u64("max_bandwidth")?,
        max_connections: f.opt_u32("max_connections")?,
        max_connections_per_server: f.opt_u32("max_connections_per_server")?,
    })
}

// ----- events ------------------------------------------------------------------

/// Something that happened to a watched job: the `Event` of the interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// What happened (kind, file, code), as a callback gets it.
    pub event: NotifyEvent,
    /// The job right after it.
    pub job: JobSnapshot,
}

/// `Event`.
pub fn encode_event(e: &Event) -> Value {
    json!({
        "kind": e.event.kind,
        "file_index": e.event.file_index,
        "code": e.event.code.0,
        "job": encode_job(&e.job),
    })
}

/// `Event`.
pub fn decode_event(value: &Value, path: &str) -> Decoded<Event> {
    let f = Fields::of(value, path)?;
    Ok(Event {
        event: NotifyEvent {
            kind: f.u32("kind")?,
            file_index: f.u32("file_index")?,
            code: f.code("code")?,
        },
        job: member(&f, "job", decode_job)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hresult::*;
    use std::time::{SystemTime, UNIX_EPOCH};

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    fn sample_job() -> JobSnapshot {
        JobSnapshot {
            id: "0f8fad5b-d9cb-469f-a165-70867728950e".parse().unwrap(),
            owner_uid: 1000,
            display_name: "firmware \"2.1\" ünïcode".into(),
            description: "nightly\nbuild".into(),
            state: JobState::TransientError,
            priority: Priority::High,
            progress: JobProgress {
                bytes_total: None,
                bytes_transferred: 1 << 40,
                files_total: 3,
                files_transferred: 1,
                bytes_per_second: 12345,
                eta_seconds: Some(77),
            },
            status: JobStatus {
                complete: false,
                error: true,
                foreground: false,
                win32_result: 12002,
                transport_result: 503,
                num_retries: 4,
            },
            error: Some(JobError {
                code: HResult::from_win32(12002),
                context: ErrorContext::GeneralTransport,
                file_index: Some(2),
                http_status: 503,
                description: "timed out".into(),
            }),
            next_retry: Some(Duration::from_millis(1500)),
            times: JobTimes {
                creation: at(1_700_000_000_123),
                modification: at(1_700_000_000_456),
                transfer_completion: None,
            },
            file_count: 3,
            min_retry_delay: 600,
            no_progress_timeout: 1_209_600,
            notify_flags: NotifyFlags(0x1B),
            min_notification_interval: 500,
            notify_cmdline: Some(NotifyCmdLine {
                program: "/bin/true".into(),
                parameters: None,
            }),
            max_bandwidth: u64::MAX - 1,
            max_download_time: 7_776_000,
            max_download_size: 0,
            max_connections: 6,
            dynamic_content: true,
            yielding: false,
            low_speed_limit: (100, 30),
            custom_headers: Some("X-A: 1\r\n".into()),
            proxy: ProxySetting::Url("socks5://p:1080".into()),
            ca_file: Some("/etc/ca.pem".into()),
            client_certificate: Some(("/c.pem".into(), "/k.pem".into())),
            stall_timeout: 60,
            security_flags: SecurityFlags(0x0100),
            job_type: JobType::UploadReply,
            upload_protocol: Some(UploadProtocol::Rufh),
            reply_file_name: Some("/home/u/reply.json".into()),
            reply_progress: Some(ReplyProgress {
                bytes_total: Some(9),
                bytes_transferred: 9,
            }),
            taken: Some(Taken {
                run: 0xdead_beef,
                number: 1 << 40,
            }),
        }
    }

    #[test]
    fn a_snapshot_read_earlier_in_the_same_run_is_older() {
        let at = |run, number| JobSnapshot {
            taken: Some(Taken { run, number }),
            ..sample_job()
        };
        assert!(at(1, 5).not_older_than(&at(1, 5)));
        assert!(at(1, 6).not_older_than(&at(1, 5)));
        assert!(!at(1, 4).not_older_than(&at(1, 5)));
        // Another run (the daemon started again), or a daemon that does
        // not say: nothing to compare.
        assert!(at(2, 1).not_older_than(&at(1, 5)));
        let unsaid = JobSnapshot {
            taken: None,
            ..sample_job()
        };
        assert!(unsaid.not_older_than(&at(1, 5)));
        assert!(at(1, 1).not_older_than(&unsaid));
    }

    #[test]
    fn a_job_round_trips() {
        let job = sample_job();
        let json = encode_job(&job);
        assert_eq!(json["progress"]["bytes_total"], json!(u64::MAX));
        assert_eq!(json["times"]["transfer_completion"], Value::Null);
        assert_eq!(decode_job(&json, "job").unwrap(), job);
        // Through text too, as it travels.
        let text = serde_json::to_string(&json).unwrap();
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(decode_job(&back, "job").unwrap(), job);

        let mut calm = sample_job();
        calm.state = JobState::Suspended;
        calm.status = JobStatus {
            complete: true,
            error: false,
            foreground: true,
            win32_result: 0,
            transport_result: 0,
            num_retries: 0,
        };
        calm.error = None;
        calm.next_retry = None;
        calm.notify_cmdline = None;
        calm.custom_headers = None;
        calm.proxy = ProxySetting::Direct;
        calm.ca_file = None;
        calm.client_certificate = None;
        calm.times.transfer_completion = Some(at(5));
        calm.progress.bytes_total = Some(0);
        calm.progress.eta_seconds = None;
        assert_eq!(decode_job(&encode_job(&calm), "job").unwrap(), calm);
    }

    #[test]
    fn files_events_settings_and_specs_round_trip() {
        let file = FileSnapshot {
            index: 4,
            remote: "https://h/x".into(),
            local: "/tmp/x".into(),
            size_hint: 9,
            sha256: Some("ab".repeat(32)),
            progress: FileProgress {
                bytes_total: Some(10),
                bytes_transferred: 3,
                completed: false,
            },
            final_url: "https://m/x".into(),
            temporary_name: Some("/tmp/.x.qmgr-part".into()),
            response_headers: Some("etag: \"1\"\r\n".into()),
            ranges: vec![
                FileRange {
                    offset: 0,
                    length: crate::LENGTH_TO_EOF,
                },
                FileRange {
                    offset: 5,
                    length: 1,
                },
            ],
            delta: Some(DeltaSource {
                seeds: vec!["/var/old.img".into()],
                control_url: Some("https://m/x.zsync".into()),
            }),
            delta_status: DeltaStatus {
                way: DeltaWay::Delta,
                bytes_from_seeds: 7,
                reason: String::new(),
            },
        };
        assert_eq!(decode_file(&encode_file(&file), "f").unwrap(), file);

        let event = Event {
            event: NotifyEvent {
                kind: NotifyFlags::JOB_MODIFICATION,
                file_index: u32::MAX,
                code: HResult(QM_BG_E_NOT_FOUND),
            },
            job: sample_job(),
        };
        assert_eq!(decode_event(&encode_event(&event), "event").unwrap(), event);

        let settings = Settings {
            max_active_jobs: 4,
            max_bandwidth: 0,
            max_connections: 24,
            max_connections_per_server: 6,
        };
        assert_eq!(
            decode_settings(&encode_settings(&settings), "s").unwrap(),
            settings
        );
        let change = SettingsChange {
            max_bandwidth: Some(7),
            ..SettingsChange::default()
        };
        let json = encode_settings_change(&change);
        assert_eq!(json, json!({"max_bandwidth": 7}));
        assert_eq!(decode_settings_change(&json, "change").unwrap(), change);

        let spec = FileSpec {
            remote: "file:///a".into(),
            local: "/b".into(),
            size_hint: 0,
        };
        let json = encode_file_spec(&spec);
        assert!(json.get("size_hint").is_none());
        assert_eq!(decode_file_spec(&json, "f").unwrap(), spec);
    }

    #[test]
    fn every_change_round_trips() {
        let changes = vec![
            Change::DisplayName("n".into()),
            Change::Description("".into()),
            Change::Priority(Priority::Foreground),
            Change::MinRetryDelay(5),
            Change::NoProgressTimeout(0),
            Change::NotifyFlags(0x1F),
            Change::MinNotificationInterval(250),
            Change::NotifyCmdLine(Some(NotifyCmdLine {
                program: "/p".into(),
                parameters: Some("p a".into()),
            })),
            Change::NotifyCmdLine(None),
            Change::MaxBandwidth(u64::MAX),
            Change::MaxDownloadTime(1),
            Change::MaxDownloadSize(2),
            Change::MaxConnections(3),
            Change::DynamicContent(false),
            Change::Yielding(false),
            Change::Yielding(true),
            Change::LowSpeedLimit {
                bytes_per_second: 1,
                seconds: 2,
            },
            Change::CustomHeaders(Some("A: b\r\n".into())),
            Change::CustomHeaders(None),
            Change::Credentials(Some(("u".into(), "p".into()))),
            Change::Credentials(None),
            Change::Proxy(ProxySetting::FromEnvironment),
            Change::Proxy(ProxySetting::Direct),
            Change::Proxy(ProxySetting::Url("http://p".into())),
            Change::CaFile(Some("/ca".into())),
            Change::CaFile(None),
            Change::ClientCertificate(Some(("/c".into(), "/k".into()))),
            Change::ClientCertificate(None),
            Change::StallTimeout(9),
            Change::SecurityFlags(0x200),
        ];
        for change in changes {
            let json = encode_change(&change);
            assert_eq!(json.as_object().unwrap().len(), 1, "{json}");
            assert_eq!(decode_change(&json, "change").unwrap(), change, "{json}");
        }
    }

    #[test]
    fn failures_keep_their_code_and_message() {
        let error = Error {
            code: HResult(QM_BG_E_NOT_FOUND),
            message: "no job with id x".into(),
        };
        let reply = failed(&error);
        assert_eq!(reply.error.as_deref(), Some("io.qmgr.Failed"));
        assert_eq!(decode_failed(&reply.parameters).unwrap(), error);
        // The unsigned spelling of a code is the same code.
        let unsigned = json!({"code": 0x8020_0001_u32, "message": "m"});
        assert_eq!(
            decode_failed(unsigned.as_object().unwrap()).unwrap().code,
            HResult(0x8020_0001_u32 as i32)
        );
        let bad = json!({"code": 1_u64 << 33, "message": "m"});
        assert_eq!(
            decode_failed(bad.as_object().unwrap()).unwrap_err(),
            Invalid::new("code")
        );
    }

    #[test]
    fn malformed_values_name_the_parameter() {
        let bad = |value: Value, decode: fn(&Value, &str) -> Decoded<()>| {
            decode(&value, "p").unwrap_err().parameter
        };
        let change = |v: &Value, p: &str| decode_change(v, p).map(|_| ());
        let job = |v: &Value, p: &str| decode_job(v, p).map(|_| ());
        let spec = |v: &Value, p: &str| decode_file_spec(v, p).map(|_| ());
        let range = |v: &Value, p: &str| decode_range(v, p).map(|_| ());
        let proxy = |v: &Value, p: &str| decode_proxy(v, p).map(|_| ());
        assert_eq!(bad(json!({}), change), "p");
        assert_eq!(bad(json!({"description": "a", "priority": 1}), change), "p");
        assert_eq!(bad(json!({"priority": 9}), change), "p.priority");
        assert_eq!(bad(json!({"priority": -1}), change), "p.priority");
        assert_eq!(
            bad(json!({"max_connections": 1_u64 << 32}), change),
            "p.max_connections"
        );
        assert_eq!(
            bad(json!({"clear_ca_file": "yes"}), change),
            "p.clear_ca_file"
        );
        assert_eq!(bad(json!({"clear_ca_file": false}), change), "p");
        assert_eq!(
            bad(json!({"credentials": {"user": "u"}}), change),
            "p.credentials.password"
        );
        assert_eq!(bad(json!("x"), change), "p");
        assert_eq!(bad(json!({"remote": "r"}), spec), "p.local");
        assert_eq!(bad(json!({"remote": 1, "local": "l"}), spec), "p.remote");
        assert_eq!(bad(json!({"offset": 1.5, "length": 1}), range), "p.offset");
        assert_eq!(bad(json!({"kind": "url"}), proxy), "p.url");
        assert_eq!(bad(json!({"kind": "socks"}), proxy), "p.kind");

        let mut json = encode_job(&sample_job());
        json["state"] = json!(9);
        assert_eq!(bad(json.clone(), job), "p.state");
        json["state"] = json!(0);
        json["id"] = json!("not-a-guid");
        assert_eq!(bad(json.clone(), job), "p.id");
        json["id"] = json!("0f8fad5b-d9cb-469f-a165-70867728950e");
        json["error"]["context"] = json!(99);
        assert_eq!(bad(json.clone(), job), "p.error.context");
        json["error"] = Value::Null;
        json["times"]["creation"] = json!("now");
        assert_eq!(bad(json, job), "p.times.creation");

        let list = decode_list(
            &[json!({"remote": "a", "local": "b"}), json!({"remote": "a"})],
            "files",
            decode_file_spec,
        );
        assert_eq!(list.unwrap_err().parameter, "files[1].local");
    }
}
