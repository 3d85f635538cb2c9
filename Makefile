# Quickstart: `make run` (the embedded default experiment) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1

.PHONY: install run test test-fast ui lint format bench bench-sweep docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first and pinned: anything else would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/xlt-train $(ARGS)

ui: install
	$(BIN)/xlt-ui $(ARGS)

# Two test processes, each running whole files (`--dist loadfile`): a module's fixtures (the
# SLURM cluster on its fixed ports, a shared trained run) start once. Most tests wait on
# single-threaded process start-up and SQLite, so two processes use 2 cores where one used 1.1
# (docs/development.md has the times). TEST_WORKERS=0 runs them in this process.
TEST_WORKERS ?= 2

test: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# Speed, measured side by side in one session (docs/benchmarks.md has the latest numbers).
bench: install
	for b in kernels train_throughput step_pairs attention_kernel data_cache hub_data eval_throughput predict_throughput served_model probe_cache freeze_lower_cache masked_lm startup profile_step sweep_overhead step_vs_commit; do $(BIN)/python benchmarks/$$b.py || exit 1; done

# Time-to-result of the whole strategy comparison, sequential vs parallel trials (long: its own
# target, not part of `make bench`).
bench-sweep: install
	$(BIN)/python benchmarks/sweep_wall.py $(SWEEP_ARGS)

# The documentation site from docs/ into outputs/site/: generated tables (options, config
# fields, protocol rules) rewritten first; --strict fails on a broken link or a stale table.
docs: install
	$(BIN)/python -m xlt.config.reference docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# The inner loop: unit and component tests; nothing that trains end to end, starts a server,
# SLURM or a browser, or loads the real encoder (tests/conftest.py marks those `e2e`).
test-fast: install
	$(BIN)/python -m pytest -m "not slow and not e2e" $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check xlt xlt_serving tests hydra_plugins benchmarks
	$(BIN)/ruff format --check xlt xlt_serving tests hydra_plugins benchmarks

format: install
	$(BIN)/ruff format xlt xlt_serving tests hydra_plugins benchmarks
	$(BIN)/ruff check --fix xlt xlt_serving tests hydra_plugins benchmarks

clean:
	rm -rf $(VENV) outputs .pytest_cache .ruff_cache
