/* tb_uring.h - an io_uring per job for kernels/ioloop_queue.pyx, by raw system calls (io_uring_setup,
 * io_uring_enter, io_uring_register and mmap of the rings; no liburing): what fio's `ioengine=io_uring`
 * does, used by the builtin engine with `ioengine="io_uring"`.
 *
 * One thread owns a ring: it writes submission entries (SQEs) at the SQ tail, publishes the tail and
 * calls io_uring_enter (kernels/ioloop_queue.pyx submits one SQE per call, as fio does); completions (CQEs) are
 * read from the CQ head. The completions are copied into
 * the `struct io_event` array of the Linux AIO path (ioloop_aio.h: data = user_data, res = result) so
 * that the engine handles both alike. Buffers may be registered (IORING_REGISTER_BUFFERS): the kernel
 * then pins and maps them once, and READ_FIXED / WRITE_FIXED skip that work on every operation.
 *
 * Every function returns 0 / a count, or a negative errno: io_uring_setup's refusals (ENOSYS: no
 * io_uring in this kernel or blocked by seccomp; EPERM: sysctl kernel.io_uring_disabled, or a group
 * restriction) are reported, never worked around.
 */
#ifndef TB_URING_H
#define TB_URING_H

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <linux/aio_abi.h>
#include <linux/io_uring.h>

typedef struct {
    int fd;                       /* -1: not set up */
    unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
    unsigned *cq_head, *cq_tail, *cq_mask;
    struct io_uring_sqe *sqes;
    struct io_uring_cqe *cqes;
    void *sq_map, *cq_map;
    size_t sq_map_len, cq_map_len, sqes_len;
    unsigned tail;                /* the next SQE to fill (published to *sq_tail by iol_ring_submit) */
} iol_ring;

static inline int iol_ring_fd_ok(const iol_ring *r) { return r->fd >= 0; }

static inline void iol_ring_destroy(iol_ring *r)
{
    if (r->sqes != NULL && r->sqes != MAP_FAILED)
        munmap(r->sqes, r->sqes_len);
    if (r->cq_map != NULL && r->cq_map != MAP_FAILED && r->cq_map != r->sq_map)
        munmap(r->cq_map, r->cq_map_len);
    if (r->sq_map != NULL && r->sq_map != MAP_FAILED)
        munmap(r->sq_map, r->sq_map_len);
    if (r->fd >= 0)
        close(r->fd);
    memset(r, 0, sizeof(*r));
    r->fd = -1;
}

#ifndef IORING_SETUP_COOP_TASKRUN
#define IORING_SETUP_COOP_TASKRUN (1U << 8)
#endif
#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif

/* A ring of at least `entries` SQEs and as many CQEs (the kernel rounds up to a power of two), set up as
 * fio's io_uring engine sets its own (fio 3.33): one issuing thread (SINGLE_ISSUER), completions' task work
 * run when the thread asks for events (DEFER_TASKRUN, kernel 6.1) or without an interrupt (COOP_TASKRUN,
 * 5.19). Where the kernel does not know a flag (EINVAL), the ring is set up without it, in fio's order:
 * these tune how completions are delivered, the ring and its operations are the same. *flags_out: the
 * flags the ring has. */
static inline int iol_ring_setup(iol_ring *r, unsigned entries, unsigned *flags_out)
{
    struct io_uring_params p;
    memset(r, 0, sizeof(*r));
    memset(&p, 0, sizeof(p));
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER |
              IORING_SETUP_DEFER_TASKRUN;
    p.cq_entries = entries;
    for (;;) {
        r->fd = (int)syscall(__NR_io_uring_setup, entries, &p);
        if (r->fd >= 0 || errno != EINVAL)
            break;
        if (p.flags & IORING_SETUP_DEFER_TASKRUN)
            p.flags &= ~(IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SINGLE_ISSUER);
        else if (p.flags & IORING_SETUP_COOP_TASKRUN)
            p.flags &= ~IORING_SETUP_COOP_TASKRUN;
        else if (p.flags & IORING_SETUP_CQSIZE)
            p.flags &= ~IORING_SETUP_CQSIZE;
        else
            break;
    }
    if (r->fd < 0) {
        int e = errno;
        r->fd = -1;
        return -e;
    }
    *flags_out = p.flags;
    r->sq_map_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    r->cq_map_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    if (p.features & IORING_FEAT_SINGLE_MMAP) {
        if (r->cq_map_len > r->sq_map_len)
            r->sq_map_len = r->cq_map_len;
        r->cq_map_len = r->sq_map_len;
    }
    r->sq_map = mmap(NULL, r->sq_map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
                     IORING_OFF_SQ_RING);
    if (r->sq_map == MAP_FAILED)
        goto fail;
    if (p.features & IORING_FEAT_SINGLE_MMAP) {
        r->cq_map = r->sq_map;
    } else {
        r->cq_map = mmap(NULL, r->cq_map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
                         IORING_OFF_CQ_RING);
        if (r->cq_map == MAP_FAILED)
            goto fail;
    }
    r->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
    r->sqes = mmap(NULL, r->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
                   IORING_OFF_SQES);
    if (r->sqes == MAP_FAILED)
        goto fail;
    char *sq = (char *)r->sq_map, *cq = (char *)r->cq_map;
    r->sq_head = (unsigned *)(sq + p.sq_off.head);
    r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
    r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
    r->sq_array = (unsigned *)(sq + p.sq_off.array);
    r->cq_head = (unsigned *)(cq + p.cq_off.head);
    r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
    r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
    r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
    r->tail = *r->sq_tail;
    return 0;
fail:;
    int e = errno;
    iol_ring_destroy(r);
    return -e;
}

/* Register `n` buffers (index i: iov[i]) for READ_FIXED / WRITE_FIXED. */
static inline int iol_ring_register_buffers(iol_ring *r, const struct iovec *iov, unsigned n)
{
    return syscall(__NR_io_uring_register, r->fd, IORING_REGISTER_BUFFERS, iov, n) < 0 ? -errno : 0;
}

/* Fill the next SQE (not yet visible to the kernel): a read or write of n bytes at `off`; buf_index >= 0:
 * from registered buffer buf_index (buf must lie inside it). */
static inline void iol_ring_prep(iol_ring *r, int fd, void *buf, uint32_t n, uint64_t off, int is_read,
                                 uint64_t data, int buf_index)
{
    unsigned idx = r->tail & *r->sq_mask;
    struct io_uring_sqe *sqe = &r->sqes[idx];
    memset(sqe, 0, sizeof(*sqe));
    if (buf_index >= 0) {
        sqe->opcode = is_read ? IORING_OP_READ_FIXED : IORING_OP_WRITE_FIXED;
        sqe->buf_index = (uint16_t)buf_index;
    } else {
        sqe->opcode = is_read ? IORING_OP_READ : IORING_OP_WRITE;
    }
    sqe->fd = fd;
    sqe->addr = (uint64_t)(uintptr_t)buf;
    sqe->len = n;
    sqe->off = off;
    sqe->user_data = data;
    r->sq_array[idx] = idx;
    r->tail++;
}

/* Publish the filled SQEs and have the kernel take `nr` of them, without waiting (GETEVENTS all the same, as
 * fio: it runs deferred completion work). Returns how many SQEs the kernel took (those it did not stay in the
 * ring, first in line for the next call), or a negative errno. */
static inline long iol_ring_submit(iol_ring *r, unsigned nr)
{
    long ret;
    __atomic_store_n(r->sq_tail, r->tail, __ATOMIC_RELEASE);
    do {
        ret = syscall(__NR_io_uring_enter, r->fd, nr, 0, IORING_ENTER_GETEVENTS, NULL, 0);
    } while (ret < 0 && errno == EINTR);
    return ret < 0 ? -errno : ret;
}

/* Take up to `max` completions into events[] (data, res), waiting for one when there is none. */
static inline long iol_ring_reap(iol_ring *r, struct io_event *events, long max)
{
    unsigned head = *r->cq_head;
    unsigned tail = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE);
    long n = 0;
    while (head == tail) {
        long ret = syscall(__NR_io_uring_enter, r->fd, 0, 1, IORING_ENTER_GETEVENTS, NULL, 0);
        if (ret < 0 && errno != EINTR)
            return -errno;
        tail = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE);
    }
    while (head != tail && n < max) {
        const struct io_uring_cqe *cqe = &r->cqes[head & *r->cq_mask];
        events[n].data = cqe->user_data;
        events[n].res = cqe->res;
        head++;
        n++;
    }
    __atomic_store_n(r->cq_head, head, __ATOMIC_RELEASE);
    return n;
}

#endif /* TB_URING_H */
