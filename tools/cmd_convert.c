/* tools/cmd_convert.c — cnncam convert: an ONNX model to a .ccm file. */
#include "cli.h"
#include "cnncam.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char convert_usage[] =
    "usage: cnncam convert MODEL.onnx -o OUT.ccm [--labels FILE] [--mean M,M,M --std S,S,S]\n"
    "                      [--resize S] [--crop S] [--interpolation bilinear|bicubic] [--layer NAME]\n"
    "\n"
    "Writes the .ccm file of an ONNX model: the same graph cnncam runs when it loads\n"
    "the .onnx file itself (cam -m MODEL.onnx), memory-mapped at load instead of\n"
    "imported. The options give what the file's metadata_props do not, and\n"
    "override them (docs/ONNX.md):\n"
    "\n"
    "  -o, --out FILE        the .ccm to write (through a temporary file and a rename:\n"
    "                        nothing is written when anything fails)\n"
    "      --labels FILE     class names, one per line, one line per class\n"
    "      --mean M,M,M      normalisation of u8 / 255 per input channel (with --std);\n"
    "      --std S,S,S       default: the file's input.mean/input.std, else ImageNet's\n"
    "      --resize S        evaluation recipe: resize the shorter side to S ...\n"
    "      --crop S          ... then centre-crop S x S (cam --torchvision-eval uses it)\n"
    "      --interpolation F that resize's filter, bilinear or bicubic\n"
    "      --layer NAME      the recommended Grad-CAM layer (default: the output of\n"
    "                        the last conv-like node with a spatial map)\n"
    "  -h, --help            this text\n"
    "\n"
    "exit codes: 0 ok, 1 usage error, 2 input or model error, 3 internal error\n";

/* "a,b,c" into v (at most max); the count, 0 when malformed. */
static int parse_list(const char *s, double *v, int max)
{
    int n = 0;
    while (n < max) {
        char *end;
        errno = 0;
        v[n] = strtod(s, &end);
        if (end == s || errno)
            return 0;
        n++;
        if (!*end)
            return n;
        if (*end != ',')
            return 0;
        s = end + 1;
    }
    return 0;
}

/* Lines of path (a final newline optional; "\r\n" read as "\n"). */
static char **read_labels(const char *path, int *n, char *err, size_t len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, len, "cannot open labels file '%s': %s", path, strerror(errno));
        return NULL;
    }
    char **v = NULL, line[4096];
    int cap = 0;
    *n = 0;
    while (fgets(line, sizeof line, f)) {
        size_t k = strlen(line);
        if (k && line[k - 1] != '\n' && !feof(f)) {
            snprintf(err, len, "labels file '%s': line %d is longer than 4095 bytes", path, *n + 1);
            goto fail;
        }
        while (k && (line[k - 1] == '\n' || line[k - 1] == '\r'))
            line[--k] = 0;
        if (*n == cap) {
            cap = cap ? 2 * cap : 1024;
            char **p = realloc(v, (size_t)cap * sizeof *p);
            if (!p)
                goto nomem;
            v = p;
        }
        if (!(v[*n] = strdup(line)))
            goto nomem;
        ++*n;
    }
    fclose(f);
    if (!*n)
        snprintf(err, len, "labels file '%s' is empty", path);
    return v;
nomem:
    snprintf(err, len, "out of memory reading labels file '%s'", path);
fail:
    fclose(f);
    for (int i = 0; i < *n; i++)
        free(v[i]);
    free(v);
    *n = 0;
    return NULL;
}

int cmd_convert(int argc, char **argv)
{
    const char *in = NULL, *out = NULL, *labels_path = NULL;
    double mean[64], std[64];
    int nmean = 0, nstd = 0;
    cnncam_onnx_options opt;
    memset(&opt, 0, sizeof opt);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(convert_usage, stdout);
            return EXIT_OK;
        }
        int h, w;
        if (a[0] != '-' || !a[1]) {
            if (in) {
                fprintf(stderr, "cnncam convert: one ONNX model at a time ('%s' and '%s')\n", in, a);
                return EXIT_USAGE;
            }
            in = a;
            continue;
        }
        if (!v) {
            fprintf(stderr, "cnncam convert: %s needs a value\n%s", a, convert_usage);
            return EXIT_USAGE;
        }
        i++;
        if (!strcmp(a, "-o") || !strcmp(a, "--out"))
            out = v;
        else if (!strcmp(a, "--labels"))
            labels_path = v;
        else if (!strcmp(a, "--mean") && (nmean = parse_list(v, mean, 64)))
            ;
        else if (!strcmp(a, "--std") && (nstd = parse_list(v, std, 64)))
            ;
        else if (!strcmp(a, "--resize") && cli_parse_size(v, &h, &w) && h == w)
            opt.resize = h;
        else if (!strcmp(a, "--crop") && cli_parse_size(v, &h, &w) && h == w)
            opt.crop = h;
        else if (!strcmp(a, "--interpolation") && (!strcmp(v, "bilinear") || !strcmp(v, "bicubic")))
            opt.interpolation = v;
        else if (!strcmp(a, "--layer"))
            opt.layer = v;
        else {
            fprintf(stderr, "cnncam convert: bad option or value: %s %s\n%s", a, v, convert_usage);
            return EXIT_USAGE;
        }
    }
    if (!in || !out) {
        fprintf(stderr, "cnncam convert: %s\n%s", in ? "where to? (-o OUT.ccm)" : "which ONNX model?",
                convert_usage);
        return EXIT_USAGE;
    }
    if (!nmean != !nstd || nmean != nstd) {
        fprintf(stderr, "cnncam convert: --mean and --std go together, with one value per input channel each\n");
        return EXIT_USAGE;
    }
    char err[1024];
    char **labels = NULL;
    int nlabels = 0;
    if (labels_path && !(labels = read_labels(labels_path, &nlabels, err, sizeof err))) {
        fprintf(stderr, "cnncam convert: %s\n", err);
        return EXIT_INPUT;
    }
    opt.labels = (const char *const *)labels;
    opt.nlabels = nlabels;
    if (nmean)
        opt.mean = mean, opt.std = std, opt.nnorm = nmean;
    cnncam_status st = cnncam_onnx_convert(in, out, &opt, err, sizeof err);
    for (int i = 0; i < nlabels; i++)
        free(labels[i]);
    free(labels);
    if (st) {
        fprintf(stderr, "cnncam convert: %s\n", err);
        return st == CNNCAM_ENOMEM ? EXIT_INTERNAL : EXIT_INPUT;
    }
    cnncam_model *m;
    if (cnncam_model_load(out, &m, err, sizeof err)) {
        fprintf(stderr, "cnncam convert: wrote %s, but it does not load: %s\n", out, err);
        return EXIT_INTERNAL;
    }
    printf("wrote %s: %d classes, recommended Grad-CAM layer %s (cnncam info %s describes it)\n", out,
           cnncam_model_classes(m), cnncam_model_default_layer(m) ? cnncam_model_default_layer(m) : "none", out);
    cnncam_model_free(m);
    return EXIT_OK;
}
