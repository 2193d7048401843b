/* Small C helpers for the builtin I/O engine (kernels/ioloop*.pyx, declared in kernels/ioloop_state.pxd):
 * the monotonic clock, the few atomics the I/O threads share, the splitmix64 mixer behind every "random"
 * choice, and fio's latency-bin layout.
 *
 * Kept in C because Cython has no atomics and because these sit on the per-operation hot path
 * (static inline, no call overhead). kernels/ioloop_ops_ref.py and kernels/latency_bins.py mirror the
 * mixer and the bins in Python. */
#ifndef TB_IOLOOP_CLOCK_H
#define TB_IOLOOP_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in nanoseconds (a vDSO call on Linux, ~20 ns): the clock fio uses for latencies. */
static inline uint64_t iol_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Relaxed atomics are enough: the cursors only hand out distinct numbers, the stop flag only needs to be
 * seen eventually, and everything else the main thread reads is published by pthread_join. */
static inline uint64_t iol_fetch_add(uint64_t *p, uint64_t v)
{
    return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}

static inline int iol_load(const int *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline void iol_store(int *p, int v)
{
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}

/* 1 when *p was `expected` and is now `desired` (the first error wins). */
static inline int iol_cas(int *p, int expected, int desired)
{
    return __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

/* splitmix64's finalizer: a bijective 64-bit mixer (Steele, Lea, Flood 2014). */
static inline uint64_t iol_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* splitmix64's increment (2^64 / golden ratio): op c of a job is drawn from mix64(job_key + c * GOLDEN). */
#define IOL_GOLDEN 0x9e3779b97f4a7c15ull

/* Little-endian 64-bit store at any alignment (the sector stamps of written blocks). */
static inline void iol_store_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* fio's latency histogram (stat.h): FIO_IO_U_PLAT_BITS = 6, 29 groups of 64 bins. */
#define IOL_PLAT_BITS 6
#define IOL_PLAT_VAL (1u << IOL_PLAT_BITS)
#define IOL_PLAT_GROUP_NR 29
#define IOL_PLAT_NR (IOL_PLAT_GROUP_NR * IOL_PLAT_VAL)

/* The bin of a latency in ns (fio's plat_val_to_idx): values of at most PLAT_BITS+1 significant bits are
 * their own bin; larger ones keep their top PLAT_BITS+1 bits; past the last bin, the last bin. */
static inline unsigned iol_plat_idx(uint64_t val)
{
    unsigned msb, error_bits;
    uint64_t idx;
    if (val == 0)
        return 0;
    msb = 63u - (unsigned)__builtin_clzll(val);
    if (msb <= IOL_PLAT_BITS)
        return (unsigned)val;
    error_bits = msb - IOL_PLAT_BITS;
    idx = ((uint64_t)(error_bits + 1) << IOL_PLAT_BITS) + ((IOL_PLAT_VAL - 1) & (val >> error_bits));
    return idx < IOL_PLAT_NR - 1 ? (unsigned)idx : IOL_PLAT_NR - 1;
}

/* The value in ns that stands for bin `idx` (fio's plat_idx_to_val): the middle of the bin. fio computes
 * base + (k + 0.5) * 2^error_bits in floating point; error_bits >= 1 there, so this integer form is exact. */
static inline uint64_t iol_plat_val(unsigned idx)
{
    unsigned error_bits;
    uint64_t base, k;
    if (idx < (IOL_PLAT_VAL << 1))
        return idx;
    error_bits = (idx >> IOL_PLAT_BITS) - 1;
    base = 1ull << (error_bits + IOL_PLAT_BITS);
    k = idx % IOL_PLAT_VAL;
    return base + ((2 * k + 1) << (error_bits - 1));
}

#endif
