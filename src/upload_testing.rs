//! The upload transports of `engine::transport::upload` (issue 25) alone,
//! for the fault tests of `tests/it/upload.rs` that drive single attempts
//! (cuts inside chosen requests, 409, 460, foreign upload URLs): not an
//! API, never in a build without the `upload` feature. Upload jobs are
//! tested through the job calls (`tests/it/upload_jobs.rs`). One
//! [`attempt`] is what one run of a job does; the [`State`] between
//! attempts is what the job stores.

use std::path::PathBuf;

use crate::engine::transport::cancel::CancelToken;
use crate::engine::transport::error::TransferError;
use crate::engine::transport::options::HttpOptions;
use crate::engine::transport::upload::{self, Intent, Protocol, ReplySink, UploadState};
use crate::HResult;

/// The caller's side of an upload.
#[derive(Clone, Debug)]
pub struct Upload {
    /// Where the upload is created.
    pub url: String,
    /// `"tus"` or `"rufh"`.
    pub protocol: &'static str,
    /// The local file.
    pub path: PathBuf,
    /// Bytes per request (0: the default).
    pub chunk: u64,
    /// Basic credentials, sent to the URL's origin only.
    pub credentials: Option<(String, String)>,
    /// Header lines the caller adds (`"Name: value"`), to the URL's origin only.
    pub headers: Vec<(String, String)>,
    /// The job's stall timeout (`None`: the default).
    pub stall_timeout: Option<std::time::Duration>,
}

impl Upload {
    fn options(&self) -> HttpOptions {
        let custom = (!self.headers.is_empty()).then(|| {
            let text = self
                .headers
                .iter()
                .map(|(n, v)| format!("{n}: {v}\r\n"))
                .collect::<String>();
            (text, self.headers.clone())
        });
        let defaults = HttpOptions::default();
        HttpOptions {
            credentials: self.credentials.clone(),
            custom_headers: custom,
            stall_timeout: self.stall_timeout.unwrap_or(defaults.stall_timeout),
            ..defaults
        }
    }

    fn protocol(&self) -> Protocol {
        Protocol::from_name(self.protocol).expect("\"tus\" or \"rufh\"")
    }
}

/// What an attempt leaves for the next one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State(UploadState);

impl State {
    /// A new upload of the file as it is now.
    pub fn new(upload: &Upload) -> Result<State, Failure> {
        UploadState::new(upload.protocol(), &upload.path)
            .map(State)
            .map_err(Failure::from)
    }

    /// `"tus"` or `"rufh"`.
    pub fn protocol(&self) -> &'static str {
        self.0.protocol.name()
    }

    /// The upload's URL, once the server created it.
    pub fn upload_url(&self) -> Option<&str> {
        self.0.upload_url.as_deref()
    }

    /// The bytes the server confirmed.
    pub fn confirmed(&self) -> u64 {
        self.0.confirmed
    }

    /// Whether the server named an expiry (tus `Upload-Expires`, the
    /// draft's `max-age`).
    pub fn expires(&self) -> bool {
        self.0.expires.is_some()
    }
}

/// A failed attempt, as the job will report it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub code: HResult,
    pub transient: bool,
    pub http_status: u16,
    pub description: String,
}

impl From<TransferError> for Failure {
    fn from(e: TransferError) -> Failure {
        Failure {
            code: e.code,
            transient: e.transient,
            http_status: e.http_status,
            description: e.description,
        }
    }
}

/// A finished upload: the last status and the reply's length (written to
/// the reply buffer), if there was one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Finished {
    pub status: u16,
    pub reply_len: Option<u64>,
}

/// Stops an attempt from another thread, as a job's Suspend or Cancel
/// will: its connection is shut at once.
#[derive(Clone, Default)]
pub struct Stopper(std::sync::Arc<CancelToken>);

impl Stopper {
    pub fn stop(&self) {
        self.0.cancel();
    }
}

/// One attempt from `state`; every confirmed offset goes to `progress`,
/// the draft's reply (at most `reply.1` bytes) to `reply.0`.
pub fn attempt(
    upload: &Upload,
    state: &mut State,
    reply: Option<(&mut Vec<u8>, u64)>,
    progress: &mut dyn FnMut(u64),
) -> Result<Finished, Failure> {
    attempt_stoppable(upload, state, reply, progress, &Stopper::default())
}

/// [`attempt`], stopped when `stopper` is.
pub fn attempt_stoppable(
    upload: &Upload,
    state: &mut State,
    reply: Option<(&mut Vec<u8>, u64)>,
    progress: &mut dyn FnMut(u64),
    stopper: &Stopper,
) -> Result<Finished, Failure> {
    let options = upload.options();
    let intent = Intent {
        url: &upload.url,
        options: &options,
        path: &upload.path,
        chunk: upload.chunk,
        pace: None,
    };
    let sink = reply.map(|(out, limit)| ReplySink { out, limit });
    upload::upload(&intent, &mut state.0, sink, &stopper.0, &mut |s| {
        progress(s.confirmed)
    })
    .map(|f| Finished {
        status: f.status,
        reply_len: f.reply_len,
    })
    .map_err(Failure::from)
}

/// Ends the upload on the server (DELETE), as a cancelled job will.
pub fn terminate(upload: &Upload, state: &State) -> Result<(), Failure> {
    let token = CancelToken::default();
    upload::terminate(&upload.url, &upload.options(), &state.0, &token).map_err(Failure::from)
}

/// The draft and interop version the experimental protocol implements.
pub fn draft() -> (&'static str, &'static str) {
    (upload::rufh::DRAFT, upload::rufh::INTEROP_VERSION)
}
