/* layers/linear_gemm.c — torch.nn.Linear through cc_gemm; linear.c's
 * descriptor runs these, and tests/test_gemm_paths.c holds them to the scalar
 * reference cc_linear_forward/backward (layers/linear.c).
 *
 * As matrices (inp N x IN, weight OUT x IN, out N x OUT):
 *   out      = inp * weight^T + bias      (bias added to every row)
 *   dinp    += dout * weight
 *   dweight += dout^T * inp
 *   dbias   += sum over rows of dout
 * Batch 1 takes gemv (a matrix-vector product). The products sum in cc_real
 * (the reference sums in double): float results differ from the reference by
 * rounding.
 *
 * In the low-memory mode (pages.h), a weight of CC_PAGES_STREAM_BYTES or more
 * (VGG-16's classifier) is read in chunks of rows, each dropped from the
 * resident set once used (only pages of a mapped model file ever are), so
 * that a Grad-CAM never holds all of it at once (VGG-16's first one is
 * 392 MiB). */
#include "kernels.h"
#include "runtime/pages.h"

#include <string.h>

enum { CHUNK_BYTES = 8 << 20 };

/* gemm_avx512.c takes untransposed products with a multiple of 16 rows,
 * which OpenBLAS's kernels here run at a third of its speed (a ViT's linears
 * are 90% of its forward). So, given the scratch (cc_linear_gemm_scratch):
 *   forward  out^T = weight inp^T (OUT x N), the inputs and the result
 *            transposed in scratch: N (IN + OUT) moves for N IN OUT
 *            multiply-adds;
 *   dinp     dout * weight with its N rows padded with zero rows to a
 *            multiple of 16 in scratch.
 * Every sum still runs over k in order with fused multiply-adds. */
static int forward_transposed(int N, int IN, int OUT)
{
    return N > 1 && cc_gemm_avx512_applies(OUT, N, IN);
}

static int padded_rows(int N)
{
    return (N + 15) / 16 * 16;
}

static int backward_padded(int N, int IN, int OUT)
{
    return N > 1 && N % 16 && cc_gemm_avx512_applies(padded_rows(N), IN, OUT);
}

size_t cc_linear_gemm_scratch(int N, int IN, int OUT)
{
    size_t f = forward_transposed(N, IN, OUT) ? (size_t)N * ((size_t)IN + OUT) : 0;
    const size_t b = backward_padded(N, IN, OUT) ? (size_t)padded_rows(N) * ((size_t)IN + OUT) : 0;
    return (f > b ? f : b) * sizeof(cc_real);
}

static int streamed(int IN, int OUT)
{
    return cc_pages_streaming() && (size_t)IN * OUT * sizeof(cc_real) >= CC_PAGES_STREAM_BYTES;
}

/* Rows per chunk of a streamed weight: CHUNK_BYTES, at least one row. */
static int chunk_rows(int IN)
{
    const size_t rows = CHUNK_BYTES / ((size_t)IN * sizeof(cc_real));
    return rows ? (int)rows : 1;
}

/* cc_gemv over a streamed weight (OUT x IN), chunk by chunk: y[o..] =
 * W[o..] x + beta y[o..] (ta 0), or y += W[o..]^T x[o..] (ta 1). */
static void gemv_streamed(int ta, const cc_real *weight, int IN, int OUT, const cc_real *x, cc_real beta,
                          cc_real *y)
{
    for (int o = 0, rows = chunk_rows(IN); o < OUT; o += rows) {
        const int n = OUT - o < rows ? OUT - o : rows;
        const cc_real *w = weight + (size_t)o * IN;
        if (ta)
            cc_gemv(1, n, IN, 1, w, IN, x + o, 1, y);
        else
            cc_gemv(0, n, IN, 1, w, IN, x, beta, y + o);
        cc_pages_release(w, (size_t)n * IN * sizeof(cc_real));
    }
}

void cc_linear_gemm_forward(cc_real *out, const cc_real *inp, const cc_real *weight,
                            const cc_real *bias, int N, int IN, int OUT, void *scratch)
{
    if (scratch && forward_transposed(N, IN, OUT) && !streamed(IN, OUT)) {
        cc_real *xt = scratch, *yt = xt + (size_t)N * IN;
        cc_transpose(xt, inp, N, IN);
        for (int o = 0; bias && o < OUT; o++)
            for (int n = 0; n < N; n++)
                yt[(size_t)o * N + n] = bias[o];
        cc_gemm(0, 0, OUT, N, IN, 1, weight, IN, xt, N, bias ? 1 : 0, yt, N);
        cc_transpose(out, yt, OUT, N);
        return;
    }
    if (bias)  /* out = bias + ...: the product adds to it (beta = 1) */
        for (int n = 0; n < N; n++)
            for (int o = 0; o < OUT; o++)
                out[(size_t)n * OUT + o] = bias[o];
    if (N == 1 && streamed(IN, OUT))
        gemv_streamed(0, weight, IN, OUT, inp, bias ? 1 : 0, out);
    else if (N == 1)
        cc_gemv(0, OUT, IN, 1, weight, IN, inp, bias ? 1 : 0, out);
    else
        cc_gemm(0, 1, N, OUT, IN, 1, inp, IN, weight, IN, bias ? 1 : 0, out, OUT);
    if (N > 1 && streamed(IN, OUT))
        cc_pages_release(weight, (size_t)IN * OUT * sizeof(cc_real));
}

/* inp is read only for dweight (linear's descriptor saves it only then). */
void cc_linear_gemm_backward(cc_real *dinp, cc_real *dweight, cc_real *dbias, const cc_real *dout,
                             const cc_real *inp, const cc_real *weight, int N, int IN, int OUT, void *scratch)
{
    if (dinp && scratch && backward_padded(N, IN, OUT) && !streamed(IN, OUT)) {
        const int P = padded_rows(N);
        cc_real *dy = scratch, *dx = dy + (size_t)P * OUT;
        memcpy(dy, dout, (size_t)N * OUT * sizeof *dy);
        memset(dy + (size_t)N * OUT, 0, (size_t)(P - N) * OUT * sizeof *dy);
        cc_gemm(0, 0, P, IN, OUT, 1, dy, OUT, weight, IN, 0, dx, IN);
        for (size_t q = 0; q < (size_t)N * IN; q++)
            dinp[q] += dx[q];
        dinp = NULL;
    }
    if (dinp && N == 1 && streamed(IN, OUT))  /* from out = inp * weight^T, with respect to inp */
        gemv_streamed(1, weight, IN, OUT, dout, 1, dinp);
    else if (dinp && N == 1)
        cc_gemv(1, OUT, IN, 1, weight, IN, dout, 1, dinp);
    else if (dinp) {
        cc_gemm(0, 0, N, IN, OUT, 1, dout, OUT, weight, IN, 1, dinp, IN);
        if (streamed(IN, OUT))
            cc_pages_release(weight, (size_t)IN * OUT * sizeof(cc_real));
    }
    if (dweight)  /* the same product, with respect to weight */
        cc_gemm(1, 0, OUT, IN, N, 1, dout, OUT, inp, IN, 1, dweight, IN);
    if (dbias)  /* from out = bias + ... */
        for (int o = 0; o < OUT; o++) {
            double s = 0;
            for (int n = 0; n < N; n++)
                s += dout[(size_t)n * OUT + o];
            dbias[o] += (cc_real)s;
        }
}
