/* runtime/parallel.h — the kernels' threads: one process-wide pool.
 *
 * cc_parallel(n, grain, fn, arg) cuts [0, n) into contiguous chunks, a few
 * per thread and none shorter than grain (so small work stays on the calling
 * thread), and returns when fn has run on every chunk. The chunks depend only
 * on n, grain and the thread count; which thread runs which is decided as
 * they go (each takes the next one from a shared counter), so a thread that
 * is descheduled, or slow to wake, holds up at most the chunk it took: the
 * others, the caller included, take the rest. Work is split along independent
 * outputs (columns of a product, channels, elements): each output is computed
 * by the same arithmetic whichever thread computes it, and each job runs in
 * the caller's floating-point mode (fpenv.h).
 *
 * The pool is shared by the process, like OpenBLAS's: cc_parallel_set_threads
 * sizes it (the engine calls it with the context's thread count before each
 * run), never above the CPUs the process may run on (cc_parallel_cpus): more
 * threads than that only take turns on the same cores. A thread that calls
 * cc_parallel while another thread's call holds the pool runs the same
 * chunks itself: contexts used concurrently get the same results, they just
 * do not add threads. OpenBLAS always runs on one thread: its own pool would
 * spin against this one. Idle workers spin briefly between calls (a forward
 * makes hundreds, microseconds apart), yielding the core to any other thread
 * that wants it, then sleep; one that finds itself descheduled while it spins
 * (a busy machine) sleeps at once. */
#ifndef CC_PARALLEL_H
#define CC_PARALLEL_H

#include <stddef.h>

typedef void (*cc_range_fn)(void *arg, size_t lo, size_t hi);

/* Threads for later cc_parallel calls: n clamped to 1 .. cc_parallel_cpus().
 * Starts workers on first need; returns 0, or -1 when a thread could not be
 * created (the pool then keeps the threads it has). */
enum { CC_MAX_THREADS = 256 };
int cc_parallel_set_threads(int n);
int cc_parallel_threads(void);

/* The CPUs this process may run on now (sched_getaffinity's mask, as
 * `taskset` sets it), 1 to CC_MAX_THREADS; 1 where the system does not say. */
int cc_parallel_cpus(void);

/* Chunks per participating thread: enough that a stalled thread holds up a
 * small share, few enough that the per-chunk cost (a product packs its
 * panels again) stays small. ResNet-34's forward at 2 threads, fastest of 77
 * runs: 31.2 ms with one static range per thread, 32.4 / 33.3 / 35.0 ms with
 * 1 / 2 / 4 chunks per thread; ResNet-18 beside two busy processes on 2
 * cores: 684 ms static, 103 / 97 / 108 chunked (1 thread: 102). */
enum { CC_CHUNKS_PER_THREAD = 2 };

void cc_parallel(size_t n, size_t grain, cc_range_fn fn, void *arg);

#endif
