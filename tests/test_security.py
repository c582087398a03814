"""Who may act: the role × command matrix, passphrases, lockout, sessions, audit log, fuzzed input."""

import hashlib
import os
import json
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from typer.testing import CliRunner

from credit_coop.cli import app
from credit_coop.cli.base import CURRENT
from credit_coop.core import auth, operators
from credit_coop.core.errors import NotPermitted
from credit_coop.core.operators import COMMAND_ROLES, NO_ROLE_COMMANDS, ROLES
from conftest import D0, PASSPHRASE, STAFF

runner = CliRunner()
BY_ROLE = {key.rstrip("2"): name for key, name in STAFF.items()} | {"admin": "李主任"}


def cli(db, operator, *args, password=PASSPHRASE, env=None):
    CURRENT.db = CURRENT.operator = None
    CURRENT.json = False
    e = {"CREDIT_COOP_PASSWORD": password, "CREDIT_COOP_NEW_PASSWORD": None, "CREDIT_COOP_OPERATOR": None, **(env or {})}
    return runner.invoke(app, ["--db", db, "--operator", operator, *args], env=e)


def _leaf_commands():
    from test_cli import _all_commands

    return [(" ".join(path), cmd) for path, cmd in _all_commands(app)]


def _dummy_args(cmd) -> list[str]:
    args = []
    for p in cmd.params:
        if getattr(p, "param_type_name", "") == "argument":
            args.append("1")
        elif p.required:
            args += [p.opts[0], "1"]
    return args


def test_every_command_is_in_the_matrix():
    names = {name for name, _ in _leaf_commands()} - set(NO_ROLE_COMMANDS)
    assert names == set(COMMAND_ROLES), names ^ set(COMMAND_ROLES)


def test_the_whole_matrix(coop, tmp_path, monkeypatch):
    """Each role against each command: refused by the matrix exactly when the matrix says so."""
    monkeypatch.chdir(tmp_path)
    env = {"XDG_RUNTIME_DIR": str(tmp_path)}
    checked = 0
    for name, cmd in _leaf_commands():
        if name in NO_ROLE_COMMANDS:
            continue
        argv = name.split() + _dummy_args(cmd)
        for role in ROLES:
            r = cli(coop.path, BY_ROLE[role], *argv, env=env)
            refused_by_matrix = f"may not run `{name}`" in r.stderr
            assert refused_by_matrix == (role not in COMMAND_ROLES[name]), (name, role, r.output)
            assert "Traceback" not in r.output
            checked += 1
    assert checked >= 50 * len(ROLES)


def test_every_command_prints_one_json_document(coop, tmp_path, monkeypatch):
    """Issue 19: under --json every command, refused or not, prints exactly one JSON document."""
    monkeypatch.chdir(tmp_path)
    env = {"XDG_RUNTIME_DIR": str(tmp_path)}
    seen = 0
    for name, cmd in _leaf_commands():
        if name in NO_ROLE_COMMANDS:
            continue
        role = COMMAND_ROLES[name][0]
        r = cli(coop.path, BY_ROLE[role], "--json", *name.split(), *_dummy_args(cmd), env=env)
        if r.exit_code == 2:  # a usage error, before the command runs
            continue
        doc = json.loads(r.stdout)  # refuses a second document after the first
        assert isinstance(doc, dict) and isinstance(doc.get("ok"), bool), (name, r.stdout)  # one shape: an object with ok
        seen += 1
    assert seen >= 40


AMOUNT_WORDS = ("amount", "principal", "interest", "penalty", "fee", "ceiling", "balance", "outstanding", "available",
                "owed", "total", "refund", "holdback", "payable", "pay", "fund", "debt", "exposure", "granted", "drawn",
                "recovery", "collected", "shortfall", "line", "up_to", "caps", "debit", "credit")
NOT_MONEY = ("_count", "percent", "days", "months", "rows", "households", "surveyed", "reviewed", "approved", "grants",
             "notes", "txn", "id", "transactions", "checks")


def _money_keys_without_fen(doc, path=""):
    """Keys that hold an amount (an int under a money word) but do not end in ``_fen``."""
    bad = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            name = str(k).lower()
            if isinstance(v, int) and not isinstance(v, bool) and not name.endswith("_fen") \
                    and any(w in name for w in AMOUNT_WORDS) and not any(w in name for w in NOT_MONEY):
                bad.append(f"{path}.{k}")
            bad += _money_keys_without_fen(v, f"{path}.{k}")
    elif isinstance(doc, list):
        for v in doc[:3]:
            bad += _money_keys_without_fen(v, f"{path}[]")
    return bad


def test_every_amount_in_json_is_fen_under_a_fen_key(tmp_path):
    """Issue 17: `policy show` gave amounts without `_fen`; the same thing had two names. Walk every command's
    JSON on the demo ledger (reads) and the counter's receipts."""
    from credit_coop.core.demo import build_demo

    path = str(tmp_path / "d.db")
    build_demo(path, None, __import__("datetime").date(2025, 4, 30))
    env = {"XDG_RUNTIME_DIR": str(tmp_path)}
    reads = [["policy", "show"], ["operator", "list"], ["report", "overdue"], ["report", "products", "--as-of", "2025-04-30"],
             ["report", "compensation"], ["report", "trial-balance", "--as-of", "2025-04-30"], ["report", "officers"],
             ["report", "sla", "--as-of", "2025-04-30"], ["grant", "list"], ["grant", "show", "SX2025000001"],
             ["line", "show", "6220250000000010"], ["loan", "show", "JJ202500000001"], ["verify"],
             ["officer", "statement", "经理1-1", "--year", "2025"], ["audit-log"],
             ["batch", "payroll", "--month", "2025-03", "--dry-run"]]
    seen = 0
    for args in reads:
        r = cli(path, "联社管理员" if args[0] in ("batch", "operator") else "郑稽核", "--json", *args, password="demo-pass", env=env)
        doc = json.loads(r.stdout)
        assert doc["ok"] in (True, False), args
        assert _money_keys_without_fen(doc) == [], (args, _money_keys_without_fen(doc))
        seen += 1
    assert seen == len(reads)


def test_passphrase_lockout_and_unlock(coop):
    for i in range(4):
        r = cli(coop.path, "王柜员", "verify", password="wrong-pass")
        assert r.exit_code == 6 and "attempts left" in r.output
    r = cli(coop.path, "王柜员", "verify", password="wrong-pass")
    assert r.exit_code == 6 and "now locked" in r.output
    assert cli(coop.path, "王柜员", "verify").exit_code == 6      # even the right passphrase: locked
    with pytest.raises(NotPermitted):
        auth.unlock(coop.as_("accountant"), "王柜员")
    auth.unlock(coop.as_("李主任"), "王柜员")
    assert cli(coop.path, "王柜员", "verify").exit_code == 0
    log = [dict(r) for r in coop.as_("auditor").store.audit_entries(operator="王柜员")]
    assert sum(1 for e in log if e["action"] == "login failed") == 5
    assert all("wrong-pass" not in json.dumps(e, ensure_ascii=False) for e in log)   # secrets never logged


def test_operator_alone_is_not_enough(coop):
    r = cli(coop.path, "王柜员", "verify", password=None)
    assert r.exit_code == 6 and "passphrase" in r.output


def test_shift_session(coop, tmp_path, monkeypatch):
    import time

    from credit_coop.core.auth import session_file

    env = {"XDG_RUNTIME_DIR": str(tmp_path)}
    assert cli(coop.path, "王柜员", "login", "--hours", "13", env=env).exit_code == 3  # longer than a shift (policy: 12)
    r = cli(coop.path, "王柜员", "--json", "login", "--hours", "1", env=env)
    assert r.exit_code == 0
    path = json.loads(r.stdout)["session_file"]
    assert cli(coop.path, "王柜员", "verify", password=None, env=env).exit_code == 0
    # a session is the operator's own: another name cannot ride on it
    assert cli(coop.path, "赵会计", "verify", password=None, env=env).exit_code == 6
    with open(path, encoding="utf-8") as f:
        token = f.read()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    other = session_file(coop.as_("auditor").store.get_meta("ledger_id"), "赵会计")
    with open(other, "w", encoding="utf-8") as f:  # not even with the token in their own session file
        f.write(token)
    assert cli(coop.path, "赵会计", "verify", password=None, env=env).exit_code == 6
    # and it ends with the shift
    later = time.time() + 3601
    monkeypatch.setattr(time, "time", lambda: later)
    assert cli(coop.path, "王柜员", "verify", password=None, env=env).exit_code == 6
    monkeypatch.undo()
    assert cli(coop.path, "王柜员", "verify", password=None, env=env).exit_code == 0
    # the session follows the ledger, not the path string: a relative --db finds it
    on_file = not coop.path.startswith("postgresql://")
    if on_file:
        rel = os.path.relpath(coop.path)
        assert cli(rel, "王柜员", "verify", password=None, env=env).exit_code == 0
    # the ledger (and so every backup) holds only the token's hash: nothing to mint a session with
    if on_file:
        raw = open(coop.path, "rb").read() + (open(coop.path + "-wal", "rb").read() if os.path.exists(coop.path + "-wal") else b"")
    else:
        from conftest import RawLedger

        db = RawLedger(coop.path)
        raw = repr([db.rows(t) for t in ("sessions", "meta", "operators", "audit_log")]).encode()
        db.close()
    assert token.encode() not in raw and coop.as_("auditor").store.get_meta("session_key") is None
    # a tampered token fails
    with open(path, "w", encoding="utf-8") as f:
        f.write(token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    assert cli(coop.path, "王柜员", "verify", password=None, env=env).exit_code == 6
    with open(path, "w", encoding="utf-8") as f:
        f.write(token)
    # logout ends the token itself: a copy kept elsewhere stops working
    assert cli(coop.path, "王柜员", "logout", password=None, env=env).exit_code == 0
    with open(path, "w", encoding="utf-8") as f:
        f.write(token)
    assert cli(coop.path, "王柜员", "verify", password=None, env=env).exit_code == 6


def test_parallel_guesses_are_bounded_by_the_lockout(coop, tmp_path):
    """Issue 16 §4: the count was read outside the write, so 32 parallel tries got 128 guesses."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from credit_coop.core import auth\n"
        "from credit_coop.core.errors import LedgerError\n"
        "from credit_coop.core.ledger import Ledger\n"
        "checked = 0\n"
        "for i in range(4):\n"
        "    with Ledger.open(sys.argv[1], '王柜员') as led:\n"
        "        try:\n"
        "            auth.authenticate(led, 'wrong-%d' % i)\n"
        "        except LedgerError as e:\n"
        "            checked += 'wrong passphrase' in str(e)\n"
        "print(checked)\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, coop.path], stdout=subprocess.PIPE, text=True) for _ in range(8)]
    checked = sum(int(p.communicate(timeout=120)[0].strip() or 0) for p in procs)
    assert checked == auth.MAX_FAILURES  # 32 tries, exactly five passphrases checked, then locked
    op = coop.as_("auditor").store.get_operator("王柜员")
    assert op["locked"] == 1 and op["failed_attempts"] == auth.MAX_FAILURES


def test_a_locked_out_admin_recovers_with_the_code(tmp_path):
    from credit_coop.core.ledger import Ledger, create_ledger

    path = str(tmp_path / "solo.db")
    made = create_ledger(path, operator="李主任", on=D0, passphrase="pass-123")
    code = made["recovery_code"]
    for _ in range(auth.MAX_FAILURES):
        assert cli(path, "李主任", "verify", password="wrong-pass").exit_code == 6
    assert cli(path, "李主任", "verify").exit_code == 6                     # the only admin is locked
    env = {"CREDIT_COOP_RECOVERY_CODE": "AAAAAA-BBBBBB", "CREDIT_COOP_NEW_PASSWORD": None}
    r = cli(path, "李主任", "recover", env=env)
    assert r.exit_code == 6 and "wrong recovery code" in r.stderr
    env = {"CREDIT_COOP_RECOVERY_CODE": code.lower(), "CREDIT_COOP_NEW_PASSWORD": "new-pass-456"}
    r = cli(path, "李主任", "--json", "recover", env=env)
    assert r.exit_code == 0, r.output
    fresh = json.loads(r.stdout)["recovery_code"]
    assert fresh != code
    assert cli(path, "李主任", "verify", password="new-pass-456").exit_code == 0
    r = cli(path, "李主任", "recover", env={"CREDIT_COOP_RECOVERY_CODE": code})   # used up
    assert r.exit_code == 6
    with Ledger.open(path) as led:
        assert code not in open(path, "rb").read().decode("latin-1")
        actions = [e["action"] for e in led.store.audit_entries()]
        assert "recovered" in actions and actions.count("recovery refused") == 2


def test_every_command_is_in_the_audit_log(coop):
    cli(coop.path, "王柜员", "line", "show", "6220250000000010")         # refused: no such line
    cli(coop.path, "王柜员", "verify")
    entries = coop.as_("auditor").store.audit_entries(operator="王柜员")
    assert [(e["action"], e["result"].split(" ")[0]) for e in entries][-2:] == [("line show", "refused"), ("verify", "ok")]
    r = cli(coop.path, "郑稽核", "audit-log", "--by", "王柜员", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["entries"][-1]["action"] == "verify"


def test_no_one_changes_their_own_role_or_acts_on_their_own_credit(coop):
    with pytest.raises(NotPermitted, match="own role"):
        operators.set_role(coop.as_("李主任"), "李主任", "teller")
    operators.set_role(coop.as_("李主任"), "刘经理", "reviewer")
    idn = coop.borrower(kinds=("farmer",))
    operators.add_operator(coop.as_("李主任"), "柜员自己", "teller", D0, id_number=idn)
    line = coop.granted("hnd", borrower=idn)
    from credit_coop.core import loans

    with pytest.raises(NotPermitted, match="is the borrower"):
        loans.draw(coop.as_("柜员自己"), card=line["card_no"], id_number=idn, amount="1", fingerprint_ok=True, on=D0)


# -- fuzzing ------------------------------------------------------------------
BAD_AMOUNTS = st.one_of(
    st.sampled_from(["-1", "0", "0.00", "NaN", "inf", "-inf", "1.001", "9" * 25, "1e5", "¥-5", "1,00", "十万",
                     "'; DROP TABLE txns;--", "1 OR 1=1", "", " ", "0x10", "١٠", "10²", "①0",
                     "１０ＯＲ１", "1，0000．001"]),
    st.text(alphabet=st.characters(blacklist_categories=("Nd",)), min_size=1, max_size=20),
)
BAD_DATES = st.one_of(st.sampled_from(["2025-02-30", "2025-13-01", "01/03/2025", "2025.3.1", "0000-00-00", "9999-99-99",
                                       "2025年2月30日", "２０２５／１３／０１", "2025-03-01; DELETE FROM txns", ""]),
                      st.text(max_size=12).filter(lambda t: len(t) != 10))
BAD_IDS = st.one_of(st.from_regex(r"\A[0-9]{17}\Z"), st.from_regex(r"\A[0-9]{19}\Z"), st.text(max_size=25).filter(lambda t: len(t) != 18),
                    st.sampled_from(["110105194912310021", "11010519490230002X", "' OR '1'='1"]))
BAD_CARDS = st.one_of(st.from_regex(r"\A[0-9]{15}\Z"), st.text(max_size=20), st.sampled_from(["6220250000000011", "62202500000000100"]))


def _snapshot(path: str) -> str:
    from conftest import RawLedger

    con = RawLedger(path)
    h = hashlib.sha256()
    for table in ("txns", "journal_lines", "loan_notes", "grants", "grant_events", "borrowers", "requests", "operators",
                  "org_units", "townships", "villages", "org_assignments"):
        for row in con.rows(table):
            h.update(repr(tuple(row)).encode())
    con.close()
    return h.hexdigest()


@pytest.fixture
def fuzz_ledger(coop):
    line = coop.granted("hnd", line="8万")
    return coop, line


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_fuzzed_options_refused_cleanly(fuzz_ledger, data):
    coop, line = fuzz_ledger
    card, idn = line["card_no"], line["borrower"]
    case = data.draw(st.sampled_from(["draw-amount", "draw-date", "draw-id", "draw-card", "repay-amount", "apply-amount",
                                      "borrower-id", "survey-line", "maturity", "org-unit", "org-township"]))
    g = None
    if case == "draw-amount":
        who, args = "王柜员", ["draw", "--card", card, "--id-number", idn, "--fingerprint-ok", "--amount", data.draw(BAD_AMOUNTS)]
    elif case == "draw-date":
        who, args = "王柜员", ["draw", "--card", card, "--id-number", idn, "--fingerprint-ok", "--amount", "1", "--on", data.draw(BAD_DATES)]
    elif case == "draw-id":
        who, args = "王柜员", ["draw", "--card", card, "--fingerprint-ok", "--amount", "1", "--id-number", data.draw(BAD_IDS)]
    elif case == "draw-card":
        who, args = "王柜员", ["draw", "--id-number", idn, "--fingerprint-ok", "--amount", "1", "--card", data.draw(BAD_CARDS)]
    elif case == "maturity":
        who, args = "王柜员", ["draw", "--card", card, "--id-number", idn, "--fingerprint-ok", "--amount", "1",
                              "--maturity", data.draw(BAD_DATES)]
    elif case == "repay-amount":
        who, args = "王柜员", ["repay", "--card", card, "--amount", data.draw(BAD_AMOUNTS)]
    elif case == "apply-amount":
        who, args = "张经理", ["grant", "apply", "--borrower", idn, "--product", "sdt", "--amount", data.draw(BAD_AMOUNTS)]
    elif case == "org-unit":  # issue 13: the organisation's commands take the same beating
        who, args = "李主任", ["org", "add", data.draw(st.sampled_from(["department", "branch", "region", ""])),
                              data.draw(st.text(max_size=20).filter(lambda t: not __import__("re").fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{0,15}", t))),
                              "--name", data.draw(st.text(max_size=8))]
    elif case == "org-township":
        who, args = "李主任", ["org", "township", data.draw(st.text(max_size=12)), "--department", data.draw(st.text(max_size=6)),
                              "--branch", data.draw(st.text(max_size=6))]
    elif case == "borrower-id":
        who, args = "张经理", ["borrower", "add", "--name", "某", "--kind", "farmer", "--id-number", data.draw(BAD_IDS)]
    else:
        who, args = "张经理", ["grant", "survey", line["grant_no"], "--term", "12", "--line", data.draw(BAD_AMOUNTS)]
    before = _snapshot(coop.path)
    r = cli(coop.path, who, *args)
    assert r.exit_code in (2, 3, 4, 5, 6, 7), (args, r.output)
    assert "Traceback" not in r.output
    if r.exit_code != 2:
        assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1
    assert _snapshot(coop.path) == before


def test_the_audit_log_tells_the_real_outcome(coop, tmp_path, monkeypatch):
    """Issue 16 §6: a refused import and a failing verify were logged "ok"; a busy refusal not at all;
    a kill between a draw's commit and its audit row lost the row."""
    from credit_coop.cli import base
    from conftest import RawLedger, writes_held

    env = {"XDG_RUNTIME_DIR": str(tmp_path)}
    bad = tmp_path / "bad.csv"
    bad.write_text("name,role\n,teller\n", "utf-8")
    assert cli(coop.path, "李主任", "import", "operators", str(bad), env=env).exit_code == 5
    line = coop.granted("hnd", line="8万")
    # the draw's audit row is written in the draw's own transaction: even if the process dies right
    # after the commit (the wrapper's final log step never runs), the row is there
    real_finish = base._finish
    monkeypatch.setattr(base, "_finish", lambda outcome: [led.close() for led in base.CURRENT.opened] and None)
    r = cli(coop.path, "王柜员", "draw", "--card", line["card_no"], "--id-number", line["borrower"], "--amount", "100",
            "--fingerprint-ok", "--on", "2025-03-01", env=env)
    assert r.exit_code == 0, r.output
    base.CURRENT.opened.clear()
    monkeypatch.setattr(base, "_finish", real_finish)
    # a busy ledger: the refusal waits in this user's spool and reaches the log with the next command
    with writes_held(coop.path):
        r = cli(coop.path, "王柜员", "draw", "--card", line["card_no"], "--id-number", line["borrower"], "--amount", "100",
                "--fingerprint-ok", "--on", "2025-03-01", env=env)
    assert r.exit_code == 8
    # a verify that finds problems
    db = RawLedger(coop.path)
    db.unguard("journal_lines")
    db.commit()
    db.close()
    assert cli(coop.path, "郑稽核", "verify", env=env).exit_code == 1
    log = [(e["operator"], e["action"], e["result"]) for e in coop.as_("auditor").store.audit_entries()]
    assert ("李主任", "import", "refused (5): import refused: 1 bad row(s), nothing posted") in log
    assert ("王柜员", "draw", "ok") in log
    assert ("王柜员", "draw", "refused (8): the ledger is busy with another posting; please retry") in log
    assert ("郑稽核", "verify", "refused (1): verify found 1 problem(s)") in log


def test_the_audit_log_masks_ids_and_speaks_local_time(coop):
    """Issue 17: audit-log printed full ID numbers to anyone allowed to read it, in UTC."""
    idn = coop.borrower()
    cli(coop.path, "张经理", "borrower", "show", idn)
    r = cli(coop.path, "郑稽核", "--json", "audit-log")
    rows = json.loads(r.stdout)["entries"]
    assert idn not in r.stdout and any(idn[-4:] in (x["detail"] or "") for x in rows)
    assert all(x["at"].endswith("+08:00") for x in rows)
    r = cli(coop.path, "郑稽核", "--json", "audit-log", "--unmasked")
    assert idn in r.stdout
    r = cli(coop.path, "李主任", "audit-log", "--unmasked")
    assert r.exit_code == 0


@pytest.mark.parametrize("where", ["amount", "operator", "passphrase"])
def test_text_a_gbk_terminal_sends_is_refused_in_one_line(coop, where):
    """A terminal set to GBK on a UTF-8 system sends bytes that are not UTF-8 ('你' is C4 E3 in GBK); Python
    keeps them as lone surrogates, which neither the ledger nor its audit log can store. Was: a traceback
    from the audit row's INSERT."""
    line = coop.granted("hnd", line="8万")
    gbk = "你".encode("gbk").decode("utf-8", "surrogateescape")
    before = _snapshot(coop.path)
    r = cli(coop.path, gbk if where == "operator" else "王柜员", "draw", "--card", line["card_no"], "--id-number",
            line["borrower"], "--fingerprint-ok", "--amount", gbk if where == "amount" else "1万",
            password=PASSPHRASE + gbk if where == "passphrase" else PASSPHRASE)
    assert r.exit_code == 3, r.output
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1 and "is not UTF-8" in r.stderr
    assert where in r.stderr
    assert _snapshot(coop.path) == before  # a passphrase so typed is not counted as a guess either
