"""The package installs with pip, offline, and works from where it landed."""

from __future__ import annotations

import functools
import http.server
import os
import re
import struct
import subprocess
import sysconfig
import threading
import unittest
from pathlib import Path
from typing import Dict, List, Tuple

from _support import PYTHON_DIR, REPO_DIR, TempDirTestCase, env_with_library, which_python

#: The package's version, as python/pyproject.toml gives it.
VERSION = re.search(r'^version = "(.*)"$', (PYTHON_DIR / "pyproject.toml").read_text(), re.M).group(1)  # type: ignore[union-attr]

FIVE_LINES = """\
import qmgr, sys
with qmgr.Manager() as m, m.create_job("copy") as job:
    job.add_file(sys.argv[1], sys.argv[2])
    job.resume()
    if job.wait() == qmgr.JobState.TRANSFERRED: job.complete()
print(qmgr.__file__)
"""


def readme_python_snippet() -> str:
    """The ```python block of README.md's "Using it from Python"."""
    text = (REPO_DIR / "README.md").read_text(encoding="utf-8")
    section = text[text.index("\n## Using it from Python\n") :]
    start = section.index("```python\n") + len("```python\n")
    return section[start : section.index("```", start)]


def run(cmd: List[str], env: Dict[str, str], cwd: Path, timeout: float) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(
        cmd,
        env=env,
        cwd=str(cwd),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        universal_newlines=True,
        timeout=timeout,
    )


def clean_env(**extra: str) -> Dict[str, str]:
    """The environment without QMGR_LIBRARY or PYTHONPATH: what a user has."""
    env = {k: v for k, v in os.environ.items() if k not in ("QMGR_LIBRARY", "PYTHONPATH", "VIRTUAL_ENV")}
    env.update({"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}, **extra)
    return env


def elf_sections(path: Path) -> List[str]:
    """The section names of a 64- or 32-bit little-endian ELF file."""
    data = path.read_bytes()
    assert data[:4] == b"\x7fELF", path
    wide = data[4] == 2
    if wide:
        shoff, = struct.unpack_from("<Q", data, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    else:
        shoff, = struct.unpack_from("<I", data, 0x20)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x2E)

    def header(i: int) -> Tuple[int, int]:
        base = shoff + i * shentsize
        name, = struct.unpack_from("<I", data, base)
        offset, = struct.unpack_from("<Q" if wide else "<I", data, base + (0x18 if wide else 0x10))
        return name, offset

    _, strtab = header(shstrndx)
    names = []
    for i in range(shnum):
        name, _ = header(i)
        end = data.index(b"\0", strtab + name)
        names.append(data[strtab + name : end].decode())
    return names


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class _Serve(threading.Thread):
    """A local HTTP server for one directory (http.server), for a download."""

    def __init__(self, directory: Path) -> None:
        super().__init__(daemon=True)
        handler = functools.partial(_QuietHandler, directory=str(directory))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.httpd.server_address[1]

    def run(self) -> None:
        self.httpd.serve_forever()


class InstallTests(TempDirTestCase):
    def venv(self) -> Path:
        """A fresh virtual environment with pip (ensurepip: offline)."""
        venv = self.dir / "venv"
        r = run([which_python(), "-m", "venv", str(venv)], clean_env(), self.dir, 300)
        if r.returncode != 0:
            self.skipTest(f"cannot make a venv with pip (Debian: apt-get install python3-venv): {r.stdout}")
        return venv / "bin" / "python"

    def test_pip_install_puts_the_library_inside_and_it_downloads_in_a_fresh_venv(self) -> None:
        python = self.venv()
        # What the README says, without QMGR_LIBRARY: pip builds the wheel
        # with the in-tree backend, which builds (or reuses) the release
        # library and puts it in the package.
        r = run([str(python), "-m", "pip", "install", str(PYTHON_DIR)], clean_env(), self.dir, 1800)
        self.assertEqual(r.returncode, 0, f"pip install ./python failed:\n{r.stdout}")
        r = run([str(python), "-c", "import qmgr, sys; print(qmgr.__file__); print(qmgr.library_path)"], clean_env(), self.dir, 60)
        self.assertEqual(r.returncode, 0, r.stdout)
        init, library = (Path(line) for line in r.stdout.split())
        package = init.parent
        self.assertTrue(str(package).startswith(str(self.dir / "venv")), package)
        self.assertEqual(library, package / "libqmgr.so")
        self.assertTrue((package / "py.typed").exists())
        # Stripped: no symbol table or debug info, the dynamic symbols stay.
        sections = elf_sections(library)
        self.assertIn(".dynsym", sections)
        self.assertNotIn(".symtab", sections)
        self.assertFalse([s for s in sections if s.startswith(".debug")], sections)
        (dist_info,) = package.parent.glob(f"qmgr-{VERSION}.dist-info")
        wheel = (dist_info / "WHEEL").read_text()
        platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
        self.assertIn(f"Tag: py3-none-{platform}\n", wheel)
        self.assertIn("Root-Is-Purelib: false\n", wheel)

        # The README's lines, and a download over HTTP, no variable set.
        data = os.urandom(1_000_003)
        served = self.dir / "served"
        served.mkdir()
        (served / "fw.bin").write_bytes(data)
        server = _Serve(served)
        server.start()
        try:
            dest = self.dir / "fw.bin"
            script = self.dir / "download.py"
            script.write_text(FIVE_LINES)
            url = f"http://127.0.0.1:{server.port}/fw.bin"
            r = run([str(python), str(script), url, str(dest)], clean_env(), self.dir, 120)
            self.assertEqual(r.returncode, 0, r.stdout)
            self.assertEqual(dest.read_bytes(), data)
        finally:
            server.httpd.shutdown()
        snippet = self.dir / "snippet.py"
        snippet.write_text(readme_python_snippet())
        r = run([str(python), str(snippet)], clean_env(), self.dir, 120)
        self.assertEqual(r.returncode, 0, r.stdout)

        # QMGR_LIBRARY still decides when set.
        r = run([str(python), "-c", "import qmgr"], clean_env(QMGR_LIBRARY=str(self.dir / "nope.so")), self.dir, 60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("QMGR_LIBRARY", r.stdout)
        other = env_with_library().get("QMGR_LIBRARY")
        if other:
            r = run([str(python), "-c", "import qmgr; print(qmgr.library_path)"], clean_env(QMGR_LIBRARY=other), self.dir, 60)
            self.assertEqual(r.returncode, 0, r.stdout)
            self.assertEqual(r.stdout.strip(), other)

    def test_mypy_strict_accepts_the_readme_snippet(self) -> None:
        r = run([which_python(), "-m", "mypy", "--version"], clean_env(), self.dir, 120)
        if r.returncode != 0:
            if os.environ.get("QMGR_REQUIRE_TOOLS"):
                self.fail(f"mypy is not installed for {which_python()}, and QMGR_REQUIRE_TOOLS is set")
            self.skipTest("mypy is not installed (pip install mypy)")
        snippet = self.dir / "snippet.py"
        snippet.write_text(readme_python_snippet())
        # The package as a user's checker sees it: from its directory,
        # typed by py.typed, in strict mode.
        r = run(
            [which_python(), "-m", "mypy", "--strict", "--no-incremental", str(snippet)],
            clean_env(MYPYPATH=str(PYTHON_DIR)),
            self.dir,
            300,
        )
        self.assertEqual(r.returncode, 0, r.stdout)

    def test_pip_install_target_without_a_library_is_pure_python(self) -> None:
        site = self.dir / "site"
        r = run(
            [which_python(), "-m", "pip", "install", "--no-build-isolation", "--no-index", "--no-deps", "--target", str(site), str(PYTHON_DIR)],
            clean_env(QMGR_WHEEL_NO_LIBRARY="1"),
            self.dir,
            300,
        )
        if "No module named pip" in r.stdout:
            self.skipTest(f"pip is not available for {which_python()}")
        self.assertEqual(r.returncode, 0, f"pip install failed:\n{r.stdout}")
        self.assertTrue((site / "qmgr" / "__init__.py").exists(), os.listdir(site))
        self.assertFalse(list((site / "qmgr").glob("libqmgr.so*")))
        (dist_info,) = site.glob(f"qmgr-{VERSION}.dist-info")
        self.assertIn("Tag: py3-none-any\n", (dist_info / "WHEEL").read_text())
        # It finds the library through QMGR_LIBRARY then.
        r = run(
            [which_python(), "-c", "from importlib.metadata import distribution; import qmgr; d = distribution('qmgr'); print(d.version, d.metadata['Requires-Python'])"],
            dict(env_with_library(), PYTHONPATH=str(site)),
            self.dir,
            60,
        )
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertEqual(r.stdout.split(), [VERSION, ">=3.8"])

    def test_fallback_toml_reader_agrees_with_tomllib(self) -> None:
        try:
            import tomllib  # type: ignore[import-not-found]
        except ImportError:
            self.skipTest("tomllib needs Python 3.11")
        import importlib.util

        spec = importlib.util.spec_from_file_location("qmgr_build", PYTHON_DIR / "backend" / "qmgr_build.py")
        assert spec and spec.loader
        backend = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(backend)  # type: ignore[union-attr]
        text = (PYTHON_DIR / "pyproject.toml").read_text()
        self.assertEqual(backend._mini_toml(text), tomllib.loads(text))


if __name__ == "__main__":
    unittest.main()
