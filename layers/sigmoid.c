/* layers/sigmoid.c — y = 1 / (1 + exp(-x))   (torch.nn.Sigmoid)
 * dy/dx = y (1 - y): exact from the output, so the backward reads the output
 * only, as PyTorch's sigmoid_backward does. exp is cc_exp_real (exp_real.h),
 * clamped, so y stays in [0, 1] and is never NaN for finite x. */
#include "exp_real.h"
#include "kernels.h"

CC_VECTORISED static void forward_range(cc_real *out, const cc_real *inp, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = 1 / (1 + cc_exp_real(-inp[i]));
}

void cc_sigmoid_forward(cc_real *out, const cc_real *inp, size_t n)
{
    cc_parallel_map(forward_range, out, inp, n);
}

CC_VECTORISED static void backward_range(cc_real *dinp, const cc_real *dout, const cc_real *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dinp[i] += dout[i] * (1 - out[i]) * out[i];
}

void cc_sigmoid_backward(cc_real *dinp, const cc_real *dout, const cc_real *out, size_t n)
{
    cc_parallel_map_grad(backward_range, dinp, dout, out, n);
}

/* Guided (op.h): y (1 - y) is never negative, so only dout is clamped; the
 * outer clamp turns a NaN output into 0. */
CC_VECTORISED static void guided_range(cc_real *dinp, const cc_real *dout, const cc_real *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dinp[i] += cc_positive_part(cc_positive_part(dout[i]) * (1 - out[i]) * out[i]);
}

void cc_sigmoid_guided_backward(cc_real *dinp, const cc_real *dout, const cc_real *out, size_t n)
{
    cc_parallel_map_grad(guided_range, dinp, dout, out, n);
}

static void forward(const cc_op_args *a)
{
    cc_sigmoid_forward(a->out, a->in[0], cc_shape_numel(&a->out_shape));
}

static void backward(const cc_op_args *a)
{
    if (a->din[0])
        cc_sigmoid_backward(a->din[0], a->dout, a->out, cc_shape_numel(&a->out_shape));
}

static void guided_backward(const cc_op_args *a)
{
    if (a->din[0])
        cc_sigmoid_guided_backward(a->din[0], a->dout, a->out, cc_shape_numel(&a->out_shape));
}

const cc_op cc_op_sigmoid = {
    .name = "sigmoid", .min_inputs = 1, .max_inputs = 1,
    .saves_for_dinput = CC_SAVES_OUTPUT,
    .infer = cc_infer_unary, .forward = forward, .backward = backward, .guided_backward = guided_backward,
    .range = forward_range,
};
