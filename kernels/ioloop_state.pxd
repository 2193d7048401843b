# The state the builtin I/O engine's modules share (kernels/ioloop*.pyx): the C helpers of ioloop_clock.h,
# the failure codes and op kinds, and the structs the driver (kernels.ioloop) sets up and the threads of the
# two loops (kernels.ioloop_psync, kernels.ioloop_queue) work on. Declarations only: no module of its own.
from libc.stdint cimport int64_t, uint32_t, uint64_t


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

cdef enum:
    SVC_ROUNDROBIN = 0     # indexes of ioloop_ops_ref.FILE_SERVICE
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
    # interval per thread, none per op (kernels.ioloop_account).
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
