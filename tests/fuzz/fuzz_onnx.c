/* tests/fuzz/fuzz_onnx.c — libFuzzer target for ONNX files (onnx/).
 *
 * Each input is imported from memory (cc_onnx_load_memory: protobuf-c's
 * decoder, onnx/wire.c's walk over the raw bytes, the import's checks of
 * every count, shape, attribute and reference, then the .ccm reader's), and a
 * model that loads is planned and run (tests/fuzz/exercise.c). Built and run by
 * `make fuzz` (clang, -fsanitize=fuzzer,address,undefined), seeded with
 * tests/data/onnx, small nets exported by PyTorch. */
#include "exercise.h"
#include "onnx/onnx.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cc_model *m = NULL;
    cc_error err;
    if (!cc_onnx_load_memory(data, size, &m, &err)) {
        fuzz_exercise(m);
        cc_model_free(m);
    }
    return 0;
}
