#!/usr/bin/python3
"""tests/test_python_dask.py — cnncam.dask (python/cnncam/dask.py) on a LocalCluster of two
worker processes, against the CLI.

Usage: /usr/bin/python3 tests/test_python_dask.py   (after `make all` and `make python`;
       CNNCAM_BUILD=dir takes the CLI from there)

Makes 40 images from the ten photos of assets/images: four folders a/ b/ c/ d/, each with the
ten photos under their own names (so every name occurs four times), each a different crop of
its photo scaled to about 96 pixels, PNG or JPEG, and d/rocket.jpg a truncated JPEG (the
corrupt one). A random-init ResNet-18 (cnncam-convert --seed 1). Then:
  1. `cnncam cam --threads 1 --cam-out --json -o` on the 40 (one process: the reference);
     collect_images (a list file, files, folders, the output folder left out); --help;
  2. explain_files on a LocalCluster of 2 worker processes x 1 thread, threads=1, batch 4:
     the summary (39 done, 1 failed); index.jsonl: 40 lines, one per image; the 39 maps
     identical (np.array_equal) to the CLI's --cam-out, the 39 overlays identical to its -o
     PNGs (pixels and bytes); the predictions (top 5: index, label, logit as float32,
     probability to 1e-8) and the explained class as its --json; the corrupt image's error
     line carrying the CLI's message; output names distinct for same-named images and as
     output_stem says; no temporary files; both workers worked, each loaded the model once;
  3. the rerun, through the command (`python3 -m cnncam.dask --scheduler ADDR`, the folder
     as input): exit 2 (the corrupt image is retried and fails again: that is the documented
     choice), stderr says 39 skipped and gives the error, the 39 lines and files untouched
     (same bytes, same mtime), still one line per image, no model loaded again;
  4. recovery: a map deleted, a stale temporary file and a line cut short by a crash: the
     next run redoes that image only, removes the temporary file and the broken line;
  5. refusals: other settings into the same directory (exit 1, the index unchanged), an
     unknown layer (exit 1, cnncam's message, nothing written), --workers with --scheduler;
  6. a worker process killed in the middle of a task (after leaving a temporary file): the
     run still ends with the 8 images done once, identical maps, no temporary file.
Prints one line per check and "python dask: N passed, N failed".
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))
from tally import check, run  # noqa: E402

BUILD = os.path.join(ROOT, os.environ.get("CNNCAM_BUILD", "build"))
CNNCAM = os.path.join(BUILD, "cnncam")
CONVERT = os.path.join(ROOT, "tools", "cnncam-convert")
PHOTOS = os.path.join(ROOT, "assets", "images")
FOLDERS = ("a", "b", "c", "d")
CORRUPT = os.path.join("d", "rocket.jpg")
SIDE = 96
THREADS = 1


def make_images(root):
    """40 files, folder by folder; returns their paths (the CLI's order)."""
    photos = sorted(f for f in os.listdir(PHOTOS) if f.endswith((".png", ".jpg")))
    out = []
    for k, folder in enumerate(FOLDERS):
        os.makedirs(os.path.join(root, folder))
        for j, name in enumerate(photos):
            im = Image.open(os.path.join(PHOTOS, name)).convert("RGB")
            w, h = im.size
            f = 0.6 + 0.1 * k                           # a different crop per folder
            cw, ch = int(w * f), int(h * f)
            x0, y0 = (w - cw) * (k % 2), (h - ch) * (k // 2) // 2
            im = im.crop((x0, y0, x0 + cw, y0 + ch))
            s = SIDE / max(cw, ch)
            im = im.resize((max(8, round(cw * s)), max(8, round(ch * s))), Image.BILINEAR)
            if (j + k) % 3 == 2:
                im = im.transpose(Image.FLIP_LEFT_RIGHT)
            path = os.path.join(root, folder, name)
            im.save(path, quality=90) if name.endswith(".jpg") else im.save(path)
            out.append(path)
    bad = os.path.join(root, CORRUPT)
    with open(bad, "rb") as f:
        data = f.read()
    with open(bad, "wb") as f:
        f.write(data[:len(data) // 2])                  # a truncated JPEG
    return out


def listing(d):
    return sorted(os.listdir(d))


def snapshot(d):
    """{name: (bytes, mtime_ns)} of a directory's files."""
    out = {}
    for n in os.listdir(d):
        p = os.path.join(d, n)
        with open(p, "rb") as f:
            out[n] = (f.read(), os.stat(p).st_mtime_ns)
    return out


def index_lines(out):
    with open(os.path.join(out, "index.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def dask_cli(args, timeout=300):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
    return subprocess.run([sys.executable, "-m", "cnncam.dask", *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


def cli_reference(model, images, w):
    """The CLI on the 40 images in one process: {image: (map, overlay path, --json record)}."""
    ref = os.path.join(w, "cli")
    os.makedirs(ref)
    r = subprocess.run([CNNCAM, "cam", "-m", model, "--threads", str(THREADS), "--cam-out",
                        os.path.join(ref, "cam.npy"), "-o", os.path.join(ref, "cam.png"), "--json", *images],
                       capture_output=True, text=True, timeout=300)
    check("the CLI ran on the 40 images (exit 2: one failed)", r.returncode == 2, r.stderr[-500:])
    recs = [json.loads(line) for line in r.stdout.splitlines()]
    out = {}
    for i, (img, rec) in enumerate(zip(images, recs)):
        if "error" in rec:             # the stems repeat: the CLI numbers the outputs by position
            out[img] = (None, None, rec)
        else:
            out[img] = (np.load(os.path.join(ref, "cam.%d.npy" % i)), os.path.join(ref, "cam.%d.png" % i), rec)
    check("the CLI: 40 JSON lines, 39 explained", len(recs) == 40 and sum("error" not in r for r in recs) == 39,
          "%d lines" % len(recs))
    return out


def check_first_run(cnncam_dask, summary, out, images, ref):
    check("summary: 40 images, 39 done, 1 failed, 0 skipped",
          (summary["total"], summary["done"], summary["failed"], summary["skipped"]) == (40, 39, 1, 0),
          str({k: summary[k] for k in ("total", "done", "failed", "skipped")}))
    lines = index_lines(out)
    by_image = {r["image"]: r for r in lines}
    check("index.jsonl: 40 lines, one per image, every image", len(lines) == 40 and set(by_image) == set(images),
          "%d lines, %d images" % (len(lines), len(by_image)))
    check("the summary's records are the index's lines", summary["records"] == lines)
    bad = os.path.join(os.path.dirname(images[0]), "..", CORRUPT)
    bad = os.path.abspath(bad)
    err = by_image.get(bad, {})
    check("one error line, for the corrupt image", sum("error" in r for r in lines) == 1 and "error" in err)
    check("its message is the CLI's", err.get("error") == ref[bad][2].get("error"),
          "got %r, CLI %r" % (err.get("error"), ref[bad][2].get("error")))
    check("its error line says where and what: files none, error_type, worker",
          "files" not in err and err.get("error_type") == "OSError" and "worker" in err, str(err))

    maps_equal = pngs_equal = pixels_equal = top_equal = explained_equal = names_ok = True
    detail = {"map": "", "png": "", "top": "", "names": ""}
    want_files = {"index.jsonl", "settings.json"}
    for img in images:
        if img == bad:
            continue
        rec = by_image[img]
        cmap, cpng, crec = ref[img]
        stem = cnncam_dask.output_stem(img)
        names_ok &= rec.get("files") == [stem + ".npy", stem + ".png"]
        want_files.update(rec.get("files", []))
        got = np.load(os.path.join(out, stem + ".npy"))
        if not (got.dtype == np.float32 and np.array_equal(got, cmap)):
            maps_equal = False
            detail["map"] = detail["map"] or "%s: max|d| %g" % (img, np.abs(got - cmap).max()
                                                                if got.shape == cmap.shape else float("nan"))
        with open(os.path.join(out, stem + ".png"), "rb") as f, open(cpng, "rb") as g:
            pngs_equal &= f.read() == g.read()
        a = np.asarray(Image.open(os.path.join(out, stem + ".png")))
        b = np.asarray(Image.open(cpng))
        pixels_equal &= a.shape == b.shape and np.array_equal(a, b)
        for t, c in zip(rec["top"], crec["top"]):
            same = (t["index"] == c["index"] and t["label"] == c["label"]
                    and np.float32(t["logit"]) == np.float32(c["logit"])
                    and abs(t["probability"] - c["probability"]) <= 1e-8 * max(1e-30, c["probability"]))
            if not same:
                top_equal = False
                detail["top"] = detail["top"] or "%s: %s against the CLI's %s" % (img, t, c)
        top_equal &= len(rec["top"]) == len(crec["top"]) == 5
        explained_equal &= rec["explained"] == crec["explained"] and rec["layers"] == crec["layers"] \
            and rec["method"] == crec["method"] and rec["target"] == crec["target"] \
            and (rec["width"], rec["height"]) == (crec["width"], crec["height"])
    check("39 maps identical to the CLI's --cam-out (np.array_equal, float32)", maps_equal, detail["map"])
    check("39 overlays identical to the CLI's -o PNGs (pixels)", pixels_equal)
    check("39 overlays identical to the CLI's -o PNGs (bytes)", pngs_equal)
    check("the predictions are the CLI's --json top 5 (index, label, logit, probability)", top_equal, detail["top"])
    check("explained class, layers, method, target, size as the CLI's --json", explained_equal)
    check("output names: <stem>.<hash of the path>, four same-named photos apart", names_ok
          and len(want_files) == 2 + 2 * 39, "%d names" % len(want_files))
    check("no temporary or other files: the 78 outputs, index.jsonl and settings.json",
          set(listing(out)) == want_files, str(sorted(set(listing(out)) ^ want_files)[:5]))
    workers = {r["worker"] for r in lines}
    check("both worker processes explained images", len(workers) == 2, str(workers))
    return lines


def kill_on(victim, marker):
    """Run on every worker (client.run): the first worker to reach `victim` leaves a temporary
    file beside its map, as a writer killed mid-write would, and dies (os._exit)."""
    import cnncam.dask as cd
    explain_one = cd._explain_one

    def dying(cnncam, model, job, s, out_dir, threads):
        if job[0] == victim and not os.path.exists(marker):
            open(marker, "w").close()
            with open(os.path.join(out_dir, job[1][0] + ".Zz9Zz9"), "wb") as f:
                f.write(b"\x93NUMPY half")
            os._exit(1)
        return explain_one(cnncam, model, job, s, out_dir, threads)
    cd._explain_one = dying


def check_killed_worker(cd, client, model, images, w, ref):
    """A worker dies in the middle of a task: Dask runs the task again on a worker, and the run
    ends with every image done once, identical maps and no temporary file."""
    import logging
    out, marker = os.path.join(w, "killed"), os.path.join(w, "killed.marker")
    some = [x for x in images if not x.endswith(CORRUPT)][:8]
    client.run(kill_on, some[5], marker)
    nanny = logging.getLogger("distributed.nanny")
    level = nanny.level
    nanny.setLevel(logging.ERROR)             # its "Restarting worker" is this check's point
    try:
        s = cd.explain_files(model, some, out, client=client, threads=THREADS, batch_size=2, progress=False)
    finally:
        nanny.setLevel(level)
    lines = index_lines(out)
    check("a worker killed mid-task: all 8 done, one line each", os.path.exists(marker) and s["done"] == 8
          and s["failed"] == 0 and len(lines) == 8 and len({x["image"] for x in lines}) == 8,
          "no worker died" if not os.path.exists(marker) else str({k: s[k] for k in ("done", "failed")}))
    check("a worker killed mid-task: its temporary file removed, the maps identical to the CLI's",
          set(listing(out)) == {"index.jsonl", "settings.json"} | {f for x in lines for f in x["files"]}
          and all(np.array_equal(np.load(os.path.join(out, x["files"][0])), ref[x["image"]][0]) for x in lines),
          str(listing(out)))
    client.wait_for_workers(2, timeout=120)   # the nanny restarts it: let it join before the end


def body(w):
    import cnncam.dask as cd
    model = os.path.join(w, "r18.ccm")
    r = subprocess.run([CONVERT, "--arch", "resnet18", "--random-init", "--seed", "1", "-o", model],
                       capture_output=True, text=True, timeout=300)
    if not check("cnncam-convert resnet18 --random-init", r.returncode == 0, r.stderr[-500:]):
        return
    src = os.path.join(w, "photos")
    images = make_images(src)
    ref = cli_reference(model, images, w)

    # What a run takes: files, folders (recursively, the output folder left out), list files.
    lst = os.path.join(w, "list.txt")
    with open(lst, "w") as f:
        f.write("# two photos\nphotos/b/kite.png\n\nphotos/a/kite.png\n")
    os.makedirs(os.path.join(src, "c", "cams"))
    Image.new("RGB", (8, 8)).save(os.path.join(src, "c", "cams", "old.png"))
    got = cd.collect_images([images[0], os.path.join(src, "c")], [lst], exclude=os.path.join(src, "c", "cams"))
    want = [os.path.join(src, "b", "kite.png"), os.path.join(src, "a", "kite.png"), images[0]] + \
        sorted(x for x in images if os.sep + "c" + os.sep in x)
    check("collect_images: list file (relative to it), then files and folders, each once, OUT_DIR left out",
          got == want, str(got[:4]))
    shutil.rmtree(os.path.join(src, "c", "cams"))

    r = dask_cli(["--help"])
    check("--help: exit 0, names the scheduler, the local cluster, the index and the exit codes",
          r.returncode == 0 and all(s in r.stdout for s in ("--scheduler", "--workers", "--threads-per-worker",
                                                             "index.jsonl", "exit codes", "dask-worker")),
          r.stderr[-300:])

    out = os.path.join(w, "out")
    cluster, client = cd.start_local_cluster(workers=2, threads_per_worker=1)
    try:
        addr = cluster.scheduler_address
        summary = cd.explain_files(model, images, out, client=client, threads=THREADS, batch_size=4, progress=False)
        lines = check_first_run(cd, summary, out, images, ref)
        loads = client.run(cd.loads)
        check("each worker process loaded the model once", sorted(loads.values()) == [1, 1], str(loads))

        # 3. The rerun, through the command, on the folder.
        before = snapshot(out)
        r = dask_cli(["--scheduler", addr, "-m", model, "-o", out, "--threads", str(THREADS), "--batch-size", "4", src])
        check("rerun (command, --scheduler, the folder): exit 2, the corrupt image failed again",
              r.returncode == 2, "exit %d: %s" % (r.returncode, r.stderr[-500:]))
        check("rerun: stderr says 39 of 40 skipped and gives the error",
              "39 of 40 images done before" in r.stderr and "damaged or truncated JPEG" in r.stderr, r.stderr[-500:])
        again = index_lines(out)
        images_again = [x["image"] for x in again]
        check("rerun: still 40 lines, no image twice", len(again) == 40 and len(set(images_again)) == 40,
              "%d lines, %d images" % (len(again), len(set(images_again))))
        check("rerun: the 39 lines as they were, the corrupt one's error again",
              [x for x in again if "error" not in x] == [x for x in lines if "error" not in x]
              and [x["error"] for x in again if "error" in x] == [x["error"] for x in lines if "error" in x])
        after = snapshot(out)
        outputs = [n for n in before if n.endswith((".npy", ".png"))]
        check("rerun: the 78 files untouched (bytes and mtime)", all(after.get(n) == before[n] for n in outputs)
              and set(after) == set(before), str(sorted(set(after) ^ set(before))[:5]))
        loads = client.run(cd.loads)
        check("rerun: no worker loaded the model again", sorted(loads.values()) == [1, 1], str(loads))

        # 4. Recovery from a deleted output, a killed worker's temporary file, a cut line.
        victim = next(x for x in lines if "error" not in x)
        os.unlink(os.path.join(out, victim["files"][0]))
        stale = os.path.join(out, victim["files"][1] + ".Ab3dE9")
        with open(stale, "wb") as f:
            f.write(b"\x89PNG half")
        with open(os.path.join(out, "index.jsonl"), "a") as f:
            f.write('{"image": "/cut/short')
        s2 = cd.explain_files(model, images, out, client=client, threads=THREADS, batch_size=4, progress=False)
        check("recovery: the image whose map was deleted is redone, the corrupt retried, 38 skipped",
              (s2["done"], s2["failed"], s2["skipped"]) == (1, 1, 38)
              and {x["image"] for x in s2["records"]} == {victim["image"], os.path.join(src, CORRUPT)},
              str({k: s2[k] for k in ("done", "failed", "skipped")}))
        third = index_lines(out)
        check("recovery: 40 lines, one per image, the cut line gone",
              len(third) == 40 and len({x["image"] for x in third}) == 40)
        check("recovery: the stale temporary file removed, the map back and identical",
              not os.path.exists(stale) and np.array_equal(np.load(os.path.join(out, victim["files"][0])),
                                                           ref[victim["image"]][0]))

        # 5. Refusals.
        before = snapshot(out)
        r = dask_cli(["--scheduler", addr, "-m", model, "-o", out, "--method", "hirescam", src])
        check("other settings into the same directory: exit 1, says which, nothing changed",
              r.returncode == 1 and "other settings" in r.stderr and "hirescam" in r.stderr and snapshot(out) == before,
              "exit %d: %s" % (r.returncode, r.stderr[-300:]))
        empty = os.path.join(w, "empty")
        r = dask_cli(["--scheduler", addr, "-m", model, "-o", empty, "-l", "layer9", src])
        check("an unknown layer: exit 1, cnncam's message, nothing written",
              r.returncode == 1 and "layer9" in r.stderr and not (os.path.isdir(empty) and os.listdir(empty)),
              "exit %d: %s" % (r.returncode, r.stderr[-300:]))
        r = dask_cli(["--scheduler", addr, "-m", model, "-o", empty, "--workers", "3", src])
        check("--workers with --scheduler: exit 1 (a usage error)", r.returncode == 1, r.stderr[-300:])

        # 6. A worker that dies.
        check_killed_worker(cd, client, model, images, w, ref)
    finally:
        client.close()
        cluster.close()


def main():
    w = tempfile.mkdtemp(prefix="cnncam-dask-")
    return run("python dask", lambda: body(w), w)


if __name__ == "__main__":
    sys.exit(main())
