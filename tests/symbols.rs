//! The ABI cannot change by accident: the shared library exports exactly the
//! functions listed in `include/qmgr.symbols` (the header's prototypes), no
//! more and no less. Adding an export means adding it to that list.

mod support;

use std::collections::BTreeSet;
use std::process::Command;

fn committed_list() -> BTreeSet<String> {
    let text = std::fs::read_to_string(support::root().join("include/qmgr.symbols")).unwrap();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn exported_symbols_match_the_committed_list() {
    let lib = support::library_dir().join("libqmgr.so");
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&lib)
        .output()
        .expect("run nm (binutils)");
    assert!(out.status.success());
    let exported: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .map(String::from)
        .collect();
    let committed = committed_list();
    let added: Vec<_> = exported.difference(&committed).collect();
    let removed: Vec<_> = committed.difference(&exported).collect();
    assert!(
        added.is_empty() && removed.is_empty(),
        "exports changed: added {added:?}, removed {removed:?}"
    );
}

#[test]
fn every_listed_symbol_is_declared_in_the_header() {
    let header = std::fs::read_to_string(support::root().join("include/qmgr.h")).unwrap();
    for symbol in committed_list() {
        assert!(
            header.contains(&format!(" {symbol}(")),
            "{symbol} is exported but not declared in qmgr.h"
        );
    }
}
