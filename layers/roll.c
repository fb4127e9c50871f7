/* layers/roll.c — torch.roll(x, shifts, dims) with every dim >= 1 (Swin's
 * cyclic shift of its shifted windows, and back).
 *
 *   out[..., i_d, ...] = inp[..., (i_d - shift_d) mod n_d, ...]   for each rolled dim d
 * Shifts may be negative or larger than the size; a dim listed twice rolls
 * by the sum, as torch.roll's successive rolls do. With s = shift mod n, each
 * rolled dim splits into two pieces (out [s, n) <- in [0, n - s) and out
 * [0, s) <- in [n - s, n)), so the whole roll is at most 2^dims strided block
 * copies. The backward rolls dout back: dinp += roll(dout, -shifts). */
#include "kernels.h"

/* Each dim's shift in [0, n). */
static void net_shifts(const cc_shape *s, const int *shifts, const int *dims, int nshifts, int *net)
{
    long long sum[CC_MAX_RANK] = {0};
    for (int j = 0; j < nshifts; j++)
        sum[dims[j]] += shifts[j];
    for (int k = 0; k < s->rank; k++)
        net[k] = s->d[k] ? (int)(((sum[k] % s->d[k]) + s->d[k]) % s->d[k]) : 0;
}

/* forward (dst out, src inp): out[piece] = inp[piece shifted];
 * backward (dst dinp, src dout): dinp[piece shifted] += dout[piece]. */
static void roll_copy(cc_real *dst, const cc_real *src, const cc_shape *s, const int *shifts,
                      const int *dims, int nshifts, int backward)
{
    int net[CC_MAX_RANK], rolled[CC_MAX_RANK], nr = 0;
    net_shifts(s, shifts, dims, nshifts, net);
    for (int k = 0; k < s->rank; k++)
        if (net[k])
            rolled[nr++] = k;
    size_t stride[CC_MAX_RANK];
    cc_shape_strides(s, stride);
    for (unsigned piece = 0; piece < 1u << nr; piece++) {
        cc_view v = {s->rank, {0}, {0}, {0}};
        size_t out_off = 0, in_off = 0;
        for (int k = 0; k < s->rank; k++)
            v.n[k] = s->d[k], v.dst[k] = v.src[k] = stride[k];
        for (int j = 0; j < nr; j++) {
            const int k = rolled[j], n = s->d[k], sh = net[k];
            if (piece >> j & 1)  /* out [0, sh) <- in [n - sh, n) */
                v.n[k] = sh, in_off += (size_t)(n - sh) * stride[k];
            else                 /* out [sh, n) <- in [0, n - sh) */
                v.n[k] = n - sh, out_off += (size_t)sh * stride[k];
        }
        if (backward)
            cc_view_copy(dst + in_off, src + out_off, &v, 1);
        else
            cc_view_copy(dst + out_off, src + in_off, &v, 0);
    }
}

void cc_roll_forward(cc_real *out, const cc_real *inp, const cc_shape *s, const int *shifts, const int *dims,
                     int nshifts)
{
    roll_copy(out, inp, s, shifts, dims, nshifts, 0);
}

void cc_roll_backward(cc_real *dinp, const cc_real *dout, const cc_shape *s, const int *shifts,
                      const int *dims, int nshifts)
{
    roll_copy(dinp, dout, s, shifts, dims, nshifts, 1);
}

static cc_status infer(const cc_attrs *a, const cc_shape *in, int nin, const cc_shape *param,
                       const int *has_param, cc_shape *out, cc_error *err)
{
    (void)nin, (void)param, (void)has_param;
    char buf[96];
    const cc_shape *x = &in[0];
    if (a->nshifts < 1)
        return cc_fail(err, CC_EINVAL, "roll needs shifts and dims (one shift per dim), got none for %s",
                       cc_shape_str(x, buf, sizeof buf));
    for (int j = 0; j < a->nshifts; j++)
        if (a->dims[j] < 1 || a->dims[j] >= x->rank)
            return cc_fail(err, CC_EINVAL, "roll dims[%d]=%d of %s must be in 1..%d (dim 0, the batch, stays)",
                           j, a->dims[j], cc_shape_str(x, buf, sizeof buf), x->rank - 1);
    *out = *x;
    return CC_OK;
}

static void forward(const cc_op_args *a)
{
    cc_roll_forward(a->out, a->in[0], &a->in_shape[0], a->attrs->shifts, a->attrs->dims, a->attrs->nshifts);
}

static void backward(const cc_op_args *a)
{
    if (a->din[0])
        cc_roll_backward(a->din[0], a->dout, &a->in_shape[0], a->attrs->shifts, a->attrs->dims,
                         a->attrs->nshifts);
}

const cc_op cc_op_roll = {
    .name = "roll", .min_inputs = 1, .max_inputs = 1,
    .saves_for_dinput = 0,
    .infer = infer, .forward = forward, .backward = backward,
};
