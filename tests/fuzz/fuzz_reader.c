/* tests/fuzz/fuzz_reader.c — libFuzzer target for the .ccm reader.
 *
 * Each input is loaded twice: as given (almost always stopped by a CRC), and
 * with its CRCs recomputed (cc_model_reseal) so that mutations reach the
 * structural checks behind them. A model that loads is planned and run
 * (tests/fuzz/exercise.c).
 * Built and run by `make fuzz` (clang, -fsanitize=fuzzer,address,undefined);
 * seeds come from tests/fuzz/make_fuzz_corpus.c. */
#include "exercise.h"
#include "weights/model.h"
#include "weights/writer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cc_model *m = NULL;
    cc_error err;
    if (!cc_model_load_memory(data, size, &m, &err)) {
        fuzz_exercise(m);
        cc_model_free(m);
    }
    unsigned char *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    if (size)
        memcpy(copy, data, size);
    cc_model_reseal(copy, size);
    if (!cc_model_load_memory(copy, size, &m, &err)) {
        fuzz_exercise(m);
        cc_model_free(m);
    }
    free(copy);
    return 0;
}
