"""CRC32C kernel against its pure-Python reference and the crc32c PyPI package, on both CPU paths."""
import importlib
import struct

import numpy as np
import pytest

import kernels
from kernels import crc32c_ref

crc_module = importlib.import_module("kernels.crc32c")
SIZES = [0, 1, 7, 8, 511, 512, 513, 1537, 4099, 24577, 100_003]
PATHS = [pytest.param(p, marks=pytest.mark.skipif(
    p == "sse42" and crc_module.PATH != "sse42", reason="this CPU has no SSE4.2")) for p in crc_module.PATHS]


def random_bytes(size, seed):
    return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()


def test_known_vector():
    assert kernels.crc32c(b"123456789") == 0xE3069283
    assert crc32c_ref.crc32c(b"123456789") == 0xE3069283


@pytest.mark.parametrize("path", PATHS)
def test_known_vector_each_path(path):
    assert crc_module._crc32c_impl(b"123456789", path) == 0xE3069283


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("size", SIZES)
def test_matches_reference(path, size):
    data = random_bytes(size, seed=size)
    expected = crc32c_ref.crc32c(data[:5000]) if size > 5000 else crc32c_ref.crc32c(data)
    got = crc_module._crc32c_impl(data[:5000] if size > 5000 else data, path)
    assert got == expected


@pytest.mark.parametrize("path", PATHS)
def test_large_and_misaligned_match_pypi(path):
    pypi = pytest.importorskip("crc32c")
    data = random_bytes((3 << 20) + 12345, seed=1)
    for start in (0, 1, 3, 8, 33):
        view = memoryview(data)[start:]
        assert crc_module._crc32c_impl(view, path) == pypi.crc32c(view)


@pytest.mark.parametrize("path", PATHS)
def test_continuation(path):
    data = random_bytes(70_001, seed=2)
    head = crc_module._crc32c_impl(data[:30_000], path)
    assert crc_module._crc32c_impl(data[30_000:], path, head) == kernels.crc32c(data)


def test_any_buffer_without_copy():
    data = random_bytes(4096, seed=3)
    expected = kernels.crc32c(data)
    as_u32 = np.frombuffer(data, dtype=np.uint32)
    assert kernels.crc32c(as_u32) == expected
    assert kernels.crc32c(memoryview(data)) == expected
    assert kernels.crc32c(bytearray(data)) == expected
    pa = pytest.importorskip("pyarrow")
    assert kernels.crc32c(pa.py_buffer(data)) == expected


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("size", [0, 1, 511, 512, 513, 1536, 1537, 5000, 3 * 512 * 7 + 100])
@pytest.mark.parametrize("chunk", [512, 100, 4096])
def test_chunks_match_reference(path, size, chunk):
    data = random_bytes(size, seed=size + chunk)
    got = crc_module._crc32c_chunks_impl(data, chunk, path)
    assert got == crc32c_ref.crc32c_chunks(data, chunk)
    assert len(got) == 4 * -(-size // chunk)


def test_chunks_large_against_whole_buffer_crc():
    data = random_bytes((1 << 20) + 77, seed=4)
    got = kernels.crc32c_chunks(data)
    values = struct.unpack(f">{len(got) // 4}I", got)
    assert values == tuple(kernels.crc32c(data[i:i + 512]) for i in range(0, len(data), 512))


def test_chunks_rejects_bad_chunk_size():
    with pytest.raises(ValueError):
        kernels.crc32c_chunks(b"abc", 0)


def test_unknown_path_is_an_error():
    with pytest.raises(ValueError):
        crc_module._crc32c_impl(b"x", "avx9000")
