"""Shared fixtures: the notebook's own functions, loaded from its code cells."""

import ast
import json
import pathlib

import pytest

NOTEBOOK = pathlib.Path(__file__).resolve().parent.parent / "Gradient_Checking.ipynb"


def code_cells():
    """Sources of the notebook's code cells, in order."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


@pytest.fixture(scope="session")
def notebook():
    """Namespace holding the notebook's imports and every function it defines.

    Only the imports cell and the function definitions run, so the fixture is
    fast and does not depend on the notebook's demonstrations.
    """
    namespace = {}
    sources = code_cells()
    imports = "\n".join(line for line in sources[0].splitlines() if not line.startswith("%"))
    exec(compile(imports, "<notebook imports>", "exec"), namespace)
    for source in sources[1:]:
        tree = ast.parse("\n".join(line for line in source.splitlines() if not line.startswith("%")))
        tree.body = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
        exec(compile(tree, "<notebook cell>", "exec"), namespace)
    return namespace


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "needs_extended_precision: needs an np.longdouble wider than float64 "
        "(skipped where it is float64, and with GRADCHECK_FLOAT64_LONGDOUBLE=1)")


def pytest_collection_modifyitems(config, items):
    """Skip the tests marked needs_extended_precision where np.longdouble is float64."""
    import numpy as np  # np.longdouble as tests/__init__.py left it

    if np.finfo(np.longdouble).eps < np.finfo(np.float64).eps:
        return
    skip = pytest.mark.skip(reason="needs an np.longdouble wider than float64")
    for item in items:
        if "needs_extended_precision" in item.keywords:
            item.add_marker(skip)
