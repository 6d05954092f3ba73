//! A manager connected to a daemon: its connection, its jobs' snapshots
//! (one body per job id), its dispatcher and its Watch.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use crate::engine::error::{Error, Result};
use crate::engine::runtime::notify::Dispatcher;
use crate::engine::types::{JobId, JobType};
use crate::hresult::*;
use crate::proxy::client::{Address, Client};
use crate::proxy::job::RemoteJob;
use crate::proxy::shared::{Remote, WatchState};
use crate::proxy::watch;
use crate::proxy::wire::{self, decode_job, object};
use crate::service::codec::{self, JobSnapshot, Settings, SettingsChange};
use crate::service::method;
use crate::sync::Mutex;

/// A manager connected to `qmgrd`. Dropping it closes it.
pub(crate) struct RemoteManager {
    remote: Arc<Remote>,
    /// The daemon's skipped jobs, as it said when this manager connected.
    skipped: Vec<String>,
    /// The settings the daemon last told, for a getter it cannot answer.
    settings: Mutex<Option<Settings>>,
}

impl std::fmt::Debug for RemoteManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("open", &self.remote.client.is_open())
            .field("address", &self.remote.client.address().to_string())
            .finish()
    }
}

impl RemoteManager {
    /// Connects to the daemon at `address` (`None`: the caller's default,
    /// see [`Address::default_for_caller`]) and asks who it is.
    pub(crate) fn connect(address: Option<&str>) -> Result<RemoteManager> {
        let address = match address {
            Some(text) => Address::parse(text)?,
            None => Address::default_for_caller()?,
        };
        let client = Client::connect(address)?;
        client.call(method::HELLO, object(&[]))?;
        let skipped = client.call(method::GET_SKIPPED_JOBS, object(&[]))?;
        let skipped = skipped
            .get("skipped")
            .and_then(Value::as_array)
            .ok_or_else(|| wire::unexpected("GetSkippedJobs without skipped"))?
            .iter()
            .map(|s| s.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| wire::unexpected("a skipped job that is not a string"))?;
        let dispatcher = Dispatcher::start()
            .map_err(|e| Error::new(QM_E_OUTOFMEMORY, format!("cannot start a thread: {e}")))?;
        Ok(RemoteManager {
            remote: Arc::new(Remote {
                client,
                dispatcher,
                jobs: Mutex::new(HashMap::new()),
                watch: WatchState::default(),
            }),
            skipped,
            settings: Mutex::new(None),
        })
    }

    fn job_of(&self, job: JobSnapshot) -> RemoteJob {
        RemoteJob(self.remote.job_of(job))
    }

    pub(crate) fn skipped_jobs(&self) -> &[String] {
        &self.skipped
    }

    pub(crate) fn state_dir(&self) -> Option<&Path> {
        None
    }

    /// Ends every call and the Watch, then the dispatcher (no callback
    /// runs after this returns, unless this is called from one).
    pub(crate) fn close(&self) {
        // A watch that ends while it still takes events looks like a
        // program that crashed: the daemon would run those notify programs.
        if self.remote.client.is_open() {
            watch::release_all(&self.remote);
        }
        if self.remote.client.close() {
            watch::stop(&self.remote);
            self.remote.dispatcher.shutdown();
        }
    }

    pub(crate) fn create_job(&self, display_name: &str) -> Result<RemoteJob> {
        self.create_job_of_type(display_name, JobType::Download)
    }

    /// `CreateJob` with a type; a download's leaves the type out, as
    /// clients before upload jobs do.
    pub(crate) fn create_job_of_type(
        &self,
        display_name: &str,
        kind: JobType,
    ) -> Result<RemoteJob> {
        let mut params = vec![("display_name", Value::from(display_name))];
        if kind.is_upload() {
            params.push(("type", (kind as u32).into()));
        }
        let reply = self
            .remote
            .client
            .call(method::CREATE_JOB, object(&params))?;
        let job = self.job_of(decode_job(&reply)?);
        if job.job_type() != kind {
            // A qmgrd older than upload jobs ignores the type and makes a
            // download: never hand that out as the upload asked for.
            let _ = job.cancel();
            return Err(Error::new(
                QM_E_NOTIMPL,
                format!(
                    "the qmgr daemon created a job of type {:?}, not {kind:?}: it does not \
                     support upload jobs (an older qmgrd, or one built without uploads)",
                    job.job_type()
                ),
            ));
        }
        Ok(job)
    }

    /// The jobs of `ListJobs` (every user's with `all_users`), newest first.
    pub(crate) fn jobs(&self, all_users: bool) -> Result<Vec<RemoteJob>> {
        let params = match all_users {
            true => object(&[("all_users", true.into())]),
            false => object(&[]),
        };
        let reply = self.remote.client.call(method::LIST_JOBS, params)?;
        let jobs = reply
            .get("jobs")
            .and_then(Value::as_array)
            .ok_or_else(|| wire::unexpected("ListJobs without jobs"))?;
        let jobs = codec::decode_list(jobs, "jobs", codec::decode_job).map_err(wire::unexpected)?;
        // The interface lists them in creation order; the API, newest first.
        Ok(jobs.into_iter().rev().map(|j| self.job_of(j)).collect())
    }

    pub(crate) fn job_count(&self) -> Result<usize> {
        Ok(self.jobs(false)?.len())
    }

    pub(crate) fn job(&self, id: &JobId) -> Result<RemoteJob> {
        let reply = self
            .remote
            .client
            .call(method::GET_JOB, object(&[("id", id.to_string().into())]))?;
        Ok(self.job_of(decode_job(&reply)?))
    }

    fn settings(&self) -> Result<Settings> {
        let reply = self.remote.client.call(method::GET_SETTINGS, object(&[]))?;
        let settings = reply
            .get("settings")
            .ok_or_else(|| wire::unexpected("GetSettings without settings"))?;
        codec::decode_settings(settings, "settings").map_err(wire::unexpected)
    }

    /// One of the settings, as the daemon says now; when it cannot answer
    /// (gone: the next call that can fail says why), as it said last (0
    /// if it never did).
    fn setting<T: Default>(&self, read: impl Fn(&Settings) -> T) -> T {
        let mut last = self.settings.lock();
        if let Ok(fresh) = self.settings() {
            *last = Some(fresh);
        }
        last.as_ref().map(read).unwrap_or_default()
    }

    fn set_settings(&self, change: SettingsChange) -> Result<()> {
        let params = object(&[("change", codec::encode_settings_change(&change))]);
        self.remote
            .client
            .call(method::SET_SETTINGS, params)
            .map(drop)
    }

    pub(crate) fn set_max_active_jobs(&self, n: u32) -> Result<()> {
        self.set_settings(SettingsChange {
            max_active_jobs: Some(n),
            ..SettingsChange::default()
        })
    }

    pub(crate) fn max_active_jobs(&self) -> u32 {
        self.setting(|s| s.max_active_jobs)
    }

    pub(crate) fn set_max_bandwidth(&self, bytes_per_second: u64) -> Result<()> {
        self.set_settings(SettingsChange {
            max_bandwidth: Some(bytes_per_second),
            ..SettingsChange::default()
        })
    }

    pub(crate) fn set_max_connections(&self, n: u32) -> Result<()> {
        self.set_settings(SettingsChange {
            max_connections: Some(n),
            ..SettingsChange::default()
        })
    }

    pub(crate) fn max_connections(&self) -> u32 {
        self.setting(|s| s.max_connections)
    }

    pub(crate) fn set_max_connections_per_server(&self, n: u32) -> Result<()> {
        self.set_settings(SettingsChange {
            max_connections_per_server: Some(n),
            ..SettingsChange::default()
        })
    }

    pub(crate) fn max_connections_per_server(&self) -> u32 {
        self.setting(|s| s.max_connections_per_server)
    }

    pub(crate) fn max_bandwidth(&self) -> u64 {
        self.setting(|s| s.max_bandwidth)
    }
}

impl Drop for RemoteManager {
    fn drop(&mut self) {
        self.close();
    }
}
