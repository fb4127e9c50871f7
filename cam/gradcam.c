/* cam/gradcam.c — channel weights and the rectified weighted sum; see gradcam.h. */
#include "cam/gradcam.h"

void cc_gradcam_alpha(cc_real *alpha, const cc_real *grad, int C, int HW)
{
    for (int k = 0; k < C; k++) {
        double sum = 0;
        for (int i = 0; i < HW; i++)
            sum += grad[(size_t)k * HW + i];
        alpha[k] = (cc_real)(sum / HW);
    }
}

void cc_gradcam_map(cc_real *cam, const cc_real *alpha, const cc_real *act, int C, int HW)
{
    for (int i = 0; i < HW; i++) {
        double sum = 0;
        for (int k = 0; k < C; k++)
            sum += (double)alpha[k] * act[(size_t)k * HW + i];
        cam[i] = (cc_real)(sum > 0 ? sum : 0);
    }
}
