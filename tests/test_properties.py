"""Property: after any sequence of valid draws and repayments, outstanding ≤ line
and verify is clean; refused operations change nothing."""

from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings, strategies as st

from credit_coop.core import loans
from credit_coop.core.errors import LedgerError
from credit_coop.core.ledger import Ledger, create_ledger
from credit_coop.core.verify import verify
from conftest import Coop, D0, STAFF

ops = st.lists(
    st.tuples(st.sampled_from(["draw", "repay"]), st.integers(min_value=1, max_value=9_000_000), st.integers(0, 3)),
    min_size=1,
    max_size=25,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=ops)
def test_any_sequence_keeps_the_ledger_sound(tmp_path_factory, ops):
    from credit_coop.core import operators

    path = str(tmp_path_factory.mktemp("prop") / "coop.db")
    create_ledger(path, operator="李主任", on=D0)
    with Ledger.open(path, "李主任") as admin:
        for key, name in STAFF.items():
            operators.add_operator(admin, name, key.rstrip("2"), D0)
    coop = Coop(path)
    try:
        line = coop.granted("hnd", line="8万")
        teller, auditor = coop.as_("teller"), coop.as_("auditor")
        on = D0
        expected = 0
        for kind, fen, days in ops:
            on = on + timedelta(days=days)
            try:
                if kind == "draw":
                    loans.draw(teller, card=line["card_no"], id_number=line["borrower"], amount=fen, fingerprint_ok=True, on=on)
                    expected += fen
                else:
                    loans.repay(teller, card=line["card_no"], amount=fen, on=on)
                    expected -= fen
            except LedgerError:
                pass  # refused: must have changed nothing (checked by the running total)
            shown = loans.show_line(auditor, line["card_no"], on)
            assert shown["outstanding_fen"] == expected
            assert 0 <= shown["outstanding_fen"] <= 8_000_000
            assert shown["available_fen"] == 8_000_000 - expected
        result = verify(auditor)
        assert result["ok"], result["findings"]
    finally:
        coop.close()
