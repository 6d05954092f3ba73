//! The rules one file's requests follow, built from what the caller asked
//! for (DESIGN §7.1) and from nothing the network said: the URL every
//! attempt starts at, its origin (the only place credentials and caller
//! headers go), the scheme floor, and the redirect rules. A redirect's
//! `Location` is a discovery: it is checked against this policy hop by hop
//! and reported as the final URL, but it never changes the policy, so the
//! next attempt starts again at the caller's URL with the caller's scope.

use crate::engine::transport::error::{self, TransferError};
use crate::engine::transport::options::HttpOptions;
use crate::engine::transport::source::{check_url, origin};
use crate::engine::transport::url::Url;
use crate::engine::types::SecurityFlags;

/// Redirects followed before giving up.
pub(crate) const MAX_REDIRECTS: u32 = 10;

/// The caller's intent for one file, as the transport applies it to each
/// request and each redirect hop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RequestPolicy {
    /// The URL the caller asked for (the remote name): the first request
    /// of every attempt goes here, never to a URL a server named.
    pub url: String,
    /// Its origin (`scheme://host:port`): the one origin the credentials,
    /// the URL's user info and every caller header are sent to. `None` for
    /// a URL that does not parse (its request fails before any is sent).
    pub trusted_origin: Option<String>,
    /// The caller's Basic credentials: the job's, else the URL's user info.
    pub credentials: Option<(String, String)>,
    /// The caller's URL is HTTPS: no hop may go below it to plain HTTP
    /// (unless `https_to_http`).
    pub https_floor: bool,
    /// The job allows a redirect from HTTPS to plain HTTP
    /// (`ALLOW_HTTPS_TO_HTTP`), to a hop that gets no credentials.
    pub https_to_http: bool,
    /// Redirects are followed (ALLOW_SILENT, ALLOW_REPORT), or each one is a
    /// fatal error (DISALLOW).
    pub follow_redirects: bool,
    /// Most redirects one request follows.
    pub max_redirects: u32,
}

/// How one hop of a request is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Hop {
    /// The hop's URL is of the caller's origin: credentials and caller
    /// headers go along; to any other origin, only qmgr's own headers.
    pub trusted: bool,
}

impl RequestPolicy {
    /// The policy for a request of `url` (the caller's remote name) under
    /// the job's `options`.
    pub(crate) fn new(url: &str, options: &HttpOptions) -> RequestPolicy {
        let parsed = Url::parse(url).ok();
        let from_url = parsed
            .as_ref()
            .filter(|u| u.userinfo != Some(""))
            .and_then(Url::credentials);
        let flags = options.security_flags;
        RequestPolicy {
            url: url.to_string(),
            trusted_origin: parsed.as_ref().map(Url::origin),
            credentials: options.credentials.clone().or(from_url),
            https_floor: parsed.is_some_and(|u| u.scheme.eq_ignore_ascii_case("https")),
            https_to_http: flags.allows_https_to_http(),
            follow_redirects: flags.redirect_policy() != SecurityFlags::REDIRECT_POLICY_DISALLOW,
            max_redirects: MAX_REDIRECTS,
        }
    }

    /// How a request to `url` (the caller's, or one a redirect named) is sent.
    pub(crate) fn hop(&self, url: &str) -> Hop {
        Hop {
            trusted: self.trusted_origin.is_some() && origin(url) == self.trusted_origin,
        }
    }

    /// Whether the caller's header `name` goes on `hop`: every caller
    /// header is scoped to the caller's origin, as `Authorization` is
    /// (`X-Api-Key`, `Cookie`, `Host`... alike), except
    /// `Proxy-Authorization`, which goes to a plain-HTTP proxy only
    /// (`via_plain_proxy`), never to a server nor into a tunnel.
    pub(crate) fn sends_caller_header(&self, name: &str, hop: Hop, via_plain_proxy: bool) -> bool {
        if name.eq_ignore_ascii_case("proxy-authorization") {
            via_plain_proxy
        } else {
            hop.trusted
        }
    }

    /// Refuses a redirect from `from` to `to` that the policy forbids: one
    /// out of http(s), to HTTPS without TLS support, any under DISALLOW,
    /// and one below the scheme floor (from HTTPS, or for a caller's HTTPS
    /// URL, to plain HTTP) unless the job allows HTTPS to HTTP.
    pub(crate) fn check_redirect(&self, from: &str, to: &str) -> Result<(), TransferError> {
        let scheme = |u: &str| u.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        let (from_scheme, to_scheme) = (scheme(from), scheme(to));
        if !matches!(to_scheme.as_deref(), Some("http" | "https")) || check_url(to).is_err() {
            return Err(error::redirect_refused(
                from,
                to,
                "it is not an http(s) URL",
            ));
        }
        if !cfg!(feature = "tls") && to_scheme.as_deref() == Some("https") {
            return Err(error::redirect_refused(
                from,
                to,
                "this qmgr was built without the `tls` feature (no HTTPS)",
            ));
        }
        if !self.follow_redirects {
            return Err(error::redirect_refused(
                from,
                to,
                "the job's redirect policy is DISALLOW",
            ));
        }
        let leaves_https = from_scheme.as_deref() == Some("https") || self.https_floor;
        if leaves_https && to_scheme.as_deref() == Some("http") && !self.https_to_http {
            return Err(error::redirect_refused(
                from,
                to,
                "it leaves HTTPS for plain HTTP (allowed only with QM_HTTP_REDIRECT_POLICY_ALLOW_HTTPS_TO_HTTP)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(url: &str, flags: u32, credentials: Option<(&str, &str)>) -> RequestPolicy {
        let options = HttpOptions {
            security_flags: SecurityFlags(flags),
            credentials: credentials.map(|(u, p)| (u.into(), p.into())),
            ..HttpOptions::default()
        };
        RequestPolicy::new(url, &options)
    }

    #[test]
    fn the_scope_is_the_callers_origin_only() {
        let p = policy("https://updates.example/fw.bin", 0, Some(("u", "p")));
        assert_eq!(
            p.trusted_origin.as_deref(),
            Some("https://updates.example:443")
        );
        assert!(p.hop("https://UPDATES.example:443/other").trusted);
        for elsewhere in [
            "http://updates.example/fw.bin",
            "https://updates.example:8443/fw.bin",
            "https://cdn.example/fw.bin",
            "file:///etc/hostname",
            "not a url",
        ] {
            assert!(!p.hop(elsewhere).trusted, "{elsewhere}");
        }
        let trusted = p.hop(&p.url);
        let other = p.hop("https://cdn.example/fw.bin");
        for name in ["X-Api-Key", "Cookie", "Authorization", "Host", "User-Agent"] {
            assert!(p.sends_caller_header(name, trusted, false), "{name}");
            assert!(!p.sends_caller_header(name, other, false), "{name}");
        }
        assert!(!p.sends_caller_header("Proxy-Authorization", trusted, false));
        assert!(p.sends_caller_header("Proxy-Authorization", other, true));
        // An unparsable URL trusts nothing.
        assert!(!policy("http://", 0, None).hop("http://").trusted);
    }

    #[test]
    fn credentials_are_the_jobs_else_the_urls() {
        let p = policy("http://a:b@h/x", 0, None);
        assert_eq!(p.credentials, Some(("a".into(), "b".into())));
        let p = policy("http://a:b@h/x", 0, Some(("u", "p")));
        assert_eq!(p.credentials, Some(("u".into(), "p".into())));
        assert_eq!(policy("http://h/x", 0, None).credentials, None);
    }

    #[test]
    fn redirects_follow_the_jobs_rules() {
        let silent = SecurityFlags::REDIRECT_POLICY_ALLOW_SILENT;
        let report = SecurityFlags::REDIRECT_POLICY_ALLOW_REPORT;
        let disallow = SecurityFlags::REDIRECT_POLICY_DISALLOW;
        let downgrade = SecurityFlags::REDIRECT_POLICY_ALLOW_HTTPS_TO_HTTP;
        let ok = |p: &RequestPolicy, from: &str, to: &str| p.check_redirect(from, to).is_ok();
        for flags in [silent, report] {
            let p = policy("http://a/x", flags, None);
            assert!(ok(&p, "http://a/x", "http://b/y"));
            assert!(!ok(&p, "http://a/x", "file:///etc/hostname"));
            assert!(!ok(&p, "http://a/x", "ftp://b/y"));
            // Once on HTTPS, never back down.
            assert!(!ok(&p, "https://b/y", "http://c/z"));
        }
        let p = policy("http://a/x", disallow, None);
        assert!(!ok(&p, "http://a/x", "http://a/y"));
        // The caller's HTTPS is the floor, whichever hop asks.
        let p = policy("https://a/x", silent, None);
        assert!(!ok(&p, "https://a/x", "http://a/x"));
        assert!(!ok(&p, "http://a/x", "http://b/x"));
        assert!(ok(&p, "https://a/x", "https://b/x"));
        let p = policy("https://a/x", silent | downgrade, None);
        assert!(ok(&p, "https://a/x", "http://b/x"));
        let refused = policy("https://a/x", report, None)
            .check_redirect("https://a/x", "http://b/x")
            .unwrap_err();
        assert_eq!(refused.redirected_to.as_deref(), Some("http://b/x"));
        assert!(!refused.transient);
    }
}
