"""The union's organisation (issue 13, first part): departments and branches, townships and villages,
who belongs where, and authority that follows them."""

from datetime import date

import pytest

from credit_coop.core import borrowers, grants, loans, organisation
from credit_coop.core.errors import Conflict, InvalidInput, NotFound, NotPermitted
from credit_coop.core.policy import Policy
from credit_coop.store import SCHEMA_VERSION
from conftest import D0, far_dates, make_coop, new_id

ON = date(2025, 3, 1)


@pytest.fixture
def union(tmp_path):
    """Two departments and two branches; 寨子镇 is served by D1/B1, 城关镇 by D2/B2; a department head and an
    officer in each department, a teller at each branch."""
    coop = make_coop(str(tmp_path / "org.db"), D0, passphrases=False)
    admin = coop.as_("李主任")
    from credit_coop.core import operators

    for name, role in (("部长二", "dept-head"), ("经理二", "officer"), ("柜员二", "teller")):
        operators.add_operator(admin, name, role, ON)
    for kind, code, name in (("department", "D1", "第一客户部"), ("department", "D2", "第二客户部"),
                             ("branch", "B1", "寨子信用社"), ("branch", "B2", "城关信用社")):
        organisation.add_unit(admin, kind, code, name, ON)
    organisation.place_township(admin, "寨子镇", department="D1", branch="B1", on=ON)
    organisation.place_township(admin, "城关镇", department="D2", branch="B2", on=ON)
    organisation.add_village(admin, "王庄村", "寨子镇")
    organisation.add_village(admin, "东关村", "城关镇")
    for who, unit in (("孙部长", "D1"), ("张经理", "D1"), ("刘经理", "D1"), ("钱审查", "D1"), ("冯审查", "D1"),
                      ("王柜员", "B1"), ("部长二", "D2"), ("经理二", "D2"), ("柜员二", "B2")):
        organisation.assign_operator(admin, who, unit, ON)
    yield coop
    coop.close()


def _walk(coop, village, amount, *, officer="张经理", approver="孙部长"):
    idn = new_id()
    borrowers.add_borrower(coop.as_(officer), id_number=idn, name="王大山", kinds=["business", "public-employee"],
                           village=village, on=ON)
    g = grants.apply_grant(coop.as_(officer), borrower=idn, product="gxd" if amount > 200_000_00 else "sdt", amount=amount, on=ON)
    return idn, g["grant_no"]


def _to_approval(coop, grant_no, officer="张经理", reviewer="钱审查", line=None):
    g = grants.get_grant(coop.as_("auditor"), grant_no)
    grants.survey(coop.as_(officer), grant_no, line=line or g["applied_amount"], term_months=24, on=ON)
    grants.review(coop.as_(reviewer), grant_no, on=ON)


def test_a_grant_records_the_department_and_branch_of_the_borrower_village(union):
    _, a = _walk(union, "王庄村", 100_000_00)
    _, b = _walk(union, "东关村", 100_000_00, officer="经理二")
    _, c = _walk(union, "未登记村", 100_000_00)
    store = union.as_("auditor").store
    assert (store.get_grant_by_no(a)["department"], store.get_grant_by_no(a)["branch"]) == ("D1", "B1")
    assert (store.get_grant_by_no(b)["department"], store.get_grant_by_no(b)["branch"]) == ("D2", "B2")
    assert (store.get_grant_by_no(c)["department"], store.get_grant_by_no(c)["branch"]) == ("D00", "B00")


def test_a_department_head_approves_only_their_own_department(union):
    """Boundary of SPEC §3.4 with the organisation: at exactly 300,000.00 the head of the grant's own
    department approves; the head of another department is refused, naming both."""
    _, g = _walk(union, "王庄村", 300_000_00)
    _to_approval(union, g)
    with pytest.raises(NotPermitted, match=r"belongs to department D1; 部长二 \(dept-head\) is in D2"):
        grants.approve(union.as_("部长二"), g, on=ON)
    r = grants.approve(union.as_("孙部长"), g, on=ON)
    assert r["status"] == "live" and r["approval_tier"] == "dept-head"


def test_union_wide_roles_approve_any_department(union):
    _, g = _walk(union, "东关村", 100_000_00, officer="经理二")
    _to_approval(union, g, officer="经理二")
    assert grants.approve(union.as_("deputy-director"), g, on=ON)["status"] == "live"  # a higher tier, union-wide


def test_an_officer_surveys_only_in_their_department_unless_policy_allows(union):
    _, g = _walk(union, "东关村", 100_000_00, officer="经理二")
    with pytest.raises(NotPermitted, match="may not survey"):
        grants.survey(union.as_("张经理"), g, line=100_000_00, term_months=24, on=ON)
    officer = union.as_("张经理")
    officer.policy = Policy(dict(officer.policy.data, organisation={"officer_any_department": True, "any_branch_service": False}))
    assert grants.survey(officer, g, line=100_000_00, term_months=24, on=ON)["status"] == "surveyed"


def _live(union, village, officer="张经理", reviewer="钱审查", approver="孙部长"):
    idn, g = _walk(union, village, 100_000_00, officer=officer)
    _to_approval(union, g, officer=officer, reviewer=reviewer)
    return idn, grants.approve(union.as_(approver), g, on=ON)


def test_a_teller_serves_the_cards_of_their_branch_and_all_with_any_branch_service(union):
    idn, line = _live(union, "王庄村")     # designated to B1
    with pytest.raises(NotPermitted, match="designated to branch B1; 柜员二 serves B2"):
        loans.draw(far_dates(union.as_("柜员二")), card=line["card_no"], id_number=idn, amount="1万", fingerprint_ok=True, on=ON)
    r = loans.draw(far_dates(union.as_("王柜员")), card=line["card_no"], id_number=idn, amount="1万", fingerprint_ok=True, on=ON)
    assert r["amount_fen"] == 1_000_000
    with pytest.raises(NotPermitted, match="designated to branch B1"):
        loans.repay(far_dates(union.as_("柜员二")), card=line["card_no"], amount="100", on=ON)
    teller2 = far_dates(union.as_("柜员二"))
    teller2.policy = Policy(dict(teller2.policy.data, organisation={"officer_any_department": False, "any_branch_service": True}))
    assert loans.repay(teller2, card=line["card_no"], amount="100", on=ON)["amount_fen"] == 10_000


def test_a_moved_township_sends_new_grants_to_the_new_department_old_ones_stay(union):
    admin = union.as_("李主任")
    _, before = _walk(union, "王庄村", 50_000_00)
    organisation.place_township(admin, "寨子镇", department="D2", branch="B2", on=date(2025, 3, 5))
    idn = new_id()
    borrowers.add_borrower(union.as_("经理二"), id_number=idn, name="李四", kinds=["business"], village="王庄村", on=ON)
    after = grants.apply_grant(union.as_("经理二"), borrower=idn, product="sdt", amount="5万", on=date(2025, 3, 6))["grant_no"]
    same_day_before = grants.apply_grant(union.as_("张经理"), borrower=_walk_id(union), product="sdt", amount="5万",
                                         on=date(2025, 3, 4))["grant_no"]
    store = union.as_("auditor").store
    assert store.get_grant_by_no(before)["department"] == "D1"
    assert store.get_grant_by_no(same_day_before)["department"] == "D1"   # applied the day before the move
    assert store.get_grant_by_no(after)["department"] == "D2" and store.get_grant_by_no(after)["branch"] == "B2"
    shown = organisation.show_organisation(admin, date(2025, 3, 6))
    assert {t["township"]: t["department"] for t in shown["townships"]}["寨子镇"] == "D2"
    assert {t["township"]: t["department"] for t in organisation.show_organisation(admin, ON)["townships"]}["寨子镇"] == "D1"


def _walk_id(union):
    idn = new_id()
    borrowers.add_borrower(union.as_("张经理"), id_number=idn, name="赵五", kinds=["business"], village="王庄村", on=ON)
    return idn


def test_an_operator_moved_acts_for_the_new_unit_from_the_move(union):
    admin = union.as_("李主任")
    _, g = _walk(union, "东关村", 100_000_00, officer="经理二")
    _to_approval(union, g, officer="经理二")
    organisation.assign_operator(admin, "孙部长", "D2", ON)
    assert grants.approve(union.as_("孙部长"), g, on=ON)["status"] == "live"


def test_bad_organisation_input_is_refused_and_changes_nothing(union):
    admin = union.as_("李主任")
    with pytest.raises(Conflict):
        organisation.add_unit(admin, "branch", "B1", "另一个", ON)
    with pytest.raises(Conflict):
        organisation.add_unit(admin, "branch", "B9", "寨子信用社", ON)
    with pytest.raises(InvalidInput):
        organisation.add_unit(admin, "region", "R1", "片区", ON)
    with pytest.raises(InvalidInput):
        organisation.add_unit(admin, "branch", "=B1", "公式", ON)
    with pytest.raises(NotFound):
        organisation.place_township(admin, "新镇", department="D9", branch="B1", on=ON)
    with pytest.raises(NotFound):
        organisation.add_village(admin, "新村", "无此镇")
    with pytest.raises(InvalidInput, match="belongs to a branch"):
        organisation.assign_operator(admin, "王柜员", "D1", ON)
    with pytest.raises(InvalidInput, match="union-wide"):
        organisation.assign_operator(admin, "周副主任", "D1", ON)
    with pytest.raises(NotPermitted):
        organisation.add_unit(union.as_("孙部长"), "department", "D3", "第三客户部", ON)
    store = admin.store
    assert store.township("新镇") is None and store.org_unit("D3") is None and store.org_unit("B9") is None
    assert organisation.rename_unit(admin, "D1", "城关客户部")["was"] == "第一客户部"


def test_an_older_ledger_upgrades_into_one_default_department_and_branch(tmp_path):
    """An older ledger: its grants and its department and branch staff land in the default units, so its
    people go on working as before; the admin then records the organisation and assigns."""
    import sqlite3

    from credit_coop.core.ledger import Ledger
    from credit_coop.core.verify import verify
    from test_reliability import _old_ledger

    path = str(tmp_path / "old.db")
    db = _old_ledger(path, "m0008_sessions")  # schema 7: its operators enter the record chain at the upgrade too
    db.execute("INSERT INTO operators(name, role, added_on, added_by) VALUES ('t', 'teller', '2025-03-01', 'a')")
    db.execute("INSERT INTO operators(name, role, added_on, added_by) VALUES ('h', 'dept-head', '2025-03-01', 'a')")
    db.conn.commit()
    db.close()
    with Ledger.open(path, "a") as ledger:
        assert ledger.store.get_meta("schema_version") == str(SCHEMA_VERSION)
        shown = organisation.show_organisation(ledger, ON)
        assert {u["code"] for u in shown["units"]} == {"D00", "B00"}
        assert {o["name"]: o["unit"] for o in shown["operators"]} == {"t": "B00", "h": "D00"}
        assert verify(ledger)["ok"]
    con = sqlite3.connect(path)
    with pytest.raises(sqlite3.DatabaseError, match="never changed"):
        con.execute("UPDATE org_assignments SET unit = 'B00'")   # moves are history: appended, never edited
    con.close()


def test_the_league_table_adds_up_to_the_union(union):
    """Per department and per branch: grants, lines, drawn and outstanding add up to the union's totals,
    which equal the overdue report's outstanding (the same journal)."""
    from credit_coop.core import dayend
    from credit_coop.core.reports import overdue_report, unit_report

    idn1, l1 = _live(union, "王庄村")
    idn2, l2 = _live(union, "东关村", officer="经理二", approver="部长二")
    loans.draw(far_dates(union.as_("王柜员")), card=l1["card_no"], id_number=idn1, amount="3万", fingerprint_ok=True, on=ON)
    loans.draw(far_dates(union.as_("柜员二")), card=l2["card_no"], id_number=idn2, amount="5万", fingerprint_ok=True, on=ON)
    dayend.day_end(union.as_("accountant"), date(2025, 3, 10), today=date(2026, 1, 1))
    auditor = union.as_("auditor")
    total = overdue_report(auditor, date(2025, 3, 10))["outstanding_fen"]
    for by in ("department", "branch"):
        r = unit_report(auditor, date(2025, 3, 10), by)
        units = {u["unit"]: u for u in r["units"]}
        assert sum(u["outstanding_fen"] for u in r["units"]) == r["total"]["outstanding_fen"] == total == 8_000_000
        assert sum(u["drawn_fen"] for u in r["units"]) == r["total"]["drawn_fen"] == 8_000_000
        first, second = ("D1", "D2") if by == "department" else ("B1", "B2")
        assert units[first]["outstanding_fen"] == 3_000_000 and units[second]["outstanding_fen"] == 5_000_000
        assert units[first]["lines"] == units[second]["lines"] == 1
    with pytest.raises(InvalidInput):
        unit_report(auditor, date(2025, 3, 10), "region")


def test_reports_by_unit_add_up_to_the_union(union):
    """``--by department|branch`` on overdue, products, SLA and officers: the units' figures sum to the
    union's; ``--unit`` gives one unit's share."""
    from credit_coop.core import dayend
    from credit_coop.core.reports import officers_by_unit, officers_report, overdue_report, product_report, products_by_unit, sla_report

    idn1, l1 = _live(union, "王庄村")
    idn2, l2 = _live(union, "东关村", officer="经理二", approver="部长二")
    loans.draw(far_dates(union.as_("王柜员")), card=l1["card_no"], id_number=idn1, amount="3万", fingerprint_ok=True, on=ON)
    loans.draw(far_dates(union.as_("柜员二")), card=l2["card_no"], id_number=idn2, amount="5万", fingerprint_ok=True, on=ON)
    dayend.day_end(union.as_("accountant"), date(2025, 3, 25), today=date(2026, 1, 1))  # March's interest unpaid: overdue
    a, d = union.as_("auditor"), date(2025, 3, 25)
    for by in ("department", "branch"):
        whole = overdue_report(a, d)
        r = overdue_report(a, d, by=by)
        assert sum(u["outstanding_fen"] for u in r["by_unit"]) == whole["outstanding_fen"] == 8_000_000
        assert sum(u["overdue_fen"] for u in r["by_unit"]) == sum(n["principal_fen"] for n in whole["notes"])
        assert sum(u["notes"] for u in r["by_unit"]) == len(whole["notes"]) >= 1
        units = products_by_unit(a, d, by)
        for k in ("households", "granted_fen", "drawn_fen", "outstanding_fen"):
            assert sum(p[k] for u in units for p in u["products"]) == sum(p[k] for p in product_report(a, d))
        s = sla_report(a, d, by=by)
        assert sum(u["grants"] for u in s["by_unit"]) == s["grants"] and sum(u["late"] for u in s["by_unit"]) == len(s["late"])
    one = overdue_report(a, d, unit="D1")
    assert one["outstanding_fen"] == 3_000_000 and all(n["card_no"] == l1["card_no"] for n in one["notes"])
    assert product_report(a, d, "B2")[[p["product"] for p in product_report(a, d, "B2")].index("sdt")]["outstanding_fen"] == 5_000_000
    everyone = officers_report(a)
    per_dept = officers_by_unit(everyone, a)
    assert sum(u["managed_fen"] for u in per_dept) == sum(o["managed_fen"] for o in everyone)
    assert {o["officer"] for o in officers_report(a, "D2")} == {"经理二"}
    with pytest.raises(NotFound):
        overdue_report(a, d, unit="D9")


def test_cash_is_kept_per_branch_and_the_trial_balance_splits_by_unit(union):
    """Each branch's till is its own account (1001.<branch>); union-wide staff take cash into the head
    office's (1001.HO); split by unit, the trial balance adds up to the union's, which balances."""
    from credit_coop.core import dayend
    from credit_coop.core.export import trial_balance

    idn1, l1 = _live(union, "王庄村")
    idn2, l2 = _live(union, "东关村", officer="经理二", approver="部长二")
    loans.draw(far_dates(union.as_("王柜员")), card=l1["card_no"], id_number=idn1, amount="3万", fingerprint_ok=True, on=ON)
    loans.draw(far_dates(union.as_("柜员二")), card=l2["card_no"], id_number=idn2, amount="5万", fingerprint_ok=True, on=ON)
    teller2 = far_dates(union.as_("柜员二"))
    teller2.policy = Policy(dict(teller2.policy.data, organisation={"officer_any_department": False, "any_branch_service": True}))
    loans.repay(teller2, card=l1["card_no"], amount="1000", on=ON)   # 通存通兑: B2's till takes B1's card's money
    dayend.day_end(union.as_("accountant"), date(2025, 3, 25), today=date(2026, 1, 1))
    tb = trial_balance(union.as_("auditor"), date(2025, 3, 25))
    cash = {a["account"]: a["balance_fen"] for a in tb["accounts"] if a["account"].startswith("1001")}
    assert cash == {"1001.B1": -3_000_000, "1001.B2": -5_000_000 + 100_000}
    assert tb["balanced"]
    for by in ("department", "branch"):
        split = trial_balance(union.as_("auditor"), date(2025, 3, 25), by)
        assert sum(u["debit_fen"] for u in split["by_unit"]) == tb["total_debit_fen"]
        assert sum(u["credit_fen"] for u in split["by_unit"]) == tb["total_credit_fen"]
        per = {(u["unit"], a["account"]): a["balance_fen"] for u in split["by_unit"] for a in u["accounts"]}
        if by == "branch":
            assert per[("B1", "1001.B1")] == -3_000_000 and per[("B2", "1001.B2")] == -4_900_000
        else:
            assert per[("D1", "1303.sdt")] == 2_900_000 and per[("D2", "1303.sdt")] == 5_000_000
    from credit_coop.core.verify import verify

    assert verify(union.as_("auditor"))["ok"]


def test_the_audit_workbook_carries_the_units_and_splits_its_controls(union, tmp_path):
    """Registers gain department and branch columns; a sheet gives each unit's share of the control
    totals, and each kind's total equals the register's control total."""
    from openpyxl import load_workbook

    from credit_coop.core.export import export_workbook

    idn1, l1 = _live(union, "王庄村")
    idn2, l2 = _live(union, "东关村", officer="经理二", approver="部长二")
    loans.draw(far_dates(union.as_("王柜员")), card=l1["card_no"], id_number=idn1, amount="3万", fingerprint_ok=True, on=ON)
    loans.draw(far_dates(union.as_("柜员二")), card=l2["card_no"], id_number=idn2, amount="5万", fingerprint_ok=True, on=ON)
    out = tmp_path / "audit.xlsx"
    r = export_workbook(union.as_("auditor"), str(out), first=ON, last=ON)
    assert r["unit_controls_agree"]
    wb = load_workbook(out)
    notes = wb["借据"]
    header = [c.value for c in notes[1]]
    units = {row[header.index("借据号")]: (row[header.index("客户部")], row[header.index("指定网点")])
             for row in notes.iter_rows(min_row=2, values_only=True)}
    assert sorted(units.values()) == [("D1", "B1"), ("D2", "B2")]
    ws = wb["按机构控制合计"]
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    drawn = {(r[0], r[1]): r[3] for r in rows}
    assert drawn[("客户部", "D1")] == 30000 and drawn[("客户部", "D2")] == 50000 and drawn[("客户部", "合计")] == 80000
    assert drawn[("网点", "B1")] == 30000 and drawn[("网点", "合计")] == 80000


def test_one_units_trial_balance(union):
    from credit_coop.core.export import trial_balance

    idn1, l1 = _live(union, "王庄村")
    loans.draw(far_dates(union.as_("王柜员")), card=l1["card_no"], id_number=idn1, amount="3万", fingerprint_ok=True, on=ON)
    r = trial_balance(union.as_("auditor"), ON, unit="B1")
    assert [u["unit"] for u in r["by_unit"]] == ["B1"] and r["by"] == "branch"
    assert {a["account"]: a["balance_fen"] for a in r["by_unit"][0]["accounts"]}["1001.B1"] == -3_000_000
