"""Blocking: which pairs of records are compared at all.

A blocking rule is a frozen spec. :class:`BlockOn` pairs records whose values agree on every one
of its field expressions (``BlockOn(("last_name", "prefix(first_name, 1)"))``); an expression may
be a function of a field (phonetic codes, prefixes, email local part, last digits of a phone,
company tokens). :class:`SortedNeighbourhood` sorts records by an expression and pairs each with
its next ``window - 1`` neighbours. Rules are OR-ed: a pair is a candidate when any rule produces
it, and each pair is produced once (pairs are coded ``i * n + j`` with ``i < j`` and de-duplicated
with ``np.unique``).

:func:`analyse_blocking` tells, before anything is compared, how many pairs each rule and their
union produce; :func:`block` raises :class:`~crmcore.errors.PairBudgetExceeded` (with advice)
rather than exhausting memory.

Everything is vectorised: rows are grouped by key with ``argsort`` and the pairs of each block are
generated with ``np.repeat`` arithmetic, never a Python loop over blocks or pairs.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.errors import MatchingConfigError, PairBudgetExceeded
from crmcore.io._arrow import unique_sorted
from crmcore.matching._expressions import Expression, Frame, parse_expression
from crmcore.matching._functions import MULTI_VALUED_FUNCTIONS
from crmcore.model import SpecCodec, SpecField

IntArray = npt.NDArray[np.int64]


def _to_strings(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


def _check_expressions(_inst: object, _attr: object, value: tuple[str, ...]) -> None:
    if not value:
        raise MatchingConfigError("a blocking rule needs at least one field expression")
    multi = [e for e in value if parse_expression(e).multi_valued]
    if len(multi) > 1:
        raise MatchingConfigError(f"a blocking rule may use one multi-valued expression: {multi}")


@attrs.frozen
class BlockOn:
    """Pair records whose values agree on every expression (missing values never agree).

    A rule with ``max_pairs_per_record`` is *adaptive*: it is used only when, on the data at
    hand, it produces at most that many pairs per record (checked by counting before any pair is
    generated); otherwise it is skipped and the analysis says so. Loose rules (a surname code
    alone, a date of birth alone) then raise recall on small and medium tables and cost nothing
    on a big one.

    Args:
        expressions: Field expressions, e.g. ``("last_name", "prefix(first_name, 1)")``.
        name: Label used in reports; defaults to the expressions joined by ``" & "``.
        max_pairs_per_record: Use the rule only if it yields at most this many pairs per record
            (None: always use it).
        max_block_size: Keys shared by more records than this are ignored (None: none is):
            with a multi-valued expression such as ``company_tokens(company)`` this pairs
            records sharing a RARE word (AGILENT) and never on a common one (INC, GROUP,
            UNIVERSITY).
        any_order: Records agree when their values agree in any order (the values of the
            expressions as a multiset): ``block_on("first_name", "last_name", "city",
            any_order=True)`` also pairs "Javier Jiménez" with "Jiménez Javier" of the same
            city. Needs two or more single-valued expressions.
        count_by: With ``max_pairs_per_record``: count the rule's pairs between distinct values
            of this (single-valued) expression, per distinct value, rather than between
            records, per record (:meth:`budget_count`). A name that many records of one big
            organisation repeat counts once, so the rule's cost is judged by how many other
            names each name meets; the pairs among one name's records are the exact-name
            rule's anyway.
    """

    expressions: tuple[str, ...] = attrs.field(converter=_to_strings, validator=_check_expressions)
    name: str = attrs.field(default="")
    max_pairs_per_record: float | None = attrs.field(default=None)
    max_block_size: int | None = attrs.field(default=None)
    any_order: bool = attrs.field(default=False)
    count_by: str | None = attrs.field(default=None)

    @max_block_size.validator
    def _check_block_size(self, _a: object, value: int | None) -> None:
        if value is not None and value < 2:
            raise MatchingConfigError(f"max_block_size must be at least 2, got {value}")

    @any_order.validator
    def _check_any_order(self, _a: object, value: bool) -> None:
        if value and (len(self.expressions) < 2
                      or any(parse_expression(e).multi_valued for e in self.expressions)):
            raise MatchingConfigError(
                "any_order needs two or more single-valued expressions, got "
                f"{list(self.expressions)}"
            )

    @count_by.validator
    def _check_count_by(self, _a: object, value: str | None) -> None:
        if value is None:
            return
        if self.max_pairs_per_record is None:
            raise MatchingConfigError(
                "count_by says how an adaptive rule's pairs are counted; it needs "
                "max_pairs_per_record"
            )
        if parse_expression(value).multi_valued:
            raise MatchingConfigError(f"count_by must be single-valued, got {value!r}")

    def __attrs_post_init__(self) -> None:
        if not self.name:
            name = " & ".join(self.expressions)
            object.__setattr__(self, "name", f"{name} (any order)" if self.any_order else name)

    @property
    def columns(self) -> frozenset[str]:
        """Base columns the rule reads."""
        read = [*self.expressions, *([self.count_by] if self.count_by is not None else [])]
        return frozenset(parse_expression(e).column for e in read)

    @property
    def multi_valued(self) -> bool:
        """Whether one of the expressions gives several keys per record."""
        return any(parse_expression(e).multi_valued for e in self.expressions)

    def keys(self, frame: Frame) -> tuple[IntArray, IntArray]:
        """Rows and integer block keys (one entry per row and key; rows without a key omitted)."""
        if self.any_order:
            rows, parts = self.key_parts(frame)
            return self._capped(rows, combined_key(parts))
        return self._capped(*self._entries(frame))

    def _entries(
        self, frame: Frame, only: npt.NDArray[np.bool_] | None = None
    ) -> tuple[IntArray, IntArray]:
        """:meth:`keys` before ``max_block_size`` (not for ``any_order``); ``only``: the rows
        to key (all by default)."""
        multi = [e for e in self.expressions if parse_expression(e).multi_valued]
        single = [e for e in self.expressions if not parse_expression(e).multi_valued]
        if multi:
            rows, key = frame.exploded(multi[0])
        else:
            rows = np.arange(frame.n_rows, dtype=np.int64)
            key = frame.dense_codes(single[0])[0].astype(np.int64)
            single = single[1:]
        if only is not None:
            rows, key = rows[only[rows]], key[only[rows]]
        for expr in single:
            dense, width = frame.dense_codes(expr)  # small codes keep combined keys small
            codes = dense[rows].astype(np.int64)
            ok = (key >= 0) & (codes >= 0)
            rows, key, codes = rows[ok], key[ok], codes[ok]
            key = _widen(key, codes, width)
        return rows, key

    def key_parts(self, frame: Frame) -> tuple[IntArray, list[IntArray]]:
        """Rows and, per expression, the value codes of every (row, key) entry (rows missing
        a value omitted): the entries two records share when they share a block.

        With :attr:`any_order` each row's codes are sorted (the frame's one dictionary codes
        a value alike in every column), so the parts are the values as a multiset.
        """
        parsed = [parse_expression(e) for e in self.expressions]
        multi = [p for p in parsed if p.multi_valued]
        if multi:
            rows, mcodes = frame.exploded(multi[0])
        else:
            rows = np.arange(frame.n_rows, dtype=np.int64)
            mcodes = None
        parts: list[IntArray] = []
        ok = np.ones(len(rows), dtype=bool)
        for p in parsed:
            codes = mcodes if p.multi_valued and mcodes is not None else frame.codes(p)[rows]
            ok &= codes >= 0
            parts.append(codes.astype(np.int64))
        rows, parts = rows[ok], [c[ok] for c in parts]
        if self.any_order:  # a sorting network: a few whole-column min / max per position
            for end in range(len(parts) - 1, 0, -1):
                for k in range(end):
                    lo, hi = np.minimum(parts[k], parts[k + 1]), np.maximum(parts[k], parts[k + 1])
                    parts[k], parts[k + 1] = lo, hi
        return rows, parts

    def arrange(self, values: Sequence[str]) -> tuple[str, ...]:
        """One record's key: its values of the expressions (one each) in key order, as they
        are or, with :attr:`any_order`, sorted. Record keys, the real-time index and the
        Spark runner all build key text through this.

        >>> block_on("first_name", "last_name", any_order=True).arrange(["ruiz", "ana"])
        ('ana', 'ruiz')
        """
        return tuple(sorted(values)) if self.any_order else tuple(values)

    def _capped(self, rows: IntArray, key: IntArray) -> tuple[IntArray, IntArray]:
        ok = key >= 0
        rows, key = rows[ok], key[ok]
        if self.max_block_size is not None and len(key):
            _, inverse, sizes = np.unique(key, return_inverse=True, return_counts=True)
            small = self.block_used(sizes[inverse.reshape(-1)])
            rows, key = rows[small], key[small]
        return rows, key

    def block_used(self, size: Any) -> Any:
        """Whether a block of ``size`` records pairs its records under this rule: the one
        definition of ``max_block_size`` that batch blocking, the Spark runner (``size`` a
        Spark column) and the real-time index (``size`` counting the record looked up) share.

        Works on an int, a numpy array or any value with ``<=``; without ``max_block_size``
        every block is used.

        >>> block_on("company_tokens(company)", max_block_size=3).block_used(np.array([2, 3, 4]))
        array([ True,  True, False])
        """
        if self.max_block_size is None:
            return np.ones(np.shape(size), dtype=bool) if np.ndim(size) else True
        return size <= self.max_block_size

    def budget_count(self, frame: Frame, rows: IntArray, keys: IntArray) -> tuple[int, int]:
        """What the per-record budget weighs: ``(pairs, units)`` for the rule's keys
        (:meth:`keys`); the rule is used while ``pairs <= max_pairs_per_record * units``.

        Without :attr:`count_by`: record pairs sharing a key (counted per shared key) and the
        frame's records. With it: pairs of distinct ``count_by`` values sharing a key and the
        frame's distinct ``count_by`` values (a record without a value counts as one of its
        own). Batch blocking, the real-time index (which takes batch's decision) and EM
        sessions (which skip what batch skips) all decide through this.

        >>> frame = Frame({"name": ["acme", "acme", "acme", "acne"]})
        >>> block_on("prefix(name, 2)", max_pairs_per_record=1.0).budget_count(
        ...     frame, *block_on("prefix(name, 2)").keys(frame))
        (6, 4)
        >>> rule = block_on("prefix(name, 2)", max_pairs_per_record=1.0, count_by="name")
        >>> rule.budget_count(frame, *rule.keys(frame))
        (1, 2)
        """
        if self.count_by is None:
            return _count_pairs(keys), frame.n_rows
        codes = frame.codes(self.count_by).astype(np.int64)
        # a record without a value is a value of its own: code -1 - row, below every code
        own = np.where(codes >= 0, codes, -1 - np.arange(frame.n_rows, dtype=np.int64))
        units = len(unique_sorted(own))
        if len(keys) == 0:
            return 0, units
        entries = np.unique(np.stack((keys, own[rows])), axis=1)
        return _count_pairs(entries[0]), units

    def record_keys(self, frame: Frame, row: int) -> list[tuple[str, ...]]:
        """The block keys of one record as text tuples (several for a multi-valued rule).

        Two records share a block under this rule exactly when they share a key tuple; a
        real-time index keys its inverted lists by these tuples.
        """
        parts: list[list[str]] = []
        for expr in self.expressions:
            parsed = parse_expression(expr)
            if parsed.multi_valued:
                rows, keys = frame.exploded(parsed)
                values = [frame.string(int(k)) for k in keys[rows == row]]
            else:
                values = [frame.string(int(frame.codes(parsed)[row]))]
            present = [v for v in values if v is not None]
            if not present:
                return []
            parts.append(present)
        out: list[tuple[str, ...]] = [()]
        for options in parts:
            out = [(*prefix, v) for prefix in out for v in options]
        return [self.arrange(k) for k in out]

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form."""
        return BLOCKING.to_dict(self)


@attrs.frozen
class SortedNeighbourhood:
    """Sort records by an expression and pair each with the next ``window - 1`` records.

    Args:
        expression: Sort key expression, e.g. ``"sorted_tokens(full_name)"``.
        window: Window size (2 pairs each record with its next neighbour only).
        name: Label used in reports.
    """

    expression: str = attrs.field(validator=lambda _i, _a, v: parse_expression(v) and None)
    window: int = attrs.field(default=5)
    name: str = attrs.field(default="")

    @window.validator
    def _check_window(self, _attr: object, value: int) -> None:
        if value < 2:
            raise MatchingConfigError(f"sorted neighbourhood window must be >= 2, got {value}")

    def __attrs_post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", f"sorted({self.expression}, {self.window})")

    @property
    def columns(self) -> frozenset[str]:
        """Base columns the rule reads."""
        return frozenset({parse_expression(self.expression).column})

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form."""
        return BLOCKING.to_dict(self)


BlockingRule = BlockOn | SortedNeighbourhood


def block_on(
    *expressions: str,
    name: str = "",
    max_pairs_per_record: float | None = None,
    max_block_size: int | None = None,
    any_order: bool = False,
    count_by: str | None = None,
) -> BlockOn:
    """Shorthand for :class:`BlockOn`: ``block_on("last_name", "prefix(first_name, 1)")``."""
    return BlockOn(expressions, name=name, max_pairs_per_record=max_pairs_per_record,
                   max_block_size=max_block_size, any_order=any_order, count_by=count_by)


def _widen(key: IntArray, codes: IntArray, width: int) -> IntArray:
    """Combine block keys with the codes (below ``width``) of one more expression."""
    width = max(width, 1)
    if int(key.max(initial=0)) >= (1 << 62) // width:
        _, key = np.unique(key, return_inverse=True)
        key = key.astype(np.int64).reshape(-1)
    return key * width + codes


def combined_key(parts: list[IntArray]) -> IntArray:
    """One integer key per entry from the codes (each ``>= 0``) of several parts: entries
    get the same key exactly when their parts are equal.

    The codes are first numbered ``0..k-1`` over the values the parts hold (a frame's codes
    run to millions, the values of a few columns to tens of thousands), so three parts
    combine without running out of bits.

    >>> combined_key([np.array([7, 3, 7]), np.array([900, 7, 900])]).tolist()
    [5, 1, 5]
    """
    top = max(int(p.max(initial=0)) for p in parts) + 1
    held = np.zeros(top, dtype=bool)
    for codes in parts:
        held[codes] = True
    rank = np.cumsum(held, dtype=np.int64) - 1
    width = int(rank[-1]) + 1
    key = rank[parts[0]]
    for codes in parts[1:]:
        key = _widen(key, rank[codes], width)
    return key


def _is_none(value: object) -> bool:
    return value is None


def _is_false(value: object) -> bool:
    return value is False


#: The dict form of every blocking rule, dispatched by ``"kind"``.
BLOCKING = SpecCodec("blocking", key="kind", error=MatchingConfigError.from_problems,
                     noun="blocking rule")
BLOCKING.register(BlockOn, "block_on", fields={
    "max_pairs_per_record": SpecField(omit=_is_none),
    "max_block_size": SpecField(omit=_is_none),
    "any_order": SpecField(omit=_is_false),
    "count_by": SpecField(omit=_is_none),
})  # fmt: skip
BLOCKING.register(SortedNeighbourhood, "sorted_neighbourhood")


def rule_from_dict(data: dict[str, object]) -> BlockingRule:
    """Rebuild a rule from :meth:`BlockOn.to_dict` / :meth:`SortedNeighbourhood.to_dict`."""
    rule: BlockingRule = BLOCKING.from_dict(data, path="blocking")
    return rule


# -- pair generation -------------------------------------------------------------------------


def _group(rows: IntArray, keys: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Sort rows by key; return (sorted rows, group starts, group sizes).

    The order of rows within a group does not matter (pairs are normalised and de-duplicated
    afterwards). When key and row fit in one int64 they are sorted together with ``np.sort``
    (several times faster than an ``argsort``).
    """
    if len(keys) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    width = int(rows.max()) + 1
    if int(keys.min()) >= 0 and int(keys.max()) < (1 << 62) // width:
        packed = np.sort(keys * width + rows)
        k = packed // width
        srows = packed - k * width
    else:
        order = np.argsort(keys)
        k = keys[order]
        srows = rows[order]
    starts = np.flatnonzero(np.concatenate(([True], k[1:] != k[:-1])))
    sizes = np.diff(np.concatenate((starts, [len(k)])))
    return srows, starts.astype(np.int64), sizes.astype(np.int64)


def _pairs_in_groups(
    srows: IntArray, starts: IntArray, sizes: IntArray
) -> tuple[IntArray, IntArray]:
    """All pairs within each group of consecutive sorted rows (vectorised)."""
    keep = sizes > 1
    starts, sizes = starts[keep], sizes[keep]
    if len(starts) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    pos = np.repeat(starts, sizes) + (
        np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    )
    group_end = np.repeat(starts + sizes, sizes)
    partners = group_end - pos - 1
    total = int(partners.sum())
    left_pos = np.repeat(pos, partners)
    offsets = np.arange(total) - np.repeat(np.cumsum(partners) - partners, partners)
    right_pos = left_pos + 1 + offsets
    return srows[left_pos], srows[right_pos]


class _ClassBlocks(NamedTuple):
    """The blocks of a multi-valued rule over classes of records (see :func:`_class_blocks`)."""

    raw: int  # pairs over the used blocks, a pair counted in every block it shares
    classes: IntArray  # class of each block entry, entries grouped by block
    starts: IntArray  # start of each used block in ``classes``
    sizes: IntArray  # classes in each used block
    alive: npt.NDArray[np.bool_]  # classes in at least one used block
    members: IntArray  # rows grouped by class
    class_start: IntArray  # start of each class in ``members``
    class_size: IntArray  # rows of each class


#: Per frame, the keys of each multi-valued expression per distinct value (see value_keys).
_VALUE_KEYS: weakref.WeakKeyDictionary[Frame, dict[str, ValueKeys]] = (
    weakref.WeakKeyDictionary()
)


class ValueKeys(NamedTuple):
    """The keys of a multi-valued expression per distinct value of its inner expression."""

    value_of: IntArray  # per row, the id of its inner value (-1 when missing)
    start: IntArray  # per value id, the start of its keys in ``keys``
    key_count: IntArray  # per value id, the number of its keys
    keys: IntArray  # dense key ids (one id per distinct key text)
    n_keys: int


def value_keys(frame: Frame, multi: Expression) -> ValueKeys:
    """The keys (as :meth:`Frame.exploded` makes them, with the same function) of every
    distinct value: records with one value share all its keys, so keys are made and compared
    once per value (a few tens of thousands of names), not once per record."""
    cached = _VALUE_KEYS.setdefault(frame, {})
    got = cached.get(multi.text)
    if got is not None:
        return got
    if multi.inner is None or multi.function is None:  # pragma: no cover - multi-valued
        raise MatchingConfigError(f"{multi.text!r} is not a multi-valued expression")
    inner = frame.codes(multi.inner)
    distinct = unique_sorted(inner[inner >= 0])
    table = np.full(max(frame.n_distinct, 1) + 1, -1, dtype=np.int64)
    table[distinct] = np.arange(len(distinct), dtype=np.int64)
    value_of = table[inner]  # code -1 reads the last slot (-1)
    count, keys = _flat_keys(MULTI_VALUED_FUNCTIONS[multi.function], frame.texts(distinct))
    ids: dict[str, int] = {}
    flat = [ids.setdefault(k, len(ids)) for k in keys]
    got = ValueKeys(value_of, np.cumsum(count) - count, count,
                     np.asarray(flat, dtype=np.int64), len(ids))
    cached[multi.text] = got
    return got


def _flat_keys(fn: Callable[[str], list[str]], texts: list[str]) -> tuple[IntArray, list[str]]:
    """The number of keys ``fn`` gives each text, and all the keys in one list: no list per
    text is kept (tens of thousands of live lists would each wake the garbage collector,
    which then walks every young container, a frame's million-string lists among them).

    >>> _flat_keys(str.split, ["a b", "c"])
    (array([2, 1]), ['a', 'b', 'c'])
    """
    count = np.empty(len(texts), dtype=np.int64)
    flat: list[str] = []
    for i, text in enumerate(texts):
        keys = fn(text)
        count[i] = len(keys)
        flat.extend(keys)
    return count, flat


def _class_blocks(rule: BlockOn, frame: Frame) -> _ClassBlocks:
    """Blocks of a rule with a multi-valued expression, over classes of records.

    Records with the same single-valued values and the same value under the multi-valued
    expression (one class) have the same keys: each class is keyed once and its records pair
    with each other (when one of its blocks is used) and with the records of every class it
    shares a used block with. The pairs are those of :meth:`BlockOn.keys` grouped by key,
    without making a pair once per key it shares (a typo-tolerant ``deletions(...)`` key is
    shared by all the keys of two equal names); ``max_block_size`` counts records.
    """
    parsed = [parse_expression(e) for e in rule.expressions]
    multi = next(p for p in parsed if p.multi_valued)
    vk = value_keys(frame, multi)
    ok = vk.value_of >= 0
    combo = np.zeros(frame.n_rows, dtype=np.int64)  # the single-valued values together
    for p in parsed:
        if p is not multi:
            dense, width = frame.dense_codes(p)
            codes = dense.astype(np.int64)
            ok &= codes >= 0
            combo = _widen(np.where(ok, combo, 0), np.where(ok, codes, 0), width)
    # classes: records with the same combination and value, grouped in one sort
    members = np.flatnonzero(ok)
    n_values = max(len(vk.key_count), 1)
    members, class_start, class_size = _group(
        members, _widen(combo[members], vk.value_of[members], n_values))
    first = members[class_start]  # a record of each class
    combo_of_class = combo[first]  # in order: numbered 0, 1, ... without another sort
    combo_of_class = np.concatenate(
        ([0], np.cumsum(combo_of_class[1:] != combo_of_class[:-1]))).astype(np.int64)
    # A key only one value has (most deletions of a name) is held, within one combination,
    # by one class alone: its block is that class. So is every key of a class alone in its
    # combination (most classes). Only the keys two or more values share are keyed per
    # class, and only in combinations of two or more classes; the others count as the
    # class's own blocks.
    owner = np.repeat(np.arange(len(vk.key_count), dtype=np.int64), vk.key_count)
    shared = np.bincount(vk.keys, minlength=vk.n_keys)[vk.keys] > 1
    own_keys = np.bincount(owner[~shared], minlength=len(vk.key_count))
    s_count = vk.key_count - own_keys
    s_start = np.cumsum(s_count) - s_count
    s_keys = vk.keys[shared]
    value = vk.value_of[first]
    lone = np.bincount(combo_of_class)[combo_of_class] == 1
    counts = np.where(lone, 0, s_count[value])
    own_count = np.where(lone, vk.key_count[value], own_keys[value])
    entry_class = np.repeat(np.arange(len(class_size), dtype=np.int64), counts)
    offsets = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(
        np.cumsum(counts) - counts, counts)
    entry_key = s_keys[np.repeat(s_start[value], counts) + offsets]
    entry_key = _widen(combo_of_class[entry_class], entry_key, vk.n_keys)
    classes, starts, sizes = _group(entry_class, entry_key)
    if len(starts):
        weight = np.add.reduceat(class_size[classes], starts)
    else:
        weight = np.zeros(0, dtype=np.int64)
    used = rule.block_used(weight)
    alive = np.zeros(len(class_size), dtype=bool)
    alive[classes[np.repeat(used, sizes)]] = True
    weight = weight[used]
    own = (own_count > 0) & rule.block_used(class_size)  # a class's own blocks
    alive |= own
    raw_own = int((own_count * (class_size * (class_size - 1) // 2))[own].sum())
    return _ClassBlocks(
        raw=int((weight * (weight - 1) // 2).sum()) + raw_own,
        classes=classes,
        starts=starts[used],
        sizes=sizes[used],
        alive=alive,
        members=members,
        class_start=class_start,
        class_size=class_size,
    )


def _class_pairs(cb: _ClassBlocks) -> tuple[IntArray, IntArray]:
    """The record pairs of :func:`_class_blocks`, each once."""
    a, b = _pairs_in_groups(cb.classes, cb.starts, cb.sizes)
    n_cls = max(len(cb.class_size), 1)
    codes = unique_sorted(np.minimum(a, b) * n_cls + np.maximum(a, b))
    ca, cb_ = codes // n_cls, codes % n_cls
    counts = cb.class_size[ca] * cb.class_size[cb_]
    pid = np.repeat(np.arange(len(codes), dtype=np.int64), counts)
    t = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    width = cb.class_size[cb_][pid]
    left = cb.members[cb.class_start[ca][pid] + t // width]
    right = cb.members[cb.class_start[cb_][pid] + t % width]
    wl, wr = _pairs_in_groups(cb.members, cb.class_start[cb.alive], cb.class_size[cb.alive])
    return np.concatenate((left, wl)), np.concatenate((right, wr))


def _count_pairs(keys: IntArray) -> int:
    """Pairs of entries with equal keys: a count per key, by ``np.bincount`` when the keys
    run over a range not much wider than their number, else by sorting.

    >>> _count_pairs(np.array([3, 1, 3, 3, 1, 7]))
    4
    """
    if len(keys) == 0:
        return 0
    if int(keys.min()) >= 0 and int(keys.max()) < 4 * len(keys):
        counts = np.bincount(keys)
    else:
        s = np.sort(keys)
        starts = np.flatnonzero(np.concatenate(([True], s[1:] != s[:-1])))
        counts = np.diff(np.concatenate((starts, [len(s)])))
    return int((counts * (counts - 1) // 2).sum())


def _rule_pairs(rule: BlockingRule, frame: Frame) -> tuple[IntArray, IntArray]:
    if isinstance(rule, BlockOn):
        rows, keys = rule.keys(frame)
        srows, starts, sizes = _group(rows, keys)
        return _pairs_in_groups(srows, starts, sizes)
    codes = frame.codes(rule.expression)
    present = np.flatnonzero(codes >= 0)
    distinct = unique_sorted(codes[present])
    rank_of = np.zeros(max(frame.n_distinct, 1), dtype=np.int64)
    texts = np.array(frame.texts(distinct), dtype=str)
    rank_of[distinct] = np.argsort(np.argsort(texts, kind="stable"))
    order = present[np.argsort(rank_of[codes[present]], kind="stable")]
    lefts, rights = [], []
    for d in range(1, rule.window):
        lefts.append(order[:-d])
        rights.append(order[d:])
    return np.concatenate(lefts), np.concatenate(rights)


def _rule_count(rule: BlockingRule, frame: Frame) -> int:
    if isinstance(rule, BlockOn):
        _, keys = rule.keys(frame)
        return _count_pairs(keys)
    present = int((frame.codes(rule.expression) >= 0).sum())
    return sum(max(present - d, 0) for d in range(1, rule.window))


@attrs.frozen
class CandidatePairs:
    """Candidate pairs as parallel index arrays, ``left < right``, sorted by pair code.

    Args:
        left: Row index of the first record of each pair.
        right: Row index of the second record of each pair.
        n_rows: Number of rows in the frame the indexes refer to.
    """

    left: IntArray
    right: IntArray
    n_rows: int

    def __len__(self) -> int:
        return len(self.left)

    @property
    def codes(self) -> IntArray:
        """Pair codes ``left * n_rows + right``."""
        return self.left * self.n_rows + self.right


@attrs.frozen
class BlockingAnalysis:
    """How many pairs each rule, and their union, produce.

    Args:
        rules: Rule names in order.
        pairs_per_rule: Pairs produced by each rule on its own.
        new_pairs_per_rule: Pairs each rule adds to those of the rules before it.
        union: Distinct pairs of all rules together.
        total_pairs: All possible pairs (``n * (n - 1) / 2`` for dedupe).
        skipped: Names of adaptive rules left out because they would produce more pairs per
            record than they allow (their counts are the pairs they would have produced; their
            new pairs are 0).
    """

    rules: tuple[str, ...]
    pairs_per_rule: tuple[int, ...]
    new_pairs_per_rule: tuple[int, ...]
    union: int
    total_pairs: int
    skipped: tuple[str, ...] = ()

    @property
    def used_rules(self) -> tuple[str, ...]:
        """Names of the rules that produced pairs (all but the skipped adaptive ones)."""
        return tuple(r for r in self.rules if r not in self.skipped)

    @property
    def reduction_ratio(self) -> float:
        """Share of all possible pairs that blocking avoids comparing."""
        return 1.0 - self.union / self.total_pairs if self.total_pairs else 1.0

    def __repr__(self) -> str:
        from crmcore.display import blocking_text

        return blocking_text(self)

    def _repr_html_(self) -> str:
        from crmcore.display import blocking_html

        return blocking_html(self)

    def to_text(self) -> str:
        """A readable table of the analysis."""
        width = max([len(r) for r in self.rules] + [4])
        lines = [f"{'rule':<{width}}  {'pairs':>12}  {'new pairs':>12}"]
        for name, count, new in zip(
            self.rules, self.pairs_per_rule, self.new_pairs_per_rule, strict=True
        ):
            note = "  (skipped: too loose for this data)" if name in self.skipped else ""
            lines.append(f"{name:<{width}}  {count:>12,}  {new:>12,}{note}")
        lines.append(f"{'union':<{width}}  {self.union:>12,}")
        lines.append(f"reduction ratio {self.reduction_ratio:.6f} of {self.total_pairs:,} pairs")
        return "\n".join(lines)


def _link_filter(
    left: IntArray, right: IntArray, source: IntArray | None
) -> tuple[IntArray, IntArray]:
    if source is None:
        return left, right
    keep = source[left] != source[right]
    return left[keep], right[keep]


def _advice(rule: str, count: int, budget: int) -> str:
    return (
        f"blocking rule {rule!r} would produce {count:,} pairs, over the budget of {budget:,}; "
        "make it stricter (add a field, use a longer prefix, a phonetic code of a second field), "
        "or raise max_pairs if the machine has the memory (about 100 bytes per pair)"
    )


def _total_pairs(n: int, source: IntArray | None) -> int:
    if source is None:
        return n * (n - 1) // 2
    n_left = int((source == 0).sum())
    return n_left * (n - n_left)


def block_and_analyse(
    frame: Frame,
    rules: Sequence[BlockingRule],
    *,
    source: IntArray | None = None,
    max_pairs: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[CandidatePairs, BlockingAnalysis]:
    """Generate the candidate pairs and the blocking analysis in one pass.

    See :func:`block` and :func:`analyse_blocking`; ``progress`` (if given) is called with a
    message before each rule.
    """
    if not rules:
        raise MatchingConfigError("at least one blocking rule is needed")
    n = frame.n_rows
    per_rule: list[int] = []
    skipped: list[str] = []
    chunks: list[IntArray] = []  # distinct pair codes of each rule that ran
    ran: list[int] = []  # rule index of each chunk
    running = 0  # sum of the rules' distinct pairs: an upper bound of the union
    for k, rule in enumerate(rules):
        if progress is not None:
            progress(f"  blocking rule {k + 1}/{len(rules)}: {rule.name}")
        weighed, units = 0, n
        classed = None
        if isinstance(rule, BlockOn) and rule.multi_valued and rule.count_by is None:
            classed = _class_blocks(rule, frame)
            raw = weighed = classed.raw
        elif isinstance(rule, BlockOn):
            rows, keys = rule.keys(frame)
            grouped = None
            if rule.max_pairs_per_record is None:
                grouped = _group(rows, keys)
                raw = int((grouped[2] * (grouped[2] - 1) // 2).sum())
            else:  # counted without sorting: an adaptive rule is often skipped
                raw = _count_pairs(keys)
                weighed, units = (raw, n) if rule.count_by is None else rule.budget_count(
                    frame, rows, keys)
        else:
            raw = _rule_count(rule, frame)
        budget = rule.max_pairs_per_record if isinstance(rule, BlockOn) else None
        if budget is not None and weighed > budget * max(units, 1):
            per_rule.append(raw)
            skipped.append(rule.name)
            continue
        if max_pairs is not None and raw > max_pairs:
            raise PairBudgetExceeded(_advice(rule.name, raw, max_pairs))
        if classed is not None:
            pair_rows = _class_pairs(classed)
        elif isinstance(rule, BlockOn):
            pair_rows = _pairs_in_groups(*(grouped if grouped is not None else _group(rows, keys)))
        else:
            pair_rows = _rule_pairs(rule, frame)
        left, right = _link_filter(*pair_rows, source)
        lo, hi = np.minimum(left, right), np.maximum(left, right)
        keep = lo != hi
        codes = unique_sorted(lo[keep] * n + hi[keep])
        per_rule.append(len(codes))
        chunks.append(codes)
        ran.append(k)
        running += len(codes)
        if max_pairs is not None and running > max_pairs:
            union_so_far = len(unique_sorted(np.concatenate(chunks)))
            if union_so_far > max_pairs:
                raise PairBudgetExceeded(
                    _advice("union of the rules so far", union_so_far, max_pairs)
                )
    seen, new_counts = _union_with_credit(chunks, ran, len(rules))
    analysis = BlockingAnalysis(
        rules=tuple(r.name for r in rules),
        pairs_per_rule=tuple(per_rule),
        new_pairs_per_rule=tuple(new_counts),
        union=len(seen),
        total_pairs=_total_pairs(n, source),
        skipped=tuple(skipped),
    )
    pairs = CandidatePairs(left=seen // max(n, 1), right=seen % max(n, 1), n_rows=n)
    return pairs, analysis


def _union_with_credit(
    chunks: list[IntArray], ran: list[int], n_rules: int
) -> tuple[IntArray, list[int]]:
    """Sorted union of the rules' pair codes, and per rule the pairs no earlier rule made.

    One stable sort of all codes (chunks are in rule order): the first occurrence of a code
    belongs to the earliest rule that produced it.
    """
    codes = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)
    if len(codes) == 0:
        return codes, [0] * n_rules
    owner = np.repeat(np.asarray(ran, dtype=np.int64), [len(c) for c in chunks])
    bits = max(n_rules - 1, 1).bit_length()
    if int(codes.max()) < 1 << (62 - bits):
        # code and rule in one int64: one sort puts each code's earliest rule first; each
        # chunk is sorted, so the stable sort (a merge of sorted runs) is the quicker one
        packed = np.sort((codes << bits) | owner, kind="stable")
        ordered = packed >> bits
        first = np.concatenate(([True], ordered[1:] != ordered[:-1]))
        credit = np.bincount((packed & ((1 << bits) - 1))[first], minlength=n_rules)
        union: IntArray = ordered[first]
        return union, [int(x) for x in credit]
    order = np.argsort(codes, kind="stable")
    ordered = codes[order]
    first = np.concatenate(([True], ordered[1:] != ordered[:-1]))
    credit = np.bincount(owner[order][first], minlength=n_rules)
    union = ordered[first]
    return union, [int(x) for x in credit]


def analyse_blocking(
    frame: Frame,
    rules: Sequence[BlockingRule],
    *,
    source: IntArray | None = None,
    max_pairs: int | None = None,
) -> BlockingAnalysis:
    """Count the pairs each rule and their union produce, before any comparison runs.

    Args:
        frame: Prepared records.
        rules: Blocking rules (OR-ed).
        source: For linkage, the source (0 or 1) of every row: only cross-source pairs count.
        max_pairs: Pair budget; a rule (or the union) over it is reported by raising.

    Returns:
        The analysis.

    Raises:
        PairBudgetExceeded: If one rule alone, or the union, exceeds ``max_pairs``.
    """
    return block_and_analyse(frame, rules, source=source, max_pairs=max_pairs)[1]


def block(
    frame: Frame,
    rules: Sequence[BlockingRule],
    *,
    source: IntArray | None = None,
    max_pairs: int | None = None,
) -> CandidatePairs:
    """Generate the de-duplicated candidate pairs of OR-ed blocking rules.

    Args:
        frame: Prepared records.
        rules: Blocking rules.
        source: For linkage, the source (0 or 1) of every row; only cross-source pairs are kept.
        max_pairs: Pair budget, checked per rule before its pairs are generated and for the union.

    Returns:
        Candidate pairs with ``left < right`` sorted by pair code.

    Raises:
        PairBudgetExceeded: If a rule or the union exceeds ``max_pairs``.
        MatchingConfigError: If there are no rules.
    """
    return block_and_analyse(frame, rules, source=source, max_pairs=max_pairs)[0]
