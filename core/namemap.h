/* core/namemap.h — a string -> index map (open addressing, FNV-1a) for
 * duplicate checks and name lookups while loading a model (weights/, onnx/).
 * Keys are borrowed: they must outlive the map. */
#ifndef CC_NAMEMAP_H
#define CC_NAMEMAP_H

#include <stddef.h>

typedef struct {
    const char **key;
    int *val;
    size_t cap, n;
} cc_namemap;

int cc_map_get(const cc_namemap *mp, const char *key);  /* value or -1 */
int cc_map_put(cc_namemap *mp, const char *key, int val);  /* 0 when out of memory */
void cc_map_free(cc_namemap *mp);

/* A name for a message: at most len-4 bytes then "...", control bytes and
 * bytes that are not valid UTF-8 as '?', UTF-8 characters kept whole. */
const char *cc_qname(const char *s, char *buf, size_t len);

/* Index of the first byte of s[0..n) that is NUL or not valid UTF-8
 * (overlong forms, surrogates and code points past U+10FFFF included), or n. */
size_t cc_utf8_check(const unsigned char *s, size_t n);

#endif
