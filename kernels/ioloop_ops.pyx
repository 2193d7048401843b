# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The builtin I/O engine's op stream: which file, block and direction op c of job j uses, and what happens
around each transfer (both loops share it: kernels.ioloop_psync, kernels.ioloop_queue).

Which file, block and direction op c of job j uses depends only on (seed, j, c) (splitmix64, a counter-based
generator), never on the thread that runs it; kernels/ioloop_ops_ref.py is the same in Python and the
definition of every number here (`op_sequence` lists the same ops in both). The per-op functions are inline
in kernels/ioloop_ops.pxd; the rare ones (a failure, a thread's end) are here.
"""
from libc.errno cimport ENOMEM, errno
from libc.stdint cimport uint32_t, uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memset
from posix.unistd cimport fsync

from kernels.ioloop_account cimport ivl_flush
from kernels.ioloop_ops_ref import FILE_SERVICE
from kernels.ioloop_state cimport (
    ERR_CHECKSUM,
    OP_FSYNC,
    OP_READ,
    FileSlot,
    JobSlot,
    Shared,
    Worker,
    iol_cas,
    iol_fetch_add,
    iol_load,
    iol_store,
)

__all__ = ["IMPLEMENTATION", "op_sequence"]

IMPLEMENTATION = "cython:ioloop_ops"


cdef void fail(Shared* sh, int code, int file_index, int op, uint64_t offset) noexcept nogil:
    """Record the first failure of the run and tell every thread to stop."""
    if iol_cas(&sh.err_code, 0, code):
        sh.err_file = file_index
        sh.err_op = op
        sh.err_offset = offset
    iol_store(&sh.stop, 1)


cdef void fail_checksum(Shared* sh, int file_index, int op, uint64_t offset, uint32_t got,
                        uint32_t want) noexcept nogil:
    """Record a checksum mismatch (the CRC found and the one written) as the run's first failure, if it is."""
    if iol_cas(&sh.err_code, 0, ERR_CHECKSUM):
        sh.err_file = file_index
        sh.err_op = op
        sh.err_offset = offset
        sh.err_got = got
        sh.err_want = want
    iol_store(&sh.stop, 1)


cdef void _end_fsync(Shared* sh, Worker* w, JobSlot* job) noexcept nogil:
    """fio's end_fsync: a job, once all its I/O is done, fsyncs each file it wrote, while the other jobs
    still run or sync theirs (not after every job has ended, one file after the other)."""
    cdef int i
    for i in range(job.first, job.first + job.nfiles):
        if iol_load(&sh.err_code) != 0:
            return
        if iol_load(&sh.files[i].written):
            if fsync(sh.files[i].fd) != 0:
                fail(sh, errno, i, OP_FSYNC, 0)
                return
            w.fsyncs += 1


cdef void thread_end(Shared* sh, Worker* w, JobSlot* job, bint ok) noexcept nogil:
    """A job's thread is done: its interval counts go to the shared rows, and the job's last thread
    end-fsyncs the files it wrote (fio's end_fsync)."""
    if ivl_flush(w) != 0:
        fail(sh, ENOMEM, job.first, OP_READ, 0)
        ok = False
    if iol_fetch_add(&job.active, <uint64_t>-1) == 1 and sh.end_fsync and ok:
        _end_fsync(sh, w, job)


def op_sequence(job_key, nfiles, nb, bs, rwmix, random, service, count, timed=False):
    """The first `count` ops of one job (on one thread) as (file index, byte offset, is-read), drawn as the
    threads draw them (next_op): size-based (timed False) the list ends with the job's last op; time-based it
    wraps around. rwmix: % of reads. The same list as ioloop_ops_ref.op_sequence."""
    if service not in FILE_SERVICE:
        raise ValueError(f"service must be one of {', '.join(FILE_SERVICE)}, not {service!r}")
    if int(nfiles) < 1 or int(nb) < 1 or int(bs) < 1 or not 0 <= int(rwmix) <= 100 or int(count) < 0:
        raise ValueError("nfiles, nb and bs must be >= 1, rwmix 0..100 and count >= 0")
    cdef Shared sh
    cdef JobSlot job
    cdef FileSlot* files = <FileSlot*>calloc(int(nfiles), sizeof(FileSlot))
    cdef uint64_t f = 0, blk = 0
    cdef int d = 0
    cdef long i
    if files == NULL:
        raise MemoryError()
    memset(&sh, 0, sizeof(Shared))
    memset(&job, 0, sizeof(JobSlot))
    sh.nb, sh.bs, sh.rwmix = int(nb), int(bs), int(rwmix)
    sh.random, sh.service = bool(random), FILE_SERVICE.index(service)
    sh.deadline_ns = 1 if timed else 0     # any deadline: what next_op and pick look at
    job.key = <uint64_t>(int(job_key) & 0xFFFFFFFFFFFFFFFF)
    job.nfiles = int(nfiles)
    out = []
    try:
        for i in range(int(count)):
            if next_op(&sh, &job, files, &f, &blk, &d):
                break
            out.append((int(f), int(blk * sh.bs), d == OP_READ))
        return out
    finally:
        free(files)
