"""Identity keys: the ONE place where a value becomes the key that says "the same person".

Matching (its ``email`` prepare kind), survivorship (consent keys), governance (erasure stores,
suppression lists, the consent ledger, segments) and consent all call these functions, so one
address or number gets one key everywhere: ``+44 (0)20 7946-0000``, ``+44 20 7946 0000``,
``0044 20 7946 0000``, ``+44.20.7946.0000`` and (with region ``GB``) ``020 7946 0000`` all key
to ``+442079460000``.

* :func:`email_key`: trimmed, lower case, ``mailto:`` dropped, ``+tag`` dropped, Gmail dots
  dropped (``googlemail.com`` is ``gmail.com``): the mailbox. None when the text has no local
  part, no ``@``, no dot in the domain, or a space.
* :func:`phone_key`: the E.164 number of :func:`~crmcore.normalize.normalize_phone` (with
  ``;ext=N`` when there is an extension; ``region`` reads national numbers); a number that
  normaliser rejects keys by its digits (``+`` kept for international input, a ``(0)`` trunk
  prefix dropped), so the same text always finds itself.
* :func:`person_name_key`: :func:`~crmcore.normalize.name_key` (accents and case folded,
  ``"Smith, John"`` is ``john smith``).
* :func:`contact_point_key`: the key of a consent contact point for its channel.
* :func:`identifier_keys` / :func:`text_identifier_keys`: the typed keys (``email:...``,
  ``phone:...``, ``name_dob:...``) of a record or of free text.

:func:`email_key` has a batch form (a pyarrow kernel registered with
:func:`crmcore.io._arrow.register_batch`, giving exactly the scalar results; :func:`email_keys`).

Example:
    >>> email_key(" Ann.Lee+news@GoogleMail.com "), phone_key("+44 (0)20 7946-0000")
    ('annlee@gmail.com', '+442079460000')
    >>> phone_key("020 7946 0000", "GB"), contact_point_key("sms", "+44 20 7946 0000")
    ('+442079460000', '+442079460000')
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from crmcore.io._arrow import batch_map, before_plus, digits_only, register_batch
from crmcore.normalize._names import name_key
from crmcore.normalize._phone import international_fast_batch, normalize_phone

#: Consent channels whose contact point is a phone number.
PHONE_CHANNELS = frozenset({"phone", "sms", "whatsapp", "call", "voice", "mobile"})

_GMAIL = frozenset({"gmail.com", "googlemail.com"})
_EXTENSION = re.compile(
    r"\s*[(\[]?\s*(?:extension|ext\.?|x|#|;\s*ext=)\s*(?P<ext>\d{1,6})\s*[)\]]?\s*$",
    re.IGNORECASE,
)
_NON_DIGIT = re.compile(r"\D+")
_IDD_TEXT = "^[^0-9]*0[^0-9]*0"  # the digits start with 00: an international call prefix
_IDD = re.compile(_IDD_TEXT)
_EMAIL_IN_TEXT = re.compile(r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_PHONE_IN_TEXT = re.compile(r"\+?\d[\d\s().\-/]{6,}\d")
_DOB_FIELDS = ("dob", "birth_date", "date_of_birth")
_REGION_FIELDS = ("country", "country_code")


def email_key(value: object) -> str | None:
    """The identity key of an e-mail address (the mailbox), or None when it is not one.

    An address with a display name (``John Smith <John.Smith@Acme.io>``, as mail programs
    export it) is its address in angle brackets.

    Example:
        >>> email_key("mailto:Bob+crm@Acme.io"), email_key("not an email")
        ('bob@acme.io', None)
        >>> email_key('"Smith, John" <John.Smith@Acme.io>')
        'john.smith@acme.io'
    """
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if text.endswith(">") and "<" in text:
        text = text[text.rindex("<") + 1 : -1].strip()
    if text.startswith("mailto:"):
        text = text[7:]
    local, at, domain = text.rpartition("@")
    if not at or not local or "." not in domain or " " in text:
        return None
    local = local.split("+", 1)[0]
    if domain in _GMAIL:
        local = local.replace(".", "")
        domain = "gmail.com"
    return f"{local}@{domain}" if local else None


def _email_kernel(pc: Any, arr: Any) -> Any:
    """:func:`email_key` over printable-ASCII text (pyarrow)."""
    import pyarrow as pa

    text = pc.ascii_lower(pc.utf8_trim(arr, " "))
    angled = pc.fill_null(pc.match_substring(text, "<"), False)
    if pc.any(angled).as_py():  # display names are few: the regex runs on those rows only
        inner = pc.replace_substring_regex(text.filter(angled), "^.*<([^<]*)>$", "\\1")
        text = pc.replace_with_mask(text, angled, pc.utf8_trim(inner, " "))
    text = pc.replace_substring_regex(text, "^mailto:", "", max_replacements=1)
    parts = pc.split_pattern(text, "@", max_splits=1, reverse=True)
    has_at = pc.equal(pc.list_value_length(parts), 2)
    padded = pc.if_else(has_at, parts, pa.scalar(["", ""], type=parts.type))
    local = pc.list_element(padded, 0)
    domain = pc.list_element(padded, 1)
    usable = pc.and_(
        pc.and_(has_at, pc.greater(pc.utf8_length(local), 0)),
        pc.and_(pc.match_substring(domain, "."), pc.invert(pc.match_substring(text, " "))),
    )
    local = before_plus(pc, local)
    gmail = pc.or_(pc.equal(domain, "gmail.com"), pc.equal(domain, "googlemail.com"))
    local = pc.if_else(gmail, pc.replace_substring(local, ".", ""), local)
    domain = pc.if_else(gmail, "gmail.com", domain)
    joined = pc.binary_join_element_wise(local, domain, "@")
    return pc.if_else(pc.and_(usable, pc.greater(pc.utf8_length(local), 0)), joined, None)


register_batch(email_key, _email_kernel)


def email_keys(values: Sequence[str]) -> list[str | None]:
    """``[email_key(v) for v in values]``, computed in pyarrow when it is installed."""
    return batch_map(email_key, values)


def phone_key(value: object, region: str | None = None) -> str | None:
    """The identity key of a phone number, or None when it has fewer than 5 digits.

    Args:
        value: The number as written.
        region: Default region (ISO alpha-2 or a country name) for numbers written without a
            country code; without it such numbers key by their digits.

    An extension is kept as ``;ext=N`` (colleagues on one switchboard are different people),
    whether the number parses to E.164 or keys by its digits.

    Example:
        >>> phone_key("0044 20 7946 0000 ext. 12"), phone_key("12-34")
        ('+442079460000;ext=12', None)
        >>> phone_key("404-724-1484 x101")
        '4047241484;ext=101'
    """
    if not isinstance(value, str):
        return None
    if region is not None or "+" in value or _IDD.match(value):
        e164 = normalize_phone(value, region)
        if e164 is not None:
            return e164
    # else: no country code and no region, which normalize_phone always rejects
    stripped = value.strip()
    extension = _EXTENSION.search(stripped)
    text = (stripped if extension is None else stripped[: extension.start()]).replace("(0)", "")
    digits = _NON_DIGIT.sub("", text)
    international = text.startswith("+")
    if not international and digits.startswith("00"):
        international, digits = True, digits[2:]
    if len(digits) < 5:
        return None
    key = "+" + digits if international else digits
    if international:  # the digits as a number (the writing may hold noise E.164 refused)
        key = normalize_phone(key, None) or key
    return key if extension is None else f"{key};ext={extension.group('ext')}"


def _phone_kernel(pc: Any, arr: Any) -> Any:
    """:func:`phone_key` over printable ASCII: national writings (no ``+``, no ``00``) and the
    international ones the phone fast path decides (:func:`international_fast_batch`); the
    other international writings are left to the scalar function (``(keys, leave)``).

    Without a region such a number has no country code, so the key is its digits once the
    extension (kept as ``;ext=N``) and a ``(0)`` are taken out (None under 5 digits), as in the
    scalar function.
    """
    pa = _pyarrow()
    pattern = "(?i)" + _EXTENSION.pattern
    text = pc.utf8_trim(arr, " ")
    # an extension needs an x, a # or a ; (the regular expressions run on those rows only)
    marked = pc.fill_null(pc.match_substring_regex(text, "[xX#;]"), False)
    extension = pa.nulls(len(text), pa.string())
    if pc.any(marked).as_py():
        some = pc.filter(text, marked)
        extension = pc.replace_with_mask(
            extension, marked, pc.struct_field(pc.extract_regex(some, pattern), [0])
        )
        text = pc.replace_with_mask(text, marked, pc.replace_substring_regex(some, pattern, ""))
    digits = digits_only(pc, pc.replace_substring(text, "(0)", ""))
    key = pc.if_else(
        pc.is_null(extension), digits, pc.binary_join_element_wise(digits, extension, ";ext=")
    )
    national = pc.if_else(pc.less(pc.utf8_length(digits), 5), None, key)
    # international writings: in pyarrow where the phone fast path decides, else per value
    international = pc.or_(pc.match_substring(arr, "+"), pc.match_substring_regex(arr, _IDD_TEXT))
    e164, decided = international_fast_batch(pa, pc, arr)
    return pc.if_else(decided, e164, national), pc.and_(international, pc.invert(decided))


def _pyarrow() -> Any:
    import pyarrow as pa

    return pa


register_batch(phone_key, _phone_kernel, partial=True)


def phone_keys(values: Sequence[str]) -> list[str | None]:
    """``[phone_key(v) for v in values]``: national writings in pyarrow when it is installed,
    international ones (which need the phone number metadata) one call per value."""
    return batch_map(phone_key, values)


def person_name_key(value: object) -> str | None:
    """The identity key of a person's name (:func:`~crmcore.normalize.name_key`), or None."""
    return name_key(value) if isinstance(value, str) else None


def date_of_birth_key(value: object) -> str | None:
    """ISO date text of a date of birth (dates, datetimes and ISO strings), or None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    text = str(value).strip()
    return text[:10] if text else None


def contact_point_key(channel: str, value: str, region: str | None = None) -> str:
    """The key of a consent contact point: e-mails by :func:`email_key`, numbers of phone
    channels by :func:`phone_key`, anything else (and what those reject) case-folded with
    whitespace collapsed.

    Example:
        >>> contact_point_key("email", " Ann@Acme.io "), contact_point_key("post", " 1 High  St ")
        ('ann@acme.io', '1 high st')
    """
    key: str | None = None
    if channel == "email":
        key = email_key(value)
    elif channel in PHONE_CHANNELS:
        key = phone_key(value, region)
    return key if key is not None else " ".join(value.split()).casefold()


def _values(value: object) -> list[object]:
    if value is None:
        return []
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    return [value]


def _region_of(record: Mapping[str, Any], region: str | None) -> str | None:
    for field in _REGION_FIELDS:
        value = record.get(field)
        if isinstance(value, str) and value.strip():
            return value
    return region


def identifier_keys(record: Mapping[str, Any], *, region: str | None = None) -> list[str]:
    """Typed identifier keys of a flat or model-shaped record.

    Emails (``email``, ``emails``), phones (``phone``, ``mobile``, ``phones``; national numbers
    read in the record's ``country``, else ``region``) and the pair name + date of birth, each
    as ``"kind:key"``.

    Example:
        >>> identifier_keys({"email": "Ann@Acme.io", "phone": "020 7946 0000", "country": "GB"})
        ['email:ann@acme.io', 'phone:+442079460000']
    """
    keys: list[str] = []
    for field in ("email", "emails"):
        for value in _values(record.get(field)):
            email = email_key(value) if isinstance(value, str) else None
            if email:
                keys.append("email:" + email)
    where = _region_of(record, region)
    for field in ("phone", "mobile", "phones"):
        for value in _values(record.get(field)):
            phone = phone_key(value, where) if isinstance(value, str) else None
            if phone:
                keys.append("phone:" + phone)
    name = record.get("full_name")
    if not name:
        parts = [record.get("first_name"), record.get("last_name")]
        name = " ".join(str(p) for p in parts if p) or None
    dob = date_of_birth_key(next((record[f] for f in _DOB_FIELDS if record.get(f)), None))
    folded = person_name_key(name)
    if folded and dob:
        keys.append(f"name_dob:{folded}|{dob}")
    return keys


def text_identifier_keys(text: object, *, region: str | None = None) -> list[str]:
    """``email:`` and ``phone:`` keys of the addresses and numbers written in free text.

    Used on notes, activity bodies and the like, so erasure also finds the records that merely
    mention a person.

    Example:
        >>> text_identifier_keys("call Ann on +44 20 7946 0000 or ann@acme.io")
        ['email:ann@acme.io', 'phone:+442079460000']
    """
    if not isinstance(text, str) or not text:
        return []
    keys: list[str] = []
    if "@" in text:
        for match in _EMAIL_IN_TEXT.findall(text):
            email = email_key(match.strip("."))
            if email:
                keys.append("email:" + email)
    for match in _PHONE_IN_TEXT.findall(text):
        phone = phone_key(match, region)
        if phone and sum(c.isdigit() for c in phone) >= 7:
            keys.append("phone:" + phone)
    return keys
