//! One file of a job: where it comes from and goes to, its temporary file,
//! the version it holds, and its ledger. Fields are the model's to change
//! (`JobModel::apply`); everyone else reads them through the getters.

use std::path::{Path, PathBuf};

use crate::engine::model::command::NewFile;
use crate::engine::model::ledger::{Ledger, Span};
use crate::engine::model::ranges::FileRanges;
use crate::engine::transport::source::Source;
use crate::engine::transport::validator::Validator;
use crate::engine::types::FileProgress;

/// One file of a job.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FileModel {
    pub(super) remote: String,
    pub(super) source: Source,
    pub(super) local: PathBuf,
    pub(super) size_hint: u64,
    /// The temporary file, once created.
    pub(super) temp: Option<PathBuf>,
    /// The identity of the source version the temporary file holds.
    pub(super) validator: Option<Validator>,
    pub(super) sha256: Option<[u8; 32]>,
    pub(super) ledger: Ledger,
    /// Every byte arrived, was verified and is on disk.
    pub(super) completed: bool,
    /// Already renamed to its local name by a `complete` that later failed.
    pub(super) committed: bool,
    /// The URL the last response came from, when redirects led elsewhere.
    pub(super) final_url: Option<String>,
    /// Whether the file can be fetched in segments, as its source's last
    /// answer in this run told (`None`: not known yet). Not stored: each
    /// run learns it again.
    pub(super) splittable: Option<bool>,
    /// The file's validator was given by an answer since the caller's
    /// last resume: a change from it is a change during this transfer,
    /// not one between the caller's resumes (an update). Not stored.
    pub(super) run_validator: bool,
    /// How many times the source answered with another version than one
    /// it gave since the caller's last resume. Once it did, the file is
    /// fetched whole on one connection until the next resume; past
    /// `job::MAX_VERSION_CHANGES` the job fails. Not stored: a restored
    /// job counts again.
    pub(super) version_changes: u32,
    /// The header lines of the last response for this file (kept in
    /// memory only).
    pub(super) response_headers: Option<String>,
    /// The ranges of the source the local file is made of, `None` for the
    /// whole source. The ledger counts in local offsets.
    pub(super) ranges: Option<FileRanges>,
}

impl FileModel {
    pub(super) fn new(file: NewFile) -> FileModel {
        FileModel {
            remote: file.remote,
            source: file.source,
            local: file.local,
            size_hint: file.size_hint,
            temp: None,
            validator: None,
            sha256: None,
            ledger: Ledger::new(),
            completed: false,
            committed: false,
            final_url: None,
            splittable: None,
            run_validator: false,
            version_changes: 0,
            response_headers: None,
            ranges: file.ranges,
        }
    }

    /// The remote name as it was added.
    pub(crate) fn remote(&self) -> &str {
        &self.remote
    }
    /// What the remote name means.
    pub(crate) fn source(&self) -> &Source {
        &self.source
    }
    /// The destination path.
    pub(crate) fn local(&self) -> &Path {
        &self.local
    }
    /// The caller's size hint (0: none).
    pub(crate) fn size_hint(&self) -> u64 {
        self.size_hint
    }
    /// The temporary file, once created.
    pub(crate) fn temp(&self) -> Option<&Path> {
        self.temp.as_deref()
    }
    /// The version of the source the temporary file holds.
    pub(crate) fn validator(&self) -> Option<&Validator> {
        self.validator.as_ref()
    }
    /// The SHA-256 the file must have.
    pub(crate) fn sha256(&self) -> Option<[u8; 32]> {
        self.sha256
    }
    /// The file's byte ranges.
    pub(crate) fn ledger(&self) -> &Ledger {
        &self.ledger
    }
    /// Transferred, verified and on disk.
    pub(crate) fn completed(&self) -> bool {
        self.completed
    }
    /// The URL the last response came from: the remote name unless a
    /// redirect led elsewhere.
    pub(crate) fn final_url(&self) -> &str {
        self.final_url.as_deref().unwrap_or(&self.remote)
    }
    /// Whether the file can be fetched in segments (`None`: not known
    /// yet in this run).
    pub(crate) fn splittable(&self) -> Option<bool> {
        self.splittable
    }
    /// The header lines of the last response for this file, if any.
    pub(crate) fn response_headers(&self) -> Option<&str> {
        self.response_headers.as_deref()
    }
    /// The ranges the local file is made of, `None` for the whole source.
    pub(crate) fn ranges(&self) -> Option<&FileRanges> {
        self.ranges.as_ref()
    }
    /// `span` cut at the end of its range for a ranged file: one request
    /// never crosses from one range into the next.
    pub(super) fn within_range(&self, span: Span) -> Span {
        match &self.ranges {
            Some(r) => r.within_range(span, self.ledger.total()),
            None => span,
        }
    }
    /// Forgets the versions seen (the caller resumed the job, or changed
    /// the remote name): a new budget of version changes.
    pub(super) fn forget_versions_seen(&mut self) {
        self.run_validator = false;
        self.version_changes = 0;
    }
    /// Already at its local name.
    pub(crate) fn committed(&self) -> bool {
        self.committed
    }

    /// The bytes the file counts as transferred.
    pub(super) fn shown_bytes(&self) -> u64 {
        if self.committed {
            self.ledger.total().unwrap_or(0)
        } else {
            self.ledger.arrived_bytes()
        }
    }

    /// The file's progress as the API reports it.
    pub(crate) fn progress(&self) -> FileProgress {
        FileProgress {
            bytes_total: self.ledger.total(),
            bytes_transferred: self.shown_bytes(),
            completed: self.completed,
        }
    }
}
