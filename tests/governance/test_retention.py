"""Retention policies: dry-run plan, then apply."""

from __future__ import annotations

from datetime import UTC, datetime

from crmcore.conditions import eq
from crmcore.governance import (
    AuditLog,
    MemoryRecordStore,
    RetentionPolicy,
    apply_retention,
    plan_retention,
)

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def stores() -> dict[str, MemoryRecordStore]:
    return {
        "contact": MemoryRecordStore(
            "contacts",
            [
                {
                    "id": "c1",
                    "email": "old@x.com",
                    "first_name": "Old",
                    "last_activity_at": "2020-01-01",
                },
                {"id": "c2", "email": "new@x.com", "last_activity_at": "2024-12-01"},
                {"id": "c3", "email": "nodate@x.com"},
            ],
        ),
        "deal": MemoryRecordStore(
            "deals",
            [
                {"id": "d1", "stage": "closed_won", "updated_at": "2019-06-01"},
                {"id": "d2", "stage": "closed_won", "updated_at": "2016-06-01"},
                {"id": "d3", "stage": "closed_lost", "updated_at": "2022-06-01"},
            ],
        ),
    }


POLICIES = [
    RetentionPolicy("contact", 3 * 365, "anonymise"),
    RetentionPolicy(
        "deal", 7 * 365, "delete", only_if=eq("stage", "closed_won"), name="keep won deals 7 years"
    ),
    RetentionPolicy("deal", 2 * 365, "delete", name="other deals 2 years"),
]


class TestPlan:
    def test_dry_run_changes_nothing(self) -> None:
        """The plan lists due actions with the deciding policy; stores are untouched."""
        s = stores()
        p = plan_retention(POLICIES, s, now=NOW)
        assert [(a.record_id, a.action, a.policy) for a in p.actions] == [
            ("c1", "anonymise", "contact:anonymise after 1095 days"),
            ("d2", "delete", "keep won deals 7 years"),
            ("d3", "delete", "other deals 2 years"),
        ]
        assert p.counts() == {"contact:anonymise": 1, "deal:delete": 2}
        assert [pr.record for pr in p.problems] == ["contact:c3"]
        assert p.kept == 3
        assert len(s["deal"]) == 3

    def test_keep_policy_exempts(self) -> None:
        """A keep policy placed first exempts matching records for its period."""
        p = plan_retention(
            [
                RetentionPolicy("deal", 10 * 365, "keep", only_if=eq("stage", "closed_lost")),
                RetentionPolicy("deal", 1, "delete"),
            ],
            stores(),
            now=NOW,
        )
        assert sorted(a.record_id for a in p.actions) == ["d1", "d2"]

    def test_keep_period_over_falls_through(self) -> None:
        """Once a keep period is over, the next matching policy decides."""
        policies = [
            RetentionPolicy("deal", 7 * 365, "keep", only_if=eq("stage", "closed_won")),
            RetentionPolicy("deal", 2 * 365, "delete"),
        ]
        p = plan_retention(policies, stores(), now=NOW)
        # d1 (won, 2019) is still in its 7 years; d2 (won, 2016) is past them; d3 is lost
        assert [(a.record_id, a.policy) for a in p.actions] == [
            ("d2", "deal:delete after 730 days"),
            ("d3", "deal:delete after 730 days"),
        ]
        assert p.kept == 4


class TestApply:
    def test_apply_deletes_anonymises_and_audits(self) -> None:
        """Apply carries out the plan, clears personal fields and writes audit entries."""
        s = stores()
        log = AuditLog()
        planned = plan_retention(POLICIES, s, now=NOW)
        report = apply_retention(planned, s, policies=POLICIES, audit=log)
        assert report.deleted == {"deal": ("d2", "d3")}
        assert report.anonymised == {"contact": ("c1",)}
        c1 = s["contact"].get("c1")
        assert c1 is not None
        assert c1["email"] is None
        assert c1["anonymised"] is True
        assert s["deal"].get("d2") is None
        assert len(log) == 3
        assert log.verify().ok

    def test_apply_tombstones_earlier_audit_values(self) -> None:
        """Audit entries holding old values of a deleted or anonymised record lose them."""
        s = stores()
        log = AuditLog()
        log.record(
            "change",
            actor="u",
            record_type="contact",
            record_id="c1",
            field="email",
            old="older@x.com",
            new="old@x.com",
            at=NOW,
        )
        log.record(
            "change",
            actor="u",
            record_type="contact",
            record_id="c2",
            field="email",
            old="x@x.com",
            new="new@x.com",
            at=NOW,
        )
        apply_retention(plan_retention(POLICIES, s, now=NOW), s, policies=POLICIES, audit=log)
        text = repr(log.entries())
        assert "old@x.com" not in text
        assert "new@x.com" in text  # c2 is not due
        assert log.verify().ok
        assert [e.action for e in log.entries()][2:] == [
            "tombstone",
            "retention_anonymise",
            "retention_delete",
            "retention_delete",
        ]

    def test_missing_records_reported(self) -> None:
        """Records gone since the plan are reported, not an error."""
        s = stores()
        p = plan_retention(POLICIES, s, now=NOW)
        s["deal"].remove("d3")
        assert apply_retention(p, s).missing == ("deal:d3",)
