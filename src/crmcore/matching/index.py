"""Real-time matching: "is this new record someone we already know?" in milliseconds.

A :class:`MatchIndex` holds a trained model, the prepared (normalised) values of every indexed
record, an inverted index from blocking key to record positions, the match links between records
and the entity id of every record.

* :meth:`MatchIndex.match` prepares one record, looks its blocking keys up, and scores it against
  the k candidates (the candidate as the left record as in batch, where the earlier row is left)
  with the batch levels, weights, term-frequency adjustments and rules, evaluated pair by pair by
  a compiled engine (``_PairEngine``: the columnar batch code costs milliseconds of numpy calls
  for a handful of pairs), so a pair gets exactly the batch score; level kinds the engine does
  not know, and records with more than 2,000 candidates, go through
  :func:`crmcore.matching.predict.score_pairs` itself. It returns the candidates at or above a
  threshold with probability and explanation.
* :meth:`MatchIndex.add` indexes a record and returns its entity id. Links at or above the
  threshold join clusters; the clusters it touches are re-labelled with the stable-id rule of
  :mod:`crmcore.matching.stable_ids` (on a merge the id held by most records wins, ties to the
  oldest id; the others are retired).
* :meth:`MatchIndex.remove` and :meth:`MatchIndex.update` keep the index and clusters right: the
  cluster of a removed (or changed) record is recomputed from its stored links, and if the record
  held it together it splits (the largest part keeps the id, other parts get new ids).
* :meth:`MatchIndex.purge` forgets records for erasure: it removes them, takes their values out
  of the model's term-frequency counts (the index keeps an adjusted copy of the model), drops
  review items and decisions naming them, and rebuilds the value dictionary from the values
  live records use.
* Review: pairs whose probability falls in the review band of the index's
  :class:`~crmcore.matching.review.ReviewQueue` are queued with their explanation;
  :meth:`MatchIndex.decide` records a decision and re-clusters at once. "different" pairs are
  never linked (a chain joining them is cut at its weakest link), "same" pairs are always linked.
* :meth:`MatchIndex.save` / :meth:`MatchIndex.load` persist everything in one SQLite file (no
  pickle; see :mod:`crmcore.matching._index_store`).

Consistency with batch: with only exact-key (``BlockOn``) blocking rules and the ``components``
cluster method, adding records one by one (in any order) ends in exactly the clusters of one
batch run over the same records: each pair sharing a blocking key is scored once, when the later
of its two records is added, with the batch score, and connected components do not depend
on the order edges arrive. Ids may differ in name, not in grouping. The index uses the
exact-key rules (:attr:`MatchIndex.ignored_rules` lists the others): sorted-neighbourhood rules
have no key to look one record up by. Adaptive rules (``max_pairs_per_record``) are used or
skipped by batch depending on the size of the whole table; :meth:`MatchIndex.build` makes the
same decision on its records and keeps it for later adds (it is saved with the index), and an
index started empty uses the adaptive rules named in ``adaptive`` (none by default). The
equivalence is with a batch run that uses the same rules. The ``guarded`` cluster method's
weak-chain splitting is a batch-only step (the index keeps plain components, plus review
decisions).

Memory: block keys are kept as 64-bit BLAKE2b hashes in sorted CSR arrays, and the dictionary of
normalised values as one UTF-8 buffer with offsets, decoded only for the candidates a look-up
scores; records added later go to small overlays. The comparisons' derived values (canonical
names, company keys ...) are kept as codes per record, as batch computed them. Record and
entity ids live in numpy object arrays, which Python's cycle collector does not walk. A hash
collision between two different keys (about 1 in 10^12 per look-up at a million records) can
only add a candidate, scored as usual.

Thread-safety: a readers-writer lock guards the index. Any number of threads may call
:meth:`~MatchIndex.match`, :meth:`~MatchIndex.entity_of` and friends at once;
:meth:`~MatchIndex.add`, :meth:`~MatchIndex.remove`, :meth:`~MatchIndex.update`,
:meth:`~MatchIndex.purge` and :meth:`~MatchIndex.decide` take the lock exclusively (waiting
writers go before new readers).
Every call therefore sees the index either entirely before or entirely after any write: never a
half-added record, never an entity id that is being re-labelled.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import struct
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.errors import FieldProblem, IndexStateError, MatchingConfigError
from crmcore.io import Table, to_table
from crmcore.matching._index_store import IndexSnapshot, load_snapshot, save_snapshot
from crmcore.matching.api import prepare_frame
from crmcore.matching.blocking import BlockOn, block_and_analyse
from crmcore.matching.comparisons import (
    DISTANCE_METRICS,
    AllOf,
    CrossExactLevel,
    DateDiffLevel,
    ExactLevel,
    InitialLevel,
    NumericLevel,
    SimilarityLevel,
    SwappedLevel,
    metric_scorer,
    parse_date,
    parse_number,
)
from crmcore.matching.expressions import (
    EXPRESSION_FUNCTIONS,
    MULTI_VALUED_FUNCTIONS,
    Expression,
    Frame,
    parse_expression,
)
from crmcore.matching.model import MatchModel, TermFrequencies
from crmcore.matching.predict import RULE_WEIGHT, ScoredPairs, score_pairs
from crmcore.matching.prepare import PREPARE_KINDS, prepare_columns
from crmcore.matching.review import (
    ReviewDecision,
    ReviewQueue,
    cluster_with_decisions,
)
from crmcore.matching.settings import MatchSettings
from crmcore.matching.stable_ids import (
    IdChangeReport,
    assign_stable_ids,
    format_entity_id,
)

__all__ = ["MatchCandidate", "MatchIndex"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
_SEP = "\x1f"


@attrs.frozen
class MatchCandidate:
    """An indexed record that may be the same as the record looked up.

    Attributes:
        record_id: Id of the indexed record.
        entity_id: Its entity id.
        probability: Match probability of the pair.
        match_weight: Match weight in bits.
        explanation: Comparison name -> ``{"level": label, "weight": bits}``, plus ``"prior"``
            (bits) and ``"rule"`` (the deterministic rule that decided the pair, or None).
    """

    record_id: str
    entity_id: str
    probability: float
    match_weight: float
    explanation: Mapping[str, Any] = attrs.field(factory=dict)


class _RWLock:
    """Readers-writer lock; waiting writers block new readers (no writer starvation)."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._waiting = 0

    @contextlib.contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if self._readers == 0:
                    self._cond.notify_all()

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._waiting += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


class _Growable:
    """An int64 (or object) array with amortised O(1) append."""

    def __init__(self, values: npt.NDArray[Any]) -> None:
        self._data = values
        self.n = len(values)

    def view(self) -> npt.NDArray[Any]:
        return self._data[: self.n]

    def append(self, value: Any) -> None:
        if self.n == len(self._data):
            grown = np.empty(max(16, 2 * len(self._data)), dtype=self._data.dtype)
            grown[: self.n] = self._data[: self.n]
            self._data = grown
        self._data[self.n] = value
        self.n += 1


class _Texts(_Growable):
    """A growable list of texts held in a numpy object array.

    Python's cycle collector walks every element of a list on each full collection (a million
    record ids and a million entity ids cost tens of milliseconds, paid by whichever ``match``
    call triggers it); it does not walk numpy arrays.
    """

    def __init__(self, values: Iterable[str] = ()) -> None:
        items = list(values)
        data = np.empty(len(items), dtype=object)
        data[:] = items
        super().__init__(data)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> str:
        if not 0 <= i < self.n:
            raise IndexError(i)
        text: str = self._data[i]
        return text

    def __setitem__(self, i: int, value: str) -> None:
        if not 0 <= i < self.n:
            raise IndexError(i)
        self._data[i] = value

    def __iter__(self) -> Iterator[str]:
        return iter(self._data[: self.n].tolist())


def _hash_key(key: str) -> int:
    """Stable signed 64-bit hash of a block key (BLAKE2b; the same in every process)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little",
                          signed=True)


def _group_csr(hashes: IntArray, positions: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """CSR form of (hash, position) entries: sorted distinct hashes, offsets, sorted positions."""
    if len(hashes) == 0:
        return (np.zeros(0, dtype=np.int64), np.zeros(1, dtype=np.int64),
                np.zeros(0, dtype=np.int64))
    order = np.lexsort((positions, hashes))
    h, pos = hashes[order], positions[order]
    keep = np.ones(len(h), dtype=bool)
    keep[1:] = (h[1:] != h[:-1]) | (pos[1:] != pos[:-1])
    h, pos = h[keep], pos[keep]
    starts = np.flatnonzero(np.concatenate(([True], h[1:] != h[:-1])))
    offsets = np.concatenate((starts, [len(h)])).astype(np.int64)
    return h[starts].astype(np.int64), offsets, pos.astype(np.int64)


class _Blocks:
    """Inverted index of one rule: key hash -> positions.

    The part built or loaded in bulk is CSR arrays (sorted hashes, offsets, positions: no Python
    object per key, so a million records cost a few arrays); later adds and removals are small
    dict overlays, folded back into arrays by :meth:`csr` when the index is saved.
    """

    def __init__(self, hashes: IntArray, offsets: IntArray, positions: IntArray) -> None:
        self.hashes = hashes
        self.offsets = offsets
        self.positions = positions
        self.extra: dict[int, list[int]] = {}
        self.removed: dict[int, set[int]] = {}

    def _slot(self, h: int) -> int:
        i = int(np.searchsorted(self.hashes, h))
        return i if i < len(self.hashes) and int(self.hashes[i]) == h else -1

    def lookup(self, h: int) -> IntArray | None:
        i = self._slot(h)
        more = self.extra.get(h)
        if i < 0 and not more:
            return None
        pos = (self.positions[self.offsets[i] : self.offsets[i + 1]] if i >= 0
               else np.zeros(0, dtype=np.int64))
        if more:
            pos = np.concatenate((pos, np.asarray(more, dtype=np.int64)))
        gone = self.removed.get(h)
        if gone:
            pos = pos[~np.isin(pos, np.fromiter(gone, dtype=np.int64, count=len(gone)))]
        return pos

    def add(self, h: int, pos: int) -> None:
        gone = self.removed.get(h)
        if gone is not None and pos in gone:
            gone.discard(pos)
        else:
            self.extra.setdefault(h, []).append(pos)

    def discard(self, h: int, pos: int) -> None:
        more = self.extra.get(h)
        if more is not None and pos in more:
            more.remove(pos)
        elif self._slot(h) >= 0:
            self.removed.setdefault(h, set()).add(pos)

    def csr(self, keep: npt.NDArray[np.bool_], new_pos: IntArray) -> tuple[IntArray, IntArray,
                                                                              IntArray]:
        """Compacted CSR form: positions of live records renumbered by ``new_pos``."""
        sizes = np.diff(self.offsets)
        h = np.repeat(self.hashes, sizes)
        pos = self.positions
        if self.removed:
            slot = np.repeat(np.arange(len(self.hashes), dtype=np.int64), sizes)
            n = max(len(keep), 1)
            gone = np.array([self._slot(k) * n + p for k, ps in self.removed.items() for p in ps],
                            dtype=np.int64)
            live = ~np.isin(slot * n + pos, gone)
            h, pos = h[live], pos[live]
        if self.extra:
            eh = [k for k, ps in self.extra.items() for _ in ps]
            ep = [p for ps in self.extra.values() for p in ps]
            h = np.concatenate((h, np.array(eh, dtype=np.int64)))
            pos = np.concatenate((pos, np.array(ep, dtype=np.int64)))
        ok = keep[pos] if len(pos) else np.zeros(0, dtype=bool)
        return _group_csr(h[ok], new_pos[pos[ok]])


class _Links:
    """Match links between record positions (undirected, with a weight).

    Links built or loaded in bulk stay in CSR arrays; a record's links become a small dict the
    first time a write touches them (from then on the dict is authoritative for that record).
    Loading a million records thus costs a few array operations, not a dict per record.
    """

    def __init__(self, n: int, a: IntArray, b: IntArray, w: FloatArray) -> None:
        src = np.concatenate((a, b)).astype(np.int64)
        dst = np.concatenate((b, a)).astype(np.int64)
        wt = np.concatenate((w, w)).astype(np.float64)
        order = np.argsort(src, kind="stable")
        self.n = n
        self.dst = dst[order]
        self.w = wt[order]
        self.offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(src, minlength=n)[:n], out=self.offsets[1:])
        self.touched: dict[int, dict[int, float]] = {}

    def of(self, p: int) -> Mapping[int, float]:
        """Links of a record (read only)."""
        got = self.touched.get(p)
        if got is not None:
            return got
        if p >= self.n or self.offsets[p] == self.offsets[p + 1]:
            return {}
        lo, hi = int(self.offsets[p]), int(self.offsets[p + 1])
        return dict(zip(self.dst[lo:hi].tolist(), self.w[lo:hi].tolist(), strict=True))

    def mut(self, p: int) -> dict[int, float]:
        """Links of a record, as a dict the caller may change."""
        got = self.touched.get(p)
        if got is None:
            got = dict(self.of(p))
            self.touched[p] = got
        return got

    def link(self, a: int, b: int, weight: float) -> None:
        self.mut(a)[b] = weight
        self.mut(b)[a] = weight

    def unlink(self, a: int, b: int) -> None:
        self.mut(a).pop(b, None)
        self.mut(b).pop(a, None)

    def edges(self) -> tuple[IntArray, IntArray, FloatArray]:
        """Every link once, as (a, b, weight) with a < b."""
        src = np.repeat(np.arange(self.n, dtype=np.int64), np.diff(self.offsets))
        keep = src < self.dst
        if self.touched:
            t = np.fromiter(self.touched, dtype=np.int64, count=len(self.touched))
            keep &= ~np.isin(src, t) & ~np.isin(self.dst, t)
        ea, eb, ew = [src[keep]], [self.dst[keep]], [self.w[keep]]
        xa: list[int] = []
        xb: list[int] = []
        xw: list[float] = []
        for p, nb in self.touched.items():
            for q, wt in nb.items():
                if p < q or q not in self.touched:
                    xa.append(min(p, q))
                    xb.append(max(p, q))
                    xw.append(wt)
        ea.append(np.array(xa, dtype=np.int64))
        eb.append(np.array(xb, dtype=np.int64))
        ew.append(np.array(xw, dtype=np.float64))
        return np.concatenate(ea), np.concatenate(eb), np.concatenate(ew)


def _no_links() -> _Links:
    empty = np.zeros(0, dtype=np.int64)
    return _Links(0, empty, empty, np.zeros(0, dtype=np.float64))


class _Strings:
    """The shared value dictionary: code -> text.

    The bulk part is one UTF-8 buffer with offsets (decoded on demand: a lookup reads only the
    few candidates' values, and a million records cost two arrays rather than millions of Python
    strings); values added later are a plain list after it. Values are not de-duplicated.
    """

    def __init__(self, blob: bytes, offsets: IntArray) -> None:
        self.blob = blob
        self.offsets = offsets
        self.n_bulk = len(offsets) - 1
        self.extra: list[str] = []

    @classmethod
    def from_list(cls, values: Sequence[str]) -> _Strings:
        encoded = [v.encode() for v in values]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        return cls(b"".join(encoded), offsets)

    def __len__(self) -> int:
        return self.n_bulk + len(self.extra)

    def get(self, code: int) -> str | None:
        if code < 0:
            return None
        if code < self.n_bulk:
            return self.blob[self.offsets[code] : self.offsets[code + 1]].decode()
        return self.extra[code - self.n_bulk]

    def append(self, value: str) -> int:
        self.extra.append(value)
        return len(self) - 1

    def subset(self, codes: IntArray) -> tuple[bytes, IntArray]:
        """The values of sorted distinct codes as (UTF-8 buffer, offsets): new code ``i`` is old
        code ``codes[i]``. Bulk values are copied as bytes with one numpy gather."""
        bulk = codes[codes < self.n_bulk]
        starts = self.offsets[bulk]
        lengths = self.offsets[bulk + 1] - starts
        offsets = np.zeros(len(bulk) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        gather = np.arange(int(offsets[-1]), dtype=np.int64) + np.repeat(starts - offsets[:-1],
                                                                         lengths)
        blob = np.frombuffer(self.blob, dtype=np.uint8)[gather].tobytes()
        later = codes[codes >= self.n_bulk] - self.n_bulk
        if len(later):
            more = _Strings.from_list([self.extra[c] for c in later.tolist()])
            offsets = np.concatenate((offsets, offsets[-1] + more.offsets[1:])).astype(np.int64)
            blob += more.blob
        return blob, offsets

    def compact(self) -> tuple[bytes, IntArray]:
        """All values as (UTF-8 buffer, offsets)."""
        if not self.extra:
            return self.blob, self.offsets
        more = _Strings.from_list(self.extra)
        offsets = np.concatenate((self.offsets, self.offsets[-1] + more.offsets[1:]))
        return self.blob + more.blob, offsets.astype(np.int64)


_MEMO_SIZE = 200_000
#: Candidates up to which a record is scored pair by pair (the pair engine); more go through
#: the columnar batch code, whose fixed cost is then spread over many pairs.
_PAIRWISE_MAX = 2000


def _expression_values(
    expr: Expression, value: str | None, memo: dict[tuple[str, str], tuple[str, ...]]
) -> tuple[str, ...]:
    """Values of an expression for one record whose base column holds ``value``.

    The single-record form of :meth:`Frame.codes` / :meth:`Frame.exploded`: a function that
    returns None makes the value missing; a multi-valued function yields its non-missing keys.
    Derived values are memoised per (expression, base value): names, domains and codes repeat.
    """
    if value is None:
        return ()
    if expr.function is None or expr.inner is None:
        return (value,)
    key = (expr.text, value)
    got = memo.get(key)
    if got is not None:
        return got
    inner = _expression_values(expr.inner, value, memo)
    if not inner:
        result: tuple[str, ...] = ()
    elif expr.multi_valued:
        result = tuple(v for v in MULTI_VALUED_FUNCTIONS[expr.function](inner[0]) if v is not None)
    else:
        fn, _ = EXPRESSION_FUNCTIONS[expr.function]
        one = fn(inner[0]) if expr.argument is None else fn(inner[0], expr.argument)
        result = () if one is None else (one,)
    memo[key] = result
    return result


def _key_columns(rule: BlockOn, frame: Frame) -> tuple[IntArray, list[IntArray]]:
    """Rows and per-expression codes of every (row, key) entry of an exact-key rule."""
    parsed = [parse_expression(e) for e in rule.expressions]
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
        parts.append(codes)
    return rows[ok], [c[ok] for c in parts]


def _rule_csr(rule: BlockOn, frame: Frame) -> tuple[IntArray, IntArray, IntArray]:
    """Inverted index of one rule over a whole frame: (sorted key hashes, offsets, positions)."""
    rows, parts = _key_columns(rule, frame)
    if len(rows) == 0:
        return _group_csr(rows, rows)
    combined = np.zeros(len(rows), dtype=np.int64)
    for codes in parts:
        _, inv = np.unique(codes, return_inverse=True)
        inv = inv.reshape(-1).astype(np.int64)
        combined = np.unique(combined * (int(inv.max()) + 1) + inv, return_inverse=True)[1]
        combined = combined.reshape(-1).astype(np.int64)
    n_keys = int(combined.max()) + 1
    first = np.full(n_keys, len(rows), dtype=np.int64)
    np.minimum.at(first, combined, np.arange(len(rows), dtype=np.int64))
    strings = frame.strings()
    texts = [strings[p[first]].tolist() for p in parts]
    keys = texts[0] if len(texts) == 1 else [_SEP.join(t) for t in zip(*texts, strict=True)]
    key_hash = np.fromiter((_hash_key(k) for k in keys), dtype=np.int64, count=n_keys)
    return _group_csr(key_hash[combined], rows)


#: Value of an expression for a row of the scored records: ``(expression, row) -> text``.
_ValueOf = Callable[[str, int], "str | None"]


def _frame_values(frame: Frame) -> _ValueOf:
    """Values of a frame's rows, for explanations."""
    return lambda expression, row: frame.string(int(frame.codes(expression)[row]))


def _explain(
    model: MatchModel,
    scored: ScoredPairs,
    i: int,
    value_of: _ValueOf,
    weights: tuple[FloatArray, ...] | None = None,
    *,
    labels: Sequence[Sequence[str]] | None = None,
) -> dict[str, Any]:
    """Explanation of scored pair ``i``: the batch waterfall's numbers as a JSON-friendly dict.

    ``prior`` + the ``weight`` and ``tf_adjustment`` of every comparison = the match weight,
    unless ``rule`` names the deterministic rule that decided the pair. ``value_of`` gives the
    left record's value of a term-frequency table's expression.
    """
    out: dict[str, Any] = {"prior": model.prior_weight}
    weights = model.weights() if weights is None else weights
    labels = [c.labels for c in model.comparisons] if labels is None else labels
    for c, (comp, lvl) in enumerate(zip(model.comparisons, scored.levels[i].tolist(),
                                        strict=True)):
        tf = 0.0
        table = model.tf.get((c, lvl))
        if table is not None:
            tf = table.adjustment(value_of(table.expression, int(scored.left[i])))
        out[comp.name] = {
            "level": labels[c][lvl], "weight": float(weights[c][lvl]), "tf_adjustment": tf
        }
    r = int(scored.rule[i])
    out["rule"] = model.rules[r].name if r >= 0 else None
    return out


def _tf_without(table: TermFrequencies, taken: Counter[str]) -> TermFrequencies:
    """A term-frequency table without some records' values (``taken``: value -> records).

    Counts drop by the records taken (never below zero), ``total`` by their number, and the
    agreement ``sum(p_v ** 2)`` is updated exactly from ``sum(count ** 2)``; a value left with
    a count under 2 leaves the table (values seen once are not kept, as in training). A value
    absent from the table counts as seen once (or as often as it is taken, if more).
    """
    if not taken:
        return table
    counts = dict(table.counts)
    squares = table.agreement * table.total**2
    removed = 0
    for value, k in taken.items():
        had = max(int(counts.get(value, 1)), k)
        removed += k
        squares -= had**2 - (had - k) ** 2
        if had - k >= 2:
            counts[value] = had - k
        else:
            counts.pop(value, None)
    total = max(table.total - removed, 0)
    agreement = max(squares, 0.0) / total**2 if total else 0.0
    return attrs.evolve(table, counts=counts, total=total, agreement=agreement)


_F32 = struct.Struct("f")
_RATIO_METRICS = frozenset({"token_set", "token_sort", "ratio"})
_SIM_CACHE_SIZE = 100_000
_Side = dict[str, str | None]
_Test = Callable[[_Side, _Side], bool]


class _PairEngine:
    """The batch comparison levels, evaluated pair by pair for a record and a few candidates.

    :func:`~crmcore.matching.comparisons.compute_levels` is columnar: each level costs a few
    numpy calls whatever the number of pairs, about 4 ms per call for the contacts preset when
    a record has two candidates. Here every level kind of :mod:`crmcore.matching.comparisons`
    is compiled once into a plain function of the two records' expression values (memoised per
    value, as blocking keys are), with the batch rules: a value missing on either side fails a
    level; codes are equal exactly when the texts are; a similarity is rapidfuzz's scorer on the
    two texts rounded to float32 as ``cpdist`` stores it (ratio metrics then divided by 100), 1
    (or distance 0) for equal texts, tested with the same tolerance. Weights, term-frequency
    adjustments (``log2(agreement * total / count)`` per value), deterministic rules and
    probabilities repeat :func:`~crmcore.matching.predict.score_levels` operation by operation,
    so a pair gets the batch levels and the batch score to the last bit (tests compare both
    engines on generated values).

    A model with a level kind this engine does not know (a user-defined level), or that reads
    a column the index does not hold, is scored by the columnar engine (``usable`` is False).
    """

    def __init__(self, model: MatchModel, columns: Iterable[str]) -> None:
        self.model = model
        self._weights = model.weights()
        self._exprs: dict[str, Expression] = {}
        self.usable = True
        self._sim_cache: dict[tuple[str, str, str], float] = {}
        self._tf_cache: dict[tuple[int, str], float] = {}
        self._comparisons: list[tuple[tuple[str, ...], tuple[_Test, ...]]] = []
        try:
            for comp in model.comparisons:
                missing = tuple(self._use(e) for e in comp.missing)
                tests = tuple(self._compile(level) for level in comp.levels)
                self._comparisons.append((missing, tests))
            self._tf = [
                (ci, li, self._use(table.expression), k)
                for k, ((ci, li), table) in enumerate(model.tf.items())
            ]
            for ci, li, e, _ in self._tf:
                # batch reads the left value through its code: the same only when the level
                # guarantees a value (an exact level on the table's expression)
                levels = model.comparisons[ci].levels
                level = levels[li - 1] if 0 < li <= len(levels) else None
                if not (isinstance(level, ExactLevel) and self._use(level.expression) == e):
                    raise _Unsupported
        except _Unsupported:
            self.usable = False
            self._tf = []
        self._tf_tables = list(model.tf.values())
        known = set(columns)
        if any(e.multi_valued or e.column not in known for e in self._exprs.values()):
            self.usable = False
        #: Base columns the comparisons read.
        self.columns = tuple(sorted({e.column for e in self._exprs.values()}))
        # (text, base column, the expression when it applies a function)
        self._plan = [(t, e.column, None if e.function is None else e)
                      for t, e in self._exprs.items()]
        #: Expressions that apply a function (the index keeps their codes per record).
        self.derived = tuple(t for t, _, e in self._plan if e is not None) if self.usable else ()

        self._rules: list[tuple[int, list[tuple[int, frozenset[int]]], float]] = []
        for r, rule in enumerate(model.rules):
            when = []
            for cname, labels in rule.when.items():
                ci = model.comparison_index(cname)
                comp_labels = model.comparisons[ci].labels
                when.append((ci, frozenset(comp_labels.index(lab) for lab in labels)))
            self._rules.append((r, when, RULE_WEIGHT if rule.outcome == "match" else -RULE_WEIGHT))

    @property
    def plan(self) -> list[tuple[str, str, Expression | None]]:
        """(expression text, base column, the expression if it applies a function)."""
        return self._plan

    def _use(self, expression: str) -> str:
        expr = parse_expression(expression)
        self._exprs.setdefault(expr.text, expr)
        return expr.text

    def _compile(self, level: object) -> _Test:
        if type(level) not in _PAIRWISE_KINDS:  # user-defined kinds and subclasses: columnar
            raise _Unsupported
        if isinstance(level, ExactLevel):
            e = self._use(level.expression)

            def exact(a: _Side, b: _Side) -> bool:
                x = a[e]
                return x is not None and x == b[e]

            return exact
        if isinstance(level, SimilarityLevel):
            return self._similarity(self._use(level.expression), level.metric, level.threshold)
        if isinstance(level, SwappedLevel):
            f, s = self._use(level.first), self._use(level.second)

            def swapped(a: _Side, b: _Side) -> bool:
                fl, sl = a[f], a[s]
                return (fl is not None and sl is not None and fl == b[s] and sl == b[f]
                        and fl != sl)

            return swapped
        if isinstance(level, CrossExactLevel):
            x, y = self._use(level.expression), self._use(level.other)

            def cross(a: _Side, b: _Side) -> bool:
                xl, yl = a[x], a[y]
                return (xl is not None and xl == b[y]) or (yl is not None and yl == b[x])

            return cross
        if isinstance(level, InitialLevel):
            e = self._use(level.expression)
            i = self._use(f"initial({level.expression})")

            def initial(a: _Side, b: _Side) -> bool:
                x = a[i]
                if x is None or x != b[i]:
                    return False
                vl, vr = a[e], b[e]
                return (vl is not None and len(vl) == 1) or (vr is not None and len(vr) == 1)

            return initial
        if isinstance(level, DateDiffLevel | NumericLevel):
            return self._numeric(level)
        assert isinstance(level, AllOf)
        parts = tuple(self._compile(p) for p in level.levels)
        return lambda a, b: all(p(a, b) for p in parts)

    def _similarity(self, e: str, metric: str, threshold: float) -> _Test:
        scorer: Callable[[str, str], float] = metric_scorer(metric)  # the one cpdist runs
        cache = self._sim_cache
        if metric in DISTANCE_METRICS:
            def dist(a: _Side, b: _Side) -> bool:
                x, y = a[e], b[e]
                if x is None or y is None:
                    return False
                if x == y:
                    return threshold >= 0.0
                key = (metric, x, y) if x < y else (metric, y, x)
                got = cache.get(key)
                if got is None:
                    got = cache[key] = float(scorer(key[1], key[2]))
                return got <= threshold

            return dist
        ratio = metric in _RATIO_METRICS
        floor = threshold - 1e-9

        def similar(a: _Side, b: _Side) -> bool:
            x, y = a[e], b[e]
            if x is None or y is None:
                return False
            if x == y:
                return floor <= 1.0
            key = (metric, x, y) if x < y else (metric, y, x)
            got = cache.get(key)
            if got is None:
                # cpdist stores float32; batch widens it to float64 (then / 100 for ratios)
                got = _F32.unpack(_F32.pack(scorer(key[1], key[2])))[0]
                if ratio:
                    got = got / 100.0
                cache[key] = got
            return got >= floor

        return similar

    def _numeric(self, level: DateDiffLevel | NumericLevel) -> _Test:
        e = self._use(level.expression)
        parse = parse_date if isinstance(level, DateDiffLevel) else parse_number
        memo: dict[str, float | None] = {}

        def value(side: _Side) -> float | None:
            text = side[e]
            if text is None:
                return None
            if text not in memo:
                if len(memo) > _SIM_CACHE_SIZE:
                    memo.clear()
                got = parse(str(text))
                memo[text] = None if got is None else float(got)
            return memo[text]

        if isinstance(level, DateDiffLevel):
            days = level.max_days

            def within_days(a: _Side, b: _Side) -> bool:
                x, y = value(a), value(b)
                return x is not None and y is not None and abs(x - y) <= days

            return within_days
        tolerance, relative = level.tolerance, level.relative

        def within(a: _Side, b: _Side) -> bool:
            x, y = value(a), value(b)
            if x is None or y is None:
                return False
            limit = tolerance * float(np.maximum(abs(x), abs(y))) if relative else tolerance
            return abs(x - y) <= limit

        return within

    def side(
        self, values: Mapping[str, str | None], memo: dict[tuple[str, str], tuple[str, ...]]
    ) -> _Side:
        """Every expression the comparisons read, for one record's prepared values."""
        out: _Side = {}
        for text, column, expr in self._plan:
            base = values[column]
            if base is None or expr is None:
                out[text] = base
                continue
            got = memo.get((text, base))
            if got is None:
                got = _expression_values(expr, base, memo)
            out[text] = got[0] if got else None
        return out

    def _tf_adjustment(self, k: int, value: str | None) -> float:
        key = (k, "" if value is None else value)
        got = self._tf_cache.get(key)
        if got is None:
            table = self._tf_tables[k]
            if value is None or table.total == 0 or table.agreement <= 0:
                got = 0.0
            else:
                count = np.array([table.counts.get(value, 1)], dtype=np.float64)
                got = float(np.log2(table.agreement * table.total / count)[0])
            assert got is not None
            if len(self._tf_cache) > _SIM_CACHE_SIZE:
                self._tf_cache.clear()
            self._tf_cache[key] = got
        return got

    def score(self, lefts: Sequence[_Side], right: _Side) -> ScoredPairs:
        """Score each left record against the right one (the batch pair order)."""
        k = len(lefts)
        if len(self._sim_cache) > _SIM_CACHE_SIZE:
            self._sim_cache.clear()
        rows: list[list[int]] = []
        tf_total: list[float] = []
        for a in lefts:
            row = []
            for missing, tests in self._comparisons:
                for m in missing:
                    if a[m] is not None and right[m] is not None:
                        lvl = len(tests) + 1
                        for i, test in enumerate(tests, start=1):
                            if test(a, right):
                                lvl = i
                                break
                        break
                else:
                    lvl = 0
                row.append(lvl)
            rows.append(row)
            t = 0.0
            for ci, li, e, tk in self._tf:
                if row[ci] == li:
                    t += self._tf_adjustment(tk, a[e])
            tf_total.append(t)
        model = self.model
        levels = np.array(rows, dtype=np.int8).reshape(k, len(self._comparisons))
        # score_levels, operation by operation
        weight = np.full(k, model.prior_weight)
        for c, w in enumerate(self._weights):
            weight += w[levels[:, c]]
        if model.tf:
            weight += np.array(tf_total, dtype=np.float64)
        rule_of = np.full(k, -1, dtype=np.int8)
        if self._rules:
            for p, row in enumerate(rows):
                for r, when, forced in self._rules:
                    if all(row[ci] in ok for ci, ok in when):
                        rule_of[p] = r
                        weight[p] = forced
                        break
        probability = 1.0 / (1.0 + np.exp2(-np.clip(weight, -1000, 1000)))
        return ScoredPairs(
            left=np.arange(k, dtype=np.int64),
            right=np.full(k, k, dtype=np.int64),
            match_weight=weight,
            probability=probability,
            levels=levels,
            rule=rule_of,
            comparison_names=tuple(c.name for c in model.comparisons),
        )


class _Unsupported(Exception):
    """A level kind the pair engine does not evaluate."""


_PAIRWISE_KINDS = frozenset({ExactLevel, SimilarityLevel, SwappedLevel, CrossExactLevel,
                             InitialLevel, DateDiffLevel, NumericLevel, AllOf})


class MatchIndex:
    """An in-memory, thread-safe index for real-time matching with stable entity ids.

    Build one with :meth:`build` (from records and a trained model) or :meth:`load`.

    Args:
        model: The trained model (its comparisons must be the settings' comparisons).
        settings: Match settings: prepare kinds, blocking rules, threshold.
        threshold: Match probability at or above which two records are linked (default: the
            settings' threshold).
        review: Review queue (its band sends pairs to review; its decisions are respected).
        id_column: Field holding the record id in records given to the index.
        prefix: Prefix of entity ids issued by the index.
        adaptive: Names of the settings' adaptive (``max_pairs_per_record``) rules to use;
            the others are ignored (:meth:`build` decides them from the data as batch does).

    Raises:
        MatchingConfigError: If the settings have no usable exact-key blocking rule, name an
            unknown adaptive rule, or the model does not fit the settings.
    """

    def __init__(
        self,
        model: MatchModel,
        settings: MatchSettings,
        *,
        threshold: float | None = None,
        review: ReviewQueue | None = None,
        id_column: str = "record_id",
        prefix: str = "E",
        adaptive: Iterable[str] = (),
    ) -> None:
        if [c.name for c in model.comparisons] != [c.name for c in settings.comparisons]:
            raise MatchingConfigError("the model's comparisons differ from the settings'")
        wanted = set(adaptive)
        known = {r.name for r in settings.blocking
                 if isinstance(r, BlockOn) and r.max_pairs_per_record is not None}
        if wanted - known:
            raise MatchingConfigError(
                f"adaptive rules {sorted(wanted - known)} are not adaptive (max_pairs_per_record)"
                f" rules of the settings; those are {sorted(known)}"
            )
        self.rules: tuple[BlockOn, ...] = tuple(
            r for r in settings.blocking
            if isinstance(r, BlockOn) and (r.max_pairs_per_record is None or r.name in wanted)
        )
        #: Names of the settings' blocking rules the index does not use, in settings order:
        #: sorted-neighbourhood rules, and adaptive (``max_pairs_per_record``) rules not chosen.
        self.ignored_rules: tuple[str, ...] = tuple(
            r.name for r in settings.blocking if r not in self.rules
        )
        if not self.rules:
            raise MatchingConfigError(
                "a match index needs an exact-key (BlockOn) rule without max_pairs_per_record; "
                f"settings have {[r.name for r in settings.blocking]}"
            )
        self.model = model
        self._weights = model.weights()
        self._labels = tuple(c.labels for c in model.comparisons)
        self._engine = _PairEngine(model, sorted(settings.columns))
        self.settings = settings
        self.threshold = settings.threshold if threshold is None else float(threshold)
        if not 0.0 <= self.threshold <= 1.0:
            raise MatchingConfigError(f"threshold must be a probability, got {self.threshold}")
        self.review = review if review is not None else ReviewQueue()
        self.reviewing = review is not None
        self.id_column = id_column
        self.prefix = prefix
        self.columns: tuple[str, ...] = tuple(sorted(settings.columns))
        self._lock = _RWLock()
        self._strings = _Strings(b"", np.zeros(1, dtype=np.int64))
        self._codes = {c: _Growable(np.empty(0, dtype=np.int64)) for c in self.columns}
        # codes of the comparisons' derived expressions per record (empty: derive on demand)
        self._derived: dict[str, _Growable] = {
            t: _Growable(np.empty(0, dtype=np.int64)) for t in self._engine.derived
        }
        self._ids = _Texts()
        self._pos: dict[str, int] = {}
        self._alive = _Growable(np.empty(0, dtype=bool))
        self._entity = _Texts()
        self._diff_cache: tuple[int, list[tuple[str, str]]] = (0, [])
        self._adj = _no_links()
        empty = np.zeros(0, dtype=np.int64)
        self._blocks = [_Blocks(*_group_csr(empty, empty)) for _ in self.rules]
        self._rule_exprs = [tuple(parse_expression(e) for e in r.expressions) for r in self.rules]
        self._memo: dict[tuple[str, str], tuple[str, ...]] = {}
        self._prep_memo: dict[tuple[str, str], str | None] = {}
        self._prep_fns = {c: PREPARE_KINDS[k] for c, k in settings.prepare.items()
                          if k in PREPARE_KINDS}
        self._prep_unknown = len(self._prep_fns) < len(settings.prepare)
        self.next_sequence = 1
        #: What the latest write (:meth:`build`, :meth:`add`, :meth:`update`, :meth:`remove`,
        #: :meth:`purge`, :meth:`decide`) did to entity ids: kept, new, merged, split, retired.
        self.last_report = IdChangeReport()
        #: Values :meth:`build` could not normalise (the records are kept, the value is missing).
        self.problems: list[FieldProblem] = []

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        model: MatchModel,
        settings: MatchSettings,
        records: object,
        *,
        threshold: float | None = None,
        review: ReviewQueue | None = None,
        id_column: str = "record_id",
        previous: Mapping[str, str] | None = None,
        next_sequence: int = 1,
        prefix: str = "E",
        adaptive: Iterable[str] | None = None,
    ) -> MatchIndex:
        """Index many records at once (batch blocking, scoring and clustering).

        Args:
            model: Trained model.
            settings: Match settings.
            records: A :class:`~crmcore.io.Table` or anything :func:`~crmcore.io.to_table`
                reads (iterable of mappings, DataFrame ...), in canonical field names.
            threshold: Link threshold (default: the settings').
            review: Review queue whose decisions are respected.
            id_column: Field holding record ids.
            previous: Record id -> entity id from an earlier run, kept where entities survive.
            next_sequence: First sequence number for new ids (from the earlier run).
            prefix: Prefix of new entity ids.
            adaptive: Adaptive (``max_pairs_per_record``) rules to consider; default all of
                the settings'. Each is used or skipped exactly as batch blocking decides on
                these records, and the decision is kept for later adds (and saved).

        Returns:
            The index.

        Raises:
            IndexStateError: If record ids are missing or repeat.
        """
        every = [r.name for r in settings.blocking
                 if isinstance(r, BlockOn) and r.max_pairs_per_record is not None]
        index = cls(model, settings, threshold=threshold, review=review, id_column=id_column,
                    prefix=prefix, adaptive=every if adaptive is None else adaptive)
        table = to_table(records)
        ids = index._check_ids(table)
        absent = [c for c in index.columns if c not in table.columns]
        if absent:
            table = Table({**table.columns, **{c: [None] * table.n_rows for c in absent}})
        # batch's own preparation: each normaliser once per distinct raw value, vectorised
        frame, index.problems = prepare_frame(table, settings, ids=ids)
        n = table.n_rows
        index._codes = {c: _Growable(frame.codes(c).copy()) for c in index.columns}
        index._ids = _Texts(ids)
        index._pos = {r: i for i, r in enumerate(ids)}
        index._alive = _Growable(np.ones(n, dtype=bool))
        pairs = None
        if n > 1:
            # adaptive rules: used or skipped exactly as batch blocking decides on these records
            pairs, analysis = block_and_analyse(frame, index.rules, max_pairs=settings.max_pairs)
            if analysis.skipped:
                index.rules = tuple(r for r in index.rules if r.name not in analysis.skipped)
                index.ignored_rules = tuple(
                    r.name for r in settings.blocking if r not in index.rules
                )
                index._rule_exprs = [tuple(parse_expression(e) for e in r.expressions)
                                     for r in index.rules]
        index._blocks = [_Blocks(*_rule_csr(rule, frame)) for rule in index.rules]
        if pairs is not None and len(pairs):
            scored = score_pairs(model, frame, None, pairs.left, pairs.right)
            if index.reviewing:
                band = np.flatnonzero(
                    (scored.probability >= index.review.lower)
                    & (scored.probability < index.review.upper)
                )
                index.review.offer(
                    [ids[i] for i in scored.left[band].tolist()],
                    [ids[i] for i in scored.right[band].tolist()],
                    scored.probability[band],
                    [_explain(model, scored, i, _frame_values(frame)) for i in band.tolist()],
                )
            hit = scored.probability >= index.threshold
            left, right, weight = scored.left[hit], scored.right[hit], scored.match_weight[hit]
        else:
            left = right = np.zeros(0, dtype=np.int64)
            weight = np.zeros(0)
        result = cluster_with_decisions(ids, left, right, weight, index.review.decisions())
        cut = {tuple(sorted((index._pos[a], index._pos[b]))) for a, b in result.cut_edges}
        for d in index.review.decisions():
            a_pos, b_pos = index._pos.get(d.left_id), index._pos.get(d.right_id)
            if d.decision == "different" and a_pos is not None and b_pos is not None:
                cut.add((min(a_pos, b_pos), max(a_pos, b_pos)))
        lo, hi = np.minimum(left, right), np.maximum(left, right)
        if cut:
            cut_codes = np.array([x * n + y for x, y in cut], dtype=np.int64)
            keep = ~np.isin(lo * n + hi, cut_codes)
            lo, hi, weight = lo[keep], hi[keep], weight[keep]
        index._adj = _Links(n, lo, hi, weight)
        # the comparisons' derived values, as batch computed them (vectorised, once per value)
        index._derived = {t: _Growable(frame.codes(t).copy()) for t in index._derived}
        index._strings = _Strings.from_list(frame.strings().tolist())
        index._add_forced(range(n))
        stable = assign_stable_ids(
            (ids, result.labels), previous, prefix=prefix, next_sequence=next_sequence
        )
        index._entity = _Texts(stable.entity_ids)
        index.next_sequence = stable.next_sequence
        index.last_report = stable.report
        return index

    def _check_ids(self, table: Table) -> list[str]:
        if self.id_column not in table.columns:
            raise IndexStateError(f"records have no id column {self.id_column!r}")
        raw = table.column(self.id_column)
        missing = [i for i, r in enumerate(raw) if r is None]
        if missing:
            raise IndexStateError(f"records at rows {missing[:10]} have no {self.id_column!r}")
        ids = [str(r) for r in raw]
        if len(set(ids)) != len(ids):
            dupes = sorted(r for r, k in Counter(ids).items() if k > 1)
            raise IndexStateError(f"record ids repeat: {dupes[:10]}")
        return ids

    # -- internal helpers (callers hold the lock) -----------------------------------------------
    def _link(self, a: int, b: int, weight: float) -> None:
        self._adj.link(a, b, weight)

    def _unlink_all(self, p: int) -> list[int]:
        neighbours = list(self._adj.of(p))
        for q in neighbours:
            self._adj.unlink(p, q)
        return neighbours

    def _add_forced(self, positions: Iterable[int]) -> None:
        """Link the "same" decisions touching these positions (weight +inf)."""
        for d in self.review.decisions_about(self._ids[p] for p in positions):
            if d.decision != "same":
                continue
            a, b = self._pos.get(d.left_id), self._pos.get(d.right_id)
            if a is None or b is None:
                continue
            if self._alive.view()[a] and self._alive.view()[b]:
                self._link(a, b, float("inf"))

    def _component(self, starts: Iterable[int], avoid: int | None = None) -> list[int]:
        seen: set[int] = set() if avoid is None else {avoid}
        todo = deque(starts)
        while todo:
            x = todo.popleft()
            if x in seen:
                continue
            seen.add(x)
            todo.extend(y for y in self._adj.of(x) if y not in seen)
        if avoid is not None:
            seen.discard(avoid)
        return sorted(seen)

    def _prepare_record(self, record: Mapping[str, object]) -> dict[str, str | None]:
        table = Table.from_records([record])
        prepared, _ = prepare_columns(table, self.settings.prepare, columns=self.columns)
        return {c: (prepared[c][0] if c in prepared else None) for c in self.columns}

    def _prepare(self, record: Mapping[str, object]) -> dict[str, str | None]:
        """Prepared values of one record, as batch prepares them.

        Text values are prepared once per (column, raw value) with the kind's normaliser
        (:data:`~crmcore.matching.prepare.PREPARE_KINDS`) and memoised (a new lead repeats the
        cities, companies and domains of earlier ones); anything else (numbers, keys that are
        not text, unknown kinds) takes the batch path for the whole record.
        """
        if not all(type(k) is str for k in record) or self._prep_unknown:
            return self._prepare_record(record)
        memo = self._prep_memo
        if len(memo) > _MEMO_SIZE:
            memo.clear()
        out: dict[str, str | None] = {}
        for c in self.columns:
            raw = record.get(c)
            if raw is None:
                out[c] = None
                continue
            if type(raw) is not str:
                return self._prepare_record(record)
            key = (c, raw)
            if key in memo:
                out[c] = memo[key]
                continue
            fn = self._prep_fns.get(c)
            if not raw.strip():  # the Table's rule: blank text is missing
                got = None
            elif fn is None:
                got = raw
            else:
                got = fn(raw)
            memo[key] = out[c] = got
        return out

    def _keys(self, values: Mapping[str, str | None]) -> list[list[int]]:
        """Hashed block keys of one prepared record, per rule.

        The keys are those of :meth:`BlockOn.record_keys` (the expression values joined).
        """
        out: list[list[int]] = []
        for exprs in self._rule_exprs:
            keys: list[str] = [""]
            for k, expr in enumerate(exprs):
                found = _expression_values(expr, values[expr.column], self._memo)
                if not found:
                    keys = []
                    break
                keys = [v if k == 0 else f"{prefix}{_SEP}{v}" for prefix in keys for v in found]
            out.append([_hash_key(k) for k in keys])
        if len(self._memo) > _MEMO_SIZE:
            self._memo.clear()
        return out

    def _candidates(self, keys: list[list[int]], exclude: int | None) -> IntArray:
        found: list[IntArray] = []
        for blocks, rule_keys in zip(self._blocks, keys, strict=True):
            for key in rule_keys:
                got = blocks.lookup(key)
                if got is not None and len(got):
                    found.append(np.asarray(got, dtype=np.int64))
        if not found:
            return np.zeros(0, dtype=np.int64)
        cand: IntArray = np.unique(np.concatenate(found))
        alive: npt.NDArray[np.bool_] = self._alive.view()
        cand = cand[alive[cand]]
        if exclude is not None:
            cand = cand[cand != exclude]
        return cand

    def _score(
        self, values: Mapping[str, str | None], cand: IntArray
    ) -> tuple[ScoredPairs, _ValueOf] | None:
        """Score the record against candidates as batch does: each candidate left, it right.

        Up to ``_PAIRWISE_MAX`` candidates go through the pair engine (the batch levels and
        scores without the columnar overhead), more through the batch scoring code itself.
        Returns the scored pairs (rows: candidates, then the record) and their values.
        """
        k = len(cand)
        if k == 0:
            return None
        engine = self._engine
        if engine.usable and k <= _PAIRWISE_MAX:
            memo = self._memo
            if len(memo) > _MEMO_SIZE:
                memo.clear()
            get = self._strings.get
            if self._derived:  # every expression's codes are held: decode each code once
                coded = [
                    (t, (self._codes[c] if e is None else self._derived[t]).view()[cand].tolist())
                    for t, c, e in engine.plan
                ]
                text = {code: get(code) for _, codes in coded for code in codes}
                sides = [{t: text[codes[j]] for t, codes in coded} for j in range(k)]
            else:
                cols = engine.columns
                based = [self._codes[c].view()[cand].tolist() for c in cols]
                sides = [
                    engine.side({c: get(codes[j]) for c, codes in zip(cols, based, strict=True)},
                                memo)
                    for j in range(k)
                ]
            sides.append(engine.side(values, memo))
            scored = engine.score(sides[:k], sides[k])
            return scored, lambda expression, row: sides[row][parse_expression(expression).text]
        get = self._strings.get
        columns: dict[str, list[str | None]] = {}
        for c in self.columns:
            col = [get(code) for code in self._codes[c].view()[cand].tolist()]
            col.append(values[c])
            columns[c] = col
        frame = Frame(columns)
        scored = score_pairs(
            self.model, frame, None, np.arange(k, dtype=np.int64), np.full(k, k, dtype=np.int64)
        )
        return scored, _frame_values(frame)

    def _encode(self, value: str | None) -> int:
        if value is None:
            return -1
        return self._strings.append(value)

    def _relabel(self, members: Sequence[int], previous_of: Mapping[int, str]) -> None:
        """Re-cluster a set of positions from their links and decisions; stable ids."""
        if not members:
            return
        ids = [self._ids[p] for p in members]
        local = {p: i for i, p in enumerate(members)}
        left: list[int] = []
        right: list[int] = []
        weight: list[float] = []
        for p in members:
            for q, w in self._adj.of(p).items():
                if p < q and q in local:
                    left.append(local[p])
                    right.append(local[q])
                    weight.append(w)
        result = cluster_with_decisions(
            ids,
            np.array(left, dtype=np.int64),
            np.array(right, dtype=np.int64),
            np.array(weight, dtype=np.float64),
            self.review.decisions_about(ids),
        )
        for a, b in result.cut_edges:
            pa, pb = self._pos[a], self._pos[b]
            self._adj.unlink(pa, pb)
        prev = {self._ids[p]: e for p, e in previous_of.items()}
        stable = assign_stable_ids(
            (ids, result.labels), prev, prefix=self.prefix, next_sequence=self.next_sequence
        )
        for p, eid in zip(members, stable.entity_ids, strict=True):
            self._set_entity(p, eid)
        self.next_sequence = stable.next_sequence
        self.last_report = stable.report

    def _set_entity(self, p: int, eid: str) -> None:
        self._entity[p] = eid

    def _different_pairs(self) -> list[tuple[str, str]]:
        n_seen, pairs = self._diff_cache
        history = self.review.history()
        if n_seen != len(history):
            pairs = [d.pair for d in self.review.decisions() if d.decision == "different"]
            self._diff_cache = (len(history), pairs)
        return pairs

    def _join_fast(self, pos: int, neighbours: Sequence[int]) -> bool:
        """Give a new record its entity without re-clustering, when no decision interferes.

        Joining one entity changes nobody else; joining several merges them under the id held
        by most records (ties: the oldest), exactly what the stable-id rule gives, relabelling
        only the smaller entities (found by a walk over their links that avoids the new record).
        """
        if self.review.decisions_about([self._ids[pos]]):
            return False
        ents = {self._entity[q] for q in neighbours}
        if len(ents) > 1:
            for a, b in self._different_pairs():
                pa, pb = self._pos.get(a), self._pos.get(b)
                if pa is None or pb is None:
                    continue
                if self._entity[pa] in ents and self._entity[pb] in ents:
                    return False
        if not ents:
            eid = format_entity_id(self.next_sequence, self.prefix)
            self.next_sequence += 1
            self.last_report = IdChangeReport(new=(eid,))
        else:
            # an entity is a connected component of the links: its size is a walk away
            parts: dict[str, list[int]] = {}
            for q in neighbours:
                if self._entity[q] not in parts:
                    parts[self._entity[q]] = self._component([q], avoid=pos)
            eid = min(parts, key=lambda e: (-len(parts[e]), e))
            losers = sorted(ents - {eid})
            for loser in losers:
                for m in parts[loser]:
                    self._set_entity(m, eid)
            self.last_report = IdChangeReport(
                kept=(eid,), merged=dict.fromkeys(losers, eid), retired=tuple(losers)
            )
        self._set_entity(pos, eid)
        return True

    def _insert(self, record_id: str, values: Mapping[str, str | None], keys: list[list[int]],
                pos: int | None) -> int:
        if pos is None:
            pos = len(self._ids)
            self._ids.append(record_id)
            self._pos[record_id] = pos
            self._alive.append(True)
            self._entity.append("")
            for c in self.columns:
                self._codes[c].append(self._encode(values[c]))
        else:
            for c in self.columns:
                self._codes[c].view()[pos] = self._encode(values[c])
        if self._derived:
            side = self._engine.side(values, self._memo)
            for t, codes in self._derived.items():
                if codes.n == pos:
                    codes.append(self._encode(side[t]))
                else:
                    codes.view()[pos] = self._encode(side[t])
        for blocks, rule_keys in zip(self._blocks, keys, strict=True):
            for key in rule_keys:
                blocks.add(key, pos)
        return pos

    def _connect(
        self, pos: int, cand: IntArray, got: tuple[ScoredPairs, _ValueOf] | None
    ) -> list[int]:
        """Link a record to its scored candidates per threshold and decisions; return neighbours."""
        out: list[int] = []
        rid = self._ids[pos]
        if got is not None:
            scored, value_of = got
            if self.reviewing:
                band = np.flatnonzero(
                    (scored.probability >= self.review.lower)
                    & (scored.probability < self.review.upper)
                )
                self.review.offer(
                    [self._ids[c] for c in cand[band].tolist()],
                    [rid] * len(band),
                    scored.probability[band],
                    [_explain(self.model, scored, i, value_of, self._weights, labels=self._labels)
                     for i in band.tolist()],
                )
            for c, p, w in zip(cand.tolist(), scored.probability.tolist(),
                               scored.match_weight.tolist(), strict=True):
                d = self.review.decision_for(self._ids[c], rid)
                if d is not None and d.decision == "different":
                    continue
                if p >= self.threshold:
                    self._link(min(c, pos), max(c, pos), w)
                    out.append(c)
        self._add_forced([pos])
        return out

    # -- public API -------------------------------------------------------------------------------
    def __len__(self) -> int:
        with self._lock.read():
            return len(self._pos)

    def __contains__(self, record_id: object) -> bool:
        with self._lock.read():
            return record_id in self._pos

    def match(
        self,
        record: Mapping[str, object],
        *,
        threshold: float | None = None,
        limit: int | None = None,
    ) -> list[MatchCandidate]:
        """Indexed records that match a record, best first (the index is not changed).

        Args:
            record: Field -> value, in canonical field names (raw values; they are prepared
                like batch input). An id field, if present, excludes that record itself.
            threshold: Smallest probability returned (default: the index's link threshold).
            limit: At most this many candidates.

        Returns:
            Candidates with probability, weight and explanation, by probability then record id.
        """
        cut = self.threshold if threshold is None else float(threshold)
        values = self._prepare(record)
        keys = self._keys(values)
        own = record.get(self.id_column)
        with self._lock.read():
            exclude = self._pos.get(str(own)) if own is not None else None
            cand = self._candidates(keys, exclude)
            got = self._score(values, cand)
            if got is None:
                return []
            scored, value_of = got
            hits = np.flatnonzero(scored.probability >= cut)
            out = [
                MatchCandidate(
                    record_id=self._ids[int(cand[i])],
                    entity_id=self._entity[int(cand[i])],
                    probability=float(scored.probability[i]),
                    match_weight=float(scored.match_weight[i]),
                    explanation=_explain(self.model, scored, int(i), value_of, self._weights,
                                         labels=self._labels),
                )
                for i in hits.tolist()
            ]
        out.sort(key=lambda m: (-m.probability, m.record_id))
        return out[:limit] if limit is not None else out

    def add(self, record: Mapping[str, object]) -> str:
        """Index a record and return its entity id (an existing one, or a new one).

        Links at or above the threshold (and "same" decisions) join the record to clusters;
        when it joins several, they merge under the stable-id rule (the id held by most records
        wins, ties to the oldest; the others are retired). Pairs in the review band are queued.

        Args:
            record: Field -> value, with the record id in :attr:`id_column`.

        Returns:
            The record's entity id.

        Raises:
            IndexStateError: If the record has no id or its id is already indexed (use
                :meth:`update`).
        """
        rid = self._record_id(record)
        values = self._prepare(record)
        keys = self._keys(values)
        with self._lock.write():
            if rid in self._pos:
                raise IndexStateError(f"record {rid!r} is already indexed; use update()")
            cand = self._candidates(keys, None)
            got = self._score(values, cand)
            pos = self._insert(rid, values, keys, None)
            neighbours = self._connect(pos, cand, got)
            if not self._join_fast(pos, neighbours):
                members = self._component([pos, *neighbours])
                self._relabel(members, {p: self._entity[p] for p in members if p != pos})
            return self._entity[pos]

    def remove(self, record_id: str) -> None:
        """Remove a record; if it held its cluster together, the cluster splits.

        The largest remaining part keeps the entity id; other parts get new ids.

        Raises:
            IndexStateError: If the record is not indexed.
        """
        with self._lock.write():
            pos = self._pos.get(record_id)
            if pos is None:
                raise IndexStateError(f"record {record_id!r} is not indexed")
            neighbours = self._unlink_all(pos)
            self._alive.view()[pos] = False
            del self._pos[record_id]
            eid = self._entity[pos]
            self._set_entity(pos, "")
            members = self._component(neighbours)
            if members:
                self._relabel(members, {p: self._entity[p] for p in members})
            else:
                self.last_report = IdChangeReport(retired=(eid,), removed=(eid,))

    def update(self, record: Mapping[str, object]) -> str:
        """Replace an indexed record's values; re-block, re-score and re-cluster it.

        Its old links are dropped and recomputed; its old cluster splits if it held it together,
        and it may join other clusters. Ids follow the stable-id rule.

        Returns:
            The record's entity id after the update.

        Raises:
            IndexStateError: If the record is not indexed.
        """
        rid = self._record_id(record)
        values = self._prepare(record)
        keys = self._keys(values)
        with self._lock.write():
            pos = self._pos.get(rid)
            if pos is None:
                raise IndexStateError(f"record {rid!r} is not indexed; use add()")
            old_values = {
                c: self._strings.get(int(self._codes[c].view()[pos])) for c in self.columns
            }
            for blocks, rule_keys in zip(self._blocks, self._keys(old_values), strict=True):
                for key in rule_keys:
                    blocks.discard(key, pos)
            old_neighbours = self._unlink_all(pos)
            old_members = self._component([pos, *old_neighbours])
            previous = {p: self._entity[p] for p in old_members}
            cand = self._candidates(keys, pos)
            got = self._score(values, cand)
            self._insert(rid, values, keys, pos)
            neighbours = self._connect(pos, cand, got)
            members = sorted(set(old_members) | set(self._component([pos, *neighbours])))
            for p in members:
                previous.setdefault(p, self._entity[p])
            self._relabel(members, previous)
            return self._entity[pos]

    def decide(
        self,
        left_id: str,
        right_id: str,
        decision: str,
        *,
        reviewer: str,
        note: str = "",
    ) -> ReviewDecision:
        """Record a reviewer's decision and re-cluster the records it concerns at once.

        Returns:
            The recorded decision.

        Raises:
            IndexStateError: If either record is not indexed.
            ValidationError: For an invalid decision.
        """
        with self._lock.write():
            a, b = self._pos.get(left_id), self._pos.get(right_id)
            if a is None or b is None:
                raise IndexStateError(f"records {left_id!r} and {right_id!r} must be indexed")
            d = self.review.decide(left_id, right_id, decision,  # type: ignore[arg-type]
                                   reviewer=reviewer, note=note)
            if d.decision == "same":
                self._link(min(a, b), max(a, b), float("inf"))
            else:
                self._adj.unlink(a, b)
            members = self._component([a, b])
            self._relabel(members, {p: self._entity[p] for p in members})
            return d

    def _record_id(self, record: Mapping[str, object]) -> str:
        rid = record.get(self.id_column)
        if rid is None or str(rid) == "":
            raise IndexStateError(f"the record has no {self.id_column!r}: {dict(record)!r}")
        return str(rid)

    def entity_of(self, record_id: str) -> str:
        """Entity id of an indexed record.

        Raises:
            IndexStateError: If the record is not indexed.
        """
        with self._lock.read():
            pos = self._pos.get(record_id)
            if pos is None:
                raise IndexStateError(f"record {record_id!r} is not indexed")
            return self._entity[pos]

    def entities(self) -> dict[str, str]:
        """Record id -> entity id of every indexed record."""
        with self._lock.read():
            entity = list(self._entity)
            return {r: entity[p] for r, p in self._pos.items()}

    def members(self, entity_id: str) -> list[str]:
        """Record ids of an entity, sorted (empty if the entity does not exist)."""
        with self._lock.read():
            entity = list(self._entity)
            return sorted(r for r, p in self._pos.items() if entity[p] == entity_id)

    def links(self, record_id: str) -> dict[str, float]:
        """Records linked to a record, with the link's match weight (inf for "same" decisions)."""
        with self._lock.read():
            pos = self._pos.get(record_id)
            if pos is None:
                raise IndexStateError(f"record {record_id!r} is not indexed")
            return {self._ids[q]: w for q, w in sorted(self._adj.of(pos).items())}

    # -- erasure ----------------------------------------------------------------------------------
    def purge(self, record_ids: Iterable[str]) -> int:
        """Forget records entirely (GDPR erasure): no value, id or decision of theirs stays.

        Records still indexed are removed first, exactly as :meth:`remove` does (clusters they
        held together split; the largest part keeps the id); ids already removed (or unknown)
        are accepted, so ``remove`` then ``purge`` works. Then, under the write lock:

        * the model's term-frequency tables lose the purged records' contributions: for each
          record and table, the count of the record's value of the table's expression drops by
          one (and ``total`` and ``agreement`` follow); a value left with a count under 2 leaves
          the table, as a value seen once does in training. The index then holds an adjusted
          copy of the (immutable) model in :attr:`model`. This assumes the purged records were
          counted when the model was trained (the index holds the training records); counts
          never go below zero.
        * review items and decisions (history included) naming a purged id are dropped;
        * the index is compacted: removed records' positions, their blocking keys and links
          go, and the value dictionary is rebuilt from the values live records use (values of
          records removed or updated earlier go too), as is the per-value memo.

        Stored links and entity ids of the remaining records are not re-scored; only later
        scoring (:meth:`match`, :meth:`add`, :meth:`update`) sees the new term frequencies, so
        a remaining pair's probability changes only through its TF adjustments. The work is
        linear in the index size (one compaction per call): purge in batches.

        Args:
            record_ids: Ids of the records to forget.

        Returns:
            How many records were forgotten (indexed or removed earlier).
        """
        gone = {str(r) for r in record_ids}
        if not gone:
            return 0
        with self._lock.write():
            positions = [p for p, r in enumerate(self._ids) if r in gone]
            if not positions:
                self.review.forget(gone)
                return 0
            forgotten = len({self._ids[p] for p in positions})
            self._forget_tf(positions)
            self._engine = _PairEngine(self.model, self.columns)
            live = [p for p in positions if self._alive.view()[p]]
            if live:
                self._remove_positions(live)
            self.review.forget(gone)
            self.problems = [pr for pr in self.problems if str(pr.record) not in gone]
            self._adopt(self._snapshot())
            self._memo = {}
            self._prep_memo = {}
            self._diff_cache = (0, [])
            return forgotten

    def _remove_positions(self, positions: Sequence[int]) -> None:
        """Remove live records at once; re-cluster what they held together (lock held)."""
        drop = set(positions)
        neighbours: set[int] = set()
        old: set[str] = set()
        for pos in positions:
            neighbours.update(self._unlink_all(pos))
            self._alive.view()[pos] = False
            del self._pos[self._ids[pos]]
            old.add(self._entity[pos])
            self._set_entity(pos, "")
        members = self._component(sorted(neighbours - drop))
        report = IdChangeReport()
        if members:
            self._relabel(members, {p: self._entity[p] for p in members})
            report = self.last_report
        still = {self._entity[p] for p in members}
        vanished = tuple(sorted(old - still - set(report.kept)))
        self.last_report = attrs.evolve(
            report,
            retired=tuple(sorted(set(report.retired) | set(vanished))),
            removed=tuple(sorted(set(report.removed) | set(vanished))),
        )

    def _forget_tf(self, positions: Sequence[int]) -> None:
        """Take these records' values out of the model's term-frequency tables (lock held)."""
        if not self.model.tf:
            return
        memo: dict[tuple[str, str], tuple[str, ...]] = {}
        tables: dict[tuple[int, int], TermFrequencies] = {}
        for key, table in self.model.tf.items():
            expr = parse_expression(table.expression)
            column = self._codes.get(expr.column)
            if column is None:
                tables[key] = table
                continue
            codes = column.view()
            taken: Counter[str] = Counter()
            for p in positions:
                taken.update(_expression_values(expr, self._strings.get(int(codes[p])), memo))
            tables[key] = _tf_without(table, taken)
        self.model = attrs.evolve(self.model, tf=tables)

    # -- persistence ------------------------------------------------------------------------------
    def _snapshot(self) -> IndexSnapshot:
        """Live records only: positions compacted, value dictionary of the used values (lock
        held; ``meta`` is left empty)."""
        alive = self._alive.view().copy()
        n = len(alive)
        new_pos = np.cumsum(alive).astype(np.int64) - 1
        live = np.flatnonzero(alive)
        codes = {c: self._codes[c].view()[live] for c in self.columns}
        codes.update({t: d.view()[live] for t, d in self._derived.items()})
        mask = np.zeros(len(self._strings), dtype=bool)
        for col in codes.values():
            mask[col[col >= 0]] = True
        if mask.all():  # every value in use: codes stay as they are
            blob, offsets = self._strings.compact()
        else:
            blob, offsets = self._strings.subset(np.flatnonzero(mask).astype(np.int64))
            renumber = np.cumsum(mask, dtype=np.int64) - 1
            for c, col in codes.items():
                codes[c] = np.where(col >= 0, renumber[np.maximum(col, 0)], -1).astype(np.int64)
        a, b, ew = self._adj.edges()
        return IndexSnapshot(
            meta={},
            columns=(*self.columns, *self._derived),
            strings=(blob, offsets),
            codes=codes,
            record_ids=[self._ids[p] for p in live.tolist()],
            entity_ids=[self._entity[p] for p in live.tolist()],
            blocks=[bl.csr(alive, new_pos) for bl in self._blocks],
            edge_a=new_pos[a] if n else a,
            edge_b=new_pos[b] if n else b,
            edge_w=ew,
            decisions=self.review.history(),
        )

    def _adopt(self, snap: IndexSnapshot) -> None:
        """Take the records, values, keys and links of a snapshot (not its meta)."""
        n = len(snap.record_ids)
        self._strings = _Strings(*snap.strings)
        self._codes = {c: _Growable(snap.codes[c]) for c in self.columns}
        wanted = self._engine.derived
        # files without them (older saves) derive values on demand
        self._derived = ({t: _Growable(snap.codes[t]) for t in wanted}
                         if all(t in snap.codes for t in wanted) else {})
        self._ids = _Texts(snap.record_ids)
        self._pos = dict(zip(snap.record_ids, range(n), strict=True))
        self._alive = _Growable(np.ones(n, dtype=bool))
        self._entity = _Texts(snap.entity_ids)
        self._blocks = [_Blocks(*b) for b in snap.blocks]
        self._adj = _Links(n, snap.edge_a, snap.edge_b, snap.edge_w)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index (values, blocking keys, links, entity ids, decisions, model) to SQLite.

        Removed records are left out (positions are compacted), and so are values no live
        record uses (the value dictionary is rebuilt).
        """
        with self._lock.read():
            snap = attrs.evolve(
                self._snapshot(),
                meta={
                    "model": self.model.to_dict(),
                    "settings": self.settings.to_dict(),
                    "threshold": self.threshold,
                    "review_band": [self.review.lower, self.review.upper],
                    "reviewing": self.reviewing,
                    "id_column": self.id_column,
                    "prefix": self.prefix,
                    "next_sequence": self.next_sequence,
                    "rules": [r.name for r in self.rules],
                    "pending_review": [it.to_dict() for it in self.review.pending()],
                },
            )
        save_snapshot(path, snap)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> MatchIndex:
        """Read an index written by :meth:`save`.

        Raises:
            IndexStateError: If the file is not a saved match index.
        """
        snap = load_snapshot(path)
        meta = snap.meta
        lower, upper = meta["review_band"]
        review = ReviewQueue(lower, upper, snap.decisions)
        pending = meta.get("pending_review", [])
        if pending:
            review.offer(
                [p["left_id"] for p in pending],
                [p["right_id"] for p in pending],
                [p["probability"] for p in pending],
                [p["explanation"] for p in pending],
            )
        settings = MatchSettings.from_dict(meta["settings"])
        saved_rules = [str(r) for r in meta.get("rules", [])]
        index = cls(
            MatchModel.from_dict(meta["model"]),
            settings,
            threshold=float(meta["threshold"]),
            review=review,
            id_column=str(meta["id_column"]),
            prefix=str(meta["prefix"]),
            adaptive=[r.name for r in settings.blocking
                      if isinstance(r, BlockOn) and r.max_pairs_per_record is not None
                      and r.name in saved_rules],
        )
        index.reviewing = bool(meta.get("reviewing", False))
        if [r.name for r in index.rules] != list(meta.get("rules", [])):
            raise IndexStateError(
                f"{path}: blocking rules {meta.get('rules')} do not fit the settings' "
                f"{[r.name for r in index.rules]}"
            )
        index._adopt(snap)
        index.next_sequence = int(meta["next_sequence"])
        return index
