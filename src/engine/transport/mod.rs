//! Transports: I/O that knows nothing of jobs. A source serves a file's
//! bytes from an offset, with its size and a validator (what identifies this
//! version), so that a resumed transfer continues only on the same bytes.
//!
//! - `source`: remote names and URL checks, and an opened source;
//! - `url`: the one URL parser (remote names, proxies, redirects, requests);
//! - `validator`: versions of a source (ETag, Last-Modified, size, mtime);
//! - `file`, `http`: the two kinds of source (`http::RequestPolicy`: the
//!   caller's intent every HTTP request and redirect hop follows);
//! - `options`, `pem`: a job's HTTP options and the PEM files they name;
//! - `error`: `TransferError` and the one classification into HRESULTs;
//! - `cancel`: the token that stops a transfer, below everything else;
//! - `upload` (feature `upload`): resumable uploads, tus and the IETF draft;
//!   `upload_state`: what an upload keeps between attempts (every build);
//! - `zsync` (feature `delta`): control files and block matching.

pub(crate) mod cancel;
pub(crate) mod error;
pub(crate) mod file;
pub(crate) mod http;
pub mod options;
pub(crate) mod pem;
pub(crate) mod source;
#[cfg(feature = "upload")]
pub(crate) mod upload;
pub(crate) mod upload_state;
pub(crate) mod url;
pub(crate) mod validator;
#[cfg(feature = "delta")]
pub(crate) mod zsync;

use crate::engine::transport::cancel::CancelToken;
use crate::engine::transport::error::TransferError;
use crate::engine::transport::options::HttpOptions;
use crate::engine::transport::source::{Opened, Source};
use crate::engine::transport::validator::Validator;

/// What one transfer run needs to open sources: the job's HTTP options, and
/// the HTTP client built from them on first use: one connection pool per
/// run, shared by the run's connections (each keeps its kept-alive
/// connection), shut down when the run's token is cancelled.
pub(crate) struct Session {
    options: HttpOptions,
    connections: usize,
    client: crate::sync::Mutex<Option<http::Client>>,
    /// The control files of the run's delta files, by file index, read
    /// once per run (feature `delta`).
    #[cfg(feature = "delta")]
    controls: crate::sync::Mutex<
        std::collections::HashMap<usize, std::sync::Arc<zsync::control::Control>>,
    >,
    /// The checks of the run's delta files, by file index, moved on by
    /// the connections as bytes arrive (feature `delta`).
    #[cfg(feature = "delta")]
    checks: crate::sync::Mutex<
        std::collections::HashMap<usize, std::sync::Arc<crate::sync::Mutex<Checks>>>,
    >,
    /// A pipeline of requests sent ahead broke in this run (feature `delta`).
    #[cfg(feature = "delta")]
    ahead_broke: std::sync::atomic::AtomicBool,
}

/// The checks of one file in a run, held by the connection that keeps
/// the file (feature `delta`).
#[cfg(feature = "delta")]
#[derive(Default)]
pub(crate) struct Checks {
    /// A delta file's checks so far, if a connection started them.
    pub verifier: Option<zsync::verify::Verifier>,
    /// The file was checked and kept: another connection that finds it
    /// so has nothing left to do.
    pub kept: bool,
}

impl Session {
    /// A session with a snapshot of the job's HTTP options, for up to
    /// `connections` connections at once.
    pub(crate) fn new(options: HttpOptions, connections: usize) -> Session {
        Session {
            options,
            connections,
            client: crate::sync::Mutex::new(None),
            #[cfg(feature = "delta")]
            controls: crate::sync::Mutex::new(std::collections::HashMap::new()),
            #[cfg(feature = "delta")]
            checks: crate::sync::Mutex::new(std::collections::HashMap::new()),
            #[cfg(feature = "delta")]
            ahead_broke: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Opens `url` whole, for the file whose remote name is `caller`: the
    /// request follows the caller's policy for that file (its credentials
    /// and headers go only to the file's own origin; the scheme floor is
    /// the file's), so a control file elsewhere gets none of them.
    #[cfg(feature = "delta")]
    pub(crate) fn open_beside(
        &self,
        token: &CancelToken,
        url: &str,
        caller: &str,
    ) -> Result<Opened, TransferError> {
        let mut policy = self.policy(caller);
        policy.url = url.to_string();
        self.client(token)?.open(&policy, 0, None, None)
    }

    /// The control file this run read for file `index`.
    #[cfg(feature = "delta")]
    pub(crate) fn control(&self, index: usize) -> Option<std::sync::Arc<zsync::control::Control>> {
        self.controls.lock().get(&index).cloned()
    }

    /// The checks of file `index` in this run.
    #[cfg(feature = "delta")]
    pub(crate) fn checks(&self, index: usize) -> std::sync::Arc<crate::sync::Mutex<Checks>> {
        self.checks.lock().entry(index).or_default().clone()
    }

    /// Keeps the control file read for file `index` for the rest of the run.
    #[cfg(feature = "delta")]
    pub(crate) fn keep_control(
        &self,
        index: usize,
        control: std::sync::Arc<zsync::control::Control>,
    ) {
        self.controls.lock().insert(index, control);
    }

    /// Opens `source` at `offset`, for the bytes up to `end` (exclusive;
    /// `None`: to the end of the source). `previous` is the validator seen
    /// when the partial data was written; a different one restarts the file
    /// (the returned `start` is then 0, and the body runs to the end).
    pub(crate) fn open(
        &self,
        token: &CancelToken,
        source: &Source,
        offset: u64,
        end: Option<u64>,
        previous: Option<&Validator>,
    ) -> Result<Opened, TransferError> {
        match source {
            Source::Local(path) => file::open(path, offset, previous),
            Source::Http(url) => self
                .client(token)?
                .open(&self.policy(url), offset, end, previous),
        }
    }

    /// Opens `source` for exactly the bytes from `offset` to `end` (`None`:
    /// to the end) of a ranged file, of the version `previous` names when
    /// the source still has it (otherwise of the version it has: the
    /// returned validator tells). Anything but that range is an error:
    /// `QM_BG_E_INVALID_RANGE` outside the file,
    /// `QM_BG_E_INSUFFICIENT_RANGE_SUPPORT` from a server without ranges,
    /// `QM_BG_E_INVALID_SERVER_RESPONSE` for other bytes than asked.
    pub(crate) fn open_range(
        &self,
        token: &CancelToken,
        source: &Source,
        offset: u64,
        end: Option<u64>,
        previous: Option<&Validator>,
    ) -> Result<Opened, TransferError> {
        match source {
            Source::Local(path) => file::open_range(path, offset, end, previous),
            Source::Http(url) => {
                self.client(token)?
                    .open_range(&self.policy(url), offset, end, previous)
            }
        }
    }

    /// `open_range` of `source` for `offset..end`, with the requests for
    /// the further ranges `more` sent behind it on the same connection
    /// when it proved kept alive (`http::Client::open_range_ahead`), unless
    /// a pipeline broke earlier in this run: their answers come from the
    /// pipeline. A local source sends nothing ahead.
    #[cfg(feature = "delta")]
    pub(crate) fn open_range_ahead(
        &self,
        token: &CancelToken,
        source: &Source,
        (offset, end): (u64, u64),
        more: &[(u64, u64)],
        previous: Option<&Validator>,
    ) -> Result<(Opened, Option<http::Pipeline>), TransferError> {
        let more = if self.ahead_broke.load(std::sync::atomic::Ordering::Relaxed) {
            &[]
        } else {
            more
        };
        match source {
            Source::Http(url) if !more.is_empty() => self.client(token)?.open_range_ahead(
                &self.policy(url),
                offset,
                Some(end),
                previous,
                more,
            ),
            _ => self
                .open_range(token, source, offset, Some(end), previous)
                .map(|o| (o, None)),
        }
    }

    /// Opens the run's connections to `url` (the caller's, under its
    /// policy) on a thread of their own while the caller goes on (a delta
    /// file's seeds are scanned meanwhile), so that the requests after the
    /// scan need not wait for TCP and TLS handshakes. Best effort: nothing
    /// is sent on them, a failure is met again by the requests.
    #[cfg(feature = "delta")]
    pub(crate) fn warm(&self, token: &CancelToken, url: &str) {
        let Ok(client) = self.client(token) else {
            return;
        };
        let policy = self.policy(url);
        let n = self.connections;
        let _ = std::thread::Builder::new()
            .name("qmgr-warm".into())
            .spawn(move || client.warm(&policy, n));
    }

    /// A pipeline broke (the server or something between does not answer
    /// requests sent ahead as it should): the rest of the run sends one
    /// request at a time.
    #[cfg(feature = "delta")]
    pub(crate) fn ahead_broke(&self) {
        self.ahead_broke
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// The request policy for the caller's `url`: built from the caller's
    /// intent only (the remote name the model holds, which only the
    /// caller's calls change, and the job's options), never from where an
    /// earlier request was redirected.
    fn policy(&self, url: &str) -> http::RequestPolicy {
        http::RequestPolicy::new(url, &self.options)
    }

    /// The run's HTTP client, built on first use.
    fn client(&self, token: &CancelToken) -> Result<http::Client, TransferError> {
        let mut slot = self.client.lock();
        if slot.is_none() {
            *slot = Some(http::Client::new(
                self.options.clone(),
                self.connections,
                token,
            )?);
        }
        Ok(slot.clone().expect("the client was just built"))
    }
}
