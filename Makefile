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
	@echo "make test    run the whole test suite (Python, the UI's Vitest tests, the UI end-to-end in Chromium)"
	@echo "make ui      build the web UI (npm ci when the lock changed, then npm run build)"
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

test: setup ui browser
	cd $(UI) && npm test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# --- web UI (services/gateway/ui): React + TypeScript, built by Vite, served by the gateway ---
.PHONY: ui browser
UI := services/gateway/ui
UI_STAMP := $(UI)/node_modules/.scia-package-lock.sha256

# npm ci only when package-lock.json changed; the stamp holds the lock's hash, as scia-dev up checks it.
$(UI_STAMP): $(UI)/package-lock.json
	@command -v npm >/dev/null || { echo "npm is missing: install Node.js 20.19+ (e.g. apt-get install -y nodejs npm)"; exit 1; }
	cd $(UI) && npm ci --no-audit --no-fund
	sha256sum $(UI)/package-lock.json | cut -d' ' -f1 > $@

ui: $(UI_STAMP)
	cd $(UI) && npm run build

# Debian's chromium for the end-to-end tests (Playwright's own browser download is not used).
browser:
	@test -x /usr/bin/chromium || { \
	  echo "installing Debian's chromium for the UI end-to-end tests"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update && apt-get install -y chromium; \
	  else sudo apt-get update && sudo apt-get install -y chromium; fi; }

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
	rm -rf $(VENV) .scia .pytest_cache services/gateway/ui/node_modules services/gateway/ui/dist
