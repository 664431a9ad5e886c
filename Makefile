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

# The executed notebook, and an HTML copy that renders offline: figures embedded, equations
# typeset by the MathJax that the jupyter-server-mathjax package ships, copied next to it.
MATHJAX_URL := mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full

run: $(VENV)/installed
	mkdir -p build
	$(PY) -m jupyter nbconvert --to notebook --execute --output-dir build $(NB)
	cp -r images build/
	$(PY) -m jupyter nbconvert --to html --embed-images --HTMLExporter.mathjax_url='$(MATHJAX_URL)' \
		--output-dir build build/$(NB)
	$(PY) -c "import jupyter_server_mathjax as m, pathlib, shutil; \
		shutil.copytree(pathlib.Path(m.__file__).parent / 'static', 'build/mathjax', dirs_exist_ok=True)"

lab: $(VENV)/installed
	$(PY) -m jupyter lab $(NB)

bench: $(VENV)/installed
	$(PY) bench/bench.py

figures: $(VENV)/installed
	$(PY) images/make_figures.py

clean:
	rm -rf build $(VENV)
