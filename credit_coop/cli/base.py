"""What every command shares: global options, opening the ledger, mapping
domain errors to exit codes (the one place), and output (``--json`` or a
human rendering). Rich is imported only when a table is drawn."""

import functools
import inspect
import json
import sys
from dataclasses import dataclass, field
from typing import Annotated, Any, Callable, Optional

import typer

from credit_coop.core.errors import LedgerError

# The environment is read in one place (``Globals.settle``), after both positions of an
# option: whatever is typed on the command line wins over the environment (issue 16).
DbOpt = Annotated[
    Optional[str],
    typer.Option("--db", metavar="PATH",
                 help="Ledger file [env: CREDIT_COOP_DB; default: ~/.local/share/credit-coop/ledger.db]"),
]
OperatorOpt = Annotated[
    Optional[str],
    typer.Option("--operator", metavar="NAME", help="Who is acting [env: CREDIT_COOP_OPERATOR]."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
LangOpt = Annotated[
    Optional[str],
    typer.Option("--lang", metavar="zh|en", help="Screen language [env: CREDIT_COOP_LANG, else LANG; default: zh 中文]."),
]
CorrectionOpt = Annotated[
    Optional[str],
    typer.Option("--correction", metavar="REASON",
                 help="Back-dated correction: post on a closed --on date (accountant); that line's interest is recomputed since."),
]
AsOfOpt = Annotated[
    Optional[str],
    typer.Option("--as-of", metavar="YYYY-MM-DD", help="As of this date [default: today; overdue: the last closed day]."),
]
OnOpt = Annotated[
    Optional[str],
    typer.Option("--on", metavar="YYYY-MM-DD", help="Business date (营业日期) [default: today]."),
]
PostingOnOpt = Annotated[
    Optional[str],
    typer.Option("--on", metavar="YYYY-MM-DD",
                 help="Business date (营业日期) [default: the open business date, the first day not closed]."),
]


def new_app(help: str, **kw) -> typer.Typer:
    return typer.Typer(
        help=help,
        no_args_is_help=True,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        add_completion=False,
        **kw,
    )


def new_group(help: str) -> typer.Typer:
    """A command group that stays a group even with one command (``line show``, ``policy show``)."""
    group = new_app(help)

    @group.callback()
    def _group() -> None:
        pass

    return group


@dataclass
class Globals:
    db: Optional[str] = None
    operator: Optional[str] = None
    json: bool = False
    lang: Optional[str] = None
    command: str = ""
    detail: str = ""
    opened: list = field(default_factory=list)
    error: str = ""

    def settle(self, db: Optional[str], operator: Optional[str], json_output: bool, lang: Optional[str] = None) -> None:
        """Options after the command name, else before it, else the environment."""
        import os

        from credit_coop.core import labels

        self.db = db or self.db or os.environ.get("CREDIT_COOP_DB") or None
        self.operator = operator or self.operator or os.environ.get("CREDIT_COOP_OPERATOR") or None
        self.json = json_output or self.json
        self.lang = labels.set_language(lang or self.lang)


CURRENT = Globals()


def passphrase(prompt: str = "passphrase: ", confirm: bool = False, env: str = "CREDIT_COOP_PASSWORD") -> Optional[str]:
    """From the environment, else a hidden prompt on a terminal, else None."""
    import os

    value = os.environ.get(env)
    if value is not None:
        return value
    if not sys.stdin.isatty():
        return None
    import getpass

    value = getpass.getpass(prompt)
    if confirm and getpass.getpass("again: ") != value:
        from credit_coop.core.errors import InvalidInput

        raise InvalidInput("the two passphrases differ")
    return value


def session_path(ledger) -> str:
    """This user's session file for the open ledger's operator (found by the ledger's id, so a
    relative --db, a symlink or a moved file find the same session)."""
    from credit_coop.core.auth import session_file

    return session_file(ledger.store.get_meta("ledger_id") or ledger.store.path, ledger.operator or "")


def session_token(ledger) -> Optional[str]:
    try:
        with open(session_path(ledger), encoding="utf-8") as f:
            return f.read()
    except OSError:
        return None


class open_ledger:
    """``with open_ledger() as ledger``: open, authenticate, check the role matrix. The command's
    audit row rides in its first committed write (same transaction as a posting); the command
    wrapper writes it otherwise, with the command's real outcome, and closes the ledger."""

    def __init__(self, check: bool = True):
        self.check = check
        self.ledger = None

    def __enter__(self):
        import os

        from credit_coop.core import auth, operators
        from credit_coop.core.ledger import Ledger

        ledger = Ledger.open(CURRENT.db, CURRENT.operator)
        CURRENT.opened.append(ledger)
        if not CURRENT.json:
            from credit_coop.core.labels import register_products

            register_products(ledger.policy.products)  # a refusal from here on is logged by the wrapper, and it closes the ledger
        secret = os.environ.get("CREDIT_COOP_PASSWORD")
        token = None if secret is not None else session_token(ledger)
        if secret is None and token is None:
            secret = passphrase(f"passphrase for {ledger.operator}: ") if ledger.operator else None
        me = auth.authenticate(ledger, secret, token)
        if self.check:
            operators.check_command(ledger, CURRENT.command, me)
        ledger.store.pending_audit = {"operator": ledger.operator, "action": CURRENT.command, "detail": CURRENT.detail}
        self.ledger = ledger
        return ledger

    def __exit__(self, kind, exc, tb) -> None:
        pass  # the wrapper (``command``) logs the outcome and closes


def _audit_spool(ledger) -> str:
    """Audit rows a busy ledger could not take wait here (this user's, mode 600) for the next command."""
    import os

    base = os.environ.get("XDG_RUNTIME_DIR") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "credit-coop", f"audit-spool-{ledger.store.get_meta('ledger_id') or 'ledger'}.jsonl")


def _finish(outcome: str) -> None:
    """Write each opened ledger's audit row (unless it went in with the posting) and close it."""
    import os

    while CURRENT.opened:
        ledger = CURRENT.opened.pop()
        store = ledger.store
        try:
            spool = _audit_spool(ledger)
            rows = []
            if os.path.exists(spool):
                with open(spool, encoding="utf-8") as f:
                    rows = [json.loads(line) for line in f if line.strip()]
            mine = None
            if store.pending_audit is not None or outcome != "ok":
                mine = {**(store.pending_audit or {"operator": ledger.operator, "action": CURRENT.command,
                                                   "detail": CURRENT.detail}), "result": outcome}
            store.pending_audit = None  # written below, once, with the real outcome
            try:
                for row in rows + ([mine] if mine else []):
                    store.audit(row["operator"], row["action"], row["detail"], row["result"], at=row.get("at"), wait_ms=300)
                if rows:
                    os.remove(spool)
            except Exception as e:  # a busy or unwritable ledger: the row waits in the spool
                from credit_coop.store import as_ledger_error

                if not isinstance(e, LedgerError) and as_ledger_error(e) is None:
                    raise
                if mine:  # kept for the next command; the teller is not kept waiting for the log
                    from datetime import datetime, timezone

                    os.makedirs(os.path.dirname(spool), mode=0o700, exist_ok=True)
                    fd = os.open(spool, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                    with os.fdopen(fd, "a", encoding="utf-8") as f:
                        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
                        f.write(json.dumps({**mine, "at": stamp}, ensure_ascii=False) + "\n")
        except OSError:
            pass  # a read-only or full disk: the command's own outcome stands
        finally:
            ledger.close()


def _one_line(text: str) -> str:
    return "".join(ch if ch.isprintable() or ch == " " else repr(ch)[1:-1] for ch in str(text))


def fail(code: int, message: str, result: Optional[dict] = None) -> None:
    """One line on stderr and the exit code; under --json, exactly one JSON document on stdout
    (``result``, when the refusal carries one, with ``ok: false`` and the error)."""
    from credit_coop.core.labels import language, translate

    message = _one_line(message)  # what a person typed (a name, a unit) may hold line breaks: shown escaped
    shown = _one_line(translate(message))
    print(f"错误：{shown}" if language() == "zh" else f"error: {message}", file=sys.stderr)
    CURRENT.error = message
    if CURRENT.json:  # programs read the English message; ``message`` is what the person saw
        print(json.dumps({**(result or {}), "ok": False, "error": message, "message": shown, "exit_code": code},
                         ensure_ascii=False, indent=2 if result else None, default=str))
    raise typer.Exit(code)


def _not_utf8(values: dict) -> Optional[str]:
    """The option whose text came in as bytes that are not UTF-8 (``core.text.not_utf8``)."""
    from credit_coop.core.text import not_utf8

    for name, value in values.items():
        for text in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(text, str) and not_utf8(text):
                return "--" + name.replace("_", "-")
    return None


def command(app: typer.Typer, name: Optional[str] = None, **kw) -> Callable:
    """Register ``fn`` as a command that also accepts --db/--operator/--json after
    its name, and turns domain errors into one line and an exit code."""

    def deco(fn: Callable) -> Callable:
        sig = inspect.signature(fn)
        extra = [
            inspect.Parameter("global_ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context),
            inspect.Parameter("global_db", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=DbOpt),
            inspect.Parameter("global_operator", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=OperatorOpt),
            inspect.Parameter("global_json", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=JsonOpt),
            inspect.Parameter("global_lang", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=LangOpt),
        ]

        @functools.wraps(fn)
        def wrapper(*args: Any, global_ctx=None, global_db=None, global_operator=None, global_json=False, global_lang=None,
                    **kwargs: Any):
            CURRENT.command = global_ctx.command_path.split(" ", 1)[1] if " " in global_ctx.command_path else global_ctx.command_path
            CURRENT.detail = json.dumps({k: v for k, v in kwargs.items() if v not in (None, False, [])}, ensure_ascii=False,
                                        default=str).encode("utf-8", "backslashreplace").decode("utf-8")
            CURRENT.error, outcome = "", "ok"
            try:
                try:
                    CURRENT.settle(global_db, global_operator, global_json, global_lang)
                    garbled = _not_utf8({**kwargs, "operator": CURRENT.operator})
                    if garbled:
                        from credit_coop.core.errors import InvalidInput

                        raise InvalidInput(f"what was typed for {garbled} is not UTF-8 text (is the terminal set to GBK?); "
                                           "set it to UTF-8 and type it again")
                    return fn(*args, **kwargs)
                except LedgerError as e:
                    fail(e.exit_code, str(e))
                except OSError as e:  # a full disk or a read-only folder while writing a file
                    fail(9, f"cannot write: {e.strerror or e}; nothing was changed")
                except typer.Exit:
                    raise
                except Exception as e:  # the store says which database errors a person can act on
                    from credit_coop.store import as_ledger_error

                    known = as_ledger_error(e)
                    if known is None:
                        raise
                    fail(known.exit_code, str(known))
            except typer.Exit as e:
                if e.exit_code:
                    outcome = f"refused ({e.exit_code}): {CURRENT.error}" if CURRENT.error else f"exit {e.exit_code}"
                raise
            except BaseException as e:
                outcome = f"failed: {type(e).__name__}"
                raise
            finally:
                _finish(outcome)

        wrapper.__signature__ = sig.replace(parameters=[*sig.parameters.values(), *extra])
        wrapper.__annotations__ = {**fn.__annotations__, "global_ctx": typer.Context, "global_db": DbOpt,
                                   "global_operator": OperatorOpt, "global_json": JsonOpt, "global_lang": LangOpt}
        del wrapper.__wrapped__
        app.command(name, **kw)(wrapper)
        return fn

    return deco


# -- output ------------------------------------------------------------------
def emit(result: Any, human: Callable[[Any], None], key: str = "items") -> None:
    """Print ``result`` as JSON under --json, else with the ``human`` renderer. JSON has one shape: an
    object with ``ok`` (a list comes under ``key``), amounts in fen under ``_fen`` keys (issue 17)."""
    if CURRENT.json:
        doc = {"ok": True, **result} if isinstance(result, dict) else {"ok": True, key: result}
        print(json.dumps(doc, ensure_ascii=False, indent=2, default=str))
    else:
        human(result)


def say(text: str) -> None:
    """Print a sentence for a person, in the language in use (core/labels.py)."""
    from credit_coop.core.labels import translate

    print(translate(text))


def yuan(fen: Optional[int]) -> str:
    from credit_coop.core.money import format_yuan

    return "" if fen is None else format_yuan(fen)


def print_correction(r: dict) -> None:
    """The lines a back-dated correction adds to a receipt."""
    c = r.get("correction")
    if not c:
        return
    if not c["days_recomputed"]:
        say(f"  back-dated correction ({c['reason']}): no loan interest depended on it")
        return
    say(f"  back-dated correction ({c['reason']}): {c['days_recomputed']} closed day(s) {c['from']} .. {c['through']} recomputed")
    say(f"    interest ¥{yuan(c['interest_before_fen'])} → ¥{yuan(c['interest_after_fen'])}   "
          f"penalty ¥{yuan(c['penalty_before_fen'])} → ¥{yuan(c['penalty_after_fen'])}")
    if c["compensations_reversed"]:
        say(f"    compensation reversed: {', '.join(c['compensations_reversed'])}")
    for case in c["compensations_made"]:
        say(f"    compensated afresh: {case['note_no']} ¥{yuan(case['amount_fen'])} by {case['officer']}")


def wan(fen: Optional[int]) -> str:
    """An amount in 万元 for summary tables (the figure only; the header says 万)."""
    from credit_coop.core.money import format_wan

    return "" if fen is None else format_wan(fen).removesuffix("万")


def _console():
    """A terminal keeps its width; piped output takes COLUMNS, else 120."""
    import os

    from rich.console import Console

    if sys.stdout.isatty():
        return Console()
    try:
        width = int(os.environ.get("COLUMNS", "120"))
    except ValueError:
        width = 120
    return Console(width=max(width, 40))


_UNBREAKABLE = __import__("re").compile(r"^[-+¥]?[\d,.:%/ -]+$|^[A-Z]{2,3}\d{6,}$|^\d{6}\*+\d{3}[\dX]$")  # amounts, dates, numbers, masked IDs
_SHORT = 12  # a value this many cells wide or less (a name, a status, a product) is never cut in two


def print_table(title: Optional[str], columns: list[str], rows: list[list[Any]], right: tuple[str, ...] = ()) -> None:
    """A table whose amounts, numbers and dates never wrap. When it cannot fit the terminal so, each row
    is printed as a short record instead (the narrow layout), so nothing is ever cut in two."""
    from rich.cells import cell_len
    from rich.table import Table

    from credit_coop.core.labels import CODED_COLUMNS, cell, translate

    coded = [col in CODED_COLUMNS for col in columns]
    cells = [["" if v is None else cell(v) if c else str(v) for v, c in zip(row, coded)] for row in rows]
    right = tuple(translate(col) for col in right)
    title = translate(title) if title else title
    columns = [translate(col) for col in columns]
    console = _console()
    keep = [col in right or all(not c or cell_len(c) <= _SHORT or _UNBREAKABLE.match(c) for c in (r[i] for r in cells))
            for i, col in enumerate(columns)]
    need = sum(max([cell_len(col) if k else min(cell_len(col), 8)]
                   + [cell_len(r[i]) if k else min(cell_len(r[i]), 8) for r in cells]) + 3
               for i, (col, k) in enumerate(zip(columns, keep))) + 1
    if need > console.width and len(columns) > 2:
        if title:
            console.print(title, style="bold", highlight=False)
        for r in cells:
            head, rest = r[0], [f"{c}: {v}" for c, v in zip(columns[1:], r[1:]) if v != ""]
            console.print(f"{columns[0]} {head}", highlight=False, soft_wrap=False)
            line = "  "
            for part in rest:  # pack "name: value" pairs into lines, never breaking a pair
                if cell_len(line) + cell_len(part) + 3 > console.width and line.strip():
                    console.print(line.rstrip(), highlight=False)
                    line = "  "
                line += part + "   "
            if line.strip():
                console.print(line.rstrip(), highlight=False)
        return
    table = Table(title=title, show_lines=False)
    for col, k in zip(columns, keep):
        table.add_column(col, justify="right" if col in right else "left", overflow="fold", no_wrap=k)
    for row in cells:
        table.add_row(*row)
    console.print(table)


def print_fields(title: Optional[str], pairs: list[tuple[str, Any]]) -> None:
    from rich.table import Table

    from credit_coop.core.labels import CODED_COLUMNS, cell, translate

    table = Table(title=translate(title) if title else title, show_header=False, box=None, padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for k, v in pairs:
        table.add_row(translate(k), "" if v is None else cell(v) if k in CODED_COLUMNS else str(v))
    _console().print(table)


def progress_bar(label: str) -> Optional[Callable[[int, int], None]]:
    """A rich progress bar on a terminal, as a ``(done, total)`` callback; None when piped or under --json."""
    if CURRENT.json or not sys.stderr.isatty():
        return None
    from rich.progress import Progress

    bar = Progress(transient=True)
    task = None

    def advance(done: int, total: int) -> None:
        nonlocal task
        if task is None:
            bar.start()
            task = bar.add_task(label, total=total)
        bar.update(task, completed=done)
        if done >= total:
            bar.stop()

    return advance
