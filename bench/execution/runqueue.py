"""How long a case's threads waited for a CPU: the run-queue delay of every task of the case.

Linux keeps, per task, the nanoseconds it ran and the nanoseconds it sat runnable in a run queue waiting for a
CPU (`/proc/PID/task/TID/schedstat`: run time, run delay, time slices; present wherever schedstats are built in,
as on every distribution kernel). A sampler thread reads them for the worker's threads and descendants (fio's
job processes, the builtin engine's threads, a job's pools, a local Spark cluster's JVMs) every `interval_s`
and keeps each task's last value; a task first seen after the start counts from 0 (a new task starts at 0).
The worker samples around its engine call only (the window the verdict's wall time covers), leaving out its own
main thread (it only waits for the engine's threads and processes) and the sampler's thread; the sampler's own
cost, a few /proc reads every 50 ms, is under 1% of a core.

The window is the whole engine call (laying out files included), wider than the timed part the verdict's CPU
share covers: the verdict uses the share of the window the tasks waited (`wait_s / window_s`), not the seconds.

What it cannot see, so the figure is a floor: a task that starts and ends between two samples (fio's and the
engines' tasks live as long as their phase, far longer than the interval).
"""
from __future__ import annotations

import os
import threading
import time
from typing import Optional

import psutil

__all__ = ["RunQueueWait", "read_schedstat"]


def read_schedstat(pid: int, tid: int) -> Optional[tuple]:
    """(run_ns, wait_ns) of one task, or None when it is gone or the kernel has no schedstat."""
    try:
        with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            run, wait = f.read().split()[:2]
        return int(run), int(wait)
    except (OSError, ValueError):
        return None


class RunQueueWait:
    """`with RunQueueWait(worker_pid) as w: ...` then `w.wait_s` / `w.run_s` (None when nothing was read)."""

    def __init__(self, root_pid: int, interval_s: float = 0.05):
        self.root_pid = root_pid
        self.interval_s = interval_s
        self._first: dict = {}
        self._own_tid: Optional[int] = None
        self._last: dict = {}
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def _pids(self) -> list:
        try:
            root = psutil.Process(self.root_pid)
            return [self.root_pid] + [c.pid for c in root.children(recursive=True)]
        except psutil.Error:
            return []

    def sample(self) -> None:
        for pid in self._pids():
            try:
                tids = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for name in tids:
                tid = int(name)
                if tid == self.root_pid or tid == self._own_tid:
                    continue        # the worker's main thread (it waits for the engine) and this sampler
                stat = read_schedstat(pid, tid)
                if stat is None:
                    continue
                key = (pid, tid)
                if key not in self._first:
                    self._first[key] = stat if self._started_with(key) else (0, 0)
                self._last[key] = stat

    def _started_with(self, key) -> bool:
        return key in self._initial

    def __enter__(self):
        self._t0 = time.monotonic()
        self.window_s: Optional[float] = None
        self._initial: set = set()
        for pid in self._pids():
            try:
                self._initial.update((pid, int(t)) for t in os.listdir(f"/proc/{pid}/task"))
            except OSError:
                pass
        self.sample()
        self._own_tid = None
        self._thread = threading.Thread(target=self._loop, daemon=True, name="tierbench-runqueue")
        self._thread.start()
        return self

    def _loop(self):
        self._own_tid = threading.get_native_id()
        while not self._stop.wait(self.interval_s):
            self.sample()

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()
        self.window_s = time.monotonic() - self._t0
        return False

    def _total(self, i: int) -> Optional[float]:
        if not self._last:
            return None
        return sum(self._last[k][i] - self._first[k][i] for k in self._last) / 1e9

    @property
    def wait_s(self) -> Optional[float]:
        """Seconds the case's tasks together waited in a run queue (a floor: see the module docstring)."""
        return self._total(1)

    @property
    def run_s(self) -> Optional[float]:
        return self._total(0)
