# The two commands of the README.  Both create the virtual environment and install specc
# (with both frameworks) on first use.
#
#   make demo   train specs/digits_cnn.spec on scikit-learn's digits in PyTorch and in Keras,
#               then prove the two backends compute the same function
#   make test   the test suite, then `specc selftest --quick` (what CI runs); the sweeps marked
#               slow (every hostile name in every role in Keras) are left to make test-slow
#   make test-slow  the tests marked slow
#   make fuzz   10,000 generated and mutated specs through check, fmt, compile and both parsers (not in
#               make test; FUZZ_COUNT / FUZZ_SEED change the run)
#   make selftest     the full selftest (float32 and float64 runs of the whole corpus)
#   make verify-fuzz  `specc fuzz --count 500` in float64 and in float32 (VFUZZ_COUNT, VFUZZ_SEED)
#   make mutants      plant the bugs of benchmarks/mutants.py one at a time; count what is caught
#   make plant        plant the bugs of benchmarks/plant.py one at a time in process (monkeypatched
#                     backend code): does verify over specs/ and the corpus report each?
#
# Variables: PYTHON (interpreter to build the venv from), VENV (its folder), TORCH (the torch
# requirement installed first: the CPU build when a local wheel of it is available), PYTEST_ARGS.

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
PYTEST_ARGS ?=
BIN := $(VENV)/bin
STAMP := $(VENV)/.specc-installed

FUZZ_COUNT ?= 10000
FUZZ_SEED ?= 0
VFUZZ_COUNT ?= 500
VFUZZ_SEED ?= 0

.PHONY: demo test test-slow fuzz install clean bench bench-gpu selftest verify-fuzz mutants plant

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "$(TORCH)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[all]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/specc check specs/digits_cnn.spec
	$(BIN)/specc train specs/digits_cnn.spec --backend torch --out runs/digits_cnn-torch --overwrite
	$(BIN)/specc train specs/digits_cnn.spec --backend keras --out runs/digits_cnn-keras --overwrite
	$(BIN)/specc verify specs/digits_cnn.spec

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile -q --durations=15 -m "not slow" $(PYTEST_ARGS)
	$(BIN)/specc selftest --quick

test-slow: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile -q --durations=15 -m slow $(PYTEST_ARGS)

selftest: $(STAMP)
	$(BIN)/specc selftest

verify-fuzz: $(STAMP)
	$(BIN)/specc fuzz --count $(VFUZZ_COUNT) --seed $(VFUZZ_SEED) --dtype float64 --out runs/fuzz-float64
	$(BIN)/specc fuzz --count $(VFUZZ_COUNT) --seed $(VFUZZ_SEED) --dtype float32 --out runs/fuzz-float32

mutants: $(STAMP)
	$(BIN)/python benchmarks/mutants.py --out runs/mutants

plant: $(STAMP)
	$(BIN)/python benchmarks/plant.py --out runs/plant

# Benchmarks (outside the test suite): specc vs hand-written models (and Keras 3 on torch), and the
# same comparisons plus verify of every example spec on CUDA (skips cleanly without a GPU).
bench: $(STAMP)
	$(BIN)/python benchmarks/backend_speed.py

bench-gpu: $(STAMP)
	$(BIN)/python benchmarks/gpu.py

fuzz: $(STAMP)
	$(BIN)/python tests/fuzzing.py --count $(FUZZ_COUNT) --seed $(FUZZ_SEED)

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis
