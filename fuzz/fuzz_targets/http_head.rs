//! A response through `read_head`, `Framing::of` and `BodyDecoder`, whole
//! and split into reads: no panic, the same result either way.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| qmgr::fuzzing::http_response(bytes));
