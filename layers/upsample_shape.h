/* layers/upsample_shape.h — output size and source-index scales shared by
 * upsample_nearest and upsample_bilinear (F.interpolate, nn.Upsample). */
#ifndef CC_UPSAMPLE_SHAPE_H
#define CC_UPSAMPLE_SHAPE_H

#include "kernels.h"

/* N x C x H x W to N x C x OH x OW: OH = floor(H * scale_factor[0]) when the
 * model gave a scale factor (attrs scale_factor > 0), else output_size[0]; the
 * same for columns. `op` names the op in the messages. */
cc_status cc_upsample_infer(const char *op, const cc_attrs *a, const cc_shape *in, cc_shape *out,
                            cc_error *err);

/* ATen's area_pixel_compute_scale in float, for one axis of in -> out:
 * align_corners: (in - 1) / (out - 1), 0 for out = 1; otherwise 1 / scale_factor
 * when the model gave one and recompute_scale_factor is off, else in / out. */
float cc_upsample_scale(const cc_attrs *a, int axis, int in, int out, int align_corners);

#endif
