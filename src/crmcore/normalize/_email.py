"""E-mail addresses: trimmed, IDNA-aware domain, provider rules, placeholders rejected.

Rules, in order:

1. Trim; drop a ``mailto:`` prefix and surrounding ``<...>``; take the address out of
   ``"Name <addr>"``.
2. Exactly one ``@``; a local part of 1-64 characters from the RFC 5322 "atom" set (plus
   Unicode letters), no leading, trailing or doubled dots; quoted local parts are rejected.
3. The domain is lowercased and checked label by label through IDNA (``xn--`` and Unicode forms
   are the same domain); the result is written in its Unicode form (``bücher.de``). It needs at
   least two labels and an alphabetic (or ``xn--``) top-level label.
4. The local part is lowercased unless ``lowercase_local=False``.
5. Provider rules: for ``gmail.com`` / ``googlemail.com`` dots in the local part are ignored,
   a ``+tag`` is dropped and the domain becomes ``gmail.com``. With ``strip_plus=True`` a
   ``+tag`` is dropped for every domain.
6. Placeholders (``test@test.com``, ``noreply@...``, reserved domains such as ``example.com`` or
   ``*.invalid``) are rejected with rule ``email.placeholder``.
"""

from __future__ import annotations

import re
from collections.abc import MutableSequence

from crmcore.errors import FieldProblem
from crmcore.normalize._core import Normalizer, Outcome, Rejection, clean_text

_ANGLE = re.compile(r"<([^<>]*)>")
_LOCAL_OK = re.compile(r"^[\w!#$%&'*+/=?^`{|}~.-]+$")
_LABEL_OK = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TLD_OK = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")

_GMAIL = frozenset({"gmail.com", "googlemail.com"})

_PLACEHOLDER_LOCALS = frozenset(
    {
        "asdf",
        "donotreply",
        "do-not-reply",
        "do.not.reply",
        "dontreply",
        "dummy",
        "fake",
        "invalid",
        "na",
        "n/a",
        "noemail",
        "no-email",
        "no.email",
        "nomail",
        "no-mail",
        "none",
        "noreply",
        "no-reply",
        "no_reply",
        "null",
        "test",
        "unknown",
        "xxx",
    }
)
_PLACEHOLDER_DOMAINS = frozenset(
    {
        "example.com",
        "example.net",
        "example.org",
        "test.com",
        "test.org",
        "domain.com",
        "email.invalid",
        "noemail.com",
        "none.com",
        "null.com",
        "fake.com",
        "asdf.com",
        "unknown.com",
    }
)
_RESERVED_TLDS = frozenset({"test", "example", "invalid", "localhost", "local"})


def _domain(raw: str) -> str | Rejection:
    domain = raw.rstrip(".").lower()
    if not domain or len(domain) > 253:
        return Rejection("email.domain", "the domain is empty or longer than 253 characters")
    labels = domain.split(".")
    if len(labels) < 2:
        return Rejection("email.domain", "the domain needs at least two labels (name.tld)")
    ascii_labels: list[str] = []
    unicode_labels: list[str] = []
    for label in labels:
        if not label:
            return Rejection("email.domain", "the domain has an empty label")
        if label.isascii():
            a_label = label
        else:
            try:
                a_label = label.encode("idna").decode("ascii")
            except UnicodeError:
                return Rejection("email.domain", f"label {label!r} is not a valid IDNA label")
        if not _LABEL_OK.match(a_label):
            return Rejection("email.domain", f"label {label!r} has characters not allowed")
        if a_label.startswith("xn--"):
            try:
                u_label = a_label.encode("ascii").decode("idna")
            except UnicodeError:
                return Rejection("email.domain", f"label {label!r} is not valid punycode")
            # Round-trip check: the Unicode form must encode back to the same A-label.
            try:
                if u_label.encode("idna").decode("ascii") != a_label:
                    return Rejection("email.domain", f"label {label!r} is not canonical IDNA")
            except UnicodeError:
                return Rejection("email.domain", f"label {label!r} is not valid punycode")
        else:
            u_label = a_label
        ascii_labels.append(a_label)
        unicode_labels.append(u_label)
    if not _TLD_OK.match(ascii_labels[-1]):
        return Rejection("email.domain", f"top-level label {labels[-1]!r} is not a valid TLD")
    if len(".".join(ascii_labels)) > 253:
        return Rejection("email.domain", "the domain is longer than 253 characters")
    return ".".join(unicode_labels)


_FAST = re.compile(
    r"([a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*)"
    r"@((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63})",
    re.IGNORECASE,
)


def _email_core(text: str, *, strip_plus: bool = False, lowercase_local: bool = True) -> Outcome:
    if text.isascii():
        found = _FAST.fullmatch(text)
        if found is not None:
            local, domain = found.groups()
            if len(local) <= 64 and len(domain) <= 253 and "xn--" not in domain.lower():
                return _provider_rules(local, domain.lower(), strip_plus, lowercase_local)
    return _email_full(text, strip_plus=strip_plus, lowercase_local=lowercase_local)


def _email_full(text: str, *, strip_plus: bool = False, lowercase_local: bool = True) -> Outcome:
    """The reference path for any text (the fast path of :func:`_email_core` agrees with it)."""
    text = clean_text(text)
    if "<" in text:
        found = _ANGLE.search(text)
        if found is None:
            return Rejection("email.format", "unbalanced angle brackets")
        text = found.group(1).strip()
    if text[:7].lower() == "mailto:":
        text = text[7:].split("?", 1)[0].strip()
    if not text:
        return None
    if " " in text:
        return Rejection("email.format", "an e-mail address cannot contain spaces")
    if text.count("@") != 1:
        return Rejection("email.format", "an e-mail address needs exactly one '@'")
    local, raw_domain = text.split("@")
    if not local or len(local) > 64:
        return Rejection("email.local", "the local part must have 1 to 64 characters")
    if not _LOCAL_OK.match(local) or local.startswith(".") or local.endswith("."):
        return Rejection("email.local", f"the local part {local!r} has characters not allowed")
    if ".." in local:
        return Rejection("email.local", "the local part has two dots in a row")
    domain = _domain(raw_domain)
    if isinstance(domain, Rejection):
        return domain
    return _provider_rules(local, domain, strip_plus, lowercase_local)


def _provider_rules(local: str, domain: str, strip_plus: bool, lowercase_local: bool) -> Outcome:
    """Apply case, provider and +tag rules, and reject placeholders (domain already checked)."""
    if lowercase_local:
        local = local.lower()
    if domain in _GMAIL:
        local = local.split("+", 1)[0].replace(".", "")
        domain = "gmail.com"
        if not local:
            return Rejection("email.local", "the local part is empty once provider rules apply")
    elif strip_plus and "+" in local:
        local = local.split("+", 1)[0]
        if not local:
            return Rejection("email.local", "the local part is empty once the +tag is removed")
    base = local.lower().split("+", 1)[0]
    if (
        base in _PLACEHOLDER_LOCALS
        or domain in _PLACEHOLDER_DOMAINS
        or domain.rsplit(".", 1)[-1] in _RESERVED_TLDS
    ):
        return Rejection("email.placeholder", f"{local}@{domain} is a placeholder address")
    return f"{local}@{domain}"


EMAIL = Normalizer("email", _email_core, "e-mail address, lowercased, provider rules applied")
"""The e-mail :class:`~crmcore.normalize.Normalizer` (registry name ``"email"``)."""


def normalize_email(
    value: str | None,
    *,
    strip_plus: bool = False,
    lowercase_local: bool = True,
    strict: bool = False,
    issues: MutableSequence[FieldProblem] | None = None,
    field: str = "email",
    record: str | None = None,
) -> str | None:
    """Normalise an e-mail address (see the module docstring for the rules).

    Args:
        value: The raw value.
        strip_plus: Drop a ``+tag`` from the local part for every domain (always done for Gmail).
        lowercase_local: Lowercase the local part (default; almost every provider ignores case).
        strict: Raise instead of returning None for a rejected value.
        issues: A list that receives one :class:`~crmcore.errors.FieldProblem` per rejection.
        field: Field name quoted in problems.
        record: Record identifier quoted in problems.

    Returns:
        The canonical address, or None.

    Raises:
        NormalizationError: In strict mode, when the value is not a usable address.

    Example:
        >>> normalize_email("  John.Smith+news@GoogleMail.com ")
        'johnsmith@gmail.com'
        >>> normalize_email("Info@Bücher.DE"), normalize_email("test@test.com")
        ('info@bücher.de', None)
    """
    return EMAIL(
        value,
        strip_plus=strip_plus,
        lowercase_local=lowercase_local,
        strict=strict,
        issues=issues,
        field=field,
        record=record,
    )


_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def _domain_core(text: str) -> Outcome:
    text = clean_text(text)
    if "@" in text:
        text = text.rsplit("@", 1)[1]
    text = _SCHEME.sub("", text)
    text = re.split(r"[/?#]", text, maxsplit=1)[0]
    text = text.rsplit(":", 1)[0] if text.count(":") == 1 else text
    if not text:
        return None
    text = text.lower()
    if text.startswith("www."):
        text = text[4:]
    found = _domain(text)
    if isinstance(found, Rejection):
        return Rejection(found.rule.replace("email.", "domain."), found.message)
    return found


DOMAIN = Normalizer("domain", _domain_core, "web domain, lowercase, no scheme, www or path")
"""Web domains (registry name ``"domain"``)."""


def normalize_domain(
    value: str | None,
    *,
    strict: bool = False,
    issues: MutableSequence[FieldProblem] | None = None,
    field: str = "domain",
    record: str | None = None,
) -> str | None:
    """Normalise a website / domain / e-mail address to its bare domain (IDNA-aware).

    Scheme, ``www.``, port, path, query and an e-mail local part are removed; the domain is checked
    as for e-mail addresses (rule ``domain.domain`` on failure).

    Example:
        >>> normalize_domain("https://WWW.Acme.co.uk/about?x=1"), normalize_domain("bob@Acme.com")
        ('acme.co.uk', 'acme.com')
    """
    return DOMAIN(value, strict=strict, issues=issues, field=field, record=record)
