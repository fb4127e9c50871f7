/* layers/pages.h — pages that can be dropped from the process after use.
 *
 * A model file is mapped read-only and private (weights/reader.c): its pages
 * are clean copies of the page cache, so dropping them from the process
 * (madvise MADV_DONTNEED) loses nothing, and the next read maps them again
 * from the page cache (here 553 MB in about 4 ms) or, after memory pressure,
 * from disk. Dropping the pages of a weight as soon as it has been used keeps
 * a model much larger than its working set out of the resident set. Weights
 * of CC_PAGES_STREAM_BYTES or more are dropped as the loader checks their CRC
 * (weights/reader.c), and the linear layers that read them stream them in
 * chunks (linear_gemm.c): a VGG-16 `cnncam cam` peaked at 588 MiB with
 * the whole 553 MB file resident, and peaks at 142 MiB. The price is mapping
 * the classifier again on each pass: VGG-16's three linear layers take 27 ms
 * per forward instead of 24, and a whole `cnncam cam` 255 ms instead of 240
 * (2 threads).
 *
 * Only ranges registered here are ever dropped: anything else (a model
 * loaded from memory, f16 weights converted into owned memory) would lose its
 * contents. Registration is process-wide and thread-safe; dropping pages that
 * another thread is reading only makes that thread map them again. */
#ifndef CC_PAGES_H
#define CC_PAGES_H

#include <stddef.h>

/* Weights this big or bigger are dropped once the loader has checked them,
 * and streamed by the layers that read them (linear_gemm.c); smaller ones
 * stay resident, as every forward reads them. */
enum { CC_PAGES_STREAM_BYTES = 32 << 20 };

/* [base, base + len): a read-only private file mapping. Returns 0, or -1
 * when the registry is full (the range is then simply never dropped). */
int cc_pages_register(const void *base, size_t len);
void cc_pages_unregister(const void *base);

/* Drops the whole pages of [p, p + n) that lie in a registered range. */
void cc_pages_release(const void *p, size_t n);

#endif
