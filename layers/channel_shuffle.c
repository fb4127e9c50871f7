/* layers/channel_shuffle.c — ShuffleNet's channel shuffle of N x C x H x W,
 * C = G * K (torchvision's shufflenetv2.channel_shuffle(x, G):
 * x.view(N, G, K, H, W).transpose(1, 2).contiguous().view(N, C, H, W)).
 *
 * out[n, k*G + g, hw] = inp[n, g*K + k, hw]
 * A permutation of whole channel planes: the backward sends each plane of
 * dout back to the plane it came from (dinp[n, g*K + k] += dout[n, k*G + g]). */
#include "kernels.h"

#include <string.h>

/* out, inp: N x C x HW. */
void cc_channel_shuffle_forward(cc_real *out, const cc_real *inp, int N, int C, int HW, int G)
{
    const int K = C / G;
    for (int n = 0; n < N; n++)
        for (int g = 0; g < G; g++)
            for (int k = 0; k < K; k++)
                memcpy(out + ((size_t)n * C + (size_t)k * G + g) * HW,
                       inp + ((size_t)n * C + (size_t)g * K + k) * HW, (size_t)HW * sizeof *out);
}

void cc_channel_shuffle_backward(cc_real *dinp, const cc_real *dout, int N, int C, int HW, int G)
{
    const int K = C / G;
    for (int n = 0; n < N; n++)
        for (int g = 0; g < G; g++)
            for (int k = 0; k < K; k++)
                cc_copy_backward(dinp + ((size_t)n * C + (size_t)g * K + k) * HW,
                                 dout + ((size_t)n * C + (size_t)k * G + g) * HW, (size_t)HW);
}

static cc_status infer(const cc_attrs *a, const cc_shape *in, int nin, const cc_shape *param,
                       const int *has_param, cc_shape *out, cc_error *err)
{
    (void)nin, (void)param, (void)has_param;
    char buf[64];
    const cc_shape *x = &in[0];
    if (x->rank != 4)
        return cc_fail(err, CC_EINVAL, "channel_shuffle needs an NxCxHxW input, got %s (rank %d)",
                       cc_shape_str(x, buf, sizeof buf), x->rank);
    if (a->groups < 1 || x->d[1] % a->groups)
        return cc_fail(err, CC_EINVAL, "channel_shuffle groups=%d must divide the %d channels of %s",
                       a->groups, x->d[1], cc_shape_str(x, buf, sizeof buf));
    *out = *x;
    return CC_OK;
}

static void forward(const cc_op_args *a)
{
    const cc_shape *x = &a->in_shape[0];
    cc_channel_shuffle_forward(a->out, a->in[0], x->d[0], x->d[1], x->d[2] * x->d[3], a->attrs->groups);
}

static void backward(const cc_op_args *a)
{
    const cc_shape *x = &a->in_shape[0];
    if (a->din[0])
        cc_channel_shuffle_backward(a->din[0], a->dout, x->d[0], x->d[1], x->d[2] * x->d[3],
                                    a->attrs->groups);
}

const cc_op cc_op_channel_shuffle = {
    .name = "channel_shuffle", .min_inputs = 1, .max_inputs = 1,
    .saves_for_dinput = 0,
    .infer = infer, .forward = forward, .backward = backward,
};
