/* layers/maxpool2d.c — torch.nn.MaxPool2d (dilation 1).
 *
 * out[n,c,oh,ow] = max over ih in [oh*SH - PT, +KH), iw in [ow*SW - PL, +KW),
 *                  clipped to the input, of inp[n,c,ih,iw]
 * Padding never wins: it is left out of the window rather than taken as -inf.
 * The max is piecewise the identity on one element, so
 *   dinp[n,c,argmax] += dout[n,c,oh,ow]
 * and every other element of the window gets nothing. Which element is the
 * argmax decides where the gradient goes, so it follows PyTorch's CPU kernel
 * (cpu_max_pool, NCHW) exactly: scan the window row-major and take v when
 * `v > max || isnan(v)`. Ties therefore go to the FIRST maximum; a NaN
 * propagates and the LAST NaN of a window is the argmax; a window of -inf
 * (nothing compares greater) points at its first element.
 * The backward finds the argmax again from the saved input instead of keeping
 * an index tensor: the scan is deterministic, so it picks the same element. */
#include "pool_shape.h"

#include <assert.h>
#include <math.h>

/* Index inside one HxW plane of the element output (oh,ow) takes. */
static size_t window_argmax(const cc_real *x, const cc_pool_dims *d, int oh, int ow)
{
    int h0 = oh * d->SH - d->PT, w0 = ow * d->SW - d->PL;
    const int h1 = h0 + d->KH < d->H ? h0 + d->KH : d->H;
    const int w1 = w0 + d->KW < d->W ? w0 + d->KW : d->W;
    h0 = h0 > 0 ? h0 : 0;
    w0 = w0 > 0 ? w0 : 0;
    /* Never empty: ceil_mode windows start inside the input or its leading
     * padding, and padding <= kernel/2 (pool_shape.c). */
    assert(h0 < h1 && w0 < w1);
    size_t best = (size_t)h0 * d->W + w0;
    cc_real maxval = -INFINITY;
    for (int ih = h0; ih < h1; ih++)
        for (int iw = w0; iw < w1; iw++) {
            const size_t i = (size_t)ih * d->W + iw;
            if (x[i] > maxval || isnan(x[i])) {
                maxval = x[i];
                best = i;
            }
        }
    return best;
}

typedef struct {
    cc_real *out;
    const cc_real *inp;
    const cc_pool_dims *d;
} planes;

/* One tap of a stride-2 row in AVX-512, 16 outputs at a time: o[ow] takes
 * xr[2 ow + woff] where that is greater or NaN, exactly as the loop in
 * forward_planes (whose stride-2 reads do not vectorise: ResNet's pool ran
 * 3.7x ONNX Runtime's). The even lanes of 32 columns, the columns past the
 * last window's masked off (they may lie past the row), the last outputs of
 * the row under a mask too. Returns ow1: the row is done. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(CC_REAL_DOUBLE)
#include <immintrin.h>

__attribute__((target("avx512f"))) static int stride2_row(cc_real *o, const cc_real *xr, int woff, int ow0,
                                                          int ow1)
{
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    for (int ow = ow0; ow < ow1; ow += 16) {
        const int n = ow1 - ow < 16 ? ow1 - ow : 16, cols = 2 * n - 1;   /* x[0 .. cols - 1] are valid */
        const cc_real *x = xr + 2 * ow + woff;
        const __mmask16 out = (__mmask16)(0xffffu >> (16 - n));
        const __mmask16 lo = cols >= 16 ? 0xffff : (__mmask16)((1u << cols) - 1);
        const __mmask16 hi = cols > 16 ? (__mmask16)((1u << (cols - 16)) - 1) : 0;
        const __m512 v = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(lo, x), even, _mm512_maskz_loadu_ps(hi, x + 16));
        const __m512 m = _mm512_maskz_loadu_ps(out, o + ow);
        const __mmask16 take = _mm512_cmp_ps_mask(v, m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
        _mm512_mask_storeu_ps(o + ow, out, _mm512_mask_blend_ps(take, m, v));
    }
    return ow1;
}
#else
static int stride2_row(cc_real *o, const cc_real *xr, int woff, int ow0, int ow1)
{
    (void)o, (void)xr, (void)woff, (void)ow1;
    return ow0;
}
#endif

/* Planes lo..hi-1 of the forward: the value at window_argmax, found without
 * tracking the index, tap by tap over a whole output row (a contiguous or
 * stride-S loop that vectorises; taps outside the input are skipped, as the
 * window is clipped). Each output starts at -inf, which the argmax's value
 * also is when nothing beats it; a NaN sticks (nothing compares greater
 * than it), so a window with a NaN gives NaN as the argmax does. */
CC_VECTORISED static void forward_planes(void *arg, size_t lo, size_t hi)
{
    const planes *p = arg;
    const cc_pool_dims *d = p->d;
    const int avx512 = cc_cpu_avx512();
    for (size_t nc = lo; nc < hi; nc++) {
        const cc_real *x = p->inp + nc * d->H * d->W;
        for (int oh = 0; oh < d->OH; oh++) {
            cc_real *restrict o = p->out + (nc * d->OH + oh) * d->OW;
            for (int ow = 0; ow < d->OW; ow++)
                o[ow] = -INFINITY;
            for (int kh = 0; kh < d->KH; kh++) {
                const int ih = oh * d->SH - d->PT + kh;
                if (ih < 0 || ih >= d->H)
                    continue;
                const cc_real *restrict xr = x + (size_t)ih * d->W;
                for (int kw = 0; kw < d->KW; kw++) {
                    const int woff = kw - d->PL, sw = d->SW;
                    int ow0, ow1;
                    cc_valid_range(d->OW, sw, woff, d->W, &ow0, &ow1);
                    int ow = ow0;
                    if (sw == 2 && avx512)
                        ow = stride2_row(o, xr, woff, ow0, ow1);
                    for (; ow < ow1; ow++) {
                        const cc_real v = xr[ow * sw + woff], m = o[ow];
                        o[ow] = v > m || v != v ? v : m;
                    }
                }
            }
        }
    }
}

/* out: N x C x OH x OW, inp: N x C x H x W. Planes are split over the pool. */
void cc_maxpool2d_forward(cc_real *out, const cc_real *inp, const cc_pool_dims *d)
{
    planes p = {out, inp, d};
    const size_t per = (size_t)d->OH * d->OW * d->KH * d->KW;
    cc_parallel((size_t)d->N * d->C, cc_grain(per, 65536), forward_planes, &p);
}

/* dinp, inp: N x C x H x W; dout: N x C x OH x OW. Differentiates the
 * forward's o[...] = x[argmax]: overlapping windows (stride < kernel) may
 * send several gradients to one element, hence +=. */
void cc_maxpool2d_backward(cc_real *dinp, const cc_real *dout, const cc_real *inp,
                           const cc_pool_dims *d)
{
    if (!dinp)
        return;
    for (int nc = 0; nc < d->N * d->C; nc++) {
        const cc_real *x = inp + (size_t)nc * d->H * d->W;
        cc_real *dx = dinp + (size_t)nc * d->H * d->W;
        const cc_real *dy = dout + (size_t)nc * d->OH * d->OW;
        for (int oh = 0; oh < d->OH; oh++)
            for (int ow = 0; ow < d->OW; ow++)
                dx[window_argmax(x, d, oh, ow)] += dy[(size_t)oh * d->OW + ow];
    }
}

static cc_status infer(const cc_attrs *a, const cc_shape *in, int nin, const cc_shape *param,
                       const int *has_param, cc_shape *out, cc_error *err)
{
    (void)nin, (void)param, (void)has_param;
    if (a->dilation[0] != 1 || a->dilation[1] != 1)
        return cc_fail(err, CC_EINVAL, "maxpool2d dilation %dx%d is not supported; only 1x1 "
                       "(PyTorch's default)", a->dilation[0], a->dilation[1]);
    return cc_pool_infer("maxpool2d", a, &in[0], out, err);
}

static void forward(const cc_op_args *a)
{
    const cc_pool_dims d = cc_pool_dims_of(a);
    cc_maxpool2d_forward(a->out, a->in[0], &d);
}

static void backward(const cc_op_args *a)
{
    const cc_pool_dims d = cc_pool_dims_of(a);
    if (a->din[0])
        cc_maxpool2d_backward(a->din[0], a->dout, a->in[0], &d);
}

const cc_op cc_op_maxpool2d = {
    .name = "maxpool2d", .min_inputs = 1, .max_inputs = 1,
    .saves_for_dinput = CC_SAVES_INPUTS,
    .infer = infer, .forward = forward, .backward = backward,
};
