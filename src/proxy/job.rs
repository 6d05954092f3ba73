//! A job of the daemon, as the API's `Job` sees it: its id, its manager's
//! connection, and the snapshot its getters read (see the module notes of
//! `crate::proxy`). The methods have the API's names and signatures, so
//! that `api::job` delegates to them as to the engine's.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::engine::error::{Error, Result};
use crate::engine::model::job::{no_such_file, require_kind};
use crate::engine::runtime::notify::BoundCallback;
use crate::engine::transport::options::ProxySetting;
use crate::engine::types::*;
use crate::hresult::*;
use crate::proxy::client::{Patience, CALL_TIMEOUT};
use crate::proxy::shared::{JobCore, Snap, MIN_AGE};
use crate::proxy::watch;
use crate::proxy::wire::{self, decode_job, with_id};
use crate::service::codec::{self, Change, FileSnapshot, JobSnapshot};
use crate::service::method;
use crate::sync::MutexGuard;

/// A job's snapshot, read under its lock (what `RemoteJob::fresh` gives).
struct Fresh<'a>(MutexGuard<'a, Snap>);

impl std::ops::Deref for Fresh<'_> {
    type Target = JobSnapshot;
    fn deref(&self) -> &JobSnapshot {
        &self.0.job
    }
}

/// The longest one `Wait` call lasts; a longer wait is several, so that a
/// daemon that stopped answering is noticed.
const WAIT_CHUNK: Duration = Duration::from_secs(30);

/// A handle of a daemon's job. Cloning it is cheap.
#[derive(Clone)]
pub(crate) struct RemoteJob(pub(crate) Arc<JobCore>);

impl PartialEq for RemoteJob {
    fn eq(&self, other: &RemoteJob) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl std::fmt::Debug for RemoteJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("id", &self.0.id())
            .field("state", &self.0.snap.lock().job.state)
            .finish()
    }
}

impl RemoteJob {
    // ----- the machinery ------------------------------------------------------

    fn call(&self, name: &str, rest: &[(&str, Value)]) -> Result<Map<String, Value>> {
        self.0.remote.client.call(name, with_id(self.0.id(), rest))
    }

    /// The snapshot, refreshed first when it is stale or older than the
    /// job's notification interval (and the daemon answers): what every
    /// getter reads (one function, not one copy of it per getter).
    #[inline(never)]
    fn fresh(&self) -> Fresh<'_> {
        let snap = self.0.snap.lock();
        let age = Duration::from_millis(u64::from(snap.job.min_notification_interval));
        let due = !snap.job.state.is_final()
            && !snap.gone
            && (snap.stale || snap.fetched.elapsed() > age.max(MIN_AGE));
        if !due || !self.0.remote.client.is_open() {
            return Fresh(snap);
        }
        drop(snap);
        self.refresh();
        Fresh(self.0.snap.lock())
    }

    /// Asks the daemon for the job's snapshot. When it cannot answer, the
    /// snapshot stays as it was and is asked for again once it is old.
    #[inline(never)]
    fn refresh(&self) {
        let before = self.0.changes.load(Ordering::Acquire);
        let number = self.0.refreshes.fetch_add(1, Ordering::AcqRel) + 1;
        let fetched = self
            .call(method::GET_JOB, &[])
            .and_then(|reply| decode_job(&reply));
        let mut snap = self.0.snap.lock();
        // Two threads may refresh at once, and an event may come between:
        // the older answer, if it comes last, must not replace the newer.
        // The daemon says which is older; one that does not, by the order
        // the refreshes were asked for.
        let older = match &fetched {
            Ok(job) if job.taken.is_some() && snap.job.taken.is_some() => {
                !job.not_older_than(&snap.job)
            }
            _ => number < snap.refreshed,
        };
        if older {
            return;
        }
        snap.refreshed = number;
        snap.fetched = Instant::now();
        match fetched {
            Ok(job) if !snap.job.state.is_final() => snap.job = job,
            Ok(_) => {}
            Err(e) => snap.gone = e.code.0 == QM_BG_E_NOT_FOUND,
        }
        if self.0.changes.load(Ordering::Acquire) == before {
            snap.stale = false;
        }
    }

    /// After a call that changed (or may have changed) the job.
    fn changed(&self) {
        self.0.changes.fetch_add(1, Ordering::AcqRel);
        self.0.invalidate();
    }

    /// `QM_BG_E_INVALID_STATE` for `action` on a job this process knows is
    /// final (it completed or cancelled it, or saw it so), as the engine
    /// answers: the daemon no longer knows such a job.
    fn refuse_final(&self, action: &str) -> Result<()> {
        let state = self.0.snap.lock().job.state;
        if state.is_final() {
            return Err(Error::invalid_state(action, state));
        }
        Ok(())
    }

    /// A call that changes the job.
    #[inline(never)]
    fn change(
        &self,
        action: &str,
        name: &str,
        rest: &[(&str, Value)],
    ) -> Result<Map<String, Value>> {
        self.refuse_final(action)?;
        let reply = self.call(name, rest);
        self.changed();
        reply
    }

    /// A property setter: `SetJob` with one change.
    #[inline(never)]
    fn set(&self, action: &str, change: Change) -> Result<()> {
        self.change(
            action,
            method::SET_JOB,
            &[("change", codec::encode_change(&change))],
        )
        .map(drop)
    }

    /// The job's files, as the daemon read them at most the snapshot's
    /// age ago (and since this process last changed the job).
    #[inline(never)]
    fn files(&self) -> Result<Arc<Vec<FileSnapshot>>> {
        let max_age = self.0.max_age();
        let last = self.0.snap.lock().job.state.is_final();
        if let Some((files, at)) = &*self.0.files.lock() {
            // A job this process made final: the files as they were then,
            // the daemon no longer has them.
            if last || at.elapsed() <= max_age {
                return Ok(Arc::clone(files));
            }
        }
        let before = self.0.changes.load(Ordering::Acquire);
        let reply = self.call(method::GET_FILES, &[])?;
        let files = reply
            .get("files")
            .and_then(Value::as_array)
            .ok_or_else(|| wire::unexpected("GetFiles without files"))?;
        let files = Arc::new(
            codec::decode_list(files, "files", codec::decode_file).map_err(wire::unexpected)?,
        );
        if self.0.changes.load(Ordering::Acquire) == before {
            *self.0.files.lock() = Some((Arc::clone(&files), Instant::now()));
        }
        Ok(files)
    }

    /// File `index`, as `files` reads it.
    #[inline(never)]
    fn file(&self, index: u32) -> Result<FileSnapshot> {
        let files = self.files()?;
        match files.get(index as usize) {
            Some(file) => Ok(file.clone()),
            None => Err(no_such_file(index, files.len())),
        }
    }

    /// Makes the job final here (this process completed or cancelled it):
    /// its getters then read what it was at the end, as the engine's do
    /// (the daemon forgets a final job); then drops its callback, as the
    /// engine does.
    fn finished(&self, state: JobState) {
        {
            let mut snap = self.0.snap.lock();
            snap.job.state = state;
            snap.job.status.error = false;
            snap.job.error = None;
            // Stopped: no rate, and an ETA only when every byte is in.
            let p = &mut snap.job.progress;
            p.bytes_per_second = 0;
            p.eta_seconds = p
                .bytes_total
                .filter(|&total| p.bytes_transferred >= total)
                .map(|_| 0);
            snap.stale = false;
        }
        if let Some((files, at)) = &mut *self.0.files.lock() {
            // Every temporary file is renamed into place or deleted.
            let mut last = (**files).clone();
            for file in &mut last {
                file.temporary_name = None;
            }
            *files = Arc::new(last);
            *at = Instant::now();
        }
        let dispatcher = &self.0.remote.dispatcher;
        if let Some(old) = dispatcher.register(self.0.id(), 0, None, false, &self.0.gate) {
            dispatcher.retire(&old);
        }
        watch::forget_callback(&self.0.remote, self.0.id());
    }

    /// The success code a `Cancel` or `Complete` reply carries.
    #[inline(never)]
    fn finish(&self, action: &str, name: &str, state: JobState) -> Result<HResult> {
        self.refuse_final(action)?;
        // What the getters of the final job will read: the daemon forgets
        // it once final.
        if self.0.snap.lock().stale {
            self.refresh();
        }
        let _ = self.files();
        // GetReplyData answers after Complete (BITS's ACKNOWLEDGED state):
        // keep what the daemon has before it forgets the job.
        // (Kept only if Complete succeeds, which needs TRANSFERRED.)
        let kept = (name == method::COMPLETE && self.job_type() == JobType::UploadReply)
            .then(|| self.fetch_reply());
        let reply = self
            .0
            .remote
            .client
            .call_with(name, with_id(self.0.id(), &[]), Patience::LONG);
        let reply = match reply {
            Ok(reply) => reply,
            Err(e) => {
                self.changed();
                return Err(e);
            }
        };
        if kept.is_some() {
            *self.0.reply.lock() = kept;
        }
        self.finished(state);
        let code = reply.get("code").and_then(Value::as_i64).unwrap_or(0);
        Ok(HResult(i32::try_from(code).unwrap_or(QM_S_OK)))
    }

    // ----- reading ------------------------------------------------------------

    pub(crate) fn id(&self) -> JobId {
        self.0.id()
    }

    pub(crate) fn state(&self) -> JobState {
        self.fresh().state
    }

    pub(crate) fn bytes_transferred(&self) -> u64 {
        self.fresh().progress.bytes_transferred
    }

    pub(crate) fn percent_done(&self) -> u64 {
        let p = self.fresh().progress;
        match p.bytes_total {
            Some(total) if total > 0 => {
                let done = p.bytes_transferred.min(total);
                (u128::from(done) * 100 / u128::from(total)) as u64
            }
            _ => 0,
        }
    }

    pub(crate) fn progress(&self) -> JobProgress {
        self.fresh().progress
    }

    pub(crate) fn file_count(&self) -> u32 {
        self.fresh().file_count
    }

    pub(crate) fn file_remote_name(&self, index: u32) -> Result<String> {
        self.file(index).map(|f| f.remote)
    }

    pub(crate) fn file_local_name(&self, index: u32) -> Result<String> {
        self.file(index).map(|f| f.local)
    }

    pub(crate) fn file_size_hint(&self, index: u32) -> Result<u64> {
        self.file(index).map(|f| f.size_hint)
    }

    pub(crate) fn file_sha256(&self, index: u32) -> Result<Option<String>> {
        self.file(index).map(|f| f.sha256)
    }

    pub(crate) fn file_delta(&self, index: u32) -> Result<Option<DeltaSource>> {
        self.file(index).map(|f| f.delta)
    }

    pub(crate) fn file_delta_status(&self, index: u32) -> Result<DeltaStatus> {
        self.file(index).map(|f| f.delta_status)
    }

    pub(crate) fn file_progress(&self, index: u32) -> Result<FileProgress> {
        self.file(index).map(|f| f.progress)
    }

    pub(crate) fn status(&self) -> JobStatus {
        self.fresh().status
    }

    pub(crate) fn error(&self) -> Result<JobError> {
        self.fresh().error.clone().ok_or_else(|| {
            Error::new(
                QM_BG_E_ERROR_INFORMATION_UNAVAILABLE,
                "the job has no error",
            )
        })
    }

    pub(crate) fn next_retry_in(&self) -> Option<Duration> {
        let (state, retry) = {
            let j = self.fresh();
            (j.state, j.next_retry)
        };
        let fetched = self.0.snap.lock().fetched;
        retry
            .filter(|_| state == JobState::TransientError)
            .map(|r| r.saturating_sub(fetched.elapsed()))
    }

    pub(crate) fn times(&self) -> JobTimes {
        self.fresh().times
    }

    pub(crate) fn display_name(&self) -> String {
        self.fresh().display_name.clone()
    }

    pub(crate) fn description(&self) -> String {
        self.fresh().description.clone()
    }

    pub(crate) fn priority(&self) -> Priority {
        self.fresh().priority
    }

    pub(crate) fn min_retry_delay(&self) -> u32 {
        self.fresh().min_retry_delay
    }

    pub(crate) fn no_progress_timeout(&self) -> u32 {
        self.fresh().no_progress_timeout
    }

    pub(crate) fn notify_flags(&self) -> NotifyFlags {
        self.fresh().notify_flags
    }

    pub(crate) fn max_bandwidth(&self) -> u64 {
        self.fresh().max_bandwidth
    }

    pub(crate) fn custom_headers(&self) -> Option<String> {
        self.fresh().custom_headers.clone()
    }

    pub(crate) fn proxy(&self) -> ProxySetting {
        self.fresh().proxy.clone()
    }

    pub(crate) fn ca_file(&self) -> Option<PathBuf> {
        self.fresh().ca_file.clone()
    }

    pub(crate) fn client_certificate(&self) -> Option<(PathBuf, PathBuf)> {
        self.fresh().client_certificate.clone()
    }

    pub(crate) fn stall_timeout(&self) -> u32 {
        self.fresh().stall_timeout
    }

    pub(crate) fn security_flags(&self) -> SecurityFlags {
        self.fresh().security_flags
    }

    pub(crate) fn file_final_url(&self, index: u32) -> Result<String> {
        self.file(index).map(|f| f.final_url)
    }

    pub(crate) fn file_temporary_name(&self, index: u32) -> Result<Option<PathBuf>> {
        self.file(index).map(|f| f.temporary_name)
    }

    pub(crate) fn file_response_headers(&self, index: u32) -> Result<Option<String>> {
        self.file(index).map(|f| f.response_headers)
    }

    pub(crate) fn file_ranges(&self, index: u32) -> Result<Vec<FileRange>> {
        self.file(index).map(|f| f.ranges)
    }

    pub(crate) fn notify_cmdline(&self) -> Option<NotifyCmdLine> {
        self.fresh().notify_cmdline.clone()
    }

    pub(crate) fn min_notification_interval(&self) -> u32 {
        self.fresh().min_notification_interval
    }

    pub(crate) fn max_connections(&self) -> u32 {
        self.fresh().max_connections
    }

    pub(crate) fn dynamic_content(&self) -> bool {
        self.fresh().dynamic_content
    }

    pub(crate) fn yielding(&self) -> bool {
        self.fresh().yielding
    }

    pub(crate) fn max_download_time(&self) -> u32 {
        self.fresh().max_download_time
    }

    pub(crate) fn max_download_size(&self) -> u64 {
        self.fresh().max_download_size
    }

    pub(crate) fn low_speed_limit(&self) -> (u64, u32) {
        self.fresh().low_speed_limit
    }

    // ----- the lifecycle ------------------------------------------------------

    pub(crate) fn add_files(&self, files: &[FileSpec]) -> Result<()> {
        let specs: Vec<Value> = files.iter().map(codec::encode_file_spec).collect();
        self.change(
            "add files to",
            method::ADD_FILES,
            &[("files", specs.into())],
        )
        .map(drop)
    }

    pub(crate) fn add_file_with_ranges(
        &self,
        remote: &str,
        local: &str,
        ranges: &[FileRange],
    ) -> Result<()> {
        let spec = codec::encode_file_spec(&FileSpec::new(remote, local));
        let ranges: Vec<Value> = ranges.iter().map(codec::encode_range).collect();
        self.change(
            "add files to",
            method::ADD_FILE_WITH_RANGES,
            &[("file", spec), ("ranges", ranges.into())],
        )
        .map(drop)
    }

    pub(crate) fn replace_remote_prefix(&self, old: &str, new: &str) -> Result<bool> {
        let reply = self.change(
            "change the remote names of",
            method::REPLACE_REMOTE_PREFIX,
            &[("old", old.into()), ("new", new.into())],
        )?;
        reply
            .get("changed")
            .and_then(Value::as_bool)
            .ok_or_else(|| wire::unexpected("ReplaceRemotePrefix without changed"))
    }

    pub(crate) fn set_file_remote_name(&self, index: u32, remote: &str) -> Result<()> {
        self.change(
            "change the remote names of",
            method::SET_FILE_REMOTE_NAME,
            &[("index", index.into()), ("remote", remote.into())],
        )
        .map(drop)
    }

    pub(crate) fn resume(&self) -> Result<()> {
        self.change("resume", method::RESUME, &[]).map(drop)
    }

    pub(crate) fn suspend(&self) -> Result<()> {
        self.change("suspend", method::SUSPEND, &[]).map(drop)
    }

    pub(crate) fn cancel(&self) -> Result<HResult> {
        self.finish("cancel", method::CANCEL, JobState::Cancelled)
    }

    pub(crate) fn complete(&self) -> Result<HResult> {
        self.finish("complete", method::COMPLETE, JobState::Acknowledged)
    }

    pub(crate) fn switch_to_foreground(&self) -> Result<()> {
        self.change("change the priority of", method::SWITCH_TO_FOREGROUND, &[])
            .map(drop)
    }

    /// The owner as the daemon reports it: its uid; the interface carries
    /// no gid, so `u32::MAX` (none) stands for it.
    pub(crate) fn owner(&self) -> Owner {
        Owner {
            uid: self.fresh().owner_uid,
            gid: u32::MAX,
        }
    }

    /// The daemon's `TakeOwnership`: the job becomes the connecting user's
    /// (the daemon takes who is calling from the kernel, so `owner` must be
    /// that user: `QM_E_ACCESSDENIED` otherwise).
    pub(crate) fn take_ownership(&self, owner: Owner) -> Result<()> {
        let me = Owner::current();
        if owner.uid != me.uid {
            return Err(Error::new(
                QM_E_ACCESSDENIED,
                format!(
                    "through a daemon a job is taken by the user that connects (uid {}), \
                     not by {owner}",
                    me.uid
                ),
            ));
        }
        self.change("take ownership of", method::TAKE_OWNERSHIP, &[])
            .map(drop)
    }

    /// The daemon's `Wait`, in calls of at most [`WAIT_CHUNK`]; a close of
    /// the manager ends it with `QM_E_ABORT`, as in-process.
    pub(crate) fn wait(&self, timeout: Option<Duration>) -> Result<Option<JobState>> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            let known = self.0.snap.lock().job.state;
            if known.is_final() {
                return Ok(Some(known));
            }
            if !self.0.remote.client.is_open() {
                return Err(Error::new(
                    QM_E_ABORT,
                    "the manager was closed while waiting",
                ));
            }
            let chunk = deadline.map_or(WAIT_CHUNK, |d| {
                d.saturating_duration_since(Instant::now()).min(WAIT_CHUNK)
            });
            let patience = Patience {
                timeout: chunk + CALL_TIMEOUT,
                abortable: true,
            };
            let params = with_id(
                self.0.id(),
                &[("timeout_ms", (chunk.as_millis() as u64).into())],
            );
            let reply = self
                .0
                .remote
                .client
                .call_with(method::WAIT, params, patience);
            self.0.invalidate();
            match reply?.get("state").and_then(Value::as_u64) {
                Some(n) => {
                    return JobState::from_u32(n as u32)
                        .map(Some)
                        .ok_or_else(|| wire::unexpected("Wait's state is not a state"))
                }
                None if deadline.is_some_and(|d| Instant::now() >= d) => return Ok(None),
                None => {}
            }
        }
    }

    // ----- properties ---------------------------------------------------------
    pub(crate) fn set_priority(&self, priority: Priority) -> Result<()> {
        self.set("change the priority of", Change::Priority(priority))
    }

    pub(crate) fn set_display_name(&self, name: &str) -> Result<()> {
        self.set("rename", Change::DisplayName(name.to_string()))
    }

    pub(crate) fn set_description(&self, text: &str) -> Result<()> {
        self.set("describe", Change::Description(text.to_string()))
    }

    pub(crate) fn set_min_retry_delay(&self, seconds: u32) -> Result<()> {
        self.set("change the retry delay of", Change::MinRetryDelay(seconds))
    }

    pub(crate) fn set_no_progress_timeout(&self, seconds: u32) -> Result<()> {
        self.set(
            "change the no-progress timeout of",
            Change::NoProgressTimeout(seconds),
        )
    }

    /// Sets the flags on the daemon, makes sure the manager's Watch runs
    /// (for a callback), then registers the callback here.
    pub(crate) fn set_notify(
        &self,
        bound: Option<BoundCallback>,
        flags: u32,
        owner: u64,
    ) -> Result<()> {
        self.register(bound, flags, owner, false)
    }

    /// An observer in this process; the daemon's notify program runs
    /// either way (its callbacks are this process's own).
    pub(crate) fn observe(
        &self,
        bound: Option<BoundCallback>,
        flags: u32,
        owner: u64,
    ) -> Result<()> {
        self.register(bound, flags, owner, true)
    }

    fn register(
        &self,
        bound: Option<BoundCallback>,
        flags: u32,
        owner: u64,
        observer: bool,
    ) -> Result<()> {
        self.set("set notifications of", Change::NotifyFlags(flags))?;
        let remote = &self.0.remote;
        if bound.is_some() {
            watch::ensure(remote)?;
        }
        if let Some(old) =
            remote
                .dispatcher
                .register(self.0.id(), owner, bound, observer, &self.0.gate)
        {
            remote.dispatcher.retire(&old);
        }
        watch::follow_callback(remote, self.0.id());
        Ok(())
    }

    /// The daemon runs notify programs on its own.
    pub(crate) fn notify_program_if_due(&self) -> Result<()> {
        Err(Error::new(
            QM_E_NOTIMPL,
            "the daemon decides when a job's notify program runs",
        ))
    }

    pub(crate) fn set_notify_cmdline(&self, cmdline: Option<NotifyCmdLine>) -> Result<()> {
        self.set(
            "set the notify command line of",
            Change::NotifyCmdLine(cmdline),
        )
    }

    pub(crate) fn set_min_notification_interval(&self, ms: u32) -> Result<()> {
        self.set(
            "pace the notifications of",
            Change::MinNotificationInterval(ms),
        )
    }

    pub(crate) fn clear_notify_of(&self, owner: u64) {
        let dispatcher = &self.0.remote.dispatcher;
        if let Some(old) = dispatcher.unregister_owned(self.0.id(), owner) {
            dispatcher.retire(&old);
        }
        watch::follow_callback(&self.0.remote, self.0.id());
    }

    pub(crate) fn set_max_bandwidth(&self, bytes_per_second: u64) -> Result<()> {
        self.set("limit", Change::MaxBandwidth(bytes_per_second))
    }

    pub(crate) fn set_custom_headers(&self, headers: Option<&str>) -> Result<()> {
        self.set(
            "set headers of",
            Change::CustomHeaders(headers.map(str::to_string)),
        )
    }

    pub(crate) fn set_credentials(&self, credentials: Option<(&str, &str)>) -> Result<()> {
        let owned = credentials.map(|(u, p)| (u.to_string(), p.to_string()));
        self.set("set credentials of", Change::Credentials(owned))
    }

    pub(crate) fn set_proxy(&self, proxy: Option<&str>) -> Result<()> {
        let setting = match proxy {
            None => ProxySetting::FromEnvironment,
            Some("") => ProxySetting::Direct,
            Some(url) => ProxySetting::Url(url.to_string()),
        };
        self.set("set the proxy of", Change::Proxy(setting))
    }

    pub(crate) fn set_ca_file(&self, pem_path: Option<&str>) -> Result<()> {
        self.set(
            "set the CA file of",
            Change::CaFile(pem_path.map(str::to_string)),
        )
    }

    pub(crate) fn set_client_certificate(&self, cert_and_key: Option<(&str, &str)>) -> Result<()> {
        let owned = cert_and_key.map(|(c, k)| (c.to_string(), k.to_string()));
        self.set(
            "set the client certificate of",
            Change::ClientCertificate(owned),
        )
    }

    pub(crate) fn set_stall_timeout(&self, seconds: u32) -> Result<()> {
        self.set("set the stall timeout of", Change::StallTimeout(seconds))
    }

    pub(crate) fn set_security_flags(&self, flags: u32) -> Result<()> {
        self.set("set the security flags of", Change::SecurityFlags(flags))
    }

    pub(crate) fn set_max_connections(&self, n: u32) -> Result<()> {
        self.set("set the connections of", Change::MaxConnections(n))
    }

    pub(crate) fn set_max_download_time(&self, seconds: u32) -> Result<()> {
        self.set(
            "limit the download time of",
            Change::MaxDownloadTime(seconds),
        )
    }

    /// Chosen at creation: read without asking the daemon again.
    pub(crate) fn job_type(&self) -> JobType {
        self.0.snap.lock().job.job_type
    }

    fn require_kind(&self, kinds: &[JobType], call: &str) -> Result<()> {
        require_kind(self.job_type(), kinds, call)
    }

    pub(crate) fn set_upload_protocol(&self, protocol: UploadProtocol) -> Result<()> {
        self.require_kind(UPLOADS, "set_upload_protocol")?;
        self.change(
            "set the upload protocol of",
            method::SET_UPLOAD_PROTOCOL,
            &[("protocol", (protocol as u32).into())],
        )
        .map(drop)
    }

    pub(crate) fn upload_protocol(&self) -> Result<UploadProtocol> {
        self.require_kind(UPLOADS, "upload_protocol")?;
        Ok(self.fresh().upload_protocol.unwrap_or(UploadProtocol::Tus))
    }

    pub(crate) fn set_reply_file_name(&self, path: Option<&str>) -> Result<()> {
        self.require_kind(&[JobType::UploadReply], "set_reply_file_name")?;
        self.change(
            "set the reply file of",
            method::SET_REPLY_FILE_NAME,
            &[("path", path.map_or(Value::Null, Value::from))],
        )
        .map(drop)
    }

    pub(crate) fn reply_file_name(&self) -> Result<Option<PathBuf>> {
        self.require_kind(&[JobType::UploadReply], "reply_file_name")?;
        Ok(self.fresh().reply_file_name.clone())
    }

    pub(crate) fn reply_progress(&self) -> Result<ReplyProgress> {
        self.require_kind(&[JobType::UploadReply], "reply_progress")?;
        Ok(self.fresh().reply_progress.unwrap_or(ReplyProgress {
            bytes_total: None,
            bytes_transferred: 0,
        }))
    }

    /// `GetReplyData`, chunk by chunk (a message is at most 1 MiB), the
    /// daemon bounding the whole. Once this process completed the job, the
    /// daemon no longer knows it: the reply kept when it completed it.
    pub(crate) fn reply_data(&self) -> Result<Vec<u8>> {
        self.require_kind(&[JobType::UploadReply], "reply_data")?;
        if let Some(kept) = &*self.0.reply.lock() {
            return kept.clone();
        }
        let state = self.0.snap.lock().job.state;
        if state.is_final() {
            return Err(Error::invalid_state("read the reply of", state));
        }
        self.fetch_reply()
    }

    fn fetch_reply(&self) -> Result<Vec<u8>> {
        let mut data = Vec::new();
        loop {
            let reply = self.call(
                method::GET_REPLY_DATA,
                &[("offset", (data.len() as u64).into())],
            )?;
            let chunk = reply
                .get("data")
                .and_then(Value::as_str)
                .ok_or_else(|| bad_reply("data"))?;
            let size = reply
                .get("size")
                .and_then(Value::as_u64)
                .filter(|&n| n <= crate::engine::model::job::MAX_REPLY_DATA)
                .ok_or_else(|| bad_reply("size"))?;
            let chunk = codec::decode_bytes(chunk, "data").map_err(|_| bad_reply("data"))?;
            // Every call must move on and stay within the size announced.
            if (chunk.is_empty() && (data.len() as u64) < size)
                || (data.len() + chunk.len()) as u64 > size
            {
                return Err(bad_reply("data"));
            }
            data.extend_from_slice(&chunk);
            if data.len() as u64 == size {
                return Ok(data);
            }
        }
    }

    pub(crate) fn set_dynamic_content(&self, dynamic: bool) -> Result<()> {
        self.set("mark the content of", Change::DynamicContent(dynamic))
    }

    pub(crate) fn set_yielding(&self, yielding: bool) -> Result<()> {
        self.set("set the yielding of", Change::Yielding(yielding))
    }

    pub(crate) fn set_max_download_size(&self, bytes: u64) -> Result<()> {
        self.set("limit the download size of", Change::MaxDownloadSize(bytes))
    }

    pub(crate) fn set_low_speed_limit(&self, bytes_per_second: u64, seconds: u32) -> Result<()> {
        self.set(
            "set the low-speed limit of",
            Change::LowSpeedLimit {
                bytes_per_second,
                seconds,
            },
        )
    }

    pub(crate) fn set_file_delta(&self, index: u32, delta: Option<DeltaSource>) -> Result<()> {
        let (seeds, control_url) = match &delta {
            Some(d) => (
                d.seeds
                    .iter()
                    .map(|p| Value::from(p.to_string_lossy().into_owned()))
                    .collect(),
                d.control_url.clone().map_or(Value::Null, Value::from),
            ),
            None => (Vec::new(), Value::Null),
        };
        self.change(
            "set the seeds of a file of",
            method::SET_FILE_DELTA,
            &[
                ("index", index.into()),
                ("seeds", Value::Array(seeds)),
                ("control_url", control_url),
            ],
        )
        .map(drop)
    }

    pub(crate) fn set_file_sha256(&self, index: u32, hex: Option<&str>) -> Result<()> {
        self.change(
            "set a checksum in",
            method::SET_FILE_SHA256,
            &[
                ("index", index.into()),
                ("sha256", hex.map_or(Value::Null, Value::from)),
            ],
        )
        .map(drop)
    }
}

/// A `GetReplyData` reply whose `member` is not as the interface says.
fn bad_reply(member: &str) -> Error {
    wire::unexpected(format!("{} with a bad {member}", method::GET_REPLY_DATA))
}

/// The upload job types.
const UPLOADS: &[JobType] = &[JobType::Upload, JobType::UploadReply];
