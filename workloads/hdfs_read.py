"""HDFS block reads: concurrent readers each stream whole blocks sequentially (a DataNode serving clients).

One phase, "read", on the fileset "blocks": `readers` jobs each read blocks/readers block files in `bs` reads.
No earlier phase writes them: both engines lay the files out first and, the phase being cold, drop them from
the page cache, so the reads reach the device (HDFS data is rarely read back while still cached).
The builtin engine verifies every `bytes_per_checksum` chunk it reads against the CRC32C it was written with
(`checksum_chunk`), as an HDFS reader checks every packet (a local short-circuit reader reads the block file
and checks it itself; the `.meta` reads are not modelled); fio only moves the bytes, so the two engines measure
the same thing only with `checksums=false` (the run table flags a fio/builtin ratio taken with checksums).
Defaults: dfs.blocksize 128 MiB, 64 KiB reads (the client's packet size), 4 concurrent readers,
dfs.bytes-per-checksum 512.
"""
from __future__ import annotations

from dataclasses import dataclass

from bench.core.pattern import Pattern, Phase
from workloads import pattern_workload

KiB, MiB = 1024, 1024 ** 2


@dataclass(frozen=True)
class HdfsReadParams:
    block_size: int = 128 * MiB     # dfs.blocksize
    blocks: int = 8                 # blocks in all, spread evenly over the readers
    readers: int = 4                # concurrent readers (jobs)
    bs: int = 64 * KiB              # bytes per read
    direct: bool = False            # DataNodes read through the page cache
    bytes_per_checksum: int = 512   # dfs.bytes-per-checksum
    checksums: bool = True          # builtin engine: CRC32C per chunk (false: bytes only, as fio)

    def __post_init__(self):
        for name in ("block_size", "blocks", "readers", "bs", "bytes_per_checksum"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, not {getattr(self, name)}")
        if self.blocks % self.readers:
            raise ValueError(f"blocks ({self.blocks}) must be a multiple of readers ({self.readers})")
        if self.block_size % self.bs:
            raise ValueError(f"block_size {self.block_size} is not a whole number of reads of {self.bs}")
        if self.bs % self.bytes_per_checksum or self.bytes_per_checksum % 512:
            raise ValueError(f"bytes_per_checksum {self.bytes_per_checksum} must be a multiple of 512 that divides "
                             f"bs {self.bs}")


def build(p: HdfsReadParams) -> Pattern:
    per_reader = p.blocks // p.readers
    return Pattern("hdfs-read", (
        Phase(name="read", rw="read", bs=p.bs, size=per_reader * p.block_size, nrfiles=per_reader,
              numjobs=p.readers, fileset="blocks", role="data", direct=p.direct, cold=True,
              checksum_chunk=p.bytes_per_checksum if p.checksums else 0),
    ))


WORKLOAD = pattern_workload(
    "hdfs-read", HdfsReadParams, build,
    "HDFS block reads: 4 concurrent readers streaming 128 MiB blocks in 64 KiB reads, cold",
    quick={"block_size": 4 * MiB, "blocks": 4, "readers": 2})
