"""Pure-Python reference of the builtin engine's checksums and write pattern (kernels.ioloop_checksum).

Checksums (`checksum_chunk` > 0, HDFS's bytes-per-checksum): every written or read buffer gets one CRC32C per
chunk, the CPU work a DataNode does for its `.meta` files. There is no `.meta` file to compare against: what an
ioloop write phase leaves is defined by (seed, job, file, offset, bs) — the write pattern of the seed, repeated
per block of `bs`, with every sector's stamp — so a read recomputes the CRC32C that chunk had when it was
written (`expected_chunk`) and a mismatch fails the run naming the file and the chunk's offset. A read phase
therefore says which write phase it verifies (`written_seed`, `written_bs`). This reference builds the expected
bytes and checksums them (crc32c_ref, pure Python: small sizes only); the kernel derives the same CRCs from
tables, without a second pass over the data (see kernels/ioloop_checksum.pyx); `expected_crcs` here and in the
kernel give the same CRCs (tests/kernels/test_ioloop_checksum.py).
"""
from __future__ import annotations

import numpy as np

from kernels.crc32c_ref import crc32c as _crc32c
from kernels.ioloop_ops_ref import ERR_CHECKSUM, GOLDEN, MASK, Stop, mix64_np

__all__ = ["IMPLEMENTATION", "MAX_CHECKSUM_CHUNK", "SECTOR", "check_chunk", "checksum_block",
           "expected_chunk", "expected_crcs", "stamp_offsets", "write_pattern"]

IMPLEMENTATION = "python:ioloop_checksum_ref"

FILL_FOR_ZERO = 0x5A            # the write pattern has no zero bytes
SECTOR = 512                    # every sector of a written block starts with a 64-bit stamp
MAX_CHECKSUM_CHUNK = 1 << 16    # the kernel keeps 8 KiB of tables per sector of a chunk

_U64 = np.uint64


def write_pattern(pattern_key: int, nbytes: int) -> np.ndarray:
    """The bytes every write buffer starts from: little-endian words mix64(key + i * GOLDEN), with zero
    bytes replaced so that no page is zero and the data does not compress."""
    words = -(-nbytes // 8)
    z = np.arange(words, dtype=_U64) * _U64(GOLDEN) + _U64(pattern_key)
    data = mix64_np(z).astype("<u8").view(np.uint8)[:nbytes].copy()
    data[data == 0] = FILL_FOR_ZERO
    return data


def stamp_offsets(bs: int) -> range:
    """Offsets in a block of the 64-bit little-endian stamps (file key + byte offset in the file) that make
    every written sector distinct, so that deduplicating storage cannot cheat."""
    return range(0, bs - 7, SECTOR)


def expected_chunk(pattern: np.ndarray, file_key: int, offset: int, chunk: int) -> bytes:
    """The `chunk` bytes at `offset` of a file that an ioloop write phase wrote with block size len(pattern)
    (pattern = write_pattern(pattern_key, bs)): the pattern at offset % bs, each sector starting with its stamp
    file_key + file offset. `offset` and `chunk` are whole sectors, and a chunk never crosses a block."""
    start = offset % len(pattern)
    data = bytearray(pattern[start:start + chunk].tobytes())
    for s in range(0, chunk, SECTOR):
        data[s:s + 8] = ((file_key + offset + s) & MASK).to_bytes(8, "little")
    return bytes(data)


def expected_crcs(pattern_key: int, written_bs: int, chunk: int, file_key: int, offsets) -> list:
    """The CRC32C of the `chunk` bytes at each of `offsets` (whole chunks) of a file an ioloop write phase
    wrote in blocks of `written_bs` from the pattern of `pattern_key`, with sector stamps file_key + offset."""
    check_chunk(chunk, written_bs)
    pattern = write_pattern(pattern_key, written_bs)
    out = []
    for offset in offsets:
        if offset < 0 or offset % chunk:
            raise ValueError(f"offset {offset} is not a whole number of {chunk}-byte chunks")
        out.append(_crc32c(expected_chunk(pattern, file_key, offset, chunk)))
    return out


def check_chunk(chunk: int, bs: int) -> None:
    """ValueError unless `chunk` is a whole number of sectors the kernel keeps tables for and divides `bs`."""
    if chunk % SECTOR or chunk > MAX_CHECKSUM_CHUNK:
        raise ValueError(f"checksum_chunk must be a multiple of {SECTOR} bytes up to {MAX_CHECKSUM_CHUNK}, "
                         f"not {chunk}")
    if bs % chunk:
        raise ValueError(f"bs={bs} is not a whole number of checksum chunks of {chunk} bytes")


def checksum_block(buf, bs: int, chunk: int, file_key, f: int, off: int, verify_pattern) -> int:
    """CRC32C of each `chunk` bytes of the block just transferred (`buf`, `bs` bytes at file offset `off`);
    a read's (verify_pattern not None) are checked against what the write phase it verifies left, with the
    file's key `file_key` (Stop with ERR_CHECKSUM, naming the chunk's offset, on a mismatch). Returns the
    number of chunks checksummed."""
    count = 0
    for s in range(0, bs, chunk):
        got = _crc32c(buf[s:s + chunk])
        count += 1
        if verify_pattern is not None:
            want = _crc32c(expected_chunk(verify_pattern, file_key, off + s, chunk))
            if got != want:
                raise Stop((ERR_CHECKSUM, f, 0, off + s, chunk, got, want))
    return count
