/* layers/upsample_shape.c — see upsample_shape.h. */
#include "upsample_shape.h"

#include <math.h>

cc_status cc_upsample_infer(const char *op, const cc_attrs *a, const cc_shape *in, cc_shape *out,
                            cc_error *err)
{
    char buf[64];
    if (in->rank != 4)
        return cc_fail(err, CC_EINVAL, "%s needs an NxCxHxW input, got %s (rank %d)", op,
                       cc_shape_str(in, buf, sizeof buf), in->rank);
    int od[2];
    for (int i = 0; i < 2; i++) {
        const int d = in->d[2 + i];
        /* PyTorch: static_cast<int64_t>(input_size * scale), a double product truncated. */
        const double o = a->scale_factor[i] > 0 ? floor((double)d * a->scale_factor[i]) : a->output_size[i];
        if (!(o >= 1 && o <= (double)CC_MAX_NUMEL))
            return cc_fail(err, CC_EINVAL, "%s of %s with scale factor %g gives an output %s of %.0f; "
                           "it must be at least 1", op, cc_shape_str(in, buf, sizeof buf),
                           a->scale_factor[i], i ? "width" : "height", o);
        od[i] = (int)o;
    }
    const size_t n = (size_t)in->d[0] * in->d[1] * od[0];
    if (n * od[1] > CC_MAX_NUMEL || n > CC_MAX_NUMEL)
        return cc_fail(err, CC_EINVAL, "%s output %dx%dx%dx%d exceeds the limit of %zu elements per tensor",
                       op, in->d[0], in->d[1], od[0], od[1], (size_t)CC_MAX_NUMEL);
    *out = cc_shape4(in->d[0], in->d[1], od[0], od[1]);
    return CC_OK;
}

float cc_upsample_scale(const cc_attrs *a, int axis, int in, int out, int align_corners)
{
    if (align_corners)
        return out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
    if (a->scale_factor[axis] > 0 && !a->recompute_scale_factor)
        return (float)(1.0 / a->scale_factor[axis]);
    return (float)in / (float)out;
}
