"""Identity resolution in batch: blocking, comparisons, a Fellegi-Sunter model, clusters.

The front door of ``crmcore.matching``. The main jobs are :func:`dedupe` (one table) and
:func:`link` (two tables); the parts they are made of (blocking rules, comparisons, the model,
prediction, clustering, explanation, evaluation, presets) are all public, so each step can be run,
inspected and replaced on its own. See ``docs/matching.md``. Real-time matching
(:class:`MatchIndex`), stable entity ids and the clerical review queue are re-exported here too
(``docs/realtime.md``).

Example:
    >>> rows = [
    ...     {"id": "1", "first_name": "Ann", "last_name": "Lee", "email": "ann@x.com"},
    ...     {"id": "2", "first_name": "Ann", "last_name": "Lee", "email": "ann@x.com"},
    ... ]
    >>> dedupe(rows, id_column="id").n_entities
    1
"""

from __future__ import annotations

from crmcore.matching.api import MatchResult, dedupe, link, prepare_frame
from crmcore.matching.blocking import (
    BlockingAnalysis,
    BlockingRule,
    BlockOn,
    CandidatePairs,
    SortedNeighbourhood,
    analyse_blocking,
    block,
    block_and_analyse,
    block_on,
    rule_agrees,
    rule_from_dict,
)
from crmcore.matching.cluster import cluster_pairs, connected_components, one_to_one
from crmcore.matching.comparisons import (
    LEVEL_KINDS,
    AllOf,
    Comparison,
    CrossExactLevel,
    DateDiffLevel,
    ExactLevel,
    InitialLevel,
    Level,
    NumericLevel,
    PairContext,
    SimilarityLevel,
    SwappedLevel,
    company_comparison,
    comparison_from_dict,
    compute_levels,
    date_comparison,
    email_comparison,
    exact_match,
    family_name_comparison,
    fuzzy_comparison,
    given_name_comparison,
    level_from_dict,
    location_comparison,
    phone_comparison,
    postcode_comparison,
)
from crmcore.matching.evaluate import (
    Scores,
    blocking_quality,
    cluster_scores,
    pair_scores,
    precision_recall_table,
    truth_codes,
)
from crmcore.matching.explain import (
    ClusterExplanation,
    Contribution,
    Waterfall,
    explain_cluster,
    explain_levels,
    explain_pair,
)
from crmcore.matching.expressions import (
    EXPRESSION_FUNCTIONS,
    MULTI_VALUED_FUNCTIONS,
    Expression,
    Frame,
    RecordValues,
    parse_expression,
)
from crmcore.matching.index import MatchCandidate, MatchIndex
from crmcore.matching.model import (
    MatchModel,
    TermFrequencies,
    TrainingReport,
    estimate_u,
    expectation_maximisation,
    pattern_counts,
    train_model,
)
from crmcore.matching.predict import (
    ModelScorer,
    ScoredPairs,
    score_levels,
    score_pairs,
    score_records,
    stack_frames,
)
from crmcore.matching.prepare import PREPARE_KINDS, prepare_columns
from crmcore.matching.presets import PRESETS, accounts, contacts, get_preset, people
from crmcore.matching.review import (
    ConstrainedClusters,
    ReviewDecision,
    ReviewItem,
    ReviewQueue,
    cluster_with_decisions,
)
from crmcore.matching.settings import ClusterOptions, MatchRule, MatchSettings, TrainingOptions
from crmcore.matching.stable_ids import (
    IdChangeReport,
    StableIds,
    assign_stable_ids,
    format_entity_id,
)

__all__ = [
    "EXPRESSION_FUNCTIONS",
    "LEVEL_KINDS",
    "MULTI_VALUED_FUNCTIONS",
    "PREPARE_KINDS",
    "PRESETS",
    "AllOf",
    "BlockOn",
    "BlockingAnalysis",
    "BlockingRule",
    "CandidatePairs",
    "ClusterExplanation",
    "ClusterOptions",
    "Comparison",
    "ConstrainedClusters",
    "Contribution",
    "CrossExactLevel",
    "DateDiffLevel",
    "ExactLevel",
    "Expression",
    "Frame",
    "IdChangeReport",
    "InitialLevel",
    "Level",
    "MatchCandidate",
    "MatchIndex",
    "MatchModel",
    "MatchResult",
    "MatchRule",
    "MatchSettings",
    "ModelScorer",
    "NumericLevel",
    "PairContext",
    "RecordValues",
    "ReviewDecision",
    "ReviewItem",
    "ReviewQueue",
    "ScoredPairs",
    "Scores",
    "SimilarityLevel",
    "SortedNeighbourhood",
    "StableIds",
    "SwappedLevel",
    "TermFrequencies",
    "TrainingOptions",
    "TrainingReport",
    "Waterfall",
    "accounts",
    "analyse_blocking",
    "assign_stable_ids",
    "block",
    "block_and_analyse",
    "block_on",
    "blocking_quality",
    "cluster_pairs",
    "cluster_scores",
    "cluster_with_decisions",
    "company_comparison",
    "comparison_from_dict",
    "compute_levels",
    "connected_components",
    "contacts",
    "date_comparison",
    "dedupe",
    "email_comparison",
    "estimate_u",
    "exact_match",
    "expectation_maximisation",
    "explain_cluster",
    "explain_levels",
    "explain_pair",
    "family_name_comparison",
    "format_entity_id",
    "fuzzy_comparison",
    "get_preset",
    "given_name_comparison",
    "level_from_dict",
    "link",
    "location_comparison",
    "one_to_one",
    "pair_scores",
    "parse_expression",
    "pattern_counts",
    "people",
    "phone_comparison",
    "postcode_comparison",
    "precision_recall_table",
    "prepare_columns",
    "prepare_frame",
    "rule_agrees",
    "rule_from_dict",
    "score_levels",
    "score_pairs",
    "score_records",
    "stack_frames",
    "train_model",
    "truth_codes",
]
