# Two commands: `make test` (everything CI runs) and `make run` (execute the notebook into build/).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
NB := Gradient_Checking.ipynb
NBVAL := $(PY) -m pytest --nbval --nbval-current-env

.PHONY: test lint run lab bench figures clean

$(VENV)/installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

lint: $(VENV)/installed
	$(PY) -m ruff check .

# Unit tests, public-test checks and the stored notebook, then the notebook again on the
# Prescott OpenBLAS kernel: its outputs must not depend on the CPU's BLAS kernel.
test: lint
	$(NBVAL) tests $(NB)
	OPENBLAS_CORETYPE=Prescott $(NBVAL) $(NB)

run: $(VENV)/installed
	mkdir -p build
	$(PY) -m jupyter nbconvert --to notebook --execute --output-dir build $(NB)

lab: $(VENV)/installed
	$(PY) -m jupyter lab $(NB)

bench: $(VENV)/installed
	$(PY) bench/bench.py

figures: $(VENV)/installed
	$(PY) images/make_figures.py

clean:
	rm -rf build $(VENV)
