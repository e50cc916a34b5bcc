"""Merge history: :class:`GoldenStore` records every merge so that it can be undone exactly.

A store holds source records, which entity each belongs to, and each entity's golden record
(always :func:`~crmcore.survivorship.merge` of its current members, so it never drifts). Every
change is a :class:`MergeEvent` in :attr:`GoldenStore.history`:

* :meth:`~GoldenStore.add` - a new record, an entity of its own;
* :meth:`~GoldenStore.merge` - entities become one (the survivor keeps its entity id);
* :meth:`~GoldenStore.unmerge` - records split out of an entity into an entity of their own;
  when they are exactly an entity that was merged in before, it gets its old id back, so the
  golden records before the merge come back exactly;
* :meth:`~GoldenStore.undo` - reverse a merge event;
* :meth:`~GoldenStore.update` - a source record changed: only its entity is re-decided, and the
  event lists the fields whose golden value changed.

Consents given with the records are merged per entity by :func:`merge_consents` from the
records' own consents, so no sequence of merges and unmerges can turn an opt-out into an opt-in.

Related records (activities, deals, tickets, and contacts' account memberships for a store of
accounts) given to :meth:`~GoldenStore.attach` follow the merges: a merge re-points their
references to the survivor (:func:`~crmcore.survivorship.repoint`, listed in the event); undoing
it, or an unmerge that gives a merged-in entity its id back, points them back. Each related
record is kept as attached and re-derived by replaying the merges still in effect, so with no
merge left it is exactly the record attached.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

import attrs

from crmcore.errors import SurvivorshipError
from crmcore.model import Activity, Consent, Contact, Deal, Ticket
from crmcore.survivorship._consent import ConsentMerge, merge_consents
from crmcore.survivorship._golden import GoldenRecord, merge
from crmcore.survivorship._records import SourceRecord
from crmcore.survivorship._relationships import Repoint, Repointed, repoint
from crmcore.survivorship._rules import SurvivorshipRules

EventKind = Literal["add", "merge", "unmerge", "update"]
Membership = tuple[tuple[str, tuple[str, ...]], ...]
Related = Activity | Deal | Ticket | Contact
RelatedKey = tuple[str, str]


@attrs.frozen
class _RepointOp:
    """A merge's re-pointing, as replayed on related records (``merged`` excludes survivor)."""

    seq: int
    survivor: str
    merged: frozenset[str]


def _members(pairs: Iterable[tuple[str, Iterable[str]]]) -> Membership:
    return tuple(sorted((e, tuple(sorted(ids))) for e, ids in pairs))


@attrs.frozen
class MergeEvent:
    """One recorded change of a :class:`GoldenStore`.

    Args:
        seq: Position in the history (0 first).
        kind: ``"add"``, ``"merge"``, ``"unmerge"`` or ``"update"``.
        before: The touched entities before: ``(entity id, record ids)`` pairs, sorted.
        after: The touched entities after.
        changed_fields: For updates: fields whose golden value changed (sorted).
        note: Free text given by the caller (who, why).
        repointed: For merges: the references of attached related records it re-pointed.
    """

    seq: int
    kind: EventKind
    before: Membership
    after: Membership
    changed_fields: tuple[str, ...] = ()
    note: str | None = None
    repointed: tuple[Repoint, ...] = ()


@attrs.frozen
class _Applied:
    record: Any
    changes: tuple[Repoint, ...]


class GoldenStore:
    """Golden records of entities, with a history that makes every merge reversible.

    Args:
        rules: The survivorship rules of the store.
        record_type: What the store's records are (``"contact"`` or ``"account"``): which
            references of attached related records a merge re-points.

    Example:
        >>> import datetime as dt
        >>> s = GoldenStore(SurvivorshipRules())
        >>> _ = s.add(SourceRecord("a", "crm", dt.datetime(2024, 1, 1), {"title": "VP Sales"}))
        >>> _ = s.add(SourceRecord("b", "erp", dt.datetime(2024, 6, 1), {"title": "Director"}))
        >>> s.merge(["a", "b"]).values["title"]
        'Director'
        >>> s.history[-1].kind, s.history[-1].seq
        ('merge', 2)
        >>> [g.values["title"] for g in s.undo(2)]
        ['VP Sales', 'Director']
    """

    def __init__(
        self, rules: SurvivorshipRules, record_type: Literal["contact", "account"] = "contact"
    ) -> None:
        if record_type not in ("contact", "account"):
            raise SurvivorshipError(
                f"record_type must be 'contact' or 'account', not {record_type!r}"
            )
        self.rules = rules
        self.record_type = record_type
        self._attached: dict[RelatedKey, Related] = {}
        self._related: dict[RelatedKey, Related] = {}
        self._ops: list[_RepointOp] = []
        self._records: dict[str, SourceRecord] = {}
        self._consents: dict[str, tuple[Consent, ...]] = {}
        self._entity_of: dict[str, str] = {}
        self._members: dict[str, frozenset[str]] = {}
        self._golden: dict[str, GoldenRecord] = {}
        self._history: list[MergeEvent] = []

    # -- reading -------------------------------------------------------------------------
    @property
    def history(self) -> tuple[MergeEvent, ...]:
        """Every event, oldest first."""
        return tuple(self._history)

    def entities(self) -> tuple[str, ...]:
        """Entity ids, sorted."""
        return tuple(sorted(self._members))

    def golden(self, entity_id: str) -> GoldenRecord:
        """The golden record of an entity.

        Raises:
            SurvivorshipError: For an unknown entity.
        """
        self._need_entity(entity_id)
        return self._golden[entity_id]

    def goldens(self) -> dict[str, GoldenRecord]:
        """Every golden record by entity id."""
        return dict(self._golden)

    def record(self, record_id: str) -> SourceRecord:
        """The current version of a source record."""
        self._need_record(record_id)
        return self._records[record_id]

    def members(self, entity_id: str) -> tuple[str, ...]:
        """Record ids of an entity, sorted."""
        self._need_entity(entity_id)
        return tuple(sorted(self._members[entity_id]))

    def entity_of(self, record_id: str) -> str:
        """The entity a record belongs to."""
        self._need_record(record_id)
        return self._entity_of[record_id]

    def consents(self, entity_id: str) -> ConsentMerge:
        """The merged consents of an entity (from its records' own consents)."""
        members = self.members(entity_id)
        return merge_consents(
            (c for r in members for c in self._consents.get(r, ())), entity_id
        )

    def related(self) -> Repointed:
        """The attached related records as they are now (references re-pointed by the merges
        in effect), in order of attachment; ``changes`` is empty (see the merge events)."""
        groups: dict[type, list[Any]] = {Activity: [], Deal: [], Ticket: [], Contact: []}
        for r in self._related.values():
            groups[type(r)].append(r)
        return Repointed(
            tuple(groups[Activity]), tuple(groups[Deal]), tuple(groups[Ticket]),
            tuple(groups[Contact]),
        )

    # -- changing ------------------------------------------------------------------------
    def attach(
        self,
        *,
        activities: Iterable[Activity] = (),
        deals: Iterable[Deal] = (),
        tickets: Iterable[Ticket] = (),
        contacts: Iterable[Contact] = (),
    ) -> None:
        """Hold related records whose references follow merges, undos and unmerges.

        A record with the type and id of one attached before replaces it. The merges in effect
        are applied to it at once.

        Raises:
            SurvivorshipError: For a record that is not an activity, deal, ticket or contact.
        """
        for r in (*activities, *deals, *tickets, *contacts):
            if not isinstance(r, (Activity, Deal, Ticket, Contact)):
                raise SurvivorshipError(
                    f"attach takes activities, deals, tickets and contacts, not {r!r}"
                )
            key = (type(r).__name__, str(r.id))
            self._attached[key] = r
            self._related[key] = self._replay(r)

    def add(
        self,
        record: SourceRecord,
        *,
        consents: Iterable[Consent] = (),
        entity_id: str | None = None,
        note: str | None = None,
    ) -> GoldenRecord:
        """Add a new source record as an entity of its own (id: ``entity_id`` or the record id).

        Raises:
            SurvivorshipError: If the record id or the entity id is already in use.
        """
        if not isinstance(record, SourceRecord):
            raise SurvivorshipError(f"add takes a SourceRecord, not {type(record).__name__}")
        rid = record.record_id
        if rid in self._records:
            raise SurvivorshipError(f"record {rid!r} is already in the store (use update)")
        eid = rid if entity_id is None else entity_id
        if eid in self._members:
            raise SurvivorshipError(f"entity id {eid!r} is already in use")
        self._records[rid] = record
        self._consents[rid] = tuple(consents)
        self._set(eid, frozenset({rid}))
        self._log("add", (), ((eid, (rid,)),), note=note)
        return self._golden[eid]

    def merge(
        self, entity_ids: Sequence[str], *, survivor: str | None = None, note: str | None = None
    ) -> GoldenRecord:
        """Merge entities into one; the survivor (default: the smallest id) keeps its id.

        Raises:
            SurvivorshipError: For fewer than two distinct entities, an unknown entity, or a
                survivor that is not among them.
        """
        ids = sorted(set(entity_ids))
        if len(ids) < 2:
            raise SurvivorshipError(f"merge needs at least two distinct entities, got {ids}")
        for e in ids:
            self._need_entity(e)
        keep = ids[0] if survivor is None else survivor
        if keep not in ids:
            raise SurvivorshipError(f"survivor {keep!r} is not one of the merged entities {ids}")
        before = _members((e, self._members[e]) for e in ids)
        union = frozenset().union(*(self._members[e] for e in ids))
        for e in ids:
            self._drop(e)
        self._set(keep, union)
        op = _RepointOp(len(self._history), keep, frozenset(ids) - {keep})
        self._ops.append(op)
        changes: list[Repoint] = []
        for key, r in self._related.items():
            done = self._apply(op, r)
            self._related[key] = done.record
            changes.extend(done.changes)
        self._log("merge", before, _members([(keep, union)]), note=note, repointed=changes)
        return self._golden[keep]

    def unmerge(
        self, entity_id: str, record_ids: Iterable[str], *, note: str | None = None
    ) -> tuple[GoldenRecord, GoldenRecord]:
        """Split records out of an entity into an entity of their own.

        The rest keeps the entity id. The split-out entity gets back the id it had when it was
        merged in (when the records are exactly such an entity and the id is free), else the
        smallest of its record ids (made unique with a ``~n`` suffix if needed).

        Returns:
            ``(rest, split)`` golden records.

        Raises:
            SurvivorshipError: If a record is not in the entity, or nothing / everything would
                be split out.
        """
        self._need_entity(entity_id)
        split = frozenset(record_ids)
        members = self._members[entity_id]
        stray = sorted(split - members)
        if stray:
            raise SurvivorshipError(
                f"unmerge: records {stray} are not in entity {entity_id!r}"
            )
        if not split or split == members:
            raise SurvivorshipError(
                f"unmerge of entity {entity_id!r} must split out some but not all records"
            )
        rest = members - split
        new_id = self._split_id(split)
        before = _members([(entity_id, members)])
        self._drop(entity_id)
        self._set(entity_id, rest)
        self._set(new_id, split)
        # an entity that comes back with its id and records gets its references back
        target = (new_id, tuple(sorted(split)))
        if any(e.kind == "merge" and target in e.before for e in self._history):
            ops = [attrs.evolve(op, merged=op.merged - {new_id}) for op in self._ops]
            self._ops = [op for op in ops if op.merged]
            self._replay_all()
        self._log("unmerge", before, _members([(entity_id, rest), (new_id, split)]), note=note)
        return self._golden[entity_id], self._golden[new_id]

    def undo(self, seq: int, *, note: str | None = None) -> tuple[GoldenRecord, ...]:
        """Reverse merge event ``seq``: its entities come back with their ids and records.

        The merged entity must still hold exactly the records of the merge (unmerge by hand
        otherwise). The golden records are re-decided from the current source records, so with
        unchanged sources they equal those before the merge exactly.

        Returns:
            The restored golden records, by entity id.

        Raises:
            SurvivorshipError: If ``seq`` is not a merge, or the entity changed since.
        """
        if not 0 <= seq < len(self._history) or self._history[seq].kind != "merge":
            raise SurvivorshipError(f"event {seq} is not a merge event")
        event = self._history[seq]
        ((eid, ids),) = event.after
        if self._members.get(eid) != frozenset(ids):
            raise SurvivorshipError(
                f"cannot undo merge {seq}: entity {eid!r} no longer holds records {list(ids)}"
            )
        busy = [e for e, _ in event.before if e != eid and e in self._members]
        if busy:
            raise SurvivorshipError(
                f"cannot undo merge {seq}: entity ids {busy} are in use again"
            )
        self._drop(eid)
        for e, rids in event.before:
            self._set(e, frozenset(rids))
        self._ops = [op for op in self._ops if op.seq != seq]
        self._replay_all()
        self._log("unmerge", event.after, event.before, note=note or f"undo {seq}")
        return tuple(self._golden[e] for e, _ in event.before)

    def update(self, record: SourceRecord, *, note: str | None = None) -> MergeEvent:
        """Replace a source record with a new version and re-decide its entity only.

        Returns:
            The event, with the fields whose golden value changed.

        Raises:
            SurvivorshipError: For an unknown record.
        """
        rid = record.record_id
        self._need_record(rid)
        eid = self._entity_of[rid]
        old = self._golden[eid]
        self._records[rid] = record
        self._set(eid, self._members[eid])
        new = self._golden[eid]
        fields = sorted(set(old.values) | set(new.values))
        changed = tuple(f for f in fields if old.values.get(f) != new.values.get(f))
        members = _members([(eid, self._members[eid])])
        return self._log("update", members, members, changed, note=note)

    def set_consents(self, record_id: str, consents: Iterable[Consent]) -> None:
        """Replace the consents of a source record."""
        self._need_record(record_id)
        self._consents[record_id] = tuple(consents)

    # -- internals -----------------------------------------------------------------------
    def _need_entity(self, entity_id: str) -> None:
        if entity_id not in self._members:
            raise SurvivorshipError(f"unknown entity {entity_id!r}")

    def _need_record(self, record_id: str) -> None:
        if record_id not in self._records:
            raise SurvivorshipError(f"unknown record {record_id!r}")

    def _set(self, entity_id: str, members: frozenset[str]) -> None:
        self._members[entity_id] = members
        for r in members:
            self._entity_of[r] = entity_id
        self._golden[entity_id] = merge(
            [self._records[r] for r in sorted(members)], self.rules, entity_id=entity_id
        )

    def _drop(self, entity_id: str) -> None:
        del self._members[entity_id]
        del self._golden[entity_id]

    def _apply(self, op: _RepointOp, record: Related) -> _Applied:
        rt, survivor, merged = self.record_type, op.survivor, op.merged
        if isinstance(record, Activity):
            done = repoint(rt, survivor, merged, activities=[record])
            out: Related = done.activities[0]
        elif isinstance(record, Deal):
            done = repoint(rt, survivor, merged, deals=[record])
            out = done.deals[0]
        elif isinstance(record, Ticket):
            done = repoint(rt, survivor, merged, tickets=[record])
            out = done.tickets[0]
        else:
            done = repoint(rt, survivor, merged, contacts=[record])
            out = done.contacts[0]
        return _Applied(out, done.changes)

    def _replay(self, record: Related) -> Related:
        for op in self._ops:
            record = self._apply(op, record).record
        return record

    def _replay_all(self) -> None:
        self._related = {k: self._replay(r) for k, r in self._attached.items()}

    def _split_id(self, split: frozenset[str]) -> str:
        target = tuple(sorted(split))
        for event in reversed(self._history):
            for e, ids in event.before if event.kind == "merge" else ():
                if ids == target and e not in self._members:
                    return e
        base = target[0]
        candidate, n = base, 1
        while candidate in self._members:
            candidate, n = f"{base}~{n}", n + 1
        return candidate

    def _log(
        self,
        kind: EventKind,
        before: Membership,
        after: Membership,
        changed: tuple[str, ...] = (),
        *,
        note: str | None = None,
        repointed: Sequence[Repoint] = (),
    ) -> MergeEvent:
        event = MergeEvent(
            len(self._history), kind, before, after, changed, note, tuple(repointed)
        )
        self._history.append(event)
        return event

    def __repr__(self) -> str:
        return (
            f"GoldenStore({len(self._records)} records, {len(self._members)} entities, "
            f"{len(self._history)} events)"
        )

    def __len__(self) -> int:
        return len(self._members)

    def snapshot(self) -> dict[str, Any]:
        """Entity id -> sorted record ids (for comparisons and persistence)."""
        return {e: tuple(sorted(m)) for e, m in sorted(self._members.items())}
