//! `make install` gives the tree packagers and C users expect, honouring
//! PREFIX, DESTDIR and LIBDIR, and C programs build against it the ways
//! they do: pkg-config (shared and `--static`), CMake's `find_package` and
//! `pkg_check_modules`. The program is README.md's own C example.

use crate::support;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use support::{readme_section, scratch, sh};

/// The crate's version, which names the installed library file.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The SONAME, `libqmgr.so.N` for ABI N.
fn soname() -> String {
    format!("libqmgr.so.{}", crate::header::abi_version())
}

/// `make` (the release build and the SONAME link) once per test binary.
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

/// Runs a copy program on a 2 MB file, as a user's shell runs it (without
/// the `LD_LIBRARY_PATH` that cargo test sets, which holds the checkout's
/// own build of the library), and checks the copy. Returns the outcome.
fn run_copy(exe: &Path, dir: &Path) -> support::Bounded {
    let data: Vec<u8> = (0..2_000_000u32).map(|i| (i % 253) as u8).collect();
    let src = dir.join("src.bin");
    std::fs::write(&src, &data).unwrap();
    let dst = dir.join(format!(
        "{}.out",
        exe.file_name().unwrap().to_string_lossy()
    ));
    let mut cmd = std::process::Command::new(exe);
    cmd.arg(&src).arg(&dst).env_remove("LD_LIBRARY_PATH");
    let out = support::run_bounded(cmd, Duration::from_secs(60));
    if out.status.is_some_and(|s| s.success()) {
        assert!(std::fs::read(&dst).unwrap() == data);
    }
    out
}

/// `run_copy`, which must succeed.
fn check_copies(exe: &Path, dir: &Path) {
    let out = run_copy(exe, dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.is_some_and(|s| s.success()) && stdout.contains("100% transferred"),
        "{} failed ({:?}): {stdout}{}",
        exe.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The pkg-config commands of README.md's "Installing", as it gives them:
/// (the command line, the program it makes).
fn readme_pkg_config_commands() -> Vec<(String, String)> {
    let section = readme_section("### Installing");
    let block = support::code_blocks(&section, "sh").remove(0);
    block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let exe = l.rsplit_once(" -o ").expect("cc ... -o PROGRAM").1;
            (l.to_string(), exe.to_string())
        })
        .collect()
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
    let real = format!("libqmgr.so.{VERSION}");
    let so = lib.join(&real);
    assert_eq!(mode(&so), 0o755);
    let soname = sh(
        Path::new("/"),
        &format!("readelf -d '{}'", so.display()),
        &[],
    );
    assert!(
        soname.contains(&format!("Library soname: [{}]", self::soname())),
        "{soname}"
    );
    let link = |name: &str| std::fs::read_link(lib.join(name)).unwrap();
    assert_eq!(link(&self::soname()), Path::new(&real));
    assert_eq!(link("libqmgr.so"), Path::new(&self::soname()));
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
        ("usr/bin/qmgrd", 0o755),
        ("usr/share/man/man8/qmgrd.8", 0o644),
        ("usr/lib/systemd/user/qmgrd.socket", 0o644),
        ("usr/lib/systemd/user/qmgrd.service", 0o644),
        ("usr/lib/systemd/system/qmgrd.socket", 0o644),
        ("usr/lib/systemd/system/qmgrd.service", 0o644),
        ("usr/share/varlink/io.qmgr.varlink", 0o644),
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
    assert!(pc.contains(&format!("Version: {VERSION}\n")), "{pc}");
    let cmake = std::fs::read_to_string(lib.join("cmake/qmgr/qmgrConfig.cmake")).unwrap();
    assert!(
        cmake.contains(&format!("\"/usr/lib/x86_64-linux-gnu/{real}\"")),
        "{cmake}"
    );
    assert!(
        cmake.contains(&format!("IMPORTED_SONAME \"{}\"", self::soname())),
        "{cmake}"
    );
    let stage_name = stage.to_string_lossy().into_owned();
    assert!(!pc.contains(&stage_name) && !cmake.contains(&stage_name));
    let version = sh(&stage, "usr/bin/qmgr --version", &[]);
    assert_eq!(version.trim(), format!("qmgr {VERSION}"));
    // The units start the installed daemon, by its final path.
    for mode in ["user", "system"] {
        let unit =
            std::fs::read_to_string(stage.join(format!("usr/lib/systemd/{mode}/qmgrd.service")))
                .unwrap();
        assert!(
            unit.contains(&format!("\nExecStart=/usr/bin/qmgrd --{mode}\n")),
            "{unit}"
        );
    }
    assert_eq!(
        std::fs::read(stage.join("usr/share/varlink/io.qmgr.varlink")).unwrap(),
        qmgr::service::INTERFACE.as_bytes()
    );

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
    // The README's commands, as it gives them: shared, then static.
    let commands = readme_pkg_config_commands();
    assert_eq!(commands.len(), 2, "{commands:?}");
    let (shared, exe) = &commands[0];
    sh(&dir, shared, &env);
    // The prefix is one the loader does not search: the program starts
    // (with the installed library) only thanks to the README's rpath.
    assert!(
        needed(&dir.join(exe))
            .iter()
            .any(|n| n.starts_with("libqmgr.so.")),
        "{shared}"
    );
    check_copies(&dir.join(exe), &dir);
    let without = shared.replace(" -Wl,-rpath,$(pkg-config --variable=libdir qmgr)", "");
    assert_ne!(&without, shared, "the README's shared link has no rpath");
    sh(&dir, &format!("{without}-no-rpath"), &env);
    let out = run_copy(&dir.join(format!("{exe}-no-rpath")), &dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.is_some_and(|s| s.success())
            && stderr.contains("cannot open shared object file"),
        "without the rpath: {stderr}"
    );

    // --static: Libs.private holds what libqmgr.a needs (-lm for SQLite,
    // -lpthread, -ldl, ...); the program has no dynamic section at all.
    let (static_link, exe) = &commands[1];
    assert!(static_link.contains("-static"), "{static_link}");
    sh(&dir, static_link, &env);
    assert_eq!(needed(&dir.join(exe)), Vec::<String>::new());
    check_copies(&dir.join(exe), &dir);
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

find_package(qmgr 0.3 REQUIRED)
add_executable(copy_shared copy.c)
target_link_libraries(copy_shared PRIVATE qmgr::qmgr)
add_executable(copy_static copy.c)
target_link_libraries(copy_static PRIVATE qmgr::qmgr_static)

find_package(PkgConfig REQUIRED)
pkg_check_modules(QMGR REQUIRED IMPORTED_TARGET qmgr>=0.3)
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
    assert!(needed(&build.join("copy_shared")).contains(&soname()));
    assert!(!needed(&build.join("copy_static"))
        .iter()
        .any(|n| n.contains("qmgr")));
    for exe in ["copy_shared", "copy_static", "copy_pkg"] {
        check_copies(&build.join(exe), &dir);
    }

    // A newer version than the installed one is not found, nor an older
    // 0.x one (0.3 changed the ABI of 0.2: libqmgr.so.1, not .0).
    for wanted in ["0.4", "0.2"] {
        std::fs::write(
            dir.join("CMakeLists.txt"),
            format!("cmake_minimum_required(VERSION 3.13)\nproject(other C)\nfind_package(qmgr {wanted} REQUIRED)\n"),
        )
        .unwrap();
        let out = std::process::Command::new("cmake")
            .args(["-S", ".", "-B"])
            .arg(format!("build-{wanted}"))
            .arg(format!("-DCMAKE_PREFIX_PATH={}", prefix.display()))
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "find_package(qmgr {wanted}) found {VERSION}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
