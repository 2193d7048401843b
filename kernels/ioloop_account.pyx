# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The builtin I/O engine's accounting: what the threads count per op and how the run's figures are merged.

Each thread counts its ops (per direction: ops, bytes, latency sum, min and max) and their latencies in a
thread-local histogram in fio's bin layout (ioloop_clock.h, kernels/latency_bins.py), merged when the phase
ends (`collect`), so that bench computes percentiles the same way for both engines (`hist_to_bins`). With
figures over time (Shared.interval_ns > 0) each op is also counted in the interval it completed in, a thread
adding its interval's counts to the shared rows once per interval under a mutex (`ivl_flush`), never per op.
The per-op part (`account`) is inline in kernels/ioloop_account.pxd; kernels/ioloop_account_ref.py is its
reference (`tally` here and there count the same ops the same way).
"""
import numpy as np

from libc.errno cimport ENOMEM
from libc.stdint cimport uint64_t
from libc.stdlib cimport free, realloc
from libc.string cimport memset

from kernels.ioloop_account_ref import check_interval, direction_result
from kernels.ioloop_state cimport (
    IOL_PLAT_NR,
    Shared,
    Worker,
    iol_plat_idx,
    iol_plat_val,
    pthread_mutex_destroy,
    pthread_mutex_init,
    pthread_mutex_lock,
    pthread_mutex_unlock,
)

__all__ = ["PLAT_NR", "IMPLEMENTATION", "bin_index_ns", "bin_value_ns", "hist_to_bins", "tally"]

IMPLEMENTATION = "cython:ioloop_account"
#: Bins of a latency histogram (fio's FIO_IO_U_PLAT_NR).
PLAT_NR = IOL_PLAT_NR


cdef int ivl_flush(Worker* w) noexcept nogil:
    """Add the thread's current interval to the shared rows and start none. Returns 0, or ENOMEM when the
    rows cannot grow (the run then fails: its figures over time would miss what this thread counted)."""
    cdef Shared* sh = w.sh
    cdef uint64_t row = ivl_row()
    cdef uint64_t idx, cap, i
    cdef uint64_t* grown
    cdef uint64_t* dst
    if w.ivl_idx < 0:
        return 0
    idx = <uint64_t>w.ivl_idx
    pthread_mutex_lock(&sh.ivl_lock)
    if idx >= sh.ivl_cap:
        cap = sh.ivl_cap * 2 if sh.ivl_cap else 64
        if cap <= idx:
            cap = idx + 1
        grown = <uint64_t*>realloc(sh.ivl, cap * row * sizeof(uint64_t))
        if grown == NULL:
            pthread_mutex_unlock(&sh.ivl_lock)
            return ENOMEM
        memset(grown + sh.ivl_cap * row, 0, (cap - sh.ivl_cap) * row * sizeof(uint64_t))
        sh.ivl, sh.ivl_cap = grown, cap
    dst = sh.ivl + idx * row
    for i in range(row):
        dst[i] += w.ivl_cur[i]
    if idx + 1 > sh.ivl_n:
        sh.ivl_n = idx + 1
    pthread_mutex_unlock(&sh.ivl_lock)
    memset(w.ivl_cur, 0, row * sizeof(uint64_t))
    w.ivl_idx = -1
    return 0


cdef object ivl_copy(Shared* sh, uint64_t first, uint64_t last):
    """Rows first..last-1 of the interval counts, as far as any thread has added counts (Shared.ivl_n), as a
    uint64 array (rows, 2, 2 + PLAT_NR), copied under the lock."""
    cdef uint64_t row = ivl_row()
    cdef uint64_t n, k, i, end
    cdef uint64_t[:, :, ::1] view
    pthread_mutex_lock(&sh.ivl_lock)
    end = min(last, sh.ivl_n)
    n = end - first if end > first else 0
    try:
        out = np.zeros((n, 2, 2 + IOL_PLAT_NR), dtype=np.uint64)
        view = out
        for k in range(n):
            for i in range(row):
                view[k, i // (2 + IOL_PLAT_NR), i % (2 + IOL_PLAT_NR)] = sh.ivl[(first + k) * row + i]
    finally:
        pthread_mutex_unlock(&sh.ivl_lock)
    return out


cdef void collect(Worker** workers, int nworkers, dict result):
    """Merge the threads' counts and histograms into `result` (run_phase's): "read", "write" (each
    ioloop_account_ref.direction_result), "fsyncs", "checksums"."""
    cdef uint64_t ops, nbytes, lat_sum, lat_min, lat_max, fsyncs = 0, checksums = 0
    cdef uint64_t[::1] view
    cdef int d, i, b
    cdef Worker* w
    for d, name in enumerate(("read", "write")):
        hist = np.zeros(IOL_PLAT_NR, dtype=np.uint64)
        view = hist
        ops = nbytes = lat_sum = lat_max = 0
        lat_min = <uint64_t>-1
        for i in range(nworkers):
            w = workers[i]
            ops += w.ops[d]
            nbytes += w.nbytes[d]
            lat_sum += w.lat_sum[d]
            lat_min = min(lat_min, w.lat_min[d])
            lat_max = max(lat_max, w.lat_max[d])
            for b in range(<int>IOL_PLAT_NR):
                view[b] += w.hist[d * IOL_PLAT_NR + b]
        result[name] = direction_result(ops, nbytes, hist, lat_min, lat_max, lat_sum)
    for i in range(nworkers):
        fsyncs += workers[i].fsyncs
        checksums += workers[i].checksums
    result["fsyncs"] = fsyncs
    result["checksums"] = checksums


def tally(ops, interval_s=None, start_ns=0):
    """The accounting of `ops` on one thread, as the loops do it: each op (direction 0 read / 1 write,
    latency ns, bytes, completion time ns) counted with `account`, then merged with `collect`. Returns
    {"read", "write" (direction_result), "intervals": uint64 array (intervals, 2, 2 + PLAT_NR), by completion
    time in intervals of interval_s seconds from start_ns (ns), empty without interval_s}. The kernel's
    accounting on its own, for its test against ioloop_account_ref.tally."""
    cdef Shared sh
    cdef Worker w
    cdef Worker* one = &w
    cdef uint64_t[::1] hist = np.zeros(2 * IOL_PLAT_NR, dtype=np.uint64)
    cdef uint64_t[::1] cur = np.zeros(ivl_row(), dtype=np.uint64)
    cdef int d, rc
    rows = [(int(d), int(lat), int(n), int(t1)) for d, lat, n, t1 in ops]
    for d, *_ in rows:
        if d not in (0, 1):
            raise ValueError(f"an op's direction is 0 (read) or 1 (write), not {d}")
    memset(&sh, 0, sizeof(Shared))
    memset(&w, 0, sizeof(Worker))
    pthread_mutex_init(&sh.ivl_lock, NULL)
    sh.interval_ns = check_interval(interval_s, None)
    sh.start_ns = <uint64_t>start_ns
    w.sh = &sh
    w.hist = &hist[0]
    w.ivl_cur = &cur[0]
    w.ivl_idx = -1
    w.lat_min[0] = w.lat_min[1] = <uint64_t>-1
    try:
        for d, lat, n, t1 in rows:
            rc = account(&w, d, <uint64_t>lat, <uint64_t>n, <uint64_t>t1)
            if rc != 0:
                raise MemoryError()
        if ivl_flush(&w) != 0:
            raise MemoryError()
        result = {}
        collect(&one, 1, result)
        del result["fsyncs"], result["checksums"]
        result["intervals"] = ivl_copy(&sh, 0, sh.ivl_n)
        return result
    finally:
        free(sh.ivl)
        pthread_mutex_destroy(&sh.ivl_lock)


def bin_value_ns(index):
    """The latency in ns that stands for histogram bin `index` (fio's plat_idx_to_val, the bin's middle)."""
    index = int(index)
    if not 0 <= index < IOL_PLAT_NR:
        raise ValueError(f"bin index must be in 0..{IOL_PLAT_NR - 1}, not {index}")
    return iol_plat_val(<unsigned>index)


def bin_index_ns(value_ns):
    """The histogram bin of a latency of `value_ns` ns (fio's plat_val_to_idx)."""
    value_ns = int(value_ns)
    if value_ns < 0:
        raise ValueError(f"latency must be >= 0 ns, not {value_ns}")
    return iol_plat_idx(<uint64_t>min(value_ns, (1 << 64) - 1))


def hist_to_bins(hist):
    """{bin value ns: count} of the non-empty bins of a PLAT_NR-long histogram: the shape of fio's json+
    `clat_ns.bins`, so that bench reads percentiles from both engines with one function."""
    counts = np.asarray(hist)
    if counts.shape != (IOL_PLAT_NR,):
        raise ValueError(f"a latency histogram has {IOL_PLAT_NR} bins, not shape {counts.shape}")
    return {int(iol_plat_val(<unsigned>i)): int(counts[i]) for i in np.flatnonzero(counts)}
