"""Threads: wait() releases the GIL; many threads share jobs safely."""

from __future__ import annotations

import random
import threading
import time
import unittest

from _support import LONG, MiB, TempDirTestCase, run_in_thread, wait_until

import qmgr
from qmgr import JobState, Notify


class Counter:
    """A pure-Python busy loop in its own thread: it only advances while it
    can take the GIL."""

    def __init__(self) -> None:
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.count += 1

    def __enter__(self) -> "Counter":
        self._thread.start()
        wait_until(lambda: self.count > 0, LONG, "the counter thread to start", interval=0.001)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


class GilTests(TempDirTestCase):
    def slow_job(self, m: qmgr.Manager, name: str) -> qmgr.Job:
        src = self.make_file(f"{name}.src", 64 * MiB, sparse=True)
        job = m.create_job(name)
        self.addCleanup(job.close)
        job.max_bandwidth = 1 * MiB  # a minute: it will not finish during the test
        job.add_file(src, self.dir / f"{name}.out")
        job.resume()
        return job

    def test_wait_releases_the_gil(self) -> None:
        m = self.manager()
        job = self.slow_job(m, "gil")
        with Counter() as counter:
            before = counter.count
            t0 = time.monotonic()
            self.assertIsNone(job.wait(timeout=1.0))  # one foreign call, blocking ~1 s
            elapsed = time.monotonic() - t0
            during = counter.count - before
        self.assertGreaterEqual(elapsed, 0.95)  # it did wait (a lower bound holds on any machine)
        self.assertLess(elapsed, 30)  # and came back: this bound only catches a hang
        # With the GIL held through the wait, the counter could not move at all.
        self.assertGreater(during, 10_000, f"the counter advanced only {during} times in {elapsed:.2f} s")
        job.cancel()

    def test_wait_in_a_thread_does_not_block_the_main_thread(self) -> None:
        m = self.manager()
        job = self.slow_job(m, "background wait")
        entering = threading.Event()

        def waiter() -> object:
            entering.set()
            return job.wait()  # no timeout

        t, box = run_in_thread(waiter)
        self.assertTrue(entering.wait(LONG), "the waiting thread did not start")
        # Within a few GIL switches the other thread is in its wait; the main
        # thread must keep running meanwhile (and the wait must go on).
        n, t0 = 0, time.monotonic()
        while time.monotonic() - t0 < 0.5:
            n += 1
        self.assertGreater(n, 10_000)
        self.assertTrue(t.is_alive())
        job.suspend()  # SUSPENDED ends the wait
        t.join(LONG)
        self.assertFalse(t.is_alive())
        self.assertEqual(box, [("ok", JobState.SUSPENDED)])
        job.cancel()

    def test_many_threads_share_jobs(self) -> None:
        m = self.manager()
        m.max_active_jobs = 2
        jobs = [self.slow_job(m, f"shared{i}") for i in range(3)]
        stop = threading.Event()
        errors: list = []
        ops = [0] * 8
        events = [0]

        def on_event(job: qmgr.Job, event: Notify, index, code) -> None:
            events[0] += 1

        def reader(k: int) -> None:
            rng = random.Random(k)
            while not stop.is_set():
                job = rng.choice(jobs)
                p = job.progress
                assert 0 <= p.percent <= 100, p
                assert p.bytes_total is None or p.bytes_transferred <= p.bytes_total, p
                assert isinstance(job.state, JobState)
                if rng.random() < 0.2:
                    job.files
                    job.status
                    job.error
                    job.display_name
                if rng.random() < 0.05:
                    with m.get_job(job.id) as ref:  # extra references come and go
                        ref.state
                ops[k] += 1

        def toggler(k: int) -> None:
            rng = random.Random(k)
            while not stop.is_set():
                job = rng.choice(jobs)
                if rng.random() < 0.5:
                    job.suspend()
                else:
                    try:
                        job.resume()
                    except qmgr.Empty:
                        # only if the job is done (it should not be)
                        assert job.state == JobState.TRANSFERRED
                if rng.random() < 0.3:
                    job.wait(timeout=0.01)
                if k == 7 and rng.random() < 0.5:
                    # callbacks registered, replaced and removed while events fire
                    job.set_notify(on_event if rng.random() < 0.7 else None, Notify.JOB_MODIFICATION)
                ops[k] += 1
                time.sleep(rng.random() * 0.01)

        def main(k: int) -> None:
            try:
                (toggler if k >= 5 else reader)(k)
            except BaseException as e:  # noqa: BLE001
                errors.append((k, e))
                stop.set()

        threads = [threading.Thread(target=main, args=(k,), daemon=True) for k in range(8)]
        for t in threads:
            t.start()
        time.sleep(2.0)  # the stress runs for at least this long
        # ... and until every thread has done something (or one failed): on a
        # slow machine that may take longer than the two seconds.
        self.wait_for(lambda: errors or all(n > 0 for n in ops), what="every thread to run an operation")
        stop.set()
        deadline = time.monotonic() + LONG
        for t in threads:
            t.join(max(0.1, deadline - time.monotonic()))
        self.assertEqual([t.name for t in threads if t.is_alive()], [], "deadlock: threads did not finish")
        self.assertEqual(errors, [])
        self.assertTrue(all(n > 0 for n in ops), ops)
        # Everything still works afterwards: each job makes progress again.
        m.max_active_jobs = 3
        for job in jobs:
            job.set_notify(None)
            job.resume()
        for job in jobs:
            start = job.progress.bytes_transferred
            self.wait_for(lambda: job.progress.bytes_transferred > start, LONG, f"progress of {job.display_name}")
            self.assertEqual(job.cancel(), qmgr.QM_S_OK)


if __name__ == "__main__":
    unittest.main()
