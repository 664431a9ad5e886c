"""The grader's worker: runs one learner exercise inside the sandbox and answers calls with plain data.

It is copied into the sandbox and run as a script (it imports only the standard library and
numpy, never ``assignment``). It holds no case, expected value or solution: it builds the
namespace the learner edition distributes, executes the learner's graded cell on top, and
then answers each request of the judge, ``{"nonce", "args", "bindings"}``, with
``{"nonce", "value", "printed", "error", "args_after"}``. Messages are JSON lines; arrays are
``{"__ndarray__": [dtype, shape, flat data]}``. The judge validates every reply, since the
learner's code runs in this process and can write anything to any file descriptor.
The judge imports this module only for `encode`, `decode` and `power_model`.
"""

import ast
import contextlib
import io
import json
import math
import os
import sys
import types

import numpy as np

PRINTED_CHARS = 20_000  # what one call may print into the reply; the rest is counted, not kept
MESSAGE_CHARS = 2_000  # an exception message is cut there
DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64")
MAX_DEPTH = 8  # nesting of lists, tuples and dicts in one value
MAX_ITEMS = 1_000_000  # scalars in one decoded value


class DecodeError(ValueError):
    """A message that is not the plain data of the protocol."""


class Opaque:
    """Stands, on the judge's side, for a value the protocol does not carry (its type name only)."""

    def __init__(self, type_name):
        self.type_name = type_name

    def __repr__(self):
        return f"<{self.type_name}>"


def encode(value, depth=0):
    """`value` as JSON-able plain data: numbers, strings, None, arrays, lists, tuples, str-keyed dicts."""
    if depth > MAX_DEPTH:
        return {"__object__": "nested too deeply"}
    if value is None or isinstance(value, bool | str):
        return value[:MESSAGE_CHARS] if isinstance(value, str) else value
    if type(value) is int or type(value) is float:
        return value
    if isinstance(value, np.ndarray) and value.dtype.name in DTYPES:
        return {"__ndarray__": [value.dtype.name, list(value.shape), value.ravel().tolist()]}
    if isinstance(value, np.generic) and value.dtype.name in DTYPES:
        return {"__scalar__": [value.dtype.name, value.item()]}
    if type(value) in (list, tuple):
        items = [encode(item, depth + 1) for item in value]
        return items if type(value) is list else {"__tuple__": items}
    if type(value) is dict and all(type(key) is str for key in value):
        return {"__dict__": {key: encode(item, depth + 1) for key, item in value.items()}}
    return {"__object__": type(value).__name__[:100]}


def decode(data, depth=0, budget=None):
    """The value `encode` made; raise DecodeError on anything else (the judge's validation)."""
    budget = [MAX_ITEMS] if budget is None else budget
    if depth > MAX_DEPTH + 1:
        raise DecodeError("nested too deeply")
    if data is None or isinstance(data, bool | str):
        return data
    if type(data) is int or type(data) is float:
        if type(data) is int and abs(data) > 2 ** 64:
            raise DecodeError("an integer out of range")
        return data
    if type(data) is list:
        return [decode(item, depth + 1, budget) for item in data]
    if type(data) is not dict or len(data) != 1:
        raise DecodeError(f"unexpected {type(data).__name__}")
    (tag, content), = data.items()
    if tag == "__ndarray__":
        return _decode_array(content, budget)
    if tag == "__scalar__":
        if type(content) is not list or len(content) != 2 or content[0] not in DTYPES:
            raise DecodeError("a malformed scalar")
        return _decode_array([content[0], [], [content[1]]], budget)[()]
    if tag == "__tuple__" and type(content) is list:
        return tuple(decode(item, depth + 1, budget) for item in content)
    if tag == "__dict__" and type(content) is dict:
        return {key: decode(item, depth + 1, budget) for key, item in content.items()}
    if tag == "__object__" and type(content) is str:
        return Opaque(content[:100])
    raise DecodeError(f"an unknown tag {tag[:20]!r}")


def reachable(tree, roots):
    """The module `tree` with only the imports and function definitions that the names `roots` reach.

    A function is kept if a root or a kept function names it; an imported name likewise (so that
    a worker does not import matplotlib for a cell that never plots).
    """
    names = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            names.setdefault(node.name, set()).update(
                inner.id for inner in ast.walk(node) if isinstance(inner, ast.Name))
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


def power_model(coefficient, power):
    """f(x, theta) = coefficient * x * theta ** power: the 1-D models of the gradient_check cases."""
    def model(x, theta):
        return coefficient * x * theta ** power
    return model


class NotADictionary(AssertionError):
    """forward_propagation_n was given something else than a dictionary of parameters."""


def guarded(forward_propagation_n):
    """`forward_propagation_n` that raises NotADictionary (with the type and shape) on other `parameters`."""
    def forward(X, Y, parameters):
        if not isinstance(parameters, dict):
            shape = f" of shape {parameters.shape}" if isinstance(parameters, np.ndarray) else ""
            raise NotADictionary(f"{type(parameters).__name__}{shape}")
        return forward_propagation_n(X, Y, parameters)
    return forward


def main():
    """Serve the judge: one boot message, then one reply per call, until stdin closes."""
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # what learner code writes to fd 1 joins fd 2, which the judge counts and bounds
    sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", buffering=0), write_through=True)
    requests = sys.stdin
    boot = json.loads(requests.readline())
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
    _reply(replies, {"nonce": boot["nonce"], "defined": callable(target), "error": error,
                     "printed": printed.text()})
    for line in requests:
        request = json.loads(line)
        _reply(replies, _call(target, request, distributed))


def _call(target, request, distributed):
    """Call `target` as `request` says; the outcome as plain data."""
    args = decode(request["args"])
    bindings = {name: _binding(spec, distributed) for name, spec in request["bindings"].items()}
    printed, value, error = _Printed(), None, None
    try:
        with contextlib.redirect_stdout(printed):
            value = _with_globals(target, bindings)(*args)
    except BaseException as raised:  # noqa: B036
        error = _error(raised)
    reply = {"nonce": request["nonce"], "printed": printed.text(), "error": error,
             "value": _encoded(value), "args_after": _encoded(args)}
    return reply


def _binding(spec, distributed):
    """The function a binding spec names: a power model, or a distributed function (guarded)."""
    if "power" in spec:
        return power_model(spec["coefficient"], spec["power"])
    function = distributed[spec["distributed"]]
    return guarded(function) if spec.get("guarded") else function


def _with_globals(function, bindings):
    """`function` with some of its globals replaced; other callables as they are."""
    if not isinstance(function, types.FunctionType) or not bindings:
        return function
    replaced = types.FunctionType(function.__code__, {**function.__globals__, **bindings}, function.__name__,
                                  function.__defaults__, function.__closure__)
    replaced.__kwdefaults__ = function.__kwdefaults__
    return replaced


def _encoded(value):
    try:
        return encode(value)
    except Exception as error:  # a hostile __len__ or the like: the judge sees only the type
        return {"__object__": f"unencodable {type(value).__name__} ({type(error).__name__})"}


def _error(raised):
    """An exception as plain data: its type's name, its message (cut), and where in the graded cell."""
    try:
        message = str(raised)[:MESSAGE_CHARS]
    except BaseException:  # noqa: B036 (a hostile __str__)
        message = "<unprintable>"
    line = getattr(raised, "lineno", None) if isinstance(raised, SyntaxError) else None
    return {"type": type(raised).__name__[:100], "message": message, "line": line if type(line) is int else None}


def _reply(replies, message):
    replies.write(json.dumps(message, allow_nan=True) + "\n")
    replies.flush()


class _Printed(io.TextIOBase):
    """A text stream that keeps the first PRINTED_CHARS characters written to it."""

    def __init__(self):
        self._parts, self._kept = [], 0

    def writable(self):
        return True

    def write(self, text):
        text = str(text)
        if self._kept < PRINTED_CHARS:
            self._parts.append(text[: PRINTED_CHARS - self._kept])
            self._kept += len(self._parts[-1])
        return len(text)

    def text(self):
        return "".join(self._parts)


def _decode_array(content, budget):
    if type(content) is not list or len(content) != 3:
        raise DecodeError("a malformed array")
    dtype, shape, flat = content
    if dtype not in DTYPES or type(shape) is not list or type(flat) is not list or len(shape) > 32:
        raise DecodeError("a malformed array")
    if not all(type(n) is int and 0 <= n for n in shape) or math.prod(shape) != len(flat):
        raise DecodeError("an array whose shape does not match its data")
    budget[0] -= len(flat)
    if budget[0] < 0:
        raise DecodeError("too many numbers")
    if not all(type(x) in (int, float, bool) for x in flat):
        raise DecodeError("an array of something else than numbers")
    try:
        return np.array(flat, dtype=dtype).reshape(shape)
    except (ValueError, OverflowError) as error:
        raise DecodeError(f"an array that does not fit its dtype: {error}") from None


if __name__ == "__main__":
    main()
