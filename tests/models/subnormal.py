"""tests/models/subnormal.py — a model whose activations stay subnormal, as a --module factory.

plain_convs(): four 3x3 convs (ReLU between) with neither bias nor batchnorm, a global average
               pool and a linear classifier. No layer adds a shift, so an input scaled by 1e-39
               stays below FLT_MIN (1.2e-38) through every conv: the worst case for x86's
               subnormal arithmetic (tests/test_threads.py, bench/bench.py --only subnormal).
"""
import torch
import torch.nn as nn


class PlainConvs(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, 3, stride=2, padding=1, bias=False), nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1, bias=False), nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1, bias=False), nn.ReLU(),
            nn.Conv2d(64, 64, 3, padding=1, bias=False), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


def plain_convs():
    torch.manual_seed(13)
    return PlainConvs()
