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
    /// Longest wait for any single read or write on a connection.
    pub stall_timeout: std::time::Duration,
    /// The redirect policy (and refused certificate relaxations).
    pub security_flags: SecurityFlags,
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
        }
    }
}

impl HttpOptions {
    /// The options as JSON, for the state directory.
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

    /// Options from their JSON; anything missing or unreadable keeps its default.
    pub(crate) fn from_json(text: &str) -> HttpOptions {
        let v: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
        let mut o = HttpOptions::default();
        if let Some(h) = v["headers"].as_str() {
            o.custom_headers = parse_headers(h).ok().map(|list| (h.to_string(), list));
        }
        if let (Some(u), Some(p)) = (v["credentials"][0].as_str(), v["credentials"][1].as_str()) {
            o.credentials = Some((u.to_string(), p.to_string()));
        }
        if v["proxy"]["direct"].as_bool() == Some(true) {
            o.proxy = ProxySetting::Direct;
        } else if let Some(url) = v["proxy"]["url"].as_str() {
            o.proxy = ProxySetting::Url(url.to_string());
        }
        o.ca_file = v["ca_file"].as_str().map(PathBuf::from);
        if let (Some(c), Some(k)) = (
            v["client_certificate"][0].as_str(),
            v["client_certificate"][1].as_str(),
        ) {
            o.client_certificate = Some((PathBuf::from(c), PathBuf::from(k)));
        }
        if let Some(secs) = v["stall_timeout_secs"].as_u64() {
            o.stall_timeout = std::time::Duration::from_secs(secs.max(1));
        }
        if let Some(flags) = v["security_flags"].as_u64() {
            o.security_flags = check_security_flags(flags as u32).unwrap_or_default();
        }
        o
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
            format!("'{url}' is not a proxy URL (scheme://host[:port])"),
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
    match std::fs::metadata(p) {
        Err(e) => Err(Error {
            code: HResult::from_io_error(&e),
            message: format!("cannot read the {what} '{path}': {e}"),
        }),
        Ok(_) => read_small_file(p)
            .map(|_| p.to_path_buf())
            .map_err(|why| Error::invalid_arg(format!("the {what}: {why}"))),
    }
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
        };
        assert_eq!(HttpOptions::from_json(&o.to_json()), o);
        let direct = HttpOptions {
            proxy: ProxySetting::Direct,
            ..HttpOptions::default()
        };
        assert_eq!(HttpOptions::from_json(&direct.to_json()), direct);
        assert_eq!(HttpOptions::from_json("not json"), HttpOptions::default());
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
