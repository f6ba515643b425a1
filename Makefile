# SCIA developer commands. `make up` runs the local stack, `make test` the whole test suite;
# both set up .venv first when it is missing or out of date.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.scia-installed
# Every package of the suite, installed editable into one development venv.
PACKAGES := libs/contracts libs/runtime compositions libs/devstack services/embedder services/rag services/planner services/gateway services/operator
PYTEST_ARGS ?=

.PHONY: help setup up test bench protos protos-check lock clean

help:
	@echo "make up      run the local stack (embedded defaults, no cluster needed)"
	@echo "make test    run the whole test suite"
	@echo "make bench   run the benchmarks, write bench/results/ and print a summary"
	@echo "make protos  regenerate the gRPC stubs from protos/"
	@echo "make lock    re-pin requirements/constraints.txt from the current venv"

setup: $(STAMP)

$(STAMP): requirements/constraints.txt requirements/dev.txt $(addsuffix /pyproject.toml,$(PACKAGES))
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first and pinned: the CPU build; an unpinned torch would pull CUDA packages.
	$(BIN)/pip install --quiet -c requirements/constraints.txt torch==2.13.0
	$(BIN)/pip install --quiet -c requirements/constraints.txt -r requirements/dev.txt $(addprefix -e ,$(PACKAGES))
	touch $@

up: setup
	$(BIN)/scia-dev up

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup
	$(BIN)/python -m bench

protos: setup
	$(BIN)/python tools/protogen.py

protos-check: setup
	$(BIN)/python tools/protogen.py --check

lock: setup
	{ echo "# Every package version SCIA installs, direct and transitive (pip constraints)."; \
	  echo "# Regenerate after changing a dependency: make lock"; \
	  $(BIN)/pip freeze --exclude-editable | sed 's/+cpu$$//'; } > requirements/constraints.txt

clean:
	rm -rf $(VENV) .scia .pytest_cache
