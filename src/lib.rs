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
//! layer over it in [`ffi`], and the `qmgr` command-line tool.
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

/// cbindgen:ignore
pub mod engine;
pub mod ffi;
/// The parsers, for the cargo-fuzz targets of `fuzz/` only: not an API,
/// never in a build without the `fuzzing` feature.
/// cbindgen:ignore
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
/// cbindgen:ignore
pub mod hresult;
mod sys;
#[cfg(test)]
mod testing;

pub use engine::error::{Error, Result};
pub use engine::runtime::job::NotifyCallback;
pub use engine::runtime::manager::Manager;
pub use engine::runtime::shared::Job;
pub use engine::transport::options::ProxySetting;
pub use engine::transport::url::redact as redact_passwords;
pub use engine::types::*;
pub use hresult::HResult;
