"""Records of privacy requests: what was asked, when, what was done, by whom.

Privacy law asks a business to keep a record of the requests it received and how it answered
them: under the CCPA regulations (Cal. Code Regs. tit. 11, § 7101) at least 24 months, with the
date of the request, its nature, the manner in which it was made, and the date and nature of the
response. Under the GDPR (Art. 5(2), accountability) the controller must be able to show that it
honoured an erasure or access request. Such a record must *survive the erasure it describes*.

A :class:`PrivacyRequest` therefore holds no personal data: the kind of request, when it was
received and completed, who asked (a role such as ``data subject`` or ``authorised agent``) and
through which channel, who handled it, the outcome per store (counts), and a ``subject_ref``: an
HMAC-SHA-256 of the person's identifier keys under a host secret, which lets the host answer
"did we handle a request from this person?" when shown the person's identifiers again, and tells
nothing to anyone without the secret. No :class:`~crmcore.governance.Store` finds request records,
so an erasure leaves them in place.

:class:`PrivacyRequestLog` keeps the records, in memory or in a JSON Lines file (each record is
appended as one line; :meth:`PrivacyRequestLog.purge` rewrites the file through a temporary file
and a rename, never half-written). Retention: ``retention_days`` (default 730, 24 months) after
a request's completion (or receipt, while open), :meth:`~PrivacyRequestLog.purge` drops it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs

from crmcore.errors import FieldProblem, GovernanceError

REQUEST_KINDS: frozenset[str] = frozenset(
    {
        "access",  # GDPR Art. 15, CCPA right to know
        "portability",  # GDPR Art. 20
        "erasure",  # GDPR Art. 17, CCPA right to delete
        "rectification",  # GDPR Art. 16, CCPA right to correct
        "restriction",  # GDPR Art. 18
        "objection",  # GDPR Art. 21
        "opt_out_of_sale",  # CCPA do not sell or share
        "limit_sensitive",  # CCPA limit the use of sensitive personal information
    }
)
"""The kinds of privacy request a record may describe."""

REQUEST_STATUSES: frozenset[str] = frozenset({"received", "completed", "denied", "partial"})
"""``received`` (open), ``completed``, ``denied`` (with a reason), ``partial``."""


def _bad(field: str, value: object, rule: str, message: str, record: str | None) -> GovernanceError:
    return GovernanceError(str(FieldProblem(field, value, rule, message, record)))


def _aware(inst: Any, attribute: attrs.Attribute[Any], value: datetime | None) -> None:
    if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
        raise _bad(attribute.name, value, "datetime.tz_aware", "needs a tz-aware datetime", inst.id)


def _counts(value: Mapping[str, Any] | None) -> dict[str, int]:
    return {str(k): int(v) for k, v in (value or {}).items()}


@attrs.frozen
class PrivacyRequest:
    """One privacy request and what was done about it (no personal data).

    Args:
        id: Request id (``r1``, or the host's ticket number).
        kind: One of :data:`REQUEST_KINDS`.
        received_at: When the request was received (tz-aware).
        requested_by: Who asked, as a role: ``data subject``, ``authorised agent`` ...
        channel: How it was made: ``web form``, ``email``, ``phone``, ``post`` ...
        subject_ref: Keyed hash of the person's identifiers (see :meth:`PrivacyRequestLog.ref`).
        status: One of :data:`REQUEST_STATUSES`.
        completed_at: When it was answered (tz-aware), None while open.
        handled_by: Who handled it (staff id, service name).
        outcome: Store name -> records erased / exported (counts only).
        response: What was done, in words without personal data ("erased in 7 stores").
        basis: The law relied on (``GDPR Art. 17``, ``CCPA 1798.105`` ...).
    """

    id: str = attrs.field(converter=str)
    kind: str = attrs.field(converter=str)
    received_at: datetime = attrs.field(validator=_aware)
    requested_by: str = attrs.field(default="data subject", converter=str)
    channel: str | None = None
    subject_ref: str | None = None
    status: str = "received"
    completed_at: datetime | None = attrs.field(default=None, validator=_aware)
    handled_by: str | None = None
    outcome: Mapping[str, int] = attrs.field(factory=dict, converter=_counts)
    response: str | None = None
    basis: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.kind not in REQUEST_KINDS:
            raise _bad(
                "kind", self.kind, "request.kind", f"not in {sorted(REQUEST_KINDS)}", self.id
            )
        if self.status not in REQUEST_STATUSES:
            raise _bad(
                "status",
                self.status,
                "request.status",
                f"not in {sorted(REQUEST_STATUSES)}",
                self.id,
            )
        if self.completed_at is not None and self.completed_at < self.received_at:
            raise _bad(
                "completed_at",
                self.completed_at,
                "request.completed_after_received",
                "a request is completed after it is received",
                self.id,
            )

    @property
    def open(self) -> bool:
        """Whether the request is still waiting for an answer."""
        return self.status == "received"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-friendly dict (datetimes as ISO text)."""
        out = attrs.asdict(self)
        out["outcome"] = dict(self.outcome)
        for key in ("received_at", "completed_at"):
            if out[key] is not None:
                out[key] = out[key].isoformat()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PrivacyRequest:
        """Read back a :meth:`to_dict` value."""
        values = dict(data)
        for key in ("received_at", "completed_at"):
            if values.get(key) is not None:
                values[key] = datetime.fromisoformat(values[key])
        return cls(**values)


class PrivacyRequestLog:
    """The record of privacy requests, kept ``retention_days`` after each one's answer.

    Args:
        secret: Host secret (kept apart from the log) keying :meth:`ref`; without it requests
            carry no ``subject_ref``.
        path: JSON Lines file to keep the records in (loaded if it exists); None: memory only.
        retention_days: Days a record is kept after completion (or receipt, while open);
            default 730 (24 months, the CCPA minimum).

    Example:
        >>> from datetime import UTC, datetime
        >>> log = PrivacyRequestLog(secret=b"request-log-secret")
        >>> r = log.open("erasure", received_at=datetime(2025, 1, 2, tzinfo=UTC),
        ...              keys=["email:ann@x.com"], channel="web form")
        >>> done = log.complete(r.id, at=datetime(2025, 1, 9, tzinfo=UTC), handled_by="dpo",
        ...                     outcome={"crm": 2}, response="erased")
        >>> done.status, done.outcome, log.find(["email:ann@x.com"])[0].id
        ('completed', {'crm': 2}, 'r1')
    """

    def __init__(
        self,
        *,
        secret: bytes | str | None = None,
        path: str | os.PathLike[str] | None = None,
        retention_days: int = 730,
    ) -> None:
        if retention_days < 0:
            raise _bad("retention_days", retention_days, "request.retention", "must be >= 0", None)
        self._secret = secret.encode("utf-8") if isinstance(secret, str) else secret
        self.path = None if path is None else Path(path)
        self.retention_days = retention_days
        self._requests: dict[str, PrivacyRequest] = {}
        if self.path is not None and self.path.exists():
            with self.path.open(encoding="utf-8") as fh:
                for number, line in enumerate(fh, start=1):
                    if not line.strip():
                        continue
                    try:
                        request = PrivacyRequest.from_dict(json.loads(line))
                    except (ValueError, TypeError, KeyError) as exc:
                        raise _bad(
                            "line", number, "request.file", f"{self.path}: {exc}", None
                        ) from exc
                    self._requests[request.id] = request  # later lines update earlier ones

    def __len__(self) -> int:
        return len(self._requests)

    def __iter__(self) -> Iterator[PrivacyRequest]:
        return iter(list(self._requests.values()))

    def get(self, request_id: str) -> PrivacyRequest | None:
        """One request by id."""
        return self._requests.get(request_id)

    def ref(self, keys: Iterable[str]) -> str | None:
        """Keyed reference of a person's identifier keys (None without a secret).

        The keys are the typed identifier keys (``email:...``, ``phone:...``) the erasure
        module uses; the reference is the HMAC-SHA-256 of each, sorted and joined, so the same
        identifiers give the same reference.
        """
        if self._secret is None:
            return None
        secret = self._secret
        parts = sorted({hmac.new(secret, k.encode(), hashlib.sha256).hexdigest() for k in keys})
        return ",".join(parts) if parts else None

    def _save(self, request: PrivacyRequest) -> PrivacyRequest:
        self._requests[request.id] = request
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(request.to_dict(), sort_keys=True) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        return request

    def open(
        self,
        kind: str,
        *,
        received_at: datetime,
        keys: Iterable[str] = (),
        requested_by: str = "data subject",
        channel: str | None = None,
        basis: str | None = None,
        id: str | None = None,  # noqa: A002 - mirrors the record field name
    ) -> PrivacyRequest:
        """Record a request as received; returns it (``id`` defaults to ``r<n>``).

        Raises:
            GovernanceError: For an unknown kind, a naive time, or an id already used.
        """
        rid = id if id is not None else f"r{len(self._requests) + 1}"
        if rid in self._requests:
            raise _bad("id", rid, "request.unique_id", "already in the request log", rid)
        request = PrivacyRequest(
            rid,
            kind,
            received_at,
            requested_by,
            channel,
            self.ref(keys),
            basis=basis,
        )
        return self._save(request)

    def complete(
        self,
        request_id: str,
        *,
        at: datetime,
        handled_by: str,
        outcome: Mapping[str, int] | None = None,
        response: str | None = None,
        status: str = "completed",
    ) -> PrivacyRequest:
        """Record the answer to a request (``completed``, ``partial`` or ``denied``).

        Raises:
            GovernanceError: For an unknown request id or status.
        """
        request = self._requests.get(request_id)
        if request is None:
            raise _bad("id", request_id, "request.known", "no such request", request_id)
        if status == "received":
            raise _bad("status", status, "request.status", "an answer cannot be 'received'", None)
        done = attrs.evolve(
            request,
            status=status,
            completed_at=at,
            handled_by=handled_by,
            outcome=outcome or {},
            response=response,
        )
        return self._save(done)

    def find(self, keys: Iterable[str]) -> list[PrivacyRequest]:
        """Requests made about a person, given their identifier keys again (needs the secret).

        A request matches when it shares one identifier hash with the keys given.
        """
        ref = self.ref(keys)
        if ref is None:
            return []
        wanted = set(ref.split(","))
        return [
            r
            for r in self._requests.values()
            if r.subject_ref is not None and wanted.intersection(r.subject_ref.split(","))
        ]

    def expires_at(self, request: PrivacyRequest) -> datetime:
        """When the record of a request may be purged."""
        start = request.completed_at or request.received_at
        return start + timedelta(days=self.retention_days)

    def purge(self, now: datetime | None = None) -> list[str]:
        """Drop records past retention (open requests count from receipt); returns their ids.

        The file, if any, is rewritten through a temporary file and an atomic rename.
        """
        when = now if now is not None else datetime.now(UTC)
        gone = [r.id for r in self._requests.values() if self.expires_at(r) <= when]
        for rid in gone:
            del self._requests[rid]
        if gone and self.path is not None:
            folder = self.path.parent
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=folder)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    for request in self._requests.values():
                        fh.write(json.dumps(request.to_dict(), sort_keys=True) + "\n")
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return gone
