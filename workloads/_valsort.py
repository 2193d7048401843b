"""valsort's figures of one TeraSort output file, read a piece at a time: a checker's memory is one piece, whatever
the file's size. The job adds the files' figures up and checks the order across files (workloads.terasort)."""
from __future__ import annotations

import os

from bench.core.errors import CaseError
from workloads._jobio import read_block_pieces

RECORD_BYTES, KEY_BYTES = 100, 10


def check_file(path: str, io, piece_bytes: int, record_checksum) -> dict:
    """{"path", "records", "checksum" (valsort's: the sum of the records' CRC32s, unmasked), "unordered" (records
    whose key is below the one before), "duplicates" (keys equal to the one before), "first", "last" (keys, or
    None when empty)} of the block file at `path`, its .meta checked (CaseError at a bad chunk); pieces of
    `piece_bytes` (whole records and checksum chunks), order and duplicates checked across their boundaries too.
    `record_checksum` is kernels.record_checksum."""
    import numpy as np

    n = checksum = unordered = duplicates = 0
    first = last = None
    for data in read_block_pieces(path, io, "data", piece_bytes):
        if len(data) % RECORD_BYTES:
            raise CaseError(f"terasort: {os.path.basename(path)} is not whole 100-byte records")
        count = len(data) // RECORD_BYTES
        if not count:
            continue
        keys = np.frombuffer(data, dtype=np.uint8).reshape(count, RECORD_BYTES)[:, :KEY_BYTES]
        hi = np.ascontiguousarray(keys[:, :8]).view(">u8").ravel()
        lo = np.ascontiguousarray(keys[:, 8:]).view(">u2").ravel()
        down = (hi[1:] < hi[:-1]) | ((hi[1:] == hi[:-1]) & (lo[1:] < lo[:-1]))
        same = (hi[1:] == hi[:-1]) & (lo[1:] == lo[:-1])
        head = bytes(data[:KEY_BYTES])
        if last is not None:        # across the pieces' boundary
            unordered += head < last
            duplicates += head == last
        first = head if first is None else first
        last = bytes(data[(count - 1) * RECORD_BYTES:(count - 1) * RECORD_BYTES + KEY_BYTES])
        unordered += int(down.sum())
        duplicates += int(same.sum())
        checksum += record_checksum(data, threads=1)
        n += count
    return {"path": path, "records": n, "checksum": checksum, "unordered": unordered, "duplicates": duplicates,
            "first": first, "last": last}
