#!/usr/bin/python3
"""`make install` and the installed library as a user meets it.

Installs into a temporary PREFIX, converts a model with the installed
cnncam-convert (run from outside the repository), builds
examples/gradcam_example.c with the installed pkg-config file (shared, static
archive, and fully static: -static, every library from its .a, so
`pkg-config --static` must list libpng's -lz), runs each on a photo and
checks each overlay is byte-identical to `cnncam cam -o` on the same model
and photo (the same library, so the same bytes); also that the header
compiles as C++, that the shared library exports the functions the header
declares and nothing else (nm -D --defined-only: every symbol cnncam_*), and
that the header's CNNCAM_VERSION, the installed pkg-config file's version
and `cnncam --version` (the library's cnncam_version()) agree. Prints one
line per check and "install: N passed, N failed".
"""
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHOTO = os.path.join(ROOT, "assets", "images", "chelsea.png")
results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")


def check_quiet(name, ok, detail):
    """check() with detail printed only on a failure."""
    check(name, ok, "" if ok else detail)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def header_functions(header):
    """The functions include/cnncam.h declares: cnncam_NAME( outside comments."""
    text = re.sub(r"/\*.*?\*/|//[^\n]*", " ", open(header).read(), flags=re.S)
    return set(re.findall(r"\b(cnncam_[a-z0-9_]+)\s*\(", text))


def exported_symbols(prefix):
    """What the installed libcnncam.so exports (defined dynamic symbols), or None."""
    r = run(["nm", "-D", "--defined-only", os.path.join(prefix, "lib", "libcnncam.so")])
    check("nm -D --defined-only libcnncam.so", r.returncode == 0, r.stderr.strip())
    return {line.split()[-1] for line in r.stdout.splitlines() if line.strip()} if r.returncode == 0 else None


def check_exports_and_version(prefix):
    declared = header_functions(os.path.join(prefix, "include", "cnncam.h"))
    exported = exported_symbols(prefix)
    check_quiet(f"cnncam.h declares functions ({len(declared)})", len(declared) >= 60, str(sorted(declared)))
    if exported is not None:
        internal = sorted(s for s in exported if not s.startswith("cnncam_"))
        check_quiet(f"libcnncam.so exports cnncam_* symbols only ({len(exported)} exported)", not internal,
                    f"{len(internal)} others: {internal[:20]}")
        missing = sorted(declared - exported)
        check_quiet("libcnncam.so exports every function cnncam.h declares", not missing, f"missing: {missing}")
    version = re.search(r'#define CNNCAM_VERSION "([^"]+)"', open(os.path.join(ROOT, "include", "cnncam.h")).read())
    version = version.group(1) if version else "(none)"
    pc = open(os.path.join(prefix, "lib", "pkgconfig", "cnncam.pc")).read()
    pc_version = re.search(r"^Version:\s*(\S+)", pc, re.M)
    check_quiet(f"cnncam.pc's Version is the header's CNNCAM_VERSION {version}",
                pc_version is not None and pc_version.group(1) == version, pc)
    r = run([os.path.join(prefix, "bin", "cnncam"), "--version"])
    check_quiet("cnncam --version prints cnncam_version(), the header's CNNCAM_VERSION",
                r.stdout == f"cnncam {version}\n", repr(r.stdout))
    check(f"the shared library is installed as libcnncam.so.{version}",
          os.path.exists(os.path.join(prefix, "lib", f"libcnncam.so.{version}")))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "prefix")
        r = run(["make", "-s", "install", f"PREFIX={prefix}", "BUILD=" + os.environ.get("CNNCAM_BUILD", "build")], cwd=ROOT)
        check("make install", r.returncode == 0, r.stderr.strip()[-500:])
        for f in ["lib/libcnncam.a", "lib/libcnncam.so", "lib/libcnncam.so.0", "include/cnncam.h",
                  "bin/cnncam", "lib/pkgconfig/cnncam.pc", "bin/cnncam-convert", "share/cnncam/python/cnncam_convert/ccm.py",
                  "share/cnncam/python/cnncam_convert/cli.py"]:
            check(f"installed {f}", os.path.exists(os.path.join(prefix, f)))
        check_exports_and_version(prefix)
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(prefix, "lib", "pkgconfig"))
        model = os.path.join(tmp, "m.ccm")
        # The installed converter, from outside the repository, with nothing on the environment
        # pointing back into it: its package, ccm.py and the calibration photos come from PREFIX.
        r = run([os.path.join(prefix, "bin", "cnncam-convert"), "--arch", "mobilenet_v3_small",
                 "--random-init", "--seed", "3", "-o", model], cwd=tmp, env={"PATH": "/usr/bin:/bin"})
        check("the installed cnncam-convert converts a model (run from outside the repository)",
              r.returncode == 0 and os.path.exists(model), r.stderr.strip()[-500:])
        if not os.path.exists(model):  # the rest still runs, on the repository's converter
            run([os.path.join(ROOT, "tools", "cnncam-convert"), "--arch", "mobilenet_v3_small",
                 "--random-init", "--seed", "3", "-o", model])
        cli_png = os.path.join(tmp, "cli.png")
        r = run([os.path.join(prefix, "bin", "cnncam"), "cam", "-m", model, "-o", cli_png, PHOTO])
        check("installed cnncam cam", r.returncode == 0, r.stderr.strip())
        for kind, extra in [("shared", []), ("static", ["--static"]), ("fully static", ["--static"])]:
            flags = run(["pkg-config", "--cflags", "--libs", *extra, "cnncam"], env=env)
            check(f"pkg-config {kind}", flags.returncode == 0, flags.stderr.strip())
            exe = os.path.join(tmp, f"example_{kind.replace(' ', '_')}")
            link = flags.stdout.split()
            if kind != "shared":  # the archive, not the .so beside it
                link = [a for a in link if a != "-lcnncam"]
                link.insert(0, os.path.join(prefix, "lib", "libcnncam.a"))
            if kind == "fully static":  # no shared library at all: libpng's -lz must be listed (issue 13)
                link.insert(0, "-static")
            r = run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror",
                     os.path.join(ROOT, "examples", "gradcam_example.c"), "-o", exe, *link,
                     f"-Wl,-rpath,{os.path.join(prefix, 'lib')}"])
            check(f"build the example ({kind})", r.returncode == 0, r.stderr.strip()[-800:])
            out = os.path.join(tmp, f"{kind.replace(' ', '_')}.png")
            r = run([exe, model, PHOTO, out])
            check(f"run the example ({kind})", r.returncode == 0, (r.stdout + r.stderr).strip())
            same = os.path.exists(out) and open(out, "rb").read() == open(cli_png, "rb").read()
            check(f"example overlay ({kind}) is byte-identical to cnncam cam -o", same)
        r = run(["g++", "-fsyntax-only", "-Wall", "-Wextra", "-Werror", "-x", "c++",
                 os.path.join(prefix, "include", "cnncam.h")])
        check("cnncam.h compiles as C++", r.returncode == 0, r.stderr.strip())
    passed = sum(results)
    print(f"install: {passed} passed, {len(results) - passed} failed")
    return 0 if results and all(results) else 1   # nothing checked: a failure


if __name__ == "__main__":
    sys.exit(main())
