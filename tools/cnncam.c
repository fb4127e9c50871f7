/* tools/cnncam.c — the command-line tool.
 * Exit codes: 0 ok, 1 usage error, 2 input or model error, 3 internal error. */
#include "cli.h"
#include "cnncam.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: cnncam COMMAND [OPTIONS]\n"
    "\n"
    "cnncam computes Grad-CAM heatmaps for CNNs without Python.\n"
    "\n"
    "commands:\n"
    "  cam -m MODEL [options] IMAGE...    Grad-CAM heatmaps and overlays (--method:\n"
    "                                another CAM method)\n"
    "  predict -m MODEL [options] IMAGE...  the top classes of each image\n"
    "  (cnncam cam --help lists their options; cnncam info --help, info's)\n"
    "  convert MODEL.onnx -o OUT.ccm  an ONNX model as a .ccm file (cnncam convert\n"
    "                                --help: labels, normalisation, layer)\n"
    "  methods                       the explanation methods cam --method takes,\n"
    "                                with a line on each\n"
    "  info [--size HxW] [--layer NAME] MODEL\n"
    "                                describe a model (.ccm or .onnx): architecture,\n"
    "                                parameters, classes, output (softmax;\n"
    "                                sigmoid: multi-label; probabilities or\n"
    "                                log_probabilities: the model ends in a\n"
    "                                softmax or log-softmax), input channels (1\n"
    "                                gray, 3 RGB, 4 RGBA) and normalisation, the\n"
    "                                fixed input size of a model that has one,\n"
    "                                recommended Grad-CAM layer, the threads cam\n"
    "                                and predict would use, and every layer\n"
    "                                with its output shape for a HxW input\n"
    "                                (default: the fixed size, else the model's\n"
    "                                evaluation crop, else 224x224); with --layer,\n"
    "                                only that layer (a module path such as\n"
    "                                layer4 or features.16)\n"
    "  --help, -h                    this text\n"
    "  --version                     the version\n"
    "\n"
    "MODEL is a .ccm file (tools/cnncam-convert makes one from PyTorch, see\n"
    "README.md) or an ONNX file (.onnx, docs/ONNX.md), read directly.\n"
    "\n"
    "exit codes: 0 ok, 1 usage error, 2 input or model error, 3 internal error\n";

static const char info_usage[] =
    "usage: cnncam info [--size HxW] [--layer NAME] MODEL\n"
    "\n"
    "Describes a converted model: architecture, source, parameters, classes,\n"
    "output, input channels and normalisation, a fixed input size if it has one,\n"
    "the evaluation recipe, the recommended Grad-CAM layer, the threads cam and\n"
    "predict would use, and every layer (name, op, output shape; containers as\n"
    "'=' lines).\n"
    "\n"
    "  --size HxW    the input size the shapes are given for (S: SxS; default:\n"
    "                the model's fixed size, else its evaluation crop, else 224)\n"
    "  --layer NAME  only that layer: a module path such as layer4 or features.16\n"
    "  -h, --help    this text\n"
    "\n"
    "exit codes: 0 ok, 1 usage error, 2 input or model error, 3 internal error\n";

int cli_parse_size(const char *s, int *h, int *w)
{
    char *end;
    long a = strtol(s, &end, 10), b = a;
    if (*end == 'x')
        b = strtol(end + 1, &end, 10);
    if (*end || a < 1 || b < 1 || a > 16384 || b > 16384)
        return 0;
    *h = (int)a, *w = (int)b;
    return 1;
}

/* The containers whose forward returns node i, innermost (deepest path) first. */
static void print_aliases(const cnncam_model *m, int node)
{
    const int n = cnncam_model_alias_count(m);
    for (int depth = 64; depth >= 0; depth--)
        for (int a = 0; a < n; a++) {
            if (cnncam_model_alias_node(m, a) != node)
                continue;
            int dots = 0;
            for (const char *c = cnncam_model_alias_name(m, a); *c; c++)
                dots += *c == '.';
            if (dots == depth)
                printf("  %-40s = %s\n", cnncam_model_alias_name(m, a), cnncam_model_node_name(m, node));
        }
}

/* "2x3x5x7" into buf; returns buf. */
static const char *shape_str(const cnncam_shape *s, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < s->rank && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, i ? "x%d" : "%d", s->dims[i]);
    return buf;
}

/* "map 768x14x14 from tokens (1 prefix)" for a node the methods read as a
 * C x h x w map through a layout other than N x C x H x W; "" otherwise. */
static const char *map_str(const char *layout, const cnncam_shape *s, char *buf, size_t len)
{
    int prefix, h, w;
    buf[0] = '\0';
    if (layout && !strcmp(layout, "nhwc") && s->rank == 4)
        snprintf(buf, len, "  map %dx%dx%d from channels last", s->dims[3], s->dims[1], s->dims[2]);
    else if (layout && sscanf(layout, "tokens:%d:%d:%d", &prefix, &h, &w) == 3 && s->rank == 3)
        snprintf(buf, len, "  map %dx%dx%d from tokens (%d prefix)", s->dims[2], h, w, prefix);
    return buf;
}

int cli_default_threads(char *err, size_t len)
{
    const char *s = getenv("CNNCAM_NUM_THREADS");
    char *end;
    const long n = s ? strtol(s, &end, 10) : 0;
    if (s && (!*s || *end || n < 1 || n > 256)) {
        snprintf(err, len, "CNNCAM_NUM_THREADS is '%s'; it takes a thread count of 1 to 256 (or unset it to "
                 "use every CPU)", s);
        return 0;
    }
    return cnncam_default_threads();
}

void cli_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

int cmd_info(int argc, char **argv)
{
    const char *path = NULL, *only = NULL;
    int H = 0, W = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(info_usage, stdout);
            return EXIT_OK;
        }
        const int single = !strcmp(argv[i], "--size") || !strcmp(argv[i], "--layer");
        if (single && (i + 1 == argc || (!strcmp(argv[i], "--size") ? H != 0 : only != NULL))) {
            fprintf(stderr, "cnncam info: %s %s\n(see cnncam info --help)\n", argv[i],
                    i + 1 == argc ? "needs a value" : "is given twice; it takes one value: give it once");
            return EXIT_USAGE;
        }
        if (!strcmp(argv[i], "--size") && i + 1 < argc) {
            if (!cli_parse_size(argv[++i], &H, &W)) {
                fprintf(stderr, "cnncam info: --size takes HxW or S (1 to 16384), got '%s'\n", argv[i]);
                return EXIT_USAGE;
            }
        } else if (!strcmp(argv[i], "--layer") && i + 1 < argc) {
            only = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "cnncam info: unknown option '%s'\n%s", argv[i], info_usage);
            return EXIT_USAGE;
        } else if (!path) {
            path = argv[i];
        } else {
            fprintf(stderr, "cnncam info: one model at a time ('%s' and '%s')\n", path, argv[i]);
            return EXIT_USAGE;
        }
    }
    if (!path) {
        fprintf(stderr, "cnncam info: which model?\n%s", info_usage);
        return EXIT_USAGE;
    }
    char err[1024];
    cnncam_model *m;
    if (cnncam_model_load(path, &m, err, sizeof err)) {
        fprintf(stderr, "cnncam: %s\n", err);
        return EXIT_INPUT;
    }
    int only_node = -1;
    if (only && (only_node = cnncam_model_find_node(m, only)) < 0) {
        char near[512];
        cnncam_model_suggest_layers(m, only, near, sizeof near);
        fprintf(stderr, "cnncam: %s has no layer '%s'; nearest: %s\n", path, only, near);
        cnncam_model_free(m);
        return EXIT_INPUT;
    }
    long long crop = 0, resize = 0, classes = 0;
    cnncam_model_meta_int(m, "eval.crop", &crop);
    cnncam_model_meta_int(m, "eval.resize", &resize);
    cnncam_model_meta_int(m, "classes", &classes);
    const int channels = cnncam_model_channels(m);
    int fixed_h = 0, fixed_w = 0;
    cnncam_model_input_size(m, &fixed_h, &fixed_w);
    if (H && fixed_h && (H != fixed_h || W != fixed_w)) {
        fprintf(stderr, "cnncam: %s works at one input size, %dx%d (height x width: a flatten feeding a linear "
                "layer, or a transformer's position embedding), not at --size %dx%d\n", path, fixed_h, fixed_w, H, W);
        cnncam_model_free(m);
        return EXIT_INPUT;
    }
    if (!H && fixed_h)
        H = fixed_h, W = fixed_w;
    if (!H)
        H = W = crop > 0 && crop <= 16384 ? (int)crop : 224;

    int f16 = 0;
    for (int i = 0; i < cnncam_model_tensor_count(m); i++)
        f16 |= !strcmp(cnncam_model_tensor_dtype(m, i), "f16");
    const char *arch = cnncam_model_meta_string(m, "arch"), *layer = cnncam_model_meta_string(m, "gradcam.layer");
    const char *interp = cnncam_model_meta_string(m, "eval.interpolation");
    printf("model         %s (%.1f MB)\n", path, (double)cnncam_model_file_size(m) / 1e6);
    printf("architecture  %s\n", arch ? arch : "(not recorded)");
    const char *src = cnncam_model_meta_string(m, "source.file"), *sha = cnncam_model_meta_string(m, "source.sha256");
    printf("source        %s", src ? src : "(not recorded)");
    if (sha && strlen(sha) == 64)
        printf(" (sha256 %s)", sha);
    printf("\nparameters    %lld values in %d tensors (weights and batchnorm statistics), stored as %s\n",
           cnncam_model_parameter_count(m), cnncam_model_tensor_count(m), f16 ? "f16" : "f32");
    const char *const *labels;
    int nlabels;
    printf("classes       %lld", classes);
    if (cnncam_model_meta_strings(m, "labels", &labels, &nlabels) && nlabels > 0) {
        printf(":");
        for (int i = 0; i < nlabels && i < 3; i++)
            printf(" %d '%s'%s", i, labels[i], i + 1 < nlabels && i < 2 ? "," : "");
        if (nlabels > 3)
            printf(", ...");
    }
    static const char *const outputs[][2] = {
        {"softmax", "softmax (one class per image: probabilities are the softmax of the logits)"},
        {"sigmoid", "sigmoid (multi-label: an independent probability per class)"},
        {"probabilities", "probabilities (the model ends in a softmax or sigmoid: its output is already "
                          "the probability of each class)"},
        {"log_probabilities", "log_probabilities (the model ends in a log-softmax: its output is already "
                              "the log-probability of each class; shown as exp)"},
    };
    const char *kind = cnncam_model_output(m), *output = kind;
    const char *output_tag = strstr(kind, "probabilities") ? "  (output: already probabilities)" : "  (logits)";
    for (size_t i = 0; i < sizeof outputs / sizeof outputs[0]; i++)
        if (!strcmp(kind, outputs[i][0]))
            output = outputs[i][1];
    printf("\noutput        %s%s\n", output, cnncam_model_meta_type(m, "output") ? "" : "; not recorded, the default");
    static const char *const kinds[5] = {"", " (gray: an image's luminance, as Pillow's convert(\"L\"))", "",
                                         " (RGB)", " (RGBA: alpha as stored, 255 where the file has none)"};
    float mean[CNNCAM_MAX_CHANNELS], std[CNNCAM_MAX_CHANNELS];
    cnncam_model_channel_normalization(m, mean, std);
    printf("input         %d channel%s%s, u8 / 255, mean", channels, channels == 1 ? "" : "s",
           channels <= 4 ? kinds[channels] : " (.npy tensors only)");
    for (int c = 0; c < channels; c++)
        printf(" %g", (double)mean[c]);
    printf(", std");
    for (int c = 0; c < channels; c++)
        printf(" %g", (double)std[c]);
    printf("%s\n", cnncam_model_meta_type(m, "input.mean") ? "" : " (not recorded: ImageNet's)");
    if (fixed_h)
        printf("input size    %dx%d only (height x width: the graph works at this size alone, e.g. a flatten "
               "feeding a linear layer, a transformer, or an ONNX file whose input has a fixed size; resize and "
               "crop images to it)\n", fixed_h, fixed_w);
    else
        printf("input size    any (the network sees each image at its own size unless resized)\n");
    if (resize > 0 || crop > 0)
        printf("eval recipe   resize %lld, centre crop %lld%s%s%s\n", resize, crop, interp ? " (" : "",
               interp ? interp : "", interp ? ")" : "");
    printf("grad-cam      %s (recommended layer)\n", layer ? layer : "(none recorded)");
    const int layer_node = layer ? cnncam_model_find_node(m, layer) : -1;
    if (layer_node >= 0 && cnncam_model_layer_warning(m, layer_node))
        printf("warning       %s: %s\n", layer, cnncam_model_layer_warning(m, layer_node));
    char why[256];
    const int threads = cli_default_threads(why, sizeof why), cpus = cnncam_cpu_count();
    if (!threads)
        printf("threads       cam and predict refuse to run without --threads: %s\n", why);
    else
        printf("threads       %d for cam and predict (%s; --threads N to choose)%s\n", threads,
               getenv("CNNCAM_NUM_THREADS") ? "CNNCAM_NUM_THREADS" : "every CPU this process may use",
               threads > cpus ? ", no more running at once than the CPUs this process may use" : "");

    const int nnodes = cnncam_model_node_count(m), out_node = cnncam_model_output_node(m);
    cnncam_shape *shapes = malloc((size_t)nnodes * sizeof *shapes);
    if (!shapes) {
        fprintf(stderr, "cnncam: out of memory\n");
        cnncam_model_free(m);
        return EXIT_INTERNAL;
    }
    if (cnncam_model_node_shapes(m, H, W, shapes, err, sizeof err)) {
        fprintf(stderr, "cnncam: %s: at %dx%d: %s\n", path, H, W, err);
        free(shapes);
        cnncam_model_free(m);
        return EXIT_INPUT;
    }
    char buf[96], map[96]; /* 6 dimensions of up to 10 digits */
    if (only_node >= 0) {
        printf("\nlayer '%s' is node '%s' (%s), output %s%s for a 1x%dx%dx%d input\n", only,
               cnncam_model_node_name(m, only_node), cnncam_model_node_op(m, only_node),
               shape_str(&shapes[only_node], buf, sizeof buf),
               map_str(cnncam_model_node_layout(m, only_node), &shapes[only_node], map, sizeof map), channels, H, W);
        const char *layout = cnncam_model_node_layout(m, only_node);
        if (layout && !*layout)
            printf("it is no spatial map (attention scores, windows or a vector): the methods cannot explain it\n");
        if (cnncam_model_layer_warning(m, only_node))
            printf("warning: %s\n", cnncam_model_layer_warning(m, only_node));
    } else {
        printf("\nlayers for a 1x%dx%dx%d input (name, op, output shape%s); '=' lines are containers:\n",
               channels, H, W, cnncam_model_node_layout(m, 0) ? ", and the C x h x w map the methods read where "
               "it is not N x C x H x W" : "");
        for (int i = 0; i < nnodes; i++) {
            printf("  %-40s %-20s %s%s%s\n", cnncam_model_node_name(m, i), cnncam_model_node_op(m, i),
                   shape_str(&shapes[i], buf, sizeof buf),
                   map_str(cnncam_model_node_layout(m, i), &shapes[i], map, sizeof map),
                   i == out_node ? output_tag : "");
            if (cnncam_model_layer_warning(m, i))
                printf("  %-40s warning: %s\n", "", cnncam_model_layer_warning(m, i));
            print_aliases(m, i);
        }
    }
    free(shapes);
    cnncam_model_free(m);
    return 0;
}

/* `cnncam methods`: every explanation method with its one-line summary. */
static int cmd_methods(int argc, char **argv)
{
    if (argc == 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
        fputs("usage: cnncam methods\n\nLists the explanation methods `cnncam cam --method NAME` takes, with a "
              "line on each\n(docs/METHODS.md gives their formulas).\n", stdout);
        return EXIT_OK;
    }
    if (argc) {
        fprintf(stderr, "cnncam methods: it takes no %s ('%s')\n", argv[0][0] == '-' ? "option" : "argument",
                argv[0]);
        return EXIT_USAGE;
    }
    for (int i = 0; cnncam_method_name(i); i++) {
        const char *summary = cnncam_method_summary(i);
        printf("  %-20s %s\n", cnncam_method_name(i), summary ? summary : "");
    }
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc == 2 && !strcmp(argv[1], "--version")) {
        printf("cnncam %s\n", cnncam_version());
        return 0;
    }
    if (argc >= 2 && !strcmp(argv[1], "info"))
        return cmd_info(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "cam"))
        return cmd_cam(argc - 2, argv + 2, 0);
    if (argc >= 2 && !strcmp(argv[1], "predict"))
        return cmd_cam(argc - 2, argv + 2, 1);
    if (argc >= 2 && !strcmp(argv[1], "convert"))
        return cmd_convert(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "methods"))
        return cmd_methods(argc - 2, argv + 2);
    if (argc >= 2)
        fprintf(stderr, "cnncam: unknown command '%s'\n", argv[1]);
    fputs(usage, stderr);
    return EXIT_USAGE;
}
