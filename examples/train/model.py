"""examples/train/model.py — the architecture of cnncam's demo model: torchvision's
mobilenet_v3_small with one logit per Fashion-MNIST class (10), randomly
initialised (trained from scratch by examples/train/train.py). build() is the
factory tools/cnncam-convert --module calls:

    tools/cnncam-convert --module examples/train/model.py:build --weights W.pth \\
        --labels examples/train/classes.txt --dtype f16 -o models/fashion_scenes.ccm
"""
import torchvision

NUM_CLASSES = 10


def build():
    return torchvision.models.mobilenet_v3_small(weights=None, num_classes=NUM_CLASSES)
