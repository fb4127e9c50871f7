/* cnncam.h — Grad-CAM for PyTorch CNNs in C, without Python.
 *
 * Load a converted model (tools/cnncam-convert) once, share it between threads,
 * and give each thread a context:
 *
 *     cnncam_model *m;  char err[512];
 *     if (cnncam_model_load("resnet34.ccm", &m, err, sizeof err)) { puts(err); ... }
 *     cnncam_ctx *ctx = cnncam_ctx_create(m);          // NULL only when out of memory (or m NULL)
 *     float *x = malloc(3 * h * w * sizeof *x);
 *     cnncam_preprocess(m, rgb, w, h, x);               // u8 RGB -> normalised CHW
 *     cnncam_forward(ctx, x, 1, h, w);                  // forward, recording the tape
 *     int c = cnncam_top_class(ctx, 0);                 // or any class index
 *     float *map = malloc(h * w * sizeof *map);
 *     cnncam_gradcam(ctx, &c, map);                     // h x w, in [0, 1]
 *     cnncam_overlay(rgb, w, h, map, CNNCAM_OVERLAY_REFERENCE, 0.5f, out_rgb);
 *
 * Numerics follow the reference Python implementation (pytorch-grad-cam 1.5):
 * channel weights = mean over positions of dy^c/dA, map = ReLU(sum_k w_k A^k),
 * min-max normalised, bilinear (half-pixel) to the input size; several layers are
 * averaged and normalised again.
 *
 * Errors, one rule for the whole API: every function that can fail returns a
 * cnncam_status (CNNCAM_OK is 0; cnncam_status_name names the others). One
 * that takes a context leaves the message of its failure on it
 * (cnncam_ctx_error); the others take (char *err, size_t errlen) and write
 * the message there (err may be NULL). Three kinds of function stand apart,
 * each saying so where it is declared: queries (counts, names, lookups,
 * cnncam_logits) cannot fail and give 0, -1 or NULL for "none", also for a
 * NULL model or context, and the void functions then do nothing;
 * cnncam_ctx_create gives NULL (out of memory, or a NULL model); and the pure
 * computations cnncam_preprocess, cnncam_preprocess_pixels, cnncam_overlay and
 * cnncam_layer_shape return the status alone, their comment listing when it
 * is not CNNCAM_OK. cnncam_model_find_class, from before this rule, is kept
 * as a convenience: cnncam_model_class_index is it with a status. Nothing
 * here prints, exits or aborts on bad input: a NULL handle or pointer where
 * one is needed is CNNCAM_EINVAL, the message naming it.
 *
 * A model is immutable once loaded
 * and may be used by any number of contexts on any threads; a context belongs
 * to one thread at a time. A run takes up to ~200 KB of its thread's stack
 * (the products' packing buffers): give threads you create at least 512 KB
 * (glibc's default is 8 MB). */
#ifndef CNNCAM_H
#define CNNCAM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CNNCAM_VERSION "0.1.0"
#define CNNCAM_MAX_LAYERS 8
#define CNNCAM_MAX_CHANNELS 64   /* input channels a model may take */

typedef enum {
    CNNCAM_OK = 0,
    CNNCAM_EINVAL = 1,   /* a bad argument: unknown layer, class out of range, bad size */
    CNNCAM_EFORMAT = 2,  /* a malformed or unsupported model file */
    CNNCAM_ENOMEM = 3,   /* out of memory */
    CNNCAM_EIO = 4,      /* the operating system refused (open, read, map) */
    CNNCAM_ESTATE = 5    /* called out of order (e.g. gradcam before forward) */
} cnncam_status;

typedef struct cnncam_model cnncam_model;
typedef struct cnncam_ctx cnncam_ctx;

/* ---- models ------------------------------------------------------------- */
/* Maps and validates a .ccm file; on failure *out is NULL and err (if not NULL)
 * holds a message naming the problem. The file is read in place, not copied:
 * replace it (write a new file, rename it over), never rewrite it in place,
 * while a model loaded from it is in use.
 * An ONNX file (a name ending in .onnx, or the bytes of an ONNX ModelProto)
 * is imported instead: its ops mapped onto the engine's (docs/ONNX.md lists
 * them, opsets 11 to 17), external data read from its folder, labels and
 * normalisation from its metadata_props; the model then behaves as its
 * converted .ccm twin (cnncam_onnx_convert). An op cnncam cannot read is
 * refused with the node's name, op type and opset, and nothing is loaded. */
cnncam_status cnncam_model_load(const char *path, cnncam_model **out, char *err, size_t errlen);
void cnncam_model_free(cnncam_model *m);

/* What a .ccm converted from an ONNX file carries beyond the file; every
 * field overrides the ONNX metadata_props entry of the same meaning, and a
 * zeroed struct (or NULL) takes the file's. */
typedef struct {
    const char *const *labels;   /* nlabels class names (one per class), or NULL */
    int nlabels;
    const double *mean, *std;    /* nnorm values each, one per input channel, or NULL */
    int nnorm;
    int resize, crop;            /* evaluation recipe: resize the shorter side, centre-crop; 0: none */
    const char *interpolation;   /* "bilinear" or "bicubic", or NULL */
    const char *layer;           /* the recommended Grad-CAM layer, or NULL: the last conv-like map */
} cnncam_onnx_options;

/* Writes the .ccm file of an ONNX model (through a temporary file and a
 * rename: nothing at ccm_path on failure). opt may be NULL. */
cnncam_status cnncam_onnx_convert(const char *onnx_path, const char *ccm_path, const cnncam_onnx_options *opt,
                                  char *err, size_t errlen);

/* The low-memory mode, for the whole process (default off): weights of
 * 32 MiB or more (VGG's classifier) leave the resident set as soon as they
 * have been read, and are mapped again from the file's page cache when next
 * needed. A VGG-16 Grad-CAM process peaks at 142 MiB instead of 588, but
 * every pass over those weights costs more (about 40 ms per VGG-16 forward
 * here): worth it for a one-shot process or a device short of memory, not
 * for a server running many images. Applies to models loaded from a file
 * after it is set, and to every run while it is on. */
void cnncam_set_low_memory(int on);

int cnncam_model_classes(const cnncam_model *m);
/* The label of a class, or NULL when out of range or the model has none. */
const char *cnncam_model_label(const cnncam_model *m, int index);
/* 1 when the model is multi-label (its file stores output "sigmoid"): each
 * class's probability is sigmoid(logit), independently of the others. 0 when
 * one class per image is meant (output "softmax", or none stored): the
 * probabilities are the softmax of the logits. */
int cnncam_model_multi_label(const cnncam_model *m);
/* What the model's output values are (its file's metadata 'output'; never
 * NULL): "softmax" (logits, one class per image: probabilities are their
 * softmax; also when the file does not say), "sigmoid" (logits of a
 * multi-label model), "probabilities" (the model ends in a softmax: its
 * outputs are the probabilities) or "log_probabilities" (it ends in a
 * log-softmax: the probabilities are exp of its outputs). cnncam_logits and
 * Grad-CAM's target are the model's output values whatever this says, as
 * PyTorch's forward and pytorch-grad-cam take them. */
const char *cnncam_model_output(const cnncam_model *m);
/* A class by index ("281"), full label ("tabby, tabby cat") or one of its
 * comma-separated names ("tabby"), case-insensitive. Returns the index, -1 when
 * nothing matches, -2 when several classes match (err says which). A
 * convenience kept from before the error rule: cnncam_model_class_index is
 * the same with a status. */
int cnncam_model_find_class(const cnncam_model *m, const char *name, char *err, size_t errlen);
/* The recommended Grad-CAM layer stored in the file, or NULL. */
const char *cnncam_model_default_layer(const cnncam_model *m);
/* 1 when name is a layer of the model (a module path, a container, or "input"). */
int cnncam_model_has_layer(const cnncam_model *m, const char *name);
/* Up to five layer names nearest to name, comma-separated, for error messages. */
void cnncam_model_suggest_layers(const cnncam_model *m, const char *name, char *buf, size_t len);
/* torchvision's evaluation recipe stored in the file: resize the shorter side
 * to *resize with *interpolation ("bilinear" or "bicubic"), centre-crop *crop.
 * Returns 0 when the file has none. */
int cnncam_model_eval_recipe(const cnncam_model *m, int *resize, int *crop, const char **interpolation);
/* Per-channel mean and std the model expects, applied to u8 / 255: the
 * first three channels' (fewer when the model has fewer: the rest untouched);
 * cnncam_model_channel_normalization gives every channel's. */
void cnncam_model_normalization(const cnncam_model *m, float mean[3], float std[3]);
/* The image channels the model takes (metadata input.channels; 3 when the
 * file does not say): 1 a grayscale model, 3 RGB, 4 RGBA, or any other
 * count up to CNNCAM_MAX_CHANNELS (.npy inputs only). */
int cnncam_model_channels(const cnncam_model *m);
/* mean and std: room for cnncam_model_channels(m) floats each. */
void cnncam_model_channel_normalization(const cnncam_model *m, float *mean, float *std);
/* 1 when the model works at one input size only (a flatten feeding a linear
 * layer: LeNet, VGG without its adaptive pool), with *height, *width set to
 * it; cnncam_forward refuses any other. 0 when any size works. */
int cnncam_model_input_size(const cnncam_model *m, int *height, int *width);

/* ---- preprocessing -------------------------------------------------------- */
/* rgb: height x width x 3 bytes, row-major. chw: C x height x width floats
 * for the model's C channels, (u8 / 255 - mean) / std in float32, as
 * torchvision's ToTensor + Normalize. A 1-channel model gets the luminance
 * Pillow's convert("L") gives, a 4-channel one alpha 255; a model of any
 * other count but 3 is CNNCAM_EINVAL (give it its own tensor). Status only,
 * no message: CNNCAM_EINVAL for a NULL pointer, a size below 1 or over 2^30
 * pixels; CNNCAM_ENOMEM. */
cnncam_status cnncam_preprocess(const cnncam_model *m, const unsigned char *rgb, int width,
                                int height, float *chw);
/* The same from pixels of `channels` bytes each (height x width x channels):
 * 1 gray, 3 RGB, 4 RGBA, converted to the model's count as Pillow's convert
 * does (RGB or RGBA to L: 601-2 luma; L to RGB: replicated; to RGBA: alpha
 * 255; RGBA to RGB: alpha dropped); any count converts to itself.
 * CNNCAM_EINVAL when no such conversion exists (2 channels for a 3-channel
 * model); otherwise as cnncam_preprocess. */
cnncam_status cnncam_preprocess_pixels(const cnncam_model *m, const unsigned char *pixels, int channels,
                                       int width, int height, float *chw);
/* torchvision's evaluation resize and crop on a PIL image, on the photo itself
 * (rgb: height x width x 3 bytes), so that an overlay drawn on the result
 * shows what the network saw: Resize(resize) sets the shorter side to resize
 * and the longer to int(resize * longer / shorter), resampled as Pillow does
 * (antialiased; interpolation "bilinear", or "bicubic", as
 * cnncam_model_eval_recipe names it; NULL: bilinear); resize 0 skips it. Then
 * CenterCrop(crop_height, crop_width), zero-padded where the crop is larger;
 * 0, 0 skips it. *out gets *out_height x *out_width x 3 bytes (free with
 * cnncam_image_free); pass it to cnncam_preprocess. The same pixels as
 * torchvision 0.14 with Pillow 9.4 (tests/test_cli.py compares them). */
cnncam_status cnncam_resize_crop(const unsigned char *rgb, int width, int height, int resize, int crop_width,
                                 int crop_height, const char *interpolation, unsigned char **out, int *out_width,
                                 int *out_height, char *err, size_t errlen);

/* ---- contexts --------------------------------------------------------------- */
/* NULL when out of memory or m is NULL. */
cnncam_ctx *cnncam_ctx_create(const cnncam_model *m);
void cnncam_ctx_free(cnncam_ctx *ctx);
/* The message of the context's last failure ("" if none; for a NULL context,
 * a message saying so). */
const char *cnncam_ctx_error(const cnncam_ctx *ctx);
/* Layers to explain (1 to CNNCAM_MAX_LAYERS); default: the model's recommended
 * layer. "input" explains the input itself (gradient saliency: per pixel the
 * largest |dy^c/dx| over the input's channels, min-max normalised).
 * Setting the same layers again keeps the plan and the forward; other
 * layers drop both (CNNCAM_ESTATE until the next forward). */
cnncam_status cnncam_ctx_set_layers(cnncam_ctx *ctx, const char *const *layers, int n);

/* Threads for this context's runs (1 to 256; default cnncam_default_threads()):
 * the layers split their work over a process-wide pool of that many threads,
 * but never more than the CPUs the process may run on (more would only take
 * turns on the same cores); OpenBLAS itself is kept at one thread. Results
 * are the same for the same count; another count can change them by float
 * rounding (OpenBLAS sums a product cut differently in another order). While
 * one context's run holds the pool, runs of other contexts on other threads
 * compute the same pieces on their own thread: correct, just not faster. */
cnncam_status cnncam_ctx_set_threads(cnncam_ctx *ctx, int n);
/* The context's thread count (its setting, or the default it started with). */
int cnncam_ctx_threads(const cnncam_ctx *ctx);
/* The thread count a new context starts with: the environment variable
 * CNNCAM_NUM_THREADS when it holds an integer from 1 to 256, else (unset or
 * invalid: no error, the library never fails on it) the number of CPUs the
 * process may run on (sched_getaffinity, as `taskset` sets it; at most 256). */
int cnncam_default_threads(void);

/* ---- running ---------------------------------------------------------------- */
/* cnncam_forward and cnncam_gradcam compute with subnormal floats flushed to
 * zero (x86's FTZ and DAZ, on every thread of the run), so inputs whose
 * activations fall below 1.2e-38 do not run several times slower: such values
 * become 0 (beside normal-range values they are below float rounding anyway,
 * unless a later layer scales them up by ~1e30). The caller's
 * floating-point mode is restored before they return. Other CPUs compute
 * subnormals as IEEE 754 says (no flush, no slowdown to avoid). */
/* Forward of `batch` normalised images (batch x C x height x width, C =
 * cnncam_model_channels), keeping what the backward to the chosen layers
 * needs. Memory is planned once per input size and reused. A model with a
 * fixed input size (cnncam_model_input_size) refuses any other:
 * CNNCAM_EINVAL, the message naming both sizes. */
cnncam_status cnncam_forward(cnncam_ctx *ctx, const float *input, int batch, int height, int width);
/* After a forward: image i's logits (cnncam_model_classes of them), its best class. */
const float *cnncam_logits(const cnncam_ctx *ctx, int image);
int cnncam_top_class(const cnncam_ctx *ctx, int image);
/* Grad-CAM of the logit, whatever the context's options (cnncam_cam runs
 * them): backward from logit classes[i] of each image (CNNCAM_TOP_CLASS: its
 * best) down to the chosen layers only, then the maps: maps receives batch x
 * height x width floats in [0, 1]. May be called again with other classes
 * after one forward (top-K explanations). */
cnncam_status cnncam_gradcam(cnncam_ctx *ctx, const int *classes, float *maps);

/* After cnncam_gradcam or cnncam_cam, for chosen layer l (0-based, in
 * set_layers order) and image i: its shape (channels x h x w), its
 * activations A, the gradient dT/dA (NULL for a method without gradients),
 * the channel weights (channels values; NULL for a method without them) and
 * the rectified map at the layer's resolution before normalisation (h x w;
 * Grad-CAM's ReLU(sum_k w_k A^k); NULL for FullGrad, which ignores the
 * layers). NULL when out of range; for the "input" layer the weights and raw
 * map are NULL. Valid until the next call.
 * cnncam_layer_shape gives the status alone (the context is const):
 * CNNCAM_EINVAL for a NULL pointer, no plan yet or l out of range. */
cnncam_status cnncam_layer_shape(const cnncam_ctx *ctx, int l, int *channels, int *h, int *w);
const float *cnncam_activation(const cnncam_ctx *ctx, int l, int image);
const float *cnncam_gradient(const cnncam_ctx *ctx, int l, int image);
const float *cnncam_channel_weights(const cnncam_ctx *ctx, int l, int image);
const float *cnncam_raw_map(const cnncam_ctx *ctx, int l, int image);

/* ---- explanation methods ------------------------------------------------------ */
/* The CAM family of pytorch-grad-cam 1.5, by the names its cam.py uses
 * ("gradcam", "hirescam", "gradcam++", "scorecam", "ablationcam", "fullgrad",
 * ...): cnncam_method_name(i) for i = 0, 1, ... until NULL lists them, with a
 * one-line summary each. docs/METHODS.md gives every method's formula, its
 * cost and where cnncam deliberately differs from the reference. */
const char *cnncam_method_name(int i);
const char *cnncam_method_summary(int i);

/* What the explanation differentiates (or scores), for class c of logits z:
 * pytorch-grad-cam's ClassifierOutputTarget, ClassifierOutputSoftmaxTarget,
 * ClassifierOutputReST and BinaryClassifierOutputTarget. */
typedef enum {
    CNNCAM_TARGET_LOGIT = 0,   /* z_c, the model's output value (default) */
    CNNCAM_TARGET_SOFTMAX = 1, /* softmax(z)_c */
    CNNCAM_TARGET_REST = 2,    /* 2 z_c - logsumexp(z) (ReST) */
    CNNCAM_TARGET_BINARY = 3   /* a one-output model: z_0 for c = 1, -z_0 for c = 0 */
} cnncam_target;

/* Progress of a method that runs many forwards (scorecam, ablationcam,
 * aug_smooth): done of total forwards, from the thread that called cnncam_cam. */
typedef void (*cnncam_progress_fn)(void *user, int done, int total);

/* Every choice an explanation takes. Fill it with cnncam_cam_options_init
 * (the defaults: Grad-CAM of the logit), change what you need, and give it to
 * cnncam_ctx_set_cam_options. Fields a method does not take must stay at
 * their initial value: setting one is CNNCAM_EINVAL, the message naming the
 * method and the option. New fields are only ever added at the end. */
typedef struct {
    const char *method;       /* a cnncam_method_name; NULL: "gradcam" */
    cnncam_target target;
    int aug_smooth;           /* 1: the reference's six test-time augmentations (horizontal
                               * flip x multiply 0.9, 1, 1.1), maps un-flipped and averaged */
    int eigen_smooth;         /* 1: the first principal component of the weighted
                               * activations instead of their channel sum */
    int batch_size;           /* scorecam (default 16), ablationcam (32): images per forward; 0: default */
    double ablation_ratio;    /* ablationcam's ratio_channels_to_ablate, in (0, 1]; 0: 1 */
    long long seed;           /* randomcam's numpy seed, 0 to 2^32-1; -1: 0 */
    const char *kpca_kernel;  /* kpcacam: "sigmoid" (default), "rbf", "poly", "linear", "cosine"; NULL: default */
    double kpca_gamma;        /* kpcacam's gamma; 0: 1 / channels */
    double finer_alpha;       /* finercam's alpha; 0: 1 */
    int eigen_sign;           /* sign of a principal component: CNNCAM_SIGN_* */
    int guided;               /* 1: plan guided backpropagation too (cnncam_guided_backprop) */
    int guided_extended;      /* guided backprop also through ReLU6, Hardswish, Hardsigmoid,
                               * SiLU and Sigmoid modules (docs/METHODS.md) */
    cnncam_progress_fn progress;  /* NULL: none */
    void *progress_user;
} cnncam_cam_options;

/* Principal components have no sign of their own; after the ReLU a flipped
 * one is another map. */
enum {
    CNNCAM_SIGN_DEFAULT = 0,  /* cnncam's rule (docs/METHODS.md) */
    CNNCAM_SIGN_LAPACK = 1    /* whatever LAPACK's dgesdd returns, as the reference */
};

void cnncam_cam_options_init(cnncam_cam_options *o);
/* Validates and copies o (its strings too) into the context; the next
 * cnncam_forward plans what the method needs, and cnncam_cam runs it.
 * Changing what the plan needs drops the forward (CNNCAM_ESTATE until the
 * next one). */
cnncam_status cnncam_ctx_set_cam_options(cnncam_ctx *ctx, const cnncam_cam_options *o);
/* After a forward: the context's method for class classes[i] of each image
 * (CNNCAM_TOP_CLASS: the image's best class in each forward, as the
 * reference's targets=None), maps as cnncam_gradcam's. The layer accessors
 * above then show this method's channel weights (NULL for methods without
 * any) and raw map; with aug_smooth, those of the un-augmented input. */
#define CNNCAM_TOP_CLASS (-1)
cnncam_status cnncam_cam(cnncam_ctx *ctx, const int *classes, float *maps);
/* Guided backpropagation of image `image` for class cls (CNNCAM_TOP_CLASS:
 * its best): the gradient of the class's output with respect to the
 * normalised input, every ReLU module's backward passing only positive
 * gradients to positive inputs (and with guided_extended, the other
 * activations too). out: height x width x channels floats, as the reference
 * returns it. CNNCAM_ESTATE unless the options set guided before the forward. */
cnncam_status cnncam_guided_backprop(cnncam_ctx *ctx, int image, int cls, float *out);

/* ---- image files ---------------------------------------------------------------- */
/* Reads a JPEG or PNG (any bit depth, gray, palette, alpha: returned as 8-bit RGB,
 * alpha dropped) into *rgb (width x height x 3, free with cnncam_image_free).
 * Images over max_pixels (0: 64 million) are refused before decoding. The
 * picture comes upright: an EXIF Orientation tag (a JPEG's APP1, a PNG's eXIf)
 * is applied as cv2.imread and Pillow's ImageOps.exif_transpose apply it, so
 * a portrait phone photo is returned portrait (width and height as shown). */
cnncam_status cnncam_image_read(const char *path, size_t max_pixels, unsigned char **rgb, int *width,
                                int *height, char *err, size_t errlen);
void cnncam_image_free(unsigned char *rgb);
/* The same with `channels` bytes per pixel, as Pillow's
 * Image.open(path).convert(mode) gives them: 1 "L" (601-2 luma, see
 * cnncam_preprocess_pixels), 3 "RGB", 4 "RGBA" (alpha as stored: PNG alpha
 * channels, palette and tRNS transparency; 255 where the file has none, as
 * in every JPEG). Free with cnncam_image_free. */
cnncam_status cnncam_image_read_channels(const char *path, size_t max_pixels, int channels, unsigned char **pixels,
                                         int *width, int *height, char *err, size_t errlen);
/* Writes .png or .jpg/.jpeg (by extension) atomically: a temporary file renamed
 * into place, so a failure leaves no partial file. */
cnncam_status cnncam_image_write(const char *path, const unsigned char *rgb, int width, int height,
                                 char *err, size_t errlen);

/* ---- image files: orientation and JPEG quality ----------------------------------- */
/* Flags of cnncam_image_read_pixels. */
enum {
    /* The pixels as stored, sideways or not: the EXIF Orientation tag is
     * ignored (as Pillow's plain Image.open). */
    CNNCAM_IMAGE_STORED_ORIENTATION = 1
};
/* cnncam_image_read_channels with flags (0: the same as it). */
cnncam_status cnncam_image_read_pixels(const char *path, size_t max_pixels, int channels, int flags,
                                       unsigned char **pixels, int *width, int *height, char *err, size_t errlen);
/* cnncam_image_write with a JPEG quality of 1 to 100 (0: 95, cnncam_image_write's),
 * checked for a PNG too. JPEGs are baseline 4:4:4 (no chroma subsampling, so a
 * heatmap's sharp colour edges survive) with optimised Huffman tables. */
cnncam_status cnncam_image_write_quality(const char *path, const unsigned char *rgb, int width, int height,
                                         int quality, char *err, size_t errlen);

/* ---- .npy arrays ------------------------------------------------------------------- */
#define CNNCAM_MAX_RANK 6
/* Reads a NumPy .npy file (format 1.0 to 3.0) of a C-order float32 ('<f4') or
 * float64 ('<f8', rounded to float; a finite value beyond float's range is an
 * error) array of rank 1 to CNNCAM_MAX_RANK, every dimension at least 1. The
 * header must be the dict numpy writes and the file exactly as long as the
 * shape says. shape: room for CNNCAM_MAX_RANK ints. *data: free with
 * cnncam_npy_free. On failure *data is NULL and *rank 0. */
cnncam_status cnncam_npy_read(const char *path, float **data, int *shape, int *rank, char *err, size_t errlen);
void cnncam_npy_free(float *data);
/* Writes data (shape[0] x ... x shape[rank-1] floats, row-major) as the bytes
 * numpy.save writes for a float32 array of that shape (format 1.0),
 * atomically as cnncam_image_write. rank 1 to CNNCAM_MAX_RANK, every
 * dimension at least 1. */
cnncam_status cnncam_npy_write(const char *path, const float *data, const int *shape, int rank, char *err,
                               size_t errlen);

/* ---- model introspection ------------------------------------------------------------ */
/* What `cnncam info` shows, for any tool. The graph is a list of nodes in the
 * order they run, graph inputs first (op "input"); each node is named by its
 * PyTorch module path, and a container module whose forward returns a
 * node's value is an alias of that node. These are queries: a NULL model or
 * an index out of range gives 0, -1 or NULL. Strings live as long as the
 * model. */
int cnncam_model_node_count(const cnncam_model *m);
const char *cnncam_model_node_name(const cnncam_model *m, int node);
/* The op's name ("conv2d", "relu", "linear", ...: weights/FORMAT.md), "input" for a graph input. */
const char *cnncam_model_node_op(const cnncam_model *m, int node);
/* The node whose value is the model's output (the logits). */
int cnncam_model_output_node(const cnncam_model *m);
/* The node a layer name means (a node, an alias, or "input"), or -1:
 * cnncam_model_suggest_layers then says what is near. */
int cnncam_model_find_node(const cnncam_model *m, const char *name);
int cnncam_model_alias_count(const cnncam_model *m);
const char *cnncam_model_alias_name(const cnncam_model *m, int i);
int cnncam_model_alias_node(const cnncam_model *m, int i);
/* How the node's value is a map, as the file records it (metadata
 * node.layout): "nchw" (N x C x H x W), "nhwc" (channels last), "tokens:P:h:w"
 * (N x (P + h w) x C: P prefix tokens such as a class token, then an h x w
 * grid of patch tokens in row order), or "" (no map: attention scores,
 * windows, vectors). Any of the first three can be explained: the methods see
 * it as C x h x w, as pytorch-grad-cam's reshape transforms make it. NULL for
 * a file without node.layout (a CNN's: its 4-D values are N x C x H x W). */
const char *cnncam_model_node_layout(const cnncam_model *m, int node);
/* A warning about explaining the node, or NULL: "blank" maps, when only its
 * prefix tokens reach the output (ViT's final norm: the head reads the class
 * token alone, so the patch tokens' gradients are exactly zero). */
const char *cnncam_model_layer_warning(const cnncam_model *m, int node);

typedef struct {
    int rank;
    int dims[CNNCAM_MAX_RANK];  /* outermost first: N x C x H x W, N x F after a flatten */
} cnncam_shape;
/* Every node's output shape for one 1 x C x height x width input (C =
 * cnncam_model_channels); shapes: room for cnncam_model_node_count(m). When
 * the graph does not work at that size (CNNCAM_EINVAL), err names the node
 * and the sizes. */
cnncam_status cnncam_model_node_shapes(const cnncam_model *m, int height, int width, cnncam_shape *shapes,
                                       char *err, size_t errlen);

/* The stored tensors (weights and batchnorm statistics), by name. */
int cnncam_model_tensor_count(const cnncam_model *m);
const char *cnncam_model_tensor_name(const cnncam_model *m, int i);
/* "f32" or "f16", as the file stores it (f16 is converted to float once, at load). */
const char *cnncam_model_tensor_dtype(const cnncam_model *m, int i);
/* 1 with *shape set, 0 when i is out of range. */
int cnncam_model_tensor_shape(const cnncam_model *m, int i, cnncam_shape *shape);
/* The values in every tensor together. */
long long cnncam_model_parameter_count(const cnncam_model *m);
/* The .ccm file's size in bytes. */
long long cnncam_model_file_size(const cnncam_model *m);

/* The file's metadata (weights/FORMAT.md lists the keys cnncam reads:
 * "arch", "classes", "labels", "output", "gradcam.layer", "eval.resize",
 * "source.file", ...). cnncam_model_meta_key(m, i) for i = 0, 1, ... until
 * NULL lists every key. */
const char *cnncam_model_meta_key(const cnncam_model *m, int i);
/* "string", "int", "float", "strings" or "floats"; NULL when the key is absent. */
const char *cnncam_model_meta_type(const cnncam_model *m, const char *key);
/* The value when the key holds that type: NULL, or 0 with *value untouched, otherwise. */
const char *cnncam_model_meta_string(const cnncam_model *m, const char *key);
int cnncam_model_meta_int(const cnncam_model *m, const char *key, long long *value);
int cnncam_model_meta_float(const cnncam_model *m, const char *key, double *value);
int cnncam_model_meta_strings(const cnncam_model *m, const char *key, const char *const **values, int *n);
int cnncam_model_meta_floats(const cnncam_model *m, const char *key, const double **values, int *n);

/* ---- classes and probabilities ------------------------------------------------------- */
/* cnncam_model_find_class with a status: *index the class, or -1 and
 * CNNCAM_EINVAL when nothing matches, the index is out of range or several
 * classes match (err says which). */
cnncam_status cnncam_model_class_index(const cnncam_model *m, const char *name, int *index, char *err,
                                       size_t errlen);
/* Each class's probability from the model's n output values (cnncam_logits),
 * as cnncam_model_output says: the softmax over them ("softmax"), each one's
 * own sigmoid ("sigmoid"), the values as they are ("probabilities") or exp
 * of them ("log_probabilities"). In double, so a probability near 1 keeps
 * its digits. */
cnncam_status cnncam_probabilities(const cnncam_model *m, const float *outputs, int n, double *p, char *err,
                                   size_t errlen);

/* ---- guided backpropagation pictures ------------------------------------------------- */
/* pytorch-grad-cam's deprocess_image (utils/image.py), as cam.py draws a
 * guided gradient gb (height x width x channels floats, as
 * cnncam_guided_backprop gives it): x minus its mean, over its population
 * std + 1e-5, times 0.1, plus 0.5, clipped to [0, 1], times 255, truncated to
 * bytes, every step in numpy's float32 arithmetic (its pairwise sums). With
 * mask (height x width, e.g. the Grad-CAM map) the picture of mask * gb
 * instead, the mask broadcast over the channels: cam.py's _cam_gb; NULL:
 * its _gb. out: height x width x channels bytes, in gb's channel order (cam.py's
 * cv2.imwrite stores them as BGR, so its files show red and blue swapped). */
cnncam_status cnncam_deprocess_image(const float *gb, const float *mask, int width, int height, int channels,
                                     unsigned char *out, char *err, size_t errlen);

/* ---- the library ------------------------------------------------------------------- */
/* CNNCAM_VERSION as the library was built: compare with the header's to catch
 * a program built against another version. */
const char *cnncam_version(void);
/* The status's name, "CNNCAM_OK", "CNNCAM_EINVAL", ...; "CNNCAM_UNKNOWN" for
 * a value that is none of them. */
const char *cnncam_status_name(cnncam_status st);
/* The CPUs this process may run on (sched_getaffinity: taskset, a
 * container's cpuset), at most 256: no run uses more threads at once. */
int cnncam_cpu_count(void);

/* ---- overlay ------------------------------------------------------------------ */
typedef enum {
    /* The reference's show_cam_on_image(rgb/255, map, use_rgb=True): JET colour
     * and image averaged with weight alpha, then scaled so the brightest channel
     * is 255. */
    CNNCAM_OVERLAY_REFERENCE = 0,
    /* (1 - alpha) * image + alpha * JET colour, rounded, no brightening. */
    CNNCAM_OVERLAY_CLEAN = 1
} cnncam_overlay_mode;

/* rgb and out: height x width x 3 bytes (may be the same buffer); map: height x
 * width values in [0, 1]; alpha in [0, 1] (the reference uses 0.5). Status
 * only, no message: CNNCAM_EINVAL for a NULL pointer, a size below 1, alpha
 * outside [0, 1] or an unknown mode. */
cnncam_status cnncam_overlay(const unsigned char *rgb, int width, int height, const float *map,
                             cnncam_overlay_mode mode, float alpha, unsigned char *out);

#ifdef __cplusplus
}
#endif
#endif
