/* engine/graph.h — a network as named nodes in topological order.
 *
 * Node names are PyTorch module paths ("features.3.block.1"), so a user names
 * the same layer here as in Python. A node's value is its op's output; graph
 * inputs are nodes without an op. Parameters are named tensors the graph
 * borrows (a model file or a test owns their memory); the graph copies names
 * and structure only. Nodes may only consume earlier nodes, so node order is
 * a topological order and the executor needs no sort. */
#ifndef CC_GRAPH_H
#define CC_GRAPH_H

#include "layers/op.h"

typedef struct {
    char *name;
    cc_shape shape;
    const cc_real *data;  /* borrowed */
} cc_param;

typedef struct {
    char *name;
    const cc_op *op;      /* NULL for a graph input */
    int ninputs;
    int input[CC_MAX_INPUTS];
    int param[CC_MAX_PARAMS];  /* index into params, -1 when absent */
    cc_attrs attrs;
} cc_node;

typedef struct cc_graph {
    cc_node *nodes;
    int nnodes, nodes_cap;
    cc_param *params;
    int nparams, params_cap;
    int ninputs;
} cc_graph;

cc_graph *cc_graph_create(void);
void cc_graph_free(cc_graph *g);

/* Each returns the new node or parameter index, or -1 with err set. */
int cc_graph_add_input(cc_graph *g, const char *name, cc_error *err);
int cc_graph_add_param(cc_graph *g, const char *name, cc_shape shape, const cc_real *data,
                       cc_error *err);
/* params[i] binds the op's i-th parameter (op->param_names[i]); -1 leaves an
 * optional one out. Checks names, arity and references, not shapes (shapes
 * depend on the input size and are checked when planning). */
int cc_graph_add_node(cc_graph *g, const char *name, const char *op, const int *inputs,
                      int ninputs, const int *params, int nparams, const cc_attrs *attrs,
                      cc_error *err);

int cc_graph_find(const cc_graph *g, const char *name);        /* node index or -1 */
int cc_graph_find_param(const cc_graph *g, const char *name);  /* param index or -1 */

#endif
