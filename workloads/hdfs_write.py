"""HDFS block writes: a client streams blocks in packets; every DataNode of the pipeline stores the block file
and its `.meta` checksum sidecar.

The model, per phase (engine-neutral, so fio and the builtin engine run the same thing):
- "blocks": `replication` jobs (a job = one DataNode's copy of the pipeline) each write `blocks` block files
  sequentially in `packet_size` writes, buffered and fsynced at the end (a DataNode flushes a finalized block;
  fsynced writes are what blkio throttles see, background writeback is not). The builtin engine computes the
  CRC32C of every `bytes_per_checksum` chunk of every packet (`checksum_chunk`), the DataNode's CPU work; fio
  only moves the bytes, so the two engines measure the same thing only with `checksums=false` (the builtin
  engine then computes none either; the run table flags a fio/builtin ratio taken with checksums).
- "meta": the same jobs write one `.meta` file per block: a 7-byte header (version 2 bytes, checksum type
  1 byte, bytes per checksum 4 bytes) and one 4-byte CRC32C per `bytes_per_checksum` bytes of the block,
  i.e. about block/128 with the default 512-byte chunks. Files hold whole 4 KiB blocks (the meta size is
  rounded up), which both engines need. Its content is the engine's fill, not the CRCs: only its I/O is
  modelled here (the CRC work is counted in "blocks").
Defaults are Hadoop's: dfs.blocksize 128 MiB, dfs.client-write-packet-size 64 KiB, dfs.replication 3,
dfs.bytes-per-checksum 512.
"""
from __future__ import annotations

from dataclasses import dataclass

from bench.core.pattern import Pattern, Phase
from workloads import pattern_workload

KiB, MiB = 1024, 1024 ** 2
META_HEADER_BYTES = 7       # BlockMetadataHeader: version (2) + DataChecksum header: type (1) + bytesPerChecksum (4)
CHECKSUM_BYTES = 4          # one CRC32C per chunk
META_ALIGN = 4 * KiB


def meta_file_bytes(block_size: int, bytes_per_checksum: int = 512) -> int:
    """Bytes of a block's .meta file: header plus one 4-byte CRC32C per (possibly partial) chunk."""
    chunks = -(-block_size // bytes_per_checksum)
    return META_HEADER_BYTES + CHECKSUM_BYTES * chunks


def meta_file_bytes_aligned(block_size: int, bytes_per_checksum: int = 512) -> int:
    """The .meta size rounded up to whole 4 KiB blocks (what the pattern writes per block)."""
    return -(-meta_file_bytes(block_size, bytes_per_checksum) // META_ALIGN) * META_ALIGN


@dataclass(frozen=True)
class HdfsWriteParams:
    block_size: int = 128 * MiB        # dfs.blocksize
    packet_size: int = 64 * KiB        # dfs.client-write-packet-size
    blocks: int = 8                    # blocks the client writes (each stored `replication` times)
    replication: int = 3               # dfs.replication: DataNode copies, one job each
    bytes_per_checksum: int = 512      # dfs.bytes-per-checksum
    direct: bool = False               # DataNodes write through the page cache
    checksums: bool = True             # builtin engine: CRC32C per chunk (false: bytes only, as fio)

    def __post_init__(self):
        for name in ("block_size", "packet_size", "blocks", "replication", "bytes_per_checksum"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, not {getattr(self, name)}")
        if self.block_size % self.packet_size:
            raise ValueError(f"block_size {self.block_size} is not a whole number of packets of {self.packet_size}")
        if self.packet_size % self.bytes_per_checksum or self.bytes_per_checksum % 512:
            raise ValueError(f"bytes_per_checksum {self.bytes_per_checksum} must be a multiple of 512 that divides "
                             f"packet_size {self.packet_size}")


def build(p: HdfsWriteParams) -> Pattern:
    meta = meta_file_bytes_aligned(p.block_size, p.bytes_per_checksum)
    return Pattern("hdfs-write", (
        Phase(name="blocks", rw="write", bs=p.packet_size, size=p.blocks * p.block_size, nrfiles=p.blocks,
              numjobs=p.replication, fileset="blocks", role="data", direct=p.direct, end_fsync=True,
              checksum_chunk=p.bytes_per_checksum if p.checksums else 0),
        Phase(name="meta", rw="write", bs=META_ALIGN, size=p.blocks * meta, nrfiles=p.blocks,
              numjobs=p.replication, fileset="meta", role="data", direct=p.direct, end_fsync=True),
    ))


WORKLOAD = pattern_workload(
    "hdfs-write", HdfsWriteParams, build,
    "HDFS block writes: 128 MiB blocks in 64 KiB packets, x3 replicas, with .meta CRC32C sidecars",
    quick={"block_size": 4 * MiB, "blocks": 2})
