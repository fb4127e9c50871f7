"""tests/models/worked_examples.py — the article's two worked examples
(docs/NUMERICS.md, the worked examples) as models cnncam can run from the
command line, as --module factories for tools/cnncam-convert. The CLI feeds a
network 3 channels, so each model reads the article's numbers from chosen
input channels and ignores the others exactly (zero weights, or a 1x1 conv
that selects channels):

example1(): input channel 0 is the article's X (3x3); conv 3->1, 2x2, no bias,
            weight [[1,0],[1,2]] on channel 0 and zeros on channels 1 and 2;
            adaptive average pool to 2x2; flatten; linear 4->2, no bias,
            [[0,1,0,1],[1,0,1,1]]. The pool is the identity on the 2x2 conv
            output of a 3x3 input (value and gradient); it is there because
            the converter traces every model at 224x224, where the conv output
            must still flatten to 4.
            Conv out [[4,7],[5,6]], logits [13,15]; from logit 0,
            d/d(conv out) = [[0,1],[0,1]] and d/dX = [[0,1,0],[0,2,2],[0,1,2]].
example2(): input channels 0 and 1 are the article's A1 and A2 (3x3); a 1x1
            conv 3->2 with identity weights on channels 0 and 1 ("select") gives
            A; global average pool, flatten, linear 2->1 [3,-6], no bias.
            Channel weights [1/3, -2/3]; raw map [[1/3,0,2/3],[0,1,0],[0,1/3,0]].

    tools/cnncam-convert --module tests/models/worked_examples.py:example1 \\
        --labels L.txt --layer conv -o example1.ccm
"""
import torch
import torch.nn as nn

X = [[1, 2, 3], [1, 1, 2], [2, 1, 2]]
A1 = [[1, 0, 2], [3, 5, 0], [1, 1, 1]]
A2 = [[0, 1, 0], [3, 1, 0], [1, 0, 1]]


class Example1(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 1, 2, bias=False)
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(4, 2, bias=False)
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.weight[0, 0] = torch.tensor([[1.0, 0.0], [1.0, 2.0]])
            self.fc.weight.copy_(torch.tensor([[0.0, 1, 0, 1], [1, 0, 1, 1]]))

    def forward(self, x):
        return self.fc(self.flatten(self.pool(self.conv(x))))


class Example2(nn.Module):
    def __init__(self):
        super().__init__()
        self.select = nn.Conv2d(3, 2, 1, bias=False)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(2, 1, bias=False)
        with torch.no_grad():
            self.select.weight.zero_()
            self.select.weight[0, 0, 0, 0] = 1.0
            self.select.weight[1, 1, 0, 0] = 1.0
            self.fc.weight.copy_(torch.tensor([[3.0, -6.0]]))

    def forward(self, x):
        return self.fc(self.flatten(self.pool(self.select(x))))


def example1():
    return Example1()


def example2():
    return Example2()
