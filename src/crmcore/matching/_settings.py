"""Settings: the declarative description of one matching job.

:class:`MatchSettings` bundles what to prepare (normaliser per column), how to block, what to
compare, how to train (:class:`TrainingOptions`), deterministic rules (:class:`MatchRule`) and the
clustering policy (:class:`ClusterOptions`). Settings are frozen values; engines read them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from crmcore.errors import MatchingConfigError
from crmcore.matching._blocking import BLOCKING, BlockingRule
from crmcore.matching._comparisons import COMPARISONS, Comparison
from crmcore.model import SpecCodec, SpecField


def _frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return dict(value or {})


def _conditions(value: Mapping[str, Iterable[str]]) -> Mapping[str, tuple[str, ...]]:
    return {str(k): tuple(v) for k, v in dict(value).items()}


def _comparisons(values: Iterable[Comparison]) -> tuple[Comparison, ...]:
    return tuple(values)


def _rules(values: Iterable[BlockingRule]) -> tuple[BlockingRule, ...]:
    return tuple(values)


def _match_rules(values: Iterable[MatchRule]) -> tuple[MatchRule, ...]:
    return tuple(values)


@attrs.frozen
class MatchRule:
    """A deterministic rule combined with the score.

    The rule holds for a pair when, for every named comparison, the pair's level label is one of
    the listed labels. ``outcome="match"`` forces the pair to match (probability 1);
    ``"non_match"`` vetoes it (probability 0), whatever the score; clustering then keeps the
    two records apart even when a chain of other links joins them (a cannot-link pair, see
    :attr:`ClusterOptions.vetoes_apart`).

    Args:
        name: Rule name, shown in explanations.
        when: Comparison name -> accepted level labels.
        outcome: ``"match"`` or ``"non_match"``.
    """

    name: str
    when: Mapping[str, tuple[str, ...]] = attrs.field(converter=_conditions)
    outcome: str = attrs.field(default="match")

    @outcome.validator
    def _check_outcome(self, _a: object, value: str) -> None:
        if value not in ("match", "non_match"):
            raise MatchingConfigError(f"rule {self.name!r}: outcome must be match or non_match")

    @when.validator
    def _check_when(self, _a: object, value: Mapping[str, tuple[str, ...]]) -> None:
        if not value:
            raise MatchingConfigError(f"rule {self.name!r} has no conditions")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return MATCH_RULES.to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MatchRule:
        """Rebuild from :meth:`to_dict`."""
        rule: MatchRule = MATCH_RULES.from_dict(data, path="rules")
        return rule


@attrs.frozen
class TrainingOptions:
    """How the Fellegi-Sunter parameters are estimated.

    u probabilities start from a random sample of ``u_sample_pairs`` pairs. Then expectation
    maximisation runs on the counts of distinct comparison patterns among the blocked candidate
    pairs (so its cost does not depend on the data size), estimating the m probabilities, the
    match rate among candidates and, when ``em_estimates_u``, the u probabilities of that
    population too.

    Args:
        u_sample_pairs: Random pairs used to estimate u.
        max_iterations: EM iteration cap.
        tolerance: EM stops when no parameter moves more than this.
        em_estimates_u: Whether EM also re-estimates u on the candidate pairs.
        fixed_m: Comparison name -> level label -> m value kept fixed.
        fixed_u: Comparison name -> level label -> u value kept fixed.
        fixed_prior: Match rate among candidate pairs kept fixed, if given.
        seed: Random seed for sampling.
        u_within: Field expression (e.g. ``"country"``): u of the comparisons not reading it is
            estimated on random pairs sharing its value (see
            :func:`crmcore.matching._u_sampling.estimate_u`).
        monotone: Keep every comparison's levels monotone: a more specific level never weighs
            less than a less specific one (adjacent levels that break the order are pooled to
            one weight, see :func:`crmcore.matching._em.monotone_levels`). Levels are written
            from the most to the least specific, so a reversal is an artefact of EM (e.g.
            duplicates with exactly one typo make "similar" look likelier than "equal").
    """

    u_sample_pairs: int = attrs.field(default=150_000, validator=attrs.validators.ge(1000))
    max_iterations: int = attrs.field(default=200, validator=attrs.validators.ge(1))
    tolerance: float = attrs.field(default=1e-6, validator=attrs.validators.gt(0.0))
    em_estimates_u: bool = True
    fixed_m: Mapping[str, Mapping[str, float]] = attrs.field(
        factory=dict, converter=_frozen_mapping
    )
    fixed_u: Mapping[str, Mapping[str, float]] = attrs.field(
        factory=dict, converter=_frozen_mapping
    )
    fixed_prior: float | None = None
    seed: int = 0
    u_within: str | None = None
    monotone: bool = True

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return TRAINING.to_dict(self)


@attrs.frozen
class ClusterOptions:
    """How matched pairs become entities.

    ``method="components"`` takes connected components of the pairs at or above the threshold.
    ``method="guarded"`` does the same, then re-splits any component that is larger than
    ``max_size`` or whose edge density (edges / possible edges) is below ``min_density``, by
    dropping its weakest edges (lowest match weight first) until every part passes. This stops
    long chains of weak links from gluing distinct people together.

    With ``vetoes_apart`` (the default), a pair vetoed by a ``"non_match"`` rule is a
    cannot-link pair, as a review decision "different" is: if a chain of other links still
    joins the two records (``a ~ c ~ b``), the weakest link of the chain is cut
    (:func:`~crmcore.matching.cluster_with_decisions`, the function batch runs, Spark
    and the real-time index all use). Without it a veto only removes the pair's own link.

    ``method="pooled"`` is for lists whose pair scores are weak evidence one by one (an
    organisation name alone): the components of the pairs at or above the threshold are joined
    further by average linkage over the *weak* links (``pool_threshold <= p < threshold``):
    two groups merge when the mean over all their cross pairs of ``p - pool_threshold``
    (a pair without a weak link counting ``-pool_missing``) is above 0, the best-scoring
    mutual pair of groups first, so no single weak link chains two groups together; weak
    links count only in link components whose groups hold weak links inside too (at least
    ``pool_weak_share`` of their inner links). See
    :func:`~crmcore.matching._cluster.pooled_labels`, the function batch, Spark and the
    real-time index all use.

    Args:
        method: ``"components"``, ``"guarded"`` or ``"pooled"``.
        max_size: Largest cluster allowed by the guarded method (None: unlimited).
        min_density: Smallest edge density for clusters of 3+ records in the guarded method.
        vetoes_apart: Keep pairs vetoed by a ``"non_match"`` rule in different entities.
        pool_threshold: Lowest probability of a weak link (pooled method).
        pool_missing: What a cross pair without a weak link costs (pooled method).
        pool_weak_share: Smallest share of weak links among the links inside the groups of a
            link component for its weak links to count (pooled method).
    """

    method: str = attrs.field(default="guarded")
    max_size: int | None = None
    min_density: float = attrs.field(default=0.4)
    vetoes_apart: bool = True
    pool_threshold: float = attrs.field(default=0.4)
    pool_missing: float = attrs.field(default=0.005)
    pool_weak_share: float = attrs.field(default=0.1)

    @method.validator
    def _check_method(self, _a: object, value: str) -> None:
        if value not in ("components", "guarded", "pooled"):
            raise MatchingConfigError(
                f"cluster method must be components, guarded or pooled, not {value!r}"
            )

    @pool_threshold.validator
    @pool_weak_share.validator
    def _check_unit(self, a: attrs.Attribute[float], value: float) -> None:
        if not 0.0 <= value <= 1.0:
            raise MatchingConfigError(f"{a.name} must be in [0, 1], got {value}")

    @pool_missing.validator
    def _check_missing(self, _a: object, value: float) -> None:
        if not value >= 0.0:
            raise MatchingConfigError(f"pool_missing must be >= 0, got {value}")

    def link_floor(self, threshold: float) -> float:
        """Lowest probability of a pair that clustering reads at this threshold: the
        threshold, or the pooled method's weak-link threshold when lower."""
        if self.method == "pooled":
            return min(threshold, self.pool_threshold)
        return threshold

    @min_density.validator
    def _check_density(self, _a: object, value: float) -> None:
        if not 0.0 <= value <= 1.0:
            raise MatchingConfigError(f"min_density must be in [0, 1], got {value}")


@attrs.frozen
class MatchSettings:
    """Everything a matching job needs, as one frozen value.

    Args:
        comparisons: Comparisons scored for every candidate pair (names must be unique).
        blocking: Blocking rules (OR-ed).
        prepare: Column -> normaliser kind applied before matching (see
            :func:`crmcore.matching._prepare.prepare_columns`); other columns are used as they are.
        rules: Deterministic rules combined with the score.
        training: Training options.
        threshold: Default match probability threshold for clustering.
        max_pairs: Candidate pair budget (None: unlimited).
        cluster: Clustering options.
        name: Name of the settings (e.g. a preset name).
    """

    comparisons: tuple[Comparison, ...] = attrs.field(converter=_comparisons)
    blocking: tuple[BlockingRule, ...] = attrs.field(converter=_rules)
    prepare: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_mapping)
    rules: tuple[MatchRule, ...] = attrs.field(default=(), converter=_match_rules)
    training: TrainingOptions = attrs.field(factory=TrainingOptions)
    threshold: float = attrs.field(default=0.9)
    max_pairs: int | None = 50_000_000
    cluster: ClusterOptions = attrs.field(factory=ClusterOptions)
    name: str = "custom"

    @comparisons.validator
    def _check_comparisons(self, _a: object, value: tuple[Comparison, ...]) -> None:
        if not value:
            raise MatchingConfigError("settings need at least one comparison")
        names = [c.name for c in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise MatchingConfigError(f"comparison names must be unique: {dupes}")

    @blocking.validator
    def _check_blocking(self, _a: object, value: tuple[BlockingRule, ...]) -> None:
        if not value:
            raise MatchingConfigError("settings need at least one blocking rule")

    @threshold.validator
    def _check_threshold(self, _a: object, value: float) -> None:
        if not 0.0 <= value <= 1.0:
            raise MatchingConfigError(f"threshold must be a probability, got {value}")

    @property
    def columns(self) -> frozenset[str]:
        """Base columns read by blocking and comparisons."""
        cols: set[str] = set()
        for c in self.comparisons:
            cols |= c.columns
        for r in self.blocking:
            cols |= r.columns
        return frozenset(cols)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return SETTINGS.to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MatchSettings:
        """Rebuild from :meth:`to_dict`."""
        settings: MatchSettings = SETTINGS.from_dict(data, path="settings")
        return settings


def _config(family: str, key: str | None = None) -> SpecCodec:
    return SpecCodec(family, key=key, error=MatchingConfigError.from_problems)


def _to_dict(value: Any) -> Any:
    return value.to_dict()


def _to_dicts(values: Iterable[Any]) -> list[Any]:
    return [v.to_dict() for v in values]


#: The dict form of a deterministic match rule.
MATCH_RULES = _config("rule")
MATCH_RULES.register(MatchRule)
#: The dict form of training options.
TRAINING = _config("training")
TRAINING.register(TrainingOptions)
#: The dict form of cluster options.
CLUSTER = _config("cluster")
CLUSTER.register(ClusterOptions, fields={
    # files of earlier releases have no such key: they load with the default, and a default
    # writes no key, so they round-trip unchanged
    "vetoes_apart": SpecField(omit=lambda on: on is True),
    # nor these (the pooled method came later): written only when not the default
    "pool_threshold": SpecField(omit=lambda v: v == 0.4),
    "pool_missing": SpecField(omit=lambda v: v == 0.005),
    "pool_weak_share": SpecField(omit=lambda v: v == 0.1),
})
#: The dict form of match settings (comparisons and blocking rules through their codecs).
SETTINGS = _config("settings")
SETTINGS.register(
    MatchSettings,
    fields={
        "comparisons": SpecField(encode=_to_dicts, decode=SpecCodec.list_of(
            COMPARISONS.decode, rule="settings.comparisons")),
        "blocking": SpecField(encode=_to_dicts, decode=SpecCodec.list_of(
            BLOCKING.decode, rule="settings.blocking")),
        "rules": SpecField(encode=_to_dicts, decode=SpecCodec.list_of(
            MATCH_RULES.decode, rule="settings.rules")),
        "training": SpecField(encode=TRAINING.to_dict, decode=TRAINING.decode),
        "cluster": SpecField(encode=CLUSTER.to_dict, decode=CLUSTER.decode),
        # a file without max_pairs was read as "no budget" by earlier releases
        "max_pairs": SpecField(absent=None),
    },
    order=("name", "comparisons", "blocking", "prepare", "rules", "training", "threshold",
           "max_pairs", "cluster"),
)  # fmt: skip
