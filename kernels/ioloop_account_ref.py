"""Pure-Python reference of the builtin engine's accounting (kernels.ioloop_account): what a thread counts per
op, fio's latency bins, figures over time by completion interval, and the merged result of a direction.

kernels.ioloop and kernels.ioloop_account import `check_interval` and `direction_result` from here, so that the
two engines check interval_s and shape their results in one place; `tally` here and in the kernel count the same
ops the same way (tests/kernels/test_ioloop_account.py).
"""
from __future__ import annotations

import threading
import time

import numpy as np

# fio's latency bins, one definition for both engines (kernels/latency_bins.py).
from kernels.latency_bins import PLAT_NR, PLAT_VAL, bin_index, bin_value, bins_from_array

__all__ = ["IMPLEMENTATION", "INTERVAL_MIN_S", "PLAT_NR", "IntervalPoller", "Tally", "bin_index_ns",
           "bin_value_ns", "check_interval", "direction_result", "hist_to_bins", "interval_counts", "tally"]

IMPLEMENTATION = "python:ioloop_account_ref"
INTERVAL_MIN_S = 0.001    # figures over time in intervals of at least a millisecond
_NO_LATENCY = (1 << 64) - 1   # lat_min before any op (the kernel's UINT64_MAX)


def bin_index_ns(value_ns: int) -> int:
    """fio's plat_val_to_idx: the bin holding a latency of `value_ns` ns (negative clock steps count as 0)."""
    return bin_index(max(0, int(value_ns)))


def bin_value_ns(index: int) -> int:
    """fio's plat_idx_to_val: the value in ns that stands for bin `index` (the middle of the bin)."""
    return bin_value(index)


def hist_to_bins(hist) -> dict:
    """{bin value ns: count} of the non-empty bins of a PLAT_NR-long histogram (fio json+ `clat_ns.bins`)."""
    counts = np.asarray(hist)
    if counts.shape != (PLAT_NR,):
        raise ValueError(f"a latency histogram has {PLAT_NR} bins, not shape {counts.shape}")
    return bins_from_array(counts)


def check_interval(interval_s, on_interval) -> int:
    """The interval in ns (0: no figures over time) from run_phase's interval_s; ValueError when it is not a
    finite number of seconds >= INTERVAL_MIN_S, or on_interval is given without it or is not callable."""
    if interval_s is None:
        if on_interval is not None:
            raise ValueError("on_interval needs interval_s")
        return 0
    if isinstance(interval_s, bool) or not isinstance(interval_s, (int, float)) or not \
            INTERVAL_MIN_S <= float(interval_s) < 1e9:
        raise ValueError(f"interval_s must be a number of seconds from {INTERVAL_MIN_S}, not {interval_s!r}")
    if on_interval is not None and not callable(on_interval):
        raise ValueError("on_interval must be callable")
    return int(round(float(interval_s) * 1e9))


def interval_counts(rows: dict) -> np.ndarray:
    """The `counts` array of run_phase's intervals from {interval number: (2, 2 + PLAT_NR) counts}: a row per
    interval up to the last one with a completion (zeros for intervals with none)."""
    n = max(rows) + 1 if rows else 0
    out = np.zeros((n, 2, 2 + PLAT_NR), dtype=np.uint64)
    for k, counts in rows.items():
        out[k] += counts
    return out


class IntervalPoller(threading.Thread):
    """Calls on_interval(index, counts) for each interval of a running phase, one interval after it ended (by
    then the threads have moved on and added it), then, at finish(), for the rest. rows(first, last) returns
    the counts of intervals first..last-1 as far as they exist. An exception from on_interval stops the calls
    and is raised again by finish(): the caller's bug is not lost with the thread."""

    def __init__(self, rows, interval_ns: int, on_interval):
        super().__init__(name="ioloop-intervals", daemon=True)
        self.rows, self.interval_ns, self.on_interval = rows, interval_ns, on_interval
        self.emitted = 0
        self.error = None
        self._halt = threading.Event()
        self._start_ns = time.monotonic_ns()

    def _emit(self, last: int) -> None:
        counts = self.rows(self.emitted, last)
        for k in range(len(counts)):
            self.on_interval(self.emitted + k, counts[k])
        self.emitted += len(counts)

    def run(self) -> None:
        try:
            while not self._halt.wait(self.interval_ns / 1e9 / 4):
                ready = (time.monotonic_ns() - self._start_ns) // self.interval_ns - 1
                if ready > self.emitted:
                    self._emit(ready)
        except BaseException as exc:
            self.error = exc

    def finish(self) -> None:
        """Stop polling and call on_interval for the intervals not reported yet (the phase has ended)."""
        self._halt.set()
        self.join()
        if self.error is None:
            self._emit(1 << 62)
        if self.error is not None:
            error, self.error = self.error, None
            raise error


def direction_result(ops, nbytes, hist, lat_min, lat_max, lat_sum) -> dict:
    """One direction of run_phase's result: ops, bytes, the latency histogram (fio's bins), the minimum and
    maximum latency in ns (None without ops: not measured, never 0) and the sum of the latencies in ns."""
    return {"ops": int(ops), "bytes": int(nbytes), "hist": hist,
            "lat_min_ns": int(lat_min) if ops else None, "lat_max_ns": int(lat_max) if ops else None,
            "lat_sum_ns": int(lat_sum)}


class Tally:
    """One thread's accounting: per direction (0 read, 1 write) ops, bytes, latency sum, min and max (ns)
    and fio's latency bins; fsyncs and checksummed chunks. Merged into the run's counts when the thread ends."""

    def __init__(self, start_ns: int = 0, interval_ns: int = 0):
        self.start_ns, self.interval_ns = start_ns, interval_ns
        self.intervals: dict = {}      # interval number -> (2, 2 + PLAT_NR) counts, by completion time
        self.hist = [[0] * PLAT_NR, [0] * PLAT_NR]
        self.ops, self.nbytes, self.lat_sum = [0, 0], [0, 0], [0, 0]
        self.lat_min, self.lat_max = [_NO_LATENCY, _NO_LATENCY], [0, 0]
        self.fsyncs = self.checksums = 0

    def add(self, d: int, lat: int, bs: int, t1: int = 0) -> None:
        """Count one op of direction `d` that moved `bs` bytes in `lat` ns and completed at t1 (ns)."""
        b = lat if lat < 2 * PLAT_VAL else bin_index_ns(lat)
        if self.interval_ns:
            k = max(t1 - self.start_ns, 0) // self.interval_ns
            row = self.intervals.get(k)
            if row is None:
                row = self.intervals[k] = np.zeros((2, 2 + PLAT_NR), dtype=np.uint64)
            row[d, 0] += 1
            row[d, 1] += bs
            row[d, 2 + b] += 1
        self.hist[d][b] += 1
        self.ops[d] += 1
        self.nbytes[d] += bs
        self.lat_sum[d] += lat
        if lat < self.lat_min[d]:
            self.lat_min[d] = lat
        if lat > self.lat_max[d]:
            self.lat_max[d] = lat

    def merge(self, out: dict, lock: threading.Lock) -> None:
        """Add these counts to the run's `out` (new_totals' shape), under `lock`."""
        with lock:
            for d in (0, 1):
                out["hist"][d] += np.array(self.hist[d], dtype=np.uint64)
                out["ops"][d] += self.ops[d]
                out["bytes"][d] += self.nbytes[d]
                out["lat_sum"][d] += self.lat_sum[d]
                out["lat_min"][d] = min(out["lat_min"][d], self.lat_min[d])
                out["lat_max"][d] = max(out["lat_max"][d], self.lat_max[d])
            out["fsyncs"] += self.fsyncs
            out["checksums"] += self.checksums
            for k, row in self.intervals.items():
                if k in out["intervals"]:
                    out["intervals"][k] += row
                else:
                    out["intervals"][k] = row.copy()


def new_totals() -> dict:
    """The run's counts before any thread has merged its Tally."""
    return {"hist": [np.zeros(PLAT_NR, dtype=np.uint64), np.zeros(PLAT_NR, dtype=np.uint64)],
            "ops": [0, 0], "bytes": [0, 0], "lat_sum": [0, 0], "lat_min": [_NO_LATENCY, _NO_LATENCY],
            "lat_max": [0, 0], "fsyncs": 0, "checksums": 0, "intervals": {}}


def directions(out: dict) -> dict:
    """{"read": ..., "write": ...} of run_phase's result from the merged totals."""
    return {name: direction_result(out["ops"][d], out["bytes"][d], out["hist"][d], out["lat_min"][d],
                                   out["lat_max"][d], out["lat_sum"][d])
            for d, name in enumerate(("read", "write"))}


def tally(ops, interval_s=None, start_ns=0) -> dict:
    """The accounting of `ops` (direction 0 read / 1 write, latency ns, bytes, completion time ns) on one
    thread: {"read", "write" (direction_result), "intervals": uint64 array (intervals, 2, 2 + PLAT_NR), by
    completion time in intervals of interval_s seconds from start_ns (ns), empty without interval_s}."""
    counts = Tally(int(start_ns), check_interval(interval_s, None))
    for d, lat, nbytes, t1 in ops:
        if d not in (0, 1):
            raise ValueError(f"an op's direction is 0 (read) or 1 (write), not {d}")
        counts.add(int(d), int(lat), int(nbytes), int(t1))
    out = new_totals()
    counts.merge(out, threading.Lock())
    return dict(directions(out), intervals=interval_counts(out["intervals"]))
