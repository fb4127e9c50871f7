/* tests/test_gradcheck_graphs.c — whole blocks of the target models, built
 * from C, against central finite differences of L = sum r_i y_i; and the
 * tape's promises: a backward stopped at an inner node gives the same
 * gradient there as a full one while running fewer nodes and none below it,
 * and a forward without tape reuses memory.
 * Built in double (gradcheck's eps 1e-6, atol 1e-5, rtol 1e-3) and float
 * (eps 1e-2, atol 1e-3, rtol 1e-2). Every input element is checked; each
 * parameter on 12 random elements. In float, a 1e-2 step moves thousands of
 * pre-activations and crosses ReLU and max-pool kinks, so the finite
 * differences run there only on the graphs without such kinks; the double
 * build checks them all (as torch.autograd.gradcheck insists on double).
 * Constants (add_const / mul_const values) and running statistics are
 * buffers, not checked. The printed error is also given relative to the
 * largest |numeric| gradient checked: in double it is ~1e-8 to 1e-10.
 * The ViT and Swin blocks make every transformer op's backward count: a
 * wrong roll direction, softmax or layer-norm term, matmul dB, mul_const
 * scale, GELU slope, concat offset or pad offset fails them. */
#include "autograd/tape.h"
#include "netbuild.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An inverted residual with squeeze-excitation, as torchvision builds both
 * MobileNetV3's InvertedResidual and EfficientNet's MBConv: expand 1x1,
 * depthwise kxk, SE (pool, fc1, act, fc2, gate, mul), project 1x1, an
 * optional identity op (stochastic depth), residual add. */
typedef struct {
    int C, E, S, k;
    const char *act, *se_act, *gate;
    int stochastic_depth;
} inverted_residual_spec;

static int inverted_residual(netbuild *b, int x, const inverted_residual_spec *s)
{
    int e = nb_conv(b, "block.0.0", x, s->C, s->E, 1, 1, 0, 1, 0);
    e = nb_batchnorm(b, "block.0.1", e, s->E, 1e-3);
    e = nb_unary(b, "block.0.2", s->act, e);
    int d = nb_conv(b, "block.1.0", e, s->E, s->E, s->k, 1, s->k / 2, s->E, 0);
    d = nb_batchnorm(b, "block.1.1", d, s->E, 1e-3);
    d = nb_unary(b, "block.1.2", s->act, d);
    int q = nb_op(b, "block.2.avgpool", "adaptive_avgpool2d", &d, 1, "output_size=1");
    q = nb_conv(b, "block.2.fc1", q, s->E, s->S, 1, 1, 0, 1, 1);
    q = nb_unary(b, "block.2.activation", s->se_act, q);
    q = nb_conv(b, "block.2.fc2", q, s->S, s->E, 1, 1, 0, 1, 1);
    q = nb_unary(b, "block.2.scale_activation", s->gate, q);
    int se[2] = {q, d};
    int m = nb_op(b, "block.2", "mul", se, 2, NULL);
    int p = nb_conv(b, "block.3.0", m, s->E, s->C, 1, 1, 0, 1, 0);
    p = nb_batchnorm(b, "block.3.1", p, s->C, 1e-3);
    if (s->stochastic_depth)
        p = nb_unary(b, "stochastic_depth", "identity", p);
    int sum[2] = {p, x};
    return nb_op(b, "add", "add", sum, 2, NULL);
}

/* torchvision MobileNetV3 InvertedResidual(16 -> 48 -> 16, k5, SE, hardswish). */
static int mobilenet_block(netbuild *b, int x)
{
    const inverted_residual_spec s = {16, 48, 24, 5, "hardswish", "relu", "hardsigmoid", 0};
    return inverted_residual(b, x, &s);
}

/* torchvision EfficientNet MBConv(16 -> 64 -> 16, k3, SE with SiLU) with stochastic depth. */
static int efficientnet_block(netbuild *b, int x)
{
    const inverted_residual_spec s = {16, 64, 4, 3, "silu", "silu", "sigmoid", 1};
    return inverted_residual(b, x, &s);
}

/* torchvision ResNet BasicBlock(8 -> 16, stride 2) with its downsample. */
static int resnet_block(netbuild *b, int x)
{
    int y = nb_conv(b, "conv1", x, 8, 16, 3, 2, 1, 1, 0);
    y = nb_batchnorm(b, "bn1", y, 16, 1e-5);
    y = nb_unary(b, "relu", "relu", y);
    y = nb_conv(b, "conv2", y, 16, 16, 3, 1, 1, 1, 0);
    y = nb_batchnorm(b, "bn2", y, 16, 1e-5);
    int idn = nb_conv(b, "downsample.0", x, 8, 16, 1, 2, 0, 1, 0);
    idn = nb_batchnorm(b, "downsample.1", idn, 16, 1e-5);
    int sum[2] = {y, idn};
    y = nb_op(b, "add", "add", sum, 2, NULL);
    return nb_unary(b, "relu_1", "relu", y);
}

/* VGG-style features: conv/ReLU pairs and 2x2 max pools. */
static int vgg_stack(netbuild *b, int x)
{
    int y = nb_conv(b, "features.0", x, 3, 8, 3, 1, 1, 1, 1);
    y = nb_unary(b, "features.1", "relu", y);
    y = nb_conv(b, "features.2", y, 8, 8, 3, 1, 1, 1, 1);
    y = nb_unary(b, "features.3", "relu", y);
    y = nb_op(b, "features.4", "maxpool2d", &y, 1, "kernel_size=2 stride=2");
    y = nb_conv(b, "features.5", y, 8, 16, 3, 1, 1, 1, 1);
    y = nb_unary(b, "features.6", "relu", y);
    return nb_op(b, "features.7", "maxpool2d", &y, 1, "kernel_size=2 stride=2");
}

/* MobileNetV3's classifier: pool, flatten, linear, hardswish, dropout, linear. */
static int classifier_head(netbuild *b, int x)
{
    int y = nb_op(b, "avgpool", "adaptive_avgpool2d", &x, 1, "output_size=1");
    y = nb_op(b, "flatten", "flatten", &y, 1, "start_dim=1");
    y = nb_linear(b, "classifier.0", y, 24, 40, 1);
    y = nb_unary(b, "classifier.1", "hardswish", y);
    y = nb_unary(b, "classifier.2", "identity", y);
    return nb_linear(b, "classifier.3", y, 40, 10, 1);
}

/* Multi-head self-attention as the converter emits torchvision's and timm's
 * (and Swin's, per window): qkv linear, reshape to [lead, N, 3, H, hd], for
 * q, k, v a slice of dim 2, reshape to [lead, N, H, hd], permute to
 * [., H, N, hd]; q * hd^-1/2 (mul_const); q k^T (matmul trans_b); + a
 * relative position bias [1, H, N, N]; with windows (nW > 0), + the
 * shifted-window mask [1, nW, 1, N, N] over [1, nW, H, N, N]; softmax; p v;
 * back to [lead, N, C]; proj linear. lead is the "batch of one" of every
 * reshape: 1 for ViT, the windows of one image for Swin. */
typedef struct {
    int C, H, N, lead, nW;
    const double *mask;  /* nW x N x N when nW > 0 */
} attention_spec;

static int reshape(netbuild *b, const char *name, int x, const char *shape)
{
    char attrs[80];
    snprintf(attrs, sizeof attrs, "shape=%s", shape);
    return nb_op(b, name, "reshape", &x, 1, attrs);
}

static int attention(netbuild *b, int x, const attention_spec *s)
{
    const int hd = s->C / s->H;
    char shape[64], name[64], attrs[64];
    int qkv = nb_linear(b, "attn.qkv", x, s->C, 3 * s->C, 1);
    snprintf(shape, sizeof shape, "%d,%d,3,%d,%d", s->lead, s->N, s->H, hd);
    qkv = reshape(b, "attn.reshape", qkv, shape);
    int sel[3];
    for (int i = 0; i < 3; i++) {
        const char *which = i == 0 ? "q" : i == 1 ? "k" : "v";
        snprintf(name, sizeof name, "attn.%s", which);
        snprintf(attrs, sizeof attrs, "axis=2 start=%d end=%d", i, i + 1);
        sel[i] = nb_op(b, name, "slice", &qkv, 1, attrs);
        snprintf(name, sizeof name, "attn.%s.reshape", which);
        snprintf(shape, sizeof shape, "%d,%d,%d,%d", s->lead, s->N, s->H, hd);
        sel[i] = reshape(b, name, sel[i], shape);
        snprintf(name, sizeof name, "attn.%s.permute", which);
        sel[i] = nb_op(b, name, "permute", &sel[i], 1, "perm=0,2,1,3");
    }
    const double scale[1] = {1 / sqrt((double)hd)};
    const int q = nb_const(b, "attn.scale", "mul_const", sel[0], "1", scale, 0);
    const int qk[2] = {q, sel[1]};
    int a = nb_op(b, "attn.scores", "matmul", qk, 2, "trans_b=1");
    snprintf(shape, sizeof shape, "1x%dx%dx%d", s->H, s->N, s->N);
    a = nb_const(b, "attn.relative_position_bias", "add_const", a, shape, NULL, 0.5);
    if (s->nW) {
        snprintf(shape, sizeof shape, "1,%d,%d,%d,%d", s->nW, s->H, s->N, s->N);
        a = reshape(b, "attn.mask.reshape", a, shape);
        snprintf(shape, sizeof shape, "1x%dx1x%dx%d", s->nW, s->N, s->N);
        a = nb_const(b, "attn.mask", "add_const", a, shape, s->mask, 0);
        snprintf(shape, sizeof shape, "%d,%d,%d,%d", s->nW, s->H, s->N, s->N);
        a = reshape(b, "attn.mask.reshape_1", a, shape);
    }
    a = nb_op(b, "attn.softmax", "softmax", &a, 1, "axis=3");
    const int pv[2] = {a, sel[2]};
    a = nb_op(b, "attn.out", "matmul", pv, 2, NULL);
    a = nb_op(b, "attn.out.permute", "permute", &a, 1, "perm=0,2,1,3");
    snprintf(shape, sizeof shape, "%d,%d,%d", s->lead, s->N, s->C);
    a = reshape(b, "attn.out.reshape", a, shape);
    return nb_linear(b, "attn.proj", a, s->C, s->C, 1);
}

static int add2(netbuild *b, const char *name, int x, int y)
{
    const int xy[2] = {x, y};
    return nb_op(b, name, "add", xy, 2, NULL);
}

/* The second half of a pre-norm transformer block: r + mlp(norm(r)). */
static int mlp_residual(netbuild *b, int r, int C, int hidden, double eps)
{
    int y = nb_layer_norm(b, "norm2", r, C, eps);
    y = nb_linear(b, "mlp.0", y, C, hidden, 1);
    y = nb_unary(b, "mlp.1", "gelu", y);
    y = nb_linear(b, "mlp.3", y, hidden, C, 1);
    return add2(b, "block", r, y);
}

/* torchvision/timm ViT: class token and position embedding (pad a zero token
 * in front of the 2x2 patch tokens, add_const [1,5,8]), one pre-norm encoder
 * block (dim 8, 2 heads of 4), then the class-token head and, so the loss
 * reads every token of the block output too, a linear on all tokens. */
static int vit_block(netbuild *b, int t)
{
    int x = nb_op(b, "class_token", "pad", &t, 1, "pads=0,0,1,0,0,0");
    x = nb_const(b, "pos_embedding", "add_const", x, "1x5x8", NULL, 0.5);
    const attention_spec s = {8, 2, 5, 1, 0, NULL};
    int y = nb_layer_norm(b, "norm1", x, 8, 1e-6);
    y = attention(b, y, &s);
    y = mlp_residual(b, add2(b, "add", x, y), 8, 16, 1e-6);
    int cls = nb_op(b, "class_token.select", "slice", &y, 1, "axis=1 start=0 end=1");
    cls = nb_linear(b, "heads.head", reshape(b, "class_token.reshape", cls, "1,8"), 8, 3, 1);
    const int all = nb_linear(b, "tokens.head", reshape(b, "tokens.reshape", y, "1,40"), 40, 3, 1);
    return add2(b, "logits", cls, all);
}

/* Swin's window partition (shape "4,4,8": windows x tokens x C) and merge
 * ("1,4,4,8") on a 4x4 map of 2x2 windows. */
static int windows(netbuild *b, const char *name, int x, const char *shape)
{
    char full[64];
    snprintf(full, sizeof full, "%s.view", name);
    x = reshape(b, full, x, "1,2,2,2,2,8");
    snprintf(full, sizeof full, "%s.permute", name);
    x = nb_op(b, full, "permute", &x, 1, "perm=0,1,3,2,4,5");
    return reshape(b, name, x, shape);
}

/* Swin's attention mask for a 4x4 map, window 2, shift 1: tokens of one
 * window from different regions of the rolled map get -100. */
static void swin_mask(double mask[4][4][4])
{
    int region[4][4];
    for (int h = 0; h < 4; h++)
        for (int w = 0; w < 4; w++)
            region[h][w] = 3 * (h < 2 ? 0 : h < 3 ? 1 : 2) + (w < 2 ? 0 : w < 3 ? 1 : 2);
    for (int win = 0; win < 4; win++)
        for (int n = 0; n < 4; n++)
            for (int m = 0; m < 4; m++) {
                const int rn = region[2 * (win / 2) + n / 2][2 * (win % 2) + n % 2];
                const int rm = region[2 * (win / 2) + m / 2][2 * (win % 2) + m % 2];
                mask[win][n][m] = rn == rm ? 0 : -100;
            }
}

/* torchvision Swin: a shifted-window block (dim 8, window 2, shift 1, 2
 * heads) on channels-last 2x4x4x8, patch merging (the four strided slices,
 * concat, norm, linear 32 -> 16 without bias), then NCHW, pool and a head. */
static int swin_block(netbuild *b, int x)
{
    double mask[4][4][4];
    swin_mask(mask);
    const attention_spec s = {8, 2, 4, 4, 4, &mask[0][0][0]};
    int y = nb_layer_norm(b, "norm1", x, 8, 1e-5);
    y = nb_op(b, "shift", "roll", &y, 1, "shifts=-1,-1 dims=1,2");
    y = attention(b, windows(b, "partition", y, "4,4,8"), &s);
    y = windows(b, "merge", y, "1,4,4,8");
    y = nb_op(b, "unshift", "roll", &y, 1, "shifts=1,1 dims=1,2");
    y = mlp_residual(b, add2(b, "add", x, y), 8, 32, 1e-5);
    int piece[4];
    char name[64], attrs[64];
    for (int i = 0; i < 4; i++) {  /* x[:, i%2::2, i/2::2] */
        snprintf(name, sizeof name, "merging.rows%d", i);
        snprintf(attrs, sizeof attrs, "axis=1 start=%d end=4 step=2", i % 2);
        piece[i] = nb_op(b, name, "slice", &y, 1, attrs);
        snprintf(name, sizeof name, "merging.x%d", i);
        snprintf(attrs, sizeof attrs, "axis=2 start=%d end=4 step=2", i / 2);
        piece[i] = nb_op(b, name, "slice", &piece[i], 1, attrs);
    }
    y = nb_op(b, "merging.cat", "concat", piece, 4, "axis=3");
    y = nb_layer_norm(b, "merging.norm", y, 32, 1e-5);
    y = nb_linear(b, "merging.reduction", y, 32, 16, 0);
    y = nb_op(b, "permute", "permute", &y, 1, "perm=0,3,1,2");
    y = nb_op(b, "avgpool", "adaptive_avgpool2d", &y, 1, "output_size=1");
    return nb_linear(b, "head", reshape(b, "flatten", y, "1,16"), 16, 3, 1);
}

typedef struct {
    const char *name;
    int (*build)(netbuild *b, int x);
    const char *input;  /* shape */
    const char *inner;  /* a node to stop a backward at */
    int has_kinks;      /* ReLU or max pool: finite differences in double only */
} graph_case;

static const graph_case graphs[] = {
    {"mobilenet_v3 inverted residual + SE + hardswish", mobilenet_block, "2x16x9x9", "block.1.2", 1},
    {"resnet basic block + downsample", resnet_block, "2x8x11x9", "relu", 1},
    {"efficientnet MBConv + SiLU + SE", efficientnet_block, "2x16x7x7", "block.1.2", 0},
    {"vgg conv/relu/maxpool stack", vgg_stack, "2x3x12x10", "features.4", 1},
    {"classifier head", classifier_head, "2x24x5x3", "classifier.1", 0},
    {"vit encoder block + class token + heads", vit_block, "2x4x8", "block", 0},
    {"swin shifted-window block + patch merging", swin_block, "2x4x4x8", "block", 0},
};

typedef struct {
    cc_graph *g;
    cc_plan *plan;       /* forward only, for the finite differences */
    cc_real *x;
    double *r;
    size_t nout;
    int out;
} problem;

static double loss(problem *pb)
{
    const cc_real *in[1] = {pb->x};
    cc_plan_forward(pb->plan, in);
    const cc_real *y = cc_plan_value(pb->plan, pb->out);
    double L = 0;
    for (size_t i = 0; i < pb->nout; i++)
        L += pb->r[i] * (double)y[i];
    return L;
}

static double numeric(problem *pb, cc_real *v, size_t i, double eps)
{
    const cc_real saved = v[i];
    v[i] = (cc_real)(saved + eps);
    const double up = (double)v[i] - saved, lp = loss(pb);
    v[i] = (cc_real)(saved - eps);
    const double down = saved - (double)v[i], lm = loss(pb);
    v[i] = saved;
    return (lp - lm) / (up + down);
}

static cc_tape *tape_for(cc_graph *g, const cc_shape *in_shape, int seed, const int *targets,
                         int ntargets, const int *params, int nparams)
{
    cc_error err;
    const cc_tape_request req = {.seed = seed, .targets = targets, .ntargets = ntargets,
                                 .param_grads = params, .nparam_grads = nparams};
    cc_tape *t = cc_tape_create(g, in_shape, &req, &err);
    if (!t) {
        fprintf(stderr, "tape: %s\n", err.msg);
        exit(3);
    }
    return t;
}

/* Bound to some node's slot that is not a buffer (running statistics, a
 * constant's value). */
static int differentiable(const cc_graph *g, int p)
{
    for (int i = 0; i < g->nnodes; i++)
        for (int k = 0; g->nodes[i].op && k < g->nodes[i].op->nparams; k++)
            if (g->nodes[i].param[k] == p && !(g->nodes[i].op->buffer_params >> k & 1))
                return 1;
    return 0;
}

static double largest(const double *v, size_t n, double m)
{
    for (size_t i = 0; i < n; i++)
        m = fabs(v[i]) > m ? fabs(v[i]) : m;
    return m;
}

static void check_graph(const graph_case *c, uint64_t seed)
{
    const tu_tolerance tol = tu_gradcheck_tolerance();
    netbuild b;
    nb_init(&b, seed);
    const int x = nb_input(&b, "input");
    const int out = c->build(&b, x);
    const cc_shape in_shape = tu_shape(c->input);
    cc_error err;
    problem pb = {.g = b.g, .out = out};
    pb.plan = cc_plan_create(b.g, &in_shape, NULL, &err);
    if (!pb.plan) {
        tu_check(0, "%s: plan: %s", c->name, err.msg);
        nb_free(&b);
        return;
    }
    const size_t nin = cc_shape_numel(&in_shape);
    pb.nout = cc_shape_numel(&pb.plan->shape[out]);
    pb.x = tu_alloc(nin * sizeof(cc_real));
    pb.r = tu_alloc(pb.nout * sizeof(double));
    cc_real *seed_grad = tu_alloc(pb.nout * sizeof(cc_real));
    for (size_t i = 0; i < nin; i++)
        pb.x[i] = (cc_real)tu_uniform(&b.rng, -2, 2);
    for (size_t i = 0; i < pb.nout; i++)
        seed_grad[i] = (cc_real)(pb.r[i] = tu_uniform(&b.rng, -1, 1));

    /* Full backward: the input, the inner node, and every differentiable parameter. */
    const int inner = cc_graph_find(b.g, c->inner);
    int *params = tu_alloc((size_t)b.g->nparams * sizeof(int)), np = 0;
    for (int p = 0; p < b.g->nparams; p++)
        if (differentiable(b.g, p))
            params[np++] = p;
    const int full_targets[2] = {x, inner};
    cc_tape *full = tape_for(b.g, &in_shape, out, full_targets, 2, params, np);
    const cc_real *in[1] = {pb.x};
    cc_tape_forward(full, in);
    cc_tape_backward(full, seed_grad);

    double worst = 0, e, scale = 0;  /* scale: the largest |numeric| */
    const int finite_differences = sizeof(cc_real) == sizeof(double) || !c->has_kinks;
    double *num = tu_alloc(nin * sizeof(double));
    char what[200];
    for (size_t i = 0; i < nin && finite_differences; i++)
        num[i] = numeric(&pb, pb.x, i, tol.eps);
    snprintf(what, sizeof what, "%s: d input", c->name);
    if (finite_differences) {
        worst = tu_close(what, cc_tape_grad(full, x), num, nin, tol.atol, tol.rtol);
        scale = largest(num, nin, 0);
    }
    free(num);
    for (int k = 0; k < np && finite_differences; k++) {
        cc_param *prm = &b.g->params[params[k]];
        const size_t n = cc_shape_numel(&prm->shape);
        cc_real *data = (cc_real *)prm->data;  /* the builder owns it; perturbing in place is fine */
        const cc_real *grad = cc_tape_param_grad(full, params[k]);
        for (int s = 0; s < 12; s++) {
            const size_t i = tu_next(&b.rng) % n;
            const double want = numeric(&pb, data, i, tol.eps);
            snprintf(what, sizeof what, "%s: d %s[%zu]", c->name, prm->name, i);
            e = tu_close(what, &grad[i], &want, 1, tol.atol, tol.rtol);
            worst = e > worst ? e : worst;
            scale = largest(&want, 1, scale);
        }
    }

    /* Stopped at the inner node: same gradient there, fewer nodes run, none
     * of them below the inner node, no input or weight gradient. */
    cc_tape *stop = tape_for(b.g, &in_shape, out, &inner, 1, NULL, 0);
    cc_tape_forward(stop, in);
    cc_tape_backward(stop, seed_grad);
    const size_t ninner = cc_shape_numel(&stop->plan->shape[inner]);
    double *want = tu_alloc(ninner * sizeof(double));
    for (size_t i = 0; i < ninner; i++)
        want[i] = (double)cc_tape_grad(full, inner)[i];
    snprintf(what, sizeof what, "%s: gradient at %s, stopped vs full backward", c->name, c->inner);
    tu_close(what, cc_tape_grad(stop, inner), want, ninner, 0, 0);
    free(want);
    /* One forward serves several backwards: another seed, then r again, gives
     * the first input gradient bit for bit (saved values were not overwritten). */
    double *first = tu_alloc(nin * sizeof(double));
    for (size_t i = 0; i < nin; i++)
        first[i] = (double)cc_tape_grad(full, x)[i];
    cc_real *other_seed = tu_random_reals(pb.nout, &b.rng);
    cc_tape_backward(full, other_seed);
    cc_tape_backward(full, seed_grad);
    free(other_seed);
    snprintf(what, sizeof what, "%s: input gradient of a third backward after one forward", c->name);
    tu_close(what, cc_tape_grad(full, x), first, nin, 0, 0);
    free(first);
    tu_check(stop->norder < full->norder, "%s: stopped backward ran %d nodes, the full one %d",
             c->name, stop->norder, full->norder);
    for (int s = 0; s < stop->norder; s++)
        tu_check(stop->order[s] > inner, "%s: stopped backward ran '%s', at or below '%s'", c->name,
                 b.g->nodes[stop->order[s]].name, c->inner);
    tu_check(!cc_tape_grad(stop, x), "%s: stopped backward has an input gradient", c->name);
    for (int p = 0; p < b.g->nparams; p++)
        tu_check(!stop->param_grad[p], "%s: stopped backward computed d %s", c->name, b.g->params[p].name);

    /* Without tape, values die after their last reader and share memory
     * (the arena also holds the ops' scratch, which is not a value). */
    size_t all_values = 0;
    for (int i = 0; i < b.g->nnodes; i++)
        all_values += cc_shape_numel(&pb.plan->shape[i]) * sizeof(cc_real);
    tu_check(pb.plan->arena_bytes - pb.plan->scratch_bytes < all_values,
             "%s: forward arena %zu bytes less %zu of scratch, not less than all values (%zu)",
             c->name, pb.plan->arena_bytes, pb.plan->scratch_bytes, all_values);
    if (!finite_differences)
        printf("%-50s finite differences skipped in float (kinks); ", c->name);
    else
        printf("%-50s max |analytic - numeric| = %.3g (%.2g of the largest); ", c->name, worst,
               worst / scale);
    printf("backward nodes full %d, stopped at %s %d; "
           "forward values in %zu of %zu bytes\n", full->norder, c->inner, stop->norder,
           pb.plan->arena_bytes - pb.plan->scratch_bytes, all_values);

    cc_tape_free(full);
    cc_tape_free(stop);
    cc_plan_free(pb.plan);
    free(params);
    free(pb.x);
    free(pb.r);
    free(seed_grad);
    nb_free(&b);
}

int main(void)
{
    printf("graph gradient checks in %s\n", sizeof(cc_real) == sizeof(double) ? "double" : "float");
    for (size_t i = 0; i < sizeof graphs / sizeof graphs[0]; i++)
        check_graph(&graphs[i], 1000 + i);
    return tu_finish(sizeof(cc_real) == sizeof(double) ? "gradcheck_graphs_f64" : "gradcheck_graphs_f32");
}
