/* layers/softmax.c — y[r,c] = exp(x[r,c] - m[r]) / sum_k exp(x[r,k] - m[r]),
 * m[r] = max_k x[r,k]   (F.softmax(x, -1): along the LAST dim of any rank
 * >= 2, each index r of the leading dims a row: N x classes, attention scores
 * B x heads x N x N)
 * dx[r,c] = y[r,c] (dy[r,c] - sum_k dy[r,k] y[r,k]): exact from the output,
 * so the backward reads the output only, as PyTorch's softmax_backward does.
 * Subtracting the row maximum keeps every exp in (0, 1]: no overflow for
 * any finite logits. A NaN anywhere in a row makes the whole row NaN (its sum
 * is NaN), as in PyTorch.
 *
 * Accuracy and speed: ViT-B computes 12 x 12 x 197 x 197 = 5.6M exps per
 * image, so the exps are cc_exp_real's (exp_real.h: a vectorised float exp
 * within 2 ulp in the float build, libm's exp in the double build) and each
 * is computed once, into y, then scaled by 1 / sum; the row sum, its
 * reciprocal and the scaling are in double. A float y is then within ~3 ulp
 * of the exact softmax (the parity fixtures' tolerance is 1e-4 relative);
 * the double build is exact as before (x - m is corrected for its rounding
 * in both: cc_row_exp). The maximum is taken on integer keys and the sum
 * runs in 8 lanes, so both vectorise in a fixed order: every thread count
 * and CPU gives the same floats.
 * Rows are independent: they are split over the pool. */
#include "kernels.h"
#include "exp_real.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

enum { LANES = 8 };

/* The row's largest value, found on integer keys: a float's bits b, with
 * b ^ (b >> 31 & INT32_MAX) for negative ones, order as the values do
 * (-0 just below +0), and an integer maximum vectorises where a float one
 * may not (NaN makes it order-dependent). A NaN x has a key above or below
 * every number: either way its row is NaN (exp(NaN - m) or x - NaN). */
#ifdef CC_REAL_DOUBLE
typedef int64_t key;
#define KEY_MIN INT64_MIN
#define KEY_MAX INT64_MAX
#define KEY_SHIFT 63
#else
typedef int32_t key;
#define KEY_MIN INT32_MIN
#define KEY_MAX INT32_MAX
#define KEY_SHIFT 31
#endif

CC_VECTORISED static cc_real row_max(const cc_real *x, int C)
{
    key best = KEY_MIN;
    for (int c = 0; c < C; c++) {
        key b;
        memcpy(&b, &x[c], sizeof b);
        const key k = b ^ ((b >> KEY_SHIFT) & KEY_MAX);
        best = k > best ? k : best;
    }
    best ^= (best >> KEY_SHIFT) & KEY_MAX;
    cc_real m;
    memcpy(&m, &best, sizeof m);
    return m;
}

/* Below this, exp(x - m) is taken as 0: float's cc_exp_real clamps there
 * (it would give 1.2e-38 for exp(-inf)); double's exp underflows anyway. */
#ifdef CC_REAL_DOUBLE
#define UNDERFLOW (-746.0)
#else
#define UNDERFLOW (-87.3f)
#endif

/* d = x - m rounds (by up to 2^-24 |d|, which exp turns into a relative
 * error of 2^-24 |d|: 1e-6 at d = -20); TwoSum gives the rounding error
 * r exactly, and exp(d + r) = exp(d) (1 + r) to within r^2. A NaN x gives
 * NaN, an x of -inf gives 0, as exp(x - m) does. */
CC_VECTORISED double cc_row_exp(cc_real *e, const cc_real *x, int C, cc_real *max)
{
    const cc_real m = row_max(x, C);
    for (int c = 0; c < C; c++) {
        const cc_real d = x[c] - m, bv = d - x[c], av = d - bv;
        const cc_real r = (x[c] - av) - (m + bv);
        const cc_real p = cc_exp_real(d);
        e[c] = d < UNDERFLOW ? 0 : p + p * r;
    }
    double s[LANES] = {0};
    int c = 0;
    for (; c + LANES <= C; c += LANES)
        for (int j = 0; j < LANES; j++)
            s[j] += e[c + j];
    for (; c < C; c++)
        s[0] += e[c];
    double sum = 0;
    for (int j = 0; j < LANES; j++)
        sum += s[j];
    *max = m;
    return sum;
}

typedef struct {
    cc_softmax_row_fn fn;
    cc_real *out;
    const cc_real *a, *b;
    int C;
} rows;

static void rows_range(void *arg, size_t lo, size_t hi)
{
    const rows *p = arg;
    const size_t C = (size_t)p->C;
    for (size_t n = lo; n < hi; n++)
        p->fn(p->out + n * C, p->a + n * C, p->b ? p->b + n * C : NULL, p->C);
}

/* Rows are independent: about 4096 elements per range of the pool. */
void cc_softmax_each_row(cc_softmax_row_fn fn, cc_real *out, const cc_real *a, const cc_real *b, int N, int C)
{
    rows p = {fn, out, a, b, C};
    cc_parallel((size_t)N, cc_grain((size_t)C, 4096), rows_range, &p);
}

/* y = e / sum, e the row's exps. */
CC_VECTORISED static void forward_row(cc_real *y, const cc_real *x, const cc_real *unused, int C)
{
    (void)unused;
    cc_real m;
    const double inv = 1.0 / cc_row_exp(y, x, C, &m);
    for (int c = 0; c < C; c++)
        y[c] = (cc_real)(y[c] * inv);
}

/* dinp += y (dy - dy . y), d/dx of exp(x - m) / sum. */
CC_VECTORISED static void backward_row(cc_real *dinp, const cc_real *dy, const cc_real *y, int C)
{
    double dot = 0;
    for (int c = 0; c < C; c++)
        dot += (double)dy[c] * y[c];
    for (int c = 0; c < C; c++)
        dinp[c] += (cc_real)(y[c] * ((double)dy[c] - dot));
}

void cc_softmax_forward(cc_real *out, const cc_real *inp, int N, int C)
{
    cc_softmax_each_row(forward_row, out, inp, NULL, N, C);
}

void cc_softmax_backward(cc_real *dinp, const cc_real *dout, const cc_real *out, int N, int C)
{
    cc_softmax_each_row(backward_row, dinp, dout, out, N, C);
}

/* Softmax and log_softmax normalise along the last dim (attribute axis, which
 * the converter stores normalised: rank - 1) of a rank >= 2 input. */
cc_status cc_infer_softmax(const cc_attrs *a, const cc_shape *in, int nin, const cc_shape *param,
                           const int *has_param, cc_shape *out, cc_error *err)
{
    (void)nin, (void)param, (void)has_param;
    char buf[64];
    if (in[0].rank < 2)
        return cc_fail(err, CC_EINVAL, "softmax and log_softmax take an input of rank 2 to %d (batch first), "
                       "got %s (rank %d)", CC_MAX_RANK, cc_shape_str(&in[0], buf, sizeof buf), in[0].rank);
    if (a->axis != in[0].rank - 1)
        return cc_fail(err, CC_EINVAL, "softmax and log_softmax normalise along the last dim (axis %d of "
                       "the input %s), not axis %d", in[0].rank - 1, cc_shape_str(&in[0], buf, sizeof buf),
                       a->axis);
    *out = in[0];
    return CC_OK;
}

/* The descriptors' adapters (softmax and log_softmax): rows from the output
 * shape (C its last dim); the backward reads the output. */
void cc_softmax_op_forward(const cc_op_args *a, cc_softmax_row_fn forward_fn)
{
    const int C = a->out_shape.d[a->out_shape.rank - 1];
    cc_softmax_each_row(forward_fn, a->out, a->in[0], NULL, (int)(cc_shape_numel(&a->out_shape) / (size_t)C), C);
}

void cc_softmax_op_backward(const cc_op_args *a, cc_softmax_row_fn backward_fn)
{
    const int C = a->out_shape.d[a->out_shape.rank - 1];
    if (a->din[0])
        cc_softmax_each_row(backward_fn, a->din[0], a->dout, a->out, (int)(cc_shape_numel(&a->out_shape) / (size_t)C),
                            C);
}

static void forward(const cc_op_args *a)
{
    cc_softmax_op_forward(a, forward_row);
}

static void backward(const cc_op_args *a)
{
    cc_softmax_op_backward(a, backward_row);
}

const cc_op cc_op_softmax = {
    .name = "softmax", .min_inputs = 1, .max_inputs = 1,
    .saves_for_dinput = CC_SAVES_OUTPUT,
    .infer = cc_infer_softmax, .forward = forward, .backward = backward,
};
