/* tests/test_tape_pass.c — backward passes over part of a tape's request,
 * guided or not, and requests with the input and many inner nodes, on
 * tests/fixtures/guided_net.ccm (tests/models/guided_net.py, converted) against
 * PyTorch's gradients in tests/fixtures/guided.ccgf (tests/gen_guided_fixtures.py):
 *   - node.module as the model exposes it: the two nn.ReLU module calls are
 *     the only relu nodes marked "ReLU" (F.relu and torch.relu calls are ""),
 *     where FORMAT.md's fallback for older files would guide all four;
 *   - one tape requesting the Grad-CAM layer and the input: a pass to the layer
 *     only gives, bit for bit, the layer gradient of a tape that requests the
 *     layer alone, and PyTorch's; a guided pass to the input (the ReLU modules
 *     guided) gives pytorch-grad-cam's guided backprop, an unguided one
 *     PyTorch's plain input gradient; every pass again in another order gives
 *     the same bits (nothing stale accumulates), the all-targets backward the
 *     same gradients, and what the last pass did not reach reads as NULL;
 *   - FullGrad's request, the input and every Conv2d/BatchNorm2d output with a
 *     bias, in one backward: each gradient against PyTorch's, captured by
 *     tensor hooks as the reference does.
 * Tolerance against PyTorch: |got - want| <= 1e-5 max|want| + 1e-4 |want|.
 *
 * Usage: test_tape_pass [DIR]   (default tests/fixtures, from the repo root) */
#include "autograd/tape.h"
#include "tensorfile.h"
#include "testutil.h"
#include "weights/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_TARGETS = 16 };

typedef struct {
    const cc_model *m;
    const tf_file *f;
    const cc_real *input;
    cc_real *seed;   /* one-hot on the explained class */
    int layer;
} net;

/* got against a fixture tensor of the same size, within the PyTorch tolerance. */
static void against_pytorch(const char *what, const cc_real *got, const tf_tensor *want, size_t n)
{
    if (!got || !want || want->n != n) {
        tu_check(0, "%s: %s (fixture %zu values, node %zu)", what, got ? "sizes differ" : "no gradient",
                 want ? want->n : 0, n);
        return;
    }
    double *w = tu_alloc(n * sizeof *w), top = 0;
    for (size_t i = 0; i < n; i++) {
        w[i] = ((const float *)want->data)[i];
        top = fabs(w[i]) > top ? fabs(w[i]) : top;
    }
    tu_close(what, got, w, n, 1e-5 * top, 1e-4);
    free(w);
}

/* A copy of a gradient to compare later passes with, bit for bit. */
static double *keep(const cc_real *g, size_t n)
{
    double *c = tu_alloc(n * sizeof *c);
    for (size_t i = 0; g && i < n; i++)
        c[i] = g[i];
    return c;
}

static size_t numel(const cc_tape *t, int node)
{
    return cc_shape_numel(&t->plan->shape[node]);
}

static cc_tape *tape_for(const net *nt, const int *targets, int ntargets)
{
    const cc_shape in = cc_shape4(1, 3, 12, 12);
    const cc_tape_request req = {.seed = nt->m->output, .targets = targets, .ntargets = ntargets};
    cc_error err;
    cc_tape *t = cc_tape_create(nt->m->graph, &in, &req, &err);
    tu_check(t != NULL, "tape: %s", t ? "" : err.msg);
    if (t)
        cc_tape_forward(t, &nt->input);
    return t;
}

/* guided[i]: node i is an nn.ReLU module call (node.module), or with the
 * fallback every relu node; returns how many. */
static int relu_modules(const cc_model *m, char *guided, int fallback)
{
    int n = 0;
    for (int i = 0; i < m->graph->nnodes; i++) {
        const cc_op *op = m->graph->nodes[i].op;
        guided[i] = op && !strcmp(op->name, "relu") && (fallback || !strcmp(m->node_module[i], "ReLU"));
        n += guided[i];
    }
    return n;
}

static void test_node_module(const cc_model *m)
{
    static const char *const relus[] = {"act", "relu", "act:2", "relu:2"}, *const modules[] = {"ReLU", "", "ReLU", ""};
    for (int k = 0; k < 4; k++) {
        const int i = cc_model_find_layer(m, relus[k]);
        tu_check(i > 0 && !strcmp(m->node_module[i], modules[k]), "node '%s' has module '%s'; want '%s'", relus[k],
                 i > 0 ? m->node_module[i] : "(no node)", modules[k]);
    }
    tu_check(!strcmp(m->node_module[0], "") && !strcmp(m->node_module[cc_model_find_layer(m, "hs")], "Hardswish"),
             "the input's module is '%s', hs's '%s'", m->node_module[0],
             m->node_module[cc_model_find_layer(m, "hs")]);
    char *guided = tu_alloc((size_t)m->graph->nnodes);
    tu_check(relu_modules(m, guided, 0) == 2 && relu_modules(m, guided, 1) == 4,
             "nn.ReLU module calls: %d of %d relu nodes; want 2 of 4", relu_modules(m, guided, 0),
             relu_modules(m, guided, 1));
    free(guided);
}

static void test_passes(const net *nt)
{
    const cc_model *m = nt->m;
    const int layer = nt->layer, input = 0;
    const int both[2] = {layer, input};
    cc_tape *t = tape_for(nt, both, 2), *only = tape_for(nt, &layer, 1);
    char *guided = tu_alloc((size_t)m->graph->nnodes), *every_relu = tu_alloc((size_t)m->graph->nnodes);
    relu_modules(m, guided, 0);
    relu_modules(m, every_relu, 1);
    if (!t || !only)
        goto done;
    const size_t nl = numel(t, layer), ni = numel(t, input);
    const int to_layer[1] = {0}, to_input[1] = {1};
    const cc_tape_pass layer_pass = {.targets = to_layer, .ntargets = 1};
    const cc_tape_pass guided_pass = {.targets = to_input, .ntargets = 1, .guided = guided};
    const cc_tape_pass plain_pass = {.targets = to_input, .ntargets = 1};
    const cc_tape_pass fallback_pass = {.targets = to_input, .ntargets = 1, .guided = every_relu};

    cc_tape_backward(only, nt->seed);
    double *layer_alone = keep(cc_tape_grad(only, layer), nl);
    cc_tape_backward_pass(t, nt->seed, &layer_pass);
    tu_close("layer pass vs a tape requesting the layer alone", cc_tape_grad(t, layer), layer_alone, nl, 0, 0);
    against_pytorch("layer gradient vs PyTorch", cc_tape_grad(t, layer), tf_get(nt->f, 'f', "net/layer_grad"), nl);
    tu_check(!cc_tape_grad(t, input), "the layer pass left an input gradient readable");

    cc_tape_backward_pass(t, nt->seed, &guided_pass);
    double *guided_input = keep(cc_tape_grad(t, input), ni);
    against_pytorch("guided input gradient vs pytorch-grad-cam's guided backprop", cc_tape_grad(t, input),
                    tf_get(nt->f, 'f', "net/guided"), ni);
    cc_tape_backward_pass(t, nt->seed, &plain_pass);
    double *plain_input = keep(cc_tape_grad(t, input), ni);
    against_pytorch("unguided input gradient vs PyTorch", cc_tape_grad(t, input), tf_get(nt->f, 'f', "net/input_grad"),
                    ni);

    /* Again, in other orders: the same bits. */
    cc_tape_backward_pass(t, nt->seed, &guided_pass);
    tu_close("guided pass after an unguided one", cc_tape_grad(t, input), guided_input, ni, 0, 0);
    cc_tape_backward_pass(t, nt->seed, &layer_pass);
    tu_close("layer pass after guided ones", cc_tape_grad(t, layer), layer_alone, nl, 0, 0);
    cc_tape_backward_pass(t, nt->seed, &guided_pass);
    tu_close("guided pass right after a layer pass", cc_tape_grad(t, input), guided_input, ni, 0, 0);
    cc_tape_backward(t, nt->seed);
    tu_close("all-targets backward: layer", cc_tape_grad(t, layer), layer_alone, nl, 0, 0);
    tu_close("all-targets backward: input", cc_tape_grad(t, input), plain_input, ni, 0, 0);
    cc_tape_backward_pass(t, nt->seed, &plain_pass);
    tu_close("unguided pass after everything", cc_tape_grad(t, input), plain_input, ni, 0, 0);

    /* The module types matter here: guiding every relu node moves the input
     * gradient by far more than the tolerance (1e-5 of its largest value). */
    cc_tape_backward_pass(t, nt->seed, &fallback_pass);
    double moved = 0, top = 0;
    for (size_t i = 0; i < ni; i++) {
        moved = fmax(moved, fabs(cc_tape_grad(t, input)[i] - guided_input[i]));
        top = fmax(top, fabs(guided_input[i]));
    }
    tu_check(moved > 1e-3 * top, "guiding F.relu and torch.relu too moves the input gradient by only %g of %g",
             moved, top);
    cc_tape_forward(t, &nt->input);
    tu_check(!cc_tape_grad(t, input) && !cc_tape_grad(t, layer), "a gradient reads as set after a new forward");
    free(layer_alone), free(guided_input), free(plain_input);
done:
    cc_tape_free(t);
    cc_tape_free(only);
    free(guided), free(every_relu);
}

/* FullGrad's bias layers: exact Conv2d/BatchNorm2d modules that bind a bias. */
static int bias_layers(const cc_model *m, int *nodes, int fallback)
{
    int n = 0;
    for (int i = m->graph->ninputs; i < m->graph->nnodes && n < MAX_TARGETS; i++) {
        const cc_node *nd = &m->graph->nodes[i];
        const int conv = !strcmp(nd->op->name, "conv2d"), bn = !strcmp(nd->op->name, "batchnorm2d");
        const int typed = fallback ? conv || bn : !strcmp(m->node_module[i], "Conv2d") ||
                                                  !strcmp(m->node_module[i], "BatchNorm2d");
        if (typed && nd->param[1] >= 0 && !strcmp(nd->op->param_names[1], "bias"))
            nodes[n++] = i;
    }
    return n;
}

static void test_fullgrad_request(const net *nt)
{
    static const char *const names[] = {"conv1", "bn1", "conv3", "conv4"};
    int targets[MAX_TARGETS + 1] = {0}, fallback[MAX_TARGETS];
    const int nb = bias_layers(nt->m, targets + 1, 0);
    int same = nb == 4 && bias_layers(nt->m, fallback, 1) == nb;
    for (int k = 0; k < nb && same; k++)
        same = targets[1 + k] == fallback[k] && !strcmp(nt->m->graph->nodes[targets[1 + k]].name, names[k]);
    tu_check(same, "bias layers: %d found; want conv1, bn1, conv3, conv4, with and without node.module", nb);
    cc_tape *t = tape_for(nt, targets, 1 + nb);
    if (!t)
        return;
    cc_tape_backward(t, nt->seed);
    against_pytorch("FullGrad request: input gradient", cc_tape_grad(t, 0), tf_get(nt->f, 'f', "net/input_grad"),
                    numel(t, 0));
    for (int k = 0; k < nb; k++) {
        char what[96];
        snprintf(what, sizeof what, "FullGrad request: gradient at bias layer '%s'", names[k]);
        against_pytorch(what, cc_tape_grad(t, targets[1 + k]), tf_get(nt->f, 'f', "net/bias/%d", k),
                        numel(t, targets[1 + k]));
    }
    cc_tape_free(t);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "tests/fixtures";
    char path[512];
    cc_error err;
    cc_model *m = NULL;
    tf_file f;
    snprintf(path, sizeof path, "%s/guided_net.ccm", dir);
    cc_status st = cc_model_load(path, &m, &err);
    tu_check(st == CC_OK, "loading %s: %s", path, st ? err.msg : "");
    snprintf(path, sizeof path, "%s/guided.ccgf", dir);
    if (st || tf_load(&f, path)) {
        tu_check(0, "the fixtures did not load (regenerate with `make fixtures`)");
        cc_model_free(m);
        return tu_finish("tape_pass");
    }
    const tf_tensor *x = tf_get(&f, 'f', "net/input"), *c = tf_get(&f, 'i', "net/category");
    tu_check(m->node_module != NULL, "%s has no node.module", dir);
    if (x && c && m->node_module) {
        net nt = {.m = m, .f = &f, .input = x->data, .layer = cc_model_find_layer(m, "hs")};
        nt.seed = tu_alloc(5 * sizeof *nt.seed);
        nt.seed[*(const int32_t *)c->data] = 1;
        test_node_module(m);
        test_passes(&nt);
        test_fullgrad_request(&nt);
        free(nt.seed);
    }
    tf_free(&f);
    cc_model_free(m);
    return tu_finish("tape_pass");
}
