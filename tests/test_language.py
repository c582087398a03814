"""Chinese-first screens and input (issue 15): the default language, one table of labels for
screens, errors and exports, full-width input from a Chinese input method, 80/160 columns."""

import ast
import json
import re
from datetime import date
from pathlib import Path

import pytest
from rich.cells import cell_len

from credit_coop.core import labels
from credit_coop.core.dates import parse_date, parse_month
from credit_coop.core.errors import InvalidInput
from credit_coop.core.money import parse_amount
from test_cli import db, run, walk_hnd  # noqa: F401  (db is a fixture)
from conftest import new_id

ROOT = Path(__file__).parent.parent


def zh(db, *args, operator="王柜员", lang=None, columns="120", **env):
    """A command with the language left to its default (no --lang, no CREDIT_COOP_LANG, a C locale)."""
    e = {"CREDIT_COOP_LANG": None, "LANG": "C.UTF-8", "LC_ALL": None, "LC_MESSAGES": None, "COLUMNS": columns, **env}
    return run(db, *([f"--lang={lang}"] if lang else []), *args, operator=operator, env=e)


@pytest.fixture
def line(db):
    idn = new_id()
    r = walk_hnd(db, idn)
    assert run(db, "draw", "--card", r["card_no"], "--id-number", idn, "--amount", "3万", "--fingerprint-ok",
               "--on", "2025-03-12", operator="王柜员").exit_code == 0
    return db, r["card_no"], idn


# -- which language ----------------------------------------------------------------------
def test_chinese_by_default_english_on_request(line):
    db, card, _ = line
    r = zh(db, "line", "show", card, "--on", "2025-03-12")
    assert r.exit_code == 0, r.output
    assert "可用额度" in r.stdout and "余额" in r.stdout and "未结清" in r.stdout
    assert "available" not in r.stdout and "outstanding" not in r.stdout
    for how in ({"lang": "en"}, {"CREDIT_COOP_LANG": "en"}, {"LANG": "en_US.UTF-8"}):
        r = zh(db, "line", "show", card, "--on", "2025-03-12", **how)
        assert r.exit_code == 0 and "available" in r.stdout and "可用额度" not in r.stdout, how
    # the command line beats the environment
    r = zh(db, "line", "show", card, "--on", "2025-03-12", lang="zh", CREDIT_COOP_LANG="en")
    assert "可用额度" in r.stdout


def test_a_language_nobody_speaks_here_is_refused(line):
    db, card, _ = line
    r = zh(db, "line", "show", card, lang="fr")
    assert r.exit_code == 3 and r.stderr.count("\n") == 1 and "zh" in r.stderr and "en" in r.stderr


def test_resolve_order():
    assert labels.resolve(None, {}) == "zh"
    assert labels.resolve(None, {"LANG": "C.UTF-8"}) == "zh"
    assert labels.resolve(None, {"LANG": "zh_CN.UTF-8"}) == "zh"
    assert labels.resolve(None, {"LANG": "en_GB.UTF-8"}) == "en"
    assert labels.resolve(None, {"LANG": "en_GB.UTF-8", "CREDIT_COOP_LANG": "zh"}) == "zh"
    assert labels.resolve("en", {"CREDIT_COOP_LANG": "zh"}) == "en"
    assert labels.resolve("zh-CN", {}) == "zh"


# -- errors: the chosen language, one line, the same exit code ------------------------------
def test_errors_in_chinese_with_the_same_exit_codes(line):
    db, card, idn = line
    cases = [
        (["draw", "--card", card, "--id-number", idn, "--amount", "100万", "--fingerprint-ok", "--on", "2025-03-12"], 5, "超过额度"),
        (["draw", "--card", card, "--id-number", idn, "--amount", "abc", "--fingerprint-ok", "--on", "2025-03-12"], 3, "不是金额"),
        (["repay", "--card", "6220250000000028", "--amount", "1"], 4, "没有贷款卡号为"),
        (["batch", "payroll", "--month", "2025-03"], 6, "无权运行"),
    ]
    for args, code, needle in cases:
        r = zh(db, *args)
        assert r.exit_code == code, (args, r.output)
        assert r.stderr.startswith("错误：") and r.stderr.count("\n") == 1, r.stderr
        assert needle in r.stderr, r.stderr
        e = zh(db, *args, lang="en")
        assert e.exit_code == code and e.stderr.startswith("error: ") and not re.search(r"[\u4e00-\u9fff]{2}错误", e.stderr)


def test_json_stays_english_keyed_in_either_language(line):
    db, card, _ = line
    a = json.loads(zh(db, "--json", "line", "show", card, "--on", "2025-03-12").stdout)
    b = json.loads(zh(db, "--json", "line", "show", card, "--on", "2025-03-12", lang="en").stdout)
    assert a == b and a["status"] == "live" and "available_fen" in a
    r = zh(db, "--json", "repay", "--card", "6220250000000028", "--amount", "1")
    doc = json.loads(r.stdout)
    assert doc["error"].startswith("no credit line") and doc["message"].startswith("没有贷款卡号") and doc["exit_code"] == 4


# -- one table: every message the code can raise has its Chinese -------------------------------
def _templates():
    """Every sentence the package raises, fails with or says, as the English template the table keys."""
    calls = {"InvalidInput", "NotFound", "RuleViolation", "NotPermitted", "Conflict", "LedgerBusy", "LedgerUnavailable",
             "LedgerError"}

    def template(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr):
            out, n = [], 0
            for v in node.values:
                if isinstance(v, ast.Constant):
                    out.append(v.value)
                else:
                    out.append("{%d}" % n)
                    n += 1
            return "".join(out)
        return None

    found = {}
    for path in sorted((ROOT / "credit_coop").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            fname = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
            arg = (node.args[0] if fname in calls | {"say"} and node.args else
                   node.args[1] if fname in ("fail", "Finding") and len(node.args) > 1 else None)
            t = template(arg) if arg is not None else None
            if t is not None and re.search(r"[a-z]{3}", re.sub(r"\{\d+\}", "", t)):
                found[t] = f"{path.relative_to(ROOT)}:{node.lineno}"
    return found


def test_every_message_has_its_chinese():
    found = _templates()
    assert len(found) > 250
    missing = {t: where for t, where in found.items() if t not in labels.MESSAGES and t.strip() not in ("{0}",)}
    assert not missing, missing


@pytest.mark.parametrize("template", sorted(labels.MESSAGES))
def test_each_template_translates_a_filled_sentence(template):
    """Filled with sample values, the sentence comes out in Chinese with the values in it."""
    values = [f"V{i}x" for i in range(10)]
    english = template.format(*values) if "{" in template else template
    chinese = labels.translate(english, "zh")
    assert chinese != english or not re.search(r"[a-z]{3}", english), (template, chinese)
    for i, v in enumerate(values[: template.count("{")]):
        if "{%d}" % i in template:
            assert v in chinese or f"{{{i}!t}}" in labels.MESSAGES[template], (template, v, chinese)


def test_the_same_english_word_is_one_label_in_screens_and_exports():
    from credit_coop.core.export import REGISTERS

    for _, (title, cols) in REGISTERS.items():
        assert labels.label(title, "zh") != title
        for c in cols:
            assert re.search(r"[\u4e00-\u9fff]", c.header("zh")), c


# -- input from a Chinese input method ---------------------------------------------------------
def _fullwidth(text: str) -> str:
    return text.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})


@pytest.mark.parametrize("typed,fen", [
    ("１０００", 100_000), ("１０万", 10_000_000), ("1，000．00", 100_000), ("１，０００．００", 100_000),
    ("￥８万", 8_000_000), ("3．5万", 3_500_000), ("1000。50", 100_050), ("\u3000８００\u3000", 80_000),
])
def test_full_width_amounts_parse(typed, fen):
    assert parse_amount(typed) == fen


@pytest.mark.parametrize("typed", ["2025-03-01", "2025-3-1", "2025/3/1", "2025年3月1日", "2025年03月01日", "20250301",
                                   "２０２５－０３－０１", "２０２５年３月１日", "2025 年 3 月 1 日"])
def test_dates_in_the_forms_staff_type(typed):
    assert parse_date(typed) == date(2025, 3, 1)


@pytest.mark.parametrize("typed", ["01/03/2025", "3/1/2025", "2025.3.1", "2025年13月1日", "2025/2/30", "2025031",
                                   "二〇二五年三月一日", "2025-03-01T00:00", "25-3-1"])
def test_ambiguous_or_invalid_dates_refused_naming_the_forms(typed):
    with pytest.raises(InvalidInput) as e:
        parse_date(typed)
    assert "2025年3月1日" in str(e.value) or "does not exist" in str(e.value)


def test_months_in_the_forms_staff_type():
    for typed in ("2025-11", "2025/11", "2025年11月", "202511", "２０２５－１１"):
        assert parse_month(typed) == (2025, 11)
    with pytest.raises(InvalidInput, match="2025年11月"):
        parse_month("11/2025")


def test_a_draw_typed_in_full_width_posts_once(line):
    db, card, idn = line
    r = zh(db, "draw", "--card", _fullwidth(card), "--id-number", _fullwidth(idn), "--amount", "１万",
           "--on", "２０２５年３月１２日", "--fingerprint-ok", "--request-id", "IME-1")
    assert r.exit_code == 0, r.output
    assert "借据" in r.stdout and "¥10,000.00" in r.stdout and "2025-03-12" in r.stdout
    again = zh(db, "--json", "draw", "--card", card, "--id-number", idn, "--amount", "10,000.00", "--on", "2025-03-12",
               "--fingerprint-ok", "--request-id", "IME-1")
    assert json.loads(again.stdout)["replayed"] is True


# -- screens: everything in Chinese, fitting 80 and 160 columns -------------------------------
ENGLISH = re.compile(r"\b[a-z]{3,}(?:[ '-][a-z]{2,})+\b")


def _english_left(text: str) -> list[str]:
    """Runs of English words a Chinese screen still shows (commands and options excepted)."""
    left = []
    for line in text.splitlines():
        line = re.sub(r"`[^`]*`|credit-coop.*|--[a-z-]+|grant (?:village-review|review|approve)", "", line)
        left += ENGLISH.findall(line)
    return left


def test_screens_speak_chinese(line):
    db, card, idn = line
    assert zh(db, "batch", "day-end", "--through", "2025-04-14", operator="赵会计").exit_code == 0
    runs = [
        (["repay", "--card", card, "--amount", "5000", "--on", "2025-04-15"], "王柜员"),
        (["line", "show", card], "王柜员"),
        (["borrower", "show", idn], "张经理"),
        (["grant", "list"], "张经理"),
        (["loan", "show", "JJ202500000001"], "赵会计"),
        (["report", "overdue", "--as-of", "2025-04-14"], "李主任"),
        (["report", "products"], "李主任"),
        (["report", "officers"], "李主任"),
        (["report", "trial-balance", "--as-of", "2025-04-15"], "李主任"),
        (["policy", "show"], "李主任"),
        (["operator", "list"], "李主任"),
        (["org", "show"], "李主任"),
        (["verify"], "李主任"),
    ]
    for args, who in runs:
        r = zh(db, *args, operator=who)
        assert r.exit_code == 0, (args, r.output)
        assert re.search(r"[\u4e00-\u9fff]", r.stdout), args
        assert not _english_left(r.stdout), (args, _english_left(r.stdout))


@pytest.mark.parametrize("columns", [80, 160])
def test_tables_fit_the_terminal_and_never_cut_chinese_names(line, columns):
    db, card, idn = line
    assert zh(db, "batch", "day-end", "--through", "2025-04-14", operator="赵会计").exit_code == 0
    for args in (["report", "overdue", "--as-of", "2025-04-14"], ["line", "show", card], ["grant", "list"],
                 ["report", "trial-balance", "--as-of", "2025-04-14"]):
        r = zh(db, *args, operator="李主任", columns=str(columns))
        assert r.exit_code == 0, r.output
        lines = r.stdout.splitlines()
        assert all(cell_len(x) <= columns for x in lines), (args, max(map(cell_len, lines)))
        for whole in ("惠农贷", "客户部负责人", "王大山", "应收利息-已计提", "410523********"):
            if whole[:2] in r.stdout and whole in r.stdout.replace("\n", ""):
                assert whole in r.stdout, (args, whole)   # never split across lines
        # each drawn table's rows are equally wide in terminal cells: CJK columns stay aligned
        tables, current = [], []
        for x in lines + [""]:
            if x.startswith(("┏", "┃", "┡", "│", "└")):
                current.append(cell_len(x))
            elif current:
                tables.append(current)
                current = []
        assert all(len(set(t)) == 1 for t in tables), (args, tables)


def test_chinese_workbook_names_codes_and_keeps_them_filterable(line, tmp_path):
    from openpyxl import load_workbook

    db, card, _ = line
    out = tmp_path / "a.xlsx"
    r = zh(db, "export", "journal", "--out", str(out), "--from", "2025-03-01", "--to", "2025-03-31", operator="李主任")
    assert r.exit_code == 0, r.output
    ws = load_workbook(out)["会计分录"]
    header = [c.value for c in ws[1]]
    kinds = {(row[header.index("类型")], row[header.index("类型代码")]) for row in ws.iter_rows(min_row=2, values_only=True)}
    assert ("用信", "drawdown") in kinds
    out_en = tmp_path / "b.xlsx"
    assert zh(db, "export", "journal", "--out", str(out_en), "--from", "2025-03-01", "--to", "2025-03-31",
              operator="李主任", lang="en").exit_code == 0
    ws = load_workbook(out_en)["Journal"]
    header = [c.value for c in ws[1]]
    assert "Kind" in header and "Kind code" not in header
    assert "drawdown" in {row[header.index("Kind")] for row in ws.iter_rows(min_row=2, values_only=True)}


def test_a_term_is_translated_once():
    """No key twice in the tables (a later entry would silently win over the first)."""
    tree = ast.parse((ROOT / "credit_coop" / "core" / "labels.py").read_text("utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys = [k.value for k in node.keys if isinstance(k, ast.Constant)]
            assert len(keys) == len(set(keys)), sorted({k for k in keys if keys.count(k) > 1})


def test_verify_findings_in_chinese(line):
    """A tampered ledger's findings are shown in Chinese (the check's name stays, for searching)."""
    import sqlite3

    db, card, _ = line
    con = sqlite3.connect(db)
    con.execute("DROP TRIGGER journal_lines_no_update")
    con.commit()
    con.close()
    r = zh(db, "verify", operator="李主任")
    assert r.exit_code == 1, r.output
    assert "[guards] 保护触发器 journal_lines_no_update 缺失" in r.stdout and "发现" in r.stdout
    assert not _english_left(r.stdout.replace("journal_lines_no_update", "")), _english_left(r.stdout)
