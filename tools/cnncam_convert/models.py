"""tools/cnncam_convert/models.py — where the model and its weights come from.

  build_arch(name)            a torchvision classification model, untrained
  load_factory("f.py:build")  the nn.Module a user's factory returns
  read_state_dict(path)       a .pth: state_dict, whole pickled module, or {"state_dict"/"model": ...}
  state_dict_sha256(sd)       the hash of an in-memory state_dict (cli.convert_module's source)
  load_state(model, sd)       strict load, with missing/unexpected/mis-shaped keys spelled out
  download_pretrained(arch)   torchvision's DEFAULT weights (fails cleanly offline)
  random_init(model, seed)    seeded init + batchnorm statistics calibrated on real photos
  release_of(arch, sha256)    which torchvision weights release a file is (its URL carries
                              the SHA-256 prefix), for the evaluation recipe and labels
"""
import hashlib
import importlib.util
import os
import socket
import sys
import urllib.error

import numpy as np
import torch
import torch.nn as nn
import torchvision
from PIL import Image

from . import ConvertError

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]

# The seed article's Grad-CAM layers, and densenet121's (pytorch-grad-cam's
# model.features[-1], norm5: the automatic choice would be the functional relu
# after it, which has no module to hook in Python); other models get
# trace.auto_gradcam_layer.
GRADCAM_LAYERS = {
    "mobilenet_v3_large": "features.16", "mobilenet_v3_small": "features.12",
    "vgg16": "features", "resnet18": "layer4", "resnet34": "layer4", "resnet50": "layer4",
    "regnet_y_800mf": "trunk_output", "efficientnet_b0": "features", "densenet121": "features",
    # pytorch-grad-cam's choices for transformers (its vision_transformers tutorial): the last
    # block's first norm for ViT (at the final norm only the class token has a gradient), the
    # final norm for Swin (the seed's main_swin.py), the last stage for ConvNeXt
    "vit_b_16": "encoder.layers.encoder_layer_11.ln_1", "swin_t": "norm", "convnext_tiny": "features",
}

# The photos --random-init calibrates on (assets/images in the repository).
IMAGES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "assets", "images")
PHOTOS = ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg", "person.png", "kite.png",
          "scream.png"]


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def state_dict_sha256(state, h=None):
    """SHA-256 (hex) of a state_dict: per entry, in order, a line "name dtype
    shape" and the tensor's bytes in memory order. h: a hashlib object to
    feed (whose hex digest is returned), for a caller that hashes more."""
    h = h or hashlib.sha256()
    for name, v in state.items():
        h.update(("%s %s %s\n" % (name, v.dtype, tuple(v.shape))).encode())
        t = v.detach().cpu().contiguous().reshape(-1)
        if t.numel():
            h.update(t.view(torch.uint8).numpy())
    return h.hexdigest()


# ---- torchvision ------------------------------------------------------------

def classification_archs():
    return sorted(torchvision.models.list_models(module=torchvision.models))


def build_arch(name, num_classes=None):
    archs = classification_archs()
    if name not in archs:
        import difflib
        close = difflib.get_close_matches(name, archs, 3)
        raise ConvertError("--arch %s: torchvision %s has no such classification model%s"
                           % (name, torchvision.__version__,
                              " (did you mean %s?)" % ", ".join(close) if close else ""))
    kwargs = {} if num_classes is None else {"num_classes": num_classes}
    return torchvision.models.get_model(name, weights=None, **kwargs)


def releases(arch):
    """torchvision's weights enum members for arch (DEFAULT first), or []."""
    try:
        enum = torchvision.models.get_model_weights(arch)
    except (ValueError, KeyError):
        return []
    return [enum.DEFAULT] + [w for w in enum if w is not enum.DEFAULT]


def _url_hash(url):
    """The SHA-256 prefix torchvision puts in a weights file name (resnet34-b627a593.pth), or None."""
    stem = os.path.basename(url).rsplit(".", 1)[0]
    prefix = stem.rsplit("-", 1)[-1] if "-" in stem else ""
    return prefix if len(prefix) >= 8 and all(c in "0123456789abcdef" for c in prefix) else None


def release_of(arch, sha256):
    """The release of arch whose file name carries this SHA-256's prefix, or None."""
    for w in releases(arch):
        prefix = _url_hash(w.url)
        if prefix and sha256.startswith(prefix):
            return w
    return None


# torchvision builds these with transform_input=True when given their released
# weights: the forward first maps ImageNet-normalised channels c to
# x * (std_c / 0.5) + (mean_c - 0.5) / 0.5, i.e. the pixels normalised with
# mean = std = 0.5. The converter builds them with weights=None
# (transform_input=False) and stores that normalisation instead, so the file
# computes what the released model computes.
TRANSFORM_INPUT_ARCHS = ("googlenet", "inception_v3")
TRANSFORM_INPUT_MEAN = TRANSFORM_INPUT_STD = [0.5, 0.5, 0.5]


def recipe(w):
    """Evaluation recipe of a release: resize, crop, interpolation, labels."""
    t = w.transforms()
    return {"resize": int(t.resize_size[0]), "crop": int(t.crop_size[0]),
            "interpolation": t.interpolation.value, "mean": list(t.mean), "std": list(t.std),
            "categories": list(w.meta.get("categories") or []), "name": str(w)}


def download_pretrained(arch):
    """Path of torchvision's DEFAULT weights for arch in the hub cache,
    downloading them if needed; and the release."""
    ws = releases(arch)
    if not ws:
        raise ConvertError("--pretrained: torchvision has no pretrained weights for %s" % arch)
    w = ws[0]
    path = os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(w.url))
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        old = socket.getdefaulttimeout()
        socket.setdefaulttimeout(60)
        try:
            torch.hub.download_url_to_file(w.url, path, hash_prefix=_url_hash(w.url), progress=False)
        except RuntimeError as e:       # the hash does not match
            raise ConvertError("the download of %s is damaged (%s): try again, or pass --weights FILE.pth"
                               % (w.url, e)) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            why = "no network" if isinstance(reason, (socket.gaierror, ConnectionError, socket.timeout,
                                                     TimeoutError)) else str(reason)
            raise ConvertError("cannot download the pretrained weights for %s (%s): pass --weights "
                               "FILE.pth (a copy of %s)" % (arch, why, w.url)) from None
        finally:
            socket.setdefaulttimeout(old)
    return path, w


# ---- user factories and weight files -----------------------------------------

def load_factory(spec):
    """--module FILE.py:FUNC -> (make, FILE, 'stem:FUNC'): make() calls FUNC and
    checks that it returns an nn.Module. The file is imported once, here."""
    if ":" not in spec:
        raise ConvertError("--module wants FILE.py:FUNC (a factory returning an nn.Module), got '%s'" % spec)
    path, func = spec.rsplit(":", 1)
    if not func.isidentifier():
        raise ConvertError("--module %s: '%s' is not a Python function name" % (spec, func))
    if not os.path.isfile(path):
        raise ConvertError("--module %s: no such file '%s'" % (spec, path))
    stem = os.path.splitext(os.path.basename(path))[0]
    modname = "cnncam_user_" + "".join(c if c.isalnum() else "_" for c in stem)
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))   # its own imports
    try:
        spec_ = importlib.util.spec_from_file_location(modname, path)
        module = importlib.util.module_from_spec(spec_)
        sys.modules[modname] = module
        spec_.loader.exec_module(module)
    except Exception as e:
        raise ConvertError("--module %s: importing '%s' failed: %s: %s"
                           % (spec, path, type(e).__name__, e)) from None
    fn = getattr(module, func, None)
    if fn is None:
        defined = sorted(k for k, v in vars(module).items() if callable(v) and not k.startswith("_")
                         and getattr(v, "__module__", None) == modname)
        raise ConvertError("--module %s: '%s' defines no '%s' (it defines: %s)"
                           % (spec, path, func, ", ".join(defined) or "nothing callable"))
    if not callable(fn):
        raise ConvertError("--module %s: '%s' is a %s, not a function" % (spec, func, type(fn).__name__))

    def make():
        try:
            model = fn()
        except Exception as e:
            raise ConvertError("--module %s: %s() raised %s: %s" % (spec, func, type(e).__name__, e)) from None
        if not isinstance(model, nn.Module):
            raise ConvertError("--module %s: %s() returned a %s, not a torch.nn.Module"
                               % (spec, func, type(model).__name__))
        return model

    return make, path, "%s:%s" % (stem, func)


def read_state_dict(path):
    """The state_dict in a .pth file, and a note on how it was found (or None)."""
    if not os.path.isfile(path):
        raise ConvertError("--weights %s: no such file" % path)
    try:
        obj = torch.load(path, map_location="cpu")
    except Exception as e:
        hint = (" (a whole pickled module needs its class importable under the same module name; "
                "saving model.state_dict() avoids that)" if isinstance(e, (AttributeError, ImportError)) else "")
        raise ConvertError("--weights %s: torch.load failed: %s: %s%s"
                           % (path, type(e).__name__, e, hint)) from None
    note = None
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if key in obj and isinstance(obj[key], (dict, nn.Module)):
                obj, note = obj[key], "using the '%s' entry of %s" % (key, path)
                break
    if isinstance(obj, nn.Module):
        obj = obj.state_dict()
    if not isinstance(obj, dict):
        raise ConvertError("--weights %s holds a %s, not a state_dict or a module"
                           % (path, type(obj).__name__))
    bad = [k for k, v in obj.items() if not torch.is_tensor(v)]
    if bad:
        raise ConvertError("--weights %s: entries %s are not tensors; expected a state_dict, a module, "
                           "or a dict with a 'state_dict' or 'model' entry" % (path, ", ".join(map(str, bad[:5]))))
    if obj and all(k.startswith("module.") for k in obj):        # saved from DataParallel
        obj = {k[len("module."):]: v for k, v in obj.items()}
        note = (note + "; " if note else "") + "stripped the 'module.' prefix (DataParallel)"
    return obj, note


def load_state(model, sd, what):
    """load_state_dict(strict=True), after explaining any mismatch key by key."""
    want = model.state_dict()
    counter = lambda k: k.endswith("num_batches_tracked")      # not used in eval; old files lack it
    missing = [k for k in want if k not in sd and not counter(k)]
    unexpected = [k for k in sd if k not in want]
    shapes = ["%s is %s in the file, %s in the model" % (k, "x".join(map(str, sd[k].shape)),
                                                          "x".join(map(str, want[k].shape)))
              for k in sd if k in want and sd[k].shape != want[k].shape]
    if missing or unexpected or shapes:
        lines = ["%s does not fit the model:" % what]
        for title, keys in (("missing keys", missing), ("unexpected keys", unexpected),
                            ("shape mismatches", shapes)):
            if keys:
                lines.append("  %s (%d): %s%s" % (title, len(keys), ", ".join(keys[:12]),
                                                  ", ..." if len(keys) > 12 else ""))
        if shapes:
            lines.append("  (a different number of classes? --arch takes --num-classes N)")
        raise ConvertError("\n".join(lines))
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        raise ConvertError("%s: load_state_dict failed: %s" % (what, e)) from None


# ---- photos and random init ----------------------------------------------------

def photos(directory=IMAGES_DIR):
    paths = [os.path.join(directory, p) for p in PHOTOS]
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise ConvertError("--random-init calibrates batchnorm on the photos in %s; missing: %s"
                           % (os.path.normpath(directory), ", ".join(map(os.path.basename, missing))))
    return [Image.open(p).convert("RGB") for p in paths]


def to_tensor(img, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """A PIL image (L, RGB or RGBA) as a normalised C x H x W float32 tensor."""
    a = np.asarray(img, dtype=np.float32) / 255.0
    if a.ndim == 2:
        a = a[:, :, None]
    a = (a - np.array(mean, np.float32)) / np.array(std, np.float32)
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))


def center_crop(img, resize=256, crop=224):
    """torchvision's eval transform: shorter side to resize, centre crop
    (crop: a side, or (height, width))."""
    ch, cw = (crop, crop) if isinstance(crop, int) else crop
    w, h = img.size
    s = resize / min(w, h)
    img = img.resize((max(cw, round(w * s)), max(ch, round(h * s))), Image.BILINEAR)
    w, h = img.size
    left, top = (w - cw) // 2, (h - ch) // 2
    return img.crop((left, top, left + cw, top + ch))


def random_crop(img, g, size=224):
    """A random crop of 25% to 100% of the area, aspect 3/4 to 4/3, maybe mirrored."""
    w, h = img.size
    u = torch.rand(5, generator=g).tolist()
    area = w * h * (0.25 + 0.75 * u[0])
    aspect = float(np.exp(np.log(3 / 4) + u[1] * np.log(16 / 9)))
    cw = int(min(w, round((area * aspect) ** 0.5)))
    ch = int(min(h, round((area / aspect) ** 0.5)))
    left, top = int(u[2] * (w - cw)), int(u[3] * (h - ch))
    sh, sw = (size, size) if isinstance(size, int) else size
    img = img.crop((left, top, left + cw, top + ch)).resize((sw, sh), Image.BILINEAR)
    return img.transpose(Image.FLIP_LEFT_RIGHT) if u[4] < 0.5 else img


# Photo modes for the channel counts --random-init calibrates: gray, RGB, RGBA (alpha 255).
PHOTO_MODES = {1: "L", 3: "RGB", 4: "RGBA"}


def calibration_batches(seed, mean=IMAGENET_MEAN, std=IMAGENET_STD, shape=(3, 224, 224)):
    """Two batches of 8 at shape's H x W (C x H x W; C 1, 3 or 4: the photos as
    L, RGB or RGBA): the 7 photos centre-cropped and one mirrored, then 8
    random crops."""
    c, h, w = shape
    if c not in PHOTO_MODES:
        raise ConvertError("--random-init calibrates batchnorm on photos (gray, RGB or RGBA); the model takes "
                           "%d channels: convert it with its own weights (--weights)" % c)
    imgs = [i.convert(PHOTO_MODES[c]) for i in photos()]
    g = torch.Generator().manual_seed(seed)
    first = [center_crop(i, round(max(h, w) * 256 / 224), (h, w)) for i in imgs]
    first.append(first[0].transpose(Image.FLIP_LEFT_RIGHT))
    second = [random_crop(imgs[int(torch.randint(len(imgs), (1,), generator=g))], g, (h, w)) for _ in range(8)]
    return [torch.stack([to_tensor(i, mean, std) for i in b]) for b in (first, second)]


def calibrate_batchnorm(model, batches):
    """Running statistics = the cumulative average (momentum=None) of batch
    statistics over batches; every other module stays in eval mode."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
           and m.track_running_stats]
    model.eval()
    if not bns:             # vgg16: nothing to calibrate
        return
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    with torch.no_grad():
        for b in batches:
            model(b)
    for m, mom in zip(bns, saved):
        m.momentum = mom
    model.eval()


def random_init(make, seed, shape=(3, 224, 224), mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """make() under torch.manual_seed(seed), batchnorm calibrated on photos
    (C x H x W: shape; normalised with mean and std)."""
    torch.manual_seed(seed)
    model = make()
    calibrate_batchnorm(model, calibration_batches(seed, mean, std, shape))
    return model


def random_model(arch, seed, num_classes=None):
    """The model `cnncam-convert --arch ARCH --random-init --seed SEED` converts."""
    return random_init(lambda: build_arch(arch, num_classes), seed)
