//! The README's steps run literally, as a new user runs them in a fresh
//! checkout: its build command, its C example compiled with its own
//! compile line against the artifacts it names and run with its own
//! command, and its quickstart. Nothing here adds a link, a flag or a path
//! that the README does not give.

use crate::support;

use std::path::{Path, PathBuf};

use support::{code_blocks, readme_section, root, sh};

/// Removes files the README's steps leave in the checkout, also when the
/// test fails.
struct Cleanup(Vec<PathBuf>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The command lines of a ```sh block, comments and blank lines left out
/// (sh would skip them too).
fn command_lines(block: &str) -> Vec<&str> {
    block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// The two paths of `PROGRAM SRC DST`.
fn src_and_dst(line: &str) -> (PathBuf, PathBuf) {
    let words: Vec<&str> = line.split_whitespace().collect();
    let path = |w: &str| PathBuf::from(w.strip_prefix("file://").unwrap_or(w));
    (path(words[words.len() - 2]), path(words[words.len() - 1]))
}

#[test]
fn the_c_example_builds_and_runs_with_the_readmes_own_commands() {
    let section = readme_section("## Using it from C");
    let blocks = code_blocks(&section, "sh");
    assert!(
        blocks.len() >= 2,
        "a build block and a compile block: {blocks:?}"
    );
    let build = command_lines(&blocks[0]);
    let compile_and_run = command_lines(&blocks[1]);
    assert!(
        compile_and_run.len() == 2
            && compile_and_run[0].starts_with("cc ")
            && compile_and_run[1].starts_with("./copy "),
        "{compile_and_run:?}"
    );
    let code = code_blocks(&section, "c").remove(0);

    let root = root();
    let _cleanup = Cleanup(vec![root.join("copy.c"), root.join("copy")]);
    std::fs::write(root.join("copy.c"), code).unwrap();
    let (src, dst) = src_and_dst(compile_and_run[1]);
    let _ = std::fs::remove_file(&dst);

    for line in build.iter().chain(&compile_and_run[..1]) {
        sh(root, line, &[]);
    }
    let out = sh(root, compile_and_run[1], &[]);
    assert!(out.contains("100% transferred"), "{out}");
    assert_eq!(std::fs::read(&dst).unwrap(), std::fs::read(&src).unwrap());
    let _ = std::fs::remove_file(&dst);
}

#[test]
fn the_quickstart_transfers_a_file() {
    let section = readme_section("## Quickstart");
    let block = code_blocks(&section, "sh").remove(0);
    let lines = command_lines(&block);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let (src, dst) = src_and_dst(lines[0]);
    let _ = std::fs::remove_file(&dst);
    sh(root(), lines[0], &[]);
    assert_eq!(
        std::fs::read(&dst).unwrap(),
        std::fs::read(Path::new(&src)).unwrap()
    );
    let _ = std::fs::remove_file(&dst);
}
