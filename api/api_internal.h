/* api/api_internal.h — what the public handles of include/cnncam.h hold. */
#ifndef CC_API_INTERNAL_H
#define CC_API_INTERNAL_H

#include "cnncam.h"
#include "weights/model.h"

struct cnncam_model {
    cc_model *file;
    int classes;
    const cc_model_input *input;  /* channels, fixed size, mean and std (file->input) */
    const char *const *labels;  /* nlabels of them, or NULL */
    int nlabels;
};

#endif
