"""End-to-end runs of the installed console script, and the start-up import budget."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import new_id


def script() -> str:
    here = Path(sys.executable).parent / "credit-coop"
    found = str(here) if here.exists() else shutil.which("credit-coop")
    if not found:
        pytest.skip("credit-coop console script is not installed (pip install . first)")
    return found


def cc(db, *args, operator="李主任", check=True, password="pass-123"):
    env = dict(os.environ, CREDIT_COOP_DB=str(db), CREDIT_COOP_PASSWORD=password, CREDIT_COOP_NEW_PASSWORD=password)
    env.pop("CREDIT_COOP_OPERATOR", None)
    if operator:
        env["CREDIT_COOP_OPERATOR"] = operator
    r = subprocess.run([script(), *args], capture_output=True, text=True, env=env, timeout=120)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def test_installed_script_walkthrough(tmp_path):
    db = tmp_path / "coop.db"
    cc(db, "init", "--on", "2025-03-01", operator="李主任")
    for name, role in [("张经理", "officer"), ("钱审查", "reviewer"), ("孙部长", "dept-head"), ("王柜员", "teller")]:
        cc(db, "operator", "add", name, "--role", role, operator="李主任")
    idn = new_id()
    cc(db, "borrower", "add", "--id-number", idn, "--name", "王大山", "--kind", "farmer", "--on", "2025-03-01", operator="张经理")
    g = json.loads(cc(db, "--json", "grant", "apply", "--borrower", idn, "--product", "hnd", "--amount", "8万", "--on", "2025-03-01", operator="张经理").stdout)["grant_no"]
    cc(db, "grant", "village-review", g, "--grade", "优秀", "--posted-from", "2025-03-02", "--posted-to", "2025-03-08", "--on", "2025-03-09", operator="张经理")
    cc(db, "grant", "survey", g, "--line", "8万", "--term", "36", "--on", "2025-03-10", operator="张经理")
    cc(db, "grant", "review", g, "--on", "2025-03-10", operator="钱审查")
    card = json.loads(cc(db, "grant", "approve", g, "--on", "2025-03-11", "--json", operator="孙部长").stdout)["card_no"]
    draw = ["draw", "--card", card, "--id-number", idn, "--amount", "3万", "--fingerprint-ok", "--on", "2025-03-12", "--request-id", "x1"]
    first = cc(db, *draw, operator="王柜员").stdout
    again = cc(db, *draw, operator="王柜员").stdout
    assert "already posted" in again and first.split()[2] == again.split()[2]
    over = cc(db, "draw", "--card", card, "--id-number", idn, "--amount", "50,000.01", "--fingerprint-ok", "--on", "2025-03-12",
              operator="王柜员", check=False)
    assert over.returncode == 5 and over.stderr.startswith("error: ") and "Traceback" not in over.stderr
    shown = json.loads(cc(db, "line", "show", card, "--json", "--on", "2025-03-12").stdout)
    assert shown["outstanding_fen"] == 3_000_000
    assert cc(db, "verify").returncode == 0


def test_demo_runs_end_to_end(tmp_path):
    """The one full demo year in the suite (CI's first command runs it too): the source's table."""
    db = tmp_path / "demo.db"
    r = cc(db, "demo", "--db", str(db), "--json", operator=None)
    out = json.loads(r.stdout)
    assert out["verify_ok"]
    by = {p["product"]: p for p in out["products"]}
    for code in ("sdt", "pos", "gxd"):  # reproducible rows of the source's table, to the yuan
        assert by[code]["households"] == by[code]["source_households"]
        assert by[code]["granted_fen"] == by[code]["source_granted_fen"]
        assert by[code]["drawn_fen"] == by[code]["source_drawn_fen"]
    assert by["hnd"]["households"] == 921 and by["hnd"]["granted_fen"] == 921 * 10_000_000
    assert out["compensation"]["cases"] >= 1 and out["overdue"]["notes"] >= 1   # the sample's defaulters show up
    # issue 11: the year's books are events, not days (476,879 lines when the day-end wrote a line per note
    # per day), and the outside peers accept them, balance for balance
    from credit_coop.core.ledger import Ledger
    from test_export import check_with_peers

    with Ledger.open(str(db), "郑稽核") as auditor:
        assert check_with_peers(auditor, tmp_path) <= 120_000


def test_demo_builds_are_identical_and_never_replace_a_real_ledger(tmp_path):
    """Two builds of a short demo (through March) give byte-identical reports; a real ledger is refused."""
    db = tmp_path / "demo.db"
    short = ["--through", "2025-03-31"]
    out = json.loads(cc(db, "demo", "--db", str(db), "--json", *short, operator=None).stdout)
    assert out["verify_ok"]
    demo = dict(operator="郑稽核", password="demo-pass")
    reports = [["report", "products", "--as-of", "2025-03-31"], ["report", "overdue", "--as-of", "2025-03-31"],
               ["report", "trial-balance", "--as-of", "2025-03-31"], ["report", "compensation"], ["report", "officers"]]
    first = [cc(db, *r, **demo).stdout for r in reports]
    again = json.loads(cc(db, "demo", "--db", str(db), "--json", *short, operator=None).stdout)
    assert again["products"] == out["products"] and again["overdue"] == out["overdue"]
    assert [cc(db, *r, **demo).stdout for r in reports] == first
    real = tmp_path / "real.db"
    cc(real, "init", operator="admin")
    refused = cc(real, "demo", "--db", str(real), check=False, operator=None)
    assert refused.returncode == 7 and "not a demo ledger" in refused.stderr


HEAVY = ("rich.table", "rich.progress", "openpyxl", "sqlite_utils", "dateutil.parser", "rich.console")


def test_cli_import_is_light():
    """The counter path pays for no heavy module at start-up."""
    code = "import sys, credit_coop.cli; print('\\n'.join(sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert not [m for m in HEAVY if m in loaded]


def test_draw_loads_no_heavy_module(tmp_path):
    """A whole drawdown, in-process in a fresh interpreter, loads nothing heavy."""
    from conftest import make_coop

    path = str(tmp_path / "c.db")
    coop = make_coop(path, on_file=True)  # the SQLite counter path (a server ledger loads its driver, by design)
    line = coop.granted("hnd")
    coop.close()
    code = (
        "import sys; from credit_coop.cli import main\n"
        "try:\n"
        f"    main(['--db', {path!r}, '--operator', '王柜员', 'draw', '--card', {line['card_no']!r}, '--id-number', {line['borrower']!r},"
        " '--amount', '1万', '--fingerprint-ok', '--on', '2025-03-02'])\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        f"print('LOADED', ' '.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    env = dict(os.environ, CREDIT_COOP_PASSWORD="pass-123")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert "loan note" in r.stdout
    assert r.stdout.strip().splitlines()[-1] == "LOADED"


def test_readme_walkthrough_runs_as_written(tmp_path):
    """Every command of the README walkthrough, as a new user would type it."""
    readme = (Path(__file__).parent.parent / "README.md").read_text("utf-8")
    section = readme.split("## Walkthrough", 1)[1]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    bindir = Path(script()).parent
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}")
    for var in ("CREDIT_COOP_OPERATOR", "CREDIT_COOP_PASSWORD", "CREDIT_COOP_NEW_PASSWORD", "CREDIT_COOP_DB",
                "CREDIT_COOP_LANG", "LC_ALL", "LC_MESSAGES"):
        env.pop(var, None)
    env.update(LANG="C.UTF-8", COLUMNS="100")  # a new user's terminal: the screens speak Chinese by default
    activate = tmp_path / ".venv" / "bin" / "activate"  # the walkthrough's first line activates the install
    activate.parent.mkdir(parents=True)
    activate.write_text(f'export PATH="{bindir}:$PATH"\n', "utf-8")
    env["PATH"] = os.environ["PATH"]
    r = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    shown = [line.removeprefix("#").strip() for line in block.splitlines() if line.startswith("#   ")]
    assert len(shown) >= 8
    for line in shown:  # every output line the README shows is what the command prints
        assert line in r.stdout, line
    assert "账簿无误" in r.stdout and "可用额度" in r.stdout and "available" not in r.stdout


def test_sample_data_regenerates_byte_for_byte(tmp_path):
    """sample_data/generate.py is deterministic: it rewrites the committed files exactly."""
    import importlib.util

    root = Path(__file__).parent.parent / "sample_data"
    spec = importlib.util.spec_from_file_location("generate", root / "generate.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    gen.write(tmp_path)
    for name in ("policy.toml", "operators.csv", "villages.csv", "borrowers.csv", "grants.csv", "draws.csv", "repayments.csv", "defaulters.csv"):
        assert (tmp_path / name).read_bytes() == (root / name).read_bytes(), name
