//! The C and C++ programs of `ctests/`, compiled with strict warnings
//! against `include/qmgr.h` and the built library, each run plain and once
//! more under AddressSanitizer + UndefinedBehaviorSanitizer.

use crate::support;

use std::time::Duration;
use support::{compile_and_run, Build};

const LIMIT: Duration = Duration::from_secs(300);

macro_rules! c_program {
    ($plain:ident, $sanitized:ident, $file:literal) => {
        #[test]
        fn $plain() {
            compile_and_run($file, Build::Plain, LIMIT);
        }

        #[test]
        fn $sanitized() {
            compile_and_run($file, Build::Sanitized, LIMIT);
        }
    };
}

c_program!(lifecycle, lifecycle_sanitized, "lifecycle.c");
c_program!(progress, progress_sanitized, "progress.c");
c_program!(bad_input, bad_input_sanitized, "bad_input.c");
c_program!(threads, threads_sanitized, "threads.c");
c_program!(cpp_header, cpp_header_sanitized, "cpp_header.cpp");
c_program!(hardening, hardening_sanitized, "hardening.c");
c_program!(structs, structs_sanitized, "structs.c");
c_program!(
    callbacks_cross,
    callbacks_cross_sanitized,
    "callbacks_cross.c"
);
