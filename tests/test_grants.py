from datetime import date

import pytest

from credit_coop.core import grants
from credit_coop.core.errors import Conflict, InvalidInput, NotPermitted, RuleViolation
from conftest import D0, new_id

D1 = date(2025, 3, 8)


def test_full_hnd_workflow_records_every_step(coop):
    r = coop.granted("hnd", line="8万", term=36)
    assert r["status"] == "live" and r["approval_tier"] == "dept-head"
    assert r["card_no"].startswith("622025") and len(r["card_no"]) == 16
    assert r["contract_no"].startswith("ZGE2025")
    assert (r["valid_from"], r["valid_to"]) == ("2025-03-01", "2028-02-29")
    shown = grants.show_grant(coop.as_("auditor"), r["grant_no"], D0)
    assert [s["action"] for s in shown["steps"]] == ["apply", "village-review", "survey", "review", "approve"]
    assert [s["operator"] for s in shown["steps"]] == ["张经理", "张经理", "张经理", "钱审查", "孙部长"]


@pytest.mark.parametrize(
    "product,ceiling,over",
    [("hnd", "100,000.00", "100,000.01"), ("sdt", "200,000.00", "200,000.01"),
     ("gxd", "300,000.00", "300,000.01"), ("pos", "200,000.00", "200,000.01")],
)
def test_ceiling_exact_passes_one_fen_over_refused(coop, product, ceiling, over):
    assert coop.granted(product, line=ceiling, term=12)["line_fen"] == int(ceiling.replace(",", "").replace(".", ""))
    with pytest.raises(RuleViolation, match=f"ceiling of {ceiling}"):
        coop.apply_and_survey(product, over, 12, borrower=None or coop.borrower(
            kinds=({"hnd": "farmer", "sdt": "business", "gxd": "public-employee", "pos": "pos-merchant"}[product],),
            **({"settlement_account": "6221-1"} if product == "pos" else {})), applied=ceiling)


def test_application_over_ceiling_refused(coop):
    b = coop.borrower()
    with pytest.raises(RuleViolation, match="ceiling"):
        grants.apply_grant(coop.as_("officer"), borrower=b, product="hnd", amount="100,000.01", on=D0)


def test_term_36_ok_37_refused(coop):
    assert coop.granted("hnd", term=36)["valid_to"] == "2028-02-29"
    b = coop.borrower()
    with pytest.raises(RuleViolation, match="maximum of 36 months"):
        coop.apply_and_survey("hnd", "5万", 37, b)


def test_grade_cap(coop):
    b = coop.borrower()
    with pytest.raises(RuleViolation, match="grade 一般"):
        coop.apply_and_survey("hnd", "30,000.01", 12, b, grade="一般")
    g = coop.granted("hnd", line="3万", grade="一般")
    assert g["line_fen"] == 3_000_000


def test_village_review_rules(coop):
    b = coop.borrower()
    officer = coop.as_("officer")
    g = grants.apply_grant(officer, borrower=b, product="hnd", amount="5万", on=D0)["grant_no"]
    with pytest.raises(RuleViolation, match="village credit review"):
        grants.survey(officer, g, line="5万", term_months=12, on=D1)
    with pytest.raises(RuleViolation, match="ran 6 days"):
        grants.village_review(officer, g, grade="优秀", posted_from="2025-03-01", posted_to="2025-03-06", on="2025-03-07")
    with pytest.raises(RuleViolation, match="after it ends"):
        grants.village_review(officer, g, grade="优秀", posted_from="2025-03-01", posted_to="2025-03-07", on="2025-03-07")
    with pytest.raises(InvalidInput, match="unknown credit grade"):
        grants.village_review(officer, g, grade="很好", posted_from="2025-03-01", posted_to="2025-03-07", on="2025-03-08")
    r = grants.village_review(officer, g, grade="较好", posted_from="2025-03-01", posted_to="2025-03-07", on="2025-03-08")
    assert r["posting_days"] == 7
    # other products have no village review
    s = coop.borrower(kinds=("business",))
    g2 = grants.apply_grant(officer, borrower=s, product="sdt", amount="5万", on=D0)["grant_no"]
    with pytest.raises(RuleViolation, match="does not go through"):
        grants.village_review(officer, g2, grade="优秀", posted_from="2025-03-01", posted_to="2025-03-07", on="2025-03-08")


def test_eligibility_by_qualification(coop):
    farmer = coop.borrower(kinds=("farmer",))
    with pytest.raises(RuleViolation, match="公职人员"):
        grants.apply_grant(coop.as_("officer"), borrower=farmer, product="gxd", amount="5万", on=D0)
    both = coop.borrower(kinds=("farmer", "business"))
    assert grants.apply_grant(coop.as_("officer"), borrower=both, product="sdt", amount="5万", on=D0)["status"] == "applied"


def test_one_live_line_per_product(coop):
    r = coop.granted("hnd")
    with pytest.raises(Conflict, match="live 惠农贷 line"):
        grants.apply_grant(coop.as_("officer"), borrower=r["borrower"], product="hnd", amount="1万", on=D0)
    b = coop.borrower()
    grants.apply_grant(coop.as_("officer"), borrower=b, product="hnd", amount="1万", on=D0)
    with pytest.raises(Conflict, match="in progress"):
        grants.apply_grant(coop.as_("officer"), borrower=b, product="hnd", amount="1万", on=D0)


def test_segregation_of_duties(coop):
    b = coop.borrower(kinds=("business",))
    g = coop.apply_and_survey("sdt", "10万", 12, b)
    with pytest.raises(NotPermitted, match="needs: reviewer, dept-head"):
        grants.review(coop.as_("officer"), g, on=D0)
    # a reviewer-role operator who also surveyed? surveyor must be an officer, so test approver == reviewer instead
    grants.review(coop.as_("reviewer"), g, on=D0)
    with pytest.raises(NotPermitted, match="needs: dept-head"):
        grants.approve(coop.as_("reviewer"), g, on=D0)
    with pytest.raises(NotPermitted, match="needs: officer, dept-head"):
        grants.apply_grant(coop.as_("teller"), borrower=b, product="sdt", amount="1万", on=D0)
    assert grants.approve(coop.as_("dept-head"), g, on=D0)["status"] == "live"


def test_same_person_cannot_hold_two_posts(coop):
    # a department head may survey or review, but never two posts on one grant
    b = coop.borrower(kinds=("business",))
    g = coop.apply_and_survey("sdt", "1万", 12, b, surveyor="dept-head")
    with pytest.raises(NotPermitted, match="different person"):
        grants.review(coop.as_("dept-head"), g, on=D0)
    g2 = coop.apply_and_survey("sdt", "1万", 12, coop.borrower(kinds=("business",)))
    grants.review(coop.as_("dept-head"), g2, on=D0)
    with pytest.raises(NotPermitted, match="third person"):
        grants.approve(coop.as_("dept-head"), g2, on=D0)
    assert grants.approve(coop.as_("deputy-director"), g2, on=D0)["status"] == "live"


def test_dates_must_not_go_backwards(coop):
    b = coop.borrower(kinds=("business",))
    g = coop.apply_and_survey("sdt", "10万", 12, b, on=D1)
    with pytest.raises(RuleViolation, match="before the previous step"):
        grants.review(coop.as_("reviewer"), g, on=D0)


@pytest.mark.parametrize(
    "existing,new,tier",
    [
        (("gxd", "20万"), ("sdt", "10万"), "dept-head"),                 # 200,000 + 100,000 = 300,000.00
        (("gxd", "30万"), ("sdt", "20万"), "deputy-director"),           # 300,000 + 200,000 = 500,000.00
        (("gxd", "300,000.00"), ("sdt", "200,000.00"), "deputy-director"),
        (("gxd", "30万"), ("sdt", "0.01"), "deputy-director"),           # 300,000.01
    ],
)
def test_tier_by_total_exposure(coop, existing, new, tier):
    b = coop.borrower(kinds=("public-employee", "business"))
    coop.granted(existing[0], line=existing[1], term=12, borrower=b)
    g = coop.apply_and_survey(new[0], new[1], 12, b)
    grants.review(coop.as_("reviewer"), g, on=D0)
    if tier != "dept-head":
        with pytest.raises(NotPermitted, match=f"needs approval by {tier}"):
            grants.approve(coop.as_("dept-head"), g, on=D0)
    r = grants.approve(coop.as_(tier), g, on=D0)
    assert r["approval_tier"] == tier


def test_committee_above_500k(coop, tmp_path):
    # 300,000 + 200,000 + 0.01 → committee: three lines (extra product from a policy file)
    from credit_coop.core.policy import default_policy_text
    from conftest import make_coop

    extra = '\n[products.xfd]\nname = "其他消费贷"\neligible_kinds = ["public-employee"]\nceiling = "100万"\nmax_term_months = 36\n'
    pol = tmp_path / "p.toml"
    pol.write_text(default_policy_text() + extra, "utf-8")
    big = make_coop(str(tmp_path / "big.db"), policy_file=str(pol), passphrases=False)
    try:
        b = big.borrower(kinds=("public-employee", "business"))
        big.granted("gxd", line="30万", term=12, borrower=b)
        big.granted("sdt", line="20万", term=12, borrower=b, approver="deputy-director")
        g = big.apply_and_survey("xfd", "0.01", 12, b)
        grants.review(big.as_("reviewer"), g, on=D0)
        with pytest.raises(NotPermitted, match="needs approval by committee"):
            grants.approve(big.as_("deputy-director"), g, on=D0)
        assert grants.approve(big.as_("committee"), g, on=D0)["approval_tier"] == "committee"
        # a policy product over 50万 on its own also goes to the committee
        b2 = big.borrower(kinds=("public-employee",))
        g2 = big.apply_and_survey("xfd", "50万", 12, b2)
        grants.review(big.as_("reviewer"), g2, on=D0)
        assert grants.approve(big.as_("deputy-director"), g2, on=D0)["approval_tier"] == "deputy-director"
    finally:
        big.close()


def test_higher_tier_may_approve_lower(coop):
    assert coop.granted("hnd", approver="committee")["approval_tier"] == "dept-head"


def test_this_grant_basis_switch(coop):
    from credit_coop.core.policy import Policy

    b = coop.borrower(kinds=("public-employee", "business"))
    coop.granted("gxd", line="30万", term=12, borrower=b)
    g = coop.apply_and_survey("sdt", "20万", 12, b)
    grants.review(coop.as_("reviewer"), g, on=D0)
    head = coop.as_("dept-head")
    head.policy = Policy(dict(head.policy.data, approval=dict(head.policy["approval"], exposure_basis="this_grant")))
    assert grants.approve(head, g, on=D0)["approval_tier"] == "dept-head"


def test_reject_at_review_and_approval(coop):
    b = coop.borrower(kinds=("business",))
    g = coop.apply_and_survey("sdt", "10万", 12, b)
    r = grants.review(coop.as_("reviewer"), g, on=D0, reject="经营流水不足")
    assert r["status"] == "rejected"
    with pytest.raises(RuleViolation, match="rejected"):
        grants.approve(coop.as_("dept-head"), g, on=D0)
    # after a rejection the borrower may apply again
    g2 = coop.apply_and_survey("sdt", "5万", 12, b)
    grants.review(coop.as_("reviewer"), g2, on=D0)
    assert grants.approve(coop.as_("dept-head"), g2, on=D0, reject="征信有逾期")["status"] == "rejected"


def test_guarantors_only_where_the_product_takes_them(coop):
    officer = coop.as_("officer")
    b = coop.borrower(kinds=("business",))
    g = grants.apply_grant(officer, borrower=b, product="sdt", amount="10万", on=D0)["grant_no"]
    with pytest.raises(RuleViolation, match="own line"):
        grants.survey(officer, g, line="10万", term_months=12, on=D0, guarantors=[b])
    with pytest.raises(InvalidInput, match="guarantor ID"):
        grants.survey(officer, g, line="10万", term_months=12, on=D0, guarantors=["123"])
    assert grants.survey(officer, g, line="10万", term_months=12, on=D0, guarantors=[new_id(), new_id()])["guarantors"] == 2
    f = coop.borrower()
    g2 = coop.apply_and_survey  # noqa: F841
    gh = grants.apply_grant(officer, borrower=f, product="hnd", amount="1万", on=D0)["grant_no"]
    grants.village_review(officer, gh, grade="优秀", posted_from=D0, posted_to="2025-03-07", on="2025-03-08")
    with pytest.raises(RuleViolation, match="pure credit"):
        grants.survey(officer, gh, line="1万", term_months=12, on="2025-03-08", guarantors=[new_id()])


def test_freeze_unfreeze_close(coop):
    r = coop.granted("hnd")
    g = r["grant_no"]
    assert grants.freeze(coop.as_("officer"), g, on=D0, reason="涉诉")["status"] == "frozen"
    with pytest.raises(NotPermitted):
        grants.unfreeze(coop.as_("officer"), g, on=D0)
    assert grants.unfreeze(coop.as_("dept-head"), g, on=D0)["status"] == "live"
    assert grants.close(coop.as_("officer"), g, on=D0)["status"] == "closed"
    with pytest.raises(RuleViolation, match="closed"):
        grants.freeze(coop.as_("officer"), g, on=D0)
    assert [x["grant_no"] for x in grants.list_grants(coop.as_("auditor"), status="closed", as_of=D0)] == [g]
    with pytest.raises(InvalidInput, match="unknown status"):
        grants.list_grants(coop.as_("auditor"), status="nope")


def test_nothing_half_written_on_refusal(coop):
    b = coop.borrower(kinds=("business",))
    g = coop.apply_and_survey("sdt", "10万", 12, b)
    with pytest.raises(NotPermitted):
        grants.review(coop.as_("officer"), g, on=D0)
    shown = grants.show_grant(coop.as_("auditor"), g, D0)
    assert shown["status"] == "surveyed" and [s["action"] for s in shown["steps"]] == ["apply", "survey"]


def test_the_survey_may_not_raise_the_line_applied_for(coop):
    """Issue 17: applied 15万, approved 20万 was accepted."""
    from credit_coop.core.errors import RuleViolation
    from credit_coop.core.policy import Policy

    b = coop.borrower(kinds=("business",))
    with pytest.raises(RuleViolation, match="more than the 150,000.00 applied for"):
        coop.apply_and_survey("sdt", "20万", 12, b, applied="15万")
    assert coop.apply_and_survey("sdt", "15万", 12, coop.borrower(kinds=("business",)), applied="15万")
    officer = coop.as_("officer")
    officer.policy = Policy(dict(officer.policy.data, grants={"survey_above_applied": True}))
    g = grants.apply_grant(officer, borrower=coop.borrower(kinds=("business",)), product="sdt", amount="15万", on=D0)["grant_no"]
    assert grants.survey(officer, g, line="20万", term_months=12, on=D0)["line_fen"] == 20_000_000
