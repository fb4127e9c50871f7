/* layers/identity.c — y = x   (nn.Identity; nn.Dropout and torchvision's
 * StochasticDepth in eval mode), and the copy kernels and adapters flatten.c
 * and reshape.c share.
 * dy/dx = 1: the backward adds dout. */
#include "kernels.h"

#include <string.h>

void cc_copy_forward(cc_real *out, const cc_real *inp, size_t n)
{
    if (out != inp)
        memcpy(out, inp, n * sizeof *out);
}

void cc_copy_backward(cc_real *dinp, const cc_real *dout, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dinp[i] += dout[i];
}

void cc_copy_op_forward(const cc_op_args *a)
{
    cc_copy_forward(a->out, a->in[0], cc_shape_numel(&a->out_shape));
}

void cc_copy_op_backward(const cc_op_args *a)
{
    if (a->din[0])
        cc_copy_backward(a->din[0], a->dout, cc_shape_numel(&a->out_shape));
}

const cc_op cc_op_identity = {
    .name = "identity", .min_inputs = 1, .max_inputs = 1,
    .saves_for_dinput = 0,
    .infer = cc_infer_unary, .forward = cc_copy_op_forward, .backward = cc_copy_op_backward,
};
