/* layers/conv2d_winograd.c — 3x3, stride 1, undilated, ungrouped conv2d by
 * Winograd's minimal filtering F(2x2, 3x3) (Lavin & Gray, arXiv 1509.09308).
 *
 * Each 2x2 block of outputs (a tile) of output channel k is
 *   Y = A^T [ sum_c (G g_kc G^T) .* (B^T d_c B) ] A
 * with g_kc the 3x3 filter, d_c the 4x4 input patch under the tile (rows
 * 2ty - PT .. +3, columns 2tx - PL .. +3, zero outside the input) and
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
 *   G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
 *   A^T = [1 1 1 0; 0 1 -1 -1].
 * The sum over c, for each of the 16 positions xi of the 4x4 transforms, is a
 * matrix product: M[xi] (OC x tiles) = U[xi] (OC x C) * V[xi] (C x tiles).
 * That is 16 products of OC*C*tiles where im2col does one of OC*9C*4*tiles:
 * 2.25 times fewer multiplications, for two transforms that cost memory
 * traffic, and a weight transform per call (U, 16*OC*C floats) that only pays
 * off when there are enough tiles (cc_conv2d_winograd_applies). Every
 * transform is split over the pool.
 *
 * The transforms add and subtract (B, A) or halve (G, exact): the result
 * equals the reference sum up to float rounding of a few more terms
 * (~1e-6 relative); tests/test_gemm_paths.c holds it to the reference. The
 * backward stays with the im2col path (conv2d_gemm.c). */
#include "kernels.h"

#include <assert.h>
#include <string.h>

enum { XI = 16, WBLOCK = 128 };  /* positions of a 4x4 transform; input channels per weight block */

/* Tiles per output row and column. */
static int tiles_w(const cc_conv_dims *d) { return (d->OW + 1) / 2; }
static int tiles_h(const cc_conv_dims *d) { return (d->OH + 1) / 2; }

/* Where it was measured faster than im2col + one GEMM (test_gemm_paths
 * --bench: 1.5-1.75x from 224x224 down to 28x28 maps, 1.1-1.5x at 14x14,
 * 0.6x at 7x7, where the 16 products of 16 columns and the per-call weight
 * transform cost more than they save), with enough channels that the
 * products are not tiny. */
int cc_conv2d_winograd_applies(const cc_conv_dims *d)
{
    return d->KH == 3 && d->KW == 3 && d->SH == 1 && d->SW == 1 && d->DH == 1 && d->DW == 1 &&
           d->G == 1 && d->C >= 16 && d->OC >= 16 &&
           (size_t)tiles_h(d) * tiles_w(d) >= 40;
}

/* Bytes of one row of tiles: V and M columns, for all 16 positions. */
static size_t tile_row_bytes(const cc_conv_dims *d)
{
    return (size_t)XI * (d->C + d->OC) * tiles_w(d) * sizeof(cc_real);
}

/* U, besides the tile rows. */
static size_t fixed_bytes(const cc_conv_dims *d)
{
    return ((size_t)XI * d->OC * d->C * sizeof(cc_real) + 63) / 64 * 64;
}

/* Tile rows per chunk: at least CHUNK_TILES columns in each product (each
 * product packs its U[xi] again, so fewer columns cost more per column). */
enum { CHUNK_TILES = 512 };
size_t cc_conv2d_winograd_scratch(const cc_conv_dims *d)
{
    size_t rows = (CHUNK_TILES + tiles_w(d) - 1) / tiles_w(d);
    rows = rows > (size_t)tiles_h(d) ? (size_t)tiles_h(d) : rows;
    return fixed_bytes(d) + rows * tile_row_bytes(d);
}

/* What the transforms of one call share; each is split over the pool. */
typedef struct {
    const cc_conv_dims *d;
    const cc_real *w, *x, *bias;
    cc_real *u, *v, *m, *y;
    int ty0, ty1;
} job;

/* U[xi][k][c] = (G g_kc G^T)[xi] for output channels lo..hi-1. Each output
 * channel's row of each U[xi] is written contiguously over c. */
/* Sixteen rows of U for one output channel: u[xi][c] = (G g_c G^T)[xi] for
 * n input channels whose filter taps are given by position: e[j][c] is tap j
 * of channel c. Unit stride over c and two local arrays (nothing may alias):
 * the loop vectorises. */
static inline void transform_filters(cc_real (*restrict u)[WBLOCK], const cc_real (*restrict e)[WBLOCK],
                                     int n)
{
    const cc_real h = (cc_real)0.5;
    for (int c = 0; c < n; c++) {
        const cc_real t00 = e[0][c], t01 = e[1][c], t02 = e[2][c];  /* rows of G g */
        const cc_real t10 = h * (e[0][c] + e[3][c] + e[6][c]), t11 = h * (e[1][c] + e[4][c] + e[7][c]),
                      t12 = h * (e[2][c] + e[5][c] + e[8][c]);
        const cc_real t20 = h * (e[0][c] - e[3][c] + e[6][c]), t21 = h * (e[1][c] - e[4][c] + e[7][c]),
                      t22 = h * (e[2][c] - e[5][c] + e[8][c]);
        const cc_real t30 = e[6][c], t31 = e[7][c], t32 = e[8][c];
        u[0][c] = t00;  /* (G g) G^T, row by row */
        u[1][c] = h * (t00 + t01 + t02);
        u[2][c] = h * (t00 - t01 + t02);
        u[3][c] = t02;
        u[4][c] = t10;
        u[5][c] = h * (t10 + t11 + t12);
        u[6][c] = h * (t10 - t11 + t12);
        u[7][c] = t12;
        u[8][c] = t20;
        u[9][c] = h * (t20 + t21 + t22);
        u[10][c] = h * (t20 - t21 + t22);
        u[11][c] = t22;
        u[12][c] = t30;
        u[13][c] = h * (t30 + t31 + t32);
        u[14][c] = h * (t30 - t31 + t32);
        u[15][c] = t32;
    }
}

/* U[xi][k][c] = (G g_kc G^T)[xi] for output channels lo..hi-1, WBLOCK input
 * channels at a time: their taps are first regrouped by position (the
 * filters are 9 floats apart), then transformed with unit stride. */
CC_VECTORISED static void transform_weights(void *arg, size_t lo, size_t hi)
{
    const job *jb = arg;
    const int C = jb->d->C;
    const size_t plane = (size_t)jb->d->OC * C;
    cc_real e[9][WBLOCK], ub[XI][WBLOCK];
    for (int k = (int)lo; k < (int)hi; k++)
        for (int c0 = 0; c0 < C; c0 += WBLOCK) {
            const int n = C - c0 < WBLOCK ? C - c0 : WBLOCK;
            const cc_real *g = jb->w + ((size_t)k * C + c0) * 9;
            for (int c = 0; c < n; c++)
                for (int j = 0; j < 9; j++)
                    e[j][c] = g[(size_t)c * 9 + j];
            transform_filters(ub, (const cc_real (*)[WBLOCK])e, n);
            for (int xi = 0; xi < XI; xi++)
                memcpy(jb->u + xi * plane + (size_t)k * C + c0, ub[xi], (size_t)n * sizeof(cc_real));
        }
}

/* V[xi][c][t] for the tile rows ty0..ty1-1 of one image and channels
 * lo..hi-1; t counts tiles from (ty0, 0). Tiles are taken SEG at a time: the
 * four input rows under them are copied into pad with the left/right padding
 * written as zeros, combined down the rows for all columns at once (B^T d),
 * then across each tile's four columns ((B^T d) B). */
enum { SEG = 256 };
CC_VECTORISED static void transform_input(void *arg, size_t lo, size_t hi)
{
    const job *jb = arg;
    const cc_conv_dims *d = jb->d;
    const int TW = tiles_w(d), T = (jb->ty1 - jb->ty0) * TW;
    const size_t plane = (size_t)d->C * T;
    cc_real pad[4][2 * SEG + 2];
    for (int c = (int)lo; c < (int)hi; c++) {
        const cc_real *xc = jb->x + (size_t)c * d->H * d->W;
        for (int ty = jb->ty0; ty < jb->ty1; ty++)
            for (int tx0 = 0; tx0 < TW; tx0 += SEG) {
                const int nt = TW - tx0 < SEG ? TW - tx0 : SEG, PW = 2 * nt + 2;
                /* pad[r][u] is input column 2*tx0 - PL + u of row 2*ty - PT + r, or 0 */
                const int col0 = 2 * tx0 - d->PL;
                const int u0 = col0 >= 0 ? 0 : -col0 < PW ? -col0 : PW;
                const int u1 = d->W - col0 < PW ? (d->W - col0 > u0 ? d->W - col0 : u0) : PW;
                for (int r = 0; r < 4; r++) {
                    cc_real *p = pad[r];
                    const int ih = 2 * ty - d->PT + r;
                    if (ih < 0 || ih >= d->H) {
                        memset(p, 0, (size_t)PW * sizeof *p);
                        continue;
                    }
                    memset(p, 0, (size_t)u0 * sizeof *p);
                    memcpy(p + u0, xc + (size_t)ih * d->W + col0 + u0, (size_t)(u1 - u0) * sizeof *p);
                    memset(p + u1, 0, (size_t)(PW - u1) * sizeof *p);
                }
                for (int u = 0; u < PW; u++) {  /* B^T d */
                    const cc_real d0 = pad[0][u], d1 = pad[1][u], d2 = pad[2][u], d3 = pad[3][u];
                    pad[0][u] = d0 - d2;
                    pad[1][u] = d1 + d2;
                    pad[2][u] = d2 - d1;
                    pad[3][u] = d1 - d3;
                }
                cc_real *vt = jb->v + (size_t)c * T + (size_t)(ty - jb->ty0) * TW + tx0;
                for (int i = 0; i < 4; i++) {  /* (B^T d) B */
                    const cc_real *e = pad[i];
                    cc_real *v0 = vt + (size_t)(4 * i) * plane, *v1 = v0 + plane, *v2 = v1 + plane,
                            *v3 = v2 + plane;
                    for (int t = 0; t < nt; t++) {
                        v0[t] = e[2 * t] - e[2 * t + 2];
                        v1[t] = e[2 * t + 1] + e[2 * t + 2];
                        v2[t] = e[2 * t + 2] - e[2 * t + 1];
                        v3[t] = e[2 * t + 1] - e[2 * t + 3];
                    }
                }
            }
    }
}

/* y (OC x OH x OW) rows 2*ty0 .. from M[xi][k][t]: A^T m A, plus bias, for
 * output channels lo..hi-1. */
CC_VECTORISED static void transform_output(void *arg, size_t lo, size_t hi)
{
    const job *jb = arg;
    const cc_conv_dims *d = jb->d;
    const int TW = tiles_w(d), ty0 = jb->ty0, ty1 = jb->ty1, T = (ty1 - ty0) * TW;
    const size_t plane = (size_t)d->OC * T;
    const cc_real *restrict m = jb->m, *bias = jb->bias;
    cc_real *restrict y = jb->y;
    for (int k = (int)lo; k < (int)hi; k++) {
        const cc_real b = bias ? bias[k] : 0;
        for (int ty = ty0; ty < ty1; ty++) {
            const cc_real *mk = m + (size_t)k * T + (size_t)(ty - ty0) * TW;
            cc_real *y0 = y + ((size_t)k * d->OH + 2 * ty) * d->OW;
            cc_real *y1 = 2 * ty + 1 < d->OH ? y0 + d->OW : NULL;
            for (int tx = 0; tx < TW; tx++) {
                cc_real e[XI];
                for (int xi = 0; xi < XI; xi++)
                    e[xi] = mk[(size_t)xi * plane + tx];
                cc_real r0[4], r1[4];  /* A^T m */
                for (int j = 0; j < 4; j++) {
                    r0[j] = e[j] + e[4 + j] + e[8 + j];
                    r1[j] = e[4 + j] - e[8 + j] - e[12 + j];
                }
                const int ox = 2 * tx, two = ox + 1 < d->OW;
                y0[ox] = b + (r0[0] + r0[1] + r0[2]);
                if (two)
                    y0[ox + 1] = b + (r0[1] - r0[2] - r0[3]);
                if (y1) {
                    y1[ox] = b + (r1[0] + r1[1] + r1[2]);
                    if (two)
                        y1[ox + 1] = b + (r1[1] - r1[2] - r1[3]);
                }
            }
        }
    }
}

/* M[xi] = U[xi] V[xi] for positions lo..hi-1. The 16 products go to the
 * threads whole (each cc_gemm inside runs on its caller's thread): fewer,
 * larger calls than splitting each product's columns, which scaled 1.3x on
 * two threads at 56x56 and 14x14. */
static void products(void *arg, size_t lo, size_t hi)
{
    const job *jb = arg;
    const cc_conv_dims *d = jb->d;
    const int T = (jb->ty1 - jb->ty0) * tiles_w(d);
    for (size_t xi = lo; xi < hi; xi++)
        cc_gemm(0, 0, d->OC, T, d->C, 1, jb->u + xi * d->OC * d->C, d->C, jb->v + xi * d->C * T, T, 0,
                jb->m + xi * d->OC * T, T);
}

/* out: N x OC x OH x OW, inp: N x C x H x W, weight: OC x C x 3 x 3, bias: OC
 * or NULL; for cc_conv2d_winograd_applies(d) shapes (the arithmetic holds for
 * any 3x3 stride-1 undilated ungrouped conv). scratch_bytes: U and at least
 * one row of tiles; chunks of tile rows fill the rest. */
size_t cc_conv2d_winograd_u_bytes(const cc_conv_dims *d)
{
    return (size_t)XI * d->OC * d->C * sizeof(cc_real);
}

void cc_conv2d_winograd_transform(cc_real *u, const cc_real *weight, const cc_conv_dims *d)
{
    job j = {.d = d, .w = weight, .u = u};
    /* about 25 operations per (k, c) pair and per channel-tile: grains of ~64K */
    cc_parallel((size_t)d->OC, 65536 / (25 * (size_t)d->C) + 1, transform_weights, &j);
}

void cc_conv2d_winograd_forward(cc_real *out, const cc_real *inp, const cc_real *weight,
                                const cc_real *bias, const cc_conv_dims *d, void *scratch,
                                size_t scratch_bytes, const cc_real *u)
{
    assert(d->KH == 3 && d->KW == 3 && d->SH == 1 && d->SW == 1 && d->DH == 1 && d->DW == 1 &&
           d->G == 1);
    const size_t fixed = fixed_bytes(d);
    assert(scratch && scratch_bytes >= fixed + tile_row_bytes(d) && "winograd: too little scratch");
    const int TW = tiles_w(d), TH = tiles_h(d);
    size_t rows = (scratch_bytes - fixed) / tile_row_bytes(d);
    rows = rows > (size_t)TH ? (size_t)TH : rows;
    job j = {.d = d, .w = weight, .bias = bias, .u = u ? (cc_real *)u : scratch};
    j.v = (cc_real *)((unsigned char *)scratch + fixed);
    j.m = j.v + (size_t)XI * d->C * rows * TW;
    if (!u)
        cc_conv2d_winograd_transform(j.u, weight, d);
    for (int n = 0; n < d->N; n++) {
        j.x = inp + (size_t)n * d->C * d->H * d->W;
        j.y = out + (size_t)n * d->OC * d->OH * d->OW;
        for (int ty0 = 0; ty0 < TH; ty0 += (int)rows) {
            j.ty0 = ty0;
            j.ty1 = ty0 + (int)rows < TH ? ty0 + (int)rows : TH;
            const int T = (j.ty1 - ty0) * TW;
            cc_parallel((size_t)d->C, 65536 / (25 * (size_t)T) + 1, transform_input, &j);
            cc_parallel(XI, 1, products, &j);
            cc_parallel((size_t)d->OC, 65536 / (25 * (size_t)T) + 1, transform_output, &j);
        }
    }
}
