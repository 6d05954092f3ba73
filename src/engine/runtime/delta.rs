//! Delta downloads (issue 24, feature `delta`): before a file with seeds
//! is fetched, its zsync control file is read and its seeds scanned; the
//! blocks found are written at their offsets in the temporary file and
//! recorded in the ledger as arrived bytes (made durable by the same
//! checkpoint as fetched ones), and the planner then fetches only the
//! gaps, as exact ranges. The file is checked against the control file
//! (`zsync::verify`) as its bytes come to follow one another from its
//! start: the MD4 of every block that did not come from a seed, the SHA-1
//! and length of the whole (and the job's SHA-256). Anything that does not
//! fit makes the file a full download, never a splice.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::engine::model::command::Command;
use crate::engine::model::ledger::RangeSet;
use crate::engine::runtime::copy::Interrupt;
use crate::engine::runtime::flush::Flusher;
use crate::engine::runtime::shared::Job;
use crate::engine::transport::cancel::CancelToken;
use crate::engine::transport::error::{self, SourceKind, TransferError};
use crate::engine::transport::file;
use crate::engine::transport::zsync::control::{self, Control, MAX_CONTROL};
use crate::engine::transport::zsync::matcher::Matcher;
use crate::engine::transport::Session;
use crate::engine::types::{DeltaWay, ErrorContext};
use crate::hresult::*;

/// What the model says of a delta file when a run first opens it.
pub(crate) struct DeltaState {
    pub way: DeltaWay,
    pub seeds: Vec<PathBuf>,
    pub control_url: String,
    pub remote: String,
    pub matched: Option<(u64, [u8; 20])>,
}

/// What a control file's fetch gave.
enum Fetched {
    Bytes(Vec<u8>),
    /// None there (a 4xx answer): a full download, for this reason.
    Missing(String),
}

/// Reads the control file at `url` (for the file `remote`), bounded by
/// what its header says and by `MAX_CONTROL`.
fn fetch_control(
    token: &CancelToken,
    session: &Session,
    url: &str,
    remote: &str,
) -> Result<Fetched, TransferError> {
    let opened = match session.open_beside(token, url, remote) {
        Ok(o) => o,
        Err(e) if (400..500).contains(&e.http_status) && !e.transient => {
            return Ok(Fetched::Missing(format!(
                "no control file at {} (HTTP {})",
                crate::engine::transport::url::redact(url),
                e.http_status
            )))
        }
        Err(e) => return Err(e),
    };
    let refuse = |why: String| {
        TransferError::fatal(
            HResult(QM_BG_E_INVALID_SERVER_RESPONSE),
            ErrorContext::RemoteFile,
            format!(
                "the control file {} is not one qmgr reads: {why}",
                crate::engine::transport::url::redact(url)
            ),
        )
    };
    if opened.total.is_some_and(|t| t > MAX_CONTROL) {
        return Err(refuse(format!(
            "it has {} bytes, more than {MAX_CONTROL}",
            opened.total.unwrap_or(0)
        )));
    }
    let mut body = opened.body;
    let mut bytes = Vec::new();
    let mut want: Option<u64> = None;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if token.is_cancelled() {
            return Err(TransferError::transient(
                HResult(QM_E_ABORT),
                ErrorContext::GeneralTransport,
                "stopped".into(),
            ));
        }
        if want.is_some_and(|w| bytes.len() as u64 >= w) {
            break;
        }
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(error::read_error(SourceKind::Http, &e, bytes.len() as u64)),
        };
        bytes.extend_from_slice(&buf[..n]);
        if want.is_none() {
            want = control::expected_len(&bytes).map_err(|e| refuse(e.0))?;
        }
        if bytes.len() as u64 > MAX_CONTROL {
            return Err(refuse(format!("it is longer than {MAX_CONTROL} bytes")));
        }
    }
    Ok(Fetched::Bytes(bytes))
}

/// Blocks found one after another, written as one.
#[derive(Default)]
struct Pending {
    at: u64,
    bytes: Vec<u8>,
}

impl Pending {
    /// Writes the blocks gathered, if any, and counts them to `flusher`.
    fn flush(&mut self, temp: &File, flusher: &Flusher) -> std::io::Result<()> {
        if self.bytes.is_empty() {
            return Ok(());
        }
        let result = temp.write_all_at(&self.bytes, self.at);
        // Written back and synced by the flusher's thread while the scan
        // goes on (the scan's own threads start no writeback: it cost them
        // about a tenth of their time).
        if result.is_ok() {
            flusher.wrote(self.bytes.len() as u64);
        }
        self.bytes.clear();
        result
    }
}

/// The most bytes of blocks gathered before they are written.
const PENDING_MAX: usize = 1 << 20;

/// What identifies a seed's contents, to see that it did not change
/// while it was read.
#[derive(PartialEq, Eq)]
struct Stamp(u64, u64, u64, i64, i64, i64, i64);

fn stamp(meta: &std::fs::Metadata) -> Stamp {
    Stamp(
        meta.dev(),
        meta.ino(),
        meta.len(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec(),
    )
}

/// Seeds at least this long are scanned in parts, one thread each.
const PART_MIN: u64 = 16 << 20;

/// The bytes of `file` from `at` to `end`, as a reader.
struct Part<'a> {
    file: &'a File,
    at: u64,
    end: u64,
}

impl Read for Part<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = (self.end.saturating_sub(self.at)).min(buf.len() as u64) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

/// Scans the bytes of `seed` from `start` to `end` (windows that start
/// there) with `matcher`, writing the blocks found to `temp`: the blocks
/// found, or the error of reading the seed (`Ok(Err)`) or of writing.
fn scan_part(
    token: &CancelToken,
    control: &Control,
    matcher: &mut Matcher<'_>,
    seed: &File,
    (start, end): (u64, u64),
    (temp, temp_path, flusher): (&File, &Path, &Flusher),
) -> Result<std::io::Result<Vec<u32>>, Interrupt> {
    let context = u64::from(control.blocksize) * u64::from(control.seq_matches);
    let mut reader = Part {
        file: seed,
        at: start,
        end: end.saturating_add(context),
    };
    let mut given = Vec::new();
    // Blocks that follow each other are written together.
    let mut pending = Pending::default();
    let mut write_error = None;
    let scanned = matcher.scan(&mut reader, &|| token.is_cancelled(), &mut |id, data| {
        let range = control.block_range(id);
        let n = (range.end - range.start) as usize;
        given.push(id);
        if pending.at + pending.bytes.len() as u64 != range.start
            || pending.bytes.len() >= PENDING_MAX
        {
            pending.flush(temp, flusher).inspect_err(|e| {
                write_error = Some(TransferError::local_io("writing", temp_path, e));
            })?;
            pending.at = range.start;
        }
        pending.bytes.extend_from_slice(&data[..n]);
        Ok(())
    });
    if write_error.is_none() {
        if let Err(e) = pending.flush(temp, flusher) {
            write_error = Some(TransferError::local_io("writing", temp_path, &e));
        }
    }
    if let Some(e) = write_error {
        return Err(e.into());
    }
    match scanned {
        Err(e) if e.kind() == ErrorKind::Interrupted && token.is_cancelled() => {
            Err(Interrupt::Stopped)
        }
        Err(e) => {
            matcher.forget(&given);
            Ok(Err(e))
        }
        Ok(_) => Ok(Ok(given)),
    }
}

/// Scans the seeds for `control`'s blocks, writing each block found at
/// its offset in `temp`: the bytes found in seeds that did not change
/// while they were read. A long seed is scanned in parts on as many
/// threads as there are CPUs (at most 4); the seed and the temporary file
/// are opened by this thread (with the job owner's rights), the others
/// only read, write and sync through them. The blocks written are synced
/// in steps while the scan goes on (`Flusher`), so the fsync that makes
/// the file durable has little of them left.
fn scan_seeds(
    token: &CancelToken,
    control: &Control,
    seeds: &[PathBuf],
    temp: &File,
    temp_path: &Path,
) -> Result<RangeSet, Interrupt> {
    let flusher = Flusher::start(temp);
    scan_each_seed(token, control, seeds, (temp, temp_path, &flusher))
}

fn scan_each_seed(
    token: &CancelToken,
    control: &Control,
    seeds: &[PathBuf],
    temp: (&File, &Path, &Flusher),
) -> Result<RangeSet, Interrupt> {
    let mut matcher = Matcher::new(control);
    let mut found = RangeSet::new();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    for seed in seeds {
        if matcher.all_known() {
            break;
        }
        // Read only; a seed that cannot be opened, or is not a regular
        // file, is no seed.
        let Ok(Some((file, before))) = file::open_regular(seed) else {
            continue;
        };
        let len = before.len();
        let parts = if len >= PART_MIN { cpus } else { 1 };
        let bounds: Vec<(u64, u64)> = (0..parts as u64)
            .map(|i| {
                let start = len * i / parts as u64;
                let end = if i + 1 == parts as u64 {
                    u64::MAX - (1 << 32)
                } else {
                    len * (i + 1) / parts as u64
                };
                (start, end)
            })
            .collect();
        let results: Vec<Result<std::io::Result<Vec<u32>>, Interrupt>> = if parts == 1 {
            vec![scan_part(
                token,
                control,
                &mut matcher,
                &file,
                bounds[0],
                temp,
            )]
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = bounds
                    .iter()
                    .map(|&b| {
                        let mut part = matcher.clone();
                        let file = &file;
                        scope.spawn(move || scan_part(token, control, &mut part, file, b, temp))
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join().unwrap_or_else(|_| {
                            Err(Interrupt::Failed(TransferError::fatal(
                                HResult(QM_E_UNEXPECTED),
                                ErrorContext::GeneralQueueManager,
                                "internal error: a seed's scan panicked".into(),
                            )))
                        })
                    })
                    .collect()
            })
        };
        let mut given = Vec::new();
        let mut trusted = true;
        for result in results {
            match result? {
                Ok(blocks) => given.extend(blocks),
                // A seed that cannot be read to its end is not trusted.
                Err(_) => trusted = false,
            }
        }
        let after = std::fs::metadata(seed).ok();
        // Changed while it was read: its blocks are not trusted.
        if !trusted || after.as_ref().map(stamp) != Some(stamp(&before)) {
            matcher.forget(&given);
            continue;
        }
        matcher.mark_known(&given);
        for id in given {
            found.insert(control.block_range(id));
        }
    }
    Ok(found)
}

/// Prepares file `index` for its first piece of the run: reads its control
/// file and, unless the seeds were scanned for that same control file
/// before, scans them into the temporary file. Always ends with
/// `Interrupt::Abandoned` (the piece is planned again from what the model
/// now holds) or an error.
pub(crate) fn prepare(
    job: &Job,
    token: &CancelToken,
    session: &Session,
    index: usize,
    state: DeltaState,
    open_temp: &dyn Fn() -> Result<(File, PathBuf), TransferError>,
) -> Interrupt {
    match prepare_inner(job, token, session, index, state, open_temp) {
        Ok(()) => Interrupt::Abandoned,
        Err(e) => e,
    }
}

fn prepare_inner(
    job: &Job,
    token: &CancelToken,
    session: &Session,
    index: usize,
    state: DeltaState,
    open_temp: &dyn Fn() -> Result<(File, PathBuf), TransferError>,
) -> Result<(), Interrupt> {
    let fall_back = |reason: String| {
        job.apply_quietly(Command::DeltaFallBack {
            file: index,
            reason,
        });
    };
    // The control file decides which bytes are kept (with seeds it knows,
    // whose blocks go where): over plain HTTP anyone on the path could
    // make an HTTPS file of them. The file's HTTPS is the floor (DESIGN
    // §7.1), as for a redirect.
    let https = |url: &str| {
        url.get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
    };
    if https(&state.remote) && !https(&state.control_url) {
        fall_back(format!(
            "the control file {} is plain HTTP, below the file's HTTPS",
            crate::engine::transport::url::redact(&state.control_url)
        ));
        return Ok(());
    }
    let bytes = match fetch_control(token, session, &state.control_url, &state.remote) {
        Ok(Fetched::Bytes(b)) => b,
        Ok(Fetched::Missing(why)) => {
            fall_back(why);
            return Ok(());
        }
        Err(e) if token.is_cancelled() => {
            drop(e);
            return Err(Interrupt::Stopped);
        }
        Err(e) => return Err(e.into()),
    };
    let control = control::parse(&bytes).map_err(|e| {
        TransferError::fatal(
            HResult(QM_BG_E_INVALID_SERVER_RESPONSE),
            ErrorContext::RemoteFile,
            format!(
                "the control file {} is not one qmgr reads: {e}",
                crate::engine::transport::url::redact(&state.control_url)
            ),
        )
    })?;
    let control = Arc::new(control);
    let id = (control.length, control.sha1);
    if state.way == DeltaWay::Delta {
        if state.matched == Some(id) {
            session.keep_control(index, control);
        } else {
            fall_back("the control file changed since the seeds were read".into());
        }
        return Ok(());
    }
    // The connections the gaps will need are opened while the seeds are
    // scanned.
    session.warm(token, &state.remote);
    let (temp, temp_path) = open_temp()?;
    let mut found = scan_seeds(token, &control, &state.seeds, &temp, &temp_path)?;
    // At least one byte comes from the server, so that its answer shows
    // the server's file is the one the control file describes (its length,
    // and a validator that pins the version) before anything counts.
    found.truncate(control.length.saturating_sub(1));
    if found.is_empty() {
        fall_back("no block of the seeds matched the control file".into());
        return Ok(());
    }
    job.apply_quietly(Command::DeltaSeeded {
        file: index,
        ranges: found.clone(),
        matched: id,
    });
    if job.persistent() && temp.sync_data().is_ok() {
        job.apply_quietly(Command::Durable {
            file: index,
            ranges: found,
        });
    }
    session.keep_control(index, control);
    Ok(())
}
