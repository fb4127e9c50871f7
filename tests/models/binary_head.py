"""tests/models/binary_head.py — a one-output classifier ("cat" or not:
binary_head.labels), torchvision's ResNet-18 with nn.Linear(512, 1): what
pytorch-grad-cam's BinaryClassifierOutputTarget explains (tests/test_methods.py's
binary target). A factory for
tools/cnncam-convert --module tests/models/binary_head.py:build."""
import torch.nn as nn
import torchvision


def build():
    model = torchvision.models.resnet18(weights=None)
    model.fc = nn.Linear(512, 1)
    return model
