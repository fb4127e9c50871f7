/* layers/adaptive_avgpool2d.c — torch.nn.AdaptiveAvgPool2d((OH, OW)).
 *
 * out[n,c,oh,ow] = mean over ih in [h0, h1), iw in [w0, w1) of inp[n,c,ih,iw]
 *   h0 = floor(oh*H/OH),  h1 = ceil((oh+1)*H/OH)    (same for columns)
 * in integer arithmetic as PyTorch's start_index/end_index. Cells may overlap
 * when OH does not divide H, and repeat rows when OH > H (torchvision's vgg16
 * pools to 7x7 whatever the input), so one input element can feed several
 * outputs. The map is linear: dinp[n,c,ih,iw] += dout[n,c,oh,ow] / |cell|
 * summed over every cell containing (ih,iw); nothing needs saving. */
#include "kernels.h"

static int cell_start(int i, int in, int out)
{
    return (int)((long long)i * in / out);
}

static int cell_end(int i, int in, int out)
{
    return (int)(((long long)(i + 1) * in + out - 1) / out);
}

/* sum of x[0..n-1] in double, in four interleaved partial sums: one chain of
 * dependent additions was the whole cost of a global pool. Each term is a
 * float, exact in double, so the order changes the sum by ~1e-16 relative. */
static double sum_row(const cc_real *x, int n)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += x[i];
        s1 += x[i + 1];
        s2 += x[i + 2];
        s3 += x[i + 3];
    }
    for (; i < n; i++)
        s0 += x[i];
    return (s0 + s1) + (s2 + s3);
}

#if defined(__GNUC__) && defined(__x86_64__) && !defined(CC_REAL_DOUBLE)
#include <immintrin.h>

/* The same sum in AVX-512: four vectors of eight doubles, 32 floats per step
 * (the scalar chains held a squeeze-excitation pool to one float a cycle:
 * EfficientNet-B0's took 1.0 ms of 16). */
__attribute__((target("avx512f"))) static double sum_row_avx512(const float *x, int n)
{
    __m512d s0 = _mm512_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm256_loadu_ps(x + i)));
        s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 8)));
        s2 = _mm512_add_pd(s2, _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 16)));
        s3 = _mm512_add_pd(s3, _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 24)));
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm256_loadu_ps(x + i)));
    double sum = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(s0, s1), _mm512_add_pd(s2, s3)));
    for (; i < n; i++)
        sum += x[i];
    return sum;
}

static double (*row_sum(void))(const cc_real *, int)
{
    return cc_cpu_avx512() ? sum_row_avx512 : sum_row;
}
#else
static double (*row_sum(void))(const cc_real *, int)
{
    return sum_row;
}
#endif

typedef struct {
    cc_real *out;
    const cc_real *inp;
    int H, W, OH, OW;
} planes;

static void forward_planes(void *arg, size_t lo, size_t hi)
{
    const planes *p = arg;
    const int H = p->H, W = p->W, OH = p->OH, OW = p->OW;
    double (*const sum_of)(const cc_real *, int) = row_sum();
    for (size_t nc = lo; nc < hi; nc++) {
        const cc_real *x = p->inp + nc * H * W;
        cc_real *o = p->out + nc * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            const int h0 = cell_start(oh, H, OH), h1 = cell_end(oh, H, OH);
            for (int ow = 0; ow < OW; ow++) {
                const int w0 = cell_start(ow, W, OW), w1 = cell_end(ow, W, OW);
                double sum = 0;
                if (w1 - w0 == W)   /* whole rows (a global pool): one run of the cell's rows */
                    sum = sum_of(x + (size_t)h0 * W, (h1 - h0) * W);
                else
                    for (int ih = h0; ih < h1; ih++)
                        sum += sum_of(x + (size_t)ih * W + w0, w1 - w0);
                o[(size_t)oh * OW + ow] = (cc_real)(sum / ((double)(h1 - h0) * (w1 - w0)));
            }
        }
    }
}

/* out: NC x OH x OW, inp: NC x H x W. Planes are split over the pool. */
void cc_adaptive_avgpool2d_forward(cc_real *out, const cc_real *inp, int NC, int H, int W,
                                   int OH, int OW)
{
    planes p = {out, inp, H, W, OH, OW};
    const size_t per = (size_t)H * W;
    cc_parallel((size_t)NC, cc_grain(per, CC_MAP_GRAIN), forward_planes, &p);
}

/* dinp: NC x H x W, dout: NC x OH x OW. Differentiates the mean above. */
void cc_adaptive_avgpool2d_backward(cc_real *dinp, const cc_real *dout, int NC, int H, int W,
                                    int OH, int OW)
{
    if (!dinp)
        return;
    for (int nc = 0; nc < NC; nc++) {
        cc_real *dx = dinp + (size_t)nc * H * W;
        const cc_real *dy = dout + (size_t)nc * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            const int h0 = cell_start(oh, H, OH), h1 = cell_end(oh, H, OH);
            for (int ow = 0; ow < OW; ow++) {
                const int w0 = cell_start(ow, W, OW), w1 = cell_end(ow, W, OW);
                const cc_real g = (cc_real)(dy[(size_t)oh * OW + ow] / ((double)(h1 - h0) * (w1 - w0)));
                for (int ih = h0; ih < h1; ih++)
                    for (int iw = w0; iw < w1; iw++)
                        dx[(size_t)ih * W + iw] += g;
            }
        }
    }
}

static cc_status infer(const cc_attrs *a, const cc_shape *in, int nin, const cc_shape *param,
                       const int *has_param, cc_shape *out, cc_error *err)
{
    (void)nin, (void)param, (void)has_param;
    const cc_shape *x = &in[0];
    if (x->rank != 4)
        return cc_fail(err, CC_EINVAL, "adaptive_avgpool2d needs an NxCxHxW input, got rank %d", x->rank);
    for (int i = 0; i < 4; i++)
        if (x->d[i] < 1)
            return cc_fail(err, CC_EINVAL, "adaptive_avgpool2d input dimension %d is %d; every dimension "
                           "must be at least 1", i, x->d[i]);
    const int OH = a->output_size[0], OW = a->output_size[1];
    if (OH < 1 || OW < 1)
        return cc_fail(err, CC_EINVAL, "adaptive_avgpool2d output_size %dx%d must be at least 1x1", OH, OW);
    /* The output may be larger than the input; bound both, so every index
     * inside the kernels fits an int. */
    size_t n_in = 1, n_out = 1;
    const int od[4] = {x->d[0], x->d[1], OH, OW};
    for (int i = 0; i < 4; i++) {
        n_in *= (size_t)x->d[i];
        n_out *= (size_t)od[i];
        if (n_in > CC_MAX_NUMEL || n_out > CC_MAX_NUMEL)
            return cc_fail(err, CC_EINVAL, "adaptive_avgpool2d input %dx%dx%dx%d with output %dx%dx%dx%d "
                           "exceeds the limit of %zu elements per tensor", x->d[0], x->d[1], x->d[2],
                           x->d[3], od[0], od[1], OH, OW, (size_t)CC_MAX_NUMEL);
    }
    *out = cc_shape4(x->d[0], x->d[1], OH, OW);
    return CC_OK;
}

static void forward(const cc_op_args *a)
{
    const cc_shape *x = &a->in_shape[0];
    cc_adaptive_avgpool2d_forward(a->out, a->in[0], x->d[0] * x->d[1], x->d[2], x->d[3],
                                  a->out_shape.d[2], a->out_shape.d[3]);
}

static void backward(const cc_op_args *a)
{
    const cc_shape *x = &a->in_shape[0];
    if (a->din[0])
        cc_adaptive_avgpool2d_backward(a->din[0], a->dout, x->d[0] * x->d[1], x->d[2], x->d[3],
                                       a->out_shape.d[2], a->out_shape.d[3]);
}

const cc_op cc_op_adaptive_avgpool2d = {
    .name = "adaptive_avgpool2d", .min_inputs = 1, .max_inputs = 1,
    .saves_for_dinput = 0,
    .infer = infer, .forward = forward, .backward = backward,
};
