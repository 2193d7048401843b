# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The builtin I/O engine's write pattern and CRC32C checks (kernels/ioloop_checksum_ref.py is the reference).

Checksums (checksum_chunk > 0): after each transfer, outside the timed part of the op, the thread computes the
CRC32C of every chunk of its buffer (kernels.crc32c's C function, the CPU work of a DataNode's `.meta`
checksums) and compares it with the CRC32C the chunk was written with. That expected CRC costs no second pass
over the data: CRC32C is affine over GF(2), so for a chunk of the write pattern P with sector stamps v_k,
crc(P ^ S(v)) = crc(P with stamps zeroed) ^ R(0, S(v)), where R is the raw register update, linear in the
stamps. The first term is one value per chunk of a block (`base`); the second is 8 table lookups per stamp
(`ctab`: for each sector of a chunk and byte of its stamp, the 256 contributions of that byte followed by the
rest of the chunk in zero bytes). Reads check what the write phase of (written_seed, written_bs) left; writes
check their own buffer, as the last DataNode of a pipeline checks the client's checksums.
"""
from libc.stdint cimport uint32_t, uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memset
from posix.stdlib cimport posix_memalign

from kernels.crc32c cimport crc32c_update
from kernels.ioloop_checksum_ref import check_chunk
from kernels.ioloop_state cimport IOL_GOLDEN, PAGE, SECTOR, Shared, iol_mix64, iol_store_le64

__all__ = ["IMPLEMENTATION", "expected_crcs", "write_pattern"]

IMPLEMENTATION = "cython:ioloop_checksum"


cdef inline uint32_t _expected(Shared* sh, uint64_t o, uint64_t vkey) noexcept nogil:
    """The CRC32C the chunk at file offset `o` was written with, from the tables: its pattern chunk's CRC with
    the stamps zeroed (base), and each sector's stamp vkey + offset added byte by byte (ctab)."""
    cdef uint64_t k, v
    cdef const uint32_t* t
    cdef int j
    cdef uint32_t expect = sh.base[(o % sh.vbs) // sh.chunk]
    for k in range(sh.chunk // SECTOR):
        v = vkey + o + k * SECTOR
        t = sh.ctab + k * 2048
        for j in range(8):
            expect ^= t[j * 256 + ((v >> (8 * j)) & 0xFF)]
    return expect


cdef int checksum_block(Shared* sh, const unsigned char* buf, uint64_t off, uint64_t vkey, uint64_t* count,
                        uint64_t* bad_offset, uint32_t* got, uint32_t* want) noexcept nogil:
    """CRC32C of each chunk of the block at file offset `off`, checked against the written one: 0, or 1 with
    the first bad chunk's offset and CRCs."""
    cdef uint64_t chunk = sh.chunk
    cdef uint64_t i, c, o
    cdef uint32_t crc, expect
    cdef uint64_t nchunks = sh.bs // chunk
    for i in range(nchunks):
        c = i * chunk
        crc = crc32c_update(0, buf + c, chunk)
        count[0] += 1
        o = off + c
        expect = _expected(sh, o, vkey)
        if crc != expect:
            bad_offset[0] = o
            got[0] = crc
            want[0] = expect
            return 1
    return 0


cdef void* aligned(size_t n) noexcept nogil:
    """n zeroed bytes aligned for O_DIRECT (PAGE), or NULL."""
    cdef void* p = NULL
    if posix_memalign(&p, PAGE, n) != 0:
        return NULL
    memset(p, 0, n)  # touch every page now rather than inside the first timed operation
    return p


cdef inline uint32_t _raw(uint32_t reg, const unsigned char* p, size_t n) noexcept nogil:
    """The CRC32C register after p[0:n] from `reg`, without the initial and final inversions (linear)."""
    return ~crc32c_update(~reg, p, n)


cdef int checksum_tables(Shared* sh, uint64_t pattern_key) noexcept nogil:
    """sh.base and sh.ctab for chunks of sh.chunk bytes of blocks of sh.vbs bytes (see the module docstring).
    Returns 0, or -1 when out of memory."""
    cdef uint64_t chunk = sh.chunk
    cdef uint64_t nsect = chunk // SECTOR
    cdef uint64_t nbase = sh.vbs // chunk
    cdef uint64_t i, k
    cdef unsigned x, low, bit
    cdef int j, b
    cdef unsigned char one[8]
    cdef unsigned char zeros[SECTOR]
    cdef uint32_t* g = <uint32_t*>calloc(nsect * 64, sizeof(uint32_t))
    cdef uint32_t* t
    cdef unsigned char* pattern = <unsigned char*>aligned(sh.vbs)
    sh.base = <uint32_t*>calloc(nbase, sizeof(uint32_t))
    sh.ctab = <uint32_t*>calloc(nsect * 2048, sizeof(uint32_t))
    if g == NULL or pattern == NULL or sh.base == NULL or sh.ctab == NULL:
        free(g)
        free(pattern)
        return -1
    fill_pattern(pattern, sh.vbs, pattern_key)
    for i in range(sh.vbs // SECTOR):
        memset(pattern + i * SECTOR, 0, 8)
    for i in range(nbase):
        sh.base[i] = crc32c_update(0, pattern + i * chunk, chunk)
    free(pattern)
    # g[k * 64 + b]: R(0, chunk with only bit b of sector k's stamp set); sector k is followed by
    # chunk - k * SECTOR - 8 bytes, so each sector's vector is the next one's run through SECTOR zero bytes.
    memset(zeros, 0, SECTOR)
    for b in range(64):
        memset(one, 0, 8)
        one[b // 8] = <unsigned char>(1 << (b % 8))
        g[(nsect - 1) * 64 + b] = _raw(_raw(0, one, 8), zeros, SECTOR - 8)
    for k in range(nsect - 1, 0, -1):
        for b in range(64):
            g[(k - 1) * 64 + b] = _raw(g[k * 64 + b], zeros, SECTOR)
    for k in range(nsect):
        for j in range(8):
            t = sh.ctab + k * 2048 + j * 256
            for x in range(1, 256):
                low = x & (~x + 1)
                bit = 0
                while (1u << bit) != low:
                    bit += 1
                t[x] = t[x ^ low] ^ g[k * 64 + j * 8 + bit]
    free(g)
    return 0


cdef void fill_pattern(unsigned char* buf, size_t n, uint64_t key) noexcept nogil:
    """ioloop_checksum_ref.write_pattern: little-endian words mix64(key + i * GOLDEN), zero bytes replaced.
    n: a multiple of 8 bytes."""
    cdef size_t i
    for i in range(0, n, 8):
        iol_store_le64(buf + i, iol_mix64(key + <uint64_t>(i // 8) * IOL_GOLDEN))
    for i in range(n):
        if buf[i] == 0:
            buf[i] = 0x5A


def write_pattern(pattern_key, nbytes):
    """The first `nbytes` bytes every write buffer starts from (bytes), as the threads' buffers are filled:
    ioloop_checksum_ref.write_pattern's bytes."""
    nbytes = int(nbytes)
    if nbytes < 0:
        raise ValueError(f"nbytes must be >= 0, not {nbytes}")
    cdef size_t n = (<size_t>nbytes + 7) // 8 * 8
    cdef unsigned char* buf = <unsigned char*>aligned(n if n else 8)
    if buf == NULL:
        raise MemoryError()
    try:
        fill_pattern(buf, n, <uint64_t>(int(pattern_key) & 0xFFFFFFFFFFFFFFFF))
        return buf[:nbytes]
    finally:
        free(buf)


def expected_crcs(pattern_key, written_bs, chunk, file_key, offsets):
    """The CRC32C of the `chunk` bytes at each of `offsets` (whole chunks) of a file an ioloop write phase wrote
    in blocks of `written_bs` from the pattern of `pattern_key`, with sector stamps file_key + offset, from the
    tables the threads check reads with (no pass over the data): ioloop_checksum_ref.expected_crcs's CRCs."""
    check_chunk(int(chunk), int(written_bs))
    cdef Shared sh
    memset(&sh, 0, sizeof(Shared))
    sh.chunk = <uint64_t>int(chunk)
    sh.vbs = <uint64_t>int(written_bs)
    key = int(file_key) & 0xFFFFFFFFFFFFFFFF
    out = []
    try:
        if checksum_tables(&sh, <uint64_t>(int(pattern_key) & 0xFFFFFFFFFFFFFFFF)) != 0:
            raise MemoryError()
        for offset in offsets:
            offset = int(offset)
            if offset < 0 or offset % int(chunk):
                raise ValueError(f"offset {offset} is not a whole number of {chunk}-byte chunks")
            out.append(_expected(&sh, <uint64_t>offset, <uint64_t>key))
        return out
    finally:
        free(sh.base)
        free(sh.ctab)
