"""Workload-independent preconditioning, the SNIA PTS way (docs/steady-state.md): sequential 128 KiB writes
over the whole test region, twice, before the workload runs.

The test region is the files the pattern works on (each fileset at its largest phase, every job's files), so
the preconditioning writes exactly where the workload will read and write, whatever the target is: a
directory on any tier here, whatever target path the pattern's files are given (`dirs`), or the regions of a
raw block device the pattern's jobs work on (`device`). It runs through
the case's own engine (fio or builtin), direct and fsynced, so the writes reach the device.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from bench.core.pattern import Pattern, Phase

__all__ = ["PRECONDITION_BS", "PASSES", "precondition_pattern", "precondition"]

PRECONDITION_BS = 128 * 1024   # PTS: SEQ 128KiB W
PASSES = 2                     # PTS: 2X the user capacity


def precondition_pattern(pattern: Pattern, passes: int = PASSES) -> Pattern:
    """The pattern that writes the test region of `pattern` sequentially in PRECONDITION_BS blocks, `passes`
    times: per fileset, one write phase per pass over the files of its largest phase (same role, jobs, files
    and size, so the same file names)."""
    largest: dict = {}
    for p in pattern.phases:
        key = (p.role, p.fileset)
        if key not in largest or p.file_size * p.nrfiles * p.numjobs > \
                largest[key].file_size * largest[key].nrfiles * largest[key].numjobs:
            largest[key] = p
    phases = []
    for n in range(1, passes + 1):
        for (role, fileset), p in largest.items():
            bs = PRECONDITION_BS if p.file_size % PRECONDITION_BS == 0 else p.bs   # whole files, as the workload
            phases.append(Phase(name=f"precondition-{n}-{fileset}", rw="write", bs=bs,
                                size=p.file_size * p.nrfiles, nrfiles=p.nrfiles, fileset=fileset, role=role,
                                direct=True, end_fsync=True, numjobs=p.numjobs, cold=False))
    return Pattern(f"{pattern.name}-precondition", tuple(phases))


def precondition(pattern: Pattern, engine, dirs: dict, tiers_by_role: dict, raw_dir: Path, stem: str,
                 timeout_s: float, device: Optional[str] = None) -> dict:
    """Run `pattern`'s preconditioning with `engine` (bench.engines.fio.engine or bench.engines.builtin) in
    `dirs` ({role: target directory}), or on the raw block device `device` (fio only: each job writes its own
    region, the one it works on in the workload); returns what the case document stores: {"rule", "passes",
    "block_bytes", "bytes_written", "wall_s", "bytes_per_s", "raw"}."""
    pre = precondition_pattern(pattern)
    out = engine.run(pre, dirs, tiers_by_role, raw_dir, stem, timeout_s, **({"device": device} if device else {}))
    written = sum(p.get("bytes_written", 0) for p in out["phases"])
    wall = sum(p["wall_s"] for p in out["phases"])
    return {"rule": f"sequential {PRECONDITION_BS // 1024} KiB writes of the test region, {PASSES} passes (SNIA PTS)",
            "passes": PASSES, "block_bytes": PRECONDITION_BS, "bytes_written": written, "wall_s": wall,
            "bytes_per_s": written / wall if wall > 0 else None, "raw": out.get("raw", [])}
