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
 * computed, and no weight gradient unless asked for.
 *
 * One forward serves any number of backward passes, and a pass may compute
 * a subset of the requested targets, optionally guided (layers/op.h): e.g.
 * a Grad-CAM pass to the layer, then a guided pass to the input. */
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
    int no_fusion;             /* plan every node on its own (cc_plan_opts.no_fusion) */
    int prepare;               /* the parameters never change (cc_plan_opts.prepare) */
} cc_tape_request;

typedef struct cc_tape {
    cc_plan *plan;
    int seed;
    int *order;                /* nodes whose backward may run, in run order */
    int norder;
    cc_real **grad;            /* per node: its gradient buffer, or NULL */
    cc_real **param_grad;      /* per parameter: its gradient, or NULL */
    unsigned *reads;           /* per node: CC_SAVES_* its backward reads (when in order) */
    char *requested;           /* per node: its gradient stays readable after the backward */
    int *targets;              /* the request's targets, in its order */
    int ntargets;
    char *active;              /* per node: the last pass wanted its gradient (all 0 after a forward) */
    char *zeroed;              /* per node, during a pass: its gradient buffer has been zeroed */
    int have_param_grads;      /* the last pass computed the parameter gradients */
} cc_tape;

/* What one backward pass computes. */
typedef struct {
    const int *targets;        /* indices into the request's targets; NULL: every target */
    int ntargets;
    int param_grads;           /* nonzero: the requested parameter gradients too */
    const char *guided;        /* per graph node, nonzero: run the op's guided_backward (it must have
                                * one) instead of its backward; NULL: nothing is guided */
} cc_tape_pass;

cc_tape *cc_tape_create(const cc_graph *g, const cc_shape *input_shapes,
                        const cc_tape_request *req, cc_error *err);
void cc_tape_free(cc_tape *t);

void cc_tape_forward(cc_tape *t, const cc_real *const *inputs);
/* seed_grad has the seed node's shape; gradients are computed anew each call,
 * so one forward serves any number of backwards (e.g. one per class). Only
 * the nodes on a path from a selected target (or a wanted parameter) up to
 * the seed run; a guided node differentiates by the guided rule, so every
 * gradient below it is the guided one. */
void cc_tape_backward_pass(cc_tape *t, const cc_real *seed_grad, const cc_tape_pass *pass);
/* Every target and parameter, nothing guided. */
void cc_tape_backward(cc_tape *t, const cc_real *seed_grad);

/* After a pass: the gradient of a requested node that pass reached (its
 * targets, and requested nodes on a path from them to the seed: guided where
 * a guided node lies above them), else NULL; the parameter gradients if the
 * pass computed them, else NULL. Valid until the next pass or forward. */
const cc_real *cc_tape_grad(const cc_tape *t, int node);
const cc_real *cc_tape_param_grad(const cc_tape *t, int param);

#endif
