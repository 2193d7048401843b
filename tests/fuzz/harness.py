"""Calling the CLI in-process for the fuzz and bad-input tests, and the property every answer must have.

`invoke(argv)` runs `bench.cli.main(argv)` in this process (a subprocess per example would cost ~0.5 s each),
captures stdout and stderr, turns SystemExit into its code, and classifies what happened: an exit code, a
"traceback" (an exception escaped main: the user would have seen a Python traceback) or a "hang" (the call ran
longer than its time limit, stopped by SIGALRM).

`NoRun`: while active, `tierbench run` stops where the runner would start measuring (the plan is built and
every input checked, the run folder not yet made): an accepted input ends with answer "would-run" and the
planned cases, so fuzzing valid values never starts fio. It replaces the Runner, which measures nothing
before `run(cases)`.
"""
from __future__ import annotations

import contextlib
import io
import os
import signal
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from bench import cli


def fuzz_settings(max_examples: int):
    """Hypothesis settings for a fuzz test: no per-example deadline (a CLI call takes ms to a second), and
    `max_examples` times $TIERBENCH_FUZZ_SCALE (default 1: the whole suite in about 30 s; 10 for a deep search)."""
    from hypothesis import HealthCheck, settings

    scale = float(os.environ.get("TIERBENCH_FUZZ_SCALE", "1"))
    return settings(max_examples=max(1, int(max_examples * scale)), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


class _Hang(BaseException):
    """Raised by SIGALRM in the call that ran too long (BaseException: nothing in main catches it)."""


class WouldRun(BaseException):
    """The plan passed every check and the runner was about to measure `cases`."""

    def __init__(self, cases, options):
        super().__init__(f"would run {len(cases)} cases")
        self.cases, self.options = cases, options


@dataclass
class Answer:
    code: Optional[int]          # exit code; None for a traceback, a hang or would-run
    stdout: str
    stderr: str
    kind: str                    # "exit", "traceback", "hang", "would-run"
    detail: str = ""             # the traceback, for the assertion message
    cases: list = field(default_factory=list)
    options: dict = field(default_factory=dict)   # would-run: what the runner was given (timeout_s, ...)

    @property
    def one_line(self) -> bool:
        """stderr is exactly one line (ending in a newline), with no traceback."""
        return (self.stderr.endswith("\n") and self.stderr.count("\n") == 1 and "\r" not in self.stderr
                and "Traceback" not in self.stderr)

    def describe(self) -> str:
        return (f"kind={self.kind} code={self.code}\nstderr: {self.stderr[-2000:]!r}\n"
                f"stdout: {self.stdout[-500:]!r}\n{self.detail[-4000:]}")


def invoke(argv: list, timeout_s: float = 30.0) -> Answer:
    """`tierbench ARGV` in this process; never raises (what escaped main is in the answer)."""
    out, err = io.StringIO(), io.StringIO()

    def alarm(signum, frame):
        raise _Hang()

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main([str(a) for a in argv])
            except SystemExit as e:      # argparse's --help / --version
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        return Answer(code, out.getvalue(), err.getvalue(), "exit")
    except _Hang:
        return Answer(None, out.getvalue(), err.getvalue(), "hang", f"still running after {timeout_s} s")
    except WouldRun as e:
        return Answer(None, out.getvalue(), err.getvalue(), "would-run", cases=e.cases, options=e.options)
    except BaseException:   # noqa: B036 - what a user would see as a traceback is the finding
        return Answer(None, out.getvalue(), err.getvalue(), "traceback", traceback.format_exc())
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _StoppingRunner:
    """Stands in for bench.execution.runner.Runner: what `run` prints before measuring needs run_id and folder."""

    def __init__(self, store, tiers, **kwargs):
        self.run_id, self.folder = "not-created", None
        self.options = dict(kwargs, tiers=tiers)

    def run(self, cases):
        raise WouldRun(list(cases), self.options)


@contextlib.contextmanager
def no_run(monkeypatch):
    """While active, `tierbench run` answers "would-run" instead of measuring (see the module docstring)."""
    import bench.commands.run as run_command

    with monkeypatch.context() as m:
        m.setattr(run_command, "Runner", _StoppingRunner)
        yield


def run_folders(store: Path) -> set:
    """The run folders in a store (hidden temporary folders included: they are stored bytes too)."""
    store = Path(store)
    return {p.name for p in store.iterdir() if p.is_dir()} if store.is_dir() else set()


def assert_refused_or_ok(answer: Answer, store: Path, before: set, *, allow_ok=True) -> None:
    """The property: exit 2 with one line on stderr and nothing stored, or (allow_ok) a correct answer
    (exit 0/1 or would-run); never a traceback, never a hang."""
    assert answer.kind not in ("traceback", "hang"), answer.describe()
    if answer.kind == "exit" and answer.code == 2:
        assert answer.one_line, answer.describe()
        assert answer.stderr.startswith("tierbench: error: "), answer.describe()
        assert run_folders(store) == before, f"a refused input stored something: {answer.describe()}"
        return
    assert allow_ok, f"expected a refusal (exit 2): {answer.describe()}"
    assert answer.kind == "would-run" or answer.code in (0, 1), answer.describe()
    assert "Traceback" not in answer.stderr, answer.describe()
