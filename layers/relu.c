/* layers/relu.c — y = max(x, 0)   (torch.nn.ReLU)
 * dy/dx = 1 for x > 0, else 0 (PyTorch's choice at the kink x = 0).
 * NaN stays NaN, as torch.relu's clamp_min gives it: `x < 0 ? 0 : x`, not
 * `x > 0 ? x : 0`, which would turn a NaN image into confident logits. Its
 * gradient passes, as PyTorch's threshold_backward (y <= 0 ? 0 : dy) lets it. */
#include "kernels.h"

CC_VECTORISED static void forward_range(cc_real *out, const cc_real *inp, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = inp[i] < 0 ? 0 : inp[i];
}

void cc_relu_forward(cc_real *out, const cc_real *inp, size_t n)
{
    cc_parallel_map(forward_range, out, inp, n);
}

CC_VECTORISED static void backward_range(cc_real *dinp, const cc_real *dout, const cc_real *inp, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(inp[i] <= 0))
            dinp[i] += dout[i];
}

void cc_relu_backward(cc_real *dinp, const cc_real *dout, const cc_real *inp, size_t n)
{
    cc_parallel_map_grad(backward_range, dinp, dout, inp, n);
}

/* Guided (op.h): the reference's masks, x > 0 and dout > 0; a NaN x or dout
 * gives 0 (its dy [x > 0] [dy > 0] is NaN for a NaN dy). */
CC_VECTORISED static void guided_range(cc_real *dinp, const cc_real *dout, const cc_real *inp, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dinp[i] += inp[i] > 0 ? cc_positive_part(dout[i]) : 0;
}

void cc_relu_guided_backward(cc_real *dinp, const cc_real *dout, const cc_real *inp, size_t n)
{
    cc_parallel_map_grad(guided_range, dinp, dout, inp, n);
}

static void forward(const cc_op_args *a)
{
    cc_relu_forward(a->out, a->in[0], cc_shape_numel(&a->out_shape));
}

static void backward(const cc_op_args *a)
{
    if (a->din[0])
        cc_relu_backward(a->din[0], a->dout, a->in[0], cc_shape_numel(&a->out_shape));
}

static void guided_backward(const cc_op_args *a)
{
    if (a->din[0])
        cc_relu_guided_backward(a->din[0], a->dout, a->in[0], cc_shape_numel(&a->out_shape));
}

const cc_op cc_op_relu = {
    .name = "relu", .min_inputs = 1, .max_inputs = 1,
    .saves_for_dinput = CC_SAVES_INPUTS,
    .infer = cc_infer_unary, .forward = forward, .backward = backward, .guided_backward = guided_backward,
    .range = forward_range,
};
