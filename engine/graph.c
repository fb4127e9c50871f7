/* engine/graph.c — building and looking up the named node graph. */
#include "graph.h"

#include <stdlib.h>
#include <string.h>

cc_graph *cc_graph_create(void)
{
    return calloc(1, sizeof(cc_graph));
}

void cc_graph_free(cc_graph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->nnodes; i++)
        free(g->nodes[i].name);
    for (int i = 0; i < g->nparams; i++)
        free(g->params[i].name);
    free(g->nodes);
    free(g->params);
    free(g);
}

static char *copy_name(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    return p ? memcpy(p, s, n) : NULL;
}

static int grow(void **items, int *cap, int count, size_t item_size)
{
    if (count < *cap)
        return 1;
    int ncap = *cap ? *cap * 2 : 16;
    void *p = realloc(*items, (size_t)ncap * item_size);
    if (!p)
        return 0;
    *items = p;
    *cap = ncap;
    return 1;
}

static int check_name(const cc_graph *g, const char *name, cc_error *err)
{
    if (!name || !*name || strlen(name) > 255) {
        cc_fail(err, CC_EINVAL, "a node name must have 1 to 255 characters");
        return 0;
    }
    if (cc_graph_find(g, name) >= 0) {
        cc_fail(err, CC_EINVAL, "two nodes are named '%s'", name);
        return 0;
    }
    return 1;
}

static int append_node(cc_graph *g, const cc_node *node, cc_error *err)
{
    char *name = copy_name(node->name);
    if (!name || !grow((void **)&g->nodes, &g->nodes_cap, g->nnodes, sizeof(cc_node))) {
        free(name);
        cc_fail(err, CC_ENOMEM, "out of memory adding node '%s'", node->name);
        return -1;
    }
    g->nodes[g->nnodes] = *node;
    g->nodes[g->nnodes].name = name;
    return g->nnodes++;
}

int cc_graph_add_input(cc_graph *g, const char *name, cc_error *err)
{
    if (!check_name(g, name, err))
        return -1;
    cc_node node;
    memset(&node, 0, sizeof node);
    node.name = (char *)name;
    for (int i = 0; i < CC_MAX_PARAMS; i++)
        node.param[i] = -1;
    int id = append_node(g, &node, err);
    if (id >= 0)
        g->ninputs++;
    return id;
}

int cc_graph_add_param(cc_graph *g, const char *name, cc_shape shape, const cc_real *data,
                       cc_error *err)
{
    if (!name || !*name || cc_graph_find_param(g, name) >= 0) {
        cc_fail(err, CC_EINVAL, "parameter name '%s' is empty or used twice", name ? name : "");
        return -1;
    }
    if (!data || shape.rank < 1 || shape.rank > CC_MAX_RANK) {
        cc_fail(err, CC_EINVAL, "parameter '%s' needs data and a rank of 1 to %d", name, CC_MAX_RANK);
        return -1;
    }
    char *copy = copy_name(name);
    if (!copy || !grow((void **)&g->params, &g->params_cap, g->nparams, sizeof(cc_param))) {
        free(copy);
        cc_fail(err, CC_ENOMEM, "out of memory adding parameter '%s'", name);
        return -1;
    }
    g->params[g->nparams] = (cc_param){copy, shape, data};
    return g->nparams++;
}

int cc_graph_add_node(cc_graph *g, const char *name, const char *opname, const int *inputs,
                      int ninputs, const int *params, int nparams, const cc_attrs *attrs,
                      cc_error *err)
{
    if (!check_name(g, name, err))
        return -1;
    const cc_op *op = cc_op_find(opname ? opname : "");
    if (!op) {
        cc_fail(err, CC_EINVAL, "node '%s': unknown op '%s'", name, opname ? opname : "");
        return -1;
    }
    if (ninputs < op->min_inputs || ninputs > op->max_inputs) {
        cc_fail(err, CC_EINVAL, "node '%s': %s takes %d to %d inputs, got %d", name, op->name,
                op->min_inputs, op->max_inputs, ninputs);
        return -1;
    }
    if (nparams > op->nparams) {
        cc_fail(err, CC_EINVAL, "node '%s': %s takes %d parameters, got %d", name, op->name,
                op->nparams, nparams);
        return -1;
    }
    cc_node node;
    memset(&node, 0, sizeof node);
    node.name = (char *)name;
    node.op = op;
    node.ninputs = ninputs;
    node.attrs = attrs ? *attrs : cc_attrs_default();
    for (int i = 0; i < ninputs; i++) {
        if (inputs[i] < 0 || inputs[i] >= g->nnodes) {
            cc_fail(err, CC_EINVAL, "node '%s': input %d refers to node %d, which does not exist yet "
                    "(nodes must come after their inputs)", name, i, inputs[i]);
            return -1;
        }
        node.input[i] = inputs[i];
    }
    for (int i = 0; i < CC_MAX_PARAMS; i++) {
        int p = i < nparams ? params[i] : -1;
        if (p < -1 || p >= g->nparams) {
            cc_fail(err, CC_EINVAL, "node '%s': parameter '%s' refers to tensor %d of %d", name,
                    op->param_names[i], p, g->nparams);
            return -1;
        }
        if (p < 0 && (op->required_params >> i & 1)) {
            cc_fail(err, CC_EINVAL, "node '%s': %s needs its '%s' parameter", name, op->name,
                    op->param_names[i]);
            return -1;
        }
        node.param[i] = p;
    }
    return append_node(g, &node, err);
}

int cc_graph_find(const cc_graph *g, const char *name)
{
    for (int i = 0; i < g->nnodes; i++)
        if (!strcmp(g->nodes[i].name, name))
            return i;
    return -1;
}

int cc_graph_find_param(const cc_graph *g, const char *name)
{
    for (int i = 0; i < g->nparams; i++)
        if (!strcmp(g->params[i].name, name))
            return i;
    return -1;
}
