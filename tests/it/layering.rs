//! The engine's imports run one way (DESIGN §7): this test reads every
//! source file of the library, finds each `crate::…` and `super::…` path
//! it names, and checks the module graph that results:
//!
//! - no module of `src/engine` names `crate::ffi` (or the CLI);
//! - the layers only look down: transport < model < store < runtime;
//! - no two modules import each other, directly or through others (the
//!   graph of file modules has no cycle; a parent's `mod child;` line is
//!   not an import, but its `pub use child::…` is).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a source file: `src/engine/model/job.rs` is
/// `engine::model::job`, `src/engine/model/mod.rs` is `engine::model`,
/// `src/lib.rs` is the crate root (empty).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts.join("::")
}

/// The code of a file without its comments (doc comments name paths too)
/// and without its unit tests (a trailing `#[cfg(test)] mod …`).
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod ") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .map(|line| match line.find("//") {
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path the code names with `crate::` or `super::`, resolved to an
/// absolute module path (items included; the caller trims them).
fn named_paths(module: &str, code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b':';
    for start in [("crate::", true), ("super::", false)] {
        let mut from = 0;
        while let Some(i) = code[from..].find(start.0) {
            let at = from + i;
            from = at + start.0.len();
            if at > 0 && (ident(bytes[at - 1]) || bytes[at - 1] == b'$') {
                continue; // `$crate::` in a macro, or part of a longer path
            }
            let mut end = from;
            while end < bytes.len() && ident(bytes[end]) {
                end += 1;
            }
            let tail = code[from..end].trim_end_matches(':');
            let base = if start.1 {
                String::new()
            } else {
                module
                    .rsplit_once("::")
                    .map_or(String::new(), |(parent, _)| parent.to_string())
            };
            out.push(match (base.is_empty(), tail.is_empty()) {
                (true, _) => tail.to_string(),
                (false, true) => base,
                (false, false) => format!("{base}::{tail}"),
            });
        }
    }
    out
}

/// The longest known module that `path` starts with.
fn resolve<'a>(path: &str, modules: &'a BTreeSet<String>) -> Option<&'a String> {
    let mut cut = path.to_string();
    loop {
        if let Some(m) = modules.get(&cut) {
            return Some(m);
        }
        match cut.rfind("::") {
            Some(i) => cut.truncate(i),
            None => return modules.get(""),
        }
    }
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    files.retain(|f| !f.starts_with(src.join("bin")));
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let module = module_of(&src, file);
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        let mut targets = BTreeSet::new();
        for path in named_paths(&module, &code) {
            if let Some(target) = resolve(&path, &modules) {
                if *target != module {
                    targets.insert(target.clone());
                }
            }
        }
        // `pub use child::x` in a parent names its child without `crate::`.
        for line in code.lines() {
            let line = line.trim();
            if let Some(rest) = line
                .strip_prefix("pub use ")
                .or_else(|| line.strip_prefix("pub(crate) use "))
            {
                if !rest.starts_with("crate::") && !rest.starts_with("super::") {
                    let full = if module.is_empty() {
                        rest.to_string()
                    } else {
                        format!("{module}::{rest}")
                    };
                    if let Some(target) = resolve(&full, &modules) {
                        if *target != module {
                            targets.insert(target.clone());
                        }
                    }
                }
            }
        }
        edges.insert(module, targets);
    }
    edges
}

#[test]
fn the_engine_never_imports_the_c_boundary() {
    for (module, targets) in graph() {
        if module.starts_with("engine") {
            for target in &targets {
                assert!(
                    !target.starts_with("ffi"),
                    "{module} imports {target}: the engine must not depend on the C boundary"
                );
            }
        }
    }
}

#[test]
fn layers_only_look_down() {
    let rank = |m: &str| -> Option<u8> {
        [
            "engine::transport",
            "engine::model",
            "engine::store",
            "engine::runtime",
        ]
        .iter()
        .position(|layer| m == *layer || m.starts_with(&format!("{layer}::")))
        .map(|p| p as u8)
    };
    let mut checked = 0;
    for (module, targets) in graph() {
        let Some(from) = rank(&module) else { continue };
        for target in &targets {
            if let Some(to) = rank(target) {
                assert!(to <= from, "{module} (a lower layer) imports {target}");
                checked += 1;
            }
        }
    }
    assert!(
        checked > 20,
        "only {checked} layered imports found: is the scan broken?"
    );
}

#[test]
fn no_two_modules_import_each_other() {
    let edges = graph();
    assert!(edges.len() > 30, "only {} modules found", edges.len());
    // Depth-first search for a cycle; report it as a path.
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(node) {
            Some(1) => {
                let at = stack.iter().position(|n| n == node).unwrap();
                let mut cycle = stack[at..].to_vec();
                cycle.push(node.to_string());
                return Some(cycle);
            }
            Some(2) => return None,
            _ => {}
        }
        state.insert(node.to_string(), 1);
        stack.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, state, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        state.insert(node.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in edges.keys() {
        if let Some(cycle) = visit(node, &edges, &mut state, &mut Vec::new()) {
            panic!("import cycle: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn the_scan_finds_the_paths_a_file_names() {
    // The scanner itself: crate and super paths, macros and comments.
    let a = named_paths(
        "engine::a",
        "use crate::engine::b::X; fn f() { super::g(); }",
    );
    assert_eq!(a, vec!["engine::b::X".to_string(), "engine::g".to_string()]);
    assert!(named_paths("ffi", "$crate::Result").is_empty());
    assert_eq!(code_of("use x; // crate::ffi::y"), "use x; ");
    assert_eq!(
        code_of("use x;\n#[cfg(test)]\nmod tests { use crate::ffi; }"),
        "use x;"
    );
}

/// The crate root's public items, as `src/lib.rs` declares them: every
/// `pub mod` and `pub use` at the top level (a multi-line `use` joined).
fn root_public_items() -> Vec<String> {
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs");
    let text = std::fs::read_to_string(lib).unwrap();
    // Without comments (not `code_of`: its unit-test cut would stop at
    // `#[cfg(test)] mod testing;`).
    let code = text
        .lines()
        .map(|line| line.split("//").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    let mut items = Vec::new();
    let mut lines = code.lines();
    while let Some(line) = lines.next() {
        if let Some(name) = line.strip_prefix("pub mod ") {
            items.push(format!("mod {}", name.trim_end_matches([';', '{', ' '])));
        } else if let Some(used) = line.strip_prefix("pub use ") {
            let mut item = used.to_string();
            while !item.ends_with(';') {
                item.push_str(lines.next().unwrap().trim());
            }
            items.push(format!("use {}", item.trim_end_matches(';')));
        } else {
            assert!(
                !line.starts_with("pub ") && !line.starts_with("pub("),
                "a public item of the crate root that this test does not list: {line}"
            );
        }
    }
    items
}

/// The Rust API is the crate root's re-exports: the engine stays private
/// (its model, store and transport are no API), and adding or removing a
/// public item of the root is a deliberate change of this list. That every
/// type a public signature names is among them is the compiler's check
/// (`#![deny(unnameable_types)]` in `src/lib.rs`).
#[test]
fn the_crate_root_exposes_the_api_and_hides_the_engine() {
    let expected = [
        // Hidden (`#[doc(hidden)]`): the benchmarks' and tests' hooks.
        "mod ffi",
        "mod fuzzing",
        "mod hresult",
        "mod service",
        "mod upload_testing",
        "mod state_schema",
        "use api::job::{Job, NotifyCallback}",
        "use api::manager::Manager",
        "use engine::error::{Error, Result}",
        "use engine::transport::options::ProxySetting",
        "use engine::transport::url::redact as redact_passwords",
        "use engine::types::*",
        "use hresult::HResult",
    ];
    assert_eq!(root_public_items(), expected);
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    assert!(
        lib.contains("\nmod engine;\n"),
        "the engine must stay private"
    );
    assert!(lib.contains("#![deny(unnameable_types)]"));
    for hidden in [
        "ffi",
        "fuzzing",
        "service",
        "state_schema",
        "upload_testing",
    ] {
        let at = lib.find(&format!("pub mod {hidden}")).unwrap();
        let attributes = &lib[..at][lib[..at].rfind("\n\n").unwrap_or(0)..];
        assert!(
            attributes.contains("#[doc(hidden)]"),
            "`{hidden}` is public for qmgr's own tests only: it must be #[doc(hidden)]"
        );
    }
}

/// The protocol (`service`) and the proxy sit below the API facade
/// (`api`), which wraps the proxy: they name the engine's types, never
/// the facade's `Job`, `Manager` or `NotifyCallback` (through `crate::api`
/// or the crate root's re-exports, which the module graph above sees only
/// as the root). What needs a live facade job lives in qmgrd.
#[test]
fn the_protocol_and_the_proxy_never_name_the_api() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src.join("service"), &mut files);
    sources(&src.join("proxy"), &mut files);
    assert!(files.len() >= 5, "{files:?}");
    let facade = ["Job", "Manager", "NotifyCallback"];
    for file in files {
        let code = code_of(&std::fs::read_to_string(&file).unwrap());
        assert!(
            !code.contains("crate::api"),
            "{} names crate::api",
            file.display()
        );
        for name in facade {
            assert!(
                !code.contains(&format!("crate::{name}")),
                "{} names crate::{name}",
                file.display()
            );
        }
        // `use crate::{A, B, ...};` groups of root re-exports.
        let mut rest = code.as_str();
        while let Some(i) = rest.find("use crate::{") {
            let group = &rest[i + "use crate::{".len()..];
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',').map(str::trim) {
                assert!(
                    !facade.contains(&item),
                    "{} imports the facade's {item} from the crate root",
                    file.display()
                );
            }
            rest = &rest[i + 1..];
        }
    }
}
