//! zsync's block matching: a seed is read once, a window of one block (two
//! when the control file asks for two consecutive matches) rolls over it
//! a byte at a time, and where the window's rolling checksum is a block's
//! the window's MD4 decides. zsync 0.6.2's definitions, exactly:
//!
//! - the rolling checksum of a block `d[0..n]` is `a = Σ d[i]` and
//!   `b = Σ (n - i)·d[i]`, both mod 2^16; it rolls by one byte with
//!   `a += new - old`, `b += a - n·old`;
//! - the control file keeps the last `rsum_bytes` of the big-endian pair
//!   `(a, b)`: with 2 bytes only `b`, with 3 the low byte of `a` and `b`;
//! - the strong checksum is the block's MD4, its first `checksum_bytes`;
//! - with `seq_matches = 2` a block counts only with the block after it
//!   (the last block with the zeros after the end of the data);
//! - the target's last block is hashed padded with zeros to the block
//!   size, and so is the end of a seed.
//!
//! Which blocks matched is the matcher's to remember, so that a block is
//! taken once; a seed found changed after its scan gives its blocks back
//! (`forget`).

use std::io::{self, ErrorKind, Read};
use std::sync::Arc;

use md4::{Digest, Md4};

use crate::engine::transport::zsync::control::Control;

/// The rolling checksum `(a, b)` of `block`, unmasked. Computed as
/// `b = n·Σd[i] − Σ i·d[i]` (the same value mod 2^16), which has no chain
/// from one byte to the next and so runs in vector registers.
pub(crate) fn rsum(block: &[u8]) -> (u16, u16) {
    let n = block.len() as u32;
    let (mut a, mut w) = (0u32, 0u32);
    for (i, &c) in block.iter().enumerate() {
        a = a.wrapping_add(u32::from(c));
        w = w.wrapping_add((i as u32).wrapping_mul(u32::from(c)));
    }
    (a as u16, n.wrapping_mul(a).wrapping_sub(w) as u16)
}

/// Rolls `r` over one byte: `old` leaves a window of `2^shift` bytes, `new`
/// enters it.
#[inline(always)]
fn roll(r: &mut (u16, u16), old: u8, new: u8, shift: u32) {
    r.0 =
        r.0.wrapping_add(u16::from(new))
            .wrapping_sub(u16::from(old));
    r.1 = r.1.wrapping_add(r.0).wrapping_sub(u16::from(old) << shift);
}

/// A block's place in its chain (`Matcher::order`).
type Order<'c> = ((u16, u16), (u16, u16), &'c [u8], &'c [u8]);

/// The least bytes a seed is read in.
const READ: usize = 1 << 20;

/// Matches seeds against a control file's blocks. A clone matches on its
/// own (a part of a seed on another thread); `mark_known` merges.
#[derive(Clone)]
pub(crate) struct Matcher<'c> {
    control: &'c Control,
    /// Every block, sorted by the bucket of the key of its checksums
    /// (`bucket`, `key`), the key, then `order`: a window finds the blocks
    /// it matches by binary search within its key's bucket.
    /// Four bytes a block, shared by the clones (a control file may
    /// describe `MAX_BLOCKS` blocks, and a seed is scanned in parts).
    table: Arc<[u32]>,
    /// Where each bucket of keys (`bucket`) starts in `table`, and where
    /// the last ends: about four blocks a bucket, so that a key's blocks
    /// are found without a search over the whole table.
    starts: Arc<[u32]>,
    bucket_shift: u32,
    /// One bit per hashed key: most windows are turned away here.
    filter: Arc<[u64]>,
    filter_shift: u32,
    /// The blocks matched so far.
    known: Vec<u64>,
    known_count: u32,
    /// One bit per place in `table`: the blocks a window matched from
    /// there on (those of the window's checksums) are all done, and are
    /// not looked at again.
    spent: Vec<u64>,
}

impl<'c> Matcher<'c> {
    /// A matcher of `control`'s blocks, none known yet.
    pub(crate) fn new(control: &'c Control) -> Matcher<'c> {
        let blocks = control.blocks();
        let bits = (blocks.max(1).next_power_of_two().trailing_zeros() + 4).clamp(10, 30);
        let words = (blocks as usize).div_ceil(64);
        let mut m = Matcher {
            control,
            table: Arc::from(Vec::new()),
            starts: Arc::from(Vec::new()),
            bucket_shift: 32 - (blocks / 4).max(1).next_power_of_two().trailing_zeros(),
            filter: Arc::from(Vec::new()),
            filter_shift: 32 - bits,
            known: vec![0; words],
            known_count: 0,
            spent: vec![0; words],
        };
        let mut filter = vec![0u64; 1 << (bits - 6)];
        for id in 0..blocks {
            let bit = m.filter_bit(m.key_of_block(id));
            filter[bit >> 6] |= 1 << (bit & 63);
        }
        let mut table: Vec<u32> = (0..blocks).collect();
        // Blocks alike stay in the order of the file.
        let place = |id: u32| {
            let k = m.key_of_block(id);
            (m.bucket(k), k, m.order(id), id)
        };
        table.sort_by_cached_key(|&id| place(id));
        let mut starts = vec![0u32; (1usize << (32 - m.bucket_shift)) + 1];
        for &id in &table {
            starts[m.bucket(m.key_of_block(id)) + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        m.table = Arc::from(table);
        m.starts = Arc::from(starts);
        m.filter = Arc::from(filter);
        m
    }

    /// What a chain is sorted by and a window looked up by: the block's
    /// rolling checksum as the file keeps it and (with two matches) the
    /// next block's, or the zeros' past the end; then its MD4 as the file
    /// keeps it and (with two matches) the next block's, none for the
    /// last block, which is matched alone.
    fn order(&self, id: u32) -> Order<'c> {
        let c = self.control;
        let masked = |x: (u16, u16)| (x.0 & c.a_mask(), x.1 & c.b_mask());
        let seq2 = c.seq_matches > 1;
        let next = c.rsums.get(id as usize + 1).copied();
        let r1 = if seq2 {
            masked(next.unwrap_or((0, 0)))
        } else {
            (0, 0)
        };
        let c1: &[u8] = match next {
            Some(_) if seq2 => c.checksum(id + 1),
            _ => &[],
        };
        (masked(c.rsums[id as usize]), r1, c.checksum(id), c1)
    }

    fn key(&self, r0: (u16, u16), r1: (u16, u16)) -> u32 {
        let c = self.control;
        let low = u32::from(r0.1 & c.b_mask());
        let high = if c.seq_matches > 1 {
            u32::from(r1.1 & c.b_mask())
        } else {
            u32::from(r0.0 & c.a_mask())
        };
        low | high << 16
    }

    /// The key of block `id` (and the next, or the zeros past the end).
    fn key_of_block(&self, id: u32) -> u32 {
        let rs = &self.control.rsums;
        let next = rs.get(id as usize + 1).copied().unwrap_or((0, 0));
        self.key(rs[id as usize], next)
    }

    /// The bucket of `table` that blocks of key `key` are in.
    #[inline(always)]
    fn bucket(&self, key: u32) -> usize {
        (u64::from(key.wrapping_mul(0x9E37_79B1)) >> self.bucket_shift) as usize
    }

    #[inline(always)]
    fn filter_bit(&self, key: u32) -> usize {
        (key.wrapping_mul(0x9E37_79B1) >> self.filter_shift) as usize
    }

    /// Whether the blocks matched from place `at` of `table` on are done.
    fn is_spent(&self, at: usize) -> bool {
        self.spent[at >> 6] & (1 << (at & 63)) != 0
    }

    /// Whether block `id` has been matched.
    pub(crate) fn is_known(&self, id: u32) -> bool {
        self.known[(id >> 6) as usize] & (1 << (id & 63)) != 0
    }

    fn set_known(&mut self, id: u32, on: bool) {
        if self.is_known(id) != on {
            self.known[(id >> 6) as usize] ^= 1 << (id & 63);
            if on {
                self.known_count += 1;
            } else {
                self.known_count -= 1;
            }
        }
    }

    /// How many blocks have been matched.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn known_count(&self) -> u32 {
        self.known_count
    }

    /// Every block is known: no seed needs reading.
    pub(crate) fn all_known(&self) -> bool {
        self.known_count == self.control.blocks()
    }

    /// Counts blocks another matcher (a clone) found as matched here.
    pub(crate) fn mark_known(&mut self, blocks: &[u32]) {
        for &id in blocks {
            self.set_known(id, true);
        }
    }

    /// Gives back blocks matched from a seed that is not trusted after all.
    pub(crate) fn forget(&mut self, blocks: &[u32]) {
        for &id in blocks {
            self.set_known(id, false);
        }
        // Places whose blocks were all done may not be now.
        self.spent.fill(0);
    }

    /// Nothing is left to match at block `id`'s entry: it and (with two
    /// consecutive matches) the block after it are known.
    fn done(&self, id: u32) -> bool {
        self.is_known(id)
            && (self.control.seq_matches == 1
                || id + 1 >= self.control.blocks()
                || self.is_known(id + 1))
    }

    /// Reads `seed` to its end and hands every block found in it that is
    /// not yet known to `found` (its index and `blocksize` bytes of data,
    /// zero-padded at the end of the target); `stop` is asked between
    /// reads (a true answer ends the scan with `ErrorKind::Interrupted`).
    /// Returns the blocks this seed gave, in the order found.
    pub(crate) fn scan(
        &mut self,
        seed: &mut dyn Read,
        stop: &dyn Fn() -> bool,
        found: &mut dyn FnMut(u32, &[u8]) -> io::Result<()>,
    ) -> io::Result<Vec<u32>> {
        let mut given = Vec::new();
        let control = self.control;
        if control.blocks() == 0 || self.all_known() {
            return Ok(given);
        }
        let bs = control.blocksize as usize;
        let shift = control.blocksize.trailing_zeros();
        let seq2 = control.seq_matches > 1;
        let context = bs * usize::from(control.seq_matches);
        // Read up to `room` bytes; past them, room for the zeros of the end.
        let room = READ.max(16 * bs);
        let mut buf = vec![0u8; room + context + 1];
        let (mut len, mut x) = (0usize, 0usize);
        let mut eof = false;
        let mut r = ((0u16, 0u16), (0u16, 0u16));
        let mut valid = false;
        // After a match the window moves one block on: the block that was
        // second in it is first now, and its checksums are known.
        let mut jumped = false;
        let mut carried: Option<[u8; 16]> = None;
        // The block expected first in the window after a match: a run of
        // matching blocks goes on there, checked by MD4 alone (the rolling
        // checksum is only needed to find where a run starts).
        let mut next: Option<u32> = None;
        let mut carried_second: Option<[u8; 16]> = None;
        let n = usize::from(control.checksum_bytes);
        let blocks = control.blocks();
        loop {
            if stop() {
                return Err(io::Error::new(ErrorKind::Interrupted, "stopped"));
            }
            // Keep the window's bytes, read more behind them.
            buf.copy_within(x..len.max(x), 0);
            len = len.saturating_sub(x);
            x = 0;
            while !eof && len < room {
                match seed.read(&mut buf[len..]) {
                    Ok(0) => eof = true,
                    Ok(n) => len += n,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            // At the end, windows run into zeros past the data.
            let limit = if eof {
                let data = len;
                buf[len..].fill(0);
                len = data + context + 1;
                data
            } else {
                len - context
            };
            while x < limit {
                if let Some(id) = next.take() {
                    let md0 = *carried.get_or_insert_with(|| Md4::digest(&buf[x..x + bs]).into());
                    let pair = seq2 && id + 1 < blocks;
                    if pair || !seq2 {
                        let md1: Option<[u8; 16]> =
                            pair.then(|| Md4::digest(&buf[x + bs..x + 2 * bs]).into());
                        let first = md0[..n] == *control.checksum(id);
                        let second = md1.is_none_or(|m| m[..n] == *control.checksum(id + 1));
                        if first && second {
                            let last = if pair { id + 1 } else { id };
                            for block in id..=last {
                                if !self.is_known(block) {
                                    let at = (block - id) as usize * bs;
                                    found(block, &buf[x + at..x + at + bs])?;
                                    self.set_known(block, true);
                                    given.push(block);
                                }
                            }
                            x += bs;
                            valid = false;
                            jumped = false;
                            carried = md1;
                            next = if seq2 {
                                Some(last)
                            } else {
                                (id + 1 < blocks).then_some(id + 1)
                            };
                            continue;
                        }
                        if let Some(m) = md1 {
                            carried_second = Some(m);
                        }
                    }
                    jumped = false;
                    valid = false;
                }
                if !valid {
                    r.0 = if jumped && seq2 {
                        r.1
                    } else {
                        rsum(&buf[x..x + bs])
                    };
                    if seq2 {
                        r.1 = rsum(&buf[x + bs..x + 2 * bs]);
                    }
                    valid = true;
                }
                let k = self.key(r.0, r.1);
                let bit = self.filter_bit(k);
                if self.filter[bit >> 6] & (1 << (bit & 63)) != 0 {
                    let mut md = [carried.take(), carried_second.take()];
                    if let Some(id) =
                        self.try_match(k, r, &buf[x..x + context], &mut md, &mut given, found)?
                    {
                        x += bs;
                        valid = false;
                        jumped = true;
                        carried = if seq2 { md[1] } else { None };
                        // With two blocks matched, the run goes on at the
                        // second; with one, at the block after it.
                        next = (id + 1 < blocks).then_some(id + 1);
                        continue;
                    }
                }
                carried_second = None;
                jumped = false;
                carried = None;
                roll(&mut r.0, buf[x], buf[x + bs], shift);
                if seq2 {
                    roll(&mut r.1, buf[x + bs], buf[x + 2 * bs], shift);
                }
                x += 1;
            }
            if eof || self.all_known() {
                return Ok(given);
            }
        }
    }

    /// Matches the window `data` (one or two blocks) against the blocks of
    /// key `k`: every one not yet known whose checksums it has is handed
    /// to `found`. The first block matched, if any. `md` holds the MD4s of the
    /// window's blocks that are known, and gets those computed.
    fn try_match(
        &mut self,
        k: u32,
        r: ((u16, u16), (u16, u16)),
        data: &[u8],
        md: &mut [Option<[u8; 16]>; 2],
        given: &mut Vec<u32>,
        found: &mut dyn FnMut(u32, &[u8]) -> io::Result<()>,
    ) -> io::Result<Option<u32>> {
        let control = self.control;
        let table = Arc::clone(&self.table);
        let chain = {
            let b = self.bucket(k);
            let (start, end) = (self.starts[b] as usize, self.starts[b + 1] as usize);
            let s = &table[start..end];
            let lo = s.partition_point(|&id| self.key_of_block(id) < k);
            start + lo..start + lo + s[lo..].partition_point(|&id| self.key_of_block(id) == k)
        };
        let bs = control.blocksize as usize;
        let n = usize::from(control.checksum_bytes);
        let blocks = control.blocks();
        let seq2 = control.seq_matches > 1;
        let (am, bm) = (control.a_mask(), control.b_mask());
        let masked = |x: (u16, u16)| (x.0 & am, x.1 & bm);
        let rsums = (masked(r.0), if seq2 { masked(r.1) } else { (0, 0) });
        let mut md_of = |i: usize| -> [u8; 16] {
            *md[i].get_or_insert_with(|| Md4::digest(&data[i * bs..(i + 1) * bs]).into())
        };
        // The chain's blocks whose every checksum is the window's, by
        // binary search on each in turn (the MD4s only when the rolling
        // checksums are there).
        let within = |range: std::ops::Range<usize>,
                      part: &dyn Fn(Order<'c>) -> std::cmp::Ordering| {
            let s = &table[range.clone()];
            let lo = s.partition_point(|&id| part(self.order(id)).is_lt());
            let hi = lo + s[lo..].partition_point(|&id| part(self.order(id)).is_eq());
            range.start + lo..range.start + hi
        };
        let same = within(chain, &|o| (o.0, o.1).cmp(&rsums));
        if same.is_empty() {
            return Ok(None);
        }
        let md0 = md_of(0);
        let same = within(same, &|o| o.2.cmp(&md0[..n]));
        if same.is_empty() {
            return Ok(None);
        }
        // With two matches the last block (no next MD4) sorts first and
        // is matched alone; the others need the next block's MD4 too.
        let alone = seq2 && self.order(table[same.start]).3.is_empty();
        let paired = same.start + usize::from(alone)..same.end;
        let paired = if seq2 && !paired.is_empty() {
            let md1 = md_of(1);
            within(paired, &|o| o.3.cmp(&md1[..n]))
        } else {
            paired
        };
        // Those of a place spent before are all done: not looked at again
        // (a hostile control file may give them all the same checksums).
        let mut places = Vec::with_capacity(2);
        if !paired.is_empty() && !self.is_spent(paired.start) {
            places.push(paired.clone());
        }
        if alone && !self.is_spent(same.start) {
            places.push(same.start..same.start + 1);
        }
        let hits: Vec<u32> = places
            .iter()
            .flat_map(|p| table[p.clone()].iter().copied())
            .filter(|&id| !self.done(id))
            .collect();
        for &id in &hits {
            let span = if seq2 && id + 1 < blocks { 2 } else { 1 };
            for i in 0..span {
                let block = id + i as u32;
                if !self.is_known(block) {
                    found(block, &data[i * bs..(i + 1) * bs])?;
                    self.set_known(block, true);
                    given.push(block);
                }
            }
        }
        // Every block looked at is done now.
        for p in places {
            self.spent[p.start >> 6] |= 1 << (p.start & 63);
        }
        Ok(hits.first().copied())
    }
}

/// A control file for `data` as `zsyncmake` would write it (for tests and
/// the fuzz target).
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn control_of(
    data: &[u8],
    blocksize: u32,
    seq_matches: u8,
    rsum_bytes: u8,
    checksum_bytes: u8,
) -> Vec<u8> {
    use sha1::Sha1;
    let sha: [u8; 20] = Sha1::digest(data).into();
    let hex: String = sha.iter().map(|b| format!("{b:02x}")).collect();
    let mut out = format!(
        "zsync: 0.6.2\nFilename: t\nBlocksize: {blocksize}\nLength: {}\nHash-Lengths: {seq_matches},{rsum_bytes},{checksum_bytes}\nURL: t\nSHA-1: {hex}\n\n",
        data.len()
    )
    .into_bytes();
    for chunk in data.chunks(blocksize as usize) {
        let mut block = chunk.to_vec();
        block.resize(blocksize as usize, 0);
        let (a, b) = rsum(&block);
        let mut pair = a.to_be_bytes().to_vec();
        pair.extend_from_slice(&b.to_be_bytes());
        out.extend_from_slice(&pair[4 - usize::from(rsum_bytes)..]);
        let md: [u8; 16] = Md4::digest(&block).into();
        out.extend_from_slice(&md[..usize::from(checksum_bytes)]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::transport::zsync::control::parse;

    /// Bytes that do not repeat: a simple generator.
    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    /// Scans `seeds` for `target` and rebuilds it: the rebuilt bytes, and
    /// which blocks came from the seeds.
    fn rebuild(target: &[u8], seeds: &[&[u8]], lengths: (u8, u8, u8), bs: u32) -> (Vec<u8>, u32) {
        let control = parse(&control_of(target, bs, lengths.0, lengths.1, lengths.2)).unwrap();
        let mut m = Matcher::new(&control);
        let mut out = vec![0xeeu8; target.len()];
        for seed in seeds {
            m.scan(&mut &seed[..], &|| false, &mut |id, data| {
                let range = control.block_range(id);
                let n = (range.end - range.start) as usize;
                out[range.start as usize..range.end as usize].copy_from_slice(&data[..n]);
                Ok(())
            })
            .unwrap();
        }
        // The blocks not found are "fetched": copied from the target.
        for id in 0..control.blocks() {
            if !m.is_known(id) {
                let r = control.block_range(id);
                out[r.start as usize..r.end as usize]
                    .copy_from_slice(&target[r.start as usize..r.end as usize]);
            }
        }
        (out, m.known_count())
    }

    #[test]
    fn the_rolling_checksum_is_zsyncs() {
        assert_eq!(rsum(&[1, 2, 3]), (6, 3 + 2 * 2 + 3));
        let data = noise(4096 + 100, 1);
        let mut r = rsum(&data[..4096]);
        for x in 0..100 {
            roll(&mut r, data[x], data[x + 4096], 12);
            assert_eq!(r, rsum(&data[x + 1..x + 1 + 4096]), "at {x}");
        }
    }

    #[test]
    fn an_identical_seed_gives_every_block_for_all_hash_lengths() {
        let target = noise(10 * 1024 + 321, 2);
        for lengths in [(1, 4, 16), (2, 2, 5), (2, 3, 4), (1, 2, 3), (2, 1, 8)] {
            let (out, known) = rebuild(&target, &[&target], lengths, 1024);
            assert_eq!(out, target, "{lengths:?}");
            assert_eq!(known, 11, "{lengths:?}");
        }
    }

    #[test]
    fn shifted_and_changed_seeds_give_the_blocks_they_hold() {
        let target = noise(64 * 1024, 3);
        // 1000 bytes inserted at the start: every block shifted.
        let mut shifted = noise(1000, 4);
        shifted.extend_from_slice(&target);
        let (out, known) = rebuild(&target, &[&shifted], (2, 2, 5), 1024);
        assert_eq!((out == target, known), (true, 64));
        // Block 10 changed: every other block still matches.
        let mut changed = target.clone();
        changed[10 * 1024 + 5] ^= 0xff;
        let (out, known) = rebuild(&target, &[&changed], (2, 2, 5), 1024);
        assert_eq!((out == target, known), (true, 63));
        // Two seeds, each with half.
        let (a, b) = target.split_at(32 * 1024);
        let (out, known) = rebuild(&target, &[a, b], (2, 2, 5), 1024);
        assert_eq!((out == target, known), (true, 64));
        // Unrelated: nothing.
        let (_, known) = rebuild(&target, &[&noise(64 * 1024, 5)], (2, 2, 5), 1024);
        assert_eq!(known, 0);
    }

    #[test]
    fn repeated_blocks_are_all_filled_from_one() {
        let mut target = vec![0u8; 8 * 512];
        target.extend_from_slice(&noise(4 * 512, 6));
        let (out, known) = rebuild(&target, &[&target[..3 * 512]], (1, 4, 16), 512);
        assert_eq!(known, 8);
        assert_eq!(&out[..8 * 512], &target[..8 * 512]);
    }

    #[test]
    fn mutated_and_truncated_control_files_never_panic() {
        // What the fuzz target does, on stable and in every `cargo test`:
        // zsyncmake's format for some data, cut and with bytes changed.
        let data = noise(5000, 8);
        let good = control_of(&data, 256, 2, 2, 5);
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..3000 {
            let mut bytes = good.clone();
            bytes.truncate(next() as usize % (good.len() + 1));
            for _ in 0..(round % 4) {
                if !bytes.is_empty() {
                    let at = next() as usize % bytes.len();
                    bytes[at] = next() as u8;
                }
            }
            let parsed = parse(&bytes);
            if let Ok(Some(len)) = crate::engine::transport::zsync::control::expected_len(&bytes) {
                assert_eq!(parsed.is_ok(), len <= bytes.len() as u64, "{parsed:?}");
            }
            if let Ok(c) = parsed {
                assert_eq!(
                    u64::from(c.blocks()),
                    c.length.div_ceil(u64::from(c.blocksize))
                );
                if c.blocks() <= 4096 {
                    let mut m = Matcher::new(&c);
                    m.scan(&mut &data[..], &|| false, &mut |id, block| {
                        assert!(id < c.blocks());
                        assert_eq!(block.len(), c.blocksize as usize);
                        Ok(())
                    })
                    .unwrap();
                }
            }
        }
    }

    /// A control file whose blocks all have the rolling checksum of zeros
    /// and MD4s that zeros do not have: a seed of zeros makes each of its
    /// windows a candidate for every block. Found by binary search, not by
    /// comparing each (65,536 blocks by a million windows took minutes).
    #[test]
    fn blocks_whose_rolling_checksums_all_collide_are_not_each_compared() {
        for lengths in [(1u8, 1u8, 3u8), (2, 2, 3), (1, 4, 16)] {
            let (seq, rsum_bytes, checksum_bytes) = lengths;
            let blocks = 1u32 << 16;
            let mut bytes = format!(
                "zsync: 0.6.2\nBlocksize: 64\nLength: {}\nHash-Lengths: {seq},{rsum_bytes},{checksum_bytes}\nSHA-1: {}\n\n",
                u64::from(blocks) * 64,
                "00".repeat(20)
            )
            .into_bytes();
            for i in 0..blocks {
                bytes.extend(std::iter::repeat_n(0, usize::from(rsum_bytes)));
                let mut md = vec![0xa5u8; usize::from(checksum_bytes)];
                md[1..3].copy_from_slice(&(i as u16).to_be_bytes());
                bytes.extend_from_slice(&md);
            }
            let control = parse(&bytes).unwrap();
            let mut m = Matcher::new(&control);
            let began = std::time::Instant::now();
            let given = m
                .scan(&mut &vec![0u8; 1 << 20][..], &|| false, &mut |_, _| Ok(()))
                .unwrap();
            assert!(given.is_empty());
            assert!(
                began.elapsed() < std::time::Duration::from_secs(20),
                "{lengths:?}: {:?}",
                began.elapsed()
            );
        }
    }

    #[test]
    fn forgotten_blocks_are_matched_again() {
        let target = noise(8 * 512, 7);
        let control = parse(&control_of(&target, 512, 2, 2, 5)).unwrap();
        let mut m = Matcher::new(&control);
        let given = m
            .scan(&mut &target[..], &|| false, &mut |_, _| Ok(()))
            .unwrap();
        assert_eq!(m.known_count(), 8);
        m.forget(&given);
        assert_eq!(m.known_count(), 0);
        let again = m
            .scan(&mut &target[..], &|| false, &mut |_, _| Ok(()))
            .unwrap();
        assert_eq!(again.len(), 8);
        let err = m.scan(&mut &target[..], &|| true, &mut |_, _| Ok(()));
        assert!(err.is_ok(), "nothing left: no read, no stop");
        m.forget(&again);
        let err = m.scan(&mut &target[..], &|| true, &mut |_, _| Ok(()));
        assert_eq!(err.unwrap_err().kind(), ErrorKind::Interrupted);
    }
}
