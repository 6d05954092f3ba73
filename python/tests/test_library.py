"""The binding itself: library loading, prototypes, constants, HRESULTs."""

from __future__ import annotations

import ctypes
import os
import pickle
import re
import shutil
import subprocess
import tempfile
import textwrap
import unittest
from pathlib import Path

from _support import HEADER, PYTHON_DIR, REPO_DIR, SYMBOLS, env_with_library, which_python

import qmgr
from qmgr import _lib


class LibraryTests(unittest.TestCase):
    def test_versions(self) -> None:
        self.assertEqual(qmgr.abi_version(), qmgr.ABI_VERSION)
        self.assertEqual(qmgr.ABI_VERSION, qmgr.QM_ABI_VERSION)
        self.assertRegex(qmgr.version(), r"^\d+\.\d+\.\d+")
        self.assertTrue(os.path.exists(qmgr.library_path), qmgr.library_path)

    def test_every_exported_function_is_declared(self) -> None:
        if not SYMBOLS.exists():
            self.skipTest(f"{SYMBOLS} not found (not a checkout)")
        exported = {line.strip() for line in SYMBOLS.read_text().splitlines() if line.strip()}
        declared = set(_lib.PROTOTYPES)
        self.assertEqual(exported - declared, set(), "exported but not declared in qmgr/_lib.py")
        self.assertEqual(declared - exported - _lib.OPTIONAL, set(), "declared but not exported")
        for name in _lib.PROTOTYPES:
            self.assertEqual(_lib.has(name), hasattr(_lib.lib, name), name)
        for name in exported & declared:
            if not _lib.has(name):  # optional, and this (older) library lacks it
                self.assertIn(name, _lib.OPTIONAL)
                continue
            fn = getattr(_lib.lib, name)
            self.assertIsInstance(fn.argtypes, list, name)

    def test_struct_layouts(self) -> None:
        # The ctypes structs lay out exactly as a C compiler lays out the
        # header's (tests/abi/baseline.txt, which tests/it/abi.rs measures).
        baseline = REPO_DIR / "tests" / "abi" / "baseline.txt"
        if not baseline.exists():
            self.skipTest(f"{baseline} not found (not a checkout)")
        fields = 0
        for line in baseline.read_text().splitlines():
            m = re.fullmatch(r"struct (\w+) = size (\d+) align \d+", line)
            if m:
                self.assertEqual(ctypes.sizeof(getattr(_lib, m.group(1))), int(m.group(2)), line)
            m = re.fullmatch(r"field (\w+)\.(\w+) = offset (\d+) size (\d+)", line)
            if m:
                struct = getattr(_lib, m.group(1))
                field = getattr(struct, m.group(2))
                self.assertEqual((field.offset, field.size), (int(m.group(3)), int(m.group(4))), line)
                fields += 1
        self.assertGreater(fields, 25)
        # Every struct but qm_guid starts with its size.
        for name in ("qm_file_set_info", "qm_file_range", "qm_file_progress", "qm_job_progress", "qm_job_error", "qm_job_times"):
            struct = getattr(_lib, name)
            self.assertEqual(struct._fields_[0][0], "struct_size", name)
            self.assertEqual(_lib.sized(struct).struct_size, ctypes.sizeof(struct), name)

    def test_constants_match_the_header(self) -> None:
        if not HEADER.exists():
            self.skipTest(f"{HEADER} not found (not a checkout)")
        text = HEADER.read_text()
        specials = {"UINT64_MAX": 2**64 - 1, "UINT32_MAX": 2**32 - 1}
        seen = 0
        for m in re.finditer(r"^#define (QM_[A-Z0-9_]+) (.+)$", text, re.M):
            name, value = m.group(1), m.group(2).strip()
            if "(" in name or name.endswith("_H") or name.endswith("_INIT"):
                continue
            if value.startswith('"'):
                expected: object = value.strip('"')
            elif value in specials:
                expected = specials[value]
            else:
                hr = re.fullmatch(r"\(\(qm_hresult\)(0x[0-9A-Fa-f]+)\)", value)
                expected = int(hr.group(1), 16) if hr else int(value, 0)
            self.assertTrue(hasattr(qmgr, name), f"qmgr lacks {name}")
            self.assertEqual(getattr(qmgr, name), expected, name)
            seen += 1
        self.assertGreater(seen, 90)

    def test_code_names_agree_with_the_library(self) -> None:
        for code, name in qmgr.CODE_NAMES.items():
            self.assertEqual(qmgr.hresult_name(code), name)
            self.assertEqual(getattr(qmgr, name), code)

    def test_function_like_macros(self) -> None:
        self.assertEqual(qmgr.QM_HTTP_ERROR(404), 0x80190194)
        self.assertEqual(qmgr.QM_HRESULT_FROM_WIN32(2), qmgr.QM_E_FILE_NOT_FOUND)
        self.assertEqual(qmgr.QM_HRESULT_FROM_WIN32(0), 0)
        self.assertTrue(qmgr.QM_SUCCEEDED(qmgr.QM_BG_S_PARTIAL_COMPLETE))
        self.assertTrue(qmgr.QM_FAILED(qmgr.QM_E_FAIL))
        self.assertTrue(qmgr.QM_FAILED(-1))

    def test_enums(self) -> None:
        self.assertEqual(qmgr.JobState.TRANSFERRED, qmgr.QM_JOB_STATE_TRANSFERRED)
        self.assertEqual(len(qmgr.JobState), 9)
        self.assertTrue(qmgr.JobState.CANCELLED.is_final)
        self.assertEqual(qmgr.Priority.FOREGROUND, 0)
        self.assertEqual(qmgr.Notify.JOB_TRANSFERRED | qmgr.Notify.JOB_ERROR, 3)
        self.assertEqual(qmgr.ErrorContext.REMOTE_APPLICATION, 7)


class HresultTests(unittest.TestCase):
    def test_format(self) -> None:
        self.assertEqual(
            qmgr.format_hresult(qmgr.QM_BG_E_INVALID_STATE),
            "QM_BG_E_INVALID_STATE (0x80200002): the requested action is not allowed in the job's current state",
        )
        self.assertEqual(qmgr.format_hresult(0x8123ABCD), "0x8123ABCD: unknown error")
        self.assertEqual(qmgr.hresult_name(0x8123ABCD), "0x8123ABCD")
        self.assertIn("404", qmgr.format_hresult(qmgr.QM_HTTP_ERROR(404)))

    def test_hresult_type(self) -> None:
        hr = qmgr.HRESULT(-2145386493)  # the signed form C sees
        self.assertEqual(hr, qmgr.QM_BG_E_EMPTY)
        self.assertEqual(hr, 0x80200003)
        self.assertEqual(hr.signed, -2145386493)
        self.assertTrue(hr.failed)
        self.assertEqual(hr.name, "QM_BG_E_EMPTY")
        self.assertEqual(hr.description, "the job has no files to transfer")
        self.assertEqual(str(hr), "QM_BG_E_EMPTY (0x80200003): the job has no files to transfer")
        self.assertIn("QM_BG_E_EMPTY", repr(hr))
        ok = qmgr.HRESULT(qmgr.QM_BG_S_PARTIAL_COMPLETE)
        self.assertTrue(ok.succeeded)
        self.assertTrue(qmgr.succeeded(0) and qmgr.failed(-1))

    def test_exception_classes_by_code(self) -> None:
        expected = {
            qmgr.QM_E_INVALIDARG: qmgr.InvalidArgument,
            qmgr.QM_BG_E_INVALID_STATE: qmgr.InvalidState,
            qmgr.QM_E_HANDLE: qmgr.InvalidHandle,
            qmgr.QM_BG_E_NOT_FOUND: qmgr.NotFound,
            qmgr.QM_E_ITEM_NOT_FOUND: qmgr.ItemNotFound,
            qmgr.QM_BG_E_EMPTY: qmgr.Empty,
            qmgr.QM_E_NOTIMPL: qmgr.FeatureNotImplemented,
            qmgr.QM_E_INSUFFICIENT_BUFFER: qmgr.BufferTooSmall,
            qmgr.QM_BG_E_STRING_TOO_LONG: qmgr.StringTooLong,
            qmgr.QM_E_ABORT: qmgr.Aborted,
            qmgr.QM_E_FAIL: qmgr.QmgrError,
            qmgr.QM_HTTP_ERROR(404): qmgr.QmgrError,
        }
        for code, cls in expected.items():
            self.assertIs(qmgr.error_class_for(code), cls, hex(code))
            e = qmgr.error_from_code(code, "f()")
            self.assertIs(type(e), cls)
            self.assertIsInstance(e, qmgr.QmgrError)
            self.assertEqual(e.code, code)
            self.assertTrue(e.message.startswith("f(): "))
        self.assertIs(qmgr.HandleClosed, qmgr.InvalidHandle)
        self.assertTrue(issubclass(qmgr.InvalidArgument, ValueError))
        self.assertTrue(issubclass(qmgr.ItemNotFound, IndexError))
        self.assertTrue(issubclass(qmgr.FeatureNotImplemented, NotImplementedError))

    def test_exception_fields_and_pickling(self) -> None:
        e = qmgr.QmgrError(qmgr.QM_BG_E_EMPTY)
        self.assertEqual((e.code, e.name), (0x80200003, "QM_BG_E_EMPTY"))
        self.assertEqual(e.description, "the job has no files to transfer")
        self.assertEqual(str(e), "QM_BG_E_EMPTY (0x80200003): the job has no files to transfer")
        e2 = pickle.loads(pickle.dumps(qmgr.error_from_code(qmgr.QM_BG_E_EMPTY, "Job.resume()")))
        self.assertIsInstance(e2, qmgr.Empty)
        self.assertEqual(e2.code, qmgr.QM_BG_E_EMPTY)
        self.assertEqual(str(e2), "Job.resume(): QM_BG_E_EMPTY (0x80200003): the job has no files to transfer")


class LoadingTests(unittest.TestCase):
    """How the package finds (or fails to find) the library, in child processes."""

    def run_python(self, code: str, env: dict, cwd: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [which_python(), "-c", textwrap.dedent(code)],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            universal_newlines=True,
            timeout=120,
        )

    def copy_package(self, where: Path) -> Path:
        dest = where / "qmgr"
        shutil.copytree(
            PYTHON_DIR / "qmgr",
            dest,
            ignore=shutil.ignore_patterns("__pycache__", "libqmgr.so*"),
        )
        return dest

    def test_bad_qmgr_library_is_reported(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            self.copy_package(Path(tmp))
            env = env_with_library({"QMGR_LIBRARY": "/nonexistent/libqmgr.so", "PYTHONPATH": tmp})
            r = self.run_python("import qmgr", env, tmp)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("ImportError", r.stdout)
            self.assertIn("/nonexistent/libqmgr.so", r.stdout)
            self.assertIn("QMGR_LIBRARY", r.stdout)

    def test_missing_library_lists_where_it_looked(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            self.copy_package(Path(tmp))
            env = env_with_library({"PYTHONPATH": tmp})
            del env["QMGR_LIBRARY"]
            env.pop("LD_LIBRARY_PATH", None)  # cargo test points it at target/
            probe = self.run_python('import ctypes.util; print(ctypes.util.find_library("qmgr"))', env, tmp)
            if probe.stdout.strip() != "None":
                self.skipTest(f"a libqmgr is installed system-wide: {probe.stdout.strip()}")
            r = self.run_python("import qmgr", env, tmp)
            self.assertNotEqual(r.returncode, 0, r.stdout)
            self.assertIn("cannot find libqmgr.so", r.stdout)
            self.assertIn("$QMGR_LIBRARY (not set)", r.stdout)
            self.assertIn(str(Path(tmp) / "qmgr" / "libqmgr.so"), r.stdout)
            self.assertIn("target/release", r.stdout)
            self.assertIn("target/debug", r.stdout)
            self.assertIn("find_library", r.stdout)

    def test_library_next_to_the_package_is_found(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            pkg = self.copy_package(Path(tmp))
            os.symlink(os.path.realpath(qmgr.library_path), pkg / "libqmgr.so.1")
            env = env_with_library({"PYTHONPATH": tmp})
            del env["QMGR_LIBRARY"]
            r = self.run_python("import qmgr; print(qmgr.library_path)", env, tmp)
            self.assertEqual(r.returncode, 0, r.stdout)
            self.assertEqual(r.stdout.strip(), str(pkg / "libqmgr.so.1"))

    def test_checkout_build_directory_is_found(self) -> None:
        target = PYTHON_DIR.parent / "target"
        built = [p for p in (target / "release" / "libqmgr.so", target / "debug" / "libqmgr.so") if p.exists()]
        if not built:
            self.skipTest("no target/release or target/debug build in this checkout")
        env = env_with_library({"PYTHONPATH": str(PYTHON_DIR)})
        del env["QMGR_LIBRARY"]
        r = self.run_python("import qmgr; print(qmgr.library_path)", env, tempfile.gettempdir())
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertEqual(Path(r.stdout.strip()).parent.parent, target)

    def test_abi_mismatch_is_refused(self) -> None:
        cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
        if not cc:
            self.skipTest("no C compiler to build a fake library")
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "fake.c"
            src.write_text("unsigned int qm_abi_version(void) { return 7; }\n")
            so = Path(tmp) / "libfake.so"
            subprocess.run([cc, "-shared", "-fPIC", "-o", str(so), str(src)], check=True)
            env = env_with_library({"QMGR_LIBRARY": str(so), "PYTHONPATH": str(PYTHON_DIR)})
            r = self.run_python("import qmgr", env, tmp)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("ImportError", r.stdout)
            self.assertIn("ABI version 7", r.stdout)
            self.assertIn(f"ABI version {qmgr.ABI_VERSION}", r.stdout)


if __name__ == "__main__":
    unittest.main()
