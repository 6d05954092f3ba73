//! The proxy (DESIGN §8): a manager connected to `qmgrd`, whose every call
//! the daemon carries out over its Unix socket (Varlink, interface
//! `io.qmgr`), with the codes and messages of the in-process call. The
//! API's `Manager` and `Job` wrap [`RemoteManager`] and [`RemoteJob`] as
//! their second backend (see `crate::api`).
//!
//! # Calls
//!
//! A call borrows an idle connection of the manager (or opens one), sends
//! the call and reads the reply, then gives the connection back: threads
//! call at once on connections of their own. The daemon's `Failed` error
//! is the in-process call's error, code and message as they were. A call
//! that finds no daemon, or loses it before the reply, fails with
//! `QM_E_SERVICE_UNAVAILABLE` (`client`), never hangs: a reply must begin
//! within [`client::CALL_TIMEOUT`] (ten minutes for complete and cancel,
//! whose fsyncs may be long), and a dead daemon's socket ends every read
//! at once. The next call connects again: jobs are named by their ids,
//! which the daemon keeps across its restarts, so a job's handle stays
//! good.
//!
//! # Getters: a snapshot of each job
//!
//! A job's getters (state, progress, status, error, times, properties)
//! read a snapshot of the daemon's `Job` record, which the proxy keeps per
//! job id and shares between the job's handles. A snapshot younger than
//! the job's minimum notification interval (at least 250 ms, the pace at
//! which the engine measures progress) is read without leaving the process
//! (a lock and a copy); an older one is first refreshed with one `GetJob`
//! round trip. The daemon's events (the Watch stream, below) refresh it
//! too, so while it sends a job's progress events (`QM_NOTIFY_JOB_MODIFICATION`
//! in its notify flags) polling that job never leaves the process. A call
//! of this process that changes the job marks its snapshot stale: the
//! next getter refreshes it, so a caller always sees its own changes. The
//! getters of a file (names, progress, headers, ranges) read a copy of all
//! the job's files kept the same way (one `GetFiles` refreshes it). With
//! the daemon gone, getters return the last snapshot.
//!
//! # Events and callbacks
//!
//! A callback is registered in this process, on the manager's own
//! dispatcher (the engine's `Dispatcher`: one delivery thread, a job's
//! events in order, a job's gate for `set_notify`'s and `close`'s
//! guarantees). The first one starts the manager's Watch: a connection
//! whose `Watch` call (with `more`) streams every event of the caller's
//! jobs; a thread of the proxy refreshes the event's job snapshot and
//! posts the event to the dispatcher. `set_notify` returns once the stream
//! is in place, so no later event is missed. If the stream breaks (the
//! daemon restarted), the thread connects again and every snapshot is
//! refreshed at its next read; events of the gap are lost. The daemon
//! also learns which jobs have a callback here (`TakeEvents`, see
//! `watch`), so that it holds their notify programs.

pub(crate) mod client;
pub(crate) mod job;
pub(crate) mod manager;
pub(crate) mod shared;
mod watch;
pub(crate) mod wire;

pub(crate) use job::RemoteJob;
pub(crate) use manager::RemoteManager;
