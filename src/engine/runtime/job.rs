//! The job's API: every call reads the model under the job's data lock, or
//! sends it a command and carries out the effects after releasing the lock.
//!
//! Locks of a job, always taken in this order:
//! 1. `op_lock` serialises the calls that change a job (add, resume,
//!    suspend, cancel, complete, setters); it may be held across I/O (the
//!    fsyncs and renames of `complete`) and while waiting for the worker;
//! 2. `data` guards the model and is held only to apply a command or read;
//! 3. the manager's job list (`forget`, taken with `data` released).
//!
//! With `data` released, `carry_out` takes leaf locks one at a time: the
//! cancel token's hook list (hooks shut sockets down), `written` then the
//! store's connection (SQLite commits, i.e. fsyncs), the dispatcher's
//! sender and registry, the scheduler's wake flag. No callback, no socket
//! shutdown and no fsync ever runs under `data`.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::engine::error::{Error, Result};
use crate::engine::model::command::{Clock, Command, Effects, Files, Final, NewFile, Property};
use crate::engine::model::job::{JobModel, Run, StoredJob};
use crate::engine::model::ranges::FileRanges;
use crate::engine::runtime::commit;
use crate::engine::runtime::notify::{BoundCallback, Registration};
use crate::engine::runtime::notify_cmd;
use crate::engine::runtime::partial;
use crate::engine::runtime::rights::Rights;
use crate::engine::runtime::shared::{Job, JobShared, ManagerShared, Slot};
use crate::engine::store::rows;
use crate::engine::store::{FileRecord, JobRecord};
use crate::engine::transport::options::{self, HttpOptions, ProxySetting};
use crate::engine::transport::source::Source;
use crate::engine::types::*;
use crate::hresult::*;
use crate::sync::MutexGuard;

/// Rows snapshotted under the data lock, to be written without it.
struct Rows {
    version: u64,
    job: Option<JobRecord>,
    files: Vec<FileRecord>,
}

/// What a command asks for, gathered under the data lock.
#[derive(Default)]
struct Work {
    rows: Option<Rows>,
    events: Vec<NotifyEvent>,
    /// A state to announce to `wait`ers once its rows are written.
    announce: Option<(u64, JobState)>,
    wake_waiters: bool,
    wake_scheduler: bool,
    stop: Option<Arc<crate::engine::transport::cancel::CancelToken>>,
    forget: bool,
    /// The job's bandwidth limit changed to this.
    rate: Option<u64>,
    /// The notify command line, when an event it runs for is among `events`.
    cmdline: Option<(NotifyCmdLine, JobState)>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("id", &self.shared.id)
            .field("state", &self.state())
            .finish()
    }
}

impl PartialEq for Job {
    fn eq(&self, other: &Job) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

/// The most seeds a file may have.
pub(crate) const MAX_SEEDS: usize = 16;

/// Checks a file's seeds and control file as `set_file_delta` takes them.
fn check_delta(d: &DeltaSource) -> Result<()> {
    if !cfg!(feature = "delta") {
        return Err(Error::new(
            QM_E_NOTIMPL,
            "cannot download from seeds: this qmgr was built without the `delta` feature",
        ));
    }
    if d.seeds.is_empty() || d.seeds.len() > MAX_SEEDS {
        return Err(Error::invalid_arg(format!(
            "{} seeds given: a delta download takes 1 to {MAX_SEEDS}",
            d.seeds.len()
        )));
    }
    for seed in &d.seeds {
        let text = seed.to_string_lossy();
        if !seed.is_absolute() || text.contains('\0') || text.len() > 4096 {
            return Err(Error::invalid_arg(format!(
                "the seed '{text}' is not an absolute path"
            )));
        }
    }
    if let Some(url) = &d.control_url {
        match Source::parse(url) {
            Ok(Source::Http(_)) => {}
            _ => {
                return Err(Error::invalid_arg(format!(
                    "the control file's URL '{}' is not an http(s) URL",
                    crate::engine::transport::url::redact(url)
                )))
            }
        }
    }
    Ok(())
}

fn parse_sha256(hex: &str) -> Result<[u8; 32]> {
    let bad = || Error::invalid_arg(format!("'{hex}' is not a SHA-256 (64 hexadecimal digits)"));
    if hex.len() != 64 || !hex.is_ascii() {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

/// Refuses file `i` when the directory of its local name, where its
/// temporary file and then the file itself go, does not exist
/// (`QM_E_PATH_NOT_FOUND`) or this thread may not create files in it
/// (`QM_E_ACCESSDENIED`, as BITS's `AddFile`), naming the directory: run
/// with the job owner's rights, it judges the owner. It is checked again
/// (by the kernel) when the transfer creates the temporary file.
fn check_local_dir(i: usize, local: &Path) -> Result<()> {
    let Some(dir) = local.parent() else {
        return Ok(());
    };
    let refused = |code, why: &str| {
        Err(Error::new(
            code,
            format!(
                "file {i}: the directory '{}' of the local name '{}' {why}",
                dir.display(),
                local.display()
            ),
        ))
    };
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => match crate::sys::may_create_in(dir) {
            Some(false) => refused(
                QM_E_ACCESSDENIED,
                "is not writable by the job's owner (qmgr writes a temporary file there)",
            ),
            _ => Ok(()),
        },
        Ok(_) => refused(QM_E_PATH_NOT_FOUND, "is not a directory"),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => refused(
            QM_E_ACCESSDENIED,
            "cannot be reached by the job's owner (permission denied)",
        ),
        Err(_) => refused(QM_E_PATH_NOT_FOUND, "does not exist: create it first"),
    }
}

/// Reads back the reply file of an upload-reply job, which held `len`
/// bytes when the reply arrived. Its owner may have put anything there
/// since, and through a service the service reads it: so never a link
/// (`O_NOFOLLOW`), never a FIFO or a device (`O_NONBLOCK` to open, then
/// a regular file only), and never more than `len` bytes; a file of
/// another length is `QM_BG_E_LOCAL_FILE_CHANGED`.
fn read_reply_file(path: &Path, len: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let failed = |e: std::io::Error| {
        Error::new(
            HResult::from_io_error(&e).0,
            format!("reading the reply file '{}': {e}", path.display()),
        )
    };
    let changed = || {
        Error::new(
            QM_BG_E_LOCAL_FILE_CHANGED,
            format!(
                "the reply file '{}' is no longer the reply of {len} bytes that arrived",
                path.display()
            ),
        )
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => changed(),
            _ => failed(e),
        })?;
    if !file.metadata().map_err(failed)?.is_file() {
        return Err(changed());
    }
    let mut data = Vec::with_capacity(len as usize);
    file.take(len + 1).read_to_end(&mut data).map_err(failed)?;
    if data.len() as u64 != len {
        return Err(changed());
    }
    Ok(data)
}

/// Refuses the local name of an upload (file `i`) unless it is a regular
/// file this thread (the job's owner) can open for reading (BITS's
/// `AddFile` of an upload job checks it is there).
fn check_readable(i: usize, local: &Path) -> Result<()> {
    match crate::engine::transport::file::open_regular(local) {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(Error::invalid_arg(format!(
            "file {i}: '{}' is not a regular file: an upload sends one file",
            local.display()
        ))),
        Err(e) => Err(Error::new(
            HResult::from_io_error(&e).0,
            format!(
                "file {i}: cannot read '{}' to upload it: {e}",
                local.display()
            ),
        )),
    }
}

/// Checks and parses files to add; `upload`: files an upload job sends.
fn parse_files(files: &[FileSpec], upload: bool) -> Result<Vec<NewFile>> {
    let mut parsed = Vec::with_capacity(files.len());
    for (i, spec) in files.iter().enumerate() {
        let source = Source::parse(&spec.remote).map_err(|e| Error {
            message: format!("file {i}: {}", e.message),
            ..e
        })?;
        let local = Path::new(&spec.local);
        if !local.is_absolute() || local.file_name().is_none() || spec.local.ends_with('/') {
            return Err(Error::invalid_arg(format!(
                "file {i}: the local name '{}' is not an absolute file path",
                spec.local
            )));
        }
        if spec.local.len() > libc::PATH_MAX as usize
            || spec.local.bytes().any(|b| b.is_ascii_control())
        {
            return Err(Error::invalid_arg(format!(
                "file {i}: the local name is too long or has control characters"
            )));
        }
        // Each component must fit the file system's name limit, or the
        // rename at `complete` fails after the whole download.
        if let Some(long) = local
            .components()
            .map(|c| c.as_os_str().len())
            .find(|&len| len > libc::NAME_MAX as usize)
        {
            return Err(Error::invalid_arg(format!(
                "file {i}: a component of the local name '{}' is {long} bytes long; the limit is {}",
                spec.local,
                libc::NAME_MAX
            )));
        }
        if upload {
            check_readable(i, local)?;
        } else {
            check_local_dir(i, local)?;
        }
        parsed.push(NewFile {
            remote: spec.remote.clone(),
            source,
            local: local.to_path_buf(),
            size_hint: spec.size_hint,
            ranges: None,
        });
    }
    Ok(parsed)
}

impl Job {
    /// A new job of `manager`, owned by `owner`, written to its state
    /// directory.
    pub(crate) fn create(
        manager: &Arc<ManagerShared>,
        display_name: &str,
        kind: JobType,
        owner: Owner,
    ) -> Result<Job> {
        if kind.is_upload() && !cfg!(feature = "upload") {
            return Err(Error::new(
                QM_E_NOTIMPL,
                "cannot create an upload job: this qmgr was built without the `upload` feature",
            ));
        }
        let model = JobModel::new(
            JobId::new_random(),
            owner,
            display_name,
            kind,
            manager.next_queue_seq(),
            Clock::now(),
        )?;
        let job = Job {
            shared: JobShared::new(model, Arc::downgrade(manager)),
        };
        job.save_all()?;
        Ok(job)
    }

    /// Rebuilds a job from the state directory and cuts each partial file
    /// back to its durable bytes (bytes past them may be garbage after a
    /// power loss). Active and retrying jobs go back to QUEUED.
    pub(crate) fn restore(manager: &Arc<ManagerShared>, stored: StoredJob) -> Job {
        let (model, changed) = JobModel::restore(stored, Clock::now());
        for f in model.files().iter().filter(|f| !f.completed()) {
            if let Some(temp) = f.temp() {
                // Only qmgr's own temporary file, reopened without following links.
                let _ =
                    partial::reopen(temp).and_then(|file| file.set_len(f.ledger().arrived().end()));
            }
        }
        let job = Job {
            shared: JobShared::new(model, Arc::downgrade(manager)),
        };
        if changed {
            let _ = job.save_all();
        }
        job
    }

    // ----- the command machinery ------------------------------------------

    /// Applies `command`; on success `read` sees the model and the effects
    /// under the same lock, then the effects are carried out without it.
    /// The carried-out persistence's failure is returned.
    pub(crate) fn apply_and<R>(
        &self,
        command: Command,
        read: impl FnOnce(&JobModel, &Effects) -> R,
    ) -> Result<R> {
        let mut slot = self.shared.data.lock();
        let fx = slot.model.apply(command, Clock::now())?;
        let out = read(&slot.model, &fx);
        let work = self.prepare(&mut slot, fx);
        drop(slot);
        self.carry_out(work).map(|_| out)
    }

    /// Applies `command` and carries its effects out.
    pub(crate) fn apply(&self, command: Command) -> Result<()> {
        self.apply_and(command, |_, _| ())
    }

    /// Applies a command of the worker or scheduler, whose persistence is
    /// best effort (a failed checkpoint only means more bytes to fetch).
    pub(crate) fn apply_quietly(&self, command: Command) {
        let _ = self.apply(command);
    }

    /// Applies `command` with the data lock already held; returns what to
    /// carry out once it is released.
    fn apply_locked(&self, slot: &mut Slot, command: Command) -> Result<Work> {
        let fx = slot.model.apply(command, Clock::now())?;
        Ok(self.prepare(slot, fx))
    }

    /// Under the data lock: publishes the model to lock-free readers and
    /// snapshots what the effects need.
    fn prepare(&self, slot: &mut Slot, fx: Effects) -> Work {
        let model = &slot.model;
        // Out of the active states, this also zeroes the rate (in the
        // same step that leaves them).
        self.shared.live.publish(model.published());
        let mut work = Work {
            rate: (self.shared.throttle.rate() != model.max_bandwidth())
                .then(|| model.max_bandwidth()),
            events: fx.events,
            wake_waiters: fx.wake_waiters,
            wake_scheduler: fx.wake_scheduler,
            forget: fx.forget,
            ..Work::default()
        };
        if fx.stop_run {
            work.stop = slot.token.clone();
        }
        let runs_program = |e: &NotifyEvent| {
            e.kind == NotifyFlags::JOB_TRANSFERRED || e.kind == NotifyFlags::JOB_ERROR
        };
        if work.events.iter().any(runs_program) {
            work.cmdline = model.notify_cmdline().cloned().map(|c| (c, model.state()));
        }
        let wants_rows = fx.persist.job || fx.persist.files != Files::None;
        let state_changed = model.state() != slot.last_state;
        slot.last_state = model.state();
        if wants_rows || state_changed {
            slot.version += 1;
        }
        if wants_rows && !fx.forget && self.persistent() {
            let files = match fx.persist.files {
                Files::None => Vec::new(),
                Files::One(i) => vec![rows::file_record(model, i)],
                Files::All => (0..model.files().len())
                    .map(|i| rows::file_record(model, i))
                    .collect(),
            };
            work.rows = Some(Rows {
                version: slot.version,
                job: fx.persist.job.then(|| rows::job_record(model)),
                files,
            });
        }
        if state_changed {
            work.announce = Some((slot.version, model.state()));
        }
        work
    }

    /// Without the data lock: cancels the transfer, writes rows, posts
    /// notifications, announces settled states, wakes the scheduler and
    /// forgets a final job. Returns the persistence failure, if any.
    fn carry_out(&self, work: Work) -> Result<()> {
        if let Some(token) = work.stop {
            token.cancel();
        }
        if let Some(rate) = work.rate {
            self.shared.throttle.set_rate(rate);
        }
        let manager = self.shared.manager.upgrade();
        let mut saved = Ok(());
        if let (Some(rows), Some(manager)) = (work.rows, &manager) {
            saved = self.write_rows(manager, rows);
        }
        if let Some(manager) = &manager {
            for event in work.events {
                manager.dispatcher.post(self.shared.id, event);
            }
            // BITS's rule: the command line runs when no callback takes the event.
            if let Some((cmdline, state)) = work.cmdline {
                if !manager.dispatcher.takes_events(self.shared.id) {
                    notify_cmd::launch(self.clone(), cmdline, state);
                }
            }
        }
        if let Some((version, state)) = work.announce {
            let mut slot = self.shared.data.lock();
            if version > slot.announced.0 {
                slot.announced = (version, state);
            }
            drop(slot);
        }
        let settled = work.announce.is_some_and(|(_, state)| state.is_settled());
        if work.wake_waiters || settled {
            self.shared.changed.notify_all();
        }
        if let Some(manager) = &manager {
            if work.forget {
                self.shared.written.lock().deleted = true;
                if let Some(store) = &manager.store {
                    // Best effort: a leftover row of a final job is dropped at the next open.
                    let _ = store.delete_job(&self.shared.id.0);
                }
                manager.forget_job(self.shared.id);
            }
            if work.wake_scheduler {
                manager.wake_scheduler();
            }
        }
        saved
    }

    /// Writes the rows that are newer than those already written.
    fn write_rows(&self, manager: &ManagerShared, rows: Rows) -> Result<()> {
        let Some(store) = &manager.store else {
            return Ok(());
        };
        let mut written = self.shared.written.lock();
        if written.deleted {
            return Ok(());
        }
        let job = rows.job.filter(|_| rows.version > written.job);
        let files: Vec<FileRecord> = rows
            .files
            .into_iter()
            .filter(|f| {
                written
                    .files
                    .get(f.index as usize)
                    .is_none_or(|&v| rows.version > v)
            })
            .collect();
        if job.is_none() && files.is_empty() {
            return Ok(());
        }
        store.save(&self.shared.id.0, job.as_ref(), &files)?;
        if job.is_some() {
            written.job = rows.version;
        }
        for f in &files {
            let i = f.index as usize;
            if written.files.len() <= i {
                written.files.resize(i + 1, 0);
            }
            written.files[i] = rows.version;
        }
        Ok(())
    }

    /// Writes the job's row and every file's (create, restore).
    fn save_all(&self) -> Result<()> {
        let Some(manager) = self.shared.manager.upgrade() else {
            return Ok(());
        };
        if manager.store.is_none() {
            return Ok(());
        }
        let rows = {
            let mut slot = self.shared.data.lock();
            slot.version += 1;
            let model = &slot.model;
            Rows {
                version: slot.version,
                job: Some(rows::job_record(model)),
                files: (0..model.files().len())
                    .map(|i| rows::file_record(model, i))
                    .collect(),
            }
        };
        self.write_rows(&manager, rows)
    }

    /// The op lock of a call that changes the job; refuses a job whose
    /// manager is closed (`QM_E_HANDLE`) unless it is final (the model then
    /// refuses the change with `QM_BG_E_INVALID_STATE`).
    fn lock_for_change(&self) -> Result<MutexGuard<'_, ()>> {
        let op = self.shared.op_lock.lock();
        if !self.state().is_final() {
            self.manager()?;
        }
        Ok(op)
    }

    /// Sets a property under the op lock.
    fn set(&self, property: Property) -> Result<()> {
        let _op = self.lock_for_change()?;
        self.apply(Command::Set(property))
    }

    pub(crate) fn manager(&self) -> Result<Arc<ManagerShared>> {
        self.shared
            .manager
            .upgrade()
            .filter(|m| m.is_open())
            .ok_or_else(Error::manager_closed)
    }

    /// True when the job's manager keeps a state directory.
    pub(crate) fn persistent(&self) -> bool {
        self.shared
            .manager
            .upgrade()
            .is_some_and(|m| m.store.is_some())
    }

    /// Reads the model under the data lock.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&JobModel) -> R) -> R {
        f(&self.shared.data.lock().model)
    }

    /// Stops the running transfer, if any, and waits until its worker has
    /// ended (within a chunk's time). Call with the op lock held, after a
    /// command that stopped the run.
    fn wait_for_run_end(&self) {
        let mut slot = self.shared.data.lock();
        while slot.model.run() != Run::Idle {
            if let Some(token) = slot.token.clone() {
                if !token.is_cancelled() {
                    // A run the model stopped is cancelled by carry_out;
                    // this only covers a race with the worker starting.
                    drop(slot);
                    token.cancel();
                    slot = self.shared.data.lock();
                    continue;
                }
            }
            self.shared.changed.wait(&mut slot);
        }
    }

    // ----- reading -------------------------------------------------------

    /// The job's GUID.
    pub fn id(&self) -> JobId {
        self.shared.id
    }

    /// Who the job belongs to: the user whose rights its files are read
    /// and written with and its notify program runs as (see [`Owner`]).
    /// A job created by `create_job` is the process's effective user's.
    pub fn owner(&self) -> Owner {
        self.read(JobModel::owner)
    }

    /// The owner's rights, resolved now (see `rights`).
    pub(crate) fn rights(&self) -> Rights {
        Rights::of(self.owner())
    }

    /// The current state; lock-free.
    pub fn state(&self) -> JobState {
        JobState::from_u32(self.shared.live.state()).unwrap_or(JobState::Error)
    }

    /// Bytes transferred over all files; lock-free (`QM_PROGRESS_SIZE_DONE`).
    pub fn bytes_transferred(&self) -> u64 {
        self.shared.live.bytes_transferred()
    }

    /// Whole percent of the job's bytes transferred, `floor(100 * done / total)`;
    /// 0 while the total is unknown or zero; lock-free (`QM_PROGRESS_PERCENT_DONE`).
    pub fn percent_done(&self) -> u64 {
        self.shared.live.percent_done()
    }

    /// The job's progress, with rate and ETA: every number from one
    /// moment (a coherent snapshot); lock-free.
    pub fn progress(&self) -> JobProgress {
        self.shared.live.progress()
    }

    /// Number of files in the job; lock-free.
    pub fn file_count(&self) -> u32 {
        self.shared.live.files_total()
    }

    /// The remote name of file `index`: what the caller asked for, as
    /// added or last set by `set_file_remote_name` or
    /// `replace_remote_prefix`, never changed by a redirect.
    pub fn file_remote_name(&self, index: u32) -> Result<String> {
        self.read(|m| m.file(index).map(|f| f.remote().to_string()))
    }

    /// The local name of file `index`.
    pub fn file_local_name(&self, index: u32) -> Result<String> {
        self.read(|m| {
            m.file(index)
                .map(|f| f.local().to_string_lossy().into_owned())
        })
    }

    /// The size hint file `index` was added with (0: none).
    pub fn file_size_hint(&self, index: u32) -> Result<u64> {
        self.read(|m| m.file(index).map(|f| f.size_hint()))
    }

    /// The SHA-256 file `index` must have, in lower-case hex, if one is set.
    pub fn file_sha256(&self, index: u32) -> Result<Option<String>> {
        self.read(|m| {
            m.file(index).map(|f| {
                f.sha256()
                    .map(|d| d.iter().map(|b| format!("{b:02x}")).collect())
            })
        })
    }

    /// Progress of file `index`.
    pub fn file_progress(&self, index: u32) -> Result<FileProgress> {
        self.read(|m| m.file(index).map(|f| f.progress()))
    }

    /// The seeds and control file of file `index`'s delta download, if it
    /// has seeds.
    pub fn file_delta(&self, index: u32) -> Result<Option<DeltaSource>> {
        self.read(|m| m.file(index).map(|f| f.delta().map(|d| d.source.clone())))
    }

    /// How file `index`'s delta download went: which way, and how many
    /// bytes came from the seeds (`DeltaWay::None` for a file without).
    pub fn file_delta_status(&self, index: u32) -> Result<DeltaStatus> {
        self.read(|m| m.file(index).map(|f| f.delta_status()))
    }

    /// `GetStatus`: flags and the last error's numbers (zero unless in an error state).
    pub fn status(&self) -> JobStatus {
        self.read(JobModel::status)
    }

    /// The last error, while the job is in ERROR or TRANSIENT_ERROR
    /// (`QM_BG_E_ERROR_INFORMATION_UNAVAILABLE` otherwise).
    pub fn error(&self) -> Result<JobError> {
        self.read(|m| m.error().cloned())
    }

    /// While the job is in TRANSIENT_ERROR, how long until it retries (its
    /// retry delay, or the server's Retry-After when longer); `None` in
    /// any other state.
    pub fn next_retry_in(&self) -> Option<Duration> {
        self.read(|m| {
            m.retry_at()
                .filter(|_| m.state() == JobState::TransientError)
                .map(|at| at.saturating_duration_since(Instant::now()))
        })
    }

    /// Creation, modification and transfer-completion times.
    pub fn times(&self) -> JobTimes {
        self.read(JobModel::times)
    }

    /// The display name.
    pub fn display_name(&self) -> String {
        self.read(|m| m.display_name().to_string())
    }

    /// The description.
    pub fn description(&self) -> String {
        self.read(|m| m.description().to_string())
    }

    /// The priority.
    pub fn priority(&self) -> Priority {
        self.read(JobModel::priority)
    }

    /// The minimum retry delay in seconds.
    pub fn min_retry_delay(&self) -> u32 {
        self.read(JobModel::retry_delay)
    }

    /// The no-progress timeout in seconds.
    pub fn no_progress_timeout(&self) -> u32 {
        self.read(JobModel::no_progress_timeout)
    }

    /// The notification flags.
    pub fn notify_flags(&self) -> NotifyFlags {
        self.read(JobModel::notify_flags)
    }

    /// The job's own bandwidth limit in bytes per second (0: none).
    pub fn max_bandwidth(&self) -> u64 {
        self.read(JobModel::max_bandwidth)
    }

    /// The custom headers as set, `None` when there are none.
    pub fn custom_headers(&self) -> Option<String> {
        self.read(|m| {
            m.http()
                .custom_headers
                .as_ref()
                .map(|(text, _)| text.clone())
        })
    }

    /// The proxy setting.
    pub fn proxy(&self) -> ProxySetting {
        self.read(|m| m.http().proxy.clone())
    }

    /// The CA file set by `set_ca_file`, `None` for the system's roots.
    pub fn ca_file(&self) -> Option<PathBuf> {
        self.read(|m| m.http().ca_file.clone())
    }

    /// The client certificate and key files set by
    /// `set_client_certificate` (their paths, never what they hold).
    pub fn client_certificate(&self) -> Option<(PathBuf, PathBuf)> {
        self.read(|m| m.http().client_certificate.clone())
    }

    /// The stall timeout in seconds.
    pub fn stall_timeout(&self) -> u32 {
        self.read(|m| m.http().stall_timeout.as_secs() as u32)
    }

    /// The job's HTTP security flags (the redirect policy).
    pub fn security_flags(&self) -> SecurityFlags {
        self.read(|m| m.http().security_flags)
    }

    /// The URL file `index`'s last response came from: its remote name,
    /// unless redirects led elsewhere, or where a refused redirect pointed
    /// (under every redirect policy). A report only: never fetched from,
    /// never a scope for credentials, never stored.
    pub fn file_final_url(&self, index: u32) -> Result<String> {
        self.read(|m| m.file(index).map(|f| f.final_url().to_string()))
    }

    /// The temporary file holding file `index`'s bytes until `complete`
    /// (BITS's `IBackgroundCopyFile3::GetTemporaryName`): `None` before the
    /// transfer created it and once the file is in place or cancelled.
    pub fn file_temporary_name(&self, index: u32) -> Result<Option<PathBuf>> {
        self.read(|m| m.file(index).map(|f| f.temp().map(Path::to_path_buf)))
    }

    /// The header lines of the last HTTP response for file `index`, one
    /// `name: value\r\n` each (names in lower case), as BITS's
    /// `BITS_FILE_PROPERTY_ID_HTTP_RESPONSE_HEADERS` gives them; `None`
    /// before a response (and for local files). Kept in memory only.
    pub fn file_response_headers(&self, index: u32) -> Result<Option<String>> {
        self.read(|m| {
            m.file(index)
                .map(|f| f.response_headers().map(String::from))
        })
    }

    /// A snapshot of the HTTP options, for a transfer run, with the
    /// manager's snapshot of the environment.
    pub(crate) fn http_options(&self) -> HttpOptions {
        let mut options = self.read(|m| m.http().clone());
        // The proxy variables as the caller's thread last read them, never
        // the process's environment from this (a transfer) thread.
        if let Some(manager) = self.shared.manager.upgrade() {
            options.environment = manager.environment();
        }
        options
    }

    // ----- the lifecycle ---------------------------------------------------

    /// Appends files, all or none (`AddFiles`). Sources must be http(s)://,
    /// file:// or absolute paths; local names absolute and unique in the job,
    /// in a directory that exists (`QM_E_PATH_NOT_FOUND` otherwise) and the
    /// job's owner may write (`QM_E_ACCESSDENIED`), the error naming it.
    /// A TRANSFERRED job goes back to QUEUED.
    pub fn add_files(&self, files: &[FileSpec]) -> Result<()> {
        if files.is_empty() {
            return Err(Error::invalid_arg("no files given"));
        }
        let upload = self.read(|m| m.kind().is_upload());
        let files = self.rights().run(|| parse_files(files, upload))?;
        let _op = self.lock_for_change()?;
        let seq = self.manager()?.next_queue_seq();
        self.apply(Command::AddFiles { files, seq })
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
        let checked = FileRanges::new(ranges)?;
        let mut files = self
            .rights()
            .run(|| parse_files(&[FileSpec::new(remote, local)], false))?;
        files[0].ranges = Some(checked);
        let _op = self.lock_for_change()?;
        let seq = self.manager()?.next_queue_seq();
        self.apply(Command::AddFiles { files, seq })
    }

    /// The ranges of file `index` as they were added, in their order
    /// (`IBackgroundCopyFile2::GetFileRanges`); empty for a whole file.
    pub fn file_ranges(&self, index: u32) -> Result<Vec<FileRange>> {
        self.read(|m| {
            m.file(index)
                .map(|f| f.ranges().map(|r| r.list().to_vec()).unwrap_or_default())
        })
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
        if old.is_empty() {
            return Err(Error::invalid_arg("the prefix to replace is empty"));
        }
        let _op = self.lock_for_change()?;
        let names = self.read(|m| {
            m.files()
                .iter()
                .enumerate()
                .filter_map(|(i, f)| {
                    let rest = f.remote().strip_prefix(old)?;
                    Some((i, format!("{new}{rest}")))
                })
                .collect::<Vec<_>>()
        });
        let replaced = !names.is_empty();
        let names = names
            .into_iter()
            .map(|(i, remote)| {
                let source = Source::parse(&remote).map_err(|e| Error {
                    message: format!("file {i}: {}", e.message),
                    ..e
                })?;
                Ok((i, remote, source))
            })
            .collect::<Result<Vec<_>>>()?;
        // Applied even when nothing matched, so that the model refuses a
        // final job in one place.
        self.apply(Command::SetRemoteNames { names })?;
        Ok(replaced)
    }

    /// Gives file `index` a new remote name (BITS's
    /// `IBackgroundCopyFile2::SetRemoteName`), keeping its bytes as
    /// `replace_remote_prefix` does. `QM_E_INVALIDARG` for a name that is
    /// not valid, `QM_E_ITEM_NOT_FOUND` for an index past the end.
    pub fn set_file_remote_name(&self, index: u32, remote: &str) -> Result<()> {
        let source = Source::parse(remote)?;
        let _op = self.lock_for_change()?;
        self.apply(Command::SetRemoteNames {
            names: vec![(index as usize, remote.to_string(), source)],
        })
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
        let _op = self.lock_for_change()?;
        let manager = self.manager()?;
        manager.refresh_environment();
        let seq = manager.next_queue_seq();
        self.apply(Command::Resume { seq })
    }

    /// Stops the job (`Suspend`); partial data is kept for a later resume.
    /// Returns once the transfer has stopped writing.
    pub fn suspend(&self) -> Result<()> {
        let _op = self.lock_for_change()?;
        let saved = self.apply(Command::Suspend);
        self.wait_for_run_end();
        self.shared.live.reset_rate();
        saved
    }

    /// Cancels the job (`CancelJob`): stops it, deletes every temporary file,
    /// and leaves it CANCELLED. `QM_BG_S_UNABLE_TO_DELETE_FILES` when a
    /// temporary file could not be deleted.
    pub fn cancel(&self) -> Result<HResult> {
        let op = self.lock_for_change()?;
        self.begin_finish("cancel")?;
        #[cfg(feature = "upload")]
        self.terminate_upload();
        let undeleted = self.finish(op, Final::Cancelled)?;
        Ok(HResult(if undeleted > 0 {
            QM_BG_S_UNABLE_TO_DELETE_FILES
        } else {
            QM_S_OK
        }))
    }

    /// Ends a cancelled upload on the server (tus termination, the draft's
    /// cancellation: `DELETE` of the upload URL), best effort, on a thread
    /// of its own so that `cancel` never waits for a server. That thread
    /// reads the job's CA file and client certificate as a run does: with
    /// the owner's rights, or not at all (a daemon must not read, for a
    /// user, a file only it may read). An upload the server confirmed
    /// whole is left there: as BITS's Cancel-Session has no effect once
    /// the last fragment was sent, cancelling a TRANSFERRED upload job
    /// does not take the file back.
    #[cfg(feature = "upload")]
    fn terminate_upload(&self) {
        let Some((remote, options, state)) = self.read(|m| {
            let state = m
                .upload()?
                .state
                .clone()
                .filter(|s| s.upload_url.is_some() && s.confirmed < s.file_size)?;
            Some((m.files()[0].remote().to_string(), m.http().clone(), state))
        }) else {
            return;
        };
        // Looked up here, with the process's rights.
        let rights = self.rights();
        let _ = std::thread::Builder::new()
            .name("qmgr-terminate".into())
            .spawn(move || {
                let Ok(_owner) = rights.enter() else {
                    return;
                };
                let token = crate::engine::transport::cancel::CancelToken::default();
                let _ =
                    crate::engine::transport::upload::terminate(&remote, &options, &state, &token);
            });
    }

    /// Completes the job (`Complete`): renames each transferred file into
    /// place (after `fsync`), deletes partial ones, and leaves it ACKNOWLEDGED.
    /// `QM_BG_S_PARTIAL_COMPLETE` when some files were not transferred. If a
    /// rename fails the job stays as it was and the error is returned.
    pub fn complete(&self) -> Result<HResult> {
        let op = self.lock_for_change()?;
        self.begin_finish("complete")?;
        let (pending, partial_files) = self.read(|m| {
            let pending: Vec<commit::Pending> = m
                .files_to_commit()
                .into_iter()
                .map(|i| commit::Pending {
                    index: i,
                    temp: m.files()[i].temp().map(Path::to_path_buf),
                    local: m.files()[i].local().to_path_buf(),
                })
                .collect();
            (pending, m.incomplete_files())
        });
        // Written before the first rename, so that a crash between renames
        // is recognised at the next open (the renamed files count as done).
        if !pending.is_empty() {
            self.apply(Command::CommitStarted)?;
        }
        // fsync may take long: it runs without the data lock, so readers and
        // the scheduler go on; `op` and `finishing` keep the files as they are.
        let (done, outcome) = commit::commit_files(&pending, &self.rights());
        let failed = outcome.is_err();
        let saved = self.apply(Command::Committed { done, failed });
        outcome?;
        saved?;
        self.finish(op, Final::Acknowledged)?;
        Ok(HResult(if partial_files > 0 {
            QM_BG_S_PARTIAL_COMPLETE
        } else {
            QM_S_OK
        }))
    }

    /// The first step of cancel and complete: stop the transfer and wait for it.
    fn begin_finish(&self, action: &str) -> Result<()> {
        self.apply(Command::BeginFinish).map_err(|e| {
            if e.code.0 == QM_BG_E_INVALID_STATE {
                Error::invalid_state(action, self.state())
            } else {
                e
            }
        })?;
        self.wait_for_run_end();
        Ok(())
    }

    /// The last step of cancel and complete: deletes the temporary files,
    /// makes the job final, releases `op`, then drops its callback (with no
    /// lock held: retiring waits for a running callback, which may be
    /// waiting for one). Returns how many temporary files could not be deleted.
    fn finish(&self, op: MutexGuard<'_, ()>, outcome: Final) -> Result<usize> {
        let (removed, undeleted) = self.remove_temps();
        self.apply(Command::Finish {
            outcome,
            temps_removed: removed,
        })?;
        drop(op);
        if let Some(manager) = self.shared.manager.upgrade() {
            let gate = &self.shared.notify_gate;
            if let Some(old) = manager
                .dispatcher
                .register(self.shared.id, 0, None, false, gate)
            {
                manager.dispatcher.retire(&old);
            }
        }
        Ok(undeleted)
    }

    /// Deletes every temporary file of the job, with its owner's rights;
    /// returns the files whose temporary file is gone and how many could
    /// not be deleted (their paths stay recorded).
    fn remove_temps(&self) -> (Vec<usize>, usize) {
        let temps: Vec<(usize, PathBuf)> = self.read(|m| {
            m.files_with_temp()
                .into_iter()
                .filter_map(|i| m.files()[i].temp().map(|t| (i, t.to_path_buf())))
                .collect()
        });
        commit::remove_temps(&temps, &self.rights())
    }

    /// Gives the job to `owner` (BITS's `IBackgroundCopyJob::TakeOwnership`,
    /// where the caller takes the job: a service passes the caller's
    /// identity): from now on its files are touched with the new owner's
    /// rights and its notify program runs as the new owner. A running
    /// transfer stops (the job goes back to the queue, in its place). The
    /// temporary files are handed over to the new owner (`fchown`, as the
    /// process may when it is root), so their bytes are kept; one that
    /// cannot be (another user's file at that name, a hard link, a process
    /// that may not change owners) is deleted with the old owner's rights
    /// and its file fetched again, a TRANSFERRED job then going back to the
    /// queue. The notify command line is cleared when the owner changes:
    /// the program was the old owner's to choose and never runs with the
    /// new owner's rights. `QM_E_ACCESSDENIED` when the process cannot act with the new
    /// owner's rights (see
    /// [`Manager::create_job_owned_by`](crate::Manager::create_job_owned_by)),
    /// `QM_BG_E_INVALID_STATE` for a final job, `QM_E_INVALIDARG` for an id
    /// of `u32::MAX`. Taking a job one already owns changes nothing.
    pub fn take_ownership(&self, owner: Owner) -> Result<()> {
        let new = Rights::check_may_act_for(owner)?;
        let _op = self.lock_for_change()?;
        let old = self.rights();
        if old.owner() == owner {
            let state = self.state();
            if state.is_final() {
                return Err(Error::invalid_state("take ownership of", state));
            }
            return Ok(());
        }
        self.begin_finish("take ownership of")?;
        let temps: Vec<(usize, PathBuf)> = self.read(|m| {
            m.files_with_temp()
                .into_iter()
                .filter(|&i| !m.files()[i].committed())
                .filter_map(|i| m.files()[i].temp().map(|t| (i, t.to_path_buf())))
                .collect()
        });
        let lost = commit::hand_over(&temps, &old, new.owner());
        let seq = self.manager().map(|m| m.next_queue_seq()).unwrap_or(0);
        self.apply(Command::TakeOwnership { owner, lost, seq })
    }

    /// Makes the job FOREGROUND (`SwitchToForeground`).
    pub fn switch_to_foreground(&self) -> Result<()> {
        self.set_priority(Priority::Foreground)
    }

    /// Waits until the job is TRANSFERRED, ERROR, SUSPENDED, ACKNOWLEDGED or
    /// CANCELLED and returns that state, or `None` at the timeout (`None`
    /// timeout: forever). `QM_E_ABORT` if the manager closes meanwhile. A
    /// persistent job's state is reported once it is written.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<Option<JobState>> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut slot = self.shared.data.lock();
        loop {
            let state = slot.announced.1;
            if state.is_settled() {
                return Ok(Some(state));
            }
            if !self.shared.manager.upgrade().is_some_and(|m| m.is_open()) {
                return Err(Error::new(
                    QM_E_ABORT,
                    "the manager was closed while waiting",
                ));
            }
            match deadline {
                Some(deadline) => {
                    if self
                        .shared
                        .changed
                        .wait_until(&mut slot, deadline)
                        .timed_out()
                        && !slot.announced.1.is_settled()
                    {
                        return Ok(None);
                    }
                }
                None => self.shared.changed.wait(&mut slot),
            }
        }
    }

    // ----- properties -------------------------------------------------------

    /// Sets the priority; a FOREGROUND job overtakes background ones.
    pub fn set_priority(&self, priority: Priority) -> Result<()> {
        self.set(Property::Priority(priority))
    }

    /// Sets the display name (at most 256 characters).
    pub fn set_display_name(&self, name: &str) -> Result<()> {
        self.set(Property::DisplayName(name.to_string()))
    }

    /// Sets the description (at most 1,024 characters).
    pub fn set_description(&self, text: &str) -> Result<()> {
        self.set(Property::Description(text.to_string()))
    }

    /// Sets how long to wait before retrying after a transient error; values
    /// below 1 s are raised to 1 s.
    pub fn set_min_retry_delay(&self, seconds: u32) -> Result<()> {
        self.set(Property::RetryDelay(seconds))
    }

    /// Sets how long transient errors may go on without progress before the
    /// job moves to ERROR (0: the first error is final).
    pub fn set_no_progress_timeout(&self, seconds: u32) -> Result<()> {
        self.set(Property::NoProgressTimeout(seconds))
    }

    /// Sets (or with `None` clears) the notification callback and the flags.
    /// `owner` is an opaque value kept with the registration (see
    /// [`Job::clear_notify_of`]). When this returns, the previous callback is
    /// not running and will not be called again (unless this is called from
    /// inside that callback). The callback comes with the job it reports
    /// already bound (the API's `Job`, which wraps this one).
    pub fn set_notify(&self, bound: Option<BoundCallback>, flags: u32, owner: u64) -> Result<()> {
        self.register(bound, flags, owner, false)
    }

    /// As [`Job::set_notify`], for an observer: the callback sees the
    /// events, but does not stand for the job's callback, so the notify
    /// program still runs. qmgrd watches jobs this way.
    pub fn observe(&self, bound: Option<BoundCallback>, flags: u32, owner: u64) -> Result<()> {
        self.register(bound, flags, owner, true)
    }

    fn register(
        &self,
        bound: Option<BoundCallback>,
        flags: u32,
        owner: u64,
        observer: bool,
    ) -> Result<()> {
        let (manager, old) = {
            let _op = self.lock_for_change()?;
            // A final job's registration went with it (`finish`); one made
            // after would keep the job alive for nothing (BITS refuses
            // SetNotifyInterface on a CANCELLED or ACKNOWLEDGED job too).
            let state = self.state();
            if bound.is_some() && state.is_final() {
                return Err(Error::invalid_state("set notifications of", state));
            }
            // Unchanged flags are not a change of the job: registering a
            // callback alone (as qmgrd does for a watcher) neither touches
            // its modification time nor sends a JOB_MODIFICATION.
            if self.notify_flags() != NotifyFlags(flags) {
                self.apply(Command::Set(Property::NotifyFlags(NotifyFlags(flags))))?;
            }
            let manager = self.manager()?;
            // Under the op lock, so that `finish` cannot come in between.
            let gate = &self.shared.notify_gate;
            let old = manager
                .dispatcher
                .register(self.shared.id, owner, bound, observer, gate);
            (manager, old)
        };
        // Without the op lock: the retired callback may be waiting for it.
        if let Some(old) = old {
            manager.dispatcher.retire(&old);
        }
        Ok(())
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
        self.set(Property::NotifyCmdLine(cmdline))?;
        self.notify_program_if_due()
    }

    /// Runs the notify program now when the job is TRANSFERRED or in
    /// ERROR, has a program, its flags deliver that event and no callback
    /// takes it: as the event would have. qmgrd calls it when a client
    /// that took the job's events went away without saying so (it may
    /// never have read the event).
    pub fn notify_program_if_due(&self) -> Result<()> {
        let (state, flags, cmdline) =
            self.read(|m| (m.state(), m.notify_flags(), m.notify_cmdline().cloned()));
        let Some(cmdline) = cmdline else {
            return Ok(());
        };
        let event = match state {
            JobState::Transferred => NotifyFlags::JOB_TRANSFERRED,
            JobState::Error => NotifyFlags::JOB_ERROR,
            _ => return Ok(()),
        };
        let manager = self.manager()?;
        if flags.delivers(event) && !manager.dispatcher.takes_events(self.shared.id) {
            notify_cmd::launch(self.clone(), cmdline, state);
        }
        Ok(())
    }

    /// The notify command line, if any.
    pub fn notify_cmdline(&self) -> Option<NotifyCmdLine> {
        self.read(|m| m.notify_cmdline().cloned())
    }

    /// Sets the least time between two progress notifications
    /// (JOB_MODIFICATION while transferring), in milliseconds (BITS's
    /// `BITS_JOB_PROPERTY_MINIMUM_NOTIFICATION_INTERVAL_MS`; default 500;
    /// progress is measured every 250 ms, so smaller values give that).
    /// State changes are always notified.
    pub fn set_min_notification_interval(&self, ms: u32) -> Result<()> {
        self.set(Property::MinNotificationInterval(ms))
    }

    /// The least time between two progress notifications, in milliseconds.
    pub fn min_notification_interval(&self) -> u32 {
        self.read(JobModel::min_notification_interval)
    }

    /// Clears the callback if it was registered with this `owner` value,
    /// waiting for it as `set_notify` does.
    pub fn clear_notify_of(&self, owner: u64) {
        if let Some(manager) = self.shared.manager.upgrade() {
            let old: Option<Arc<Registration>> =
                manager.dispatcher.unregister_owned(self.shared.id, owner);
            if let Some(old) = old {
                manager.dispatcher.retire(&old);
            }
        }
    }

    /// Sets the job's own bandwidth limit in bytes per second (0: none); it
    /// applies on top of the manager's limit, whatever the priority.
    pub fn set_max_bandwidth(&self, bytes_per_second: u64) -> Result<()> {
        self.set(Property::MaxBandwidth(bytes_per_second))
    }

    /// Sets extra request headers (`"Name: value\r\n…"`, at most 16 KiB),
    /// or clears them with `None`. They go only to the origin of each file's remote name,
    /// never to another origin a redirect leads to.
    pub fn set_custom_headers(&self, headers: Option<&str>) -> Result<()> {
        let parsed = match headers {
            Some(text) => {
                options::check_headers_len(text)?;
                Some((text.to_string(), options::parse_headers(text)?))
            }
            None => None,
        };
        self.set(Property::CustomHeaders(parsed))
    }

    /// Sets Basic credentials, or clears them with `None`. They are kept in
    /// memory (and, with a state directory, in its private database).
    pub fn set_credentials(&self, credentials: Option<(&str, &str)>) -> Result<()> {
        if let Some((user, password)) = credentials {
            options::check_credentials(user, password)?;
        }
        self.set(Property::Credentials(
            credentials.map(|(u, p)| (u.to_string(), p.to_string())),
        ))
    }

    /// Sets the proxy: `None` takes it from the environment (as the last
    /// [`Job::resume`] or [`Manager::open`](crate::Manager::open) read it),
    /// `Some("")` goes direct.
    pub fn set_proxy(&self, proxy: Option<&str>) -> Result<()> {
        options::check_proxy_len(proxy)?;
        self.set(Property::Proxy(options::parse_proxy(proxy)?))
    }

    /// Trusts the CA certificates of this PEM file instead of the system's
    /// (`None`: the system's roots again). A server certificate found in the
    /// file itself is trusted too (pinning), for its names and within its
    /// dates; an https:// proxy is always checked against the system's roots.
    ///
    /// The file is read with the job owner's rights, now and at each
    /// transfer: a file the owner cannot read is refused
    /// (`QM_E_ACCESSDENIED`).
    pub fn set_ca_file(&self, pem_path: Option<&str>) -> Result<()> {
        let path = self
            .rights()
            .run(|| pem_path.map(options::check_ca_file).transpose())?;
        self.set(Property::CaFile(path))
    }

    /// Presents this client certificate and key (PEM files) for mutual TLS,
    /// or none with `None`. The files are read with the job owner's rights,
    /// now and at each transfer (`QM_E_ACCESSDENIED` when the owner cannot).
    pub fn set_client_certificate(&self, cert_and_key: Option<(&str, &str)>) -> Result<()> {
        let paths = match cert_and_key {
            Some((cert, key)) => Some(
                self.rights()
                    .run(|| options::check_client_certificate(cert, key))?,
            ),
            None => None,
        };
        self.set(Property::ClientCertificate(paths))
    }

    /// Sets how long a connection may deliver nothing (any single read or
    /// write) before it is given up and the transfer retried; at least 1 s,
    /// default 60 s.
    pub fn set_stall_timeout(&self, seconds: u32) -> Result<()> {
        self.set(Property::StallTimeout(Duration::from_secs(u64::from(
            seconds,
        ))))
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
        let flags = options::check_security_flags(flags)?;
        self.set(Property::SecurityFlags(flags))
    }

    /// Sets how many connections the job may use at once (at least 1;
    /// default 6, what browsers open to one host): it transfers that many of
    /// its files at once, each on its own connection, so a job of many
    /// files does not pay one round trip per file. Files may then finish
    /// in any order; `complete` still places them all at once. The manager's
    /// caps (`Manager::set_max_connections`, and per server) apply on top.
    pub fn set_max_connections(&self, n: u32) -> Result<()> {
        self.set(Property::MaxConnections(n))
    }

    /// How many connections the job may use at once.
    pub fn max_connections(&self) -> u32 {
        self.read(JobModel::max_connections)
    }

    /// Sets the longest time, in seconds, the job may spend connecting and
    /// transferring (BITS's `SetMaximumDownloadTime`; default 7,776,000, 90
    /// days; 0: no limit). Time QUEUED, SUSPENDED or in TRANSIENT_ERROR does
    /// not count, and `resume` starts it again. When it runs out the job
    /// goes to ERROR with `QM_BG_E_MAXDOWNLOAD_TIMEOUT`.
    pub fn set_max_download_time(&self, seconds: u32) -> Result<()> {
        self.set(Property::MaxDownloadTime(seconds))
    }

    /// The job's type (`GetType`), chosen when it was created.
    pub fn job_type(&self) -> JobType {
        self.read(JobModel::kind)
    }

    /// `QM_E_NOTIMPL` unless the job is of one of `kinds` (BITS's answer
    /// to an upload call on another job type).
    fn require_kind(&self, kinds: &[JobType], call: &str) -> Result<()> {
        crate::engine::model::job::require_kind(self.job_type(), kinds, call)
    }

    /// Sets an upload job's protocol: tus 1.0 (the default of UPLOAD
    /// jobs) or the IETF resumable-upload draft (experimental; the only
    /// protocol of UPLOAD_REPLY jobs). Another protocol is another upload:
    /// the next attempt creates it afresh. `QM_E_INVALIDARG` for tus on
    /// an upload-reply job (tus has no reply), `QM_E_NOTIMPL` on a
    /// download, `QM_BG_E_INVALID_STATE` while the upload runs or once the
    /// job is final.
    pub fn set_upload_protocol(&self, protocol: UploadProtocol) -> Result<()> {
        self.require_kind(
            &[JobType::Upload, JobType::UploadReply],
            "set_upload_protocol",
        )?;
        self.set(Property::UploadProtocol(protocol))
    }

    /// An upload job's protocol (`QM_E_NOTIMPL` on a download).
    pub fn upload_protocol(&self) -> Result<UploadProtocol> {
        self.require_kind(&[JobType::Upload, JobType::UploadReply], "upload_protocol")?;
        Ok(self.read(|m| m.upload().map_or(UploadProtocol::Tus, |u| u.protocol)))
    }

    /// Sets where an upload-reply job's reply goes (BITS's
    /// `SetReplyFileName`): an absolute path in a directory the job's owner
    /// may write, or `None` (the default) to keep the reply in memory.
    /// A reply over 1 MiB does not fit there: as BITS does with a reply
    /// it was given no file for, qmgr writes it to a file beside the
    /// local file (`NAME.JOB-ID.reply`), which `reply_file_name` then
    /// names, and `reply_data` answers `QM_BG_E_TOO_LARGE`. The
    /// reply file is written when the upload finishes (to a temporary
    /// file beside it, then renamed), with the owner's rights.
    /// `QM_E_NOTIMPL` unless the job is UPLOAD_REPLY.
    pub fn set_reply_file_name(&self, path: Option<&str>) -> Result<()> {
        self.require_kind(&[JobType::UploadReply], "set_reply_file_name")?;
        let path = match path {
            None => None,
            Some(p) => {
                let parsed = self
                    .rights()
                    .run(|| parse_files(&[FileSpec::new("http://x/", p)], false))?;
                Some(parsed[0].local.clone())
            }
        };
        self.set(Property::ReplyFileName(path))
    }

    /// Where an upload-reply job's reply goes (`None`: in memory); once a
    /// reply over 1 MiB meant for memory arrived, the file it went to.
    pub fn reply_file_name(&self) -> Result<Option<PathBuf>> {
        self.require_kind(&[JobType::UploadReply], "reply_file_name")?;
        Ok(self.read(|m| m.upload().and_then(|u| u.reply_file.clone())))
    }

    /// The reply's progress (`GetReplyProgress`): its size once it arrived.
    pub fn reply_progress(&self) -> Result<ReplyProgress> {
        self.require_kind(&[JobType::UploadReply], "reply_progress")?;
        let len = self.read(|m| m.upload().and_then(|u| u.reply_len));
        Ok(ReplyProgress {
            bytes_total: len,
            bytes_transferred: len.unwrap_or(0),
        })
    }

    /// The server's reply (`GetReplyData`), once the job is TRANSFERRED
    /// (or completed): from memory, or read from the reply file (with the
    /// owner's rights). `QM_BG_E_TOO_LARGE` for a reply over 1 MiB (read
    /// it from the reply file), `QM_BG_E_INVALID_STATE` before the reply
    /// arrived, `QM_E_NOTIMPL` unless the job is UPLOAD_REPLY.
    pub fn reply_data(&self) -> Result<Vec<u8>> {
        self.require_kind(&[JobType::UploadReply], "reply_data")?;
        let (state, up) = self.read(|m| (m.state(), m.upload().cloned()));
        let up =
            up.unwrap_or_else(|| crate::engine::model::job::UploadJob::new(JobType::UploadReply));
        let (Some(len), true) = (
            up.reply_len,
            matches!(state, JobState::Transferred | JobState::Acknowledged),
        ) else {
            return Err(Error::invalid_state("read the reply of", state));
        };
        if len > crate::engine::model::job::MAX_REPLY_DATA {
            let file = up
                .reply_file
                .as_ref()
                .map_or(String::new(), |p| format!(" '{}'", p.display()));
            return Err(Error::new(
                QM_BG_E_TOO_LARGE,
                format!(
                    "the reply has {len} bytes, more than GetReplyData's 1 MiB: read it from the reply file{file}"
                ),
            ));
        }
        match (up.reply, up.reply_file) {
            (Some(data), _) => Ok(data),
            (None, Some(path)) => self.rights().run(|| read_reply_file(&path, len)),
            (None, None) => Ok(Vec::new()),
        }
    }

    /// Marks the job's content as dynamic (BITS's
    /// `BITS_JOB_PROPERTY_DYNAMIC_CONTENT`): the server may send other bytes
    /// on every request and has no stable validator, so each file comes in
    /// one request without a range, is never split into segments, and
    /// starts again from zero after any interruption (a cut, a suspend, a
    /// restart of the process). Off by default.
    pub fn set_dynamic_content(&self, dynamic: bool) -> Result<()> {
        self.set(Property::DynamicContent(dynamic))
    }

    /// Whether the job's content is dynamic.
    pub fn dynamic_content(&self) -> bool {
        self.read(JobModel::dynamic_content)
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
        self.set(Property::Yielding(yielding))
    }

    /// Whether the job yields to other traffic (see [`Job::set_yielding`]).
    pub fn yielding(&self) -> bool {
        self.read(JobModel::yielding)
    }

    /// The job's maximum download time, in seconds (0: no limit).
    pub fn max_download_time(&self) -> u32 {
        self.read(JobModel::max_download_time)
    }

    /// Sets the largest file the job may download, in bytes (0, the
    /// default: no limit; BITS's `BITS_JOB_PROPERTY_MAX_DOWNLOAD_SIZE`). A
    /// file announced larger, or whose body grows past it, puts the job in
    /// ERROR with `QM_BG_E_MAX_DOWNLOAD_SIZE_LIMIT_REACHED` before a byte past
    /// the limit is written.
    pub fn set_max_download_size(&self, bytes: u64) -> Result<()> {
        self.set(Property::MaxDownloadSize(bytes))
    }

    /// The maximum download size in bytes (0: no limit).
    pub fn max_download_size(&self) -> u64 {
        self.read(JobModel::max_download_size)
    }

    /// Sets curl's low-speed limit: a transfer that moves fewer than
    /// `bytes_per_second` on average over `seconds` is given up as a
    /// transient timeout (`QM_E_WINHTTP_TIMEOUT`) and retried after the retry
    /// delay. Either 0 (the default) turns it off. Time spent waiting for the
    /// job's own bandwidth limits does not count.
    pub fn set_low_speed_limit(&self, bytes_per_second: u64, seconds: u32) -> Result<()> {
        self.set(Property::LowSpeedLimit {
            bytes_per_second,
            seconds,
        })
    }

    /// The low-speed limit: (bytes per second, seconds); (0, 0) when off.
    pub fn low_speed_limit(&self) -> (u64, u32) {
        self.read(JobModel::low_speed_limit)
    }

    /// Sets the SHA-256 (64 hex digits) that file `index` must have, or
    /// clears it with `None`. It is checked when the file finishes
    /// transferring; a mismatch is fatal (`QM_BG_E_VALIDATION_FAILED`).
    pub fn set_file_sha256(&self, index: u32, hex: Option<&str>) -> Result<()> {
        let digest = hex.map(parse_sha256).transpose()?;
        self.set(Property::FileSha256 { index, digest })
    }

    /// Makes file `index` a delta download (issue 24): before it is
    /// fetched, its zsync control file (`delta.control_url`, or the remote
    /// name with `.zsync` appended) is read and the seeds are scanned for
    /// its blocks; the blocks found are copied into the temporary file and
    /// only the rest is fetched, as ranges. Each fetched block is checked
    /// against the control file's MD4, the whole file against its SHA-1
    /// and length: both weak, so set a SHA-256 (`set_file_sha256`), the
    /// real guard. No control file (an HTTP 4xx), a server that does not
    /// answer ranges, no block found, or a control file that does not
    /// describe the server's file: the file is downloaded whole
    /// (`file_delta_status` says which way it went). `None` clears.
    ///
    /// `QM_E_INVALIDARG` for no seeds, more than `MAX_SEEDS`, a relative
    /// path, a control URL that is not http(s), or a file that is not
    /// fetched over http(s) or has byte ranges; `QM_BG_E_INVALID_STATE`
    /// once the file has started transferring; `QM_E_NOTIMPL` in a build
    /// without the `delta` feature.
    pub fn set_file_delta(&self, index: u32, delta: Option<DeltaSource>) -> Result<()> {
        if let Some(d) = &delta {
            check_delta(d)?;
        }
        #[cfg(feature = "delta")]
        return self.set(Property::FileDelta { index, delta });
        // Without the feature no file has seeds: clearing them changes nothing.
        #[cfg(not(feature = "delta"))]
        self.read(|m| m.file(index).map(drop))
    }

    // ----- for the scheduler ---------------------------------------------------

    /// How many connections the next run uses: the job's maximum, no more
    /// than it has files left, and beyond the first only what the
    /// manager's cap still allows (taken now; `release_connections` gives
    /// them back).
    pub(crate) fn connections_for_run(&self) -> usize {
        let wanted = self.read(JobModel::useful_connections);
        let Some(manager) = self.shared.manager.upgrade() else {
            return 1;
        };
        let cap = manager.max_connections.load(Ordering::Relaxed);
        let in_use = &manager.connections_in_use;
        // A running job always has its one connection, cap or not.
        in_use.fetch_add(1, Ordering::AcqRel);
        let mut granted = 1;
        while granted < wanted {
            let now = in_use.load(Ordering::Acquire);
            if now >= cap {
                break;
            }
            if in_use
                .compare_exchange(now, now + 1, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                granted += 1;
            }
        }
        granted
    }

    /// Gives back the connections a run took.
    pub(crate) fn release_connections(&self, n: usize) {
        if let Some(manager) = self.shared.manager.upgrade() {
            manager.connections_in_use.fetch_sub(n, Ordering::AcqRel);
        }
    }

    /// Gives the job a transfer slot: registers run `run` with its token.
    /// False when the job cannot start (no longer queued, finishing).
    pub(crate) fn start_run(
        &self,
        run: u64,
        token: Arc<crate::engine::transport::cancel::CancelToken>,
    ) -> bool {
        let per_server = self
            .shared
            .manager
            .upgrade()
            .map_or(1, |m| m.max_connections_per_server.load(Ordering::Relaxed));
        let mut slot = self.shared.data.lock();
        match self.apply_locked(&mut slot, Command::Start { run, per_server }) {
            Ok(work) => {
                slot.token = Some(token);
                drop(slot);
                let _ = self.carry_out(work);
                true
            }
            Err(_) => false,
        }
    }

    /// Records the end of run `run` (with its failure), forgets its token.
    pub(crate) fn end_run(
        &self,
        run: u64,
        failure: Option<crate::engine::transport::error::TransferError>,
    ) {
        let mut slot = self.shared.data.lock();
        slot.token = None;
        let work = self.apply_locked(&mut slot, Command::RunEnded { run, failure });
        drop(slot);
        self.shared.live.reset_rate();
        if let Ok(work) = work {
            let _ = self.carry_out(work);
        }
    }

    /// Cancels the running transfer's token without telling the model
    /// (manager close: the state stays for the next open).
    pub(crate) fn cancel_token(&self) {
        let token = self.shared.data.lock().token.clone();
        if let Some(token) = token {
            token.cancel();
        }
        self.shared.changed.notify_all();
    }

    /// Deletes the temporary files of an in-memory job whose manager closed.
    pub(crate) fn discard_temps(&self) {
        self.remove_temps();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_hex_is_strict() {
        assert_eq!(parse_sha256(&"ab".repeat(32)).unwrap(), [0xab; 32]);
        assert!(parse_sha256(&"ab".repeat(31)).is_err());
        assert!(parse_sha256(&"zz".repeat(32)).is_err());
        assert!(parse_sha256(&"é".repeat(32)).is_err());
    }
}
