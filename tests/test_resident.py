"""The resident process (credit_coop/resident.py, issue 12's whole-process ``draw``): commands run in
a fork of an already started Python, with the caller's terminal, environment and directory, and
behave exactly as when the caller runs them. Each test first shows its commands went through the
resident (its count of commands served, or the fork's pid), then what it is about.

These run the installed console script against both backends (``--backend postgresql``)."""

import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import D0, PASSPHRASE
from credit_coop.core.ledger import Ledger
from test_crash import counts, sound
from test_e2e import script

ON = D0.isoformat()


class Resident:
    def __init__(self, path: str, pid: int):
        self.path, self.pid = path, pid

    def served(self) -> int:
        return self.status()["commands"]

    def status(self) -> dict:
        r = subprocess.run([script(), "resident", "status", "--json"], env={**os.environ, "CREDIT_COOP_RESIDENT": self.path},
                           capture_output=True, text=True, timeout=60)
        doc = json.loads(r.stdout)
        assert doc.get("running"), r.stdout + r.stderr
        return doc


def start_resident(path: str) -> subprocess.CompletedProcess:
    return subprocess.run([script(), "resident", "start", "--json"], env={**os.environ, "CREDIT_COOP_RESIDENT": path},
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def resident():
    home = tempfile.mkdtemp(prefix="ccr-")  # short: a socket's path is at most 107 bytes
    path = os.path.join(home, "r.sock")
    pid = None
    try:
        r = start_resident(path)
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        pid = doc["pid"]
        assert doc["running"] and doc["commands"] == 0
        yield Resident(path, pid)
    finally:
        subprocess.run([script(), "resident", "stop"], env={**os.environ, "CREDIT_COOP_RESIDENT": path},
                       capture_output=True, timeout=60)
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(home, ignore_errors=True)


def env_for(ledger: str, resident: str | None, operator="王柜员", **extra) -> dict:
    e = {**os.environ, "CREDIT_COOP_DB": ledger, "CREDIT_COOP_PASSWORD": PASSPHRASE, "CREDIT_COOP_OPERATOR": operator,
         "CREDIT_COOP_LANG": "en", "CREDIT_COOP_RESIDENT": resident or "off"}
    e.pop("CREDIT_COOP_FAULT", None)
    e.update(extra)
    return e


def cc(ledger, resident, *args, operator="王柜员", **extra) -> subprocess.CompletedProcess:
    return subprocess.run([script(), *args], env=env_for(ledger, resident, operator, **extra), capture_output=True,
                          text=True, timeout=120)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def until(what, seconds=30.0, explain=None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = what()
        if got:
            return got
        time.sleep(0.02)
    raise AssertionError(f"not within {seconds} s" + (f": {explain()}" if explain else ""))


def notes(coop) -> int:
    return counts(coop, "SELECT COUNT(*) FROM loan_notes")


@pytest.fixture
def line(coop):
    return coop, coop.granted("hnd", line="8万")


def draw_args(line, amount="1万", *more):
    return ("draw", "--card", line["card_no"], "--id-number", line["borrower"], "--amount", amount, "--fingerprint-ok",
            "--on", ON, *more)


def test_commands_run_in_the_resident_as_they_run_here(line, resident):
    coop, ln = line
    commands = [
        ("line", "show", ln["card_no"], "--json", "--on", ON),
        draw_args(ln, "100万"),                      # refused by the line: exit 5, one line
        draw_args(ln, "\udcc4\udce3"),                # typed on a GBK terminal: exit 3, nothing opened
        ("--lang", "zh", "line", "show", ln["card_no"], "--on", ON),
        ("grant", "approve", "SX-NONE", "--on", ON),  # a teller may not; no such grant either
        ("--help",),
    ]
    for args in commands:
        here = cc(coop.path, None, *args)
        there = cc(coop.path, resident.path, *args)
        assert (there.returncode, there.stdout, there.stderr) == (here.returncode, here.stdout, here.stderr), args
    assert resident.served() == len(commands)
    assert [cc(coop.path, None, *a).returncode for a in commands[1:3]] == [5, 3]
    # a posting through the resident, then its retry here: one note, the same number
    first = cc(coop.path, resident.path, "--json", *draw_args(ln, "1万", "--request-id", "r-1"))
    again = cc(coop.path, None, "--json", *draw_args(ln, "1万", "--request-id", "r-1"))
    assert first.returncode == again.returncode == 0, first.stderr + again.stderr
    assert json.loads(first.stdout)["note_no"] == json.loads(again.stdout)["note_no"] and json.loads(again.stdout)["replayed"]
    assert resident.served() == len(commands) + 1 and notes(coop) == 1
    sound(coop)


def paused_draw(coop, ln, resident_path, mark, request_id="k-1"):
    """A drawdown held inside its transaction (after the posting, before the commit): in the resident's
    fork, or with ``resident_path`` None in the caller itself."""
    caller = subprocess.Popen([script(), *draw_args(ln, "1万", "--request-id", request_id)],
                              env=env_for(coop.path, resident_path, CREDIT_COOP_FAULT="draw:1:pause",
                                          CREDIT_COOP_FAULT_MARK=str(mark)),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              process_group=0)  # as a shell's job: a group of its own that Ctrl-Z can stop
    fork = int(until(lambda: mark.exists() and mark.read_text()))
    assert (fork != caller.pid) == bool(resident_path) and alive(fork) and caller.poll() is None  # mid-transaction
    return caller, fork


def test_killing_the_caller_kills_its_command_and_posts_nothing(line, resident, tmp_path):
    coop, ln = line
    caller, fork = paused_draw(coop, ln, resident.path, tmp_path / "mark")
    # the resident serves others meanwhile
    assert cc(coop.path, resident.path, "--help").returncode == 0 and resident.served() == 1
    caller.kill()
    caller.wait()
    until(lambda: not alive(fork))
    assert notes(coop) == 0
    sound(coop)
    again = cc(coop.path, resident.path, *draw_args(ln, "1万", "--request-id", "k-1"))
    assert again.returncode == 0, again.stderr
    assert notes(coop) == 1 and resident.served() == 3


def test_ctrl_c_reaches_the_command_and_ends_it_as_here(line, resident, tmp_path):
    coop, ln = line
    ended = []
    for where in (None, resident.path):  # here first: what Ctrl-C does to a command run without the resident
        mark = tmp_path / f"mark-{len(ended)}"
        caller, fork = paused_draw(coop, ln, where, mark)
        caller.send_signal(signal.SIGINT)
        _, err = caller.communicate(timeout=60)
        ended.append((caller.returncode, err))
        until(lambda: not alive(fork))
        assert notes(coop) == 0
    assert ended[0] == ended[1] and ended[0][0] != 0
    assert resident.served() == 1
    sound(coop)


def test_ctrl_z_stops_the_command_with_its_caller(line, resident, tmp_path):
    coop, ln = line

    def state(pid):
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]

    caller, fork = paused_draw(coop, ln, resident.path, tmp_path / "mark")
    caller.send_signal(signal.SIGTSTP)
    until(lambda: state(caller.pid) == "T" and state(fork) == "T", explain=lambda: (state(caller.pid), state(fork)))  # both stopped: the fork reads no terminal meanwhile
    caller.send_signal(signal.SIGCONT)
    until(lambda: state(caller.pid) != "T" and state(fork) != "T")
    caller.kill()
    caller.wait()
    until(lambda: not alive(fork))
    assert notes(coop) == 0


def test_a_resident_killed_mid_command_takes_the_command_with_it(line, resident, tmp_path):
    coop, ln = line
    caller, fork = paused_draw(coop, ln, resident.path, tmp_path / "mark")
    os.kill(resident.pid, signal.SIGKILL)
    _, err = caller.communicate(timeout=60)
    assert caller.returncode == 8 and err.count("\n") == 1 and "look the posting up" in err
    until(lambda: not alive(fork))
    assert notes(coop) == 0
    sound(coop)


def test_a_command_killed_in_the_resident_dies_as_it_would_here(line, resident):
    coop, ln = line
    r = cc(coop.path, resident.path, *draw_args(ln), CREDIT_COOP_FAULT="draw:1")
    assert r.returncode == -signal.SIGKILL and resident.served() == 1
    assert notes(coop) == 0
    sound(coop)


def test_relative_paths_and_umask_are_the_callers(line, resident, tmp_path):
    coop, _ = line
    work = tmp_path / "work"
    work.mkdir()
    e = env_for(coop.path, resident.path, operator="郑稽核")
    r = subprocess.run(["sh", "-c", f"umask 077; exec {script()} export journal --format hledger --out j.txt"],
                       cwd=work, env=e, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert resident.served() == 1
    assert (work / "j.txt").exists() and (work / "j.txt").stat().st_mode & 0o077 == 0


def test_changed_code_runs_the_command_here_and_stops_the_resident(line, tmp_path):
    """On a copy of the package (changing the installed one would stop every other test's resident)."""
    import credit_coop

    coop, ln = line
    copy = tmp_path / "pkg"
    shutil.copytree(os.path.dirname(credit_coop.__file__), copy / "credit_coop", ignore=shutil.ignore_patterns("__pycache__"))
    home = tempfile.mkdtemp(prefix="ccr-")
    sock = os.path.join(home, "r.sock")
    front = "import sys; sys.argv[0] = 'credit-coop'; from credit_coop.resident import main; main()"
    e = env_for(coop.path, sock, PYTHONPATH=str(copy))
    e.pop("PYTHONDONTWRITEBYTECODE", None)

    def cc_copy(*args):
        return subprocess.run([sys.executable, "-c", front, *args], env=e, cwd=home, capture_output=True, text=True, timeout=120)

    try:
        started = cc_copy("--json", "resident", "start")
        assert started.returncode == 0, started.stderr
        pid = json.loads(started.stdout)["pid"]
        assert cc_copy(*draw_args(ln, "1万", "--request-id", "c-1")).returncode == 0
        assert json.loads(cc_copy("resident", "status", "--json").stdout)["commands"] == 1
        (copy / "credit_coop" / "core" / "faults.py").write_text((copy / "credit_coop" / "core" / "faults.py").read_text() + "\n")
        r = cc_copy(*draw_args(ln, "1万", "--request-id", "c-2"))
        assert r.returncode == 0, r.stderr
        assert notes(coop) == 2  # each posted once; the second here
        until(lambda: not alive(pid))
        assert not os.path.exists(sock)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_a_socket_others_can_reach_is_never_used(line, tmp_path):
    import socket

    coop, ln = line
    home = tempfile.mkdtemp(prefix="ccr-")
    try:
        os.chmod(home, 0o755)
        path = os.path.join(home, "r.sock")
        impostor = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        impostor.bind(path)
        impostor.listen(1)
        impostor.setblocking(False)
        r = cc(coop.path, path, *draw_args(ln))
        assert r.returncode == 0, r.stderr
        with pytest.raises(BlockingIOError):
            impostor.accept()  # nobody knocked: the command ran here
        started = start_resident(path)
        assert started.returncode == 5 and "chmod 700" in started.stderr and started.stderr.count("\n") == 1
        impostor.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_start_stop_status(resident, tmp_path):
    (tmp_path / "credit_coop").mkdir()  # another checkout where start is typed: never the one the resident runs
    (tmp_path / "credit_coop" / "__init__.py").write_text("raise SystemExit('the wrong credit_coop')\n")
    again = subprocess.run([script(), "resident", "start"], env={**os.environ, "CREDIT_COOP_RESIDENT": resident.path},
                           cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert again.returncode == 7 and "already running" in again.stderr
    env = {**os.environ, "CREDIT_COOP_RESIDENT": resident.path, "CREDIT_COOP_LANG": "zh"}
    stopped = subprocess.run([script(), "resident", "stop"], env=env, capture_output=True, text=True, timeout=60)
    assert stopped.returncode == 0 and f"常驻进程 {resident.pid} 已停止" in stopped.stdout
    until(lambda: not alive(resident.pid))
    status = subprocess.run([script(), "resident", "status", "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert json.loads(status.stdout)["running"] is False
    nothing = subprocess.run([script(), "resident", "stop"], env=env, capture_output=True, text=True, timeout=60)
    assert nothing.returncode == 4 and "没有正在运行的常驻进程" in nothing.stderr
    off = subprocess.run([script(), "resident", "start"], env={**env, "CREDIT_COOP_RESIDENT": "off"}, capture_output=True,
                         text=True, timeout=60)
    assert off.returncode == 5 and off.stderr.count("\n") == 1
    idle = subprocess.run([script(), "resident", "start", "--idle-minutes", "0"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert idle.returncode == 3 and not os.path.exists(resident.path)


def test_an_idle_resident_stops_by_itself():
    home = tempfile.mkdtemp(prefix="ccr-")
    try:
        path = os.path.join(home, "r.sock")
        p = subprocess.Popen([sys.executable, "-c", "import sys; from credit_coop.resident import serve_main; serve_main(sys.argv[1:])",
                              path, "0.5"])
        until(lambda: os.path.exists(path))
        assert p.wait(timeout=60) == 0 and not os.path.exists(path)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_a_passphrase_typed_at_the_prompt_is_not_echoed(line, resident):
    coop, _ = line
    master, slave = pty.openpty()
    e = env_for(coop.path, resident.path)
    e.pop("CREDIT_COOP_PASSWORD")
    p = subprocess.Popen([script(), "login"], stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)
    os.close(slave)
    seen = b""
    while b"passphrase" not in seen:  # the prompt, on the caller's stderr
        seen += os.read(p.stderr.fileno(), 256) if select.select([p.stderr], [], [], 30)[0] else b"!"
        assert b"!" not in seen, seen
    os.write(master, PASSPHRASE.encode() + b"\n")
    out, err = p.communicate(timeout=60)
    echoed = b""
    while select.select([master], [], [], 0.2)[0]:
        try:
            echoed += os.read(master, 1024)
        except OSError:
            break
    os.close(master)
    assert p.returncode == 0, err
    assert b"logged in" in out and resident.served() == 1
    assert PASSPHRASE.encode() not in echoed


def test_many_callers_at_once(coop, resident):
    """Commands and questions arriving together are each served (a race once made a fast answer look
    like a broken pipe to its caller)."""
    from concurrent.futures import ThreadPoolExecutor

    from credit_coop import resident as module

    lines = [coop.granted("hnd", line="8万", borrower=coop.borrower(name=f"户{i}")) for i in range(4)]
    with ThreadPoolExecutor(8) as pool:
        asked = [pool.submit(module.status, resident.path) for _ in range(40)]
        drawn = [pool.submit(cc, coop.path, resident.path, *draw_args(ln)) for ln in lines]
        assert all(a.result()["running"] for a in asked)
        assert [d.result().returncode for d in drawn] == [0] * 4, [d.result().stderr for d in drawn]
    assert resident.served() == 4 and notes(coop) == 4
    sound(coop)


def test_a_server_command_goes_to_a_spare_already_connected(server_database, resident, tmp_path):
    """After a command to a server, the resident forks the next one ahead, connected with the same settings;
    the next command to that server runs in it. A spare whose connection the server dropped meanwhile
    connects again, and the command goes through."""
    from conftest import make_coop

    coop = make_coop(server_database)
    try:
        ln = coop.granted("hnd", line="8万")
        assert resident.status()["spare"] is None  # nothing to connect to yet
        assert cc(coop.path, resident.path, *draw_args(ln)).returncode == 0
        spare = until(lambda: resident.status()["spare"])
        caller, pid = paused_draw(coop, ln, resident.path, tmp_path / "mark")
        assert pid == spare  # the command runs in the spare
        caller.kill()
        caller.wait()
        until(lambda: not alive(pid))
        # the server drops every idle connection but the test's own (the new spare's among them)
        until(lambda: resident.status()["spare"])
        with Ledger.open(coop.path) as led:
            dropped = led.store._scalar(
                "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle'")
        assert dropped >= 1
        again = cc(coop.path, resident.path, *draw_args(ln))
        assert again.returncode == 0 and not again.stderr, again.stderr
        assert notes(coop) == 2 and resident.served() == 3
        sound(coop)
        spare = until(lambda: resident.status()["spare"])
        nowhere = str(tmp_path / "none.db")  # a command on a file: the spare waits on
        assert cc(nowhere, resident.path, "line", "show", ln["card_no"]).returncode == 9
        assert resident.status()["spare"] == spare
        other = cc(coop.path, resident.path, "line", "show", ln["card_no"], PGAPPNAME="counter-2")
        assert other.returncode == 0, other.stderr  # other connection settings: not the spare's; a new one for them
        assert alive(spare) is False or until(lambda: not alive(spare))
        assert until(lambda: resident.status()["spare"]) != spare
    finally:
        coop.close()


def test_the_code_stamp_sees_a_package_installed_beside_a_library(tmp_path, monkeypatch):
    """pip installing or upgrading a library the resident has loaded changes the folder it lives in."""
    import importlib

    from credit_coop import resident as module

    site = tmp_path / "site"
    (site / "fakelib").mkdir(parents=True)
    (site / "fakelib" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(site))
    importlib.import_module("fakelib")
    monkeypatch.setattr(module, "LIBRARIES", ("fakelib",))
    before = module.code_stamp()
    assert module._library_dirs() == [str(site)]
    time.sleep(0.01)
    (site / "fakelib-2.0.dist-info").mkdir()
    assert module.code_stamp() != before
    monkeypatch.delitem(sys.modules, "fakelib")
