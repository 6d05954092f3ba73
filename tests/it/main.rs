//! Every integration test of the library, in one binary: one link of
//! rustls, ring and SQLite instead of one per file, one build of the C
//! library and the CLI per run, and tests that wait (on timers, servers,
//! child processes) overlap with the others. Each module is one area; its
//! own doc comment says what it covers. `cargo test --test it MODULE::`
//! runs one area.

mod support;

mod abi;
mod c_api;
mod callbacks;
mod cli;
#[cfg(all(feature = "service", feature = "state"))]
mod daemon;
#[cfg(all(feature = "service", feature = "state"))]
mod daemon_attacks;
#[cfg(all(feature = "service", feature = "state", feature = "upload"))]
mod daemon_uploads;
#[cfg(feature = "delta")]
mod delta;
mod engine;
mod features;
mod first_hour;
#[cfg(feature = "state")]
mod hardening;
mod header;
mod http;
mod http_server;
mod install;
mod job_features;
mod layering;
#[cfg(feature = "state")]
mod owners;
mod parallel;
#[cfg(feature = "state")]
mod persistence;
#[cfg(all(feature = "service", feature = "state"))]
mod proxy;
mod python;
mod readme;
mod segments;
mod symbols;
mod trust_deadlines;
#[cfg(feature = "delta")]
mod trust_delta;
mod trust_errors;
mod trust_inputs;
mod trust_livelock;
mod trust_redirects;
mod trust_tls;
#[cfg(feature = "upload")]
mod trust_uploads;
#[cfg(feature = "upload")]
mod upload;
#[cfg(feature = "upload")]
mod upload_job_faults;
#[cfg(feature = "upload")]
mod upload_jobs;
mod yielding;
