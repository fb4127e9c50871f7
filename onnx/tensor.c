/* onnx/tensor.c — TensorProto to a constant, every size checked first.
 *
 * Values come from raw_data (little-endian, the common case: float raw data
 * is used in place when the decoder's copy is aligned, see onnx/load.c), the
 * typed fields, or an external file: external_data's location, a relative
 * path inside the model's folder (no "..", no absolute path, no symlink out),
 * with offset and length checked against the file. */
#define _XOPEN_SOURCE 700   /* realpath */
#include "onnx/import.h"
#include "weights/model.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef Onnx__TensorProto tensor;

enum { F32 = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, U8 = ONNX__TENSOR_PROTO__DATA_TYPE__UINT8,
       I8 = ONNX__TENSOR_PROTO__DATA_TYPE__INT8, I32 = ONNX__TENSOR_PROTO__DATA_TYPE__INT32,
       I64 = ONNX__TENSOR_PROTO__DATA_TYPE__INT64, BOOL = ONNX__TENSOR_PROTO__DATA_TYPE__BOOL,
       F16 = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16, F64 = ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE };

static int elem_size(int type)
{
    switch (type) {
    case F32: case I32: return 4;
    case I64: case F64: return 8;
    case F16: return 2;
    case U8: case I8: case BOOL: return 1;
    default: return 0;
    }
}

static const char *type_name(int type)
{
    static const char *const names[] = {"UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32",
                                        "INT64", "STRING", "BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64",
                                        "COMPLEX64", "COMPLEX128", "BFLOAT16"};
    return type >= 0 && type <= 16 ? names[type] : "an unknown type";
}

static cc_status fail(cc_ox *x, const char *what, cc_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static cc_status fail(cc_ox *x, const char *what, cc_status st, const char *fmt, ...)
{
    char msg[400], safe[410];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cc_fail(x->err, st, "%s: %s: %s", x->file, what, cc_qname(msg, safe, sizeof safe));
}

static const char *entry(const tensor *t, const char *key)
{
    for (size_t i = 0; i < t->n_external_data; i++)
        if (t->external_data[i]->key && !strcmp(t->external_data[i]->key, key))
            return t->external_data[i]->value ? t->external_data[i]->value : "";
    return NULL;
}

static int parse_u64(const char *s, uint64_t *v)
{
    if (!s)
        return 1;   /* absent: the default the caller set */
    if (!*s)
        return 0;
    uint64_t r = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || r > (UINT64_MAX - 9) / 10)
            return 0;
        r = r * 10 + (uint64_t)(*s - '0');
    }
    *v = r;
    return 1;
}

/* A location that stays inside dir: relative, no ".." component, no NUL
 * tricks (protobuf strings cannot hold one), and after resolving symlinks
 * still under the folder's real path. */
static cc_status external_path(cc_ox *x, const char *what, const char *loc, char *path, size_t len)
{
    if (!x->dir)
        return fail(x, what, CC_EFORMAT, "its data is in an external file '%s', but a model loaded from memory "
                    "has no folder to read it from", loc);
    if (!*loc || loc[0] == '/' || strlen(loc) > 1024)
        return fail(x, what, CC_EFORMAT, "external data location '%s' is not a relative path inside the "
                    "model's folder", loc);
    for (const char *p = loc; *p;) {
        const char *q = strchr(p, '/');
        size_t k = q ? (size_t)(q - p) : strlen(p);
        if (k == 2 && p[0] == '.' && p[1] == '.')
            return fail(x, what, CC_EFORMAT, "external data location '%s' leaves the model's folder "
                        "(a '..' component)", loc);
        p += k + (q != NULL);
    }
    char dir_real[PATH_MAX], file_real[PATH_MAX], joined[PATH_MAX + 1100];
    snprintf(joined, sizeof joined, "%s/%s", x->dir, loc);
    if (!realpath(x->dir, dir_real) || !realpath(joined, file_real))
        return fail(x, what, CC_EIO, "cannot open its external data file '%s': %s", loc, strerror(errno));
    size_t dl = strlen(dir_real);
    if (strncmp(file_real, dir_real, dl) || (file_real[dl] != '/' && dl > 1))
        return fail(x, what, CC_EFORMAT, "external data location '%s' resolves outside the model's folder "
                    "(a symbolic link)", loc);
    if (strlen(file_real) >= len)
        return fail(x, what, CC_EFORMAT, "external data path '%s' is too long", loc);
    strcpy(path, file_real);
    return CC_OK;
}

/* Reads bytes [offset, offset + length) of the external file into buf. */
static cc_status read_external(cc_ox *x, const char *what, const tensor *t, void *buf, uint64_t bytes)
{
    const char *loc = entry(t, "location");
    if (!loc)
        return fail(x, what, CC_EFORMAT, "data_location is EXTERNAL but external_data has no 'location'");
    uint64_t offset = 0, length = bytes;
    if (!parse_u64(entry(t, "offset"), &offset) || !parse_u64(entry(t, "length"), &length))
        return fail(x, what, CC_EFORMAT, "external_data offset or length is not a decimal number");
    if (length != bytes)
        return fail(x, what, CC_EFORMAT, "external data of '%s' holds %llu bytes; its shape and type need %llu",
                    loc, (unsigned long long)length, (unsigned long long)bytes);
    char path[PATH_MAX];
    CC_TRY(external_path(x, what, loc, path, sizeof path));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        cc_status s = cc_fail(x->err, CC_EIO, "%s: %s: cannot read its external data file '%s': %s", x->file,
                              what, loc, fd < 0 ? strerror(errno) : "not a regular file");
        if (fd >= 0)
            close(fd);
        return s;
    }
    if (offset > (uint64_t)st.st_size || bytes > (uint64_t)st.st_size - offset) {
        close(fd);
        return fail(x, what, CC_EFORMAT, "external data file '%s' has %lld bytes, too few for offset %llu "
                    "and its length", loc, (long long)st.st_size, (unsigned long long)offset);
    }
    uint64_t got = 0;
    while (got < bytes) {
        ssize_t k = pread(fd, (char *)buf + got, (size_t)(bytes - got), (off_t)(offset + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            close(fd);
            return cc_fail(x->err, CC_EIO, "%s: %s: cannot read its external data file '%s': %s", x->file,
                           what, loc, k < 0 ? strerror(errno) : "the file shrank while reading");
        }
        got += (uint64_t)k;
    }
    close(fd);
    return CC_OK;
}

static uint64_t le(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int b = bytes - 1; b >= 0; b--)
        v = v << 8 | p[b];
    return v;
}

/* Element k of little-endian raw bytes of type, as a float or an integer. */
static double raw_real(const unsigned char *p, int type, int64_t k)
{
    switch (type) {
    case F16: return cc_half_to_float((uint16_t)le(p + 2 * k, 2));
    case F64: {
        uint64_t u = le(p + 8 * k, 8);
        double d;
        memcpy(&d, &u, sizeof d);
        return d;
    }
    default: {
        uint32_t u = (uint32_t)le(p + 4 * k, 4);
        float f;
        memcpy(&f, &u, sizeof f);
        return f;
    }
    }
}

static int64_t raw_int(const unsigned char *p, int type, int64_t k)
{
    switch (type) {
    case I64: return (int64_t)le(p + 8 * k, 8);
    case I32: return (int32_t)(uint32_t)le(p + 4 * k, 4);
    case I8: return (int8_t)p[k];
    default: return p[k];   /* UINT8, BOOL */
    }
}

cc_status cc_ox_read_tensor(cc_ox *x, const tensor *t, const cc_ox_raw *in_file, const char *what, cc_ox_const *out)
{
    memset(out, 0, sizeof *out);
    const int type = t->has_data_type ? t->data_type : 0;
    const int es = elem_size(type);
    if (!es)
        return fail(x, what, CC_EFORMAT, "tensors of type %s are not supported (FLOAT, FLOAT16, DOUBLE, "
                    "INT64, INT32, INT8, UINT8 and BOOL are)", type_name(type));
    if (t->n_dims > CC_MAX_RANK)
        return fail(x, what, CC_EFORMAT, "rank %zu is above the engine's %d", t->n_dims, CC_MAX_RANK);
    out->rank = (int)t->n_dims;
    int64_t n = 1;
    for (size_t i = 0; i < t->n_dims; i++) {
        if (t->dims[i] < 0 || (t->dims[i] && n > (int64_t)CC_MAX_NUMEL / t->dims[i]))
            return fail(x, what, CC_EFORMAT, "dimension %zu is %lld: negative, or the tensor has more than "
                        "2^30 elements", i, (long long)t->dims[i]);
        out->d[i] = t->dims[i];
        n *= t->dims[i];
    }
    out->n = n;
    const int is_float = type == F32 || type == F16 || type == F64;
    const uint64_t bytes = (uint64_t)n * (uint64_t)es;
    const unsigned char *raw = NULL;
    const int external = t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    if (external) {
        void *buf = cc_ox_alloc(x, bytes ? (size_t)bytes : 1);
        if (!buf)
            return cc_ox_nomem(x);
        CC_TRY(read_external(x, what, t, buf, bytes));
        raw = buf;
    } else if (t->has_raw_data || (in_file && in_file->p)) {
        const size_t len = in_file && in_file->p ? in_file->n : t->raw_data.len;
        if (len != bytes)
            return fail(x, what, CC_EFORMAT, "raw_data holds %zu bytes; its shape and type %s need %llu",
                        len, type_name(type), (unsigned long long)bytes);
        raw = in_file && in_file->p ? in_file->p : t->raw_data.data;
        /* Float raw data in place (the decoder's buffers are 64-byte aligned, onnx/load.c; the file's, any). */
        if (type == F32 && ((uintptr_t)raw & 63) == 0) {
            out->f = (const float *)(const void *)raw;
            return CC_OK;
        }
        if (type == F32) {
            out->le32 = raw;
            return CC_OK;
        }
    } else {
        size_t have = type == F32 ? t->n_float_data : type == F64 ? t->n_double_data
                    : type == I64 ? t->n_int64_data : t->n_int32_data;
        if ((uint64_t)have != (uint64_t)n)
            return fail(x, what, CC_EFORMAT, "holds %zu values; its shape needs %lld", have, (long long)n);
    }
    void *data = cc_ox_alloc(x, (size_t)(n ? n : 1) * (is_float ? sizeof(float) : sizeof(int64_t)));
    if (!data)
        return cc_ox_nomem(x);
    if (is_float) {
        float *f = data;
        for (int64_t k = 0; k < n; k++)
            f[k] = raw ? (float)raw_real(raw, type, k)
                 : type == F32 ? t->float_data[k]
                 : type == F64 ? (float)t->double_data[k]
                 : cc_half_to_float((uint16_t)t->int32_data[k]);
        out->f = f;
    } else {
        int64_t *v = data;
        for (int64_t k = 0; k < n; k++)
            v[k] = raw ? raw_int(raw, type, k) : type == I64 ? t->int64_data[k] : t->int32_data[k];
        out->i = v;
    }
    return CC_OK;
}
