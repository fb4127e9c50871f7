"""cnncam.dask — explain a dataset of image files on a dask.distributed cluster.

    from cnncam.dask import explain_files
    summary = explain_files("r34.ccm", ["photos/"], "out/", workers=2)       # a LocalCluster
    summary = explain_files("r34.ccm", files, "out/", scheduler="tcp://head:8786")

or from a shell: `cnncam-dask -m r34.ccm -o out/ photos/` (`python3 -m cnncam.dask --help`).

What it does, per image, on a Dask worker: the map (the method's float32 H x W in [0, 1], the
bits `cnncam cam --cam-out` writes for the image with the same settings and thread count) and,
unless overlay=False, the overlay (`cnncam cam -o`'s PNG), both from one forward. The model is
loaded once per worker process (a per-process cache keyed by the model's path, size and
modification time), and the images go to the workers in tasks of batch_size.

The output directory holds:
  <stem>.<hash>.npy, <stem>.<hash>.png   per image: stem = the file's name without its extension,
        hash = the first 16 hex digits of the SHA-256 of its absolute path. Two photos called
        cat.jpg in different folders get different names; the name of an image never depends on
        which other images a run has or on their order (the CLI's numbering by position does), so
        a rerun with a longer or shorter list finds the images done before.
  index.jsonl    one JSON object per image (the only file the client writes; workers never touch
        it, so lines are never interleaved): image (absolute path), files (names in this
        directory), width, height, output (softmax, sigmoid, ...), top (the 5 best classes:
        index, label, logit, probability, as `cnncam cam --json`), explained ([{index, label}]),
        layers, method, target, threads, ms (read, explain, write, total on the worker), worker
        (host:pid); for an image that failed: image, error (cnncam's message), error_type, worker.
  settings.json  what the maps were made with (model path, size and mtime, method, class, layers,
        target, method options, preprocessing, overlay). A run into a directory made with other
        settings is refused (restart=True / --restart starts it over).

Every file is written atomically (a temporary name in the same directory, then os.replace), so a
killed worker leaves a temporary file at worst, never a half-written map (Dask reruns its task on
another worker; the run removes such files when its tasks are over, or the next run does when it
starts, after a run that was itself killed). An image is done when index.jsonl has its
line and its files exist; a rerun skips the images done and retries the ones that failed (their
old error lines are dropped first, so the index keeps one line per image; a corrupt file is then
reported again). A failing image is recorded with its error and the others go on. Only one run
at a time may use a directory (a lock on it says so).

Paths (model, images, output directory) must mean the same files on the client and on every
worker: a shared filesystem when the workers are on other machines, with cnncam installed there.
"""
import argparse
import hashlib
import json
import os
import re
import secrets
import socket
import string
import sys
import threading
import time

import numpy as np

INDEX = "index.jsonl"
SETTINGS = "settings.json"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".npy")
TOP = 5                      # predictions kept per image, as `cnncam cam --json` (default --top)
CHECK_SIZE = (64, 64)        # the settings are tried once on an input of this size (or the model's)
FORMAT = 1                   # of settings.json

# Final names: <stem>.<16 hex>.(npy|png); temporary ones add ".XXXXXX" (6 letters and digits),
# as io/atomic.c does for cnncam.write_image.
_TEMP = re.compile(r"^(.+\.[0-9a-f]{16}\.(npy|png)|%s|%s)\.[A-Za-z0-9]{6}$" % (re.escape(INDEX), re.escape(SETTINGS)))
_ALNUM = string.ascii_letters + string.digits


class SettingsError(ValueError):
    """The model refuses the settings (layer, class, method, options), or the output directory
    was made with other settings: the caller's mistake (the CLI's exit code 1)."""


# --- the worker's side -------------------------------------------------------------------------

_MODELS = {}                 # (path, (size, mtime_ns)) -> cnncam.Model, per worker process
_MODELS_LOCK = threading.Lock()
_LOADS = [0]                 # models loaded by this process (tests check: once per process)
_WORKER = "%s:%d" % (socket.gethostname(), os.getpid())


def _stamp(path):
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


def _model(path, stamp):
    """This process's Model for the file as it was at stamp, loaded on first use. A model file
    that changed since the client looked is an error: the maps would not match settings.json."""
    import cnncam
    key = (path, tuple(stamp))
    with _MODELS_LOCK:
        m = _MODELS.get(key)
        if m is None:
            now = _stamp(path)
            if now != list(stamp):
                raise OSError("%s changed during the run (size %d, modified %d ns; the run started with size %d, "
                              "modified %d ns): rerun with the file as it is now" % (path, now[0], now[1], *stamp))
            for old in [k for k in _MODELS if k[0] == path]:
                del _MODELS[old]
            m = _MODELS[key] = cnncam.Model(path)
            _LOADS[0] += 1
    return m


def _load(path, stamp):
    _model(path, stamp)
    return _WORKER


def loads():
    """How many models this process has loaded (client.run(cnncam.dask.loads) asks every worker)."""
    return _LOADS[0]


def _prep(s):
    return dict(resize=s["resize"], crop=tuple(s["crop"]) if isinstance(s["crop"], list) else s["crop"],
                torchvision_eval=s["torchvision_eval"], exif_orientation=s["exif_orientation"],
                max_pixels=s["max_pixels"])


def _cam(s, threads):
    return dict(method=s["method"], classes=s["class"], layers=s["layers"], target=s["target"], threads=threads,
                **s["method_options"])


def _check_settings(path, stamp, s):
    """On a worker: loads the model and runs the settings once on a small random input, so an
    unknown layer, class or option fails once, before any image, with cnncam's message.
    Returns the settings with the class resolved to its index and the layers named, or the
    exception (returned, not raised: a raising task makes the worker log a warning)."""
    try:
        m = _model(path, stamp)
    except Exception as e:  # noqa: BLE001  the client raises it
        return e
    s = dict(s)
    try:
        if s["class"] is not None:
            s["class"] = m.class_index(s["class"])
        if not s["layers"]:
            if not m.default_layer:
                raise ValueError("%s recommends no layer to explain; name one (layers=[...], --layer)" % path)
            s["layers"] = [m.default_layer]
        h, w = m.input_size or CHECK_SIZE
        x = np.random.default_rng(0).standard_normal((1, m.channels, h, w)).astype(np.float32)
        m.explain(x, **_cam(s, 1))
    except ValueError as e:
        return SettingsError(str(e))
    except Exception as e:  # noqa: BLE001
        return e
    return s


def _temp_name(path):
    return path + "." + "".join(secrets.choice(_ALNUM) for _ in range(6))


def _write_atomic(path, write, sync=False):
    """write(f) into a new temporary file beside path (binary), then os.replace it onto path
    (after an fsync when sync): never a half-written file; the temporary one goes on failure."""
    while True:
        tmp = _temp_name(path)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            if sync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _write_npy(path, a):
    _write_atomic(path, lambda f: np.save(f, a, allow_pickle=False))


def _is_npy(path):
    with open(path, "rb") as f:
        return f.read(6) == b"\x93NUMPY"


def _explain_one(cnncam, m, job, s, out_dir, threads):
    """One image: read, explain (one forward: the predictions and the map), write. Any error is
    the image's: returned in its record, never raised."""
    path, files = job
    rec = {"image": path}
    t0 = time.perf_counter()
    written = []
    try:
        if _is_npy(path):        # a normalised C x H x W or 1 x C x H x W tensor, used as is (as the CLI)
            x = np.load(path, allow_pickle=False)
            if x.ndim == 3:
                x = x[None]
            rgb, run = None, lambda: m.explain(x, intermediates=True, **_cam(s, threads))
        else:
            rgb = m.prepare(path, **_prep(s))[0]
            if m.channels == 3:  # the picture the network sees is the overlay's: read it once
                run = lambda: m.explain(rgb, intermediates=True, **_cam(s, threads))  # noqa: E731
            else:                # gray or RGBA models: the overlay's RGB is not their input
                run = lambda: m.explain(path, intermediates=True, **_cam(s, threads), **_prep(s))  # noqa: E731
        t1 = time.perf_counter()
        e = run()
        t2 = time.perf_counter()
        cam_map, logits, cls = e.maps[0], e.logits[0], int(e.classes[0])
        order = np.argsort(-logits, kind="stable")[:TOP]   # ties: the lower index first, as the CLI
        p = m.probabilities(logits)[0]   # cnncam_probabilities: what `cnncam cam --json` prints
        labels = m.classes

        def label(i):
            return labels[i] if 0 <= i < len(labels) else ""
        top = [{"index": int(i), "label": label(int(i)), "logit": float(logits[i]), "probability": float(p[i])}
               for i in order]
        written.append(os.path.join(out_dir, files[0]))
        _write_npy(written[-1], cam_map)
        if len(files) > 1:
            if rgb is None:      # a tensor has no photo: the heatmap alone, as the CLI draws it
                pic = cnncam.overlay(np.zeros(cam_map.shape + (3,), np.uint8), cam_map, alpha=1.0, mode="clean")
            else:
                pic = cnncam.overlay(rgb, cam_map, alpha=s["alpha"], mode=s["overlay_mode"])
            written.append(os.path.join(out_dir, files[1]))
            cnncam.write_image(written[-1], pic)
        t3 = time.perf_counter()
        rec.update(files=list(files), width=int(cam_map.shape[1]), height=int(cam_map.shape[0]), output=m.output,
                   top=top, explained=[{"index": cls, "label": label(cls)}], layers=s["layers"],
                   method=s["method"], target=s["target"], threads=threads,
                   ms={"read": round(1e3 * (t1 - t0), 3), "explain": round(1e3 * (t2 - t1), 3),
                       "write": round(1e3 * (t3 - t2), 3), "total": round(1e3 * (t3 - t0), 3)})
    except Exception as exc:     # the image fails alone; nothing of it stays on disk
        for f in written:
            try:
                os.unlink(f)
            except OSError:
                pass
        msg = str(exc) or type(exc).__name__
        rec.update(error=msg if path in msg else "%s: %s" % (path, msg), error_type=type(exc).__name__,
                   ms={"total": round(1e3 * (time.perf_counter() - t0), 3)})
    rec["worker"] = _WORKER
    return rec


def _explain_batch(model_path, stamp, out_dir, s, threads, jobs):
    """A task: a batch of (image, [map name, overlay name]) on this worker's cached model."""
    import cnncam
    m = _model(model_path, stamp)
    return [_explain_one(cnncam, m, job, s, out_dir, threads) for job in jobs]


# --- the client's side -------------------------------------------------------------------------

def collect_images(paths, lists=(), exclude=None):
    """Absolute paths of the images to explain, in order, each once: files as given, directories
    searched recursively for .jpg, .jpeg, .png and .npy files (sorted), and the files named in
    each list file of `lists` (one path a line, relative ones to the list's directory; blank
    lines and lines starting with '#' skipped; '-' reads standard input). exclude: a directory
    the search of directories leaves out (the output directory, whose overlays are PNGs)."""
    out, seen = [], set()
    exclude = os.path.abspath(exclude) if exclude is not None else None

    def add(p):
        p = os.path.abspath(os.fspath(p))
        if p not in seen:
            seen.add(p)
            out.append(p)
    for lst in lists:
        if lst == "-":
            lines, base = sys.stdin.read().splitlines(), os.getcwd()
        else:
            with open(lst, encoding="utf-8") as f:
                lines, base = f.read().splitlines(), os.path.dirname(os.path.abspath(lst))
        for line in lines:
            line = line.strip()
            if line and not line.startswith("#"):
                add(os.path.join(base, line))
    for p in paths:
        p = os.fspath(p)
        if os.path.isdir(p):
            found = []
            for root, dirs, names in os.walk(p):
                dirs[:] = sorted(x for x in dirs if os.path.abspath(os.path.join(root, x)) != exclude)
                if os.path.abspath(root) == exclude:
                    continue
                found += [os.path.join(root, n) for n in names if n.lower().endswith(IMAGE_EXTENSIONS)]
            for f in sorted(found):
                add(f)
        else:
            add(p)
    return out


def output_stem(image):
    """'<stem>.<16 hex digits of sha256(absolute path)>': the image's output names without .npy/.png."""
    image = os.path.abspath(image)
    stem = os.path.basename(image)
    dot = stem.rfind(".")
    stem = (stem[:dot] if dot > 0 else stem).lstrip(".")[:100] or "image"
    return "%s.%s" % (stem, hashlib.sha256(os.fsencode(image)).hexdigest()[:16])


def start_local_cluster(workers=2, threads_per_worker=1):
    """A LocalCluster of `workers` processes with `threads_per_worker` threads each (no
    dashboard, and so no statistical profiler in the workers: it samples every thread's stack
    every 10 ms for the dashboard's profile page), whose workers import this cnncam (its
    directory on their PYTHONPATH), and a Client on it: (cluster, client)."""
    import dask
    from distributed import Client, LocalCluster
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.environ.get("PYTHONPATH", "")
    env = {"PYTHONPATH": here + (os.pathsep + path if path else "")}
    # No dashboard; the scheduler's HTTP routes on a free port rather than 8787, which another
    # cluster may hold (distributed then warns).
    with dask.config.set({"distributed.worker.profile.enabled": False}):   # the nannies pass it on
        cluster = LocalCluster(n_workers=workers, threads_per_worker=threads_per_worker, processes=True,
                               dashboard_address=None,
                               scheduler_kwargs={"dashboard": False, "dashboard_address": ":0"}, env=env)
    try:
        return cluster, Client(cluster)
    except BaseException:
        cluster.close()
        raise


class _Directory:
    """The output directory held by one run: a lock (flock on the directory itself), stale
    temporary files removed, the index read, compacted and appended to."""

    def __init__(self, out_dir):
        import fcntl
        os.makedirs(out_dir, exist_ok=True)
        self.dir = os.path.abspath(out_dir)
        self.index = os.path.join(self.dir, INDEX)
        self.fd = os.open(self.dir, os.O_RDONLY)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise RuntimeError("%s is in use by another cnncam.dask run (it holds the directory's lock); wait for "
                               "it or choose another output directory" % self.dir) from None
        except OSError:          # a filesystem without flock: go on unlocked
            pass
        self.remove_temporary()
        self.out = None

    def remove_temporary(self):
        """Temporary files of writers that died (a killed worker): safe while the lock is held
        and none of this run's tasks is running."""
        for name in os.listdir(self.dir):
            if _TEMP.match(name):
                try:
                    os.unlink(os.path.join(self.dir, name))
                except OSError:
                    pass

    def close(self):
        if self.out:
            self.out.flush()
            os.fsync(self.out.fileno())
            self.out.close()
            self.out = None
        os.close(self.fd)

    def write_atomic(self, name, text):
        _write_atomic(os.path.join(self.dir, name), lambda f: f.write(text.encode("utf-8")), sync=True)

    def settings(self, s, restart):
        """Compares s with settings.json (refusing a difference unless restart, which removes
        the index and the files it lists) and writes it when new."""
        path = os.path.join(self.dir, SETTINGS)
        old = None
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                try:
                    old = json.load(f)
                except ValueError:
                    old = {}
        if old is not None and old != s:
            if not restart:
                diff = sorted(k for k in set(old) | set(s) if old.get(k) != s.get(k))
                raise SettingsError("%s was made with other settings (%s); use another output directory, or "
                                    "restart (--restart) to redo every image" % (path, "; ".join(
                                        "%s %s before, %s now" % (k, json.dumps(old.get(k)), json.dumps(s.get(k)))
                                        for k in diff)))
        if restart:
            for rec in self.records():
                for f in rec.get("files", []):
                    try:
                        os.unlink(os.path.join(self.dir, f))
                    except OSError:
                        pass
            if os.path.exists(self.index):
                os.unlink(self.index)
        if old != s or restart:
            self.write_atomic(SETTINGS, json.dumps(s, indent=1, sort_keys=True) + "\n")

    def records(self):
        """The index's records in order; a line cut short by a crash is skipped."""
        out = []
        if os.path.exists(self.index):
            with open(self.index, encoding="utf-8") as f:
                for line in f:
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(rec, dict) and isinstance(rec.get("image"), str):
                        out.append(rec)
        return out

    def done(self, wanted):
        """({image: record} of the images done, {image: record} kept). A record is the image's
        last line; done: no error, and its files exist. The index is rewritten without the lines
        of wanted images that are not done (errors to retry, files removed since), older lines of
        an image and damaged lines, so the lines this run appends leave one line per image."""
        def ok(rec):
            return "error" not in rec and all(os.path.exists(os.path.join(self.dir, f)) for f in rec.get("files", []))
        latest = {}
        for rec in self.records():
            latest.pop(rec["image"], None)   # the last line wins, in the order of last lines
            latest[rec["image"]] = rec
        keep = {img: rec for img, rec in latest.items() if img not in wanted or ok(rec)}
        done = {img: rec for img, rec in keep.items() if img in wanted}
        if os.path.exists(self.index):
            with open(self.index, "rb") as f:
                data = f.read()
            if (data and not data.endswith(b"\n")) or len(data.splitlines()) != len(keep):
                self.write_atomic(INDEX, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in keep.values()))
        return done, keep

    def append(self, recs):
        if self.out is None:
            self.out = open(self.index, "a", encoding="utf-8")
        self.out.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs))
        self.out.flush()


class _Progress:
    """n/total and images/s on stderr: one line rewritten on a terminal, else a line per tenth
    (and at least every 30 s)."""

    def __init__(self, total, show):
        self.total, self.show, self.tty = total, show, show is True and sys.stderr.isatty()
        self.t0 = time.perf_counter()
        self.last_tenth, self.last_t = 0, self.t0

    def __call__(self, done, failed):
        t = time.perf_counter()
        if callable(self.show):
            self.show(done, self.total, failed, t - self.t0)
            return
        if not self.show:
            return
        rate = done / (t - self.t0) if t > self.t0 else 0.0
        line = "cnncam-dask: %d/%d images%s, %.1f images/s" % (
            done, self.total, " (%d failed)" % failed if failed else "", rate)
        tenth = 10 * done // max(self.total, 1)
        if self.tty:
            sys.stderr.write("\r" + line + "\033[K" + ("\n" if done == self.total else ""))
        elif tenth > self.last_tenth or t - self.last_t >= 30 or done == self.total:
            sys.stderr.write(line + "\n")
            self.last_tenth, self.last_t = tenth, t
        sys.stderr.flush()


def _settings(model_path, stamp, method, classes, layers, target, method_options, resize, crop, torchvision_eval,
              exif_orientation, max_pixels, overlay, overlay_mode, alpha):
    if isinstance(layers, str):
        layers = [layers]
    if isinstance(crop, (tuple, list)):
        crop = [int(v) for v in crop]
    elif crop is not None:
        crop = int(crop)
    return {"format": FORMAT, "model": model_path, "model_size": stamp[0], "model_mtime_ns": stamp[1],
            "method": method, "class": classes, "layers": list(layers) if layers else None, "target": target,
            "method_options": dict(sorted((method_options or {}).items())), "resize": resize, "crop": crop,
            "torchvision_eval": bool(torchvision_eval), "exif_orientation": bool(exif_orientation),
            "max_pixels": max_pixels, "overlay": bool(overlay), "overlay_mode": overlay_mode,
            "alpha": float(alpha)}


def explain_files(model_path, images, out_dir, client=None, scheduler=None, workers=2, threads_per_worker=1,
                  threads=1, batch_size=8, method="gradcam", classes=None, layers=None, target="logit",
                  method_options=None, resize=None, crop=None, torchvision_eval=False, exif_orientation=True,
                  max_pixels=None, overlay=True, overlay_mode="reference", alpha=0.5, restart=False,
                  progress=True):
    """Explains every image of `images` (files and directories, as collect_images) with the
    model at model_path, writing into out_dir (see the module's text for the files).

    Where it runs: `client` (a distributed.Client) if given; else a Client on `scheduler`
    ("tcp://host:8786"); else a LocalCluster of `workers` processes x `threads_per_worker`
    threads, started and closed here. threads: cnncam's threads per image (default 1: the
    parallelism is across images, one per Dask thread). batch_size: images per Dask task.
    method, classes (None: each image's top class; an index or a label: that class for every
    image), layers (None: the model's recommended layer; a name or a list, maps averaged),
    target, method_options (a dict of Model.explain's method keywords: aug_smooth, eigen_smooth,
    batch_size, ablation_ratio, seed, kpca_kernel, kpca_gamma, finer_alpha, eigen_sign) and the
    preprocessing (resize, crop, torchvision_eval, exif_orientation, max_pixels) are Model.explain's
    and `cnncam cam`'s. overlay: also write the overlay PNG (overlay_mode, alpha as cnncam.overlay).
    restart: redo every image (the old index and the files it lists are removed first).
    progress: True (stderr), False, or a callable(done, total, failed, seconds).

    Raises SettingsError (a ValueError) for settings the model refuses or an output directory
    made with other settings, OSError or ValueError for a model that cannot be read, before any
    image runs. Images that fail do not raise: see the summary and the index.

    Returns a dict: total (distinct images asked for), skipped (done before), done (explained
    now), failed, seconds (from the first task sent to the last result: not the cluster's start,
    the settings check or the models' loading), images_per_s ((done + failed) / seconds), index
    (its path), records (this run's index lines, in the order they were written)."""
    import distributed
    if method_options is not None and not isinstance(method_options, dict):
        raise TypeError("method_options: a dict of Model.explain's keywords, not %r" % (method_options,))
    for name, v in (("threads", threads), ("batch_size", batch_size), ("workers", workers),
                    ("threads_per_worker", threads_per_worker)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError("%s must be an integer >= 1, not %r" % (name, v))
    model_path = os.path.abspath(os.fspath(model_path))
    stamp = _stamp(model_path)
    images = collect_images(images, exclude=out_dir)
    if not images:
        raise ValueError("no images to explain (files, or directories holding %s files)" % ", ".join(IMAGE_EXTENSIONS))
    s = _settings(model_path, stamp, method, classes, layers, target, method_options, resize, crop, torchvision_eval,
                  exif_orientation, max_pixels, overlay, overlay_mode, alpha)

    directory = _Directory(out_dir)
    own_client = own_cluster = None
    try:
        if client is None:
            if scheduler:
                client = own_client = distributed.Client(scheduler)
            else:
                own_cluster, client = start_local_cluster(workers, threads_per_worker)
                own_client = client
        # The settings once, on one worker; then the model on every worker present, so the
        # timed part below is the images alone.
        try:
            s = client.submit(_check_settings, model_path, stamp, s, pure=False).result()
        except ImportError as e:
            raise ImportError("a worker cannot import cnncam (%s): install it on every worker machine, or start the "
                              "workers with its directory on PYTHONPATH" % e) from None
        if isinstance(s, BaseException):
            raise s
        client.gather([client.submit(_load, model_path, stamp, workers=[w], allow_other_workers=True, pure=False)
                       for w in client.scheduler_info()["workers"]])
        directory.settings(s, restart)

        done, kept = directory.done(set(images))
        names = {}
        for img in kept:       # names in use, to prove that no two images share one
            rec = kept[img]
            if rec.get("files"):
                names[rec["files"][0].rsplit(".", 1)[0]] = img
        jobs = []
        for img in images:
            if img in done:
                continue
            stem = output_stem(img)
            if names.setdefault(stem, img) != img:
                raise RuntimeError("%s and %s both map to the output name %s (a SHA-256 prefix collision)"
                                   % (names[stem], img, stem))
            jobs.append((img, [stem + ".npy"] + ([stem + ".png"] if overlay else [])))
        skipped = len(images) - len(jobs)
        if progress is True and skipped:
            sys.stderr.write("cnncam-dask: %d of %d images done before (in %s), skipped\n"
                             % (skipped, len(images), directory.index))
        records, failed = [], 0
        show = _Progress(len(jobs), progress)
        t0 = time.perf_counter()
        if jobs:
            token = secrets.token_hex(4)
            args = (model_path, stamp, directory.dir, s, threads)
            batches = [jobs[i:i + batch_size] for i in range(0, len(jobs), batch_size)]
            # A window of tasks in flight (4 per Dask thread, at least 64), topped up as they
            # finish: a million images do not become 125,000 futures at once.
            window = max(64, 4 * sum(client.nthreads().values()))
            futures, sent = {}, 0
            pending = distributed.as_completed()

            def send(batch, key):
                f = client.submit(_explain_batch, *args, batch, key=key, pure=False)
                futures[f.key] = (f, batch)
                pending.add(f)
            while sent < len(batches) and sent < window:
                send(batches[sent], "cnncam-explain-%s-%d" % (token, sent))
                sent += 1
            for f in pending:
                _, batch = futures.pop(f.key)
                if f.status == "finished":
                    recs = f.result()
                elif len(batch) > 1:      # the task itself failed (a worker died?): each image alone
                    for j, job in enumerate(batch):
                        send([job], "%s-%d" % (f.key, j))
                    f.release()
                    continue
                else:
                    try:
                        exc = f.exception()
                    except Exception as e:  # noqa: BLE001  cancelled: no exception to fetch
                        exc = e
                    recs = [{"image": batch[0][0], "error": "%s: the task failed on its worker: %s: %s"
                             % (batch[0][0], type(exc).__name__, exc), "error_type": type(exc).__name__}]
                f.release()
                if sent < len(batches):
                    send(batches[sent], "cnncam-explain-%s-%d" % (token, sent))
                    sent += 1
                directory.append(recs)
                records += recs
                failed += sum("error" in r for r in recs)
                show(len(records), failed)
        seconds = time.perf_counter() - t0
        if jobs:
            directory.remove_temporary()   # every task has finished: what is left, a dead worker left
        summary = {"total": len(images), "skipped": skipped, "done": len(records) - failed, "failed": failed,
                   "seconds": seconds, "images_per_s": len(records) / seconds if records and seconds > 0 else 0.0,
                   "index": directory.index, "records": records}
        if progress is True:
            sys.stderr.write("cnncam-dask: %d explained, %d failed, %d skipped of %d images in %.1f s (%.1f images/s);"
                             " index: %s\n" % (summary["done"], failed, skipped, len(images), seconds,
                                               summary["images_per_s"], directory.index))
        return summary
    finally:
        directory.close()
        if own_client is not None:
            own_client.close()
        if own_cluster is not None:
            own_cluster.close()


# --- the command -------------------------------------------------------------------------------

USAGE = "cnncam-dask -m MODEL -o OUT_DIR [--scheduler ADDR | --workers N] [options] IMAGE|DIR ..."
EPILOG = """\
Each image gives OUT_DIR/<stem>.<hash>.npy (the map, as `cnncam cam --cam-out`) and
OUT_DIR/<stem>.<hash>.png (the overlay, as `cnncam cam -o`; not with --no-overlay), where <stem>
is the file's name without its extension and <hash> 16 hex digits of the SHA-256 of its absolute
path, and a line in OUT_DIR/index.jsonl: image, files, width, height, output, top (the 5 best
classes: index, label, logit, probability), explained, layers, method, target, threads, ms,
worker; or image, error, error_type, worker for an image that failed (the others go on). Files
are written atomically. A rerun into OUT_DIR skips the images done (line in the index, files
present) and retries the ones that failed; OUT_DIR/settings.json records the settings, and a
rerun with others is refused (--restart redoes everything). One run at a time per OUT_DIR.
Before any image, the settings are tried once on a worker (on a 64x64 random input, or the
model's fixed size): an unknown layer, class or option stops the run there.

On several machines: start `dask-scheduler` on one, `dask-worker tcp://HOST:8786 --nworkers N
--nthreads 1` on each (cnncam installed, the model, images and OUT_DIR on a shared filesystem at
the same paths), then `cnncam-dask --scheduler tcp://HOST:8786 ...` from any of them.

exit codes: 0 every image explained, 1 usage error (options, settings the model refuses, OUT_DIR
made with other settings), 2 input error (a model or list that cannot be read, no images, the
scheduler unreachable) or some images failed, 3 internal error"""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(1, "%s: error: %s\n" % (self.prog, message))


def _crop(v):
    parts = v.lower().split("x")
    try:
        hw = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError("H or HxW, not %r" % v) from None
    if len(hw) not in (1, 2) or min(hw) < 1:
        raise argparse.ArgumentTypeError("H or HxW with sizes >= 1, not %r" % v)
    return hw[0] if len(hw) == 1 else tuple(hw)


def _positive(v):
    try:
        n = int(v)
    except ValueError:
        raise argparse.ArgumentTypeError("an integer >= 1, not %r" % v) from None
    if n < 1:
        raise argparse.ArgumentTypeError("an integer >= 1, not %r" % v)
    return n


def parser():
    p = _Parser(prog="cnncam-dask", usage=USAGE, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
                description="Explain a dataset of image files with cnncam on a dask.distributed cluster: a map and "
                            "an overlay per image, and a JSON-lines index of the predictions, explained classes and "
                            "timings.")
    p.add_argument("images", nargs="*", metavar="IMAGE|DIR",
                   help="JPEG, PNG or .npy files; a directory is searched recursively for .jpg, .jpeg, .png and .npy "
                        "files (OUT_DIR left out)")
    p.add_argument("--list", action="append", default=[], metavar="FILE",
                   help="a file naming images, one a line (relative to the file's directory; '#' comments; '-': "
                        "standard input); may repeat")
    p.add_argument("-m", "--model", required=True, help="the .ccm model (tools/cnncam-convert makes one)")
    p.add_argument("-o", "--out", required=True, metavar="OUT_DIR", help="the output directory (made if missing)")
    g = p.add_argument_group("where it runs")
    g.add_argument("--scheduler", metavar="ADDR", help="a running Dask scheduler (tcp://host:8786); default: start a "
                                                        "local cluster")
    g.add_argument("--workers", type=_positive, default=2, metavar="N",
                   help="worker processes of the local cluster (default 2)")
    g.add_argument("--threads-per-worker", type=_positive, default=1, metavar="T",
                   help="Dask threads per worker of the local cluster, each explaining its own images (default 1)")
    g.add_argument("--threads", type=_positive, default=1, metavar="N",
                   help="cnncam's threads per image (default 1: the parallelism is across images)")
    g.add_argument("--batch-size", type=_positive, default=8, metavar="N", help="images per Dask task (default 8)")
    g = p.add_argument_group("what is explained (as cnncam cam)")
    g.add_argument("--method", default="gradcam", help="the method (cnncam methods lists them; default gradcam)")
    g.add_argument("-c", "--class", dest="cls", metavar="CLASS",
                   help="an index or a label, for every image; default: each image's top class")
    g.add_argument("-l", "--layer", action="append", metavar="NAME",
                   help="layer to explain; repeat for several (maps averaged); default: the model's recommended one")
    g.add_argument("--target", default="logit", choices=("logit", "softmax", "rest", "binary"),
                   help="logit (default), softmax, rest or binary")
    g.add_argument("--aug-smooth", action="store_true", help="the mean over the six test-time augmentations")
    g.add_argument("--eigen-smooth", action="store_true", help="the first principal component instead of the sum")
    g.add_argument("--cam-batch-size", type=_positive, metavar="N",
                   help="images per forward of scorecam and ablationcam (cnncam cam --batch-size)")
    g.add_argument("--ablation-ratio", type=float, metavar="R", help="ablationcam: the fraction of channels ablated")
    g.add_argument("--seed", type=int, metavar="N", help="randomcam's seed")
    g.add_argument("--kpca-kernel", metavar="K", help="kpcacam's kernel")
    g.add_argument("--kpca-gamma", type=float, metavar="G", help="kpcacam's gamma")
    g.add_argument("--finer-alpha", type=float, metavar="A", help="finercam's alpha")
    g.add_argument("--eigen-sign", metavar="S", help="default or lapack")
    g = p.add_argument_group("pictures (as cnncam cam)")
    g.add_argument("--resize", type=_positive, metavar="S", help="resize the shorter side to S first")
    g.add_argument("--crop", type=_crop, metavar="H[xW]", help="then centre-crop to HxW")
    g.add_argument("--torchvision-eval", action="store_true", help="the model's stored evaluation recipe")
    g.add_argument("--max-pixels", type=_positive, metavar="N", help="refuse larger images")
    g.add_argument("--no-exif-orientation", action="store_true", help="ignore the EXIF Orientation tag")
    g.add_argument("--no-overlay", action="store_true", help="write the maps only")
    g.add_argument("--overlay", default="reference", choices=("reference", "clean"), metavar="MODE",
                   help="reference (default) or clean")
    g.add_argument("--alpha", type=float, default=0.5, metavar="A", help="the heatmap's weight (default 0.5)")
    g = p.add_argument_group("the run")
    g.add_argument("--restart", action="store_true", help="redo every image: remove OUT_DIR's index and the files it "
                                                          "lists first")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr (errors are still reported)")
    return p


def main(argv=None):
    p = parser()
    a = p.parse_args(argv)
    options = {k: v for k, v in (("aug_smooth", a.aug_smooth or None), ("eigen_smooth", a.eigen_smooth or None),
                                 ("batch_size", a.cam_batch_size), ("ablation_ratio", a.ablation_ratio),
                                 ("seed", a.seed), ("kpca_kernel", a.kpca_kernel), ("kpca_gamma", a.kpca_gamma),
                                 ("finer_alpha", a.finer_alpha), ("eigen_sign", a.eigen_sign)) if v is not None}
    cls = int(a.cls) if a.cls is not None and a.cls.isdigit() else a.cls
    if a.scheduler and (a.workers != 2 or a.threads_per_worker != 1):
        p.error("--workers and --threads-per-worker shape a local cluster; with --scheduler the cluster has its own")
    try:
        images = collect_images(a.images, a.list, exclude=a.out)
    except OSError as e:
        print("cnncam-dask: %s" % e, file=sys.stderr)
        return 2
    if not images:
        print("cnncam-dask: no images: name files or directories (holding %s files), or --list FILE"
              % ", ".join(IMAGE_EXTENSIONS), file=sys.stderr)
        return 2
    try:
        summary = explain_files(a.model, images, a.out, scheduler=a.scheduler, workers=a.workers,
                                threads_per_worker=a.threads_per_worker, threads=a.threads, batch_size=a.batch_size,
                                method=a.method, classes=cls, layers=a.layer, target=a.target, method_options=options,
                                resize=a.resize, crop=a.crop, torchvision_eval=a.torchvision_eval,
                                exif_orientation=not a.no_exif_orientation, max_pixels=a.max_pixels,
                                overlay=not a.no_overlay, overlay_mode=a.overlay, alpha=a.alpha, restart=a.restart,
                                progress=not a.quiet)
    except SettingsError as e:
        print("cnncam-dask: %s" % e, file=sys.stderr)
        return 1
    except (OSError, ValueError, TimeoutError, ImportError) as e:
        print("cnncam-dask: %s" % e, file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001  the cluster's or ours: a bug report needs the traceback
        import traceback
        traceback.print_exc()
        print("cnncam-dask: internal error: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        return 3
    for r in summary["records"]:
        if "error" in r:
            print("cnncam-dask: %s" % r["error"], file=sys.stderr)
    if summary["failed"]:
        print("cnncam-dask: %d of %d images failed (index: %s)" % (summary["failed"], summary["total"],
                                                                   summary["index"]), file=sys.stderr)
    return 2 if summary["failed"] else 0


if __name__ == "__main__":
    # Run as `python3 -m cnncam.dask`: call the module under its own name, so the functions sent
    # to the workers are cnncam.dask's (a worker cannot import __main__'s).
    from cnncam.dask import main as _main
    sys.exit(_main())
