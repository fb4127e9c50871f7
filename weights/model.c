/* weights/model.c — what a loaded model answers: layers by name or alias,
 * suggestions for a mistyped name (Levenshtein distance), typed metadata,
 * and the binary16 -> float conversion. Loading is in reader.c. */
#include "model.h"
#include "runtime/pages.h"

#include <math.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* ---- pool: every string and array of one model, freed together ---- */

struct cc_model_pool {
    struct cc_model_pool *next;
    size_t used, cap;
    alignas(max_align_t) unsigned char data[];
};

enum { POOL_CHUNK = 64 * 1024 };

void *cc_model_pool_alloc(struct cc_model_pool **pool, size_t bytes)
{
    const size_t a = alignof(max_align_t);
    if (bytes > SIZE_MAX / 2)
        return NULL;
    bytes = (bytes + a - 1) / a * a;
    if (!bytes)
        bytes = a;
    struct cc_model_pool *c = *pool;
    if (!c || c->cap - c->used < bytes) {
        size_t cap = bytes > POOL_CHUNK ? bytes : POOL_CHUNK;
        struct cc_model_pool *n = malloc(sizeof *n + cap);
        if (!n)
            return NULL;
        n->used = 0;
        n->cap = cap;
        if (c && bytes > POOL_CHUNK) {
            /* A large block gets its own chunk behind the current one, which
             * keeps its free space for the small strings that follow. */
            n->next = c->next;
            c->next = n;
            n->used = bytes;
            return n->data;
        }
        n->next = c;
        *pool = c = n;
    }
    void *p = c->data + c->used;
    c->used += bytes;
    return p;
}

void cc_model_pool_free(struct cc_model_pool *pool)
{
    while (pool) {
        struct cc_model_pool *next = pool->next;
        free(pool);
        pool = next;
    }
}

void cc_model_free(cc_model *m)
{
    if (!m)
        return;
    cc_graph_free(m->graph);
    if (m->map) {
        cc_pages_unregister(m->map);
        munmap(m->map, m->map_len);
    }
    free(m->buffer);
    free(m->converted);
    cc_model_pool_free(m->pool);
    free(m);
}

/* ---- layers by name ---- */

int cc_model_find_layer(const cc_model *m, const char *name)
{
    if (!m || !name)
        return -1;
    int i = cc_graph_find(m->graph, name);
    if (i >= 0)
        return i;
    for (int k = 0; k < m->naliases; k++)
        if (!strcmp(m->aliases[k].name, name))
            return m->aliases[k].node;
    if (!strcmp(name, "input") && m->graph->ninputs > 0)
        return 0;
    return -1;
}

enum { SUGGEST_MAX = 5, SUGGEST_CHARS = 256 };

/* Levenshtein distance over at most SUGGEST_CHARS bytes of each string
 * (longer names differ by more than any suggestion needs to tell). */
static int edit_distance(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na > SUGGEST_CHARS)
        na = SUGGEST_CHARS;
    if (nb > SUGGEST_CHARS)
        nb = SUGGEST_CHARS;
    int row[SUGGEST_CHARS + 1];
    for (size_t j = 0; j <= nb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= na; i++) {
        int diag = row[0];  /* d[i-1][j-1] */
        row[0] = (int)i;
        for (size_t j = 1; j <= nb; j++) {
            int up = row[j];  /* d[i-1][j] */
            int best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[nb];
}

static int shared_prefix(const char *a, const char *b)
{
    int n = 0;
    while (a[n] && a[n] == b[n] && n < SUGGEST_CHARS)
        n++;
    return n;
}

typedef struct { const char *name; int dist, prefix, order; } candidate;

static int better(const candidate *x, const candidate *y)
{
    if (x->dist != y->dist)
        return x->dist < y->dist;
    if (x->prefix != y->prefix)
        return x->prefix > y->prefix;
    return x->order < y->order;
}

static void consider(candidate *best, int *nbest, const char *query, const char *name, int order)
{
    candidate c = {name, edit_distance(query, name), shared_prefix(query, name), order};
    int at = *nbest;
    while (at > 0 && better(&c, &best[at - 1]))
        at--;
    if (at >= SUGGEST_MAX)
        return;
    int last = *nbest < SUGGEST_MAX ? *nbest : SUGGEST_MAX - 1;
    memmove(&best[at + 1], &best[at], (size_t)(last - at) * sizeof *best);
    best[at] = c;
    if (*nbest < SUGGEST_MAX)
        (*nbest)++;
}

void cc_model_suggest(const cc_model *m, const char *name, char *buf, size_t len)
{
    if (!buf || !len)
        return;
    buf[0] = '\0';
    if (!m || !name)
        return;
    candidate best[SUGGEST_MAX];
    int nbest = 0, order = 0;
    for (int i = 0; i < m->graph->nnodes; i++)
        consider(best, &nbest, name, m->graph->nodes[i].name, order++);
    for (int k = 0; k < m->naliases; k++)
        consider(best, &nbest, name, m->aliases[k].name, order++);
    size_t used = 0;
    for (int k = 0; k < nbest; k++) {
        size_t n = strlen(best[k].name), sep = k ? 2 : 0;
        if (used + sep + n + 1 > len)
            break;
        memcpy(buf + used, ", ", sep);
        memcpy(buf + used + sep, best[k].name, n + 1);
        used += sep + n;
    }
}

/* ---- metadata ---- */

const cc_meta *cc_model_meta(const cc_model *m, const char *key)
{
    if (!m || !key)
        return NULL;
    for (int i = 0; i < m->nmeta; i++)
        if (!strcmp(m->meta[i].key, key))
            return &m->meta[i];
    return NULL;
}

static const cc_meta *typed(const cc_model *m, const char *key, cc_meta_type type)
{
    const cc_meta *e = cc_model_meta(m, key);
    return e && e->type == type ? e : NULL;
}

const char *cc_model_meta_string(const cc_model *m, const char *key)
{
    const cc_meta *e = typed(m, key, CC_META_STRING);
    return e ? e->str : NULL;
}

int cc_model_meta_int(const cc_model *m, const char *key, int64_t *v)
{
    const cc_meta *e = typed(m, key, CC_META_INT);
    if (e && v)
        *v = e->i;
    return e != NULL;
}

int cc_model_meta_float(const cc_model *m, const char *key, double *v)
{
    const cc_meta *e = typed(m, key, CC_META_FLOAT);
    if (e && v)
        *v = e->f;
    return e != NULL;
}

int cc_model_meta_floats(const cc_model *m, const char *key, const double **v, int *n)
{
    const cc_meta *e = typed(m, key, CC_META_FLOATS);
    if (v)
        *v = e ? e->floats : NULL;
    if (n)
        *n = e ? e->n : 0;
    return e != NULL;
}

int cc_model_meta_strings(const cc_model *m, const char *key, const char *const **v, int *n)
{
    const cc_meta *e = typed(m, key, CC_META_STRINGS);
    if (v)
        *v = e ? e->strs : NULL;
    if (n)
        *n = e ? e->n : 0;
    return e != NULL;
}

int cc_model_multi_label(const cc_model *m)
{
    return !strcmp(cc_model_output(m), "sigmoid");
}

const char *cc_model_output(const cc_model *m)
{
    const char *output = cc_model_meta_string(m, "output");
    return output ? output : "softmax";
}

/* ---- the input image ---- */

static cc_status meta_side(const cc_model *m, const char *key, int *v, cc_error *err)
{
    const cc_meta *e = cc_model_meta(m, key);
    if (!e)
        return CC_OK;
    if (e->type != CC_META_INT)
        return cc_fail(err, CC_EFORMAT, "metadata '%s' has type %d; expected 2 (int)", key, (int)e->type);
    if (e->i < 1 || e->i > CC_MODEL_MAX_SIDE)
        return cc_fail(err, CC_EFORMAT, "metadata '%s' is %lld; an input side is 1 to %d pixels", key,
                       (long long)e->i, CC_MODEL_MAX_SIDE);
    *v = (int)e->i;
    return CC_OK;
}

static cc_status meta_per_channel(const cc_model *m, const char *key, int channels, const float *dflt,
                                  float *out, cc_error *err)
{
    const cc_meta *e = cc_model_meta(m, key);
    if (!e) {
        if (!dflt)
            return cc_fail(err, CC_EFORMAT, "metadata '%s' is absent; a %d-channel model must give one value "
                           "per channel (only 3-channel models default to ImageNet's)", key, channels);
        memcpy(out, dflt, (size_t)channels * sizeof *out);
        return CC_OK;
    }
    if (e->type != CC_META_FLOATS)
        return cc_fail(err, CC_EFORMAT, "metadata '%s' has type %d; expected 5 (float list)", key, (int)e->type);
    if (e->n != channels)
        return cc_fail(err, CC_EFORMAT, "metadata '%s' has %d values; input.channels is %d, and it needs one "
                       "per channel", key, e->n, channels);
    for (int c = 0; c < channels; c++) {
        out[c] = (float)e->floats[c];
        if (!isfinite(out[c]) || (!strcmp(key, "input.std") && !(out[c] > 0)))
            return cc_fail(err, CC_EFORMAT, "metadata '%s'[%d] is %g; it must be finite%s", key, c,
                           e->floats[c], strcmp(key, "input.std") ? "" : " and positive");
    }
    return CC_OK;
}

cc_status cc_model_read_input(const cc_model *m, cc_model_input *in, cc_error *err)
{
    static const float imagenet_mean[3] = {0.485f, 0.456f, 0.406f}, imagenet_std[3] = {0.229f, 0.224f, 0.225f};
    memset(in, 0, sizeof *in);
    in->channels = 3;
    const cc_meta *e = cc_model_meta(m, "input.channels");
    if (e && e->type != CC_META_INT)
        return cc_fail(err, CC_EFORMAT, "metadata 'input.channels' has type %d; expected 2 (int)", (int)e->type);
    if (e && (e->i < 1 || e->i > CC_MODEL_MAX_CHANNELS))
        return cc_fail(err, CC_EFORMAT, "metadata 'input.channels' is %lld; the engine takes 1 to %d channels",
                       (long long)e->i, CC_MODEL_MAX_CHANNELS);
    if (e)
        in->channels = (int)e->i;
    cc_status st;
    if ((st = meta_side(m, "input.height", &in->height, err)) || (st = meta_side(m, "input.width", &in->width, err)))
        return st;
    if (!in->height != !in->width)
        return cc_fail(err, CC_EFORMAT, "metadata gives input.%s but not input.%s; a fixed input size needs both",
                       in->height ? "height" : "width", in->height ? "width" : "height");
    const int rgb = in->channels == 3;
    if ((st = meta_per_channel(m, "input.mean", in->channels, rgb ? imagenet_mean : NULL, in->mean, err)))
        return st;
    return meta_per_channel(m, "input.std", in->channels, rgb ? imagenet_std : NULL, in->std, err);
}

/* ---- binary16 ----
 * value = (-1)^s * 2^(e-15) * 1.m for 1 <= e <= 30; (-1)^s * 2^-14 * 0.m for
 * e = 0 (subnormal: shift m up until its leading 1 reaches bit 10, lowering
 * the exponent once per shift); e = 31 is infinity (m = 0) or NaN. */
float cc_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1Fu, m = h & 0x3FFu, bits;
    if (e == 0 && m == 0) {
        bits = sign;
    } else if (e == 0) {
        uint32_t shifts = 0;
        while (!(m & 0x400u)) {
            m <<= 1;
            shifts++;
        }
        bits = sign | (127 - 14 - shifts) << 23 | (m & 0x3FFu) << 13;
    } else if (e == 31) {
        bits = sign | 0x7F800000u | m << 13;
    } else {
        bits = sign | (e - 15 + 127) << 23 | m << 13;
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}
