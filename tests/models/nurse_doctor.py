"""tests/models/nurse_doctor.py — the seed article's two-class classifier shape:
torchvision's ResNet-18 with its 1000-way head replaced by nn.Linear(512, 2)
(nurse, doctor). A factory for tools/cnncam-convert:

    tools/cnncam-convert --module tests/models/nurse_doctor.py:build \\
        --labels tests/models/nurse_doctor.labels [--weights FILE.pth | --random-init] -o OUT.ccm
"""
import torch.nn as nn
import torchvision


def build():
    model = torchvision.models.resnet18(weights=None)
    model.fc = nn.Linear(512, 2)
    return model
