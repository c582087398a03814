"""The policy in force: products, ceilings, terms, tiers, pay rules (SPEC §2–§7).

A policy file (TOML, see ``default_policy.toml``) is read once at ``init``,
checked, normalised (amounts to fen) and stored in the ledger as JSON, so the
counter commands never parse TOML and the rules a ledger was built under
travel with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from credit_coop.core.errors import InvalidInput, NotFound
from credit_coop.core.money import parse_amount

BORROWER_KINDS = ("farmer", "business", "public-employee", "pos-merchant")
SECURITY_KINDS = ("credit", "guaranteed")
APPROVAL_ROLES_DEFAULT = ("dept-head", "deputy-director", "committee")
# how far a business date may run ahead before it is taken for a typo (business_day.py)
MAX_SESSION_HOURS = 12  # one shift: `login --hours` is capped by auth.max_session_hours
BUSINESS_DAY_DEFAULTS = {"max_days_after_open": 31, "max_days_after_calendar": 1}


def default_policy_text() -> str:
    from importlib import resources

    return resources.files("credit_coop.core").joinpath("default_policy.toml").read_text("utf-8")


def load_policy_file(path: str | None) -> "Policy":
    """Read, check and normalise a TOML policy file (the shipped one when ``path`` is None)."""
    import tomllib
    from pathlib import Path

    if path is None:
        text = default_policy_text()
        where = "the shipped policy"
    else:
        try:
            text = Path(path).read_text("utf-8")
        except OSError as e:
            raise InvalidInput(f"cannot read policy file {path}: {e.strerror}") from None
        where = f"policy file {path}"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InvalidInput(f"{where} is not valid TOML: {e}") from None
    try:
        return Policy(normalise(raw))
    except InvalidInput as e:
        raise InvalidInput(f"{where}: {e}") from None
    except (KeyError, TypeError, ValueError) as e:
        raise InvalidInput(f"{where}: missing or malformed setting {e}") from None


def _amount(value, what: str) -> int:
    return parse_amount(str(value), what=what)


def _percent(value, what: str) -> str:
    """Percentages stay exact decimal strings ("6.5"); checked to be numbers 0–100."""
    from decimal import Decimal, InvalidOperation

    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise InvalidInput(f"{what} must be a number, got {value!r}") from None
    if not d.is_finite() or d < 0 or d > 100:
        raise InvalidInput(f"{what} must be between 0 and 100, got {value}")
    return str(d)


def normalise(raw: dict) -> dict:
    """Check a parsed policy file and return the stored form (amounts in fen)."""
    out: dict = {}
    coop = raw.get("cooperative", {})
    out["cooperative"] = {"name": str(coop.get("name", "信用社")), "short_name": str(coop.get("short_name", "")),
                          "time_zone": str(coop.get("time_zone", "Asia/Shanghai"))}  # for times people read
    out["thresholds"] = {"inclusive": bool(raw.get("thresholds", {}).get("inclusive", True))}

    appr = raw["approval"]
    basis = appr.get("exposure_basis", "borrower_total")
    if basis not in ("borrower_total", "this_grant"):
        raise InvalidInput("approval.exposure_basis must be borrower_total or this_grant")
    tiers = []
    for i, t in enumerate(appr["tiers"]):
        last = i == len(appr["tiers"]) - 1
        if ("up_to" in t) == last:
            raise InvalidInput("every approval tier but the last needs up_to; the last has none")
        tiers.append({"role": str(t["role"]), "up_to": None if last else _amount(t["up_to"], "approval tier up_to")})
    limits = [t["up_to"] for t in tiers[:-1]]
    if limits != sorted(set(limits)):
        raise InvalidInput("approval tiers must be in ascending order of up_to")
    out["approval"] = {"exposure_basis": basis, "tiers": tiers}

    vr = raw.get("village_review", {})
    caps = {str(g): _amount(a, f"grade cap {g}") for g, a in vr.get("grade_caps", {}).items()}
    posting_days = int(vr.get("posting_days", 7))
    if posting_days < 1:
        raise InvalidInput("village_review.posting_days must be at least 1")
    out["village_review"] = {"posting_days": posting_days, "grade_caps": caps}

    dd = raw.get("drawdown", {})
    out["drawdown"] = {
        "fingerprint_required": bool(dd.get("fingerprint_required", True)),
        "maturity_within_line": bool(dd.get("maturity_within_line", False)),
        "refuse_after_compensation": bool(dd.get("refuse_after_compensation", True)),
        "refuse_when_past_due": bool(dd.get("refuse_when_past_due", True)),
    }
    out["grants"] = {"survey_above_applied": bool(raw.get("grants", {}).get("survey_above_applied", False))}
    org = raw.get("organisation", {})
    out["organisation"] = {"officer_any_department": bool(org.get("officer_any_department", False)),
                           "any_branch_service": bool(org.get("any_branch_service", False))}
    hours = raw.get("auth", {}).get("max_session_hours", MAX_SESSION_HOURS)
    if not isinstance(hours, int) or isinstance(hours, bool) or not 1 <= hours <= 24:
        raise InvalidInput(f"auth.max_session_hours must be a whole number of hours from 1 to 24, got {hours!r}")
    out["auth"] = {"max_session_hours": hours}
    bd = raw.get("business_day", {})
    out["business_day"] = {}
    for key, default in BUSINESS_DAY_DEFAULTS.items():
        value = bd.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 366:
            raise InvalidInput(f"business_day.{key} must be a whole number of days from 0 to 366, got {value!r}")
        out["business_day"][key] = value
    order = list(raw.get("repayment", {}).get("order", ["penalty", "interest_due", "interest_accrued", "principal"]))
    if sorted(order) != sorted(["penalty", "interest_due", "interest_accrued", "principal"]):
        raise InvalidInput("repayment.order must name penalty, interest_due, interest_accrued and principal once each")
    out["repayment"] = {"order": order}

    it = raw.get("interest", {})
    if it.get("settlement", "monthly") not in ("monthly", "quarterly"):
        raise InvalidInput("interest.settlement must be monthly or quarterly")
    day = int(it.get("settlement_day", 20))
    if not 1 <= day <= 28:
        raise InvalidInput("interest.settlement_day must be between 1 and 28")
    out["interest"] = {
        "day_count_basis": int(it.get("day_count_basis", 360)),
        "settlement": it.get("settlement", "monthly"),
        "settlement_day": day,
        "penalty_uplift_percent": _percent(it.get("penalty_uplift_percent", "50"), "interest.penalty_uplift_percent"),
        "compound_unpaid_interest": bool(it.get("compound_unpaid_interest", True)),
    }
    if out["interest"]["day_count_basis"] not in (360, 365):
        raise InvalidInput("interest.day_count_basis must be 360 or 365")

    cl = raw.get("classification", {})
    cats = cl.get("categories") or [
        {"name": "正常", "max_days": 0}, {"name": "关注", "max_days": 90}, {"name": "次级", "max_days": 270},
        {"name": "可疑", "max_days": 360}, {"name": "损失"},
    ]
    out["classification"] = {
        "categories": [{"name": str(c["name"]), "max_days": c.get("max_days")} for c in cats],
        "non_performing": list(cl.get("non_performing", ["次级", "可疑", "损失"])),
    }

    pay = raw.get("pay", {})
    split = {k: int(v) for k, v in pay.get("split_percent", {"surveyor": 80, "reviewer": 10, "approver": 10}).items()}
    if set(split) != {"surveyor", "reviewer", "approver"} or sum(split.values()) != 100:
        raise InvalidInput("pay.split_percent must give surveyor, reviewer and approver shares adding to 100")
    out["pay"] = {
        "grant_fee": _amount(pay.get("grant_fee", "50"), "pay.grant_fee"),
        "split_percent": split,
        "interest_share_percent": _percent(pay.get("interest_share_percent", 10), "pay.interest_share_percent"),
        "holdback_percent": _percent(pay.get("holdback_percent", 40), "pay.holdback_percent"),
        "holdback_officers_only": bool(pay.get("holdback_officers_only", False)),
    }
    rf = raw.get("risk_fund", {})
    out["risk_fund"] = {
        "compensation_ceiling": _amount(rf.get("compensation_ceiling", "30万"), "risk_fund.compensation_ceiling"),
        "compensation_grace_days": int(rf.get("compensation_grace_days", 0)),
        "year_end_refund_percent": _percent(rf.get("year_end_refund_percent", 20), "risk_fund.year_end_refund_percent"),
    }
    out["service_level"] = {
        "days_to_first_disbursement": int(raw.get("service_level", {}).get("days_to_first_disbursement", 7))
    }

    products = {}
    names_seen: dict[str, str] = {}
    for code, p in raw["products"].items():
        kinds = list(p["eligible_kinds"])
        bad = [k for k in kinds if k not in BORROWER_KINDS]
        if bad or not kinds:
            raise InvalidInput(f"product {code}: eligible_kinds must be among {', '.join(BORROWER_KINDS)}")
        security = list(p.get("security", ["credit"]))
        if not security or any(s not in SECURITY_KINDS for s in security):
            raise InvalidInput(f"product {code}: security must be among {', '.join(SECURITY_KINDS)}")
        prod = {
            "code": code,
            "name": str(p["name"]),
            "eligible_kinds": kinds,
            "ceiling": _amount(p["ceiling"], f"product {code} ceiling"),
            "max_term_months": int(p["max_term_months"]),
            "revolving": bool(p.get("revolving", True)),
            "security": security,
            "village_review": bool(p.get("village_review", False)),
            "annual_rate_percent": _percent(p.get("annual_rate_percent", "0"), f"product {code} annual_rate_percent"),
            "note_term_months": int(p.get("note_term_months", 12)),
            "max_note_term_months": int(p.get("max_note_term_months", p.get("note_term_months", 12))),
        }
        if prod["max_term_months"] < 1 or prod["note_term_months"] < 1:
            raise InvalidInput(f"product {code}: terms must be at least one month")
        if prod["note_term_months"] > prod["max_note_term_months"]:
            raise InvalidInput(f"product {code}: note_term_months exceeds max_note_term_months")
        if prod["village_review"]:
            over = [g for g, cap in caps.items() if cap > prod["ceiling"]]
            if not caps or over:
                raise InvalidInput(f"product {code}: village grade caps must exist and stay within its ceiling")
        for alias in (code, prod["name"]):
            if alias in names_seen:
                raise InvalidInput(f"product name {alias} is used twice")
            names_seen[alias] = code
        products[code] = prod
    if not products:
        raise InvalidInput("the policy defines no products")
    out["products"] = products
    out["product_order"] = list(products)  # as written in the file (JSON storage sorts keys)
    return out


@dataclass(frozen=True)
class Policy:
    """The normalised policy (see :func:`normalise` for its shape)."""

    data: dict

    @classmethod
    def from_json(cls, text: str) -> "Policy":
        return cls(json.loads(text))

    def to_json(self) -> str:
        return json.dumps(self.data, ensure_ascii=False, sort_keys=True)

    def __getitem__(self, key: str):
        return self.data[key]

    def public(self) -> dict:
        """The policy as ``policy show --json`` gives it: amounts in fen under ``_fen`` keys, every
        percentage an exact decimal string, products in the file's order (issue 17: one JSON shape)."""
        import copy

        d = copy.deepcopy(self.data)
        d["products"] = {code: dict(p, ceiling_fen=p.pop("ceiling")) for code, p in copy.deepcopy(self.products).items()}
        d.pop("product_order", None)
        d["approval"]["tiers"] = [dict(t, up_to_fen=t.pop("up_to")) for t in d["approval"]["tiers"]]
        d["village_review"]["grade_caps_fen"] = d["village_review"].pop("grade_caps")
        d["pay"]["grant_fee_fen"] = d["pay"].pop("grant_fee")
        d["pay"]["split_percent"] = {k: str(v) for k, v in d["pay"]["split_percent"].items()}
        d["risk_fund"]["compensation_ceiling_fen"] = d["risk_fund"].pop("compensation_ceiling")
        return d

    @property
    def business_day(self) -> dict:
        """The business-date windows (a ledger made before they existed takes the defaults)."""
        return {**BUSINESS_DAY_DEFAULTS, **self.data.get("business_day", {})}

    @property
    def max_session_hours(self) -> int:
        return self.data.get("auth", {}).get("max_session_hours", MAX_SESSION_HOURS)

    @property
    def refuse_draws_when_past_due(self) -> bool:
        """Issue 17: a line with any note past due takes no new draws (policy switch)."""
        return self.data["drawdown"].get("refuse_when_past_due", True)

    @property
    def officer_any_department(self) -> bool:
        """Issue 13: a loan officer may survey grants of another department (a ledger made before says no)."""
        return self.data.get("organisation", {}).get("officer_any_department", False)

    @property
    def any_branch_service(self) -> bool:
        """Issue 13, 通存通兑: a teller may serve a card designated to another branch (a ledger made before says no)."""
        return self.data.get("organisation", {}).get("any_branch_service", False)

    @property
    def refuse_draws_after_compensation(self) -> bool:
        """SPEC §7 / issue 18: a line with a compensated, unrecovered note takes no new draws."""
        return self.data["drawdown"].get("refuse_after_compensation", True)

    # -- products ---------------------------------------------------------
    def product(self, code_or_name: str) -> dict:
        """Look a product up by code (``hnd``) or Chinese name (``惠农贷``)."""
        key = str(code_or_name).strip()
        prods = self.products
        if key.lower() in prods:
            return prods[key.lower()]
        for p in prods.values():
            if p["name"] == key:
                return p
        known = ", ".join(f"{c} ({p['name']})" for c, p in prods.items())
        raise NotFound(f"no product {key!r}; known products: {known}")

    @property
    def products(self) -> dict:
        """Products in the policy file's order."""
        prods = self.data["products"]
        return {code: prods[code] for code in self.data.get("product_order", prods)}

    # -- thresholds -------------------------------------------------------
    def within(self, amount: int, limit: int) -> bool:
        """Is ``amount`` within a "X以下" threshold? Inclusive by default (SPEC §1)."""
        return amount <= limit if self.data["thresholds"]["inclusive"] else amount < limit

    # -- approval tiers (SPEC §3.4) --------------------------------------
    @property
    def approval_roles(self) -> list[str]:
        return [t["role"] for t in self.data["approval"]["tiers"]]

    def tier_for(self, exposure: int) -> dict:
        """The lowest tier whose limit covers ``exposure``."""
        for tier in self.data["approval"]["tiers"]:
            if tier["up_to"] is None or self.within(exposure, tier["up_to"]):
                return tier
        raise AssertionError("the last tier has no limit")  # pragma: no cover
