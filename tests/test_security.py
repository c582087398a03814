"""Who may act: the role × command matrix, passphrases, lockout, sessions, audit log, fuzzed input."""

import hashlib
import json
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from typer.testing import CliRunner

from credit_coop.cli import app
from credit_coop.cli.base import CURRENT
from credit_coop.core import auth, operators
from credit_coop.core.errors import NotPermitted
from credit_coop.core.operators import COMMAND_ROLES, ROLES
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
    names = {name for name, _ in _leaf_commands()} - {"init", "demo"}
    assert names == set(COMMAND_ROLES), names ^ set(COMMAND_ROLES)


def test_the_whole_matrix(coop, tmp_path, monkeypatch):
    """Each role against each command: refused by the matrix exactly when the matrix says so."""
    monkeypatch.chdir(tmp_path)
    env = {"XDG_RUNTIME_DIR": str(tmp_path)}
    checked = 0
    for name, cmd in _leaf_commands():
        if name in ("init", "demo"):
            continue
        argv = name.split() + _dummy_args(cmd)
        for role in ROLES:
            r = cli(coop.path, BY_ROLE[role], *argv, env=env)
            refused_by_matrix = f"may not run `{name}`" in r.output
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
        if name in ("init", "demo"):
            continue
        role = COMMAND_ROLES[name][0]
        r = cli(coop.path, BY_ROLE[role], "--json", *name.split(), *_dummy_args(cmd), env=env)
        if r.exit_code == 2:  # a usage error, before the command runs
            continue
        doc = json.loads(r.stdout)  # refuses a second document after the first
        assert isinstance(doc, (dict, list)), (name, r.stdout)
        seen += 1
    assert seen >= 40


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


def test_shift_session(coop, tmp_path):
    env = {"XDG_RUNTIME_DIR": str(tmp_path)}
    assert cli(coop.path, "王柜员", "login", "--hours", "1", env=env).exit_code == 0
    assert cli(coop.path, "王柜员", "verify", password=None, env=env).exit_code == 0
    # a session is the operator's own: another name cannot ride on it
    assert cli(coop.path, "赵会计", "verify", password=None, env=env).exit_code == 6
    # a forged token fails
    path = auth.session_file(coop.path, "王柜员").replace(auth.session_file(coop.path, "王柜员").split("credit-coop")[0], str(tmp_path) + "/")
    with open(path, encoding="utf-8") as f:
        token = json.loads(f.read())
    token["expires"] += 10**6
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(token))
    assert cli(coop.path, "王柜员", "verify", password=None, env=env).exit_code == 6
    assert cli(coop.path, "王柜员", "logout", password=None, env=env).exit_code == 0


def test_every_command_is_in_the_audit_log(coop):
    cli(coop.path, "王柜员", "line", "show", "6220250000000010")         # refused: no such line
    cli(coop.path, "王柜员", "verify")
    entries = coop.as_("auditor").store.audit_entries(operator="王柜员")
    assert [(e["action"], e["result"].split(" ")[0]) for e in entries][-2:] == [("line show", "refused"), ("verify", "ok")]
    r = cli(coop.path, "郑稽核", "audit-log", "--by", "王柜员", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)[-1]["action"] == "verify"


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
                     "'; DROP TABLE txns;--", "1 OR 1=1", "", " ", "0x10", "１０"]),
    st.text(alphabet=st.characters(blacklist_categories=("Nd",)), min_size=1, max_size=20),
)
BAD_DATES = st.one_of(st.sampled_from(["2025-02-30", "2025-13-01", "20250101", "2025-2-1", "0000-00-00", "9999-99-99",
                                       "2025-03-01; DELETE FROM txns", ""]),
                      st.text(max_size=12).filter(lambda t: len(t) != 10))
BAD_IDS = st.one_of(st.from_regex(r"\A[0-9]{17}\Z"), st.from_regex(r"\A[0-9]{19}\Z"), st.text(max_size=25).filter(lambda t: len(t) != 18),
                    st.sampled_from(["110105194912310021", "11010519490230002X", "' OR '1'='1"]))
BAD_CARDS = st.one_of(st.from_regex(r"\A[0-9]{15}\Z"), st.text(max_size=20), st.sampled_from(["6220250000000011", "62202500000000100"]))


def _snapshot(path: str) -> str:
    con = sqlite3.connect(path)
    h = hashlib.sha256()
    for table in ("txns", "journal_lines", "loan_notes", "grants", "grant_events", "borrowers", "requests", "operators"):
        for row in con.execute(f"SELECT * FROM {table} ORDER BY rowid"):
            h.update(repr(row).encode())
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
                                      "borrower-id", "survey-line", "maturity"]))
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
