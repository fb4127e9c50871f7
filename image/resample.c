/* image/resample.c — Pillow-compatible antialiased resampling of RGB u8;
 * see resample.h. */
#include "image/resample.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

enum { PRECISION_BITS = 32 - 8 - 2 };  /* 8 bits of result, 2 of headroom */

static double bilinear(double x)
{
    if (x < 0.0)
        x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

static double bicubic(double x)
{
    const double a = -0.5;
    if (x < 0.0)
        x = -x;
    if (x < 1.0)
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0)
        return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

typedef struct {
    double (*f)(double);
    double support;
} filter_def;

static filter_def filter_of(cc_resample_filter filter)
{
    assert(filter == CC_RESAMPLE_BILINEAR || filter == CC_RESAMPLE_BICUBIC);
    return filter == CC_RESAMPLE_BICUBIC ? (filter_def){bicubic, 2.0}
                                         : (filter_def){bilinear, 1.0};
}

/* Taps per output sample of an n -> m axis. */
static int axis_ksize(int n, int m, filter_def fd)
{
    double scale = (double)n / m;
    double support = fd.support * (scale < 1.0 ? 1.0 : scale);
    return (int)ceil(support) * 2 + 1;
}

/* bounds[2i] = first tap, bounds[2i+1] = tap count; kk[i*ksize + j]: fixed-point
 * weights. The weight sum is taken in a first pass and each weight recomputed
 * in the second, giving the same doubles as normalising a stored copy. */
static void axis_coeffs(int n, int m, filter_def fd, int ksize, int *bounds, int32_t *kk)
{
    double scale = (double)n / m;
    double fs = scale < 1.0 ? 1.0 : scale;
    double support = fd.support * fs;
    double ss = 1.0 / fs;
    for (int i = 0; i < m; i++) {
        double center = 0.0 + (i + 0.5) * scale;
        int lo = (int)(center - support + 0.5);
        int hi = (int)(center + support + 0.5);
        if (lo < 0)
            lo = 0;
        if (hi > n)
            hi = n;
        int cnt = hi - lo;
        double ww = 0.0;
        for (int j = 0; j < cnt; j++)
            ww += fd.f(((double)(j + lo) - center + 0.5) * ss);
        int32_t *k = kk + (size_t)i * ksize;
        for (int j = 0; j < ksize; j++) {
            double w = j < cnt ? fd.f(((double)(j + lo) - center + 0.5) * ss) : 0.0;
            if (j < cnt && ww != 0.0)
                w /= ww;
            k[j] = (int32_t)(w < 0 ? -0.5 + w * (1 << PRECISION_BITS)
                                   : 0.5 + w * (1 << PRECISION_BITS));
        }
        bounds[2 * i] = lo;
        bounds[2 * i + 1] = cnt;
    }
}

static unsigned char clip8(int32_t v)
{
    if (v < 0)
        return 0;
    v >>= PRECISION_BITS;
    return (unsigned char)(v > 255 ? 255 : v);
}

/* Layout of the scratch: horizontal bounds and weights, vertical bounds and
 * weights (int32), then the intermediate image (u8). */
typedef struct {
    int kh, kv;                 /* taps, or 0 for a pass that is skipped */
    size_t off_kkh, off_bv, off_kkv, off_tmp, total;
} layout;

static layout layout_for(int h, int w, int H, int W, filter_def fd)
{
    layout L = {0, 0, 0, 0, 0, 0, 0};
    int need_h = W != w, need_v = H != h;
    L.kh = need_h ? axis_ksize(w, W, fd) : 0;
    L.kv = axis_ksize(h, H, fd);  /* the rows the horizontal pass must produce */
    size_t n = 2 * (size_t)W * need_h;
    L.off_kkh = n;
    n += (size_t)W * L.kh;
    L.off_bv = n;
    n += 2 * (size_t)H;
    L.off_kkv = n;
    n += (size_t)H * L.kv;
    L.off_tmp = n * sizeof(int32_t);
    L.total = L.off_tmp + (need_h && need_v ? (size_t)W * h * 3 : 0);
    return L;
}

size_t cc_resample_scratch_bytes(int h, int w, int H, int W, cc_resample_filter filter)
{
    if (h == H && w == W)
        return 0;
    return layout_for(h, w, H, W, filter_of(filter)).total;
}

/* out (rows × W × 3) from rows first..first+rows-1 of in (× w × 3). */
static void pass_horizontal(unsigned char *out, int W, const unsigned char *in, int w,
                            int first, int rows, const int *bounds, const int32_t *kk, int ksize)
{
    for (int y = 0; y < rows; y++) {
        const unsigned char *row = in + (size_t)(first + y) * w * 3;
        unsigned char *o = out + (size_t)y * W * 3;
        for (int x = 0; x < W; x++) {
            const int32_t *k = kk + (size_t)x * ksize;
            const unsigned char *p = row + (size_t)bounds[2 * x] * 3;
            int32_t s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
            for (int j = 0; j < bounds[2 * x + 1]; j++) {
                s0 += p[3 * j + 0] * k[j];
                s1 += p[3 * j + 1] * k[j];
                s2 += p[3 * j + 2] * k[j];
            }
            o[3 * x + 0] = clip8(s0);
            o[3 * x + 1] = clip8(s1);
            o[3 * x + 2] = clip8(s2);
        }
    }
}

/* out (H × W × 3) from in (rows × W × 3); bounds index rows of in. */
static void pass_vertical(unsigned char *out, int H, int W, const unsigned char *in,
                          const int *bounds, int shift, const int32_t *kk, int ksize)
{
    size_t stride = (size_t)W * 3;
    for (int y = 0; y < H; y++) {
        const int32_t *k = kk + (size_t)y * ksize;
        const unsigned char *top = in + (size_t)(bounds[2 * y] - shift) * stride;
        int cnt = bounds[2 * y + 1];
        unsigned char *o = out + (size_t)y * stride;
        for (size_t x = 0; x < stride; x++) {
            int32_t s = 1 << (PRECISION_BITS - 1);
            for (int j = 0; j < cnt; j++)
                s += top[(size_t)j * stride + x] * k[j];
            o[x] = clip8(s);
        }
    }
}

void cc_resample_rgb(unsigned char *out, int H, int W, const unsigned char *rgb, int h, int w,
                     cc_resample_filter filter, void *scratch)
{
    assert(H >= 1 && W >= 1 && h >= 1 && w >= 1);
    if (h == H && w == W) {
        memcpy(out, rgb, (size_t)H * W * 3);
        return;
    }
    filter_def fd = filter_of(filter);
    layout L = layout_for(h, w, H, W, fd);
    int32_t *base = scratch;
    int *bh = (int *)base, *bv = (int *)(base + L.off_bv);
    int32_t *kkh = base + L.off_kkh, *kkv = base + L.off_kkv;
    unsigned char *tmp = (unsigned char *)scratch + L.off_tmp;

    if (H == h) {                       /* horizontal only, every row */
        axis_coeffs(w, W, fd, L.kh, bh, kkh);
        pass_horizontal(out, W, rgb, w, 0, h, bh, kkh, L.kh);
        return;
    }
    axis_coeffs(h, H, fd, L.kv, bv, kkv);
    if (W == w) {                       /* vertical only, from the source */
        pass_vertical(out, H, W, rgb, bv, 0, kkv, L.kv);
        return;
    }
    int first = bv[0], last = bv[2 * (H - 1)] + bv[2 * (H - 1) + 1];
    axis_coeffs(w, W, fd, L.kh, bh, kkh);
    pass_horizontal(tmp, W, rgb, w, first, last - first, bh, kkh, L.kh);
    pass_vertical(out, H, W, tmp, bv, first, kkv, L.kv);
}
