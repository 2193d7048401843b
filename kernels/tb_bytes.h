/* tb_bytes.h - big-endian loads and prefetch for the record kernels (GCC/Clang builtins). */
#ifndef TB_BYTES_H
#define TB_BYTES_H

#include <stdint.h>
#include <string.h>

static inline uint64_t tb_load_be64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return v;
#else
    return __builtin_bswap64(v);
#endif
}

static inline void tb_store_be64(unsigned char *p, uint64_t v)
{
#if !(defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__)
    v = __builtin_bswap64(v);
#endif
    memcpy(p, &v, 8);
}

static inline void tb_prefetch(const void *p) { __builtin_prefetch(p); }

#endif /* TB_BYTES_H */
