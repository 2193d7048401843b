# C-level API of the CRC32C kernel, for other kernels (the I/O engine checksums what it writes).
from libc.stdint cimport uint32_t


# CRC32C of p[0:n] continued from `crc` (zlib convention: crc32c_update(0, data) is the CRC of
# data; crc32c_update(crc32c_update(0, a), b) is the CRC of a + b). Uses the fastest CPU path (kernels.crc32c.PATH)
# (folding paths hand buffers too short for them to the SSE4.2 crc32 path).
cdef uint32_t crc32c_update(uint32_t crc, const unsigned char* p, size_t n) noexcept nogil
