//! How jobs are shown: JSON, the job table, and `info`'s text.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use qmgr::{FileRange, HResult, Job, LENGTH_TO_EOF};
use serde_json::{json, Value};

use crate::format;

/// A job's code as scripts see it: `{code, name, description}`.
fn code_json(code: HResult) -> Value {
    json!({
        "code": format!("0x{:08X}", code.0 as u32),
        "name": code.name(),
        "description": code.description(),
    })
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// One job as JSON.
pub fn job_json(job: &Job) -> Value {
    let p = job.progress();
    let files: Vec<Value> = (0..job.file_count())
        .filter_map(|i| {
            let progress = job.file_progress(i).ok()?;
            let ranges = job.file_ranges(i).ok()?;
            Some(json!({
                "remote": qmgr::redact_passwords(&job.file_remote_name(i).ok()?),
                "local": job.file_local_name(i).ok()?,
                "bytes_total": progress.bytes_total,
                "bytes_transferred": progress.bytes_transferred,
                "completed": progress.completed,
                "ranges": (!ranges.is_empty()).then(|| ranges_json(&ranges)),
                "temporary_name": job.file_temporary_name(i).ok().flatten(),
                "response_headers": job.file_response_headers(i).ok().flatten(),
                "delta": job.file_delta(i).ok().flatten().map(|d| {
                    let s = job.file_delta_status(i).ok();
                    json!({
                        "seeds": d.seeds,
                        "control_url": d.control_url.as_deref().map(qmgr::redact_passwords),
                        "way": s.as_ref().map(|s| s.way.name()),
                        "bytes_from_seeds": s.as_ref().map(|s| s.bytes_from_seeds),
                        "reason": s.as_ref().map(|s| s.reason.clone()).filter(|r| !r.is_empty()),
                    })
                }),
            }))
        })
        .collect();
    let error = job.error().ok().map(|e| {
        let mut v = code_json(e.code);
        v["message"] = json!(e.description);
        v["context"] = json!(format::context(e.context));
        v["file_index"] = json!(e.file_index);
        v["http_status"] = json!((e.http_status != 0).then_some(e.http_status));
        v
    });
    let times = job.times();
    json!({
        "id": job.id().to_string(),
        "name": job.display_name(),
        "state": job.state().name(),
        "priority": format::priority(job.priority()),
        "bytes_total": p.bytes_total,
        "bytes_transferred": p.bytes_transferred,
        "files_total": p.files_total,
        "files_transferred": p.files_transferred,
        "bytes_per_second": p.bytes_per_second,
        "eta_seconds": p.eta_seconds,
        "retries": job.status().num_retries,
        "retry_in_seconds": job.next_retry_in().map(|d| d.as_secs_f64().ceil() as u64),
        "created_ms": unix_ms(times.creation),
        "modified_ms": unix_ms(times.modification),
        "transfer_completed_ms": times.transfer_completion.map(unix_ms),
        "dynamic_content": job.dynamic_content(),
        "yielding": job.yielding(),
        "notify_cmdline": job.notify_cmdline().map(|c| json!({
            "program": c.program,
            "parameters": c.parameters,
        })),
        "max_download_time": job.max_download_time(),
        "type": match job.job_type() {
            qmgr::JobType::Download => "download",
            qmgr::JobType::Upload => "upload",
            qmgr::JobType::UploadReply => "upload-reply",
        },
        "upload_protocol": job.upload_protocol().ok().map(|p| p.name()),
        "reply_file": job.reply_file_name().ok().flatten(),
        "reply_bytes": job.reply_progress().ok().and_then(|r| r.bytes_total),
        "error": error,
        "files": files,
    })
}

/// A file's ranges as `[{offset, length}]`, `length` `"eof"` for a range
/// to the end of the file.
fn ranges_json(ranges: &[FileRange]) -> Value {
    ranges
        .iter()
        .map(|r| {
            let length = match r.length {
                LENGTH_TO_EOF => json!("eof"),
                n => json!(n),
            };
            json!({ "offset": r.offset, "length": length })
        })
        .collect()
}

/// The jobs as a JSON array.
pub fn jobs_json(jobs: &[Job]) -> Value {
    Value::Array(jobs.iter().map(job_json).collect())
}

/// A text table of jobs, one line each, under a header. `short_ids` shows
/// the 8-character prefix that every job verb accepts.
pub fn table(jobs: &[Job], short_ids: bool) -> String {
    let id_width = if short_ids { 8 } else { 36 };
    let mut out = format!(
        "{:<id_width$}  {:<15} {:<10} {:>6}  {:<21} {:>12} {:>6} {:>5}  NAME\n",
        "ID", "STATE", "PRIORITY", "DONE", "BYTES", "RATE", "ETA", "FILES"
    );
    if jobs.is_empty() {
        out.push_str("(no jobs)\n");
    }
    for job in jobs {
        let p = job.progress();
        let mut id = job.id().to_string();
        id.truncate(id_width);
        let total = p.bytes_total.map_or("?".to_string(), format::bytes);
        let active = job.state().is_active();
        let _ = writeln!(
            out,
            "{id:<id_width$}  {:<15} {:<10} {:>6}  {:<21} {:>12} {:>6} {:>5}  {}",
            job.state().name(),
            format::priority(job.priority()),
            format::percent(p.bytes_transferred, p.bytes_total),
            format!("{}/{}", format::bytes(p.bytes_transferred), total),
            if active {
                format::rate(p.bytes_per_second)
            } else {
                "-".to_string()
            },
            if active {
                format::eta(p.eta_seconds)
            } else {
                "-".to_string()
            },
            format!("{}/{}", p.files_transferred, p.files_total),
            job.display_name(),
        );
    }
    out
}

/// `info`'s text: one `key: value` per line, then the files.
pub fn info(job: &Job) -> String {
    let p = job.progress();
    let mut out = String::new();
    let mut line = |key: &str, value: String| {
        let _ = writeln!(out, "{:<13}{}", format!("{key}:"), value);
    };
    line("id", job.id().to_string());
    line("name", job.display_name());
    let description = job.description();
    if !description.is_empty() {
        line("description", description);
    }
    line(
        "state",
        match job.next_retry_in() {
            Some(wait) => format!(
                "{} (retries in {})",
                job.state().name(),
                format::eta(Some(wait.as_secs_f64().ceil() as u64))
            ),
            None => job.state().name().to_string(),
        },
    );
    line("priority", format::priority(job.priority()).to_string());
    line(
        "progress",
        format!(
            "{} {}",
            format::percent(p.bytes_transferred, p.bytes_total),
            format::byte_counts(p.bytes_transferred, p.bytes_total)
        ),
    );
    if job.state().is_active() {
        line(
            "rate",
            format!(
                "{} ETA {}",
                format::rate(p.bytes_per_second),
                format::eta(p.eta_seconds)
            ),
        );
    }
    line(
        "files",
        format!("{}/{} transferred", p.files_transferred, p.files_total),
    );
    line("retries", job.status().num_retries.to_string());
    line("retry delay", format!("{}s", job.min_retry_delay()));
    line(
        "no progress",
        format!("{}s timeout", job.no_progress_timeout()),
    );
    let limit = job.max_bandwidth();
    if limit > 0 {
        line("limit", format::rate(limit));
    }
    if job.dynamic_content() {
        line("content", "dynamic (no ranges, no resume)".to_string());
    }
    if !job.yielding() {
        line("yielding", "off (competes with other traffic)".to_string());
    }
    if let Some(c) = job.notify_cmdline() {
        line(
            "notify cmd",
            format!(
                "{} ({})",
                c.program,
                c.parameters.as_deref().unwrap_or("no parameters")
            ),
        );
    }
    match job.error() {
        Ok(e) => line(
            "error",
            crate::fail::one_line(&format!("{}: {}", e.code, e.description)),
        ),
        Err(_) => line("error", "none".to_string()),
    }
    for i in 0..job.file_count() {
        let (Ok(remote), Ok(local), Ok(fp)) = (
            job.file_remote_name(i),
            job.file_local_name(i),
            job.file_progress(i),
        ) else {
            continue;
        };
        let _ = writeln!(
            out,
            "file {i}:{:width$}{} -> {local}\n{:13}{}{}",
            "",
            qmgr::redact_passwords(&remote),
            "",
            format::byte_counts(fp.bytes_transferred, fp.bytes_total),
            if fp.completed { ", completed" } else { "" },
            width = 13usize.saturating_sub(format!("file {i}:").len()),
        );
        let ranges = job.file_ranges(i).unwrap_or_default();
        if !ranges.is_empty() {
            let list: Vec<String> = ranges.iter().map(ToString::to_string).collect();
            let _ = writeln!(out, "{:13}ranges {}", "", list.join(","));
        }
        if let (Ok(Some(d)), Ok(s)) = (job.file_delta(i), job.file_delta_status(i)) {
            let seeds: Vec<String> = d.seeds.iter().map(|p| p.display().to_string()).collect();
            let _ = writeln!(out, "{:13}seeds {}", "", seeds.join(", "));
            let why = if s.reason.is_empty() {
                String::new()
            } else {
                format!(" ({})", s.reason)
            };
            let _ = writeln!(
                out,
                "{:13}delta {}, {} from seeds{why}",
                "",
                s.way.name(),
                format::bytes(s.bytes_from_seeds)
            );
        }
        if let Ok(Some(temp)) = job.file_temporary_name(i) {
            let _ = writeln!(out, "{:13}temporary {}", "", temp.display());
        }
        if let Ok(Some(headers)) = job.file_response_headers(i) {
            for header in headers.lines() {
                let _ = writeln!(out, "{:13}< {header}", "");
            }
        }
    }
    out
}
