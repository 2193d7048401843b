# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The builtin I/O engine's queued loop: fio's libaio and io_uring models, `iodepth` ops in flight per job.

Direct I/O with iodepth > 1 (or ioengine="libaio" / "io_uring") runs each job on one POSIX thread (the
driver, kernels.ioloop, starts it with `queue_worker`) that keeps `iodepth` operations in flight with Linux
AIO (io_submit / io_getevents by system call, kernels/ioloop_aio.h: what fio's libaio engine does, the engine
the fio job files use there) or an io_uring (kernels/tb_uring.h, fio's io_uring). The ops are those of the
op stream (kernels/ioloop_ops.pxd), the same as the psync loop's; kernels/ioloop_queue_ref.py says why the
reference runs them on psync threads.
"""
from libc.errno cimport ENOMEM, ENOSPC
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memset

from kernels.ioloop_ops cimport claim, done, fail, slot_buf, thread_end
from kernels.ioloop_state cimport (
    ERR_EOF,
    OP_READ,
    OP_RING_REGISTER,
    OP_RING_SETUP,
    FileSlot,
    JobSlot,
    Shared,
    Worker,
    iol_load,
    iol_now_ns,
)

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

__all__ = ["IMPLEMENTATION", "MODELS"]

IMPLEMENTATION = "cython:ioloop_queue"
#: The queueing models this loop runs (fio's ioengine names).
MODELS = ("libaio", "io_uring")


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
        fail(sh, ENOMEM, job.first, OP_READ, 0)
        return -1
    for i in range(depth):
        q.free_slots[i] = depth - 1 - i
    q.nfree = depth
    if q.uring:
        rc = iol_ring_setup(&q.ring, <unsigned>depth, &q.ring_flags)
        if rc != 0:
            fail(sh, -rc, job.first, OP_RING_SETUP, 0)
            return -1
        if sh.uring_fixed:
            bufs[0].iov_base, bufs[0].iov_len = w.rbuf, w.buflen * <uint64_t>depth
            bufs[1].iov_base, bufs[1].iov_len = w.wbuf, w.buflen * <uint64_t>depth
            rc = iol_ring_register_buffers(&q.ring, bufs, 2)
            if rc != 0:
                fail(sh, -rc, job.first, OP_RING_REGISTER, 0)
                return -1
        return 0
    rc = iol_aio_setup(<unsigned>depth, &q.ctx)
    if rc != 0:
        fail(sh, -rc, job.first, OP_READ, 0)
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
        if claim(sh, job, files, w, <uint64_t>slot, &f, &off, &d, &buf):
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
            fail(sh, <int>-k, job.first + <int>q.slot_f[first], q.slot_d[first], q.slot_off[first])
            return -1
    else:
        for i in range(q.nqueued):
            q.slot_t0[q.qslot[i]] = t0
        n = iol_aio_submit(q.ctx, q.nqueued, q.queue)
        if n < 0:
            first = q.qslot[0]
            fail(sh, <int>-n, job.first + <int>q.slot_f[first], q.slot_d[first], q.slot_off[first])
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
        fail(sh, <int>-n, job.first, OP_READ, 0)
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
            fail(sh, <int>-res if res < 0 else (ERR_EOF if d == OP_READ else ENOSPC), job.first + <int>f, d, off)
            return -1
        if done(sh, w, &files[f], job.first + <int>f, d, slot_buf(w, d, <uint64_t>slot), off,
                 t1 - q.slot_t0[slot], t1, since_fsync):
            return -1
        q.free_slots[q.nfree] = slot
        q.nfree += 1
    return 0


cdef void* queue_worker(void* arg) noexcept nogil:
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
    thread_end(sh, w, job, not failed)
    return NULL
