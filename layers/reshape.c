/* layers/reshape.c — x.reshape / view / flatten / unflatten / squeeze /
 * unsqueeze anywhere but dim 0, and Swin's window partition and merge,
 * where dim 0 becomes batch x windows and back.
 *
 * The attribute shape is the output for a batch of one; with
 * B = numel(inp) / prod(shape) (which must divide exactly),
 *   out shape = (shape[0] * B, shape[1], ..., shape[r-1]),  out = inp elementwise
 * in row-major order. A copy both ways: the backward adds dout. */
#include "kernels.h"

static cc_status infer(const cc_attrs *a, const cc_shape *in, int nin, const cc_shape *param,
                       const int *has_param, cc_shape *out, cc_error *err)
{
    (void)nin, (void)param, (void)has_param;
    char buf[96];
    const cc_shape *x = &in[0];
    if (a->nshape < 1 || a->nshape > CC_MAX_RANK)
        return cc_fail(err, CC_EINVAL, "reshape shape has %d values; it needs 1 to %d", a->nshape, CC_MAX_RANK);
    size_t per = 1;
    for (int k = 0; k < a->nshape; k++) {
        if (a->shape[k] < 1)
            return cc_fail(err, CC_EINVAL, "reshape shape[%d]=%d must be at least 1", k, a->shape[k]);
        per *= (size_t)a->shape[k];
        if (per > CC_MAX_NUMEL)
            return cc_fail(err, CC_EINVAL, "reshape shape has more than %zu elements", (size_t)CC_MAX_NUMEL);
    }
    const size_t n = cc_shape_numel(x);
    if (n == 0 || n % per)
        return cc_fail(err, CC_EINVAL, "reshape of %s (%zu elements) to a shape of %zu elements per batch "
                       "item: %zu is not a positive multiple of %zu", cc_shape_str(x, buf, sizeof buf), n, per,
                       n, per);
    cc_shape s = {a->nshape, {0}};
    for (int k = 0; k < a->nshape; k++)
        s.d[k] = a->shape[k];
    s.d[0] = (int)((size_t)a->shape[0] * (n / per));
    *out = s;
    return CC_OK;
}

const cc_op cc_op_reshape = {
    .name = "reshape", .min_inputs = 1, .max_inputs = 1,
    .saves_for_dinput = 0,
    .infer = infer, .forward = cc_copy_op_forward, .backward = cc_copy_op_backward,
};
