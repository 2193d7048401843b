# C-level API of the builtin engine's accounting (kernels/ioloop_account.pyx), for the loops and the driver.
from libc.stdint cimport int64_t, uint64_t

from kernels.ioloop_state cimport IOL_PLAT_NR, Shared, Worker, iol_plat_idx


cdef int ivl_flush(Worker* w) noexcept nogil
cdef object ivl_copy(Shared* sh, uint64_t first, uint64_t last)
cdef void collect(Worker** workers, int nworkers, dict result)


cdef inline uint64_t ivl_row() noexcept nogil:
    """Counts per interval row: per direction, ops, bytes and fio's PLAT_NR latency bins."""
    return 2 * (2 + <uint64_t>IOL_PLAT_NR)


# Inline here, so that each loop's per-op accounting compiles into the loop (no call through a module's
# function table on the hot path).
cdef inline int account(Worker* w, int d, uint64_t lat, uint64_t nbytes, uint64_t t1) noexcept nogil:
    """Count one op of direction d that moved `nbytes` in `lat` ns and completed at t1 (ns): ops, bytes,
    latency sum, min and max, its bin of fio's latency histogram, and the same in its interval's counts.
    Returns 0, or ENOMEM from ivl_flush."""
    cdef unsigned b = iol_plat_idx(lat)
    cdef int64_t idx
    cdef uint64_t* cur
    cdef uint64_t interval_ns = w.sh.interval_ns
    cdef int rc
    if interval_ns:
        idx = <int64_t>((t1 - w.sh.start_ns) // interval_ns) if t1 > w.sh.start_ns else 0
        if idx != w.ivl_idx:
            rc = ivl_flush(w)
            if rc != 0:
                return rc
            w.ivl_idx = idx
        cur = w.ivl_cur + <uint64_t>d * (2 + <uint64_t>IOL_PLAT_NR)
        cur[0] += 1
        cur[1] += nbytes
        cur[2 + b] += 1
    w.hist[d * IOL_PLAT_NR + b] += 1
    w.ops[d] += 1
    w.nbytes[d] += nbytes
    w.lat_sum[d] += lat
    if lat < w.lat_min[d]:
        w.lat_min[d] = lat
    if lat > w.lat_max[d]:
        w.lat_max[d] = lat
    return 0
