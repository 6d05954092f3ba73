//! The run of an upload job (issue 25): one attempt of
//! `transport::upload` over the job's one file, whose every confirmed
//! piece becomes the file's progress and, with a state directory, a row
//! written before the next piece is sent (the upload URL and the offset
//! the server confirmed). A new run, in this process or the next, starts
//! from that state and asks the server (HEAD) where it is: resume is
//! asked, never assumed. Errors end the run as a download's do (the
//! model classifies them: transient ones retry after the retry delay).
//!
//! An upload-reply job's reply goes to memory (at most
//! `MAX_REPLY_DATA`) or to its reply file: a temporary file beside it,
//! fsynced and renamed into place when the whole reply has arrived.

use std::cell::RefCell;
use std::io::Write;
use std::net::TcpStream;
use std::path::PathBuf;

use crate::engine::model::command::Command;
use crate::engine::model::job::{JobModel, MAX_REPLY_DATA};
use crate::engine::runtime::copy::sleep_unless_cancelled;
use crate::engine::runtime::partial;
use crate::engine::runtime::shared::{Job, ManagerShared};
use crate::engine::runtime::yielder::sending::SendFlow;
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
    let mut reply = Reply::new(kind, saved.reply_file);
    let sink = match &mut reply {
        Reply::None => None,
        Reply::Memory(buf) => Some(ReplySink {
            out: buf,
            limit: MAX_REPLY_DATA,
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
        let data = match reply.keep() {
            Ok(data) => data,
            Err(e) => return Some(e),
        };
        if job.apply(Command::ReplyReceived { data, len }).is_err() {
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
        let _ = sleep_unless_cancelled(self.token, wait);
    }

    fn ended(&self) -> bool {
        self.flow.borrow_mut().take().is_none_or(|f| f.poolable())
    }
}

/// Where this run's reply goes.
enum Reply {
    /// An UPLOAD job: no reply.
    None,
    Memory(Vec<u8>),
    /// The temporary file beside the reply file (or why it could not be
    /// made), and the reply file.
    File {
        out: Result<(PathBuf, std::fs::File), TransferError>,
        path: PathBuf,
    },
}

impl Reply {
    fn new(kind: JobType, file: Option<PathBuf>) -> Reply {
        match (kind, file) {
            (JobType::UploadReply, Some(path)) => {
                let temp = partial::temp_path_for(&path);
                let out = partial::create(&temp)
                    .map(|f| (temp.clone(), f))
                    .map_err(|e| TransferError::local_io("creating", &temp, &e));
                Reply::File { out, path }
            }
            (JobType::UploadReply, None) => Reply::Memory(Vec::new()),
            _ => Reply::None,
        }
    }

    /// Deletes the temporary file of a reply that did not arrive whole.
    fn discard(self) {
        if let Reply::File {
            out: Ok((temp, _)), ..
        } = self
        {
            let _ = partial::remove(&temp);
        }
    }

    /// Keeps a reply that arrived whole: the memory reply is returned; a
    /// reply file is made durable and renamed into place.
    fn keep(self) -> Result<Option<Vec<u8>>, TransferError> {
        match self {
            Reply::None => Ok(None),
            Reply::Memory(data) => Ok(Some(data)),
            Reply::File { out, path } => {
                let (temp, mut file) = out?;
                let placed = file
                    .flush()
                    .and_then(|()| file.sync_all())
                    .and_then(|()| {
                        use std::os::unix::fs::PermissionsExt;
                        let mode = std::fs::Permissions::from_mode(partial::final_mode());
                        file.set_permissions(mode)
                    })
                    .and_then(|()| std::fs::rename(&temp, &path))
                    .and_then(|()| partial::sync_dir(path.parent().unwrap_or(&path)));
                placed.map(|()| None).map_err(|e| {
                    let _ = partial::remove(&temp);
                    TransferError::local_io("writing the reply file", &path, &e)
                })
            }
        }
    }
}
