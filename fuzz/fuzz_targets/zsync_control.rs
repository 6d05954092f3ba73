//! Any bytes through the zsync control file parser and the block matcher:
//! no panic, no allocation past the bytes read, a table as long as the
//! header says; and zsyncmake's format for any data reads back.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    qmgr::fuzzing::zsync_control(bytes);
    qmgr::fuzzing::zsync_roundtrip(bytes);
});
