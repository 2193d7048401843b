# cython: language_level=3, boundscheck=False, wraparound=False
"""TeraSort input: gensort 1.5 binary records, and valsort's checksum of a record buffer.

gensort builds record r from ten consecutive outputs x_{r+1} .. x_{r+10} of a 128-bit LCG
(see tb_lcg.h): the 10-byte key is the top 80 bits of x_{r+1}, and each following 10 bytes the
top 80 bits of the next output XORed with a constant of that position. So each record costs one
LCG step, and a chunk starting anywhere is reached by jumping ahead, never by replaying:
chunks are generated on several threads with the GIL released.
"""
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from kernels._threads import thread_count as _thread_count
from libc.stdint cimport uint32_t, uint64_t

cdef extern from "tb_lcg.h" nogil:
    # Really `unsigned __int128`: only handled through the helpers below, never in Cython math.
    ctypedef unsigned long long tb_u128
    tb_u128 tb_u128_make(uint64_t hi, uint64_t lo)
    uint64_t tb_u128_hi(tb_u128 v)
    uint64_t tb_u128_lo(tb_u128 v)
    tb_u128 tb_lcg_next(tb_u128 x)
    tb_u128 tb_lcg_skip(tb_u128 n)
    void tb_store_top80(unsigned char* dst, uint64_t hi, uint64_t lo)

cdef extern from "tb_crc.h" nogil:
    void tb_crc_init()
    uint64_t tb_crc32_record_sum(const unsigned char* p, size_t count, size_t length)

tb_crc_init()

#: Bytes per gensort record; the key is the first KEY_BYTES of it.
RECORD_BYTES = 100
KEY_BYTES = 10
cdef Py_ssize_t _RECORD = RECORD_BYTES
IMPLEMENTATION = {"teragen": "cython:teragen/lcg128", "record_checksum": "cython:teragen/crc32-slice8x4"}

# gensort 1.5 gen_rec(): the constant XORed into the LCG output behind each 10-byte part
# (high 64 bits, and the 16 bits below them). Part 0, the key, is not XORed.
cdef uint64_t _XOR_HI[10]
cdef uint64_t _XOR_LO[10]
_XOR_HI[:] = [0, 0xF0E8E4E2E1D8D4D2, 0xCAC9C6C5C3B8B4B2, 0xAAA9A6A5A39C9A99, 0x938E8D8B87787472,
              0x6A696665635C5A59, 0x534E4D4B473C3A39, 0x332E2D2B271E1D1B, 0xC8C4C2C198949291,
              0x170F332E2D2B271E]
_XOR_LO[:] = [0, 0xD1CC000000000000, 0xB1AC000000000000, 0x9695000000000000, 0x716C000000000000,
              0x5655000000000000, 0x3635000000000000, 0x170F000000000000, 0x8CE0000000000000,
              0x1D1B000000000000]

# Records generated per batch of LCG outputs kept on the stack (16 KiB of states).
DEF _BATCH = 1024
_U128_MASK = (1 << 128) - 1


cdef void _teragen_core(uint64_t first_hi, uint64_t first_lo, size_t count,
                        unsigned char* out) noexcept nogil:
    """Records first .. first+count-1 (128-bit record number) into out[0 : 100*count]."""
    cdef tb_u128 states[_BATCH + 9]
    cdef size_t done = 0, batch, j, k
    cdef unsigned char* rec
    cdef tb_u128 x
    if count == 0:
        return
    x = tb_lcg_next(tb_lcg_skip(tb_u128_make(first_hi, first_lo)))
    for k in range(9):
        states[k] = x
        x = tb_lcg_next(x)
    while done < count:
        batch = count - done if count - done < _BATCH else _BATCH
        for j in range(9, batch + 9):
            states[j] = x
            x = tb_lcg_next(x)
        for j in range(batch):
            rec = out + (done + j) * 100
            for k in range(10):
                tb_store_top80(rec + 10 * k, tb_u128_hi(states[j + k]) ^ _XOR_HI[k],
                               tb_u128_lo(states[j + k]) ^ _XOR_LO[k])
        # The next batch's first records need the last nine outputs of this one.
        for k in range(9):
            states[k] = states[batch + k]
        done += batch


cdef uint64_t _checksum_core(const unsigned char* p, size_t count) noexcept nogil:
    """Sum of the zlib CRC32 of each 100-byte record (wraps past 2**64: 4 G records)."""
    return tb_crc32_record_sum(p, count, 100)


cdef const unsigned char[::1] _as_bytes(obj):
    # Any buffer (numpy arrays of any dtype, pyarrow.Buffer, bytes): viewed as bytes, not copied.
    cdef object view = memoryview(obj)
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    return view


def _run_split(worker, Py_ssize_t count, Py_ssize_t threads):
    """Call worker(start, n) over `threads` contiguous slices of range(count); return results."""
    bounds = [count * t // threads for t in range(threads + 1)]
    jobs = [(bounds[t], bounds[t + 1] - bounds[t]) for t in range(threads)]
    if threads == 1:
        return [worker(*jobs[0])]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(lambda job: worker(*job), jobs))


def _teragen_part(unsigned char[::1] out, first_record, Py_ssize_t start, Py_ssize_t n):
    """Records first_record+start .. +n into out[100*start : 100*(start+n)] (GIL released)."""
    number = (first_record + start) & _U128_MASK
    cdef uint64_t hi = number >> 64
    cdef uint64_t lo = number & 0xFFFFFFFFFFFFFFFF
    if n == 0:
        return
    with nogil:
        _teragen_core(hi, lo, n, &out[start * _RECORD])


def _checksum_part(records, Py_ssize_t start, Py_ssize_t n):
    """Checksum of records start .. start+n of a record buffer (GIL released)."""
    cdef const unsigned char[::1] buf = _as_bytes(records)
    cdef uint64_t part
    if n == 0:
        return 0
    with nogil:
        part = _checksum_core(&buf[start * _RECORD], n)
    return part


def teragen(first_record, count, threads=None):
    """`count` gensort 1.5 binary records from record number `first_record`, as a uint8 array.

    Byte-identical to ``gensort -b<first_record> <count> FILE``: 100 bytes per record, the first
    10 the sort key. `threads` (default: the CPUs this process may use) generate contiguous
    slices in parallel with the GIL released. The result is a NumPy array rather than bytes
    because NumPy asks for transparent huge pages: first-touch page faults on a fresh 1 GB
    buffer cost several times the generation itself with 4 KiB pages.
    """
    if not 0 <= first_record <= _U128_MASK:
        raise ValueError(f"first_record must be in [0, 2**128), got {first_record}")
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    out = np.empty(count * RECORD_BYTES, dtype=np.uint8)
    _run_split(lambda start, n: _teragen_part(out, first_record, start, n),
               count, _thread_count(threads, count))
    return out


def record_checksum(records, threads=None):
    """valsort's checksum of a buffer of 100-byte records: the sum of each record's zlib CRC32.

    Printed by ``valsort`` and ``gensort -c`` in hex; the order of records does not matter, so
    it checks that a sort neither lost nor altered a record. `records` is any buffer, not copied.
    """
    size = memoryview(records).nbytes
    if size % RECORD_BYTES:
        raise ValueError(f"buffer of {size} bytes is not a whole number of {RECORD_BYTES}-byte records")
    count = size // RECORD_BYTES
    return sum(_run_split(lambda start, n: _checksum_part(records, start, n),
                          count, _thread_count(threads, count)))
