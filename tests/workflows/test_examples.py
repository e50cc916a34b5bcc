"""Tests for crmcore.workflows.examples: each of the seven standard workflows does its job."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from crmcore.workflows import BusinessCalendar, Engine, RuleSet
from crmcore.workflows import examples as ex

NOW = datetime(2024, 6, 3, 9, tzinfo=UTC)  # a Monday


class Sink:
    """Collects every handler request by type."""

    def __init__(self) -> None:
        self.seen: dict[str, list] = {}

    def handlers(self) -> dict:
        types = ("create_task", "send_alert", "send_email")
        return {t: (lambda req, t=t: self.seen.setdefault(t, []).append(req)) for t in types}


def run(ruleset: RuleSet, **kwargs):
    sink = Sink()
    return Engine(ruleset, handlers=sink.handlers(), **kwargs), sink


class TestFastFollowUp:
    def test_form_lead(self) -> None:
        """A web-form lead gets a round-robin owner, a call task for that owner and an alert."""
        eng, sink = run(ex.fast_follow_up(("ann", "bob")))
        lead = {"id": "c1", "record_type": "contact", "first_name": "Eve", "last_name": "Li",
                "lead_source": "web_form", "lifecycle_stage": "lead"}  # fmt: skip
        result = eng.record_created(lead, now=NOW)
        assert result.updates["c1"]["owner_id"] == "ann"
        task = sink.seen["create_task"][0]
        assert task.params["owner"] == "ann"
        assert task.params["due_at"] == NOW + timedelta(hours=1)
        assert sink.seen["send_alert"][0].params["to"] == "ann"
        other = eng.record_created({**lead, "id": "c2", "lead_source": "import"}, now=NOW)
        assert other.actions == []


class TestStalledDeals:
    def test_stalled(self) -> None:
        """An open deal whose stage sat 14 days gets a task, a manager alert and the at-risk tag."""
        eng, sink = run(ex.stalled_deals())
        eng.record_created({"id": "d1", "record_type": "deal", "name": "Acme", "stage": "proposal",
                            "manager_id": "max"}, now=NOW)  # fmt: skip
        eng.record_created({"id": "d2", "record_type": "deal", "stage": "won"}, now=NOW)
        assert eng.tick(NOW + timedelta(days=13)).actions == []
        result = eng.tick(NOW + timedelta(days=15))
        assert [a.type for a in result.actions] == ["create_task", "send_alert", "add_tag"]
        assert result.updates == {"d1": {"tags": ("at-risk",)}}
        assert sink.seen["send_alert"][0].params["to"] == "max"


class TestWonDealHandoff:
    def test_won(self) -> None:
        """A won deal opens an onboarding ticket carrying the deal's notes, priority set."""
        eng, sink = run(ex.won_deal_handoff())
        before = {"id": "d1", "record_type": "deal", "name": "Acme", "stage": "proposal",
                  "notes": "Needs SSO", "account_id": "a1"}  # fmt: skip
        result = eng.record_updated(before, {**before, "stage": "won"}, now=NOW)
        (ticket,) = result.created
        assert ticket["record_type"] == "ticket"
        assert ticket["description"] == "Needs SSO"
        assert ticket["priority"] == "high"
        assert ticket["deal_id"] == "d1"
        assert sink.seen["send_alert"]


class TestRenewalReminder:
    def test_sixty_days_before(self) -> None:
        """60 days before renewal: a task, the renewal-list tag and a reminder email."""
        eng, sink = run(ex.renewal_reminder())
        eng.load([{"id": "a1", "record_type": "account", "name": "Acme", "status": "active",
                   "renewal_date": "2024-09-01", "billing_email": "ap@acme.test"}])  # fmt: skip
        assert eng.tick(datetime(2024, 7, 2, tzinfo=UTC)).actions == []
        result = eng.tick(datetime(2024, 7, 3, tzinfo=UTC))
        assert [a.type for a in result.actions] == ["create_task", "add_tag", "send_email"]
        assert sink.seen["send_email"][0].params["to"] == "ap@acme.test"
        assert eng.tick(datetime(2024, 7, 4, tzinfo=UTC)).actions == []


class TestInactiveLeads:
    def test_ninety_days(self) -> None:
        """A lead without activity for 90 days becomes inactive and gets a re-engagement task."""
        eng, _ = run(ex.inactive_leads())
        eng.load([
            {"id": "c1", "record_type": "contact", "lifecycle_stage": "lead",
             "last_activity_at": "2024-01-01"},
            {"id": "c2", "record_type": "contact", "lifecycle_stage": "lead",
             "last_activity_at": "2024-05-01"},
        ])  # fmt: skip
        result = eng.tick(datetime(2024, 4, 2, tzinfo=UTC))
        assert result.updates == {"c1": {"status": "inactive"}}
        assert [a.type for a in result.actions] == ["update_field", "create_task"]


class TestUrgentTickets:
    def test_urgent(self) -> None:
        """A ticket becoming urgent goes to the senior queue, alerts on-call, gets a 4 h SLA."""
        cal = BusinessCalendar(hours={d: (time(9), time(17)) for d in range(5)})
        eng, sink = run(ex.urgent_tickets(), calendar=cal)
        before = {"id": "t1", "record_type": "ticket", "priority": "normal", "subject": "Down",
                  "created_at": datetime(2024, 6, 7, 15, tzinfo=UTC), "sla_due": None}  # fmt: skip
        result = eng.record_updated(before, {**before, "priority": "urgent"}, now=NOW)
        assert result.updates["t1"]["queue"] == "senior-support"
        assert result.updates["t1"]["sla_due"] == datetime(2024, 6, 10, 11, tzinfo=UTC)
        assert sink.seen["send_alert"][0].params["to"] == "on-call"
        again = {**before, "priority": "urgent", "subject": "Still down"}
        assert eng.record_updated({**before, "priority": "urgent"}, again, now=NOW).actions == []


class TestRegionRouting:
    def test_country_changed(self) -> None:
        """A country change routes the record: territory owner, region tag and queue."""
        eng, _ = run(ex.region_routing(owners={"emea": "eva"}))
        before = {"id": "c1", "record_type": "contact", "country": "US", "tags": ()}
        result = eng.record_updated(before, {**before, "country": "DE"}, now=NOW)
        assert result.updates["c1"] == {
            "owner_id": "eva", "region": "emea", "tags": ("region:emea",), "queue": "emea-sales",
        }  # fmt: skip

    def test_all_seven_together(self) -> None:
        """The seven rule sets combine into one set with unique names."""
        names = [r.name for r in ex.standard_workflows()]
        assert len(names) == len(set(names)) >= 7
