/* autograd/tape.h — forward that keeps what the backward needs, and a
 * backward that walks it in reverse and stops at the requested tensors.
 *
 * The graph is static, so the tape is planned rather than discovered: from
 * the seed (the tensor whose gradient the caller provides, e.g. the logits
 * with a one-hot on class c) and the requests (tensors and parameters whose
 * gradient is wanted), the tape selects the nodes whose backward must run —
 * those on a path from a request up to the seed — and orders them in reverse
 * topological order. Only the values those backwards read are saved (kept
 * alive in the arena past the forward); a gradient buffer exists only where a
 * gradient flows towards a request. Nothing below the lowest request is
 * computed, and no weight gradient unless asked for. */
#ifndef CC_TAPE_H
#define CC_TAPE_H

#include "engine/plan.h"

typedef struct {
    int seed;                  /* node whose gradient the backward starts from */
    const int *targets;        /* nodes whose gradient is wanted (may be graph inputs) */
    int ntargets;
    const int *param_grads;    /* parameters whose gradient is wanted */
    int nparam_grads;
    const int *keep;           /* values to keep readable after the forward */
    int nkeep;
} cc_tape_request;

typedef struct cc_tape {
    cc_plan *plan;
    int seed;
    int *order;                /* nodes whose backward runs, in run order */
    int norder;
    cc_real **grad;            /* per node: its gradient buffer, or NULL */
    int *grad_first;           /* per node: the step its gradient buffer starts (is zeroed) */
    cc_real **param_grad;      /* per parameter: its gradient, or NULL */
    unsigned *reads;           /* per node: CC_SAVES_* its backward reads (when in order) */
    char *requested;           /* per node: its gradient stays readable after the backward */
} cc_tape;

cc_tape *cc_tape_create(const cc_graph *g, const cc_shape *input_shapes,
                        const cc_tape_request *req, cc_error *err);
void cc_tape_free(cc_tape *t);

void cc_tape_forward(cc_tape *t, const cc_real *const *inputs);
/* seed_grad has the seed node's shape; gradients are computed anew each call,
 * so one forward serves any number of backwards (e.g. one per class). */
void cc_tape_backward(cc_tape *t, const cc_real *seed_grad);

/* After a backward: a requested tensor's or parameter's gradient, else NULL. */
const cc_real *cc_tape_grad(const cc_tape *t, int node);
const cc_real *cc_tape_param_grad(const cc_tape *t, int param);

#endif
