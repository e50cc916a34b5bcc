"""Company names: a matching key without legal forms, and a tidy display form.

Rules of the key (:func:`normalize_company_name`):

1. NFKC, accents folded, case folded; ``&`` and ``+`` become ``and``; apostrophes are dropped
   (``McDonald's`` -> ``mcdonalds``); a web suffix on a word is dropped (``Amazon.com`` ->
   ``amazon``); dots vanish and other punctuation becomes a space.
2. Runs of single letters are joined (``S. A.`` -> ``sa``, ``J P Morgan`` -> ``jp morgan``).
3. Legal forms at the end are removed repeatedly (``Acme Holdings GmbH & Co. KG`` ->
   ``acme holdings``), for US, UK, DE, AT, CH, FR, ES, IT, PT, NL, BE, the Nordics, AU, NZ,
   JP (romanised), SG, IN, MY, LatAm and Central Europe; ``Kabushiki Kaisha`` is removed at
   the start as well. A leading ``the`` and a dangling ``and`` go too. Nothing is removed when it
   would leave the name empty (a company called "Company" keeps its name).

The display form (:func:`company_display_name`) only tidies: whitespace collapsed, an all-caps or
all-lowercase name put in title case, and a trailing legal form spelt the usual way
(``acme l.l.c.`` -> ``Acme LLC``, ``ACME PTY. LTD`` -> ``Acme Pty Ltd``, ``muller gmbh & co. kg``
-> ``Muller GmbH & Co. KG``); a comma before the form goes (``Acme, Inc.`` -> ``Acme Inc.``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableSequence
from functools import cache

from crmcore.errors import FieldProblem
from crmcore.normalize._core import Normalizer, Outcome, Rejection, clean_text, fold_accents
from crmcore.normalize._country import normalize_country

_LEGAL_FORM_TEXT = """
inc|incorporated|corp|corporation|co|company|cos|companies|llc|lllp|llp|lp|ltd|limited|pllc|pc|pbc
plc|cic|cio|ltd co|co ltd|co inc|co llc|company limited|limited company|limited partnership
limited liability company|limited liability partnership|public limited company
gmbh|mbh|ag|kg|ohg|gbr|ug|ug haftungsbeschrankt|haftungsbeschrankt|kgaa|se|ek|ev|eg|gmbh and co kg
gmbh and co|and co kg|co kg|ag and co kg|gesmbh|gesellschaft mbh
sa|sas|sasu|sarl|eurl|sci|snc|sca|scop|selarl|scs|societe anonyme
sl|slu|sau|sll|scoop|s coop|sociedad anonima|sociedad limitada|sa de cv|sab de cv|de cv|srl de cv
spa|srl|srls|sapa|sss|societa per azioni|ltda|lda|sgps|eireli|me|epp
bv|nv|vof|cv|bvba|cvba|sprl|besloten vennootschap|naamloze vennootschap|sa nv|nv sa
ab|ab publ|publ|as|asa|aps|oy|oyj|hf|ehf|is|ky|ans|amba|smba|iks
pty|pty ltd|pty limited|proprietary limited|proprietary|pte|pte ltd|pvt|pvt ltd|private limited
kk|kabushiki kaisha|kabushiki gaisha|gk|godo kaisha|godo gaisha|yk|yugen kaisha|yugen gaisha
bhd|sdn bhd|berhad|sdn|tbk|pt|sro|spol sro|as|zrt|nyrt|kft|bt|doo|dd|ooo|oao|zao|pao|sp zoo
sp z oo|spzoo|sa de rl|sc|oü|ou|uab|sia|ad|ead|eood|srl|sa|llc fz|fze|fzco|wll|spc
"""
LEGAL_FORMS: frozenset[tuple[str, ...]] = frozenset(
    tuple(form.split())
    for line in _LEGAL_FORM_TEXT.strip().splitlines()
    for form in line.split("|")
    if form.strip()
)
"""Legal-form token sequences removed from the end of a company key (after folding)."""

_PREFIX_FORMS = frozenset(
    {("kabushiki", "kaisha"), ("kabushiki", "gaisha"), ("kk",), ("godo", "kaisha"), ("pt",)}
)
_MAX_FORM = max(len(f) for f in LEGAL_FORMS)
_WEB = re.compile(r"(?<=\w)\.(?:com|net|org|io|co|biz|info)(?:\.[a-z]{2})?\b")
_PUNCT = re.compile(r"[^\w\s]+")
_APOSTROPHES = re.compile(r"['’‘`´]")


def _tokens(text: str) -> list[str]:
    text = fold_accents(clean_text(text)).casefold()
    text = _APOSTROPHES.sub("", text).replace("&", " and ").replace("+", " and ")
    text = _WEB.sub("", text).replace(".", " .")
    text = _PUNCT.sub(" ", text).replace("_", " ")
    raw = text.split()
    tokens: list[str] = []
    run: list[str] = []
    for tok in raw:
        if len(tok) == 1 and tok.isalpha():
            run.append(tok)
            continue
        if run:
            tokens.extend(_join_initials(run))
            run = []
        tokens.append(tok)
    if run:
        tokens.extend(_join_initials(run))
    return tokens


def _join_initials(run: list[str]) -> list[str]:
    """Join a run of single letters (``I.B.M.``), splitting off a trailing legal form.

    ``I.B.M. S.A.`` reads as ``ibm sa`` and ``L.L.C. L.L.C.`` as ``llc llc``; the form is only split
    off when at least two letters stay in front of it, so ``J.P.C.`` stays ``jpc``.
    """
    word = "".join(run)
    for size in range(min(4, len(word) - 2), 1, -1):
        if (word[-size:],) in LEGAL_FORMS and (word,) not in LEGAL_FORMS:
            return [*_join_initials(list(word[:-size])), word[-size:]]
    return [word]


def _strip_forms(tokens: list[str]) -> tuple[list[str], list[str]]:
    """Return (base tokens, removed legal-form tokens in original order).

    Trailing legal forms, a dangling ``and``, leading forms (``Kabushiki Kaisha``) and a leading
    ``the`` are removed until nothing changes, so the key of a key is the key itself.
    """
    removed: list[str] = []
    while True:
        before = len(tokens)
        changed = True
        while changed and len(tokens) > 1:
            changed = False
            if tokens[-1] == "and":
                tokens = tokens[:-1]
                changed = True
                continue
            for size in range(min(_MAX_FORM, len(tokens) - 1), 0, -1):
                if tuple(tokens[-size:]) in LEGAL_FORMS:
                    removed[:0] = tokens[-size:]
                    tokens = tokens[:-size]
                    changed = True
                    break
        for size in (2, 1):
            if len(tokens) > size and tuple(tokens[:size]) in _PREFIX_FORMS:
                removed[:0] = tokens[:size]
                tokens = tokens[size:]
                break
        while len(tokens) > 1 and tokens[0] == "the":
            tokens = tokens[1:]
        if len(tokens) == before:
            return tokens, removed


def _company_core(text: str) -> Outcome:
    if len(text) > 2000:
        return Rejection("company.too_long", "a company name longer than 2000 characters")
    tokens = _tokens(text)
    if not any(ch.isalnum() for t in tokens for ch in t):
        return Rejection("company.no_letters", "a company name needs a letter or digit")
    base, _ = _strip_forms(tokens)
    key = " ".join(base)
    if key in {"test", "test company", "asdf", "none", "no company", "self"}:
        return Rejection("company.placeholder", f"{key!r} is a placeholder company name")
    return key


_DISPLAY_FORM_TEXT = """
inc=Inc.|corp=Corp.|co=Co.|llc=LLC|llp=LLP|lp=LP|lllp=LLLP|pllc=PLLC|ltd=Ltd|plc=PLC|pc=P.C.
co ltd=Co., Ltd.|co inc=Co., Inc.|co llc=Co. LLC|ltd co=Ltd. Co.
gmbh=GmbH|mbh=mbH|ag=AG|kg=KG|ohg=OHG|gbr=GbR|kgaa=KGaA|se=SE|ev=e.V.|eg=eG|ug=UG
gmbh and co kg=GmbH & Co. KG|gmbh and co=GmbH & Co.|ag and co kg=AG & Co. KG|gesmbh=GesmbH
ug haftungsbeschrankt=UG (haftungsbeschränkt)
sa=S.A.|sas=SAS|sasu=SASU|sarl=SARL|eurl=EURL|sci=SCI|snc=SNC|sca=SCA
sl=S.L.|slu=S.L.U.|sau=S.A.U.|sll=S.L.L.|sa de cv=S.A. de C.V.|sab de cv=S.A.B. de C.V.
spa=S.p.A.|srl=S.r.l.|srls=S.r.l.s.|sapa=S.a.p.a.|ltda=Ltda.|lda=Lda.
bv=B.V.|nv=N.V.|vof=V.O.F.|bvba=BVBA|cvba=CVBA|sprl=SPRL|sa nv=SA/NV|nv sa=NV/SA
ab=AB|ab publ=AB (publ)|as=AS|a/s=A/S|asa=ASA|aps=ApS|oy=Oy|oyj=Oyj|hf=hf.|ehf=ehf.|ky=Ky
pty=Pty|pty ltd=Pty Ltd|pte=Pte|pte ltd=Pte. Ltd.|pvt ltd=Pvt. Ltd.|private limited=Private Limited
kk=K.K.|gk=G.K.|yk=Y.K.|sdn bhd=Sdn. Bhd.|bhd=Bhd.|tbk=Tbk.
sro=s.r.o.|spol sro=spol. s r.o.|kft=Kft.|zrt=Zrt.|doo=d.o.o.|sp zoo=sp. z o.o.|ooo=OOO
"""
_DISPLAY_FORMS: dict[tuple[str, ...], str] = {
    tuple(form.split()): display
    for line in _DISPLAY_FORM_TEXT.strip().splitlines()
    for form, display in (item.split("=", 1) for item in line.split("|"))
}
"""Legal form (folded tokens) -> the usual spelling in a display name."""
_MAX_DISPLAY_FORM = max(len(f) for f in _DISPLAY_FORMS)
_CASE_WORDS = {"and": "and", "of": "of", "the": "the", "for": "for", "de": "de", "und": "und"}
_BARE = re.compile(r"[.,()]")


def _bare(word: str) -> str:
    return _BARE.sub("", fold_accents(word).casefold()).replace("&", "and")


def _title(word: str, from_upper: bool) -> str:
    if from_upper and sum(ch.isalpha() for ch in word) <= 3:
        return word.upper()  # short all-caps words are usually acronyms (IBM, BMW, SAP)
    return "-".join(p[:1].upper() + p[1:].lower() for p in word.split("-"))


def _display_form(words: list[str]) -> tuple[list[str], str | None]:
    """Split trailing legal-form words off; return (body words, usual spelling of the form)."""
    bare = [_bare(w) for w in words]
    for size in range(min(_MAX_DISPLAY_FORM, len(words) - 1), 0, -1):
        tail = tuple(b for b in bare[-size:] if b)
        form = _DISPLAY_FORMS.get(tail)
        if form is None and size > 1 and all(len(b) == 1 for b in tail):
            form = _DISPLAY_FORMS.get(("".join(tail),))  # "S. A." is "S.A."
        if form is not None and all(bare[-size:]):
            body = words[:-size]
            body[-1] = body[-1].rstrip(",")
            if not body[-1]:
                body = body[:-1]
            return body, form
    return words, None


def _display_core(text: str) -> Outcome:
    if len(text) > 2000:
        return Rejection("company.too_long", "a company name longer than 2000 characters")
    text = clean_text(text)
    if not text:
        return None
    if not any(ch.isalnum() for ch in text):
        return Rejection("company.no_letters", "a company name needs a letter or digit")
    body, form = _display_form(text.split(" "))
    if not body:
        body, form = text.split(" "), None
    letters = [ch for w in body for ch in w if ch.isalpha()]
    upper = bool(letters) and all(ch.isupper() for ch in letters)
    lower = bool(letters) and all(ch.islower() for ch in letters)
    out: list[str] = []
    for i, word in enumerate(body):
        if (upper or lower) and i > 0 and word.casefold() in _CASE_WORDS:
            out.append(word.casefold())
        elif upper or lower:
            out.append(_title(word, upper))
        else:
            out.append(word)
    # The display must keep the name's key. Single letters join into initials across words
    # ("I S.A." reads "isa", "I L.L.C." reads "illc"), so a tidied spelling can change it:
    # take the first spelling of the form that keeps the key (the usual one, without dots,
    # as written), else the cleaned name itself.
    key = _company_core(text)
    written = " ".join(text.split(" ")[len(body):])
    tails = (form, form.replace(".", ""), written) if form is not None else ("",)
    for tail in dict.fromkeys(tails):
        display = " ".join([*out, tail]) if tail else " ".join(out)
        if _company_core(display) == key:
            return display
    return text


COMPANY = Normalizer("company", _company_core, "company matching key, legal forms removed")
"""Company matching keys (registry name ``"company"``)."""
COMPANY_DISPLAY = Normalizer("company_display", _display_core, "tidied company display name")
"""Company display names (registry name ``"company_display"``)."""


def normalize_company_name(
    value: str | None,
    *,
    strict: bool = False,
    issues: MutableSequence[FieldProblem] | None = None,
    field: str = "company",
    record: str | None = None,
) -> str | None:
    """Return the matching key of a company name (see the module rules).

    Args:
        value: The raw value.
        strict: Raise instead of returning None for a rejected value.
        issues: A list that receives one :class:`~crmcore.errors.FieldProblem` per rejection.
        field: Field name quoted in problems.
        record: Record identifier quoted in problems.

    Returns:
        The key, or None.

    Raises:
        NormalizationError: In strict mode, for a value without letters or digits.

    Example:
        >>> normalize_company_name("The Coca-Cola Company"), normalize_company_name("ACME, Inc.")
        ('coca cola', 'acme')
        >>> normalize_company_name("Müller Bau GmbH & Co. KG"), normalize_company_name("B&Q plc")
        ('muller bau', 'b and q')
    """
    return COMPANY(value, strict=strict, issues=issues, field=field, record=record)


def company_display_name(
    value: str | None,
    *,
    strict: bool = False,
    issues: MutableSequence[FieldProblem] | None = None,
    field: str = "company",
    record: str | None = None,
) -> str | None:
    """Return a tidy display form of a company name (legal form kept, spelt the usual way).

    Example:
        >>> company_display_name("  ACME   HOLDINGS l.l.c. "), company_display_name("SAP SE")
        ('Acme Holdings LLC', 'SAP SE')
    """
    return COMPANY_DISPLAY(value, strict=strict, issues=issues, field=field, record=record)


def split_legal_form(value: str | None) -> tuple[str | None, str | None]:
    """Split a company name into its key and the legal form that was removed (folded tokens).

    Example:
        >>> split_legal_form("Volvo Car AB (publ)"), split_legal_form("Acme")
        (('volvo car', 'ab publ'), ('acme', None))
    """
    if value is None or not isinstance(COMPANY.outcome(value), str):
        return None, None
    base, removed = _strip_forms(_tokens(value))
    return " ".join(base), (" ".join(removed) or None)


#: Abbreviations and short forms of words common in organisation names -> the word they stand for
#: (folded, dots removed). Only unambiguous, widely used forms: ``tech`` / ``techn`` /
#: ``technol`` ~ technology, ``intl`` ~ international, ``co`` ~ company, ``univ`` ~ university...
_ABBREVIATIONS: Mapping[str, str] = {
    **dict.fromkeys(("tech", "techn", "technol", "techs"), "technology"),
    **dict.fromkeys(("intl", "internat", "intnl", "int'l"), "international"),
    **dict.fromkeys(("co", "cos", "cie"), "company"),
    **dict.fromkeys(("corp", "corpn"), "corporation"),
    **dict.fromkeys(("mfg", "manuf", "mfrs", "mfr"), "manufacturing"),
    **dict.fromkeys(("svc", "svcs", "serv", "servs"), "service"),
    **dict.fromkeys(("sys", "syst"), "system"),
    **dict.fromkeys(("lab", "labs", "labo", "lab."), "laboratory"),
    **dict.fromkeys(("assoc", "assocs", "assn", "asso"), "association"),
    **dict.fromkeys(("bros", "bro"), "brother"),
    **dict.fromkeys(("natl", "nat'l", "natnl"), "national"),
    **dict.fromkeys(("univ", "uni", "universitat", "universitaet", "universite", "universidad",
                     "universita", "universiteit"), "university"),
    **dict.fromkeys(("dept", "dep", "depart", "dpt"), "department"),
    **dict.fromkeys(("inst", "instit", "institut", "instituto", "istituto"), "institute"),
    **dict.fromkeys(("ctr", "cntr", "centre", "centro", "zentrum"), "center"),
    **dict.fromkeys(("sci", "scien", "scienc"), "science"),
    **dict.fromkeys(("eng", "engg", "engin", "engr"), "engineering"),
    **dict.fromkeys(("govt", "gov"), "government"),
    **dict.fromkeys(("mgmt", "mgt", "mngt"), "management"),
    **dict.fromkeys(("dev", "devel"), "development"),
    **dict.fromkeys(("grp", "gp"), "group"),
    **dict.fromkeys(("hldg", "hldgs", "hold"), "holding"),
    **dict.fromkeys(("ind", "inds", "indus", "indust"), "industry"),
    **dict.fromkeys(("comm", "comms", "commun"), "communication"),
    **dict.fromkeys(("pharm", "pharma", "pharmaceut"), "pharmaceutical"),
    **dict.fromkeys(("fin", "finl", "finan"), "financial"),
    **dict.fromkeys(("res", "rsch"), "research"),
    **dict.fromkeys(("div",), "division"),
    **dict.fromkeys(("hosp",), "hospital"),
    **dict.fromkeys(("med",), "medical"),
    **dict.fromkeys(("elec", "elect"), "electric"),
    **dict.fromkeys(("electr",), "electronic"),
    **dict.fromkeys(("chem",), "chemical"),
    **dict.fromkeys(("amer",), "american"),
    **dict.fromkeys(("gen", "genl"), "general"),
    **dict.fromkeys(("acad",), "academy"),
    **dict.fromkeys(("coll",), "college"),
    **dict.fromkeys(("mktg", "mkt"), "marketing"),
    **dict.fromkeys(("invest", "invt"), "investment"),
    **dict.fromkeys(("ins", "insur"), "insurance"),
    **dict.fromkeys(("assur",), "assurance"),
    **dict.fromkeys(("distrib", "dist", "distr"), "distribution"),
    **dict.fromkeys(("prod", "prods"), "product"),
    **dict.fromkeys(("equip",), "equipment"),
    **dict.fromkeys(("mach",), "machine"),
    **dict.fromkeys(("trans", "transp"), "transport"),
    **dict.fromkeys(("constr", "const"), "construction"),
    **dict.fromkeys(("contr",), "contractor"),
    **dict.fromkeys(("ent", "entmt"), "entertainment"),
    **dict.fromkeys(("fdn", "found"), "foundation"),
    **dict.fromkeys(("soc",), "society"),
    **dict.fromkeys(("fed",), "federal"),
    **dict.fromkeys(("ltd",), "limited"),
}
_PLURAL_KEEP = frozenset({"business", "express", "access", "press", "glass", "class", "news",
                          "series", "species", "analysis", "axis", "bus", "gas", "plus", "campus",
                          "status", "corpus", "virus", "lens", "arts", "sales", "logistics",
                          "analytics", "dynamics", "electronics", "physics", "mathematics",
                          "robotics", "graphics", "economics", "genetics", "informatics"})


def _word(token: str) -> str:
    """One token in its canonical word form: abbreviation expanded, simple plural folded."""
    token = _ABBREVIATIONS.get(token, token)
    if len(token) > 4 and token not in _PLURAL_KEEP:
        if token.endswith("ies"):
            return token[:-3] + "y"
        if token.endswith("s") and not token.endswith(("ss", "us", "is")):
            return token[:-1]
    return token


def company_words(value: str | None) -> str | None:
    """The words of an organisation name in canonical form, for token-level comparison.

    The company key (legal forms, punctuation noise and a leading ``the`` removed, accents
    folded), each word with its abbreviation or short form expanded (``tech`` ~ technology,
    ``intl`` ~ international, ``co`` ~ company, ``univ`` ~ university, ``dept`` ~ department)
    and a simple English plural folded (``technologies`` ~ technology, ``labs`` ~ laboratory);
    ``and`` / ``of`` / ``the`` dropped, and an unambiguous legal form dropped wherever it
    stands (``Akzo Nobel N.V., Arnhem`` ~ ``akzo nobel arnhem``). None when no word is left.

    Example:
        >>> company_words("* AGILENT TECH., INC."), company_words("Agilent Technologies")
        ('agilent technology', 'agilent technology')
        >>> company_words("AKZO NOBEL N.V., ARNHEM")
        'akzo nobel arnhem'
        >>> company_words("Intl. Business Machines Co."), company_words("Univ. of Tech. Sydney")
        ('international business machine', 'university technology sydney')
    """
    if value is None:
        return None
    key = normalize_company_name(value)
    if key is None:
        return None
    tokens = [t for t in key.split() if t not in _CONNECTORS]
    # a legal form inside the name ("Akzo Nobel N.V., Arnhem") is noise for word overlap
    kept = [t for t in tokens if t not in _INNER_FORMS] or tokens
    words = [_word(t) for t in kept]
    return " ".join(words) or None


#: Legal forms dropped from :func:`company_words` wherever they stand (one token, unambiguous:
#: not a word or initials a name is made of, as AS, IS, ME, AD, SC, PT, DD, AB, SE, EG are).
_INNER_FORMS = frozenset(
    f[0] for f in LEGAL_FORMS
    if len(f) == 1 and len(f[0]) >= 2
    and f[0] not in {"as", "is", "me", "ad", "sc", "pt", "dd", "ab", "se", "eg", "ek", "bt",
                     "cv", "pc", "ug", "ou", "cos", "co", "company", "companies", "limited",
                     "corporation", "incorporated", "proprietary", "publ", "sia", "ans"}
    and f[0] not in _ABBREVIATIONS  # SCI is science, not a French partnership, here
)

_CONNECTORS = frozenset({"and", "of", "the", "for", "de", "la", "le", "du", "des", "der", "und",
                         "et", "y", "di", "del", "van", "von"})


#: Words that organisation names share across unrelated organisations (canonical word forms, see
#: :func:`company_words`): they weigh half a distinctive word in word overlap.
GENERIC_ORGANISATION_WORDS = frozenset({
    "company", "corporation", "incorporated", "limited", "group", "holding", "international",
    "national", "global", "technology", "system", "service", "solution", "management",
    "consulting", "consultant", "partner", "associate", "association", "industry", "enterprise",
    "business", "product", "network", "communication", "software", "data", "digital",
    "information", "research", "development", "laboratory", "science", "engineering", "center",
    "institute", "university", "college", "school", "academy", "department", "division",
    "faculty", "office", "unit", "program", "hospital", "medical", "health", "foundation",
    "society", "agency", "bureau", "council", "ministry", "government", "federal", "state",
    "city", "county", "public", "private", "general", "american", "european", "asian", "pacific",
    "north", "south", "east", "west", "new", "united", "world", "first", "royal",
})


@cache
def company_word_weight(word: str) -> float:
    """Weight of one canonical word in organisation word overlap: 1 for a distinctive word
    (AGILENT), 0.5 for a generic one (:data:`GENERIC_ORGANISATION_WORDS`), a country name,
    a number or a word of one or two letters (a state, an initial).

    Example:
        >>> company_word_weight("agilent"), company_word_weight("group"), company_word_weight("usa")
        (1.0, 0.5, 0.5)
    """
    if len(word) <= 2 or word.isdigit() or word in GENERIC_ORGANISATION_WORDS:
        return 0.5
    if normalize_country(word) is not None:
        return 0.5
    return 1.0


def word_overlap(a: str, b: str, metric: str = "dice") -> float:
    """Weighted word overlap of two :func:`company_words` values (words split on spaces, each
    counted once, weighted by :func:`company_word_weight`): ``"dice"`` is ``2 * shared /
    (a + b)``, ``"containment"`` ``shared / min(a, b)``.

    Example:
        >>> word_overlap("agilent technology", "agilent"), word_overlap("acme group", "zeta group")
        (0.8, 0.3333333333333333)
    """
    wa, wb = set(a.split()), set(b.split())
    left = sum(company_word_weight(w) for w in sorted(wa))
    right = sum(company_word_weight(w) for w in sorted(wb))
    shared = sum(company_word_weight(w) for w in sorted(wa & wb))
    if metric == "containment":
        low = min(left, right)
        return shared / low if low > 0 else 0.0
    total = left + right
    return 2.0 * shared / total if total > 0 else 0.0
