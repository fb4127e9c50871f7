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
