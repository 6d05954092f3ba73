//! URLs as requests use them: `scheme://[user[:password]@]host[:port][/path][?query][#fragment]`.
//!
//! One parser for every place a URL is read (a remote name when it is
//! added, a proxy URL when it is set, a redirect's `Location` once
//! [`resolve`]d, a request), so that a URL accepted when it is set cannot
//! fail later for its form.
//!
//! The rule: what qmgr connects to is what a WHATWG parser (browsers, the
//! `url` crate) says the URL's host and port are, and what it asks for is
//! the path and query such a parser gives; where the two readings could
//! differ, the URL is refused with a reason rather than read one way. So:
//!
//! - **Refused**: spaces, control and non-ASCII characters (percent-encode
//!   them; WHATWG strips tabs and newlines, trims spaces and encodes the
//!   rest); a `\` before the query (WHATWG reads it as `/` in http(s)
//!   URLs: `http://a\@b/` is host `a` there, would be `b` by RFC 3986);
//!   a host that ends in a number but is not a dotted quad of decimal
//!   numbers (`127.1`, `0x7f.0.0.1`, `2130706433`, `010.0.0.1`,
//!   `1.2.3.4.`: WHATWG and `inet_aton` read them as IPv4 addresses in
//!   other notations, a DNS name never; the reason names the address it
//!   means) and one WHATWG refuses (`1.2.3.256`, `foo.123`); a host
//!   outside letters, digits, `-`, `.` and `_` (so no `%` in a host); a
//!   URL without `//` after its scheme (`http:h/x`, which WHATWG still
//!   reads as host `h`).
//! - **Normalised** in the request target, as WHATWG does: dot segments
//!   (`.`, `..`, `%2e`, `.%2E`...) are removed (as curl and wget do too);
//!   `"`, `<`, `>`, `` ` ``, `{` and `}` in the path, and `"`, `<`, `>` and,
//!   in http(s) URLs, `'` in the query are percent-encoded; an empty path
//!   is `/`. Other `%` escapes, and a `%` without two hex digits after
//!   it, are kept as written (as WHATWG does).
//! - **Deliberately not as WHATWG** (same server, same target): a host
//!   name is kept as written (its case too: DNS, TLS and the `Host` header
//!   ignore case; [`Url::origin`] lower-cases it, and writes an IPv6
//!   literal in one canonical form); `xn--` labels are not checked as
//!   punycode (DNS gets the name as written); an IPv6 literal is sent as
//!   written; the schemes of proxies (`socks5h://`...) get the rules of
//!   http(s) (stricter than WHATWG's opaque hosts). A `Location` is
//!   resolved by RFC 3986 ([`resolve`]), which WHATWG follows but for
//!   `http:x` (a relative path to WHATWG) and a `\` (a `/` to it, so
//!   `/\evil/` is host `evil`): both refused.
//!
//! `url/props.rs` checks all this against the `url` crate on generated URLs.

use std::net::{Ipv4Addr, Ipv6Addr};

/// A parsed absolute URL, borrowing from its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Url<'a> {
    /// The scheme, lower case.
    pub scheme: String,
    /// What stands before `@` in the authority (`user` or `user:password`, still percent-encoded).
    pub userinfo: Option<&'a str>,
    /// The host as written, an IPv6 literal with its brackets. An IPv4
    /// address is always a canonical dotted quad (no other form is accepted).
    pub host: &'a str,
    /// The port given, if any.
    pub explicit_port: Option<u16>,
    /// The request target: the path and query, without the fragment,
    /// starting with `/` (`/` alone when the URL has neither), normalised
    /// as WHATWG does (the module's doc).
    pub target: String,
}

impl<'a> Url<'a> {
    /// Parses `text`; the error says why it is not a URL a request can
    /// carry. Every URL it accepts means to a WHATWG parser the same host,
    /// port and target (the module's doc lists the rules). The error quotes
    /// no part of a text holding `@`: where a user name or password ends
    /// in a URL that does not parse is unknown, and a quoted "port" or
    /// "host" may be part of the password.
    pub(crate) fn parse(text: &'a str) -> Result<Url<'a>, String> {
        Url::parse_text(text).map_err(|why| {
            // A quoted piece of the text (a "port", a "host") may be a piece
            // of a password when the text holds `@`.
            // (Any quote: a quoted piece may itself hold a quote.)
            match text.contains('@') && why.contains('\'') && why != BACKSLASH {
                true => "its user name, password or host does not read (write '/' in a user name or password as %2F, '?' as %3F, '#' as %23, '@' as %40)".to_string(),
                false => why,
            }
        })
    }

    fn parse_text(text: &'a str) -> Result<Url<'a>, String> {
        if let Some(c) = text.chars().find(|c| !c.is_ascii_graphic()) {
            return Err(match c {
                ' ' => "it contains a space (write it as %20)".to_string(),
                c if c.is_ascii() => "it contains a control character".to_string(),
                c => format!("it contains '{c}', which a URL cannot hold (percent-encode it)"),
            });
        }
        // Before the query, browsers read `\` as `/` (and so end the
        // authority there): `http://a\@b/` is host `a` to them.
        if text.split(['?', '#']).next().unwrap_or("").contains('\\') {
            return Err(BACKSLASH.to_string());
        }
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| "it has no scheme:// part".to_string())?;
        if !is_scheme(scheme) {
            return Err(format!("'{scheme}' is not a scheme"));
        }
        let scheme = scheme.to_ascii_lowercase();
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
            if literal.parse::<Ipv6Addr>().is_err() {
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
        if !host.starts_with('[') {
            if !host.chars().all(host_chars) {
                return Err(format!("'{host}' is not a host name"));
            }
            check_ipv4(host)?;
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
        let target = request_target(after, is_special(&scheme));
        Ok(Url {
            scheme,
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

    /// `scheme://host:port`, lower case, with the port always given and an
    /// IPv6 literal in its canonical form: the server qmgr connects to,
    /// one string for one server (`[::1]` and `[0:0::1]` alike), so that
    /// credentials scoped to it go nowhere else.
    pub(crate) fn origin(&self) -> String {
        let host = match self.bare_host().parse::<Ipv6Addr>() {
            Ok(ip) if self.host.starts_with('[') => format!("[{ip}]"),
            _ => self.host.to_ascii_lowercase(),
        };
        format!("{}://{host}:{}", self.scheme, self.port())
    }
}

/// Why a URL with `\` before its query is refused (it quotes nothing of the URL).
const BACKSLASH: &str =
    "it contains '\\' before its query, which browsers read as '/' (write '/', or %5C for the character)";

/// A scheme: a letter, then letters, digits, `+`, `-` or `.` (RFC 3986 §3.1).
pub(crate) fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
}

/// WHATWG's special schemes (of those, qmgr fetches http and https).
fn is_special(scheme: &str) -> bool {
    matches!(scheme, "http" | "https" | "ws" | "wss" | "ftp" | "file")
}

/// Refuses a host WHATWG reads as an IPv4 address unless it is written
/// as one in the only form every reader agrees on: four decimal numbers
/// from 0 to 255 without leading zeros.
fn check_ipv4(host: &str) -> Result<(), String> {
    if !ends_in_a_number(host) {
        return Ok(());
    }
    match whatwg_ipv4(host) {
        Some(ip) if ip.to_string() == host => Ok(()),
        Some(ip) => Err(format!(
            "'{host}' is the IPv4 address {ip} in another notation (write {ip})"
        )),
        None => Err(format!(
            "'{host}' ends in a number but is not an IPv4 address (a.b.c.d, each from 0 to 255)"
        )),
    }
}

/// WHATWG's "ends in a number" check: the last label (a trailing dot
/// aside) is decimal digits, or `0x` and hex digits.
fn ends_in_a_number(host: &str) -> bool {
    let mut labels = host.rsplit('.');
    let last = match labels.next() {
        Some("") => match labels.next() {
            Some(label) => label,
            None => return false,
        },
        Some(label) => label,
        None => return false,
    };
    (!last.is_empty() && last.bytes().all(|b| b.is_ascii_digit())) || ipv4_number(last).is_some()
}

/// WHATWG's IPv4 number parser: `0x` hex (digits optional), a leading
/// `0` octal, else decimal; `None` if invalid, `Some(None)` on overflow.
fn ipv4_number(label: &str) -> Option<Option<u32>> {
    let (digits, radix) = if let Some(hex) = label
        .strip_prefix("0x")
        .or_else(|| label.strip_prefix("0X"))
    {
        (hex, 16)
    } else if label.len() >= 2 && label.starts_with('0') {
        (&label[1..], 8)
    } else if label.is_empty() {
        return None;
    } else {
        (label, 10)
    };
    if digits.is_empty() {
        return Some(Some(0));
    }
    if !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    Some(u32::from_str_radix(digits, radix).ok())
}

/// WHATWG's IPv4 parser: one to four numbers, the last filling the bytes
/// the others leave (`127.1` is 127.0.0.1).
fn whatwg_ipv4(host: &str) -> Option<Ipv4Addr> {
    let host = host.strip_suffix('.').unwrap_or(host);
    let parts: Vec<&str> = host.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let numbers = parts
        .iter()
        .map(|p| ipv4_number(p).flatten())
        .collect::<Option<Vec<u32>>>()?;
    let (last, first) = numbers.split_last()?;
    if first.iter().any(|&n| n > 255) || u64::from(*last) >= 1u64 << (8 * (4 - first.len())) {
        return None;
    }
    let high = first
        .iter()
        .enumerate()
        .fold(0u32, |acc, (i, &n)| acc | (n << (8 * (3 - i))));
    Some(Ipv4Addr::from(high | last))
}

/// The request target of what follows a URL's authority (empty, or from
/// its `/`, `?` or `#`): dot segments removed, the fragment dropped, and
/// the characters WHATWG percent-encodes encoded.
fn request_target(after: &str, special: bool) -> String {
    let after = after.split('#').next().unwrap_or("");
    let (path, query) = match after.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (after, None),
    };
    let mut target = String::with_capacity(after.len() + 1);
    push_encoded(&mut target, &remove_dot_segments(path), b"\"<>`{}");
    if let Some(query) = query {
        target.push('?');
        let set: &[u8] = if special { b"\"<>'" } else { b"\"<>" };
        push_encoded(&mut target, query, set);
    }
    target
}

/// Appends `text` to `out` with the ASCII characters of `set` as `%XX`.
fn push_encoded(out: &mut String, text: &str, set: &[u8]) {
    for c in text.chars() {
        if c.is_ascii() && set.contains(&(c as u8)) {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
}

/// `.` or its escapes, as WHATWG counts them.
fn is_single_dot(segment: &str) -> bool {
    segment == "." || segment.eq_ignore_ascii_case("%2e")
}

/// `..` or its escapes (`.%2e`, `%2E.`, `%2e%2e`...), as WHATWG counts them.
fn is_double_dot(segment: &str) -> bool {
    matches!(
        segment.to_ascii_lowercase().as_str(),
        ".." | ".%2e" | "%2e." | "%2e%2e"
    )
}

/// An absolute path (or an empty one, taken as `/`) without its dot
/// segments (RFC 3986 §5.2.4, with WHATWG's escaped dots): `/a/b/../c`
/// is `/a/c`, `/a/./` is `/a/`, and `..` never climbs above `/`.
fn remove_dot_segments(path: &str) -> String {
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    let last = segments.len() - 1;
    let mut out: Vec<&str> = Vec::with_capacity(segments.len());
    for (i, segment) in segments.iter().enumerate() {
        if is_double_dot(segment) {
            out.pop();
        } else if !is_single_dot(segment) {
            out.push(segment);
            continue;
        }
        // A dot segment at the end leaves the path ending in `/`.
        if i == last {
            out.push("");
        }
    }
    let mut normal = String::with_capacity(path.len() + 1);
    for segment in out {
        normal.push('/');
        normal.push_str(segment);
    }
    if normal.is_empty() {
        normal.push('/');
    }
    normal
}

/// A URI reference's five parts (RFC 3986, appendix B); a scheme only
/// when it is one (`1a:b` and `a b:c` are paths, as WHATWG reads them).
struct Reference<'a> {
    scheme: Option<&'a str>,
    authority: Option<&'a str>,
    path: &'a str,
    query: Option<&'a str>,
    fragment: Option<&'a str>,
}

impl<'a> Reference<'a> {
    fn split(text: &'a str) -> Reference<'a> {
        let (rest, fragment) = match text.split_once('#') {
            Some((rest, fragment)) => (rest, Some(fragment)),
            None => (text, None),
        };
        let (rest, query) = match rest.split_once('?') {
            Some((rest, query)) => (rest, Some(query)),
            None => (rest, None),
        };
        let (scheme, rest) = match rest.split_once(':') {
            Some((scheme, rest)) if is_scheme(scheme) => (Some(scheme), rest),
            _ => (None, rest),
        };
        let (authority, path) = match rest.strip_prefix("//") {
            Some(net) => {
                let end = net.find('/').unwrap_or(net.len());
                (Some(&net[..end]), &net[end..])
            }
            None => (None, rest),
        };
        Reference {
            scheme,
            authority,
            path,
            query,
            fragment,
        }
    }
}

/// The URL `reference` (a redirect's `Location`) names, resolved against
/// the absolute URL `base` that answered (RFC 3986 §5.2: a reference with
/// a scheme or an authority replaces the base's; an absolute path keeps
/// the base's authority; a relative one is merged with the base's
/// directory; an empty one keeps the base's path and query), its dot
/// segments removed (§5.2.4, with WHATWG's escaped dots; the base's path
/// is taken as requested, normalised) and its scheme lower-cased. The
/// result agrees with `url::Url::join` wherever `Url::parse` accepts it
/// (`url/props.rs`). Never fails: a
/// result that is no URL a request can carry (`http:x`, a `\`, a space)
/// is refused by [`Url::parse`] with a reason. Where WHATWG resolves
/// differently, qmgr refuses: `http:x` is a relative path to WHATWG, and
/// `/\evil/` a network path (to host `evil`).
pub(crate) fn resolve(base: &str, reference: &str) -> String {
    // A `\` before the query stays where it is, dots around it too, for
    // `Url::parse` to refuse (WHATWG reads it as `/`: `\..` climbs there).
    let backslash = reference
        .split(['?', '#'])
        .next()
        .unwrap_or("")
        .contains('\\');
    let dots = |path: &str| match path.starts_with('/') && !backslash {
        true => remove_dot_segments(path),
        false => path.to_string(),
    };
    let r = Reference::split(reference);
    let mut b = Reference::split(base);
    // The base's path as requested: normalised as `Url::parse` does.
    let base_path = dots(b.path);
    b.path = &base_path;
    let (scheme, authority, path, query) = if r.scheme.is_some() {
        (r.scheme, r.authority, dots(r.path), r.query)
    } else if r.authority.is_some() {
        (b.scheme, r.authority, dots(r.path), r.query)
    } else if r.path.is_empty() {
        (
            b.scheme,
            b.authority,
            b.path.to_string(),
            r.query.or(b.query),
        )
    } else if r.path.starts_with('/') {
        (b.scheme, b.authority, dots(r.path), r.query)
    } else {
        // RFC 3986 §5.2.3: the base's directory, `/` for an empty path.
        let merged = match (
            b.authority.is_some() && b.path.is_empty(),
            b.path.rfind('/'),
        ) {
            (false, Some(slash)) => format!("{}{}", &b.path[..=slash], r.path),
            (false, None) => r.path.to_string(),
            (true, _) => format!("/{}", r.path),
        };
        (b.scheme, b.authority, dots(&merged), r.query)
    };
    let mut out = String::with_capacity(base.len() + reference.len());
    if let Some(scheme) = scheme {
        out.push_str(&scheme.to_ascii_lowercase());
        out.push(':');
    }
    if let Some(authority) = authority {
        out.push_str("//");
        out.push_str(authority);
    }
    out.push_str(&path);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    if let Some(fragment) = r.fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// A URL the caller gave, for an error text, whether it parses or not: with
/// a `@` after its `scheme://` (or anywhere, without one), everything
/// between them up to the last `@` is masked (`http://***@host/`), since in
/// a URL that does not parse a password may hold `/`, `?` or `#` and
/// [`redact`] would end the authority too early. Otherwise as [`redact`].
pub(crate) fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    // A `://` counts only after a scheme: in `u:pw@h/?next=http://x` the
    // user info comes first.
    let start = match text.find("://") {
        Some(i) if is_scheme(&text[..i]) => i + 3,
        _ => 0,
    };
    match text[start..].rfind('@') {
        Some(at) => {
            std::borrow::Cow::Owned(format!("{}***{}", &text[..start], &text[start + at..]))
        }
        None => redact(text),
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
mod props;

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
    fn a_url_that_does_not_parse_is_shown_without_its_user_info() {
        // Found by an attack: a password holding `/`, `?` or `#` ends the
        // authority early, so `redact` saw no password and the parser's
        // reason quoted its start as a "port".
        for (text, shown_as) in [
            (
                "http://u:ENV/SECRET@127.0.0.1:3128",
                "http://***@127.0.0.1:3128",
            ),
            (
                "http://u:CLI#SECRET@127.0.0.1:1/x",
                "http://***@127.0.0.1:1/x",
            ),
            ("u:PSECRET@127.0.0.1:3128", "***@127.0.0.1:3128"),
            ("u:SECRET@h/?next=http://x", "***@h/?next=http://x"),
            (
                "http://u:'SECRET#x@127.0.0.1:1/f",
                "http://***@127.0.0.1:1/f",
            ),
            ("http://h/x", "http://h/x"),
        ] {
            assert_eq!(shown(text), shown_as);
            if let Err(why) = Url::parse(text) {
                assert!(!why.contains("ENV") && !why.contains("SECRET"), "{why}");
            }
        }
        // A reason that quotes nothing of the text stays as specific as it was.
        assert_eq!(
            Url::parse("http://u@:1/").unwrap_err(),
            Url::parse("http://:1/").unwrap_err()
        );
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
    #[test]
    fn a_backslash_before_the_query_is_refused() {
        // RFC 3986 reads host b (after the last @); WHATWG reads host a
        // (`\` ends the authority): qmgr reads neither.
        for bad in [
            "http://a\\@b/",
            "http://a\\b/",
            "https://u:p\\@h/",
            "http://h/a\\b",
            "http://h\\x",
        ] {
            let err = Url::parse(bad).unwrap_err();
            assert!(err.contains("'\\'"), "{bad}: {err}");
        }
        // In the query, both read it alike: kept.
        assert_eq!(Url::parse("http://h/?a\\b").unwrap().target, "/?a\\b");
    }

    #[test]
    fn a_host_ending_in_a_number_must_be_a_dotted_quad() {
        for (bad, means) in [
            ("127.1", "127.0.0.1"),
            ("0x7f.1", "127.0.0.1"),
            ("0x7F.0.0.1", "127.0.0.1"),
            ("2130706433", "127.0.0.1"),
            ("010.0.0.1", "8.0.0.1"),
            ("1.2.3.4.", "1.2.3.4"),
            ("1.0x", "1.0.0.0"),
            ("1.2.3.256", "not an IPv4 address"),
            ("foo.123", "not an IPv4 address"),
            ("foo.0x", "not an IPv4 address"),
            ("1.2.3.4.5", "not an IPv4 address"),
            ("4294967296", "not an IPv4 address"),
            ("08.1.1.1", "not an IPv4 address"),
        ] {
            let err = Url::parse(&format!("http://{bad}/")).unwrap_err();
            assert!(err.contains(bad) && err.contains(means), "{bad}: {err}");
        }
        for good in [
            "1.2.3.4",
            "0.0.0.0",
            "255.255.255.255",
            "1.2.3.4x",
            "0x1g",
            "1e3",
            "a.b",
            "1.2.3.4..",
        ] {
            let url = format!("http://{good}:8/");
            assert_eq!(Url::parse(&url).unwrap().host, good);
        }
    }

    #[test]
    fn the_target_is_normalised_as_whatwg_does() {
        for (url, target) in [
            ("http://h/a/b/../c", "/a/c"),
            ("http://h/a/./b/.", "/a/b/"),
            ("http://h/../../x", "/x"),
            ("http://h/a/..", "/"),
            ("http://h/a/%2e%2E/b/.%2e/c/%2e", "/c/"),
            ("http://h/a/..b/c.", "/a/..b/c."),
            ("http://h//a/../b", "//b"),
            ("http://h/a?x=/../y", "/a?x=/../y"),
            ("http://h/a#/../b", "/a"),
            ("http://h/\"<>`{}|^[]%zz", "/%22%3C%3E%60%7B%7D|^[]%zz"),
            ("http://h/?\"<>'`{}", "/?%22%3C%3E%27`{}"),
            ("socks5h://h/?'", "/?'"),
            ("http://h", "/"),
        ] {
            assert_eq!(Url::parse(url).unwrap().target, target, "{url}");
        }
    }

    #[test]
    fn an_origin_names_one_server_one_way() {
        let origin = |url: &str| Url::parse(url).unwrap().origin();
        assert_eq!(origin("http://[0:0::1]/"), origin("http://[::1]:80/"));
        assert_eq!(
            origin("https://[::FFFF:7f00:1]/"),
            "https://[::ffff:127.0.0.1]:443"
        );
        assert_eq!(origin("http://EXAMPLE.com/"), "http://example.com:80");
    }

    #[test]
    fn locations_resolve_as_rfc_3986_says() {
        // RFC 3986 §5.4: its normal and abnormal examples, but one.
        let base = "http://a/b/c/d;p?q";
        for (reference, expected) in [
            ("g:h", "g:h"),
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g"),
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            ("#s", "http://a/b/c/d;p?q#s"),
            ("g#s", "http://a/b/c/g#s"),
            ("g?y#s", "http://a/b/c/g?y#s"),
            (";x", "http://a/b/c/;x"),
            ("g;x", "http://a/b/c/g;x"),
            ("g;x?y#s", "http://a/b/c/g;x?y#s"),
            ("", "http://a/b/c/d;p?q"),
            (".", "http://a/b/c/"),
            ("./", "http://a/b/c/"),
            ("..", "http://a/b/"),
            ("../", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../", "http://a/"),
            ("../../g", "http://a/g"),
            ("../../../g", "http://a/g"),
            ("../../../../g", "http://a/g"),
            ("/./g", "http://a/g"),
            ("/../g", "http://a/g"),
            ("g.", "http://a/b/c/g."),
            (".g", "http://a/b/c/.g"),
            ("g..", "http://a/b/c/g.."),
            ("..g", "http://a/b/c/..g"),
            ("./../g", "http://a/b/g"),
            ("./g/.", "http://a/b/c/g/"),
            ("g/./h", "http://a/b/c/g/h"),
            ("g/../h", "http://a/b/c/h"),
            ("g;x=1/./y", "http://a/b/c/g;x=1/y"),
            ("g;x=1/../y", "http://a/b/c/y"),
            ("g?y/./x", "http://a/b/c/g?y/./x"),
            ("g?y/../x", "http://a/b/c/g?y/../x"),
            ("g#s/./x", "http://a/b/c/g#s/./x"),
            ("g#s/../x", "http://a/b/c/g#s/../x"),
            // RFC 3986's strict reading (WHATWG's is a relative path):
            // no URL a request can carry, refused by `Url::parse`.
            ("http:g", "http:g"),
        ] {
            assert_eq!(resolve(base, reference), expected, "{reference}");
        }
        let base = "https://h:8443/a/b/file.bin?x=1";
        for (location, expected) in [
            ("http://other/x/../y", "http://other/y"),
            ("HTTP://other", "http://other"),
            ("//cdn.example/y/./z", "https://cdn.example/y/z"),
            ("/root", "https://h:8443/root"),
            ("sibling.bin", "https://h:8443/a/b/sibling.bin"),
            ("../up", "https://h:8443/a/up"),
            ("../../../../up", "https://h:8443/up"),
            ("%2e%2e/up", "https://h:8443/a/up"),
            ("?v=2", "https://h:8443/a/b/file.bin?v=2"),
            ("1a:b", "https://h:8443/a/b/1a:b"),
        ] {
            assert_eq!(resolve(base, location), expected, "{location}");
        }
        assert_eq!(resolve("http://h", "x"), "http://h/x");
        // WHATWG reads `/\evil/` as the network path `//evil/`: refused.
        assert!(Url::parse(&resolve(base, "/\\evil/")).is_err());
    }
}
