# Two entry points for a newcomer:
#   make demo   set up the environment and run the mini recipe end to end on a generated corpus
#   make test   set up the environment and run the test suite (what CI runs)
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install system-deps kenlm demo test test-slow bench

install: system-deps
	bash utils/install_venv.sh $(VENV)

# Flite (voices of the generated corpora); apt-gets it when run as root, else says what to run.
system-deps:
	bash utils/install_system_deps.sh

# KenLM's lmplz/build_binary (not on PyPI as programs); apt-gets Boost & co. when run as root.
kenlm:
	bash utils/install_kenlm.sh --install-deps

demo: install kenlm
	cd egs/mini/asr1 && ./run.sh

test: install kenlm
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

test-slow: install kenlm
	$(PY) -m pytest -m "slow" $(PYTEST_ARGS)

# Benchmarks (short runs; figures and commands are recorded in docs/benchmarks.md).
bench: install
	$(PY) bench/bench_pretrain.py --threads 1
	$(PY) bench/bench_update.py --size base --batch 2 --seconds 4 --updates 5 --threads 1
	$(PY) bench/bench_inference.py --sizes tiny base --utterances 2 --seconds 8 --threads 1
	$(PY) bench/bench_abx.py --threads 1
