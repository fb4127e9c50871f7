/* layers/conv2d_grouped.c — the forward of grouped convs whose groups have a
 * multiple of 16 output channels (RegNet's 16-channel groups), and of image
 * stems (ungrouped, stride 2, on 3 channels), by a direct
 * register-blocked kernel: the same map as cc_conv2d_forward (layers/conv2d.c),
 * which tests/test_grouped_conv.c holds it to.
 *
 * Why: through im2col, each group of such a conv is a 16 x (CG*KH*KW) by
 * (CG*KH*KW) x pixels product, too small for OpenBLAS to reach its rate, and
 * the copy into columns (CG*KH*KW floats per output pixel) costs as much
 * again: RegNet's grouped 3x3 convs ran at 40-60 GFLOP/s, and a 3x3 stem on
 * RGB (27 multiply-adds per output) at 50-65. Here 16 output
 * channels are one vector of LANES, and a block of R output rows x PX output
 * columns is R*PX vector accumulators (28 of the 32 AVX-512 registers). Each
 * tap of each input channel is one weight vector times one input value per
 * output pixel, broadcast from a zero-padded copy of the input under a band
 * of blocks (whole rows of input copied once, not once per tap). The column
 * stride (1 or 2) is a constant in the inner loop, so each input value is a
 * fixed offset from one pointer. Each output gets bias, then the taps in
 * (c, kh, kw) order, in cc_real: the reference sums in double, so results
 * differ from it by rounding only.
 *
 * Taken only where the CPU has AVX-512 (on AVX2 the 28 accumulators would
 * spill) and where one block's band and the packed weights fit; else the gemm
 * path. The backward stays with the gemm path. */
#include "kernels.h"

#include <assert.h>

enum { LANES = 16, ACC = 28, BAND_FLOATS = 8192, MAX_TAPS = 4096, STEM_CHANNELS = 4, MAX_KERNEL = 64 };

/* Aligned as a cc_real: the engine's scratch is 64-byte aligned, less than
 * a vector of 16 doubles in the gradient-check build. */
typedef cc_real lanes __attribute__((vector_size(LANES * sizeof(cc_real)), aligned(sizeof(cc_real))));

/* Output columns per block: 14 (two rows), or 7 (four rows) for narrow maps. */
static int block_cols(const cc_conv_dims *d) { return d->OW > 7 ? 14 : 7; }

/* A band: YB x XB blocks of R x PX outputs; for each input channel of a
 * group, the Rq x Wq input rows and columns under them. */
typedef struct { int YB, XB, Rq, Wq; } band_shape;

static size_t band_floats(const cc_conv_dims *d, band_shape *b)
{
    const int PX = block_cols(d), R = ACC / PX;
    b->Rq = (b->YB * R - 1) * d->SH + (d->KH - 1) * d->DH + 1;
    b->Wq = (b->XB * PX - 1) * d->SW + (d->KW - 1) * d->DW + 1;
    return (size_t)(d->C / d->G) * b->Rq * b->Wq;
}

/* The most blocks a band can hold: whole rows first, then fewer columns. */
static band_shape band_of(const cc_conv_dims *d)
{
    const int PX = block_cols(d), R = ACC / PX;
    band_shape b = {(d->OH + R - 1) / R, (d->OW + PX - 1) / PX, 0, 0};
    while (band_floats(d, &b) > BAND_FLOATS && b.YB > 1)
        b.YB = (b.YB + 1) / 2;
    while (band_floats(d, &b) > BAND_FLOATS && b.XB > 1)
        b.XB = (b.XB + 1) / 2;
    return b;
}

static size_t taps(const cc_conv_dims *d)
{
    return (size_t)(d->C / d->G) * d->KH * d->KW;
}

/* Groups of LANES-multiple output channels; of ungrouped convs, only image
 * stems (at most STEM_CHANNELS inputs) of stride 2: with more channels
 * OpenBLAS's longer products win (MobileNet's 1x1 convs on 16-40 channels ran
 * slower here), and at stride 1 too (VGG-16's first conv: 2.8 ms through
 * im2col, 3.3 here; the stride-2 stems of ResNet, RegNet, EfficientNet and
 * MobileNet run 1.1-1.3x faster here). */
static int shape_ok(const cc_conv_dims *d)
{
    band_shape b = band_of(d);
    const int stem = d->G == 1 && d->C <= STEM_CHANNELS && d->SH == 2 && d->SW == 2;
    return (d->G > 1 || stem) && (d->OC / d->G) % LANES == 0 && d->SW <= 2 && d->KH * d->KW <= MAX_KERNEL &&
           taps(d) <= MAX_TAPS && band_floats(d, &b) <= BAND_FLOATS;
}

int cc_conv2d_grouped_applies(const cc_conv_dims *d)
{
    return cc_cpu_avx512() && shape_ok(d);
}

/* The weights, one vector of LANES output channels per tap. */
size_t cc_conv2d_grouped_scratch(const cc_conv_dims *d)
{
    return (size_t)d->OC * taps(d) * sizeof(cc_real);
}

typedef struct {
    cc_real *out;
    const cc_real *inp, *bias;
    lanes *packed;              /* [OC / LANES][taps] */
    const cc_real *weight;
    const cc_conv_dims *d;
    band_shape band;
    int PX, R, ybands, xbands;
} job;

/* packed[v][t][o] = weight[v*LANES + o][t] for vectors lo..hi-1. */
static void pack_weights(void *arg, size_t lo, size_t hi)
{
    const job *j = arg;
    const size_t T = taps(j->d);
    for (size_t v = lo; v < hi; v++)
        for (size_t t = 0; t < T; t++)
            for (int o = 0; o < LANES; o++)
                j->packed[v * T + t][o] = j->weight[(v * LANES + o) * T + t];
}

/* The band of one group's channels x (CG of them, H x W each) whose first
 * output is (oh0, ow0): band[c][r][q] = x[c][SH*oh0 - PT + r][SW*ow0 - PL + q],
 * zero outside the input. */
CC_VECTORISED static void fill_band(cc_real *band, const cc_real *x, const cc_conv_dims *d, int oh0,
                                   int ow0, const band_shape *b)
{
    const int ih0 = d->SH * oh0 - d->PT, iw0 = d->SW * ow0 - d->PL;
    const int q0 = iw0 < 0 ? -iw0 : 0, q1 = d->W - iw0 < b->Wq ? d->W - iw0 : b->Wq;  /* inside */
    for (int c = 0; c < d->C / d->G; c++, x += (size_t)d->H * d->W)
        for (int r = 0; r < b->Rq; r++, band += b->Wq) {
            const int ih = ih0 + r, inside = ih >= 0 && ih < d->H;
            const int lo = inside ? q0 : b->Wq, hi = inside && q1 > q0 ? q1 : lo;
            const cc_real *row = x + (size_t)(inside ? ih : 0) * d->W;  /* [q + iw0]: inside for lo <= q < hi */
            for (int q = 0; q < lo; q++)
                band[q] = 0;
            for (int q = lo; q < hi; q++)
                band[q] = row[q + iw0];
            for (int q = hi; q < b->Wq; q++)
                band[q] = 0;
        }
}

/* acc[r*PX + p] += the taps of LANES output channels at output (r, p) of a
 * block whose first input is src: tap t of channel c reads
 * src[c*chan + off[t] + r*rstep + p*SW]. PX, R and SW are constants where
 * inlined, so the accumulators stay in registers and every input is a fixed
 * offset from src. */
static inline void block(lanes *restrict acc, const cc_real *restrict src, const lanes *restrict w,
                         const int *off, int CG, int KK, size_t chan, size_t rstep, int PX, int R, int SW)
{
    for (int c = 0; c < CG; c++, src += chan)
        for (int t = 0; t < KK; t++, w++) {
            const cc_real *s = src + off[t];
            const lanes wv = *w;
#pragma GCC unroll 4
            for (int r = 0; r < R; r++)
#pragma GCC unroll 14
                for (int p = 0; p < PX; p++)
                    acc[r * PX + p] += wv * s[r * rstep + (size_t)(p * SW)];
        }
}

/* A whole block's outputs, lane l to output channel l: unrolled, as block(). */
static inline void store(cc_real *restrict o, const lanes *restrict acc, size_t HW, int OW, int PX, int R)
{
    for (int l = 0; l < LANES; l++, o += HW)
#pragma GCC unroll 4
        for (int r = 0; r < R; r++)
#pragma GCC unroll 14
            for (int p = 0; p < PX; p++)
                o[(size_t)r * OW + p] = acc[r * PX + p][l];
}

/* Bands lo..hi-1: (image, group, band row, band column). */
CC_VECTORISED static void forward_bands(void *arg, size_t lo, size_t hi)
{
    const job *j = arg;
    const cc_conv_dims *d = j->d;
    const band_shape *b = &j->band;
    const int PX = j->PX, R = j->R, OCG = d->OC / d->G, CG = d->C / d->G, KK = d->KH * d->KW;
    const size_t T = taps(d), HW = (size_t)d->OH * d->OW, chan = (size_t)b->Rq * b->Wq;
    const size_t rstep = (size_t)d->SH * b->Wq;  /* from one output row to the next */
    int off[MAX_KERNEL];
    for (int kh = 0; kh < d->KH; kh++)
        for (int kw = 0; kw < d->KW; kw++)
            off[kh * d->KW + kw] = kh * d->DH * b->Wq + kw * d->DW;
    cc_real band[BAND_FLOATS];
    for (size_t i = lo; i < hi; i++) {
        const int xband = (int)(i % (size_t)j->xbands), yband = (int)(i / (size_t)j->xbands % (size_t)j->ybands);
        const size_t ng = i / ((size_t)j->xbands * j->ybands);  /* n * G + g */
        const int g = (int)(ng % (size_t)d->G), n = (int)(ng / (size_t)d->G);
        const int boh = yband * b->YB * R, bow = xband * b->XB * PX;  /* the band's first output */
        fill_band(band, j->inp + ((size_t)n * d->C + (size_t)g * CG) * d->H * d->W, d, boh, bow, b);
        for (int yb = 0; yb < b->YB && boh + yb * R < d->OH; yb++)
            for (int xb = 0; xb < b->XB && bow + xb * PX < d->OW; xb++) {
                const int oh0 = boh + yb * R, ow0 = bow + xb * PX;
                const int rows = d->OH - oh0 < R ? d->OH - oh0 : R, cols = d->OW - ow0 < PX ? d->OW - ow0 : PX;
                const cc_real *src = band + (size_t)yb * R * rstep + (size_t)xb * PX * d->SW;
                for (int v = g * OCG / LANES; v < (g + 1) * OCG / LANES; v++) {
                    lanes acc[ACC];
                    lanes b0 = {0};
                    if (j->bias)
                        for (int o = 0; o < LANES; o++)
                            b0[o] = j->bias[v * LANES + o];
                    for (int k = 0; k < ACC; k++)
                        acc[k] = b0;
                    const lanes *w = j->packed + (size_t)v * T;
                    if (PX == 14 && d->SW == 1)
                        block(acc, src, w, off, CG, KK, chan, rstep, 14, 2, 1);
                    else if (PX == 14)
                        block(acc, src, w, off, CG, KK, chan, rstep, 14, 2, 2);
                    else if (d->SW == 1)
                        block(acc, src, w, off, CG, KK, chan, rstep, 7, 4, 1);
                    else
                        block(acc, src, w, off, CG, KK, chan, rstep, 7, 4, 2);
                    cc_real *o = j->out + ((size_t)n * d->OC + (size_t)v * LANES) * HW + (size_t)oh0 * d->OW + ow0;
                    if (rows == R && cols == PX && PX == 14)
                        store(o, acc, HW, d->OW, 14, 2);
                    else if (rows == R && cols == PX)
                        store(o, acc, HW, d->OW, 7, 4);
                    else
                        for (int l = 0; l < LANES; l++, o += HW)
                            for (int r = 0; r < rows; r++)
                                for (int p = 0; p < cols; p++)
                                    o[(size_t)r * d->OW + p] = acc[r * PX + p][l];
                }
            }
    }
}

/* out: N x OC x OH x OW; scratch: cc_conv2d_grouped_scratch(d) bytes. For
 * cc_conv2d_grouped_applies(d) shapes; the arithmetic holds on any CPU. */
void cc_conv2d_grouped_forward(cc_real *out, const cc_real *inp, const cc_real *weight,
                               const cc_real *bias, const cc_conv_dims *d, void *scratch)
{
    assert(shape_ok(d) && "grouped conv: shape not covered");
    const int PX = block_cols(d), R = ACC / PX;
    const band_shape b = band_of(d);
    job j = {.out = out, .inp = inp, .bias = bias, .packed = scratch, .weight = weight, .d = d, .band = b,
             .PX = PX, .R = R};
    j.ybands = ((d->OH + R - 1) / R + b.YB - 1) / b.YB;
    j.xbands = ((d->OW + PX - 1) / PX + b.XB - 1) / b.XB;
    const size_t T = taps(d);
    cc_parallel((size_t)d->OC / LANES, cc_grain(T * LANES, 16384), pack_weights, &j);
    const size_t bands = (size_t)d->N * d->G * j.ybands * j.xbands;
    const size_t per = (size_t)(d->OC / d->G) * T * ACC * b.YB * b.XB;  /* multiply-adds per band */
    cc_parallel(bands, cc_grain(per, 1 << 18), forward_bands, &j);
}
