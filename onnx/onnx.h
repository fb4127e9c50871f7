/* onnx/onnx.h — ONNX model files (.onnx) as cnncam models.
 *
 * An ONNX file is decoded with protobuf-c (the schema Debian's libonnx-dev
 * ships, compiled at build time), mapped onto engine ops (onnx/import.h) and
 * written as the bytes of the equivalent .ccm file, which the .ccm reader
 * then validates and loads: an ONNX model and its converted twin are the
 * same model. docs/ONNX.md lists the ops and opsets read and the
 * metadata_props keys that carry labels and normalisation. Nothing here
 * prints or exits; every failure names the file, and where it lies in one,
 * the node, its op type and the opset. */
#ifndef CC_ONNX_H
#define CC_ONNX_H

#include "weights/model.h"

/* What a converted model carries that an ONNX file may not; each field
 * overrides the file's metadata_props entry of the same meaning. */
typedef struct {
    const char *const *labels;   /* nlabels class names, or NULL */
    int nlabels;
    const double *mean, *std;    /* nnorm values each (one per input channel), or NULL */
    int nnorm;
    int resize, crop;            /* the evaluation recipe, 0: none given */
    const char *interpolation;   /* "bilinear" or "bicubic", or NULL */
    const char *layer;           /* the recommended Grad-CAM layer, or NULL: chosen as the converter does */
} cc_onnx_options;

/* 1 when path names an ONNX file: its name ends in .onnx, or it begins as a
 * serialized ModelProto does (field 1, ir_version) rather than with the
 * .ccm magic. */
int cc_onnx_is_onnx(const char *path);

/* Loads an ONNX file (external data from its folder) as a model. */
cc_status cc_onnx_load(const char *path, const cc_onnx_options *opt, cc_model **out, cc_error *err);
/* The same from bytes in memory (the caller's; copied as needed); external
 * data is refused, there being no folder. Messages name "<memory>". */
cc_status cc_onnx_load_memory(const void *data, size_t size, cc_model **out, cc_error *err);
/* Writes the .ccm file of an ONNX file to out_path (atomically). */
cc_status cc_onnx_convert(const char *path, const cc_onnx_options *opt, const char *out_path, cc_error *err);

#endif
