"""The consent ledger: append-only consent history and a fast "may we contact them?" check.

A :class:`ConsentEvent` says that a person, for one channel (``email``, ``phone``, ``sms``,
``post`` ...), optionally one contact point (an email address or phone number) and one purpose
(``marketing``, ``sales_outreach``, ``product_updates``, ``data_sharing``), opted in, opted out or
is pending a double opt-in confirmation, on a GDPR Article 6 lawful basis, from a source, with
evidence, captured at a time, effective from a time, maybe until an expiry.

The :class:`ConsentLedger` keeps every event (history is never overwritten) and, next to it, a
current-state index keyed by ``(group, channel, contact point, purpose)`` that is updated on every
append, so :meth:`ConsentLedger.may_contact` is a couple of dict look-ups.

Rules (documented in ``docs/governance.md``):

1. Per (person, channel, contact point, purpose) the newest *effective* event wins: events are
   ordered by ``effective_from``, then ``captured_at``, then restrictiveness (opted out >
   pending > opted in), then append order. Events whose ``effective_from`` is in the future are
   ignored until then.
2. An event without a contact point covers every contact point of that channel; for a given
   contact point the newer of the specific and the blanket winners decides.
3. Expired consent is no consent; pending double opt-in is no consent; no event is no consent,
   except for (purpose, channel) pairs the :class:`ConsentPolicy` documents as covered by
   legitimate interest (an opt-out still wins there).
4. An opt-in counts only if its lawful basis is allowed for the purpose by the policy.
5. The US "do not sell or share" flag blocks the ``data_sharing`` purpose and third-party exports
   (:meth:`ConsentLedger.may_share`), whatever the consent events say.
6. Merges: persons merged into one group are decided over the union of their events. With the
   default ``most_restrictive`` rule, an opt-out that is current for either side at merge time is
   re-stated at the merge time, so only an opt-in newer than the merge overrides it. Unmerges:
   every person leaving or staying in a group keeps every denial in force for the group at the
   unmerge time (opt-outs and pending confirmations are sticky, opt-ins are not), so no
   sequence of merges, unmerges and updates turns an opt-out into an opt-in without a newer
   explicit opt-in.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs
import numpy as np

from crmcore.errors import ConsentError
from crmcore.governance._audit import AuditLog
from crmcore.governance._consent import (
    ANY_CHANNEL,
    DATA_SHARING,
    ConsentEvent,
    ConsentPolicy,
    ConsentVerdict,
    DecisionBatch,
    DecisionReason,
    DoNotSellEvent,
    GroupChange,
    optional_text,
    reject,
    string_value,
    text_value,
)
from crmcore.governance._identity import timestamp
from crmcore.normalize import contact_point_key
from crmcore.survivorship import ConsentStatement, decide_merge

_RANK = {"opted_in": 0, "pending": 1, "opted_out": 2}
_MERGED_BLANKET = 3  # sort rank of a merge decision about a whole channel
_MERGED_POINT = 4  # sort rank of a merge decision about one contact point
_INF = math.inf
_CP_CACHE_SIZE = 1 << 20

# An index entry: (sort key, effective ts, expiry ts, decision if valid, decision if expired,
# event, key3 = (channel, contact point, purpose)). Tuples keep the hot path cheap.
_Entry = tuple[
    tuple[float, float, int, int],
    float,
    float,
    ConsentVerdict,
    ConsentVerdict,
    ConsentEvent,
    tuple[str, str | None, str],
]
_Key = tuple[str, str, str | None, str]
_Statement = ConsentStatement[_Entry]

_REASON_TEXT: dict[DecisionReason, str] = {r: r.value for r in DecisionReason}
_NO_CONSENT = ConsentVerdict(False, DecisionReason.NO_CONSENT)
_DNS = ConsentVerdict(False, DecisionReason.DO_NOT_SELL)
_ERASED = ConsentVerdict(False, DecisionReason.ERASED)
_LI = ConsentVerdict(True, DecisionReason.LEGITIMATE_INTEREST)


def _sort_key(entry: _Entry) -> tuple[float, float, int, int]:
    return entry[0]


def _winner(entries: list[_Entry] | None, t: float) -> _Entry | None:
    if entries is None:
        return None
    for entry in reversed(entries):
        if entry[1] <= t:
            return entry
    return None


class ConsentLedger:
    """Append-only consent history with a current-state index for fast checks.

    Args:
        policy: The :class:`ConsentPolicy` (lawful bases, legitimate interest, merge rule).
        audit: Optional audit log: every append, flag, merge and unmerge is recorded there
            (contact points and evidence go in the erasable payload).
        actor: Actor named in those audit entries.
        region: Default region for phone contact points written without a country code
            (``020 7946 0000`` with ``"GB"``), so they key as their E.164 number.

    Example:
        >>> from datetime import datetime, UTC
        >>> ledger = ConsentLedger()
        >>> _ = ledger.record("p1", "email", "marketing", "opted_in",
        ...                   captured_at=datetime(2024, 1, 1, tzinfo=UTC))
        >>> ledger.may_contact("p1", "email", "marketing", now=datetime(2024, 2, 1, tzinfo=UTC))
        ConsentVerdict(allowed=True, reason=<DecisionReason.OPTED_IN: 'opted_in'>, record_id='c1')
    """

    def __init__(
        self,
        policy: ConsentPolicy | None = None,
        *,
        audit: AuditLog | None = None,
        actor: str = "consent-ledger",
        region: str | None = None,
    ) -> None:
        self.policy = policy or ConsentPolicy()
        self.region = region
        self.audit = audit
        self.actor = actor
        self._events: list[ConsentEvent] = []
        self._ids: set[str] = set()
        self._own: dict[str, list[_Entry]] = {}
        self._inherited: dict[str, list[_Entry]] = {}
        self._derived: dict[str, list[_Entry]] = {}
        self._rep: dict[str, str] = {}
        self._members: dict[str, set[str]] = {}
        self._state: dict[_Key, list[_Entry]] = {}
        self._keys: dict[str, set[_Key]] = {}
        self._dns_events: list[DoNotSellEvent] = []
        self._dns_own: dict[str, list[tuple[float, int, bool]]] = {}
        self._dns_inherited: dict[str, list[tuple[float, int, bool]]] = {}
        self._dns: dict[str, list[tuple[float, int, bool]]] = {}
        self._by_cp: dict[str, set[str]] = {}
        self._erased: set[str] = set()
        self._changes: list[GroupChange] = []
        self._seq = 0
        self._merges = 0  # orders the decisions of merges at one instant
        self._li = frozenset(self.policy.legitimate_interest)
        self._channels = self.policy.channels
        self._cp_cache: dict[tuple[str, str], str] = {}
        self._last_now: tuple[object, float] = (None, 0.0)

    # ------------------------------------------------------------------ appending
    def __len__(self) -> int:
        return len(self._events)

    def record(
        self,
        person_id: str,
        channel: str,
        purpose: str,
        status: str,
        *,
        captured_at: datetime,
        contact_point: str | None = None,
        lawful_basis: str = "consent",
        effective_from: datetime | None = None,
        expires_at: datetime | None = None,
        source: str | None = None,
        evidence: str | None = None,
        id: str | None = None,  # noqa: A002 - mirrors the record field name
    ) -> ConsentEvent:
        """Build a :class:`ConsentEvent` and append it (see :meth:`append`).

        Returns:
            The appended event (with its ``seq``; ``id`` defaults to ``c<seq>``).

        Raises:
            ConsentError: For an unknown channel, purpose, status or lawful basis (naming it).
        """
        self._check_channel(string_value(channel), id)
        event = ConsentEvent(
            id=id if id is not None else f"c{self._seq + 1}",
            person_id=person_id,
            channel=channel,
            purpose=purpose,
            status=status,
            captured_at=captured_at,
            contact_point=(
                None
                if contact_point is None
                else contact_point_key(string_value(channel), contact_point, self.region)
            ),
            lawful_basis=lawful_basis,
            effective_from=effective_from,
            expires_at=expires_at,
            source=source,
            evidence=evidence,
            seq=self._seq + 1,
        )
        return self._append(event)

    def append(self, consent: ConsentEvent | Any) -> ConsentEvent:
        """Append a consent statement; the current-state index is updated at once.

        Args:
            consent: A :class:`ConsentEvent`, or any object with the same attributes (such as
                ``crmcore.model.Consent``).

        Returns:
            The stored event (contact point normalised, ``seq`` set).

        Raises:
            ConsentError: If the statement is invalid or its id is already in the ledger.
        """
        event = consent if isinstance(consent, ConsentEvent) else _coerce(consent)
        cp = event.contact_point
        if cp is not None:
            cp = contact_point_key(event.channel, cp, self.region)
        return self._append(attrs.evolve(event, seq=self._seq + 1, contact_point=cp))

    def _check_channel(self, channel: str, record: str | None = None) -> None:
        """Refuse a channel the policy does not know (a typo would otherwise never match)."""
        if channel not in self._channels:
            reject(
                "channel",
                channel,
                "consent.channel",
                f"unknown channel; allowed: {', '.join(sorted(self._channels))}",
                record,
            )

    def _append(self, event: ConsentEvent) -> ConsentEvent:
        if event.channel not in self._channels:
            self._check_channel(event.channel, event.id)
        if event.id in self._ids:
            raise ConsentError(f"consent event id {event.id!r} is already in the ledger")
        self._seq = event.seq
        cp = event.contact_point
        self._ids.add(event.id)
        self._events.append(event)
        self._erased.discard(event.person_id)
        entry = self._entry(event)
        self._own.setdefault(event.person_id, []).append(entry)
        if cp is not None:
            self._by_cp.setdefault(cp, set()).add(event.person_id)
        self._insert(self._rep.get(event.person_id, event.person_id), entry)
        if self.audit is not None:
            self.audit.record(
                "consent",
                actor=self.actor,
                record_type="consent",
                record_id=event.id,
                field="status",
                new=event.status,
                source=event.source,
                subjects=[event.person_id],
                details={
                    "channel": event.channel,
                    "purpose": event.purpose,
                    "contact_point": event.contact_point,
                    "lawful_basis": event.lawful_basis,
                    "evidence": event.evidence,
                },
            )
        return event

    def extend(self, consents: Iterable[ConsentEvent | Any]) -> list[ConsentEvent]:
        """Append many statements in order; returns the stored events."""
        return [self.append(c) for c in consents]

    def set_do_not_sell(
        self,
        person_id: str,
        flag: bool = True,
        *,
        captured_at: datetime,
        source: str | None = None,
    ) -> DoNotSellEvent:
        """Set (or clear) the US "do not sell or share" flag of a person; history is kept."""
        self._seq += 1
        event = DoNotSellEvent(person_id, flag, captured_at, source, self._seq)
        self._dns_events.append(event)
        item = (timestamp(captured_at), self._seq, flag)
        self._dns_own.setdefault(person_id, []).append(item)
        rep = self._rep.get(person_id, person_id)
        bisect.insort(self._dns.setdefault(rep, []), item)
        if self.audit is not None:
            self.audit.record(
                "do_not_sell",
                actor=self.actor,
                record_type="person",
                record_id=person_id,
                field="do_not_sell",
                new=flag,
                source=source,
                subjects=[person_id],
            )
        return event

    def _entry(self, event: ConsentEvent) -> _Entry:
        eff = timestamp(event.effective)
        cap = timestamp(event.captured_at)
        status = event.status
        exp = _INF
        if status == "opted_in":
            allowed_bases = self.policy.allowed_bases.get(event.purpose, frozenset({"consent"}))
            if event.lawful_basis in allowed_bases:
                ok = ConsentVerdict(True, DecisionReason.OPTED_IN, event.id)
                expired = ConsentVerdict(False, DecisionReason.EXPIRED, event.id)
                if event.expires_at is not None:
                    exp = timestamp(event.expires_at)
            else:
                ok = expired = ConsentVerdict(False, DecisionReason.BASIS_NOT_PERMITTED, event.id)
        elif status == "pending":
            ok = expired = ConsentVerdict(False, DecisionReason.PENDING, event.id)
        else:
            ok = expired = ConsentVerdict(False, DecisionReason.OPTED_OUT, event.id)
        channel = ANY_CHANNEL if event.purpose == DATA_SHARING else event.channel
        key3 = (channel, event.contact_point, event.purpose)
        return ((eff, cap, _RANK[status], event.seq), eff, exp, ok, expired, event, key3)

    def _insert(self, rep: str, entry: _Entry) -> None:
        key: _Key = (rep, *entry[6])
        entries = self._state.get(key)
        if entries is None:
            self._state[key] = [entry]
            self._keys.setdefault(rep, set()).add(key)
        else:
            bisect.insort(entries, entry, key=_sort_key)

    # ------------------------------------------------------------------ checks
    def may_contact(
        self,
        person_id: str,
        channel: str,
        purpose: str,
        *,
        contact_point: str | None = None,
        now: datetime | float | None = None,
    ) -> ConsentVerdict:
        """May we contact this person on this channel for this purpose, now?

        Args:
            person_id: The person (any member of a merged group answers for the group).
            channel: ``email``, ``phone``, ``sms`` ...
            purpose: One of :data:`PURPOSES`.
            contact_point: The address / number to be used; None asks about the channel as a
                whole (only blanket events then count).
            now: The time of the contact (tz-aware datetime or epoch seconds); default: the
                current UTC time. Pass it when checking a batch against one clock reading.

        Returns:
            A :class:`ConsentVerdict` (truthy when allowed) with the reason and deciding event.

        Raises:
            ConsentError: For a channel the policy does not know (``"emial"``).
        """
        if now is None:
            now = datetime.now(UTC)
        last = self._last_now
        if last[0] is now:  # the same clock reading as the previous check
            t = last[1]
        elif isinstance(now, float):
            t = now
        else:
            t = timestamp(now)
            self._last_now = (now, t)
        if contact_point is None and purpose != DATA_SHARING:
            # fast path (the common question): one look-up of the channel-wide history
            rep = self._rep.get(person_id, person_id)
            entries = self._state.get((rep, channel, None, purpose))
            if entries is not None:
                for entry in reversed(entries):
                    if entry[1] <= t:
                        return entry[4] if entry[2] <= t else entry[3]
            return self._decide(person_id, channel, None, purpose, t)
        cp = None
        if contact_point is not None:
            cache = self._cp_cache
            cp = cache.get((channel, contact_point))
            if cp is None:
                if len(cache) >= _CP_CACHE_SIZE:
                    cache.clear()
                cp = cache[(channel, contact_point)] = contact_point_key(
                    channel, contact_point, self.region
                )
        return self._decide(person_id, channel, cp, purpose, t)

    def _decide(
        self, person_id: str, channel: str, cp: str | None, purpose: str, t: float
    ) -> ConsentVerdict:
        if channel not in self._channels:
            self._check_channel(channel)
        rep = self._rep.get(person_id, person_id)
        if purpose == DATA_SHARING:
            if rep in self._dns and self._dns_on(rep, t):
                return _DNS
            channel = ANY_CHANNEL
        state = self._state
        best = None
        entries = state.get((rep, channel, None, purpose))
        if entries is not None:
            for entry in reversed(entries):
                if entry[1] <= t:
                    best = entry
                    break
        if cp is not None:
            entries = state.get((rep, channel, cp, purpose))
            if entries is not None:
                for entry in reversed(entries):
                    if entry[1] <= t:
                        if best is None or entry[0] > best[0]:
                            best = entry
                        break
        if best is None:
            if person_id in self._erased:
                return _ERASED
            if (purpose, channel) in self._li:
                return _LI
            return _NO_CONSENT
        return best[4] if best[2] <= t else best[3]

    def _dns_on(self, rep: str, t: float) -> bool:
        for ts, _seq, flag in reversed(self._dns[rep]):
            if ts <= t:
                return flag
        return False

    def may_share(self, person_id: str, *, now: datetime | float | None = None) -> ConsentVerdict:
        """May this person's data go to a third party (sale / sharing / third-party export)?

        Denied when the "do not sell or share" flag is set; otherwise the ``data_sharing``
        consent of the person decides (data sharing events count whatever their channel).
        """
        return self.may_contact(person_id, ANY_CHANNEL, DATA_SHARING, now=now)

    def do_not_sell(self, person_id: str, *, now: datetime | float | None = None) -> bool:
        """Whether the "do not sell or share" flag is on for the person (or its group).

        ``now`` defaults to the current UTC time.
        """
        t = _epoch(now)
        rep = self._rep.get(person_id, person_id)
        return rep in self._dns and self._dns_on(rep, t)

    def may_contact_many(
        self,
        person_ids: Sequence[str],
        channel: str,
        purpose: str,
        *,
        contact_points: Sequence[str | None] | None = None,
        now: datetime | float | None = None,
    ) -> DecisionBatch:
        """Bulk :meth:`may_contact` over arrays of persons (and contact points).

        Args:
            person_ids: The persons.
            channel: One channel for all.
            purpose: One purpose for all.
            contact_points: One contact point per person (None entries allowed), or None.
            now: The time of the contact (default: the current UTC time).

        Returns:
            A :class:`DecisionBatch` with a boolean ``allowed`` array.

        Raises:
            ConsentError: For a channel the policy does not know.
        """
        self._check_channel(channel)
        t = _epoch(now)
        decide = self._decide
        ids = tuple(map(str, person_ids))
        if contact_points is None and purpose != DATA_SHARING:
            # the fast path of may_contact, inlined: one look-up per person
            rep_of = self._rep.get
            state = self._state.get
            decisions: list[ConsentVerdict] = []
            append = decisions.append
            for p in ids:
                entries = state((rep_of(p, p), channel, None, purpose))
                found = None
                if entries is not None:
                    for entry in reversed(entries):
                        if entry[1] <= t:
                            found = entry[4] if entry[2] <= t else entry[3]
                            break
                append(found if found is not None else decide(p, channel, None, purpose, t))
        elif contact_points is None:
            decisions = [decide(p, channel, None, purpose, t) for p in ids]
        else:
            if len(contact_points) != len(ids):
                raise ConsentError(
                    f"may_contact_many: {len(ids)} persons but {len(contact_points)} contact points"
                )
            cache: dict[str, str] = {}
            cps: list[str | None] = []
            for value in contact_points:
                if value is None:
                    cps.append(None)
                    continue
                norm = cache.get(value)
                if norm is None:
                    norm = cache[value] = contact_point_key(channel, value, self.region)
                cps.append(norm)
            decisions = [decide(p, channel, c, purpose, t) for p, c in zip(ids, cps, strict=True)]
        allowed = np.fromiter((d.allowed for d in decisions), dtype=bool, count=len(decisions))
        text = _REASON_TEXT
        reasons = tuple([text[d.reason] for d in decisions])
        return DecisionBatch(ids, allowed, reasons, tuple(decisions))

    # ------------------------------------------------------------------ history and state
    def history(self, person_id: str | None = None) -> list[ConsentEvent]:
        """Every event appended (for one person, or all), in append order."""
        if person_id is None:
            return list(self._events)
        return [e for e in self._events if e.person_id == person_id]

    def do_not_sell_history(self, person_id: str | None = None) -> list[DoNotSellEvent]:
        """Every "do not sell or share" event (for one person, or all), in append order."""
        return [e for e in self._dns_events if person_id is None or e.person_id == person_id]

    @property
    def changes(self) -> list[GroupChange]:
        """Merges and unmerges seen by the ledger, in order."""
        return list(self._changes)

    def group(self, person_id: str) -> frozenset[str]:
        """The persons currently merged with this one (itself included)."""
        rep = self._rep.get(person_id, person_id)
        return frozenset(self._members.get(rep, {person_id}))

    def current(
        self, person_id: str, *, now: datetime | float | None = None
    ) -> dict[str, ConsentVerdict]:
        """Current decision per ``channel/contact point/purpose`` known for the person's group.

        ``now`` defaults to the current UTC time.
        """
        t = _epoch(now)
        rep = self._rep.get(person_id, person_id)
        out: dict[str, ConsentVerdict] = {}
        for key in sorted(self._keys.get(rep, ()), key=repr):
            _rep, channel, cp, purpose = key
            out[f"{channel}/{cp or '*'}/{purpose}"] = self._decide(
                person_id, channel, cp, purpose, t
            )
        return out

    def person_ids(self) -> set[str]:
        """Every person with at least one event or flag."""
        return set(self._own) | set(self._dns_own)

    def persons_with_contact_point(self, channel: str, value: str) -> set[str]:
        """Persons with an event about this contact point."""
        return set(self._by_cp.get(contact_point_key(channel, value, self.region), ()))

    # ------------------------------------------------------------------ merge / unmerge
    def merge(self, survivor: str, other: str, *, at: datetime) -> None:
        """Merge two persons (and their groups): consent is then decided over both histories.

        Args:
            survivor: The surviving person id (its group keeps its representative).
            other: The person merged into it.
            at: When the merge happened (opt-outs are re-stated at this time under the
                ``most_restrictive`` rule).
        """
        ra = self._rep.get(survivor, survivor)
        rb = self._rep.get(other, other)
        self._changes.append(GroupChange("merge", (survivor, other), at))
        if self.audit is not None:
            self.audit.record(
                "merge",
                actor=self.actor,
                record_type="person",
                record_id=survivor,
                subjects=[survivor, other],
                details={"merged": other},
                at=at,
            )
        if ra == rb:
            return
        t = timestamp(at)
        bumped: list[_Entry] = []
        if self.policy.merge_rule == "most_restrictive":
            self._merges += 1
            bumped = self._merge_decisions(ra, rb, t)
        members = self._members.pop(ra, {ra}) | self._members.pop(rb, {rb})
        for m in members:
            self._rep[m] = ra
        self._members[ra] = members
        self._derived[ra] = self._derived.pop(ra, []) + self._derived.pop(rb, []) + bumped
        self._drop_keys(rb)
        self._rebuild(ra)

    def _side(self, rep: str, key3: tuple[str, str | None, str], t: float) -> list[_Statement]:
        """One merged side's statements about a key at ``t`` (a blanket covers each point).

        A group merged before speaks through its last merge decision (as the statement it
        kept) and the statements newer than that merge.
        """
        channel, cp, purpose = key3
        entries = [
            e
            for bucket in (
                self._state.get((rep, channel, cp, purpose)),
                self._state.get((rep, channel, None, purpose)) if cp is not None else None,
            )
            for e in bucket or ()
            if e[1] <= t
        ]
        cut = max((e[0] for e in entries if e[0][2] > _RANK["opted_out"]), default=None)
        out: list[_Statement] = []
        for e in entries:
            if cut is not None and e[0] < cut:
                continue
            event = e[5]
            if e[0] == cut:
                when = (timestamp(event.effective), timestamp(event.captured_at))
                out.append((event.status, when, event.seq, e))
            else:
                out.append((event.status, e[0][:2], e[0][3], e))
        return out

    def _merge_decisions(self, ra: str, rb: str, t: float) -> list[_Entry]:
        """The merge decision of every key of two groups (:func:`decide_merge`), stated at ``t``.

        A decision is an entry at ``t`` sorted after every statement effective at ``t`` (rank 3
        for a blanket key, 4 for a contact point, whose decision saw the blanket statements;
        then the merge count), so only a statement newer than the merge overrides it.
        """
        keys = {k[1:] for k in self._keys.get(ra, ())} | {k[1:] for k in self._keys.get(rb, ())}
        out: list[_Entry] = []
        for key3 in sorted(keys, key=repr):
            decided = decide_merge([self._side(ra, key3, t), self._side(rb, key3, t)])
            if decided is None:
                continue
            best = decided[0]
            rank = _MERGED_POINT if key3[1] is not None else _MERGED_BLANKET
            out.append(((t, _INF, rank, self._merges), t, best[2], best[3], best[4], best[5], key3))
        return out

    def _denials(self, rep: str, t: float) -> list[_Entry]:
        """The deciding entries of the group's keys at ``t`` that deny, with their own times.

        Used on unmerge: such an entry (opt-out, pending, expired or wrong-basis opt-in) can
        never allow contact later, so every member keeps it.
        """
        out: list[_Entry] = []
        state = self._state
        for key in self._keys.get(rep, ()):
            _r, channel, cp, purpose = key
            best = _winner(state[key], t)
            if cp is not None:
                blanket = _winner(state.get((rep, channel, None, purpose)), t)
                if blanket is not None and (best is None or blanket[0] > best[0]):
                    best = blanket
            if best is None:
                continue
            key3 = (channel, cp, purpose)
            if not (best[4] if best[2] <= t else best[3]).allowed:
                out.append((best[0], best[1], best[2], best[3], best[4], best[5], key3))
        return out

    def unmerge(self, person_id: str, *, at: datetime) -> None:
        """Take a person out of its merged group; opt-outs in force for the group stay with all.

        Raises:
            ConsentError: If the person is not merged with anyone.
        """
        rep = self._rep.get(person_id, person_id)
        members = self._members.get(rep)
        if not members or person_id not in members or len(members) < 2:
            raise ConsentError(f"person {person_id!r} is not merged with anyone")
        self._changes.append(GroupChange("unmerge", (person_id,), at))
        if self.audit is not None:
            self.audit.record(
                "unmerge",
                actor=self.actor,
                record_type="person",
                record_id=person_id,
                subjects=sorted(members),
                details={"left": person_id},
                at=at,
            )
        t = timestamp(at)
        denials = self._denials(rep, t)
        dns = [item for item in self._dns.get(rep, []) if item[0] <= t][-1:]
        dns = [item for item in dns if item[2]]
        for m in members:
            self._inherit(m, denials, dns)
        remaining = members - {person_id}
        self._drop_keys(rep)
        self._members.pop(rep)
        self._derived.pop(rep, None)
        self._rep.pop(person_id, None)
        new_rep = rep if rep in remaining else min(remaining)
        for m in remaining:
            if len(remaining) > 1:
                self._rep[m] = new_rep
            else:
                self._rep.pop(m, None)
        if len(remaining) > 1:
            self._members[new_rep] = remaining
        self._rebuild(new_rep)
        self._rebuild(person_id)

    def _inherit(
        self, person: str, opt_outs: list[_Entry], dns: list[tuple[float, int, bool]]
    ) -> None:
        have = {(e[0], e[6]) for e in self._own.get(person, [])}
        inherited = self._inherited.setdefault(person, [])
        have.update((e[0], e[6]) for e in inherited)
        for e in opt_outs:
            if (e[0], e[6]) not in have:
                have.add((e[0], e[6]))
                inherited.append(e)
        if dns:
            own = set(self._dns_own.get(person, []))
            known = self._dns_inherited.setdefault(person, [])
            for item in dns:
                if item not in own and item not in known:
                    known.append(item)

    def _drop_keys(self, rep: str) -> None:
        for key in self._keys.pop(rep, ()):
            del self._state[key]
        self._dns.pop(rep, None)

    def _rebuild(self, rep: str) -> None:
        self._drop_keys(rep)
        members = self._members.get(rep, {rep})
        entries: list[_Entry] = list(self._derived.get(rep, []))
        dns: list[tuple[float, int, bool]] = []
        for m in members:
            entries.extend(self._own.get(m, ()))
            entries.extend(self._inherited.get(m, ()))
            dns.extend(self._dns_own.get(m, ()))
            dns.extend(self._dns_inherited.get(m, ()))
        entries.sort(key=_sort_key)
        for entry in entries:
            key: _Key = (rep, *entry[6])
            bucket = self._state.get(key)
            if bucket is None:
                self._state[key] = [entry]
                self._keys.setdefault(rep, set()).add(key)
            else:
                bucket.append(entry)
        if dns:
            self._dns[rep] = sorted(set(dns))

    # ------------------------------------------------------------------ erasure / export
    def erase_person(self, person_id: str, *, now: datetime | None = None) -> int:
        """Erase a person's consent history (GDPR Art. 17). Returns the number of events removed.

        The person leaves any merged group first, at ``now`` (tz-aware; default: the current
        UTC time), so the unmerge is on the caller's clock. Opt-outs other persons inherited
        from them are dropped when they name one of the person's contact points, and kept
        without personal data (no contact point, source or evidence) when they cover a whole
        channel. Later checks for the erased id answer ``erased``; block re-imports with a
        suppression list.
        """
        self._cp_cache.clear()
        members = self._members.get(self._rep.get(person_id, person_id))
        if members and len(members) > 1:
            self.unmerge(person_id, at=now if now is not None else datetime.now(UTC))
        removed = [e for e in self._events if e.person_id == person_id]
        self._events = [e for e in self._events if e.person_id != person_id]
        self._dns_events = [e for e in self._dns_events if e.person_id != person_id]
        for e in removed:
            self._ids.discard(e.id)
            if e.contact_point is not None:
                holders = self._by_cp.get(e.contact_point)
                if holders is not None:
                    holders.discard(person_id)
                    if not holders:
                        del self._by_cp[e.contact_point]
        self._own.pop(person_id, None)
        self._inherited.pop(person_id, None)
        self._dns_own.pop(person_id, None)
        self._dns_inherited.pop(person_id, None)
        self._changes = [
            attrs.evolve(
                c, person_ids=tuple("erased" if p == person_id else p for p in c.person_ids)
            )
            for c in self._changes
        ]
        touched: set[str] = set()
        for holder, entries in self._inherited.items():
            if any(x[5].person_id == person_id for x in entries):
                entries[:] = _without_person(entries, person_id)
                touched.add(self._rep.get(holder, holder))
        for rep, entries in self._derived.items():
            if any(x[5].person_id == person_id for x in entries):
                entries[:] = _without_person(entries, person_id)
                touched.add(rep)
        for rep in touched | {person_id}:
            self._rebuild(rep)
        self._erased.add(person_id)
        return len(removed)

    def export_person(self, person_id: str) -> dict[str, Any]:
        """Everything the ledger holds on a person, as JSON-friendly data."""
        return {
            "consent_events": [e.to_dict() for e in self.history(person_id)],
            "do_not_sell": [e.to_dict() for e in self.do_not_sell_history(person_id)],
            "merged_with": sorted(self.group(person_id) - {person_id}),
        }


def _epoch(now: datetime | float | None) -> float:
    """Epoch seconds of a check time (None: the current UTC time)."""
    if now is None:
        return datetime.now(UTC).timestamp()
    return now if isinstance(now, float) else timestamp(now)


def _without_person(entries: list[_Entry], person_id: str) -> list[_Entry]:
    """Entries with the person's own ones dropped (contact point) or scrubbed (whole channel)."""
    out: list[_Entry] = []
    for entry in entries:
        if entry[5].person_id != person_id:
            out.append(entry)
        elif entry[6][1] is None:
            out.append(_scrubbed(entry))
    return out


def _scrubbed(entry: _Entry) -> _Entry:
    event = attrs.evolve(
        entry[5], person_id="erased", contact_point=None, source=None, evidence=None
    )
    return (entry[0], entry[1], entry[2], entry[3], entry[4], event, entry[6])


def _coerce(obj: Any) -> ConsentEvent:
    """Turn a consent-shaped object (``crmcore.model.Consent`` ...) into a ConsentEvent."""
    try:
        return ConsentEvent(
            id=obj.id,
            person_id=obj.person_id,
            channel=obj.channel,
            purpose=obj.purpose,
            status=obj.status,
            captured_at=obj.captured_at or obj.effective_from or obj.created_at,
            contact_point=getattr(obj, "contact_point", None),
            lawful_basis=getattr(obj, "lawful_basis", None) or "consent",
            effective_from=getattr(obj, "effective_from", None),
            expires_at=getattr(obj, "expires_at", None),
            source=_source_text(getattr(obj, "source", None)),
            evidence=optional_text(getattr(obj, "evidence", None)),
        )
    except AttributeError as exc:
        raise ConsentError(f"not a consent record: {obj!r} ({exc})") from exc


def _source_text(value: object) -> str | None:
    if value is None:
        return None
    system = getattr(value, "source_system", None)
    return str(system) if system is not None else str(text_value(value))
