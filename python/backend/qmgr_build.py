"""PEP 517 build backend of the qmgr Python package: setuptools, made offline-proof.

Every hook is handed to ``setuptools.build_meta`` when the installed
setuptools can build wheels (setuptools >= 70.1, or an older one with the
``wheel`` package). Older setuptools without ``wheel`` -- what a fresh
Debian or pyenv Python has -- fails with "invalid command 'bdist_wheel'",
and ``pip install --no-build-isolation`` cannot fetch ``wheel`` offline. In
that case this module writes the wheel itself with the standard library.
qmgr is pure Python (ctypes), so the wheel is the package directory plus
metadata read from ``pyproject.toml``.

Set ``QMGR_BUILD_BACKEND=fallback`` (or ``=setuptools``) to force a path.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import re
import sysconfig
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent  # the python/ directory
PACKAGE = "qmgr"


def _setuptools_can_build_wheels() -> bool:
    forced = os.environ.get("QMGR_BUILD_BACKEND", "")
    if forced in ("fallback", "setuptools"):
        return forced == "setuptools"
    try:
        import setuptools
        import setuptools.build_meta  # noqa: F401
    except ImportError:
        return False
    m = re.match(r"(\d+)", getattr(setuptools, "__version__", ""))
    if not m or int(m.group(1)) < 61:  # no [project] table support before 61
        return False
    try:
        import setuptools.command.bdist_wheel  # noqa: F401  (setuptools >= 70.1)

        return True
    except ImportError:
        pass
    try:
        import wheel.bdist_wheel  # noqa: F401

        return True
    except ImportError:
        return False


def _setuptools_editable() -> bool:
    """setuptools >= 64 has the PEP 660 hooks."""
    return _setuptools_can_build_wheels() and hasattr(_setuptools(), "build_editable")


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
    """(archive name, path) of every file of the package directory."""
    out = []
    for path in sorted((ROOT / PACKAGE).rglob("*")):
        rel = path.relative_to(ROOT)
        if path.is_dir() or "__pycache__" in rel.parts or path.suffix in (".pyc", ".pyo"):
            continue
        out.append((rel.as_posix(), path))
    return out


def _tag(files: List[Tuple[str, Path]]) -> Tuple[str, bool]:
    """The wheel tag, and whether it is pure: a copied-in libqmgr.so makes
    the wheel platform-specific."""
    if any(name.split("/")[-1].startswith("libqmgr.so") for name, _ in files):
        platform = re.sub(r"[-.]", "_", sysconfig.get_platform())
        return f"py3-none-{platform}", False
    return "py3-none-any", True


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
    tag, pure = _tag(files)
    filename = f"{_dist_name(project)}-{project['version']}-{tag}.whl"
    dist_info = _dist_info_dir(project)
    w = _WheelWriter(Path(wheel_directory) / filename)
    if editable:
        w.add(f"__editable__.{_dist_name(project)}.pth", (str(ROOT) + "\n").encode("utf-8"))
    for name, path in files:
        w.add(name, path.read_bytes(), executable=os.access(path, os.X_OK) and name.endswith((".so", ".so.0")))
    w.add(f"{dist_info}/METADATA", _metadata(project).encode("utf-8"))
    wheel_meta = (
        "Wheel-Version: 1.0\n"
        "Generator: qmgr_build (standard-library fallback)\n"
        f"Root-Is-Purelib: {'true' if pure else 'false'}\n"
        f"Tag: {tag}\n"
    )
    w.add(f"{dist_info}/WHEEL", wheel_meta.encode("utf-8"))
    w.add(f"{dist_info}/top_level.txt", f"{PACKAGE}\n".encode("utf-8"))
    w.close(f"{dist_info}/RECORD")
    return filename


# --- PEP 517 / PEP 660 hooks ----------------------------------------------------


def get_requires_for_build_wheel(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    if _setuptools_can_build_wheels():
        return _setuptools().get_requires_for_build_wheel(config_settings)
    return []


def prepare_metadata_for_build_wheel(metadata_directory: str, config_settings: Optional[Dict[str, Any]] = None) -> str:
    if _setuptools_can_build_wheels():
        return _setuptools().prepare_metadata_for_build_wheel(metadata_directory, config_settings)
    return _write_metadata_dir(Path(metadata_directory), _project())


def build_wheel(
    wheel_directory: str,
    config_settings: Optional[Dict[str, Any]] = None,
    metadata_directory: Optional[str] = None,
) -> str:
    if _setuptools_can_build_wheels():
        return _setuptools().build_wheel(wheel_directory, config_settings, metadata_directory)
    return _build(wheel_directory, editable=False)


def get_requires_for_build_editable(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    if _setuptools_editable():
        return _setuptools().get_requires_for_build_editable(config_settings)
    return []


def prepare_metadata_for_build_editable(metadata_directory: str, config_settings: Optional[Dict[str, Any]] = None) -> str:
    if _setuptools_editable():
        return _setuptools().prepare_metadata_for_build_editable(metadata_directory, config_settings)
    return _write_metadata_dir(Path(metadata_directory), _project())


def build_editable(
    wheel_directory: str,
    config_settings: Optional[Dict[str, Any]] = None,
    metadata_directory: Optional[str] = None,
) -> str:
    if _setuptools_editable():
        return _setuptools().build_editable(wheel_directory, config_settings, metadata_directory)
    return _build(wheel_directory, editable=True)


def get_requires_for_build_sdist(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    return _setuptools().get_requires_for_build_sdist(config_settings)


def build_sdist(sdist_directory: str, config_settings: Optional[Dict[str, Any]] = None) -> str:
    # setuptools writes source distributions without the `wheel` package.
    return _setuptools().build_sdist(sdist_directory, config_settings)
