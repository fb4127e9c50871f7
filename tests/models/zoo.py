"""tests/models/zoo.py — small models for tests/test_converter.py, as --module factories.

functional():  every spelling the converter maps, on purpose the less common ones:
               functional activations (F.relu6, torch.relu, Tensor.relu, Tensor.sigmoid),
               torch.add/mul and `x * s`, F.hardtanh(0, 6), nn.Flatten, nn.Identity,
               padding='same' with an even kernel (asymmetric padding), dilation, groups,
               bias-free conv, affine-free batchnorm, torch.cat, F.max_pool2d/F.avg_pool2d
               with ceil_mode, F.dropout in eval, Tensor.flatten, and a conv called twice
               (shared.weight bound by two nodes).
unsupported(): a Mish at features.3.foo and a Tensor.view, which must both be reported.
unsupported_tokens(): a token model (LayerNorm) with an nn.Mish and a Tensor.cumsum.
tuple_out():   returns (logits, features): not one tensor.
inplace_shared(): an in-place relu whose input is read again later.
wide_head():   a conv ("features") and a 62.5 MiB linear classifier (16384 -> 1000):
               a weight big enough for the low-memory mode (tests/test_cli.py).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Functional(nn.Module):
    def __init__(self, classes=5):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, stride=2, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        self.same = nn.Conv2d(16, 16, 4, padding="same", bias=False)       # pads 1 top/left, 2 bottom/right
        self.bn_plain = nn.BatchNorm2d(16, affine=False, eps=1e-3)
        self.shared = nn.Conv2d(16, 16, 3, padding=2, dilation=2, groups=4)   # called twice
        self.act = nn.Hardtanh(0.0, 6.0)
        self.se_fc = nn.Conv2d(16, 16, 1)
        self.branch = nn.Sequential(nn.Conv2d(16, 8, 1), nn.BatchNorm2d(8), nn.ReLU6(inplace=True))
        self.pool = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False, ceil_mode=True)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Identity(), nn.Linear(24, classes))

    def forward(self, x):
        x = F.relu6(torch.relu(self.bn(self.stem(x))))
        x = F.hardtanh(self.bn_plain(self.same(x)), 0.0, 6.0)
        y = self.shared(x).relu()
        y = self.act(self.shared(y))
        x = torch.add(x, y)
        s = torch.sigmoid(self.se_fc(F.adaptive_avg_pool2d(x, 1)))
        x = torch.mul(x, s)                                     # the scale second
        x = x * self.se_fc(F.adaptive_avg_pool2d(x, 1)).sigmoid()
        x = F.max_pool2d(x, 3, 2, 1, ceil_mode=True)
        x = torch.cat([x, self.branch(x)], dim=1)
        x = F.hardswish(F.silu(x))
        x = F.avg_pool2d(F.hardsigmoid(x), 2, ceil_mode=True)
        x = self.pool(x)
        x = F.dropout(x, 0.5, training=self.training)
        x = F.adaptive_avg_pool2d(x, (1, 1)).flatten(1)
        return self.head(x)          # nn.Flatten of N x 24 is a no-op flatten


class Foo(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 3, padding=1)
        self.foo = nn.Mish()

    def forward(self, x):
        return self.foo(self.conv(x))


class Unsupported(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), Foo(),
                                      nn.AdaptiveAvgPool2d(1))
        self.fc = nn.Linear(8, 1000)

    def forward(self, x):
        x = self.features(x)
        return self.fc(x.view(x.size(0), -1))


class TupleOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, 1000)

    def forward(self, x):
        f = self.conv(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(f, 1), 1)), f


class InplaceShared(nn.Module):
    """relu(inplace=True) overwrites conv's output, which the add reads afterwards:
    PyTorch computes relu(y) + relu(y), a traced graph y + relu(y)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.relu = nn.ReLU(inplace=True)
        self.fc = nn.Linear(4, 1000)

    def forward(self, x):
        y = self.conv(x)
        z = self.relu(y)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(y + z, 1), 1))


def functional():
    return Functional()


def unsupported():
    return Unsupported()


class UnsupportedTokens(nn.Module):
    """A LayerNorm sends it through the converter's tracer for transformers, which
    cannot run its nn.Mish or Tensor.cumsum either."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Conv2d(3, 8, 8, stride=8)
        self.norm = nn.LayerNorm(8)
        self.act = nn.Mish()
        self.head = nn.Linear(8, 1000)

    def forward(self, x):
        t = self.norm(self.proj(x).flatten(2).transpose(1, 2))
        return self.head(self.act(t)[:, 0] + t.cumsum(1)[:, -1])


def unsupported_tokens():
    return UnsupportedTokens()


def tuple_out():
    return TupleOut()


class NoTensorOut(nn.Module):
    def forward(self, x):
        return (x.shape[0], "logits")


def no_tensor_out():
    return NoTensorOut()


def not_a_module():
    return 42


def raises():
    raise RuntimeError("the factory failed on purpose")


def inplace_shared():
    return InplaceShared()


class WideHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(32)
        self.fc = nn.Linear(16 * 32 * 32, 1000)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


def wide_head():
    torch.manual_seed(3)
    return WideHead()
