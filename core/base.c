/* core/base.c — error formatting and shape helpers; see base.h. */
#include "core/base.h"

#include <stdarg.h>
#include <stdio.h>

cc_status cc_fail(cc_error *err, cc_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return status;
}

cc_shape cc_shape4(int n, int c, int h, int w)
{
    cc_shape s = {4, {n, c, h, w}};
    return s;
}

cc_shape cc_shape2(int n, int f)
{
    cc_shape s = {2, {n, f, 0, 0}};
    return s;
}

size_t cc_shape_numel(const cc_shape *s)
{
    size_t n = 1;
    for (int i = 0; i < s->rank; i++)
        n *= (size_t)s->d[i];
    return n;
}

int cc_shape_equal(const cc_shape *a, const cc_shape *b)
{
    if (a->rank != b->rank)
        return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->d[i] != b->d[i])
            return 0;
    return 1;
}

const char *cc_shape_str(const cc_shape *s, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < s->rank && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, i ? "x%d" : "%d", s->d[i]);
    return buf;
}
