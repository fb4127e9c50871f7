/* tests/fuzz/exercise.c — see exercise.h. */
#include "exercise.h"
#include "engine/plan.h"

#include <stdlib.h>


