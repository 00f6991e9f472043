# Rekindle: `make run` starts the dev stack, `make test` runs every test.
PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .tools/bin/uv

.PHONY: install run test lint fmt clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

.venv/.synced: pyproject.toml uv.lock $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

install: .venv/.synced

run: install
	.venv/bin/rekindle up

test: install
	.venv/bin/pytest

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy .

fmt: install
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

clean:
	rm -rf .venv .tools .mypy_cache .ruff_cache .pytest_cache
