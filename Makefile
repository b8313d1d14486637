# Each target sets up (or refreshes) its own virtual environment first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PARITY_VENV ?= .venv-parity
# The labelme package reads our labelme exports in the tests; it needs PyQt5, so it lives in its
# own venv. Without it (no registry) those tests are skipped, never failed.
LABELME_VENV ?= .venv-labelme
# Datumaro reads our COCO and MOT exports and writes COCO for us in the tests (tests/io/test_datumaro.py);
# it pins its own dependencies, so it too has its own venv, and without it those tests are skipped.
DATUMARO_VENV ?= .venv-datumaro
# Ultralytics' own dataset checker loads our YOLO exports in the tests: torch (the CPU build), ultralytics and
# torchvision without their other requirements, and only what its dataset loader imports. Skipped when absent.
ULTRA_VENV ?= .venv-ultra
# wheel-smoke: the built wheel, installed (not editable) into this venv, deleted and made anew each time.
WHEEL_VENV ?= .venv-wheel
WHEEL_DIR ?= dist/wheel

.PHONY: setup run test lint bench parity clean package wheel-smoke

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The pinned CPU torch first: a bare torch requirement would pull a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	# The Ray extra too: tests/label/test_label_ray.py runs annotator label --ray on local clusters.
	$(PY) -m pip install -q -e ".[test,ray]"
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(PY) -m annotator $(if $(ARGS),$(ARGS),--sample)

lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

$(LABELME_VENV)/.installed:
	-$(PYTHON) -m venv $(LABELME_VENV) && $(LABELME_VENV)/bin/pip install -q labelme && touch $@

$(DATUMARO_VENV)/.installed:
	-$(PYTHON) -m venv $(DATUMARO_VENV) && $(DATUMARO_VENV)/bin/pip install -q datumaro && touch $@

$(ULTRA_VENV)/.installed:
	-$(PYTHON) -m venv $(ULTRA_VENV) && $(ULTRA_VENV)/bin/pip install -q torch==2.13.0 \
		&& $(ULTRA_VENV)/bin/pip install -q --no-deps ultralytics torchvision==0.28.0 \
		&& $(ULTRA_VENV)/bin/pip install -q numpy opencv-python-headless pyyaml pillow matplotlib && touch $@

# The Khronos glTF validator (npm, pinned in packaging/node/package.json) checks every GLB the 3D tests
# write; without node or the registry those checks are skipped, never failed.
packaging/node/node_modules/.installed: packaging/node/package.json
	-cd packaging/node && npm install --no-audit --no-fund --loglevel=error && touch node_modules/.installed

test: lint $(LABELME_VENV)/.installed $(DATUMARO_VENV)/.installed $(ULTRA_VENV)/.installed packaging/node/node_modules/.installed
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(PYTEST_ARGS)

# The one-folder app dist/annotator/annotator (packaging/annotator.spec). Small by default (classic
# engine only); ANNOTATOR_BUNDLE_TORCH=1 bundles torch, transformers and ONNX Runtime for the SAM engines.
package: $(STAMP)
	$(PY) -m pip install -q "pyinstaller>=6.10"
	$(VENV)/bin/pyinstaller --noconfirm --distpath dist --workpath build/pyinstaller packaging/annotator.spec
	QT_QPA_PLATFORM=offscreen dist/annotator/annotator --version

# Build the wheel, install it into a clean venv and run it from outside the source tree, so that a
# missing package-data file or import fails: `annotator --version` and an offscreen window smoke test.
wheel-smoke: $(STAMP)
	$(PY) packaging/render_icon.py --check
	rm -rf $(WHEEL_DIR) build/lib build/bdist.* $(WHEEL_VENV)
	$(PY) -m pip wheel -q --no-deps . -w $(WHEEL_DIR)
	$(PYTHON) -m venv $(WHEEL_VENV)
	$(WHEEL_VENV)/bin/pip install -q --upgrade pip
	# The pinned CPU torch first, as in setup.
	$(WHEEL_VENV)/bin/pip install -q torch==2.13.0
	$(WHEEL_VENV)/bin/pip install -q $(WHEEL_DIR)/annotator-*.whl
	set -e; smoke_dir=$$(mktemp -d); trap 'rm -rf "$$smoke_dir"' EXIT; cd "$$smoke_dir"; \
		$(abspath $(WHEEL_VENV))/bin/annotator --version; \
		QT_QPA_PLATFORM=offscreen $(abspath $(WHEEL_VENV))/bin/python $(CURDIR)/packaging/smoke.py --installed

bench: $(STAMP)
	$(PY) benchmarks/bench_project_open.py
	$(PY) benchmarks/bench_formats.py
	$(PY) benchmarks/bench_gui.py --engine classic --engine sam2.1-tiny
	$(PY) benchmarks/bench_video.py --frames 3000
	# On ../shared/data when present (the images at native size, 3 real sequences), else generated inputs
	$(PY) -m annotator bench --engine classic --clicks 60 --frames 40
	# SAM 2.1 tiny architecture with seeded random weights: the real compute, no download needed
	$(PY) -m annotator bench --engine sam2.1-tiny --weights random --device cpu --clicks 40 --frames 16
	$(PY) benchmarks/bench_decoder.py

# Parity with Meta's reference packages (segment-anything, sam2): not part of CI. Its own venv,
# since the reference packages need torchvision (a CUDA build by default) and sam2 builds from source.
$(PARITY_VENV)/.installed: pyproject.toml Makefile
	test -x $(PARITY_VENV)/bin/python || $(PYTHON) -m venv $(PARITY_VENV)
	$(PARITY_VENV)/bin/pip install -q --upgrade pip
	$(PARITY_VENV)/bin/pip install -q torch==2.14.1 torchvision==0.29.1
	# platformdirs, OpenCV, onnx(runtime): imported by our package (installed --no-deps); hypothesis: by
	# tests/conftest.py. With onnxruntime our CPU default (ONNX encoder and decoder) is what is compared.
	$(PARITY_VENV)/bin/pip install -q segment-anything "transformers>=5" safetensors numpy pytest pillow \
		platformdirs "opencv-python-headless<5" hypothesis onnxruntime onnx
	SAM2_BUILD_CUDA=0 $(PARITY_VENV)/bin/pip install -q --no-build-isolation sam2==1.1.0
	$(PARITY_VENV)/bin/pip install -q --no-deps -e .
	touch $@

parity: $(PARITY_VENV)/.installed
	$(PARITY_VENV)/bin/python -m pytest -p no:cacheprovider tests/parity $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(PARITY_VENV) $(LABELME_VENV) $(DATUMARO_VENV) $(ULTRA_VENV) $(WHEEL_VENV) .pytest_cache .ruff_cache .hypothesis build dist
