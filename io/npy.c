/* io/npy.c — see npy.h. The header is parsed by a small strict recogniser
 * of the one dict shape numpy writes, not a Python evaluator: every byte
 * is accounted for, every number bounded before it is used, and sizes are
 * compared with the data length before the array is allocated. Element bytes
 * are little-endian in the file whatever the host is. There is one parser,
 * cc_npy_decode over bytes in memory; cc_npy_read reads the whole file and
 * hands it over, so while it converts it holds the file next to the floats
 * (twice the array's size, three times for '<f8'). */
#include "npy.h"
#include "atomic.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum {
    MAGIC_LEN = 6,
    ARRAY_ALIGN = 64,            /* numpy.lib.format.ARRAY_ALIGN */
    GROWTH_AXIS_MAX_DIGITS = 21, /* numpy pads so shape[0] can grow in place */
    MAX_HEADER = 10000,          /* numpy.load's default max_header_size */
    CHUNK = 1024                 /* elements per fwrite: 4 KB of stack */
};

static const char magic[MAGIC_LEN] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

/* ---- writing ---- */

cc_status cc_npy_write(const char *path, const float *data, const int *shape, int rank, cc_error *err)
{
    if (!path || !*path)
        return cc_fail(err, CC_EINVAL, "no .npy output path given");
    if (!shape || rank < 1 || rank > CC_MAX_RANK)
        return cc_fail(err, CC_EINVAL, "%s: cannot write an array of rank %d; rank must be 1..%d", path, rank,
                       CC_MAX_RANK);
    size_t numel = 1;
    char dims[CC_MAX_RANK * 16] = "";
    size_t len = 0;
    for (int i = 0; i < rank; i++) {
        if (shape[i] < 1)
            return cc_fail(err, CC_EINVAL, "%s: dimension %d is %d; every dimension must be at least 1", path, i,
                           shape[i]);
        if ((size_t)shape[i] > CC_MAX_NUMEL / numel)
            return cc_fail(err, CC_EINVAL, "%s: the array has more than %zu elements, the limit of one tensor",
                           path, (size_t)CC_MAX_NUMEL);
        numel *= (size_t)shape[i];
        len += (size_t)snprintf(dims + len, sizeof dims - len, i ? ", %d" : "%d", shape[i]);
    }
    if (!data)
        return cc_fail(err, CC_EINVAL, "%s: no data to write (NULL)", path);
    /* numpy 1.24 _write_array_header + _wrap_header, byte for byte. */
    char header[256];
    int n = snprintf(header + MAGIC_LEN + 4, sizeof header - MAGIC_LEN - 4,
                     "{'descr': '<f4', 'fortran_order': False, 'shape': (%s%s), }%*s", dims, rank == 1 ? "," : "",
                     GROWTH_AXIS_MAX_DIGITS - snprintf(NULL, 0, "%d", shape[0]), "");
    size_t hlen = (size_t)n + 1;  /* + the final newline */
    size_t pad = ARRAY_ALIGN - (MAGIC_LEN + 4 + hlen) % ARRAY_ALIGN;
    size_t total = MAGIC_LEN + 4 + hlen + pad;
    if (total > sizeof header)
        return cc_fail(err, CC_EINVAL, "%s: the .npy header would be %zu bytes", path, total);  /* cannot happen */
    memcpy(header, magic, MAGIC_LEN);
    header[6] = 1;
    header[7] = 0;
    header[8] = (char)((hlen + pad) & 0xFF);
    header[9] = (char)((hlen + pad) >> 8);
    memset(header + MAGIC_LEN + 4 + n, ' ', pad);
    header[total - 1] = '\n';

    cc_atomic_file f;
    cc_status st = cc_atomic_open(&f, path, err);
    if (st)
        return st;
    int ok = fwrite(header, 1, total, f.fp) == total;
    unsigned char buf[CHUNK * 4];
    for (size_t i = 0; ok && i < numel; i += CHUNK) {
        size_t m = numel - i < CHUNK ? numel - i : CHUNK;
        for (size_t k = 0; k < m; k++) {
            uint32_t u;
            memcpy(&u, &data[i + k], 4);
            for (int b = 0; b < 4; b++)
                buf[4 * k + (size_t)b] = (unsigned char)(u >> (8 * b));
        }
        ok = fwrite(buf, 1, 4 * m, f.fp) == 4 * m;
    }
    if (!ok) {
        int e = errno;
        cc_atomic_abort(&f);
        return cc_fail(err, CC_EIO, "cannot write '%s': %s", path, strerror(e));
    }
    return cc_atomic_commit(&f, err);
}

/* ---- the header dict ---- */

typedef struct {
    const char *p, *end;
    const char *path;
    cc_error *err;
} cursor;

static void skip_space(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

/* Fails with "<path>: .npy header: <what>, at header byte <offset>; the header is: <it, padding trimmed>". */
static cc_status bad(cursor *c, const char *head, const char *what)
{
    int shown = (int)(c->end - head);
    while (shown > 0 && isspace((unsigned char)head[shown - 1]))
        shown--;
    return cc_fail(c->err, CC_EFORMAT, "%s: .npy header: %s, at header byte %td; the header is: %.*s", c->path,
                   what, c->p - head, shown < 200 ? shown : 200, head);
}

static int expect(cursor *c, char ch)
{
    skip_space(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted string of at most size-1 characters, without escapes. */
static int string(cursor *c, char *out, size_t size)
{
    skip_space(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return 0;
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || n + 1 >= size)
            return 0;
        out[n++] = *c->p++;
    }
    if (c->p >= c->end)
        return 0;
    c->p++;
    out[n] = '\0';
    return 1;
}

static int word(cursor *c, const char *w)
{
    size_t n = strlen(w);
    skip_space(c);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n))
        return 0;
    const char *after = c->p + n;
    if (after < c->end && (isalnum((unsigned char)*after) || *after == '_'))
        return 0;
    c->p = after;
    return 1;
}

/* A non-negative decimal int as Python writes it: no sign, no leading zeros.
 * Values past INT_MAX saturate there + 1, for the caller's range message. */
static int integer(cursor *c, long long *v)
{
    skip_space(c);
    const char *s = c->p;
    long long x = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        x = x * 10 + (*c->p++ - '0');
        if (x > INT_MAX)
            x = (long long)INT_MAX + 1;
    }
    if (c->p == s || (*s == '0' && c->p - s > 1))
        return 0;
    *v = x;
    return 1;
}

typedef struct {
    int itemsize;  /* 4: '<f4', 8: '<f8' */
    int rank;
    long long dims[CC_MAX_RANK];
} npy_header;

static cc_status parse_shape(cursor *c, const char *head, npy_header *h)
{
    if (!expect(c, '('))
        return bad(c, head, "'shape' must be a tuple such as (2, 3) or (5,)");
    h->rank = 0;
    int trailing_comma = 0;
    while (!expect(c, ')')) {
        long long v;
        if (h->rank == CC_MAX_RANK) {
            char what[96];
            snprintf(what, sizeof what, "the shape has more than %d dimensions; rank 1..%d is supported", CC_MAX_RANK,
                     CC_MAX_RANK);
            return bad(c, head, what);
        }
        if (!integer(c, &v))
            return bad(c, head, "a dimension of 'shape' is not a non-negative integer");
        if (v < 1)
            return bad(c, head, "a dimension of 'shape' is 0; empty arrays are not supported");
        if (v > INT_MAX)
            return bad(c, head, "a dimension of 'shape' is larger than 2147483647");
        h->dims[h->rank++] = v;
        trailing_comma = expect(c, ',');
        if (!trailing_comma && !expect(c, ')'))
            return bad(c, head, "expected ',' or ')' in 'shape'");
        if (!trailing_comma)
            break;
    }
    if (h->rank == 0) {
        char what[96];
        snprintf(what, sizeof what, "the shape is () (a scalar); rank 1..%d is supported", CC_MAX_RANK);
        return bad(c, head, what);
    }
    if (h->rank == 1 && !trailing_comma)
        return bad(c, head, "'shape' (n) is an integer in Python, not a tuple; numpy writes (n,)");
    return CC_OK;
}

static cc_status parse_header(const char *head, size_t len, const char *path, npy_header *h, cc_error *err)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)head[i] >= 0x7F ||
            ((unsigned char)head[i] < 0x20 && head[i] != '\t' && head[i] != '\r' && head[i] != '\n'))
            return cc_fail(err, CC_EFORMAT, "%s: .npy header byte %zu is 0x%02X, not printable ASCII", path, i,
                           (unsigned char)head[i]);
    cursor c = {head, head + len, path, err};
    int seen_descr = 0, seen_order = 0, seen_shape = 0;
    if (!expect(&c, '{'))
        return bad(&c, head, "expected '{' (the header is a Python dict)");
    while (!expect(&c, '}')) {
        char key[32], descr[32];
        if (!string(&c, key, sizeof key))
            return bad(&c, head, "expected a quoted key");
        if (!expect(&c, ':'))
            return bad(&c, head, "expected ':' after a key");
        if (!strcmp(key, "descr") && !seen_descr++) {
            if (!string(&c, descr, sizeof descr))
                return bad(&c, head, "'descr' must be a string such as '<f4'; structured dtypes are not supported");
            if (!strcmp(descr, "<f4"))
                h->itemsize = 4;
            else if (!strcmp(descr, "<f8"))
                h->itemsize = 8;
            else
                return cc_fail(err, CC_EFORMAT,
                               "%s: the array's dtype is '%s'; only little-endian float32 '<f4' (and float64 "
                               "'<f8') are read: save it with numpy.save(path, a.astype('<f4'))",
                               path, descr);
        } else if (!strcmp(key, "fortran_order") && !seen_order++) {
            if (word(&c, "True"))
                return cc_fail(err, CC_EFORMAT,
                               "%s: the array is stored in Fortran (column-major) order; save "
                               "numpy.ascontiguousarray(a) instead",
                               path);
            if (!word(&c, "False"))
                return bad(&c, head, "'fortran_order' must be True or False");
        } else if (!strcmp(key, "shape") && !seen_shape++) {
            cc_status st = parse_shape(&c, head, h);
            if (st)
                return st;
        } else {
            char what[96];
            snprintf(what, sizeof what, "key '%s' is %s", key,
                     strcmp(key, "descr") && strcmp(key, "fortran_order") && strcmp(key, "shape")
                         ? "not one numpy writes (descr, fortran_order, shape)"
                         : "given twice");
            return bad(&c, head, what);
        }
        if (!expect(&c, ',')) {
            if (!expect(&c, '}'))
                return bad(&c, head, "expected ',' or '}' after a value");
            break;
        }
    }
    if (!seen_descr || !seen_order || !seen_shape)
        return bad(&c, head, !seen_descr ? "the key 'descr' is missing"
                             : !seen_order ? "the key 'fortran_order' is missing"
                                           : "the key 'shape' is missing");
    skip_space(&c);
    if (c.p != c.end)
        return bad(&c, head, "unexpected text after the dict's '}'");
    return CC_OK;
}

/* ---- reading ---- */

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* numel little-endian elements of itemsize bytes at src into out as floats. */
static cc_status convert_elements(const unsigned char *src, float *out, size_t numel, int itemsize,
                                  const char *name, cc_error *err)
{
    for (size_t i = 0; i < numel; i++) {
        if (itemsize == 4) {
            uint32_t u = le32(src + 4 * i);
            memcpy(&out[i], &u, 4);
            continue;
        }
        uint64_t u = le32(src + 8 * i) | (uint64_t)le32(src + 8 * i + 4) << 32;
        double d;
        memcpy(&d, &u, 8);
        if (isfinite(d) && fabs(d) > FLT_MAX)
            return cc_fail(err, CC_EFORMAT, "%s: element %zu is %g, beyond the range of float (%g)", name, i, d,
                           (double)FLT_MAX);
        out[i] = (float)d;
    }
    return CC_OK;
}

cc_status cc_npy_decode(const void *data, size_t size, const char *name, float **data_out, int *shape, int *rank,
                        cc_error *err)
{
    if (!data_out || !shape || !rank)
        return cc_fail(err, CC_EINVAL, "cc_npy_decode: data_out, shape and rank must not be NULL");
    *data_out = NULL;
    *rank = 0;
    if (!name)
        name = "array";
    if (!data && size)
        return cc_fail(err, CC_EINVAL, "%s: cc_npy_decode got %zu bytes at NULL", name, size);
    const unsigned char *pre = data;
    unsigned long long file_size = size;
    if (file_size < 10)
        return cc_fail(err, CC_EFORMAT, "%s: %llu bytes is too short for a .npy file (the fixed part is 10)", name,
                       file_size);
    if (memcmp(pre, magic, MAGIC_LEN))
        return cc_fail(err, CC_EFORMAT, "%s: not a .npy file: it does not start with \\x93NUMPY", name);
    if (pre[6] < 1 || pre[6] > 3 || pre[7] != 0)
        return cc_fail(err, CC_EFORMAT, "%s: .npy format version %d.%d; versions 1.0, 2.0 and 3.0 are read", name,
                       pre[6], pre[7]);
    unsigned long long prefix = pre[6] == 1 ? 10 : 12, hlen;
    if (pre[6] == 1) {
        hlen = pre[8] | (unsigned)pre[9] << 8;
    } else {
        if (file_size < 12)
            return cc_fail(err, CC_EFORMAT, "%s: %llu bytes is too short for a version %d .npy file", name,
                           file_size, pre[6]);
        hlen = le32(pre + 8);
    }
    if (hlen > MAX_HEADER)
        return cc_fail(err, CC_EFORMAT, "%s: the .npy header is %llu bytes, more than the %d numpy.load accepts",
                       name, hlen, MAX_HEADER);
    if (prefix + hlen > file_size)
        return cc_fail(err, CC_EFORMAT, "%s: the .npy header claims %llu bytes, past the end of the file (%llu bytes)",
                       name, hlen, file_size);
    npy_header h = {0, 0, {0}};
    cc_status st = parse_header((const char *)pre + prefix, hlen, name, &h, err);
    if (st)
        return st;
    size_t numel = 1;
    for (int i = 0; i < h.rank; i++) {
        if ((unsigned long long)h.dims[i] > CC_MAX_NUMEL / numel)
            return cc_fail(err, CC_EFORMAT, "%s: the array has more than %zu elements, the limit of one tensor",
                           name, (size_t)CC_MAX_NUMEL);
        numel *= (size_t)h.dims[i];
    }
    unsigned long long want = prefix + hlen + (unsigned long long)numel * (unsigned)h.itemsize;
    if (want != file_size)
        return cc_fail(err, CC_EFORMAT,
                       "%s: a %s array of %zu elements needs a file of %llu bytes, but it has %llu (%s)", name,
                       h.itemsize == 4 ? "float32" : "float64", numel, want, file_size,
                       want > file_size ? "truncated" : "trailing bytes after the data");
    float *out = malloc(numel * sizeof *out);
    if (!out)
        return cc_fail(err, CC_ENOMEM, "%s: out of memory for %zu floats", name, numel);
    if ((st = convert_elements(pre + prefix + hlen, out, numel, h.itemsize, name, err))) {
        free(out);
        return st;
    }
    for (int i = 0; i < h.rank; i++)
        shape[i] = (int)h.dims[i];
    *rank = h.rank;
    *data_out = out;
    return CC_OK;
}

cc_status cc_npy_read(const char *path, float **data, int *shape, int *rank, cc_error *err)
{
    if (!data || !shape || !rank)
        return cc_fail(err, CC_EINVAL, "cc_npy_read: data, shape and rank must not be NULL");
    *data = NULL;
    *rank = 0;
    if (!path || !*path)
        return cc_fail(err, CC_EINVAL, "no .npy path given");
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return cc_fail(err, CC_EIO, "cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    unsigned char *bytes = NULL;
    size_t n = 0;
    cc_status st;
    if (fstat(fileno(fp), &sb))
        st = cc_fail(err, CC_EIO, "cannot stat '%s': %s", path, strerror(errno));
    else if (!S_ISREG(sb.st_mode))
        st = cc_fail(err, CC_EIO, "'%s' is %s, not a .npy file", path,
                     S_ISDIR(sb.st_mode) ? "a directory" : "not a regular file");
    else if ((off_t)(n = (size_t)sb.st_size) != sb.st_size || !(bytes = malloc(n ? n : 1)))
        st = cc_fail(err, CC_ENOMEM, "%s: out of memory for the file's %llu bytes", path,
                     (unsigned long long)sb.st_size);
    else if (fread(bytes, 1, n, fp) != n)
        st = ferror(fp) ? cc_fail(err, CC_EIO, "cannot read '%s': %s", path, strerror(errno))
                        : cc_fail(err, CC_EIO, "'%s' shrank while it was being read", path);
    else
        st = cc_npy_decode(bytes, n, path, data, shape, rank, err);
    free(bytes);
    fclose(fp);
    return st;
}
