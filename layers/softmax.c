/* layers/softmax.c — y[n,c] = exp(x[n,c] - m[n]) / sum_k exp(x[n,k] - m[n]),
 * m[n] = max_k x[n,k]   (torch.nn.Softmax(dim=1) on N x C)
 * dx[n,c] = y[n,c] (dy[n,c] - sum_k dy[n,k] y[n,k]): exact from the output,
 * so the backward reads the output only, as PyTorch's softmax_backward does.
 * Subtracting the row maximum keeps every exp in (0, 1]: no overflow for
 * any finite logits. Sums, exp and the division are in double, so y is the
 * float nearest the exact softmax (PyTorch's float kernel is within a few
 * roundings of it). A NaN anywhere in a row makes the whole row NaN (its sum
 * is NaN), as in PyTorch. The classes of one row are few (1000 for
 * ImageNet): one pass per row, no threads. */
#include "kernels.h"

#include <math.h>

/* sum_c exp(x[c] - *max) with *max the row's largest value, NaN skipped in
 * the maximum (a NaN row's sum is NaN anyway). */
double cc_row_exp_sum(const cc_real *x, int C, double *max)
{
    double m = -INFINITY, sum = 0;
    for (int c = 0; c < C; c++)
        m = x[c] > m ? x[c] : m;
    for (int c = 0; c < C; c++)
        sum += exp((double)x[c] - m);
    *max = m;
    return sum;
}

void cc_softmax_forward(cc_real *out, const cc_real *inp, int N, int C)
{
    for (int n = 0; n < N; n++) {
        const cc_real *x = inp + (size_t)n * C;
        cc_real *y = out + (size_t)n * C;
        double m;
        const double sum = cc_row_exp_sum(x, C, &m);
        for (int c = 0; c < C; c++)
            y[c] = (cc_real)(exp((double)x[c] - m) / sum);
    }
}

void cc_softmax_backward(cc_real *dinp, const cc_real *dout, const cc_real *out, int N, int C)
{
    for (int n = 0; n < N; n++) {
        const size_t row = (size_t)n * C;
        double dot = 0;
        for (int c = 0; c < C; c++)
            dot += (double)dout[row + c] * out[row + c];
        for (int c = 0; c < C; c++)  /* d/dx of exp(x - m) / sum */
            dinp[row + c] += (cc_real)(out[row + c] * ((double)dout[row + c] - dot));
    }
}

/* Softmax and log_softmax take N x C and normalise along dim 1 (attribute
 * axis, which the converter stores as 1). */
cc_status cc_infer_softmax(const cc_attrs *a, const cc_shape *in, int nin, const cc_shape *param,
                           const int *has_param, cc_shape *out, cc_error *err)
{
    (void)nin, (void)param, (void)has_param;
    char buf[64];
    if (in[0].rank != 2)
        return cc_fail(err, CC_EINVAL, "softmax and log_softmax take an N x classes input, got %s (rank %d); "
                       "flatten first", cc_shape_str(&in[0], buf, sizeof buf), in[0].rank);
    if (a->axis != 1)
        return cc_fail(err, CC_EINVAL, "softmax and log_softmax normalise along dim 1 of N x classes, "
                       "not axis %d", a->axis);
    *out = in[0];
    return CC_OK;
}

static void forward(const cc_op_args *a)
{
    cc_softmax_forward(a->out, a->in[0], a->out_shape.d[0], a->out_shape.d[1]);
}

static void backward(const cc_op_args *a)
{
    if (a->din[0])
        cc_softmax_backward(a->din[0], a->dout, a->out, a->out_shape.d[0], a->out_shape.d[1]);
}

const cc_op cc_op_softmax = {
    .name = "softmax", .min_inputs = 1, .max_inputs = 1,
    .saves_for_dinput = CC_SAVES_OUTPUT,
    .infer = cc_infer_softmax, .forward = forward, .backward = backward,
};
