/* layers/log_softmax.c — y[n,c] = x[n,c] - m[n] - log(sum_k exp(x[n,k] - m[n])),
 * m[n] = max_k x[n,k]   (torch.nn.LogSoftmax(dim=1) on N x C)
 * dx[n,c] = dy[n,c] - exp(y[n,c]) sum_k dy[n,k]: from the output, as
 * PyTorch's log_softmax_backward. The maximum keeps exp from overflowing;
 * the sum, exp and log are in double, so y is the float nearest the exact
 * value even where the probability underflows float (y = -200 stays -200).
 * A NaN anywhere in a row makes the row NaN, as in PyTorch. Shape rules:
 * cc_infer_softmax (softmax.c). */
#include "kernels.h"

#include <math.h>

void cc_log_softmax_forward(cc_real *out, const cc_real *inp, int N, int C)
{
    for (int n = 0; n < N; n++) {
        const cc_real *x = inp + (size_t)n * C;
        cc_real *y = out + (size_t)n * C;
        double m;
        const double sum = cc_row_exp_sum(x, C, &m);
        const double shift = m + log(sum);
        for (int c = 0; c < C; c++)
            y[c] = (cc_real)((double)x[c] - shift);
    }
}

void cc_log_softmax_backward(cc_real *dinp, const cc_real *dout, const cc_real *out, int N, int C)
{
    for (int n = 0; n < N; n++) {
        const size_t row = (size_t)n * C;
        double total = 0;
        for (int c = 0; c < C; c++)
            total += dout[row + c];
        for (int c = 0; c < C; c++)  /* d/dx of x - log(sum exp(x)) */
            dinp[row + c] += (cc_real)((double)dout[row + c] - exp((double)out[row + c]) * total);
    }
}

static void forward(const cc_op_args *a)
{
    cc_log_softmax_forward(a->out, a->in[0], a->out_shape.d[0], a->out_shape.d[1]);
}

static void backward(const cc_op_args *a)
{
    if (a->din[0])
        cc_log_softmax_backward(a->din[0], a->dout, a->out, a->out_shape.d[0], a->out_shape.d[1]);
}

const cc_op cc_op_log_softmax = {
    .name = "log_softmax", .min_inputs = 1, .max_inputs = 1,
    .saves_for_dinput = CC_SAVES_OUTPUT,
    .infer = cc_infer_softmax, .forward = forward, .backward = backward,
};
