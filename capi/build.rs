//! Gives the shared library its SONAME.

fn main() {
    if std::env::var("TARGET")
        .unwrap_or_default()
        .contains("linux")
    {
        // Major ABI number 1: libqmgr.so.1 (QM_ABI_VERSION in
        // src/ffi/library.rs; tests/it/abi.rs checks they agree).
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libqmgr.so.1");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
