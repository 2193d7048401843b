# cython: language_level=3, boundscheck=False, wraparound=False
"""CRC32C (Castagnoli) kernel: whole buffers and HDFS-style per-chunk checksums.

The CPU path is chosen once at import: the SSE4.2 ``crc32`` instruction with three interleaved
streams where the CPU has it (checked at run time, so the module also loads on CPUs without it),
slice-by-8 tables elsewhere. ``PATH`` names the path in use; ``_crc32c_impl`` and
``_crc32c_chunks_impl`` run either path on demand so tests check both on every machine.
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

from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING

tb_crc_init()
cdef bint _HAS_SSE42 = tb_cpu_has_sse42() != 0

PATHS = ("sse42", "table")
#: The CPU path that crc32c() and crc32c_chunks() use on this machine.
PATH = "sse42" if _HAS_SSE42 else "table"
# Releasing the GIL costs about a microsecond: not worth it for a few KiB.
cdef size_t _NOGIL_MIN_BYTES = 65536


cdef uint32_t crc32c_update(uint32_t crc, const unsigned char* p, size_t n) noexcept nogil:
    if _HAS_SSE42:
        return tb_crc32c_sse42_update(crc, p, n)
    return tb_crc32c_table_update(crc, p, n)


cdef void _chunks_core(const unsigned char* p, size_t n, size_t chunk, bint sse42,
                       unsigned char* out) noexcept nogil:
    """One big-endian CRC32C per `chunk` bytes of p[0:n] into out (4 bytes each)."""
    cdef uint32_t three[3]
    cdef size_t i, k
    cdef size_t full = n // chunk
    cdef size_t done = 0
    cdef size_t group = 3 * chunk
    if sse42:
        while done + 3 <= full:
            # One group ahead (plus the line a misaligned group spills into): close enough to
            # stay in L1, far enough to hide DRAM latency. Only for small chunks: for big ones
            # the hardware prefetcher copes and a burst of prefetches costs more than it saves.
            if chunk <= 1024 and (done + 6) * chunk + 64 <= n:
                tb_prefetch_range(p + (done + 3) * chunk, group + 64)
            tb_crc32c_sse42_chunks3(p + done * chunk, chunk, three)
            for k in range(3):
                tb_store_be32(out + 4 * (done + k), three[k])
            done += 3
    for i in range(done, full):
        if sse42:
            tb_store_be32(out + 4 * i, tb_crc32c_sse42_update(0, p + i * chunk, chunk))
        else:
            tb_store_be32(out + 4 * i, tb_crc32c_table_update(0, p + i * chunk, chunk))
    if full * chunk < n:
        if sse42:
            tb_store_be32(out + 4 * full,
                          tb_crc32c_sse42_update(0, p + full * chunk, n - full * chunk))
        else:
            tb_store_be32(out + 4 * full,
                          tb_crc32c_table_update(0, p + full * chunk, n - full * chunk))


cdef const unsigned char[::1] _as_bytes(obj):
    # Any buffer (numpy arrays of any dtype, pyarrow.Buffer, bytes): viewed as bytes, not copied.
    cdef object view = memoryview(obj)
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    return view


cdef bint _want_sse42(str path) except -1:
    if path == "sse42":
        if not _HAS_SSE42:
            raise RuntimeError("this CPU has no SSE4.2: only the 'table' path can run")
        return True
    if path == "table":
        return False
    raise ValueError(f"unknown CRC32C path {path!r}: choose one of {PATHS}")


def _crc32c_impl(data, str path, unsigned int crc=0):
    """CRC32C of `data` continued from `crc`, on the named CPU path ("sse42" or "table")."""
    cdef bint sse42 = _want_sse42(path)
    cdef const unsigned char[::1] buf = _as_bytes(data)
    cdef size_t n = buf.shape[0]
    cdef const unsigned char* p = &buf[0] if n else NULL
    cdef uint32_t result
    if n >= _NOGIL_MIN_BYTES:
        with nogil:
            result = tb_crc32c_sse42_update(crc, p, n) if sse42 else tb_crc32c_table_update(crc, p, n)
    else:
        result = tb_crc32c_sse42_update(crc, p, n) if sse42 else tb_crc32c_table_update(crc, p, n)
    return result


def _crc32c_chunks_impl(data, Py_ssize_t bytes_per_checksum, str path):
    """Per-chunk CRC32C of `data` on the named CPU path; see crc32c_chunks()."""
    cdef bint sse42 = _want_sse42(path)
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
            _chunks_core(p, n, chunk, sse42, dst)
    elif n:
        _chunks_core(p, n, chunk, sse42, dst)
    return out


def crc32c(data, unsigned int crc=0):
    """CRC32C (Castagnoli) of a buffer, as an int in [0, 2**32).

    `data` is any buffer-protocol object (read in place, not copied); `crc` continues a running
    checksum: ``crc32c(b, crc32c(a)) == crc32c(a + b)``.
    """
    return _crc32c_impl(data, PATH, crc)


def crc32c_chunks(data, Py_ssize_t bytes_per_checksum=512):
    """One 4-byte big-endian CRC32C per `bytes_per_checksum`-byte chunk of `data`, as bytes.

    This is the body of an HDFS block's ``.meta`` file (after its 7-byte header): the last chunk
    may be short; an empty buffer gives an empty result.
    """
    return _crc32c_chunks_impl(data, bytes_per_checksum, PATH)
