"""The SQL day-end against its plain-Python reference (core/dayend.py ``reference_days``), day by day,
to the fen (issue 11): random notes, rates, draw dates, maturities and repayment histories; accrual,
settlement, maturity, penalty, 复利, days past due and class all compared, on the note's day-end
state and on its journal balances."""

from datetime import date, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from credit_coop.core import accounts, dayend, loans
from credit_coop.core.ledger import Ledger
import conftest

START = date(2025, 3, 1)
PRODUCTS = {"hnd": ("6.5", 10_000_000), "sdt": ("7.2", 20_000_000), "gxd": ("5.8", 30_000_000)}


def _policy_without_compensation(tmp: Path) -> str:
    """The default policy, with compensation put off (the reference does not model it)."""
    text = (Path(dayend.__file__).parent / "default_policy.toml").read_text("utf-8")
    assert "compensation_grace_days = 0" in text
    path = tmp / "policy.toml"
    path.write_text(text.replace("compensation_grace_days = 0", "compensation_grace_days = 3650"), "utf-8")
    return str(path)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    product=st.sampled_from(sorted(PRODUCTS)),
    start=st.integers(0, 40),
    amount_pct=st.integers(1, 100),
    term=st.integers(5, 75),
    extra=st.integers(0, 45),
    repays=st.lists(st.tuples(st.integers(1, 120), st.integers(1, 100)), max_size=5),
)
def test_sql_day_end_equals_the_reference(tmp_path_factory, product, start, amount_pct, term, extra, repays):
    base = tmp_path_factory.mktemp("oracle")
    coop = conftest.make_coop(str(base / "c.db"), START, passphrases=False, policy_file=_policy_without_compensation(base))
    try:
        rate, ceiling = PRODUCTS[product]
        drawn_on = START + timedelta(days=start)
        amount = max(ceiling * amount_pct // 100 // 100 * 100, 100)
        grant = coop.granted(product, line=str(ceiling // 100), on=START, term=36)
        maturity = drawn_on + timedelta(days=term)
        through = maturity + timedelta(days=extra)
        accountant = coop.as_("accountant")
        if drawn_on > START:
            dayend.day_end(accountant, drawn_on - timedelta(days=1), today=date(2027, 1, 1))
        note = loans.draw(coop.as_("teller"), card=grant["card_no"], id_number=grant["borrower"], amount=f"{amount // 100}",
                          fingerprint_ok=True, on=drawn_on, maturity=maturity)
        policy = accountant.policy
        store = Ledger.open(coop.path, "郑稽核").store
        note_id = store._scalar("SELECT id FROM loan_notes WHERE note_no = ?", (note["note_no"],))
        wanted = {drawn_on + timedelta(days=offset): pct for offset, pct in repays if drawn_on + timedelta(days=offset) <= through}
        paid: dict = {}
        previous = {"principal": amount, "accrued": 0, "interest_due": 0, "penalty": 0}
        day = drawn_on
        while day <= through:
            if day in wanted and day > drawn_on:
                owed = sum(previous[k] for k in ("principal", "accrued", "interest_due", "penalty"))
                pay = owed * wanted[day] // 100
                if pay > 0:
                    loans.repay(coop.as_("teller"), card=grant["card_no"], amount=f"{pay // 100}.{pay % 100:02d}", on=day)
                    paid[day] = pay
            dayend.day_end(accountant, day, today=date(2027, 1, 1))
            expected = dayend.reference_days(drawn_on=drawn_on, amount=amount, maturity=maturity,
                                               annual_rate_percent=rate, repayments=paid, through=day, policy=policy)[-1]
            s = store.note_state(note_id)
            got = {"principal": s["principal"], "accrued": s["accrued"], "interest_due": s["interest_due"],
                   "penalty": s["penalty"], "dpd": s["dpd"], "class": s["class"]}
            assert got == {k: v for k, v in expected.items() if k != "day"}, (day, got, expected)
            # the journal: the note's claims on its own accounts, what is accrued on the product's (issue 11;
            # this is the ledger's only note, so the product's accounts are the note's)
            gl = {r["account"]: r["debit"] - r["credit"] for r in store.account_balances()}
            journal = {"principal": store.note_balance(note_id, accounts.loans_account(product)),
                       "accrued": gl.get(accounts.accrued_account(product), 0),
                       "interest_due": store.note_balance(note_id, accounts.INTEREST_DUE),
                       "penalty": store.note_balance(note_id, accounts.PENALTY_DUE) + gl.get(accounts.penalty_accrued_account(product), 0)}
            assert journal == {k: expected[k] for k in journal}, (day, journal, expected)
            assert store.note_balance(note_id, accounts.PENALTY_DUE) == s["penalty"] - s["penalty_accrued"]
            previous = expected
            day += timedelta(days=1)
        # per-note day-end lines only where interest or penalty became a claim: settlement days and maturity
        it = policy["interest"]
        for line in store.note_lines(note_id):
            if line["kind"] == "day-end":
                on = date.fromisoformat(line["business_date"])
                assert dayend.is_settlement_day(on, it) or on == maturity, line
        store.close()
    finally:
        coop.close()


def test_reference_agrees_with_a_hand_computation():
    """The reference itself, on the README's figures: 30,000.00 at 6.5% from 03-12; March's interest
    (9 days, 03-12..03-20) falls due on the 20th: 30,000 × 6.5% / 360 × 9 = 48.75."""
    from credit_coop.core.policy import load_policy_file

    policy = load_policy_file(None)
    days = dayend.reference_days(drawn_on=date(2025, 3, 12), amount=3_000_000, maturity=date(2026, 3, 12),
                                   annual_rate_percent="6.5", repayments={}, through=date(2025, 3, 22), policy=policy)
    by_day = {d["day"]: d for d in days}
    assert by_day[date(2025, 3, 19)]["accrued"] == round(3_000_000 * 0.065 / 360 * 8)
    assert by_day[date(2025, 3, 20)]["interest_due"] == 4875 and by_day[date(2025, 3, 20)]["accrued"] == 0
    assert by_day[date(2025, 3, 20)]["dpd"] == 0 and by_day[date(2025, 3, 21)]["dpd"] == 1
    assert by_day[date(2025, 3, 21)]["class"] == "关注"


def test_an_unbalanced_bulk_posting_is_refused(tmp_path):
    """The day-end writes its lines set-wise; ``seal_bulk`` holds them to the journal's balance check."""
    import pytest

    from credit_coop.core.journal import seal_bulk

    coop = conftest.make_coop(str(tmp_path / "c.db"), START, passphrases=False)
    try:
        ledger = coop.as_("accountant")
        with pytest.raises(AssertionError, match="unbalanced bulk posting"):
            with ledger.store.write():
                txn = ledger.store.insert_txn("day-end", "2025-03-01", ledger.operator, "test", None)
                ledger.store.insert_lines(txn, [("1132.accrued", 100, 0, None, None, None),
                                                ("6011.hnd", 0, 99, None, None, None)])
                seal_bulk(ledger, txn)
        assert ledger.store._scalar("SELECT COUNT(*) FROM txns") == 0  # rolled back whole
    finally:
        coop.close()
