#!/usr/bin/python3
"""examples/train/train.py — trains cnncam's demo model from scratch: a
multi-label classifier (one logit per Fashion-MNIST class, BCEWithLogitsLoss)
on the scenes of examples/scenes/scenes.py, generated on the fly.

    examples/train/train.py --out build/train            # ~40 min on 2 cores
    tools/cnncam-convert --module examples/train/model.py:build \\
        --weights build/train/model.pth --labels examples/train/classes.txt \\
        --multi-label --dtype f16 -o models/fashion_scenes.ccm

The bias experiment's pair (examples/bias/, models/bias/) adds --dilated
(model.py's build_dilated) to both, and --cue 2:square to the biased one.

Data: epoch e trains on training-split scenes e*N .. e*N+N-1 (N = --scenes),
so no scene is seen twice and the augmentation is the generator's. The first
--low-res-epochs epochs use 128 x 128 scenes (the same scenes at a smaller
size: ~2x the images per second; the network is fully convolutional up to its
global pool), the rest 192 x 192, the size the model is evaluated at. The held-out
set is test-split scenes 0 .. --eval-scenes-1 (Fashion-MNIST's t10k objects),
generated once. Inputs are RGB in [0, 1] normalised with MEAN/STD (ImageNet's,
the converter's default); the converter must be given the same.

After every epoch the log gets the training loss, and on the held-out set the
loss, the exact-match accuracy (the set of logits > 0 equals the scene's set of
classes), the top-n accuracy (the n best logits are the scene's n classes),
per-class F1 (logit > 0) and average precision, and their means (mAP); the
weights are saved (OUT/model.pth, a state_dict) with a resumable checkpoint
(OUT/checkpoint.pth, --resume).

Reproducible from --seed: the scenes are functions of (seed, index), the model
initialisation and dropout come from torch.manual_seed, the data order is
fixed and the number of threads and workers is fixed (results can still differ
in the last bits on another CPU or BLAS).
"""
import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scenes"))
sys.path.insert(0, HERE)
import scenes  # noqa: E402
import metrics  # noqa: E402
import model as model_def  # noqa: E402

ARCHS = ("mobilenet_v3_small", "vit", "swin")
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


class SceneData(torch.utils.data.Dataset):
    """Scenes of one split as (uint8 3 x S x S tensor, float target)."""

    def __init__(self, split, seed, cue=None, size=scenes.SIZE):
        self.args = (split, seed, cue, size)
        self.gen = None                   # built lazily, once per worker

    def __len__(self):
        return 1 << 31

    def __getitem__(self, i):
        if self.gen is None:
            split, seed, cue, size = self.args
            self.gen = scenes.Scenes(split, seed, size=size, cue=cue)
        s = self.gen[i]
        return torch.from_numpy(s["image"]).permute(2, 0, 1).contiguous(), torch.from_numpy(s["target"])


class Range(torch.utils.data.Sampler):
    def __init__(self, start, count):
        self.start, self.count = start, count

    def __iter__(self):
        return iter(range(self.start, self.start + self.count))

    def __len__(self):
        return self.count


def normalise(x):
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (x.float() / 255.0 - mean) / std


def prepare(x, cnn):
    """Normalised float input; channels_last for the CNN (~1.4x faster on CPU), as is otherwise."""
    x = normalise(x)
    return x.contiguous(memory_format=torch.channels_last) if cnn else x


def evaluate(net, images, targets, batch=100, cnn=True):
    net.eval()
    logits = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            logits.append(net(prepare(images[i:i + batch], cnn)))
    net.train()
    logits = torch.cat(logits)
    loss = F.binary_cross_entropy_with_logits(logits, targets).item()
    m = metrics.multilabel(logits.numpy(), targets.numpy())
    return dict(m, loss=loss)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="build/train", help="output directory (default build/train)")
    p.add_argument("--seed", type=int, default=1, help="seed of the model and of the training scenes")
    p.add_argument("--epochs", type=int, default=16)
    p.add_argument("--scenes", type=int, default=12800, help="training scenes per epoch (default 12800)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate of the one-cycle schedule")
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--eval-scenes", type=int, default=1000, help="held-out (test-split) scenes")
    p.add_argument("--eval-seed", type=int, default=0, help="seed of the held-out scenes")
    p.add_argument("--cue", metavar="K:MARK", help="biased training set (scenes.py --cue)")
    p.add_argument("--dilated", action="store_true",
                   help="model.py's build_dilated(): output stride 16, a 12 x 12 Grad-CAM map at 192 px")
    p.add_argument("--arch", choices=ARCHS, default="mobilenet_v3_small",
                   help="mobilenet_v3_small (the demo CNN, default), vit (model.py's build_vit: the seed "
                   "article's ViT structure, tests/models/vit_like.py) or swin (build_swin: its Swin, "
                   "tests/models/swin_like.py); the transformers take 192 x 192 only, so they force "
                   "--low-res-epochs 0")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--low-res", type=int, default=128, metavar="S", help="scene size of the first epochs")
    p.add_argument("--low-res-epochs", type=int, default=6, metavar="N",
                   help="train the first N epochs on S x S scenes (progressive resizing), the rest at %d"
                   % scenes.SIZE)
    p.add_argument("--workers", type=int, default=0,
                   help="DataLoader workers generating scenes (default 0: on 2 cores, a worker "
                   "competes with the 2 math threads and is slower)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pth")
    a = p.parse_args(argv)
    cue = None
    if a.cue:
        k, _, mark = a.cue.partition(":")
        cue = (int(k), mark)

    cnn = a.arch == "mobilenet_v3_small"
    if not cnn and a.low_res_epochs:
        print("# --arch %s: fixed input size, --low-res-epochs %d -> 0" % (a.arch, a.low_res_epochs))
        a.low_res_epochs = 0
    if a.dilated and not cnn:
        p.error("--dilated is for --arch mobilenet_v3_small only")

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    os.makedirs(a.out, exist_ok=True)
    log_path = os.path.join(a.out, "train.log")
    log_file = open(log_path, "a" if a.resume else "w")

    def log(msg):
        print(msg, flush=True)
        log_file.write(msg + "\n")
        log_file.flush()

    if a.arch == "vit":
        net = model_def.build_vit()
        desc = "model.py build_vit(): tests/models/vit_like.py VisionTransformer(%s) from scratch" % (
            ", ".join("%s=%s" % kv for kv in model_def.VIT_CONFIG.items()))
    elif a.arch == "swin":
        net = model_def.build_swin()
        desc = "model.py build_swin(): tests/models/swin_like.py SwinTransformer(%s) from scratch" % (
            ", ".join("%s=%s" % kv for kv in model_def.SWIN_CONFIG.items()))
    else:
        net = model_def.build_dilated() if a.dilated else model_def.build()
        net = net.to(memory_format=torch.channels_last)   # ~1.4x faster on CPU
        desc = "torchvision mobilenet_v3_small(num_classes=10%s) from scratch" % (
            ", dilated=True" if a.dilated else "")
    steps_per_epoch = a.scenes // a.batch
    opt = torch.optim.AdamW(net.parameters(), lr=a.lr, weight_decay=a.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=a.epochs * steps_per_epoch,
                                                pct_start=0.15)
    first = 0
    ckpt_path = os.path.join(a.out, "checkpoint.pth")
    if a.resume:
        ck = torch.load(ckpt_path)
        net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        torch.set_rng_state(ck["rng"])
        first = ck["epoch"] + 1
        log("# resumed after epoch %d from %s, %d threads" % (ck["epoch"] + 1, ckpt_path, a.threads))
    else:
        log("# cnncam %s model: examples/train/train.py %s"
            % ("demo" if cnn else a.arch, " ".join(argv if argv is not None else sys.argv[1:])))
        log("# torch %s, torchvision %s, numpy %s, %d threads, %d scene workers"
            % (torch.__version__, __import__("torchvision").__version__, np.__version__, a.threads, a.workers))
        log("# model: %s, %d parameters" % (desc, sum(q.numel() for q in net.parameters())))
        log("# data: scenes.py %d px, train split (Fashion-MNIST train objects) seed %d, %d new scenes "
            "per epoch x %d epochs (the first %d at %d px); held-out: test split (t10k objects) "
            "seed %d, scenes 0-%d at %d px%s"
            % (scenes.SIZE, a.seed, a.scenes, a.epochs, a.low_res_epochs, a.low_res, a.eval_seed,
               a.eval_scenes - 1, scenes.SIZE, "; cue %s" % a.cue if cue else ""))
        log("# input: RGB/255 normalised with mean %s std %s" % (list(MEAN), list(STD)))
        log("# optimiser: AdamW lr %g (one-cycle, 15%% warm-up) weight decay %g, batch %d, "
            "BCEWithLogitsLoss" % (a.lr, a.weight_decay, a.batch))
        log("# classes: %s" % ", ".join("%d %s" % kv for kv in enumerate(scenes.CLASSES)))

    t0 = time.time()
    held = SceneData("test", a.eval_seed)
    pairs = [held[i] for i in range(a.eval_scenes)]
    eval_x = torch.stack([x for x, _ in pairs])
    eval_y = torch.stack([y for _, y in pairs])
    del pairs
    log("# held-out set generated in %.0f s" % (time.time() - t0))

    t_start = time.time()
    for epoch in range(first, a.epochs):
        t_epoch = time.time()
        size = a.low_res if epoch < a.low_res_epochs else scenes.SIZE
        train = SceneData("train", a.seed, cue, size)
        loader = torch.utils.data.DataLoader(
            train, batch_size=a.batch, sampler=Range(epoch * a.scenes, steps_per_epoch * a.batch),
            num_workers=a.workers, worker_init_fn=lambda _: torch.set_num_threads(1),
            drop_last=True, prefetch_factor=4 if a.workers else 2)
        net.train()
        total, seen = 0.0, 0
        for step, (x, y) in enumerate(loader):
            logits = net(prepare(x, cnn))
            loss = F.binary_cross_entropy_with_logits(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(x)
            seen += len(x)
            if step % 100 == 0:
                print("  epoch %d (%d px) step %d/%d loss %.4f lr %.2e %.1f img/s"
                      % (epoch + 1, size, step, steps_per_epoch, total / seen, sched.get_last_lr()[0],
                         seen / (time.time() - t_epoch)), flush=True)
        train_time = time.time() - t_epoch
        m = evaluate(net, eval_x, eval_y, cnn=cnn)
        log("epoch %2d  %d px  train loss %.4f  held-out loss %.4f  exact-match %.3f  top-n %.3f  "
            "mean F1 %.3f  mAP %.3f  (%.0f s, %.1f img/s, total %.1f min)"
            % (epoch + 1, size, total / seen, m["loss"], m["exact"], m["topn"], m["f1"].mean(),
               np.nanmean(m["ap"]), time.time() - t_epoch, seen / train_time,
               (time.time() - t_start) / 60))
        log("          F1: %s" % "  ".join("%s %.2f" % (c, v) for c, v in zip(scenes.CLASSES, m["f1"])))
        log("          AP: %s" % "  ".join("%s %.2f" % (c, v) for c, v in zip(scenes.CLASSES, m["ap"])))
        tmp = os.path.join(a.out, "model.pth.tmp")
        torch.save(net.state_dict(), tmp)
        os.replace(tmp, os.path.join(a.out, "model.pth"))
        torch.save({"model": net.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                    "rng": torch.get_rng_state(), "epoch": epoch}, ckpt_path + ".tmp")
        os.replace(ckpt_path + ".tmp", ckpt_path)
    log("# done: %d epochs in %.1f min; weights %s" % (a.epochs - first, (time.time() - t_start) / 60,
                                                      os.path.join(a.out, "model.pth")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
