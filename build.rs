//! Gives the shared library its SONAME and tells the tests which target and
//! host the `cc` crate should compile the C and C++ test programs for.

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.contains("linux") {
        // Major ABI number 1: libqmgr.so.1 (QM_ABI_VERSION in
        // src/ffi/library.rs; tests/it/abi.rs checks they agree).
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libqmgr.so.1");
    }
    println!("cargo:rustc-env=QMGR_BUILD_TARGET={target}");
    println!(
        "cargo:rustc-env=QMGR_BUILD_HOST={}",
        std::env::var("HOST").unwrap_or_default()
    );
    println!("cargo:rerun-if-changed=build.rs");
}
