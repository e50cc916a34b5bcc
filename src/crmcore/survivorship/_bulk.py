"""Golden records for a whole table at once: :func:`golden_records` (the columnar path).

The rows are grouped by entity with one ``argsort``; entities of one record are filled in without
any policy work (a singleton's golden record is its own valid values); the others are decided
field by field with numpy: every built-in policy scores whole columns, and the chain "policy,
fallbacks, tie-breakers, final tie-break" becomes a few group-wise maxima (``np.maximum.reduceat``)
over rows sorted by entity. Validation and equality keys run once per distinct value. Rules with a
custom :class:`~crmcore.survivorship.FunctionPolicy` fall back to :func:`merge_field` per entity
for that field only. The results equal :func:`crmcore.survivorship.merge` entity by entity.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import pairwise
from typing import Any

import attrs
import numpy as np

from crmcore.errors import FieldProblem, SurvivorshipError
from crmcore.io import Table
from crmcore.io._arrow import (
    Encoded,
    fold_key_codes,
    fullmatch_many,
    group_order,
    join_groups,
    sorted_codes,
    sorted_codes_filled,
)
from crmcore.io._arrow import blank as arrow_blank
from crmcore.io._arrow import encode as arrow_encode
from crmcore.survivorship._golden import FINAL_TIE_BREAKERS, merge_field
from crmcore.survivorship._policies import (
    GROUP_SEPARATOR,
    Aggregate,
    ColumnBatch,
    ScoringPolicy,
    group_parts,
    join_group,
    parse_times_us,
    source_order_key,
)
from crmcore.survivorship._records import SourceRecord, default_key, is_missing
from crmcore.survivorship._rules import FieldGroup, FieldRule, RegexValidator, SurvivorshipRules

#: Leading columns of the golden table (the fields follow, in table order).
GOLDEN_COLUMNS = ("entity_id", "record_ids", "n_records")
#: Columns of the long lineage table: one row per entity and field with a candidate.
LINEAGE_COLUMNS = (
    "entity_id",
    "field",
    "value",
    "record_id",
    "source_system",
    "policy",
    "tie_breaker",
    "n_candidates",
    "n_rejected",
    "conflict",
)

IntArray = np.ndarray[Any, np.dtype[np.int64]]
FloatArray = np.ndarray[Any, np.dtype[np.float64]]
BoolArray = np.ndarray[Any, np.dtype[np.bool_]]
NEG_INF = float("-inf")
#: Below this many values the pure-Python paths are as fast as the pyarrow kernels.
_ARROW_MIN = 2_000


def _pandas() -> Any:
    """The pandas module when installed (an optional speed-up), else None."""
    try:
        import pandas as pd
    except ImportError:
        return None
    return pd


def _has_nul(values: Sequence[Any]) -> bool:
    """True when a text value holds a NUL character: ``pandas.factorize`` reads text as C
    strings and cuts it there (``"a\\x00b"``, ``"a\\x00c"`` and ``"a"`` get one code)."""
    return any(v.__class__ is str and "\x00" in v for v in values)


def _codes_of(values: Sequence[Any]) -> IntArray:
    """Codes of hashable values (equal values, equal codes; first seen order)."""
    pd = None if _has_nul(values) else _pandas()
    if pd is None:  # the dict path keeps every character
        index = {v: i for i, v in enumerate(dict.fromkeys(values))}
        return np.fromiter(map(index.__getitem__, values), dtype=np.int64, count=len(values))
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    out: IntArray = pd.factorize(arr, use_na_sentinel=False)[0].astype(np.int64)
    return out


def _sorted_codes(values: Sequence[str], ordered: Sequence[str]) -> IntArray:
    """Index of each value in ``ordered`` (which holds every value once)."""
    try:
        import pandas as pd
    except ImportError:
        index = {e: i for i, e in enumerate(ordered)}
        return np.fromiter(map(index.__getitem__, values), dtype=np.int64, count=len(values))
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    out: IntArray = pd.Index(np.array(ordered, dtype=object)).get_indexer(arr).astype(np.int64)
    return out


def _hash_codes(column: Sequence[Any]) -> tuple[IntArray, list[Any], Encoded | None]:
    """Codes per row into the distinct values (first seen order); None -> -1.

    pyarrow's dictionary encoding for text columns (kept, for the pyarrow kernels that follow),
    else ``pandas.factorize``, else a dict: the same result, fastest first.
    """
    enc = arrow_encode(column) if len(column) > _ARROW_MIN else None
    if enc is not None:
        return enc.codes, enc.distinct, enc
    pd = None if _has_nul(column) else _pandas()
    if pd is None:
        distinct = list(dict.fromkeys(v for v in column if v is not None))
        index: dict[Any, int] = {v: i for i, v in enumerate(distinct)}
        index[None] = -1
        return (
            np.fromiter(map(index.__getitem__, column), dtype=np.int64, count=len(column)),
            distinct,
            None,
        )
    arr = np.empty(len(column), dtype=object)
    arr[:] = column
    pd_codes, uniques = pd.factorize(arr, use_na_sentinel=True)
    return pd_codes.astype(np.int64), list(uniques), None


def _factorize(column: Sequence[Any]) -> tuple[IntArray, list[Any], Encoded | None]:
    """Codes per row into the list of distinct values (first seen order); missing -> -1."""
    codes, distinct, enc = _hash_codes(column)
    if enc is not None:
        missing = arrow_blank(enc)
    else:
        missing = np.array(
            [v is None or (v.strip() == "" if v.__class__ is str else is_missing(v))
             for v in distinct],
            dtype=bool,
        )
    if not missing.any():
        return codes, distinct, enc
    # the trailing -1 maps the missing code (-1) to -1
    remap = np.append(np.where(missing, -1, np.arange(len(distinct), dtype=np.int64)), -1)
    return remap[codes], distinct, enc


@attrs.frozen
class _Prepared:
    """One column, encoded, with its per-distinct-value validity and key tables when cheap."""

    code: IntArray
    distinct: list[Any]
    enc: Encoded | None
    valid_table: BoolArray | None  # per distinct value + a trailing False (missing code -1)
    key_table: IntArray | None  # default-key code per distinct value
    times: FloatArray | None = None  # parse_times_us per distinct value + a trailing NaN


def _prepare(column: Sequence[Any], rule: FieldRule | None, *, times: bool = False) -> _Prepared:
    """Encode a column; for built-in validators and the default key, also the tables per
    distinct value, and with ``times`` the parsed times (no user code runs here: this may run
    in a worker thread)."""
    code, distinct, enc = _factorize(column)
    parsed = np.append(parse_times_us(distinct), np.nan) if times else None
    valid_table = key_table = None
    if rule is not None and not isinstance(rule.policy, Aggregate):
        if rule.validate is None:
            valid_table = np.append(np.ones(len(distinct), dtype=bool), False)
        elif isinstance(rule.validate, RegexValidator) and enc is not None:
            v = rule.validate
            fast = fullmatch_many(v.pattern, v.ignore_case, distinct, v, enc)
            if fast is not None:
                valid_table = np.append(fast, False)
        if enc is not None and rule.key is None:
            key_table = fold_key_codes(enc, default_key)
    return _Prepared(code, distinct, enc, valid_table, key_table, parsed)


def _check_ids(ids: Sequence[str | None], id_column: str) -> None:
    """Raise when a record id is missing or repeated."""
    bad = [i for i, v in enumerate(ids) if v is None]
    if bad:
        raise SurvivorshipError(
            str(FieldProblem(id_column, None, "survivorship.required",
                             f"rows {bad[:5]} have no record id", str(bad[0])))
        )
    if len(set(ids)) != len(ids):
        seen: set[str | None] = set()
        dup = next(v for v in ids if v in seen or seen.add(v))  # type: ignore[func-returns-value]
        raise SurvivorshipError(
            str(FieldProblem(id_column, dup, "survivorship.unique_ids",
                             "two rows share this record id", dup))
        )


def _source_codes(cells: Sequence[str | None]) -> tuple[IntArray, list[str]]:
    """Codes of the source system cells into their distinct names (blank: ``"unknown"``)."""
    codes, distinct, _enc = _hash_codes(cells)
    names = [s if s and s.strip() else "unknown" for s in distinct]
    if len(set(names)) == len(names) and not (codes < 0).any():
        return codes, names
    unique = list(dict.fromkeys([*names, "unknown"]))
    index = {s: i for i, s in enumerate(unique)}
    remap = np.array([*(index[s] for s in names), index["unknown"]], dtype=np.int64)
    used = np.zeros(len(unique), dtype=bool)
    used[remap[codes]] = True
    # keep only the names in use, in first-seen order of their codes
    keep = np.flatnonzero(used)
    renum = np.full(len(unique), -1, dtype=np.int64)
    renum[keep] = np.arange(len(keep), dtype=np.int64)
    return renum[remap[codes]], [unique[i] for i in keep.tolist()]


@attrs.define
class _Run:
    """Arrays shared by every field of one bulk run."""

    ids_obj: np.ndarray[Any, Any]
    sources: list[str]
    src_code: IntArray
    src_rank: FloatArray
    observed: FloatArray
    priority: tuple[str, ...]
    single_rows: IntArray  # rows of one-record entities
    single_groups: IntArray  # their entity index
    sel: IntArray  # rows of multi-record entities, grouped, by record id inside a group
    sel_ids: np.ndarray[Any, Any]
    local_group: IntArray  # local group of each ``sel`` row
    starts: IntArray  # first ``sel`` position of each local group
    multi_ids: IntArray  # entity index of each local group
    entity_obj: np.ndarray[Any, Any]
    lineage: _Lineage


class _Lineage:
    """Accumulates lineage rows as chunks of columns (object arrays or lists), joined once."""

    def __init__(self) -> None:
        self.chunks: dict[str, list[list[Any]]] = {c: [] for c in LINEAGE_COLUMNS}

    def extend(self, **columns: Sequence[str | None] | np.ndarray[Any, Any]) -> None:
        n = len(columns["entity_id"])
        if not n:
            return
        for name in LINEAGE_COLUMNS:
            col = columns.get(name)
            if col is None:
                cells: list[Any] = [None] * n
            elif isinstance(col, np.ndarray):
                cells = col.tolist()
            else:
                cells = list(col)
            self.chunks[name].append(cells)

    def table(self) -> Table:
        cols: dict[str, list[str | None]] = {}
        for name, chunks in self.chunks.items():
            cells: list[str | None] = chunks[0] if len(chunks) == 1 else []
            if len(chunks) > 1:
                for chunk in chunks:
                    cells.extend(chunk)
            cols[name] = cells
        return Table(cols)


_TRUE_FALSE = np.array(["false", "true"], dtype=object)


def _bools(mask: BoolArray) -> np.ndarray[Any, Any]:
    out: np.ndarray[Any, Any] = _TRUE_FALSE[mask.astype(np.int8)]
    return out


def _ints(values: IntArray) -> np.ndarray[Any, Any]:
    if not len(values):
        return np.empty(0, dtype=object)
    names = np.array([str(i) for i in range(int(values.max()) + 1)], dtype=object)
    out: np.ndarray[Any, Any] = names[values]
    return out


def _narrow(
    remaining: BoolArray, score: FloatArray, rows: BoolArray | None, group: IntArray,
    starts: IntArray,
) -> BoolArray:
    """Keep, per group, the remaining rows with the highest score (only on ``rows``)."""
    masked = np.where(remaining, score, NEG_INF)
    best = np.maximum.reduceat(masked, starts)
    keep = remaining & (score == best[group])
    return keep if rows is None else np.where(rows, keep, remaining)


def _single(remaining: BoolArray, key: IntArray, starts: IntArray) -> BoolArray:
    """Per group: True when the remaining rows hold exactly one distinct key."""
    big = np.iinfo(np.int64).max
    kmin = np.minimum.reduceat(np.where(remaining, key, big), starts)
    kmax = np.maximum.reduceat(np.where(remaining, key, -1), starts)
    return kmin == kmax  # type: ignore[no-any-return]


def golden_records(
    table: Table,
    entity_ids: Sequence[str | None],
    rules: SurvivorshipRules,
    *,
    source_column: str = "source_system",
    observed_column: str = "updated_at",
    id_column: str = "record_id",
    singleton_lineage: bool = False,
) -> tuple[Table, Table]:
    """Build the golden record of every entity of a table, with a long lineage table.

    Args:
        table: Source rows (one per source record).
        entity_ids: Entity of each row (e.g. matching's cluster ids); None makes the row an
            entity of its own, named by its record id.
        rules: Survivorship rules (``rules.ignore`` columns are not carried).
        source_column: Column naming each row's source system (missing cells: ``"unknown"``).
        observed_column: Column of each row's observation time (ISO text); a missing column or
            cell means "unknown".
        id_column: Column of record ids (required, unique).
        singleton_lineage: Also write lineage rows for entities of one record (off by default:
            every value of such an entity comes from its one record, named in ``record_ids``).

    Returns:
        ``(golden, lineage)``: the golden table (``entity_id``, ``record_ids`` joined with
        ``"; "``, ``n_records``, then every carried column), sorted by entity id, and the
        lineage table with columns :data:`LINEAGE_COLUMNS`.

    Raises:
        SurvivorshipError: If ``entity_ids`` has the wrong length, or record ids are missing or
            repeated.

    Example:
        >>> from crmcore.io import Table
        >>> from crmcore.survivorship import SurvivorshipRules, golden_records
        >>> t = Table.from_records([
        ...     {"record_id": "1", "source_system": "crm", "updated_at": "2024-01-01",
        ...      "city": "Paris"},
        ...     {"record_id": "2", "source_system": "erp", "updated_at": "2024-05-01",
        ...      "city": "Lyon"},
        ... ])
        >>> golden, lineage = golden_records(t, ["e1", "e1"], SurvivorshipRules())
        >>> golden.column("city"), lineage.column("record_id")
        (['Lyon'], ['2', '2'])
    """
    n = table.n_rows
    if len(entity_ids) != n:
        raise SurvivorshipError(f"{len(entity_ids)} entity ids for {n} rows")
    if any(sum(f in table.columns for f in g.fields) > 1 for g in rules.groups):
        return _golden_with_groups(
            table, entity_ids, rules, source_column=source_column,
            observed_column=observed_column, id_column=id_column,
            singleton_lineage=singleton_lineage,
        )
    ids = table.column(id_column)
    priority = rules.source_priority
    src_cells = table.columns.get(source_column, [None] * n)
    src_code, sources = _source_codes(src_cells)
    src_order = sorted(range(len(sources)), key=lambda i: source_order_key(sources[i], priority))
    src_rank_table = np.empty(len(sources), dtype=np.float64)
    src_rank_table[src_order] = np.arange(len(sources), dtype=np.float64)
    caches: dict[str, dict[str, FloatArray]] = {}
    fields = [c for c in table.column_names if c not in rules.ignore and c not in GOLDEN_COLUMNS]
    # columns are encoded in a worker thread while this one orders the rows (pyarrow's hashing
    # and regular expressions release the GIL); the results are the same either way
    pool = ThreadPoolExecutor(max_workers=1) if n > _ARROW_MIN and fields else None
    prepared: dict[str, Future[_Prepared]] = {}
    names = fields if observed_column in fields or observed_column not in table.columns else [
        observed_column, *fields
    ]
    if pool is not None:
        for name in sorted(names, key=lambda c: c != observed_column):
            rule_of = rules.rule_for(name) if name in fields else None
            prepared[name] = pool.submit(
                _prepare, table.column(name), rule_of, times=name == observed_column
            )
        pool.shutdown(wait=False)

    def get(name: str) -> _Prepared:
        hit = prepared.pop(name, None)
        if hit is not None:
            return hit.result()
        rule_of = rules.rule_for(name) if name in fields else None
        return _prepare(table.column(name), rule_of, times=name == observed_column)

    try:
        kept: dict[str, _Prepared] = {}

        coded = sorted_codes_filled(entity_ids, ids) if n > _ARROW_MIN else None
        if coded is None:
            ents: list[str] = [
                e if e is not None else str(r) for e, r in zip(entity_ids, ids, strict=True)
            ]
            python_coded = sorted_codes(ents) if n > _ARROW_MIN else None
            if python_coded is None:
                entity_list = sorted(set(ents))
                codes = _sorted_codes(ents, entity_list)
            else:
                codes, entity_list = python_coded
        else:
            codes, entity_list = coded
        n_groups = len(entity_list)
        grouped = group_order(codes, ids) if n > _ARROW_MIN else None
        if grouped is None or not grouped[2]:
            _check_ids(ids, id_column)
        if grouped is None:
            id_array = np.array(ids, dtype=str) if n else np.array([], dtype=str)
            id_rank = np.empty(n, dtype=np.int64)
            id_rank[np.argsort(id_array, kind="stable")] = np.arange(n, dtype=np.int64)
            order = np.lexsort((id_rank, codes))
            ids_arrow = None
        else:
            order, ids_arrow, _unique = grouped
        sizes = np.bincount(codes, minlength=n_groups)
        group_of_sorted = codes[order]
        multi_group = sizes > 1
        single_rows = order[~multi_group[group_of_sorted]]  # rows of singleton entities
        single_groups = codes[single_rows]
        sel = order[multi_group[group_of_sorted]]  # rows of multi-record entities, grouped
        multi_ids = np.flatnonzero(multi_group)  # global group index of each local group
        m_sizes = sizes[multi_ids]
        starts = np.concatenate(([0], np.cumsum(m_sizes)[:-1])).astype(np.int64)
        local_group = np.repeat(np.arange(len(multi_ids), dtype=np.int64), m_sizes)
        ids_obj = np.array(ids, dtype=object)
        sel_ids = ids_obj[sel]

        record_ids = np.empty(n_groups, dtype=object)
        record_ids[single_groups] = ids_obj[single_rows]
        if len(sel) and ids_arrow is not None:
            record_ids[multi_ids] = join_groups(ids_arrow, sel, starts, "; ")
        elif len(sel):
            bounds = [*starts.tolist(), len(sel)]
            member_lists = sel_ids.tolist()
            record_ids[multi_ids] = [
                "; ".join(member_lists[lo:hi]) for lo, hi in pairwise(bounds)
            ]
        if observed_column in table.columns:
            obs = kept[observed_column] = get(observed_column)
            obs_code, obs_table = obs.code, obs.times
            assert obs_table is not None
            caches[observed_column] = {"date": obs_table}
            observed = obs_table[obs_code]
        else:
            observed = np.full(n, np.nan)
        run = _Run(
            ids_obj, sources, src_code, src_rank_table[src_code], observed, priority, single_rows,
            single_groups, sel, sel_ids, local_group, starts, multi_ids,
            np.array(entity_list, dtype=object), _Lineage(),
        )
        golden: dict[str, list[str | None]] = {
            "entity_id": list(entity_list),
            "record_ids": record_ids.tolist(),
            "n_records": _ints(sizes).tolist(),
        }
        for field in fields:
            rule = rules.rule_for(field)
            prep = kept.pop(field, None) or get(field)
            code, distinct, enc = prep.code, prep.distinct, prep.enc
            cache = caches.get(field, {})
            out = np.empty(n_groups, dtype=object)  # filled with None
            if isinstance(rule.policy, Aggregate):
                _aggregate_field(
                    run, field, rule, rule.policy, code=code, distinct=distinct, out=out
                )
            else:
                check = rule.validator()
                keyf = rule.key_function()
                if prep.valid_table is not None:
                    valid_table = prep.valid_table
                elif rule.validate is None:
                    valid_table = np.append(np.ones(len(distinct), dtype=bool), False)
                elif isinstance(rule.validate, RegexValidator):
                    valid_table = np.append(rule.validate.many(distinct), False)
                else:
                    valid_table = np.array(
                        [check(v) is None for v in distinct] + [False], dtype=bool
                    )
                values_obj = np.array([*distinct, None], dtype=object)
                if not rule.vectorised:
                    _decide_slow(
                        run, field, rule, code, distinct=distinct, out=out, single=True,
                        write=singleton_lineage,
                    )
                    if len(run.sel):
                        _decide_slow(
                            run, field, rule, code, distinct=distinct, out=out, single=False,
                            write=True,
                        )
                    golden[field] = out.tolist()
                    continue
                s_code = code[single_rows]
                s_ok = _singleton_eligible(
                    run, field, rule, s_code, valid_table=valid_table, distinct=distinct,
                    cache=cache,
                )
                out_code = np.full(n_groups, -1, dtype=np.int64)  # -1 picks None from values_obj
                out_code[single_groups] = np.where(s_ok, s_code, -1)
                if singleton_lineage and len(single_rows):
                    _singleton_lineage(run, field, s_code, s_ok, values_obj)
                if len(sel):
                    m_code = code[sel]
                    valid = valid_table[m_code]
                    if prep.key_table is not None and keyf is default_key:
                        key = np.where(valid, np.append(prep.key_table, -1)[m_code], -1)
                    else:
                        key = _key_codes(keyf, distinct, m_code, valid, enc)
                    batch = ColumnBatch(
                        field, distinct, m_code, key, valid, sources, src_code[sel],
                        observed[sel], local_group, starts, priority, cache,
                    )
                    _decide_vectorised(run, field, rule, batch, out_code, values_obj=values_obj)
                golden[field] = values_obj[out_code].tolist()
                continue
            golden[field] = out.tolist()
        return Table(golden), run.lineage.table()
    finally:  # on an error, no work left behind in the worker
        for pending in prepared.values():
            pending.cancel()


def _group_column(
    table: Table, group: FieldGroup, rules: SurvivorshipRules
) -> list[str | None]:
    """Every row's group value, as :func:`~crmcore.survivorship._golden.group_value` makes it:
    validation once per distinct value of each field, the joining once per distinct
    combination (rows are grouped by their stacked codes with numpy)."""
    n = table.n_rows
    codes: list[IntArray] = []
    distincts: list[list[Any]] = []
    for f in group.fields:
        column = table.columns.get(f)
        if column is None:
            codes.append(np.full(n, -1, dtype=np.int64))
            distincts.append([])
            continue
        code, distinct, _enc = _factorize(column)
        check = rules.rule_for(f).validator()
        bad = np.array([check(v) is not None for v in distinct] + [True], dtype=bool)
        codes.append(np.where(bad[code], -1, code))  # code -1 picks the trailing True
        distincts.append(distinct)
    if not n:
        return []
    sizes = [len(d) + 1 for d in distincts]
    if float(np.prod(np.array(sizes, dtype=np.float64))) < 2.0**62:
        combined = np.zeros(n, dtype=np.int64)  # mixed-radix code of the row's combination
        for code, size in zip(codes, sizes, strict=True):
            combined = combined * size + (code + 1)
        first_rows, inverse = np.unique(combined, return_index=True, return_inverse=True)[1:]
        combos = np.stack(codes)[:, first_rows].T.tolist()
    else:  # too many combinations for one integer: unique columns of the stacked codes
        uniq, inverse = np.unique(np.stack(codes), axis=1, return_inverse=True)
        combos = uniq.T.tolist()
    texts = np.empty(len(combos), dtype=object)
    texts[:] = [
        join_group([None if c < 0 else distincts[i][c] for i, c in enumerate(combo)])
        for combo in combos
    ]
    out: list[str | None] = texts[inverse.ravel()].tolist()
    return out


def _golden_with_groups(
    table: Table, entity_ids: Sequence[str | None], rules: SurvivorshipRules, **options: Any
) -> tuple[Table, Table]:
    """Field groups: each group becomes one joined column decided by the group's rule, then
    split back into its fields (golden table and lineage), as :func:`merge` does."""
    columns: dict[str, list[str | None]] = {}
    synthetic: dict[str, tuple[FieldGroup, list[str]]] = {}
    ignore = set(rules.ignore)
    fields = dict(rules.fields)
    for g in rules.groups:
        present = [f for f in g.fields if f in table.columns and f not in rules.ignore]
        if len(present) > 1:  # a group of one field is that field, under its own rule
            synthetic[f"{GROUP_SEPARATOR}group:{g.name}"] = (g, present)
    first_of = {present[0]: name for name, (_g, present) in synthetic.items()}
    for name, values in table.columns.items():
        if name in first_of:
            key = first_of[name]
            group = synthetic[key][0]
            columns[key] = _group_column(table, group, rules)
            fields[key] = group.rule
        columns[name] = values
    for _g, present in synthetic.values():
        ignore.update(present)
    inner = attrs.evolve(rules, fields=fields, ignore=frozenset(ignore), groups=())
    golden, lineage = golden_records(Table(columns), entity_ids, inner, **options)
    out: dict[str, list[str | None]] = {}
    for name, values in golden.columns.items():
        if name not in synthetic:
            out[name] = values
            continue
        group, present = synthetic[name]
        split = {v: group_parts(v, len(group.fields)) for v in set(values)}
        for i, f in enumerate(group.fields):
            if f in present:
                out[f] = [split[v][i] for v in values]
    lin = {c: np.array(lineage.column(c), dtype=object) for c in LINEAGE_COLUMNS}
    field_col = lin["field"]
    keep = np.ones(len(field_col), dtype=bool)
    parts: list[dict[str, np.ndarray[Any, Any]]] = []
    for name, (group, present) in synthetic.items():
        rows = np.flatnonzero(field_col == name)
        keep[rows] = False
        if not len(rows):
            continue
        values = lin["value"][rows].tolist()
        split = {v: group_parts(v, len(group.fields)) for v in set(values)}
        policy = np.array(
            [f"{group.name}:{p}" for p in lin["policy"][rows].tolist()], dtype=object
        )
        for i, f in enumerate(group.fields):
            if f not in present:
                continue
            chunk = {c: lin[c][rows] for c in LINEAGE_COLUMNS}
            chunk["field"] = np.full(len(rows), f, dtype=object)
            chunk["value"] = np.array([split[v][i] for v in values] + [None], dtype=object)[:-1]
            chunk["policy"] = policy
            parts.append(chunk)
    merged = {
        c: np.concatenate([lin[c][keep], *(chunk[c] for chunk in parts)]).tolist()
        for c in LINEAGE_COLUMNS
    }
    return Table(out), Table(merged)


def _pick(mask: BoolArray, values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``values`` where ``mask``, else None (an object array)."""
    if mask.all():
        return values
    out = np.empty(len(mask), dtype=object)  # filled with None
    out[mask] = values[mask]
    return out


def _key_codes(
    keyf: Callable[[Any], Any], distinct: list[Any], code: IntArray, valid: BoolArray,
    enc: Encoded | None = None,
) -> IntArray:
    """Key code per row (-1 when missing or invalid); keys computed only for values in use."""
    if keyf is default_key and enc is not None:
        fast = fold_key_codes(enc, default_key)
        if fast is not None:
            out_fast: IntArray = np.where(valid, np.append(fast, -1)[code], -1)
            return out_fast
    in_use = np.zeros(len(distinct) + 1, dtype=bool)
    in_use[code[valid]] = True
    used = np.flatnonzero(in_use).tolist()
    if keyf is default_key:  # inlined for speed: text case-folded, whitespace collapsed
        used_values = [distinct[c] for c in used]
        keys = [
            " ".join(v.split()).casefold() if v.__class__ is str else default_key(v)
            for v in used_values
        ]
        # distinct values that are their own keys have distinct keys: no hashing needed
        own = all(k == v for k, v in zip(keys, used_values, strict=True))
    else:
        keys = [keyf(distinct[c]) for c in used]
        own = False
    table = np.full(len(distinct) + 1, -1, dtype=np.int64)
    if used:
        table[used] = np.arange(len(used), dtype=np.int64) if own else _codes_of(keys)
    out: IntArray = np.where(valid, table[code], -1)
    return out


def _singleton_eligible(
    run: _Run, field: str, rule: FieldRule, s_code: IntArray, *, valid_table: BoolArray,
    distinct: list[Any], cache: dict[str, FloatArray],
) -> BoolArray:
    """Which singleton rows hold a value that can win (valid, and eligible for some policy)."""
    ok: BoolArray = valid_table[s_code]
    policies = [p for p in rule.policies if isinstance(p, ScoringPolicy)]
    if any(p.always_eligible for p in policies) or not len(s_code):
        return ok
    k = len(s_code)
    rows = run.single_rows
    at = np.arange(k, dtype=np.int64)
    batch = ColumnBatch(
        field, distinct, s_code, np.where(ok, s_code, -1), ok, run.sources, run.src_code[rows],
        run.observed[rows], at, at, run.priority, cache,
    )
    eligible = np.zeros(k, dtype=bool)
    for p in policies:
        eligible |= p.score_columns(batch)[1]
    return ok & eligible


def _singleton_lineage(
    run: _Run, field: str, s_code: IntArray, s_ok: BoolArray, values_obj: np.ndarray[Any, Any]
) -> None:
    present = s_code >= 0
    rows, groups, codes = run.single_rows[present], run.single_groups[present], s_code[present]
    ok = s_ok[present]
    src_obj = np.array(run.sources, dtype=object)
    k = len(rows)
    run.lineage.extend(
        entity_id=run.entity_obj[groups],
        field=[field] * k,
        value=_pick(ok, values_obj[codes]),
        record_id=_pick(ok, run.ids_obj[rows]),
        source_system=_pick(ok, src_obj[run.src_code[rows]]),
        policy=np.array(["none", "singleton"], dtype=object)[ok.astype(np.int8)],
        n_candidates=_ints(ok.astype(np.int64)),
        n_rejected=_ints((~ok).astype(np.int64)),
        conflict=["false"] * k,
    )


def _decide_vectorised(
    run: _Run, field: str, rule: FieldRule, batch: ColumnBatch, out_code: IntArray, *,
    values_obj: np.ndarray[Any, Any],
) -> None:
    multi_ids, src_rank = run.multi_ids, run.src_rank[run.sel]
    group, starts, valid, key = batch.group, batch.starts, batch.valid, batch.key_code
    n_local = len(starts)
    # main policy, then fallbacks: each group uses the first policy with an eligible candidate
    mode = np.full(n_local, -1, dtype=np.int64)
    remaining = np.zeros(len(group), dtype=bool)
    scored: list[tuple[list[FloatArray], BoolArray]] = []
    for i, policy in enumerate(rule.policies):
        assert isinstance(policy, ScoringPolicy)
        cols, eligible = policy.score_columns(batch)
        ok = valid & eligible
        has = np.maximum.reduceat(ok, starts) & (mode < 0)
        mode[has] = i
        scored.append((cols, ok))
    row_mode = mode[group]
    for i, (cols, ok) in enumerate(scored):
        rows = row_mode == i
        remaining |= rows & ok
        for col in cols:
            remaining = _narrow(remaining, col, rows, group, starts)
    has_winner = mode >= 0
    level = _break_ties(rule, batch, remaining, src_rank)
    # the smallest record id wins what is left: rows are sorted by record id inside each group
    win_rows = np.flatnonzero(remaining)
    win_group = group[win_rows]
    first = np.flatnonzero(np.concatenate(([True], win_group[1:] != win_group[:-1])))
    first = first[: len(win_rows)]
    win = np.full(n_local, -1, dtype=np.int64)
    win[win_group[first]] = win_rows[first]
    win_code = np.where(has_winner, batch.value_code[np.maximum(win, 0)], -1)
    out_code[multi_ids] = win_code
    # lineage rows for local groups with at least one present value
    present = batch.value_code >= 0
    n_present = np.add.reduceat(present.astype(np.int64), starts)
    n_valid = np.add.reduceat(valid.astype(np.int64), starts)
    conflict = ~_single(valid, key, starts) & (n_valid > 1)
    rows = np.flatnonzero(n_present > 0)
    names = np.array(
        [None, *(tb.name for tb in rule.tie_breakers), *FINAL_TIE_BREAKERS], dtype=object
    )
    policy_names = np.array([*(p.name for p in rule.policies), "none"], dtype=object)
    src_obj = np.array(batch.sources, dtype=object)
    w = np.maximum(win[rows], 0)
    hw = has_winner[rows]
    k = len(rows)
    run.lineage.extend(
        entity_id=run.entity_obj[multi_ids[rows]],
        field=[field] * k,
        value=values_obj[win_code[rows]],
        record_id=_pick(hw, run.sel_ids[w]),
        source_system=_pick(hw, src_obj[batch.source_code[w]]),
        policy=policy_names[np.where(hw, mode[rows], -1)],
        tie_breaker=_pick(hw, names[np.clip(level[rows], 0, len(names) - 1)]),
        n_candidates=_ints(n_valid[rows]),
        n_rejected=_ints(n_present[rows] - n_valid[rows]),
        conflict=_bools(conflict[rows]),
    )


def _break_ties(
    rule: FieldRule, batch: ColumnBatch, remaining: BoolArray, src_rank: FloatArray
) -> IntArray:
    """Narrow ``remaining`` (in place) by the tie-breakers, then source order; return each
    group's level: the first stage after which its remaining rows hold one distinct key (0: the
    policy, ``t``: the t-th tie-breaker, then source order, then record id).

    Each stage works only on the groups that still have more than one remaining row (narrowing
    cannot change a group of one row or none).
    """
    n_tb = len(rule.tie_breakers)
    open_level = n_tb + 2
    count = np.add.reduceat(remaining, batch.starts, dtype=np.int64)
    level = np.where(count == 1, 0, open_level)  # one row: one key
    active = count > 1
    if not active.any():
        return level
    grp_idx = np.flatnonzero(active)
    keep = active[batch.group]
    row_idx = np.flatnonzero(keep)
    sub = _subset(batch, keep, active)
    rem = remaining[row_idx]
    level[grp_idx[_single(rem, sub.key_code, sub.starts)]] = 0
    for t in range(1, n_tb + 2):
        if t <= n_tb:
            tb = rule.tie_breakers[t - 1]
            assert isinstance(tb, ScoringPolicy)
            cols, eligible = tb.score_columns(sub)
            scores = [np.where(eligible, col, NEG_INF) for col in cols]
        else:
            scores = [-src_rank[row_idx]]
        for score in scores:
            rem = _narrow(rem, score, None, sub.group, sub.starts)
        remaining[row_idx] = rem
        single = _single(rem, sub.key_code, sub.starts)
        newly = grp_idx[single]
        level[newly[level[newly] == open_level]] = t
        if t == n_tb + 1:
            break
        active = np.add.reduceat(rem, sub.starts, dtype=np.int64) > 1
        if not active.any():
            break
        keep = active[sub.group]
        row_idx, grp_idx, rem = row_idx[keep], grp_idx[active], rem[keep]
        sub = _subset(sub, keep, active)
    return level


def _subset(batch: ColumnBatch, rows: BoolArray, groups: BoolArray) -> ColumnBatch:
    """The batch restricted to whole groups (``rows``: their rows, ``groups``: the groups)."""
    sizes = np.diff(np.append(batch.starts, len(batch.group)))[groups]
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
    return ColumnBatch(
        batch.field, batch.values, batch.value_code[rows], batch.key_code[rows],
        batch.valid[rows], batch.sources, batch.source_code[rows], batch.observed_us[rows],
        np.repeat(np.arange(len(sizes), dtype=np.int64), sizes), starts,
        batch.source_priority, batch.cache,
    )


def _decide_slow(
    run: _Run, field: str, rule: FieldRule, code: IntArray, *, distinct: list[Any],
    out: np.ndarray[Any, Any], single: bool, write: bool,
) -> None:
    """Per-entity :func:`merge_field` for rules with custom (non-vectorised) policies."""
    if single:
        sel, multi_ids = run.single_rows, run.single_groups
        starts = np.arange(len(sel), dtype=np.int64)
    else:
        sel, starts, multi_ids = run.sel, run.starts, run.multi_ids
    sel_ids = run.ids_obj[sel]
    m_code = code[sel]
    sources, src_code, observed = run.sources, run.src_code, run.observed
    import datetime as dt

    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    bounds = [*starts.tolist(), len(sel)]
    cols: dict[str, list[str | None]] = {c: [] for c in LINEAGE_COLUMNS}
    for g in range(len(starts)):
        recs = []
        for j in range(bounds[g], bounds[g + 1]):
            row = int(sel[j])
            t = observed[row]
            when = None if np.isnan(t) else epoch + dt.timedelta(microseconds=float(t))
            c = int(m_code[j])
            recs.append(
                SourceRecord(
                    str(sel_ids[j]), sources[int(src_code[row])], when,
                    {field: None if c < 0 else distinct[c]},
                )
            )
        lin = merge_field(field, recs, rule, run.priority)
        out[multi_ids[g]] = lin.value
        if write and (lin.n_candidates or lin.rejected):
            row_values = {
                "entity_id": run.entity_obj[multi_ids[g]],
                "field": field,
                "value": lin.value,
                "record_id": lin.record_id,
                "source_system": lin.source_system,
                "policy": lin.policy,
                "tie_breaker": lin.tie_breaker,
                "n_candidates": str(lin.n_candidates),
                "n_rejected": str(len(lin.rejected)),
                "conflict": "true" if lin.conflict else "false",
            }
            for name in LINEAGE_COLUMNS:
                cols[name].append(row_values[name])
    run.lineage.extend(**cols)


def _aggregate_field(
    run: _Run, field: str, rule: FieldRule, agg: Aggregate, *, code: IntArray,
    distinct: list[Any], out: np.ndarray[Any, Any],
) -> None:
    single_rows, single_groups, sel = run.single_rows, run.single_groups, run.sel
    local_group, multi_ids, entity_obj = run.local_group, run.multi_ids, run.entity_obj
    check = rule.validator()
    keyf = rule.key_function()
    item_cache: dict[Any, tuple[Any, bool]] = {}

    def items_of(value: Any) -> list[tuple[Any, Any, bool]]:
        res = []
        for item in agg.items(value):
            hit = item_cache.get(item)
            if hit is None:
                hit = (keyf(item), check(item) is None)
                item_cache[item] = hit
            res.append((item, hit[0], hit[1]))
        return res

    per_value: list[list[tuple[Any, Any, bool]]] = [items_of(v) for v in distinct]
    join_cache: dict[int, str | None] = {}

    def union(codes: Sequence[int]) -> tuple[str | None, int, int]:
        by_key: dict[Any, Any] = {}
        n_ok = n_bad = 0
        for c in codes:
            if c < 0:
                continue
            for item, k, ok in per_value[c]:
                if not ok:
                    n_bad += 1
                    continue
                n_ok += 1
                cur = by_key.get(k, _NOTHING)
                if cur is _NOTHING or _sort_key(item) < _sort_key(cur):
                    by_key[k] = item
        items = sorted(by_key.values(), key=_sort_key)
        return (agg.join(items) if items else None), n_ok, n_bad

    for row, g in zip(code[single_rows].tolist(), single_groups.tolist(), strict=True):
        if row >= 0:
            if row not in join_cache:
                join_cache[row] = union([row])[0]
            out[g] = join_cache[row]
    if not len(sel):
        return
    m_code = code[sel].tolist()
    bounds = np.concatenate((np.flatnonzero(np.diff(local_group)) + 1, [len(sel)])).tolist()
    ent, val, pol, ncand, nrej = [], [], [], [], []
    lo = 0
    for g, hi in enumerate(bounds):
        codes = m_code[lo:hi]
        lo = hi
        if all(c < 0 for c in codes):
            continue
        joined, n_ok, n_bad = union(codes)
        out[multi_ids[g]] = joined
        ent.append(entity_obj[multi_ids[g]])
        val.append(joined)
        pol.append("aggregate" if joined is not None else "none")
        ncand.append(str(n_ok))
        nrej.append(str(n_bad))
    run.lineage.extend(
        entity_id=ent, field=[field] * len(ent), value=val, policy=pol, n_candidates=ncand,
        n_rejected=nrej, conflict=["false"] * len(ent),
    )


_NOTHING = object()


def _sort_key(value: Any) -> tuple[str, str]:
    return (type(value).__name__, str(value))

