"""Clerical review: a queue for uncertain pairs, and decisions that later runs respect.

Pairs whose match probability lies in the review band ``lower <= p < upper`` go to a
:class:`ReviewQueue` with their explanation. A reviewer records a :class:`ReviewDecision`
(``"same"`` or ``"different"``, who and when). Later runs respect the decisions through
:func:`cluster_with_decisions`:

* a ``"different"`` decision is never overridden: the pair's edge is removed before clustering, and
  if a chain of other links still joins the two records, the chain is cut at its **weakest edge**
  (lowest match weight; ties: the edge nearest the record of the pair that comes first in the
  input, on the shortest path found by breadth-first search), again and again until the two
  records are apart;
* a ``"same"`` decision forces a link (an edge of infinite weight);
* if only ``"same"`` decisions join two records decided ``"different"`` (reviewers contradicted
  each other), the ``"different"`` decision still wins; the forced edge is cut and the pair is
  reported in :attr:`ConstrainedClusters.conflicts`.

When a pair is decided twice, the latest decision counts; the full history is kept.

Stale "not a match" flags: a decision can carry a fingerprint of each record's compared values
when it was taken (:func:`record_fingerprints`; ``ReviewQueue.decide(..., fingerprints=...)``).
A "different" decision whose record has since changed in a compared field no longer holds
(:func:`stale_decisions`): :meth:`ReviewQueue.reopen` sends the pair back to review, and batch
runs (``dedupe(..., decisions=...)``) leave it out, so records that came to look alike are not
kept apart forever by an old answer about different data. Batch runs and the real-time index
apply decisions through the same function (:func:`cluster_with_decisions`; batch runs through
:func:`respect_decisions`, which feeds it the links the clustering kept).

Example:
    >>> q = ReviewQueue(lower=0.3, upper=0.9)
    >>> q.offer(["a", "b"], ["c", "d"], [0.5, 0.95], [{"email": "same domain"}, {}])
    1
    >>> d = q.decide("a", "c", "different", reviewer="ann")
    >>> q.pending(), q.decision_for("c", "a").decision
    ([], 'different')
"""

from __future__ import annotations

import hashlib
import itertools
import math
import threading
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.errors import FieldProblem, ValidationError
from crmcore.io._arrow import unique_sorted
from crmcore.matching._cluster import connected_components, id_ranks, pooled_labels
from crmcore.matching._model import MatchModel
from crmcore.matching._predict import ScoredPairs
from crmcore.matching._settings import ClusterOptions
from crmcore.model import DecodeContext, SpecCodec, SpecField

Decision = Literal["same", "different"]
_DECISIONS = ("same", "different")
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def _pair(left: str, right: str) -> tuple[str, str]:
    return (left, right) if left <= right else (right, left)


def _check_decision(_inst: object, _attr: object, value: str) -> None:
    if value not in _DECISIONS:
        raise ValidationError(
            FieldProblem("decision", value, "review.decision", "must be 'same' or 'different'")
        )


def _check_reviewer(_inst: object, _attr: object, value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(
            FieldProblem("reviewer", value, "review.reviewer", "a reviewer name is required")
        )


def _check_when(_inst: object, _attr: object, value: datetime) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValidationError(
            FieldProblem("decided_at", value, "review.tz_aware", "must be a tz-aware datetime")
        )


def _check_ids(inst: Any, _attr: object, value: str) -> None:
    if not isinstance(value, str) or not value:
        raise ValidationError(FieldProblem("record_id", value, "review.id", "must be non-empty"))


@attrs.frozen
class ReviewItem:
    """A pair waiting for a reviewer.

    Attributes:
        left_id: One record id (the smaller of the two).
        right_id: The other record id.
        probability: Match probability when the pair was queued.
        explanation: JSON-friendly explanation of the score (comparison -> contribution ...).
    """

    left_id: str = attrs.field(validator=_check_ids)
    right_id: str = attrs.field(validator=_check_ids)
    probability: float
    explanation: Mapping[str, Any] = attrs.field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict."""
        return REVIEW_ITEMS.to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReviewItem:
        """Build an item from :meth:`to_dict` output.

        Raises:
            SerializationError: Listing every problem (key, value, rule) in ``problems``.
        """
        item: ReviewItem = REVIEW_ITEMS.from_dict(data)
        return item


@attrs.frozen
class ReviewDecision:
    """A reviewer's decision about one pair of records.

    Attributes:
        left_id: One record id (stored as the smaller of the two).
        right_id: The other record id.
        decision: ``"same"`` or ``"different"``.
        reviewer: Who decided.
        decided_at: When (tz-aware).
        note: Free text.
        left_fingerprint: Fingerprint of the left record's compared values when decided
            (:func:`record_fingerprints`; empty when unknown: the decision never goes stale).
        right_fingerprint: Same for the right record.
    """

    left_id: str = attrs.field(validator=_check_ids)
    right_id: str = attrs.field(validator=_check_ids)
    decision: str = attrs.field(validator=_check_decision)
    reviewer: str = attrs.field(validator=_check_reviewer)
    decided_at: datetime = attrs.field(validator=_check_when)
    note: str = ""
    left_fingerprint: str = ""
    right_fingerprint: str = ""

    def fingerprint_of(self, record_id: str) -> str:
        """The stored fingerprint of one of the pair's records ("" when unknown)."""
        return self.left_fingerprint if record_id == self.left_id else self.right_fingerprint

    @property
    def pair(self) -> tuple[str, str]:
        """The unordered pair as ``(smaller id, larger id)``."""
        return _pair(self.left_id, self.right_id)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict (ISO 8601 time)."""
        return REVIEW_DECISIONS.to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReviewDecision:
        """Build a decision from :meth:`to_dict` output (payloads without fingerprints, written
        before they were kept, still load).

        Raises:
            SerializationError: Listing every problem (key, value, rule) in ``problems``.
        """
        decision: ReviewDecision = REVIEW_DECISIONS.from_dict(data)
        return decision


def _text(family: str, key: str) -> SpecField:
    return SpecField(decode=SpecCodec.typed(str, f"{family}.{key}", "expected a string"))


def _decode_time(raw: Any, ctx: DecodeContext) -> Any:
    try:
        when = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        ctx.problem(raw, "decision.decided_at", "expected an ISO 8601 time with its offset")
        return SpecCodec.MISSING
    return when


def _decode_fingerprint(raw: Any, ctx: DecodeContext) -> Any:
    if raw is None:  # written as null by hand: unknown
        return ""
    if not isinstance(raw, str):
        ctx.problem(raw, "decision.fingerprint", "expected a string")
        return SpecCodec.MISSING
    return raw


def _decode_probability(raw: Any, ctx: DecodeContext) -> Any:
    if raw is None:  # a reopened item's probability is NaN, which JSON writers may null
        return math.nan
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        ctx.problem(raw, "item.probability", "expected a number")
        return SpecCodec.MISSING
    return float(raw)


#: Dict forms of review decisions and queued items (index files, queues a host stores).
REVIEW_DECISIONS = SpecCodec("decision", key=None, noun="review decision",
                             catch=(TypeError, ValueError, ValidationError))
REVIEW_DECISIONS.register(ReviewDecision, fields={
    "left_id": _text("decision", "left_id"),
    "right_id": _text("decision", "right_id"),
    "decision": _text("decision", "decision"),
    "reviewer": _text("decision", "reviewer"),
    "decided_at": SpecField(encode=lambda t: t.isoformat(), decode=_decode_time),
    "note": _text("decision", "note"),
    "left_fingerprint": SpecField(decode=_decode_fingerprint),
    "right_fingerprint": SpecField(decode=_decode_fingerprint),
})  # fmt: skip
REVIEW_ITEMS = SpecCodec("item", key=None, noun="review item",
                         catch=(TypeError, ValueError, ValidationError))
REVIEW_ITEMS.register(ReviewItem, fields={
    "left_id": _text("item", "left_id"),
    "right_id": _text("item", "right_id"),
    "probability": SpecField(decode=_decode_probability),
    "explanation": SpecField(encode=dict, decode=SpecCodec.typed(
        dict, "item.explanation", "expected an object")),
})  # fmt: skip


class ReviewQueue:
    """Pairs waiting for clerical review, and the decisions taken (thread-safe).

    Args:
        lower: Lowest probability that is reviewed (inclusive).
        upper: Probability from which a pair is a match without review (exclusive).
        decisions: Decisions taken earlier (e.g. loaded from a store), oldest first.
        reopened: Those of ``decisions`` that were sent back to review (:meth:`reopened` of
            the queue being restored): they stay in the history but do not count.
        pending: Items waiting for review (:meth:`pending` of the queue being restored),
            reopened items with their NaN probability included; a pair decided (and not
            reopened) is not queued.

    Raises:
        ValidationError: If the band is not ``0 <= lower < upper <= 1``.
    """

    def __init__(
        self,
        lower: float = 0.5,
        upper: float = 0.95,
        decisions: Iterable[ReviewDecision] = (),
        *,
        reopened: Iterable[ReviewDecision] = (),
        pending: Iterable[ReviewItem] = (),
    ) -> None:
        if not (0.0 <= lower < upper <= 1.0):
            raise ValidationError(
                FieldProblem(
                    "lower/upper", (lower, upper), "review.band", "need 0 <= lower < upper <= 1"
                )
            )
        self.lower = float(lower)
        self.upper = float(upper)
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], ReviewItem] = {}
        self._history: list[ReviewDecision] = []
        self._latest: dict[tuple[str, str], ReviewDecision] = {}
        self._by_id: dict[str, set[tuple[str, str]]] = {}  # decided pairs per record
        self._pending_by_id: dict[str, set[tuple[str, str]]] = {}
        self._reopened: set[tuple[tuple[str, str], datetime]] = {
            (d.pair, d.decided_at) for d in reopened
        }
        for d in decisions:
            self._record(d)
        for item in pending:
            if (item.left_id, item.right_id) not in self._latest:
                self._queue(item)

    def _record(self, decision: ReviewDecision) -> None:
        self._history.append(decision)
        for rid in decision.pair:
            self._by_id.setdefault(rid, set()).add(decision.pair)
        if (decision.pair, decision.decided_at) in self._reopened:
            # sent back to review (stale): it stays in the history only, and the pair has no
            # decision until a later one (an earlier one it overrode does not come back)
            self._latest.pop(decision.pair, None)
            return
        self._latest[decision.pair] = decision
        self._unqueue(decision.pair)

    def _queue(self, item: ReviewItem) -> None:
        key = (item.left_id, item.right_id)
        self._pending[key] = item
        for rid in key:
            self._pending_by_id.setdefault(rid, set()).add(key)

    def _unqueue(self, key: tuple[str, str]) -> bool:
        if self._pending.pop(key, None) is None:
            return False
        for rid in key:
            keys = self._pending_by_id.get(rid)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._pending_by_id[rid]
        return True

    def in_band(self, probability: float) -> bool:
        """Whether a probability falls in the review band."""
        return self.lower <= probability < self.upper

    def offer(
        self,
        left_ids: Sequence[str],
        right_ids: Sequence[str],
        probabilities: Sequence[float] | FloatArray,
        explanations: Sequence[Mapping[str, Any]] | None = None,
    ) -> int:
        """Queue the pairs in the review band that nobody has decided yet.

        A pair offered again replaces its pending item (new probability and explanation).

        Args:
            left_ids: Record ids of one side.
            right_ids: Record ids of the other side, aligned.
            probabilities: Match probability of each pair.
            explanations: JSON-friendly explanation of each pair, aligned (optional).

        Returns:
            How many pairs are now queued from this offer.
        """
        probs = np.asarray(probabilities, dtype=np.float64)
        if not (len(left_ids) == len(right_ids) == len(probs)):
            raise ValidationError(
                FieldProblem("pairs", len(probs), "review.aligned", "ids and probabilities differ")
            )
        hits = np.flatnonzero((probs >= self.lower) & (probs < self.upper)).tolist()
        queued = 0
        with self._lock:
            for i in hits:
                key = _pair(str(left_ids[i]), str(right_ids[i]))
                if key in self._latest:
                    continue
                expl = dict(explanations[i]) if explanations is not None else {}
                before = self._pending.get(key)
                if before is not None and "reopened" in before.explanation:
                    expl["reopened"] = before.explanation["reopened"]  # still says why
                self._queue(ReviewItem(key[0], key[1], float(probs[i]), expl))
                queued += 1
        return queued

    def pending(self) -> list[ReviewItem]:
        """Pairs waiting for a decision, most uncertain (closest to 0.5) first, then by ids."""
        with self._lock:
            items = list(self._pending.values())
        return sorted(items, key=lambda it: (abs(it.probability - 0.5), it.left_id, it.right_id))

    def decide(
        self,
        left_id: str,
        right_id: str,
        decision: Decision,
        *,
        reviewer: str,
        at: datetime | None = None,
        note: str = "",
        fingerprints: Mapping[str, str] | None = None,
    ) -> ReviewDecision:
        """Record a decision about a pair (queued or not); the latest decision counts.

        Args:
            left_id: One record id.
            right_id: The other record id.
            decision: ``"same"`` or ``"different"``.
            reviewer: Who decided.
            at: When (tz-aware); now in UTC by default.
            note: Free text.
            fingerprints: Record id -> fingerprint of its compared values now
                (:func:`record_fingerprints`, e.g. ``result.fingerprints([a, b])``); kept
                with the decision so that :func:`stale_decisions` can tell when a record
                changed since.

        Returns:
            The recorded decision.

        Raises:
            ValidationError: For an unknown decision, an empty reviewer, a naive time or a pair
                of a record with itself.
        """
        if left_id == right_id:
            raise ValidationError(
                FieldProblem("right_id", right_id, "review.distinct", "a pair needs two records")
            )
        a, b = _pair(left_id, right_id)
        fps = fingerprints or {}
        d = ReviewDecision(
            a, b, decision, reviewer, at or datetime.now(UTC), note,
            left_fingerprint=fps.get(a, ""), right_fingerprint=fps.get(b, ""),
        )
        with self._lock:
            self._record(d)
        return d

    def reopen(self, current: Mapping[str, str]) -> list[ReviewItem]:
        """Send stale "different" decisions back to review (see :func:`stale_decisions`).

        The decisions stay in the history but no longer count; each pair is queued again with
        an explanation saying which record changed and who had decided what, when. A later
        decision about the pair counts as usual.

        Args:
            current: Record id -> fingerprint of its compared values now.

        Returns:
            The items queued again.
        """
        with self._lock:
            keys: set[tuple[str, str]] = set()
            for rid in current:
                keys.update(self._by_id.get(rid, ()))
            stale = stale_decisions((self._latest[k] for k in sorted(keys)
                                     if k in self._latest), current)
            items = []
            for d in stale:
                changed = [r for r in d.pair
                           if d.fingerprint_of(r) and current.get(r, d.fingerprint_of(r))
                           != d.fingerprint_of(r)]
                item = ReviewItem(d.left_id, d.right_id, math.nan, {
                    "reopened": (
                        f"record {' and '.join(changed)} changed in a compared field since "
                        f"{d.reviewer} decided {d.decision!r} on {d.decided_at.isoformat()}"
                    ),
                })
                self._reopened.add((d.pair, d.decided_at))
                del self._latest[d.pair]
                self._queue(item)
                items.append(item)
            return items

    def withdraw(
        self,
        pairs: Iterable[tuple[str, str]] = (),
        *,
        naming: Iterable[str] = (),
    ) -> list[ReviewItem]:
        """Take pending items off the queue (decisions are kept).

        For pairs that are no longer what was queued: the real-time index withdraws a record's
        items when it is updated (its pairs are scored again and re-offered when still in the
        band) or removed, and a pair's item when its block closes (the pair is no longer
        compared, as in batch).

        Args:
            pairs: Pairs of record ids (either order).
            naming: Every pending pair naming one of these records.

        Returns:
            The items withdrawn, by pair.
        """
        with self._lock:
            keys = {_pair(a, b) for a, b in pairs}
            for rid in naming:
                keys.update(self._pending_by_id.get(rid, ()))
            out = [self._pending[k] for k in sorted(keys) if k in self._pending]
            for item in out:
                self._unqueue((item.left_id, item.right_id))
            return out

    def decision_for(self, left_id: str, right_id: str) -> ReviewDecision | None:
        """The latest decision about a pair, if any."""
        with self._lock:
            return self._latest.get(_pair(left_id, right_id))

    def decisions(self) -> list[ReviewDecision]:
        """The latest decision of every decided pair, sorted by pair."""
        with self._lock:
            return [self._latest[k] for k in sorted(self._latest)]

    def decisions_about(self, record_ids: Iterable[str]) -> list[ReviewDecision]:
        """The latest decision of every decided pair naming one of these records, by pair."""
        with self._lock:
            keys: set[tuple[str, str]] = set()
            for rid in record_ids:
                keys.update(self._by_id.get(rid, ()))
            return [self._latest[k] for k in sorted(keys) if k in self._latest]

    def pending_about(self, record_ids: Iterable[str]) -> list[ReviewItem]:
        """The pending items naming one of these records, by pair."""
        with self._lock:
            keys: set[tuple[str, str]] = set()
            for rid in record_ids:
                keys.update(self._pending_by_id.get(rid, ()))
            return [self._pending[k] for k in sorted(keys)]

    def forget(self, record_ids: Iterable[str]) -> int:
        """Drop every pending item and every decision (history included) naming these records.

        For erasure: afterwards the queue holds nothing about them, not even their ids.

        Returns:
            How many pending items and decisions (history entries) were dropped.
        """
        gone = set(record_ids)
        with self._lock:
            before = len(self._pending) + len(self._history)
            pending = [v for k, v in self._pending.items() if not gone & set(k)]
            history = [d for d in self._history if not gone & set(d.pair)]
            self._history = []
            self._latest = {}
            self._by_id = {}
            self._pending = {}
            self._pending_by_id = {}
            self._reopened = {k for k in self._reopened if not gone & set(k[0])}
            for d in history:
                self._record(d)
            for item in pending:  # after the history: an item reopened after a decision stays
                if (item.left_id, item.right_id) not in self._latest:
                    self._queue(item)
            return before - len(self._pending) - len(self._history)

    def __len__(self) -> int:
        """Number of decided pairs."""
        with self._lock:
            return len(self._latest)

    def history(self) -> list[ReviewDecision]:
        """Every decision ever recorded, oldest first."""
        with self._lock:
            return list(self._history)

    def reopened(self) -> list[ReviewDecision]:
        """The decisions of the history sent back to review (stale), oldest first: with
        :meth:`history` and :meth:`pending` they restore the queue as it is
        (``ReviewQueue(lower, upper, history, reopened=..., pending=...)``)."""
        with self._lock:
            return [d for d in self._history if (d.pair, d.decided_at) in self._reopened]


@attrs.frozen(eq=False)
class ConstrainedClusters:
    """Clusters that respect review decisions.

    Attributes:
        labels: Cluster label of each record (the smallest position in its cluster).
        cut_edges: Pairs of record ids whose link was cut to keep "different" pairs apart.
        conflicts: "different" pairs that only "same" decisions joined (the "different" won).
        cut_for: For each cut edge, the cannot-link pair (ids) it was cut to keep apart.
    """

    labels: IntArray
    cut_edges: tuple[tuple[str, str], ...] = ()
    conflicts: tuple[tuple[str, str], ...] = ()
    cut_for: tuple[tuple[str, str], ...] = ()


def _path(
    adj: dict[int, dict[int, float]], a: int, b: int, key: Sequence[str]
) -> list[int] | None:
    """Shortest path from ``a`` to ``b`` (breadth-first, neighbours in record-id order)."""
    prev: dict[int, int] = {a: a}
    todo = deque([a])
    while todo:
        x = todo.popleft()
        if x == b:
            out = [b]
            while out[-1] != a:
                out.append(prev[out[-1]])
            return out[::-1]
        for y in sorted(adj.get(x, {}), key=key.__getitem__):
            if y not in prev:
                prev[y] = x
                todo.append(y)
    return None


def _pairs_array(pairs: tuple[IntArray, IntArray] | None) -> tuple[IntArray, IntArray]:
    if pairs is None:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    a = np.asarray(pairs[0], dtype=np.int64)
    b = np.asarray(pairs[1], dtype=np.int64)
    if a.shape != b.shape:
        raise ValidationError(
            FieldProblem("apart", (len(a), len(b)), "review.aligned", "apart arrays differ")
        )
    keep = a != b
    return np.minimum(a, b)[keep], np.maximum(a, b)[keep]


def _member(values: IntArray, reference: IntArray) -> npt.NDArray[np.bool_]:
    """``np.isin(values, reference)`` for a short reference: a binary search per value instead
    of sorting both arrays together."""
    ref = unique_sorted(reference)
    if len(ref) == 0:
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(ref, values), len(ref) - 1)
    found: npt.NDArray[np.bool_] = ref[at] == values
    return found


def _pool(
    record_ids: Sequence[str], lo: IntArray, hi: IntArray, w: FloatArray, *, threshold: float,
    options: ClusterOptions,
) -> tuple[IntArray, IntArray, FloatArray]:
    """The links inside the pooled method's clusters (one link per pair: the strongest)."""
    n = len(record_ids)
    if len(lo):
        order = np.lexsort((-w, hi, lo))
        lo, hi, w = lo[order], hi[order], w[order]
        first = np.concatenate(([True], (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])))
        lo, hi, w = lo[first], hi[first], w[first]
    labels = pooled_labels(n, lo, hi, w, threshold=threshold, options=options,
                           rank=id_ranks(record_ids))
    inside = labels[lo] == labels[hi]
    return lo[inside], hi[inside], w[inside]


def cluster_with_decisions(
    record_ids: Sequence[str],
    left: IntArray,
    right: IntArray,
    weights: FloatArray,
    decisions: Iterable[ReviewDecision],
    *,
    apart: tuple[IntArray, IntArray] | None = None,
    threshold: float | None = None,
    options: ClusterOptions | None = None,
) -> ConstrainedClusters:
    """Cluster linked records by connected components, respecting decisions and cannot-links.

    Review decisions and other cannot-link pairs (``apart``: e.g. pairs a ``"non_match"`` rule
    vetoed) are respected.

    Cannot-link pairs ("different" decisions and ``apart``) are handled alike: the pair's own
    link is dropped, and while a chain of links still joins the two records, the weakest link
    of the shortest chain is cut. The result depends only on the links, their weights, the
    pairs and the record ids, not on the positions: pairs are taken in record-id order (the
    smaller id first), a chain is searched from the smaller id with neighbours in id order, and
    of equally weak links the one nearest that record is cut. So the real-time index, which
    re-clusters a few records at a time in its own positions, finds the batch clusters.
    Only pairs whose two records end up linked are worked on one by one; the rest is columnar.

    With the ``pooled`` cluster method (``options``), the links (pairs decided "different"
    left out, "same" pairs as links of infinite weight) are first clustered by
    :func:`~crmcore.matching._cluster.pooled_labels` at ``threshold``, ties broken by record
    id, and only the links inside its clusters are kept; cannot-link pairs are then kept apart
    as above.

    Args:
        record_ids: Id of each record (position = node).
        left: Position of one record of each linked pair (pairs above the match threshold).
        right: Position of the other record, aligned.
        weights: Match weight of each pair (used to find the weakest link of a chain).
        decisions: Review decisions (latest per pair counts); those naming unknown records are
            ignored here (they still hold for later runs that include them).
        apart: More cannot-link pairs, as two aligned position arrays (the vetoed pairs of
            :meth:`ScoredPairs.vetoed`); a "same" decision about such a pair
            does not join it (reported as a conflict when only "same" links join it).
        threshold: Probability of a strong link (the pooled method; default 1: none).
        options: Cluster options: with ``method="pooled"``, links are pooled first (the links
            given are then all pairs at or above ``options.link_floor(threshold)``).

    Returns:
        Labels per record, the edges cut and the contradictions found.
    """
    n = len(record_ids)
    latest: dict[tuple[str, str], ReviewDecision] = {}
    for d in decisions:
        latest[d.pair] = d
    same: list[tuple[int, int]] = []
    diff: list[tuple[int, int]] = []
    pos = {r: i for i, r in enumerate(record_ids)} if latest else {}
    for (ida, idb), d in sorted(latest.items()):
        if ida in pos and idb in pos:
            pa, pb = pos[ida], pos[idb]
            (same if d.decision == "same" else diff).append((min(pa, pb), max(pa, pb)))
    apart_lo, apart_hi = _pairs_array(apart)
    diff_lo = np.concatenate([np.array([a for a, _ in diff], dtype=np.int64), apart_lo])
    diff_hi = np.concatenate([np.array([b for _, b in diff], dtype=np.int64), apart_hi])
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    w = np.asarray(weights, dtype=np.float64)
    lo, hi = np.minimum(left, right), np.maximum(left, right)
    width = max(n, 1)
    if len(diff_lo):
        keep = ~_member(lo * width + hi, diff_lo * width + diff_hi)
        lo, hi, w = lo[keep], hi[keep], w[keep]
    if same:
        lo = np.concatenate([lo, np.array([a for a, _ in same], dtype=np.int64)])
        hi = np.concatenate([hi, np.array([b for _, b in same], dtype=np.int64)])
        w = np.concatenate([w, np.full(len(same), math.inf)])
    if options is not None and options.method == "pooled":
        lo, hi, w = _pool(record_ids, lo, hi, w, options=options,
                          threshold=1.0 if threshold is None else threshold)
    labels = connected_components(n, lo, hi)
    cuts: list[tuple[str, str]] = []
    cut_for: list[tuple[str, str]] = []
    conflicts: list[tuple[str, str]] = []
    joined = labels[diff_lo] == labels[diff_hi]
    if joined.any():
        # the few cannot-link pairs still joined, in record-id order (smaller id first)
        broken = sorted(
            {(*_pair(record_ids[a], record_ids[b]), a, b)
             for a, b in zip(diff_lo[joined].tolist(), diff_hi[joined].tolist(), strict=True)}
        )
        affected = np.zeros(n, dtype=bool)
        affected[labels[diff_lo[joined]]] = True  # labels are rows: the smallest member
        in_comp = affected[labels[lo]]
        adj: dict[int, dict[int, float]] = {}
        for x, y, wt in zip(lo[in_comp].tolist(), hi[in_comp].tolist(), w[in_comp].tolist(),
                            strict=True):
            best = max(wt, adj.get(x, {}).get(y, -math.inf))
            adj.setdefault(x, {})[y] = best
            adj.setdefault(y, {})[x] = best
        for ida, idb, a, b in broken:
            if record_ids[a] != ida:
                a, b = b, a
            while (path := _path(adj, a, b, record_ids)) is not None:
                steps = list(itertools.pairwise(path))
                x, y = min(steps, key=lambda e: adj[e[0]][e[1]])
                if math.isinf(adj[x][y]):
                    conflicts.append((ida, idb))
                del adj[x][y]
                del adj[y][x]
                cuts.append(_pair(record_ids[x], record_ids[y]))
                cut_for.append((ida, idb))
        kept_lo = np.array([x for x, ys in adj.items() for y in ys if x < y], dtype=np.int64)
        kept_hi = np.array([y for x, ys in adj.items() for y in ys if x < y], dtype=np.int64)
        # only the components worked on change: label their members anew (the smallest
        # member stays the label, as members are in row order)
        members = np.flatnonzero(affected[labels])
        local = connected_components(
            len(members), np.searchsorted(members, kept_lo), np.searchsorted(members, kept_hi)
        )
        labels[members] = members[local]
    return ConstrainedClusters(
        labels=labels, cut_edges=tuple(cuts), conflicts=tuple(sorted(set(conflicts))),
        cut_for=tuple(cut_for),
    )


def record_fingerprints(
    values: Mapping[str, Sequence[str | None]], record_ids: Sequence[str | None],
    wanted: Iterable[str] | None = None,
) -> dict[str, str]:
    """Fingerprint of each record's compared values: a short hash that changes when any does.

    Args:
        values: Column -> value per record (the columns the comparisons read; e.g. prepared
            values, so a change of case or spacing that normalisation removes is no change).
        record_ids: Id of each record, aligned with the values.
        wanted: Only these records (default: every record with an id).

    Returns:
        Record id -> 16 hex digits (BLAKE2b of the column names and values).
    """
    columns = sorted(values)
    pos: dict[str, int] = {}
    for i, rid in enumerate(record_ids):
        if rid is not None:
            pos.setdefault(rid, i)
    ids = list(pos) if wanted is None else [r for r in dict.fromkeys(wanted) if r in pos]
    out: dict[str, str] = {}
    for rid in ids:
        i = pos[rid]
        text = "\x1e".join(
            f"{c}\x1f{'' if values[c][i] is None else values[c][i]}\x1f{values[c][i] is None}"
            for c in columns
        )
        out[rid] = hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()
    return out


def stale_decisions(
    decisions: Iterable[ReviewDecision], current: Mapping[str, str]
) -> list[ReviewDecision]:
    """The "different" decisions a record has outgrown since (stale "not a match" flags).

    A "different" decision is stale when it stored a fingerprint for one of its records and the
    record's current fingerprint differs: the record changed in a compared field after the
    reviewer looked. Records missing from ``current`` and decisions without fingerprints are
    taken as unchanged. "same" decisions never go stale here.

    Args:
        decisions: Decisions (e.g. ``queue.decisions()``).
        current: Record id -> fingerprint now (:func:`record_fingerprints`).

    Returns:
        The stale decisions, in the order given.
    """
    out = []
    for d in decisions:
        if d.decision != "different":
            continue
        for rid, fp in ((d.left_id, d.left_fingerprint), (d.right_id, d.right_fingerprint)):
            now = current.get(rid)
            if fp and now is not None and now != fp:
                out.append(d)
                break
    return out


def respect_decisions(
    record_ids: Sequence[str | None],
    labels: IntArray,
    matches: ScoredPairs,
    decisions: Iterable[ReviewDecision],
    *,
    apart: tuple[IntArray, IntArray] | None = None,
    threshold: float | None = None,
    options: ClusterOptions | None = None,
) -> ConstrainedClusters:
    """Apply review decisions and cannot-link pairs to a batch clustering.

    The links the clustering kept (matched pairs whose two records share a label, i.e. not
    dropped by weak-chain splitting), the decisions and the ``apart`` pairs go through
    :func:`cluster_with_decisions`, the function the real-time index uses too: "same" pairs
    are joined, "different" and ``apart`` pairs are kept apart by cutting the weakest link of
    every chain between them.

    Args:
        record_ids: Id of each record.
        labels: Cluster label of each record before the decisions.
        matches: The pairs at or above the threshold.
        decisions: The decisions to respect (leave stale ones out first, see
            :func:`stale_decisions`).
        apart: More cannot-link pairs as two aligned row arrays (e.g. the vetoed pairs).
        threshold: The run's threshold (the pooled method).
        options: The run's cluster options: with the pooled method, ``matches`` are the pairs
            at or above its weak-link threshold, and all of them go to
            :func:`cluster_with_decisions`, which pools them again with the decisions applied
            (as the real-time index does).

    Returns:
        Labels respecting the decisions, the links cut and the contradictions found.
    """
    lab = np.asarray(labels, dtype=np.int64)
    pooled = options is not None and options.method == "pooled"
    kept = (np.ones(len(matches), dtype=bool) if pooled
            else lab[matches.left] == lab[matches.right])
    ids: Sequence[str]
    if None in record_ids:
        ids = [r if r is not None else f"\x00row{i}" for i, r in enumerate(record_ids)]
    else:
        ids = record_ids  # type: ignore[assignment]  # no None in it
    return cluster_with_decisions(
        ids, matches.left[kept], matches.right[kept], matches.match_weight[kept], decisions,
        apart=apart, threshold=threshold, options=options if pooled else None,
    )


def named_pairs(ids: Sequence[str | None], graph: ScoredPairs) -> ScoredPairs:
    """The pairs without rows that have no id (such a row is an entity of its own)."""
    if None not in ids:  # one C-level scan
        return graph
    no_id = np.fromiter((i is None for i in ids), dtype=bool, count=len(ids))
    return graph.select(~(no_id[graph.left] | no_id[graph.right]))


def vetoed_apart(
    pairs: ScoredPairs, model: MatchModel, labels: IntArray, options: ClusterOptions,
    *, every: bool = False,
) -> tuple[IntArray, IntArray] | None:
    """The vetoed pairs a batch clustering keeps apart (cannot-link), or None when it joined
    none of them (then keeping them apart changes nothing; ``every``: return them all, for
    review decisions whose "same" links may join them).

    Args:
        pairs: The scored candidate pairs.
        model: The model that scored them (its ``"non_match"`` rules are the vetoes).
        labels: Cluster label of each row before the vetoes.
        options: The cluster options (``vetoes_apart``).
        every: Return every vetoed pair, joined or not.

    Returns:
        The vetoed pairs' rows as two aligned arrays, or None.
    """
    if not options.vetoes_apart or not any(r.outcome == "non_match" for r in model.rules):
        return None
    hit = np.flatnonzero(pairs.vetoed(model))
    left, right = pairs.left[hit], pairs.right[hit]
    if not every and not (labels[left] == labels[right]).any():
        return None
    return left, right
