/* tests/testutil.c — see testutil.h. */
#include "testutil.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int checks_passed, checks_failed, checks_skipped;

uint64_t tu_next(tu_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double tu_uniform(tu_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * ((double)(tu_next(r) >> 11) / 9007199254740992.0);
}

cc_shape tu_shape(const char *s)
{
    cc_shape sh = {0, {0}};
    const char *p = s;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || sh.rank == CC_MAX_RANK) {
            fprintf(stderr, "bad shape literal '%s'\n", s);
            exit(3);
        }
        sh.d[sh.rank++] = (int)v;
        p = *end == 'x' ? end + 1 : end;
    }
    return sh;
}

cc_attrs tu_attrs(const char *text)
{
    cc_attrs a = cc_attrs_default();
    char buf[256];
    cc_error err;
    snprintf(buf, sizeof buf, "%s", text ? text : "");
    for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " ")) {
        char *eq = strchr(tok, '=');
        double v[2 * CC_MAX_RANK];  /* pads: (before, after) per dimension */
        int n = 0;
        if (!eq) {
            fprintf(stderr, "bad attribute literal '%s'\n", tok);
            exit(3);
        }
        *eq = '\0';
        for (char *p = eq + 1; *p && n < 2 * CC_MAX_RANK; n++)
            v[n] = strtod(p, &p), p += *p == ',';
        if (cc_attrs_set(&a, tok, v, n, &err)) {
            fprintf(stderr, "bad attribute literal: %s\n", err.msg);
            exit(3);
        }
    }
    return a;
}

double tu_close(const char *what, const cc_real *got, const double *want, size_t n,
                double atol, double rtol)
{
    double worst = 0;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double diff = fabs((double)got[i] - want[i]);
        if (want[i] != want[i] && got[i] != got[i])
            continue;  /* NaN expected (PyTorch propagates it), NaN got */
        if (!(diff <= atol + rtol * fabs(want[i]))) {
            if (bad < 5)
                fprintf(stderr, "  %s[%zu]: expected %.9g, got %.9g (|diff| %.3g > %.3g + %.3g*|expected|)\n",
                        what, i, want[i], (double)got[i], diff, atol, rtol);
            bad++;
        }
        if (diff > worst || diff != diff)
            worst = diff;
    }
    if (bad) {
        fprintf(stderr, "FAIL %s: %d of %zu values differ\n", what, bad, n);
        checks_failed++;
    } else {
        checks_passed++;
    }
    return worst;
}

void tu_check(int ok, const char *fmt, ...)
{
    if (ok) {
        checks_passed++;
        return;
    }
    checks_failed++;
    va_list ap;
    va_start(ap, fmt);
    fputs("FAIL ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void tu_expect_error(const char *what, cc_status st, cc_status want, const cc_error *err, ...)
{
    tu_check(st == want, "%s: status %d, want %d (message: %s)", what, st, want, st ? err->msg : "none");
    va_list ap;
    va_start(ap, err);
    for (const char *w; (w = va_arg(ap, const char *));)
        tu_check(st && strstr(err->msg, w) != NULL, "%s: message lacks '%s': %s", what, w, err->msg);
    va_end(ap);
}

void tu_skip(const char *why)
{
    checks_skipped++;
    printf("SKIP %s\n", why);
}

int tu_finish(const char *name)
{
    printf("%s: %d passed, %d failed, %d skipped\n", name, checks_passed, checks_failed, checks_skipped);
    if (!checks_passed && !checks_failed)
        fprintf(stderr, "FAIL %s: no check ran\n", name);
    return checks_failed || !checks_passed ? 1 : 0;
}

tu_tolerance tu_gradcheck_tolerance(void)
{
    if (sizeof(cc_real) == sizeof(double))
        return (tu_tolerance){1e-6, 1e-5, 1e-3};
    return (tu_tolerance){1e-2, 1e-3, 1e-2};
}

void *tu_alloc(size_t bytes)
{
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "out of memory allocating %zu bytes\n", bytes);
        exit(3);
    }
    return p;
}

cc_real *tu_random_reals(size_t n, tu_rng *rng)
{
    cc_real *p = tu_alloc(n * sizeof(cc_real));
    for (size_t i = 0; i < n; i++)
        p[i] = (cc_real)tu_uniform(rng, -1, 1);
    return p;
}

cc_real *tu_filled_reals(size_t n, double v)
{
    cc_real *p = tu_alloc(n * sizeof(cc_real));
    for (size_t i = 0; i < n; i++)
        p[i] = (cc_real)v;
    return p;
}
