# The README's two commands: `make devnet` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: devnet test test-slow test-chaos bench bench-run peers install clean vectors

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

devnet: $(STAMP)
	$(BIN)/seqnet devnet up

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	$(BIN)/python bench/protocol_bench.py

# Golden vectors from the EF's executable spec; it pins an old coincurve, so it gets its own venv.
vectors:
	test -x .venv-vectors/bin/python || $(PYTHON) -m venv .venv-vectors
	.venv-vectors/bin/pip install -q ethereum-execution==2.20.0 rlp==5.0.0
	.venv-vectors/bin/python tests/vectors/make_vectors.py

clean:
	rm -rf $(VENV) .venv-vectors .devnet

# Chaos suites: the short one also runs in `make test`; this runs the long ones too.
test-chaos: $(STAMP)
	$(BIN)/python -m pytest -q -m chaos -o addopts=''

# Peer devnets for bench/run.py's comparison (npm registry; binaries stay out of git in .peers/).
peers:
	npm install --silent --no-save --prefix .peers @foundry-rs/anvil-linux-amd64@1.7.1 ganache@7.9.2

bench-run: $(STAMP) peers
	$(BIN)/python bench/run.py
