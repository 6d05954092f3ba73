//! A file's ledger: which byte ranges of the source have arrived in the
//! temporary file, which of those are durable (fsynced and recorded), and
//! which are wanted at all.
//!
//! Sequential transfer is the case of one range growing from zero; the
//! ledger does not care in which order ranges arrive, so a segmented or
//! ranged file is the same data with more ranges.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

/// A set of byte offsets as sorted, disjoint, non-adjacent half-open ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RangeSet {
    ranges: Vec<Range<u64>>,
    /// The sum of the ranges' lengths, kept up to date.
    bytes: u64,
}

impl RangeSet {
    /// The empty set.
    pub fn new() -> RangeSet {
        RangeSet::default()
    }

    /// The set holding `range` alone (empty if the range is).
    pub fn of(range: Range<u64>) -> RangeSet {
        let mut set = RangeSet::new();
        set.insert(range);
        set
    }

    /// True when no byte is in the set.
    #[cfg_attr(not(any(test, feature = "delta")), allow(dead_code))]
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// How many bytes the set holds.
    pub fn len(&self) -> u64 {
        self.bytes
    }

    /// The ranges, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Range<u64>> {
        self.ranges.iter()
    }

    /// One past the last byte of the set (0 when empty).
    pub fn end(&self) -> u64 {
        self.ranges.last().map_or(0, |r| r.end)
    }

    /// Adds `range`, merging it with the ranges it touches or overlaps.
    pub fn insert(&mut self, range: Range<u64>) {
        if range.start >= range.end {
            return;
        }
        // The common case, a range growing at its end: O(1).
        if let Some(last) = self.ranges.last_mut() {
            if last.start <= range.start && range.start <= last.end {
                self.bytes += range.end.saturating_sub(last.end);
                last.end = last.end.max(range.end);
                return;
            }
        }
        let first = self.ranges.partition_point(|r| r.end < range.start);
        let mut merged = range;
        let mut last = first;
        while last < self.ranges.len() && self.ranges[last].start <= merged.end {
            let r = &self.ranges[last];
            self.bytes -= r.end - r.start;
            merged.start = merged.start.min(r.start);
            merged.end = merged.end.max(r.end);
            last += 1;
        }
        self.bytes += merged.end - merged.start;
        self.ranges.splice(first..last, std::iter::once(merged));
    }

    /// Removes every byte at or past `offset`.
    pub fn truncate(&mut self, offset: u64) {
        self.ranges.retain(|r| r.start < offset);
        if let Some(last) = self.ranges.last_mut() {
            last.end = last.end.min(offset);
        }
        self.bytes = self.ranges.iter().map(|r| r.end - r.start).sum();
    }

    /// The bytes of `self` that are also in `other`.
    pub fn intersection(&self, other: &RangeSet) -> RangeSet {
        let mut out = RangeSet::new();
        let (mut i, mut j) = (0, 0);
        while i < self.ranges.len() && j < other.ranges.len() {
            let (a, b) = (&self.ranges[i], &other.ranges[j]);
            let start = a.start.max(b.start);
            let end = a.end.min(b.end);
            if start < end {
                out.ranges.push(start..end);
                out.bytes += end - start;
            }
            if a.end <= b.end {
                i += 1;
            } else {
                j += 1;
            }
        }
        out
    }

    /// True when every byte of `range` is in the set.
    pub fn covers(&self, range: Range<u64>) -> bool {
        if range.start >= range.end {
            return true;
        }
        let i = self.ranges.partition_point(|r| r.end <= range.start);
        self.ranges
            .get(i)
            .is_some_and(|r| r.start <= range.start && range.end <= r.end)
    }

    /// The first gap at or after `from`: where it starts and where the next
    /// range begins (`None`: nothing follows).
    pub fn first_gap_from(&self, from: u64) -> (u64, Option<u64>) {
        let mut at = from;
        for r in &self.ranges {
            if r.end <= at {
                continue;
            }
            if r.start > at {
                return (at, Some(r.start));
            }
            at = r.end;
        }
        (at, None)
    }
}

impl fmt::Display for RangeSet {
    /// `start-end` pairs (end exclusive) separated by commas; empty for none.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}-{}", r.start, r.end)?;
        }
        Ok(())
    }
}

impl FromStr for RangeSet {
    type Err = String;

    /// Parses what `Display` writes; ranges may come in any order.
    fn from_str(text: &str) -> Result<RangeSet, String> {
        let mut set = RangeSet::new();
        for part in text.split(',').filter(|p| !p.trim().is_empty()) {
            let bad = || format!("'{part}' is not a byte range (start-end)");
            let (start, end) = part.trim().split_once('-').ok_or_else(bad)?;
            let start: u64 = start.parse().map_err(|_| bad())?;
            let end: u64 = end.parse().map_err(|_| bad())?;
            if end < start {
                return Err(bad());
            }
            set.insert(start..end);
        }
        Ok(set)
    }
}

/// The next stretch of a file to fetch: from `start` to `end` (exclusive),
/// or to the end of the source when `end` is `None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// The first byte to fetch.
    pub start: u64,
    /// One past the last byte, `None` for "to the end of the source".
    pub end: Option<u64>,
}

/// A file's byte ranges: arrived, durable, wanted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ledger {
    /// The source's size, once it has told it.
    total: Option<u64>,
    /// Bytes written to the temporary file.
    arrived: RangeSet,
    /// Bytes known to be on disk: fsynced, then recorded. Always within `arrived`.
    durable: RangeSet,
}

impl Ledger {
    /// An empty ledger of a file of unknown size.
    pub fn new() -> Ledger {
        Ledger::default()
    }

    /// A ledger as the state directory left it: the durable ranges (cut to
    /// the bytes the temporary file still has) are all that has arrived,
    /// since bytes past them may have been lost with the page cache.
    pub fn restored(total: Option<u64>, durable: RangeSet) -> Ledger {
        Ledger {
            total,
            arrived: durable.clone(),
            durable,
        }
    }

    /// The source's size, when known.
    pub fn total(&self) -> Option<u64> {
        self.total
    }

    /// Records the source's size.
    pub fn set_total(&mut self, total: Option<u64>) {
        self.total = total;
    }

    /// The bytes that have arrived.
    pub fn arrived(&self) -> &RangeSet {
        &self.arrived
    }

    /// The bytes that are durable.
    pub fn durable(&self) -> &RangeSet {
        &self.durable
    }

    /// How many bytes have arrived.
    pub fn arrived_bytes(&self) -> u64 {
        self.arrived.len()
    }

    /// Where the bytes that arrived from offset 0 on without a gap end.
    pub fn contiguous_end(&self) -> u64 {
        self.arrived.first_gap_from(0).0
    }

    /// Records that `range` was written to the temporary file.
    pub fn record_arrived(&mut self, range: Range<u64>) {
        self.arrived.insert(range);
    }

    /// Records that `range` is on disk; only bytes that arrived count.
    pub fn record_durable(&mut self, range: Range<u64>) {
        let on_disk = self.arrived.intersection(&RangeSet::of(range));
        for r in on_disk.iter() {
            self.durable.insert(r.clone());
        }
    }

    /// Records that everything that arrived is on disk.
    pub fn record_all_durable(&mut self) {
        self.durable = self.arrived.clone();
    }

    /// Forgets every byte at or past `offset` (the temporary file was cut there).
    pub fn truncate(&mut self, offset: u64) {
        self.arrived.truncate(offset);
        self.durable.truncate(offset);
    }

    /// Forgets every byte: the file starts again (another version, a failed
    /// checksum, a lost temporary file). The size is forgotten too.
    pub fn clear(&mut self) {
        *self = Ledger::new();
    }

    /// True when every byte of the source has arrived (its size is known).
    pub fn is_complete(&self) -> bool {
        self.total.is_some_and(|t| self.arrived.covers(0..t))
    }

    /// The next stretch to fetch: the first one missing, `None` when the
    /// whole file is there.
    pub fn next_missing(&self) -> Option<Span> {
        let (start, next) = self.arrived.first_gap_from(0);
        match self.total {
            Some(total) if start >= total => None,
            Some(total) => Some(Span {
                start,
                end: Some(next.unwrap_or(total).min(total)),
            }),
            None => Some(Span { start, end: next }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str) -> RangeSet {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_merge_when_they_touch_or_overlap() {
        let mut s = RangeSet::new();
        s.insert(10..20);
        s.insert(30..40);
        assert_eq!(s.to_string(), "10-20,30-40");
        s.insert(20..25);
        assert_eq!(s.to_string(), "10-25,30-40");
        s.insert(0..5);
        assert_eq!(s.to_string(), "0-5,10-25,30-40");
        s.insert(4..31);
        assert_eq!(s.to_string(), "0-40");
        s.insert(7..7);
        assert_eq!(s.len(), 40);
        s.insert(50..60);
        s.insert(45..55);
        assert_eq!(s.to_string(), "0-40,45-60");
    }

    #[test]
    fn truncate_intersect_cover_and_gaps() {
        let mut s = set("0-10,20-30,40-50");
        assert!(s.covers(22..30));
        assert!(!s.covers(5..25));
        assert_eq!(s.first_gap_from(0), (10, Some(20)));
        assert_eq!(s.first_gap_from(25), (30, Some(40)));
        assert_eq!(s.first_gap_from(45), (50, None));
        assert_eq!(
            s.intersection(&set("5-25,45-100")).to_string(),
            "5-10,20-25,45-50"
        );
        s.truncate(25);
        assert_eq!(s.to_string(), "0-10,20-25");
        s.truncate(0);
        assert!(s.is_empty());
    }

    #[test]
    fn text_round_trips_and_refuses_garbage() {
        let s = set("40-50,0-10");
        assert_eq!(s.to_string().parse::<RangeSet>().unwrap(), s);
        assert_eq!(set("").len(), 0);
        for bad in ["x", "5-", "-5", "9-3", "1-2-3"] {
            assert!(bad.parse::<RangeSet>().is_err(), "{bad}");
        }
    }

    #[test]
    fn sequential_transfer_is_one_growing_range() {
        let mut l = Ledger::new();
        assert_eq!(
            l.next_missing(),
            Some(Span {
                start: 0,
                end: None
            })
        );
        l.set_total(Some(100));
        for at in (0..100).step_by(10) {
            l.record_arrived(at..at + 10);
        }
        assert_eq!(l.arrived().iter().count(), 1);
        assert!(l.is_complete());
        assert_eq!(l.next_missing(), None);
        assert_eq!(l.durable().len(), 0);
        l.record_durable(0..60);
        assert_eq!(l.durable().to_string(), "0-60");
    }

    #[test]
    fn durable_bytes_are_bytes_that_arrived() {
        let mut l = Ledger::new();
        l.record_arrived(0..50);
        l.record_durable(0..80);
        assert_eq!(l.durable().to_string(), "0-50");
        l.truncate(30);
        assert_eq!(
            (l.arrived().to_string(), l.durable().to_string()),
            ("0-30".into(), "0-30".into())
        );
    }

    #[test]
    fn the_next_missing_span_is_the_first_gap() {
        let mut l = Ledger::restored(Some(100), set("0-20,50-60"));
        assert_eq!(
            l.next_missing(),
            Some(Span {
                start: 20,
                end: Some(50)
            })
        );
        l.record_arrived(20..50);
        assert_eq!(
            l.next_missing(),
            Some(Span {
                start: 60,
                end: Some(100)
            })
        );
        l.record_arrived(60..100);
        assert_eq!(l.next_missing(), None);
        l.clear();
        assert_eq!(
            l.next_missing(),
            Some(Span {
                start: 0,
                end: None
            })
        );
        assert_eq!(l.total(), None);
    }
}
