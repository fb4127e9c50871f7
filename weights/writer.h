/* weights/writer.h — writing .ccm files (weights/FORMAT.md) from C.
 *
 * A plain serializer for tests, fuzz corpora and small tools: it validates
 * nothing about the model (so tests can write malformed files on purpose),
 * lays the sections out as the format requires and fills in the CRCs.
 * Calls record the first failure (out of memory, a count past u32) and
 * later calls do nothing; cc_writer_to_memory / _to_file report it. */
#ifndef CC_WRITER_H
#define CC_WRITER_H

#include "core/base.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cc_model_writer cc_model_writer;

typedef struct { const char *role, *tensor; } cc_writer_param;
typedef struct { const char *key; const double *v; int n; } cc_writer_attr;

cc_model_writer *cc_writer_create(void);  /* NULL when out of memory */
void cc_writer_free(cc_model_writer *w);
/* Bytes for cc_model_adopt, in this process: the data CRC, which guards
 * files against corruption and which adopt does not check, is left 0. */
void cc_writer_for_adopt(cc_model_writer *w);

void cc_writer_meta_string(cc_model_writer *w, const char *key, const char *value);
void cc_writer_meta_int(cc_model_writer *w, const char *key, int64_t value);
void cc_writer_meta_float(cc_model_writer *w, const char *key, double value);
void cc_writer_meta_strings(cc_model_writer *w, const char *key, const char *const *v, int n);
void cc_writer_meta_floats(cc_model_writer *w, const char *key, const double *v, int n);

/* Each returns the node index the graph will give it (inputs first, in the
 * order added; then nodes), or -1 after a failure. */
int cc_writer_input(cc_model_writer *w, const char *name);
int cc_writer_node(cc_model_writer *w, const char *name, const char *op, const int *inputs, int ninputs,
                   const cc_writer_param *params, int nparams, const cc_writer_attr *attrs, int nattrs);
/* The logits node; the last node added when never called. */
void cc_writer_output(cc_model_writer *w, int node);
void cc_writer_alias(cc_model_writer *w, const char *name, int node);

/* A tensor stored as dtype (CC_DTYPE_F32, or CC_DTYPE_F16 rounded to nearest
 * even) from float values; or given as binary16 bits, stored as they are. */
void cc_writer_tensor(cc_model_writer *w, const char *name, int dtype, cc_shape shape, const float *data);
void cc_writer_tensor_f16(cc_model_writer *w, const char *name, cc_shape shape, const uint16_t *bits);
/* An f32 tensor (little-endian bytes, any alignment) whose values stay the caller's until the file is made
 * (cc_writer_to_memory / _to_file copy them once): data must outlive those calls. */
void cc_writer_tensor_ref(cc_model_writer *w, const char *name, cc_shape shape, const void *data);

/* The whole file in a malloc'ed buffer (64-byte aligned) the caller frees. */
cc_status cc_writer_to_memory(const cc_model_writer *w, unsigned char **out, size_t *size, cc_error *err);
/* Writes path through a temporary file in the same folder and a rename, so a
 * reader never sees half a file. */
cc_status cc_writer_to_file(const cc_model_writer *w, const char *path, cc_error *err);

/* float to binary16, rounding to nearest even; overflow gives infinity, NaN stays NaN. */
uint16_t cc_float_to_half(float f);

/* Recomputes the three CRCs of a serialized file in place, over the sections
 * its header names where they lie inside buf (header CRC last). For tests and
 * the fuzz target, which mutate files and then want the structure checked. */
void cc_model_reseal(unsigned char *buf, size_t size);

#endif
