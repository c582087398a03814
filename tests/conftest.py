"""Shared fixtures: a fresh ledger with a full staff, and a helper that walks a
grant through the whole workflow via the core API."""

from datetime import date, timedelta
from itertools import count

import pytest

from credit_coop.core import borrowers, grants, operators
from credit_coop.core.auth import set_passphrase
from credit_coop.core.identity import make_id_number
from credit_coop.core.ledger import Ledger, create_ledger

D0 = date(2025, 3, 1)

STAFF = {
    "teller": "王柜员",
    "accountant": "赵会计",
    "officer": "张经理",
    "officer2": "刘经理",
    "reviewer": "钱审查",
    "reviewer2": "冯审查",
    "dept-head": "孙部长",
    "deputy-director": "周副主任",
    "committee": "吴贷审会",
    "auditor": "郑稽核",
}

_seq = count(1)
PASSPHRASE = "pass-123"
CHEAP = 2**10  # tests store passphrases with a low scrypt cost; production uses auth.COST


def new_id(born: date = date(1980, 5, 17)) -> str:
    return make_id_number("410523", born, next(_seq) % 1000)


class Coop:
    """A test cooperative: ``as_(role)`` gives a Ledger acting as that staff member."""

    def __init__(self, path: str):
        self.path = path
        self._open: list[Ledger] = []

    def as_(self, who: str) -> Ledger:
        name = STAFF.get(who, who)
        ledger = Ledger.open(self.path, name)
        self._open.append(ledger)
        return ledger

    def close(self) -> None:
        for ledger in self._open:
            ledger.close()

    def close_before(self, on: date) -> None:
        """The accountant runs the day-end through the day before ``on``: a repayment
        or reversal is dated on the open business date (core/business_day.py)."""
        from credit_coop.core.dayend import day_end

        day_end(self.as_("accountant"), on - timedelta(days=1), today=max(date.today(), on))

    def borrower(self, kinds=("farmer",), name="王大山", **kw) -> str:
        idn = new_id()
        borrowers.add_borrower(self.as_("officer"), id_number=idn, name=name, kinds=list(kinds), on=D0, **kw)
        return idn

    def granted(
        self,
        product="hnd",
        line="8万",
        term=36,
        borrower=None,
        on=D0,
        approver="dept-head",
        grade="优秀",
        surveyor="officer",
        reviewer="reviewer",
    ) -> dict:
        """Apply → (village review) → survey → review → approve; returns the approval result."""
        kinds = {"hnd": "farmer", "sdt": "business", "gxd": "public-employee", "pos": "pos-merchant"}
        if borrower is None:
            extra = {"settlement_account": "6221-0001"} if product == "pos" else {}
            borrower = self.borrower(kinds=(kinds.get(product, "business"),), **extra)
        g = self.apply_and_survey(product, line, term, borrower, on, grade, surveyor)
        grants.review(self.as_(reviewer), g, on=on)
        result = grants.approve(self.as_(approver), g, on=on)
        result["borrower"] = borrower
        return result

    def apply_and_survey(self, product, line, term, borrower, on=D0, grade="优秀", surveyor="officer", applied=None) -> str:
        """惠农贷: applied 8 days before ``on``, posted for 7 days, village-reviewed and surveyed on ``on``."""
        officer = self.as_(surveyor)
        village = officer.policy.product(product)["village_review"]
        applied_on = on - timedelta(days=8) if village else on
        g = grants.apply_grant(officer, borrower=borrower, product=product, amount=applied or line, on=applied_on)["grant_no"]
        if village:
            grants.village_review(officer, g, grade=grade, posted_from=on - timedelta(days=7),
                                  posted_to=on - timedelta(days=1), on=on)
        grants.survey(officer, g, line=line, term_months=term, on=on)
        return g


def peer_tool(*names: str) -> str:
    """The path of an outside checker (hledger, bean-check, LibreOffice). Missing on a
    developer's machine: the test skips and says so. Missing under CI: the test fails,
    because a peer check that cannot run proves nothing (.ci/run installs them)."""
    import os
    import shutil
    import sys

    for name in names:
        found = shutil.which(name) or shutil.which(name, path=os.path.dirname(sys.executable))
        if found:
            return found
    message = f"{' / '.join(names)} is not installed; this peer check cannot run"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI must install it: see .ci/run)")
    pytest.skip(message)


BACKEND = {"name": "sqlite", "databases": []}  # set from --backend (pytest_configure)


def make_coop(path: str, on: date = D0, *, passphrases: bool = True, policy_file: str | None = None,
              on_file: bool = False) -> Coop:
    """The one factory for a test ledger: created on ``on`` by 李主任 (admin) with the whole ``STAFF``,
    each with ``PASSPHRASE`` (cheap scrypt) unless ``passphrases`` is False. With ``--backend postgresql``
    a file path stands for a fresh database on the test server (``coop.path`` is its URL), unless
    ``on_file`` (a test about the file itself)."""
    import os

    if BACKEND["name"] == "postgresql" and not on_file and not _empty_database(path):
        path = _new_database(os.environ["CREDIT_COOP_TEST_PG"])
        BACKEND["databases"].append(path)
    create_ledger(path, operator="李主任", on=on, policy_file=policy_file)
    with Ledger.open(path, "李主任") as admin:
        if passphrases:
            set_passphrase(admin, "李主任", PASSPHRASE, cost=CHEAP)
        for key, name in STAFF.items():
            kw = {"passphrase": PASSPHRASE, "cost": CHEAP} if passphrases else {}
            operators.add_operator(admin, name, key.rstrip("2"), on, **kw)
    return Coop(path)


def pytest_addoption(parser):
    parser.addoption("--backend", choices=("sqlite", "postgresql"), default="sqlite",
                     help="run the ledger tests on a SQLite file (default) or on PostgreSQL: a fresh database per test "
                          "on the server named by CREDIT_COOP_TEST_PG (postgresql://USER@HOST:PORT/DB, a role that may "
                          "create databases)")


def pytest_sessionfinish(session):
    for url in BACKEND["databases"]:
        try:
            _drop_database(url)
        except Exception:
            pass


def pytest_configure(config):
    BACKEND["name"] = config.getoption("--backend")
    config.addinivalue_line("markers", "sqlite_only(reason): the test is about the SQLite file itself; not run on PostgreSQL")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--backend") != "postgresql":
        return
    import os

    if not os.environ.get("CREDIT_COOP_TEST_PG"):
        raise pytest.UsageError("--backend postgresql needs CREDIT_COOP_TEST_PG (a server URL); .ci/run starts one")
    for item in items:
        mark = item.get_closest_marker("sqlite_only")
        if mark is not None:
            item.add_marker(pytest.mark.skip(reason=f"SQLite only: {mark.kwargs.get('reason') or mark.args[0]}"))


def _new_database(server: str) -> str:
    import uuid

    import psycopg

    name = f"cc_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return server.rsplit("/", 1)[0] + "/" + name


def _empty_database(location: str) -> bool:
    """A server database that holds nothing yet (a fixture's fresh one)."""
    if not location.startswith("postgresql://"):
        return False
    import psycopg

    with psycopg.connect(location) as db:
        return not db.execute("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'").fetchone()[0]


def _drop_database(url: str) -> None:
    import os

    import psycopg

    with psycopg.connect(os.environ["CREDIT_COOP_TEST_PG"], autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[-1]} WITH (FORCE)")


@pytest.fixture
def server_database():
    """A fresh, empty database on the test server (CREDIT_COOP_TEST_PG), for the tests of the server itself.
    Without a server the test skips on a developer's machine and fails under CI (.ci/run starts one)."""
    import os

    server = os.environ.get("CREDIT_COOP_TEST_PG")
    if not server:
        message = "no PostgreSQL server (CREDIT_COOP_TEST_PG) for this test"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must start one: see .ci/run)")
        pytest.skip(message)
    url = _new_database(server)
    yield url
    _drop_database(url)


@pytest.fixture
def ledger_location(request, tmp_path):
    """Where a test's ledger lives: a file under ``tmp_path``, or with ``--backend postgresql`` a fresh
    database on the test server (dropped afterwards)."""
    if request.config.getoption("--backend") != "postgresql":
        yield str(tmp_path / "coop.db")
        return
    import os

    url = _new_database(os.environ["CREDIT_COOP_TEST_PG"])
    yield url
    _drop_database(url)


@pytest.fixture
def ledger_path(ledger_location) -> str:
    make_coop(ledger_location)
    return ledger_location


def far_dates(ledger: Ledger) -> Ledger:
    """Let ``ledger`` post years ahead of the open business date and the calendar
    (tests of a line's last valid day in 2028)."""
    from credit_coop.core.policy import Policy

    ledger.policy = Policy(dict(ledger.policy.data, business_day={"max_days_after_open": 10_000,
                                                                   "max_days_after_calendar": 10_000}))
    return ledger


@pytest.fixture
def coop(ledger_path):
    c = Coop(ledger_path)
    yield c
    c.close()


@pytest.fixture(autouse=True)
def no_resident(monkeypatch):
    """Commands run by the tests' own processes, never by a resident process a developer left running
    (tests/test_resident.py starts its own)."""
    monkeypatch.setenv("CREDIT_COOP_RESIDENT", "off")


@pytest.fixture(autouse=True)
def english_screens(monkeypatch):
    """Most tests read the English screens (``--lang en``); tests of the Chinese screens (the default)
    set ``CREDIT_COOP_LANG=zh`` or pass ``--lang zh`` themselves (tests/test_language.py)."""
    from credit_coop.core import labels

    monkeypatch.setenv("CREDIT_COOP_LANG", "en")
    monkeypatch.setattr(labels, "_current", None)


class RawLedger:
    """Direct SQL on a test ledger's database, either backend, as someone holding the file or a DBA's login
    would use it (tests of the guards and of what ``verify`` finds). Statements are written as for SQLite."""

    def __init__(self, location: str):
        self.pg = location.startswith("postgresql://")
        if self.pg:
            import psycopg

            self.db = psycopg.connect(location)
            self.IntegrityError = (psycopg.errors.RaiseException, psycopg.IntegrityError)
        else:
            import sqlite3

            self.db = sqlite3.connect(location)
            self.IntegrityError = sqlite3.IntegrityError

    def execute(self, sql: str, params=()):
        if self.pg:
            from credit_coop.store.postgres import translate

            return self.db.execute(translate(sql), params)
        return self.db.execute(sql, params)

    def unguard(self, table: str, verb: str = "update") -> None:
        """Drop an append-only guard, as a forger would."""
        self.execute(f"DROP TRIGGER {table}_no_{verb}" + (f" ON {table}" if self.pg else ""))

    def rows(self, table: str) -> list:
        return self.execute(f"SELECT * FROM {table} ORDER BY {'1' if self.pg else 'rowid'}").fetchall()  # (the key)

    def commit(self) -> None:
        self.db.commit()

    def rollback(self) -> None:
        self.db.rollback()

    def close(self) -> None:
        self.db.close()


def writes_held(location: str):
    """Another writer holding the ledger (a long posting elsewhere), for as long as the block runs."""
    from contextlib import contextmanager

    @contextmanager
    def held():
        if location.startswith("postgresql://"):
            import psycopg

            from credit_coop.store.postgres import LEDGER_LOCK

            conn = psycopg.connect(location, autocommit=True)
            conn.execute("BEGIN")
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (LEDGER_LOCK,))
        else:
            import sqlite3

            conn = sqlite3.connect(location, isolation_level=None)
            conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()

    return held()
