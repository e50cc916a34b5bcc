"""Run-to-run audit: what changed between two clusterings of the same records.

:func:`compare_runs` takes two runs (each a record id -> entity id assignment: a
:class:`~crmcore.matching.MatchResult`, a table with an id and an entity column, or a truth set)
and returns a :class:`RunComparison`: every group of entities that changed (split, merged, or
regrouped: records moved between entities), the records behind each change, records present in
one run only, and pairwise and cluster precision / recall / F1 of the second run measured against
the first (so, given a truth set as the first run, the accuracy of the second).

The entities of both runs form a bipartite graph (an edge where a record is in entity A of the
first run and entity B of the second); each connected component is one unit of change:

* ``unchanged``: one entity on each side, with the same records;
* ``split``: one entity of the first run became several;
* ``merged``: several entities of the first run became one;
* ``regrouped``: several on both sides (records moved between entities).

Only records present in both runs are compared; the others are listed as ``only_before`` and
``only_after``. Everything is computed with numpy over integer codes, so comparing runs of a
million records takes about a second; only the records of changed entities become Python lists.

Example:
    >>> before = {"id": ["1", "2", "3", "4"], "entity": ["A", "A", "B", "C"]}
    >>> after = {"id": ["1", "2", "3", "4"], "entity": ["X", "Y", "Z", "Z"]}
    >>> diff = compare_runs(before, after, id_column="id", entity_column="entity")
    >>> [(c.kind, c.before, c.after) for c in diff.changes]
    [('split', ('A',), ('X', 'Y')), ('merged', ('B', 'C'), ('Z',))]
    >>> round(diff.pairwise.precision, 2), round(diff.pairwise.recall, 2)
    (0.0, 0.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.errors import FieldProblem, MatchingConfigError
from crmcore.io import Table, to_table
from crmcore.matching._cluster import connected_components
from crmcore.matching._evaluate import Scores, cluster_scores

IntArray = npt.NDArray[np.int64]
ChangeKind = Literal["split", "merged", "regrouped"]


@attrs.frozen
class EntityChange:
    """One group of entities that changed between the runs.

    Attributes:
        kind: ``"split"``, ``"merged"`` or ``"regrouped"``.
        before: Entity ids of the first run in the group (sorted; ``None`` for records that
            had no entity, each its own).
        after: Entity ids of the second run in the group (sorted).
        cells: ``(before entity, after entity, record ids)`` for every combination that holds
            records, sorted: which records went from where to where.
    """

    kind: ChangeKind
    before: tuple[str | None, ...]
    after: tuple[str | None, ...]
    cells: tuple[tuple[str | None, str | None, tuple[str, ...]], ...]

    @property
    def record_ids(self) -> tuple[str, ...]:
        """Every record of the group, sorted."""
        return tuple(sorted(r for _, _, ids in self.cells for r in ids))

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "kind": self.kind,
            "before": list(self.before),
            "after": list(self.after),
            "cells": [
                {"before": a, "after": b, "records": list(ids)} for a, b, ids in self.cells
            ],
        }


def _scores_dict(s: Scores) -> dict[str, float]:
    return s.to_dict()


@attrs.frozen
class RunComparison:
    """How a second run's entities differ from a first run's (or from a truth set).

    Attributes:
        records_before: Records (with an id) in the first run.
        records_after: Records (with an id) in the second run.
        entities_before: Entities of the first run among the records of both runs.
        entities_after: Entities of the second run among the records of both runs.
        unchanged: Entities with exactly the same records in both runs.
        changes: Every group that changed, splits first, then merges, then regroupings.
        only_before: Ids of records only in the first run (sorted).
        only_after: Ids of records only in the second run (sorted).
        pairwise: Pairs of records sharing an entity: the second run's pairs scored against
            the first run's (precision = share of the second run's pairs the first run has).
        clusters: Whole entities: ``true_positives`` entities identical in both runs,
            ``predicted`` entities of the second run, ``actual`` of the first.
        problems: Rows that could not be compared (missing or repeated ids) or had no entity.
    """

    records_before: int
    records_after: int
    entities_before: int
    entities_after: int
    unchanged: int
    changes: tuple[EntityChange, ...]
    only_before: tuple[str, ...]
    only_after: tuple[str, ...]
    pairwise: Scores
    clusters: Scores
    problems: tuple[FieldProblem, ...] = ()

    @property
    def common(self) -> int:
        """Records present in both runs."""
        return self.records_before - len(self.only_before)

    def count(self, kind: ChangeKind) -> int:
        """How many changes of one kind."""
        return sum(1 for c in self.changes if c.kind == kind)

    @property
    def identical(self) -> bool:
        """Whether both runs hold the same records grouped the same way."""
        return not self.changes and not self.only_before and not self.only_after

    def summary(self) -> str:
        """A few readable lines: records, entities, changes, pairwise and cluster scores."""
        p, c = self.pairwise, self.clusters
        lines = [
            (f"records   before {self.records_before:,}  after {self.records_after:,}  "
            f"in both {self.common:,}  only before {len(self.only_before):,}  "
            f"only after {len(self.only_after):,}"),
            (f"entities  before {self.entities_before:,}  after {self.entities_after:,}  "
            f"unchanged {self.unchanged:,}"),
            (f"changes   split {self.count('split'):,}  merged {self.count('merged'):,}  "
            f"regrouped {self.count('regrouped'):,}"),
            (f"pairwise  precision {p.precision:.4f}  recall {p.recall:.4f}  f1 {p.f1:.4f}  "
            f"(pairs after {p.predicted:,}, before {p.actual:,}, in both {p.true_positives:,})"),
            (f"clusters  precision {c.precision:.4f}  recall {c.recall:.4f}  f1 {c.f1:.4f}  "
            f"(identical entities {c.true_positives:,})"),
        ]
        if self.problems:
            lines.append(f"problems  {len(self.problems):,} rows (see .problems)")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (counts, scores, changes with their records, problems)."""
        return {
            "records_before": self.records_before,
            "records_after": self.records_after,
            "entities_before": self.entities_before,
            "entities_after": self.entities_after,
            "unchanged": self.unchanged,
            "split": self.count("split"),
            "merged": self.count("merged"),
            "regrouped": self.count("regrouped"),
            "pairwise": _scores_dict(self.pairwise),
            "clusters": _scores_dict(self.clusters),
            "changes": [c.to_dict() for c in self.changes],
            "only_before": list(self.only_before),
            "only_after": list(self.only_after),
            "problems": [p.to_dict() for p in self.problems],
        }

    def to_table(self) -> Table:
        """One row per record behind a change (and per record in one run only).

        Columns: ``change`` (a number per change, blank for one-run records), ``kind``
        (split / merged / regrouped / only_before / only_after), ``record_id``,
        ``before_entity``, ``after_entity``.
        """
        cols: dict[str, list[str | None]] = {
            "change": [], "kind": [], "record_id": [], "before_entity": [], "after_entity": [],
        }
        for number, change in enumerate(self.changes, start=1):
            for a, b, ids in change.cells:
                k = len(ids)
                cols["change"] += [str(number)] * k
                cols["kind"] += [change.kind] * k
                cols["record_id"] += list(ids)
                cols["before_entity"] += [a] * k
                cols["after_entity"] += [b] * k
        for kind, ids in (("only_before", self.only_before), ("only_after", self.only_after)):
            cols["change"] += [None] * len(ids)
            cols["kind"] += [kind] * len(ids)
            cols["record_id"] += list(ids)
            cols["before_entity"] += [None] * len(ids)
            cols["after_entity"] += [None] * len(ids)
        return Table(cols)


def _assignment(
    run: object, id_column: str, entity_column: str, side: str
) -> tuple[list[str | None], list[str | None]]:
    """(ids, entities) of a run: a MatchResult, or a table with the two columns."""
    ids = getattr(run, "ids", None)
    entity_ids = getattr(run, "entity_ids", None)
    if isinstance(ids, list) and isinstance(entity_ids, list):
        return list(ids), list(entity_ids)
    table = to_table(run)
    missing = [c for c in (id_column, entity_column) if c not in table.columns]
    if missing:
        raise MatchingConfigError(
            f"the {side} run has no column {missing[0]!r}; its columns are {table.column_names}"
        )
    return list(table.column(id_column)), list(table.column(entity_column))


def _clean(
    ids: list[str | None], entities: list[str | None], side: str, *, id_column: str,
    entity_column: str, problems: list[FieldProblem],
) -> tuple[list[str], list[str | None]]:
    """Rows with a usable id (first occurrence of a repeated id); problems for the others."""
    keep_ids: list[str] = []
    keep_entities: list[str | None] = []
    seen: dict[str, str | None] = {}
    for row, (rid, ent) in enumerate(zip(ids, entities, strict=True)):
        if rid is None or rid == "":
            problems.append(FieldProblem(
                id_column, rid, "compare.id", f"{side} run row {row + 1} has no id: not compared",
                f"{side} row {row + 1}",
            ))
            continue
        if rid in seen:
            problems.append(FieldProblem(
                id_column, rid, "compare.unique_id",
                f"{side} run repeats the id (entity {ent!r}); its first row (entity "
                f"{seen[rid]!r}) is compared", rid,
            ))
            continue
        seen[rid] = ent
        if ent is None or ent == "":
            problems.append(FieldProblem(
                entity_column, ent, "compare.entity",
                f"no entity in the {side} run: the record counts as its own entity", rid,
            ))
            ent = None
        keep_ids.append(rid)
        keep_entities.append(ent)
    return keep_ids, keep_entities


def _codes(entities: Sequence[str | None]) -> tuple[IntArray, list[str | None]]:
    """Integer entity code per record and the name per code (a missing entity is its own)."""
    lookup: dict[str, int] = {}
    names: list[str | None] = []
    out = np.empty(len(entities), dtype=np.int64)
    for i, e in enumerate(entities):
        if e is None:
            out[i] = len(names)
            names.append(None)
            continue
        code = lookup.get(e)
        if code is None:
            code = lookup[e] = len(names)
            names.append(e)
        out[i] = code
    return out, names


def _sort_key(name: str | None) -> tuple[int, str]:
    return (0, name) if name is not None else (1, "")


_ORDER = {"split": 0, "merged": 1, "regrouped": 2}


def compare_runs(
    before: object,
    after: object,
    *,
    id_column: str = "record_id",
    entity_column: str = "entity_id",
    after_id_column: str | None = None,
    after_entity_column: str | None = None,
) -> RunComparison:
    """Compare two assignments of records to entities (two runs, or a truth set and a run).

    Args:
        before: The first run (the reference): a :class:`~crmcore.matching.MatchResult`, or
            anything :func:`crmcore.io.to_table` accepts with an id and an entity column.
        after: The second run, likewise.
        id_column: Record id column (of both runs unless ``after_id_column``).
        entity_column: Entity column (of both runs unless ``after_entity_column``).
        after_id_column: Record id column of the second run.
        after_entity_column: Entity column of the second run (e.g. a truth set's ``cluster``).

    Returns:
        The comparison. Rows without an id, repeated ids (the first row counts) and records
        without an entity (each counted as its own entity) are reported in ``problems``.

    Raises:
        MatchingConfigError: If a run lacks the id or entity column.
    """
    problems: list[FieldProblem] = []
    raw_a = _assignment(before, id_column, entity_column, "before")
    raw_b = _assignment(
        after, after_id_column or id_column, after_entity_column or entity_column, "after"
    )
    ids_a, ent_a = _clean(
        *raw_a, "before", id_column=id_column, entity_column=entity_column, problems=problems
    )
    ids_b, ent_b = _clean(
        *raw_b, "after", id_column=after_id_column or id_column,
        entity_column=after_entity_column or entity_column, problems=problems,
    )
    pos_b = {rid: i for i, rid in enumerate(ids_b)}
    rows_b = np.array([pos_b.get(rid, -1) for rid in ids_a], dtype=np.int64)
    in_both = rows_b >= 0
    only_before = tuple(sorted(ids_a[i] for i in np.flatnonzero(~in_both).tolist()))
    seen_b = np.zeros(len(ids_b), dtype=bool)
    seen_b[rows_b[in_both]] = True
    only_after = tuple(sorted(ids_b[i] for i in np.flatnonzero(~seen_b).tolist()))

    common_rows = np.flatnonzero(in_both)
    code_a_all, names_a = _codes(ent_a)
    code_b_all, names_b = _codes(ent_b)
    a = code_a_all[common_rows]
    b = code_b_all[rows_b[common_rows]]
    # Renumber the entities present among the common records 0..k-1 on each side.
    ua, a = np.unique(a, return_inverse=True)
    ub, b = np.unique(b, return_inverse=True)
    a, b = a.reshape(-1).astype(np.int64), b.reshape(-1).astype(np.int64)
    na, nb = len(ua), len(ub)
    pairwise = cluster_scores(b, a)

    # Cells (entity before, entity after) and the components of the bipartite entity graph.
    cell_code = a * max(nb, 1) + b
    cells, cell_of_row = np.unique(cell_code, return_inverse=True)
    cell_of_row = cell_of_row.reshape(-1)
    cell_a, cell_b = cells // max(nb, 1), cells % max(nb, 1)
    comp_nodes = connected_components(na + nb, cell_a, na + cell_b)
    comp = comp_nodes[cell_a]  # component of each cell (labelled by a before-entity node)
    a_per_comp = np.bincount(comp_nodes[:na], minlength=na + nb)
    b_per_comp = np.bincount(comp_nodes[na:], minlength=na + nb)
    cells_per_comp = np.bincount(comp, minlength=na + nb)
    same = (a_per_comp == 1) & (b_per_comp == 1)
    used = cells_per_comp > 0
    unchanged = int((same & used).sum())
    clusters = Scores(unchanged, nb, na)

    changed_cells = np.flatnonzero(~same[comp])
    changes: list[EntityChange] = []
    if len(changed_cells):
        common_ids = np.empty(len(common_rows), dtype=object)
        common_ids[:] = [ids_a[i] for i in common_rows.tolist()]
        rows_in = np.flatnonzero(~same[comp[cell_of_row]])
        order = rows_in[np.argsort(cell_of_row[rows_in], kind="stable")]
        row_cells = cell_of_row[order]
        bounds = np.flatnonzero(np.concatenate(([True], row_cells[1:] != row_cells[:-1])))
        ends = np.concatenate((bounds[1:], [len(order)]))
        members: dict[int, tuple[str, ...]] = {
            int(row_cells[s]): tuple(sorted(common_ids[order[s:e]].tolist()))
            for s, e in zip(bounds.tolist(), ends.tolist(), strict=True)
        }
        by_comp: dict[int, list[int]] = {}
        for c in changed_cells.tolist():
            by_comp.setdefault(int(comp[c]), []).append(c)
        for k, cell_list in by_comp.items():
            n_a, n_b = int(a_per_comp[k]), int(b_per_comp[k])
            kind: ChangeKind = "split" if n_a == 1 else "merged" if n_b == 1 else "regrouped"
            triples = sorted(
                (
                    (names_a[int(ua[cell_a[c]])], names_b[int(ub[cell_b[c]])], members[c])
                    for c in cell_list
                ),
                key=lambda t: (_sort_key(t[0]), _sort_key(t[1]), t[2]),
            )
            # by code: records without an entity are one entity each, all named None
            before_names = sorted(
                (names_a[int(x)] for x in np.unique(ua[cell_a[cell_list]]).tolist()),
                key=_sort_key,
            )
            after_names = sorted(
                (names_b[int(x)] for x in np.unique(ub[cell_b[cell_list]]).tolist()),
                key=_sort_key,
            )
            changes.append(
                EntityChange(kind, tuple(before_names), tuple(after_names), tuple(triples))
            )
        changes.sort(key=lambda ch: (_ORDER[ch.kind], ch.record_ids))
    return RunComparison(
        records_before=len(ids_a),
        records_after=len(ids_b),
        entities_before=na,
        entities_after=nb,
        unchanged=unchanged,
        changes=tuple(changes),
        only_before=only_before,
        only_after=only_after,
        pairwise=pairwise,
        clusters=clusters,
        problems=tuple(problems),
    )
