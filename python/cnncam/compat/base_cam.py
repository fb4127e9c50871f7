"""cnncam/compat/base_cam.py — pytorch-grad-cam's CAM classes, computed by cnncam.

    cam = GradCAM(model=net, target_layers=[net.layer4])
    maps = cam(input_tensor=x, targets=[ClassifierOutputTarget(281)])   # float32 N x H x W

Constructors and calls take pytorch-grad-cam 1.5's arguments. The torch
module is converted to a cnncam model at the first call (cnncam_convert's
convert_module, traced at that input's size) and cached by a hash of its
weights and structure (_cache.py); every call runs in C through
cnncam.Model.explain on the input tensor's memory (no copy when it is
float32, contiguous and on the CPU). Target layer objects are mapped back to
their module paths with named_modules (a module that is not in the model:
ValueError). Threads: torch.get_num_threads() unless `threads=` is given.

Where cnncam cannot do what the reference does, the call raises
UnsupportedError (a NotImplementedError) naming what and why: a
reshape_transform that does not do what cnncam's layout of the layer does
(the file records how each transformer layer is a map: tokens with a class
token, channels last; cnncam reads it so itself, and checks at the first call
that the transform given makes the same C x h x w from a probe), targets
other than the four classifier targets, a model cnncam_convert
refuses, FEM's k other than 2, FinerCAM's comparison ranks other than
1, 2, 3 or another base method, FullGrad with eigen_smooth.

Differences from the reference, on purpose (docs/METHODS.md):
  * the sign of a principal component (EigenCAM, EigenGradCAM, eigen_smooth)
    is LAPACK's by default, as the reference's; eigen_sign="default" (a
    keyword of every constructor) gives cnncam's own rule;
  * RandomCAM's weights come from numpy's legacy generator seeded with a
    number drawn from numpy's global generator: np.random.seed(s) makes the
    maps reproducible, but they are not the numbers the reference draws;
  * AblationCAM with ratio_channels_to_ablate < 1 orders channels of equal
    score by their index (the reference's quicksort: no defined order);
  * a CAM object holds no hooks on the model (release() and the context
    manager have nothing to undo).
"""
import warnings

import numpy as np
import torch

from . import _cache
from ._cache import UnsupportedError
from .utils import model_targets


def _check_reshape(transform, m, layer):
    """The transform must turn the layer's value into the C x h x w maps cnncam reads
    from it (its node.layout): tried on a probe of the layer's shape whose every
    entry differs, batch 2."""
    layout, shape = m.layer_layout(layer)
    probe = np.arange(2 * int(np.prod(shape[1:])), dtype=np.float32).reshape((2,) + tuple(shape[1:]))
    if layout is None or layout == "nchw":
        want = probe if probe.ndim == 4 else None
    elif layout == "nhwc":
        want = probe.transpose(0, 3, 1, 2)
    elif layout.startswith("tokens:"):
        p, h, w = (int(v) for v in layout.split(":")[1:])
        want = probe[:, p:, :].reshape(2, h, w, probe.shape[2]).transpose(0, 3, 1, 2)
    else:
        want = None
    if want is None:
        raise UnsupportedError("layer '%s' (%s) is no map cnncam can explain, with or without a reshape_transform"
                               % (layer, "x".join(map(str, shape))))
    how = {"nhwc": "channels last to channels first"}.get(layout, "as it is" if layout in (None, "nchw") else
                                                         "drop %s prefix token(s), fold the rest into %sx%s, channels "
                                                         "first" % tuple(layout.split(":")[1:]))
    try:
        got = transform(torch.from_numpy(probe))
        got = got.detach().cpu().numpy() if isinstance(got, torch.Tensor) else np.asarray(got)
    except Exception as e:       # the user's function failed on the layer's shape
        raise UnsupportedError("reshape_transform failed on layer '%s''s %s output (%s: %s); cnncam reads that "
                               "layer as C x h x w itself (%s)" % (layer, "x".join(map(str, shape)),
                                                                   type(e).__name__, e, how)) from None
    if got.shape != want.shape or not np.array_equal(got, want):
        raise UnsupportedError("reshape_transform turns layer '%s''s %s output into %s, which is not how cnncam "
                               "reads it (%s: %s); cnncam computes only that reading"
                               % (layer, "x".join(map(str, shape)), "x".join(map(str, got.shape)),
                                  "x".join(map(str, want.shape[1:])), how))


class BaseCAM:
    """The common call: __call__(input_tensor, targets=None, aug_smooth=False,
    eigen_smooth=False) -> float32 (N, H, W) numpy, each map in [0, 1)."""

    method = None
    takes_target = True          # the target decides the map (not EigenCAM, KPCA-CAM, FEM, RandomCAM)
    takes_eigen_smooth = True    # the reference honours eigen_smooth (it ignores it for the eigen methods, FEM)
    takes_eigen_sign = True      # a principal component can be involved
    uses_layers = True

    def __init__(self, model, target_layers, reshape_transform=None, *, eigen_sign="lapack", threads=None):
        if reshape_transform is not None and not callable(reshape_transform):
            raise ValueError("reshape_transform must be a function of a tensor, not %s"
                             % type(reshape_transform).__name__)
        if eigen_sign not in ("lapack", "default"):
            raise ValueError("eigen_sign must be 'lapack' (the reference's) or 'default' (cnncam's rule), not %r"
                             % (eigen_sign,))
        if not isinstance(model, torch.nn.Module):
            raise ValueError("model must be a torch.nn.Module, not %s" % type(model).__name__)
        self.model = model
        self.model.eval()
        self.target_layers = target_layers
        self.reshape_transform = reshape_transform
        self.compute_input_gradient = False
        self.uses_gradients = self.method not in ("eigencam", "kpcacam", "fem", "scorecam", "ablationcam")
        self.eigen_sign = eigen_sign
        self.threads = threads
        params = list(model.parameters())
        self.device = params[0].device if params else torch.device("cpu")
        self.layer_names = self._layer_names(target_layers) if self.uses_layers else None
        self.outputs = None

    def _layer_names(self, target_layers):
        if isinstance(target_layers, torch.nn.Module):
            target_layers = [target_layers]
        try:
            target_layers = list(target_layers)
        except TypeError:
            raise ValueError("target_layers must be a list of modules of the model, not %s"
                             % type(target_layers).__name__) from None
        if not target_layers:
            raise ValueError("target_layers is empty: name at least one module of the model")
        paths = {}
        for name, m in self.model.named_modules():
            paths.setdefault(id(m), name)
        names = []
        for layer in target_layers:
            if isinstance(layer, str):          # a module path, as cnncam names layers
                names.append(layer)
                continue
            name = paths.get(id(layer))
            if name is None:
                raise ValueError("target layer %s is not a module of the model (%s): pass modules reached from "
                                 "the model itself, e.g. [model.layer4]"
                                 % (_short(layer), type(self.model).__name__))
            if name == "":
                raise ValueError("the target layer is the model itself: name one of its modules, e.g. "
                                 "[model.layer4] or [model.features[-1]]")
            names.append(name)
        return names

    # ---- the call -------------------------------------------------------------------------

    def __call__(self, input_tensor, targets=None, aug_smooth=False, eigen_smooth=False):
        # as the reference: only aug_smooth=True itself augments; eigen_smooth by its truth
        return self._explain(input_tensor, targets, aug_smooth is True, bool(eigen_smooth))

    def forward(self, input_tensor, targets, eigen_smooth=False):
        return self._explain(input_tensor, targets, False, bool(eigen_smooth))

    def forward_augmentation_smoothing(self, input_tensor, targets, eigen_smooth=False):
        return self._explain(input_tensor, targets, True, bool(eigen_smooth))

    def _model(self, x):
        layer = self.layer_names[0] if self.layer_names else None
        m = _cache.model_for(self.model, x.shape[1:], layer)
        if self.reshape_transform is not None and self.layer_names and getattr(self, "_checked", None) is not m:
            for name in self.layer_names:
                _check_reshape(self.reshape_transform, m, name)
            self._checked = m
        return m

    def _options(self, eigen_smooth):
        """explain's method options (beyond classes, target, smoothing)."""
        opts = {}
        if self.takes_eigen_sign:
            opts["eigen_sign"] = self.eigen_sign
        return opts

    def _threads(self):
        return self.threads if self.threads is not None else max(1, min(256, torch.get_num_threads()))

    def _explain(self, input_tensor, targets, aug_smooth, eigen_smooth, method=None, extra=None):
        x = _cache.as_batch(input_tensor)
        m = self._model(x)
        method = method or self.method
        opts = self._options(eigen_smooth)
        opts.update(extra or {})
        if self.takes_eigen_smooth and eigen_smooth:
            opts["eigen_smooth"] = True
        kw = dict(method=method, layers=self.layer_names, aug_smooth=aug_smooth, threads=self._threads(),
                  intermediates=True, **opts)
        if not self.takes_target or targets is None:
            e = m.explain(x, classes=None, **kw)
            return self._keep(e.maps, e.logits)
        groups = _target_groups(targets, x.shape[0])
        if len(groups) == 1:
            (kind, (idx, classes)), = groups.items()
            e = m.explain(x, classes=classes, target=kind, **kw)
            return self._keep(e.maps, e.logits)
        maps = np.empty(x.shape[:1] + x.shape[2:], np.float32)
        logits = np.empty((x.shape[0], m.num_classes), np.float32)
        for kind, (idx, classes) in groups.items():
            e = m.explain(np.ascontiguousarray(x[idx]), classes=classes, target=kind, **kw)
            maps[idx], logits[idx] = e.maps, e.logits
        return self._keep(maps, logits)

    def _keep(self, maps, logits):
        """The reference keeps the model's outputs as cam.outputs (its README
        reads them to avoid a second inference): here the outputs cnncam
        computed for the input as given, a CPU tensor."""
        self.outputs = torch.from_numpy(logits)
        return maps

    # ---- the reference's housekeeping --------------------------------------------------

    def release(self):
        """Nothing to undo: no hooks are put on the model."""

    def __del__(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, exc_tb):
        self.release()
        if isinstance(exc_value, IndexError):
            # the reference's BaseCAM.__exit__ prints an IndexError raised in its with-block and
            # swallows it; kept, so that scripts relying on it behave the same (as a warning:
            # library code does not print)
            warnings.warn(f"An exception occurred in CAM with block: {exc_type}. Message: {exc_value}",
                          stacklevel=2)
            return True


def _short(module):
    text = repr(module).splitlines()
    return text[0] + (" ...)" if len(text) > 1 else "")


def _target_groups(targets, n):
    """{kind: (indices, classes)} of the targets, one per image."""
    try:
        targets = list(targets)
    except TypeError:
        raise ValueError("targets must be a list with one target per image, or None") from None
    if len(targets) != n:
        raise ValueError("%d targets for a batch of %d images: give one per image (or targets=None for each "
                         "image's top class)" % (len(targets), n))
    groups = {}
    for i, t in enumerate(targets):
        kind, cls = model_targets.kind_of(t)
        idx, classes = groups.setdefault(kind, ([], []))
        idx.append(i)
        classes.append(cls)
    return groups


# ---- the methods ------------------------------------------------------------------------------

class GradCAM(BaseCAM):
    """Grad-CAM: w_k = mean of the gradient over the pixels."""
    method = "gradcam"


class HiResCAM(BaseCAM):
    """HiResCAM: sum_k G_k * A_k."""
    method = "hirescam"


class GradCAMElementWise(BaseCAM):
    """sum_k max(G_k * A_k, 0)."""
    method = "gradcamelementwise"


class GradCAMPlusPlus(BaseCAM):
    """Grad-CAM++ (the closed form of first derivatives)."""
    method = "gradcam++"


class XGradCAM(BaseCAM):
    """XGrad-CAM: w_k = sum (G_k A_k) / (S_k + 1e-7)."""
    method = "xgradcam"


class LayerCAM(BaseCAM):
    """LayerCAM: sum_k max(G_k, 0) A_k."""
    method = "layercam"


class EigenCAM(BaseCAM):
    """Eigen-CAM: the first principal component of the activations (no
    gradients; targets and eigen_smooth are ignored, as in the reference)."""
    method = "eigencam"
    takes_target = False
    takes_eigen_smooth = False


class EigenGradCAM(BaseCAM):
    """The first principal component of G * A (eigen_smooth ignored)."""
    method = "eigengradcam"
    takes_eigen_smooth = False


class SegEigenCAM(BaseCAM):
    """The first principal component of |G| * A with the reference's sign
    correction (eigen_smooth ignored; the sign is the method's own)."""
    method = "segeigencam"
    takes_eigen_smooth = False
    takes_eigen_sign = False


class KPCA_CAM(BaseCAM):
    """KPCA-CAM: the first kernel principal component (scikit-learn's
    KernelPCA; kernel 'sigmoid', 'rbf', 'poly', 'linear' or 'cosine')."""
    method = "kpcacam"
    takes_target = False
    takes_eigen_smooth = False
    takes_eigen_sign = False

    def __init__(self, model, target_layers, reshape_transform=None, kernel='sigmoid', gamma=None, **kw):
        super().__init__(model, target_layers, reshape_transform, **kw)
        self.kernel = kernel
        self.gamma = gamma

    def _options(self, eigen_smooth):
        if not isinstance(self.kernel, str):
            raise UnsupportedError("KPCA_CAM: kernel=%r is not supported: cnncam computes the kernels 'sigmoid', "
                                   "'rbf', 'poly', 'linear' and 'cosine' itself, not a Python callable"
                                   % (self.kernel,))
        opts = {"kpca_kernel": self.kernel}
        if self.gamma is not None:
            opts["kpca_gamma"] = float(self.gamma)
        return opts


class FEM(BaseCAM):
    """FEM: channels weighted by their fraction of pixels above mean + k std."""
    method = "fem"
    takes_target = False
    takes_eigen_smooth = False
    takes_eigen_sign = False

    def __init__(self, model, target_layers, reshape_transform=None, k=2, **kw):
        super().__init__(model, target_layers, reshape_transform, **kw)
        self.k = k

    def _options(self, eigen_smooth):
        if self.k != 2:
            raise UnsupportedError("FEM: k=%r is not supported: cnncam's fem uses the reference's default k = 2 "
                                   "(the threshold mean + 2 std)" % (self.k,))
        return {}


class RandomCAM(BaseCAM):
    """Random channel weights in [-1, 1): numpy's legacy generator, seeded from
    numpy's global generator at each call (the reference draws from the
    global generator itself, so the numbers differ)."""
    method = "randomcam"
    takes_target = False

    def _options(self, eigen_smooth):
        opts = super()._options(eigen_smooth)
        opts["seed"] = int(np.random.randint(0, 2 ** 32, dtype=np.uint64))
        return opts


class ScoreCAM(BaseCAM):
    """Score-CAM: each channel's upsampled, normalised map masks the input;
    the weights are the softmax over the channels of the target's scores.
    Set cam.batch_size to change the masked images per forward (default 16)."""
    method = "scorecam"

    def _options(self, eigen_smooth):
        opts = super()._options(eigen_smooth)
        if getattr(self, "batch_size", None) is not None:
            opts["batch_size"] = int(self.batch_size)
        return opts


class AblationLayer:
    """pytorch-grad-cam's default ablation layer (channels set to 0, or to
    min - 1e7, ...): cnncam's ablationcam computes that rule itself, so this
    class only marks the default."""


class AblationLayerVit(AblationLayer):
    """Not supported: vision transformers' tokens are not converted."""

    def __init__(self, *args, **kwargs):
        raise UnsupportedError("AblationLayerVit is not supported: cnncam explains CNN layers only (no "
                               "vision-transformer tokens)")


class AblationLayerFasterRCNN(AblationLayer):
    """Not supported: detectors are not converted."""

    def __init__(self, *args, **kwargs):
        raise UnsupportedError("AblationLayerFasterRCNN is not supported: cnncam explains classifiers only "
                               "(no detectors, no FPN outputs)")


_DEFAULT_ABLATION_LAYER = AblationLayer()


class AblationCAM(BaseCAM):
    """Ablation-CAM: w_k = (T - T with channel k ablated) / T; batch_size
    ablated copies per forward (default 32), ratio_channels_to_ablate the
    fraction of channels ablated (the reference's top and bottom scorers)."""
    method = "ablationcam"

    def __init__(self, model, target_layers, reshape_transform=None, ablation_layer=_DEFAULT_ABLATION_LAYER,
                 batch_size=32, ratio_channels_to_ablate=1.0, **kw):
        super().__init__(model, target_layers, reshape_transform, **kw)
        if type(ablation_layer).__name__ != "AblationLayer":
            raise UnsupportedError("AblationCAM: ablation_layer=%s is not supported: cnncam's ablationcam "
                                   "applies the reference's default AblationLayer rule only"
                                   % type(ablation_layer).__name__)
        self.ablation_layer = ablation_layer
        self.batch_size = batch_size
        self.ratio_channels_to_ablate = ratio_channels_to_ablate

    def _options(self, eigen_smooth):
        opts = super()._options(eigen_smooth)
        opts["batch_size"] = int(self.batch_size)
        if self.ratio_channels_to_ablate != 1.0:
            opts["ablation_ratio"] = float(self.ratio_channels_to_ablate)
        return opts


class FullGrad(BaseCAM):
    """FullGrad: the input-gradient term and every conv / batchnorm bias term;
    target_layers are ignored, as in the reference."""
    method = "fullgrad"
    takes_eigen_sign = False
    uses_layers = False

    def __init__(self, model, target_layers, reshape_transform=None, **kw):
        if target_layers is not None and len(target_layers) > 0:
            warnings.warn("FullGrad ignores target_layers; it uses every layer with a bias instead", stacklevel=2)
        super().__init__(model, target_layers, reshape_transform, **kw)
        self.compute_input_gradient = True

    def _options(self, eigen_smooth):
        if eigen_smooth:
            raise UnsupportedError("FullGrad with eigen_smooth=True is not supported: cnncam's fullgrad sums its "
                                   "terms (the reference's projection of the per-channel maps is not offered)")
        return {}


class FinerCAM:
    """Finer-CAM: Grad-CAM of sum_i p_i (z_main - alpha z_i) / (sum_i p_i +
    1e-9) over the classes whose outputs are nearest the main one.
    forward(input_tensor, targets=None, eigen_smooth=False, alpha=1,
    comparison_categories=[1, 2, 3], target_idx=None), as the reference:
    without targets the main class is the top one (or target_idx) and the
    comparisons the ranks 1, 2, 3 by distance of output; given targets
    (ClassifierOutputTarget, ...) it is the base method's Grad-CAM of them."""

    def __init__(self, model, target_layers, reshape_transform=None, base_method=None, **kw):
        if base_method is not None and getattr(base_method, "__name__", None) != "GradCAM":
            raise UnsupportedError("FinerCAM: base_method=%s is not supported: cnncam's finercam is Grad-CAM of "
                                   "the Finer target" % getattr(base_method, "__name__", base_method))
        self.base_cam = GradCAM(model, target_layers, reshape_transform, **kw)
        self.compute_input_gradient = self.base_cam.compute_input_gradient
        self.uses_gradients = self.base_cam.uses_gradients

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, input_tensor, targets=None, eigen_smooth=False, alpha=1, comparison_categories=[1, 2, 3],
                target_idx=None):
        base = self.base_cam
        if list(comparison_categories) != [1, 2, 3]:
            raise UnsupportedError("FinerCAM: comparison_categories=%r is not supported: cnncam's finercam "
                                   "compares with the ranks 1, 2, 3 (the reference's default)"
                                   % (comparison_categories,))
        if not alpha > 0:
            raise UnsupportedError("FinerCAM: alpha=%r is not supported: cnncam's finercam takes alpha > 0"
                                   % (alpha,))
        extra = {"finer_alpha": float(alpha)} if alpha != 1 else {}
        if targets is None:
            x = _cache.as_batch(input_tensor)
            m = base._model(x)
            kw = dict(method="finercam", layers=base.layer_names, threads=base._threads(),
                      eigen_sign=base.eigen_sign, **extra)
            if eigen_smooth:
                kw["eigen_smooth"] = True
            return m.explain(x, classes=None if target_idx is None else int(target_idx), **kw)
        targets = list(targets)
        finer = [t for t in targets if type(t).__name__ == "FinerWeightedTarget"]
        if not finer:
            return base._explain(input_tensor, targets, False, bool(eigen_smooth))
        return self._finer_targets(input_tensor, targets, eigen_smooth)

    def _finer_targets(self, input_tensor, targets, eigen_smooth):
        """FinerWeightedTarget objects given: computed by cnncam's finercam when
        each one's comparisons are the classes its main class's nearest
        outputs rank 1, 2, 3 (what the reference's default builds)."""
        base = self.base_cam
        x = _cache.as_batch(input_tensor)
        if len(targets) != x.shape[0]:
            raise ValueError("%d targets for a batch of %d images" % (len(targets), x.shape[0]))
        m = base._model(x)
        z = m.predict(x, threads=base._threads())
        alphas, classes = set(), []
        for i, t in enumerate(targets):
            if type(t).__name__ != "FinerWeightedTarget":
                raise UnsupportedError("FinerCAM: a mix of FinerWeightedTarget and other targets is not supported")
            order = np.argsort(np.abs(z[i] - z[i][t.main_category]))
            ranks = [int(order[r]) for r in (1, 2, 3)]
            if sorted(int(c) for c in t.comparison_categories) != sorted(ranks):
                raise UnsupportedError(
                    "FinerCAM: FinerWeightedTarget(%d, %r, ...) is not supported: cnncam's finercam compares the "
                    "main class with the classes whose outputs are nearest it (here %r)"
                    % (t.main_category, list(t.comparison_categories), ranks))
            alphas.add(float(t.alpha))
            classes.append(int(t.main_category))
        if len(alphas) != 1:
            raise UnsupportedError("FinerCAM: targets with different alphas are not supported")
        alpha = alphas.pop()
        if not alpha > 0:
            raise UnsupportedError("FinerCAM: alpha=%r is not supported: cnncam's finercam takes alpha > 0" % alpha)
        kw = dict(method="finercam", layers=base.layer_names, threads=base._threads(), eigen_sign=base.eigen_sign)
        if alpha != 1:
            kw["finer_alpha"] = alpha
        if eigen_smooth:
            kw["eigen_smooth"] = True
        return m.explain(x, classes=classes, **kw)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, exc_tb):
        return self.base_cam.__exit__(exc_type, exc_value, exc_tb)


class RefineCAM:
    """RefineCAM: one base CAM per target layer (default GradCAMPlusPlus), the
    product of their maps, min-max normalised. As in the reference, forward
    passes eigen_smooth as the base call's third positional argument, which
    is aug_smooth."""

    def __init__(self, model, target_layers, reshape_transform=None, base_method=None, **kwargs):
        base_method = base_method or GradCAMPlusPlus
        self.base_cam_per_layer = [base_method(model, [layer], reshape_transform, **kwargs) for layer in target_layers]

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, input_tensor, targets=None, eigen_smooth=False):
        from .utils.image import scale_cam_image
        cams = np.array([base(input_tensor, targets, eigen_smooth) for base in self.base_cam_per_layer])
        return scale_cam_image(np.prod(cams, axis=0))


class ShapleyCAM:
    """Not offered by cnncam: docs/METHODS.md ("ShapleyCAM: not offered")."""

    def __init__(self, *args, **kwargs):
        raise NotImplementedError(
            "ShapleyCAM is not offered by cnncam: it needs the Hessian of the target at the layer (a second "
            "backward), and cnncam's autograd is first-order; docs/METHODS.md, 'ShapleyCAM: not offered, and "
            "what it would take', explains. With a logit target and a piecewise-linear head above the layer it "
            "equals GradCAM exactly")


class DeepFeatureFactorization:
    """Not offered by cnncam (no non-negative matrix factorisation)."""

    def __init__(self, *args, **kwargs):
        raise NotImplementedError("DeepFeatureFactorization is not offered by cnncam: it has no non-negative "
                                  "matrix factorisation (scikit-learn's NMF); docs/METHODS.md lists the methods")


def run_dff_on_image(*args, **kwargs):
    raise NotImplementedError("run_dff_on_image (Deep Feature Factorization) is not offered by cnncam")


class ActivationsAndGradients:
    """Not offered: cnncam.compat puts no hooks on the model. The activations,
    gradients and weights are cnncam.Model.explain(..., intermediates=True)."""

    def __init__(self, *args, **kwargs):
        raise NotImplementedError("ActivationsAndGradients (torch hooks) is not offered by cnncam.compat: the "
                                  "layer's activations and gradients come from cnncam.Model.explain(..., "
                                  "intermediates=True)")
