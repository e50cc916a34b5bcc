"""Governance policy sets through the spec codec: round trips, every problem by path, golden
file, and the policies read back behave as the ones written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.conditions import eq, gt, in_, predicate
from crmcore.errors import PolicyConfigError
from crmcore.governance import (
    ACTIONS,
    CHANNELS,
    LAWFUL_BASES,
    PURPOSES,
    ConsentPolicy,
    Grant,
    PermissionPolicy,
    PolicySet,
    RetentionPolicy,
    Role,
    Segment,
    plan_retention,
)

GOLDEN = Path(__file__).parents[1] / "fixtures" / "codec" / "governance" / "policies.json"
names = st.text("abcdefgh_", min_size=1, max_size=8)
fields_ = st.frozensets(st.sampled_from(["email", "phone", "dob", "name", "notes"]), max_size=3)
conditions = st.one_of(
    st.none(),
    st.builds(eq, st.sampled_from(["status", "country"]), st.sampled_from(["lost", "GB", 3])),
    st.builds(in_, st.just("stage"), st.lists(names, min_size=1, max_size=3)),
    st.builds(gt, st.just("score"), st.integers(-5, 5)),
)
grants = st.builds(
    Grant, st.sampled_from(["contact", "deal", "*"]),
    st.frozensets(st.sampled_from(sorted(ACTIONS)), min_size=1),
    fields=st.one_of(st.none(), fields_), masked=fields_, hidden=fields_,
    scope=st.sampled_from(["own", "team", "all"]),
)
roles = st.builds(Role, names, st.lists(grants, max_size=3),
                  denied=st.frozensets(st.sampled_from(["contact.dob", "*.notes"])))
consents = st.builds(
    ConsentPolicy,
    allowed_bases=st.dictionaries(st.sampled_from(sorted(PURPOSES)),
                                  st.frozensets(st.sampled_from(sorted(LAWFUL_BASES)))),
    legitimate_interest=st.frozensets(st.tuples(st.sampled_from(sorted(PURPOSES)),
                                                st.sampled_from(sorted(CHANNELS)))),
    merge_rule=st.sampled_from(["most_restrictive", "newest_wins"]),
)
retentions = st.builds(
    RetentionPolicy, st.sampled_from(["lead", "contact"]),
    st.one_of(st.integers(1, 3000), st.floats(0.5, 3000)),
    action=st.sampled_from(["delete", "anonymise", "keep"]), only_if=conditions,
    activity_fields=st.lists(st.sampled_from(["updated_at", "created_at"]), min_size=1,
                             max_size=2),
    name=st.one_of(st.just(""), names),
)
segments = st.builds(
    Segment, names, st.sampled_from(sorted(PURPOSES)), st.sampled_from(["email", "sms"]),
    condition=conditions, contact_fields=st.one_of(st.none(), st.lists(names, max_size=2)),
    third_party=st.booleans(),
)
policy_sets = st.builds(
    PolicySet,
    roles=st.lists(roles, max_size=3, unique_by=lambda r: r.name),
    owner_teams=st.dictionaries(names, st.frozensets(names, max_size=2), max_size=2),
    consent=consents,
    retention=st.lists(retentions, max_size=3),
    segments=st.lists(segments, max_size=2, unique_by=lambda s: s.name),
)


class TestRoundTrip:
    @settings(max_examples=150, deadline=None)
    @given(policy_sets)
    def test_json_round_trip(self, policies):
        """Any policy set written to JSON and read back is equal to the one written."""
        text = json.dumps(policies.to_dict())
        assert PolicySet.from_dict(json.loads(text)) == policies

    @settings(max_examples=50, deadline=None)
    @given(grants, roles, consents, retentions, segments)
    def test_each_part_round_trips(self, grant, role, consent, retention, segment):
        """Each part has the same dict form alone as inside a set."""
        for value in (grant, role, consent, retention, segment):
            data = json.loads(json.dumps(value.to_dict()))
            assert type(value).from_dict(data) == value

    def test_golden_file_loads_and_writes_back_unchanged(self):
        """The file written by this release reads back and writes the same document."""
        data = json.loads(GOLDEN.read_text())
        assert PolicySet.from_dict(data).to_dict() == data

    def test_segment_dict_form_unchanged(self):
        """Segment.to_dict keeps the keys it always wrote (every key, condition as a dict)."""
        s = Segment("news", "marketing", "email", condition=eq("country", "GB"))
        assert s.to_dict() == {
            "name": "news", "purpose": "marketing", "channel": "email",
            "condition": {"op": "eq", "field": "country", "value": "GB"},
            "contact_fields": None, "person_field": "id", "third_party": False,
        }


class TestProblems:
    def test_every_problem_by_path(self):
        """Reading reports every problem at once, each with its path, value and rule."""
        bad = {
            "format": "crmcore.governance.policies/1",
            "roles": [{"name": "x", "grants": [{"record_type": "c", "actions": ["fly"]}]},
                      {"name": "y", "grants": "all"}],
            "retention": [{"record_type": "lead", "after_days": -1}],
            "segments": [{"name": "s", "channel": "email"}],
            "owner_teams": {"u1": "emea"},
            "colour": "red",
        }
        with pytest.raises(PolicyConfigError) as exc:
            PolicySet.from_dict(bad)
        got = {(p.field, p.rule) for p in exc.value.problems}
        assert got == {
            ("policies.colour", "policies.unknown_key"),
            ("policies.roles[0].grants[0]", "grant.value"),
            ("policies.roles[1].grants", "role.grants"),
            ("policies.retention[0]", "retention.value"),
            ("policies.segments[0].purpose", "segment.required"),
            ("policies.owner_teams.u1", "policies.owner_teams"),
        }
        assert isinstance(exc.value, ValueError)

    def test_wrong_format_and_repeated_names(self):
        """Another format is refused; two roles of one name are refused."""
        with pytest.raises(PolicyConfigError, match="format"):
            PolicySet.from_dict({"format": "crmcore.governance.policies/9"})
        with pytest.raises(PolicyConfigError, match="names repeat"):
            PolicySet.from_dict({"roles": [{"name": "a"}, {"name": "a"}]})
        with pytest.raises(PolicyConfigError, match="names repeat"):
            PolicySet(roles=[Role("a"), Role("a")])

    def test_predicate_has_no_dict_form(self):
        """A Python predicate cannot be written; the error names it."""
        policies = PolicySet(segments=[Segment("vip", "marketing", "email",
                                               condition=predicate(lambda c: True, "is_vip"))])
        with pytest.raises(PolicyConfigError, match="is_vip"):
            policies.to_dict()


class TestBehaviour:
    def test_permission_policy_from_file_masks_as_built_by_hand(self):
        """The permission policy of a policy set read from its file behaves as the one built
        by hand."""
        sales = Role("sales", [Grant("contact", {"view"}, masked={"phone"})],
                     denied={"contact.dob"})
        by_hand = PermissionPolicy([sales])
        read = PolicySet.from_dict(PolicySet(roles=[sales]).to_dict()).permission_policy()
        record = {"id": "c1", "phone": "+44 20 7946 0123", "dob": "1990-01-01", "name": "Ann"}
        assert read.view(record, "sales", record_type="contact") == by_hand.view(
            record, "sales", record_type="contact")

    def test_retention_from_file_plans_the_same(self):
        """Retention policies read from the file plan the same actions."""
        from datetime import UTC, datetime

        policies = [RetentionPolicy("lead", 30, only_if=eq("status", "lost")),
                    RetentionPolicy("lead", 365, action="anonymise")]
        read = PolicySet.from_dict(PolicySet(retention=policies).to_dict()).retention
        records = {"lead": [{"id": "1", "status": "lost",
                             "updated_at": "2025-01-01T00:00:00+00:00"},
                            {"id": "2", "status": "open",
                             "updated_at": "2025-01-01T00:00:00+00:00"}]}
        now = datetime(2026, 6, 1, tzinfo=UTC)
        want = plan_retention(policies, records, now=now)
        got = plan_retention(read, records, now=now)
        assert [(a.record_id, a.action) for a in got.actions] == [
            (a.record_id, a.action) for a in want.actions]
        assert {a.action for a in got.actions} == {"delete", "anonymise"}
