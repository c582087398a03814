"""Crash tests that can fail (issue 14): each run is killed with SIGKILL at a deterministic fault
point (``CREDIT_COOP_FAULT=POINT:N``, credit_coop/core/faults.py). Each test first asserts that the
kill landed mid-run (exit by SIGKILL; some days closed and some not; nothing of the killed
transaction in the ledger), then that `verify` is clean and the re-run finishes the work once."""

import os
import random
import signal
import subprocess
import sys
from datetime import date, timedelta

import pytest

from credit_coop.core import loans
from credit_coop.core.dayend import day_end
from credit_coop.core.ledger import Ledger
from credit_coop.core.verify import verify
from conftest import D0, PASSPHRASE

RNG = random.Random(14)
FAR = date(2030, 1, 1)


def cli(path, operator, *args, fault=None, env=None):
    e = {**os.environ, "CREDIT_COOP_PASSWORD": PASSPHRASE, "CREDIT_COOP_DB": path, "CREDIT_COOP_OPERATOR": operator,
         **(env or {})}
    e.pop("CREDIT_COOP_FAULT", None)
    if fault:
        e["CREDIT_COOP_FAULT"] = fault
    return subprocess.run([sys.executable, "-c", "from credit_coop.cli import main; main()", *args], env=e,
                          capture_output=True, text=True, timeout=300)


def killed(r) -> bool:
    return r.returncode == -signal.SIGKILL


def sound(coop):
    with Ledger.open(coop.path, "郑稽核") as led:
        v = verify(led)
    assert v["ok"], v["findings"]


def counts(coop, sql):
    with Ledger.open(coop.path) as led:
        return led.store._scalar(sql)


@pytest.fixture
def drawn(coop):
    line = coop.granted("hnd", line="8万")
    loans.draw(coop.as_("teller"), card=line["card_no"], id_number=line["borrower"], amount="3万", fingerprint_ok=True, on=D0)
    return coop, line


def test_day_end_killed_after_a_random_day(drawn):
    coop, line = drawn
    n = RNG.randint(20, 300)
    r = cli(coop.path, "赵会计", "batch", "day-end", "--through", "2026-02-28", fault=f"day-end:{n}")
    assert killed(r), r.stderr
    closed = counts(coop, "SELECT value FROM meta WHERE key = 'closed_through'")
    assert closed == (D0 + timedelta(days=n - 1)).isoformat()  # exactly n days closed, the rest not
    sound(coop)
    r = cli(coop.path, "赵会计", "--json", "batch", "day-end", "--through", "2026-02-28")
    assert r.returncode == 0, r.stderr
    assert counts(coop, "SELECT value FROM meta WHERE key = 'closed_through'") == "2026-02-28"
    assert counts(coop, "SELECT COUNT(*) FROM day_closes") == (date(2026, 2, 28) - D0).days + 1
    sound(coop)


@pytest.mark.parametrize("point", ["draw", "repay"])
def test_counter_killed_before_commit_posts_nothing(drawn, point):
    coop, line = drawn
    if point == "draw":
        args = ["draw", "--card", line["card_no"], "--id-number", line["borrower"], "--amount", "1万", "--fingerprint-ok",
                "--on", "2025-03-01", "--request-id", "K-1"]
    else:
        args = ["repay", "--card", line["card_no"], "--amount", "1万", "--on", "2025-03-01", "--request-id", "K-1"]
    txns, audits = counts(coop, "SELECT COUNT(*) FROM txns"), counts(coop, "SELECT COUNT(*) FROM audit_log")
    r = cli(coop.path, "王柜员", *args, fault=point)
    assert killed(r), r.stderr
    assert counts(coop, "SELECT COUNT(*) FROM txns") == txns                      # the posting rolled back
    assert counts(coop, "SELECT COUNT(*) FROM audit_log") == audits               # and its audit row with it
    sound(coop)
    assert cli(coop.path, "王柜员", *args).returncode == 0
    assert cli(coop.path, "王柜员", *args).returncode == 0                        # the retry posts nothing new
    assert counts(coop, "SELECT COUNT(*) FROM txns") == txns + 1
    sound(coop)


def test_import_killed_mid_file_leaves_nothing(coop, tmp_path):
    from credit_coop.core.identity import make_id_number

    ids = [make_id_number("410600", date(1960, 1, 1) + timedelta(days=i), 7) for i in range(800)]
    path = tmp_path / "b.csv"
    path.write_text("id_number,name,kinds,registered_on\n" + "".join(f"{x},户{i},farmer,2025-03-01\n" for i, x in enumerate(ids)),
                    "utf-8")
    before = counts(coop, "SELECT COUNT(*) FROM borrowers")
    r = cli(coop.path, "李主任", "import", "borrowers", str(path), fault=f"import:{RNG.randint(100, 700)}")
    assert killed(r), r.stderr
    assert counts(coop, "SELECT COUNT(*) FROM borrowers") == before               # some rows were in; all rolled back
    sound(coop)
    assert cli(coop.path, "李主任", "import", "borrowers", str(path)).returncode == 0
    assert counts(coop, "SELECT COUNT(*) FROM borrowers") == before + 800
    sound(coop)


@pytest.mark.parametrize("batch", ["payroll", "year-end"])
def test_batch_killed_before_commit_runs_once_after(drawn, batch):
    coop, line = drawn
    day_end(coop.as_("accountant"), date(2025, 12, 31), today=FAR)
    if batch == "year-end":
        for m in range(3, 13):
            assert cli(coop.path, "李主任", "batch", "payroll", "--month", f"2025-{m:02d}", "--on", "2026-01-01").returncode == 0
        args = ["batch", "year-end", "--year", "2025", "--on", "2026-01-01"]
        table, key = "year_end_runs", "year"
    else:
        args = ["batch", "payroll", "--month", "2025-03", "--on", "2026-01-01"]
        table, key = "payroll_runs", "month"
    r = cli(coop.path, "李主任", *args, fault=batch)
    assert killed(r), r.stderr
    assert counts(coop, f"SELECT COUNT(*) FROM {table} WHERE {key} IN ('2025', '2025-03')") == 0   # rolled back whole
    sound(coop)
    assert cli(coop.path, "李主任", *args).returncode == 0
    assert cli(coop.path, "李主任", *args).returncode == 7                                          # once only
    sound(coop)


def test_backup_killed_before_the_rename_leaves_no_backup(drawn, tmp_path):
    coop, line = drawn
    out = tmp_path / "b.db"
    r = cli(coop.path, "赵会计", "backup", "--out", str(out), fault="backup")
    assert killed(r), r.stderr
    assert not out.exists()  # never a half-made backup under the real name
    sound(coop)
    assert cli(coop.path, "赵会计", "backup", "--out", str(out)).returncode == 0
    with Ledger.open(str(out)) as copy:
        assert verify(copy)["ok"]


def test_restore_killed_mid_write_leaves_the_old_ledger_whole(drawn, tmp_path):
    coop, line = drawn
    out = tmp_path / "b.db"
    assert cli(coop.path, "赵会计", "backup", "--out", str(out)).returncode == 0
    day_end(coop.as_("accountant"), date(2025, 6, 30), today=FAR)  # the ledger moves on: many pages differ
    txns = counts(coop, "SELECT COUNT(*) FROM txns")
    r = cli(coop.path, "李主任", "restore", str(out), "--yes", fault="restore:2")
    assert killed(r), r.stderr
    assert counts(coop, "SELECT COUNT(*) FROM txns") == txns                      # the old ledger, whole
    assert counts(coop, "SELECT value FROM meta WHERE key = 'closed_through'") == "2025-06-30"
    sound(coop)
    assert cli(coop.path, "李主任", "restore", str(out), "--yes").returncode == 0
    assert counts(coop, "SELECT COUNT(*) FROM txns") < txns
    sound(coop)
