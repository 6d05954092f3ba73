//! The daemon's state and its connections: who may connect, how many, and
//! the loop each connection's thread runs.
//!
//! One thread per connection (the engine's calls block: `Wait`, the
//! fsyncs of `Complete`), with a small stack; at most
//! `--max-connections-per-user` per user and `--max-connections` in all.
//! A connection beyond them, or from another user than a per-user
//! daemon's, gets one error reply and is closed at once. A client that
//! breaks the framing (garbage, a message too long or left unfinished)
//! gets the error [`ReadError::reply`] names and is dropped; a well-formed
//! call to an unknown method or with bad parameters gets its error and
//! the connection goes on, as Varlink intends (a proxy newer than the
//! daemon can probe). Each connection's handler runs under
//! `catch_unwind`: a bug hit by one client ends that connection only.

use std::collections::HashMap;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use qmgr::service::codec::limit_reached;
use qmgr::service::varlink::{Connection, ReadError, Reply};
use qmgr::{JobState, Manager, Owner};

use crate::methods::{self, Outcome};
use crate::options::{Mode, Options};
use crate::os::{self, Peer};
use crate::watch::Hub;

/// The longest writing one reply or event may take: a client that does
/// not read it (or reads a byte now and then) is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a client dropped for a bad message may go on sending before
/// its connection is closed (so that it reads its error reply first).
const LINGER: Duration = Duration::from_secs(2);

/// A connection thread's stack: the handlers are shallow (JSON nesting
/// is bounded by serde_json's recursion limit).
const STACK: usize = 512 * 1024;

/// Striped locks for the files-per-job check (one job's adds in a row).
const ADD_LOCKS: usize = 16;

/// Who a connection acts for.
#[derive(Clone, Copy, Debug)]
pub struct Caller {
    /// The peer as the kernel reported it.
    pub peer: Peer,
    /// The owner its jobs get and whose jobs it sees: the peer, or on a
    /// per-user daemon that daemon's user (root connecting to a user's
    /// daemon acts on that user's jobs).
    pub owner: Owner,
    /// Root, a member of the admin group, or a per-user daemon's user.
    pub admin: bool,
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_uid: HashMap<u32, usize>,
}

/// Everything the connections share.
pub struct Daemon {
    /// The one manager of the state directory.
    pub manager: Manager,
    /// The command line.
    pub options: Options,
    /// The admin group's id, if one was named and exists.
    pub admin_gid: Option<u32>,
    /// The daemon's own user and group.
    pub me: Owner,
    /// The watches.
    pub hub: Arc<Hub>,
    counts: Mutex<Counts>,
    /// Held while counting a user's jobs and creating one.
    pub create_lock: Mutex<()>,
    add_locks: [Mutex<()>; ADD_LOCKS],
}

/// A poisoned lock only means a panic elsewhere (caught per connection).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A connection's place in the counts, given back when it ends.
struct Slot {
    daemon: Arc<Daemon>,
    uid: u32,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = lock(&self.daemon.counts);
        counts.total -= 1;
        if let Some(n) = counts.per_uid.get_mut(&self.uid) {
            *n -= 1;
            if *n == 0 {
                counts.per_uid.remove(&self.uid);
            }
        }
    }
}

impl Daemon {
    /// The daemon around an open manager.
    pub fn new(manager: Manager, options: Options, admin_gid: Option<u32>) -> Daemon {
        Daemon {
            manager,
            options,
            admin_gid,
            me: Owner {
                uid: os::effective_uid(),
                gid: os::effective_gid(),
            },
            hub: Hub::new(),
            counts: Mutex::default(),
            create_lock: Mutex::new(()),
            add_locks: Default::default(),
        }
    }

    /// How many clients are connected.
    pub fn connections(&self) -> usize {
        lock(&self.counts).total
    }

    /// Whether a job is queued, connecting, transferring or waiting to
    /// retry (the daemon must not exit idle then).
    pub fn has_active_jobs(&self) -> bool {
        self.manager.jobs().unwrap_or_default().iter().any(|j| {
            matches!(
                j.state(),
                JobState::Queued
                    | JobState::Connecting
                    | JobState::Transferring
                    | JobState::TransientError
            )
        })
    }

    /// The lock for adding files to the job `id`.
    pub fn add_lock(&self, id: &qmgr::JobId) -> MutexGuard<'_, ()> {
        lock(&self.add_locks[id.0[0] as usize % ADD_LOCKS])
    }

    fn admit(self: &Arc<Daemon>, uid: u32) -> Result<Slot, Reply> {
        let mut counts = lock(&self.counts);
        let per_user = self.options.max_connections_per_user;
        if counts.per_uid.get(&uid).copied().unwrap_or(0) >= per_user {
            return Err(limit_reached("connections_per_user", per_user as u64));
        }
        if counts.total >= self.options.max_connections {
            return Err(limit_reached(
                "connections",
                self.options.max_connections as u64,
            ));
        }
        counts.total += 1;
        *counts.per_uid.entry(uid).or_insert(0) += 1;
        Ok(Slot {
            daemon: Arc::clone(self),
            uid,
        })
    }

    /// Whether `peer` administers the daemon.
    fn is_admin(&self, peer: &Peer) -> bool {
        peer.uid == 0
            || (self.options.mode == Mode::User && peer.uid == self.me.uid)
            || self
                .admin_gid
                .is_some_and(|gid| os::user_in_group(peer.uid, peer.gid, gid))
    }

    /// Takes a new connection: checks who it is and the bounds, then
    /// serves it on a thread of its own.
    pub fn accept(self: &Arc<Daemon>, stream: UnixStream) {
        let refuse = |stream: UnixStream, reply: Reply| {
            if let Ok(mut conn) = Connection::new(stream) {
                let _ = conn
                    .stream()
                    .set_write_timeout(Some(Duration::from_secs(1)));
                let _ = conn.send_reply(&reply);
            }
        };
        let peer = match os::peer_credentials(&stream) {
            Ok(peer) => peer,
            Err(e) => {
                eprintln!("qmgrd: refused a connection whose peer is unknown: {e}");
                return;
            }
        };
        if self.options.mode == Mode::User && peer.uid != self.me.uid && peer.uid != 0 {
            eprintln!(
                "qmgrd: refused uid {} (pid {}): this is uid {}'s daemon",
                peer.uid, peer.pid, self.me.uid
            );
            return refuse(stream, Reply::permission_denied());
        }
        let slot = match self.admit(peer.uid) {
            Ok(slot) => slot,
            Err(reply) => {
                eprintln!(
                    "qmgrd: refused a connection of uid {} (pid {}): too many connections",
                    peer.uid, peer.pid
                );
                return refuse(stream, reply);
            }
        };
        let daemon = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("qmgrd-conn".into())
            .stack_size(STACK)
            .spawn(move || {
                let serve = || daemon.serve(peer, stream);
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(serve)).is_err() {
                    eprintln!(
                        "qmgrd: internal error serving uid {} (pid {}): the connection was closed",
                        peer.uid, peer.pid
                    );
                }
                drop(slot);
            });
        if let Err(e) = spawned {
            eprintln!("qmgrd: cannot start a thread for a connection: {e}");
        }
    }

    /// Reads calls and answers them until the client hangs up or breaks
    /// the protocol.
    fn serve(&self, peer: Peer, stream: UnixStream) {
        let Ok(mut conn) = Connection::new(stream) else {
            return;
        };
        conn.set_write_deadline(Some(WRITE_TIMEOUT));
        let caller = Caller {
            peer,
            owner: match self.options.mode {
                Mode::System => Owner {
                    uid: peer.uid,
                    gid: peer.gid,
                },
                Mode::User => self.me,
            },
            admin: self.is_admin(&peer),
        };
        loop {
            let call = match conn.read_call() {
                Ok(call) => call,
                Err(ReadError::Closed) => return,
                Err(e) => {
                    if let Some(reply) = e.reply() {
                        eprintln!("qmgrd: dropping uid {} (pid {}): {e}", peer.uid, peer.pid);
                        if conn.send_reply(&reply).is_ok() {
                            conn.close_after_error(LINGER);
                        }
                    }
                    return;
                }
            };
            match methods::call(self, &caller, &mut conn, &call) {
                Outcome::Reply(reply) => {
                    if !call.oneway && conn.send_reply(&reply).is_err() {
                        return;
                    }
                }
                Outcome::Close => return,
            }
        }
    }
}
