"""CRC32C kernel against its pure-Python reference and the crc32c PyPI package, on every CPU path this machine
has (each forced through _crc32c_impl / _crc32c_chunks_impl; a path the CPU lacks is skipped, saying so)."""
import importlib
import struct

import numpy as np
import pytest

import kernels
from kernels import crc32c_ref

crc_module = importlib.import_module("kernels.crc32c")
SIZES = [0, 1, 7, 8, 511, 512, 513, 1537, 4099, 24577, 100_003]
PATHS = [pytest.param(p, marks=pytest.mark.skipif(
    p not in crc_module.SUPPORTED, reason=f"this CPU cannot run {p}" if p not in crc_module.HARDWARE
    else f"{p} is above the CPU class TIERBENCH_CRC_ISA={crc_module.ISA_LIMIT} limits this run to"))
    for p in crc_module.PATHS]


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


def test_path_chosen_from_cpu_flags():
    """The paths found by CPUID agree with what the kernel reports from /proc/cpuinfo (Linux x86)."""
    try:
        flags = next(line for line in open("/proc/cpuinfo") if line.startswith("flags")).split()
    except (OSError, StopIteration):
        pytest.skip("no /proc/cpuinfo flags on this machine")
    has = set(flags)
    avx2 = {"sse4_2", "pclmulqdq", "avx2", "vpclmulqdq"} <= has
    avx512 = avx2 and "avx512f" in has
    expect = {"sse42": "sse4_2" in has, "pclmul": {"sse4_2", "pclmulqdq"} <= has,
              "fused128": {"sse4_2", "pclmulqdq"} <= has,
              "vpclmul256": avx2, "fused256": avx2, "vpclmul512": avx512, "fused512": avx512, "table": True}
    assert {p for p, ok in expect.items() if ok} == set(crc_module.HARDWARE)
    if crc_module.ISA_LIMIT is None:
        assert crc_module.SUPPORTED == crc_module.HARDWARE
    assert crc_module.PATH == next(p for p in ("fused512", "vpclmul512", "fused256", "fused128", "vpclmul256", "sse42",
                                               "pclmul", "table") if p in crc_module.SUPPORTED)


def test_forcing_a_path_the_cpu_lacks_is_refused():
    missing = [p for p in crc_module.PATHS if p not in crc_module.SUPPORTED]
    if not missing:
        pytest.skip("this CPU runs every path")
    with pytest.raises(RuntimeError, match="cannot run"):
        crc_module._crc32c_impl(b"x", missing[0])


FOLD_SIZES = [0, 1, 15, 16, 17, 63, 64, 127, 128, 129, 255, 256, 257, 511, 512, 513, 767, 768, 1023, 1024, 1025,
              2047, 2048, 4095, 4096, 65535, 65536, 65537]


@pytest.mark.parametrize("path", PATHS)
def test_every_length_near_the_fold_boundaries(path):
    """Each length around a path's block, round and threshold sizes, at unaligned starts and with a
    running CRC, against the reference (and the crc32c package on the longer ones)."""
    pypi = pytest.importorskip("crc32c")
    rng = np.random.default_rng(7)
    data = random_bytes(70_000, seed=7)
    for size in FOLD_SIZES:
        start = int(rng.integers(0, 64))
        view = memoryview(data)[start:start + size]
        crc = int(rng.integers(0, 1 << 32))
        got = crc_module._crc32c_impl(view, path, crc)
        assert got == pypi.crc32c(view, crc), (path, size, start)
        if size <= 4096:
            assert got == crc32c_ref.crc32c(view, crc), (path, size, start)


@pytest.mark.parametrize("path", PATHS)
def test_random_lengths_and_alignments(path):
    pypi = pytest.importorskip("crc32c")
    rng = np.random.default_rng(11)
    data = random_bytes(1 << 21, seed=11)
    for _ in range(200):
        size = int(rng.integers(0, 1 << 20)) if rng.random() < 0.3 else int(rng.integers(0, 3000))
        start = int(rng.integers(0, 128))
        view = memoryview(data)[start:start + size]
        assert crc_module._crc32c_impl(view, path) == pypi.crc32c(view), (path, size, start)


@pytest.mark.parametrize("path", PATHS)
def test_large_buffer_every_path(path):
    pypi = pytest.importorskip("crc32c")
    data = np.random.default_rng(5).integers(0, 256, (64 << 20) + 4093, dtype=np.uint8)
    view = memoryview(data)[3:]
    assert crc_module._crc32c_impl(view, path) == pypi.crc32c(view)


def test_chunks_path_follows_chunk_size():
    for chunk in (1, 100, 512, 4096, 1 << 20):
        assert crc_module.chunks_path(chunk) in crc_module.SUPPORTED
    assert crc_module.CHUNKS_PATH == crc_module.chunks_path(512)
    assert kernels.crc32c_chunks(random_bytes(5000, 1), 4096) == crc32c_ref.crc32c_chunks(random_bytes(5000, 1), 4096)


def test_fold_constants_in_header_match_derivation():
    """tb_crc_fold.h's constants are the ones kernels/crc32c_fold.py derives (x^k mod P, reflected)."""
    import re
    from pathlib import Path

    from kernels import crc32c_fold
    header = (Path(crc32c_fold.__file__).parent / "tb_crc_fold.h").read_text()
    found = {m.group(1): int(m.group(2), 16)
             for m in re.finditer(r"#define TB_(FOLD\d+_(?:LO|HI)) 0x([0-9a-f]+)ull", header)}
    expected = {}
    for name, (k_lo, k_hi) in crc32c_fold.constants().items():
        expected[f"{name}_LO"], expected[f"{name}_HI"] = k_lo, k_hi
    assert found == expected


def test_fused_constants_in_header_are_the_generated_lines():
    """tb_crc_fused.h's layouts, fold and shift constants are exactly what kernels/crc32c_fold.py prints."""
    from pathlib import Path

    from kernels import crc32c_fold
    header = (Path(crc32c_fold.__file__).parent / "tb_crc_fused.h").read_text()
    begin = header.index("/* generated by kernels/crc32c_fold.py: begin */\n") + len(
        "/* generated by kernels/crc32c_fold.py: begin */\n")
    end = header.index("\n/* generated by kernels/crc32c_fold.py: end */")
    assert header[begin:end].splitlines() == crc32c_fold.fused_header_lines()


def test_shift_by_zero_bytes_in_python_matches_reference():
    """A raw register shifted over n zero bytes (one clmul by x^(8n-33) mod P, one crc32 from 0) is the
    register of the message followed by n zero bytes."""
    from kernels import crc32c_fold

    def raw(data):      # the register with no inversions, from 0
        return crc32c_ref.crc32c(data, 0xFFFFFFFF) ^ 0xFFFFFFFF

    for n in (5, 8, 100, 704, 2112, 4160):
        message = random_bytes(37, seed=n)
        assert crc32c_fold.shift_register(raw(message), n) == raw(message + bytes(n)), n


@pytest.mark.parametrize("layout", ["FUSED128", "FUSED256", "FUSED512"])
def test_fused_algorithm_in_python_matches_reference(layout):
    """The fused kernel's algorithm on integers (blocks, gap folds, shifted streams) gives the reference CRC."""
    from kernels import crc32c_fold
    block = crc32c_fold.fused_sizes(crc32c_fold.FUSED[layout])["B"]
    rng = np.random.default_rng(block)
    for size in (block, block + 1, 2 * block + 15, 3 * block + 100):
        data = random_bytes(size, seed=size)
        crc = int(rng.integers(0, 1 << 32))
        assert crc32c_fold.crc32c_fused(data, crc, layout) == crc32c_ref.crc32c(data, crc), (layout, size)


def _fused_block(path):
    from kernels import crc32c_fold
    name = {"fused128": "FUSED128", "fused256": "FUSED256", "fused512": "FUSED512"}.get(path)
    return crc32c_fold.fused_sizes(crc32c_fold.FUSED[name])["B"] if name else 4096


@pytest.mark.parametrize("path", PATHS)
def test_every_length_to_2k_at_every_alignment(path):
    """Every length 0..2100 at each of 8 start offsets (and 16 more lengths at all 64 offsets), with a running
    CRC, against the crc32c package; every 7th against the pure-Python reference too."""
    pypi = pytest.importorskip("crc32c")
    data = random_bytes(4300, seed=21)
    view = memoryview(data)
    rng = np.random.default_rng(21)
    for size in range(2101):
        for start in range(0, 64, 8):
            crc = int(rng.integers(0, 1 << 32))
            got = crc_module._crc32c_impl(view[start:start + size], path, crc)
            assert got == pypi.crc32c(view[start:start + size], crc), (path, size, start)
            if (size + start) % 7 == 0:
                assert got == crc32c_ref.crc32c(view[start:start + size], crc), (path, size, start)
    for size in (1, 15, 16, 31, 63, 64, 65, 255, 511, 512, 513, 1023, 1024, 1025, 2047, 2048):
        for start in range(64):
            assert crc_module._crc32c_impl(view[start:start + size], path) == pypi.crc32c(view[start:start + size])


@pytest.mark.parametrize("path", PATHS)
def test_every_length_around_the_fused_blocks(path):
    """Each length within 40 bytes of 1, 2, 3 and 5 whole blocks of the fused layout (4 KiB for the other
    paths), at unaligned starts, with a running CRC: the merge of the streams and the tail after the blocks."""
    pypi = pytest.importorskip("crc32c")
    block = _fused_block(path)
    data = random_bytes(5 * block + 200, seed=block)
    view = memoryview(data)
    rng = np.random.default_rng(block)
    for blocks in (1, 2, 3, 5):
        for size in range(blocks * block - 40, blocks * block + 41):
            start = int(rng.integers(0, 64))
            crc = int(rng.integers(0, 1 << 32))
            chunk = view[start:start + size]
            assert crc_module._crc32c_impl(chunk, path, crc) == pypi.crc32c(chunk, crc), (path, size, start)
    for size in (block - 1, block, 2 * block + 7):
        chunk = view[3:3 + size]
        assert crc_module._crc32c_impl(chunk, path, 0x12345678) == crc32c_ref.crc32c(chunk, 0x12345678)


@pytest.mark.parametrize("path", PATHS)
def test_lengths_around_the_fused_upper_bound(path):
    """Around 8 MiB (TB_FUSED_MAX_BYTES in tb_crc_fused.h: longer buffers go to plain folding), at an odd start."""
    pypi = pytest.importorskip("crc32c")
    data = memoryview(random_bytes((8 << 20) + 64, seed=8))
    for size in ((8 << 20) - 1, 8 << 20, (8 << 20) + 1, (8 << 20) + 33):
        assert crc_module._crc32c_impl(data[5:5 + size], path, 77) == pypi.crc32c(data[5:5 + size], 77), size


@pytest.mark.parametrize("path", PATHS)
def test_chained_across_block_boundaries(path):
    """A buffer checksummed in pieces cut at random places (inside and across fused blocks) gives the CRC of
    the whole, each piece continued from the last one's value."""
    pypi = pytest.importorskip("crc32c")
    data = random_bytes(300_000, seed=31)
    rng = np.random.default_rng(31)
    for _ in range(20):
        cuts = sorted(int(c) for c in rng.integers(0, len(data), int(rng.integers(1, 12))))
        crc = 0
        for a, b in zip([0] + cuts, cuts + [len(data)]):
            crc = crc_module._crc32c_impl(memoryview(data)[a:b], path, crc)
        assert crc == pypi.crc32c(data)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("chunk", [512, 1024, 2048, 4096, 2100, 65536])
def test_chunks_on_every_path_against_the_whole_buffer_crc(path, chunk):
    """HDFS chunk mode on each path, at chunk sizes below, at and above a fused block, at an odd start."""
    data = memoryview(random_bytes(3 * 65536 + 1001, seed=chunk))[1:]
    got = crc_module._crc32c_chunks_impl(data, chunk, path)
    values = struct.unpack(f">{len(got) // 4}I", got)
    assert values == tuple(kernels.crc32c(data[i:i + chunk]) for i in range(0, len(data), chunk))


@pytest.mark.parametrize("lanes", [1, 4, 8, 16])
def test_folding_algorithm_in_python_matches_reference(lanes):
    """The derivation itself: folding with those constants, on integers, gives the reference CRC."""
    from kernels import crc32c_fold
    rng = np.random.default_rng(lanes)
    for size in (16 * lanes, 16 * lanes + 1, 16 * lanes + 15, 300, 1000):
        if size < 16 * lanes:
            continue
        data = random_bytes(size, seed=size)
        crc = int(rng.integers(0, 1 << 32))
        assert crc32c_fold.crc32c_folded(data, crc, lanes) == crc32c_ref.crc32c(data, crc)


def test_x_pow_mod_p_small_cases():
    from kernels import crc32c_fold
    assert crc32c_fold.xpow_mod(0) == 1 and crc32c_fold.xpow_mod(31) == 1 << 31
    assert crc32c_fold.xpow_mod(32) == crc32c_fold.POLY ^ (1 << 32)   # x^32 = P - x^32 (mod P)
    assert crc32c_fold.POLY == 0x11EDC6F41
