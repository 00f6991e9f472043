# Rekindle: `make run` starts the dev stack, `make test` runs every test, `make bench` checks
# that every benchmark still runs (each in its short mode; BENCHMARKS.md).
PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .tools/bin/uv
PACKAGES := core workflows activities worker api cli

.PHONY: install run test bench lint fmt clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

.venv/.synced: pyproject.toml uv.lock $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

# Bytecode for our own packages (the worker's sandbox imports workflow modules afresh for every
# workflow it loads; where PYTHONDONTWRITEBYTECODE is set they would be compiled each time).
install: .venv/.synced
	@.venv/bin/python -m compileall -q -j0 $(PACKAGES)

run: install
	.venv/bin/rekindle up

test: install
	.venv/bin/pytest

# The bench group (lifetimes, py-spy) added to the venv; --inexact keeps what install put there.
bench: install
	$(UV) sync --frozen --inexact --group bench --python $(PYTHON)
	.venv/bin/python bench/short.py

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy .

fmt: install
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

clean:
	rm -rf .venv .tools .mypy_cache .ruff_cache .pytest_cache
