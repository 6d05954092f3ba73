//! Tells the tests which target and host the `cc` crate should compile the
//! C and C++ test programs for. (The C library's SONAME is set by
//! capi/build.rs.)

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    println!("cargo:rustc-env=QMGR_BUILD_TARGET={target}");
    println!(
        "cargo:rustc-env=QMGR_BUILD_HOST={}",
        std::env::var("HOST").unwrap_or_default()
    );
    println!("cargo:rerun-if-changed=build.rs");
}
