"""cnncam/compat/utils/image.py — pytorch_grad_cam.utils.image's picture
helpers, with the reference's numerics (numpy float32, the same order of
operations; OpenCV's COLORMAP_JET from cnncam's own table, which
tests/test_python_compat.py checks against cv2.applyColorMap):

  preprocess_image(img, mean, std)   ToTensor + Normalize, 1 x C x H x W
  deprocess_image(img)               a guided-backprop gradient as uint8
  show_cam_on_image(img, mask, use_rgb=False, colormap=COLORMAP_JET, image_weight=0.5)
  scale_cam_image(cam, target_size)  per-map min-max (+ bilinear resize)
  scale_accross_batch_and_channels(tensor, target_size)

OpenCV is optional: scale_cam_image resizes with cv2.resize when it is
installed (the reference's call, bit for bit) and otherwise with a numpy
restatement of its bilinear filter (half-pixel centres, edges replicated:
within a float32 rounding of OpenCV's); a colormap other than JET needs cv2.
"""
import numpy as np
import torch

from .._cache import UnsupportedError

COLORMAP_JET = 2        # cv2.COLORMAP_JET
_jet = []


def _jet_rgb():
    """cnncam's 256 x 3 RGB table of OpenCV's COLORMAP_JET: the clean overlay
    with alpha 1 is the colour itself (mask (i + 0.5) / 255 -> entry i)."""
    if not _jet:
        import cnncam
        ramp = ((np.arange(256, dtype=np.float32) + 0.5) / 255)[None, :]
        black = np.zeros((1, 256, 3), np.uint8)
        _jet.append(np.ascontiguousarray(cnncam.overlay(black, ramp, alpha=1.0, mode="clean")[0]))
    return _jet[0]


def preprocess_image(img, mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5]):
    """torchvision's ToTensor then Normalize(mean, std), with a batch axis:
    H x W x C (or H x W) -> 1 x C x H x W. A uint8 image is divided by 255
    (float32); any other array keeps its dtype (float64 stays float64), as
    ToTensor does."""
    a = np.asarray(img).copy()
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3:
        raise ValueError("preprocess_image takes an H x W x C image, not shape %s" % (a.shape,))
    t = torch.from_numpy(a.transpose(2, 0, 1)).contiguous()
    if t.dtype == torch.uint8:
        t = t.to(dtype=torch.get_default_dtype()).div(255)
    if not t.is_floating_point():
        raise TypeError("Input tensor should be a float tensor. Got %s." % t.dtype)
    m = torch.as_tensor(mean, dtype=t.dtype).view(-1, 1, 1)
    s = torch.as_tensor(std, dtype=t.dtype).view(-1, 1, 1)
    if (s == 0).any():
        raise ValueError("std evaluated to zero after conversion to %s, leading to division by zero." % t.dtype)
    return t.sub(m).div(s).unsqueeze(0)


def deprocess_image(img):
    """Minus the mean, over (the population std + 1e-5), times 0.1 plus 0.5,
    clipped to [0, 1], times 255 truncated to uint8 (keras-grad-cam's rule)."""
    img = img - np.mean(img)
    img = img / (np.std(img) + 1e-5)
    img = img * 0.1
    img = img + 0.5
    img = np.clip(img, 0, 1)
    return np.uint8(img * 255)


def show_cam_on_image(img, mask, use_rgb=False, colormap=COLORMAP_JET, image_weight=0.5):
    """The map as a colour heatmap over img (float in [0, 1]): heat =
    colormap[uint8(255 mask)] / 255 (BGR unless use_rgb), out = (1 - w) heat +
    w img, divided by its maximum, times 255 truncated to uint8."""
    index = np.uint8(255 * mask)
    if colormap == COLORMAP_JET:
        heat = _jet_rgb()[index]
        if not use_rgb:
            heat = heat[..., ::-1]
    else:
        try:
            import cv2
        except ImportError:
            raise UnsupportedError("show_cam_on_image: colormap %r needs OpenCV (python3-opencv); cnncam has "
                                   "COLORMAP_JET only" % (colormap,)) from None
        heat = cv2.applyColorMap(index, colormap)
        if use_rgb:
            heat = cv2.cvtColor(heat, cv2.COLOR_BGR2RGB)
    heat = np.float32(heat) / 255
    if np.max(img) > 1:
        raise Exception("The input image should np.float32 in the range [0, 1]")
    if image_weight < 0 or image_weight > 1:
        raise Exception(f"image_weight should be in the range [0, 1]. Got: {image_weight}")
    cam = (1 - image_weight) * heat + image_weight * img
    cam = cam / np.max(cam)
    return np.uint8(255 * cam)


def _linear_taps(n_out, n_in):
    """OpenCV INTER_LINEAR's source index and weight per output position."""
    scale = 1.0 / (float(n_out) / n_in)
    f = ((np.arange(n_out) + 0.5) * scale - 0.5).astype(np.float32)
    s = np.floor(f).astype(np.int64)
    f = f - s.astype(np.float32)
    low, high = s < 0, s >= n_in - 1
    s[low], f[low] = 0, 0
    s[high], f[high] = n_in - 1, 0
    return s, np.minimum(s + 1, n_in - 1), f


def _resize(img, size):
    """cv2.resize(np.float32(img), size) with size = (W, H)."""
    img = np.float32(img)
    try:
        import cv2
    except ImportError:
        cv2 = None
    if cv2 is not None:
        return cv2.resize(img, size)
    W, H = size
    h, w = img.shape
    if (W, H) == (w, h):
        return img.copy()
    x0, x1, fx = _linear_taps(W, w)
    y0, y1, fy = _linear_taps(H, h)
    rows = img[:, x0] * (np.float32(1) - fx) + img[:, x1] * fx
    return rows[y0] * (np.float32(1) - fy)[:, None] + rows[y1] * fy[:, None]


def scale_cam_image(cam, target_size=None):
    """Each map minus its minimum, over (1e-7 + its maximum), in the map's
    dtype; then resized to target_size = (W, H) (bilinear; 3-D maps with
    scipy.ndimage.zoom, as the reference); float32."""
    result = []
    for img in cam:
        img = img - np.min(img)
        img = img / (1e-7 + np.max(img))
        if target_size is not None:
            if len(img.shape) > 2:
                from scipy.ndimage import zoom
                img = zoom(np.float32(img), [(t / i) for i, t in zip(img.shape, target_size[::-1])])
            else:
                img = _resize(img, target_size)
        result.append(img)
    return np.float32(result)


def scale_accross_batch_and_channels(tensor, target_size):
    """scale_cam_image of every (batch, channel) map on its own."""
    b, c = tensor.shape[:2]
    out = scale_cam_image(tensor.reshape(b * c, *tensor.shape[2:]), target_size)
    return out.reshape(b, c, target_size[1], target_size[0])
