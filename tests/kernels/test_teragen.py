"""teragen against real gensort 1.5 output and the pure-Python reference; valsort checksums."""
import zlib
from pathlib import Path

import numpy as np
import pytest

import kernels
from kernels import teragen_ref

DATA = Path(__file__).resolve().parent.parent / "data" / "gensort"
GENSORT_FILES = [("records_0_100.bin", 0, 100),
                 ("records_1000000000_50.bin", 1_000_000_000, 50),
                 ("records_1099511627783_20.bin", 2**40 + 7, 20)]


@pytest.mark.parametrize("name,first,count", GENSORT_FILES)
def test_byte_identical_to_gensort(name, first, count):
    expected = (DATA / name).read_bytes()
    assert bytes(kernels.teragen(first, count)) == expected
    assert teragen_ref.teragen(first, count) == expected


def test_first_record_key():
    assert bytes(kernels.teragen(0, 1)[:10]) == b"JimGrayRIP"


@pytest.mark.parametrize("first,count", [(0, 0), (0, 1), (7, 1), (3, 1001), (2**64 - 5, 17),
                                         (2**128 - 3, 6)])
def test_matches_reference(first, count):
    assert bytes(kernels.teragen(first, count)) == teragen_ref.teragen(first, count)


def test_parallel_chunks_equal_one_thread():
    # Slices of 2**16 records per thread start mid-stream: jump-ahead must agree with replay.
    one = kernels.teragen(123_456_789, 200_003, threads=1)
    assert np.array_equal(kernels.teragen(123_456_789, 200_003, threads=2), one)
    assert np.array_equal(kernels.teragen(123_456_789, 200_003, threads=3), one)
    assert bytes(one[-100:]) == teragen_ref.teragen(123_456_789 + 200_002, 1)


def test_rejects_bad_arguments():
    with pytest.raises(ValueError):
        kernels.teragen(-1, 5)
    with pytest.raises(ValueError):
        kernels.teragen(0, -5)
    with pytest.raises(ValueError):
        kernels.teragen(2**128, 1)


def test_checksum_of_100_records():
    assert kernels.record_checksum(kernels.teragen(0, 100)) == 0x319E1030C3
    assert teragen_ref.record_checksum((DATA / "records_0_100.bin").read_bytes()) == 0x319E1030C3


def test_checksum_of_a_million_records():
    records = kernels.teragen(0, 1_000_000)
    assert kernels.record_checksum(records) == 0x7A0E0D4868CD4
    assert kernels.record_checksum(records, threads=1) == 0x7A0E0D4868CD4


@pytest.mark.parametrize("count", [0, 1, 3, 999])
def test_checksum_matches_reference(count):
    rng = np.random.default_rng(count)
    records = rng.integers(0, 256, count * 100, dtype=np.uint8)
    expected = sum(zlib.crc32(records[i:i + 100].tobytes()) for i in range(0, count * 100, 100))
    assert kernels.record_checksum(records) == expected == teragen_ref.record_checksum(records)


def test_checksum_rejects_partial_record():
    with pytest.raises(ValueError):
        kernels.record_checksum(b"x" * 150)
