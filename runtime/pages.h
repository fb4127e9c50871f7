/* runtime/pages.h — pages that can be dropped from the process after use:
 * the low-memory mode (cnncam_set_low_memory), off unless asked for.
 *
 * A model file is mapped read-only and private (weights/reader.c): its pages
 * are clean copies of the page cache, so dropping them from the process
 * (madvise MADV_DONTNEED) loses nothing, and the next read maps them again
 * from the page cache or, after memory pressure, from disk. With streaming
 * on, weights of CC_PAGES_STREAM_BYTES or more are dropped as the loader
 * checks their CRC (weights/reader.c), and the linear layers that read them
 * stream them in chunks (linear_gemm.c): a VGG-16 `cnncam cam` peaks at
 * 142 MiB instead of 588. The price is mapping them again on every pass,
 * about 40 ms per pass over VGG-16's classifier here (a forward in a running
 * process: 255 -> 295 ms; a whole `cnncam cam`: 400 -> 460 ms), which is why
 * it is a choice (the CLI's default for one image and one class) and not the
 * library's default.
 *
 * Only ranges registered here are ever dropped: anything else (a model
 * loaded from memory, f16 weights converted into owned memory) would lose its
 * contents. Registration is process-wide and thread-safe; dropping pages that
 * another thread is reading only makes that thread map them again. */
#ifndef CC_PAGES_H
#define CC_PAGES_H

#include <stddef.h>

/* Weights this big or bigger are streamed; smaller ones stay resident, as
 * every forward reads them. */
enum { CC_PAGES_STREAM_BYTES = 32 << 20 };

/* Streaming on (nonzero) or off (0, the default), for the whole process:
 * models loaded while it is on, and every layer run while it is on. */
void cc_pages_set_streaming(int on);
int cc_pages_streaming(void);

/* [base, base + len): a read-only private file mapping. Returns 0, or -1
 * when the registry is full (the range is then simply never dropped). */
int cc_pages_register(const void *base, size_t len);
void cc_pages_unregister(const void *base);

/* With streaming on, drops the whole pages of [p, p + n) that lie in a
 * registered range; else nothing. */
void cc_pages_release(const void *p, size_t n);

/* Fresh memory that is about to be written whole (a model made in memory):
 * asks for transparent huge pages over the whole pages inside [p, p + n),
 * so filling it faults once per 2 MiB rather than per 4 KiB. Advice only. */
void cc_pages_advise_huge(void *p, size_t n);

#endif
