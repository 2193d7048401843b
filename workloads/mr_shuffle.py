"""MapReduce shuffle: every reducer fetches one segment from every map output (M x R reads of
map_output_bytes / R each), with `parallel_copies` fetches in flight per reducer.

A pattern's job can only read its own files (`<fileset>.<job>.<file>`), so the map outputs are stored as
segment files: file `map-output.<r>.<m>` is map m's segment for reducer r. The disk sees what the real shuffle
makes it do — M x R segment-sized reads spread over the temp tier, R x parallel_copies in flight — and the
bytes are the same (M x map_output_bytes).
Phases, on the temp tier:
- "map-output": the map outputs written (M x R segment files), buffered as a map task writes its output
  (`direct_map_output=true`: O_DIRECT, which compares engines on the device rather than on the page cache),
  fsynced at the end.
- "fetch": `reducers` jobs, each reading its M segments (rw=randread, bs=segment), iodepth=parallel_copies.
  Direct by default: fio keeps iodepth reads in flight only with direct I/O (libaio); buffered, each reducer
  would fetch one segment at a time.
Defaults: mapreduce.reduce.shuffle.parallelcopies 5; 128 MiB map outputs (one HDFS block of input each);
16 maps and 64 reducers give 2 MiB segments.
"""
from __future__ import annotations

from dataclasses import dataclass

from bench.core.pattern import Pattern, Phase
from workloads import pattern_workload

KiB, MiB = 1024, 1024 ** 2
SEGMENT_ALIGN = 4 * KiB


def segment_bytes(map_output_bytes: int, reducers: int) -> int:
    """One reducer's segment of a map output, rounded to whole 4 KiB blocks (at least one)."""
    return max(SEGMENT_ALIGN, round(map_output_bytes / reducers / SEGMENT_ALIGN) * SEGMENT_ALIGN)


@dataclass(frozen=True)
class MrShuffleParams:
    maps: int = 16                     # map outputs on this node
    reducers: int = 64                 # reducers fetching (jobs)
    map_output_bytes: int = 128 * MiB  # bytes of one map output
    parallel_copies: int = 5           # mapreduce.reduce.shuffle.parallelcopies
    direct: bool = True                # for the fetches (see the module docstring)
    direct_map_output: bool = False    # map tasks write their outputs through the page cache

    def __post_init__(self):
        for name in ("maps", "reducers", "map_output_bytes", "parallel_copies"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, not {getattr(self, name)}")


def build(p: MrShuffleParams) -> Pattern:
    segment = segment_bytes(p.map_output_bytes, p.reducers)
    return Pattern("mr-shuffle", (
        Phase(name="map-output", rw="write", bs=segment, size=p.maps * segment, nrfiles=p.maps,
              numjobs=p.reducers, fileset="map-output", role="temp", direct=p.direct_map_output,
              end_fsync=True),
        Phase(name="fetch", rw="randread", bs=segment, size=p.maps * segment, nrfiles=p.maps,
              numjobs=p.reducers, iodepth=p.parallel_copies, fileset="map-output", role="temp",
              direct=p.direct, file_service="roundrobin", cold=True),
    ))


WORKLOAD = pattern_workload(
    "mr-shuffle", MrShuffleParams, build,
    "MapReduce shuffle: each reducer fetches a segment of every map output (M x R random reads, 5 in flight)",
    quick={"maps": 4, "reducers": 4, "map_output_bytes": 4 * MiB})
