/* engine/upper.c — the graph above a layer, planned for batches of its
 * substituted values (see upper.h for what it computes and why). */
#include "upper.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

void cc_upper_free(cc_upper *u)
{
    if (!u)
        return;
    cc_plan_free(u->plan);
    cc_plan_free(u->tail);
    cc_graph_free(u->graph);
    free(u->frontier);
    free(u->node);
    free(u->one_image);
    free(u);
}

/* in_upper[i]: node i depends on the layer and feeds the output. Returns
 * whether the layer feeds the output, or -1 when out of memory. */
static int mark_upper(const cc_graph *g, int layer, int output, char *in_upper)
{
    char *depends = calloc((size_t)g->nnodes, 1), *feeds = calloc((size_t)g->nnodes, 1);
    if (!depends || !feeds) {
        free(depends), free(feeds);
        return -1;
    }
    depends[layer] = 1;
    for (int i = layer + 1; i <= output; i++)
        for (int k = 0; k < g->nodes[i].ninputs && !depends[i]; k++)
            depends[i] = depends[g->nodes[i].input[k]];
    feeds[output] = 1;
    for (int i = output; i >= 0; i--)
        for (int k = 0; feeds[i] && k < g->nodes[i].ninputs; k++)
            feeds[g->nodes[i].input[k]] = 1;
    const int reaches = feeds[layer];
    for (int i = 0; i < g->nnodes; i++)
        in_upper[i] = i > layer && depends[i] && feeds[i];
    free(depends), free(feeds);
    return reaches;
}

/* The upper graph: an input per node in order[0..ninputs), then a copy of
 * each node in order[ninputs..n) with inputs and parameters renumbered.
 * renumber[i] is node i's index in the upper graph (filled here). */
static cc_graph *upper_graph(const cc_graph *g, const int *order, int ninputs, int n, int *renumber,
                             cc_error *err)
{
    cc_graph *u = cc_graph_create();
    int *param_of = malloc((size_t)(g->nparams ? g->nparams : 1) * sizeof *param_of);
    if (!u || !param_of) {
        cc_fail(err, CC_ENOMEM, "out of memory copying the %d nodes above layer '%s'", n - ninputs,
                g->nodes[order[0]].name);
        goto fail;
    }
    for (int p = 0; p < g->nparams; p++)
        param_of[p] = -1;
    for (int j = 0; j < n; j++) {
        const cc_node *nd = &g->nodes[order[j]];
        if (j < ninputs) {
            renumber[order[j]] = cc_graph_add_input(u, nd->name, err);
        } else {
            int in[CC_MAX_INPUTS], par[CC_MAX_PARAMS];
            for (int k = 0; k < nd->ninputs; k++)
                in[k] = renumber[nd->input[k]];
            for (int k = 0; k < CC_MAX_PARAMS; k++) {
                const int p = nd->param[k];
                if (p >= 0 && param_of[p] < 0)  /* borrowed, like the original graph's */
                    param_of[p] = cc_graph_add_param(u, g->params[p].name, g->params[p].shape,
                                                     g->params[p].data, err);
                if (p >= 0 && param_of[p] < 0)
                    goto fail;
                par[k] = p >= 0 ? param_of[p] : -1;
            }
            renumber[order[j]] = cc_graph_add_node(u, nd->name, nd->op->name, in, nd->ninputs, par,
                                                   nd->op->nparams, &nd->attrs, err);
        }
        if (renumber[order[j]] < 0)
            goto fail;
    }
    free(param_of);
    return u;
fail:
    free(param_of);
    cc_graph_free(u);
    return NULL;
}

#ifndef NDEBUG
/* Whether every node of the upper graph has its one-image shape with `rows`
 * as the first dimension. */
static int keeps_batch(const cc_upper *u, const cc_shape *shape, int rows)
{
    for (int j = 0; j < u->graph->nnodes; j++) {
        cc_shape want = u->one_image[j];
        want.d[0] = rows;
        if (!cc_shape_equal(&shape[j], &want))
            return 0;
    }
    return 1;
}
#endif

/* The upper graph planned for `rows` rows into *out. */
static cc_status plan_rows(const cc_upper *u, int rows, cc_plan **out, cc_error *err)
{
    const cc_graph *ug = u->graph;
    const int nin = u->nfrontier + 1;
    cc_shape *shape = malloc((size_t)(ug->nnodes + nin) * sizeof *shape);
    if (!shape)
        return cc_fail(err, CC_ENOMEM, "out of memory planning the nodes above layer '%s'", ug->nodes[0].name);
    cc_shape *in = shape + ug->nnodes;
    for (int k = 0; k < nin; k++) {
        in[k] = u->one_image[k];
        in[k].d[0] = rows;
    }
    cc_error why;
    cc_status st = cc_plan_shapes(ug, in, shape, &why);  /* at `rows`, a tensor may pass the size limit */
    if (st)
        cc_fail(err, st, "the nodes above layer '%s' at a batch of %d: %s", ug->nodes[0].name, rows, why.msg);
    /* Every op keeps dim 0 as the batch (flatten, concat and slice refuse to
     * touch it), so no node mixes the rows: each is one image's computation. */
    assert(st || keeps_batch(u, shape, rows));
    /* The shapes are inferred, so only memory can fail now. */
    if (!st && !(*out = cc_plan_create(ug, in, NULL, &why)))
        st = cc_fail(err, CC_ENOMEM, "the nodes above layer '%s' at a batch of %d: %s", ug->nodes[0].name,
                     rows, why.msg);
    free(shape);
    return st;
}

cc_upper *cc_upper_create(const cc_graph *g, int layer, int output, const cc_shape *input_shapes,
                          int batch, cc_error *err)
{
    const int nn = g->nnodes;
    if (output < 0 || output >= nn || layer < 0 || layer >= nn) {
        cc_fail(err, CC_EINVAL, "layer %d or output %d is not a node of this graph of %d", layer, output, nn);
        return NULL;
    }
    if (layer == output) {
        cc_fail(err, CC_EINVAL, "layer '%s' is the output: nothing runs above it", g->nodes[layer].name);
        return NULL;
    }
    if (batch < 1) {
        cc_fail(err, CC_EINVAL, "a batch of %d substituted values of layer '%s'; it must be at least 1",
                batch, g->nodes[layer].name);
        return NULL;
    }
    cc_upper *u = calloc(1, sizeof *u);
    cc_shape *image_shape = malloc((size_t)nn * sizeof *image_shape);
    char *in_upper = malloc((size_t)nn);
    int *order = malloc((size_t)nn * sizeof *order), *renumber = malloc((size_t)nn * sizeof *renumber);
    char *is_frontier = calloc((size_t)nn, 1);
    int reaches = 0;
    if (!u || !image_shape || !in_upper || !order || !renumber || !is_frontier ||
        (reaches = mark_upper(g, layer, output, in_upper)) < 0) {
        cc_fail(err, CC_ENOMEM, "out of memory finding the nodes above layer '%s'", g->nodes[layer].name);
        goto fail;
    }
    if (!reaches) {
        cc_fail(err, CC_EINVAL, "layer '%s' does not feed the output '%s': substituting it changes nothing",
                g->nodes[layer].name, g->nodes[output].name);
        goto fail;
    }
    u->layer = layer, u->output = output, u->batch = batch;
    if (cc_plan_shapes(g, input_shapes, image_shape, err))
        goto fail;

    /* The frontier: read by an upper node, neither upper nor the layer. */
    for (int i = 0; i < nn; i++)
        for (int k = 0; in_upper[i] && k < g->nodes[i].ninputs; k++) {
            const int s = g->nodes[i].input[k];
            if (s != layer && !in_upper[s] && !is_frontier[s]) {
                is_frontier[s] = 1;
                u->nfrontier++;
            }
        }
    int n = 0;
    order[n++] = layer;
    for (int i = 0; i < nn; i++)
        if (is_frontier[i])
            order[n++] = i;
    for (int i = 0; i < nn; i++)
        if (in_upper[i])
            order[n++] = i;
    if (!(u->frontier = malloc((size_t)(u->nfrontier ? u->nfrontier : 1) * sizeof *u->frontier)) ||
        !(u->node = malloc((size_t)n * sizeof *u->node)) ||
        !(u->one_image = malloc((size_t)n * sizeof *u->one_image))) {
        cc_fail(err, CC_ENOMEM, "out of memory listing the nodes above layer '%s'", g->nodes[layer].name);
        goto fail;
    }
    memcpy(u->frontier, order + 1, (size_t)u->nfrontier * sizeof *u->frontier);
    memcpy(u->node, order, (size_t)n * sizeof *u->node);
    for (int j = 0; j < n; j++)
        u->one_image[j] = image_shape[order[j]];
    for (int k = 0; k <= u->nfrontier; k++)
        if (u->one_image[k].d[0] != 1) {
            char s[64];
            cc_fail(err, CC_EINVAL, "node '%s' has shape %s for the given input shapes; they must be one "
                    "image's (batch 1)", g->nodes[order[k]].name, cc_shape_str(&u->one_image[k], s, sizeof s));
            goto fail;
        }
    if (!(u->graph = upper_graph(g, order, u->nfrontier + 1, n, renumber, err)) ||
        plan_rows(u, batch, &u->plan, err))
        goto fail;
    u->last = u->plan;
    goto done;
fail:
    cc_upper_free(u);
    u = NULL;
done:
    free(image_shape), free(in_upper), free(order), free(renumber), free(is_frontier);
    return u;
}

cc_status cc_upper_forward(cc_upper *u, const cc_real *acts, int n,
                           const cc_real *const *frontier_values, cc_error *err)
{
    const cc_graph *ug = u->graph;
    if (n < 1 || n > u->batch)
        return cc_fail(err, CC_EINVAL, "a call with %d values of layer '%s'; it was planned for 1 to %d",
                       n, ug->nodes[0].name, u->batch);
    cc_plan *p = u->plan;
    if (n < u->batch) {
        if (u->tail && u->tail->shape[0].d[0] != n) {
            cc_plan_free(u->tail);
            u->tail = NULL;
            u->last = u->plan;
        }
        cc_status st;
        if (!u->tail && (st = plan_rows(u, n, &u->tail, err)))
            return st;
        p = u->tail;
    }
    /* Inputs come first in the upper graph and are live together, so they
     * can all be written before any node runs. */
    memcpy(p->value[0], acts, cc_shape_numel(&p->shape[0]) * sizeof(cc_real));
    for (int k = 1; k <= u->nfrontier; k++) {
        const size_t one = cc_shape_numel(&u->one_image[k]);
        for (int r = 0; r < n; r++)
            memcpy(p->value[k] + (size_t)r * one, frontier_values[k - 1], one * sizeof(cc_real));
    }
    cc_plan_forward_range(p, u->nfrontier + 1, ug->nnodes - 1);
    u->last = p;
    return CC_OK;
}

const cc_real *cc_upper_output(const cc_upper *u)
{
    return u->last->value[u->graph->nnodes - 1];
}

cc_shape cc_upper_output_shape(const cc_upper *u)
{
    return u->last->shape[u->graph->nnodes - 1];
}
