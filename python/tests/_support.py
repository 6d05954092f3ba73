"""Shared helpers of the qmgr Python tests (standard library only).

Importing this module puts the checkout's ``python/`` directory first on
``sys.path``, so the tests exercise this tree's ``qmgr`` package even when
another copy is installed. The library comes from ``$QMGR_LIBRARY`` (set by
``cargo test --test it python::``) or the package's own search.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path
from typing import Callable, Optional

TESTS_DIR = Path(__file__).resolve().parent
PYTHON_DIR = TESTS_DIR.parent
REPO_DIR = PYTHON_DIR.parent
HEADER = REPO_DIR / "include" / "qmgr.h"
SYMBOLS = REPO_DIR / "include" / "qmgr.symbols"

if str(PYTHON_DIR) not in sys.path[:1]:
    sys.path.insert(0, str(PYTHON_DIR))

import qmgr  # noqa: E402

MiB = 1024 * 1024

#: The suite's daemon mode (DESIGN §8: the tests run against an in-process
#: manager and against a daemon): ``$QMGR_TEST_QMGRD`` names a ``qmgrd``
#: binary, and each test's managers connect to a daemon of its own, started
#: on a socket of the test's scratch directory; or ``$QMGR_TEST_ADDRESS``
#: names a running daemon that every test connects to. Tests that cannot
#: apply to a daemon say why and skip (``skip_in_daemon_mode``).
QMGRD = os.environ.get("QMGR_TEST_QMGRD") or None
DAEMON_ADDRESS = os.environ.get("QMGR_TEST_ADDRESS") or None
DAEMON_MODE = QMGRD is not None or DAEMON_ADDRESS is not None

#: Upper bound for any wait in the tests, so a bug fails instead of hanging.
#: Generous on purpose: it catches hangs; it does not measure speed.
LONG = 60.0


def wait_until(predicate: Callable[[], object], timeout: float = LONG, what: str = "condition",
               interval: float = 0.005) -> object:
    """Polls ``predicate`` until it returns something true and returns that.
    After ``timeout`` seconds it raises ``AssertionError`` naming ``what``
    (and the caller's line, through the traceback). Every wait of the tests
    goes through here or through a call with its own timeout, so a bug fails
    instead of hanging."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def pattern(size: int, seed: int = 0) -> bytes:
    """Deterministic, non-repeating-looking test data."""
    block = bytes((i * 31 + seed * 7 + (i >> 8)) & 0xFF for i in range(65536))
    reps, rest = divmod(size, len(block))
    return block * reps + block[:rest]


class TempDirTestCase(unittest.TestCase):
    """A test with a private scratch directory (``self.dir``) and helpers."""

    def setUp(self) -> None:
        super().setUp()
        self.dir = Path(tempfile.mkdtemp(prefix="qmgr-py-"))
        self.addCleanup(shutil.rmtree, self.dir, True)

    def make_file(self, name: str, size: int, random: bool = False, sparse: bool = False) -> Path:
        """Creates ``self.dir / name`` with ``size`` bytes."""
        path = self.dir / name
        if sparse:
            with open(path, "wb") as f:
                f.truncate(size)
        else:
            path.write_bytes(os.urandom(size) if random else pattern(size))
        return path

    def manager(self, **kwargs: object) -> "qmgr.Manager":
        """A fresh manager, closed at the end of the test: in-memory, or
        in daemon mode a connected one (a state directory given in
        ``kwargs`` is always in-process)."""
        m = qmgr.Manager(**kwargs) if kwargs else self.open_manager()  # type: ignore[arg-type]
        self.addCleanup(m.close)
        return m

    def open_manager(self) -> "qmgr.Manager":
        """A new manager that the caller closes: ``qmgr.Manager()``, or in
        daemon mode ``qmgr.Manager.connect`` to the test's daemon."""
        if not DAEMON_MODE:
            return qmgr.Manager()
        return qmgr.Manager.connect(self.daemon_address())

    def daemon_address(self) -> str:
        """The test's daemon (started at the first call when
        ``$QMGR_TEST_QMGRD`` is set; stopped at the end of the test)."""
        if DAEMON_ADDRESS is not None:
            return DAEMON_ADDRESS
        address: Optional[str] = getattr(self, "_daemon_address", None)
        if address is not None:
            return address
        assert QMGRD is not None, "not in daemon mode"
        where = Path(tempfile.mkdtemp(prefix="qmgrd-"))
        self.addCleanup(shutil.rmtree, where, True)
        socket_path = where / "sock"
        daemon = subprocess.Popen(
            [QMGRD, "--system", "--socket", str(socket_path), "--state", str(where / "state")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def stop() -> None:
            daemon.kill()
            daemon.wait()

        self.addCleanup(stop)
        deadline = time.monotonic() + LONG
        while not _accepts(socket_path):
            if daemon.poll() is not None:
                raise AssertionError(f"qmgrd exited at start ({daemon.returncode})")
            if time.monotonic() > deadline:
                raise AssertionError("qmgrd did not start")
            time.sleep(0.005)
        address = f"unix:{socket_path}"
        self._daemon_address = address
        return address

    def skip_in_daemon_mode(self, why: str) -> None:
        """In daemon mode, skips the test: it cannot apply there, ``why``."""
        if DAEMON_MODE:
            self.skipTest(f"daemon mode: {why}")

    def wait_for(self, predicate: Callable[[], object], timeout: float = LONG, what: str = "condition") -> object:
        """Polls ``predicate`` until true (and returns its value), failing
        the test after ``timeout`` seconds with a message naming ``what``."""
        try:
            return wait_until(predicate, timeout, what)
        except AssertionError as e:
            message = str(e)
        self.fail(message)


def _accepts(path: Path) -> bool:
    """True once a daemon accepts connections on the socket ``path``."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def run_in_thread(target: Callable[[], object]) -> "tuple[threading.Thread, list]":
    """Starts ``target`` in a thread; returns (thread, box) where box gets
    ("ok", value) or ("error", exception)."""
    box: list = []

    def main() -> None:
        try:
            box.append(("ok", target()))
        except BaseException as e:  # noqa: BLE001 - reported to the test
            box.append(("error", e))

    t = threading.Thread(target=main, daemon=True)
    t.start()
    return t, box


def which_python() -> str:
    return sys.executable or "python3"


def env_with_library(extra: Optional[dict] = None) -> dict:
    """The environment for a child Python: same library, no stray bytecode."""
    env = dict(os.environ)
    env["QMGR_LIBRARY"] = qmgr.library_path
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTHONPATH", None)
    if extra:
        env.update(extra)
    return env
