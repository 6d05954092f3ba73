"""The ABI of 0.3 through ctypes: growable structs (``struct_size``), the
uint32_t booleans, one spelling of names, and a getter for every setter."""

from __future__ import annotations

import ctypes
import unittest
from ctypes import Structure, byref, c_uint32, c_uint64

from _support import TempDirTestCase

import qmgr
from qmgr import _lib
from qmgr.errors import HRESULT


def write_pem(path: "object", kind: str) -> None:
    """A PEM file qmgr accepts (it checks the armour, not the DER inside)."""
    with open(str(path), "w") as f:
        f.write(f"-----BEGIN {kind}-----\nMIIB\n-----END {kind}-----\n")


class StructSizeTests(TempDirTestCase):
    def test_out_structs_need_their_size_and_a_bigger_one_learns_what_was_filled(self) -> None:
        m = self.manager()
        with m.create_job("sizes") as job:
            job.add_file("http://example.com/a", self.dir / "a")
            # struct_size left 0: refused, nothing written.
            p = _lib.qm_job_progress()
            p.files_total = 77
            hr = HRESULT(_lib.lib.qm_job_get_progress_ex(job.handle, byref(p)))
            self.assertEqual(hr, qmgr.QM_E_INVALIDARG)
            self.assertEqual(p.files_total, 77)
            # A newer caller's struct, one field longer.

            class Newer(Structure):
                _fields_ = [("p", _lib.qm_job_progress), ("added", c_uint64)]

            n = Newer()
            n.p.struct_size = ctypes.sizeof(Newer)
            n.added = 42
            hr = HRESULT(_lib.lib.qm_job_get_progress_ex(job.handle, ctypes.cast(byref(n), ctypes.POINTER(_lib.qm_job_progress))))
            self.assertEqual(hr, qmgr.QM_S_OK)
            self.assertEqual(n.p.struct_size, ctypes.sizeof(_lib.qm_job_progress))
            self.assertEqual(n.p.files_total, 1)
            self.assertEqual(n.added, 42)
            # What the package hands out is unaffected.
            self.assertEqual(job.progress.files_total, 1)
            self.assertFalse(job.file(0).progress.completed)

    def test_dynamic_content_is_a_uint32_zero_or_one(self) -> None:
        m = self.manager()
        with m.create_job("dynamic") as job:
            self.assertFalse(job.dynamic_content)
            job.dynamic_content = True
            self.assertIs(job.dynamic_content, True)
            # A binding passing anything but 0 or 1 gets a refusal.
            hr = HRESULT(_lib.lib.qm_job_set_dynamic_content(job.handle, 2))
            self.assertEqual(hr, qmgr.QM_E_INVALIDARG)
            out = c_uint32(9)
            _lib.lib.qm_job_get_dynamic_content(job.handle, byref(out))
            self.assertEqual(out.value, 1)

    def test_yielding_is_on_by_default_and_a_uint32_zero_or_one(self) -> None:
        m = self.manager()
        with m.create_job("yielding") as job:
            self.assertIs(job.yielding, True)
            job.yielding = False
            self.assertIs(job.yielding, False)
            hr = HRESULT(_lib.lib.qm_job_set_yielding(job.handle, 2))
            self.assertEqual(hr, qmgr.QM_E_INVALIDARG)
            out = c_uint32(9)
            _lib.lib.qm_job_get_yielding(job.handle, byref(out))
            self.assertEqual(out.value, 0)
            job.yielding = True
            self.assertIs(job.yielding, True)
            job.cancel()
            with self.assertRaises(qmgr.InvalidState):
                job.yielding = False


class NamesTests(TempDirTestCase):
    def test_one_spelling_and_no_old_names(self) -> None:
        m = self.manager()
        m.max_bandwidth = 1000
        self.assertEqual(m.max_bandwidth, 1000)
        with m.create_job("names") as job:
            job.min_retry_delay = 7
            job.max_download_time = 60
            job.min_notification_interval = 1000
            self.assertEqual((job.min_retry_delay, job.max_download_time, job.min_notification_interval), (7, 60, 1000))
            for old in ("minimum_retry_delay", "minimum_notification_interval"):
                self.assertFalse(hasattr(job, old), old)
        self.assertFalse(hasattr(m, "bandwidth_limit"))
        for old in (
            "qm_job_set_maximum_download_time",
            "qm_job_get_minimum_retry_delay",
            "qm_job_set_minimum_notification_interval",
            "qm_manager_set_bandwidth_limit",
        ):
            self.assertFalse(hasattr(_lib.lib, old), f"the library still exports {old}")
            self.assertNotIn(old, _lib.PROTOTYPES)


class GetterTests(TempDirTestCase):
    def test_every_setter_has_a_getter(self) -> None:
        ca, cert, key = self.dir / "ca.pem", self.dir / "client.pem", self.dir / "client.key"
        write_pem(ca, "CERTIFICATE")
        write_pem(cert, "CERTIFICATE")
        write_pem(key, "PRIVATE KEY")
        m = self.manager()
        with m.create_job("getters") as job:
            self.assertIsNone(job.proxy)  # from the environment
            job.set_proxy("")
            self.assertEqual(job.proxy, "")  # direct
            job.set_proxy("http://user:secret@proxy.example:3128")
            self.assertEqual(job.proxy, "http://user:secret@proxy.example:3128")
            job.set_proxy(None)
            self.assertIsNone(job.proxy)

            self.assertIsNone(job.ca_file)
            job.set_ca_file(ca)
            self.assertEqual(job.ca_file, str(ca))
            job.set_ca_file(None)
            self.assertIsNone(job.ca_file)

            self.assertIsNone(job.client_certificate)
            job.set_client_certificate(cert, key)
            self.assertEqual(job.client_certificate, (str(cert), str(key)))
            job.set_client_certificate(None, None)
            self.assertIsNone(job.client_certificate)

            job.add_files([("http://example.com/a", self.dir / "a", 4096), ("http://example.com/b", self.dir / "b")])
            self.assertEqual([f.size_hint for f in job.files], [4096, 0])
            self.assertIsNone(job.file_sha256(0))
            job.set_file_sha256(0, "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD")
            self.assertEqual(job.file_sha256(0), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
            with self.assertRaises(qmgr.ItemNotFound):
                job.file_sha256(2)


if __name__ == "__main__":
    unittest.main()
