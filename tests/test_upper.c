/* tests/test_upper.c — the network above a layer (engine/upper.h) on
 * batches of substituted activations, bit for bit against the full graph at
 * the same batch with the image replicated and the layer's value overwritten
 * between two cc_plan_forward_range calls, as pytorch-grad-cam's
 * AblationCAM computes it: every channel ablated once, to 0 or to
 * min - (r+1)*1e7; full and smaller (tail) batches, 1 and 3 threads; layers
 * under a residual and a concat, one with only a concat skipping it, one with
 * no frontier, a plain chain; and the refusals. */
#include "engine/upper.h"
#include "layers/kernels.h"
#include "netbuild.h"
#include "runtime/parallel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CLASSES = 5, BATCH = 5, MAX_BATCH = 8 };

/* conv -> relu -> [block: conv -> bn -> relu] -> add(block, stem.relu) ->
 * concat(add, stem.conv) -> conv (3x3 stride 1, 16 -> 16 on 13x11: the
 * Winograd path) -> relu -> adaptive avgpool -> flatten -> linear; "aux"
 * reads the block's output and feeds nothing. */
static void residual_net(netbuild *b)
{
    nb_init(b, 20240601);
    int x = nb_input(b, "x");
    int stem = nb_conv(b, "stem.conv", x, 3, 8, 3, 1, 1, 1, 1);
    int stem_relu = nb_unary(b, "stem.relu", "relu", stem);
    int y = nb_conv(b, "block.conv", stem_relu, 8, 8, 3, 1, 1, 1, 0);
    y = nb_batchnorm(b, "block.bn", y, 8, 1e-5);
    y = nb_unary(b, "block.relu", "relu", y);
    nb_op(b, "aux", "adaptive_avgpool2d", &y, 1, "output_size=1");
    int sum[2] = {y, stem_relu};
    y = nb_op(b, "block.add", "add", sum, 2, NULL);
    int cat[2] = {y, stem};
    y = nb_op(b, "cat", "concat", cat, 2, "axis=1");
    y = nb_conv(b, "head.conv", y, 16, 16, 3, 1, 1, 1, 1);
    y = nb_unary(b, "head.relu", "relu", y);
    y = nb_op(b, "pool", "adaptive_avgpool2d", &y, 1, "output_size=1");
    y = nb_op(b, "flatten", "flatten", &y, 1, "start_dim=1");
    nb_linear(b, "fc", y, 16, CLASSES, 1);
}

/* conv -> relu -> conv -> relu -> flatten -> linear: nothing skips a layer. */
static void plain_chain(netbuild *b)
{
    nb_init(b, 77);
    int x = nb_input(b, "x");
    int y = nb_conv(b, "c1", x, 3, 6, 3, 2, 1, 1, 1);
    y = nb_unary(b, "r1", "relu", y);
    y = nb_conv(b, "c2", y, 6, 4, 3, 1, 0, 1, 1);
    y = nb_unary(b, "r2", "relu", y);
    y = nb_op(b, "flatten", "flatten", &y, 1, "start_dim=1");
    nb_linear(b, "fc", y, 4 * 5 * 4, CLASSES, 0);
}

static const cc_shape image_shape = {4, {1, 3, 13, 11}};

static int node(const cc_graph *g, const char *name)
{
    const int i = cc_graph_find(g, name);
    if (i < 0) {
        fprintf(stderr, "test_upper: no node '%s'\n", name);
        exit(3);
    }
    return i;
}

/* Row r ablates channel first + r of the one-image activation a (K x h x w):
 * even rows to 0, odd rows to min(a) - (r+1)*1e7, as the reference's rules. */
static void ablate(cc_real *acts, const cc_real *a, const cc_shape *s, int first, int n)
{
    const size_t plane = (size_t)s->d[2] * s->d[3], one = (size_t)s->d[1] * plane;
    cc_real lo = a[0];
    for (size_t i = 1; i < one; i++)
        lo = a[i] < lo ? a[i] : lo;
    for (int r = 0; r < n; r++) {
        cc_real *row = acts + (size_t)r * one;
        memcpy(row, a, one * sizeof *row);
        const int c = (first + r) % s->d[1];
        const cc_real v = r % 2 ? (cc_real)(lo - (r + 1) * 1e7) : 0;
        for (size_t i = 0; i < plane; i++)
            row[(size_t)c * plane + i] = v;
    }
}

/* The full graph at batch n: x replicated, nodes 0..layer, the layer's value
 * replaced by acts, then layer+1..end. */
static const cc_real *full_with(cc_plan *p, const cc_real *x, int n, int layer, const cc_real *acts)
{
    const size_t one = cc_shape_numel(&image_shape);
    for (int r = 0; r < n; r++)
        memcpy(p->value[0] + (size_t)r * one, x, one * sizeof *x);
    cc_plan_forward_range(p, 0, layer);
    memcpy(p->value[layer], acts, cc_shape_numel(&p->shape[layer]) * sizeof *acts);
    cc_plan_forward_range(p, layer + 1, p->graph->nnodes - 1);
    return cc_plan_value(p, p->graph->nnodes - 1);
}

static void check_bits(const char *what, const cc_real *got, const cc_real *want, size_t n)
{
    size_t i = 0;
    while (i < n && !memcmp(&got[i], &want[i], sizeof *got))
        i++;
    if (i < n)
        printf("  %s: first difference at %zu: got %.9g, want %.9g\n", what, i, (double)got[i], (double)want[i]);
    tu_check(i == n, "%s: %zu of %zu values bit for bit", what, i, n);
}

/* Ablates every channel of `layer_name` in chunks of BATCH (the last
 * smaller), then a few single-row and repeated calls, each against the full
 * graph at that batch. */
static void check_layer(const netbuild *b, const char *layer_name, int want_nfrontier, tu_rng *rng)
{
    const cc_graph *g = b->g;
    const int layer = node(g, layer_name), out = node(g, "fc");
    cc_error err;
    cc_upper *u = cc_upper_create(g, layer, out, &image_shape, BATCH, &err);
    tu_check(u != NULL, "%s: cc_upper_create: %s", layer_name, u ? "" : err.msg);
    if (!u)
        return;
    tu_check(u->nfrontier == want_nfrontier, "%s: %d frontier nodes, want %d", layer_name, u->nfrontier,
             want_nfrontier);

    /* One image's values, the frontier and the layer kept as a caller would. */
    int keep[CC_MAX_INPUTS + 1];
    memcpy(keep, u->frontier, (size_t)u->nfrontier * sizeof *keep);
    keep[u->nfrontier] = layer;
    cc_plan *image_plan = cc_plan_create(g, &image_shape, &(cc_plan_opts){.keep = keep, .nkeep = u->nfrontier + 1},
                                   &err);
    cc_real *x = tu_random_reals(cc_shape_numel(&image_shape), rng);
    cc_plan_forward(image_plan, (const cc_real *const[]){x});
    const cc_real *frontier[CC_MAX_INPUTS];
    for (int k = 0; k < u->nfrontier; k++)
        frontier[k] = cc_plan_value(image_plan, u->frontier[k]);
    const cc_real *a = cc_plan_value(image_plan, layer), *logits = cc_plan_value(image_plan, out);
    const cc_shape ls = image_plan->shape[layer];
    const size_t one = cc_shape_numel(&ls);
    cc_real *acts = tu_alloc(MAX_BATCH * one * sizeof *acts);

    cc_plan *full[BATCH + 1] = {0};
    const int K = ls.d[1];
    /* Chunks of every channel, then a single row and a repeat of a tail. */
    int starts[16], sizes[16], ncalls = 0, changed = 0;
    for (int c = 0; c < K; c += BATCH, ncalls++)
        starts[ncalls] = c, sizes[ncalls] = K - c < BATCH ? K - c : BATCH;
    starts[ncalls] = 1, sizes[ncalls++] = 1;
    starts[ncalls] = 2, sizes[ncalls++] = K % BATCH ? K % BATCH : 2;
    starts[ncalls] = 3, sizes[ncalls++] = BATCH;
    for (int q = 0; q < ncalls; q++) {
        const int n = sizes[q];
        char what[160];
        snprintf(what, sizeof what, "%s, %d thread(s), channels %d..%d (batch %d of %d)", layer_name,
                 cc_parallel_threads(), starts[q], starts[q] + n - 1, n, BATCH);
        if (!full[n]) {
            cc_shape s = image_shape;
            s.d[0] = n;
            full[n] = cc_plan_create(g, &s, &(cc_plan_opts){.no_fusion = 1}, &err);  /* split at any layer */
        }
        ablate(acts, a, &ls, starts[q], n);
        cc_status st = cc_upper_forward(u, acts, n, frontier, &err);
        tu_check(st == CC_OK, "%s: cc_upper_forward: %s", what, st ? err.msg : "");
        const cc_shape os = cc_upper_output_shape(u);
        tu_check(os.rank == 2 && os.d[0] == n && os.d[1] == CLASSES, "%s: output %dx%d", what, os.d[0], os.d[1]);
        check_bits(what, cc_upper_output(u), full_with(full[n], x, n, layer, acts), (size_t)n * CLASSES);
        for (int r = 0; r < n; r++)
            changed += memcmp(cc_upper_output(u) + r * CLASSES, logits, CLASSES * sizeof *logits) != 0;
    }
    tu_check(changed > 0, "%s: ablations change the logits", layer_name);
    printf("%-10s %d thread(s): %d frontier node(s), %d calls of 1 to %d rows against the full graph\n",
           layer_name, cc_parallel_threads(), u->nfrontier, ncalls, BATCH);

    /* Not ablated: the upper part gives the plain forward's logits. */
    memcpy(acts, a, one * sizeof *acts);
    cc_upper_forward(u, acts, 1, frontier, &err);
    check_bits("unablated, against cc_plan_forward", cc_upper_output(u), logits, CLASSES);

    cc_status st = cc_upper_forward(u, acts, BATCH + 1, frontier, &err);
    tu_expect_error("a call above the planned batch", st, CC_EINVAL, &err, layer_name, "1 to 5", NULL);
    st = cc_upper_forward(u, acts, 0, frontier, &err);
    tu_expect_error("a call with no rows", st, CC_EINVAL, &err, layer_name, NULL);

    for (int n = 0; n <= BATCH; n++)
        cc_plan_free(full[n]);
    cc_plan_free(image_plan);
    cc_upper_free(u);
    free(acts), free(x);
}

static void check_refusals(const netbuild *b)
{
    const cc_graph *g = b->g;
    const int out = node(g, "fc");
    cc_error err;
    cc_upper *u = cc_upper_create(g, out, out, &image_shape, BATCH, &err);
    tu_expect_error("the output as the layer", u ? CC_OK : CC_EINVAL, CC_EINVAL, &err, "'fc'", "output", NULL);
    u = cc_upper_create(g, node(g, "aux"), out, &image_shape, BATCH, &err);
    tu_expect_error("a layer that does not feed the output", u ? CC_OK : CC_EINVAL, CC_EINVAL, &err, "'aux'",
                    "'fc'", "does not feed", NULL);
    u = cc_upper_create(g, node(g, "block.relu"), node(g, "block.conv"), &image_shape, BATCH, &err);
    tu_expect_error("a layer above the output", u ? CC_OK : CC_EINVAL, CC_EINVAL, &err, "'block.relu'",
                    "'block.conv'", NULL);
    u = cc_upper_create(g, node(g, "block.relu"), out, &image_shape, 0, &err);
    tu_expect_error("a batch of 0", u ? CC_OK : CC_EINVAL, CC_EINVAL, &err, "'block.relu'", NULL);
    const cc_shape two = {4, {2, 3, 13, 11}};
    u = cc_upper_create(g, node(g, "block.relu"), out, &two, BATCH, &err);
    tu_expect_error("input shapes at batch 2", u ? CC_OK : CC_EINVAL, CC_EINVAL, &err, "batch 1", NULL);
    /* 2^30 elements per tensor at most: stem.conv (8 x 13 x 11) at 10^6 rows passes it. */
    u = cc_upper_create(g, node(g, "block.relu"), out, &image_shape, 1000000, &err);
    tu_expect_error("a batch over the size limit", u ? CC_OK : CC_EINVAL, CC_EINVAL, &err, "'block.relu'",
                    "1000000", NULL);
}

/* What the upper graph holds: the frontier and layer as inputs, only the
 * nodes that depend on the layer and feed the output. */
static void check_structure(const netbuild *b)
{
    const cc_graph *g = b->g;
    cc_error err;
    cc_upper *u = cc_upper_create(g, node(g, "block.relu"), node(g, "fc"), &image_shape, BATCH, &err);
    if (!u) {
        tu_check(0, "cc_upper_create: %s", err.msg);
        return;
    }
    tu_check(u->nfrontier == 2 && u->frontier[0] == node(g, "stem.conv") && u->frontier[1] == node(g, "stem.relu"),
             "frontier is stem.conv, stem.relu");
    const char *want[] = {"block.relu", "stem.conv", "stem.relu", "block.add", "cat", "head.conv", "head.relu",
                          "pool", "flatten", "fc"};
    const int nwant = (int)(sizeof want / sizeof want[0]);
    int same = u->graph->nnodes == nwant;
    for (int j = 0; same && j < nwant; j++)
        same = !strcmp(u->graph->nodes[j].name, want[j]) && u->node[j] == node(g, want[j]);
    tu_check(same, "upper graph: the layer, 2 frontier inputs, 7 nodes above (no aux), got %d nodes",
             u->graph->nnodes);
    tu_check(u->graph->params[0].data == g->params[cc_graph_find_param(g, "head.conv.weight")].data,
             "parameters are borrowed");
    cc_upper_free(u);
}

int main(void)
{
    netbuild res, chain;
    residual_net(&res);
    plain_chain(&chain);
    check_structure(&res);
    check_refusals(&res);
    for (int threads = 1; threads <= 3; threads += 2) {
        cc_set_threads(threads);
        tu_rng rng = {900 + (uint64_t)threads};
        check_layer(&res, "block.relu", 2, &rng);   /* under the residual and the concat */
        check_layer(&res, "stem.relu", 1, &rng);    /* only the concat's stem.conv skips it */
        check_layer(&res, "block.bn", 2, &rng);     /* inside the block */
        check_layer(&res, "head.relu", 0, &rng);    /* nothing skips it */
        check_layer(&chain, "c2", 0, &rng);
    }
    printf("threads: asked 3, the pool runs %d (CPUs: %d)\n", cc_parallel_threads(), cc_parallel_cpus());
    nb_free(&res);
    nb_free(&chain);
    return tu_finish("test_upper");
}
