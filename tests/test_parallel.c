/* tests/test_parallel.c — the kernels' thread pool (runtime/parallel.h).
 *
 * cc_parallel must call fn on chunks that cover [0, n) exactly once, in
 * contiguous pieces no shorter than grain (except when n < grain: one piece),
 * at most CC_CHUNKS_PER_THREAD per thread, for any thread count, back to back
 * (hundreds of calls, as a forward makes them), after the workers have gone
 * to sleep (2 ms of spinning, then a condition variable), right after the
 * pool grows (a job can reach a worker before the worker first runs: the
 * lost wake-up this test caught), and from two caller threads at once (the
 * one that does not get the pool runs the same chunks itself). Each index
 * counts its visits; ranges are recorded.
 *
 * The chunks are the same whoever runs them: a call's set of ranges depends
 * on n, grain and the thread count only. A worker that stalls inside its
 * chunk (30 ms) leaves every other chunk to the caller, and a worker that
 * hardly runs (pinned with a spinning thread to one CPU at nice 19) does not
 * hold the caller up: 200 calls take 2-3x what the caller alone takes (the
 * worker's rare chunks cost cache traffic), where static shares took 45x.
 * The thread count never exceeds the CPUs the process may run on.
 *
 * Workers compute in the caller's floating-point mode: with FTZ+DAZ set on
 * the caller, subnormal x * 0.5 is 0 in every chunk, whichever thread ran
 * it; without, it is the subnormal result in every chunk. */
#define _GNU_SOURCE  /* sched_setaffinity, gettid-free /proc/self/task walk */
#include "testutil.h"
#include "runtime/fpenv.h"
#include "runtime/parallel.h"

#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { MAX_N = 100000, MAX_RANGES = 4096 };

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

static int cmp_size(const void *a, const void *b)
{
    const size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* One call; returns 1 when it covered [0, n) once in valid pieces. when NULL:
 * no check counted (a caller thread of its own: the tally is not atomic). */
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
    const int nr = atomic_load(&r->nranges), most = threads * CC_CHUNKS_PER_THREAD;
    int pieces_ok = nr >= (n > 0) && nr <= most;
    for (int k = 0; k < nr && k < MAX_RANGES; k++)
        if (nr > 1 && r->hi[k] - r->lo[k] < grain)
            pieces_ok = 0;
    if (!when)
        return ok && pieces_ok;
    tu_check(ok, "%s: n %zu grain %zu threads %d: index %zu visited %d times", when, n, grain, threads, bad,
             ok ? 1 : atomic_load(&r->visits[bad]));
    tu_check(pieces_ok, "%s: n %zu grain %zu threads %d: %d ranges (at most %d, each >= grain)", when, n,
             grain, threads, nr, most);
    return ok && pieces_ok;
}

/* The sorted starts of the last call's ranges, as a fingerprint of the cut. */
static size_t starts(const record *r, size_t *out)
{
    size_t nr = (size_t)atomic_load(&r->nranges);
    nr = nr < MAX_RANGES ? nr : MAX_RANGES;
    memcpy(out, r->lo, nr * sizeof *out);
    qsort(out, nr, sizeof *out, cmp_size);
    return nr;
}

static record shared;

typedef struct { record *r; int calls, ok; } hammer_arg;

static void *hammer(void *p)
{
    hammer_arg *h = p;
    h->ok = 1;
    for (int c = 0; c < h->calls; c++)
        h->ok &= one_call(h->r, 5000 + (size_t)c % 7, 100, cc_parallel_threads(), NULL);
    return NULL;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void busy_ms(double ms)
{
    const double end = now_ms() + ms;
    while (now_ms() < end)
        ;
}

/* ---- a worker stalls inside its chunk -------------------------------------- */
static pthread_t caller;
static _Atomic int stalled, by_caller, by_workers;

static void stall_once(void *arg, size_t lo, size_t hi)
{
    if (pthread_equal(pthread_self(), caller)) {
        atomic_fetch_add(&by_caller, 1);
        busy_ms(1);  /* long enough for a spinning or sleeping worker to join */
    } else {
        atomic_fetch_add(&by_workers, 1);
        if (!atomic_exchange(&stalled, 1)) {
            const struct timespec t = {0, 30 * 1000 * 1000};
            nanosleep(&t, NULL);
        }
    }
    visit(arg, lo, hi);
}

static void check_stalled_worker(void)
{
    cc_parallel_set_threads(2);
    caller = pthread_self();
    const size_t n = 1000;
    for (int attempt = 0; attempt < 20 && !atomic_load(&stalled); attempt++) {
        for (size_t i = 0; i < n; i++)
            atomic_store(&shared.visits[i], 0);
        atomic_store(&shared.nranges, 0);
        atomic_store(&by_caller, 0), atomic_store(&by_workers, 0);
        const double t = now_ms();
        cc_parallel(n, 1, stall_once, &shared);
        const double ms = now_ms() - t;
        int once = 1;
        for (size_t i = 0; i < n; i++)
            once &= atomic_load(&shared.visits[i]) == 1;
        tu_check(once, "stalled worker: every index once");
        if (atomic_load(&stalled)) {
            const int chunks = 2 * CC_CHUNKS_PER_THREAD;
            tu_check(atomic_load(&by_workers) == 1 && atomic_load(&by_caller) == chunks - 1,
                     "a worker stalled 30 ms in its chunk: the caller ran %d of %d chunks (want %d), workers %d",
                     atomic_load(&by_caller), chunks, chunks - 1, atomic_load(&by_workers));
            printf("stalled worker: the caller ran %d of %d chunks; the call took %.1f ms (30 ms stall)\n",
                   atomic_load(&by_caller), chunks, ms);
        }
    }
    tu_check(atomic_load(&stalled), "no worker joined a call in 20 attempts");
}

/* ---- a worker that hardly runs ---------------------------------------------- */
static _Atomic int hog_stop, hog_tid;

static void *hog(void *p)
{
    (void)p;
    atomic_store(&hog_tid, (int)syscall(SYS_gettid));
    while (!atomic_load(&hog_stop))
        ;
    return NULL;
}

static void pin(pid_t tid, int cpu)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    sched_setaffinity(tid, sizeof s, &s);
}

/* calls back-to-back calls over n indices; returns the wall time. */
static double calls_ms(int calls, size_t n)
{
    const double t = now_ms();
    for (int c = 0; c < calls; c++)
        one_call(&shared, n, 64, 2, "starved worker");
    return now_ms() - t;
}

static void check_starved_worker(void)
{
    cpu_set_t mine;
    if (sched_getaffinity(0, sizeof mine, &mine) || CPU_COUNT(&mine) < 2) {
        tu_skip("starved worker: needs 2 CPUs");
        return;
    }
    int cpus[2], k = 0;
    for (int c = 0; c < CPU_SETSIZE && k < 2; c++)
        if (CPU_ISSET(c, &mine))
            cpus[k++] = c;
    cc_parallel_set_threads(1);
    const double alone = calls_ms(200, MAX_N);
    cc_parallel_set_threads(2);
    one_call(&shared, MAX_N, 64, 2, "starved worker");  /* the worker exists */
    const pid_t self = (pid_t)syscall(SYS_gettid);
    pthread_t h;
    pthread_create(&h, NULL, hog, NULL);
    while (!atomic_load(&hog_tid))
        ;
    /* The hog and every other thread (the pool's worker, OpenBLAS's idle
     * ones) on the first CPU, the others at nice 19: against the hog's 0 the
     * worker gets ~1.5% of that CPU. This thread, the caller, on the second. */
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        const int tid = atoi(e->d_name);
        if (e->d_name[0] == '.' || tid == self)
            continue;
        pin(tid, cpus[0]);
        if (tid != atomic_load(&hog_tid))
            setpriority(PRIO_PROCESS, (id_t)tid, 19);
    }
    if (d)
        closedir(d);
    pin(self, cpus[1]);
    const double starved = calls_ms(200, MAX_N);
    atomic_store(&hog_stop, 1);
    pthread_join(h, NULL);
    cpu_set_t all = mine;
    sched_setaffinity(self, sizeof all, &all);
    printf("starved worker: 200 calls took %.1f ms; the caller alone %.1f\n", starved, alone);
    /* Static shares (each thread its own range) took 45x as long; a loaded
     * machine makes this up to 3x. */
    tu_check(starved < 10 * alone + 200, "200 calls with a starved worker took %.1f ms, the caller alone %.1f",
             starved, alone);
}

/* ---- the workers take the caller's floating-point mode ---------------------- */
static volatile float tiny_in[MAX_N];
static float tiny_out[MAX_N];
static _Atomic int worker_ranges;

static void halve(void *arg, size_t lo, size_t hi)
{
    (void)arg;
    if (!pthread_equal(pthread_self(), caller))
        atomic_fetch_add(&worker_ranges, 1);
    for (size_t i = lo; i < hi; i++)
        tiny_out[i] = tiny_in[i] * 0.5f;
    busy_ms(0.2);
}

static void check_fp_mode(void)
{
#ifdef CC_FPENV_X86
    cc_parallel_set_threads(2);
    caller = pthread_self();
    for (size_t i = 0; i < MAX_N; i++)
        tiny_in[i] = 3e-39f;  /* subnormal; half of it too */
    const unsigned ieee = cc_fpenv_get();
    const float half = tiny_in[0] * 0.5f;  /* IEEE: a subnormal, not 0 */
    tu_check(half != 0, "3e-39 * 0.5 is %g in the caller's own mode", (double)half);
    for (int ftz = 1; ftz >= 0; ftz--) {
        atomic_store(&worker_ranges, 0);
        for (int attempt = 0; attempt < 20 && !atomic_load(&worker_ranges); attempt++) {
            const unsigned saved = ftz ? cc_fpenv_enter() : cc_fpenv_get();
            cc_parallel(MAX_N, 1000, halve, NULL);
            cc_fpenv_leave(saved);
        }
        size_t wrong = 0;
        for (size_t i = 0; i < MAX_N; i++)
            wrong += ftz ? tiny_out[i] != 0 : tiny_out[i] != half;
        tu_check(atomic_load(&worker_ranges) > 0, "fp mode: no worker took a range");
        tu_check(!wrong, "%s: %zu of %d subnormal halves wrong (want %s)", ftz ? "FTZ+DAZ" : "IEEE", wrong, MAX_N,
                 ftz ? "0" : "1.5e-39");
    }
    const unsigned control = ~0x3fu;  /* not the status flags this test raised */
    tu_check((cc_fpenv_get() & control) == (ieee & control), "the caller's MXCSR %#x, was %#x", cc_fpenv_get(),
             ieee);
#else
    tu_skip("floating-point mode: FTZ/DAZ exist on x86 only");
#endif
}

int main(void)
{
    static const size_t sizes[] = {0, 1, 2, 3, 15, 16, 17, 100, 1000, 4097, MAX_N};
    static const size_t grains[] = {1, 7, 64, 1000};
    static const int thread_counts[] = {1, 2, 3, 4, 2, 1};
    const int cpus = cc_parallel_cpus();
    cpu_set_t mine;
    tu_check(sched_getaffinity(0, sizeof mine, &mine) == 0 && cpus == CPU_COUNT(&mine),
             "cc_parallel_cpus() %d, the affinity mask holds %d", cpus, CPU_COUNT(&mine));
    for (size_t t = 0; t < sizeof thread_counts / sizeof *thread_counts; t++) {
        const int asked = thread_counts[t], threads = asked < cpus ? asked : cpus;
        tu_check(cc_parallel_set_threads(asked) == 0, "could not start %d threads", asked);
        tu_check(cc_parallel_threads() == threads, "cc_parallel_threads() %d, set %d with %d CPUs (want %d)",
                 cc_parallel_threads(), asked, cpus, threads);
        /* the first call right after the pool grew */
        one_call(&shared, 1000, 1, threads, "first call");
        for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
            for (size_t g = 0; g < sizeof grains / sizeof *grains; g++)
                one_call(&shared, sizes[i], grains[g], threads, "sizes");
        int ok = 1, same = 1;
        static size_t first[MAX_RANGES], again[MAX_RANGES];
        size_t nfirst = 0;
        for (int c = 0; c < 500; c++) {  /* back to back; the cut of n = 4097 never changes */
            ok &= one_call(&shared, 64 + (size_t)c, 8, threads, "back to back");
            ok &= one_call(&shared, 4097, 7, threads, "back to back");
            if (!c) {
                nfirst = starts(&shared, first);
            } else {
                const size_t nr = starts(&shared, again);
                same &= nr == nfirst && !memcmp(first, again, nr * sizeof *first);
            }
        }
        tu_check(ok, "500 calls back to back with %d threads", threads);
        tu_check(same, "the chunks of n = 4097 changed from one call to the next with %d threads", threads);
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
    if (cpus >= 2) {
        check_stalled_worker();
        check_fp_mode();
    } else {
        tu_skip("stalled worker and fp mode of workers: one CPU, so no worker");
    }
    check_starved_worker();
    printf("cc_parallel: chunks cover every index once for 1 to 4 threads (at most %d CPUs), back to back, "
           "after sleep, from two callers at once, with a stalled and a starved worker\n", cpus);
    return tu_finish("parallel");
}
