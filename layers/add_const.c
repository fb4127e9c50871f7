/* layers/add_const.c — y = x + value, value a constant of the model that
 * broadcasts against x   (ViT's class token + position embedding, Swin's
 * relative position bias [1,heads,N,N] and shifted-window mask
 * [1,nW,1,N,N] added to the scores [B,nW,heads,N,N], a folded bias)
 *
 * Broadcasting is numpy's, from the right: value's rank is at most x's, and
 * each of value's dims is 1 or equal to x's dim it lines up with; value's
 * missing leading dims count as 1. The batch is never broadcast into: a value
 * dim that lines up with x's dim 0 must be 1 (the model's constant is the same
 * for every image). A scalar is a value of shape [1] (the model format has no
 * rank 0). y[i] = x[i] + value[j(i)], j the index with broadcast dims set to 0.
 * value is a buffer parameter (never differentiated), so the backward is
 *   dx += dy.
 * Shape rules, the broadcast walk (cc_bcast_plan, cc_bcast_apply) and the
 * forward adapter (cc_const_infer, cc_const_forward) are shared with
 * mul_const.c.
 *
 * The walk: x's dims of size 1 are dropped and neighbours that both broadcast
 * value or both index it are merged, so the common cases are one or two
 * loops: value equal to x but for leading 1s (a position embedding) is one
 * contiguous add per image, a channel constant [C,1,1] on NCHW (ConvNeXt's
 * layer scale) is one scalar per plane, a scalar is one loop, Swin's mask is
 * contiguous N*N runs. The elements are split over the pool in ranges. */
#include "kernels.h"

cc_status cc_const_infer(const char *op, const cc_shape *x, const cc_shape *v, int has_value, cc_shape *out,
                         cc_error *err)
{
    char xs[64], vs[64];
    if (!has_value)
        return cc_fail(err, CC_EINVAL, "%s needs its parameter 'value'", op);
    if (x->rank < 1 || v->rank < 1 || v->rank > x->rank)
        return cc_fail(err, CC_EINVAL, "%s value %s has rank %d; it must have rank 1 to %d (the input %s's) "
                       "to broadcast against it", op, cc_shape_str(v, vs, sizeof vs), v->rank, x->rank,
                       cc_shape_str(x, xs, sizeof xs));
    const int off = x->rank - v->rank;
    for (int i = 0; i < v->rank; i++) {
        const int xd = x->d[off + i], vd = v->d[i];
        if (vd != 1 && vd != xd)
            return cc_fail(err, CC_EINVAL, "%s value %s does not broadcast against the input %s: its dim %d is "
                           "%d, the input's %d (each must be 1 or equal, aligned from the right)", op,
                           cc_shape_str(v, vs, sizeof vs), cc_shape_str(x, xs, sizeof xs), i, vd, xd);
        if (off + i == 0 && vd != 1)
            return cc_fail(err, CC_EINVAL, "%s value %s lines up with the batch dim of the input %s and is %d "
                           "there; it must be 1 (a constant is the same for every image)", op,
                           cc_shape_str(v, vs, sizeof vs), cc_shape_str(x, xs, sizeof xs), vd);
    }
    *out = *x;
    return CC_OK;
}

void cc_bcast_plan(cc_bcast *p, const cc_shape *x, const cc_shape *v)
{
    const int off = x->rank - v->rank;
    int cls[CC_MAX_RANK];  /* per merged dim: 1 indexes value, 0 broadcasts it */
    p->rank = 0;
    for (int i = 0; i < x->rank; i++) {
        const int xd = x->d[i], vd = i < off ? 1 : v->d[i - off];
        if (xd == 1)
            continue;
        const int c = vd == xd;
        if (p->rank && cls[p->rank - 1] == c)
            p->len[p->rank - 1] *= xd;
        else
            cls[p->rank] = c, p->len[p->rank++] = xd;
    }
    if (!p->rank)  /* one element */
        cls[0] = 1, p->len[0] = 1, p->rank = 1;
    size_t stride = 1;
    for (int i = p->rank - 1; i >= 0; i--) {
        p->vstride[i] = cls[i] ? stride : 0;
        stride *= cls[i] ? (size_t)p->len[i] : 1;
    }
}

typedef struct {
    int mode;
    cc_real *out;
    const cc_real *a, *v;
    const cc_bcast *p;
} walk;

/* n elements of one run: value contiguous (step 1) or one scalar (step 0). */
CC_VECTORISED static void run(int mode, cc_real *out, const cc_real *a, const cc_real *v, size_t step, size_t n)
{
    if (step) {
        if (mode == CC_BCAST_ADD)
            for (size_t i = 0; i < n; i++)
                out[i] = a[i] + v[i];
        else if (mode == CC_BCAST_MUL)
            for (size_t i = 0; i < n; i++)
                out[i] = a[i] * v[i];
        else
            for (size_t i = 0; i < n; i++)
                out[i] += a[i] * v[i];
        return;
    }
    const cc_real s = v[0];
    if (mode == CC_BCAST_ADD)
        for (size_t i = 0; i < n; i++)
            out[i] = a[i] + s;
    else if (mode == CC_BCAST_MUL)
        for (size_t i = 0; i < n; i++)
            out[i] = a[i] * s;
    else
        for (size_t i = 0; i < n; i++)
            out[i] += a[i] * s;
}

/* Elements lo..hi-1, run by run of the innermost merged dim. */
static void walk_range(void *arg, size_t lo, size_t hi)
{
    const walk *w = arg;
    const cc_bcast *p = w->p;
    const size_t inner = (size_t)p->len[p->rank - 1], step = p->vstride[p->rank - 1];
    size_t pos = lo, row = lo / inner, col = lo % inner;
    while (pos < hi) {
        size_t voff = 0, r = row;
        for (int j = p->rank - 2; j >= 0; j--) {
            voff += r % (size_t)p->len[j] * p->vstride[j];
            r /= (size_t)p->len[j];
        }
        const size_t n = inner - col < hi - pos ? inner - col : hi - pos;
        run(w->mode, w->out + pos, w->a + pos, w->v + voff + col * step, step, n);
        pos += n, col = 0, row++;
    }
}

void cc_bcast_apply(int mode, cc_real *out, const cc_real *a, const cc_real *value, const cc_bcast *p, size_t n)
{
    walk w = {mode, out, a, value, p};
    cc_parallel(n, CC_MAP_GRAIN, walk_range, &w);
}

void cc_const_forward(const cc_op_args *a, int mode)
{
    cc_bcast p;
    cc_bcast_plan(&p, &a->in_shape[0], &a->param_shape[0]);
    cc_bcast_apply(mode, a->out, a->in[0], a->param[0], &p, cc_shape_numel(&a->out_shape));
}

static cc_status infer(const cc_attrs *attrs, const cc_shape *in, int nin, const cc_shape *param,
                       const int *has_param, cc_shape *out, cc_error *err)
{
    (void)attrs, (void)nin;
    return cc_const_infer("add_const", &in[0], &param[0], has_param[0], out, err);
}

static void forward(const cc_op_args *a)
{
    cc_const_forward(a, CC_BCAST_ADD);
}

static void backward(const cc_op_args *a)
{
    if (a->din[0])  /* d/dx of x + value */
        cc_add_backward(a->din[0], NULL, a->dout, cc_shape_numel(&a->out_shape));
}

/* value: a buffer (the model's constant), never differentiated. */
const cc_op cc_op_add_const = {
    .name = "add_const", .min_inputs = 1, .max_inputs = 1,
    .nparams = 1, .param_names = {"value"}, .required_params = 1u, .buffer_params = 1u,
    .saves_for_dinput = 0,
    .infer = infer, .forward = forward, .backward = backward,
};
