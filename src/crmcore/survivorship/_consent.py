"""Consent on merge: a merged person never gains a permission one of its records withdrew.

:func:`merge_consents` decides, for every consent key, which :class:`~crmcore.model.Consent` the
merged person keeps. The key is ``(channel, purpose, contact point)``; the contact point is
compared by :func:`crmcore.normalize.contact_point_key` (the identity key governance uses too:
e-mails by mailbox, phone numbers in E.164, other text case-folded); a
consent without a contact point is a key of its own (the whole channel) and is never overruled
by a consent about one contact point.

The rule, per key, with each consent's time being ``captured_at``, else ``effective_from``, else
``updated_at``, else ``created_at``:

1. **An opt-out survives** unless an explicit opt-in for the same key was captured **strictly
   later** than every opt-out of that key. An opt-out of unknown time can never be overruled by
   a merge; an opt-in of unknown time never overrules anything. Equal times: the opt-out wins.
2. Without an opt-out, the latest opt-in wins.
3. ``pending`` (double opt-in not confirmed) is never a permission: it is kept only when the key
   has no explicit opt-in or opt-out.

Only consents of the merged records can win (nothing is invented), the winner is re-pointed to
the merged person (``person_id``), and the result does not depend on input order. The rule is
associative: merging the result of a merge with more consents decides as merging all of them at
once, so no sequence of merges (or unmerges, which re-decide from the records' own consents)
turns an opt-out into an opt-in without a newer explicit opt-in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import attrs

from crmcore.model import Consent, ConsentStatus
from crmcore.normalize import contact_point_key

_INF = dt.datetime.max.replace(tzinfo=dt.UTC)
_NEG = dt.datetime.min.replace(tzinfo=dt.UTC)
ConsentKey = tuple[str, str, Any]


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
        reason: ``"opt_out_survives"``, ``"later_opt_in"``, ``"latest_opt_in"`` or
            ``"pending_only"``.
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


def _latest(consents: list[Consent], unknown: dt.datetime) -> Consent:
    """The latest consent (unknown time counts as ``unknown``); equal times: smallest id."""
    return max(consents, key=lambda c: (consent_time(c) or unknown, _neg_id(c.id)))


def _neg_id(value: str) -> tuple[int, ...]:
    return (*(-ord(ch) for ch in value), 1)


def _decide(group: list[Consent]) -> tuple[Consent, str]:
    outs = [c for c in group if c.status == ConsentStatus.OPTED_OUT]
    ins = [c for c in group if c.status == ConsentStatus.OPTED_IN]
    if outs:
        last_out = _latest(outs, _INF)
        out_time = consent_time(last_out)
        later = (
            [c for c in ins if (t := consent_time(c)) is not None and t > out_time]
            if out_time is not None and not any(consent_time(c) is None for c in outs)
            else []
        )
        if later:
            return _latest(later, _NEG), "later_opt_in"
        return last_out, "opt_out_survives"
    if ins:
        return _latest(ins, _NEG), "latest_opt_in"
    return _latest(group, _NEG), "pending_only"


def merge_consents(consents: Iterable[Consent], person_id: str) -> ConsentMerge:
    """Decide the consents of a merged person (see the module docs for the rule).

    Args:
        consents: The consents of every merged record.
        person_id: The merged person's id (the winners are re-pointed to it).

    Returns:
        The :class:`ConsentMerge`: one consent per key.

    Example:
        >>> import datetime as dt
        >>> t = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
        >>> out = Consent(id="k1", person_id="c1", channel="email", purpose="marketing",
        ...               status="opted_out", contact_point="ann@acme.io", captured_at=t)
        >>> old_in = Consent(id="k2", person_id="c2", channel="email", purpose="marketing",
        ...                  status="opted_in", contact_point="ann@acme.io",
        ...                  captured_at=t.replace(year=2023))
        >>> merged = merge_consents([out, old_in], "c1")
        >>> merged.status("email", "marketing", "ann@acme.io"), merged.decisions[0].reason
        (<ConsentStatus.OPTED_OUT: 'opted_out'>, 'opt_out_survives')
    """
    groups: dict[ConsentKey, list[Consent]] = {}
    for c in consents:
        groups.setdefault(consent_key(c), []).append(c)
    kept: list[Consent] = []
    decisions: list[ConsentDecision] = []
    for key in sorted(groups, key=lambda k: (k[0], k[1], "" if k[2] is None else str(k[2]))):
        group = groups[key]
        winner, reason = _decide(group)
        moved = winner if winner.person_id == person_id else attrs.evolve(
            winner, person_id=person_id
        )
        kept.append(moved)
        others = tuple(sorted(c.id for c in group if c is not winner))
        decisions.append(ConsentDecision(key, moved, reason, others))
    return ConsentMerge(person_id, tuple(kept), tuple(decisions))
