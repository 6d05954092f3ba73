//! The planner: which stretch of which file a connection fetches next.
//!
//! A job's connections take its files in order, one file each, each file
//! from its first missing byte to its end (sequential transfer within a
//! file: one range growing from zero), with no more connections to one
//! server than the per-server cap. Segments of one file and caller-given
//! ranges are other answers to the same question, over the same ledgers.

use crate::engine::model::command::Piece;
use crate::engine::model::file::FileModel;

/// The next piece: the first missing stretch of the first file not yet
/// transferred and not being transferred by another connection (`active`),
/// whose server has fewer than `per_server` active pieces, looking from
/// file `from` on (files before it are complete). A file whose bytes have
/// all arrived but that is not yet complete (its checksum or final sync
/// failed) is fetched again from its end, so the worker re-checks it.
pub(crate) fn next_piece(
    files: &[FileModel],
    from: usize,
    active: &[Piece],
    per_server: usize,
) -> Option<Piece> {
    let busy = |server: &str| {
        active
            .iter()
            .filter(|p| files[p.file].source().server() == server)
            .count()
    };
    let (file, f) = files
        .iter()
        .enumerate()
        .skip(from)
        .filter(|(i, f)| !f.completed() && !active.iter().any(|p| p.file == *i))
        .find(|(_, f)| active.is_empty() || busy(&f.source().server()) < per_server)?;
    let span = f
        .ledger()
        .next_missing()
        .unwrap_or(crate::engine::model::ledger::Span {
            start: f.ledger().contiguous_end(),
            end: f.ledger().total(),
        });
    Some(Piece { file, span })
}
