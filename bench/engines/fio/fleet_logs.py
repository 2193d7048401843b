"""Figures over time of a fleet case (fio client/server): from fio's per-I/O completion-latency logs, which
each server ships back to the client when its job ends.

Why not the local path (bench.engines.fio.intervals, differences of `--status-interval` reports): fio 3.33 in
client mode writes only the final report to `--output` (and to stdout), whatever --status-interval says.
Why not fio's averaged logs: with `log_avg_msec=N` the IOPS and bandwidth logs drop the last, partial window of
every job (seen with fio 3.33: a 4 s run with N=1000 logged the windows ending at 1, 2 and 3 s, so a quarter of
the operations were in no window), and the histogram log (`log_hist_msec`) also stops one window short and its
counts did not add up to the IOPS log's. So each job section gets
`write_lat_log=<prefix>`, `log_avg_msec=0` (one line per I/O) and `log_unix_epoch=1` (times in ms since the
epoch, so that the clones and phases of one host share one clock): the client writes
`<prefix>_clat.<job number>.log.<host address>` into its working directory, one line
"time ms, completion latency ns, direction (0 read, 1 write, 2 trim), block size, offset" per completed I/O
(seen with fio 3.33: the lines of every job added up to its `total_ios` exactly, on two servers at once).
The prefix names the host and the section, so two servers on one address never share a log file.

Cost: fio keeps each log in the server's memory until the job ends, about 2 x 40 bytes per I/O (fio writes the
total-latency log beside the completion-latency one), and the client receives about 2 x 30 bytes per I/O.

Rows (those of bench.engines.fio.intervals, so bench.analysis.intervals turns them into figures): per host,
t = 0 is the issue time of the host's first I/O (its completion time less its latency); interval k spans
[k, k+1) x interval_s, cut to the phase's own span (from its first I/O's issue to its last completion), and
active_s is that cut length. Every interval of a phase's span gets a row for each direction the phase used:
an interval in which it completed nothing is a row with 0 operations (a stall), not a gap.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path
from typing import Callable

from bench.core.errors import CaseError

__all__ = ["with_interval_logs", "host_rows", "log_prefix"]

_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*$")
_DIRECTIONS = {0: "read", 1: "write"}     # trims (2) are counted in neither direction's total
MAX_LOG_BYTES = 4 * 1024 ** 3     # per job section: about 130 million I/Os, more than a fleet case should log


def log_prefix(host_number: int, section_number: int) -> str:
    return f"tbh{host_number}s{section_number}"


def with_interval_logs(text: str, host_number: int) -> tuple:
    """(the job file text with the per-I/O log options added at the end of every job section, {log prefix:
    section name}). The options come last in their section, so they hold over the file's own."""
    lines = text.splitlines()
    out, prefixes, current = [], {}, None

    def close():
        if current is not None and current.lower() != "global":
            prefix = log_prefix(host_number, len(prefixes))
            prefixes[prefix] = current
            out.extend([f"write_lat_log={prefix}", "log_avg_msec=0", "log_unix_epoch=1"])

    for line in lines:
        match = _SECTION.match(line)
        if match:
            close()
            current = match.group(1).strip()
        out.append(line)
    close()
    return "\n".join(out) + "\n", prefixes


def _samples(folder: Path, prefix: str, section: str):
    """(completion time ms, latency ns, direction, bytes) of every line of a prefix's completion-latency logs;
    CaseError for a line that is not fio's, or logs too large to be read."""
    files = sorted(folder.glob(f"{prefix}_clat.*.log*"))
    if sum(f.stat().st_size for f in files) > MAX_LOG_BYTES:
        raise CaseError(f"fio's completion-latency logs of job {section} hold more than {MAX_LOG_BYTES >> 30} GiB: "
                        "too many I/Os for per-interval figures on a fleet")
    for path in files:
        with open(path, errors="replace") as f:
            for number, line in enumerate(f, 1):
                fields = line.split(",")
                try:
                    yield int(fields[0]), int(fields[1]), int(fields[2]), int(fields[3])
                except (ValueError, IndexError):
                    raise CaseError(f"{path.name} line {number} is not a fio log line: {line.strip()[:80]!r}") \
                        from None


def host_rows(folder: Path, prefixes: dict, interval_s: float,
              phase_of: Callable[[str], str] = lambda name: name) -> list:
    """The interval rows (module docstring) of one host from its logs in `folder` ({log prefix: section name},
    with_interval_logs); phase_of(section name) names the phase a section's I/O belongs to (the sections of
    one reporting group share it). Two passes over the logs (the spans, then the intervals), so that memory
    holds counters, not samples."""
    spans: dict = {}
    for prefix, section in prefixes.items():
        phase = phase_of(section)
        for t, lat, _, _ in _samples(folder, prefix, section):
            low, high = spans.get(phase, (math.inf, -math.inf))
            spans[phase] = (min(low, t - lat / 1e6), max(high, t))
    if not spans:
        return []
    t0 = min(low for low, _ in spans.values())
    step = interval_s * 1000.0
    windows = {phase: (low - t0, high - t0, int((low - t0) // step), max(int(math.ceil((high - t0) / step)) - 1,
                                                                           int((low - t0) // step)))
               for phase, (low, high) in spans.items()}
    counts: dict = {}
    for prefix, section in prefixes.items():
        phase = phase_of(section)
        first, last = windows[phase][2:]
        for t, lat, direction, nbytes in _samples(folder, prefix, section):
            if direction not in _DIRECTIONS:
                continue
            k = min(max(int((t - t0) // step), first), last)
            cell = counts.setdefault((phase, _DIRECTIONS[direction]), {}).setdefault(k, [0, 0, Counter()])
            cell[0] += 1
            cell[1] += nbytes
            cell[2][lat] += 1
    out = []
    for (phase, direction), cells in counts.items():
        start, end, first, last = windows[phase]
        for index, k in enumerate(range(first, last + 1)):
            ops, nbytes, bins = cells.get(k, (0, 0, {}))
            t_start, t_end = max(k * step, start), min((k + 1) * step, end)
            out.append({"phase": phase, "index": index, "direction": direction, "t_start_s": t_start / 1000.0,
                        "t_end_s": t_end / 1000.0, "active_s": max(t_end - t_start, 0.0) / 1000.0,
                        "ops": ops, "bytes": nbytes, "bins": dict(bins)})
    return sorted(out, key=lambda r: (r["t_start_s"], r["phase"], r["direction"]))
