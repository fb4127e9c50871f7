"""tests/models/vit_like.py — a timm-style Vision Transformer, as --module factories.

The same structure and state_dict keys as the article's vit_model.py (a port of timm's
ViT): a patch-embedding conv whose forward asserts the input size, a class token
concatenated in front of the patch tokens, a learned position embedding, pre-norm blocks
x + attn(norm1(x)), x + mlp(norm2(x)) with LayerNorm eps 1e-6, attention from one qkv
linear reshaped to [B, N, 3, heads, d] and permuted to [3, B, heads, N, d], scaled by
d^-0.5 *after* q @ k^T, an MLP with exact GELU, a final norm and the head on the class
token. Dropouts have p = 0 and drop paths are nn.Identity (or, with drop_path > 0, a
module that returns its input at eval), as in the article's model.

build():                  small (64 x 64 input, patch 8, 48 dims, 2 blocks, 3 heads, 10 classes)
vit_base_patch16_224():   the article's ViT-B/16 configuration (224, 16, 768, 12, 12, 1000)
Weights are random (the caller seeds torch), with a non-zero head and class token.
"""
import torch
import torch.nn as nn


class PatchEmbed(nn.Module):
    """[B, 3, H, W] -> [B, (H/p)(W/p), dim]: a p x p conv with stride p, flattened."""

    def __init__(self, img_size, patch_size, in_c, embed_dim):
        super().__init__()
        self.img_size = (img_size, img_size)
        self.grid_size = (img_size // patch_size, img_size // patch_size)
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.proj = nn.Conv2d(in_c, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.norm = nn.Identity()

    def forward(self, x):
        _, _, h, w = x.shape
        assert (h, w) == self.img_size, f"input is {h}x{w}, the model takes {self.img_size[0]}x{self.img_size[1]}"
        tokens = self.proj(x).flatten(2).transpose(1, 2)
        return self.norm(tokens)


class Attention(nn.Module):
    def __init__(self, dim, num_heads, qkv_bias=True):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.attn_drop = nn.Dropout(0.0)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(0.0)

    def forward(self, x):
        b, n, c = x.shape
        heads = self.num_heads
        qkv = self.qkv(x).reshape(b, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        scores = (q @ k.transpose(-2, -1)) * self.scale
        weights = self.attn_drop(scores.softmax(dim=-1))
        mixed = (weights @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj_drop(self.proj(mixed))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(0.0)

    def forward(self, x):
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class DropPath(nn.Module):
    """Stochastic depth per sample; the input itself at eval."""

    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        keep = torch.rand((x.shape[0],) + (1,) * (x.ndim - 1), dtype=x.dtype, device=x.device) >= self.p
        return x * keep / (1.0 - self.p)


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio, drop_path):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class VisionTransformer(nn.Module):
    def __init__(self, img_size=64, patch_size=8, in_c=3, num_classes=10, embed_dim=48, depth=2,
                 num_heads=3, mlp_ratio=4.0, drop_path=0.0):
        super().__init__()
        self.patch_embed = PatchEmbed(img_size, patch_size, in_c, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.patch_embed.num_patches + 1, embed_dim))
        self.pos_drop = nn.Dropout(0.0)
        rates = [drop_path * i / max(depth - 1, 1) for i in range(depth)]
        self.blocks = nn.Sequential(*[Block(embed_dim, num_heads, mlp_ratio, r) for r in rates])
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.pre_logits = nn.Identity()
        self.head = nn.Linear(embed_dim, num_classes)
        randomise(self)

    def forward(self, x):
        x = self.patch_embed(x)
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        x = torch.cat((cls, x), dim=1)
        x = self.pos_drop(x + self.pos_embed)
        x = self.norm(self.blocks(x))
        return self.head(self.pre_logits(x[:, 0]))


def randomise(model):
    """Random weights that keep every path alive: nothing zero, LayerNorm affine
    near 1 and 0, a relative position bias table (swin_like's) of scale 0.5."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            elif p.dim() == 1:
                p.copy_(0.02 * torch.randn_like(p))
            elif name.endswith("relative_position_bias_table"):
                p.copy_(0.5 * torch.randn_like(p))
            else:
                nn.init.trunc_normal_(p, std=0.05)


def build(**kwargs):
    """The small test configuration; any VisionTransformer keyword overrides it."""
    return VisionTransformer(**kwargs)


def vit_base_patch16_224(num_classes=1000, **kwargs):
    """The article's ViT-B/16 configuration (its state_dict keys and shapes)."""
    return VisionTransformer(img_size=224, patch_size=16, num_classes=num_classes, embed_dim=768, depth=12,
                             num_heads=12, **kwargs)
