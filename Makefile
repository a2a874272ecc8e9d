# Two entry points: `make run` starts the app, `make test` runs the suite.
# Each creates .venv and installs the pinned requirements when needed.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt pyproject.toml | cksum | cut -d' ' -f1)
PORT   ?= 8501

.PHONY: run test lint bench

# The pinned requirements, then this project itself (editable: app/, cnnviz/ and models/ import from the checkout).
$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	$(PY) -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

run: $(STAMP)
	@echo "cnnviz: open http://localhost:$(PORT) in your browser"
	$(PY) -m streamlit run app/main.py --server.port $(PORT)

test: lint
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done
