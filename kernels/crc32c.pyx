# cython: language_level=3, boundscheck=False, wraparound=False
"""CRC32C (Castagnoli) kernel: whole buffers and HDFS-style per-chunk checksums.

CPU paths, fastest first; the best one this CPU has is chosen once at import (from CPUID, so the module
loads and runs on any x86-64 CPU, and elsewhere on the table path):
  - "fused512":   the `crc32` instruction in three streams on the scalar ports and VPCLMULQDQ folding on 512-bit
                  registers on the vector ports, at the same time, over different parts of each block
                  (kernels/tb_crc_fused.h);
  - "vpclmul512": carry-less folding with VPCLMULQDQ on 512-bit (AVX-512) registers (kernels/tb_crc_fold.h);
  - "fused256":   the fused kernel with 256-bit (AVX2) VPCLMULQDQ folding;
  - "fused128":   the fused kernel with PCLMULQDQ folding on 128-bit registers (SSE4.2 + PCLMULQDQ: the CRC
                  instructions of AVX2 CPUs without VPCLMULQDQ, Haswell to Skylake, Zen 1 / 2);
  - "vpclmul256": carry-less folding on 256-bit registers;
  - "pclmul":     carry-less folding with PCLMULQDQ on 128-bit registers;
  - "sse42":      the SSE4.2 `crc32` instruction, three interleaved streams (kernels/tb_crc.h);
  - "table":      slice-by-8 tables.
The fused paths hand buffers shorter than one block (3-4 KiB), and the bytes after the last whole block, to the
folding path of their width; the folding paths hand short buffers and the last bytes (< 16) to the "sse42" path.
``TIERBENCH_CRC_ISA`` (kernels/crc32c_isa.py) limits the paths to those of a lower CPU class, e.g. ``avx2`` runs
as a CPU without AVX-512 would; ``ISA_LIMIT`` names the limit in force (None: none). ``PATH`` names the path
crc32c() uses, ``CHUNKS_PATH`` the one crc32c_chunks() uses for HDFS's 512-byte chunks (``chunks_path(n)``
for others: the fastest measured at that size, see _CHUNK_FOLD_MIN);
``_crc32c_impl`` and ``_crc32c_chunks_impl`` run any path the CPU has on demand, so tests check each one.
"""
from libc.stdint cimport uint32_t

cdef extern from "tb_crc.h" nogil:
    void tb_crc_init()
    int tb_cpu_has_sse42()
    uint32_t tb_crc32c_table_update(uint32_t crc, const unsigned char* p, size_t n)
    uint32_t tb_crc32c_sse42_update(uint32_t crc, const unsigned char* p, size_t n)
    void tb_crc32c_sse42_chunks3(const unsigned char* p, size_t length, uint32_t* out)
    void tb_store_be32(unsigned char* dst, uint32_t v)
    void tb_prefetch_range(const unsigned char* p, size_t n)

cdef extern from "tb_crc_fused.h" nogil:
    uint32_t tb_crc32c_fused128_update(uint32_t crc, const unsigned char* p, size_t n)
    uint32_t tb_crc32c_fused256_update(uint32_t crc, const unsigned char* p, size_t n)
    uint32_t tb_crc32c_fused512_update(uint32_t crc, const unsigned char* p, size_t n)

cdef extern from "tb_crc_fold.h" nogil:
    int tb_cpu_has_pclmul()
    int tb_cpu_has_vpclmul256()
    int tb_cpu_has_vpclmul512()
    uint32_t tb_crc32c_pclmul_update(uint32_t crc, const unsigned char* p, size_t n)
    uint32_t tb_crc32c_vpclmul256_update(uint32_t crc, const unsigned char* p, size_t n)
    uint32_t tb_crc32c_vpclmul512_update(uint32_t crc, const unsigned char* p, size_t n)

from kernels.crc32c_isa import allowed_paths, isa_limit
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING

ctypedef uint32_t (*update_fn)(uint32_t crc, const unsigned char* p, size_t n) noexcept nogil

tb_crc_init()

PATHS = ("fused512", "vpclmul512", "fused256", "vpclmul256", "fused128", "pclmul", "sse42", "table")
#: The paths this CPU has (CPUID), whatever the limit.
HARDWARE = tuple(p for p, ok in zip(PATHS, (tb_cpu_has_vpclmul512(), tb_cpu_has_vpclmul512(), tb_cpu_has_vpclmul256(),
                                            tb_cpu_has_vpclmul256(), tb_cpu_has_pclmul(), tb_cpu_has_pclmul(),
                                            tb_cpu_has_sse42(), 1))
                 if ok)
#: The CPU class TIERBENCH_CRC_ISA limits the paths to (None: no limit); a bad value fails the import.
ISA_LIMIT = isa_limit()
#: The paths this CPU can run under that limit.
SUPPORTED = tuple(p for p in HARDWARE if p in allowed_paths(ISA_LIMIT))
# Which path runs, by preference (kernels/crc32c_isa.LEVELS lists the paths in this order): per CPU class,
# from CPUID, the fastest measured (docs/crc32c.md). A fused path before the plain folding of its width: the
# crc32 instruction's port and the vector ports work at once, so it adds the two rates (measured on Zen 5:
# about 2x vpclmul256 and 1.4x vpclmul512 in cache, and "fused128" 1.7x "sse42", ahead of vpclmul256 too; Corsix
# measured the same kind of gain on Intel Cascade Lake, Ice Lake and Sapphire Rapids). "pclmul" alone is not preferred to "sse42": PCLMULQDQ on 128-bit registers
# folds 16 bytes per two multiplies, which at one multiply a cycle (Intel) only matches the crc32
# instruction's 8 bytes a cycle, and on Zen 5 (one every two cycles) falls to half of it (measured: about
# 10 GB/s against 32). It pays on wide registers, where one instruction multiplies two or four lanes.
_PREFERENCE = allowed_paths(None)
#: The CPU path that crc32c() uses on this machine.
PATH = next(p for p in _PREFERENCE if p in SUPPORTED)


def path_label(str path):
    """A path as cases record it: its name, and the limit when one is in force (e.g. "fused256,isa=avx2")."""
    return path if ISA_LIMIT is None else f"{path},isa={ISA_LIMIT}"
# crc32c_chunks: the shortest chunk worth folding on its own on each folding path; shorter chunks go three
# at a time through the crc32 instruction ("sse42"), whose three independent chains need no join. Measured
# on Zen 5 (GB/s on 1 MiB, 512 / 1024 / 4096-byte chunks): vpclmul512 43 / 51 / 60, vpclmul256 17 / 27 / 32,
# sse42 31 / 30 / 33. Where nothing was measured (pclmul), the three-at-a-time path stays.
# The fused paths fold chunks shorter than a block (3-4 KiB) by their width's plain folding path.
_CHUNK_FOLD_MIN = {"fused512": 512, "vpclmul512": 512, "fused256": 4096, "vpclmul256": 4096, "fused128": 4096}
# Releasing the GIL costs about a microsecond: not worth it for a few KiB.
cdef size_t _NOGIL_MIN_BYTES = 65536


cdef update_fn _fn_of(str path) except NULL:
    if path not in PATHS:
        raise ValueError(f"unknown CRC32C path {path!r}: choose one of {PATHS}")
    if path not in SUPPORTED:
        limit = f" under TIERBENCH_CRC_ISA={ISA_LIMIT}" if ISA_LIMIT is not None else ""
        raise RuntimeError(f"this CPU cannot run the CRC32C path {path!r}{limit}: it can run {SUPPORTED}")
    if path == "fused512":
        return tb_crc32c_fused512_update
    if path == "fused256":
        return tb_crc32c_fused256_update
    if path == "fused128":
        return tb_crc32c_fused128_update
    if path == "vpclmul512":
        return tb_crc32c_vpclmul512_update
    if path == "vpclmul256":
        return tb_crc32c_vpclmul256_update
    if path == "pclmul":
        return tb_crc32c_pclmul_update
    if path == "sse42":
        return tb_crc32c_sse42_update
    return tb_crc32c_table_update


cdef update_fn _best = _fn_of(PATH)


cdef uint32_t crc32c_update(uint32_t crc, const unsigned char* p, size_t n) noexcept nogil:
    return _best(crc, p, n)


cdef void _chunks_core(const unsigned char* p, size_t n, size_t chunk, update_fn fn, bint three,
                       unsigned char* out) noexcept nogil:
    """One big-endian CRC32C per `chunk` bytes of p[0:n] into out (4 bytes each); `three`: three chunks at a
    time through the crc32 instruction (the "sse42" path), else each chunk by `fn`."""
    cdef uint32_t crcs[3]
    cdef size_t i, k
    cdef size_t full = n // chunk
    cdef size_t done = 0
    cdef size_t group = 3 * chunk
    if three:
        while done + 3 <= full:
            # One group ahead (plus the line a misaligned group spills into): close enough to
            # stay in L1, far enough to hide DRAM latency. Only for small chunks: for big ones
            # the hardware prefetcher copes and a burst of prefetches costs more than it saves.
            if chunk <= 1024 and (done + 6) * chunk + 64 <= n:
                tb_prefetch_range(p + (done + 3) * chunk, group + 64)
            tb_crc32c_sse42_chunks3(p + done * chunk, chunk, crcs)
            for k in range(3):
                tb_store_be32(out + 4 * (done + k), crcs[k])
            done += 3
    for i in range(done, full):
        tb_store_be32(out + 4 * i, fn(0, p + i * chunk, chunk))
    if full * chunk < n:
        tb_store_be32(out + 4 * full, fn(0, p + full * chunk, n - full * chunk))


cdef const unsigned char[::1] _as_bytes(obj):
    # Any buffer (numpy arrays of any dtype, pyarrow.Buffer, bytes): viewed as bytes, not copied.
    cdef object view = memoryview(obj)
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    return view


cdef uint32_t _crc_of(update_fn fn, data, uint32_t crc) except? 0xFFFFFFFF:
    # The buffer protocol directly (no memoryview objects): at 64 KiB the call costs as much as a
    # third of the CRC itself otherwise.
    cdef Py_buffer view
    cdef uint32_t result
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        if <size_t>view.len >= _NOGIL_MIN_BYTES:
            with nogil:
                result = fn(crc, <const unsigned char*>view.buf, <size_t>view.len)
        else:
            result = fn(crc, <const unsigned char*>view.buf, <size_t>view.len)
    finally:
        PyBuffer_Release(&view)
    return result


def _crc32c_impl(data, str path, unsigned int crc=0):
    """CRC32C of `data` continued from `crc`, on the named CPU path (one of SUPPORTED)."""
    return _crc_of(_fn_of(path), data, crc)


def _crc32c_chunks_impl(data, Py_ssize_t bytes_per_checksum, str path):
    """Per-chunk CRC32C of `data` on the named CPU path; see crc32c_chunks()."""
    cdef update_fn fn = _fn_of(path)
    cdef bint three = path == "sse42"
    if bytes_per_checksum <= 0:
        raise ValueError(f"bytes_per_checksum must be positive, got {bytes_per_checksum}")
    cdef const unsigned char[::1] buf = _as_bytes(data)
    cdef size_t n = buf.shape[0]
    cdef size_t chunk = <size_t>bytes_per_checksum
    cdef size_t count = (n + chunk - 1) // chunk
    out = PyBytes_FromStringAndSize(NULL, 4 * count)
    cdef unsigned char* dst = <unsigned char*>PyBytes_AS_STRING(out)
    cdef const unsigned char* p = &buf[0] if n else NULL
    if n >= _NOGIL_MIN_BYTES:
        with nogil:
            _chunks_core(p, n, chunk, fn, three, dst)
    elif n:
        _chunks_core(p, n, chunk, fn, three, dst)
    return out


def chunks_path(Py_ssize_t bytes_per_checksum):
    """The path crc32c_chunks() uses for chunks of this size on this machine."""
    if bytes_per_checksum >= _CHUNK_FOLD_MIN.get(PATH, 1 << 62) or "sse42" not in SUPPORTED:
        return PATH
    return "sse42"


#: The path crc32c_chunks() uses for HDFS's 512-byte chunks on this machine.
CHUNKS_PATH = chunks_path(512)


def crc32c(data, unsigned int crc=0):
    """CRC32C (Castagnoli) of a buffer, as an int in [0, 2**32).

    `data` is any buffer-protocol object (read in place, not copied); `crc` continues a running
    checksum: ``crc32c(b, crc32c(a)) == crc32c(a + b)``.
    """
    return _crc_of(_best, data, crc)


def crc32c_chunks(data, Py_ssize_t bytes_per_checksum=512):
    """One 4-byte big-endian CRC32C per `bytes_per_checksum`-byte chunk of `data`, as bytes.

    This is the body of an HDFS block's ``.meta`` file (after its 7-byte header): the last chunk
    may be short; an empty buffer gives an empty result.
    """
    return _crc32c_chunks_impl(data, bytes_per_checksum, chunks_path(bytes_per_checksum))
