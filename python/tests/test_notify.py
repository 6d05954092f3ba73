"""Notify callbacks: events, arguments, lifetime of the ctypes callback."""

from __future__ import annotations

import gc
import queue
import sys
import threading
import time
import unittest
import weakref

from _support import LONG, MiB, TempDirTestCase

import qmgr
from qmgr import JobState, Notify


class Recorder:
    """A callback object (weak-referenceable, unlike a bound method's target)."""

    def __init__(self) -> None:
        self.events: "queue.Queue[tuple]" = queue.Queue()

    def __call__(self, job: qmgr.Job, event: Notify, file_index, code) -> None:
        self.events.put((job, event, file_index, code, threading.get_ident()))

    def next(self, timeout: float = LONG, what: str = "the next event") -> tuple:
        """The next event; fails (not hangs) after ``timeout`` seconds."""
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}") from None


class NotifyTests(TempDirTestCase):
    def test_job_transferred(self) -> None:
        src = self.make_file("src", 300_000)
        m = self.manager()
        with m.create_job("notify") as job:
            rec = Recorder()
            job.set_notify(rec, Notify.JOB_TRANSFERRED)
            self.assertIs(job.notify_callback, rec)
            self.assertEqual(job.notify_flags, Notify.JOB_TRANSFERRED)
            job.add_file(src, self.dir / "out")
            job.resume()
            got_job, event, file_index, code, thread = rec.next()
            self.assertIs(got_job, job)
            self.assertEqual(event, Notify.JOB_TRANSFERRED)
            self.assertIsInstance(event, Notify)
            self.assertIsNone(file_index)
            self.assertEqual(code, qmgr.QM_S_OK)
            self.assertNotEqual(thread, threading.get_ident())  # a library thread
            self.assertEqual(job.wait(LONG), JobState.TRANSFERRED)
            job.complete()

    def test_file_transferred_and_job_error(self) -> None:
        src = self.make_file("src", 1000)
        m = self.manager()
        with m.create_job("files") as job:
            # One connection: the files go in order, so "a" is transferred
            # before "b" fails. (With several they run at once and may finish
            # in any order, so the order of the events would be a race.)
            job.max_connections = 1
            rec = Recorder()
            job.set_notify(rec, Notify.FILE_TRANSFERRED | Notify.JOB_ERROR)
            # "b" comes from a source that does not exist: it fails.
            job.add_files([(src, self.dir / "a"), (self.dir / "no-such-source", self.dir / "b")])
            job.resume()
            self.assertEqual(job.wait(LONG), JobState.ERROR)
            events = [rec.next(what="FILE_TRANSFERRED")[1:4], rec.next(what="JOB_ERROR")[1:4]]
            self.assertEqual(events[0], (Notify.FILE_TRANSFERRED, 0, 0))
            kind, index, code = events[1]
            self.assertEqual(kind, Notify.JOB_ERROR)
            self.assertIn(code, (qmgr.QM_E_FILE_NOT_FOUND, qmgr.QM_E_PATH_NOT_FOUND))
            self.assertEqual(code.name, qmgr.hresult_name(code))
            job.cancel()

    def test_disable_silences_events(self) -> None:
        src = self.make_file("src", 1000)
        m = self.manager()
        with m.create_job("quiet") as job:
            rec = Recorder()
            job.set_notify(rec, Notify.JOB_TRANSFERRED | Notify.DISABLE)
            job.add_file(src, self.dir / "out")
            job.resume()
            self.assertEqual(job.wait(LONG), JobState.TRANSFERRED)
            # A job's events arrive in order, and an event is queued before
            # the state it reports ends a wait. So once an event caused after
            # the wait has arrived, a JOB_TRANSFERRED (had DISABLE let one
            # through) would have arrived before it: no sleep needed.
            job.set_notify(rec, Notify.JOB_MODIFICATION)
            job.description = "after the silenced transfer"
            seen = [rec.next(what="the JOB_MODIFICATION of the description")[1]]
            while seen[-1] != Notify.JOB_MODIFICATION:
                seen.append(rec.next(what="the JOB_MODIFICATION of the description")[1])
            self.assertEqual(seen, [Notify.JOB_MODIFICATION])
            job.complete()

    def test_callback_is_kept_alive_while_registered(self) -> None:
        src = self.make_file("src", 1000)
        m = self.manager()
        with m.create_job("alive") as job:
            got = threading.Event()
            # Only the job holds this lambda (and its ctypes thunk).
            job.set_notify(lambda j, e, i, c: got.set(), Notify.JOB_TRANSFERRED)
            gc.collect()
            job.add_file(src, self.dir / "out")
            job.resume()
            self.assertTrue(got.wait(LONG), "the callback did not run")
            job.complete()

    def test_callback_is_released_when_cleared_replaced_or_closed(self) -> None:
        m = self.manager()
        # cleared
        job = m.create_job("release")
        rec = Recorder()
        ref = weakref.ref(rec)
        job.set_notify(rec, Notify.JOB_TRANSFERRED)
        del rec
        gc.collect()
        self.assertIsNotNone(ref(), "released while registered")
        job.set_notify(None)
        self.assertEqual(job.notify_flags, Notify.JOB_TRANSFERRED)  # flags kept
        self.assertIsNone(job.notify_callback)
        gc.collect()
        self.assertIsNone(ref(), "still alive after set_notify(None)")
        # replaced
        first, second = Recorder(), Recorder()
        ref1, ref2 = weakref.ref(first), weakref.ref(second)
        job.set_notify(first)
        job.set_notify(second)
        del first, second
        gc.collect()
        self.assertIsNone(ref1(), "the replaced callback is still alive")
        self.assertIsNotNone(ref2())
        # closed
        job.close()
        gc.collect()
        self.assertIsNone(ref2(), "still alive after close()")
        # manager closed
        other = self.open_manager()
        job2 = other.create_job("mgr")
        third = Recorder()
        ref3 = weakref.ref(third)
        job2.set_notify(third)
        del third
        other.close()
        gc.collect()
        self.assertIsNone(ref3(), "still alive after Manager.close()")

    def test_close_waits_for_a_running_callback(self) -> None:
        src = self.make_file("src", 1000)
        m = self.manager()
        job = m.create_job("slow callback")
        started, closing, finished = threading.Event(), threading.Event(), threading.Event()

        def slow(j: qmgr.Job, e: Notify, i, c) -> None:
            started.set()
            # Still running when close() is called: the callback goes on for
            # a while after the main thread says it is about to call close(),
            # so a close() that did not wait would return before this ends.
            closing.wait(LONG)
            time.sleep(0.3)
            finished.set()

        job.set_notify(slow, Notify.JOB_TRANSFERRED)
        job.add_file(src, self.dir / "out")
        job.resume()
        self.assertTrue(started.wait(LONG), "the callback did not run")
        closing.set()
        job.close()  # must not return while the callback runs
        self.assertTrue(finished.is_set())

    def test_callback_may_call_the_library(self) -> None:
        src = self.make_file("src", 1000)
        m = self.manager()
        with m.create_job("reentrant") as job:
            seen: "queue.Queue[object]" = queue.Queue()

            def cb(j: qmgr.Job, e: Notify, i, c) -> None:
                try:
                    result = (j.state, j.progress.percent, j.display_name)
                    j.set_notify(None)  # removing itself from inside
                    seen.put(result)
                except BaseException as exc:  # noqa: BLE001
                    seen.put(exc)

            job.set_notify(cb, Notify.JOB_TRANSFERRED)
            job.add_file(src, self.dir / "out")
            job.resume()
            self.assertEqual(seen.get(timeout=LONG), (JobState.TRANSFERRED, 100, "reentrant"))
            self.assertIsNone(job.notify_callback)
            job.complete()

    def test_exceptions_in_callbacks_are_reported_not_fatal(self) -> None:
        if not hasattr(sys, "unraisablehook"):
            self.skipTest("sys.unraisablehook needs Python 3.8")
        src = self.make_file("src", 1000)
        reported: "queue.Queue[object]" = queue.Queue()
        old = sys.unraisablehook
        sys.unraisablehook = lambda args: reported.put(args.exc_value)
        self.addCleanup(setattr, sys, "unraisablehook", old)
        m = self.manager()
        with m.create_job("raises") as job:

            def bad(j: qmgr.Job, e: Notify, i, c) -> None:
                raise RuntimeError("boom")

            job.set_notify(bad, Notify.JOB_TRANSFERRED)
            job.add_file(src, self.dir / "out")
            job.resume()
            exc = reported.get(timeout=LONG)
            self.assertIsInstance(exc, RuntimeError)
            self.assertEqual(job.wait(LONG), JobState.TRANSFERRED)
            job.complete()

    def test_modification_events_during_a_transfer(self) -> None:
        src = self.make_file("src", 8 * MiB, sparse=True)
        m = self.manager()
        with m.create_job("modification") as job:
            rec = Recorder()
            job.set_notify(rec, Notify.JOB_MODIFICATION | Notify.JOB_TRANSFERRED)
            job.max_bandwidth = 16 * MiB
            job.add_file(src, self.dir / "out")
            job.resume()
            self.assertEqual(job.wait(LONG), JobState.TRANSFERRED)
            events = []
            while Notify.JOB_TRANSFERRED not in events:  # each next() fails after LONG
                events.append(rec.next(what="JOB_TRANSFERRED")[1])
            self.assertIn(Notify.JOB_MODIFICATION, events)
            self.assertIn(Notify.JOB_TRANSFERRED, events)
            job.complete()


if __name__ == "__main__":
    unittest.main()
