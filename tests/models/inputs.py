"""tests/models/inputs.py — models whose input is not a 3-channel image of any
size, and models whose forward returns more than the logits, as --module
factories for tools/cnncam-convert (tests/test_inputs.py):

lenet():      LeNet-5 as MNIST users write it: 1 x 28 x 28, conv 5x5 (pad 2),
              max pools, a flatten feeding Linear(400, 120): it works at
              28x28 only. Seeded weights.
rgba_net():   a 4-channel CNN (conv, batchnorm, ReLU, global pool, linear),
              for --random-init (batchnorm calibrated on RGBA photos).
identity1():  Conv2d(1, 1, 1) with weight 1 and no bias, then a pool and a
              linear: its 'conv' output is the input itself, so --act-out
              shows the pixels the model was given (with --mean 0 --std 1:
              luminance / 255).
identity3(), identity4():  the same for 3 and 4 channels (RGB or RGBA / 255).
dict_head():  a small 3-channel CNN whose forward returns {"out": logits,
              "aux": auxiliary logits}, as torchvision's segmentation and
              GoogLeNet-style models do.
tuple_head(): the same returning (aux, logits): the logits are not first.
"""
import torch
import torch.nn as nn


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def lenet():
    torch.manual_seed(28)
    return LeNet()


class RGBANet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
            nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


def rgba_net():
    return RGBANet()


class Identity(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 1, bias=False)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, 2)
        with torch.no_grad():
            self.conv.weight.copy_(torch.eye(channels)[:, :, None, None])

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.conv(x)), 1))


def identity1():
    torch.manual_seed(1)
    return Identity(1)


def identity3():
    torch.manual_seed(3)
    return Identity(3)


def identity4():
    torch.manual_seed(4)
    return Identity(4)


class TwoHeads(nn.Module):
    """features -> (logits 6 classes, an auxiliary head of 3 from an earlier layer)."""

    def __init__(self, as_dict):
        super().__init__()
        self.as_dict = as_dict
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU())
        self.features = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 6)
        self.aux = nn.Linear(8, 3)

    def forward(self, x):
        s = self.stem(x)
        f = self.features(s)
        out = self.fc(torch.flatten(self.pool(f), 1))
        aux = self.aux(torch.flatten(self.pool(s), 1))
        return {"out": out, "aux": aux} if self.as_dict else (aux, out)


def dict_head():
    torch.manual_seed(6)
    return TwoHeads(True)


def tuple_head():
    torch.manual_seed(6)
    return TwoHeads(False)
