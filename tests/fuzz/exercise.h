/* tests/fuzz/exercise.h — what the fuzz targets do with a model that
 * loaded: suggest a layer name, plan the shapes for one image per graph
 * input (the model's fixed size, else 32 x 32, of its channels) and, when the
 * forward is cheap enough (a bounded count of multiply-adds and arena bytes),
 * run it on zeros, so a loaded model is also a runnable one. */
#ifndef CC_FUZZ_EXERCISE_H
#define CC_FUZZ_EXERCISE_H

#include "weights/model.h"

void fuzz_exercise(const cc_model *m);

#endif
