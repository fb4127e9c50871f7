/* layers/layer_norm.c — torch.nn.LayerNorm(C) / F.layer_norm(x, (C,)) over the
 * LAST dimension of a tensor of any rank (ViT tokens 1 x L x C, NHWC maps
 * N x H x W x C, N x C).
 *
 * Per row x[0..C-1] (every index of the leading dimensions):
 *   mu = sum_c x[c] / C,   var = sum_c (x[c] - mu)^2 / C   (biased, as PyTorch)
 *   r = 1 / sqrt(var + eps)                                (eps inside the root)
 *   xhat[c] = (x[c] - mu) r,   y[c] = weight[c] xhat[c] + bias[c]
 * weight/bias NULL mean 1/0 (elementwise_affine=False; F.layer_norm also
 * takes one without the other). Backward, with g[c] = dy[c] weight[c]:
 *   dx[c]      += r (g[c] - mean_c g - xhat[c] mean_c(g xhat))
 *   dweight[c] += sum_rows dy[c] xhat[c],   dbias[c] += sum_rows dy[c]
 * (mu and r depend on the whole row, hence the two means; unlike eval-mode
 * batchnorm, the statistics are the input's own, so they are differentiated.)
 *
 * Accuracy: the statistics are two passes in double (mean first, then the
 * squared deviations from it), so a row far from zero (x = 50 + 0.01 noise)
 * loses nothing to cancellation, and xhat, y and the backward's sums are in
 * double too: the float result is within an ulp or so of the exact one,
 * which is what the parity fixtures store. The backward recomputes mu and r
 * from the input (saves_for_dinput: the inputs), one row at a time.
 * A NaN in a row makes that row's output and input gradient NaN (and every
 * dweight), as in PyTorch.
 *
 * Rows are independent: the forward and dx run rows in parallel. dweight and
 * dbias sum over rows, serially into 2 C doubles of scratch (Grad-CAM never
 * asks for them). Only a normalised_shape of one dimension, the last, is
 * supported; shape inference says so. */
#include "kernels.h"

#include <math.h>

/* mu and r of one row, in double. */
static void row_stats(const cc_real *x, int C, double eps, double *mu, double *r)
{
    double s = 0;
    for (int c = 0; c < C; c++)
        s += x[c];
    const double m = s / C;
    double v = 0;
    for (int c = 0; c < C; c++) {
        const double d = (double)x[c] - m;
        v += d * d;
    }
    *mu = m;
    *r = 1.0 / sqrt(v / C + eps);
}

typedef struct {
    cc_real *out, *dinp;
    const cc_real *inp, *dout, *weight, *bias;
    double eps;
    int C;
} rows;

CC_VECTORISED static void forward_rows(void *arg, size_t lo, size_t hi)
{
    const rows *p = arg;
    const int C = p->C;
    for (size_t n = lo; n < hi; n++) {
        const cc_real *x = p->inp + n * (size_t)C;
        cc_real *y = p->out + n * (size_t)C;
        double mu, r;
        row_stats(x, C, p->eps, &mu, &r);
        for (int c = 0; c < C; c++) {
            const double xhat = ((double)x[c] - mu) * r;
            y[c] = (cc_real)(xhat * (p->weight ? p->weight[c] : 1) + (p->bias ? p->bias[c] : 0));
        }
    }
}

void cc_layer_norm_forward(cc_real *out, const cc_real *inp, const cc_real *weight, const cc_real *bias,
                           double eps, int R, int C)
{
    rows p = {.out = out, .inp = inp, .weight = weight, .bias = bias, .eps = eps, .C = C};
    cc_parallel((size_t)R, cc_grain((size_t)C, CC_MAP_GRAIN), forward_rows, &p);
}

/* dx of rows lo..hi-1: y = weight xhat + bias through xhat = (x - mu) r. */
CC_VECTORISED static void backward_rows(void *arg, size_t lo, size_t hi)
{
    const rows *p = arg;
    const int C = p->C;
    for (size_t n = lo; n < hi; n++) {
        const size_t base = n * (size_t)C;
        const cc_real *x = p->inp + base, *dy = p->dout + base;
        double mu, r;
        row_stats(x, C, p->eps, &mu, &r);
        double sg = 0, sgx = 0;  /* sum_c g, sum_c g xhat */
        for (int c = 0; c < C; c++) {
            const double g = (double)dy[c] * (p->weight ? p->weight[c] : 1);
            sg += g;
            sgx += g * (((double)x[c] - mu) * r);
        }
        const double mg = sg / C, mgx = sgx / C;
        for (int c = 0; c < C; c++) {
            const double g = (double)dy[c] * (p->weight ? p->weight[c] : 1);
            const double xhat = ((double)x[c] - mu) * r;
            p->dinp[base + c] += (cc_real)(r * (g - mg - xhat * mgx));
        }
    }
}

size_t cc_layer_norm_scratch(int C)
{
    return 2 * (size_t)C * sizeof(double);
}

void cc_layer_norm_backward(cc_real *dinp, cc_real *dweight, cc_real *dbias, const cc_real *dout,
                            const cc_real *inp, const cc_real *weight, double eps, int R, int C,
                            double *acc)
{
    if (dinp) {
        rows p = {.dinp = dinp, .inp = inp, .dout = dout, .weight = weight, .eps = eps, .C = C};
        cc_parallel((size_t)R, cc_grain((size_t)C, CC_MAP_GRAIN), backward_rows, &p);
    }
    if (!dweight && !dbias)
        return;
    double *dw = acc, *db = acc + C;
    for (int c = 0; c < 2 * C; c++)
        acc[c] = 0;
    for (int n = 0; n < R; n++) {
        const size_t base = (size_t)n * C;
        double mu = 0, r = 0;
        if (dweight)
            row_stats(inp + base, C, eps, &mu, &r);
        for (int c = 0; c < C; c++) {
            const double dy = dout[base + c];
            if (dweight)  /* d/dweight of weight xhat */
                dw[c] += dy * (((double)inp[base + c] - mu) * r);
            db[c] += dy;  /* d/dbias of + bias */
        }
    }
    for (int c = 0; c < C; c++) {
        if (dweight)
            dweight[c] += (cc_real)dw[c];
        if (dbias)
            dbias[c] += (cc_real)db[c];
    }
}

static cc_status infer(const cc_attrs *a, const cc_shape *in, int nin, const cc_shape *param,
                       const int *has_param, cc_shape *out, cc_error *err)
{
    (void)nin;
    static const char *const names[2] = {"weight", "bias"};
    char buf[64], pbuf[64];
    const cc_shape *x = &in[0];
    if (x->rank < 1)
        return cc_fail(err, CC_EINVAL, "layer_norm needs an input of rank 1 to %d, got rank %d", CC_MAX_RANK,
                       x->rank);
    if (!(a->eps > 0 && a->eps < 1))
        return cc_fail(err, CC_EINVAL, "layer_norm eps=%g must be in (0, 1)", a->eps);
    const int C = x->d[x->rank - 1];
    for (int k = 0; k < 2; k++)
        if (has_param[k] && (param[k].rank != 1 || param[k].d[0] != C))
            return cc_fail(err, CC_EINVAL, "layer_norm %s has shape %s; expected %d elements, one per entry "
                           "of the last dimension of the input %s (only normalized_shape = (last dim,) "
                           "is supported)", names[k], cc_shape_str(&param[k], pbuf, sizeof pbuf), C,
                           cc_shape_str(x, buf, sizeof buf));
    *out = *x;
    return CC_OK;
}

static int last_dim(const cc_shape *x)
{
    return x->d[x->rank - 1];
}

static void forward(const cc_op_args *a)
{
    const int C = last_dim(&a->in_shape[0]);
    cc_layer_norm_forward(a->out, a->in[0], a->param[0], a->param[1], a->attrs->eps,
                          (int)(cc_shape_numel(&a->in_shape[0]) / (size_t)C), C);
}

static void backward(const cc_op_args *a)
{
    const int C = last_dim(&a->in_shape[0]);
    cc_layer_norm_backward(a->din[0], a->dparam[0], a->dparam[1], a->dout, a->in[0], a->param[0],
                           a->attrs->eps, (int)(cc_shape_numel(&a->in_shape[0]) / (size_t)C), C, a->scratch);
}

/* The parameter gradients' double accumulators. */
static size_t scratch_bytes(const cc_attrs *a, const cc_shape *in, int nin, const cc_shape *param,
                            const cc_shape *out)
{
    (void)a, (void)nin, (void)param, (void)out;
    return cc_layer_norm_scratch(last_dim(&in[0]));
}

/* Both gradients recompute the row statistics from the input. */
const cc_op cc_op_layer_norm = {
    .name = "layer_norm", .min_inputs = 1, .max_inputs = 1,
    .nparams = 2, .param_names = {"weight", "bias"},
    .saves_for_dinput = CC_SAVES_INPUTS, .saves_for_dparam = CC_SAVES_INPUTS,
    .infer = infer, .forward = forward, .backward = backward, .scratch_bytes = scratch_bytes,
};
