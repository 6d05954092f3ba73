"""Failures are exceptions carrying the HRESULT; closing is safe and final."""

from __future__ import annotations

import gc
import subprocess
import textwrap
import threading
import unittest

from _support import LONG, PYTHON_DIR, MiB, TempDirTestCase, env_with_library, run_in_thread, which_python

import qmgr
from qmgr import JobState


class ErrorTests(TempDirTestCase):
    def test_resume_of_an_empty_job(self) -> None:
        m = self.manager()
        with m.create_job("empty") as job:
            with self.assertRaises(qmgr.Empty) as cm:
                job.resume()
            e = cm.exception
            self.assertIsInstance(e, qmgr.QmgrError)
            self.assertEqual(e.code, 0x80200003)
            self.assertEqual(e.code, qmgr.QM_BG_E_EMPTY)
            self.assertEqual(e.name, "QM_BG_E_EMPTY")
            self.assertEqual(e.description, "the job has no files to transfer")
            self.assertIn("Job.resume()", e.message)
            self.assertIn("QM_BG_E_EMPTY (0x80200003)", str(e))
            self.assertEqual(job.state, JobState.SUSPENDED)  # the job stays as it was

    def test_the_library_s_own_words_reach_the_exception(self) -> None:
        m = self.manager()
        with m.create_job("words") as job:
            with self.assertRaises(qmgr.InvalidArgument) as cm:
                job.add_file("http://example.com/x", "relative/name.bin")
            e = cm.exception
            self.assertIn("relative/name.bin", e.detail)
            self.assertIn("absolute", e.detail)
            self.assertIn(e.detail, str(e))
            self.assertEqual(qmgr.last_error_message(), e.detail)
            # The next failure on this thread replaces it; another thread has its own.
            with self.assertRaises(qmgr.FeatureNotImplemented) as cm2:
                job.security_flags = qmgr.QM_SSL_IGNORE_UNKNOWN_CA
            self.assertIn("certificate", cm2.exception.detail)
            thread, box = run_in_thread(qmgr.last_error_message)
            thread.join(LONG)
            self.assertEqual(box, [("ok", "")])

    def test_hardening_settings_round_trip(self) -> None:
        m = self.manager()
        with m.create_job("settings") as job:
            job.add_file("http://example.com/fw.bin", self.dir / "fw.bin")
            self.assertEqual(job.security_flags, qmgr.QM_HTTP_REDIRECT_POLICY_ALLOW_SILENT)
            job.security_flags = qmgr.QM_HTTP_REDIRECT_POLICY_DISALLOW
            self.assertEqual(job.security_flags, qmgr.QM_HTTP_REDIRECT_POLICY_DISALLOW)
            with self.assertRaises(qmgr.InvalidArgument):
                job.security_flags = 0x0300
            job.max_download_size = 1 << 20
            self.assertEqual(job.max_download_size, 1 << 20)
            job.max_download_size = None
            self.assertEqual(job.max_download_size, 0)
            job.low_speed_limit = (1000, 30)
            self.assertEqual(job.low_speed_limit, (1000, 30))
            job.low_speed_limit = None
            self.assertEqual(job.low_speed_limit, (0, 0))
            job.add_file("http://example.com/fw/a.bin", self.dir / "a.bin")
            self.assertTrue(job.replace_remote_prefix("http://example.com/", "http://mirror.example.com/"))
            self.assertEqual(job.file(1).remote, "http://mirror.example.com/fw/a.bin")
            self.assertEqual(job.file(0).remote, "http://mirror.example.com/fw.bin")
            self.assertFalse(job.replace_remote_prefix("http://example.com/", "http://x/"))
            with self.assertRaises(qmgr.InvalidArgument):
                job.replace_remote_prefix("http://", "gopher://")
            job.set_file_remote_name(1, "http://example.com/fw/a.bin")
            self.assertEqual(job.file(1).remote, "http://example.com/fw/a.bin")
            with self.assertRaises(qmgr.ItemNotFound):
                job.set_file_remote_name(5, "http://example.com/x")
            job.set_file_remote_name(0, "http://example.com/fw.bin")
            self.assertFalse(job.dynamic_content)
            job.dynamic_content = True
            self.assertTrue(job.dynamic_content)
            self.assertEqual(job.max_download_time, 7_776_000)
            job.max_download_time = 3600
            self.assertEqual(job.max_download_time, 3600)
            with self.assertRaises(ValueError):
                job.max_download_time = -1
            self.assertEqual(job.max_connections, 6)
            job.max_connections = 2
            self.assertEqual(job.max_connections, 2)
            with self.assertRaises(qmgr.InvalidArgument):
                job.max_connections = 0
            self.assertEqual(m.max_connections, 24)
            m.max_connections_per_server = 3
            self.assertEqual(m.max_connections_per_server, 3)
            self.assertEqual(job.file_final_url(0), "http://example.com/fw.bin")
            with self.assertRaises(qmgr.ItemNotFound):
                job.file_final_url(2)
        self.assertEqual(m.skipped_jobs, [])

    def test_resume_with_nothing_left(self) -> None:
        src = self.make_file("src", 10)
        m = self.manager()
        with m.create_job("done") as job:
            job.add_file(src, self.dir / "out")
            job.resume()
            self.assertEqual(job.wait(LONG), JobState.TRANSFERRED)
            with self.assertRaises(qmgr.Empty):
                job.resume()
            self.assertEqual(job.state, JobState.TRANSFERRED)

    def test_bad_arguments(self) -> None:
        m = self.manager()
        with m.create_job("bad") as job:
            for remote, local in [
                ("relative/source", str(self.dir / "x")),
                ("ftp://example.invalid/file", str(self.dir / "x")),
                ("/abs/source", "relative/dest"),
            ]:
                with self.assertRaises(qmgr.InvalidArgument, msg=(remote, local)) as cm:
                    job.add_file(remote, local)
                self.assertEqual(cm.exception.code, qmgr.QM_E_INVALIDARG)
                self.assertEqual(cm.exception.name, "QM_E_INVALIDARG")
            with self.assertRaises(qmgr.InvalidArgument):
                job.add_files([])
            with self.assertRaises(qmgr.InvalidArgument):  # embedded NUL, refused before C
                job.add_file("/a\0b", str(self.dir / "x"))
            with self.assertRaises(ValueError):  # InvalidArgument is a ValueError
                job.priority = 17
            with self.assertRaises(qmgr.InvalidArgument):  # would wrap around in C
                job.priority = -1
            with self.assertRaises(qmgr.InvalidArgument):
                job.min_retry_delay = 2**32
            with self.assertRaises(qmgr.InvalidArgument):
                job.set_notify(None, 1 << 20)  # unknown flag bits
            with self.assertRaises(qmgr.StringTooLong):
                job.display_name = "x" * 257
            with self.assertRaises(qmgr.FeatureNotImplemented):
                job.get_progress(qmgr.QM_PROGRESS_TIME_DONE)
            with self.assertRaises(qmgr.InvalidArgument):
                job.get_progress(99)
            with self.assertRaises(TypeError):
                job.add_file(42, str(self.dir / "x"))  # type: ignore[arg-type]
            with self.assertRaises(TypeError):
                job.display_name = None  # type: ignore[assignment]
            self.assertEqual(job.file_count, 0)
        with self.assertRaises(qmgr.InvalidArgument):
            m.max_active_jobs = 0
        with self.assertRaises(qmgr.StringTooLong):
            m.create_job("n" * 300)

    def test_cancel_twice(self) -> None:
        m = self.manager()
        with m.create_job("cancel twice") as job:
            self.assertEqual(job.cancel(), qmgr.QM_S_OK)
            with self.assertRaises(qmgr.InvalidState) as cm:
                job.cancel()
            self.assertEqual(cm.exception.code, qmgr.QM_BG_E_INVALID_STATE)
            self.assertEqual(cm.exception.name, "QM_BG_E_INVALID_STATE")
            # every change of a final job is refused the same way
            for action in (job.resume, job.suspend, job.complete, job.switch_to_foreground):
                with self.assertRaises(qmgr.InvalidState):
                    action()
            with self.assertRaises(qmgr.InvalidState):
                job.add_file(str(self.dir / "a"), str(self.dir / "b"))
            self.assertEqual(job.state, JobState.CANCELLED)  # still readable


class CloseTests(TempDirTestCase):
    def test_closing_twice_is_harmless(self) -> None:
        m = self.open_manager()
        job = m.create_job("twice")
        job.close()
        job.close()
        self.assertTrue(job.closed)
        with job:  # a closed job as a context manager: exit closes again, harmlessly
            pass
        m.close()
        m.close()
        self.assertTrue(m.closed)
        with m:
            pass

    def test_job_use_after_close(self) -> None:
        m = self.manager()
        job = m.create_job("closed")
        job.close()
        for use in (
            lambda: job.state,
            lambda: job.progress,
            lambda: job.id,
            lambda: job.display_name,
            lambda: job.resume(),
            lambda: job.add_file(str(self.dir / "a"), str(self.dir / "b")),
            lambda: job.wait(0),
            lambda: job.set_notify(lambda *a: None, qmgr.Notify.JOB_TRANSFERRED),
        ):
            with self.assertRaises(qmgr.InvalidHandle) as cm:
                use()
            self.assertIsInstance(cm.exception, qmgr.HandleClosed)
            self.assertEqual(cm.exception.code, qmgr.QM_E_HANDLE)
            self.assertEqual(cm.exception.name, "QM_E_HANDLE")
        self.assertEqual(job._notify_keep, [])  # a failed registration keeps nothing
        # the job itself lives on in its manager
        self.assertEqual(len(m.jobs()), 1)

    def test_manager_use_after_close(self) -> None:
        m = self.open_manager()
        job = m.create_job("orphan")
        m.close()
        with self.assertRaises(qmgr.InvalidHandle):
            m.create_job("late")
        with self.assertRaises(qmgr.InvalidHandle):
            m.jobs()
        with self.assertRaises(qmgr.InvalidHandle):
            m.max_active_jobs
        # closing the manager closed its jobs' handles
        self.assertTrue(job.closed)
        with self.assertRaises(qmgr.InvalidHandle):
            job.state
        job.close()  # harmless

    def test_context_managers_close(self) -> None:
        with self.open_manager() as m:
            with m.create_job("ctx") as job:
                pass
            self.assertTrue(job.closed)
            with self.assertRaises(qmgr.InvalidHandle):
                job.state
        self.assertTrue(m.closed)

    def test_garbage_collected_job_closes_its_reference(self) -> None:
        m = self.manager()
        job = m.create_job("gc")
        handle = job.handle
        del job
        gc.collect()
        from qmgr._lib import lib
        import ctypes

        state = ctypes.c_uint32()
        self.assertEqual(qmgr.HRESULT(lib.qm_job_get_state(handle, ctypes.byref(state))), qmgr.QM_E_HANDLE)
        self.assertEqual(len(m.jobs()), 1)

    def test_closing_the_manager_aborts_a_wait(self) -> None:
        src = self.make_file("src", 64 * MiB, sparse=True)
        m = self.open_manager()
        job = m.create_job("aborted")
        job.max_bandwidth = 1 * MiB  # 64 s: it is still running at the close
        job.add_file(src, self.dir / "out")
        job.resume()
        entering = threading.Event()

        def waiter() -> object:
            entering.set()
            return job.wait(LONG)

        t, box = run_in_thread(waiter)
        self.assertTrue(entering.wait(LONG), "the waiting thread did not start")
        # A wait here that must time out keeps the job unsettled for half a
        # second, and releases the GIL meanwhile: the other thread is then
        # blocked in its own wait, not on its way to it.
        self.assertIsNone(job.wait(0.5))
        m.close()
        t.join(LONG)
        self.assertFalse(t.is_alive(), "closing the manager did not end the wait")
        kind, value = box[0]
        # The manager closed while the thread waited: the wait ends with E_ABORT.
        self.assertEqual(kind, "error", value)
        self.assertIsInstance(value, qmgr.Aborted)

    def test_exit_without_closing(self) -> None:
        # An interpreter that exits with open managers, running transfers and
        # registered callbacks must neither hang nor crash.
        src = self.make_file("src", 64 * MiB, sparse=True)
        script = textwrap.dedent(
            f"""\
            import sys, time
            sys.path.insert(0, {str(PYTHON_DIR)!r})
            import qmgr
            m = qmgr.Manager()
            events = []
            for i in range(3):
                job = m.create_job(f"left open {{i}}")
                job.max_bandwidth = 8 * 1024 * 1024
                job.add_file({str(src)!r}, {str(self.dir)!r} + f"/out{{i}}")
                job.set_notify(lambda *args: events.append(args), qmgr.Notify.JOB_MODIFICATION)
                job.resume()
            orphan = qmgr.Manager().create_job("only the job is kept")
            deadline = time.monotonic() + {LONG!r}
            while not events:  # a callback has run: exit while they may still run
                assert time.monotonic() < deadline, "no callback ran within {LONG} s"
                time.sleep(0.01)
            print("exiting")
            """
        )
        r = subprocess.run(
            [which_python(), "-c", script],
            env=env_with_library(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            universal_newlines=True,
            timeout=2 * LONG,  # beyond the script's own bound, so that one reports
        )
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertEqual(r.stdout.strip(), "exiting")


if __name__ == "__main__":
    unittest.main()
