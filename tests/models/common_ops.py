"""tests/models/common_ops.py — small models with the ops ordinary CNNs are
written with, as --module factories for tests/test_converter.py and
tests/test_gradcam.py.

everyday():     LeakyReLU and ELU as modules and in every functional spelling
                (F.leaky_relu positional and keyword, F.leaky_relu_, F.elu,
                F.elu_), BatchNorm1d on N x C x L (after torch.flatten(x, 2))
                and on N x F after a Linear, affine and not; ends in logits.
softmax_<how>(): a conv net whose head ends in a softmax over the classes,
                spelled <how>: module (nn.Softmax(dim=1)), functional
                (F.softmax(x, dim=1)), torch (torch.softmax(x, 1)), method
                (x.softmax(1)), implicit (nn.Softmax() on N x classes: dim 1).
log_softmax_<how>(): the same with LogSoftmax (module, functional, torch, method).
softmax_dim0(): a softmax over the batch (dim 0), which must be refused.
sigmoid_head(): the same net ending in torch.sigmoid (output "probabilities").
Head("logits"): the same net without the final op (tests/test_gradcam.py's
                check that explaining the softmax differs from explaining the logit).
All take 1 x 3 x H x W at any size (adaptive pooling); 4 classes.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

CLASSES = 4


class Everyday(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.act = nn.LeakyReLU(0.1)
        self.conv = nn.Conv2d(8, 8, 3, padding=1)
        self.elu = nn.ELU(alpha=0.7)
        self.features = nn.Conv2d(8, 8, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.bn_seq = nn.BatchNorm1d(8)                          # N x C x L
        self.fc1 = nn.Linear(32, 16)
        self.bn_fc = nn.BatchNorm1d(16, eps=1e-3)                # N x F
        self.bn_plain = nn.BatchNorm1d(16, affine=False)
        self.fc2 = nn.Linear(16, CLASSES)

    def forward(self, x):
        x = self.act(self.stem(x))
        x = F.leaky_relu(self.conv(x), 0.2)
        x = F.elu(self.elu(x))
        x = F.leaky_relu(self.features(x), negative_slope=-0.3)
        x = F.elu(x, alpha=2.0)
        x = torch.flatten(self.pool(x), 2)                       # N x 8 x 4
        x = F.leaky_relu_(self.bn_seq(x))
        x = self.bn_fc(self.fc1(torch.flatten(x, 1)))
        x = F.elu_(self.bn_plain(x), 0.4)
        return self.fc2(x)


class Head(nn.Module):
    """A conv net whose classifier ends as `end` says."""

    def __init__(self, end):
        super().__init__()
        self.end = end
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                      nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, CLASSES)
        with torch.no_grad():
            self.fc.weight.mul_(8)       # logits far apart: the softmax is not near uniform
        modules = {"module": nn.Softmax(dim=1), "implicit": nn.Softmax(), "log_module": nn.LogSoftmax(dim=1)}
        if end in modules:
            self.out = modules[end]

    def forward(self, x):
        x = self.fc(torch.flatten(self.pool(self.features(x)), 1))
        e = self.end
        if e in ("module", "implicit", "log_module"):
            return self.out(x)
        return {"logits": lambda: x, "functional": lambda: F.softmax(x, dim=1), "torch": lambda: torch.softmax(x, 1),
                "method": lambda: x.softmax(1), "log_functional": lambda: F.log_softmax(x, 1),
                "log_torch": lambda: torch.log_softmax(x, dim=-1), "log_method": lambda: x.log_softmax(dim=1),
                "dim0": lambda: F.softmax(x, dim=0), "sigmoid": lambda: torch.sigmoid(x)}[e]()


def everyday():
    return Everyday()


def _head(end):
    def make():
        return Head(end)
    return make


# The factories named in the docstring, one per spelling.
for _name, _end in [("softmax_module", "module"), ("softmax_functional", "functional"), ("softmax_torch", "torch"),
                    ("softmax_method", "method"), ("softmax_implicit", "implicit"),
                    ("log_softmax_module", "log_module"), ("log_softmax_functional", "log_functional"),
                    ("log_softmax_torch", "log_torch"), ("log_softmax_method", "log_method"),
                    ("softmax_dim0", "dim0"), ("sigmoid_head", "sigmoid")]:
    globals()[_name] = _head(_end)
