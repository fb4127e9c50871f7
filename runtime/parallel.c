/* runtime/parallel.c — the process-wide pool behind cc_parallel (parallel.h).
 *
 * A job is published in one 64-bit word, `cursor`: its generation (32 bits),
 * its chunk count and the next chunk not yet taken (16 bits each). The
 * caller writes the job's fields, stores a new generation with next = 0,
 * then takes chunks itself; a worker that sees the new generation takes
 * chunks too, each by a compare-and-swap that also checks the generation, so
 * a worker that wakes after the job is over takes nothing and never touches
 * the next job's fields. `done` counts finished chunks; the caller returns
 * when all are done. It waits only for chunks some thread has taken: a
 * worker that was slow to wake has simply lost its share to the others.
 *
 * Waiting for a job is a spin (a forward makes hundreds of calls
 * microseconds apart; a futex wake-up costs tens of microseconds): for
 * YIELD_NS a plain one, then yielding the core between looks (another thread
 * that wants the core gets it), and after SPIN_NS, or as soon as a look finds
 * the worker was descheduled for more than PREEMPTED_NS (the core has other
 * work), a sleep on a condition variable. The sleepers count and the cursor
 * are both sequentially consistent, so either the caller sees the sleeper
 * and broadcasts, or the sleeper sees the new generation.
 *
 * The worker threads keep whatever floating-point mode the last job set:
 * each job carries its caller's MXCSR and a worker loads it when it differs
 * from its own (once per job, a few cycles), so a worker needs no saved
 * state and no public entry point can leave it in a mode another caller did
 * not ask for. */
#define _GNU_SOURCE  /* sched_getaffinity, CPU_COUNT_S */
#include "runtime/parallel.h"
#include "runtime/fpenv.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

enum {
    YIELD_NS = 50 * 1000,        /* plain spin before yielding */
    SPIN_NS = 2 * 1000 * 1000,   /* spinning with yields before sleeping */
    PREEMPTED_NS = 200 * 1000,   /* a gap this long between two looks: descheduled */
    MAX_CHUNKS = 0xffff,
};

static struct {
    pthread_mutex_t busy;     /* held by the one caller running a job */
    pthread_mutex_t sleep;
    pthread_cond_t wake;
    _Atomic int sleepers;
    _Atomic uint64_t cursor;  /* generation << 32 | chunks << 16 | next */
    _Atomic int done;         /* chunks of this job finished */
    _Atomic int helpers;      /* workers 1 .. helpers may take chunks of this job */
    _Atomic int threads;      /* wanted, the caller included */
    int started;              /* workers running (guarded by busy) */
    /* The job: written by the caller before it publishes the generation,
     * read by a worker only after it took a chunk of that generation. */
    cc_range_fn fn;
    void *arg;
    size_t n;
    unsigned fpmode;
    uint32_t start_gen[CC_MAX_THREADS];  /* the generation when worker i was created */
} pool = {
    .busy = PTHREAD_MUTEX_INITIALIZER,
    .sleep = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .threads = 1,
};

static uint32_t gen_of(uint64_t c) { return (uint32_t)(c >> 32); }
static unsigned chunks_of(uint64_t c) { return (unsigned)(c >> 16) & 0xffff; }
static unsigned next_of(uint64_t c) { return (unsigned)c & 0xffff; }

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

int cc_parallel_cpus(void)
{
    int count = 0;
    for (size_t ncpu = 1024; ncpu <= 65536 && !count; ncpu *= 4) {  /* masks past 1024 CPUs */
        cpu_set_t *set = CPU_ALLOC(ncpu);
        if (!set)
            break;
        const size_t bytes = CPU_ALLOC_SIZE(ncpu);
        if (sched_getaffinity(0, bytes, set) == 0)
            count = CPU_COUNT_S(bytes, set);
        CPU_FREE(set);
        if (!count && errno != EINVAL)
            break;
    }
    return count < 1 ? 1 : count > CC_MAX_THREADS ? CC_MAX_THREADS : count;
}

/* Takes the next chunk of generation gen: returns 1 with its bounds, or 0
 * when that job has no chunk left (or is over). */
static int take(uint32_t gen, size_t *lo, size_t *hi)
{
    uint64_t c = atomic_load_explicit(&pool.cursor, memory_order_acquire);
    for (;;) {
        if (gen_of(c) != gen || next_of(c) >= chunks_of(c))
            return 0;
        if (atomic_compare_exchange_weak_explicit(&pool.cursor, &c, c + 1, memory_order_acq_rel,
                                                  memory_order_acquire))
            break;
    }
    const size_t k = next_of(c), chunks = chunks_of(c);
    *lo = pool.n * k / chunks;
    *hi = pool.n * (k + 1) / chunks;
    return 1;
}

/* Runs chunks of generation gen until none is left. */
static void run_chunks(uint32_t gen)
{
    size_t lo, hi;
    while (take(gen, &lo, &hi)) {
        pool.fn(pool.arg, lo, hi);
        atomic_fetch_add_explicit(&pool.done, 1, memory_order_release);
    }
}

/* Waits until the cursor's generation is not seen; returns the new one. */
static uint32_t wait_job(uint32_t seen)
{
    long long start = 0, last = 0;
    for (unsigned i = 1;; i++) {
        const uint32_t g = gen_of(atomic_load_explicit(&pool.cursor, memory_order_acquire));
        if (g != seen)
            return g;
        cpu_relax();
        if (i % 64)
            continue;
        const long long t = now_ns();
        if (!start)
            start = t;
        else if (t - last > PREEMPTED_NS || t - start > SPIN_NS)
            break;
        else if (t - start > YIELD_NS)
            sched_yield();
        last = t;
    }
    pthread_mutex_lock(&pool.sleep);
    atomic_fetch_add(&pool.sleepers, 1);
    uint32_t g;
    while ((g = gen_of(atomic_load(&pool.cursor))) == seen)
        pthread_cond_wait(&pool.wake, &pool.sleep);
    atomic_fetch_sub(&pool.sleepers, 1);
    pthread_mutex_unlock(&pool.sleep);
    return g;
}

static void *worker(void *p)
{
    const int self = (int)(intptr_t)p;
    uint32_t seen = pool.start_gen[self];
    for (;;) {
        seen = wait_job(seen);
        if (self > atomic_load(&pool.helpers))
            continue;  /* this job wants fewer threads */
        /* The job's fields are read only after a chunk is taken (run_chunks);
         * the mode too, so peek at it the same way. */
        size_t lo, hi;
        if (!take(seen, &lo, &hi))
            continue;
        if (cc_fpenv_get() != pool.fpmode)
            cc_fpenv_set(pool.fpmode);
        pool.fn(pool.arg, lo, hi);
        atomic_fetch_add_explicit(&pool.done, 1, memory_order_release);
        run_chunks(seen);
    }
    return NULL;
}

int cc_parallel_set_threads(int n)
{
    const int cpus = cc_parallel_cpus();
    n = n < 1 ? 1 : n > cpus ? cpus : n;
    int status = 0;
    pthread_mutex_lock(&pool.busy);
    while (pool.started < n - 1) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        const int self = pool.started + 1;
        pool.start_gen[self] = gen_of(atomic_load(&pool.cursor));
        const int failed = pthread_create(&t, &attr, worker, (void *)(intptr_t)self);
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
    if (parts <= 1) {
        fn(arg, 0, n);  /* too little work for two */
        return;
    }
    size_t chunks = parts * CC_CHUNKS_PER_THREAD;
    chunks = chunks > n / grain ? n / grain : chunks;
    chunks = chunks > MAX_CHUNKS ? MAX_CHUNKS : chunks;
    if (pthread_mutex_trylock(&pool.busy) != 0) {
        /* Another caller holds the pool: the same chunks, on this thread. */
        for (size_t k = 0; k < chunks; k++)
            fn(arg, n * k / chunks, n * (k + 1) / chunks);
        return;
    }
    parts = parts > (size_t)pool.started + 1 ? (size_t)pool.started + 1 : parts;
    pool.fn = fn;
    pool.arg = arg;
    pool.n = n;
    pool.fpmode = cc_fpenv_get();
    atomic_store_explicit(&pool.done, 0, memory_order_relaxed);
    atomic_store_explicit(&pool.helpers, (int)parts - 1, memory_order_relaxed);
    const uint32_t gen = gen_of(atomic_load(&pool.cursor)) + 1;
    atomic_store(&pool.cursor, (uint64_t)gen << 32 | (uint64_t)chunks << 16);
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.sleep);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.sleep);
    }
    run_chunks(gen);
    /* Only chunks that workers took are left: wait for those. */
    const long long start = now_ns();
    for (unsigned i = 1; atomic_load_explicit(&pool.done, memory_order_acquire) < (int)chunks; i++) {
        cpu_relax();
        if (i % 64 == 0 && now_ns() - start > YIELD_NS)
            sched_yield();  /* the worker may be waiting for this core */
    }
    pthread_mutex_unlock(&pool.busy);
}
