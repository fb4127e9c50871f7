/* cam/kernel_pca.h — KPCA-CAM's projection for one image (pytorch-grad-cam
 * kpca_cam.py, get_2d_projection_kernel; CAM_METHODS.md 2.10): scikit-learn's
 * KernelPCA(n_components=1, kernel, gamma).fit_transform of the pixels,
 *
 *   M   = A.reshape(K, hw).T, centred as get_2d_projection does
 *         (cc_projection_centre: NaN -> 0, float32 channel means)
 *   Kij = k(M_i, M_j) over the n = hw pixels (rows of M), gamma 1/K by default:
 *           sigmoid  tanh(gamma <x,y> + 1)         (coef0 = 1)
 *           rbf      exp(-gamma |x - y|^2)         (|x-y|^2 = |x|^2 + |y|^2 - 2<x,y>,
 *                                                   clipped at 0, 0 on the diagonal)
 *           poly     (gamma <x,y> + 1)^3           (degree 3, coef0 1)
 *           linear   <x,y>
 *           cosine   <x,y> / (|x| |y|)             (a zero row stays zero)
 *   Kc  = K - colmean[None,:] - rowmean[:,None] + mean          (KernelCenterer)
 *   (lambda, v) = the largest eigenpair of Kc   (LAPACK dsyevr, lower triangle,
 *                                                RANGE = 'I', IL = IU = n)
 *   v  *= sign of its entry of largest |v|, the first on ties   (svd_flip)
 *   proj = fl32(v sqrt(lambda))
 * with lambda < 0 an error, as sklearn's _check_psd_eigenvalues raises (Kc has
 * the eigenvalue 0 for the all-ones vector, so only rounding or a degenerate
 * kernel gets there).
 *
 * Precision: everything after the float32 centring runs in double. sklearn
 * keeps float32 (its kernel, centring, and ssyevr for n <= 200 or ARPACK
 * above), so against sklearn expect ~1e-6 relative differences, more when the
 * top two eigenvalues nearly coincide; tests/test_linalg.c checks 1e-5 of the
 * largest |proj| against a float64 numpy restatement (numpy.linalg.eigh).
 *
 * Cost: an n x n kernel (n = hw) and a dense tridiagonalisation, O(n^2 K + n^3):
 * 22 ms at 512 x 14 x 14, 0.14 s at 256 x 28 x 28, 7.7 s and 82 MB of scratch
 * at 64 x 56 x 56 (sklearn's ARPACK iterates instead above 200 pixels). */
#ifndef CC_KERNEL_PCA_H
#define CC_KERNEL_PCA_H

#include "cam/method.h"  /* cc_kpca_kernel */
#include "core/base.h"

typedef struct {
    int K, hw;
    int lwork, liwork;     /* dsyevr's workspaces for this size */
    size_t scratch_bytes;  /* what cc_kpca_projection needs */
} cc_kpca_plan;

/* Validates K >= 1 and 1 <= hw <= 46340 (the n x n kernel within LAPACK's int
 * indices; K * hw within CC_MAX_NUMEL) and queries dsyevr's workspace. */
cc_status cc_kpca_plan_init(cc_kpca_plan *plan, int K, int hw, cc_error *err);

/* proj (hw) from act (K x hw, K x h x w). gamma > 0, or 0 for sklearn's
 * default 1/K (ignored by linear and cosine). scratch: plan->scratch_bytes,
 * any alignment. */
cc_status cc_kpca_projection(const cc_kpca_plan *plan, const float *act, cc_kpca_kernel kernel, double gamma,
                             float *proj, void *scratch, cc_error *err);

#endif
