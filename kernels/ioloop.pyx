# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The builtin I/O engine of tierbench: fio's psync and libaio models in C threads, driven from
bench.engines.builtin.

`run_phase` runs one phase of an engine-neutral pattern (bench.core.pattern, fio vocabulary). Direct I/O with
iodepth > 1 runs each of the `len(jobs)` jobs on one POSIX thread that keeps `iodepth` operations in flight
with Linux AIO (io_submit / io_getevents by system call, kernels/ioloop_aio.h: what fio's libaio engine does,
the engine the fio job files use there); otherwise each job has `iodepth` threads, each with one pread/pwrite
in flight (fio's psync engine, which fio uses for buffered I/O). The whole run is C with the GIL
released; per-op latencies (CLOCK_MONOTONIC, ns) go into thread-local histograms in fio's bin layout,
merged at the end, so bench computes percentiles the same way for both engines (`hist_to_bins`). With
`interval_s`, each op is also counted (ops, bytes, bin) in the interval it completed in: figures over time, a
thread adding its interval's counts to the shared rows once per interval under a mutex (never per op).

Which file, block and direction op c of job j uses depends only on (seed, j, c) (splitmix64, a counter-based
generator), never on the thread that runs it; kernels/ioloop_ref.py is the same engine in Python and the
definition of every number here.

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
import os

import numpy as np

from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, realloc
from libc.string cimport memcpy, memset
from libc.errno cimport errno, EINTR, EAGAIN, ENOMEM, ENOSPC
from posix.unistd cimport pread, pwrite, fsync
from posix.resource cimport getrusage, rusage, RUSAGE_SELF
from posix.stdlib cimport posix_memalign

from kernels.crc32c cimport crc32c_update
from kernels.ioloop_ref import (
    IntervalPoller,
    check_args,
    check_interval,
    direction_result,
    open_files,
    raise_io_error,
    seed_keys,
)
from kernels.uring import refusal

cdef extern from "ioloop_clock.h" nogil:
    uint64_t iol_now_ns()
    uint64_t iol_fetch_add(uint64_t* p, uint64_t v)
    int iol_load(const int* p)
    void iol_store(int* p, int v)
    int iol_cas(int* p, int expected, int desired)
    uint64_t iol_mix64(uint64_t z)
    void iol_store_le64(unsigned char* p, uint64_t v)
    unsigned iol_plat_idx(uint64_t val)
    uint64_t iol_plat_val(unsigned idx)
    uint64_t IOL_GOLDEN
    unsigned IOL_PLAT_NR

cdef extern from "ioloop_aio.h" nogil:
    ctypedef unsigned long iol_aio_ctx
    ctypedef struct iol_iocb:
        uint64_t aio_data
    ctypedef struct iol_io_event:
        uint64_t data
    int iol_aio_setup(unsigned nr, iol_aio_ctx* ctx)
    void iol_aio_destroy(iol_aio_ctx ctx)
    void iol_aio_prep(iol_iocb* cb, int fd, void* buf, uint64_t n, uint64_t off, int is_read, uint64_t data)
    long iol_aio_submit(iol_aio_ctx ctx, long nr, iol_iocb** cbs)
    long iol_aio_getevents(iol_aio_ctx ctx, long min_nr, long nr, iol_io_event* events)
    uint64_t iol_event_data(const iol_io_event* e)
    int64_t iol_event_res(const iol_io_event* e)

cdef extern from "<sys/uio.h>" nogil:
    cdef struct iovec:
        void* iov_base
        size_t iov_len

cdef extern from "tb_uring.h" nogil:
    ctypedef struct iol_ring:
        int fd
    void iol_ring_destroy(iol_ring* r)
    int iol_ring_setup(iol_ring* r, unsigned entries, unsigned* flags_out)
    int iol_ring_register_buffers(iol_ring* r, const iovec* iov, unsigned n)
    void iol_ring_prep(iol_ring* r, int fd, void* buf, uint32_t n, uint64_t off, int is_read, uint64_t data,
                       int buf_index)
    long iol_ring_submit(iol_ring* r, unsigned nr)
    long iol_ring_reap(iol_ring* r, iol_io_event* events, long nr)

cdef extern from "<pthread.h>" nogil:
    ctypedef unsigned long pthread_t
    ctypedef struct pthread_attr_t:
        pass
    int pthread_create(pthread_t* thread, const pthread_attr_t* attr,
                       void* (*start)(void*) noexcept nogil, void* arg)
    int pthread_join(pthread_t thread, void** retval)
    ctypedef struct pthread_mutex_t:
        pass
    ctypedef struct pthread_mutexattr_t:
        pass
    int pthread_mutex_init(pthread_mutex_t* m, const pthread_mutexattr_t* attr)
    int pthread_mutex_destroy(pthread_mutex_t* m)
    int pthread_mutex_lock(pthread_mutex_t* m)
    int pthread_mutex_unlock(pthread_mutex_t* m)

__all__ = ["run_phase", "bin_value_ns", "bin_index_ns", "hist_to_bins", "PLAT_NR", "IMPLEMENTATION"]

IMPLEMENTATION = "cython:ioloop"
#: Bins of a latency histogram (fio's FIO_IO_U_PLAT_NR).
PLAT_NR = IOL_PLAT_NR

cdef enum:
    SVC_ROUNDROBIN = 0     # indexes of ioloop_ref.FILE_SERVICE
    SVC_SEQUENTIAL = 1
    SVC_RANDOM = 2
    OP_READ = 0
    OP_WRITE = 1
    OP_FSYNC = 2
    OP_RING_SETUP = 3      # io_uring_setup / io_uring_register failed (err_code: its errno)
    OP_RING_REGISTER = 4
    ERR_EOF = -1           # a read found the end of the file (ioloop_ref.ERR_EOF)
    ERR_CHECKSUM = -2      # a chunk's CRC32C is not the one it was written with (ioloop_ref.ERR_CHECKSUM)
    SECTOR = 512           # every sector of a written block starts with its stamp
    PAGE = 4096            # buffer alignment: enough for O_DIRECT on any logical block size


# One cache line per file and per job cursor: threads of one job hammer its cursor, and must not slow
# the threads of the next job down by sharing the line.
ctypedef struct FileSlot:
    int fd
    int written            # set once by the first write: end_fsync syncs only written files
    uint64_t key           # sector stamps are key + byte offset in the file
    uint64_t cursor        # next block, for file_service="random" on sequential phases
    uint64_t vkey          # the key the file's checksums are checked against (a read: the writer's key)
    uint64_t _pad[4]

ctypedef struct JobSlot:
    uint64_t cursor        # next op number of the job, shared by its threads
    uint64_t _pad[7]
    uint64_t key
    int first              # index of the job's first file in Shared.files
    int nfiles
    uint64_t active        # the job's threads still running: the last one to stop end-fsyncs its files
    uint64_t _pad2[5]

ctypedef struct Shared:
    int stop
    int err_code           # errno of the first failure, ERR_EOF, or 0
    int err_file
    int err_op
    uint64_t err_offset
    uint64_t deadline_ns   # 0: size-based
    uint64_t nb            # blocks per file
    uint64_t bs
    int random
    int service
    int rwmix              # % of reads: 100 read-only, 0 write-only
    int fsync_every
    int end_fsync          # each job fsyncs its written files when its last thread stops (fio's end_fsync)
    uint64_t chunk         # bytes per CRC32C chunk; 0: no checksums
    uint64_t vbs           # block size of the write the checksums are checked against
    uint32_t* base         # vbs / chunk: CRC32C of each chunk of the write pattern with its stamps zeroed
    uint32_t* ctab         # chunk / SECTOR x 8 x 256 stamp-byte contributions
    uint32_t err_got       # CRC32C found and expected at the first ERR_CHECKSUM
    uint32_t err_want
    int aio_depth          # > 0: one thread per job keeps this many ops in flight with Linux AIO or io_uring
    int uring              # the queue is an io_uring (ioengine="io_uring"), not Linux AIO
    int uring_fixed        # the io_uring reads and writes from registered buffers
    FileSlot* files
    JobSlot* jobs
    # Figures over time (interval_ns > 0): op counts, bytes and latency bins per interval of interval_ns from
    # start_ns, by completion time. Each thread counts its current interval in Worker.ivl_cur and adds it here,
    # under ivl_lock, when one of its ops completes in a later interval or the thread ends: one lock per
    # interval per thread, none per op.
    uint64_t start_ns
    uint64_t interval_ns
    pthread_mutex_t ivl_lock
    uint64_t* ivl          # ivl_cap rows of IVL_ROW counts (read then write: ops, bytes, PLAT_NR bins)
    uint64_t ivl_cap
    uint64_t ivl_n         # rows holding counts (the last interval with a completion, plus one)

ctypedef struct Worker:
    Shared* sh
    int job
    unsigned char* rbuf    # one buffer per op in flight (aio_depth of them, buflen apart, with AIO)
    unsigned char* wbuf
    uint64_t buflen
    uint64_t* hist         # 2 x PLAT_NR: reads, then writes
    uint64_t ops[2]
    uint64_t nbytes[2]
    uint64_t lat_min[2]
    uint64_t lat_max[2]
    uint64_t lat_sum[2]
    uint64_t fsyncs
    uint64_t checksums
    uint64_t* ivl_cur      # IVL_ROW counts of the interval this thread counts now (Shared.ivl's layout)
    int64_t ivl_idx        # that interval's number; -1: none yet


cdef inline uint64_t _ivl_row() noexcept nogil:
    """Counts per interval row: per direction, ops, bytes and fio's PLAT_NR latency bins."""
    return 2 * (2 + <uint64_t>IOL_PLAT_NR)


cdef int _ivl_flush(Worker* w) noexcept nogil:
    """Add the thread's current interval to the shared rows and start none. Returns 0, or ENOMEM when the
    rows cannot grow (the run then fails: its figures over time would miss what this thread counted)."""
    cdef Shared* sh = w.sh
    cdef uint64_t row = _ivl_row()
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

cdef void _fail(Shared* sh, int code, int file_index, int op, uint64_t offset) noexcept nogil:
    """Record the first failure of the run and tell every thread to stop."""
    if iol_cas(&sh.err_code, 0, code):
        sh.err_file = file_index
        sh.err_op = op
        sh.err_offset = offset
    iol_store(&sh.stop, 1)


cdef void _fail_checksum(Shared* sh, int file_index, int op, uint64_t offset, uint32_t got,
                        uint32_t want) noexcept nogil:
    if iol_cas(&sh.err_code, 0, ERR_CHECKSUM):
        sh.err_file = file_index
        sh.err_op = op
        sh.err_offset = offset
        sh.err_got = got
        sh.err_want = want
    iol_store(&sh.stop, 1)


cdef int _checksum_block(Shared* sh, const unsigned char* buf, uint64_t off, uint64_t vkey, uint64_t* count,
                         uint64_t* bad_offset, uint32_t* got, uint32_t* want) noexcept nogil:
    """CRC32C of each chunk of the block at file offset `off`, checked against the written one: 0, or 1 with
    the first bad chunk's offset and CRCs."""
    cdef uint64_t chunk = sh.chunk
    cdef uint64_t nsect = chunk // SECTOR
    cdef uint64_t i, c, o, k, v
    cdef uint32_t crc, expect
    cdef const uint32_t* t
    cdef int j
    cdef uint64_t nchunks = sh.bs // chunk
    for i in range(nchunks):
        c = i * chunk
        crc = crc32c_update(0, buf + c, chunk)
        count[0] += 1
        o = off + c
        expect = sh.base[(o % sh.vbs) // chunk]
        for k in range(nsect):
            v = vkey + o + k * SECTOR
            t = sh.ctab + k * 2048
            for j in range(8):
                expect ^= t[j * 256 + ((v >> (8 * j)) & 0xFF)]
        if crc != expect:
            bad_offset[0] = o
            got[0] = crc
            want[0] = expect
            return 1
    return 0


cdef int _transfer(int fd, unsigned char* buf, uint64_t n, uint64_t off, bint is_read) noexcept nogil:
    """All n bytes at off (short transfers are continued, as fio does); 0, an errno, or ERR_EOF."""
    cdef ssize_t r
    cdef uint64_t done = 0
    while done < n:
        if is_read:
            r = pread(fd, buf + done, n - done, off + done)
        else:
            r = pwrite(fd, buf + done, n - done, off + done)
        if r < 0:
            if errno == EINTR:
                continue
            return errno
        if r == 0:
            return ERR_EOF
        done += <uint64_t>r
    return 0


cdef inline int _pick(Shared* sh, JobSlot* job, FileSlot* files, uint64_t c, uint64_t* f_out,
                      uint64_t* blk_out, int* d_out) noexcept nogil:
    """File, block and direction of op c of a job (a function of the seed, the job and c alone, as in
    ioloop_ref). Returns 0, or 1 when the op has no block left (file_service=random, size-based)."""
    cdef uint64_t nfiles = <uint64_t>job.nfiles
    cdef uint64_t nb = sh.nb
    cdef uint64_t total = nb * nfiles
    cdef uint64_t h = iol_mix64(job.key + c * IOL_GOLDEN)
    cdef uint64_t h2 = iol_mix64(h)
    cdef uint64_t cc = c % total   # time-based runs wrap around
    cdef uint64_t rwmix = <uint64_t>sh.rwmix
    cdef uint64_t blk = 0, f = 0, k
    if sh.random:
        blk = h % nb
        if sh.service == SVC_ROUNDROBIN:
            f = cc % nfiles
        elif sh.service == SVC_SEQUENTIAL:
            f = cc // nb
        else:
            f = (h2 >> 32) % nfiles
    elif sh.service == SVC_ROUNDROBIN:
        f = cc % nfiles
        blk = cc // nfiles
    elif sh.service == SVC_SEQUENTIAL:
        f = cc // nb
        blk = cc % nb
    else:
        f = (h2 >> 32) % nfiles
        if sh.deadline_ns != 0:
            blk = iol_fetch_add(&files[f].cursor, 1) % nb
        else:
            # The job cursor reserved one block somewhere: take the first file with one left.
            for k in range(nfiles):
                blk = iol_fetch_add(&files[f].cursor, 1)
                if blk < nb:
                    break
                f = (f + 1) % nfiles
            if blk >= nb:
                return 1
    if rwmix >= 100:
        d_out[0] = OP_READ
    elif rwmix == 0:
        d_out[0] = OP_WRITE
    elif h2 % 100 < rwmix:
        d_out[0] = OP_READ
    else:
        d_out[0] = OP_WRITE
    f_out[0] = f
    blk_out[0] = blk
    return 0


cdef inline void _stamp(unsigned char* buf, uint64_t bs, uint64_t key) noexcept nogil:
    """Every sector of a block to be written starts with its stamp: the file's key + the byte offset."""
    cdef uint64_t s = 0
    while s + 8 <= bs:
        iol_store_le64(buf + s, key + s)
        s += 512


cdef object _ivl_copy(Shared* sh, uint64_t first, uint64_t last):
    """Rows first..last-1 of the interval counts, as far as any thread has added counts (Shared.ivl_n), as a
    uint64 array (rows, 2, 2 + PLAT_NR), copied under the lock."""
    cdef uint64_t row = _ivl_row()
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


cdef class _Intervals:
    """The interval rows of a running phase, for IntervalPoller (valid while run_phase runs)."""
    cdef Shared* sh

    def rows(self, first, last):
        return _ivl_copy(self.sh, first, last)


cdef inline int _account(Worker* w, int d, uint64_t lat, uint64_t nbytes, uint64_t t1) noexcept nogil:
    """Count one op of direction d that moved `nbytes` in `lat` ns and completed at t1 (ns): ops, bytes,
    latency sum, min and max, its bin of fio's latency histogram, and the same in its interval's counts.
    Returns 0, or ENOMEM from _ivl_flush."""
    cdef unsigned b = iol_plat_idx(lat)
    cdef int64_t idx
    cdef uint64_t* cur
    cdef uint64_t interval_ns = w.sh.interval_ns
    if interval_ns:
        idx = <int64_t>((t1 - w.sh.start_ns) // interval_ns) if t1 > w.sh.start_ns else 0
        if idx != w.ivl_idx:
            if _ivl_flush(w) != 0:
                return ENOMEM
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


cdef inline int _done(Shared* sh, Worker* w, FileSlot* fs, int file_index, int d, unsigned char* buf,
                      uint64_t off, uint64_t lat, uint64_t t1, int* since_fsync) noexcept nogil:
    """The bookkeeping after a transfer: checksums (a read's checked), the accounting (_account), the file
    marked as written and fsync_every. Returns 0, or -1 after recording a failure."""
    cdef uint64_t bad
    cdef uint32_t got, want
    if sh.chunk:
        if _checksum_block(sh, buf, off, fs.vkey, &w.checksums, &bad, &got, &want):
            _fail_checksum(sh, file_index, d, bad, got, want)
            return -1
    if _account(w, d, lat, sh.bs, t1) != 0:
        _fail(sh, ENOMEM, file_index, d, off)
        return -1
    if d == OP_WRITE:
        if not iol_load(&fs.written):
            iol_store(&fs.written, 1)
        if sh.fsync_every > 0:
            since_fsync[0] += 1
            if since_fsync[0] >= sh.fsync_every:
                since_fsync[0] = 0
                if fsync(fs.fd) != 0:
                    _fail(sh, errno, file_index, OP_FSYNC, off)
                    return -1
                w.fsyncs += 1
    return 0


cdef inline unsigned char* _slot_buf(Worker* w, int d, uint64_t slot) noexcept nogil:
    """The buffer of an op in flight slot `slot` (the psync model has one slot per thread)."""
    return (w.rbuf if d == OP_READ else w.wbuf) + slot * w.buflen


cdef inline int _claim(Shared* sh, JobSlot* job, FileSlot* files, Worker* w, uint64_t slot, uint64_t* f,
                       uint64_t* off, int* d, unsigned char** buf) noexcept nogil:
    """The job's next op: its file, offset and direction, and slot `slot`'s buffer for it (a write's is
    stamped). Returns 1 when the job has no op left."""
    cdef uint64_t blk
    cdef uint64_t c = iol_fetch_add(&job.cursor, 1)
    if (sh.deadline_ns == 0 and c >= sh.nb * <uint64_t>job.nfiles) or _pick(sh, job, files, c, f, &blk, d):
        return 1
    off[0] = blk * sh.bs
    buf[0] = _slot_buf(w, d[0], slot)
    if d[0] == OP_WRITE:
        _stamp(buf[0], sh.bs, files[f[0]].key + off[0])
    return 0


cdef inline void _thread_end(Shared* sh, Worker* w, JobSlot* job, bint ok) noexcept nogil:
    """A job's thread is done: its interval counts go to the shared rows, and the job's last thread
    end-fsyncs the files it wrote (fio's end_fsync)."""
    if _ivl_flush(w) != 0:
        _fail(sh, ENOMEM, job.first, OP_READ, 0)
        ok = False
    if iol_fetch_add(&job.active, <uint64_t>-1) == 1 and sh.end_fsync and ok:
        _end_fsync(sh, w, job)


cdef void* _worker(void* arg) noexcept nogil:
    """One thread of a job with one pread/pwrite in flight (fio's psync model)."""
    cdef Worker* w = <Worker*>arg
    cdef Shared* sh = w.sh
    cdef JobSlot* job = &sh.jobs[w.job]
    cdef FileSlot* files = sh.files + job.first
    cdef bint timed = sh.deadline_ns != 0
    cdef uint64_t f, off, t0, t1
    cdef int d, rc
    cdef int since_fsync = 0
    cdef FileSlot* fs
    cdef unsigned char* buf
    while not iol_load(&sh.stop):
        if _claim(sh, job, files, w, 0, &f, &off, &d, &buf):
            break
        fs = &files[f]
        t0 = iol_now_ns()
        rc = _transfer(fs.fd, buf, sh.bs, off, d == OP_READ)
        t1 = iol_now_ns()
        if rc != 0:
            _fail(sh, rc, job.first + <int>f, d, off)
            break
        if _done(sh, w, fs, job.first + <int>f, d, buf, off, t1 - t0, t1, &since_fsync):
            break
        if timed and t1 >= sh.deadline_ns:
            break
    _thread_end(sh, w, job, True)
    return NULL


# The state of a job's AIO thread: `depth` slots, each one op in flight or idle, with its control block,
# and what its completion needs (file, offset, direction, submission time).
# With io_uring the prepared ops are SQEs in the ring (filled, not yet taken by the kernel) instead.
ctypedef struct AioQueue:
    iol_aio_ctx ctx
    bint ctx_ok            # ctx was set up: destroy it at the end
    bint uring             # the ring below instead of ctx
    iol_ring ring
    unsigned ring_flags    # the io_uring_setup flags the kernel took (tb_uring.h)
    int depth
    iol_iocb* cbs          # one control block per slot
    iol_iocb** queue       # prepared, not yet taken by io_submit (in the order they were claimed)
    int* qslot             # the slots of the prepared ops, in the same order
    iol_io_event* events
    uint64_t* slot_f       # per slot: the op's file index in the job, offset, submission time, direction
    uint64_t* slot_off
    uint64_t* slot_t0
    int* slot_d
    int* free_slots        # idle slots (a stack)
    int nfree
    int nqueued
    int inflight


cdef int _aio_open(AioQueue* q, Shared* sh, Worker* w, JobSlot* job) noexcept nogil:
    """Setup of a job's AIO thread: sh.aio_depth idle slots and an AIO context or an io_uring for them (its
    buffers registered with sh.uring_fixed). Returns 0, or -1 after recording the failure (ENOMEM, or the
    errno of io_setup, io_uring_setup or io_uring_register); _aio_close frees what was set up either way."""
    cdef int i, rc
    cdef int depth = sh.aio_depth
    cdef iovec bufs[2]
    memset(q, 0, sizeof(AioQueue))
    q.ring.fd = -1
    q.uring = sh.uring != 0
    q.depth = depth
    q.qslot = <int*>calloc(depth, sizeof(int))
    q.cbs = <iol_iocb*>calloc(depth, sizeof(iol_iocb))
    q.queue = <iol_iocb**>calloc(depth, sizeof(iol_iocb*))
    q.events = <iol_io_event*>calloc(depth, sizeof(iol_io_event))
    q.slot_f = <uint64_t*>calloc(depth, sizeof(uint64_t))
    q.slot_off = <uint64_t*>calloc(depth, sizeof(uint64_t))
    q.slot_t0 = <uint64_t*>calloc(depth, sizeof(uint64_t))
    q.slot_d = <int*>calloc(depth, sizeof(int))
    q.free_slots = <int*>calloc(depth, sizeof(int))
    if q.cbs == NULL or q.queue == NULL or q.events == NULL or q.slot_f == NULL or q.slot_off == NULL or \
            q.slot_t0 == NULL or q.slot_d == NULL or q.free_slots == NULL or q.qslot == NULL:
        _fail(sh, ENOMEM, job.first, OP_READ, 0)
        return -1
    for i in range(depth):
        q.free_slots[i] = depth - 1 - i
    q.nfree = depth
    if q.uring:
        rc = iol_ring_setup(&q.ring, <unsigned>depth, &q.ring_flags)
        if rc != 0:
            _fail(sh, -rc, job.first, OP_RING_SETUP, 0)
            return -1
        if sh.uring_fixed:
            bufs[0].iov_base, bufs[0].iov_len = w.rbuf, w.buflen * <uint64_t>depth
            bufs[1].iov_base, bufs[1].iov_len = w.wbuf, w.buflen * <uint64_t>depth
            rc = iol_ring_register_buffers(&q.ring, bufs, 2)
            if rc != 0:
                _fail(sh, -rc, job.first, OP_RING_REGISTER, 0)
                return -1
        return 0
    rc = iol_aio_setup(<unsigned>depth, &q.ctx)
    if rc != 0:
        _fail(sh, -rc, job.first, OP_READ, 0)
        return -1
    q.ctx_ok = True
    return 0


cdef void _aio_close(AioQueue* q) noexcept nogil:
    """Tear down what _aio_open set up (io_destroy first: it waits for the ops still in flight, which
    use the thread's buffers; a ring is drained of them first, as closing it does not wait)."""
    cdef long n
    if q.ctx_ok:
        iol_aio_destroy(q.ctx)
    if q.ring.fd >= 0:
        while q.inflight > 0:
            n = iol_ring_reap(&q.ring, q.events, q.depth)
            if n < 0:
                break
            q.inflight -= <int>n
        iol_ring_destroy(&q.ring)
    free(q.qslot)
    free(q.cbs)
    free(q.queue)
    free(q.events)
    free(q.slot_f)
    free(q.slot_off)
    free(q.slot_t0)
    free(q.slot_d)
    free(q.free_slots)


cdef inline bint _aio_fill(Shared* sh, JobSlot* job, FileSlot* files, Worker* w, AioQueue* q) noexcept nogil:
    """Claim the job's next ops into the idle slots and prepare their control blocks, queued for submission.
    Returns False once the job has no op left."""
    cdef uint64_t f, off
    cdef int d, slot
    cdef unsigned char* buf
    while q.nfree > 0 and not iol_load(&sh.stop):
        slot = q.free_slots[q.nfree - 1]
        if _claim(sh, job, files, w, <uint64_t>slot, &f, &off, &d, &buf):
            return False
        q.nfree -= 1
        q.slot_f[slot], q.slot_off[slot], q.slot_d[slot] = f, off, d
        if q.uring:
            iol_ring_prep(&q.ring, files[f].fd, buf, <uint32_t>sh.bs, off, d == OP_READ, <uint64_t>slot,
                          d if sh.uring_fixed else -1)   # registered buffer 0: reads, 1: writes
        else:
            iol_aio_prep(&q.cbs[slot], files[f].fd, buf, sh.bs, off, d == OP_READ, <uint64_t>slot)
            q.queue[q.nqueued] = &q.cbs[slot]
        q.qslot[q.nqueued] = slot
        q.nqueued += 1
    return True


cdef inline int _aio_submit(Shared* sh, JobSlot* job, AioQueue* q) noexcept nogil:
    """Submit the queued ops (their latency starts now); those the kernel does not take stay queued, in
    order. Returns 0, or -1 after recording the failure (charged to the first op not taken)."""
    cdef int i, first
    cdef long n = 0, k = 0
    cdef uint64_t t0 = iol_now_ns()
    if q.uring:
        # One SQE per io_uring_enter, as fio submits (iodepth_batch_submit=1): each op reaches the device as
        # soon as it is ready instead of in a batch behind one block plug. Measured on the emulated optane tier
        # (a loop device on tmpfs), 4K random reads at QD32: about 275k IOPS with the whole batch in one call
        # and one wait, about 330k with one call per op (docs/engine-agreement.md, io_uring on both engines).
        for i in range(q.nqueued):
            q.slot_t0[q.qslot[i]] = iol_now_ns()
            k = iol_ring_submit(&q.ring, 1)
            if k <= 0:
                break
            n += k
        if k < 0:
            q.inflight += <int>n          # those taken are in flight: _aio_close drains them
            first = q.qslot[<int>n]
            _fail(sh, <int>-k, job.first + <int>q.slot_f[first], q.slot_d[first], q.slot_off[first])
            return -1
    else:
        for i in range(q.nqueued):
            q.slot_t0[q.qslot[i]] = t0
        n = iol_aio_submit(q.ctx, q.nqueued, q.queue)
        if n < 0:
            first = q.qslot[0]
            _fail(sh, <int>-n, job.first + <int>q.slot_f[first], q.slot_d[first], q.slot_off[first])
            return -1
    q.inflight += <int>n
    for i in range(<int>n, q.nqueued):     # not taken this time: keep them queued, in order
        q.queue[i - <int>n] = q.queue[i]
        q.qslot[i - <int>n] = q.qslot[i]
    q.nqueued -= <int>n
    return 0


cdef inline int _aio_reap(Shared* sh, Worker* w, JobSlot* job, FileSlot* files, AioQueue* q,
                          int* since_fsync, uint64_t* t1_out) noexcept nogil:
    """Wait for at least one completion; account each (its latency ends now: t1_out) and free its slot.
    Returns 0, or -1 after recording the failure (a failed or short transfer, a checksum, an fsync)."""
    cdef long n, k
    cdef int64_t res
    cdef int slot, d
    cdef uint64_t f, off, t1
    if q.uring:
        n = iol_ring_reap(&q.ring, q.events, q.depth)
    else:
        n = iol_aio_getevents(q.ctx, 1, q.depth, q.events)
    if n < 0:
        _fail(sh, <int>-n, job.first, OP_READ, 0)
        return -1
    t1 = iol_now_ns()
    t1_out[0] = t1
    q.inflight -= <int>n    # all of them, even when one fails: _aio_close drains a ring of the others
    for k in range(n):
        slot = <int>iol_event_data(&q.events[k])
        res = iol_event_res(&q.events[k])
        f, d, off = q.slot_f[slot], q.slot_d[slot], q.slot_off[slot]
        if res < 0 or <uint64_t>res != sh.bs:
            # A short direct transfer is the file's end (reads) or a full device (writes).
            _fail(sh, <int>-res if res < 0 else (ERR_EOF if d == OP_READ else ENOSPC), job.first + <int>f, d, off)
            return -1
        if _done(sh, w, &files[f], job.first + <int>f, d, _slot_buf(w, d, <uint64_t>slot), off,
                 t1 - q.slot_t0[slot], t1, since_fsync):
            return -1
        q.free_slots[q.nfree] = slot
        q.nfree += 1
    return 0


cdef void* _aio_worker(void* arg) noexcept nogil:
    """A whole job on one thread with sh.aio_depth operations in flight through Linux AIO (fio's libaio
    model, used for direct I/O with iodepth > 1) or an io_uring (sh.uring: fio's io_uring): submit until the
    queue is full, reap at least one completion, repeat; an op's latency runs from its submission to its
    reaping, as fio's clat does."""
    cdef Worker* w = <Worker*>arg
    cdef Shared* sh = w.sh
    cdef JobSlot* job = &sh.jobs[w.job]
    cdef FileSlot* files = sh.files + job.first
    cdef bint timed = sh.deadline_ns != 0
    cdef AioQueue q
    cdef bint more = True
    cdef bint failed = _aio_open(&q, sh, w, job) != 0
    cdef int since_fsync = 0
    cdef uint64_t t1
    while not failed:
        if more:
            more = _aio_fill(sh, job, files, w, &q)
        if iol_load(&sh.stop):
            more = False
        if q.nqueued and _aio_submit(sh, job, &q) != 0:
            failed = True
            break
        if q.inflight == 0:
            if q.nqueued == 0 and not more:
                break
            continue
        if _aio_reap(sh, w, job, files, &q, &since_fsync, &t1) != 0:
            failed = True
            break
        if timed and t1 >= sh.deadline_ns:
            more = False
    _aio_close(&q)
    _thread_end(sh, w, job, not failed)
    return NULL


cdef void _end_fsync(Shared* sh, Worker* w, JobSlot* job) noexcept nogil:
    """fio's end_fsync: a job, once all its I/O is done, fsyncs each file it wrote, while the other jobs
    still run or sync theirs (not after every job has ended, one file after the other)."""
    cdef int i
    for i in range(job.first, job.first + job.nfiles):
        if iol_load(&sh.err_code) != 0:
            return
        if iol_load(&sh.files[i].written):
            if fsync(sh.files[i].fd) != 0:
                _fail(sh, errno, i, OP_FSYNC, 0)
                return
            w.fsyncs += 1


cdef uint64_t _process_cpu_ns() noexcept nogil:
    """User + system time of this process (all its threads), in nanoseconds."""
    cdef rusage ru
    getrusage(RUSAGE_SELF, &ru)
    return <uint64_t>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 + \
        <uint64_t>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000


cdef int _run_threads(Shared* sh, Worker** workers, int nworkers, pthread_t* tids, uint64_t runtime_ns,
                      uint64_t* elapsed_ns, uint64_t* cpu_ns) noexcept nogil:
    """Start and join the threads (each job's last one end-fsyncs the job's files): the timed part of a run.
    cpu_ns: the process's CPU time over that part (the I/O threads', not the setup's: buffers, files), the
    part of each job that fio's usr/sys accounting covers. Returns 0 or the errno of pthread_create."""
    cdef int i, started = 0, rc = 0
    cdef uint64_t cpu0 = _process_cpu_ns()
    cdef uint64_t start = iol_now_ns()
    sh.start_ns = start
    if runtime_ns:
        sh.deadline_ns = start + runtime_ns
    for i in range(nworkers):
        rc = pthread_create(&tids[i], NULL, _aio_worker if sh.aio_depth else _worker, workers[i])
        if rc != 0:
            iol_store(&sh.stop, 1)
            break
        started += 1
    for i in range(started):
        pthread_join(tids[i], NULL)
    elapsed_ns[0] = iol_now_ns() - start
    cpu_ns[0] = _process_cpu_ns() - cpu0
    return rc


cdef void* _aligned(size_t n) noexcept nogil:
    cdef void* p = NULL
    if posix_memalign(&p, PAGE, n) != 0:
        return NULL
    memset(p, 0, n)  # touch every page now rather than inside the first timed operation
    return p


cdef inline uint32_t _raw(uint32_t reg, const unsigned char* p, size_t n) noexcept nogil:
    """The CRC32C register after p[0:n] from `reg`, without the initial and final inversions (linear)."""
    return ~crc32c_update(~reg, p, n)


cdef int _checksum_tables(Shared* sh, uint64_t pattern_key) noexcept nogil:
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
    cdef unsigned char* pattern = <unsigned char*>_aligned(sh.vbs)
    sh.base = <uint32_t*>calloc(nbase, sizeof(uint32_t))
    sh.ctab = <uint32_t*>calloc(nsect * 2048, sizeof(uint32_t))
    if g == NULL or pattern == NULL or sh.base == NULL or sh.ctab == NULL:
        free(g)
        free(pattern)
        return -1
    _fill_pattern(pattern, sh.vbs, pattern_key)
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


cdef void _fill_pattern(unsigned char* buf, size_t n, uint64_t key) noexcept nogil:
    """ioloop_ref.write_pattern: little-endian words mix64(key + i * GOLDEN), zero bytes replaced."""
    cdef size_t i
    for i in range(0, n, 8):
        iol_store_le64(buf + i, iol_mix64(key + <uint64_t>(i // 8) * IOL_GOLDEN))
    for i in range(n):
        if buf[i] == 0:
            buf[i] = 0x5A


def run_phase(jobs, rw, bs, file_size, *, iodepth=1, rwmixread=50, direct=True, fsync_every=0,
              end_fsync=True, runtime_s=None, file_service="roundrobin", seed=0, checksum_chunk=0,
              written_seed=None, written_bs=None, ioengine=None, fixedbufs=True, interval_s=None, on_interval=None):
    """Run one I/O phase; returns its counts, latency histograms and elapsed time.

    jobs: list of jobs, each a list of its own file paths (numjobs = len(jobs)); every job keeps `iodepth`
    ops in flight, as `ioengine` says (fio's names): "libaio", Linux AIO on one thread per job; "io_uring",
    an io_uring on one thread per job (its buffers registered unless fixedbufs is False; a kernel that
    refuses io_uring fails the phase with OSError saying why, kernels.uring.refusal); "psync", `iodepth`
    threads per job with one op each; None: libaio when direct and iodepth > 1, else psync.
    rw: read, write, randread, randwrite, randrw, rw (fio's names);
    bs and file_size in bytes (file_size a whole number of blocks). Size-based (runtime_s None): each job
    moves file_size bytes per file (sequential phases touch every block once; random ones do as many ops at
    random blocks); time-based: ops until runtime_s seconds have passed (sequential phases wrap around).
    file_service: how a job picks the file of each op (roundrobin, sequential, random). fsync_every: fsync
    after every N writes of a thread; end_fsync: each job fsyncs every file it wrote once its I/O is done
    (its last thread does, while other jobs may still run: fio's end_fsync), inside the timed part.
    checksum_chunk: bytes per CRC32C chunk (a multiple of 512 dividing bs; 0: none), for phases that only
    write or only read; every op's buffer is checksummed after the transfer and checked against the CRC32C
    its chunks were written with. A read checks the files as the ioloop write phase over the same jobs with
    seed `written_seed` (required) and bs `written_bs` (default: bs) left them.
    interval_s: figures over time, in intervals of that many seconds from the start of the timed part: the
    result's "intervals" holds {"interval_s", "start_ns" (that start, CLOCK_MONOTONIC ns: time.monotonic_ns),
    "counts": uint64 array (intervals, 2 (read, write),
    2 + PLAT_NR (ops, bytes, fio's latency bins))}, each op counted in the interval it completed in (the
    last interval may be shorter). on_interval(index, counts (2, 2 + PLAT_NR)) is called from another thread
    while the phase runs, for each interval one interval after it ended (an op still in flight then is
    counted in the result, not in the call): for display only (kernels.ioloop_ref.IntervalPoller).

    Returns {"elapsed_s": seconds, "cpu_s": the process's CPU seconds over the timed part (the I/O
    threads' work, not the setup of buffers and files), "read": {"ops", "bytes", "hist" (uint64[PLAT_NR], fio's bins),
    "lat_min_ns", "lat_max_ns" (None without ops), "lat_sum_ns"}, "write": {...}, "fsyncs": calls,
    "checksums": CRC32C chunks computed and checked, "implementation": "cython:ioloop", "ioengine": the model that ran}. Raises ValueError
    for bad arguments or files too short to read, and OSError (errno, file name) for the first failed
    operation, after every thread has stopped: EIO naming the chunk's offset when a checksum does not match.
    """
    cfg = check_args(jobs, rw, bs, file_size, iodepth, rwmixread, direct, fsync_every, runtime_s,
                      file_service, seed, checksum_chunk, written_seed, written_bs, ioengine)
    interval_ns = check_interval(interval_s, on_interval)
    paths = [p for job in cfg["paths"] for p in job]
    # libaio and io_uring: one thread per job keeps iodepth ops queued; psync: iodepth threads per job,
    # each with one op in flight.
    cdef bint aio = cfg["ioengine"] in ("libaio", "io_uring")
    cdef int per_job = 1 if aio else cfg["iodepth"]
    cdef int nworkers = len(cfg["paths"]) * per_job
    cdef uint64_t runtime_ns = 0 if runtime_s is None else max(<uint64_t>1, <uint64_t>(float(runtime_s) * 1e9))
    cdef Shared sh
    cdef Worker** workers = NULL
    cdef pthread_t* tids = NULL
    cdef uint64_t elapsed_ns = 0, cpu_ns = 0, pattern_key = 0
    cdef int rc = 0
    cdef _Intervals reader
    memset(&sh, 0, sizeof(Shared))
    pthread_mutex_init(&sh.ivl_lock, NULL)
    sh.interval_ns = interval_ns
    poller = None
    fds = open_files(cfg)
    try:
        _setup_shared(&sh, cfg, fds, cfg["iodepth"] if aio else 0, per_job, bool(end_fsync), &pattern_key)
        sh.uring = cfg["ioengine"] == "io_uring"
        sh.uring_fixed = sh.uring and bool(fixedbufs)
        workers = <Worker**>calloc(nworkers, sizeof(Worker*))
        tids = <pthread_t*>calloc(nworkers, sizeof(pthread_t))
        if workers == NULL or tids == NULL:
            raise MemoryError()
        _setup_workers(&sh, workers, nworkers, per_job, pattern_key)
        if on_interval is not None:
            reader = _Intervals()
            reader.sh = &sh
            poller = IntervalPoller(reader.rows, interval_ns, on_interval)
            poller.start()
        with nogil:
            rc = _run_threads(&sh, workers, nworkers, tids, runtime_ns, &elapsed_ns, &cpu_ns)
        if poller is not None:
            poller.finish()
            poller = None
        if rc != 0:
            raise OSError(rc, f"cannot start {nworkers} I/O threads: {os.strerror(rc)}")
        if sh.err_code != 0 and sh.err_op in (OP_RING_SETUP, OP_RING_REGISTER):
            raise OSError(sh.err_code, refusal(sh.err_code, "io_uring_setup" if sh.err_op == OP_RING_SETUP
                                               else "io_uring_register"))
        if sh.err_code != 0:
            raise_io_error(sh.err_code, paths[sh.err_file], sh.err_op, sh.err_offset, sh.chunk,
                            sh.err_got, sh.err_want)
        result = _collect(workers, nworkers, elapsed_ns)
        result["cpu_s"] = cpu_ns / 1e9
        result["ioengine"] = cfg["ioengine"]
        if interval_ns:
            result["intervals"] = {"interval_s": interval_ns / 1e9, "start_ns": sh.start_ns,
                                   "counts": _ivl_copy(&sh, 0, sh.ivl_n)}
        return result
    finally:
        if poller is not None:
            poller.finish()
        for fd in fds:
            os.close(fd)
        _free_workers(workers, nworkers)
        free(tids)
        _free_shared(&sh)
        pthread_mutex_destroy(&sh.ivl_lock)



cdef int _setup_shared(Shared* sh, dict cfg, list fds, int aio_depth, int per_job, bint end_fsync,
                       uint64_t* pattern_key) except -1:
    """Setup of the state the threads share, from run_phase's checked settings: each job's key, files and
    thread count (`per_job`), each file's fd and keys (the stamps it writes; what its checksums are checked
    against), the phase's parameters and the checksum tables. Sets *pattern_key, the key of the write
    buffers' pattern. Raises MemoryError (what was allocated is freed by _free_shared)."""
    sizes = [len(job) for job in cfg["paths"]]
    job_keys, file_keys, key = seed_keys(cfg["seed"], sizes)
    pattern_key[0] = key
    verify_keys, verify_pattern_key = file_keys, key
    if cfg["written_seed"] is not None:
        _, verify_keys, verify_pattern_key = seed_keys(cfg["written_seed"], sizes)
    cdef int njobs = len(sizes)
    cdef int nfiles = len(fds)
    cdef int i, j, first = 0
    if posix_memalign(<void**>&sh.files, 64, nfiles * sizeof(FileSlot)) != 0 or \
            posix_memalign(<void**>&sh.jobs, 64, njobs * sizeof(JobSlot)) != 0:
        raise MemoryError()
    memset(sh.files, 0, nfiles * sizeof(FileSlot))
    memset(sh.jobs, 0, njobs * sizeof(JobSlot))
    for j in range(njobs):
        sh.jobs[j].key = job_keys[j]
        sh.jobs[j].first = first
        sh.jobs[j].nfiles = sizes[j]
        sh.jobs[j].active = <uint64_t>per_job
        for i in range(sizes[j]):
            sh.files[first + i].fd = fds[first + i]
            sh.files[first + i].key = file_keys[j][i]
            sh.files[first + i].vkey = verify_keys[j][i]
        first += sizes[j]
    sh.bs = cfg["bs"]
    sh.nb = cfg["file_size"] // sh.bs
    sh.random = cfg["random"]
    sh.service = cfg["service"]
    sh.rwmix = cfg["rwmix"]
    sh.fsync_every = cfg["fsync_every"]
    sh.end_fsync = end_fsync
    sh.aio_depth = aio_depth
    sh.chunk = cfg["chunk"]
    if sh.chunk:
        sh.vbs = cfg["written_bs"] or sh.bs
        if _checksum_tables(sh, verify_pattern_key) != 0:
            raise MemoryError()
    return 0


cdef int _setup_workers(Shared* sh, Worker** workers, int nworkers, int per_job, uint64_t pattern_key) except -1:
    """Setup of each thread's Worker: its job, zeroed counts and latency bins, and page-aligned buffers, one
    read and one write buffer per op in flight (sh.aio_depth of each with AIO, else one), the write buffers
    filled with the pattern of `pattern_key`. Raises MemoryError (what was allocated is freed by
    _free_workers)."""
    cdef int slots = sh.aio_depth if sh.aio_depth else 1
    cdef size_t buflen = (sh.bs + PAGE - 1) // PAGE * PAGE
    cdef unsigned char* pattern = <unsigned char*>_aligned(buflen)
    cdef int i, j
    cdef Worker* w
    if pattern == NULL:
        raise MemoryError()
    try:
        _fill_pattern(pattern, buflen, pattern_key)
        for i in range(nworkers):
            w = <Worker*>calloc(1, sizeof(Worker))
            workers[i] = w
            if w == NULL:
                raise MemoryError()
            w.sh = sh
            w.job = i // per_job
            w.lat_min[0] = w.lat_min[1] = <uint64_t>-1
            w.hist = <uint64_t*>calloc(2 * IOL_PLAT_NR, sizeof(uint64_t))
            w.ivl_idx = -1
            if sh.interval_ns:
                w.ivl_cur = <uint64_t*>calloc(_ivl_row(), sizeof(uint64_t))
                if w.ivl_cur == NULL:
                    raise MemoryError()
            w.buflen = buflen
            w.rbuf = <unsigned char*>_aligned(buflen * slots)
            w.wbuf = <unsigned char*>_aligned(buflen * slots)
            if w.hist == NULL or w.rbuf == NULL or w.wbuf == NULL:
                raise MemoryError()
            for j in range(slots):
                memcpy(w.wbuf + <size_t>j * buflen, pattern, buflen)
    finally:
        free(pattern)
    return 0


cdef void _free_workers(Worker** workers, int nworkers) noexcept nogil:
    """Free what _setup_workers allocated (also after it failed part way), and the array of Workers."""
    cdef int i
    if workers != NULL:
        for i in range(nworkers):
            if workers[i] != NULL:
                free(workers[i].hist)
                free(workers[i].rbuf)
                free(workers[i].wbuf)
                free(workers[i].ivl_cur)
                free(workers[i])
    free(workers)


cdef void _free_shared(Shared* sh) noexcept nogil:
    """Free what _setup_shared allocated (also after it failed part way)."""
    free(sh.files)
    free(sh.jobs)
    free(sh.base)
    free(sh.ctab)
    free(sh.ivl)


cdef dict _collect(Worker** workers, int nworkers, uint64_t elapsed_ns):
    """Merge the threads' counts and histograms into run_phase's result."""
    cdef uint64_t ops, nbytes, lat_sum, lat_min, lat_max, fsyncs = 0, checksums = 0
    cdef uint64_t[::1] view
    cdef int d, i, b
    cdef Worker* w
    result = {"elapsed_s": elapsed_ns / 1e9, "implementation": IMPLEMENTATION}
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
    return result


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
