//! qmgr's micro-benchmarks live in `abi.rs` and `state.rs` beside this file
//! (`cargo bench -p qmgr-bench --bench abi`); this crate has no code of its
//! own.
