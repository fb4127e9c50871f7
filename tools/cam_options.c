/* tools/cam_options.c — parsing the options of `cnncam cam` and `cnncam predict`
 * (cam_options.h): the --help text, each value checked, an option that takes
 * one value given once, and the combinations that make no sense refused. */
#include "cam_options.h"
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char cam_usage[] =
    "usage: cnncam cam -m MODEL [-l LAYER]... [-c CLASS | --top K] [-o OUT.png|.jpg]\n"
    "                  [--method NAME] [--cam-out F.npy] [--logits-out F.npy] [--act-out F.npy]\n"
    "                  [--grad-out F.npy] [--json] [--threads N] [other options] IMAGE...\n"
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
    "  -m, --model FILE      the model: a .ccm file (tools/cnncam-convert makes one)\n"
    "                        or an ONNX file (.onnx, read directly; docs/ONNX.md)\n"
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
    "                        probability), explained, layers, method and target (cam),\n"
    "                        files (every file written for the image, in order;\n"
    "                        not --logits-out, which holds all images), ms (per\n"
    "                        stage: load, forward, explain, write), threads; for\n"
    "                        an image that failed: image and error\n"
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
    "Explanation methods (cam only; `cnncam methods` lists them, one line each, and\n"
    "docs/METHODS.md gives their formulas). A method refuses an option it does not\n"
    "take (exit 1), before anything is written.\n"
    "      --method NAME     the method, by pytorch-grad-cam's names: gradcam (default),\n"
    "                        hirescam, gradcam++, xgradcam, layercam, scorecam,\n"
    "                        ablationcam, eigencam, fullgrad, ...\n"
    "      --target T        what is explained for the class: logit (default: its\n"
    "                        output value), softmax (its probability), rest (ReST:\n"
    "                        2 z_c minus logsumexp z) or binary (a one-output model:\n"
    "                        its output for class 1, minus it for class 0)\n"
    "      --aug-smooth      the mean over the reference's six test-time augmentations\n"
    "                        (horizontal flip x input times 0.9, 1, 1.1): six runs\n"
    "      --eigen-smooth    the first principal component of the weighted\n"
    "                        activations instead of their sum over channels\n"
    "      --batch-size N    images per forward of scorecam (default 16) and\n"
    "                        ablationcam (default 32); N >= 1\n"
    "      --ablation-ratio R  ablationcam: the fraction of channels to ablate, in\n"
    "                        (0, 1] (default 1: every channel)\n"
    "      --seed N          randomcam's seed, as numpy's (0 to 4294967295; default 0)\n"
    "      --kpca-kernel K   kpcacam's kernel: sigmoid (default), rbf, poly, linear or\n"
    "                        cosine\n"
    "      --kpca-gamma G    kpcacam's gamma, > 0 (default 1 / channels)\n"
    "      --finer-alpha A   finercam's alpha, > 0 (default 1)\n"
    "      --eigen-sign S    the sign of a principal component: default (cnncam's rule,\n"
    "                        docs/METHODS.md) or lapack (what LAPACK returns, as the\n"
    "                        reference)\n"
    "      --guided-npy F.npy  guided backpropagation's gradient for the explained\n"
    "                        class, float32 HxWxC (C: the model's channels), as the\n"
    "                        reference's GuidedBackpropReLUModel returns it\n"
    "      --guided-out F.png  that gradient as a picture (.png or .jpg): the\n"
    "                        reference's deprocess_image, cam.py's _gb file (in RGB\n"
    "                        order; cam.py's own file has red and blue swapped)\n"
    "      --guided-cam-out F.png  the map times that gradient as a picture: cam.py's\n"
    "                        _cam_gb file\n"
    "      --guided-extended  guided backpropagation through ReLU6, Hardswish,\n"
    "                        Hardsigmoid, SiLU and Sigmoid modules too, not ReLU alone\n"
    "      --progress        report a method's forwards on stderr (\"scorecam: 128/512\n"
    "                        forwards\") even when stderr is not a terminal, a line per\n"
    "                        tenth; on a terminal they are always shown, on one line\n"
    "\n"
    "cam writes what it is asked for and nothing else: at least one of -o,\n"
    "--cam-out, --act-out, --grad-out, --weights-out, --raw-out, --logits-out,\n"
    "--guided-npy, --guided-out, --guided-cam-out or --json is needed. Every F.npy\n"
    "output name must end in .npy. An option that takes one value (all but -l) may\n"
    "be given once.\n"
    "\n"
    "Several images, or --top K > 1: output names get the image's name and the\n"
    "class before the extension: -o cam.png with cat.jpg and dog.jpg gives\n"
    "cam.cat.png and cam.dog.png; with --top 2, cam.cat.c281.png and\n"
    "cam.cat.c285.png. Images with the same name are numbered instead (cam.0.png).\n"
    "\n"
    "exit codes: 0 ok, 1 usage error, 2 input or model error (also when some\n"
    "images failed), 3 internal error\n";

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

/* A finite number above lo and at most hi. */
static int parse_number(const char *s, double lo, double hi, double *v)
{
    char *end;
    *v = strtod(s, &end);
    return *s && !*end && isfinite(*v) && *v > lo && *v <= hi;
}

static const char *const TARGETS[] = {"logit", "softmax", "rest", "binary"};  /* CNNCAM_TARGET_* order */

const char *cam_target_name(cnncam_target t)
{
    return (unsigned)t < sizeof TARGETS / sizeof TARGETS[0] ? TARGETS[t] : "logit";
}

/* A picture output's name ends in .png, .jpg or .jpeg: known before any image runs. */
static int picture_name(const char *name)
{
    const char *slash = strrchr(name, '/'), *dot = strrchr(name, '.');
    return dot && (!slash || dot > slash) &&
           (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

int cam_parse_options(int argc, char **argv, int predict_only, cam_options *o)
{
    memset(o, 0, sizeof *o);
    o->predict = predict_only;
    o->top = predict_only ? 5 : 0;
    o->threads = 0;  /* none given: cli_default_threads() */
    o->low_memory = -1;
    o->max_pixels = 64000000;
    o->alpha = 0.5f;
    o->jpeg_quality = 95;
    cnncam_cam_options_init(&o->cam);
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
        } else if (!predict_only && !strcmp(a, "--method")) {
            TAKES_VALUE();
            o->cam.method = v;  /* cnncam_ctx_set_cam_options knows the names */
        } else if (!predict_only && !strcmp(a, "--target")) {
            TAKES_VALUE();
            size_t t = 0;
            while (t < sizeof TARGETS / sizeof TARGETS[0] && strcmp(v, TARGETS[t]))
                t++;
            if (t == sizeof TARGETS / sizeof TARGETS[0])
                return usage_error("--target is logit, softmax, rest or binary, not '%s'", v);
            o->cam.target = (cnncam_target)t;
        } else if (!predict_only && !strcmp(a, "--aug-smooth")) {
            o->cam.aug_smooth = 1;
        } else if (!predict_only && !strcmp(a, "--eigen-smooth")) {
            o->cam.eigen_smooth = 1;
        } else if (!predict_only && !strcmp(a, "--batch-size")) {
            TAKES_VALUE();
            if (!parse_int(v, 1, 4096, &n))
                return usage_error("--batch-size takes 1 to 4096 images per forward, not '%s'", v);
            o->cam.batch_size = (int)n;
        } else if (!predict_only && !strcmp(a, "--ablation-ratio")) {
            TAKES_VALUE();
            if (!parse_number(v, 0, 1, &o->cam.ablation_ratio))
                return usage_error("--ablation-ratio takes a fraction of the channels in (0, 1], not '%s'", v);
        } else if (!predict_only && !strcmp(a, "--seed")) {
            TAKES_VALUE();
            if (!parse_int(v, 0, 4294967295L, &n))
                return usage_error("--seed takes 0 to 4294967295 (numpy's seeds), not '%s'", v);
            o->cam.seed = n;
        } else if (!predict_only && !strcmp(a, "--kpca-kernel")) {
            TAKES_VALUE();
            o->cam.kpca_kernel = v;  /* the library checks the name */
        } else if (!predict_only && !strcmp(a, "--kpca-gamma")) {
            TAKES_VALUE();
            if (!parse_number(v, 0, HUGE_VAL, &o->cam.kpca_gamma))
                return usage_error("--kpca-gamma takes a number above 0, not '%s'", v);
        } else if (!predict_only && !strcmp(a, "--finer-alpha")) {
            TAKES_VALUE();
            if (!parse_number(v, 0, HUGE_VAL, &o->cam.finer_alpha))
                return usage_error("--finer-alpha takes a number above 0, not '%s'", v);
        } else if (!predict_only && !strcmp(a, "--eigen-sign")) {
            TAKES_VALUE();
            if (strcmp(v, "default") && strcmp(v, "lapack"))
                return usage_error("--eigen-sign is 'default' or 'lapack', not '%s'", v);
            o->cam.eigen_sign = strcmp(v, "default") ? CNNCAM_SIGN_LAPACK : CNNCAM_SIGN_DEFAULT;
        } else if (!predict_only && !strcmp(a, "--guided-npy")) {
            TAKES_VALUE();
            o->guided_npy = v;
        } else if (!predict_only && !strcmp(a, "--guided-out")) {
            TAKES_VALUE();
            o->guided_out = v;
        } else if (!predict_only && !strcmp(a, "--guided-cam-out")) {
            TAKES_VALUE();
            o->guided_cam_out = v;
        } else if (!predict_only && !strcmp(a, "--guided-extended")) {
            o->cam.guided_extended = 1;
        } else if (!predict_only && !strcmp(a, "--progress")) {
            o->progress = 1;
        } else if (a[0] == '-' && a[1]) {
            return usage_error("unknown option '%s'", a);
        } else {
            o->images[o->nimages++] = argv[i];
        }
#undef TAKES_VALUE
    }
    if (o->out && !picture_name(o->out))  /* a bad name is known before any image runs */
        return usage_error("-o '%s': the overlay is a picture; end the name in .png, .jpg or .jpeg", o->out);
    const struct { const char *option, *name; } pictures[] = {
        {"--guided-out", o->guided_out}, {"--guided-cam-out", o->guided_cam_out}};
    for (size_t k = 0; k < sizeof pictures / sizeof pictures[0]; k++)
        if (pictures[k].name && !picture_name(pictures[k].name)) {
            snprintf(twice, sizeof twice, "%s '%s': this output is a picture; end the name in .png, .jpg or .jpeg",
                     pictures[k].option, pictures[k].name);
            return usage_error("%s", twice);
        }
    const struct { const char *option, *name; } npys[] = {
        {"--cam-out", o->cam_out}, {"--logits-out", o->logits_out}, {"--act-out", o->act_out},
        {"--grad-out", o->grad_out}, {"--weights-out", o->weights_out}, {"--raw-out", o->raw_out},
        {"--guided-npy", o->guided_npy}};
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
    o->cam.guided = o->guided_npy || o->guided_out || o->guided_cam_out;
    if (!predict_only && !o->json && !o->out && !o->logits_out && !o->cam_out && !o->act_out && !o->grad_out &&
        !o->weights_out && !o->raw_out && !o->cam.guided)
        return usage_error("%s", "cam writes nothing unless asked: give -o OUT.png|.jpg (the overlay), --cam-out, "
                           "--act-out, --grad-out, --weights-out, --raw-out, --logits-out or --guided-npy (F.npy), "
                           "--guided-out or --guided-cam-out (pictures), or --json (the report on stdout); "
                           "`cnncam predict` lists the top classes");
    if (o->cam.guided_extended && !o->cam.guided)
        return usage_error("%s", "--guided-extended changes guided backpropagation: give it with --guided-npy, "
                           "--guided-out or --guided-cam-out");
    if (o->class_name && o->top)
        return usage_error("%s", "-c and --top exclude each other: one names the class, the other ranks them");
    if (o->nlayers && !strcmp(o->layers[0], "input") && (o->weights_out || o->raw_out))
        return usage_error("%s", "--weights-out and --raw-out need a Grad-CAM layer first: -l input "
                           "(gradient saliency) has no channel weights and no raw map");
    if ((o->resize || o->crop_h) && o->torchvision_eval)
        return usage_error("%s", "--torchvision-eval sets resize and crop itself; drop --resize/--crop");
    return EXIT_OK;
}
