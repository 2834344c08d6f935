# Rekap Bansos: `make run` serves the app, `make test` runs every test (browser tests included),
# `make bench` measures every performance target (bench/results/latest.md), `make load` is the load test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
SUDO   := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
export FLASK_APP := wsgi.py

.PHONY: run dev test chromium bench load

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Perlu Python 3.11 atau lebih baru."; exit 1; }
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { rm -rf $(VENV); \
		echo "Memasang python3-venv…"; $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv \
		&& $(PYTHON) -m venv $(VENV); }

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install -q -r requirements-dev.txt
	@touch $@

$(VENV)/.installed-bench: requirements-bench.txt $(VENV)/.installed
	$(BIN)/pip install -q -r requirements-bench.txt
	@touch $@

run: $(VENV)/.installed
	$(BIN)/flask seed-demo --if-empty
	@echo "Rekap Bansos: buka http://localhost:$(PORT)"
	$(BIN)/gunicorn -c deploy/gunicorn.conf.py --bind $(HOST):$(PORT) wsgi:app

dev: $(VENV)/.installed
	$(BIN)/flask seed-demo --if-empty
	$(BIN)/flask run --debug --host $(HOST) --port $(PORT)

chromium:
	@command -v chromium >/dev/null || { echo "Memasang Chromium (Debian)…"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

test: $(VENV)/.installed-dev chromium
	$(BIN)/python -m pytest

bench: $(VENV)/.installed-bench
	$(BIN)/python bench/run.py

load: $(VENV)/.installed
	$(BIN)/python bench/load.py
