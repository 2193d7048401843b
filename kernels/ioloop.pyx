# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The builtin I/O engine of tierbench: fio's psync, libaio and io_uring models in C threads, driven from
bench.engines.builtin.

`run_phase` runs one phase of an engine-neutral pattern (bench.core.pattern, fio vocabulary). Direct I/O with
iodepth > 1 runs each of the `len(jobs)` jobs on one POSIX thread that keeps `iodepth` operations in flight
with Linux AIO or an io_uring (kernels.ioloop_queue); otherwise each job has `iodepth` threads, each with one
pread/pwrite in flight (kernels.ioloop_psync: fio's psync engine, which fio uses for buffered I/O). The whole
run is C with the GIL released; per-op latencies (CLOCK_MONOTONIC, ns) go into thread-local histograms in fio's
bin layout, merged at the end, so bench computes percentiles the same way for both engines (`hist_to_bins`);
with `interval_s`, each op is also counted in the interval it completed in (kernels.ioloop_account).

This module is the driver: it checks the arguments, opens the files, sets up the state the threads share
(kernels/ioloop_state.pxd), starts and joins the threads, and builds the result. Which op does what is
kernels.ioloop_ops; checksums and the write pattern are kernels.ioloop_checksum. kernels/ioloop_ref.py is the
same engine in Python (each of these modules has its reference beside it) and the definition of every number
here.
"""
import os

from libc.stdint cimport uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy, memset
from posix.resource cimport RUSAGE_SELF, getrusage, rusage
from posix.stdlib cimport posix_memalign

from kernels.ioloop_account import PLAT_NR, bin_index_ns, bin_value_ns, hist_to_bins

from kernels.ioloop_account cimport collect, ivl_copy, ivl_row
from kernels.ioloop_checksum cimport aligned, checksum_tables, fill_pattern
from kernels.ioloop_psync cimport psync_worker
from kernels.ioloop_queue cimport queue_worker
from kernels.ioloop_queue_ref import QUEUED, threads_per_job
from kernels.ioloop_ref import IntervalPoller, check_args, check_interval, open_files, raise_io_error, seed_keys
from kernels.ioloop_state cimport (
    IOL_PLAT_NR,
    OP_RING_REGISTER,
    OP_RING_SETUP,
    PAGE,
    FileSlot,
    JobSlot,
    Shared,
    Worker,
    iol_now_ns,
    iol_store,
    pthread_create,
    pthread_join,
    pthread_mutex_destroy,
    pthread_mutex_init,
    pthread_t,
)
from kernels.uring import refusal

__all__ = ["run_phase", "bin_value_ns", "bin_index_ns", "hist_to_bins", "PLAT_NR", "IMPLEMENTATION"]

IMPLEMENTATION = "cython:ioloop"


cdef class _Intervals:
    """The interval rows of a running phase, for IntervalPoller (valid while run_phase runs)."""
    cdef Shared* sh

    def rows(self, first, last):
        return ivl_copy(self.sh, first, last)


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
        rc = pthread_create(&tids[i], NULL, queue_worker if sh.aio_depth else psync_worker, workers[i])
        if rc != 0:
            iol_store(&sh.stop, 1)
            break
        started += 1
    for i in range(started):
        pthread_join(tids[i], NULL)
    elapsed_ns[0] = iol_now_ns() - start
    cpu_ns[0] = _process_cpu_ns() - cpu0
    return rc


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
    # libaio and io_uring: one thread per job keeps iodepth ops queued (kernels.ioloop_queue); psync: iodepth
    # threads per job, each with one op in flight (kernels.ioloop_psync).
    cdef bint aio = cfg["ioengine"] in QUEUED
    cdef int per_job = threads_per_job(cfg["ioengine"], cfg["iodepth"])
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
        result = {"elapsed_s": elapsed_ns / 1e9, "implementation": IMPLEMENTATION}
        collect(workers, nworkers, result)
        result["cpu_s"] = cpu_ns / 1e9
        result["ioengine"] = cfg["ioengine"]
        if interval_ns:
            result["intervals"] = {"interval_s": interval_ns / 1e9, "start_ns": sh.start_ns,
                                   "counts": ivl_copy(&sh, 0, sh.ivl_n)}
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
        if checksum_tables(sh, verify_pattern_key) != 0:
            raise MemoryError()
    return 0


cdef int _setup_workers(Shared* sh, Worker** workers, int nworkers, int per_job, uint64_t pattern_key) except -1:
    """Setup of each thread's Worker: its job, zeroed counts and latency bins, and page-aligned buffers, one
    read and one write buffer per op in flight (sh.aio_depth of each with AIO, else one), the write buffers
    filled with the pattern of `pattern_key`. Raises MemoryError (what was allocated is freed by
    _free_workers)."""
    cdef int slots = sh.aio_depth if sh.aio_depth else 1
    cdef size_t buflen = (sh.bs + PAGE - 1) // PAGE * PAGE
    cdef unsigned char* pattern = <unsigned char*>aligned(buflen)
    cdef int i, j
    cdef Worker* w
    if pattern == NULL:
        raise MemoryError()
    try:
        fill_pattern(pattern, buflen, pattern_key)
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
                w.ivl_cur = <uint64_t*>calloc(ivl_row(), sizeof(uint64_t))
                if w.ivl_cur == NULL:
                    raise MemoryError()
            w.buflen = buflen
            w.rbuf = <unsigned char*>aligned(buflen * slots)
            w.wbuf = <unsigned char*>aligned(buflen * slots)
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
