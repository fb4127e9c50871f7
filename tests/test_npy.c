/* tests/test_npy.c — io/npy.h against NumPy's own files (tests/data/npy,
 * written by tests/gen_npy_fixtures.py):
 *  - cc_npy_read reads every good file exactly (versions 1.0, 2.0, 3.0;
 *    '<f4' bit for bit, '<f8' rounded to float) and rejects NumPy files of
 *    other kinds (Fortran order, big-endian, int32, scalar, rank 7, empty)
 *    with a message naming what to do;
 *  - cc_npy_decode gives what cc_npy_read gives (status, message, shape and
 *    bits) for the same bytes in memory, for every NumPy file and hand-made case;
 *  - cc_npy_write reproduces numpy.save's bytes exactly for the same arrays,
 *    so np.load reads what we write; random round trips are bit-exact;
 *  - 40-odd hand-made malformed headers, every truncation and thousands of
 *    bit flips are rejected or read sanely, never crash or leak (`make asan`);
 *  - writes are atomic: a failing write (RLIMIT_FSIZE) leaves the old file
 *    and no temporary file. */
#include "io/npy.h"
#include "testutil.h"
#include "tu_files.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define DATA "tests/data/npy/"


/* The arrays tests/gen_npy_fixtures.py saves, by the same formulas. */
typedef struct {
    const char *file;
    int rank, shape[CC_MAX_RANK];
    float v[24];
} known_array;

static known_array known(int which)
{
    known_array a = {NULL, 0, {0}, {0}};
    switch (which) {
    case 0:
        a = (known_array){"good_rank1.npy", 1, {7}, {0.0f, -0.0f, 1.5f, -2.25f, FLT_MAX, 0, INFINITY}};
        a.v[5] = nextafterf(0.0f, 1.0f);
        return a;
    case 1:
    case 2:
        a = which == 1 ? (known_array){"good_2x3.npy", 2, {2, 3}, {0}} : (known_array){"good_12x2.npy", 2, {12, 2}, {0}};
        for (int i = 0; i < a.shape[0] * a.shape[1]; i++)
            a.v[i] = (float)(i * 0.5 - 1);
        return a;
    default:
        a = which == 3 ? (known_array){"good_1x2x3x4.npy", 4, {1, 2, 3, 4}, {0}}
                       : (known_array){"good_2x1x3x1x2x2.npy", 6, {2, 1, 3, 1, 2, 2}, {0}};  /* rank CC_MAX_RANK */
        for (int i = 0; i < 24; i++)
            a.v[i] = (float)((i * 37 % 101) / 8.0 - 6);
        return a;
    }
}

static int numel_of(const int *shape, int rank)
{
    int n = 1;
    for (int i = 0; i < rank; i++)
        n *= shape[i];
    return n;
}

static int same_bits(const float *a, const float *b, int n)
{
    return !memcmp(a, b, (size_t)n * sizeof *a);
}

/* cc_npy_decode on the bytes of path gives what cc_npy_read gives on the file. */
static void check_decode_matches_read(const char *path, const char *label)
{
    float *fdata = NULL, *mdata = NULL;
    int fshape[CC_MAX_RANK] = {0}, mshape[CC_MAX_RANK] = {0}, frank = 0, mrank = 0;
    cc_error ferr = {""}, merr = {""};
    size_t n;
    unsigned char *bytes = tu_read_file(path, &n);
    if (!bytes) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(3);
    }
    cc_status fst = cc_npy_read(path, &fdata, fshape, &frank, &ferr);
    cc_status mst = cc_npy_decode(bytes, n, path, &mdata, mshape, &mrank, &merr);
    int same = fst == mst && frank == mrank && !memcmp(fshape, mshape, sizeof fshape) &&
               (fst ? !strcmp(ferr.msg, merr.msg) && !mdata : same_bits(fdata, mdata, numel_of(fshape, frank)));
    tu_check(same, "%s: cc_npy_decode gives status %d rank %d (%s), cc_npy_read status %d rank %d (%s)", label, mst,
             mrank, mst ? merr.msg : "ok", fst, frank, fst ? ferr.msg : "ok");
    free(fdata);
    free(mdata);
    free(bytes);
}

static void check_read(const char *file, int rank, const int *shape, const float *want, const char *label)
{
    float *data;
    int got_shape[CC_MAX_RANK] = {0}, got_rank;
    cc_error err;
    char path[256];
    snprintf(path, sizeof path, DATA "%s", file);
    check_decode_matches_read(path, label);
    cc_status st = cc_npy_read(path, &data, got_shape, &got_rank, &err);
    tu_check(!st, "%s: %s", label, st ? err.msg : "");
    if (st)
        return;
    int ok = got_rank == rank && !memcmp(got_shape, shape, (size_t)rank * sizeof *shape);
    tu_check(ok, "%s: rank %d shape %dx%dx%dx%dx%dx%d, want rank %d", label, got_rank, got_shape[0], got_shape[1],
             got_shape[2], got_shape[3], got_shape[4], got_shape[5], rank);
    if (ok) {
        int n = numel_of(shape, rank);
        tu_check(same_bits(data, want, n), "%s: values differ from NumPy's (first: got %g, want %g)", label,
                 (double)data[0], (double)want[0]);
    }
    free(data);
}

static void test_numpy_files(const char *dir)
{
    for (int k = 0; k < 5; k++) {
        known_array a = known(k);
        check_read(a.file, a.rank, a.shape, a.v, a.file);
        /* The writer gives numpy.save's bytes. */
        cc_error err;
        const char *out = tu_path(dir, "mine.npy");
        char path[4096];
        snprintf(path, sizeof path, "%s", out);
        cc_status st = cc_npy_write(path, a.v, a.shape, a.rank, &err);
        tu_check(!st, "write like %s: %s", a.file, st ? err.msg : "");
        size_t n_mine, n_numpy;
        unsigned char *mine = tu_read_file(path, &n_mine);
        char ref[256];
        snprintf(ref, sizeof ref, DATA "%s", a.file);
        unsigned char *numpy = tu_read_file(ref, &n_numpy);
        size_t first = 0;
        while (mine && numpy && first < n_mine && first < n_numpy && mine[first] == numpy[first])
            first++;
        tu_check(mine && numpy && n_mine == n_numpy && first == n_mine,
                 "cc_npy_write differs from numpy.save for %s: %zu vs %zu bytes, first difference at byte %zu",
                 a.file, n_mine, n_numpy, first);
        free(mine);
        free(numpy);
        unlink(path);
    }
    known_array a = known(1);
    check_read("good_v2_2x3.npy", 2, a.shape, a.v, "version 2.0 header");
    check_read("good_v3_2x3.npy", 2, a.shape, a.v, "version 3.0 header");
    const float f8[4] = {(float)0.1, (float)-1e-3, (float)1e30, 3.0f};
    check_read("good_f8_2x2.npy", 2, (const int[]){2, 2}, f8, "'<f8' rounded to float");

    static const struct { const char *file; const char *says; } bad[] = {
        {"bad_fortran.npy", "Fortran"}, {"bad_big_endian.npy", "'>f4'"}, {"bad_int32.npy", "'<i4'"},
        {"bad_scalar.npy", "()"},       {"bad_rank7.npy", "more than 6"}, {"bad_empty.npy", "empty"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, DATA "%s", bad[i].file);
        float *data = (float *)&data;
        int shape[CC_MAX_RANK], rank = 9;
        cc_error err;
        tu_expect_error(bad[i].file, cc_npy_read(path, &data, shape, &rank, &err), CC_EFORMAT, &err, bad[i].file,
                     bad[i].says, NULL);
        tu_check(data == NULL && rank == 0, "%s: a failed read leaves data NULL and rank 0", bad[i].file);
        check_decode_matches_read(path, bad[i].file);
    }

    /* cc_npy_decode's own arguments. */
    float *data = (float *)&data;
    int shape[CC_MAX_RANK], rank = 9;
    cc_error err;
    tu_expect_error("decode 0 bytes", cc_npy_decode("", 0, NULL, &data, shape, &rank, &err), CC_EFORMAT, &err,
                    "array: 0 bytes", NULL);
    tu_check(data == NULL && rank == 0, "decode 0 bytes: data NULL and rank 0");
    tu_expect_error("decode NULL with a size", cc_npy_decode(NULL, 10, "x.npy", &data, shape, &rank, &err),
                    CC_EINVAL, &err, "x.npy", "NULL", NULL);
    tu_expect_error("decode into NULL", cc_npy_decode("", 0, "x.npy", NULL, shape, &rank, &err), CC_EINVAL, &err,
                    "cc_npy_decode", NULL);
}

/* ---- hand-made files ---- */

/* magic (NULL: the right one), version, header length (hlen < 0: the text's
 * own length), the text, then the first ndata bytes of 1.0f, 2.0f, ... as '<f4'. */
static void make(const char *path, const char *magic, int major, int minor, long long hlen, const char *text,
                 size_t text_len, size_t ndata)
{
    unsigned char buf[65536];
    size_t n = 0;
    memcpy(buf, magic ? magic : "\x93NUMPY", 6);
    n = 6;
    buf[n++] = (unsigned char)major;
    buf[n++] = (unsigned char)minor;
    unsigned long long L = hlen < 0 ? text_len : (unsigned long long)hlen;
    for (int b = 0; b < (major == 1 ? 2 : 4); b++)
        buf[n++] = (unsigned char)(L >> (8 * b));
    memcpy(buf + n, text, text_len);
    n += text_len;
    for (size_t i = 0; i < ndata; i++) {
        float f = (float)(i / 4 + 1);
        uint32_t u;
        memcpy(&u, &f, 4);
        buf[n++] = (unsigned char)(u >> (8 * (i % 4)));
    }
    tu_write_file(path, buf, n);
}

#define H(s) s, sizeof(s) - 1

static void test_malformed(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", tu_path(dir, "case.npy"));
    static const struct { const char *label, *text; size_t len; size_t ndata; const char *says; } cases[] = {
        /* accepted: numpy's dict in other legal spellings */
        {"numpy's own, unpadded", H("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n"), 24, NULL},
        {"double quotes, other order, no trailing comma",
         H("{\"shape\": (2,3), \"fortran_order\": False, \"descr\": \"<f4\"}"), 24, NULL},
        {"spaces and newlines", H("{ 'descr' : '<f4' ,\n 'fortran_order' : False , 'shape' : ( 2 , 3 , ) , }  \n"),
         24, NULL},
        /* rejected */
        {"not a dict", H("['descr', '<f4']\n"), 24, "expected '{'"},
        {"empty dict", H("{}\n"), 24, "'descr' is missing"},
        {"no shape", H("{'descr': '<f4', 'fortran_order': False}\n"), 24, "'shape' is missing"},
        {"no fortran_order", H("{'descr': '<f4', 'shape': (2, 3)}\n"), 24, "'fortran_order' is missing"},
        {"no descr", H("{'fortran_order': False, 'shape': (2, 3)}\n"), 24, "'descr' is missing"},
        {"extra key", H("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}\n"), 24,
         "not one numpy writes"},
        {"duplicate key", H("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}\n"), 24,
         "given twice"},
        {"unquoted key", H("{descr: '<f4', 'fortran_order': False, 'shape': (2, 3)}\n"), 24, "quoted key"},
        {"escaped key", H("{'des\\cr': '<f4', 'fortran_order': False, 'shape': (2, 3)}\n"), 24, "quoted key"},
        {"unterminated string", H("{'descr': '<f4, 'fortran_order': False, 'shape': (2, 3)}\n"), 24,
         "dtype is '<f4, '"},
        {"string to the end", H("{'descr"), 24, "quoted key"},
        {"no colon", H("{'descr' '<f4', 'fortran_order': False, 'shape': (2, 3)}\n"), 24, "expected ':'"},
        {"no comma", H("{'descr': '<f4' 'fortran_order': False, 'shape': (2, 3)}\n"), 24, "expected ',' or '}'"},
        {"no closing brace", H("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)\n"), 24,
         "expected ',' or '}'"},
        {"float16", H("{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3)}\n"), 12, "'<f2'"},
        {"uint8", H("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3)}\n"), 6, "'|u1'"},
        {"structured dtype", H("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2, 3)}\n"), 24,
         "structured"},
        {"descr too long", H("{'descr': '<f4<f4<f4<f4<f4<f4<f4<f4<f4<f4<f4', 'fortran_order': False, 'shape': (2,)}\n"),
         8, "'descr'"},
        {"fortran_order false", H("{'descr': '<f4', 'fortran_order': false, 'shape': (2, 3)}\n"), 24,
         "True or False"},
        {"fortran_order Falsey", H("{'descr': '<f4', 'fortran_order': Falsey, 'shape': (2, 3)}\n"), 24,
         "True or False"},
        {"fortran_order 0", H("{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3)}\n"), 24, "True or False"},
        {"shape (5) is an int", H("{'descr': '<f4', 'fortran_order': False, 'shape': (5)}\n"), 20, "(n,)"},
        {"shape a list", H("{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3]}\n"), 24, "tuple"},
        {"shape negative", H("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}\n"), 4, "non-negative"},
        {"shape plus sign", H("{'descr': '<f4', 'fortran_order': False, 'shape': (+2, 3)}\n"), 24, "non-negative"},
        {"shape float", H("{'descr': '<f4', 'fortran_order': False, 'shape': (2.0, 3)}\n"), 24, "',' or ')'"},
        {"shape leading zero", H("{'descr': '<f4', 'fortran_order': False, 'shape': (02, 3)}\n"), 24,
         "non-negative"},
        {"shape double comma", H("{'descr': '<f4', 'fortran_order': False, 'shape': (2,, 3)}\n"), 24,
         "non-negative"},
        {"shape unterminated", H("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3}\n"), 24, "',' or ')'"},
        {"shape zero", H("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 0)}\n"), 0, "empty"},
        {"shape scalar", H("{'descr': '<f4', 'fortran_order': False, 'shape': ()}\n"), 4, "scalar"},
        {"shape rank 7", H("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 2, 3)}\n"), 24,
         "more than 6 dimensions; rank 1..6"},
        {"shape 2^31", H("{'descr': '<f4', 'fortran_order': False, 'shape': (2147483648,)}\n"), 24,
         "larger than 2147483647"},
        {"shape of 25 digits", H("{'descr': '<f4', 'fortran_order': False, 'shape': (9999999999999999999999999,)}\n"),
         24, "larger than 2147483647"},
        {"2^32 elements", H("{'descr': '<f4', 'fortran_order': False, 'shape': (65536, 65536)}\n"), 24,
         "limit of one tensor"},
        {"2^31 elements over 4 dims", H("{'descr': '<f4', 'fortran_order': False, 'shape': (2147483647, 2, 1, 1)}\n"),
         24, "limit of one tensor"},
        {"text after the dict", H("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)} x\n"), 24,
         "after the dict"},
        {"non-ASCII byte", H("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}\xe9\n"), 24,
         "not printable ASCII"},
        {"control byte", H("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}\x01\n"), 24, "0x01"},
        {"NUL byte", H("{'descr': '<f4'\0, 'fortran_order': False, 'shape': (2, 3)}\n"), 24, "0x00"},
        {"data one byte short", H("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}\n"), 23, "truncated"},
        {"data one byte long", H("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}\n"), 25, "trailing"},
        {"no data", H("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}\n"), 0, "truncated"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        make(path, NULL, 1, 0, -1, cases[i].text, cases[i].len, cases[i].ndata);
        float *data;
        int shape[CC_MAX_RANK], rank;
        cc_error err;
        cc_status st = cc_npy_read(path, &data, shape, &rank, &err);
        check_decode_matches_read(path, cases[i].label);
        if (!cases[i].says) {
            const float want[6] = {1, 2, 3, 4, 5, 6};  /* what make() writes */
            tu_check(!st && rank == 2 && shape[0] == 2 && shape[1] == 3 && same_bits(data, want, 6), "%s: %s",
                     cases[i].label, st ? err.msg : "wrong shape or values");
            free(data);
        } else {
            tu_expect_error(cases[i].label, st, CC_EFORMAT, &err, cases[i].says, NULL);
            tu_check(!data && !rank, "%s: failed read leaves data", cases[i].label);
        }
    }

    /* Rank 6, CC_MAX_RANK, is the most a shape may have (rank 7 is refused above). */
    {
        make(path, NULL, 1, 0, -1, H("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 2, 1, 3, 1)}\n"), 24);
        float *data6;
        int shape6[CC_MAX_RANK] = {0}, rank6 = 0;
        cc_error err6;
        cc_status st6 = cc_npy_read(path, &data6, shape6, &rank6, &err6);
        check_decode_matches_read(path, "shape rank 6");
        const float want[6] = {1, 2, 3, 4, 5, 6};
        tu_check(!st6 && rank6 == 6 && !memcmp(shape6, (const int[]){1, 1, 2, 1, 3, 1}, sizeof shape6) &&
                     same_bits(data6, want, 6),
                 "shape rank 6: %s", st6 ? err6.msg : "wrong shape or values");
        if (!st6)
            free(data6);
    }

    /* The fixed part. */
    static const char good[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}\n";
    float *data;
    int shape[CC_MAX_RANK], rank;
    cc_error err;
    make(path, "\x93NUMPZ", 1, 0, -1, H(good), 24);
    tu_expect_error("bad magic", cc_npy_read(path, &data, shape, &rank, &err), CC_EFORMAT, &err, "\\x93NUMPY", NULL);
    make(path, NULL, 4, 0, -1, H(good), 24);
    tu_expect_error("version 4.0", cc_npy_read(path, &data, shape, &rank, &err), CC_EFORMAT, &err, "version 4.0", NULL);
    make(path, NULL, 1, 1, -1, H(good), 24);
    tu_expect_error("version 1.1", cc_npy_read(path, &data, shape, &rank, &err), CC_EFORMAT, &err, "version 1.1", NULL);
    make(path, NULL, 0, 0, -1, H(good), 24);
    tu_expect_error("version 0.0", cc_npy_read(path, &data, shape, &rank, &err), CC_EFORMAT, &err, "version 0.0", NULL);
    make(path, NULL, 1, 0, 9000, H(good), 24);
    tu_expect_error("header past the end", cc_npy_read(path, &data, shape, &rank, &err), CC_EFORMAT, &err,
                 "past the end", "9000", NULL);
    make(path, NULL, 1, 0, 60000, H(good), 24);
    tu_expect_error("v1 header over 10000", cc_npy_read(path, &data, shape, &rank, &err), CC_EFORMAT, &err, "60000",
                 "10000", NULL);
    make(path, NULL, 2, 0, 0xFFFFFFFFll, H(good), 24);
    tu_expect_error("v2 header of 4 GB", cc_npy_read(path, &data, shape, &rank, &err), CC_EFORMAT, &err, "4294967295",
                 "10000", NULL);
    make(path, NULL, 1, 0, 40, H(good), 24);  /* the header ends inside the dict */
    tu_expect_error("header length too short", cc_npy_read(path, &data, shape, &rank, &err), CC_EFORMAT, &err,
                 ".npy header", NULL);
    make(path, NULL, 1, 0, -1, "", 0, 0);
    tu_expect_error("nothing after the length", cc_npy_read(path, &data, shape, &rank, &err), CC_EFORMAT, &err,
                 "expected '{'", NULL);
    tu_write_file(path, "\x93NUMPY\x01", 7);
    tu_expect_error("7 bytes", cc_npy_read(path, &data, shape, &rank, &err), CC_EFORMAT, &err, "too short", NULL);
    tu_write_file(path, "\x93NUMPY\x02\x00\x10\x00\x00", 11);
    tu_expect_error("v2 in 11 bytes", cc_npy_read(path, &data, shape, &rank, &err), CC_EFORMAT, &err,
                 "too short for a version 2", NULL);
    tu_write_file(path, "", 0);
    tu_expect_error("empty file", cc_npy_read(path, &data, shape, &rank, &err), CC_EFORMAT, &err, "0 bytes", NULL);
    tu_expect_error("a directory", cc_npy_read(dir, &data, shape, &rank, &err), CC_EIO, &err, "directory", NULL);
    tu_expect_error("missing", cc_npy_read(tu_path(dir, "nope.npy"), &data, shape, &rank, &err), CC_EIO, &err,
                 strerror(ENOENT), NULL);
    tu_expect_error("NULL data", cc_npy_read(path, NULL, shape, &rank, &err), CC_EINVAL, &err, NULL);

    /* '<f8' beyond float. */
    static const char f8[] = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}\n";
    unsigned char file[128];
    size_t n = 0;
    memcpy(file, "\x93NUMPY\x01\x00", 8);
    file[8] = (unsigned char)(sizeof f8 - 1);
    file[9] = 0;
    n = 10;
    memcpy(file + n, f8, sizeof f8 - 1);
    n += sizeof f8 - 1;
    const double vals[2] = {1.0, -1e300};
    for (int i = 0; i < 2; i++) {
        uint64_t u;
        memcpy(&u, &vals[i], 8);
        for (int b = 0; b < 8; b++)
            file[n++] = (unsigned char)(u >> (8 * b));
    }
    tu_write_file(path, file, n);
    tu_expect_error("f8 -1e300", cc_npy_read(path, &data, shape, &rank, &err), CC_EFORMAT, &err, "element 1",
                 "beyond the range of float", NULL);
    unlink(path);
}

/* ---- damage ---- */

static int read_checked(const char *path, int *insane)
{
    float *data = (float *)&data;
    int shape[CC_MAX_RANK] = {0}, rank = 99;
    cc_error err = {""};
    cc_status st = cc_npy_read(path, &data, shape, &rank, &err);
    int ok = st ? data == NULL && rank == 0 && err.msg[0]
                : data != NULL && rank >= 1 && rank <= CC_MAX_RANK && numel_of(shape, rank) >= 1;
    *insane += !ok;
    if (!st)
        free(data);
    return st != CC_OK;
}

static void test_damage(const char *dir)
{
    static const char *const files[] = {DATA "good_2x3.npy", DATA "good_f8_2x2.npy", DATA "good_v2_2x3.npy"};
    char path[4096];
    snprintf(path, sizeof path, "%s", tu_path(dir, "damaged.npy"));
    for (int f = 0; f < 3; f++) {
        size_t n;
        unsigned char *full = tu_read_file(files[f], &n);
        if (!full) {
            fprintf(stderr, "cannot read %s\n", files[f]);
            exit(3);
        }
        int accepted = 0, insane = 0, tried = 0;
        for (size_t len = 0; len < n; len++, tried++) {
            tu_write_file(path, full, len);
            accepted += !read_checked(path, &insane);
        }
        tu_check(!accepted && !insane, "%s: %d of %d truncations accepted, %d insane", files[f], accepted, tried,
                 insane);
        int rejected = 0;
        tried = insane = 0;
        unsigned char *p = malloc(n);
        for (size_t i = 0; i < n; i++)
            for (int bit = 0; bit < 8; bit++, tried++) {
                memcpy(p, full, n);
                p[i] ^= (unsigned char)(1u << bit);
                tu_write_file(path, p, n);
                rejected += read_checked(path, &insane);
            }
        tu_check(!insane, "%s: %d of %d bit flips gave an insane result", files[f], insane, tried);
        printf("%s: %d of %d single-bit flips rejected (the rest change values or padding)\n", files[f], rejected,
               tried);
        free(p);
        free(full);
    }
    unlink(path);
}

/* ---- writing ---- */

static void test_write(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", tu_path(dir, "rt.npy"));
    tu_rng rng = {11};
    static const int shapes[][7] = {{1, 1},          {1, 100000},          {2, 7, 1},         {3, 3, 5, 7},
                                    {4, 2, 3, 5, 7}, {4, 1, 1, 1, 1},      {5, 2, 1, 3, 4, 5}, {6, 2, 3, 1, 4, 2, 3},
                                    {6, 1, 1, 1, 1, 1, 1}};
    for (int s = 0; s < (int)(sizeof shapes / sizeof shapes[0]); s++) {
        int rank = shapes[s][0];
        const int *shape = shapes[s] + 1;
        int n = numel_of(shape, rank);
        float *v = tu_alloc((size_t)n * sizeof *v);
        for (int i = 0; i < n; i++) {
            uint32_t u = (uint32_t)tu_next(&rng);  /* any bits: NaN payloads, subnormals, infinities */
            memcpy(&v[i], &u, 4);
        }
        cc_error err;
        cc_status st = cc_npy_write(path, v, shape, rank, &err);
        float *back = NULL;
        int got[CC_MAX_RANK] = {0}, got_rank = 0;
        st = st ? st : cc_npy_read(path, &back, got, &got_rank, &err);
        tu_check(!st && got_rank == rank && !memcmp(got, shape, (size_t)rank * sizeof *shape) &&
                     same_bits(back, v, n),
                 "round trip of rank %d, %d elements (%s)", rank, n, st ? err.msg : "differs");
        free(back);
        free(v);
    }
    const float one[4] = {1, 2, 3, 4};
    cc_error err;
    tu_expect_error("rank 0", cc_npy_write(path, one, (const int[]){1}, 0, &err), CC_EINVAL, &err, "rank 0", "1..6",
                 NULL);
    tu_expect_error("rank 7", cc_npy_write(path, one, (const int[]){1, 1, 1, 1, 1, 1, 1}, 7, &err), CC_EINVAL, &err,
                 "rank 7", "1..6", NULL);
    tu_expect_error("dimension 0", cc_npy_write(path, one, (const int[]){2, 0}, 2, &err), CC_EINVAL, &err,
                 "dimension 1 is 0", NULL);
    tu_expect_error("dimension -3", cc_npy_write(path, one, (const int[]){-3}, 1, &err), CC_EINVAL, &err, "-3", NULL);
    tu_expect_error("2^32 elements", cc_npy_write(path, one, (const int[]){65536, 65536}, 2, &err), CC_EINVAL, &err,
                 "limit", NULL);
    tu_expect_error("NULL data", cc_npy_write(path, NULL, (const int[]){4}, 1, &err), CC_EINVAL, &err, "NULL", NULL);
    tu_expect_error("NULL shape", cc_npy_write(path, one, NULL, 1, &err), CC_EINVAL, &err, NULL);
    tu_expect_error("missing directory", cc_npy_write(tu_path(dir, "no/x.npy"), one, (const int[]){4}, 1, &err), CC_EIO,
                 &err, "no/x.npy", strerror(ENOENT), NULL);

    /* A write that fails half way leaves the old file whole. */
    float small[4] = {5, 6, 7, 8};
    cc_status st = cc_npy_write(path, small, (const int[]){4}, 1, &err);
    tu_check(!st, "write rt.npy: %s", st ? err.msg : "");
    size_t before_n, after_n;
    unsigned char *before = tu_read_file(path, &before_n);
    float *big = tu_alloc(100000 * sizeof *big);
    struct rlimit old;
    getrlimit(RLIMIT_FSIZE, &old);
    struct rlimit lim = {20000, old.rlim_max};
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &lim) == 0) {
        tu_expect_error("write past a 20000-byte file limit", cc_npy_write(path, big, (const int[]){100000}, 1, &err),
                     CC_EIO, &err, "rt.npy", NULL);
        setrlimit(RLIMIT_FSIZE, &old);
    } else {
        tu_skip("setrlimit(RLIMIT_FSIZE) refused: the failing-write case cannot run");
    }
    signal(SIGXFSZ, prev);
    unsigned char *after = tu_read_file(path, &after_n);
    tu_check(before && after && before_n == after_n && !memcmp(before, after, before_n),
             "a failed write changed rt.npy");
    free(before);
    free(after);
    free(big);
    tu_check(!strcmp(tu_dir_listing(dir), "rt.npy"), "after the writes the directory holds: %s",
             tu_dir_listing(dir));
    unlink(path);
}

int main(void)
{
    char *dir = tu_tmpdir_create("npy");
    test_numpy_files(dir);
    test_malformed(dir);
    test_damage(dir);
    test_write(dir);
    tu_check(!strcmp(tu_dir_listing(dir), ""), "files left in the scratch directory: %s", tu_dir_listing(dir));
    tu_tmpdir_remove(dir);
    return tu_finish("npy");
}
