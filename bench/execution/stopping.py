"""A run being stopped: from the first Ctrl-C/SIGTERM on, further ones never cut the saving short.

Without this, a second Ctrl-C 0.3-0.8 s after the first landed while the runner stopped its worker and saved
the document, and the run was stored `failed` with `cases: []` although raw/case000.result.json held a finished
case. From `begin()` on (for the rest of the process: the run is being saved, then the command exits), SIGINT and
SIGTERM no longer raise; each one SIGKILLs the running worker's process group at once instead of waiting for it,
so that repeated Ctrl-C still means "faster".
"""
from __future__ import annotations

import os
import signal
import sys
from typing import Callable

__all__ = ["begin", "begun"]

_CURRENT: list = []     # a callable giving the running worker's Popen (or None), once begin() was called


def begin(worker: Callable) -> None:
    """The run is stopping: `worker()` gives the worker process still running (a Popen, or None)."""
    _CURRENT[:] = [worker]
    signal.signal(signal.SIGINT, _hurry)
    signal.signal(signal.SIGTERM, _hurry)


def begun() -> bool:
    return bool(_CURRENT)


def _hurry(signum, frame) -> None:
    for worker in _CURRENT:
        proc = worker()
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass    # it exited between poll() and killpg(): nothing left to hurry
    sys.stderr.write("tierbench: stopping: saving the measured cases\n")
