# `make serve` and `make test` set up their own virtual environment on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

PROFILE ?= 11.1
SHAPE ?= old
SOCKET ?= /tmp/fakeqemu.sock

.PHONY: venv serve test test-long lint typecheck pytest docs bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/fakeqemu serve --profile $(PROFILE) --shape $(SHAPE) --unix $(SOCKET) -v

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

# The API reference from the docstrings (mkdocs.yml): a warning fails the build.
docs: $(STAMP)
	$(BIN)/mkdocs build --strict --quiet --site-dir site

test: lint typecheck pytest docs

# What `make test` leaves out for time (FAKEQEMU_LONG=1): 100,000 fuzz inputs, QEMU's
# exact 64 MiB / 2M-token limits, 10,000 generated inputs against real QEMU
# ($$FAKEQEMU_REAL_QEMU picks the release).  Real QEMU reads 0.5 MB/s: about 20 minutes.
test-long: $(STAMP)
	FAKEQEMU_LONG=1 $(BIN)/pytest -m "slow or real_qemu"

# The load and fault benchmark takes about 40 min against one real QEMU (1 GiB of
# garbage at QEMU's 0.5 MB/s); BENCH_ARGS=--quick takes a few minutes.
BENCH_ARGS ?=
bench: $(STAMP)
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.drift
	$(BIN)/python -m bench.load $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .cache build site *.egg-info .mypy_cache .pytest_cache .ruff_cache
