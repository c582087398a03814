"""Audit exports: typed cells, masking, formula injection, control totals, determinism, plain-text journals."""

import os
import subprocess
from pathlib import Path
from datetime import date

import pytest
from openpyxl import load_workbook

from credit_coop.core import borrowers, loans
from credit_coop.core.errors import InvalidInput, NotPermitted
from credit_coop.core.export import REGISTERS, export_plaintext, export_workbook, trial_balance
from conftest import D0, RawLedger, new_id, peer_tool


@pytest.fixture
def busy(coop):
    """A ledger with an injection-named borrower, a drawdown and a repayment."""
    idn = new_id()
    borrowers.add_borrower(coop.as_("officer"), id_number=idn, name="=HYPERLINK(\"http://x\")", kinds=["farmer"], on=D0,
                           village="@村")
    line = coop.granted("hnd", line="8万", borrower=idn)
    loans.draw(coop.as_("teller"), card=line["card_no"], id_number=idn, amount="3万", fingerprint_ok=True, on=D0)
    coop.close_before(date(2025, 3, 5))
    loans.repay(coop.as_("teller"), card=line["card_no"], amount="1万", on=date(2025, 3, 5))
    return coop, idn, line


def export(coop, tmp_path, who="auditor", **kw):
    out = str(tmp_path / "audit.xlsx")
    kw.setdefault("first", "2025-01-01")
    kw.setdefault("last", "2025-12-31")
    return out, export_workbook(coop.as_(who), out, **kw)


def test_round_trip_types_masking_injection_and_controls(busy, tmp_path):
    coop, idn, line = busy
    out, result = export(coop, tmp_path)
    wb = load_workbook(out)
    assert wb.sheetnames[0] == "封面" and wb.sheetnames[-1] == "按机构控制合计" and len(wb.sheetnames) == 2 + len(REGISTERS)
    assert result["unit_controls_agree"]
    b = wb["借款人"]
    header = [c.value for c in b[1]]
    assert header[:2] == ["身份证号", "姓名"] and b.freeze_panes == "A2" and b.auto_filter.ref.startswith("A1:")
    row = [c for c in b[2]]
    assert row[0].value == idn[:6] + "********" + idn[-4:] and row[0].data_type == "s"
    assert row[1].value == '=HYPERLINK("http://x")' and row[1].data_type == "s" and row[1].quotePrefix
    col = {h: i for i, h in enumerate(header)}
    assert row[col["村"]].value == "@村" and row[col["村"]].quotePrefix
    assert row[col["资格"]].value == "农户" and row[col["资格代码"]].value == "farmer"  # coded values by name, code beside
    notes = wb["借据"]
    nh = [c.value for c in notes[1]]
    amount = notes.cell(2, nh.index("金额") + 1)
    assert amount.value == 30000 and amount.number_format == "#,##0.00" and amount.data_type == "n"
    assert notes.cell(2, nh.index("发放日") + 1).is_date
    assert notes.cell(2, nh.index("产品") + 1).value == "惠农贷" and notes.cell(2, nh.index("产品代码") + 1).value == "hnd"
    card = notes.cell(2, 2)
    assert card.value == line["card_no"] and card.data_type == "s"     # a 16-digit card never becomes a number
    cover = {r[0].value: r for r in wb["封面"].iter_rows(min_row=8)}
    for sheet in result["sheets"]:
        if sheet["agrees"] is not None:
            assert sheet["agrees"], sheet
    assert cover["借据"][3].value == 30000 and cover["还款"][3].value == 10000
    assert cover["会计分录"][3].value == cover["会计分录"][4].value
    tb = trial_balance(coop.as_("auditor"), date(2025, 12, 31))
    assert tb["balanced"] and cover["会计分录"][3].value * 100 == tb["total_debit_fen"]


def test_same_ledger_same_sheets(busy, tmp_path):
    coop = busy[0]
    _, a = export(coop, tmp_path)
    _, b = export(coop, tmp_path)
    assert [s["sha256"] for s in a["sheets"]] == [s["sha256"] for s in b["sheets"]]


def test_unmasked_only_for_auditor_and_logged(busy, tmp_path):
    coop, idn, _ = busy
    with pytest.raises(NotPermitted):
        export(coop, tmp_path, who="teller", unmasked=True)
    out, _ = export(coop, tmp_path, unmasked=True, registers=["borrowers"], lang="en")
    wb = load_workbook(out)
    assert wb["Borrowers"].cell(2, 1).value == idn and wb.sheetnames == ["Cover", "Borrowers"]
    log = coop.as_("auditor").store.audit_entries()
    assert log[-1]["action"] == "export --unmasked" and log[-1]["operator"] == "郑稽核"


def test_bad_input_leaves_no_file(busy, tmp_path):
    coop = busy[0]
    with pytest.raises(InvalidInput, match="after --to"):
        export(coop, tmp_path, first="2025-12-31", last="2025-01-01")
    with pytest.raises(InvalidInput, match="unknown register"):
        export(coop, tmp_path, registers=["salaries"])
    with pytest.raises(InvalidInput, match="does not exist"):
        export_workbook(coop.as_("auditor"), str(tmp_path / "nope" / "a.xlsx"), first="2025-01-01", last="2025-12-31")
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".xlsx") or f.startswith(".credit-coop-")]


def _beancount_balances(path):
    from beancount import loader
    from beancount.core import realization

    entries, errors, _ = loader.load_file(path)
    assert not errors, errors[:3]
    real = realization.realize(entries)
    out = {}
    for acc in realization.iter_children(real):
        units = acc.balance.get_currency_units("CNY").number
        if units:
            out[acc.account] = int(units * 100)
    return out


def check_with_peers(ledger, folder) -> int:
    """Export ``ledger``'s journal for hledger and beancount, have each check it, and require their balances
    to equal ``report trial-balance``; returns the number of postings exported."""
    from credit_coop.core.export import ledger_account_name

    tb = trial_balance(ledger, date(2030, 1, 1))
    want = {ledger_account_name(a["account"]): a["balance_fen"] for a in tb["accounts"] if a["balance_fen"]}
    bean = str(Path(folder) / "coop.beancount")
    export_plaintext(ledger, bean, "beancount")
    r = subprocess.run([peer_tool("bean-check"), bean], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert _beancount_balances(bean) == want
    journal = str(Path(folder) / "coop.journal")
    export_plaintext(ledger, journal, "hledger")
    hledger = peer_tool("hledger")
    r = subprocess.run([hledger, "-f", journal, "check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([hledger, "-f", journal, "bal", "--flat", "-O", "csv", "--no-total"], capture_output=True, text=True, check=True)
    got = {line.split(",")[0].strip('"'): line.split(",")[1].strip('"') for line in r.stdout.splitlines()[1:]}
    assert {k: int(round(float(v.split()[0]) * 100)) for k, v in got.items()} == want
    return sum(1 for line in open(journal, encoding="utf-8") if line.startswith("    "))


def test_plain_text_journals_pass_hledger_and_bean_check_and_match_the_trial_balance(busy, tmp_path):
    assert check_with_peers(busy[0].as_("auditor"), tmp_path) > 0


def test_libreoffice_opens_the_workbook(busy, tmp_path):
    office = peer_tool("libreoffice", "soffice")
    coop = busy[0]
    out, _ = export(coop, tmp_path)
    r = subprocess.run([office, "--headless", "--convert-to", "csv", "--outdir", str(tmp_path), out], capture_output=True, timeout=180)
    assert r.returncode == 0 and (tmp_path / "audit.csv").exists()


def test_plaintext_refusals(busy, tmp_path):
    coop = busy[0]
    with pytest.raises(InvalidInput, match="hledger or beancount"):
        export_plaintext(coop.as_("auditor"), str(tmp_path / "x"), "ledger")
    with pytest.raises(InvalidInput, match="does not exist"):
        export_plaintext(coop.as_("auditor"), str(tmp_path / "no" / "x"), "hledger")


def test_every_cover_check_is_true_against_independent_sums(coop, tmp_path):
    """Issue 17: a one-day export held December's payroll and the year-end (posted on 01-01) and its cover said 一致;
    the full year's pay sheet disagreed with the trial balance. Build a year; every sheet must hold exactly its
    period's records by business date, and every cover check must agree with sums taken here, independently."""
    import sqlite3
    from datetime import timedelta

    from openpyxl import load_workbook

    from credit_coop.core.dayend import day_end
    from credit_coop.core.pay import run_payroll
    from credit_coop.core.yearend import run_year_end

    far = date(2030, 1, 1)
    good = coop.granted("hnd", line="8万")
    bad = coop.granted("sdt", line="5万", term=12, surveyor="officer2")
    loans.draw(coop.as_("teller"), card=good["card_no"], id_number=good["borrower"], amount="5万", fingerprint_ok=True, on=D0)
    loans.draw(coop.as_("teller"), card=bad["card_no"], id_number=bad["borrower"], amount="1万", fingerprint_ok=True, on=D0,
               maturity="2025-06-01")  # never repaid: compensated at maturity
    for m in range(3, 13):
        if m < 12:
            day_end(coop.as_("accountant"), date(2025, m, 20), today=far)
            due = loans.show_line(coop.as_("auditor"), good["card_no"])["notes"][0]["interest_due_fen"]
            loans.repay(coop.as_("teller"), card=good["card_no"], amount=due, on=date(2025, m, 21))
        nxt = date(2025 + (m == 12), m % 12 + 1, 1)
        day_end(coop.as_("accountant"), nxt - timedelta(days=1), today=far)
        run_payroll(coop.as_("李主任"), f"2025-{m:02d}", on=nxt)
    run_year_end(coop.as_("李主任"), 2025, on=date(2026, 1, 1), today=far)
    db = RawLedger(coop.path)

    def one(sql, f, t):
        return db.execute(sql, {"f": f, "t": t}).fetchone()[0] or 0

    independent = {  # register: the same figure, summed here from the tables themselves
        "loan_notes": "SELECT SUM(amount) FROM loan_notes WHERE drawn_on BETWEEN :f AND :t",
        "repayments": "SELECT SUM(l.debit) FROM journal_lines l JOIN txns t ON t.id = l.txn_id "
                      "WHERE t.kind = 'repayment' AND l.account LIKE '1001.%' AND t.business_date BETWEEN :f AND :t",
        "journal": "SELECT SUM(l.debit) FROM journal_lines l JOIN txns t ON t.id = l.txn_id WHERE t.business_date BETWEEN :f AND :t",
        "pay": "SELECT SUM(p.total) FROM payroll_lines p JOIN payroll_runs r ON r.month = p.month WHERE r.run_on BETWEEN :f AND :t",
        "risk_fund": "SELECT SUM(l.credit) FROM journal_lines l JOIN txns t ON t.id = l.txn_id "
                     "WHERE l.account IN ('2241.riskfund', '1221.officer') AND t.business_date BETWEEN :f AND :t",
        "year_end": "SELECT SUM(y.refund) FROM year_end_lines y JOIN year_end_runs r ON r.year = y.year WHERE r.run_on BETWEEN :f AND :t",
        "compensation": "SELECT SUM(amount) FROM compensations WHERE on_date BETWEEN :f AND :t",
    }
    periods = [(date(2025, 3, 1), date(2026, 1, 31)), (date(2025, 12, 1), date(2025, 12, 31)),
               (date(2025, 12, 22), date(2025, 12, 22)), (date(2026, 1, 1), date(2026, 1, 1)), (date(2025, 6, 1), date(2025, 6, 30))]
    for f, t in periods:
        out = tmp_path / f"audit-{f}-{t}.xlsx"
        r = export_workbook(coop.as_("auditor"), str(out), first=f, last=t)
        by = {s["register"]: s for s in r["sheets"]}
        for reg, sql in independent.items():
            want = one(sql, f.isoformat(), t.isoformat())
            assert by[reg]["control_fen"] == want and by[reg]["journal_fen"] == want and by[reg]["agrees"], (f, t, reg, by[reg], want)
        assert by["pay"]["cross_check"]["agrees"], (f, t, by["pay"]["cross_check"])
        cover = [[c.value for c in row] for row in load_workbook(out, read_only=True)["封面"].iter_rows()]
        assert not any("否" in [str(v) for v in row] for row in cover)
        assert by["borrowers"]["rows"] >= 2 and by["grants"]["rows"] >= 2   # live in the period, whenever created
    one_day = {s["register"]: s for s in export_workbook(coop.as_("auditor"), str(tmp_path / "d.xlsx"),
                                                         first=date(2025, 12, 22), last=date(2025, 12, 22))["sheets"]}
    assert one_day["pay"]["rows"] == 0 and one_day["year_end"]["rows"] == 0           # posted on 01-01, not on 12-22
    new_year = {s["register"]: s for s in export_workbook(coop.as_("auditor"), str(tmp_path / "n.xlsx"),
                                                          first=date(2026, 1, 1), last=date(2026, 1, 1))["sheets"]}
    assert new_year["year_end"]["rows"] > 0                                           # the year-end is a 01-01 record
    assert one(independent["compensation"], "2025-06-01", "2025-06-30") > 0           # the year really had a compensation


@pytest.fixture
def sixty_notes(coop):
    for _ in range(20):
        line = coop.granted("hnd", line="8万")
        for amount in ("1万", "2万", "3万"):
            loans.draw(coop.as_("teller"), card=line["card_no"], id_number=line["borrower"], amount=amount, fingerprint_ok=True, on=D0)
    return coop


def _pdf_pages(office, xlsx, tmp_path) -> int:
    import re

    r = subprocess.run([office, "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path), str(xlsx)], capture_output=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    return len(re.findall(rb"/Type\s*/Page[^s]", (tmp_path / (xlsx.stem + ".pdf")).read_bytes()))


def test_the_workbook_prints(sixty_notes, tmp_path):
    """Issue 17: the 13-column loan-notes sheet printed on 183 portrait pages with its columns split across
    pages and no repeated headers. Landscape, fit to width, header row on every page; the cover on one page."""
    import zipfile

    from openpyxl import load_workbook

    office = peer_tool("libreoffice", "soffice")
    coop = sixty_notes
    out = tmp_path / "notes.xlsx"
    export_workbook(coop.as_("auditor"), str(out), first=D0, last=D0, registers=["loan_notes"])
    z = zipfile.ZipFile(out)
    book = z.read("xl/workbook.xml").decode()
    assert "_xlnm.Print_Titles" in book and "$1:$1" in book                       # the header row on every page
    sheet = z.read("xl/worksheets/sheet2.xml").decode()
    assert 'orientation="landscape"' in sheet and 'fitToWidth="1"' in sheet and 'fitToPage="1"' in sheet
    assert "&amp;P" in sheet and "&amp;A" in sheet and "演示" not in sheet         # page numbers and the sheet's name
    wb = load_workbook(out)
    ws = wb["借据"]
    assert ws["A1"].font.b and ws["A1"].fill.fgColor.rgb.endswith("DDEBF7")        # a styled header row
    rate = [c.value for c in ws[2]][[c.value for c in ws[1]].index("年利率%")]
    assert isinstance(rate, (int, float)) and rate == 6.5                           # a number, not text
    cover = wb["封面"]
    assert [r for r in cover.iter_rows(values_only=True) if r[0] == "借据"][0][2] == "金额"  # control column named in Chinese
    assert isinstance(cover["B3"].value, __import__("datetime").datetime)           # a real date-time, union time zone
    pages = _pdf_pages(office, out, tmp_path)
    # 60 rows: the cover on one page, the notes on a few landscape pages, never split by columns
    assert 2 <= pages <= 4, pages


def test_a_register_longer_than_a_sheet_continues_on_the_next(sixty_notes, tmp_path, monkeypatch):
    from credit_coop.core import export

    monkeypatch.setattr(export, "SHEET_ROWS", 26)  # 25 rows a sheet here; Excel's own limit is 1,048,576
    r = export_workbook(sixty_notes.as_("auditor"), str(tmp_path / "n.xlsx"), first=D0, last=D0, registers=["loan_notes"])
    notes = r["sheets"][0]
    assert notes["rows"] == 60 and notes["sheets"] == ["借据", "借据(2)", "借据(3)"]
    from openpyxl import load_workbook

    wb = load_workbook(tmp_path / "n.xlsx")
    assert [wb[s].max_row for s in notes["sheets"]] == [26, 26, 11]               # each with its header row


def test_a_borrower_of_two_kinds_is_named_in_both(coop, tmp_path):
    """The borrowers register joins a borrower's kinds with '|'; a Chinese workbook names each of them."""
    idn = new_id()
    borrowers.add_borrower(coop.as_("officer"), id_number=idn, name="李四", kinds=["public-employee", "business"], on=D0)
    out, _ = export(coop, tmp_path, registers=["borrowers"])
    ws = load_workbook(out)["借款人"]
    header = [c.value for c in ws[1]]
    row = next(r for r in ws.iter_rows(min_row=2, values_only=True) if r[header.index("姓名")] == "李四")
    assert row[header.index("资格")] == "个体工商户、公职人员" and row[header.index("资格代码")] == "business|public-employee"
