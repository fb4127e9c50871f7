/* tests/fuzz/fuzz_reader.c — libFuzzer target for the .ccm reader.
 *
 * Each input is loaded twice: as given (almost always stopped by a CRC), and
 * with its CRCs recomputed (cc_model_reseal) so that mutations reach the
 * structural checks behind them. A model that loads is planned and run
 * (tests/fuzz/exercise.c).
 * Built and run by `make fuzz` (clang, -fsanitize=fuzzer,address,undefined);
 * seeds come from tests/fuzz/make_fuzz_corpus.c. */
#include "exercise.h"
#include "weights/model.h"
#include "weights/writer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_INPUTS = 8, MAX_COST = 20 * 1000 * 1000, MAX_ARENA = 64 << 20 };

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

static void exercise(const cc_model *m)
{
    const cc_graph *g = m->graph;
    char buf[128];
    cc_model_suggest(m, g->nodes[g->nnodes - 1].name, buf, sizeof buf);
    (void)cc_model_find_layer(m, "input");
    if (g->ninputs > MAX_INPUTS)
        return;
    cc_shape in[MAX_INPUTS];
    for (int i = 0; i < MAX_INPUTS; i++)
        in[i] = cc_shape4(1, 3, 32, 32);
    cc_shape *shapes = malloc((size_t)g->nnodes * sizeof *shapes);
    cc_error err;
    if (shapes && !cc_plan_shapes(g, in, shapes, &err) && forward_cost(g, shapes) < MAX_COST) {
        cc_plan *p = cc_plan_create(g, in, NULL, &err);
        if (p && p->arena_bytes < MAX_ARENA) {
            static float x[3 * 32 * 32];
            const cc_real *inputs[MAX_INPUTS];
            for (int i = 0; i < MAX_INPUTS; i++)
                inputs[i] = x;
            cc_plan_forward(p, inputs);
        }
        cc_plan_free(p);
    }
    free(shapes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cc_model *m = NULL;
    cc_error err;
    if (!cc_model_load_memory(data, size, &m, &err)) {
        fuzz_exercise(m);
        cc_model_free(m);
    }
    unsigned char *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    if (size)
        memcpy(copy, data, size);
    cc_model_reseal(copy, size);
    if (!cc_model_load_memory(copy, size, &m, &err)) {
        fuzz_exercise(m);
        cc_model_free(m);
    }
    free(copy);
    return 0;
}
