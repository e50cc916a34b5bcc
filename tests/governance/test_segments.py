"""Consent-safe segments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.conditions import eq, gt
from crmcore.governance import (
    ConsentLedger,
    Identifiers,
    Segment,
    SegmentRegistry,
    SuppressionList,
    build_segment,
)

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def rows() -> list[dict[str, object]]:
    return [
        {"id": "p1", "email": "a@x.com", "country": "GB", "score": 10},
        {"id": "p2", "email": "b@x.com", "country": "GB", "score": 10},
        {"id": "p3", "email": None, "country": "GB", "score": 10},
        {"id": "p4", "email": "d@x.com", "country": "FR", "score": 10},
        {"id": "p5", "emails": ["old@x.com", "new@x.com"], "country": "GB", "score": 10},
        {"id": "p6", "email": "f@x.com", "country": "GB", "score": "n/a"},
    ]


def ledger() -> ConsentLedger:
    led = ConsentLedger()
    led.record("p1", "email", "marketing", "opted_in", captured_at=T0)
    led.record("p2", "email", "marketing", "opted_out", captured_at=T0)
    led.record("p4", "email", "marketing", "opted_in", captured_at=T0)
    led.record("p5", "email", "marketing", "opted_in", captured_at=T0, contact_point="new@x.com")
    led.record("p6", "email", "marketing", "pending", captured_at=T0)
    return led


class TestBuildSegment:
    def test_members_and_exclusions(self) -> None:
        """Only consented people are members; everyone else matching is excluded with a reason."""
        seg = Segment("uk", "marketing", "email", eq("country", "GB"))
        r = build_segment(seg, rows(), ledger(), now=T0 + timedelta(days=1))
        assert r.person_ids == ("p1", "p5")
        assert r.members[1].contact_point == "new@x.com"
        assert {e.person_id: e.reason for e in r.excluded} == {
            "p2": "opted_out",
            "p3": "no_contact_point",
            "p6": "pending_double_opt_in",
        }
        assert r.not_matching == 1
        assert r.exclusion_counts() == {
            "opted_out": 1,
            "no_contact_point": 1,
            "pending_double_opt_in": 1,
        }

    def test_dict_condition_and_suppression(self) -> None:
        """A condition in dict form works; suppressed records are excluded as such."""
        sup = SuppressionList("s")
        sup.add(Identifiers(emails=["a@x.com"]))
        seg = Segment("uk", "marketing", "email", {"op": "eq", "field": "country", "value": "GB"})
        r = build_segment(seg, rows(), ledger(), now=T0, suppression=sup)
        assert "p1" not in r.person_ids
        assert {e.person_id: e.reason for e in r.excluded}["p1"] == "suppressed"

    def test_every_record_accounted_for(self) -> None:
        """Members + excluded + not matching + problems cover every input record."""
        seg = Segment("hi", "marketing", "email", gt("score", 5))
        r = build_segment(seg, rows(), ledger(), now=T0)
        total = len(r.members) + len(r.excluded) + r.not_matching + len(r.problems)
        assert total == len(rows())

    @settings(max_examples=60, deadline=None)
    @given(
        st.lists(
            st.tuples(st.sampled_from(["opted_in", "opted_out", "pending", None]), st.booleans()),
            min_size=1,
            max_size=12,
        )
    )
    def test_members_always_consented(self, people) -> None:
        """Every member has valid consent now; every excluded person lacks it."""
        led = ConsentLedger()
        records = []
        for n, (status, gb) in enumerate(people):
            if status is not None:
                led.record(f"p{n}", "email", "marketing", status, captured_at=T0)
            records.append({"id": f"p{n}", "email": f"p{n}@x.com", "country": "GB" if gb else "FR"})
        r = build_segment(
            Segment("s", "marketing", "email", eq("country", "GB")), records, led, now=T0
        )
        for m in r.members:
            assert led.may_contact(m.person_id, "email", "marketing", now=T0).allowed
        expected = [f"p{n}" for n, (s, gb) in enumerate(people) if gb and s == "opted_in"]
        assert list(r.person_ids) == expected


class TestSegmentRegistry:
    def test_erase_removes_person(self) -> None:
        """Erasure removes a person from kept audiences."""
        reg = SegmentRegistry()
        reg.put(
            build_segment(
                Segment("uk", "marketing", "email", eq("country", "GB")), rows(), ledger(), now=T0
            )
        )
        assert reg.find(Identifiers(person_ids=["p2"])) == ["uk/p2"]
        reg.erase(Identifiers(emails=["a@x.com"], person_ids=["p2"]))
        assert reg.get("uk").person_ids == ("p5",)
        assert "p2" not in repr(reg.get("uk").excluded)

    def test_erase_drops_problems_about_the_person(self) -> None:
        """A record whose condition failed is listed as a problem; erasure removes it too."""

        def score_above_5(ctx) -> bool:
            score = ctx.record["score"]
            if not isinstance(score, int):
                raise ValueError(f"bad score {score!r} for {ctx.record['email']}")
            return score > 5

        reg = SegmentRegistry()
        seg = Segment("high", "marketing", "email", score_above_5)
        reg.put(build_segment(seg, rows(), ledger(), now=T0))
        assert [p.record for p in reg.get("high").problems] == ["p6"]
        assert "f@x.com" in reg.get("high").problems[0].message
        assert reg.find(Identifiers(emails=["f@x.com"])) == ["high/p6"]  # found by the value
        reg.erase(Identifiers(person_ids=["p6"]))
        assert reg.get("high").problems == ()


class TestThirdPartySegment:
    def test_do_not_sell_honoured(self) -> None:
        """An audience handed to a third party also needs may_share: do-not-sell excludes."""
        led = ledger()
        for pid in ("p1", "p4"):
            led.record(pid, "any", "data_sharing", "opted_in", captured_at=T0)
        led.set_do_not_sell("p4", captured_at=T0)
        led.record("p5", "any", "data_sharing", "opted_in", captured_at=T0)
        internal = Segment("all", "marketing", "email", None)
        shared = Segment("ads", "marketing", "email", None, third_party=True)
        assert build_segment(internal, rows(), led, now=T0).person_ids == ("p1", "p4", "p5")
        result = build_segment(shared, rows(), led, now=T0)
        assert result.person_ids == ("p1", "p5")
        reasons = {e.person_id: e.reason for e in result.excluded}
        assert reasons["p4"] == "do_not_sell"
        assert reasons["p2"] == "no_consent"  # no data-sharing consent at all
        assert shared.to_dict()["third_party"] is True

    @settings(max_examples=40, deadline=None)
    @given(st.lists(st.tuples(st.booleans(), st.booleans(), st.booleans()), max_size=8))
    def test_shared_members_never_flagged(self, people) -> None:
        """Members of a third-party audience all consent to contact and sharing, none flagged."""
        led = ConsentLedger()
        records = []
        for n, (contact, share, flag) in enumerate(people):
            pid = f"p{n}"
            records.append({"id": pid, "email": f"{pid}@acme.io"})
            led.record(
                pid, "email", "marketing", "opted_in" if contact else "opted_out", captured_at=T0
            )
            if share:
                led.record(pid, "any", "data_sharing", "opted_in", captured_at=T0)
            if flag:
                led.set_do_not_sell(pid, captured_at=T0 + timedelta(hours=1))
        result = build_segment(
            Segment("ads", "marketing", "email", None, third_party=True),
            records,
            led,
            now=T0 + timedelta(days=1),
        )
        expected = [f"p{n}" for n, (c, s, f) in enumerate(people) if c and s and not f]
        assert list(result.person_ids) == expected
        assert len(result.members) + len(result.excluded) == len(people)
