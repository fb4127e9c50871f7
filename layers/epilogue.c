/* layers/epilogue.c — a fused chain's epilogue (op.h's cc_epilogue): the
 * batchnorm's affine map and the element-wise ops after a conv, run by their
 * own kernels on a piece of the conv's output while it is still in cache, so
 * the floats are those of the unfused nodes. */
#include "kernels.h"
#include "runtime/parallel.h"

void cc_epilogue_apply(const cc_epilogue *e, cc_real *y, int c, size_t n)
{
    if (!e)
        return;
    if (e->scale)
        cc_affine_range(y, y, n, e->scale[c], e->shift[c]);
    for (int k = 0; k < e->nacts; k++)
        e->act[k](y, y, n);
}

typedef struct {
    const cc_epilogue *e;
    cc_real *out;
    int C;
    size_t P;
} planes;

static void planes_range(void *arg, size_t lo, size_t hi)
{
    const planes *p = arg;
    for (size_t nc = lo; nc < hi; nc++)
        cc_epilogue_apply(p->e, p->out + nc * p->P, (int)(nc % (size_t)p->C), p->P);
}

void cc_epilogue_planes(const cc_epilogue *e, cc_real *out, int N, int C, size_t P)
{
    if (!e)
        return;
    const planes p = {e, out, C, P};
    cc_parallel((size_t)N * C, cc_grain(P, CC_MAP_GRAIN), planes_range, (void *)&p);
}
