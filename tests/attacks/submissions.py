"""One builder per attack family: `builder(marker) -> Submission`, from the blank learner edition.

Each builder changes the learner edition as a cheating learner would. Attacks sit in a graded
cell's top level or in the graded function's body (a grader may run only the graded cells),
and, for the families that act on the whole notebook, in an extra cell at the end as well.
Several independent attacks share one submission, each in an exercise of its own; an
exercise solved for real in the same submission shows that the attacks do not wreck honest
grading.
"""

import ast
import contextlib
import io
import types

import public_tests
from tests.attacks import (
    Submission,
    add_final_cell,
    edit_cell,
    graded_cell,
    learner_edition,
    replace_function,
    solve,
)
from tests.attacks.payloads import atk_fingerprint, atk_model_probe

EXERCISES = ("forward_propagation", "backward_propagation", "gradient_check", "gradient_check_n",
             "backward_propagation_n_fixed")

# What the diagnosis of an exercise stopped by a limit or an event must name (issue 13, section 3).
MEMORY = r"memory"
TIME = r"time|cpu|second|\d ?s\b"
OUTPUT = r"output|print"
FILE_SIZE = r"file"
PROCESSES = r"process|fork|resource temporarily unavailable"
HIDDEN_GOT = 4242.0  # what the memorised 1-D functions of `hard_coded` return on a case they do not know
EXITED = r"exit|died|killed|terminated|ended|signal|crash|stopped"


def _parameters(name):
    """The parameter names of the graded function `name`, as the learner edition defines it."""
    tree = ast.parse(graded_cell(learner_edition(), name).source)
    function = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == name)
    return [argument.arg for argument in function.args.args]


def fake_results(marker):
    """Families 1-2: fake result lines, modules replaced under the grader's names, hooks, lying codecs."""
    notebook = learner_edition()
    solve(notebook, "backward_propagation")
    edit_cell(notebook, "forward_propagation", marker,
              top="atk_replace_modules()\natk_hooks()\natk_shout()",
              body="atk_shout()\natk_replace_modules()")
    edit_cell(notebook, "gradient_check", marker, top="atk_lying_print()\natk_shout()",
              body="atk_lying_print()\natk_shout()")
    edit_cell(notebook, "gradient_check_n", marker, top="atk_hooks()",
              body="atk_shout()\nraise RuntimeError('\\n' + '\\n'.join(atk_fake_lines()))")
    edit_cell(notebook, "backward_propagation_n_fixed", marker,
              body="atk_replace_modules()\natk_lying_print()")
    add_final_cell(notebook, marker, "atk_replace_modules()\natk_hooks()\natk_lying_print()\natk_shout()")
    hosted = {
        "forward_propagation": "sys.modules replaced under the grader's names (fake modules, a meta-path "
                               "finder, lying json/pickle), IPython hooks and input transformers, atexit, "
                               "signal handlers, a thread printing fake result lines",
        "gradient_check": "builtins.print and sys.stdout that turn FAIL into PASS and any score into 5/5",
        "gradient_check_n": "hooks; an error whose message is fake result lines",
        "backward_propagation_n_fixed": "replaced modules and a lying print at every call",
    }
    return Submission("fake_results", notebook, frozenset({"backward_propagation"}), {}, hosted)


def patching(marker):
    """Family 3: public tests made no-ops; numpy, math, builtins and helpers patched; a tracer on verdicts."""
    notebook = learner_edition()
    solve(notebook, "forward_propagation")
    edit_cell(notebook, "backward_propagation", marker, top="atk_patch_everything()",
              body="atk_trace_verdicts()")
    verdict = ("if print_msg:\n    print('Your backward propagation works perfectly fine! difference = 0')\n"
               "return 0.0")
    edit_cell(notebook, "gradient_check", marker,
              body="atk_patch_everything()\natk_trace_verdicts()\n" + verdict)
    edit_cell(notebook, "gradient_check_n", marker, top="atk_trace_verdicts()",
              body="atk_patch_everything()\n" + verdict)
    edit_cell(notebook, "backward_propagation_n_fixed", marker,
              body="atk_patch_everything()\natk_trace_verdicts()")
    add_final_cell(notebook, marker, "atk_patch_everything()\natk_trace_verdicts()")
    hosted = {name: "public_tests/gc_utils/testCases/gradcheck functions made no-ops, numpy norms and "
                    "comparisons made to agree, np.random made predictable, builtins patched, a tracer "
                    "that rewrites verdict locals" for name in EXERCISES[1:]}
    return Submission("patching", notebook, frozenset({"forward_propagation"}), {}, hosted)


def reach_solution(marker):
    """Family 4: every graded function imports the grader or runs the solved notebook found on disk."""
    notebook = learner_edition()
    final = []
    for name in EXERCISES:
        arguments = ", ".join(_parameters(name))
        call = f"atk_reference_answer({name!r}, globals(), ({arguments},), {{}})"
        edit_cell(notebook, name, marker, top="import sys\nsys.path[:0] = atk_find_files()[0]",
                  body=f"_atk_found, _atk_answer = {call}\nif _atk_found:\n    return _atk_answer")
        final.append(f"_atk_reference = atk_grader_reference({name!r})\n"
                     f"if _atk_reference is not None:\n    {name} = _atk_reference\n"
                     f"elif atk_solved_source({name!r}) is not None:\n"
                     f"    exec(atk_solved_source({name!r}), globals())")
    add_final_cell(notebook, marker, "\n".join(final))
    hosted = {name: "imports the grader (repository root found through cwd, sys.path, sys.executable, "
                    "/proc/*/cwd, the environment, a walk of /) and returns its reference result, or runs "
                    "the solved notebook found on disk" for name in EXERCISES}
    return Submission("reach_solution", notebook, frozenset(), {}, hosted)


def hard_coded(marker, answers):
    """Family 9: answers memorised for the public cases; on any other case, the case is smuggled out.

    `answers` is what `record_public_answers` returns. forward/backward_propagation return
    HIDDEN_GOT on a case they do not know (a number the grader may show as what they got);
    the others raise or print a message carrying the case, tagged SMUGGLED-CASE.
    """
    notebook = learner_edition()
    table = f"_ATK_ANSWERS = {answers!r}\n"
    for name in ("forward_propagation", "backward_propagation"):
        replace_function(notebook, name, marker, table + (
            f"def {name}(x, theta):\n"
            f"    key = atk_fingerprint(x, theta)\n"
            f"    if key in _ATK_ANSWERS[{name!r}]:\n"
            f"        return float.fromhex(_ATK_ANSWERS[{name!r}][key][0])\n"
            f"    return {HIDDEN_GOT!r}\n"))
    replace_function(notebook, "gradient_check", marker, table + (
        "def gradient_check(x, theta, epsilon=1e-7, print_msg=False):\n"
        "    key = atk_fingerprint(x, theta, epsilon, print_msg, atk_model_probe(globals()))\n"
        "    if key in _ATK_ANSWERS['gradient_check']:\n"
        "        value, printed = _ATK_ANSWERS['gradient_check'][key]\n"
        "        print(printed, end='')\n"
        "        return float.fromhex(value)\n"
        "    raise RuntimeError(atk_smuggle(x, theta, epsilon))\n"))
    replace_function(notebook, "gradient_check_n", marker, table + (
        "def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False):\n"
        "    key = atk_fingerprint(parameters, gradients, X, Y, epsilon, print_msg)\n"
        "    if key in _ATK_ANSWERS['gradient_check_n']:\n"
        "        value, printed = _ATK_ANSWERS['gradient_check_n'][key]\n"
        "        print(printed, end='')\n"
        "        return float.fromhex(value)\n"
        "    message = atk_smuggle(parameters, X, Y, epsilon)\n"
        "    print(message)\n"
        "    parameters[message] = X\n"
        "    return float('nan')\n"))
    replace_function(notebook, "backward_propagation_n_fixed", marker, table + (
        "def backward_propagation_n_fixed(X, Y, cache):\n"
        "    import numpy as np\n"
        "    key = atk_fingerprint(X, Y, cache)\n"
        "    known = _ATK_ANSWERS['backward_propagation_n_fixed']\n"
        "    if key in known:\n"
        "        return {name: np.frombuffer(bytes.fromhex(data)).reshape(shape)\n"
        "                for name, (shape, data) in known[key].items()}\n"
        "    raise ValueError(atk_smuggle(X, Y, cache))\n"))
    hosted = {name: "answers memorised for the public test's cases; on a hidden case the case itself is "
                    "smuggled into the return value, the printed text, the arguments or an error"
              for name in EXERCISES}
    return Submission("hard_coded", notebook, frozenset(), {}, hosted)


def record_public_answers(namespace):
    """The solved functions' answers (and printed text) on every call the public tests make, by fingerprint.

    Parameters
    ----------
    namespace : dict
        The solved notebook's imports and functions (tests/conftest.py's `notebook` fixture).

    Returns
    -------
    answers : dict of str -> dict
        Exercise -> {fingerprint of the arguments: answer}; numbers as float.hex strings.
    numbers : set of float
        The arguments and answers of the 1-D exercises' public cases (feedback may show those).
    """
    answers = {name: {} for name in EXERCISES}
    numbers = set()

    def recorder(name, key_of, store):
        solved = namespace[name]

        def record(*args):
            scope = globals_of_caller[0]
            function = types.FunctionType(solved.__code__, {**solved.__globals__, **scope}, name,
                                          solved.__defaults__)
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                result = function(*args)
            answers[name][key_of(args, scope)] = store(result, printed.getvalue())
            if name in ("forward_propagation", "backward_propagation"):
                numbers.update(float(value) for value in (*args, result))
            print(printed.getvalue(), end="")
            return result

        return record

    # The public tests rebind the target's globals (forward_propagation, ...): read them from a
    # function whose globals they rebind, then call the solved code with them.
    globals_of_caller = [{}]
    scalar = lambda result, printed: (float(result).hex(), printed)  # noqa: E731
    arrays = lambda result, printed: {key: (list(value.shape), value.astype(float).tobytes().hex())  # noqa: E731
                                      for key, value in result.items()}
    cases = {
        "forward_propagation": (lambda args, scope: atk_fingerprint(*args), scalar, ()),
        "backward_propagation": (lambda args, scope: atk_fingerprint(*args), scalar, ()),
        "gradient_check": (lambda args, scope: atk_fingerprint(*args, atk_model_probe(scope)), scalar, ()),
        "gradient_check_n": (lambda args, scope: atk_fingerprint(*args), scalar,
                             (namespace["forward_propagation_n"], namespace["backward_propagation_n"])),
        "backward_propagation_n_fixed": (lambda args, scope: atk_fingerprint(*args), arrays,
                                         (namespace["forward_propagation_n"],)),
    }
    for name, (key_of, store, extra) in cases.items():
        target = _rebinding_spy(recorder(name, key_of, store), globals_of_caller)
        test = getattr(public_tests, name.removesuffix("_fixed") + "_test")
        test(target, *extra)
        if name == "gradient_check_n":  # the notebook checks the fixed backprop with it too
            test(target, namespace["forward_propagation_n"], namespace["backward_propagation_n_fixed"])
    return answers, numbers


def _rebinding_spy(record, globals_of_caller):
    """A plain function calling `record`, which sees the globals a public test bound into it."""
    scope = {"record": record, "seen": globals_of_caller}
    exec("def spy(*args):\n    seen[0] = globals()\n    return record(*args)\n", scope)
    return scope["spy"]


def loot(marker):
    """Family 10: graded functions raise, return or print all they can reach (sources, files, frames)."""
    notebook = learner_edition()
    solve(notebook, "gradient_check")
    edit_cell(notebook, "forward_propagation", marker,
              body="raise RuntimeError(atk_loot('forward_propagation'))")
    edit_cell(notebook, "backward_propagation", marker, top="print(atk_loot('backward_propagation'))",
              body="return atk_loot('backward_propagation')")
    edit_cell(notebook, "gradient_check_n", marker,
              body="print(atk_loot('gradient_check_n'))\nparameters['loot'] = atk_loot('gradient_check_n')")
    edit_cell(notebook, "backward_propagation_n_fixed", marker,
              body="raise ValueError(atk_loot('backward_propagation_n_fixed'))")
    hosted = {name: "smuggles the solved notebook, the grader's files, frame sources and locals, /proc "
                    "environments into an error, a return value, printed text or its arguments"
              for name in EXERCISES if name != "gradient_check"}
    return Submission("loot", notebook, frozenset({"gradient_check"}), {}, hosted)


def tamper(marker):
    """Family 5: append to the grader's, tests' and helpers' files; create files in and beside the repo."""
    notebook = learner_edition()
    solve(notebook, "backward_propagation")
    edit_cell(notebook, "forward_propagation", marker, top="atk_tamper(ATK_MARKER)")
    edit_cell(notebook, "gradient_check", marker, body="atk_tamper(ATK_MARKER)")
    add_final_cell(notebook, marker, "atk_tamper(ATK_MARKER)")
    hosted = {name: "appends to assignment/*.py, *.py, Makefile, the notebooks; creates files in the "
                    "repository, site-packages, the stdlib, /tmp, /dev/shm, ~" for name in
              ("forward_propagation", "gradient_check")}
    return Submission("tamper", notebook, frozenset({"backward_propagation"}), {}, hosted)


def leftover_processes(marker):
    """Family 6: processes meant to outlive the grading (new session, double fork, a fleeing daemon)."""
    notebook = learner_edition()
    solve(notebook, "gradient_check")
    once = "if not ATK_STATE.get('spawned'):\n    ATK_STATE['spawned'] = True\n    atk_spawn(ATK_MARKER)"
    edit_cell(notebook, "forward_propagation", marker, top="atk_spawn(ATK_MARKER)")
    edit_cell(notebook, "backward_propagation", marker, body=once)
    add_final_cell(notebook, marker, "atk_spawn(ATK_MARKER)")
    hosted = {name: "starts sleepers with start_new_session=True, a double fork, a daemon that ignores "
                    "SIGTERM and changes pid every 0.1 s"
              for name in ("forward_propagation", "backward_propagation")}
    return Submission("leftover_processes", notebook, frozenset({"gradient_check"}), {}, hosted)


def kill_and_probe(marker):
    """Family 7 and isolation probes: kill the parent, and (guarded) every ancestor, the group, everything.

    forward_propagation is solved but kills everything first when isolated (`atk_isolated`); not
    isolated, it does nothing and passes. gradient_check_n and backward_propagation_n_fixed are
    solved but return None unless they can see the grader's processes or a network interface.
    """
    notebook = learner_edition()
    solve(notebook, "gradient_check")
    edit_cell(notebook, "forward_propagation", marker, body="atk_kill_everything()", solved=True)
    edit_cell(notebook, "backward_propagation", marker, body="atk_stop_and_kill_parent()")
    edit_cell(notebook, "gradient_check_n", marker, solved=True,
              body="if not atk_sees_grader():\n    return None")
    edit_cell(notebook, "backward_propagation_n_fixed", marker, solved=True,
              body="if not atk_has_network():\n    return None")
    add_final_cell(notebook, marker, "atk_kill_everything()\natk_stop_and_kill_parent()")
    hosted = {
        "forward_propagation": "solved, but first kills every ancestor, killpg(0) and kill(-1) - only when "
                               "it runs as a non-root user in a PID namespace of its own; a PASS means it "
                               "did not see that isolation, so it returned the right answer instead",
        "backward_propagation": "SIGSTOP then SIGKILL to its parent",
        "gradient_check_n": "solved, but returns None unless it can see the grader or pytest in /proc: a "
                            "PASS means the learner side sees the grader's processes",
        "backward_propagation_n_fixed": "solved, but returns None unless a network interface other than lo "
                                        "is up: a PASS means the learner side has the network",
    }
    return Submission("kill_and_probe", notebook, frozenset({"gradient_check"}), {}, hosted)


def memory_output_files(marker):
    """Family 8: hold 6 GB, print 60 MB, write a 3 GB file; each exercise is otherwise solved."""
    notebook = learner_edition()
    solve(notebook, "backward_propagation")
    edit_cell(notebook, "forward_propagation", marker, body="atk_hog_memory()", solved=True)
    edit_cell(notebook, "gradient_check", marker, body="atk_flood_output()", solved=True)
    edit_cell(notebook, "gradient_check_n", marker, top="atk_write_huge_file()", solved=True)
    edit_cell(notebook, "backward_propagation_n_fixed", marker, top="atk_flood_output()", solved=True)
    diagnoses = {"forward_propagation": MEMORY, "gradient_check": OUTPUT, "gradient_check_n": FILE_SIZE,
                 "backward_propagation_n_fixed": OUTPUT}
    hosted = {
        "forward_propagation": "solved, but holds 6 GB of touched memory first (less only if the machine "
                               "would be left with under 2 GB): a PASS means no memory limit stopped it",
        "gradient_check": "solved, but prints 60 MB at every call",
        "gradient_check_n": "solved, but writes a 3 GB file at the cell's top level",
        "backward_propagation_n_fixed": "solved, but prints 60 MB at the cell's top level",
    }
    return Submission("memory_output_files", notebook, frozenset({"backward_propagation"}), diagnoses, hosted)


def output_floods(marker):
    """Family 8: 60 MB to file descriptors 1 and 2, and with print() where the printed text is not graded."""
    notebook = learner_edition()
    edit_cell(notebook, "forward_propagation", marker, body="atk_flood_output(fd=1)", solved=True)
    edit_cell(notebook, "backward_propagation", marker, body="atk_flood_output()", solved=True)
    edit_cell(notebook, "gradient_check", marker, top="atk_flood_output(fd=2)", solved=True)
    solve(notebook, "gradient_check_n")
    diagnoses = {name: OUTPUT for name in ("forward_propagation", "backward_propagation", "gradient_check")}
    hosted = {
        "forward_propagation": "solved, but writes 60 MB to file descriptor 1 at every call",
        "backward_propagation": "solved, but prints 60 MB with print() at every call (its printed text is "
                                "not graded)",
        "gradient_check": "solved, but writes 60 MB to file descriptor 2 at the cell's top level",
    }
    return Submission("output_floods", notebook, frozenset({"gradient_check_n"}), diagnoses, hosted)


def cpu_forks_exits(marker):
    """Family 8: spin forever, fork 200 sleepers (guarded), os._exit in a function and at top level."""
    notebook = learner_edition()
    edit_cell(notebook, "forward_propagation", marker, body="atk_burn_cpu()", solved=True)
    edit_cell(notebook, "backward_propagation", marker, body="atk_fork_bomb(ATK_MARKER)", solved=True)
    edit_cell(notebook, "gradient_check", marker, body="import os\nos._exit(0)")
    edit_cell(notebook, "gradient_check_n", marker, top="import os\nos._exit(0)")
    edit_cell(notebook, "backward_propagation_n_fixed", marker, top="import sys\nsys.exit(0)")
    diagnoses = {"forward_propagation": TIME, "backward_propagation": PROCESSES, "gradient_check": EXITED,
                 "gradient_check_n": EXITED, "backward_propagation_n_fixed": EXITED}
    hosted = {
        "forward_propagation": "solved, but spins forever first, swallowing interrupts",
        "backward_propagation": "solved, but forks 200 sleeping children first - only as a non-root user in "
                                "a PID namespace of its own; a PASS means the guard saw no such isolation, "
                                "or no process limit stopped the 200 forks",
        "gradient_check": "os._exit(0) in the function",
        "gradient_check_n": "os._exit(0) at the cell's top level",
        "backward_propagation_n_fixed": "sys.exit(0) at the cell's top level",
    }
    return Submission("cpu_forks_exits", notebook, frozenset(), diagnoses, hosted, short_limits=True)


def escapes(marker):
    """Family 8/10: BaseExceptions out of graded functions; fake replies on every fd, then os._exit."""
    notebook = learner_edition()
    solve(notebook, "gradient_check")
    edit_cell(notebook, "forward_propagation", marker, body="raise SystemExit(0)")
    edit_cell(notebook, "backward_propagation", marker, body="raise KeyboardInterrupt")
    edit_cell(notebook, "gradient_check_n", marker,
              body="class AtkEscape(BaseException):\n    pass\nraise AtkEscape('all tests passed')")
    edit_cell(notebook, "backward_propagation_n_fixed", marker, body="atk_fake_replies_and_exit()")
    diagnoses = {"forward_propagation": r"SystemExit|exit",
                 "backward_propagation": r"KeyboardInterrupt|interrupt"}
    hosted = {
        "forward_propagation": "raise SystemExit(0)",
        "backward_propagation": "raise KeyboardInterrupt",
        "gradient_check_n": "raise a BaseException subclass whose message is 'all tests passed'",
        "backward_propagation_n_fixed": "writes fake replies (JSON lines, pickles, length-prefixed) to every "
                                        "file descriptor it has, then os._exit(0)",
    }
    return Submission("escapes", notebook, frozenset({"gradient_check"}), diagnoses, hosted)


def lying_values(marker):
    """Family 10: return values that lie (float, ndarray subclasses), unpickle into code, nest deep."""
    notebook = learner_edition()
    solve(notebook, "backward_propagation")
    replace_function(notebook, "forward_propagation", marker, "def forward_propagation(x, theta):\n"
                                                              "    return AtkLiar(0.0)\n")
    replace_function(notebook, "gradient_check", marker, (
        "def gradient_check(x, theta, epsilon=1e-7, print_msg=False):\n"
        "    if print_msg:\n"
        "        print('Your backward propagation works perfectly fine! difference = 0')\n"
        "    return AtkPickleBomb(ATK_MARKER)\n"))
    replace_function(notebook, "gradient_check_n", marker, (
        "def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False):\n"
        "    return atk_deep()\n"))
    buggy = graded_cell(learner_edition(), "backward_propagation_n_fixed").source.split("\n", 1)[1]
    replace_function(notebook, "backward_propagation_n_fixed", marker, buggy.replace(
        "def backward_propagation_n_fixed(", "def _atk_buggy(") + (
        "\n\ndef backward_propagation_n_fixed(X, Y, cache):\n"
        "    return {key: atk_liar_array(value) for key, value in _atk_buggy(X, Y, cache).items()}\n"))
    hosted = {
        "forward_propagation": "returns a float subclass equal to anything, whose difference and abs are 0",
        "gradient_check": "returns an object whose unpickling runs code (writes /tmp/attack-unpickled-*)",
        "gradient_check_n": "returns a list nested 200000 deep",
        "backward_propagation_n_fixed": "returns ndarray subclasses whose arithmetic, norms and comparisons "
                                        "say 'no difference'",
    }
    return Submission("lying_values", notebook, frozenset({"backward_propagation"}), {}, hosted)


def odd_values(marker):
    """Family 10: a dict with non-string keys holding itself, a 50 MB string, values that exit on use."""
    notebook = learner_edition()
    solve(notebook, "backward_propagation_n_fixed")
    replace_function(notebook, "forward_propagation", marker, "def forward_propagation(x, theta):\n"
                                                              "    return atk_recursive()\n")
    replace_function(notebook, "backward_propagation", marker, "def backward_propagation(x, theta):\n"
                                                               "    return 'x' * 50_000_000\n")
    replace_function(notebook, "gradient_check", marker, (
        "def gradient_check(x, theta, epsilon=1e-7, print_msg=False):\n"
        "    return (lambda: 0.0)\n"))
    replace_function(notebook, "gradient_check_n", marker, (
        "class _AtkExit:\n"
        "    def __getattr__(self, name):\n"
        "        raise SystemExit(0)\n"
        "    def __float__(self):\n"
        "        raise SystemExit(0)\n"
        "    def __repr__(self):\n"
        "        raise SystemExit(0)\n"
        "    def __reduce__(self):\n"
        "        raise SystemExit(0)\n\n\n"
        "def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False):\n"
        "    return _AtkExit()\n"))
    hosted = {
        "forward_propagation": "returns a dict with non-string keys that contains itself",
        "backward_propagation": "returns a 50 MB string",
        "gradient_check": "returns a function",
        "gradient_check_n": "returns an object that raises SystemExit when converted, printed or pickled",
    }
    return Submission("odd_values", notebook, frozenset({"backward_propagation_n_fixed"}), {}, hosted)


BUILDERS = (fake_results, patching, reach_solution, loot, tamper, leftover_processes, kill_and_probe,
            memory_output_files, output_floods, cpu_forks_exits, escapes, lying_values, odd_values)
