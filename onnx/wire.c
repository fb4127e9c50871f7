/* onnx/wire.c — a copy of a serialized ModelProto without the initializers'
 * raw_data, whose bytes stay where they are in the file.
 *
 * protobuf-c copies every bytes field while decoding: for a model of 500 MB
 * of weights, 500 MB of fresh memory written once more before the import
 * copies them into the model. Stripping the raw_data fields (ModelProto.graph
 * = field 7, GraphProto.initializer = 5, TensorProto.raw_data = 9) from a
 * copy of the small rest lets the import read them in place from the mapped
 * file. Only the protobuf wire format is read here (varint keys, the four
 * wire types); anything unexpected, a deprecated group or a length past the
 * end, makes the walk give up, and the file is then decoded as it is, so
 * protobuf-c alone judges malformed input. */
#include "onnx/import.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    unsigned char *p;
    size_t n, cap;
    int failed;
} buf;

static void put(buf *b, const void *src, size_t n)
{
    if (b->failed)
        return;
    if (n > b->cap - b->n) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->n < n) {
            if (cap > SIZE_MAX / 2) {
                b->failed = 1;
                return;
            }
            cap *= 2;
        }
        unsigned char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void put_varint(buf *b, uint64_t v)
{
    unsigned char t[10];
    int k = 0;
    do {
        t[k++] = (unsigned char)((v & 0x7F) | (v > 0x7F ? 0x80 : 0));
        v >>= 7;
    } while (v);
    put(b, t, (size_t)k);
}

/* Reads a varint at *p (before end); 0 when it runs past end or past 10 bytes. */
static int get_varint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
    uint64_t r = 0;
    for (int s = 0; s < 64 && *p < end; s += 7) {
        const unsigned char c = *(*p)++;
        r |= (uint64_t)(c & 0x7F) << s;
        if (!(c & 0x80)) {
            *v = r;
            return 1;
        }
    }
    return 0;
}

typedef struct {
    cc_ox_raw *raw;
    int n, cap;
} raws;

/* Copies the fields of one message [p, end) into out; depth 0 ModelProto, 1
 * GraphProto, 2 TensorProto (an initializer). 0 when the bytes are not wire format. */
static int strip(const unsigned char *p, const unsigned char *end, int depth, buf *out, raws *r)
{
    static const int nested[2] = {7, 5};   /* the field that holds the next level */
    while (p < end) {
        const unsigned char *field = p;
        uint64_t key, len = 0;
        if (!get_varint(&p, end, &key))
            return 0;
        const int wt = (int)(key & 7);
        const uint64_t number = key >> 3;
        if (wt == 0) {
            if (!get_varint(&p, end, &len))
                return 0;
        } else if (wt == 1 || wt == 5) {
            if ((size_t)(end - p) < (wt == 1 ? 8u : 4u))
                return 0;
            p += wt == 1 ? 8 : 4;
        } else if (wt == 2) {
            if (!get_varint(&p, end, &len) || len > (uint64_t)(end - p))
                return 0;
            if (depth < 2 && number == (uint64_t)nested[depth]) {
                buf sub = {0};
                if (depth == 1) {   /* an initializer: no raw data until told */
                    if (r->n == r->cap) {
                        int cap = r->cap ? 2 * r->cap : 256;
                        cc_ox_raw *q = realloc(r->raw, (size_t)cap * sizeof *q);
                        if (!q)
                            return 0;
                        r->raw = q, r->cap = cap;
                    }
                    r->raw[r->n++] = (cc_ox_raw){NULL, 0};
                }
                const int ok = strip(p, p + len, depth + 1, &sub, r);
                put_varint(out, key);
                put_varint(out, sub.n);
                if (sub.n)
                    put(out, sub.p, sub.n);
                free(sub.p);
                if (!ok || sub.failed)
                    return 0;
                p += len;
                continue;
            }
            if (depth == 2 && number == 9) {   /* raw_data: the last one counts, as protobuf's */
                r->raw[r->n - 1] = (cc_ox_raw){p, (size_t)len};
                p += len;
                continue;
            }
            p += len;
        } else {
            return 0;   /* groups (3, 4) and unknown wire types */
        }
        put(out, field, (size_t)(p - field));
    }
    return !out->failed;
}

int cc_ox_strip_raw(const unsigned char *bytes, size_t size, unsigned char **out, size_t *out_size, cc_ox_raw **raw,
                    int *nraw)
{
    buf b = {0};
    raws r = {0};
    *out = NULL, *raw = NULL, *nraw = 0;
    if (!strip(bytes, bytes + size, 0, &b, &r) || b.failed) {
        free(b.p), free(r.raw);
        return 0;
    }
    *out = b.p, *out_size = b.n, *raw = r.raw, *nraw = r.n;
    return 1;
}
