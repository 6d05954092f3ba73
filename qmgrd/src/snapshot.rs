//! What the daemon reads from the Rust API into `io.qmgr`'s values, and
//! the calls a decoded change means: the half of the protocol that needs
//! a live `Manager` or `Job`. `qmgr::service::codec` (shared with the
//! proxy, which sits below the API) knows only the values.

use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use qmgr::service::codec::{Change, FileSnapshot, JobSnapshot, Settings, SettingsChange, Taken};
use qmgr::{Job, JobTimes, Manager, ProxySetting, Result};

/// `t` to the millisecond, as the interface carries it.
fn to_ms(t: SystemTime) -> SystemTime {
    let ms = t
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// Counts the snapshots of this run, whose progress is read under it: a
/// higher number was read later (see `Taken`).
static TAKEN: Mutex<u64> = Mutex::new(0);

/// This run of the daemon, for `Taken`: from the clock and the process
/// id, so that a daemon started again is another run.
fn run() -> u32 {
    static RUN: OnceLock<u32> = OnceLock::new();
    *RUN.get_or_init(|| {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        now.subsec_nanos() ^ (now.as_secs() as u32) ^ std::process::id().rotate_left(16)
    })
}

/// Reads every getter of `job`, as `io.qmgr`'s `Job` carries them.
pub fn job_snapshot(job: &Job) -> JobSnapshot {
    // The progress and its number together: read in another order, an
    // older progress could carry the higher number.
    let (progress, taken) = {
        let mut number = TAKEN.lock().unwrap_or_else(PoisonError::into_inner);
        *number += 1;
        let taken = Taken {
            run: run(),
            number: *number,
        };
        (job.progress(), taken)
    };
    let times = job.times();
    JobSnapshot {
        id: job.id(),
        owner_uid: job.owner().uid,
        display_name: job.display_name(),
        description: job.description(),
        state: job.state(),
        priority: job.priority(),
        progress,
        status: job.status(),
        error: job.error().ok(),
        next_retry: job
            .next_retry_in()
            .map(|d| Duration::from_millis(d.as_millis() as u64)),
        times: JobTimes {
            creation: to_ms(times.creation),
            modification: to_ms(times.modification),
            transfer_completion: times.transfer_completion.map(to_ms),
        },
        file_count: job.file_count(),
        min_retry_delay: job.min_retry_delay(),
        no_progress_timeout: job.no_progress_timeout(),
        notify_flags: job.notify_flags(),
        min_notification_interval: job.min_notification_interval(),
        notify_cmdline: job.notify_cmdline(),
        max_bandwidth: job.max_bandwidth(),
        max_download_time: job.max_download_time(),
        max_download_size: job.max_download_size(),
        max_connections: job.max_connections(),
        dynamic_content: job.dynamic_content(),
        yielding: job.yielding(),
        low_speed_limit: job.low_speed_limit(),
        custom_headers: job.custom_headers(),
        proxy: job.proxy(),
        ca_file: job.ca_file(),
        client_certificate: job.client_certificate(),
        stall_timeout: job.stall_timeout(),
        security_flags: job.security_flags(),
        job_type: job.job_type(),
        upload_protocol: job.upload_protocol().ok(),
        reply_file_name: job.reply_file_name().ok().flatten(),
        reply_progress: job.reply_progress().ok(),
        taken: Some(taken),
    }
}

/// Reads every getter of file `index` of `job`.
pub fn file_snapshot(job: &Job, index: u32) -> Result<FileSnapshot> {
    Ok(FileSnapshot {
        index,
        remote: job.file_remote_name(index)?,
        local: job.file_local_name(index)?,
        size_hint: job.file_size_hint(index)?,
        sha256: job.file_sha256(index)?,
        progress: job.file_progress(index)?,
        final_url: job.file_final_url(index)?,
        temporary_name: job.file_temporary_name(index)?,
        response_headers: job.file_response_headers(index)?,
        ranges: job.file_ranges(index)?,
        delta: job.file_delta(index)?,
        delta_status: job.file_delta_status(index)?,
    })
}

/// Every file of `job`, in order (the files added meanwhile aside).
pub fn file_snapshots(job: &Job) -> Result<Vec<FileSnapshot>> {
    (0..job.file_count())
        .map(|i| file_snapshot(job, i))
        .collect()
}

/// Calls the setter `change` means. The notify flags have no setter
/// of their own ([`Job::set_notify`] sets them with the callback):
/// `set_notify_flags` is called with them, to set them with whatever
/// callback the caller keeps on the job.
pub fn apply_change(
    change: &Change,
    job: &Job,
    set_notify_flags: impl FnOnce(u32) -> Result<()>,
) -> Result<()> {
    match change {
        Change::DisplayName(v) => job.set_display_name(v),
        Change::Description(v) => job.set_description(v),
        Change::Priority(v) => job.set_priority(*v),
        Change::MinRetryDelay(v) => job.set_min_retry_delay(*v),
        Change::NoProgressTimeout(v) => job.set_no_progress_timeout(*v),
        Change::NotifyFlags(flags) => set_notify_flags(*flags),
        Change::MinNotificationInterval(v) => job.set_min_notification_interval(*v),
        Change::NotifyCmdLine(v) => job.set_notify_cmdline(v.clone()),
        Change::MaxBandwidth(v) => job.set_max_bandwidth(*v),
        Change::MaxDownloadTime(v) => job.set_max_download_time(*v),
        Change::MaxDownloadSize(v) => job.set_max_download_size(*v),
        Change::MaxConnections(v) => job.set_max_connections(*v),
        Change::DynamicContent(v) => job.set_dynamic_content(*v),
        Change::Yielding(v) => job.set_yielding(*v),
        Change::LowSpeedLimit {
            bytes_per_second,
            seconds,
        } => job.set_low_speed_limit(*bytes_per_second, *seconds),
        Change::CustomHeaders(v) => job.set_custom_headers(v.as_deref()),
        Change::Credentials(v) => {
            job.set_credentials(v.as_ref().map(|(u, p)| (u.as_str(), p.as_str())))
        }
        Change::Proxy(p) => job.set_proxy(match p {
            ProxySetting::FromEnvironment => None,
            ProxySetting::Direct => Some(""),
            ProxySetting::Url(url) => Some(url.as_str()),
        }),
        Change::CaFile(v) => job.set_ca_file(v.as_deref()),
        Change::ClientCertificate(v) => {
            job.set_client_certificate(v.as_ref().map(|(c, k)| (c.as_str(), k.as_str())))
        }
        Change::StallTimeout(v) => job.set_stall_timeout(*v),
        Change::SecurityFlags(v) => job.set_security_flags(*v),
    }
}

/// Reads `manager`'s settings.
pub fn settings_of(manager: &Manager) -> Settings {
    Settings {
        max_active_jobs: manager.max_active_jobs(),
        max_bandwidth: manager.max_bandwidth(),
        max_connections: manager.max_connections(),
        max_connections_per_server: manager.max_connections_per_server(),
    }
}

/// Calls the setters of the members `change` gives, in the interface's
/// order, stopping at the first that fails (the ones before it stay set).
pub fn apply_settings_change(change: &SettingsChange, manager: &Manager) -> Result<()> {
    if let Some(n) = change.max_active_jobs {
        manager.set_max_active_jobs(n)?;
    }
    if let Some(n) = change.max_bandwidth {
        manager.set_max_bandwidth(n)?;
    }
    if let Some(n) = change.max_connections {
        manager.set_max_connections(n)?;
    }
    if let Some(n) = change.max_connections_per_server {
        manager.set_max_connections_per_server(n)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use qmgr::service::codec::{decode_change, decode_job, encode_job};
    use qmgr::{JobState, NotifyFlags};
    use serde_json::json;

    #[test]
    fn a_live_job_reads_and_round_trips() {
        let manager = Manager::open(None).unwrap();
        let job = manager.create_job("live").unwrap();
        let snapshot = job_snapshot(&job);
        assert_eq!(snapshot.state, JobState::Suspended);
        assert_eq!(snapshot.owner_uid, qmgr::Owner::current().uid);
        assert_eq!(decode_job(&encode_job(&snapshot), "job").unwrap(), snapshot);
        let change = decode_change(&json!({"description": "d"}), "change").unwrap();
        apply_change(&change, &job, |_| unreachable!()).unwrap();
        assert_eq!(job.description(), "d");
        let flags = decode_change(&json!({"notify_flags": 9}), "change").unwrap();
        apply_change(&flags, &job, |f| job.set_notify(None, f, 0)).unwrap();
        assert_eq!(job.notify_flags(), NotifyFlags(9));
    }
}
