//! `include/qmgr.h` is generated and committed; this test fails when it
//! differs from a fresh generation (or lacks a doc comment on an export),
//! so the header can never drift from the code.
//! `QMGR_UPDATE_HEADER=1 cargo test --test it header::` rewrites it.
//!
//! The generation: cbindgen writes the declarations (with
//! `cbindgen.toml`), and they are placed into the template
//! `include/qmgr.h.in`: the types where it says `@TYPES@`, the constants
//! at `@CONSTANTS@`, and the functions of each module of `src/ffi/` at
//! `@FUNCTIONS module@`, in source order, so the header reads in the
//! sections the template's banners name. The result codes come from
//! `qmgr::hresult`'s table, the version from the crate, the ABI number
//! from `src/ffi/library.rs`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::support;

/// The result codes as `#define`s with hex values, from `qmgr::hresult`'s
/// table (cbindgen would print them in decimal and without parentheses).
fn code_defines() -> String {
    let mut out = String::new();
    for (name, value, description) in qmgr::hresult::known_codes() {
        out.push_str(&format!(
            "\n/* {description} */\n#define {name} ((qm_hresult)0x{:08X})\n",
            value as u32
        ));
    }
    out
}

/// What cbindgen writes for the crate with `cbindgen.toml`: declarations
/// only (no guard, no includes, no `extern "C"`).
fn declarations() -> String {
    let root = support::root();
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut out = Vec::new();
    cbindgen::Builder::new()
        .with_crate(root)
        .with_config(config)
        .generate()
        .expect("cbindgen failed")
        .write(&mut out);
    String::from_utf8(out).expect("cbindgen writes UTF-8")
}

/// The declarations one by one, each with its doc comment: they are
/// separated by blank lines outside comments (a doc comment may hold one).
fn chunks(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut in_comment = false;
    for line in text.lines() {
        if line.trim().is_empty() && !in_comment {
            if !current.trim().is_empty() {
                out.push(std::mem::take(&mut current));
            }
            current.clear();
            continue;
        }
        if line.trim_start().starts_with("/*") {
            in_comment = true;
        }
        if line.contains("*/") {
            in_comment = false;
        }
        current.push_str(line);
        current.push('\n');
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out
}

/// The first line of a chunk that is not part of its doc comment.
fn code_line(chunk: &str) -> &str {
    let mut in_comment = false;
    for line in chunk.lines() {
        let t = line.trim_start();
        if in_comment || t.starts_with("/*") {
            in_comment = !line.contains("*/");
            continue;
        }
        return line;
    }
    panic!("a declaration without code: {chunk}")
}

/// The exported functions of `src/ffi/<module>.rs`, in source order.
fn module_functions(module: &str) -> Vec<String> {
    let path = support::root().join(format!("src/ffi/{module}.rs"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter_map(|l| l.split("extern \"C\" fn ").nth(1))
        .filter_map(|rest| rest.split('(').next())
        .filter(|name| name.starts_with("qm_"))
        .map(String::from)
        .collect()
}

/// `QM_ABI_VERSION` as `src/ffi/library.rs` defines it.
pub fn abi_version() -> u32 {
    let text = std::fs::read_to_string(support::root().join("src/ffi/library.rs")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("pub const QM_ABI_VERSION: u32 = "))
        .and_then(|v| v.trim_end_matches(';').parse().ok())
        .expect("src/ffi/library.rs defines QM_ABI_VERSION")
}

/// The header, as it must be.
pub fn generate() -> String {
    let template = std::fs::read_to_string(support::root().join("include/qmgr.h.in"))
        .expect("include/qmgr.h.in");
    let mut types = Vec::new();
    let mut constants = Vec::new();
    let mut functions = BTreeMap::new();
    for chunk in chunks(&declarations()) {
        let code = code_line(&chunk);
        if code.starts_with("#define") {
            constants.push(chunk);
        } else if code.starts_with("typedef") {
            types.push(chunk);
        } else {
            let name = code
                .split('(')
                .next()
                .and_then(|head| head.split_whitespace().last())
                .unwrap_or_else(|| panic!("not a function: {chunk}"))
                .trim_start_matches('*')
                .to_string();
            functions.insert(name, chunk);
        }
    }
    let join = |chunks: &[String]| chunks.iter().map(|c| format!("{c}\n")).collect::<String>();
    let version = env!("CARGO_PKG_VERSION");
    let mut parts = version.split('.');
    let mut header = template
        .replace("@TYPES@\n", &join(&types))
        .replace("@CONSTANTS@\n", &join(&constants))
        .replace("@RESULT_CODES@\n", &code_defines())
        .replace("@VERSION_MAJOR@", parts.next().unwrap())
        .replace("@VERSION_MINOR@", parts.next().unwrap())
        .replace("@VERSION_PATCH@", parts.next().unwrap())
        .replace("@VERSION@", version)
        .replace("@ABI_VERSION@", &abi_version().to_string());
    while let Some(at) = header.find("@FUNCTIONS ") {
        let end = at
            + header[at..]
                .find("@\n")
                .expect("@FUNCTIONS module@ on its own line");
        let module = header[at + "@FUNCTIONS ".len()..end].to_string();
        let names = module_functions(&module);
        assert!(!names.is_empty(), "src/ffi/{module}.rs exports nothing");
        let mut text = String::from("\n");
        for name in names {
            let chunk = functions
                .remove(&name)
                .unwrap_or_else(|| panic!("cbindgen wrote no {name} (src/ffi/{module}.rs)"));
            text.push_str(&chunk);
            text.push('\n');
        }
        header.replace_range(at..end + 2, &text);
    }
    assert!(
        functions.is_empty(),
        "functions in no section of include/qmgr.h.in (their module has no @FUNCTIONS line): {:?}",
        functions.keys().collect::<Vec<_>>()
    );
    assert!(
        !header.contains('@'),
        "a placeholder of include/qmgr.h.in was not filled"
    );
    header
}

#[test]
fn header_matches_fresh_cbindgen_output() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/qmgr.h");
    let fresh = generate();
    if std::env::var_os("QMGR_UPDATE_HEADER").is_some() {
        std::fs::write(&path, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "include/qmgr.h is stale: run `QMGR_UPDATE_HEADER=1 cargo test --test it header::` and commit it"
    );
}

#[test]
fn header_version_macros_match_the_crate() {
    let header = generate();
    let version = env!("CARGO_PKG_VERSION");
    let mut parts = version.split('.');
    for name in ["MAJOR", "MINOR", "PATCH"] {
        let line = format!("#define QM_VERSION_{name} {}", parts.next().unwrap());
        assert!(header.contains(&line), "missing `{line}`");
    }
    assert!(header.contains(&format!("#define QM_VERSION_STRING \"{version}\"")));
    assert!(header.contains(&format!("#define QM_ABI_VERSION {}\n", abi_version())));
}

#[test]
fn every_exported_function_is_documented() {
    let header = generate();
    let lines: Vec<&str> = header.lines().collect();
    let mut exports = 0;
    for (i, line) in lines.iter().enumerate() {
        let is_prototype = line.contains(" qm_")
            && line.contains('(')
            && !["typedef", "#define", "/*", " "]
                .iter()
                .any(|p| line.starts_with(p));
        if !is_prototype {
            continue;
        }
        exports += 1;
        assert!(
            i > 0 && lines[i - 1].trim_end().ends_with("*/"),
            "undocumented export: {line}"
        );
    }
    assert!(exports > 50, "only {exports} exports found");
}

/// The sections come in reading order, each function in its own: the
/// library's first, the constants last, and no `bool` anywhere.
#[test]
fn the_header_reads_in_sections_and_has_no_bool() {
    let header = generate();
    let at = |needle: &str| {
        header
            .find(needle)
            .unwrap_or_else(|| panic!("no {needle:?} in the header"))
    };
    let order = [
        " * Types ",
        "typedef struct qm_job_progress",
        " * 1. Library ",
        "qm_version(void);",
        " * 2. Manager ",
        " qm_manager_open(",
        " * 3. Jobs ",
        " qm_job_create(",
        " * 4. Files ",
        " qm_job_add_files(",
        " * 5. Transfer options ",
        " qm_job_set_priority(",
        " * 6. HTTP options ",
        " qm_job_set_proxy(",
        " * 7. Notifications ",
        " qm_job_set_notify(",
        " * 8. Constants ",
        "#define QM_JOB_STATE_QUEUED ",
    ];
    for pair in order.windows(2) {
        assert!(
            at(pair[0]) < at(pair[1]),
            "{:?} comes after {:?}",
            pair[0],
            pair[1]
        );
    }
    assert!(!header.contains("bool"), "a bool in the header");
    assert!(!header.contains("stdbool"));
    for contract in [
        "longjmp",
        "not fork-safe",
        "The queue has no bound",
        "struct_size",
    ] {
        assert!(
            header.contains(contract),
            "the prologue does not say {contract:?}"
        );
    }
}
