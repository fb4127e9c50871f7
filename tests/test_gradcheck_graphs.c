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
 * build checks them all (as torch.autograd.gradcheck insists on double). */
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
        if (!strstr(b.g->params[p].name, "running_"))
            params[np++] = p;
    const int full_targets[2] = {x, inner};
    cc_tape *full = tape_for(b.g, &in_shape, out, full_targets, 2, params, np);
    const cc_real *in[1] = {pb.x};
    cc_tape_forward(full, in);
    cc_tape_backward(full, seed_grad);

    double worst = 0, e;
    const int finite_differences = sizeof(cc_real) == sizeof(double) || !c->has_kinks;
    double *num = tu_alloc(nin * sizeof(double));
    char what[200];
    for (size_t i = 0; i < nin && finite_differences; i++)
        num[i] = numeric(&pb, pb.x, i, tol.eps);
    snprintf(what, sizeof what, "%s: d input", c->name);
    if (finite_differences)
        worst = tu_close(what, cc_tape_grad(full, x), num, nin, tol.atol, tol.rtol);
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
        printf("%-50s max |analytic - numeric| = %.3g; ", c->name, worst);
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
