"""Sort kernel building blocks against the pure-Python reference, with seeded random records."""
import numpy as np
import pytest

import kernels
from kernels import sort_ref


def random_records(count, seed, duplicates=True):
    """Random 100-byte records; with `duplicates`, many equal keys and shared 2-byte prefixes."""
    rng = np.random.default_rng(seed)
    recs = rng.integers(0, 256, (count, 100), dtype=np.uint8)
    if duplicates and count > 3:
        recs[1::3, :10] = recs[0, :10]
        recs[2::5, :2] = 7
        recs[::7, 2:10] = 0
    return recs.reshape(-1)


@pytest.mark.parametrize("count", [0, 1, 2, 25, 1001, 150_001])
def test_sort_records_matches_reference(count):
    recs = random_records(count, seed=count)
    got = kernels.sort_records(recs)
    assert bytes(got) == sort_ref.sort_records(recs)


@pytest.mark.parametrize("count", [0, 1, 999, 140_001])
def test_sort_permutation_is_stable_order(count):
    recs = random_records(count, seed=count + 1)
    got = kernels.sort_permutation(recs, threads=2)
    assert got.dtype == np.uint32
    assert np.array_equal(got, sort_ref.sort_permutation(recs))


def test_threads_do_not_change_result():
    recs = kernels.teragen(5, 300_000)
    one = kernels.sort_records(recs, threads=1)
    assert np.array_equal(kernels.sort_records(recs, threads=2), one)
    assert np.array_equal(kernels.sort_records(recs, threads=3), one)
    keys = one.reshape(-1, 100)[:, :10]
    assert all(bytes(keys[i]) <= bytes(keys[i + 1]) for i in range(0, len(keys) - 1, 997))
    assert kernels.record_checksum(one) == kernels.record_checksum(recs)


def test_all_equal_prefix_bucket():
    # One 2-byte bucket holding everything: the in-bucket sort must not go quadratic.
    recs = random_records(50_000, seed=9, duplicates=False).reshape(-1, 100)
    recs[:, :2] = 0x41
    assert bytes(kernels.sort_records(recs.reshape(-1))) == sort_ref.sort_records(recs)


def test_accepts_any_buffer():
    recs = random_records(300, seed=2)
    expected = sort_ref.sort_records(recs)
    assert bytes(kernels.sort_records(recs.tobytes())) == expected
    assert bytes(kernels.sort_records(memoryview(recs.tobytes()))) == expected
    assert bytes(kernels.sort_records(recs.view(np.uint32))) == expected
    pa = pytest.importorskip("pyarrow")
    assert bytes(kernels.sort_records(pa.py_buffer(recs.tobytes()))) == expected


def test_rejects_partial_record():
    with pytest.raises(ValueError):
        kernels.sort_records(b"x" * 101)


@pytest.mark.parametrize("count,partitions,sample", [(1, 4, 10), (999, 1, 50), (999, 7, 101),
                                                     (20_000, 16, 5000)])
def test_partition_bounds_and_ids_match_reference(count, partitions, sample):
    recs = random_records(count, seed=count)
    bounds = kernels.sample_partition_bounds(recs, partitions, sample, seed=11)
    assert bounds == sort_ref.sample_partition_bounds(recs, partitions, sample, seed=11)
    assert len(bounds) == 10 * (partitions - 1)
    ids = kernels.partition_ids(recs, bounds)
    assert np.array_equal(ids, sort_ref.partition_ids(recs, bounds))


def test_partitions_are_ordered_and_balanced():
    recs = kernels.teragen(0, 100_000)
    bounds = kernels.sample_partition_bounds(recs, 10, 10_000, seed=1)
    ids = kernels.partition_ids(recs, bounds)
    counts = np.bincount(ids, minlength=10)
    assert counts.min() > 8_000 and counts.max() < 12_000
    sorted_ids = kernels.partition_ids(kernels.sort_records(recs), bounds)
    assert np.all(np.diff(sorted_ids.astype(np.int64)) >= 0)


def test_partition_bad_arguments():
    with pytest.raises(ValueError):
        kernels.sample_partition_bounds(b"", 4, 10)
    with pytest.raises(ValueError):
        kernels.sample_partition_bounds(b"x" * 100, 0, 10)
    with pytest.raises(ValueError):
        kernels.partition_ids(b"x" * 100, b"123")


@pytest.mark.parametrize("sizes", [[], [0], [0, 5, 0], [1], [3, 1, 2], [1000, 17, 513, 2000, 1]])
def test_merge_runs_matches_reference(sizes):
    runs = [kernels.sort_records(random_records(n, seed=i + 100 * n)) for i, n in enumerate(sizes)]
    if len(runs) > 1 and sizes[0] > 5:
        runs[1] = kernels.sort_records(np.concatenate([runs[0][:500], runs[1]]))  # equal keys across runs
    got = kernels.merge_runs(runs)
    assert bytes(got) == sort_ref.merge_runs(runs)


def test_merge_runs_equals_sort_of_concatenation():
    runs = [kernels.sort_records(kernels.teragen(i * 10_000, 10_000)) for i in range(6)]
    assert np.array_equal(kernels.merge_runs(runs), kernels.sort_records(np.concatenate(runs)))


def _chunked(buf, sizes, rng):
    """A sorted run as a stream of buffers of random sizes in records (some empty), in a reused bytearray
    when asked: what the reduce's segment readers yield."""
    view = memoryview(np.ascontiguousarray(buf)).cast("B")
    at = 0
    while at < len(view):
        n = int(rng.choice(sizes)) * 100
        yield view[at:at + n]
        at += n
    yield b""


@pytest.mark.parametrize("sizes,out_records", [([], 7), ([0], 3), ([0, 5, 0], 1), ([1], 10368),
                                               ([3, 1, 2], 2), ([1000, 17, 513, 2000, 1], 37),
                                               ([400] * 12, 1000)])
def test_merge_stream_matches_reference(sizes, out_records):
    """Kernel and reference write the same chunks (the same records, out_records at a time), whatever the
    sources' buffer sizes, with equal keys across runs (earlier run first)."""
    runs = [kernels.sort_records(random_records(n, seed=i + 100 * n)) for i, n in enumerate(sizes)]
    if len(runs) > 1 and sizes[0] > 5:
        runs[1] = kernels.sort_records(np.concatenate([runs[0][:500], runs[1]]))  # equal keys across runs
    got, want = [], []
    total = kernels.merge_stream([_chunked(r, [0, 1, 3, 64], np.random.default_rng(i)) for i, r in enumerate(runs)],
                                 lambda view: got.append(bytes(view)), out_records)
    ref_total = sort_ref.merge_stream([_chunked(r, [2, 5, 100], np.random.default_rng(9 + i))
                                       for i, r in enumerate(runs)], want.append, out_records)
    assert total == ref_total == sum(len(r) for r in runs) // 100
    assert got == want
    assert all(len(c) == out_records * 100 for c in got[:-1])
    assert b"".join(got) == sort_ref.merge_runs(runs)


def test_merge_stream_sources_may_reuse_their_buffer():
    """A source that reads each chunk into the same bytearray (as the reduce's segment reader does) merges
    as if each chunk were its own buffer."""
    runs = [kernels.sort_records(kernels.teragen(i * 3000, 3000)) for i in range(4)]

    def reused(run, step=700):
        buf = bytearray(step * 100)
        view = memoryview(run).cast("B")
        for at in range(0, len(view), step * 100):
            piece = view[at:at + step * 100]
            buf[:len(piece)] = piece
            yield memoryview(buf)[:len(piece)]

    out = bytearray()
    kernels.merge_stream([reused(r) for r in runs], out.extend, 999)
    assert bytes(out) == bytes(kernels.merge_runs(runs))


def test_merge_stream_rejects_bad_input():
    with pytest.raises(ValueError, match="out_records"):
        kernels.merge_stream([], print, 0)
    with pytest.raises(ValueError, match="whole number"):
        kernels.merge_stream([[b"x" * 150]], print)
    with pytest.raises(ValueError, match="out_records"):
        sort_ref.merge_stream([], print, 0)
