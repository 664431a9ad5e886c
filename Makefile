# Two commands: `make test` (everything CI runs) and `make run` (execute the notebook into build/).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
NB := Gradient_Checking.ipynb
NBVAL := $(PY) -m pytest --nbval --nbval-current-env

.PHONY: test lint run lab bench figures clean assignment grade autograder

$(VENV)/installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

lint: $(VENV)/installed
	$(PY) -m ruff check .

# The checker's own suites (unit, stage, property, model families, layers, gc_utils), which run a
# second time below on a simulated platform whose np.longdouble is float64 (Windows, Apple
# silicon). The checker computes in float64 alone, so they must give the same results there.
CHECKER_TESTS := tests/test_check_gradients.py tests/test_estimate.py tests/test_evaluate.py \
	tests/test_methods.py tests/test_judge.py tests/test_explain.py tests/test_properties.py \
	tests/test_families.py tests/test_vjp.py tests/test_gc_utils.py tests/test_real_layers.py

# Unit tests, public-test checks, the grader's attacks and the stored notebook; the checker's
# suites again with np.longdouble = float64; the notebook again on the Prescott OpenBLAS kernel:
# its outputs must not depend on the CPU's BLAS kernel.
test: lint
	$(NBVAL) tests $(NB)
	GRADCHECK_FLOAT64_LONGDOUBLE=1 $(PY) -m pytest $(CHECKER_TESTS)
	OPENBLAS_CORETYPE=Prescott $(NBVAL) $(NB)

# The kernel talks to nbconvert over IPC (Unix sockets in Jupyter's runtime directory) instead of
# unencrypted TCP on localhost, so ipykernel has no "running over TCP without encryption" to warn about.
KERNEL_TRANSPORT := --KernelManager.transport=ipc

# The executed notebook, and ONE self-contained HTML file to hand around: figures embedded with the
# alt text of their cells, and MathJax 3 (django-static-mathjax's single-file tex-svg bundle)
# inlined, so it needs no network.
run: $(VENV)/installed
	mkdir -p build
	$(PY) -m jupyter nbconvert --to notebook --execute $(KERNEL_TRANSPORT) --output-dir build $(NB)
	cp -r images build/
	$(PY) export_html.py build/$(NB) build/$(NB:.ipynb=.html)

# Jupyter refuses to start as root (as in most containers) unless told --allow-root; LAB_ARGS passes
# more options, e.g. make lab LAB_ARGS="--no-browser --ip 127.0.0.1 --port 8890".
LAB_ARGS ?=
lab: $(VENV)/installed
	$(PY) -m jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS) $(NB)

bench: $(VENV)/installed
	$(PY) bench/bench.py
	$(PY) bench/bench_grading.py

figures: $(VENV)/installed
	$(PY) images/make_figures.py

# The learner edition, made from the solved notebook by code (assignment/make.py), written with
# the modules and images it needs beside it.
assignment: $(VENV)/installed
	$(PY) -m assignment.make $(NB) build/Gradient_Checking_assignment.ipynb

# NB=<one file>: that notebook's grade (exit 0 only at 5/5). NB=<folder or quoted glob>: the whole class, JOBS at a time
# (default: the number of cores), into OUT (default build/grades/): gradebook.csv, feedback/, report.html.
# GRADE_OPTIONS="--wall-seconds 20 ..." (limits) go to the grader either way (`python -m assignment.grade --help`).
grade: $(VENV)/installed
	@if [ -f "$(NB)" ]; then $(PY) -m assignment.grade "$(NB)" $(GRADE_OPTIONS); \
	else $(PY) -m assignment.batch "$(NB)" $(if $(JOBS),--jobs $(JOBS)) $(if $(OUT),--out "$(OUT)") $(GRADE_OPTIONS); fi

# The Gradescope autograder (setup.sh, run_autograder and the grader's files) in build/autograder.zip.
autograder: $(VENV)/installed
	$(PY) -m assignment.gradescope build build/autograder.zip

clean:
	rm -rf build $(VENV)
