"""Bottleneck verdicts: is a case (or phase) limited by the CPUs or by I/O?

The rule, on figures measured for the case's own processes:
    cpu_frac = CPU seconds used by the case's processes / (wall seconds x usable cores),
    usable cores = min(threads the engine ran, CPUs of the machine).
    cpu_frac >= 0.75  → "cpu"    (its threads were on a CPU three quarters of the time or more)
    cpu_frac <= 0.35  → "io"     (its threads spent most of the time waiting — on the device)
    otherwise         → "mixed"
    no CPU or wall figure → "unknown".
A case's verdict also knows when its threads waited for a CPU (run-queue delay, bench.execution.runqueue):
    wait_frac = seconds the case's threads waited runnable for a CPU / (seconds watched x usable cores)
    cpu_frac < 0.75 but cpu_frac + wait_frac >= 0.75  → "cpu-starved"
(its threads wanted a CPU three quarters of the time or more and other work held it: a CPU-bound case on a busy
machine, never an I/O-bound one). A phase keeps the plain rule (its wait is not measured per phase).
The device's busy share (from the monitor) is reported next to the verdict as evidence but does not
decide it: throttled or remote devices wait without looking busy.
"""
from __future__ import annotations

import os
from typing import Optional

CPU_BOUND = 0.75
IO_BOUND = 0.35


def cpu_fraction(cpu_s: Optional[float], wall_s: Optional[float], threads: int,
                 cpus: Optional[int] = None) -> Optional[float]:
    if cpu_s is None or not wall_s or wall_s <= 0:
        return None
    usable = max(1, min(int(threads or 1), cpus or os.cpu_count() or 1))
    return cpu_s / (wall_s * usable)


def bottleneck(cpu_s: Optional[float], wall_s: Optional[float], threads: int,
               cpus: Optional[int] = None) -> str:
    frac = cpu_fraction(cpu_s, wall_s, threads, cpus)
    if frac is None:
        return "unknown"
    if frac >= CPU_BOUND:
        return "cpu"
    if frac <= IO_BOUND:
        return "io"
    return "mixed"


def case_bottleneck(cpu_s: Optional[float], wall_s: Optional[float], threads: int, wait_s: Optional[float],
                    wait_window_s: Optional[float], cpus: Optional[int] = None) -> str:
    """The case's verdict: the plain rule, or "cpu-starved" when the CPU share and the run-queue wait share
    together reach CPU_BOUND (see the module docstring). `wait_s` was measured over `wait_window_s` (the engine
    call, bench.execution.runqueue), so its share is taken over that window. Without a wait figure, the plain
    rule."""
    plain = bottleneck(cpu_s, wall_s, threads, cpus)
    if plain in ("cpu", "unknown") or wait_s is None or not wait_window_s:
        return plain
    frac = cpu_fraction(cpu_s, wall_s, threads, cpus)
    wait = cpu_fraction(wait_s, wait_window_s, threads, cpus)
    return "cpu-starved" if frac + wait >= CPU_BOUND else plain
