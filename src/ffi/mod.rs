//! The C ABI: a thin layer over the Rust API, and the only `unsafe` code.
//!
//! Every export is a literal `#[no_mangle] pub extern "C" fn` (so cbindgen
//! sees it) whose body is one [`guard!`] call: it runs the body under
//! `catch_unwind`, maps `Err(Error)` to its HRESULT and a panic to
//! `QM_E_UNEXPECTED`, so no panic crosses into C.
//!
//! The modules are the header's sections, declared here in the header's
//! order (cbindgen writes the functions in source order): `library`,
//! `manager`, `lifecycle` (jobs), `files`, `transfer` (transfer options),
//! `http` (HTTP options), `notify` (notifications), then `constants` and
//! `types`. `tests/it/header.rs` adds the banners between them.

/// Runs an export's body (a block returning `Result<HResult>`) and returns
/// its HRESULT; a panic becomes `QM_E_UNEXPECTED`. A failure's message is
/// kept as the thread's last error (`qm_get_last_error_message`).
macro_rules! guard {
    ($body:block) => {{
        let outcome = ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(
            || -> $crate::Result<$crate::HResult> { $body },
        ));
        match outcome {
            Ok(Ok(hr)) => hr.0,
            Ok(Err(err)) => $crate::ffi::last_error::record(err),
            Err(_) => $crate::ffi::last_error::record($crate::Error::new(
                $crate::hresult::QM_E_UNEXPECTED,
                "internal error: qmgr panicked inside this call (the panic was caught)",
            )),
        }
    }};
}

pub mod constants;
pub mod files;
mod handles;
pub mod http;
mod last_error;
pub mod library;
pub mod lifecycle;
pub mod manager;
pub mod notify;
pub mod transfer;
pub mod types;
mod util;

pub use constants::*;
pub use types::*;
