//! Differential tests of `url.rs` against the `url` crate (WHATWG's URL
//! standard), on generated URLs and references: whenever qmgr accepts a
//! URL, the `url` crate reads the same scheme, host, port, credentials and
//! request target, and `resolve` agrees with `url::Url::join`, except for
//! the deliberate differences of `DELIBERATE` below. Where qmgr refuses
//! what WHATWG accepts (a `\`, IPv4 in another notation, a space...), no
//! request is made: refusals are counted, not compared.

use super::*;
use crate::testing::Rng;

const SCHEMES: &[&str] = &["http", "https", "HTTP", "hTTps", "socks5h", "socks5"];
const USERINFO: &[&str] = &[
    "u", "user", ":", "@", "%40", "%3A", "%zz", "%", "\\", "\"", ";", "=", "!", "~", "[", "]", "p",
    "%20", "'", "^", "|", "`", "{",
];
const HOSTS: &[&str] = &[
    "h",
    "example.com",
    "Example.COM",
    "a_b.c",
    "x-y",
    "-x",
    "a..b",
    "h.",
    "localhost",
    "xn--nxasmq6b",
    "xn--a",
    "127.0.0.1",
    "1.2.3.4",
    "0.0.0.0",
    "255.255.255.255",
    "127.1",
    "0x7f.1",
    "0x7F.0.0.1",
    "2130706433",
    "010.0.0.1",
    "1.2.3.4.",
    "1.2.3.4..",
    "1.2.3.256",
    "256.1.1.1",
    "1.2.3",
    "1.2.65535",
    "1.16777215",
    "4294967295",
    "4294967296",
    "foo.123",
    "foo.0x",
    "0x",
    "1.2.3.4.5",
    "08.1.1.1",
    "09",
    "1.2.3.0x1g",
    "1e3",
    "[::1]",
    "[::FFFF:1.2.3.4]",
    "[1:2:3:4:5:6:7:8]",
    "[0:0::1]",
    "[::1.2.3]",
    "[fe80::1%25eth0]",
    "[::1",
    "[]",
    "[1::2::3]",
    "h%41",
    "a b",
    "a\\b",
    "",
];
const PORTS: &[&str] = &[
    "", ":", ":80", ":443", ":0080", ":65535", ":65536", ":0", ":8x", ":+80", ":1:2", ":8080",
];
const SEGMENTS: &[&str] = &[
    "a", "b", ".", "..", "%2e", "%2E%2e", ".%2e", "%2e.", "...", "", "\"", "<", ">", "`", "{", "}",
    "|", "^", "[", "]", "%", "%41", "%zz", "\\", ";", "=", "@", ":", "~", "'", "!", "$", "&", "+",
    ",", "*", "(", ")", "a.b", ".a", "a.",
];
const QUERY: &[&str] = &[
    "a", "=", "&", "'", "\"", "<", ">", "\\", "/", "?", "@", "%", "%27", "{", "}", "`", "|", "^",
    ".", "..", "/..", ":", "[", "]",
];
/// Characters a mutation inserts.
const NOISE: &[&str] = &[
    "/", "\\", "@", ":", "?", "#", "%", ".", "[", "]", " ", "\t", "\u{e9}", "0", "x", "%2e",
];

fn generated_url(rng: &mut Rng) -> String {
    let mut url = format!("{}://", rng.pick(SCHEMES));
    if rng.chance(25) {
        url.push_str(&rng.string(USERINFO, 4));
        url.push('@');
    }
    url.push_str(rng.pick(HOSTS));
    url.push_str(rng.pick(PORTS));
    if rng.chance(80) {
        for _ in 0..rng.below(5) {
            url.push('/');
            url.push_str(&rng.string(SEGMENTS, 2));
        }
    }
    if rng.chance(30) {
        url.push('?');
        url.push_str(&rng.string(QUERY, 5));
    }
    if rng.chance(15) {
        url.push('#');
        url.push_str(&rng.string(QUERY, 3));
    }
    mutate(rng, url)
}

/// `text` with, now and then, a few characters inserted or removed.
fn mutate(rng: &mut Rng, text: String) -> String {
    if !rng.chance(20) {
        return text;
    }
    let mut chars: Vec<char> = text.chars().collect();
    for _ in 0..1 + rng.below(2) {
        let at = rng.below(chars.len() + 1);
        if rng.chance(70) {
            let noise: Vec<char> = rng.pick(NOISE).chars().collect();
            chars.splice(at..at, noise);
        } else if at < chars.len() {
            chars.remove(at);
        }
    }
    chars.into_iter().collect()
}

/// How qmgr and the `url` crate may deliberately differ on a URL both
/// accept or only qmgr accepts: (why, does it apply to this URL text).
#[allow(clippy::type_complexity)]
const DELIBERATE: &[(&str, fn(&str) -> bool)] = &[
    // WHATWG checks `xn--` labels as punycode (and, with the IDNA back end
    // the tests use, refuses what it cannot map); qmgr passes a host name
    // to DNS as written.
    ("punycode is not checked", |url| url.contains("xn--")),
];

/// Which deliberate difference explains a disagreement on `url`; panics
/// with `what` when none does.
fn deliberate(url: &str, what: &str) -> &'static str {
    DELIBERATE
        .iter()
        .find(|(_, applies)| applies(url))
        .map(|(why, _)| *why)
        .unwrap_or_else(|| panic!("{url:?}: {what}"))
}

/// Checks that qmgr's reading of `text` (accepted) is the `url` crate's
/// `theirs`; the disagreement, if any.
fn disagreement(ours: &Url<'_>, theirs: &url::Url) -> Option<String> {
    if ours.scheme != theirs.scheme() {
        return Some(format!("scheme {} vs {}", ours.scheme, theirs.scheme()));
    }
    let same_host = match (ours.bare_host().parse::<Ipv6Addr>(), theirs.host()) {
        (Ok(ip), Some(url::Host::Ipv6(their_ip))) => ours.host.starts_with('[') && ip == their_ip,
        (_, Some(host)) => ours.host.eq_ignore_ascii_case(&host.to_string()),
        (_, None) => false,
    };
    if !same_host {
        return Some(format!("host {} vs {:?}", ours.host, theirs.host_str()));
    }
    let special = is_special(&ours.scheme);
    let same_port = match special {
        true => Some(ours.port()) == theirs.port_or_known_default(),
        false => ours.explicit_port == theirs.port(),
    };
    if !same_port {
        return Some(format!("port {} vs {:?}", ours.port(), theirs.port()));
    }
    let their_credentials = (
        percent_decode_lossy(theirs.username()),
        percent_decode_lossy(theirs.password().unwrap_or("")),
    );
    if ours.credentials().unwrap_or_default() != their_credentials {
        return Some(format!(
            "credentials {:?} vs {their_credentials:?}",
            ours.credentials()
        ));
    }
    // The target of a non-special URL (a proxy's) is never requested.
    let their_target = match theirs.query() {
        Some(query) => format!("{}?{query}", theirs.path()),
        None => theirs.path().to_string(),
    };
    if special && ours.target != their_target {
        return Some(format!("target {} vs {their_target}", ours.target));
    }
    None
}

/// Compares qmgr's parse of `text` with the `url` crate's; counts into
/// `tally` (both accept, only WHATWG accepts, a listed difference).
fn compare(text: &str, tally: &mut Tally) {
    match (Url::parse(text), url::Url::parse(text)) {
        (Ok(ours), Ok(theirs)) => {
            tally.agreed += 1;
            if let Some(what) = disagreement(&ours, &theirs) {
                deliberate(text, &what);
                tally.listed += 1;
            }
        }
        (Ok(_), Err(e)) => {
            deliberate(text, &format!("qmgr accepts, the url crate refuses: {e}"));
            tally.listed += 1;
        }
        (Err(why), Ok(theirs)) => {
            // The address a refusal names is the one WHATWG reads.
            if let Some(named) = why.split("is the IPv4 address ").nth(1) {
                if is_special(theirs.scheme()) {
                    let named = named.split(' ').next();
                    assert_eq!(named, theirs.host_str(), "{text}: {why}");
                }
            }
            tally.refused += 1;
        }
        (Err(_), Err(_)) => tally.both_refuse += 1,
    }
}

#[derive(Debug, Default)]
struct Tally {
    agreed: usize,
    refused: usize,
    both_refuse: usize,
    listed: usize,
}

#[test]
fn qmgr_reads_every_url_it_accepts_as_the_url_crate_does() {
    let mut rng = Rng(0x5eed_0001);
    let mut tally = Tally::default();
    for _ in 0..20_000 {
        compare(&generated_url(&mut rng), &mut tally);
    }
    // The generator reaches each outcome often (a check on the generator).
    assert!(tally.agreed > 1000 && tally.refused > 500, "{tally:?}");
}

/// References as servers send them in `Location`, and some they should not.
const REFERENCES: &[&str] = &[
    "",
    "#f",
    "?q",
    "?",
    "x",
    "x/",
    "./x",
    "../x",
    "../../../x",
    ".",
    "..",
    "./",
    "../",
    "/",
    "/a/../b",
    "/a/./b/.",
    "//other/x",
    "//other",
    "//o:8/a/../b",
    "http://o/x",
    "HTTPS://o/a/..",
    "https:x",
    "http:x",
    "http:/x",
    "%2e%2e/x",
    ".%2E/x",
    "a:b",
    "1a:b",
    "a b:c",
    "\\x",
    "/\\evil/",
    "//u:p@o/",
    "g;x=1/../y",
    "g?y/../x",
    "g#s/../x",
    ";x",
    "..g",
    "g..",
    "x?a'b",
    "x?a\"b",
    "{x}",
    "/%zz",
];

#[test]
fn resolve_agrees_with_the_url_crates_join() {
    let mut rng = Rng(0x5eed_0002);
    let mut tally = Tally::default();
    let mut bases = Vec::new();
    while bases.len() < 400 {
        let base = generated_url(&mut rng);
        if Url::parse(&base).is_ok_and(|u| is_special(&u.scheme)) && url::Url::parse(&base).is_ok()
        {
            bases.push(base);
        }
    }
    for base in &bases {
        for _ in 0..20 {
            let reference = match rng.chance(50) {
                true => rng.pick(REFERENCES).to_string(),
                false => {
                    let mut r = rng.string(SEGMENTS, 3);
                    for _ in 0..rng.below(3) {
                        r.push('/');
                        r.push_str(&rng.string(SEGMENTS, 2));
                    }
                    mutate(&mut rng, r)
                }
            };
            let ours = resolve(base, &reference);
            let theirs = url::Url::parse(base).unwrap().join(&reference);
            match (Url::parse(&ours), theirs) {
                (Ok(ours_url), Ok(theirs)) => {
                    tally.agreed += 1;
                    if let Some(what) = disagreement(&ours_url, &theirs) {
                        deliberate(&ours, &format!("{base} + {reference}: {what}"));
                        tally.listed += 1;
                    }
                }
                (Ok(_), Err(e)) => {
                    deliberate(&ours, &format!("{base} + {reference}: join refuses: {e}"));
                    tally.listed += 1;
                }
                (Err(_), Ok(_)) => tally.refused += 1,
                (Err(_), Err(_)) => tally.both_refuse += 1,
            }
        }
    }
    assert!(tally.agreed > 1000, "{tally:?}");
}

#[test]
fn redact_masks_the_password_of_every_url_qmgr_accepts() {
    let mut rng = Rng(0x5eed_0003);
    let mut masked = 0;
    for _ in 0..3000 {
        let mut url = generated_url(&mut rng);
        if rng.chance(50) {
            let userinfo = format!("{}:{}@", rng.string(USERINFO, 3), rng.string(USERINFO, 3));
            url = url.replacen("://", &format!("://{userinfo}"), 1);
        }
        let Ok(parsed) = Url::parse(&url) else {
            continue;
        };
        // The same URL but for its password, masked.
        let redacted = redact(&url);
        let r = Url::parse(&redacted).unwrap();
        let want = parsed.userinfo.map(|i| match i.split_once(':') {
            Some((user, _)) => format!("{user}:***"),
            None => i.to_string(),
        });
        assert_eq!(r.userinfo.map(str::to_string), want, "{url}");
        assert_eq!(
            (r.host, r.explicit_port, &r.target),
            (parsed.host, parsed.explicit_port, &parsed.target)
        );
        masked += usize::from(redacted != url);
        // In a text, and beside another.
        assert_eq!(
            redact(&format!("GET {url}: 404")),
            format!("GET {redacted}: 404")
        );
        assert_eq!(
            redact(&format!("'{url}' and '{url}'")),
            format!("'{redacted}' and '{redacted}'")
        );
        assert_eq!(redact(&redacted), redacted, "idempotent: {url:?}");
    }
    assert!(masked > 300, "{masked}");
}
