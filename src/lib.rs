//! qmgr: a portable background transfer service in the spirit of Microsoft
//! BITS ("Queue Manager").
//!
//! A program creates a [`Job`] in a [`Manager`], adds files (remote URL →
//! local path) and resumes it; qmgr moves the bytes on its own threads into
//! temporary files beside the destinations, and [`Job::complete`] renames
//! them into place atomically. Progress is readable from any thread without
//! taking a lock.
//!
//! The same engine is offered three ways: this safe Rust API, a C ABI
//! (`include/qmgr.h`, built as `libqmgr.so` / `libqmgr.a`) that is a thin
//! layer over it (`src/ffi/`), and the `qmgr` command-line tool.
//!
//! ```no_run
//! use qmgr::{FileSpec, JobState, Manager};
//! let manager = Manager::open(None)?;
//! let job = manager.create_job("firmware")?;
//! job.add_files(&[FileSpec::new("file:///srv/fw.bin", "/tmp/fw.bin")])?;
//! job.resume()?;
//! if job.wait(None)? == Some(JobState::Transferred) {
//!     job.complete()?;
//! }
//! # Ok::<(), qmgr::Error>(())
//! ```
//!
//! # The public surface
//!
//! The API is what this file re-exports at the crate root ([`Manager`],
//! [`Job`], their values and options, [`Error`], [`HResult`]) and the
//! [`hresult`] module of codes; the engine behind it is private, so its
//! internals (the model, the store, the transport) can change without
//! breaking a caller. Every type that a public item takes or returns must
//! be re-exported here: `unnameable_types` is denied below, so a public
//! signature that names a type a caller could not name fails the build.
//! `tests/it/layering.rs` holds the list of the root's public items; a
//! change to it is a change to the API. The C ABI's functions are exported
//! by the libraries whatever their Rust visibility (`tests/it/symbols.rs`);
//! `ffi` is a hidden module, for the benchmarks, and `fuzzing` and
//! `state_schema` are hidden hooks of qmgr's own tests: none is an API.

#![deny(unnameable_types)]

/// cbindgen:ignore
mod api;
/// cbindgen:ignore
mod engine;
/// The C ABI as Rust functions: what `include/qmgr.h` declares, for
/// qmgr's benchmarks; not an API (C programs use the header, Rust programs
/// the crate root).
#[doc(hidden)]
pub mod ffi;
/// The parsers, for the cargo-fuzz targets of `fuzz/` only: not an API,
/// never in a build without the `fuzzing` feature.
/// cbindgen:ignore
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
/// cbindgen:ignore
pub mod hresult;
/// cbindgen:ignore
#[cfg(feature = "service")]
mod proxy;
/// The service protocol shared by the proxy and `qmgrd` (framing,
/// encodings, the `io.qmgr` interface): for the daemon, not an API.
/// cbindgen:ignore
#[cfg(feature = "service")]
#[doc(hidden)]
pub mod service;
mod sync;
mod sys;
#[cfg(test)]
mod testing;
/// The upload transports alone, for the fault tests of qmgr's own
/// (`tests/it/upload.rs`; upload jobs are tested through the job calls):
/// not an API, never in a build without the `upload` feature.
/// cbindgen:ignore
#[cfg(feature = "upload")]
#[doc(hidden)]
pub mod upload_testing;

/// The state directory's schema, for qmgr's own tests and benchmarks (a
/// directory as an older version wrote it, to test the migrations; a
/// directory filled in bulk): not an API.
/// cbindgen:ignore
#[cfg(feature = "state")]
#[doc(hidden)]
pub mod state_schema {
    pub use crate::engine::store::{create_at_version, SCHEMA_VERSION};
}

pub use api::job::{Job, NotifyCallback};
pub use api::manager::Manager;
pub use engine::error::{Error, Result};
pub use engine::transport::options::ProxySetting;
pub use engine::transport::url::redact as redact_passwords;
pub use engine::types::*;
pub use hresult::HResult;
