/* engine/upper.h — the network above one layer, run on a batch of
 * substituted values of that layer (AblationCAM's forward).
 *
 * Given a layer L and the graph's output O, the upper part is every node that
 * depends on L and feeds O (a branch of L's that O never reads is left out).
 * Its frontier is every node outside it, other than L, that one of its nodes
 * reads: the tensors that skip over L (a residual's identity, a concat's
 * input from below). cc_upper runs the upper part on n values of L at once,
 * with each frontier node's value for one image replicated n times:
 *
 *   out[r] = upper(acts[r], frontier values)    r = 0 .. n-1
 *
 * Why this is the full network's result: pytorch-grad-cam's AblationCAM runs
 * the whole model on the image replicated n times, with L's output row r
 * replaced by acts[r]. A node that does not depend on L sees n copies of one
 * input and so holds n copies of its one-image value: the engine computes
 * each row by the same arithmetic (convs image by image, products along
 * independent outputs, the other ops element by element or plane by plane),
 * and no op mixes rows (every op keeps dim 0 as the batch; flatten, concat and
 * slice refuse to touch it). So the nodes above L read here exactly what they
 * read in the full network, and the engine's full graph at batch n with L's
 * value overwritten gives the same bits (tests/test_upper.c). One caveat: a
 * linear layer is a matrix-vector product at batch 1 and a matrix product
 * above, so a frontier value a linear layer computed at batch 1 may differ
 * from its batch-n rows by float rounding.
 *
 * Memory: the upper part is a graph of its own (inputs: L, then the frontier
 * nodes; parameter data borrowed, as g borrows it), planned once at create
 * for `batch` rows in one arena that every call reuses. A call with n < batch
 * (the last chunk of channels) runs a second plan for exactly n rows, made at
 * the first call with that n and kept while calls keep that n (a different
 * smaller n replaces it): no padded row is computed, and the result is bit
 * for bit the full network's at batch n, since kernels choose their path by
 * size (at n = 1 a linear layer is a matrix-vector product).
 *
 * Cost of one call: copying in n x numel(L) values and n copies of each
 * frontier node's one-image value, then the forward of the upper nodes at n
 * rows. Nothing below L runs, and nothing allocates but that one tail plan.
 * One thread uses a cc_upper at a time. */
#ifndef CC_UPPER_H
#define CC_UPPER_H

#include "plan.h"

typedef struct cc_upper {
    int layer, output;     /* in the original graph */
    int batch;             /* rows planned at create */
    int nfrontier;
    int *frontier;         /* original node indices, ascending: a caller keeps these readable in
                            * its own forward (cc_plan_opts.keep, cc_tape_request.keep) */
    int *node;             /* per node of the upper graph: its original index */
    cc_graph *graph;       /* inputs L, frontier[0..], then the upper nodes; output last */
    cc_shape *one_image;   /* per node of the upper graph: its shape for one image */
    cc_plan *plan;         /* at batch rows */
    cc_plan *tail;         /* at tail->shape[0].d[0] < batch rows, or NULL */
    const cc_plan *last;   /* the plan of the latest call */
} cc_upper;

/* input_shapes: the full graph's input shapes for one image (first
 * dimension 1). NULL with err set, naming the layer, when the layer is the
 * output or does not feed it, the shapes are not one image's, a tensor at
 * `batch` rows passes the size limit, or the plan does not fit in memory. */
cc_upper *cc_upper_create(const cc_graph *g, int layer, int output, const cc_shape *input_shapes,
                          int batch, cc_error *err);
void cc_upper_free(cc_upper *u);

/* acts: n x (L's one-image shape), 1 <= n <= batch. frontier_values[k]: the
 * one-image value of node frontier[k] (may be NULL when nfrontier is 0).
 * Fails only when n is out of range or a new tail plan does not fit. */
cc_status cc_upper_forward(cc_upper *u, const cc_real *acts, int n,
                           const cc_real *const *frontier_values, cc_error *err);

/* The output of the latest call: n rows of the output's one-image shape. */
const cc_real *cc_upper_output(const cc_upper *u);
cc_shape cc_upper_output_shape(const cc_upper *u);

#endif
