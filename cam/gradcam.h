/* cam/gradcam.h — Grad-CAM at feature resolution (docs/NUMERICS.md steps 1-2):
 *   alpha_k  = (1/(h*w)) * sum_ij G[k,i,j]          G = dy^c/dA
 *   cam[i,j] = max(0, sum_k alpha_k * A[k,i,j])
 * Sums run in double: C*h*w terms of mixed sign would otherwise lose digits. */
#ifndef CC_CAM_H
#define CC_CAM_H

#include "core/base.h"

void cc_gradcam_alpha(cc_real *alpha, const cc_real *grad, int C, int HW);
void cc_gradcam_map(cc_real *cam, const cc_real *alpha, const cc_real *act, int C, int HW);

#endif
