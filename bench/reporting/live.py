"""The run as it goes, on stderr: a live panel (rich Live) on a terminal, else one line per interval.

Both show, for the running case, its latest interval's IOPS, MB/s (10^6 bytes per second) and p99 latency
per direction, the case's elapsed time over its expected length (bench.execution.view.expected_seconds;
"?" when the tier's speed decides it) and the ETA of the whole run (bench.execution.view.RunClock). The
figures are the worker's interval figures as it reports them (bench.analysis.intervals); the stored ones
come from the case's result. `make_view` picks the view for a command.
"""
from __future__ import annotations

import contextlib
import sys
from typing import Optional

from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from bench.core.output import fmt_number, stderr_console
from bench.execution.view import RunClock, RunView

__all__ = ["LiveView", "LineView", "make_view", "clock_text"]

REFRESH_PER_S = 4


def make_view(no_live: bool = False) -> RunView:
    """The live panel when stderr is a terminal and --no-live is not given, else a line per interval."""
    if not no_live and sys.stderr.isatty():
        return LiveView()
    return LineView()


def _duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def clock_text(clock: RunClock) -> str:
    """'case 0:12/1:00' when a case runs, and the run's elapsed time and ETA."""
    parts = []
    if clock.case_started_at is not None:
        parts.append(f"case {_duration(clock.case_elapsed())}/{_duration(clock.case_expected)}")
    parts.append(f"run {_duration(clock.now() - clock.started)}, ETA {_duration(clock.eta())}")
    return " · ".join(parts)


def _case_name(case) -> str:
    name = f"{case.workload} on {case.tier} ({case.engine})"
    return name + (f" #{case.repeat}" if case.repeat else "")


def _mb(value) -> str:
    return fmt_number(None if value is None else value / 1e6)


class _Counting(RunView):
    def __init__(self):
        self.clock = RunClock()
        self.total = 0
        self.done = 0
        self.current = None
        self.latest: dict = {}     # direction -> the latest figure of the running case

    def _begin(self, cases: list) -> None:
        self.total += len(cases)
        self.clock.add(list(cases))

    def case_started(self, case) -> None:
        self.current, self.latest = case, {}
        self.clock.start(case)

    def interval(self, case, figure: dict) -> None:
        self.latest[figure.get("direction")] = figure

    def case_ended(self, case, documents: list) -> None:
        self.done += 1
        self.clock.end()
        self.current = None


class LineView(_Counting):
    """One line per interval on stderr (a pipe, a log, --no-live), and one when a case ends."""

    def __init__(self, console=None):
        super().__init__()
        self.console = console or stderr_console

    @contextlib.contextmanager
    def running(self, cases: list):
        self._begin(cases)
        yield self

    def interval(self, case, figure: dict) -> None:
        super().interval(case, figure)
        lat = figure.get("lat_p99_us")
        self.console.print(
            f"[{self.done + 1}/{self.total}] {_case_name(case)} {figure.get('phase')} {figure.get('direction')} "
            f"t={figure.get('t_end_s', 0):.1f}s IOPS {fmt_number(figure.get('iops'))} "
            f"MB/s {_mb(figure.get('bytes_per_s'))} p99 {fmt_number(lat)} us | {clock_text(self.clock)}",
            markup=False, highlight=False, soft_wrap=True)

    def case_ended(self, case, documents: list) -> None:
        errors = [d["error"] for d in documents if d.get("error")]
        self.console.print(f"[{self.done + 1}/{self.total}] {_case_name(case)} "
                           + (f"failed: {errors[0]}" if errors else "done"),
                           markup=False, highlight=False, soft_wrap=True)
        super().case_ended(case, documents)


class LiveView(_Counting):
    """A panel redrawn in place on a terminal: the running case's latest figures per direction, its elapsed
    time over its expected length, cases done, and the run's ETA."""

    def __init__(self, console=None):
        super().__init__()
        self.console = console or stderr_console
        self.finished: list = []    # (case name, status) of the cases done, the last few shown

    @contextlib.contextmanager
    def running(self, cases: list):
        self._begin(cases)
        with Live(get_renderable=self.render, console=self.console, refresh_per_second=REFRESH_PER_S,
                  transient=False, redirect_stderr=False, redirect_stdout=False):
            yield self

    def case_ended(self, case, documents: list) -> None:
        errors = [d["error"] for d in documents if d.get("error")]
        self.finished.append((_case_name(case), f"failed: {errors[0]}" if errors else "done"))
        super().case_ended(case, documents)

    def render(self):
        table = Table(title=None, box=None, pad_edge=False, show_edge=False)
        for column, justify in (("case", "left"), ("phase", "left"), ("dir", "left"), ("IOPS", "right"),
                                ("MB/s", "right"), ("p99 us", "right"), ("t s", "right")):
            table.add_column(column, justify=justify)
        for name, status in self.finished[-3:]:
            table.add_row(Text(name, style="dim"), Text(status, style="dim"), "", "", "", "", "")
        if self.current is not None:
            rows = [self.latest[d] for d in ("read", "write") if d in self.latest]
            # a direction whose phase has ended (a write phase, then a read phase) is not shown as current
            newest = max((f.get("t_end_s") or 0 for f in rows), default=0)
            rows = [f for f in rows if (f.get("t_end_s") or 0) >= newest - 2 * ((f.get("t_end_s") or 0)
                                                                                   - (f.get("t_start_s") or 0))]
            if not rows:
                table.add_row(_case_name(self.current), "starting", "", "", "", "", "")
            for fig in rows:
                table.add_row(_case_name(self.current), str(fig.get("phase")), str(fig.get("direction")),
                              fmt_number(fig.get("iops")), _mb(fig.get("bytes_per_s")),
                              fmt_number(fig.get("lat_p99_us")), f"{fig.get('t_end_s', 0):.1f}")
        header = Text(f"[{min(self.done + 1, self.total)}/{self.total}] {clock_text(self.clock)}",
                      style="bold")
        return Group(header, table)
