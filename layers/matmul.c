/* layers/matmul.c — torch.matmul of two tensors with equal leading dims,
 * scaled: out = alpha * A B   (attention's q k^T * scale, then attn v)
 *
 * A is [..., M, K]; B is [..., K, N], or [..., N, K] when attr trans_b = 1
 * (B^T is used: q @ k.transpose(-2, -1) without a transpose copy); out is
 * [..., M, N]. The leading dims (batch first, e.g. B x heads, B*windows x
 * heads) must be equal: no broadcasting. For each leading index b,
 *   out[b,m,n] = alpha sum_k A[b,m,k] B[b,k,n]        (B[b,n,k] with trans_b)
 * Bilinear, so with dY = dout:
 *   dA[b] += alpha dY[b] B[b]^T    (alpha dY[b] B[b] with trans_b)
 *   dB[b] += alpha A[b]^T dY[b]    (alpha dY[b]^T A[b] with trans_b)
 * The backward reads both inputs (dA needs B, dB needs A).
 *
 * cc_matmul_ref_* are the scalar reference (plain loops, double sums);
 * the descriptor runs cc_matmul_forward/backward, one cc_gemm per leading
 * index (float sums, so the two differ by rounding; tests/test_matmul.c
 * holds one to the other). An attention product is small (ViT-B: 197x64 by
 * 64x197, 2.5M multiply-adds; Swin-T: 49x32 by 32x49, 77K), below what
 * cc_gemm splits over threads, and there are many (12 heads; B*64 windows x
 * 3 heads): the batch of products is split over the pool, each product one
 * single-threaded call (cc_gemm_serial). A batch too short to give every
 * thread a product runs product by product through cc_gemm, which splits
 * each one. */
#include "kernels.h"

void cc_matmul_ref_forward(cc_real *out, const cc_real *A, const cc_real *B, const cc_matmul_dims *d)
{
    for (int b = 0; b < d->batch; b++) {
        const cc_real *a = A + (size_t)b * d->M * d->K, *bm = B + (size_t)b * d->K * d->N;
        cc_real *y = out + (size_t)b * d->M * d->N;
        for (int m = 0; m < d->M; m++)
            for (int n = 0; n < d->N; n++) {
                double acc = 0;
                for (int k = 0; k < d->K; k++)
                    acc += (double)a[(size_t)m * d->K + k] *
                           (d->trans_b ? bm[(size_t)n * d->K + k] : bm[(size_t)k * d->N + n]);
                y[(size_t)m * d->N + n] = (cc_real)(d->alpha * acc);
            }
    }
}

void cc_matmul_ref_backward(cc_real *dA, cc_real *dB, const cc_real *dout, const cc_real *A, const cc_real *B,
                            const cc_matmul_dims *d)
{
    const int M = d->M, N = d->N, K = d->K;
    for (int b = 0; b < d->batch; b++) {
        const cc_real *a = A + (size_t)b * M * K, *bm = B + (size_t)b * K * N, *dy = dout + (size_t)b * M * N;
        if (dA)  /* d/dA[m,k] of alpha A[m,k] B[k,n] */
            for (int m = 0; m < M; m++)
                for (int k = 0; k < K; k++) {
                    double acc = 0;
                    for (int n = 0; n < N; n++)
                        acc += (double)dy[(size_t)m * N + n] *
                               (d->trans_b ? bm[(size_t)n * K + k] : bm[(size_t)k * N + n]);
                    dA[(size_t)b * M * K + (size_t)m * K + k] += (cc_real)(d->alpha * acc);
                }
        if (dB)  /* the same product, with respect to B[k,n] (stored at [n,k] with trans_b) */
            for (int k = 0; k < K; k++)
                for (int n = 0; n < N; n++) {
                    double acc = 0;
                    for (int m = 0; m < M; m++)
                        acc += (double)a[(size_t)m * K + k] * dy[(size_t)m * N + n];
                    dB[(size_t)b * K * N + (d->trans_b ? (size_t)n * K + k : (size_t)k * N + n)] +=
                        (cc_real)(d->alpha * acc);
                }
    }
}

/* Fewest multiply-adds per range of the batch split: waking a worker for
 * less costs more than it saves. */
enum { MIN_MACS = 1 << 18 };

typedef struct {
    const cc_matmul_dims *d;
    cc_real *out, *dA, *dB;
    const cc_real *A, *B, *dout;
    int serial;  /* 1: each product on one thread (cc_gemm_serial); 0: cc_gemm splits it */
} job;

typedef void (*gemm_fn)(int ta, int tb, int M, int N, int K, cc_real alpha, const cc_real *A, int lda,
                        const cc_real *B, int ldb, cc_real beta, cc_real *C, int ldc);

/* Products lo..hi-1 of the forward. */
static void forward_range(void *arg, size_t lo, size_t hi)
{
    const job *j = arg;
    const cc_matmul_dims *d = j->d;
    const gemm_fn gemm = j->serial ? cc_gemm_serial : cc_gemm;
    const int M = d->M, N = d->N, K = d->K, tb = d->trans_b;
    for (size_t b = lo; b < hi; b++)
        gemm(0, tb, M, N, K, (cc_real)d->alpha, j->A + b * M * K, K, j->B + b * K * N, tb ? K : N, 0,
             j->out + b * M * N, N);
}

/* Products lo..hi-1 of the backward: each leading index writes its own dA[b], dB[b]. */
static void backward_range(void *arg, size_t lo, size_t hi)
{
    const job *j = arg;
    const cc_matmul_dims *d = j->d;
    const gemm_fn gemm = j->serial ? cc_gemm_serial : cc_gemm;
    const int M = d->M, N = d->N, K = d->K, tb = d->trans_b;
    const cc_real alpha = (cc_real)d->alpha;
    for (size_t b = lo; b < hi; b++) {
        const cc_real *a = j->A + b * M * K, *bm = j->B + b * K * N, *dy = j->dout + b * M * N;
        if (j->dA)  /* dA = alpha dY B^T, or alpha dY B when B is stored N x K */
            gemm(0, !tb, M, K, N, alpha, dy, N, bm, tb ? K : N, 1, j->dA + b * M * K, K);
        if (j->dB && tb)  /* dB (N x K) = alpha dY^T A */
            gemm(1, 0, N, K, M, alpha, dy, N, a, K, 1, j->dB + b * K * N, K);
        else if (j->dB)  /* dB (K x N) = alpha A^T dY */
            gemm(1, 0, K, N, M, alpha, a, K, dy, N, 1, j->dB + b * K * N, N);
    }
}

/* Over the batch on the pool when every thread gets a product, else product
 * by product with cc_gemm splitting each. */
static void run(job *j, cc_range_fn fn)
{
    const cc_matmul_dims *d = j->d;
    const size_t macs = (size_t)d->M * d->N * d->K, batch = (size_t)d->batch;
    const size_t threads = (size_t)cc_parallel_threads();
    j->serial = threads > 1 && batch >= threads;
    if (j->serial)
        cc_parallel(batch, cc_grain(macs, MIN_MACS), fn, j);
    else
        fn(j, 0, batch);
}

void cc_matmul_forward(cc_real *out, const cc_real *A, const cc_real *B, const cc_matmul_dims *d)
{
    job j = {.d = d, .out = out, .A = A, .B = B};
    run(&j, forward_range);
}

void cc_matmul_backward(cc_real *dA, cc_real *dB, const cc_real *dout, const cc_real *A, const cc_real *B,
                        const cc_matmul_dims *d)
{
    if (!dA && !dB)
        return;
    job j = {.d = d, .dA = dA, .dB = dB, .A = A, .B = B, .dout = dout};
    run(&j, backward_range);
}

static cc_status infer(const cc_attrs *attrs, const cc_shape *in, int nin, const cc_shape *param,
                       const int *has_param, cc_shape *out, cc_error *err)
{
    (void)param, (void)has_param;
    char a[64], b[64];
    if (nin != 2)
        return cc_fail(err, CC_EINVAL, "matmul takes 2 inputs, got %d", nin);
    const cc_shape *x = &in[0], *y = &in[1];
    const int r = x->rank;
    if (r < 3 || y->rank != r)
        return cc_fail(err, CC_EINVAL, "matmul needs two inputs of the same rank, 3 to %d (batch, ..., rows, "
                       "columns), got %s and %s", CC_MAX_RANK, cc_shape_str(x, a, sizeof a),
                       cc_shape_str(y, b, sizeof b));
    if (attrs->trans_b != 0 && attrs->trans_b != 1)
        return cc_fail(err, CC_EINVAL, "matmul trans_b=%d must be 0 or 1", attrs->trans_b);
    for (int i = 0; i < r - 2; i++)
        if (x->d[i] != y->d[i])
            return cc_fail(err, CC_EINVAL, "matmul inputs %s and %s differ in leading dim %d (%d vs %d); "
                           "they must be equal (no broadcasting)", cc_shape_str(x, a, sizeof a),
                           cc_shape_str(y, b, sizeof b), i, x->d[i], y->d[i]);
    const int K = x->d[r - 1], KB = y->d[attrs->trans_b ? r - 1 : r - 2];
    if (K != KB)
        return cc_fail(err, CC_EINVAL, "matmul inner sizes differ: %s has %d columns, %s (trans_b=%d) has %d %s",
                       cc_shape_str(x, a, sizeof a), K, cc_shape_str(y, b, sizeof b), attrs->trans_b, KB,
                       attrs->trans_b ? "columns" : "rows");
    if (!(attrs->alpha == attrs->alpha))
        return cc_fail(err, CC_EINVAL, "matmul alpha is NaN");
    *out = *x;
    out->d[r - 1] = y->d[attrs->trans_b ? r - 2 : r - 1];
    if (cc_shape_numel(out) > CC_MAX_NUMEL)
        return cc_fail(err, CC_EINVAL, "matmul output %s has more than %zu elements",
                       cc_shape_str(out, a, sizeof a), (size_t)CC_MAX_NUMEL);
    return CC_OK;
}

cc_matmul_dims cc_matmul_dims_of(const cc_attrs *attrs, const cc_shape *a, const cc_shape *out)
{
    const int r = a->rank;
    cc_matmul_dims d = {.batch = (int)(cc_shape_numel(a) / ((size_t)a->d[r - 2] * a->d[r - 1])),
                        .M = a->d[r - 2], .K = a->d[r - 1], .N = out->d[r - 1],
                        .trans_b = attrs->trans_b, .alpha = attrs->alpha};
    return d;
}

static void forward(const cc_op_args *a)
{
    const cc_matmul_dims d = cc_matmul_dims_of(a->attrs, &a->in_shape[0], &a->out_shape);
    cc_matmul_forward(a->out, a->in[0], a->in[1], &d);
}

static void backward(const cc_op_args *a)
{
    const cc_matmul_dims d = cc_matmul_dims_of(a->attrs, &a->in_shape[0], &a->out_shape);
    cc_matmul_backward(a->din[0], a->din[1], a->dout, a->in[0], a->in[1], &d);
}

const cc_op cc_op_matmul = {
    .name = "matmul", .min_inputs = 2, .max_inputs = 2,
    .saves_for_dinput = CC_SAVES_INPUTS,
    .infer = infer, .forward = forward, .backward = backward,
};
