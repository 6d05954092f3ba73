//! Per-job HTTP options: validated when they are set (headers, credentials,
//! proxy URLs, PEM files), used by the HTTP transport.

use std::path::{Path, PathBuf};

use crate::engine::error::{Error, Result};
use crate::engine::transport::pem::read_small_file;
#[cfg(feature = "tls")]
use crate::engine::transport::pem::{read_pem_certs, read_pem_key};
use crate::engine::transport::source::check_url;
use crate::engine::types::SecurityFlags;
use crate::hresult::*;

/// Longest user name accepted (BITS: `BG_E_USERNAME_TOO_LARGE` beyond).
pub(crate) const MAX_USER_NAME: usize = 300;
/// Longest password accepted (BITS: `BG_E_PASSWORD_TOO_LARGE` beyond).
pub(crate) const MAX_PASSWORD: usize = 65536;
/// Longest custom header block accepted, in bytes: about what common
/// servers accept for a whole request head (8 to 16 KiB). Every job
/// snapshot carries the block (a service's `GetJob`, `ListJobs` and each
/// `Watch` event), so an unbounded one let one user make a daemon hold
/// gigabytes.
pub(crate) const MAX_CUSTOM_HEADERS: usize = 16 * 1024;
/// Longest proxy URL accepted, in bytes (as a remote name).
pub(crate) const MAX_PROXY_URL: usize = crate::engine::transport::source::MAX_REMOTE_NAME;
/// Headers qmgr manages itself: a caller setting them would break framing or resume.
const RESERVED_HEADERS: &[&str] = &[
    "range",
    "if-range",
    "content-length",
    "transfer-encoding",
    "connection",
];

/// Where requests go through.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ProxySetting {
    /// `http_proxy`, `https_proxy` and `no_proxy` from the environment (the default).
    #[default]
    FromEnvironment,
    /// No proxy at all.
    Direct,
    /// This proxy URL (`http://`, `https://`, `socks4://`, `socks4a://`, `socks5://`, `socks5h://`).
    Url(String),
}

/// Default stall timeout: a connection that delivers nothing for this long is
/// given up (and the transfer retried).
pub const DEFAULT_STALL_TIMEOUT_SECS: u32 = 60;

/// The HTTP options of one job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HttpOptions {
    /// As the caller gave them ("K: V\r\n…"), and parsed.
    pub custom_headers: Option<(String, Vec<(String, String)>)>,
    pub credentials: Option<(String, String)>,
    pub proxy: ProxySetting,
    pub ca_file: Option<PathBuf>,
    pub client_certificate: Option<(PathBuf, PathBuf)>,
    /// Longest wait for any single read or write on a connection, and for
    /// a whole response head.
    pub stall_timeout: std::time::Duration,
    /// The redirect policy (and refused certificate relaxations).
    pub security_flags: SecurityFlags,
    /// The time of the job's low-speed limit, when it has one: a request
    /// must reach its body within it (connect and head). Set by the worker
    /// for a run from the job's limit; not stored.
    pub low_speed_time: Option<std::time::Duration>,
    /// Where [`ProxySetting::FromEnvironment`] reads the proxy variables:
    /// the manager's [`Environment`] for a run, set by the runtime when
    /// the run starts (the job's own options hold an empty one); not stored.
    pub environment: std::sync::Arc<Environment>,
}

/// The process environment as a caller's thread read it. qmgr's own
/// threads never read the environment: glibc's `getenv` is not safe
/// against a `setenv` on another thread, and a C host's `setenv` takes no
/// lock of Rust's. So a manager reads it on the caller's thread, when it
/// opens and again in each resume, and its transfers (the proxy variables
/// of [`ProxySetting::FromEnvironment`]) and notify programs (their
/// environment) use the last one read.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Environment(Vec<(std::ffi::OsString, std::ffi::OsString)>);

impl Environment {
    /// Reads the process environment: only on a caller's thread.
    pub(crate) fn capture() -> Environment {
        Environment(std::env::vars_os().collect())
    }

    /// An environment of these variables.
    #[cfg(test)]
    pub(crate) fn of(vars: &[(&str, &str)]) -> Environment {
        Environment(vars.iter().map(|(n, v)| (n.into(), v.into())).collect())
    }

    /// The value of `name` (the first, as `getenv`), if it is UTF-8.
    pub(crate) fn var(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.to_str())
    }

    /// Every variable, in the order read.
    pub(crate) fn vars(&self) -> &[(std::ffi::OsString, std::ffi::OsString)] {
        &self.0
    }
}

impl std::fmt::Debug for Environment {
    /// The number of variables only: values may be secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Environment({} variables)", self.0.len())
    }
}

impl Default for HttpOptions {
    fn default() -> HttpOptions {
        HttpOptions {
            custom_headers: None,
            credentials: None,
            proxy: ProxySetting::default(),
            ca_file: None,
            client_certificate: None,
            stall_timeout: std::time::Duration::from_secs(u64::from(DEFAULT_STALL_TIMEOUT_SECS)),
            security_flags: SecurityFlags::default(),
            low_speed_time: None,
            environment: std::sync::Arc::default(),
        }
    }
}

impl HttpOptions {
    /// The options as JSON, for the state directory.
    #[cfg(feature = "state")]
    pub(crate) fn to_json(&self) -> String {
        let proxy = match &self.proxy {
            ProxySetting::FromEnvironment => serde_json::json!({ "env": true }),
            ProxySetting::Direct => serde_json::json!({ "direct": true }),
            ProxySetting::Url(url) => serde_json::json!({ "url": url }),
        };
        serde_json::json!({
            "headers": self.custom_headers.as_ref().map(|(text, _)| text),
            "credentials": self.credentials,
            "proxy": proxy,
            "ca_file": self.ca_file,
            "client_certificate": self.client_certificate,
            "stall_timeout_secs": self.stall_timeout.as_secs(),
            "security_flags": self.security_flags.0,
        })
        .to_string()
    }

    /// Options from their JSON, as [`HttpOptions::to_json`] wrote them. A
    /// key that is missing keeps its default (an older release wrote fewer:
    /// `{}` before any option was set, no `security_flags` before 0.2).
    /// Anything else that does not read is an error naming the key, never
    /// a default, since a default is a weaker option (no CA file, the
    /// silent redirect policy): text that is not a JSON object, a value of
    /// the wrong type, a value the setter would refuse (headers, a relative
    /// path, a redirect policy, a proxy URL, credentials), and a key this
    /// qmgr does not know (a newer qmgr's option, which may restrict). The
    /// error names keys only, never a value (a password, an API key).
    #[cfg(feature = "state")]
    pub(crate) fn from_json(text: &str) -> std::result::Result<HttpOptions, String> {
        use serde_json::Value;
        let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON ({e})"))?;
        let Value::Object(map) = v else {
            return Err("not a JSON object".to_string());
        };
        let mut o = HttpOptions::default();
        for (key, value) in &map {
            let bad = |why: &str| format!("'{key}' {why}");
            let string = |v: &Value| v.as_str().map(str::to_string);
            let pair = |v: &Value| match v.as_array().map(Vec::as_slice) {
                Some([a, b]) => Some((string(a)?, string(b)?)),
                _ => None,
            };
            let absolute = |p: String| {
                let p = PathBuf::from(p);
                p.is_absolute().then_some(p)
            };
            match (key.as_str(), value) {
                ("headers" | "credentials" | "ca_file" | "client_certificate", Value::Null) => {}
                ("headers", _) => {
                    let text = string(value).ok_or_else(|| bad("is not a string"))?;
                    let list =
                        parse_headers(&text).map_err(|_| bad("is not a valid header block"))?;
                    o.custom_headers = (!list.is_empty()).then_some((text, list));
                }
                ("credentials", _) => {
                    let (user, password) = pair(value)
                        .filter(|(u, p)| check_credentials(u, p).is_ok())
                        .ok_or_else(|| bad("is not a valid user name and password"))?;
                    o.credentials = Some((user, password));
                }
                ("proxy", _) => {
                    let is = |name: &str| value[name].as_bool() == Some(true);
                    let setting = match value.as_object().map(|m| m.len()) {
                        Some(1) if is("env") => Some(ProxySetting::FromEnvironment),
                        Some(1) if is("direct") => Some(ProxySetting::Direct),
                        Some(1) => value["url"]
                            .as_str()
                            .filter(|url| !url.is_empty())
                            .and_then(|url| parse_proxy(Some(url)).ok()),
                        _ => None,
                    };
                    o.proxy = setting.ok_or_else(|| bad("is not a valid proxy setting"))?;
                }
                ("ca_file", _) => {
                    let path = string(value).and_then(absolute);
                    o.ca_file = Some(path.ok_or_else(|| bad("is not an absolute path"))?);
                }
                ("client_certificate", _) => {
                    let paths = pair(value).and_then(|(c, k)| Some((absolute(c)?, absolute(k)?)));
                    o.client_certificate =
                        Some(paths.ok_or_else(|| bad("is not two absolute paths"))?);
                }
                ("stall_timeout_secs", _) => {
                    // What `set_stall_timeout` takes: 1 to u32::MAX seconds
                    // (a larger one overflowed the deadline arithmetic).
                    let secs = value
                        .as_u64()
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or_else(|| bad("is not a number of seconds (0 to 4294967295)"))?;
                    o.stall_timeout = std::time::Duration::from_secs(u64::from(secs.max(1)));
                }
                ("security_flags", _) => {
                    o.security_flags = value
                        .as_u64()
                        .and_then(|n| u32::try_from(n).ok())
                        .and_then(|n| check_security_flags(n).ok())
                        .ok_or_else(|| bad("is not a valid redirect policy"))?;
                }
                _ => return Err(bad("is not an option this qmgr knows")),
            }
        }
        Ok(o)
    }
}

/// Refuses a custom header block longer than [`MAX_CUSTOM_HEADERS`]
/// (checked when set, not when a stored job is read back).
pub(crate) fn check_headers_len(text: &str) -> Result<()> {
    if text.len() > MAX_CUSTOM_HEADERS {
        return Err(Error::invalid_arg(format!(
            "the custom headers are {} bytes long; the limit is {MAX_CUSTOM_HEADERS}",
            text.len()
        )));
    }
    Ok(())
}

/// Refuses a proxy URL longer than [`MAX_PROXY_URL`] (checked when set).
pub(crate) fn check_proxy_len(proxy: Option<&str>) -> Result<()> {
    match proxy {
        Some(url) if url.len() > MAX_PROXY_URL => Err(Error::new(
            QM_BG_E_INVALID_PROXY_INFO,
            format!(
                "the proxy URL is {} bytes long; the limit is {MAX_PROXY_URL}",
                url.len()
            ),
        )),
        _ => Ok(()),
    }
}

/// Parses `"Name: value\r\n…"`; the last CRLF is optional, an empty string means none.
pub(crate) fn parse_headers(text: &str) -> Result<Vec<(String, String)>> {
    let body = text.strip_suffix("\r\n").unwrap_or(text);
    if body.is_empty() {
        return Ok(Vec::new());
    }
    body.split("\r\n")
        .map(|line| {
            let (name, value) = line.split_once(':').ok_or_else(|| {
                Error::invalid_arg(format!("the header line '{line}' has no ':'"))
            })?;
            let is_token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
            if name.is_empty() || !name.chars().all(is_token) {
                return Err(Error::invalid_arg(format!(
                    "'{name}' is not a valid header name"
                )));
            }
            if value
                .chars()
                .any(|c| c == '\r' || c == '\n' || (c.is_ascii_control() && c != '\t'))
            {
                return Err(Error::invalid_arg(format!(
                    "the value of header '{name}' has control characters"
                )));
            }
            if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(Error::invalid_arg(format!(
                    "the header '{name}' is managed by qmgr and cannot be set"
                )));
            }
            Ok((name.to_string(), value.trim().to_string()))
        })
        .collect()
}

/// Checks HTTP security flags: a redirect policy (ALLOW_SILENT,
/// ALLOW_REPORT or DISALLOW), optionally with ALLOW_HTTPS_TO_HTTP. The
/// certificate relaxations (`BG_SSL_*`) are refused with `QM_E_NOTIMPL`:
/// qmgr always verifies certificates, and a private CA is trusted with
/// `set_ca_file` instead.
pub(crate) fn check_security_flags(flags: u32) -> Result<SecurityFlags> {
    let ssl = SecurityFlags::SSL_ENABLE_CRL_CHECK
        | SecurityFlags::SSL_IGNORE_CERT_CN_INVALID
        | SecurityFlags::SSL_IGNORE_CERT_DATE_INVALID
        | SecurityFlags::SSL_IGNORE_UNKNOWN_CA
        | SecurityFlags::SSL_IGNORE_CERT_WRONG_USAGE;
    let known = ssl
        | SecurityFlags::REDIRECT_POLICY_MASK
        | SecurityFlags::REDIRECT_POLICY_ALLOW_HTTPS_TO_HTTP;
    if flags & !known != 0 {
        return Err(Error::invalid_arg(format!(
            "unknown security flags 0x{:x}",
            flags & !known
        )));
    }
    if flags & ssl != 0 {
        return Err(Error::new(
            QM_E_NOTIMPL,
            format!(
                "the certificate flags 0x{:x} are not supported: qmgr always verifies \
                 certificates and revocation is not checked; trust a private CA with a CA file",
                flags & ssl
            ),
        ));
    }
    let policy = SecurityFlags(flags).redirect_policy();
    if ![
        SecurityFlags::REDIRECT_POLICY_ALLOW_SILENT,
        SecurityFlags::REDIRECT_POLICY_ALLOW_REPORT,
        SecurityFlags::REDIRECT_POLICY_DISALLOW,
    ]
    .contains(&policy)
    {
        return Err(Error::invalid_arg(format!(
            "0x{policy:x} is not a redirect policy (ALLOW_SILENT, ALLOW_REPORT or DISALLOW)"
        )));
    }
    Ok(SecurityFlags(flags))
}

/// Checks a Basic user name and password.
pub(crate) fn check_credentials(user: &str, password: &str) -> Result<()> {
    if user.chars().count() > MAX_USER_NAME {
        return Err(Error::new(
            QM_BG_E_USERNAME_TOO_LARGE,
            format!("the user name is longer than {MAX_USER_NAME} characters"),
        ));
    }
    if password.chars().count() > MAX_PASSWORD {
        return Err(Error::new(
            QM_BG_E_PASSWORD_TOO_LARGE,
            format!("the password is longer than {MAX_PASSWORD} characters"),
        ));
    }
    if user.contains(':') {
        return Err(Error::invalid_arg("a Basic user name cannot contain ':'"));
    }
    if user.chars().chain(password.chars()).any(|c| c.is_control()) {
        return Err(Error::invalid_arg(
            "user name and password cannot contain control characters",
        ));
    }
    Ok(())
}

/// Parses a proxy setting: `None` is the environment, `""` is direct.
pub(crate) fn parse_proxy(proxy: Option<&str>) -> Result<ProxySetting> {
    let Some(url) = proxy else {
        return Ok(ProxySetting::FromEnvironment);
    };
    if url.is_empty() {
        return Ok(ProxySetting::Direct);
    }
    let invalid = || {
        Error::new(
            QM_BG_E_INVALID_PROXY_INFO,
            format!(
                "'{}' is not a proxy URL (scheme://[user:password@]host[:port])",
                crate::engine::transport::url::shown(url)
            ),
        )
    };
    let (scheme, _) = url.split_once("://").ok_or_else(invalid)?;
    let known = ["http", "https", "socks4", "socks4a", "socks5", "socks5h"];
    if !known.contains(&scheme.to_ascii_lowercase().as_str()) {
        return Err(invalid());
    }
    // The parsers a transfer will use: what they refuse (no host, a port
    // over 65535, characters a URL cannot hold) is refused now, not at
    // transfer time.
    check_url(url).map_err(|_| invalid())?;
    Ok(ProxySetting::Url(url.to_string()))
}

/// Checks that `path` is an absolute path to a readable regular file of
/// PEM size, without blocking (a FIFO is refused, not opened for reading).
pub(crate) fn check_readable_file(what: &str, path: &str) -> Result<PathBuf> {
    let p = Path::new(path);
    if !p.is_absolute() {
        return Err(Error::invalid_arg(format!(
            "the {what} path '{path}' is not absolute"
        )));
    }
    // Opened first for the error's code alone (without blocking on a
    // FIFO): a missing file keeps its not-found code, and one this thread
    // may not read (a job owner's rights) is QM_E_ACCESSDENIED, not a bad
    // argument.
    if let Err(e) = crate::engine::transport::file::open_regular(p) {
        return Err(Error {
            code: HResult::from_io_error(&e),
            message: format!("cannot read the {what} '{path}': {e}"),
        });
    }
    read_small_file(p)
        .map(|_| p.to_path_buf())
        .map_err(|why| Error::invalid_arg(format!("the {what}: {why}")))
}

/// Checks a CA bundle: a readable PEM file with at least one certificate.
/// `QM_E_NOTIMPL` in a build without TLS.
pub(crate) fn check_ca_file(path: &str) -> Result<PathBuf> {
    without_tls("a CA file")?;
    let p = check_readable_file("CA file", path)?;
    #[cfg(feature = "tls")]
    read_pem_certs(&p).map_err(Error::invalid_arg)?;
    Ok(p)
}

/// Checks a client certificate chain and its private key (PEM files).
/// `QM_E_NOTIMPL` in a build without TLS.
pub(crate) fn check_client_certificate(cert: &str, key: &str) -> Result<(PathBuf, PathBuf)> {
    without_tls("a client certificate")?;
    let cert = check_readable_file("client certificate", cert)?;
    let key = check_readable_file("client key", key)?;
    #[cfg(feature = "tls")]
    {
        read_pem_certs(&cert).map_err(Error::invalid_arg)?;
        read_pem_key(&key).map_err(Error::invalid_arg)?;
    }
    Ok((cert, key))
}

/// `QM_E_NOTIMPL` for a TLS setting in a build without TLS.
fn without_tls(what: &str) -> Result<()> {
    if cfg!(feature = "tls") {
        return Ok(());
    }
    Err(Error::new(
        crate::hresult::QM_E_NOTIMPL,
        format!("{what} cannot be set: this qmgr was built without the `tls` feature (no HTTPS)"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse_and_refuse_injection() {
        let h = parse_headers("X-A: 1\r\nX-B:two\r\n").unwrap();
        assert_eq!(
            h,
            vec![("X-A".into(), "1".into()), ("X-B".into(), "two".into())]
        );
        assert!(parse_headers("").unwrap().is_empty());
        for bad in [
            "X-A 1",
            ": v",
            "X A: 1",
            "X-A: 1\nEvil: 2",
            "Range: bytes=0-",
            "X-A: a\rb",
            "X: 1\r\n\r\nY: 2",
        ] {
            assert_eq!(
                parse_headers(bad).unwrap_err().code.0,
                QM_E_INVALIDARG,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn options_survive_a_json_round_trip() {
        let o = HttpOptions {
            custom_headers: Some(("X-A: 1\r\n".into(), parse_headers("X-A: 1\r\n").unwrap())),
            credentials: Some(("u".into(), "p w".into())),
            proxy: ProxySetting::Url("http://proxy:3128".into()),
            ca_file: Some("/etc/ca.pem".into()),
            client_certificate: Some(("/c.pem".into(), "/k.pem".into())),
            stall_timeout: std::time::Duration::from_secs(7),
            security_flags: SecurityFlags(
                SecurityFlags::REDIRECT_POLICY_ALLOW_REPORT
                    | SecurityFlags::REDIRECT_POLICY_ALLOW_HTTPS_TO_HTTP,
            ),
            low_speed_time: None,
            environment: Default::default(),
        };
        assert_eq!(HttpOptions::from_json(&o.to_json()), Ok(o));
        for proxy in [ProxySetting::Direct, ProxySetting::FromEnvironment] {
            let only = HttpOptions {
                proxy,
                ..HttpOptions::default()
            };
            assert_eq!(HttpOptions::from_json(&only.to_json()), Ok(only));
        }
        // What an older release wrote: missing keys keep their defaults.
        assert_eq!(HttpOptions::from_json("{}"), Ok(HttpOptions::default()));
        let old = r#"{"headers":null,"credentials":null,"proxy":{"env":true},"ca_file":"/ca.pem","client_certificate":null,"stall_timeout_secs":60}"#;
        let read = HttpOptions::from_json(old).unwrap();
        assert_eq!(read.ca_file.as_deref(), Some(Path::new("/ca.pem")));
        assert_eq!(read.security_flags, SecurityFlags::default());
    }

    #[test]
    fn stored_options_that_do_not_read_are_an_error_not_a_default() {
        let stored = HttpOptions {
            ca_file: Some("/etc/pinned-ca.pem".into()),
            security_flags: SecurityFlags(SecurityFlags::REDIRECT_POLICY_DISALLOW),
            credentials: Some(("u".into(), "s3cret".into())),
            ..HttpOptions::default()
        }
        .to_json();
        let replace = |from: &str, to: &str| {
            assert!(stored.contains(from), "{stored}");
            stored.replacen(from, to, 1)
        };
        for (text, key) in [
            (stored[..stored.len() - 1].to_string(), "not JSON"),
            ("[]".to_string(), "not a JSON object"),
            ("null".to_string(), "not a JSON object"),
            (replace("\"/etc/pinned-ca.pem\"", "17"), "'ca_file'"),
            (replace("\"/etc/pinned-ca.pem\"", "\"ca.pem\""), "'ca_file'"),
            (replace(":512", ":\"512\""), "'security_flags'"),
            (replace(":512", ":768"), "'security_flags'"),
            (replace(":512", ":4294967808"), "'security_flags'"),
            (replace(":512", ":null"), "'security_flags'"),
            (
                replace("\"headers\":null", "\"headers\":\"X-A: 1\\nEvil: 2\""),
                "'headers'",
            ),
            (replace("\"headers\":null", "\"headers\":[]"), "'headers'"),
            (replace("{\"env\":true}", "{\"env\":false}"), "'proxy'"),
            (
                replace("{\"env\":true}", "{\"url\":\"ftp://p\"}"),
                "'proxy'",
            ),
            (
                replace("{\"env\":true}", "{\"env\":true,\"direct\":true}"),
                "'proxy'",
            ),
            (replace("[\"u\",\"s3cret\"]", "[\"u\"]"), "'credentials'"),
            (
                replace(
                    "\"stall_timeout_secs\":60",
                    "\"stall_timeout_secs\":18446744073709551615",
                ),
                "'stall_timeout_secs'",
            ),
            (
                replace("\"stall_timeout_secs\":60", "\"stall_timeout_secs\":-1"),
                "'stall_timeout_secs'",
            ),
            (replace("{", "{\"pin_sha256\":\"x\","), "'pin_sha256'"),
        ] {
            let why = HttpOptions::from_json(&text).unwrap_err();
            assert!(why.contains(key), "{text}: {why}");
            assert!(!why.contains("s3cret"), "{why}");
        }
    }

    #[test]
    fn security_flags_take_a_redirect_policy_and_refuse_relaxed_certificates() {
        for ok in [0x0000, 0x0100, 0x0200, 0x0800, 0x0900, 0x0A00] {
            assert_eq!(
                check_security_flags(ok).unwrap(),
                SecurityFlags(ok),
                "{ok:#x}"
            );
        }
        for (bad, code) in [
            (0x0300, QM_E_INVALIDARG),
            (0x0400, QM_E_INVALIDARG),
            (0x1000, QM_E_INVALIDARG),
            (0x0001, QM_E_NOTIMPL),
            (0x0008, QM_E_NOTIMPL),
            (0x0110, QM_E_NOTIMPL),
        ] {
            assert_eq!(
                check_security_flags(bad).unwrap_err().code.0,
                code,
                "{bad:#x}"
            );
        }
    }

    #[test]
    fn credentials_and_proxy_limits() {
        assert!(check_credentials("user", "pw").is_ok());
        assert_eq!(
            check_credentials(&"u".repeat(301), "").unwrap_err().code.0,
            QM_BG_E_USERNAME_TOO_LARGE
        );
        assert_eq!(
            check_credentials("u", &"p".repeat(65537))
                .unwrap_err()
                .code
                .0,
            QM_BG_E_PASSWORD_TOO_LARGE
        );
        assert_eq!(
            check_credentials("a:b", "").unwrap_err().code.0,
            QM_E_INVALIDARG
        );
        assert_eq!(parse_proxy(None).unwrap(), ProxySetting::FromEnvironment);
        assert_eq!(parse_proxy(Some("")).unwrap(), ProxySetting::Direct);
        assert!(matches!(
            parse_proxy(Some("socks5h://127.0.0.1:1080")).unwrap(),
            ProxySetting::Url(_)
        ));
        for bad in [
            "127.0.0.1:8080",
            "ftp://x",
            "http://",
            "http://:8080",
            "http://proxy:65536",
            "http://pro<xy>:3128",
            "http://pro xy:3128",
            "http://proxy:3128/\n",
            "socks5://user@:1080",
        ] {
            assert_eq!(
                parse_proxy(Some(bad)).unwrap_err().code.0,
                QM_BG_E_INVALID_PROXY_INFO,
                "{bad}"
            );
        }
    }
}
