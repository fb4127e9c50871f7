/* tests/tu_files.h — files for the I/O tests: a scratch directory, whole-file
 * reads and writes, and the names a directory holds (to prove that no
 * temporary file was left behind). Abort the test on an unexpected OS error. */
#ifndef CC_TU_FILES_H
#define CC_TU_FILES_H

#include <stddef.h>

/* A fresh directory under $TMPDIR or /tmp; tu_tmpdir_remove deletes it and
 * every plain file in it. */
char *tu_tmpdir_create(const char *tag);
void tu_tmpdir_remove(char *dir);

/* dir + "/" + name in a static buffer (valid until the next call). */
const char *tu_path(const char *dir, const char *name);

/* The whole file, malloc'ed, or NULL (errno set) when it cannot be read. */
unsigned char *tu_read_file(const char *path, size_t *size);
/* Creates or replaces path with n bytes; aborts on failure. */
void tu_write_file(const char *path, const void *data, size_t n);
int tu_file_exists(const char *path);

/* The names in dir (without . and ..), sorted, joined by spaces, in a static buffer. */
const char *tu_dir_listing(const char *dir);

#endif
