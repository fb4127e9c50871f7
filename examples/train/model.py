"""examples/train/model.py — the architecture of cnncam's demo model: torchvision's
mobilenet_v3_small with one logit per Fashion-MNIST class (10), randomly
initialised (trained from scratch by examples/train/train.py). build() is the
factory tools/cnncam-convert --module calls:

    tools/cnncam-convert --module examples/train/model.py:build --weights W.pth \\
        --labels examples/train/classes.txt --multi-label --dtype f16 -o models/fashion_scenes.ccm

build_dilated() is the same network with torchvision's dilated=True: the last
stage (features.9-12) keeps stride 16 and uses dilation 2 instead of a fifth
stride-2 step, so the Grad-CAM layer features.12 gives a 12 x 12 map on a
192 x 192 scene instead of 6 x 6, for ~1.8x the training time. It did not
localise better (pointing game 79.0% against 82.1%, README), so the demo model
is build(); the bias experiment's two models (models/bias/) are build_dilated().
"""
import torchvision

NUM_CLASSES = 10


def build():
    return torchvision.models.mobilenet_v3_small(weights=None, num_classes=NUM_CLASSES)


def build_dilated():
    return torchvision.models.mobilenet_v3_small(weights=None, num_classes=NUM_CLASSES, dilated=True)


# The transformers of examples/transformers/: the seed article's ViT and Swin structures (the
# state_dict keys of tests/models/vit_like.py and swin_like.py), small enough to train from scratch
# on one CPU core in ~20 min, at the scenes' 192 x 192 (the ViT takes no other size).
import os as _os
import sys as _sys

_sys.path.insert(0, _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "..", "..", "tests", "models"))

VIT_CONFIG = dict(img_size=192, patch_size=16, num_classes=NUM_CLASSES, embed_dim=48, depth=4, num_heads=3)
SWIN_CONFIG = dict(patch_size=8, window_size=6, num_classes=NUM_CLASSES, embed_dim=32, depths=(2, 2, 2),
                   num_heads=(2, 4, 8))


def build_vit():
    """ViT: 192 x 192 input, 16 x 16 patches (12 x 12 tokens + class token), 48 dims, 4 blocks, 3 heads."""
    import vit_like
    return vit_like.VisionTransformer(**VIT_CONFIG)


def build_swin():
    """Swin: 8 x 8 patches, window 6 (stages 24, 12, 6 at 192 px: no padding), 32 dims, depths 2-2-2, heads
    2-4-8. (4 x 4 patches, 48 dims and 2-2-2-2 trained at ~4 images/s on one core: too slow for ~20 min.)"""
    import swin_like
    return swin_like.SwinTransformer(**SWIN_CONFIG)
