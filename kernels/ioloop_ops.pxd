# C-level API of the builtin engine's op stream (kernels/ioloop_ops.pyx): which op comes next, and the
# bookkeeping after each transfer. The per-op parts are inline here, so that each loop (kernels.ioloop_psync,
# kernels.ioloop_queue) compiles them into itself: no call through a module's function table per op.
from libc.errno cimport errno
from libc.stdint cimport uint32_t, uint64_t
from posix.unistd cimport fsync

from kernels.ioloop_account cimport account
from kernels.ioloop_checksum cimport checksum_block
from kernels.ioloop_state cimport (
    IOL_GOLDEN,
    OP_FSYNC,
    OP_READ,
    OP_WRITE,
    SVC_ROUNDROBIN,
    SVC_SEQUENTIAL,
    FileSlot,
    JobSlot,
    Shared,
    Worker,
    iol_fetch_add,
    iol_load,
    iol_mix64,
    iol_store,
    iol_store_le64,
)


cdef void fail(Shared* sh, int code, int file_index, int op, uint64_t offset) noexcept nogil
cdef void fail_checksum(Shared* sh, int file_index, int op, uint64_t offset, uint32_t got,
                        uint32_t want) noexcept nogil
cdef void thread_end(Shared* sh, Worker* w, JobSlot* job, bint ok) noexcept nogil


cdef inline int pick(Shared* sh, JobSlot* job, FileSlot* files, uint64_t c, uint64_t* f_out,
                     uint64_t* blk_out, int* d_out) noexcept nogil:
    """File, block and direction of op c of a job (a function of the seed, the job and c alone, as in
    ioloop_ops_ref). Returns 0, or 1 when the op has no block left (file_service=random, size-based)."""
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


cdef inline int next_op(Shared* sh, JobSlot* job, FileSlot* files, uint64_t* f, uint64_t* blk,
                        int* d) noexcept nogil:
    """The job's next op from its shared cursor: its file, block and direction. Returns 1 when the job has no
    op left (size-based: all taken)."""
    cdef uint64_t c = iol_fetch_add(&job.cursor, 1)
    if (sh.deadline_ns == 0 and c >= sh.nb * <uint64_t>job.nfiles) or pick(sh, job, files, c, f, blk, d):
        return 1
    return 0


cdef inline void stamp(unsigned char* buf, uint64_t bs, uint64_t key) noexcept nogil:
    """Every sector of a block to be written starts with its stamp: the file's key + the byte offset."""
    cdef uint64_t s = 0
    while s + 8 <= bs:
        iol_store_le64(buf + s, key + s)
        s += 512


cdef inline unsigned char* slot_buf(Worker* w, int d, uint64_t slot) noexcept nogil:
    """The buffer of an op in flight slot `slot` (the psync model has one slot per thread)."""
    return (w.rbuf if d == OP_READ else w.wbuf) + slot * w.buflen


cdef inline int claim(Shared* sh, JobSlot* job, FileSlot* files, Worker* w, uint64_t slot, uint64_t* f,
                      uint64_t* off, int* d, unsigned char** buf) noexcept nogil:
    """The job's next op: its file, offset and direction, and slot `slot`'s buffer for it (a write's is
    stamped). Returns 1 when the job has no op left."""
    cdef uint64_t blk
    if next_op(sh, job, files, f, &blk, d):
        return 1
    off[0] = blk * sh.bs
    buf[0] = slot_buf(w, d[0], slot)
    if d[0] == OP_WRITE:
        stamp(buf[0], sh.bs, files[f[0]].key + off[0])
    return 0


cdef inline int done(Shared* sh, Worker* w, FileSlot* fs, int file_index, int d, unsigned char* buf,
                     uint64_t off, uint64_t lat, uint64_t t1, int* since_fsync) noexcept nogil:
    """The bookkeeping after a transfer: checksums (a read's checked), the accounting (ioloop_account), the
    file marked as written and fsync_every. Returns 0, or -1 after recording a failure."""
    cdef uint64_t bad
    cdef uint32_t got, want
    cdef int rc
    if sh.chunk:
        if checksum_block(sh, buf, off, fs.vkey, &w.checksums, &bad, &got, &want):
            fail_checksum(sh, file_index, d, bad, got, want)
            return -1
    rc = account(w, d, lat, sh.bs, t1)
    if rc != 0:
        fail(sh, rc, file_index, d, off)
        return -1
    if d == OP_WRITE:
        if not iol_load(&fs.written):
            iol_store(&fs.written, 1)
        if sh.fsync_every > 0:
            since_fsync[0] += 1
            if since_fsync[0] >= sh.fsync_every:
                since_fsync[0] = 0
                if fsync(fs.fd) != 0:
                    fail(sh, errno, file_index, OP_FSYNC, off)
                    return -1
                w.fsyncs += 1
    return 0
