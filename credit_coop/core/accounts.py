"""Chart of accounts (会计科目). Codes follow the Chinese financial-enterprise
chart where one exists (1001 库存现金, 1132 应收利息, 1303 贷款, 6011 利息收入).

Sub-accounts are written ``CODE.SUFFIX``: loans receivable are kept per
product (``1303.hnd``), interest receivable per stage.
"""

CASH = "1001"                       # 库存现金, kept per branch counter: 1001.<branch> (issue 13)
HEAD_OFFICE = "HO"                  # the union's own till: 1001.HO, for cash taken by union-wide staff
LOANS = "1303"
INTEREST_ACCRUED = "1132.accrued"  # kept per product (1132.accrued.<product>): the day-end's accruals, summed (issue 11)
INTEREST_DUE = "1132.due"          # per loan note: interest that fell due (settlement day, maturity)
PENALTY_DUE = "1132.penalty"        # per loan note: penalty and compound interest that became a claim
PENALTY_ACCRUED = "1132.penalty.accrued"  # per product: penalty accrued since the last settlement (issue 11)
INTEREST_INCOME = "6011.interest"
PENALTY_INCOME = "6011.penalty"
PAY_EXPENSE = "6601.pay"            # 业务及管理费-绩效工资
PAY_PAYABLE = "2211.pay"            # 应付职工薪酬-绩效工资, per officer
RISK_FUND = "2241.riskfund"         # 其他应付款-风险补偿金, per officer
OFFICER_DEBT = "1221.officer"       # 其他应收款-客户经理赔偿欠款, per officer

# The transaction kinds the day-end posts (and a back-dated correction redoes): never reversed by hand,
# left out when the day-end replays the counter's postings.
DAY_END_KINDS = ("day-end", "day-end-reversal", "compensation", "compensation-reversal")

# name_zh, name_en, type
CHART: dict[str, tuple[str, str, str]] = {
    CASH: ("库存现金", "Cash on hand", "asset"),
    LOANS: ("贷款", "Loans", "asset"),
    INTEREST_ACCRUED: ("应收利息-已计提", "Interest receivable:accrued", "asset"),
    INTEREST_DUE: ("应收利息-到期", "Interest receivable:due", "asset"),
    PENALTY_DUE: ("应收利息-罚息复利", "Interest receivable:penalty", "asset"),
    PENALTY_ACCRUED: ("应收利息-罚息复利已计提", "Interest receivable:penalty accrued", "asset"),
    INTEREST_INCOME: ("利息收入-贷款利息", "Interest income:loans", "income"),
    PENALTY_INCOME: ("利息收入-罚息复利", "Interest income:penalty", "income"),
    PAY_EXPENSE: ("业务及管理费-绩效工资", "Expenses:performance pay", "expense"),
    PAY_PAYABLE: ("应付职工薪酬-绩效工资", "Liabilities:performance pay payable", "liability"),
    RISK_FUND: ("其他应付款-风险补偿金", "Liabilities:officers' risk compensation funds", "liability"),
    OFFICER_DEBT: ("其他应收款-客户经理赔偿欠款", "Receivable:officers' compensation shortfall", "asset"),
}

# Accounts whose per-note balance can never be below zero (verify checks them): the note's claims.
# (The accrued accounts are kept per product; a note's lines on them are only what left the pool.)
NON_NEGATIVE_PER_NOTE = (LOANS + ".", INTEREST_DUE, PENALTY_DUE)


def cash_account(branch: str | None) -> str:
    """Cash at a branch counter, e.g. ``1001.B01`` (the head office's when the operator has no branch)."""
    return f"{CASH}.{branch or HEAD_OFFICE}"


def loans_account(product_code: str) -> str:
    """Loans receivable of one product, e.g. ``1303.hnd``."""
    return f"{LOANS}.{product_code}"


def accrued_account(product_code: str) -> str:
    """Accrued interest receivable of one product, e.g. ``1132.accrued.hnd`` (the day-end's pool)."""
    return f"{INTEREST_ACCRUED}.{product_code}"


def penalty_accrued_account(product_code: str) -> str:
    """Accrued penalty receivable of one product, e.g. ``1132.penalty.accrued.hnd``."""
    return f"{PENALTY_ACCRUED}.{product_code}"


def component_account(component: str, product_code: str) -> str:
    """The receivable account behind a repayment component (SPEC §4 order); a penalty not yet a
    claim is taken from :func:`penalty_accrued_account` (see :func:`receivable_credits`)."""
    return {
        "principal": loans_account(product_code),
        "interest_accrued": accrued_account(product_code),
        "interest_due": INTEREST_DUE,
        "penalty": PENALTY_DUE,
    }[component]


def receivable_credits(component: str, take: int, product_code: str, penalty_claim: int = 0) -> list[tuple[str, int]]:
    """(account, fen) credited when ``take`` of a note's ``component`` is paid or compensated. Penalty is
    taken from the note's claim (``penalty_claim`` on 1132.penalty) first, then from what is still
    accrued (1132.penalty.accrued.<product>) (issue 11)."""
    if component != "penalty":
        return [(component_account(component, product_code), take)]
    claim = min(take, max(penalty_claim, 0))
    return [(a, f) for a, f in ((PENALTY_DUE, claim), (penalty_accrued_account(product_code), take - claim)) if f]


def component_of(account: str) -> str | None:
    """Which component of a note a journal account holds (``None``: not a note receivable)."""
    if account.startswith(LOANS + "."):
        return "principal"
    if account == INTEREST_ACCRUED or account.startswith(INTEREST_ACCRUED + "."):
        return "interest_accrued"
    if account == INTEREST_DUE:
        return "interest_due"
    if account == PENALTY_DUE or account.startswith(PENALTY_ACCRUED):
        return "penalty"
    return None


def describe(account: str, products: dict | None = None, lang: str = "zh") -> str:
    """Human name of an account code (``1303.hnd`` → 贷款-惠农贷, ``6011.interest.hnd`` → 利息收入-贷款利息-惠农贷)."""
    parts = account.split(".")
    if parts[0] == LOANS and len(parts) > 1:
        product = (products or {}).get(parts[1], {}).get("name", parts[1])
        return f"贷款-{product}" if lang == "zh" else f"Loans:{parts[1]}"
    for n in range(len(parts), 0, -1):
        entry = CHART.get(".".join(parts[:n]))
        if entry:
            name = entry[0] if lang == "zh" else entry[1]
            rest = parts[n:]
            if rest and lang == "zh":
                rest = [(products or {}).get(p, {}).get("name", p) for p in rest]
            return "-".join([name, *rest]) if lang == "zh" else ":".join([name, *rest])
    return account
