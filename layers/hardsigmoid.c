/* layers/hardsigmoid.c — y = min(max(x + 3, 0), 6) / 6   (torch.nn.Hardsigmoid)
 * dy/dx = 1/6 for -3 < x < 3, else 0: PyTorch gives 0 at both kinks.
 * NaN: y = NaN (no clamp comparison holds) and dy/dx = 0, as PyTorch's.
 * The backward reads the input: y = 0 or 1 cannot tell a kink from beyond it. */
#include "kernels.h"

CC_VECTORISED static void forward_range(cc_real *out, const cc_real *inp, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const cc_real r = inp[i] + 3;
        out[i] = (r < 0 ? 0 : r > 6 ? 6 : r) / 6;
    }
}

void cc_hardsigmoid_forward(cc_real *out, const cc_real *inp, size_t n)
{
    cc_parallel_map(forward_range, out, inp, n);
}

CC_VECTORISED static void backward_range(cc_real *dinp, const cc_real *dout, const cc_real *inp, size_t n)
{
    const cc_real one_sixth = (cc_real)(1.0 / 6.0);
    for (size_t i = 0; i < n; i++)
        if (inp[i] > -3 && inp[i] < 3)
            dinp[i] += dout[i] * one_sixth;
}

void cc_hardsigmoid_backward(cc_real *dinp, const cc_real *dout, const cc_real *inp, size_t n)
{
    cc_parallel_map_grad(backward_range, dinp, dout, inp, n);
}

/* Guided (op.h): the backward's slope, 1/6 strictly inside (-3, 3). */
CC_VECTORISED static void guided_range(cc_real *dinp, const cc_real *dout, const cc_real *inp, size_t n)
{
    const cc_real one_sixth = (cc_real)(1.0 / 6.0);
    for (size_t i = 0; i < n; i++)
        dinp[i] += inp[i] > -3 && inp[i] < 3 ? cc_positive_part(dout[i]) * one_sixth : 0;
}

void cc_hardsigmoid_guided_backward(cc_real *dinp, const cc_real *dout, const cc_real *inp, size_t n)
{
    cc_parallel_map_grad(guided_range, dinp, dout, inp, n);
}

static void forward(const cc_op_args *a)
{
    cc_hardsigmoid_forward(a->out, a->in[0], cc_shape_numel(&a->out_shape));
}

static void backward(const cc_op_args *a)
{
    if (a->din[0])
        cc_hardsigmoid_backward(a->din[0], a->dout, a->in[0], cc_shape_numel(&a->out_shape));
}

static void guided_backward(const cc_op_args *a)
{
    if (a->din[0])
        cc_hardsigmoid_guided_backward(a->din[0], a->dout, a->in[0], cc_shape_numel(&a->out_shape));
}

const cc_op cc_op_hardsigmoid = {
    .name = "hardsigmoid", .min_inputs = 1, .max_inputs = 1,
    .saves_for_dinput = CC_SAVES_INPUTS,
    .infer = cc_infer_unary, .forward = forward, .backward = backward, .guided_backward = guided_backward,
    .range = forward_range,
};
