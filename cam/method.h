/* cam/method.h — a CAM method as a unit, as an op is one in layers/op.h.
 *
 * Each method is one file under cam/methods/ ending in a descriptor: its name
 * as pytorch-grad-cam's cam.py spells it, a one-line summary, what it needs
 * the facade (api/) to compute before it runs, the options it takes, and one
 * function. cam/registry.c lists them all; tests/test_methods.py fails when a
 * method has no reference case.
 *
 * A layer method sees one image at one layer — its activations A (K x h x w),
 * and the gradient G = d target / dA when it uses one — and writes the map
 * at feature resolution before the ReLU (the reference's get_cam_image), and
 * its channel weights when it has any. The facade then rectifies, normalises,
 * resizes and averages layers as the reference's compute_cam_per_layer and
 * aggregate_multi_layers do (cam/combine.h). An image method (FullGrad)
 * writes the whole map at input resolution instead, before its one final
 * normalisation. Methods that score modified inputs or substituted
 * activations (ScoreCAM, AblationCAM) ask the facade through cc_cam_services,
 * so they never see the engine, and tests can drive them with fakes.
 * Nothing here allocates: scratch_floats says what a call needs, and the
 * facade plans it once per input size. */
#ifndef CC_CAM_METHOD_H
#define CC_CAM_METHOD_H

#include "cam/numpy_random.h"
#include "core/base.h"

/* What a method needs computed before it runs. */
enum {
    CC_CAM_USES_GRADIENT = 1 << 0,        /* G at each layer: one backward, down to the layers */
    CC_CAM_USES_INPUT_GRADIENT = 1 << 1,  /* d target / d input */
    CC_CAM_USES_BIAS_GRADIENTS = 1 << 2,  /* d target / d output of every conv / batchnorm with a bias */
    CC_CAM_USES_INPUT_BATCHES = 1 << 3,   /* scores of batches of modified inputs (services) */
    CC_CAM_USES_UPPER_BATCHES = 1 << 4,   /* scores of batches of substituted layer values (services) */
    CC_CAM_IGNORES_LAYERS = 1 << 5        /* explains the whole network, not the chosen layers */
};

/* Options beyond the target and the layers; setting one a method does not
 * take is an error. */
enum {
    CC_CAM_TAKES_TARGET = 1 << 0,
    CC_CAM_TAKES_AUG_SMOOTH = 1 << 1,
    CC_CAM_TAKES_EIGEN_SMOOTH = 1 << 2,
    CC_CAM_TAKES_BATCH_SIZE = 1 << 3,
    CC_CAM_TAKES_ABLATION_RATIO = 1 << 4,
    CC_CAM_TAKES_SEED = 1 << 5,
    CC_CAM_TAKES_KPCA = 1 << 6,           /* kernel and gamma */
    CC_CAM_TAKES_FINER_ALPHA = 1 << 7,
    CC_CAM_TAKES_EIGEN_SIGN = 1 << 8
};

typedef enum { CC_TARGET_LOGIT = 0, CC_TARGET_SOFTMAX, CC_TARGET_REST, CC_TARGET_BINARY } cc_target;
typedef enum { CC_SIGN_DEFAULT = 0, CC_SIGN_LAPACK } cc_sign_rule;
typedef enum { CC_KPCA_SIGMOID = 0, CC_KPCA_RBF, CC_KPCA_POLY, CC_KPCA_LINEAR, CC_KPCA_COSINE } cc_kpca_kernel;

/* The options with every default resolved. */
typedef struct {
    cc_target target;
    int aug_smooth, eigen_smooth;
    int batch_size;              /* the method's default when the caller gave none */
    double ablation_ratio;       /* 1: every channel */
    unsigned long seed;          /* randomcam: numpy's 32-bit seed */
    cc_kpca_kernel kpca_kernel;
    double kpca_gamma;           /* 0: 1 / K */
    double finer_alpha;
    cc_sign_rule eigen_sign;
} cc_cam_params;

/* What a method may ask of the facade while it runs, for the current image. */
typedef struct cc_cam_services {
    void *self;
    /* scores[i] = the target of the network's output for inputs i = 0..n-1
     * (n x C x H x W, normalised; n <= batch). */
    cc_status (*score_inputs)(void *self, const float *inputs, int n, float *scores, cc_error *err);
    /* scores[i] = the target when layer `layer`'s value is acts i (n x K x h x
     * w, n <= batch) and every other value below it is this image's. */
    cc_status (*score_activations)(void *self, int layer, const float *acts, int n, float *scores,
                                   cc_error *err);
    const float *input;          /* this image, C x H x W */
    int C, H, W;
    double score;                /* the target of this image's own forward */
    int batch;                   /* the batch the two calls above take */
    cc_numpy_random *rng;        /* the run's generator, seeded with the options' seed */
} cc_cam_services;

typedef struct {
    int layer;                   /* 0-based, in the order the layers were chosen */
    int K, h, w;
    const float *A;              /* K x h x w */
    const float *G;              /* K x h x w, or NULL when the method does not use it */
    const cc_cam_params *params;
    const cc_cam_services *svc;
    float *scratch;              /* scratch_floats(...) floats, or NULL when it needs none */
} cc_cam_layer_call;

/* One bias layer of FullGrad: its bias as the reference folds it, and the
 * gradient of the target at its output. */
typedef struct {
    int K, h, w;
    const float *bias;           /* K */
    const float *G;              /* K x h x w */
} cc_cam_bias_layer;

typedef struct {
    int C, H, W;
    const float *input, *input_grad;      /* C x H x W */
    const cc_cam_bias_layer *bias_layers;
    int nbias_layers;
    const cc_cam_params *params;
    float *scratch;
} cc_cam_image_call;

typedef struct cc_cam_method {
    const char *name;            /* as cam.py spells it: "gradcam", "gradcam++" */
    const char *summary;         /* one line for `cnncam methods` */
    unsigned uses;               /* CC_CAM_USES_* */
    unsigned takes;              /* CC_CAM_TAKES_* */
    int default_batch;           /* for CC_CAM_TAKES_BATCH_SIZE */
    /* A layer method: cam (h x w) before the ReLU, and weights (K) when
     * has_weights. */
    int has_weights;
    cc_status (*layer_map)(const cc_cam_layer_call *c, float *weights, float *cam, cc_error *err);
    /* An image method: the map (H x W) before its normalisation. */
    cc_status (*image_map)(const cc_cam_image_call *c, float *map, cc_error *err);
    /* Scratch floats of one call (NULL: none). For an image method K, h, w
     * are the largest of its layers (and of the input). */
    size_t (*scratch_floats)(int K, int h, int w, const cc_cam_params *p, int batch, int C, int H, int W);
    /* d target / d logits when the method has its own target (FinerCAM);
     * NULL: the options' target. */
    void (*seed)(const float *z, int n, int cls, const cc_cam_params *p, float *dz);
} cc_cam_method;

/* cam/registry.c: every method, NULL-terminated, and lookup by name. */
extern const cc_cam_method *const cc_cam_methods[];
const cc_cam_method *cc_cam_method_find(const char *name);

#endif
