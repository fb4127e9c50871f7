/* layers/parallel.c — the process-wide pool behind cc_parallel (parallel.h).
 *
 * Worker i (1 .. threads-1) waits on its own slot: the caller writes the job,
 * then bumps the slots of the workers it gives a range to, runs range 0
 * itself, and waits until `pending` (workers not done) is 0. A worker that has
 * nothing to do is never woken. Waiting is a spin (a forward makes hundreds of
 * calls microseconds apart; a futex wake-up costs tens of microseconds) for
 * up to SPIN_NS, then a sleep on a condition variable. The sleepers count and
 * the slot are both sequentially consistent, so either the caller sees the
 * sleeper and broadcasts, or the sleeper sees its slot bumped. */
#include "parallel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

enum { SPIN_NS = 2000000 };

typedef struct {
    _Atomic unsigned ticket;  /* bumped once per range given to this worker */
    size_t lo, hi;            /* the range, written before the bump */
    unsigned start;           /* ticket when the worker was created: a job may come before it runs */
} slot;

static struct {
    pthread_mutex_t busy;     /* held by the one caller running a job */
    pthread_mutex_t sleep;
    pthread_cond_t wake;
    _Atomic int sleepers;
    _Atomic int pending;
    _Atomic int threads;      /* wanted, the caller included */
    int started;              /* workers running (guarded by busy) */
    cc_range_fn fn;
    void *arg;
    slot slots[CC_MAX_THREADS];
} pool = {
    .busy = PTHREAD_MUTEX_INITIALIZER,
    .sleep = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .threads = 1,
};

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void *worker(void *p)
{
    slot *s = p;
    unsigned seen = s->start;
    for (;;) {
        long long spin_end = 0;
        for (unsigned i = 0; atomic_load_explicit(&s->ticket, memory_order_acquire) == seen; i++) {
            cpu_relax();
            if (i % 256)
                continue;
            const long long t = now_ns();
            if (!spin_end)
                spin_end = t + SPIN_NS;
            else if (t > spin_end) {
                pthread_mutex_lock(&pool.sleep);
                atomic_fetch_add(&pool.sleepers, 1);
                while (atomic_load(&s->ticket) == seen)
                    pthread_cond_wait(&pool.wake, &pool.sleep);
                atomic_fetch_sub(&pool.sleepers, 1);
                pthread_mutex_unlock(&pool.sleep);
            }
        }
        seen = atomic_load(&s->ticket);
        pool.fn(pool.arg, s->lo, s->hi);
        atomic_fetch_sub_explicit(&pool.pending, 1, memory_order_release);
    }
    return NULL;
}

int cc_parallel_set_threads(int n)
{
    n = n < 1 ? 1 : n > CC_MAX_THREADS ? CC_MAX_THREADS : n;
    int status = 0;
    pthread_mutex_lock(&pool.busy);
    while (pool.started < n - 1) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        slot *s = &pool.slots[pool.started + 1];
        s->start = atomic_load(&s->ticket);
        const int failed = pthread_create(&t, &attr, worker, s);
        pthread_attr_destroy(&attr);
        if (failed) {
            status = -1;
            n = pool.started + 1;
            break;
        }
        pool.started++;
    }
    atomic_store(&pool.threads, n);
    pthread_mutex_unlock(&pool.busy);
    return status;
}

int cc_parallel_threads(void)
{
    return atomic_load(&pool.threads);
}

void cc_parallel(size_t n, size_t grain, cc_range_fn fn, void *arg)
{
    if (n == 0)
        return;
    grain = grain < 1 ? 1 : grain;
    size_t parts = (size_t)atomic_load(&pool.threads);
    if (parts > n / grain)
        parts = n / grain;
    if (parts <= 1 || pthread_mutex_trylock(&pool.busy) != 0) {
        fn(arg, 0, n);  /* too little work, or another caller holds the pool */
        return;
    }
    parts = parts > (size_t)pool.started + 1 ? (size_t)pool.started + 1 : parts;
    pool.fn = fn;
    pool.arg = arg;
    atomic_store(&pool.pending, (int)parts - 1);
    for (size_t i = 1; i < parts; i++) {
        pool.slots[i].lo = n * i / parts;
        pool.slots[i].hi = n * (i + 1) / parts;
        atomic_fetch_add(&pool.slots[i].ticket, 1);
    }
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.sleep);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.sleep);
    }
    fn(arg, 0, n / parts);
    while (atomic_load_explicit(&pool.pending, memory_order_acquire) > 0)
        cpu_relax();
    pthread_mutex_unlock(&pool.busy);
}
