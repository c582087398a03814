"""The CLI through typer's CliRunner: exit codes, one-line errors, --json, help."""

import json

import pytest
from typer.testing import CliRunner

from credit_coop.cli import app
from credit_coop.cli.base import CURRENT
from conftest import new_id

runner = CliRunner()


@pytest.fixture(autouse=True)
def reset_globals():
    CURRENT.db = CURRENT.operator = None
    CURRENT.json = False
    yield


PW = "pass-123"
ENV = {"CREDIT_COOP_PASSWORD": PW, "CREDIT_COOP_NEW_PASSWORD": PW, "CREDIT_COOP_OPERATOR": None}


def run(db, *args, operator="李主任", env=None):
    CURRENT.db = CURRENT.operator = None
    CURRENT.json = False
    pre = ["--db", db] + (["--operator", operator] if operator else [])
    return runner.invoke(app, pre + list(args), env={**ENV, **(env or {})})


@pytest.fixture
def db(tmp_path):
    path = str(tmp_path / "cli.db")
    assert run(path, "init", "--on", "2025-03-01", operator="李主任").exit_code == 0
    for name, role in [("王柜员", "teller"), ("张经理", "officer"), ("钱审查", "reviewer"), ("孙部长", "dept-head"), ("赵会计", "accountant")]:
        r = run(path, "operator", "add", name, "--role", role, "--on", "2025-03-01", operator="李主任")
        assert r.exit_code == 0, r.output
    return path


def walk_hnd(db, idn):
    assert run(db, "borrower", "add", "--id-number", idn, "--name", "王大山", "--kind", "farmer", "--village", "王庄村",
               "--on", "2025-03-01", operator="张经理").exit_code == 0
    r = run(db, "--json", "grant", "apply", "--borrower", idn, "--product", "惠农贷", "--amount", "8万", "--on", "2025-03-01", operator="张经理")
    g = json.loads(r.stdout)["grant_no"]
    assert run(db, "grant", "village-review", g, "--grade", "优秀", "--posted-from", "2025-03-02", "--posted-to", "2025-03-08",
               "--on", "2025-03-09", operator="张经理").exit_code == 0
    assert run(db, "grant", "survey", g, "--line", "8万", "--term", "36", "--on", "2025-03-10", operator="张经理").exit_code == 0
    assert run(db, "grant", "review", g, "--on", "2025-03-10", operator="钱审查").exit_code == 0
    r = run(db, "grant", "approve", g, "--on", "2025-03-11", "--json", operator="孙部长")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_walkthrough_and_json(db):
    idn = new_id()
    line = walk_hnd(db, idn)
    card = line["card_no"]
    r = run(db, "draw", "--card", card, "--id-number", idn, "--amount", "3万", "--fingerprint-ok", "--on", "2025-03-12", operator="王柜员")
    assert r.exit_code == 0 and "loan note JJ2025" in r.stdout and "¥50,000.00" in r.stdout
    r = run(db, "draw", "--json", "--card", card, "--id-number", idn, "--amount", "¥50,000", "--fingerprint-ok",
            "--on", "2025-04-01", "--request-id", "q1", operator="王柜员")
    assert json.loads(r.stdout)["available_after_fen"] == 0
    r = run(db, "repay", "--card", card, "--amount", "20,000.00", "--on", "2025-04-15", operator="王柜员")
    assert r.exit_code == 5 and "batch day-end --through 2025-04-14" in r.stderr  # days before it are not closed
    assert run(db, "batch", "day-end", "--through", "2025-04-14", operator="赵会计").exit_code == 0
    r = run(db, "repay", "--card", card, "--amount", "20,000.00", "--on", "2025-04-15", operator="王柜员")
    assert r.exit_code == 0 and "principal" in r.stdout and "interest" in r.stdout
    r = run(db, "line", "show", card, "--json", "--on", "2025-04-15")
    shown = json.loads(r.stdout)
    paid = 8_000_000 - shown["outstanding_fen"]
    assert 0 < paid < 2_000_000 and shown["available_fen"] == paid  # interest first, then principal
    r = run(db, "borrower", "show", idn, "--json", "--on", "2025-04-15")
    b = json.loads(r.stdout)
    assert b["total_exposure_fen"] == 8_000_000 and "id_number" not in b and b["borrower_masked"].endswith(idn[-4:])
    assert idn not in r.stdout  # masked on screens
    assert run(db, "verify").exit_code == 0
    assert run(db, "grant", "list", "--status", "live").exit_code == 0
    assert "惠农贷" in run(db, "policy", "show").stdout


def test_back_dated_correction(db):
    idn = new_id()
    card = walk_hnd(db, idn)["card_no"]
    r = run(db, "--json", "draw", "--card", card, "--id-number", idn, "--amount", "3万", "--fingerprint-ok", "--on", "2025-03-12",
            operator="王柜员")
    draw_txn = json.loads(r.stdout)["txn_id"]
    assert run(db, "batch", "day-end", "--through", "2025-03-31", operator="赵会计").exit_code == 0
    repay = ["repay", "--card", card, "--amount", "5,000.00", "--on", "2025-03-15"]
    r = run(db, *repay, operator="王柜员")
    assert r.exit_code == 5 and "is closed" in r.stderr and "--correction" in r.stderr
    r = run(db, *repay, "--correction", "receipt found", operator="王柜员")
    assert r.exit_code == 6 and r.stderr.count("\n") == 1 and "correction" in r.stderr
    r = run(db, *repay, "--correction", "receipt found", operator="赵会计")
    assert r.exit_code == 0, r.output
    assert "back-dated correction (receipt found): 17 closed day(s) 2025-03-15 .. 2025-03-31 recomputed" in r.stdout
    # the drawdown cannot be taken back now: a later repayment stands on it
    r = run(db, "reverse", str(draw_txn), "--reason", "wrong", "--on", "2025-03-12", "--correction", operator="赵会计")
    assert r.exit_code == 5 and "Reverse them first" in r.stderr
    assert 'credit-coop reverse' in r.stderr and '--on 2025-03-15 --correction' in r.stderr  # the exact commands to run
    assert run(db, "verify").exit_code == 0


@pytest.mark.parametrize(
    "args,code,needle",
    [
        (["draw", "--card", "6220250000000010", "--id-number", "110105194912310021", "--amount", "1", "--fingerprint-ok"], 3, "check digit"),
        (["draw", "--card", "6220250000000010", "--id-number", "11010519491231002X", "--amount", "1.005", "--fingerprint-ok"], 3, "2 decimals"),
        (["draw", "--card", "6220250000000010", "--id-number", "11010519491231002X", "--amount", "1", "--on", "2025-02-30"], 3, "calendar"),
        (["draw", "--card", "6220250000000010", "--id-number", "11010519491231002X", "--amount", "1", "--fingerprint-ok"], 4, "no credit line"),
        (["grant", "show", "SX2099000001"], 4, "no grant"),
        (["operator", "add", "x", "--role", "boss"], 6, "may not run `operator add`"),
        (["grant", "apply", "--borrower", "11010519491231002X", "--product", "xyz", "--amount", "1"], 6, "may not run `grant apply`"),
        (["draw", "--card", "1"], 2, "Missing option"),
    ],
)
def test_errors_are_one_line_with_exit_codes(db, args, code, needle):
    r = run(db, *args, operator="王柜员")
    assert r.exit_code == code, r.output
    assert needle in r.output
    assert "Traceback" not in r.output
    if code != 2:
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: ")


def test_json_error_on_stdout(db):
    r = run(db, "--json", "grant", "show", "SX2099000001")
    assert r.exit_code == 4
    assert json.loads(r.stdout) == {"ok": False, "error": "no grant SX2099000001", "message": "no grant SX2099000001",
                                    "exit_code": 4}


def test_global_options_after_the_command(db):
    CURRENT.db = None
    r = runner.invoke(app, ["operator", "list", "--db", db, "--json", "--operator", "李主任"], env=ENV)
    assert r.exit_code == 0 and any(o["role"] == "admin" for o in json.loads(r.stdout)["operators"])


def test_no_ledger_and_refuse_overwrite(tmp_path, db):
    r = run(str(tmp_path / "none.db"), "verify")
    assert r.exit_code == 9 and "no ledger" in r.stderr
    r = run(db, "init", operator="李主任")
    assert r.exit_code == 7 and "refusing to overwrite" in r.stderr


def test_bad_policy_leaves_no_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[approval\n", "utf-8")
    path = tmp_path / "x.db"
    r = run(str(path), "init", "--policy", str(bad), operator="admin")
    assert r.exit_code == 3 and not path.exists()


def test_no_operator_given(db):
    r = run(db, "borrower", "add", "--id-number", "11010519491231002X", "--name", "x", "--kind", "farmer", operator=None)
    assert r.exit_code == 6 and "who is acting" in r.stderr


def test_verify_exit_1_on_findings(db):
    import sqlite3

    idn = new_id()
    walk_hnd(db, idn)
    conn = sqlite3.connect(db)
    conn.execute("UPDATE grants SET line_amount = 99999999")
    conn.commit()
    conn.close()
    r = run(db, "verify")
    assert r.exit_code == 1 and "ceiling" in r.stdout


def _all_commands(group):
    """Every leaf command as (path, click command), loading the lazy groups."""
    import typer.main

    root = typer.main.get_command(group)

    def walk(cmd, prefix):
        ctx = cmd.make_context(prefix[-1] if prefix else "credit-coop", [], resilient_parsing=True)
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            if hasattr(sub, "list_commands"):
                yield from walk(sub, prefix + (name,))
            else:
                yield prefix + (name,), sub

    return list(walk(root, ()))


def test_every_command_has_help_and_global_options():
    cmds = _all_commands(app)
    assert len(cmds) >= 20
    for path, cmd in cmds:
        assert cmd.help, f"{' '.join(path)} has no help"
        names = {o for p in cmd.params for o in p.opts}
        assert {"--db", "--operator", "--json"} <= names, path
        r = runner.invoke(app, list(path) + ["--help"])
        assert r.exit_code == 0


def test_every_command_is_in_the_readme():
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text("utf-8")
    for path, _ in _all_commands(app):
        assert f"credit-coop {' '.join(path)}" in readme, f"README does not mention credit-coop {' '.join(path)}"


@pytest.mark.parametrize("position", ["before", "after"])
def test_command_line_beats_the_environment(tmp_path, position):
    """Issue 16 §3: CREDIT_COOP_DB=a.db with --db b.db closed days in a.db; --operator lost the same way."""
    a, b = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    for path in (a, b):
        assert run(path, "init", "--on", "2025-03-01").exit_code == 0
        assert run(path, "operator", "add", "赵会计", "--role", "accountant", "--on", "2025-03-01").exit_code == 0
        assert run(path, "operator", "add", "郑稽核", "--role", "auditor", "--on", "2025-03-01").exit_code == 0
    env = {**ENV, "CREDIT_COOP_DB": a, "CREDIT_COOP_OPERATOR": "郑稽核"}  # the auditor may not run the day-end
    opts, cmd = ["--db", b, "--operator", "赵会计"], ["batch", "day-end", "--through", "2025-03-05"]
    CURRENT.db = CURRENT.operator = None
    args = opts + cmd if position == "before" else cmd + opts
    r = runner.invoke(app, args, env=env)
    assert r.exit_code == 0, r.output
    closed = {p: json.loads(run(p, "--json", "verify", operator="郑稽核").stdout) for p in (a, b)}
    from credit_coop.core.ledger import Ledger

    with Ledger.open(b) as led_b, Ledger.open(a) as led_a:
        assert led_b.store.closed_through() == "2025-03-05"
        assert led_a.store.closed_through() is None
    assert all(v["ok"] for v in closed.values())
    # with nothing typed, the environment still applies
    CURRENT.db = CURRENT.operator = None
    r = runner.invoke(app, ["batch", "day-end", "--through", "2025-03-06"], env=env)
    assert r.exit_code == 6 and "郑稽核" in r.stderr


def test_restore_asks_first_and_tells_what_is_lost(db, tmp_path):
    out = str(tmp_path / "old.db")
    assert run(db, "backup", "--out", out).exit_code == 0
    assert run(db, "batch", "day-end", "--through", "2025-03-05", operator="赵会计").exit_code == 0
    r = run(db, "restore", out)
    assert r.exit_code == 5 and "--yes" in r.stderr and r.stderr.count("\n") == 1
    assert "closed days (none) → 2025-03-05 become open again" in r.stdout
    r = run(db, "--json", "restore", out)
    assert r.exit_code == 5 and json.loads(r.stdout)["ok"] is False  # one JSON document, no plan text around it
    r = run(db, "restore", out, "--yes", "--reason", "rehearsal")
    assert r.exit_code == 0, r.output
    assert "the replaced ledger is kept as" in r.stdout
    assert run(db, "verify").exit_code == 0
    r = run(db, "--json", "audit-log")
    assert "rehearsal" in r.stdout


def test_every_json_output_is_one_document(db):
    """Issue 19: a repeated batch under --json printed the first run's object and then an error object."""
    idn = new_id()
    card = walk_hnd(db, idn)["card_no"]
    steps = [
        (["draw", "--card", card, "--id-number", idn, "--amount", "3万", "--fingerprint-ok", "--on", "2025-03-12"], "王柜员", 0),
        (["batch", "day-end", "--through", "2025-04-30"], "赵会计", 0),
        (["repay", "--card", card, "--amount", "100"], "王柜员", 0),
        (["batch", "payroll", "--month", "2025-03", "--on", "2025-05-01"], "李主任", 0),
        (["batch", "payroll", "--month", "2025-03", "--on", "2025-05-01"], "李主任", 7),
        (["batch", "payroll", "--month", "2025-03", "--dry-run"], "李主任", 7),
        (["line", "show", card], "王柜员", 0),
        (["report", "overdue"], "李主任", 0),
        (["audit-log", "--from", "2026-13-01"], "李主任", 3),
        (["draw", "--card", card, "--id-number", idn, "--amount", "1", "--fingerprint-ok", "--on", "2035-01-01"], "王柜员", 5),
        (["verify"], "李主任", 0),
    ]
    for args, who, code in steps:
        r = run(db, "--json", *args, operator=who)
        assert r.exit_code == code, (args, r.output)
        doc = json.loads(r.stdout)  # exactly one document: json.loads refuses trailing data
        if code:
            assert doc["ok"] is False and doc["exit_code"] == code and doc["error"]
    r = run(db, "--json", "batch", "payroll", "--month", "2025-03", "--dry-run", operator="李主任")
    doc = json.loads(r.stdout)
    assert doc["month"] == "2025-03" and doc["ok"] is False  # the first run's result, marked as a refusal


def test_a_refused_database_change_is_a_conflict_not_no_ledger(db, monkeypatch):
    """Issue 14: an IntegrityError surfaced as exit 9 "no ledger"."""
    import sqlite3

    from credit_coop.core import borrowers

    def clash(*a, **kw):
        raise sqlite3.IntegrityError("UNIQUE constraint failed: borrowers.id_number")

    monkeypatch.setattr(borrowers, "add_borrower", clash)
    r = run(db, "borrower", "add", "--id-number", new_id(), "--name", "王大山", "--kind", "farmer", operator="张经理")
    assert r.exit_code == 7 and "conflict" in r.stderr and r.stderr.count("\n") == 1


def test_results_carry_masked_ids_only(db):
    """Issue 14: masking happened in the CLI only; the core's results carried the full ID."""
    from datetime import date

    from credit_coop.core.borrowers import add_borrower, show_borrower
    from credit_coop.core.errors import NotPermitted
    from credit_coop.core.ledger import Ledger
    from credit_coop.core.operators import get_operator, list_operators

    idn = new_id()
    with Ledger.open(db, "张经理") as officer:
        made = add_borrower(officer, id_number=idn, name="王大山", kinds=["farmer"], on=date(2025, 3, 1))
        shown = show_borrower(officer, idn)
        assert idn not in json.dumps([made, shown], ensure_ascii=False) and shown["borrower_masked"].endswith(idn[-4:])
        with pytest.raises(NotPermitted):
            show_borrower(officer, idn, unmasked=True)
    with Ledger.open(db, "李主任") as admin:
        assert show_borrower(admin, idn, unmasked=True)["id_number"] == idn
        ops = list_operators(admin) + [get_operator(admin, "王柜员")]
        assert all("passphrase" not in o and "id_number" not in o for o in ops)


def test_help_examples_are_valid_and_each_on_its_own():
    """Issue 17: help examples used an ID and a card that fail their check digits, and two examples ran together."""
    import re

    from credit_coop.core.identity import validate_card_number, validate_id_number

    checked = 0
    for path, _ in _all_commands(app):
        r = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
        assert r.exit_code == 0, path
        lines = r.stdout.splitlines()
        examples = [l for l in lines if "credit-coop " in l]
        for line in examples:
            assert line.count("credit-coop ") == 1, (path, line)       # one example to a line, never run together
            for idn in re.findall(r"(?<!\d)\d{17}[\dX](?!\d)", line):
                validate_id_number(idn)
                checked += 1
            for card in re.findall(r"(?<!\d)622\d{13}(?!\d)", line):
                validate_card_number(card)
                checked += 1
    assert checked >= 5


@pytest.mark.parametrize("width", [80, 160])
def test_tables_never_split_amounts_or_dates(db, width):
    """Issue 17: at 80 columns amounts split as `309,776,926.0` / `5` and dates and note numbers broke."""
    import re

    idn = new_id()
    card = walk_hnd(db, idn)["card_no"]
    for amount, on in (("3万", "2025-03-12"), ("12,345.67", "2025-03-13")):
        run(db, "draw", "--card", card, "--id-number", idn, "--amount", amount, "--fingerprint-ok", "--on", on, operator="王柜员")
    run(db, "batch", "day-end", "--through", "2025-04-30", operator="赵会计")
    r = runner.invoke(app, ["--db", db, "--operator", "王柜员", "line", "show", card], env={**ENV, "COLUMNS": str(width)})
    assert r.exit_code == 0, r.output
    assert all(len(l) <= width for l in r.stdout.splitlines())
    for needle in ("30,000.00", "12,345.67", "2025-03-12", "2025-03-13", "JJ202500000001", "JJ202500000002"):
        assert needle in r.stdout, (width, needle, r.stdout)
    assert not re.search(r"\d,\d{3}\.\d?\s*$", r.stdout, re.M)  # no amount cut at a line end
