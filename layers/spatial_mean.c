/* layers/spatial_mean.c — x.mean((2, 3)) of an N x C x H x W tensor, an N x C
 * result (torchvision's shufflenet_v2 and mnasnet end with it).
 *
 * out[n,c] = 1/(H W) * sum_{h,w} inp[n,c,h,w]
 * The global average pool computes the same numbers into N x C x 1 x 1, whose
 * data is N x C row-major, so its kernels serve here; only the shape drops the
 * two unit dims (keepdim=False; keepdim=True is adaptive_avgpool2d itself).
 * The map is linear: dinp[n,c,h,w] += dout[n,c] / (H W), nothing saved. */
#include "kernels.h"

static cc_status infer(const cc_attrs *a, const cc_shape *in, int nin, const cc_shape *param,
                       const int *has_param, cc_shape *out, cc_error *err)
{
    (void)a, (void)nin, (void)param, (void)has_param;
    char buf[64];
    const cc_shape *x = &in[0];
    if (x->rank != 4)
        return cc_fail(err, CC_EINVAL, "spatial_mean needs an NxCxHxW input, got %s (rank %d)",
                       cc_shape_str(x, buf, sizeof buf), x->rank);
    for (int i = 0; i < 4; i++)
        if (x->d[i] < 1)
            return cc_fail(err, CC_EINVAL, "spatial_mean input %s has dimension %d = %d; every "
                           "dimension must be at least 1", cc_shape_str(x, buf, sizeof buf), i, x->d[i]);
    *out = cc_shape2(x->d[0], x->d[1]);
    return CC_OK;
}

static void forward(const cc_op_args *a)
{
    const cc_shape *x = &a->in_shape[0];
    cc_adaptive_avgpool2d_forward(a->out, a->in[0], x->d[0] * x->d[1], x->d[2], x->d[3], 1, 1);
}

static void backward(const cc_op_args *a)
{
    const cc_shape *x = &a->in_shape[0];
    if (a->din[0])
        cc_adaptive_avgpool2d_backward(a->din[0], a->dout, x->d[0] * x->d[1], x->d[2], x->d[3], 1, 1);
}

const cc_op cc_op_spatial_mean = {
    .name = "spatial_mean", .min_inputs = 1, .max_inputs = 1,
    .saves_for_dinput = 0,
    .infer = infer, .forward = forward, .backward = backward,
};
