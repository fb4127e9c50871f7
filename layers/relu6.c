/* layers/relu6.c — y = min(max(x, 0), 6)   (torch.nn.ReLU6, i.e. hardtanh(x, 0, 6))
 * dy/dx = 1 for 0 < x < 6, else 0: PyTorch's hardtanh_backward gives 0 at
 * both kinks, x = 0 and x = 6. NaN: y = NaN (neither comparison holds) and
 * dy/dx = 0, as F.relu6 and its vectorised backward give. */
#include "kernels.h"

CC_VECTORISED static void forward_range(cc_real *out, const cc_real *inp, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = inp[i] < 0 ? 0 : inp[i] > 6 ? 6 : inp[i];
}

void cc_relu6_forward(cc_real *out, const cc_real *inp, size_t n)
{
    cc_parallel_map(forward_range, out, inp, n);
}

CC_VECTORISED static void backward_range(cc_real *dinp, const cc_real *dout, const cc_real *inp, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (inp[i] > 0 && inp[i] < 6)
            dinp[i] += dout[i];
}

void cc_relu6_backward(cc_real *dinp, const cc_real *dout, const cc_real *inp, size_t n)
{
    cc_parallel_map_grad(backward_range, dinp, dout, inp, n);
}

/* Guided (op.h): the backward's slope, 1 strictly inside (0, 6). */
CC_VECTORISED static void guided_range(cc_real *dinp, const cc_real *dout, const cc_real *inp, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dinp[i] += inp[i] > 0 && inp[i] < 6 ? cc_positive_part(dout[i]) : 0;
}

void cc_relu6_guided_backward(cc_real *dinp, const cc_real *dout, const cc_real *inp, size_t n)
{
    cc_parallel_map_grad(guided_range, dinp, dout, inp, n);
}

static void forward(const cc_op_args *a)
{
    cc_relu6_forward(a->out, a->in[0], cc_shape_numel(&a->out_shape));
}

static void backward(const cc_op_args *a)
{
    if (a->din[0])
        cc_relu6_backward(a->din[0], a->dout, a->in[0], cc_shape_numel(&a->out_shape));
}

static void guided_backward(const cc_op_args *a)
{
    if (a->din[0])
        cc_relu6_guided_backward(a->din[0], a->dout, a->in[0], cc_shape_numel(&a->out_shape));
}

/* The input, not the output: y = 6 cannot tell x = 6 (gradient 0) from 5.999. */
const cc_op cc_op_relu6 = {
    .name = "relu6", .min_inputs = 1, .max_inputs = 1,
    .saves_for_dinput = CC_SAVES_INPUTS,
    .infer = cc_infer_unary, .forward = forward, .backward = backward, .guided_backward = guided_backward,
    .range = forward_range,
};
