# The README's two commands: `make devnet` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: devnet test test-slow bench install clean vectors

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
