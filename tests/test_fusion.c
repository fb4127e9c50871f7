/* tests/test_fusion.c — the engine's fused chains (engine/plan.c: a conv and
 * the batchnorm and element-wise ops after it, run as one node) against the
 * same graph run node by node: the floats must be the same, bit for bit,
 * because a chain's epilogue runs the ops' own kernels.
 *
 * The graph puts a chain behind every conv path: Winograd (3x3 at 20x20), the
 * direct 1x1 product, the AVX-512 and the portable depthwise kernels (rows of
 * 10 and of 140 pixels), im2col (3x3 stride 2), the grouped kernel; with
 * relu6, relu, hardswish, silu, sigmoid, hardsigmoid; a conv with an act and
 * no batchnorm, one with a batchnorm and no act; and three places a chain
 * must stop: a value read twice, a batchnorm whose output another node reads,
 * and a layer the caller keeps. The chains found are counted, so a planner
 * that silently fused nothing fails.
 *
 * Then the tape: Grad-CAM's forward and backward to a layer inside the fused
 * part (a chain's tail) and to a conv output that would otherwise be fused,
 * with fusion and without: the same values and gradients. Each at 1 and 3
 * threads. */
#include "netbuild.h"
#include "autograd/tape.h"
#include "engine/plan.h"
#include "layers/kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int out, c5, tail3, keep7;   /* nodes the checks look at */
    int expect_chains;
} net;

static int chain(netbuild *b, const char *name, int in, int C, int OC, int k, int stride, int groups,
                 const char *act, int bn)
{
    char n[64];
    snprintf(n, sizeof n, "%s.conv", name);
    int y = nb_conv(b, n, in, C, OC, k, stride, k / 2, groups, 1);
    if (bn) {
        snprintf(n, sizeof n, "%s.bn", name);
        y = nb_batchnorm(b, n, y, OC, 1e-3);
    }
    if (act) {
        snprintf(n, sizeof n, "%s.act", name);
        y = nb_unary(b, n, act, y);
    }
    return y;
}

/* 2 x 16 x 20 x 20 -> logits of 10; wide: a second input 1 x 8 x 6 x 140. */
static net build(netbuild *b)
{
    net t;
    const int x = nb_input(b, "x"), w = nb_input(b, "wide");
    int y = chain(b, "c1", x, 16, 32, 3, 1, 1, "relu6", 1);            /* Winograd */
    y = chain(b, "c2", y, 32, 40, 1, 1, 1, "relu", 1);                 /* direct 1x1 */
    t.tail3 = y = chain(b, "c3", y, 40, 40, 3, 2, 40, "hardswish", 1); /* depthwise, AVX-512 rows */
    y = chain(b, "c4", y, 40, 48, 3, 2, 1, "silu", 1);                 /* im2col */
    int c5 = nb_conv(b, "c5.conv", y, 48, 48, 3, 1, 1, 3, 1);          /* grouped: 3 groups of 16 */
    t.c5 = c5;
    y = nb_unary(b, "c5.act", "sigmoid", nb_batchnorm(b, "c5.bn", c5, 48, 1e-5));
    const int a6 = chain(b, "c6", y, 48, 48, 1, 1, 1, "relu", 0);      /* no batchnorm; read twice */
    const int b7 = chain(b, "c7", a6, 48, 48, 1, 1, 1, NULL, 1);        /* no act */
    int sum[2] = {b7, a6};
    y = nb_unary(b, "relu", "relu", nb_op(b, "add", "add", sum, 2, NULL));
    const int b8 = chain(b, "c8", y, 48, 16, 1, 1, 1, NULL, 1);        /* its batchnorm is read twice */
    int prod[2] = {nb_unary(b, "c8.act", "hardsigmoid", b8), b8};
    y = nb_op(b, "c8.add", "add", prod, 2, NULL);
    t.keep7 = y = nb_conv(b, "c9.conv", y, 16, 16, 1, 1, 0, 1, 1);     /* the caller keeps it: no chain */
    y = nb_unary(b, "c9.act", "relu", nb_batchnorm(b, "c9.bn", y, 16, 1e-5));
    y = nb_op(b, "pool", "adaptive_avgpool2d", &y, 1, "output_size=1");
    y = nb_op(b, "flatten", "flatten", &y, 1, "start_dim=1");
    const int wy = chain(b, "w1", w, 8, 8, 3, 1, 8, "relu", 1);        /* depthwise, portable (140 wide) */
    (void)wy;
    t.out = nb_linear(b, "fc", y, 16, 10, 1);
    t.expect_chains = 9;   /* c1..c8 and w1: c9's conv output is kept */
    return t;
}

static int count_chains(const cc_plan *p)
{
    int n = 0;
    for (int i = 0; i < p->graph->nnodes; i++)
        n += p->fused_head[i] == i;
    return n;
}

static int same(const cc_real *a, const cc_real *b, size_t n)
{
    return a && b && memcmp(a, b, n * sizeof *a) == 0;
}

static void check_plans(const net *t, cc_graph *g, const cc_real *const *inputs, const cc_shape *shapes)
{
    cc_error err;
    int keep[64] = {t->out, t->tail3, t->keep7}, nkeep = 3;
    const cc_plan_opts first_opts = {.keep = keep, .nkeep = 3};
    const cc_plan_opts plain_opts = {.keep_all = 1, .no_fusion = 1};
    /* Kept values stay readable after the forward; a chain's tail may be kept
     * and still be fused: keep every tail the first plan found. */
    cc_plan *fused = cc_plan_create(g, shapes, &first_opts, &err);
    for (int i = 0; fused && i < g->nnodes && nkeep < 64; i++)
        if (fused->fused_tail[i] >= 0)
            keep[nkeep++] = fused->fused_tail[i];
    cc_plan_free(fused);
    const cc_plan_opts fused_opts = {.keep = keep, .nkeep = nkeep};
    fused = cc_plan_create(g, shapes, &fused_opts, &err);
    cc_plan *plain = cc_plan_create(g, shapes, &plain_opts, &err);
    tu_check(fused && plain, "plans: %s", err.msg);
    if (!fused || !plain)
        return;
    tu_check(count_chains(fused) == t->expect_chains, "%d fused chains, expected %d", count_chains(fused),
             t->expect_chains);
    tu_check(count_chains(plain) == 0, "no_fusion: no chains");
    tu_check(fused->fused_head[t->keep7] < 0, "a kept conv output heads no chain");
    cc_plan_forward(fused, inputs);
    cc_plan_forward(plain, inputs);
    for (int k = 0; k < 3; k++)
        tu_check(same(cc_plan_value(fused, keep[k]), cc_plan_value(plain, keep[k]),
                      cc_shape_numel(&plain->shape[keep[k]])),
                 "fused and node-by-node: value of %s bit for bit", g->nodes[keep[k]].name);
    int equal = 0;
    for (int k = 3; k < nkeep; k++)
        equal += same(cc_plan_value(fused, keep[k]), cc_plan_value(plain, keep[k]),
                      cc_shape_numel(&plain->shape[keep[k]]));
    tu_check(nkeep - 3 == t->expect_chains && equal == nkeep - 3, "%d of %d chain tails bit for bit", equal,
             nkeep - 3);
    cc_plan_free(fused);
    cc_plan_free(plain);
}

static void check_tape(const net *t, cc_graph *g, const cc_real *const *inputs, const cc_shape *shapes)
{
    cc_error err;
    const int targets[] = {t->tail3, t->c5}, keep[] = {t->out, t->c5};   /* Grad-CAM keeps its layers */
    cc_tape_request req = {.seed = t->out, .targets = targets, .ntargets = 2, .keep = keep, .nkeep = 2};
    cc_tape *fused = cc_tape_create(g, shapes, &req, &err);
    req.no_fusion = 1;
    cc_tape *plain = cc_tape_create(g, shapes, &req, &err);
    tu_check(fused && plain, "tapes: %s", err.msg);
    if (!fused || !plain)
        return;
    tu_check(count_chains(fused->plan) > 0, "the tape's plan fuses the chains below its targets");
    tu_check(fused->plan->fused_head[t->c5] < 0, "a kept target conv output heads no chain");
    cc_real seed[2 * 10];
    for (int i = 0; i < 20; i++)
        seed[i] = (cc_real)(i % 7) - 3;
    cc_tape_forward(fused, inputs);
    cc_tape_forward(plain, inputs);
    cc_tape_backward(fused, seed);
    cc_tape_backward(plain, seed);
    tu_check(same(cc_plan_value(fused->plan, t->out), cc_plan_value(plain->plan, t->out), 20),
             "tape: logits bit for bit");
    tu_check(same(cc_plan_value(fused->plan, t->c5), cc_plan_value(plain->plan, t->c5),
                  cc_shape_numel(&plain->plan->shape[t->c5])), "tape: the kept layer's value bit for bit");
    for (int k = 0; k < 2; k++)
        tu_check(same(cc_tape_grad(fused, targets[k]), cc_tape_grad(plain, targets[k]),
                      cc_shape_numel(&plain->plan->shape[targets[k]])),
                 "tape: gradient at %s bit for bit", g->nodes[targets[k]].name);
    cc_tape_free(fused);
    cc_tape_free(plain);
}

int main(void)
{
    netbuild b;
    nb_init(&b, 1717);
    const net t = build(&b);
    tu_rng rng = {31};
    const cc_shape shapes[2] = {tu_shape("2x16x20x20"), tu_shape("1x8x6x140")};
    cc_real *x = tu_random_reals(cc_shape_numel(&shapes[0]), &rng);
    cc_real *w = tu_random_reals(cc_shape_numel(&shapes[1]), &rng);
    const cc_real *inputs[2] = {x, w};
    for (int threads = 1; threads <= 3; threads += 2) {
        cc_set_threads(threads);
        check_plans(&t, b.g, inputs, shapes);
        check_tape(&t, b.g, inputs, shapes);
    }
    free(x), free(w);
    nb_free(&b);
    return tu_finish("fusion");
}
