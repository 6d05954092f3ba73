//! Whose rights a job's file work runs with: its owner's (see
//! `crate::sys::owner_rights` for the mechanism and what it covers).
//!
//! A job owned by the process's effective user runs with the process's
//! rights: [`Rights::of`] then resolves nothing and [`Rights::enter`]
//! switches nothing. For a job of another user, `enter` takes the owner's
//! filesystem credentials on the calling thread until its guard drops, and
//! fails when it cannot: the caller then fails the operation with
//! `QM_E_ACCESSDENIED` and never runs it with the process's rights.
//!
//! Where a job's files are touched, and with which rights:
//! - the worker thread of each run and each of its connection threads
//!   (`worker`): the owner's for their whole life (temporary files, the
//!   copy loop, keeping a file, local sources, the CA file and the client
//!   certificate and key read by the run's TLS settings);
//! - the calls on the caller's thread (`job`): `add_files`'s check of the
//!   destination directory, `set_ca_file` and `set_client_certificate`,
//!   `complete`'s fsyncs and renames, the removals of `cancel` and
//!   `complete`, `take_ownership`'s hand-over, the temporary files of an
//!   in-memory manager deleted at close;
//! - opening a state directory (`manager`): what a stored job's files are
//!   on disk, and cutting its temporary files to their durable bytes;
//! - the notify program (`notify_cmd`): run as the owner for good.

use std::sync::Arc;

use crate::engine::error::{Error, Result};
use crate::engine::types::Owner;
use crate::hresult::QM_E_ACCESSDENIED;
use crate::sys::owner_rights::{self, Guard, Identity};

/// A job owner's rights, resolved: what [`Rights::enter`] takes.
#[derive(Clone, Debug)]
pub(crate) struct Rights {
    owner: Owner,
    /// The owner's groups, when it is not the process's effective user.
    identity: Option<Arc<Identity>>,
}

impl Rights {
    /// The rights of `owner`. When it is not the process's effective user,
    /// looks its groups up (the user and group databases): call it with
    /// the process's rights, not under another owner's guard.
    pub(crate) fn of(owner: Owner) -> Rights {
        let identity = (owner.uid != Owner::current().uid)
            .then(|| Arc::new(Identity::of(owner.uid, owner.gid)));
        Rights { owner, identity }
    }

    /// The owner these rights are of.
    pub(crate) fn owner(&self) -> Owner {
        self.owner
    }

    /// The identity a program run for the owner takes (`None`: the
    /// process's own).
    pub(crate) fn identity(&self) -> Option<&Identity> {
        self.identity.as_deref()
    }

    /// Takes the owner's filesystem rights on this thread until the guard
    /// drops (`None`: the owner is the process's user, nothing to take).
    pub(crate) fn enter(&self) -> std::io::Result<Option<Guard>> {
        self.identity
            .as_deref()
            .map(owner_rights::assume)
            .transpose()
    }

    /// Why the owner's rights could not be taken, in words.
    pub(crate) fn refusal(&self, err: &std::io::Error) -> String {
        format!(
            "cannot act with the filesystem rights of the job's owner ({}): {err}; \
             a service needs root (CAP_SETUID and CAP_SETGID) to run jobs of other users",
            self.owner
        )
    }

    /// Runs `f` with the owner's rights; `QM_E_ACCESSDENIED` without
    /// running it when they cannot be taken.
    pub(crate) fn run<R>(&self, f: impl FnOnce() -> Result<R>) -> Result<R> {
        let _guard = self
            .enter()
            .map_err(|e| Error::new(QM_E_ACCESSDENIED, self.refusal(&e)))?;
        f()
    }

    /// Checks that the process may act for `owner` at all: its own user
    /// always may; another user's rights are taken once and given back.
    /// `QM_E_ACCESSDENIED` otherwise (a process that is not root and lacks
    /// `CAP_SETUID`/`CAP_SETGID`, or a system without `setfsuid`).
    pub(crate) fn check_may_act_for(owner: Owner) -> Result<Rights> {
        let rights = Rights::of(owner.check()?);
        rights.run(|| Ok(()))?;
        Ok(rights)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_itself_needs_no_switch() {
        let me = Owner::current();
        let rights = Rights::of(me);
        assert!(rights.identity().is_none());
        assert!(rights.enter().unwrap().is_none());
        // Another gid of the same user: still the process's own rights.
        let rights = Rights::of(Owner { gid: 12345, ..me });
        assert!(rights.identity().is_none());
        Rights::check_may_act_for(me).unwrap();
    }

    #[test]
    fn another_user_needs_the_rights_to_switch() {
        let me = Owner::current();
        let other = Owner {
            uid: if me.uid == 65534 { 65533 } else { 65534 },
            gid: 65534,
        };
        let result = Rights::check_may_act_for(other);
        if me.uid == 0 {
            result.unwrap();
        } else {
            let err = result.unwrap_err();
            assert_eq!(err.code.0, QM_E_ACCESSDENIED);
            let named = format!("uid {}", other.uid);
            assert!(err.message.contains(&named), "{}", err.message);
        }
        let invalid = Owner {
            uid: u32::MAX,
            gid: 0,
        };
        assert_eq!(
            Rights::check_may_act_for(invalid).unwrap_err().code.0,
            crate::hresult::QM_E_INVALIDARG
        );
    }
}
