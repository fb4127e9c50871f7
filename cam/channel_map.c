/* cam/channel_map.c — weighted channel sums and their eigen-smooth
 * alternative; see channel_map.h. */
#include "cam/channel_map.h"

void cc_cam_channel_mean(float *mean, const float *X, int K, int hw)
{
    for (int k = 0; k < K; k++) {
        double sum = 0;
        for (int i = 0; i < hw; i++)
            sum += X[(size_t)k * hw + i];
        mean[k] = (float)(sum / hw);
    }
}

void cc_cam_channel_sum(float *cam, const float *w, const float *X, int K, int hw)
{
    for (int i = 0; i < hw; i++) {
        double sum = 0;
        for (int k = 0; k < K; k++)
            sum += (double)(w ? w[k] : 1.0f) * X[(size_t)k * hw + i];
        cam[i] = (float)sum;
    }
}

size_t cc_cam_map_scratch(int K, int h, int w, const cc_cam_params *p)
{
    (void)K, (void)h, (void)w, (void)p;
    return 0;
}

size_t cc_cam_scratch_weighted(int K, int h, int w, const cc_cam_params *p, int batch, int C, int H, int W)
{
    (void)batch, (void)C, (void)H, (void)W;
    return cc_cam_map_scratch(K, h, w, p);
}

size_t cc_cam_scratch_elementwise(int K, int h, int w, const cc_cam_params *p, int batch, int C, int H, int W)
{
    (void)batch, (void)C, (void)H, (void)W;
    return (size_t)K * h * w + cc_cam_map_scratch(K, h, w, p);
}

cc_status cc_cam_weighted_map(const cc_cam_layer_call *c, const float *w, float *cam, cc_error *err)
{
    if (c->params->eigen_smooth)
        return cc_fail(err, CC_EINVAL, "eigen_smooth is not available yet");
    cc_cam_channel_sum(cam, w, c->A, c->K, c->h * c->w);
    return CC_OK;
}

cc_status cc_cam_elementwise_map(const cc_cam_layer_call *c, float *E, float *cam, cc_error *err)
{
    if (c->params->eigen_smooth)
        return cc_fail(err, CC_EINVAL, "eigen_smooth is not available yet");
    cc_cam_channel_sum(cam, NULL, E, c->K, c->h * c->w);
    return CC_OK;
}
