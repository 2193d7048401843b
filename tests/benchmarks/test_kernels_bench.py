"""Kernel benchmarks, each against the best outside implementation in the same run.

Run by `make bench` (pytest-benchmark; figures are reported, never asserted):
    .venv/bin/python -m pytest tests/benchmarks/test_kernels_bench.py --benchmark-enable --benchmark-only

Groups: crc32c on 64 MiB (ours vs the crc32c PyPI package, and our 512-byte chunked checksums);
teragen (1 and all threads; gensort itself is not installed, so the rate is the figure);
record_checksum (vs zlib.crc32 per record); sorting 10 M records = 1 GB (ours vs DuckDB ORDER BY
and Polars sort on the same records as an Arrow table of a 10-byte binary key and 90-byte payload;
each produces the sorted records).
"""
import os
import zlib

import numpy as np
import pytest

import kernels

MIB = 1 << 20
CRC_BYTES = 64 * MIB
TERAGEN_RECORDS = 10_000_000
SORT_RECORDS = int(os.environ.get("TIERBENCH_BENCH_SORT_RECORDS", 10_000_000))


def _cpus():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _record(benchmark, nbytes, threads=1, **extra):
    benchmark.extra_info.update(bytes=nbytes, threads=threads, **extra)


@pytest.fixture(scope="module")
def crc_data():
    return np.random.default_rng(42).integers(0, 256, CRC_BYTES, dtype=np.uint8)


@pytest.fixture(scope="module")
def sort_input():
    return kernels.teragen(0, SORT_RECORDS)


@pytest.fixture(scope="module")
def sort_table(sort_input):
    """The same records as an Arrow table: key (10-byte binary) and payload (90-byte binary)."""
    pa = pytest.importorskip("pyarrow")
    rows = sort_input.reshape(-1, 100)
    n = len(rows)

    def column(data, width):
        offsets = np.arange(0, width * (n + 1), width, dtype=np.int32)
        return pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets),
                                                      pa.py_buffer(np.ascontiguousarray(data))])

    return pa.table({"key": column(rows[:, :10], 10), "payload": column(rows[:, 10:], 90)})


# ---- CRC32C -------------------------------------------------------------------------------------

@pytest.mark.benchmark(group="crc32c-64MiB")
def test_crc32c_ours(benchmark, crc_data):
    _record(benchmark, CRC_BYTES, implementation=kernels.IMPLEMENTATION["crc32c"])
    benchmark.pedantic(kernels.crc32c, args=(crc_data,), rounds=20, warmup_rounds=2)


@pytest.mark.benchmark(group="crc32c-64MiB")
def test_crc32c_pypi_package(benchmark, crc_data):
    crc32c_pypi = pytest.importorskip("crc32c")
    data = crc_data.tobytes()
    assert crc32c_pypi.crc32c(data) == kernels.crc32c(data)
    _record(benchmark, CRC_BYTES, implementation="crc32c PyPI package")
    benchmark.pedantic(crc32c_pypi.crc32c, args=(data,), rounds=20, warmup_rounds=2)


@pytest.mark.benchmark(group="crc32c-64MiB")
def test_crc32c_chunks_512_ours(benchmark, crc_data):
    _record(benchmark, CRC_BYTES, implementation=kernels.IMPLEMENTATION["crc32c_chunks"])
    benchmark.pedantic(kernels.crc32c_chunks, args=(crc_data, 512), rounds=20, warmup_rounds=2)


# ---- teragen and checksum -----------------------------------------------------------------------

@pytest.mark.benchmark(group="teragen-1GB")
def test_teragen_one_thread(benchmark):
    _record(benchmark, TERAGEN_RECORDS * 100, threads=1, implementation=kernels.IMPLEMENTATION["teragen"])
    benchmark.pedantic(kernels.teragen, args=(0, TERAGEN_RECORDS), kwargs={"threads": 1},
                       rounds=3, warmup_rounds=1)


@pytest.mark.benchmark(group="teragen-1GB")
def test_teragen_all_threads(benchmark):
    _record(benchmark, TERAGEN_RECORDS * 100, threads=_cpus(), implementation=kernels.IMPLEMENTATION["teragen"])
    benchmark.pedantic(kernels.teragen, args=(0, TERAGEN_RECORDS), rounds=3, warmup_rounds=1)


@pytest.mark.benchmark(group="record-checksum-100MB")
def test_record_checksum_ours(benchmark, sort_input):
    records = sort_input[:1_000_000 * 100]
    _record(benchmark, records.nbytes, threads=_cpus(), implementation=kernels.IMPLEMENTATION["record_checksum"])
    benchmark.pedantic(kernels.record_checksum, args=(records,), rounds=5, warmup_rounds=1)


@pytest.mark.benchmark(group="record-checksum-100MB")
def test_record_checksum_zlib_per_record(benchmark, sort_input):
    records = sort_input[:1_000_000 * 100]
    view = memoryview(records)

    def zlib_checksum():
        return sum(zlib.crc32(view[i:i + 100]) for i in range(0, len(view), 100))

    assert zlib_checksum() == kernels.record_checksum(records)
    _record(benchmark, records.nbytes, implementation="zlib.crc32 per record (Python loop)")
    benchmark.pedantic(zlib_checksum, rounds=2, warmup_rounds=0)


# ---- sort ---------------------------------------------------------------------------------------

@pytest.mark.benchmark(group="sort-10M-records")
def test_sort_records_ours(benchmark, sort_input):
    _record(benchmark, sort_input.nbytes, threads=_cpus(), implementation=kernels.IMPLEMENTATION["sort_records"])
    result = benchmark.pedantic(kernels.sort_records, args=(sort_input,), rounds=3, warmup_rounds=1)
    assert kernels.record_checksum(result) == kernels.record_checksum(sort_input)


@pytest.mark.benchmark(group="sort-10M-records")
def test_sort_duckdb_order_by(benchmark, sort_table, sort_input):
    duckdb = pytest.importorskip("duckdb")
    con = duckdb.connect()
    con.register("records", sort_table)

    def duckdb_sort():
        return con.sql("SELECT key, payload FROM records ORDER BY key").to_arrow_table()

    _record(benchmark, sort_input.nbytes, threads=_cpus(), implementation=f"duckdb {duckdb.__version__} ORDER BY")
    result = benchmark.pedantic(duckdb_sort, rounds=2, warmup_rounds=1)
    ours = kernels.sort_records(sort_input).reshape(-1, 100)
    assert result.column("key")[0].as_py() == bytes(ours[0, :10])
    assert result.column("payload")[len(ours) - 1].as_py() == bytes(ours[-1, 10:])
    con.close()


@pytest.mark.benchmark(group="sort-10M-records")
def test_sort_polars(benchmark, sort_table, sort_input):
    pl = pytest.importorskip("polars")
    frame = pl.from_arrow(sort_table)
    _record(benchmark, sort_input.nbytes, threads=_cpus(), implementation=f"polars {pl.__version__} sort")
    result = benchmark.pedantic(lambda: frame.sort("key"), rounds=2, warmup_rounds=1)
    ours = kernels.sort_records(sort_input).reshape(-1, 100)
    assert result["key"][0] == bytes(ours[0, :10])
    assert result["payload"][len(ours) - 1] == bytes(ours[-1, 10:])
