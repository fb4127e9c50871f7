/* image/overlay.h — a CAM drawn over the photo it explains.
 *
 * Reference mode: pytorch-grad-cam's show_cam_on_image(rgb / 255, mask,
 * use_rgb=True, image_weight=w) (docs/NUMERICS.md "Overlay"), in the float32
 * numpy arithmetic it runs:
 *   heat  = fl32(jet[trunc(255 * mask)]) / 255          colormap.h
 *   img   = fl32(rgb) / 255                             the caller's np.float32(rgb) / 255
 *   out   = fl32(1 - w) * heat + fl32(w) * img          (1 - w is taken in double)
 *   out   = out / max(out)                              max over every pixel and channel
 *   u8    = trunc(255 * out)
 * The global division brightens the whole picture so its brightest channel is
 * 255. Jet has no black entry, so max(out) > 0 for any mask.
 *
 * Clean mode (ours): a plain alpha blend on the 0..255 scale, no brightening:
 *   u8 = round((1 - alpha) * rgb + alpha * jet[trunc(255 * mask)]).
 *
 * Images are row-major H×W×3 RGB u8, masks H×W float32 in [0, 1]. */
#ifndef CC_OVERLAY_H
#define CC_OVERLAY_H

/* image_weight in [0, 1]; 0.5 is the reference default. out may equal rgb. */
void cc_overlay_reference(unsigned char *out, const unsigned char *rgb, const float *mask,
                          int H, int W, float image_weight);

/* alpha in [0, 1]: 0 gives the photo, 1 the colour map. out may equal rgb. */
void cc_overlay_clean(unsigned char *out, const unsigned char *rgb, const float *mask,
                      int H, int W, float alpha);

#endif
