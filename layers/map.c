/* layers/map.c — element-wise kernels split over the pool (kernels.h):
 * each range is the same loop on a slice, so results do not depend on the
 * thread count. */
#include "kernels.h"

typedef struct {
    cc_map_fn f;
    cc_map_grad_fn g;
    cc_map_param_fn fp;
    cc_map_grad_param_fn gp;
    cc_real *out;
    const cc_real *in, *saved;
    cc_real param;
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

static void map_param_range(void *arg, size_t lo, size_t hi)
{
    const map *m = arg;
    m->fp(m->out + lo, m->in + lo, m->param, hi - lo);
}

static void grad_param_range(void *arg, size_t lo, size_t hi)
{
    const map *m = arg;
    m->gp(m->out + lo, m->in + lo, m->saved + lo, m->param, hi - lo);
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

void cc_parallel_map_param(cc_map_param_fn f, cc_real *out, const cc_real *inp, cc_real param, size_t n)
{
    map m = {.fp = f, .out = out, .in = inp, .param = param};
    cc_parallel(n, CC_MAP_GRAIN, map_param_range, &m);
}

void cc_parallel_map_grad_param(cc_map_grad_param_fn f, cc_real *dinp, const cc_real *dout,
                                const cc_real *saved, cc_real param, size_t n)
{
    map m = {.gp = f, .out = dinp, .in = dout, .saved = saved, .param = param};
    cc_parallel(n, CC_MAP_GRAIN, grad_param_range, &m);
}
