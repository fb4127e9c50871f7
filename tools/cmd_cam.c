/* tools/cmd_cam.c — `cnncam cam` and `cnncam predict`: images in, predictions,
 * Grad-CAM maps, overlays and tensors out. Every output is written atomically
 * (temporary file + rename), so a failure never leaves a half-written file.
 * A failing image is reported and the others still run; the exit code then
 * says something failed. */
#include "cli.h"
#include "cnncam.h"
#include "gradcam/channels.h"
#include "io/image.h"
#include "io/npy.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    const char *model;
    const char *layers[CNNCAM_MAX_LAYERS];
    int nlayers;
    const char *class_name;  /* -c */
    int top;                 /* --top K (cam: classes to explain; predict: classes to list) */
    const char *out, *cam_out, *logits_out, *act_out, *grad_out, *weights_out, *raw_out;
    int predict;             /* `cnncam predict`: no maps */
    int json, threads;
    int low_memory;          /* --low-memory 1, --no-low-memory 0, neither -1 (one pass: on) */
    int resize, crop_h, crop_w, torchvision_eval;
    int keep_stored_orientation;  /* --no-exif-orientation: pixels as stored, EXIF Orientation ignored */
    size_t max_pixels;
    cnncam_overlay_mode overlay;
    float alpha;
    int jpeg_quality;
    char **images;
    int nimages;
} options;

static const char cam_usage[] =
    "usage: cnncam cam -m MODEL [-l LAYER]... [-c CLASS | --top K] [-o OUT.png|.jpg]\n"
    "                  [--cam-out F.npy] [--logits-out F.npy] [--act-out F.npy] [--grad-out F.npy]\n"
    "                  [--json] [--threads N] [other options] IMAGE...\n"
    "       cnncam predict -m MODEL [--top K] [--json] [--logits-out F.npy] IMAGE...\n"
    "\n"
    "IMAGE is a JPEG or PNG photo (any bit depth, gray, palette or alpha), read as\n"
    "the model takes it (cnncam info: input): RGB; for a 1-channel model its\n"
    "luminance, as Pillow's convert(\"L\"); for a 4-channel one RGBA, alpha as\n"
    "stored (255 where the file has none). Or a .npy float32 tensor of CxHxW or\n"
    "1xCxHxW for the model's C channels, already normalised, used as is. A model\n"
    "with a fixed input size (a flatten feeding a linear layer) takes that size\n"
    "only: --resize and --crop bring a photo to it.\n"
    "By default the network sees the photo at its own size, normalised with the\n"
    "model's mean and std, as the reference Python Grad-CAM does, turned upright\n"
    "first as its EXIF Orientation tag says (JPEG, and PNG eXIf), as cv2.imread does;\n"
    "overlays are drawn on the upright photo.\n"
    "An input that gives NaN or infinite logits (a NaN in a .npy) is an error for\n"
    "that image (exit 2): the message says the input produced NaN scores, and\n"
    "nothing is written for it.\n"
    "Classes are listed with their logit and a probability: p is the softmax over\n"
    "all classes; for a multi-label model (cnncam info: output sigmoid) it is\n"
    "'sigmoid p', each class's own sigmoid(logit). A model that ends in a softmax\n"
    "(output probabilities) lists its output as is, one that ends in a log-softmax\n"
    "(log_probabilities) its output as 'log p' and p = exp(log p); Grad-CAM then\n"
    "explains that output, as pytorch-grad-cam does. --json names which in \"output\".\n"
    "\n"
    "  -m, --model FILE      the .ccm model (tools/cnncam-convert makes one)\n"
    "  -l, --layer NAME      layer to explain, a PyTorch module path (features.16,\n"
    "                        layer4, ...); repeat for several (maps are averaged);\n"
    "                        'input' gives gradient saliency; default: the model's\n"
    "                        recommended layer (see `cnncam info`)\n"
    "  -c, --class CLASS     class to explain: an index (281) or a label ('tabby' or\n"
    "                        'tabby, tabby cat'); default: the top-scoring class\n"
    "      --top K           cam: explain the K best classes from one forward pass;\n"
    "                        predict: list the K best (default 5)\n"
    "  -o, --out FILE        the overlay picture, .png or .jpg\n"
    "      --overlay MODE    reference (default: as pytorch-grad-cam's show_cam_on_image)\n"
    "                        or clean (plain alpha blend, no brightening)\n"
    "      --alpha A         weight of the heatmap in the overlay (default 0.5)\n"
    "      --cam-out F.npy   the map, float32 HxW in [0, 1] at the input's resolution\n"
    "      --logits-out F.npy  float32, one row of logits per image (NaN rows for\n"
    "                        images that failed; not written when all failed)\n"
    "      --act-out F.npy   the first layer's activations A, float32 CxHxW\n"
    "      --grad-out F.npy  the gradient dy^c/dA at the first layer, float32 CxHxW\n"
    "      --weights-out F.npy  the first layer's channel weights, float32 C\n"
    "      --raw-out F.npy   the first layer's map before normalisation, float32 hxw\n"
    "      --json            one JSON object per image on stdout: image, width,\n"
    "                        height, output (softmax or sigmoid), top (the K best\n"
    "                        classes of --top K, default 5: index, label, logit,\n"
    "                        probability), explained, layers and method (cam),\n"
    "                        files (every file written for the image, in order;\n"
    "                        not --logits-out, which holds all images), ms (per\n"
    "                        stage), threads; for an image that failed: image\n"
    "                        and error\n"
    "      --resize S        resize the shorter side to S first (bilinear, antialiased,\n"
    "                        as torchvision's Resize on a PIL image)\n"
    "      --crop H[xW]      then centre-crop to HxW\n"
    "      --torchvision-eval  the model's stored evaluation recipe (e.g. resize 256,\n"
    "                        crop 224, with its filter: bicubic for EfficientNet)\n"
    "                        instead of the photo as is\n"
    "      --max-pixels N    refuse larger images (default 64000000); the cost grows\n"
    "                        with the pixels: a 12-megapixel photo at its own size\n"
    "                        takes a ResNet-18 1.9 GB and ~10 s, with --resize 256\n"
    "                        90 MB and 0.6 s\n"
    "      --no-exif-orientation  the pixels as stored, sideways or not: ignore the\n"
    "                        EXIF Orientation tag (as Pillow's plain Image.open)\n"
    "      --jpeg-quality Q  quality of .jpg outputs (default 95)\n"
    "      --threads N       threads for the math (default: the environment's\n"
    "                        CNNCAM_NUM_THREADS, else every CPU this process may\n"
    "                        use; no more run at once than those CPUs)\n"
    "      --low-memory      drop weights of 32 MiB or more (VGG's classifier) from\n"
    "                        memory once read, and map them again from the file\n"
    "                        when next needed: a VGG-16 run peaks at 142 MiB\n"
    "                        instead of 588, but each further pass over them costs\n"
    "                        ~40 ms; the default for one image and one class\n"
    "      --no-low-memory   keep every weight in memory: the default for several\n"
    "                        images or --top K > 1\n"
    "  -h, --help            this text\n"
    "\n"
    "cam writes what it is asked for and nothing else: at least one of -o,\n"
    "--cam-out, --act-out, --grad-out, --weights-out, --raw-out, --logits-out or\n"
    "--json is needed. Every F.npy output name must end in .npy. An option that\n"
    "takes one value (all but -l) may be given once.\n"
    "\n"
    "Several images, or --top K > 1: output names get the image's name and the\n"
    "class before the extension: -o cam.png with cat.jpg and dog.jpg gives\n"
    "cam.cat.png and cam.dog.png; with --top 2, cam.cat.c281.png and\n"
    "cam.cat.c285.png. Images with the same name are numbered instead (cam.0.png).\n"
    "\n"
    "exit codes: 0 ok, 1 usage error, 2 input or model error (also when some\n"
    "images failed), 3 internal error\n";

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "cnncam: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(see cnncam cam --help)\n");
    return EXIT_USAGE;
}

/* The long name of an option given in its short form, so "-m" and "--model"
 * count as the same option. */
static const char *long_name(const char *a)
{
    static const char *const pairs[][2] = {{"-m", "--model"}, {"-l", "--layer"}, {"-c", "--class"}, {"-o", "--out"}};
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++)
        if (!strcmp(a, pairs[k][0]))
            return pairs[k][1];
    return a;
}

/* An option that takes one value, given a second time: a mistake (which one
 * was meant?), never "the last one wins". seen[] holds the argv index of each
 * single-valued option's value so far. Returns 1 when argv[i] repeats one. */
static int given_twice(char **argv, int i, const int *seen, int nseen, int *first)
{
    for (int k = 0; k < nseen; k++)
        if (!strcmp(long_name(argv[seen[k] - 1]), long_name(argv[i]))) {
            *first = seen[k];
            return 1;
        }
    return 0;
}

/* The name ends in ext (".npy"), in any case. */
static int ends_in(const char *name, const char *ext)
{
    const size_t n = strlen(name), e = strlen(ext);
    return n > e && !strcasecmp(name + n - e, ext) && name[n - e - 1] != '/';
}

static int parse_int(const char *s, long lo, long hi, long *v)
{
    char *end;
    errno = 0;
    *v = strtol(s, &end, 10);
    return *s && !*end && !errno && *v >= lo && *v <= hi;
}

static int parse_options(int argc, char **argv, int predict_only, options *o)
{
    memset(o, 0, sizeof *o);
    o->predict = predict_only;
    o->top = predict_only ? 5 : 0;
    o->threads = 0;  /* none given: cli_default_threads() */
    o->low_memory = -1;
    o->max_pixels = 64000000;
    o->alpha = 0.5f;
    o->jpeg_quality = 95;
    o->images = malloc(sizeof(char *) * (size_t)(argc ? argc : 1));
    if (!o->images)
        return EXIT_INTERNAL;
    int seen[64], nseen = 0, first;  /* one per single-valued option at most: a repeat stops the parse */
    char twice[512];
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
#define TAKES_VALUE()                                                                         \
    do {                                                                                      \
        if (!v)                                                                               \
            return usage_error("option %s needs a value", a);                                 \
        if (strcmp(long_name(a), "--layer")) { /* -l is the one option given several times */ \
            if (given_twice(argv, i, seen, nseen, &first)) {                                  \
                snprintf(twice, sizeof twice, "%s is given twice ('%s' and '%s'); it takes one " \
                         "value: give it once", long_name(a), argv[first], v);               \
                return usage_error("%s", twice);                                              \
            }                                                                                 \
            if (nseen < (int)(sizeof seen / sizeof seen[0]))                                  \
                seen[nseen++] = i + 1;                                                        \
        }                                                                                     \
        i++;                                                                                  \
    } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(cam_usage, stdout);
            return -1;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            TAKES_VALUE();
            o->model = v;
        } else if (!predict_only && (!strcmp(a, "-l") || !strcmp(a, "--layer"))) {
            TAKES_VALUE();
            if (o->nlayers == CNNCAM_MAX_LAYERS)
                return usage_error("at most 8 layers (-l) at once; '%s' is one too many", v);
            o->layers[o->nlayers++] = v;
        } else if (!predict_only && (!strcmp(a, "-c") || !strcmp(a, "--class"))) {
            TAKES_VALUE();
            o->class_name = v;
        } else if (!strcmp(a, "--top")) {
            TAKES_VALUE();
            if (!parse_int(v, 1, 1000000, &n))
                return usage_error("--top takes a positive count, not '%s'", v);
            o->top = (int)n;
        } else if (!predict_only && (!strcmp(a, "-o") || !strcmp(a, "--out"))) {
            TAKES_VALUE();
            o->out = v;
        } else if (!predict_only && !strcmp(a, "--cam-out")) {
            TAKES_VALUE();
            o->cam_out = v;
        } else if (!strcmp(a, "--logits-out")) {
            TAKES_VALUE();
            o->logits_out = v;
        } else if (!predict_only && !strcmp(a, "--act-out")) {
            TAKES_VALUE();
            o->act_out = v;
        } else if (!predict_only && !strcmp(a, "--grad-out")) {
            TAKES_VALUE();
            o->grad_out = v;
        } else if (!predict_only && !strcmp(a, "--weights-out")) {
            TAKES_VALUE();
            o->weights_out = v;
        } else if (!predict_only && !strcmp(a, "--raw-out")) {
            TAKES_VALUE();
            o->raw_out = v;
        } else if (!strcmp(a, "--json")) {
            o->json = 1;
        } else if (!strcmp(a, "--low-memory") || !strcmp(a, "--no-low-memory")) {
            if (o->low_memory == !!strcmp(a, "--low-memory"))
                return usage_error("%s", "--low-memory and --no-low-memory exclude each other; give one");
            o->low_memory = !strcmp(a, "--low-memory");
        } else if (!strcmp(a, "--no-exif-orientation")) {
            o->keep_stored_orientation = 1;
        } else if (!strcmp(a, "--threads")) {
            TAKES_VALUE();
            if (!parse_int(v, 1, 256, &n))
                return usage_error("--threads takes 1 to 256, not '%s'", v);
            o->threads = (int)n;
        } else if (!strcmp(a, "--resize")) {
            TAKES_VALUE();
            if (!parse_int(v, 1, 16384, &n))
                return usage_error("--resize takes a size of 1 to 16384 pixels, not '%s'", v);
            o->resize = (int)n;
        } else if (!strcmp(a, "--crop")) {
            TAKES_VALUE();
            if (!cli_parse_size(v, &o->crop_h, &o->crop_w))
                return usage_error("--crop takes H or HxW (1 to 16384), not '%s'", v);
        } else if (!strcmp(a, "--torchvision-eval")) {
            o->torchvision_eval = 1;
        } else if (!strcmp(a, "--max-pixels")) {
            TAKES_VALUE();
            if (!parse_int(v, 1, 2000000000L, &n))
                return usage_error("--max-pixels takes 1 to 2000000000, not '%s'", v);
            o->max_pixels = (size_t)n;
        } else if (!predict_only && !strcmp(a, "--overlay")) {
            TAKES_VALUE();
            if (!strcmp(v, "reference"))
                o->overlay = CNNCAM_OVERLAY_REFERENCE;
            else if (!strcmp(v, "clean"))
                o->overlay = CNNCAM_OVERLAY_CLEAN;
            else
                return usage_error("--overlay is 'reference' or 'clean', not '%s'", v);
        } else if (!predict_only && !strcmp(a, "--alpha")) {
            TAKES_VALUE();
            char *end;
            double x = strtod(v, &end);
            if (*end || !(x >= 0 && x <= 1))
                return usage_error("--alpha takes a number in [0, 1], not '%s'", v);
            o->alpha = (float)x;
        } else if (!predict_only && !strcmp(a, "--jpeg-quality")) {
            TAKES_VALUE();
            if (!parse_int(v, 1, 100, &n))
                return usage_error("--jpeg-quality takes 1 to 100, not '%s'", v);
            o->jpeg_quality = (int)n;
        } else if (a[0] == '-' && a[1]) {
            return usage_error("unknown option '%s'", a);
        } else {
            o->images[o->nimages++] = argv[i];
        }
#undef TAKES_VALUE
    }
    if (o->out) {  /* a bad name is known before any image runs */
        const char *slash = strrchr(o->out, '/'), *dot = strrchr(o->out, '.');
        if (!dot || (slash && dot < slash) ||
            (strcasecmp(dot, ".png") && strcasecmp(dot, ".jpg") && strcasecmp(dot, ".jpeg")))
            return usage_error("-o '%s': the overlay is a picture; end the name in .png, .jpg or .jpeg", o->out);
    }
    const struct { const char *option, *name; } npys[] = {
        {"--cam-out", o->cam_out}, {"--logits-out", o->logits_out}, {"--act-out", o->act_out},
        {"--grad-out", o->grad_out}, {"--weights-out", o->weights_out}, {"--raw-out", o->raw_out}};
    for (size_t k = 0; k < sizeof npys / sizeof npys[0]; k++)
        if (npys[k].name && !ends_in(npys[k].name, ".npy")) {
            snprintf(twice, sizeof twice, "%s '%s': this output is a NumPy array; end the name in .npy",
                     npys[k].option, npys[k].name);
            return usage_error("%s", twice);
        }
    if (!o->threads) {
        char why[256];
        if (!(o->threads = cli_default_threads(why, sizeof why)))
            return usage_error("%s", why);
    }
    if (!o->model)
        return usage_error("%s", "which model? (-m MODEL.ccm)");
    if (!o->nimages)
        return usage_error("%s", "no image given");
    if (!predict_only && !o->json && !o->out && !o->logits_out && !o->cam_out && !o->act_out && !o->grad_out &&
        !o->weights_out && !o->raw_out)
        return usage_error("%s", "cam writes nothing unless asked: give -o OUT.png|.jpg (the overlay), --cam-out, "
                           "--act-out, --grad-out, --weights-out, --raw-out or --logits-out (F.npy), or --json "
                           "(the report on stdout); `cnncam predict` lists the top classes");
    if (o->class_name && o->top)
        return usage_error("%s", "-c and --top exclude each other: one names the class, the other ranks them");
    if (o->nlayers && !strcmp(o->layers[0], "input") && (o->weights_out || o->raw_out))
        return usage_error("%s", "--weights-out and --raw-out need a Grad-CAM layer first: -l input "
                           "(gradient saliency) has no channel weights and no raw map");
    if ((o->resize || o->crop_h) && o->torchvision_eval)
        return usage_error("%s", "--torchvision-eval sets resize and crop itself; drop --resize/--crop");
    return EXIT_OK;
}

/* "base.ext" with ".part" segments inserted before the extension. */
static void output_name(char *buf, size_t len, const char *base, const char *image_part, int cls)
{
    const char *slash = strrchr(base, '/');
    const char *dot = strrchr(base, '.');
    if (!dot || (slash && dot < slash))
        dot = base + strlen(base);
    char cls_part[32] = "";
    if (cls >= 0)
        snprintf(cls_part, sizeof cls_part, ".c%d", cls);
    snprintf(buf, len, "%.*s%s%s%s%s", (int)(dot - base), base, image_part ? "." : "",
             image_part ? image_part : "", cls_part, dot);
}

/* The name an image contributes to output names: its file stem, or its
 * position when two inputs share a stem. */
static void image_parts(const options *o, char (*part)[64])
{
    int clash = 0;
    for (int i = 0; i < o->nimages; i++) {
        const char *s = strrchr(o->images[i], '/');
        s = s ? s + 1 : o->images[i];
        const char *dot = strrchr(s, '.');
        int n = dot && dot != s ? (int)(dot - s) : (int)strlen(s);
        snprintf(part[i], 64, "%.*s", n > 63 ? 63 : n, s);
    }
    for (int i = 0; i < o->nimages; i++)
        for (int j = i + 1; j < o->nimages; j++)
            clash |= !strcmp(part[i], part[j]);
    if (clash)
        for (int i = 0; i < o->nimages; i++)
            snprintf(part[i], 64, "%d", i);
}

typedef struct {
    int is_tensor;   /* a .npy input: no photo */
    cc_image rgb;    /* the photo as the network sees it (a 1-channel model's luminance as gray RGB) */
    float *x;        /* C x H x W, normalised */
    int H, W;
    char err[600];
} input;

static int has_npy_magic(const char *path)
{
    unsigned char magic[6] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t n = fread(magic, 1, sizeof magic, f);
    fclose(f);
    return n == 6 && !memcmp(magic, "\x93NUMPY", 6);
}

/* torchvision's Resize(S) with PIL's filter, then CenterCrop, on the photo itself
 * (the library's one recipe: cnncam_resize_crop), so the overlay shows what the
 * network saw. */
static int transform_photo(cc_image *img, int resize, int crop_h, int crop_w, const char *filter,
                           cc_error *err)
{
    if (!resize && !crop_h)
        return 1;
    unsigned char *out;
    int W, H;
    if (cnncam_resize_crop(img->rgb, img->width, img->height, resize, crop_w, crop_h, filter, &out, &W, &H,
                           err->msg, sizeof err->msg))
        return 0;
    cnncam_image_free(img->rgb);
    img->rgb = out, img->width = W, img->height = H;
    return 1;
}

/* A model with a fixed input size takes that size only: say so before the
 * forward, with the fix. */
static int fits_model(const options *o, const cnncam_model *m, const char *path, input *in)
{
    int h, w;
    if (!cnncam_model_input_size(m, &h, &w) || (in->H == h && in->W == w))
        return 1;
    snprintf(in->err, sizeof in->err, "%s: %s works at one input size, %dx%d (height x width: its flatten feeds a "
             "linear layer), and this %s is %dx%d; %s", path, o->model, h, w, in->is_tensor ? "tensor" : "image",
             in->H, in->W, in->is_tensor ? "give a tensor of that size" : "");
    if (!in->is_tensor) {
        size_t used = strlen(in->err);
        snprintf(in->err + used, sizeof in->err - used, "resize and crop it to that size: --resize %d --crop %dx%d",
                 h < w ? h : w, h, w);
    }
    return 0;
}

/* Each RGB pixel becomes its luminance L (Pillow's convert("L")) as L, L, L:
 * what a 1-channel model sees, and the gray picture overlays are drawn on. */
static void gray_in_place(unsigned char *rgb, size_t n)
{
    for (size_t i = 0; i < n; i++, rgb += 3) {
        unsigned char l;
        cc_channels_convert(&l, 1, rgb, 3, 1);
        rgb[0] = rgb[1] = rgb[2] = l;
    }
}

static int load_input(const options *o, const cnncam_model *m, const char *path, input *in)
{
    cc_error err;
    memset(in, 0, sizeof *in);
    if (has_npy_magic(path)) {
        int shape[4], rank;
        if (cc_npy_read(path, &in->x, shape, &rank, &err)) {
            snprintf(in->err, sizeof in->err, "%s", err.msg);
            return 0;
        }
        int off = rank - 3, C = cnncam_model_channels(m);
        if ((rank != 3 && rank != 4) || (rank == 4 && shape[0] != 1) || shape[off] != C) {
            char got[96] = "";
            for (int d = 0; d < rank; d++) {
                size_t used = strlen(got);
                snprintf(got + used, sizeof got - used, "%s%d", d ? "x" : "", shape[d]);
            }
            snprintf(in->err, sizeof in->err, "%s: the array is %s; a .npy input for %s must be %dxHxW or "
                     "1x%dxHxW (the model takes %d channel%s)", path, got, o->model, C, C, C, C == 1 ? "" : "s");
            return 0;
        }
        in->is_tensor = 1;
        in->H = shape[off + 1], in->W = shape[off + 2];
        if ((size_t)in->H * (size_t)in->W > o->max_pixels) {
            snprintf(in->err, sizeof in->err, "%s: the tensor is %dx%d = %zu pixels, more than the limit of %zu; "
                     "raise it with --max-pixels", path, in->W, in->H, (size_t)in->H * (size_t)in->W,
                     o->max_pixels);
            return 0;
        }
        return fits_model(o, m, path, in);
    }
    const int C = cnncam_model_channels(m);
    unsigned char *alpha = NULL;
    if (C != 1 && C != 3 && C != 4) {
        snprintf(in->err, sizeof in->err, "%s: %s takes %d input channels, and an image gives gray, RGB or RGBA; "
                 "give it a .npy tensor of %dxHxW", path, o->model, C, C);
        return 0;
    }
    if (C == 4 && (o->resize || o->crop_h || o->torchvision_eval)) {
        snprintf(in->err, sizeof in->err, "%s: --resize, --crop and --torchvision-eval do not resample alpha yet, "
                 "and %s takes RGBA: resize the image beforehand", path, o->model);
        return 0;
    }
    if (cc_image_read_alpha(path, o->max_pixels, &in->rgb, C == 4 ? &alpha : NULL, &err) ||
        (!o->keep_stored_orientation && cc_image_apply_orientation(&in->rgb, C == 4 ? &alpha : NULL, &err))) {
        snprintf(in->err, sizeof in->err, "%s", err.msg);
        free(alpha);
        return 0;
    }
    if (C == 1)  /* Pillow's convert("L") first, as a gray model's Python pipeline does */
        gray_in_place(in->rgb.rgb, (size_t)in->rgb.width * in->rgb.height);
    int resize = o->resize, crop_h = o->crop_h, crop_w = o->crop_w;
    const char *filter = "bilinear";
    if (o->torchvision_eval) {
        if (!cnncam_model_eval_recipe(m, &resize, &crop_h, &filter)) {
            snprintf(in->err, sizeof in->err, "%s stores no evaluation recipe; use --resize and --crop", o->model);
            return 0;
        }
        crop_w = crop_h;
    }
    if (!transform_photo(&in->rgb, resize, crop_h, crop_w, filter, &err)) {
        snprintf(in->err, sizeof in->err, "%s: %s", path, err.msg);
        return 0;
    }
    in->H = in->rgb.height, in->W = in->rgb.width;
    const size_t n = (size_t)in->H * in->W;
    in->x = malloc((size_t)C * n * sizeof(float));
    unsigned char *rgba = alpha ? malloc(4 * n) : NULL;
    if (rgba)
        cc_channels_join_alpha(rgba, in->rgb.rgb, alpha, n);
    int ok = in->x && (!alpha || rgba) &&
             !cnncam_preprocess_pixels(m, rgba ? rgba : in->rgb.rgb, rgba ? 4 : 3, in->W, in->H, in->x);
    free(rgba);
    free(alpha);
    if (!ok) {
        snprintf(in->err, sizeof in->err, "%s: out of memory for a %dx%d image", path, in->W, in->H);
        return 0;
    }
    return fits_model(o, m, path, in);
}

static void free_input(input *in)
{
    cc_image_free(&in->rgb);
    free(in->x);
}

/* Classes of one image, best first (the lowest index first among equal logits). */
static void rank_classes(const float *logits, int n, int *order)
{
    for (int i = 0; i < n; i++)
        order[i] = i;
    for (int i = 1; i < n; i++) {  /* insertion sort: stable, so ties keep index order */
        int c = order[i], j = i;
        while (j > 0 && logits[order[j - 1]] < logits[c]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = c;
    }
}

/* Each class's probability from the model's output values, as its metadata
 * 'output' says: the softmax over them (logits), each one's own sigmoid
 * (multi-label), the values as they are (the model ends in a softmax), or
 * exp of them (it ends in a log-softmax). */
static void probabilities(const cnncam_model *m, const float *logits, int n, double *p)
{
    const char *output = cnncam_model_output(m);
    const int sigmoid = !strcmp(output, "sigmoid"), as_is = !strcmp(output, "probabilities"),
              log_p = !strcmp(output, "log_probabilities");
    if (sigmoid || as_is || log_p) {
        for (int i = 0; i < n; i++)
            p[i] = sigmoid ? 1 / (1 + exp(-(double)logits[i])) : log_p ? exp((double)logits[i]) : logits[i];
        return;
    }
    double mx = logits[0], sum = 0;
    for (int i = 1; i < n; i++)
        mx = logits[i] > mx ? logits[i] : mx;
    for (int i = 0; i < n; i++)
        sum += (p[i] = exp((double)logits[i] - mx));
    for (int i = 0; i < n; i++)
        p[i] /= sum;
}

static int write_npy(const char *path, const float *data, const int *shape, int rank, char *err, size_t len)
{
    cc_error e;
    if (cc_npy_write(path, data, shape, rank, &e)) {
        snprintf(err, len, "%s", e.msg);
        return 0;
    }
    return 1;
}

/* The files written for one image, in order, for --json's "files". */
typedef struct {
    char **name;
    int n, cap;
} file_list;

static int file_list_add(file_list *f, const char *name, char *err, size_t len)
{
    if (f->n == f->cap) {
        int cap = f->cap ? 2 * f->cap : 8;
        char **grown = realloc(f->name, sizeof *grown * (size_t)cap);
        if (!grown)
            return snprintf(err, len, "out of memory"), 0;
        f->name = grown, f->cap = cap;
    }
    if (!(f->name[f->n] = strdup(name)))
        return snprintf(err, len, "out of memory"), 0;
    f->n++;
    return 1;
}

static void file_list_free(file_list *f)
{
    for (int i = 0; i < f->n; i++)
        free(f->name[i]);
    free(f->name);
}

/* Everything one explained class of one image writes; each file written is
 * added to files. */
static int write_outputs(const options *o, cnncam_ctx *ctx, const input *in, const float *map,
                         const char *image_part, int cls, file_list *files, char *err, size_t len)
{
    char name[4096];
    int C, h, w;
    cnncam_layer_shape(ctx, 0, &C, &h, &w);
    if (o->out) {
        cc_image pic = {in->W, in->H, malloc((size_t)3 * in->W * in->H), 0};
        if (!pic.rgb) {
            snprintf(err, len, "out of memory for the overlay");
            return 0;
        }
        if (in->is_tensor)  /* no photo: the heatmap alone */
            memset(pic.rgb, 0, (size_t)3 * in->W * in->H);
        cnncam_overlay(in->is_tensor ? pic.rgb : in->rgb.rgb, in->W, in->H, map,
                       in->is_tensor ? CNNCAM_OVERLAY_CLEAN : o->overlay, in->is_tensor ? 1.0f : o->alpha,
                       pic.rgb);
        output_name(name, sizeof name, o->out, image_part, cls);
        cc_error e;
        int ok = !cc_image_write(name, &pic, o->jpeg_quality, &e);
        free(pic.rgb);
        if (!ok) {
            snprintf(err, len, "%s", e.msg);
            return 0;
        }
        if (!file_list_add(files, name, err, len))
            return 0;
    }
    const int hw_shape[2] = {in->H, in->W}, chw[3] = {C, h, w}, small[2] = {h, w};
    const struct { const char *base; const float *data; const int *shape; int rank; } outs[] = {
        {o->cam_out, map, hw_shape, 2},
        {o->act_out, cnncam_activation(ctx, 0, 0), chw, 3},
        {o->grad_out, cnncam_gradient(ctx, 0, 0), chw, 3},
        {o->weights_out, cnncam_channel_weights(ctx, 0, 0), chw, 1},
        {o->raw_out, cnncam_raw_map(ctx, 0, 0), small, 2},
    };
    for (size_t k = 0; k < sizeof outs / sizeof outs[0]; k++) {
        if (!outs[k].base)
            continue;
        if (!outs[k].data) {
            snprintf(err, len, "%s: the 'input' layer has no channel weights or raw map", outs[k].base);
            return 0;
        }
        output_name(name, sizeof name, outs[k].base, image_part, cls);
        if (!write_npy(name, outs[k].data, outs[k].shape, outs[k].rank, err, len) ||
            !file_list_add(files, name, err, len))
            return 0;
    }
    return 1;
}

static void json_image(const options *o, const cnncam_model *m, const char *path, const input *in,
                       const float *logits, const int *order, const double *p, const int *explained,
                       int nexplained, const file_list *files, const double *ms)
{
    const int classes = cnncam_model_classes(m), want = o->top ? o->top : 5, k = classes < want ? classes : want;
    printf("{\"image\":");
    cli_json_string(stdout, path);
    printf(",\"width\":%d,\"height\":%d,\"output\":\"%s\",\"top\":[", in->W, in->H,
           cnncam_model_output(m));
    for (int i = 0; i < k; i++) {
        const char *label = cnncam_model_label(m, order[i]);
        printf("%s{\"index\":%d,\"label\":", i ? "," : "", order[i]);
        cli_json_string(stdout, label ? label : "");
        printf(",\"logit\":%.9g,\"probability\":%.9g}", logits[order[i]], p[order[i]]);
    }
    printf("]");
    if (nexplained) {
        printf(",\"explained\":[");
        for (int i = 0; i < nexplained; i++) {
            const char *label = cnncam_model_label(m, explained[i]);
            printf("%s{\"index\":%d,\"label\":", i ? "," : "", explained[i]);
            cli_json_string(stdout, label ? label : "");
            printf("}");
        }
        printf("],\"layers\":[");
        for (int l = 0; l < o->nlayers; l++) {
            printf("%s", l ? "," : "");
            cli_json_string(stdout, o->layers[l]);
        }
        printf("],\"method\":\"gradcam\"");
    }
    printf(",\"files\":[");
    for (int i = 0; i < files->n; i++) {
        printf("%s", i ? "," : "");
        cli_json_string(stdout, files->name[i]);
    }
    printf("]");
    printf(",\"threads\":%d", o->threads);
    printf(",\"ms\":{\"load\":%.3f,\"forward\":%.3f,\"gradcam\":%.3f,\"write\":%.3f}}\n", ms[0], ms[1], ms[2],
           ms[3]);
}

static size_t count_nonfinite(const float *x, size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += !isfinite(x[i]);
    return bad;
}

/* NaN or infinite logits (PyTorch propagates a NaN input to NaN logits, and
 * so does the engine) rank and explain nothing: the image fails, and the
 * message says whether the input or the model made them. */
static int finite_scores(const char *path, const float *logits, int classes, const float *x, size_t nx, char *err,
                         size_t len)
{
    const size_t bad = count_nonfinite(logits, (size_t)classes), bad_in = count_nonfinite(x, nx);
    if (!bad)
        return 1;
    if (bad_in)
        snprintf(err, len, "%s: the input produced NaN scores: %zu of %d logits are NaN or infinite, from an input "
                 "holding %zu NaN or infinite values (of %zu); nothing is written for this image", path, bad, classes, bad_in, nx);
    else
        snprintf(err, len, "%s: the input produced NaN scores: %zu of %d logits are NaN or infinite although the "
                 "input is finite (the model overflows on it); nothing is written for this image", path, bad,
                 classes);
    return 0;
}

/* One image: forward, predictions, the explained classes and their outputs.
 * Returns 1 on success; on failure err says why. */
static int run_image(const options *o, const cnncam_model *m, cnncam_ctx *ctx, int idx,
                     const char *image_part, float *logits_rows, char *err, size_t len)
{
    const char *path = o->images[idx];
    const int classes = cnncam_model_classes(m), multi_label = cnncam_model_multi_label(m),
              explain = !o->top || o->out || o->cam_out || o->act_out || o->grad_out || o->weights_out ||
                        o->raw_out;
    double ms[4] = {0}, t = now_ms();
    input in;
    memset(&in, 0, sizeof in);
    int ok = 0;
    float *map = NULL;
    int *order = malloc(sizeof(int) * (size_t)(classes > 0 ? classes : 1));
    double *p = malloc(sizeof(double) * (size_t)(classes > 0 ? classes : 1));
    int chosen = -1, nexplained = 0;
    const int *explained = &chosen;  /* the named class, or the first of order */
    file_list files = {NULL, 0, 0};
    if (!order || !p) {
        snprintf(err, len, "out of memory");
        goto done;
    }
    if (!load_input(o, m, path, &in)) {
        snprintf(err, len, "%s", in.err);
        goto done;
    }
    ms[0] = now_ms() - t, t = now_ms();
    cnncam_status st = cnncam_forward(ctx, in.x, 1, in.H, in.W);
    if (st) {
        snprintf(err, len, "%s: %s%s", path, cnncam_ctx_error(ctx),
                 st == CNNCAM_ENOMEM && !in.is_tensor ? "; --resize S (e.g. 256) runs the network on a smaller copy" : "");
        goto done;
    }
    ms[1] = now_ms() - t, t = now_ms();
    const float *logits = cnncam_logits(ctx, 0);
    if (!finite_scores(path, logits, classes, in.x, (size_t)cnncam_model_channels(m) * in.H * in.W, err, len))
        goto done;  /* its --logits-out row stays NaN, as for any failed image */
    if (logits_rows)
        memcpy(logits_rows + (size_t)idx * classes, logits, sizeof(float) * (size_t)classes);
    rank_classes(logits, classes, order);
    probabilities(m, logits, classes, p);

    if (!o->predict && explain) {
        if (o->class_name) {
            char why[512];
            if ((chosen = cnncam_model_find_class(m, o->class_name, why, sizeof why)) < 0) {
                snprintf(err, len, "%s", why);
                goto done;
            }
            nexplained = 1;
        } else {
            explained = order;
            nexplained = o->top ? (o->top < classes ? o->top : classes) : 1;
        }
        map = malloc(sizeof(float) * (size_t)in.H * in.W);
        if (!map) {
            snprintf(err, len, "out of memory for a %dx%d map", in.W, in.H);
            goto done;
        }
        for (int i = 0; i < nexplained; i++) {
            double tc = now_ms();
            if (cnncam_gradcam(ctx, &explained[i], map)) {
                snprintf(err, len, "%s: %s", path, cnncam_ctx_error(ctx));
                goto done;
            }
            ms[2] += now_ms() - tc, tc = now_ms();
            if (!write_outputs(o, ctx, &in, map, o->nimages > 1 ? image_part : NULL,
                               nexplained > 1 ? explained[i] : -1, &files, err, len))
                goto done;
            ms[3] += now_ms() - tc;
        }
    }
    if (o->json) {
        json_image(o, m, path, &in, logits, order, p, explained, nexplained, &files, ms);
    } else if (o->predict || !nexplained) {
        printf("%s:\n", path);
        for (int i = 0; i < o->top && i < classes; i++) {
            const char *label = cnncam_model_label(m, order[i]);
            printf("  %5d  %-40s %s %9.4f  %s %.4f\n", order[i], label ? label : "",
                   !strcmp(cnncam_model_output(m), "probabilities") ? "output" :
                   !strcmp(cnncam_model_output(m), "log_probabilities") ? "log p" : "logit",
                   logits[order[i]], multi_label ? "sigmoid p" : "p", p[order[i]]);
        }
    } else {
        for (int i = 0; i < nexplained; i++) {
            const char *label = cnncam_model_label(m, explained[i]);
            printf("%s: class %d '%s' (%s %.4f)\n", path, explained[i], label ? label : "",
                   multi_label ? "sigmoid p" : "p", p[explained[i]]);
        }
    }
    ok = 1;
done:
    file_list_free(&files);
    free_input(&in);
    free(map);
    free(order);
    free(p);
    return ok;
}

int cmd_cam(int argc, char **argv, int predict_only)
{
    options o;
    int rc = parse_options(argc, argv, predict_only, &o);
    if (rc) {
        free(o.images);
        return rc < 0 ? EXIT_OK : rc;
    }
    char err[1024];
    cnncam_model *m = NULL;
    cnncam_ctx *ctx = NULL;
    float *logits_rows = NULL;
    char (*parts)[64] = calloc((size_t)o.nimages, sizeof *parts);
    if (!parts) {
        fprintf(stderr, "cnncam: out of memory\n");
        rc = EXIT_INTERNAL;
        goto done;
    }
    /* One image and one class read the weights in one forward and one
     * backward: dropping the big ones costs one more mapping of them (about
     * 60 ms for VGG-16) and saves most of the memory. Each further image or
     * class would add a mapping. */
    const int one_pass = o.nimages == 1 && (predict_only || o.top <= 1);
    cnncam_set_low_memory(o.low_memory < 0 ? one_pass : o.low_memory);
    if (cnncam_model_load(o.model, &m, err, sizeof err)) {
        fprintf(stderr, "cnncam: %s\n", err);
        rc = EXIT_INPUT;
        goto done;
    }
    if (!(ctx = cnncam_ctx_create(m))) {
        fprintf(stderr, "cnncam: out of memory\n");
        rc = EXIT_INTERNAL;
        goto done;
    }
    if (!o.nlayers && !predict_only) {
        o.layers[0] = cnncam_model_default_layer(m);
        if (!o.layers[0]) {
            fprintf(stderr, "cnncam: %s recommends no Grad-CAM layer; choose one with -l (see cnncam info)\n",
                    o.model);
            rc = EXIT_USAGE;
            goto done;
        }
        o.nlayers = 1;
    }
    if ((o.nlayers && cnncam_ctx_set_layers(ctx, o.layers, o.nlayers)) || cnncam_ctx_set_threads(ctx, o.threads)) {
        fprintf(stderr, "cnncam: %s: %s\n", o.model, cnncam_ctx_error(ctx));
        rc = EXIT_INPUT;
        goto done;
    }
    if (o.class_name) {  /* a bad class is the caller's mistake once, not once per image */
        if (cnncam_model_find_class(m, o.class_name, err, sizeof err) < 0) {
            fprintf(stderr, "cnncam: %s\n", err);
            rc = EXIT_INPUT;
            goto done;
        }
    }
    const int classes = cnncam_model_classes(m);
    if (o.logits_out) {
        logits_rows = malloc(sizeof(float) * (size_t)o.nimages * (size_t)classes);
        if (!logits_rows) {
            fprintf(stderr, "cnncam: out of memory\n");
            rc = EXIT_INTERNAL;
            goto done;
        }
        for (size_t i = 0; i < (size_t)o.nimages * classes; i++)
            logits_rows[i] = NAN;
    }
    image_parts(&o, parts);
    const int progress = o.nimages > 1 && isatty(STDERR_FILENO);
    int failed = 0;
    for (int i = 0; i < o.nimages; i++) {
        if (progress)
            fprintf(stderr, "\r[%d/%d] %s\033[K", i + 1, o.nimages, o.images[i]);
        if (!run_image(&o, m, ctx, i, parts[i], logits_rows, err, sizeof err)) {
            fprintf(stderr, "%scnncam: %s\n", progress ? "\n" : "", err);
            if (o.json) {  /* one line per image, failed ones too */
                printf("{\"image\":");
                cli_json_string(stdout, o.images[i]);
                printf(",\"error\":");
                cli_json_string(stdout, err);
                printf("}\n");
            }
            failed++;
        }
        fflush(stdout);
    }
    if (progress)
        fprintf(stderr, "\r\033[K");
    if (o.logits_out && failed < o.nimages) {  /* all NaN rows would say nothing */
        const int shape[2] = {o.nimages, classes};
        if (!write_npy(o.logits_out, logits_rows, shape, 2, err, sizeof err)) {
            fprintf(stderr, "cnncam: %s\n", err);
            failed++;
        }
    }
    if (failed && o.nimages > 1)
        fprintf(stderr, "cnncam: %d of %d images failed\n", failed, o.nimages);
    rc = failed ? EXIT_INPUT : EXIT_OK;
done:
    free(logits_rows);
    free(parts);
    cnncam_ctx_free(ctx);
    cnncam_model_free(m);
    free(o.images);
    return rc;
}
