//! The planner: which stretch of which file a worker fetches next.
//!
//! Today a job's files go one after another, each from its first missing
//! byte to its end: sequential transfer, the case of one range growing from
//! zero. Parallel files, segments and caller-given ranges are other answers
//! to the same question, over the same ledgers.

use crate::engine::model::command::Piece;
use crate::engine::model::file::FileModel;

/// The next piece: the first missing stretch of the first file not yet
/// transferred, looking from file `from` on (files before it are complete).
/// A file whose bytes have all arrived but that is not yet complete (its
/// checksum or final sync failed) is fetched again from its end, so the
/// worker re-checks it.
pub(crate) fn next_piece(files: &[FileModel], from: usize) -> Option<Piece> {
    let (file, f) = files
        .iter()
        .enumerate()
        .skip(from)
        .find(|(_, f)| !f.completed())?;
    let span = f
        .ledger()
        .next_missing()
        .unwrap_or(crate::engine::model::ledger::Span {
            start: f.ledger().contiguous_end(),
            end: f.ledger().total(),
        });
    Some(Piece { file, span })
}
