/* engine/plan.h — shapes and memory for one input size, planned before running.
 *
 * Time is counted in steps: the forward of node i is step i; a tape (autograd/)
 * adds backward steps after the last node. Every buffer — each node's value and
 * any extra buffer a caller asks for, such as gradients — gets an interval of
 * steps during which it must hold its contents, and one arena allocated once
 * is laid out so that buffers whose intervals overlap never share bytes. A
 * value is therefore dead after its last reader unless the caller keeps it
 * (to read it after the forward) or a tape extends it (to back-propagate). */
#ifndef CC_PLAN_H
#define CC_PLAN_H

#include "graph.h"

typedef struct {
    size_t bytes;
    int first, last;  /* inclusive step interval in which the buffer is live */
} cc_buffer_req;

typedef struct {
    int keep_all;           /* every value stays readable after the forward */
    const int *keep;        /* these values stay readable after the forward */
    int nkeep;
    const int *live_until;  /* NULL, or per node: the value lives at least to this step */
    const cc_buffer_req *extra;  /* more buffers in the same arena */
    int nextra;
    int nsteps;             /* total steps (>= nodes); values kept live to the last */
    int no_fusion;          /* run every node on its own (tests compare the two) */
    int prepare;            /* the parameters never change: from each node's second forward
                             * on, keep what its op->prepare makes of them */
} cc_plan_opts;

typedef struct cc_plan {
    const cc_graph *graph;
    cc_shape *shape;        /* per node */
    cc_real **value;        /* per node, into the arena */
    int *value_last;        /* per node: last step its buffer holds the value */
    cc_real **extra;        /* per extra buffer, into the arena */
    void *scratch;          /* working memory of any one op call (op->scratch_bytes), into the
                             * arena; NULL when no node needs any */
    size_t scratch_bytes;   /* the largest need of any node */
    int nsteps;
    unsigned char *arena;
    size_t arena_bytes;
    double *node_seconds;   /* NULL, or per node: wall seconds of its forward calls, added up
                             * (a profiler's: bench/bench_cnncam.c sets it) */
    /* Fused chains: a conv (an op that takes_epilogue) followed by a batchnorm
     * and/or element-wise ops, each value read only by the next and needed by
     * nothing else (not kept, no backward reads it). The head's forward writes
     * the chain's last value (tail) through its epilogue; the other nodes of
     * the chain do not run and their values are never written. */
    int *fused_head;        /* per node: -1, or the head that computes it (itself for a head) */
    int *fused_tail;        /* per node: a head's tail, else -1 */
    int *fused_bn;          /* per node: a head's batchnorm node, else -1 */
    cc_epilogue *epilogue;  /* per node: a head's epilogue */
    cc_real *folded;        /* the heads' batchnorm scales and shifts, folded again at each
                             * forward (a caller may change parameters between forwards) */
    /* Prepared parameters (cc_plan_opts.prepare): made at a node's second
     * forward, so a one-image run pays neither the time nor the memory. */
    int prepare;
    int *runs;              /* per node: forwards run */
    void **prepared;        /* per node: NULL, or op->prepare's result (its own allocation) */
} cc_plan;

/* Infers every node's shape for these input shapes (one per graph input, in
 * the order they were added). shapes has one entry per node. */
cc_status cc_plan_shapes(const cc_graph *g, const cc_shape *input_shapes, cc_shape *shapes,
                         cc_error *err);

/* Assigns 64-byte-aligned offsets so that buffers live at the same step
 * never overlap; returns the arena size in *total. */
cc_status cc_arena_layout(const cc_buffer_req *req, int n, size_t *offset, size_t *total,
                          cc_error *err);

cc_plan *cc_plan_create(const cc_graph *g, const cc_shape *input_shapes, const cc_plan_opts *opts,
                        cc_error *err);
void cc_plan_free(cc_plan *p);

/* Copies the inputs in and runs every node. */
void cc_plan_forward(cc_plan *p, const cc_real *const *inputs);

/* Runs nodes first..last (inclusive) on the values already in the arena;
 * graph inputs in the range are not copied in (write p->value[i] first).
 * Ranges run in order, each from where the last ended (0..a, a+1..b, ...),
 * compute what cc_plan_forward does: a value's bytes are not reused before
 * its last reader, so whatever a range reads from below `first` is intact,
 * including a value the caller overwrote in between (a substituted layer).
 * A range may not split a fused chain (asserted): a caller that splits at a
 * node keeps that node (cc_plan_opts.keep) or plans with no_fusion.
 * Running a range AGAIN is safe only if the values it reads from below
 * `first` are kept (cc_plan_opts.keep or live_until): the first run may have
 * reused the bytes of those whose last reader had run. */
void cc_plan_forward_range(cc_plan *p, int first, int last);

/* A value after the forward, or NULL when it was not kept. */
const cc_real *cc_plan_value(const cc_plan *p, int node);

/* The argument block of node i with its inputs, output, parameters and the
 * plan's scratch bound (forward and backward calls share the scratch). */
cc_op_args cc_plan_args(const cc_plan *p, int node);

#endif
