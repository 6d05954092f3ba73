//! Constants of `qmgr.h` with BITS's values (`reference/BITS.md`).
//! The engine's enums carry the same numbers; a test keeps them equal.

/// `qm_job_get_progress`: whole percent of the job's bytes transferred.
pub const QM_PROGRESS_PERCENT_DONE: u32 = 1;
/// `qm_job_get_progress`: not supported (`QM_E_NOTIMPL`); see `qm_job_get_progress_ex`.
pub const QM_PROGRESS_TIME_DONE: u32 = 2;
/// `qm_job_get_progress`: bytes transferred over all files.
pub const QM_PROGRESS_SIZE_DONE: u32 = 3;

/// BITS's `QM_STATUS_FILE_COMPLETE`, kept for its number (qmgr reports job status only).
pub const QM_STATUS_FILE_COMPLETE: u32 = 0x1;
/// BITS's `QM_STATUS_FILE_INCOMPLETE` (qmgr reports jobs only).
pub const QM_STATUS_FILE_INCOMPLETE: u32 = 0x2;
/// Every file of the job is transferred.
pub const QM_STATUS_JOB_COMPLETE: u32 = 0x4;
/// Some file of the job is not transferred yet.
pub const QM_STATUS_JOB_INCOMPLETE: u32 = 0x8;
/// The job is in ERROR or TRANSIENT_ERROR.
pub const QM_STATUS_JOB_ERROR: u32 = 0x10;
/// The job's priority is FOREGROUND.
pub const QM_STATUS_JOB_FOREGROUND: u32 = 0x20;
/// BITS's group status bits, kept for their numbers (qmgr has no groups).
pub const QM_STATUS_GROUP_COMPLETE: u32 = 0x40;
/// See `QM_STATUS_GROUP_COMPLETE`.
pub const QM_STATUS_GROUP_INCOMPLETE: u32 = 0x80;
/// See `QM_STATUS_GROUP_COMPLETE`.
pub const QM_STATUS_GROUP_SUSPENDED: u32 = 0x100;
/// See `QM_STATUS_GROUP_COMPLETE`.
pub const QM_STATUS_GROUP_ERROR: u32 = 0x200;
/// See `QM_STATUS_GROUP_COMPLETE`.
pub const QM_STATUS_GROUP_FOREGROUND: u32 = 0x400;

/// Waiting for a transfer slot.
pub const QM_JOB_STATE_QUEUED: u32 = 0;
/// Opening its connection.
pub const QM_JOB_STATE_CONNECTING: u32 = 1;
/// Moving bytes.
pub const QM_JOB_STATE_TRANSFERRING: u32 = 2;
/// Suspended (new jobs start here); `qm_job_resume` queues it.
pub const QM_JOB_STATE_SUSPENDED: u32 = 3;
/// A fatal error: `qm_job_get_error` says which; a resume retries.
pub const QM_JOB_STATE_ERROR: u32 = 4;
/// A transient error: retried after the retry delay.
pub const QM_JOB_STATE_TRANSIENT_ERROR: u32 = 5;
/// Every file transferred: `qm_job_complete` puts them in place.
pub const QM_JOB_STATE_TRANSFERRED: u32 = 6;
/// Completed (final).
pub const QM_JOB_STATE_ACKNOWLEDGED: u32 = 7;
/// Cancelled (final).
pub const QM_JOB_STATE_CANCELLED: u32 = 8;

/// A download job (`BG_JOB_TYPE_DOWNLOAD`): what `qm_job_create` makes.
pub const QM_JOB_TYPE_DOWNLOAD: u32 = 0;
/// An upload job (`BG_JOB_TYPE_UPLOAD`): one local file to a remote name.
pub const QM_JOB_TYPE_UPLOAD: u32 = 1;
/// An upload job whose server replies (`BG_JOB_TYPE_UPLOAD_REPLY`).
pub const QM_JOB_TYPE_UPLOAD_REPLY: u32 = 2;

/// tus 1.0.0, the default upload protocol (see `qm_job_set_upload_protocol`).
pub const QM_UPLOAD_PROTOCOL_TUS: u32 = 0;
/// The IETF resumable-upload draft (-12, interop 8), experimental.
pub const QM_UPLOAD_PROTOCOL_RUFH: u32 = 1;
/// The longest reply kept in memory (`qm_job_get_reply_data`): BITS's 1 MB.
pub const QM_MAX_REPLY_DATA: u64 = 1_048_576;

/// Runs first, preempts background jobs, ignores the manager's bandwidth limit.
pub const QM_PRIORITY_FOREGROUND: u32 = 0;
/// The highest background priority.
pub const QM_PRIORITY_HIGH: u32 = 1;
/// The default priority.
pub const QM_PRIORITY_NORMAL: u32 = 2;
/// The lowest priority.
pub const QM_PRIORITY_LOW: u32 = 3;

/// Event and flag: every file of the job is transferred.
pub const QM_NOTIFY_JOB_TRANSFERRED: u32 = 0x1;
/// Event and flag: the job went to ERROR (the callback gets the code).
pub const QM_NOTIFY_JOB_ERROR: u32 = 0x2;
/// Flag: no events at all.
pub const QM_NOTIFY_DISABLE: u32 = 0x4;
/// Event and flag: state, files, properties or progress changed.
pub const QM_NOTIFY_JOB_MODIFICATION: u32 = 0x8;
/// Event and flag: one file is transferred (the callback gets its index).
pub const QM_NOTIFY_FILE_TRANSFERRED: u32 = 0x10;

/// `qm_manager_enum_jobs_ex`: every user's jobs, not only the caller's
/// (BITS's `BG_JOB_ENUM_ALL_USERS`; administrators of a daemon only).
pub const QM_ENUM_ALL_USERS: u32 = 0x0001;

/// No error.
pub const QM_ERROR_CONTEXT_NONE: u32 = 0;
/// Where the error happened is not known.
pub const QM_ERROR_CONTEXT_UNKNOWN: u32 = 1;
/// In the queue manager (e.g. the maximum download time ran out).
pub const QM_ERROR_CONTEXT_GENERAL_QUEUE_MANAGER: u32 = 2;
/// While notifying (the notify program).
pub const QM_ERROR_CONTEXT_QUEUE_MANAGER_NOTIFICATION: u32 = 3;
/// With the local file (its directory, the disk).
pub const QM_ERROR_CONTEXT_LOCAL_FILE: u32 = 4;
/// With the remote file (the server's answer).
pub const QM_ERROR_CONTEXT_REMOTE_FILE: u32 = 5;
/// In the transport (the network, TLS, a proxy).
pub const QM_ERROR_CONTEXT_GENERAL_TRANSPORT: u32 = 6;
/// In the server application.
pub const QM_ERROR_CONTEXT_REMOTE_APPLICATION: u32 = 7;

/// `qm_job_set_security_flags`: check revocation (`BG_SSL_ENABLE_CRL_CHECK`; refused, `QM_E_NOTIMPL`).
pub const QM_SSL_ENABLE_CRL_CHECK: u32 = 0x0001;
/// `BG_SSL_IGNORE_CERT_CN_INVALID` (refused, `QM_E_NOTIMPL`).
pub const QM_SSL_IGNORE_CERT_CN_INVALID: u32 = 0x0002;
/// `BG_SSL_IGNORE_CERT_DATE_INVALID` (refused, `QM_E_NOTIMPL`).
pub const QM_SSL_IGNORE_CERT_DATE_INVALID: u32 = 0x0004;
/// `BG_SSL_IGNORE_UNKNOWN_CA` (refused, `QM_E_NOTIMPL`; use `qm_job_set_ca_file`).
pub const QM_SSL_IGNORE_UNKNOWN_CA: u32 = 0x0008;
/// `BG_SSL_IGNORE_CERT_WRONG_USAGE` (refused, `QM_E_NOTIMPL`).
pub const QM_SSL_IGNORE_CERT_WRONG_USAGE: u32 = 0x0010;
/// The bits of the redirect policy in the security flags.
pub const QM_HTTP_REDIRECT_POLICY_MASK: u32 = 0x0700;
/// Redirects are followed (the default).
pub const QM_HTTP_REDIRECT_POLICY_ALLOW_SILENT: u32 = 0x0000;
/// Redirects are followed and reported by `qm_job_get_file_final_url` (the remote name stays the caller's, unlike BITS).
pub const QM_HTTP_REDIRECT_POLICY_ALLOW_REPORT: u32 = 0x0100;
/// A redirect is fatal (`QM_E_WINHTTP_REDIRECT_FAILED`); `qm_job_get_file_final_url` names where it pointed, the remote name stays the caller's.
pub const QM_HTTP_REDIRECT_POLICY_DISALLOW: u32 = 0x0200;
/// A file whose remote name is `https://` may be redirected to plain HTTP, without credentials or custom headers (refused without it).
pub const QM_HTTP_REDIRECT_POLICY_ALLOW_HTTPS_TO_HTTP: u32 = 0x0800;

/// A size (or ETA) that is not known yet.
pub const QM_SIZE_UNKNOWN: u64 = u64::MAX;

/// The `length` of a `qm_file_range` that runs to the end of the remote
/// file (BITS's `BG_LENGTH_TO_EOF`, `(UINT64)-1`).
pub const QM_LENGTH_TO_EOF: u64 = u64::MAX;

/// `qm_file_delta_status.way`: the file has no seeds, a plain download.
pub const QM_DELTA_WAY_NONE: u32 = 0;
/// Not decided yet: the control file has not been read.
pub const QM_DELTA_WAY_PENDING: u32 = 1;
/// Blocks came from the seeds; the rest was fetched as ranges.
pub const QM_DELTA_WAY_DELTA: u32 = 2;
/// A full download after all; `qm_job_get_file_delta_reason` says why.
pub const QM_DELTA_WAY_FULL: u32 = 3;
/// `qm_job_wait` timeout that never expires.
pub const QM_WAIT_INFINITE: u32 = u32::MAX;
/// The `file_index` of errors and events that concern the whole job.
pub const QM_FILE_INDEX_NONE: u32 = u32::MAX;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::types::*;

    #[test]
    fn c_constants_match_the_engine() {
        let states = [
            QM_JOB_STATE_QUEUED,
            QM_JOB_STATE_CONNECTING,
            QM_JOB_STATE_TRANSFERRING,
            QM_JOB_STATE_SUSPENDED,
            QM_JOB_STATE_ERROR,
            QM_JOB_STATE_TRANSIENT_ERROR,
            QM_JOB_STATE_TRANSFERRED,
            QM_JOB_STATE_ACKNOWLEDGED,
            QM_JOB_STATE_CANCELLED,
        ];
        for (value, state) in states.iter().zip(JobState::ALL) {
            assert_eq!(*value, state as u32);
        }
        assert_eq!(QM_PRIORITY_FOREGROUND, Priority::Foreground as u32);
        assert_eq!(QM_PRIORITY_LOW, Priority::Low as u32);
        assert_eq!(QM_NOTIFY_FILE_TRANSFERRED, NotifyFlags::FILE_TRANSFERRED);
        assert_eq!(QM_NOTIFY_DISABLE, NotifyFlags::DISABLE);
        assert_eq!(QM_STATUS_JOB_FOREGROUND, JobStatus::JOB_FOREGROUND);
        assert_eq!(QM_STATUS_JOB_ERROR, JobStatus::JOB_ERROR);
        assert_eq!(
            QM_ERROR_CONTEXT_REMOTE_APPLICATION,
            ErrorContext::RemoteApplication as u32
        );
        assert_eq!(QM_ERROR_CONTEXT_LOCAL_FILE, ErrorContext::LocalFile as u32);
        assert_eq!(QM_SSL_ENABLE_CRL_CHECK, SecurityFlags::SSL_ENABLE_CRL_CHECK);
        assert_eq!(
            QM_SSL_IGNORE_CERT_CN_INVALID,
            SecurityFlags::SSL_IGNORE_CERT_CN_INVALID
        );
        assert_eq!(
            QM_SSL_IGNORE_CERT_DATE_INVALID,
            SecurityFlags::SSL_IGNORE_CERT_DATE_INVALID
        );
        assert_eq!(
            QM_SSL_IGNORE_UNKNOWN_CA,
            SecurityFlags::SSL_IGNORE_UNKNOWN_CA
        );
        assert_eq!(
            QM_SSL_IGNORE_CERT_WRONG_USAGE,
            SecurityFlags::SSL_IGNORE_CERT_WRONG_USAGE
        );
        assert_eq!(
            QM_HTTP_REDIRECT_POLICY_MASK,
            SecurityFlags::REDIRECT_POLICY_MASK
        );
        assert_eq!(
            QM_HTTP_REDIRECT_POLICY_ALLOW_SILENT,
            SecurityFlags::REDIRECT_POLICY_ALLOW_SILENT
        );
        assert_eq!(
            QM_HTTP_REDIRECT_POLICY_ALLOW_REPORT,
            SecurityFlags::REDIRECT_POLICY_ALLOW_REPORT
        );
        assert_eq!(
            QM_HTTP_REDIRECT_POLICY_DISALLOW,
            SecurityFlags::REDIRECT_POLICY_DISALLOW
        );
        assert_eq!(
            QM_HTTP_REDIRECT_POLICY_ALLOW_HTTPS_TO_HTTP,
            SecurityFlags::REDIRECT_POLICY_ALLOW_HTTPS_TO_HTTP
        );
        use crate::DeltaWay;
        assert_eq!(QM_DELTA_WAY_NONE, DeltaWay::None as u32);
        assert_eq!(QM_DELTA_WAY_PENDING, DeltaWay::Pending as u32);
        assert_eq!(QM_DELTA_WAY_DELTA, DeltaWay::Delta as u32);
        assert_eq!(QM_DELTA_WAY_FULL, DeltaWay::Full as u32);
    }
}
