#!/usr/bin/python3
"""tests/gen_linalg_fixtures.py — numpy's answers for the eigen, KPCA and random CAM building
blocks (cam/projection.h, cam/kernel_pca.h, cam/numpy_random.h), replayed by tests/test_linalg.c.

Usage: /usr/bin/python3 tests/gen_linalg_fixtures.py tests/fixtures/linalg.ccgf
       (`make fixtures`; run from the repository root; needs python3-numpy, and python3-torch
       and python3-opencv for the modules it imports)

Contents (CCGF, the format of tests/gen_gradcam_fixtures.py, whose writer this reuses):
  proj/N/act     K x h x w float32 activations (ReLU'd blobs plus noise; one case has NaNs)
  proj/N/mean    K: numpy's float32 channel means over the pixels (NaN taken as 0), i.e.
                 M.mean(axis=0) of get_2d_projection
  proj/N/out     h x w: get_2d_projection as tests/reference_cams.py restates it
                 (numpy.linalg.svd: LAPACK dgesdd, JOBZ 'A'), LAPACK's sign
  proj/N/flip    int32 [seg_eigen, max_abs, skew, mean_activation]: -1 where that sign rule
                 negates out, else 1 (cam/projection.h defines the rules)
  kpca/N/act     K x h x w float32
  kpca/N/meta    float32 [kernel, gamma]: kernel in cc_kpca_kernel's order (sigmoid, rbf, poly,
                 linear, cosine); gamma 0 means sklearn's default 1/K
  kpca/N/out     h x w: KernelPCA(n_components=1).fit_transform restated in float64 numpy
                 (kernel, KernelCenterer, numpy.linalg.eigh, svd_flip) on the float32-centred M
  rng/S          2000 x 2 int32: np.random.RandomState(S).uniform(-1, 1, 2000), each double's
                 bits as (low word, high word)
The projection shapes cover each of dgesdd's paths: hw < K with K >= 11/6 hw (LQ first),
hw < K otherwise, hw == K, K <= hw < 11/6 K (direct bidiagonalisation), hw >= 11/6 K (QR
first), and shapes where JOBZ 'S' with its own optimal workspace differs from 'A' in the
last bit.
"""
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_gradcam_fixtures import Writer  # noqa: E402
from reference_cams import _kernel_projection, _projection  # noqa: E402

SEED = 20261203
KERNELS = ("sigmoid", "rbf", "poly", "linear", "cosine")
RNG_SEEDS = (0, 1, 42, 4294967295)
RNG_COUNT = 2000

# (K, h, w): the comment names dgesdd's path for M = hw x K.
PROJ_SHAPES = [
    (256, 5, 5),    # hw < K, K >= 11/6 hw: LQ, then the bidiagonal SVD of L
    (160, 7, 7),    # the same at 7 x 7
    (60, 7, 7),     # hw < K < 11/6 hw: bidiagonalised directly
    (49, 7, 7),     # hw == K
    (40, 7, 7),     # K <= hw < 11/6 K: bidiagonalised directly
    (16, 14, 14),   # hw >= 11/6 K: QR, then the bidiagonal SVD of R
    (36, 11, 13),   # QR path where JOBZ 'S' at its own workspace differs from 'A'
    (38, 15, 17),   # the same
    (1, 5, 5),      # one channel
    (8, 1, 1),      # one pixel
    (3, 2, 2),
    (12, 6, 6),     # with NaNs
]
KPCA_CASES = [  # (K, h, w, kernel, gamma)
    (16, 5, 5, "sigmoid", 0), (32, 7, 7, "sigmoid", 0), (24, 6, 6, "sigmoid", 0.5),
    (16, 5, 5, "rbf", 0), (32, 7, 7, "rbf", 0.02),
    (16, 5, 5, "poly", 0), (12, 7, 7, "poly", 0.1),
    (16, 5, 5, "linear", 0), (40, 6, 6, "linear", 0),
    (16, 5, 5, "cosine", 0), (32, 7, 7, "cosine", 0),
    (8, 1, 1, "sigmoid", 0),  # one pixel: the centred kernel is 0, so is the projection
]


def activations(rng, K, h, w):
    """Channels mixing three Gaussian blobs plus noise, ReLU'd, like a CNN layer's."""
    yy, xx = np.mgrid[0:h, 0:w]
    blobs = []
    for _ in range(3):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(0.5, max(h, w) / 2 + 0.5)
        blobs.append(np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r)))
    mix = rng.normal(size=(K, 3))
    a = np.einsum("kb,bhw->khw", mix, np.array(blobs)) + 0.3 * rng.normal(size=(K, h, w))
    return np.maximum(a, 0).astype(np.float32)


def centred(a):
    """get_2d_projection's M (hw x K), NaN -> 0, channels centred in float32."""
    a = a.copy()
    a[np.isnan(a)] = 0
    m = a.reshape(a.shape[0], -1).T
    return m, m.mean(axis=0)


def flips(p, vt0):
    """-1 where cam/projection.h's rule negates numpy's projection p (flat), else 1."""
    def max_abs():
        return -1 if p[np.argmax(np.abs(p))] < 0 else 1

    def by_score(score):
        return max_abs() if score == 0 else (-1 if score < 0 else 1)

    seg = -1 if abs(p.min()) > abs(p.max()) else 1
    return [seg, max_abs(), by_score(np.sum(np.float64(p) ** 3)), by_score(np.sum(np.float64(vt0)))]


def gen_projections(w, rng):
    for n, (K, h, wd) in enumerate(PROJ_SHAPES):
        a = activations(rng, K, h, wd)
        if n == len(PROJ_SHAPES) - 1:
            a.flat[rng.choice(a.size, 5, replace=False)] = np.nan
        m, mean = centred(a)
        vt0 = np.linalg.svd(m - mean, full_matrices=True)[2][0]
        out = _projection(a[None])[0]
        w.f("proj/%d/act" % n, a)
        w.f("proj/%d/mean" % n, mean)
        w.f("proj/%d/out" % n, out)
        w.i32("proj/%d/flip" % n, flips(out.ravel(), vt0))
    return len(PROJ_SHAPES)


def kernel_matrix(x, kernel, gamma):
    """sklearn's pairwise kernels, in float64, on the rows of x."""
    g = x @ x.T
    if kernel == "sigmoid":
        return np.tanh(gamma * g + 1)
    if kernel == "poly":
        return (gamma * g + 1) ** 3
    if kernel == "linear":
        return g
    sq = np.diag(g)
    if kernel == "rbf":
        d = np.maximum(sq[:, None] + sq[None, :] - 2 * g, 0)
        np.fill_diagonal(d, 0)
        return np.exp(-gamma * d)
    norms = np.sqrt(sq)
    norms[norms == 0] = 1  # sklearn's normalize leaves a zero row zero
    return g / norms[:, None] / norms[None, :]


def kpca_projection(a, kernel, gamma):
    """KernelPCA(n_components=1, kernel, gamma).fit_transform of get_2d_projection's M, float64."""
    m, mean = centred(a)
    x = np.float64(m - mean)
    k = kernel_matrix(x, kernel, 1.0 / a.shape[0] if gamma == 0 else gamma)
    rows = k.sum(axis=0) / k.shape[0]
    kc = k - rows[None, :] - (k.sum(axis=1) / k.shape[0])[:, None] + rows.sum() / k.shape[0]
    lam, vec = np.linalg.eigh(kc)
    assert lam[-1] >= 0, lam[-1]
    assert k.shape[0] == 1 or lam[-1] - lam[-2] > 1e-3 * lam[-1], "near-degenerate top eigenvalue"
    v = vec[:, -1]
    v = v * (-1 if v[np.argmax(np.abs(v))] < 0 else 1)
    return np.float32(v * np.sqrt(lam[-1])).reshape(a.shape[1:])


def gen_kpca(w, rng):
    for n, (K, h, wd, kernel, gamma) in enumerate(KPCA_CASES):
        a = activations(rng, K, h, wd)
        out = kpca_projection(a, kernel, gamma)
        w.f("kpca/%d/act" % n, a)
        w.f("kpca/%d/meta" % n, [KERNELS.index(kernel), gamma])
        w.f("kpca/%d/out" % n, out)
        if kernel in ("sigmoid", "poly", "linear") and out.size > 1:
            # How far sklearn's float32 kernel and centring (tests/reference_cams.py) land.
            f32 = _kernel_projection(a[None], kernel, gamma or None)[0]
            print("  kpca %-7s %2dx%dx%d: float32-kernel restatement within %.2g of max |proj|"
                  % (kernel, K, h, wd, np.abs(f32 - out).max() / np.abs(out).max()))
    return len(KPCA_CASES)


def gen_rng(w):
    for s in RNG_SEEDS:
        u = np.random.RandomState(s).uniform(-1, 1, RNG_COUNT)
        words = np.frombuffer(u.astype("<f8").tobytes(), dtype="<u4").reshape(RNG_COUNT, 2)
        w.i32("rng/%d" % s, words.view("<i4"))
        assert struct.unpack("<d", words[0].tobytes())[0] == u[0]
    return len(RNG_SEEDS)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_linalg_fixtures.py OUT.ccgf")
    print("numpy %s" % np.__version__)
    rng = np.random.default_rng(SEED)
    w = Writer()
    npj = gen_projections(w, rng)
    nk = gen_kpca(w, rng)
    nr = gen_rng(w)
    w.write(sys.argv[1])
    print("%s: %d tensors (%d projections, %d KPCA cases, %d seeds), %d bytes"
          % (sys.argv[1], len(w.items), npj, nk, nr, os.path.getsize(sys.argv[1])))


if __name__ == "__main__":
    main()
