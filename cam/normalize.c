/* cam/normalize.c — min-max scaling of a CAM; see normalize.h. */
#include "cam/normalize.h"

#include <assert.h>

void cc_cam_normalize(float *out, const float *cam, size_t n)
{
    assert(n >= 1);
    float lo = cam[0];
    for (size_t i = 1; i < n; i++)
        if (cam[i] < lo)
            lo = cam[i];
    /* max(cam - lo) of the subtracted map, as the reference takes it. Float
     * subtraction is monotonic, so this is fl32(max(cam) - lo); computing it
     * on the fly keeps the in-place case simple. */
    float hi = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float v = cam[i] - lo;
        out[i] = v;
        if (v > hi)
            hi = v;
    }
    float den = (float)((double)hi + 1e-7);
    for (size_t i = 0; i < n; i++)
        out[i] = out[i] / den;
}
