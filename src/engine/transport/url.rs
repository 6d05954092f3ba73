//! URLs as requests use them: `scheme://[user[:password]@]host[:port][/path][?query][#fragment]`.
//!
//! One parser for every place a URL is read (a remote name when it is
//! added, a proxy URL when it is set, a redirect's `Location`, a request),
//! so that a URL accepted when it is set cannot fail later for its form.
//! It is strict where a request line or `Host` header would break: no
//! spaces, no control or non-ASCII characters (percent-encode them), a
//! host, a port from 0 to 65535.

/// A parsed absolute URL, borrowing from its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Url<'a> {
    /// The scheme, lower case.
    pub scheme: String,
    /// What stands before `@` in the authority (`user` or `user:password`, still percent-encoded).
    pub userinfo: Option<&'a str>,
    /// The host as written, an IPv6 literal with its brackets.
    pub host: &'a str,
    /// The port given, if any.
    pub explicit_port: Option<u16>,
    /// The request target: the path and query, without the fragment,
    /// starting with `/` (`/` alone when the URL has neither).
    pub target: String,
}

impl<'a> Url<'a> {
    /// Parses `text`; the error says why it is not a URL a request can carry.
    pub(crate) fn parse(text: &'a str) -> Result<Url<'a>, String> {
        if let Some(c) = text.chars().find(|c| !c.is_ascii_graphic()) {
            return Err(match c {
                ' ' => "it contains a space (write it as %20)".to_string(),
                c if c.is_ascii() => "it contains a control character".to_string(),
                c => format!("it contains '{c}', which a URL cannot hold (percent-encode it)"),
            });
        }
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| "it has no scheme:// part".to_string())?;
        let mut chars = scheme.chars();
        let valid_scheme = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if !valid_scheme {
            return Err(format!("'{scheme}' is not a scheme"));
        }
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, after) = rest.split_at(authority_end);
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((user, host_port)) => (Some(user), host_port),
            None => (None, authority),
        };
        let (host, port) = if host_port.starts_with('[') {
            let close = host_port
                .find(']')
                .ok_or_else(|| "its IPv6 address has no closing ']'".to_string())?;
            let literal = &host_port[1..close];
            if literal.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(format!("'{literal}' is not an IPv6 address"));
            }
            let port = &host_port[close + 1..];
            if !port.is_empty() && !port.starts_with(':') {
                return Err("something follows its IPv6 address".to_string());
            }
            (&host_port[..=close], port.strip_prefix(':'))
        } else {
            match host_port.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (host_port, None),
            }
        };
        if host.is_empty() {
            return Err("it has no host".to_string());
        }
        // A name as DNS and the Host header take it (an IPv6 literal was checked above).
        let host_chars = |c: char| c.is_ascii_alphanumeric() || "-._".contains(c);
        if !host.starts_with('[') && !host.chars().all(host_chars) {
            return Err(format!("'{host}' is not a host name"));
        }
        let explicit_port = match port {
            None | Some("") => None,
            Some(p) => Some(
                p.parse::<u16>()
                    .ok()
                    .filter(|_| p.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| format!("the port '{p}' is not a number from 0 to 65535"))?,
            ),
        };
        let target = after.split('#').next().unwrap_or("");
        let target = match target.starts_with('/') {
            true => target.to_string(),
            false => format!("/{target}"),
        };
        Ok(Url {
            scheme: scheme.to_ascii_lowercase(),
            userinfo,
            host,
            explicit_port,
            target,
        })
    }

    /// The port: the one given, or the scheme's default.
    pub(crate) fn port(&self) -> u16 {
        self.explicit_port.unwrap_or(match self.scheme.as_str() {
            "https" => 443,
            "socks4" | "socks4a" | "socks5" | "socks5h" => 1080,
            "http" => 80,
            _ => 0,
        })
    }

    /// The host for connecting and for TLS: without an IPv6 literal's brackets.
    pub(crate) fn bare_host(&self) -> &'a str {
        self.host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(self.host)
    }

    /// `host[:port]` as the `Host` header carries it (the port only when given and not the default).
    pub(crate) fn host_header(&self) -> String {
        match self.explicit_port {
            Some(p) if Some(p) != Url::default_port(&self.scheme) => format!("{}:{p}", self.host),
            _ => self.host.to_string(),
        }
    }

    fn default_port(scheme: &str) -> Option<u16> {
        match scheme {
            "http" => Some(80),
            "https" => Some(443),
            _ => None,
        }
    }

    /// The user name and password of the user info, decoded (the password
    /// empty when none is given); `None` without user info.
    pub(crate) fn credentials(&self) -> Option<(String, String)> {
        let userinfo = self.userinfo?;
        let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        Some((percent_decode_lossy(user), percent_decode_lossy(password)))
    }

    /// `scheme://host:port`, lower case, with the port always given.
    pub(crate) fn origin(&self) -> String {
        format!(
            "{}://{}:{}",
            self.scheme,
            self.host.to_ascii_lowercase(),
            self.port()
        )
    }
}

/// `text` with every password of a URL in it masked: the user info of
/// `scheme://user:secret@host` becomes `user:***`, so that error texts
/// (stored, returned by the C API, printed by the CLI) never carry a
/// credential. A URL's authority ends where the URL parser ends it, at `/`,
/// `?` or `#`, and in running text also at a control character or the
/// next `://` (not at a quote or a space, which a password may hold); a
/// user name alone is kept. The Rust API has it as `qmgr::redact_passwords`,
/// for programs that show a job's URLs (the CLI does).
pub fn redact(text: &str) -> std::borrow::Cow<'_, str> {
    const MASK: &str = "***";
    if !text.contains("://") {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        // The authority ends where the URL parser ends it (`/ ? #`), not at
        // a quote or a space: a password may hold `'`, `"`, `<`, `>` or a
        // backtick, and an unparsable URL quoted in an error may hold a
        // space. A line break ends it too. Masking too much of a sentence
        // is the safe way to be wrong. The next URL's `://` ends it too.
        let end = after
            .find(|c: char| "/?#".contains(c) || c.is_control())
            .unwrap_or(after.len());
        let end = after.find("://").map_or(end, |next| next.min(end));
        let authority = &after[..end];
        match authority.rsplit_once('@') {
            Some((userinfo, host)) => {
                match userinfo.split_once(':') {
                    Some((user, _)) => {
                        out.push_str(user);
                        out.push(':');
                        out.push_str(MASK);
                    }
                    None => out.push_str(userinfo),
                }
                out.push('@');
                out.push_str(host);
            }
            None => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// The bytes `s` stands for, its `%XX` escapes decoded. A `%` without two
/// hex digits after it is kept as written when `keep_bad`, else the answer
/// is `None`.
pub(crate) fn unescape(s: &str, keep_bad: bool) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let hex = bytes
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None if keep_bad => {
                out.push(b'%');
                i += 1;
            }
            None => return None,
        }
    }
    Some(out)
}

/// Decodes `%XX` escapes (of user names and passwords in URLs); malformed escapes stay as written.
pub(crate) fn percent_decode_lossy(s: &str) -> String {
    String::from_utf8_lossy(&unescape(s, true).unwrap_or_default()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parts_of_a_url() {
        let u = Url::parse("HTTP://user:pw@Example.COM:8080/a/b?q=1#frag").unwrap();
        assert_eq!(u.scheme, "http");
        assert_eq!(u.userinfo, Some("user:pw"));
        assert_eq!((u.host, u.port()), ("Example.COM", 8080));
        assert_eq!(u.target, "/a/b?q=1");
        assert_eq!(u.host_header(), "Example.COM:8080");
        assert_eq!(u.origin(), "http://example.com:8080");
        let u = Url::parse("https://[::1]/").unwrap();
        assert_eq!(
            (u.bare_host(), u.port(), u.host_header()),
            ("::1", 443, "[::1]".into())
        );
        let u = Url::parse("http://h?x").unwrap();
        assert_eq!(u.target, "/?x");
        assert_eq!(Url::parse("http://h:80").unwrap().host_header(), "h");
        assert_eq!(Url::parse("http://h:/x").unwrap().port(), 80);
    }

    #[test]
    fn what_a_request_could_not_carry_is_refused_with_a_reason() {
        for (bad, why) in [
            ("http://h/a b", "space"),
            ("http://h/\u{e4}", "percent-encode"),
            ("http://h:99999/", "port"),
            ("http://h:8o/", "port"),
            ("http://[::1/", "closing"),
            ("http://[zz]/", "IPv6"),
            ("http://", "no host"),
            ("http://u@:1/", "no host"),
            ("h/x", "scheme"),
            ("1http://h/", "scheme"),
            ("http://a\"b/", "host name"),
            ("http://exa%6Dple.com/", "host name"),
            ("http://a,b/", "host name"),
        ] {
            let err = Url::parse(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn escapes_in_credentials_are_decoded() {
        assert_eq!(percent_decode_lossy("a%40b%3A"), "a@b:");
        assert_eq!(percent_decode_lossy("50%"), "50%");
        assert_eq!(percent_decode_lossy("%+f"), "%+f");
        assert_eq!(unescape("a%2Fb", false).unwrap(), b"a/b");
        assert_eq!(unescape("a%2", false), None);
        assert_eq!(unescape("%+f", false), None);
        let u = Url::parse("http://us%40er:p%3Aw@h/").unwrap();
        assert_eq!(u.credentials(), Some(("us@er".into(), "p:w".into())));
        let u = Url::parse("http://user@h/").unwrap();
        assert_eq!(u.credentials(), Some(("user".into(), String::new())));
        assert_eq!(Url::parse("http://h/").unwrap().credentials(), None);
    }

    #[test]
    fn redact_masks_every_password_of_a_url_in_a_text() {
        for (text, want) in [
            (
                "GET http://u:s3cret@h:8/x?a=b@c (from byte 0)",
                "GET http://u:***@h:8/x?a=b@c (from byte 0)",
            ),
            (
                "'socks5h://p%40x:pw:more@proxy' and https://a:b@[::1]",
                "'socks5h://p%40x:***@proxy' and https://a:***@[::1]",
            ),
            ("http://u:p@w@h/", "http://u:***@h/"),
            (
                "http://user@h/ keeps the user",
                "http://user@h/ keeps the user",
            ),
            ("no URL: a:b@c", "no URL: a:b@c"),
            ("http://h/a:b@c", "http://h/a:b@c"),
            ("ends at ://x:y@", "ends at ://x:***@"),
            // Quotes, brackets and spaces do not end a password.
            ("GET http://a:se'c\"r<e>t`@h/x", "GET http://a:***@h/x"),
            (
                "'http://pu:pa ss@127.0.0.1:3128' is not a proxy URL",
                "'http://pu:***@127.0.0.1:3128' is not a proxy URL",
            ),
        ] {
            assert_eq!(redact(text), want, "{text}");
        }
        assert!(matches!(redact("plain"), std::borrow::Cow::Borrowed(_)));
    }
}
