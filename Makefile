# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
MELTANO_STAMP := .meltano/.installed-stamp

.PHONY: setup demo test lint docs unit e2e bench clean

setup: $(STAMP)

# The project venv: the package (editable) with its test tools. uv makes the install fast.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check uv
	$(VENV)/bin/uv pip install --quiet --python $(PY) -e '.[test]'
	touch $(STAMP)

# Meltano's own plugin venvs (pip_url: -e .), rebuilt when the package or meltano.yml changes.
$(MELTANO_STAMP): $(STAMP) meltano.yml pyproject.toml
	PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/meltano install
	touch $(MELTANO_STAMP)

demo: $(MELTANO_STAMP)
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m sandbox demo

# ruff, and the import contracts of pyproject.toml's [tool.importlinter].
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

# The README's settings tables, rewritten from each plugin's --about.
docs: setup
	$(PY) .ci/readme_settings.py

test: $(MELTANO_STAMP) lint
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m pytest

unit: setup
	$(PY) -m pytest -m "not e2e"

bench: setup
	$(PY) benchmarks/bench_pipeline.py

clean:
	rm -rf $(VENV) .meltano output
