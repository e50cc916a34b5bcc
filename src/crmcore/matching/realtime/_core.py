"""The state a match index keeps and the work on it (callers hold the index's lock).

:class:`IndexCore` holds the stored records (value codes, derived values, block keys), the
clusters and review queue, and does the per-record work :class:`~._index.MatchIndex` composes:
preparing a record as batch does, its block keys, candidates (with ``max_block_size`` counted as
batch counts it), scoring and explaining against candidates with the batch functions, linking,
keeping links right when a write moves a block across its cap, and the records' fingerprints
for review decisions. :class:`~._index.MatchIndex` adds the public front: construction, the
lock, add / update / remove / decide, erasure and persistence.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.errors import FieldProblem
from crmcore.io import Table
from crmcore.matching._blocking import BlockOn
from crmcore.matching._explain import explain_levels
from crmcore.matching._expressions import Expression, Frame, RecordValues, parse_expression
from crmcore.matching._model import MatchModel
from crmcore.matching._pairs import Values
from crmcore.matching._predict import ModelScorer, ScoredPairs, score_pairs, score_records
from crmcore.matching._prepare import prepare_columns
from crmcore.matching._review import ReviewQueue, record_fingerprints
from crmcore.matching._settings import MatchSettings
from crmcore.matching.realtime._clusters import Clusters
from crmcore.matching.realtime._lock import ReadWriteLock
from crmcore.matching.realtime._storage import SEP, Blocks, Growable, Strings, hash_key

IntArray = npt.NDArray[np.int64]
#: (rule index, block key hash) -> the other live records holding that key (capped rules).
Capped = dict[tuple[int, int], IntArray]
MEMO_SIZE = 200_000
#: Candidates up to which a record is scored pair by pair (:func:`score_records`); more go
#: through the columnar batch code, whose fixed cost is then spread over many pairs.
PAIRWISE_MAX = 2000

def key_counts(keys: Iterable[list[list[int]]]) -> Counter[tuple[int, int]]:
    """How many of some records hold each (rule index, block key)."""
    return Counter((ri, k) for per_rule in keys for ri, ks in enumerate(per_rule) for k in ks)


@attrs.frozen(eq=False)
class Scored:
    """Scored candidates and each side's values (for explanations)."""

    scored: ScoredPairs
    lefts: Sequence[Values]
    right: Values


def read_expressions(model: MatchModel) -> list[str]:
    """Every expression the comparisons (and TF tables) read."""
    texts = [e for c in model.comparisons for e in (*c.missing, *(
        x for lv in c.levels for x in lv.expressions))]
    return texts + [t.expression for t in model.tf.values()]


def derived_expressions(model: MatchModel) -> tuple[str, ...]:
    """Expressions applying a function that the comparisons (and TF tables) read, canonical."""
    parsed = {parse_expression(t).text: parse_expression(t) for t in read_expressions(model)}
    return tuple(sorted(t for t, e in parsed.items()
                        if e.function is not None and not e.multi_valued))


class IndexCore:
    """Stored records and the per-record work of a match index (see the module docstring).

    :class:`~._index.MatchIndex` sets every attribute in its constructor.
    """

    model: MatchModel
    settings: MatchSettings
    rules: tuple[BlockOn, ...]
    ignored_rules: tuple[str, ...]
    threshold: float
    link_floor: float
    reviewing: bool
    id_column: str
    columns: tuple[str, ...]
    problems: list[FieldProblem]
    _scorer: ModelScorer
    _veto_table: npt.NDArray[np.bool_] | None
    _clusters: Clusters
    _lock: ReadWriteLock
    _strings: Strings
    _codes: dict[str, Growable]
    _pairwise: bool
    _derived: dict[str, Growable]
    _read_columns: tuple[str, ...]
    _blocks: list[Blocks]
    _rule_exprs: list[tuple[Expression, ...]]
    _memo: dict[tuple[str, str], str | None]
    _key_memo: dict[tuple[str, str], tuple[str, ...]]
    _prep_memo: dict[tuple[str, str], str | None]
    _prep_fns: dict[str, Any]
    _prep_unknown: bool

    @property
    def review(self) -> ReviewQueue:
        """The review queue (its band sends pairs to review; its decisions are respected)."""
        return self._clusters.review
    def _prepare_record(self, record: Mapping[str, object]) -> dict[str, str | None]:
        table = Table.from_records([record])
        prepared, _ = prepare_columns(table, self.settings.prepare, columns=self.columns)
        return {c: (prepared[c][0] if c in prepared else None) for c in self.columns}

    def _prepare(self, record: Mapping[str, object]) -> dict[str, str | None]:
        """Prepared values of one record, as batch prepares them.

        Text values are prepared once per (column, raw value) with the kind's normaliser
        (:data:`~crmcore.matching._prepare.PREPARE_KINDS`) and memoised (a new lead repeats the
        cities, companies and domains of earlier ones); anything else (numbers, keys that are
        not text, unknown kinds) takes the batch path for the whole record.
        """
        if not all(type(k) is str for k in record) or self._prep_unknown:
            return self._prepare_record(record)
        memo = self._prep_memo
        if len(memo) > MEMO_SIZE:
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
        memo = self._key_memo
        if len(memo) > MEMO_SIZE:
            memo.clear()
        out: list[list[int]] = []
        for rule, exprs in zip(self.rules, self._rule_exprs, strict=True):
            keys: list[str] = [""]
            firsts: list[str] = []  # each expression's value (any_order: single-valued)
            for k, expr in enumerate(exprs):
                value = values[expr.column]
                if value is None:
                    keys = []
                    break
                found = memo.get((expr.text, value))
                if found is None:
                    found = memo[(expr.text, value)] = expr.keys(value)
                if not found:
                    keys = []
                    break
                keys = [v if k == 0 else f"{prefix}{SEP}{v}" for prefix in keys for v in found]
                firsts.append(found[0])
            if rule.any_order and keys:  # as BlockOn.record_keys: the values in key order
                keys = [SEP.join(rule.arrange(firsts))]
            out.append([hash_key(k) for k in keys])
        return out

    def _capped(self, keys: list[list[int]], exclude: Sequence[int] = ()) -> Capped:
        """Live records (other than ``exclude``) holding each block key of the record under
        the rules with ``max_block_size``: the blocks whose size decides whether they pair."""
        out: Capped = {}
        for ri, (rule, rule_keys) in enumerate(zip(self.rules, keys, strict=True)):
            if rule.max_block_size is not None:
                for key in rule_keys:
                    out[(ri, key)] = self._block(ri, key, exclude)
        return out

    def _block(self, ri: int, key: int, exclude: Sequence[int] = ()) -> IntArray:
        """Live records (other than ``exclude``) holding block key ``key`` of rule ``ri``."""
        got = self._blocks[ri].lookup(key)
        if got is None:
            return np.zeros(0, dtype=np.int64)
        alive: npt.NDArray[np.bool_] = self._clusters.alive.view()
        out: IntArray = np.asarray(got, dtype=np.int64)[alive[got]]
        if len(exclude):
            out = out[~np.isin(out, np.asarray(exclude, dtype=np.int64))]
        return out

    def _candidates(self, keys: list[list[int]], exclude: int | None,
                    capped: Capped | None = None) -> IntArray:
        """Live records sharing a block with a record of these keys (not ``exclude``, the
        record itself). A block of a rule with ``max_block_size`` counts as batch counts it
        over the indexed records and this one (:meth:`BlockOn.block_used`)."""
        if capped is None:
            capped = self._capped(keys, () if exclude is None else (exclude,))
        found: list[IntArray] = []
        for ri, (rule, blocks, rule_keys) in enumerate(zip(self.rules, self._blocks, keys,
                                                           strict=True)):
            for key in rule_keys:
                if rule.max_block_size is None:
                    got = blocks.lookup(key)
                else:
                    got = capped[(ri, key)]
                    if not rule.block_used(len(got) + 1):
                        continue
                if got is not None and len(got):
                    found.append(np.asarray(got, dtype=np.int64))
        if not found:
            return np.zeros(0, dtype=np.int64)
        cand: IntArray = np.unique(np.concatenate(found))
        alive: npt.NDArray[np.bool_] = self._clusters.alive.view()
        cand = cand[alive[cand]]
        if exclude is not None:
            cand = cand[cand != exclude]
        return cand

    def _stored_keys(self, pos: int) -> list[list[int]]:
        """Block keys of an indexed record, from its stored values."""
        get = self._strings.get
        return self._keys({c: get(int(self._codes[c].view()[pos])) for c in self.columns})

    def _rebalance(self, capped: Capped, before: Counter[tuple[int, int]],
                   after: Counter[tuple[int, int]]) -> set[int]:
        """Keep the links batch would have when a write moves a capped block across its
        ``max_block_size`` (lock held; clusters are re-labelled by the caller).

        ``capped``: the other live records of each block key the write touches; ``before`` /
        ``after``: how many of the written records held each key before and after the write.
        A block that grows over the cap stops pairing its records: their links that no other
        usable block supports go (batch never compares them). A block that shrinks back under
        the cap pairs them again: they are scored (columnar, as batch) and linked at or above
        the link floor, review-band pairs queued. Returns the records whose links changed.
        """
        changed: set[int] = set()
        for (ri, key), others in capped.items():
            rule = self.rules[ri]
            was = bool(rule.block_used(len(others) + before[(ri, key)]))
            now = bool(rule.block_used(len(others) + after[(ri, key)]))
            if was == now or len(others) < 2:
                continue
            changed |= self._open(others) if now else self._close(others)
        return changed

    def _shares_used_block(self, a: int, b: int, keys: dict[int, list[list[int]]]) -> bool:
        """Whether two indexed records share a block key that pairs them in batch."""
        ka = keys.setdefault(a, self._stored_keys(a))
        kb = keys.setdefault(b, self._stored_keys(b))
        for ri, rule in enumerate(self.rules):
            for key in set(ka[ri]) & set(kb[ri]):
                if rule.max_block_size is None:
                    return True
                if rule.block_used(len(self._block(ri, key))):
                    return True
        return False

    def _close(self, members: IntArray) -> set[int]:
        """Drop the links (and stored vetoes) among these records that no usable block
        supports any more: batch does not compare those pairs."""
        clusters = self._clusters
        inside = set(members.tolist())
        keys: dict[int, list[list[int]]] = {}
        changed: set[int] = set()
        for a in sorted(inside):
            for store in (clusters.links, clusters.apart):
                for b in list(store.of(a)):
                    if b > a and b in inside and not self._shares_used_block(a, b, keys):
                        store.unlink(a, b)
                        changed.update((a, b))
        if self.reviewing:  # queued pairs the closed block alone compared leave the queue
            pos = clusters.pos
            gone = [(it.left_id, it.right_id)
                    for it in self.review.pending_about(clusters.ids[p] for p in sorted(inside))
                    if pos.get(it.left_id) in inside and pos.get(it.right_id) in inside
                    and not self._shares_used_block(pos[it.left_id], pos[it.right_id], keys)]
            self.review.withdraw(gone)
        return changed

    def _open(self, members: IntArray) -> set[int]:
        """Score every pair of these records (the earlier one left, as batch) and link them
        at or above the link floor."""
        clusters = self._clusters
        members = np.sort(members)
        get = self._strings.get
        frame = Frame({c: [get(code) for code in self._codes[c].view()[members].tolist()]
                       for c in self.columns})
        i, j = np.triu_indices(len(members), 1)
        scored = score_pairs(self.model, frame, None, i.astype(np.int64), j.astype(np.int64))
        if self.reviewing:
            band = np.flatnonzero((scored.probability >= self.review.lower)
                                  & (scored.probability < self.review.upper))
            self.review.offer(
                [clusters.ids[int(members[i[k]])] for k in band.tolist()],
                [clusters.ids[int(members[j[k]])] for k in band.tolist()],
                scored.probability[band],
                [self._explain(scored, k, frame.row_values(int(i[k])),
                               frame.row_values(int(j[k]))) for k in band.tolist()],
            )
        changed: set[int] = set()
        if self._veto_table is not None:  # vetoed pairs are kept apart, as scored in batch
            for k in np.flatnonzero(self._veto_table[scored.rule]).tolist():
                a, b = int(members[i[k]]), int(members[j[k]])
                clusters.apart.link(a, b, float("-inf"))
                changed.update((a, b))
        for k in np.flatnonzero(scored.probability >= self.link_floor).tolist():
            a, b = int(members[i[k]]), int(members[j[k]])
            if b not in clusters.links.of(a):
                clusters.links.link(a, b, float(scored.match_weight[k]))
                changed.update((a, b))
        return changed

    def _fingerprints(self, positions: Sequence[int]) -> dict[str, str]:
        """Fingerprints of stored records' compared values, as batch computes them
        (:func:`~crmcore.matching._review.record_fingerprints` over the prepared values)."""
        get = self._strings.get
        rows = np.asarray(positions, dtype=np.int64)
        values = {c: [get(code) for code in self._codes[c].view()[rows].tolist()]
                  for c in self.columns}
        return record_fingerprints(values, [self._clusters.ids[p] for p in positions])

    def _reopen_all_stale(self) -> None:
        """Send back to review every "different" decision a record has outgrown (for files
        saved before the reopened decisions were kept with them)."""
        pos = self._clusters.pos
        named = sorted({pos[r] for d in self.review.decisions() if d.decision == "different"
                        for r in d.pair if r in pos})
        if named:
            self.review.reopen(self._fingerprints(named))

    def _reopen_stale(self, pos: int) -> None:
        """Send "different" decisions about a record that changed in a compared field since
        back to review (they no longer keep it apart), as batch leaves them out."""
        rid = self._clusters.ids[pos]
        if any(d.decision == "different" for d in self.review.decisions_about([rid])):
            self.review.reopen(self._fingerprints([pos]))

    def _values_of(self, cand: IntArray) -> list[RecordValues]:
        """Stored values of some records (base columns and held derived expressions), each
        code decoded once."""
        get = self._strings.get
        coded = [(c, self._codes[c].view()[cand].tolist()) for c in self._read_columns]
        coded += [(t, d.view()[cand].tolist()) for t, d in self._derived.items()]
        text = {code: get(code) for _, codes in coded for code in codes}
        memo = self._memo
        return [RecordValues({t: text[codes[j]] for t, codes in coded}, memo)
                for j in range(len(cand))]

    def _score(self, values: Mapping[str, str | None], cand: IntArray) -> Scored | None:
        """Score the record against candidates as batch does: each candidate left, it right.

        Up to ``PAIRWISE_MAX`` candidates are scored pair by pair
        (:func:`~crmcore.matching._predict.score_records`: every level's pairwise test), more
        (or a model with a level kind lacking its own pairwise test) through the columnar
        batch code, whose fixed cost is then spread over many pairs. Returns the scored pairs
        (rows: candidates, then the record) and each side's values.
        """
        k = len(cand)
        if k == 0:
            return None
        if len(self._memo) > MEMO_SIZE:
            self._memo.clear()
        if self._pairwise and k <= PAIRWISE_MAX:
            lefts = self._values_of(cand)
            right = RecordValues({c: values[c] for c in self._read_columns}, self._memo)
            scored = score_records(self.model, lefts, right, scorer=self._scorer)
            return Scored(scored, lefts, right)
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
        return Scored(scored, [frame.row_values(i) for i in range(k)], frame.row_values(k))

    def _explain(
        self, scored: ScoredPairs, i: int, left: Values, right: Values
    ) -> dict[str, Any]:
        """Explanation of scored pair ``i`` (the batch waterfall's numbers, short form)."""
        return explain_levels(
            self.model,
            scored.levels[i].tolist(),
            left,
            right,
            match_weight=float(scored.match_weight[i]),
            probability=float(scored.probability[i]),
            rule=int(scored.rule[i]),
            scorer=self._scorer,
        ).explanation()

    def _encode(self, value: str | None) -> int:
        if value is None:
            return -1
        return self._strings.append(value)

    def _insert(self, record_id: str, values: Mapping[str, str | None], keys: list[list[int]],
                pos: int | None) -> int:
        if pos is None:
            pos = self._clusters.append(record_id)
            for c in self.columns:
                self._codes[c].append(self._encode(values[c]))
        else:
            for c in self.columns:
                self._codes[c].view()[pos] = self._encode(values[c])
        if self._derived:
            side = RecordValues(values, self._memo)
            for t, codes in self._derived.items():
                if codes.n == pos:
                    codes.append(self._encode(side[t]))
                else:
                    codes.view()[pos] = self._encode(side[t])
        for blocks, rule_keys in zip(self._blocks, keys, strict=True):
            for key in rule_keys:
                blocks.add(key, pos)
        return pos

    def _connect(self, pos: int, cand: IntArray, got: Scored | None) -> list[int]:
        """Queue review-band pairs, link a record to its scored candidates per threshold and
        decisions; return the neighbours linked."""
        clusters = self._clusters
        if got is None:
            clusters.add_forced([pos])
            return []
        scored = got.scored
        if self.reviewing:
            band = np.flatnonzero(
                (scored.probability >= self.review.lower)
                & (scored.probability < self.review.upper)
            )
            self.review.offer(
                [clusters.ids[c] for c in cand[band].tolist()],
                [clusters.ids[pos]] * len(band),
                scored.probability[band],
                [self._explain(scored, i, got.lefts[i], got.right) for i in band.tolist()],
            )
        veto = None
        if self._veto_table is not None:
            hit = self._veto_table[scored.rule]
            if hit.any():
                veto = cand[hit]
        return clusters.connect(pos, cand, scored.probability, scored.match_weight,
                                self.link_floor, vetoed=veto)
