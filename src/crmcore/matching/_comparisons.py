"""Comparisons: declarative levels of agreement between two records, evaluated in bulk.

A :class:`Comparison` is an ordered tuple of levels (:mod:`crmcore.matching._levels`). Level 0 is
always "missing" (either side has no value: it carries no evidence), then the levels you give from
the most to the least specific; the first level a pair satisfies is its level; pairs meeting none
fall into the final "else" level. :func:`compute_levels` evaluates comparisons for arrays of
candidate pairs through one :class:`~crmcore.matching._pairs.PairContext`;
:meth:`Comparison.level_of` is the one-pair form.

The functions at the bottom (``exact_match``, ``given_name_comparison``, ``email_comparison`` ...)
build the CRM-specific comparisons.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.errors import MatchingConfigError
from crmcore.matching._expressions import Frame, parse_expression
from crmcore.matching._levels import (
    LEVELS,
    AllOf,
    CrossExactLevel,
    DateDiffLevel,
    ExactLevel,
    InitialLevel,
    Level,
    SimilarityLevel,
    SwappedLevel,
    TokenOverlapLevel,
    levels_to_dicts,
    mask_among,
    to_level_tuple,
)
from crmcore.matching._pairs import IntArray, PairContext, Values
from crmcore.model import SpecCodec, SpecField


def _to_strings(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


def _check_levels(_i: object, _a: object, value: tuple[Level, ...]) -> None:
    if not value:
        raise MatchingConfigError("a comparison needs at least one level besides missing / else")
    if len(value) > 30:
        raise MatchingConfigError("a comparison may have at most 30 levels")


@attrs.frozen
class Comparison:
    """A named comparison: missing level, the given levels in order, then "else".

    Args:
        name: Name shown in summaries (unique within a model).
        levels: Levels from the most to the least specific (missing and else are implicit).
        missing: Field expressions checked for the "missing" level: a pair is missing when NO
            expression has a value on both sides; defaults to the first level's first
            expression.

    Level indexes: 0 is missing, ``1..len(levels)`` are the given levels, the last is else.
    """

    name: str
    levels: tuple[Level, ...] = attrs.field(converter=to_level_tuple, validator=_check_levels)
    missing: tuple[str, ...] = attrs.field(converter=_to_strings, default=())

    def __attrs_post_init__(self) -> None:
        if not self.missing:
            object.__setattr__(self, "missing", tuple(self.levels[0].expressions[:1]))

    @property
    def n_levels(self) -> int:
        """Number of levels including missing and else."""
        return len(self.levels) + 2

    @property
    def labels(self) -> tuple[str, ...]:
        """Labels of every level, missing and else included."""
        return ("missing", *(lv.label for lv in self.levels), "else")

    @property
    def columns(self) -> frozenset[str]:
        """Base columns the comparison reads."""
        exprs = [*self.missing, *(e for lv in self.levels for e in lv.expressions)]
        return frozenset(parse_expression(e).column for e in exprs)

    @property
    def tf_levels(self) -> tuple[int, ...]:
        """Level indexes with a term-frequency adjustment."""
        return tuple(
            i + 1 for i, lv in enumerate(self.levels) if isinstance(lv, ExactLevel) and lv.tf
        )

    def evaluate(self, ctx: PairContext) -> npt.NDArray[np.int8]:
        """Level index of every pair (first level that holds wins)."""
        out = np.full(len(ctx), len(self.levels) + 1, dtype=np.int8)
        undecided = np.ones(len(ctx), dtype=bool)
        missing = np.ones(len(ctx), dtype=bool)
        for expr in self.missing:
            missing &= ctx.missing(expr)
        out[missing] = 0
        undecided &= ~missing
        for index, level in enumerate(self.levels, start=1):
            hit = mask_among(level, ctx, undecided)
            out[hit] = index
            undecided &= ~hit
        return out

    def level_of(self, left: Values, right: Values) -> int:
        """Level index of one pair: the pairwise form of :meth:`evaluate`.

        Args:
            left: The left record's values (a :class:`~crmcore.matching._expressions.RecordValues`).
            right: The right record's values.
        """
        for expr in self.missing:
            if left[expr] is not None and right[expr] is not None:
                break
        else:
            return 0
        for index, level in enumerate(self.levels, start=1):
            if level.holds(left, right):
                return index
        return len(self.levels) + 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return COMPARISONS.to_dict(self)


#: The dict form of a comparison (its levels through :data:`LEVELS`; a level class of the
#: host's own is written by its own ``to_dict``).
COMPARISONS = SpecCodec("comparison", key=None, error=MatchingConfigError.from_problems)
COMPARISONS.register(Comparison, fields={"levels": SpecField(
    encode=levels_to_dicts, decode=SpecCodec.list_of(LEVELS.decode, rule="comparison.levels"))})


def comparison_from_dict(data: Mapping[str, Any]) -> Comparison:
    """Rebuild a comparison from :meth:`Comparison.to_dict`."""
    comparison: Comparison = COMPARISONS.from_dict(data, path="comparison")
    return comparison


def compute_levels(
    comparisons: Sequence[Comparison],
    frame: Frame,
    left: IntArray,
    right: IntArray,
    *,
    progress: Callable[[str], None] | None = None,
) -> npt.NDArray[np.int8]:
    """Level of every comparison for every pair: an ``(n_pairs, n_comparisons)`` int8 array.

    ``progress`` (if given) is called with a message before each comparison.
    """
    ctx = PairContext(frame, left, right)
    out = np.empty((len(left), len(comparisons)), dtype=np.int8)
    # per comparison, the expressions later comparisons read: the others' caches are dropped
    later: list[set[str]] = [set() for _ in comparisons]
    for j in range(len(comparisons) - 2, -1, -1):
        nxt = comparisons[j + 1]
        later[j] = later[j + 1] | set(nxt.missing) | {
            e for level in nxt.levels for e in level.expressions
        }
    for j, comparison in enumerate(comparisons):
        if progress is not None:
            progress(f"  comparison {j + 1}/{len(comparisons)}: {comparison.name}")
        out[:, j] = comparison.evaluate(ctx)
        ctx.forget(later[j])
    return out


# -- the comparison library ------------------------------------------------------------------


def exact_match(expression: str, *, tf: bool = False, name: str | None = None) -> Comparison:
    """Two levels: equal, else.

    Args:
        expression: Field expression.
        tf: Term-frequency adjustment on the exact level.
        name: Comparison name (default: the expression).
    """
    return Comparison(name or expression, (ExactLevel(expression, tf=tf),))


def fuzzy_comparison(
    expression: str,
    *,
    metric: str = "jaro_winkler",
    thresholds: Sequence[float] = (0.92, 0.8),
    tf: bool = False,
    name: str | None = None,
) -> Comparison:
    """Exact, then one level per threshold of a similarity or distance metric, else."""
    levels: list[Level] = [ExactLevel(expression, tf=tf)]
    levels += [SimilarityLevel(expression, metric, t) for t in thresholds]
    return Comparison(name or expression, tuple(levels))


#: Smallest Jaro-Winkler similarity of each crossed pair of names for "swapped" (a swap
#: that also carries a typo or a nickname: ``kaito`` ~ ``kato`` 0.95, ``jeff`` ~ ``jeffrey`` 0.91).
SWAP_SIMILARITY = 0.9

#: Label of the given-name and family-name comparisons' swapped level.
SWAPPED_NAMES = "given and family names swapped"

#: Label of the levels for two values one edit apart (Damerau-Levenshtein <= 1: a typo).
ONE_TYPO = "one character off"


def given_name_comparison(
    expression: str = "first_name",
    *,
    family: str | None = "last_name",
    tf: bool = True,
    name: str = "given name",
) -> Comparison:
    """Given names: exact, nickname-equivalent, swapped with the family name, fuzzy, initial.

    Levels: exact (TF-adjusted), same canonical name (Bob = Robert, via
    ``crmcore.normalize.canonical_given_name``), given/family swapped (when ``family`` is set;
    each crossed pair Jaro-Winkler >= :data:`SWAP_SIMILARITY`, so a swap with a typo or a
    nickname counts), Jaro-Winkler >= 0.92, one character off (one edit), initial agrees
    with a full name, Jaro-Winkler >= 0.8, else: two clearly different given names (the level
    the presets' household rule reads).

    "One character off" (one edit: a letter typed wrong, left out, added or two swapped) is what
    Jaro-Winkler >= 0.92 misses in short names (``Ingo`` / ``Inggo`` passes, ``Klein`` /
    ``Klbin`` scores 0.88): a keystroke typo is stronger evidence than mere similarity.
    """
    levels: list[Level] = [
        ExactLevel(expression, tf=tf),
        ExactLevel(f"canonical_given({expression})", name="nickname of the same name"),
    ]
    if family is not None:
        levels.append(SwappedLevel(expression, family, name=SWAPPED_NAMES,
                                   metric="jaro_winkler", threshold=SWAP_SIMILARITY))
    levels += [
        SimilarityLevel(expression, "jaro_winkler", 0.92),
        SimilarityLevel(expression, "damerau_levenshtein", 1, name=ONE_TYPO),
        InitialLevel(expression, name="initial agrees"),
        SimilarityLevel(expression, "jaro_winkler", 0.8),
    ]
    return Comparison(name, tuple(levels), missing=(expression,))


def family_name_comparison(
    expression: str = "last_name",
    *,
    given: str | None = None,
    tf: bool = True,
    name: str = "family name",
) -> Comparison:
    """Family names: exact, similar, swapped with the given name, same sound, fuzzy, else.

    Levels: exact (TF-adjusted), Jaro-Winkler >= 0.92, one character off (one edit:
    a typo in a short name, ``Roth`` / ``Rotg``, that Jaro-Winkler >= 0.92 misses), swapped with
    the given name (when ``given`` is set), same sound (metaphone), Jaro-Winkler >= 0.8, else.

    The swapped level mirrors the given-name comparison's: a swap is the same person with both
    names in the wrong fields, so the family-name comparison must not count it as two different
    family names (without it a swap with the same email and phone scored 0.93, under 0.95).
    """
    levels: list[Level] = [
        ExactLevel(expression, tf=tf),
        SimilarityLevel(expression, "jaro_winkler", 0.92),
        SimilarityLevel(expression, "damerau_levenshtein", 1, name=ONE_TYPO),
    ]
    if given is not None:
        levels.append(SwappedLevel(expression, given, name=SWAPPED_NAMES,
                                   metric="jaro_winkler", threshold=SWAP_SIMILARITY))
    levels += [
        ExactLevel(f"metaphone({expression})", name="sounds the same"),
        SimilarityLevel(expression, "jaro_winkler", 0.8),
    ]
    return Comparison(name, tuple(levels), missing=(expression,))


#: Label of the email comparison's level for two numbered mailboxes of one name at one domain.
NUMBERED_MAILBOX = "another numbered mailbox at the same domain"


def email_comparison(
    expression: str = "email", *, name: str = "email", names: Sequence[str] = ()
) -> Comparison:
    """Emails: same address, same local part, another numbered mailbox, same domain, else.

    Levels: same address; same local part (TF-adjusted); another numbered mailbox at the same
    domain; same domain; else.

    The local part ignores dots and ``+tags`` (``j.doe+crm@x.com`` ~ ``jdoe@y.com``). Merely
    *similar* local parts are not a level: local parts are usually made of the person's name, so
    namesakes share them and the name comparisons already count that evidence. Two local parts
    that differ only by a trailing number at one domain (``a.rodriguez@`` and
    ``a.rodriguez2@``) are two mailboxes: the mail server numbered the second one because the
    name was taken, i.e. by a namesake (:data:`NUMBERED_MAILBOX`; the contacts preset's
    namesake rule reads it). Sharing a domain is weak evidence; it is not TF-adjusted: a rare
    (company) domain says "same employer", which the company comparison already counts, not
    "same person".

    With ``names`` (the given and family name expressions), a shared local part made only of
    either record's own name (``giusepperomano@libero.it`` / ``giusepperomano@virgilio.it``,
    ``j.smith@`` / ``jsmith@``) is not "same local part": namesakes share it as surely as the
    name, which the name comparisons count already (counted again, two namesakes at different
    providers scored as one person). The pair falls to the domain levels like any two
    addresses.
    """
    local = f"email_local({expression})"
    domain = f"email_domain({expression})"
    return Comparison(
        name,
        (
            ExactLevel(expression, name="same address"),
            ExactLevel(local, tf=True, name="same local part", unless_made_of=tuple(names)),
            AllOf((ExactLevel(domain), ExactLevel(f"without_number({local})")),
                  name=NUMBERED_MAILBOX),
            ExactLevel(domain, name="same domain"),
        ),
        missing=(expression,),
    )


def phone_comparison(expression: str = "phone", *, name: str = "phone") -> Comparison:
    """Phones: same number (all digits, i.e. same E.164, extension included), same national
    number, another extension of one switchboard, the same line with the extension written on
    one side only, one digit off.

    The phone key keeps an extension (``;ext=565``). Colleagues on one switchboard differ by
    it, so two extensions of a line are their own level; a number written once with its
    extension and once without (``+1 612 745 8190 x565`` / ``+1 612 745 8190``) is another:
    training weighs each.
    """
    national = f"national_number({expression})"
    return Comparison(
        name,
        (
            ExactLevel(f"digits({expression})", name="same number"),
            ExactLevel(national, name="same national number"),
            ExactLevel(f"switchboard({expression})", name="another extension of one line"),
            ExactLevel(f"line_number({expression})",
                       name="same line, extension on one side only"),
            SimilarityLevel(national, "damerau_levenshtein", 1, name="one digit off"),
        ),
        missing=(expression,),
    )


def company_comparison(
    expression: str = "company", *, tf: bool = True, name: str = "company"
) -> Comparison:
    """Company names: same name ignoring legal form (TF-adjusted), acronym, token-set, fuzzy."""
    key = f"company_key({expression})"
    return Comparison(
        name,
        (
            ExactLevel(key, tf=tf, name="same name ignoring legal form"),
            CrossExactLevel(key, f"acronym({expression})", name="acronym of the other"),
            SimilarityLevel(key, "token_set", 0.9, name="same words (token set >= 0.9)"),
            SimilarityLevel(key, "jaro_winkler", 0.88),
        ),
        missing=(expression,),
    )


def organisation_comparison(
    expression: str = "company", *, name: str = "organisation name"
) -> Comparison:
    """Organisation names as the main evidence (an account list, often the name alone).

    Levels: same name ignoring legal form (TF-adjusted); same words once abbreviations are
    expanded (TECH ~ TECHNOLOGIES, INTL ~ INTERNATIONAL, CO ~ COMPANY); acronym of the other;
    then rarity-weighted word overlap (:class:`TokenOverlapLevel` on ``company_words``: a shared
    rare word like AGILENT weighs more than INC or GROUP): Dice >= 0.8, Jaro-Winkler >= 0.92 on
    the key (a typo), Dice >= 0.7, one name's words contained in the other's (>= 0.8: "IBM" ~
    "IBM Almaden Research Center", but also "Meridian" ~ "Meridian Logistics", another company
    of a group: how often it is a duplicate depends on the list, so it sits below the typo and
    the Dice levels, and training pools it with them where the list says it is as good), Dice
    >= 0.6, 0.5, 0.4, 0.3; else (training keeps the weights in that order).

    On a name-only list no EM session can estimate this comparison; its m then comes from the
    pairs sharing a rare word or a typo apart
    (:func:`crmcore.matching._anchors.rare_word_anchor_counts`).
    """
    key = f"company_key({expression})"
    words = f"company_words({expression})"
    return Comparison(
        name,
        (
            ExactLevel(key, tf=True, name="same name ignoring legal form"),
            ExactLevel(words, name="same words after abbreviations"),
            CrossExactLevel(key, f"acronym({expression})", name="acronym of the other"),
            TokenOverlapLevel(words, 0.8, name="rare words mostly shared (dice >= 0.8)"),
            SimilarityLevel(key, "jaro_winkler", 0.92, name="a typo apart (jaro-winkler >= 0.92)"),
            TokenOverlapLevel(words, 0.7),
            TokenOverlapLevel(words, 0.8, metric="containment",
                              name="one name within the other (containment >= 0.8)"),
            *(TokenOverlapLevel(words, t) for t in (0.6, 0.5, 0.4, 0.3)),
        ),
        missing=(expression,),
    )


def date_comparison(
    expression: str = "dob", *, tf: bool = True, name: str | None = None
) -> Comparison:
    """Dates: exact (TF-adjusted: a placeholder like 1900-01-01 weighs less), one typo, within a
    month, within a year, within ten years, else. Unparseable dates still match exactly or by typo.
    """
    return Comparison(
        name or expression,
        (
            ExactLevel(expression, tf=tf),
            SimilarityLevel(expression, "damerau_levenshtein", 1, name=ONE_TYPO),
            DateDiffLevel(expression, 31, name="within a month"),
            DateDiffLevel(expression, 366, name="within a year"),
            DateDiffLevel(expression, 3653, name="within ten years"),
        ),
        missing=(expression,),
    )


def location_comparison(
    postcode: str = "postcode", city: str = "city", *, name: str = "location"
) -> Comparison:
    """Where a record is, as ONE comparison (postcode and city are not independent evidence).

    Levels: same postcode (TF-adjusted), postcode one character off, same city (TF-adjusted),
    similar city (Jaro-Winkler >= 0.9), else; missing when neither field is on both sides.
    """
    return Comparison(
        name,
        (
            ExactLevel(postcode, tf=True, name="same postcode"),
            SimilarityLevel(postcode, "damerau_levenshtein", 1, name="postcode one character off"),
            ExactLevel(city, tf=True, name="same city"),
            SimilarityLevel(city, "jaro_winkler", 0.9, name="similar city"),
        ),
        missing=(postcode, city),
    )


def postcode_comparison(
    expression: str = "postcode", *, tf: bool = True, name: str = "postcode"
) -> Comparison:
    """Postcodes: exact (TF-adjusted), one character off, same district (first token), else."""
    return Comparison(
        name,
        (
            ExactLevel(expression, tf=tf),
            SimilarityLevel(expression, "damerau_levenshtein", 1, name=ONE_TYPO),
            ExactLevel(f"first_token({expression})", name="same district"),
        ),
        missing=(expression,),
    )
