/* layers/silu.c — y = x * s(x), s = 1 / (1 + exp(-x))   (torch.nn.SiLU, "swish")
 * dy/dx = s + x s (1 - s) = s (1 + x (1 - s)), PyTorch's silu_backward.
 * The backward reads the input: silu is not monotonic (minimum near x = -1.28),
 * so y does not determine x. Evaluated in double; no NaN for large |x|. */
#include "kernels.h"

#include <math.h>

void cc_silu_forward(cc_real *out, const cc_real *inp, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const double x = inp[i];
        out[i] = (cc_real)(x / (1.0 + exp(-x)));
    }
}

void cc_silu_backward(cc_real *dinp, const cc_real *dout, const cc_real *inp, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const double x = inp[i], s = 1.0 / (1.0 + exp(-x));
        dinp[i] += (cc_real)(dout[i] * s * (1.0 + x * (1.0 - s)));
    }
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

const cc_op cc_op_silu = {
    .name = "silu", .min_inputs = 1, .max_inputs = 1,
    .saves_for_dinput = CC_SAVES_INPUTS,
    .infer = cc_infer_unary, .forward = forward, .backward = backward,
};
