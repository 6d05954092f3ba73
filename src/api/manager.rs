//! The API's `Manager`: a local manager (the engine's, `open`) or a
//! connection to a daemon (the proxy's, `connect`), with the methods and
//! documentation of the engine's. Every method is one `delegate!` line
//! (see `api`), or wraps the jobs it returns in the API's `Job`.

use std::path::Path;

use crate::api::job::Job;
use crate::engine::error::Result;
use crate::engine::runtime::manager::Manager as LocalManager;
use crate::engine::types::{JobId, JobType, Owner};
#[cfg(feature = "service")]
use crate::proxy::RemoteManager;

/// A manager of jobs. Dropping it closes it.
pub struct Manager {
    backend: Backend,
}

/// Where the manager's jobs live.
enum Backend {
    /// In this process's engine.
    Local(LocalManager),
    /// In a daemon, through the proxy.
    #[cfg(feature = "service")]
    Remote(RemoteManager),
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.backend {
            Backend::Local(manager) => manager.fmt(f),
            #[cfg(feature = "service")]
            Backend::Remote(manager) => manager.fmt(f),
        }
    }
}

impl Manager {
    /// Opens a manager. `None`: in memory, nothing outlives the process.
    /// A state directory (created 0700 if missing) keeps every job that is
    /// not final across restarts and crashes: opening it restores them, and
    /// the ones that were queued, transferring or retrying carry on by
    /// themselves from their last durable byte. A directory already open in
    /// this or another process gives `QM_E_SHARING_VIOLATION`.
    ///
    /// Reads the environment on the calling thread: the proxy variables
    /// and the notify programs' environment come from that reading until
    /// the next [`Job::resume`] reads it again (see there); qmgr's own
    /// threads do not read them.
    pub fn open(state_dir: Option<&Path>) -> Result<Manager> {
        Ok(Manager {
            backend: Backend::Local(LocalManager::open(state_dir)?),
        })
    }

    /// Connects to a qmgr daemon (`qmgrd`, DESIGN §8): every call of the
    /// manager and of its jobs is carried out by the daemon, with the codes
    /// and messages of the in-process call, and its jobs are the caller's
    /// jobs of that daemon, which outlive this process and are shared with
    /// the user's other processes.
    ///
    /// `address` is a Varlink address, `unix:/path/to/socket` (or an
    /// absolute path; `unix:@name` for a Linux abstract socket). `None`
    /// connects to the caller's default daemon, the first of:
    /// `$QMGR_ADDRESS` if set and not empty; the per-user daemon's socket
    /// `$XDG_RUNTIME_DIR/qmgr/io.qmgr` if it exists; the system daemon's
    /// `/run/qmgr/io.qmgr`. The environment is read on the calling thread,
    /// by this call only.
    ///
    /// `QM_E_SERVICE_UNAVAILABLE` when no daemon listens there (and for
    /// any later call once the daemon is gone: the next call connects again,
    /// and the job handles stay good), `QM_E_ACCESSDENIED` when the socket
    /// refuses this user, `QM_E_INVALIDARG` for an address that is not a
    /// Unix socket's, `QM_E_NOTIMPL` in a library built without the
    /// `service` feature.
    ///
    /// How the calls travel: a job's getters of state, progress, status,
    /// error, times and properties read a snapshot of the job kept in this
    /// process, refreshed by one round trip when it is older than the job's
    /// minimum notification interval (at least 250 ms) or after this process
    /// changed the job, and by the daemon's events while a callback is set;
    /// every other call (changes, file getters, `wait`) is one round trip.
    /// Callbacks run on a thread of this manager, with the guarantees of
    /// [`Job::set_notify`]. The daemon's environment, not the caller's, is
    /// what its transfers use (proxy variables) and its notify programs get.
    pub fn connect(address: Option<&str>) -> Result<Manager> {
        #[cfg(feature = "service")]
        {
            Ok(Manager {
                backend: Backend::Remote(RemoteManager::connect(address)?),
            })
        }
        #[cfg(not(feature = "service"))]
        {
            let _ = address;
            Err(crate::engine::error::Error::new(
                crate::hresult::QM_E_NOTIMPL,
                "this qmgr library was built without the service feature: no daemon can be reached",
            ))
        }
    }

    /// True when the manager is connected to a daemon (made by
    /// [`Manager::connect`]), false for an in-process one.
    pub fn is_connected(&self) -> bool {
        match &self.backend {
            Backend::Local(_) => false,
            #[cfg(feature = "service")]
            Backend::Remote(_) => true,
        }
    }

    /// The jobs of the state directory that could not be read when it was
    /// opened, a sentence each (which job, and why). Their rows stay in the
    /// directory as they were; the other jobs opened normally. A job whose
    /// stored HTTP options (CA file, redirect policy, proxy, headers,
    /// credentials) do not read is one of them: it is never run with
    /// defaults, which would be weaker.
    pub fn skipped_jobs(&self) -> &[String] {
        delegate!(self.skipped_jobs())
    }

    /// The state directory, if the manager has one.
    pub fn state_dir(&self) -> Option<&Path> {
        delegate!(self.state_dir())
    }

    /// Stops every transfer (partial data stays), the scheduler and the
    /// notification thread. Jobs stay readable through their references;
    /// changing them fails with `QM_E_HANDLE`. Closing twice is harmless.
    pub fn close(&self) {
        delegate!(self.close())
    }

    /// Creates a job: SUSPENDED, priority NORMAL, no files.
    pub fn create_job(&self, display_name: &str) -> Result<Job> {
        match &self.backend {
            Backend::Local(m) => m.create_job(display_name).map(Job::local),
            #[cfg(feature = "service")]
            Backend::Remote(m) => m.create_job(display_name).map(Job::remote),
        }
    }

    /// Creates a job of type `kind` (BITS's `CreateJob` with a
    /// `BG_JOB_TYPE`), SUSPENDED, priority NORMAL, no files. An upload job
    /// (UPLOAD or UPLOAD_REPLY) holds exactly one file, sent from its
    /// local name to its remote name (see [`Job::set_upload_protocol`]).
    /// `QM_E_NOTIMPL` for an upload job in a build without the `upload`
    /// feature (through a daemon: a qmgrd built without it, or one older
    /// than upload jobs).
    pub fn create_job_of_type(&self, display_name: &str, kind: JobType) -> Result<Job> {
        match &self.backend {
            Backend::Local(m) => m.create_job_of_type(display_name, kind).map(Job::local),
            #[cfg(feature = "service")]
            Backend::Remote(m) => m.create_job_of_type(display_name, kind).map(Job::remote),
        }
    }

    /// Creates a job as [`create_job`](Manager::create_job) does, owned by
    /// `owner`: for a service that creates jobs on behalf of the users
    /// connected to it (the owner is the uid and gid the kernel reports for
    /// the connection). Every file of the job is then read and written with
    /// the owner's rights, never the process's, and its notify program runs
    /// as the owner (see [`Owner`]). When `owner` is not the process's
    /// effective user, the process must be able to take the owner's
    /// filesystem credentials (root, or `CAP_SETUID` and `CAP_SETGID`, on
    /// Linux): it tries, and gives `QM_E_ACCESSDENIED` when it cannot.
    /// `QM_E_INVALIDARG` for an id of `u32::MAX`. Through a daemon, whose
    /// jobs belong to whoever the kernel says connected: `create_job` for
    /// the connecting user, `QM_E_ACCESSDENIED` for anyone else.
    pub fn create_job_owned_by(&self, display_name: &str, owner: Owner) -> Result<Job> {
        self.create_job_of_type_owned_by(display_name, JobType::Download, owner)
    }

    /// Creates a job of type `kind` owned by `owner`, as
    /// [`create_job_owned_by`](Manager::create_job_owned_by) and
    /// [`create_job_of_type`](Manager::create_job_of_type) do: an upload
    /// job's file is read with the owner's rights.
    pub fn create_job_of_type_owned_by(
        &self,
        display_name: &str,
        kind: JobType,
        owner: Owner,
    ) -> Result<Job> {
        match &self.backend {
            Backend::Local(m) => m
                .create_job_of_type_owned_by(display_name, kind, owner)
                .map(Job::local),
            #[cfg(feature = "service")]
            Backend::Remote(m) => {
                if owner.uid != Owner::current().uid {
                    return Err(crate::engine::error::Error::new(
                        crate::hresult::QM_E_ACCESSDENIED,
                        format!(
                            "a daemon's jobs belong to the user that connects (uid {}), \
                             not to {owner}",
                            Owner::current().uid
                        ),
                    ));
                }
                m.create_job_of_type(display_name, kind).map(Job::remote)
            }
        }
    }

    /// The jobs that are not final, newest first.
    pub fn jobs(&self) -> Result<Vec<Job>> {
        match &self.backend {
            Backend::Local(m) => Ok(m.jobs()?.into_iter().map(Job::local).collect()),
            #[cfg(feature = "service")]
            Backend::Remote(m) => Ok(m.jobs(false)?.into_iter().map(Job::remote).collect()),
        }
    }

    /// How many jobs `jobs` would return, without copying them.
    pub fn job_count(&self) -> Result<usize> {
        delegate!(self.job_count())
    }

    /// Every user's jobs that are not final, newest first (BITS's
    /// `EnumJobs` with `BG_JOB_ENUM_ALL_USERS`). On a connected manager,
    /// the daemon's jobs of every user, for an administrator (root, or a
    /// member of the daemon's admin group; `QM_E_ACCESSDENIED` for anyone
    /// else); an in-process manager has one user, so this is [`Manager::jobs`].
    pub fn jobs_of_all_users(&self) -> Result<Vec<Job>> {
        match &self.backend {
            Backend::Local(m) => Ok(m.jobs()?.into_iter().map(Job::local).collect()),
            #[cfg(feature = "service")]
            Backend::Remote(m) => Ok(m.jobs(true)?.into_iter().map(Job::remote).collect()),
        }
    }

    /// The job with this id (`QM_BG_E_NOT_FOUND` if there is none, or it is final).
    pub fn job(&self, id: &JobId) -> Result<Job> {
        match &self.backend {
            Backend::Local(m) => m.job(id).map(Job::local),
            #[cfg(feature = "service")]
            Backend::Remote(m) => m.job(id).map(Job::remote),
        }
    }

    /// Sets how many jobs may transfer at once (at least 1).
    pub fn set_max_active_jobs(&self, n: u32) -> Result<()> {
        delegate!(self.set_max_active_jobs(n))
    }

    /// How many jobs may transfer at once.
    pub fn max_active_jobs(&self) -> u32 {
        delegate!(self.max_active_jobs())
    }

    /// Caps the sum of all background transfers in bytes per second (0: none).
    pub fn set_max_bandwidth(&self, bytes_per_second: u64) -> Result<()> {
        delegate!(self.set_max_bandwidth(bytes_per_second))
    }

    /// Caps the connections of all the manager's jobs together (at least 1;
    /// default 24). A running job always keeps one connection; beyond
    /// that, a run takes only what the cap leaves.
    pub fn set_max_connections(&self, n: u32) -> Result<()> {
        delegate!(self.set_max_connections(n))
    }

    /// The cap on the connections of all jobs.
    pub fn max_connections(&self) -> u32 {
        delegate!(self.max_connections())
    }

    /// Caps the connections one job opens to one server (scheme, host and
    /// port; at least 1; default 6, what browsers open to one host).
    pub fn set_max_connections_per_server(&self, n: u32) -> Result<()> {
        delegate!(self.set_max_connections_per_server(n))
    }

    /// The cap on one job's connections to one server.
    pub fn max_connections_per_server(&self) -> u32 {
        delegate!(self.max_connections_per_server())
    }

    /// The background bandwidth limit (0: none).
    pub fn max_bandwidth(&self) -> u64 {
        delegate!(self.max_bandwidth())
    }
}
