/* layers/log_softmax.c — y[r,c] = x[r,c] - m[r] - log(sum_k exp(x[r,k] - m[r])),
 * m[r] = max_k x[r,k]   (F.log_softmax(x, -1): along the last dim of any
 * rank >= 2, as softmax.c)
 * dx[r,c] = dy[r,c] - exp(y[r,c]) sum_k dy[r,k]: from the output, as
 * PyTorch's log_softmax_backward. The maximum keeps exp from overflowing;
 * the exps are cc_exp_real's (softmax.c's cc_row_exp, into y before y is
 * written), the sum and log are in double, and y = x - shift is one rounding
 * from the exact value even where the probability underflows float
 * (y = -200 stays -200: the exp of that term only enters the sum). A NaN
 * anywhere in a row makes the row NaN, as in PyTorch. Rows are split over
 * the pool. Shape rules: cc_infer_softmax (softmax.c). */
#include "kernels.h"
#include "exp_real.h"

#include <math.h>

/* y = x - m - log(sum): the exps go through y first. */
CC_VECTORISED static void forward_row(cc_real *y, const cc_real *x, const cc_real *unused, int C)
{
    (void)unused;
    cc_real m;
    const double sum = cc_row_exp(y, x, C, &m), shift = (double)m + log(sum);
    for (int c = 0; c < C; c++)
        y[c] = (cc_real)((double)x[c] - shift);
}

/* dinp += dy - exp(y) sum(dy), d/dx of x - log(sum exp(x)). */
CC_VECTORISED static void backward_row(cc_real *dinp, const cc_real *dy, const cc_real *y, int C)
{
    double total = 0;
    for (int c = 0; c < C; c++)
        total += dy[c];
    for (int c = 0; c < C; c++)
        dinp[c] += (cc_real)((double)dy[c] - (double)cc_exp_real(y[c]) * total);
}

void cc_log_softmax_forward(cc_real *out, const cc_real *inp, int N, int C)
{
    cc_softmax_each_row(forward_row, out, inp, NULL, N, C);
}

void cc_log_softmax_backward(cc_real *dinp, const cc_real *dout, const cc_real *out, int N, int C)
{
    cc_softmax_each_row(backward_row, dinp, dout, out, N, C);
}

static void forward(const cc_op_args *a)
{
    cc_softmax_op_forward(a, forward_row);
}

static void backward(const cc_op_args *a)
{
    cc_softmax_op_backward(a, backward_row);
}

const cc_op cc_op_log_softmax = {
    .name = "log_softmax", .min_inputs = 1, .max_inputs = 1,
    .saves_for_dinput = CC_SAVES_OUTPUT,
    .infer = cc_infer_softmax, .forward = forward, .backward = backward,
};
