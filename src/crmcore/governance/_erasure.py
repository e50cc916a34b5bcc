"""Erasure (GDPR Art. 17) and portability (Art. 20) of one person across every store.

:class:`Eraser` erases a person everywhere: it widens the identifiers with those found on the
person's records (an email leads to a phone, a phone to a person id ...) until nothing new turns up,
erases in every store, adds salted hashes of the identifiers to the :class:`SuppressionList` (so the
next import does not silently re-create the person) and writes one ``erasure`` audit entry without
personal data. :meth:`Eraser.export_person` returns everything held as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import attrs

from crmcore.governance._audit import AuditLog
from crmcore.governance._identifiers import Identifiers
from crmcore.governance._requests import PrivacyRequestLog
from crmcore.governance._stores import AuditTrailStore, ConsentStore, Store, StoreErasure
from crmcore.governance._suppression import SuppressionList


@attrs.frozen
class ErasureReport:
    """What an erasure did, store by store (no personal data: safe to audit and keep).

    Args:
        stores: Per-store results, in registration order.
        suppressed: Number of new hashes on the suppression list.
        at: When.
    """

    stores: tuple[StoreErasure, ...]
    suppressed: int
    at: datetime

    @property
    def total(self) -> int:
        """Records erased over all stores."""
        return sum(s.erased for s in self.stores)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict."""
        return {
            "at": self.at.isoformat(),
            "suppressed": self.suppressed,
            "stores": {s.store: s.erased for s in self.stores},
        }


class Eraser:
    """Erase or export a person across every registered store.

    Args:
        stores: The stores, in the order to erase them.
        suppression: Suppression list to extend on erasure (optional).
        audit: Audit log: the person's entries become tombstones, and one ``erasure`` entry is
            written (optional).
        max_rounds: Rounds of identifier widening (each round reads the records found so far).
        requests: Privacy request log: each erasure and export is recorded there (kind, when
            received and answered, who asked and handled it, counts per store, a keyed
            reference of the identifiers); the log is no store, so those records survive the
            erasure they describe.

    Example:
        >>> crm = MemoryRecordStore("crm", [{"id": "1", "email": "ann@x.com", "phone": None}])
        >>> Eraser([crm]).erase_person(Identifiers(emails=["Ann@X.com"]), actor="dpo").total
        1
    """

    def __init__(
        self,
        stores: Iterable[Store],
        *,
        suppression: SuppressionList | None = None,
        audit: AuditLog | None = None,
        max_rounds: int = 3,
        requests: PrivacyRequestLog | None = None,
    ) -> None:
        self.stores = list(stores)
        self.suppression = suppression
        self.audit = audit
        self.max_rounds = max_rounds
        self.requests = requests

    def resolve(self, identifiers: Identifiers) -> Identifiers:
        """Widen identifiers with those on the records they find, until nothing new appears.

        Every store but the audit trail takes part: the consent ledger turns a contact point
        into the person ids that gave consent for it, a golden record into its entity and member
        records, the match index a record into its entity.
        """
        current = identifiers
        for _round in range(self.max_rounds):
            wider = current
            for store in self.stores:
                if isinstance(store, AuditTrailStore):
                    continue  # entries quote other people too: never widen through the trail
                for record in store.export(current):
                    wider = wider.union(Identifiers.from_record(record))
            if wider == current:
                break
            current = wider
        return current

    def preview(self, identifiers: Identifiers) -> dict[str, list[str]]:
        """Dry run: store name -> ids of what :meth:`erase_person` would erase (nothing changes).

        Identifiers are widened first, as erasure does: check here that a wrong match did not
        pull in someone else.
        """
        full = self.resolve(identifiers)
        return {store.name: store.find(full) for store in self.stores}

    def erase_person(
        self,
        identifiers: Identifiers,
        *,
        actor: str,
        reason: str = "erasure request (GDPR Art. 17)",
        at: datetime | None = None,
        received_at: datetime | None = None,
        requested_by: str = "data subject",
        channel: str | None = None,
    ) -> ErasureReport:
        """Erase everything held on a person, suppress their identifiers, audit the erasure.

        Args:
            identifiers: What identifies the person (widened through the stores first).
            actor: Who asked for / performed the erasure.
            reason: Why (kept in the audit entry; do not put personal data here).
            at: When (default: now).
            received_at: When the request came in (request log; default: ``at``).
            requested_by: Who asked, as a role (request log).
            channel: How the request was made (request log).

        Returns:
            An :class:`ErasureReport` (no personal data).
        """
        when = at if at is not None else datetime.now(UTC)
        full = self.resolve(identifiers)
        results = [
            store.erase(full, at=when)  # on the caller's clock
            if isinstance(store, (ConsentStore, AuditTrailStore))
            else store.erase(full)
            for store in self.stores
        ]
        if self.audit is not None and not any(isinstance(s, AuditTrailStore) for s in self.stores):
            tomb = self.audit.erase(
                subjects=full.person_ids,
                record_ids=full.record_ids,
                values=full.values(),
                actor=actor,
                at=when,
            )
            results.append(StoreErasure("audit", tomb))
        suppressed = self.suppression.add(full) if self.suppression is not None else 0
        report = ErasureReport(tuple(results), suppressed, when)
        if self.audit is not None:
            self.audit.record(
                "erasure",
                actor=actor,
                reason=reason,
                at=when,
                details={"stores": report.to_dict()["stores"], "suppressed": suppressed},
            )
        if self.requests is not None:
            counts = {s.store: s.erased for s in report.stores}
            stores = sum(1 for c in counts.values() if c)
            self._log_request(
                "erasure", full, received_at=received_at or when, when=when, actor=actor,
                requested_by=requested_by, channel=channel, counts=counts,
                response=f"erased {report.total} records in {stores} stores", basis=reason,
            )  # fmt: skip
        return report

    def _log_request(
        self,
        kind: str,
        full: Identifiers,
        *,
        received_at: datetime,
        when: datetime,
        actor: str,
        requested_by: str,
        channel: str | None,
        counts: dict[str, int],
        response: str,
        basis: str | None,
    ) -> None:
        assert self.requests is not None
        request = self.requests.open(
            kind,
            received_at=received_at,
            keys=full.keys(),
            requested_by=requested_by,
            channel=channel,
            basis=basis,
        )
        self.requests.complete(
            request.id, at=when, handled_by=actor, outcome=counts, response=response
        )

    def export_person(
        self,
        identifiers: Identifiers,
        *,
        indent: int | None = 2,
        actor: str | None = None,
        at: datetime | None = None,
        received_at: datetime | None = None,
        requested_by: str = "data subject",
        channel: str | None = None,
    ) -> str:
        """Everything held on a person, by store, as JSON (GDPR Art. 15 / 20).

        With an audit log, the export is recorded (an ``export`` entry about the person, the
        number of records per store in its erasable details) after the data is gathered.

        Args:
            identifiers: What identifies the person (widened through the stores first).
            indent: JSON indentation.
            actor: Who asked for the export (named in the audit entry).
            at: When (default: now).
            received_at: When the request came in (request log; default: ``at``).
            requested_by: Who asked, as a role (request log).
            channel: How the request was made (request log).

        Returns:
            JSON text: store name -> the person's records in that store.
        """
        full = self.resolve(identifiers)
        data = {store.name: store.export(full) for store in self.stores}
        if self.audit is not None and not any(isinstance(s, AuditTrailStore) for s in self.stores):
            data["audit"] = AuditTrailStore(self.audit).export(full)
        if self.audit is not None:
            self.audit.record(
                "export",
                actor=actor or "governance",
                reason="subject access / portability export",
                subjects=full.person_ids,
                details={"stores": {name: len(rows) for name, rows in data.items()}},
                at=at,
            )
        if self.requests is not None:
            when = at if at is not None else datetime.now(UTC)
            counts = {name: len(rows) for name, rows in data.items()}
            self._log_request(
                "access", full, received_at=received_at or when, when=when,
                actor=actor or "governance", requested_by=requested_by, channel=channel,
                counts=counts, response=f"exported {sum(counts.values())} records",
                basis="subject access / portability export",
            )  # fmt: skip
        return json.dumps(
            data, indent=indent, sort_keys=True, default=_json_default, ensure_ascii=False
        )


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value, key=repr)
    return str(value)
