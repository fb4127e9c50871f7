/* core/namemap.c — see namemap.h. */
#include "core/namemap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ull;
    return h;
}

int cc_map_get(const cc_namemap *mp, const char *key)
{
    if (!mp->cap)
        return -1;
    for (size_t i = fnv1a(key) & (mp->cap - 1);; i = (i + 1) & (mp->cap - 1)) {
        if (!mp->key[i])
            return -1;
        if (!strcmp(mp->key[i], key))
            return mp->val[i];
    }
}

/* Inserts a key that is not present; grows to keep the load at most one half. */
int cc_map_put(cc_namemap *mp, const char *key, int val)
{
    if (2 * (mp->n + 1) > mp->cap) {
        size_t cap = mp->cap ? 2 * mp->cap : 64;
        if (cap > SIZE_MAX / 2 / sizeof(const char *))
            return 0;
        const char **k = calloc(cap, sizeof *k);
        int *v = malloc(cap * sizeof *v);
        if (!k || !v) {
            free(k), free(v);
            return 0;
        }
        for (size_t i = 0; i < mp->cap; i++) {
            if (!mp->key[i])
                continue;
            size_t j = fnv1a(mp->key[i]) & (cap - 1);
            while (k[j])
                j = (j + 1) & (cap - 1);
            k[j] = mp->key[i];
            v[j] = mp->val[i];
        }
        free(mp->key), free(mp->val);
        mp->key = k, mp->val = v, mp->cap = cap;
    }
    size_t i = fnv1a(key) & (mp->cap - 1);
    while (mp->key[i])
        i = (i + 1) & (mp->cap - 1);
    mp->key[i] = key;
    mp->val[i] = val;
    mp->n++;
    return 1;
}

void cc_map_free(cc_namemap *mp)
{
    free(mp->key);
    free(mp->val);
}

/* The length of the valid UTF-8 character at s (n bytes left), or 0. */
static size_t utf8_char(const unsigned char *s, size_t n)
{
    const unsigned c = s[0];
    const size_t k = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    return k && k <= n && cc_utf8_check(s, k) == k ? k : 0;
}

const char *cc_qname(const char *s, char *buf, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    const size_t n = strlen(s), max = len - 4;
    size_t i = 0, o = 0;
    while (i < n) {
        const size_t k = utf8_char(u + i, n - i);
        if (o + (k ? k : 1) > max)
            break;
        if (!k || (k == 1 && (u[i] < 0x20 || u[i] == 0x7F)))
            buf[o++] = '?';
        else
            memcpy(buf + o, s + i, k), o += k;
        i += k ? k : 1;
    }
    strcpy(buf + o, i < n ? "..." : "");
    return buf;
}

size_t cc_utf8_check(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t c = s[i], len, min;
        if (c == 0)
            return i;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xE0) == 0xC0)
            len = 2, min = 0x80, c &= 0x1F;
        else if ((c & 0xF0) == 0xE0)
            len = 3, min = 0x800, c &= 0x0F;
        else if ((c & 0xF8) == 0xF0)
            len = 4, min = 0x10000, c &= 0x07;
        else
            return i;
        if (n - i < len)
            return i;
        for (uint32_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            c = c << 6 | (s[i + k] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
            return i;
        i += len;
    }
    return n;
}
