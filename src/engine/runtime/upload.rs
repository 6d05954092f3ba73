//! The run of an upload job (issue 25): one attempt of
//! `transport::upload` over the job's one file, whose every confirmed
//! piece becomes the file's progress and, with a state directory, a row
//! written before the next piece is sent (the upload URL and the offset
//! the server confirmed). A new run, in this process or the next, starts
//! from that state and asks the server (HEAD) where it is: resume is
//! asked, never assumed. Errors end the run as a download's do (the
//! model classifies them: transient ones retry after the retry delay).
//!
//! An upload-reply job's reply goes to memory or to its reply file: a
//! temporary file beside it, fsynced and renamed into place when the
//! whole reply has arrived. A reply kept in memory that grows past
//! `MAX_REPLY_DATA` (`GetReplyData`'s 1 MiB) moves to a reply file named
//! for the job beside the local file, as BITS writes a reply it was given
//! no file for beside the uploaded file: the job ends TRANSFERRED,
//! `reply_data` answers `BG_E_TOO_LARGE` and `reply_file_name` names the
//! file.

use std::cell::RefCell;
use std::io::Write;
use std::net::TcpStream;
use std::path::PathBuf;

use crate::engine::model::command::Command;
use crate::engine::model::job::{JobModel, MAX_REPLY_DATA};
use crate::engine::runtime::copy::sleep_unless_cancelled;
use crate::engine::runtime::partial;
use crate::engine::runtime::shared::{Job, ManagerShared};
use crate::engine::runtime::yielder::sending::{SendFlow, MAX_HOLD};
use crate::engine::transport::cancel::CancelToken;
use crate::engine::transport::error::TransferError;
use crate::engine::transport::options::HttpOptions;
use crate::engine::transport::upload::{self, Intent, Pace, ReplySink, UploadState};
use crate::engine::types::{ErrorContext, JobType, Priority};
use crate::hresult::*;

/// Runs the upload of `job` until it is done, fails or `token` stops it;
/// returns the failure, if any. Called on the run's thread, with the
/// owner's rights (the local file and the reply file are theirs).
pub(crate) fn run(job: &Job, token: &CancelToken, options: &HttpOptions) -> Option<TransferError> {
    // CONNECTING, as a download's first piece makes it; no piece: the
    // file is already sent (the model made the job TRANSFERRED).
    job.apply_and(Command::NextPiece, |_, fx| fx.piece)
        .ok()
        .flatten()?;
    let (kind, remote, path, saved) = job.read(|m| {
        let f = &m.files()[0];
        (
            m.kind(),
            f.remote().to_string(),
            f.local().to_path_buf(),
            m.upload().cloned(),
        )
    });
    let saved = saved?;
    let mut state = match saved.state {
        Some(s) if s.protocol == saved.protocol => s,
        _ => match UploadState::new(saved.protocol, &path) {
            Ok(s) => s,
            Err(e) => return Some(e),
        },
    };
    // The file's size is known at once; a new state is written before
    // the first request.
    job.apply_quietly(Command::UploadConfirmed {
        state: state.clone(),
    });
    let manager = job.shared.manager.upgrade();
    let pacer = Pacer {
        job,
        token,
        manager: manager.as_deref(),
        flow: RefCell::new(None),
    };
    let intent = Intent {
        url: &remote,
        options,
        path: &path,
        chunk: 0,
        pace: Some(&pacer),
    };
    let spill_to = spill_path(&path, job.read(|m| m.id()));
    let mut reply = Reply::new(kind, saved.reply_file, spill_to);
    let sink = match &mut reply {
        Reply::None => None,
        Reply::Memory(spill) => Some(ReplySink {
            out: spill,
            limit: u64::MAX,
        }),
        Reply::File { out, .. } => match out {
            Ok((_, file)) => Some(ReplySink {
                out: file,
                limit: u64::MAX,
            }),
            Err(e) => return Some(e.clone()),
        },
    };
    let result = upload::upload(&intent, &mut state, sink, token, &mut |s| {
        job.apply_quietly(Command::UploadConfirmed { state: s.clone() })
    });
    let finished = match result {
        Ok(f) => f,
        Err(e) => {
            reply.discard();
            return Some(e);
        }
    };
    if kind == JobType::UploadReply {
        // The server had the whole upload before this attempt sent its
        // last byte: the final response, and so the reply, went to an
        // earlier attempt that did not read it whole. Said, not made up.
        let Some(len) = finished.reply_len else {
            reply.discard();
            return Some(TransferError::fatal(
                HResult(QM_E_FAIL),
                ErrorContext::RemoteApplication,
                format!(
                    "{}: the server has the whole upload, but its reply was lost with the connection that carried it (the draft has no way to ask for it again)",
                    crate::engine::transport::url::shown(&remote)
                ),
            ));
        };
        let (data, file) = match reply.keep() {
            Ok(kept) => kept,
            Err(e) => return Some(e),
        };
        if job
            .apply(Command::ReplyReceived { data, len, file })
            .is_err()
        {
            return None; // a final job: nothing more to record
        }
    }
    job.apply_quietly(Command::FileDone { file: 0 });
    None
}

/// Paces an upload's bodies: the job's and (in the background) the
/// manager's bandwidth limits, as the copy loop of downloads pays them
/// (the rate counts bytes sent; progress counts only what the server
/// confirmed), and a background job's yielding.
struct Pacer<'a> {
    job: &'a Job,
    token: &'a CancelToken,
    manager: Option<&'a ManagerShared>,
    /// The body being sent's part in yielding.
    flow: RefCell<Option<SendFlow<'a>>>,
}

impl Pace for Pacer<'_> {
    fn piece(&self, max: usize) -> usize {
        self.flow.borrow().as_ref().map_or(max, |f| f.piece(max))
    }

    fn sent(&self, bytes: u64, socket: Option<&TcpStream>) {
        let job = self.job;
        let _ = job.shared.live.count_rate(bytes);
        let priority = job.shared.live.priority();
        let mut wait = job.shared.throttle.take(bytes);
        if let Some(m) = self.manager {
            if priority != Priority::Foreground as u32 {
                wait = wait.max(m.throttle.take(bytes));
            }
            let mut flow = self.flow.borrow_mut();
            if flow.is_none() {
                *flow = socket
                    .and_then(|s| s.try_clone().ok())
                    .map(|s| m.yielding.send_flow(s));
            }
            if let Some(flow) = flow.as_mut() {
                flow.follow(priority, || job.read(JobModel::yielding));
                wait = wait.max(flow.sent(bytes));
            }
        }
        if sleep_unless_cancelled(self.token, wait).is_err() {
            return;
        }
        // Paced: the next piece waits until the socket sent the last ones
        // (see SendFlow::hold), at most MAX_HOLD: a stalled peer is left
        // to the write's own timeouts.
        let held_since = std::time::Instant::now();
        while let Some(hold) = self.flow.borrow_mut().as_mut().and_then(SendFlow::hold) {
            if held_since.elapsed() >= MAX_HOLD || sleep_unless_cancelled(self.token, hold).is_err()
            {
                break;
            }
        }
    }

    fn ended(&self) -> bool {
        self.flow.borrow_mut().take().is_none_or(|f| f.poolable())
    }
}

/// The reply file of a reply too long for memory, for the job `id`
/// uploading `local`: beside it, named for both.
fn spill_path(local: &std::path::Path, id: crate::engine::types::JobId) -> PathBuf {
    let name = local
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    local.with_file_name(format!("{name}.{id}.reply"))
}

/// A reply kept in memory up to `MAX_REPLY_DATA`, then in a temporary
/// file beside `path`, its reply file. Writes never fail: a file that
/// cannot be made or written is remembered, the bytes are counted away,
/// and `keep` says why (in the local file's context, not the network's).
struct Spill {
    data: Vec<u8>,
    path: PathBuf,
    file: Option<(PathBuf, std::fs::File)>,
    failed: Option<std::io::Error>,
}

impl Spill {
    fn new(path: PathBuf) -> Spill {
        Spill {
            data: Vec::new(),
            path,
            file: None,
            failed: None,
        }
    }

    fn spill(&mut self) -> std::io::Result<()> {
        let temp = partial::temp_path_for(&self.path);
        let mut file = partial::create(&temp)?;
        if let Err(e) = file.write_all(&self.data) {
            let _ = partial::remove(&temp);
            return Err(e);
        }
        self.data = Vec::new();
        self.file = Some((temp, file));
        Ok(())
    }
}

impl Write for Spill {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self.failed.is_some() {
            return Ok(bytes.len());
        }
        if self.file.is_none() && (self.data.len() + bytes.len()) as u64 > MAX_REPLY_DATA {
            if let Err(e) = self.spill() {
                self.failed = Some(e);
                self.data = Vec::new();
                return Ok(bytes.len());
            }
        }
        match &mut self.file {
            Some((_, file)) => {
                if let Err(e) = file.write_all(bytes) {
                    self.failed = Some(e);
                }
            }
            None => self.data.extend_from_slice(bytes),
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Makes the temporary reply file `temp` durable and renames it to `path`.
fn place(
    temp: &std::path::Path,
    mut file: std::fs::File,
    path: &std::path::Path,
) -> Result<(), TransferError> {
    let placed = file
        .flush()
        .and_then(|()| file.sync_all())
        .and_then(|()| {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::Permissions::from_mode(partial::final_mode());
            file.set_permissions(mode)
        })
        .and_then(|()| std::fs::rename(temp, path))
        .and_then(|()| partial::sync_dir(path.parent().unwrap_or(path)));
    placed.map_err(|e| {
        let _ = partial::remove(temp);
        TransferError::local_io("writing the reply file", path, &e)
    })
}

/// Where this run's reply goes.
enum Reply {
    /// An UPLOAD job: no reply.
    None,
    Memory(Spill),
    /// The temporary file beside the reply file (or why it could not be
    /// made), and the reply file.
    File {
        out: Result<(PathBuf, std::fs::File), TransferError>,
        path: PathBuf,
    },
}

impl Reply {
    fn new(kind: JobType, file: Option<PathBuf>, spill_to: PathBuf) -> Reply {
        match (kind, file) {
            (JobType::UploadReply, Some(path)) => {
                let temp = partial::temp_path_for(&path);
                let out = partial::create(&temp)
                    .map(|f| (temp.clone(), f))
                    .map_err(|e| TransferError::local_io("creating", &temp, &e));
                Reply::File { out, path }
            }
            (JobType::UploadReply, None) => Reply::Memory(Spill::new(spill_to)),
            _ => Reply::None,
        }
    }

    /// Deletes the temporary file of a reply that did not arrive whole.
    fn discard(self) {
        match self {
            Reply::File {
                out: Ok((temp, _)), ..
            }
            | Reply::Memory(Spill {
                file: Some((temp, _)),
                ..
            }) => {
                let _ = partial::remove(&temp);
            }
            _ => {}
        }
    }

    /// Keeps a reply that arrived whole: the memory reply is returned; a
    /// reply file is made durable and renamed into place, and a reply
    /// that outgrew memory is returned as the reply file it went to.
    fn keep(self) -> Result<(Option<Vec<u8>>, Option<PathBuf>), TransferError> {
        match self {
            Reply::None => Ok((None, None)),
            Reply::Memory(spill) => {
                if let Some(e) = &spill.failed {
                    if let Some((temp, _)) = &spill.file {
                        let _ = partial::remove(temp);
                    }
                    return Err(TransferError::local_io(
                        "writing the reply file (the reply is over 1 MiB, more than memory keeps)",
                        &spill.path,
                        e,
                    ));
                }
                match spill.file {
                    None => Ok((Some(spill.data), None)),
                    Some((temp, file)) => {
                        place(&temp, file, &spill.path)?;
                        Ok((None, Some(spill.path)))
                    }
                }
            }
            Reply::File { out, path } => {
                let (temp, file) = out?;
                place(&temp, file, &path).map(|()| (None, None))
            }
        }
    }
}
