//! The transfer of one job: a worker that runs the planner's pieces over
//! several connections (threads sharing one connection pool), until none is
//! left, the job fails, or its token is cancelled. A piece is a stretch of
//! one file: a whole file, or a segment of a large one; the last connection
//! to finish a piece of a file verifies and keeps the file.
//!
//! The worker never writes the job's data: it tells the model what happened
//! (`Opened`, `Arrived`, `Durable`, `FileDone`, `RunEnded`, …) and the model
//! decides the state. It holds the data lock only inside those commands.

use std::fs::File;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::engine::model::command::{Command, Piece, PieceId, RunId};
use crate::engine::model::ledger::Span;
use crate::engine::model::ranges::FileRanges;
use crate::engine::runtime::copy::{self, Interrupt, Limits, Target};
use crate::engine::runtime::partial;
use crate::engine::runtime::shared::Job;
use crate::engine::transport::cancel::CancelToken;
use crate::engine::transport::error::{SourceKind, TransferError};
use crate::engine::transport::source::{Opened, Source};
use crate::engine::transport::validator::Validator;
#[cfg(feature = "delta")]
use crate::engine::transport::zsync::verify::Verifier;
use crate::engine::transport::Session;
use crate::engine::types::ErrorContext;
use crate::hresult::*;
use crate::sync::Mutex;

/// A broken connection that had delivered at least this much is resumed at
/// once; smaller deliveries count toward `MAX_POOR_RESUMES` in a row.
const GOOD_ATTEMPT: u64 = 64 * 1024;
/// Resumes in a row that delivered little before the error counts.
const MAX_POOR_RESUMES: u32 = 5;

/// How long a connection with nothing to do yet waits before it asks again.
const WAIT_FOR_WORK: Duration = Duration::from_millis(20);

/// What a connection needs to know about its piece, copied out of the model.
struct FileTask {
    index: usize,
    piece: PieceId,
    source: Source,
    local: PathBuf,
    sha256: Option<[u8; 32]>,
    limits: Limits,
    /// The job's content is dynamic: no validator is ever sent, so every
    /// attempt fetches the file whole.
    dynamic: bool,
}

/// What the model says of a piece and its file when an attempt starts.
struct PieceState {
    piece: Piece,
    temp: Option<PathBuf>,
    validator: Option<Validator>,
    /// Where the bytes the ledger holds end.
    arrived_end: u64,
    /// A ranged file's ranges, and its local size when known.
    ranges: Option<(FileRanges, Option<u64>)>,
    /// Blocks of the file came from seeds: ranges are fetched exactly.
    delta_active: bool,
    /// A delta file's stretches missing within the piece (`start..end`):
    /// its gaps, each fetched as its own range.
    #[cfg(feature = "delta")]
    gaps: Vec<(u64, u64)>,
    /// A delta file's seeds and control file, while its way is not decided
    /// for good (feature `delta`).
    #[cfg(feature = "delta")]
    delta: Option<crate::engine::runtime::delta::DeltaState>,
}

/// A SHA-256 state that has seen the file's bytes from 0 to `at`.
type RunningHash = Option<(u64, Sha256)>;

impl FileTask {
    fn kind(&self) -> SourceKind {
        match self.source {
            Source::Local(_) => SourceKind::Local,
            Source::Http(_) => SourceKind::Http,
        }
    }

    /// Where the piece's next byte is; `None` once it was taken away.
    fn position(&self, job: &Job) -> Option<u64> {
        job.read(|m| m.piece(self.piece).map(|p| p.span.start))
    }

    /// The piece and its file as the model has them; `Abandoned` once the
    /// piece was taken away.
    fn state(&self, job: &Job) -> Result<PieceState, Interrupt> {
        job.read(|m| {
            let piece = m.piece(self.piece)?;
            let f = &m.files()[self.index];
            Some(PieceState {
                piece,
                temp: f.temp().map(Path::to_path_buf),
                validator: f.validator().cloned(),
                arrived_end: f.ledger().arrived().end(),
                ranges: f.ranges().map(|r| (r.clone(), f.ledger().total())),
                delta_active: f.delta_active(),
                #[cfg(feature = "delta")]
                gaps: match piece.span.end {
                    Some(end) if f.delta_active() => {
                        let mut gaps = Vec::new();
                        let mut at = piece.span.start;
                        while at < end {
                            let (start, next) = f.ledger().arrived().first_gap_from(at);
                            if start >= end {
                                break;
                            }
                            let stop = next.unwrap_or(end).min(end);
                            gaps.push((start, stop));
                            at = stop;
                        }
                        gaps
                    }
                    _ => Vec::new(),
                },
                #[cfg(feature = "delta")]
                delta: f
                    .delta()
                    .filter(|d| {
                        matches!(
                            d.way,
                            crate::engine::types::DeltaWay::Pending
                                | crate::engine::types::DeltaWay::Delta
                        )
                    })
                    .map(|d| crate::engine::runtime::delta::DeltaState {
                        way: d.way,
                        seeds: d.source.seeds.clone(),
                        control_url: d.control_url(f.remote()),
                        remote: f.remote().to_string(),
                        matched: d.matched,
                    }),
            })
        })
        .ok_or(Interrupt::Abandoned)
    }
}

/// The model's answer to a connection asking for work.
enum Next {
    Fetch(FileTask),
    Wait,
    Done,
}

/// Runs a job until its files are transferred, it fails, or it is stopped,
/// over several connections (threads) that each take the planner's next
/// piece; then tells the model how the run ended. When a connection fails,
/// the others take no new piece but finish the files they are on (work in
/// flight is not thrown away, and files before the failing one still land
/// first, as in a sequential transfer); the first failure is the run's.
///
/// The run's thread and each connection's act with the job owner's
/// filesystem rights for the whole run (`rights`): every file the run
/// touches (temporary files, local sources, the CA file and the client
/// certificate its TLS settings read) is touched as the owner. A run that
/// cannot take them fails at once with `QM_E_ACCESSDENIED`.
pub(crate) fn run(job: Job, token: Arc<CancelToken>, run: RunId) {
    let connections = job.connections_for_run();
    let failure: Mutex<Option<TransferError>> = Mutex::new(None);
    // Looked up with the process's rights, before any switch.
    let rights = job.rights();
    let refused = |e: &std::io::Error| {
        TransferError::fatal(
            HResult(QM_E_ACCESSDENIED),
            ErrorContext::LocalFile,
            rights.refusal(e),
        )
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _owner = match rights.enter() {
            Ok(guard) => guard,
            Err(e) => {
                *failure.lock() = Some(refused(&e));
                return;
            }
        };
        let mut options = job.http_options();
        // The low-speed limit counts the time before the body too (curl's).
        let (bytes_per_second, seconds) = job.low_speed_limit();
        options.low_speed_time =
            (bytes_per_second > 0 && seconds > 0).then(|| Duration::from_secs(u64::from(seconds)));
        if job.read(|m| m.kind().is_upload()) {
            #[cfg(feature = "upload")]
            let failed = crate::engine::runtime::upload::run(&job, &token, &options);
            #[cfg(not(feature = "upload"))]
            let failed = Some(TransferError::fatal(
                HResult(QM_E_NOTIMPL),
                ErrorContext::GeneralQueueManager,
                "this qmgr was built without the `upload` feature".into(),
            ));
            *failure.lock() = failed;
            return;
        }
        let session = Session::new(options, connections);
        std::thread::scope(|scope| {
            for _ in 1..connections {
                let spawned = std::thread::Builder::new()
                    .name("qmgr-transfer".into())
                    .spawn_scoped(scope, || match rights.enter() {
                        Ok(_owner) => connection(&job, &token, &session, &failure),
                        Err(e) => {
                            failure.lock().get_or_insert(refused(&e));
                        }
                    });
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
        Err(Interrupt::Abandoned) => {}
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
        let task = match next_task(job) {
            Next::Fetch(task) => task,
            Next::Wait => {
                copy::sleep_unless_cancelled(token, WAIT_FOR_WORK)?;
                continue;
            }
            Next::Done => return Ok(()),
        };
        let fetched = fetch_piece(job, token, &task, session);
        // Always said, so that the piece's stretch is free again and the
        // last piece of a file knows it is the last.
        let finalize = job
            .apply_and(Command::PieceEnded { piece: task.piece }, |_, fx| {
                fx.finalize
            })
            .unwrap_or(false);
        let hash = match fetched {
            Ok(hash) => hash,
            Err(Interrupt::Abandoned) => continue,
            Err(other) => return Err(other),
        };
        #[cfg(feature = "delta")]
        if !finalize {
            check_arrived(job, &task, session);
        }
        if finalize {
            match keep_file(job, &task, session, hash) {
                // A delta file that did not check out: fetched whole now.
                Err(Interrupt::Abandoned) => continue,
                other => other?,
            }
            job.apply_quietly(Command::FileDone { file: task.index });
        }
    }
}

/// Asks the model for the next piece.
fn next_task(job: &Job) -> Next {
    job.apply_and(Command::NextPiece, |m, fx| {
        let Some(piece) = fx.piece else {
            return if fx.wait { Next::Wait } else { Next::Done };
        };
        let f = &m.files()[piece.file];
        let (bytes_per_second, seconds) = m.low_speed_limit();
        Next::Fetch(FileTask {
            index: piece.file,
            piece: piece.id,
            source: f.source().clone(),
            local: f.local().to_path_buf(),
            sha256: f.sha256(),
            dynamic: m.dynamic_content(),
            limits: Limits {
                max_download_size: Some(m.max_download_size()).filter(|&n| n > 0),
                low_speed: (bytes_per_second > 0 && seconds > 0)
                    .then(|| (bytes_per_second, Duration::from_secs(u64::from(seconds)))),
            },
        })
    })
    .unwrap_or(Next::Done)
}

/// Opens (or reuses) the temporary file. It is never cut: bytes the ledger
/// does not hold are fetched again over whatever is there, and a file is
/// cut to its size when it is kept. A file shorter than the ledger says
/// (lost with a crash) makes the ledger forget what lies past its end.
fn open_temp(
    job: &Job,
    task: &FileTask,
    session: &Session,
    current: Option<&Path>,
    arrived_end: u64,
) -> Result<(File, PathBuf), TransferError> {
    // Bytes the ledger forgets are fetched again: a delta file's checks
    // made over them start again.
    let cut = |len: u64| {
        job.apply_quietly(Command::TempCut {
            file: task.index,
            len,
        });
        #[cfg(feature = "delta")]
        {
            session.checks(task.index).lock().verifier = None;
        }
        #[cfg(not(feature = "delta"))]
        let _ = session;
    };
    if let Some(temp) = current {
        match partial::reopen(temp) {
            Ok(file) => {
                let len = file
                    .metadata()
                    .map_err(|e| TransferError::local_io("reading", temp, &e))?
                    .len();
                if len < arrived_end {
                    cut(len);
                }
                return Ok((file, temp.to_path_buf()));
            }
            // The temporary file vanished: its bytes are gone.
            Err(e) if e.kind() == ErrorKind::NotFound => cut(0),
            Err(e) => return Err(TransferError::local_io("reopening", temp, &e)),
        }
    }
    let temp = partial::temp_path_for(&task.local);
    let file = partial::create(&temp).map_err(|e| {
        // Checked when the file was added; it may have gone since.
        let what = match task.local.parent() {
            Some(dir) if e.kind() == ErrorKind::NotFound && !dir.is_dir() => format!(
                "the destination's directory '{}' does not exist: creating the temporary file",
                dir.display()
            ),
            _ => "creating the temporary file".to_string(),
        };
        TransferError::local_io(&what, &temp, &e)
    })?;
    job.apply_quietly(Command::TempCreated {
        file: task.index,
        path: temp.clone(),
    });
    Ok((file, temp))
}

/// Which file on disk a temporary file is (device and inode), to see that
/// it is still the one at its path when a piece ends.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Identity(u64, u64);

impl Identity {
    fn of(meta: &std::fs::Metadata) -> Identity {
        use std::os::unix::fs::MetadataExt;
        Identity(meta.dev(), meta.ino())
    }
}

/// Fetches one piece; a connection lost after data flowed is resumed at
/// once with a range request at the piece's next byte, as long as the
/// attempts keep delivering. Returns the SHA-256 state if this connection
/// hashed the file from its first byte.
fn fetch_piece(
    job: &Job,
    token: &CancelToken,
    task: &FileTask,
    session: &Session,
) -> Result<RunningHash, Interrupt> {
    let mut poor_resumes = 0;
    let mut hash = None;
    loop {
        let before = task.position(job).ok_or(Interrupt::Abandoned)?;
        match fetch_attempt(job, token, task, session, &mut hash) {
            Err(Interrupt::Lost(err)) => {
                let after = task.position(job).ok_or(Interrupt::Abandoned)?;
                // A dynamic file starts from zero on every attempt.
                let delivered = if task.dynamic {
                    after
                } else {
                    after.saturating_sub(before)
                };
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
            Err(other) => return Err(other),
            Ok(()) => return Ok(hash),
        }
    }
}

/// One connection's worth of a piece: open the source at the piece's next
/// byte (or restart the file), then copy until the piece's end or an error.
/// `hash` carries the SHA-256 state between attempts.
fn fetch_attempt(
    job: &Job,
    token: &CancelToken,
    task: &FileTask,
    session: &Session,
    hash: &mut RunningHash,
) -> Result<(), Interrupt> {
    #[allow(unused_mut)]
    let mut state = task.state(job)?;
    #[cfg(feature = "delta")]
    if let Some(delta) = state.delta.take() {
        if session.control(task.index).is_none() {
            let temp = || open_temp(job, task, session, state.temp.as_deref(), state.arrived_end);
            return Err(crate::engine::runtime::delta::prepare(
                job, token, session, task.index, delta, &temp,
            ));
        }
    }
    #[allow(unused_mut)]
    let mut asked = state.piece.span;
    if asked.end == Some(asked.start) {
        return Ok(()); // every byte is there: only the checks are left
    }
    // A delta file's piece may cover several gaps (the bytes between came
    // from the seeds): each is its own range, the first asked for here,
    // the others sent behind it on the same connection when it can.
    #[allow(unused_mut)]
    let mut more: &[(u64, u64)] = &[];
    #[cfg(feature = "delta")]
    if state.delta_active && asked.end.is_some() {
        match state.gaps.first() {
            // Its next byte came from a seed (a retry after the first
            // gaps): the rest is planned again, from a missing byte.
            Some(&(start, _)) if start != asked.start => return Ok(()),
            Some(&(start, end)) => {
                asked = Span {
                    start,
                    end: Some(end),
                };
                more = &state.gaps[1..];
            }
            None => return Ok(()),
        }
    }
    // Without a validator the source is fetched whole, from byte 0.
    let validator = state.validator.as_ref().filter(|_| !task.dynamic);
    let opened = match open_source(
        job,
        token,
        task,
        session,
        asked,
        more,
        validator,
        &state.ranges,
        state.delta_active,
    ) {
        Ok(opened) => opened,
        // Blocks from seeds and a server that will not give the others
        // as ranges: the file is fetched whole.
        #[cfg(feature = "delta")]
        Err(e)
            if state.delta_active
                && [
                    QM_BG_E_INSUFFICIENT_RANGE_SUPPORT,
                    QM_BG_E_INVALID_RANGE,
                    QM_BG_E_INVALID_SERVER_RESPONSE,
                ]
                .contains(&e.code.0) =>
        {
            job.apply_quietly(Command::DeltaFallBack {
                file: task.index,
                reason: e.description,
            });
            return Err(Interrupt::Abandoned);
        }
        Err(e) => return Err(e.into()),
    };
    #[cfg_attr(not(feature = "delta"), allow(unused_variables))]
    let (opened, ahead) = opened;
    if token.is_cancelled() {
        return Err(Interrupt::Stopped);
    }
    if let (Some(total), Some(max)) = (opened.total, task.limits.max_download_size) {
        // Refused before a byte is written.
        if total > max {
            return Err(copy::too_large(task.index, max).into());
        }
    }
    let (temp, temp_path) =
        open_temp(job, task, session, state.temp.as_deref(), state.arrived_end)?;
    let piece = job
        .apply_and(
            Command::Opened {
                piece: task.piece,
                file: task.index,
                start: opened.start,
                total: opened.total,
                validator: opened.validator.clone(),
                ranges: opened.ranges,
                headers: opened.headers.clone(),
            },
            |_, fx| fx.piece,
        )
        .ok()
        .flatten()
        .ok_or(Interrupt::Abandoned)?;
    if token.is_cancelled() {
        return Err(Interrupt::Stopped);
    }
    let start = piece.span.start;
    let mut body = opened.body;
    // Hash as the bytes pass when this connection has seen every byte
    // before them; otherwise the file is hashed from disk when it is kept.
    let mut sha = match (task.sha256, hash.take()) {
        (None, _) => None,
        (Some(_), Some((at, state))) if at == start => Some(state),
        (Some(_), _) if start == 0 => Some(Sha256::new()),
        (Some(_), _) => None,
    };
    let target = Target {
        index: task.index,
        piece: task.piece,
        file: &temp,
        path: &temp_path,
        source: task.kind(),
        socket: opened.socket.as_ref(),
        reusable: opened.reusable.as_deref(),
    };
    let stretch = copy::Stretch {
        start,
        // A delta piece's first gap only (the others follow below).
        end: match asked.end {
            Some(end) if state.delta_active => Some(end),
            _ => piece.span.end,
        },
        body_end: opened.end,
    };
    let result = copy::copy(
        job,
        token,
        target,
        &mut *body,
        stretch,
        sha.as_mut(),
        task.limits,
    );
    if job.persistent() && matches!(result, Err(Interrupt::Stopped)) {
        // Suspend, close or preemption: keep every byte written so far.
        copy::checkpoint(job, target);
    }
    let written = result?;
    if let Some(state) = sha {
        *hash = Some((written, state));
    }
    #[cfg(feature = "delta")]
    if let Some(ahead) = ahead {
        // The hash as the bytes pass needs them all in order.
        *hash = None;
        fetch_ahead(job, token, task, session, ahead, &temp, &temp_path)?;
    }
    if piece.span.end.is_none() {
        job.apply_quietly(Command::Sized {
            file: task.index,
            len: written,
        });
    }
    // The temporary file must still be the one written: not deleted, not
    // replaced (`complete` would otherwise fail after the job said
    // TRANSFERRED). A vanished file is discarded: the job goes to ERROR,
    // and a resume fetches the file afresh.
    let written_to = temp
        .metadata()
        .map_err(|e| TransferError::local_io("reading", &temp_path, &e))?;
    let now = std::fs::symlink_metadata(&temp_path)
        .ok()
        .map(|m| Identity::of(&m));
    if now != Some(Identity::of(&written_to)) {
        job.apply_quietly(Command::Discarded {
            file: task.index,
            temp_removed: now.is_none(),
        });
        let gone = std::io::Error::new(
            ErrorKind::NotFound,
            "the temporary file was removed or replaced during the transfer",
        );
        return Err(TransferError::local_io("keeping", &temp_path, &gone).into());
    }
    Ok(())
}

/// Opens the file's source for the piece's stretch, telling the model
/// where redirects led (whether followed or refused). A file with blocks
/// from seeds (`exact`) is opened for exactly the stretch.
#[allow(clippy::too_many_arguments)]
fn open_source(
    job: &Job,
    token: &CancelToken,
    task: &FileTask,
    session: &Session,
    span: Span,
    more: &[(u64, u64)],
    validator: Option<&Validator>,
    ranges: &Option<(FileRanges, Option<u64>)>,
    exact: bool,
) -> Result<(Opened, Option<Ahead>), TransferError> {
    let redirected = |url: &str| {
        job.apply_quietly(Command::Redirected {
            file: task.index,
            url: url.to_string(),
        })
    };
    let opened = match ranges {
        #[cfg(feature = "delta")]
        None if exact && span.end.is_some() => session.open_range_ahead(
            token,
            &task.source,
            (span.start, span.end.unwrap_or(span.start)),
            more,
            validator,
        ),
        None if exact => session
            .open_range(token, &task.source, span.start, span.end, validator)
            .map(|o| (o, None)),
        None => session
            .open(token, &task.source, span.start, span.end, validator)
            .map(|o| (o, None)),
        Some((ranges, local_total)) => {
            open_ranged(token, task, session, span, validator, ranges, *local_total)
                .map(|o| (o, None))
        }
    };
    let _ = more;
    match opened {
        Ok((opened, ahead)) => {
            // Every answer renews the report: where it came from, the
            // remote name itself when nothing redirected (so that a report
            // of an earlier attempt does not outlive it).
            match (&opened.final_url, &task.source) {
                (Some(url), _) | (None, Source::Http(url)) => redirected(url),
                (None, Source::Local(_)) => {}
            }
            Ok((opened, ahead))
        }
        Err(err) => {
            if let Some(url) = &err.redirected_to {
                redirected(url);
            }
            Err(err)
        }
    }
}

/// Opens the remote bytes behind local `span` of a ranged file, and gives
/// the answer in local terms: its start and end as local offsets, its
/// total as the local file's size (the sum of the ranges).
fn open_ranged(
    token: &CancelToken,
    task: &FileTask,
    session: &Session,
    span: Span,
    validator: Option<&Validator>,
    ranges: &FileRanges,
    local_total: Option<u64>,
) -> Result<Opened, TransferError> {
    let beyond = || {
        TransferError::fatal(
            HResult(QM_E_UNEXPECTED),
            ErrorContext::GeneralQueueManager,
            format!(
                "file {}: local byte {} is past the file's ranges",
                task.index, span.start
            ),
        )
    };
    let at = ranges.locate(span.start, local_total).ok_or_else(beyond)?;
    // The planner keeps a piece within one range.
    let remote_end = match span.end {
        Some(end) => Some(at.remote_start + (end - span.start)),
        None => at.remote_end,
    };
    let mut opened =
        session.open_range(token, &task.source, at.remote_start, remote_end, validator)?;
    let remote_total = opened.total.unwrap_or(0);
    let local_total = ranges.local_total(remote_total).map_err(|why| {
        TransferError::fatal(
            HResult(QM_BG_E_INVALID_RANGE),
            ErrorContext::RemoteFile,
            format!("{}: {why}", task.source.server()),
        )
    })?;
    opened.start = span.start;
    opened.end = opened.end.map(|end| span.start + (end - at.remote_start));
    opened.total = Some(local_total);
    Ok(opened)
}

/// Requests sent ahead on a connection (feature `delta`).
#[cfg(feature = "delta")]
type Ahead = crate::engine::transport::http::Pipeline;
#[cfg(not(feature = "delta"))]
type Ahead = std::convert::Infallible;

/// Copies the answers to the requests sent ahead for the other gaps of a
/// delta file's piece, each at its offset. A pipeline that breaks (an
/// answer that does not come, or is not exactly its range of the file's
/// version) is not an error: its gaps not answered are planned again, and
/// the run sends no more requests ahead.
#[cfg(feature = "delta")]
fn fetch_ahead(
    job: &Job,
    token: &CancelToken,
    task: &FileTask,
    session: &Session,
    mut ahead: Ahead,
    temp: &File,
    temp_path: &Path,
) -> Result<(), Interrupt> {
    while let Some(next) = ahead.next() {
        let Ok(opened) = next else {
            session.ahead_broke();
            return Ok(());
        };
        if token.is_cancelled() {
            return Err(Interrupt::Stopped);
        }
        let target = Target {
            index: task.index,
            piece: task.piece,
            file: temp,
            path: temp_path,
            source: task.kind(),
            socket: opened.socket.as_ref(),
            reusable: opened.reusable.as_deref(),
        };
        let stretch = copy::Stretch {
            start: opened.start,
            end: opened.end,
            body_end: opened.end,
        };
        let mut body = opened.body;
        let result = copy::copy(job, token, target, &mut *body, stretch, None, task.limits);
        if job.persistent() && matches!(result, Err(Interrupt::Stopped)) {
            copy::checkpoint(job, target);
        }
        result?;
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A hasher that has seen the first `len` bytes of the temporary file.
fn hash_prefix(temp: &File, path: &Path, len: u64) -> Result<Sha256, TransferError> {
    let mut hasher = Sha256::new();
    crate::engine::transport::file::hash_range(temp, path, (0, len), &mut hasher)?;
    Ok(hasher)
}

/// Every byte of the file has arrived: cut the temporary file to the
/// file's size (a restart may have left longer data of another version),
/// check its SHA-256 (with the state of a connection that saw every byte,
/// else from disk), and with a state directory fsync it, so that
/// `complete` after a crash renames whole files. A failed check discards
/// the data, so that the next attempt fetches it afresh.
fn keep_file(
    job: &Job,
    task: &FileTask,
    session: &Session,
    hash: RunningHash,
) -> Result<(), Interrupt> {
    // One connection keeps a file at a time (another may get the file's
    // empty last piece while it does); one that finds it kept is done.
    #[cfg(feature = "delta")]
    let checks = session.checks(task.index);
    #[cfg(feature = "delta")]
    let mut checks = checks.lock();
    #[cfg(feature = "delta")]
    if checks.kept {
        return Ok(());
    }
    let (temp_path, total, complete, seeded) = job.read(|m| {
        let f = &m.files()[task.index];
        (
            f.temp().map(Path::to_path_buf),
            f.ledger().total(),
            f.ledger().is_complete(),
            f.delta()
                .filter(|_| f.delta_active())
                .map(|d| d.seeded.clone()),
        )
    });
    // Its bytes were forgotten since this connection was told to keep it
    // (another connection found a delta file that did not check out, and
    // made it a full download): planned again, never kept as it is.
    if !complete || total.is_none() {
        return Err(Interrupt::Abandoned);
    }
    let (Some(path), Some(total)) = (temp_path, total) else {
        return Ok(());
    };
    let temp =
        partial::reopen(&path).map_err(|e| TransferError::local_io("reopening", &path, &e))?;
    let len = temp
        .metadata()
        .map_err(|e| TransferError::local_io("reading", &path, &e))?
        .len();
    if len != total {
        temp.set_len(total)
            .map_err(|e| TransferError::local_io("truncating", &path, &e))?;
    }
    #[allow(unused_mut)]
    let mut hash = hash;
    // A delta file is synced while it is checked (the sync the commit
    // makes then has nothing left to do).
    #[allow(unused_mut)]
    let mut synced = false;
    #[cfg(feature = "delta")]
    if let Some(seeded) = &seeded {
        let checked = match session.control(task.index) {
            Some(control) => {
                let seeded: Vec<_> = seeded.iter().cloned().collect();
                let sha256 = task.sha256.is_some();
                let verifier = match checks.verifier.take() {
                    Some(v) if v.fits(&seeded, sha256) => v,
                    _ => Verifier::new(control, seeded, sha256),
                };
                let (checked, sync) = std::thread::scope(|scope| {
                    let sync = scope.spawn(|| temp.sync_data());
                    let checked = verifier.finish(&temp, &path, total);
                    (checked, sync.join())
                });
                match sync {
                    Ok(Ok(())) => synced = true,
                    Ok(Err(e)) => return Err(TransferError::local_io("syncing", &path, &e).into()),
                    Err(_) => {}
                }
                checked?
            }
            None => Err("the control file was not read in this run".to_string()),
        };
        match checked {
            Ok(state) => hash = state.map(|s| (total, s)),
            Err(reason) => {
                job.apply_quietly(Command::DeltaFallBack {
                    file: task.index,
                    reason,
                });
                return Err(Interrupt::Abandoned);
            }
        }
    }
    #[cfg(not(feature = "delta"))]
    let _ = (session, seeded);
    if let Some(expected) = task.sha256 {
        let state = match hash {
            Some((at, state)) if at == total => state,
            _ => hash_prefix(&temp, &path, total)?,
        };
        let actual: [u8; 32] = state.finalize().into();
        #[cfg(feature = "delta")]
        if actual != expected && seeded.is_some() {
            // The control file's file is not the caller's: fetched whole,
            // and checked again.
            job.apply_quietly(Command::DeltaFallBack {
                file: task.index,
                reason: format!(
                    "the file rebuilt from the seeds and the control file does not have the SHA-256 set ({})",
                    hex(&expected)
                ),
            });
            return Err(Interrupt::Abandoned);
        }
        if actual != expected {
            // A temporary file that cannot be deleted stays recorded (so
            // that cancel reports it); the next attempt overwrites it.
            let temp_removed = partial::remove(&path).is_ok();
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
    if job.persistent() && !synced {
        temp.sync_data()
            .map_err(|e| TransferError::local_io("syncing", &path, &e))?;
    }
    #[cfg(feature = "delta")]
    {
        checks.kept = true;
    }
    Ok(())
}

/// Moves the checks of a delta file on over the bytes that now follow one
/// another from its start, unless another connection is at it: the work
/// is then not left for the connection that keeps the file. Best effort:
/// anything amiss leaves the checks to `keep_file`.
#[cfg(feature = "delta")]
fn check_arrived(job: &Job, task: &FileTask, session: &Session) {
    let Some(control) = session.control(task.index) else {
        return;
    };
    let found = job.read(|m| {
        let f = &m.files()[task.index];
        let d = f.delta().filter(|_| f.delta_active())?;
        Some((
            d.seeded.iter().cloned().collect::<Vec<_>>(),
            f.ledger().contiguous_end(),
            f.temp()?.to_path_buf(),
        ))
    });
    let Some((seeded, end, path)) = found else {
        return;
    };
    let checks = session.checks(task.index);
    let Some(mut checks) = checks.try_lock() else {
        return;
    };
    let sha256 = task.sha256.is_some();
    let mut verifier = match checks.verifier.take() {
        Some(v) if v.fits(&seeded, sha256) => v,
        _ => Verifier::new(control, seeded, sha256),
    };
    let Ok(temp) = partial::reopen(&path) else {
        return;
    };
    if verifier.advance(&temp, &path, end).is_ok() {
        checks.verifier = Some(verifier);
    }
}
