//! The smallest build, `--no-default-features` (no `tls`, no `state`): it
//! has the same header and exports as the default build, refuses what it
//! lacks with clear codes (a state directory: `QM_E_NOTIMPL`; `https://`:
//! `QM_BG_E_PROTOCOL_NOT_AVAILABLE` when added), and still downloads over
//! plain HTTP. Built into its own target directory, so the default build's
//! artifacts stay as they are.

use crate::support;

use std::time::Duration;

use support::http_server::{patterned, Resource, TestServer};

#[test]
fn the_build_without_tls_and_state_keeps_the_abi_and_refuses_what_it_lacks() {
    let lib = support::library_apart("no-default-features", &[]);
    let exported = support::exported_symbols(&lib.join("libqmgr.so"));
    assert_eq!(
        exported,
        support::committed_symbols(),
        "a build without features must export what the header declares"
    );
    // The SONAME, as the default build's tests link it.
    let soname = lib.join(format!("libqmgr.so.{}", crate::header::abi_version()));
    let _ = std::fs::remove_file(&soname);
    std::os::unix::fs::symlink("libqmgr.so", &soname).unwrap();

    let dir = support::scratch("features");
    let exe = dir.join("features");
    let sources = [
        support::root().join("ctests/features.c"),
        support::root().join("ctests/common.c"),
    ];
    support::compile_sources_against(&sources, support::Build::Plain, &exe, &lib);
    let data = patterned(3 << 20, 31);
    let expected = dir.join("expected.bin");
    std::fs::write(&expected, &data).unwrap();
    let server = TestServer::start();
    server.add("/fw.bin", Resource::new(data));
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    // cargo test puts the default build's directory on LD_LIBRARY_PATH,
    // which wins over the program's RUNPATH.
    support::run_with_env(
        &exe,
        &[
            work.to_str().unwrap(),
            &server.url("/fw.bin"),
            expected.to_str().unwrap(),
        ],
        &[("LD_LIBRARY_PATH", &lib)],
        Duration::from_secs(120),
    );
}
