"""The package installs with pip, offline, and works from where it landed."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
import unittest
from pathlib import Path

from _support import PYTHON_DIR, TempDirTestCase, env_with_library, which_python

FIVE_LINES = """\
import qmgr, sys
with qmgr.Manager() as m, m.create_job("copy") as job:
    job.add_file(sys.argv[1], sys.argv[2])
    job.resume()
    if job.wait() == qmgr.JobState.TRANSFERRED: job.complete()
print(qmgr.__file__)
"""


class InstallTests(TempDirTestCase):
    def pip(self) -> list:
        python = which_python()
        try:
            r = subprocess.run(
                [python, "-m", "pip", "--version"],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                universal_newlines=True,
                timeout=60,
            )
        except OSError as e:
            self.skipTest(f"cannot run {python} -m pip: {e}")
        if r.returncode != 0:
            self.skipTest(f"pip is not available for {python}: {r.stdout.strip()}")
        return [python, "-m", "pip"]

    def test_pip_install_then_transfer_in_five_lines(self) -> None:
        pip = self.pip()
        # Build from a copy, so whatever a build backend writes next to the
        # sources (build/, *.egg-info) never lands in the checkout.
        src = self.dir / "src"
        shutil.copytree(
            PYTHON_DIR,
            src,
            ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__", "libqmgr.so*"),
        )
        site = self.dir / "site"
        env = env_with_library({"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"})
        r = subprocess.run(
            pip
            + ["install", "--no-build-isolation", "--no-index", "--no-deps", "--target", str(site), str(src)],
            env=env,
            cwd=str(self.dir),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            universal_newlines=True,
            timeout=300,
        )
        self.assertEqual(r.returncode, 0, f"pip install failed:\n{r.stdout}")
        self.assertTrue((site / "qmgr" / "__init__.py").exists(), os.listdir(site))
        self.assertTrue((site / "qmgr" / "py.typed").exists())
        self.assertTrue(list(site.glob("qmgr-0.2.0.dist-info")), os.listdir(site))

        data = os.urandom(1_000_003)
        source = self.dir / "source.bin"
        source.write_bytes(data)
        dest = self.dir / "dest.bin"
        script = self.dir / "five_lines.py"
        script.write_text(FIVE_LINES)
        run_env = env_with_library({"PYTHONPATH": str(site)})
        r = subprocess.run(
            [which_python(), str(script), source.as_uri(), str(dest)],
            env=run_env,
            cwd=str(self.dir),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            universal_newlines=True,
            timeout=120,
        )
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertEqual(Path(r.stdout.strip().splitlines()[-1]).resolve(), (site / "qmgr" / "__init__.py").resolve())
        self.assertEqual(dest.read_bytes(), data)

        # The installed metadata is right too.
        r = subprocess.run(
            [
                which_python(),
                "-c",
                textwrap.dedent(
                    """\
                    from importlib.metadata import distribution
                    d = distribution("qmgr")
                    print(d.version, d.metadata["Requires-Python"])
                    """
                ),
            ],
            env=run_env,
            cwd=str(self.dir),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            universal_newlines=True,
            timeout=60,
        )
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertEqual(r.stdout.split(), ["0.2.0", ">=3.8"])

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
