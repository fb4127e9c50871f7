/* layers/parallel.h — the kernels' threads: one process-wide pool.
 *
 * cc_parallel(n, grain, fn, arg) splits [0, n) into contiguous ranges, one
 * per thread and none shorter than grain (so small work stays on the calling
 * thread), and returns when fn has run on every range. Work is split along
 * independent outputs (columns of a product, channels, elements): each output
 * is computed by the same arithmetic whatever the thread count.
 *
 * The pool is shared by the process, like OpenBLAS's: cc_parallel_set_threads
 * sizes it (the engine calls it with the context's thread count before each
 * run). A thread that calls cc_parallel while another thread's call holds the
 * pool runs its ranges itself: contexts used concurrently stay correct, they
 * just do not add threads. OpenBLAS always runs on one thread: its own pool
 * would spin against this one. Workers spin briefly between calls (a forward
 * makes hundreds, microseconds apart), then sleep. */
#ifndef CC_PARALLEL_H
#define CC_PARALLEL_H

#include <stddef.h>

typedef void (*cc_range_fn)(void *arg, size_t lo, size_t hi);

/* Threads for later cc_parallel calls, 1 to CC_MAX_THREADS (clamped). Starts
 * workers on first need; returns 0, or -1 when a thread could not be created
 * (the pool then keeps the threads it has). */
enum { CC_MAX_THREADS = 256 };
int cc_parallel_set_threads(int n);
int cc_parallel_threads(void);

void cc_parallel(size_t n, size_t grain, cc_range_fn fn, void *arg);

#endif
