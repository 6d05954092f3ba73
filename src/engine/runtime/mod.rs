//! The runtime: threads and locks. It owns every lock, runs the threads,
//! and carries out the model's effects.
//!
//! - `manager`: the manager (the API's `Manager` wraps it: `crate::api`),
//!   the scheduler thread;
//! - `job`: the job's calls (the API's `Job` wraps it): reads the model,
//!   sends it commands;
//! - `shared`: the state the threads share (a manager's, each job's);
//! - `worker`: the thread that runs a job's pieces over one connection pool;
//! - `upload` (feature `upload`): the run of an upload job;
//! - `copy`: the one copy loop (read, throttle, write at offset, account,
//!   checkpoint);
//! - `commit`: fsync and rename at `complete`, deleting temporary files;
//! - `partial`: temporary files; `throttle`: bandwidth limits;
//! - `rights`: whose rights a job's file work runs with (its owner's);
//! - `notify`: callbacks keyed by job id, on their own thread;
//! - `notify_cmd`: the notify command line, run when no callback is registered.
//!
//! # Locks
//!
//! Every lock of the engine, in the one order in which they may nest
//! (a lock may be taken while holding only locks above it):
//!
//! 1. a job's `op_lock` (serialises the calls that change one job; held
//!    across `complete`'s fsyncs and while waiting for a worker to stop);
//! 2. a job's `data` (its model; held for one command or read, never across
//!    I/O, a callback, a socket shutdown or an fsync);
//! 3. the manager's job list.
//!
//! One leaf may be taken under `data`: a job's progress writer lock
//! (`Live::writer`, which also holds the rate window: every publication of
//! the model's numbers, `count_rate`, `reset_rate`); nothing is taken under
//! it. Readers of the progress take no lock (a seqlock).
//!
//! Leaves, each taken with none of 2–3 held and nothing taken under it:
//! a job's `written` then the store's connection (SQLite commits), the
//! cancel token's hooks (moved out, run unlocked), the dispatcher's
//! registry and sender, each job's notify gate (held by the delivery
//! thread around a callback of that job; `retire` takes the retired job's
//! only, with no qmgr lock held, so a callback of one job that waits for
//! the caller never blocks a change to another job's callback), the
//! throttles' buckets, the scheduler's wake flag, the live-worker count,
//! and the C layer's handle table (never held while calling in).

pub(crate) mod commit;
pub(crate) mod copy;
#[cfg(feature = "delta")]
pub(crate) mod delta;
#[cfg(feature = "delta")]
pub(crate) mod flush;
pub mod job;
pub mod manager;
pub(crate) mod notify;
pub(crate) mod notify_cmd;
pub(crate) mod partial;
pub(crate) mod rights;
pub mod shared;
pub(crate) mod throttle;
#[cfg(feature = "upload")]
pub(crate) mod upload;
pub(crate) mod worker;
pub(crate) mod yielder;
