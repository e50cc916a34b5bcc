"""Explanations: why a pair scored as it did, and which links hold a cluster together.

:func:`explain_pair` gives a :class:`Waterfall`: the prior, then each comparison's level and
weight (term-frequency adjustment shown separately), the total and the probability — as data
(``to_dict``), text (``to_text``) and a chart (``plot``, needs the ``plot`` extra).

:func:`explain_levels` builds the same waterfall from a pair's levels and its two records' values
(the real-time index explains its candidates with it); :func:`explain_pair` scores a pair of
frame rows and calls it.

:func:`explain_cluster` gives the cluster's members, the matched pairs inside it and its maximum
spanning tree (the strongest links that connect every member; the weakest of them is where the
cluster would split first).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.errors import MatchingConfigError, require
from crmcore.matching._expressions import Frame
from crmcore.matching._model import MatchModel
from crmcore.matching._pairs import Values
from crmcore.matching._predict import ModelScorer, ScoredPairs, score_pairs

IntArray = npt.NDArray[np.int64]


@attrs.frozen
class Contribution:
    """One step of a waterfall.

    Args:
        name: Comparison name (or ``"prior"`` / ``"rule"``).
        level: Level label.
        weight: Match weight in bits (TF adjustment excluded).
        tf_adjustment: Term-frequency adjustment in bits.
        left_value: Value on the left record (first column of the comparison).
        right_value: Value on the right record.
    """

    name: str
    level: str
    weight: float
    tf_adjustment: float = 0.0
    left_value: str | None = None
    right_value: str | None = None


@attrs.frozen
class Waterfall:
    """Contribution of each comparison to one pair's match weight."""

    left: int
    right: int
    steps: tuple[Contribution, ...]
    match_weight: float
    probability: float
    rule: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "left": self.left,
            "right": self.right,
            "steps": [attrs.asdict(s) for s in self.steps],
            "match_weight": self.match_weight,
            "probability": self.probability,
            "rule": self.rule,
        }

    def __repr__(self) -> str:
        from crmcore.display import waterfall_text

        return waterfall_text(self)

    def _repr_html_(self) -> str:
        from crmcore.display import waterfall_html

        return waterfall_html(self)

    def explanation(self) -> dict[str, Any]:
        """The short JSON-friendly form a real-time match carries: ``prior`` (bits), then per
        comparison ``{"level", "weight", "tf_adjustment"}``, and ``rule`` (the deciding
        deterministic rule's name, or None)."""
        out: dict[str, Any] = {}
        for s in self.steps:
            if s.name == "prior" and not out:
                out["prior"] = s.weight
            else:
                out[s.name] = {"level": s.level, "weight": s.weight,
                               "tf_adjustment": s.tf_adjustment}
        out["rule"] = self.rule
        return out

    def to_text(self) -> str:
        """A readable waterfall, one line per step."""
        lines = []
        running = 0.0
        for s in self.steps:
            running += s.weight + s.tf_adjustment
            tf = f" (TF {s.tf_adjustment:+.2f})" if s.tf_adjustment else ""
            vals = (
                f"  [{s.left_value!s} | {s.right_value!s}]"
                if s.name != "prior" else ""
            )
            lines.append(
                f"{s.name:<16} {s.level:<36} {s.weight + s.tf_adjustment:+7.2f}{tf}"
                f"  -> {running:+7.2f}{vals}"
            )
        lines.append(f"{'total':<16} {'':<36} {self.match_weight:+7.2f}  "
                     f"probability {self.probability:.6f}")
        if self.rule:
            lines.append(f"decided by rule {self.rule!r}")
        return "\n".join(lines)

    def plot(self, ax: Any = None) -> Any:
        """Draw the waterfall as a bar chart (needs ``pip install 'crmcore[plot]'``).

        Returns:
            The matplotlib Axes.
        """
        plt = require("matplotlib.pyplot", "plot", "waterfall charts")
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 0.4 * len(self.steps) + 1.5))
        bottoms, heights, labels = [], [], []
        running = 0.0
        for s in self.steps:
            w = s.weight + s.tf_adjustment
            bottoms.append(running if w >= 0 else running + w)
            heights.append(abs(w))
            labels.append(f"{s.name}: {s.level}")
            running += w
        colors = ["tab:green" if s.weight + s.tf_adjustment >= 0 else "tab:red" for s in self.steps]
        y = np.arange(len(self.steps))
        ax.barh(y, heights, left=bottoms, color=colors)
        ax.set_yticks(y, labels)
        ax.invert_yaxis()
        ax.axvline(0, color="grey", linewidth=0.8)
        ax.set_xlabel(f"match weight (bits); total {self.match_weight:+.2f}, "
                      f"p = {self.probability:.4f}")
        return ax


def explain_levels(
    model: MatchModel,
    levels: Sequence[int],
    left: Values,
    right: Values,
    *,
    match_weight: float,
    probability: float,
    rule: int = -1,
    rows: tuple[int, int] = (-1, -1),
    weights: Sequence[Any] | None = None,
    labels: Sequence[Sequence[str]] | None = None,
    scorer: ModelScorer | None = None,
) -> Waterfall:
    """The waterfall of a scored pair, from its levels and its two records' values.

    Each comparison's step has its level's label and weight and, where the model adjusts that
    level for term frequency, :meth:`TermFrequencies.adjustment` of the left record's value
    (what scoring adds); the values shown are each side's value of the comparison's first
    ``missing`` expression.

    Args:
        model: The model that scored the pair.
        levels: Level index per comparison.
        left: The left record's values by expression (e.g. a
            :class:`~crmcore.matching._expressions.RecordValues`).
        right: The right record's values.
        match_weight: The pair's match weight.
        probability: The pair's probability.
        rule: Index of the deciding rule (-1 for none).
        rows: Row numbers shown as ``left`` / ``right``.
        weights: ``model.weights()``, when the caller holds them already.
        labels: Each comparison's ``labels``, when the caller holds them already.
        scorer: The model's :class:`ModelScorer`, when the caller holds one: its weights,
            labels and memoised term-frequency adjustments are used (the same numbers).
    """
    tf_tables = model.tf
    if scorer is not None:
        weights, labels = scorer.weight_lists, scorer.labels
    weights = model.weights() if weights is None else weights
    labels = [c.labels for c in model.comparisons] if labels is None else labels
    steps = [Contribution("prior", "prior odds", model.prior_weight)]
    for ci, comp in enumerate(model.comparisons):
        li = int(levels[ci])
        tf = 0.0
        tf_table = tf_tables.get((ci, li)) if tf_tables else None
        if tf_table is not None:
            value = left[tf_table.expression]
            tf = (tf_table.adjustment(value) if scorer is None
                  else scorer.tf_adjustment(ci, li, value))
        expr = comp.missing[0]
        steps.append(Contribution(comp.name, labels[ci][li], float(weights[ci][li]), tf,
                                  left[expr], right[expr]))
    return Waterfall(
        left=rows[0],
        right=rows[1],
        steps=tuple(steps),
        match_weight=float(match_weight),
        probability=float(probability),
        rule=model.rules[rule].name if rule >= 0 else None,
    )


def explain_pair(model: MatchModel, frame: Frame, left: int, right: int) -> Waterfall:
    """The waterfall of one pair of rows of a frame (same score as batch prediction)."""
    scored = score_pairs(model, frame, None, [left], [right])
    return explain_levels(
        model,
        scored.levels[0].tolist(),
        frame.row_values(left),
        frame.row_values(right),
        match_weight=float(scored.match_weight[0]),
        probability=float(scored.probability[0]),
        rule=int(scored.rule[0]),
        rows=(left, right),
    )


@attrs.frozen
class ClusterExplanation:
    """The members of a cluster and the links that hold it together.

    Args:
        members: Rows of the cluster.
        edges: Indexes (into the scored pairs) of matched pairs inside the cluster.
        spanning_tree: Indexes of the pairs of the maximum spanning tree, weakest first.
        density: Matched pairs / possible pairs inside the cluster.
        kept_apart: Why matched links from the cluster to other records were cut, one line
            each (e.g. a pair vetoed by a ``"non_match"`` rule that a chain would have
            joined); empty when none was.
    """

    members: tuple[int, ...]
    edges: tuple[int, ...]
    spanning_tree: tuple[int, ...]
    density: float
    kept_apart: tuple[str, ...] = ()

    def _repr_html_(self) -> str:
        from crmcore.display import cluster_html

        return cluster_html(self)

    def to_text(self, pairs: ScoredPairs, ids: list[str | None] | None = None) -> str:
        """Readable list of the links of the spanning tree, weakest first."""
        name = (lambda i: str(ids[i])) if ids is not None else str
        head = (
            f"{len(self.members)} records, {len(self.edges)} matched pairs, "
            f"density {self.density:.2f}; links holding it together (weakest first):"
        )
        lines = [head] + [
            f"  {name(int(pairs.left[k]))} -- {name(int(pairs.right[k]))}  "
            f"weight {pairs.match_weight[k]:+.2f}  p {pairs.probability[k]:.4f}"
            for k in self.spanning_tree
        ]
        if self.kept_apart:
            lines.append("links cut to keep records apart:")
            lines.extend(f"  {line}" for line in self.kept_apart)
        return "\n".join(lines)


def explain_cluster(
    pairs: ScoredPairs, labels: IntArray, row: int, *, threshold: float,
    kept_apart: Sequence[str] = (),
) -> ClusterExplanation:
    """Explain the cluster that contains ``row``.

    Args:
        pairs: Scored pairs.
        labels: Cluster label per row.
        row: Any row of the cluster.
        threshold: Probability threshold used for the clusters.
        kept_apart: Lines saying why links from the cluster were cut (see
            :meth:`MatchResult.explain_entity`).

    Raises:
        MatchingConfigError: If ``row`` is out of range.
    """
    if not 0 <= row < len(labels):
        raise MatchingConfigError(f"row {row} is not in the data ({len(labels)} rows)")
    members = np.flatnonzero(labels == labels[row])
    inside = np.flatnonzero(
        (labels[pairs.left] == labels[row]) & (labels[pairs.right] == labels[row])
        & (pairs.probability >= threshold)
    )
    # Kruskal, strongest first: an edge joins the tree when it connects two parts.
    order = inside[np.argsort(-pairs.match_weight[inside], kind="stable")]
    tree: list[int] = []
    parent = {int(m): int(m) for m in members}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for k in order.tolist():
        a, b = find(int(pairs.left[k])), find(int(pairs.right[k]))
        if a != b:
            parent[max(a, b)] = min(a, b)
            tree.append(k)
    tree.sort(key=lambda k: float(pairs.match_weight[k]))
    size = len(members)
    possible = size * (size - 1) / 2
    return ClusterExplanation(
        members=tuple(members.tolist()),
        edges=tuple(inside.tolist()),
        spanning_tree=tuple(tree),
        density=len(inside) / possible if possible else 1.0,
        kept_apart=tuple(kept_apart),
    )
