#!/usr/bin/python3
"""tests/gen_npy_fixtures.py — .npy files written by NumPy itself, for tests/test_npy.c.

Usage: /usr/bin/python3 tests/gen_npy_fixtures.py   (`make fixtures`; run from the repository root)

Writes tests/data/npy/:
  good_*.npy   arrays cc_npy_read must read exactly; the float32 ones are also what
               cc_npy_write must reproduce byte for byte for the same values (numpy.save).
               The values follow formulas that tests/test_npy.c repeats:
                 good_rank1.npy      shape (7,): 0, -0, 1.5, -2.25, FLT_MAX, smallest subnormal, inf
                 good_2x3.npy        shape (2, 3): i * 0.5 - 1
                 good_12x2.npy       shape (12, 2): i * 0.5 - 1 (two digits in shape[0] change the padding)
                 good_1x2x3x4.npy    shape (1, 2, 3, 4): (i * 37 % 101) / 8 - 6
                 good_2x1x3x1x2x2.npy  shape (2, 1, 3, 1, 2, 2), rank 6 (CC_MAX_RANK): as good_1x2x3x4
                 good_f8_2x2.npy     '<f8' shape (2, 2): 0.1, -1e-3, 1e30, 3 (read rounded to float)
                 good_v2_2x3.npy     version 2.0 header (u32 length), values of good_2x3
                 good_v3_2x3.npy     version 3.0 header, values of good_2x3
  bad_*.npy    valid NumPy files cnncam rejects: Fortran order, big-endian, int32, a scalar,
               rank 7, an empty array.
"""
import os

import numpy as np
from numpy.lib import format as npformat

OUT = "tests/data/npy"


def save(name, arr, version=None):
    path = os.path.join(OUT, name)
    if version is None:
        np.save(path, arr)
    else:
        with open(path, "wb") as f:
            npformat.write_array(f, arr, version=version)


def main():
    os.makedirs(OUT, exist_ok=True)
    f32 = np.float32
    rank1 = np.array([0.0, -0.0, 1.5, -2.25, np.finfo(f32).max, np.finfo(f32).smallest_subnormal, np.inf], f32)
    save("good_rank1.npy", rank1)
    a23 = (np.arange(6) * 0.5 - 1).astype(f32).reshape(2, 3)
    save("good_2x3.npy", a23)
    save("good_12x2.npy", (np.arange(24) * 0.5 - 1).astype(f32).reshape(12, 2))
    save("good_1x2x3x4.npy", ((np.arange(24) * 37 % 101) / 8 - 6).astype(f32).reshape(1, 2, 3, 4))
    save("good_2x1x3x1x2x2.npy", ((np.arange(24) * 37 % 101) / 8 - 6).astype(f32).reshape(2, 1, 3, 1, 2, 2))
    save("good_f8_2x2.npy", np.array([[0.1, -1e-3], [1e30, 3.0]], np.float64))
    save("good_v2_2x3.npy", a23, version=(2, 0))
    save("good_v3_2x3.npy", a23, version=(3, 0))
    save("bad_fortran.npy", np.asfortranarray(np.arange(6, dtype=f32).reshape(2, 3)))
    save("bad_big_endian.npy", np.arange(6, dtype=">f4"))
    save("bad_int32.npy", np.arange(6, dtype="<i4"))
    save("bad_scalar.npy", np.array(1.5, f32))
    save("bad_rank7.npy", np.zeros((1, 1, 1, 1, 1, 1, 2), f32))
    save("bad_empty.npy", np.zeros((0,), f32))
    print("wrote %d files in %s (NumPy %s)" % (len(os.listdir(OUT)), OUT, np.__version__))


if __name__ == "__main__":
    main()
