/* api/api_internal.h — what the public handles of include/cnncam.h hold. */
#ifndef CC_API_INTERNAL_H
#define CC_API_INTERNAL_H

#include "autograd/tape.h"
#include "engine/upper.h"
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
    float *input;             /* N x C x H x W: cnncam_forward's input, as given */
    const float *forward_input;  /* the input of the forward on the tape: input, or an augmented copy */
    cc_real *seed;            /* N x classes */
    /* each layer as K x h x w maps (api_layout.c): its layout, its geometry,
     * and for a layer not stored N x K x h x w its value and gradient packed
     * so; AblationCAM's substituted batches back in the layer's layout */
    cc_layout layout[CNNCAM_MAX_LAYERS];
    int K[CNNCAM_MAX_LAYERS], lh[CNNCAM_MAX_LAYERS], lw[CNNCAM_MAX_LAYERS];
    float *packed_value[CNNCAM_MAX_LAYERS], *packed_grad[CNNCAM_MAX_LAYERS];
    float *unpacked;
    float *weights[CNNCAM_MAX_LAYERS];   /* N x K per layer */
    int has_weights;                     /* the last run's method gave channel weights */
    float *raw[CNNCAM_MAX_LAYERS];       /* N x h x w per layer (the input: saliency, N x H x W) */
    float *method_scratch;               /* the method's scratch_floats, the largest layer's */
    float *scratch;                      /* for cc_cam_combine */
    /* the services' plans (api_services.c): forward-only at the method's
     * batch and at the last shorter chunk's, and each layer's upper part */
    cc_plan *batch_plan, *tail_plan;
    cc_upper *upper[CNNCAM_MAX_LAYERS];
    int forwards_done, forwards_total;   /* progress of a run */
    /* the tape's targets: the layers, then the input (target input_target,
     * -1 when not planned; one of the layers when a layer is "input"), then
     * FullGrad's bias layers (from target bias_target) */
    int *target_node;
    int ntargets, input_target, bias_target;
    int nbias;
    int *bias_node;                      /* api_bias.c */
    float **bias;                        /* per bias layer: its K folded biases */
    char *guided;                        /* per node: guided backprop differentiates it by the guided rule */
    int has_raw;                         /* the last run gave per-layer raw maps */
    cc_numpy_random rng;                 /* RandomCAM's stream, seeded at each cnncam_cam */
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
/* api/api_status.c: the error rule of a function without a context: msg
 * into err (when err is not NULL and st is not CNNCAM_OK); returns st. */
cnncam_status cc_api_report(char *err, size_t errlen, cnncam_status st, const char *msg);
/* api/api_services.c: plans what the method's services need for one image
 * of C x H x W (the uppers of AblationCAM), appending to keep the nodes the
 * main forward must keep for them; drops them again. */
cnncam_status cc_ctx_plan_services(cnncam_ctx *ctx, int C, int H, int W, int *keep, int *nkeep);
void cc_ctx_drop_services(cnncam_ctx *ctx);
/* The services for image `image` explained for class cls with params p. */
typedef struct {
    cc_cam_services svc;
    cnncam_ctx *ctx;
    int image, cls;
    const cc_cam_params *params;
} cc_ctx_services;
void cc_ctx_services_init(cc_ctx_services *s, cnncam_ctx *ctx, int image, int cls, const cc_cam_params *p);

/* api/api_layout.c: each layer's layout and K x h x w geometry at the
 * planned shapes (an error for a layer that is no map); the packed copies
 * of the values after a forward, of the gradients after a backward; layer
 * l's value and gradient for one image as K x h x w (the gradient NULL when
 * the last pass did not reach it); n substituted K x h x w values of
 * image's layer l in the layer's own layout (AblationCAM); freeing. */
cnncam_status cc_ctx_plan_layouts(cnncam_ctx *ctx);
void cc_ctx_pack_values(cnncam_ctx *ctx);
void cc_ctx_pack_grads(cnncam_ctx *ctx);
const float *cc_ctx_layer_value(const cnncam_ctx *ctx, int l, int image);
const float *cc_ctx_layer_grad(const cnncam_ctx *ctx, int l, int image);
const float *cc_ctx_unpack_layer(cnncam_ctx *ctx, int l, int image, const float *maps, int n);
void cc_ctx_drop_layouts(cnncam_ctx *ctx);

/* api/api_bias.c: FullGrad's bias layers of the graph at these shapes, and
 * their folded biases; freeing them. */
cnncam_status cc_ctx_find_bias_layers(cnncam_ctx *ctx, const cc_shape *shapes);
void cc_ctx_drop_bias_layers(cnncam_ctx *ctx);
/* api/api_guided.c: the per-node flags of the guided rule for these options. */
cnncam_status cc_ctx_plan_guided(cnncam_ctx *ctx);

/* api/api_cam.c: the options' method with its defaults resolved. */
cnncam_status cc_ctx_resolve_options(cnncam_ctx *ctx, const cnncam_cam_options *o, const cc_cam_method **method,
                                     cc_cam_params *params);

#endif
