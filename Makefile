# tars: `make run` starts the assistant, `make test` runs the whole suite.
# Both create .venv and install what is missing first (apt when root, pip always).

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.tars-installed
APP_DIRS := $(patsubst %/pyproject.toml,%,$(wildcard apps/*/pyproject.toml))
PYPROJECTS := packages/tars-core/pyproject.toml $(wildcard apps/*/pyproject.toml)
SYSTEM_PACKAGES := mosquitto mosquitto-clients libportaudio2 espeak-ng sox docker-compose pulseaudio pulseaudio-utils libasound2-plugins libspeexdsp1 chromium
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# llama-cpp-python builds from source; a native build crashes on some CPUs (AMX kernels).
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF

.PHONY: help run test test-docker docker-image lint bench sysdeps venv clean

help:
	@echo "make run    - install what is missing, then start the broker and every worker (tars up)"
	@echo "make test   - install what is missing, then run the whole test suite"
	@echo "make test-docker - build the image and run the stack with docker compose (tests/docker)"
	@echo "make lint   - ruff + mypy --strict"
	@echo "make bench  - run every benchmark and print its JSON"

sysdeps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing system packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else \
	  echo "missing system packages:$$missing (install them with: sudo apt-get install$$missing)"; \
	fi

$(STAMP): $(PYPROJECTS) config/constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q --no-deps $$($(PY) config/docker/deps.py --no-deps .)
	$(PIP) install -q -c config/constraints.txt \
	  -e "packages/tars-core[audio,test,dev]" $(foreach a,$(APP_DIRS),-e $(a))
	@touch $(STAMP)

venv: sysdeps $(STAMP)

run: venv
	$(VENV)/bin/tars up

test: venv
	$(PY) -m pytest

# The stack in containers: docker (installed and started when root), the image built from a local
# debootstrap base (no registry needed), then tests/docker against docker-compose.yml.
DOCKER_BASE ?= tars-base:bookworm
TARS_IMAGE ?= tars:latest
docker-image:
	tests/docker/ensure-docker.sh $(DOCKER_BASE)
	tests/docker/build.sh $(DOCKER_BASE) $(TARS_IMAGE)

test-docker: venv docker-image
	PYTHONPATH=tests/docker TARS_IMAGE=$(TARS_IMAGE) $(PY) -m pytest -s tests/docker/docker_stack.py

lint: venv
	$(VENV)/bin/ruff check --config config/ruff.toml packages apps tests
	$(VENV)/bin/mypy --config-file config/mypy.ini packages/tars-core/src/tars $(patsubst %/__init__.py,%,$(foreach a,$(APP_DIRS),$(wildcard $(a)/src/*/__init__.py)))

bench: venv
	$(VENV)/bin/tars bench all --json

clean:
	rm -rf $(VENV) .tars
