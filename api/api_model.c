/* api/api_model.c — the public model functions of include/cnncam.h: loading,
 * classes and labels, softmax or sigmoid output, layers, normalisation. */
#include "api/api_internal.h"
#include "image/channels.h"
#include "runtime/pages.h"
#include "image/overlay.h"
#include "image/preprocess.h"
#include "onnx/onnx.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void copy_message(char *dst, size_t len, const char *msg)
{
    if (dst && len)
        snprintf(dst, len, "%s", msg);
}

void cnncam_set_low_memory(int on)
{
    cc_pages_set_streaming(on);
}

cnncam_status cnncam_model_load(const char *path, cnncam_model **out, char *err, size_t errlen)
{
    if (!out) {
        copy_message(err, errlen, "cnncam_model_load: out is NULL; pass the address of a cnncam_model pointer");
        return CNNCAM_EINVAL;
    }
    cc_error e;
    *out = NULL;
    if (!path) {
        copy_message(err, errlen, "no model path given");
        return CNNCAM_EINVAL;
    }
    cnncam_model *m = calloc(1, sizeof *m);
    if (!m) {
        copy_message(err, errlen, "out of memory loading a model");
        return CNNCAM_ENOMEM;
    }
    /* An ONNX file is imported into the same in-memory model a .ccm file gives. */
    cc_status st = cc_onnx_is_onnx(path) ? cc_onnx_load(path, NULL, &m->file, &e) : cc_model_load(path, &m->file, &e);
    if (st) {
        copy_message(err, errlen, e.msg);
        free(m);
        return (cnncam_status)st;
    }
    int64_t classes = 0;
    cc_model_meta_int(m->file, "classes", &classes);
    m->classes = (int)classes;
    m->input = &m->file->input;  /* checked by the loader */
    if (!cc_model_meta_strings(m->file, "labels", &m->labels, &m->nlabels))
        m->labels = NULL, m->nlabels = 0;
    if (m->classes <= 0)
        m->classes = m->nlabels;  /* else the first forward tells */
    *out = m;
    return CNNCAM_OK;
}

cnncam_status cnncam_onnx_convert(const char *onnx_path, const char *ccm_path, const cnncam_onnx_options *opt,
                                  char *err, size_t errlen)
{
    if (!onnx_path || !ccm_path) {
        copy_message(err, errlen, "cnncam_onnx_convert: the ONNX file and the .ccm path are both needed");
        return CNNCAM_EINVAL;
    }
    if (opt && (opt->nlabels < 0 || (opt->labels && !opt->nlabels) || (!opt->mean != !opt->std) ||
                (opt->mean && (opt->nnorm < 1 || opt->nnorm > CC_MODEL_MAX_CHANNELS)) || opt->resize < 0 ||
                opt->crop < 0)) {
        copy_message(err, errlen, "cnncam_onnx_convert: bad options (labels need a count; mean and std go "
                     "together, 1 to 64 values each; sizes are not negative)");
        return CNNCAM_EINVAL;
    }
    cc_onnx_options o = {0};
    if (opt)
        o = (cc_onnx_options){opt->labels, opt->nlabels, opt->mean, opt->std, opt->nnorm, opt->resize, opt->crop,
                              opt->interpolation, opt->layer};
    cc_error e;
    cc_status st = cc_onnx_convert(onnx_path, &o, ccm_path, &e);
    if (st)
        copy_message(err, errlen, e.msg);
    return (cnncam_status)st;
}

void cnncam_model_free(cnncam_model *m)
{
    if (!m)
        return;
    cc_model_free(m->file);
    free(m);
}

int cnncam_model_classes(const cnncam_model *m)
{
    if (!m)
        return 0;
    return m->classes;
}

const char *cnncam_model_label(const cnncam_model *m, int index)
{
    if (!m)
        return NULL;
    return index >= 0 && index < m->nlabels ? m->labels[index] : NULL;
}

int cnncam_model_multi_label(const cnncam_model *m)
{
    if (!m)
        return 0;
    return cc_model_multi_label(m->file);
}

const char *cnncam_model_output(const cnncam_model *m)
{
    if (!m)
        return NULL;
    return cc_model_output(m->file);
}

/* Whether name equals one of label's comma-separated names, ignoring case and
 * the spaces around each name. */
static int names_match(const char *label, const char *name)
{
    const size_t n = strlen(name);
    const char *p = label;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && p[len - 1] == ' ')
            len--;
        if (len == n && !strncasecmp(p, name, n))
            return 1;
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

/* The class name means: its index, -1 (no match, out of range) or -2 (several match), err saying why. */
static int lookup_class(const cnncam_model *m, const char *name, char *err, size_t errlen)
{
    if (!err)
        errlen = 0;  /* snprintf(NULL, 0, ...) writes nothing */
    if (!m || !name) {
        snprintf(err, errlen, "cnncam_model_find_class: %s is NULL", !m ? "the model" : "the class name");
        return -1;
    }
    char *end;
    long idx = strtol(name, &end, 10);
    if (*name && !*end && !isspace((unsigned char)*name)) {
        if (idx >= 0 && idx < m->classes)
            return (int)idx;
        snprintf(err, errlen, "class %ld is out of range: the model has %d classes (0 to %d)", idx,
                 m->classes, m->classes - 1);
        return -1;
    }
    /* A full label wins over a synonym ("crane" is two full labels: ambiguous). */
    int full = 0;
    for (int i = 0; i < m->nlabels; i++)
        full += !strcasecmp(m->labels[i], name);
    int found = -1, count = 0;
    char list[256] = "";
    for (int i = 0; i < m->nlabels; i++)
        if (full ? !strcasecmp(m->labels[i], name) : names_match(m->labels[i], name)) {
            if (count++ == 0)
                found = i;
            size_t used = strlen(list);
            snprintf(list + used, sizeof list - used, "%s%d '%s'", count > 1 ? ", " : "", i, m->labels[i]);
        }
    if (count == 1)
        return found;
    if (count > 1) {
        snprintf(err, errlen, "class name '%s' is ambiguous: %s; give the index", name, list);
        return -2;
    }
    snprintf(err, errlen, m->nlabels ? "no class is named '%s' (labels are listed by `cnncam info`)"
                                     : "no class is named '%s': the model has no labels, give an index",
             name);
    return -1;
}

int cnncam_model_find_class(const cnncam_model *m, const char *name, char *err, size_t errlen)
{
    return lookup_class(m, name, err, errlen);
}

cnncam_status cnncam_model_class_index(const cnncam_model *m, const char *name, int *index, char *err,
                                       size_t errlen)
{
    if (!index) {
        copy_message(err, errlen, "cnncam_model_class_index: index is NULL");
        return CNNCAM_EINVAL;
    }
    *index = lookup_class(m, name, err, errlen);
    if (*index < 0) {
        *index = -1;
        return CNNCAM_EINVAL;
    }
    return CNNCAM_OK;
}

const char *cnncam_model_default_layer(const cnncam_model *m)
{
    if (!m)
        return NULL;
    return cc_model_meta_string(m->file, "gradcam.layer");
}

int cnncam_model_has_layer(const cnncam_model *m, const char *name)
{
    if (!m)
        return 0;
    return name && cc_model_find_layer(m->file, name) >= 0;
}

void cnncam_model_suggest_layers(const cnncam_model *m, const char *name, char *buf, size_t len)
{
    if (!buf || !len)
        return;
    if (!m) {
        buf[0] = 0;
        return;
    }
    cc_model_suggest(m->file, name ? name : "", buf, len);
}

void cnncam_model_normalization(const cnncam_model *m, float mean[3], float std[3])
{
    if (!m || !mean || !std)
        return;
    for (int c = 0; c < 3 && c < m->input->channels; c++)
        mean[c] = m->input->mean[c], std[c] = m->input->std[c];
}

int cnncam_model_channels(const cnncam_model *m)
{
    if (!m)
        return 0;
    return m->input->channels;
}

void cnncam_model_channel_normalization(const cnncam_model *m, float *mean, float *std)
{
    if (!m || !mean || !std)
        return;
    for (int c = 0; c < m->input->channels; c++)
        mean[c] = m->input->mean[c], std[c] = m->input->std[c];
}

int cnncam_model_input_size(const cnncam_model *m, int *height, int *width)
{
    if (!m || !height || !width)
        return 0;
    if (!m->input->height)
        return 0;
    *height = m->input->height, *width = m->input->width;
    return 1;
}

int cnncam_model_eval_recipe(const cnncam_model *m, int *resize, int *crop, const char **interpolation)
{
    if (!m || !resize || !crop || !interpolation)
        return 0;
    int64_t r = 0, c = 0;
    if (!cc_model_meta_int(m->file, "eval.resize", &r) || !cc_model_meta_int(m->file, "eval.crop", &c) ||
        r < 1 || r > 16384 || c < 1 || c > 16384)
        return 0;
    const char *interp = cc_model_meta_string(m->file, "eval.interpolation");
    *resize = (int)r, *crop = (int)c;
    *interpolation = interp ? interp : "bilinear";
    return 1;
}

cnncam_status cnncam_preprocess(const cnncam_model *m, const unsigned char *rgb, int width, int height,
                                float *chw)
{
    return cnncam_preprocess_pixels(m, rgb, 3, width, height, chw);
}

cnncam_status cnncam_preprocess_pixels(const cnncam_model *m, const unsigned char *pixels, int channels,
                                       int width, int height, float *chw)
{
    if (!m)
        return CNNCAM_EINVAL;
    const int C = m->input->channels;
    if (!pixels || !chw || width < 1 || height < 1 || !cc_channels_convertible(channels, C) ||
        (size_t)width * (size_t)height > CC_MAX_NUMEL)
        return CNNCAM_EINVAL;
    const size_t n = (size_t)width * (size_t)height;
    if (channels == C) {
        cc_channels_normalize(chw, pixels, C, n, m->input->mean, m->input->std);
        return CNNCAM_OK;
    }
    unsigned char *px = malloc(n * (size_t)C);
    if (!px)
        return CNNCAM_ENOMEM;
    cc_channels_convert(px, C, pixels, channels, n);
    cc_channels_normalize(chw, px, C, n, m->input->mean, m->input->std);
    free(px);
    return CNNCAM_OK;
}

cnncam_status cnncam_overlay(const unsigned char *rgb, int width, int height, const float *map,
                             cnncam_overlay_mode mode, float alpha, unsigned char *out)
{
    if (!rgb || !map || !out || width < 1 || height < 1 || !(alpha >= 0 && alpha <= 1))
        return CNNCAM_EINVAL;
    if (mode == CNNCAM_OVERLAY_REFERENCE)
        cc_overlay_reference(out, rgb, map, height, width, 1 - alpha);  /* its image weight */
    else if (mode == CNNCAM_OVERLAY_CLEAN)
        cc_overlay_clean(out, rgb, map, height, width, alpha);
    else
        return CNNCAM_EINVAL;
    return CNNCAM_OK;
}
