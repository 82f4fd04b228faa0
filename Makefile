# Two entry points for a newcomer:
#   make demo   set up the environment and run the mini recipe end to end on a generated corpus
#   make test   set up the environment and run the test suite (what CI runs)
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install kenlm demo test test-slow bench

install:
	bash utils/install_venv.sh $(VENV)

# KenLM's lmplz/build_binary (not on PyPI as programs); apt-gets Boost & co. when run as root.
kenlm:
	bash utils/install_kenlm.sh --install-deps

demo: install kenlm
	cd egs/mini/asr1 && ./run.sh

test: install kenlm
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

test-slow: install kenlm
	$(PY) -m pytest -m "slow" $(PYTEST_ARGS)

bench: install
	$(PY) -m bench.run_all
