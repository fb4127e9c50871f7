/* tests/test_gradcheck_ops.c — every op's hand-written backward against
 * central finite differences of a random-weighted loss L = sum_i r_i y_i.
 *
 * Built twice: in double (PyTorch gradcheck's eps 1e-6, atol 1e-5, rtol 1e-3)
 * and in float (eps 1e-2, atol 1e-3, rtol 1e-2); see tu_gradcheck_tolerance.
 * Each case also checks that the backward accumulates (gradient buffers start
 * at 0.5, not 0) and that a gradient nobody asked for (NULL) is skipped
 * without changing the others. Samples are kept 0.05 away from every kink
 * (the kinks themselves are pinned against PyTorch in test_parity). Also:
 * parameter shapes that shape inference must refuse, with its message. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *op;
    const char *label;
    const char *inputs;  /* shapes separated by ';' */
    const char *params;  /* "name=shape ..." in any order; absent optional ones are NULL */
    const char *attrs;   /* "key=v[,v...] ..." as cc_attrs_set takes them */
} op_case;

static const op_case cases[] = {
    {"conv2d", "3x3 pad 1, bias, batch 2", "2x3x7x9", "weight=4x3x3x3 bias=4", "kernel_size=3 padding=1"},
    {"conv2d", "stride 2, dilation 2, asymmetric pad", "2x3x11x13", "weight=5x3x3x3 bias=5",
     "kernel_size=3 stride=2 dilation=2 padding=1,2,0,3"},
    {"conv2d", "groups 3, 1x5, stride 2x1, no bias", "1x6x7x11", "weight=9x2x1x5",
     "kernel_size=1,5 stride=2,1 padding=0,2 groups=3"},
    {"conv2d", "1x1 pointwise", "2x7x5x3", "weight=11x7x1x1 bias=11", "kernel_size=1"},
    {"conv2d", "channel multiplier 2 (groups = C, OC = 2C)", "1x3x7x7", "weight=6x1x3x3 bias=6",
     "kernel_size=3 padding=1 groups=3"},
    {"conv2d", "depthwise 3x3 stride 2", "2x5x9x7", "weight=5x1x3x3 bias=5",
     "kernel_size=3 stride=2 padding=1 groups=5"},
    {"conv2d", "depthwise 5x5 dilation 2, asymmetric pad, no bias", "1x4x13x11", "weight=4x1x5x5",
     "kernel_size=5 dilation=2 padding=4,3,2,4 groups=4"},
    {"batchnorm2d", "eps 1e-3 (MobileNetV3)", "2x5x7x3",
     "weight=5 bias=5 running_mean=5 running_var=5", "eps=0.001"},
    {"batchnorm2d", "affine=False, eps 1e-5", "1x3x5x5", "running_mean=3 running_var=3", "eps=0.00001"},
    {"linear", "bias", "2x17", "weight=13x17 bias=13", ""},
    {"linear", "no bias", "3x7", "weight=5x7", ""},
    {"relu", "", "2x3x5x7", "", ""},
    {"relu6", "", "2x3x5x7", "", ""},
    {"hardswish", "", "2x3x5x7", "", ""},
    {"hardsigmoid", "", "2x3x5x7", "", ""},
    {"sigmoid", "", "2x3x5x7", "", ""},
    {"silu", "", "3x11", "", ""},
    {"maxpool2d", "3x3 stride 2 pad 1 (ResNet stem)", "2x3x11x9", "", "kernel_size=3 stride=2 padding=1"},
    {"maxpool2d", "ceil_mode", "1x2x10x7", "", "kernel_size=3 stride=2 ceil_mode=1"},
    {"maxpool2d", "2x2 stride 2 (VGG)", "1x3x8x6", "", "kernel_size=2 stride=2"},
    {"avgpool2d", "3x3 stride 2 pad 1, count_include_pad", "2x3x11x9", "", "kernel_size=3 stride=2 padding=1"},
    {"avgpool2d", "exclude pad, ceil_mode", "1x2x10x7", "",
     "kernel_size=3 stride=2 padding=1 ceil_mode=1 count_include_pad=0"},
    {"adaptive_avgpool2d", "global 1x1", "2x3x7x7", "", "output_size=1"},
    {"adaptive_avgpool2d", "7x7 from 13x11 (uneven cells)", "1x2x13x11", "", "output_size=7"},
    {"adaptive_avgpool2d", "7x7 from 5x3 (cells repeat)", "1x2x5x3", "", "output_size=7"},
    {"add", "", "2x3x5x7;2x3x5x7", "", ""},
    {"mul", "scale first (SE)", "2x5x1x1;2x5x7x3", "", ""},
    {"mul", "scale second", "2x5x7x3;2x5x1x1", "", ""},
    {"flatten", "", "2x3x5x7", "", "start_dim=1"},
    {"identity", "", "2x3x5x7", "", ""},
    {"concat", "three inputs", "2x3x5x7;2x4x5x7;2x1x5x7", "", "axis=1"},
    {"concat", "25 inputs (densenet121's widest)", "1x2x2x3;1x1x2x3;1x1x2x3;1x2x2x3;1x1x2x3;1x1x2x3;1x2x2x3;1x1x2x3;1x1x2x3;1x2x2x3;1x1x2x3;1x1x2x3;1x2x2x3;1x1x2x3;1x1x2x3;1x2x2x3;1x1x2x3;1x1x2x3;1x2x2x3;1x1x2x3;1x1x2x3;1x2x2x3;1x1x2x3;1x1x2x3;1x2x2x3", "", "axis=1"},
    {"spatial_mean", "x.mean((2, 3))", "2x3x5x7", "", ""},
    {"slice", "channels 2..6 of 7", "2x7x3x5", "", "start=2 end=6"},
    {"slice", "x[:, :4] of N x F", "3x11", "", "start=0 end=4"},
    {"slice", "x[:, :, 1:7:2] (axis 2, step 2)", "2x3x7x5", "", "axis=2 start=1 end=7 step=2"},
    {"slice", "x[..., 0:8:3] (axis 3, step 3, partial last step)", "2x3x4x8", "", "axis=3 start=0 end=8 step=3"},
    {"slice", "Swin patch merging x[:, 1::2, 0::2, :]", "2x6x4x3", "", "axis=1 start=1 end=6 step=2"},
    {"slice", "rank 6, last axis, step 2", "1x2x2x3x2x6", "", "axis=5 start=1 end=6 step=2"},
    {"slice", "rank 5, axis 4 step 1", "2x2x3x2x5", "", "axis=4 start=1 end=4"},
    {"concat", "last axis of rank 3 (tokens)", "2x5x3;2x5x4", "", "axis=2"},
    {"concat", "last axis of rank 4 (Swin patch merging)", "2x3x4x2;2x3x4x5;2x3x4x1", "", "axis=3"},
    {"concat", "class token before patches, axis 1 of rank 3", "2x1x6;2x9x6", "", "axis=1"},
    {"concat", "rank 2, axis 1", "3x2;3x5", "", "axis=1"},
    {"concat", "rank 6, axis 4", "1x2x2x3x2x2;1x2x2x3x3x2", "", "axis=4"},
    {"permute", "rank 6 Swin window partition (0,1,3,2,4,5)", "2x2x3x2x3x4", "", "perm=0,1,3,2,4,5"},
    {"permute", "rank 5 ViT heads (0,2,3,1,4)", "2x5x3x2x4", "", "perm=0,2,3,1,4"},
    {"permute", "rank 4 NCHW -> NHWC (ConvNeXt)", "2x3x4x5", "", "perm=0,2,3,1"},
    {"permute", "rank 4 NHWC -> NCHW", "2x4x5x3", "", "perm=0,3,1,2"},
    {"permute", "rank 3 transpose(1, 2)", "2x5x7", "", "perm=0,2,1"},
    {"permute", "rank 2 identity", "3x4", "", "perm=0,1"},
    {"permute", "rank 6 reversed (0,5,4,3,2,1)", "1x2x3x2x2x3", "", "perm=0,5,4,3,2,1"},
    {"reshape", "unflatten, batch 2 (dim 0 scales)", "2x6x5", "", "shape=1,3,2,5"},
    {"reshape", "Swin window merge to B*nW (rank 6 -> 4)", "2x2x2x3x3x4", "", "shape=4,3,3,4"},
    {"reshape", "rank 2 -> rank 6, batch 3", "3x24", "", "shape=1,2,1,3,2,2"},
    {"reshape", "flatten to tokens (rank 4 -> 3)", "2x3x4x5", "", "shape=1,12,5"},
    {"roll", "two dims, negative and larger than the size", "2x5x6x3", "", "shifts=-2,7 dims=1,2"},
    {"roll", "Swin shift (-1, -1) of NHWC", "2x4x4x3", "", "shifts=-1,-1 dims=1,2"},
    {"roll", "one dim, shift 10 of 7", "2x7x3", "", "shifts=10 dims=1"},
    {"roll", "rank 6, three dims", "1x3x2x2x3x2", "", "shifts=1,-1,4 dims=1,3,4"},
    {"roll", "one dim listed twice (shifts add)", "2x3x5", "", "shifts=1,2 dims=2,2"},
    {"pad", "rank 4, H and W, asymmetric", "2x3x4x5", "", "pads=0,0,0,0,1,2,2,1"},
    {"pad", "rank 4 NHWC to whole windows (Swin)", "2x3x5x2", "", "pads=0,0,0,1,0,3,0,0"},
    {"pad", "rank 3, two dims", "2x5x3", "", "pads=0,0,2,0,0,3"},
    {"pad", "rank 2", "3x4", "", "pads=0,0,1,1"},
    {"pad", "rank 6, several dims", "1x2x1x3x2x2", "", "pads=0,0,1,0,0,2,1,1,0,0,0,1"},
    {"channel_shuffle", "groups 2 (ShuffleNetV2)", "2x6x3x5", "", "groups=2"},
    {"channel_shuffle", "groups 3", "1x12x2x3", "", "groups=3"},
    {"upsample_nearest", "size 7x11 from 5x7", "2x3x5x7", "", "output_size=7,11"},
    {"upsample_nearest", "size 4x5 from 7x9 (down)", "1x2x7x9", "", "output_size=4,5"},
    {"upsample_nearest", "scale_factor 1.7,2", "1x2x5x4", "", "scale_factor=1.7,2"},
    {"upsample_bilinear", "size 7x11 from 5x7", "2x3x5x7", "", "output_size=7,11"},
    {"upsample_bilinear", "align_corners, size 9x4 from 5x7", "1x2x5x7", "", "output_size=9,4 align_corners=1"},
    {"upsample_bilinear", "scale_factor 1.5,0.6, recomputed", "1x2x6x9", "",
     "scale_factor=1.5,0.6 recompute_scale_factor=1"},
    {"leaky_relu", "default slope 0.01", "2x3x5x7", "", ""},
    {"leaky_relu", "slope 0.2, rank 2", "3x11", "", "negative_slope=0.2"},
    {"elu", "alpha 1", "2x3x5x7", "", ""},
    {"elu", "alpha 0.5, rank 2", "3x11", "", "alpha=0.5"},
    {"batchnorm1d", "N x F after a linear, eps 1e-5", "3x7", "weight=7 bias=7 running_mean=7 running_var=7",
     "eps=0.00001"},
    {"batchnorm1d", "N x C x L, affine=False, eps 1e-3", "2x5x3", "running_mean=5 running_var=5", "eps=0.001"},
    {"softmax", "N x classes", "3x11", "", "axis=1"},
    {"log_softmax", "N x classes", "3x11", "", "axis=1"},
    {"layer_norm", "tokens 2x5x7, eps 1e-6 (ViT, ConvNeXt)", "2x5x7", "weight=7 bias=7", "eps=0.000001"},
    {"layer_norm", "rank 2, eps 1e-5 (Swin)", "3x11", "weight=11 bias=11", "eps=0.00001"},
    {"layer_norm", "NHWC 2x3x2x5, no affine", "2x3x2x5", "", "eps=0.00001"},
    {"layer_norm", "rank 1, weight only", "13", "weight=13", "eps=0.000001"},
    {"gelu", "erf, rank 4", "2x3x5x7", "", ""},
    {"gelu", "erf, tokens 2x5x9", "2x5x9", "", ""},
    {"gelu_tanh", "tanh approximation, rank 4", "2x3x5x7", "", ""},
    {"gelu_tanh", "tanh approximation, rank 2", "3x11", "", ""},
    {"linear", "tokens 2x5x7 (ViT), bias", "2x5x7", "weight=4x7 bias=4", ""},
    {"linear", "rank 4 2x3x2x5, no bias", "2x3x2x5", "weight=3x5", ""},
    {"linear", "rank 5 2x2x3x2x4, bias", "2x2x3x2x4", "weight=3x4 bias=3", ""},
    {"matmul", "q k^T * 0.125 (trans_b), rank 4", "2x3x5x4;2x3x6x4", "", "trans_b=1 alpha=0.125"},
    {"matmul", "attn v, rank 3", "2x5x6;2x6x4", "", ""},
    {"matmul", "rank 5, alpha -1.5", "2x2x3x4x3;2x2x3x3x5", "", "alpha=-1.5"},
    {"matmul", "rank 5, trans_b", "2x1x2x3x4;2x1x2x5x4", "", "trans_b=1"},
    {"add_const", "position embedding 1x5x7 on 2x5x7", "2x5x7", "value=1x5x7", ""},
    {"add_const", "relative position bias 1x3x4x4 on 2x3x4x4", "2x3x4x4", "value=1x3x4x4", ""},
    {"add_const", "Swin mask 1x2x1x4x4 on 2x2x3x4x4 (rank 5)", "2x2x3x4x4", "value=1x2x1x4x4", ""},
    {"add_const", "scalar [1] on rank 3", "2x3x5", "value=1", ""},
    {"add_const", "per channel 3x1x1 on NCHW", "2x3x4x5", "value=3x1x1", ""},
    {"mul_const", "layer scale 3x1x1 on NCHW", "2x3x4x5", "value=3x1x1", ""},
    {"mul_const", "layer scale [C] on NHWC", "2x3x4x5", "value=5", ""},
    {"mul_const", "scalar [1] on rank 4", "2x3x4x5", "value=1", ""},
    {"mul_const", "layer scale [7] on tokens 2x5x7 (rank 3)", "2x5x7", "value=7", ""},
    {"mul_const", "1x2x1x4x1 on 2x2x3x4x5 (rank 5)", "2x2x3x4x5", "value=1x2x1x4x1", ""},
    {"softmax", "attention scores rank 4", "2x3x5x6", "", "axis=3"},
    {"softmax", "rank 3", "2x4x9", "", "axis=2"},
    {"softmax", "rank 5", "2x2x3x2x5", "", "axis=4"},
    {"log_softmax", "rank 3", "2x4x9", "", "axis=2"},
    {"log_softmax", "rank 4", "2x3x5x6", "", "axis=3"},
    {"log_softmax", "rank 5", "2x2x3x2x5", "", "axis=4"},
};

/* Values where an op's derivative jumps; samples stay 0.05 away. */
static int near_kink(const char *op, double x)
{
    static const struct { const char *op; double k[2]; int n; } kinks[] = {
        {"relu", {0, 0}, 1}, {"relu6", {0, 6}, 2},
        {"hardswish", {-3, 3}, 2}, {"hardsigmoid", {-3, 3}, 2},
        {"leaky_relu", {0, 0}, 1}, {"elu", {0, 0}, 1},
    };
    for (size_t i = 0; i < sizeof kinks / sizeof kinks[0]; i++)
        if (!strcmp(op, kinks[i].op))
            for (int j = 0; j < kinks[i].n; j++)
                if (fabs(x - kinks[i].k[j]) < 0.05)
                    return 1;
    return 0;
}

static void fill_input(const char *op, cc_real *x, size_t n, tu_rng *rng)
{
    if (!strcmp(op, "maxpool2d")) {
        /* Distinct values 0.05 apart in random order: no ties inside a window. */
        for (size_t i = 0; i < n; i++)
            x[i] = (cc_real)(0.05 * (double)i - 0.025 * (double)n);
        for (size_t i = n - 1; i > 0; i--) {
            size_t j = tu_next(rng) % (i + 1);
            cc_real t = x[i];
            x[i] = x[j], x[j] = t;
        }
        return;
    }
    const double lo = !strcmp(op, "relu6") ? -2 : -4.5, hi = !strcmp(op, "relu6") ? 8 : 4.5;
    for (size_t i = 0; i < n; i++) {
        double v;
        do
            v = tu_uniform(rng, lo, hi);
        while (near_kink(op, v));
        x[i] = (cc_real)v;
    }
}

typedef struct {
    const cc_op *op;
    cc_attrs attrs;
    int nin;
    cc_shape in_shape[CC_MAX_INPUTS];
    cc_real *in[CC_MAX_INPUTS];
    cc_shape param_shape[CC_MAX_PARAMS];
    cc_real *param[CC_MAX_PARAMS];
    int has_param[CC_MAX_PARAMS];
    cc_shape out_shape;
    cc_real *out;
    double *r;  /* loss weights */
    void *scratch;  /* op->scratch_bytes for these shapes, as the engine provides it */
} instance;

static cc_op_args args_of(const instance *t)
{
    cc_op_args a;
    memset(&a, 0, sizeof a);
    a.attrs = &t->attrs;
    a.ninputs = t->nin;
    for (int i = 0; i < t->nin; i++)
        a.in_shape[i] = t->in_shape[i], a.in[i] = t->in[i];
    for (int i = 0; i < t->op->nparams; i++)
        a.param_shape[i] = t->param_shape[i], a.param[i] = t->param[i];
    a.out_shape = t->out_shape;
    a.out = t->out;
    a.scratch = t->scratch;
    return a;
}

/* L = sum r_i y_i, accumulated in double so float rounding of the sum does
 * not swamp the difference quotient. */
static double loss(const instance *t)
{
    cc_op_args a = args_of(t);
    t->op->forward(&a);
    size_t n = cc_shape_numel(&t->out_shape);
    double L = 0;
    for (size_t i = 0; i < n; i++)
        L += t->r[i] * (double)t->out[i];
    return L;
}

static double numeric_grad(instance *t, cc_real *x, size_t i, double eps)
{
    const cc_real saved = x[i];
    x[i] = (cc_real)(saved + eps);
    const double up_step = (double)x[i] - (double)saved;
    const double lp = loss(t);
    x[i] = (cc_real)(saved - eps);
    const double down_step = (double)saved - (double)x[i];
    const double lm = loss(t);
    x[i] = saved;
    return (lp - lm) / (up_step + down_step);  /* the steps float actually took */
}

static int setup(instance *t, const op_case *c, tu_rng *rng)
{
    memset(t, 0, sizeof *t);
    t->op = cc_op_find(c->op);
    if (!t->op) {
        tu_check(0, "%s: op not in the registry", c->op);
        return 0;
    }
    cc_error err;
    t->attrs = tu_attrs(c->attrs);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", c->inputs);
    for (char *tok = strtok(buf, ";"); tok; tok = strtok(NULL, ";"))
        t->in_shape[t->nin++] = tu_shape(tok);
    snprintf(buf, sizeof buf, "%s", c->params);
    for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " ")) {
        char *eq = strchr(tok, '=');
        *eq = '\0';
        int k = 0;
        while (k < t->op->nparams && strcmp(t->op->param_names[k], tok))
            k++;
        if (k == t->op->nparams) {
            tu_check(0, "%s: no parameter named %s", c->op, tok);
            return 0;
        }
        t->param_shape[k] = tu_shape(eq + 1);
        t->has_param[k] = 1;
    }
    if (t->op->infer(&t->attrs, t->in_shape, t->nin, t->param_shape, t->has_param, &t->out_shape, &err)) {
        tu_check(0, "%s (%s): shape inference refused: %s", c->op, c->label, err.msg);
        return 0;
    }
    for (int i = 0; i < t->nin; i++) {
        size_t n = cc_shape_numel(&t->in_shape[i]);
        t->in[i] = tu_alloc(n * sizeof(cc_real));
        fill_input(c->op, t->in[i], n, rng);
    }
    for (int k = 0; k < t->op->nparams; k++) {
        if (!t->has_param[k])
            continue;
        size_t n = cc_shape_numel(&t->param_shape[k]);
        int is_var = !strcmp(t->op->param_names[k], "running_var");
        t->param[k] = tu_alloc(n * sizeof(cc_real));
        for (size_t i = 0; i < n; i++)
            t->param[k][i] = (cc_real)(is_var ? tu_uniform(rng, 0.25, 2) : tu_uniform(rng, -1, 1));
    }
    if (t->op->scratch_bytes) {
        const size_t bytes = t->op->scratch_bytes(&t->attrs, t->in_shape, t->nin, t->param_shape,
                                                  &t->out_shape);
        t->scratch = bytes ? tu_alloc(bytes) : NULL;  /* exact size: ASan sees an overrun */
    }
    size_t nout = cc_shape_numel(&t->out_shape);
    t->out = tu_alloc(nout * sizeof(cc_real));
    t->r = tu_alloc(nout * sizeof(double));
    for (size_t i = 0; i < nout; i++)
        t->r[i] = tu_uniform(rng, -1, 1);
    return 1;
}

static void teardown(instance *t)
{
    for (int i = 0; i < t->nin; i++)
        free(t->in[i]);
    for (int k = 0; k < CC_MAX_PARAMS; k++)
        free(t->param[k]);
    free(t->out);
    free(t->r);
    free(t->scratch);
}

/* Runs the backward with dout = r into fresh buffers that start at `start`
 * for the gradients selected by the masks (bit i), NULL elsewhere. */
static void run_backward(const instance *t, unsigned in_mask, unsigned param_mask, double start,
                         cc_real **din, cc_real **dparam)
{
    cc_op_args a = args_of(t);
    size_t nout = cc_shape_numel(&t->out_shape);
    cc_real *dout = tu_alloc(nout * sizeof(cc_real));
    for (size_t i = 0; i < nout; i++)
        dout[i] = (cc_real)t->r[i];
    t->op->forward(&a);
    for (int i = 0; i < t->nin; i++) {
        din[i] = NULL;
        if (in_mask >> i & 1) {
            size_t n = cc_shape_numel(&t->in_shape[i]);
            din[i] = tu_alloc(n * sizeof(cc_real));
            for (size_t j = 0; j < n; j++)
                din[i][j] = (cc_real)start;
        }
        a.din[i] = din[i];
    }
    for (int k = 0; k < t->op->nparams; k++) {
        dparam[k] = NULL;
        if ((param_mask >> k & 1) && t->has_param[k]) {
            size_t n = cc_shape_numel(&t->param_shape[k]);
            dparam[k] = tu_alloc(n * sizeof(cc_real));
            for (size_t j = 0; j < n; j++)
                dparam[k][j] = (cc_real)start;
        }
        a.dparam[k] = dparam[k];
    }
    a.dout = dout;
    t->op->backward(&a);
    free(dout);
}

static void check_same(const char *what, const cc_real *got, const cc_real *want, size_t n)
{
    double *w = tu_alloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++)
        w[i] = (double)want[i];
    tu_close(what, got, w, n, 0, 0);
    free(w);
}

static void check_case(const op_case *c, tu_rng *rng)
{
    instance t;
    if (!setup(&t, c, rng))
        return;
    const tu_tolerance tol = tu_gradcheck_tolerance();
    const unsigned all_in = (1u << t.nin) - 1;
    const unsigned diff_params = ((1u << t.op->nparams) - 1) & ~t.op->buffer_params;
    cc_real *din[CC_MAX_INPUTS], *dparam[CC_MAX_PARAMS];
    const double start = 0.5;
    run_backward(&t, all_in, diff_params, start, din, dparam);

    double worst = 0;
    char what[160];
    for (int i = 0; i < t.nin; i++) {
        size_t n = cc_shape_numel(&t.in_shape[i]);
        double *num = tu_alloc(n * sizeof(double));
        for (size_t j = 0; j < n; j++)
            num[j] = numeric_grad(&t, t.in[i], j, tol.eps) + start;
        snprintf(what, sizeof what, "%s (%s) d input %d", c->op, c->label, i);
        double e = tu_close(what, din[i], num, n, tol.atol, tol.rtol);
        worst = e > worst ? e : worst;
        free(num);
    }
    for (int k = 0; k < t.op->nparams; k++) {
        if (!dparam[k])
            continue;
        size_t n = cc_shape_numel(&t.param_shape[k]);
        double *num = tu_alloc(n * sizeof(double));
        for (size_t j = 0; j < n; j++)
            num[j] = numeric_grad(&t, t.param[k], j, tol.eps) + start;
        snprintf(what, sizeof what, "%s (%s) d %s", c->op, c->label, t.op->param_names[k]);
        double e = tu_close(what, dparam[k], num, n, tol.atol, tol.rtol);
        worst = e > worst ? e : worst;
        free(num);
    }

    /* Asking for one gradient at a time gives the same values, and the
     * backward must not touch the NULL ones (ASan would see a write). */
    for (int i = 0; i < t.nin; i++) {
        cc_real *d1[CC_MAX_INPUTS], *p1[CC_MAX_PARAMS];
        run_backward(&t, 1u << i, 0, start, d1, p1);
        snprintf(what, sizeof what, "%s (%s) d input %d alone", c->op, c->label, i);
        check_same(what, d1[i], din[i], cc_shape_numel(&t.in_shape[i]));
        free(d1[i]);
    }
    for (int k = 0; k < t.op->nparams; k++) {
        if (!dparam[k])
            continue;
        cc_real *d1[CC_MAX_INPUTS], *p1[CC_MAX_PARAMS];
        run_backward(&t, 0, 1u << k, start, d1, p1);
        snprintf(what, sizeof what, "%s (%s) d %s alone", c->op, c->label, t.op->param_names[k]);
        check_same(what, p1[k], dparam[k], cc_shape_numel(&t.param_shape[k]));
        free(p1[k]);
    }
    printf("%-20s %-48s max |analytic - numeric| = %.3g\n", c->op, c->label, worst);
    for (int i = 0; i < t.nin; i++)
        free(din[i]);
    for (int k = 0; k < t.op->nparams; k++)
        free(dparam[k]);
    teardown(&t);
}

/* Shapes that shape inference (what the engine's plan runs first) must refuse,
 * with a message containing `says`. */
static const struct {
    const char *op, *inputs, *params, *attrs, *says;
} refusals[] = {
    {"layer_norm", "1x5x7", "weight=5 bias=7", "", "layer_norm weight has shape 5; expected 7 elements"},
    {"layer_norm", "1x5x7", "weight=7 bias=6", "", "layer_norm bias has shape 6; expected 7 elements"},
    {"layer_norm", "2x5x7", "weight=5x7 bias=5x7", "", "only normalized_shape = (last dim,)"},
    {"permute", "2x3x4x5", "", "perm=0,1,1,2", "permute perm is not a permutation of 0..3"},
    {"permute", "2x3x4", "", "perm=0,2,1,3", "permute perm has 4 values but the input 2x3x4 has rank 3"},
    {"permute", "2x3x4", "", "perm=1,0,2", "permute perm[0]=1 must be 0"},
    {"permute", "2x3x4", "", "", "permute perm has 0 values"},
    {"reshape", "2x3x5", "", "shape=1,4", "reshape of 2x3x5 (30 elements)"},
    {"reshape", "2x3", "", "", "reshape shape has 0 values"},
    {"roll", "2x3x4", "", "shifts=1", "roll dims[0]=0 of 2x3x4 must be in 1..2"},
    {"roll", "2x3x4", "", "shifts=1,1 dims=1,3", "roll dims[1]=3 of 2x3x4 must be in 1..2"},
    {"roll", "2x3x4", "", "", "roll needs shifts and dims"},
    {"pad", "2x3x4", "", "pads=0,0,1,1", "pad pads has 4 values but the input 2x3x4 has rank 3"},
    {"pad", "2x3x4", "", "pads=1,0,0,0,0,0", "pad pads for dim 0 are 1,0"},
    {"slice", "2x6", "", "axis=0 start=0 end=1", "slice axis=0 of 2x6 must be in 1..1"},
    {"slice", "2x6", "", "axis=2 start=0 end=1", "slice axis=2 of 2x6 must be in 1..1"},
    {"slice", "2x3x6", "", "axis=2 start=4 end=7", "slice [4, 7) along axis 2 of 2x3x6"},
    {"slice", "2x3x6", "", "axis=2 start=3 end=3", "needs 0 <= start < end <= 6"},
    {"concat", "2x3x4;2x3x5", "", "axis=1", "match in every dimension but axis 1"},
    {"concat", "2x3x4;2x3", "", "axis=2", "concat input 1 is 2x3 but input 0 is 2x3x4; all must have rank 3"},
    {"concat", "2x3;2x3", "", "axis=2", "concat axis=2 of rank-2 inputs (2x3) must be in 1..1"},
    {"concat", "2x3;2x3", "", "axis=0", "concat axis=0"},
    {"matmul", "2x3x4;2x5x6", "", "", "matmul inner sizes differ: 2x3x4 has 4 columns"},
    {"matmul", "2x3x4;2x5x4", "", "", "2x5x4 (trans_b=0) has 5 rows"},
    {"matmul", "2x3x4;3x4x5", "", "", "differ in leading dim 0 (2 vs 3)"},
    {"matmul", "3x4;4x5", "", "", "matmul needs two inputs of the same rank, 3 to"},
    {"matmul", "2x3x4;2x3x4", "", "trans_b=2", "matmul trans_b=2 must be 0 or 1"},
    {"add_const", "2x3x4", "value=2x3x4", "", "lines up with the batch dim of the input 2x3x4"},
    {"add_const", "2x3x4", "value=5", "", "does not broadcast against the input 2x3x4: its dim 0 is 5"},
    {"add_const", "2x3x4", "", "", "add_const needs its parameter 'value'"},
    {"mul_const", "3x4", "value=1x3x4", "", "has rank 3; it must have rank 1 to 2"},
    {"mul_const", "2x3x4", "value=3x1x4x1", "", "mul_const value 3x1x4x1 has rank 4"},
    {"softmax", "2x3x4", "", "axis=1", "normalise along the last dim (axis 2 of the input 2x3x4), not axis 1"},
    {"log_softmax", "7", "", "axis=0", "take an input of rank 2 to"},
    {"linear", "7", "weight=3x7", "", "linear needs an input of rank 2 to"},
    {"linear", "2x5x6", "weight=3x7", "", "takes 7 input features; the input 2x5x6 has 6"},
};

static void check_refusal(size_t k)
{
    const cc_op *op = cc_op_find(refusals[k].op);
    if (!op) {
        tu_check(0, "%s: op not in the registry", refusals[k].op);
        return;
    }
    const cc_attrs attrs = tu_attrs(refusals[k].attrs);
    cc_shape in[CC_MAX_INPUTS], param[CC_MAX_PARAMS] = {{0, {0, 0, 0, 0}}}, out;
    int nin = 0, has[CC_MAX_PARAMS] = {0};
    char buf[256];
    snprintf(buf, sizeof buf, "%s", refusals[k].inputs);
    for (char *tok = strtok(buf, ";"); tok; tok = strtok(NULL, ";"))
        in[nin++] = tu_shape(tok);
    snprintf(buf, sizeof buf, "%s", refusals[k].params);
    for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " ")) {
        char *eq = strchr(tok, '=');
        *eq = '\0';
        for (int j = 0; j < op->nparams; j++)
            if (!strcmp(op->param_names[j], tok))
                param[j] = tu_shape(eq + 1), has[j] = 1;
    }
    cc_error err = {""};
    const cc_status st = op->infer(&attrs, in, nin, param, has, &out, &err);
    tu_check(st == CC_EINVAL && strstr(err.msg, refusals[k].says), "%s %s with %s is refused: \"%s\"",
             refusals[k].op, refusals[k].inputs, refusals[k].params, err.msg);
}

/* Arguments, if any, name the ops to check (for working on one op). */
int main(int argc, char **argv)
{
    printf("gradient checks in %s\n", sizeof(cc_real) == sizeof(double) ? "double" : "float");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int selected = argc < 2;
        for (int j = 1; j < argc; j++)
            selected |= !strcmp(argv[j], cases[i].op);
        tu_rng rng = {20261129 + i};  /* per case, so a filter does not change the data */
        if (selected)
            check_case(&cases[i], &rng);
    }
    for (size_t k = 0; k < sizeof refusals / sizeof refusals[0]; k++) {
        int selected = argc < 2;
        for (int j = 1; j < argc; j++)
            selected |= !strcmp(argv[j], refusals[k].op);
        if (selected)
            check_refusal(k);
    }
    if (argc > 1)
        return tu_finish("gradcheck_ops (filtered)");
    /* Every registered op has at least one case above. */
    for (int k = 0; cc_ops[k]; k++) {
        int found = 0;
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            found |= !strcmp(cases[i].op, cc_ops[k]->name);
        tu_check(found, "op '%s' is registered but has no gradient check", cc_ops[k]->name);
    }
    return tu_finish(sizeof(cc_real) == sizeof(double) ? "gradcheck_ops_f64" : "gradcheck_ops_f32");
}
