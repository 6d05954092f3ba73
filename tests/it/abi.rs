//! The C ABI cannot change by accident, and it can grow without breaking
//! anyone.
//!
//! - The baseline (`tests/abi/baseline.txt`): a C program compiled against
//!   `include/qmgr.h` prints the size and alignment of every type, the
//!   offset and size of every struct field and the value of every constant;
//!   with each function's prototype from the header, that is compared with
//!   the committed baseline. Appending a field at the end of a struct
//!   (old offsets unchanged), adding a function, a constant or a struct is
//!   compatible: the baseline is regenerated and nothing else changes. Any
//!   other change (a field moved, resized or removed, a struct shrunk, a
//!   constant's value, a prototype, something removed) needs a new
//!   `QM_ABI_VERSION` (and with it the SONAME) before the baseline accepts
//!   it: `QMGR_UPDATE_ABI=1 cargo test --test it abi::` refuses to record a
//!   break under the same ABI number.
//! - Everything that names the ABI number agrees: the header, the loaded
//!   library (`qm_abi_version()`), its SONAME, `capi/build.rs`, the Makefile and
//!   the Python package.
//! - Growth: a program built against today's header runs on a library whose
//!   `qm_job_progress` gained a field (the test-only `abi-growth-test`
//!   build), and a program that declares the bigger struct (a newer header)
//!   runs on today's library and sees `struct_size` shrink to what it filled.
//! - No uninitialised byte reaches the caller: a program reads every struct
//!   the library fills into uninitialised memory and prints it under
//!   valgrind's memcheck.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::header;
use crate::support;

/// What the ABI consists of, one entry per line of the baseline: the key
/// (`struct NAME`, `field STRUCT.NAME`, `type NAME`, `const NAME`, `fn
/// NAME`, `abi`) and its value (sizes, offsets, values, prototypes).
type Abi = BTreeMap<String, String>;

fn baseline_path() -> PathBuf {
    support::root().join("tests/abi/baseline.txt")
}

/// Reads a baseline file.
fn parse(text: &str) -> Abi {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (key, value) = l
                .split_once(" = ")
                .unwrap_or_else(|| panic!("bad baseline line {l:?}"));
            (key.to_string(), value.to_string())
        })
        .collect()
}

/// Writes a baseline file.
fn render(abi: &Abi) -> String {
    let mut out = String::from(
        "# The C ABI of include/qmgr.h as a compiler lays it out (tests/it/abi.rs).\n\
         # Compatible growth: append struct fields, add functions, constants, types.\n\
         # Anything else needs QM_ABI_VERSION (and the SONAME) bumped first.\n\
         # Regenerate: QMGR_UPDATE_ABI=1 cargo test --test it abi::\n",
    );
    for (key, value) in abi {
        out.push_str(&format!("{key} = {value}\n"));
    }
    out
}

/// The parameter list of a prototype without parameter names: only types
/// are ABI.
fn strip_names(params: &str) -> String {
    let params = params.trim();
    if params == "void" || params.is_empty() {
        return "void".into();
    }
    params
        .split(',')
        .map(|p| {
            let p = p.trim();
            let cut = p
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(0, |i| i + 1);
            p[..cut].trim().to_string()
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The header's declarations, as the compiler will not tell them: the
/// prototypes (`fn`), the callback type, the structs and their fields (to
/// measure), the typedefs and the numeric constants (to evaluate).
struct Declarations {
    functions: BTreeMap<String, String>,
    callbacks: BTreeMap<String, String>,
    structs: Vec<(String, Vec<String>)>,
    scalars: Vec<String>,
    constants: Vec<String>,
}

fn declarations(header: &str) -> Declarations {
    // Comments out, one declaration per statement.
    let mut code = String::new();
    let mut rest = header;
    while let Some(start) = rest.find("/*") {
        code.push_str(&rest[..start]);
        let end = rest[start..].find("*/").expect("unterminated comment");
        rest = &rest[start + end + 2..];
    }
    code.push_str(rest);
    let mut d = Declarations {
        functions: BTreeMap::new(),
        callbacks: BTreeMap::new(),
        structs: Vec::new(),
        scalars: Vec::new(),
        constants: Vec::new(),
    };
    let mut lines = code.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim();
        if let Some(def) = t.strip_prefix("#define ") {
            let name = def.split_whitespace().next().unwrap_or("");
            let function_like = name.contains('(');
            let skipped = name.starts_with("QM_VERSION_")
                || name == "QM_ABI_VERSION"
                || name.ends_with("_INIT")
                || name == "QMGR_H";
            if name.starts_with("QM_") && !function_like && !skipped {
                d.constants.push(name.to_string());
            }
        } else if let Some(rest) = t.strip_prefix("typedef struct ") {
            let name = rest.trim_end_matches('{').trim().to_string();
            let mut fields = Vec::new();
            for field in lines.by_ref() {
                let f = field.trim();
                if f.starts_with('}') {
                    break;
                }
                if let Some(decl) = f.strip_suffix(';') {
                    let ident = decl.split('[').next().unwrap();
                    let start = ident
                        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .map_or(0, |i| i + 1);
                    fields.push(ident[start..].to_string());
                }
            }
            d.structs.push((name, fields));
        } else if t.starts_with("typedef ") {
            let mut decl = t.to_string();
            while !decl.ends_with(';') {
                decl.push(' ');
                decl.push_str(lines.next().expect("typedef to its ;").trim());
            }
            if let Some((head, params)) = decl.split_once("(*") {
                let (name, params) = params.split_once(")(").expect("a function pointer typedef");
                let ret = head.trim_start_matches("typedef ").trim();
                let params = strip_names(params.trim_end_matches(");"));
                d.callbacks
                    .insert(name.to_string(), format!("{ret} (*)({params})"));
            } else {
                let name = decl
                    .trim_end_matches(';')
                    .split_whitespace()
                    .last()
                    .unwrap();
                d.scalars.push(name.to_string());
            }
        } else if t.contains("qm_") && t.contains('(') && !t.starts_with('#') {
            let mut decl = t.to_string();
            while !decl.ends_with(';') {
                decl.push(' ');
                decl.push_str(lines.next().expect("a prototype to its ;").trim());
            }
            let (head, params) = decl.split_once('(').unwrap();
            let name = head.rsplit([' ', '*']).next().unwrap().to_string();
            let ret = head[..head.len() - name.len()].trim();
            let params = strip_names(params.trim_end_matches(");"));
            d.functions
                .insert(name.clone(), format!("{ret} {name}({params})"));
        }
    }
    d
}

/// Compiles and runs a program that measures `d` with the real compiler,
/// linked with the real library (for `qm_abi_version()`).
fn measure(d: &Declarations, dir: &Path) -> Abi {
    let mut c = String::from("#include <stdio.h>\n#include <stddef.h>\n#include \"qmgr.h\"\n");
    // A type's alignment in C99: where it lands after a char.
    let types = d
        .scalars
        .iter()
        .chain(d.structs.iter().map(|(name, _)| name));
    for name in types {
        c.push_str(&format!("struct align_{name} {{ char c; {name} t; }};\n"));
    }
    c.push_str("#define ALIGN(T) offsetof(struct align_##T, t)\nint main(void) {\n");
    c.push_str("    printf(\"abi = %u\\n\", (unsigned)QM_ABI_VERSION);\n");
    c.push_str("    printf(\"library abi = %u\\n\", (unsigned)qm_abi_version());\n");
    for name in &d.scalars {
        c.push_str(&format!(
            "    printf(\"type {name} = size %u align %u\\n\", (unsigned)sizeof({name}), (unsigned)ALIGN({name}));\n"
        ));
    }
    for (name, fields) in &d.structs {
        c.push_str(&format!(
            "    printf(\"struct {name} = size %u align %u\\n\", (unsigned)sizeof({name}), (unsigned)ALIGN({name}));\n"
        ));
        for field in fields {
            c.push_str(&format!(
                "    printf(\"field {name}.{field} = offset %u size %u\\n\", (unsigned)offsetof({name}, {field}), (unsigned)sizeof((({name} *)0)->{field}));\n"
            ));
        }
    }
    for name in &d.constants {
        c.push_str(&format!(
            "    printf(\"const {name} = 0x%llx\\n\", (unsigned long long)({name}));\n"
        ));
    }
    c.push_str("    return 0;\n}\n");
    let src = dir.join("layout.c");
    std::fs::write(&src, c).unwrap();
    let exe = dir.join("layout");
    support::compile_sources(&[src], support::Build::Plain, &exe);
    let out = support::run(&exe, &[], Duration::from_secs(60));
    let mut abi = parse(&out);
    for (name, proto) in &d.functions {
        abi.insert(format!("fn {name}"), proto.clone());
    }
    for (name, proto) in &d.callbacks {
        abi.insert(format!("callback {name}"), proto.clone());
    }
    abi
}

/// The ABI of today's header, measured.
fn current(dir: &Path) -> Abi {
    let text = std::fs::read_to_string(support::root().join("include/qmgr.h")).unwrap();
    measure(&declarations(&text), dir)
}

/// Compares a baseline with the current ABI: (incompatible changes,
/// compatible additions). `library abi` is not part of the comparison.
fn compare(old: &Abi, new: &Abi) -> (Vec<String>, Vec<String>) {
    let mut breaks = Vec::new();
    let mut additions = Vec::new();
    let number = |v: &str, key: &str| -> u64 {
        let words: Vec<&str> = v.split_whitespace().collect();
        let at = words.iter().position(|w| *w == key).expect(key);
        words[at + 1].parse().unwrap()
    };
    for (key, was) in old {
        if key == "abi" || key == "library abi" {
            continue;
        }
        match new.get(key) {
            None => breaks.push(format!("{key} was removed (it was {was})")),
            Some(now) if now == was => {}
            Some(now) => {
                if key.starts_with("struct ") {
                    if number(now, "size") < number(was, "size") {
                        breaks.push(format!("{key} shrank: {was} -> {now}"));
                    } else {
                        additions.push(format!("{key} grew: {was} -> {now}"));
                    }
                } else {
                    breaks.push(format!("{key} changed: {was} -> {now}"));
                }
            }
        }
    }
    for (key, now) in new {
        if old.contains_key(key) || key == "abi" || key == "library abi" {
            continue;
        }
        if let Some(field) = key.strip_prefix("field ") {
            let strukt = field.split('.').next().unwrap();
            if let Some(was) = old.get(&format!("struct {strukt}")) {
                if number(now, "offset") < number(was, "size") {
                    breaks.push(format!(
                        "{key} ({now}) lies inside the old struct {strukt} ({was}): fields may only be appended"
                    ));
                    continue;
                }
            }
        }
        additions.push(format!("{key} = {now} is new"));
    }
    (breaks, additions)
}

#[test]
fn the_abi_matches_the_committed_baseline_or_grows_compatibly() {
    let dir = support::scratch("abi-baseline");
    let now = current(&dir);
    let abi = header::abi_version().to_string();
    assert_eq!(now["abi"], abi, "the header's QM_ABI_VERSION");
    assert_eq!(
        now["library abi"], abi,
        "qm_abi_version() of the built library"
    );
    let path = baseline_path();
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let old = parse(&text);
    let (breaks, additions) = compare(&old, &now);
    let bumped = old.get("abi") != Some(&abi);
    let mut recorded = now.clone();
    recorded.remove("library abi");
    if std::env::var_os("QMGR_UPDATE_ABI").is_some() {
        assert!(
            breaks.is_empty() || bumped,
            "refusing to record incompatible changes under the same ABI number {abi}:\n  {}\n\
             Keep the old layout (append struct fields at the end; add functions and constants), \
             or bump QM_ABI_VERSION in src/ffi/library.rs (capi/build.rs's SONAME, the Makefile's \
             SOVERSION and python/qmgr/_lib.py follow it) and list the change in CHANGELOG.md",
            breaks.join("\n  ")
        );
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, render(&recorded)).unwrap();
        return;
    }
    assert!(
        !bumped,
        "QM_ABI_VERSION is {abi} but tests/abi/baseline.txt records {:?}: check that every \
         change below is meant, then regenerate it with QMGR_UPDATE_ABI=1 cargo test --test it abi::\n  {}",
        old.get("abi"),
        breaks.iter().chain(&additions).cloned().collect::<Vec<_>>().join("\n  ")
    );
    assert!(
        breaks.is_empty(),
        "incompatible ABI changes under ABI {abi}:\n  {}\nA program built against the old header \
         would break. Keep the old layout (append struct fields at the end; add functions and \
         constants), or bump QM_ABI_VERSION in src/ffi/library.rs (the SONAME follows) AND \
         regenerate the baseline with QMGR_UPDATE_ABI=1 cargo test --test it abi::",
        breaks.join("\n  ")
    );
    assert!(
        additions.is_empty(),
        "compatible additions not in the baseline yet (no ABI bump needed):\n  {}\n\
         Record them with QMGR_UPDATE_ABI=1 cargo test --test it abi::",
        additions.join("\n  ")
    );
}

/// The rules of `compare`, on made-up baselines.
#[test]
fn appending_is_compatible_and_anything_else_breaks() {
    let base: Abi = parse(
        "abi = 1\n\
         struct s = size 16 align 8\n\
         field s.struct_size = offset 0 size 4\n\
         field s.a = offset 8 size 8\n\
         const QM_X = 0x1\n\
         fn qm_f = qm_hresult qm_f(qm_job_t)\n",
    );
    let with = |edits: &[(&str, Option<&str>)]| {
        let mut abi = base.clone();
        for (key, value) in edits {
            match value {
                Some(v) => abi.insert(key.to_string(), v.to_string()),
                None => abi.remove(*key),
            };
        }
        compare(&base, &abi)
    };
    // Appended field, new function, new constant: additions only.
    let (breaks, additions) = with(&[
        ("struct s", Some("size 24 align 8")),
        ("field s.b", Some("offset 16 size 8")),
        ("fn qm_g", Some("qm_hresult qm_g(void)")),
        ("const QM_Y", Some("0x2")),
    ]);
    assert!(breaks.is_empty(), "{breaks:?}");
    assert_eq!(additions.len(), 4, "{additions:?}");
    // A moved field, a field inside the old size, a shrink, a removal, a
    // changed constant or prototype: breaks.
    for edits in [
        vec![("field s.a", Some("offset 4 size 8"))],
        vec![("field s.pad", Some("offset 4 size 4"))],
        vec![("struct s", Some("size 8 align 8"))],
        vec![("field s.a", None)],
        vec![("const QM_X", Some("0x3"))],
        vec![("fn qm_f", Some("qm_hresult qm_f(qm_job_t, uint32_t)"))],
        vec![("fn qm_f", None)],
    ] {
        let (breaks, _) = with(&edits);
        assert!(!breaks.is_empty(), "{edits:?} was taken as compatible");
    }
}

/// Everything that names the ABI number says the same.
#[test]
fn the_soname_and_every_copy_of_the_abi_number_agree() {
    let abi = header::abi_version();
    let soname = format!("libqmgr.so.{abi}");
    let read = |path: &str| std::fs::read_to_string(support::root().join(path)).unwrap();
    assert!(
        read("capi/build.rs").contains(&format!("-soname,{soname}\"")),
        "capi/build.rs"
    );
    assert!(
        read("Makefile").contains(&format!("SOVERSION := {abi}\n")),
        "Makefile"
    );
    let python = read("python/qmgr/_lib.py");
    assert!(
        python.contains(&format!("ABI_VERSION = {abi}\n")),
        "python/qmgr/_lib.py"
    );
    assert!(
        python.contains(&format!("\"{soname}\"")),
        "python/qmgr/_lib.py's names"
    );
    assert!(read("python/qmgr/constants.py").contains(&format!("QM_ABI_VERSION = {abi} ")));
    // cargo-c names the SONAME after the first component of its version.
    let manifest = read("capi/Cargo.toml");
    let capi = &manifest[manifest
        .find("[package.metadata.capi.library]")
        .expect("capi/Cargo.toml's [package.metadata.capi.library]")..];
    let capi = &capi[..capi[1..].find("\n[").map_or(capi.len(), |i| i + 1)];
    assert!(
        capi.contains(&format!("\nversion = \"{abi}.")),
        "[package.metadata.capi.library] version must start with the ABI number {abi}: {capi}"
    );
    let lib = support::library_dir().join("libqmgr.so");
    let out = Command::new("readelf")
        .arg("-d")
        .arg(&lib)
        .output()
        .expect("readelf");
    let dynamic = String::from_utf8_lossy(&out.stdout);
    assert!(
        dynamic.contains(&format!("Library soname: [{soname}]")),
        "{}: {dynamic}",
        lib.display()
    );
}

/// Builds the test-only library whose `qm_job_progress` has a field more,
/// in its own target directory, unoptimised and without TLS and SQLite
/// (only its struct matters); returns its directory, with the SONAME link.
fn grown_library() -> PathBuf {
    let lib = support::library_apart("abi-growth-test", &["abi-growth-test"]);
    let soname = lib.join(format!("libqmgr.so.{}", header::abi_version()));
    let _ = std::fs::remove_file(&soname);
    std::os::unix::fs::symlink("libqmgr.so", &soname).unwrap();
    lib
}

#[test]
fn programs_of_either_header_run_on_a_library_whose_struct_grew_and_on_todays() {
    let dir = support::scratch("abi-growth");
    let exe = dir.join("abi_growth");
    let sources = [
        support::root().join("ctests/abi_growth.c"),
        support::root().join("ctests/common.c"),
    ];
    // Built once, against today's header and library.
    support::compile_sources(&sources, support::Build::Plain, &exe);
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let today = support::run(
        &exe,
        &[work.to_str().unwrap(), "today"],
        Duration::from_secs(120),
    );
    assert!(
        today.contains("today's library: an older caller got 48 bytes, a newer caller 48"),
        "{today}"
    );
    // The same binary on the grown library (LD_LIBRARY_PATH wins over the
    // program's RUNPATH).
    let grown = grown_library();
    let out = support::run_with_env(
        &exe,
        &[work.to_str().unwrap(), "grown"],
        &[("LD_LIBRARY_PATH", &grown)],
        Duration::from_secs(120),
    );
    assert!(
        out.contains("grown library: an older caller got 48 bytes, a newer caller 56"),
        "{out}"
    );
}

/// Runs `exe args` under valgrind's memcheck; true when it reported nothing.
fn memcheck(exe: &Path, args: &[&str]) -> (bool, String) {
    let mut cmd = Command::new("valgrind");
    cmd.args([
        "--error-exitcode=1",
        "--quiet",
        "--leak-check=no",
        "--track-origins=yes",
    ])
    .arg(exe)
    .args(args);
    let out = support::run_bounded(cmd, Duration::from_secs(300));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.is_some_and(|s| s.success()), text)
}

#[test]
fn no_uninitialised_byte_of_an_out_struct_reaches_the_caller() {
    if !support::have_tool("valgrind") {
        return;
    }
    let dir = support::scratch("abi-uninit");
    let exe = dir.join("uninit");
    let sources = [
        support::root().join("ctests/uninit.c"),
        support::root().join("ctests/common.c"),
    ];
    support::compile_sources(&sources, support::Build::Plain, &exe);
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    // The harness sees an uninitialised byte printed...
    let (clean, text) = memcheck(&exe, &[work.to_str().unwrap(), "--self-check"]);
    assert!(
        !clean && text.contains("uninitialised"),
        "valgrind missed a byte never set:\n{text}"
    );
    // ...and the library hands out none.
    let (clean, text) = memcheck(&exe, &[work.to_str().unwrap()]);
    assert!(clean, "memcheck found uninitialised bytes:\n{text}");
    for what in [
        "qm_job_progress (48 bytes)",
        "qm_file_progress (24 bytes)",
        "qm_job_times (32 bytes)",
        "qm_job_error (20 bytes)",
        "qm_file_range[1] (24 bytes)",
    ] {
        assert!(text.contains(what), "{what} not printed:\n{text}");
    }
}
