/* core/scratch.c — aligned regions of one scratch block; see scratch.h. */
#include "core/scratch.h"

#include <stdint.h>

static size_t round_up(size_t bytes)
{
    return (bytes + CC_SCRATCH_ALIGN - 1) / CC_SCRATCH_ALIGN * CC_SCRATCH_ALIGN;
}

size_t cc_scratch_bytes(const size_t *sizes, int n)
{
    size_t total = CC_SCRATCH_ALIGN - 1;  /* room to align the base */
    for (int i = 0; i < n; i++)
        total += round_up(sizes[i]);
    return total;
}

void cc_scratch_carve(void *base, const size_t *sizes, int n, void **regions)
{
    char *at = (char *)base + (round_up((uintptr_t)base) - (uintptr_t)base);
    for (int i = 0; i < n; i++) {
        regions[i] = at;
        at += round_up(sizes[i]);
    }
}
