/* cam/methods/finercam.c — Finer-CAM (Zhang et al., arXiv:2501.11309;
 * pytorch-grad-cam finer_cam.py) over Grad-CAM: the target contrasts class c
 * (main) with the three classes whose outputs are nearest to z_c (the
 * reference's comparison_categories [1, 2, 3] of argsort |z - z_c|):
 *   p = softmax(z),  T = sum_i p_i (z_main - alpha z_i) / (sum_i p_i + 1e-9)
 * over the comparison classes i; p is not detached, so its derivative enters:
 *   dT/dz_j = (dN_j D - N dD_j) / D^2,
 *   dN_j = sum_i p_i (delta_ij - p_j)(z_m - alpha z_i) + sum_i p_i (delta_mj - alpha delta_ij),
 *   dD_j = sum_i p_i (delta_ij - p_j).
 * Ties in |z - z_c| keep the lower class first (the reference's quicksort
 * leaves them in no defined order). */
#include "cam/channel_map.h"
#include "cam/target.h"

#include <math.h>
#include <stdlib.h>

enum { COMPARED = 3 };

/* The COMPARED classes nearest to z[cls] (cls excluded), nearest first;
 * returns how many (fewer when the model has fewer classes). */
static int nearest(const float *z, int n, int cls, int *comp)
{
    int m = 0;
    for (int j = 0; j < n; j++) {
        if (j == cls)
            continue;
        const double d = fabs((double)z[j] - z[cls]);
        int at = m;  /* insertion point among the m kept, after equal distances */
        while (at > 0 && fabs((double)z[comp[at - 1]] - z[cls]) > d)
            at--;
        if (at == COMPARED)
            continue;
        for (int q = m < COMPARED ? m : COMPARED - 1; q > at; q--)
            comp[q] = comp[q - 1];
        comp[at] = j;
        m += m < COMPARED;
    }
    return m;
}

static void finer_seed(const float *z, int n, int cls, const cc_cam_params *p, float *dz)
{
    int comp[COMPARED];
    const int m = nearest(z, n, cls, comp);
    double top = z[0], sum = 0;
    for (int j = 1; j < n; j++)
        top = z[j] > top ? z[j] : top;
    for (int j = 0; j < n; j++)
        sum += exp(z[j] - top);
    double pi[COMPARED], N = 0, D = 1e-9;
    for (int i = 0; i < m; i++) {
        pi[i] = exp(z[comp[i]] - top) / sum;
        N += pi[i] * (z[cls] - p->finer_alpha * z[comp[i]]);
        D += pi[i];
    }
    for (int j = 0; j < n; j++) {
        const double pj = exp(z[j] - top) / sum;
        double dN = 0, dD = 0;
        for (int i = 0; i < m; i++) {
            const double dpi = pi[i] * ((comp[i] == j) - pj);
            dN += dpi * (z[cls] - p->finer_alpha * z[comp[i]]) + pi[i] * ((j == cls) - p->finer_alpha * (comp[i] == j));
            dD += dpi;
        }
        dz[j] = (float)((dN * D - N * dD) / (D * D));
    }
}

const cc_cam_method cc_cam_finercam = {
    .name = "finercam",
    .summary = "Grad-CAM of the class against its three nearest rivals (fine-grained differences)",
    .uses = CC_CAM_USES_GRADIENT,
    .takes = CC_CAM_TAKES_EIGEN_SMOOTH | CC_CAM_TAKES_EIGEN_SIGN | CC_CAM_TAKES_FINER_ALPHA,
    .has_weights = 1,
    .layer_map = cc_gradcam_layer_map,
    .scratch_floats = cc_cam_scratch_weighted,
    .seed = finer_seed,
};
