/* layers/elu.c — y = x for x > 0, alpha * (exp(x) - 1) otherwise   (torch.nn.ELU)
 * dy/dx = 1 for x > 0, else alpha * exp(x): PyTorch's elu_backward on the
 * input tests x <= 0, so the kink x = 0 gets alpha. NaN gives NaN for y and
 * for dy/dx, as PyTorch's vectorised kernels do. exp(x) - 1 is
 * cc_expm1_real (exp_real.h), accurate near 0 as PyTorch's expm1. The
 * backward reads the input (alpha * exp(x) = y + alpha would lose digits
 * where y is near -alpha). */
#include "exp_real.h"
#include "kernels.h"

CC_VECTORISED static void forward_range(cc_real *out, const cc_real *inp, cc_real alpha, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const cc_real x = inp[i];
        out[i] = x > 0 ? x : alpha * cc_expm1_real(x);
    }
}

void cc_elu_forward(cc_real *out, const cc_real *inp, double alpha, size_t n)
{
    cc_parallel_map_param(forward_range, out, inp, (cc_real)alpha, n);
}

CC_VECTORISED static void backward_range(cc_real *dinp, const cc_real *dout, const cc_real *inp, cc_real alpha,
                                         size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const cc_real x = inp[i];
        dinp[i] += x > 0 ? dout[i] : dout[i] * alpha * cc_exp_real(x);
    }
}

void cc_elu_backward(cc_real *dinp, const cc_real *dout, const cc_real *inp, double alpha, size_t n)
{
    cc_parallel_map_grad_param(backward_range, dinp, dout, inp, (cc_real)alpha, n);
}

static void forward(const cc_op_args *a)
{
    cc_elu_forward(a->out, a->in[0], a->attrs->alpha, cc_shape_numel(&a->out_shape));
}

static void backward(const cc_op_args *a)
{
    if (a->din[0])
        cc_elu_backward(a->din[0], a->dout, a->in[0], a->attrs->alpha, cc_shape_numel(&a->out_shape));
}

const cc_op cc_op_elu = {
    .name = "elu", .min_inputs = 1, .max_inputs = 1,
    .saves_for_dinput = CC_SAVES_INPUTS,
    .infer = cc_infer_unary, .forward = forward, .backward = backward,
};
