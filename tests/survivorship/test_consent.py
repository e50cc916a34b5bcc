"""Consent on merge: an opt-out survives unless a later explicit opt-in for the same point."""

from __future__ import annotations

import datetime as dt

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.model import Consent, ConsentStatus
from crmcore.survivorship import GoldenStore, SourceRecord, SurvivorshipRules, merge_consents
from crmcore.survivorship._consent import consent_key, consent_time
from tests.survivorship.strategies import T0

PROPS = settings(max_examples=60, deadline=None)
OUT, IN, PENDING = ConsentStatus.OPTED_OUT, ConsentStatus.OPTED_IN, ConsentStatus.PENDING


def consent(cid: str, person: str, status: str, day: int | None, point: str | None = "a@acme.io",
            channel: str = "email") -> Consent:
    when = None if day is None else T0 + dt.timedelta(days=day)
    return Consent(id=cid, person_id=person, channel=channel, purpose="marketing",
                   status=status, contact_point=point, captured_at=when)


@st.composite
def consent_lists(draw: st.DrawFn, persons: tuple[str, ...] = ("p1", "p2", "p3")) -> list[Consent]:
    n = draw(st.integers(0, 8))
    return [
        consent(
            f"k{i}", draw(st.sampled_from(persons)),
            draw(st.sampled_from(["opted_in", "opted_out", "pending"])),
            draw(st.none() | st.integers(0, 3)),
            draw(st.sampled_from([None, "a@acme.io", "A@Acme.io ", "b@acme.io"])),
            draw(st.sampled_from(["email", "sms"])),
        )
        for i in range(n)
    ]


def withholds(side: list[Consent]) -> bool:
    """Brute force: a side keeps an opt-out unless its own later known-time opt-in lifts it."""
    outs = [c for c in side if c.status == OUT]
    if not outs:
        return False
    ins = [consent_time(c) for c in side if c.status == IN]
    times = [consent_time(c) for c in outs]
    if None in times:
        return True
    last = max(t for t in times if t is not None)
    return not any(t is not None and t > last for t in ins)


def allowed_opt_in(kept: Consent, inputs: list[Consent]) -> bool:
    """Brute force: an opt-in may stand only if no identity withholds its key and its own
    identity gave it after its own latest opt-out."""
    key = consent_key(kept)
    same = [c for c in inputs if consent_key(c) == key]
    persons = {c.person_id for c in same}
    if any(withholds([c for c in same if c.person_id == p]) for p in persons):
        return False
    source = next(c for c in same if c.id == kept.id)
    t = consent_time(source)
    own_outs = [consent_time(c) for c in same
                if c.person_id == source.person_id and c.status == OUT]
    return all(t is not None and u is not None and t > u for u in own_outs)


class TestMergeConsents:
    def test_opt_out_survives_older_opt_in(self):
        """The documented rule: an older opt-in does not lift an opt-out."""
        m = merge_consents([consent("k1", "p1", "opted_out", 2),
                            consent("k2", "p2", "opted_in", 1)], "p1")
        assert m.status("email", "marketing", "a@acme.io") == OUT

    def test_later_opt_in_of_another_identity_does_not_lift(self):
        """An opt-in from another merged identity, however recent, leaves an opt-out standing."""
        m = merge_consents([consent("k1", "p1", "opted_out", 1),
                            consent("k2", "p2", "opted_in", 2, point=" A@ACME.io")], "p1")
        assert m.status("email", "marketing", "a@acme.io") == OUT
        assert m.decisions[0].reason == "opt_out_survives"

    def test_own_later_opt_in_lifts(self):
        """The identity that opted out and opted in again later gives the merged consent."""
        m = merge_consents([consent("k1", "p2", "opted_out", 1),
                            consent("k2", "p2", "opted_in", 2, point=" A@ACME.io")], "p1")
        assert m.status("email", "marketing", "a@acme.io") == IN
        assert m.decisions[0].reason == "later_opt_in"
        assert m.consents[0].person_id == "p1"

    def test_opt_in_after_the_merge_counts(self):
        """With ``merged_at``, an explicit opt-in given after the merge decides."""
        cs = [consent("k1", "p1", "opted_out", 1), consent("k2", "p2", "opted_in", 5)]
        m = merge_consents(cs, "p1", merged_at=T0 + dt.timedelta(days=3))
        assert m.status("email", "marketing", "a@acme.io") == IN
        assert m.decisions[0].reason == "after_merge"
        before = merge_consents(cs, "p1", merged_at=T0 + dt.timedelta(days=5))
        assert before.status("email", "marketing", "a@acme.io") == OUT

    def test_pending_does_not_lift_an_opt_out(self):
        """A pending confirmation after an opt-out is no opt-in: the opt-out holds."""
        m = merge_consents([consent("k1", "p1", "opted_out", 1),
                            consent("k2", "p1", "pending", 3),
                            consent("k3", "p2", "opted_in", 2)], "p1")
        assert m.status("email", "marketing", "a@acme.io") == OUT

    def test_opt_in_on_other_point_does_not_lift(self):
        """A later opt-in for another address leaves this address's opt-out alone."""
        m = merge_consents([consent("k1", "p1", "opted_out", 1),
                            consent("k2", "p2", "opted_in", 5, point="b@acme.io")], "p1")
        assert m.status("email", "marketing", "a@acme.io") == OUT
        assert m.status("email", "marketing", "b@acme.io") == IN

    def test_equal_time_and_unknown_time(self):
        """Equal times: opt-out wins; an opt-out of unknown time is never lifted."""
        tie = merge_consents([consent("k1", "p1", "opted_out", 1),
                              consent("k2", "p1", "opted_in", 1)], "p1")
        unknown = merge_consents([consent("k1", "p1", "opted_out", None),
                                  consent("k2", "p1", "opted_in", 9)], "p1")
        assert tie.status("email", "marketing", "a@acme.io") == OUT
        assert unknown.status("email", "marketing", "a@acme.io") == OUT

    def test_pending_is_never_a_permission(self):
        """Another identity's later pending confirmation does not override an opt-in."""
        m = merge_consents([consent("k1", "p1", "opted_in", 1),
                            consent("k2", "p2", "pending", 5)], "p1")
        assert m.status("email", "marketing", "a@acme.io") == IN
        only = merge_consents([consent("k2", "p2", "pending", 5)], "p1")
        assert only.decisions[0].reason == "pending_only"

    @PROPS
    @given(cs=consent_lists(), data=st.data())
    def test_never_gains_withdrawn_permission(self, cs, data):
        """Every kept opt-in is later than every opt-out of its key; winners are inputs."""
        m = merge_consents(cs, "p1")
        by_id = {c.id: c for c in cs}
        assert len(m.consents) == len({consent_key(c) for c in cs})
        for kept in m.consents:
            assert kept.status == by_id[kept.id].status
            if kept.status == IN:
                assert allowed_opt_in(kept, cs)
        shuffled = data.draw(st.permutations(cs))
        assert merge_consents(shuffled, "p1") == m

    @PROPS
    @given(a=consent_lists(), b=consent_lists(persons=("q1", "q2")))
    def test_associative(self, a, b):
        """Merging a merge result with more identities decides like merging all at once."""
        b = [attrs_id(c, "b") for c in b]
        step = merge_consents([*merge_consents(a, "m").consents, *b], "m")
        once = merge_consents([*a, *b], "m")
        assert [(d.key, d.kept.id) for d in step.decisions] == [
            (d.key, d.kept.id) for d in once.decisions
        ]


def attrs_id(c: Consent, prefix: str) -> Consent:
    return attrs.evolve(c, id=prefix + c.id)


class TestConsentThroughStore:
    @settings(max_examples=40, deadline=None)
    @given(cs=consent_lists(persons=("r0", "r1", "r2", "r3")), data=st.data())
    def test_no_sequence_turns_opt_out_into_opt_in(self, cs, data):
        """Random merges, unmerges and undos never show an opt-in without a newer opt-in."""
        s = GoldenStore(SurvivorshipRules())
        for rid in ("r0", "r1", "r2", "r3"):
            mine = [c for c in cs if c.person_id == rid]
            s.add(SourceRecord(rid, "crm", None, {}), consents=mine)
        for _ in range(data.draw(st.integers(1, 6))):
            ents = s.entities()
            op = data.draw(st.sampled_from(["merge", "unmerge", "undo"]))
            if op == "merge" and len(ents) > 1:
                s.merge(data.draw(st.lists(st.sampled_from(ents), min_size=2, unique=True)))
            elif op == "unmerge":
                big = [e for e in ents if len(s.members(e)) > 1]
                if big:
                    e = data.draw(st.sampled_from(big))
                    part = data.draw(st.lists(st.sampled_from(s.members(e)), min_size=1,
                                              max_size=len(s.members(e)) - 1, unique=True))
                    s.unmerge(e, part)
            elif op == "undo":
                last = s.history[-1]
                if last.kind == "merge":
                    s.undo(last.seq)
            for e in s.entities():
                inputs = [c for c in cs if c.person_id in s.members(e)]
                for kept in s.consents(e).consents:
                    assert kept.person_id == e
                    if kept.status == IN:
                        assert allowed_opt_in(kept, inputs)
