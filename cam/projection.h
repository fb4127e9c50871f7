/* cam/projection.h — pytorch-grad-cam's get_2d_projection for one image
 * (utils/svd_on_activations.py; CAM_METHODS.md 1.6, 2.7-2.9): the first
 * principal component of the channels over the pixels, as EigenCAM,
 * EigenGradCAM, SegEigenCAM and every eigen_smooth path compute it.
 *
 *   M     = A.reshape(K, hw).T          hw x K, NaN -> 0
 *   M     = M - M.mean(axis=0)          float32: numpy's pairwise channel sums
 *                                       (core/numpy_sum.h) divided by hw
 *   U S VT = svd(M)                     LAPACK dgesdd in double on M widened
 *                                       from float32, column-major, LDA = hw,
 *                                       as numpy.linalg.svd calls it
 *   proj  = M @ fl32(VT[0])             float32 GEMV (cblas_sgemv, numpy's call)
 *
 * proj = s1 u1 and sums to zero over the pixels, so the ReLU that follows
 * keeps one half of the map: the sign of VT[0] decides which.
 *
 * LAPACK's sign is reproduced by calling the same code on the same doubles:
 * numpy 1.24 runs dgesdd with JOBZ = 'A' and the optimal LWORK; here JOBZ =
 * 'S' with LWORK = the larger of 'A's and 'S's optimum:
 *   - hw >= K: that gives VT[0] and S bit for bit as 'A' (checked on 614
 *     shapes with this OpenBLAS 0.3.21; with 'S's own optimum 4 in 400
 *     differed in the last bit) without 'A's hw x hw U (78 MB at 56 x 56);
 *   - hw < K (LAPACK's LQ path for K >= 11/6 hw): VT[0] differs from 'A's in
 *     the last bit on most shapes (dorglq generates hw rows of Q, not K),
 *     never in its sign (300 random shapes); 'A' would form the whole K x K
 *     VT, 33 ms against 2 ms at 7 x 7 x 960 (MobileNetV3's last layer), more
 *     than the rest of an explanation.
 * The bits also depend on OpenBLAS's thread count (its threaded BLAS inside
 * dgesdd and sgemv): with numpy and this code on the same count, proj was bit
 * for bit numpy's on 50 random shapes up to 64 x 56 x 56 and 2048 x 7 x 7;
 * numpy on 2 threads against this on 1 (the library holds OpenBLAS at 1,
 * layers/gemm.c), 41 of 50 differed, by at most 7e-7 of the largest |value|,
 * never in sign. tests/test_linalg.c checks 1e-5 of the largest |value| and
 * the sign exactly.
 *
 * Cost: dgesdd's O(hw K min(hw, K)), except that 'A' also forms the K x K VT
 * when hw < K: 2048 x 7 x 7 takes 0.26 s and 35 MB (numpy: 0.25 s); 64 x 56 x
 * 56 takes 9 ms and 5 MB (one OpenBLAS thread).
 *
 * Nothing here allocates: a plan holds the LWORK query of a shape (about
 * 0.1 ms, so a caller with nowhere to keep the plan may redo it per call),
 * and the caller provides plan.scratch_bytes of scratch (any alignment). */
#ifndef CC_PROJECTION_H
#define CC_PROJECTION_H

#include "core/base.h"

/* The sign of the projection. LAPACK's is the reference's (arbitrary, but
 * reproducible); the others do not depend on LAPACK. The three candidates
 * settle a score of exactly 0 by CC_PROJECTION_SIGN_MAX_ABS. */
typedef enum {
    CC_PROJECTION_SIGN_LAPACK = 0,    /* as dgesdd returns it: get_2d_projection */
    CC_PROJECTION_SIGN_SEG_EIGEN,     /* negated when |min| > |max| (strict: a tie keeps
                                       * LAPACK's): SegEigenCAM's correction */
    /* candidates for a deterministic EigenCAM */
    CC_PROJECTION_SIGN_MAX_ABS,       /* the entry of largest |proj| positive, the first on
                                       * ties (SegEigenCAM's rule without the tie) */
    CC_PROJECTION_SIGN_SKEW,          /* sum proj^3 >= 0: the long tail positive, a small
                                       * strong region against a broad weak one. (The
                                       * positive part's mass against the negative part's
                                       * is no rule: proj sums to zero.) */
    CC_PROJECTION_SIGN_MEAN_ACTIVATION /* sum_k VT[0][k] >= 0: proj correlates positively
                                       * with the channel-mean map m_p = mean_k A[k,p]:
                                       * sum_p proj_p (m_p - mean m) = s1^2 sum_k VT[0][k] / K */
} cc_projection_sign;

typedef struct {
    int K, hw;
    char jobz;             /* 'S' (see above) */
    int lwork;             /* dgesdd's WORK length for this shape */
    size_t scratch_bytes;  /* what cc_projection_2d needs */
} cc_projection_plan;

/* Validates K >= 1 and hw >= 1 (K * hw within CC_MAX_NUMEL, K at most 46340
 * so VT's K x K stays within LAPACK's int indices) and queries dgesdd's
 * optimal workspace. */
cc_status cc_projection_plan_init(cc_projection_plan *plan, int K, int hw, cc_error *err);

/* proj (hw) from act (K x hw, a channel's pixels contiguous: K x h x w).
 * act is not modified and may contain NaN (taken as 0). A LAPACK failure
 * (dbdsdc not converging) is CC_EFORMAT with LAPACK's info. */
cc_status cc_projection_2d(const cc_projection_plan *plan, const float *act, cc_projection_sign sign,
                           float *proj, void *scratch, cc_error *err);

/* The reference's centring, which KPCA-CAM shares: out[k*hw + p] =
 * act[k*hw + p] - mean_k in float32, NaN -> 0 first, mean_k =
 * fl32(numpy_sum(channel k) / hw). out may equal act. */
void cc_projection_centre(float *out, const float *act, int K, int hw);

#endif
