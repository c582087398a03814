"""What a person types with a Chinese input method, made plain before it is parsed (issue 15).

A Chinese IME in full-width mode types ``１０００``, ``１，０００．００``, ``２０２５／３／１`` and the
ideographic space. Only those forms are folded, the full-width block (U+FF01–U+FF5E, exactly
NFKC's mapping for it), the ideographic space (U+3000) and the full-width yen sign, plus the
ideographic full stop ``。`` typed for a decimal point in amounts. General NFKC is not applied: it
would turn ``10²`` into ``102`` and ``①`` into ``1``, which must stay refused.
"""

_FOLD = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_FOLD[0x3000] = 0x20
_FOLD[0xFFE5] = ord("¥")


def halfwidth(text: str) -> str:
    """``'１，０００．００'`` → ``'1,000.00'``; every other character is left as typed."""
    return text.translate(_FOLD)


def amount_text(text: str) -> str:
    """An amount as typed, folded: full-width forms, and ``。`` (the IME's full stop) as the decimal point."""
    return halfwidth(text).replace("。", ".")


def not_utf8(text: str) -> bool:
    """Bytes that were not UTF-8 (a terminal set to GBK on a UTF-8 system), which Python keeps as lone
    surrogates: no ledger, screen or file can take them, and a passphrase so typed is not the one set."""
    return any("\ud800" <= c <= "\udfff" for c in text)
