/* io/atomic.h — output files that appear whole or not at all.
 *
 * cc_atomic_open creates "<path>.XXXXXX" in the destination's directory (the
 * same file system, so rename() replaces path in one step), the caller writes
 * through f->fp, and cc_atomic_commit flushes, fsyncs, closes and renames it
 * over path; cc_atomic_abort closes and removes it. Either one releases
 * everything, so a reader of path sees the old file or the complete new one,
 * never a partial write, and no temporary file outlives a failure (only a
 * crash of the process can leave one).
 *
 * The temporary file is created with mode 0666 minus the umask, as fopen
 * would create path; mkstemp's 0600 would leave every image unreadable to
 * other users (a web server showing the heatmaps). Replacing makes a new
 * file: a symlink at path is replaced rather than followed, and an old
 * file's mode and owner are not carried over. The directory is not fsynced:
 * after a power cut the rename may be lost, never the data half-written. */
#ifndef CC_ATOMIC_H
#define CC_ATOMIC_H

#include "core/base.h"

#include <stdio.h>

typedef struct {
    FILE *fp;          /* write here between open and commit/abort */
    char *tmp;         /* the temporary path (owned) */
    const char *path;  /* the destination, borrowed: must outlive the commit */
} cc_atomic_file;

cc_status cc_atomic_open(cc_atomic_file *f, const char *path, cc_error *err);
/* Everything is written: make it path. On failure path is untouched. */
cc_status cc_atomic_commit(cc_atomic_file *f, cc_error *err);
/* Something failed: forget the temporary file. Safe on a zeroed f. */
void cc_atomic_abort(cc_atomic_file *f);

#endif
