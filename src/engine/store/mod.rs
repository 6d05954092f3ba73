//! The state directory: jobs and files in SQLite, so that they survive a
//! restart, a crash or a power loss.
//!
//! Durability rules: every call that changes a job writes its row before it
//! returns (WAL, `synchronous = FULL`); progress is checkpointed by the
//! worker *after* it has fsynced the temporary file, so a recorded durable
//! length never exceeds the bytes on disk. Final jobs are deleted. The
//! schema carries a version (`PRAGMA user_version`) and `MIGRATIONS` brings
//! any older directory up to date.
//!
//! Each table's columns are listed once (`JOB_COLUMNS`, `FILE_COLUMNS`); the
//! SQL that writes and reads rows is built from those lists, and
//! [`rows`] maps the model to rows and back.
//!
//! Locks: the connection's mutex is a leaf, and the runtime never takes it
//! while it holds a job's data lock: rows are snapshotted under that lock
//! and written after it is released.
//!
//! Without the `state` feature there is no SQLite: `Store::open` returns
//! `QM_E_NOTIMPL`, and a manager keeps its jobs in memory only.

pub(crate) mod records;
pub(crate) mod rows;
#[cfg(feature = "state")]
mod sqlite;
#[cfg(not(feature = "state"))]
mod without;

#[cfg(feature = "state")]
pub(crate) use sqlite::Store;
#[cfg(feature = "state")]
pub use sqlite::{create_at_version, SCHEMA_VERSION};
#[cfg(not(feature = "state"))]
pub(crate) use without::Store;

pub(crate) use records::{FileRecord, JobRecord};
