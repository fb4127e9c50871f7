/* layers/leaky_relu.c — y = x for x > 0, negative_slope * x otherwise   (torch.nn.LeakyReLU)
 * dy/dx = 1 for x > 0, else negative_slope: PyTorch's leaky_relu_backward
 * tests x > 0, so the kink x = 0 gets negative_slope. NaN: y = NaN (the
 * product carries it) and dy/dx = negative_slope, as PyTorch's. The backward
 * reads the input: with a negative slope, y does not tell x's sign. */
#include "kernels.h"

CC_VECTORISED static void forward_range(cc_real *out, const cc_real *inp, cc_real slope, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = inp[i] > 0 ? inp[i] : inp[i] * slope;
}

void cc_leaky_relu_forward(cc_real *out, const cc_real *inp, double negative_slope, size_t n)
{
    cc_parallel_map_param(forward_range, out, inp, (cc_real)negative_slope, n);
}

CC_VECTORISED static void backward_range(cc_real *dinp, const cc_real *dout, const cc_real *inp, cc_real slope,
                                         size_t n)
{
    for (size_t i = 0; i < n; i++)
        dinp[i] += inp[i] > 0 ? dout[i] : dout[i] * slope;
}

void cc_leaky_relu_backward(cc_real *dinp, const cc_real *dout, const cc_real *inp, double negative_slope,
                            size_t n)
{
    cc_parallel_map_grad_param(backward_range, dinp, dout, inp, (cc_real)negative_slope, n);
}

static void forward(const cc_op_args *a)
{
    cc_leaky_relu_forward(a->out, a->in[0], a->attrs->negative_slope, cc_shape_numel(&a->out_shape));
}

static void backward(const cc_op_args *a)
{
    if (a->din[0])
        cc_leaky_relu_backward(a->din[0], a->dout, a->in[0], a->attrs->negative_slope,
                               cc_shape_numel(&a->out_shape));
}

const cc_op cc_op_leaky_relu = {
    .name = "leaky_relu", .min_inputs = 1, .max_inputs = 1,
    .saves_for_dinput = CC_SAVES_INPUTS,
    .infer = cc_infer_unary, .forward = forward, .backward = backward,
};
