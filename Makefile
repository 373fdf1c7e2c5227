# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
MELTANO_STAMP := .meltano/.installed-stamp

.PHONY: setup demo tenants-demo test lint docs unit e2e bench clean distclean backfill

setup: $(STAMP)

# The project venv: the package (editable) with its test tools, at the versions of uv.lock (the
# ones CI tested; `uv lock` after changing pyproject's dependencies). uv makes the install fast.
$(STAMP): pyproject.toml uv.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check uv
	$(VENV)/bin/uv export --quiet --locked --extra test --no-emit-project --no-hashes -o $(VENV)/locked.txt
	$(VENV)/bin/uv pip install --quiet --python $(PY) -c $(VENV)/locked.txt -e '.[test]'
	touch $(STAMP)

# Meltano's own plugin venvs (pip_url: -e .), rebuilt when the package or meltano.yml changes,
# held to uv.lock's versions like the project venv: Meltano installs with uv (UV_CONSTRAINT) or,
# with venv.backend: virtualenv, with pip (PIP_CONSTRAINT). UV_OVERRIDE holds the demo's
# third-party plugins to them too: tap-jsonl 0.3.1 declares singer-sdk ~=0.53.4 and runs on the
# lock's 0.54 (`make demo` and tests/e2e/test_e2e_reports_jql.py run it).
$(MELTANO_STAMP): $(STAMP) meltano.yml pyproject.toml
	UV_CONSTRAINT="$(abspath $(VENV))/locked.txt" PIP_CONSTRAINT="$(abspath $(VENV))/locked.txt" \
	UV_OVERRIDE="$(abspath $(VENV))/locked.txt" \
	PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/meltano install
	touch $(MELTANO_STAMP)

demo: $(MELTANO_STAMP)
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m mixpanel_brevo_sandbox demo

# Three sandbox tenants through Dagster (all_tenants) on one PostgreSQL (docs/tenants.md).
tenants-demo: $(MELTANO_STAMP)
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m mixpanel_brevo_sandbox tenants-demo

# Export the events of START..END (dates, inclusive) under a state id of their own
# (<env>:...:backfill-START-END): production's bookmark never moves. ENV picks the Meltano
# environment (prod writes to Brevo; dev only counts; sandbox needs SANDBOX_URL). The shared
# ledger skips events Brevo already has. The suffix goes in MELTANO_RUN_STATE_ID_SUFFIX (not
# --state-id-suffix, which Meltano does not pass on) so the target's report names the backfill.
# START..END bounds what it reads, so the guard against a run reading months by mistake
# (max_backfill_days) is lifted for it; the tap still refuses a date that is not a real day.
ENV ?= prod
ifneq ($(filter backfill,$(MAKECMDGOALS)),)
ifeq ($(and $(START),$(END)),)
$(error usage: make backfill START=YYYY-MM-DD END=YYYY-MM-DD [ENV=prod|dev|sandbox])
endif
endif
backfill: $(MELTANO_STAMP)
	TAP_MIXPANEL_TAJO_START_DATE=$(START) TAP_MIXPANEL_TAJO_END_DATE=$(END) \
	TAP_MIXPANEL_TAJO__SELECT='["events.*"]' MELTANO_RUN_STATE_ID_SUFFIX=backfill-$(START)-$(END) \
	TAP_MIXPANEL_TAJO_MAX_BACKFILL_DAYS=36600 \
	PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/meltano --environment=$(ENV) run \
	  tap-mixpanel-tajo target-brevo-tajo

# ruff, the import contracts of pyproject.toml's [tool.importlinter], and mypy ([tool.mypy]).
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

# docs/settings.md's settings tables, rewritten from each plugin's --about.
docs: setup
	$(PY) .ci/settings_docs.py

# Every test, on TEST_WORKERS processes (pytest-xdist; two a core: many tests wait on the
# sandbox's pacing or on processes they start, and a second worker a core fills those waits).
# Each worker runs its e2e tests in a Meltano system folder of its own (tests/e2e/conftest.py).
# Bytecode first, in every venv (each with its own Python): the suite starts hundreds of Python
# processes, and under PYTHONDONTWRITEBYTECODE each would compile every module it imports again.
TEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print(2 * (os.cpu_count() or 1))')
test: $(MELTANO_STAMP) lint
	$(PY) -m compileall -q -j 0 $(VENV)/lib mixpanel_brevo_mapping tap_mixpanel_tajo target_brevo_tajo mixpanel_brevo_sandbox orchestration > /dev/null
	for venv in .meltano/*/*/venv; do $$venv/bin/python -m compileall -q -j 0 $$venv/lib > /dev/null; done
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal

unit: setup
	$(PY) -m pytest -m "not e2e"

# Each ratio of docs/performance.md's table, measured in one run (~15 min on 2 cores; not part
# of `make test`). BENCH_ARGS passes options, e.g. BENCH_ARGS='--profiles 20000,1000000' or '--quick'.
# Bytecode first: each plugin start is timed as an installed one starts (pip compiles at install,
# and Python caches it at first import), not compiling every module (PYTHONDONTWRITEBYTECODE).
bench: setup
	$(PY) -m compileall -q -j 0 $(VENV)/lib mixpanel_brevo_mapping tap_mixpanel_tajo target_brevo_tajo mixpanel_brevo_sandbox > /dev/null
	$(PY) benchmarks/bench_pipeline.py $(BENCH_ARGS)

# Build artefacts only: Meltano's state (.meltano/meltano.db) and the sync ledger stay, so the next
# run neither rereads history nor resends what Brevo already has.
clean:
	rm -rf $(VENV) output .meltano/extractors .meltano/loaders .meltano/run $(MELTANO_STAMP) \
		.pytest_cache .ruff_cache .import_linter_cache

# Everything clean removes, plus Meltano's state and the default sync ledger: only with CONFIRM=1,
# as the next run then reads from start_date again and may resend events Brevo already has.
ifneq ($(filter distclean,$(MAKECMDGOALS)),)
ifneq ($(CONFIRM),1)
$(error make distclean would delete Meltano's state (.meltano/) and the sync ledger (brevo-sync-ledger.sqlite), so the next run rereads from start_date and may resend events Brevo already has: run 'make distclean CONFIRM=1' to delete them)
endif
endif
distclean: clean
	rm -rf .meltano brevo-sync-ledger.sqlite brevo-sync-ledger.sqlite-*
	@echo "distclean removed Meltano's state (.meltano/) and the sync ledger (brevo-sync-ledger.sqlite):" \
		"the next run reads from start_date again and may resend events Brevo already has"
