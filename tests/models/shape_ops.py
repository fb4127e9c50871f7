"""tests/models/shape_ops.py — small models for the shape and resampling ops, as --module factories.

views():      the flattening views in their usual spellings (x.view(x.size(0), -1),
              x.reshape(x.shape[0], -1), x.view(-1, C), x.reshape((N, C)),
              x.view(n, -1) with `n, c, h, w = x.size()`) and the spatial means
              (x.mean((2, 3)), x.mean([2, 3], keepdim=True), torch.mean(x, dim=(-2, -1)),
              F.adaptive_avg_pool2d(x, 1) and (1, 1)).
resampling(): F.interpolate nearest and bilinear (align_corners False and True), by
              size and by scale factor (one that shrinks, one recomputed), nn.Upsample,
              nn.UpsamplingBilinear2d, along three paths of a small U-Net-like decoder.
shuffles():   ShuffleNetV2's pieces: x.chunk(2, dim=1) unpacked, torch.split,
              x[:, a:b], x.narrow, torchvision's channel_shuffle and the same shuffle
              written out (view, transpose, contiguous, view), torch.cat.
bad_views():  what must be refused: a constant batch size, a view that is not a
              flatten, a mean over channels, bicubic resampling.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.shufflenetv2 import channel_shuffle


def _block(cin, cout, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class Views(nn.Module):
    def __init__(self, classes=4):
        super().__init__()
        self.features = nn.Sequential(_block(3, 8, 2), _block(8, 8, 2))
        self.fc = nn.Linear(8, classes)

    def forward(self, x):
        x = self.features(x)
        a = x.mean((2, 3))
        b = x.mean([2, 3], keepdim=True).view(x.size(0), -1)
        c = torch.mean(x, dim=(-2, -1), keepdim=True).reshape(x.shape[0], -1)
        d = F.adaptive_avg_pool2d(x, 1).view(-1, 8)
        e = F.adaptive_avg_pool2d(x, (1, 1)).reshape((x.size(0), x.size(1)))
        n, ch, h, w = x.size()
        f = F.adaptive_avg_pool2d(x, 1).view(n, -1)
        return self.fc(a + b + c + d + e + f)


class Resampling(nn.Module):
    def __init__(self, classes=4):
        super().__init__()
        self.enc1, self.enc2, self.enc3 = _block(3, 8, 2), _block(8, 8, 2), _block(8, 8, 2)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.up_bilinear = nn.UpsamplingBilinear2d(scale_factor=2)
        self.decoder = _block(8, 8)
        self.fc = nn.Linear(8, classes)

    def forward(self, x):
        e1 = self.enc1(x)                       # 1/2
        e2 = self.enc2(e1)                      # 1/4
        e3 = self.enc3(e2)                      # 1/8
        # Odd sizes do not come back to the skip's size, so the paths meet as means.
        a = self.decoder(F.interpolate(self.up(e3), scale_factor=2, mode="bilinear", align_corners=False))
        b = F.interpolate(e2, scale_factor=2.0, mode="nearest")
        c = F.interpolate(F.interpolate(e1, scale_factor=0.5, mode="bilinear", align_corners=True,
                                        recompute_scale_factor=True), scale_factor=1.7, mode="nearest")
        c = self.up_bilinear(F.interpolate(c, scale_factor=0.45, mode="nearest"))
        return self.fc(a.mean((2, 3)) + b.mean((2, 3)) + c.mean((2, 3)))


class FixedSize(nn.Module):
    """Resampling to a fixed size (size=) works at any input size."""

    def __init__(self, classes=4):
        super().__init__()
        self.stem = _block(3, 8, 2)
        self.features = _block(8, 8)
        self.fc = nn.Linear(8, classes)

    def forward(self, x):
        x = self.stem(x)
        x = F.interpolate(x, size=(20, 30), mode="bilinear", align_corners=False) + \
            F.interpolate(x, size=(20, 30), mode="nearest") + \
            F.interpolate(x, size=(20, 30), mode="bilinear", align_corners=True)
        return self.fc(self.features(x).mean((2, 3)))


class Unit(nn.Module):
    """ShuffleNetV2's InvertedResidual, stride 1, with each way of taking channels."""

    def __init__(self, c, how):
        super().__init__()
        self.how = how
        self.branch = _block(c // 2, c // 2)

    def forward(self, x):
        c = x.shape[1] // 2
        if self.how == "chunk":
            x1, x2 = x.chunk(2, dim=1)
        elif self.how == "split":
            x1, x2 = torch.split(x, [c, c], dim=1)
        elif self.how == "index":
            x1, x2 = x[:, :c], x[:, c:]
        else:
            x1, x2 = x.narrow(1, 0, c), x.narrow(1, c, c)
        out = torch.cat((x1, self.branch(x2)), dim=1)
        if self.how in ("chunk", "narrow"):
            return channel_shuffle(out, 2)
        n, ch, h, w = out.size()                # the shuffle written out
        out = out.view(n, 2, ch // 2, h, w)
        out = torch.transpose(out, 1, 2).contiguous()
        return out.view(n, -1, h, w)


class Shuffles(nn.Module):
    def __init__(self, classes=4):
        super().__init__()
        self.stem = _block(3, 12, 2)
        self.stage = nn.Sequential(*[Unit(12, how) for how in ("chunk", "split", "index", "narrow")])
        self.head = _block(12, 16)
        self.fc = nn.Linear(16, classes)

    def forward(self, x):
        x = self.head(self.stage(self.stem(x)))
        a, b, c = torch.split(x, [5, 6, 5], dim=1)          # uneven pieces
        x = torch.cat([c, a, b], dim=1)
        return self.fc(x.mean((2, 3)))


class BadViews(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = _block(3, 8, 2)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        x = self.features(x)
        a = x.view(1, -1)                                   # the batch size as a constant
        b = x.view(x.size(0), 2, -1).sum(1)                 # not a flatten
        c = x.mean(1)                                       # over channels
        d = F.interpolate(x, scale_factor=2, mode="bicubic")
        return self.fc(a[:, :8] + b[:, :8] + c.flatten(1)[:, :8] + d.mean((2, 3)))


def views():
    return Views()


def resampling():
    return Resampling()


def fixed_size():
    return FixedSize()


def shuffles():
    return Shuffles()


def bad_views():
    return BadViews()
