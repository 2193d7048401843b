"""Pure-Python reference for kernels.sort (same signatures; slow: for tests)."""
import bisect
import heapq

import numpy as np

RECORD_BYTES = 100
KEY_BYTES = 10
_M64 = (1 << 64) - 1


def _records(records):
    view = memoryview(records).cast("B")
    if len(view) % RECORD_BYTES:
        raise ValueError(f"buffer of {len(view)} bytes is not a whole number of {RECORD_BYTES}-byte records")
    return [bytes(view[i:i + RECORD_BYTES]) for i in range(0, len(view), RECORD_BYTES)]


def sort_permutation(records, threads=None):
    """Indices (uint32) that order the records by key; Python's sort is stable."""
    recs = _records(records)
    order = sorted(range(len(recs)), key=lambda i: recs[i][:KEY_BYTES])
    return np.array(order, dtype=np.uint32)


def sort_records(records, threads=None):
    """Records sorted by their 10-byte key, equal keys in input order, as bytes."""
    return b"".join(sorted(_records(records), key=lambda r: r[:KEY_BYTES]))


def _splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & _M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return state, z ^ (z >> 31)


def sample_partition_bounds(records, partitions, sample_size=100000, seed=0):
    """(partitions - 1) split keys from `sample_size` keys drawn with splitmix64(seed)."""
    recs = _records(records)
    if partitions < 1:
        raise ValueError(f"partitions must be >= 1, got {partitions}")
    if partitions == 1:
        return b""
    if not recs or sample_size < 1:
        raise ValueError("need at least one record and one sample to choose partition bounds")
    state = seed & _M64
    sample = []
    for _ in range(sample_size):
        state, z = _splitmix64(state)
        sample.append(recs[z % len(recs)][:KEY_BYTES])
    sample.sort()
    return b"".join(sample[k * sample_size // partitions] for k in range(1, partitions))


def partition_ids(records, bounds):
    """Partition of each record: the number of bound keys <= its key."""
    bounds = bytes(memoryview(bounds).cast("B"))
    if len(bounds) % KEY_BYTES:
        raise ValueError(f"bounds of {len(bounds)} bytes is not a whole number of 10-byte keys")
    keys = [bounds[i:i + KEY_BYTES] for i in range(0, len(bounds), KEY_BYTES)]
    return np.array([bisect.bisect_right(keys, r[:KEY_BYTES]) for r in _records(records)],
                    dtype=np.uint32)


def merge_runs(runs):
    """Merge sorted record buffers; equal keys: earlier run first."""
    streams = [[(r[:KEY_BYTES], run, r) for r in _records(buf)] for run, buf in enumerate(runs)]
    return b"".join(r for _, _, r in heapq.merge(*streams, key=lambda t: (t[0], t[1])))


MERGE_OUT_RECORDS = 10368


def merge_stream(sources, write, out_records=MERGE_OUT_RECORDS):
    """Merge sorted record streams (iterables of buffers); write(bytes) gets out_records records at a time."""
    if out_records < 1:
        raise ValueError(f"out_records must be >= 1, got {out_records}")

    def stream(run, source):
        for buf in source:
            for r in _records(buf):
                yield r[:KEY_BYTES], run, r

    pending, total = [], 0
    for _, _, r in heapq.merge(*(stream(i, s) for i, s in enumerate(sources)), key=lambda t: (t[0], t[1])):
        pending.append(r)
        if len(pending) == out_records:
            write(b"".join(pending))
            total += len(pending)
            pending = []
    if pending:
        write(b"".join(pending))
        total += len(pending)
    return total
