/* Linux native AIO (io_setup / io_submit / io_getevents) for kernels/ioloop_queue.pyx, by raw system
 * calls, so no libaio is needed: the engine fio's `ioengine=libaio` uses, which the builtin engine uses for direct I/O
 * with more than one operation in flight per job (one thread per job keeps `iodepth` operations queued).
 * Every function returns 0 / a count, or a negative errno. */
#ifndef TB_IOLOOP_AIO_H
#define TB_IOLOOP_AIO_H

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/aio_abi.h>

typedef aio_context_t iol_aio_ctx;
typedef struct iocb iol_iocb;
typedef struct io_event iol_io_event;

static inline int iol_aio_setup(unsigned nr, iol_aio_ctx *ctx)
{
    *ctx = 0;
    return syscall(SYS_io_setup, nr, ctx) < 0 ? -errno : 0;
}

/* Waits for the operations still in flight (the kernel does), then frees the context. */
static inline void iol_aio_destroy(iol_aio_ctx ctx)
{
    syscall(SYS_io_destroy, ctx);
}

static inline void iol_aio_prep(iol_iocb *cb, int fd, void *buf, uint64_t n, uint64_t off, int is_read,
                                uint64_t data)
{
    memset(cb, 0, sizeof(*cb));
    cb->aio_fildes = (uint32_t)fd;
    cb->aio_lio_opcode = is_read ? IOCB_CMD_PREAD : IOCB_CMD_PWRITE;
    cb->aio_buf = (uint64_t)(uintptr_t)buf;
    cb->aio_nbytes = n;
    cb->aio_offset = (int64_t)off;
    cb->aio_data = data;
}

static inline long iol_aio_submit(iol_aio_ctx ctx, long nr, iol_iocb **cbs)
{
    long r;
    do {
        r = syscall(SYS_io_submit, ctx, nr, cbs);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : r;
}

static inline long iol_aio_getevents(iol_aio_ctx ctx, long min_nr, long nr, iol_io_event *events)
{
    long r;
    do {
        r = syscall(SYS_io_getevents, ctx, min_nr, nr, events, NULL);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : r;
}

static inline uint64_t iol_event_data(const iol_io_event *e) { return e->data; }
static inline int64_t iol_event_res(const iol_io_event *e) { return e->res; }

#endif
