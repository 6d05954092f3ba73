//! The parsers, for the cargo-fuzz targets of `fuzz/` (feature `fuzzing`:
//! never in the library's own builds, nor in its C header). Each function
//! takes any input and panics when a property the unit tests and property
//! tests hold breaks (a panic of the parsers themselves included).

use std::io::{self, BufReader};

use crate::engine::transport::http::wire;
use crate::engine::transport::url::{redact, resolve, Url};

/// A reader that gives its bytes in reads of `sizes` bytes, in turn.
struct Pieces<'a> {
    bytes: &'a [u8],
    sizes: Vec<usize>,
    turn: usize,
}

impl io::Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let size = self.sizes[self.turn % self.sizes.len()];
        self.turn += 1;
        let n = size.min(buf.len()).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

/// Reads `bytes` as a response (`read_head`, `Framing::of`, `BodyDecoder`,
/// then what follows the body) from one slice, and again in reads whose
/// sizes, buffer capacity and body reads come from the bytes themselves:
/// panics unless both readings are the same (the head, framing, body and
/// rest, or the error's kind and text).
pub fn http_response(bytes: &[u8]) {
    let whole = wire::read_response(&mut &bytes[..], 1 << 16);
    let sizes: Vec<usize> = bytes
        .iter()
        .rev()
        .take(8)
        .map(|&b| 1 + usize::from(b % 23))
        .chain([1])
        .collect();
    let pieces = Pieces {
        bytes,
        sizes,
        turn: 0,
    };
    let capacity = 1 + bytes.len() % 61;
    let split = wire::read_response(
        &mut BufReader::with_capacity(capacity, pieces),
        1 + bytes.len() % 13,
    );
    assert_eq!(whole, split, "{:?}", String::from_utf8_lossy(bytes));
    if let Ok(exchange) = whole {
        assert!(exchange.body.len() + exchange.rest.len() <= bytes.len());
        assert!(exchange
            .head
            .reason
            .chars()
            .all(|c| !c.is_control() || c == '\t'));
    }
}

/// Parses `text` as a URL, resolves references with it and redacts it:
/// panics unless an accepted URL reads the same once rebuilt from its
/// parts (the normalisation is stable), a resolved URL keeps no dot
/// segment, and `redact` is stable and masks an accepted URL's password,
/// and nothing else of its authority.
pub fn url(text: &str) {
    let base = "https://h.example:8443/a/b/c?q";
    for resolved in [resolve(base, text), resolve(text, "../x?y#z")] {
        if let Ok(u) = Url::parse(&resolved) {
            let path = u.target.split('?').next().unwrap_or("");
            assert!(
                !path.split('/').any(|s| s == "." || s == ".."),
                "{text:?} -> {resolved:?}"
            );
            assert_eq!(
                Url::parse(&resolve(&resolved, "")).map(|v| v.target),
                Ok(u.target)
            );
        }
    }
    let redacted = redact(text);
    assert_eq!(redact(&redacted), redacted, "{text:?}");
    let Ok(u) = Url::parse(text) else {
        return;
    };
    let userinfo = u.userinfo.map(|i| format!("{i}@")).unwrap_or_default();
    let port = u.explicit_port.map(|p| format!(":{p}")).unwrap_or_default();
    let rebuilt = format!("{}://{userinfo}{}{port}{}", u.scheme, u.host, u.target);
    let again = Url::parse(&rebuilt).unwrap_or_else(|e| panic!("{text:?} -> {rebuilt:?}: {e}"));
    assert_eq!(again, u, "{text:?} -> {rebuilt:?}");
    // Redacted, the URL is the same but for its password, masked.
    let r = Url::parse(&redacted).unwrap_or_else(|e| panic!("{text:?} -> {redacted:?}: {e}"));
    let masked = u.userinfo.map(|i| match i.split_once(':') {
        Some((user, _)) => format!("{user}:***"),
        None => i.to_string(),
    });
    assert_eq!(r.userinfo.map(str::to_string), masked, "{text:?}");
    assert_eq!((r.host, r.explicit_port), (u.host, u.explicit_port));
}
