"""The cnncam Python package: the C library as a CPython extension
(cnncam._native, statically linked with the repository's libcnncam.a, which
this builds with make first), the native API, the pytorch-grad-cam drop-in
(cnncam.compat), cnncam.dask, and the converter (cnncam_convert, from
../tools) that the drop-in uses to turn a torch module into a .ccm.

Offline, with Debian's tools: `make python` (in place, for the tests),
`make install-python`, or `python3 -m pip install --no-build-isolation ./python`
(from the repository's root; in a virtual environment made with
--system-site-packages, so that numpy and torch are seen)."""
import os
import subprocess

import numpy
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# The library's build directory, relative to the repository (make's BUILD).
BUILD = os.environ.get("CNNCAM_BUILD", "build")


def version():
    with open(os.path.join(ROOT, "include", "cnncam.h")) as f:
        for line in f:
            if line.startswith("#define CNNCAM_VERSION "):
                return line.split('"')[1]
    raise RuntimeError("include/cnncam.h has no CNNCAM_VERSION")


class BuildWithLibrary(build_ext):
    """Builds libcnncam.a with the repository's Makefile (one build
    definition), then links it into the extension with make's link flags;
    --exclude-libs keeps the library's internal symbols out of the module's
    exports."""

    def run(self):
        subprocess.run(["make", "-C", ROOT, "BUILD=" + BUILD, BUILD + "/libcnncam.a"], check=True)
        ldlibs = subprocess.run(["make", "-s", "-C", ROOT, "BUILD=" + BUILD, "print-ldlibs"], check=True,
                                capture_output=True, text=True).stdout.split()
        for ext in self.extensions:
            ext.extra_objects = [os.path.join(ROOT, BUILD, "libcnncam.a")]
            ext.extra_link_args = ["-Wl,--exclude-libs,ALL"] + ldlibs
        super().run()


native = Extension(
    "cnncam._native",
    sources=sorted(os.path.join("src", f) for f in os.listdir(os.path.join(HERE, "src")) if f.endswith(".c")),
    depends=[os.path.join("src", "native.h"), os.path.join(ROOT, "include", "cnncam.h")],
    include_dirs=[os.path.join(ROOT, "include"), numpy.get_include()],
    extra_compile_args=["-std=c11", "-Wall", "-Wextra", "-Werror", "-Wshadow", "-Wvla", "-Wno-unused-function",
                        "-fno-trapping-math", "-O2"],
)

setup(
    name="cnncam",
    version=version(),
    description="Grad-CAM and the CAM family for PyTorch CNNs, computed in C",
    packages=["cnncam", "cnncam.compat", "cnncam.compat.utils", "cnncam_convert"],
    package_dir={"cnncam": "cnncam", "cnncam_convert": os.path.relpath(os.path.join(ROOT, "tools", "cnncam_convert"),
                                                                       HERE)},
    package_data={"cnncam_convert": ["imagenet_classes.txt"]},
    ext_modules=[native],
    cmdclass={"build_ext": BuildWithLibrary},
    entry_points={"console_scripts": ["cnncam-dask = cnncam.dask:main"]},
    python_requires=">=3.9",
    install_requires=["numpy"],
)
