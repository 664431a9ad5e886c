"""The grader's worker: runs one learner exercise inside the sandbox and answers calls with plain data.

It is copied into the sandbox and run as a script (it imports only the standard library and
the modules shipped with the learner edition, never ``assignment``). It holds no case, expected
value or solution: it builds the namespace the learner edition distributes, executes the
learner's graded cell on top, rebinds the distributed names, and then answers each request of
the judge, ``{"nonce", "case"}`` (a case's inputs only), with ``{"nonce", "outcome"}``, the
outcome `public_tests.run_case` gives. Messages are JSON lines. The judge validates every
reply, since the learner's code runs in this process and can write anything anywhere.
The judge imports this module only for `reachable`.
"""

import ast
import contextlib
import io
import json
import os
import sys

PRINTED_CHARS = 20_000  # what one call may print into its outcome; the rest is dropped
MESSAGE_CHARS = 2_000  # an exception message is cut there


def reachable(tree, roots):
    """The module `tree` with only the imports and function definitions that the names `roots` reach.

    A function is kept if a root or a kept function names it; an imported name likewise (so that
    a worker does not import matplotlib for a cell that never plots).
    """
    names = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            names.setdefault(node.name, set()).update(
                inner.id for inner in ast.walk(node) if isinstance(inner, ast.Name)
            )
    needed, pending = set(), list(roots)
    while pending:
        name = pending.pop()
        if name not in needed:
            needed.add(name)
            pending += names.get(name, ())
    body = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in needed:
            body.append(node)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            kept = [alias for alias in node.names if (alias.asname or alias.name.split(".")[0]) in needed]
            if kept:
                node.names = kept
                body.append(node)
    tree.body = body
    return tree


def main():
    """Serve the judge: one boot message, then one reply per call, until stdin closes."""
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # what learner code writes to fd 1 joins fd 2, which the judge counts and bounds
    sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", buffering=0), write_through=True)
    requests = sys.stdin
    boot = json.loads(requests.readline())
    from public_tests import from_json, run_case  # before the learner's cell, which may replace them

    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        graded = ast.parse(boot["graded"], "<graded cell>")
    except BaseException as raised:  # noqa: B036 (SyntaxError, or a parser that gives up)
        graded, error = None, _error(raised)
    roots = {node.id for node in ast.walk(graded) if isinstance(node, ast.Name)} if graded else set()
    roots |= set(boot["bound"])  # distributed functions the calls will bind
    exec(compile(reachable(ast.parse(boot["distributed"]), roots), "<distributed code>", "exec"), namespace)
    distributed = {name: value for name, value in namespace.items() if not name.startswith("__")}
    printed = _Printed()
    if graded is not None:
        try:
            with contextlib.redirect_stdout(printed):
                exec(compile(graded, "<graded cell>", "exec"), namespace)
                error = None
        except BaseException as raised:  # noqa: B036 (SystemExit, KeyboardInterrupt too: it is the learner's)
            error = _error(raised)
    namespace.update(distributed)  # the learner's cell may not swap what the learner edition distributes
    target = namespace.get(boot["exercise"])
    _reply(
        replies,
        {"nonce": boot["nonce"], "defined": callable(target), "error": error, "printed": printed.text()},
    )
    functions = {name: distributed[name] for name in boot["bound"] if name in distributed}

    def run(case):
        return run_case(target, from_json(case), functions)

    for line in requests:
        request = json.loads(line)
        _reply(replies, {"nonce": request["nonce"], "outcome": _call(run, request["case"])})


def _call(run, case):
    """The outcome of `run(case)` (public_tests.run_case's): printed text cut, exceptions caught."""
    try:
        outcome = run(case)
    except BaseException as raised:  # noqa: B036 (SystemExit and KeyboardInterrupt escape run_case)
        outcome = {
            "value": {"type": "NoneType"},
            "printed": "",
            "error": _error(raised),
            "args_after": {"type": "list", "items": []},
        }
    printed = str(outcome.get("printed", ""))
    _echo(printed)
    outcome["printed"] = printed[:PRINTED_CHARS]
    return outcome


def _echo(text):
    """Write `text` to fd 2 as well, where the judge counts every byte against the output limit."""
    data = text.encode("utf-8", "replace")
    while data:
        data = data[os.write(2, data[:65536]):]


def _error(raised):
    """An exception as plain data: its type's name and its message (cut)."""
    try:
        message = str(raised)[:MESSAGE_CHARS]
    except BaseException:  # noqa: B036 (a hostile __str__)
        message = "<unprintable>"
    return {"type": type(raised).__name__[:100], "message": message}


def _reply(replies, message):
    replies.write(json.dumps(message, allow_nan=True) + "\n")
    replies.flush()


class _Printed(io.TextIOBase):
    """A text stream that keeps the first PRINTED_CHARS characters written to it, and echoes all to fd 2."""

    def __init__(self):
        self._parts, self._kept = [], 0

    def writable(self):
        return True

    def write(self, text):
        text = str(text)
        _echo(text)
        if self._kept < PRINTED_CHARS:
            self._parts.append(text[: PRINTED_CHARS - self._kept])
            self._kept += len(self._parts[-1])
        return len(text)

    def text(self):
        return "".join(self._parts)


if __name__ == "__main__":
    main()
