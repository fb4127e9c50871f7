/* layers/mul.c — out[n,c,h,w] = scale[n,c] * x[n,c,h,w]   (squeeze-excitation: x * se(x))
 *
 * The N x C x 1 x 1 scale may be either input, as the model wrote `s * x` or
 * `x * s`; the descriptor finds it by shape. The product is bilinear, so
 *   dx[n,c,hw]  += dout[n,c,hw] * scale[n,c]
 *   dscale[n,c] += sum_hw dout[n,c,hw] * x[n,c,hw]
 * and the backward needs both inputs. */
#include "kernels.h"

typedef struct {
    cc_real *out;
    const cc_real *scale, *x;
    int HW;
} planes;

CC_VECTORISED static void forward_planes(void *arg, size_t lo, size_t hi)
{
    const planes *p = arg;
    for (size_t nc = lo; nc < hi; nc++) {
        const size_t base = nc * (size_t)p->HW;
        for (int i = 0; i < p->HW; i++)
            p->out[base + i] = p->scale[nc] * p->x[base + i];
    }
}

/* Planes are independent: split over the pool. */
void cc_mul_channel_forward(cc_real *out, const cc_real *scale, const cc_real *x, int NC, int HW)
{
    planes p = {out, scale, x, HW};
    cc_parallel((size_t)NC, cc_grain((size_t)HW, CC_MAP_GRAIN), forward_planes, &p);
}

void cc_mul_channel_backward(cc_real *dscale, cc_real *dx, const cc_real *dout,
                             const cc_real *scale, const cc_real *x, int NC, int HW)
{
    for (int nc = 0; nc < NC; nc++) {
        const size_t base = (size_t)nc * HW;
        double ds = 0;
        for (int i = 0; i < HW; i++) {
            if (dx)      /* d/dx of scale * x */
                dx[base + i] += dout[base + i] * scale[nc];
            if (dscale)  /* d/dscale of the same product */
                ds += (double)dout[base + i] * x[base + i];
        }
        if (dscale)
            dscale[nc] += (cc_real)ds;
    }
}

static int is_scale(const cc_shape *s)
{
    return s->rank == 4 && s->d[2] == 1 && s->d[3] == 1;
}

/* Which input is the scale: input 0 when it is N x C x 1 x 1 (also when both
 * are, where either reading gives the same product), else input 1. */
static int scale_index(const cc_shape *in)
{
    return is_scale(&in[0]) ? 0 : 1;
}

static cc_status infer(const cc_attrs *attrs, const cc_shape *in, int nin, const cc_shape *param,
                       const int *has_param, cc_shape *out, cc_error *err)
{
    (void)attrs, (void)param, (void)has_param;
    char a[64], b[64];
    if (nin != 2)
        return cc_fail(err, CC_EINVAL, "mul takes 2 inputs, got %d", nin);
    const int k = scale_index(in);
    const cc_shape *s = &in[k], *x = &in[1 - k];
    if (!is_scale(s) || x->rank != 4 || x->d[0] != s->d[0] || x->d[1] != s->d[1])
        return cc_fail(err, CC_EINVAL, "mul supports only a channel scale: an NxCx1x1 tensor times "
                       "an NxCxHxW one, in either order; got %s and %s",
                       cc_shape_str(&in[0], a, sizeof a), cc_shape_str(&in[1], b, sizeof b));
    *out = *x;
    return CC_OK;
}

static void forward(const cc_op_args *a)
{
    const int k = scale_index(a->in_shape);
    const cc_shape *x = &a->in_shape[1 - k];
    cc_mul_channel_forward(a->out, a->in[k], a->in[1 - k], x->d[0] * x->d[1], x->d[2] * x->d[3]);
}

static void backward(const cc_op_args *a)
{
    const int k = scale_index(a->in_shape);
    const cc_shape *x = &a->in_shape[1 - k];
    cc_mul_channel_backward(a->din[k], a->din[1 - k], a->dout, a->in[k], a->in[1 - k],
                            x->d[0] * x->d[1], x->d[2] * x->d[3]);
}

const cc_op cc_op_mul = {
    .name = "mul", .min_inputs = 2, .max_inputs = 2,
    .saves_for_dinput = CC_SAVES_INPUTS,
    .infer = infer, .forward = forward, .backward = backward,
};
