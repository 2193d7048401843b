# C-level API of the builtin engine's checksums and write pattern (kernels/ioloop_checksum.pyx).
from libc.stdint cimport uint32_t, uint64_t

from kernels.ioloop_state cimport Shared


cdef int checksum_block(Shared* sh, const unsigned char* buf, uint64_t off, uint64_t vkey, uint64_t* count,
                        uint64_t* bad_offset, uint32_t* got, uint32_t* want) noexcept nogil
cdef int checksum_tables(Shared* sh, uint64_t pattern_key) noexcept nogil
cdef void fill_pattern(unsigned char* buf, size_t n, uint64_t key) noexcept nogil
cdef void* aligned(size_t n) noexcept nogil
