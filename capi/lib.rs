//! The C library: `libqmgr.so` and `libqmgr.a`. Its functions are the
//! `qm_*` exports of the `qmgr` crate (`src/ffi/`), which a `cdylib` or
//! `staticlib` exports from every crate it links; this crate only links it,
//! so that cargo builds the library with the release profile's LTO (see
//! capi/Cargo.toml).

pub use qmgr_rust::ffi;
