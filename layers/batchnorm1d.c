/* layers/batchnorm1d.c — torch.nn.BatchNorm1d in eval mode (running statistics)
 * on N x C (after a linear layer) or N x C x L.
 *
 * out[n,c,l] = (inp[n,c,l] - mean[c]) / sqrt(var[c] + eps) * weight[c] + bias[c]:
 * the map of batchnorm2d.c with the spatial plane H x W replaced by L (1 for
 * N x C), so both ops share its kernels, gradients and parameter checks;
 * this file holds only the shapes it takes and its descriptor. */
#include "kernels.h"

extern const cc_op cc_op_batchnorm1d;

static cc_status infer(const cc_attrs *a, const cc_shape *in, int nin, const cc_shape *param,
                       const int *has_param, cc_shape *out, cc_error *err)
{
    (void)nin;
    char buf[64];
    if (in[0].rank != 2 && in[0].rank != 3)
        return cc_fail(err, CC_EINVAL, "batchnorm1d needs an N x C or N x C x L input, got %s (rank %d)",
                       cc_shape_str(&in[0], buf, sizeof buf), in[0].rank);
    const cc_status st = cc_batchnorm_check(&cc_op_batchnorm1d, a, &in[0], param, has_param, err);
    if (st)
        return st;
    *out = in[0];
    return CC_OK;
}

const cc_op cc_op_batchnorm1d = {
    .name = "batchnorm1d", .min_inputs = 1, .max_inputs = 1,
    .nparams = 4, .param_names = {"weight", "bias", "running_mean", "running_var"},
    .required_params = 1u << 2 | 1u << 3, .buffer_params = 1u << 2 | 1u << 3,
    .saves_for_dinput = 0, .saves_for_dparam = CC_SAVES_INPUTS,
    .infer = infer, .forward = cc_batchnorm_op_forward, .backward = cc_batchnorm_op_backward,
};
