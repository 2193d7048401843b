"""What else the machine was doing while a case ran: load, CPU steal, and the CPU used by others.

A figure measured while other work held the CPUs is a figure of that moment, not of the machine: a CI runner
shares its host, a laptop runs a browser. Every local case records (`contention` in its document):

    load_start, load_end    the 1, 5 and 15 minute load averages when the case started and ended
    case_cpu_s              CPU seconds of the case's own processes (the worker and everything it waited for,
                            from getrusage(RUSAGE_CHILDREN); a Spark cluster's JVMs from their own count)
    machine_cpu_s           CPU seconds all CPUs were busy (user, nice, system, irq, softirq; /proc/stat)
    other_cpu_cores         (machine_cpu_s - case_cpu_s) / wall: how many cores other work kept busy on average;
                            this includes kernel threads working for the case itself (loop devices' workers,
                            softirqs), which is why the rule leaves a margin
    free_cores              CPUs the case left to others: cpus - min(threads it ran, cpus)
    steal_share             CPU time the hypervisor gave to other guests, as a share of all CPUs' time
    cpu_pressure_share      share of the wall time some runnable task waited for a CPU (/proc/pressure/cpu
                            "some"; absent where the kernel has no PSI)

and is `contended` when:

    steal_share > 0.10                                          the host's other guests took a tenth of the CPUs
    or other_cpu_cores > free_cores + 0.5                       others used more than the cores the case left free
    or other_cpu_cores > 0.75 and cpu_pressure_share > 0.25     others ran while tasks queued for a CPU

Why these numbers: a case's own kernel work (a loop device's workers, softirqs at high IOPS) counts as other
work here, so "other" is never exactly zero even on an idle machine, hence the half-core margin. One CPU hog
beside a one-thread case on two cores leaves it its core (other = 1, free = 1: not contended); two hogs do not
(other above 1.3 cores, with tasks always queued for a CPU). `reason` names the condition that held; compare
shows contended cases and `compare --strict` treats them as inconclusive.
"""
from __future__ import annotations

import os
import resource
import time
from typing import Optional

__all__ = ["ContentionProbe", "STEAL_SHARE", "OTHER_MARGIN_CORES", "OTHER_CORES", "PRESSURE_SHARE"]

STEAL_SHARE = 0.10
OTHER_MARGIN_CORES = 0.5
OTHER_CORES = 0.75
PRESSURE_SHARE = 0.25
_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_times() -> Optional[tuple]:
    """(busy seconds, steal seconds) over all CPUs since boot, from the `cpu` line of /proc/stat."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    v = [int(x) for x in fields[1:]] + [0] * 10
    user, nice, system, _idle, _iowait, irq, softirq, steal = v[:8]
    return (user + nice + system + irq + softirq) / _TICK, steal / _TICK


def _cpu_pressure_us() -> Optional[int]:
    """Total microseconds some task waited for a CPU (/proc/pressure/cpu), or None without PSI."""
    try:
        with open("/proc/pressure/cpu") as f:
            for line in f:
                if line.startswith("some "):
                    return int(line.rsplit("total=", 1)[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _load() -> Optional[list]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


class ContentionProbe:
    """Start before the case's worker is spawned, `finish` after it has been waited for."""

    def __init__(self):
        self.t0 = time.monotonic()
        self.load_start = _load()
        self.cpu0 = _cpu_times()
        self.children0 = _children_cpu_s()
        self.pressure0 = _cpu_pressure_us()

    def finish(self, threads: Optional[int], extra_case_cpu_s: float = 0.0, cpus: Optional[int] = None) -> dict:
        """The contention record of the case (see the module docstring). `threads`: how many threads the case
        ran (None: 1); `extra_case_cpu_s`: CPU seconds of the case's processes that were not its children
        (a Spark cluster's JVMs)."""
        wall = time.monotonic() - self.t0
        cpus = cpus or os.cpu_count() or 1
        cpu1, pressure1 = _cpu_times(), _cpu_pressure_us()
        case_cpu = _children_cpu_s() - self.children0 + (extra_case_cpu_s or 0.0)
        out = {"wall_s": round(wall, 3), "cpus": cpus, "load_start": self.load_start, "load_end": _load(),
               "case_cpu_s": round(case_cpu, 3), "machine_cpu_s": None, "other_cpu_cores": None,
               "free_cores": None, "steal_share": None, "cpu_pressure_share": None,
               "contended": None, "reason": None}
        if self.cpu0 is None or cpu1 is None or wall <= 0:
            out["reason"] = "not measured: /proc/stat unreadable"
            return out
        busy = cpu1[0] - self.cpu0[0]
        steal = cpu1[1] - self.cpu0[1]
        usable = min(max(int(threads or 1), 1), cpus)
        other = max(0.0, busy - case_cpu) / wall
        out.update(machine_cpu_s=round(busy, 3), other_cpu_cores=round(other, 3), free_cores=cpus - usable,
                   steal_share=round(max(0.0, steal) / (wall * cpus), 4))
        if self.pressure0 is not None and pressure1 is not None:
            out["cpu_pressure_share"] = round(min(1.0, max(0, pressure1 - self.pressure0) / 1e6 / wall), 4)
        reasons = []
        if out["steal_share"] > STEAL_SHARE:
            reasons.append(f"CPU steal {out['steal_share']:.0%} of the CPUs' time (> {STEAL_SHARE:.0%})")
        if other > out["free_cores"] + OTHER_MARGIN_CORES:
            reasons.append(f"other work used {other:.2f} cores, more than the {out['free_cores']} the case left "
                           f"free (+{OTHER_MARGIN_CORES})")
        elif other > OTHER_CORES and (out["cpu_pressure_share"] or 0) > PRESSURE_SHARE:
            reasons.append(f"other work used {other:.2f} cores while tasks waited for a CPU "
                           f"{out['cpu_pressure_share']:.0%} of the time")
        out["contended"] = bool(reasons)
        out["reason"] = "; ".join(reasons) or None
        return out
