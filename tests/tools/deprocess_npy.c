/* tests/tools/deprocess_npy.c — cnncam_deprocess_image on a .npy array, for
 * tests/test_cli.py to compare with numpy's deprocess_image
 * (tests/reference_gradcam.py) byte for byte. Only include/cnncam.h.
 *
 * usage: deprocess_npy GB.npy (HxWxC) [MASK.npy (HxW)] OUT.npy
 * OUT holds the picture's bytes as float32 HxWxC. Exit 0 ok, 1 usage, 2 error. */
#include "cnncam.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: deprocess_npy GB.npy [MASK.npy] OUT.npy\n");
        return 1;
    }
    char err[512];
    float *gb = NULL, *mask = NULL;
    int shape[CNNCAM_MAX_RANK], mshape[CNNCAM_MAX_RANK], rank, mrank = 2, rc = 2;
    if (cnncam_npy_read(argv[1], &gb, shape, &rank, err, sizeof err) ||
        (argc == 4 && cnncam_npy_read(argv[2], &mask, mshape, &mrank, err, sizeof err))) {
        fprintf(stderr, "deprocess_npy: %s\n", err);
        goto done;
    }
    if (rank != 3 || mrank != 2 || (mask && (mshape[0] != shape[0] || mshape[1] != shape[1]))) {
        fprintf(stderr, "deprocess_npy: GB must be HxWxC and MASK HxW\n");
        goto done;
    }
    const size_t n = (size_t)shape[0] * shape[1] * shape[2];
    unsigned char *pic = malloc(n);
    float *out = malloc(n * sizeof *out);
    if (pic && out && !cnncam_deprocess_image(gb, mask, shape[1], shape[0], shape[2], pic, err, sizeof err)) {
        for (size_t i = 0; i < n; i++)
            out[i] = pic[i];
        if (!cnncam_npy_write(argv[argc - 1], out, shape, 3, err, sizeof err))
            rc = 0;
    }
    if (rc)
        fprintf(stderr, "deprocess_npy: %s\n", pic && out ? err : "out of memory");
    free(pic);
    free(out);
done:
    cnncam_npy_free(gb);
    cnncam_npy_free(mask);
    return rc;
}
