"""Person names: display form, matching key, full-name splitter and nickname table.

Rules of :func:`normalize_person_name` (the display-normalised form):

1. NFKC, control characters out, whitespace collapsed; text in parentheses or double quotes
   (``Robert "Bob" Smith``, ``John (Jack) Smith``) is dropped as a nickname annotation.
2. "Last, First" is turned into "First Last"; a comma part made only of suffixes or honorifics
   (``Smith, Jr.``) is dropped.
3. Tokens lose surrounding punctuation and dots (``J.`` -> ``j``); inner hyphens and apostrophes
   are kept (``o'brien``, ``jean-luc``); typographic apostrophes and dashes become ASCII.
4. Leading honorifics (Mr, Mrs, Ms, Dr, Prof, Sir, Herr, Frau, Mme, Sra ...) and trailing
   suffixes (Jr, Sr, II, III, PhD, MD, Esq, MBA ...) are removed, never the last remaining token.
5. Case folded, accents kept (``José`` -> ``josé``).

:func:`name_key` goes further for matching: accents folded, apostrophes removed, hyphens become
spaces (``O'Brien-Núñez`` -> ``obrien nunez``). :func:`canonical_given_name` maps nicknames to
canonical given names through ``data/nicknames.csv`` (about 420 pairs compiled by hand for
crmcore from general knowledge, licence MIT; the source and licence are in the file header).

Values without a letter, and placeholders (``test``, ``asdf``, ``firstname lastname`` ...), are
rejected with rules ``name.no_letters`` and ``name.placeholder``.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import MutableSequence
from functools import lru_cache
from importlib import resources

from crmcore.errors import FieldProblem
from crmcore.normalize._core import Normalizer, Outcome, Rejection, clean_text, fold_accents

#: Leading honorifics a person's name loses (never its last remaining word).
HONORIFICS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "miss",
        "mx",
        "mister",
        "missus",
        "madam",
        "dr",
        "doctor",
        "prof",
        "professor",
        "sir",
        "dame",
        "lady",
        "lord",
        "rev",
        "reverend",
        "fr",
        "father",
        "sister",
        "br",
        "brother",
        "pastor",
        "rabbi",
        "imam",
        "sheikh",
        "hon",
        "honorable",
        "honourable",
        "capt",
        "captain",
        "col",
        "colonel",
        "gen",
        "general",
        "lt",
        "sgt",
        "maj",
        "major",
        "cmdr",
        "herr",
        "frau",
        "hr",
        "fru",
        "mme",
        "mlle",
        "mmes",
        "monsieur",
        "madame",
        "mademoiselle",
        "sra",
        "srta",
        "senor",
        "senora",
        "senorita",
        "sig",
        "sigra",
        "signor",
        "signora",
        "dott",
        "ing",
        "mgr",
        "dipl",
    ]
)
_SUFFIXES = frozenset(
    [
        "jr",
        "jnr",
        "junior",
        "sr",
        "snr",
        "senior",
        "ii",
        "iii",
        "iv",
        "phd",
        "dphil",
        "md",
        "dds",
        "dmd",
        "dvm",
        "esq",
        "esquire",
        "mba",
        "cpa",
        "jd",
        "llb",
        "llm",
        "msc",
        "bsc",
        "mphil",
        "obe",
        "mbe",
        "cbe",
        "kbe",
        "dbe",
        "frcs",
        "mrcs",
        "facs",
    ]
)
_PARTICLES = frozenset(
    [
        "van",
        "von",
        "der",
        "den",
        "de",
        "del",
        "della",
        "dei",
        "degli",
        "di",
        "da",
        "das",
        "dos",
        "do",
        "du",
        "la",
        "le",
        "lo",
        "ter",
        "ten",
        "bin",
        "binti",
        "ibn",
        "al",
        "el",
        "st",
        "saint",
        "ben",
        "bat",
    ]
)
_PLACEHOLDERS = frozenset(
    [
        "test",
        "tester",
        "testing",
        "asdf",
        "asd",
        "qwerty",
        "xxx",
        "xx",
        "x",
        "firstname",
        "lastname",
        "first",
        "last",
        "name",
        "fname",
        "lname",
        "surname",
        "customer",
        "user",
        "client",
        "contact",
        "dummy",
        "sample",
        "example",
        "anonymous",
        "anon",
        "noname",
    ]
)
_DROP_ANNOTATIONS = re.compile(r"\([^()]*\)|\"[^\"]*\"|“[^”]*”|\[[^\[\]]*\]")
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "ʼ": "'"})
_DASHES = str.maketrans({"‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "―": "-"})
_BAD_CHARS = re.compile(r"[^\w\s'-]+")
_EDGE = re.compile(r"^['\-_]+|['\-_]+$")


def _compact(token: str) -> str:
    """Folded, apostrophe-free form used to recognise honorifics and suffixes."""
    return fold_accents(token).replace("'", "").replace("-", "")


def _strip(tokens: list[str]) -> list[str]:
    while len(tokens) > 1 and _compact(tokens[0]) in HONORIFICS:
        tokens = tokens[1:]
    while len(tokens) > 1 and _compact(tokens[-1]) in _SUFFIXES:
        tokens = tokens[:-1]
    return tokens


def _keep_char(ch: str) -> str:
    """Keep letters, digits, combining marks, apostrophes, hyphens; anything else is a space."""
    if ch.isalnum() or ch in "'-" or ch.isspace() or unicodedata.category(ch)[0] == "M":
        return ch
    return " "


def _clean_tokens(text: str) -> list[str]:
    text = text.casefold().translate(_APOSTROPHES).translate(_DASHES).replace(".", " ")
    if text.isascii():
        text = _BAD_CHARS.sub(" ", text).replace("_", " ")
    else:
        text = "".join(map(_keep_char, unicodedata.normalize("NFC", text)))
    tokens = [_EDGE.sub("", t) for t in text.split()]
    return [t for t in tokens if t and any(ch.isalnum() for ch in t)]


def _only_affixes(tokens: list[str]) -> bool:
    return bool(tokens) and all(
        _compact(t) in HONORIFICS or _compact(t) in _SUFFIXES for t in tokens
    )


def _parse(text: str) -> tuple[list[str], int | None] | Rejection | None:
    """Return (tokens, number of given-name tokens when a comma told us) or a rejection."""
    text = clean_text(text)
    if len(text) > 1000:
        return Rejection("name.too_long", "a person name longer than 1000 characters")
    text = _DROP_ANNOTATIONS.sub(" ", text)
    parts = [_clean_tokens(p) for p in text.split(",")]
    parts = [p for p in parts if p]
    if len(parts) > 1:
        parts = [parts[0]] + [p for p in parts[1:] if not _only_affixes(p)]
    given_count: int | None = None
    if len(parts) == 2:
        family, given = parts
        given = _strip([*given, "x"])[:-1] or given  # honorifics before the given name
        tokens = given + family
        given_count = len(given)
    else:
        tokens = [t for p in parts for t in p]
    if not tokens:
        return None
    tokens = _strip(tokens)
    if given_count is not None:
        given_count = min(given_count, len(tokens))
    if not any(ch.isalpha() for t in tokens for ch in t):
        return Rejection("name.no_letters", "a person name needs at least one letter")
    if all(_compact(t) in _PLACEHOLDERS for t in tokens):
        return Rejection("name.placeholder", f"{' '.join(tokens)!r} is a placeholder name")
    return tokens, given_count


def _person_core(text: str) -> Outcome:
    parsed = _parse(text)
    if parsed is None or isinstance(parsed, Rejection):
        return parsed
    return " ".join(parsed[0])


def _key_tokens(tokens: list[str]) -> list[str]:
    out: list[str] = []
    for token in tokens:
        folded = fold_accents(token).replace("'", "")
        out.extend(p for p in folded.split("-") if p)
    return _strip(out)


def _key_core(text: str) -> Outcome:
    parsed = _parse(text)
    if parsed is None or isinstance(parsed, Rejection):
        return parsed
    return " ".join(_key_tokens(parsed[0])) or None


@lru_cache(maxsize=1)
def nickname_table() -> dict[str, tuple[str, ...]]:
    """Return the nickname table: nickname -> canonical given names, most common first.

    Example:
        >>> nickname_table()["bob"], nickname_table()["alex"]
        (('robert',), ('alexander', 'alexandra'))
    """
    table: dict[str, list[str]] = {}
    source = resources.files("crmcore.normalize").joinpath("data/nicknames.csv")
    with source.open("r", encoding="utf-8") as fh:
        for row in csv.DictReader(line for line in fh if not line.startswith("#")):
            table.setdefault(row["nickname"].strip(), []).append(row["canonical"].strip())

    def resolve(name: str) -> str:
        # Spelling variants chain to one canonical name: cath -> catherine -> katherine.
        seen = {name}
        while name in table and table[name][0] not in seen:
            name = table[name][0]
            seen.add(name)
        return name

    return {nick: tuple(dict.fromkeys(resolve(n) for n in names)) for nick, names in table.items()}


def _given_core(text: str) -> Outcome:
    key = _key_core(text)
    if not isinstance(key, str):
        return key
    table = nickname_table()
    return " ".join(table.get(t, (t,))[0] for t in key.split())


PERSON_NAME = Normalizer("person_name", _person_core, "person name, case-folded, accents kept")
"""Display-normalised person names (registry name ``"person_name"``)."""
NAME_KEY = Normalizer("name_key", _key_core, "person name matching key, accents folded")
"""Person-name matching keys (registry name ``"name_key"``)."""
GIVEN_NAME = Normalizer("given_name", _given_core, "given-name key with nicknames resolved")
"""Given names with nicknames resolved (registry name ``"given_name"``)."""


def normalize_person_name(
    value: str | None,
    *,
    strict: bool = False,
    issues: MutableSequence[FieldProblem] | None = None,
    field: str = "name",
    record: str | None = None,
) -> str | None:
    """Normalise a person name for display and comparison (see the module rules).

    Args:
        value: The raw value (a full name, a given name or a family name).
        strict: Raise instead of returning None for a rejected value.
        issues: A list that receives one :class:`~crmcore.errors.FieldProblem` per rejection.
        field: Field name quoted in problems.
        record: Record identifier quoted in problems.

    Returns:
        The case-folded name with accents kept, or None.

    Raises:
        NormalizationError: In strict mode, for a value without letters or a placeholder.

    Example:
        >>> normalize_person_name("  Dr. JOSÉ  Núñez-O’Brien, Jr. ")
        "josé núñez-o'brien"
        >>> normalize_person_name("Smith, Mrs. Jane")
        'jane smith'
    """
    return PERSON_NAME(value, strict=strict, issues=issues, field=field, record=record)


def name_key(
    value: str | None,
    *,
    strict: bool = False,
    issues: MutableSequence[FieldProblem] | None = None,
    field: str = "name",
    record: str | None = None,
) -> str | None:
    """Return the matching key of a person name: normalised, accents folded, no apostrophes.

    Args:
        value: The raw value.
        strict: Raise instead of returning None for a rejected value.
        issues: A list that receives one :class:`~crmcore.errors.FieldProblem` per rejection.
        field: Field name quoted in problems.
        record: Record identifier quoted in problems.

    Returns:
        Lowercase ASCII-folded tokens separated by single spaces, or None.

    Raises:
        NormalizationError: In strict mode, for a value without letters or a placeholder.

    Example:
        >>> name_key("Dr. José Núñez-O’Brien"), name_key("Müller, Jürgen")
        ('jose nunez obrien', 'jurgen muller')
    """
    return NAME_KEY(value, strict=strict, issues=issues, field=field, record=record)


def canonical_given_name(
    value: str | None,
    *,
    strict: bool = False,
    issues: MutableSequence[FieldProblem] | None = None,
    field: str = "first_name",
    record: str | None = None,
) -> str | None:
    """Return the name key of a given name with nicknames replaced by canonical names.

    Each token of the key is looked up in :func:`nickname_table`; a nickname with several
    canonical names (``alex``) gets the most common one (see :func:`given_name_variants`).

    Args:
        value: The raw given name.
        strict: Raise instead of returning None for a rejected value.
        issues: A list that receives one :class:`~crmcore.errors.FieldProblem` per rejection.
        field: Field name quoted in problems.
        record: Record identifier quoted in problems.

    Returns:
        The canonical given-name key, or None.

    Raises:
        NormalizationError: In strict mode, for a value without letters or a placeholder.

    Example:
        >>> canonical_given_name("Bob"), canonical_given_name("Liz"), canonical_given_name("Kate")
        ('robert', 'elizabeth', 'katherine')
    """
    return GIVEN_NAME(value, strict=strict, issues=issues, field=field, record=record)


def given_name_variants(value: str | None) -> tuple[str, ...]:
    """Return every canonical given name a (first) given name may stand for, most common first.

    Example:
        >>> given_name_variants("Alex"), given_name_variants("Robert"), given_name_variants("")
        (('alexander', 'alexandra'), ('robert',), ())
    """
    key = NAME_KEY(value)
    if key is None:
        return ()
    first = key.split()[0]
    return nickname_table().get(first, (first,))


def split_full_name(value: str | None) -> tuple[str | None, str | None]:
    """Split a full name into (given names, family name), both display-normalised.

    "Last, First" input is split at the comma. Otherwise the family name is the last token plus
    any particles right before it (``van``, ``de la``, ``al`` ...) and the given names are the
    rest (middle names included); a single token is a given name. Never raises.

    Args:
        value: The raw full name.

    Returns:
        ``(given, family)``; either may be None.

    Example:
        >>> split_full_name("Ludwig van Beethoven"), split_full_name("García Márquez, Gabriel")
        (('ludwig', 'van beethoven'), ('gabriel', 'garcía márquez'))
        >>> split_full_name("Mr. John Michael Smith Jr."), split_full_name("Cher")
        (('john michael', 'smith'), ('cher', None))
    """
    if value is None:
        return None, None
    text = PERSON_NAME.outcome(value)
    if not isinstance(text, str):
        return None, None
    parsed = _parse(value if isinstance(value, str) else str(value))
    if not isinstance(parsed, tuple):  # pragma: no cover - outcome above already succeeded
        return None, None
    tokens, given_count = parsed
    if len(tokens) == 1:
        return tokens[0], None
    if given_count is None or not 0 < given_count < len(tokens):
        start = len(tokens) - 1
        while start > 1 and _compact(tokens[start - 1]) in _PARTICLES:
            start -= 1
        given_count = start
    return " ".join(tokens[:given_count]), " ".join(tokens[given_count:])


def natural_name_order(value: str) -> str:
    """Reorder a "Last, First" name to "First Last", keeping every character otherwise.

    The part before the first comma is the family name; one other comma part made of more
    than suffixes and honorifics is the given name(s) and moves to the front; honorific parts
    (``Mr``) go before it, suffix parts (``Jr.``, ``PhD``) stay at the end. A value without a
    comma, with only affix parts after it (``Smith, Jr.``), or with several given-name parts
    (ambiguous) is returned unchanged. Matching's fast name preparation calls it, so
    ``"Aguirre, Diane"`` compares as ``"Diane Aguirre"``.

    Example:
        >>> natural_name_order("Aguirre, Diane"), natural_name_order("SMITH, John, Jr.")
        ('Diane Aguirre', 'John SMITH Jr.')
        >>> natural_name_order("Smith, Jr."), natural_name_order("Diane Aguirre")
        ('Smith, Jr.', 'Diane Aguirre')
    """
    if "," not in value:
        return value
    head, *rest = (part.strip() for part in value.split(","))
    # parts are judged by their words without annotations, as the display form reads them
    # ("Jr. (Bob)" is a suffix with a nickname note, not a given name)
    words = {p: _clean_tokens(_DROP_ANNOTATIONS.sub(" ", p)) for p in (head, *rest)}
    given = [p for p in rest if words[p] and not _only_affixes(words[p])]
    affixes = [p for p in rest if p and p not in given]
    if len(given) != 1 or not words[head]:
        return value
    # honorifics go in front ("Smith, John, Mr" -> "Mr John Smith"), suffixes after the name
    titles = [p for p in affixes if _only_titles(words[p])]
    return " ".join([*titles, given[0], head, *(p for p in affixes if p not in titles)])


def _only_titles(tokens: list[str]) -> bool:
    return bool(tokens) and all(
        _compact(t) in HONORIFICS and _compact(t) not in _SUFFIXES for t in tokens
    )
