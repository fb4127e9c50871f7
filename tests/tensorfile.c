/* tests/tensorfile.c — see tensorfile.h. */
#include "tensorfile.h"

#include "testutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const unsigned char *p;
    size_t left;
} cursor;

static int take(cursor *c, void *dst, size_t n)
{
    if (n > c->left)
        return -1;
    if (dst)
        memcpy(dst, c->p, n);
    c->p += n;
    c->left -= n;
    return 0;
}

static uint32_t le32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static int parse(tf_file *f, const unsigned char *buf, size_t size, const char *path)
{
    cursor c = {buf, size};
    unsigned char head[12];
    if (take(&c, head, 12) || memcmp(head, "CCGF", 4) || le32(head + 4) != 1) {
        fprintf(stderr, "%s: not a version-1 CCGF fixture\n", path);
        return -1;
    }
    uint32_t count = le32(head + 8);
    if (count > 100000) {
        fprintf(stderr, "%s: %u tensors is implausible\n", path, count);
        return -1;
    }
    f->t = tu_alloc((count ? count : 1) * sizeof *f->t);
    for (uint32_t i = 0; i < count; i++) {
        tf_tensor *t = &f->t[i];
        unsigned char b[4];
        if (take(&c, b, 2))
            goto truncated;
        size_t len = (size_t)b[0] | (size_t)b[1] << 8;
        if (len >= sizeof t->name || take(&c, t->name, len)) {
            fprintf(stderr, "%s: tensor %u: name of %zu bytes is too long or truncated\n", path, i, len);
            return -1;
        }
        t->name[len] = '\0';
        if (take(&c, b, 2))
            goto truncated;
        t->type = (char)b[0];
        t->rank = b[1];
        size_t esize = t->type == 'B' ? 1 : 4;
        if ((t->type != 'f' && t->type != 'B' && t->type != 'i') || t->rank < 1 || t->rank > 4) {
            fprintf(stderr, "%s: tensor '%s': type '%c' rank %d unsupported\n", path, t->name,
                    t->type, t->rank);
            return -1;
        }
        t->n = 1;
        for (int d = 0; d < t->rank; d++) {
            if (take(&c, b, 4))
                goto truncated;
            uint32_t v = le32(b);
            if (v > (1u << 24) || (t->n *= v) > ((size_t)1 << 28)) {
                fprintf(stderr, "%s: tensor '%s': dimension %u too large\n", path, t->name, v);
                return -1;
            }
            t->dims[d] = (int)v;
        }
        t->data = tu_alloc(t->n * esize);
        f->count = (int)i + 1;  /* owned from here: tf_free releases it */
        if (take(&c, t->data, t->n * esize))
            goto truncated;
    }
    if (c.left) {
        fprintf(stderr, "%s: %zu trailing bytes\n", path, c.left);
        return -1;
    }
    return 0;
truncated:
    fprintf(stderr, "%s: truncated (regenerate with `make fixtures`)\n", path);
    return -1;
}

int tf_load(tf_file *f, const char *path)
{
    memset(f, 0, sizeof *f);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "%s: cannot open (run from the repository root, or `make fixtures`)\n", path);
        return -1;
    }
    unsigned char *buf = NULL;
    size_t size = 0, cap = 0, got;
    do {
        if (size == cap) {
            cap = cap ? 2 * cap : 1 << 20;
            unsigned char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(fp);
                fprintf(stderr, "%s: out of memory\n", path);
                return -1;
            }
            buf = nb;
        }
        got = fread(buf + size, 1, cap - size, fp);
        size += got;
    } while (got);
    fclose(fp);
    int rc = parse(f, buf, size, path);
    free(buf);
    if (rc)
        tf_free(f);
    return rc;
}

void tf_free(tf_file *f)
{
    for (int i = 0; i < f->count; i++)
        free(f->t[i].data);
    free(f->t);
    memset(f, 0, sizeof *f);
}

const tf_tensor *tf_get(const tf_file *f, char type, const char *fmt, ...)
{
    char name[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    for (int i = 0; i < f->count; i++)
        if (!strcmp(f->t[i].name, name)) {
            if (f->t[i].type == type)
                return &f->t[i];
            tu_check(0, "fixture tensor '%s' has type '%c', expected '%c'", name, f->t[i].type, type);
            return NULL;
        }
    tu_check(0, "fixture has no tensor '%s' (regenerate with `make fixtures`)", name);
    return NULL;
}
