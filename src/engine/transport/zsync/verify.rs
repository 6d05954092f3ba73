//! The checks of a delta file (issue 24) against its control file, made
//! over the file's bytes in order as they come to follow one another from
//! its start: the MD4 of every block that did not come from a seed, the
//! SHA-1 and length of the whole, and the SHA-256 the job may have set.
//! Reads of the temporary file only: no job, no socket.

use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use md4::Md4;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::engine::transport::error::TransferError;
use crate::engine::transport::file::hash_range;
use crate::engine::transport::zsync::control::Control;
use crate::engine::types::ErrorContext;
use crate::hresult::*;

/// The most bytes read at once.
const STEP: usize = 1 << 20;

/// The checks of a delta file against its control file, made over its
/// bytes in order: the MD4 of every block not wholly `seeded`, the SHA-1
/// of the whole (and its SHA-256 when the job has one). A run's
/// connections move it on over the bytes that have arrived one after
/// another from the start while the others are still being fetched
/// (`advance`), so that only the last stretch is left to read when the
/// file is kept (`finish`), rather than the whole file.
pub(crate) struct Verifier {
    control: Arc<Control>,
    /// The stretches that came from seeds, in order, apart.
    seeded: Vec<Range<u64>>,
    /// Where the bytes checked end: a block boundary, or the file's end.
    at: u64,
    sha1: Sha1,
    sha256: Option<Sha256>,
    /// Why the file does not match, once that is known.
    mismatch: Option<String>,
}

/// Hashed beside the SHA-1 on a thread of its own past this many bytes.
const SHA256_APART: u64 = 8 << 20;

impl Verifier {
    /// A verifier at the file's first byte; `sha256` also hashes it so.
    /// `seeded` are the stretches that came from seeds, in order and apart.
    pub(crate) fn new(control: Arc<Control>, seeded: Vec<Range<u64>>, sha256: bool) -> Verifier {
        Verifier {
            control,
            seeded,
            at: 0,
            sha1: Sha1::new(),
            sha256: sha256.then(Sha256::new),
            mismatch: None,
        }
    }

    /// Whether this verifier checks the file as the model now describes
    /// it: the same blocks from seeds.
    pub(crate) fn fits(&self, seeded: &[Range<u64>], sha256: bool) -> bool {
        self.seeded == seeded && self.sha256.is_some() == sha256
    }

    /// Whether `block` lies wholly within a stretch from seeds.
    fn seeded_whole(&self, block: &Range<u64>) -> bool {
        let i = self.seeded.partition_point(|r| r.end <= block.start);
        self.seeded
            .get(i)
            .is_some_and(|r| r.start <= block.start && block.end <= r.end)
    }

    /// Checks the bytes of `temp` from where the verifier stands to `end`
    /// (down to a block boundary, unless `end` is the file's end). Bytes
    /// past a mismatch are not checked.
    pub(crate) fn advance(
        &mut self,
        temp: &File,
        path: &Path,
        end: u64,
    ) -> Result<(), TransferError> {
        let length = self.control.length;
        let bs = u64::from(self.control.blocksize);
        let end = if end >= length {
            length
        } else {
            end - end % bs
        };
        if self.mismatch.is_some() || end <= self.at {
            return Ok(());
        }
        let from = self.at;
        let sha256 = self.sha256.take();
        let (checked, sha256) = match sha256 {
            Some(mut h) if end - from >= SHA256_APART => std::thread::scope(|scope| {
                let other =
                    scope.spawn(move || hash_range(temp, path, (from, end), &mut h).map(|()| h));
                let checked = self.check(temp, path, from, end);
                let hashed = other.join().unwrap_or_else(|_| {
                    Err(TransferError::fatal(
                        HResult(QM_E_UNEXPECTED),
                        ErrorContext::GeneralQueueManager,
                        "internal error: hashing the file panicked".into(),
                    ))
                });
                (checked, hashed.map(Some))
            }),
            other => {
                let mut other = other;
                let checked = self.check_with(temp, path, from, end, other.as_mut());
                (checked, Ok(other))
            }
        };
        self.sha256 = sha256?;
        checked
    }

    fn check(
        &mut self,
        temp: &File,
        path: &Path,
        from: u64,
        end: u64,
    ) -> Result<(), TransferError> {
        self.check_with(temp, path, from, end, None)
    }

    /// Reads `from..end` (`from` on a block boundary), hashing it with
    /// SHA-1 (and `sha256`) and checking the MD4 of its blocks not from
    /// seeds; stops at the first block that does not match. Past one step,
    /// the next step is read on a thread of its own while this one is
    /// hashed (the copy from the page cache is about a fifth of the time).
    fn check_with(
        &mut self,
        temp: &File,
        path: &Path,
        from: u64,
        end: u64,
        mut sha256: Option<&mut Sha256>,
    ) -> Result<(), TransferError> {
        let bs = self.control.blocksize as usize;
        let step = (STEP / bs).max(1) * bs;
        let steps = (from..end).step_by(step);
        let reading = |at: u64, buf: &mut [u8]| {
            let n = (end - at).min(step as u64) as usize;
            temp.read_exact_at(&mut buf[..n], at)
                .map(|()| n)
                .map_err(|e| TransferError::local_io("re-reading", path, &e))
        };
        if end - from <= step as u64 {
            let mut buf = vec![0u8; step];
            for at in steps {
                let n = reading(at, &mut buf)?;
                if !self.check_step(at, &buf[..n], sha256.as_deref_mut()) {
                    break;
                }
            }
            return Ok(());
        }
        std::thread::scope(|scope| {
            // Two buffers go round: one read, one hashed. A check that
            // stops early drops its ends of the channels, which ends the
            // reader.
            let (read_tx, read_rx) = std::sync::mpsc::sync_channel(1);
            let (free_tx, free_rx) = std::sync::mpsc::channel::<Vec<u8>>();
            for _ in 0..2 {
                let _ = free_tx.send(vec![0u8; step]);
            }
            scope.spawn(move || {
                for at in steps {
                    let Ok(mut buf) = free_rx.recv() else {
                        return;
                    };
                    let read = reading(at, &mut buf);
                    let failed = read.is_err();
                    if read_tx.send((at, buf, read)).is_err() || failed {
                        return;
                    }
                }
            });
            while let Ok((at, buf, read)) = read_rx.recv() {
                let n = read?;
                if !self.check_step(at, &buf[..n], sha256.as_deref_mut()) {
                    break;
                }
                let _ = free_tx.send(buf);
            }
            Ok(())
        })
    }

    /// Checks the bytes `data` read at `at` (a block boundary): the MD4 of
    /// their blocks not from seeds, then the hashes. False at the first
    /// block that does not match (`mismatch` says which).
    fn check_step(&mut self, at: u64, data: &[u8], sha256: Option<&mut Sha256>) -> bool {
        let control = &*self.control;
        let bs = control.blocksize as usize;
        let first = (at / bs as u64) as u32;
        for (i, chunk) in data.chunks(bs).enumerate() {
            let id = first + i as u32;
            let range = control.block_range(id);
            if self.seeded_whole(&range) {
                continue;
            }
            let md: [u8; 16] = if chunk.len() == bs {
                Md4::digest(chunk).into()
            } else {
                let mut padded = chunk.to_vec();
                padded.resize(bs, 0);
                Md4::digest(&padded).into()
            };
            if md[..usize::from(control.checksum_bytes)] != *control.checksum(id) {
                self.mismatch = Some(format!(
                    "block {id} (bytes {}-{}) fetched from the server does not match the control file's MD4",
                    range.start, range.end
                ));
                return false;
            }
        }
        self.sha1.update(data);
        if let Some(h) = sha256 {
            h.update(data);
        }
        self.at = at + data.len() as u64;
        true
    }

    /// Checks what is left of the file, whose bytes have all arrived and
    /// number `total`: `Ok(Err(reason))` when it does not match the
    /// control file, else the SHA-256 state when it was asked.
    pub(crate) fn finish(
        mut self,
        temp: &File,
        path: &Path,
        total: u64,
    ) -> Result<Result<Option<Sha256>, String>, TransferError> {
        if total != self.control.length {
            return Ok(Err(format!(
                "the file has {total} bytes, the control file describes {}",
                self.control.length
            )));
        }
        self.advance(temp, path, total)?;
        if let Some(reason) = self.mismatch {
            return Ok(Err(reason));
        }
        let sha1: [u8; 20] = self.sha1.finalize().into();
        if sha1 != self.control.sha1 {
            return Ok(Err(format!(
                "the file's SHA-1 is not the control file's ({})",
                self.control.sha1_hex()
            )));
        }
        Ok(Ok(self.sha256))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::transport::zsync::control::parse;
    use crate::engine::transport::zsync::matcher::control_of;

    /// The verdict on `data` (as the temporary file) of a verifier moved
    /// on to each of `stops` in turn, then finished.
    fn verdict(
        target: &[u8],
        data: &[u8],
        seeded: Vec<Range<u64>>,
        stops: &[u64],
    ) -> Result<Option<[u8; 32]>, String> {
        let control = Arc::new(parse(&control_of(target, 512, 2, 2, 5)).unwrap());
        let dir = crate::testing::Scratch::new("verify");
        let path = dir.join("temp");
        std::fs::write(&path, data).unwrap();
        let file = File::open(&path).unwrap();
        let mut v = Verifier::new(control, seeded, true);
        for &stop in stops {
            v.advance(&file, &path, stop).unwrap();
        }
        v.finish(&file, &path, data.len() as u64)
            .unwrap()
            .map(|h| h.map(|h| h.finalize().into()))
    }

    #[test]
    fn checks_made_piece_by_piece_are_those_made_at_once() {
        let target: Vec<u8> = (0..20_000u32).map(|i| (i * 7919 % 251) as u8).collect();
        let sha256: [u8; 32] = Sha256::digest(&target).into();
        let seeded = vec![0..4096, 8192..12288];
        for stops in [
            &[][..],
            &[1000, 5000, 5000, 9000, 19_999],
            &[20_000],
            &[30_000, 100],
        ] {
            assert_eq!(
                verdict(&target, &target, seeded.clone(), stops),
                Ok(Some(sha256)),
                "{stops:?}"
            );
        }
        // A fetched block that is not the control file's: its MD4 says so,
        // whether checked on the way or at the end.
        let mut bad = target.clone();
        bad[5000] ^= 1;
        for stops in [&[][..], &[4608, 6000]] {
            let why = verdict(&target, &bad, seeded.clone(), stops).unwrap_err();
            assert!(why.contains("block 9 ") && why.contains("MD4"), "{why}");
        }
        // A block from a seed is not checked by MD4; the SHA-1 of the whole
        // catches it.
        let mut bad = target.clone();
        bad[100] ^= 1;
        let why = verdict(&target, &bad, seeded.clone(), &[2048]).unwrap_err();
        assert!(why.contains("SHA-1"), "{why}");
        // A file of another length is not the control file's.
        let why = verdict(&target, &target[..19_000], seeded, &[]).unwrap_err();
        assert!(why.contains("19000 bytes"), "{why}");
    }

    #[test]
    fn checks_read_ahead_on_a_long_file_are_those_made_step_by_step() {
        // Over three steps of reading: the read-ahead thread's way.
        let len = 3 * STEP + 1000;
        let target: Vec<u8> = (0..len as u64).map(|i| (i * 7919 % 251) as u8).collect();
        let sha256: [u8; 32] = Sha256::digest(&target).into();
        let seeded = vec![
            0..(STEP as u64),
            (2 * STEP as u64)..(2 * STEP as u64 + 4096),
        ];
        for stops in [&[][..], &[(STEP + 512) as u64]] {
            assert_eq!(
                verdict(&target, &target, seeded.clone(), stops),
                Ok(Some(sha256)),
                "{stops:?}"
            );
        }
        // A bad block in the third step, and in the last bytes.
        for at in [2 * STEP + 5000, len - 10] {
            let mut bad = target.clone();
            bad[at] ^= 1;
            let why = verdict(&target, &bad, seeded.clone(), &[]).unwrap_err();
            let block = at / 512;
            assert!(why.contains(&format!("block {block} ")), "{why}");
        }
    }
}
