"""Make the demo cooperative's CSVs (deterministic: seed 2025).

A county union (联社) with 4 customer departments (个人客户部), each covering
3–4 townships and their villages (source §一), its staff, and the borrowers,
grants, drawdowns and repayments of March–December 2025 with the source's
household counts per product (921 / 404 / 20 / 624).

Granted and drawn totals equal the source's table (SPEC §8) exactly for
商贷通, POS信用贷 and 公薪消费贷. 惠农贷 cannot: 9,322万 over 921 households is
more than the 10万 ceiling per household, so every 惠农贷 line here is at the
ceiling (921 × 10万 = 9,210万) and the report shows the 112万 gap.

``defaulters.csv`` is not an import file: it tells the demo which borrowers
stop paying their interest (and when), so that arrears, classification and
the year-end's "not clean" path show up.

All ID numbers are synthetic (valid check digits, made-up people).
"""

from __future__ import annotations

import csv
import random
import sys
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from credit_coop.core.identity import make_id_number  # noqa: E402
from credit_coop.core.policy import default_policy_text  # noqa: E402

WAN = 1_000_000  # fen
SEED = 2025
START, END = date(2025, 3, 1), date(2025, 12, 31)

# product: households, granted 万, drawn 万, (min, max) line in 万
TARGETS = {
    "hnd": (921, 9210, 9150, (10, 10)),      # at the ceiling: the source's 9,322 cannot be reached
    "sdt": (404, 6581, 6140, (5, 20)),
    "pos": (20, 350, 280, (10, 20)),
    "gxd": (624, 12715, 11670, (5, 30)),
}
KIND = {"hnd": "farmer", "sdt": "business", "pos": "pos-merchant", "gxd": "public-employee"}
DUAL = 5  # public employees who also run a registered business: gxd 30万 + sdt 20万 → deputy director

DEPARTMENTS = {
    "个人客户一部": ["城关镇", "东关乡", "南营乡"],
    "个人客户二部": ["白营镇", "北郭乡", "古贤乡", "五陵镇"],
    "个人客户三部": ["宜沟镇", "任固镇", "伏道镇"],
    "个人客户四部": ["韩庄镇", "瓦岗乡", "菜园镇", "柳园镇"],
}
VILLAGE_SUFFIX = ["村", "庄", "屯", "营"]
VILLAGE_HEAD = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "郭", "马", "孙", "何", "高", "罗"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = "建国华明丽军平秀英芳志强敏静红伟霞勇杰娟涛超刚辉玲燕海云峰波宇鹏林凤兰桂春东亮"


def spread(rng: random.Random, n: int, total: int, lo: int, hi: int) -> list[int]:
    """n integers in [lo, hi] summing exactly to total (seeded jitter around the mean)."""
    assert lo * n <= total <= hi * n
    base, extra = divmod(total, n)
    vals = [base + (1 if i < extra else 0) for i in range(n)]
    for _ in range(n * 3):
        i, j = rng.randrange(n), rng.randrange(n)
        k = rng.randint(1, 3)
        if i != j and vals[i] - k >= lo and vals[j] + k <= hi:
            vals[i] -= k
            vals[j] += k
    rng.shuffle(vals)
    assert sum(vals) == total and all(lo <= v <= hi for v in vals)
    return vals


def reduce_to(rng: random.Random, lines: list[int], total: int) -> list[int]:
    """Drawn amounts ≤ each line summing exactly to total."""
    drawn = list(lines)
    cut = sum(lines) - total
    while cut:
        i = rng.randrange(len(drawn))
        k = min(cut, rng.randint(1, 3), drawn[i] - 1)
        if k > 0:
            drawn[i] -= k
            cut -= k
    return drawn


def build() -> dict[str, list[dict]]:
    rng = random.Random(SEED)
    staff = [{"name": "联社管理员", "role": "admin", "added_on": "2025-02-20"}]
    add = lambda name, role: staff.append({"name": name, "role": role, "added_on": "2025-02-20"})  # noqa: E731
    add("周副主任", "deputy-director")
    add("贷审会", "committee")
    add("郑稽核", "auditor")
    add("钱审查", "reviewer")
    add("冯审查", "reviewer")
    dept_staff, townships = {}, []
    units = {"钱审查": "D1", "冯审查": "D1"}  # the reviewers sit in the first department (they review union-wide)
    n_town = 0
    for d, (dept, towns) in enumerate(DEPARTMENTS.items(), 1):
        head, acct = f"部长{d}号", f"会计{d}号"
        add(head, "dept-head")
        units[head] = f"D{d}"
        officers = []
        for t, town in enumerate(towns, 1):
            n_town += 1
            officer, teller = f"经理{d}-{t}", f"柜员{n_town}号"  # one branch counter per township, with its teller
            add(officer, "officer")
            add(teller, "teller")
            units[officer], units[teller] = f"D{d}", f"B{n_town:02d}"
            if t == 1:
                add(acct, "accountant")  # the department's credit accountant sits at its first township's branch
                units[acct] = f"B{n_town:02d}"
            officers.append(officer)
            villages = [f"{town[:-1]}{rng.choice(VILLAGE_HEAD)}{rng.choice(VILLAGE_SUFFIX)}" for _ in range(rng.randint(3, 5))]
            townships.append({"dept": dept, "dept_code": f"D{d}", "town": town, "officer": officer, "teller": teller,
                              "branch": f"B{n_town:02d}", "villages": sorted(set(villages))})
        dept_staff[dept] = {"head": head}
    for row in staff:
        row["unit"] = units.get(row["name"], "")

    used_ids: set[str] = set()

    def person() -> tuple[str, str]:
        while True:
            born = date(1960, 1, 1) + timedelta(days=rng.randrange(365 * 40))
            idn = make_id_number("410523", born, rng.randrange(1000))
            if idn not in used_ids:
                used_ids.add(idn)
                return idn, rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))

    borrowers, grants, draws, repays = [], [], [], []
    seq = {"grant": 0, "draw": 0, "repay": 0}
    days = (date(2025, 11, 30) - START).days

    def grant_row(product, idn, line_wan, town, applied, tier_role=None):
        seq["grant"] += 1
        staff_d = dept_staff[town["dept"]]
        row = {
            "ref": f"OLD-G{seq['grant']:05d}", "id_number": idn, "product": product, "amount": f"{line_wan}万",
            "applied_on": applied.isoformat(), "applied_by": town["officer"], "line": f"{line_wan}万",
            "term_months": 36 if product == "hnd" else 24, "grade": "", "posted_from": "", "posted_to": "",
            "village_reviewed_on": "", "surveyed_on": "", "surveyed_by": town["officer"], "reviewed_on": "",
            "reviewed_by": rng.choice(["钱审查", "冯审查"]), "approved_on": "",
            "approved_by": {"deputy-director": "周副主任"}.get(tier_role, staff_d["head"]), "guarantors": "",
        }
        d = applied
        if product == "hnd":
            row.update(grade="优秀", posted_from=(d - timedelta(days=9)).isoformat(),
                       posted_to=(d - timedelta(days=3)).isoformat(), village_reviewed_on=d.isoformat())
        row["surveyed_on"] = (d + timedelta(days=1)).isoformat()
        row["reviewed_on"] = row["approved_on"] = (d + timedelta(days=2)).isoformat()
        grants.append(row)
        return row

    def add_draws(product, idn, line_wan, drawn_wan, approved: date, town, slow: bool):
        teller = town["teller"]
        first = approved + timedelta(days=rng.randint(8, 20) if slow else rng.randint(0, 4))
        parts = [drawn_wan] if drawn_wan < 4 or rng.random() < 0.6 else [drawn_wan // 2, drawn_wan - drawn_wan // 2]
        on = first
        for amount in parts:
            if on > END:
                on = END
            seq["draw"] += 1
            draws.append({"request_id": f"OLD-D{seq['draw']:06d}", "id_number": idn, "product": product,
                          "amount": f"{amount}万", "on": on.isoformat(), "teller": teller, "maturity": "", "fingerprint_ok": "yes"})
            on = on + timedelta(days=rng.randint(10, 60))
        return first

    for product, (n, granted, drawn_total, (lo, hi)) in TARGETS.items():
        n_single = n - (DUAL if product in ("sdt", "gxd") else 0)
        dual_total = (30 if product == "gxd" else 20) * DUAL if product in ("sdt", "gxd") else 0
        lines = spread(rng, n_single, granted - dual_total, lo, hi)
        lines += [30 if product == "gxd" else 20] * (n - n_single)
        drawn = reduce_to(rng, lines, drawn_total)
        for i, (line_wan, drawn_wan) in enumerate(zip(lines, drawn)):
            dual = i >= n_single
            # a dual-qualified borrower lives in one village: both their lines come from that township
            town = townships[i - n_single] if dual else townships[i % len(townships)]
            if dual:  # the 公薪消费贷 line first; the 商贷通 application a month later goes to the deputy director
                applied = date(2025, 4 if product == "gxd" else 5, 1) + timedelta(days=i - n_single)
            else:
                applied = START + timedelta(days=rng.randrange(days))
            if dual:
                idn = f"DUAL{i - n_single}"
            else:
                idn, name = person()
                row = {"id_number": idn, "name": name, "kinds": KIND[product], "registered_on": applied.isoformat(),
                       "village": f"{town['town']}{rng.choice(town['villages'])}", "settlement_account": ""}
                if product == "pos":
                    row["settlement_account"] = f"6229{rng.randrange(10**12):012d}"
                borrowers.append(row)
            tier = "deputy-director" if dual and product == "sdt" else None
            g = grant_row(product, idn, line_wan, town, applied, tier)
            approved = date.fromisoformat(g["approved_on"])
            first = add_draws(product, idn, line_wan, drawn_wan, approved, town, slow=rng.random() < 0.02)
            # some borrowers repay part of their principal before the year ends
            if rng.random() < 0.3 and first < date(2025, 11, 1):
                seq["repay"] += 1
                repays.append({"request_id": f"OLD-R{seq['repay']:06d}", "id_number": idn, "product": product,
                               "amount": f"{max(1, drawn_wan // 4)}万",
                               "on": min(END, first + timedelta(days=rng.randint(70, 120))).isoformat(),
                               "teller": town["teller"], "note": ""})

    # the dual-qualified borrowers: public employees with a registered business
    for k in range(DUAL):
        idn, name = person()
        town = townships[k]
        borrowers.append({"id_number": idn, "name": name, "kinds": "public-employee|business",
                          "registered_on": "2025-03-20", "village": f"{town['town']}{town['villages'][0]}", "settlement_account": ""})
        for table in (grants, draws, repays):
            for row in table:
                if row["id_number"] == f"DUAL{k}":
                    row["id_number"] = idn

    # a few short notes that fall due unpaid before the year ends (for overdue/compensation demos)
    for row in [d for d in draws if d["product"] in ("sdt", "gxd")][:4]:
        row["maturity"] = (date.fromisoformat(row["on"]) + timedelta(days=120)).isoformat()

    # draws and repayments in date order (as the counter saw them)
    draws.sort(key=lambda r: (r["on"], r["request_id"]))
    repays = [r for r in repays if any(d["id_number"] == r["id_number"] and d["product"] == r["product"] and d["on"] <= r["on"] for d in draws)]
    repays.sort(key=lambda r: (r["on"], r["request_id"]))
    grants.sort(key=lambda r: (r["applied_on"], r["ref"]))
    # six borrowers stop paying interest from July (the demo's arrears: 关注, then 次级 after 90 days)
    early = sorted({(d["id_number"], d["product"]) for d in draws if d["product"] in ("sdt", "gxd") and d["on"] < "2025-05-01"})
    defaulters = [{"id_number": i, "product": p, "stops_paying_on": "2025-07-01"} for i, p in rng.sample(early, 6)]
    villages = [{"village": f"{t['town']}{v}", "township": t["town"], "department": t["dept_code"], "department_name": t["dept"],
                 "branch": t["branch"], "branch_name": f"{t['town'][:-1]}信用社", "on": "2025-02-20"}
                for t in townships for v in t["villages"]]
    return {"operators": staff, "villages": villages, "borrowers": borrowers, "grants": grants, "draws": draws, "repayments": repays,
            "defaulters": sorted(defaulters, key=lambda r: (r["product"], r["id_number"]))}


def write(out: Path = HERE) -> None:
    for kind, rows in build().items():
        with open(out / f"{kind}.csv", "w", encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
    text = default_policy_text().replace('name = "XX县农村信用合作联社"        # SAMPLE', 'name = "XX县农村信用合作联社（演示）"  # SAMPLE')
    (out / "policy.toml").write_text(text, "utf-8")


if __name__ == "__main__":
    write()
    print(f"wrote sample data to {HERE}")
