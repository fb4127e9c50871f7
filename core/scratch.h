/* core/scratch.h — one caller-provided block of scratch cut into regions,
 * for kernels that never allocate and describe what they need as a list of
 * sizes. Each region starts at a multiple of 64 bytes, whatever the block's
 * own alignment (the size counts the slack). */
#ifndef CC_SCRATCH_H
#define CC_SCRATCH_H

#include <stddef.h>

enum { CC_SCRATCH_ALIGN = 64 };

/* Bytes a block needs to hold regions of these n sizes. */
size_t cc_scratch_bytes(const size_t *sizes, int n);

/* regions[i] = the start of region i inside base (cc_scratch_bytes long). */
void cc_scratch_carve(void *base, const size_t *sizes, int n, void **regions);

#endif
