"""Shared hypothesis strategies for the normalizer tests."""

from __future__ import annotations

import phonenumbers
from hypothesis import strategies as st

__all__ = ["any_text", "long_text", "phone_text", "realistic_text", "region"]

# Any Unicode, surrogates and control characters included.
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)

long_text = st.text(alphabet="ab1 @.-,+()éß\u200b\x00", min_size=1500, max_size=3000)

_WORD_TEXT = (
    "the The ACME Acme and & Co Co. Inc Inc. L.L.C. Ltd Pty. GmbH KG S.A. s.a. A/S Kabushiki "
    'Kaisha K.K. Mr Dr. Jr. PhD , van de O\'Brien José ß x J. - (Bob) "Liz" St. Street Apt # '
    "12 4B N.W. P.O. Box straße +tag @ gmail.com acme.io xn--bcher-kva.de . sa e.V. +1 415 555 "
    "0134 ext. x / 2025 03 04 March UK United Kingdom of Korea, Republic ı İ ǅ ﬁ Ⅻ ① NA n/a"
)
_WORDS = _WORD_TEXT.split(" ")

realistic_text = st.one_of(
    st.lists(st.sampled_from(_WORDS), max_size=7).map(" ".join),
    st.lists(st.sampled_from(_WORDS), max_size=7).map("".join),
)

region = st.sampled_from(
    [None, "US", "GB", "DE", "FR", "NL", "SE", "ES", "IT", "JP", "AU", "CA", "BR", "IN", "CH"]
)

_CODES = sorted(str(cc) for cc in phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


@st.composite
def phone_text(draw: st.DrawFn) -> str:
    """Phone-like text: E.164, international or national with separators, IDD, extensions."""
    digits = draw(st.text("0123456789", min_size=3, max_size=14))
    lead = draw(st.sampled_from(["", "+", "+", "00", "0", "1", "011", "(0)", "cc", "+cc(0)"]))
    code = draw(st.sampled_from(_CODES))
    if lead in {"+", "00"}:
        digits = code + digits
    elif lead == "cc":  # a country code written without '+' ("44 20 7946 0958")
        lead, digits = "", code + digits
    elif lead == "+cc(0)":  # a national prefix after the country code
        lead, digits = "+", f"{code} (0){digits}"
    text = lead + digits
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + draw(st.sampled_from([" ", "-", ".", ") ", " ("])) + text[cut:]
    if draw(st.integers(0, 4)) == 0:
        text += draw(st.sampled_from([" x12", " ext. 7", " (ext. 123)", ";ext=5", " #99"]))
    return text.strip() or "0"
