//! The model as rows and back: what a job and its files look like in the
//! state directory.

use std::path::{Path, PathBuf};

use crate::engine::model::job::{JobModel, StoredFile, StoredJob};
use crate::engine::model::ledger::RangeSet;
use crate::engine::store::records::{FileRecord, JobRecord};
use crate::engine::transport::url::redact;
use crate::engine::types::{epoch_ms, from_epoch_ms, ErrorContext, JobError, JobId, NotifyCmdLine};
use crate::hresult::HResult;

/// A job's row.
pub(crate) fn job_record(job: &JobModel) -> JobRecord {
    let times = job.times();
    JobRecord {
        id: job.id().0,
        owner: job.owner(),
        created_order: job.created_order(),
        display_name: job.display_name().to_string(),
        description: job.description().to_string(),
        state: job.state() as u32,
        priority: job.priority() as u32,
        retry_delay: job.retry_delay(),
        no_progress_timeout: job.no_progress_timeout(),
        notify_flags: job.notify_flags().0,
        max_bandwidth: job.max_bandwidth(),
        num_retries: job.num_retries(),
        queue_seq: job.queue_seq(),
        created_ms: epoch_ms(times.creation),
        modified_ms: epoch_ms(times.modification),
        completed_ms: times.transfer_completion.map(epoch_ms),
        retry_ms: job.retry_wall().map(epoch_ms),
        error: job.last_error().map(|e| {
            (
                e.code.0,
                e.context as u32,
                e.file_index,
                e.http_status,
                e.description.clone(),
            )
        }),
        http_options: job.http().clone(),
        max_download_size: job.max_download_size(),
        low_speed_limit: job.low_speed_limit(),
        committing: job.committing(),
        max_connections: job.max_connections(),
        max_download_time: job.max_download_time(),
        dynamic_content: job.dynamic_content(),
        yielding: job.yielding(),
        notify_cmdline: job
            .notify_cmdline()
            .map(|c| (c.program.clone(), c.parameters.clone())),
        min_notification_interval: job.min_notification_interval(),
        kind: job.kind(),
        upload: job.upload().cloned(),
    }
}

/// The row of file `index` of a job.
pub(crate) fn file_record(job: &JobModel, index: usize) -> FileRecord {
    let f = &job.files()[index];
    let text = |p: &Path| p.to_string_lossy().into_owned();
    FileRecord {
        index: index as u32,
        remote: f.remote().to_string(),
        local: text(f.local()),
        size_hint: f.size_hint(),
        temp: f.temp().map(text),
        validator: f.validator().cloned(),
        sha256: f.sha256(),
        total: f.ledger().total(),
        durable: f.ledger().durable().to_string(),
        wanted: f.ranges().cloned(),
        completed: f.completed(),
        committed: f.committed(),
        delta: f.delta().cloned(),
    }
}

/// What the runtime found on disk for a stored file: the length of its
/// temporary file (`None`: missing, not a regular file, or not a name qmgr
/// gives its temporary files beside this local name) and, when asked, of
/// the file at its local name.
pub(crate) struct OnDisk {
    pub temp_len: Option<u64>,
    pub local_len: Option<u64>,
}

/// A job as the model restores it, from its rows and what `look` finds on
/// disk for each file (`look(temp, local, want_local)`). A malformed ledger
/// counts as nothing durable: the file is fetched again.
pub(crate) fn stored_job(
    job: JobRecord,
    files: Vec<FileRecord>,
    look: impl Fn(Option<&Path>, &Path, bool) -> OnDisk,
) -> StoredJob {
    let committing = job.committing;
    StoredJob {
        id: JobId(job.id),
        owner: job.owner,
        created_order: job.created_order,
        display_name: job.display_name,
        description: job.description,
        state: job.state,
        priority: job.priority,
        retry_delay: job.retry_delay,
        no_progress_timeout: job.no_progress_timeout,
        notify_flags: job.notify_flags,
        max_bandwidth: job.max_bandwidth,
        num_retries: job.num_retries,
        queue_seq: job.queue_seq,
        created: from_epoch_ms(job.created_ms),
        modified: from_epoch_ms(job.modified_ms),
        transfer_completed: job.completed_ms.map(from_epoch_ms),
        retry_at: job.retry_ms.map(from_epoch_ms),
        error: job.error.map(
            |(code, context, file_index, http_status, description)| JobError {
                code: HResult(code),
                context: ErrorContext::from_u32(context).unwrap_or(ErrorContext::Unknown),
                file_index,
                http_status,
                // A description an older release stored may carry a password.
                description: redact(&description).into_owned(),
            },
        ),
        http: job.http_options,
        max_download_size: job.max_download_size,
        max_connections: job.max_connections,
        max_download_time: job.max_download_time,
        dynamic_content: job.dynamic_content,
        yielding: job.yielding,
        notify_cmdline: job
            .notify_cmdline
            .map(|(program, parameters)| NotifyCmdLine {
                program,
                parameters,
            }),
        min_notification_interval: job.min_notification_interval,
        low_speed_limit: job.low_speed_limit,
        committing,
        kind: job.kind,
        upload: job.upload,
        files: files
            .into_iter()
            .map(|f| {
                let temp = f.temp.map(PathBuf::from);
                let local = PathBuf::from(f.local);
                let found = look(temp.as_deref(), &local, committing && f.completed);
                StoredFile {
                    on_disk: found.temp_len,
                    local_len: found.local_len,
                    remote: f.remote,
                    local,
                    size_hint: f.size_hint,
                    temp,
                    validator: f.validator,
                    sha256: f.sha256,
                    total: f.total,
                    durable: f.durable.parse().unwrap_or_else(|_| RangeSet::new()),
                    completed: f.completed,
                    committed: f.committed,
                    ranges: f.wanted,
                    delta: f.delta,
                }
            })
            .collect(),
    }
}
