"""tests/models/swin_like.py — a Swin Transformer with shape-dependent Python, as --module factories.

The same structure and state_dict keys as the article's swin_model.py (Microsoft's Swin with
dynamic padding), which symbolic tracing cannot follow:
  * tokens stay [B, L, C]; each block views them as [B, H, W, C] with H, W set on the
    block by its stage, pads right/bottom to a multiple of the window (F.pad), rolls by
    -window/2 in odd blocks, partitions into windows with rank-6 views and a permute,
    attends, reverses, rolls back and crops the padding (x[:, :H, :W, :]);
  * each stage builds its attention mask in Python: padded sizes from np.ceil, a
    torch.zeros region map filled by slice assignment, partitioned, differenced and
    turned into 0 / -100;
  * window attention adds a relative-position bias gathered from a table by a buffer
    of indices, and the mask through a rank-5 view; q is scaled before q @ k^T;
  * patch merging takes the four strided slices x[:, i::2, j::2, :] (padding odd sizes)
    and concatenates them before LayerNorm(4C) and a bias-free Linear(4C -> 2C);
  * the head: LayerNorm, AdaptiveAvgPool1d over the tokens, flatten, Linear.
Drop paths at eval and p = 0 dropouts are identities, as in the article's model.

build():                        small (4x4 patches, window 7, 16 dims, depths 2-2-2, heads 1-2-4,
                                10 classes): at 56 x 56 the first two stages need no padding and
                                the last pads 4 -> 7; at 64 x 64 every stage pads
swin_base_patch4_window7_224(): the article's Swin-B configuration (128 dims, 2-2-18-2, 4-8-16-32)
Weights are random (the caller seeds torch).
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from vit_like import DropPath, randomise  # (shared with the ViT-like model; tests/models on sys.path)


def window_partition(x, ws):
    """[B, H, W, C] -> [B * H/ws * W/ws, ws, ws, C], windows in row-major order."""
    b, h, w, c = x.shape
    x = x.view(b, h // ws, ws, w // ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return x.contiguous().view(-1, ws, ws, c)


def window_reverse(windows, ws, h, w):
    """The inverse of window_partition for an H x W map."""
    b = int(windows.shape[0] / (h * w / ws / ws))
    x = windows.view(b, h // ws, w // ws, ws, ws, -1).permute(0, 1, 3, 2, 4, 5)
    return x.contiguous().view(b, h, w, -1)


class PatchEmbed(nn.Module):
    def __init__(self, patch_size, in_c, embed_dim):
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_c, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, x):
        _, _, h, w = x.shape
        p = self.patch_size
        if h % p != 0 or w % p != 0:
            x = F.pad(x, (0, (p - w % p) % p, 0, (p - h % p) % p, 0, 0))
        x = self.proj(x)
        _, _, h, w = x.shape
        return self.norm(x.flatten(2).transpose(1, 2)), h, w


class PatchMerging(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)

    def forward(self, x, h, w):
        b, length, c = x.shape
        assert length == h * w, f"{length} tokens for a {h}x{w} map"
        x = x.view(b, h, w, c)
        if h % 2 == 1 or w % 2 == 1:
            x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        quarters = [x[:, i::2, j::2, :] for j in (0, 1) for i in (0, 1)]    # x0, x1, x2, x3
        x = torch.cat(quarters, -1).view(b, -1, 4 * c)
        return self.reduction(self.norm(x))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.drop1 = nn.Dropout(0.0)
        self.fc2 = nn.Linear(hidden, dim)
        self.drop2 = nn.Dropout(0.0)

    def forward(self, x):
        return self.drop2(self.fc2(self.drop1(self.act(self.fc1(x)))))


def relative_position_index(ws):
    """[ws*ws, ws*ws]: (dy + ws - 1) * (2 ws - 1) + (dx + ws - 1) for each pair of tokens."""
    ys, xs = torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing="ij")
    ys, xs = ys.flatten(), xs.flatten()
    dy = ys[:, None] - ys[None, :]
    dx = xs[:, None] - xs[None, :]
    return (dy + ws - 1) * (2 * ws - 1) + (dx + ws - 1)


class WindowAttention(nn.Module):
    def __init__(self, dim, window_size, num_heads):
        super().__init__()
        self.window_size = window_size
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, num_heads))
        self.register_buffer("relative_position_index", relative_position_index(window_size))
        self.qkv = nn.Linear(dim, 3 * dim)
        self.attn_drop = nn.Dropout(0.0)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(0.0)
        self.softmax = nn.Softmax(dim=-1)

    def forward(self, x, mask=None):
        b_, n, c = x.shape
        heads = self.num_heads
        qkv = self.qkv(x).reshape(b_, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)].view(n, n, -1)
        attn = attn + bias.permute(2, 0, 1).contiguous().unsqueeze(0)
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.view(b_ // nw, nw, heads, n, n) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, heads, n, n)
        attn = self.attn_drop(self.softmax(attn))
        x = (attn @ v).transpose(1, 2).reshape(b_, n, c)
        return self.proj_drop(self.proj(x))


class SwinTransformerBlock(nn.Module):
    def __init__(self, dim, num_heads, window_size, shift_size, mlp_ratio, drop_path):
        super().__init__()
        assert 0 <= shift_size < window_size
        self.window_size, self.shift_size = window_size, shift_size
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window_size, num_heads)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.H = self.W = None          # set by the stage before each call

    def forward(self, x, attn_mask):
        h, w, ws, s = self.H, self.W, self.window_size, self.shift_size
        b, length, c = x.shape
        assert length == h * w, f"{length} tokens for a {h}x{w} map"
        shortcut = x
        x = self.norm1(x).view(b, h, w, c)
        pad_r = (ws - w % ws) % ws
        pad_b = (ws - h % ws) % ws
        x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
        _, hp, wp, _ = x.shape
        if s > 0:
            x = torch.roll(x, shifts=(-s, -s), dims=(1, 2))
        else:
            attn_mask = None
        windows = window_partition(x, ws).view(-1, ws * ws, c)
        windows = self.attn(windows, mask=attn_mask).view(-1, ws, ws, c)
        x = window_reverse(windows, ws, hp, wp)
        if s > 0:
            x = torch.roll(x, shifts=(s, s), dims=(1, 2))
        if pad_r > 0 or pad_b > 0:
            x = x[:, :h, :w, :].contiguous()
        x = shortcut + self.drop_path(x.view(b, h * w, c))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class BasicLayer(nn.Module):
    """One stage: blocks alternating plain and shifted windows, then patch merging."""

    def __init__(self, dim, depth, num_heads, window_size, mlp_ratio, drop_paths, downsample):
        super().__init__()
        self.window_size = window_size
        self.shift_size = window_size // 2
        self.blocks = nn.ModuleList([
            SwinTransformerBlock(dim, num_heads, window_size, 0 if i % 2 == 0 else self.shift_size, mlp_ratio,
                                 drop_paths[i])
            for i in range(depth)])
        self.downsample = PatchMerging(dim) if downsample else None

    def create_mask(self, x, h, w):
        """[nW, ws*ws, ws*ws]: 0 between tokens of one region of the rolled map, -100 across."""
        ws, s = self.window_size, self.shift_size
        hp = int(np.ceil(h / ws)) * ws
        wp = int(np.ceil(w / ws)) * ws
        regions = torch.zeros((1, hp, wp, 1), device=x.device)
        bands = (slice(0, -ws), slice(-ws, -s), slice(-s, None))
        label = 0
        for rows in bands:
            for cols in bands:
                regions[:, rows, cols, :] = label
                label += 1
        ids = window_partition(regions, ws).view(-1, ws * ws)
        diff = ids.unsqueeze(1) - ids.unsqueeze(2)
        return diff.masked_fill(diff != 0, float(-100.0)).masked_fill(diff == 0, float(0.0))

    def forward(self, x, h, w):
        mask = self.create_mask(x, h, w)
        for blk in self.blocks:
            blk.H, blk.W = h, w
            x = blk(x, mask)
        if self.downsample is not None:
            x = self.downsample(x, h, w)
            h, w = (h + 1) // 2, (w + 1) // 2
        return x, h, w


class SwinTransformer(nn.Module):
    def __init__(self, patch_size=4, in_chans=3, num_classes=10, embed_dim=16, depths=(2, 2, 2),
                 num_heads=(1, 2, 4), window_size=7, mlp_ratio=4.0, drop_path_rate=0.1):
        super().__init__()
        self.patch_embed = PatchEmbed(patch_size, in_chans, embed_dim)
        self.pos_drop = nn.Dropout(0.0)
        rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.layers = nn.ModuleList()
        for i, depth in enumerate(depths):
            start = sum(depths[:i])
            self.layers.append(BasicLayer(embed_dim * 2 ** i, depth, num_heads[i], window_size, mlp_ratio,
                                          rates[start:start + depth], downsample=i < len(depths) - 1))
        self.num_features = embed_dim * 2 ** (len(depths) - 1)
        self.norm = nn.LayerNorm(self.num_features)
        self.avgpool = nn.AdaptiveAvgPool1d(1)
        self.head = nn.Linear(self.num_features, num_classes)
        randomise(self)

    def forward(self, x):
        x, h, w = self.patch_embed(x)
        x = self.pos_drop(x)
        for layer in self.layers:
            x, h, w = layer(x, h, w)
        x = self.avgpool(self.norm(x).transpose(1, 2))
        return self.head(torch.flatten(x, 1))


def build(**kwargs):
    """The small test configuration; any SwinTransformer keyword overrides it."""
    return SwinTransformer(**kwargs)


def swin_base_patch4_window7_224(num_classes=1000, **kwargs):
    """The article's Swin-B configuration (its state_dict keys and shapes)."""
    return SwinTransformer(patch_size=4, window_size=7, embed_dim=128, depths=(2, 2, 18, 2),
                           num_heads=(4, 8, 16, 32), num_classes=num_classes, **kwargs)
