/* image/colormap.h — OpenCV's COLORMAP_JET as RGB, and the mask -> colour
 * lookup of the reference overlay (docs/NUMERICS.md overlay steps 1-2).
 *
 * Index of a mask value m in [0, 1]: trunc(255 * m) with the product in
 * float32, as numpy's np.uint8(255 * mask) on a float32 mask (a float -> uint8
 * cast truncates). The reference's peak 1 - 1.2e-7 therefore lands on index
 * 254, not 255. Values outside [0, 1] (and NaN) are clamped to 0 or 255 here;
 * numpy's cast would wrap them. */
#ifndef CC_COLORMAP_H
#define CC_COLORMAP_H

#include <stddef.h>

/* cc_jet[i] = {r, g, b}: cv2.applyColorMap(i, COLORMAP_JET) converted
 * BGR -> RGB. How the table is derived: colormap.c. */
extern const unsigned char cc_jet[256][3];

static inline int cc_colormap_index(float m)
{
    float v = 255.0f * m;
    if (!(v >= 0.0f))
        return 0;
    if (v >= 255.0f)
        return 255;
    return (int)v;
}

/* rgb (n×3) = cc_jet[cc_colormap_index(mask[i])]. */
void cc_colormap_jet(unsigned char *rgb, const float *mask, size_t n);

#endif
