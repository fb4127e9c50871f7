/* layers/op.c — attributes shared by every op, and unary shape inference. */
#include "op.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

cc_attrs cc_attrs_default(void)
{
    cc_attrs a = {
        .kernel = {1, 1}, .stride = {1, 1}, .pad = {0, 0, 0, 0}, .dilation = {1, 1},
        .groups = 1, .ceil_mode = 0, .count_include_pad = 1, .output_size = {1, 1},
        .start_dim = 1, .axis = 1, .start = 0, .end = 1, .step = 1, .scale_factor = {0, 0},
        .align_corners = 0, .recompute_scale_factor = 0, .eps = 1e-5, .negative_slope = 0.01, .alpha = 1.0,
    };
    return a;
}

/* Attribute values arrive as doubles (a file's numbers); integers must be exact. */
static cc_status set_ints(int *dst, int want, const char *key, const double *v, int n,
                          double lo, cc_error *err)
{
    if (n != 1 && n != want)
        return cc_fail(err, CC_EFORMAT, "attribute '%s' has %d values; expected 1 or %d", key, n, want);
    for (int i = 0; i < want; i++) {
        double x = v[n == 1 ? 0 : i];
        if (!(x == floor(x)) || x < lo || x > 1e6)
            return cc_fail(err, CC_EFORMAT, "attribute '%s' value %g is not an integer in [%g, 1000000]",
                           key, x, lo);
        dst[i] = (int)x;
    }
    return CC_OK;
}

/* A list of up to max integers in [lo, 1000000] (perm, shape, shifts, dims,
 * pads), its length in *count: each op checks the length against its input's rank. */
static cc_status set_list(int *dst, int *count, int max, double lo, const char *key, const double *v,
                          int n, cc_error *err)
{
    if (n > max)
        return cc_fail(err, CC_EFORMAT, "attribute '%s' has %d values; at most %d", key, n, max);
    for (int i = 0; i < n; i++)
        if (!(v[i] == floor(v[i])) || v[i] < lo || v[i] > 1e6)
            return cc_fail(err, CC_EFORMAT, "attribute '%s' value %g is not an integer in [%g, 1000000]",
                           key, v[i], lo);
    for (int i = 0; i < n; i++)
        dst[i] = (int)v[i];
    *count = n;
    return CC_OK;
}

/* A slope or scale (leaky_relu, elu): any one finite number, as PyTorch
 * takes it, bounded so that a corrupt file cannot ask for overflow. */
static cc_status set_real(double *dst, const char *key, const double *v, int n, cc_error *err)
{
    if (n != 1 || !(fabs(v[0]) <= 1e6))
        return cc_fail(err, CC_EFORMAT, "attribute '%s' must be one number in [-1000000, 1000000], got %g%s",
                       key, v[0], n != 1 ? " and more" : "");
    *dst = v[0];
    return CC_OK;
}

cc_status cc_attrs_set(cc_attrs *a, const char *key, const double *v, int n, cc_error *err)
{
    if (n < 1)
        return cc_fail(err, CC_EFORMAT, "attribute '%s' has no value", key);
    if (!strcmp(key, "kernel_size"))
        return set_ints(a->kernel, 2, key, v, n, 1, err);
    if (!strcmp(key, "stride"))
        return set_ints(a->stride, 2, key, v, n, 1, err);
    if (!strcmp(key, "dilation"))
        return set_ints(a->dilation, 2, key, v, n, 1, err);
    if (!strcmp(key, "padding")) {
        /* PyTorch's (PH, PW), or explicit (top, left, bottom, right). */
        if (n == 4)
            return set_ints(a->pad, 4, key, v, n, 0, err);
        int hw[2];
        cc_status st = set_ints(hw, 2, key, v, n, 0, err);
        if (st)
            return st;
        a->pad[0] = a->pad[2] = hw[0];
        a->pad[1] = a->pad[3] = hw[1];
        return CC_OK;
    }
    if (!strcmp(key, "groups"))
        return set_ints(&a->groups, 1, key, v, n, 1, err);
    if (!strcmp(key, "ceil_mode"))
        return set_ints(&a->ceil_mode, 1, key, v, n, 0, err);
    if (!strcmp(key, "count_include_pad"))
        return set_ints(&a->count_include_pad, 1, key, v, n, 0, err);
    if (!strcmp(key, "output_size"))
        return set_ints(a->output_size, 2, key, v, n, 1, err);
    if (!strcmp(key, "start_dim"))
        return set_ints(&a->start_dim, 1, key, v, n, 0, err);
    if (!strcmp(key, "axis"))
        return set_ints(&a->axis, 1, key, v, n, 0, err);
    if (!strcmp(key, "start"))
        return set_ints(&a->start, 1, key, v, n, 0, err);
    if (!strcmp(key, "end"))
        return set_ints(&a->end, 1, key, v, n, 1, err);
    if (!strcmp(key, "step"))
        return set_ints(&a->step, 1, key, v, n, 1, err);
    if (!strcmp(key, "perm"))
        return set_list(a->perm, &a->nperm, CC_MAX_RANK, 0, key, v, n, err);
    if (!strcmp(key, "shape"))
        return set_list(a->shape, &a->nshape, CC_MAX_RANK, 1, key, v, n, err);
    if (!strcmp(key, "shifts"))
        return set_list(a->shifts, &a->nshifts, CC_MAX_RANK, -1e6, key, v, n, err);
    if (!strcmp(key, "dims")) {
        int nd;
        cc_status st = set_list(a->dims, &nd, CC_MAX_RANK, 1, key, v, n, err);
        if (!st && nd != a->nshifts)
            return cc_fail(err, CC_EFORMAT, "attribute 'dims' has %d values and 'shifts' %d; "
                           "roll needs one shift per dimension (set shifts first)", nd, a->nshifts);
        return st;
    }
    if (!strcmp(key, "pads"))
        return set_list(a->pads, &a->npads, 2 * CC_MAX_RANK, 0, key, v, n, err);
    if (!strcmp(key, "trans_b"))
        return set_ints(&a->trans_b, 1, key, v, n, 0, err);
    if (!strcmp(key, "align_corners"))
        return set_ints(&a->align_corners, 1, key, v, n, 0, err);
    if (!strcmp(key, "recompute_scale_factor"))
        return set_ints(&a->recompute_scale_factor, 1, key, v, n, 0, err);
    if (!strcmp(key, "scale_factor")) {
        /* PyTorch takes any positive factor; bounded so out = in * factor stays an int. */
        if (n != 1 && n != 2)
            return cc_fail(err, CC_EFORMAT, "attribute 'scale_factor' has %d values; expected 1 or 2", n);
        for (int i = 0; i < 2; i++) {
            const double x = v[n == 1 ? 0 : i];
            if (!(x > 0 && x <= 1e4))
                return cc_fail(err, CC_EFORMAT, "attribute 'scale_factor' value %g is not in (0, 10000]", x);
            a->scale_factor[i] = x;
        }
        return CC_OK;
    }
    if (!strcmp(key, "eps")) {
        if (n != 1 || !(v[0] > 0 && v[0] < 1))
            return cc_fail(err, CC_EFORMAT, "attribute 'eps' must be one number in (0, 1), got %g", v[0]);
        a->eps = v[0];
        return CC_OK;
    }
    if (!strcmp(key, "negative_slope"))
        return set_real(&a->negative_slope, key, v, n, err);
    if (!strcmp(key, "alpha"))
        return set_real(&a->alpha, key, v, n, err);
    return cc_fail(err, CC_EFORMAT, "unknown attribute '%s'", key);
}

cc_status cc_infer_unary(const cc_attrs *a, const cc_shape *in, int nin, const cc_shape *param,
                         const int *has_param, cc_shape *out, cc_error *err)
{
    (void)a, (void)nin, (void)param, (void)has_param, (void)err;
    *out = in[0];
    return CC_OK;
}
