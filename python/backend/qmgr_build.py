"""PEP 517 build backend of the qmgr Python package, standard library only.

A wheel is the package directory, metadata read from ``pyproject.toml``,
and the C library inside the package (``qmgr/libqmgr.so``), stripped, so
``import qmgr`` works in any venv without ``QMGR_LIBRARY``; the wheel is
then tagged for this platform (``py3-none-linux_x86_64``: ctypes needs no
particular Python ABI). The library is, in order:

1. ``$QMGR_WHEEL_LIBRARY``, a path to a built ``libqmgr.so`` (e.g. a cross
   build's);
2. in a checkout (``python/`` beside ``Cargo.toml``): built with ``cargo
   build --release --lib`` when cargo is on PATH (a no-op when it is
   current, e.g. after ``make``), then taken from ``target/release`` (or
   ``$CARGO_TARGET_DIR/release``); without cargo, an existing one there.

Set ``QMGR_WHEEL_NO_LIBRARY=1`` for a pure-Python wheel (``py3-none-any``)
that finds the library at run time like an editable install does.

Because it needs nothing beyond the standard library, ``pyproject.toml``
requires nothing, and ``pip install ./python`` works offline, with or
without build isolation. Editable installs (PEP 660) point at the checkout.
Source distributions are left to setuptools (``python -m build --sdist``).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent  # the python/ directory
PACKAGE = "qmgr"


def _setuptools() -> Any:
    from setuptools import build_meta

    return build_meta


# --- metadata -----------------------------------------------------------------


def _load_toml(text: str) -> Dict[str, Any]:
    for name in ("tomllib", "tomli", "setuptools.extern.tomli", "setuptools._vendor.tomli"):
        try:
            module = __import__(name, fromlist=["loads"])
            return module.loads(text)
        except ImportError:
            continue
    return _mini_toml(text)


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>"(?:[^"\\]|\\.)*"|'[^']*')
      | (?P<open>[\[{]) | (?P<close>[\]}]) | (?P<comma>,) | (?P<eq>=)
      | (?P<bare>[A-Za-z0-9_.+-]+)
    )""",
    re.X,
)


def _mini_toml(text: str) -> Dict[str, Any]:
    """A parser for the small TOML subset of our own pyproject.toml (tables,
    strings, arrays, inline tables, booleans, integers), for Pythons before
    3.11 that have neither tomli nor a setuptools that vendors it."""
    text = re.sub(r"(?m)^\s*#.*$", "", text)
    tokens: List[Tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos] == "#":  # comment after a value
            pos = text.find("\n", pos)
            pos = len(text) if pos < 0 else pos
            continue
        if text[pos].isspace():
            if text[pos] == "\n":
                tokens.append(("nl", "\n"))
            pos += 1
            continue
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError(f"qmgr_build: cannot parse pyproject.toml near {text[pos:pos + 30]!r}")
        kind = m.lastgroup or ""
        tokens.append((kind, m.group(kind)))
        pos = m.end()

    i = 0

    def value() -> Any:
        nonlocal i
        while tokens[i][0] == "nl":
            i += 1
        kind, tok = tokens[i]
        i += 1
        if kind == "str":
            if tok.startswith("'"):
                return tok[1:-1]
            return tok[1:-1].encode("utf-8").decode("unicode_escape") if "\\" in tok else tok[1:-1]
        if kind == "bare":
            if tok in ("true", "false"):
                return tok == "true"
            return int(tok)
        if kind == "open" and tok == "[":
            items = []
            while True:
                while tokens[i][0] in ("nl", "comma"):
                    i += 1
                if tokens[i][0] == "close":
                    i += 1
                    return items
                items.append(value())
        if kind == "open" and tok == "{":
            table: Dict[str, Any] = {}
            while True:
                while tokens[i][0] in ("nl", "comma"):
                    i += 1
                if tokens[i][0] == "close":
                    i += 1
                    return table
                key = tokens[i][1].strip("\"'")
                i += 2  # key, =
                table[key] = value()
        raise ValueError(f"qmgr_build: unexpected {tok!r} in pyproject.toml")

    root: Dict[str, Any] = {}
    current = root
    while i < len(tokens):
        kind, tok = tokens[i]
        if kind == "nl":
            i += 1
        elif kind == "open" and tok == "[":
            j = i + 1
            while tokens[j][0] != "close":
                j += 1
            current = root
            for part in "".join(t for _, t in tokens[i + 1 : j]).split("."):
                current = current.setdefault(part.strip("\"'"), {})
            i = j + 1
        else:
            key = tok.strip("\"'")
            if tokens[i + 1][0] != "eq":
                raise ValueError(f"qmgr_build: expected '=' after {key!r} in pyproject.toml")
            i += 2
            current[key] = value()
    return root


def _project() -> Dict[str, Any]:
    return _load_toml((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _dist_name(project: Dict[str, Any]) -> str:
    return re.sub(r"[-_.]+", "_", project["name"]).lower()


def _dist_info_dir(project: Dict[str, Any]) -> str:
    return f"{_dist_name(project)}-{project['version']}.dist-info"


def _metadata(project: Dict[str, Any]) -> str:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {project['name']}",
        f"Version: {project['version']}",
    ]
    if project.get("description"):
        lines.append(f"Summary: {project['description']}")
    license_ = project.get("license")
    if isinstance(license_, dict) and license_.get("text"):
        lines.append(f"License: {license_['text']}")
    if project.get("requires-python"):
        lines.append(f"Requires-Python: {project['requires-python']}")
    for c in project.get("classifiers", []):
        lines.append(f"Classifier: {c}")
    for dep in project.get("dependencies", []):
        lines.append(f"Requires-Dist: {dep}")
    body = ""
    readme = project.get("readme")
    if isinstance(readme, str) and (ROOT / readme).exists():
        lines.append("Description-Content-Type: text/markdown" if readme.endswith(".md") else "Description-Content-Type: text/plain")
        body = (ROOT / readme).read_text(encoding="utf-8")
    return "\n".join(lines) + "\n\n" + body


def _package_files() -> List[Tuple[str, Path]]:
    """(archive name, path) of every file of the package directory, except
    a library copied there by hand (the wheel gets its own)."""
    out = []
    for path in sorted((ROOT / PACKAGE).rglob("*")):
        rel = path.relative_to(ROOT)
        if path.is_dir() or "__pycache__" in rel.parts or path.suffix in (".pyc", ".pyo"):
            continue
        if path.name.startswith("libqmgr.so"):
            continue
        out.append((rel.as_posix(), path))
    return out


def _log(message: str) -> None:
    print(f"qmgr_build: {message}", file=sys.stderr, flush=True)


def _built_library() -> Path:
    """The libqmgr.so to put in the wheel (see the module's doc)."""
    given = os.environ.get("QMGR_WHEEL_LIBRARY")
    if given:
        path = Path(given)
        if not path.is_file():
            raise RuntimeError(f"qmgr_build: QMGR_WHEEL_LIBRARY={given!r} is not a file")
        return path
    repo = ROOT.parent
    if not (repo / "Cargo.toml").is_file() or not (repo / "include" / "qmgr.h").is_file():
        raise RuntimeError(
            "qmgr_build: not in a qmgr checkout, so there is no library to build: "
            "set QMGR_WHEEL_LIBRARY to a built libqmgr.so (or QMGR_WHEEL_NO_LIBRARY=1)"
        )
    target = Path(os.environ.get("CARGO_TARGET_DIR") or repo / "target")
    if not target.is_absolute():
        target = repo / target
    library = target / "release" / "libqmgr.so"
    cargo = shutil.which(os.environ.get("CARGO", "cargo"))
    if cargo:
        _log(f"cargo build --release --lib in {repo}")
        # The library of the workspace's default members (the Rust crate,
        # the C library, the CLI and qmgrd), as `make` (`cargo build
        # --release`) resolves it: the same
        # features for its dependencies, so one build serves both and
        # neither rebuilds the other's `libqmgr.so` (`-p qmgr` alone gave
        # once_cell other features, and then a different library). cargo's
        # own messages go to stderr, where pip shows them with -v.
        r = subprocess.run(
            [cargo, "build", "--release", "--lib"],
            cwd=str(repo),
            stdout=sys.stderr,
        )
        if r.returncode != 0:
            raise RuntimeError(f"qmgr_build: cargo build failed ({r.returncode}); see its output above")
    elif library.is_file():
        _log(f"cargo is not on PATH; taking the existing {library}")
    if not library.is_file():
        raise RuntimeError(
            f"qmgr_build: no {library}: build it with `cargo build --release` in {repo}, "
            "or set QMGR_WHEEL_LIBRARY"
        )
    return library


def _stripped(library: Path, scratch: Path) -> bytes:
    """The library's bytes without its symbol table and debug sections
    (``strip --strip-unneeded``, or ``$STRIP``): the dynamic symbols that
    ctypes looks up stay."""
    out = scratch / "libqmgr.so"
    strip = shutil.which(os.environ.get("STRIP", "strip"))
    if strip is None:
        raise RuntimeError("qmgr_build: no `strip` (binutils) to strip libqmgr.so; set STRIP")
    subprocess.run([strip, "--strip-unneeded", "-o", str(out), str(library)], check=True)
    return out.read_bytes()


def _platform_tag() -> str:
    """This platform's wheel tag, e.g. ``linux_x86_64``."""
    return re.sub(r"[-.]", "_", sysconfig.get_platform())


def _write_metadata_dir(directory: Path, project: Dict[str, Any]) -> str:
    name = _dist_info_dir(project)
    d = directory / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "METADATA").write_text(_metadata(project), encoding="utf-8")
    return name


class _WheelWriter:
    def __init__(self, path: Path) -> None:
        self._zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED)
        self._records: List[Tuple[str, str, str]] = []

    def add(self, name: str, data: bytes, executable: bool = False) -> None:
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = (0o755 if executable else 0o644) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        self._zip.writestr(info, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
        self._records.append((name, f"sha256={digest}", str(len(data))))

    def close(self, record_name: str) -> None:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        for row in self._records:
            writer.writerow(row)
        writer.writerow((record_name, "", ""))
        info = zipfile.ZipInfo(record_name, date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        self._zip.writestr(info, buf.getvalue())
        self._zip.close()


def _build(wheel_directory: str, editable: bool) -> str:
    project = _project()
    files = [] if editable else _package_files()
    library: Optional[bytes] = None
    if not editable and not os.environ.get("QMGR_WHEEL_NO_LIBRARY"):
        with tempfile.TemporaryDirectory() as scratch:
            library = _stripped(_built_library(), Path(scratch))
    pure = library is None
    tag = "py3-none-any" if pure else f"py3-none-{_platform_tag()}"
    filename = f"{_dist_name(project)}-{project['version']}-{tag}.whl"
    dist_info = _dist_info_dir(project)
    w = _WheelWriter(Path(wheel_directory) / filename)
    if editable:
        w.add(f"__editable__.{_dist_name(project)}.pth", (str(ROOT) + "\n").encode("utf-8"))
    for name, path in files:
        w.add(name, path.read_bytes())
    if library is not None:
        w.add(f"{PACKAGE}/libqmgr.so", library, executable=True)
    w.add(f"{dist_info}/METADATA", _metadata(project).encode("utf-8"))
    wheel_meta = (
        "Wheel-Version: 1.0\n"
        "Generator: qmgr_build\n"
        f"Root-Is-Purelib: {'true' if pure else 'false'}\n"
        f"Tag: {tag}\n"
    )
    w.add(f"{dist_info}/WHEEL", wheel_meta.encode("utf-8"))
    w.add(f"{dist_info}/top_level.txt", f"{PACKAGE}\n".encode("utf-8"))
    w.close(f"{dist_info}/RECORD")
    return filename


# --- PEP 517 / PEP 660 hooks ----------------------------------------------------


def get_requires_for_build_wheel(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    return []


def prepare_metadata_for_build_wheel(metadata_directory: str, config_settings: Optional[Dict[str, Any]] = None) -> str:
    return _write_metadata_dir(Path(metadata_directory), _project())


def build_wheel(
    wheel_directory: str,
    config_settings: Optional[Dict[str, Any]] = None,
    metadata_directory: Optional[str] = None,
) -> str:
    return _build(wheel_directory, editable=False)


def get_requires_for_build_editable(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    return []


def prepare_metadata_for_build_editable(metadata_directory: str, config_settings: Optional[Dict[str, Any]] = None) -> str:
    return _write_metadata_dir(Path(metadata_directory), _project())


def build_editable(
    wheel_directory: str,
    config_settings: Optional[Dict[str, Any]] = None,
    metadata_directory: Optional[str] = None,
) -> str:
    return _build(wheel_directory, editable=True)


def get_requires_for_build_sdist(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    return ["setuptools>=61"]


def build_sdist(sdist_directory: str, config_settings: Optional[Dict[str, Any]] = None) -> str:
    return _setuptools().build_sdist(sdist_directory, config_settings)
