"""Run the grader's worker apart from the grader: namespaces, an unprivileged user, limits, bounded I/O.

With root and util-linux (``unshare``, ``mount``, ``chroot``, ``setpriv``), each worker runs in
new mount, PID, network, IPC and UTS namespaces, chrooted into a read-only tree that holds only
the system's directories, the Python installation, the site-packages, the modules shipped with
the learner edition and a small private tmpfs as its working directory: the repository, the
grader's code and the solved notebook are not in it. It runs as an unprivileged user with no
capabilities and no supplementary groups. The namespace's init is a root shell that only waits
for the worker, so the worker's parent is PID 1 and it cannot signal it; when the init ends,
the kernel ends every process of the namespace. Without root or util-linux, the worker runs as
a plain process in a new session with the same limits, and `describe` says what is missing.
"""

import compileall
import json
import math
import os
import pathlib
import secrets
import select
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import time
from typing import NamedTuple

UNPRIVILEGED = 65534  # nobody / nogroup
SANDBOX = "/sandbox"  # where the worker sees its files, inside the chroot
BOOTSTRAP = (
    "import os, sys; os.chdir(sys.argv[1]); sys.path[:0] = sys.argv[2:]; import sandbox_worker; "
    "sandbox_worker.main()"
)
SYSTEM_DIRECTORIES = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
DEVICES = ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random")
NAMESPACES = ("--mount", "--pid", "--net", "--ipc", "--uts", "--fork", "--kill-child=SIGKILL")  # unshare's
REAP_SECONDS = 3.0  # how long the kernel gets to end a namespace's processes before we look again
KEPT_OUTPUT = 4096  # bytes of the worker's raw output kept for messages (setup failures)

# The namespace's init: mount the worker's tree, chroot into it, drop to the unprivileged user,
# run the worker and wait for it. Arguments: the new root, then mount specs (kind, source, target)
# up to "--", then the command. A failure before the worker starts exits 125.
INIT = r"""
root=$1; shift
setup() {
  mount -t tmpfs -o size=8m,mode=0755 sandbox-root "$root" || exit 1
  while [ "$1" != "--" ]; do
    kind=$1; source=$2; target=$root$3; shift 3
    case $kind in
      link) ln -s "$source" "$target" || exit 1 ;;
      ro) mkdir -p "$target" && mount --bind -o ro,nosuid,nodev "$source" "$target" || exit 1 ;;
      device) mkdir -p "${target%/*}" && touch "$target" && mount --bind "$source" "$target" || exit 1 ;;
      tmpfs) mkdir -p "$target" && mount -t tmpfs -o "$source" sandbox-tmpfs "$target" || exit 1 ;;
      proc) mkdir -p "$target" && mount -t proc -o nosuid,nodev,noexec proc "$target" || exit 1 ;;
    esac
  done
  mount -o remount,ro "$root" || exit 1
}
( setup "$@" ) || { echo "sandbox: setting up the worker's tree failed" >&2; exit 125; }
while [ "$1" != "--" ]; do shift; done
shift
"""


class Limits(NamedTuple):
    """What one worker (one exercise) may use; every field is an option of grade_notebook and the CLI."""

    wall_seconds: float = 60.0  # real time for the whole exercise, start-up and every call
    cpu_seconds: int = 30  # CPU time of each process (RLIMIT_CPU: SIGXCPU, then SIGKILL 1 s later)
    memory_bytes: int = 2 * 2**30  # address space of each process (RLIMIT_AS)
    processes: int = 32  # processes and threads of the unprivileged user (RLIMIT_NPROC)
    file_bytes: int = 16 * 2**20  # size of any file it writes (RLIMIT_FSIZE)
    disk_bytes: int = 64 * 2**20  # size of its working directory (a tmpfs; namespaces only)
    output_bytes: int = 2**20  # what it may write to stdout and stderr in all; then it is killed
    reply_bytes: int = 16 * 2**20  # one reply to the judge; then it is killed

    def check(self):
        """Raise ValueError naming the first limit that is not a positive number."""
        for name, value in self._asdict().items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ValueError(f"`{name}` must be a positive number, got {value!r}")

    def describe(self):
        return (
            f"wall {self.wall_seconds:g} s, CPU {self.cpu_seconds:g} s, memory {_size(self.memory_bytes)}, "
            f"{self.processes} processes, files {_size(self.file_bytes)}, output {_size(self.output_bytes)}"
            f" per exercise"
        )


class Isolation(NamedTuple):
    """How workers are kept apart: namespaces and a user switch, or only a process group."""

    namespaces: bool
    uid: int | None  # the worker's uid, None if unchanged
    missing: str  # why the namespaces are not used ("" when they are)

    def describe(self, limits):
        if self.namespaces:
            where = (
                f"mount+pid+net+ipc+uts namespaces, a read-only chroot without the repository, "
                f"uid {_user(self.uid)} with no capabilities"
            )
        else:
            where = (
                f"NO namespaces ({self.missing}): the worker runs as this user, can read the "
                "repository and could signal the grader; it has its own process group and temporary "
                "directory"
            )
        return f"isolation: {where}; limits: {limits.describe()}"


class WorkerFailed(Exception):
    """The worker stopped answering: a limit, an exit, a crash or a malformed reply (the message says)."""


def probe(uid=UNPRIVILEGED):
    """The isolation this machine allows: try the namespaces once, say exactly what is missing."""
    if os.geteuid() != 0:
        return Isolation(False, None, "not running as root")
    tools = [name for name in ("unshare", "mount", "chroot", "setpriv", "sh") if shutil.which(name) is None]
    if tools:
        return Isolation(False, None, f"{', '.join(tools)} not found (util-linux)")
    try:
        run = subprocess.run([shutil.which("unshare"), *NAMESPACES, "true"], capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as error:
        return Isolation(False, None, f"unshare failed: {error}")
    if run.returncode != 0:
        reason = run.stderr.decode(errors="replace").strip().splitlines()
        return Isolation(False, None, f"unshare refused: {reason[-1] if reason else run.returncode}")
    return Isolation(True, uid, "")


class Sandbox:
    """A temporary directory holding the modules a worker may import; workers start from it.

    Use as a context manager: the directory, and everything a worker wrote, is removed at exit.

    Parameters
    ----------
    modules : list of pathlib.Path
        Modules and packages copied into the sandbox (those shipped with the learner edition).
    isolation : Isolation
    limits : Limits
    """

    def __init__(self, modules, isolation, limits):
        self.isolation, self.limits = isolation, limits
        self.directory = pathlib.Path(tempfile.mkdtemp(prefix="grade-"))
        self.modules = self.directory / "modules"
        self.modules.mkdir()
        for path in modules:
            if path.is_dir():
                shutil.copytree(path, self.modules / path.name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(path, self.modules / path.name)
        shutil.copy2(pathlib.Path(__file__).with_name("worker.py"), self.modules / "sandbox_worker.py")
        compileall.compile_dir(self.modules, quiet=2)  # once here: a worker cannot write its cache
        for path in self.modules.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        self.modules.chmod(0o755)
        self.directory.chmod(0o711)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.directory, ignore_errors=True)

    def start(self, deadline=None):
        """A running Worker (a context manager: leaving it ends the worker and all it started).

        Its wall time ends at `deadline` (time.monotonic()) if that comes before its own limit.
        """
        return Worker(self, deadline)


class Worker:
    """One worker process tree, spoken to in JSON lines with a deadline, bounded replies and output."""

    def __init__(self, sandbox, deadline=None):
        self.limits, self.isolation = sandbox.limits, sandbox.isolation
        self.started = time.monotonic()
        self.deadline = min(self.started + self.limits.wall_seconds, deadline or math.inf)
        self.output, self.output_size, self.namespace = b"", 0, None
        self.workdir = None
        if self.isolation.namespaces:
            command, cwd, env = self._namespaced(sandbox)
        else:
            command, cwd, env = self._plain(sandbox)
            _become_subreaper()  # orphans of the worker become our children, where we can find them
            self.before = set(_descendants(os.getpid()))
        pipe = subprocess.PIPE
        self.process = subprocess.Popen(command, cwd=cwd, env=env, stdin=pipe, stdout=pipe, stderr=pipe,
                                        start_new_session=True, preexec_fn=self._set_limits)
        self._buffer = b""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.left = self.close()

    def request(self, message):
        """Send `message` (a dict, given a fresh nonce) and return the reply (a dict with the same nonce)."""
        message = dict(message, nonce=secrets.token_hex(16))
        try:
            self.process.stdin.write((json.dumps(message) + "\n").encode())
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # it is gone; reading says why
        line = self._read_line()
        if self.isolation.namespaces and self.namespace is None:  # it exists once the init answered
            self.namespace = _namespace_of(self.process.pid)
        try:
            reply = json.loads(line)
        except (ValueError, RecursionError):
            raise self._fail("sent a reply that is not JSON") from None
        if not isinstance(reply, dict) or reply.get("nonce") != message["nonce"]:
            raise self._fail("sent a reply that does not answer the request (wrong nonce)")
        return reply

    def close(self):
        """End the worker and every process it started; return the pids still alive afterwards (none)."""
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:  # still running: its process group cannot have been reused yet
            _kill_group(self.process.pid)
            self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            stream.close()
        left = self._survivors()
        if left:
            for pid in left:
                _kill(pid)
            time.sleep(0.1)
            left = self._survivors()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        return left

    # -- starting ---------------------------------------------------------------------------------

    def _namespaced(self, sandbox):
        uid = self.isolation.uid
        work = f"{SANDBOX}/work"
        mounts = []
        for directory in SYSTEM_DIRECTORIES:
            if os.path.islink(directory):
                mounts += ["link", os.readlink(directory), directory]
            elif os.path.isdir(directory):
                mounts += ["ro", directory, directory]
        for prefix in {sys.base_prefix, sys.base_exec_prefix}:
            if not any(_inside(prefix, directory) for directory in SYSTEM_DIRECTORIES):
                mounts += ["ro", prefix, prefix]
        sites = []
        for index, directory in enumerate(_site_directories()):
            sites.append(f"{SANDBOX}/site-{index}")
            mounts += ["ro", directory, sites[-1]]
        mounts += ["ro", str(sandbox.modules), f"{SANDBOX}/modules"]
        mounts += ["tmpfs", f"size={self.limits.disk_bytes},mode=0700,uid={uid},gid={uid}", work]
        mounts += ["link", work, "/tmp"]
        for device in DEVICES:
            if os.path.exists(device):
                mounts += ["device", device, device]
        mounts += ["proc", "proc", "/proc"]
        newroot = sandbox.directory / f"root-{secrets.token_hex(4)}"
        newroot.mkdir()
        self.workdir = newroot  # an empty mount point: the tree itself lives and dies in the namespace
        setpriv = [shutil.which("setpriv"), f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                   "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--"]
        python = [_interpreter(), "-I", "-S", "-B", "-c", BOOTSTRAP, work, f"{SANDBOX}/modules", *sites]
        init = INIT + f'"{shutil.which("chroot")}" "$root" "$@"\n'
        command = [shutil.which("unshare"), *NAMESPACES, "--propagation", "private", "--", shutil.which("sh"),
                   "-c", init, "sandbox-init", str(newroot), *mounts, "--", *setpriv, *python]
        return command, "/", _environment(work)

    def _plain(self, sandbox):
        work = sandbox.directory / f"work-{secrets.token_hex(4)}"
        work.mkdir(mode=0o700)
        self.workdir = work
        python = [
            _interpreter(),
            "-I",
            "-S",
            "-B",
            "-c",
            BOOTSTRAP,
            str(work),
            str(sandbox.modules),
            *_site_directories(),
        ]
        return python, str(work), _environment(str(work))

    def _set_limits(self):
        """In the child, before exec: hard limits it cannot raise again (root's processes ignore NPROC)."""
        import resource

        limits = self.limits
        cpu = math.ceil(limits.cpu_seconds)
        processes = limits.processes
        if not self.isolation.namespaces:  # this user's processes count too
            processes += _count_processes(os.getuid())
        for which, value in [
            (resource.RLIMIT_AS, limits.memory_bytes),
            (resource.RLIMIT_NPROC, processes),
            (resource.RLIMIT_FSIZE, limits.file_bytes),
            (resource.RLIMIT_CORE, 0),
        ]:
            resource.setrlimit(which, (int(value), int(value)))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))

    # -- reading ----------------------------------------------------------------------------------

    def _read_line(self):
        """The next line of the reply pipe, draining and bounding the output pipe meanwhile."""
        replies, output = self.process.stdout.fileno(), self.process.stderr.fileno()
        open_fds = [replies, output]
        while b"\n" not in self._buffer:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise self._fail(
                    f"did not finish within the wall-time limit of {self.limits.wall_seconds:g} s "
                    "(an infinite loop, or a very slow one?)",
                    kill=True,
                )
            ready, _, _ = select.select(open_fds, [], [], remaining)
            if output in ready:
                chunk = os.read(output, 65536)
                if not chunk:
                    open_fds.remove(output)
                self.output_size += len(chunk)
                self.output = (self.output + chunk)[:KEPT_OUTPUT]
                if self.output_size > self.limits.output_bytes:
                    raise self._fail(
                        f"printed more than the output limit of {_size(self.limits.output_bytes)}", kill=True
                    )
            if replies in ready:
                chunk = os.read(replies, 65536)
                if not chunk:
                    raise self._fail(self._ended())
                self._buffer += chunk
                if len(self._buffer) > self.limits.reply_bytes:
                    raise self._fail(f"sent a reply larger than {_size(self.limits.reply_bytes)}", kill=True)
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def _ended(self):
        """Why the worker stopped, from its exit status (the init shell reports 128 + signal)."""
        try:
            status = self.process.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            return "closed its reply channel"
        signal_number = (
            -status if status < 0 else status - 128 if self.isolation.namespaces and status > 128 else 0
        )
        if status == 125 and self.isolation.namespaces:
            return (
                f"could not be started in the sandbox: {self.output.decode(errors='replace').strip()[-300:]}"
            )
        cpu_bound = time.monotonic() - self.started >= self.limits.cpu_seconds
        if signal_number == signal.SIGXCPU or (signal_number == signal.SIGKILL and cpu_bound):
            return f"was stopped at the CPU-time limit of {self.limits.cpu_seconds:g} s"
        if signal_number == signal.SIGXFSZ:
            return f"was stopped for writing a file larger than {_size(self.limits.file_bytes)}"
        if signal_number:
            return f"was killed by {signal.Signals(signal_number).name} (a crash, or running out of memory?)"
        return (
            f"exited with status {status} before answering (os._exit, or the process ended from "
            "inside the exercise?)"
        )

    def _fail(self, why, kill=False):
        if kill:
            _kill_group(self.process.pid)
        return WorkerFailed(why)

    # -- ending -----------------------------------------------------------------------------------

    def _survivors(self):
        """Processes the worker started that are still alive (in its PID namespace, or its session)."""
        deadline = time.monotonic() + REAP_SECONDS
        while True:
            if self.namespace is not None:
                alive = [pid for pid in _pids() if _namespace_of(pid, "pid") == self.namespace]
            elif not self.isolation.namespaces:
                alive = [
                    pid
                    for pid in set(_descendants(os.getpid())) - self.before
                    | {pid for pid in _pids() if _stat(pid)[3] == self.process.pid}
                ]
            else:
                alive = []  # the init never started: nothing of the worker's can be running
            alive = [pid for pid in alive if _reaped(pid) is False]
            if not alive or time.monotonic() > deadline:
                return alive
            time.sleep(0.02)


def _environment(work):
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": work,
        "TMPDIR": work,
        "LANG": "C.UTF-8",
        "MPLCONFIGDIR": f"{work}/.matplotlib",
        "MPLBACKEND": "Agg",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def _interpreter():
    """The base Python interpreter (a venv's python is a link into the repository's .venv)."""
    candidate = (
        pathlib.Path(sys.base_exec_prefix)
        / "bin"
        / f"python{sys.version_info.major}.{sys.version_info.minor}"
    )
    return str(candidate) if candidate.exists() else os.path.realpath(sys.executable)


def _site_directories():
    return [directory for directory in site.getsitepackages() if os.path.isdir(directory)]


def _inside(path, directory):
    return os.path.commonpath([os.path.realpath(path), os.path.realpath(directory)]) == os.path.realpath(
        directory
    )


def _namespace_of(pid, kind="pid_for_children"):
    try:
        return os.readlink(f"/proc/{pid}/ns/{kind}")
    except OSError:
        return None


def _pids():
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _stat(pid):
    """(state, ppid, process group, session) of `pid`, or (None,) * 4 if it is gone."""
    try:
        fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return (None,) * 4
    return fields[0], int(fields[1]), int(fields[2]), int(fields[3])


def _descendants(root):
    """Pids of every living descendant of `root`."""
    children = {}
    for pid in _pids():
        children.setdefault(_stat(pid)[1], []).append(pid)
    found, pending = [], list(children.get(root, ()))
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending += children.get(pid, ())
    return found


def _reaped(pid):
    """True if `pid` is gone or was a zombie (reaped here if it was our child), False if it runs."""
    state = _stat(pid)[0]
    if state == "Z":
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
    return state in (None, "Z", "X")


def _become_subreaper():
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def _count_processes(uid):
    count = 0
    for pid in _pids():
        try:
            count += os.stat(f"/proc/{pid}").st_uid == uid
        except OSError:
            pass
    return count


def _kill_group(pgid):
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _size(n):
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n:g} bytes"


def _user(uid):
    import pwd

    try:
        return f"{pwd.getpwuid(uid).pw_name} ({uid})"
    except KeyError:
        return str(uid)
