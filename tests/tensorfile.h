/* tests/tensorfile.h — reads the named-tensor fixtures ("CCGF") that
 * tests/gen_gradcam_fixtures.py writes: float32, uint8 and int32 arrays of
 * rank 1..4, each under a name such as "resize/3/src". Every length is
 * checked against the file size; a malformed file fails the load. */
#ifndef CC_TENSORFILE_H
#define CC_TENSORFILE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char name[128];
    char type;                 /* 'f' float32, 'B' uint8, 'i' int32 */
    int rank;
    int dims[4];
    size_t n;                  /* elements */
    void *data;                /* aligned copy: float *, unsigned char * or int32_t * */
} tf_tensor;

typedef struct {
    int count;
    tf_tensor *t;
} tf_file;

/* 0 on success; otherwise prints why to stderr and returns -1. */
int tf_load(tf_file *f, const char *path);
void tf_free(tf_file *f);

/* The tensor of that name and type, or NULL after a failed check naming it.
 * The printf-style name keeps call sites short: tf_get(f, 'f', "norm/%d/in", k). */
const tf_tensor *tf_get(const tf_file *f, char type, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif
