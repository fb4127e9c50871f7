/* onnx/import.h — what the ONNX importer's files share.
 *
 * The importer reads a ModelProto (decoded by protobuf-c from the schema
 * Debian's libonnx-dev ships, compiled at build time) and maps its nodes, in
 * the file's order (ONNX requires a topological one), onto engine ops: each
 * ONNX value becomes either an engine node's output (an "activation", whose
 * shape for one image is known as it is made) or a constant (initializers,
 * Constant nodes and everything computed from constants alone, which is
 * folded here). The engine nodes are collected, then named (onnx/names.c)
 * and written through weights/writer.h, so an imported model is validated by
 * the same reader as a .ccm file and `cnncam convert` writes the same bytes.
 * Every failure names the node, its op type and the opset. */
#ifndef CC_ONNX_IMPORT_H
#define CC_ONNX_IMPORT_H

#include "core/namemap.h"
#include "layers/op.h"
#include "onnx/onnx.pb-c.h"
#include "weights/writer.h"

#include <stdint.h>
#include <string.h>

enum { CC_OX_MAX_ATTRS = 8, CC_OX_MAX_ATTR_VALUES = 2 * CC_MAX_RANK, CC_OX_MAX_TENSOR_NAME = 255 };

/* A constant: int64 values (i, also for bool and int32), or floats, row-major:
 * f, or le32, the little-endian bytes of f32 values in the model file, at
 * any alignment (read them with cc_ox_get; the writer copies them as bytes). */
typedef struct {
    int rank;
    int64_t d[CC_MAX_RANK];
    int64_t n;
    const float *f;
    const unsigned char *le32;
    const int64_t *i;
    const char *name;  /* an initializer's, else NULL */
} cc_ox_const;

/* Value k of c, float or integer. */
static inline double cc_ox_get(const cc_ox_const *c, int64_t k)
{
    if (c->i)
        return (double)c->i[k];
    if (c->f)
        return c->f[k];
    const unsigned char *p = c->le32 + 4 * k;
    const uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* Value at of src into value k of out, a constant from cc_ox_new_const whose
 * values are being filled through data: int64 or float, as out is. */
static inline void cc_ox_copy(const cc_ox_const *out, void *data, int64_t k, const cc_ox_const *src, int64_t at)
{
    if (out->i)
        ((int64_t *)data)[k] = src->i ? src->i[at] : (int64_t)cc_ox_get(src, at);
    else
        ((float *)data)[k] = (float)cc_ox_get(src, at);
}

/* Where an initializer's raw_data lies in the model file (onnx/wire.c). */
typedef struct {
    const unsigned char *p;
    size_t n;
} cc_ox_raw;

typedef enum { CC_OX_NONE, CC_OX_ACT, CC_OX_CONST } cc_ox_kind;

/* What an ONNX value name stands for. */
typedef struct {
    cc_ox_kind kind;
    int node;          /* CC_OX_ACT: engine node (0 is the graph input) */
    int cst;           /* CC_OX_CONST: index into the constants */
} cc_ox_value;

typedef struct {
    const char *key;
    double v[CC_OX_MAX_ATTR_VALUES];
    int n;
} cc_ox_attr;

typedef struct {
    const char *role;
    int tensor;        /* index into the parameter tensors */
} cc_ox_param;

/* An engine node, before naming. */
typedef struct {
    const cc_op *op;
    int ninputs;
    int input[CC_MAX_INPUTS];
    int nparams;
    cc_ox_param param[CC_MAX_PARAMS];
    int nattrs;
    cc_ox_attr attr[CC_OX_MAX_ATTRS];
    const Onnx__NodeProto *src;  /* the ONNX node whose output this is (names, messages) */
    const char *value;           /* that output's name */
    cc_shape shape;              /* for one image */
    int layout;                  /* CC_OX_NCHW, CC_OX_NHWC (channels last) or 0: no map */
    int live;                    /* the logits depend on it */
} cc_ox_node;

enum { CC_OX_NCHW = 1, CC_OX_NHWC = 2 };

typedef struct {
    const char *name;
    cc_shape shape;
    const void *data;   /* f32 values, little-endian, any alignment */
} cc_ox_tensor;

typedef struct cc_ox {
    const Onnx__ModelProto *model;
    const Onnx__GraphProto *graph;
    int opset;                   /* of the default domain */
    const char *file;            /* for messages */
    const char *dir;             /* the model's folder, for external data; NULL: none allowed */
    cc_error *err;
    cc_namemap values;           /* ONNX value name -> index into vals */
    cc_ox_value *vals;
    int nvals, vals_cap;
    cc_ox_const *consts;
    int nconsts, consts_cap;
    cc_ox_node *nodes;           /* nodes[0] is the graph input */
    int nnodes, nodes_cap;
    cc_ox_tensor *tensors;
    int ntensors, tensors_cap;
    int *uses;                   /* per value (the first nuses): how many node inputs and graph outputs read it */
    int nuses;
    int *first_reader, *reader;  /* per value v < nuses: the ONNX nodes reading it,
                                  * reader[first_reader[v] .. first_reader[v + 1]) */
    unsigned char *done;         /* per ONNX node: mapped already, as part of an earlier node's pattern */
    void **owned;                /* memory freed with the import */
    int nowned, owned_cap;
    int input_h_free, input_w_free;  /* the file leaves the input's height / width symbolic */
    const cc_ox_raw *raw;        /* per initializer, its raw_data in the file when the decoder */
    int nraw;                    /* did not see it (onnx/wire.c), or NULL */
} cc_ox;

/* One ONNX op: maps node n (n->op_type) at x->opset. */
typedef cc_status (*cc_ox_map_fn)(cc_ox *x, const Onnx__NodeProto *n);
typedef struct {
    const char *op_type;
    cc_ox_map_fn map;
} cc_ox_op;

/* The tables of onnx/ops_*.c, each ending in {NULL, NULL}. */
extern const cc_ox_op cc_ox_conv_ops[], cc_ox_activation_ops[], cc_ox_pool_ops[], cc_ox_arith_ops[],
    cc_ox_shape_ops[], cc_ox_linear_ops[], cc_ox_norm_ops[], cc_ox_const_ops[], cc_ox_const_math_ops[];

/* Up to max nodes not yet mapped that read value v (by name), into out; their count. */
int cc_ox_readers(const cc_ox *x, const char *v, const Onnx__NodeProto **out, int max);

/* onnx/ops_norm.c: LayerNorm's decomposition matched at its first ReduceMean,
 * GELU's at its Div; 1 when matched (the result in *st: the op emitted, or why
 * not), 0 when the nodes are something else. */
int cc_ox_layer_norm_pattern(cc_ox *x, const Onnx__NodeProto *mean, cc_status *st);
int cc_ox_gelu_pattern(cc_ox *x, const Onnx__NodeProto *div, cc_status *st);

/* "<file>: node '<name>' (<Op>, opset N): <message>"; returns st. */
cc_status cc_ox_fail(cc_ox *x, const Onnx__NodeProto *n, cc_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
cc_status cc_ox_nomem(cc_ox *x);
void *cc_ox_alloc(cc_ox *x, size_t bytes);   /* freed with the import; NULL when out of memory */

/* Attributes of n by name: the value (a float as the shortest decimal that
 * rounds to its float32), or def when absent; *st set to a
 * failure when present with another type (cc_ox_attr_* never overwrite an
 * earlier failure). Lists: count in *n (up to max, more is a failure). */
const Onnx__AttributeProto *cc_ox_attr_find(const Onnx__NodeProto *n, const char *name);
int64_t cc_ox_attr_int(cc_ox *x, const Onnx__NodeProto *n, const char *name, int64_t def, cc_status *st);
double cc_ox_attr_float(cc_ox *x, const Onnx__NodeProto *n, const char *name, double def, cc_status *st);
const char *cc_ox_attr_string(cc_ox *x, const Onnx__NodeProto *n, const char *name, const char *def,
                              cc_status *st);
int cc_ox_attr_ints(cc_ox *x, const Onnx__NodeProto *n, const char *name, int64_t *v, int max, cc_status *st);
/* Fails (naming the attributes) when n has one not in the NULL-terminated list. */
cc_status cc_ox_attr_only(cc_ox *x, const Onnx__NodeProto *n, const char *const *known);

/* Input i of n: its value, or NULL when absent (past the end or ""). */
const cc_ox_value *cc_ox_input(cc_ox *x, const Onnx__NodeProto *n, int i);
/* Input i as an activation (engine node), or as a constant; a failure naming
 * the input otherwise. */
cc_status cc_ox_act(cc_ox *x, const Onnx__NodeProto *n, int i, int *node);
cc_status cc_ox_const_input(cc_ox *x, const Onnx__NodeProto *n, int i, const cc_ox_const **c);
const cc_shape *cc_ox_shape(const cc_ox *x, int node);
/* Input i, a constant of integers (axes, pads, shapes) or one of floats (a
 * Clip bound): up to max values into v, count in *count. */
cc_status cc_ox_const_ints(cc_ox *x, const Onnx__NodeProto *n, int i, int64_t *v, int max, int *count);
cc_status cc_ox_const_scalar(cc_ox *x, const Onnx__NodeProto *n, int i, double *v);

/* Adds an engine node for ONNX node n (its output o, usually 0) with op and
 * these inputs, parameters and attributes; infers its shape with the op's
 * own rules (a refusal names n) and binds output o to it (o < 0: to nothing,
 * an intermediate node of a longer mapping). */
cc_status cc_ox_emit(cc_ox *x, const Onnx__NodeProto *n, int o, const char *op, const int *inputs, int nin,
                     const cc_ox_param *params, int nparams, const cc_ox_attr *attrs, int nattrs, int *node);
/* Binds n's output o to an existing engine node (Identity, Dropout) or a new constant. */
cc_status cc_ox_bind(cc_ox *x, const Onnx__NodeProto *n, int o, int node);
cc_status cc_ox_bind_const(cc_ox *x, const Onnx__NodeProto *n, int o, const cc_ox_const *c);
/* A parameter tensor from a float constant (shape as given, or reshaped when
 * shape is not NULL; same element count); its index. */
cc_status cc_ox_param_tensor(cc_ox *x, const Onnx__NodeProto *n, const cc_ox_const *c, const cc_shape *shape,
                             int *tensor);
/* A new constant of these dims (int64 when is_int, else float) in *out, its
 * values to be filled in through *data by the caller before cc_ox_bind_const. */
cc_status cc_ox_new_const(cc_ox *x, int rank, const int64_t *d, int is_int, cc_ox_const *out, void **data);
/* How many node inputs and graph outputs read n's output o. */
/* The dims after Squeeze or Unsqueeze n (its axes: an attribute before opset
 * 13, input 1 after; Squeeze without axes drops every 1 from first on) of
 * rank dims d, never touching a dim below first (1: the batch stays); the
 * new rank in *out_rank, or a failure naming the axes. */
cc_status cc_ox_squeeze(cc_ox *x, const Onnx__NodeProto *n, int unsqueeze, const int64_t *d, int rank, int first,
                        int64_t *out, int *out_rank);
int cc_ox_uses(const cc_ox *x, const Onnx__NodeProto *n, int o);
/* The one node that reads n's output o, when there is exactly one and it is
 * of op type op and not yet mapped; else NULL. For patterns: an op PyTorch
 * exports as several nodes (LayerNorm, GELU) is matched at its first node,
 * and the nodes it took are marked done with cc_ox_take. */
const Onnx__NodeProto *cc_ox_next(const cc_ox *x, const Onnx__NodeProto *n, int o, const char *op);
void cc_ox_take(cc_ox *x, const Onnx__NodeProto *n);
/* The shortest decimal that rounds to the float32 f (see cc_ox_attr_float). */
double cc_ox_shortest(float f);
/* The engine node that makes node's value, when it is an op named op, else -1. */
int cc_ox_producer(const cc_ox *x, int node, const char *op);

/* onnx/ops_conv.c: a 2-D window's engine attributes (kernel_size, stride,
 * padding, dilation, in out[0..3]) from n's strides, pads, dilations and
 * auto_pad over input shape in. */
cc_status cc_ox_window(cc_ox *x, const Onnx__NodeProto *n, const cc_shape *in, const int kernel[2],
                       cc_ox_attr *out);

cc_ox_attr cc_ox_attr1(const char *key, double v);
cc_ox_attr cc_ox_attr2(const char *key, double a, double b);

/* Maps x->graph's nodes; *output is the logits' engine node. */
cc_status cc_ox_walk(cc_ox *x, int *output);
void cc_ox_free(cc_ox *x);

/* onnx/tensor.c: an initializer or Constant's tensor as a constant (float
 * for FLOAT, FLOAT16 and DOUBLE; int64 for INT64, INT32, INT8, UINT8, BOOL),
 * raw or typed, inline or external (a file in x->dir). */
cc_status cc_ox_read_tensor(cc_ox *x, const Onnx__TensorProto *t, const cc_ox_raw *raw, const char *what,
                            cc_ox_const *out);

/* onnx/wire.c: bytes (a serialized ModelProto) without the initializers'
 * raw_data into *out (malloc'ed), and where each initializer's raw_data is
 * (nraw entries in file order; p NULL: none); 0 when the bytes are not plain
 * protobuf wire format, to be decoded as they are. */
int cc_ox_strip_raw(const unsigned char *bytes, size_t size, unsigned char **out, size_t *out_size, cc_ox_raw **raw,
                    int *nraw);

/* onnx/names.c: the live nodes into w (input, nodes, output, aliases), named
 * from the ONNX node names (module paths for files torch.onnx.export wrote),
 * and metadata gradcam.layer: layer, or when NULL the converter's choice. */
cc_status cc_ox_write_graph(cc_ox *x, cc_model_writer *w, int output, const char *layer);

#endif
