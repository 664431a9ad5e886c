"""check_gradients on the model families of tests/models.py: the promise, family by family.

A correct gradient (hand-written backprop, verified against autograd in test_zoo.py) is
never "fail", and is "pass" on the smooth families; an injected bug is never "pass". Run
both as the machine is and with GRADCHECK_FLOAT64_LONGDOUBLE=1 (see tests/__init__.py).
"""

import pytest

from gradcheck import check_gradients
from tests.models import FAMILIES

METHODS = ("central", "complex", "directional")
SEEDS = (0, 1)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_correct_gradients_are_never_fail(family, method):
    for seed in SEEDS:
        case = FAMILIES[family](seed)
        report = check_gradients(case.cost_fn, case.parameters, case.gradients, method=method)
        assert report.verdict != "fail", f"{family} seed {seed}\n{report}"


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_injected_bugs_are_never_pass(family, method):
    for seed in SEEDS:
        case = FAMILIES[family](seed)
        for bug, gradients in case.bugs.items():
            report = check_gradients(case.cost_fn, case.parameters, gradients, method=method)
            assert report.verdict != "pass", f"{family} seed {seed}, {bug}\n{report}"


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("family", sorted(name for name in FAMILIES
                                          if FAMILIES[name](0).kind == "smooth"))
def test_correct_gradients_of_smooth_families_pass(family, method):
    for seed in SEEDS:
        case = FAMILIES[family](seed)
        report = check_gradients(case.cost_fn, case.parameters, case.gradients, method=method)
        assert report.passed, f"{family} seed {seed}\n{report}"
