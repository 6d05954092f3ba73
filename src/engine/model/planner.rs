//! The planner: which stretch of which file a connection fetches next.
//!
//! In order of preference, an idle connection
//! 1. takes a file nobody is fetching yet (files in order, from the first
//!    missing byte), so that a job of many files runs them in parallel;
//! 2. takes a stretch of a segmented file that no connection covers (a
//!    file restored with holes);
//! 3. steals work: it splits the piece with the most bytes left, of a file
//!    that can be segmented, and takes the second half, so that one slow
//!    connection does not hold a file's end (aria2's rule);
//! 4. waits, while a file being opened may turn out to be segmentable, or a
//!    restarted file waits for its old writers to stop;
//! 5. or is done.
//!
//! No more connections go to one server than the per-server cap. A file can
//! be segmented when its server answers ranges, it has a validator to send
//! in `If-Range`, and its size is known (`FileModel::splittable`); no piece
//! shorter than `MIN_SEGMENT` is ever made by a split. A piece of a ranged
//! file never crosses from one of its ranges into the next (each is its
//! own request); a delta file's pieces are never split, its long gaps are
//! taken in pieces of at most `file::DELTA_PIECE` missing bytes, and its
//! short gaps several to a piece (up to `DELTA_AHEAD`, a fair share of
//! those left), which its connection asks for one request behind the
//! other. A delta file's gaps need not wait for the file's first answer.

use crate::engine::model::command::Piece;
use crate::engine::model::file::FileModel;
use crate::engine::model::ledger::{RangeSet, Span};

/// The shortest piece a split makes. It must be at least the copy loop's
/// chunk (1 MiB), so that a chunk in flight never crosses a split point.
/// Each new piece costs a request (one round trip, often a connection too),
/// so it must also be long enough for that to pay: 1 MiB is 0.25 s of a
/// 4 MiB/s connection against a 50 ms round trip. In the WAN benchmark
/// (32 MiB, 4 MiB/s per connection, 50 ms round trip) it lets 8
/// connections all work to the end: qmgr 1.13 s, `aria2c -x8 -s8` 1.2 s.
/// Files shorter than twice this are never segmented.
pub(crate) const MIN_SEGMENT: u64 = 1 << 20;

/// The planner's answer to an idle connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Fetch this stretch of this file as a new piece.
    Fetch { file: usize, span: Span },
    /// Cut `active[victim]` at `at` and fetch from there to its old end.
    Split { victim: usize, at: u64 },
    /// Nothing now; ask again soon.
    Wait,
    /// Nothing left for this connection.
    Done,
}

/// The next piece for an idle connection, looking from file `from` on
/// (files before it are complete). `active` are the pieces being fetched;
/// `draining` those taken away whose connections have not stopped yet
/// (their files are not planned until they have). A file whose bytes have
/// all arrived but that is not yet complete (its checksum or final sync
/// failed) gets an empty piece at its end, so that a connection verifies it.
pub(crate) fn plan(
    files: &[FileModel],
    from: usize,
    active: &[Piece],
    draining: &[Piece],
    per_server: usize,
) -> Plan {
    let busy = |server: &str| {
        active
            .iter()
            .filter(|p| files[p.file].source().server() == server)
            .count()
    };
    let may_connect = |f: &FileModel| active.is_empty() || busy(&f.source().server()) < per_server;
    let pieces_of = |i: usize| active.iter().filter(move |p| p.file == i);
    let mut waiting = !draining.is_empty();
    for (i, f) in files.iter().enumerate().skip(from) {
        if f.completed() || draining.iter().any(|p| p.file == i) {
            continue;
        }
        if pieces_of(i).next().is_none() {
            if may_connect(f) {
                let ledger = f.ledger();
                let span = ledger.next_missing().unwrap_or(Span {
                    start: ledger.contiguous_end(),
                    end: ledger.total(),
                });
                return Plan::Fetch {
                    file: i,
                    span: delta_span(f, i, f.within_range(span), active, per_server),
                };
            }
            continue;
        }
        match f.splittable() {
            // A delta file's gaps are exact ranges of a file whose length
            // the control file gave: they need not wait for the first
            // answer (each answer is checked against that length and the
            // first version seen, and every block against its MD4).
            None if f.delta_active() => {
                if may_connect(f) {
                    if let Some(span) = unclaimed(f, pieces_of(i)) {
                        return Plan::Fetch {
                            file: i,
                            span: delta_span(f, i, f.within_range(span), active, per_server),
                        };
                    }
                }
                // It may yet become a full download.
                waiting = true;
            }
            // Being opened: its answer may make it splittable.
            None => waiting = true,
            Some(true) if may_connect(f) => {
                if let Some(span) = unclaimed(f, pieces_of(i)) {
                    return Plan::Fetch {
                        file: i,
                        span: delta_span(f, i, f.within_range(span), active, per_server),
                    };
                }
            }
            Some(_) => {}
        }
    }
    let victim = active
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            let f = &files[p.file];
            f.splittable() == Some(true) && !f.delta_active() && may_connect(f)
        })
        .filter_map(|(i, p)| Some((i, p.span.end? - p.span.start.min(p.span.end?), p)))
        .filter(|&(_, left, _)| left >= 2 * MIN_SEGMENT)
        .max_by_key(|&(i, left, _)| (left, std::cmp::Reverse(i)));
    if let Some((victim, left, piece)) = victim {
        return Plan::Split {
            victim,
            at: piece.span.start + left / 2,
        };
    }
    if waiting {
        Plan::Wait
    } else {
        Plan::Done
    }
}

/// The most gaps of a delta file one piece covers: its connection sends
/// their requests one behind the other (HTTP/1.1 pipelining, when the
/// server proved the connection kept alive), so that many small gaps do
/// not cost a round trip each.
pub(crate) const DELTA_AHEAD: usize = 32;

/// `span` (a delta file's first gap to fetch, already cut to
/// `DELTA_PIECE`) stretched over the gaps that follow it, so that the
/// file's gaps left are shared about evenly by the connections the server
/// may take besides those fetching the file's other pieces:
/// at most `DELTA_AHEAD` gaps and `DELTA_PIECE` missing bytes, each gap
/// whole, none that another active piece covers (the stretch ends before
/// the first such gap). The bytes between the gaps have arrived (from the
/// seeds): the piece fetches only its gaps, each as its own range.
fn delta_span(f: &FileModel, file: usize, span: Span, active: &[Piece], per_server: usize) -> Span {
    let (Some(first_end), Some(total)) = (span.end, f.ledger().total()) else {
        return span;
    };
    if !f.delta_active() {
        return span;
    }
    let arrived = f.ledger().arrived();
    let others: Vec<Span> = active
        .iter()
        .filter(|p| p.file == file)
        .map(|p| p.span)
        .collect();
    let taken = |start: u64, end: u64| {
        others
            .iter()
            .any(|o| o.start < end && start < o.end.unwrap_or(total))
    };
    // The gaps after the first one, up to the first another piece covers.
    let mut gaps = Vec::new();
    let mut at = first_end;
    loop {
        let (start, next) = arrived.first_gap_from(at);
        let end = next.unwrap_or(total).min(total);
        if start >= total || taken(start, end) {
            break;
        }
        gaps.push((start, end));
        at = end;
    }
    // Shared by the connections the server may still take: those not
    // busy with another piece of the file (they come back for more).
    let idle = per_server.saturating_sub(others.len()).max(1);
    let share = (gaps.len() + 1).div_ceil(idle);
    let mut missing = first_end - span.start;
    let mut end = first_end;
    for &(start, gap_end) in gaps.iter().take(share.min(DELTA_AHEAD) - 1) {
        if missing + (gap_end - start) > super::file::DELTA_PIECE {
            break;
        }
        missing += gap_end - start;
        end = gap_end;
    }
    Span {
        start: span.start,
        end: Some(end),
    }
}

/// The first stretch of a file that has not arrived and that no active
/// piece covers, if any (its size is known: the file is splittable).
fn unclaimed<'a>(f: &FileModel, pieces: impl Iterator<Item = &'a Piece>) -> Option<Span> {
    let total = f.ledger().total()?;
    let mut claimed: RangeSet = f.ledger().arrived().clone();
    for p in pieces {
        claimed.insert(p.span.start..p.span.end.unwrap_or(total));
    }
    let (start, next) = claimed.first_gap_from(0);
    (start < total).then(|| Span {
        start,
        end: Some(next.unwrap_or(total).min(total)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::model::command::NewFile;
    use crate::engine::transport::source::Source;

    fn file(url: &str, total: Option<u64>, splittable: Option<bool>) -> FileModel {
        let mut f = FileModel::new(NewFile {
            remote: url.into(),
            source: Source::parse(url).unwrap(),
            local: "/tmp/x".into(),
            size_hint: 0,
            ranges: None,
        });
        f.ledger.set_total(total);
        f.splittable = splittable;
        f
    }

    fn piece(id: u64, file: usize, start: u64, end: Option<u64>) -> Piece {
        Piece {
            id,
            file,
            span: Span { start, end },
        }
    }

    const MIB: u64 = 1 << 20;

    #[test]
    fn idle_connections_take_unstarted_files_first_within_the_server_cap() {
        let files = vec![
            file("http://a/0", None, None),
            file("http://a/1", None, None),
            file("http://b/2", None, None),
        ];
        assert_eq!(
            plan(&files, 0, &[], &[], 1),
            Plan::Fetch {
                file: 0,
                span: Span {
                    start: 0,
                    end: None
                }
            }
        );
        // Server a is at its cap of one: file 2 on server b is next.
        let active = [piece(1, 0, 0, None)];
        assert!(matches!(
            plan(&files, 0, &active, &[], 1),
            Plan::Fetch { file: 2, .. }
        ));
    }

    #[test]
    fn a_file_being_opened_makes_others_wait_then_they_split_it() {
        let mut files = vec![file("http://a/big", None, None)];
        let active = [piece(1, 0, 0, None)];
        assert_eq!(plan(&files, 0, &active, &[], 6), Plan::Wait);
        // The answer: 32 MiB, ranges honoured.
        files[0].ledger.set_total(Some(32 * MIB));
        files[0].splittable = Some(true);
        let active = [piece(1, 0, 0, Some(32 * MIB))];
        assert_eq!(
            plan(&files, 0, &active, &[], 6),
            Plan::Split {
                victim: 0,
                at: 16 * MIB
            }
        );
        // The split takes the piece with the most left.
        files[0].ledger.record_arrived(0..MIB);
        files[0].ledger.record_arrived(16 * MIB..20 * MIB);
        let active = [
            piece(1, 0, MIB, Some(16 * MIB)),
            piece(2, 0, 20 * MIB, Some(32 * MIB)),
        ];
        assert_eq!(
            plan(&files, 0, &active, &[], 6),
            Plan::Split {
                victim: 0,
                at: 8 * MIB + MIB / 2
            }
        );
        // Not past the per-server cap.
        assert_eq!(plan(&files, 0, &active, &[], 2), Plan::Done);
    }

    #[test]
    fn no_split_makes_a_piece_shorter_than_the_minimum() {
        let mut files = vec![file("http://a/f", Some(10 * MIB), Some(true))];
        files[0].ledger.record_arrived(0..8 * MIB);
        let active = [piece(1, 0, 8 * MIB, Some(10 * MIB))];
        assert_eq!(
            plan(&files, 0, &active, &[], 6),
            Plan::Split {
                victim: 0,
                at: 9 * MIB
            }
        );
        files[0].ledger.record_arrived(0..8 * MIB + 1);
        let active = [piece(1, 0, 8 * MIB + 1, Some(10 * MIB))];
        assert_eq!(plan(&files, 0, &active, &[], 6), Plan::Done);
    }

    #[test]
    fn files_without_ranges_get_one_connection() {
        let files = vec![
            file("http://a/f", Some(64 * MIB), Some(false)),
            file("/tmp/local", Some(64 * MIB), Some(false)),
        ];
        let active = [
            piece(1, 0, 0, Some(64 * MIB)),
            piece(2, 1, 0, Some(64 * MIB)),
        ];
        assert_eq!(plan(&files, 0, &active, &[], 6), Plan::Done);
    }

    #[test]
    fn holes_no_piece_covers_are_taken_before_splitting() {
        let mut f = file("http://a/f", Some(40 * MIB), Some(true));
        f.ledger = crate::engine::model::ledger::Ledger::restored(
            Some(40 * MIB),
            format!("0-{},{}-{}", 10 * MIB, 20 * MIB, 30 * MIB)
                .parse()
                .unwrap(),
        );
        let files = vec![f];
        let active = [piece(1, 0, 10 * MIB, Some(20 * MIB))];
        assert_eq!(
            plan(&files, 0, &active, &[], 6),
            Plan::Fetch {
                file: 0,
                span: Span {
                    start: 30 * MIB,
                    end: Some(40 * MIB)
                }
            }
        );
    }

    #[test]
    fn a_restarted_file_waits_for_its_old_writers() {
        let files = vec![file("http://a/f", None, None)];
        let draining = [piece(1, 0, 5 * MIB, Some(8 * MIB))];
        assert_eq!(plan(&files, 0, &[], &draining, 6), Plan::Wait);
        assert!(matches!(
            plan(&files, 0, &[], &[], 6),
            Plan::Fetch { file: 0, .. }
        ));
    }

    #[test]
    fn a_file_with_every_byte_but_not_complete_gets_an_empty_piece() {
        let mut f = file("http://a/f", Some(100), Some(false));
        f.ledger.record_arrived(0..100);
        assert_eq!(
            plan(&[f], 0, &[], &[], 6),
            Plan::Fetch {
                file: 0,
                span: Span {
                    start: 100,
                    end: Some(100)
                }
            }
        );
    }

    /// A delta file of 100 MiB whose bytes came from seeds but for 12
    /// gaps of `gap` bytes, 8 MiB apart.
    #[cfg(feature = "delta")]
    fn delta_file(gap: u64) -> (FileModel, Vec<Span>) {
        use crate::engine::model::file::DeltaFile;
        use crate::engine::types::{DeltaSource, DeltaWay};
        let mut f = file("http://a/img", Some(100 * MIB), None);
        let mut d = DeltaFile::new(DeltaSource {
            seeds: vec!["/seed".into()],
            control_url: None,
        });
        d.way = DeltaWay::Delta;
        f.delta = Some(d);
        let gaps: Vec<Span> = (0..12)
            .map(|i| Span {
                start: i * 8 * MIB + MIB,
                end: Some(i * 8 * MIB + MIB + gap),
            })
            .collect();
        let mut at = 0;
        for g in &gaps {
            f.ledger.record_arrived(at..g.start);
            at = g.end.unwrap();
        }
        f.ledger.record_arrived(at..100 * MIB);
        (f, gaps)
    }

    #[cfg(feature = "delta")]
    #[test]
    fn a_delta_piece_covers_its_share_of_the_gaps_and_no_other_pieces() {
        let (f, gaps) = delta_file(64 << 10);
        let files = vec![f];
        // 12 gaps for 6 connections: two each, the first before any
        // answer came (the file is not known to be splittable yet).
        let mut active = Vec::new();
        for n in 0..6u64 {
            let Plan::Fetch { file: 0, span } = plan(&files, 0, &active, &[], 6) else {
                panic!("connection {n} got no piece");
            };
            let (a, b) = (2 * n as usize, 2 * n as usize + 1);
            assert_eq!(
                span,
                Span {
                    start: gaps[a].start,
                    end: gaps[b].end
                },
                "connection {n}"
            );
            active.push(piece(n, 0, span.start, span.end));
        }
        // Every gap is taken: the others wait (the file may yet become a
        // full download).
        assert_eq!(plan(&files, 0, &active, &[], 7), Plan::Wait);
    }

    #[cfg(feature = "delta")]
    #[test]
    fn a_delta_piece_holds_at_most_delta_piece_missing_bytes() {
        // Gaps of 3 MiB: one per piece, whatever the share.
        let (f, gaps) = delta_file(3 * MIB);
        let files = vec![f];
        let Plan::Fetch { span, .. } = plan(&files, 0, &[], &[], 1) else {
            panic!("no piece");
        };
        assert_eq!(span, gaps[0]);
    }
}
