"""The builtin engine: runs a pattern with kernels.ioloop (Cython, GIL released), no fio needed.

Same semantics as the fio job file: files `<fileset>.<job>.<file>` in the phase's role directory; files a
phase reads (or rewrites at random) are laid out first when no earlier phase wrote them (fio does the same),
and cold phases drop the files' pages (fsync + POSIX_FADV_DONTNEED) so reads reach the device.
"""
from __future__ import annotations

import os
from pathlib import Path

from bench.pattern import Pattern, Phase


def _ioloop():
    # Imported here so that the fio engine never needs the compiled kernels; a missing build is an error.
    from kernels import ioloop
    return ioloop


def phase_files(phase: Phase, directory: str) -> list:
    return [[os.path.join(directory, f"{phase.fileset}.{job}.{f}") for f in range(phase.nrfiles)]
            for job in range(phase.numjobs)]


def drop_cache(paths) -> None:
    """Write back and drop the pages of `paths` (no root needed)."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def _needs_layout(phase: Phase, jobs: list) -> bool:
    if phase.rw == "write":
        return False
    return any(not os.path.exists(p) or os.path.getsize(p) < phase.file_size for job in jobs for p in job)


def _record(phase: Phase, tier, result: dict, ioloop) -> dict:
    rec = {"name": phase.name, "tier": tier, "role": phase.role, "wall_s": result["elapsed_s"],
           "ops_read": int(result["read"]["ops"]), "ops_written": int(result["write"]["ops"]),
           "bytes_read": int(result["read"]["bytes"]), "bytes_written": int(result["write"]["bytes"])}
    for direction, key in (("read", "bins_read"), ("write", "bins_write")):
        if result[direction]["ops"]:
            rec[key] = ioloop.hist_to_bins(result[direction]["hist"])
    return rec


def run(pattern: Pattern, dirs: dict, tiers_by_role: dict, raw_dir: Path, stem: str, timeout_s: float,
        seed: int = 0) -> dict:
    ioloop = _ioloop()
    records = []
    for index, phase in enumerate(pattern.phases):
        jobs = phase_files(phase, dirs[phase.role])
        if _needs_layout(phase, jobs):
            ioloop.run_phase(jobs, "write", max(phase.bs, 1 << 20) if phase.file_size % (1 << 20) == 0
                             else phase.bs, phase.file_size, direct=False, end_fsync=True)
        if phase.cold:
            drop_cache(p for job in jobs for p in job if os.path.exists(p))
        result = ioloop.run_phase(jobs, phase.rw, phase.bs, phase.file_size, iodepth=phase.iodepth,
                                  rwmixread=phase.rwmixread, direct=phase.direct, fsync_every=phase.fsync_every,
                                  end_fsync=phase.end_fsync, runtime_s=phase.runtime_s,
                                  file_service=phase.file_service, seed=seed + index)
        records.append(_record(phase, tiers_by_role.get(phase.role), result, ioloop))
    return {"phases": records, "implementation": "cython:kernels.ioloop", "raw": []}
