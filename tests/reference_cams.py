#!/usr/bin/python3
"""Every CAM method of pytorch-grad-cam 1.5 (jacobgil/pytorch-grad-cam at
084273b), restated in PyTorch and numpy from its arithmetic, so the C engine's
tests can compare against what users of that library get. The library itself
is not installable here; this file reuses none of its code, only the same
torch / numpy / OpenCV operations where the numbers depend on them (dtypes,
the order of operations, the eps constants). 2-D inputs (B x C x H x W) only.
A map of the library is /work/shared/CAM_METHODS.md.

    run_cam(model, ["layer4"], x, "gradcam++")["map"]   # B x H x W float32

What one call does (base_cam.py, activations_and_gradients.py):
  * model.eval(); two forward hooks per target module: one keeps
    output.cpu().detach() (on CPU that SHARES storage with the live output,
    so an in-place op that later rewrites it, e.g. a ReLU(inplace=True)
    applied to the hooked tensor, rewrites the kept activation too: kept);
    the other puts a tensor hook on the output whose gradient is PREPENDED to
    a list as backward reaches it. Pairing with the target list is by
    position in those lists, as in the library.
  * targets None: ClassifierOutputTarget(argmax of each row) (first maximum),
    chosen afresh for every forward (so for each aug_smooth transform).
  * gradient methods: model.zero_grad(); loss = Python sum (0 + t_0 + t_1 ...)
    of target_b(output_b) over the samples (one sample's 1-D output each);
    loss.backward(retain_graph=True). ShapleyCAM instead takes
    torch.autograd.grad(loss, x, create_graph=True) and keeps the raw tensors.
  * per layer: cam = get_cam_image (channel-weighted sum, sequential float32
    over channels, or the method's own map); ReLU; scale_cam_image (minus the
    min, over 1e-7 + the max, both in the map's dtype, float32, cv2.resize to
    (W, H) bilinear half-pixel); then the layers' maps: max(., 0), float32 mean,
    scale_cam_image again. So a map's maximum is M / (M + 1e-7) < 1.
  * aug_smooth: the six ttach transforms in order flip False/True x factor
    0.9, 1, 1.1 (flip of the width axis, then x * factor, factor 1 untouched)
    applied to the NORMALISED tensor; each a full call; masks flipped back;
    np.mean of the float32 stack; NOT re-normalised.
  * eigen_smooth: get_2d_projection: NaN -> 0; per sample the (h*w) x K
    matrix, channels centred over the pixels (float32 mean), np.linalg.svd
    (LAPACK dgesdd in float64, full_matrices), projection M @ VT[0] in float32.
    Honoured by gradcam, gradcam++, xgradcam, scorecam, ablationcam,
    randomcam, shapleycam, finercam (weighted sum), hirescam,
    gradcamelementwise, layercam (their own product); fullgrad has its own
    path; ignored by eigencam, eigengradcam, kpcacam, fem, segeigencam.
    The SVD's sign is whatever LAPACK returns; eigen_sign(proj_hxw, M, vt0)
    -> +1 / -1 may impose another (it multiplies every get_2d_projection,
    including SegEigenCAM's before its own sign correction).

Per method (file of the library):
  gradcam (grad_cam.py)        w = mean_hw G
  hirescam (hirescam.py)       cam = sum_k G*A
  gradcamelementwise           cam = sum_k max(G*A, 0)
  gradcam++ (grad_cam_plusplus.py)  a = G^2 / (2 G^2 + S_k G^3 + 1e-6), S_k = sum_hw A,
                               a = 0 where G == 0; w = sum_hw max(G, 0) * a
  xgradcam (xgrad_cam.py)      w = sum_hw (G*A) / (S_k + 1e-7)
  layercam (layer_cam.py)      cam = sum_k max(G, 0) * A (no tanh rescaling)
  eigencam / eigengradcam      projection of A / of G*A (no backward for eigencam)
  segeigencam (seg_eigen_cam.py)  projection of |G|*A, negated when |min| > |max|
  kpcacam (kpca_cam.py + sklearn KernelPCA(n_components=1)): kernel of the
      centred float32 M (sigmoid: tanh(gamma M M^T + 1), gamma 1/K; also
      'poly' (gamma M M^T + 1)^3 and 'linear'), KernelCenterer in float32, top
      eigenpair, sign so that the largest |v| is positive (svd_flip),
      proj = v sqrt(lambda). sklearn solves in float32 (LAPACK ssyevr for
      h*w <= 200, else ARPACK with a v0 from numpy's global RNG); here
      numpy.linalg.eigh in float64 on the float32 kernel: expect ~1e-6
      relative differences (more when lambda_1 ~ lambda_2).
  fem (fem.py)                 k = 2: th = mean + 2 std (population, float32);
                               w = fraction of pixels with A > th (float64);
                               cam = sum_k w A in float64 (so its min-max runs
                               in float64, cast to float32 before the resize)
  randomcam (random_cam.py)    w = uniform(-1, 1, (B, K)) float64; the library
      draws from numpy's GLOBAL RNG: seed=None does exactly that, seed=s uses
      np.random.RandomState(s), the numbers np.random.seed(s) would give
      (one stream per run_cam call, drawn layer by layer, transform by
      transform). A backward runs, as in the library.
  scorecam (score_cam.py)      UpsamplingBilinear2d (align_corners=True) of A
      to the input size, per (b, k) min-max with 1e-8, x * mask on the
      normalised input, batches of batch_size (default 16; cam.py sets 32)
      through the whole model under no_grad, the raw target value as score,
      torch.softmax over the K channel scores; cam = sum_k w A at the layer's
      resolution.
  ablationcam (ablation_cam.py, ablation_layer.py): an extra no_grad forward
      with a hook keeping the layer's raw output and the original scores;
      the layer is swapped (in its parent's _modules) for a stand-in that
      ignores its input and returns that output repeated, copy i with its
      channel set to 0 if torch.min of the WHOLE chunk is 0, else to that min
      - 1e7, the min re-read after every write (so min-1e7, min-2e7, ...
      within a chunk); chunks of batch_size (default 32) run the full model;
      ratio_channels_to_ablate < 1 ablates 2*floor(rK) channels (top and
      bottom by the library's experimental SVD-mask score, duplicates for
      r > 0.5); skipped channels take the original score;
      w = (orig - score) / orig, divided by the SIGNED original score.
  fullgrad (fullgrad_cam.py)   target layers ignored; bias layers = pre-order
      walk of _modules in registration order over modules whose exact type is
      nn.Conv2d or nn.BatchNorm2d with a bias; BN bias folded as
      -(running_mean * weight / sqrt(running_var + eps)) + bias; the input
      term |x.grad * x| and each layer's |bias * G| are min-maxed PER CHANNEL
      and resized (scale_accross_batch_and_channels), the layer terms summed
      over their channels, everything summed, one scale_cam_image, no ReLU.
      eigen_smooth: per-channel min-max + resize to (W//8, H//8), the
      projection, min-max + resize back.
  finercam (finer_cam.py)      default targets from the logits: order =
      argsort |z - max z| (ascending, numpy's default sort); main = order[0],
      comparisons = order[r] for r in finer_comparison (ranks, not classes);
      FinerWeightedTarget: sum_i p_i (z_main - alpha z_i) / (sum_i p_i + 1e-9)
      with p = softmax(z) NOT detached; then Grad-CAM. FinerCAM has no
      aug_smooth (a ValueError here).
  shapleycam (shapley_cam.py)  create_graph backward; hvp = autograd.grad(G,
      A, grad_outputs=A, allow_unused=True) or 0; w = mean_hw (G - 0.5 hvp);
      equals gradcam when G does not depend on A (piecewise-linear head,
      logit target).

Also guided_backprop and GuidedFunction (guided_backprop.py), deprocess_image /
guided_cam_images (utils/image.py, cam.py), make_target
(utils/model_targets.py), and FullGrad's bias_layers and output_gradients
(fullgrad_cam.py, utils/find_layers.py, activations_and_gradients.py), which
tests/gen_guided_fixtures.py uses too.

`tests/reference_cams.py [ARCH [LAYER [METHOD ...]]]` (default resnet18,
layer4 or features.-1, every method) runs the methods on
assets/images/chelsea.png with a randomly initialised torchvision model (seed
0) and prints each map's min / max / mean and the time: a smoke test for
humans (scorecam and ablationcam take minutes: K forwards at 451 x 300).
tests/test_reference_cams.py checks this file against hand-derived numbers.
"""
import copy
import os
import sys
import time

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_gradcam import deprocess_image, scale_cam_image  # noqa: E402

METHODS = ("gradcam", "hirescam", "gradcamelementwise", "gradcam++", "xgradcam",
           "layercam", "eigencam", "eigengradcam", "kpcacam", "scorecam",
           "ablationcam", "fullgrad", "fem", "finercam", "segeigencam",
           "randomcam", "shapleycam")

NO_BACKWARD = {"eigencam", "kpcacam", "fem", "scorecam", "ablationcam"}   # uses_gradients=False
INPUT_LEAF = {"fullgrad", "shapleycam"}                                   # compute_input_gradient
TTA = [(flip, factor) for flip in (False, True) for factor in (0.9, 1, 1.1)]


# ---- targets (utils/model_targets.py) -------------------------------------------------

class _Logit:
    """ClassifierOutputTarget: z[c]."""
    def __init__(self, category):
        self.category = category

    def __call__(self, out):
        return out[..., self.category]


class _Softmax:
    """ClassifierOutputSoftmaxTarget: softmax(z)[c]."""
    def __init__(self, category):
        self.category = category

    def __call__(self, out):
        return torch.softmax(out, dim=-1)[..., self.category]


class _ReST:
    """ClassifierOutputReST: z[c] - cross_entropy(z, c), for one sample
    2 z_c - logsumexp(z) (through F.cross_entropy, as the library)."""
    def __init__(self, category):
        self.category = category

    def __call__(self, out):
        rows = out if out.ndim == 2 else out[None]
        labels = torch.full((rows.shape[0],), self.category, dtype=torch.long, device=out.device)
        return out[..., self.category] - F.cross_entropy(rows, labels)


class _Binary:
    """BinaryClassifierOutputTarget: the whole output times +1 (category 1) or -1."""
    def __init__(self, category):
        self.category = category

    def __call__(self, out):
        return out * (1 if self.category == 1 else -1)


class _Finer:
    """FinerWeightedTarget(main, comparisons, alpha); the softmax weights keep
    their graph, so their derivative is part of the gradient."""
    def __init__(self, main, comparisons, alpha):
        self.main, self.comparisons, self.alpha = main, comparisons, alpha

    def __call__(self, out):
        prob = torch.softmax(out, dim=-1)
        weights = [prob[..., c] for c in self.comparisons]
        numerator = sum(w * (out[..., self.main] - self.alpha * out[..., c])
                        for w, c in zip(weights, self.comparisons))
        return numerator / (sum(weights) + 1e-9)


_TARGETS = {"logit": _Logit, "softmax": _Softmax, "rest": _ReST, "binary": _Binary}


def make_target(kind, cls):
    """A target for one sample's 1-D output: kind "logit" | "softmax" | "rest" | "binary"."""
    return _TARGETS[kind](cls)


# ---- shared pieces ----------------------------------------------------------------------

def module_at(model, path):
    """The module at a dotted path ("layer4", "features.16", "features.-1");
    a module is returned as is."""
    if isinstance(path, nn.Module):
        return path
    m = model
    for part in path.split("."):
        if part in m._modules:
            m = m._modules[part]
        elif part.lstrip("-").isdigit():
            m = m[int(part)]
        else:
            m = getattr(m, part)
    return m


class _Hooks:
    """The library's ActivationsAndGradients, for the target modules."""

    def __init__(self, modules, detach=True, reshape_transform=None):
        self.detach = detach
        self.reshape = reshape_transform or (lambda t: t)
        self.activations, self.gradients = [], []
        self.handles = []
        for m in modules:
            self.handles.append(m.register_forward_hook(self._keep_output))
            self.handles.append(m.register_forward_hook(self._watch_gradient))

    def _keep_output(self, module, inputs, output):
        # .cpu() of a CPU tensor is the tensor itself: the kept activation
        # follows later in-place writes to the output, as in the library.
        output = self.reshape(output)
        self.activations.append(output.cpu().detach() if self.detach else output)

    def _watch_gradient(self, module, inputs, output):
        if not getattr(output, "requires_grad", False):
            return

        def arrived(grad):
            # backward meets the layers last-first; prepending restores forward order
            grad = self.reshape(grad)
            self.gradients = [grad.cpu().detach() if self.detach else grad] + self.gradients
        output.register_hook(arrived)

    def forward(self, model, x):
        self.activations, self.gradients = [], []
        return model(x)

    def close(self):
        for h in self.handles:
            h.remove()


def _scale(cams, size):
    """scale_cam_image(cams, size) of the library: min-max in the maps' own
    dtype, np.float32, then cv2.resize to size = (W, H)."""
    return np.float32([cv2.resize(m, size) for m in scale_cam_image(cams)])


def _scale_channels(t, size):
    """scale_accross_batch_and_channels: every (b, c) map min-maxed and resized alone."""
    b, c = t.shape[:2]
    return _scale(t.reshape(b * c, *t.shape[2:]), size).reshape(b, c, size[1], size[0])


def _aggregate(scaled):
    """aggregate_multi_layers: max(., 0), float32 mean over layers, scale_cam_image."""
    stack = np.maximum(np.concatenate([s[:, None] for s in scaled], axis=1), 0)
    return scale_cam_image(np.mean(stack, axis=1))


def _centred_matrices(batch):
    """What get_2d_projection and its kernel variant start with: NaN -> 0 (on a
    copy), then per sample (its h x w, the (h*w) x K matrix with the channels
    centred over the pixels, float32 mean)."""
    batch = batch.copy()
    batch[np.isnan(batch)] = 0
    for a in batch:
        m = a.reshape(a.shape[0], -1).transpose()
        yield a.shape[1:], m - m.mean(axis=0)


def _projection(batch, eigen_sign=None, sign_correction=False):
    """get_2d_projection (and, with sign_correction, SegEigenCAM's variant)."""
    out = []
    for hw, m in _centred_matrices(batch):
        vt0 = np.linalg.svd(m, full_matrices=True)[2][0, :]
        p = (m @ vt0).reshape(hw)
        if eigen_sign is not None:
            p = p * eigen_sign(p, m, vt0)
        if sign_correction and abs(p.min()) > abs(p.max()):
            p = -p
        out.append(p)
    return np.float32(out)


def _kernel_matrix(m, kernel, gamma):
    """sklearn's pairwise kernels on float32 rows (GEMM, then in place *=, +=, tanh)."""
    g = 1.0 / m.shape[1] if gamma is None else gamma
    k = m @ m.T
    if kernel == "linear":
        return k
    k *= g
    k += 1
    if kernel == "sigmoid":
        np.tanh(k, k)
    elif kernel == "poly":
        k **= 3
    else:
        raise ValueError(f"kpca kernel {kernel!r} is not restated (sigmoid, poly, linear)")
    return k


def _centre_kernel(k):
    """KernelCenterer().fit_transform in float32: minus column means, minus row means, plus the grand mean."""
    n = k.shape[0]
    col_means = np.sum(k, axis=0) / n
    grand = col_means.sum() / n
    row_means = (np.sum(k, axis=1) / n)[:, None]
    k = k.copy()
    k -= col_means
    k -= row_means
    k += grand
    return k


def _kernel_projection(batch, kernel, gamma):
    """get_2d_projection_kernel: KernelPCA(n_components=1).fit_transform per sample."""
    out = []
    for hw, m in _centred_matrices(batch):
        lam, vec = np.linalg.eigh(np.float64(_centre_kernel(_kernel_matrix(m, kernel, gamma))))
        lam, v = lam[-1], vec[:, -1]
        if lam < 0:   # _check_psd_eigenvalues: a negative top eigenvalue is an error
            raise ValueError(f"kpcacam: the top eigenvalue {lam} is negative")
        v = v * np.sign(v[np.argmax(np.abs(v))])   # svd_flip: the largest |entry| positive
        out.append((v * np.sqrt(lam)).reshape(hw))
    return np.float32(out)


def _numpy(t):
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else t


# ---- channel weights (get_cam_weights) ----------------------------------------------------

def _gradcam_weights(run, layer, A, G, info):
    return np.mean(G, axis=(2, 3))


def _gradcampp_weights(run, layer, A, G, info):
    g2 = G ** 2
    g3 = g2 * G
    sums = np.sum(A, axis=(2, 3))[:, :, None, None]
    alpha = g2 / (2 * g2 + sums * g3 + 1e-6)     # eq. 19 of arXiv:1710.11063, first-order closed form
    alpha = np.where(G != 0, alpha, 0)
    return np.sum(np.maximum(G, 0) * alpha, axis=(2, 3))


def _xgradcam_weights(run, layer, A, G, info):
    sums = np.sum(A, axis=(2, 3))[:, :, None, None]
    return (G * A / (sums + 1e-7)).sum(axis=(2, 3))


def _random_weights(run, layer, A, G, info):
    return run.rng.uniform(-1, 1, size=(G.shape[0], G.shape[1]))


def _scorecam_weights(run, layer, A, G, info):
    with torch.no_grad():
        up = nn.UpsamplingBilinear2d(size=run.x.shape[-2:])(torch.from_numpy(A).to(run.device))
        flat = up.view(up.size(0), up.size(1), -1)
        hi = flat.max(dim=-1)[0][:, :, None, None]
        lo = flat.min(dim=-1)[0][:, :, None, None]
        up = (up - lo) / (hi - lo + 1e-8)
        masked = run.x[:, None, :, :] * up[:, :, None, :, :]     # B x K x C x H x W
        step = run.batch_size or 16
        scores = []
        for target, images in zip(run.targets, masked):
            for i in range(0, images.size(0), step):
                scores.extend(target(o).cpu().item() for o in run.model(images[i:i + step, :]))
        scores = torch.Tensor(scores).view(A.shape[0], A.shape[1])
        info["scores"] = scores.numpy()
        return torch.softmax(scores, dim=-1).numpy()


class _AblatedStandIn(nn.Module):
    """Takes the target layer's place: ignores its input and returns `batch`
    (copies of the layer's output) with copy i's channel channels[i] set to 0
    when the minimum of the whole chunk is 0, else to that minimum - 1e7; the
    minimum is read again after each write."""

    def __init__(self):
        super().__init__()
        self.batch, self.channels = None, None

    def forward(self, x):
        out = self.batch
        for i in range(out.size(0)):
            low = torch.min(out)
            out[i, self.channels[i], :] = 0 if low == 0 else low - 1e7
        return out


def _swap_module(parent, old, new):
    """replace_layer_recursive: the first child (depth first) that IS old becomes new."""
    for name, child in parent._modules.items():
        if child is old:
            parent._modules[name] = new
            return True
        if _swap_module(child, old, new):
            return True
    return False


def _channels_to_ablate(a, ratio, sort_kind=None):
    """AblationLayer.activations_to_be_ablated for one image's K x h x w activation.
    sort_kind None is numpy's default (quicksort: ties in no defined order, and
    on CPUs with AVX-512 numpy's vectorised sort); "stable" keeps the lower
    channel first, as cnncam does."""
    if ratio == 1.0:
        return np.int32(range(a.shape[0]))
    mask = np.abs(_projection(a[None, :])[0])
    mask = mask - mask.min()
    mask = mask / mask.max()
    mask = mask > 0.01
    scores = []
    for channel in a:
        n = np.abs(channel)
        n = n - n.min()
        n = n / np.max(n)
        scores.append((mask * n).sum() / n.sum())
    order = list(np.argsort(np.float32(scores), kind=sort_kind))
    keep = int(len(order) * ratio)
    return np.int32(order[::-1][:keep] + order[:keep])


def _assemble_scores(scores, original, channels, n_channels):
    """assemble_ablation_scores: scores in channel order, the original score for skipped channels."""
    order = np.argsort(channels)
    channels, scores = channels[order], np.float32(scores)[order]
    out, j = [], 0
    for k in range(n_channels):
        if j < len(channels) and channels[j] == k:
            out.append(scores[j])
            j += 1
        else:
            out.append(original)
    return out


def _ablation_weights(run, layer, A, G, info):
    kept = {}
    handle = layer.register_forward_hook(lambda m, i, o: kept.update(out=o))
    with torch.no_grad():
        outputs = run.model(run.x)
        handle.remove()
        original = np.float32([t(o).cpu().item() for t, o in zip(run.targets, outputs)])
    step = run.batch_size or 32
    stand_in = _AblatedStandIn()
    _swap_module(run.model, layer, stand_in)
    rows, ablated = [], []
    try:
        with torch.no_grad():
            for b, (target, image) in enumerate(zip(run.targets, run.x)):
                channels = _channels_to_ablate(A[b, :], run.ratio, run.ablation_sort)
                scores = []
                for start in range(0, len(channels), step):
                    chunk = channels[start:start + step]
                    stand_in.batch = kept["out"][b].clone().unsqueeze(0).repeat(len(chunk), 1, 1, 1)
                    stand_in.channels = chunk
                    scores.extend(target(o).cpu().item()
                                  for o in run.model(image.repeat(len(chunk), 1, 1, 1)))
                rows.append(_assemble_scores(scores, original[b], channels, A.shape[1]))
                ablated.append(channels)
    finally:
        _swap_module(run.model, stand_in, layer)
    scores = np.float32(rows).reshape(A.shape[:2])
    info.update(original=original, scores=scores, ablated=ablated)
    return (original[:, None] - scores) / original[:, None]


def _shapley_weights(run, layer, A, G, info):
    hvp = torch.autograd.grad(outputs=G, inputs=A, grad_outputs=A,
                              retain_graph=False, allow_unused=True)[0]
    if hvp is None:          # G does not depend on A: the Hessian term is 0
        hvp = torch.tensor(0).to(run.device)
    info["hvp"] = _numpy(hvp)
    return np.mean((G - 0.5 * hvp).detach().cpu().numpy(), axis=(2, 3))


# ---- maps of the methods that override get_cam_image ------------------------------------

def _maybe_projected(run, product):
    return _projection(product, run.eigen_sign) if run.eigen_smooth else product.sum(axis=1)


def _hirescam(run, layer, A, G, info):
    return _maybe_projected(run, G * A), None


def _elementwise(run, layer, A, G, info):
    return _maybe_projected(run, np.maximum(G * A, 0)), None


def _layercam(run, layer, A, G, info):
    return _maybe_projected(run, np.maximum(G, 0) * A), None


def _eigencam(run, layer, A, G, info):
    return _projection(A, run.eigen_sign), None


def _eigengradcam(run, layer, A, G, info):
    return _projection(G * A, run.eigen_sign), None


def _segeigencam(run, layer, A, G, info):
    return _projection(np.abs(G) * A, run.eigen_sign, sign_correction=True), None


def _kpcacam(run, layer, A, G, info):
    return _kernel_projection(A, run.kpca_kernel, run.kpca_gamma), None


def _fem(run, layer, A, G, info):
    means = np.mean(A, axis=(2, 3))
    stds = np.std(A, axis=(2, 3))
    above = A > (means + 2 * stds)[:, :, None, None]
    weights = above.mean(axis=(2, 3))                 # a bool mean: float64
    return (weights[:, :, None, None] * A).sum(axis=1), weights


WEIGHTS = {"gradcam": _gradcam_weights, "gradcam++": _gradcampp_weights,
           "xgradcam": _xgradcam_weights, "randomcam": _random_weights,
           "scorecam": _scorecam_weights, "ablationcam": _ablation_weights,
           "shapleycam": _shapley_weights, "finercam": _gradcam_weights}
MAPS = {"hirescam": _hirescam, "gradcamelementwise": _elementwise, "layercam": _layercam,
        "eigencam": _eigencam, "eigengradcam": _eigengradcam, "segeigencam": _segeigencam,
        "kpcacam": _kpcacam, "fem": _fem}


# ---- one call ---------------------------------------------------------------------------

class _Run:
    """What one run_cam call shares between its forwards."""

    def __init__(self, model, modules, method, **opts):
        self.model, self.modules, self.method = model, modules, method
        self.device = next(model.parameters()).device
        self.__dict__.update(opts)
        self.x, self.targets = None, None

    def default_targets(self, outputs):
        z = outputs.detach().cpu().numpy()
        if self.method != "finercam":
            return [_Logit(c) for c in np.argmax(z, axis=-1)]
        order = np.argsort(np.abs(z - np.max(z, axis=-1)[:, None]), axis=-1)
        return [_Finer(int(order[i, 0]), [int(order[i, r]) for r in self.finer_comparison],
                       self.finer_alpha) for i in range(z.shape[0])]

    def backward(self, outputs):
        self.model.zero_grad()
        loss = sum([t(o) for t, o in zip(self.targets, outputs)])
        if self.method == "shapleycam":
            torch.autograd.grad(loss, self.x, retain_graph=True, create_graph=True)
        else:
            loss.backward(retain_graph=True)

    def forward(self, x, targets):
        """BaseCAM.forward: the final B x H x W map and what led to it."""
        self.x = x.to(self.device)
        if self.method in INPUT_LEAF:
            self.x = self.x.detach().requires_grad_(True)    # torch.autograd.Variable(x, requires_grad=True)
        if self.method == "fullgrad":
            return self.fullgrad(targets)
        hooks = _Hooks(self.modules, detach=self.method != "shapleycam", reshape_transform=self.reshape_transform)
        try:
            outputs = hooks.forward(self.model, self.x)
            self.targets = self.default_targets(outputs) if targets is None else targets
            if self.method not in NO_BACKWARD:
                self.backward(outputs)
            acts = [a.cpu().data.numpy() if hooks.detach else a for a in hooks.activations]
            grads = [g.cpu().data.numpy() if hooks.detach else g for g in hooks.gradients]
            size = (self.x.size(-1), self.x.size(-2))
            layers = []
            for i, layer in enumerate(self.modules):
                A = acts[i] if i < len(acts) else None
                G = grads[i] if i < len(grads) else None
                record = {"A": _numpy(A).copy(), "G": None if G is None else _numpy(G).copy()}
                if self.method in MAPS:
                    cam, weights = MAPS[self.method](self, layer, A, G, record)
                else:
                    weights = WEIGHTS[self.method](self, layer, A, G, record)
                    weighted = weights[:, :, None, None] * _numpy(A)
                    cam = (_projection(weighted, self.eigen_sign) if self.eigen_smooth
                           else weighted.sum(axis=1))
                record.update(weights=weights, cam=cam,
                              scaled=_scale(np.maximum(cam, 0), size))
                layers.append(record)
        finally:
            hooks.close()
        info = {"logits": outputs.detach().cpu().numpy(), "layers": layers, "targets": self.targets}
        return _aggregate([r["scaled"] for r in layers]), info

    def fullgrad(self, targets):
        """FullGrad's forward, compute_cam_per_layer and aggregate_multi_layers."""
        names, found = bias_layers(self.model)
        with torch.no_grad():
            biases = [_folded_bias(m).cpu().numpy() for m in found]
        hooks = _Hooks(found)
        try:
            outputs = hooks.forward(self.model, self.x)
            self.targets = self.default_targets(outputs) if targets is None else targets
            self.backward(outputs)
            grads = [g.cpu().data.numpy() for g in hooks.gradients]
        finally:
            hooks.close()
        size = (self.x.size(-1), self.x.size(-2))
        input_grad = self.x.grad.data.cpu().numpy()
        parts = [_scale_channels(np.abs(input_grad * self.x.data.cpu().numpy()), size)]
        assert len(biases) == len(grads), "fullgrad: bias layers and gradients do not pair up"
        for bias, g in zip(biases, grads):
            term = _scale_channels(np.abs(bias[None, :, None, None] * g), size)
            parts.append(np.sum(term, axis=1)[:, None])
        stack = np.concatenate(parts, axis=1)
        if self.eigen_smooth:
            small = _scale_channels(stack, (size[0] // 8, size[1] // 8))
            summed = _scale_channels(_projection(small, self.eigen_sign)[:, None], size)
        else:
            summed = np.sum(stack, axis=1)[:, None]
        info = {"logits": outputs.detach().cpu().numpy(), "layers": [], "targets": self.targets,
                "fullgrad": {"bias_layers": names, "biases": biases, "grads": grads,
                             "input_grad": input_grad, "input_term": parts[0],
                             "bias_terms": [p[:, 0] for p in parts[1:]], "sum": summed[:, 0]}}
        return scale_cam_image(np.sum(summed, axis=1)), info


def bias_layers(model):
    """FullGrad's layers (find_layer_types_recursive): a pre-order walk of
    _modules in registration order, exact type Conv2d / BatchNorm2d, bias not
    None. Returns (dotted names as named_modules spells them, modules)."""
    names, found = [], []

    def visit(module, prefix):
        for name, child in module._modules.items():
            if type(child) in (nn.Conv2d, nn.BatchNorm2d) and child.bias is not None:
                names.append(prefix + name)
                found.append(child)
            visit(child, prefix + name + ".")
    visit(model, "")
    return names, found


def output_gradients(model, modules, x, category):
    """d out[0, category] / d (each module's output) and d out[0, category] / d x,
    as torch tensors in the model's dtype, taken as ActivationsAndGradients
    takes them (_Hooks: a tensor hook on each output, so a later in-place op
    such as ReLU(inplace=True) does not change what is captured; the list is
    in forward order, each module called once). x is not modified."""
    hooks = _Hooks(modules)
    try:
        x = x.detach().clone().requires_grad_(True)
        hooks.forward(model, x)[0, category].backward()
    finally:
        hooks.close()
    assert len(hooks.gradients) == len(modules), "output_gradients: a module did not run exactly once"
    return hooks.gradients, x.grad


def _folded_bias(layer):
    if isinstance(layer, nn.BatchNorm2d):
        return -(layer.running_mean * layer.weight / torch.sqrt(layer.running_var + layer.eps)) + layer.bias
    return layer.bias


def run_cam(model, layers, x, method, targets=None, aug_smooth=False, eigen_smooth=False,
            batch_size=None, ratio_channels_to_ablate=1.0, ablation_sort=None, seed=None, kpca_kernel="sigmoid",
            kpca_gamma=None, finer_alpha=1.0, finer_comparison=(1, 2, 3), eigen_sign=None, reshape_transform=None):
    """One call of the library's CAM object for `method` (a name of METHODS).

    model: an nn.Module (put in eval mode, as the library does); layers: module
    paths or modules (ignored by fullgrad); x: B x C x H x W float32, already
    normalised; targets: one callable per image, or None for the argmax.
    batch_size: scorecam's (default 16) or ablationcam's (default 32).
    seed: randomcam's RNG (None: numpy's global RNG, as the library).
    kpca_kernel / kpca_gamma: KPCA_CAM's kernel and gamma. finer_alpha /
    finer_comparison: FinerCAM's alpha and comparison ranks. eigen_sign:
    None, or f(proj_hxw, M, vt0) -> +1 / -1 multiplying every SVD projection.
    reshape_transform: the library's argument of that name, applied to each
    target layer's output and gradient (a transformer's tokens to B x C x h x w).

    Returns a dict: "map" (B x H x W float32, what __call__ returns); "logits"
    (B x N) and "layers" (per target layer: "A", "G" (None without backward),
    "weights" (B x K, None for methods without channel weights), "cam" (before
    the ReLU, layer resolution), "scaled" (after ReLU, min-max, resize), plus
    "scores" for scorecam, "original"/"scores"/"ablated" for ablationcam,
    "hvp" for shapleycam) of the un-augmented forward; "targets" used there;
    with aug_smooth also "aug": per transform (flip, factor, de-augmented
    map); for fullgrad "layers" is empty and "fullgrad" holds "bias_layers"
    (names), "biases", "grads", "input_grad", "input_term" (B x C x H x W,
    per-channel scaled), "bias_terms" (per layer B x H x W) and "sum".
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}")
    if aug_smooth and method == "finercam":
        raise ValueError("FinerCAM has no aug_smooth")
    model.eval()
    modules = [] if method == "fullgrad" else [module_at(model, l) for l in layers]
    run = _Run(model, modules, method, eigen_smooth=eigen_smooth, batch_size=batch_size,
               ratio=ratio_channels_to_ablate, ablation_sort=ablation_sort, rng=np.random if seed is None else np.random.RandomState(seed),
               kpca_kernel=kpca_kernel, kpca_gamma=kpca_gamma, finer_alpha=finer_alpha,
               finer_comparison=finer_comparison, eigen_sign=eigen_sign, reshape_transform=reshape_transform)
    if not aug_smooth:
        cam, info = run.forward(x, targets)
        return dict(info, map=cam)
    maps, aug, plain = [], [], None
    for flip, factor in TTA:
        xa = x.flip(3) if flip else x
        if factor != 1:
            xa = xa * factor
        cam, info = run.forward(xa, targets)
        cam = torch.from_numpy(cam[:, None, :, :])
        cam = (cam.flip(3) if flip else cam).numpy()[:, 0, :, :]
        maps.append(cam)
        aug.append((flip, factor, cam))
        if not flip and factor == 1:
            plain = info
    return dict(plain, map=np.mean(np.float32(maps), axis=0), aug=aug)


# ---- guided backpropagation -------------------------------------------------------------

GUIDED_EXTENDED = (nn.ReLU, nn.ReLU6, nn.Hardswish, nn.Hardsigmoid, nn.SiLU, nn.Sigmoid)


class GuidedFunction(torch.autograd.Function):
    """GuidedFunction.apply(x, act). Forward: act(x). Backward:
    dy * f'(x) * [dy > 0] * [f'(x) > 0], f' torch's own derivative of act; for
    nn.ReLU, f'(x) = [x > 0], pytorch-grad-cam's GuidedBackpropReLU. Where the
    masks are 0 the result is dy * 0, so -0.0 for a negative dy or slope (the
    library's addcmul onto zeros gives +0.0: the same values)."""

    @staticmethod
    def forward(ctx, x, act):
        ctx.save_for_backward(x)
        ctx.act = act
        return act(x)

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved_tensors
        with torch.enable_grad():
            leaf = x.detach().requires_grad_(True)
            slope = torch.autograd.grad(ctx.act(leaf), leaf, torch.ones_like(leaf))[0]
        return dy * slope * (dy > 0).type_as(dy) * (slope > 0).type_as(dy), None


class _Guided(nn.Module):
    def __init__(self, act):
        super().__init__()
        if hasattr(act, "inplace"):
            act.inplace = False
        self.act = act

    def forward(self, x):
        return GuidedFunction.apply(x, self.act)


def _guide(module, kinds):
    for name, child in module._modules.items():
        if isinstance(child, kinds):
            module._modules[name] = _Guided(child)
        else:
            _guide(child, kinds)


def guided_backprop(model, x, cls=None, extended=False):
    """GuidedBackpropReLUModel(model)(x, cls): H x W x C float32, the guided
    gradient of out[0, cls] w.r.t. x for sample 0 (cls None: the argmax over the
    FLATTENED output, as the library, so right for a batch of one).

    Every module that is an instance of nn.ReLU is replaced by a guided one
    (F.relu calls inside forward are not). The rule, for an activation y = f(x):
        dx = dy * f'(x) * [dy > 0] * [f'(x) > 0]
    (only positive local slopes and positive upstream gradients pass); for
    ReLU, f'(x) = [x > 0], this is the library's dy * [x > 0] * [dy > 0].
    extended=True applies the same rule to nn.ReLU6, nn.Hardswish,
    nn.Hardsigmoid, nn.SiLU and nn.Sigmoid modules too (the library leaves
    them alone), with f' torch's own derivative of the module.

    Works on a deep copy, so the caller's model and x are untouched (the
    library patches the model and puts requires_grad on the caller's tensor,
    whose .grad then accumulates over calls; here the gradient is fresh)."""
    guided = copy.deepcopy(model).eval()
    _guide(guided, GUIDED_EXTENDED if extended else nn.ReLU)
    leaf = x.detach().clone().requires_grad_(True)
    out = guided(leaf)
    if cls is None:
        cls = np.argmax(out.cpu().data.numpy())
    out[0, cls].backward(retain_graph=True)
    return leaf.grad.cpu().data.numpy()[0].transpose(1, 2, 0)


def guided_cam_images(cam_map_hw, gb_hwc):
    """cam.py's two guided pictures: (deprocess_image(gb),
    deprocess_image(cv2.merge([cam] * 3) * gb)), uint8 H x W x 3.

    Their channels are the input tensor's (RGB for cam.py, which reads
    cv2.imread(...)[:, :, ::-1]). cam.py writes these arrays with cv2.imwrite,
    which takes them as BGR, so its *_gb.jpg and *_cam_gb.jpg files hold red
    and blue swapped: read back as RGB they show arr[..., ::-1] (before JPEG
    loss). The arrays returned here are in the tensor's (RGB) order."""
    mask = cv2.merge([cam_map_hw, cam_map_hw, cam_map_hw])
    return deprocess_image(gb_hwc), deprocess_image(mask * gb_hwc)


# ---- a smoke test for humans ------------------------------------------------------------

def _chelsea():
    """cam.py's input: cv2.imread(...)[:, :, ::-1] / 255, ToTensor + Normalize (ImageNet)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    rgb = np.float32(cv2.imread(os.path.join(root, "assets", "images", "chelsea.png"), 1)[:, :, ::-1]) / 255
    t = torch.from_numpy(rgb.transpose(2, 0, 1).copy())
    mean = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
    std = torch.tensor([0.229, 0.224, 0.225])[:, None, None]
    return rgb, ((t - mean) / std)[None]


def _smoke(arch, layer, methods):
    import torchvision
    torch.manual_seed(0)
    model = getattr(torchvision.models, arch)().eval()
    if layer is None:
        layer = "layer4" if hasattr(model, "layer4") else "features.-1"
    _, x = _chelsea()
    print(f"{arch} (random init, seed 0), layer {layer}, chelsea.png {tuple(x.shape)}")
    for method in methods or METHODS:
        t0 = time.time()
        m = run_cam(model, [layer], x, method, seed=0)["map"]
        print(f"{method:20s} min {m.min():.6f} max {m.max():.9f} mean {m.mean():.6f}"
              f"  {time.time() - t0:6.2f} s")
    t0 = time.time()
    gb = guided_backprop(model, x)
    print(f"{'guided_backprop':20s} min {gb.min():.3e} max {gb.max():.3e}  {time.time() - t0:6.2f} s")


if __name__ == "__main__":
    _smoke(sys.argv[1] if len(sys.argv) > 1 else "resnet18", sys.argv[2] if len(sys.argv) > 2 else None,
           sys.argv[3:])
