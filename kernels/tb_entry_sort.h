/* tb_entry_sort.h - in-bucket sort of the sort kernel's (key, index) entries.
 *
 * After the radix pass on the first two key bytes, each of the 65,536 buckets holds about
 * n / 65,536 entries (150 for 10 M records) whose remaining 8 key bytes are one big-endian
 * uint64. Introsort: quicksort with a median-of-three pivot, insertion sort on short ranges,
 * heapsort when recursion gets deep (skewed keys, one huge bucket: never quadratic).
 * Ties on the key fall back to the record index, so the result equals a stable sort.
 */
#ifndef TB_ENTRY_SORT_H
#define TB_ENTRY_SORT_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t key;   /* key bytes 2..9, big-endian: orders like memcmp within a bucket */
    uint32_t idx;   /* record index: the tie-break */
    uint32_t pad;
} tb_entry;

static inline int tb_entry_less(const tb_entry *a, const tb_entry *b)
{
    return a->key < b->key || (a->key == b->key && a->idx < b->idx);
}

static inline void tb_entry_swap(tb_entry *a, tb_entry *b)
{
    tb_entry t = *a;
    *a = *b;
    *b = t;
}

static void tb_entry_insertion_sort(tb_entry *v, ptrdiff_t n)
{
    for (ptrdiff_t i = 1; i < n; i++) {
        tb_entry t = v[i];
        ptrdiff_t j = i;
        while (j > 0 && tb_entry_less(&t, &v[j - 1])) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = t;
    }
}

static void tb_entry_sift_down(tb_entry *v, ptrdiff_t root, ptrdiff_t n)
{
    while (2 * root + 1 < n) {
        ptrdiff_t child = 2 * root + 1;
        if (child + 1 < n && tb_entry_less(&v[child], &v[child + 1]))
            child++;
        if (!tb_entry_less(&v[root], &v[child]))
            return;
        tb_entry_swap(&v[root], &v[child]);
        root = child;
    }
}

static void tb_entry_heap_sort(tb_entry *v, ptrdiff_t n)
{
    for (ptrdiff_t i = n / 2 - 1; i >= 0; i--)
        tb_entry_sift_down(v, i, n);
    for (ptrdiff_t i = n - 1; i > 0; i--) {
        tb_entry_swap(&v[0], &v[i]);
        tb_entry_sift_down(v, 0, i);
    }
}

static void tb_entry_intro_sort(tb_entry *v, ptrdiff_t n, int depth)
{
    while (n > 24) {
        if (depth-- == 0) {
            tb_entry_heap_sort(v, n);
            return;
        }
        ptrdiff_t mid = n / 2;
        /* median of first, middle, last, moved to v[0]: the pivot of a Hoare partition */
        if (tb_entry_less(&v[mid], &v[0]))
            tb_entry_swap(&v[mid], &v[0]);
        if (tb_entry_less(&v[n - 1], &v[mid])) {
            tb_entry_swap(&v[n - 1], &v[mid]);
            if (tb_entry_less(&v[mid], &v[0]))
                tb_entry_swap(&v[mid], &v[0]);
        }
        tb_entry_swap(&v[0], &v[mid]);
        tb_entry pivot = v[0];
        ptrdiff_t i = -1, j = n;
        for (;;) {
            do i++; while (tb_entry_less(&v[i], &pivot));
            do j--; while (tb_entry_less(&pivot, &v[j]));
            if (i >= j)
                break;
            tb_entry_swap(&v[i], &v[j]);
        }
        /* [0, j] <= pivot <= [j+1, n): recurse into the smaller side, loop on the larger */
        if (j + 1 < n - j - 1) {
            tb_entry_intro_sort(v, j + 1, depth);
            v += j + 1;
            n -= j + 1;
        } else {
            tb_entry_intro_sort(v + j + 1, n - j - 1, depth);
            n = j + 1;
        }
    }
    tb_entry_insertion_sort(v, n);
}

static inline void tb_entry_sort(tb_entry *v, size_t n)
{
    int depth = 2;
    while (((size_t)1 << (depth / 2)) < n)
        depth += 2;
    tb_entry_intro_sort(v, (ptrdiff_t)n, depth);
}

#endif /* TB_ENTRY_SORT_H */
