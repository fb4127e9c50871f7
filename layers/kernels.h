/* layers/kernels.h — every kernel the ops are made of, as plain functions.
 *
 * Conventions: NCHW row-major; sizes are ints (shape inference bounds every
 * tensor by CC_MAX_NUMEL); a backward ACCUMULATES (+=) into each d<name> and
 * skips a NULL one; nothing allocates. Each reference kernel lives in
 * layers/<op>.c beside its descriptor; a faster path for the same map lives in
 * layers/<op>_<how>.c and is tested against the reference. */
#ifndef CC_KERNELS_H
#define CC_KERNELS_H

#include "op.h"
#include "runtime/parallel.h"

/* Hot loops are compiled for AVX2 and AVX-512 as well as the baseline, and
 * the CPU picks at load time (GCC's target_clones through glibc's ifunc).
 * -std=c11 keeps a*b + c unfused (-ffp-contract=off), so every clone
 * computes the same floats; only the vector width differs. */
#include <limits.h>  /* defines __GLIBC__ under glibc: ifunc needs it (musl has none) */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__)
#define CC_VECTORISED __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define CC_VECTORISED
#endif

/* Whether the CPU runs AVX-512: the kernels that keep 28 vector
 * accumulators in its 32 registers (conv2d_grouped.c, gemm_avx512.c) are
 * taken only then. */
static inline int cc_cpu_avx512(void)
{
#if defined(__GNUC__) && defined(__x86_64__)
    return __builtin_cpu_supports("avx512f") != 0;
#else
    return 0;
#endif
}

/* The outputs o in [*lo, *hi), 0 <= o < count, whose input index
 * o*step + off lies in [0, size): the outputs one tap of a window reaches
 * (rows: step SH, off kh*DH - PT; columns: step SW, off kw*DW - PL). Empty
 * (lo == hi) when the tap only ever reads padding. Shared by the conv and
 * pool kernels, so that their inner loops run without a bounds test. */
static inline void cc_valid_range(int count, int step, int off, int size, int *lo, int *hi)
{
    int l = off >= 0 ? 0 : (-off + step - 1) / step;
    int h = size - 1 - off < 0 ? 0 : (size - 1 - off) / step + 1;
    h = h < count ? h : count;
    *lo = l < h ? l : h;
    *hi = h;
}

/* How many items (planes, channels) one range of cc_parallel takes at least,
 * when each costs `per` units of work and a range should do about `target`. */
static inline size_t cc_grain(size_t per, size_t target)
{
    return per >= target ? 1 : target / per;
}

/* Element-wise maps split over the pool (parallel.h) in ranges of at least
 * CC_MAP_GRAIN elements: f(out + lo, inp + lo, hi - lo), and the gradient
 * form f(dinp + lo, dout + lo, saved + lo, hi - lo). */
enum { CC_MAP_GRAIN = 16384 };
typedef void (*cc_map_fn)(cc_real *out, const cc_real *inp, size_t n);
typedef void (*cc_map_grad_fn)(cc_real *dinp, const cc_real *dout, const cc_real *saved, size_t n);
void cc_parallel_map(cc_map_fn f, cc_real *out, const cc_real *inp, size_t n);
void cc_parallel_map_grad(cc_map_grad_fn f, cc_real *dinp, const cc_real *dout, const cc_real *saved,
                          size_t n);
/* The same with one attribute passed to every range (leaky_relu's slope, elu's alpha). */
typedef void (*cc_map_param_fn)(cc_real *out, const cc_real *inp, cc_real param, size_t n);
typedef void (*cc_map_grad_param_fn)(cc_real *dinp, const cc_real *dout, const cc_real *saved,
                                     cc_real param, size_t n);
void cc_parallel_map_param(cc_map_param_fn f, cc_real *out, const cc_real *inp, cc_real param, size_t n);
void cc_parallel_map_grad_param(cc_map_grad_param_fn f, cc_real *dinp, const cc_real *dout,
                                const cc_real *saved, cc_real param, size_t n);

/* ---- convolution: conv2d.c (any groups), conv2d_depthwise.c, conv2d_gemm.c
 * out[n,oc,oh,ow] = bias[oc] + sum_{c,kh,kw} weight[oc,c,kh,kw] *
 *     inp[n, g*C/G + c, oh*SH - PT + kh*DH, ow*SW - PL + kw*DW]
 * with g = oc / (OC/G), c < C/G, and zero outside the input. */
typedef struct {
    int N, C, H, W;         /* input */
    int OC, KH, KW;         /* weight is OC x C/G x KH x KW */
    int SH, SW, PT, PL, DH, DW, G;
    int OH, OW;             /* output, from shape inference */
} cc_conv_dims;

void cc_conv2d_forward(cc_real *out, const cc_real *inp, const cc_real *weight,
                       const cc_real *bias, const cc_conv_dims *d);
void cc_conv2d_backward(cc_real *dinp, cc_real *dweight, cc_real *dbias,
                        const cc_real *dout, const cc_real *inp, const cc_real *weight,
                        const cc_conv_dims *d);
/* The same maps, specialised for G == C == OC (one filter per channel). The
 * forward takes conv2d_depthwise_avx512.c where that applies, else the
 * portable kernel (which tests also run on their own). */
void cc_conv2d_depthwise_forward(cc_real *out, const cc_real *inp, const cc_real *weight,
                                 const cc_real *bias, const cc_conv_dims *d, const cc_epilogue *ep);
void cc_conv2d_depthwise_forward_portable(cc_real *out, const cc_real *inp, const cc_real *weight,
                                          const cc_real *bias, const cc_conv_dims *d, const cc_epilogue *ep);
int cc_conv2d_depthwise_avx512_applies(const cc_conv_dims *d);
#ifndef CC_REAL_DOUBLE
void cc_conv2d_depthwise_avx512_forward(float *out, const float *inp, const float *weight, const float *bias,
                                        const cc_conv_dims *d, const cc_epilogue *ep);
#endif
void cc_conv2d_depthwise_backward(cc_real *dinp, cc_real *dweight, cc_real *dbias,
                                  const cc_real *dout, const cc_real *inp,
                                  const cc_real *weight, const cc_conv_dims *d);

/* The same maps as matrix products (conv2d_gemm.c), for every conv that is not
 * depthwise: per image and group, out = W * col, with col the im2col matrix of
 * the input (CG*KH*KW x output pixels), or the input itself for a 1x1, stride
 * 1, unpadded conv. col lives in scratch, built a tile of output rows at a
 * time; cc_conv2d_gemm_scratch(d) is the size the engine provides: 0 for the
 * 1x1 path, else as many rows as fit in CC_CONV_SCRATCH_CAP (at least one).
 * The kernels accept any scratch_bytes >= one output row of col and tile by
 * what they are given. inp may be NULL in the backward when dweight is NULL.
 * The cap keeps a tile of col near the size of a core's L2 cache, where the
 * product reads it back: ResNet-34's 7x7 stem took 3.0 ms with 1 MiB tiles
 * and 3.7 ms with 8 MiB ones. */
enum { CC_CONV_SCRATCH_CAP = 1 << 20 };
size_t cc_conv2d_gemm_scratch(const cc_conv_dims *d);
void cc_conv2d_gemm_forward(cc_real *out, const cc_real *inp, const cc_real *weight,
                            const cc_real *bias, const cc_conv_dims *d, void *scratch,
                            size_t scratch_bytes, const cc_epilogue *ep);
void cc_conv2d_gemm_backward(cc_real *dinp, cc_real *dweight, cc_real *dbias,
                             const cc_real *dout, const cc_real *inp, const cc_real *weight,
                             const cc_conv_dims *d, void *scratch, size_t scratch_bytes);

/* 3x3, stride 1, undilated, ungrouped convs by Winograd's F(2x2, 3x3)
 * (conv2d_winograd.c): forward only, the backward stays with the gemm path.
 * cc_conv2d_winograd_applies(d) says whether conv2d.c takes it (shapes where
 * it was measured faster than im2col); the forward computes any 3x3 stride-1
 * undilated ungrouped conv. scratch: cc_conv2d_winograd_scratch(d) bytes, or
 * fewer down to one row of 2x2 output tiles (the kernel tiles by what it is
 * given). */
int cc_conv2d_winograd_applies(const cc_conv_dims *d);
size_t cc_conv2d_winograd_scratch(const cc_conv_dims *d);
void cc_conv2d_winograd_forward(cc_real *out, const cc_real *inp, const cc_real *weight,
                                const cc_real *bias, const cc_conv_dims *d, void *scratch,
                                size_t scratch_bytes, const cc_real *u);
/* U, the transformed filters (16 x OC x C), which the forward computes into
 * its scratch when given u = NULL: a caller that keeps it for unchanged
 * weights passes it instead. */
size_t cc_conv2d_winograd_u_bytes(const cc_conv_dims *d);
void cc_conv2d_winograd_transform(cc_real *u, const cc_real *weight, const cc_conv_dims *d);

/* Grouped convs with a multiple of 16 output channels per group, and image
 * stems (ungrouped, stride 2, at most 4 input channels), by a direct register-blocked
 * kernel (conv2d_grouped.c): forward only. conv2d.c takes it where
 * cc_conv2d_grouped_applies(d) (AVX-512, small enough groups); scratch holds
 * the repacked weights, cc_conv2d_grouped_scratch(d) bytes. */
int cc_conv2d_grouped_applies(const cc_conv_dims *d);
size_t cc_conv2d_grouped_scratch(const cc_conv_dims *d);
void cc_conv2d_grouped_forward(cc_real *out, const cc_real *inp, const cc_real *weight,
                               const cc_real *bias, const cc_conv_dims *d, void *scratch);

/* ---- gemm.c: C = alpha * op(A) * op(B) + beta * C, row-major, cc_real -----
 * op(A) is M x K, op(B) is K x N, C is M x N; ta/tb nonzero transpose A/B.
 * OpenBLAS's cblas_sgemm in the float library and cblas_dgemm in the double
 * gradient-check build, so the gradient checks run the same call sites. */
void cc_gemm(int ta, int tb, int M, int N, int K, cc_real alpha, const cc_real *A, int lda,
             const cc_real *B, int ldb, cc_real beta, cc_real *C, int ldc);
/* cc_gemm, then row r of C (its N values) through the epilogue of channel
 * c0 + r (ep NULL: none): inside the AVX-512 kernel, on each block of C as
 * it is written; after the product otherwise. */
void cc_gemm_ep(int ta, int tb, int M, int N, int K, cc_real alpha, const cc_real *A, int lda,
                const cc_real *B, int ldb, cc_real beta, cc_real *C, int ldc, const cc_epilogue *ep, int c0);
/* The same product without cc_gemm's split over the pool (nor its gemv
 * shortcut): for a caller that splits a batch of products itself (matmul.c). */
void cc_gemm_serial(int ta, int tb, int M, int N, int K, cc_real alpha, const cc_real *A, int lda,
                    const cc_real *B, int ldb, cc_real beta, cc_real *C, int ldc);
/* Conv products in AVX-512 (gemm_avx512.c), faster than OpenBLAS's AVX2
 * kernels: C = A B (accumulate 0) or C += A B (1), A M x K, B K x N, C
 * M x N, row-major. cc_gemm takes this path itself for the products that
 * cc_gemm_avx512_applies() accepts (0 without AVX-512 and in the double build,
 * which has no cc_gemm_avx512). */
int cc_gemm_avx512_applies(int M, int N, int K);
int cc_gemm_avx512_n_applies(int M, int N, int K);
#ifndef CC_REAL_DOUBLE
typedef struct {
    int M, N, K, accumulate;
    const float *A, *B;
    float *C;
    size_t lda, ldb, ldc;
    const cc_epilogue *ep;   /* then applied to row r of C as channel c0 + r; NULL: none */
    int c0;
} cc_gemm_job;
void cc_gemm_avx512(const cc_gemm_job *g);
/* The same product with C's rows in vectors (gemm_avx512_n.c), which
 * avx512-routed products take where cc_gemm_avx512_n_applies (many columns,
 * few terms: a mobile net's 1x1 convs). */
void cc_gemm_avx512_n(const cc_gemm_job *g);
/* y = A x (accumulate 0) or y += A x (1), A^T x when ta, A M x N row-major,
 * in AVX-512 (gemm_avx512.c): what cc_gemv runs on an AVX-512 CPU for
 * alpha 1 and beta 0 or 1 (the weights are read once either way, but
 * OpenBLAS's SSE3 kernels, where it does not know the CPU, take 10% of a
 * MobileNetV3's forward in its squeeze-excitation products). */
void cc_gemv_avx512(int ta, int M, int N, const float *A, int lda, const float *x, int accumulate, float *y);
#endif
/* Whether OpenBLAS runs kernels older than AVX2 here (its core name is not
 * one it has AVX2 or AVX-512 kernels for: a CPU newer than the library). */
int cc_blas_is_slow(void);
/* y = alpha * op(A) * x + beta * y, A M x N row-major (op(A) = A^T when ta):
 * a product with one column, which OpenBLAS's gemm runs several times slower
 * than its gemv (a batch-1 linear layer is bound by reading the weights). */
void cc_gemv(int ta, int M, int N, cc_real alpha, const cc_real *A, int lda, const cc_real *x,
             cc_real beta, cc_real *y);
/* The kernels' thread count for the process: the pool of parallel.h, with
 * OpenBLAS itself kept at one thread (each range of a product is one call).
 * The context sets it before each run. Returns 0, or -1 when the system
 * would not start that many threads (fewer run). */
int cc_set_threads(int n);

/* ---- batchnorm2d.c: eval mode, running statistics --------------------------
 * out = (inp - mean[c]) / sqrt(var[c] + eps) * weight[c] + bias[c];
 * weight/bias NULL mean 1/0 (affine=False). */
void cc_batchnorm_forward(cc_real *out, const cc_real *inp, const cc_real *weight,
                          const cc_real *bias, const cc_real *mean, const cc_real *var,
                          double eps, int N, int C, int HW);
void cc_batchnorm_backward(cc_real *dinp, cc_real *dweight, cc_real *dbias,
                           const cc_real *dout, const cc_real *inp, const cc_real *weight,
                           const cc_real *mean, const cc_real *var, double eps,
                           int N, int C, int HW);
/* The batchnorm's affine map of channel c, alpha and beta as its forward
 * computes them (in double, then rounded), and that forward on n values:
 * out = inp * alpha + beta (a fused chain's epilogue runs the same two). */
void cc_batchnorm_fold(const cc_real *weight, const cc_real *bias, const cc_real *mean, const cc_real *var,
                       double eps, int c, cc_real *alpha, cc_real *beta);
void cc_affine_range(cc_real *out, const cc_real *inp, size_t n, cc_real alpha, cc_real beta);
/* batchnorm2d.c's descriptor parts that batchnorm1d.c (N x C, N x C x L) shares:
 * the eps and parameter checks against C = in->d[1], and the adapters
 * (HW = the product of the dimensions after C). */
cc_status cc_batchnorm_check(const cc_op *op, const cc_attrs *a, const cc_shape *in, const cc_shape *param,
                             const int *has_param, cc_error *err);
void cc_batchnorm_op_forward(const cc_op_args *a);
void cc_batchnorm_op_backward(const cc_op_args *a);

/* ---- activations, one file each: out = f(inp) over n elements ------------
 * The backward reads the forward input (none of these is differentiated
 * through its output, except sigmoid where out*(1-out) is exact). At a kink
 * the derivative is PyTorch's: relu' (0)=0, relu6'(0)=relu6'(6)=0,
 * hardswish'(-3) = -1/2 and hardswish'(3) = 1 ((2x+3)/6 on [-3, 3), as PyTorch's
 * vectorised kernel), hardsigmoid'(±3)=0. */
void cc_relu_forward(cc_real *out, const cc_real *inp, size_t n);
void cc_relu_backward(cc_real *dinp, const cc_real *dout, const cc_real *inp, size_t n);
void cc_relu6_forward(cc_real *out, const cc_real *inp, size_t n);
void cc_relu6_backward(cc_real *dinp, const cc_real *dout, const cc_real *inp, size_t n);
void cc_hardswish_forward(cc_real *out, const cc_real *inp, size_t n);
void cc_hardswish_backward(cc_real *dinp, const cc_real *dout, const cc_real *inp, size_t n);
void cc_hardsigmoid_forward(cc_real *out, const cc_real *inp, size_t n);
void cc_hardsigmoid_backward(cc_real *dinp, const cc_real *dout, const cc_real *inp, size_t n);
void cc_sigmoid_forward(cc_real *out, const cc_real *inp, size_t n);
void cc_sigmoid_backward(cc_real *dinp, const cc_real *dout, const cc_real *out, size_t n);
void cc_silu_forward(cc_real *out, const cc_real *inp, size_t n);
void cc_silu_backward(cc_real *dinp, const cc_real *dout, const cc_real *inp, size_t n);
/* Guided backwards (op.h's rule): dinp += max(0, f'(x) * max(0, dout)), f'
 * computed as in the op's backward (sigmoid's from its output). */
void cc_relu_guided_backward(cc_real *dinp, const cc_real *dout, const cc_real *inp, size_t n);
void cc_relu6_guided_backward(cc_real *dinp, const cc_real *dout, const cc_real *inp, size_t n);
void cc_hardswish_guided_backward(cc_real *dinp, const cc_real *dout, const cc_real *inp, size_t n);
void cc_hardsigmoid_guided_backward(cc_real *dinp, const cc_real *dout, const cc_real *inp, size_t n);
void cc_sigmoid_guided_backward(cc_real *dinp, const cc_real *dout, const cc_real *out, size_t n);
void cc_silu_guided_backward(cc_real *dinp, const cc_real *dout, const cc_real *inp, size_t n);
/* max(v, 0), and 0 for NaN: the clamp of the guided rule. */
static inline cc_real cc_positive_part(cc_real v)
{
    return v > 0 ? v : 0;
}
/* leaky_relu'(0) = negative_slope, elu'(0) = alpha (PyTorch tests x > 0 and x <= 0). */
void cc_leaky_relu_forward(cc_real *out, const cc_real *inp, double negative_slope, size_t n);
void cc_leaky_relu_backward(cc_real *dinp, const cc_real *dout, const cc_real *inp, double negative_slope,
                            size_t n);
void cc_elu_forward(cc_real *out, const cc_real *inp, double alpha, size_t n);
void cc_elu_backward(cc_real *dinp, const cc_real *dout, const cc_real *inp, double alpha, size_t n);

/* ---- gelu.c: y = x Phi(x) (erf, exact) and its tanh approximation -------
 * The backwards read the input; Phi is computed as erfc(-x / sqrt 2) / 2. */
void cc_gelu_forward(cc_real *out, const cc_real *inp, size_t n);
void cc_gelu_backward(cc_real *dinp, const cc_real *dout, const cc_real *inp, size_t n);
void cc_gelu_tanh_forward(cc_real *out, const cc_real *inp, size_t n);
void cc_gelu_tanh_backward(cc_real *dinp, const cc_real *dout, const cc_real *inp, size_t n);

/* ---- layer_norm.c: over the last dimension, R rows of C -------------------
 * out = (inp - mu) / sqrt(var + eps) * weight + bias per row (biased var);
 * weight/bias NULL mean 1/0. The backward needs cc_layer_norm_scratch(C)
 * bytes at acc when dweight or dbias is asked for (NULL otherwise is fine). */
void cc_layer_norm_forward(cc_real *out, const cc_real *inp, const cc_real *weight, const cc_real *bias,
                           double eps, int R, int C);
size_t cc_layer_norm_scratch(int C);
void cc_layer_norm_backward(cc_real *dinp, cc_real *dweight, cc_real *dbias, const cc_real *dout,
                            const cc_real *inp, const cc_real *weight, double eps, int R, int C,
                            double *acc);

/* ---- softmax.c, log_softmax.c: along the last dim, N rows of C, from the output
 * softmax: dinp += y (dout - sum_c dout y); log_softmax: dinp += dout - exp(y) sum_c dout.
 * cc_row_exp: e[c] = exp(x[c] - *max) (cc_exp_real), *max the largest of
 * x[0..C-1] (NaN skipped), returns sum_c e[c] (in double); e may be the
 * output row. cc_softmax_each_row runs fn(out + r C, a + r C, b + r C or
 * NULL, C) for the N rows r, split over the pool; cc_softmax_op_forward /
 * _backward are the descriptors' adapters around a row kernel (forward:
 * out = y, a = x; backward: out = dinp, a = dout, b = y). */
typedef void (*cc_softmax_row_fn)(cc_real *out, const cc_real *a, const cc_real *b, int C);
double cc_row_exp(cc_real *e, const cc_real *x, int C, cc_real *max);
void cc_softmax_each_row(cc_softmax_row_fn fn, cc_real *out, const cc_real *a, const cc_real *b, int N, int C);
void cc_softmax_op_forward(const cc_op_args *a, cc_softmax_row_fn forward_fn);
void cc_softmax_op_backward(const cc_op_args *a, cc_softmax_row_fn backward_fn);
void cc_softmax_forward(cc_real *out, const cc_real *inp, int N, int C);
void cc_softmax_backward(cc_real *dinp, const cc_real *dout, const cc_real *out, int N, int C);
void cc_log_softmax_forward(cc_real *out, const cc_real *inp, int N, int C);
void cc_log_softmax_backward(cc_real *dinp, const cc_real *dout, const cc_real *out, int N, int C);
cc_status cc_infer_softmax(const cc_attrs *a, const cc_shape *in, int nin, const cc_shape *param,
                           const int *has_param, cc_shape *out, cc_error *err);

/* ---- matmul.c: out[b] = alpha A[b] B[b] (B[b]^T with trans_b) over a batch
 * of products; A[b] M x K, B[b] K x N (N x K with trans_b), out[b] M x N.
 * dA[b] += alpha dout[b] op(B[b])^T, dB[b] += the matching product with A[b].
 * cc_matmul_ref_*: plain loops in double, the reference of the others. */
typedef struct {
    int batch, M, N, K, trans_b;
    double alpha;
} cc_matmul_dims;
cc_matmul_dims cc_matmul_dims_of(const cc_attrs *attrs, const cc_shape *a, const cc_shape *out);
void cc_matmul_forward(cc_real *out, const cc_real *A, const cc_real *B, const cc_matmul_dims *d);
void cc_matmul_backward(cc_real *dA, cc_real *dB, const cc_real *dout, const cc_real *A, const cc_real *B,
                        const cc_matmul_dims *d);
void cc_matmul_ref_forward(cc_real *out, const cc_real *A, const cc_real *B, const cc_matmul_dims *d);
void cc_matmul_ref_backward(cc_real *dA, cc_real *dB, const cc_real *dout, const cc_real *A, const cc_real *B,
                            const cc_matmul_dims *d);

/* ---- add_const.c, mul_const.c: x + value, x * value, value broadcast from the
 * right (cc_const_infer's rules; out = x's shape). cc_bcast_plan collapses the
 * two shapes to runs along which value is contiguous (vstride 1 at the
 * innermost) or fixed (vstride 0); cc_bcast_apply walks n elements of x by it:
 * out = a + v, out = a * v, or out += a * v (the mul backward);
 * cc_const_forward is the descriptors' forward with one of those modes. */
typedef struct {
    int rank;
    int len[CC_MAX_RANK];
    size_t vstride[CC_MAX_RANK];
} cc_bcast;
enum { CC_BCAST_ADD, CC_BCAST_MUL, CC_BCAST_MUL_ACC };
cc_status cc_const_infer(const char *op, const cc_shape *x, const cc_shape *v, int has_value, cc_shape *out,
                         cc_error *err);
void cc_const_forward(const cc_op_args *a, int mode);
void cc_bcast_plan(cc_bcast *p, const cc_shape *x, const cc_shape *v);
void cc_bcast_apply(int mode, cc_real *out, const cc_real *a, const cc_real *value, const cc_bcast *p, size_t n);

/* ---- linear.c: out[n,o] = bias[o] + sum_i weight[o,i] * inp[n,i] ----------
 * (n: every index of the input's leading dims, i its last) */
void cc_linear_forward(cc_real *out, const cc_real *inp, const cc_real *weight,
                       const cc_real *bias, int N, int IN, int OUT);
void cc_linear_backward(cc_real *dinp, cc_real *dweight, cc_real *dbias, const cc_real *dout,
                        const cc_real *inp, const cc_real *weight, int N, int IN, int OUT);
/* The same map through cc_gemm (linear_gemm.c): out = inp * weight^T + bias,
 * dinp += dout * weight, dweight += dout^T * inp, dbias += column sums of dout.
 * inp may be NULL in the backward when dweight is NULL. scratch: NULL, or
 * cc_linear_gemm_scratch(N, IN, OUT) bytes, which let the AVX-512 kernels
 * take the products. */
size_t cc_linear_gemm_scratch(int N, int IN, int OUT);
void cc_linear_gemm_forward(cc_real *out, const cc_real *inp, const cc_real *weight,
                            const cc_real *bias, int N, int IN, int OUT, void *scratch);
void cc_linear_gemm_backward(cc_real *dinp, cc_real *dweight, cc_real *dbias, const cc_real *dout,
                             const cc_real *inp, const cc_real *weight, int N, int IN, int OUT, void *scratch);

/* ---- pooling: maxpool2d.c, avgpool2d.c, adaptive_avgpool2d.c -------------
 * Window (oh,ow) starts at (oh*SH - PT, ow*SW - PL). */
typedef struct {
    int N, C, H, W;
    int KH, KW, SH, SW, PT, PL;
    int OH, OW;
} cc_pool_dims;

/* Padding never wins; ties go to the first maximum in row-major window order,
 * as PyTorch's CPU kernel does. The backward finds the argmax again. */
void cc_maxpool2d_forward(cc_real *out, const cc_real *inp, const cc_pool_dims *d);
void cc_maxpool2d_backward(cc_real *dinp, const cc_real *dout, const cc_real *inp,
                           const cc_pool_dims *d);
/* Divisor: the window clipped to the padded input (count_include_pad) or to
 * the real input (not), as torch.nn.AvgPool2d. */
void cc_avgpool2d_forward(cc_real *out, const cc_real *inp, const cc_pool_dims *d,
                          int count_include_pad);
void cc_avgpool2d_backward(cc_real *dinp, const cc_real *dout, const cc_pool_dims *d,
                           int count_include_pad);
/* Cell (oh,ow) averages rows floor(oh*H/OH) .. ceil((oh+1)*H/OH)-1, same for columns. */
void cc_adaptive_avgpool2d_forward(cc_real *out, const cc_real *inp, int NC, int H, int W,
                                   int OH, int OW);
void cc_adaptive_avgpool2d_backward(cc_real *dinp, const cc_real *dout, int NC, int H, int W,
                                    int OH, int OW);

/* ---- add.c: out = a + b (residuals), same shapes ------------------------- */
void cc_add_forward(cc_real *out, const cc_real *a, const cc_real *b, size_t n);
void cc_add_backward(cc_real *da, cc_real *db, const cc_real *dout, size_t n);

/* ---- mul.c: out[nc,hw] = scale[nc] * x[nc,hw] (squeeze-excitation) ------- */
void cc_mul_channel_forward(cc_real *out, const cc_real *scale, const cc_real *x,
                            int NC, int HW);
void cc_mul_channel_backward(cc_real *dscale, cc_real *dx, const cc_real *dout,
                             const cc_real *scale, const cc_real *x, int NC, int HW);

/* ---- flatten.c, identity.c: copies; the backward adds dout --------------- */
void cc_copy_forward(cc_real *out, const cc_real *inp, size_t n);
void cc_copy_backward(cc_real *dinp, const cc_real *dout, size_t n);
/* The op adapters of a copy of in[0] into out (identity.c; reshape.c too). */
void cc_copy_op_forward(const cc_op_args *a);
void cc_copy_op_backward(const cc_op_args *a);

/* ---- concat.c: along one axis; input i is outer x C[i] x inner ----------- */
void cc_concat_forward(cc_real *out, const cc_real *const *inp, const int *C, int nin,
                       int outer, int inner);
void cc_concat_backward(cc_real *const *dinp, const cc_real *dout, const int *C, int nin,
                        int outer, int inner);

/* ---- slice.c: indices start, start+step, ... (count of them) of the middle
 * dimension of outer x C x inner ------------------------------------------ */
void cc_slice_forward(cc_real *out, const cc_real *inp, int outer, int C, int inner, int start, int step,
                      int count);
void cc_slice_backward(cc_real *dinp, const cc_real *dout, int outer, int C, int inner, int start, int step,
                       int count);

/* ---- view_copy.c: strided copies (permute, slice, pad, roll) -------------
 * cc_view_copy: dst[sum i_k dst_k] = (or += when accumulate) src[sum i_k src_k]
 * over 0 <= i_k < n_k, strides in elements; size-1 and contiguous neighbour
 * dimensions collapse first, the innermost run is a memcpy where both strides are 1. */
typedef struct {
    int rank;
    int n[CC_MAX_RANK];
    size_t dst[CC_MAX_RANK], src[CC_MAX_RANK];
} cc_view;
void cc_view_copy(cc_real *dst, const cc_real *src, const cc_view *v, int accumulate);
/* dst (cols x rows) = src (rows x cols) transposed. */
void cc_transpose(cc_real *dst, const cc_real *src, int rows, int cols);
/* Exchanges dst and src strides: the map of the backward of a copy through v. */
void cc_view_swap(cc_view *v);
/* The product of dimensions lo..hi-1 of s (1 when lo >= hi), and s's row-major strides. */
size_t cc_dims_product(const cc_shape *s, int lo, int hi);
void cc_shape_strides(const cc_shape *s, size_t *stride);

/* ---- permute.c, pad.c, roll.c: strided copies of a whole tensor of shape in
 * permute: out dim k is in dim perm[k]; pad: (before, after) zeros per dim,
 * out the padded shape; roll: torch.roll(x, shifts, dims). The backwards add
 * dout mapped back into dinp. */
void cc_permute_forward(cc_real *out, const cc_real *inp, const cc_shape *in, const int *perm);
void cc_permute_backward(cc_real *dinp, const cc_real *dout, const cc_shape *in, const int *perm);
void cc_pad_forward(cc_real *out, const cc_real *inp, const cc_shape *in, const cc_shape *outs, const int *pads);
void cc_pad_backward(cc_real *dinp, const cc_real *dout, const cc_shape *in, const cc_shape *outs,
                     const int *pads);
void cc_roll_forward(cc_real *out, const cc_real *inp, const cc_shape *s, const int *shifts, const int *dims,
                     int nshifts);
void cc_roll_backward(cc_real *dinp, const cc_real *dout, const cc_shape *s, const int *shifts,
                      const int *dims, int nshifts);

/* ---- channel_shuffle.c: C = G x K channels, out channel k*G + g = in channel g*K + k */
void cc_channel_shuffle_forward(cc_real *out, const cc_real *inp, int N, int C, int HW, int G);
void cc_channel_shuffle_backward(cc_real *dinp, const cc_real *dout, int N, int C, int HW, int G);

/* ---- upsample_nearest.c, upsample_bilinear.c: F.interpolate of NC planes H x W
 * to OH x OW. The source coordinate of output row oh is oh * scale_h (nearest)
 * or, for bilinear, scale_h * (oh + 0.5) - 0.5 clamped at 0 (align_corners
 * false) or oh * scale_h (true), in float as ATen's CPU kernels compute it;
 * upsample_shape.c gives the scales. */
void cc_upsample_nearest_forward(cc_real *out, const cc_real *inp, int NC, int H, int W, int OH, int OW,
                                 float scale_h, float scale_w);
void cc_upsample_nearest_backward(cc_real *dinp, const cc_real *dout, int NC, int H, int W, int OH,
                                  int OW, float scale_h, float scale_w);
void cc_upsample_bilinear_forward(cc_real *out, const cc_real *inp, int NC, int H, int W, int OH, int OW,
                                  float scale_h, float scale_w, int align_corners);
void cc_upsample_bilinear_backward(cc_real *dinp, const cc_real *dout, int NC, int H, int W, int OH,
                                   int OW, float scale_h, float scale_w, int align_corners);

#endif
