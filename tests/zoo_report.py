"""Verdicts of a gradient checker on the test zoo: correct gradients and planted bugs, per method.

Usage::

    .venv/bin/python -m tests.zoo_report [--module gradcheck] [--seeds 20] [--float64-longdouble]
                                         [--layers] [--only softmax_tanh,rnn] [--shown 12] [--inconclusive]

For every family x method x seed the checker runs once on the correct gradients and once
per planted bug. A correct gradient should get "pass" (or "inconclusive", never "fail"); a
bug "fail" (or "inconclusive", never "pass"). The capitalised columns (FAIL, PASS) are
broken promises; they are listed after the table with the checker's reason. An exception
counts as "error", its first message shown. --inconclusive also lists the first reason
of each family and method for an inconclusive verdict on correct gradients.
"""

import argparse
import importlib
import sys
import time
import warnings
from collections import Counter

import numpy as np

METHODS = ("central", "complex", "directional")
SHOWN = 12  # broken promises listed after the table, per kind of promise (--shown)
REASON_CHARS = 300  # of each listed reason


def main(argv=None):
    """Parse the arguments, run the checks, print the tables."""
    args = _parse(argv)
    if args.float64_longdouble:
        # Before the checker is imported: a platform whose long double is a double
        # (Windows, Apple silicon), where the checker must not count on extra precision.
        np.longdouble = np.float64
        np.clongdouble = np.complex128
    module = importlib.import_module(args.module)
    from tests.layers import KINK_LAYERS, LAYERS
    from tests.models import FAMILIES

    seeds = range(args.seeds)
    only = set(args.only.split(",")) if args.only else None
    print(f"checker: {args.module} ({module.__file__}); seeds: {args.seeds}; "
          f"np.longdouble: {np.dtype(np.longdouble).name}; numpy {np.__version__}")
    if args.layers:
        if not hasattr(module, "check_vjp"):
            print(f"layers: skipped, {args.module} has no check_vjp")
            return
        items = {name: (("kink" if name in KINK_LAYERS else "smooth"),
                        _layer_checks(module.check_vjp, layer)) for name, layer in LAYERS.items()}
    else:
        items = {name: (make(0).kind, _family_checks(module.check_gradients, make))
                 for name, make in FAMILIES.items()}
    if only:
        items = {name: item for name, item in items.items() if name in only}
    rows, errors = [], {}
    broken = {"correct gets fail": [], "bug gets pass": [], "correct gets inconclusive": []}
    started = time.perf_counter()
    for name, (kind, checks) in items.items():
        for method in METHODS:
            correct, bugs = Counter(), Counter()
            for seed in seeds:
                for bug, verdict, reason in checks(seed, method):
                    tally = bugs if bug else correct
                    tally[verdict] += 1
                    where = f"{name} seed {seed} {method}" + (f" [{bug}]" if bug else "")
                    if verdict == "error":
                        errors.setdefault(reason, where)
                    elif verdict == ("pass" if bug else "fail"):
                        broken["bug gets pass" if bug else "correct gets fail"].append(
                            f"{where}: {reason[:REASON_CHARS]}")
                    elif args.inconclusive and not bug and verdict == "inconclusive" and \
                            correct[verdict] == 1:  # the first of this family and method
                        broken["correct gets inconclusive"].append(f"{where}: {reason[:REASON_CHARS]}")
            rows.append([name, kind, method,
                         *(str(correct[v]) for v in ("pass", "inconclusive", "fail", "error")),
                         *(str(bugs[v]) for v in ("fail", "inconclusive", "pass", "error"))])
    print(_table(["family" if not args.layers else "layer", "kind", "method",
                  "correct: pass", "inconcl.", "FAIL", "error",
                  "bugs: fail", "inconcl.", "PASS", "error"], rows + [_totals(rows)]))
    print(f"time: {time.perf_counter() - started:.0f} s")
    for promise, lines in broken.items():
        if lines:
            print(f"\n{promise}: {len(lines)}")
            print("\n".join(f"  {line}" for line in lines[:args.shown]))
            if len(lines) > args.shown:
                print(f"  ... and {len(lines) - args.shown} more")
    for message, where in errors.items():
        print(f"\nerror (first at {where}): {message}")


def _parse(argv):
    parser = argparse.ArgumentParser(prog="python -m tests.zoo_report", description=__doc__.split("\n")[0])
    parser.add_argument("--module", default="gradcheck", help="module providing check_gradients")
    parser.add_argument("--seeds", type=int, default=20, help="seeds per family and method")
    parser.add_argument("--float64-longdouble", action="store_true",
                        help="set np.longdouble = np.float64 (and clongdouble) before the import")
    parser.add_argument("--layers", action="store_true", help="check layers with check_vjp instead")
    parser.add_argument("--only", default="", help="comma-separated family (or layer) names")
    parser.add_argument("--shown", type=int, default=SHOWN, help="broken promises listed per kind")
    parser.add_argument("--inconclusive", action="store_true",
                        help="also list why correct gradients got inconclusive")
    return parser.parse_args(argv)


def _family_checks(check_gradients, make):
    """checks(seed, method) -> [(bug or "", verdict, reason)] for the correct gradients and each bug."""
    def checks(seed, method):
        case = make(seed)
        candidates = {"": case.gradients, **case.bugs}
        return [(bug, *_verdict(check_gradients, case.cost_fn, case.parameters, gradients,
                                method=method))
                for bug, gradients in candidates.items()]
    return checks


def _layer_checks(check_vjp, layer):
    """The same for one layer and `check_vjp(fn, inputs, vjp, method=...)`."""
    def checks(seed, method):
        inputs = layer.make_inputs(np.random.default_rng(seed))
        candidates = {"": layer.backward, **{bug: buggy for bug, (_, buggy) in layer.bugs.items()}}
        return [(bug, *_verdict(check_vjp, lambda values: layer.forward(values), inputs,
                                lambda dout, backward=backward: backward(inputs, dout), method=method))
                for bug, backward in candidates.items()]
    return checks


def _verdict(check, *args, **kwargs):
    """(verdict, reason) of one check; ("error", message) if it raised."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = check(*args, **kwargs)
    except Exception as error:  # any failure of the checker is a result to count, not to stop at
        return "error", f"{type(error).__name__}: {error}".splitlines()[0]
    return report.verdict, " ".join(str(report.reason).split())


def _totals(rows):
    """A last row summing the count columns."""
    sums = [str(sum(int(row[i]) for row in rows)) for i in range(3, len(rows[0]))]
    return ["total", "", "", *sums]


def _table(header, rows):
    """Plain-text table, columns padded to their widest cell."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
                     for line in [header, *rows])


if __name__ == "__main__":
    sys.exit(main())
