"""Privacy request records: no personal data, kept 24 months, surviving the erasure."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crmcore.errors import GovernanceError
from crmcore.governance import (
    AuditLog,
    ConsentLedger,
    ConsentStore,
    Eraser,
    Identifiers,
    MemoryRecordStore,
    PrivacyRequest,
    PrivacyRequestLog,
)
from tests.governance.scan import holds

T0 = datetime(2025, 3, 1, tzinfo=UTC)
SECRET = b"request-log-secret-0123"


class TestPrivacyRequest:
    def test_unknown_kind_refused(self) -> None:
        """A request kind outside REQUEST_KINDS is refused, naming it."""
        with pytest.raises(GovernanceError, match=r"kind.*'forget_me'.*request.kind"):
            PrivacyRequest("r1", "forget_me", T0)

    def test_naive_time_refused(self) -> None:
        """Times must be tz-aware."""
        with pytest.raises(GovernanceError, match="tz-aware"):
            PrivacyRequest("r1", "erasure", datetime(2025, 1, 1))

    def test_completed_before_received_refused(self) -> None:
        """A request cannot be answered before it came in."""
        with pytest.raises(GovernanceError, match="completed_after_received"):
            PrivacyRequest("r1", "erasure", T0, status="completed", completed_at=T0 - timedelta(1))

    def test_round_trip(self) -> None:
        """to_dict / from_dict keep every field."""
        r = PrivacyRequest("r1", "access", T0, channel="email", status="completed",
                           completed_at=T0 + timedelta(days=3), handled_by="dpo",
                           outcome={"crm": 2}, response="exported")  # fmt: skip
        assert PrivacyRequest.from_dict(json.loads(json.dumps(r.to_dict()))) == r


class TestPrivacyRequestLog:
    def test_open_complete_find(self) -> None:
        """A request is opened, answered, and found again from the person's identifiers."""
        log = PrivacyRequestLog(secret=SECRET)
        r = log.open("erasure", received_at=T0, keys=["email:ann@x.com", "phone:+4420"])
        assert r.open
        assert r.id == "r1"
        done = log.complete("r1", at=T0 + timedelta(days=2), handled_by="dpo", outcome={"crm": 1})
        assert (done.status, done.handled_by) == ("completed", "dpo")
        assert dict(done.outcome) == {"crm": 1}
        assert [x.id for x in log.find(["email:ann@x.com"])] == ["r1"]
        assert log.find(["email:bob@x.com"]) == []
        assert "ann@x.com" not in json.dumps(done.to_dict())

    def test_no_secret_no_reference(self) -> None:
        """Without a secret a request carries no subject reference (and cannot be found)."""
        log = PrivacyRequestLog()
        assert log.open("access", received_at=T0, keys=["email:a@x.com"]).subject_ref is None
        assert log.find(["email:a@x.com"]) == []

    def test_unknown_request_and_status(self) -> None:
        """Completing an unknown request, or with status 'received', is refused."""
        log = PrivacyRequestLog()
        log.open("access", received_at=T0)
        with pytest.raises(GovernanceError, match="no such request"):
            log.complete("r9", at=T0, handled_by="dpo")
        with pytest.raises(GovernanceError, match="cannot be 'received'"):
            log.complete("r1", at=T0, handled_by="dpo", status="received")
        with pytest.raises(GovernanceError, match="already in the request log"):
            log.open("access", received_at=T0, id="r1")

    def test_kept_24_months_by_default(self) -> None:
        """Records are kept 730 days after the answer (open ones: after receipt), then purged."""
        log = PrivacyRequestLog()
        log.open("erasure", received_at=T0)
        log.complete("r1", at=T0 + timedelta(days=30), handled_by="dpo")
        log.open("access", received_at=T0)
        assert log.purge(T0 + timedelta(days=729)) == []
        assert log.purge(T0 + timedelta(days=730)) == ["r2"]
        assert log.purge(T0 + timedelta(days=759)) == []
        assert log.purge(T0 + timedelta(days=760)) == ["r1"]
        assert len(log) == 0

    def test_file_survives_restart_and_purge(self, tmp_path: Path) -> None:
        """The JSON Lines file reloads every request; a purge rewrites it whole."""
        path = tmp_path / "requests.jsonl"
        log = PrivacyRequestLog(secret=SECRET, path=path, retention_days=10)
        log.open("erasure", received_at=T0, keys=["email:a@x.com"])
        log.complete("r1", at=T0 + timedelta(days=1), handled_by="dpo", outcome={"crm": 3})
        log.open("access", received_at=T0 + timedelta(days=20))
        again = PrivacyRequestLog(secret=SECRET, path=path, retention_days=10)
        assert [r.to_dict() for r in again] == [r.to_dict() for r in log]
        assert again.purge(T0 + timedelta(days=12)) == ["r1"]
        lines = path.read_text(encoding="utf-8").splitlines()
        assert [json.loads(x)["id"] for x in lines] == ["r2"]
        assert [p.name for p in tmp_path.iterdir()] == ["requests.jsonl"]

    def test_bad_file_line_named(self, tmp_path: Path) -> None:
        """A damaged line is reported with the file and line number."""
        path = tmp_path / "requests.jsonl"
        path.write_text('{"id": "r1", "kind": "access"}\n', encoding="utf-8")
        with pytest.raises(GovernanceError, match=r"line.*1.*requests.jsonl"):
            PrivacyRequestLog(path=path)


class TestWithEraser:
    def test_records_survive_the_erasure_they_describe(self) -> None:
        """Access then erasure are recorded; the records stay, hold no personal data, are found."""
        crm = MemoryRecordStore("crm", [
            {"id": "1", "email": "Ann.Lee@acme.io", "phone": "+442079460958", "person_id": "p1"},
            {"id": "2", "email": "bob@acme.io", "person_id": "p2"},
        ])  # fmt: skip
        ledger = ConsentLedger()
        ledger.record("p1", "email", "marketing", "opted_in", captured_at=T0,
                      contact_point="ann.lee@acme.io")  # fmt: skip
        requests = PrivacyRequestLog(secret=SECRET)
        audit = AuditLog()
        eraser = Eraser([crm, ConsentStore(ledger)], audit=audit, requests=requests)
        who = Identifiers(emails=["ann.lee@acme.io"])
        eraser.export_person(who, actor="dpo", at=T0, received_at=T0 - timedelta(days=1),
                             channel="web form")  # fmt: skip
        asked, done = T0 + timedelta(days=1), T0 + timedelta(days=3)
        report = eraser.erase_person(who, actor="dpo", at=done, received_at=asked, channel="email")
        access, erasure = list(requests)
        assert (access.kind, access.status, access.channel) == ("access", "completed", "web form")
        assert dict(access.outcome) == {"crm": 1, "consent": 1, "audit": 0}
        assert (erasure.kind, erasure.received_at, erasure.completed_at) == (
            "erasure",
            T0 + timedelta(days=1),
            T0 + timedelta(days=3),
        )
        assert dict(erasure.outcome) == {s.store: s.erased for s in report.stores}
        assert erasure.handled_by == "dpo"
        assert erasure.response == "erased 3 records in 3 stores"
        for needle in ("ann.lee", "ann lee", "+44207946", "p1"):
            assert not holds(needle, requests), needle
        assert [r.kind for r in requests.find(["email:ann.lee@acme.io"])] == ["access", "erasure"]
        assert crm.find(who) == []
