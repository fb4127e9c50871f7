"""bench/bench_dask.py — the "dask" part of bench/bench.py: cnncam.dask's throughput
(python/cnncam/dask.py, explain_files) with one worker process and with two.

The images: --dask-images distinct 224 x 224 PNGs cut from the photos of assets/images (each
photo at several square crops, mirrored or not), made once in a temporary directory. The model:
the bench's ResNet-34 (random weights, calibrated batchnorm: bench.py's prepare). Each worker is
one process with one Dask thread, and cnncam runs one thread per image (threads=1); tasks of 2
images (with 4, a run's last task kept the other worker idle for up to 4 images' time: 5-15% of a
64-image run). Both LocalClusters are started first (their start time is reported, not counted), each
gets one warm-up run (workers import cnncam and load the model; dropped), then the timed runs
alternate one worker / two workers, each into a fresh output directory, so nothing is skipped.
A run's images/s is explain_files's own: images over the time from the first task sent to the
last result (maps, overlays and index lines all written), which leaves out the cluster's start,
the settings check and the models' loading. Medians; ratio = two workers / one. Target: >= 1.6.
Also reported: the median time a worker spent per image (index.jsonl's ms.total: read, explain,
write), which shows what two processes on the machine's cores cost each other.

Standalone: /usr/bin/python3 bench/bench_dask.py [--dask-reps N] [--dask-images N] (prints the
section); bench.py calls run(args, image, bench_module, note).
"""
import os
import shutil
import statistics
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))

ARCH, ARCH_NAME = "resnet34", "ResNet-34"
TARGET = 1.6
BATCH = 2
WORKERS = (1, 2)


def add_arguments(p):
    g = p.add_argument_group("dask part")
    g.add_argument("--dask-images", type=int, default=64, help="images per run (default 64)")
    g.add_argument("--dask-reps", type=int, default=5, help="timed runs per cluster (default 5)")


def make_images(d, n, side=224):
    """n distinct side x side PNGs from assets/images: square crops at 3 positions and 2 scales,
    mirrored or not, photo after photo."""
    from PIL import Image
    photos_dir = os.path.join(ROOT, "assets", "images")
    photos = [Image.open(os.path.join(photos_dir, f)).convert("RGB")
              for f in sorted(os.listdir(photos_dir)) if f.endswith((".png", ".jpg"))]
    out = []
    for i in range(n):
        im = photos[i % len(photos)]
        k = i // len(photos)
        w, h = im.size
        s = int(min(w, h) * (1.0 if k % 2 == 0 else 0.8))
        pos = (k // 2) % 3
        x0, y0 = (w - s) * pos // 2, (h - s) * pos // 2
        pic = im.crop((x0, y0, x0 + s, y0 + s)).resize((side, side), Image.BILINEAR)
        if (k // 6) % 2:
            pic = pic.transpose(Image.FLIP_LEFT_RIGHT)
        path = os.path.join(d, "img%03d.png" % i)
        pic.save(path)
        out.append(path)
    return out


def measure(model, images, reps, note, tmp):
    """{workers: [images/s of each timed run]}, {workers: median worker ms per image},
    {workers: cluster start s}, the machine's load average."""
    import cnncam.dask as cd
    clusters, start = {}, {}
    try:
        for n in WORKERS:
            t = time.perf_counter()
            clusters[n] = cd.start_local_cluster(workers=n, threads_per_worker=1)
            start[n] = time.perf_counter() - t
        runs = {n: [] for n in WORKERS}
        per_image = {n: [] for n in WORKERS}
        for rep in range(reps + 1):                  # rep 0 warms up and is dropped
            for n in (WORKERS if rep % 2 else WORKERS[::-1]):
                out = os.path.join(tmp, "out-%d-%d" % (n, rep))
                s = cd.explain_files(model, images if rep else images[:2 * BATCH * n], out, client=clusters[n][1],
                                     threads=1, batch_size=BATCH, progress=False)
                shutil.rmtree(out, ignore_errors=True)
                if s["failed"]:
                    raise RuntimeError("bench_dask: %d images failed: %s" % (
                        s["failed"], next(r["error"] for r in s["records"] if "error" in r)))
                if rep:
                    runs[n].append(s["images_per_s"])
                    per_image[n] += [r["ms"]["total"] for r in s["records"]]
                    note("dask: %d worker%s, run %d: %.2f images/s (%d images in %.2f s)" % (
                        n, "s" * (n > 1), rep, s["images_per_s"], s["done"], s["seconds"]))
    finally:
        for cluster, client in clusters.values():
            client.close()
            cluster.close()
    return runs, {n: statistics.median(v) for n, v in per_image.items()}, start, os.getloadavg()


def run(a, image, env, note):
    """The section's lines (markdown). a: bench.py's arguments (work; dask_images, dask_reps
    from add_arguments); image: unused (the part needs many images); env: bench.py's module
    (prepare)."""
    n_images, reps = getattr(a, "dask_images", 64), getattr(a, "dask_reps", 5)
    _, model, layer = env.prepare(ARCH, a.work, note)
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as tmp:
        photos = os.path.join(tmp, "images")
        os.makedirs(photos)
        images = make_images(photos, n_images)
        runs, per_image, start, load = measure(model, images, reps, note, tmp)
    med = {n: statistics.median(runs[n]) for n in WORKERS}
    ratio = med[2] / med[1]
    note("dask: 1 worker %.2f images/s, 2 workers %.2f images/s, ratio %.2f" % (med[1], med[2], ratio))
    lines = ["## Datasets on Dask", "",
             "cnncam.dask's explain_files on %d distinct 224x224 PNGs, %s (the bench's random weights), layer %s, "
             "Grad-CAM of the top class, map (.npy) and overlay (.png) written per image and a line in "
             "index.jsonl; LocalCluster worker processes with 1 Dask thread each, cnncam at 1 thread per image, "
             "tasks of %d images. Medians of %d alternating runs after one warm-up each; images/s from the first "
             "task sent to the last result (the cluster's start and the models' loading excluded). The machine "
             "has %d CPUs; load average %.2f / %.2f / %.2f after the runs." % (
                 n_images, ARCH_NAME, layer, BATCH, reps, os.cpu_count(), *load), "",
             "| workers | images/s (median) | runs | worker ms per image (median) | cluster start (s) |",
             "|---|---|---|---|---|"]
    for n in WORKERS:
        lines.append("| %d | %.2f | %s | %.1f | %.1f |" % (n, med[n], ", ".join("%.2f" % v for v in runs[n]),
                                                        per_image[n], start[n]))
    lines += ["", "Two workers / one: **%.2fx** (target >= %.1fx: %s)." % (
        ratio, TARGET, "met" if ratio >= TARGET else "not met"), ""]
    return lines


def main(argv=None):
    import argparse
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    import bench as env
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", default=os.path.join(env.BUILD, "bench"), help="models (default build/bench)")
    add_arguments(p)
    a = p.parse_args(argv)
    os.makedirs(a.work, exist_ok=True)
    print("\n".join(run(a, None, env, lambda m: print(m, flush=True))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
