/* tests/test_parallel.c — the kernels' thread pool (layers/parallel.h).
 *
 * cc_parallel must call fn on ranges that cover [0, n) exactly once, in
 * contiguous pieces no shorter than grain (except when n < grain: one piece),
 * for any thread count, back to back (hundreds of calls, as a forward makes
 * them), after the workers have gone to sleep (2 ms of spinning, then a
 * condition variable), right after the pool grows (a job can reach a worker
 * before the worker first runs: the lost wake-up this test caught), and from
 * two caller threads at once (the one that does not get the pool runs its
 * ranges itself). Each index counts its visits; ranges are recorded. */
#include "testutil.h"
#include "layers/parallel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { MAX_N = 100000, MAX_RANGES = 64 };

typedef struct {
    _Atomic int visits[MAX_N];
    _Atomic int nranges;
    size_t lo[MAX_RANGES], hi[MAX_RANGES];
} record;

static void visit(void *arg, size_t lo, size_t hi)
{
    record *r = arg;
    const int k = atomic_fetch_add(&r->nranges, 1);
    if (k < MAX_RANGES)
        r->lo[k] = lo, r->hi[k] = hi;
    for (size_t i = lo; i < hi; i++)
        atomic_fetch_add(&r->visits[i], 1);
}

/* One call; returns 1 when it covered [0, n) once in valid pieces. */
static int one_call(record *r, size_t n, size_t grain, int threads, const char *when)
{
    for (size_t i = 0; i < n; i++)
        atomic_store(&r->visits[i], 0);
    atomic_store(&r->nranges, 0);
    cc_parallel(n, grain, visit, r);
    int ok = 1;
    size_t bad = n;
    for (size_t i = 0; i < n; i++)
        if (atomic_load(&r->visits[i]) != 1) {
            ok = 0, bad = i;
            break;
        }
    const int nr = atomic_load(&r->nranges);
    tu_check(ok, "%s: n %zu grain %zu threads %d: index %zu visited %d times", when, n, grain, threads, bad,
             ok ? 1 : atomic_load(&r->visits[bad]));
    int pieces_ok = nr >= (n > 0) && nr <= threads;
    for (int k = 0; k < nr && k < MAX_RANGES; k++)
        if (nr > 1 && r->hi[k] - r->lo[k] < grain)
            pieces_ok = 0;
    tu_check(pieces_ok, "%s: n %zu grain %zu threads %d: %d ranges (at most %d, each >= grain)", when, n,
             grain, threads, nr, threads);
    return ok && pieces_ok;
}

static record shared;

typedef struct { record *r; int calls, ok; } hammer_arg;

static void *hammer(void *p)
{
    hammer_arg *h = p;
    h->ok = 1;
    for (int c = 0; c < h->calls; c++)
        h->ok &= one_call(h->r, 5000 + (size_t)c % 7, 100, cc_parallel_threads(), "concurrent callers");
    return NULL;
}

int main(void)
{
    static const size_t sizes[] = {0, 1, 2, 3, 15, 16, 17, 100, 1000, 4097, MAX_N};
    static const size_t grains[] = {1, 7, 64, 1000};
    static const int thread_counts[] = {1, 2, 3, 4, 2, 1};
    for (size_t t = 0; t < sizeof thread_counts / sizeof *thread_counts; t++) {
        const int threads = thread_counts[t];
        tu_check(cc_parallel_set_threads(threads) == 0, "could not start %d threads", threads);
        tu_check(cc_parallel_threads() == threads, "cc_parallel_threads() %d, set %d", cc_parallel_threads(),
                 threads);
        /* the first call right after the pool grew */
        one_call(&shared, 1000, 1, threads, "first call");
        for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
            for (size_t g = 0; g < sizeof grains / sizeof *grains; g++)
                one_call(&shared, sizes[i], grains[g], threads, "sizes");
        int ok = 1;
        for (int c = 0; c < 500; c++)  /* back to back */
            ok &= one_call(&shared, 64 + (size_t)c, 8, threads, "back to back");
        tu_check(ok, "500 calls back to back with %d threads", threads);
        const struct timespec nap = {0, 20 * 1000 * 1000};  /* workers go to sleep after 2 ms */
        nanosleep(&nap, NULL);
        one_call(&shared, 999, 1, threads, "after the workers slept");
    }
    /* Two callers at once with a pool of 2: both must get every index once. */
    cc_parallel_set_threads(2);
    static record second;
    hammer_arg a = {&shared, 300, 0}, b = {&second, 300, 0};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, hammer, &a);
    pthread_create(&tb, NULL, hammer, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    tu_check(a.ok && b.ok, "two threads calling cc_parallel at once");
    printf("cc_parallel: ranges cover every index once for 1 to 4 threads, back to back, after sleep, "
           "and from two callers at once\n");
    return tu_finish("parallel");
}
