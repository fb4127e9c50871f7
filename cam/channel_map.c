/* cam/channel_map.c — weighted channel sums and their eigen-smooth
 * alternative; see channel_map.h. */
#include "cam/channel_map.h"
#include "cam/projection.h"

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

cc_projection_sign cc_cam_projection_sign(const cc_cam_params *p)
{
    return p->eigen_sign == CC_SIGN_LAPACK ? CC_PROJECTION_SIGN_LAPACK : CC_CAM_DEFAULT_SIGN;
}

/* The projection's scratch in floats, or 0 when the shape is refused (the
 * call then reports why). */
size_t cc_cam_project_floats(int K, int hw)
{
    cc_projection_plan plan;
    if (cc_projection_plan_init(&plan, K, hw, NULL))
        return 0;
    return (plan.scratch_bytes + sizeof(float) - 1) / sizeof(float);
}

size_t cc_cam_map_scratch(int K, int h, int w, const cc_cam_params *p)
{
    if (!p->eigen_smooth)
        return 0;
    return (size_t)K * h * w + cc_cam_project_floats(K, h * w);
}

cc_status cc_cam_project(const cc_cam_layer_call *c, const float *E, cc_projection_sign sign, float *cam,
                         float *scratch, cc_error *err)
{
    cc_projection_plan plan;
    cc_status st = cc_projection_plan_init(&plan, c->K, c->h * c->w, err);
    if (st)
        return st;
    return cc_projection_2d(&plan, E, sign, cam, scratch, err);
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
    const int hw = c->h * c->w;
    if (!c->params->eigen_smooth) {
        cc_cam_channel_sum(cam, w, c->A, c->K, hw);
        return CC_OK;
    }
    /* get_2d_projection(weights[:, :, None, None] * activations): the float32 product first */
    float *E = c->scratch;
    for (int k = 0; k < c->K; k++)
        for (int i = 0; i < hw; i++)
            E[(size_t)k * hw + i] = w[k] * c->A[(size_t)k * hw + i];
    return cc_cam_project(c, E, cc_cam_projection_sign(c->params), cam, E + (size_t)c->K * hw, err);
}

cc_status cc_cam_elementwise_map(const cc_cam_layer_call *c, float *E, float *cam, cc_error *err)
{
    const size_t khw = (size_t)c->K * c->h * c->w;
    if (!c->params->eigen_smooth) {
        cc_cam_channel_sum(cam, NULL, E, c->K, c->h * c->w);
        return CC_OK;
    }
    /* the map's scratch follows E's region (cc_cam_scratch_elementwise) */
    return cc_cam_project(c, E, cc_cam_projection_sign(c->params), cam, c->scratch + khw + khw, err);
}
