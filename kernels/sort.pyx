# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""TeraSort building blocks on 100-byte records with 10-byte keys, over any buffer, no copies.

sort_records / sort_permutation: MSD radix on the first two key bytes into 65,536 buckets
(histogram, then a stable scatter of (key bytes 2..9 as a big-endian uint64, record index)
entries), then each bucket sorted by that uint64, index as tie-break (tb_entry_sort.h), the records
gathered in order. Every phase runs on several threads with the GIL released. Equal keys keep
their input order (the result equals a stable sort).

sample_partition_bounds / partition_ids: TeraSort's sampled range partitioner (a key equal to a
bound goes to the upper partition, as Hadoop's TotalOrderPartitioner). merge_runs: k-way merge of
whole buffers. merge_stream: the same merge over streams of buffers with a fixed output buffer, so
that its memory is the streams' current buffers, whatever the records' total (a reducer's merge with
merge buffers of a set size, as Hadoop's io.sort.factor streams and their buffers).
"""
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from kernels._threads import thread_count as _thread_count

from libc.stdint cimport int64_t, uint16_t, uint32_t, uint64_t, uintptr_t
from libc.stdlib cimport qsort
from libc.string cimport memcpy

cdef extern from "tb_entry_sort.h" nogil:
    ctypedef struct Entry "tb_entry":
        uint64_t key    # key bytes 2..9, big-endian
        uint32_t idx    # record index (tie-break: the sort is stable)
    void tb_entry_sort(Entry* v, size_t n)

cdef extern from "tb_bytes.h" nogil:
    uint64_t tb_load_be64(const unsigned char* p)
    void tb_store_be64(unsigned char* p, uint64_t v)
    void tb_prefetch(const void* p)

RECORD_BYTES = 100
KEY_BYTES = 10
IMPLEMENTATION = "cython:sort/msd16-radix+introsort"
DEF _REC = 100
DEF _KEY = 10
DEF _BUCKETS = 65536
# Records ahead whose lines are prefetched in the gather (random reads from DRAM).
DEF _GATHER_AHEAD = 16
# Records ahead in the same run whose lines the streaming merge prefetches.
DEF _MERGE_AHEAD = 2


cdef struct Key80:
    uint64_t hi     # key bytes 0..7, big-endian
    uint64_t lo     # key bytes 8..9, big-endian, in the low 16 bits


cdef inline Key80 _key80(const unsigned char* p) noexcept nogil:
    cdef Key80 k
    k.hi = tb_load_be64(p)
    k.lo = (<uint64_t>p[8] << 8) | p[9]
    return k


cdef inline bint _key80_less(Key80 a, Key80 b) noexcept nogil:
    return a.hi < b.hi or (a.hi == b.hi and a.lo < b.lo)


# ---- cores (no GIL) ---------------------------------------------------------------------------

cdef void _histogram_core(const unsigned char* rec, size_t lo, size_t hi,
                          int64_t* counts) noexcept nogil:
    cdef size_t i
    cdef const unsigned char* p
    for i in range(lo, hi):
        p = rec + i * _REC
        counts[(<uint32_t>p[0] << 8) | p[1]] += 1


cdef void _scatter_core(const unsigned char* rec, size_t lo, size_t hi, int64_t* offsets,
                        Entry* entries) noexcept nogil:
    cdef size_t i
    cdef const unsigned char* p
    cdef Entry* e
    for i in range(lo, hi):
        p = rec + i * _REC
        e = entries + offsets[(<uint32_t>p[0] << 8) | p[1]]
        offsets[(<uint32_t>p[0] << 8) | p[1]] += 1
        e.key = tb_load_be64(p + 2)
        e.idx = <uint32_t>i


cdef void _sort_buckets_core(Entry* entries, const int64_t* starts, size_t b_lo,
                             size_t b_hi) noexcept nogil:
    cdef size_t b
    for b in range(b_lo, b_hi):
        if starts[b + 1] - starts[b] > 1:
            tb_entry_sort(entries + starts[b], starts[b + 1] - starts[b])


cdef void _gather_core(const unsigned char* rec, const Entry* entries, size_t lo, size_t hi,
                       size_t n, unsigned char* out) noexcept nogil:
    cdef size_t j
    for j in range(lo, hi):
        if j + _GATHER_AHEAD < n:
            tb_prefetch(rec + <size_t>entries[j + _GATHER_AHEAD].idx * _REC)
            tb_prefetch(rec + <size_t>entries[j + _GATHER_AHEAD].idx * _REC + 64)
        memcpy(out + j * _REC, rec + <size_t>entries[j].idx * _REC, _REC)


cdef void _indices_core(const Entry* entries, size_t lo, size_t hi, uint32_t* out) noexcept nogil:
    cdef size_t j
    for j in range(lo, hi):
        out[j] = entries[j].idx


cdef int _key80_cmp(const void* a, const void* b) noexcept nogil:
    cdef Key80 x = (<const Key80*>a)[0]
    cdef Key80 y = (<const Key80*>b)[0]
    if _key80_less(x, y):
        return -1
    return 1 if _key80_less(y, x) else 0


cdef void _partition_core(const unsigned char* rec, size_t n, const Key80* bounds,
                          size_t nb, uint32_t* out) noexcept nogil:
    """out[i] = number of bounds <= key of record i (binary search, upper bound)."""
    cdef size_t i, lo, hi, mid
    cdef Key80 k
    for i in range(n):
        k = _key80(rec + i * _REC)
        lo = 0
        hi = nb
        while lo < hi:
            mid = (lo + hi) // 2
            if _key80_less(k, bounds[mid]):
                hi = mid
            else:
                lo = mid + 1
        out[i] = <uint32_t>lo


cdef inline bint _run_less(const Key80* heads, size_t a, size_t b) noexcept nogil:
    return _key80_less(heads[a], heads[b]) or (
        not _key80_less(heads[b], heads[a]) and a < b)


cdef void _merge_core(const unsigned char** bases, const size_t* counts, size_t k,
                      size_t* pos, Key80* heads, size_t* heap, unsigned char* out) noexcept nogil:
    """Merge k sorted runs; among equal keys the earlier run goes first (stable)."""
    cdef size_t size = 0, r, top, o = 0
    for r in range(k):
        if counts[r]:
            heads[r] = _key80(bases[r])
            _heap_push(heads, heap, &size, r)
    while size:
        top = heap[0]
        memcpy(out + o * _REC, bases[top] + pos[top] * _REC, _REC)
        o += 1
        pos[top] += 1
        if pos[top] < counts[top]:
            heads[top] = _key80(bases[top] + pos[top] * _REC)
        else:
            size -= 1
            heap[0] = heap[size]
        _heap_sift_down(heads, heap, size)



cdef void _heap_push(const Key80* heads, size_t* heap, size_t* size, size_t r) noexcept nogil:
    cdef size_t i = size[0]
    heap[i] = r
    size[0] += 1
    while i > 0 and _run_less(heads, heap[i], heap[(i - 1) // 2]):
        heap[i], heap[(i - 1) // 2] = heap[(i - 1) // 2], heap[i]
        i = (i - 1) // 2


cdef void _heap_sift_down(const Key80* heads, size_t* heap, size_t size) noexcept nogil:
    cdef size_t i = 0, child
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and _run_less(heads, heap[child + 1], heap[child]):
            child += 1
        if not _run_less(heads, heap[child], heap[i]):
            break
        heap[i], heap[child] = heap[child], heap[i]
        i = child


cdef Py_ssize_t _merge_step(const unsigned char** bases, const size_t* counts, size_t* pos,
                            Key80* heads, size_t* heap, size_t* size, unsigned char* out,
                            size_t out_cap, size_t* o) noexcept nogil:
    """Merge the heap's runs into out[o..out_cap) until: out is full (returns -1); a run's buffer
    is used up (returns that run, now out of the heap: its next buffer may hold smaller keys, so
    nothing more is merged before it is back); or the heap is empty (returns -2)."""
    cdef size_t top
    while size[0]:
        if o[0] == out_cap:
            return -1
        top = heap[0]
        memcpy(out + o[0] * _REC, bases[top] + pos[top] * _REC, _REC)
        o[0] += 1
        pos[top] += 1
        if pos[top] < counts[top]:
            if pos[top] + _MERGE_AHEAD < counts[top]:
                # with many runs, more streams than the hardware prefetcher follows: ask for this run's
                # record _MERGE_AHEAD on (its key and body) while the merge works on the others
                tb_prefetch(bases[top] + (pos[top] + _MERGE_AHEAD) * _REC)
                tb_prefetch(bases[top] + (pos[top] + _MERGE_AHEAD) * _REC + 64)
            heads[top] = _key80(bases[top] + pos[top] * _REC)
            _heap_sift_down(heads, heap, size[0])
        else:
            size[0] -= 1
            heap[0] = heap[size[0]]
            _heap_sift_down(heads, heap, size[0])
            return <Py_ssize_t>top
    return -2


# ---- Python-facing wrappers --------------------------------------------------------------------

cdef const unsigned char[::1] _as_bytes(obj):
    # Any buffer (numpy arrays of any dtype, pyarrow.Buffer, bytes): viewed as bytes, not copied.
    cdef object view = memoryview(obj)
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    return view


def _record_count(const unsigned char[::1] buf):
    cdef Py_ssize_t size = buf.shape[0]
    if size % _REC:
        raise ValueError(f"buffer of {size} bytes is not a whole number of {_REC}-byte records")
    if size // _REC >= (<Py_ssize_t>1 << 32):
        raise ValueError("more than 2**32 - 1 records in one buffer: partition first")
    return size // _REC


def _run_parallel(worker, jobs):
    """worker(*job) for every job, on one thread per job (each job releases the GIL)."""
    if len(jobs) == 1:
        return [worker(*jobs[0])]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(lambda job: worker(*job), jobs))


def _histogram_part(const unsigned char[::1] rec, Py_ssize_t lo, Py_ssize_t hi, int64_t[::1] counts):
    if hi > lo:
        with nogil:
            _histogram_core(&rec[0], lo, hi, &counts[0])


def _scatter_part(const unsigned char[::1] rec, Py_ssize_t lo, Py_ssize_t hi, int64_t[::1] offsets,
                  uint64_t[::1] entries):
    if hi > lo:
        with nogil:
            _scatter_core(&rec[0], lo, hi, &offsets[0], <Entry*>&entries[0])


def _sort_buckets_part(uint64_t[::1] entries, const int64_t[::1] starts, Py_ssize_t b_lo,
                       Py_ssize_t b_hi):
    with nogil:
        _sort_buckets_core(<Entry*>&entries[0], &starts[0], b_lo, b_hi)


def _gather_part(const unsigned char[::1] rec, const uint64_t[::1] entries, Py_ssize_t lo,
                 Py_ssize_t hi, Py_ssize_t n, unsigned char[::1] out):
    if hi > lo:
        with nogil:
            _gather_core(&rec[0], <const Entry*>&entries[0], lo, hi, n, &out[0])


def _indices_part(const uint64_t[::1] entries, Py_ssize_t lo, Py_ssize_t hi, uint32_t[::1] out):
    if hi > lo:
        with nogil:
            _indices_core(<const Entry*>&entries[0], lo, hi, &out[0])


def _sorted_entries(const unsigned char[::1] rec, Py_ssize_t n, Py_ssize_t threads):
    """The (key bytes 2..9, index) entries of all records, in sorted order: 2 uint64 each."""
    bounds = [n * t // threads for t in range(threads + 1)]
    ranges = [(bounds[t], bounds[t + 1]) for t in range(threads)]
    counts = np.zeros((threads, _BUCKETS), dtype=np.int64)
    _run_parallel(_histogram_part, [(rec, lo, hi, counts[t]) for t, (lo, hi) in enumerate(ranges)])
    starts = np.zeros(_BUCKETS + 1, dtype=np.int64)
    np.cumsum(counts.sum(axis=0), out=starts[1:])
    # Thread t writes bucket b after threads 0..t-1: the scatter is stable.
    offsets = starts[:_BUCKETS] + np.cumsum(counts, axis=0) - counts
    entries = np.empty(2 * n, dtype=np.uint64)
    _run_parallel(_scatter_part, [(rec, lo, hi, offsets[t], entries)
                                  for t, (lo, hi) in enumerate(ranges)])
    # Split buckets so each thread sorts about n / threads entries.
    cuts = np.searchsorted(starts, [n * t // threads for t in range(threads + 1)], side="left")
    cuts[0], cuts[threads] = 0, _BUCKETS
    _run_parallel(_sort_buckets_part, [(entries, starts, int(cuts[t]), int(cuts[t + 1]))
                                       for t in range(threads) if cuts[t + 1] > cuts[t]] or
                  [(entries, starts, 0, 0)])
    return entries, ranges


def sort_permutation(records, threads=None):
    """Indices (uint32 array) that order 100-byte records by their 10-byte key, stably.

    ``records`` is any buffer of whole records, read in place; `threads` defaults to the CPUs
    this process may use.
    """
    cdef const unsigned char[::1] rec = _as_bytes(records)
    n = _record_count(rec)
    out = np.empty(n, dtype=np.uint32)
    if n == 0:
        return out
    threads = _thread_count(threads, n)
    entries, ranges = _sorted_entries(rec, n, threads)
    _run_parallel(_indices_part, [(entries, lo, hi, out) for lo, hi in ranges])
    return out


def sort_records(records, threads=None):
    """100-byte records sorted by their 10-byte key (memcmp order), as a new uint8 array.

    Equal keys keep their input order. ``records`` is any buffer of whole records, read in
    place; `threads` (default: the CPUs this process may use) run every phase in parallel.
    """
    cdef const unsigned char[::1] rec = _as_bytes(records)
    n = _record_count(rec)
    out = np.empty(n * _REC, dtype=np.uint8)
    if n == 0:
        return out
    threads = _thread_count(threads, n)
    entries, ranges = _sorted_entries(rec, n, threads)
    _run_parallel(_gather_part, [(rec, entries, lo, hi, n, out) for lo, hi in ranges])
    return out


cdef uint64_t _splitmix64(uint64_t* state) noexcept nogil:
    cdef uint64_t z
    state[0] += 0x9E3779B97F4A7C15ULL
    z = state[0]
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    return z ^ (z >> 31)


def sample_partition_bounds(records, Py_ssize_t partitions, Py_ssize_t sample_size=100000,
                            seed=0):
    """TeraSort's split points: (partitions - 1) sorted 10-byte keys, concatenated, as bytes.

    `sample_size` keys are drawn with replacement (record index = splitmix64(seed) output modulo
    the record count); bound k is the sampled key at rank k * sample_size // partitions.
    """
    cdef const unsigned char[::1] rec = _as_bytes(records)
    cdef Py_ssize_t n = _record_count(rec)
    if partitions < 1:
        raise ValueError(f"partitions must be >= 1, got {partitions}")
    if partitions == 1:
        return b""
    if n == 0 or sample_size < 1:
        raise ValueError("need at least one record and one sample to choose partition bounds")
    keys = np.empty(2 * sample_size, dtype=np.uint64)
    cdef uint64_t[::1] kv = keys
    cdef Key80* samples = <Key80*>&kv[0]
    cdef uint64_t state = <uint64_t>(seed & 0xFFFFFFFFFFFFFFFF)
    cdef Py_ssize_t i
    with nogil:
        for i in range(sample_size):
            samples[i] = _key80(&rec[(_splitmix64(&state) % <uint64_t>n) * _REC])
        qsort(samples, sample_size, sizeof(Key80), _key80_cmp)
    out = bytearray(10 * (partitions - 1))
    cdef unsigned char[::1] ov = out
    cdef Key80 k
    for i in range(1, partitions):
        k = samples[i * sample_size // partitions]
        tb_store_be64(&ov[10 * (i - 1)], k.hi)
        ov[10 * (i - 1) + 8] = <unsigned char>(k.lo >> 8)
        ov[10 * (i - 1) + 9] = <unsigned char>k.lo
    return bytes(out)


def partition_ids(records, bounds):
    """Partition number (uint32 array) of each record: how many `bounds` keys are <= its key.

    `bounds` is sorted 10-byte keys concatenated (from sample_partition_bounds): partition p
    holds keys in [bounds[p-1], bounds[p]).
    """
    cdef const unsigned char[::1] rec = _as_bytes(records)
    cdef const unsigned char[::1] bv = _as_bytes(bounds)
    cdef Py_ssize_t n = _record_count(rec)
    if bv.shape[0] % KEY_BYTES:
        raise ValueError(f"bounds of {bv.shape[0]} bytes is not a whole number of 10-byte keys")
    cdef Py_ssize_t nb = bv.shape[0] // KEY_BYTES
    keys = np.empty(2 * max(nb, 1), dtype=np.uint64)
    cdef uint64_t[::1] kv = keys
    cdef Key80* kp = <Key80*>&kv[0]
    cdef Py_ssize_t i
    for i in range(nb):
        kp[i] = _key80(&bv[i * _KEY])
    out = np.empty(n, dtype=np.uint32)
    cdef uint32_t[::1] ov = out
    if n:
        with nogil:
            _partition_core(&rec[0], n, kp, nb, &ov[0])
    return out


def merge_runs(runs):
    """k-way merge of sorted record buffers into one sorted uint8 array.

    Each run is any buffer of whole 100-byte records already sorted by key (as sort_records
    returns them); among equal keys, records of earlier runs come first.
    """
    views = [_as_bytes(run) for run in runs]
    cdef Py_ssize_t k = len(views)
    counts_arr = np.array([_record_count(v) for v in views] or [0], dtype=np.uintp)
    total = int(counts_arr.sum()) if k else 0
    out = np.empty(total * _REC, dtype=np.uint8)
    if total == 0:
        return out
    bases_arr = np.zeros(k, dtype=np.uintp)
    cdef const unsigned char[::1] run_view
    cdef Py_ssize_t r
    for r in range(k):
        run_view = views[r]
        if run_view.shape[0]:
            bases_arr[r] = <uintptr_t>&run_view[0]
    pos_arr = np.zeros(k, dtype=np.uintp)
    heap_arr = np.zeros(k, dtype=np.uintp)
    heads_arr = np.zeros(2 * k, dtype=np.uint64)
    cdef size_t[::1] bases = bases_arr
    cdef size_t[::1] counts = counts_arr
    cdef size_t[::1] pos = pos_arr
    cdef size_t[::1] heap = heap_arr
    cdef uint64_t[::1] heads = heads_arr
    cdef unsigned char[::1] ov = out
    with nogil:
        _merge_core(<const unsigned char**>&bases[0], &counts[0], k, &pos[0],
                    <Key80*>&heads[0], &heap[0], &ov[0])
    return out


MERGE_OUT_RECORDS = 10368    # 1,036,800 bytes: whole records and whole 512-byte checksum chunks


def _next_records(it):
    """The next non-empty buffer of an iterator of record buffers (as bytes), or None at its end."""
    for buf in it:
        view = _as_bytes(buf)
        if _record_count(view):
            return view
    return None


cdef void _load_run(const unsigned char[::1] view, size_t r, size_t* bases, size_t* counts,
                    size_t* pos, Key80* heads, size_t* heap, size_t* size):
    """Make `view` run r's current buffer and put the run back in the heap."""
    bases[r] = <uintptr_t>&view[0]
    counts[r] = view.shape[0] // _REC
    pos[r] = 0
    heads[r] = _key80(&view[0])
    _heap_push(heads, heap, size, r)


def merge_stream(sources, write, Py_ssize_t out_records=MERGE_OUT_RECORDS):
    """k-way merge of sorted record streams, one buffer of each at a time; returns the records merged.

    Each source is an iterable of buffers of whole 100-byte records whose concatenation is sorted by
    key (buffers may be empty; a source may reuse its buffer once asked for the next). The merged
    records go to ``write(view)`` in order, `out_records` records (100 bytes each) per call and
    fewer in the last; the view is of a buffer reused after ``write`` returns. Memory: the sources'
    current buffers and `out_records` x 100 bytes, independent of the total. Among equal keys,
    records of earlier sources come first (as merge_runs). The merge loop runs without the GIL.
    """
    if out_records < 1:
        raise ValueError(f"out_records must be >= 1, got {out_records}")
    iters = [iter(source) for source in sources]
    cdef Py_ssize_t k = len(iters)
    held = [None] * k               # each run's current buffer: keeps the pointers in bases valid
    bases_arr = np.zeros(max(k, 1), dtype=np.uintp)
    counts_arr = np.zeros(max(k, 1), dtype=np.uintp)
    pos_arr = np.zeros(max(k, 1), dtype=np.uintp)
    heap_arr = np.zeros(max(k, 1), dtype=np.uintp)
    heads_arr = np.zeros(2 * max(k, 1), dtype=np.uint64)
    out = np.empty(out_records * _REC, dtype=np.uint8)
    cdef size_t[::1] bases = bases_arr
    cdef size_t[::1] counts = counts_arr
    cdef size_t[::1] pos = pos_arr
    cdef size_t[::1] heap = heap_arr
    cdef uint64_t[::1] heads_view = heads_arr
    cdef Key80* heads = <Key80*>&heads_view[0]
    cdef unsigned char[::1] ov = out
    cdef size_t size = 0, o = 0, cap = out_records
    cdef Py_ssize_t r, got
    total = 0
    for r in range(k):
        held[r] = _next_records(iters[r])
        if held[r] is not None:
            _load_run(held[r], r, &bases[0], &counts[0], &pos[0], heads, &heap[0], &size)
    while True:
        with nogil:
            got = _merge_step(<const unsigned char**>&bases[0], &counts[0], &pos[0], heads,
                              &heap[0], &size, &ov[0], cap, &o)
        if got == -1:
            write(memoryview(out))
            total += o
            o = 0
        elif got >= 0:
            held[got] = _next_records(iters[got])
            if held[got] is not None:
                _load_run(held[got], got, &bases[0], &counts[0], &pos[0], heads, &heap[0], &size)
        else:
            break
    if o:
        write(memoryview(out)[:o * _REC])
        total += o
    return total
