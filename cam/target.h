/* cam/target.h — what an explanation differentiates or scores, from one
 * image's output z (n values) and a class c: pytorch-grad-cam's
 *   ClassifierOutputTarget         z_c
 *   ClassifierOutputSoftmaxTarget  softmax(z)_c
 *   ClassifierOutputReST           z_c - cross_entropy(z, c) = 2 z_c - logsumexp(z)
 *   BinaryClassifierOutputTarget   z_0 * (c == 1 ? 1 : -1)   (a one-output model)
 * and their gradients with respect to z, the seed of the backward:
 *   d softmax_c / dz_j = p_c (delta_cj - p_j),   d ReST / dz_j = 2 delta_cj - p_j.
 * Sums and exponentials run in double, the largest z subtracted first. */
#ifndef CC_CAM_TARGET_H
#define CC_CAM_TARGET_H

#include "cam/method.h"

/* CC_EINVAL (err says why) when cls does not fit the target: out of
 * [0, n), or for binary a model with more than one output or cls not 0 or 1. */
cc_status cc_target_check(cc_target t, int n, int cls, cc_error *err);
double cc_target_value(cc_target t, const float *z, int n, int cls);
void cc_target_seed(cc_target t, const float *z, int n, int cls, float *dz);
/* softmax(z) into p (double), as the targets use it. */
void cc_softmax_double(const float *z, int n, double *p);

#endif
