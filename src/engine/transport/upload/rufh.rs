//! The IETF draft "Resumable Uploads for HTTP",
//! draft-ietf-httpbis-resumable-upload-12 (interop version 8):
//! experimental until it is an RFC. Every request says
//! `Upload-Draft-Interop-Version: 8`, and a `104` that does not say it
//! back is ignored, as the draft requires.
//!
//! ```text
//!  no upload URL:  POST url (Upload-Complete ?1 if the first piece is the
//!                  whole file, else ?0; Upload-Length; the first piece)
//!                  ◄── 104 Location: the upload URL (same origin only),
//!                      Upload-Offset: progress, Upload-Limit
//!                  ◄── final: the reply (complete), or 201 Location
//!  an upload URL:  HEAD it ──► Upload-Offset, Upload-Complete, Upload-Limit
//!                  (404/410: lost, create again)
//!  until the end:  PATCH it (application/partial-upload, Upload-Offset,
//!                  Upload-Complete ?1 on the last piece)
//!                  ──► 2xx: confirmed; 409: ask again (HEAD)
//! ```
//!
//! Upload-reply: the final response of the request that completed the
//! upload is the target resource's answer to the whole representation
//! (the draft's creation and append rules); its body, up to the caller's
//! limit, is the reply. An upload found complete by a HEAD (its last
//! answer was lost) has no reply any more: `Finished::reply_len` is then
//! `None`.

use std::io::Write;

use super::{
    bad_answer, offset_of, parse_offset, status_error, upload_url_of, Finished, ReplySink, Run,
    UploadState,
};
use crate::engine::transport::error::TransferError;
use crate::engine::transport::http::exchange::{Answer, Call, FileBody};
use crate::engine::transport::http::wire::Head;
use crate::engine::transport::http::Headers;
use crate::engine::types::ErrorContext;
use crate::hresult::*;

/// The draft this implements.
pub(crate) const DRAFT: &str = "draft-ietf-httpbis-resumable-upload-12";
/// Its interop version (`Upload-Draft-Interop-Version`).
pub(crate) const INTEROP_VERSION: &str = "8";

/// The fields every request of the draft carries.
pub(crate) fn base_fields() -> Vec<(&'static str, String)> {
    vec![("Upload-Draft-Interop-Version", INTEROP_VERSION.to_string())]
}

/// An sf-boolean (`?1`, `?0`); anything else is no value.
pub(crate) fn boolean(value: Option<&str>) -> Option<bool> {
    match value.map(|v| v.trim_matches(|c| c == ' ' || c == '\t')) {
        Some("?1") => Some(true),
        Some("?0") => Some(false),
        _ => None,
    }
}

/// The limits of an `Upload-Limit` dictionary the client acts on.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Limits {
    pub max_size: Option<u64>,
    pub max_append_size: Option<u64>,
    pub max_age: Option<u64>,
}

/// Parses `Upload-Limit` (an sf-dictionary): unknown keys are ignored;
/// a known key whose value is not a non-negative integer voids the whole
/// field, as the draft says.
pub(crate) fn limits(headers: &Headers) -> Limits {
    let mut out = Limits::default();
    let Some(value) = headers.get("upload-limit") else {
        return out;
    };
    for member in value.split(',') {
        let member = member.split(';').next().unwrap_or("").trim();
        let (key, value) = member.split_once('=').unwrap_or((member, "?1"));
        let slot = match key.trim() {
            "max-size" => &mut out.max_size,
            "max-append-size" => &mut out.max_append_size,
            "max-age" => &mut out.max_age,
            "min-size" | "min-append-size" => {
                if parse_offset(value).is_none() {
                    return Limits::default();
                }
                continue;
            }
            _ => continue,
        };
        match parse_offset(value) {
            Some(n) => *slot = Some(n),
            None => return Limits::default(),
        }
    }
    out
}

/// What one request of the upload came to.
enum Step {
    /// The upload is complete: the last answer.
    Done(Finished),
    /// More to send, from `state.confirmed`.
    More,
    /// 409: ask the server's offset again.
    Conflict,
    /// The server no longer has the upload.
    Lost,
}

/// One attempt of a draft upload (see the module documentation).
pub(crate) fn run(
    run: &mut Run<'_>,
    state: &mut UploadState,
    mut reply: Option<ReplySink<'_>>,
    progress: &mut dyn FnMut(&UploadState),
) -> Result<Finished, TransferError> {
    // Resume is asked, never assumed.
    let mut ask = state.upload_url.is_some();
    loop {
        run.check_cancel()?;
        let step = if state.upload_url.is_none() {
            create(run, state, &mut reply, progress)?
        } else if ask {
            ask = false;
            offset(run, state, progress)?
        } else {
            append(run, state, &mut reply, progress)?
        };
        match step {
            Step::Done(finished) => return Ok(finished),
            Step::More => {}
            Step::Conflict => {
                run.unproductive("409 Conflict")?;
                ask = true;
            }
            Step::Lost => {
                state.lost();
                run.unproductive("the server lost the upload")?;
            }
        }
    }
}

/// The upload creation: POST to the caller's URL with the first piece.
fn create(
    run: &mut Run<'_>,
    state: &mut UploadState,
    reply: &mut Option<ReplySink<'_>>,
    progress: &mut dyn FnMut(&UploadState),
) -> Result<Step, TransferError> {
    run.check_local(state)?;
    let len = run.chunk(state).min(state.file_size);
    let complete = len == state.file_size;
    let mut fields = base_fields();
    fields.push(("Upload-Complete", if complete { "?1" } else { "?0" }.into()));
    fields.push(("Upload-Length", state.file_size.to_string()));
    if let Some(name) = run.intent.path.file_name().and_then(|n| n.to_str()) {
        if name
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
        {
            fields.push((
                "Content-Disposition",
                format!("inline; filename=\"{name}\""),
            ));
        }
    }
    let url = run.policy.url.clone();
    let call = Call {
        method: "POST",
        url: &url,
        fields,
        body: Some(FileBody {
            file: &run.file,
            offset: 0,
            len,
            pace: run.intent.pace,
        }),
    };
    let mut interim = Vec::new();
    let sent = run.client.exchange(&run.policy, &call, &mut interim);
    // A 104 may have named the upload even if the request then failed:
    // the next attempt resumes it.
    take_interim(run, state, &url, &interim, len, progress)?;
    let answer = sent?;
    run.check_local(state)?;
    let head = &answer.head;
    if boolean(head.headers.get("upload-complete")) == Some(true)
        || (complete && (200..=299).contains(&head.status))
    {
        return finish("POST", answer, complete, state, reply, progress);
    }
    if !(200..=299).contains(&head.status) {
        return Err(status_error("POST", &answer));
    }
    let Some(location) = head.headers.get("location") else {
        return Err(bad_answer(
            "POST",
            &answer.url,
            "the creation was answered without a Location",
        ));
    };
    let upload_url = upload_url_of(&run.policy, &answer.url, location)?;
    if state.upload_url.as_ref().is_some_and(|u| *u != upload_url) {
        return Err(bad_answer(
            "POST",
            &answer.url,
            "the final answer's Location is not the one its 104 named",
        ));
    }
    state.upload_url = Some(upload_url);
    note_limits(state, head)?;
    let at = head
        .headers
        .get("upload-offset")
        .and_then(parse_offset)
        .unwrap_or(len);
    if at > len {
        return Err(bad_answer(
            "POST",
            &answer.url,
            &format!("Upload-Offset {at} is past the {len} bytes sent"),
        ));
    }
    answer.finish();
    run.confirmed(state, at, progress)?;
    Ok(Step::More)
}

/// Takes what the 104s of a creation said: the upload URL (the first with
/// the interop version; a later one must be the same), the progress (at
/// most the `sent` bytes the creation carries: the server cannot have
/// more) and the limits.
fn take_interim(
    run: &mut Run<'_>,
    state: &mut UploadState,
    asked: &str,
    interim: &[Head],
    sent: u64,
    progress: &mut dyn FnMut(&UploadState),
) -> Result<(), TransferError> {
    for head in interim.iter().filter(|h| h.status == 104) {
        if head
            .headers
            .get("upload-draft-interop-version")
            .map(str::trim)
            != Some(INTEROP_VERSION)
        {
            continue;
        }
        if let Some(location) = head.headers.get("location") {
            let named = upload_url_of(&run.policy, asked, location)?;
            match &state.upload_url {
                Some(known) if *known != named => {
                    return Err(bad_answer(
                        "POST",
                        asked,
                        "two 104 answers named different upload URLs",
                    ))
                }
                _ => state.upload_url = Some(named),
            }
        }
        note_limits(state, head)?;
        if let Some(at) = head.headers.get("upload-offset").and_then(parse_offset) {
            if state.upload_url.is_some() && at <= sent {
                run.confirmed(state, at, progress)?;
            }
        }
    }
    Ok(())
}

/// The offset retrieval: HEAD the upload URL.
fn offset(
    run: &mut Run<'_>,
    state: &mut UploadState,
    progress: &mut dyn FnMut(&UploadState),
) -> Result<Step, TransferError> {
    let url = state.upload_url.clone().expect("an upload URL to ask");
    let call = Call {
        method: "HEAD",
        url: &url,
        fields: base_fields(),
        body: None,
    };
    let answer = run.client.exchange(&run.policy, &call, &mut Vec::new())?;
    match answer.head.status {
        200..=299 => {}
        404 | 410 => return Ok(Step::Lost),
        _ => return Err(status_error("HEAD", &answer)),
    }
    let headers = &answer.head.headers;
    let at = offset_of(state, &url, headers)?;
    let complete = boolean(headers.get("upload-complete")) == Some(true);
    note_limits(state, &answer.head)?;
    let status = answer.head.status;
    answer.finish();
    run.confirmed(state, at, progress)?;
    if complete {
        if at != state.file_size {
            return Err(bad_answer(
                "HEAD",
                &url,
                &format!(
                    "the upload is complete at {at} bytes, not the file's {}",
                    state.file_size
                ),
            ));
        }
        // Its final answer went to an earlier attempt, and was lost.
        return Ok(Step::Done(Finished {
            status,
            reply_len: None,
        }));
    }
    Ok(Step::More)
}

/// The upload append: PATCH the next piece.
fn append(
    run: &mut Run<'_>,
    state: &mut UploadState,
    reply: &mut Option<ReplySink<'_>>,
    progress: &mut dyn FnMut(&UploadState),
) -> Result<Step, TransferError> {
    run.check_local(state)?;
    let url = state.upload_url.clone().expect("an upload URL to send to");
    let from = state.confirmed;
    let len = run.chunk(state).min(state.file_size - from);
    let complete = from + len == state.file_size;
    let mut fields = base_fields();
    fields.push(("Content-Type", "application/partial-upload".into()));
    fields.push(("Upload-Offset", from.to_string()));
    fields.push(("Upload-Complete", if complete { "?1" } else { "?0" }.into()));
    let call = Call {
        method: "PATCH",
        url: &url,
        fields,
        body: Some(FileBody {
            file: &run.file,
            offset: from,
            len,
            pace: run.intent.pace,
        }),
    };
    let started = std::time::Instant::now();
    let answer = run.client.exchange(&run.policy, &call, &mut Vec::new())?;
    let took = started.elapsed();
    run.check_local(state)?;
    let head = &answer.head;
    if boolean(head.headers.get("upload-complete")) == Some(true)
        || (complete && (200..=299).contains(&head.status))
    {
        return finish("PATCH", answer, complete, state, reply, progress);
    }
    let step = match head.status {
        200..=299 => {
            let at = head
                .headers
                .get("upload-offset")
                .and_then(parse_offset)
                .unwrap_or(from + len);
            if at < from || at > from + len {
                return Err(bad_answer(
                    "PATCH",
                    &url,
                    &format!("Upload-Offset {at} is not within the {len} bytes sent from {from}"),
                ));
            }
            note_limits(state, head)?;
            answer.finish();
            run.piece_took(at - from, took);
            run.confirmed(state, at, progress)?;
            run.piece_confirmed(at < from + len, &format!("Upload-Offset {at}"))?;
            return Ok(Step::More);
        }
        409 => Step::Conflict,
        404 | 410 => Step::Lost,
        _ => return Err(status_error("PATCH", &answer)),
    };
    answer.finish();
    Ok(step)
}

/// The answer to the request that completed the upload (`sent_last`: it
/// carried the file's last byte): the reply. A server that says the
/// upload is complete before its last byte was sent is refused: the
/// bytes it never had are not confirmed (DESIGN §7.1: what the network
/// says is not what the caller's file is).
fn finish(
    method: &str,
    mut answer: Answer,
    sent_last: bool,
    state: &mut UploadState,
    reply: &mut Option<ReplySink<'_>>,
    progress: &mut dyn FnMut(&UploadState),
) -> Result<Step, TransferError> {
    let status = answer.head.status;
    if !(200..=299).contains(&status) {
        // The representation arrived whole; processing it failed, and
        // sending it again would not help.
        let mut err = status_error(method, &answer);
        err.transient = false;
        err.retry_after = None;
        return Err(err);
    }
    if !sent_last {
        return Err(bad_answer(
            method,
            &answer.url,
            &format!(
                "the server says the upload is complete (Upload-Complete: ?1), but the file's last bytes (of {}) were not sent yet",
                state.file_size
            ),
        ));
    }
    state.confirmed = state.file_size;
    progress(state);
    let reply_len = match reply {
        Some(sink) => {
            let mut counted = Counted {
                out: &mut *sink.out,
                n: 0,
            };
            let whole = answer.read_body(&mut counted, sink.limit).map_err(|e| {
                crate::engine::transport::error::read_error(
                    crate::engine::transport::error::SourceKind::Http,
                    &e,
                    counted.n,
                )
            })?;
            if !whole {
                return Err(TransferError::fatal(
                    HResult(QM_BG_E_TOO_LARGE),
                    ErrorContext::RemoteFile,
                    format!(
                        "{method} {}: the reply is longer than its limit of {} bytes",
                        answer.url, sink.limit
                    ),
                ));
            }
            Some(counted.n)
        }
        None => {
            answer.finish();
            None
        }
    };
    Ok(Step::Done(Finished { status, reply_len }))
}

/// Keeps the limits an answer names; a `max-size` below the file's size
/// ends the upload (`BG_E_TOO_LARGE`): the draft asks the client to stop.
fn note_limits(state: &mut UploadState, head: &Head) -> Result<(), TransferError> {
    let found = limits(&head.headers);
    if let Some(max) = found.max_size.filter(|&m| m < state.file_size) {
        return Err(TransferError::fatal(
            HResult(QM_BG_E_TOO_LARGE),
            ErrorContext::RemoteFile,
            format!(
                "the file has {} bytes; the server takes at most {max} (Upload-Limit: max-size)",
                state.file_size
            ),
        ));
    }
    if let Some(max) = found.max_append_size {
        // Appends of a few bytes would take a request (and a state
        // written) per few bytes of the file.
        if max < super::MIN_CHUNK {
            return Err(TransferError::fatal(
                HResult(QM_BG_E_INVALID_SERVER_RESPONSE),
                ErrorContext::RemoteFile,
                format!(
                    "the server takes appends of at most {max} bytes (Upload-Limit: max-append-size), under the {} bytes of qmgr's smallest piece",
                    super::MIN_CHUNK
                ),
            ));
        }
        state.max_append = Some(max);
    }
    if let Some(age) = found.max_age {
        state.expires = Some(std::time::SystemTime::now() + std::time::Duration::from_secs(age));
    }
    Ok(())
}

/// A writer that counts what passes.
struct Counted<'a> {
    out: &'a mut dyn Write,
    n: u64,
}

impl Write for Counted<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::transport::upload::test_headers as headers;

    #[test]
    fn booleans_are_structured() {
        assert_eq!(boolean(Some("?1")), Some(true));
        assert_eq!(boolean(Some(" ?0 ")), Some(false));
        for bad in ["1", "true", "?", "?2", ""] {
            assert_eq!(boolean(Some(bad)), None, "{bad}");
        }
        assert_eq!(boolean(None), None);
    }

    #[test]
    fn limits_take_known_integers_and_void_on_a_bad_one() {
        let l = limits(&headers(&[(
            "upload-limit",
            "max-size=1000000, max-append-size=65536, max-age=3600, future=\"x\"",
        )]));
        assert_eq!(
            l,
            Limits {
                max_size: Some(1_000_000),
                max_append_size: Some(65536),
                max_age: Some(3600)
            }
        );
        for bad in [
            "max-append-size=\"big\"",
            "max-size=-1",
            "max-append-size=1.5",
            "min-size=x, max-size=10",
        ] {
            assert_eq!(
                limits(&headers(&[("upload-limit", bad)])),
                Limits::default(),
                "{bad}"
            );
        }
    }
}
