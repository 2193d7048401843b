"""Figures over time from fio: the differences of its `--status-interval` reports. Pure: reports in, rows out.

With `--status-interval=N --output-format=json+ --output=FILE`, fio appends a whole json+ report to FILE every
N seconds, each cumulative since its jobs started, and its final report last (seen with fio 3.33: a 5 s run
with N=1 wrote 6 status reports, then the final one). The difference of two consecutive reports is exactly
what completed between them: operations (`total_ios`), bytes (`io_bytes`), the completion-latency histogram
(`clat_ns.bins`) and the direction's own run time (`runtime`, ms); summed over the intervals they give the
final report's totals, so the figures over time and the case's totals come from the same counters. fio's
IOPS and bandwidth logs (`log_avg_msec`) hold averages of samples instead, and its histogram logs are
cumulative as well.

An interval row (engine-neutral, as bench.engines.builtin makes them too):
    phase, index (0, 1, ... per phase and direction), direction ("read" | "write"), t_start_s, t_end_s
    (seconds from the start of the case's first I/O), active_s (seconds the direction ran within the
    interval: fio's runtime difference; the interval's length when fio counted none), ops, bytes,
    bins ({latency ns: count} of the operations completed in the interval).
A row exists for an interval in which the direction completed operations or ran (fio's runtime grew): an
interval in which a running direction completed nothing is a row with 0 operations (a stall), not a gap.
Interval boundaries are fio's report times (`timestamp_ms`), about N seconds apart; t = 0 is the first
report's time less the run time of the direction that had started.
"""
from __future__ import annotations

from typing import Callable, Optional

from bench.core.errors import CaseError
from bench.engines.fio.parse import FioReport

__all__ = ["snapshots", "interval_rows", "diff_rows", "has_io", "start_ms"]

_DIRECTIONS = ("read", "write")


def snapshots(report: FioReport, host: Optional[str] = None, key: Optional[Callable] = None) -> list:
    """One snapshot per document of `report` that carries a `timestamp_ms`: (time ms, {phase: {direction:
    (ops, bytes, runtime ms, bins)}}) of `host`'s entries (None: a local run), in the order fio wrote them.
    key(job) names an entry's phase (default: the job's name); entries of one phase (a job's numjobs clones
    without group_reporting, or the jobs of one reporting group) are added up: operations, bytes and bins
    summed, the longest run time kept."""
    if len(report.document_times_ms) != report.documents:
        raise ValueError("the report does not carry its documents' times (parse it with bench.engines.fio.parse)")
    key = key or (lambda job: job.name)
    by_doc: dict = {}
    for job in report.jobs:
        if job.host != host:
            continue
        entry = by_doc.setdefault(job.document, {}).setdefault(key(job), {})
        for direction in _DIRECTIONS:
            d = job.directions.get(direction)
            if d is None:
                continue
            ops, nbytes, runtime_ms, bins = entry.get(direction, (0, 0, 0, {}))
            bins = dict(bins)
            for v, c in d.bins_ns.items():
                bins[v] = bins.get(v, 0) + c
            entry[direction] = (ops + d.ops, nbytes + d.bytes, max(runtime_ms, round(d.runtime_s * 1000)), bins)
    return [(report.document_times_ms[n], by_doc[n]) for n in sorted(by_doc)
            if report.document_times_ms[n] is not None]


def has_io(shot: tuple) -> bool:
    """Whether a snapshot shows any I/O (operations or run time): fio may report before the first I/O."""
    return any(d[0] or d[2] for job in shot[1].values() for d in job.values())


def start_ms(first: tuple) -> int:
    """The time (ms since the epoch) the case's I/O began: the first snapshot's time less the longest run
    time of a direction in it (fio's first status report comes some way into the first phase)."""
    time_ms, jobs = first
    ran = [d[2] for job in jobs.values() for d in job.values()]
    return time_ms - max(ran, default=0)


def diff_rows(before: Optional[tuple], after: tuple, t0_ms: int, indexes: dict) -> list:
    """The rows of the interval between two snapshots (`before` None: from the start of the case). `indexes`
    ({(phase, direction): next index}) numbers each phase's rows and is updated. CaseError when a counter went
    backwards: the reports do not belong to one run, and no figure from them can be trusted."""
    t_start = (before[0] if before is not None else t0_ms)
    t_end = after[0]
    rows = []
    for phase, dirs in after[1].items():
        for direction, (ops, nbytes, runtime_ms, bins) in dirs.items():
            ops0, bytes0, runtime0, bins0 = (0, 0, 0, {})
            if before is not None and direction in before[1].get(phase, {}):
                ops0, bytes0, runtime0, bins0 = before[1][phase][direction]
            if ops < ops0 or nbytes < bytes0:
                raise CaseError(f"fio status reports go backwards for {phase} {direction} "
                                f"({ops0} then {ops} operations): they are not one run's reports")
            ran_ms = runtime_ms - runtime0 if runtime_ms >= runtime0 else runtime_ms
            if ops == ops0 and ran_ms <= 0:
                continue
            delta = {int(v): int(c) - int(bins0.get(v, 0)) for v, c in bins.items()}
            wall_s = max(t_end - t_start, 0) / 1000.0
            key = (phase, direction)
            rows.append({"phase": phase, "index": indexes.get(key, 0), "direction": direction,
                         "t_start_s": (t_start - t0_ms) / 1000.0, "t_end_s": (t_end - t0_ms) / 1000.0,
                         "active_s": ran_ms / 1000.0 if ran_ms > 0 else wall_s,
                         "ops": ops - ops0, "bytes": nbytes - bytes0,
                         # fio updates a histogram and its count at slightly different moments: a bin that
                         # reads a little lower in a later report is counted 0 here, not negative
                         "bins": {v: c for v, c in delta.items() if c > 0}})
            indexes[key] = indexes.get(key, 0) + 1
    return rows


def interval_rows(report: FioReport, host: Optional[str] = None, key: Optional[Callable] = None) -> list:
    """Every interval row of a report written with --status-interval (module docstring), in time order; key
    as for snapshots. An output with one document (no status reports) gives one interval per phase and
    direction: the whole run."""
    shots = snapshots(report, host, key)
    while shots and not has_io(shots[0]):
        shots = shots[1:]
    if not shots:
        return []
    t0 = start_ms(shots[0])
    rows, indexes, before = [], {}, None
    for shot in shots:
        rows.extend(diff_rows(before, shot, t0, indexes))
        before = shot
    return rows
