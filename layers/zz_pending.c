/* TEMPORARY during development: weak placeholders so the registry links while
 * ops are being written. Must be deleted before commit. */
#include "op.h"
#define PENDING(x) __attribute__((weak)) const cc_op cc_op_##x = {.name = #x};
PENDING(batchnorm2d) PENDING(linear) PENDING(relu6) PENDING(hardswish) PENDING(hardsigmoid)
PENDING(sigmoid) PENDING(silu) PENDING(maxpool2d) PENDING(avgpool2d) PENDING(adaptive_avgpool2d)
PENDING(add) PENDING(mul) PENDING(flatten) PENDING(identity) PENDING(concat)
#include "kernels.h"
__attribute__((weak)) void cc_conv2d_depthwise_forward(cc_real *out, const cc_real *inp, const cc_real *weight, const cc_real *bias, const cc_conv_dims *d) { cc_conv2d_forward(out, inp, weight, bias, d); }
__attribute__((weak)) void cc_conv2d_depthwise_backward(cc_real *dinp, cc_real *dweight, cc_real *dbias, const cc_real *dout, const cc_real *inp, const cc_real *weight, const cc_conv_dims *d) { cc_conv2d_backward(dinp, dweight, dbias, dout, inp, weight, d); }
