/* api/api_internal.h — what the public handles of include/cnncam.h hold. */
#ifndef CC_API_INTERNAL_H
#define CC_API_INTERNAL_H

#include "autograd/tape.h"
#include "cam/method.h"
#include "cnncam.h"
#include "weights/model.h"

struct cnncam_model {
    cc_model *file;
    int classes;
    const cc_model_input *input;  /* channels, fixed size, mean and std (file->input) */
    const char *const *labels;  /* nlabels of them, or NULL */
    int nlabels;
};

/* A context: the plan for one input size and the chosen layers and method,
 * and what a run leaves readable. */
struct cnncam_ctx {
    const cnncam_model *model;
    cc_error err;
    int nlayers;
    int layer_node[CNNCAM_MAX_LAYERS];
    int is_input[CNNCAM_MAX_LAYERS];
    /* the explanation: the options as given (strings copied), the method and
     * its resolved parameters */
    cnncam_cam_options options;
    char kpca_kernel[16];
    const cc_cam_method *method;
    cc_cam_params params;
    cc_tape *tape;            /* planned for N x C x H x W, these layers and this method */
    int N, H, W, classes;
    int threads;
    int have_forward, have_maps;
    float *input;             /* N x C x H x W: the last forward's input, as given */
    cc_real *seed;            /* N x classes */
    float *weights[CNNCAM_MAX_LAYERS];   /* N x K per layer */
    int has_weights;                     /* the last run's method gave channel weights */
    float *raw[CNNCAM_MAX_LAYERS];       /* N x h x w per layer (the input: saliency, N x H x W) */
    float *method_scratch;               /* the method's scratch_floats, the largest layer's */
    float *scratch;                      /* for cc_cam_combine */
};

/* Keeps the message on the context (cnncam_ctx_error) and returns st. */
cnncam_status cc_ctx_fail(cnncam_ctx *ctx, cnncam_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* api/api_ctx.c: frees the plan and everything sized by it (the forward is lost). */
void cc_ctx_drop_plan(cnncam_ctx *ctx);
/* api/api_ctx.c: the forward of input (N x C x H x W) on the planned tape,
 * keeping nothing of the input (aug_smooth's augmented copies). */
void cc_ctx_run_forward(cnncam_ctx *ctx, const float *input);
/* api/api_cam.c: the options' method with its defaults resolved. */
cnncam_status cc_ctx_resolve_options(cnncam_ctx *ctx, const cnncam_cam_options *o, const cc_cam_method **method,
                                     cc_cam_params *params);

#endif
