//! The model: plain data and pure transitions, no threads, no locks, no I/O.
//!
//! - [`job`]: a job's data and every BITS state change (`apply(command) -> effects`);
//! - `file`: one file of a job;
//! - [`ledger`]: a file's byte ranges, arrived, durable and wanted;
//! - [`planner`]: which stretch of which file to fetch next;
//! - `ranges`: a ranged file's layout, local offsets to remote ones;
//! - [`schedule`]: which queued jobs get a transfer slot, whom to preempt,
//!   whose retry or deadline is due and when to look again;
//! - [`command`]: the commands the runtime sends and the effects it carries out;
//! - `yielding`: the delay-based rate controller of background transfers
//!   (issue 23; not wired in yet).
//!
//! The model imports only `transport` (for what a source and a failure
//! are), `types`, `error` and `hresult`; the runtime and the store import it.

pub(crate) mod command;
pub(crate) mod file;
pub mod job;
pub mod ledger;
pub(crate) mod planner;
pub(crate) mod ranges;
pub(crate) mod schedule;
pub(crate) mod yielding;

#[cfg(test)]
mod lifecycle_tests;
