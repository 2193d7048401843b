"""What the runner tells a view while a run goes, and the clock a view reads its ETA from.

The runner calls a RunView: `running(cases)` around the cases it runs now (a scenario calls the runner once per
stage, so the total grows), `case_started(case)`, `interval(case, figure)` for each interval figure the case's
worker reports while it runs (bench.analysis.intervals: iops, bytes_per_s, lat_p99_us, t_end_s, ...), and
`case_ended(case, documents)`. The views people see (the live panel, a line per interval) are in
bench.reporting.live; here are the silent one, a plain progress bar, and the reader of a case's live file.
"""
from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Optional

import workloads

__all__ = ["RunView", "ProgressView", "RunClock", "LiveFile", "expected_seconds"]


class RunView:
    """A view that shows nothing (tests, --json without a terminal)."""

    @contextlib.contextmanager
    def running(self, cases: list):
        yield self

    def case_started(self, case) -> None:
        pass

    def interval(self, case, figure: dict) -> None:
        pass

    def case_ended(self, case, documents: list) -> None:
        pass


class ProgressView(RunView):
    """A rich progress bar on stderr: the running case and how many are done (no figures)."""

    @contextlib.contextmanager
    def running(self, cases: list):
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from bench.core.output import stderr_console

        columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                   TimeElapsedColumn()]
        with Progress(*columns, transient=True, console=stderr_console) as bar:
            self._bar, self._task = bar, bar.add_task("starting", total=len(cases))
            yield self

    def case_started(self, case) -> None:
        self._bar.update(self._task, description=f"{case.workload} on {case.tier} ({case.engine})")

    def case_ended(self, case, documents: list) -> None:
        self._bar.advance(self._task)


def expected_seconds(case) -> Optional[float]:
    """How long a case's I/O runs when the pattern says so (every phase time-based: their runtimes summed,
    steady-state rounds at most their limit); None when it depends on the tier's speed (size-based phases, jobs)."""
    if case.kind != "pattern" or (case.label and ("steady-state" in case.label or "preconditioned" in case.label)):
        return None     # rounds stop when steady; preconditioning takes what the tier's speed says
    workload = workloads.get(case.workload)
    pattern = workload.build(workloads.coerce_params(workload, case.params))
    runtimes = [p.runtime_s for p in pattern.phases]
    if any(r is None for r in runtimes):
        return None
    return float(sum(runtimes))


class RunClock:
    """Elapsed time and an ETA for a whole run. A case's expected length is its pattern's runtime where the
    pattern fixes one (expected_seconds), else the mean wall time of the cases done so far; the ETA is what
    remains of the running case plus the expected length of every case not started (None while nothing says
    how long an unknown case takes)."""

    def __init__(self, now=time.monotonic):
        self.now = now
        self.started = now()
        self.pending: list = []          # cases not started, in order
        self.done_walls: list = []
        self.case_started_at: Optional[float] = None
        self.case_expected: Optional[float] = None

    def add(self, cases: list) -> None:
        self.pending.extend(cases)

    def start(self, case) -> None:
        if case in self.pending:
            self.pending.remove(case)
        self.case_started_at = self.now()
        self.case_expected = expected_seconds(case)

    def end(self) -> None:
        if self.case_started_at is not None:
            self.done_walls.append(self.now() - self.case_started_at)
        self.case_started_at = None

    def case_elapsed(self) -> Optional[float]:
        return None if self.case_started_at is None else self.now() - self.case_started_at

    def eta(self) -> Optional[float]:
        mean = sum(self.done_walls) / len(self.done_walls) if self.done_walls else None
        total = 0.0
        for case in self.pending:
            expected = expected_seconds(case)
            if expected is None:
                expected = mean
            if expected is None:
                return None
            total += expected
        if self.case_started_at is not None:
            expected = self.case_expected if self.case_expected is not None else mean
            if expected is None:
                return None
            total += max(expected - self.case_elapsed(), 0.0)
        return total


class LiveFile:
    """The interval figures a case's worker appends to its live file (one JSON object a line), read as they
    come: read_new() returns the complete lines written since the last call."""

    def __init__(self, path):
        self.path = Path(path)
        self.offset = 0
        self.partial = b""

    def read_new(self) -> list:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        out = []
        for line in lines:
            try:
                fig = json.loads(line)
            except ValueError:
                continue      # shown only: the stored intervals come from the worker's result
            if isinstance(fig, dict):
                out.append(fig)
        return out
