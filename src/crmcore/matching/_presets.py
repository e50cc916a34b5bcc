"""Presets: ready settings for CRM contacts, CRM accounts, and people registers.

* :func:`contacts` reads the canonical contact fields of the schema mapping (first_name,
  last_name, email, phone, company, city, postcode, country, dob when present).
* :func:`accounts` reads the canonical account fields (company, domain, phone, street, city,
  postcode, country).
* :func:`people` builds settings for person registers with other column names (names with
  nickname handling and TF adjustment, date of birth with partial-date levels, postcode levels,
  place and occupation): the columns are parameters, nothing is tied to one data set.

Every preset is an ordinary :class:`~crmcore.matching._settings.MatchSettings` value; change any
part with ``attrs.evolve``.
"""

from __future__ import annotations

from collections.abc import Sequence

from crmcore.errors import MatchingConfigError
from crmcore.matching._blocking import BlockingRule, block_on
from crmcore.matching._comparisons import (
    NUMBERED_MAILBOX,
    ONE_TYPO,
    SWAPPED_NAMES,
    Comparison,
    company_comparison,
    date_comparison,
    email_comparison,
    exact_match,
    family_name_comparison,
    fuzzy_comparison,
    given_name_comparison,
    location_comparison,
    organisation_comparison,
    phone_comparison,
    postcode_comparison,
)
from crmcore.matching._levels import ExactLevel, SimilarityLevel
from crmcore.matching._settings import ClusterOptions, MatchRule, MatchSettings, TrainingOptions

#: Pair budget per record of the presets' adaptive (loose) blocking rules.
LOOSE_PAIRS_PER_RECORD = 10.0
#: Largest block of the accounts preset's rare-word rule (a word more records share is common).
RARE_WORD_BLOCK = 50
#: Pair budget per record of the accounts preset's rare-word rule.
RARE_WORD_PAIRS_PER_RECORD = 50.0
#: Characters of the accounts preset's adaptive same-beginning rule (the first characters of
#: the name's canonical words).
NAME_PREFIX = 4


def _present(columns: Sequence[str] | None, *names: str) -> bool:
    return columns is None or all(n in columns for n in names)


def contacts(
    columns: Sequence[str] | None = None,
    *,
    identifiers: Sequence[str] = (),
    address: str | None = None,
    street_number: str | None = None,
    website: str | None = None,
) -> MatchSettings:
    """Settings for CRM contacts in canonical field names.

    Besides the canonical contact fields, the preset uses what else it is given, as
    :func:`people` does (one helper builds both): identifier columns (national id, customer
    number, member number), a street address, a house number and a website. The street and
    website are used only when named: in a CRM they are often the employer's (an office
    address, the company site), which colleagues share, so they are not personal evidence by
    default.

    Three deterministic rules come with the score (each shown by name in explanations):

    * same email address and a compatible given name (equal, a nickname, or given and family
      names swapped): a match;
    * **household**: clearly different given names (the given-name comparison's "else") while
      nothing personal agrees (no same email address or local part, no same employer, no
      same date of birth, no identifier): not a match, whatever the address, phone and family
      name say; those are what the members of one household share (the rule is added when a
      phone or address column is compared);
    * **namesakes**: two numbered mailboxes of one name at one domain (``a.rodriguez@`` and
      ``a.rodriguez2@``): not a match; the mail server numbered the second mailbox because the
      name was taken.

    Args:
        columns: Columns available; comparisons and rules on absent columns are left out
            (None: assume all canonical contact fields).
        identifiers: Identifier columns (national id, customer number): each compared exactly
            and one character off, and blocked on.
        address: Street address column (token-set similarity), if any.
        street_number: House number column (exact), if any.
        website: Website column (compared as a web domain), if any.

    Returns:
        The settings.
    """
    comps: list[Comparison] = []
    blocking: list[BlockingRule] = []
    prepare: dict[str, str] = {}
    has_first = _present(columns, "first_name")
    has_last = _present(columns, "last_name")
    first, last = "first_name", "last_name"
    if not (has_first or has_last) and columns is not None and "full_name" in columns:
        # one name field: its given and family parts ("Aguirre, Diane" -> diane / aguirre)
        prepare["full_name"] = "name"
        first, last = "given_part(full_name)", "family_part(full_name)"
        has_first = has_last = True
    else:
        if has_first:
            prepare["first_name"] = "name"
        if has_last:
            prepare["last_name"] = "name"
    if has_first:
        comps.append(given_name_comparison(first, family=last if has_last else None))
    if has_last:
        comps.append(family_name_comparison(last, name="family name",
                                            given=first if has_first else None))
    if _present(columns, "email"):
        prepare["email"] = "email"
        # a mailbox made of the name is no more; nor is one made of the formal given name of
        # a nickname (susan_taylor for a Sue Taylor), which the nickname level counts already
        own = ((first, f"canonical_given({first})") if has_first else ()) + (last,) * has_last
        comps.append(email_comparison("email", names=own))
        blocking.append(block_on("email"))
    if _present(columns, "phone"):
        prepare["phone"] = "phone"
        comps.append(phone_comparison("phone"))
        blocking.append(block_on("national_number(phone)"))
    if _present(columns, "company"):
        prepare["company"] = "company"
        comps.append(company_comparison("company"))
    if _present(columns, "dob"):
        prepare["dob"] = "date"
        comps.append(date_comparison("dob"))
    if _present(columns, "city", "postcode"):
        prepare["city"] = "text"
        prepare["postcode"] = "postcode"
        comps.append(location_comparison("postcode", "city"))
    elif _present(columns, "city"):
        prepare["city"] = "text"
        comps.append(fuzzy_comparison("city", thresholds=(0.9,), tf=True))
    elif _present(columns, "postcode"):
        prepare["postcode"] = "postcode"
        comps.append(postcode_comparison("postcode"))
    if _present(columns, "country"):
        prepare["country"] = "country"
        comps.append(exact_match("country"))
    _extra_columns(comps, blocking, prepare, identifiers=identifiers, address=address,
                   street_number=street_number, website=website)
    if has_first and has_last:
        given = f"canonical_given({first})"
        sounds = (f"metaphone({first})", f"metaphone({last})")
        # a typo in the family name: deletions() keys pair names one deletion apart on each
        # side (smith / smiht / smyth / smit share smth or smit), so a typo costs only the
        # pairs of the few names it could be (not those of every name with its initial)
        typo_last = f"deletions({last})"
        # Names alone are too common in a big CRM: every name rule also needs a place, an
        # employer, an email domain or a date of birth. Rules with any_order also pair given
        # and family names swapped ("Jiménez Javier" / "Javier Jiménez").
        if _present(columns, "city"):
            blocking.append(block_on(given, last, "city", any_order=True))
        if _present(columns, "postcode"):
            blocking.append(block_on(f"metaphone({last})", f"initial({first})", "postcode"))
        if _present(columns, "company"):
            blocking.append(block_on(given, typo_last, "company_key(company)"))
            blocking.append(block_on(last, f"initial({first})", "company_key(company)"))
        if _present(columns, "email"):
            blocking.append(block_on(given, last, "email_domain(email)", any_order=True))
        # a typo in a name (sounds alike), or in the family name with the postcode
        if _present(columns, "company"):
            blocking.append(block_on(*sounds, "company_key(company)", any_order=True))
        if _present(columns, "postcode"):
            blocking.append(block_on(*sounds, "postcode", any_order=True))
            blocking.append(block_on(given, typo_last, "postcode"))
        if _present(columns, "phone"):
            # one line with the extension on one side only or another one (national_number
            # counts an extension's digits); the initial and the family name's sound keep the
            # colleagues on one switchboard apart
            blocking.append(block_on("line_number(phone)", f"initial({first})",
                                     f"metaphone({last})"))
        if _present(columns, "dob"):
            blocking.append(block_on("dob", f"initial({first})", f"metaphone({last})"))
            blocking.append(block_on("dob", given))
    # Adaptive loose rules: used only where they stay cheap (small and medium tables), where
    # they catch duplicates with a typo in every strict key; skipped on big tables.
    loose = LOOSE_PAIRS_PER_RECORD
    if has_last:
        blocking.append(block_on(f"metaphone({last})", max_pairs_per_record=loose))
    if has_first and has_last:
        blocking.append(
            block_on(f"canonical_given({first})", f"initial({last})", max_pairs_per_record=loose)
        )
    if _present(columns, "dob"):
        blocking.append(block_on("dob", max_pairs_per_record=loose))
    if not comps or not blocking:
        raise MatchingConfigError(
            "the contacts preset needs name, email or phone columns; "
            f"found {list(columns or [])} (map source columns onto these fields)"
        )
    return MatchSettings(
        comparisons=tuple(comps),
        blocking=tuple(blocking),
        prepare=prepare,
        rules=person_rules(comps),
        training=TrainingOptions(u_within="country" if _present(columns, "country") else None),
        threshold=0.95,
        name="contacts",
    )


#: Name of the household rule of :func:`person_rules`.
HOUSEHOLD_RULE = (
    "household: clearly different given names and nothing personal in common (address, phone "
    "and family name are what a household shares)"
)
#: Name of the namesake rule of :func:`person_rules`.
NAMESAKE_RULE = (
    "namesakes: two numbered mailboxes at one domain (the mail server numbered the second "
    "because the name was taken)"
)
#: Per comparison name, how many of its first levels are PERSONAL agreement: evidence a
#: household (or a namesake) does not share. A household rule holds only when none of them is
#: reached. Address, phone, location and family name are left out on purpose.
_PERSONAL_LEVELS = {
    "email": 2,  # same address, same local part
    "company": 3,  # same name ignoring legal form, acronym, same words
    # same date of birth, or one keystroke off: members of a household are born on different
    # days (twins aside), a person's duplicate records are not
    "dob": 2,
    "date of birth": 2,
}
#: Comparisons whose agreement a household shares and a score counts as independent evidence:
#: the household rule is there to stop them outvoting a given-name disagreement, so without
#: any of them (names, city, email only) the score decides alone.
_HOUSEHOLD_EVIDENCE = frozenset({"phone", "address", "street", "street number"})
#: Leading levels of an identifier comparison that count as agreement (same, one character off).
_IDENTIFIER_LEVELS = 2


def person_rules(
    comparisons: Sequence[Comparison], *, household: bool | None = None
) -> tuple[MatchRule, ...]:
    """The deterministic rules of the person presets, for the comparisons present.

    * ``same email and compatible given name`` (match): the same email address with an equal
      given name, a nickname, or given and family names swapped.
    * :data:`HOUSEHOLD_RULE` (non-match): the given names clearly differ (the given-name
      comparison's "else") and no personal evidence agrees: no same email address or local
      part, no same employer, no same date of birth (or one character off), no identifier.
      In Fellegi-Sunter terms the evidence a household shares (address, landline, family
      name) is not independent of being one household, so its weights, estimated as if it
      were, must not outvote a clear given-name disagreement.
    * :data:`NAMESAKE_RULE` (non-match): the email comparison says another numbered mailbox
      at the same domain.

    Args:
        comparisons: The settings' comparisons (named as the presets name them).
        household: Add the household rule; by default only when a comparison reads what a
            household shares and the score would count as independent evidence (phone,
            address, street, street number): without one (names, city, email only) there is
            nothing for the rule to outvote, and a scrambled given name in such data is as
            likely a typo as another person.

    Returns:
        The rules whose comparisons are all present.
    """
    by_name = {c.name: c for c in comparisons}
    rules: list[MatchRule] = []
    given = by_name.get("given name")
    email = by_name.get("email")
    if given is not None and email is not None:
        # the exact and nickname levels, and the swap when there is one
        compatible = [*given.labels[1:3], *(x for x in given.labels if x == SWAPPED_NAMES)]
        rules.append(MatchRule("same email and compatible given name",
                               {"email": ("same address",), "given name": tuple(compatible)}))
    if household is None:
        household = bool(_HOUSEHOLD_EVIDENCE & by_name.keys())
    if given is not None and household:
        when: dict[str, tuple[str, ...]] = {"given name": ("else",)}
        for comp in comparisons:
            agreeing = _PERSONAL_LEVELS.get(comp.name)
            if agreeing is None and _is_identifier(comp):
                agreeing = _IDENTIFIER_LEVELS
            if agreeing is not None:
                when[comp.name] = tuple(comp.labels[:1] + comp.labels[1 + agreeing:])
        rules.append(MatchRule(HOUSEHOLD_RULE, when, outcome="non_match"))
    if email is not None and NUMBERED_MAILBOX in email.labels:
        rules.append(MatchRule(NAMESAKE_RULE, {"email": (NUMBERED_MAILBOX,)},
                               outcome="non_match"))
    return tuple(rules)


def _is_identifier(comp: Comparison) -> bool:
    return bool(comp.levels) and comp.levels[0].label == "same identifier"


def _extra_columns(
    comps: list[Comparison],
    blocking: list[BlockingRule],
    prepare: dict[str, str],
    *,
    identifiers: Sequence[str],
    address: str | None,
    street_number: str | None,
    website: str | None = None,
) -> None:
    """Add the comparisons, blocking rules and preparation of the person presets' extra
    columns (the one place :func:`contacts` and :func:`people` share)."""
    for ident in identifiers:
        prepare[ident] = "text"
        comps.append(identifier_comparison(ident))
        blocking.append(block_on(ident))
    if address is not None:
        prepare[address] = "text"
        comps.append(fuzzy_comparison(address, metric="token_set", thresholds=(0.9, 0.7),
                                      name="address"))
        blocking.append(block_on(f"sorted_tokens({address})"))
    if street_number is not None:
        prepare[street_number] = "text"
        comps.append(exact_match(street_number, name="street number"))
    if website is not None:
        prepare[website] = "domain"
        comps.append(exact_match(website, name="website"))


def accounts(columns: Sequence[str] | None = None) -> MatchSettings:
    """Settings for CRM accounts (companies) in canonical field names.

    Args:
        columns: Columns available (None: assume all canonical account fields).

    Returns:
        The settings.
    """
    comps: list[Comparison] = []
    blocking: list[BlockingRule] = []
    prepare: dict[str, str] = {}
    if _present(columns, "company"):
        prepare["company"] = "company"
        comps.append(organisation_comparison("company"))
        blocking.append(block_on("company_key(company)"))
        blocking.append(block_on("company_words(company)"))
        blocking.append(block_on("acronym(company)"))
        # a shared RARE word (AGILENT, not INC or UNIVERSITY): blocks of at most
        # RARE_WORD_BLOCK records, used while the rule stays within its pair budget
        blocking.append(block_on("company_tokens(company)", max_block_size=RARE_WORD_BLOCK,
                                 max_pairs_per_record=RARE_WORD_PAIRS_PER_RECORD))
        # names beginning alike (a typo or another word further on: KONINKLIJKE PHILIPS
        # ELECTRONICS / KONINKLIKE PHILIPS ELECTRONIC): adaptive, its cost counted between
        # distinct names, so a big organisation's many records under a few spellings stay in
        # (no block cap drops them) while a list of mostly different names beginning alike
        # (UNIVERSITY OF ...) or a big list skips it
        words = "company_words(company)"
        blocking.append(block_on(f"prefix({words}, {NAME_PREFIX})", count_by=words,
                                 max_pairs_per_record=LOOSE_PAIRS_PER_RECORD))
    if _present(columns, "domain"):
        prepare["domain"] = "domain"
        comps.append(exact_match("domain", name="domain"))
        blocking.append(block_on("domain"))
    if _present(columns, "phone"):
        prepare["phone"] = "phone"
        comps.append(phone_comparison("phone"))
        blocking.append(block_on("national_number(phone)"))
    if _present(columns, "street"):
        prepare["street"] = "text"
        comps.append(fuzzy_comparison("street", metric="token_set", thresholds=(0.9, 0.75)))
    if _present(columns, "city"):
        prepare["city"] = "text"
        comps.append(fuzzy_comparison("city", thresholds=(0.9,), tf=True))
    if _present(columns, "postcode"):
        prepare["postcode"] = "postcode"
        comps.append(postcode_comparison("postcode"))
        if _present(columns, "company"):
            blocking.append(block_on("first_token(company_key(company))", "postcode"))
    if _present(columns, "country"):
        prepare["country"] = "country"
        comps.append(exact_match("country"))
    if not comps or not blocking:
        raise MatchingConfigError(
            "the accounts preset needs company, domain or phone columns; "
            f"found {list(columns or [])} (map source columns onto these fields)"
        )
    rules: list[MatchRule] = []
    if _present(columns, "company"):
        # the same name once legal forms, noise and abbreviations are set aside is the same
        # account unless another field present on both sides says otherwise (its "else"
        # level: another domain, country, phone, street, city or postcode); a pair with
        # something against it is left to the score (two branches of a restaurant chain in
        # two cities share the name and nothing else)
        when: dict[str, tuple[str, ...]] = {
            "organisation name": ("same name ignoring legal form", "same words after abbreviations")
        }
        for c in comps:
            if c.name != "organisation name":
                when[c.name] = c.labels[:-1]
        rules.append(MatchRule("same organisation name, nothing against it", when))
    return MatchSettings(
        comparisons=tuple(comps),
        blocking=tuple(blocking),
        prepare=prepare,
        rules=tuple(rules),
        training=TrainingOptions(u_within="country" if _present(columns, "country") else None),
        threshold=0.9,
        cluster=_accounts_clusters(comps),
        name="accounts",
    )


def _accounts_clusters(comps: Sequence[Comparison]) -> ClusterOptions:
    """The pooled cluster method when the organisation name is the only evidence, else the
    default (guarded).

    A name alone is weak evidence one pair at a time: on the affiliations set (research
    affiliations, name only) the pairs whose names share most words score p 0.46-0.49 while
    about 80 % of them are duplicates, so no link threshold separates them, and components
    at a lower threshold chain everything together. Many such links between two groups,
    pooled, are strong evidence (:func:`~crmcore.matching._cluster.pooled_labels`):
    affiliations F1 0.37 -> 0.71, while the generated company lists and the patent holders
    stay within 0.001 (figures in ``benchmarks/results/accuracy.json``). With more fields
    (domain, phone, city) the pair score carries that evidence itself, and pooling costs
    precision: on two generated account lists with city, domain and phone, guarded F1 0.940
    and 0.955 against pooled 0.936 and 0.937; with one of them pooled gains at most 0.003 and
    loses up to 0.008 (``benchmarks/ab_accounts_cluster.py``, figures in
    ``benchmarks/results/accuracy_orgs.json``), so those settings keep the default.
    """
    if [c.name for c in comps] == ["organisation name"]:
        return ClusterOptions(method="pooled")
    return ClusterOptions()


def people(
    *,
    first_name: str = "first_name",
    last_name: str = "last_name",
    dob: str | None = "dob",
    postcode: str | None = "postcode",
    place: str | None = None,
    occupation: str | None = None,
    full_name: str | None = None,
    identifiers: Sequence[str] = (),
    address: str | None = None,
    street_number: str | None = None,
    website: str | None = None,
    household_rule: bool = False,
    threshold: float = 0.9,
) -> MatchSettings:
    """Settings for registers of people with given column names.

    Args:
        first_name: Given name column.
        last_name: Family name column.
        dob: Date of birth column (ISO dates), if any.
        postcode: Postcode column, if any.
        place: Place (e.g. birth place, city) column, if any.
        occupation: Occupation / job title column, if any.
        full_name: Full name column (token-set similarity), if any.
        identifiers: Identifier columns (national id, customer number, member number): each is
            compared exactly and one character off, and blocked on.
        address: Street address column (token-set similarity), if any.
        street_number: House number column (exact), if any.
        website: Website column (compared as a web domain), if any.
        household_rule: Add the household rule of :func:`person_rules` (clearly different
            given names with no identifier in common are not a match). Off by default: person
            registers transcribe given names loosely (historical_50k lost 0.08 of F1 with it),
            while in CRM contacts (the contacts preset) the rule pays.
        threshold: Match probability threshold for clustering.

    Returns:
        The settings.
    """
    comps: list[Comparison] = [
        given_name_comparison(first_name, family=last_name),
        family_name_comparison(last_name, given=first_name),
    ]
    prepare = {first_name: "name", last_name: "name"}
    blocking: list[BlockingRule] = [
        # in either order: the comparisons have a level for swapped names, so must the keys
        block_on(first_name, last_name, any_order=True),
        block_on(f"canonical_given({first_name})", f"metaphone({last_name})"),
    ]
    if full_name is not None:
        prepare[full_name] = "name"
        comps.append(
            Comparison(
                "full name",
                (
                    fuzzy_comparison(full_name, metric="token_set", thresholds=(0.9,)).levels[1],
                    fuzzy_comparison(full_name, metric="token_sort", thresholds=(0.8,)).levels[1],
                    fuzzy_comparison(full_name, metric="token_set", thresholds=(0.6,)).levels[1],
                ),
                missing=(full_name,),
            )
        )
    if dob is not None:
        prepare[dob] = "date"
        comps.append(date_comparison(dob, name="date of birth"))
        blocking += [
            block_on(last_name, dob),
            block_on(f"canonical_given({first_name})", dob),
            block_on(f"initial({first_name})", f"metaphone({last_name})", f"year({dob})"),
            block_on(f"metaphone({last_name})", f"month_day({dob})"),
            # a typo in each name (Hartmhut Hoffmsnn / Hartmut Hoffmann) with the same date
            block_on(f"initial({first_name})", f"initial({last_name})", dob),
        ]
    if postcode is not None:
        prepare[postcode] = "postcode"
        comps.append(postcode_comparison(postcode))
        if dob is not None:
            # names changed, swapped or left out: the birth date and where the person lives
            blocking.append(block_on(dob, postcode))
        blocking += [
            block_on(postcode, first_name),
            block_on(postcode, last_name),
            block_on(f"first_token({postcode})", f"canonical_given({first_name})"),
            block_on(f"first_token({postcode})", f"metaphone({last_name})"),
        ]
    if place is not None:
        prepare[place] = "text"
        comps.append(fuzzy_comparison(place, thresholds=(0.9,), tf=True, name="place"))
        if dob is not None:
            blocking.append(block_on(dob, place))
        blocking.append(block_on(f"prefix({last_name}, 3)", f"prefix({first_name}, 2)", place))
        blocking.append(block_on(f"canonical_given({first_name})", place))
        blocking.append(block_on(last_name, place))
    if occupation is not None:
        prepare[occupation] = "text"
        comps.append(exact_match(occupation, tf=True, name="occupation"))
    _extra_columns(comps, blocking, prepare, identifiers=identifiers, address=address,
                   street_number=street_number, website=website)
    return MatchSettings(
        comparisons=tuple(comps),
        blocking=tuple(blocking),
        prepare=prepare,
        rules=person_rules(comps, household=True) if household_rule else (),
        threshold=threshold,
        name="people",
    )


def identifier_comparison(expression: str) -> Comparison:
    """An identifier (national id, customer number): the same value, one character off, else."""
    return Comparison(
        expression,
        (
            ExactLevel(expression, name="same identifier"),
            SimilarityLevel(expression, "damerau_levenshtein", 1, name=ONE_TYPO),
        ),
    )


#: Preset name -> settings factory taking the available columns.
PRESETS = {"contacts": contacts, "accounts": accounts}


def get_preset(name: str, columns: Sequence[str] | None = None) -> MatchSettings:
    """Settings of a named preset for the available columns.

    Raises:
        MatchingConfigError: For an unknown preset name.
    """
    factory = PRESETS.get(name)
    if factory is None:
        raise MatchingConfigError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return factory(columns)
