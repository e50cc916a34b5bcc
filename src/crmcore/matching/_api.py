"""The main jobs: :func:`dedupe` one table, :func:`link` two tables.

Both run the same phases — prepare (normalise), block, compare, train, score, cluster — and
return a :class:`MatchResult` with an entity id for EVERY input row (rows that could not be used
get their own entity and a note saying why), the scored pairs, the model and the time per phase.
"""

from __future__ import annotations

import time
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.errors import FieldProblem, MatchingConfigError
from crmcore.io import Table, to_table
from crmcore.matching._blocking import SortedNeighbourhood, block_and_analyse
from crmcore.matching._cluster import cluster_pairs, one_to_one
from crmcore.matching._comparisons import compute_levels
from crmcore.matching._expressions import Expression, Frame, parse_expression
from crmcore.matching._levels import (
    AllOf,
    DateDiffLevel,
    ExactLevel,
    InitialLevel,
    Level,
    NumericLevel,
    SimilarityLevel,
    TokenOverlapLevel,
)
from crmcore.matching._model import MatchModel
from crmcore.matching._predict import ScoredPairs, score_levels
from crmcore.matching._prepare import PREPARE_KINDS, with_date_order
from crmcore.matching._reader import resolve_settings
from crmcore.matching._result import IntArray, MatchResult, Progress
from crmcore.matching._review import (
    ReviewDecision,
    named_pairs,
    record_fingerprints,
    respect_decisions,
    stale_decisions,
    vetoed_apart,
)
from crmcore.matching._settings import MatchSettings
from crmcore.matching._stable_ids import format_entity_ids
from crmcore.matching._training import train_model
from crmcore.normalize import apply_mapping


def prepare_frame(
    table: Table, settings: MatchSettings, *, ids: Sequence[str | None] | None = None
) -> tuple[Frame, list[FieldProblem]]:
    """Build the frame of the columns the settings read, normalised once per distinct value.

    Values a normaliser rejects become missing and are reported as problems (records kept).

    Raises:
        MatchingConfigError: If a column the settings need is missing, or a kind is unknown.
    """
    return _prepare(table, settings, ids=ids)


def _prepare(
    table: Table,
    settings: MatchSettings,
    *,
    ids: Sequence[str | None] | None = None,
    apart: Iterable[str] = (),
) -> tuple[Frame, list[FieldProblem]]:
    """:func:`prepare_frame`, with expressions coded apart (see :class:`Frame`)."""
    needed = sorted(settings.columns)
    missing = [c for c in needed if c not in table.columns]
    if missing:
        hint = ""
        if settings.name == "people":  # its optional fields default to column names
            hint = ("; an optional field of people() is left out with None (dob=None, "
                    "postcode=None)")
        raise MatchingConfigError(
            f"the settings read columns {missing} which the data lacks; "
            f"the data has {table.column_names}; map source columns onto these fields{hint}"
        )
    unknown = sorted({k for k in settings.prepare.values() if k not in PREPARE_KINDS})
    if unknown:
        known = sorted(PREPARE_KINDS)
        raise MatchingConfigError(f"unknown prepare kinds {unknown}; known: {known}")
    normalisers = {c: PREPARE_KINDS[k] for c, k in settings.prepare.items() if c in needed}
    frame = Frame({c: table.columns[c] for c in needed}, normalisers, apart=apart)
    for col in needed:
        frame.codes(col)
    problems: list[FieldProblem] = []
    for col, rows in frame.rejected.items():
        kind = settings.prepare[col]
        values = table.columns[col]
        for row in rows[:10_000].tolist():
            record = ids[row] if ids is not None else str(row)
            problems.append(
                FieldProblem(col, values[row], f"normalize.{kind}", f"not a usable {kind}", record)
            )
    return frame, problems


#: Levels that compare an expression's values with the same expression's only.
_SELF_COMPARING = (ExactLevel, SimilarityLevel, DateDiffLevel, NumericLevel, TokenOverlapLevel,
                   InitialLevel)


def _coded_apart(settings: MatchSettings, model: MatchModel | None = None) -> frozenset[str]:
    """Expressions the phases compare only with themselves, which the frame may code apart
    (no look-up of their values in its shared dictionary; see :class:`Frame`): those of
    built-in one-expression levels, of blocking rules in a fixed order, missing tests, and
    the expressions inside them; less those a level or rule compares across expressions
    (swapped names, cross-exact levels, ``any_order`` keys, other kinds).
    """
    comparisons = [*settings.comparisons, *(model.comparisons if model is not None else ())]
    alone: list[str] = []
    across: set[str] = set()

    def level_reads(level: Level) -> None:
        if isinstance(level, AllOf):
            for inner in level.levels:
                level_reads(inner)
        elif type(level) in _SELF_COMPARING:
            alone.extend(level.expressions)
        else:
            across.update(parse_expression(e).text for e in level.expressions)

    for comp in comparisons:
        alone.extend(comp.missing)
        for level in comp.levels:
            level_reads(level)
    for rule in settings.blocking:
        if isinstance(rule, SortedNeighbourhood):
            alone.append(rule.expression)
            continue
        read = [*rule.expressions, *([rule.count_by] if rule.count_by is not None else [])]
        if rule.any_order:
            across.update(parse_expression(e).text for e in read)
        else:
            alone.extend(read)
    found: set[str] = set()
    for text in alone:
        expr: Expression | None = parse_expression(text)
        while expr is not None:
            found.add(expr.text)
            expr = expr.inner
    return frozenset(found - across)


def _usable(frame: Frame, settings: MatchSettings) -> tuple[npt.NDArray[np.bool_], list[str]]:
    present = np.zeros(frame.n_rows, dtype=bool)
    for col in sorted(settings.columns):
        present |= frame.codes(parse_expression(col)) >= 0
    return present, sorted(settings.columns)


def _entity_ids(labels: IntArray) -> list[str]:
    """Entity ids numbered in label order (labels are row indexes: no sort needed), in the one
    format of :func:`~crmcore.matching._stable_ids.format_entity_id` (as the index writes them)."""
    if len(labels) == 0:
        return []
    used = np.zeros(int(labels.max()) + 1, dtype=bool)
    used[labels] = True
    n_entities = int(used.sum())
    inverse = (np.cumsum(used) - 1)[labels]
    names = np.empty(n_entities, dtype=object)
    names[:] = format_entity_ids(1, n_entities)
    out: list[str] = names[inverse].tolist()
    return out


def _blocking_warning(frame: Frame, settings: MatchSettings, n_pairs: int) -> str | None:
    """A warning when no blocking rule can pair any two records (the columns it reads hold
    values on at most one row): the mapped columns leave the settings unable to find a pair."""
    if n_pairs or frame.n_rows < 2:
        return None
    best = 0
    for rule in settings.blocking:
        present = np.ones(frame.n_rows, dtype=bool)
        for col in sorted(rule.columns):
            present &= frame.codes(parse_expression(col)) >= 0
        best = max(best, int(present.sum()))
    if best >= 2:
        return None
    read = sorted({c for rule in settings.blocking for c in rule.columns})
    return (
        f"no blocking rule can pair any records: the rules read {read}, which hold values on "
        f"at most one row; check the column mapping (source columns onto these fields)"
    )


def _run(
    table: Table,
    ids: list[str | None],
    source: npt.NDArray[np.int8] | None,
    settings: MatchSettings,
    *,
    progress: Progress | bool | None,
    **options: Any,
) -> MatchResult:
    """The phases, with ``progress=True`` drawn as progress bars (closed when the job ends)."""
    if progress is not True:
        return _phases(table, ids, source, settings, progress=progress or None, **options)
    from crmcore.display import ProgressBars

    bars = ProgressBars()
    try:
        return _phases(table, ids, source, settings, progress=bars, **options)
    finally:
        bars.close()


def _phases(
    table: Table,
    ids: list[str | None],
    source: npt.NDArray[np.int8] | None,
    settings: MatchSettings,
    *,
    threshold: float | None,
    model: MatchModel | None,
    one_to_one_links: bool,
    progress: Progress | None,
    timings: dict[str, float],
    decisions: Sequence[ReviewDecision] = (),
) -> MatchResult:
    say = progress or (lambda _msg: None)
    t = time.perf_counter()
    say(f"preparing {table.n_rows:,} records")
    settings = with_date_order(settings, table.columns)
    frame, problems = _prepare(table, settings, ids=ids, apart=_coded_apart(settings, model))
    usable, cols = _usable(frame, settings)
    unusable = np.full(frame.n_rows, "", dtype=object)
    unusable[~usable] = f"no usable value in {', '.join(cols)}"
    notes: list[str] = unusable.tolist()
    if None in ids:  # one C-level scan; the loop below only runs when an id is missing
        for row, id_ in enumerate(ids):
            if id_ is None:
                notes[row] = (notes[row] + "; " if notes[row] else "") + "missing id"
    timings["prepare"] = time.perf_counter() - t

    t = time.perf_counter()
    say("blocking")
    src = None if source is None else source.astype(np.int64)
    candidates, analysis = block_and_analyse(
        frame, settings.blocking, source=src, max_pairs=settings.max_pairs, progress=progress
    )
    timings["block"] = time.perf_counter() - t
    warning = _blocking_warning(frame, settings, len(candidates))
    if warning is not None:
        say(f"warning: {warning}")

    t = time.perf_counter()
    say(f"comparing {len(candidates):,} candidate pairs")
    levels = compute_levels(
        settings.comparisons, frame, candidates.left, candidates.right, progress=progress
    )
    timings["compare"] = time.perf_counter() - t

    t = time.perf_counter()
    if model is None:
        say("training (u by sampling, m by EM on pattern counts)")
        model = train_model(
            settings, frame, levels, left=candidates.left, right=candidates.right, source=src,
            skip_rules=analysis.skipped,
        )
    elif [c.name for c in model.comparisons] != [c.name for c in settings.comparisons]:
        raise MatchingConfigError("the model's comparisons differ from the settings' comparisons")
    timings["train"] = time.perf_counter() - t

    t = time.perf_counter()
    say("scoring")
    weight, prob, rule = score_levels(
        model, levels, frame=frame, left=candidates.left, right=candidates.right
    )
    pairs = ScoredPairs(
        left=candidates.left,
        right=candidates.right,
        match_weight=weight,
        probability=prob,
        levels=levels,
        rule=rule,
        comparison_names=tuple(c.name for c in model.comparisons),
    )
    timings["score"] = time.perf_counter() - t

    t = time.perf_counter()
    say("clustering")
    cut = settings.threshold if threshold is None else threshold
    if not 0.0 <= cut <= 1.0:
        raise MatchingConfigError(f"threshold must be a probability, got {cut}")
    graph = named_pairs(ids, one_to_one(pairs, threshold=cut) if one_to_one_links else pairs)
    labels = cluster_pairs(frame.n_rows, graph, threshold=cut, options=settings.cluster, ids=ids)
    links = graph.above(settings.cluster.link_floor(cut))  # what clustering read
    stale: list[ReviewDecision] = []
    cuts: tuple[tuple[str, str], ...] = ()
    cut_for: tuple[tuple[str, str], ...] = ()
    apart = vetoed_apart(pairs, model, labels, settings.cluster, every=bool(decisions))
    if decisions:
        say(f"applying {len(decisions):,} review decisions")
        named = {r for d in decisions for r in d.pair}
        columns = sorted(settings.columns)
        rows = [i for i, r in enumerate(ids) if r in named]
        current = record_fingerprints(
            {c: frame.values(c, np.array(rows, dtype=np.int64)) for c in columns},
            [ids[i] for i in rows],
        )
        stale = stale_decisions(decisions, current)
        gone = {id(d) for d in stale}
        constrained = respect_decisions(
            ids, labels, links, [d for d in decisions if id(d) not in gone],
            apart=apart, threshold=cut, options=settings.cluster,
        )
        labels, cuts, cut_for = constrained.labels, constrained.cut_edges, constrained.cut_for
    elif apart is not None:
        constrained = respect_decisions(ids, labels, links, (), apart=apart, threshold=cut,
                                        options=settings.cluster)
        labels, cuts, cut_for = constrained.labels, constrained.cut_edges, constrained.cut_for
    entity_ids = _entity_ids(labels)
    timings["cluster"] = time.perf_counter() - t
    return MatchResult(
        ids=ids,
        entity_ids=entity_ids,
        labels=labels,
        source=np.zeros(frame.n_rows, dtype=np.int8) if source is None else source,
        notes=notes,
        pairs=pairs,
        model=model,
        settings=settings,
        threshold=cut,
        analysis=analysis,
        timings=timings,
        problems=problems,
        frame=frame,
        stale_decisions=tuple(stale),
        cut_links=cuts,
        cut_for=cut_for,
        warnings=() if warning is None else (warning,),
    )


def _decision_list(decisions: Iterable[ReviewDecision] | None) -> list[ReviewDecision]:
    """The latest decision per pair (a ReviewQueue's ``decisions()`` already is)."""
    latest: dict[tuple[str, str], ReviewDecision] = {}
    for d in decisions or ():
        latest[d.pair] = d
    return list(latest.values())


DuplicateIds = Literal["refuse", "rename"]


def _ids(
    table: Table, id_column: str | None, on_duplicate_ids: DuplicateIds = "refuse"
) -> tuple[list[str | None], dict[int, str]]:
    """Record ids of a table and notes for the rows whose id was changed.

    Repeated ids are refused (the error lists them) or, with ``on_duplicate_ids="rename"``,
    every repeat after the first in table order becomes ``ID#2``, ``ID#3`` ... (skipping names
    already taken), with a note on the row.

    Raises:
        MatchingConfigError: For repeated ids under ``"refuse"``, or an unknown choice.
    """
    if on_duplicate_ids not in ("refuse", "rename"):
        raise MatchingConfigError(
            f"on_duplicate_ids must be 'refuse' or 'rename', not {on_duplicate_ids!r}"
        )
    if id_column is None:
        return [str(i) for i in range(table.n_rows)], {}
    ids = list(table.column(id_column))
    present = [i for i in ids if i is not None]
    if len(set(present)) == len(present):
        return ids, {}
    counts = Counter(present)
    repeated = [i for i, k in counts.items() if k > 1]
    if on_duplicate_ids == "refuse":
        shown = ", ".join(f"{i!r} ({counts[i]} rows)" for i in repeated[:10])
        more = f" and {len(repeated) - 10:,} more" if len(repeated) > 10 else ""
        raise MatchingConfigError(
            f"column {id_column!r} repeats {len(repeated):,} record ids: {shown}{more}; record "
            "ids must be unique (or rename repeats with on_duplicate_ids='rename')"
        )
    taken = set(present)
    seen: Counter[str] = Counter()
    notes: dict[int, str] = {}
    for row, rid in enumerate(ids):
        if rid is None or counts[rid] == 1:
            continue
        seen[rid] += 1
        if seen[rid] == 1:
            continue
        k = seen[rid]
        while f"{rid}#{k}" in taken:
            k += 1
        new = f"{rid}#{k}"
        taken.add(new)
        ids[row] = new
        notes[row] = f"record id {rid!r} repeated: renamed {new!r}"
    return ids, notes


def _with_notes(notes: list[str], extra: Mapping[int, str]) -> list[str]:
    for row, text in extra.items():
        notes[row] = f"{notes[row]}; {text}" if notes[row] else text
    return notes


def dedupe(
    data: object,
    *,
    id_column: str | None = None,
    preset: str | None = None,
    settings: MatchSettings | None = None,
    mapping: Mapping[str, str] | None = None,
    threshold: float | None = None,
    model: MatchModel | None = None,
    progress: Progress | bool | None = None,
    decisions: Iterable[ReviewDecision] | None = None,
    on_duplicate_ids: DuplicateIds = "refuse",
) -> MatchResult:
    """Find the records of one table that are the same person (or company).

    Args:
        data: A :class:`~crmcore.io.Table`, pandas / polars / pyarrow table, mapping of columns
            or iterable of mappings.
        id_column: Column with record ids (default: row numbers). Ids must be unique; a row
            without an id is kept as an entity of its own, with a note.
        preset: ``"contacts"`` (default) or ``"accounts"``; ignored when ``settings`` is given.
            Its schema mapping renames source headers (``"First Name"``, ``"E-mail"``) to
            canonical fields, as the command line does.
        settings: Explicit settings (they name the columns: no schema mapping).
        mapping: Source column -> canonical field renames (on top of the schema mapping).
        threshold: Match probability threshold (default: the settings').
        model: A trained model to use instead of training one.
        progress: Called with a message at the start of every phase; ``True`` draws a
            progress bar per phase (:class:`crmcore.display.ProgressBars`: in a notebook or on
            a terminal).
        decisions: Review decisions to respect (e.g. ``queue.decisions()``): "same" pairs are
            forced together, "different" pairs apart; "different" decisions a record has
            outgrown (changed in a compared field since) are left out and listed in
            ``stale_decisions``. See ``docs/labels.md``.
        on_duplicate_ids: ``"refuse"`` (default) raises on repeated ids, listing them;
            ``"rename"`` keeps every row and renames repeats ``ID#2``, ``ID#3`` ... (noted).

    Returns:
        The result: an entity id per row, scored pairs, model, timings.

    Raises:
        MatchingConfigError: For settings that do not fit the data, or repeated record ids.
        PairBudgetExceeded: If blocking would produce too many pairs.

    Warns:
        UserWarning: When no blocking rule can pair any records with the columns mapped
            (also in ``result.warnings``).

    Example:
        >>> rows = [
        ...     {"id": "1", "first_name": "Bob", "last_name": "Smith", "email": "bob@x.com"},
        ...     {"id": "2", "first_name": "Robert", "last_name": "Smith", "email": "bob@x.com"},
        ...     {"id": "3", "first_name": "Ann", "last_name": "Lee", "email": "ann@y.org"},
        ... ]
        >>> dedupe(rows, id_column="id").entity_ids
        ['E000000000001', 'E000000000001', 'E000000000002']
    """
    timings: dict[str, float] = {}
    t = time.perf_counter()
    raw = to_table(data)
    # ids before mapping: the schema mapping may rename the id column
    ids, id_notes = _ids(raw, id_column, on_duplicate_ids)
    table = apply_mapping(raw, mapping, preset=(preset or "contacts") if settings is None else None)
    chosen = resolve_settings(table, preset, settings)
    timings["read"] = time.perf_counter() - t
    result = _run(
        table, ids, None, chosen,
        threshold=threshold, model=model, one_to_one_links=False,
        progress=progress, timings=timings, decisions=_decision_list(decisions),
    )
    return _finish(result, id_notes)


def link(
    left: object,
    right: object,
    *,
    id_column: str | None = None,
    right_id_column: str | None = None,
    preset: str | None = None,
    settings: MatchSettings | None = None,
    mapping: Mapping[str, str] | None = None,
    right_mapping: Mapping[str, str] | None = None,
    threshold: float | None = None,
    one_to_one_links: bool = False,
    model: MatchModel | None = None,
    progress: Progress | bool | None = None,
    decisions: Iterable[ReviewDecision] | None = None,
    on_duplicate_ids: DuplicateIds = "refuse",
) -> MatchResult:
    """Link the records of two tables: only pairs across the tables are compared.

    Args:
        left: First table (anything :func:`crmcore.io.to_table` accepts).
        right: Second table.
        id_column: Id column of the left table (and of the right unless ``right_id_column``).
        right_id_column: Id column of the right table.
        preset: ``"contacts"`` (default) or ``"accounts"``.
        settings: Explicit settings.
        mapping: Column renames for the left table (and the right unless ``right_mapping``).
        right_mapping: Column renames for the right table.
        threshold: Match probability threshold.
        one_to_one_links: Keep at most one link per record (mutually best pairs).
        model: A trained model to use.
        progress: Called with a message at the start of every phase; ``True`` draws a
            progress bar per phase (:class:`crmcore.display.ProgressBars`: in a notebook or on
            a terminal).
        decisions: Review decisions to respect, as for :func:`dedupe`.
        on_duplicate_ids: ``"refuse"`` or ``"rename"``, within each table (see :func:`dedupe`).

    Returns:
        The result; rows are the left rows then the right rows (``source`` 0 / 1).
    """
    timings: dict[str, float] = {}
    t = time.perf_counter()
    use_preset = (preset or "contacts") if settings is None else None
    raw_left, raw_right = to_table(left), to_table(right)
    # Ids before mapping: the schema mapping may rename the id column (e.g. to record_id).
    # Ids are unique within each table (the two tables may reuse each other's ids).
    left_ids, left_notes = _ids(raw_left, id_column, on_duplicate_ids)
    right_ids, right_notes = _ids(raw_right, right_id_column or id_column, on_duplicate_ids)
    ids = left_ids + right_ids
    id_notes = {**left_notes, **{raw_left.n_rows + r: n for r, n in right_notes.items()}}
    lt = apply_mapping(raw_left, mapping, preset=use_preset)
    rt = apply_mapping(
        raw_right, right_mapping if right_mapping is not None else mapping, preset=use_preset
    )
    names = [n for n in lt.column_names if n in rt.columns]
    stacked = Table({n: [*lt.columns[n], *rt.columns[n]] for n in names})
    source = np.concatenate(
        [np.zeros(lt.n_rows, dtype=np.int8), np.ones(rt.n_rows, dtype=np.int8)]
    )
    chosen = resolve_settings(stacked, preset, settings)
    timings["read"] = time.perf_counter() - t
    result = _run(
        stacked, ids, source, chosen,
        threshold=threshold, model=model, one_to_one_links=one_to_one_links,
        progress=progress, timings=timings, decisions=_decision_list(decisions),
    )
    return _finish(result, id_notes)


def _finish(result: MatchResult, id_notes: Mapping[int, str]) -> MatchResult:
    """Add the id notes to the result; warn Python callers of the result's warnings."""
    for warning in result.warnings:
        warnings.warn(warning, UserWarning, stacklevel=3)
    if not id_notes:
        return result
    return attrs.evolve(result, notes=_with_notes(list(result.notes), id_notes))
