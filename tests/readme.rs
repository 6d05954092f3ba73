//! The README's C example is real: it is extracted, compiled with strict
//! warnings against the header and library, and run on a real file.

mod support;

use std::time::Duration;
use support::{compile_sources, run, scratch, Build};

/// The first ```c block of README.md.
fn readme_c_example() -> String {
    let readme = std::fs::read_to_string(support::root().join("README.md")).unwrap();
    let start = readme.find("```c\n").expect("README.md has a ```c block") + 5;
    let end = start + readme[start..].find("```").unwrap();
    readme[start..end].to_string()
}

#[test]
fn readme_c_example_copies_a_file() {
    let dir = scratch("readme");
    let src = dir.join("copy.c");
    std::fs::write(&src, readme_c_example()).unwrap();
    let exe = dir.join("copy");
    compile_sources(&[src], Build::Plain, &exe);

    let input = dir.join("input.bin");
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&input, &data).unwrap();
    let output = dir.join("output.bin");
    let url = format!("file://{}", input.display());
    let stdout = run(
        &exe,
        &[&url, output.to_str().unwrap()],
        Duration::from_secs(60),
    );
    assert!(stdout.contains("100% transferred"), "{stdout}");
    assert_eq!(std::fs::read(&output).unwrap(), data);
}
