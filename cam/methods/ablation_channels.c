/* cam/methods/ablation_channels.c — which channels AblationCAM ablates when
 * ablation_ratio r < 1, as pytorch-grad-cam's AblationLayer
 * .activations_to_be_ablated picks them:
 *   P    = |first principal component of A| (cam/projection.h; its sign is moot),
 *          minus its min, over its max; mask = P > 0.01
 *   n_k  = |A_k| minus its min, over its max (NaN for a constant channel)
 *   s_k  = sum(mask n_k) / sum(n_k)          (float32, numpy's pairwise sums)
 *   order = the channels by ascending s (NaN last)
 *   ablated = order's last floor(K r) reversed, then its first floor(K r):
 *             2 floor(K r) entries, with repeats once r > 0.5, as the reference.
 * Ties in s keep the lower channel first (numpy's quicksort leaves them in no
 * defined order). Then cc_ablation_scores puts the scores back in channel
 * order as assemble_ablation_scores does, repeats included: past a repeated
 * channel every later one takes the original score (the reference's walk). */
#include "cam/channel_map.h"
#include "cam/methods/ablation_channels.h"
#include "core/numpy_sum.h"

#include <math.h>
#include <stdlib.h>

size_t cc_ablation_channels_floats(int K, int hw)
{
    return 3 * (size_t)hw + (size_t)K + cc_cam_project_floats(K, hw);
}

/* NaN after every number; equal scores by channel. */
static int before(float a, int ia, float b, int ib)
{
    if (isnan(a) || isnan(b))
        return isnan(a) ? 0 : 1;
    return a < b || (a == b && ia < ib);
}

static void sort_by_score(int *idx, const float *s, int K)
{
    for (int i = 1; i < K; i++) {  /* insertion sort: K is at most a few thousand, once per image */
        const int v = idx[i];
        int j = i;
        while (j > 0 && before(s[v], v, s[idx[j - 1]], idx[j - 1]))
            idx[j] = idx[j - 1], j--;
        idx[j] = v;
    }
}

cc_status cc_ablation_channels(const cc_cam_layer_call *c, double ratio, int *channels, int *n, float *scratch,
                               cc_error *err)
{
    const int K = c->K, hw = c->h * c->w;
    float *P = scratch, *v = P + hw, *masked = v + hw, *score = masked + hw;
    cc_status st = cc_cam_project(c, c->A, CC_PROJECTION_SIGN_LAPACK, P, score + K, err);
    if (st)
        return st;
    float lo = INFINITY, hi;
    for (int i = 0; i < hw; i++)
        P[i] = fabsf(P[i]), lo = P[i] < lo ? P[i] : lo;
    hi = 0;
    for (int i = 0; i < hw; i++)
        P[i] -= lo, hi = P[i] > hi ? P[i] : hi;
    for (int k = 0; k < K; k++) {
        const float *a = c->A + (size_t)k * hw;
        float amin = INFINITY, amax = 0;
        for (int i = 0; i < hw; i++)
            amin = fabsf(a[i]) < amin ? fabsf(a[i]) : amin;
        for (int i = 0; i < hw; i++)
            amax = fabsf(a[i]) - amin > amax ? fabsf(a[i]) - amin : amax;
        for (int i = 0; i < hw; i++) {
            v[i] = (fabsf(a[i]) - amin) / amax;  /* 0 / 0 = NaN for a constant channel, as numpy */
            masked[i] = P[i] / hi > 0.01f ? v[i] : 0;
        }
        /* numpy's float32 sums, so that near-equal scores order as the reference's */
        score[k] = cc_numpy_sum(masked, (size_t)hw) / cc_numpy_sum(v, (size_t)hw);
    }
    int *order = malloc((size_t)K * sizeof *order);
    if (!order)
        return cc_fail(err, CC_ENOMEM, "out of memory ordering %d channels", K);
    for (int k = 0; k < K; k++)
        order[k] = k;
    sort_by_score(order, score, K);
    const int keep = (int)(K * ratio);
    *n = 0;
    for (int j = 0; j < keep; j++)
        channels[(*n)++] = order[K - 1 - j];
    for (int j = 0; j < keep; j++)
        channels[(*n)++] = order[j];
    free(order);
    return CC_OK;
}

void cc_ablation_scores(const int *channels, const float *scores, int n, float original, int K, float *out)
{
    /* sorted (channel, score) pairs, then the reference's walk over k */
    int *idx = malloc((size_t)(n ? n : 1) * sizeof *idx);
    for (int k = 0; k < K; k++)
        out[k] = original;
    if (!idx)
        return;
    for (int j = 0; j < n; j++)
        idx[j] = j;
    for (int i = 1; i < n; i++) {
        const int v = idx[i];
        int j = i;
        while (j > 0 && (channels[v] < channels[idx[j - 1]] || (channels[v] == channels[idx[j - 1]] && v < idx[j - 1])))
            idx[j] = idx[j - 1], j--;
        idx[j] = v;
    }
    for (int k = 0, j = 0; k < K; k++)
        if (j < n && channels[idx[j]] == k)
            out[k] = scores[idx[j++]];
    free(idx);
}
