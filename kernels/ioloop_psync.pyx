# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The builtin I/O engine's psync loop: fio's psync model, one pread/pwrite in flight per thread.

Buffered I/O, and direct I/O with ioengine="psync", run each job on `iodepth` POSIX threads (the driver,
kernels.ioloop, starts them with `psync_worker`), each claiming the job's next op, timing its transfer alone
(CLOCK_MONOTONIC, ns) and doing the bookkeeping after the clock (kernels/ioloop_ops.pxd `done`).
kernels/ioloop_psync_ref.py is the same loop in Python threads (os.preadv / os.pwritev).
"""
from libc.errno cimport EINTR, errno
from libc.stdint cimport uint64_t
from posix.unistd cimport pread, pwrite

from kernels.ioloop_ops cimport claim, done, fail, thread_end
from kernels.ioloop_state cimport ERR_EOF, OP_READ, FileSlot, JobSlot, Shared, Worker, iol_load, iol_now_ns

__all__ = ["IMPLEMENTATION", "MODEL"]

IMPLEMENTATION = "cython:ioloop_psync"
#: The queueing model this loop is (fio's ioengine name).
MODEL = "psync"


cdef int _transfer(int fd, unsigned char* buf, uint64_t n, uint64_t off, bint is_read) noexcept nogil:
    """All n bytes at off (short transfers are continued, as fio does); 0, an errno, or ERR_EOF."""
    cdef ssize_t r
    cdef uint64_t moved = 0
    while moved < n:
        if is_read:
            r = pread(fd, buf + moved, n - moved, off + moved)
        else:
            r = pwrite(fd, buf + moved, n - moved, off + moved)
        if r < 0:
            if errno == EINTR:
                continue
            return errno
        if r == 0:
            return ERR_EOF
        moved += <uint64_t>r
    return 0


cdef void* psync_worker(void* arg) noexcept nogil:
    """One thread of a job with one pread/pwrite in flight (fio's psync model); `arg` is its Worker."""
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
        if claim(sh, job, files, w, 0, &f, &off, &d, &buf):
            break
        fs = &files[f]
        t0 = iol_now_ns()
        rc = _transfer(fs.fd, buf, sh.bs, off, d == OP_READ)
        t1 = iol_now_ns()
        if rc != 0:
            fail(sh, rc, job.first + <int>f, d, off)
            break
        if done(sh, w, fs, job.first + <int>f, d, buf, off, t1 - t0, t1, &since_fsync):
            break
        if timed and t1 >= sh.deadline_ns:
            break
    thread_end(sh, w, job, True)
    return NULL
