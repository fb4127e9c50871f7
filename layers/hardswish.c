/* layers/hardswish.c — y = x * min(max(x + 3, 0), 6) / 6   (torch.nn.Hardswish)
 * dy/dx = 0 for x < -3, x/3 + 1/2 = (2x + 3)/6 for -3 <= x < 3, 1 for x >= 3.
 * The kinks follow PyTorch 1.13's vectorised CPU kernel, which every element
 * of a real activation goes through: dy/dx(-3) = -1/2 (not 0) and
 * dy/dx(3) = 1. Its scalar tail loop (the last < 16 floats of a contiguous
 * run) gives 3/2 at x = 3 instead; we do not copy that inconsistency.
 * NaN gives NaN for y and for dy/dx (the vectorised kernel's answer again).
 * The backward needs the input: hardswish is not invertible on its output. */
#include "kernels.h"

CC_VECTORISED static void forward_range(cc_real *out, const cc_real *inp, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const cc_real x = inp[i], r = x + 3;
        out[i] = x * (r < 0 ? 0 : r > 6 ? 6 : r) / 6;
    }
}

void cc_hardswish_forward(cc_real *out, const cc_real *inp, size_t n)
{
    cc_parallel_map(forward_range, out, inp, n);
}

CC_VECTORISED static void backward_range(cc_real *dinp, const cc_real *dout, const cc_real *inp, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const cc_real x = inp[i];
        if (x >= 3)
            dinp[i] += dout[i];
        else if (!(x < -3))  /* NaN too: (2x + 3)/6 is NaN, as PyTorch's vectorised kernel gives */
            dinp[i] += dout[i] * (x / 3 + (cc_real)0.5);
    }
}

void cc_hardswish_backward(cc_real *dinp, const cc_real *dout, const cc_real *inp, size_t n)
{
    cc_parallel_map_grad(backward_range, dinp, dout, inp, n);
}

/* Guided (op.h): the backward's slope, clamped; it is negative on [-3, -3/2),
 * the kink -3 included, so only x > -3/2 passes anything. */
CC_VECTORISED static void guided_range(cc_real *dinp, const cc_real *dout, const cc_real *inp, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const cc_real x = inp[i], g = cc_positive_part(dout[i]);
        dinp[i] += x >= 3 ? g : x < -3 ? 0 : cc_positive_part(g * (x / 3 + (cc_real)0.5));
    }
}

void cc_hardswish_guided_backward(cc_real *dinp, const cc_real *dout, const cc_real *inp, size_t n)
{
    cc_parallel_map_grad(guided_range, dinp, dout, inp, n);
}

static void forward(const cc_op_args *a)
{
    cc_hardswish_forward(a->out, a->in[0], cc_shape_numel(&a->out_shape));
}

static void backward(const cc_op_args *a)
{
    if (a->din[0])
        cc_hardswish_backward(a->din[0], a->dout, a->in[0], cc_shape_numel(&a->out_shape));
}

static void guided_backward(const cc_op_args *a)
{
    if (a->din[0])
        cc_hardswish_guided_backward(a->din[0], a->dout, a->in[0], cc_shape_numel(&a->out_shape));
}

const cc_op cc_op_hardswish = {
    .name = "hardswish", .min_inputs = 1, .max_inputs = 1,
    .saves_for_dinput = CC_SAVES_INPUTS,
    .infer = cc_infer_unary, .forward = forward, .backward = backward, .guided_backward = guided_backward,
    .range = forward_range,
};
