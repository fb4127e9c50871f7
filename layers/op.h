/* layers/op.h — the contract between one op file and the engine.
 *
 * Every op is a pair of plain kernels over raw pointers (forward, and a
 * backward that ACCUMULATES into d<name> buffers and skips a NULL one), plus
 * a descriptor at the end of its file: name, inputs, parameters, what the
 * backward reads, shape inference, and adapters from cc_op_args to the
 * kernels. Nothing here allocates, prints or exits.
 * Base types (cc_real, cc_status, cc_error, cc_shape) are core/base.h's. */
#ifndef CC_OP_H
#define CC_OP_H

#include "core/base.h"

/* CC_MAX_INPUTS: torchvision's DenseNets concatenate up to 25 (densenet121),
 * 37 (densenet161) and 49 (densenet201) tensors in one torch.cat. */
enum { CC_MAX_INPUTS = 64, CC_MAX_PARAMS = 4 };

/* All attributes any op takes, as PyTorch names them. An op reads the ones it
 * needs; cc_attrs_default() gives PyTorch's defaults. */
typedef struct {
    int kernel[2];        /* KH KW */
    int stride[2];        /* SH SW */
    int pad[4];           /* top, left, bottom, right: PyTorch's padding=(PH,PW) is {PH,PW,PH,PW} */
    int dilation[2];      /* DH DW */
    int groups;           /* conv2d; channel_shuffle: the groups whose channels interleave */
    int ceil_mode;        /* pooling: output size rounds up, windows never start in right/bottom padding */
    int count_include_pad;/* avg pool: divide by the padded window size */
    int output_size[2];   /* adaptive avg pool; upsample by size (OH OW) */
    int start_dim;        /* flatten: flattens dims start_dim..end */
    int axis;             /* concat, slice: the dimension (>= 1; dim 0 is the batch);
                           * softmax, log_softmax: the last dimension */
    int start, end;       /* slice: indices [start, end) along axis */
    int step;             /* slice: every step-th index from start (x[:, a:b:step]) */
    int perm[CC_MAX_RANK];/* permute: out dim i is input dim perm[i]; perm[0] = 0 */
    int nperm;
    int shape[CC_MAX_RANK]; /* reshape: the output shape for a batch of one; dim 0 scales with the batch */
    int nshape;
    int shifts[CC_MAX_RANK], dims[CC_MAX_RANK]; /* roll: torch.roll(x, shifts, dims), dims >= 1 */
    int nshifts;
    int pads[2 * CC_MAX_RANK]; /* pad: (before, after) zeros per dimension, in dimension order */
    int npads;
    int trans_b;          /* matmul: the second operand is given as ... x N x K */
    double scale_factor[2];   /* upsample: out = floor(in * scale_factor) when > 0, else output_size */
    int align_corners;        /* upsample_bilinear: corner pixels' centres align (PyTorch's flag) */
    int recompute_scale_factor; /* upsample: source index scale in/out, not 1/scale_factor */
    double eps;           /* batchnorm */
    double negative_slope;/* leaky_relu: y = negative_slope * x for x <= 0 */
    double alpha;         /* elu: y = alpha * (exp(x) - 1) for x <= 0; matmul: y = alpha * A B */
} cc_attrs;

cc_attrs cc_attrs_default(void);

/* Sets one attribute by its name ("stride", "padding", "eps", ...) from n
 * numbers, as a model file or a fixture stores it. Used by loaders and tests. */
cc_status cc_attrs_set(cc_attrs *a, const char *key, const double *v, int n, cc_error *err);

/* What a producer applies to its output while it is in cache, for the
 * engine's fused chains (engine/plan.c): a conv followed by an eval batchnorm
 * and/or element-wise ops whose inputs nobody else reads. Per output channel
 * c, on n contiguous values y: y = y * scale[c] + shift[c] (the batchnorm, as
 * its own kernel computes it), then each act in turn (their own range
 * kernels), so a fused chain's floats are the unfused chain's, bit for bit.
 * layers/epilogue.c applies it. */
enum { CC_MAX_EPILOGUE_ACTS = 2 };
typedef struct cc_epilogue {
    const cc_real *scale, *shift;     /* NULL: no batchnorm */
    void (*act[CC_MAX_EPILOGUE_ACTS])(cc_real *out, const cc_real *inp, size_t n);
    int nacts;
} cc_epilogue;

/* y (n values of channel c) through e; e NULL: nothing. */
void cc_epilogue_apply(const cc_epilogue *e, cc_real *y, int c, size_t n);
/* Every plane of out (N x C x P) through e, split over the pool. */
void cc_epilogue_planes(const cc_epilogue *e, cc_real *out, int N, int C, size_t P);

/* What one forward or backward call sees. Gradient pointers that are NULL
 * were not asked for and must not be touched. */
typedef struct {
    const cc_attrs *attrs;
    int ninputs;
    cc_shape in_shape[CC_MAX_INPUTS];
    const cc_real *in[CC_MAX_INPUTS];
    cc_shape out_shape;
    cc_real *out;                       /* forward writes; backward may read */
    cc_shape param_shape[CC_MAX_PARAMS];
    const cc_real *param[CC_MAX_PARAMS];/* NULL for an absent optional one (bias=False) */
    const cc_real *dout;                /* backward only */
    cc_real *din[CC_MAX_INPUTS];        /* backward: += into these */
    cc_real *dparam[CC_MAX_PARAMS];     /* backward: += into these */
    void *scratch;                      /* op->scratch_bytes() bytes of working memory for this
                                         * one call (forward or backward); nothing survives it */
    const cc_epilogue *epilogue;        /* forward of an op with takes_epilogue: NULL, or what to
                                         * apply to out before returning (a fused chain) */
    const void *prepared;               /* forward: NULL, or what op->prepare made of these
                                         * parameters (they have not changed since) */
} cc_op_args;

/* What a backward reads besides dout and the parameters, so the tape keeps
 * exactly that and no more. */
enum {
    CC_SAVES_INPUTS = 1,  /* the forward inputs */
    CC_SAVES_OUTPUT = 2   /* the forward output */
};

typedef struct cc_op {
    const char *name;                   /* "conv2d", as the model format spells it */
    int min_inputs, max_inputs;
    int nparams;
    const char *param_names[CC_MAX_PARAMS];
    unsigned required_params;           /* bit i: param i must be present */
    unsigned buffer_params;             /* bit i: param i is a statistic (running_mean), never differentiated */
    unsigned saves_for_dinput;          /* CC_SAVES_* needed to compute din */
    unsigned saves_for_dparam;          /* CC_SAVES_* needed to compute dparam */
    /* Checks input and parameter shapes against the attributes, sets *out. */
    cc_status (*infer)(const cc_attrs *a, const cc_shape *in, int nin,
                       const cc_shape *param, const int *has_param,
                       cc_shape *out, cc_error *err);
    void (*forward)(const cc_op_args *args);
    void (*backward)(const cc_op_args *args);
    /* Guided backpropagation (Springenberg et al., arXiv 1412.6806), one rule
     * for every op that has it (the element-wise activations):
     *     dinp += max(0, f'(x) * max(0, dout)),
     * f' as the op's backward has it at every finite x, kinks included: relu
     * [x > 0] (0 at x = 0), relu6 0 at 0 and 6, hardswish -1/2 at -3 (so 0
     * here) and 1 at 3, hardsigmoid 0 at -3 and 3. A NaN input or dout
     * contributes 0 (relu's backward passes a NaN input's gradient; the
     * reference's mask x > 0 does not). For relu this is pytorch-grad-cam's
     * GuidedBackpropReLU, dx = dy [x > 0] [dy > 0]; for the others it keeps
     * only positive local slopes of positive upstream gradients. Reads what
     * saves_for_dinput names, writes din[0] only (skipped when NULL).
     * NULL: the op cannot be guided. */
    void (*guided_backward)(const cc_op_args *args);
    /* Bytes of args->scratch that one forward or one backward call needs, from
     * the shapes infer accepted (an absent parameter has rank 0); 64-byte
     * alignment suffices. NULL: the op needs none. Kernels never allocate, so
     * whoever calls forward/backward provides it (the engine: one region, the
     * largest need of any node, shared by every call on its thread). */
    size_t (*scratch_bytes)(const cc_attrs *a, const cc_shape *in, int nin, const cc_shape *param,
                            const cc_shape *out);
    /* An element-wise op without attributes: its forward on n contiguous
     * values (out may be inp), which a fused chain applies in a producer's
     * epilogue. NULL otherwise. */
    void (*range)(cc_real *out, const cc_real *inp, size_t n);
    /* Its forward honours args->epilogue (conv2d). */
    int takes_epilogue;
    /* Work on the parameters alone that a forward would otherwise redo each
     * call (Winograd's filter transform): bytes needed (0: none for these
     * shapes) and the preparation, which the engine runs once and keeps when
     * the parameters cannot change (a loaded model's). NULL: none. */
    size_t (*prepared_bytes)(const cc_attrs *a, const cc_shape *in, int nin, const cc_shape *param,
                             const cc_shape *out);
    void (*prepare)(const cc_op_args *args, void *prepared);
} cc_op;

/* Shape inference of every element-wise op: one input of any shape, out = in. */
cc_status cc_infer_unary(const cc_attrs *a, const cc_shape *in, int nin, const cc_shape *param,
                         const int *has_param, cc_shape *out, cc_error *err);

/* layers/registry.c: every op, NULL-terminated, and lookup by name. */
extern const cc_op *const cc_ops[];
const cc_op *cc_op_find(const char *name);

#endif
