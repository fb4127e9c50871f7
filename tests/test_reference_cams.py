#!/usr/bin/python3
"""tests/test_reference_cams.py — checks tests/reference_cams.py (the restated
pytorch-grad-cam 1.5) against numbers derived by hand on tiny graphs, so the
reference the C engine is compared with is itself checked.

The graphs: a "gain" layer whose output is its input (x * g with g = 1, so it
has a graph) is the target layer; the head is either flatten + Linear (the
gradient at the layer is the weight row, different at every pixel) or
global-average-pool + Linear (the gradient is W[c, k] / (h w), constant per
channel). Every expected value below is written from the method's formula in
float64 numpy from the weights and activations; the reference computes in
float32 through torch, so values are compared to a relative 1e-5 (of the
largest expected magnitude) unless a check says otherwise.

Prints one "ok"/"FAIL" line per check and "reference_cams: N passed, N
failed"; exits non-zero on any failure or if no check ran. About 5 s.
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_cams as rc  # noqa: E402
from tally import check, finish  # noqa: E402

torch.set_num_threads(1)
torch.manual_seed(0)                 # the layers' own initial weights, where a check keeps them
RNG = np.random.RandomState(1234)


def close(name, got, want, tol=1e-5):
    """max|got - want| <= tol * max|want| (tol absolute when want is all zero)."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return check(name, False, f"shape {got.shape} != {want.shape}")
    err = np.max(np.abs(got - want)) if got.size else 0.0
    scale = np.max(np.abs(want)) if want.size and np.max(np.abs(want)) > 0 else 1.0
    return check(name, bool(err <= tol * scale), f"max|d| = {err:.3e}, scale {scale:.3e}")


def f32(a):
    return np.asarray(a, dtype=np.float32)


def minmax(m):
    """One scale_cam_image step on a map in float64: (m - min) / (1e-7 + max(m - min))."""
    m = m - m.min()
    return m / (1e-7 + m.max())


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


# ---- tiny graphs ----------------------------------------------------------------------

class Gain(nn.Module):
    """y = x * g, g = 1: the output equals the input, and it has a graph."""
    def __init__(self, g=1.0):
        super().__init__()
        self.g = nn.Parameter(torch.tensor(float(g)))

    def forward(self, x):
        return x * self.g


def linear(W, b):
    """nn.Linear(K, N) holding W (N x K) and b, as float32."""
    fc = nn.Linear(W.shape[1], W.shape[0])
    with torch.no_grad():
        fc.weight.copy_(torch.from_numpy(f32(W)))
        fc.bias.copy_(torch.from_numpy(f32(b)))
    return fc


class FlatHead(nn.Module):
    """[pre] -> gain (target) -> flatten -> Linear(K*h*w, N)."""
    def __init__(self, W, b, pre=None):
        super().__init__()
        self.pre = pre if pre is not None else nn.Identity()
        self.gain = Gain()
        self.fc = linear(W, b)

    def forward(self, x):
        return self.fc(self.gain(self.pre(x)).flatten(1))


class PoolHead(nn.Module):
    """gain (target) -> mean over (h, w) -> Linear(K, N)."""
    def __init__(self, W, b):
        super().__init__()
        self.gain = Gain()
        self.fc = linear(W, b)

    def forward(self, x):
        return self.fc(self.gain(x).mean(dim=(2, 3)))


def flat_setup(K=2, h=3, w=3, N=4, positive=False, rng=RNG):
    W = f32(rng.uniform(-1, 1, (N, K * h * w)))
    b = f32(rng.uniform(-1, 1, N))
    A = f32(rng.uniform(0.1 if positive else -1, 1, (1, K, h, w)))
    return W, b, A, FlatHead(W, b).eval()


def logits_of(W, b, A):
    return W.astype(np.float64) @ A.reshape(-1).astype(np.float64) + b


# ---- checks -----------------------------------------------------------------------------

def check_gradient_family():
    W, b, A, model = flat_setup()
    c = 2
    x = torch.from_numpy(A)
    tgt = [rc.make_target("logit", c)]
    G = W[c].reshape(2, 3, 3).astype(np.float64)          # d z_c / d A: the weight row
    A64 = A[0].astype(np.float64)
    S = A64.sum(axis=(1, 2))

    r = rc.run_cam(model, ["gain"], x, "gradcam", targets=tgt)
    L = r["layers"][0]
    close("gradcam: G is the weight row of the target class", L["G"][0], G)
    w = G.mean(axis=(1, 2))
    close("gradcam: weights = mean of G per channel", L["weights"][0], w)
    cam = (w[:, None, None] * A64).sum(0)
    close("gradcam: cam = sum_k w_k A_k", L["cam"][0], cam)
    scaled = minmax(np.maximum(cam, 0))
    close("gradcam: scaled = min-max of ReLU(cam) (same size: no resize)", L["scaled"][0], scaled, 1e-6)
    close("gradcam: map = min-max applied twice", r["map"][0], minmax(scaled), 1e-6)
    top = L["scaled"].max()
    check("gradcam: the map's maximum is M / (M + 1e-7) < 1, M the scaled map's maximum",
          r["map"].max() < 1 and abs(r["map"].max() - top / (top + 1e-7)) < 1e-7, f"max {r['map'].max():.9f}")
    close("gradcam: logits", r["logits"][0], logits_of(W, b, A))

    r = rc.run_cam(model, ["gain"], x, "hirescam", targets=tgt)
    close("hirescam: cam = sum_k G*A", r["layers"][0]["cam"][0], (G * A64).sum(0))
    check("hirescam: no channel weights", r["layers"][0]["weights"] is None)

    r = rc.run_cam(model, ["gain"], x, "gradcamelementwise", targets=tgt)
    close("gradcamelementwise: cam = sum_k max(G*A, 0)", r["layers"][0]["cam"][0],
          np.maximum(G * A64, 0).sum(0))

    r = rc.run_cam(model, ["gain"], x, "layercam", targets=tgt)
    close("layercam: cam = sum_k max(G, 0) * A", r["layers"][0]["cam"][0], (np.maximum(G, 0) * A64).sum(0))

    r = rc.run_cam(model, ["gain"], x, "gradcam++", targets=tgt)
    alpha = G ** 2 / (2 * G ** 2 + S[:, None, None] * G ** 3 + 1e-6)
    wpp = (np.maximum(G, 0) * np.where(G != 0, alpha, 0)).sum(axis=(1, 2))
    close("gradcam++: w = sum relu(G) G^2 / (2 G^2 + S G^3 + 1e-6)", r["layers"][0]["weights"][0], wpp)
    close("gradcam++: cam = sum_k w_k A_k", r["layers"][0]["cam"][0], (wpp[:, None, None] * A64).sum(0))

    r = rc.run_cam(model, ["gain"], x, "xgradcam", targets=tgt)
    wx = (G * A64 / (S[:, None, None] + 1e-7)).sum(axis=(1, 2))
    close("xgradcam: w = sum G A / (S_k + 1e-7)", r["layers"][0]["weights"][0], wx)

    z = logits_of(W, b, A)
    p = softmax(z)
    dsoft = p[c] * ((np.arange(len(z)) == c) - p)
    r = rc.run_cam(model, ["gain"], x, "gradcam", targets=[rc.make_target("softmax", c)])
    close("gradcam with a softmax target: G = W^T p_c (delta - p)", r["layers"][0]["G"][0],
          (W.T.astype(np.float64) @ dsoft).reshape(2, 3, 3))

    r = rc.run_cam(model, ["gain"], x, "gradcam")
    check("default target: the argmax of the logits", int(r["targets"][0].category) == int(np.argmax(z)))

    # two target layers: the mean of the per-layer maps, min-maxed once more
    two = nn.Sequential(Gain(), Gain(2.0), nn.Flatten(), nn.Linear(18, 4)).eval()
    with torch.no_grad():
        two[3].weight.copy_(torch.from_numpy(W))
        two[3].bias.copy_(torch.from_numpy(b))
    r = rc.run_cam(two, ["0", "1"], x, "layercam", targets=tgt)
    c0 = (np.maximum(2 * G, 0) * A64).sum(0)       # G at layer 0 is 2 G (the gain 2 above it)
    c1 = (np.maximum(G, 0) * 2 * A64).sum(0)
    close("two layers: each layer's own cam", np.stack([r["layers"][0]["cam"][0], r["layers"][1]["cam"][0]]),
          np.stack([c0, c1]))
    close("two layers: map = min-max(mean of the scaled maps)", r["map"][0],
          minmax((minmax(np.maximum(c0, 0)) + minmax(np.maximum(c1, 0))) / 2), 1e-6)


def check_resize():
    """A 2x average pool before the layer: a 3 x 4 map resized to 6 x 8, which
    cv2 INTER_LINEAR does like torch's bilinear with align_corners=False."""
    N, K = 3, 2
    W = f32(RNG.uniform(-1, 1, (N, K * 12)))
    b = f32(RNG.uniform(-1, 1, N))
    model = FlatHead(W, b, pre=nn.AvgPool2d(2)).eval()
    x = torch.from_numpy(f32(RNG.uniform(-1, 1, (1, K, 6, 8))))
    r = rc.run_cam(model, ["gain"], x, "gradcamelementwise", targets=[rc.make_target("logit", 1)])
    L = r["layers"][0]
    small = minmax(np.maximum(L["cam"][0].astype(np.float64), 0))
    want = F.interpolate(torch.from_numpy(small)[None, None], size=(6, 8), mode="bilinear",
                         align_corners=False)[0, 0].numpy()
    close("resize: scaled = bilinear (half-pixel) upsampling of the min-maxed map", L["scaled"][0], want, 1e-6)


def check_fem():
    a0 = np.zeros(9)
    a0[8] = 9                      # mean 1, std sqrt(8): threshold 1 + 2 sqrt 8 = 6.66, one pixel above
    a1 = np.arange(1, 10.0)        # mean 5, std sqrt(60 / 9): threshold 10.2, no pixel above
    A = f32(np.stack([a0, a1]).reshape(1, 2, 3, 3))
    W = f32(RNG.uniform(-1, 1, (3, 18)))
    model = FlatHead(W, np.zeros(3)).eval()
    r = rc.run_cam(model, ["gain"], torch.from_numpy(A), "fem")
    L = r["layers"][0]
    close("fem: weights = fraction of pixels above mean + 2 std", L["weights"][0], [1 / 9, 0])
    check("fem: weights are float64", L["weights"].dtype == np.float64)
    close("fem: cam = sum_k w_k A_k", L["cam"][0], a0.reshape(3, 3) / 9)
    check("fem: no backward (G is None)", L["G"] is None)
    r2 = rc.run_cam(model, ["gain"], torch.from_numpy(A), "fem", eigen_smooth=True)
    close("fem: eigen_smooth is ignored", r2["map"], r["map"], 0)
    # (0, 0, 0, 0, b): mean b/5, std 2b/5 exactly, threshold b = the last pixel (with five
    # pixels no z-score exceeds sqrt(4) = 2): strict > counts none
    A5 = f32([[[[0, 0, 0, 0, 5]], [[0, 0, 0, 0, 6]]]])
    r = rc.run_cam(FlatHead(f32(RNG.uniform(-1, 1, (3, 10))), np.zeros(3)).eval(), ["gain"],
                   torch.from_numpy(A5), "fem")
    close("fem: strict >: a pixel exactly at mean + 2 std does not count", r["layers"][0]["weights"][0],
          [0, 0], 0)


def check_scorecam():
    W, b, A, model = flat_setup()
    c = 1
    r = rc.run_cam(model, ["gain"], torch.from_numpy(A), "scorecam", targets=[rc.make_target("logit", c)])
    L = r["layers"][0]
    A64 = A[0].astype(np.float64)
    scores = []
    for k in range(2):
        u = (A64[k] - A64[k].min()) / (A64[k].max() - A64[k].min() + 1e-8)   # same size: no upsampling
        scores.append(logits_of(W, b, A64 * u[None])[c])
    w = softmax(np.array(scores))
    close("scorecam: raw scores of the masked inputs", L["scores"][0], scores)
    close("scorecam: weights = softmax over the channel scores", L["weights"][0], w)
    close("scorecam: cam = sum_k w_k A_k", L["cam"][0], (w[:, None, None] * A64).sum(0))
    r1 = rc.run_cam(model, ["gain"], torch.from_numpy(A), "scorecam", targets=[rc.make_target("logit", c)],
                    batch_size=1)
    close("scorecam: batch_size 1 gives the same weights", r1["layers"][0]["weights"], L["weights"], 1e-6)

    # a 3 x 4 layer under a 6 x 8 input: masks upsampled bilinearly with align_corners=True,
    # here by np.interp at src = dst (in - 1) / (out - 1) along each axis
    W2 = f32(RNG.uniform(-1, 1, (3, 24)))
    b2 = f32(RNG.uniform(-1, 1, 3))
    pooled = FlatHead(W2, b2, pre=nn.AvgPool2d(2)).eval()
    x = f32(RNG.uniform(-1, 1, (1, 2, 6, 8)))
    A = x.astype(np.float64).reshape(2, 3, 2, 4, 2).mean(axis=(2, 4))

    def upsample(m):
        rows = np.stack([np.interp(np.arange(8) * 3 / 7, np.arange(4), r) for r in m])
        return np.stack([np.interp(np.arange(6) * 2 / 5, np.arange(3), col) for col in rows.T], axis=1)
    scores = []
    for k in range(2):
        u = upsample(A[k])
        u = (u - u.min()) / (u.max() - u.min() + 1e-8)
        xm = x[0].astype(np.float64) * u[None]
        scores.append(logits_of(W2, b2, xm.reshape(2, 3, 2, 4, 2).mean(axis=(2, 4)))[c])
    r = rc.run_cam(pooled, ["gain"], torch.from_numpy(x), "scorecam", targets=[rc.make_target("logit", c)])
    close("scorecam: align_corners=True upsampling of the masks to the input (scores)", r["layers"][0]["scores"][0],
          scores)


def check_ablationcam():
    W, b, A, model = flat_setup(positive=True)
    W64, A64 = W.astype(np.float64), A[0].astype(np.float64)
    Wc = lambda c: W64[c].reshape(2, 3, 3)  # noqa: E731
    z = logits_of(W, b, A)

    # minimum exactly 0: the ablated channel becomes 0
    A0 = A.copy()
    A0[0, 1, 2, 2] = 0
    z0 = logits_of(W, b, A0)
    c = int(np.argmax(z0))
    r = rc.run_cam(model, ["gain"], torch.from_numpy(A0), "ablationcam", targets=[rc.make_target("logit", c)])
    L = r["layers"][0]
    A0_64 = A0[0].astype(np.float64)
    s = [z0[c] - (Wc(c)[k] * A0_64[k]).sum() for k in range(2)]
    close("ablationcam: min 0 -> ablated channel set to 0 (scores)", L["scores"][0], s)
    close("ablationcam: w = (orig - score) / orig", L["weights"][0], [(z0[c] - v) / z0[c] for v in s])

    # minimum m > 0, one chunk of 2: channel 0 -> m - 1e7, channel 1 -> (m - 1e7) - 1e7, in float32
    c_neg = int(np.argmin(z))
    check("ablationcam: the chosen target's score is negative", z[c_neg] < 0, f"{z[c_neg]}")
    m = A.min()
    v0 = np.float32(m - np.float32(1e7))
    v1 = np.float32(v0 - np.float32(1e7))

    def ablated_scores(c, values):
        return [z[c] + (Wc(c)[k] * (values[k] - A64[k])).sum() for k in range(2)]
    for bs, values, what in ((32, (v0, v1), "within a chunk: min-1e7, then min-2e7"),
                             (1, (v0, v0), "batch_size 1: every chunk starts again at min-1e7")):
        r = rc.run_cam(model, ["gain"], torch.from_numpy(A), "ablationcam",
                       targets=[rc.make_target("logit", c_neg)], batch_size=bs)
        L = r["layers"][0]
        s = ablated_scores(c_neg, values)
        close(f"ablationcam: {what} (scores)", L["scores"][0], s)
        close(f"ablationcam: {what}: w divided by the signed original score", L["weights"][0],
              [(z[c_neg] - v) / z[c_neg] for v in s])

    # ratio < 1: 2 * floor(r K) channels, the others keep the original score (weight 0)
    W4, b4, A4, model4 = flat_setup(K=4)
    r = rc.run_cam(model4, ["gain"], torch.from_numpy(A4), "ablationcam",
                   targets=[rc.make_target("logit", 0)], ratio_channels_to_ablate=0.25)
    L = r["layers"][0]
    chosen = set(int(k) for k in L["ablated"][0])
    others = [k for k in range(4) if k not in chosen]
    check("ablationcam ratio 0.25 of 4 channels: 2 channels ablated", len(L["ablated"][0]) == 2 and len(chosen) == 2,
          f"{L['ablated'][0]}")
    check("ablationcam ratio 0.25: the channels not ablated have weight exactly 0",
          all(L["weights"][0, k] == 0 for k in others), f"{L['weights'][0]}")


def check_aug_smooth():
    # hirescam on a flatten head: flipping the input moves A but not G, so the six maps differ
    W, b, A, model = flat_setup(K=2, h=4, w=5, rng=np.random.RandomState(5))
    x = torch.from_numpy(A)
    r = rc.run_cam(model, ["gain"], x, "hirescam", aug_smooth=True)
    maps = []
    for flip in (False, True):
        for factor in (0.9, 1, 1.1):
            xa = x.flip(3) if flip else x
            xa = xa * factor if factor != 1 else xa
            m = rc.run_cam(model, ["gain"], xa, "hirescam")["map"]
            maps.append(m[:, :, ::-1] if flip else m)
    want = np.mean(np.stack(maps).astype(np.float64), axis=0)
    close("aug_smooth: the mean of the six de-augmented single runs", r["map"], want, 1e-6)
    check("aug_smooth: six transforms in ttach order", [(f, t) for f, t, _ in r["aug"]] ==
          [(False, 0.9), (False, 1), (False, 1.1), (True, 0.9), (True, 1), (True, 1.1)])
    check("aug_smooth: the mean is not re-normalised (max < 0.99 here)", r["map"].max() < 0.99,
          f"max {r['map'].max()}")
    close("aug_smooth: logits are those of the un-augmented forward", r["logits"][0], logits_of(W, b, A))


def check_targets():
    z0 = f32([0.3, -1.2, 2.0, 0.7, -0.1])
    p = softmax(z0.astype(np.float64))
    eye = np.eye(5)
    for kind, c, want_value, want_grad in (
            ("logit", 3, z0[3], eye[3]),
            ("softmax", 2, p[2], p[2] * (eye[2] - p)),
            ("rest", 1, 2 * z0[1] - np.log(np.exp(z0.astype(np.float64)).sum()), 2 * eye[1] - p)):
        z = torch.tensor(z0, requires_grad=True)
        v = rc.make_target(kind, c)(z)
        v.backward()
        close(f"target {kind}: value", v.item(), want_value, 1e-6)
        close(f"target {kind}: gradient", z.grad.numpy(), want_grad, 1e-6)
    for c, sign in ((1, 1.0), (0, -1.0)):
        z = torch.tensor([0.4], requires_grad=True)
        v = rc.make_target("binary", c)(z)
        v.sum().backward()
        check(f"target binary {c}: value {sign:+.0f} z, gradient {sign:+.0f}",
              float(v[0]) == sign * float(z[0]) and float(z.grad[0]) == sign, f"{v} {z.grad}")


def rank1(K=3, h=3, w=3):
    """A_k = a_k p + c_k: after centring, (p - mean p) a^T, rank one."""
    p = np.zeros(h * w)
    p[-1] = 9.0                    # p - mean p = (-1, ..., -1, 8): |max| > |min|
    a = np.array([1.5, -0.5, 2.0])[:K]
    off = np.array([0.25, 1.0, -2.0])[:K]
    A = f32((a[:, None] * p[None] + off[:, None]).reshape(1, K, h, w))
    t = (p - p.mean()).reshape(h, w)
    return A, a, t


def check_projections():
    A, a, t = rank1()
    N = 3
    Wp = f32(RNG.uniform(-1, 1, (N, 3)))
    model = PoolHead(Wp, np.zeros(N)).eval()
    x = torch.from_numpy(A)
    tgt = [rc.make_target("logit", 0)]
    g = Wp[0].astype(np.float64) / 9               # the pooled head's gradient per channel

    r = rc.run_cam(model, ["gain"], x, "eigencam")
    close("eigencam: |cam| = |a| |p - mean p| (rank-one activation)", np.abs(r["layers"][0]["cam"][0]),
          np.linalg.norm(a) * np.abs(t))
    check("eigencam: no backward", r["layers"][0]["G"] is None)
    pos = lambda proj, M, v: 1 if v[0] > 0 else -1   # noqa: E731  (a[0] > 0: the +t direction)
    neg = lambda proj, M, v: -1 if v[0] > 0 else 1   # noqa: E731
    close("eigencam: eigen_sign picks +|a| (p - mean p)",
          rc.run_cam(model, ["gain"], x, "eigencam", eigen_sign=pos)["layers"][0]["cam"][0], np.linalg.norm(a) * t)
    close("eigencam: eigen_sign picks -|a| (p - mean p)",
          rc.run_cam(model, ["gain"], x, "eigencam", eigen_sign=neg)["layers"][0]["cam"][0], -np.linalg.norm(a) * t)

    r = rc.run_cam(model, ["gain"], x, "eigengradcam", targets=tgt)
    close("eigengradcam: |cam| = |g*a| |p - mean p|", np.abs(r["layers"][0]["cam"][0]),
          np.linalg.norm(g * a) * np.abs(t))

    for name, sign in (("+", pos), ("-", neg)):
        r = rc.run_cam(model, ["gain"], x, "segeigencam", targets=tgt, eigen_sign=sign)
        close(f"segeigencam: the sign correction gives +||g|*a| (p - mean p) whatever the SVD sign ({name})",
              r["layers"][0]["cam"][0], np.linalg.norm(np.abs(g) * a) * t)

    r = rc.run_cam(model, ["gain"], x, "gradcam", targets=tgt, eigen_smooth=True, eigen_sign=pos)
    close("gradcam eigen_smooth: projection of w*A: sign(g0 a0) |w*a| (p - mean p)", r["layers"][0]["cam"][0],
          np.sign(g[0] * a[0]) * np.linalg.norm(g * a) * t)

    r = rc.run_cam(model, ["gain"], x, "kpcacam", kpca_kernel="linear")
    close("kpcacam linear kernel: PCA, largest |entry| positive: +|a| (p - mean p)",
          r["layers"][0]["cam"][0], np.linalg.norm(a) * t)

    # sigmoid kernel on two pixels: centred rows m and -m, K = [[u, v], [v, u]],
    # u = tanh(gamma |m|^2 + 1), v = tanh(-gamma |m|^2 + 1); centred: top eigenvalue u - v,
    # eigenvector (1, -1) / sqrt 2: proj = +-sqrt((u - v) / 2) (1, -1)
    A2 = f32([[[[0.5, -0.3]], [[1.0, 2.0]], [[-0.2, 0.6]]]])
    m = (A2[0, :, 0, 0] - A2[0, :, 0, 1]).astype(np.float64) / 2
    model2 = PoolHead(Wp, np.zeros(N)).eval()
    for gamma in (None, 0.7):
        gm = 1 / 3 if gamma is None else gamma
        u, v = np.tanh(gm * m @ m + 1), np.tanh(-gm * m @ m + 1)
        cam = rc.run_cam(model2, ["gain"], torch.from_numpy(A2), "kpcacam", kpca_gamma=gamma)["layers"][0]["cam"][0]
        close(f"kpcacam sigmoid (gamma {gamma}): |proj| = sqrt((u - v) / 2)", np.abs(cam[0]),
              np.full(2, np.sqrt((u - v) / 2)))
        check(f"kpcacam sigmoid (gamma {gamma}): proj[0] = -proj[1]", abs(cam[0, 0] + cam[0, 1]) < 1e-6, f"{cam}")


def check_randomcam():
    W, b, A, model = flat_setup()
    x = torch.from_numpy(A)
    r = rc.run_cam(model, ["gain"], x, "randomcam", seed=7)
    close("randomcam: weights = RandomState(seed).uniform(-1, 1, (B, K))", r["layers"][0]["weights"],
          np.random.RandomState(7).uniform(-1, 1, (1, 2)), 0)
    np.random.seed(7)
    close("randomcam: the same numbers as np.random.seed(seed) + the global RNG",
          r["layers"][0]["weights"], np.random.uniform(-1, 1, (1, 2)), 0)
    np.random.seed(11)
    r = rc.run_cam(model, ["gain"], x, "randomcam")
    close("randomcam seed None: numpy's global RNG", r["layers"][0]["weights"],
          np.random.RandomState(11).uniform(-1, 1, (1, 2)), 0)
    check("randomcam: weights float64", r["layers"][0]["weights"].dtype == np.float64)


class SubConv(nn.Conv2d):
    """A subclass of Conv2d: FullGrad's exact-type test leaves it out."""


class FullGradNet(nn.Module):
    def __init__(self, W, b):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 1, bias=True)
        self.bn = nn.BatchNorm2d(2)
        self.sub = SubConv(2, 2, 1, bias=True)
        self.nobias = nn.Conv2d(2, 2, 1, bias=False)
        self.fc = nn.Linear(18, W.shape[0])
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor([1.5, -0.8]).view(2, 1, 1, 1))
            self.conv.bias.copy_(torch.tensor([0.3, -0.6]))
            self.bn.running_mean.copy_(torch.tensor([0.2, -0.1]))
            self.bn.running_var.copy_(torch.tensor([1.7, 0.4]))
            self.bn.weight.copy_(torch.tensor([0.9, -1.3]))
            self.bn.bias.copy_(torch.tensor([0.05, 0.4]))
            for identity in (self.sub, self.nobias):
                identity.weight.copy_(torch.eye(2).view(2, 2, 1, 1))
            self.sub.bias.fill_(0.5)
            self.fc.weight.copy_(torch.from_numpy(W))
            self.fc.bias.copy_(torch.from_numpy(b))

    def forward(self, x):
        return self.fc(self.nobias(self.sub(self.bn(self.conv(x)))).flatten(1))


def check_fullgrad():
    W = f32(RNG.uniform(-1, 1, (3, 18)))
    b = f32(RNG.uniform(-1, 1, 3))
    model = FullGradNet(W, b).eval()
    x64 = RNG.uniform(-1, 1, (3, 3))
    x = torch.from_numpy(f32(x64)[None, None])
    x64 = f32(x64).astype(np.float64)
    c = 2
    r = rc.run_cam(model, [], x, "fullgrad", targets=[rc.make_target("logit", c)])
    fg = r["fullgrad"]
    check("fullgrad: bias layers = exact Conv2d / BatchNorm2d with a bias, pre-order",
          fg["bias_layers"] == ["conv", "bn"], f"{fg['bias_layers']}")
    w1, b1 = np.array([1.5, -0.8]), np.array([0.3, -0.6])
    rm, rv, gam, bet = np.array([0.2, -0.1]), np.array([1.7, 0.4]), np.array([0.9, -1.3]), np.array([0.05, 0.4])
    s = gam / np.sqrt(rv + 1e-5)
    bn_bias = -(rm * s) + bet
    close("fullgrad: BN bias folded -(mean * weight / sqrt(var + eps)) + bias", fg["biases"][1], bn_bias)
    G_bn = W[c].astype(np.float64).reshape(2, 3, 3)
    G_conv = G_bn * s[:, None, None]
    xgrad = (w1[:, None, None] * G_conv).sum(0)
    close("fullgrad: input gradient", fg["input_grad"][0, 0], xgrad)
    t0 = minmax(np.abs(xgrad * x64))
    t1 = sum(minmax(np.abs(b1[k] * G_conv[k])) for k in range(2))
    t2 = sum(minmax(np.abs(bn_bias[k] * G_bn[k])) for k in range(2))
    close("fullgrad: input term |x.grad * x| min-maxed", fg["input_term"][0, 0], t0, 1e-6)
    close("fullgrad: conv term = sum over channels of min-maxed |b_k G_k|", fg["bias_terms"][0][0], t1, 1e-6)
    close("fullgrad: BN term likewise", fg["bias_terms"][1][0], t2, 1e-6)
    close("fullgrad: map = min-max of the sum (no ReLU)", r["map"][0], minmax(t0 + t1 + t2), 1e-6)


def check_shapleycam():
    W, b, A, model = flat_setup(N=4)
    x = torch.from_numpy(A)
    c = 3
    W64, a = W.astype(np.float64), A.reshape(-1).astype(np.float64)
    p = softmax(W64 @ a + b)
    G = W64.T @ (2 * np.eye(4)[c] - p)                     # d (2 z_c - logsumexp z) / d A
    hvp = -W64.T @ ((np.diag(p) - np.outer(p, p)) @ (W64 @ a))
    w = (G - 0.5 * hvp).reshape(2, 9).mean(1)
    r = rc.run_cam(model, ["gain"], x, "shapleycam", targets=[rc.make_target("rest", c)])
    L = r["layers"][0]
    close("shapleycam ReST: G = W^T (2 delta - p)", L["G"][0], G.reshape(2, 3, 3))
    close("shapleycam ReST: hvp = -W^T (diag p - p p^T) W A", L["hvp"][0], hvp.reshape(2, 3, 3))
    close("shapleycam ReST: w = mean (G - hvp / 2)", L["weights"][0], w)
    tgt = [rc.make_target("logit", c)]
    rs = rc.run_cam(model, ["gain"], x, "shapleycam", targets=tgt)
    rg = rc.run_cam(model, ["gain"], x, "gradcam", targets=tgt)
    close("shapleycam logit target on a linear head: exactly gradcam", rs["map"], rg["map"], 0)


def check_finercam():
    W, b, A, model = flat_setup(N=6)
    x = torch.from_numpy(A)
    W64 = W.astype(np.float64)
    z = logits_of(W, b, A)
    order = np.argsort(np.abs(z - z.max()))
    p = softmax(z)
    for alpha, ranks in ((1.0, (1, 2, 3)), (0.5, (2, 4))):
        main, comps = order[0], [order[k] for k in ranks]
        # f = sum_i p_i (z_m - alpha z_i) / (sum_i p_i + 1e-9), with the softmax's derivative
        dp = lambda i: p[i] * (np.eye(6)[i] - p)    # noqa: E731
        num = sum(p[i] * (z[main] - alpha * z[i]) for i in comps)
        den = sum(p[i] for i in comps) + 1e-9
        dnum = sum(dp(i) * (z[main] - alpha * z[i]) + p[i] * (np.eye(6)[main] - alpha * np.eye(6)[i]) for i in comps)
        dden = sum(dp(i) for i in comps)
        df = (dnum * den - num * dden) / den ** 2
        w = (W64.T @ df).reshape(2, 9).mean(1)
        r = rc.run_cam(model, ["gain"], x, "finercam", finer_alpha=alpha, finer_comparison=ranks)
        t = r["targets"][0]
        check(f"finercam default targets (ranks {ranks}): main = order[0], comparisons = order[ranks]",
              t.main == main and list(t.comparisons) == [int(i) for i in comps], f"{t.main} {t.comparisons}")
        close(f"finercam (alpha {alpha}): Grad-CAM weights of the softmax-weighted target", r["layers"][0]["weights"][0], w)


def check_inplace_quirk():
    """A ReLU(inplace=True) applied to the hooked conv's output rewrites the kept activation."""
    conv = nn.Conv2d(2, 2, 1)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[0.9, -0.4], [-0.7, 0.5]]).view(2, 2, 1, 1))
        conv.bias.copy_(torch.tensor([0.1, -0.2]))
    model = nn.Sequential(conv, nn.ReLU(inplace=True), nn.Flatten(), nn.Linear(18, 3)).eval()
    x = torch.from_numpy(f32(RNG.uniform(-1, 1, (1, 2, 3, 3))))
    with torch.no_grad():
        raw = conv(x).numpy()
    r = rc.run_cam(model, ["0"], x, "eigencam")
    check("in-place quirk: the conv output had negatives", raw.min() < 0)
    close("in-place quirk: the kept activation is relu(conv(x)), as the library sees it",
          r["layers"][0]["A"], np.maximum(raw, 0), 0)


def check_guided():
    C, N = 2, 3
    Mx = f32([[0.8, -1.1], [0.6, 0.9]])
    W = f32(RNG.uniform(-1, 1, (N, C * 9)))
    conv = nn.Conv2d(C, C, 1, bias=False)
    model = nn.Sequential(nn.ReLU(), conv, nn.ReLU(), nn.Flatten(), nn.Linear(C * 9, N, bias=False)).eval()
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(Mx).view(C, C, 1, 1))
        model[4].weight.copy_(torch.from_numpy(W))
    x64 = f32(RNG.uniform(-1, 1, (C, 3, 3))).astype(np.float64)
    x = torch.from_numpy(f32(x64)[None])
    c = 1
    u2 = np.einsum("ij,jhw->ihw", Mx.astype(np.float64), np.maximum(x64, 0))
    dy2 = W[c].astype(np.float64).reshape(C, 3, 3)
    g2 = dy2 * (u2 > 0) * (dy2 > 0)
    dy1 = np.einsum("ji,jhw->ihw", Mx.astype(np.float64), g2)
    g1 = dy1 * (x64 > 0) * (dy1 > 0)
    gb = rc.guided_backprop(model, x, cls=c)
    close("guided backprop: dx = dy [x > 0] [dy > 0] through two ReLUs", gb, g1.transpose(1, 2, 0))
    check("guided backprop: H x W x C float32", gb.shape == (3, 3, C) and gb.dtype == np.float32)
    z = model(x).detach().numpy()
    close("guided backprop cls None: the argmax", rc.guided_backprop(model, x),
          rc.guided_backprop(model, x, cls=int(np.argmax(z))), 0)
    check("guided backprop: the caller's model keeps its nn.ReLU modules",
          type(model[0]) is nn.ReLU and type(model[2]) is nn.ReLU)

    silu = nn.Sequential(nn.SiLU(), nn.Flatten(), nn.Linear(C * 9, N, bias=False)).eval()
    with torch.no_grad():
        silu[2].weight.copy_(torch.from_numpy(W))
    sig = 1 / (1 + np.exp(-x64))
    slope = sig * (1 + x64 * (1 - sig))
    dy = W[c].astype(np.float64).reshape(C, 3, 3)
    close("guided extended SiLU: dx = dy f'(x) [dy > 0] [f'(x) > 0]", rc.guided_backprop(silu, x, cls=c, extended=True),
          (dy * slope * (dy > 0) * (slope > 0)).transpose(1, 2, 0))
    close("guided (not extended) leaves SiLU alone: dx = dy f'(x)", rc.guided_backprop(silu, x, cls=c),
          (dy * slope).transpose(1, 2, 0))

    gb3 = f32(RNG.normal(0, 1e-3, (4, 5, 3)))
    cam = f32(RNG.uniform(0, 1, (4, 5)))

    def deprocessed(g):
        d = (g.astype(np.float64) - g.mean()) / (g.std() + 1e-5) * 0.1 + 0.5
        return np.uint8(np.clip(d, 0, 1) * 255)
    gbi, camgb = rc.guided_cam_images(cam, gb3)
    check("deprocess_image (gb): truncating uint8 of clip(0.1 (g - mean) / (std + 1e-5) + 0.5) (+-1)",
          gbi.dtype == np.uint8 and np.abs(gbi.astype(int) - deprocessed(gb3)).max() <= 1)
    check("guided_cam_images: cam_gb = deprocess_image(cam[..., None] * gb) (+-1)",
          np.abs(camgb.astype(int) - deprocessed(cam[:, :, None] * gb3)).max() <= 1)
    _, flat = rc.guided_cam_images(np.full((4, 5), 0.5, np.float32), gb3)
    check("guided_cam_images: a constant cam gives gb's own picture (+-1)",
          np.abs(flat.astype(int) - gbi.astype(int)).max() <= 1)


def main():
    for part in (check_gradient_family, check_resize, check_fem, check_scorecam, check_ablationcam,
                 check_aug_smooth, check_targets, check_projections, check_randomcam, check_fullgrad,
                 check_shapleycam, check_finercam, check_inplace_quirk, check_guided):
        try:
            part()
        except Exception as e:  # a crash is a failed check, not a pass
            import traceback
            traceback.print_exc()
            check(f"{part.__name__} ran to the end ({type(e).__name__}: {e})", False)
    return finish("reference_cams")


if __name__ == "__main__":
    sys.exit(main())
