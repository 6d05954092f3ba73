//! How long a state directory with 10,000 persisted jobs takes to open
//! (restore every job and file, ready to schedule). A benchmark, not a
//! timed test: `cargo bench -p qmgr-bench --bench state`.

use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use qmgr::state_schema::{create_at_version, SCHEMA_VERSION};
use qmgr::Manager;

const JOBS: usize = 10_000;

/// Writes a state directory with `JOBS` suspended one-file jobs, in one
/// transaction through the real schema.
fn populate(dir: &Path) {
    create_at_version(dir, SCHEMA_VERSION).unwrap();
    let mut db = rusqlite::Connection::open(dir.join("qmgr.db")).unwrap();
    let tx = db.transaction().unwrap();
    for i in 0..JOBS {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
        tx.execute(
            "INSERT INTO jobs (id, created_order, display_name, description, state, priority, retry_delay,
                no_progress_timeout, notify_flags, max_bandwidth, num_retries, queue_seq, created_ms, modified_ms)
             VALUES (?1, ?2, 'job', '', 3, 2, 600, 1209600, 3, 0, 0, ?2, 1700000000000, 1700000000000)",
            rusqlite::params![&id[..], i as i64 + 1],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO files (job_id, idx, remote, local, size_hint) VALUES (?1, 0, ?2, ?3, 0)",
            rusqlite::params![
                &id[..],
                format!("https://updates.example.com/f/{i}"),
                format!("/tmp/qmgr-bench/{i}")
            ],
        )
        .unwrap();
    }
    tx.commit().unwrap();
}

fn open_10k(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("qmgr-bench-state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    populate(&dir);
    let mut group = c.benchmark_group("state_dir");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("open_10000_jobs", |b| {
        b.iter(|| {
            let manager = Manager::open(Some(&dir)).unwrap();
            assert_eq!(manager.jobs().unwrap().len(), JOBS);
            manager.close();
        })
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, open_10k);
criterion_main!(benches);
