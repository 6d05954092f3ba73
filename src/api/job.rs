//! The API's `Job`: a reference to a job of a local manager (the engine's
//! job) or of a daemon (the proxy's), with the methods and documentation
//! of the engine's. Every method is one `delegate!` line (see `api`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::engine::error::Result;
use crate::engine::runtime::notify::BoundCallback;
use crate::engine::runtime::shared::Job as LocalJob;
use crate::engine::transport::options::ProxySetting;
use crate::engine::types::*;
use crate::hresult::HResult;
#[cfg(feature = "service")]
use crate::proxy::RemoteJob;

/// A notification callback of the Rust API.
pub type NotifyCallback = Arc<dyn Fn(&Job, &NotifyEvent) + Send + Sync>;

/// A reference to a job. Cloning it is cheap; every clone sees the same job.
/// The job lives in its manager until it is completed or cancelled, whether
/// or not any reference is held; a final job stays readable through the
/// references to it.
#[derive(Clone)]
pub struct Job {
    backend: Backend,
}

/// Where a job lives.
#[derive(Clone)]
enum Backend {
    /// In this process's engine.
    Local(LocalJob),
    /// In a daemon, through the proxy.
    #[cfg(feature = "service")]
    Remote(RemoteJob),
}

impl Job {
    /// The API's handle of an engine job.
    pub(crate) fn local(job: LocalJob) -> Job {
        Job {
            backend: Backend::Local(job),
        }
    }

    /// The API's handle of a daemon's job.
    #[cfg(feature = "service")]
    pub(crate) fn remote(job: RemoteJob) -> Job {
        Job {
            backend: Backend::Remote(job),
        }
    }
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.backend {
            Backend::Local(job) => job.fmt(f),
            #[cfg(feature = "service")]
            Backend::Remote(job) => job.fmt(f),
        }
    }
}

/// Two references are equal when they refer to the same job of the same
/// manager.
impl PartialEq for Job {
    fn eq(&self, other: &Job) -> bool {
        match (&self.backend, &other.backend) {
            (Backend::Local(a), Backend::Local(b)) => a == b,
            #[cfg(feature = "service")]
            (Backend::Remote(a), Backend::Remote(b)) => a == b,
            #[cfg(feature = "service")]
            _ => false,
        }
    }
}

impl Job {
    /// The job's GUID.
    #[inline]
    pub fn id(&self) -> JobId {
        delegate!(self.id())
    }

    /// The current state; lock-free.
    #[inline]
    pub fn state(&self) -> JobState {
        delegate!(self.state())
    }

    /// Bytes transferred over all files; lock-free (`QM_PROGRESS_SIZE_DONE`).
    #[inline]
    pub fn bytes_transferred(&self) -> u64 {
        delegate!(self.bytes_transferred())
    }

    /// Whole percent of the job's bytes transferred, `floor(100 * done / total)`;
    /// 0 while the total is unknown or zero; lock-free (`QM_PROGRESS_PERCENT_DONE`).
    #[inline]
    pub fn percent_done(&self) -> u64 {
        delegate!(self.percent_done())
    }

    /// The job's progress, with rate and ETA: every number from one
    /// moment (a coherent snapshot); lock-free.
    #[inline]
    pub fn progress(&self) -> JobProgress {
        delegate!(self.progress())
    }

    /// Number of files in the job; lock-free.
    #[inline]
    pub fn file_count(&self) -> u32 {
        delegate!(self.file_count())
    }

    /// The remote name of file `index`: what the caller asked for, as
    /// added or last set by `set_file_remote_name` or
    /// `replace_remote_prefix`, never changed by a redirect.
    pub fn file_remote_name(&self, index: u32) -> Result<String> {
        delegate!(self.file_remote_name(index))
    }

    /// The local name of file `index`.
    pub fn file_local_name(&self, index: u32) -> Result<String> {
        delegate!(self.file_local_name(index))
    }

    /// The size hint file `index` was added with (0: none).
    pub fn file_size_hint(&self, index: u32) -> Result<u64> {
        delegate!(self.file_size_hint(index))
    }

    /// The SHA-256 file `index` must have, in lower-case hex, if one is set.
    pub fn file_sha256(&self, index: u32) -> Result<Option<String>> {
        delegate!(self.file_sha256(index))
    }

    /// Progress of file `index`.
    pub fn file_progress(&self, index: u32) -> Result<FileProgress> {
        delegate!(self.file_progress(index))
    }

    /// The seeds and control file of file `index`'s delta download, if it
    /// has seeds.
    pub fn file_delta(&self, index: u32) -> Result<Option<DeltaSource>> {
        delegate!(self.file_delta(index))
    }

    /// How file `index`'s delta download went: which way, and how many
    /// bytes came from the seeds (`DeltaWay::None` for a file without).
    pub fn file_delta_status(&self, index: u32) -> Result<DeltaStatus> {
        delegate!(self.file_delta_status(index))
    }

    /// `GetStatus`: flags and the last error's numbers (zero unless in an error state).
    pub fn status(&self) -> JobStatus {
        delegate!(self.status())
    }

    /// The last error, while the job is in ERROR or TRANSIENT_ERROR
    /// (`QM_BG_E_ERROR_INFORMATION_UNAVAILABLE` otherwise).
    pub fn error(&self) -> Result<JobError> {
        delegate!(self.error())
    }

    /// While the job is in TRANSIENT_ERROR, how long until it retries (its
    /// retry delay, or the server's Retry-After when longer); `None` in
    /// any other state.
    pub fn next_retry_in(&self) -> Option<Duration> {
        delegate!(self.next_retry_in())
    }

    /// Creation, modification and transfer-completion times.
    pub fn times(&self) -> JobTimes {
        delegate!(self.times())
    }

    /// The display name.
    pub fn display_name(&self) -> String {
        delegate!(self.display_name())
    }

    /// The description.
    pub fn description(&self) -> String {
        delegate!(self.description())
    }

    /// The priority.
    pub fn priority(&self) -> Priority {
        delegate!(self.priority())
    }

    /// The minimum retry delay in seconds.
    pub fn min_retry_delay(&self) -> u32 {
        delegate!(self.min_retry_delay())
    }

    /// The no-progress timeout in seconds.
    pub fn no_progress_timeout(&self) -> u32 {
        delegate!(self.no_progress_timeout())
    }

    /// The notification flags.
    pub fn notify_flags(&self) -> NotifyFlags {
        delegate!(self.notify_flags())
    }

    /// The job's own bandwidth limit in bytes per second (0: none).
    pub fn max_bandwidth(&self) -> u64 {
        delegate!(self.max_bandwidth())
    }

    /// The custom headers as set, `None` when there are none.
    pub fn custom_headers(&self) -> Option<String> {
        delegate!(self.custom_headers())
    }

    /// The proxy setting.
    pub fn proxy(&self) -> ProxySetting {
        delegate!(self.proxy())
    }

    /// The CA file set by `set_ca_file`, `None` for the system's roots.
    pub fn ca_file(&self) -> Option<PathBuf> {
        delegate!(self.ca_file())
    }

    /// The client certificate and key files set by
    /// `set_client_certificate` (their paths, never what they hold).
    pub fn client_certificate(&self) -> Option<(PathBuf, PathBuf)> {
        delegate!(self.client_certificate())
    }

    /// The stall timeout in seconds.
    pub fn stall_timeout(&self) -> u32 {
        delegate!(self.stall_timeout())
    }

    /// The job's HTTP security flags (the redirect policy).
    pub fn security_flags(&self) -> SecurityFlags {
        delegate!(self.security_flags())
    }

    /// The URL file `index`'s last response came from: its remote name,
    /// unless redirects led elsewhere, or where a refused redirect pointed
    /// (under every redirect policy). A report only: never fetched from,
    /// never a scope for credentials, never stored.
    pub fn file_final_url(&self, index: u32) -> Result<String> {
        delegate!(self.file_final_url(index))
    }

    /// The temporary file holding file `index`'s bytes until `complete`
    /// (BITS's `IBackgroundCopyFile3::GetTemporaryName`): `None` before the
    /// transfer created it and once the file is in place or cancelled.
    pub fn file_temporary_name(&self, index: u32) -> Result<Option<PathBuf>> {
        delegate!(self.file_temporary_name(index))
    }

    /// The header lines of the last HTTP response for file `index`, one
    /// `name: value\r\n` each (names in lower case), as BITS's
    /// `BITS_FILE_PROPERTY_ID_HTTP_RESPONSE_HEADERS` gives them; `None`
    /// before a response (and for local files). Kept in memory only.
    pub fn file_response_headers(&self, index: u32) -> Result<Option<String>> {
        delegate!(self.file_response_headers(index))
    }

    /// Appends files, all or none (`AddFiles`). Sources must be http(s)://,
    /// file:// or absolute paths; local names absolute and unique in the job,
    /// in a directory that exists (`QM_E_PATH_NOT_FOUND` otherwise) and this
    /// process may write (`QM_E_ACCESSDENIED`), the error naming it.
    /// A TRANSFERRED job goes back to QUEUED.
    pub fn add_files(&self, files: &[FileSpec]) -> Result<()> {
        delegate!(self.add_files(files))
    }

    /// Adds one file of which only `ranges` of the remote file are wanted
    /// (BITS's `IBackgroundCopyJob3::AddFileWithRanges`): the ranges are
    /// written one after another to the local file, in the order given
    /// (remote bytes 100-199, 900-999 and 400-499 make a 300-byte file).
    /// Each range is its own request (`Range` with `If-Range`); at transfer
    /// time a range outside the remote file fails the job with
    /// `QM_BG_E_INVALID_RANGE`, a server that answers without ranges with
    /// `QM_BG_E_INSUFFICIENT_RANGE_SUPPORT`, one that answers another range
    /// than asked (e.g. merged ranges) with `QM_BG_E_INVALID_SERVER_RESPONSE`.
    /// Errors at once: `QM_E_INVALIDARG` (no ranges, a bad name, a dynamic
    /// job), `QM_BG_E_INVALID_RANGE` (an offset of `LENGTH_TO_EOF`, a length
    /// of 0), `QM_BG_E_OVERLAPPING_RANGES`, `QM_BG_E_TOO_MANY_RANGES_IN_FILE`
    /// (more than 500), `QM_BG_E_INVALID_STATE` (final).
    pub fn add_file_with_ranges(
        &self,
        remote: &str,
        local: &str,
        ranges: &[FileRange],
    ) -> Result<()> {
        delegate!(self.add_file_with_ranges(remote, local, ranges))
    }

    /// The ranges of file `index` as they were added, in their order
    /// (`IBackgroundCopyFile2::GetFileRanges`); empty for a whole file.
    pub fn file_ranges(&self, index: u32) -> Result<Vec<FileRange>> {
        delegate!(self.file_ranges(index))
    }

    /// Replaces `old` at the start of every file's remote name with `new`
    /// (BITS's `IBackgroundCopyJob3::ReplaceRemotePrefix`), e.g. to switch
    /// mirrors. Returns `false` (`QM_S_FALSE`) when no name started with
    /// `old`. The bytes already transferred are kept: the next request goes
    /// to the new name with `If-Range` of the old version, so the same file
    /// resumes and a different one restarts. A running transfer stops and
    /// goes back to the queue. `QM_E_INVALIDARG` for an empty `old` or a
    /// new name that is not a valid remote name (nothing is changed then).
    pub fn replace_remote_prefix(&self, old: &str, new: &str) -> Result<bool> {
        delegate!(self.replace_remote_prefix(old, new))
    }

    /// Gives file `index` a new remote name (BITS's
    /// `IBackgroundCopyFile2::SetRemoteName`), keeping its bytes as
    /// `replace_remote_prefix` does. `QM_E_INVALIDARG` for a name that is
    /// not valid, `QM_E_ITEM_NOT_FOUND` for an index past the end.
    pub fn set_file_remote_name(&self, index: u32, remote: &str) -> Result<()> {
        delegate!(self.set_file_remote_name(index, remote))
    }

    /// Starts or restarts the transfer (`Resume`): SUSPENDED, ERROR and
    /// TRANSIENT_ERROR go to QUEUED; an active job is left as it is;
    /// `QM_BG_E_EMPTY` for a job with no files or one already TRANSFERRED. A
    /// job stopped after its last byte arrived goes straight to TRANSFERRED.
    ///
    /// The environment: this call reads it again, on the calling thread,
    /// for the whole manager. Every later transfer of the manager's jobs
    /// takes the proxy variables (`http_proxy`, `https_proxy`, `all_proxy`,
    /// `no_proxy`) from that reading, and every notify program its
    /// environment, never the environment of the moment (qmgr's own
    /// threads do not read these), so a variable set after this call
    /// counts from the next `resume` (or `Manager::open`) on. A C host that calls `setenv` must not do it
    /// on another thread while this call or `Manager::open` runs.
    pub fn resume(&self) -> Result<()> {
        delegate!(self.resume())
    }

    /// Stops the job (`Suspend`); partial data is kept for a later resume.
    /// Returns once the transfer has stopped writing.
    pub fn suspend(&self) -> Result<()> {
        delegate!(self.suspend())
    }

    /// Cancels the job (`CancelJob`): stops it, deletes every temporary file,
    /// and leaves it CANCELLED. `QM_BG_S_UNABLE_TO_DELETE_FILES` when a
    /// temporary file could not be deleted. An upload job's unfinished
    /// upload is ended on the server (`DELETE`, best effort, in the
    /// background); one the server has whole stays there, as with BITS.
    pub fn cancel(&self) -> Result<HResult> {
        delegate!(self.cancel())
    }

    /// Completes the job (`Complete`): renames each transferred file into
    /// place (after `fsync`), deletes partial ones, and leaves it ACKNOWLEDGED.
    /// `QM_BG_S_PARTIAL_COMPLETE` when some files were not transferred. If a
    /// rename fails the job stays as it was and the error is returned.
    pub fn complete(&self) -> Result<HResult> {
        delegate!(self.complete())
    }

    /// Makes the job FOREGROUND (`SwitchToForeground`).
    pub fn switch_to_foreground(&self) -> Result<()> {
        delegate!(self.switch_to_foreground())
    }

    /// Who the job belongs to: the user whose rights its files are read
    /// and written with and its notify program runs as (see [`Owner`]). A
    /// job created by `create_job` of a local manager is the process's
    /// effective user's. Through a daemon, the uid is the daemon's record
    /// and the gid `u32::MAX` (its interface carries the uid alone).
    pub fn owner(&self) -> Owner {
        delegate!(self.owner())
    }

    /// Gives the job to `owner` (BITS's `IBackgroundCopyJob::TakeOwnership`):
    /// from now on its files are touched with the new owner's rights and
    /// its notify program runs as the new owner. A running transfer stops
    /// and the job goes back to the queue, in its place; its temporary
    /// files are handed over (`fchown`) so their bytes are kept, and one
    /// that cannot be is deleted and fetched again (a TRANSFERRED job then
    /// goes back to the queue). `QM_E_ACCESSDENIED` when the process cannot
    /// act with the new owner's rights (see
    /// [`Manager::create_job_owned_by`](crate::Manager::create_job_owned_by))
    /// and, through a daemon, for an
    /// owner other than the connecting user (the daemon takes the job for
    /// whoever the kernel says is calling); `QM_BG_E_INVALID_STATE` for a
    /// final job; `QM_E_INVALIDARG` for an id of `u32::MAX`. Taking a job
    /// one already owns changes nothing.
    pub fn take_ownership(&self, owner: Owner) -> Result<()> {
        delegate!(self.take_ownership(owner))
    }

    /// Waits until the job is TRANSFERRED, ERROR, SUSPENDED, ACKNOWLEDGED or
    /// CANCELLED and returns that state, or `None` at the timeout (`None`
    /// timeout: forever). `QM_E_ABORT` if the manager closes meanwhile. A
    /// persistent job's state is reported once it is written.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<Option<JobState>> {
        delegate!(self.wait(timeout))
    }

    /// Sets the priority; a FOREGROUND job overtakes background ones.
    pub fn set_priority(&self, priority: Priority) -> Result<()> {
        delegate!(self.set_priority(priority))
    }

    /// Sets the display name (at most 256 characters).
    pub fn set_display_name(&self, name: &str) -> Result<()> {
        delegate!(self.set_display_name(name))
    }

    /// Sets the description (at most 1,024 characters).
    pub fn set_description(&self, text: &str) -> Result<()> {
        delegate!(self.set_description(text))
    }

    /// Sets how long to wait before retrying after a transient error; values
    /// below 1 s are raised to 1 s.
    pub fn set_min_retry_delay(&self, seconds: u32) -> Result<()> {
        delegate!(self.set_min_retry_delay(seconds))
    }

    /// Sets how long transient errors may go on without progress before the
    /// job moves to ERROR (0: the first error is final).
    pub fn set_no_progress_timeout(&self, seconds: u32) -> Result<()> {
        delegate!(self.set_no_progress_timeout(seconds))
    }

    /// Sets (or with `None` clears) the notification callback and the flags.
    /// `owner` is an opaque value kept with the registration (see
    /// [`Job::clear_notify_of`]). When this returns, the previous callback is
    /// not running and will not be called again (unless this is called from
    /// inside that callback). `QM_BG_E_INVALID_STATE` for a callback on a
    /// final job (clearing one with the job's flags succeeds).
    pub fn set_notify(
        &self,
        callback: Option<NotifyCallback>,
        flags: u32,
        owner: u64,
    ) -> Result<()> {
        let bound = callback.map(|callback| {
            let job = self.clone();
            Box::new(move |event: &NotifyEvent| callback(&job, event)) as BoundCallback
        });
        delegate!(self.set_notify(bound, flags, owner))
    }

    /// As [`Job::set_notify`], but the callback only observes: the job's
    /// notify program still runs for the events it sees, as if no callback
    /// were registered (BITS runs the program only when no callback takes
    /// the event). For monitors such as qmgrd's watchers.
    #[doc(hidden)]
    pub fn observe(&self, callback: Option<NotifyCallback>, flags: u32, owner: u64) -> Result<()> {
        let bound = callback.map(|callback| {
            let job = self.clone();
            Box::new(move |event: &NotifyEvent| callback(&job, event)) as BoundCallback
        });
        delegate!(self.observe(bound, flags, owner))
    }

    /// Sets the program run when the job is transferred or fails (BITS's
    /// `IBackgroundCopyJob2::SetNotifyCmdLine`), or removes it with `None`.
    /// It runs for the JOB_TRANSFERRED and JOB_ERROR events the notify
    /// flags ask for, only when no callback is registered, from the process
    /// that runs the job, with the job's id in `QMGR_JOB_ID` (see
    /// `notify_cmd` for the whole contract); set on a job that is already
    /// TRANSFERRED or in ERROR, it runs at once. `QM_E_INVALIDARG` for a
    /// relative program path, `QM_BG_E_STRING_TOO_LONG` past 260 (program)
    /// or 4,000 (parameters) characters, `QM_BG_E_INVALID_STATE` (final).
    pub fn set_notify_cmdline(&self, cmdline: Option<NotifyCmdLine>) -> Result<()> {
        delegate!(self.set_notify_cmdline(cmdline))
    }

    /// Runs the notify program now if the job is TRANSFERRED or in ERROR,
    /// its flags deliver that event and no callback takes it: for qmgrd,
    /// when a client that took the job's events is gone without saying
    /// so. `QM_E_NOTIMPL` on a connected manager's job.
    #[doc(hidden)]
    pub fn notify_program_if_due(&self) -> Result<()> {
        delegate!(self.notify_program_if_due())
    }

    /// The notify command line, if any.
    pub fn notify_cmdline(&self) -> Option<NotifyCmdLine> {
        delegate!(self.notify_cmdline())
    }

    /// Sets the least time between two progress notifications
    /// (JOB_MODIFICATION while transferring), in milliseconds (BITS's
    /// `BITS_JOB_PROPERTY_MINIMUM_NOTIFICATION_INTERVAL_MS`; default 500;
    /// progress is measured every 250 ms, so smaller values give that).
    /// State changes are always notified.
    pub fn set_min_notification_interval(&self, ms: u32) -> Result<()> {
        delegate!(self.set_min_notification_interval(ms))
    }

    /// The least time between two progress notifications, in milliseconds.
    pub fn min_notification_interval(&self) -> u32 {
        delegate!(self.min_notification_interval())
    }

    /// Clears the callback if it was registered with this `owner` value,
    /// waiting for it as `set_notify` does.
    pub fn clear_notify_of(&self, owner: u64) {
        delegate!(self.clear_notify_of(owner))
    }

    /// Sets the job's own bandwidth limit in bytes per second (0: none); it
    /// applies on top of the manager's limit, whatever the priority.
    pub fn set_max_bandwidth(&self, bytes_per_second: u64) -> Result<()> {
        delegate!(self.set_max_bandwidth(bytes_per_second))
    }

    /// Sets extra request headers (`"Name: value\r\n…"`), or clears them
    /// with `None`. They go only to the origin of each file's remote name,
    /// never to another origin a redirect leads to.
    pub fn set_custom_headers(&self, headers: Option<&str>) -> Result<()> {
        delegate!(self.set_custom_headers(headers))
    }

    /// Sets Basic credentials, or clears them with `None`. They are kept in
    /// memory (and, with a state directory, in its private database).
    pub fn set_credentials(&self, credentials: Option<(&str, &str)>) -> Result<()> {
        delegate!(self.set_credentials(credentials))
    }

    /// Sets the proxy: `None` takes it from the environment (as the last
    /// [`Job::resume`] or [`Manager::open`](crate::Manager::open) read it),
    /// `Some("")` goes direct.
    pub fn set_proxy(&self, proxy: Option<&str>) -> Result<()> {
        delegate!(self.set_proxy(proxy))
    }

    /// Trusts the CA certificates of this PEM file instead of the system's
    /// (`None`: the system's roots again). A server certificate found in the
    /// file itself is trusted too (pinning), for its names and within its
    /// dates; an https:// proxy is always checked against the system's roots.
    pub fn set_ca_file(&self, pem_path: Option<&str>) -> Result<()> {
        delegate!(self.set_ca_file(pem_path))
    }

    /// Presents this client certificate and key (PEM files) for mutual TLS,
    /// or none with `None`.
    pub fn set_client_certificate(&self, cert_and_key: Option<(&str, &str)>) -> Result<()> {
        delegate!(self.set_client_certificate(cert_and_key))
    }

    /// Sets how long a connection may deliver nothing (any single read or
    /// write) before it is given up and the transfer retried; at least 1 s,
    /// default 60 s.
    pub fn set_stall_timeout(&self, seconds: u32) -> Result<()> {
        delegate!(self.set_stall_timeout(seconds))
    }

    /// Sets the HTTP security flags (`IBackgroundCopyJobHttpOptions::
    /// SetSecurityFlags`): the redirect policy, `SecurityFlags::
    /// REDIRECT_POLICY_ALLOW_SILENT` (the default), `_ALLOW_REPORT`
    /// (followed and reported by `file_final_url`) or `_DISALLOW` (a
    /// redirect is fatal), and `_ALLOW_HTTPS_TO_HTTP`; without it an HTTPS
    /// download that is redirected to plain HTTP fails with
    /// `QM_E_WINHTTP_REDIRECT_FAILED`. Under every policy a redirect is
    /// only reported: the remote name, where each attempt starts and where
    /// credentials and custom headers go, stays the caller's.
    /// The `SSL_*` relaxations give `QM_E_NOTIMPL`.
    pub fn set_security_flags(&self, flags: u32) -> Result<()> {
        delegate!(self.set_security_flags(flags))
    }

    /// Sets how many connections the job may use at once (at least 1;
    /// default 6, what browsers open to one host): it transfers that many of
    /// its files at once, each on its own connection, so a job of many
    /// files does not pay one round trip per file. Files may then finish
    /// in any order; `complete` still places them all at once. The manager's
    /// caps (`Manager::set_max_connections`, and per server) apply on top.
    pub fn set_max_connections(&self, n: u32) -> Result<()> {
        delegate!(self.set_max_connections(n))
    }

    /// How many connections the job may use at once.
    pub fn max_connections(&self) -> u32 {
        delegate!(self.max_connections())
    }

    /// Sets the longest time, in seconds, the job may spend connecting and
    /// transferring (BITS's `SetMaximumDownloadTime`; default 7,776,000, 90
    /// days; 0: no limit). Time QUEUED, SUSPENDED or in TRANSIENT_ERROR does
    /// not count, and `resume` starts it again. When it runs out the job
    /// goes to ERROR with `QM_BG_E_MAXDOWNLOAD_TIMEOUT`.
    pub fn set_max_download_time(&self, seconds: u32) -> Result<()> {
        delegate!(self.set_max_download_time(seconds))
    }

    /// The job's type (`GetType`), chosen when it was created
    /// ([`Manager::create_job_of_type`](crate::Manager::create_job_of_type)).
    pub fn job_type(&self) -> JobType {
        delegate!(self.job_type())
    }

    /// Sets an upload job's protocol (`SetUploadProtocol` has no BITS
    /// counterpart: BITS speaks its own IIS protocol): tus 1.0 (the
    /// default of UPLOAD jobs), or the IETF resumable-upload draft
    /// (draft-ietf-httpbis-resumable-upload-12, interop version 8;
    /// experimental; the only protocol of UPLOAD_REPLY jobs, its final
    /// response being the reply). Another protocol is another upload: the
    /// next attempt creates it afresh. `QM_E_INVALIDARG` for tus on an
    /// upload-reply job, `QM_E_NOTIMPL` on a download,
    /// `QM_BG_E_INVALID_STATE` while the upload runs or once final.
    pub fn set_upload_protocol(&self, protocol: UploadProtocol) -> Result<()> {
        delegate!(self.set_upload_protocol(protocol))
    }

    /// An upload job's protocol (`QM_E_NOTIMPL` on a download).
    pub fn upload_protocol(&self) -> Result<UploadProtocol> {
        delegate!(self.upload_protocol())
    }

    /// Sets where an upload-reply job's reply goes (`SetReplyFileName`):
    /// an absolute path in a directory the job's owner may write, or
    /// `None` (the default) to keep it in memory (at most 1 MiB). The file
    /// is written when the upload finishes. `QM_E_NOTIMPL` unless the job
    /// is UPLOAD_REPLY.
    pub fn set_reply_file_name(&self, path: Option<&str>) -> Result<()> {
        delegate!(self.set_reply_file_name(path))
    }

    /// Where an upload-reply job's reply goes (`GetReplyFileName`; `None`:
    /// in memory). `QM_E_NOTIMPL` unless the job is UPLOAD_REPLY.
    pub fn reply_file_name(&self) -> Result<Option<PathBuf>> {
        delegate!(self.reply_file_name())
    }

    /// The reply's progress (`GetReplyProgress`). `QM_E_NOTIMPL` unless the
    /// job is UPLOAD_REPLY.
    pub fn reply_progress(&self) -> Result<ReplyProgress> {
        delegate!(self.reply_progress())
    }

    /// The server's reply (`GetReplyData`) once the job is TRANSFERRED or
    /// completed: `QM_BG_E_TOO_LARGE` over 1 MiB (read the reply file),
    /// `QM_BG_E_INVALID_STATE` before it arrived, `QM_E_NOTIMPL` unless the
    /// job is UPLOAD_REPLY.
    pub fn reply_data(&self) -> Result<Vec<u8>> {
        delegate!(self.reply_data())
    }

    /// Marks the job's content as dynamic (BITS's
    /// `BITS_JOB_PROPERTY_DYNAMIC_CONTENT`): the server may send other bytes
    /// on every request and has no stable validator, so each file comes in
    /// one request without a range, is never split into segments, and
    /// starts again from zero after any interruption (a cut, a suspend, a
    /// restart of the process). Off by default.
    pub fn set_dynamic_content(&self, dynamic: bool) -> Result<()> {
        delegate!(self.set_dynamic_content(dynamic))
    }

    /// Whether the job's content is dynamic.
    pub fn dynamic_content(&self) -> bool {
        delegate!(self.dynamic_content())
    }

    /// Sets whether the job yields to other traffic (on by default). While
    /// on, a background job (priority HIGH, NORMAL or LOW; never
    /// FOREGROUND) gives way to other traffic on the network: qmgr watches
    /// the queuing delay of its connections (receiver-side LEDBAT, RFC 6817
    /// and RFC 9840) and slows the job when the delay rises above a target,
    /// so that it uses only idle bandwidth. Off, the job competes like any
    /// download, as FOREGROUND jobs always do. The job's and the manager's
    /// bandwidth limits apply either way. It may be changed at any time,
    /// also while the job transfers (it applies within 20 ms).
    pub fn set_yielding(&self, yielding: bool) -> Result<()> {
        delegate!(self.set_yielding(yielding))
    }

    /// Whether the job yields to other traffic (see [`Job::set_yielding`]).
    pub fn yielding(&self) -> bool {
        delegate!(self.yielding())
    }

    /// The job's maximum download time, in seconds (0: no limit).
    pub fn max_download_time(&self) -> u32 {
        delegate!(self.max_download_time())
    }

    /// Sets the largest file the job may download, in bytes (0, the
    /// default: no limit; BITS's `BITS_JOB_PROPERTY_MAX_DOWNLOAD_SIZE`). A
    /// file announced larger, or whose body grows past it, puts the job in
    /// ERROR with `QM_BG_E_MAX_DOWNLOAD_SIZE_LIMIT_REACHED` before a byte past
    /// the limit is written.
    pub fn set_max_download_size(&self, bytes: u64) -> Result<()> {
        delegate!(self.set_max_download_size(bytes))
    }

    /// The maximum download size in bytes (0: no limit).
    pub fn max_download_size(&self) -> u64 {
        delegate!(self.max_download_size())
    }

    /// Sets curl's low-speed limit: a transfer that moves fewer than
    /// `bytes_per_second` on average over `seconds` is given up as a
    /// transient timeout (`QM_E_WINHTTP_TIMEOUT`) and retried after the retry
    /// delay. Either 0 (the default) turns it off. Time spent waiting for the
    /// job's own bandwidth limits does not count.
    pub fn set_low_speed_limit(&self, bytes_per_second: u64, seconds: u32) -> Result<()> {
        delegate!(self.set_low_speed_limit(bytes_per_second, seconds))
    }

    /// The low-speed limit: (bytes per second, seconds); (0, 0) when off.
    pub fn low_speed_limit(&self) -> (u64, u32) {
        delegate!(self.low_speed_limit())
    }

    /// Sets the SHA-256 (64 hex digits) that file `index` must have, or
    /// clears it with `None`. It is checked when the file finishes
    /// transferring; a mismatch is fatal (`QM_BG_E_VALIDATION_FAILED`).
    pub fn set_file_sha256(&self, index: u32, hex: Option<&str>) -> Result<()> {
        delegate!(self.set_file_sha256(index, hex))
    }

    /// Makes file `index` a delta download from `delta`'s seeds and zsync
    /// control file, or a plain one again with `None`. Before the file is
    /// fetched, the control file (`delta.control_url`, or the remote name
    /// with `.zsync` appended) is read and the seeds (read, never written,
    /// with the job owner's rights) are scanned for its blocks; the blocks
    /// found are copied into the temporary file, the rest is fetched as
    /// ranges from the remote name (never from the control file's `URL`
    /// lines). Each fetched block is checked against the control file's
    /// MD4 and the whole file against its SHA-1 and length: both weak
    /// hashes, so set a SHA-256 (`set_file_sha256`), the real guard. With
    /// no control file (an HTTP 4xx), a server without ranges, no block
    /// found, a control file that does not describe the server's file, or
    /// a plain-HTTP control file for an HTTPS file (never read: it decides
    /// which bytes are kept), the file is downloaded whole;
    /// `file_delta_status` tells which way it went.
    ///
    /// `QM_E_INVALIDARG` for no seeds, more than 16, a relative path, a
    /// control URL that is not http(s), or a file that is not fetched over
    /// http(s) or has byte ranges; `QM_BG_E_INVALID_STATE` once the file
    /// has started transferring; `QM_E_NOTIMPL` in a build without the
    /// `delta` feature.
    pub fn set_file_delta(&self, index: u32, delta: Option<DeltaSource>) -> Result<()> {
        delegate!(self.set_file_delta(index, delta))
    }
}
