//! The transfer of one job: a worker thread that runs the planner's pieces
//! one after another, over one connection pool, until none is left, the
//! job fails, or its token is cancelled.
//!
//! The worker never writes the job's data: it tells the model what happened
//! (`Opened`, `Arrived`, `Durable`, `FileDone`, `RunEnded`, …) and the model
//! decides the state. It holds the data lock only inside those commands.

use std::fs::File;
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use sha2::{Digest, Sha256};

use crate::engine::model::command::{Command, RunId};
use crate::engine::runtime::copy::{self, Interrupt, Limits, Target, CHUNK};
use crate::engine::runtime::partial;
use crate::engine::runtime::shared::Job;
use crate::engine::transport::cancel::CancelToken;
use crate::engine::transport::error::{SourceKind, TransferError};
use crate::engine::transport::source::{Opened, Source};
use crate::engine::transport::validator::Validator;
use crate::engine::transport::Session;
use crate::engine::types::ErrorContext;
use crate::hresult::*;

/// A broken connection that had delivered at least this much is resumed at
/// once; smaller deliveries count toward `MAX_POOR_RESUMES` in a row.
const GOOD_ATTEMPT: u64 = 64 * 1024;
/// Resumes in a row that delivered little before the error counts.
const MAX_POOR_RESUMES: u32 = 5;

/// What the worker needs to know about the next file, copied out of the model.
struct FileTask {
    index: usize,
    source: Source,
    local: PathBuf,
    sha256: Option<[u8; 32]>,
    limits: Limits,
}

/// What the model says of a file when an attempt starts.
struct FileState {
    offset: u64,
    temp: Option<PathBuf>,
    validator: Option<Validator>,
}

impl FileTask {
    fn kind(&self) -> SourceKind {
        match self.source {
            Source::Local(_) => SourceKind::Local,
            Source::Http(_) => SourceKind::Http,
        }
    }

    /// Where the file's bytes that arrived from 0 on end.
    fn offset(&self, job: &Job) -> u64 {
        job.read(|m| m.files()[self.index].ledger().contiguous_end())
    }

    /// The file's current state in the model.
    fn state(&self, job: &Job) -> FileState {
        job.read(|m| {
            let f = &m.files()[self.index];
            FileState {
                offset: f.ledger().contiguous_end(),
                temp: f.temp().map(Path::to_path_buf),
                validator: f.validator().cloned(),
            }
        })
    }
}

/// Runs a job until its files are transferred, it fails, or it is stopped,
/// over several connections (threads) that each take the planner's next
/// piece; then tells the model how the run ended. When a connection fails,
/// the others take no new piece but finish the files they are on (work in
/// flight is not thrown away, and files before the failing one still land
/// first, as in a sequential transfer); the first failure is the run's.
pub(crate) fn run(job: Job, token: Arc<CancelToken>, run: RunId) {
    let connections = job.connections_for_run();
    let failure: Mutex<Option<TransferError>> = Mutex::new(None);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let session = Session::new(job.http_options(), connections);
        std::thread::scope(|scope| {
            for _ in 1..connections {
                let spawned = std::thread::Builder::new()
                    .name("qmgr-transfer".into())
                    .spawn_scoped(scope, || connection(&job, &token, &session, &failure));
                if spawned.is_err() {
                    break; // fewer connections, not a failure
                }
            }
            connection(&job, &token, &session, &failure);
        });
    }));
    job.release_connections(connections);
    let failure = match result {
        Ok(()) => failure.into_inner(),
        Err(_) => Some(TransferError::fatal(
            HResult(QM_E_UNEXPECTED),
            ErrorContext::GeneralQueueManager,
            "internal error: the transfer thread panicked".to_string(),
        )),
    };
    // A failure after the run's token was cancelled is the cancellation's doing.
    job.end_run(run, failure.filter(|_| !token.is_cancelled()));
    if let Some(manager) = job.shared.manager.upgrade() {
        manager.worker_exited();
    }
}

/// One connection: pieces until none is left, the run stops, or another
/// connection failed; its own failure is kept if it is the first.
fn connection(
    job: &Job,
    token: &CancelToken,
    session: &Session,
    failure: &Mutex<Option<TransferError>>,
) {
    match run_pieces(job, token, session, failure) {
        Ok(()) | Err(Interrupt::Stopped) => {}
        Err(Interrupt::Failed(e) | Interrupt::Lost(e)) => {
            failure.lock().get_or_insert(e);
        }
    }
}

fn run_pieces(
    job: &Job,
    token: &CancelToken,
    session: &Session,
    failure: &Mutex<Option<TransferError>>,
) -> Result<(), Interrupt> {
    loop {
        if token.is_cancelled() {
            return Err(Interrupt::Stopped);
        }
        if failure.lock().is_some() {
            return Ok(()); // another connection failed: no new piece
        }
        let Some(task) = next_task(job) else {
            return Ok(());
        };
        let identity = transfer_file(job, token, &task, session)?;
        make_durable(job, &task, identity)?;
        job.apply_quietly(Command::FileDone { file: task.index });
    }
}

/// Asks the model for the next piece; `None` when the job is transferred
/// or the run is being stopped.
fn next_task(job: &Job) -> Option<FileTask> {
    job.apply_and(Command::NextPiece, |m, fx| {
        fx.piece.map(|piece| {
            let f = &m.files()[piece.file];
            let (bytes_per_second, seconds) = m.low_speed_limit();
            FileTask {
                index: piece.file,
                source: f.source().clone(),
                local: f.local().to_path_buf(),
                sha256: f.sha256(),
                limits: Limits {
                    max_download_size: Some(m.max_download_size()).filter(|&n| n > 0),
                    low_speed: (bytes_per_second > 0 && seconds > 0)
                        .then(|| (bytes_per_second, Duration::from_secs(u64::from(seconds)))),
                },
            }
        })
    })
    .ok()
    .flatten()
}

/// Opens (or reuses) the temporary file and cuts it to `offset`; returns the
/// file, its path and the offset it really holds.
fn open_temp(
    job: &Job,
    task: &FileTask,
    current: Option<&Path>,
    offset: u64,
) -> Result<(File, PathBuf, u64), TransferError> {
    if let Some(temp) = current {
        match partial::reopen(temp) {
            Ok(file) => {
                let len = file
                    .metadata()
                    .map_err(|e| TransferError::local_io("reading", temp, &e))?
                    .len();
                let keep = offset.min(len);
                file.set_len(keep)
                    .map_err(|e| TransferError::local_io("truncating", temp, &e))?;
                return Ok((file, temp.to_path_buf(), keep));
            }
            // The temporary file vanished: start this file again.
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(TransferError::local_io("reopening", temp, &e)),
        }
    }
    let temp = partial::temp_path_for(&task.local);
    let file = partial::create(&temp)
        .map_err(|e| TransferError::local_io("creating the temporary file", &temp, &e))?;
    job.apply_quietly(Command::TempCreated {
        file: task.index,
        path: temp.clone(),
    });
    Ok((file, temp, 0))
}

/// Which file on disk a temporary file is (device and inode), to see that
/// it is still the one at its path when the transfer ends.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Identity(u64, u64);

impl Identity {
    fn of(meta: &std::fs::Metadata) -> Identity {
        use std::os::unix::fs::MetadataExt;
        Identity(meta.dev(), meta.ino())
    }
}

/// Transfers one file; a connection lost after data flowed is resumed at
/// once with a range request, as long as the attempts keep delivering.
/// Returns the identity of the temporary file written.
fn transfer_file(
    job: &Job,
    token: &CancelToken,
    task: &FileTask,
    session: &Session,
) -> Result<Identity, Interrupt> {
    let mut poor_resumes = 0;
    let mut hasher = None;
    loop {
        let before = task.offset(job);
        match transfer_attempt(job, token, task, session, &mut hasher) {
            Err(Interrupt::Lost(err)) => {
                let delivered = task.offset(job).saturating_sub(before);
                if delivered < GOOD_ATTEMPT {
                    poor_resumes += 1;
                }
                if delivered == 0 || poor_resumes > MAX_POOR_RESUMES {
                    return Err(Interrupt::Failed(err));
                }
                if delivered >= GOOD_ATTEMPT {
                    poor_resumes = 0;
                }
            }
            other => return other,
        }
    }
}

/// One connection's worth of a file: open the source where the file's
/// bytes end (or restart it), then copy until the end or an error.
/// `hasher` carries the SHA-256 state between attempts: `(offset, state)`.
fn transfer_attempt(
    job: &Job,
    token: &CancelToken,
    task: &FileTask,
    session: &Session,
    hasher: &mut Option<(u64, Sha256)>,
) -> Result<Identity, Interrupt> {
    let state = task.state(job);
    let opened = open_source(
        job,
        token,
        task,
        session,
        state.offset,
        state.validator.as_ref(),
    )?;
    if token.is_cancelled() {
        return Err(Interrupt::Stopped);
    }
    if let (Some(total), Some(max)) = (opened.total, task.limits.max_download_size) {
        // Refused before a byte is written.
        if total > max {
            return Err(copy::too_large(task.index, max).into());
        }
    }
    let (temp, temp_path, start) = open_temp(job, task, state.temp.as_deref(), opened.start)?;
    job.apply_quietly(Command::Opened {
        file: task.index,
        start,
        total: opened.total,
        validator: opened.validator.clone(),
    });
    if token.is_cancelled() {
        return Err(Interrupt::Stopped);
    }
    let mut total = opened.total;
    let mut body = opened.body;
    if start < opened.start {
        // The temporary file holds less than the source would resume from.
        let reopened = open_source(job, token, task, session, start, opened.validator.as_ref())?;
        if reopened.start != start {
            temp.set_len(reopened.start)
                .map_err(|e| TransferError::local_io("truncating", &temp_path, &e))?;
        }
        job.apply_quietly(Command::Opened {
            file: task.index,
            start: reopened.start,
            total: reopened.total,
            validator: reopened.validator,
        });
        total = reopened.total;
        body = reopened.body;
    }
    let start = task.offset(job);
    let mut sha = match (task.sha256, hasher.take()) {
        (None, _) => None,
        (Some(_), Some((at, state))) if at == start => Some(state),
        (Some(_), _) => Some(hash_prefix(&temp, &temp_path, start)?),
    };
    let target = Target {
        index: task.index,
        file: &temp,
        path: &temp_path,
        source: task.kind(),
    };
    let result = copy::copy(
        job,
        token,
        target,
        &mut *body,
        start,
        sha.as_mut(),
        task.limits,
    );
    if job.persistent() && matches!(result, Err(Interrupt::Stopped)) {
        // Suspend, close or preemption: keep every byte written so far.
        copy::checkpoint(job, target, task.offset(job));
    }
    if let Some(state) = sha {
        *hasher = Some((task.offset(job), state));
    }
    let written = result?;
    match total {
        Some(total) if written != total => {
            return Err(Interrupt::Lost(TransferError::short_body(written, total)))
        }
        Some(_) => {}
        None => job.apply_quietly(Command::Sized {
            file: task.index,
            len: written,
        }),
    }
    if let (Some(expected), Some((_, state))) = (task.sha256, hasher.take()) {
        let actual: [u8; 32] = state.finalize().into();
        if actual != expected {
            // Delete the data so the next attempt fetches it afresh. A
            // temporary file that cannot be deleted stays recorded (so that
            // cancel reports it); the next attempt truncates it anyway.
            let temp_removed = partial::remove(&temp_path).is_ok();
            job.apply_quietly(Command::Discarded {
                file: task.index,
                temp_removed,
            });
            return Err(TransferError::fatal(
                HResult(QM_BG_E_VALIDATION_FAILED),
                ErrorContext::RemoteFile,
                format!(
                    "file {} failed validation: SHA-256 {} expected, {} received",
                    task.index,
                    hex(&expected),
                    hex(&actual)
                ),
            )
            .into());
        }
    }
    let meta = temp
        .metadata()
        .map_err(|e| TransferError::local_io("reading", &temp_path, &e))?;
    Ok(Identity::of(&meta))
}

/// Opens the file's source at `offset`, telling the model where redirects
/// led (whether followed or refused).
fn open_source(
    job: &Job,
    token: &CancelToken,
    task: &FileTask,
    session: &Session,
    offset: u64,
    validator: Option<&Validator>,
) -> Result<Opened, TransferError> {
    let redirected = |url: &str| {
        job.apply_quietly(Command::Redirected {
            file: task.index,
            url: url.to_string(),
        })
    };
    match session.open(token, &task.source, offset, validator) {
        Ok(opened) => {
            if let Some(url) = &opened.final_url {
                redirected(url);
            }
            Ok(opened)
        }
        Err(err) => {
            if let Some(url) = &err.redirected_to {
                redirected(url);
            }
            Err(err)
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A hasher that has already seen the first `len` bytes of the temporary file.
fn hash_prefix(temp: &File, path: &Path, len: u64) -> Result<Sha256, TransferError> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut at = 0;
    while at < len {
        let want = (len - at).min(CHUNK as u64) as usize;
        temp.read_exact_at(&mut buf[..want], at)
            .map_err(|e| TransferError::local_io("re-reading", path, &e))?;
        hasher.update(&buf[..want]);
        at += want as u64;
    }
    Ok(hasher)
}

/// Before a file counts as transferred, its temporary file must still be
/// the one written (not deleted, not replaced: `complete` would otherwise
/// fail after the job said TRANSFERRED), and with a state directory its
/// data is fsynced, so that `complete` after a crash renames whole files.
/// A vanished file is discarded: the job goes to ERROR, and a resume
/// fetches the file afresh.
fn make_durable(job: &Job, task: &FileTask, written: Identity) -> Result<(), Interrupt> {
    let Some(path) = task.state(job).temp else {
        return Ok(());
    };
    let now = std::fs::symlink_metadata(&path)
        .ok()
        .map(|m| Identity::of(&m));
    if now != Some(written) {
        job.apply_quietly(Command::Discarded {
            file: task.index,
            temp_removed: now.is_none(),
        });
        let gone = std::io::Error::new(
            ErrorKind::NotFound,
            "the temporary file was removed or replaced during the transfer",
        );
        return Err(TransferError::local_io("keeping", &path, &gone).into());
    }
    if job.persistent() {
        partial::reopen(&path)
            .and_then(|f| f.sync_data())
            .map_err(|e| TransferError::local_io("syncing", &path, &e))?;
    }
    Ok(())
}
