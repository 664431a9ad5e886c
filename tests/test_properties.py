"""Property tests of `gc_utils.check_gradients` on random networks (hypothesis).

Networks come from `testCases.deep_network_case` and are scored by the reference network of
`tests.networks` (RELU hidden layers, SIGMOID output, cross-entropy plus an optional L2
term). The strategy `network_cases` draws, independently:

- depth L (number of weight layers) in DEPTHS = 2..5;
- the input width n_x and every hidden width in WIDTHS = 1..12 (the output width is 1);
- m in EXAMPLES = 1..40;
- the weight scale (standard deviation of weights and biases) in
  [MIN_WEIGHT_SCALE, MAX_WEIGHT_SCALE] = [0.05, 4], so deep networks saturate their sigmoid
  and sometimes make the cost inf or nan;
- lambd = 0 (no L2 term) or lambd in [MIN_LAMBD, MAX_LAMBD] = [0.01, 5];
- the seed of the data and weights, and the `seed` passed to `check_gradients`.

Properties, for each method in METHODS (and for every report: `assert_reason_is_readable`):

- correct backprop never gets the verdict "fail";
- an injected backprop bug never gets "pass". A draw only counts when the bug changes the
  gradient vector by a relative amount of at least MATERIAL (1e-4, i.e. equation (2) of at
  least ~5e-5, far above the 1e-7 threshold); otherwise `assume` discards it, since a bug
  that changes nothing (a zero gradient scaled, dead ReLUs making a mask irrelevant, m = 1
  for a missing 1/m) is no bug at all.

Examples: max_examples = 500 per method for correct backprop and 200 per (bug, method), with
derandomize=True (the same draws on every run); about 25 s on 2 cores. The verdicts are
counted per method in VERDICTS (correct backprop) and BUG_VERDICTS (material bugs: how many
are caught as "fail" rather than only not passed) and printed at the end of the module.
For a rate over uniformly drawn networks (the hypothesis draws lean towards small and
boundary cases), run::

    .venv/bin/python -m tests.test_properties --networks 200
"""

import argparse
import collections
import os
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import gc_utils
import testCases
from tests import networks

METHODS = ("central", "complex", "directional")
DEPTHS = (2, 5)
WIDTHS = (1, 12)
EXAMPLES = (1, 40)
MIN_WEIGHT_SCALE, MAX_WEIGHT_SCALE = 0.05, 4.0
MIN_LAMBD, MAX_LAMBD = 0.01, 5.0
MATERIAL = 1e-4
# derandomize: the same examples on every run, so CI is reproducible.
CORRECT_SETTINGS = settings(max_examples=500, deadline=None, derandomize=True, database=None,
                            suppress_health_check=[HealthCheck.too_slow])
BUG_SETTINGS = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                        suppress_health_check=[HealthCheck.too_slow,
                                               HealthCheck.filter_too_much])

# method -> Counter of verdicts on correct backprop ("error" for a refused non-finite cost),
# and the same on material injected bugs (how many are caught as "fail", not only not passed).
VERDICTS = {method: collections.Counter() for method in METHODS}
BUG_VERDICTS = {method: collections.Counter() for method in METHODS}
# The population of the counts printed after the module: hypothesis leans to boundary cases,
# so its draws include non-finite and saturated costs, which can only be inconclusive or
# refused; the uniform rates per finite cost are `python -m tests.test_properties`.
DRAWS = ("hypothesis draws, including non-finite and saturated costs (and the shrinking "
         "steps of any failing test)")


class Network:
    """A drawn network; its repr is the call that rebuilds it (hypothesis prints it)."""

    def __init__(self, layer_dims, m, seed, weight_scale, lambd):
        self.layer_dims, self.m, self.seed = list(layer_dims), m, seed
        self.weight_scale, self.lambd = weight_scale, lambd
        self.X, self.Y, self.parameters = testCases.deep_network_case(
            self.layer_dims, m, seed, weight_scale)

    def __repr__(self):
        return (f"Network(layer_dims={self.layer_dims}, m={self.m}, seed={self.seed}, "
                f"weight_scale={self.weight_scale!r}, lambd={self.lambd!r})")

    def backward(self, lambd=None):
        """Correct gradients from `networks.backward` (for the cost with `lambd`)."""
        lambd = self.lambd if lambd is None else lambd
        with np.errstate(all="ignore"):  # log(0) in the forward pass of a saturated net
            return networks.backward(self.X, self.Y, self.parameters, lambd)


@st.composite
def network_cases(draw, min_depth=DEPTHS[0], min_m=EXAMPLES[0], l2=None, equal_hidden=False):
    """Random networks as described in the module docstring.

    Parameters
    ----------
    min_depth, min_m : int
        Raise the lower end of DEPTHS or EXAMPLES.
    l2 : bool or None
        True: always an L2 term; None: with or without.
    equal_hidden : bool
        All hidden layers share one width (so one layer's ReLU mask fits another).
    """
    width = st.integers(*WIDTHS)
    depth = draw(st.integers(min_depth, DEPTHS[1]))
    n_x = draw(width)
    if equal_hidden:
        hidden = [draw(width)] * (depth - 1)
    else:
        hidden = draw(st.lists(width, min_size=depth - 1, max_size=depth - 1))
    m = draw(st.integers(min_m, EXAMPLES[1]))
    weight_scale = draw(st.floats(MIN_WEIGHT_SCALE, MAX_WEIGHT_SCALE))
    with_l2 = st.floats(MIN_LAMBD, MAX_LAMBD)
    lambd = draw(with_l2 if l2 else st.just(0.0) | with_l2)
    seed = draw(st.integers(0, 2**32 - 1))
    return Network([n_x, *hidden, 1], m, seed, weight_scale, lambd)


check_seeds = st.integers(0, 2**16)


@pytest.fixture(scope="module", autouse=True)
def _print_verdict_counts(request):
    """After the module, print the verdict counts per method (correct backprop, bugs)."""
    yield
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    if reporter is None or capture is None or not any(VERDICTS.values()):
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line("")
        for line in _format_counts(VERDICTS, f"correct backprop, {DRAWS}"):
            reporter.write_line(line)
        for line in _format_counts(BUG_VERDICTS, f"material injected bugs, {DRAWS}"):
            reporter.write_line(line)


# Helpers.


def run_check(net, gradients, method, seed=0):
    """`check_gradients` on `net`; None if it refused a non-finite cost with an error.

    The spec allows a non-finite cost to be "an error or inconclusive"; any other exception
    propagates and fails the test.
    """
    cost_fn = networks.cost(net.X, net.Y, net.lambd)
    with np.errstate(all="ignore"):
        try:
            report = gc_utils.check_gradients(cost_fn, net.parameters, gradients,
                                              method=method, seed=seed)
        except (ValueError, ArithmeticError):
            if np.isfinite(cost_fn(net.parameters)):
                raise
            return None
    assert report.verdict in ("pass", "fail", "inconclusive"), report.verdict
    assert bool(report) is report.passed is (report.verdict == "pass")
    assert_reason_is_readable(report)
    return report


def assert_reason_is_readable(report):
    """At most two sentences, each fact once, keyed by gradient key, no contradiction."""
    text = str(report)
    assert len(re.findall(r"\.(?:\s+[A-Z]|$)", report.reason)) <= 2, report.reason
    assert not re.search(r"\b[01] wrong entries", text), text
    assert not re.search(r"(?<![-\d.])1\.00 ×", text), text
    assert all(key == row.gradient == "d" + row.name for key, row in report.rows.items())
    assert all(report.rows[key].verdict == "wrong" for key in report.suspects)


def backward_with_mask(net, mask, lambd=None):
    """`networks.backward` with the ReLU mask of hidden layer l replaced by ``mask(l, Zs)``.

    Reuses `networks.forward`'s cache; with ``mask = lambda l, Zs: Zs[l - 1] > 0`` it is the
    correct backward pass (see `test_backward_with_mask_reproduces_backward`).
    """
    X, Y, parameters = net.X, net.Y, net.parameters
    lambd = net.lambd if lambd is None else lambd
    m = X.shape[-1]
    with np.errstate(all="ignore"):
        _, cache = networks.forward(X, Y, parameters, lambd)
    Zs = [Z for _, Z in cache]
    gradients = {}
    dZ = gc_utils.sigmoid(Zs[-1]) - Y
    for l in range(len(cache), 0, -1):
        A_prev, W = cache[l - 1][0], parameters[f"W{l}"]
        gradients[f"dW{l}"] = dZ @ A_prev.T / m + lambd / m * W
        gradients[f"db{l}"] = np.sum(dZ, axis=1, keepdims=True) / m
        if l > 1:
            dZ = (W.T @ dZ) * mask(l - 1, Zs)
    return gradients


def assert_bug_not_passed(net, buggy, method, seed):
    """Discard immaterial bugs, then require any verdict but "pass"."""
    correct = net.backward()
    grad = gc_utils.gradients_to_vector(correct, net.parameters)
    grad_bug = gc_utils.gradients_to_vector(buggy, net.parameters)
    assume(np.all(np.isfinite(grad_bug)))
    change = np.linalg.norm(grad_bug - grad)
    assume(change > 0 and change >= MATERIAL * np.linalg.norm(grad))
    report = run_check(net, buggy, method, seed)
    BUG_VERDICTS[method]["error" if report is None else report.verdict] += 1
    if report is not None:
        assert report.verdict != "pass", (
            f"a bug changing the gradient by {change / np.linalg.norm(grad):.2g} (relative) "
            f"passed: difference {report.difference:.3g}\n{report}"
        )


def _format_counts(counts, title):
    lines = [f"check_gradients verdicts on {title}:"]
    for method, counter in counts.items():
        total = sum(counter.values())
        if not total:
            continue
        parts = ", ".join(f"{v} {counter[v]}" for v in ("pass", "inconclusive", "fail", "error")
                          if counter[v])
        rate = counter["inconclusive"] / total
        lines.append(f"  {method:<12} n={total:<4} inconclusive rate {rate:.1%}  ({parts})")
    return lines


# The platform.


@pytest.mark.skipif(os.environ.get("GRADCHECK_FLOAT64_LONGDOUBLE") != "1",
                    reason="only with GRADCHECK_FLOAT64_LONGDOUBLE=1 (see tests/__init__.py)")
def test_simulated_platform_has_a_float64_longdouble():
    """Windows and macOS on Apple silicon, simulated: np.longdouble is float64."""
    assert np.finfo(np.longdouble).eps == np.finfo(np.float64).eps
    assert np.finfo(np.clongdouble).eps == np.finfo(np.complex128).eps


@pytest.mark.needs_extended_precision
def test_needs_extended_precision_runs_only_with_a_wider_longdouble():
    """The one marker of tests that need a wider np.longdouble (conftest.py skips them)."""
    assert os.environ.get("GRADCHECK_FLOAT64_LONGDOUBLE") != "1"
    assert np.finfo(np.longdouble).eps < np.finfo(np.float64).eps
    assert np.finfo(np.longdouble).eps < np.finfo(np.float64).eps


# Correct backprop.


def test_backward_with_mask_reproduces_backward():
    """The mask-injection helper is the correct backward pass when given the true mask."""
    net = Network([5, 4, 3, 1], 7, seed=3, weight_scale=1.0, lambd=0.3)
    expected = net.backward()
    gradients = backward_with_mask(net, lambda l, Zs: Zs[l - 1] > 0)
    for name, value in expected.items():
        np.testing.assert_array_equal(gradients[name], value)


@pytest.mark.parametrize("method", METHODS)
@CORRECT_SETTINGS
@given(net=network_cases(), seed=check_seeds)
def test_correct_backprop_never_fails(method, net, seed):
    """`networks.backward` on any drawn network: "pass" or "inconclusive", never "fail"."""
    gradients = net.backward()
    report = run_check(net, gradients, method, seed)
    VERDICTS[method]["error" if report is None else report.verdict] += 1
    if report is not None:
        assert report.verdict != "fail", f"{report.reason}\n{report}"


# Known hard networks for `check_gradients` (each found by the property above), pinned so that
# they always run: one example, so the only output logit z decides everything.
HARD_NETWORKS = {
    # Y = 0, z = 27.5: 1 - sigmoid(z) ~ 1e-12 keeps only a few digits, so central differences
    # of log(1 - sigmoid(z)) see a flat cost (db2: analytic 1, numeric 0).
    "wrong-side logit 27.5": Network([1, 1, 1], m=1, seed=593, weight_scale=2.0, lambd=0.0),
    # Y = 1, z = 35.3: the cost is 4.4e-16 (one rounding unit), every gradient entry is below
    # 1e-14 and every numeric one is 0; equation (2) is then 1 whatever the backprop.
    "right-side logit 35.3": Network([3, 4, 1], m=1, seed=98, weight_scale=4.0, lambd=0.0),
    # Y = 1, z = -743.65 for one of 22 examples: sigmoid(z) is the least subnormal, so float64
    # makes its -log term a staircase in z. Directions (seeds 0 and 3 of 6; seed 5 before
    # issue 16) stayed on one tread at every wider step and convicted all 8 tensors, until
    # convictions had to be upheld along the axes of the entries found.
    "least-subnormal output": Network([4, 1, 12, 3, 1], m=22, seed=1114069592,
                                      weight_scale=2.7968962539982165, lambd=0.0),
}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("case", sorted(HARD_NETWORKS))
def test_correct_backprop_on_saturated_networks_does_not_fail(case, method):
    """Numerical noise from a saturated output unit is not a backprop bug."""
    net = HARD_NETWORKS[case]
    for seed in range(6 if method == "directional" else 1):
        report = run_check(net, net.backward(), method, seed=seed)
        assert report.verdict != "fail", f"{report.reason}\n{report}"


# Injected bugs.


@pytest.mark.parametrize("method", METHODS)
@BUG_SETTINGS
@given(net=network_cases(), data=st.data(), seed=check_seeds)
def test_scaled_gradient_never_passes(method, net, data, seed):
    """One parameter's gradient times a factor in {0.5, 0.9, 0.99, 1.01, 1.1, 2, 4}."""
    buggy = net.backward()
    name = data.draw(st.sampled_from(sorted(buggy)), label="name")
    factor = data.draw(st.sampled_from([0.5, 0.9, 0.99, 1.01, 1.1, 2.0, 4.0]), label="factor")
    buggy[name] = factor * buggy[name]
    assert_bug_not_passed(net, buggy, method, seed)


@pytest.mark.parametrize("method", METHODS)
@BUG_SETTINGS
@given(net=network_cases(), data=st.data(), seed=check_seeds)
def test_sign_flip_never_passes(method, net, data, seed):
    """One parameter's gradient negated."""
    buggy = net.backward()
    name = data.draw(st.sampled_from(sorted(buggy)), label="name")
    buggy[name] = -buggy[name]
    assert_bug_not_passed(net, buggy, method, seed)


@pytest.mark.parametrize("method", METHODS)
@BUG_SETTINGS
@given(net=network_cases(), data=st.data(), seed=check_seeds)
def test_zeroed_bias_gradient_never_passes(method, net, data, seed):
    """One db{l} set to zeros."""
    buggy = net.backward()
    name = data.draw(st.sampled_from(sorted(k for k in buggy if k.startswith("db"))),
                     label="name")
    buggy[name] = np.zeros_like(buggy[name])
    assert_bug_not_passed(net, buggy, method, seed)


@pytest.mark.parametrize("method", METHODS)
@BUG_SETTINGS
@given(net=network_cases(min_m=2), seed=check_seeds)
def test_missing_one_over_m_never_passes(method, net, seed):
    """Every gradient times m (m >= 2: at m = 1 the bug changes nothing)."""
    correct = net.backward()
    buggy = {name: net.m * value for name, value in correct.items()}
    assert_bug_not_passed(net, buggy, method, seed)


@pytest.mark.parametrize("method", METHODS)
@BUG_SETTINGS
@given(net=network_cases(), data=st.data(), seed=check_seeds)
def test_one_wrong_entry_never_passes(method, net, data, seed):
    """One entry off by `size` times the largest gradient entry (of any parameter)."""
    buggy = net.backward()
    largest = max(np.max(np.abs(value)) for value in buggy.values())
    name = data.draw(st.sampled_from(sorted(buggy)), label="name")
    index = data.draw(st.integers(0, buggy[name].size - 1), label="flat index")
    size = data.draw(st.sampled_from([1e-3, 1e-2, 0.1, 1.0, -1e-2, -1.0]), label="size")
    buggy[name] = buggy[name].copy()
    buggy[name].flat[index] += size * largest
    assert_bug_not_passed(net, buggy, method, seed)


@pytest.mark.parametrize("method", METHODS)
@BUG_SETTINGS
@given(net=network_cases(min_depth=3, equal_hidden=True), data=st.data(), seed=check_seeds)
def test_wrong_relu_mask_never_passes(method, net, data, seed):
    """Hidden layer k's mask (Z_k > 0) replaced by all ones or by another layer's mask."""
    hidden = len(net.layer_dims) - 2
    k = data.draw(st.integers(1, hidden), label="layer k")
    other = data.draw(st.sampled_from(["ones", *(j for j in range(1, hidden + 1) if j != k)]),
                      label="mask used")

    def mask(l, Zs):
        if l != k:
            return Zs[l - 1] > 0
        return np.ones_like(Zs[l - 1], dtype=bool) if other == "ones" else Zs[other - 1] > 0

    assert_bug_not_passed(net, backward_with_mask(net, mask), method, seed)


@pytest.mark.parametrize("method", METHODS)
@BUG_SETTINGS
@given(net=network_cases(l2=True), seed=check_seeds)
def test_forgotten_regularization_never_passes(method, net, seed):
    """The gradient of the cost without its L2 term, checked against the cost with it."""
    buggy = net.backward(lambd=0.0)
    assert_bug_not_passed(net, buggy, method, seed)


# Inconclusive rate over uniformly drawn networks.


def sample_networks(count, seed=0):
    """`count` networks drawn uniformly from the ranges of `network_cases` (half with L2)."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        depth = int(rng.integers(DEPTHS[0], DEPTHS[1] + 1))
        layer_dims = [*rng.integers(WIDTHS[0], WIDTHS[1] + 1, size=depth).tolist(), 1]
        m = int(rng.integers(EXAMPLES[0], EXAMPLES[1] + 1))
        weight_scale = float(rng.uniform(MIN_WEIGHT_SCALE, MAX_WEIGHT_SCALE))
        lambd = float(rng.uniform(MIN_LAMBD, MAX_LAMBD)) if rng.random() < 0.5 else 0.0
        yield Network(layer_dims, m, int(rng.integers(2**32)), weight_scale, lambd)


def inconclusive_rates(count, seed=0):
    """Verdicts of each method on correct backprop for `count` uniformly drawn networks.

    Returns
    -------
    counts : dict of str -> dict of method -> Counter of verdicts
        Under "all networks" and "networks with a finite cost" (the others can only be
        inconclusive or refused).
    reasons : dict of method -> Counter of (verdict, reason) for verdicts other than pass,
        with numbers and parameter names blanked out so that similar reasons group
    fails : list of (method, Network, reason) for correct backprop judged "fail"
    """
    counts = {group: {method: collections.Counter() for method in METHODS}
              for group in ("all networks", "networks with a finite cost")}
    reasons = {method: collections.Counter() for method in METHODS}
    fails = []
    for net in sample_networks(count, seed):
        gradients = net.backward()
        with np.errstate(all="ignore"):
            finite = bool(np.isfinite(networks.cost(net.X, net.Y, net.lambd)(net.parameters)))
        for method in METHODS:
            report = run_check(net, gradients, method)
            verdict = "error" if report is None else report.verdict
            counts["all networks"][method][verdict] += 1
            if finite:
                counts["networks with a finite cost"][method][verdict] += 1
            if verdict == "fail":
                fails.append((method, net, report.reason))
            if verdict != "pass":
                reason = "non-finite cost refused" if report is None else report.reason
                reasons[method][(verdict, _blank(reason))] += 1
    return counts, reasons, fails


def _blank(reason):
    """`reason` with numbers as # and parameter or gradient names as P, cut to 90 characters."""
    reason = re.sub(r"\bd?[A-Za-z]\d+\b", "P", str(reason))
    reason = re.sub(r"P(, P)+", "P", reason)
    return re.sub(r"[-+]?\d[\d.]*(e[-+]?\d+)?", "#", reason)[:90]


def main(argv=None):
    """Print the inconclusive rate per method over uniformly drawn networks."""
    parser = argparse.ArgumentParser(description="Inconclusive rate of check_gradients.")
    parser.add_argument("--networks", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    counts, reasons, fails = inconclusive_rates(args.networks, args.seed)
    for group, group_counts in counts.items():
        title = f"correct backprop, {group} of {args.networks} uniform draws (seed {args.seed})"
        print("\n".join(_format_counts(group_counts, title)))
    for method in METHODS:
        if reasons[method]:
            print(f"\n{method}: reasons for verdicts other than pass")
            for (verdict, reason), number in reasons[method].most_common():
                print(f"  {number:4d}  {verdict:<12}  {reason}")
    if fails:
        print("\ncorrect backprop judged fail (each breaks test_correct_backprop_never_fails):")
        for method, net, reason in fails:
            print(f"  {method}: {net}\n    {reason}")


if __name__ == "__main__":
    main()
