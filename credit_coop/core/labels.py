"""One table of labels: what screens, receipts, errors and exports call things (issue 15).

Staff read Chinese, so Chinese is the default; English is there on request (``--lang en``,
``CREDIT_COOP_LANG=en``, or a ``LANG``/``LC_ALL`` locale that starts with ``en``). The code is
written with English text and stable English codes; this module is the only place a term is
translated, so a term reads the same on a screen, in an error and in a workbook:

- ``CODES``: the ledger's stored codes (statuses, transaction kinds, roles, classes,
  fund movements) and their names in each language;
- ``TERMS``: labels (column headers, field names, titles, words) — English → Chinese;
- ``MESSAGES``: sentence templates, errors included — English → Chinese. ``{0}``, ``{1}`` …
  stand for the values in the English sentence; ``{0!t}`` in the Chinese one translates the value
  too (a status, a role, a nested message), a bare ``{0}`` copies it (a name, an amount, a date).

``--json`` never passes through here: its keys and codes stay English for programs.
"""

from __future__ import annotations

import os
import re

LANGUAGES = ("zh", "en")
_current: str | None = None


def resolve(explicit: str | None = None, environ=None) -> str:
    """``--lang`` beats ``CREDIT_COOP_LANG``, which beats the locale; Chinese unless English is asked for."""
    env = os.environ if environ is None else environ
    for value, where in ((explicit, "--lang"), (env.get("CREDIT_COOP_LANG"), "CREDIT_COOP_LANG")):
        if value:
            code = value.strip().lower().replace("_", "-").split("-")[0]
            if code not in LANGUAGES:
                from credit_coop.core.errors import InvalidInput

                raise InvalidInput(f"{where} must be zh or en, got {value!r}")
            return code
    locale = env.get("LC_ALL") or env.get("LC_MESSAGES") or env.get("LANG") or ""
    return "en" if locale.lower().startswith("en") else "zh"


def set_language(lang: str | None) -> str:
    """Use ``lang`` (resolved as above) for everything rendered from now on in this process."""
    global _current
    _current = resolve(lang)
    return _current


def language() -> str:
    if _current:
        return _current
    try:
        return resolve()
    except Exception:  # a bad CREDIT_COOP_LANG is refused where it is settled; until then, Chinese
        return "zh"


# -- codes ------------------------------------------------------------------------------
CODES: dict[str, tuple[str, str]] = {
    # grant and line status (SPEC §3)
    "applied": ("已受理", "applied"),
    "village-reviewed": ("已评议", "village-reviewed"),
    "surveyed": ("已调查", "surveyed"),
    "reviewed": ("已审查", "reviewed"),
    "approved": ("已批准", "approved"),
    "live": ("有效", "live"),
    "frozen": ("已冻结", "frozen"),
    "expired": ("已到期", "expired"),
    "rejected": ("已否决", "rejected"),
    "closed": ("已结清关闭", "closed"),
    # loan note status
    "outstanding": ("未结清", "outstanding"),
    "repaid": ("已结清", "repaid"),
    "compensated": ("已代偿", "compensated"),
    "reversed": ("已冲正", "reversed"),
    # transaction kinds
    "drawdown": ("用信", "drawdown"),
    "repayment": ("还款", "repayment"),
    "reversal": ("冲正", "reversal"),
    "day-end": ("日终计息", "day-end"),
    "day-end-reversal": ("日终重算冲回", "day-end reversal"),
    "compensation": ("风险赔偿", "compensation"),
    "compensation-reversal": ("赔偿冲回", "compensation reversal"),
    "payroll": ("绩效工资", "payroll"),
    "year-end": ("年终返还", "year-end refund"),
    "fund-settlement": ("补偿金全额返还", "full fund refund"),
    "officer-pay-in": ("缴回欠款", "officer pay-in"),
    "recovery": ("赔偿收回", "recovery"),
    # roles (SPEC §2)
    "teller": ("柜员", "teller"),
    "accountant": ("信贷会计", "accountant"),
    "officer": ("客户经理", "loan officer"),
    "reviewer": ("审查岗", "reviewer"),
    "dept-head": ("客户部负责人", "department head"),
    "deputy-director": ("主管信贷副主任", "deputy director"),
    "committee": ("贷审会", "credit committee"),
    "auditor": ("稽核", "auditor"),
    "admin": ("系统管理员", "administrator"),
    "surveyor": ("调查人", "surveyor"),
    "approver": ("审批人", "approver"),
    # borrower kinds
    "farmer": ("农户", "farmer"),
    "business": ("个体工商户", "business"),
    "public-employee": ("公职人员", "public employee"),
    "pos-merchant": ("POS商户", "POS merchant"),
    # five-level classification (SPEC §6): stored in Chinese; English on request
    "正常": ("正常", "pass"),
    "关注": ("关注", "special mention"),
    "次级": ("次级", "substandard"),
    "可疑": ("可疑", "doubtful"),
    "损失": ("损失", "loss"),
    # fund movements and other states shown in tables
    "holdback": ("绩效扣留", "holdback"),
    "opening": ("期初", "opening"),
    "closing": ("期末", "closing"),
    "total": ("合计", "total"),
    "disbursed late": ("超时发放", "disbursed late"),
    "not yet disbursed": ("尚未发放", "not yet disbursed"),
    "ok": ("成功", "ok"),
    "above": ("以上", "above"),
    "NO": ("否", "NO"),
    "credit": ("信用", "credit"),
    "guaranteed": ("保证", "guaranteed"),
    "apply": ("受理", "apply"),
    "village-review": ("村级评议", "village review"),
    "survey": ("调查", "survey"),
    "review": ("审查", "review"),
    "approve": ("审批", "approve"),
    "reject": ("否决", "reject"),
    "freeze": ("冻结", "freeze"),
    "unfreeze": ("解冻", "unfreeze"),
    "close": ("关闭", "close"),
    "year-end refund": ("年终返还", "year-end refund"),
    "full refund": ("全额返还", "full refund"),
    "pay-in": ("缴回欠款", "pay-in"),
    "grants": ("授信", "grants"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
}

# columns (and fields) whose cells hold codes: their values are shown by name
CODED_COLUMNS = frozenset({"status", "class", "class 五级分类", "kind", "role", "state", "movement", "tier", "step",
                           "why not", "why", "clean", "agrees", "kinds", "product", "active", "result", "approval tier", "unit",
                           "village review", "locked", "grade"})

# -- labels: English → Chinese ----------------------------------------------------------
TERMS: dict[str, str] = {
    # people and things
    "borrower": "借款人", "Borrowers": "借款人", "name": "姓名", "Name": "姓名", "ID number": "身份证号",
    "Qualifications": "资格", "Village": "村", "village": "村", "Settlement account": "结算账户",
    "Registered": "登记日期", "Registered by": "登记人", "kinds": "资格",
    "grant": "授信编号", "Grant": "授信编号", "Grants": "授信", "grants": "授信笔数",
    "product": "产品", "Product": "产品", "Products": "产品", "status": "状态", "Status": "状态",
    "line": "授信额度", "Line": "授信额度", "Lines": "授信额度", "line amount": "授信额度",
    "card": "贷款卡号", "Loan card": "贷款卡号", "loan card": "贷款卡号", "contract": "合同号", "Contract": "合同号",
    "grant / contract": "授信编号 / 合同号", "valid": "有效期", "Valid from": "起始日", "Valid to": "到期日",
    "note": "借据号", "Loan note": "借据号", "Loan notes": "借据", "Loan notes 借据": "借据", "notes": "借据笔数",
    "amount": "金额", "Amount": "金额", "Amount repaid": "还款金额", "Amount compensated": "赔偿金额",
    "drawn": "用信", "granted": "授信", "Drawn": "发放日", "matures": "到期日", "Maturity": "到期日", "maturity": "到期日",
    "principal": "本金", "Principal": "本金", "owed": "应还合计", "class": "五级分类", "class 五级分类": "五级分类",
    "days past due": "逾期天数", "outstanding": "余额", "available": "可用额度", "officer": "客户经理",
    "Officer": "客户经理", "Staff": "人员", "Teller": "柜员", "teller": "柜员", "rate": "年利率",
    "Rate %": "年利率%", "Fingerprint": "指纹核验", "Transaction": "交易号", "txn": "交易号", "transaction": "交易号",
    "Reversed": "已冲正", "Principal at period end": "期末本金", "Outstanding at period end": "期末余额",
    "date": "日期", "Date": "营业日期", "Business date": "营业日期", "kind": "类型", "Kind": "类型",
    "Operator": "操作员", "operator": "操作员", "Memo": "摘要", "Reverses": "冲正原交易", "Line no.": "分录号",
    "account": "科目", "Account": "科目", "Account name": "科目名称", "debit": "借方", "Debit": "借方",
    "credit": "贷方", "Credit": "贷方", "balance": "余额", "Balance": "余额",
    "penalty": "罚息复利", "Penalty": "罚息复利", "interest due": "应收利息", "Interest due": "应收利息",
    "accrued interest": "计提利息", "Accrued interest": "计提利息", "accrued": "计提利息", "due": "应收利息",
    "interest": "利息", "interest_due": "应收利息", "penalty_accrued": "已计提罚息", "accrual_num": "计息积数", "accrual_posted": "已计提利息",
    "penalty_num": "罚息积数", "penalty_posted": "已计提罚息", "past_due_since": "逾期起日", "dpd": "逾期天数",
    "Recovery to fund": "赔偿收回",
    "Month": "月份", "month": "月份", "Role": "岗位", "role": "岗位", "Surveyed": "调查笔数", "surveyed": "调查笔数",
    "Reviewed": "审查笔数", "reviewed": "审查笔数", "Approved": "审批笔数", "approved": "审批笔数",
    "Grant pay": "业务量计酬", "grant pay": "业务量计酬", "Interest collected": "收息", "interest collected": "收息",
    "Interest pay": "收息计酬", "interest pay": "收息计酬", "Total": "绩效合计", "total": "合计",
    "Adjusts month": "补发扣回所属月份", "for month": "所属月份", "Posted on": "入账日期",
    "interest collected now": "现收息", "Year": "年度", "for year": "所属年度", "Holdbacks": "年度扣留",
    "holdbacks in year": "年度扣留", "Clean": "无不良", "clean": "无不良", "Reason": "原因", "why not": "原因",
    "why": "原因", "Refund": "返还", "refund": "返还", "Full settlement": "全额返还",
    "In (credit)": "贷方(存入)", "Out (debit)": "借方(支出)", "From fund": "补偿金支付", "from fund": "补偿金支付",
    "Shortfall": "欠款", "shortfall": "欠款", "Reversed by": "冲正交易", "recovered": "已收回",
    "movement": "变动", "fund": "补偿金", "debt": "欠款", "debt outstanding": "欠款余额",
    "Applied": "申请金额", "Applied on": "受理日期", "Applied by": "受理人", "Village grade": "信用等级",
    "Posted from": "公示起", "Posted to": "公示止", "Village review": "评议日期", "Recorded by": "评议录入人",
    "Term (months)": "期限(月)", "Surveyor": "调查人", "Reviewer": "审查人", "Approver": "审批人",
    "Tier": "审批层级", "Exposure at approval": "审批敞口", "Rejected": "否决日期", "Rejected by": "否决人",
    "Surveyed on": "调查日期", "Reviewed on": "审查日期", "Approved on": "审批日期",
    "households": "户数", "source": "原文数据", "granted 万": "授信 万元", "drawn 万": "用信 万元",
    "outstanding 万": "余额 万元", "outstanding ¥": "余额 元", "managed principal": "管户余额",
    "interest collected 万": "收息 万元", "risk fund": "风险补偿金", "accepted": "受理日",
    "first drawn": "首次用信", "days": "天数", "state": "状态", "officers": "客户经理",
    "Postings": "账务明细", "closed through": "日终已结至", "By class (五级分类)": "按五级分类",
    "Overdue by product": "按产品逾期", "Compensation cases": "赔偿案件", "Officers": "客户经理",
    "Loan officers": "客户经理", "held": "扣留", "payable": "应发", "refund delta": "返还差额",
    "code": "代码", "what": "事项", "when": "时间", "result": "结果", "detail": "内容", "at": "时间",
    "grade": "信用等级", "term": "期限", "term months": "期限(月)", "ceiling": "最高额度",
    "security": "担保方式", "village review": "村级评议", "note term": "借据期限",
    "rate %": "年利率%", "value": "值", "setting": "设置", "id": "编号", "active": "在岗", "locked": "锁定",
    "created": "创建日期", "exposure": "敞口", "tier": "审批层级", "lines": "额度", "drawn now": "已用",
    "Cover": "封面", "Journal": "会计分录", "Repayments": "还款", "Officers' pay": "绩效工资",
    "Risk-fund movements": "风险补偿金", "Year-end refunds": "年终返还", "Compensation cases ": "赔偿",
    "Created": "创建日期", "Live in period": "期内有效",
    "valid to": "到期日", "village grade": "信用等级", "approval tier": "审批层级", "exposure at approval": "审批敞口",
    "guarantors": "担保人", "rejected because": "否决原因", "step": "步骤", "drawn / matures": "发放日 / 到期日",
    "qualifications": "资格", "settlement account": "结算账户", "live lines": "有效额度笔数", "total exposure": "总敞口",
    "Grants and lines": "授信与额度", "eligible": "适用对象", "product name": "产品名称", "max term": "最长期限",
    "Village grades": "信用等级上限", "cap": "上限", "Other settings": "其他设置", "section": "类别",
    "Audit log": "操作日志", "command": "命令", "Operators": "操作员", "added": "添加日期", "account name": "科目名称",
    "approved on": "审批日", "Village review on": "评议日期", "Reason rejected": "否决原因",
    "Withheld {holdback}%": "扣留{holdback}%", "Payable {payable}%": "应发{payable}%",
    "applied amount": "申请金额", "Steps": "办理步骤", "sheet": "工作表", "rows": "行数",
    "control total": "控制合计", "journal": "账面", "agrees": "一致", "loan note": "借据号", "drawn on": "发放日",
    "line cap": "额度上限", "posted_from": "公示起", "posted_to": "公示止", "term_months": "期限(月)", "card_no": "贷款卡号",
    "contract_no": "合同号", "reason": "原因", "guarantor": "担保人", "of which repays officer's debt": "其中归还客户经理垫款", "recovery (compensated note)": "赔偿收回（已代偿借据）",
    "recovery": "赔偿收回", "recovery_to_debt": "归还垫款", "request id": "请求号", "fund holders": "补偿金持有人", "for": "所属",
}

# -- sentences: English template → Chinese template -------------------------------------
MESSAGES: dict[str, str] = {
    # input: amounts, dates, IDs, text (issue 15: the accepted forms are named)
    "{0} {1} is not an amount; write it like 80000, 80,000.00, ¥80,000, 8万 or 3.5万":
        "{0!t} {1} 不是金额；请写成 80000、80,000.00、¥80,000、8万 或 3.5万",
    "{0} must be written as text like 80,000.00 or 8万": "{0!t}请写成 80,000.00 或 8万 这样的文字",
    "{0} cannot be negative: {1}": "{0!t}不能为负数：{1}",
    "{0} cannot be negative": "{0!t}不能为负数",
    "{0} {1} is too large": "{0!t} {1} 过大",
    "{0} is too large": "{0!t}过大",
    "{0} must be more than zero": "{0!t}必须大于零",
    "{0} {1} is finer than one fen (at most 6 decimals of a 万)": "{0!t} {1} 小于一分（万元最多六位小数）",
    "{0} {1} has more than 2 decimals; the smallest unit is one fen (0.01)": "{0!t} {1} 超过两位小数；最小单位是一分（0.01）",
    "{0} {1} is not a date; write it as 2025-03-01, 2025/3/1, 2025年3月1日 or 20250301":
        "{0!t} {1} 不是日期；请写成 2025-03-01、2025/3/1、2025年3月1日 或 20250301",
    "{0} {1} is not a month; write it as 2025-11, 2025/11 or 2025年11月": "{0!t} {1} 不是月份；请写成 2025-11、2025/11 或 2025年11月",
    "{0} {1} does not exist on the calendar": "{0!t} {1} 在日历上不存在",
    "{0} must have 18 characters, got {1}": "{0!t}应为18位，实际 {1} 位",
    "{0} must be 17 digits followed by a digit or X": "{0!t}应为17位数字加一位数字或X",
    "{0} {1} carries no valid birth date": "{0!t} {1} 的出生日期无效",
    "{0} {1} has no valid region code": "{0!t} {1} 的地区码无效",
    "{0} {1} fails its check digit; please re-read the ID card": "{0!t} {1} 校验位不符；请重新核对身份证",
    "loan card number must be 16 digits, got {0}": "贷款卡号应为16位数字，实际为 {0}",
    "loan card number {0} fails its check digit; please re-read the card": "贷款卡号 {0} 校验位不符；请重新核对贷款卡",
    "{0} must not be empty": "{0!t}不能为空",
    "{0} is longer than {1} characters": "{0!t}超过 {1} 个字",
    "{0} must be a single line of text": "{0!t}只能是一行文字",
    "{0} contains an invisible control character (U+{1}); type it again": "{0!t}含有不可见控制字符（U+{1}）；请重新输入",
    "--from {0} is after --to {1}": "--from {0} 晚于 --to {1}",
    "{0} must be between 0 and 100, got {1}": "{0} 必须在 0 到 100 之间，实际 {1}",
    "{0} must be a number, got {1}": "{0} 必须是数字，实际 {1}",
    "{0} must be zh or en, got {1}": "{0} 只能是 zh 或 en，实际 {1}",
    "{0}: {1}": "{0}：{1!t}",
    "--lang must be zh or en": "--lang 只能是 zh 或 en",
    # the counter (SPEC §4)
    "no credit line with loan card {0}": "没有贷款卡号为 {0} 的授信额度",
    "line {0} is frozen; no drawdowns until it is unfrozen": "额度 {0} 已冻结；解冻前不能用信",
    "line {0} is closed": "额度 {0} 已关闭",
    "line {0} is not approved": "额度 {0} 尚未批准",
    "line {0} is valid from {1}": "额度 {0} 自 {1} 起生效",
    "line {0} expired on {1}; no drawdowns after its last valid day": "额度 {0} 已于 {1} 到期；到期后不能用信",
    "no loan note {0}": "没有借据 {0}",
    "no loan note {0} on line {1}": "额度 {1} 下没有借据 {0}",
    "loan note {0} is fully repaid": "借据 {0} 已结清",
    "no verified fingerprint, no loan: check the fingerprint and pass --fingerprint-ok":
        "未经指纹核验不能放款：请核验指纹后加 --fingerprint-ok",
    "loan card {0} does not belong to ID {1}; check both cards": "贷款卡 {0} 不属于身份证 {1}；请核对两张卡",
    "{0} is more than the {1} available on line {2}": "{0} 超过额度 {2} 的可用额度 {1}",
    "the maturity must be after the drawdown date": "到期日必须晚于用信日",
    "maturity {0} is beyond the {1} longest note term of {2} months ({3})": "到期日 {0} 超过{1}借据最长期限 {2} 个月（{3}）",
    "maturity {0} is after the line expires ({1})": "到期日 {0} 晚于额度到期日（{1}）",
    "loan note {0} on line {1} is {2} day(s) past due ({3}); no new drawdowns until it is brought current":
        "额度 {1} 的借据 {0} 已逾期 {2} 天（{3!t}）；结清欠款前不能再用信",
    "loan note {0} on line {1} was compensated on {2} and {3} is not yet recovered; no new drawdowns until it is repaid":
        "额度 {1} 的借据 {0} 已于 {2} 由风险补偿金赔偿，尚有 {3} 未收回；归还前不能再用信",
    "nothing is owed on line {0}": "额度 {0} 没有欠款",
    "{0} is more than the {1} owed; overpayment refused": "{0} 超过应还 {1}；不接受多还",
    "{0} is not an active loan officer": "{0} 不是在岗客户经理",
    "request id {0} was already used for a different {1}; nothing posted. Use a new request id":
        "请求号 {0} 已用于另一笔{1!t}；未记账。请使用新的请求号",
    "this reversal would put line {0} at {1}, over its {2} limit; nothing posted": "冲正后额度 {0} 将达到 {1}，超过额度 {2}；未记账",
    "no transaction {0}": "没有交易 {0}",
    "transaction {0} is itself a reversal; post a new transaction instead": "交易 {0} 本身是冲正；请另记一笔新交易",
    "transaction {0} was posted by the day-end; it is not reversed by hand. Correct the counter posting behind it instead (a back-dated correction recomputes the day-end)":
        "交易 {0} 由日终批处理记账，不能手工冲正。请更正其背后的柜面交易（补记更正会重算日终）",
    "transaction {0} was already reversed by transaction {1}": "交易 {0} 已被交易 {1} 冲正",
    "a reversal cannot be dated before the transaction it reverses ({0})": "冲正日期不能早于原交易（{0}）",
    "the day-end has accrued interest on this loan note since; reverse it as a back-dated correction dated on a closed day (--correction), which recomputes those days":
        "此后日终已对该借据计息；请在已结日期以补记更正方式冲正（--correction），系统会重算这些天",
    "later transactions ({0}) post to the same loan notes; reverse them first, newest first: {1}; then this one, then post them again":
        "之后的交易（{0}）记在同一借据上；请先从最新的起逐笔冲正：{1}；再冲正本笔，然后重新记账",
    "this reversal would leave a loan balance below zero; nothing posted": "冲正后贷款余额将小于零；未记账",
    # business dates (issue 19)
    "business date {0} is after today's date ({1}); a likely typo, nothing posted": "营业日期 {0} 晚于今天（{1}），可能输错；未记账",
    "business date {0} is more than {1} days after the open business date {2}; a likely typo, nothing posted":
        "营业日期 {0} 比当前营业日 {2} 晚 {1} 天以上，可能输错；未记账",
    "a {0} dated {1} needs every day before it closed; the day-end has not closed {2} yet (run: credit-coop batch day-end --through {3})":
        "{1} 的{0!t}要求之前各日已日终；{2} 尚未日终（请运行：credit-coop batch day-end --through {3}）",
    "line {0} already has a {1} dated {2} (transaction {3}); postings on a line go in date order, so nothing can be dated {4} (post it as a back-dated correction after reversing the later posting, or date it on or after the later one)":
        "额度 {0} 已有 {2} 的{1!t}（交易 {3}）；同一额度按日期顺序记账，不能记在 {4}（请先冲正后面的交易再补记更正，或把日期定在其后）",
    "business date {0} is closed (day-end has run through {1}); post on an open business date, or as a back-dated correction (--correction REASON, accountant)":
        "营业日期 {0} 已日终（已结至 {1}）；请在当前营业日记账，或由信贷会计补记更正（--correction 原因）",
    "a back-dated correction needs the day it belongs to (--on YYYY-MM-DD)": "补记更正需要指明所属日期（--on YYYY-MM-DD）",
    "{0} is not closed yet; post it normally, without --correction": "{0} 尚未日终；请正常记账，不加 --correction",
    "{0} is before this ledger's first business day ({1})": "{0} 早于本账簿的第一个营业日（{1}）",
    "cannot close {0}: it is in the future": "不能日终 {0}：这是未来日期",
    "{0} is already closed": "{0} 已日终",
    "no day has been closed yet; run `credit-coop batch day-end` first": "尚未有日终；请先运行 `credit-coop batch day-end`",
    "{0} is not closed yet (day-end has run through {1})": "{0} 尚未日终（已结至 {1}）",
    "{0} is not closed yet (day-end has run through {1}); close the month first": "{0} 尚未日终（已结至 {1}）；请先结完该月",
    # corrections
    "{0} is before this ledger moved to compact books on {1}; a back-dated correction can reach back to that day at the earliest":
        "{0} 早于本账簿改用精简记账的日期 {1}；补记冲正最早只能追溯到该日",
    "a postgresql:// ledger needs the PostgreSQL driver: pip install 'credit-coop[postgres]'":
        "postgresql:// 账簿需要 PostgreSQL 驱动：pip install 'credit-coop[postgres]'",
    "cannot reach the ledger at {0}: {1}": "无法连接账簿 {0}：{1}",
    "the database at {0} is not empty ({1} tables); a ledger is created only in an empty database":
        "数据库 {0} 不是空的（已有 {1} 张表）；账簿只能建在空数据库中",
    "the database at {0} holds no credit-coop ledger; create one with `credit-coop init`":
        "数据库 {0} 中没有 credit-coop 账簿；请用 `credit-coop init` 新建",
    "the database at {0} is not a credit-coop ledger (no schema version)": "数据库 {0} 不是 credit-coop 账簿（没有结构版本）",
    "the ledger at {0} was written by a newer credit-coop (schema {1}, this one knows {2}); upgrade credit-coop":
        "账簿 {0} 由更新版本的 credit-coop 写入（结构版本 {1}，本程序只认识 {2}）；请升级 credit-coop",
    "the ledger at {0} is schema {1}, this credit-coop knows {2}: copy it to a file, open the file to upgrade it, and copy it back":
        "账簿 {0} 的结构版本为 {1}，本程序为 {2}：请先复制为文件，打开该文件完成升级，再复制回去",
    "{0} already exists; a ledger is copied only into a new file": "{0} 已存在；账簿只能复制到新文件",
    "the copy's hash chain differs from this ledger's; nothing kept": "副本的哈希链与本账簿不同；未保留副本",
    "copied {0} transactions ({1} rows in {2} tables) to {3}; the copy verifies": "已复制 {0} 笔交易（{2} 张表共 {1} 行）到 {3}；副本校验通过",
    "the copy's destination already holds postings; a ledger is copied only into a new one":
        "复制目标已有交易；账簿只能复制到新建的账簿中",
    "the ledger server could not be used: {0}": "账簿服务器无法使用：{0}",
    "cannot rebuild the day-end state of loan note id {0} as at {1}; nothing posted. Run `credit-coop verify` and report what it finds":
        "无法重建借据 {0} 在 {1} 的日终状态；未记账。请运行 `credit-coop verify` 并报告结果",
    "{0} may not post on a closed day; a back-dated correction needs: {1}": "{0} 不能在已日终的日期记账；补记更正需要：{1!t}",
    "the line has postings after {0}: {1}. Reverse them first, newest first: {2}; then post this correction, then post them again":
        "该额度在 {0} 之后还有交易：{1}。请先从最新的起逐笔冲正：{2}；再补记本笔更正，然后重新记账",
    "the correction would undo a compensation {0} has already paid in; nothing posted": "该更正会撤销 {0} 已缴回的赔偿；未记账",
    "the correction would leave loan note {0} owing less than nothing; nothing posted": "该更正会使借据 {0} 欠款小于零；未记账",
    # grants (SPEC §3)
    "no grant {0}": "没有授信 {0}",
    "unknown status {0}; statuses are: {1}": "未知状态 {0}；可选状态：{1}",
    "the {0} is dated {1}, before the previous step on {2}": "{0!t}日期 {1} 早于上一步的 {2}",
    "grant {0} is {1}; {2} needs it to be {3}": "授信 {0} 当前为{1!t}；{2!t}要求状态为{3!t}",
    "{0} is only for {1}; {2} is not registered as one": "{0} 只适用于{1!t}；{2} 未登记为此类",
    "{0} is over the {1} ceiling of {2}": "{0} 超过{1}最高额度 {2}",
    "term must be at least one month": "期限至少一个月",
    "{0} does not go through the village credit review": "{0} 不需要村级信用评议",
    "unknown credit grade {0}; grades are: {1}": "未知信用等级 {0}；可选等级：{1}",
    "the posting ends before it starts (--posted-to is before --posted-from)": "公示止日早于起日（--posted-to 早于 --posted-from）",
    "the public posting (张榜公示) ran {0} days; policy requires at least {1}": "张榜公示 {0} 天；制度要求至少 {1} 天",
    "the posting runs through {0}; record the village review after it ends": "公示至 {0}；请在公示结束后登记评议",
    "term must be a whole number of months, got {0}": "期限必须是整月数，实际 {0}",
    "{0} needs the village credit review (grant village-review) before the survey": "{0} 在调查前需要村级信用评议（grant village-review）",
    "{0} was transferred off the loan-officer post on {1}": "{0} 已于 {1} 调离客户经理岗位",
    "line {0} is over the {1} ceiling of {2}": "额度 {0} 超过{1}最高额度 {2}",
    "term {0} months is over the {1} maximum of {2} months": "期限 {0} 个月超过{1}最长 {2} 个月",
    "line {0} is more than the {1} applied for; the survey may lower a line, not raise it (policy grants.survey_above_applied)":
        "额度 {0} 超过申请金额 {1}；调查只能调低额度，不能调高（制度 grants.survey_above_applied）",
    "{0} is pure credit (信用); it takes no guarantors": "{0} 为纯信用贷款，不需要担保人",
    "the borrower cannot guarantee their own line": "借款人不能为自己的额度担保",
    "{0} surveyed this grant; the reviewer must be a different person": "{0} 调查了本笔授信；审查人必须是另一人",
    "{0} already surveyed or reviewed this grant; the approver must be a third person": "{0} 已调查或审查本笔授信；审批人必须是第三人",
    "a total exposure of {0} needs approval by {1} or higher; {2} is {3}": "总敞口 {0} 需要{1!t}或更高层级审批；{2} 是{3!t}",
    "{0} already has a {1} application in progress: {2}": "{0} 已有一笔办理中的{1}申请：{2}",
    "{0} already holds a live {1} line: {2} (one live line per product)": "{0} 已有有效的{1}额度：{2}（每个产品只能有一笔有效额度）",
    "line {0} is over the cap for village grade {1} ({2})": "额度 {0} 超过信用等级{1}的上限（{2}）",
    "the borrower already holds a live line for this product: {0}": "借款人已有该产品的有效额度：{0}",
    "line {0} still has {1} outstanding; it can be closed once repaid": "额度 {0} 尚有余额 {1}；还清后才能关闭",
    # borrowers
    "give at least one --kind: {0}": "请至少给出一个 --kind：{0}",
    "unknown borrower kind {0}; kinds are: {1}": "未知借款人类型 {0}；可选类型：{1}",
    "settlement account may hold only digits, letters and dashes": "结算账户只能包含数字、字母和短横线",
    "a POS merchant needs --settlement-account (the union account its POS settles to)": "POS商户需要 --settlement-account（POS 结算到的联社账户）",
    "no borrower with ID {0}; register them with `credit-coop borrower add`": "没有身份证为 {0} 的借款人；请用 `credit-coop borrower add` 登记",
    "borrower {0} is already registered": "借款人 {0} 已登记",
    "ID {0}… is registered under another name": "身份证 {0}… 已以另一姓名登记",
    # operators, sign-in, roles (SPEC §2)
    "the two passphrases differ": "两次输入的口令不一致",
    "the first admin needs a passphrase: set CREDIT_COOP_PASSWORD or run init on a terminal": "第一个管理员需要口令：请设置 CREDIT_COOP_PASSWORD 或在终端运行 init",
    "give the new passphrase in CREDIT_COOP_NEW_PASSWORD or on a terminal": "请在 CREDIT_COOP_NEW_PASSWORD 或终端中给出新口令",
    "full ID numbers are for {0} only": "完整身份证号仅限{0}查看",
    "unmasked ID numbers are for {0} only": "未遮蔽的身份证号仅限{0}导出",
    "wrong passphrase ({0} attempts left before the operator is locked)": "口令错误（再错 {0} 次将锁定操作员）",
    "a passphrase needs at least {0} characters": "口令至少 {0} 个字符",
    "operator {0} is not registered in this ledger": "操作员 {0} 未在本账簿登记",
    "only {0} set another operator's passphrase": "只有{0}能设置他人的口令",
    "who is acting? pass --operator NAME or set CREDIT_COOP_OPERATOR": "谁在操作？请加 --operator 姓名 或设置 CREDIT_COOP_OPERATOR",
    "the passphrase typed is not UTF-8 text (is the terminal set to GBK?); set it to UTF-8 and type it again":
        "输入的口令不是 UTF-8 编码（终端是否设成了 GBK？）；请把终端设为 UTF-8 后重新输入",
    "what was typed for {0} is not UTF-8 text (is the terminal set to GBK?); set it to UTF-8 and type it again":
        "{0} 输入的文字不是 UTF-8 编码（终端是否设成了 GBK？）；请把终端设为 UTF-8 后重新输入",
    "operator {0} is locked after {1} failed attempts; an admin must unlock them": "操作员 {0} 已因 {1} 次错误被锁定；须由管理员解锁",
    "operator {0} is not active": "操作员 {0} 已停用",
    "operator {0} has no passphrase yet; an admin sets one with `credit-coop operator passwd {1}`":
        "操作员 {0} 尚无口令；请管理员用 `credit-coop operator passwd {1}` 设置",
    "give your passphrase (CREDIT_COOP_PASSWORD, the prompt, or `credit-coop login` for a shift)":
        "请给出口令（CREDIT_COOP_PASSWORD、提示输入，或用 `credit-coop login` 签到一个班次）",
    "wrong passphrase": "口令错误",
    "wrong passphrase; operator {0} is now locked, an admin must unlock them": "口令错误；操作员 {0} 已被锁定，须由管理员解锁",
    "this ledger has no recovery code; an admin issues one with `credit-coop operator recovery-code`":
        "本账簿没有恢复码；请管理员用 `credit-coop operator recovery-code` 生成",
    "{0} is not an admin of this ledger; recovery restores an admin only": "{0} 不是本账簿的管理员；恢复码只能恢复管理员",
    "wrong recovery code; nothing changed": "恢复码错误；未做任何更改",
    "a session lasts 1 to {0} hours (one shift, policy auth.max_session_hours)": "一次签到为 1 至 {0} 小时（一个班次，制度 auth.max_session_hours）",
    "an operator name cannot start with = + - or @": "操作员名不能以 = + - 或 @ 开头",
    "operator {0} ({1}) may not {2}; that needs: {3}": "操作员 {0}（{1!t}）无权{2!t}；需要：{3!t}",
    "`{0}` is not in the role matrix; refused": "`{0}` 不在权限表中；拒绝",
    "operator {0} ({1}) may not run `{2}`; that needs: {3}": "操作员 {0}（{1!t}）无权运行 `{2}`；需要：{3!t}",
    "{0} is the borrower here and cannot {1}": "{0} 是本笔借款人，不能{1!t}",
    "unknown role {0}; roles are: {1}": "未知岗位 {0}；可选岗位：{1}",
    "no operator changes their own role": "操作员不能更改自己的岗位",
    "no operator {0}": "没有操作员 {0}",
    "operator {0} already exists": "操作员 {0} 已存在",
    "operator {0} exists with role {1}, not {2}": "操作员 {0} 已存在，岗位为{1!t}而非{2!t}",
    "{0} already has ID number {1}; an ID number does not change": "{0} 已有身份证号 {1}；身份证号不能更改",
    # pay, funds, year-end (SPEC §7–§8)
    "the {0} year-end has already run (on {1}); a month of that year is no longer paid on its own":
        "{0} 年度年终已于 {1} 运行；该年的月份不再单独发放",
    "the payroll for {0} is posted after the month ends, not on {1}": "{0} 的绩效工资在月末之后入账，不能在 {1}",
    "{0} has not been transferred off the post; the fund is refunded in full only then": "{0} 尚未调离岗位；调离后才全额返还补偿金",
    "{0}'s fund was already settled on {1}": "{0} 的补偿金已于 {1} 结清",
    "{0} still owes {1} for compensation; the fund is refunded only once it is paid in or recovered":
        "{0} 尚欠赔偿款 {1}；缴回或收回后才返还补偿金",
    "{0} loan(s) {1} issued are not yet recovered; the fund stays until they are": "{1} 发放的 {0} 笔贷款尚未收回；收回前补偿金不返还",
    "a fund statement is for the officer themself, or {0}": "补偿金对账单只给客户经理本人或{0}查看",
    "{0} owes nothing for compensation": "{0} 没有赔偿欠款",
    "{0} is more than the {1} {2} owes": "{0} 超过 {2} 所欠的 {1}",
    "{0} is {1}, not a loan officer": "{0} 是{1!t}，不是客户经理",
    "{0} was already transferred on {1}": "{0} 已于 {1} 调岗",
    "year {0} is not a past or current year": "{0} 年不是过去或当前年度",
    "year {0} is not a year": "{0} 不是年份",
    "December {0} is not closed yet (day-end has run through {1})": "{0} 年12月尚未日终（已结至 {1}）",
    "the {0} year-end is posted after the year ends, not on {1}": "{0} 年度年终在年末之后入账，不能在 {1}",
    "the {0} year-end needs every month paid first; no payroll yet for {1}": "{0} 年度年终须先发完各月绩效；{1} 尚无绩效工资",
    "compensated {0}": "已代偿 {0}",
    "{0} became non-performing": "{0} 笔形成不良",
    "transferred; every loan recovered": "已调岗；贷款全部收回",
    "clean after a correction": "更正后无不良",
    "no longer clean": "更正后出现不良",
    # policy
    "approval.exposure_basis must be borrower_total or this_grant": "approval.exposure_basis 只能是 borrower_total 或 this_grant",
    "approval tiers must be in ascending order of up_to": "审批层级须按 up_to 从小到大排列",
    "village_review.posting_days must be at least 1": "village_review.posting_days 至少为 1",
    "auth.max_session_hours must be a whole number of hours from 1 to 24, got {0}": "auth.max_session_hours 须为 1 到 24 的整数小时，实际 {0}",
    "repayment.order must name penalty, interest_due, interest_accrued and principal once each":
        "repayment.order 须各列一次 penalty、interest_due、interest_accrued 和 principal",
    "interest.settlement must be monthly or quarterly": "interest.settlement 只能是 monthly 或 quarterly",
    "interest.settlement_day must be between 1 and 28": "interest.settlement_day 须在 1 到 28 之间",
    "interest.day_count_basis must be 360 or 365": "interest.day_count_basis 只能是 360 或 365",
    "pay.split_percent must give surveyor, reviewer and approver shares adding to 100": "pay.split_percent 中调查、审查、审批份额之和须为 100",
    "the policy defines no products": "制度中没有定义产品",
    "no product {0}; known products: {1}": "没有产品 {0}；已有产品：{1}",
    "{0} is not valid TOML: {1}": "{0} 不是有效的 TOML：{1}",
    "{0}: missing or malformed setting {1}": "{0}：缺少或写错设置 {1}",
    "every approval tier but the last needs up_to; the last has none": "除最后一级外，每个审批层级都需要 up_to；最后一级不设",
    "business_day.{0} must be a whole number of days from 0 to 366, got {1}": "business_day.{0} 须为 0 到 366 的整数天，实际 {1}",
    "product {0}: eligible_kinds must be among {1}": "产品 {0}：eligible_kinds 须在 {1} 之中",
    "product {0}: security must be among {1}": "产品 {0}：security 须在 {1} 之中",
    "product {0}: terms must be at least one month": "产品 {0}：期限至少一个月",
    "product {0}: note_term_months exceeds max_note_term_months": "产品 {0}：note_term_months 超过 max_note_term_months",
    "cannot read policy file {0}: {1}": "无法读取制度文件 {0}：{1}",
    "product {0}: village grade caps must exist and stay within its ceiling": "产品 {0}：须有信用等级上限且不超过产品最高额度",
    "product name {0} is used twice": "产品名 {0} 重复",
    # the ledger file, backups, exports, imports
    "cannot write: {0}; nothing was changed": "无法写入：{0}；未做任何更改",
    "the ledger refused the change as a conflict ({0}); nothing was posted": "账簿因冲突拒绝了更改（{0}）；未记账",
    "the ledger is busy with another posting; please retry": "账簿正在处理另一笔记账；请重试",
    "restore not confirmed; nothing changed (pass --yes to confirm)": "未确认恢复；未做任何更改（加 --yes 确认）",
    "the backup does not verify ({0} problems; first: {1})": "备份未通过校验（{0} 个问题；第一个：{1}）",
    "folder {0} does not exist": "文件夹 {0} 不存在",
    "{0} already exists; choose a new backup file": "{0} 已存在；请换一个备份文件名",
    "no backup file at {0}": "{0} 没有备份文件",
    "restore refused: {0}; nothing changed (--force REASON to restore anyway)": "拒绝恢复：{0!t}；未做任何更改（确需恢复请用 --force 原因）",
    "no sample data (policy.toml and CSVs) in {0}": "{0} 中没有样例数据（policy.toml 和 CSV）",
    "{0} exists and is not a demo ledger; refusing to replace it (choose another --db)": "{0} 已存在且不是演示账簿；拒绝覆盖（请换一个 --db）",
    "sample {0}.csv line {1} ({2} bad rows): {3}": "样例 {0}.csv 第 {1} 行（共 {2} 行有误）：{3!t}",
    "cannot write in {0}": "无法在 {0} 中写入",
    "{0} exists and was not written by credit-coop; choose another file, or pass --force to replace it":
        "{0} 已存在且不是 credit-coop 生成的；请换一个文件名，或加 --force 覆盖",
    "unknown register {0}; registers are: {1}": "未知登记簿 {0}；可选：{1}",
    "the output file must end in .xlsx": "输出文件须以 .xlsx 结尾",
    "--format must be hledger or beancount (or omit it for Excel)": "--format 只能是 hledger 或 beancount（导出 Excel 时不加）",
    "cannot write in {0}: {1}": "无法在 {0} 中写入：{1}",
    "cannot write {0}: {1}": "无法写入 {0}：{1}",
    "unknown import kind {0}; kinds are: {1}": "未知导入类型 {0}；可选类型：{1}",
    "{0} file is missing column(s): {1} (needs {2})": "{0} 文件缺少列：{1}（需要 {2}）",
    "the borrower has no approved {0} line": "借款人没有已批准的{0}额度",
    "cannot read {0}: {1}": "无法读取 {0}：{1}",
    "{0} is not UTF-8 text; save the CSV as UTF-8": "{0} 不是 UTF-8 文本；请把 CSV 另存为 UTF-8",
    "term_months {0} is not a whole number": "term_months {0} 不是整数",
    "the row has {0}": "该行有 {0}",
    "--head {0} is not a head; copy it as printed, e.g. 3f9c…e1@1234.567": "--head {0} 不是账簿指纹；请照打印的原样抄写，如 3f9c…e1@1234.567",
    "a file already exists at {0}; refusing to overwrite a ledger": "{0} 已有文件；拒绝覆盖账簿",
    "no ledger at {0}; create one with `credit-coop init` or point --db / CREDIT_COOP_DB at it":
        "{0} 没有账簿；请用 `credit-coop init` 创建，或用 --db / CREDIT_COOP_DB 指向它",
    "{0} is not a credit-coop ledger (no schema version)": "{0} 不是 credit-coop 账簿（没有结构版本）",
    "ledger {0} was written by a newer credit-coop (schema {1}, this one knows {2}); upgrade credit-coop":
        "账簿 {0} 由更新版本的 credit-coop 写入（结构 {1}，本版本识别到 {2}）；请升级 credit-coop",
    "the ledger file {0} is read-only: reading, verify and reports work; nothing can be posted":
        "账簿文件 {0} 只读：可查询、校验和出报表；不能记账",
    "cannot create a ledger at {0}: {1}": "无法在 {0} 创建账簿：{1}",
    "{0} is not a credit-coop ledger ({1})": "{0} 不是 credit-coop 账簿（{1}）",
    "ledger {0} needs an upgrade (schema {1}) but the file is read-only": "账簿 {0} 需要升级（结构 {1}），但文件只读",
    "cannot read the ledger at {0}: {1}": "无法读取账簿 {0}：{1}",
    # -- screens: receipts and one-line results ---------------------------------------
    "loan note {0} (already posted; nothing new)": "借据 {0}（已记过账，本次未重复记账）",
    "loan note {0}": "借据 {0}",
    "  card       {0}   borrower {1}": "  贷款卡号  {0}   借款人 {1}",
    "  amount     ¥{0}   drawn {1}   matures {2}": "  金额      ¥{0}   发放日 {1}   到期日 {2}",
    "  rate       {0}% a year": "  年利率    {0}%",
    "  available  ¥{0}   transaction {1}": "  可用额度  ¥{0}   交易号 {1}",
    "repayment ¥{0} on card {1} (already posted; nothing new)   transaction {2}": "还款 ¥{0}  贷款卡号 {1}（已记过账，本次未重复记账）  交易号 {2}",
    "repayment ¥{0} on card {1}   transaction {2}": "还款 ¥{0}  贷款卡号 {1}  交易号 {2}",
    "  note {0}: {1}": "  借据 {0}：{1}",
    "  outstanding ¥{0}   available ¥{1}": "  余额 ¥{0}   可用额度 ¥{1}",
    "  back-dated correction ({0}): no loan interest depended on it": "  补记更正（{0}）：不影响贷款利息",
    "  back-dated correction ({0}): {1} closed day(s) {2} .. {3} recomputed": "  补记更正（{0}）：重算已日终的 {1} 天，{2} 至 {3}",
    "    interest ¥{0} → ¥{1}   penalty ¥{2} → ¥{3}": "    利息 ¥{0} → ¥{1}   罚息 ¥{2} → ¥{3}",
    "    compensation reversed: {0}": "    冲回赔偿：{0}",
    "    compensated afresh: {0} ¥{1} by {2}": "    重新赔偿：{0} ¥{1}，由 {2}",
    "transaction {0} ({1}, ¥{2}) reversed by transaction {3}": "交易 {0}（{1!t}，¥{2}）已由交易 {3} 冲正",
    "loan note {0} managed by {1} from {2}": "借据 {0} 自 {2} 起由 {1} 管户",
    "outstanding {0}; non-performing {1}; NPL ratio {2}%": "贷款余额 {0}；不良 {1}；不良率 {2}%",
    "journal balance {0}: reconciles; compensation debt outstanding {1}; transferred {2}": "账面余额 {0}：相符；赔偿欠款余额 {1}；{2} 调岗",
    "journal balance {0}: reconciles; compensation debt outstanding {1}": "账面余额 {0}：相符；赔偿欠款余额 {1}",
    "journal balance {0}: DOES NOT RECONCILE; compensation debt outstanding {1}; transferred {2}": "账面余额 {0}：不相符！赔偿欠款余额 {1}；{2} 调岗",
    "journal balance {0}: DOES NOT RECONCILE; compensation debt outstanding {1}": "账面余额 {0}：不相符！赔偿欠款余额 {1}",
    "{0} paid in ¥{1}; still owes ¥{2}": "{0} 缴回 ¥{1}；尚欠 ¥{2}",
    "{0} transferred {1}; fund ¥{2}; {3} loan(s) not yet recovered": "{0} 于 {1} 调岗；补偿金 ¥{2}；{3} 笔贷款尚未收回",
    "{0}: fund refunded in full, ¥{1}": "{0}：补偿金全额返还 ¥{1}",
    "registered {0} {1} as {2}": "已登记 {0} {1}，类型：{2!t}",
    "grant {0}: rejected — {1}": "授信 {0}：已否决 — {1}",
    "grant {0} accepted: {1} {2} for {3}; next: grant {4}": "授信 {0} 已受理：{1} {2}，借款人 {3}；下一步：grant {4}",
    "grant {0}: village review recorded — grade {1}, line cap {2}, posted {3} days": "授信 {0}：已登记村级评议 — 等级 {1}，额度上限 {2}，公示 {3} 天",
    "grant {0}: surveyed — line {1} for {2} months, {3} guarantor(s); next: grant review": "授信 {0}：已调查 — 额度 {1}，期限 {2} 个月，担保人 {3} 名；下一步：grant review",
    "grant {0}: surveyed — line {1} for {2} months; next: grant review": "授信 {0}：已调查 — 额度 {1}，期限 {2} 个月；下一步：grant review",
    "grant {0}: reviewed; next: grant approve": "授信 {0}：已审查；下一步：grant approve",
    "grant {0} approved at the {1} tier (total exposure {2}): contract {3}, loan card {4}, line {5} valid {6} .. {7}":
        "授信 {0} 已由{1!t}层级批准（总敞口 {2}）：合同号 {3}，贷款卡号 {4}，额度 {5}，有效期 {6} 至 {7}",
    "grant {0} (card {1}): {2}": "授信 {0}（贷款卡号 {1}）：{2!t}",
    "{0}: {1} rows, {2} posted, {3} already in the ledger, {4} rejected": "{0!t}：{1} 行，记账 {2} 行，已在账中 {3} 行，拒绝 {4} 行",
    "{0}: file refused, nothing posted — {1} bad row(s) of {2}:": "{0!t}：文件被拒，未记账 — {2} 行中有 {1} 行有误：",
    "  line {0}: {1}": "  第 {0} 行：{1!t}",
    "  … and {0} more (use --rejects FILE to get them all)": "  … 另有 {0} 行（用 --rejects 文件 取得全部）",
    "wrote {0} transactions to {1} ({2})": "已把 {0} 笔交易写入 {1}（{2}）",
    "created ledger {0} for {1}; admin: {2}; products: {3}": "已为 {1} 创建账簿 {0}；管理员：{2}；产品：{3}",
    "recovery code (shown once; keep it sealed, away from the ledger): {0}": "恢复码（只显示一次；请密封保管，与账簿分开）：{0}",
    "  it unlocks an admin when no admin can sign in: credit-coop --operator ADMIN recover": "  管理员都无法登录时，用它解锁管理员：credit-coop --operator 管理员 recover",
    "operator {0} added as {1}; no passphrase yet: `credit-coop operator passwd {2}`": "已添加操作员 {0}，岗位：{1!t}；尚无口令：`credit-coop operator passwd {2}`",
    "operator {0} added as {1}": "已添加操作员 {0}，岗位：{1!t}",
    "passphrase set for {0}": "已为 {0} 设置口令",
    "{0} unlocked": "{0} 已解锁",
    "{0} is now {1}": "{0} 现为{1!t}",
    "{0}: ID number {1} recorded": "{0}：已登记身份证号 {1}",
    "{0} logged in for {1} hours": "{0} 已签到 {1} 小时",
    "{0} logged out": "{0} 已签退",
    "no session": "没有签到",
    "resident process {0} is running: {1} command(s) served, socket {2}": "常驻进程 {0} 正在运行：已执行 {1} 条命令，套接字 {2}",
    "no resident process is running": "没有正在运行的常驻进程",
    "resident process {0} stopped": "常驻进程 {0} 已停止",
    "a resident process needs Linux (fork, pidfd); run commands without one": "常驻进程需要 Linux（fork、pidfd）；请不用常驻进程直接运行命令",
    "--idle-minutes must be 1 or more": "--idle-minutes 至少为 1",
    "CREDIT_COOP_RESIDENT=off switches the resident off; unset it to start one": "CREDIT_COOP_RESIDENT=off 关闭了常驻进程；取消该设置后才能启动",
    "{0} must be a directory of your own that only you can open (chmod 700)": "{0} 必须是您自己的、只有您能打开的目录（chmod 700）",
    "a resident process is already running ({0})": "常驻进程已在运行（{0}）",
    "the resident process did not start: {0}": "常驻进程未能启动：{0}",
    "the resident process did not answer within 60 s": "常驻进程 60 秒内没有应答",
    "the resident process stopped while the command ran; look the posting up (line show, audit-log) before you run it again":
        "命令运行中常驻进程停止了；请先查询是否已记账（line show、audit-log），再决定是否重新执行",
    "{0} is unlocked with a new passphrase": "{0} 已解锁并设置新口令",
    "{0} is unlocked": "{0} 已解锁",
    "the old recovery code is used up; the new one (shown once): {0}": "旧恢复码已作废；新恢复码（只显示一次）：{0}",
    "ledger is sound: {0} checks passed, {1} accounts balance; it passes through {2} recorded head(s)": "账簿无误：{0} 项检查通过，{1} 个科目平衡；与记录的 {2} 个账簿指纹一致",
    "ledger is sound: {0} checks passed, {1} accounts balance": "账簿无误：{0} 项检查通过，{1} 个科目平衡",
    "head now: {0}  (keep it outside the file: `verify --head` proves later that nothing before it changed)": "当前账簿指纹：{0}（请记在账簿之外：日后 `verify --head` 可证明此前记录未被改动）",
    "{0} problem(s) found:": "发现 {0} 个问题：",
    "  [{0}] {1}": "  [{0}] {1!t}",
    "backed up {0} transactions to {1} ({2} bytes); the copy verifies": "已把 {0} 笔交易备份到 {1}（{2} 字节）；备份已校验",
    "restored {0} from {1} ({2} transactions, verified)": "已从 {1} 恢复 {0}（{2} 笔交易，已校验）",
    "the replaced ledger is kept as {0}": "被替换的账簿保存为 {0}",
    "warning: {0} (forced: {1})": "警告：{0!t}（强制：{1}）",
    "{0}: no ledger there yet; the backup becomes it": "{0}：尚无账簿；备份将成为账簿",
    "the backup holds everything the ledger holds; nothing is lost": "备份包含账簿的全部内容；不会丢失任何记录",
    "restoring loses {0} transaction(s) posted after the backup:": "恢复将丢失备份之后记账的 {0} 笔交易：",
    "  closed days {0} → {1} become open again": "  已日终的 {0} → {1} 将重新打开",
    "  {0} audit-log row(s) (kept in the replaced file)": "  {0} 条操作日志（保留在被替换的文件中）",
    "closed through {0} (already closed)": "已日终至 {0}（此前已结）",
    "closed {0} day(s) {1} .. {2}; {3} live loan notes": "日终 {0} 天，{1} 至 {2}；未结清借据 {3} 笔",
    "chain head {0} — write it on the day-end slip (credit-coop verify --head checks it later)":
        "账簿指纹 {0} — 请抄在日终单上（日后用 credit-coop verify --head 核对）",
    # the demo
    "imported {0} {1} ({2} s)": "已导入 {0} {1!t}（{2} 秒）",
    "operators": "操作员", "borrowers": "借款人", "draws": "用信", "repayments": "还款", "Movement": "变动",
    "posted {0} drawdowns, {1} repayments, {2} interest payments; closed every day through {3}; {4} monthly payrolls ({5} s)":
        "记账：用信 {0} 笔，还款 {1} 笔，付息 {2} 笔；逐日日终至 {3}；月度绩效 {4} 次（{5} 秒）",
    "paid December and ran the {0} year-end on {1}: {2} of {3} fund holders clean, refunds {4} ({5} s)":
        "发放12月绩效并于 {1} 运行 {0} 年度年终：{3} 名补偿金持有人中 {2} 名无不良，返还 {4}（{5} 秒）",
    "wrote the audit workbook for {0} .. {1}: {2} rows ({3} s)": "已写出 {0} 至 {1} 的稽核工作簿：{2} 行（{3} 秒）",
    "total {0} s": "合计 {0} 秒",
    "Products as of {0} — ledger vs the source's table (万元)": "截至 {0} 各产品 — 账簿与原文表格对照（万元）",
    "惠农贷: the source reports 9,322万 granted to 921 households, more than the 10万 ceiling allows (921 × 10万 = 9,210万); the ledger holds every line at its ceiling and does not bend the rule.":
        "惠农贷：原文称向 921 户授信 9,322万，超过最高额度 10万 所能达到的 9,210万（921 × 10万）；账簿把每笔额度控制在最高额度，不变通规则。",
    "\nloan classification at {0}: {1}; {2} overdue notes; NPL ratio {3}%": "\n{0} 五级分类：{1}；逾期借据 {2} 笔；不良率 {3}%",
    "compensation (全额赔偿): {0} cases, {1}; officers' outstanding debt {2}": "全额赔偿：{0} 件，{1}；客户经理欠款余额 {2}",
    "\nverify: sound": "\n校验：无误",
    "\nverify: PROBLEMS: {0}": "\n校验：发现问题：{0}",
    "demo ledger: {0}": "演示账簿：{0}",
    "audit workbook: {0}": "稽核工作簿：{0}",
    "every demo operator's passphrase is {0} (demo only). Try:": "所有演示操作员的口令都是 {0}（仅限演示）。试试：",
    # table titles
    "Loan note {0} — card {1}": "借据 {0} — 贷款卡号 {1}",
    "Line {0} — {1}": "授信额度 {0} — {1}",
    "Overdue loan notes as of {0}": "截至 {0} 的逾期借据",
    "Risk compensation fund — {0} {1}": "风险补偿金 — {0} {1} 年",
    "Risk compensation fund — {0}": "风险补偿金 — {0}",
    "Year-end {0} — {1}": "{0} 年度年终返还 — {1!t}",
    "Adjustments for earlier years after back-dated corrections (补发 / 扣回)": "补记更正后对以前年度的调整（补发 / 扣回）",
    "Over the {0}-day service level: {1} of {2} grants": "超过 {0} 天服务时限：{2} 笔授信中 {1} 笔",
    "Trial balance as of {0} — balanced": "截至 {0} 的试算平衡表 — 平衡",
    "Trial balance as of {0} — NOT BALANCED": "截至 {0} 的试算平衡表 — 不平衡！",
    "Grants ({0})": "授信（{0} 笔）",
    "Borrower {0} {1}": "借款人 {0} {1}",
    "Grant {0} — {1}": "授信 {0} — {1}",
    "Products — {0}": "产品 — {0}",
    "Approval tiers (by {0})": "审批层级（按{0!t}）",
    "borrower_total": "借款人全部额度", "this_grant": "本笔额度",
    "day-end × {0}": "日终计息 × {0}",
    "refused ({0}): {1}": "拒绝（{0}）：{1!t}",
    "failed: {0}": "失败：{0}",
    "exit {0}": "退出码 {0}",
    "{0} — {1} .. {2} (unmasked)": "{0} — {1} 至 {2}（未遮蔽）",
    "{0} — {1} .. {2}": "{0} — {1} 至 {2}",
    "Performance pay {0} — {1}": "{0} 绩效工资 — {1!t}",
    "DRY RUN — nothing posted": "试算 — 未记账",
    "run on {0}: nothing was due, nothing posted": "{0} 运行：无应发，未记账",
    "posted on {0} (transaction {1})": "{0} 入账（交易 {1}）",
    "withheld {0}%": "扣留{0}%", "payable {0}%": "应发{0}%", "holdbacks": "年度扣留", "refund_delta": "返还差额",
    "interest pay delta": "收息计酬差额",
    "Adjustments for months already paid, after back-dated corrections (补发 / 扣回)": "补记更正后对已发月份的调整（补发 / 扣回）",
    "dry run, nothing posted": "试算，未记账", "nothing was due": "无应发", "already run": "已运行过",
    # the organisation (issue 13)
    "{0} {1} added: {2}": "已添加{0!t} {1}：{2}",
    "{0} renamed: {1} → {2}": "{0} 已更名：{1} → {2}",
    "township {0}: department {1}, branch {2} from {3}": "乡镇 {0}：自 {3} 起由客户部 {1}、网点 {2} 服务",
    "village {0} is in {1}": "村 {0} 属于 {1}",
    "{0} belongs to {1} from {2}": "{0} 自 {2} 起属于 {1}",
    "Departments and branches": "客户部与网点", "Townships as of {0}": "截至 {0} 的乡镇", "Staff by unit": "人员归属",
    "unknown unit kind {0}; kinds are: {1}": "未知机构类型 {0}；可选：{1}",
    "no {0} {1}": "没有{0!t} {1}",
    "unit code {0} must be 1 to 16 letters, digits or -": "机构代码 {0} 须为 1 到 16 位字母、数字或 -",
    "unit {0} already exists": "机构 {0} 已存在",
    "a unit is already named {0}": "已有机构名为 {0}",
    "no township {0}; record it first with `credit-coop org township`": "没有乡镇 {0}；请先用 `credit-coop org township` 登记",
    "village {0} is already in {1}": "村 {0} 已属于 {1}",
    "{0} is {1}, a union-wide role; only department and branch staff belong to a unit": "{0} 是{1!t}，属联社层级岗位；只有客户部和网点人员归属机构",
    "{0} is {1} and belongs to a {2}; {3} is a {4}": "{0} 是{1!t}，应归属{2!t}；{3} 是{4!t}",
    "grant {0} belongs to department {1}; {2} ({3}) is in {4} and may not {5} it": "授信 {0} 属于客户部 {1}；{2}（{3!t}）属于 {4}，不能{5!t}",
    "loan card {0} is designated to branch {1}; {2} serves {3} (通存通兑 is off: policy organisation.any_branch_service)":
        "贷款卡 {0} 指定在网点 {1} 办理；{2} 属于网点 {3}（未开通通存通兑：制度 organisation.any_branch_service）",
    "Departments as of {0}": "截至 {0} 各客户部", "Branches as of {0}": "截至 {0} 各网点",
    "NPL ratio %": "不良率%", "avg monthly pay": "月均绩效工资", "unit name": "机构名称",
    "Controls by unit": "按机构控制合计", "Unit kind": "机构类型", "Unit": "机构", "Unit name": "机构名称",
    "Loan notes drawn": "借据发放", "Repayments taken": "还款收回", "Compensation paid": "赔偿支付",
    "Department": "客户部", "Designated branch": "指定网点",
    "By {0}": "按{0!t}", "Products by {0} (万元)": "按{0!t}统计产品（万元）", "overdue": "逾期本金", "non-performing": "不良",
    "late": "超时", "Products (万元; source = SPEC §8) — {0}": "产品（万元；原文数据见 SPEC §8）— {0}",
    "Products (万元; source = SPEC §8)": "产品（万元；原文数据见 SPEC §8）",
    "no department or branch {0}": "没有客户部或网点 {0}",
    "--by must be department for officers, got {0}": "客户经理报表的 --by 只能是 department，实际 {0}",
    "--by must be department or branch, got {0}": "--by 只能是 department 或 branch，实际 {0}",
    "department": "客户部", "branch": "网点", "department or branch": "客户部或网点", "unit": "所属机构",
    "township": "乡镇", "villages": "村", "designated branch": "指定网点",
    "record the village review of": "登记村级评议",
    # verify's findings
    "transaction {0}: debits {1} != credits {2} ({3} lines)": "交易 {0}：借方 {1} ≠ 贷方 {2}（{3} 行）",
    "journal line {0} belongs to no transaction": "分录 {0} 不属于任何交易",
    "journal line {0} must have exactly one positive side": "分录 {0} 必须恰有一方为正数",
    "loan note id {0}: account {1} at {2}": "借据（内部号 {0}）：科目 {1} 余额为 {2}",
    "grant {0}: kept position (principal {1}, last counter posting {2}) differs from the journal ({3}, {4})":
        "授信 {0}：保存的头寸（本金 {1}，最后柜面交易 {2}）与账面不符（{3}，{4}）",
    "reversal transaction {0} does not mirror its original": "冲正交易 {0} 与原交易不对应",
    "protective trigger {0} is missing: posted rows could be altered": "保护触发器 {0} 缺失：已记账记录可能被改动",
    "loan note {0}: day-end state (principal {1}, interest due {2}, penalty claimed {3}) differs from the journal ({4}, {5}, {6})":
        "借据 {0}：日终状态（本金 {1}，应收利息 {2}，已转应收罚息 {3}）与账面不符（{4}，{5}，{6}）",
    "loan note {0}: day-end state {1} is {2}, but replaying its postings from the last settlement day gives {3}":
        "借据 {0}：日终状态{1!t}为 {2}，但从上一结息日按其交易重算得 {3}",
    "accrued {0} of product {1}: the notes hold {2} but the ledger's accrued account holds {3}":
        "产品 {1} 的已计提{0!t}：各借据合计 {2}，总账已计提科目为 {3}",
    "payroll {0}: recorded holdbacks or payables differ from the journal": "{0} 绩效工资：记录的扣留或应发与账面不符",
    "officer {0}: {1} balance {2} has the wrong sign": "客户经理 {0}：{1} 余额 {2} 方向错误",
    "compensation case {0} (note id {1}) differs from its journal lines": "赔偿案件 {0}（借据内部号 {1}）与其分录不符",
    "year-end {0}: recorded refunds differ from the journal": "{0} 年度年终：记录的返还与账面不符",
    "transaction {0} ({1}, {2}) posts to loan note {3} drawn later, on {4}": "交易 {0}（{1!t}，{2}）记在借据 {3} 上，而该借据 {4} 才发放",
    "grant {0}: line {1} / card {2} is not what its recorded survey and approval say ({3} / {4})":
        "授信 {0}：额度 {1} / 贷款卡 {2} 与记录的调查、审批不符（{3} / {4}）",
    "transaction {0} {1}; everything from there on is suspect": "交易 {0} {1!t}；此后的全部记录均可疑",
    "the recorded head {0} names {1}, which this ledger no longer has (deleted after the head was recorded)":
        "记录的账簿指纹 {0} 指向 {1}，本账簿已没有（在记录指纹后被删除）",
    "this ledger's history up to transaction {0} / record {1} differs from the head {2} recorded earlier: it was rewritten at or before that point":
        "本账簿截至交易 {0} / 记录 {1} 的历史与此前记录的指纹 {2} 不符：在该点或之前被改写过",
    "total debits {0} != total credits {1}": "借方合计 {0} ≠ 贷方合计 {1}",
    "loan note {0}: face {1} but the journal disbursed {2}": "借据 {0}：票面 {1}，但账面发放 {2}",
    "loan note {0}: principal {1} outside 0..{2}": "借据 {0}：本金 {1} 不在 0 至 {2} 之间",
    "grant {0}: unknown product {1}": "授信 {0}：未知产品 {1}",
    "grant {0}: line {1} over the {2} ceiling {3}": "授信 {0}：额度 {1} 超过{2}最高额度 {3}",
    "grant {0}: term {1} months over the maximum {2}": "授信 {0}：期限 {1} 个月超过最长 {2} 个月",
    "grant {0}: outstanding principal {1} is negative": "授信 {0}：本金余额 {1} 为负数",
    "grant {0}: outstanding {1} over its line {2}": "授信 {0}：余额 {1} 超过额度 {2}",
    "compensation of loan note {0}: recovered {1} is more than the {2} compensated": "借据 {0} 的赔偿：收回 {1} 超过赔偿额 {2}",
    "compensation of loan note {0}: {1} recovered to the officer's debt, outside 0..{2}": "借据 {0} 的赔偿：归还客户经理垫款 {1}，不在 0 至 {2} 之间",
    "officer {0}: debt {1} is more than the unrecovered shortfall of their compensation cases ({2})":
        "客户经理 {0}：欠款 {1} 超过其赔偿案件未收回的欠款（{2}）",
    "the journal matches the slips through transaction {0} and diverges between transactions {1} and {2}":
        "账面与日终单相符至交易 {0}，在交易 {1} 与 {2} 之间出现分歧",
    "grant {0}: surveyor, reviewer and approver are not three different people": "授信 {0}：调查人、审查人、审批人不是三个不同的人",
    "grant {0}: approved without a contract and loan card number": "授信 {0}：已批准却没有合同号和贷款卡号",
    "record {0}: {1}": "记录 {0}：{1!t}",
    "does not match its chain link (edited outside the program)": "与其链接不符（在程序之外被修改）",
    "records {0} {1}, which {2}": "记录了{0!t} {1}，该记录{2!t}",
    "is gone": "已不存在", "was changed": "已被修改", "audit": "操作日志", "grant event": "授信事件",
    "{0} {1} is not in the record chain (inserted outside the program)": "{0!t} {1} 不在记录链中（在程序之外插入）",
    "operator {0} differs from their last recorded change (role, active, ID number or passphrase)":
        "操作员 {0} 与其最后一次记录的变更不符（岗位、在岗、身份证号或口令）",
    # words that fill the sentences above ({0!t})
    "amount": "金额", "repayment amount": "还款金额", "drawdown amount": "用信金额", "guarantor ID number": "担保人身份证号",
    "operator's ID number": "操作员身份证号", "business date (--on)": "营业日期（--on）", "ID number": "身份证号", "pay-in amount": "缴回金额", "line amount": "授信额度",
    "applied amount": "申请金额", "survey": "调查", "review": "审查", "approval": "审批", "approve": "审批",
    "village review": "村级评议", "drawdown or repayment": "用信或还款", "--on": "--on",
}

_PLACEHOLDER = re.compile(r"\{(\d+)(!t)?\}")


def _compile(template: str) -> re.Pattern:
    """``{0} {1} is too large`` → a pattern. A value right after another value and a space (``{0} {1}``:
    what was typed, after what it is) is one token or a quoted string, so ``drawdown amount '10²'``
    splits as ``drawdown amount`` + ``'10²'``."""
    parts, pos, last_end = [], 0, -1
    for m in re.finditer(r"\{(\d+)\}", template):
        between = template[pos:m.start()]
        parts.append(re.escape(between.replace("{{", "{").replace("}}", "}")))
        token = between == " " and last_end == pos
        parts.append(f"(?P<p{m[1]}>'[^']*'|\"[^\"]*\"|\\S+)" if token else f"(?P<p{m[1]}>.+?)")
        pos = last_end = m.end()
    parts.append(re.escape(template[pos:].replace("{{", "{").replace("}}", "}")))
    return re.compile("^" + "".join(parts) + "$", re.DOTALL)


# the most specific template first (more fixed text), so "{0} {1} is too large" beats "{0} is too large".
# A pattern is compiled only when its longest fixed piece is in the text (the counter prints a few
# sentences; compiling all ~300 patterns would cost it ~20 ms).
_RANKED: list[tuple[str, str, str, str]] | None = None
_COMPILED: dict[str, re.Pattern] = {}


def _candidates(text: str):
    global _RANKED
    if _RANKED is None:
        ranked = sorted((t for t in MESSAGES if "{" in t), key=lambda t: -len(re.sub(r"\{\d+\}", "", t)))
        _RANKED = []
        for t in ranked:
            pieces = re.split(r"\{\d+\}", t)
            _RANKED.append((t, pieces[0], pieces[-1], max(pieces, key=len)))
    for template, head, tail, anchor in _RANKED:
        if text.startswith(head) and text.endswith(tail) and anchor in text:
            pattern = _COMPILED.get(template)
            if pattern is None:
                pattern = _COMPILED[template] = _compile(template)
            yield pattern, MESSAGES[template]


def name(code, lang: str | None = None) -> str:
    """A stored code as staff read it: ``approved`` → ``已批准`` (``approved`` in English)."""
    if code is None:
        return ""
    entry = CODES.get(str(code))
    if entry is None:
        return str(code)
    return entry[0] if (lang or language()) == "zh" else entry[1]


def pad(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal cells (a Chinese character takes two)."""
    import unicodedata

    cells = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(width - cells, 0)


def names(codes, lang: str | None = None) -> str:
    """Several codes, named and listed: ``惠农贷、商贷通`` / ``hnd, sdt``."""
    lang = lang or language()
    return ("、" if lang == "zh" else ", ").join(name(c, lang) if lang == "zh" else str(c) for c in codes)


def month_count(n, lang: str | None = None) -> str:
    """``36 个月`` / ``36 months``."""
    return f"{n} 个月" if (lang or language()) == "zh" else f"{n} months"


def register_products(products: dict) -> None:
    """The ledger's products (code → its policy's name) become codes a screen names."""
    for code, p in products.items():
        CODES[code] = (p["name"], code)


def cell(value, lang: str | None = None) -> str:
    """A table cell that holds a code (status, class, kind, role): its name; a sentence otherwise."""
    if value is None:
        return ""
    text = str(value)
    if (lang or language()) != "zh":
        return text
    return CODES[text][0] if text in CODES else translate(text, "zh")


def label(text: str, lang: str | None = None) -> str:
    """A label (column header, field name, title word) in the language in use."""
    if (lang or language()) != "zh":
        return text
    return TERMS.get(text) or (CODES[text][0] if text in CODES else None) or MESSAGES.get(text) or text


def _value(text: str) -> str:
    """A value inside a sentence: a code first (``surveyed`` is a status here, not a column)."""
    if text in CODES:
        return CODES[text][0]
    for sep, joined in ((" or ", "或"), (", ", "、")):
        if sep in text and all(part in CODES for part in text.split(sep)):
            return joined.join(CODES[part][0] for part in text.split(sep))
    return translate(text, "zh")


def translate(text, lang: str | None = None) -> str:
    """Any English text the ledger shows — a label, a code or a whole sentence with values in it —
    in the language in use; text the table does not know is shown as it is."""
    if text is None:
        return ""
    text = str(text)
    if (lang or language()) != "zh":
        return text
    exact = TERMS.get(text) or MESSAGES.get(text)
    if exact:
        return exact
    if text in CODES:
        return CODES[text][0]
    for pattern, zh in _candidates(text):
        m = pattern.match(text)
        if m:
            return _PLACEHOLDER.sub(lambda p: _value(m[f"p{p[1]}"]) if p[2] else m[f"p{p[1]}"], zh)
    if "; " in text:  # a refusal that joins several sentences
        return "；".join(translate(part, "zh") for part in text.split("; "))
    if ", " in text and all(part in CODES or part in TERMS for part in text.split(", ")):
        return "、".join(translate(part, "zh") for part in text.split(", "))
    return text
