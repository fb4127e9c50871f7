"""tests/models/guided_net.py — a small net whose activations are spelled every way
that guided backpropagation and FullGrad tell apart, as a --module factory for
tests/gen_guided_fixtures.py and tests/test_converter.py.

build(): nn.ReLU modules (one of them called twice: 'act', 'act:2'), an F.relu
and a torch.relu call in forward (not nn.ReLU modules, so pytorch-grad-cam's
guided backprop leaves them alone: nodes 'relu' and 'relu:2'), ReLU6 and
Hardswish modules (not patched either), Conv2d with and without a bias and
BatchNorm2d with and without affine (FullGrad's bias layers are the exact
Conv2d/BatchNorm2d modules with a bias: conv1, bn1, conv3, conv4), a max pool,
a residual add and a linear head. Takes 1 x 3 x H x W at any even size; 5
classes. Parameters and batchnorm statistics are seeded, so the module's own
parameters are what converts.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

CLASSES = 5
# What tools/cnncam-convert stores in metadata node.module, in node order.
NODE_MODULES = ["Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d", "", "MaxPool2d", "Conv2d", "ReLU",
                "", "ReLU6", "Conv2d", "", "Hardswish", "AdaptiveAvgPool2d", "", "Linear"]
GUIDED = ["act", "act:2"]              # the nodes guided backprop patches
BIAS_LAYERS = ["conv1", "bn1", "conv3", "conv4"]
LAYER = "hs"                           # the Grad-CAM layer the fixtures explain


class GuidedNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.act = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8, affine=False)
        self.pool = nn.MaxPool2d(2)
        self.conv3 = nn.Conv2d(8, 8, 3, padding=1)
        self.act6 = nn.ReLU6()
        self.conv4 = nn.Conv2d(8, 12, 1)
        self.hs = nn.Hardswish()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(12, CLASSES)

    def forward(self, x):
        x = self.act(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = self.pool(x)
        x = self.act(self.conv3(x)) + x
        x = torch.relu(self.conv4(self.act6(x)))
        x = self.hs(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


def build():
    torch.manual_seed(20261203)
    m = GuidedNet()
    with torch.no_grad():
        for bn in (m.bn1, m.bn2):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
        m.bn1.weight.uniform_(0.5, 1.5)
        m.bn1.bias.uniform_(-0.3, 0.3)
    return m.eval()
