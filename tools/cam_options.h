/* tools/cam_options.h — the options of `cnncam cam` and `cnncam predict`, and
 * their parser (tools/cam_options.c: --help, checks of every value). */
#ifndef CC_CAM_OPTIONS_H
#define CC_CAM_OPTIONS_H

#include "cnncam.h"

#include <stddef.h>

typedef struct {
    const char *model;
    const char *layers[CNNCAM_MAX_LAYERS];
    int nlayers;
    const char *class_name;  /* -c */
    int top;                 /* --top K (cam: classes to explain; predict: classes to list) */
    const char *out, *cam_out, *logits_out, *act_out, *grad_out, *weights_out, *raw_out;
    const char *guided_npy, *guided_out, *guided_cam_out;  /* guided backpropagation's gradient and pictures */
    int predict;             /* `cnncam predict`: no maps */
    int json, threads;
    int low_memory;          /* --low-memory 1, --no-low-memory 0, neither -1 (one pass: on) */
    int resize, crop_h, crop_w, torchvision_eval;
    int keep_stored_orientation;  /* --no-exif-orientation: pixels as stored, EXIF Orientation ignored */
    size_t max_pixels;
    cnncam_overlay_mode overlay;
    float alpha;
    int jpeg_quality;
    cnncam_cam_options cam;  /* --method, --target, ...; the library validates the combination */
    int progress;            /* --progress: report a method's forwards even when stderr is not a terminal */
    char **images;
    int nimages;
} cam_options;

/* Fills *o from argv (argc arguments after the subcommand). Returns EXIT_OK,
 * -1 after printing --help, or a usage error's exit code (the message
 * printed); o->images is allocated in every case: free it. */
int cam_parse_options(int argc, char **argv, int predict_only, cam_options *o);

/* What --target names CNNCAM_TARGET_* ("logit", "softmax", "rest", "binary"). */
const char *cam_target_name(cnncam_target t);

#endif
