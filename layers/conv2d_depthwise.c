/* layers/conv2d_depthwise.c — conv2d with one filter per channel
 * (groups == C == OC, weight C x 1 x KH x KW), as MobileNet uses it.
 *
 * out[n,c,oh,ow] = bias[c] + sum_{kh,kw} weight[c,kh,kw] * inp[n,c, oh*SH - PT + kh*DH, ow*SW - PL + kw*DW]
 *   dinp[n,c,ih,iw]   += weight[c,kh,kw] * dout[n,c,oh,ow]
 *   dweight[c,kh,kw]  += inp[n,c,ih,iw] * dout[n,c,oh,ow]
 *   dbias[c]          += dout[n,c,oh,ow]
 * over the taps whose (ih,iw) lies inside the input: the same maps as the
 * reference cc_conv2d_forward/backward (layers/conv2d.c), which
 * tests/test_conv_paths.c holds this file to.
 *
 * Why it is faster: the reference tests every tap of every output against
 * the input bounds. Here each tap (kh,kw) of a channel first computes, once,
 * the range of output rows and columns that read inside the input; the inner
 * loop then runs over ow with no test, contiguous in the output (and in the
 * input when SW == 1), and vectorises. Each output still adds bias, then the
 * taps in (kh,kw) order, as the reference does, but in cc_real in place
 * rather than in a double, so float results differ from the reference by
 * rounding only (~1e-7 relative). Weight and bias gradients sum in double. */
#include "kernels.h"

/* y[o] += a * x[o*step + off] for o in [o0, o1). Indices, not shifted
 * pointers: x + off may lie before the buffer. The unit-stride case is
 * unrolled by four so that -O2 (which vectorises no loop whose trip count
 * is unknown) still turns the block into one vector multiply-add. */
static inline void axpy(cc_real *restrict y, const cc_real *restrict x, int step, int off, int o0, int o1,
                 cc_real a)
{
    int o = o0;
    if (step == 1)
        for (; o + 4 <= o1; o += 4) {
            const cc_real *xo = x + o + off;  /* inside x: o is a valid output */
            y[o] += a * xo[0];
            y[o + 1] += a * xo[1];
            y[o + 2] += a * xo[2];
            y[o + 3] += a * xo[3];
        }
    for (; o < o1; o++)
        y[o] += a * x[o * step + off];
}

/* The transpose of axpy: x[o*step + off] += a * y[o]. */
static void axpy_t(cc_real *restrict x, const cc_real *restrict y, int step, int off, int o0, int o1,
                   cc_real a)
{
    int o = o0;
    if (step == 1)
        for (; o + 4 <= o1; o += 4) {
            cc_real *xo = x + o + off;
            xo[0] += a * y[o];
            xo[1] += a * y[o + 1];
            xo[2] += a * y[o + 2];
            xo[3] += a * y[o + 3];
        }
    for (; o < o1; o++)
        x[o * step + off] += a * y[o];
}

/* sum_o x[o*step + off] * y[o], in double: a weight gradient sums many
 * products. Four partial sums break the chain of dependent additions. */
static double dot(const cc_real *x, const cc_real *y, int step, int off, int o0, int o1)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int o = o0;
    for (; o + 4 <= o1; o += 4) {
        const cc_real *xo = x + o * step + off;  /* inside x: o is a valid output */
        s0 += (double)xo[0] * y[o];
        s1 += (double)xo[step] * y[o + 1];
        s2 += (double)xo[2 * step] * y[o + 2];
        s3 += (double)xo[3 * step] * y[o + 3];
    }
    for (; o < o1; o++)
        s0 += (double)x[o * step + off] * y[o];
    return (s0 + s1) + (s2 + s3);
}

/* The banded forward (same stride S and dilation L on both axes, S <= 2).
 * Output rows are taken R at a time. The input under a band is copied,
 * zero-padded, into S*S phase planes, P_ab[r][c] = inp[S*(oh0 + r) + a - PT]
 * [S*c + b - PL], each Wq wide, so that tap (kh, kw) of output (oh0 + r, ow)
 * reads P_ab[r + (kh*L)/S][ow + (kw*L)/S] with a = kh*L % S, b = kw*L % S:
 * with the outputs also Wq apart, one tap is ONE contiguous multiply-add over
 * the whole band (the columns past OW are computed and dropped), where the
 * plain loop runs one short row at a time and, for stride 2, strided. Each
 * output still gets bias, then the taps in (kh, kw) order: the same floats.
 * The band lives on the stack (BAND_FLOATS, 24 KiB): wider planes take the
 * plain loop. */
enum { BAND_FLOATS = 6144 };

static int band_ok(const cc_conv_dims *d)
{
    return d->SH == d->SW && d->SH <= 2 && d->DH == d->DW;
}

/* Phase-plane width and the rows of phase plane a band of R rows needs. */
static int band_width(const cc_conv_dims *d)
{
    return d->OW + (d->KW - 1) * d->DW / d->SW + 1;
}

static int band_in_rows(const cc_conv_dims *d, int R)
{
    return R + (d->KH - 1) * d->DH / d->SH + 1;
}

/* Output rows per band, 0 when not even one fits. */
static int band_rows(const cc_conv_dims *d)
{
    if (!band_ok(d))
        return 0;
    const size_t S2 = (size_t)d->SW * d->SW, Wq = (size_t)band_width(d);
    int R = d->OH;
    while (R > 0 && S2 * band_in_rows(d, R) * Wq + (size_t)R * Wq > BAND_FLOATS)
        R = R > 8 ? R / 2 : R - 1;
    return R;
}

static inline void band_axpy(cc_real *restrict y, const cc_real *restrict x, size_t n, cc_real a)
{
    for (size_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

/* One plane x (H x W) into o (OH x OW), R output rows per band. */
CC_VECTORISED static void forward_plane_banded(cc_real *o, const cc_real *x, const cc_real *w, cc_real b,
                                 const cc_conv_dims *d, int R)
{
    const int S = d->SW, L = d->DW, Wq = band_width(d);
    cc_real buf[BAND_FLOATS];
    for (int oh0 = 0; oh0 < d->OH; oh0 += R) {
        const int rows = d->OH - oh0 < R ? d->OH - oh0 : R, Rq = band_in_rows(d, rows);
        cc_real *ob = buf + (size_t)S * S * Rq * Wq;
        for (int a = 0; a < S; a++)
            for (int bb = 0; bb < S; bb++) {
                cc_real *ph = buf + (size_t)(a * S + bb) * Rq * Wq;
                int c0, c1;  /* the columns c whose input column S*c + bb - PL lies inside */
                cc_valid_range(Wq, S, bb - d->PL, d->W, &c0, &c1);
                for (int r = 0; r < Rq; r++) {
                    const int ih = S * (oh0 + r) + a - d->PT;
                    cc_real *row = ph + (size_t)r * Wq;
                    if (ih < 0 || ih >= d->H) {
                        for (int c = 0; c < Wq; c++)
                            row[c] = 0;
                        continue;
                    }
                    const cc_real *xr = x + (size_t)ih * d->W + bb - d->PL;  /* + S*c: inside for c0 <= c < c1 */
                    for (int c = 0; c < c0; c++)
                        row[c] = 0;
                    if (S == 1)
                        for (int c = c0; c < c1; c++)
                            row[c] = xr[c];
                    else
                        for (int c = c0; c < c1; c++)
                            row[c] = xr[2 * c];
                    for (int c = c1; c < Wq; c++)
                        row[c] = 0;
                }
            }
        const size_t n = (size_t)(rows - 1) * Wq + d->OW;  /* through the last row's last output */
        for (size_t i = 0; i < n; i++)
            ob[i] = b;
        for (int kh = 0; kh < d->KH; kh++)
            for (int kw = 0; kw < d->KW; kw++) {
                const int a = kh * L % S, bb = kw * L % S;
                const cc_real *ph = buf + (size_t)(a * S + bb) * Rq * Wq;
                band_axpy(ob, ph + (size_t)(kh * L / S) * Wq + kw * L / S, n, w[kh * d->KW + kw]);
            }
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < d->OW; c++)
                o[(size_t)(oh0 + r) * d->OW + c] = ob[(size_t)r * Wq + c];
    }
}

typedef struct {
    cc_real *out;
    const cc_real *inp, *weight, *bias;
    const cc_conv_dims *d;
    const cc_epilogue *ep;
} planes;

/* One plane where no band applies: bias, then each tap added over the
 * outputs whose input it reaches. */
static inline void forward_plane_plain(cc_real *o, const cc_real *x, const cc_real *w, cc_real b,
                                       const cc_conv_dims *d)
{
    for (size_t i = 0; i < (size_t)d->OH * d->OW; i++)
        o[i] = b;
    for (int kh = 0; kh < d->KH; kh++) {
        const int hoff = kh * d->DH - d->PT;  /* ih = oh*SH + hoff */
        int oh0, oh1;
        cc_valid_range(d->OH, d->SH, hoff, d->H, &oh0, &oh1);
        for (int kw = 0; kw < d->KW; kw++) {
            const int woff = kw * d->DW - d->PL;  /* iw = ow*SW + woff */
            int ow0, ow1;
            cc_valid_range(d->OW, d->SW, woff, d->W, &ow0, &ow1);
            const cc_real a = w[(size_t)kh * d->KW + kw];
            for (int oh = oh0; oh < oh1; oh++)
                axpy(o + (size_t)oh * d->OW, x + (size_t)(oh * d->SH + hoff) * d->W, d->SW, woff, ow0, ow1, a);
        }
    }
}

/* Planes (image, channel) lo..hi-1 of the forward. */
CC_VECTORISED static void forward_planes(void *arg, size_t lo, size_t hi)
{
    const planes *p = arg;
    const cc_conv_dims *d = p->d;
    const cc_real *inp = p->inp, *weight = p->weight, *bias = p->bias;
    cc_real *out = p->out;
    const int R = band_rows(d);
    for (int nc = (int)lo; nc < (int)hi; nc++) {
        const int c = nc % d->C;
        const cc_real *x = inp + (size_t)nc * d->H * d->W;
        const cc_real *w = weight + (size_t)c * d->KH * d->KW;
        cc_real *o = out + (size_t)nc * d->OH * d->OW;
        const cc_real b = bias ? bias[c] : 0;
        if (R > 0)
            forward_plane_banded(o, x, w, b, d, R);
        else
            forward_plane_plain(o, x, w, b, d);
        cc_epilogue_apply(p->ep, o, c, (size_t)d->OH * d->OW);
    }
}

/* out: N x C x OH x OW, inp: N x C x H x W, weight: C x 1 x KH x KW, bias: C or NULL.
 * Planes are independent: split over the pool. */
void cc_conv2d_depthwise_forward_portable(cc_real *out, const cc_real *inp, const cc_real *weight,
                                          const cc_real *bias, const cc_conv_dims *d, const cc_epilogue *ep)
{
    planes p = {out, inp, weight, bias, d, ep};
    const size_t per = (size_t)d->OH * d->OW * d->KH * d->KW;  /* multiply-adds per plane */
    cc_parallel((size_t)d->N * d->C, cc_grain(per, 65536), forward_planes, &p);
}

void cc_conv2d_depthwise_forward(cc_real *out, const cc_real *inp, const cc_real *weight,
                                 const cc_real *bias, const cc_conv_dims *d, const cc_epilogue *ep)
{
#ifndef CC_REAL_DOUBLE
    if (cc_conv2d_depthwise_avx512_applies(d)) {
        cc_conv2d_depthwise_avx512_forward(out, inp, weight, bias, d, ep);
        return;
    }
#endif
    cc_conv2d_depthwise_forward_portable(out, inp, weight, bias, d, ep);
}

/* dinp, inp: N x C x H x W; dweight: C x 1 x KH x KW; dbias: C; dout: N x C x OH x OW.
 * inp is read only for dweight (the conv descriptor saves it only then), so
 * it may be NULL when dweight is. */
void cc_conv2d_depthwise_backward(cc_real *dinp, cc_real *dweight, cc_real *dbias,
                                  const cc_real *dout, const cc_real *inp,
                                  const cc_real *weight, const cc_conv_dims *d)
{
    for (int nc = 0; nc < d->N * d->C; nc++) {
        const int c = nc % d->C;
        const cc_real *dy = dout + (size_t)nc * d->OH * d->OW;
        const size_t xbase = (size_t)nc * d->H * d->W;
        const size_t wbase = (size_t)c * d->KH * d->KW;
        if (dbias) {
            /* out = bias + ...: every output of channel c. */
            double s = 0;
            for (size_t i = 0; i < (size_t)d->OH * d->OW; i++)
                s += dy[i];
            dbias[c] += (cc_real)s;
        }
        if (!dinp && !dweight)
            continue;
        for (int kh = 0; kh < d->KH; kh++) {
            const int hoff = kh * d->DH - d->PT;
            int oh0, oh1;
            cc_valid_range(d->OH, d->SH, hoff, d->H, &oh0, &oh1);
            for (int kw = 0; kw < d->KW; kw++) {
                const int woff = kw * d->DW - d->PL;
                int ow0, ow1;
                cc_valid_range(d->OW, d->SW, woff, d->W, &ow0, &ow1);
                const size_t wi = wbase + (size_t)kh * d->KW + kw;
                double acc = 0;
                /* The forward's o[oh,ow] += w * x[oh*SH + hoff, ow*SW + woff],
                 * differentiated with respect to x and to w. */
                for (int oh = oh0; oh < oh1; oh++) {
                    const cc_real *dyrow = dy + (size_t)oh * d->OW;
                    const size_t row = xbase + (size_t)(oh * d->SH + hoff) * d->W;
                    if (dinp)
                        axpy_t(dinp + row, dyrow, d->SW, woff, ow0, ow1, weight[wi]);
                    if (dweight)
                        acc += dot(inp + row, dyrow, d->SW, woff, ow0, ow1);
                }
                if (dweight)
                    dweight[wi] += (cc_real)acc;
            }
        }
    }
}
