/* layers/pool_shape.h — shape inference shared by maxpool2d and avgpool2d. */
#ifndef CC_POOL_SHAPE_H
#define CC_POOL_SHAPE_H

#include "kernels.h"

/* Checks an NxCxHxW input against kernel_size, stride, padding and ceil_mode
 * as PyTorch 1.13 does, and sets *out to NxCxOHxOW. `op` names the op in the
 * messages. Dilation and count_include_pad are each op's own business. */
cc_status cc_pool_infer(const char *op, const cc_attrs *a, const cc_shape *in, cc_shape *out,
                        cc_error *err);

/* The kernel dimensions of a call that shape inference accepted. */
cc_pool_dims cc_pool_dims_of(const cc_op_args *args);

#endif
