/* layers/conv2d_depthwise_avx512.c — the depthwise forward (conv2d_depthwise.c's
 * map) in AVX-512, for stride 1 or 2 and equal strides and dilations on both
 * axes with output rows of at most 128 pixels: every depthwise conv of
 * MobileNetV3 and EfficientNet at 224 x 224.
 *
 * Why: the portable path adds each tap into the output in memory, one pass
 * per tap, and its per-plane set-up dominates the small planes of late
 * layers (7 x 7 and 14 x 14): MobileNetV3-Large's depthwise convs took 3.9 ms
 * of a 12 ms forward where ONNX Runtime's took 1.0.
 *
 * How: a band of input rows of one plane is copied, zero-padded, into S
 * column-phase rows (P_b[r][c] = inp[r - PT][S*c + b - PL]), so that tap
 * (kh, kw) of output row oh reads P_b[oh*S + kh*L][ow + (kw*L)/S] with
 * b = (kw*L) % S: one unaligned vector load per 16 outputs, whatever the
 * stride. Whole output rows (up to 8 vectors; of narrow rows, up to 8 rows)
 * stay in registers while every tap is multiply-added into them, so that
 * enough independent chains hide the multiply-add's latency (one 7-pixel row
 * of 25 taps alone waited ~100 cycles): bias first, then the taps in (kh, kw)
 * order, each a fused multiply-add, so each output is the reference's sum up
 * to rounding (tests/test_conv_paths.c). Planes are split over the pool.
 * Maps of at most 14 columns go 16 channels to a vector (below). */
#include "kernels.h"
#include "runtime/parallel.h"

#if defined(__GNUC__) && defined(__x86_64__) && !defined(CC_REAL_DOUBLE)

#include <immintrin.h>

#include "avx512_transpose.h"

#define AVX512 __attribute__((target("avx512f")))

enum {
    MAXV = 8,             /* vectors of one output row: 128 pixels */
    MAXK = 16,            /* kernel columns */
    BAND_FLOATS = 12288,  /* phase rows of a band, on the stack: 48 KiB */
};

/* Phase-row width: the last tap's offset past a whole number of vectors,
 * rounded up to whole vectors. */
static int row_width(const cc_conv_dims *d)
{
    return ((d->OW + 15) / 16 * 16 + (d->KW - 1) * d->DW / d->SW + 15) / 16 * 16;
}

/* Padded input rows under R output rows. */
static int band_in_rows(const cc_conv_dims *d, int R)
{
    return (R - 1) * d->SH + (d->KH - 1) * d->DH + 1;
}

static int band_rows(const cc_conv_dims *d)
{
    int R = d->OH;
    while (R > 1 && (size_t)d->SW * band_in_rows(d, R) * row_width(d) > BAND_FLOATS)
        R--;
    return R;
}

int cc_conv2d_depthwise_avx512_applies(const cc_conv_dims *d)
{
    return cc_cpu_avx512() && d->SH == d->SW && d->SH <= 2 && d->DH == d->DW && d->OW <= 16 * MAXV && d->KW <= MAXK &&
           (size_t)d->SW * band_in_rows(d, 1) * row_width(d) <= BAND_FLOATS;
}

/* Lanes lo..hi-1 of a vector (none when lo >= hi). */
static inline __mmask16 lanes(int lo, int hi)
{
    lo = lo < 0 ? 0 : lo, hi = hi > 16 ? 16 : hi;
    return lo >= hi ? 0 : (__mmask16)((0xffffu >> (16 - (hi - lo))) << lo);
}

/* x[i0 + lane] for the lanes where 0 <= i0 + lane < n, zeros elsewhere.
 * A vector that starts before x is loaded from x and moved up by -i0 lanes,
 * so no address before x is formed (an expand-load would do it in one
 * instruction, but its memory form took most of a 7 x 7 plane's time). */
AVX512 static inline __m512 load_row(const float *x, int i0, int n)
{
    if (i0 >= n)
        return _mm512_setzero_ps();
    if (i0 >= 0)
        return i0 + 16 <= n ? _mm512_loadu_ps(x + i0) : _mm512_maskz_loadu_ps(lanes(0, n - i0), x + i0);
    const __m512 v = _mm512_maskz_loadu_ps(lanes(0, n), x);
    const __m512i up = _mm512_sub_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                        _mm512_set1_epi32(-i0));
    return _mm512_maskz_permutexvar_ps(lanes(-i0, 16), up, v);
}

/* Phase rows of padded rows oh0*S .. oh0*S + rin - 1 of plane x: row c of
 * phase b holds input column S*c + b - PL (zero outside). Stride 2 takes the
 * even lanes of 32 consecutive columns. Wq is a whole number of vectors. */
AVX512 static void fill_band(float *band, const float *x, const cc_conv_dims *d, int oh0, int rin, int Wq)
{
    const int S = d->SW;
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    for (int b = 0; b < S; b++)
        for (int r = 0; r < rin; r++) {
            float *row = band + ((size_t)b * rin + r) * Wq;
            const int ih = oh0 * S + r - d->PT;
            if (ih < 0 || ih >= d->H) {
                for (int c = 0; c < Wq; c += 16)
                    _mm512_store_ps(row + c, _mm512_setzero_ps());
                continue;
            }
            const float *xr = x + (size_t)ih * d->W;
            for (int c = 0; c < Wq; c += 16) {
                const int i0 = S * c + b - d->PL;
                const __m512 v = S == 1 ? load_row(xr, i0, d->W)
                                        : _mm512_permutex2var_ps(load_row(xr, i0, d->W), even,
                                                                 load_row(xr, i0 + 16, d->W));
                _mm512_store_ps(row + c, v);
            }
        }
}

/* RB output rows from row r of the band, NV vectors each: RB * NV
 * independent chains of multiply-adds (one chain waits 4 cycles per tap). */
AVX512 static inline __attribute__((always_inline)) void rows_block(float *o, const float *band, const float *w,
                                                                float bias, const cc_conv_dims *d,
                                                                const size_t *at, int r, int Wq, int NV, int RB)
{
    const int S = d->SW, L = d->DW;
    const __mmask16 last = (__mmask16)(0xffffu >> (16 * NV - d->OW));
    __m512 acc[8][MAXV];
    for (int i = 0; i < RB; i++)
        for (int v = 0; v < NV; v++)
            acc[i][v] = _mm512_set1_ps(bias);
    for (int kh = 0; kh < d->KH; kh++)
        for (int kw = 0; kw < d->KW; kw++) {
            const __m512 wv = _mm512_set1_ps(w[kh * d->KW + kw]);
            for (int i = 0; i < RB; i++) {
                const float *p = band + (size_t)((r + i) * S + kh * L) * Wq + at[kw];
                for (int v = 0; v < NV; v++)
                    acc[i][v] = _mm512_fmadd_ps(_mm512_loadu_ps(p + 16 * v), wv, acc[i][v]);
            }
        }
    for (int i = 0; i < RB; i++) {
        float *orow = o + (size_t)i * d->OW;
        for (int v = 0; v < NV - 1; v++)
            _mm512_storeu_ps(orow + 16 * v, acc[i][v]);
        _mm512_mask_storeu_ps(orow + 16 * (NV - 1), last, acc[i][NV - 1]);
    }
}

/* Output rows oh0 .. oh0 + rows - 1 from the band: blocks of RB rows, then
 * the rest as one block. */
AVX512 static inline __attribute__((always_inline)) void band_rows_nv(float *o, const float *band, const float *w,
                                                                  float bias, const cc_conv_dims *d, int oh0,
                                                                  int rows, int rin, int Wq, int NV)
{
    const int RB = NV == 1 ? 8 : NV == 2 ? 4 : NV <= 4 ? 2 : 1;
    size_t at[MAXK];   /* where tap kw of a row starts: its phase row and offset (no division per tap) */
    for (int kw = 0; kw < d->KW; kw++)
        at[kw] = (size_t)(kw * d->DW % d->SW) * rin * Wq + kw * d->DW / d->SW;
    int r = 0;
    for (; r + RB <= rows; r += RB)
        rows_block(o + (size_t)(oh0 + r) * d->OW, band, w, bias, d, at, r, Wq, NV, RB);
    float *rest = o + (size_t)(oh0 + r) * d->OW;
    switch (rows - r) {   /* fewer than RB left: one block of them (a 7 x 7 map is one block of 7) */
    case 7: rows_block(rest, band, w, bias, d, at, r, Wq, NV, 7); break;
    case 6: rows_block(rest, band, w, bias, d, at, r, Wq, NV, 6); break;
    case 5: rows_block(rest, band, w, bias, d, at, r, Wq, NV, 5); break;
    case 4: rows_block(rest, band, w, bias, d, at, r, Wq, NV, 4); break;
    case 3: rows_block(rest, band, w, bias, d, at, r, Wq, NV, 3); break;
    case 2: rows_block(rest, band, w, bias, d, at, r, Wq, NV, 2); break;
    case 1: rows_block(rest, band, w, bias, d, at, r, Wq, NV, 1); break;
    default: break;
    }
}

AVX512 static void band_out(float *o, const float *band, const float *w, float bias, const cc_conv_dims *d, int oh0,
                            int rows, int rin, int Wq)
{
    switch ((d->OW + 15) / 16) {
    case 1: band_rows_nv(o, band, w, bias, d, oh0, rows, rin, Wq, 1); break;
    case 2: band_rows_nv(o, band, w, bias, d, oh0, rows, rin, Wq, 2); break;
    case 3: band_rows_nv(o, band, w, bias, d, oh0, rows, rin, Wq, 3); break;
    case 4: band_rows_nv(o, band, w, bias, d, oh0, rows, rin, Wq, 4); break;
    case 5: band_rows_nv(o, band, w, bias, d, oh0, rows, rin, Wq, 5); break;
    case 6: band_rows_nv(o, band, w, bias, d, oh0, rows, rin, Wq, 6); break;
    case 7: band_rows_nv(o, band, w, bias, d, oh0, rows, rin, Wq, 7); break;
    default: band_rows_nv(o, band, w, bias, d, oh0, rows, rin, Wq, 8); break;
    }
}

typedef struct {
    float *out;
    const float *inp, *weight, *bias;
    const cc_conv_dims *d;
    const cc_epilogue *ep;
} planes;

AVX512 static void forward_planes(void *arg, size_t lo, size_t hi)
{
    const planes *p = arg;
    const cc_conv_dims *d = p->d;
    const int Wq = row_width(d), R = band_rows(d);
    float band[BAND_FLOATS] __attribute__((aligned(64)));
    for (size_t nc = lo; nc < hi; nc++) {
        const int c = (int)(nc % (size_t)d->C);
        const float *x = p->inp + nc * (size_t)d->H * d->W, *w = p->weight + (size_t)c * d->KH * d->KW;
        float *o = p->out + nc * (size_t)d->OH * d->OW;
        const float bias = p->bias ? p->bias[c] : 0;
        for (int oh0 = 0; oh0 < d->OH; oh0 += R) {
            const int rows = d->OH - oh0 < R ? d->OH - oh0 : R, rin = band_in_rows(d, rows);
            fill_band(band, x, d, oh0, rin, Wq);
            band_out(o, band, w, bias, d, oh0, rows, rin, Wq);
        }
        cc_epilogue_apply(p->ep, o, c, (size_t)d->OH * d->OW);
    }
}

/* ---- channel blocks: maps of at most 14 columns --------------------------
 * A row of 7 or 14 outputs fills 7/16 or 14/16 of a vector, and the band's
 * per-plane set-up costs more than its taps (MobileNetV3's 7 x 7 planes:
 * 0.24 us each where ONNX Runtime, channels in vectors, takes 0.04). So 16
 * channels go in a vector instead: their planes are transposed, 16 pixels at
 * a time, into a zero-padded block T[row][col][channel]; each output pixel
 * of the 16 channels is then bias + its taps in (kh, kw) order, fused
 * multiply-adds as above (the same floats as the rows path), G pixels of a
 * row side by side; the outputs are transposed back into their planes and
 * the epilogue runs on each plane. */

enum {
    BLOCK_FLOATS = 16384,   /* the padded input block, on the stack: 64 KB */
    OUT_FLOATS = 14 * 14 * 16,
    MAXTAPS = 64,
    G = 7,                  /* output pixels of a row side by side */
};

static int block_rows(const cc_conv_dims *d)
{
    return (d->OH - 1) * d->SH + (d->KH - 1) * d->DH + 1;
}

static int block_cols(const cc_conv_dims *d)
{
    return (d->OW - 1) * d->SW + (d->KW - 1) * d->DW + 1;
}

static int blocked(const cc_conv_dims *d)
{
    return d->OW <= 14 && d->OH * d->OW * 16 <= OUT_FLOATS && d->KH * d->KW <= MAXTAPS &&
           (size_t)block_rows(d) * block_cols(d) * 16 <= BLOCK_FLOATS;
}

/* Channels c0 .. c0 + nch - 1 of image n into T: pixel (ih, iw) of the input
 * at T[(ih + PT) * Tw + iw + PL], zeros where a tap reads padding. */
AVX512 static void fill_block(float *T, const float *inp, const cc_conv_dims *d, int nch)
{
    const int Th = block_rows(d), Tw = block_cols(d), HW = d->H * d->W;
    for (int i = 0; i < Th * Tw; i++)
        _mm512_store_ps(T + 16 * (size_t)i, _mm512_setzero_ps());
    __m512 r[16];
    int ih = 0, iw = 0;   /* of pixel p0 */
    for (int p0 = 0; p0 < HW; p0 += 16) {
        const __mmask16 m = lanes(0, HW - p0);
        for (int c = 0; c < 16; c++)
            r[c] = c < nch ? _mm512_maskz_loadu_ps(m, inp + (size_t)c * HW + p0) : _mm512_setzero_ps();
        cc_transpose16(r);
        for (int j = 0; j < 16 && p0 + j < HW; j++) {
            const int th = ih + d->PT, tw = iw + d->PL;
            if (th < Th && tw < Tw)   /* input past the last window is never read */
                _mm512_store_ps(T + 16 * ((size_t)th * Tw + tw), r[j]);
            if (++iw == d->W)
                iw = 0, ih++;
        }
    }
}

/* Output row oh, pixels ow0 .. ow0 + NP - 1, of the 16 channels into O. */
AVX512 static inline __attribute__((always_inline)) void block_pixels(float *O, const float *T, const float *wt,
                                                                   __m512 bias, const cc_conv_dims *d, int oh,
                                                                   int ow0, int NP)
{
    const int Tw = block_cols(d);
    __m512 acc[G];
    for (int g = 0; g < NP; g++)
        acc[g] = bias;
    for (int kh = 0; kh < d->KH; kh++) {
        const float *row = T + 16 * (size_t)(oh * d->SH + kh * d->DH) * Tw;
        for (int kw = 0; kw < d->KW; kw++) {
            const __m512 wv = _mm512_load_ps(wt + 16 * (kh * d->KW + kw));
            const float *p = row + 16 * (size_t)(ow0 * d->SW + kw * d->DW);
            for (int g = 0; g < NP; g++)
                acc[g] = _mm512_fmadd_ps(_mm512_load_ps(p + 16 * (size_t)g * d->SW), wv, acc[g]);
        }
    }
    for (int g = 0; g < NP; g++)
        _mm512_store_ps(O + 16 * (size_t)(oh * d->OW + ow0 + g), acc[g]);
}

AVX512 static void block_out(float *O, const float *T, const float *wt, __m512 bias, const cc_conv_dims *d)
{
    for (int oh = 0; oh < d->OH; oh++)
        for (int ow0 = 0; ow0 < d->OW; ow0 += G) {
            switch (d->OW - ow0 < G ? d->OW - ow0 : G) {
            case 7: block_pixels(O, T, wt, bias, d, oh, ow0, 7); break;
            case 6: block_pixels(O, T, wt, bias, d, oh, ow0, 6); break;
            case 5: block_pixels(O, T, wt, bias, d, oh, ow0, 5); break;
            case 4: block_pixels(O, T, wt, bias, d, oh, ow0, 4); break;
            case 3: block_pixels(O, T, wt, bias, d, oh, ow0, 3); break;
            case 2: block_pixels(O, T, wt, bias, d, oh, ow0, 2); break;
            default: block_pixels(O, T, wt, bias, d, oh, ow0, 1); break;
            }
        }
}

/* Blocks of 16 channels lo..hi-1 (image n's block b is n * blocks + b). */
AVX512 static void forward_blocks(void *arg, size_t lo, size_t hi)
{
    const planes *p = arg;
    const cc_conv_dims *d = p->d;
    const int blocks = (d->C + 15) / 16, taps = d->KH * d->KW, P = d->OH * d->OW;
    float T[BLOCK_FLOATS] __attribute__((aligned(64)));
    float O[OUT_FLOATS] __attribute__((aligned(64)));
    float wt[MAXTAPS * 16] __attribute__((aligned(64)));
    for (size_t u = lo; u < hi; u++) {
        const int n = (int)(u / (size_t)blocks), c0 = (int)(u % (size_t)blocks) * 16;
        const int nch = d->C - c0 < 16 ? d->C - c0 : 16;
        float b[16];
        for (int c = 0; c < 16; c++) {
            b[c] = c < nch && p->bias ? p->bias[c0 + c] : 0;
            for (int t = 0; t < taps; t++)
                wt[16 * t + c] = c < nch ? p->weight[(size_t)(c0 + c) * taps + t] : 0;
        }
        fill_block(T, p->inp + ((size_t)n * d->C + c0) * d->H * d->W, d, nch);
        block_out(O, T, wt, _mm512_loadu_ps(b), d);
        float *out = p->out + ((size_t)n * d->C + c0) * P;
        __m512 r[16];
        for (int p0 = 0; p0 < P; p0 += 16) {
            for (int j = 0; j < 16; j++)
                r[j] = p0 + j < P ? _mm512_load_ps(O + 16 * (size_t)(p0 + j)) : _mm512_setzero_ps();
            cc_transpose16(r);
            for (int c = 0; c < nch; c++)
                _mm512_mask_storeu_ps(out + (size_t)c * P + p0, lanes(0, P - p0), r[c]);
        }
        for (int c = 0; c < nch; c++)
            cc_epilogue_apply(p->ep, out + (size_t)c * P, c0 + c, (size_t)P);
    }
}

void cc_conv2d_depthwise_avx512_forward(float *out, const float *inp, const float *weight, const float *bias,
                                        const cc_conv_dims *d, const cc_epilogue *ep)
{
    const planes p = {out, inp, weight, bias, d, ep};
    const size_t per = (size_t)d->OH * d->OW * d->KH * d->KW;  /* multiply-adds per plane */
    if (blocked(d))
        cc_parallel((size_t)d->N * ((d->C + 15) / 16), cc_grain(16 * per, 65536), forward_blocks, (void *)&p);
    else
        cc_parallel((size_t)d->N * d->C, cc_grain(per, 65536), forward_planes, (void *)&p);
}

#else

int cc_conv2d_depthwise_avx512_applies(const cc_conv_dims *d)
{
    (void)d;
    return 0;
}

#endif
