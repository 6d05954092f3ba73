//! A ranged file's layout (`IBackgroundCopyJob3::AddFileWithRanges`): the
//! byte ranges of the remote file the caller wants, in the caller's order,
//! written one after another to the local file.
//!
//! The ledger of a ranged file counts in local offsets (0 to the sum of the
//! ranges' lengths); this module maps a local offset to the remote bytes
//! behind it. At most one range runs to the end of the remote file (two
//! would overlap), so once the local size is known every length is.

use std::fmt;
use std::str::FromStr;

use crate::engine::error::Error;
use crate::engine::model::ledger::Span;
use crate::engine::types::{FileRange, LENGTH_TO_EOF};
use crate::hresult::*;

/// BITS's default `MaxRangesPerFile`: the most ranges one file may have.
pub(crate) const MAX_RANGES_PER_FILE: usize = 500;

/// A file's ranges, checked: at least one, none empty, none starting at
/// `LENGTH_TO_EOF`, none overlapping another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FileRanges {
    ranges: Vec<FileRange>,
}

/// Where a local offset of a ranged file lies in the remote file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Located {
    /// The remote offset of the local byte.
    pub remote_start: u64,
    /// One past the remote range's last byte; `None`: to the end of the file.
    pub remote_end: Option<u64>,
    /// One past the range's last byte in the local file; `None` until the
    /// local size is known (a range to the end of the file).
    pub local_end: Option<u64>,
}

impl FileRanges {
    /// Checks `ranges` as `AddFileWithRanges` does: `QM_E_INVALIDARG` for
    /// none, `QM_BG_E_TOO_MANY_RANGES_IN_FILE` past `MAX_RANGES_PER_FILE`,
    /// `QM_BG_E_INVALID_RANGE` for an offset of `LENGTH_TO_EOF`, a length of
    /// 0 or a range past 2^64, `QM_BG_E_OVERLAPPING_RANGES` for duplicates
    /// or overlaps (ranges compared by offset).
    pub(crate) fn new(ranges: &[FileRange]) -> Result<FileRanges, Error> {
        if ranges.is_empty() {
            return Err(Error::invalid_arg("no ranges given"));
        }
        if ranges.len() > MAX_RANGES_PER_FILE {
            return Err(Error::new(
                QM_BG_E_TOO_MANY_RANGES_IN_FILE,
                format!(
                    "{} ranges; a file may have at most {MAX_RANGES_PER_FILE}",
                    ranges.len()
                ),
            ));
        }
        for (i, r) in ranges.iter().enumerate() {
            let why = if r.offset == LENGTH_TO_EOF {
                "its offset is QM_LENGTH_TO_EOF"
            } else if r.length == 0 {
                "its length is 0"
            } else if r.length != LENGTH_TO_EOF && r.offset.checked_add(r.length).is_none() {
                "it ends past 2^64"
            } else {
                continue;
            };
            return Err(Error::new(
                QM_BG_E_INVALID_RANGE,
                format!("range {i} ({r}) is not valid: {why}"),
            ));
        }
        let mut sorted: Vec<&FileRange> = ranges.iter().collect();
        sorted.sort_unstable_by_key(|r| r.offset);
        if let Some(pair) = sorted
            .windows(2)
            .find(|w| w[0].length == LENGTH_TO_EOF || w[0].offset + w[0].length > w[1].offset)
        {
            return Err(Error::new(
                QM_BG_E_OVERLAPPING_RANGES,
                format!("the ranges {} and {} overlap", pair[0], pair[1]),
            ));
        }
        Ok(FileRanges {
            ranges: ranges.to_vec(),
        })
    }

    /// The ranges in the caller's order.
    pub(crate) fn list(&self) -> &[FileRange] {
        &self.ranges
    }

    /// The local file's size for a remote file of `remote_total` bytes, or
    /// why a range does not fit in it (`QM_BG_E_INVALID_RANGE`).
    pub(crate) fn local_total(&self, remote_total: u64) -> Result<u64, String> {
        let mut sum = 0u64;
        for (i, r) in self.ranges.iter().enumerate() {
            let fits = r.offset < remote_total
                && (r.length == LENGTH_TO_EOF || r.offset + r.length <= remote_total);
            if !fits {
                return Err(format!(
                    "range {i} ({r}) lies outside the remote file of {remote_total} bytes"
                ));
            }
            sum += if r.length == LENGTH_TO_EOF {
                remote_total - r.offset
            } else {
                r.length
            };
        }
        Ok(sum)
    }

    /// Where local byte `local` is in the remote file, given the local size
    /// when known; `None` past the last range.
    pub(crate) fn locate(&self, local: u64, local_total: Option<u64>) -> Option<Located> {
        let fixed: u64 = self
            .ranges
            .iter()
            .filter(|r| r.length != LENGTH_TO_EOF)
            .map(|r| r.length)
            .sum();
        let mut at = 0u64;
        for r in &self.ranges {
            let length = match r.length {
                LENGTH_TO_EOF => local_total.map(|t| t.saturating_sub(fixed)),
                n => Some(n),
            };
            let Some(length) = length else {
                // The range to the end, of a size not known yet: everything
                // from here on is in it until the size is learned.
                return Some(Located {
                    remote_start: r.offset + (local - at),
                    remote_end: None,
                    local_end: None,
                });
            };
            if local < at + length {
                return Some(Located {
                    remote_start: r.offset + (local - at),
                    // Evaluated only for a fixed length: offset + LENGTH_TO_EOF overflows.
                    remote_end: (r.length != LENGTH_TO_EOF).then(|| r.offset + r.length),
                    local_end: Some(at + length),
                });
            }
            at += length;
        }
        None
    }

    /// `span` cut at the end of the range its first byte is in, so that one
    /// request never crosses from one range into the next.
    pub(crate) fn within_range(&self, span: Span, local_total: Option<u64>) -> Span {
        let Some(end) = self
            .locate(span.start, local_total)
            .and_then(|l| l.local_end)
        else {
            return span;
        };
        Span {
            start: span.start,
            end: Some(span.end.map_or(end, |e| e.min(end))),
        }
    }
}

impl fmt::Display for FileRange {
    /// `OFFSET:LENGTH`, with `eof` for `LENGTH_TO_EOF` (bitsadmin's form).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.length {
            LENGTH_TO_EOF => write!(f, "{}:eof", self.offset),
            n => write!(f, "{}:{n}", self.offset),
        }
    }
}

impl FromStr for FileRange {
    type Err = String;

    /// Parses `OFFSET:LENGTH` (`LENGTH` may be `eof`), as bitsadmin's
    /// `/AddFileWithRanges` takes them. Nothing is checked beyond the form.
    fn from_str(text: &str) -> Result<FileRange, String> {
        let bad = || format!("'{text}' is not a range (OFFSET:LENGTH, LENGTH a number or eof)");
        let (offset, length) = text.trim().split_once(':').ok_or_else(bad)?;
        let offset = offset.trim().parse().map_err(|_| bad())?;
        let length = match length.trim() {
            l if l.eq_ignore_ascii_case("eof") => LENGTH_TO_EOF,
            l => l.parse().map_err(|_| bad())?,
        };
        Ok(FileRange { offset, length })
    }
}

impl fmt::Display for FileRanges {
    /// The ranges as `OFFSET:LENGTH` separated by commas (the stored form).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl FromStr for FileRanges {
    type Err = String;

    /// Parses what `Display` writes and checks it as `new` does.
    fn from_str(text: &str) -> Result<FileRanges, String> {
        let list = text
            .split(',')
            .map(str::parse)
            .collect::<Result<Vec<FileRange>, String>>()?;
        FileRanges::new(&list).map_err(|e| e.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(offset: u64, length: u64) -> FileRange {
        FileRange { offset, length }
    }

    fn code(list: &[FileRange]) -> qm_hresult {
        FileRanges::new(list).unwrap_err().code.0
    }

    #[test]
    fn bad_lists_get_bits_codes() {
        assert_eq!(code(&[]), QM_E_INVALIDARG);
        assert_eq!(code(&[r(LENGTH_TO_EOF, 5)]), QM_BG_E_INVALID_RANGE);
        assert_eq!(code(&[r(10, 0)]), QM_BG_E_INVALID_RANGE);
        assert_eq!(code(&[r(u64::MAX - 3, 10)]), QM_BG_E_INVALID_RANGE);
        assert_eq!(code(&[r(100, 10), r(100, 10)]), QM_BG_E_OVERLAPPING_RANGES);
        assert_eq!(code(&[r(100, 10), r(50, 51)]), QM_BG_E_OVERLAPPING_RANGES);
        assert_eq!(
            code(&[r(500, LENGTH_TO_EOF), r(900, 1)]),
            QM_BG_E_OVERLAPPING_RANGES
        );
        let many: Vec<FileRange> = (0..501).map(|i| r(i * 10, 5)).collect();
        assert_eq!(code(&many), QM_BG_E_TOO_MANY_RANGES_IN_FILE);
        assert!(FileRanges::new(&many[..500]).is_ok());
        // Touching ranges do not overlap.
        assert!(FileRanges::new(&[r(100, 10), r(90, 10), r(110, LENGTH_TO_EOF)]).is_ok());
    }

    #[test]
    fn the_bits_example_maps_local_offsets_to_remote_ones() {
        // Remote 100-199, 900-999, 400-499 give a 300-byte local file.
        let f = FileRanges::new(&[r(100, 100), r(900, 100), r(400, 100)]).unwrap();
        assert_eq!(f.local_total(1000), Ok(300));
        assert!(f.local_total(999).is_err());
        let at = |local| f.locate(local, Some(300)).unwrap();
        assert_eq!(
            at(0),
            Located {
                remote_start: 100,
                remote_end: Some(200),
                local_end: Some(100)
            }
        );
        assert_eq!(at(150).remote_start, 950);
        assert_eq!(at(150).local_end, Some(200));
        assert_eq!(at(299).remote_start, 499);
        assert_eq!(f.locate(300, Some(300)), None);
        let span = f.within_range(
            Span {
                start: 50,
                end: None,
            },
            Some(300),
        );
        assert_eq!(
            span,
            Span {
                start: 50,
                end: Some(100)
            }
        );
    }

    #[test]
    fn a_range_to_the_end_is_sized_by_the_remote_file() {
        let f = FileRanges::new(&[r(24, 17), r(111, LENGTH_TO_EOF), r(83, 7)]).unwrap();
        assert_eq!(f.local_total(200), Ok(17 + 89 + 7));
        assert!(f.local_total(111).is_err());
        // Before the size is known, bytes past the first range are in the open one.
        let open = f.locate(20, None).unwrap();
        assert_eq!(
            (open.remote_start, open.remote_end, open.local_end),
            (114, None, None)
        );
        let known = f.locate(20, Some(113)).unwrap();
        assert_eq!(known.local_end, Some(106));
        assert_eq!(f.locate(106, Some(113)).unwrap().remote_start, 83);
    }

    #[test]
    fn the_text_form_round_trips() {
        let f = FileRanges::new(&[r(24, 17), r(111, LENGTH_TO_EOF)]).unwrap();
        assert_eq!(f.to_string(), "24:17,111:eof");
        assert_eq!(f.to_string().parse::<FileRanges>().unwrap(), f);
        assert!("1:2:3".parse::<FileRanges>().is_err());
        assert!("5:0".parse::<FileRanges>().is_err());
        assert!("".parse::<FileRanges>().is_err());
        assert_eq!("7:EOF".parse::<FileRange>().unwrap(), r(7, LENGTH_TO_EOF));
    }
}
