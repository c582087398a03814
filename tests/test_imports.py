import csv
import json

import pytest

from credit_coop.core import grants
from credit_coop.core.errors import InvalidInput, NotPermitted
from credit_coop.core.imports import import_file
from credit_coop.core.verify import verify
from conftest import D0, new_id

GRANT_COLS = ["ref", "id_number", "product", "amount", "applied_on", "applied_by", "line", "term_months", "surveyed_on",
              "surveyed_by", "reviewed_on", "reviewed_by", "approved_on", "approved_by"]


def write(path, cols, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        w.writerows(rows)
    return str(path)


def grant_row(ref, idn, line="10万", term="12", approver="孙部长", reviewer="钱审查"):
    return [ref, idn, "sdt", line, "2025-03-01", "张经理", line, term, "2025-03-02", "张经理", "2025-03-03", reviewer,
            "2025-03-03", approver]


@pytest.fixture
def people(coop, tmp_path):
    ids = [new_id() for _ in range(3)]
    path = write(tmp_path / "b.csv", ["id_number", "name", "kinds", "registered_on"], [[i, f"商户{n}", "business", "2025-03-01"] for n, i in enumerate(ids)])
    r = import_file(coop.as_("李主任"), "borrowers", path, on=D0)
    assert r.committed and r.posted == 3
    return ids


def test_all_or_nothing_lists_every_bad_row(coop, people, tmp_path):
    path = write(tmp_path / "g.csv", GRANT_COLS, [
        grant_row("A1", people[0]),
        grant_row("A2", people[1], line="200,000.01"),   # one fen over the ceiling
        grant_row("A3", people[2], term="37"),           # one month over
        grant_row("A4", "110105194912310021"),           # bad check digit
    ])
    r = import_file(coop.as_("李主任"), "grants", path, on=D0)
    assert not r.committed and r.posted == 0
    assert [(x["line"], x["error"].split(" ")[0]) for x in r.rejected] == [(3, "200,000.01"), (4, "term"), (5, "ID")]
    assert "ceiling" in r.rejected[0]["error"]
    assert grants.list_grants(coop.as_("auditor")) == []  # ledger unchanged


def test_rejects_mode_and_idempotent_reimport(coop, people, tmp_path):
    rows = [grant_row("B1", people[0]), grant_row("B2", people[1], reviewer="孙部长"), grant_row("B3", people[2])]
    path = write(tmp_path / "g.csv", GRANT_COLS, rows)
    r = import_file(coop.as_("李主任"), "grants", path, on=D0, keep_good=True)
    assert r.committed and r.posted == 2 and r.rejected[0]["line"] == 3 and "third person" in r.rejected[0]["error"]
    again = import_file(coop.as_("李主任"), "grants", path, on=D0, keep_good=True)
    assert again.posted == 0 and again.already_there == 2
    assert len(grants.list_grants(coop.as_("auditor"))) == 2
    draws = write(tmp_path / "d.csv", ["request_id", "id_number", "product", "amount", "on", "teller"],
                  [["D1", people[0], "sdt", "5万", "2025-03-04", "王柜员"], ["D2", people[2], "商贷通", "10万", "2025-03-04", "王柜员"]])
    assert import_file(coop.as_("李主任"), "draws", draws, on=D0).posted == 2
    assert import_file(coop.as_("李主任"), "draws", draws, on=D0).already_there == 2
    assert verify(coop.as_("auditor"))["ok"]


def test_missing_columns_and_permissions(coop, tmp_path):
    path = write(tmp_path / "x.csv", ["id_number", "name"], [["1", "x"]])
    with pytest.raises(InvalidInput, match="missing column"):
        import_file(coop.as_("李主任"), "borrowers", path, on=D0)
    with pytest.raises(InvalidInput, match="unknown import kind"):
        import_file(coop.as_("李主任"), "loans", path, on=D0)
    with pytest.raises(NotPermitted, match="admin"):
        import_file(coop.as_("teller"), "borrowers", write(tmp_path / "y.csv", ["id_number", "name", "kinds", "registered_on"], []), on=D0)


def test_cli_import_writes_rejects(coop, people, tmp_path):
    from typer.testing import CliRunner
    from credit_coop.cli import app
    from credit_coop.cli.base import CURRENT

    CURRENT.db = CURRENT.operator = None
    CURRENT.json = False
    path = write(tmp_path / "g.csv", GRANT_COLS, [grant_row("C1", people[0]), grant_row("C2", people[1], line="abc")])
    rejects = tmp_path / "bad.csv"
    env = {"CREDIT_COOP_PASSWORD": "pass-123"}
    r = CliRunner().invoke(app, ["--db", coop.path, "--operator", "李主任", "import", "grants", path], env=env)
    assert r.exit_code == 5 and "line 3" in r.stdout and "nothing posted" in r.stdout
    r = CliRunner().invoke(app, ["--db", coop.path, "--operator", "李主任", "import", "grants", path, "--rejects", str(rejects), "--json"],
                           env=env)
    assert r.exit_code == 0 and json.loads(r.stdout)["posted"] == 1
    bad = list(csv.DictReader(open(rejects, encoding="utf-8")))
    assert bad[0]["csv_line"] == "3" and bad[0]["ref"] == "C2" and "not an amount" in bad[0]["error"]
