//! The zsync control file, as Debian's `zsyncmake` 0.6.2 writes it: a text
//! header (`Key: value` lines, an empty line ends it), then per block of
//! the target a truncated rolling checksum and a truncated MD4.
//!
//! ```text
//! zsync: 0.6.2
//! Filename: image.bin
//! MTime: Tue, 01 Dec 2026 10:00:00 +0000
//! Blocksize: 2048
//! Length: 10485760
//! Hash-Lengths: 2,2,5
//! URL: image.bin
//! SHA-1: 2fd4e1c67a2d28fced849ee1bb76e7391b93eb12
//!
//! <blocks × (rsum_bytes + checksum_bytes) bytes>
//! ```
//!
//! Bounded: the header is at most `MAX_HEADER` bytes, the block count at
//! most `MAX_BLOCKS`, and the table must be exactly as long as `Length`,
//! `Blocksize` and `Hash-Lengths` say (a truncated table is an error, not
//! a shorter file). Nothing is allocated before the bytes it describes
//! have been read. The `URL` lines are discoveries (DESIGN §7.1): kept to
//! be reported, never fetched from.

use std::fmt;

/// The longest header, in bytes.
pub(crate) const MAX_HEADER: usize = 64 * 1024;
/// The most blocks a control file may describe: 32 GiB in zsyncmake's
/// 4 KiB blocks, a table of at most 160 MiB.
pub(crate) const MAX_BLOCKS: u64 = 1 << 23;
/// The smallest and largest block sizes accepted (zsyncmake uses 2048 or
/// 4096; `-b` takes any power of two).
pub(crate) const MIN_BLOCKSIZE: u32 = 64;
pub(crate) const MAX_BLOCKSIZE: u32 = 1 << 20;
/// The most bytes a control file may have: its header and largest table.
pub(crate) const MAX_CONTROL: u64 = MAX_HEADER as u64 + MAX_BLOCKS * (4 + 16);

/// A parsed control file.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Control {
    /// The target's length in bytes.
    pub length: u64,
    /// The block size, a power of two.
    pub blocksize: u32,
    /// How many consecutive blocks must match (1 or 2).
    pub seq_matches: u8,
    /// Bytes of the rolling checksum kept per block (1 to 4).
    pub rsum_bytes: u8,
    /// Bytes of the MD4 kept per block (3 to 16).
    pub checksum_bytes: u8,
    /// The SHA-1 of the whole target.
    pub sha1: [u8; 20],
    /// The `URL` lines: discoveries, reported, never fetched from.
    pub urls: Vec<String>,
    /// Per block: the rolling checksum's `a` (masked) and `b` halves.
    pub rsums: Vec<(u16, u16)>,
    /// Per block: the first `checksum_bytes` bytes of its MD4, one after
    /// another.
    pub checksums: Vec<u8>,
}

impl fmt::Debug for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Control")
            .field("length", &self.length)
            .field("blocksize", &self.blocksize)
            .field(
                "hash_lengths",
                &(self.seq_matches, self.rsum_bytes, self.checksum_bytes),
            )
            .field("blocks", &self.rsums.len())
            .field("urls", &self.urls)
            .finish()
    }
}

impl Control {
    /// How many blocks the target has.
    pub(crate) fn blocks(&self) -> u32 {
        self.rsums.len() as u32
    }

    /// The mask of the rolling checksum's `a` half that the file keeps.
    pub(crate) fn a_mask(&self) -> u16 {
        a_mask(self.rsum_bytes)
    }

    /// The mask of the rolling checksum's `b` half that the file keeps.
    pub(crate) fn b_mask(&self) -> u16 {
        if self.rsum_bytes >= 2 {
            0xffff
        } else {
            0xff
        }
    }

    /// Block `block`'s truncated MD4.
    pub(crate) fn checksum(&self, block: u32) -> &[u8] {
        let n = usize::from(self.checksum_bytes);
        let at = block as usize * n;
        &self.checksums[at..at + n]
    }

    /// Where block `block` lies in the target (the last one may be short).
    pub(crate) fn block_range(&self, block: u32) -> std::ops::Range<u64> {
        let start = u64::from(block) * u64::from(self.blocksize);
        start..(start + u64::from(self.blocksize)).min(self.length)
    }

    /// The SHA-1 as lowercase hex.
    pub(crate) fn sha1_hex(&self) -> String {
        self.sha1.iter().map(|b| format!("{b:02x}")).collect()
    }
}

fn a_mask(rsum_bytes: u8) -> u16 {
    match rsum_bytes {
        0..=2 => 0,
        3 => 0xff,
        _ => 0xffff,
    }
}

/// Why a control file was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ControlError(pub String);

impl fmt::Display for ControlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn bad(why: impl Into<String>) -> ControlError {
    ControlError(why.into())
}

/// Where the header of `bytes` ends (just past its empty line), if it has
/// ended within `MAX_HEADER` bytes: `Ok(None)` while more bytes may end it.
pub(crate) fn header_end(bytes: &[u8]) -> Result<Option<usize>, ControlError> {
    let scan = &bytes[..bytes.len().min(MAX_HEADER)];
    if let Some(i) = scan.windows(2).position(|w| w == b"\n\n") {
        return Ok(Some(i + 2));
    }
    if scan.starts_with(b"\n") {
        return Ok(Some(1));
    }
    if bytes.len() >= MAX_HEADER {
        return Err(bad(format!(
            "its header does not end within {MAX_HEADER} bytes"
        )));
    }
    Ok(None)
}

/// The header's fields that matter, checked.
struct Header {
    length: u64,
    blocksize: u32,
    seq_matches: u8,
    rsum_bytes: u8,
    checksum_bytes: u8,
    sha1: [u8; 20],
    urls: Vec<String>,
}

impl Header {
    fn blocks(&self) -> u64 {
        self.length.div_ceil(u64::from(self.blocksize))
    }
    fn table_len(&self) -> u64 {
        self.blocks() * u64::from(self.rsum_bytes + self.checksum_bytes)
    }
}

fn number<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, ControlError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) || value.len() > 20 {
        return Err(bad(format!("its {key} '{value}' is not a number")));
    }
    value
        .parse()
        .map_err(|_| bad(format!("its {key} '{value}' is out of range")))
}

fn sha1_of(value: &str) -> Result<[u8; 20], ControlError> {
    let value = value.trim();
    let wrong = || bad(format!("its SHA-1 '{value}' is not 40 hex digits"));
    if value.len() != 40 || !value.is_ascii() {
        return Err(wrong());
    }
    let mut out = [0u8; 20];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&value[2 * i..2 * i + 2], 16).map_err(|_| wrong())?;
    }
    Ok(out)
}

fn parse_header(text: &[u8]) -> Result<Header, ControlError> {
    let text = std::str::from_utf8(text).map_err(|_| bad("its header is not UTF-8 text"))?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let first = lines.next().unwrap_or("");
    if !first.starts_with("zsync:") {
        return Err(bad("it does not start with a 'zsync:' line"));
    }
    let (mut length, mut blocksize, mut lengths, mut sha1) = (None, None, None, None);
    let mut urls = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (key, value) = line
            .split_once(':')
            .ok_or_else(|| bad(format!("its header line '{line}' has no ':'")))?;
        let value = value.trim();
        match key {
            "Length" => length = Some(number::<u64>("Length", value)?),
            "Blocksize" => blocksize = Some(number::<u32>("Blocksize", value)?),
            "Hash-Lengths" => lengths = Some(value.to_string()),
            "SHA-1" => sha1 = Some(sha1_of(value)?),
            "File-Hash" => {
                if let Some(hex) = value.strip_prefix("SHA-1:") {
                    sha1 = Some(sha1_of(hex)?);
                }
            }
            "URL" if urls.len() < 16 => urls.push(value.to_string()),
            "Z-Map2" => {
                return Err(bad(
                    "it describes a compressed target (Z-Map2), which qmgr does not read",
                ))
            }
            "Strong-Hash-Algorithm" if value != "MD4" => {
                return Err(bad(format!(
                    "its block checksum is {value}; qmgr reads MD4 (zsync 0.6)"
                )))
            }
            _ => {} // Filename, MTime, URL, Z-URL, Safe, Min-Version, ...
        }
    }
    let length = length.ok_or_else(|| bad("it has no Length"))?;
    let blocksize = blocksize.ok_or_else(|| bad("it has no Blocksize"))?;
    if !blocksize.is_power_of_two() || !(MIN_BLOCKSIZE..=MAX_BLOCKSIZE).contains(&blocksize) {
        return Err(bad(format!(
            "its Blocksize {blocksize} is not a power of two from {MIN_BLOCKSIZE} to {MAX_BLOCKSIZE}"
        )));
    }
    // zsync 0.6.2 reads files without Hash-Lengths as 1,4,16.
    let (seq_matches, rsum_bytes, checksum_bytes) = match lengths {
        None => (1, 4, 16),
        Some(v) => {
            let parts: Vec<&str> = v.split(',').map(str::trim).collect();
            let [s, r, c] = parts[..] else {
                return Err(bad(format!("its Hash-Lengths '{v}' is not three numbers")));
            };
            let (s, r, c) = (
                number::<u8>("Hash-Lengths", s)?,
                number::<u8>("Hash-Lengths", r)?,
                number::<u8>("Hash-Lengths", c)?,
            );
            if !(1..=2).contains(&s) || !(1..=4).contains(&r) || !(3..=16).contains(&c) {
                return Err(bad(format!(
                    "its Hash-Lengths '{v}' are out of range (1-2, 1-4, 3-16)"
                )));
            }
            (s, r, c)
        }
    };
    let sha1 = sha1.ok_or_else(|| bad("it has no SHA-1 of the whole file"))?;
    let header = Header {
        length,
        blocksize,
        seq_matches,
        rsum_bytes,
        checksum_bytes,
        sha1,
        urls,
    };
    if header.blocks() > MAX_BLOCKS {
        return Err(bad(format!(
            "its Length {length} in blocks of {blocksize} is {} blocks; at most {MAX_BLOCKS} are read",
            header.blocks()
        )));
    }
    Ok(header)
}

/// How many bytes the control file whose first bytes are `bytes` has in
/// all, once its header is there (`Ok(None)`: not yet).
pub(crate) fn expected_len(bytes: &[u8]) -> Result<Option<u64>, ControlError> {
    let Some(end) = header_end(bytes)? else {
        return Ok(None);
    };
    let header = parse_header(&bytes[..end])?;
    Ok(Some(end as u64 + header.table_len()))
}

/// Parses a whole control file.
pub(crate) fn parse(bytes: &[u8]) -> Result<Control, ControlError> {
    let end = header_end(bytes)?.ok_or_else(|| bad("its header does not end (no empty line)"))?;
    let header = parse_header(&bytes[..end])?;
    let table = &bytes[end..];
    let need = header.table_len();
    if (table.len() as u64) < need {
        return Err(bad(format!(
            "its checksum table is truncated: {} bytes of {need} ({} blocks of {} bytes)",
            table.len(),
            header.blocks(),
            header.rsum_bytes + header.checksum_bytes
        )));
    }
    let blocks = header.blocks() as usize;
    let (r, c) = (
        usize::from(header.rsum_bytes),
        usize::from(header.checksum_bytes),
    );
    let mask = a_mask(header.rsum_bytes);
    let mut rsums = Vec::with_capacity(blocks);
    let mut checksums = Vec::with_capacity(blocks * c);
    for record in table[..blocks * (r + c)].chunks_exact(r + c) {
        // The last `r` bytes of the big-endian (a, b) pair.
        let mut full = [0u8; 4];
        full[4 - r..].copy_from_slice(&record[..r]);
        let a = u16::from_be_bytes([full[0], full[1]]) & mask;
        let b = u16::from_be_bytes([full[2], full[3]]);
        rsums.push((a, b));
        checksums.extend_from_slice(&record[r..]);
    }
    Ok(Control {
        length: header.length,
        blocksize: header.blocksize,
        seq_matches: header.seq_matches,
        rsum_bytes: header.rsum_bytes,
        checksum_bytes: header.checksum_bytes,
        sha1: header.sha1,
        urls: header.urls,
        rsums,
        checksums,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12";

    fn file(header: &str, table: &[u8]) -> Vec<u8> {
        let mut v = header.as_bytes().to_vec();
        v.extend_from_slice(table);
        v
    }

    fn header(length: u64, blocksize: u32, lengths: &str) -> String {
        format!(
            "zsync: 0.6.2\nFilename: f\nBlocksize: {blocksize}\nLength: {length}\nHash-Lengths: {lengths}\nURL: f\nSHA-1: {SHA}\n\n"
        )
    }

    #[test]
    fn a_well_formed_file_reads_back() {
        // Two blocks of 2,2,5: b's two bytes, then five MD4 bytes.
        let table = [0x12, 0x34, 1, 2, 3, 4, 5, 0xab, 0xcd, 6, 7, 8, 9, 10];
        let c = parse(&file(&header(3000, 2048, "2,2,5"), &table)).unwrap();
        assert_eq!((c.length, c.blocksize, c.blocks()), (3000, 2048, 2));
        assert_eq!(c.rsums, vec![(0, 0x1234), (0, 0xabcd)]);
        assert_eq!(c.checksum(1), &[6, 7, 8, 9, 10]);
        assert_eq!(c.sha1_hex(), SHA);
        assert_eq!(c.urls, vec!["f".to_string()]);
        assert_eq!(c.block_range(1), 2048..3000);
        let bytes = file(&header(3000, 2048, "2,2,5"), &table);
        assert_eq!(expected_len(&bytes).unwrap(), Some(bytes.len() as u64));
        assert_eq!(expected_len(&bytes[..20]).unwrap(), None);
    }

    #[test]
    fn three_and_four_rsum_bytes_keep_a() {
        let c = parse(&file(
            &header(10, 64, "1,3,3"),
            &[0xff, 0x12, 0x34, 1, 2, 3],
        ))
        .unwrap();
        assert_eq!(c.rsums, vec![(0xff, 0x1234)]);
        let c = parse(&file(
            &header(10, 64, "1,4,3"),
            &[0xaa, 0xbb, 0x12, 0x34, 1, 2, 3],
        ))
        .unwrap();
        assert_eq!(c.rsums, vec![(0xaabb, 0x1234)]);
    }

    #[test]
    fn hostile_files_are_clear_errors() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"".to_vec(), "does not end"),
            (b"GET / HTTP/1.1\n\n".to_vec(), "zsync:"),
            (file(&header(3000, 2048, "2,2,5"), &[1, 2, 3]), "truncated"),
            (file(&header(1 << 62, 2048, "2,2,5"), &[]), "blocks"),
            (file(&header(u64::MAX, 64, "2,2,5"), &[]), "blocks"),
            (file(&header(10, 1000, "2,2,5"), &[]), "power of two"),
            (file(&header(10, 1 << 30, "2,2,5"), &[]), "power of two"),
            (file(&header(10, 64, "3,2,5"), &[]), "out of range"),
            (file(&header(10, 64, "2,5,5"), &[]), "out of range"),
            (file(&header(10, 64, "2,2,17"), &[]), "out of range"),
            (file(&header(10, 64, "2,2,2"), &[]), "out of range"),
            (file(&header(10, 64, "2,2"), &[]), "three numbers"),
            (file(&header(10, 64, "2,-2,5"), &[]), "not a number"),
            (
                file("zsync: 1\nBlocksize: 64\nLength: 1\nSHA-1: x\n\n", &[]),
                "40 hex",
            ),
            (
                file("zsync: 1\nBlocksize: 64\nLength: 1\n\n", &[]),
                "no SHA-1",
            ),
            (
                file(&format!("zsync: 1\nBlocksize: 64\nSHA-1: {SHA}\n\n"), &[]),
                "no Length",
            ),
            (
                file(&format!("zsync: 1\nLength: 9\nSHA-1: {SHA}\n\n"), &[]),
                "no Blocksize",
            ),
            (file("zsync: 1\nZ-Map2: 9\n\n", &[]), "compressed"),
            (file("zsync: 1\nnonsense\n\n", &[]), "no ':'"),
            (vec![b'a'; MAX_HEADER + 10], "within"),
            (b"zsync: \xff\xfe\n\n".to_vec(), "UTF-8"),
        ];
        for (bytes, why) in cases {
            let err = parse(&bytes).unwrap_err();
            assert!(err.0.contains(why), "{err} (wanted '{why}')");
        }
    }

    #[test]
    fn the_default_hash_lengths_are_zsync_0_4s() {
        let h = format!("zsync: 0.4\nBlocksize: 64\nLength: 64\nSHA-1: {SHA}\n\n");
        let mut table = vec![0, 0, 0, 9];
        table.extend_from_slice(&[7; 16]);
        let c = parse(&file(&h, &table)).unwrap();
        assert_eq!((c.seq_matches, c.rsum_bytes, c.checksum_bytes), (1, 4, 16));
        assert_eq!(c.rsums, vec![(0, 9)]);
    }

    #[test]
    fn an_empty_target_has_no_blocks() {
        let c = parse(&file(&header(0, 2048, "1,4,16"), &[])).unwrap();
        assert_eq!(c.blocks(), 0);
    }
}
