/* tests/tu_files.c — see tu_files.h. */
#include "tu_files.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void die(const char *what, const char *path)
{
    fprintf(stderr, "test setup: cannot %s '%s': %s\n", what, path, strerror(errno));
    exit(3);
}

char *tu_tmpdir_create(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s/cnncam_%s_XXXXXX", base && *base ? base : "/tmp", tag);
    if (!mkdtemp(buf))
        die("create a directory", buf);
    char *dir = malloc(strlen(buf) + 1);
    if (!dir)
        die("allocate", buf);
    return strcpy(dir, buf);
}

void tu_tmpdir_remove(char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                unlink(tu_path(dir, e->d_name));
        closedir(d);
    }
    rmdir(dir);
    free(dir);
}

const char *tu_path(const char *dir, const char *name)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

unsigned char *tu_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *p = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 65536;
            unsigned char *q = realloc(p, cap);
            if (!q)
                die("allocate for", path);
            p = q;
        }
        size_t k = fread(p + n, 1, cap - n, f);
        n += k;
        if (k == 0)
            break;
    }
    if (ferror(f))
        die("read", path);
    fclose(f);
    *size = n;
    return p;
}

void tu_write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f))
        die("write", path);
}

int tu_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

const char *tu_dir_listing(const char *dir)
{
    static char buf[8192];
    char *names[256];
    int n = 0;
    DIR *d = opendir(dir);
    if (!d)
        die("list", dir);
    struct dirent *e;
    while ((e = readdir(d)) && n < 256)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            names[n] = malloc(strlen(e->d_name) + 1);
            if (!names[n])
                die("allocate for", dir);
            strcpy(names[n++], e->d_name);
        }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, by_name);
    buf[0] = '\0';
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        if (len + strlen(names[i]) + 2 > sizeof buf) {
            free(names[i]);
            continue;
        }
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", i ? " " : "", names[i]);
        free(names[i]);
    }
    return buf;
}
