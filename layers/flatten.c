/* layers/flatten.c — torch.flatten(x, start_dim), end_dim = -1: dims
 * start_dim.. merge into one, so the output has rank start_dim + 1 and the
 * same row-major data (2x3x5x7, start_dim=1 -> 2x105). A copy both ways:
 * the backward adds dout. */
#include "kernels.h"

static cc_status infer(const cc_attrs *a, const cc_shape *in, int nin, const cc_shape *param,
                       const int *has_param, cc_shape *out, cc_error *err)
{
    (void)nin, (void)param, (void)has_param;
    char buf[64];
    const cc_shape *x = &in[0];
    if (a->start_dim < 1 || a->start_dim > x->rank - 1)
        return cc_fail(err, CC_EINVAL, "flatten start_dim=%d must be in 1..%d for a rank-%d input %s "
                       "(dim 0, the batch, stays)", a->start_dim, x->rank - 1, x->rank,
                       cc_shape_str(x, buf, sizeof buf));
    cc_shape s = {a->start_dim + 1, {0}};
    size_t merged = 1;
    for (int i = 0; i < x->rank; i++)
        if (i < a->start_dim)
            s.d[i] = x->d[i];
        else
            merged *= (size_t)x->d[i];
    if (merged > CC_MAX_NUMEL)
        return cc_fail(err, CC_EINVAL, "flatten of %s gives a dimension of %zu, more than %zu",
                       cc_shape_str(x, buf, sizeof buf), merged, (size_t)CC_MAX_NUMEL);
    s.d[a->start_dim] = (int)merged;
    *out = s;
    return CC_OK;
}

const cc_op cc_op_flatten = {
    .name = "flatten", .min_inputs = 1, .max_inputs = 1,
    .saves_for_dinput = 0,
    .infer = infer, .forward = cc_copy_op_forward, .backward = cc_copy_op_backward,
};
