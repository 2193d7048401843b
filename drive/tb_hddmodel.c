/* tb-hddmodel: a seek-aware hard drive, served as one file over FUSE (libfuse3 low-level API).
 *
 * The daemon mounts a tiny file system holding `drive.img` (the drive: the image file given with --image),
 * `stats` (its counters, JSON, read at any time) and `control` (write "drives K" to use the first K of its
 * heads). tierbench puts a loop device on drive.img (losetup --direct-io=on) and ext4 on the loop device.
 * drive.img is opened with FUSE's direct_io flag: without it the page cache serves the loop device and the
 * model is bypassed.
 *
 * Data goes to and from the image at once, in arrival order (one thread receives every request), so what is
 * read is what was written before it; only the reply waits, until the request's modelled finish time.
 * The model, per drive ("head"): the image is the whole drive (offset / drive size = radial position 0 outer
 * .. 1 inner);
 *   seek(d)       0 within a track; else t2t + (full - t2t) * sqrt(d), d the radial distance (0..1). With
 *                 full = t2t + (avg - t2t) * 15/8 the average over uniformly random pairs is the datasheet's
 *                 average seek (E[sqrt(|x-y|)] = 8/15 for x, y uniform on 0..1).
 *   rotation      the platter turns at --rpm from time 0 of CLOCK_MONOTONIC; a sector's angle is its offset
 *                 within its track (track = the media rate x one revolution); after the seek the head waits
 *                 for the sector to come round.
 *   transfer      length / media rate, the rate falling linearly from --mbps at the outer edge to
 *                 --mbps x --inner-ratio at the inner edge (1: flat).
 *   streams       a request that starts where the drive's previous one ended costs no positioning, and the
 *                 time the drive sat idle before it arrived counts as transfer already done, up to a 2 MiB
 *                 segment (the drive's read-ahead and write cache keep the media streaming across the host's
 *                 gaps; never faster than the media rate); a short
 *                 forward skip (under one track) costs the time the platter takes to pass over the gap.
 *   queue         requests wait in a queue per drive; when the drive is free it serves, among the --window
 *                 oldest requests that have arrived, the one with the shortest positioning time (SPTF bounded
 *                 by age: a request is served at the latest when it is among the `window` oldest and no other
 *                 is closer). Modelled time, not the thread's wake-up time, sets the start of each service, so
 *                 a late wake-up on a busy machine delays a reply (counted as late_s) but not the drive.
 *   drives        --drives N heads, the image striped over them in --chunk bytes (RAID 0 / HDFS data dirs):
 *                 N drives give N times the random IOPS (with N or more requests queued) and streaming rate.
 * Counters (stats): requests, bytes, seeks (requests that needed positioning), positioning and transfer time
 * (modelled seconds), late_s (sum of reply time past the modelled finish: how far the sleep-based model
 * fell behind on this machine).
 */
#define FUSE_USE_VERSION 34
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define INO_IMG 2
#define INO_STATS 3
#define INO_CONTROL 4
#define MAX_DRIVES 64
#define READ_AHEAD_BYTES (2.0 * 1024 * 1024)   /* a stream's credit across host gaps: a 2 MiB segment */

static struct {
    double rpm, seek_ms, t2t_ms, mbps, inner_ratio;
    int drives, window;
    uint64_t chunk;
} P = {7200, 7.4, 0.23, 180, 1.0, 1, 8, 256 * 1024};

static int img_fd = -1;
static uint64_t img_size;
static double rev_ns, full_ms;
static int active = 1;          /* drives in use (control: "drives K") */
static volatile int stopping;
static int realtime;

struct io {                     /* one FUSE request, possibly split over drives */
    fuse_req_t req;
    int write, parts_left;
    size_t size;
    char *buf;                  /* read data, replied when the last part finishes */
};

struct part {
    struct io *io;
    uint64_t off, len;          /* on its drive */
    int64_t arrival;            /* ns, CLOCK_MONOTONIC */
    struct part *next;
};

struct drive {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct part *head, *tail;
    int qlen, qmax;
    double pos;                 /* radial position 0..1 */
    uint64_t last_end, cap;
    int64_t free_at;
    double buffered;            /* bytes of the current stream already read ahead / absorbed by the cache */
    uint64_t requests, reads, writes, bytes_read, bytes_written, seeks;
    double positioning_ns, transfer_ns, late_ns, late_max_ns;
};
static struct drive D[MAX_DRIVES];
static pthread_mutex_t io_mu = PTHREAD_MUTEX_INITIALIZER;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_until(int64_t t) {
    struct timespec ts = {t / 1000000000LL, t % 1000000000LL};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

static double rate_at(double pos) {    /* bytes per ns at radial position pos */
    return P.mbps * (1.0 - (1.0 - P.inner_ratio) * pos) * 1e6 / 1e9;
}

static double seek_ns(double d) {
    return (P.t2t_ms + (full_ms - P.t2t_ms) * sqrt(d)) * 1e6;
}

/* Positioning time (ns) for a request at `off` on drive `dr` starting at modelled time t0; *seek: whether
 * the head had to move or wait for rotation (a "random" request). */
static double positioning(struct drive *dr, uint64_t off, int64_t t0, int *seek) {
    double rate = rate_at(dr->pos), track = rate * rev_ns;
    *seek = 0;
    if (off == dr->last_end)
        return 0;
    if (off > dr->last_end && (double)(off - dr->last_end) < track)
        return (double)(off - dr->last_end) / rate;
    *seek = 1;
    double target = (double)off / (double)dr->cap;
    double dist = fabs(target - dr->pos);
    double gap = off > dr->last_end ? (double)(off - dr->last_end) : (double)(dr->last_end - off);
    double s = gap < track ? 0 : seek_ns(dist);
    double at = fmod((double)t0 + s, rev_ns) / rev_ns;
    double want = fmod((double)off, rate_at(target) * rev_ns) / (rate_at(target) * rev_ns);
    double wait = want - at;
    if (wait < 0)
        wait += 1;
    return s + wait * rev_ns;
}

static void finish_io(struct io *io) {
    pthread_mutex_lock(&io_mu);
    int left = --io->parts_left;
    pthread_mutex_unlock(&io_mu);
    if (left)
        return;
    if (io->write)
        fuse_reply_write(io->req, io->size);
    else
        fuse_reply_buf(io->req, io->buf, io->size);
    free(io->buf);
    free(io);
}

static void *drive_loop(void *arg) {
    struct drive *dr = arg;
    for (;;) {
        pthread_mutex_lock(&dr->mu);
        while (!dr->head && !stopping)
            pthread_cond_wait(&dr->cv, &dr->mu);
        if (!dr->head) {
            pthread_mutex_unlock(&dr->mu);
            return NULL;
        }
        int64_t t0 = dr->free_at > dr->head->arrival ? dr->free_at : dr->head->arrival;
        struct part *best = NULL, *best_prev = NULL, *prev = NULL;
        double best_pos = 0;
        int best_seek = 0, n = 0;
        for (struct part *p = dr->head; p && n < P.window && p->arrival <= t0; prev = p, p = p->next, n++) {
            int seek;
            double pos = positioning(dr, p->off, t0, &seek);
            if (!best || pos < best_pos) {
                best = p, best_prev = prev, best_pos = pos, best_seek = seek;
            }
        }
        if (best_prev)
            best_prev->next = best->next;
        else
            dr->head = best->next;
        if (dr->tail == best)
            dr->tail = best_prev;
        dr->qlen--;
        double rate = rate_at((double)best->off / (double)dr->cap);
        double xfer = (double)best->len / rate, credit = 0;
        if (best->off == dr->last_end) {
            /* the stream's read-ahead / write cache kept the media busy while the host was away: the idle
             * time filled the buffer (up to READ_AHEAD_BYTES), and this request takes what it holds */
            if (t0 > dr->free_at)
                dr->buffered += (double)(t0 - dr->free_at) * rate;
            if (dr->buffered > READ_AHEAD_BYTES)
                dr->buffered = READ_AHEAD_BYTES;
            credit = dr->buffered < (double)best->len ? dr->buffered : (double)best->len;
            dr->buffered -= credit;
        } else {
            dr->buffered = 0;
        }
        int64_t finish = t0 + (int64_t)(best_pos + xfer - credit / rate);
        dr->free_at = finish;
        dr->last_end = best->off + best->len;
        dr->pos = (double)dr->last_end / (double)dr->cap;
        if (dr->pos > 1)
            dr->pos = 1;
        dr->requests++;
        dr->seeks += best_seek;
        dr->positioning_ns += best_pos;
        dr->transfer_ns += xfer;
        if (best->io->write) {
            dr->writes++;
            dr->bytes_written += best->len;
        } else {
            dr->reads++;
            dr->bytes_read += best->len;
        }
        pthread_mutex_unlock(&dr->mu);
        sleep_until(finish);
        double late = (double)(now_ns() - finish);
        pthread_mutex_lock(&dr->mu);
        dr->late_ns += late;
        if (late > dr->late_max_ns)
            dr->late_max_ns = late;
        pthread_mutex_unlock(&dr->mu);
        finish_io(best->io);
        free(best);
    }
}

/* Split [off, off+size) over the active drives in chunks and queue the parts. */
static void queue_parts(struct io *io, uint64_t off, uint64_t size) {
    int k = active;
    uint64_t per_drive = k == 1 ? img_size : (img_size / P.chunk + (uint64_t)k - 1) / (uint64_t)k * P.chunk;
    int64_t t = now_ns();
    uint64_t end = off + size;
    int count = 0;
    uint64_t stripe = k == 1 ? img_size : P.chunk;     /* one drive: a request stays one command */
    for (uint64_t o = off; o < end;) {
        uint64_t len = stripe - o % stripe;
        if (len > end - o)
            len = end - o;
        count++;
        o += len;
    }
    io->parts_left = count;
    for (uint64_t o = off; o < end;) {
        uint64_t chunk = o / stripe, within = o % stripe;
        uint64_t len = stripe - within;
        if (len > end - o)
            len = end - o;
        struct drive *dr = &D[chunk % (uint64_t)k];
        struct part *p = calloc(1, sizeof *p);
        p->io = io;
        p->off = (chunk / (uint64_t)k) * stripe + within;
        p->len = len;
        p->arrival = t;
        pthread_mutex_lock(&dr->mu);
        dr->cap = per_drive;
        if (dr->tail)
            dr->tail->next = p;
        else
            dr->head = p;
        dr->tail = p;
        if (++dr->qlen > dr->qmax)
            dr->qmax = dr->qlen;
        pthread_cond_signal(&dr->cv);
        pthread_mutex_unlock(&dr->mu);
        o += len;
    }
}

static int stats_json(char *out, size_t cap) {
    double pos = 0, xfer = 0, late = 0, late_max = 0;
    uint64_t req = 0, rd = 0, wr = 0, br = 0, bw = 0, seeks = 0;
    int qmax = 0;
    for (int i = 0; i < P.drives; i++) {
        struct drive *dr = &D[i];
        pthread_mutex_lock(&dr->mu);
        req += dr->requests, rd += dr->reads, wr += dr->writes, br += dr->bytes_read, bw += dr->bytes_written;
        seeks += dr->seeks, pos += dr->positioning_ns, xfer += dr->transfer_ns, late += dr->late_ns;
        if (dr->late_max_ns > late_max)
            late_max = dr->late_max_ns;
        if (dr->qmax > qmax)
            qmax = dr->qmax;
        pthread_mutex_unlock(&dr->mu);
    }
    char per[1024] = "";
    size_t used = 0;
    for (int i = 0; i < P.drives && used < sizeof per - 40; i++) {
        pthread_mutex_lock(&D[i].mu);
        used += (size_t)snprintf(per + used, sizeof per - used, "%s%.6f", i ? ", " : "",
                                 (D[i].positioning_ns + D[i].transfer_ns) / 1e9);
        pthread_mutex_unlock(&D[i].mu);
    }
    return snprintf(out, cap,
                    "{\"model\": \"seek\", \"busy_s_per_drive\": [%s], \"pid\": %d, \"realtime\": %s, \"drives\": %d, \"drives_active\": %d, \"rpm\": %g, "
                    "\"seek_ms\": %g, \"t2t_ms\": %g, \"full_stroke_ms\": %g, \"mbps\": %g, \"inner_ratio\": %g, "
                    "\"window\": %d, \"chunk_bytes\": %llu, \"image_bytes\": %llu, "
                    "\"requests\": %llu, \"read_requests\": %llu, \"write_requests\": %llu, "
                    "\"bytes_read\": %llu, \"bytes_written\": %llu, \"seeks\": %llu, "
                    "\"positioning_s\": %.9f, \"transfer_s\": %.9f, \"late_s\": %.9f, \"late_max_s\": %.9f, "
                    "\"queue_max\": %d}\n",
                    per, (int)getpid(), realtime ? "true" : "false", P.drives, active, P.rpm, P.seek_ms, P.t2t_ms, full_ms, P.mbps, P.inner_ratio,
                    P.window, (unsigned long long)P.chunk, (unsigned long long)img_size, (unsigned long long)req,
                    (unsigned long long)rd, (unsigned long long)wr, (unsigned long long)br,
                    (unsigned long long)bw, (unsigned long long)seeks, pos / 1e9, xfer / 1e9, late / 1e9,
                    late_max / 1e9, qmax);
}

/* ------------------------------------------------------------------------------------------- FUSE ops */
static const char *NAMES[] = {NULL, NULL, "drive.img", "stats", "control"};

static void fill_attr(fuse_ino_t ino, struct stat *st) {
    memset(st, 0, sizeof *st);
    st->st_ino = ino;
    if (ino == FUSE_ROOT_ID) {
        st->st_mode = S_IFDIR | 0755;
        st->st_nlink = 2;
    } else {
        st->st_mode = S_IFREG | (ino == INO_STATS ? 0444 : ino == INO_CONTROL ? 0200 : 0600);
        st->st_nlink = 1;
        st->st_size = ino == INO_IMG ? (off_t)img_size : ino == INO_STATS ? 4096 : 0;
    }
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
    for (fuse_ino_t i = INO_IMG; i <= INO_CONTROL; i++)
        if (parent == FUSE_ROOT_ID && strcmp(name, NAMES[i]) == 0) {
            struct fuse_entry_param e = {.ino = i, .attr_timeout = 0, .entry_timeout = 0};
            fill_attr(i, &e.attr);
            fuse_reply_entry(req, &e);
            return;
        }
    fuse_reply_err(req, ENOENT);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
    (void)fi;
    if (ino != FUSE_ROOT_ID && (ino < INO_IMG || ino > INO_CONTROL)) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    struct stat st;
    fill_attr(ino, &st);
    fuse_reply_attr(req, &st, 0);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
    (void)fi;
    if (ino != FUSE_ROOT_ID) {
        fuse_reply_err(req, ENOTDIR);
        return;
    }
    char buf[1024];
    size_t used = 0;
    for (fuse_ino_t i = (fuse_ino_t)off; i < 3; i++) {
        struct stat st;
        fill_attr(i + INO_IMG, &st);
        size_t n = fuse_add_direntry(req, buf + used, sizeof buf - used, NAMES[i + INO_IMG], &st, (off_t)i + 1);
        if (used + n > size || used + n > sizeof buf)
            break;
        used += n;
    }
    fuse_reply_buf(req, buf, used);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
    if (ino < INO_IMG || ino > INO_CONTROL) {
        fuse_reply_err(req, EISDIR);
        return;
    }
    fi->direct_io = 1;          /* every request reaches the model: no page cache in front of it */
    fi->keep_cache = 0;
    fuse_reply_open(req, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
    (void)fi;
    if (ino == INO_STATS) {
        char text[4096];
        int n = stats_json(text, sizeof text);
        if (off >= n)
            fuse_reply_buf(req, NULL, 0);
        else
            fuse_reply_buf(req, text + off, (size_t)n - (size_t)off < size ? (size_t)n - (size_t)off : size);
        return;
    }
    if (ino != INO_IMG) {
        fuse_reply_err(req, EBADF);
        return;
    }
    if ((uint64_t)off >= img_size) {
        fuse_reply_buf(req, NULL, 0);
        return;
    }
    if ((uint64_t)off + size > img_size)
        size = img_size - (uint64_t)off;
    struct io *io = calloc(1, sizeof *io);
    char *data = malloc(size ? size : 1);
    ssize_t got = io && data ? pread(img_fd, data, size, off) : -1;
    if (got < 0) {
        fuse_reply_err(req, io && data ? EIO : ENOMEM);
        free(data);
        free(io);
        return;
    }
    io->buf = data;
    io->req = req;
    io->size = (size_t)got;
    if (!got) {
        fuse_reply_buf(req, NULL, 0);
        free(io->buf);
        free(io);
        return;
    }
    queue_parts(io, (uint64_t)off, (uint64_t)got);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi) {
    (void)fi;
    if (ino == INO_CONTROL) {
        char text[64] = {0};
        memcpy(text, buf, size < sizeof text - 1 ? size : sizeof text - 1);
        int k;
        if (sscanf(text, "drives %d", &k) == 1 && k >= 1 && k <= P.drives) {
            active = k;
            fprintf(stderr, "tb-hddmodel: %d of %d drives in use\n", k, P.drives);
            fuse_reply_write(req, size);
        } else {
            fuse_reply_err(req, EINVAL);
        }
        return;
    }
    if (ino != INO_IMG) {
        fuse_reply_err(req, EBADF);
        return;
    }
    if ((uint64_t)off + size > img_size) {
        fuse_reply_err(req, ENOSPC);
        return;
    }
    ssize_t put = pwrite(img_fd, buf, size, off);
    if (put != (ssize_t)size) {
        fuse_reply_err(req, EIO);
        return;
    }
    struct io *io = calloc(1, sizeof *io);
    io->req = req;
    io->write = 1;
    io->size = size;
    if (!size) {
        fuse_reply_write(req, 0);
        free(io);
        return;
    }
    queue_parts(io, (uint64_t)off, (uint64_t)size);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
    (void)ino, (void)fi;
    fuse_reply_err(req, 0);
}

/* The image's own durability is not the drive's: a flush of the drive's write cache is modelled as free
 * (writes are already modelled at media speed, write cache off). */
static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) {
    (void)ino, (void)datasync, (void)fi;
    fuse_reply_err(req, 0);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
    (void)ino, (void)fi;
    fuse_reply_err(req, 0);
}

static void op_init(void *userdata, struct fuse_conn_info *conn) {
    (void)userdata;
    conn->max_write = 1024 * 1024;      /* 1 MiB requests arrive whole (max_pages follows max_write) */
    if (conn->capable & FUSE_CAP_ASYNC_DIO)
        conn->want |= FUSE_CAP_ASYNC_DIO;   /* several requests of one direct I/O in flight: queue depth */
    conn->want &= ~(unsigned)FUSE_CAP_SPLICE_READ;
}

static const struct fuse_lowlevel_ops OPS = {
    .init = op_init, .lookup = op_lookup, .getattr = op_getattr, .readdir = op_readdir, .open = op_open,
    .read = op_read, .write = op_write, .flush = op_flush, .fsync = op_fsync, .release = op_release,
};

static void usage(void) {
    fprintf(stderr, "usage: tb-hddmodel --image FILE --mount DIR [--rpm R] [--seek-ms MS] [--t2t-ms MS] "
                    "[--mbps MB/s] [--inner-ratio F] [--drives N] [--window N] [--chunk BYTES]\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *image = NULL, *mnt = NULL;
    static struct option opts[] = {
        {"image", 1, 0, 'i'}, {"mount", 1, 0, 'm'}, {"rpm", 1, 0, 'r'}, {"seek-ms", 1, 0, 's'},
        {"t2t-ms", 1, 0, 't'}, {"mbps", 1, 0, 'b'}, {"inner-ratio", 1, 0, 'z'}, {"drives", 1, 0, 'd'},
        {"window", 1, 0, 'w'}, {"chunk", 1, 0, 'c'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'i': image = optarg; break;
        case 'm': mnt = optarg; break;
        case 'r': P.rpm = atof(optarg); break;
        case 's': P.seek_ms = atof(optarg); break;
        case 't': P.t2t_ms = atof(optarg); break;
        case 'b': P.mbps = atof(optarg); break;
        case 'z': P.inner_ratio = atof(optarg); break;
        case 'd': P.drives = atoi(optarg); break;
        case 'w': P.window = atoi(optarg); break;
        case 'c': P.chunk = strtoull(optarg, NULL, 10); break;
        default: usage();
        }
    }
    if (!image || !mnt || optind != argc)
        usage();
    if (!(P.rpm > 0 && P.seek_ms > 0 && P.t2t_ms > 0 && P.t2t_ms <= P.seek_ms && P.mbps > 0 &&
          P.inner_ratio > 0 && P.inner_ratio <= 1 && P.drives >= 1 && P.drives <= MAX_DRIVES && P.window >= 1 &&
          P.chunk >= 4096 && P.chunk % 4096 == 0)) {
        fprintf(stderr, "tb-hddmodel: parameter out of range\n");
        return 2;
    }
    img_fd = open(image, O_RDWR);
    struct stat st;
    if (img_fd < 0 || fstat(img_fd, &st) != 0) {
        fprintf(stderr, "tb-hddmodel: cannot open %s: %s\n", image, strerror(errno));
        return 2;
    }
    img_size = (uint64_t)st.st_size;
    rev_ns = 60e9 / P.rpm;
    full_ms = P.t2t_ms + (P.seek_ms - P.t2t_ms) * 15.0 / 8.0;
    active = P.drives;
    /* Real-time priority (root): on a busy machine a time-shared thread wakes milliseconds late, which would
     * add to every modelled service time; SCHED_FIFO wakes on time. Reported in stats ("realtime"). */
    struct sched_param sp = {.sched_priority = 10};
    realtime = sched_setscheduler(0, SCHED_FIFO, &sp) == 0;
    if (!realtime)
        fprintf(stderr, "tb-hddmodel: no real-time priority (%s): replies may be late on a busy machine "
                        "(stats: late_s)\n", strerror(errno));
    for (int i = 0; i < P.drives; i++) {
        pthread_mutex_init(&D[i].mu, NULL);
        pthread_cond_init(&D[i].cv, NULL);
        D[i].cap = (img_size / P.chunk + (uint64_t)P.drives - 1) / (uint64_t)P.drives * P.chunk;
        if (pthread_create(&D[i].thread, NULL, drive_loop, &D[i]) != 0) {
            fprintf(stderr, "tb-hddmodel: cannot start a drive thread\n");
            return 1;
        }
    }
    char *fargv[] = {argv[0], "-o", "fsname=tb-hddmodel,subtype=tb-hddmodel", NULL};
    struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
    struct fuse_session *se = fuse_session_new(&args, &OPS, sizeof OPS, NULL);
    if (!se || fuse_set_signal_handlers(se) != 0 || fuse_session_mount(se, mnt) != 0) {
        fprintf(stderr, "tb-hddmodel: cannot mount on %s\n", mnt);
        return 1;
    }
    fprintf(stderr, "tb-hddmodel: serving %s (%llu bytes) on %s/drive.img: %d drive(s), %g rpm, seek %g ms "
                    "(track-to-track %g, full stroke %.2f), %g MB/s\n",
            image, (unsigned long long)img_size, mnt, P.drives, P.rpm, P.seek_ms, P.t2t_ms, full_ms, P.mbps);
    int rc = fuse_session_loop(se);     /* one thread receives every request, in arrival order */
    fprintf(stderr, "tb-hddmodel: session ended (%s)\n", fuse_session_exited(se) ? "unmounted or signalled" :
                                                          strerror(-rc));
    stopping = 1;
    for (int i = 0; i < P.drives; i++) {
        pthread_mutex_lock(&D[i].mu);
        pthread_cond_broadcast(&D[i].cv);
        pthread_mutex_unlock(&D[i].mu);
        pthread_join(D[i].thread, NULL);
    }
    fuse_session_unmount(se);
    fuse_remove_signal_handlers(se);
    fuse_session_destroy(se);
    close(img_fd);
    return rc < 0 ? 1 : 0;
}
