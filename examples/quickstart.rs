//! Transfers a file with qmgr and shows its progress.
//!
//! `cargo run --example quickstart` makes a 64 MiB source file in a
//! temporary directory, copies it, and removes the directory again (also
//! when the transfer fails); `cargo run --example quickstart -- SOURCE
//! DEST` copies SOURCE (a file:// URL or an absolute path) to DEST.

use std::path::{Path, PathBuf};
use std::time::Duration;

use qmgr::{FileSpec, JobState, Manager};

/// The demo's own directory under `$TMPDIR`, removed with everything in it
/// when `main` returns, whether the transfer worked or not.
struct DemoDir(PathBuf);

impl Drop for DemoDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut demo = None;
    let (source, dest) = match args.as_slice() {
        [source, dest] => (source.clone(), absolute(dest)?),
        [] => {
            let dir = std::env::temp_dir().join(format!("qmgr-quickstart-{}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            let dir: &Path = &demo.insert(DemoDir(dir)).0;
            let source = dir.join("source.bin");
            let data: Vec<u8> = (0..64u32 << 20)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
                .collect();
            std::fs::write(&source, data)?;
            (format!("file://{}", source.display()), dir.join("copy.bin"))
        }
        _ => return Err("usage: quickstart [SOURCE DEST]".into()),
    };

    let manager = Manager::open(None)?;
    let job = manager.create_job("quickstart")?;
    job.add_files(&[FileSpec::new(source.clone(), dest.to_string_lossy())])?;
    job.resume()?;
    loop {
        let p = job.progress();
        let total = p.bytes_total.map_or("?".to_string(), |t| t.to_string());
        eprint!(
            "\r{:>3}%  {} / {} bytes  {:>8.1} MiB/s ",
            job.percent_done(),
            p.bytes_transferred,
            total,
            p.bytes_per_second as f64 / 1048576.0
        );
        match job.wait(Some(Duration::from_millis(200)))? {
            Some(JobState::Transferred) => break,
            Some(state) => {
                let err = job
                    .error()
                    .map(|e| format!("{}: {}", e.code, e.description))
                    .unwrap_or_default();
                return Err(format!("\nthe job stopped in state {state}: {err}").into());
            }
            None => {}
        }
    }
    job.complete()?;
    eprintln!("\r100%  done: {source} -> {}", dest.display());
    if let Some(DemoDir(dir)) = &demo {
        eprintln!("(the demo's files in {} are removed again)", dir.display());
    }
    Ok(())
}

fn absolute(path: &str) -> std::io::Result<PathBuf> {
    std::path::absolute(path)
}
