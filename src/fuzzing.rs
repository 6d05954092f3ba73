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

/// Parses `bytes` as a zsync control file (feature `delta`): panics unless
/// a refusal is an error (no panic, no allocation past what was read), and
/// an accepted file's table is exactly as long as its header says; then
/// scans the bytes themselves as a seed, which must give only blocks whose
/// checksums the file has.
#[cfg(feature = "delta")]
pub fn zsync_control(bytes: &[u8]) {
    use crate::engine::transport::zsync::{control, matcher};
    let parsed = control::parse(bytes);
    if let Ok(Some(len)) = control::expected_len(bytes) {
        assert_eq!(parsed.is_ok(), len <= bytes.len() as u64, "{parsed:?}");
    }
    let Ok(c) = parsed else {
        return;
    };
    let blocks = c.length.div_ceil(u64::from(c.blocksize));
    assert_eq!(u64::from(c.blocks()), blocks);
    assert_eq!(
        c.checksums.len(),
        c.blocks() as usize * usize::from(c.checksum_bytes)
    );
    if c.blocks() > 4096 {
        return;
    }
    let mut m = matcher::Matcher::new(&c);
    let given = m
        .scan(&mut &bytes[..], &|| false, &mut |id, data| {
            assert_eq!(data.len(), c.blocksize as usize);
            assert!(id < c.blocks());
            Ok(())
        })
        .unwrap();
    assert_eq!(given.len() as u32, m.known_count());
}

/// A control file made for `data` (as zsyncmake makes it), parsed, and
/// `data` scanned as a seed after a few bytes of it are changed: every
/// block found must be the target's own bytes; scanned as it is, every
/// block must be found.
#[cfg(feature = "delta")]
pub fn zsync_roundtrip(data: &[u8]) {
    use crate::engine::transport::zsync::{control, matcher};
    if data.len() < 4 {
        return;
    }
    let (params, target) = data.split_at(4);
    let bs = 64u32 << (params[0] % 4);
    let seq = 1 + params[1] % 2;
    let rsum_bytes = 1 + params[2] % 4;
    let cs = 3 + params[3] % 14;
    let bytes = matcher::control_of(target, bs, seq, rsum_bytes, cs);
    let c = control::parse(&bytes).expect("zsyncmake's own format");
    let mut seed = target.to_vec();
    seed.rotate_left(target.len() / 3);
    let mut m = matcher::Matcher::new(&c);
    m.scan(&mut &seed[..], &|| false, &mut |id, block| {
        let r = c.block_range(id);
        let n = (r.end - r.start) as usize;
        // A weak checksum may collide with few checksum bytes; a block
        // is only wrong when its MD4 prefix collides too.
        if block[..n] != target[r.start as usize..r.end as usize] {
            assert!(cs <= 4, "block {id} is not the target's");
        }
        Ok(())
    })
    .unwrap();
    // The target itself holds every block: all are found (unless a weak
    // checksum collides and the run goes on from a wrong block).
    let mut m = matcher::Matcher::new(&c);
    let given = m
        .scan(&mut &target[..], &|| false, &mut |_, _| Ok(()))
        .unwrap();
    if cs > 4 {
        assert_eq!(given.len() as u32, c.blocks(), "not every block found");
    }
}
