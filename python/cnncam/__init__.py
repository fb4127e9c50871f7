"""cnncam — Grad-CAM and the CAM family for PyTorch CNNs, computed in C.

    import cnncam
    model = cnncam.Model("resnet34.ccm")
    maps = model.explain(["cat.jpg", "dog.jpg"], method="gradcam++")   # float32 N x H x W in [0, 1]
    pictures = model.prepare(["cat.jpg", "dog.jpg"])                    # what the network saw
    cnncam.write_image("cat_cam.png", cnncam.overlay(pictures[0], maps[0]))

Images are paths, uint8 arrays (H x W or H x W x C), lists of them, or an
already normalised float32 N x C x H x W array (used as is, not copied). A
Model may be shared by several Python threads: each call runs on its own
context with the GIL released. `from cnncam.compat import GradCAM` is the
drop-in for pytorch-grad-cam scripts; cnncam.dask explains datasets on a
dask.distributed cluster. docs/METHODS.md gives every method's formula."""
import os

import numpy as np

from . import _images, _native

__version__ = _native.version()
__all__ = ["Model", "Explanation", "LayerResult", "TOP_EACH_RUN", "methods", "read_image", "write_image", "resize_crop",
           "overlay", "deprocess_image", "__version__"]

TARGETS = {"logit": 0, "softmax": 1, "rest": 2, "binary": 3}


class _TopEachRun:
    def __repr__(self):
        return "cnncam.TOP_EACH_RUN"


# classes=TOP_EACH_RUN: every forward of the method explains its own best
# class (with aug_smooth each augmented image its own), as pytorch-grad-cam's
# targets=None; classes=None explains the best class of the image as given.
TOP_EACH_RUN = _TopEachRun()
EIGEN_SIGNS = {"default": 0, "lapack": 1}
OVERLAY_MODES = {"reference": 0, "clean": 1}


def methods():
    """{name: one-line summary} of every explanation method, in cnncam's order."""
    return dict(_native.methods())


class LayerResult:
    """What a method computed at one layer, batch first: activations
    (N, C, h, w), gradients (same shape, None for a method without them),
    weights (N, C, None without channel weights) and raw, the rectified map
    at the layer's resolution before normalisation (N, h, w; None for
    FullGrad)."""

    def __init__(self, activations, gradients, weights, raw):
        self.activations, self.gradients, self.weights, self.raw = activations, gradients, weights, raw

    def __repr__(self):
        return "LayerResult(activations %s, gradients %s, weights %s, raw %s)" % tuple(
            "None" if a is None else "x".join(map(str, a.shape))
            for a in (self.activations, self.gradients, self.weights, self.raw))


class Explanation:
    """Model.explain(..., intermediates=True): maps (N, H, W), the classes
    explained (int64 N), the model's outputs (N, K) and, per layer name, a
    LayerResult."""

    def __init__(self, maps, classes, logits, layers):
        self.maps, self.classes, self.logits, self.layers = maps, classes, logits, layers

    def __repr__(self):
        return "Explanation(maps %s, classes %s, layers %s)" % (
            "x".join(map(str, self.maps.shape)), self.classes.tolist(), list(self.layers))


class Model:
    """A converted model (.ccm, from cnncam-convert). OSError when the file
    cannot be read, ValueError when it is not a valid model. threads: the
    default thread count of its runs (None: CNNCAM_NUM_THREADS, else every CPU
    the process may use)."""

    def __init__(self, path, threads=None):
        self.path = os.fspath(path)
        self._check_threads(threads)
        self.threads = threads
        self._m = _native.Model(self.path)
        info = self._m.info()
        self.classes = info["classes"]
        self.num_classes = len(self.classes)
        self.layers = info["layers"]
        self.default_layer = info["default_layer"]
        self.channels = info["channels"]
        self.mean, self.std = info["mean"], info["std"]
        self.output = info["output"]
        self.multi_label = info["multi_label"]
        self.input_size = info["input_size"]
        self.eval_recipe = info["eval_recipe"]

    def __repr__(self):
        return "cnncam.Model(%r: %d classes, layer %s%s)" % (self.path, self.num_classes, self.default_layer,
                                                            ", closed" if self.closed else "")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def closed(self):
        return self._m.closed

    def close(self):
        """Frees the model; any later use raises ValueError. RuntimeError
        while calls on other threads are running on it."""
        self._m.close()

    def _native(self):
        if self._m.closed:
            raise ValueError("the model %s is closed" % self.path)
        return self._m

    @staticmethod
    def _check_threads(threads):
        if threads is not None and (not isinstance(threads, (int, np.integer)) or not 1 <= threads <= 256):
            raise ValueError("threads must be an int from 1 to 256, not %r" % (threads,))

    def _threads(self, threads):
        self._check_threads(threads)
        t = threads if threads is not None else self.threads
        return int(t) if t is not None else 0

    def metadata(self):
        """The file's metadata (arch, source, labels, eval recipe, ...)."""
        return self._native().metadata()

    def layer_layout(self, layer):
        """(layout, shape) of a layer: how its value is a map ("nchw", "nhwc",
        "tokens:P:h:w", "" for none; None for a file without layouts, a CNN's, whose
        4-D layers are N x C x H x W) and its output shape for one image at the
        model's input size. The methods read a layer as C x h x w (weights/FORMAT.md)."""
        return self._native().layer_layout(layer)

    def class_index(self, cls):
        """The index of a class given by index or label ('tabby' or 'tabby, tabby cat')."""
        if isinstance(cls, (int, np.integer)) and not isinstance(cls, bool):
            if not 0 <= cls < (2 if self.num_classes == 1 else self.num_classes):   # one output: binary 0, 1
                raise ValueError("class %d is out of range: the model has %d classes" % (cls, self.num_classes))
            return int(cls)
        if not isinstance(cls, str):
            raise ValueError("a class is an index or a label, not %r" % (cls,))
        return self._native().class_index(cls)

    def prepare(self, images, **prep):
        """The RGB uint8 pictures the network sees (after resize/crop), for overlays."""
        return _images.load(self, images, self._prep(prep), want_pictures=True)[1] \
            if not (isinstance(images, np.ndarray) and images.dtype.kind == "f") else None

    def preprocess(self, images, **prep):
        """The normalised float32 N x C x H x W batch the network takes."""
        return _images.load(self, images, self._prep(prep))[0]

    @staticmethod
    def _prep(prep):
        unknown = set(prep) - set(_images.PREP_KEYS)
        if unknown:
            raise TypeError("unknown keyword argument%s: %s" % ("s" if len(unknown) > 1 else "",
                                                                 ", ".join(sorted(unknown))))
        full = {"resize": None, "crop": None, "torchvision_eval": False, "exif_orientation": True,
                "max_pixels": None}
        full.update(prep)
        return full

    def predict(self, images, threads=None, **prep):
        """The model's outputs, float32 N x num_classes (logits, or what it ends in)."""
        x, _ = _images.load(self, images, self._prep(prep))
        return self._native().forward(x, self._threads(threads))

    def probabilities(self, outputs):
        """Each class's probability (float64) from outputs, as the model's
        output kind says: softmax, sigmoid (multi-label), as is, or exp."""
        return self._native().probabilities(np.ascontiguousarray(np.atleast_2d(outputs), dtype=np.float32))

    def _classes(self, classes, n, target):
        if classes is None:
            return None
        if classes is TOP_EACH_RUN:
            return np.full(n, _native.TOP_CLASS, dtype=np.int32)
        if isinstance(classes, (int, np.integer, str)):
            classes = [classes] * n
        classes = list(classes)
        if len(classes) != n:
            raise ValueError("%d classes for %d images" % (len(classes), n))
        out = []
        for c in classes:
            if isinstance(c, str):
                out.append(self._native().class_index(c))
            elif isinstance(c, (int, np.integer)) and not isinstance(c, bool):
                if c < 0:
                    raise ValueError("class %d is negative" % c)
                out.append(int(c))
            else:
                raise ValueError("a class is an index or a label, not %r" % (c,))
        return np.array(out, dtype=np.int32)

    def explain(self, images, method="gradcam", classes=None, layers=None, target="logit", aug_smooth=False,
                eigen_smooth=False, threads=None, batch_size=None, ablation_ratio=None, seed=None,
                kpca_kernel=None, kpca_gamma=None, finer_alpha=None, eigen_sign="default", intermediates=False,
                progress=None, **prep):
        """Maps of `method` (cnncam.methods()), float32 N x H x W in [0, 1] at
        the network input's size. classes: None (each image's best), one
        index or label for all, one per image, or TOP_EACH_RUN (each
        augmented run's own best, as pytorch-grad-cam's targets=None); layers: None (the
        recommended one), a name or a list of names (maps averaged); target:
        logit, softmax, rest or binary. Options a method does not take raise
        ValueError. intermediates=True returns an Explanation instead."""
        if not isinstance(method, str):
            raise ValueError("method must be a name (cnncam.methods()), not %r" % (method,))
        if target not in TARGETS:
            raise ValueError("target must be one of %s, not %r" % (", ".join(TARGETS), target))
        if eigen_sign not in EIGEN_SIGNS:
            raise ValueError("eigen_sign must be 'default' or 'lapack', not %r" % (eigen_sign,))
        if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
            raise ValueError("batch_size must be an int >= 1, not %r" % (batch_size,))
        for name, v in (("ablation_ratio", ablation_ratio), ("kpca_gamma", kpca_gamma), ("finer_alpha", finer_alpha)):
            if v is not None and not (isinstance(v, (int, float, np.number)) and v > 0):
                raise ValueError("%s must be a number > 0, not %r" % (name, v))
        if seed is not None and (not isinstance(seed, (int, np.integer)) or not 0 <= seed <= 2 ** 32 - 1):
            raise ValueError("seed must be an int from 0 to 2**32 - 1, not %r" % (seed,))
        if isinstance(layers, str):
            layers = [layers]
        x, _ = _images.load(self, images, self._prep(prep))
        options = {"method": method, "target": TARGETS[target], "aug_smooth": int(bool(aug_smooth)),
                   "eigen_smooth": int(bool(eigen_smooth)), "batch_size": batch_size,
                   "ablation_ratio": ablation_ratio, "seed": seed, "kpca_kernel": kpca_kernel,
                   "kpca_gamma": kpca_gamma, "finer_alpha": finer_alpha, "eigen_sign": EIGEN_SIGNS[eigen_sign]}
        maps, used, logits, inter = self._native().explain(
            x, self._classes(classes, x.shape[0], target), None if layers is None else list(layers),
            self._threads(threads), options, bool(intermediates), progress)
        if not intermediates:
            return maps
        names = list(layers) if layers is not None else [self.default_layer]
        return Explanation(maps, used, logits, {n: LayerResult(**d) for n, d in zip(names, inter)})

    def guided_backprop(self, images, classes=None, extended=False, threads=None, **prep):
        """Guided backpropagation: float32 N x H x W x C, the gradient of each
        image's class (None: its best) with respect to the normalised input,
        ReLU modules passing only positive gradients to positive inputs
        (extended: also ReLU6, Hardswish, Hardsigmoid, SiLU, Sigmoid)."""
        x, _ = _images.load(self, images, self._prep(prep))
        cls = self._classes(classes, x.shape[0], "logit")
        return self._native().guided(x, cls, bool(extended), self._threads(threads))


def read_image(path, channels=3, exif_orientation=True, max_pixels=None):
    """A JPEG or PNG as uint8 H x W x channels (1: L, 3: RGB, 4: RGBA, as
    Pillow's convert), upright as its EXIF Orientation says. OSError for a
    file that cannot be read or decoded."""
    return _native.read_image(os.fsdecode(path), channels, not exif_orientation, max_pixels or 0)


def write_image(path, rgb, quality=95):
    """Writes uint8 H x W x 3 as .png or .jpg (by extension), atomically."""
    _native.write_image(os.fsdecode(path), rgb, quality)


def resize_crop(rgb, resize=None, crop=None, interpolation="bilinear"):
    """torchvision's Resize(resize) then CenterCrop(crop) on a PIL image, on
    uint8 H x W x 3 (the same pixels)."""
    ch, cw = (0, 0) if crop is None else (crop, crop) if isinstance(crop, (int, np.integer)) else crop
    return _native.resize_crop(rgb, resize or 0, int(ch), int(cw), interpolation)


def overlay(rgb, cam_map, alpha=0.5, mode="reference"):
    """The heatmap over the picture: mode 'reference' is pytorch-grad-cam's
    show_cam_on_image(rgb / 255, map, use_rgb=True); 'clean' a plain blend."""
    if mode not in OVERLAY_MODES:
        raise ValueError("mode must be 'reference' or 'clean', not %r" % (mode,))
    return _native.overlay(rgb, cam_map, OVERLAY_MODES[mode], float(alpha))


def deprocess_image(gb, mask=None):
    """pytorch-grad-cam's deprocess_image of a guided gradient (H x W x C
    float32), or of mask * gb: cam.py's _gb and _cam_gb pictures."""
    return _native.deprocess_image(gb, mask)
