/* cam/target.c — target values and their gradients; see target.h. */
#include "cam/target.h"

#include <math.h>

cc_status cc_target_check(cc_target t, int n, int cls, cc_error *err)
{
    if (t == CC_TARGET_BINARY) {
        if (n != 1)
            return cc_fail(err, CC_EINVAL, "the binary target needs a model with one output; this one has %d "
                           "(use --target logit or softmax)", n);
        if (cls != 0 && cls != 1)
            return cc_fail(err, CC_EINVAL, "the binary target takes class 1 (the output) or 0 (its negation), "
                           "not %d", cls);
        return CC_OK;
    }
    if (cls < 0 || cls >= n)
        return cc_fail(err, CC_EINVAL, "class %d is out of range: the model has %d classes (0 to %d)", cls, n,
                       n - 1);
    return CC_OK;
}

void cc_softmax_double(const float *z, int n, double *p)
{
    double top = z[0], sum = 0;
    for (int j = 1; j < n; j++)
        top = z[j] > top ? z[j] : top;
    for (int j = 0; j < n; j++)
        sum += p[j] = exp(z[j] - top);
    for (int j = 0; j < n; j++)
        p[j] /= sum;
}

static double logsumexp(const float *z, int n)
{
    double top = z[0], sum = 0;
    for (int j = 1; j < n; j++)
        top = z[j] > top ? z[j] : top;
    for (int j = 0; j < n; j++)
        sum += exp(z[j] - top);
    return top + log(sum);
}

double cc_target_value(cc_target t, const float *z, int n, int cls)
{
    switch (t) {
    case CC_TARGET_SOFTMAX: {
        /* exp(z_c - logsumexp z): softmax_c without an array */
        return exp(z[cls] - logsumexp(z, n));
    }
    case CC_TARGET_REST:
        return 2.0 * z[cls] - logsumexp(z, n);
    case CC_TARGET_BINARY:
        return cls == 1 ? z[0] : -(double)z[0];
    case CC_TARGET_LOGIT:
    default:
        return z[cls];
    }
}

void cc_target_seed(cc_target t, const float *z, int n, int cls, float *dz)
{
    if (t == CC_TARGET_LOGIT || t == CC_TARGET_BINARY) {
        for (int j = 0; j < n; j++)
            dz[j] = 0;
        dz[t == CC_TARGET_BINARY ? 0 : cls] = t == CC_TARGET_BINARY && cls == 0 ? -1.0f : 1.0f;
        return;
    }
    /* softmax and ReST: from p = softmax(z), one pass, no n x n Jacobian */
    const double lse = logsumexp(z, n), pc = exp(z[cls] - lse);
    for (int j = 0; j < n; j++) {
        const double pj = exp(z[j] - lse), delta = j == cls;
        dz[j] = (float)(t == CC_TARGET_SOFTMAX ? pc * (delta - pj) : 2.0 * delta - pj);
    }
}
