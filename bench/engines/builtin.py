"""The builtin engine: runs a pattern with kernels.ioloop (Cython, GIL released), no fio needed.

Same semantics as the fio job file: files `<fileset>.<job>.<file>` in the phase's role directory; files a
phase reads (or rewrites at random) are laid out first when no earlier phase wrote them, all at once and left
cached, as the fio engine does (bench.engines.layout says why), and cold phases drop the files' pages (fsync +
POSIX_FADV_DONTNEED) right before the phase so reads reach the device. Each phase record carries `cpu_s`, the
process's user + system seconds over the phase's timed part (its threads' I/O and checksum work, not the setup
of buffers and files), the scope of fio's accounting of its jobs.

Checksums (Phase.checksum_chunk): ioloop computes a CRC32C per chunk of every buffer and checks it against the
CRC the chunk was written with. What an ioloop write leaves is defined by its seed and block size, so the
engine remembers, per fileset, the (seed, bs) of the layout or whole sequential write phase that last wrote it
and hands them to a verifying read; a read of a fileset last written otherwise (random or time-based writes
leave a mix) cannot be verified: the engine raises ValueError before that phase runs.
"""
from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Callable, Optional

from bench.core.pagecache import drop_cache
from bench.core.pattern import Pattern, Phase
from bench.engines.layout import check_space, layout_bs, needs_layout, phase_files


def _ioloop():
    # Imported here so that the fio engine never needs the compiled kernels; a missing build is an error.
    from kernels import ioloop
    return ioloop


def _written_by(phase: Phase, index: int, seed: int):
    """(seed, bs) of what `phase` leaves in its whole fileset when it writes it all, sequentially; None when
    its writes leave no single writer (random blocks, time-based, mixed)."""
    if phase.rw == "write" and phase.runtime_s is None:
        return seed + index, phase.bs
    return None


def _verify_args(phase: Phase, writer) -> dict:
    if not (phase.checksum_chunk and phase.reads):
        return {}
    if writer is None:
        raise ValueError(f"phase {phase.name}: cannot verify the checksums of fileset {phase.fileset}: no whole "
                         "sequential write of this run left its content (random, time-based or mixed writes do not)")
    written_seed, written_bs = writer
    if written_bs % phase.checksum_chunk:
        raise ValueError(f"phase {phase.name}: fileset {phase.fileset} was written in blocks of {written_bs} "
                         f"bytes, not a whole number of {phase.checksum_chunk}-byte checksum chunks")
    return {"written_seed": written_seed, "written_bs": written_bs}


def _record(phase: Phase, tier, result: dict, ioloop) -> dict:
    rec = {"name": phase.name, "tier": tier, "role": phase.role, "wall_s": result["elapsed_s"],
           "ops_read": int(result["read"]["ops"]), "ops_written": int(result["write"]["ops"]),
           "bytes_read": int(result["read"]["bytes"]), "bytes_written": int(result["write"]["bytes"])}
    if phase.checksum_chunk:
        rec["checksums"] = int(result["checksums"])
    for direction, key in (("read", "bins_read"), ("write", "bins_write")):
        if result[direction]["ops"]:
            rec[key] = ioloop.hist_to_bins(result[direction]["hist"])
    return rec


def _interval_rows(phase: Phase, first: int, counts, interval_s: float, offset_s: float,
                   elapsed_s: Optional[float], ioloop) -> list:
    """Interval rows (the shape of bench.engines.fio.intervals) of a phase's interval counts (kernels.ioloop:
    rows `first`.. of (2, 2 + PLAT_NR) counts), for the directions the phase does. Times are seconds from the
    start of the pattern's first phase (`offset_s`: this phase's start); with `elapsed_s` (the phase has
    ended) every interval up to its end gets a row, zeros where nothing completed, and the last one ends with
    the phase."""
    n = len(counts)
    if elapsed_s is not None:
        n = max(n, math.ceil(elapsed_s / interval_s - 1e-9))
    rows = []
    for k in range(n):
        start = k * interval_s
        end = start + interval_s if elapsed_s is None else min(start + interval_s, max(elapsed_s, start))
        for d, direction in ((0, "read"), (1, "write")):
            if not (phase.reads if d == 0 else phase.writes):
                continue
            c = counts[k][d] if k < len(counts) else None
            ops = int(c[0]) if c is not None else 0
            rows.append({"phase": phase.name, "index": first + k, "direction": direction,
                         "t_start_s": offset_s + start, "t_end_s": offset_s + end,
                         "active_s": end - start if end > start else interval_s,
                         "ops": ops, "bytes": int(c[1]) if c is not None else 0,
                         "bins": ioloop.hist_to_bins(c[2:]) if ops else {}})
    return rows


def run(pattern: Pattern, dirs: dict, tiers_by_role: dict, raw_dir: Path, stem: str, timeout_s: float,
        seed: int = 0, interval_s: Optional[float] = None, on_interval: Optional[Callable[[list], None]] = None) -> dict:
    """Run the pattern's phases with kernels.ioloop in `dirs` ({role: directory}); returns phases and the
    implementation. interval_s: the result carries `intervals`, the rows of every phase's intervals (times from
    the start of the first phase's timed part); on_interval(rows) is called with each interval's rows while a
    phase runs (kernels.ioloop's on_interval, one interval late), for display only."""
    ioloop = _ioloop()
    records, models = [], []
    intervals: list = []
    first_start_ns = None
    checksummed = any(phase.checksum_chunk for phase in pattern.phases)
    writers: dict = {}   # (role, fileset) -> (seed, bs) of what last wrote all of it, or None
    check_space(pattern, dirs, tiers_by_role)   # before the first byte: free space changes after the plan's check
    for index, phase in enumerate(pattern.phases):
        jobs = phase_files(phase, dirs[phase.role])
        fileset = (phase.role, phase.fileset)
        if needs_layout(phase, jobs):
            layout = (seed + index, layout_bs(phase))
            ioloop.run_phase(jobs, "write", layout[1], phase.file_size, direct=False, end_fsync=True,
                             seed=layout[0])
            writers[fileset] = layout
        verify = _verify_args(phase, writers.get(fileset))
        if phase.cold:
            drop_cache(p for job in jobs for p in job if os.path.exists(p))
        live = {}
        if interval_s and on_interval:
            # the phase's start in the pattern is known once it runs: its first live rows are placed from the
            # end of the previous phase, as near as they can be; the stored rows use the kernel's start
            offset = 0.0 if first_start_ns is None else (time.monotonic_ns() - first_start_ns) / 1e9

            def show(k, counts, phase=phase, offset=offset):
                on_interval(_interval_rows(phase, k, [counts], interval_s, offset + k * interval_s, None, ioloop))
            live = {"on_interval": show}
        result = ioloop.run_phase(jobs, phase.rw, phase.bs, phase.file_size, iodepth=phase.iodepth,
                                  rwmixread=phase.rwmixread, direct=phase.direct, fsync_every=phase.fsync_every,
                                  end_fsync=phase.end_fsync, runtime_s=phase.runtime_s,
                                  file_service=phase.file_service, seed=seed + index,
                                  checksum_chunk=phase.checksum_chunk, ioengine=phase.ioengine,
                                  **({"interval_s": interval_s} if interval_s else {}), **live, **verify)
        if interval_s:
            got = result["intervals"]
            if first_start_ns is None:
                first_start_ns = got["start_ns"]
            intervals.extend(_interval_rows(phase, 0, got["counts"], got["interval_s"],
                                            (got["start_ns"] - first_start_ns) / 1e9, result["elapsed_s"], ioloop))
        models.append(result["ioengine"])
        if phase.writes:
            writers[fileset] = _written_by(phase, index, seed)
        records.append(dict(_record(phase, tiers_by_role.get(phase.role), result, ioloop), cpu_s=result["cpu_s"]))
    out = {"phases": records, "implementation": _implementation(models, checksummed), "raw": []}
    if interval_s:
        out["intervals"] = intervals
    return out


def _implementation(models: list, checksummed: bool) -> str:
    """What ran: the I/O loop, the queueing models its phases used (fio's ioengine names) and, where phases
    checksummed, the CRC32C path this CPU runs (e.g. "cython:kernels.ioloop[libaio,psync crc32c=vpclmul512]")."""
    parts = [",".join(sorted(set(models)))]
    if checksummed:
        from kernels import IMPLEMENTATION
        parts.append("crc32c=" + IMPLEMENTATION["crc32c"].rsplit("/", 1)[-1])
    return f"cython:kernels.ioloop[{' '.join(p for p in parts if p)}]"
