/* tb_lcg.h - the 128-bit linear congruential generator of gensort 1.5 and Hadoop's TeraGen.
 *
 *   x_{n+1} = a * x_n + c  (mod 2^128),  x_0 = 0,
 *   a = 0x2360ed051fc65da44385df649fccf645   (L'Ecuyer's table),
 *   c = 0x4a696d47726179524950202020202001   ("JimGrayRIP" followed by spaces, made odd).
 *
 * Record r of gensort's output is built from x_{r+1} .. x_{r+10}. Jumping ahead composes the
 * affine map with itself by repeated squaring, so any record is reached in 128 steps at most.
 */
#ifndef TB_LCG_H
#define TB_LCG_H

#include <stdint.h>
#include <string.h>

typedef unsigned __int128 tb_u128;

#define TB_U128(hi, lo) (((tb_u128)(hi) << 64) | (tb_u128)(lo))
#define TB_LCG_A TB_U128(0x2360ed051fc65da4ULL, 0x4385df649fccf645ULL)
#define TB_LCG_C TB_U128(0x4a696d4772617952ULL, 0x4950202020202001ULL)

static inline tb_u128 tb_u128_make(uint64_t hi, uint64_t lo) { return TB_U128(hi, lo); }
static inline uint64_t tb_u128_hi(tb_u128 v) { return (uint64_t)(v >> 64); }
static inline uint64_t tb_u128_lo(tb_u128 v) { return (uint64_t)v; }

static inline tb_u128 tb_lcg_next(tb_u128 x) { return TB_LCG_A * x + TB_LCG_C; }

/* x_n: the generator's state n steps after 0. */
static inline tb_u128 tb_lcg_skip(tb_u128 n)
{
    tb_u128 mult = TB_LCG_A, add = TB_LCG_C, x = 0;
    while (n) {
        if (n & 1)
            x = mult * x + add;
        /* the map applied twice: a*(a*x + c) + c */
        add = mult * add + add;
        mult = mult * mult;
        n >>= 1;
    }
    return x;
}

/* The top 80 bits of v, big-endian, into dst[0:10] (gensort's ASSIGN_10_BYTES). */
static inline void tb_store_top80(unsigned char *dst, uint64_t hi, uint64_t lo)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    uint64_t be = hi;
#else
    uint64_t be = __builtin_bswap64(hi);
#endif
    memcpy(dst, &be, 8);
    dst[8] = (unsigned char)(lo >> 56);
    dst[9] = (unsigned char)(lo >> 48);
}

#endif /* TB_LCG_H */
