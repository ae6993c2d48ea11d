# `make dev`: install everything, then run the local marketplace.
# `make test`: install everything, then run every test (forge + pytest).
# Only Python 3.11, Node 20 and npm are assumed; nothing is downloaded at run time.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NODE_BIN := $(CURDIR)/node_modules/.bin
export PATH := $(NODE_BIN):$(PATH)
# forge, py-solc-x and ape compile with the pinned solcjs through tools/solc.
export FOUNDRY_SOLC := $(CURDIR)/tools/solc
export FOUNDRY_OFFLINE := true
export SCATTER_SOLC := $(CURDIR)/tools/solc
export SOLCX_BINARY_PATH := $(CURDIR)/build/solcx
PYTEST_ARGS ?= -n 2 --dist loadgroup
BENCH_ADD_MIB ?= 1024

.PHONY: install dev test forge-test forge-coverage gas-snapshot pytest lint typecheck artifacts bench wasm dapp-wasm dapp chromium proxies native soak clean

install: $(VENV)/.installed node_modules/.installed build/solcx/.installed dapp/node_modules/.installed

# Quiet: one line per step; pip and npm print errors only (pip -qq: a pip.conf naming an index
# directory that lacks a package warns once per package otherwise). setuptools' notice that an editable
# install is editable (informational, nothing to do) is not shown.
$(VENV)/.installed: pyproject.toml
	@echo "Python: $(VENV) with scatter and its dev tools"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --quiet --upgrade pip
	@PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install --quiet --quiet -e '.[dev]'
	@touch $@

node_modules/.installed: package.json package-lock.json
	@echo "JavaScript: node_modules (solc, anvil/forge, Helia, test tools)"
	@npm ci --no-audit --no-fund --loglevel=error
	@touch $@

dapp/node_modules/.installed: dapp/package.json dapp/package-lock.json
	@echo "JavaScript: dapp/node_modules (Vite, TypeScript, viem)"
	@cd dapp && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The dapp (dapp/) built into the Python package (scatter/web/dapp, committed: `pip install` needs
# no Node; tests/dapp/test_build.py fails when it is stale).
dapp: dapp/node_modules/.installed
	cd dapp && npm run --silent build

# The browser tests drive Debian's Chromium (never a browser downloaded at run time).
chromium:
	@command -v /usr/bin/chromium >/dev/null || { echo "installing Debian's chromium (apt-get)"; \
		$$(command -v sudo) apt-get install -y --no-install-recommends chromium; }

# The reverse-proxy tests run Debian's nginx and Caddy with the configs in docker/proxy/: their
# packages are unpacked into build/proxies, not installed (no service starts on port 80, nothing
# outside the checkout changes, no root needed).
proxies: build/proxies/.installed

build/proxies/.installed:
	@echo "Debian's nginx and caddy: unpacked into build/proxies (apt-get download)"
	@rm -rf build/proxies && mkdir -p build/proxies/debs
	@cd build/proxies/debs && apt-get -qq -o APT::Sandbox::User=root download nginx caddy
	@for deb in build/proxies/debs/*.deb; do dpkg-deb -x $$deb build/proxies; done
	@touch $@

# py-solc-x (and ape-solidity through it) find compilers in SOLCX_BINARY_PATH as solc-v<version>.
build/solcx/.installed: tools/solc package.json
	@mkdir -p build/solcx
	@ln -sf $(CURDIR)/tools/solc build/solcx/solc-v$$(node -p 'require("./node_modules/solc/package.json").version')
	@touch $@

dev: install
	$(BIN)/scatter dev

test: install chromium proxies lint typecheck forge-test pytest

forge-test: node_modules/.installed
	forge test
	forge snapshot --check --match-contract Gas --snap contracts/.gas-snapshot
	# Market and MarketExtension (DELEGATECALL) must keep one storage layout.
	python3 scripts/same_storage_layout.py .forge/out Market MarketExtension

gas-snapshot: node_modules/.installed
	forge snapshot --match-contract Gas --snap contracts/.gas-snapshot

forge-coverage: node_modules/.installed
	forge coverage --report summary --no-match-coverage 'contracts/test/'

pytest: install
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check scatter tests scripts
	$(BIN)/ruff format --check scatter tests scripts

typecheck: $(VENV)/.installed
	$(BIN)/mypy

# Recompile contracts/ into scatter/chain/artifacts (tests check they are current).
artifacts: install
	$(BIN)/scatter contracts build

# The possession tree's keccak in WebAssembly (committed; tests check it against the Python
# reference). Needs Debian's clang and lld (apt-get install clang lld); no libc, no wasi-sdk.
WASM_DIR := scatter/formats/_merkle
wasm: $(WASM_DIR)/merkle.wasm
$(WASM_DIR)/merkle.wasm: $(WASM_DIR)/merkle.c $(WASM_DIR)/keccak_rc.h
	clang --target=wasm32 -nostdlib -fno-builtin -O3 -Wl,--no-entry -Wl,--export-dynamic \
		-Wl,--strip-all -o $@ $<

# The dapp's wasm (zfec's fec.c + the possession tree in 2-lane SIMD, no libc), committed like merkle.wasm.
dapp-wasm: dapp/wasm/scatter.wasm
dapp/wasm/scatter.wasm: dapp/wasm/build.sh dapp/wasm/glue.c dapp/wasm/zfec/fec.c dapp/wasm/merkle_simd.c $(WASM_DIR)/keccak_rc.h
	dapp/wasm/build.sh

# The native SIMD build of the same tree (optional C extension, not committed): pip install -e
# builds it; this rebuilds it in place after an edit of _native.c. Without it, merkle.wasm runs.
native: $(VENV)/.installed  # pip's isolated build (setuptools>=77) compiles it in place, as `pip install -e` does
	@PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install --quiet --quiet --no-deps -e .

# Benchmarks are commands, not tests: ratios against plain sha256 measured in the same run.
bench: install  # BENCH_ADD_MIB: file size for `scatter ipfs add` against sha256 (default 1 GiB)
	$(BIN)/python -m scatter.bench.ipfs --add-mib $(BENCH_ADD_MIB)
	$(BIN)/python -m scatter.bench.formats
	$(BIN)/python -m scatter.bench.validator
	$(BIN)/python -m scatter.bench.hoster
	$(BIN)/python -m scatter.bench.idle --minutes 5
	$(BIN)/python -m scatter.bench.e2e --size 200MiB
	$(BIN)/python -m scatter.bench.scale --bids 100 --minutes 3

soak: install  # an hour of uploads and pins on scatter dev, a restart, a hoster that deletes data
	$(BIN)/python -m scatter.bench.soak --minutes 60

clean:
	rm -rf build $(VENV) node_modules
