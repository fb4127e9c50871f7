/* layers/permute.c — x.permute(perm) with perm[0] = 0 (dim 0, the batch,
 * stays): torch.permute, x.transpose(a, b) for a, b >= 1, ViT's
 * qkv.permute(0, 2, 3, 1, 4)-style head splits, Swin's window partition
 * (0, 1, 3, 2, 4, 5) and ConvNeXt's NCHW <-> NHWC.
 *
 *   out[i_0, ..., i_{r-1}] = inp[j],  j_{perm[k]} = i_k
 * i.e. output dimension k is input dimension perm[k]. A strided copy
 * (view_copy.c: dimensions that stay adjacent collapse, runs along an
 * unmoved last dimension are memcpys). The backward scatters dout back
 * through the same map, dinp += permute^-1(dout). */
#include "kernels.h"

/* The map from the contiguous output to the input it reads. */
static cc_view permute_view(const cc_shape *in, const int *perm)
{
    size_t stride[CC_MAX_RANK];
    cc_shape_strides(in, stride);
    cc_view v = {in->rank, {0}, {0}, {0}};
    size_t st = 1;
    for (int k = in->rank - 1; k >= 0; k--) {
        v.n[k] = in->d[perm[k]];
        v.src[k] = stride[perm[k]];
        v.dst[k] = st;
        st *= (size_t)v.n[k];
    }
    return v;
}

void cc_permute_forward(cc_real *out, const cc_real *inp, const cc_shape *in, const int *perm)
{
    const cc_view v = permute_view(in, perm);
    cc_view_copy(out, inp, &v, 0);
}

void cc_permute_backward(cc_real *dinp, const cc_real *dout, const cc_shape *in, const int *perm)
{
    cc_view v = permute_view(in, perm);
    cc_view_swap(&v);
    cc_view_copy(dinp, dout, &v, 1);
}

static cc_status infer(const cc_attrs *a, const cc_shape *in, int nin, const cc_shape *param,
                       const int *has_param, cc_shape *out, cc_error *err)
{
    (void)nin, (void)param, (void)has_param;
    char buf[96];
    const cc_shape *x = &in[0];
    if (a->nperm != x->rank)
        return cc_fail(err, CC_EINVAL, "permute perm has %d values but the input %s has rank %d",
                       a->nperm, cc_shape_str(x, buf, sizeof buf), x->rank);
    if (a->perm[0] != 0)
        return cc_fail(err, CC_EINVAL, "permute perm[0]=%d must be 0 (dim 0, the batch, stays) for %s",
                       a->perm[0], cc_shape_str(x, buf, sizeof buf));
    int seen[CC_MAX_RANK] = {0};
    for (int k = 0; k < a->nperm; k++) {
        if (a->perm[k] < 0 || a->perm[k] >= x->rank || seen[a->perm[k]]++)
            return cc_fail(err, CC_EINVAL, "permute perm is not a permutation of 0..%d: perm[%d]=%d (input %s)",
                           x->rank - 1, k, a->perm[k], cc_shape_str(x, buf, sizeof buf));
    }
    *out = *x;
    for (int k = 0; k < x->rank; k++)
        out->d[k] = x->d[a->perm[k]];
    return CC_OK;
}

static void forward(const cc_op_args *a)
{
    cc_permute_forward(a->out, a->in[0], &a->in_shape[0], a->attrs->perm);
}

static void backward(const cc_op_args *a)
{
    if (a->din[0])
        cc_permute_backward(a->din[0], a->dout, &a->in_shape[0], a->attrs->perm);
}

const cc_op cc_op_permute = {
    .name = "permute", .min_inputs = 1, .max_inputs = 1,
    .saves_for_dinput = 0,
    .infer = infer, .forward = forward, .backward = backward,
};
