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
    Comparison,
    ExactLevel,
    SimilarityLevel,
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
from crmcore.matching._settings import MatchRule, MatchSettings, TrainingOptions

#: Pair budget per record of the presets' adaptive (loose) blocking rules.
LOOSE_PAIRS_PER_RECORD = 10.0
#: Largest block of the accounts preset's rare-word rule (a word more records share is common).
RARE_WORD_BLOCK = 50
#: Pair budget per record of the accounts preset's rare-word rule.
RARE_WORD_PAIRS_PER_RECORD = 50.0


def _present(columns: Sequence[str] | None, *names: str) -> bool:
    return columns is None or all(n in columns for n in names)


def contacts(columns: Sequence[str] | None = None) -> MatchSettings:
    """Settings for CRM contacts in canonical field names.

    Args:
        columns: Columns available; comparisons and rules on absent columns are left out
            (None: assume all canonical contact fields).

    Returns:
        The settings.
    """
    comps: list[Comparison] = []
    blocking: list[BlockingRule] = []
    prepare: dict[str, str] = {}
    if _present(columns, "first_name"):
        prepare["first_name"] = "name"
        has_last = _present(columns, "last_name")
        comps.append(given_name_comparison("first_name", family="last_name" if has_last else None))
    if _present(columns, "last_name"):
        prepare["last_name"] = "name"
        comps.append(family_name_comparison("last_name"))
    if _present(columns, "email"):
        prepare["email"] = "email"
        comps.append(email_comparison("email"))
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
    if _present(columns, "first_name", "last_name"):
        given = "canonical_given(first_name)"
        # Names alone are too common in a big CRM: every name rule also needs a place, an
        # employer, an email domain or a date of birth.
        if _present(columns, "city"):
            blocking.append(block_on(given, "last_name", "city"))
        if _present(columns, "postcode"):
            blocking.append(block_on("metaphone(last_name)", "initial(first_name)", "postcode"))
        if _present(columns, "company"):
            blocking.append(block_on(given, "metaphone(last_name)", "company_key(company)"))
            blocking.append(block_on("last_name", "initial(first_name)", "company_key(company)"))
        if _present(columns, "email"):
            blocking.append(block_on(given, "last_name", "email_domain(email)"))
        if _present(columns, "dob"):
            blocking.append(block_on("dob", "initial(first_name)", "metaphone(last_name)"))
            blocking.append(block_on("dob", given))
    # Adaptive loose rules: used only where they stay cheap (small and medium tables), where
    # they catch duplicates with a typo in every strict key; skipped on big tables.
    loose = LOOSE_PAIRS_PER_RECORD
    if _present(columns, "last_name"):
        blocking.append(block_on("metaphone(last_name)", max_pairs_per_record=loose))
    if _present(columns, "first_name", "last_name"):
        blocking.append(
            block_on(
                "canonical_given(first_name)", "initial(last_name)", max_pairs_per_record=loose
            )
        )
    if _present(columns, "dob"):
        blocking.append(block_on("dob", max_pairs_per_record=loose))
    if not comps or not blocking:
        raise MatchingConfigError(
            "the contacts preset needs name, email or phone columns; "
            f"found {list(columns or [])} (map source columns onto these fields)"
        )
    rules: list[MatchRule] = []
    if _present(columns, "email", "first_name"):
        rules.append(
            MatchRule(
                "same email and compatible given name",
                {"email": ("same address",),
                 "given name": ("exact first_name", "nickname of the same name")},
            )
        )
    return MatchSettings(
        comparisons=tuple(comps),
        blocking=tuple(blocking),
        prepare=prepare,
        rules=tuple(rules),
        training=TrainingOptions(u_within="country" if _present(columns, "country") else None),
        threshold=0.95,
        name="contacts",
    )


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
    if _present(columns, "domain"):
        prepare["domain"] = "text"
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
        # account unless a domain or country present on both sides says otherwise
        when: dict[str, tuple[str, ...]] = {
            "organisation name": ("same name ignoring legal form", "same words after abbreviations")
        }
        for c in comps:
            if c.name in ("domain", "country"):
                when[c.name] = ("missing", c.labels[1])
        rules.append(MatchRule("same organisation name, nothing against it", when))
    return MatchSettings(
        comparisons=tuple(comps),
        blocking=tuple(blocking),
        prepare=prepare,
        rules=tuple(rules),
        training=TrainingOptions(u_within="country" if _present(columns, "country") else None),
        threshold=0.9,
        name="accounts",
    )


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
        threshold: Match probability threshold for clustering.

    Returns:
        The settings.
    """
    comps: list[Comparison] = [
        given_name_comparison(first_name, family=last_name),
        family_name_comparison(last_name),
    ]
    prepare = {first_name: "name", last_name: "name"}
    blocking: list[BlockingRule] = [
        block_on(first_name, last_name),
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
        ]
    if postcode is not None:
        prepare[postcode] = "postcode"
        comps.append(postcode_comparison(postcode))
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
    return MatchSettings(
        comparisons=tuple(comps),
        blocking=tuple(blocking),
        prepare=prepare,
        threshold=threshold,
        name="people",
    )


def identifier_comparison(expression: str) -> Comparison:
    """An identifier (national id, customer number): the same value, one character off, else."""
    return Comparison(
        expression,
        (
            ExactLevel(expression, name="same identifier"),
            SimilarityLevel(expression, "damerau_levenshtein", 1, name="one character off"),
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
