//! A text through `Url::parse`, `resolve` and `redact`: no panic, a stable
//! normalisation, no dot segment left, no password left.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(text) = std::str::from_utf8(bytes) {
        qmgr::fuzzing::url(text);
    }
});
