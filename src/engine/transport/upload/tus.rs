//! tus 1.0.0 (tus.io, protocol 1.0.0): core, creation, termination,
//! checksum (SHA-256) and expiration. Every request says
//! `Tus-Resumable: 1.0.0`.
//!
//! ```text
//!  OPTIONS url ──► Tus-Extension, Tus-Checksum-Algorithm, Tus-Max-Size
//!  no upload URL:  POST url (Upload-Length, Upload-Metadata filename)
//!                  ──► 201 Location: the upload URL (same origin only)
//!  an upload URL:  HEAD it ──► Upload-Offset (404/410/403: lost, create again)
//!  until the end:  PATCH it (application/offset+octet-stream, Upload-Offset,
//!                  Upload-Checksum: sha256 <base64> when offered)
//!                  ──► 204 Upload-Offset: confirmed
//!                  409: ask again (HEAD); 460: send the piece again
//! ```
//!
//! Upload-reply: tus has no reply. The last PATCH is answered like every
//! other (`204 No Content`, no body); what the server makes of the upload
//! is outside the protocol. An upload-reply over tus is therefore refused
//! (`E_INVALIDARG`: here before any request, and, once upload jobs exist,
//! when such a job is set up), never answered with an empty reply.

use std::os::unix::fs::FileExt;

use base64::Engine;
use sha2::{Digest, Sha256};

use super::{
    bad_answer, offset_of, parse_offset, status_error, upload_url_of, Finished, Run, UploadState,
};
use crate::engine::transport::error::TransferError;
use crate::engine::transport::http::exchange::{Answer, Call, FileBody};
use crate::engine::types::ErrorContext;
use crate::hresult::*;

/// The protocol version every request names.
pub(crate) const VERSION: &str = "1.0.0";

/// The status a tus server answers a checksum mismatch with (checksum
/// extension).
const CHECKSUM_MISMATCH: u16 = 460;

/// The fields every tus request carries.
pub(crate) fn base_fields() -> Vec<(&'static str, String)> {
    vec![("Tus-Resumable", VERSION.to_string())]
}

/// What the server's OPTIONS said it offers.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Offer {
    /// The checksum extension with SHA-256.
    pub sha256: bool,
    /// `Tus-Max-Size`.
    pub max_size: Option<u64>,
}

impl Offer {
    /// Reads an OPTIONS answer's fields.
    pub(crate) fn of(headers: &crate::engine::transport::http::Headers) -> Offer {
        let list = |name: &str| -> Vec<String> {
            headers
                .get_all(name)
                .flat_map(|v| v.split(','))
                .map(|t| t.trim().to_ascii_lowercase())
                .collect()
        };
        let checksum = list("tus-extension").iter().any(|e| e == "checksum");
        let sha256 = list("tus-checksum-algorithm").iter().any(|a| a == "sha256");
        Offer {
            sha256: checksum && sha256,
            max_size: headers.get("tus-max-size").and_then(parse_offset),
        }
    }
}

/// The `Upload-Metadata` of a file named `name`: its `filename`, and a
/// `filetype` of `application/octet-stream` (the pair tus clients send;
/// some servers, tuspyserver among them, refuse a HEAD without both).
pub(crate) fn metadata(name: &str) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
    format!(
        "filename {},filetype {}",
        b64(name),
        b64("application/octet-stream")
    )
}

/// What a PATCH did.
enum Patched {
    /// The server confirmed up to this offset, `short` of the piece's end.
    Confirmed { at: u64, short: bool },
    /// 409: the offset was not the server's.
    Conflict,
    /// 460: the piece arrived damaged.
    ChecksumMismatch,
    /// 404, 410, 403: the server no longer has the upload.
    Lost,
}

/// One attempt of a tus upload (see the module documentation).
pub(crate) fn run(
    run: &mut Run<'_>,
    state: &mut UploadState,
    progress: &mut dyn FnMut(&UploadState),
) -> Result<Finished, TransferError> {
    let offer = discover(run)?;
    if let Some(max) = offer.max_size.filter(|&m| state.file_size > m) {
        return Err(TransferError::fatal(
            HResult(QM_BG_E_TOO_LARGE),
            ErrorContext::RemoteFile,
            format!(
                "{}: the file has {} bytes; the server takes at most {max} (Tus-Max-Size)",
                run.policy.url, state.file_size
            ),
        ));
    }
    // Resume is asked, never assumed.
    let mut ask = state.upload_url.is_some();
    let mut last = 204;
    loop {
        run.check_cancel()?;
        if state.upload_url.is_none() {
            create(run, state)?;
            run.confirmed(state, 0, progress)?;
            ask = false;
        }
        if ask {
            match offset(run, state)? {
                Some(at) => run.confirmed(state, at, progress)?,
                None => {
                    state.lost();
                    run.unproductive("the server lost the upload")?;
                    continue;
                }
            }
            ask = false;
        }
        if state.confirmed == state.file_size {
            return Ok(Finished {
                status: last,
                reply_len: None,
            });
        }
        match patch(run, state, &offer, &mut last)? {
            Patched::Confirmed { at, short } => {
                run.confirmed(state, at, progress)?;
                run.piece_confirmed(short, &format!("Upload-Offset {at}"))?;
            }
            Patched::Conflict => {
                run.unproductive("409 Conflict")?;
                ask = true;
            }
            Patched::ChecksumMismatch => run.unproductive("460 Checksum Mismatch")?,
            Patched::Lost => {
                state.lost();
                run.unproductive("the server lost the upload")?;
            }
        }
    }
}

/// OPTIONS: what the server offers. A server without OPTIONS offers
/// nothing beyond the core (the request is optional in tus).
fn discover(run: &Run<'_>) -> Result<Offer, TransferError> {
    let call = Call {
        method: "OPTIONS",
        url: &run.policy.url,
        fields: base_fields(),
        body: None,
    };
    let answer = run.client.exchange(&run.policy, &call, &mut Vec::new())?;
    let offer = match answer.head.status {
        200..=299 => Offer::of(&answer.head.headers),
        _ => Offer::default(),
    };
    answer.finish();
    Ok(offer)
}

/// POST: a new upload of the file's length; its URL into `state`.
fn create(run: &Run<'_>, state: &mut UploadState) -> Result<(), TransferError> {
    let mut fields = base_fields();
    fields.push(("Upload-Length", state.file_size.to_string()));
    if let Some(name) = run.intent.path.file_name().and_then(|n| n.to_str()) {
        fields.push(("Upload-Metadata", metadata(name)));
    }
    let call = Call {
        method: "POST",
        url: &run.policy.url,
        fields,
        body: None,
    };
    let answer = run.client.exchange(&run.policy, &call, &mut Vec::new())?;
    match answer.head.status {
        200..=299 => {}
        413 => {
            return Err(TransferError::fatal(
                HResult(QM_BG_E_TOO_LARGE),
                ErrorContext::RemoteFile,
                format!(
                    "POST {}: the server refused an upload of {} bytes (413)",
                    answer.url, state.file_size
                ),
            ))
        }
        _ => return Err(status_error("POST", &answer)),
    }
    let Some(location) = answer.head.headers.get("location") else {
        return Err(bad_answer(
            "POST",
            &answer.url,
            "the creation was answered without a Location",
        ));
    };
    state.upload_url = Some(upload_url_of(&run.policy, &answer.url, location)?);
    state.confirmed = 0;
    note_expiry(state, &answer);
    answer.finish();
    Ok(())
}

/// HEAD: the server's offset, or `None` when it lost the upload.
fn offset(run: &Run<'_>, state: &mut UploadState) -> Result<Option<u64>, TransferError> {
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
        403 | 404 | 410 => return Ok(None),
        _ => return Err(status_error("HEAD", &answer)),
    }
    let at = offset_of(state, &url, &answer.head.headers)?;
    note_expiry(state, &answer);
    answer.finish();
    Ok(Some(at))
}

/// PATCH: the next piece from the confirmed offset.
fn patch(
    run: &mut Run<'_>,
    state: &mut UploadState,
    offer: &Offer,
    last: &mut u16,
) -> Result<Patched, TransferError> {
    let url = state.upload_url.clone().expect("an upload URL to send to");
    let from = state.confirmed;
    let len = run.chunk(state).min(state.file_size - from);
    run.check_local(state)?;
    let mut fields = base_fields();
    fields.push(("Content-Type", "application/offset+octet-stream".into()));
    fields.push(("Upload-Offset", from.to_string()));
    if offer.sha256 {
        let digest = sha256_of(&run.file, from, len)
            .map_err(|e| TransferError::local_io("reading", run.intent.path, &e))?;
        let encoded = base64::engine::general_purpose::STANDARD.encode(digest);
        fields.push(("Upload-Checksum", format!("sha256 {encoded}")));
    }
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
    // The bytes sent must be the version the upload started with.
    run.check_local(state)?;
    *last = answer.head.status;
    let patched = match answer.head.status {
        200..=299 => {
            let at = answer
                .head
                .headers
                .get("upload-offset")
                .and_then(parse_offset);
            match at {
                Some(at) if at >= from && at <= from + len => {
                    run.piece_took(at - from, took);
                    Patched::Confirmed {
                        at,
                        short: at < from + len,
                    }
                }
                _ => {
                    return Err(bad_answer(
                        "PATCH",
                        &url,
                        &format!(
                            "the answer's Upload-Offset ({}) is not within the {len} bytes sent from {from}",
                            answer.head.headers.get("upload-offset").unwrap_or("none")
                        ),
                    ))
                }
            }
        }
        409 => Patched::Conflict,
        CHECKSUM_MISMATCH => Patched::ChecksumMismatch,
        403 | 404 | 410 => Patched::Lost,
        _ => return Err(status_error("PATCH", &answer)),
    };
    note_expiry(state, &answer);
    answer.finish();
    Ok(patched)
}

/// Keeps the `Upload-Expires` an answer names (expiration extension).
fn note_expiry(state: &mut UploadState, answer: &Answer) {
    if let Some(when) = answer
        .head
        .headers
        .get("upload-expires")
        .and_then(|v| httpdate::parse_http_date(v.trim()).ok())
    {
        state.expires = Some(when);
    }
}

/// The SHA-256 of `len` bytes of `file` from `offset`, read a piece at a time.
fn sha256_of(file: &std::fs::File, offset: u64, len: u64) -> std::io::Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut at = offset;
    let end = offset + len;
    while at < end {
        let want = buf.len().min((end - at) as usize);
        let n = file.read_at(&mut buf[..want], at)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        hasher.update(&buf[..n]);
        at += n as u64;
    }
    Ok(hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::transport::upload::test_headers as headers;

    #[test]
    fn the_checksum_is_sent_only_when_sha256_is_offered() {
        let both = headers(&[
            ("tus-extension", "creation,termination, Checksum"),
            ("tus-checksum-algorithm", "md5,SHA256"),
            ("tus-max-size", "1073741824"),
        ]);
        assert_eq!(
            Offer::of(&both),
            Offer {
                sha256: true,
                max_size: Some(1 << 30)
            }
        );
        let no_sha = headers(&[
            ("tus-extension", "checksum"),
            ("tus-checksum-algorithm", "md5,sha1"),
        ]);
        assert!(!Offer::of(&no_sha).sha256);
        let no_extension = headers(&[("tus-checksum-algorithm", "sha256")]);
        assert!(!Offer::of(&no_extension).sha256);
        assert_eq!(
            Offer::of(&headers(&[("tus-max-size", "-1")])).max_size,
            None
        );
    }

    #[test]
    fn metadata_names_the_file_in_base64() {
        assert_eq!(
            metadata("crash.dmp"),
            "filename Y3Jhc2guZG1w,filetype YXBwbGljYXRpb24vb2N0ZXQtc3RyZWFt"
        );
    }
}
