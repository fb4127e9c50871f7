/* runtime/pages.c — the registry of droppable mappings (pages.h). */
#define _DEFAULT_SOURCE  /* madvise: posix_madvise's DONTNEED is a no-op in glibc */
#include "runtime/pages.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

enum { MAX_RANGES = 64 };

static struct {
    pthread_mutex_t lock;
    int n;
    struct { uintptr_t lo, hi; } range[MAX_RANGES];
} reg = {.lock = PTHREAD_MUTEX_INITIALIZER};

static _Atomic int streaming;

void cc_pages_set_streaming(int on)
{
    atomic_store(&streaming, on != 0);
}

int cc_pages_streaming(void)
{
    return atomic_load(&streaming);
}

int cc_pages_register(const void *base, size_t len)
{
    pthread_mutex_lock(&reg.lock);
    const int ok = reg.n < MAX_RANGES;
    if (ok) {
        reg.range[reg.n].lo = (uintptr_t)base;
        reg.range[reg.n].hi = (uintptr_t)base + len;
        reg.n++;
    }
    pthread_mutex_unlock(&reg.lock);
    return ok ? 0 : -1;
}

void cc_pages_unregister(const void *base)
{
    pthread_mutex_lock(&reg.lock);
    for (int i = 0; i < reg.n; i++)
        if (reg.range[i].lo == (uintptr_t)base) {
            reg.range[i] = reg.range[--reg.n];
            break;
        }
    pthread_mutex_unlock(&reg.lock);
}

void cc_pages_release(const void *p, size_t n)
{
    if (!cc_pages_streaming())
        return;
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)p + page - 1) / page * page, hi = ((uintptr_t)p + n) / page * page;
    pthread_mutex_lock(&reg.lock);
    for (int i = 0; i < reg.n && lo < hi; i++)
        if (lo >= reg.range[i].lo && hi <= reg.range[i].hi) {
            /* Cannot fail on a mapped range; if it did, the pages would just stay. */
            (void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
            break;
        }
    pthread_mutex_unlock(&reg.lock);
}

void cc_pages_advise_huge(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    const uintptr_t lo = ((uintptr_t)p + page - 1) / page * page, hi = ((uintptr_t)p + n) / page * page;
    if (hi > lo)
        (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
    (void)p, (void)n;
#endif
}
