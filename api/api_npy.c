/* api/api_npy.c — float arrays as NumPy .npy files (include/cnncam.h), over
 * io/npy.h's reader and writer. */
#include "api/api_internal.h"
#include "io/npy.h"

#include <stdlib.h>

_Static_assert(CNNCAM_MAX_RANK == CC_MAX_RANK, "the public rank limit is the engine's");

cnncam_status cnncam_npy_read(const char *path, float **data, int *shape, int *rank, char *err, size_t errlen)
{
    if (!path || !data || !shape || !rank) {
        if (data)
            *data = NULL;
        return cc_api_report(err, errlen, CNNCAM_EINVAL,
                             "cnncam_npy_read: path, data, shape and rank must point somewhere");
    }
    cc_error e;
    return cc_api_report(err, errlen, (cnncam_status)cc_npy_read(path, data, shape, rank, &e), e.msg);
}

void cnncam_npy_free(float *data)
{
    free(data);
}

cnncam_status cnncam_npy_write(const char *path, const float *data, const int *shape, int rank, char *err,
                               size_t errlen)
{
    if (!path || !data || !shape)
        return cc_api_report(err, errlen, CNNCAM_EINVAL, "cnncam_npy_write: path, data and shape must point somewhere");
    cc_error e;
    return cc_api_report(err, errlen, (cnncam_status)cc_npy_write(path, data, shape, rank, &e), e.msg);
}
