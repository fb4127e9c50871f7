/* layers/view_copy.c — the strided copy that permute, slice, pad and roll are
 * made of, and the shape arithmetic they share.
 *
 *     dst[sum_k i_k dst_stride_k] (=, or +=) src[sum_k i_k src_stride_k]
 * for every index vector i with 0 <= i_k < n_k. Dimensions of size 1 are
 * dropped and neighbours that stay contiguous on both sides merge first, so
 * the innermost loop is as long as possible: a memcpy (or an add loop) when
 * both sides have stride 1 there, a strided loop otherwise. Any rank up to
 * CC_MAX_RANK. */
#include "kernels.h"
#include "runtime/parallel.h"

#include <string.h>

/* Tiles of 32 x 32: both sides then stay in L1 (a 197 x 2304 matrix's
 * columns are 9 KB apart); bands of tile rows split over the pool. */
enum { TILE = 32 };

typedef struct {
    cc_real *dst;
    const cc_real *src;
    int rows, cols;
} transpose_job;

static void transpose_bands(void *arg, size_t lo, size_t hi)
{
    const transpose_job *j = arg;
    const int rows = j->rows, cols = j->cols;
    for (int r0 = (int)lo * TILE; r0 < (int)hi * TILE && r0 < rows; r0 += TILE)
        for (int c0 = 0; c0 < cols; c0 += TILE) {
            const int r1 = r0 + TILE < rows ? r0 + TILE : rows, c1 = c0 + TILE < cols ? c0 + TILE : cols;
            for (int r = r0; r < r1; r++)
                for (int c = c0; c < c1; c++)
                    j->dst[(size_t)c * rows + r] = j->src[(size_t)r * cols + c];
        }
}

void cc_transpose(cc_real *dst, const cc_real *src, int rows, int cols)
{
    const transpose_job j = {dst, src, rows, cols};
    cc_parallel(((size_t)rows + TILE - 1) / TILE, cc_grain((size_t)TILE * cols, CC_MAP_GRAIN), transpose_bands,
                (void *)&j);
}

size_t cc_dims_product(const cc_shape *s, int lo, int hi)
{
    size_t p = 1;
    for (int k = lo; k < hi; k++)
        p *= (size_t)s->d[k];
    return p;
}

void cc_shape_strides(const cc_shape *s, size_t *stride)
{
    size_t st = 1;
    for (int k = s->rank - 1; k >= 0; k--) {
        stride[k] = st;
        st *= (size_t)s->d[k];
    }
}

/* Drops size-1 dimensions and merges k with k+1 where both sides step over
 * dimension k+1 exactly; an empty result is one element (rank 1, n 1). */
static void collapse(cc_view *v)
{
    cc_view c = {0, {0}, {0}, {0}};
    for (int k = 0; k < v->rank; k++) {
        if (v->n[k] == 1)
            continue;
        if (c.rank > 0) {
            const int j = c.rank - 1;
            if (c.dst[j] == v->dst[k] * (size_t)v->n[k] && c.src[j] == v->src[k] * (size_t)v->n[k]) {
                c.n[j] *= v->n[k];
                c.dst[j] = v->dst[k], c.src[j] = v->src[k];
                continue;
            }
        }
        c.n[c.rank] = v->n[k], c.dst[c.rank] = v->dst[k], c.src[c.rank] = v->src[k];
        c.rank++;
    }
    if (c.rank == 0)
        c.rank = 1, c.n[0] = 1, c.dst[0] = c.src[0] = 1;
    *v = c;
}

void cc_view_swap(cc_view *v)
{
    for (int k = 0; k < v->rank; k++) {
        const size_t t = v->dst[k];
        v->dst[k] = v->src[k], v->src[k] = t;
    }
}

void cc_view_copy(cc_real *dst, const cc_real *src, const cc_view *view, int accumulate)
{
    cc_view v = *view;
    for (int k = 0; k < v.rank; k++)
        if (v.n[k] == 0)
            return;
    collapse(&v);
    const int last = v.rank - 1;
    const int len = v.n[last];
    const size_t ds = v.dst[last], ss = v.src[last];
    int idx[CC_MAX_RANK] = {0};
    size_t doff = 0, soff = 0;
    for (;;) {
        cc_real *d = dst + doff;
        const cc_real *s = src + soff;
        if (ds == 1 && ss == 1) {
            if (accumulate)
                for (int i = 0; i < len; i++)
                    d[i] += s[i];
            else
                memcpy(d, s, (size_t)len * sizeof *d);
        } else if (accumulate) {
            for (int i = 0; i < len; i++)
                d[i * ds] += s[i * ss];
        } else {
            for (int i = 0; i < len; i++)
                d[i * ds] = s[i * ss];
        }
        /* The next index vector over the outer dimensions, odometer order. */
        int k = last - 1;
        while (k >= 0) {
            doff += v.dst[k], soff += v.src[k];
            if (++idx[k] < v.n[k])
                break;
            doff -= v.dst[k] * (size_t)v.n[k], soff -= v.src[k] * (size_t)v.n[k];
            idx[k] = 0;
            k--;
        }
        if (k < 0)
            return;
    }
}
