/* layers/registry.c — every op the engine knows, by the name model files use.
 * tests/test_gradcheck_ops.c fails if an op here has no gradient check,
 * tests/test_parity.c if it has no PyTorch parity fixture. */
#include "op.h"

#include <string.h>

extern const cc_op cc_op_conv2d, cc_op_batchnorm2d, cc_op_linear;
extern const cc_op cc_op_relu, cc_op_relu6, cc_op_hardswish, cc_op_hardsigmoid;
extern const cc_op cc_op_sigmoid, cc_op_silu;
extern const cc_op cc_op_leaky_relu, cc_op_elu, cc_op_batchnorm1d, cc_op_softmax, cc_op_log_softmax;
extern const cc_op cc_op_maxpool2d, cc_op_avgpool2d, cc_op_adaptive_avgpool2d;
extern const cc_op cc_op_add, cc_op_mul, cc_op_flatten, cc_op_identity, cc_op_concat;
extern const cc_op cc_op_spatial_mean, cc_op_slice, cc_op_channel_shuffle;
extern const cc_op cc_op_upsample_nearest, cc_op_upsample_bilinear;
extern const cc_op cc_op_layer_norm, cc_op_gelu, cc_op_gelu_tanh;
extern const cc_op cc_op_permute, cc_op_reshape, cc_op_roll, cc_op_pad;
extern const cc_op cc_op_matmul, cc_op_add_const, cc_op_mul_const;

const cc_op *const cc_ops[] = {
    &cc_op_conv2d, &cc_op_batchnorm2d, &cc_op_linear,
    &cc_op_relu, &cc_op_relu6, &cc_op_hardswish, &cc_op_hardsigmoid, &cc_op_sigmoid, &cc_op_silu,
    &cc_op_maxpool2d, &cc_op_avgpool2d, &cc_op_adaptive_avgpool2d,
    &cc_op_add, &cc_op_mul, &cc_op_flatten, &cc_op_identity, &cc_op_concat,
    &cc_op_spatial_mean, &cc_op_slice, &cc_op_channel_shuffle,
    &cc_op_upsample_nearest, &cc_op_upsample_bilinear,
    &cc_op_leaky_relu, &cc_op_elu, &cc_op_batchnorm1d, &cc_op_softmax, &cc_op_log_softmax,
    &cc_op_layer_norm, &cc_op_gelu, &cc_op_gelu_tanh,
    &cc_op_permute, &cc_op_reshape, &cc_op_roll, &cc_op_pad,
    &cc_op_matmul, &cc_op_add_const, &cc_op_mul_const,
    NULL,
};

const cc_op *cc_op_find(const char *name)
{
    for (int i = 0; cc_ops[i]; i++)
        if (!strcmp(cc_ops[i]->name, name))
            return cc_ops[i];
    return NULL;
}
