//! The one copy loop: read a chunk from the source, pay the throttles,
//! write it at its offset, account it to the model, checkpoint.
//!
//! It holds no lock while bytes move; it takes the job's data lock for a
//! moment per chunk (to record the bytes in the file's ledger) and checks
//! its cancel token before every chunk, so `suspend`, `cancel` and
//! preemption take effect within one chunk (1 MiB, or 1/20 s of a
//! throttled rate).

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::engine::model::command::{Command, PieceId};
use crate::engine::model::job::JobModel;
use crate::engine::runtime::shared::Job;
use crate::engine::transport::cancel::CancelToken;
use crate::engine::transport::error::{self, SourceKind, TransferError};
use crate::engine::types::{ErrorContext, Priority};
use crate::hresult::*;

/// The largest read and write, in bytes.
pub(crate) const CHUNK: usize = 1 << 20;
/// The longest single sleep while throttled, so a stop is seen quickly.
const SLEEP_SLICE: Duration = Duration::from_millis(10);
/// How many written bytes a worker lets gather in the page cache before it
/// asks the kernel to start writing them to the disk. Without it a large
/// file is still almost all dirty when it ends, and the fsync that must
/// precede its rename waits for all of it (0.3 s per GiB measured here).
const WRITEBACK_BYTES: u64 = 8 << 20;
/// Most bytes written between two checkpoints of a persistent job.
const CHECKPOINT_BYTES: u64 = 8 << 20;
/// Longest time between two checkpoints of a persistent job.
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// Why a transfer ended early.
pub(crate) enum Interrupt {
    /// The run was stopped (suspend, cancel, complete, preemption, close).
    Stopped,
    /// The transfer failed.
    Failed(TransferError),
    /// The connection broke while the body was flowing: worth resuming at once.
    Lost(TransferError),
    /// The piece was taken away (its file restarted on another version, or
    /// the server did not honour its range): not an error, the connection
    /// takes another piece.
    Abandoned,
}

impl From<TransferError> for Interrupt {
    fn from(e: TransferError) -> Interrupt {
        Interrupt::Failed(e)
    }
}

/// The limits a copy enforces.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Limits {
    /// No byte past this offset is written (`QM_BG_E_MAX_DOWNLOAD_SIZE_LIMIT_REACHED`).
    pub max_download_size: Option<u64>,
    /// Slower than these bytes per second over this long is a transient timeout.
    pub low_speed: Option<(u64, Duration)>,
}

/// The error of a file larger than the job's maximum download size.
pub(crate) fn too_large(index: usize, max: u64) -> TransferError {
    TransferError::fatal(
        HResult(QM_BG_E_MAX_DOWNLOAD_SIZE_LIMIT_REACHED),
        ErrorContext::RemoteFile,
        format!("file {index} is larger than the job's maximum download size of {max} bytes"),
    )
}

/// Watches the average speed over windows of the low-speed limit's length,
/// leaving out the time spent waiting for the bandwidth limits.
struct SpeedFloor {
    limit: Option<(u64, Duration)>,
    since: Instant,
    bytes: u64,
    throttled: Duration,
}

impl SpeedFloor {
    fn new(limit: Option<(u64, Duration)>) -> SpeedFloor {
        SpeedFloor {
            limit,
            since: Instant::now(),
            bytes: 0,
            throttled: Duration::ZERO,
        }
    }

    /// Counts a chunk (and the throttle's wait before it); a window that
    /// ended below the floor is an error.
    fn add(&mut self, bytes: u64, throttled: Duration) -> Result<(), TransferError> {
        let Some((rate, window)) = self.limit else {
            return Ok(());
        };
        self.bytes += bytes;
        self.throttled += throttled;
        let spent = self.since.elapsed().saturating_sub(self.throttled);
        if spent < window {
            return Ok(());
        }
        let floor = (rate as f64 * spent.as_secs_f64()) as u64;
        if self.bytes < floor {
            return Err(TransferError::transient(
                HResult(QM_E_WINHTTP_TIMEOUT),
                ErrorContext::GeneralTransport,
                format!(
                    "the transfer moved {} bytes in {}.{} s, below the low-speed limit of {rate} bytes/s",
                    self.bytes,
                    spent.as_secs(),
                    spent.subsec_millis() / 100
                ),
            ));
        }
        *self = SpeedFloor::new(self.limit);
        Ok(())
    }
}

/// The temporary file being written: which file of the job it is, which
/// piece of it this connection fetches, and its path for error messages.
#[derive(Clone, Copy)]
pub(crate) struct Target<'a> {
    pub index: usize,
    pub piece: PieceId,
    pub file: &'a File,
    pub path: &'a Path,
    /// What the bytes are read from (for classifying read errors).
    pub source: SourceKind,
    /// The TCP connection they come over, if any (for yielding), and the
    /// flag that lets it serve a later request.
    pub socket: Option<&'a std::net::TcpStream>,
    pub reusable: Option<&'a std::sync::atomic::AtomicBool>,
}

/// Where a copy writes: from `start` to `end` (exclusive; `None`: until the
/// body ends), from a body that ends at `body_end` when known.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stretch {
    pub start: u64,
    pub end: Option<u64>,
    pub body_end: Option<u64>,
}

/// Copies `body` into the target from `stretch.start` until the piece's
/// end (which the model may move down while the copy runs, when another
/// connection takes the rest) or, for a body of unknown size, its end;
/// returns where the written bytes end. A body that ends before the piece
/// does is a lost connection.
pub(crate) fn copy(
    job: &Job,
    token: &CancelToken,
    target: Target<'_>,
    body: &mut dyn Read,
    stretch: Stretch,
    mut hasher: Option<&mut Sha256>,
    limits: Limits,
) -> Result<u64, Interrupt> {
    let start = stretch.start;
    let mut end = stretch.end;
    let manager = job.manager().map_err(|_| Interrupt::Stopped)?;
    let mut floor = SpeedFloor::new(limits.low_speed);
    let mut buf = CopyBuffer::take();
    let mut written = start;
    let persistent = manager.store.is_some();
    let mut checkpointed = (Instant::now(), start);
    // Bytes below this offset have been handed to the kernel's writeback.
    let mut writeback_from = start;
    let mut flow = manager.yielding.flow(target.socket, target.reusable);
    loop {
        if token.is_cancelled() {
            return Err(Interrupt::Stopped);
        }
        if persistent
            && (written - checkpointed.1 >= CHECKPOINT_BYTES
                || checkpointed.0.elapsed() >= CHECKPOINT_INTERVAL)
            && written > checkpointed.1
        {
            checkpoint(job, target);
            checkpointed = (Instant::now(), written);
        }
        let mut limit = job
            .shared
            .throttle
            .chunk_size(CHUNK)
            .min(manager.throttle.chunk_size(CHUNK));
        flow.follow(job.shared.live.priority(), || job.read(JobModel::yielding));
        limit = limit.min(flow.chunk_size(CHUNK));
        if let Some(end) = end {
            if written >= end {
                crate::sys::start_writeback(target.file, writeback_from, written - writeback_from);
                if Some(end) == stretch.body_end {
                    // Read the body's end, so that its connection can serve
                    // the next request; a body cut short by a split is
                    // dropped instead (its connection closes).
                    let _ = body.read(&mut buf[..1]);
                }
                return Ok(written);
            }
            limit = limit.min(usize::try_from(end - written).unwrap_or(usize::MAX));
        }
        let n = match body.read(&mut buf[..limit]) {
            // A stop shuts the connection down: its EOF or error is not the source's.
            _ if token.is_cancelled() => return Err(Interrupt::Stopped),
            Ok(0) => {
                // Write the tail back now, while the job moves on: the
                // fsync before the file counts then has little left to do.
                crate::sys::start_writeback(target.file, writeback_from, written - writeback_from);
                if let Some(end) = end.filter(|&e| written < e) {
                    return Err(Interrupt::Lost(TransferError::short_body(written, end)));
                }
                return Ok(written);
            }
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Interrupt::Lost(error::read_error(
                    target.source,
                    &e,
                    written,
                )))
            }
        };
        let mut wait = job.shared.throttle.take(n as u64);
        // Read per chunk: a priority change applies at once.
        if job.shared.live.priority() != Priority::Foreground as u32 {
            wait = wait.max(manager.throttle.take(n as u64));
        }
        wait = wait.max(flow.take(n as u64));
        sleep_unless_cancelled(token, wait)?;
        // A yielding connection reads again only once its class owes
        // nothing. The debt is paid at the rate (or forgiven), a stop
        // ends the wait at once, and so does a change to FOREGROUND.
        loop {
            flow.follow(job.shared.live.priority(), || job.read(JobModel::yielding));
            let owed = flow.owed();
            if owed.is_zero() {
                break;
            }
            sleep_unless_cancelled(token, owed)?;
            wait += owed;
        }
        if limits
            .max_download_size
            .is_some_and(|max| written + n as u64 > max)
        {
            return Err(too_large(target.index, limits.max_download_size.unwrap_or(0)).into());
        }
        floor.add(n as u64, wait)?;
        let chunk = &buf[..n];
        // Holes only where one connection writes a file (a local source),
        // and only at the file's end: set_len anywhere else would cut off
        // bytes written past it (another range of a ranged file, or bytes
        // a restored ledger still counts).
        let at_end = || target.file.metadata().is_ok_and(|m| m.len() <= written);
        let result = if target.source == SourceKind::Local && is_zero(chunk) && at_end() {
            target.file.set_len(written + n as u64)
        } else {
            target.file.write_all_at(chunk, written)
        };
        result.map_err(|e| TransferError::local_io("writing", target.path, &e))?;
        if let Some(h) = hasher.as_deref_mut() {
            h.update(chunk);
        }
        let range = written..written + n as u64;
        written = range.end;
        let piece = job
            .apply_and(
                Command::Arrived {
                    piece: target.piece,
                    file: target.index,
                    range,
                },
                |_, fx| fx.piece,
            )
            .ok()
            .flatten();
        // The model may move the piece's end down (a split), never the
        // stretch's past its own end (a piece of a delta file covers
        // several gaps, each its own stretch).
        match piece {
            Some(p) => end = p.span.end.map(|e| stretch.end.map_or(e, |s| s.min(e))),
            None => return Err(Interrupt::Abandoned),
        }
        if written - writeback_from >= WRITEBACK_BYTES {
            crate::sys::start_writeback(target.file, writeback_from, written - writeback_from);
            writeback_from = written;
        }
        if job.shared.live.count_rate(n as u64) {
            // Progress restarts the no-progress clock (and JOB_MODIFICATION).
            job.apply_quietly(Command::Progressed);
        }
    }
}

/// Makes the bytes of the file that have arrived durable: note them, fsync
/// the data, then record them (so a recorded range never holds bytes that
/// are not on disk). Every connection of the file writes before it records
/// arrival, so the fsync covers all that was noted. Best effort: a failed
/// checkpoint only means more bytes to fetch again.
pub(crate) fn checkpoint(job: &Job, target: Target<'_>) {
    let arrived = job.read(|m| {
        m.files()
            .get(target.index)
            .map(|f| f.ledger().arrived().clone())
    });
    let Some(ranges) = arrived else {
        return;
    };
    if target.file.sync_data().is_err() {
        return;
    }
    job.apply_quietly(Command::Durable {
        file: target.index,
        ranges,
    });
}

/// True when every byte is zero (written as a hole instead).
fn is_zero(buf: &[u8]) -> bool {
    buf.chunks(4096)
        .all(|c| c.iter().fold(0u8, |acc, &b| acc | b) == 0)
}

pub(crate) fn sleep_unless_cancelled(token: &CancelToken, wait: Duration) -> Result<(), Interrupt> {
    let until = Instant::now() + wait;
    loop {
        if token.is_cancelled() {
            return Err(Interrupt::Stopped);
        }
        let now = Instant::now();
        if now >= until {
            return Ok(());
        }
        std::thread::sleep((until - now).min(SLEEP_SLICE));
    }
}

thread_local! {
    /// The copy buffer of this worker thread (one thread per run), so that
    /// a job of many small files allocates and zeroes 1 MiB once, not per file.
    static COPY_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The thread's copy buffer, lent for one `copy` and handed back on drop.
struct CopyBuffer(Vec<u8>);

impl CopyBuffer {
    fn take() -> CopyBuffer {
        let buf = COPY_BUFFER.with(|b| b.take());
        CopyBuffer(if buf.len() == CHUNK {
            buf
        } else {
            vec![0u8; CHUNK]
        })
    }
}

impl Drop for CopyBuffer {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.0);
        COPY_BUFFER.with(|b| *b.borrow_mut() = buf);
    }
}

impl std::ops::Deref for CopyBuffer {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl std::ops::DerefMut for CopyBuffer {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_detection() {
        assert!(is_zero(&[0u8; 10000]));
        let mut v = vec![0u8; 10000];
        v[9999] = 1;
        assert!(!is_zero(&v));
        assert!(is_zero(&[]));
    }
}
