/* cam/kernel_pca.c — KernelPCA(n_components=1) of the pixels in double; see
 * kernel_pca.h. */
#include "cam/kernel_pca.h"

#include "cam/lapack.h"
#include "cam/projection.h"
#include "core/scratch.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>

enum { MAX_N = 46340 /* n * n < 2^31 */ };

/* The scratch, in order: the centred float32 M, M in double (hw x K
 * column-major), the kernel (n x n, lower triangle), its row means, dsyevr's
 * w, z, work, isuppz and iwork. */
enum { R_M, R_X, R_KERNEL, R_MEANS, R_W, R_Z, R_WORK, R_ISUPPZ, R_IWORK, NREGIONS };

static void region_sizes(const cc_kpca_plan *p, size_t *sizes)
{
    const size_t K = (size_t)p->K, n = (size_t)p->hw;
    sizes[R_M] = n * K * sizeof(float);
    sizes[R_X] = n * K * sizeof(double);
    sizes[R_KERNEL] = n * n * sizeof(double);
    sizes[R_MEANS] = n * sizeof(double);
    sizes[R_W] = n * sizeof(double);
    sizes[R_Z] = n * sizeof(double);
    sizes[R_WORK] = (size_t)p->lwork * sizeof(double);
    sizes[R_ISUPPZ] = 2 * sizeof(int);
    sizes[R_IWORK] = (size_t)p->liwork * sizeof(int);
}

/* The top eigenpair of the n x n lower triangle a: dsyevr's RANGE 'I' with
 * IL = IU = n. lwork and liwork -1 make it a workspace query into work[0]
 * and iwork[0]. */
static int top_eigenpair(int n, double *a, double *w, double *z, double *work, int lwork, int *isuppz,
                         int *iwork, int liwork)
{
    const double unused = 0, abstol = 0;
    int found = 0, info = 0;
    dsyevr_("V", "I", "L", &n, a, &n, &unused, &unused, &n, &n, &abstol, &found, w, z, &n, isuppz, work, &lwork,
            iwork, &liwork, &info, 1, 1, 1);
    return info;
}

cc_status cc_kpca_plan_init(cc_kpca_plan *plan, int K, int hw, cc_error *err)
{
    if (K < 1 || hw < 1 || hw > MAX_N || (size_t)K * (size_t)hw > CC_MAX_NUMEL)
        return cc_fail(err, CC_EINVAL, "kpca: %d channels x %d pixels: need at least 1 of each, at most %d "
                       "pixels and %zu values", K, hw, MAX_N, (size_t)CC_MAX_NUMEL);
    double a = 0, w = 0, z = 0, work = 0;
    int isuppz[2], iwork = 0;
    const int info = top_eigenpair(hw, &a, &w, &z, &work, -1, isuppz, &iwork, -1);
    if (info != 0 || !(work < INT_MAX))
        return cc_fail(err, CC_EINVAL, "kpca: dsyevr's workspace query for %d pixels failed (info %d, LWORK %g)",
                       hw, info, work);
    cc_kpca_plan p = {.K = K, .hw = hw, .lwork = work >= 1 ? (int)work : 1, .liwork = iwork >= 1 ? iwork : 1};
    size_t sizes[NREGIONS];
    region_sizes(&p, sizes);
    p.scratch_bytes = cc_scratch_bytes(sizes, NREGIONS);
    *plan = p;
    return CC_OK;
}

/* The kernel's lower triangle from the Gram matrix g (lower triangle, in
 * place), as sklearn's pairwise_kernels define each kernel. */
static void apply_kernel(double *g, int n, cc_kpca_kernel kernel, double gamma)
{
    for (int j = 0; j < n; j++) {
        const double gjj = g[(size_t)j * n + j];
        for (int i = j; i < n; i++) {
            double *e = &g[(size_t)j * n + i];
            const double gii = g[(size_t)i * n + i];  /* still the Gram's: column i comes later */
            switch (kernel) {
            case CC_KPCA_SIGMOID:
                *e = tanh(gamma * *e + 1);
                break;
            case CC_KPCA_RBF: {
                const double d = i == j ? 0 : gii + gjj - 2 * *e;
                *e = exp(-gamma * (d > 0 ? d : 0));
                break;
            }
            case CC_KPCA_POLY: {
                const double t = gamma * *e + 1;
                *e = t * t * t;
                break;
            }
            case CC_KPCA_LINEAR:
                break;
            case CC_KPCA_COSINE:
                *e = gii > 0 && gjj > 0 ? *e / (sqrt(gii) * sqrt(gjj)) : 0;
                break;
            }
        }
    }
}

/* KernelCenterer on the lower triangle: K - colmean - rowmean + mean (the
 * kernel is symmetric, so the row and column means agree). */
static void centre_kernel(double *k, int n, double *means)
{
    for (int i = 0; i < n; i++)
        means[i] = 0;
    for (int j = 0; j < n; j++)
        for (int i = j; i < n; i++) {
            const double e = k[(size_t)j * n + i];
            means[i] += e;
            if (i != j)
                means[j] += e;
        }
    double mean = 0;
    for (int i = 0; i < n; i++) {
        means[i] /= n;
        mean += means[i];
    }
    mean /= n;
    for (int j = 0; j < n; j++)
        for (int i = j; i < n; i++)
            k[(size_t)j * n + i] = k[(size_t)j * n + i] - means[j] - means[i] + mean;
}

cc_status cc_kpca_projection(const cc_kpca_plan *plan, const float *act, cc_kpca_kernel kernel, double gamma,
                             float *proj, void *scratch, cc_error *err)
{
    const int K = plan->K, n = plan->hw;
    if ((unsigned)kernel > CC_KPCA_COSINE)
        return cc_fail(err, CC_EINVAL, "kpca: unknown kernel %d", (int)kernel);
    if (!(gamma >= 0) || isinf(gamma))
        return cc_fail(err, CC_EINVAL, "kpca: gamma %g must be finite and at least 0 (0: 1/K)", gamma);
    size_t sizes[NREGIONS];
    void *r[NREGIONS];
    region_sizes(plan, sizes);
    cc_scratch_carve(scratch, sizes, NREGIONS, r);
    float *m = r[R_M];
    double *x = r[R_X], *k = r[R_KERNEL], *w = r[R_W], *z = r[R_Z];
    cc_projection_centre(m, act, K, n);
    for (size_t i = 0; i < (size_t)n * K; i++)
        x[i] = m[i];
    /* Gram matrix of the pixels: row p of M is x[p + n*c] over channels c. */
    cblas_dsyrk(CblasColMajor, CblasLower, CblasNoTrans, n, K, 1.0, x, n, 0.0, k, n);
    apply_kernel(k, n, kernel, gamma > 0 ? gamma : 1.0 / K);
    centre_kernel(k, n, r[R_MEANS]);
    const int info = top_eigenpair(n, k, w, z, r[R_WORK], plan->lwork, r[R_ISUPPZ], r[R_IWORK], plan->liwork);
    if (info != 0)
        return cc_fail(err, info < 0 ? CC_EINVAL : CC_EFORMAT,
                       "kpca: LAPACK dsyevr on the %d x %d kernel failed with info %d (%s)", n, n, info,
                       info < 0 ? "an invalid argument" : "an internal error");
    const double lambda = w[0];
    if (lambda < 0)
        return cc_fail(err, CC_EFORMAT, "kpca: the centred kernel's largest eigenvalue is %g < 0: it is not "
                       "positive semi-definite (sklearn's KernelPCA raises here too)", lambda);
    int top = 0;  /* svd_flip: the first entry of largest |v| made positive */
    for (int i = 1; i < n; i++)
        if (fabs(z[i]) > fabs(z[top]))
            top = i;
    const double scale = (z[top] < 0 ? -1 : 1) * sqrt(lambda);
    for (int i = 0; i < n; i++)
        proj[i] = (float)(z[i] * scale);
    return CC_OK;
}
