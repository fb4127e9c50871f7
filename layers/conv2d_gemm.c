/* layers/conv2d_gemm.c — conv2d (any stride, padding, dilation, groups) as
 * matrix products; conv2d.c sends every conv that is not depthwise here.
 *
 * For image n and group g, with CG = C/G, OCG = OC/G, K = CG*KH*KW, P = OH*OW:
 *   col[(c*KH + kh)*KW + kw, oh*OW + ow] = inp[n, g*CG + c, ih, iw]   (0 outside the input)
 *     ih = oh*SH - PT + kh*DH,  iw = ow*SW - PL + kw*DW               (im2col)
 *   out[n, g] (OCG x P) = W[g] (OCG x K) * col (K x P) + bias          W[g]: rows g*OCG.. of weight
 * which is the reference sum of layers/conv2d.c, reordered. Differentiating
 * the product:
 *   dcol   = W[g]^T * dout[n, g],  then dinp += col2im(dcol): each col entry
 *            adds back into the input element it was copied from
 *   dW[g] += dout[n, g] * col^T
 *   dbias[oc] += sum_p dout[n, oc, p]
 * A 1x1, stride 1 conv without padding has col = inp[n, g] (CG x H*W) itself,
 * so it multiplies the input directly. Otherwise col is built in the caller's
 * scratch a tile of output rows at a time (as many as the scratch holds), so a
 * VGG layer at 224x224 needs CC_CONV_SCRATCH_CAP bytes, not K*P*4 (~29 MB).
 * For a tile, out's rows are a column block of out[n, g] (leading dimension P).
 *
 * cc_gemm sums in cc_real where the reference sums the forward in double:
 * float results differ from it by rounding (~1e-6 relative at K in the
 * thousands). tests/test_gemm_paths.c holds this file to the reference. */
#include "kernels.h"

#include <assert.h>
#include <string.h>

/* The 1x1 path: col would be a copy of the input. OH == H and OW == W exclude
 * bottom/right padding, which would add output rows that read only zeros. */
static int is_direct(const cc_conv_dims *d)
{
    return d->KH == 1 && d->KW == 1 && d->SH == 1 && d->SW == 1 && d->PT == 0 && d->PL == 0 &&
           d->OH == d->H && d->OW == d->W;
}

/* Bytes of col for one output row. */
static size_t row_bytes(const cc_conv_dims *d)
{
    return (size_t)(d->C / d->G) * d->KH * d->KW * d->OW * sizeof(cc_real);
}

size_t cc_conv2d_gemm_scratch(const cc_conv_dims *d)
{
    if (is_direct(d))
        return 0;
    size_t rows = CC_CONV_SCRATCH_CAP / row_bytes(d);
    rows = rows < 1 ? 1 : rows > (size_t)d->OH ? (size_t)d->OH : rows;
    return rows * row_bytes(d);
}

/* Output rows per tile that the scratch holds. */
static int tile_rows(const cc_conv_dims *d, const void *scratch, size_t scratch_bytes)
{
    const size_t rows = scratch_bytes / row_bytes(d);
    assert(scratch && rows >= 1 && "conv2d gemm: no scratch, or less than one output row of col");
    return rows > (size_t)d->OH ? d->OH : (int)rows;
}

/* col (K x (oh1-oh0)*OW) from x (CG x H x W, one image and group), output
 * rows oh0..oh1-1: the rows of col that channels c0..c1-1 make. */
/* A "same" conv (stride 1, undilated, OW == W): the col rows of one tap are
 * the input plane shifted by hoff rows and woff columns, so the rows that
 * read inside the input are ONE copy of consecutive input, after which the
 * woff columns that wrapped around a row edge are zeroed (they read padding).
 * Rows are often a few elements long (14 in RegNet's grouped convs), where a
 * copy per row cost more than the product. */
static int is_same(const cc_conv_dims *d)
{
    return d->SH == 1 && d->SW == 1 && d->DH == 1 && d->DW == 1 && d->OW == d->W && d->PL < d->W &&
           d->KW - 1 - d->PL < d->W;
}

static void same_tap(cc_real *restrict col, const cc_real *restrict xc, const cc_conv_dims *d, int oh0,
                     int oh1, int hoff, int woff)
{
    const int W = d->W;
    int a = -hoff > oh0 ? -hoff : oh0, b = d->H - hoff < oh1 ? d->H - hoff : oh1;  /* rows inside */
    a = a < oh1 ? a : oh1;
    b = b > a ? b : a;
    memset(col, 0, (size_t)(a - oh0) * W * sizeof *col);
    memset(col + (size_t)(b - oh0) * W, 0, (size_t)(oh1 - b) * W * sizeof *col);
    if (a == b)
        return;
    /* input index (oh + hoff) * W + ow + woff for ow in [0, W), rows a..b-1,
     * clipped to the plane: what falls outside is a wrapped column */
    cc_real *dst = col + (size_t)(a - oh0) * W;
    long lo = (long)(a + hoff) * W + woff, hi = (long)(b + hoff) * W + woff;
    const long plo = lo < 0 ? 0 : lo, phi = hi > (long)d->H * W ? (long)d->H * W : hi;
    memcpy(dst + (plo - lo), xc + plo, (size_t)(phi - plo) * sizeof *col);
    for (int r = 0; r < b - a; r++) {
        cc_real *row = dst + (size_t)r * W;
        for (int ow = 0; ow < -woff; ow++)
            row[ow] = 0;
        for (int ow = W - woff; ow < W; ow++)
            row[ow] = 0;
    }
}

static void im2col(cc_real *restrict col, const cc_real *restrict x, const cc_conv_dims *d,
                   int oh0, int oh1, int c0, int c1)
{
    col += (size_t)c0 * d->KH * d->KW * (oh1 - oh0) * d->OW;
    const int same = is_same(d);
    for (int c = c0; c < c1; c++)
        for (int kh = 0; kh < d->KH; kh++) {
            const int hoff = kh * d->DH - d->PT;  /* ih = oh*SH + hoff */
            for (int kw = 0; kw < d->KW; kw++) {
                const int woff = kw * d->DW - d->PL;  /* iw = ow*SW + woff */
                if (same) {
                    same_tap(col, x + (size_t)c * d->H * d->W, d, oh0, oh1, hoff, woff);
                    col += (size_t)(oh1 - oh0) * d->OW;
                    continue;
                }
                int ow0, ow1;
                cc_valid_range(d->OW, d->SW, woff, d->W, &ow0, &ow1);
                for (int oh = oh0; oh < oh1; oh++, col += d->OW) {
                    const int ih = oh * d->SH + hoff;
                    if (ih < 0 || ih >= d->H) {
                        memset(col, 0, (size_t)d->OW * sizeof *col);
                        continue;
                    }
                    const cc_real *xr = x + ((size_t)c * d->H + ih) * d->W;
                    for (int ow = 0; ow < ow0; ow++)
                        col[ow] = 0;
                    if (d->SW == 1 && ow1 > ow0)  /* xr + ow0 + woff lies in the row */
                        memcpy(col + ow0, xr + ow0 + woff, (size_t)(ow1 - ow0) * sizeof *col);
                    else if (d->SW == 2)  /* a constant stride: the loads vectorise */
                        for (int ow = ow0; ow < ow1; ow++)
                            col[ow] = xr[2 * ow + woff];
                    else
                        for (int ow = ow0; ow < ow1; ow++)
                            col[ow] = xr[ow * d->SW + woff];
                    for (int ow = ow1; ow < d->OW; ow++)
                        col[ow] = 0;
                }
            }
        }
}

typedef struct {
    cc_real *col;
    const cc_real *x;
    const cc_conv_dims *d;
    int oh0, oh1;
} im2col_job;

CC_VECTORISED static void im2col_range(void *arg, size_t lo, size_t hi)
{
    const im2col_job *j = arg;
    im2col(j->col, j->x, j->d, j->oh0, j->oh1, (int)lo, (int)hi);
}

/* im2col with its channels split over the pool. */
static void im2col_parallel(cc_real *col, const cc_real *x, const cc_conv_dims *d, int oh0, int oh1)
{
    im2col_job j = {col, x, d, oh0, oh1};
    const size_t per = (size_t)d->KH * d->KW * (oh1 - oh0) * d->OW;  /* col entries per channel */
    cc_parallel((size_t)(d->C / d->G), cc_grain(per, 32768), im2col_range, &j);
}

/* The transpose of im2col: dx (CG x H x W) += each dcol entry at the input it came from. */
static void col2im(cc_real *restrict dx, const cc_real *restrict dcol, const cc_conv_dims *d,
                   int oh0, int oh1)
{
    const int CG = d->C / d->G;
    for (int c = 0; c < CG; c++)
        for (int kh = 0; kh < d->KH; kh++) {
            const int hoff = kh * d->DH - d->PT;
            for (int kw = 0; kw < d->KW; kw++) {
                const int woff = kw * d->DW - d->PL;
                int ow0, ow1;
                cc_valid_range(d->OW, d->SW, woff, d->W, &ow0, &ow1);
                for (int oh = oh0; oh < oh1; oh++, dcol += d->OW) {
                    const int ih = oh * d->SH + hoff;
                    if (ih < 0 || ih >= d->H)
                        continue;  /* these entries were padding */
                    cc_real *xr = dx + ((size_t)c * d->H + ih) * d->W;
                    for (int ow = ow0; ow < ow1; ow++)
                        xr[ow * d->SW + woff] += dcol[ow];
                }
            }
        }
}

/* out: N x OC x OH x OW, inp: N x C x H x W, weight: OC x C/G x KH x KW, bias: OC or NULL;
 * scratch: scratch_bytes >= one output row of col, unless the 1x1 path needs none. */
void cc_conv2d_gemm_forward(cc_real *out, const cc_real *inp, const cc_real *weight,
                            const cc_real *bias, const cc_conv_dims *d, void *scratch,
                            size_t scratch_bytes, const cc_epilogue *ep)
{
    const int CG = d->C / d->G, OCG = d->OC / d->G, K = CG * d->KH * d->KW, P = d->OH * d->OW;
    const int direct = is_direct(d), rows = direct ? 0 : tile_rows(d, scratch, scratch_bytes);
    cc_real *col = scratch;
    for (int n = 0; n < d->N; n++)
        for (int g = 0; g < d->G; g++) {
            const cc_real *x = inp + ((size_t)n * d->C + (size_t)g * CG) * d->H * d->W;
            const cc_real *w = weight + (size_t)g * OCG * K;
            cc_real *y = out + ((size_t)n * d->OC + (size_t)g * OCG) * P;
            if (bias)  /* out = bias + ...: the products below add to it (beta = 1) */
                for (int o = 0; o < OCG; o++)
                    for (int p = 0; p < P; p++)
                        y[(size_t)o * P + p] = bias[g * OCG + o];
            const cc_real beta = bias ? 1 : 0;
            if (direct) {
                cc_gemm_ep(0, 0, OCG, P, K, 1, w, K, x, P, beta, y, P, ep, g * OCG);
                continue;
            }
            for (int oh0 = 0; oh0 < d->OH; oh0 += rows) {
                const int oh1 = oh0 + rows < d->OH ? oh0 + rows : d->OH, TP = (oh1 - oh0) * d->OW;
                im2col_parallel(col, x, d, oh0, oh1);
                cc_gemm_ep(0, 0, OCG, TP, K, 1, w, K, col, TP, beta, y + (size_t)oh0 * d->OW, P, ep, g * OCG);
            }
        }
}

/* dinp, inp: N x C x H x W; dweight: OC x C/G x KH x KW; dbias: OC; dout: N x OC x OH x OW.
 * When both dinp and dweight are wanted, each tile's col first holds the
 * input columns (for dweight), then is overwritten by dcol (for dinp). */
void cc_conv2d_gemm_backward(cc_real *dinp, cc_real *dweight, cc_real *dbias,
                             const cc_real *dout, const cc_real *inp, const cc_real *weight,
                             const cc_conv_dims *d, void *scratch, size_t scratch_bytes)
{
    const int CG = d->C / d->G, OCG = d->OC / d->G, K = CG * d->KH * d->KW, P = d->OH * d->OW;
    if (dbias)  /* out = bias[oc] + ...: every output of channel oc */
        for (int oc = 0; oc < d->OC; oc++) {
            double s = 0;
            for (int n = 0; n < d->N; n++) {
                const cc_real *dy = dout + ((size_t)n * d->OC + oc) * P;
                for (int p = 0; p < P; p++)
                    s += dy[p];
            }
            dbias[oc] += (cc_real)s;
        }
    if (!dinp && !dweight)
        return;
    const int direct = is_direct(d), rows = direct ? 0 : tile_rows(d, scratch, scratch_bytes);
    cc_real *col = scratch;
    for (int n = 0; n < d->N; n++)
        for (int g = 0; g < d->G; g++) {
            const size_t xoff = ((size_t)n * d->C + (size_t)g * CG) * d->H * d->W;
            const cc_real *x = dweight ? inp + xoff : NULL;
            cc_real *dx = dinp ? dinp + xoff : NULL;
            const cc_real *w = weight + (size_t)g * OCG * K;
            cc_real *dw = dweight ? dweight + (size_t)g * OCG * K : NULL;
            const cc_real *dy = dout + ((size_t)n * d->OC + (size_t)g * OCG) * P;
            if (direct) {  /* y = w * x with x itself the CG x P col */
                if (dw)
                    cc_gemm(0, 1, OCG, K, P, 1, dy, P, x, P, 1, dw, K);
                if (dx)
                    cc_gemm(1, 0, K, P, OCG, 1, w, K, dy, P, 1, dx, P);
                continue;
            }
            for (int oh0 = 0; oh0 < d->OH; oh0 += rows) {
                const int oh1 = oh0 + rows < d->OH ? oh0 + rows : d->OH, TP = (oh1 - oh0) * d->OW;
                const cc_real *dyt = dy + (size_t)oh0 * d->OW;  /* OCG x TP, leading dimension P */
                if (dw) {  /* from y = w * col, with respect to w */
                    im2col_parallel(col, x, d, oh0, oh1);
                    cc_gemm(0, 1, OCG, K, TP, 1, dyt, P, col, TP, 1, dw, K);
                }
                if (dx) {  /* the same product with respect to col, then col's copy from x */
                    cc_gemm(1, 0, K, TP, OCG, 1, w, K, dyt, P, 0, col, TP);
                    col2im(dx, col, d, oh0, oh1);
                }
            }
        }
}
