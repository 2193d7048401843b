/* tb_crc_fold.h - CRC32C (Castagnoli) by carry-less folding, for long buffers.
 *
 * Three paths, each for CPUs that have its instructions (checked at run time by the caller with
 * tb_cpu_has_pclmul() / tb_cpu_has_vpclmul256() / tb_cpu_has_vpclmul512(); the functions carry
 * __attribute__((target)), so the module needs no global -m flag and never runs an instruction the CPU lacks):
 *   - pclmul:     PCLMULQDQ on four 16-byte accumulators, 64 bytes a round;
 *   - vpclmul256: VPCLMULQDQ on TB_VFOLD_ACC 32-byte (ymm, AVX2-width) accumulators, two 128-bit lanes each;
 *   - vpclmul512: VPCLMULQDQ on four 64-byte (zmm, AVX-512) accumulators, four lanes each, 256 bytes a round.
 * On Zen 5 a ymm and a zmm VPCLMULQDQ have the same throughput, so the zmm path folds twice the bytes a cycle.
 * Both finish the one 16-byte block left with two `crc32` instructions (no Barrett reduction) and hand
 * the tail (< 16 bytes) and short buffers to the SSE4.2 3-way path of tb_crc.h.
 *
 * The constants and why they are what they are: kernels/crc32c_fold.py (`python -m kernels.crc32c_fold`
 * prints these lines; the kernels' tests check them against it). Fold by D bits:
 *   X = L*x^64 + H  ->  clmul(L, x^(63+D) mod P) ^ clmul(H, x^(D-1) mod P)  (congruent to X*x^D mod P).
 */
#ifndef TB_CRC_FOLD_H
#define TB_CRC_FOLD_H

#include "tb_crc.h"

#define TB_FOLD128_LO 0x3743f7bd00000000ull /* x^191 mod P */
#define TB_FOLD128_HI 0x3171d43000000000ull /* x^127 mod P */
#define TB_FOLD256_LO 0x33ccbbbc00000000ull /* x^319 mod P */
#define TB_FOLD256_HI 0xa2158b3400000000ull /* x^255 mod P */
#define TB_FOLD512_LO 0x1c19243b00000000ull /* x^575 mod P */
#define TB_FOLD512_HI 0x75bba45b00000000ull /* x^511 mod P */
#define TB_FOLD1024_LO 0x6577b24500000000ull /* x^1087 mod P */
#define TB_FOLD1024_HI 0x7417153f00000000ull /* x^1023 mod P */
#define TB_FOLD2048_LO 0xe9a5d8be00000000ull /* x^2111 mod P */
#define TB_FOLD2048_HI 0x1426a81500000000ull /* x^2047 mod P */

/* Shortest buffer each path folds; shorter ones go to the 3-way crc32 path (tb_crc.h). */
#define TB_PCLMUL_MIN 128
#define TB_VPCLMUL_MIN 512

TB_UNUSED static int tb_cpu_has_pclmul(void)
{
#if TB_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("pclmul");
#else
    return 0;
#endif
}

/* libgcc's avx2 and avx512f answers also check that the OS saves the ymm / zmm registers (XCR0). */
TB_UNUSED static int tb_cpu_has_vpclmul256(void)
{
#if TB_X86
    return tb_cpu_has_pclmul() && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("vpclmulqdq");
#else
    return 0;
#endif
}

TB_UNUSED static int tb_cpu_has_vpclmul512(void)
{
#if TB_X86
    return tb_cpu_has_vpclmul256() && __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

#if TB_X86
#include <immintrin.h>

#define TB_FOLD_TARGET __attribute__((target("sse4.2,pclmul")))
#define TB_VFOLD_TARGET __attribute__((target("sse4.2,pclmul,avx2,vpclmulqdq")))
#define TB_ZFOLD_TARGET __attribute__((target("sse4.2,pclmul,avx2,vpclmulqdq,avx512f")))

TB_FOLD_TARGET static inline __m128i tb_fold128(__m128i x, __m128i k, __m128i next)
{
    return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11)),
                         next);
}

/* The CRC32C (finished value) of everything folded into x, then the bytes p[0:n] after it. */
TB_FOLD_TARGET static inline uint32_t tb_fold_finish(__m128i x, const unsigned char *p, size_t n)
{
    const __m128i k128 = _mm_set_epi64x((long long)TB_FOLD128_HI, (long long)TB_FOLD128_LO);
    while (n >= 16) {
        x = tb_fold128(x, k128, _mm_loadu_si128((const __m128i *)p));
        p += 16;
        n -= 16;
    }
    uint64_t reg = _mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(x));
    reg = _mm_crc32_u64(reg, (uint64_t)_mm_extract_epi64(x, 1));
    return tb_crc32c_sse42_update(~(uint32_t)reg, p, n);
}

TB_FOLD_TARGET TB_UNUSED
static uint32_t tb_crc32c_pclmul_update(uint32_t crc, const unsigned char *p, size_t n)
{
    if (n < TB_PCLMUL_MIN)
        return tb_crc32c_sse42_update(crc, p, n);
    const __m128i k512 = _mm_set_epi64x((long long)TB_FOLD512_HI, (long long)TB_FOLD512_LO);
    const __m128i k128 = _mm_set_epi64x((long long)TB_FOLD128_HI, (long long)TB_FOLD128_LO);
    /* The starting register is XORed into the first 4 bytes. */
    __m128i x0 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)p), _mm_cvtsi32_si128((int)~crc));
    __m128i x1 = _mm_loadu_si128((const __m128i *)(p + 16));
    __m128i x2 = _mm_loadu_si128((const __m128i *)(p + 32));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 48));
    p += 64;
    n -= 64;
    while (n >= 64) {
        x0 = tb_fold128(x0, k512, _mm_loadu_si128((const __m128i *)p));
        x1 = tb_fold128(x1, k512, _mm_loadu_si128((const __m128i *)(p + 16)));
        x2 = tb_fold128(x2, k512, _mm_loadu_si128((const __m128i *)(p + 32)));
        x3 = tb_fold128(x3, k512, _mm_loadu_si128((const __m128i *)(p + 48)));
        p += 64;
        n -= 64;
    }
    x0 = tb_fold128(x0, k128, x1);
    x0 = tb_fold128(x0, k128, x2);
    x0 = tb_fold128(x0, k128, x3);
    return tb_fold_finish(x0, p, n);
}

/* ymm accumulators of the vpclmul path (4: 128 bytes a round, folded by 1024 bits; 8: 256 bytes, 2048). */
#ifndef TB_VFOLD_ACC
#define TB_VFOLD_ACC 8
#endif
#if TB_VFOLD_ACC == 8
#define TB_VFOLD_LO TB_FOLD2048_LO
#define TB_VFOLD_HI TB_FOLD2048_HI
#elif TB_VFOLD_ACC == 4
#define TB_VFOLD_LO TB_FOLD1024_LO
#define TB_VFOLD_HI TB_FOLD1024_HI
#else
#error "TB_VFOLD_ACC must be 4 or 8"
#endif

TB_VFOLD_TARGET static inline __m256i tb_vfold(__m256i y, __m256i k, __m256i next)
{
    return _mm256_xor_si256(_mm256_xor_si256(_mm256_clmulepi64_epi128(y, k, 0x00),
                                             _mm256_clmulepi64_epi128(y, k, 0x11)), next);
}

TB_VFOLD_TARGET TB_UNUSED
static uint32_t tb_crc32c_vpclmul256_update(uint32_t crc, const unsigned char *p, size_t n)
{
    enum { ROUND = 32 * TB_VFOLD_ACC };
    if (n < TB_VPCLMUL_MIN || n < ROUND)
        return n < TB_PCLMUL_MIN ? tb_crc32c_sse42_update(crc, p, n) : tb_crc32c_pclmul_update(crc, p, n);
    const __m256i kr = _mm256_set_epi64x((long long)TB_VFOLD_HI, (long long)TB_VFOLD_LO,
                                         (long long)TB_VFOLD_HI, (long long)TB_VFOLD_LO);
    const __m256i k256 = _mm256_set_epi64x((long long)TB_FOLD256_HI, (long long)TB_FOLD256_LO,
                                           (long long)TB_FOLD256_HI, (long long)TB_FOLD256_LO);
    const __m128i k128 = _mm_set_epi64x((long long)TB_FOLD128_HI, (long long)TB_FOLD128_LO);
    __m256i y[TB_VFOLD_ACC];
    for (int i = 0; i < TB_VFOLD_ACC; i++)
        y[i] = _mm256_loadu_si256((const __m256i *)(p + 32 * i));
    y[0] = _mm256_xor_si256(y[0], _mm256_zextsi128_si256(_mm_cvtsi32_si128((int)~crc)));
    p += ROUND;
    n -= ROUND;
    while (n >= ROUND) {
        for (int i = 0; i < TB_VFOLD_ACC; i++)
            y[i] = tb_vfold(y[i], kr, _mm256_loadu_si256((const __m256i *)(p + 32 * i)));
        p += ROUND;
        n -= ROUND;
    }
    __m256i acc = y[0];
    for (int i = 1; i < TB_VFOLD_ACC; i++)
        acc = tb_vfold(acc, k256, y[i]);
    while (n >= 32) {
        acc = tb_vfold(acc, k256, _mm256_loadu_si256((const __m256i *)p));
        p += 32;
        n -= 32;
    }
    __m128i x = tb_fold128(_mm256_castsi256_si128(acc), k128, _mm256_extracti128_si256(acc, 1));
    _mm256_zeroupper();   /* GCC leaves it out here: legacy-SSE code after us would pay for dirty upper halves */
    return tb_fold_finish(x, p, n);
}

TB_ZFOLD_TARGET static inline __m512i tb_zfold(__m512i z, __m512i k, __m512i next)
{
    return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(z, k, 0x00), _mm512_clmulepi64_epi128(z, k, 0x11),
                                     next, 0x96);   /* a ^ b ^ c */
}

TB_ZFOLD_TARGET TB_UNUSED
static uint32_t tb_crc32c_vpclmul512_update(uint32_t crc, const unsigned char *p, size_t n)
{
    if (n < TB_VPCLMUL_MIN)
        return tb_crc32c_vpclmul256_update(crc, p, n);
    const __m512i k2048 = _mm512_set_epi64((long long)TB_FOLD2048_HI, (long long)TB_FOLD2048_LO,
                                           (long long)TB_FOLD2048_HI, (long long)TB_FOLD2048_LO,
                                           (long long)TB_FOLD2048_HI, (long long)TB_FOLD2048_LO,
                                           (long long)TB_FOLD2048_HI, (long long)TB_FOLD2048_LO);
    const __m256i k256 = _mm256_set_epi64x((long long)TB_FOLD256_HI, (long long)TB_FOLD256_LO,
                                           (long long)TB_FOLD256_HI, (long long)TB_FOLD256_LO);
    const __m128i k128 = _mm_set_epi64x((long long)TB_FOLD128_HI, (long long)TB_FOLD128_LO);
    __m512i z[4];
    for (int i = 0; i < 4; i++)
        z[i] = _mm512_loadu_si512((const void *)(p + 64 * i));
    z[0] = _mm512_xor_si512(z[0], _mm512_zextsi128_si512(_mm_cvtsi32_si128((int)~crc)));
    p += 256;
    n -= 256;
    while (n >= 256) {
        for (int i = 0; i < 4; i++)
            z[i] = tb_zfold(z[i], k2048, _mm512_loadu_si512((const void *)(p + 64 * i)));
        p += 256;
        n -= 256;
    }
    /* The eight 32-byte halves, in stream order, into one. */
    __m256i acc = _mm512_castsi512_si256(z[0]);
    for (int i = 0; i < 4; i++) {
        if (i)
            acc = tb_vfold(acc, k256, _mm512_castsi512_si256(z[i]));
        acc = tb_vfold(acc, k256, _mm512_extracti64x4_epi64(z[i], 1));
    }
    while (n >= 32) {
        acc = tb_vfold(acc, k256, _mm256_loadu_si256((const __m256i *)p));
        p += 32;
        n -= 32;
    }
    __m128i x = tb_fold128(_mm256_castsi256_si128(acc), k128, _mm256_extracti128_si256(acc, 1));
    _mm256_zeroupper();   /* GCC leaves it out here: legacy-SSE code after us would pay for dirty upper halves */
    return tb_fold_finish(x, p, n);
}
#else
TB_UNUSED static uint32_t tb_crc32c_pclmul_update(uint32_t crc, const unsigned char *p, size_t n)
{
    return tb_crc32c_table_update(crc, p, n);
}

TB_UNUSED static uint32_t tb_crc32c_vpclmul256_update(uint32_t crc, const unsigned char *p, size_t n)
{
    return tb_crc32c_table_update(crc, p, n);
}

TB_UNUSED static uint32_t tb_crc32c_vpclmul512_update(uint32_t crc, const unsigned char *p, size_t n)
{
    return tb_crc32c_table_update(crc, p, n);
}
#endif

#endif /* TB_CRC_FOLD_H */
