//! One file of a job: where it comes from and goes to, its temporary file,
//! the version it holds, and its ledger. Fields are the model's to change
//! (`JobModel::apply`); everyone else reads them through the getters.

use std::path::{Path, PathBuf};

use crate::engine::model::command::NewFile;
use crate::engine::model::ledger::{Ledger, RangeSet, Span};
use crate::engine::model::ranges::FileRanges;
use crate::engine::transport::source::Source;
use crate::engine::transport::validator::Validator;
use crate::engine::types::{DeltaSource, DeltaStatus, DeltaWay, FileProgress};

/// The longest piece of a delta file's gap. A delta file's pieces are
/// exact ranges and the planner never splits them: a split cuts a
/// response short, and what the server had already sent past the cut
/// would be fetched for nothing (up to a socket buffer, megabytes on a
/// fast link), where a delta download fetches each missing byte once. A
/// long gap is fetched in pieces of this length instead, one connection
/// each (4 MiB: four of the planner's shortest segments).
pub(crate) const DELTA_PIECE: u64 = 4 << 20;

/// A file's delta download: the caller's seeds and control file (intent),
/// and how it went (found by the worker). Stored with the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DeltaFile {
    pub source: DeltaSource,
    pub way: DeltaWay,
    /// Why it became a full download.
    pub reason: String,
    /// The control file the seeds' bytes were matched against: the
    /// target's length and SHA-1. A run reads the control file again and
    /// keeps the seeded bytes only when it is still this one.
    pub matched: Option<(u64, [u8; 20])>,
    /// The bytes that came from the seeds (checked by MD4 as they were
    /// found); the others are checked against the control file's MD4s
    /// when the file is kept.
    pub seeded: RangeSet,
}

impl DeltaFile {
    /// A delta not started yet.
    #[cfg_attr(not(feature = "delta"), allow(dead_code))]
    pub(crate) fn new(source: DeltaSource) -> DeltaFile {
        DeltaFile {
            source,
            way: DeltaWay::Pending,
            reason: String::new(),
            matched: None,
            seeded: RangeSet::new(),
        }
    }

    /// The report of the API.
    pub(crate) fn status(&self) -> DeltaStatus {
        DeltaStatus {
            way: self.way,
            bytes_from_seeds: self.seeded.len(),
            reason: self.reason.clone(),
        }
    }

    /// The control file's URL for a file whose remote name is `remote`.
    #[cfg_attr(not(feature = "delta"), allow(dead_code))]
    pub(crate) fn control_url(&self, remote: &str) -> String {
        self.source
            .control_url
            .clone()
            .unwrap_or_else(|| format!("{remote}.zsync"))
    }
}

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
    /// The file's delta download, if it has seeds.
    pub(super) delta: Option<DeltaFile>,
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
            delta: None,
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
    /// The file's delta download, if it has seeds.
    pub(crate) fn delta(&self) -> Option<&DeltaFile> {
        self.delta.as_ref()
    }
    /// The delta download's report (`DeltaWay::None` without seeds).
    pub(crate) fn delta_status(&self) -> DeltaStatus {
        self.delta.as_ref().map_or(
            DeltaStatus {
                way: DeltaWay::None,
                bytes_from_seeds: 0,
                reason: String::new(),
            },
            DeltaFile::status,
        )
    }
    /// Blocks came from seeds: ranges are fetched exactly (never a whole
    /// response written over them).
    pub(crate) fn delta_active(&self) -> bool {
        cfg!(feature = "delta")
            && self
                .delta
                .as_ref()
                .is_some_and(|d| d.way == DeltaWay::Delta)
    }
    /// `span` cut at the end of its range for a ranged file: one request
    /// never crosses from one range into the next. A delta file's span is
    /// cut after `DELTA_PIECE` missing bytes (the planner never splits its
    /// pieces).
    pub(super) fn within_range(&self, span: Span) -> Span {
        let span = match &self.ranges {
            Some(r) => r.within_range(span, self.ledger.total()),
            None => span,
        };
        match span.end {
            Some(end) if self.delta_active() => Span {
                start: span.start,
                end: Some(self.delta_cut(span.start, end)),
            },
            _ => span,
        }
    }
    /// Where a delta file's stretch from `start` to `end` holds
    /// `DELTA_PIECE` missing bytes, or `end` if it holds fewer (a piece may
    /// cover several gaps, and the seeded bytes between them).
    fn delta_cut(&self, start: u64, end: u64) -> u64 {
        let mut budget = DELTA_PIECE;
        let mut at = start;
        while at < end {
            let (gap, next) = self.ledger.arrived().first_gap_from(at);
            if gap >= end {
                break;
            }
            let stop = next.unwrap_or(end).min(end);
            if stop - gap >= budget {
                return gap + budget;
            }
            budget -= stop - gap;
            at = stop;
        }
        end
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
