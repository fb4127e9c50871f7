"""tests/models/worked_examples.py — the article's two worked examples
(docs/NUMERICS.md, the worked examples) as the article writes them, as --module
factories for tools/cnncam-convert:

example1(): X is a 1-channel 3x3 input; conv 1->1, 2x2, no bias, weight
            [[1,0],[1,2]]; flatten; linear 4->2, no bias, [[0,1,0,1],[1,0,1,1]].
            It works at 3x3 only (the flatten must give 4 features):
                tools/cnncam-convert --module tests/models/worked_examples.py:example1 \\
                    --input-size 1,3,3 --mean 0 --std 1 --labels L.txt --layer conv -o e1.ccm
            Conv out [[4,7],[5,6]], logits [13,15]; from logit 0,
            d/d(conv out) = [[0,1],[0,1]] and d/dX = [[0,1,0],[0,2,2],[0,1,2]].
example2(): A is a 2-channel 3x3 input (A1, A2); 'features' stands for the
            CNN extractor's last activation (a ReLU: A >= 0, so it passes A
            unchanged and dy/d(its output) is the gradient at A); global
            average pool, flatten, linear 2->1 [3,-6], no bias:
                --input-size 2,3,3 --mean 0 0 --std 1 1 --layer features
            dy/dA = [3, -6] / 9 per channel, channel weights [1/3, -2/3], raw
            map ReLU(1/3 A1 - 2/3 A2) = [[1/3,0,2/3],[0,1,0],[0,1/3,0]].
"""
import torch
import torch.nn as nn

X = [[1, 2, 3], [1, 1, 2], [2, 1, 2]]
A1 = [[1, 0, 2], [3, 5, 0], [1, 1, 1]]
A2 = [[0, 1, 0], [3, 1, 0], [1, 0, 1]]


class Example1(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 2, bias=False)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(4, 2, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor([[[[1.0, 0.0], [1.0, 2.0]]]]))
            self.fc.weight.copy_(torch.tensor([[0.0, 1, 0, 1], [1, 0, 1, 1]]))

    def forward(self, x):
        return self.fc(self.flatten(self.conv(x)))


class Example2(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(2, 1, bias=False)
        with torch.no_grad():
            self.fc.weight.copy_(torch.tensor([[3.0, -6.0]]))

    def forward(self, x):
        return self.fc(self.flatten(self.pool(self.features(x))))


def example1():
    return Example1()


def example2():
    return Example2()
