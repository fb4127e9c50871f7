#!/usr/bin/python3
"""The Python package's native API (python/cnncam) against the CLI and
against what its contract says.

  parity     Model.explain / predict / guided_backprop / prepare + overlay on
             the same photos, methods, layers, classes and thread count as
             `cnncam cam` / `cnncam predict`: maps, logits, activations,
             gradients, channel weights, raw maps, guided gradients and
             overlay pixels bit for bit (np.array_equal) with the CLI's
             .npy and .png files
  batch      a list of images in one call against one call per image
  bad input  wrong dtype, wrong rank, non-contiguous arrays, a closed model,
             a layer that does not exist, bad classes, methods and options,
             missing, truncated and corrupt files: each its exception type
             with cnncam's message; the model keeps working afterwards
  threads    four Python threads sharing one Model (eight calls each, mixed
             methods and images) give the maps one thread gives; the GIL is
             released while a run computes (another thread keeps counting);
             progress reaches the callback
  install    `pip install --no-build-isolation ./python` into a virtual
             environment and `make install-python DESTDIR=...` each give a
             package that, imported from outside the tree, explains the
             photo as the tree's package does

Usage: tests/test_python.py [--no-install]
"""
import os
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))
from tally import check, run  # noqa: E402

import cnncam  # noqa: E402

BUILD = os.path.join(ROOT, os.environ.get("CNNCAM_BUILD", "build"))
CNNCAM = os.path.join(BUILD, "cnncam")
CONVERT = os.path.join(ROOT, "tools", "cnncam-convert")
IMAGES = os.path.join(ROOT, "assets", "images")
THREADS = 2


def cli(*args):
    p = subprocess.run([CNNCAM, *map(str, args)], capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError("cnncam %s: exit %d\n%s" % (" ".join(map(str, args)), p.returncode, p.stderr))
    return p.stdout


def small_photo(workdir, name, size):
    """A repository photo at a small size (quick perturbation methods), as a PNG."""
    path = os.path.join(workdir, os.path.splitext(name)[0] + "_%dx%d.png" % size)
    Image.open(os.path.join(IMAGES, name)).convert("RGB").resize(size, Image.BILINEAR).save(path)
    return path


def same(name, got, want):
    if got is None or want is None:
        return check(name, got is None and want is None, "one of the two is missing")
    if got.shape != want.shape or got.dtype != want.dtype:
        return check(name, False, "%s %s against %s %s" % (got.shape, got.dtype, want.shape, want.dtype))
    d = float(np.abs(got.astype(np.float64) - want.astype(np.float64)).max()) if got.size else 0.0
    return check("%s: identical" % name, np.array_equal(got, want, equal_nan=True), "max|d| %.3g" % d)


def check_parity(model_path, workdir):
    m = cnncam.Model(model_path)
    out = os.path.join(workdir, "out")
    os.makedirs(out, exist_ok=True)
    f = {k: os.path.join(out, k + ext) for k, ext in
         [("map", ".npy"), ("logits", ".npy"), ("act", ".npy"), ("grad", ".npy"), ("w", ".npy"),
          ("raw", ".npy"), ("png", ".png"), ("guided", ".npy")]}
    photo = small_photo(workdir, "chelsea.png", (96, 72))
    # (label, image, CLI options, explain keywords)
    cases = [
        ("gradcam, photo at its own size", photo, [], {}),
        ("gradcam, resize 80 crop 64x56", os.path.join(IMAGES, "coffee.png"),
         ["--resize", "80", "--crop", "64x56"], {"resize": 80, "crop": (64, 56)}),
        ("gradcam, EXIF orientation 6", os.path.join(ROOT, "tests", "data", "img", "exif_orient6.jpg"), [], {}),
        ("gradcam, EXIF ignored", os.path.join(ROOT, "tests", "data", "img", "exif_orient6.jpg"),
         ["--no-exif-orientation"], {"exif_orientation": False}),
        ("gradcam++ class 'tabby'", photo, ["-c", "tabby"], {"classes": "tabby"}),
        ("layercam at layer3, class 7", photo, ["-l", "layer3", "-c", "7"], {"layers": "layer3", "classes": 7}),
        ("gradcam at layer3 + layer4", photo, ["-l", "layer3", "-l", "layer4"], {"layers": ["layer3", "layer4"]}),
        ("scorecam, batch 7", photo, ["--batch-size", "7"], {"batch_size": 7}),
        ("ablationcam, ratio 0.5", photo, ["--ablation-ratio", "0.5"], {"ablation_ratio": 0.5}),
        ("eigencam, LAPACK's sign", photo, ["--eigen-sign", "lapack"], {"eigen_sign": "lapack"}),
        ("fullgrad, target rest", photo, ["--target", "rest"], {"target": "rest"}),
        ("xgradcam, aug-smooth, eigen-smooth", photo, ["--aug-smooth", "--eigen-smooth"],
         {"aug_smooth": True, "eigen_smooth": True}),
        ("kpcacam rbf", photo, ["--kpca-kernel", "rbf"], {"kpca_kernel": "rbf"}),
        ("randomcam seed 3", photo, ["--seed", "3"], {"seed": 3}),
    ]
    methods = {"gradcam++": 4, "layercam": 5, "scorecam": 7, "ablationcam": 8, "eigencam": 9, "fullgrad": 10,
               "xgradcam": 11, "kpcacam": 12, "randomcam": 13}
    for i, (label, image, opts, kw) in enumerate(cases):
        method = next((k for k, j in methods.items() if j == i), "gradcam")
        for p in f.values():
            if os.path.exists(p):
                os.remove(p)
        # What each method gives at its layer (docs/METHODS.md; the CLI refuses to write the others).
        wants_layer = method != "fullgrad"
        extra = ["--act-out", f["act"], "--raw-out", f["raw"]] if wants_layer else []
        if method in ("gradcam", "gradcam++", "xgradcam", "scorecam", "ablationcam", "randomcam"):
            extra += ["--weights-out", f["w"]]
        if method in ("gradcam", "gradcam++", "layercam", "xgradcam"):
            extra += ["--grad-out", f["grad"]]
        cli("cam", "-m", model_path, "--method", method, "--threads", THREADS, "--cam-out", f["map"],
            "--logits-out", f["logits"], "-o", f["png"], *extra, *opts, image)
        e = m.explain(image, method=method, threads=THREADS, intermediates=True, **kw)
        same("%s: map" % label, e.maps[0], np.load(f["map"]))
        same("%s: logits" % label, e.logits, np.load(f["logits"]))
        if wants_layer:
            first = e.layers[next(iter(e.layers))]
            same("%s: activations" % label, first.activations[0], np.load(f["act"]))
            same("%s: channel weights" % label, first.weights[0] if first.weights is not None else None,
                 np.load(f["w"]) if os.path.exists(f["w"]) else None)
            same("%s: raw map" % label, first.raw[0], np.load(f["raw"]))
            same("%s: gradient" % label, first.gradients[0] if first.gradients is not None else None,
                 np.load(f["grad"]) if os.path.exists(f["grad"]) else None)
        prep = {k: v for k, v in kw.items() if k in ("resize", "crop", "exif_orientation")}
        picture = m.prepare(image, **prep)[0]
        same("%s: overlay" % label, cnncam.overlay(picture, e.maps[0]), cnncam.read_image(f["png"]))
        if "classes" in kw:
            check("%s: explained class %d" % (label, e.classes[0]), e.classes[0] == m.class_index(kw["classes"]))
        else:
            check("%s: explained the top class" % label, e.classes[0] == int(np.argmax(e.logits[0])))
    # predict and guided backpropagation
    cli("predict", "-m", model_path, "--threads", THREADS, "--logits-out", f["logits"], photo)
    same("predict: logits", m.predict(photo, threads=THREADS), np.load(f["logits"]))
    for ext, flag in ((False, []), (True, ["--guided-extended"])):
        cli("cam", "-m", model_path, "--threads", THREADS, "-c", "3", "--guided-npy", f["guided"], *flag,
            "--cam-out", f["map"], photo)
        same("guided backprop%s, class 3" % (" extended" if ext else ""),
             m.guided_backprop(photo, classes=3, extended=ext, threads=THREADS)[0], np.load(f["guided"]))
    # a normalised tensor (the CLI's .npy input) is used as is, not copied
    x = m.preprocess(photo)
    np.save(os.path.join(out, "x.npy"), x[0])
    cli("cam", "-m", model_path, "--threads", THREADS, "--cam-out", f["map"], os.path.join(out, "x.npy"))
    same("a float32 tensor input: map", m.explain(x, threads=THREADS)[0], np.load(f["map"]))
    rgb = np.asarray(Image.open(photo).convert("RGB"))
    same("read_image against Pillow", cnncam.read_image(photo), rgb)
    same("a uint8 array input: the photo's map", m.explain(rgb.copy(), threads=THREADS)[0],
         m.explain(photo, threads=THREADS)[0])
    m.close()


def check_batch(model_path, workdir):
    m = cnncam.Model(model_path)
    photos = [small_photo(workdir, n, (64, 48)) for n in ("chelsea.png", "coffee.png", "astronaut.png")]
    for method in ("gradcam", "scorecam", "eigencam"):
        together = m.explain(photos, method=method, threads=THREADS)
        alone = np.stack([m.explain(p, method=method, threads=THREADS)[0] for p in photos])
        d = float(np.abs(together - alone).max())
        # One forward of three images and three of one: the same arithmetic
        # per image, except where a product's blocking depends on the batch.
        check("%s: 3 images in one call = 3 calls (max|d| %.2g)" % (method, d), d <= 1e-6)
    cls = [m.class_index("tabby"), 3, "0"]
    e = m.explain(photos, classes=cls, intermediates=True, threads=THREADS)
    check("classes per image, by label and index: %s" % e.classes.tolist(),
          e.classes.tolist() == [cls[0], 3, 0])
    m.close()


def raises(name, fn, exc, text):
    try:
        fn()
    except exc as e:
        return check("%s: %s(%s)" % (name, exc.__name__, str(e)[:150]), text.lower() in str(e).lower(),
                     "the message lacks %r" % text)
    except Exception as e:
        return check(name, False, "raised %s: %s, not %s" % (type(e).__name__, e, exc.__name__))
    return check(name, False, "no exception")


def check_bad_inputs(model_path, workdir):
    m = cnncam.Model(model_path)
    photo = small_photo(workdir, "chelsea.png", (64, 48))
    x = m.preprocess(photo)
    rgb = cnncam.read_image(photo)
    raises("float64 tensor", lambda: m.explain(x.astype(np.float64)), ValueError, "float32")
    raises("int16 image", lambda: m.explain(rgb.astype(np.int16)), ValueError, "uint8")
    raises("rank-2 float32 array", lambda: m.explain(x[0, 0]), ValueError, "N x C x H x W")
    raises("rank-5 uint8 array", lambda: m.explain(rgb[None, None]), ValueError, "H x W")
    raises("non-contiguous tensor", lambda: m.explain(x[:, :, :, ::2]), ValueError, "C-contiguous")
    raises("non-contiguous image", lambda: m.explain(rgb[:, ::-1]), ValueError, "C-contiguous")
    raises("2-channel image", lambda: m.explain(rgb[:, :, :2].copy()), ValueError, "C = 1, 3 or 4")
    raises("tensor of 4 channels", lambda: m.explain(np.zeros((1, 4, 8, 8), np.float32)), ValueError, "channels")
    raises("layer that does not exist", lambda: m.explain(photo, layers="layer9"), ValueError, "no layer 'layer9'")
    raises("the logits as layer", lambda: m.explain(photo, layers="fc"), ValueError, "logits")
    raises("class 1000", lambda: m.explain(photo, classes=1000), ValueError, "1000")
    raises("class -2", lambda: m.explain(photo, classes=-2), ValueError, "negative")
    raises("unknown label", lambda: m.explain(photo, classes="unicorn"), ValueError, "unicorn")
    raises("2 classes for 1 image", lambda: m.explain(photo, classes=[1, 2]), ValueError, "2 classes for 1")
    raises("unknown method", lambda: m.explain(photo, method="gradcam3"), ValueError, "gradcam3")
    raises("an option gradcam does not take", lambda: m.explain(photo, batch_size=4), ValueError, "batch")
    raises("batch_size 0", lambda: m.explain(photo, method="scorecam", batch_size=0), ValueError, "batch_size")
    raises("unknown target", lambda: m.explain(photo, target="prob"), ValueError, "target")
    raises("threads 0", lambda: m.explain(photo, threads=0), ValueError, "threads")
    raises("unknown keyword", lambda: m.explain(photo, rezise=5), TypeError, "rezise")
    raises("resize of a tensor", lambda: m.explain(x, resize=32), ValueError, "as is")
    raises("images of two sizes", lambda: m.explain([photo, small_photo(workdir, "coffee.png", (40, 40))]),
           ValueError, "different sizes")
    raises("no images", lambda: m.explain([]), ValueError, "no images")
    raises("missing image", lambda: m.explain(os.path.join(workdir, "nope.png")), OSError, "nope.png")
    corrupt = os.path.join(workdir, "corrupt.jpg")
    with open(os.path.join(IMAGES, "rocket.jpg"), "rb") as f:
        data = f.read()
    with open(corrupt, "wb") as f:
        f.write(data[:len(data) // 3])
    raises("truncated JPEG", lambda: m.explain(corrupt), OSError, "corrupt.jpg")
    raises("missing model", lambda: cnncam.Model(os.path.join(workdir, "none.ccm")), OSError, "none.ccm")
    with open(model_path, "rb") as f:
        head = f.read(4096)
    cut = os.path.join(workdir, "cut.ccm")
    with open(cut, "wb") as f:
        f.write(head)
    raises("truncated model", lambda: cnncam.Model(cut), ValueError, "")
    raises("a photo as model", lambda: cnncam.Model(photo), ValueError, "")
    raises("overlay of a wrong-sized map", lambda: cnncam.overlay(rgb, np.zeros((3, 3), np.float32)), ValueError,
           "the map is 3 x 3")
    check("after every refusal the model still explains",
          np.array_equal(m.explain(photo, threads=1), m.explain(photo, threads=1)))
    m.close()
    raises("explain on a closed model", lambda: m.explain(photo), ValueError, "closed")
    raises("predict on a closed model", lambda: m.predict(photo), ValueError, "closed")
    check("closing twice is harmless", m.close() is None and m.closed)


def check_threads(model_path, workdir):
    m = cnncam.Model(model_path, threads=1)
    photos = [small_photo(workdir, n, (64, 48)) for n in ("chelsea.png", "coffee.png", "astronaut.png", "kite.png")]
    jobs = [(photos[i % 4], ("gradcam", "gradcam++", "scorecam", "eigencam")[(i // 4) % 4]) for i in range(32)]
    want = [m.explain(p, method=meth)[0] for p, meth in jobs]
    got = [None] * len(jobs)

    def worker(t):
        for i in range(t, len(jobs), 4):
            got[i] = m.explain(jobs[i][0], method=jobs[i][1])[0]
    ts = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    check("4 Python threads sharing one model, 32 calls: the maps of one thread",
          all(g is not None and np.array_equal(g, w) for g, w in zip(got, want)))
    # The GIL: while one thread runs ScoreCAM, this one keeps counting.
    big = small_photo(workdir, "chelsea.png", (224, 168))
    counts, done = [0], threading.Event()
    seen = []
    t = threading.Thread(target=lambda: (m.explain(big, method="scorecam", progress=lambda d, n: seen.append((d, n))),
                                         done.set()))
    t0 = time.time()
    t.start()
    while not done.is_set():
        counts[0] += 1
    t.join()
    check("the GIL is released during a run: %d counts in %.1f s beside it" % (counts[0], time.time() - t0),
          counts[0] > 10000)
    check("progress: %d calls, the last %s" % (len(seen), seen[-1] if seen else None),
          len(seen) >= 2 and seen[-1][0] == seen[-1][1] and all(a[0] <= b[0] for a, b in zip(seen, seen[1:])))
    m.close()


def check_install(model_path, workdir):
    photo = small_photo(workdir, "chelsea.png", (64, 48))
    want = cnncam.Model(model_path).explain(photo, method="gradcam++", threads=1)
    probe = ("import sys, numpy as np, cnncam, cnncam_convert, cnncam.compat; "
             "assert 'site-packages' in cnncam.__file__ or 'dist-packages' in cnncam.__file__, cnncam.__file__; "
             "np.save(sys.argv[2], cnncam.Model(sys.argv[1]).explain(sys.argv[3], method='gradcam++', threads=1))")
    env = dict(os.environ, CNNCAM_BUILD=os.path.abspath(BUILD))
    env.pop("PYTHONPATH", None)
    venv = os.path.join(workdir, "venv")
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", venv], check=True)
    p = subprocess.run([os.path.join(venv, "bin", "python"), "-m", "pip", "install", "-q", "--no-build-isolation",
                        "--no-index", "--no-deps", "./python"], cwd=ROOT, capture_output=True, text=True, env=env)
    if check("pip install --no-build-isolation ./python into a venv", p.returncode == 0, p.stderr[-2000:]):
        out = os.path.join(workdir, "venv_map.npy")
        p = subprocess.run([os.path.join(venv, "bin", "python"), "-c", probe, model_path, out, photo],
                           cwd=workdir, capture_output=True, text=True, env=env)
        check("the venv's package explains as the tree's does", p.returncode == 0 and
              np.array_equal(np.load(out), want), p.stderr[-2000:])
        dask = subprocess.run([os.path.join(venv, "bin", "cnncam-dask"), "--help"], capture_output=True, text=True)
        check("the venv has the cnncam-dask command", dask.returncode == 0 and "usage" in dask.stdout.lower(),
              dask.stderr[-500:])
    dest = os.path.join(workdir, "dest")
    p = subprocess.run(["make", "-s", "install-python", "BUILD=" + os.path.abspath(BUILD), "DESTDIR=" + dest,
                        "PREFIX=/usr/local"], cwd=ROOT, capture_output=True, text=True, env=env)
    if check("make install-python DESTDIR=...", p.returncode == 0, p.stderr[-2000:]):
        site = [os.path.join(r, d) for r, ds, _ in os.walk(dest) for d in ds if d in ("dist-packages", "site-packages")]
        out = os.path.join(workdir, "dest_map.npy")
        p = subprocess.run(["/usr/bin/python3", "-c", probe, model_path, out, photo], cwd=workdir,
                           capture_output=True, text=True, env=dict(env, PYTHONPATH=":".join(site)))
        check("the installed package explains as the tree's does (%s)" % ", ".join(
            os.path.relpath(s, dest) for s in site), p.returncode == 0 and np.array_equal(np.load(out), want),
            p.stderr[-2000:])
        path = subprocess.run(["/usr/bin/python3", "-c", "import sys; print(chr(10).join(sys.path))"], env=env,
                              capture_output=True, text=True).stdout.split()
        check("PREFIX=/usr/local puts it on /usr/bin/python3's own sys.path, and cnncam-dask in bin",
              len(site) == 1 and "/" + os.path.relpath(site[0], dest) in path and
              os.access(os.path.join(dest, "usr", "local", "bin", "cnncam-dask"), os.X_OK), str(site))


def main():
    workdir = tempfile.mkdtemp()

    def body():
        model_path = os.path.join(workdir, "resnet18.ccm")
        subprocess.run([CONVERT, "--arch", "resnet18", "--random-init", "--seed", "3", "-o", model_path],
                       check=True, stdout=subprocess.DEVNULL)
        check_parity(model_path, workdir)
        check_batch(model_path, workdir)
        check_bad_inputs(model_path, workdir)
        check_threads(model_path, workdir)
        if "--no-install" not in sys.argv:
            check_install(model_path, workdir)
    return run("python", body, workdir)


if __name__ == "__main__":
    sys.exit(main())
