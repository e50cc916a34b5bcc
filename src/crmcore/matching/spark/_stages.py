"""The per-batch functions the Spark runner ships to executors (``mapInArrow``).

Each function receives Arrow record batches and runs crmcore's own in-process code on them:
:class:`~crmcore.matching._expressions.Frame` for normalisation and field expressions,
:func:`~crmcore.matching._comparisons.compute_levels` for comparison levels and
:func:`~crmcore.matching._predict.score_levels` for weights and probabilities. Nothing here
re-implements a normaliser, a comparison or a weight, so the two engines cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from crmcore.matching._anchors import one_typo_apart
from crmcore.matching._blocking import BlockingRule, BlockOn
from crmcore.matching._comparisons import Comparison, compute_levels
from crmcore.matching._expressions import Frame, parse_expression
from crmcore.matching._model import MatchModel
from crmcore.matching._pairs import PairContext, value_words
from crmcore.matching._predict import score_levels
from crmcore.matching._prepare import PREPARE_KINDS

#: Separator of the parts of a composite block key (a control character no value contains).
KEY_SEPARATOR = "\x1f"


def key_column(index: int) -> str:
    """Name of the prepared column holding the block keys of rule ``index``."""
    return f"__crm_key{index}"


def count_column(index: int) -> str:
    """Name of the prepared column holding the ``count_by`` value of adaptive rule ``index``
    (:meth:`~crmcore.matching.BlockOn.budget_count`)."""
    return f"__crm_by{index}"


def sort_column(index: int) -> str:
    """Name of the prepared column holding the sort value of sorted-neighbourhood rule ``index``."""
    return f"__crm_sort{index}"


def _cells(values: Iterable[Any]) -> list[str | None]:
    """Input cells as the in-process Table sees them: blank text is missing."""
    return [v if v is not None and v.strip() else None for v in values]


def _rule_keys(rule: BlockOn, frame: Frame) -> list[list[str]]:
    """The block keys of every row under a rule (several for a multi-valued rule)."""
    n = frame.n_rows
    singles = [e for e in rule.expressions if not parse_expression(e).multi_valued]
    multi = [e for e in rule.expressions if parse_expression(e).multi_valued]
    parts = [frame.values(e) for e in singles]
    joined: list[str | None] = []
    for row in range(n):
        vals = [p[row] for p in parts]
        present = [v for v in vals if v is not None]
        joined.append(KEY_SEPARATOR.join(rule.arrange(present)) if len(present) == len(vals)
                      else None)
    if not multi:
        return [[] if k is None else [k] for k in joined]
    rows, keys = frame.exploded(multi[0])
    strings = frame.strings()
    out: list[list[str]] = [[] for _ in range(n)]
    for r, k in zip(rows.tolist(), strings[keys].tolist(), strict=True):
        base = joined[r]
        if base is None and singles:
            continue
        out[r].append(str(k) if not singles else f"{k}{KEY_SEPARATOR}{base}")
    return out


def prepare_function(
    columns: Sequence[str],
    prepare: Mapping[str, str],
    rules: Sequence[BlockingRule],
    schema: Any,
) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """Batch function: normalise the matching columns and compute every rule's block keys.

    Output columns: ``__crm_row``, the prepared columns, one key list per exact rule (and its
    ``count_by`` value, if any) and one sort value per sorted-neighbourhood rule.
    """
    normalisers = {c: PREPARE_KINDS[k] for c, k in prepare.items() if c in columns}

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        for batch in batches:
            raw = {c: _cells(batch.column(c).to_pylist()) for c in columns}
            frame = Frame(raw, normalisers)
            out: dict[str, Any] = {"__crm_row": batch.column("__crm_row")}
            for c in columns:
                out[c] = frame.values(c)
            for i, rule in enumerate(rules):
                if isinstance(rule, BlockOn):
                    out[key_column(i)] = _rule_keys(rule, frame)
                    if rule.count_by is not None:
                        out[count_column(i)] = frame.values(rule.count_by)
                else:
                    out[sort_column(i)] = frame.values(rule.expression)
            yield pa.RecordBatch.from_pydict(out, schema=schema)

    return run


def _pair_frame(batch: Any, columns: Sequence[str]) -> tuple[Frame, int]:
    """A frame of the left records then the right records of a batch of joined pairs."""
    cols = {
        c: [*batch.column(f"l_{c}").to_pylist(), *batch.column(f"r_{c}").to_pylist()]
        for c in columns
    }
    return Frame(cols), batch.num_rows


def levels_function(
    comparisons: Sequence[Comparison],
    columns: Sequence[str],
    carry: Sequence[str],
    tf_columns: Sequence[str],
    schema: Any,
) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """Batch function: comparison levels of joined pairs (``compute_levels`` on the batch).

    Keeps the ``carry`` columns and the left record's value of every ``tf_columns`` column
    (term-frequency adjustments read the left value of an exact match).
    """

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        for batch in batches:
            frame, k = _pair_frame(batch, columns)
            idx = np.arange(k, dtype=np.int64)
            levels = compute_levels(comparisons, frame, idx, idx + k)
            out: dict[str, Any] = {c: batch.column(c) for c in carry}
            for j in range(len(comparisons)):
                out[f"__crm_lv{j}"] = pa.array(levels[:, j], type=pa.int8())
            for c in tf_columns:
                out[f"__crm_tf_{c}"] = batch.column(f"l_{c}")
            yield pa.RecordBatch.from_pydict(out, schema=schema)

    return run


def score_function(
    model: MatchModel, carry: Sequence[str], tf_columns: Sequence[str], schema: Any
) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """Batch function: match weight, probability and deciding rule from levels
    (``score_levels`` on the batch, term-frequency adjustments included)."""
    n_comp = len(model.comparisons)

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        for batch in batches:
            k = batch.num_rows
            levels = np.empty((k, n_comp), dtype=np.int8)
            for j in range(n_comp):
                levels[:, j] = batch.column(f"__crm_lv{j}").to_numpy(zero_copy_only=False)
            idx = np.arange(k, dtype=np.int64)
            frame = Frame({c: batch.column(f"__crm_tf_{c}").to_pylist() for c in tf_columns})
            weight, prob, rule = score_levels(
                model, levels, frame=frame if tf_columns else None, left=idx, right=idx
            )
            out: dict[str, Any] = {c: batch.column(c) for c in carry}
            out["match_weight"] = pa.array(weight, type=pa.float64())
            out["probability"] = pa.array(prob, type=pa.float64())
            out["rule"] = pa.array(rule, type=pa.int8())
            for j in range(n_comp):
                out[f"__crm_lv{j}"] = batch.column(f"__crm_lv{j}")
            yield pa.RecordBatch.from_pydict(out, schema=schema)

    return run


def words_function(
    expression: str, column: str, schema: Any
) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """Batch function: one row ``(row, word)`` per record and word of the expression's value
    (:func:`~crmcore.matching._pairs.value_words`, as the in-process anchor splits it),
    from the prepared ``column`` and ``__crm_row``."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        for batch in batches:
            values = Frame({column: batch.column(column).to_pylist()}).values(expression)
            rows = batch.column("__crm_row").to_pylist()
            out_rows: list[int] = []
            out_words: list[str] = []
            for row, value in zip(rows, values, strict=True):
                if value is None:
                    continue
                words = value_words(value)
                out_rows.extend([row] * len(words))
                out_words.extend(words)
            yield pa.RecordBatch.from_pydict({"row": out_rows, "word": out_words},
                                             schema=schema)

    return run


def typo_function(
    expression: str, column: str, schema: Any
) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """Batch function: ``left``, ``right`` of the joined pairs (prepared ``l_column`` /
    ``r_column``) whose words are one typo apart
    (:func:`~crmcore.matching._anchors.one_typo_apart` on the batch)."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        for batch in batches:
            frame, k = _pair_frame(batch, [column])
            idx = np.arange(k, dtype=np.int64)
            hit = one_typo_apart(PairContext(frame, idx, idx + k), expression)
            keep = pa.array(hit, type=pa.bool_())
            yield pa.RecordBatch.from_pydict(
                {"left": batch.column("left").filter(keep),
                 "right": batch.column("right").filter(keep)},
                schema=schema,
            )

    return run
