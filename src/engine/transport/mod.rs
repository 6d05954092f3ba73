//! Transports: where a file's bytes come from.
//!
//! A transport opens a source at an offset and hands back a reader, the
//! source's size, and a validator (what identifies this version of the
//! source) so that a resumed transfer continues only on the same bytes.

mod file;
pub(crate) mod http;

use std::io::Read;
use std::path::PathBuf;

use crate::engine::error::{Error, Result};
use crate::engine::job::RunToken;
use crate::engine::options::HttpOptions;
use crate::engine::types::ErrorContext;
use crate::hresult::*;

/// The longest remote name accepted, as BITS's `FILESETINFO` allows.
pub(crate) const MAX_REMOTE_NAME: usize = 2200;

/// A parsed remote name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// A local file, from `file://` or an absolute path.
    Local(PathBuf),
    /// An `http://` or `https://` URL.
    Http(String),
}

impl Source {
    /// Parses a remote name; refuses anything but http(s), file URLs and absolute paths.
    pub(crate) fn parse(remote: &str) -> Result<Source> {
        if remote.is_empty() {
            return Err(Error::invalid_arg("the remote name is empty"));
        }
        if remote.len() > MAX_REMOTE_NAME {
            return Err(Error::invalid_arg(format!(
                "the remote name is {} bytes long; the limit is {MAX_REMOTE_NAME}",
                remote.len()
            )));
        }
        if remote.bytes().any(|b| b.is_ascii_control()) {
            return Err(Error::invalid_arg(
                "the remote name contains control characters",
            ));
        }
        if remote.starts_with('/') {
            return Ok(Source::Local(PathBuf::from(remote)));
        }
        let (scheme, rest) = remote.split_once("://").ok_or_else(|| {
            Error::invalid_arg(format!("'{remote}' is neither a URL nor an absolute path"))
        })?;
        match scheme.to_ascii_lowercase().as_str() {
            "file" => file::parse_file_url(rest).map(Source::Local),
            "http" | "https" => {
                check_url(remote).map_err(|why| {
                    Error::invalid_arg(format!("'{remote}' is not a valid URL: {why}"))
                })?;
                Ok(Source::Http(remote.to_string()))
            }
            other => Err(Error::invalid_arg(format!(
                "the scheme '{other}' is not supported (use http, https, file or an absolute path)"
            ))),
        }
    }
}

/// Checks that `url` is a URL a request can carry, with the parser requests
/// use (plus the port range it leaves to the caller), so that a URL accepted
/// when the file is added cannot fail later for its form. The error says
/// why, in words.
pub(crate) fn check_url(url: &str) -> std::result::Result<(), String> {
    let uri: ureq::http::Uri = url.parse().map_err(|e| format!("{e}"))?;
    let Some(authority) = uri.authority().filter(|a| !a.host().is_empty()) else {
        return Err("it has no host".to_string());
    };
    // After the user info and an IPv6 literal, a ':' introduces the port;
    // the parser keeps a port it cannot read as 0-65535 but reports none.
    let host_port = authority.as_str().rsplit('@').next().unwrap_or("");
    let after_host = host_port.rsplit(']').next().unwrap_or("");
    match after_host.rsplit_once(':') {
        Some((_, port)) if !port.is_empty() && authority.port_u16().is_none() => {
            Err(format!("the port '{port}' is not a number from 0 to 65535"))
        }
        _ => Ok(()),
    }
}

/// What identifies one version of a source: if it differs when a transfer
/// resumes, the file restarts from zero.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Validator {
    /// A local file's size and modification time.
    Local { len: u64, mtime_ns: i128 },
    /// A remote file's strong ETag / Last-Modified and size.
    Http(http::HttpValidator),
}

impl Validator {
    /// The validator as JSON, for the state directory.
    pub(crate) fn to_json(&self) -> String {
        match self {
            Validator::Local { len, mtime_ns } => {
                serde_json::json!({ "local": { "len": len, "mtime_ns": mtime_ns.to_string() } })
            }
            Validator::Http(v) => serde_json::json!({
                "http": { "etag": v.etag, "last_modified": v.last_modified, "total": v.total }
            }),
        }
        .to_string()
    }

    /// A validator from its JSON; `None` if unreadable (the file then restarts).
    pub(crate) fn from_json(text: &str) -> Option<Validator> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        if let Some(local) = v.get("local") {
            return Some(Validator::Local {
                len: local["len"].as_u64()?,
                mtime_ns: local["mtime_ns"].as_str()?.parse().ok()?,
            });
        }
        let h = v.get("http")?;
        Some(Validator::Http(http::HttpValidator {
            etag: h["etag"].as_str().map(String::from),
            last_modified: h["last_modified"].as_str().map(String::from),
            total: h["total"].as_u64(),
        }))
    }
}

/// A source opened for reading.
pub(crate) struct Opened {
    /// Where the reader starts: the offset asked for, or 0 when the file must restart.
    pub start: u64,
    /// The source's total size, when known.
    pub total: Option<u64>,
    /// This version's identity.
    pub validator: Option<Validator>,
    /// The bytes from `start` on.
    pub body: Box<dyn Read + Send>,
}

/// A failed transfer step, classified for the job's error model.
#[derive(Clone, Debug)]
pub(crate) struct TransferError {
    pub code: HResult,
    pub context: ErrorContext,
    pub http_status: u16,
    /// Retried after the retry delay (true), or the job stops in ERROR (false).
    pub transient: bool,
    pub description: String,
    /// The server's Retry-After, when it sent one.
    pub retry_after: Option<std::time::Duration>,
}

impl TransferError {
    /// A fatal error.
    pub(crate) fn fatal(
        code: HResult,
        context: ErrorContext,
        description: String,
    ) -> TransferError {
        TransferError {
            code,
            context,
            http_status: 0,
            transient: false,
            description,
            retry_after: None,
        }
    }

    /// A transient error.
    pub(crate) fn transient(
        code: HResult,
        context: ErrorContext,
        description: String,
    ) -> TransferError {
        TransferError {
            code,
            context,
            http_status: 0,
            transient: true,
            description,
            retry_after: None,
        }
    }

    /// An I/O error on the destination side: missing directory, full disk, permissions.
    pub(crate) fn local_io(
        what: &str,
        path: &std::path::Path,
        err: &std::io::Error,
    ) -> TransferError {
        TransferError::fatal(
            HResult::from_io_error(err),
            ErrorContext::LocalFile,
            format!("{what} '{}' failed: {err}", path.display()),
        )
    }
}

/// What one worker run needs to open sources: the job's HTTP options, and
/// the HTTP client built from them on first use (one connection pool per
/// run, shut down when the run is stopped).
pub(crate) struct Session {
    options: HttpOptions,
    client: Option<http::Client>,
}

impl Session {
    /// A session with a snapshot of the job's HTTP options.
    pub(crate) fn new(options: HttpOptions) -> Session {
        Session {
            options,
            client: None,
        }
    }

    /// Opens `source` at `offset`. `previous` is the validator seen when the
    /// partial data was written; a different one restarts the file.
    pub(crate) fn open(
        &mut self,
        token: &RunToken,
        source: &Source,
        offset: u64,
        previous: Option<&Validator>,
    ) -> Result<Opened, TransferError> {
        match source {
            Source::Local(path) => file::open(path, offset, previous),
            Source::Http(url) => {
                if self.client.is_none() {
                    self.client = Some(http::Client::new(self.options.clone(), token)?);
                }
                let client = self.client.as_ref().expect("client was just built");
                client.open(url, offset, previous)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_supported_forms() {
        assert_eq!(
            Source::parse("/tmp/a").unwrap(),
            Source::Local("/tmp/a".into())
        );
        assert_eq!(
            Source::parse("file:///tmp/a%20b").unwrap(),
            Source::Local("/tmp/a b".into())
        );
        assert_eq!(
            Source::parse("FILE://localhost/x").unwrap(),
            Source::Local("/x".into())
        );
        assert!(matches!(
            Source::parse("https://example.com/x").unwrap(),
            Source::Http(_)
        ));
        assert!(matches!(
            Source::parse("http://u:p@host:8080").unwrap(),
            Source::Http(_)
        ));
        assert!(matches!(
            Source::parse("http://[::1]:8080/a%20b?x=1").unwrap(),
            Source::Http(_)
        ));
    }

    #[test]
    fn refuses_urls_a_request_could_not_carry() {
        for bad in [
            "http://host/a b",
            "http://ho st/a",
            "http://host:65536/a",
            "http://host:port/a",
            "https://[::1/a",
            "http://user@host:99999",
            "http://",
            "http:///path",
            "http://:8080/x",
            "http://user@:8080/x",
            "https://?q",
        ] {
            let err = Source::parse(bad).unwrap_err();
            assert_eq!(err.code.0, QM_E_INVALIDARG, "{bad}");
            assert!(err.message.contains(bad), "{bad}: {}", err.message);
        }
    }

    #[test]
    fn validators_survive_a_json_round_trip() {
        let local = Validator::Local {
            len: 5,
            mtime_ns: -12_345_678_901_234,
        };
        assert_eq!(Validator::from_json(&local.to_json()), Some(local));
        let remote = Validator::Http(http::HttpValidator {
            etag: Some("\"v1\"".into()),
            last_modified: None,
            total: Some(1 << 40),
        });
        assert_eq!(Validator::from_json(&remote.to_json()), Some(remote));
        assert_eq!(Validator::from_json("{}"), None);
    }

    #[test]
    fn refuses_everything_else() {
        for bad in [
            "",
            "relative/path",
            "ftp://host/x",
            "http://",
            "http:///path",
            "http://:80/x",
            "file://otherhost/x",
            "file://relative",
            "file:///a%zz",
            "file:///a%00b",
            "/tmp/a\nb",
        ] {
            let err = Source::parse(bad).unwrap_err();
            assert_eq!(err.code.0, QM_E_INVALIDARG, "{bad:?}");
        }
        assert!(Source::parse(&format!("http://h/{}", "a".repeat(MAX_REMOTE_NAME))).is_err());
    }
}
