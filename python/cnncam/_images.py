"""Turning the images argument of Model.predict/explain/... into the batch
the library takes: float32 N x C x H x W, normalised, plus the pictures the
network sees (for overlays). The steps are the CLI's (tools/cmd_cam.c):
read as the model takes the file (RGB, L or RGBA, upright per EXIF), resize
and centre-crop the RGB picture if asked, normalise with the model's mean
and std."""
import os

import numpy as np

from . import _native

PREP_KEYS = ("resize", "crop", "torchvision_eval", "exif_orientation", "max_pixels")


def _is_path(v):
    return isinstance(v, (str, bytes, os.PathLike))


def _pixels(item, channels, prep):
    """uint8 H x W x c pixels of one image (a path or an array)."""
    if _is_path(item):
        return _native.read_image(os.fsdecode(item), channels, not prep["exif_orientation"], prep["max_pixels"] or 0)
    if isinstance(item, np.ndarray):
        if item.dtype != np.uint8:
            raise ValueError("an image array must be uint8 H x W or H x W x C (C = 1, 3 or 4), not %s; a "
                             "normalised tensor must be float32 N x C x H x W" % item.dtype)
        if item.ndim == 2:
            item = item[:, :, None]
        if item.ndim != 3 or item.shape[2] not in (1, 3, 4):
            raise ValueError("an image array must be H x W or H x W x C with C = 1, 3 or 4, not shape %s"
                             % (item.shape,))
        if not item.flags.c_contiguous:
            raise ValueError("an image array must be C-contiguous (numpy.ascontiguousarray makes such a copy)")
        return item
    raise ValueError("an image must be a path, a uint8 array or a float32 tensor, not %s" % type(item).__name__)


def _to_rgb(px):
    """A gray pixel as L, L, L; RGBA's alpha dropped (the CLI's to_rgb)."""
    if px.shape[2] == 3:
        return px
    if px.shape[2] == 1:
        return np.ascontiguousarray(np.repeat(px, 3, axis=2))
    return np.ascontiguousarray(px[:, :, :3])


def _recipe(model, prep):
    """(resize, crop_h, crop_w, interpolation) as the CLI's --resize/--crop/--torchvision-eval."""
    if prep["torchvision_eval"]:
        if prep["resize"] is not None or prep["crop"] is not None:
            raise ValueError("torchvision_eval is the stored recipe: give it or resize/crop, not both")
        r = model.eval_recipe
        if r is None:
            raise ValueError("%s stores no evaluation recipe; give resize and crop" % model.path)
        return r["resize"], r["crop"], r["crop"], r["interpolation"]
    resize, crop = prep["resize"], prep["crop"]
    if resize is not None and (not isinstance(resize, (int, np.integer)) or resize < 1):
        raise ValueError("resize must be a positive int, not %r" % (resize,))
    if crop is None:
        ch = cw = 0
    elif isinstance(crop, (int, np.integer)):
        ch = cw = int(crop)
    else:
        ch, cw = (int(v) for v in crop)
    if ch < 0 or cw < 0 or (crop is not None and (ch < 1 or cw < 1)):
        raise ValueError("crop must be a positive int or (height, width), not %r" % (crop,))
    return resize or 0, ch, cw, "bilinear"


def load(model, images, prep, want_pictures=False):
    """(x, pictures): x float32 N x C x H x W; pictures the RGB uint8 arrays
    the network sees (None unless asked, or for a tensor input)."""
    native = model._native()
    if isinstance(images, np.ndarray) and images.dtype.kind == "f":
        if any(prep[k] not in (None, False) for k in ("resize", "crop", "torchvision_eval", "max_pixels")):
            raise ValueError("a float tensor is used as is: resize, crop and torchvision_eval do not apply")
        if images.dtype != np.float32:
            raise ValueError("a normalised tensor must be float32, not %s" % images.dtype)
        if images.ndim == 3:
            images = images[None]
        if images.ndim != 4:
            raise ValueError("a normalised tensor must be N x C x H x W or C x H x W, not shape %s" % (images.shape,))
        _check_size(model, images.shape[2], images.shape[3], "tensor")
        return images, None
    if isinstance(images, np.ndarray) and images.dtype == np.uint8 and images.ndim == 4:
        items = list(images)
    elif _is_path(images) or isinstance(images, np.ndarray):
        items = [images]
    elif isinstance(images, (list, tuple)):
        items = list(images)
        if not items:
            raise ValueError("no images given")
    else:
        raise ValueError("images must be a path, a uint8 array, a list of them or a float32 N x C x H x W "
                         "tensor, not %s" % type(images).__name__)
    C = model.channels
    resize, ch, cw, interp = _recipe(model, prep)
    if C == 4 and (resize or ch):
        raise ValueError("resize and crop work on RGB pictures; a 4-channel model takes its images as they are")
    xs, pictures = [], []
    for item in items:
        px = _pixels(item, C, prep)
        rgb = _to_rgb(px) if C != 4 else None
        if resize or ch:
            rgb = _native.resize_crop(np.ascontiguousarray(rgb), resize, ch, cw, interp)
        x = native.preprocess(np.ascontiguousarray(rgb if C != 4 else px))
        _check_size(model, x.shape[1], x.shape[2], "image")
        if xs and x.shape != xs[0].shape:
            raise ValueError("the images have different sizes (%d x %d and %d x %d, height x width): give "
                             "resize and crop, or one call per size" % (xs[0].shape[1], xs[0].shape[2],
                                                                       x.shape[1], x.shape[2]))
        xs.append(x)
        if want_pictures:
            pictures.append(rgb if rgb is not None else _to_rgb(px))
    return np.stack(xs), (pictures if want_pictures else None)


def _check_size(model, h, w, what):
    if model.input_size is not None and (h, w) != tuple(model.input_size):
        H, W = model.input_size
        raise ValueError("%s works at one input size, %d x %d (height x width), and this %s is %d x %d%s"
                         % (model.path, H, W, what, h, w,
                            "" if what == "tensor" else "; resize and crop it: resize=%d, crop=(%d, %d)"
                            % (min(H, W), H, W)))
