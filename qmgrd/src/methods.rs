//! The methods of `io.qmgr` and `org.varlink.service`: each decodes its
//! parameters, calls the public Rust API (`qmgr::Manager`, `qmgr::Job`)
//! as the C API would, and encodes what it returns. No engine logic lives
//! here; what the daemon adds is who may see what and its bounds.

use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use qmgr::hresult::{
    QM_BG_E_NOT_FOUND, QM_BG_E_TOO_MANY_FILES_IN_JOB, QM_BG_E_TOO_MANY_JOBS_PER_USER,
    QM_E_ACCESSDENIED, QM_E_INVALIDARG,
};
use qmgr::service::codec::{
    decode_change, decode_file_spec, decode_list, decode_range, decode_settings_change,
    encode_file, encode_job, encode_settings, failed, Fields, Invalid,
};
use qmgr::service::varlink::{self, Call, Connection, Reply, SERVICE_INTERFACE_NAME};
use qmgr::service::{method, INTERFACE, INTERFACE_NAME};
use qmgr::{Error, Job, JobId};
use serde_json::{json, Value};

use crate::snapshot::{
    apply_change, apply_settings_change, file_snapshots, job_snapshot, settings_of,
};

use crate::server::{Caller, Daemon};
use crate::watch::TakeRefused;

/// What the connection does after a call.
pub enum Outcome {
    /// Send this reply (unless the call was `oneway`) and read the next call.
    Reply(Reply),
    /// The client is gone, or the call ended the connection (a watch).
    Close,
}

/// A call's failure, as the reply that says it.
struct Fail(Reply);

impl From<Invalid> for Fail {
    fn from(invalid: Invalid) -> Fail {
        Fail(invalid.reply())
    }
}

impl From<Error> for Fail {
    fn from(error: Error) -> Fail {
        Fail(failed(&error))
    }
}

type Answer = Result<Value, Fail>;

/// How long one slice of a `Wait` blocks before the daemon checks that
/// the client is still there.
const WAIT_SLICE: Duration = Duration::from_millis(500);

/// How often a watch with nothing to send checks that its client is
/// still there.
const WATCH_CHECK: Duration = Duration::from_millis(250);

/// Answers one call.
pub fn call(d: &Daemon, caller: &Caller, conn: &mut Connection, call: &Call) -> Outcome {
    let p = Fields::new(&call.parameters, "");
    let answer = match call.method.as_str() {
        method::GET_INFO => Ok(get_info()),
        method::GET_INTERFACE_DESCRIPTION => describe(&p),
        method::HELLO => Ok(hello(d, caller)),
        method::GET_SKIPPED_JOBS => Ok(skipped_jobs(d, caller)),
        method::GET_SETTINGS => {
            Ok(json!({ "settings": encode_settings(&settings_of(&d.manager)) }))
        }
        method::SET_SETTINGS => set_settings(d, caller, &p),
        method::LIST_JOBS => list_jobs(d, caller, &p),
        method::CREATE_JOB => create_job(d, caller, &p),
        method::GET_JOB => job(d, caller, &p).map(|j| json!({ "job": snapshot(&j) })),
        method::GET_FILES => get_files(d, caller, &p),
        method::ADD_FILES => add_files(d, caller, &p),
        method::ADD_FILE_WITH_RANGES => add_file_with_ranges(d, caller, &p),
        method::SET_FILE_REMOTE_NAME => (|| {
            let job = job(d, caller, &p)?;
            job.set_file_remote_name(p.u32("index")?, &p.string("remote")?)?;
            Ok(json!({}))
        })(),
        method::SET_FILE_SHA256 => (|| {
            let job = job(d, caller, &p)?;
            job.set_file_sha256(p.u32("index")?, p.opt_string("sha256")?.as_deref())?;
            Ok(json!({}))
        })(),
        method::SET_FILE_DELTA => (|| {
            let job = job(d, caller, &p)?;
            let seeds = p
                .array("seeds")?
                .iter()
                .map(|s| s.as_str().map(std::path::PathBuf::from))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| Invalid::new("seeds"))?;
            let control_url = p.opt_string("control_url")?;
            let delta = (!seeds.is_empty()).then_some(qmgr::DeltaSource { seeds, control_url });
            job.set_file_delta(p.u32("index")?, delta)?;
            Ok(json!({}))
        })(),
        method::SET_UPLOAD_PROTOCOL => (|| {
            let job = job(d, caller, &p)?;
            let protocol = qmgr::UploadProtocol::from_u32(p.u32("protocol")?)
                .ok_or_else(|| Invalid::new("protocol"))?;
            job.set_upload_protocol(protocol)?;
            Ok(json!({}))
        })(),
        method::SET_REPLY_FILE_NAME => (|| {
            let job = job(d, caller, &p)?;
            job.set_reply_file_name(p.opt_string("path")?.as_deref())?;
            Ok(json!({}))
        })(),
        method::GET_REPLY_DATA => get_reply_data(d, caller, &p),
        method::REPLACE_REMOTE_PREFIX => (|| {
            let job = job(d, caller, &p)?;
            let changed = job.replace_remote_prefix(&p.string("old")?, &p.string("new")?)?;
            Ok(json!({ "changed": changed }))
        })(),
        method::SET_JOB => (|| {
            let job = job(d, caller, &p)?;
            let change = decode_change(p.value("change")?, "change")?;
            apply_change(&change, &job, |flags| d.hub.set_notify_flags(&job, flags))?;
            Ok(json!({}))
        })(),
        method::RESUME => job(d, caller, &p).and_then(|j| Ok(j.resume().map(|()| json!({}))?)),
        method::SUSPEND => job(d, caller, &p).and_then(|j| Ok(j.suspend().map(|()| json!({}))?)),
        method::SWITCH_TO_FOREGROUND => {
            job(d, caller, &p).and_then(|j| Ok(j.switch_to_foreground().map(|()| json!({}))?))
        }
        method::CANCEL => job(d, caller, &p).and_then(|j| Ok(json!({ "code": j.cancel()?.0 }))),
        method::COMPLETE => job(d, caller, &p).and_then(|j| Ok(json!({ "code": j.complete()?.0 }))),
        method::TAKE_OWNERSHIP => (|| {
            let job = job(d, caller, &p)?;
            job.take_ownership(caller.owner)?;
            d.hub.job_is_now_of(&job);
            Ok(json!({}))
        })(),
        method::WAIT => return wait(d, caller, conn, &p),
        method::WATCH => return watch(d, caller, conn, call, &p),
        method::TAKE_EVENTS => (|| {
            let job = job(d, caller, &p)?;
            let watch = p.u64("watch")?;
            d.hub
                .take_events(watch, caller.owner.uid, &job, p.bool("take")?)
                .map_err(|why| {
                    Error::new(
                        QM_E_INVALIDARG,
                        match why {
                            TakeRefused::NoWatch => {
                                format!("no watch {watch} of this user is live")
                            }
                            TakeRefused::Kinds => format!(
                                "watch {watch} does not receive the TRANSFERRED and ERROR events \
                                 it would take"
                            ),
                        },
                    )
                })?;
            Ok(json!({}))
        })(),
        other => Err(Fail(unknown(other, call))),
    };
    Outcome::Reply(match answer {
        Ok(parameters) => Reply::ok(parameters),
        Err(Fail(reply)) => reply,
    })
}

fn unknown(method: &str, call: &Call) -> Reply {
    match call.interface() {
        SERVICE_INTERFACE_NAME | INTERFACE_NAME => Reply::method_not_found(method),
        interface => Reply::interface_not_found(interface),
    }
}

fn snapshot(job: &Job) -> Value {
    encode_job(&job_snapshot(job))
}

/// The job the `id` parameter names, if the caller may see it: its
/// owner's, or an administrator's. Anyone else gets exactly what an id
/// that does not exist gives (saying more would confirm it exists).
fn job(d: &Daemon, caller: &Caller, p: &Fields<'_>) -> Result<Job, Fail> {
    find(d, caller, &p.string("id")?, "id")
}

/// The job of id `text` (the parameter `name`), if the caller may see it.
fn find(d: &Daemon, caller: &Caller, text: &str, name: &str) -> Result<Job, Fail> {
    let id = text.parse::<JobId>().map_err(|_| Invalid::new(name))?;
    let job = d.manager.job(&id)?;
    if caller.admin || job.owner().uid == caller.owner.uid {
        Ok(job)
    } else {
        Err(Error::new(QM_BG_E_NOT_FOUND, format!("no job with id {id}")).into())
    }
}

fn get_info() -> Value {
    json!({
        "vendor": "qmgr",
        "product": "qmgrd",
        "version": env!("CARGO_PKG_VERSION"),
        "url": "",
        "interfaces": [SERVICE_INTERFACE_NAME, INTERFACE_NAME],
    })
}

fn describe(p: &Fields<'_>) -> Answer {
    let interface = p.string("interface")?;
    let description = match interface.as_str() {
        INTERFACE_NAME => INTERFACE,
        SERVICE_INTERFACE_NAME => varlink::SERVICE_INTERFACE,
        _ => return Err(Fail(Reply::interface_not_found(&interface))),
    };
    Ok(json!({ "description": description }))
}

fn hello(d: &Daemon, caller: &Caller) -> Value {
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "abi": qmgr::ffi::library::QM_ABI_VERSION,
        "uid": caller.peer.uid,
        "admin": caller.admin,
        "mode": d.options.mode.name(),
    })
}

/// The skipped jobs' sentences name no owner: an administrator gets them
/// all, anyone else none (on a per-user daemon the user is its
/// administrator).
fn skipped_jobs(d: &Daemon, caller: &Caller) -> Value {
    let skipped: &[String] = if caller.admin {
        d.manager.skipped_jobs()
    } else {
        &[]
    };
    json!({ "skipped": skipped })
}

fn not_admin(what: &str, d: &Daemon) -> Fail {
    let who = match &d.options.admin_group {
        Some(group) => format!("root or a member of the group '{group}'"),
        None => "root".to_string(),
    };
    Error::new(
        QM_E_ACCESSDENIED,
        format!("{what} needs an administrator of this qmgrd ({who})"),
    )
    .into()
}

fn set_settings(d: &Daemon, caller: &Caller, p: &Fields<'_>) -> Answer {
    let change = decode_settings_change(p.value("change")?, "change")?;
    if !caller.admin {
        return Err(not_admin("changing the daemon's settings", d));
    }
    apply_settings_change(&change, &d.manager)?;
    Ok(json!({}))
}

fn list_jobs(d: &Daemon, caller: &Caller, p: &Fields<'_>) -> Answer {
    let all_users = p.opt_bool("all_users")?.unwrap_or(false);
    if all_users && !caller.admin {
        return Err(not_admin("listing every user's jobs", d));
    }
    let mut jobs = d.manager.jobs()?;
    // The manager lists the newest first; the interface, creation order.
    jobs.reverse();
    let listed: Vec<Value> = jobs
        .iter()
        .filter(|j| all_users || j.owner().uid == caller.owner.uid)
        .map(snapshot)
        .collect();
    Ok(json!({ "jobs": listed }))
}

fn create_job(d: &Daemon, caller: &Caller, p: &Fields<'_>) -> Answer {
    let name = p.string("display_name")?;
    // Absent: a download, as clients before upload jobs ask.
    let kind = match p.opt_u32("type")? {
        None => qmgr::JobType::Download,
        Some(v) => qmgr::JobType::from_u32(v).ok_or_else(|| Invalid::new("type"))?,
    };
    let owner = caller.owner;
    let max = d.options.max_jobs_per_user;
    let job = {
        let _one_at_a_time = crate::server::lock(&d.create_lock);
        let held = d
            .manager
            .jobs()?
            .iter()
            .filter(|j| j.owner().uid == owner.uid)
            .count();
        if held >= max {
            return Err(Error::new(
                QM_BG_E_TOO_MANY_JOBS_PER_USER,
                format!(
                    "user {} already has {held} jobs, the most this qmgrd allows \
                     (--max-jobs-per-user {max}): complete or cancel one first",
                    owner.uid
                ),
            )
            .into());
        }
        d.manager.create_job_of_type_owned_by(&name, kind, owner)?
    };
    d.hub.job_is_now_of(&job);
    Ok(json!({ "job": snapshot(&job) }))
}

/// `GetReplyData`: one chunk of the reply, which the engine reads (from
/// memory, or from the reply file with the owner's rights) and bounds.
fn get_reply_data(d: &Daemon, caller: &Caller, p: &Fields<'_>) -> Answer {
    let job = job(d, caller, p)?;
    let data = job.reply_data()?;
    let offset = usize::try_from(p.opt_u64("offset")?.unwrap_or(0))
        .ok()
        .filter(|&o| o <= data.len())
        .ok_or_else(|| Invalid::new("offset"))?;
    let end = data.len().min(offset + qmgr::service::REPLY_DATA_CHUNK);
    Ok(json!({
        "data": qmgr::service::codec::encode_bytes(&data[offset..end]),
        "size": data.len(),
    }))
}

fn get_files(d: &Daemon, caller: &Caller, p: &Fields<'_>) -> Answer {
    let job = job(d, caller, p)?;
    let files: Vec<Value> = file_snapshots(&job)?.iter().map(encode_file).collect();
    Ok(json!({ "files": files }))
}

/// Refuses `adding` more files to `job` past `--max-files-per-job`.
fn check_file_count(d: &Daemon, job: &Job, adding: usize) -> Result<(), Fail> {
    let max = d.options.max_files_per_job as usize;
    let held = job.file_count() as usize;
    if held.saturating_add(adding) > max {
        return Err(Error::new(
            QM_BG_E_TOO_MANY_FILES_IN_JOB,
            format!(
                "the job has {held} files and {adding} more would pass the {max} a job may \
                 hold (--max-files-per-job {max})"
            ),
        )
        .into());
    }
    Ok(())
}

fn add_files(d: &Daemon, caller: &Caller, p: &Fields<'_>) -> Answer {
    let job = job(d, caller, p)?;
    let files = decode_list(p.array("files")?, "files", decode_file_spec)?;
    let _one_at_a_time = d.add_lock(&job.id());
    check_file_count(d, &job, files.len())?;
    job.add_files(&files)?;
    Ok(json!({}))
}

fn add_file_with_ranges(d: &Daemon, caller: &Caller, p: &Fields<'_>) -> Answer {
    let job = job(d, caller, p)?;
    let file = decode_file_spec(p.value("file")?, "file")?;
    let ranges = decode_list(p.array("ranges")?, "ranges", decode_range)?;
    let _one_at_a_time = d.add_lock(&job.id());
    check_file_count(d, &job, 1)?;
    job.add_file_with_ranges(&file.remote, &file.local, &ranges)?;
    Ok(json!({}))
}

/// `Wait`: `Job::wait` in slices, so that a client that hangs up does not
/// leave its thread blocked until the job settles.
fn wait(d: &Daemon, caller: &Caller, conn: &mut Connection, p: &Fields<'_>) -> Outcome {
    let prepared = (|| -> Result<(Job, Option<Instant>), Fail> {
        let job = job(d, caller, p)?;
        let timeout = p.opt_u64("timeout_ms")?;
        let deadline = timeout.map(|ms| Instant::now() + Duration::from_millis(ms.min(1 << 40)));
        Ok((job, deadline))
    })();
    let (job, deadline) = match prepared {
        Ok(ready) => ready,
        Err(Fail(reply)) => return Outcome::Reply(reply),
    };
    loop {
        let slice = match deadline {
            Some(deadline) => deadline
                .saturating_duration_since(Instant::now())
                .min(WAIT_SLICE),
            None => WAIT_SLICE,
        };
        match job.wait(Some(slice)) {
            Ok(Some(state)) => return Outcome::Reply(Reply::ok(json!({ "state": state as u32 }))),
            Ok(None) => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Outcome::Reply(Reply::ok(json!({ "state": null })));
                }
                if conn.hung_up() {
                    return Outcome::Close;
                }
            }
            Err(e) => return Outcome::Reply(failed(&e)),
        }
    }
}

/// `Watch`: the first reply says the watch is in place; then one reply
/// per event until the client hangs up (or falls too far behind).
fn watch(
    d: &Daemon,
    caller: &Caller,
    conn: &mut Connection,
    call: &Call,
    p: &Fields<'_>,
) -> Outcome {
    // A oneway Watch could stream nothing: its replies are not wanted.
    if !call.more || call.oneway {
        return Outcome::Reply(Reply::expected_more());
    }
    let prepared = (|| -> Result<(Option<Vec<Job>>, u32), Fail> {
        let kinds = p.opt_u32("kinds")?.unwrap_or(u32::MAX);
        let ids = match p.opt_array("ids")? {
            None => None,
            Some([]) => None,
            Some(ids) => {
                let mut jobs = Vec::with_capacity(ids.len());
                for (i, id) in ids.iter().enumerate() {
                    let name = format!("ids[{i}]");
                    let text = id.as_str().ok_or_else(|| Invalid::new(name.as_str()))?;
                    jobs.push(find(d, caller, text, &name)?);
                }
                Some(jobs)
            }
        };
        Ok((ids, kinds))
    })();
    let (ids, kinds) = match prepared {
        Ok(ready) => ready,
        Err(Fail(reply)) => return Outcome::Reply(reply),
    };
    let Ok(socket) = conn.stream().try_clone() else {
        return Outcome::Close;
    };
    let (id, events) = d.hub.watch(
        &d.manager,
        caller.owner.uid,
        caller.admin,
        ids,
        kinds,
        socket,
    );
    let first = Reply::ok(json!({ "event": null, "watch": id })).continuing(true);
    if conn.send_reply(&first).is_ok() {
        loop {
            match events.recv_timeout(WATCH_CHECK) {
                Ok(event) => {
                    let mut reply = Reply::ok(json!({})).continuing(true);
                    reply.parameters.insert("event".into(), (*event).clone());
                    if conn.send_reply(&reply).is_err() {
                        break;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    if conn.hung_up() {
                        break;
                    }
                }
                // The hub dropped the watcher: it fell behind.
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
    }
    d.hub.unwatch(id);
    Outcome::Close
}
