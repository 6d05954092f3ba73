//! Remote names: what a source is, and the checks a name passes when a
//! file is added, so that a name accepted then cannot fail later for its form.

use std::io::Read;
use std::path::PathBuf;

use crate::engine::error::{Error, Result};
use crate::engine::transport::url::{shown, unescape, Url};
use crate::engine::transport::validator::Validator;

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
            Error::invalid_arg(format!(
                "'{}' is neither a URL nor an absolute path",
                shown(remote)
            ))
        })?;
        match scheme.to_ascii_lowercase().as_str() {
            "file" => parse_file_url(rest).map(Source::Local),
            "https" if !cfg!(feature = "tls") => Err(Error::new(
                crate::hresult::QM_BG_E_PROTOCOL_NOT_AVAILABLE,
                format!("'{}' is an https:// URL, and this qmgr was built without the `tls` feature (no HTTPS)", shown(remote)),
            )),
            "http" | "https" => {
                check_url(remote).map_err(|why| {
                    Error::invalid_arg(format!("'{}' is not a valid URL: {why}", shown(remote)))
                })?;
                Ok(Source::Http(remote.to_string()))
            }
            // What precedes `://` is a scheme only if it reads as one (it
            // may be a user name and password and more).
            other => Err(Error::invalid_arg(format!(
                "the scheme '{}' is not supported (use http, https, file or an absolute path)",
                if crate::engine::transport::url::is_scheme(other) { other } else { "***" }
            ))),
        }
    }
}

impl Source {
    /// The server a connection to this source goes to: `scheme://host:port`
    /// (lower case, default port filled in), or `"file"` for local files.
    pub(crate) fn server(&self) -> String {
        match self {
            Source::Local(_) => "file".to_string(),
            Source::Http(url) => origin(url).unwrap_or_else(|| url.clone()),
        }
    }
}

/// A URL's origin, `scheme://host:port`, lower case, default port filled
/// in: what one server is, for connection caps and for where credentials
/// may follow a redirect. `None` for what is not a URL.
pub(crate) fn origin(url: &str) -> Option<String> {
    Url::parse(url).ok().map(|u| u.origin())
}

/// Checks that `url` is a URL a request can carry, with the parser
/// requests use. The error says why, in words.
pub(crate) fn check_url(url: &str) -> std::result::Result<(), String> {
    Url::parse(url).map(|_| ())
}

/// Parses the part of a `file://` URL after the scheme: an empty host or
/// `localhost`, then an absolute, percent-encoded path.
fn parse_file_url(rest: &str) -> Result<PathBuf> {
    let path = if rest.starts_with('/') {
        rest
    } else if let Some(stripped) = rest.strip_prefix("localhost") {
        stripped
    } else {
        return Err(Error::invalid_arg(format!(
            "the file URL 'file://{rest}' must name a local absolute path (file:///path)"
        )));
    };
    if !path.starts_with('/') {
        return Err(Error::invalid_arg(format!(
            "the file URL 'file://{rest}' has no absolute path"
        )));
    }
    let decoded = percent_decode(path).ok_or_else(|| {
        Error::invalid_arg(format!("the file URL 'file://{rest}' has a bad %-escape"))
    })?;
    Ok(PathBuf::from(decoded))
}

/// Decodes %XX escapes; refuses malformed escapes, NUL and non-UTF-8 results.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = unescape(s, false)?;
    if bytes.contains(&0) {
        return None;
    }
    String::from_utf8(bytes).ok()
}

/// A source opened for reading.
pub(crate) struct Opened {
    /// Where the reader starts: the offset asked for, or 0 when the file must restart.
    pub start: u64,
    /// The source's total size, when known.
    pub total: Option<u64>,
    /// This version's identity.
    pub validator: Option<Validator>,
    /// Where the body ends, when known (the end of the range asked for, or
    /// the total): reading it to there leaves the connection reusable.
    pub end: Option<u64>,
    /// The server answers range requests (`Accept-Ranges: bytes`, or a 206):
    /// the file can be fetched in segments.
    pub ranges: bool,
    /// The bytes from `start` on.
    pub body: Box<dyn Read + Send>,
    /// The TCP connection the body comes over (a second handle to it),
    /// for the yielding controller's round trips; `None` for local files.
    pub socket: Option<std::net::TcpStream>,
    /// Whether the connection may serve a later request once the body is
    /// read: a reader that fixed the socket's buffer (yielding) clears it.
    pub reusable: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// The URL the bytes came from, when redirects led elsewhere.
    pub final_url: Option<String>,
    /// The response's header lines (`Name: value\r\n` each), `None` for
    /// sources without headers (local files).
    pub headers: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hresult::*;

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
            // Quoted as given, its user info masked (it may hold a password).
            let quoted = shown(bad);
            assert!(err.message.contains(&*quoted), "{bad}: {}", err.message);
            assert!(!quoted.contains("user"), "{quoted}");
        }
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

    #[test]
    fn what_is_not_a_url_is_quoted_without_a_password() {
        // Found by an attack: without a scheme (or with a `://` further on),
        // the text, or a "scheme" holding the user info, was quoted whole.
        for bad in [
            "u:SECRET@127.0.0.1:1/f",
            "u:SECRET@h/?next=http://x",
            "http://u:'SECRET#x@127.0.0.1:1/f",
            "http://u:x'SECRET?y@h/",
        ] {
            let err = Source::parse(bad).unwrap_err();
            assert!(!err.message.contains("SECRET"), "{bad}: {}", err.message);
            assert!(
                !err.message.to_lowercase().contains("secret"),
                "{bad}: {}",
                err.message
            );
        }
    }
}
