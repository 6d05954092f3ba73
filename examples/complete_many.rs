//! Measures `complete()` of a job of many small files (the fsync + rename
//! phase that makes every file durable before it appears):
//! `cargo run --release --example complete_many -- [FILES] [SIZE]`.

use std::time::Instant;

use qmgr::{FileSpec, JobState, Manager};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let files: usize = args.next().map_or(Ok(1000), |a| a.parse())?;
    let size: usize = args.next().map_or(Ok(65536), |a| a.parse())?;
    let dir = std::env::temp_dir().join(format!("qmgr-complete-many-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::create_dir_all(dir.join("dst"))?;
    let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    let mut specs = Vec::with_capacity(files);
    for i in 0..files {
        let src = dir.join("src").join(i.to_string());
        std::fs::write(&src, &data)?;
        specs.push(FileSpec::new(
            src.to_str().unwrap(),
            dir.join("dst").join(i.to_string()).to_str().unwrap(),
        ));
    }
    let manager = Manager::open(None)?;
    let job = manager.create_job("many")?;
    job.add_files(&specs)?;
    let started = Instant::now();
    job.resume()?;
    assert_eq!(job.wait(None)?, Some(JobState::Transferred));
    let transferred = started.elapsed();
    let started = Instant::now();
    job.complete()?;
    let completed = started.elapsed();
    println!("{files} files of {size} bytes: transfer {transferred:?}, complete {completed:?}");
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
