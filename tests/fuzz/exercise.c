/* tests/fuzz/exercise.c — see exercise.h. */
#include "exercise.h"
#include "engine/plan.h"

#include <stdlib.h>

enum { MAX_INPUTS = 8, MAX_PIXELS = 64 * 64 * 4, MAX_COST = 20 * 1000 * 1000, MAX_ARENA = 64 << 20 };

/* A generous estimate of the multiply-adds of a forward. */
static double forward_cost(const cc_graph *g, const cc_shape *shapes)
{
    double cost = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const cc_node *n = &g->nodes[i];
        double out = (double)cc_shape_numel(&shapes[i]), per = 1 + (double)n->attrs.kernel[0] * n->attrs.kernel[1];
        for (int k = 0; k < CC_MAX_PARAMS; k++)
            if (n->param[k] >= 0)
                per += (double)cc_shape_numel(&g->params[n->param[k]].shape);
        cost += out * per;
        for (int k = 0; k < n->ninputs; k++)
            cost += (double)cc_shape_numel(&shapes[n->input[k]]);
    }
    return cost;
}

void fuzz_exercise(const cc_model *m)
{
    const cc_graph *g = m->graph;
    char buf[128];
    cc_model_suggest(m, g->nodes[g->nnodes - 1].name, buf, sizeof buf);
    (void)cc_model_find_layer(m, "input");
    if (g->ninputs > MAX_INPUTS)
        return;
    cc_shape in[MAX_INPUTS];
    const int h = m->input.height ? m->input.height : 32, w = m->input.width ? m->input.width : 32;
    if ((size_t)m->input.channels * h * w > MAX_PIXELS)
        return;
    for (int i = 0; i < MAX_INPUTS; i++)
        in[i] = cc_shape4(1, m->input.channels, h, w);
    cc_shape *shapes = malloc((size_t)g->nnodes * sizeof *shapes);
    cc_error err;
    if (shapes && !cc_plan_shapes(g, in, shapes, &err) && forward_cost(g, shapes) < MAX_COST) {
        cc_plan *p = cc_plan_create(g, in, NULL, &err);
        if (p && p->arena_bytes < MAX_ARENA) {
            static float x[MAX_PIXELS];
            const cc_real *inputs[MAX_INPUTS];
            for (int i = 0; i < MAX_INPUTS; i++)
                inputs[i] = x;
            cc_plan_forward(p, inputs);
        }
        cc_plan_free(p);
    }
    free(shapes);
}
