"""Property: no sequence of accepted commands makes `verify` fail (issue 16 §1).

Random drawdowns, repayments and reversals, dated on, before or after the open business
date (crossing settlement days on the 20th and notes' maturities), interleaved with day-ends
that close some of those days. After each step the line's outstanding principal is what the
accepted postings say (a refused one changed nothing), and the ledger verifies after every
day-end and at the end."""

from datetime import date, timedelta

from hypothesis import HealthCheck, event, given, settings, strategies as st

from credit_coop.core import dayend, journal, loans
from credit_coop.core.errors import LedgerError
from credit_coop.core.verify import verify
from conftest import make_coop

ops = st.lists(
    st.tuples(
        st.sampled_from(["draw", "repay", "repay", "day-end", "reverse"]),
        st.integers(min_value=1, max_value=9_000_000),   # fen (draw, repay)
        st.integers(-3, 12),                               # the date, in days from the open business date
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=ops)
def test_any_sequence_keeps_the_ledger_sound(tmp_path_factory, ops):
    from credit_coop.core.business_day import open_business_date

    coop = make_coop(str(tmp_path_factory.mktemp("prop") / "coop.db"), passphrases=False)
    try:
        line = coop.granted("hnd", line="8万")
        teller, accountant, auditor = coop.as_("teller"), coop.as_("accountant"), coop.as_("auditor")
        expected = 0
        counter_txns = []  # (txn id, principal effect) of accepted counter postings, newest last
        refused = 0
        for kind, fen, offset in ops:
            on = open_business_date(auditor) + timedelta(days=offset)
            principal_before = loans.show_line(auditor, line["card_no"], on)["outstanding_fen"]
            try:
                if kind == "draw":
                    r = loans.draw(teller, card=line["card_no"], id_number=line["borrower"], amount=fen, fingerprint_ok=True,
                                   on=on, maturity=on + timedelta(days=30))
                    expected += fen
                    counter_txns.append(r["txn_id"])
                elif kind == "repay":
                    r = loans.repay(teller, card=line["card_no"], amount=fen, on=on)
                    expected -= r["split"]["principal_fen"]
                    counter_txns.append(r["txn_id"])
                elif kind == "reverse":
                    if not counter_txns:
                        continue
                    txn = counter_txns[-1]
                    lines = auditor.store.txn_lines(txn)
                    effect = sum(l["debit"] - l["credit"] for l in lines if l["account"].startswith("1303."))
                    journal.reverse(accountant, txn, "keyed twice", on)
                    expected -= effect
                    counter_txns.pop()
                else:
                    dayend.day_end(accountant, on, today=date(2030, 1, 1))
                    expected = loans.show_line(auditor, line["card_no"], on)["outstanding_fen"]  # compensation may clear it
                    v = verify(auditor)
                    assert v["ok"], v["findings"]
            except LedgerError:
                refused += 1
                assert loans.show_line(auditor, line["card_no"], on)["outstanding_fen"] == principal_before
            shown = loans.show_line(auditor, line["card_no"], on)
            assert shown["outstanding_fen"] == expected
            assert 0 <= shown["outstanding_fen"] <= 8_000_000
        event(f"refused some: {refused > 0}")
        dayend.day_end(accountant, open_business_date(auditor) + timedelta(days=40), today=date(2030, 1, 1))
        result = verify(auditor)
        assert result["ok"], result["findings"]
    finally:
        coop.close()
