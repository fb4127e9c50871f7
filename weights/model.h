/* weights/model.h — a loaded .ccm model file (weights/FORMAT.md): its graph,
 * named aliases of container modules, typed metadata and tensors.
 *
 * Loading validates everything FORMAT.md lists under "What readers reject"
 * and builds a cc_graph whose parameters are bound by name. f32 tensors are
 * used in place in the file's read-only mapping (64-byte aligned); f16
 * tensors are converted once into one owned f32 region. The model owns every
 * byte the graph borrows, so it must outlive any plan built on its graph.
 * Nothing here prints or exits; every failure returns a status and a message
 * that names the field and the value. */
#ifndef CC_MODEL_H
#define CC_MODEL_H

#include "engine/graph.h"

#include <stddef.h>
#include <stdint.h>

enum { CC_MODEL_VERSION = 1, CC_MODEL_HEADER_SIZE = 128, CC_MODEL_ALIGN = 64,
       CC_MODEL_MAX_STR = 4096, CC_MODEL_MAX_NAME = 255 };

enum { CC_DTYPE_F32 = 1, CC_DTYPE_F16 = 2 };

typedef enum {
    CC_META_STRING = 1, CC_META_INT = 2, CC_META_FLOAT = 3, CC_META_STRINGS = 4, CC_META_FLOATS = 5
} cc_meta_type;

/* One metadata entry; the member its type names holds the value. */
typedef struct {
    const char *key;
    cc_meta_type type;
    const char *str;           /* CC_META_STRING */
    int64_t i;                 /* CC_META_INT */
    double f;                  /* CC_META_FLOAT */
    const char *const *strs;   /* CC_META_STRINGS: n entries */
    const double *floats;      /* CC_META_FLOATS: n entries */
    int n;
} cc_meta;

/* A container module's name and the node whose value its forward returns. */
typedef struct {
    const char *name;
    int node;
} cc_alias;

/* A tensor table entry; graph->params[i] is tensors[i] (same name, shape, data). */
typedef struct {
    const char *name;
    int dtype;                 /* CC_DTYPE_F32 or CC_DTYPE_F16, as stored */
    cc_shape shape;
    uint64_t offset, nbytes;   /* in the data section, as stored */
    const float *data;         /* in the mapping (f32) or the converted region (f16) */
} cc_model_tensor;

struct cc_model_pool;

enum { CC_MODEL_MAX_CHANNELS = 64, CC_MODEL_MAX_SIDE = 16384 };

/* The image a model takes, from its metadata (FORMAT.md: input.channels,
 * input.height/input.width, input.mean/input.std), checked at load. */
typedef struct {
    int channels;              /* input.channels; 3 when absent */
    int height, width;         /* the one size the graph works at; 0, 0: any size */
    float mean[CC_MODEL_MAX_CHANNELS], std[CC_MODEL_MAX_CHANNELS];  /* channels of each */
} cc_model_input;

/* How a layer's value lays out a C x h x w map (metadata node.layout,
 * FORMAT.md): N x C x H x W; channels last, N x H x W x C; or tokens,
 * N x (prefix + h w) x C, prefix tokens (a class token) first, then the h x w
 * grid of patch tokens in row order. CC_LAYOUT_NONE: no map (attention
 * scores, windows, logits). */
typedef enum { CC_LAYOUT_NONE, CC_LAYOUT_NCHW, CC_LAYOUT_NHWC, CC_LAYOUT_TOKENS } cc_layout_kind;
typedef struct {
    cc_layout_kind kind;
    int prefix, h, w;          /* CC_LAYOUT_TOKENS only */
} cc_layout;

typedef struct cc_model {
    cc_graph *graph;           /* nodes 0 .. ninputs-1 are the graph inputs */
    int output;                /* the node whose value is the logits */
    cc_alias *aliases;
    int naliases;
    cc_meta *meta;
    int nmeta;
    cc_model_tensor *tensors;
    int ntensors;
    uint64_t file_size;
    /* Memory: exactly one of map / buffer holds the file's bytes. */
    const unsigned char *bytes;   /* the whole file */
    void *map;                    /* mmap'ed file, or NULL */
    size_t map_len;
    void *buffer;                 /* an owned copy (load_memory, or a read() fallback), or NULL */
    float *converted;             /* tensors that could not be used in place, as f32 */
    size_t converted_bytes;
    struct cc_model_pool *pool;   /* strings and arrays of this model */
    cc_model_input input;         /* from the metadata, validated */
    /* Per graph node (graph inputs ""): the PyTorch class of the module it
     * calls ("ReLU", "Conv2d", "BatchNorm2d"; "" for a function or method
     * call), from metadata node.module. "ReLU", "Conv2d" and "BatchNorm2d"
     * appear only on relu, conv2d and batchnorm2d nodes. NULL when the file
     * has no node.module (converted before it): FORMAT.md gives the fallback. */
    const char *const *node_module;
    /* Per graph node, from metadata node.layout; NULL when the file has none
     * (a CNN's: cc_model_layout's fallback). */
    const cc_layout *node_layout;
} cc_model;

/* Maps path read-only (MAP_PRIVATE); falls back to reading it into memory
 * where mmap is refused. On failure *out is NULL and err names the problem. */
cc_status cc_model_load(const char *path, cc_model **out, cc_error *err);

/* The same validation over a caller's buffer, which is COPIED (into 64-byte
 * aligned memory, so f32 tensors can be used in place): the caller may free
 * data as soon as this returns. Messages name the file "<memory>". */
cc_status cc_model_load_memory(const void *data, size_t size, cc_model **out, cc_error *err);

/* The same over a buffer the model takes over (64-byte aligned, from
 * malloc/aligned_alloc; freed with the model, or at once on failure), with
 * name in messages: for files made in memory (onnx/), without a copy. The
 * data CRC is not checked (cc_writer_for_adopt leaves it 0); everything
 * else is, as for a file. */
cc_status cc_model_adopt(void *buffer, size_t size, const char *name, cc_model **out, cc_error *err);

void cc_model_free(cc_model *m);

/* Node index of a node name or an alias; "input" names graph input 0 unless
 * a node or alias is called that; -1 when unknown. */
int cc_model_find_layer(const cc_model *m, const char *name);

/* Up to 5 valid layer names (nodes and aliases) nearest to name by edit
 * distance, ties broken by a longer shared prefix, then by graph order;
 * comma-separated into buf ("layer4, layer4.2, layer3"). Never overruns len. */
void cc_model_suggest(const cc_model *m, const char *name, char *buf, size_t len);

/* The layout of node i's value: node.layout's entry, or for a file without
 * one, N x C x H x W for every rank-4 value (the graph inputs too) and no
 * map otherwise. rank: the value's rank in the plan. */
cc_layout cc_model_layout(const cc_model *m, int i, int rank);

/* Metadata by key. Each gives NULL / 0 when the key is absent or holds
 * another type, else the value / 1. Pointers live as long as the model. */
const cc_meta *cc_model_meta(const cc_model *m, const char *key);
const char *cc_model_meta_string(const cc_model *m, const char *key);
int cc_model_meta_int(const cc_model *m, const char *key, int64_t *v);
int cc_model_meta_float(const cc_model *m, const char *key, double *v);
int cc_model_meta_floats(const cc_model *m, const char *key, const double **v, int *n);
int cc_model_meta_strings(const cc_model *m, const char *key, const char *const **v, int *n);
/* 1 when metadata 'output' is "sigmoid" (multi-label: an independent
 * probability per class); 0 for the other values or none. */
int cc_model_multi_label(const cc_model *m);
/* Metadata 'output': "softmax" (also when absent), "sigmoid",
 * "probabilities" (the graph ends in softmax or sigmoid: its output is the probability)
 * or "log_probabilities" (it ends in log_softmax); the reader accepts no
 * other value. */
const char *cc_model_output(const cc_model *m);

/* Reads the input.* metadata into *in and checks it: input.channels an int
 * of 1 to CC_MODEL_MAX_CHANNELS (3 when absent); input.height and
 * input.width both or neither, ints of 1 to CC_MODEL_MAX_SIDE;
 * input.mean/input.std float lists of one value per channel (absent: ImageNet's
 * for 3 channels, an error for any other count), finite, std > 0. The loader
 * calls it; the message names the key, the value and the limit. */
cc_status cc_model_read_input(const cc_model *m, cc_model_input *in, cc_error *err);

/* IEEE-754 binary16 bits to float, exact for every value: subnormals,
 * signed zeros, infinities, and NaNs (payload kept). */
float cc_half_to_float(uint16_t h);

/* Internal to weights/: the string and array pool a model owns. */
void *cc_model_pool_alloc(struct cc_model_pool **pool, size_t bytes);
void cc_model_pool_free(struct cc_model_pool *pool);

#endif
