//! The ABI cannot change by accident: the shared library exports exactly the
//! functions listed in `include/qmgr.symbols` (the header's prototypes), no
//! more and no less. Adding an export means adding it to that list.

use crate::support;

#[test]
fn exported_symbols_match_the_committed_list() {
    let exported = support::exported_symbols(&support::library_dir().join("libqmgr.so"));
    let committed = support::committed_symbols();
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
    for symbol in support::committed_symbols() {
        assert!(
            header.contains(&format!(" {symbol}(")),
            "{symbol} is exported but not declared in qmgr.h"
        );
    }
}
