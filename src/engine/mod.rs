//! The core of qmgr: plain safe Rust, no `unsafe` anywhere below here.
//!
//! - [`manager`]: the set of jobs, the scheduler thread and shutdown;
//! - [`job`]: a job's files, properties and BITS state machine;
//! - `worker`: the thread that moves one job's bytes;
//! - `transport`: where bytes come from (local files; HTTP to come);
//! - `partial`: temporary files and their atomic commit;
//! - `throttle`, `notify`, `options`: bandwidth limits, callbacks, HTTP options.
#![forbid(unsafe_code)]

pub mod error;
pub mod job;
pub mod manager;
pub(crate) mod notify;
pub mod options;
mod partial;
pub mod store;
mod throttle;
pub(crate) mod transport;
pub mod types;
mod worker;

pub use notify::NotifyCallback;
