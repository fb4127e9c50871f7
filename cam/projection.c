/* cam/projection.c — get_2d_projection through LAPACK's dgesdd; see
 * projection.h. */
#include "cam/projection.h"

#include "cam/lapack.h"
#include "core/numpy_sum.h"
#include "core/scratch.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>

enum { MAX_K = 46340 /* K * K < 2^31 */ };

/* The scratch, in order: a (hw x K, dgesdd's input, destroyed), s, u, vt
 * (K x K), work, iwork, then the centred float32 M and fl32(VT[0]). */
enum { R_A, R_S, R_U, R_VT, R_WORK, R_IWORK, R_M, R_V, NREGIONS };

static void region_sizes(const cc_projection_plan *p, size_t *sizes)
{
    const size_t K = (size_t)p->K, hw = (size_t)p->hw, mn = K < hw ? K : hw;
    sizes[R_A] = hw * K * sizeof(double);
    sizes[R_S] = mn * sizeof(double);
    sizes[R_U] = hw * (p->jobz == 'A' ? hw : K) * sizeof(double);
    sizes[R_VT] = K * K * sizeof(double);
    sizes[R_WORK] = (size_t)p->lwork * sizeof(double);
    sizes[R_IWORK] = 8 * mn * sizeof(int);
    sizes[R_M] = hw * K * sizeof(float);
    sizes[R_V] = K * sizeof(float);
}

/* dgesdd with LWORK = -1: the optimal workspace it reports. */
static cc_status query_lwork(char jobz, int K, int hw, int *lwork, cc_error *err)
{
    const int ldvt = K, query = -1;
    double a = 0, s = 0, u = 0, vt = 0, best = 0;
    int iwork = 0, info = 0;
    dgesdd_(&jobz, &hw, &K, &a, &hw, &s, &u, &hw, &vt, &ldvt, &best, &query, &iwork, &info, 1);
    if (info != 0 || !(best < INT_MAX))
        return cc_fail(err, CC_EINVAL, "projection: dgesdd's workspace query for %d pixels x %d channels "
                       "(JOBZ '%c') failed (info %d, LWORK %g)", hw, K, jobz, info, best);
    *lwork = best >= 1 ? (int)best : 1;  /* numpy's (fortran_int)work, 0 made 1 */
    return CC_OK;
}

cc_status cc_projection_plan_init(cc_projection_plan *plan, int K, int hw, cc_error *err)
{
    if (K < 1 || hw < 1 || (size_t)K * (size_t)hw > CC_MAX_NUMEL || K > MAX_K)
        return cc_fail(err, CC_EINVAL, "projection: %d channels x %d pixels: need at least 1 of each, "
                       "at most %d channels and %zu values", K, hw, MAX_K, (size_t)CC_MAX_NUMEL);
    cc_projection_plan p = {.K = K, .hw = hw, .jobz = 'S'};
    int lwork_s = 0;
    cc_status st = query_lwork('A', K, hw, &p.lwork, err);
    if (st == CC_OK)
        st = query_lwork('S', K, hw, &lwork_s, err);
    if (st != CC_OK)
        return st;
    /* 'S' given at least 'A's workspace runs every step that forms VT with the
     * blocking 'A' uses, hence 'A's bits (projection.h). */
    if (lwork_s > p.lwork)
        p.lwork = lwork_s;
    size_t sizes[NREGIONS];
    region_sizes(&p, sizes);
    p.scratch_bytes = cc_scratch_bytes(sizes, NREGIONS);
    *plan = p;
    return CC_OK;
}

void cc_projection_centre(float *out, const float *act, int K, int hw)
{
    for (int k = 0; k < K; k++) {
        const float *in = act + (size_t)k * hw;
        float *m = out + (size_t)k * hw;
        for (int p = 0; p < hw; p++)
            m[p] = isnan(in[p]) ? 0.0f : in[p];
        const float mean = cc_numpy_sum(m, (size_t)hw) / (float)hw;
        for (int p = 0; p < hw; p++)
            m[p] -= mean;
    }
}

/* The first index of the largest |x|. */
static int max_abs_index(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (fabsf(x[i]) > fabsf(x[best]))
            best = i;
    return best;
}

/* Whether the rule wants proj negated. */
static int flips(cc_projection_sign sign, const float *proj, int hw, const float *v, int K)
{
    double score = 0;
    switch (sign) {
    case CC_PROJECTION_SIGN_LAPACK:
        return 0;
    case CC_PROJECTION_SIGN_SEG_EIGEN: {
        float lo = proj[0], hi = proj[0];
        for (int i = 1; i < hw; i++) {
            lo = proj[i] < lo ? proj[i] : lo;
            hi = proj[i] > hi ? proj[i] : hi;
        }
        return fabsf(lo) > fabsf(hi);
    }
    case CC_PROJECTION_SIGN_MAX_ABS:
        break;
    case CC_PROJECTION_SIGN_SKEW:
        for (int i = 0; i < hw; i++)
            score += (double)proj[i] * proj[i] * proj[i];
        break;
    case CC_PROJECTION_SIGN_MEAN_ACTIVATION:
        for (int k = 0; k < K; k++)
            score += v[k];
        break;
    }
    return score != 0 ? score < 0 : proj[max_abs_index(proj, hw)] < 0;
}

cc_status cc_projection_2d(const cc_projection_plan *plan, const float *act, cc_projection_sign sign,
                           float *proj, void *scratch, cc_error *err)
{
    const int K = plan->K, hw = plan->hw;
    if ((unsigned)sign > CC_PROJECTION_SIGN_MEAN_ACTIVATION)
        return cc_fail(err, CC_EINVAL, "projection: unknown sign rule %d", (int)sign);
    size_t sizes[NREGIONS];
    void *r[NREGIONS];
    region_sizes(plan, sizes);
    cc_scratch_carve(scratch, sizes, NREGIONS, r);
    double *a = r[R_A], *vt = r[R_VT];
    float *m = r[R_M], *v = r[R_V];
    const size_t n = (size_t)K * hw;
    /* K x hw row-major is M's hw x K column-major: numpy's LAPACK layout. */
    cc_projection_centre(m, act, K, hw);
    for (size_t i = 0; i < n; i++)
        a[i] = m[i];
    int info = 0;
    dgesdd_(&plan->jobz, &hw, &K, a, &hw, r[R_S], r[R_U], &hw, vt, &K, r[R_WORK], &plan->lwork, r[R_IWORK],
            &info, 1);
    if (info != 0)
        return cc_fail(err, info < 0 ? CC_EINVAL : CC_EFORMAT,
                       "projection: LAPACK dgesdd on %d pixels x %d channels failed with info %d (%s)", hw, K,
                       info, info < 0 ? "an invalid argument" : "dbdsdc did not converge");
    for (int k = 0; k < K; k++)
        v[k] = (float)vt[(size_t)k * K];  /* VT[0][k]; numpy returns VT in float32 */
    /* numpy's matmul of the F-ordered float32 M by VT[0]. */
    cblas_sgemv(CblasRowMajor, CblasTrans, K, hw, 1.0f, m, hw, v, 1, 0.0f, proj, 1);
    if (flips(sign, proj, hw, v, K))
        for (int i = 0; i < hw; i++)
            proj[i] = -proj[i];
    return CC_OK;
}
