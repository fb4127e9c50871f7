/* image/preprocess.h — from an 8-bit RGB photo to the network's input.
 *
 * Normalisation (docs/NUMERICS.md "Inputs"; torchvision ToTensor + Normalize,
 * or the weights' eval preset's convert_image_dtype + normalize, which agree):
 *   out[c][y][x] = (fl32(rgb[y][x][c]) / 255 - mean[c]) / std[c]
 * each step one float32 operation, mean and std as float32 (torch.as_tensor of
 * the Python floats), so the result is bit-identical to torchvision's.
 *
 * torchvision's optional evaluation recipe (not the reference demo, which
 * feeds the photo at its own size):
 *   Resize(S):        shorter side to S, longer to (int)(S * long / short)
 *                     (Python's int() of a float division), PIL resampling
 *                     (resample.h: BILINEAR by default, BICUBIC for EfficientNet);
 *   CenterCrop(ch,cw): top = round_half_even((h - ch) / 2), left likewise
 *                     (Python's round); a crop larger than the image pads with
 *                     zeros first, (c - n) / 2 (floor) before and the rest after.
 * Images are row-major H×W×3 RGB u8; tensors are planar 3×H×W (NCHW, N = 1). */
#ifndef CC_PREPROCESS_H
#define CC_PREPROCESS_H

#include "core/base.h"
#include "image/resample.h"

#include <stddef.h>

/* ToTensor + Normalize. out: 3×H×W float32; rgb: H×W×3. */
void cc_preprocess_normalize(float *out, const unsigned char *rgb, int H, int W,
                             const float mean[3], const float std[3]);

/* torchvision's Resize(S) output size for an h×w image. Fails when S < 1 or the
 * longer side would exceed CC_MAX_NUMEL pixels of image. */
cc_status cc_preprocess_resize_size(int h, int w, int S, int *H, int *W, cc_error *err);

/* Where CenterCrop(ch, cw) starts in an h×w image: negative when the crop is
 * larger than the image (those rows/columns are zero padding). */
void cc_preprocess_crop_origin(int h, int w, int ch, int cw, int *top, int *left);

/* out (ch×cw×3) = the centre crop of rgb (h×w×3), zeros outside the image. */
void cc_preprocess_center_crop(unsigned char *out, int ch, int cw, const unsigned char *rgb,
                               int h, int w);

/* The whole recipe: [resize] -> [centre crop] -> normalise. */
typedef struct {
    int resize;                  /* shorter side to this; 0: no resize */
    int crop_h, crop_w;          /* centre crop; 0, 0: none */
    cc_resample_filter filter;
    float mean[3], std[3];
} cc_preprocess_opts;

typedef struct {
    int rh, rw;                  /* after the resize */
    int out_h, out_w;            /* of the tensor */
    size_t scratch_bytes;        /* what cc_preprocess_run needs */
} cc_preprocess_plan;

/* Checks the options against an h×w image and sizes the run. */
cc_status cc_preprocess_plan_make(cc_preprocess_plan *plan, const cc_preprocess_opts *opts,
                                  int h, int w, cc_error *err);

/* out: 3×out_h×out_w; scratch: plan->scratch_bytes bytes, 8-byte aligned.
 * cc_preprocess_transform, then cc_preprocess_normalize. */
void cc_preprocess_run(float *out, const unsigned char *rgb, int h, int w,
                       const cc_preprocess_opts *opts, const cc_preprocess_plan *plan,
                       void *scratch);

/* The pixel steps alone, [resize] -> [centre crop], on the photo itself (what
 * the network sees, and what an overlay is drawn on): returns the out_h×out_w×3
 * image, which is rgb itself when the options do neither, else inside
 * scratch (plan->scratch_bytes bytes, 8-byte aligned). */
const unsigned char *cc_preprocess_transform(const unsigned char *rgb, int h, int w,
                                             const cc_preprocess_opts *opts,
                                             const cc_preprocess_plan *plan, void *scratch);

#endif
