//! The core of qmgr: plain safe Rust, no `unsafe` anywhere below here.
//! Private to the crate: the crate root re-exports the API's part of it.
//!
//! Layers, each importing only the ones below it:
//!
//! - [`runtime`]: threads and locks: the manager and scheduler, the job API,
//!   the worker and its copy loop, commit, notifications, throttles;
//! - [`store`]: the state directory (SQLite): model ↔ rows, migrations;
//! - [`model`]: plain data and pure transitions: the job state machine,
//!   the file ledger, the planner, the scheduling rule;
//! - `transport`: I/O that knows nothing of jobs: sources (file, http),
//!   validators, `TransferError` and its classification, the cancel token;
//! - [`types`], [`error`]: the plain values and the error of the API.
#![forbid(unsafe_code)]

pub(crate) mod error;
pub(crate) mod model;
pub(crate) mod runtime;
pub(crate) mod store;
pub(crate) mod transport;
pub(crate) mod types;
