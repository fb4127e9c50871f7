/* cam/methods/ablation_channels.h — AblationCAM's channel choice for
 * ablation_ratio < 1, and putting the scores back in channel order; see
 * ablation_channels.c. */
#ifndef CC_ABLATION_CHANNELS_H
#define CC_ABLATION_CHANNELS_H

#include "cam/method.h"

/* Scratch floats of cc_ablation_channels for K channels of hw pixels. */
size_t cc_ablation_channels_floats(int K, int hw);
/* channels: room for 2 K; *n gets 2 floor(K ratio). */
cc_status cc_ablation_channels(const cc_cam_layer_call *c, double ratio, int *channels, int *n, float *scratch,
                               cc_error *err);
/* out[k] = the score of channel k's ablation, or original where it was not
 * ablated (or lost in the reference's walk past a repeat). */
void cc_ablation_scores(const int *channels, const float *scores, int n, float original, int K, float *out);

#endif
