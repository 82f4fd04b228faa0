# Two entry points for a newcomer:
#   make demo   set up the environment and run the mini recipe end to end on a generated corpus
#   make test   set up the environment and run the test suite (what CI runs)
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install demo test test-slow bench clean-demo

install:
	bash utils/install_venv.sh $(VENV)

demo: install
	cd egs/mini/asr1 && ./run.sh

test: install
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

test-slow: install
	$(PY) -m pytest -m "slow" $(PYTEST_ARGS)

bench: install
	$(PY) -m bench.run_all
