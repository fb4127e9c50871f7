#!/usr/bin/python3
"""tests/gen_onnx_fixtures.py — small ONNX models exported by PyTorch, with
PyTorch's logits for them, for tests/test_onnx.c and the ONNX fuzz target's seeds.

Usage: /usr/bin/python3 tests/gen_onnx_fixtures.py tests/data/onnx   (make fixtures)

Writes, for each net below and opsets 11, 13 and 17, NAME-OPSET.onnx
(torch.onnx.export, batchnorm kept with training=PRESERVE in one of them), and
once: input.f32 (a 1 x 3 x 20 x 20 image, little-endian float32) and
NAME.logits.f32 (the net's PyTorch logits for it). The nets are small (a few
KB), so the C test can load every truncation and every single-byte flip of
them, and together they use the ops torchvision's CNNs export to: Conv (groups,
padding, stride), BatchNormalization, Relu, Clip (ReLU6), HardSigmoid, HardSwish
(or HardSigmoid + Mul before opset 14), Sigmoid + Mul (SiLU), Mul by a channel
scale, Add, MaxPool (ceil_mode), AveragePool (Pad before it), GlobalAveragePool,
ReduceMean, Concat, Split, Flatten, Reshape, Transpose, Gemm, MatMul, Dropout."""
import os
import struct
import sys
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

warnings.filterwarnings("ignore")


class SE(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.fc1, self.fc2 = nn.Conv2d(c, 4, 1), nn.Conv2d(4, c, 1)

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        return x * torch.sigmoid(self.fc2(F.relu(self.fc1(s))))


class Mobile(nn.Module):
    """Depthwise and squeeze-excitation blocks, MobileNetV3 and EfficientNet style."""
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.Hardswish())
        self.dw = nn.Sequential(nn.Conv2d(8, 8, 3, 1, 1, groups=8, bias=False), nn.BatchNorm2d(8), nn.ReLU6())
        self.se = SE(8)
        self.pw = nn.Sequential(nn.Conv2d(8, 12, 1, bias=False), nn.BatchNorm2d(12), nn.SiLU())
        self.gate = nn.Hardsigmoid()
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(12, 5))

    def forward(self, x):
        x = self.pw(self.se(self.dw(self.stem(x))))
        x = x * self.gate(x.mean((2, 3), keepdim=True))
        return self.head(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class Plain(nn.Module):
    """Residual and inception-like pieces: pools, concat, split, shuffle, view."""
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.avg = nn.AvgPool2d(2)
        self.branch = nn.Conv2d(8, 4, 1)
        self.fc = nn.Linear(12 * 5 * 5, 6)

    def forward(self, x):
        x = self.pool(F.relu(self.bn1(self.conv1(x))))
        x = F.relu(x + self.conv2(x))
        a, b = x.chunk(2, dim=1)
        x = torch.cat([b, a], 1).view(1, 2, 4, 10, 10).transpose(1, 2).reshape(1, 8, 10, 10)
        x = self.avg(x)
        x = torch.cat([x, self.branch(x)], 1)
        return self.fc(x.view(x.size(0), -1))


def main(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    x = torch.randn(1, 3, 20, 20)
    with open(os.path.join(out, "input.f32"), "wb") as f:
        f.write(struct.pack("<%df" % x.numel(), *x.flatten().tolist()))
    for name, make in (("mobile", Mobile), ("plain", Plain)):
        torch.manual_seed(1)
        net = make().eval()
        for m in net.modules():   # batchnorm statistics that are not the identity
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5), m.running_var.uniform_(0.5, 2)
                m.weight.data.uniform_(0.5, 1.5), m.bias.data.uniform_(-0.2, 0.2)
        with torch.no_grad():
            y = net(x)
        with open(os.path.join(out, name + ".logits.f32"), "wb") as f:
            f.write(struct.pack("<%df" % y.numel(), *y.flatten().tolist()))
        for opset in (11, 13, 17):
            kw = {"training": torch.onnx.TrainingMode.PRESERVE} if opset == 13 else {}
            torch.onnx.export(net, x, os.path.join(out, "%s-%d.onnx" % (name, opset)), opset_version=opset, **kw)
        print(name, "logits", [round(v, 4) for v in y.flatten().tolist()])


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "onnx"))
