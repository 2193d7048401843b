"""MapReduce map-side spills: each map task writes sorted spills of its sort buffer to the temp tier, merges
them (reading all spills at once, interleaved) into its one map output, and writes that output once.

Phases, all on the temp tier ("temp" role):
- "spill": `maps` jobs each write `spills_per_map` spill files of `spill_bytes`, buffered, fsynced at the end.
- "merge-read": the same jobs read their spills back, `bs` at a time, round-robin across the files (a k-way
  merge consumes its inputs interleaved); cold, as spill data has long left the page cache on a busy node.
- "merge-write": each job writes its merged map output (the sum of its spills) once; the shuffle reads it
  once (see mr-shuffle).
Defaults are Hadoop's: mapreduce.task.io.sort.mb 100 MiB spilled at mapreduce.map.sort.spill.percent 0.80
(80 MiB spills), mapreduce.task.io.sort.factor 10 streams merged at a time. More spills than the merge factor
need intermediate merge passes, which this pattern does not model (it refuses such parameters).
"""
from __future__ import annotations

from dataclasses import dataclass

from bench.core.pattern import Pattern, Phase
from workloads import pattern_workload

KiB, MiB = 1024, 1024 ** 2


@dataclass(frozen=True)
class MrSpillParams:
    maps: int = 4                    # concurrent map tasks (jobs)
    spills_per_map: int = 4          # spills each map task writes
    spill_bytes: int = 80 * MiB      # io.sort.mb 100 MiB x spill.percent 0.80
    merge_factor: int = 10           # mapreduce.task.io.sort.factor
    bs: int = 1 * MiB                # bytes per read and write
    direct: bool = False             # map tasks write and read through the page cache

    def __post_init__(self):
        for name in ("maps", "spills_per_map", "spill_bytes", "merge_factor", "bs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, not {getattr(self, name)}")
        if self.spill_bytes < self.bs:
            raise ValueError(f"spill_bytes {self.spill_bytes} is smaller than one block of bs={self.bs}")
        if self.spills_per_map > self.merge_factor:
            raise ValueError(f"spills_per_map ({self.spills_per_map}) above merge_factor ({self.merge_factor}) "
                             "needs intermediate merge passes, which mr-spill does not model")


def build(p: MrSpillParams) -> Pattern:
    spill_file = p.spill_bytes // p.bs * p.bs        # whole blocks, as both engines write them
    spills = p.spills_per_map * spill_file
    return Pattern("mr-spill", (
        Phase(name="spill", rw="write", bs=p.bs, size=spills, nrfiles=p.spills_per_map, numjobs=p.maps,
              fileset="spill", role="temp", direct=p.direct, end_fsync=True),
        Phase(name="merge-read", rw="read", bs=p.bs, size=spills, nrfiles=p.spills_per_map, numjobs=p.maps,
              fileset="spill", role="temp", direct=p.direct, file_service="roundrobin", cold=True),
        Phase(name="merge-write", rw="write", bs=p.bs, size=spills, nrfiles=1, numjobs=p.maps,
              fileset="map-output", role="temp", direct=p.direct, end_fsync=True),
    ))


WORKLOAD = pattern_workload(
    "mr-spill", MrSpillParams, build,
    "MapReduce spills: 80 MiB sorted spills written, merged back interleaved (1 MiB reads), one map output",
    quick={"maps": 2, "spills_per_map": 3, "spill_bytes": 4 * MiB})
