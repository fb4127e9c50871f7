/* layers/pool_shape.c — output size of max and average pooling, as PyTorch's
 * pooling_output_shape_pad_lr (aten/src/ATen/native/Pool.h):
 *
 *   O = floor((I + P_a + P_b - K + (ceil_mode ? S - 1 : 0)) / S) + 1
 *   ceil_mode: if (O - 1) * S >= I + P_a then O -= 1
 *
 * The correction keeps the last window starting inside the input or its
 * leading padding, so every window covers at least one real element (which
 * is why the pooling kernels never see an empty window). PyTorch pads
 * symmetrically; pad[2]/pad[3] (bottom/right) are honoured here for the
 * size, as PyTorch's asymmetric (_pad_lr) variant does. */
#include "pool_shape.h"

static int pool_out(int in, int pad_a, int pad_b, int k, int stride, int ceil_mode)
{
    const long long num = (long long)in + pad_a + pad_b - k + (ceil_mode ? stride - 1 : 0);
    if (num < 0)
        return 0;  /* PyTorch's div_rtn would give an output size <= 0 */
    long long o = num / stride + 1;
    if (ceil_mode && (o - 1) * stride >= (long long)in + pad_a)
        o--;
    return o > 0x7fffffff ? 0x7fffffff : (int)o;
}

cc_status cc_pool_infer(const char *op, const cc_attrs *a, const cc_shape *in, cc_shape *out,
                        cc_error *err)
{
    if (in->rank != 4)
        return cc_fail(err, CC_EINVAL, "%s needs an NxCxHxW input, got rank %d", op, in->rank);
    for (int i = 0; i < 4; i++)
        if (in->d[i] < 1)
            return cc_fail(err, CC_EINVAL, "%s input dimension %d is %d; every dimension must be at least 1",
                           op, i, in->d[i]);
    const int KH = a->kernel[0], KW = a->kernel[1];
    if (KH < 1 || KW < 1 || a->stride[0] < 1 || a->stride[1] < 1)
        return cc_fail(err, CC_EINVAL, "%s kernel_size %dx%d and stride %dx%d must be at least 1",
                       op, KH, KW, a->stride[0], a->stride[1]);
    /* PyTorch: "pad should be at most half of kernel size"; a larger pad
     * would allow windows made of padding only. */
    static const char *const side[4] = {"top", "left", "bottom", "right"};
    for (int i = 0; i < 4; i++) {
        const int k = i % 2 ? KW : KH;
        if (a->pad[i] < 0 || a->pad[i] > k / 2)
            return cc_fail(err, CC_EINVAL, "%s padding %d (%s) must be between 0 and half the kernel size "
                           "%d, so at most %d", op, a->pad[i], side[i], k, k / 2);
    }
    const int H = in->d[2], W = in->d[3];
    const int OH = pool_out(H, a->pad[0], a->pad[2], KH, a->stride[0], a->ceil_mode);
    const int OW = pool_out(W, a->pad[1], a->pad[3], KW, a->stride[1], a->ceil_mode);
    if (OH < 1 || OW < 1)
        return cc_fail(err, CC_EINVAL, "%s input %dx%d padded by %d,%d,%d,%d is smaller than its %dx%d "
                       "kernel: output would be %dx%d", op, H, W, a->pad[0], a->pad[1], a->pad[2],
                       a->pad[3], KH, KW, OH, OW);
    /* Bounds both tensors, so every index inside the kernels fits an int. */
    size_t n_in = 1, n_out = 1;
    const int od[4] = {in->d[0], in->d[1], OH, OW};
    for (int i = 0; i < 4; i++) {
        n_in *= (size_t)in->d[i];
        n_out *= (size_t)od[i];
        if (n_in > CC_MAX_NUMEL || n_out > CC_MAX_NUMEL)
            return cc_fail(err, CC_EINVAL, "%s input %dx%dx%dx%d with output %dx%dx%dx%d exceeds the "
                           "limit of %zu elements per tensor", op, in->d[0], in->d[1], H, W,
                           od[0], od[1], OH, OW, (size_t)CC_MAX_NUMEL);
    }
    *out = cc_shape4(in->d[0], in->d[1], OH, OW);
    return CC_OK;
}

cc_pool_dims cc_pool_dims_of(const cc_op_args *args)
{
    const cc_attrs *t = args->attrs;
    const cc_pool_dims d = {
        .N = args->in_shape[0].d[0], .C = args->in_shape[0].d[1],
        .H = args->in_shape[0].d[2], .W = args->in_shape[0].d[3],
        .KH = t->kernel[0], .KW = t->kernel[1], .SH = t->stride[0], .SW = t->stride[1],
        .PT = t->pad[0], .PL = t->pad[1],
        .OH = args->out_shape.d[2], .OW = args->out_shape.d[3],
    };
    return d;
}
