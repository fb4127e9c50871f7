/* weights/writer.c — see writer.h. Layout written: the 128-byte header, then
 * metadata, graph and tensor table back to back, zero padding to a multiple
 * of 64, then the data section with every tensor at a multiple of 64 and
 * zeros between tensors; the file ends where the last tensor does. */
#include "writer.h"
#include "crc32.h"
#include "model.h"
#include "runtime/pages.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    unsigned char *p;
    size_t n, cap;
} bytes;

/* A tensor's bytes: in the writer's own data buffer (copied in), or the
 * caller's (cc_writer_tensor_ref), at offset off of the data section. */
typedef struct {
    uint64_t off;
    size_t n, own;        /* own: offset into the writer's data buffer */
    const void *ref;      /* NULL: owned */
} piece;

struct cc_model_writer {
    bytes meta, inputs, nodes, aliases, table, data;
    piece *pieces;
    size_t npieces, pieces_cap;
    uint64_t data_size;   /* of the data section, pieces and the padding between them */
    int no_data_crc;      /* cc_writer_for_adopt */
    uint32_t nmeta, ninputs, nnodes, naliases, ntensors;
    int output;
    cc_status st;
    char why[160];
};

static int failed(cc_model_writer *w, cc_status st, const char *why)
{
    if (!w->st) {
        w->st = st;
        snprintf(w->why, sizeof w->why, "%s", why);
    }
    return 0;
}

static int put(cc_model_writer *w, bytes *b, const void *src, size_t n)
{
    if (w->st)
        return 0;
    if (n > b->cap - b->n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->n < n) {
            if (cap > SIZE_MAX / 2)
                return failed(w, CC_ENOMEM, "the file would be too large");
            cap *= 2;
        }
        unsigned char *p = realloc(b->p, cap);
        if (!p)
            return failed(w, CC_ENOMEM, "out of memory");
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, src, n);
    b->n += n;
    return 1;
}

static void put_u32(cc_model_writer *w, bytes *b, uint32_t v)
{
    unsigned char le[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                           (unsigned char)(v >> 24)};
    put(w, b, le, 4);
}

static void put_u64(cc_model_writer *w, bytes *b, uint64_t v)
{
    put_u32(w, b, (uint32_t)v);
    put_u32(w, b, (uint32_t)(v >> 32));
}

static void put_f64(cc_model_writer *w, bytes *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    put_u64(w, b, u);
}

static void put_str(cc_model_writer *w, bytes *b, const char *s)
{
    size_t n = strlen(s ? s : "");
    if (n > UINT32_MAX) {
        failed(w, CC_EINVAL, "a string is longer than 2^32 bytes");
        return;
    }
    put_u32(w, b, (uint32_t)n);
    put(w, b, s, n);
}

static int count_ok(cc_model_writer *w, int n)
{
    return n >= 0 ? 1 : failed(w, CC_EINVAL, "a negative count");
}

cc_model_writer *cc_writer_create(void)
{
    cc_model_writer *w = calloc(1, sizeof *w);
    if (w)
        w->output = -1;
    return w;
}

void cc_writer_for_adopt(cc_model_writer *w)
{
    w->no_data_crc = 1;
}

void cc_writer_free(cc_model_writer *w)
{
    if (!w)
        return;
    free(w->meta.p), free(w->inputs.p), free(w->nodes.p), free(w->aliases.p), free(w->table.p);
    free(w->data.p);
    free(w->pieces);
    free(w);
}

static void meta_key(cc_model_writer *w, const char *key, cc_meta_type type)
{
    put_str(w, &w->meta, key);
    put_u32(w, &w->meta, (uint32_t)type);
    w->nmeta++;
}

void cc_writer_meta_string(cc_model_writer *w, const char *key, const char *value)
{
    meta_key(w, key, CC_META_STRING);
    put_str(w, &w->meta, value);
}

void cc_writer_meta_int(cc_model_writer *w, const char *key, int64_t value)
{
    uint64_t u;
    memcpy(&u, &value, sizeof u);
    meta_key(w, key, CC_META_INT);
    put_u64(w, &w->meta, u);
}

void cc_writer_meta_float(cc_model_writer *w, const char *key, double value)
{
    meta_key(w, key, CC_META_FLOAT);
    put_f64(w, &w->meta, value);
}

void cc_writer_meta_strings(cc_model_writer *w, const char *key, const char *const *v, int n)
{
    if (!count_ok(w, n))
        return;
    meta_key(w, key, CC_META_STRINGS);
    put_u32(w, &w->meta, (uint32_t)n);
    for (int i = 0; i < n; i++)
        put_str(w, &w->meta, v[i]);
}

void cc_writer_meta_floats(cc_model_writer *w, const char *key, const double *v, int n)
{
    if (!count_ok(w, n))
        return;
    meta_key(w, key, CC_META_FLOATS);
    put_u32(w, &w->meta, (uint32_t)n);
    for (int i = 0; i < n; i++)
        put_f64(w, &w->meta, v[i]);
}

int cc_writer_input(cc_model_writer *w, const char *name)
{
    put_str(w, &w->inputs, name);
    return w->st ? -1 : (int)w->ninputs++;
}

int cc_writer_node(cc_model_writer *w, const char *name, const char *op, const int *inputs, int ninputs,
                   const cc_writer_param *params, int nparams, const cc_writer_attr *attrs, int nattrs)
{
    if (!count_ok(w, ninputs) || !count_ok(w, nparams) || !count_ok(w, nattrs))
        return -1;
    bytes *b = &w->nodes;
    put_str(w, b, name);
    put_str(w, b, op);
    put_u32(w, b, (uint32_t)ninputs);
    for (int i = 0; i < ninputs; i++)
        put_u32(w, b, (uint32_t)inputs[i]);
    put_u32(w, b, (uint32_t)nparams);
    for (int i = 0; i < nparams; i++) {
        put_str(w, b, params[i].role);
        put_str(w, b, params[i].tensor);
    }
    put_u32(w, b, (uint32_t)nattrs);
    for (int i = 0; i < nattrs; i++) {
        if (!count_ok(w, attrs[i].n))
            return -1;
        put_str(w, b, attrs[i].key);
        put_u32(w, b, (uint32_t)attrs[i].n);
        for (int k = 0; k < attrs[i].n; k++)
            put_f64(w, b, attrs[i].v[k]);
    }
    return w->st ? -1 : (int)(w->ninputs + w->nnodes++);
}

void cc_writer_output(cc_model_writer *w, int node)
{
    w->output = node;
}

void cc_writer_alias(cc_model_writer *w, const char *name, int node)
{
    put_str(w, &w->aliases, name);
    put_u32(w, &w->aliases, (uint32_t)node);
    w->naliases++;
}

/* Appends a tensor table entry and its piece of the data section, at the
 * next multiple of the alignment. */
static void tensor_entry(cc_model_writer *w, const char *name, int dtype, cc_shape shape, const void *ref)
{
    size_t numel = 1;
    for (int i = 0; i < shape.rank && i < CC_MAX_RANK; i++)
        numel *= (size_t)(shape.d[i] > 0 ? shape.d[i] : 0);
    if (shape.rank < 0 || shape.rank > CC_MAX_RANK || numel > CC_MAX_NUMEL) {
        failed(w, CC_EINVAL, "a tensor shape has a bad rank or too many elements");
        return;
    }
    const uint64_t off = (w->data_size + CC_MODEL_ALIGN - 1) / CC_MODEL_ALIGN * CC_MODEL_ALIGN;
    const size_t n = numel * (dtype == CC_DTYPE_F16 ? 2 : 4);
    if (w->st)
        return;
    if (w->npieces == w->pieces_cap) {
        size_t cap = w->pieces_cap ? 2 * w->pieces_cap : 64;
        piece *p = realloc(w->pieces, cap * sizeof *p);
        if (!p) {
            failed(w, CC_ENOMEM, "out of memory");
            return;
        }
        w->pieces = p, w->pieces_cap = cap;
    }
    w->pieces[w->npieces++] = (piece){off, n, w->data.n, ref};
    w->data_size = off + n;
    put_str(w, &w->table, name);
    put_u32(w, &w->table, (uint32_t)dtype);
    put_u32(w, &w->table, (uint32_t)shape.rank);
    for (int i = 0; i < shape.rank; i++)
        put_u64(w, &w->table, (uint64_t)shape.d[i]);
    put_u64(w, &w->table, off);
    put_u64(w, &w->table, n);
    w->ntensors++;
}

void cc_writer_tensor_ref(cc_model_writer *w, const char *name, cc_shape shape, const void *data)
{
    tensor_entry(w, name, CC_DTYPE_F32, shape, data);
}

void cc_writer_tensor(cc_model_writer *w, const char *name, int dtype, cc_shape shape, const float *data)
{
    tensor_entry(w, name, dtype, shape, NULL);
    size_t n = w->st ? 0 : cc_shape_numel(&shape);
    for (size_t i = 0; i < n; i++) {
        if (dtype == CC_DTYPE_F16) {
            uint16_t h = cc_float_to_half(data[i]);
            unsigned char le[2] = {(unsigned char)h, (unsigned char)(h >> 8)};
            put(w, &w->data, le, 2);
        } else {
            uint32_t u;
            memcpy(&u, &data[i], sizeof u);
            put_u32(w, &w->data, u);
        }
    }
}

void cc_writer_tensor_f16(cc_model_writer *w, const char *name, cc_shape shape, const uint16_t *bits)
{
    tensor_entry(w, name, CC_DTYPE_F16, shape, NULL);
    size_t n = w->st ? 0 : cc_shape_numel(&shape);
    for (size_t i = 0; i < n; i++) {
        unsigned char le[2] = {(unsigned char)bits[i], (unsigned char)(bits[i] >> 8)};
        put(w, &w->data, le, 2);
    }
}

static void set_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> 8 * i);
}

static void set_u64(unsigned char *p, uint64_t v)
{
    set_u32(p, (uint32_t)v);
    set_u32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

void cc_model_reseal(unsigned char *buf, size_t size)
{
    if (size < CC_MODEL_HEADER_SIZE)
        return;
    uint64_t start = get_u64(buf + 24), end = get_u64(buf + 56) + get_u64(buf + 64);
    if (start <= end && end <= size)
        set_u32(buf + 96, cc_crc32(0, buf + start, (size_t)(end - start)));
    uint64_t off = get_u64(buf + 72), n = get_u64(buf + 80);
    if (off <= size && n <= size - off)
        set_u32(buf + 100, cc_crc32(0, buf + off, (size_t)n));
    set_u32(buf + 104, cc_crc32(0, buf, 104));
}

cc_status cc_writer_to_memory(const cc_model_writer *w, unsigned char **out, size_t *size, cc_error *err)
{
    *out = NULL;
    *size = 0;
    if (w->st)
        return cc_fail(err, w->st, "writing a model: %s", w->why);
    const uint32_t output = w->output >= 0 ? (uint32_t)w->output : w->ninputs + w->nnodes - 1;
    const size_t meta = 4 + w->meta.n, table = 4 + w->table.n;
    const size_t graph = 4 + w->inputs.n + 4 + w->nodes.n + 4 + 4 + w->aliases.n;
    const size_t table_end = CC_MODEL_HEADER_SIZE + meta + graph + table;
    const size_t data_off = (table_end + CC_MODEL_ALIGN - 1) / CC_MODEL_ALIGN * CC_MODEL_ALIGN;
    if (data_off < table_end || w->data_size > SIZE_MAX - data_off - CC_MODEL_ALIGN)
        return cc_fail(err, CC_ENOMEM, "writing a model: the file would be too large");
    const size_t total = data_off + (size_t)w->data_size;
    /* Aligned, so a reader can use f32 tensors in place; zeroed where no piece is copied. */
    unsigned char *f = aligned_alloc(CC_MODEL_ALIGN, (total + CC_MODEL_ALIGN - 1) / CC_MODEL_ALIGN * CC_MODEL_ALIGN);
    if (!f)
        return cc_fail(err, CC_ENOMEM, "writing a model: out of memory for %zu bytes", total);
    cc_pages_advise_huge(f, total);
    memset(f, 0, data_off);
    static const unsigned char magic[8] = {0x89, 'C', 'C', 'M', '\r', '\n', 0x1A, '\n'};
    memcpy(f, magic, 8);
    set_u32(f + 8, CC_MODEL_VERSION);
    set_u32(f + 12, 0x01020304u);
    set_u32(f + 16, CC_MODEL_HEADER_SIZE);
    const uint64_t sec[4][2] = {{CC_MODEL_HEADER_SIZE, meta}, {CC_MODEL_HEADER_SIZE + meta, graph},
                                {CC_MODEL_HEADER_SIZE + meta + graph, table}, {data_off, w->data_size}};
    for (int s = 0; s < 4; s++) {
        set_u64(f + 24 + 16 * s, sec[s][0]);
        set_u64(f + 32 + 16 * s, sec[s][1]);
    }
    set_u64(f + 88, total);
    unsigned char *p = f + CC_MODEL_HEADER_SIZE;
#define EMIT_U32(v) (set_u32(p, (v)), p += 4)
#define EMIT(b) (b.n ? memcpy(p, b.p, b.n) : p, p += b.n)
    EMIT_U32(w->nmeta);
    EMIT(w->meta);
    EMIT_U32(w->ninputs);
    EMIT(w->inputs);
    EMIT_U32(w->nnodes);
    EMIT(w->nodes);
    EMIT_U32(output);
    EMIT_U32(w->naliases);
    EMIT(w->aliases);
    EMIT_U32(w->ntensors);
    EMIT(w->table);
#undef EMIT_U32
#undef EMIT
    uint64_t at = 0;
    for (size_t i = 0; i < w->npieces; i++) {
        const piece *q = &w->pieces[i];
        memset(f + data_off + at, 0, (size_t)(q->off - at));
        if (q->n)
            memcpy(f + data_off + q->off, q->ref ? q->ref : w->data.p + q->own, q->n);
        at = q->off + q->n;
    }
    cc_model_reseal(f, w->no_data_crc ? data_off : total);   /* a shorter size leaves the data CRC 0 */
    *out = f;
    *size = total;
    return CC_OK;
}

cc_status cc_writer_to_file(const cc_model_writer *w, const char *path, cc_error *err)
{
    unsigned char *buf;
    size_t size;
    cc_status st = cc_writer_to_memory(w, &buf, &size, err);
    if (st)
        return st;
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 8);
    if (!tmp) {
        free(buf);
        return cc_fail(err, CC_ENOMEM, "out of memory writing '%s'", path);
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".XXXXXX", 8);
    int fd = mkstemp(tmp);
    const char *step = "create a temporary file next to";
    size_t done = 0;
    if (fd >= 0) {
        step = "write";
        while (done < size) {
            ssize_t k = write(fd, buf + done, size - done);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0)
                break;
            done += (size_t)k;
        }
        if (done == size && !fsync(fd))
            step = NULL;
        if (close(fd) && !step)
            step = "close";
        if (!step && rename(tmp, path))
            step = "rename a temporary file to";
        if (step)
            unlink(tmp);
    }
    int e = errno;
    free(tmp);
    free(buf);
    if (step)
        return cc_fail(err, CC_EIO, "cannot %s '%s': %s", step, path, strerror(e));
    return CC_OK;
}

uint16_t cc_float_to_half(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    const uint16_t sign = (uint16_t)(x >> 16 & 0x8000u);
    const uint32_t ax = x & 0x7FFFFFFFu;
    if (ax > 0x7F800000u)  /* NaN: keep the top payload bits, stay quiet */
        return (uint16_t)(sign | 0x7E00u | (ax >> 13 & 0x3FFu));
    if (ax >= 0x477FF000u)  /* >= 65520 rounds past the largest half, 65504 */
        return (uint16_t)(sign | 0x7C00u);
    if (ax < 0x38800000u) {  /* below 2^-14: a subnormal half, in units of 2^-24 */
        if (ax < 0x33000000u)  /* below 2^-25 (half the smallest subnormal): zero */
            return sign;
        const uint32_t e = ax >> 23, m = (ax & 0x7FFFFFu) | 0x800000u, shift = 126 - e;
        uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1)))
            q++;  /* may carry into the smallest normal, 0x0400: still the right encoding */
        return (uint16_t)(sign | q);
    }
    uint32_t q = (ax >> 13) - ((127 - 15) << 10), rem = ax & 0x1FFFu;
    if (rem > 0x1000u || (rem == 0x1000u && (q & 1)))
        q++;  /* a carry into the exponent is correct rounding */
    return (uint16_t)(sign | q);
}
