# cnncam — GNU Makefile. `make help` lists the targets.
#
# Two builds of the same sources: the library (cc_real = float) under
# $(BUILD)/obj, and a double-precision build of the engine under $(BUILD)/obj64
# used only by the gradient-check tests, so those check the shipped kernels.

BUILD    ?= build
PREFIX   ?= /usr/local
# The version has one source, the header's CNNCAM_VERSION (cnncam_version()
# returns it at run time; tests/test_install.py checks the three agree).
VERSION  := $(shell sed -n 's/^\#define CNNCAM_VERSION "\(.*\)"$$/\1/p' include/cnncam.h)
SOVERSION := 0
CC       ?= cc
PYTHON   := /usr/bin/python3
CFLAGS   ?= -O3 -g
SAN      ?=
WARN     := -std=c11 -Wall -Wextra -Werror -Wshadow -Wvla -Wstrict-prototypes
# OpenBLAS (layers/gemm.c includes <cblas.h>): pkg-config's flags where it
# knows openblas (Debian: .../openblas-pthread), else /usr/include/openblas.
BLAS_CFLAGS := $(shell pkg-config --cflags openblas 2>/dev/null || echo -I/usr/include/openblas)
BLAS_LIBS   := $(shell pkg-config --libs openblas 2>/dev/null || echo -lopenblas)
CPPFLAGS := -Iinclude -I. -D_POSIX_C_SOURCE=200809L -MMD -MP $(BLAS_CFLAGS)
# No FP traps are ever enabled, so telling the compiler so changes no value;
# it lets -O3 if-convert float comparisons (clamps) and vectorise those loops.
FPFLAGS  := -fno-trapping-math
ALLFLAGS  = $(WARN) $(FPFLAGS) $(CFLAGS) $(SAN) -fPIC
# libpng and libjpeg(-turbo) for io/ (image files).
IMG_LIBS    := $(shell pkg-config --libs libpng 2>/dev/null || echo -lpng) -ljpeg
# ONNX files (onnx/): the schema Debian's libonnx-dev installs, compiled by
# protobuf-c into $(BUILD)/gen at build time, decoded by libprotobuf-c.
ONNX_PROTO  := /usr/include/onnx/onnx.proto  # protoc-c names it onnx/onnx.proto under -I/usr/include
ONNX_GEN    := $(BUILD)/gen/onnx/onnx.pb-c.c
PROTOBUF_LIBS := $(shell pkg-config --libs libprotobuf-c 2>/dev/null || echo -lprotobuf-c)
LDLIBS   := $(BLAS_LIBS) $(IMG_LIBS) $(PROTOBUF_LIBS) -lpthread -lm
CPPFLAGS += -I$(BUILD)/gen

ENGINE_SRC := $(wildcard core/*.c runtime/*.c layers/*.c engine/*.c autograd/*.c)
LIB_SRC    := $(ENGINE_SRC) $(wildcard api/*.c cam/*.c cam/methods/*.c image/*.c weights/*.c io/*.c onnx/*.c)
LIB_OBJ    := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/onnx.pb-c.o
LIB64_OBJ  := $(ENGINE_SRC:%.c=$(BUILD)/obj64/%.o)
# Test support code: every tests/*.c that is not a test_*.c main.
TESTSUPPORT := $(filter-out tests/test_%.c,$(wildcard tests/*.c))
TESTUTIL   := $(TESTSUPPORT:%.c=$(BUILD)/obj/%.o)
TESTUTIL64 := $(TESTSUPPORT:%.c=$(BUILD)/obj64/%.o)

# Tests that run in float against the library; those in TESTS_F64 also run
# in double against the obj64 build.
TESTS      := $(patsubst tests/%.c,%,$(wildcard tests/test_*.c))
TESTS_F64  := test_gradcheck_ops test_gradcheck_graphs
TEST_BINS  := $(TESTS:%=$(BUILD)/tests/%) $(TESTS_F64:%=$(BUILD)/tests/%_f64)
# Programs the Python tests drive (tests/tools/*.c).
TEST_TOOLS := $(patsubst tests/tools/%.c,$(BUILD)/tests/tools/%,$(wildcard tests/tools/*.c))

.PHONY: demo eval-loc eval-eigen-sign bias bench bench-deps print-flags print-ldlibs install install-python python all check \
        test test-c test-py asan fuzz fixtures deps clean help
.SECONDARY:  # keep object files that chained rules would delete
all: $(BUILD)/libcnncam.a $(BUILD)/libcnncam.so $(BUILD)/cnncam

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALLFLAGS) -c $< -o $@

# The tool sees the public header only, as any program built against the
# library does: an internal include in tools/ fails to compile.
$(BUILD)/obj/tools/%.o: tools/%.c
	@mkdir -p $(@D)
	$(CC) -Iinclude -D_POSIX_C_SOURCE=200809L -MMD -MP $(ALLFLAGS) -c $< -o $@

$(ONNX_GEN): $(ONNX_PROTO)
	@command -v protoc-c >/dev/null || { echo "protoc-c is missing: run make deps"; exit 1; }
	@mkdir -p $(BUILD)/gen
	protoc-c --c_out=$(BUILD)/gen -I/usr/include onnx/onnx.proto

$(BUILD)/obj/gen/onnx.pb-c.o: $(ONNX_GEN)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALLFLAGS) -c $< -o $@

# Everything that includes the generated header waits for it.
$(LIB_OBJ) $(TESTUTIL) $(TESTS:%=$(BUILD)/obj/tests/%.o) $(BUILD)/obj/tests/fuzz/fuzz_onnx.o: | $(ONNX_GEN)

$(BUILD)/obj64/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -DCC_REAL_DOUBLE $(ALLFLAGS) -c $< -o $@

$(BUILD)/libcnncam.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libcnncam64.a: $(LIB64_OBJ)
	@rm -f $@
	ar rcs $@ $^

# Exports the cnncam_* functions only (api/exports.map).
$(BUILD)/libcnncam.so: $(LIB_OBJ) api/exports.map
	$(CC) $(ALLFLAGS) -shared -Wl,-soname,libcnncam.so.$(SOVERSION) -Wl,--version-script=api/exports.map \
	  -o $@ $(LIB_OBJ) $(LDLIBS)

$(BUILD)/cnncam: $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tools/*.c)) $(BUILD)/libcnncam.a
	$(CC) $(ALLFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/tools/%: $(BUILD)/obj/tests/tools/%.o $(BUILD)/libcnncam.a
	@mkdir -p $(@D)
	$(CC) $(ALLFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%_f64: $(BUILD)/obj64/tests/%.o $(TESTUTIL64) $(BUILD)/libcnncam64.a
	@mkdir -p $(@D)
	$(CC) $(ALLFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TESTUTIL) $(BUILD)/libcnncam.a
	@mkdir -p $(@D)
	$(CC) $(ALLFLAGS) -o $@ $^ $(LDLIBS)

# The main job, offline and without Python: the demo model trained here
# (models/fashion_scenes.ccm, examples/train/) explains a held-out scene with two
# objects, one overlay per object's class: each class lights up its own object.
DEMO_SCENE := assets/demo/trouser_and_tshirt.png
demo: all
	@mkdir -p $(BUILD)/demo
	$(BUILD)/cnncam predict -m models/fashion_scenes.ccm --top 3 $(DEMO_SCENE)
	$(BUILD)/cnncam cam -m models/fashion_scenes.ccm -c Trouser -o $(BUILD)/demo/trouser.png $(DEMO_SCENE)
	$(BUILD)/cnncam cam -m models/fashion_scenes.ccm -c T-shirt/top -o $(BUILD)/demo/tshirt.png $(DEMO_SCENE)
	@echo "demo: wrote $(BUILD)/demo/trouser.png and $(BUILD)/demo/tshirt.png"

# Grad-CAM localisation of the demo model on 500 held-out scenes, at its
# recommended layer and two earlier ones (examples/eval/eval_loc.py).
eval-loc: all
	$(PYTHON) examples/eval/eval_loc.py --count 500 --layer features --layer features.9 --layer features.6 \
	  --out $(BUILD)/eval-loc.md

# Which sign of a principal component localises (EigenCAM, EigenGradCAM,
# --eigen-smooth): LAPACK's, its flip and cnncam's candidate rules on the same
# 500 held-out scenes (examples/eval/eigen_sign.py; docs/METHODS.md, "The sign
# of a principal component").
eval-eigen-sign: all
	$(PYTHON) examples/eval/eigen_sign.py --count 500 --layer features --layer features.9 --layer features.6 \
	  --cnncam $(BUILD)/cnncam --out $(BUILD)/eval-eigen-sign.md

# The bias experiment (examples/bias/): models/bias/'s pair, one trained with a
# spurious cue, on unbiased held-out scenes; the figure is drawn by cnncam.
bias: all $(BUILD)/bias_figure
	$(PYTHON) examples/bias/bias_experiment.py --out $(BUILD)/bias

$(BUILD)/bias_figure: $(BUILD)/obj/examples/bias/bias_figure.o $(BUILD)/libcnncam.a
	$(CC) $(ALLFLAGS) -o $@ $^ $(LDLIBS)

# cnncam against PyTorch and ONNX Runtime on this machine, alternating run by
# run; writes bench/RESULTS.md (bench/bench.py; needs make deps).
bench: all python bench-deps $(BUILD)/bench_cnncam
	$(PYTHON) bench/bench.py

# ONNX Runtime for the bench only (the library and the CLI never need it): the
# npm package onnxruntime-node carries its own libonnxruntime. Its install
# script fetches GPU extras the CPU bench does not use, so it is skipped.
ORT_VERSION := 1.31.1
bench-deps:
	@command -v node >/dev/null || { echo "bench-deps: Node.js is missing (apt-get install nodejs npm)"; exit 1; }
	@if [ -f $(BUILD)/ort/node_modules/onnxruntime-node/package.json ]; then echo "bench-deps: onnxruntime-node present"; \
	else mkdir -p $(BUILD)/ort && npm install --prefix $(BUILD)/ort --ignore-scripts --no-audit --no-fund \
	  --no-save onnxruntime-node@$(ORT_VERSION); fi

$(BUILD)/bench_cnncam: $(BUILD)/obj/bench/bench_cnncam.o $(BUILD)/libcnncam.a
	$(CC) $(ALLFLAGS) -o $@ $^ $(LDLIBS)

# What CI runs: every test, the C tests again under sanitizers, a short fuzz run.
check: test asan fuzz

# Everything: the C tests, then the converter and whole-model parity
# against PyTorch (these need `make deps`).
test: test-c test-py

# Runs every C test binary from the repository root; prints one line per
# binary (with its skipped checks and why) and a closing "N passed, N failed,
# N checks skipped" line; fails if any failed (tu_finish also fails a binary
# that checked nothing).
test-c: all $(TEST_BINS)
	@pass=0; fail=0; skip=0; \
	for t in $(TEST_BINS); do \
	  if $$t > $$t.log 2>&1; then pass=$$((pass+1)); r=PASS; else fail=$$((fail+1)); r=FAIL; fi; \
	  s=$$(sed -n 's/^.*: [0-9]* passed, [0-9]* failed, \([0-9]*\) skipped$$/\1/p' $$t.log | tail -n 1); \
	  s=$${s:-0}; skip=$$((skip+s)); \
	  if [ $$s -gt 0 ]; then echo "$$r $$t ($$s skipped)"; grep '^SKIP ' $$t.log | sed 's/^/  /'; \
	  else echo "$$r $$t"; fi; \
	  if [ $$r = FAIL ]; then tail -n 30 $$t.log; fi; \
	done; \
	echo "tests: $$pass passed, $$fail failed, $$skip checks skipped"; test $$fail -eq 0

# The Python package (python/): its extension module cnncam._native, built in
# place (python/cnncam/) over this build's libcnncam.a, so that the tests and
# PYTHONPATH=python use the tree as it is; install-python installs the
# package (pip, offline, no build isolation: Debian's setuptools and numpy)
# under PREFIX, or DESTDIR/PREFIX.
PY_NATIVE := python/cnncam/_native$(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
python: $(PY_NATIVE)
$(PY_NATIVE): $(BUILD)/libcnncam.a $(wildcard python/src/*.c python/src/*.h) include/cnncam.h python/setup.py
	cd python && CNNCAM_BUILD=$(abspath $(BUILD)) $(PYTHON) setup.py -q build_ext --inplace \
	  --build-temp $(abspath $(BUILD))/python
# pip installs into a staging folder (--target: no PEP 668 refusal, and no
# Debian scheme that turns --prefix P into P/local/lib/...), then the package
# goes to PY_SITE, on Debian's sys.path for PREFIX=/usr/local, and the
# cnncam-dask command to PREFIX/bin.
PY_SITE ?= $(PREFIX)/lib/python$(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')/dist-packages
install-python: $(BUILD)/libcnncam.a
	rm -rf $(BUILD)/python-install
	CNNCAM_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pip install -q --no-build-isolation --no-deps --no-index \
	  --root-user-action=ignore --target $(abspath $(BUILD))/python-install ./python
	install -d $(DESTDIR)$(PY_SITE) $(DESTDIR)$(PREFIX)/bin
	cd $(BUILD)/python-install && cp -r $$(ls -A | grep -vx bin) $(abspath $(DESTDIR)$(PY_SITE))/
	install -m 755 $(BUILD)/python-install/bin/cnncam-dask $(DESTDIR)$(PREFIX)/bin/

# The Python tests find the binaries of this build through CNNCAM_BUILD.
test-py: export CNNCAM_BUILD = $(BUILD)
test-py: all python $(TEST_TOOLS) $(BUILD)/bias_figure
	$(PYTHON) tests/test_converter.py
	$(PYTHON) tests/test_onnx.py
	$(PYTHON) tests/test_models.py
	$(PYTHON) tests/test_threads.py
	$(PYTHON) tests/test_gradcam.py
	$(PYTHON) tests/test_install.py
	$(PYTHON) tests/test_cli.py
	$(PYTHON) tests/test_cli_methods.py
	$(PYTHON) tests/test_reference_cams.py
	$(PYTHON) tests/test_methods.py
	$(PYTHON) tests/test_inputs.py
	$(PYTHON) tests/test_scenes.py
	$(PYTHON) tests/test_examples.py
	$(PYTHON) tests/test_python.py
	$(PYTHON) tests/test_python_compat.py
	$(PYTHON) tests/test_python_dask.py
	$(PYTHON) tests/test_concrete_trace.py
	$(PYTHON) tests/test_transformers.py

# The whole C test suite again under AddressSanitizer + UndefinedBehaviorSanitizer.
asan:
	$(MAKE) BUILD=build/asan CFLAGS="-O1 -g -fno-omit-frame-pointer" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" test-c

# libFuzzer on the model reader, then on the image and .npy readers, then on
# ONNX files (tests/fuzz/, which is not test support): the library and targets
# built by clang with AddressSanitizer, UBSan and coverage under build/fuzz,
# seeds written by make_fuzz_corpus and taken from tests/data/img,
# tests/data/npy and tests/data/onnx, then FUZZ_TIME seconds of fuzzing each;
# crashing inputs land in build/fuzz/crashes/ (prefixed image- and onnx-).
FUZZ_TIME ?= 30
fuzz:
	$(MAKE) BUILD=build/fuzz CC=clang CFLAGS="-O1 -g -fno-omit-frame-pointer" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fsanitize=fuzzer-no-link" \
	  build/fuzz/fuzz_reader build/fuzz/make_fuzz_corpus build/fuzz/fuzz_image build/fuzz/fuzz_onnx
	@mkdir -p build/fuzz/corpus build/fuzz/corpus_image build/fuzz/corpus_onnx build/fuzz/crashes
	build/fuzz/make_fuzz_corpus build/fuzz/seeds
	build/fuzz/fuzz_reader -max_total_time=$(FUZZ_TIME) -artifact_prefix=build/fuzz/crashes/ \
	  build/fuzz/corpus build/fuzz/seeds
	build/fuzz/fuzz_image -max_total_time=$(FUZZ_TIME) -artifact_prefix=build/fuzz/crashes/image- \
	  build/fuzz/corpus_image tests/data/img tests/data/npy
	build/fuzz/fuzz_onnx -max_total_time=$(FUZZ_TIME) -artifact_prefix=build/fuzz/crashes/onnx- \
	  build/fuzz/corpus_onnx tests/data/onnx

$(BUILD)/fuzz_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(BUILD)/obj/tests/fuzz/exercise.o $(BUILD)/libcnncam.a
	$(CC) $(ALLFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

$(BUILD)/make_fuzz_corpus: $(BUILD)/obj/tests/fuzz/make_fuzz_corpus.o $(BUILD)/libcnncam.a
	$(CC) $(ALLFLAGS) -o $@ $^ $(LDLIBS)

# Regenerates the committed fixtures: PyTorch parity (needs python3-torch),
# Grad-CAM post-processing and preprocessing by numpy, OpenCV, Pillow and torchvision,
# guided backprop and FullGrad gradients of a converted net (tests/models/guided_net.py),
# image pixels decoded by Pillow and .npy files written by NumPy, and numpy's
# SVD, eigen and RandomState answers for the eigen / KPCA / random CAMs.
fixtures:
	$(PYTHON) tests/gen_fixtures.py tests/fixtures/ops.ccfx
	$(PYTHON) tests/gen_linalg_fixtures.py tests/fixtures/linalg.ccgf
	$(PYTHON) tests/gen_gradcam_fixtures.py tests/fixtures/gradcam.ccgf
	$(PYTHON) tests/gen_guided_fixtures.py tests/fixtures
	$(PYTHON) tests/gen_image_fixtures.py
	$(PYTHON) tests/gen_npy_fixtures.py
	$(PYTHON) tests/gen_onnx_fixtures.py tests/data/onnx

# The libraries, the header, the tool and a pkg-config file under
# $(DESTDIR)$(PREFIX): `pkg-config --cflags --libs cnncam` then builds a
# program against it (examples/gradcam_example.c), and with --static a
# program without shared libraries: Libs.private lists what each dependency's
# own pkg-config file says a static link needs (libpng's -lz, OpenBLAS's
# -lgfortran), or plain names where a dependency has no .pc file. Also the
# converter: bin/cnncam-convert and its package (with ccm.py) under
# share/cnncam/python, and the photos --random-init calibrates on
# (tools/cnncam_convert/models.py: PHOTOS) under share/cnncam/assets/images.
pc_static = $(shell pkg-config --static --libs $(1) 2>/dev/null || echo $(2))
# GCC's static libgfortran (pulled in by OpenBLAS's LAPACK, which the eigen
# methods call) needs libquadmath, which no pkg-config file lists.
OPENBLAS_STATIC = $(call pc_static,openblas,-lopenblas)
QUADMATH = $(if $(and $(findstring -lgfortran,$(OPENBLAS_STATIC)),$(filter /%,$(shell $(CC) -print-file-name=libquadmath.a))),-lquadmath)
STATIC_LIBS = $(OPENBLAS_STATIC) $(QUADMATH) $(call pc_static,libpng,-lpng -lz) \
              $(call pc_static,libjpeg,-ljpeg) $(call pc_static,libprotobuf-c,-lprotobuf-c) -lpthread -lm
CONVERTER_DIR = $(PREFIX)/share/cnncam
CONVERTER_FILES = $(wildcard tools/cnncam_convert/*.py) tools/cnncam_convert/imagenet_classes.txt
CALIBRATION_PHOTOS = chelsea.png coffee.png astronaut.png rocket.jpg person.png kite.png scream.png
install: all
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin
	install -m 644 $(BUILD)/libcnncam.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libcnncam.so $(DESTDIR)$(PREFIX)/lib/libcnncam.so.$(VERSION)
	ln -sf libcnncam.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libcnncam.so.$(SOVERSION)
	ln -sf libcnncam.so.$(SOVERSION) $(DESTDIR)$(PREFIX)/lib/libcnncam.so
	install -m 644 include/cnncam.h $(DESTDIR)$(PREFIX)/include/
	install -m 755 $(BUILD)/cnncam $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' \
	  -e 's|@LIBS_PRIVATE@|$(strip $(STATIC_LIBS))|' cnncam.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/cnncam.pc
	install -d $(DESTDIR)$(CONVERTER_DIR)/python/cnncam_convert $(DESTDIR)$(CONVERTER_DIR)/assets/images
	install -m 644 $(CONVERTER_FILES) $(DESTDIR)$(CONVERTER_DIR)/python/cnncam_convert/
	install -m 644 $(CALIBRATION_PHOTOS:%=assets/images/%) assets/images/README.md $(DESTDIR)$(CONVERTER_DIR)/assets/images/
	install -m 755 tools/cnncam-convert $(DESTDIR)$(PREFIX)/bin/

# Installs every system package the project needs; a no-op when present.
DEBS := build-essential libopenblas-dev libjpeg62-turbo-dev libpng-dev \
        python3-torch python3-torchvision python3-numpy clang libclang-rt-14-dev \
        python3-opencv python3-pil dataset-fashion-mnist time \
        python3-dev python3-setuptools python3-pip python3-wheel python3-venv python3-distributed \
        libonnx-dev protobuf-c-compiler libprotobuf-c-dev python3-onnx
deps:
	@missing=$$(for p in $(DEBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  $$( [ $$(id -u) -eq 0 ] || echo sudo ) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$( [ $$(id -u) -eq 0 ] || echo sudo ) apt-get install -y -qq $$missing; \
	else echo "deps: all present"; fi

# The compiler flags of the library build (bench/RESULTS.md records them).
print-flags:
	@echo $(ALLFLAGS)

# The link flags a program using libcnncam.a needs (python/setup.py reads them).
print-ldlibs:
	@echo $(LDLIBS)

clean:
	rm -rf build

help:
	@echo "make            build $(BUILD)/libcnncam.a, $(BUILD)/libcnncam.so and $(BUILD)/cnncam"
	@echo "make demo       the demo model explains a two-object scene (no Python, no network)"
	@echo "make eval-loc   Grad-CAM localisation benchmark on 500 held-out scenes"
	@echo "make eval-eigen-sign  the sign rules of EigenCAM's principal component on the same scenes"
	@echo "make bench      cnncam vs PyTorch and ONNX Runtime, side by side: bench/RESULTS.md"
	@echo "make bench-deps ONNX Runtime for the bench (npm onnxruntime-node into $(BUILD)/ort)"
	@echo "make bias       the bias experiment: figure and numbers under $(BUILD)/bias"
	@echo "make check      test + asan + fuzz: what CI runs"
	@echo "make test       every test: C (float, and double gradient checks), converter, model parity"
	@echo "make test-c     the C tests only (no Python needed)"
	@echo "make asan       the same under AddressSanitizer + UndefinedBehaviorSanitizer"
	@echo "make fuzz       fuzz the model, ONNX, image and .npy readers for FUZZ_TIME=$(FUZZ_TIME) seconds each (clang, libFuzzer)"
	@echo "make fixtures   regenerate tests/fixtures and tests/data with PyTorch, numpy, OpenCV, PIL ($(PYTHON))"
	@echo "make deps       apt-get install what is missing: $(DEBS)"
	@echo "make install    PREFIX=/usr/local: libraries, cnncam.h, cnncam, pkg-config file, cnncam-convert"
	@echo "make python     the Python package's extension, in place (PYTHONPATH=python imports cnncam)"
	@echo "make install-python  the Python package (cnncam, cnncam.compat, cnncam.dask, cnncam_convert) under PREFIX"
	@echo "make clean      remove build/"

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
