/* layers/silu.c — y = x * s(x), s = 1 / (1 + exp(-x))   (torch.nn.SiLU, "swish")
 * dy/dx = s + x s (1 - s) = s (1 + x (1 - s)), PyTorch's silu_backward.
 * The backward reads the input: silu is not monotonic (minimum near x = -1.28),
 * so y does not determine x. exp is cc_exp_real (exp_real.h): no NaN or inf
 * for large |x|. */
#include "exp_real.h"
#include "kernels.h"

CC_VECTORISED static void forward_range(cc_real *out, const cc_real *inp, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const cc_real x = inp[i];
        out[i] = x / (1 + cc_exp_real(-x));
    }
}

void cc_silu_forward(cc_real *out, const cc_real *inp, size_t n)
{
    cc_parallel_map(forward_range, out, inp, n);
}

CC_VECTORISED static void backward_range(cc_real *dinp, const cc_real *dout, const cc_real *inp, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const cc_real x = inp[i], s = 1 / (1 + cc_exp_real(-x));
        dinp[i] += dout[i] * s * (1 + x * (1 - s));
    }
}

void cc_silu_backward(cc_real *dinp, const cc_real *dout, const cc_real *inp, size_t n)
{
    cc_parallel_map_grad(backward_range, dinp, dout, inp, n);
}

/* Guided (op.h): the backward's product, clamped; the slope is negative
 * below silu's minimum (x near -1.28). */
CC_VECTORISED static void guided_range(cc_real *dinp, const cc_real *dout, const cc_real *inp, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const cc_real x = inp[i], s = 1 / (1 + cc_exp_real(-x));
        dinp[i] += cc_positive_part(cc_positive_part(dout[i]) * s * (1 + x * (1 - s)));
    }
}

void cc_silu_guided_backward(cc_real *dinp, const cc_real *dout, const cc_real *inp, size_t n)
{
    cc_parallel_map_grad(guided_range, dinp, dout, inp, n);
}

static void forward(const cc_op_args *a)
{
    cc_silu_forward(a->out, a->in[0], cc_shape_numel(&a->out_shape));
}

static void backward(const cc_op_args *a)
{
    if (a->din[0])
        cc_silu_backward(a->din[0], a->dout, a->in[0], cc_shape_numel(&a->out_shape));
}

static void guided_backward(const cc_op_args *a)
{
    if (a->din[0])
        cc_silu_guided_backward(a->din[0], a->dout, a->in[0], cc_shape_numel(&a->out_shape));
}

const cc_op cc_op_silu = {
    .name = "silu", .min_inputs = 1, .max_inputs = 1,
    .saves_for_dinput = CC_SAVES_INPUTS,
    .infer = cc_infer_unary, .forward = forward, .backward = backward, .guided_backward = guided_backward,
    .range = forward_range,
};
