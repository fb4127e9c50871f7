/* layers/map.c — element-wise kernels split over the pool (kernels.h):
 * each range is the same loop on a slice, so results do not depend on the
 * thread count. */
#include "kernels.h"

typedef struct {
    cc_map_fn f;
    cc_map_grad_fn g;
    cc_real *out;
    const cc_real *in, *saved;
} map;

static void map_range(void *arg, size_t lo, size_t hi)
{
    const map *m = arg;
    m->f(m->out + lo, m->in + lo, hi - lo);
}

static void grad_range(void *arg, size_t lo, size_t hi)
{
    const map *m = arg;
    m->g(m->out + lo, m->in + lo, m->saved + lo, hi - lo);
}

void cc_parallel_map(cc_map_fn f, cc_real *out, const cc_real *inp, size_t n)
{
    map m = {.f = f, .out = out, .in = inp};
    cc_parallel(n, CC_MAP_GRAIN, map_range, &m);
}

void cc_parallel_map_grad(cc_map_grad_fn f, cc_real *dinp, const cc_real *dout, const cc_real *saved,
                          size_t n)
{
    map m = {.g = f, .out = dinp, .in = dout, .saved = saved};
    cc_parallel(n, CC_MAP_GRAIN, grad_range, &m);
}
