//! A connected manager's Watch: one thread and one connection whose
//! `io.qmgr.Watch` call (with `more`) streams every event of the caller's
//! jobs. Each event refreshes its job's snapshot and goes to the manager's
//! dispatcher, which runs the callback registered for that job, if any.
//! When the stream breaks (the daemon restarted), the thread connects
//! again, waiting a little longer each time (up to 2 s); the snapshots of
//! the gap are refreshed at their next read, its events are lost.
//!
//! Started by the first `set_notify` with a callback; `stop` (the
//! manager's close) shuts the stream down and joins the thread.
//!
//! The daemon also learns, job by job, which jobs this process runs a
//! callback for (`TakeEvents`, naming the watch): while the watch lives,
//! the daemon does not run those jobs' notify programs (BITS's rule); an
//! observer (`Job::observe`) does not count. After a gap the new watch is
//! told again.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::engine::error::{Error, Result};
use crate::engine::types::JobId;
use crate::hresult::*;
use crate::proxy::client::unavailable;
use crate::proxy::shared::{Remote, WatchState, Watching};
use crate::proxy::wire;
use crate::service::codec;
use crate::service::method;
use crate::service::varlink::{Call, Connection};

/// How long `set_notify` waits for the stream to be in place.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest pause between two attempts to connect again.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Starts the thread if it is not running, and waits until the stream is
/// in place: `Ok`, or the last attempt's error after a failed one (or
/// after [`SETUP_TIMEOUT`]).
pub(crate) fn ensure(remote: &Arc<Remote>) -> Result<()> {
    let watch = &remote.watch;
    let mut state = watch.state.lock();
    if state.stopping {
        return Err(Error::manager_closed());
    }
    if state.live {
        return Ok(());
    }
    if state.thread.is_none() {
        let for_thread = Arc::clone(remote);
        let thread = std::thread::Builder::new()
            .name("qmgr-watch".into())
            .spawn(move || run(&for_thread))
            .map_err(|e| Error::new(QM_E_OUTOFMEMORY, format!("cannot start a thread: {e}")))?;
        state.thread = Some(thread);
    }
    state.failed = None;
    let deadline = Instant::now() + SETUP_TIMEOUT;
    while !state.live && !state.stopping {
        if let Some(error) = state.failed.take() {
            return Err(error);
        }
        if watch.changed.wait_until(&mut state, deadline).timed_out() {
            return Err(unavailable(format!(
                "the qmgr daemon at {} did not start the stream of events within {} s",
                remote.client.address(),
                SETUP_TIMEOUT.as_secs()
            )));
        }
    }
    match state.live {
        true => Ok(()),
        false => Err(Error::manager_closed()),
    }
}

/// Ends the stream and joins the thread (unless called from it).
pub(crate) fn stop(remote: &Remote) {
    let watch = &remote.watch;
    let thread = {
        let mut state = watch.state.lock();
        state.stopping = true;
        if let Some(stream) = &state.stream {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        watch.changed.notify_all();
        state.thread.take()
    };
    if let Some(thread) = thread {
        if thread.thread().id() != std::thread::current().id() {
            let _ = thread.join();
        }
    }
}

/// After a change of job `id`'s callback in this process: tells the daemon
/// whether this process now runs a callback that takes the job's events
/// (so that it skips the job's notify program), if that changed. Best
/// effort: with no live watch, the next one is told; a failed call leaves
/// the notify program running, as with no callback.
#[inline(never)]
pub(crate) fn follow_callback(remote: &Remote, id: JobId) {
    let takes = remote.dispatcher.takes_events(id);
    let mut taking = remote.watch.taking.lock();
    let changed = match takes {
        true => taking.insert(id),
        false => taking.remove(&id),
    };
    if !changed {
        return;
    }
    let number = remote.watch.state.lock().number;
    if let Some(number) = number {
        let _ = take_events(remote, number, id, takes);
    }
}

/// Forgets job `id`'s callback without telling the daemon (the job is
/// final: the daemon forgot it).
pub(crate) fn forget_callback(remote: &Remote, id: JobId) {
    remote.watch.taking.lock().remove(&id);
}

fn take_events(remote: &Remote, number: u64, id: JobId, take: bool) -> Result<()> {
    let parameters = wire::with_id(id, &[("watch", json!(number)), ("take", json!(take))]);
    remote
        .client
        .call(method::TAKE_EVENTS, parameters)
        .map(drop)
}

/// Before the manager closes: tells the daemon that this process runs no
/// callback any more (a watch that ends while it takes events is taken
/// for a program that crashed, and the daemon then runs the notify
/// programs of those jobs that are TRANSFERRED or in ERROR).
pub(crate) fn release_all(remote: &Remote) {
    let mut taking = remote.watch.taking.lock();
    let number = remote.watch.state.lock().number;
    if let Some(number) = number {
        tell_all(remote, &taking, number, false);
    }
    taking.clear();
}

/// Tells watch `number` that this process runs (`take`), or no longer
/// runs, a callback for each of `jobs`. Best effort, as `follow_callback`.
fn tell_all(remote: &Remote, jobs: &HashSet<JobId>, number: u64, take: bool) {
    for &id in jobs {
        let _ = take_events(remote, number, id, take);
    }
}

/// Changes the state under its lock and wakes its waiters; false once
/// the manager is closing.
fn set(watch: &WatchState, change: impl FnOnce(&mut Watching)) -> bool {
    let mut state = watch.state.lock();
    change(&mut state);
    watch.changed.notify_all();
    !state.stopping
}

/// The thread: connect, watch, and again, until the manager closes.
fn run(remote: &Arc<Remote>) {
    let watch = &remote.watch;
    let mut pause = Duration::from_millis(50);
    let mut gap = false;
    loop {
        match open(remote) {
            Ok((mut conn, number)) => {
                let clone = conn.stream().try_clone().ok();
                if !set(watch, |s| {
                    s.live = true;
                    s.stream = clone;
                    s.number = number;
                }) {
                    break;
                }
                // A new watch is told every job this process runs a
                // callback for.
                if let Some(number) = number {
                    tell_all(remote, &remote.watch.taking.lock(), number, true);
                }
                if gap {
                    for core in remote.all_known() {
                        core.invalidate();
                    }
                }
                pause = Duration::from_millis(50);
                stream(remote, &mut conn);
                gap = true;
                if !set(watch, |s| {
                    s.live = false;
                    s.stream = None;
                    s.number = None;
                }) {
                    break;
                }
            }
            Err(error) => {
                if !set(watch, |s| s.failed = Some(error)) {
                    break;
                }
            }
        }
        let mut state = watch.state.lock();
        if !state.stopping {
            watch.changed.wait_for(&mut state, pause);
        }
        if state.stopping {
            break;
        }
        pause = (pause * 2).min(MAX_BACKOFF);
    }
}

/// A connection whose Watch is in place (its first reply read), and the
/// watch's number (none from a daemon older than TakeEvents).
fn open(remote: &Remote) -> Result<(Connection, Option<u64>)> {
    let mut conn = remote.client.open_connection()?;
    let call = Call::new(method::WATCH, wire::object(&[])).with_more();
    let mut bytes = serde_json::to_vec(&call.to_json())
        .map_err(|e| Error::new(QM_E_UNEXPECTED, format!("cannot encode Watch: {e}")))?;
    bytes.push(0);
    let lost = |e: &dyn std::fmt::Display| {
        unavailable(format!(
            "the qmgr daemon at {} did not start the stream of events: {e}",
            remote.client.address()
        ))
    };
    crate::sys::send_all(conn.stream(), &bytes).map_err(|e| lost(&e))?;
    let first = conn
        .read_reply(Some(crate::proxy::client::CALL_TIMEOUT))
        .map_err(|e| lost(&e))?;
    match first.into_result() {
        Ok(parameters) => {
            let number = parameters.get("watch").and_then(serde_json::Value::as_u64);
            Ok((conn, number))
        }
        Err((name, parameters)) if name == crate::service::FAILED => {
            Err(codec::decode_failed(&parameters).unwrap_or_else(wire::unexpected))
        }
        Err((name, parameters)) => Err(wire::error_reply(method::WATCH, &name, &parameters)),
    }
}

/// Reads events until the stream ends.
fn stream(remote: &Remote, conn: &mut Connection) {
    while let Ok(reply) = conn.read_reply(None) {
        let last = !reply.continues;
        let Ok(parameters) = reply.into_result() else {
            return;
        };
        if let Some(event) = parameters.get("event").filter(|e| !e.is_null()) {
            if let Ok(event) = codec::decode_event(event, "event") {
                let id = event.job.id;
                if let Some(core) = remote.known(&id) {
                    core.offer(event.job);
                }
                remote.dispatcher.post(id, event.event);
            }
        }
        if last {
            return;
        }
    }
}
