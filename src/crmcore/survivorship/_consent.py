"""Consent on merge: one rule, used by golden records and by the consent ledger alike.

:func:`decide_merge` is the one decision of what a merged person may be contacted for, per
consent key; :func:`merge_consents` (golden records, :class:`GoldenStore`) and
:meth:`crmcore.governance.ConsentLedger.merge` both call it. The key is ``(channel, purpose,
contact point)``; the contact point is compared by :func:`crmcore.normalize.contact_point_key`
(the identity key governance uses too: e-mails by mailbox, phone numbers in E.164, other text
case-folded); a consent without a contact point is a key of its own (the whole channel).

The rule, per key. Every merged identity (a source record, or a person of the ledger) is a
*side* with its own statements. A statement's time is ``captured_at``, else ``effective_from``,
else ``updated_at``, else ``created_at`` (the ledger orders by effective, then captured time);
at equal times an opt-out is newer than a pending confirmation, which is newer than an opt-in.

1. **An opt-out holds.** A side *withholds* when it has an opt-out and no explicit opt-in of its
   own newer than its latest opt-out. If any side withholds, the merged person is opted out (the
   newest of those opt-outs is kept): an opt-in from *another* identity never lifts it, however
   recent, because merging is not the subject saying yes. An opt-out of unknown time is never
   lifted; an opt-in of unknown time lifts nothing.
2. Otherwise the newest opt-in that is some side's current statement wins (``later_opt_in`` when
   a side had opted out and opted in again itself, else ``latest_opt_in``).
3. Otherwise the newest pending confirmation (double opt-in not confirmed) is kept: pending is
   never a permission, and it never withholds another side's opt-in.
4. **After the merge the subject speaks for itself**: with ``merged_at``, statements of known
   time strictly after it are the merged person's own, and the newest of them decides (an
   explicit opt-in given after the merge counts, from whichever record it comes).

So a merge never grants a consent that no merged identity gave after its own latest opt-out.
Only statements of the merged identities can win (nothing is invented), the result does not
depend on input order, and merging in steps decides as merging at once (a merged result is one
side whose statement is the decision).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Iterable
from typing import Any, TypeVar

import attrs

from crmcore.model import Consent, ConsentStatus
from crmcore.normalize import contact_point_key

ConsentKey = tuple[str, str, Any]
T = TypeVar("T")
ConsentStatement = tuple[str, Any, Any, T]
"""One statement given to :func:`decide_merge`: ``(status, time or None, tie, item)``.

``status`` is ``"opted_in"``, ``"opted_out"`` or ``"pending"``; times of one call must compare
with each other; ``tie`` orders statements of equal time and status (larger is newer); ``item``
is what the caller gets back."""

_RANK = {"opted_in": 0, "pending": 1, "opted_out": 2}
_OUT = 2
_IN = 0


def _order(status: str, when: Any, tie: Any) -> tuple[Any, ...]:
    """Newness of a statement: unknown-time opt-outs newest, other unknown times oldest."""
    rank = _RANK[status]
    if when is None:
        return (2 if rank == _OUT else 0, None, rank, tie)
    return (1, when, rank, tie)


def decide_merge(
    sides: Iterable[Iterable[ConsentStatement[T]]], *, merged_at: Any = None
) -> tuple[T, str] | None:
    """The one consent-on-merge decision for one key (see the module docs for the rule).

    Args:
        sides: The statements of each merged identity about one key, as
            :data:`ConsentStatement` tuples ``(status, time, tie, item)``.
        merged_at: When the merge happened (comparable with the times); statements after it
            are the merged person's own and the newest of them decides. None: no such split.

    Returns:
        ``(item, reason)`` of the deciding statement, or None when no side has a statement.
        ``reason`` is ``"opt_out_survives"``, ``"later_opt_in"``, ``"latest_opt_in"``,
        ``"pending_only"`` or ``"after_merge"``.

    Example:
        >>> decide_merge([[("opted_out", 1, 0, "a-out")], [("opted_in", 5, 0, "b-in")]])
        ('a-out', 'opt_out_survives')
        >>> decide_merge([[("opted_out", 1, 0, "a-out"), ("opted_in", 3, 0, "a-in")]])
        ('a-in', 'later_opt_in')
        >>> decide_merge([[("opted_out", 1, 0, "a-out")], [("opted_in", 5, 0, "b-in")]],
        ...              merged_at=4)
        ('b-in', 'after_merge')
    """
    after: tuple[tuple[Any, ...], T] | None = None
    withheld: tuple[tuple[Any, ...], T] | None = None
    consenting: tuple[tuple[Any, ...], T] | None = None
    pending: tuple[tuple[Any, ...], T] | None = None
    lifted = False
    for side in sides:
        last_out: tuple[Any, ...] | None = None
        last_in: tuple[Any, ...] | None = None
        current: tuple[tuple[Any, ...], T] | None = None
        out_item: Any = None
        for status, when, tie, item in side:
            key = _order(status, when, tie)
            if merged_at is not None and when is not None and when > merged_at:
                if after is None or key > after[0]:
                    after = (key, item)
                continue
            rank = key[2]
            if rank == _OUT and (last_out is None or key > last_out):
                last_out, out_item = key, item
            elif rank == _IN and (last_in is None or key > last_in):
                last_in = key
            if current is None or key > current[0]:
                current = (key, item)
        if current is None:
            continue
        if last_out is not None:
            if last_in is None or last_in < last_out:  # unknown times order themselves
                if withheld is None or last_out > withheld[0]:
                    withheld = (last_out, out_item)
                continue
            lifted = True
        rank = current[0][2]
        if rank == _IN:
            if consenting is None or current[0] > consenting[0]:
                consenting = current
        elif pending is None or current[0] > pending[0]:
            pending = current
    if after is not None:
        return after[1], "after_merge"
    if withheld is not None:
        return withheld[1], "opt_out_survives"
    if consenting is not None:
        return consenting[1], "later_opt_in" if lifted else "latest_opt_in"
    if pending is not None:
        return pending[1], "pending_only"
    return None


def consent_key(consent: Consent) -> ConsentKey:
    """The key consents are decided by: ``(channel, purpose, contact point key)``.

    Example:
        >>> c = Consent(id="k1", person_id="c1", channel="email", purpose="marketing",
        ...             status="opted_out", contact_point=" Ann@Acme.io ")
        >>> consent_key(c)
        ('email', 'marketing', 'ann@acme.io')
    """
    point = consent.contact_point
    channel = str(consent.channel)
    return (
        channel,
        str(consent.purpose),
        None if point is None or not point.strip() else contact_point_key(channel, point),
    )


def consent_time(consent: Consent) -> dt.datetime | None:
    """When a consent decision was made: captured, else effective, else updated, else created."""
    return (
        consent.captured_at or consent.effective_from or consent.updated_at or consent.created_at
    )


@attrs.frozen
class ConsentDecision:
    """Which consent a merged person keeps for one key, and why.

    Args:
        key: ``(channel, purpose, contact point key)``.
        kept: The winning consent (re-pointed to the merged person).
        reason: ``"opt_out_survives"``, ``"later_opt_in"``, ``"latest_opt_in"``,
            ``"pending_only"`` or ``"after_merge"`` (see :func:`decide_merge`).
        others: Ids of the other consents of the key (sorted).
    """

    key: ConsentKey
    kept: Consent
    reason: str
    others: tuple[str, ...] = ()


@attrs.frozen
class ConsentMerge:
    """The consents of a merged person: one per key (sorted by key), with the decisions."""

    person_id: str
    consents: tuple[Consent, ...]
    decisions: tuple[ConsentDecision, ...]

    def status(
        self, channel: str, purpose: str, contact_point: str | None = None
    ) -> ConsentStatus | None:
        """The merged status of one key, or None when no record had a consent for it."""
        point = None if contact_point is None else contact_point_key(channel, contact_point)
        key = (channel, purpose, point)
        for d in self.decisions:
            if d.key == key:
                return d.kept.status
        return None


def _neg_id(value: str) -> tuple[int, ...]:
    """Tie order of consents: the smallest id is the newest (a stable, order-free choice)."""
    return (*(-ord(ch) for ch in value), 1)


def _statement(consent: Consent) -> ConsentStatement[Consent]:
    return (ConsentStatus(consent.status).value, consent_time(consent), _neg_id(consent.id),
            consent)


def merge_consents(
    consents: Iterable[Consent], person_id: str, *, merged_at: dt.datetime | None = None
) -> ConsentMerge:
    """Decide the consents of a merged person by :func:`decide_merge`.

    Each merged identity is the set of consents carrying its ``person_id`` (the id of the
    source record they came with).

    Args:
        consents: The consents of every merged record.
        person_id: The merged person's id (the winners are re-pointed to it).
        merged_at: When the records were merged: consents captured after it are the merged
            person's own and the newest decides. None: every consent predates the merge.

    Returns:
        The :class:`ConsentMerge`: one consent per key.

    Example:
        >>> from crmcore.model import Consent
        >>> from crmcore.survivorship import merge_consents
        >>> import datetime as dt
        >>> t = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
        >>> out = Consent(id="k1", person_id="c1", channel="email", purpose="marketing",
        ...               status="opted_out", contact_point="ann@acme.io", captured_at=t)
        >>> newer_in = Consent(id="k2", person_id="c2", channel="email", purpose="marketing",
        ...                    status="opted_in", contact_point="ann@acme.io",
        ...                    captured_at=t.replace(year=2025))
        >>> merged = merge_consents([out, newer_in], "c1")
        >>> merged.status("email", "marketing", "ann@acme.io"), merged.decisions[0].reason
        (<ConsentStatus.OPTED_OUT: 'opted_out'>, 'opt_out_survives')
    """
    groups: dict[ConsentKey, dict[Hashable, list[ConsentStatement[Consent]]]] = {}
    for c in consents:
        groups.setdefault(consent_key(c), {}).setdefault(c.person_id, []).append(_statement(c))
    kept: list[Consent] = []
    decisions: list[ConsentDecision] = []
    for key in sorted(groups, key=lambda k: (k[0], k[1], "" if k[2] is None else str(k[2]))):
        sides = groups[key]
        decided = decide_merge(sides.values(), merged_at=merged_at)
        if decided is None:
            continue  # only possible with no statement at all
        winner, reason = decided
        moved = winner if winner.person_id == person_id else attrs.evolve(
            winner, person_id=person_id
        )
        kept.append(moved)
        others = tuple(sorted(s[3].id for side in sides.values() for s in side
                              if s[3] is not winner))
        decisions.append(ConsentDecision(key, moved, reason, others))
    return ConsentMerge(person_id, tuple(kept), tuple(decisions))
