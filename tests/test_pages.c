/* tests/test_pages.c — the low-memory mode: dropping the pages of a mapped
 * model file after use (runtime/pages.c), and the streamed linear layer that
 * relies on it (layers/linear_gemm.c), measured on the process's resident set
 * (/proc/self/statm). Streaming is turned on for all but the last check.
 *
 * - A registered read-only private file mapping: reading it makes it
 *   resident; releasing half of it drops about that many bytes; reading again
 *   gives back exactly the bytes written to the file. Once unregistered,
 *   releasing drops nothing.
 * - Memory never registered (malloc'ed) keeps its contents when "released":
 *   dropping it would zero it.
 * - A 64 MiB linear weight in a registered mapping, batch 1 (chunked gemv)
 *   and batch 2 (one product): the forward and the input gradient equal the
 *   scalar reference on a malloc'ed copy of the same weight, at 1 and 3
 *   threads. Over the forward, the resident set peaks (VmHWM, reset through
 *   /proc/self/clear_refs) less than half the weight higher at batch 1, and
 *   at batch 2 holds all of it, then drops it.
 * - Streaming off (the default): releasing drops nothing, and the batch-1
 *   linear keeps the whole weight resident. */
#include "testutil.h"
#include "tu_files.h"
#include "layers/kernels.h"
#include "runtime/pages.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Peak resident set since the last reset_peak(), from VmHWM. */
static int reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    const int ok = f && fputs("5", f) >= 0;
    if (f && fclose(f))
        return 0;
    return ok;
}

static double peak_mib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    tu_check(kb >= 0, "VmHWM in /proc/self/status");
    return (double)kb / 1024;
}

static double resident_mib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, resident = 0;
    tu_check(f && fscanf(f, "%ld %ld", &size, &resident) == 2, "/proc/self/statm is readable");
    if (f)
        fclose(f);
    return (double)resident * (double)sysconf(_SC_PAGESIZE) / (1 << 20);
}

/* The file's bytes, mapped as weights/reader.c maps a model. */
static void *map_file(const char *path, size_t n)
{
    const int fd = open(path, O_RDONLY);
    tu_check(fd >= 0, "open %s", path);
    void *p = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    tu_check(p != MAP_FAILED, "mmap %s", path);
    return p == MAP_FAILED ? NULL : p;
}

static double read_all(const cc_real *p, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += p[i];
    return s;
}

static void check_registry(const char *dir)
{
    const size_t n = (size_t)16 << 20 >> 2;  /* 16 MiB of floats */
    tu_rng rng = {77};
    cc_real *data = tu_random_reals(n, &rng);
    const char *path = tu_path(dir, "pages.bin");
    tu_write_file(path, data, n * sizeof *data);
    const cc_real *map = map_file(path, n * sizeof *data);
    if (!map)
        return;
    tu_check(cc_pages_register(map, n * sizeof *data) == 0, "register a mapping");
    const double sum = read_all(map, n);
    const double full = resident_mib();
    cc_pages_release(map, n / 2 * sizeof *data);
    const double half = resident_mib();
    printf("  16 MiB mapping read: %.1f MiB resident; first half released: %.1f MiB\n", full, half);
    tu_check(full - half > 7.5, "releasing 8 MiB of a registered mapping drops it (%.1f MiB dropped)", full - half);
    tu_check(read_all(map, n) == sum && memcmp(map, data, n * sizeof *data) == 0,
             "the released pages read back the file's bytes");
    cc_pages_unregister(map);
    const double before = resident_mib();
    cc_pages_release(map, n * sizeof *data);
    tu_check(before - resident_mib() < 1, "an unregistered mapping is never dropped");
    munmap((void *)map, n * sizeof *data);

    cc_real *heap = tu_random_reals(n, &rng), *copy = tu_alloc(n * sizeof *copy);
    memcpy(copy, heap, n * sizeof *copy);
    cc_pages_release(heap, n * sizeof *heap);
    tu_check(memcmp(heap, copy, n * sizeof *copy) == 0, "memory never registered keeps its contents");
    free(heap), free(copy), free(data);
}

/* The forward and input gradient at batch N on a 64 MiB weight in a
 * registered mapping, and how much higher the resident set peaks. */
static void check_streamed_linear(const char *dir, int N)
{
    const int IN = 4096, OUT = 4096;  /* 64 MiB: streamed in chunks (linear_gemm.c) */
    const size_t nw = (size_t)IN * OUT, bytes = nw * sizeof(cc_real);
    tu_rng rng = {901 + N};
    cc_real *w = tu_random_reals(nw, &rng), *x = tu_random_reals((size_t)N * IN, &rng);
    cc_real *b = tu_random_reals((size_t)OUT, &rng), *dy = tu_random_reals((size_t)N * OUT, &rng);
    const char *path = tu_path(dir, "weight.bin");
    tu_write_file(path, w, bytes);
    const cc_real *map = map_file(path, bytes);
    if (!map)
        return;
    tu_check(cc_pages_register(map, bytes) == 0, "register the weight's mapping");
    cc_real *y_ref = tu_filled_reals((size_t)N * OUT, 0), *dx_ref = tu_filled_reals((size_t)N * IN, 0.5);
    cc_linear_forward(y_ref, x, w, b, N, IN, OUT);
    cc_linear_backward(dx_ref, NULL, NULL, dy, x, w, N, IN, OUT);
    double *want_y = tu_alloc((size_t)N * OUT * sizeof(double)), *want_dx = tu_alloc((size_t)N * IN * sizeof(double));
    double scale_y = 0, scale_dx = 0;
    for (size_t i = 0; i < (size_t)N * OUT; i++)
        want_y[i] = y_ref[i], scale_y = fmax(scale_y, fabs(want_y[i]));
    for (size_t i = 0; i < (size_t)N * IN; i++)
        want_dx[i] = dx_ref[i], scale_dx = fmax(scale_dx, fabs(want_dx[i]));
    for (int threads = 1; threads <= 3; threads += 2) {
        cc_set_threads(threads);
        const int streaming = cc_pages_streaming();
        cc_pages_set_streaming(1);  /* start with none of it resident */
        cc_pages_release(map, bytes);
        cc_pages_set_streaming(streaming);
        cc_real *y = tu_filled_reals((size_t)N * OUT, 7), *dx = tu_filled_reals((size_t)N * IN, 0.5);
        const int peak_ok = reset_peak();
        const double before = resident_mib();
        cc_linear_gemm_forward(y, x, map, b, N, IN, OUT, NULL);
        const double grew = (peak_ok ? peak_mib() : resident_mib()) - before;
        cc_linear_gemm_backward(dx, NULL, NULL, dy, NULL, map, N, IN, OUT, NULL);
        char what[96];
        snprintf(what, sizeof what, "streamed linear forward, batch %d, %d thread(s)", N, threads);
        tu_close(what, y, want_y, (size_t)N * OUT, 1e-5 * scale_y, 1e-5);
        snprintf(what, sizeof what, "streamed linear dinp, batch %d, %d thread(s)", N, threads);
        tu_close(what, dx, want_dx, (size_t)N * IN, 1e-5 * scale_dx, 1e-5);
        printf("  64 MiB weight, batch %d, %d thread(s): the resident set peaked %.1f MiB higher%s\n", N,
               threads, grew, peak_ok ? "" : " (VmHWM cannot be reset here: growth at the end)");
        if (N == 1 && cc_pages_streaming())
            tu_check(grew < 32, "batch 1 streams the weight: the resident set grew %.1f MiB, under half of it",
                     grew);
        else if (cc_pages_streaming())
            tu_check(grew > 56 && resident_mib() - before < 8, "batch 2 holds the weight for one product "
                     "(peak %.1f MiB higher), then drops it", grew);
        else
            tu_check(grew > 56 && resident_mib() - before > 56, "streaming off: the weight stays resident "
                     "(%.1f MiB higher)", resident_mib() - before);
        free(y), free(dx);
    }
    cc_pages_unregister(map);
    munmap((void *)map, bytes);
    free(w), free(x), free(b), free(dy), free(y_ref), free(dx_ref), free(want_y), free(want_dx);
}

int main(void)
{
    char *dir = tu_tmpdir_create("pages");
    tu_check(!cc_pages_streaming(), "the low-memory mode is off by default");
    cc_pages_set_streaming(1);
    check_registry(dir);
    check_streamed_linear(dir, 1);
    check_streamed_linear(dir, 2);
    printf("-- streaming off\n");
    cc_pages_set_streaming(0);
    check_streamed_linear(dir, 1);
    tu_tmpdir_remove(dir);
    return tu_finish("pages");
}
