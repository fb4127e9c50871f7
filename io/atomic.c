/* io/atomic.c — see atomic.h. The temporary name is "<path>." plus six
 * letters and digits from the clock, the process id and the attempt number,
 * created with O_EXCL, so concurrent writers (threads or processes) never
 * share a temporary file; a name that exists already is simply tried again. */
#include "atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { SUFFIX_LEN = 6, MAX_ATTEMPTS = 100 };

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void fill_suffix(char *p, const void *salt, int attempt)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    struct timespec ts = {0, 0};
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t r = mix((uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 30 ^ (uint64_t)getpid() << 17 ^
                     (uint64_t)(uintptr_t)salt ^ (uint64_t)attempt * 0x9E3779B97F4A7C15ull);
    for (int i = 0; i < SUFFIX_LEN; i++, r /= 62)
        p[i] = alphabet[r % 62];
}

cc_status cc_atomic_open(cc_atomic_file *f, const char *path, cc_error *err)
{
    f->fp = NULL;
    f->tmp = NULL;
    f->path = path;
    if (!path || !*path)
        return cc_fail(err, CC_EINVAL, "no output path given");
    size_t n = strlen(path);
    if (path[n - 1] == '/')
        return cc_fail(err, CC_EINVAL, "'%s' names a directory; give a file name", path);
    if (!(f->tmp = malloc(n + 2 + SUFFIX_LEN)))
        return cc_fail(err, CC_ENOMEM, "out of memory writing '%s'", path);
    memcpy(f->tmp, path, n);
    f->tmp[n] = '.';
    f->tmp[n + 1 + SUFFIX_LEN] = '\0';
    int fd = -1;
    for (int attempt = 0; fd < 0 && attempt < MAX_ATTEMPTS; attempt++) {
        fill_suffix(f->tmp + n + 1, f, attempt);
        fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0 || !(f->fp = fdopen(fd, "wb"))) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
            unlink(f->tmp);
        }
        free(f->tmp);
        f->tmp = NULL;
        return cc_fail(err, CC_EIO,
                       "cannot create a temporary file next to '%s' to write it: %s; check that the "
                       "directory exists and is writable",
                       path, strerror(e));
    }
    return CC_OK;
}

cc_status cc_atomic_commit(cc_atomic_file *f, cc_error *err)
{
    const char *step = NULL;
    int e = 0;
    errno = 0;
    if (fflush(f->fp) || ferror(f->fp))
        step = "write", e = errno ? errno : EIO;
    /* EINVAL: a file system that cannot sync (some FUSE mounts); the data is still written. */
    else if (fsync(fileno(f->fp)) && errno != EINVAL)
        step = "sync", e = errno;
    if (fclose(f->fp) && !step)
        step = "close", e = errno;
    f->fp = NULL;
    if (!step && rename(f->tmp, f->path))
        step = "rename the finished temporary file to", e = errno;
    if (step) {
        unlink(f->tmp);
        free(f->tmp);
        f->tmp = NULL;
        return cc_fail(err, CC_EIO, "cannot %s '%s': %s", step, f->path, strerror(e));
    }
    free(f->tmp);
    f->tmp = NULL;
    return CC_OK;
}

void cc_atomic_abort(cc_atomic_file *f)
{
    if (f->fp)
        fclose(f->fp);
    if (f->tmp)
        unlink(f->tmp);
    free(f->tmp);
    f->fp = NULL;
    f->tmp = NULL;
}
