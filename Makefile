# Two commands: `make test` (everything CI runs) and `make run` (execute the notebook into build/).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
NB := Gradient_Checking.ipynb
NBVAL := $(PY) -m pytest --nbval --nbval-current-env

.PHONY: test lint run lab bench figures clean assignment grade

$(VENV)/installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

lint: $(VENV)/installed
	$(PY) -m ruff check .

# The checker's own suites (unit, property, model families, layers), which run a second time
# below on a simulated platform whose np.longdouble is float64 (Windows, Apple silicon).
CHECKER_TESTS := tests/test_check_gradients.py tests/test_estimate.py tests/test_evaluate.py \
	tests/test_properties.py tests/test_families.py tests/test_vjp.py tests/test_gc_utils.py

# Unit tests, public-test checks and the stored notebook; the checker's suites again with
# np.longdouble = float64; the notebook again on the Prescott OpenBLAS kernel: its outputs
# must not depend on the CPU's BLAS kernel.
test: lint
	$(NBVAL) tests $(NB)
	GRADCHECK_FLOAT64_LONGDOUBLE=1 $(PY) -m pytest $(CHECKER_TESTS)
	OPENBLAS_CORETYPE=Prescott $(NBVAL) $(NB)

# The executed notebook, and ONE self-contained HTML file to hand around: figures embedded, and
# MathJax 3 (django-static-mathjax's single-file tex-svg bundle) inlined, so it needs no network.
run: $(VENV)/installed
	mkdir -p build
	$(PY) -m jupyter nbconvert --to notebook --execute --output-dir build $(NB)
	cp -r images build/
	$(PY) export_html.py build/$(NB) build/$(NB:.ipynb=.html)

lab: $(VENV)/installed
	$(PY) -m jupyter lab $(NB)

bench: $(VENV)/installed
	$(PY) bench/bench.py

figures: $(VENV)/installed
	$(PY) images/make_figures.py

# The learner edition, made from the solved notebook by code (assignment/make.py), written with
# the modules and images it needs beside it; `make grade NB=...` scores a notebook (exit 0 only at 5/5;
# GRADE_OPTIONS="--wall-seconds 20 ..." passes limits, see `python -m assignment.grade --help`).
assignment: $(VENV)/installed
	$(PY) -m assignment.make $(NB) build/Gradient_Checking_assignment.ipynb

grade: $(VENV)/installed
	$(PY) -m assignment.grade $(NB) $(GRADE_OPTIONS)

clean:
	rm -rf build $(VENV)
