//! `make install` gives the tree packagers and C users expect, honouring
//! PREFIX, DESTDIR and LIBDIR, and C programs build against it the ways
//! they do: pkg-config (shared and `--static`), CMake's `find_package` and
//! `pkg_check_modules`. The program is README.md's own C example.

use crate::support;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use support::{readme_section, scratch, sh};

/// `make` (the release build and the libqmgr.so.0 link) once per test binary.
fn built() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        sh(support::root(), "make", &[]);
    });
}

/// `make ARGS` in the checkout.
fn make(args: &str) {
    sh(support::root(), &format!("make {args}"), &[]);
}

/// README.md's C example.
fn copy_c(dir: &Path) -> PathBuf {
    let section = readme_section("## Using it from C");
    let code = support::code_blocks(&section, "c").remove(0);
    let path = dir.join("copy.c");
    std::fs::write(&path, code).unwrap();
    path
}

/// Runs a copy program on a 2 MB file and checks the copy.
fn check_copies(exe: &Path, dir: &Path) {
    let data: Vec<u8> = (0..2_000_000u32).map(|i| (i % 253) as u8).collect();
    let src = dir.join("src.bin");
    std::fs::write(&src, &data).unwrap();
    let dst = dir.join(format!(
        "{}.out",
        exe.file_name().unwrap().to_string_lossy()
    ));
    let out = support::run(
        exe,
        &[src.to_str().unwrap(), dst.to_str().unwrap()],
        Duration::from_secs(60),
    );
    assert!(out.contains("100% transferred"), "{out}");
    assert!(std::fs::read(&dst).unwrap() == data);
}

/// The `NEEDED` entries of an ELF file (none for a static program).
fn needed(exe: &Path) -> Vec<String> {
    let out = sh(
        Path::new("/"),
        &format!("readelf -d '{}'", exe.display()),
        &[],
    );
    out.lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| l.split('[').nth(1)?.split(']').next().map(String::from))
        .collect()
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn make_install_honours_destdir_prefix_and_libdir() {
    built();
    let stage = scratch("install-stage");
    let vars = format!(
        "DESTDIR={} PREFIX=/usr LIBDIR=/usr/lib/x86_64-linux-gnu",
        stage.display()
    );
    make(&format!("install {vars}"));
    let lib = stage.join("usr/lib/x86_64-linux-gnu");
    let so = lib.join("libqmgr.so.0.2.0");
    assert_eq!(mode(&so), 0o755);
    let soname = sh(
        Path::new("/"),
        &format!("readelf -d '{}'", so.display()),
        &[],
    );
    assert!(
        soname.contains("Library soname: [libqmgr.so.0]"),
        "{soname}"
    );
    let link = |name: &str| std::fs::read_link(lib.join(name)).unwrap();
    assert_eq!(link("libqmgr.so.0"), Path::new("libqmgr.so.0.2.0"));
    assert_eq!(link("libqmgr.so"), Path::new("libqmgr.so.0"));
    for (file, want) in [
        ("usr/lib/x86_64-linux-gnu/libqmgr.a", 0o644),
        ("usr/include/qmgr.h", 0o644),
        ("usr/lib/x86_64-linux-gnu/pkgconfig/qmgr.pc", 0o644),
        (
            "usr/lib/x86_64-linux-gnu/cmake/qmgr/qmgrConfig.cmake",
            0o644,
        ),
        (
            "usr/lib/x86_64-linux-gnu/cmake/qmgr/qmgrConfigVersion.cmake",
            0o644,
        ),
        ("usr/bin/qmgr", 0o755),
        ("usr/share/man/man1/qmgr.1", 0o644),
        ("usr/share/man/man1/qmgr-transfer.1", 0o644),
        ("usr/share/bash-completion/completions/qmgr", 0o644),
        ("usr/share/zsh/site-functions/_qmgr", 0o644),
        ("usr/share/fish/vendor_completions.d/qmgr.fish", 0o644),
    ] {
        let path = stage.join(file);
        assert!(path.is_file(), "no {file}");
        assert_eq!(mode(&path), want, "{file}");
    }
    assert_eq!(
        std::fs::read(stage.join("usr/include/qmgr.h")).unwrap(),
        std::fs::read(support::root().join("include/qmgr.h")).unwrap()
    );
    // The files name the final paths, never the staging directory.
    let pc = std::fs::read_to_string(lib.join("pkgconfig/qmgr.pc")).unwrap();
    assert!(pc.contains("prefix=/usr\n"), "{pc}");
    assert!(pc.contains("libdir=/usr/lib/x86_64-linux-gnu\n"), "{pc}");
    assert!(pc.contains("Version: 0.2.0\n"), "{pc}");
    let cmake = std::fs::read_to_string(lib.join("cmake/qmgr/qmgrConfig.cmake")).unwrap();
    assert!(
        cmake.contains("\"/usr/lib/x86_64-linux-gnu/libqmgr.so.0.2.0\""),
        "{cmake}"
    );
    let stage_name = stage.to_string_lossy().into_owned();
    assert!(!pc.contains(&stage_name) && !cmake.contains(&stage_name));
    let version = sh(&stage, "usr/bin/qmgr --version", &[]);
    assert_eq!(version.trim(), "qmgr 0.2.0");

    make(&format!("uninstall {vars}"));
    let left = sh(&stage, "find . ! -type d", &[]);
    assert_eq!(left, "", "left after make uninstall");
    let _ = std::fs::remove_dir_all(&stage);
}

/// Installs into a fresh prefix; returns it.
fn install_prefix(name: &str) -> PathBuf {
    built();
    let prefix = scratch(name).join("prefix");
    make(&format!("install PREFIX={}", prefix.display()));
    prefix
}

#[test]
fn c_programs_build_with_pkg_config_shared_and_static() {
    let prefix = install_prefix("install-pkg-config");
    let dir = prefix.parent().unwrap().to_path_buf();
    copy_c(&dir);
    let pkg_path = prefix.join("lib/pkgconfig");
    let env = [("PKG_CONFIG_PATH", pkg_path.to_str().unwrap())];

    let flags = sh(&dir, "pkg-config --cflags --libs qmgr", &env);
    assert_eq!(
        flags.trim(),
        format!("-I{0}/include -L{0}/lib -lqmgr", prefix.display())
    );
    sh(
        &dir,
        "cc -std=c99 -Wall -Wextra -Werror copy.c $(pkg-config --cflags --libs qmgr) \
         -Wl,-rpath,$(pkg-config --variable=libdir qmgr) -o copy",
        &env,
    );
    assert!(needed(&dir.join("copy")).contains(&"libqmgr.so.0".to_string()));
    check_copies(&dir.join("copy"), &dir);

    // --static: Libs.private holds what libqmgr.a needs (-lm for SQLite,
    // -lpthread, -ldl, ...); the program has no dynamic section at all.
    sh(
        &dir,
        "cc -std=c99 -static copy.c $(pkg-config --static --cflags --libs qmgr) -o copy-static",
        &env,
    );
    assert_eq!(needed(&dir.join("copy-static")), Vec::<String>::new());
    check_copies(&dir.join("copy-static"), &dir);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cmake_projects_find_the_package_and_the_pkg_config_module() {
    if !support::have_tool("cmake") {
        return;
    }
    let prefix = install_prefix("install-cmake");
    let dir = prefix.parent().unwrap().to_path_buf();
    copy_c(&dir);
    std::fs::write(
        dir.join("CMakeLists.txt"),
        r#"cmake_minimum_required(VERSION 3.13)
project(copy C)

find_package(qmgr 0.2 REQUIRED)
add_executable(copy_shared copy.c)
target_link_libraries(copy_shared PRIVATE qmgr::qmgr)
add_executable(copy_static copy.c)
target_link_libraries(copy_static PRIVATE qmgr::qmgr_static)

find_package(PkgConfig REQUIRED)
pkg_check_modules(QMGR REQUIRED IMPORTED_TARGET qmgr>=0.2)
add_executable(copy_pkg copy.c)
target_link_libraries(copy_pkg PRIVATE PkgConfig::QMGR)
"#,
    )
    .unwrap();
    let env = [(
        "PKG_CONFIG_PATH",
        prefix.join("lib/pkgconfig").to_str().unwrap().to_string(),
    )];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    sh(
        &dir,
        &format!(
            "cmake -S . -B build -DCMAKE_PREFIX_PATH={} -DCMAKE_BUILD_RPATH={}/lib",
            prefix.display(),
            prefix.display()
        ),
        &env,
    );
    sh(&dir, "cmake --build build", &env);
    let build = dir.join("build");
    assert!(needed(&build.join("copy_shared")).contains(&"libqmgr.so.0".to_string()));
    assert!(!needed(&build.join("copy_static"))
        .iter()
        .any(|n| n.contains("qmgr")));
    for exe in ["copy_shared", "copy_static", "copy_pkg"] {
        check_copies(&build.join(exe), &dir);
    }

    // A newer version than the installed one is not found.
    std::fs::write(
        dir.join("CMakeLists.txt"),
        "cmake_minimum_required(VERSION 3.13)\nproject(newer C)\nfind_package(qmgr 0.3 REQUIRED)\n",
    )
    .unwrap();
    let out = std::process::Command::new("cmake")
        .args(["-S", ".", "-B", "build-newer"])
        .arg(format!("-DCMAKE_PREFIX_PATH={}", prefix.display()))
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success(), "find_package(qmgr 0.3) found 0.2");
    let _ = std::fs::remove_dir_all(&dir);
}
