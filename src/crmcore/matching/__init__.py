"""Identity resolution in batch: blocking, comparisons, a Fellegi-Sunter model, clusters.

The front door of ``crmcore.matching``. The main jobs are :func:`dedupe` (one table) and
:func:`link` (two tables); the parts they are made of (blocking rules, comparisons, the model,
prediction, clustering, explanation, evaluation, run-to-run comparison, presets) are all public,
so each step can be run, inspected and replaced on its own. See ``docs/matching.md``. Real-time
matching (:class:`MatchIndex`), stable entity ids and the clerical review queue are re-exported
here too (``docs/realtime.md``); run-to-run comparison is in ``docs/labels.md``.

Example:
    >>> rows = [
    ...     {"id": "1", "first_name": "Ann", "last_name": "Lee", "email": "ann@x.com"},
    ...     {"id": "2", "first_name": "Ann", "last_name": "Lee", "email": "ann@x.com"},
    ... ]
    >>> dedupe(rows, id_column="id").n_entities
    1
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crmcore import compat
from crmcore.matching._active import (
    ActiveLearning,
    LabelFit,
    LabelledPair,
    PairQuestion,
    active_learning,
    best_threshold,
    fit_labels,
    fit_weights,
)
from crmcore.matching._api import dedupe, link, prepare_frame
from crmcore.matching._blocking import (
    BlockingAnalysis,
    BlockingRule,
    BlockOn,
    CandidatePairs,
    SortedNeighbourhood,
    analyse_blocking,
    block,
    block_and_analyse,
    block_on,
    rule_from_dict,
)
from crmcore.matching._cluster import cluster_pairs, connected_components, one_to_one
from crmcore.matching._compare import EntityChange, RunComparison, compare_runs
from crmcore.matching._comparisons import (
    NUMBERED_MAILBOX,
    SWAPPED_NAMES,
    Comparison,
    company_comparison,
    comparison_from_dict,
    compute_levels,
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
from crmcore.matching._em import expectation_maximisation
from crmcore.matching._evaluate import (
    Scores,
    blocking_quality,
    cluster_scores,
    pair_scores,
    precision_recall_table,
)
from crmcore.matching._explain import (
    ClusterExplanation,
    Contribution,
    Waterfall,
    explain_cluster,
    explain_levels,
    explain_pair,
)
from crmcore.matching._expressions import Expression, Frame, RecordValues, parse_expression
from crmcore.matching._functions import EXPRESSION_FUNCTIONS
from crmcore.matching._levels import (
    AllOf,
    CrossExactLevel,
    DateDiffLevel,
    ExactLevel,
    InitialLevel,
    Level,
    NumericLevel,
    SimilarityLevel,
    SwappedLevel,
    TokenOverlapLevel,
    level_from_dict,
)
from crmcore.matching._model import MatchModel, TrainingReport
from crmcore.matching._pairs import pair_similarity
from crmcore.matching._predict import (
    ModelScorer,
    ScoredPairs,
    score_levels,
    score_pairs,
    score_records,
)
from crmcore.matching._prepare import PREPARE_KINDS, prepare_columns
from crmcore.matching._presets import (
    HOUSEHOLD_RULE,
    NAMESAKE_RULE,
    PRESETS,
    accounts,
    contacts,
    get_preset,
    people,
    person_rules,
)
from crmcore.matching._reader import needed_columns, read_records
from crmcore.matching._result import MatchResult
from crmcore.matching._review import (
    ConstrainedClusters,
    ReviewDecision,
    ReviewItem,
    ReviewQueue,
    cluster_with_decisions,
)
from crmcore.matching._settings import ClusterOptions, MatchRule, MatchSettings, TrainingOptions
from crmcore.matching._stable_ids import (
    IdChangeReport,
    StableIds,
    assign_stable_ids,
)
from crmcore.matching._tf import TermFrequencies
from crmcore.matching._training import train_model
from crmcore.matching._u_sampling import estimate_u

__all__ = [
    "EXPRESSION_FUNCTIONS",
    "HOUSEHOLD_RULE",
    "NAMESAKE_RULE",
    "NUMBERED_MAILBOX",
    "PREPARE_KINDS",
    "PRESETS",
    "SWAPPED_NAMES",
    "ActiveLearning",
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
    "EntityChange",
    "ExactLevel",
    "Expression",
    "Frame",
    "IdChangeReport",
    "InitialLevel",
    "LabelFit",
    "LabelledPair",
    "Level",
    "MatchModel",
    "MatchResult",
    "MatchRule",
    "MatchSettings",
    "ModelScorer",
    "NumericLevel",
    "PairQuestion",
    "RecordValues",
    "ReviewDecision",
    "ReviewItem",
    "ReviewQueue",
    "RunComparison",
    "ScoredPairs",
    "Scores",
    "SimilarityLevel",
    "SortedNeighbourhood",
    "StableIds",
    "SwappedLevel",
    "TermFrequencies",
    "TokenOverlapLevel",
    "TrainingOptions",
    "TrainingReport",
    "Waterfall",
    "accounts",
    "active_learning",
    "analyse_blocking",
    "assign_stable_ids",
    "best_threshold",
    "block",
    "block_and_analyse",
    "block_on",
    "blocking_quality",
    "cluster_pairs",
    "cluster_scores",
    "cluster_with_decisions",
    "company_comparison",
    "compare_runs",
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
    "fit_labels",
    "fit_weights",
    "fuzzy_comparison",
    "get_preset",
    "given_name_comparison",
    "level_from_dict",
    "link",
    "location_comparison",
    "needed_columns",
    "one_to_one",
    "organisation_comparison",
    "pair_scores",
    "pair_similarity",
    "parse_expression",
    "people",
    "person_rules",
    "phone_comparison",
    "postcode_comparison",
    "precision_recall_table",
    "prepare_columns",
    "prepare_frame",
    "read_records",
    "rule_from_dict",
    "score_levels",
    "score_pairs",
    "score_records",
    "train_model",
]

compat.own(__name__, globals(), __all__)
if not TYPE_CHECKING:  # old names warn (type checkers see only the names above)
    __getattr__ = compat.door_getattr(__name__)
