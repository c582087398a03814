"""The resident process (常驻进程) and the console script's front door.

A command's own work on a server ledger takes a few milliseconds and a round trip or nine; starting
it costs more. Python, typer and the CLI take 60–90 ms to import on a counter's PC, and the
PostgreSQL driver (psycopg 3, which brings asyncio, ssl and email with it) adds another 60–190 ms
on a file's figure of 70–140 ms (issue 12's whole-process ``draw``). A resident process, started
once per counter (``credit-coop resident start``), has imported all of it. The console script then
runs each command in a fork of it:

- the command gets the caller's own terminal (stdin, stdout and stderr are passed over a Unix
  socket), its arguments, environment and working directory, and its exit status is the caller's;
- nothing passes from one command to the next: each fork starts from the freshly imported state and
  exits, as a command run on its own does; after a command to a server, the next command's fork is
  made ahead and connects with the same settings (the spare, below), so the next command to that
  server finds its connection open;
- only the same user can use it: the socket's directory is the user's own and private (0700),
  and each side checks the other's user id (``SO_PEERCRED``);
- a command runs wholly in the fork or wholly in the caller, never both: once the fork started, the
  caller does not run the command again, whatever happens;
- killing the caller kills the fork (the resident watches the caller's socket), so a SIGKILL
  mid-command leaves nothing half-written, as without the resident; Ctrl-C and SIGTERM are passed on,
  and Ctrl-Z stops the fork with its caller (and ``fg`` continues both);
- when the installed code changed since the resident started (an upgrade), the caller runs the
  command itself and the resident stops.

Without a resident (the default), or with ``CREDIT_COOP_RESIDENT=off``, the console script runs the
command itself as before. This module uses the standard library only, so the front door costs
nothing on top of Python's own start.
"""

from __future__ import annotations

import os
import sys

_REPLY_MAX = 1 << 16


# -- where the resident listens --------------------------------------------------------------
def socket_path(environ=None) -> str | None:
    """The socket for this user and this installation, or None when the resident is switched off
    (``CREDIT_COOP_RESIDENT=off``). ``CREDIT_COOP_RESIDENT=/path/to.sock`` names one."""
    env = os.environ if environ is None else environ
    setting = env.get("CREDIT_COOP_RESIDENT", "")
    if setting.strip().lower() in ("off", "0", "no", "false") or not hasattr(os, "getuid"):  # off, or not a Unix
        return None
    if setting:
        return os.path.abspath(setting)
    import zlib

    runtime = env.get("XDG_RUNTIME_DIR")
    home = os.path.join(runtime, "credit-coop") if runtime else os.path.join(env.get("TMPDIR") or "/tmp", f"credit-coop-{os.getuid()}")
    return os.path.join(home, f"resident-{zlib.crc32(_package_dir().encode()):08x}.sock")


def _package_dir() -> str:
    return os.path.dirname(os.path.abspath(__file__))


def private_directory(home: str) -> bool:
    """``home`` is a directory of this user's that only they can enter."""
    import stat

    try:
        st = os.lstat(home)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077


def private_socket(path: str) -> bool:
    """``path`` is a socket in a directory only this user can enter (never talk to anyone else's)."""
    import stat

    try:
        sock = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISSOCK(sock.st_mode) and sock.st_uid == os.getuid() and private_directory(os.path.dirname(path))


def _peer_uid(sock) -> int:
    import socket
    import struct

    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def _connect(path: str):
    """A connection to the resident at ``path``, or None (none there, not ours, not answering)."""
    if not private_socket(path):
        return None
    import socket

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        if _peer_uid(s) != os.getuid():
            raise OSError("another user's socket")
    except OSError:
        s.close()
        return None
    return s


def _send(sock, message: dict, fds=()) -> None:
    import json
    import socket

    data = json.dumps(message).encode()
    data = len(data).to_bytes(4, "big") + data
    sent = socket.send_fds(sock, [data], list(fds)) if fds else sock.send(data)
    if sent < len(data):  # (never an empty send: the resident may have answered and closed already)
        sock.sendall(data[sent:])


def _receive(sock, max_fds: int = 0):
    """One framed message (and the descriptors passed with it); None when the peer is gone."""
    import json
    import socket

    fds: list[int] = []
    if max_fds:
        data, fds, _, _ = socket.recv_fds(sock, _REPLY_MAX, max_fds)
    else:
        data = sock.recv(_REPLY_MAX)
    if len(data) < 4:
        for fd in fds:
            os.close(fd)
        return None, []
    size = int.from_bytes(data[:4], "big")
    data = data[4:]
    while len(data) < size:
        more = sock.recv(size - len(data))
        if not more:
            for fd in fds:
                os.close(fd)
            return None, []
        data += more
    return json.loads(data[:size]), fds


def _lines(sock):
    """The resident's replies to a running command: one JSON document per line."""
    import json

    pending = b""
    while True:
        try:
            chunk = sock.recv(4096)
        except OSError:
            chunk = b""
        if not chunk:
            return
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            yield json.loads(line)


# -- the front door ------------------------------------------------------------------------------
def main() -> None:
    """The console script: the command runs in the resident when one is listening for this user,
    else here, as it always did."""
    args = sys.argv[1:]
    path = socket_path() if args[:1] != ["resident"] else None
    if path:
        code = run_in_resident(path, args)
        if code is not None:
            _exit_as(code)
    from credit_coop.cli import main as run_here

    run_here()


def _identity() -> dict:
    """What the resident must share with the caller to run its command as the caller would."""
    return {"package": _package_dir(), "python": [sys.prefix, sys.version], "fs": sys.getfilesystemencoding(),
            "io": [getattr(s, "encoding", None) for s in (sys.stdin, sys.stdout, sys.stderr)]}


def run_in_resident(path: str, args: list[str]) -> int | None:
    """Run ``credit-coop ARGS`` in the resident at ``path``: its exit status (negative: the signal
    that ended it), or None when the resident cannot take it and the caller must run it itself."""
    import signal

    sock = _connect(path)
    if sock is None:
        return None
    started, early = False, []  # signals that came before the command started: passed on once it has

    def pass_on(signum, _frame):
        if not started:
            early.append(signum)
            return
        try:
            sock.sendall(f"{signum}\n".encode())
        except OSError:
            pass

    def suspend(signum, _frame):  # Ctrl-Z: the command stops with its caller and goes on with it
        if not started:
            early.append(signum)
            return
        pass_on(signal.SIGSTOP, None)
        signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTSTP)
        signal.signal(signal.SIGTSTP, suspend)  # (here once the shell continues the caller)
        pass_on(signal.SIGCONT, None)

    handlers = {signum: pass_on for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)}
    handlers[signal.SIGTSTP] = suspend
    before = {signum: signal.signal(signum, handler) for signum, handler in handlers.items()}
    first = None
    try:
        umask = os.umask(0o077)
        os.umask(umask)
        request = {"op": "run", "argv": args, "env": dict(os.environ), "cwd": os.getcwd(), "umask": umask, **_identity()}
        _send(sock, request, fds=(0, 1, 2))
        replies = _lines(sock)
        first = next(replies, None)
    except (OSError, ValueError):  # a closed stdio descriptor, a removed working directory
        pass
    if not first or "started" not in first:  # refused before anything ran (changed code, another locale)
        sock.close()
        for signum, handler in before.items():
            signal.signal(signum, handler)
        for signum in early:  # as they would have come to a command run here
            os.kill(os.getpid(), signum)
        return None
    started = True
    for signum in early:
        handlers[signum](signum, None)
    for reply in replies:
        if "exit" in reply:
            return int(reply["exit"])
    from credit_coop.core.labels import translate

    sys.stderr.write("error: " + translate(
        "the resident process stopped while the command ran; look the posting up (line show, audit-log) "
        "before you run it again") + "\n")
    return 8


def _exit_as(code: int) -> None:
    if code < 0:  # the command died by a signal: so does the caller, for its shell and its tests
        import signal

        sys.stdout.flush()
        if -code not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    sys.exit(code)


# -- the resident itself -------------------------------------------------------------------------
PRELOAD = ("credit_coop.cli", "psycopg", "ctypes", "rich.console", "rich.table", "rich.cells", "dateutil.parser",
           "dateutil.relativedelta", "openpyxl", "sqlite_utils", "getpass", "termios", "traceback", "tomllib",
           "decimal", "csv", "hashlib", "hmac", "secrets", "json")


def preload() -> list[str]:
    """Import what commands would: every module of the package and the libraries they load lazily."""
    import importlib
    import pkgutil

    import credit_coop

    names = [m.name for m in pkgutil.walk_packages(credit_coop.__path__, "credit_coop.")
             if m.name not in ("credit_coop.__main__",)]
    loaded = []
    for name in (*PRELOAD, *names):
        try:
            importlib.import_module(name)
            loaded.append(name)
        except ImportError:  # an optional extra not installed (psycopg)
            pass
    return loaded


LIBRARIES = ("typer", "rich", "psycopg", "psycopg_binary", "openpyxl", "dateutil", "sqlite_utils")


def _library_dirs() -> list[str]:
    """The folders the libraries in use are installed in (site-packages): installing, upgrading or
    removing a package there changes the folder."""
    dirs = set()
    for name in LIBRARIES:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__file__", None):
            dirs.add(os.path.dirname(os.path.dirname(os.path.abspath(module.__file__))))
    return sorted(dirs)


def code_stamp() -> tuple:
    """The installed code as files on disk: an upgrade or an edit of credit-coop, or a library
    installed, upgraded or removed beside the ones in use, changes it."""
    libraries = tuple(os.stat(d).st_mtime_ns for d in _library_dirs())
    newest, count = 0, 0
    stack = [_package_dir()]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for e in entries:
                if e.is_dir(follow_symlinks=False):
                    if e.name != "__pycache__":
                        stack.append(e.path)
                elif e.name.endswith((".py", ".toml")):
                    newest, count = max(newest, e.stat().st_mtime_ns), count + 1
    return newest, count, libraries


class Resident:
    """The listening process: accepts commands, forks one child per command, reports its exit."""

    def __init__(self, path: str, idle_seconds: float):
        import selectors
        import signal
        import socket
        import time

        self.path, self.idle_seconds = path, idle_seconds
        self.identity = _identity()
        self.preloaded = preload()
        self.stamp = code_stamp()
        self.started = time.time()
        self.pid = os.getpid()
        self.served = 0
        self.stopping = False
        self.children: dict[int, tuple] = {}  # pid -> (caller's socket, pidfd)
        self.spare: _Spare | None = None  # the next server command's process, connected ahead
        self.retired: dict[int, int] = {}  # spares let go, until they have exited: pid -> pidfd
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        os.chmod(path, 0o600)
        self.inode = os.stat(path).st_ino
        self.listener.listen(64)
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self.wake_w.setblocking(False)
        signal.set_wakeup_fd(self.wake_w.fileno())
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, lambda *_: None)  # noticed through the wake-up socket
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, ("accept",))
        self.selector.register(self.wake_r, selectors.EVENT_READ, ("signal",))

    def serve(self) -> None:
        import time

        last = time.monotonic()
        try:
            while not (self.stopping and not self.children and not self.retired):
                now = time.monotonic()
                timeout = None if self.children or self.retired else max(0.0, last + self.idle_seconds - now)
                if self.spare:
                    timeout = max(0.0, min(self.spare.deadline - now, timeout if timeout is not None else SPARE_SECONDS))
                events = self.selector.select(timeout)
                if self.spare and time.monotonic() >= self.spare.deadline:
                    self._retire_spare()
                    continue
                if not events and not self.children and not self.retired:
                    self.stop_listening()  # idle too long
                for key, _ in events:
                    kind, *rest = key.data
                    getattr(self, "_on_" + kind)(key.fileobj, *rest)
                last = time.monotonic()
        finally:
            self.stop_listening()

    def stop_listening(self) -> None:
        if not self.stopping:
            self.stopping = True
            self._retire_spare()
            self.selector.unregister(self.listener)
            self.listener.close()
            try:
                if os.stat(self.path).st_ino == self.inode:  # never another resident's newer socket
                    os.unlink(self.path)
            except OSError:
                pass

    def _on_signal(self, sock) -> None:
        try:
            sock.recv(64)
        except OSError:
            pass
        self.stop_listening()  # commands already running finish first

    def _on_accept(self, listener) -> None:
        import selectors
        import signal

        try:
            conn, _ = listener.accept()
        except OSError:
            return
        fds: list[int] = []
        try:
            conn.settimeout(5)
            if _peer_uid(conn) != os.getuid():
                raise OSError("another user")
            request, fds = _receive(conn, max_fds=3)
            op = (request or {}).get("op")
            if op == "status":
                self._reply(conn, self.status())
            elif op == "stop":
                self._reply(conn, {"stopping": True, "pid": os.getpid(), "commands_running": len(self.children)})
                self.stop_listening()
            elif op == "run" and len(fds) == 3:
                refusal = self._refusal(request)
                if refusal:
                    self._reply(conn, {"refused": refusal})
                else:
                    key = _server_key(request)
                    handed = self._hand_to_spare(key, request, fds)
                    if handed:
                        pid, pidfd = handed
                    else:
                        pid = os.fork()
                        if pid == 0:
                            self._child(conn, fds, request)  # never returns
                        pidfd = os.pidfd_open(pid)
                    self.children[pid] = (conn, pidfd)  # from here _on_child closes the caller's socket
                    self.selector.register(pidfd, selectors.EVENT_READ, ("child", pid))
                    caller, conn = conn, None
                    caller.settimeout(None)
                    try:
                        caller.sendall(b'{"started": %d}\n' % pid)
                        self.selector.register(caller, selectors.EVENT_READ, ("caller", pid))
                    except OSError:  # the caller went away meanwhile: so does its command
                        os.kill(pid, signal.SIGKILL)
                    for fd in fds:
                        os.close(fd)
                    fds = []
                    self._spare_for(key, request)
        except (OSError, ValueError) as e:  # a caller that went away, or not one of ours: said in the log
            print(f"credit-coop resident {os.getpid()}: a request failed: {e!r}", file=sys.stderr, flush=True)
        finally:
            for fd in fds:
                os.close(fd)
            if conn is not None:
                conn.close()

    def _reply(self, conn, message: dict) -> None:
        import json

        conn.sendall(json.dumps(message).encode() + b"\n")

    def _refusal(self, request: dict) -> str | None:
        if self.stopping:
            return "stopping"
        if {k: request.get(k) for k in self.identity} != self.identity:
            return "another installation or locale"
        if code_stamp() != self.stamp:
            self.stop_listening()
            return "the code changed since the resident started"
        return None

    def _on_caller(self, conn, pid: int) -> None:
        """The caller sent a signal to pass on, or is gone (then its command dies with it)."""
        import signal

        try:
            data = conn.recv(256)
        except OSError:
            data = b""
        if pid not in self.children:
            return
        if not data:
            self.selector.unregister(conn)
            os.kill(pid, signal.SIGKILL)
            return
        for word in data.split():
            if word.isdigit() and int(word) in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
                                                  signal.SIGSTOP, signal.SIGCONT):
                os.kill(pid, int(word))

    def _reap(self, pidfd: int, pid: int) -> int:
        """A process of ours that ended: no longer watched; its wait status."""
        self.selector.unregister(pidfd)
        os.close(pidfd)
        return os.waitpid(pid, 0)[1]

    def _on_child(self, pidfd: int, pid: int) -> None:
        conn, _ = self.children.pop(pid)
        status = self._reap(pidfd, pid)
        try:
            self.selector.unregister(conn)
        except (KeyError, ValueError):
            pass
        try:
            conn.sendall(b'{"exit": %d}\n' % os.waitstatus_to_exitcode(status))
        except OSError:
            pass
        conn.close()
        self.served += 1

    def status(self) -> dict:
        return {"pid": os.getpid(), "socket": self.path, "started_at": self.started, "commands": self.served,
                "commands_running": len(self.children), "modules": len(self.preloaded),
                "driver": "psycopg" in self.preloaded, "spare": self.spare.pid if self.spare else None}

    def _child(self, conn, fds: list[int], request: dict) -> None:
        """The forked command: the caller's terminal, environment and directory, then the CLI."""
        try:
            self._detach(conn)
        except BaseException:
            os._exit(1)
        _run_command(fds, request)

    def _detach(self, *keep_closed) -> None:
        """In a fork: let go of everything that is the resident's (its sockets, its other children's
        callers), take the usual signals back, and die with the resident."""
        import signal

        _die_with_parent(self.pid)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        self.selector.close()
        for sock in (self.listener, self.wake_r, self.wake_w, *keep_closed):
            sock.close()
        for other, pidfd in self.children.values():
            other.close()
            os.close(pidfd)
        if self.spare:
            self.spare.pair.close()
            os.close(self.spare.pidfd)
        for pidfd in self.retired.values():
            os.close(pidfd)

    # -- the spare: the next command's fork, already connected to the server -------------------------
    def _spare_for(self, key: tuple | None, request: dict) -> None:
        """Fork the next command's process ahead of it when this command went to a server: it connects
        with this command's settings and loads the server's catalog for the counter's tables, then
        waits. A command to the same server with the same settings is handed to it (connecting and the
        server's first look at each table cost a command several round trips and a few milliseconds)."""
        import selectors
        import socket
        import time

        if key is None or self.stopping or (self.spare and self.spare.key == key):
            return
        self._retire_spare()
        ours, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            try:
                ours.close()
                self._detach()
                _wait_as_spare(theirs, key[0], request)
            finally:
                os._exit(1)
        theirs.close()
        pidfd = os.pidfd_open(pid)
        self.spare = _Spare(pid, pidfd, ours, key, time.monotonic() + SPARE_SECONDS)
        self.selector.register(pidfd, selectors.EVENT_READ, ("spare", pid))

    def _retire_spare(self) -> None:
        """Let the spare go: it closes its connection to the server politely and exits."""
        if self.spare:
            spare, self.spare = self.spare, None
            self.selector.unregister(spare.pidfd)
            spare.pair.close()
            self._await_exit(spare.pid, spare.pidfd)

    def _await_exit(self, pid: int, pidfd: int) -> None:
        import selectors

        self.retired[pid] = pidfd
        self.selector.register(pidfd, selectors.EVENT_READ, ("retired", pid))

    def _on_retired(self, pidfd: int, pid: int) -> None:
        self._reap(pidfd, pid)
        self.retired.pop(pid, None)

    def _on_spare(self, pidfd: int, pid: int) -> None:
        """The spare ended before a command came (the server could not be reached): none until the next."""
        if self.spare and self.spare.pid == pid:
            self._reap(pidfd, pid)
            self.spare.pair.close()
            self.spare = None

    def _hand_to_spare(self, key: tuple | None, request: dict, fds: list[int]) -> tuple[int, int] | None:
        """The spare's pid and pidfd once it has the command, or None (no spare for this server, or it is gone)."""
        spare = self.spare
        if spare is None or spare.key != key:
            return None
        self.spare = None
        self.selector.unregister(spare.pidfd)
        try:
            _send(spare.pair, request, fds=fds)
        except OSError:  # it ended meanwhile
            spare.pair.close()
            self._await_exit(spare.pid, spare.pidfd)
            return None
        spare.pair.close()
        return spare.pid, spare.pidfd


SPARE_SECONDS = 120  # a spare connection older than this is let go (a township's NAT may drop an idle one)


class _Spare:
    def __init__(self, pid: int, pidfd: int, pair, key: tuple, deadline: float):
        self.pid, self.pidfd, self.pair, self.key, self.deadline = pid, pidfd, pair, key, deadline


def _server_key(request: dict) -> tuple | None:
    """What a command's connection depends on: the server ledger it names (``--db`` or CREDIT_COOP_DB)
    and libpq's settings in its environment; None for a file ledger."""
    argv, env = request.get("argv") or [], request.get("env") or {}
    where = env.get("CREDIT_COOP_DB")
    for i, word in enumerate(argv):
        if word == "--db" and i + 1 < len(argv):
            where = argv[i + 1]
        elif word.startswith("--db="):
            where = word[5:]
    if not where or not where.startswith(("postgresql://", "postgres://")):
        return None
    return (where, tuple(sorted((k, v) for k, v in env.items() if k.startswith("PG") or k == "HOME")))


def _as_caller(request: dict) -> None:
    """This process takes on the caller's environment (time zone included), directory and umask."""
    import time

    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()
    os.chdir(request["cwd"])
    os.umask(int(request["umask"]))


def _wait_as_spare(pair, url: str, request: dict) -> None:
    """The spare: connect ahead with the last command's settings, then wait to become the next command."""
    try:
        _as_caller(request)
        from credit_coop.store import postgres

        postgres.connect_ahead(url)
    except Exception:  # the server is not there now: the next command connects (and says so) itself
        os._exit(0)
    command, fds = _receive(pair, max_fds=3)
    pair.close()
    if command is None or len(fds) != 3:
        from credit_coop.store import postgres

        postgres.let_go_ahead()
        os._exit(0)
    _run_command(fds, command)


def _run_command(fds: list[int], request: dict) -> None:
    """Become the caller's command: its terminal, environment, directory and umask, then the CLI."""
    import signal

    code = 1
    try:
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        fds.clear()
        _reopen_stdio()
        _as_caller(request)
        sys.argv = ["credit-coop", *request["argv"]]
        from credit_coop.cli import main as run_here

        try:
            run_here(list(request["argv"]))
            code = 0
        except SystemExit as e:
            if e.code is None or isinstance(e.code, int):
                code = e.code or 0
            else:
                print(e.code, file=sys.stderr)
        except KeyboardInterrupt:  # as Python itself ends on Ctrl-C: the traceback, then the signal
            import traceback

            traceback.print_exc()
            _flush()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        _flush()
        if "credit_coop.store.postgres" in sys.modules:  # a connection made ahead and not used: closed politely
            try:
                sys.modules["credit_coop.store.postgres"].let_go_ahead()
            except Exception:
                pass
        os._exit(code & 0xFF)


def _die_with_parent(parent: int) -> None:
    """A command whose resident died is killed too (Linux's parent-death signal), as a command whose
    caller died is: the server rolls its transaction back, nothing is left half-written."""
    import ctypes
    import signal

    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the resident died before the signal was armed
        os._exit(1)


def _reopen_stdio() -> None:
    """sys.stdin/stdout/stderr over the caller's descriptors, buffered as Python would for them."""
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        old = getattr(sys, name)
        stream = open(fd, mode, encoding=getattr(old, "encoding", None), errors=getattr(old, "errors", None),
                      closefd=False, buffering=1 if fd == 2 or (fd == 1 and os.isatty(fd)) else -1)
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass


# -- start, stop, status (the ``resident`` commands) --------------------------------------------
def _ask(path: str, op: str) -> dict | None:
    sock = _connect(path)
    if sock is None:
        return None
    try:
        sock.settimeout(10)
        _send(sock, {"op": op})
        return next(_lines(sock), None)
    finally:
        sock.close()


def status(path: str | None = None) -> dict:
    """The resident listening for this user, if any (``running: false`` otherwise)."""
    path = path or socket_path()
    if not path:
        return {"running": False, "socket": None, "switched_off": True}
    answer = _ask(path, "status")
    if not answer:
        return {"running": False, "socket": path}
    return {"running": True, **answer}


def start(path: str | None = None, idle_minutes: int = 720) -> dict:
    """Start the resident in the background for this user; waits until it answers."""
    import subprocess
    import time

    from credit_coop.core.errors import Conflict, InvalidInput, RuleViolation

    if not hasattr(os, "fork") or not hasattr(os, "pidfd_open") or not hasattr(os, "getuid"):
        raise RuleViolation("a resident process needs Linux (fork, pidfd); run commands without one")
    if idle_minutes < 1:
        raise InvalidInput("--idle-minutes must be 1 or more")
    path = path or socket_path()
    if not path:
        raise RuleViolation("CREDIT_COOP_RESIDENT=off switches the resident off; unset it to start one")
    home = os.path.dirname(path)
    os.makedirs(home, mode=0o700, exist_ok=True)
    if not private_directory(home):
        raise RuleViolation(f"{home} must be a directory of your own that only you can open (chmod 700)")
    if _ask(path, "status"):
        raise Conflict(f"a resident process is already running ({path})")
    if os.path.lexists(path):
        os.unlink(path)  # a stale socket left by a resident that was killed
    log = path + ".log"
    with open(log, "ab") as errors:  # what the resident itself says goes there, not to a terminal
        # started beside this very package, so it is the one imported (not a checkout in the current directory)
        child = subprocess.Popen([sys.executable, "-c", "import sys; from credit_coop.resident import serve_main; serve_main(sys.argv[1:])",
                                  path, str(idle_minutes * 60)], cwd=os.path.dirname(_package_dir()),
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors,
                                 start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer = _ask(path, "status")
        if answer:
            return {"running": True, **answer, "log": log}
        if child.poll() is not None:
            with open(log, encoding="utf-8", errors="replace") as f:
                why = f.read().strip().splitlines()
            raise RuleViolation("the resident process did not start: " + (why[-1] if why else f"exit {child.returncode}"))
        time.sleep(0.05)
    child.kill()
    raise RuleViolation("the resident process did not answer within 60 s")


def stop(path: str | None = None) -> dict:
    """Ask the resident to stop: it takes no new command, lets running ones finish, then exits."""
    import time

    from credit_coop.core.errors import NotFound

    path = path or socket_path()
    answer = _ask(path, "stop") if path else None
    if not answer:
        raise NotFound("no resident process is running")
    deadline = time.monotonic() + 30
    while os.path.lexists(path) and time.monotonic() < deadline:
        time.sleep(0.02)
    return {"running": False, "stopped_pid": answer["pid"], "socket": path, "left_running": answer["commands_running"]}


def serve_main(argv: list[str]) -> None:
    """The resident's own process: ``SOCKET IDLE_SECONDS``."""
    path, idle = argv[0], float(argv[1])
    Resident(path, idle).serve()
