"""Hypothesis strategies for workflow conditions and rules."""

from __future__ import annotations

from datetime import UTC, date, datetime

from hypothesis import strategies as st

from crmcore.conditions import _language as c

FIELDS = ("stage", "amount", "country", "tags", "owner", "closed_at", "account.country")

constants = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-1000, 1000),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=8),
    st.dates(date(2000, 1, 1), date(2040, 1, 1)),
    st.datetimes(datetime(2000, 1, 1), datetime(2040, 1, 1), timezones=st.just(UTC)),
)
fields = st.sampled_from(FIELDS)


def _leaf() -> st.SearchStrategy[c.Condition]:
    return st.one_of(
        st.builds(c.Compare, fields, st.sampled_from(c.COMPARISON_OPS), constants),
        st.builds(c.In, fields, st.lists(constants, max_size=4).map(tuple), st.booleans()),
        st.builds(c.Contains, fields, constants),
        st.builds(c.Empty, fields, st.booleans()),
        st.builds(c.Changed, fields),
        st.builds(c.ChangedTo, fields, constants),
        st.builds(c.ChangedFrom, fields, constants),
        st.builds(c.OlderThan, fields, st.integers(0, 400), st.booleans()),
    )


conditions: st.SearchStrategy[c.Condition] = st.recursive(
    _leaf(),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda xs: c.AllOf(tuple(xs))),
        st.lists(inner, max_size=3).map(lambda xs: c.AnyOf(tuple(xs))),
        inner.map(c.Not),
    ),
    max_leaves=8,
)

values = st.one_of(
    st.none(),
    st.integers(-5, 5),
    st.sampled_from(["new", "won", "lost", "DE", "FR", ""]),
    st.dates(date(2020, 1, 1), date(2025, 1, 1)),
)
records = st.fixed_dictionaries(
    {},
    optional={
        "stage": values,
        "amount": values,
        "country": values,
        "owner": values,
        "closed_at": values,
        "tags": st.lists(st.sampled_from(["vip", "at-risk"]), max_size=2).map(tuple),
    },
)


# -- rules ----------------------------------------------------------------------------------

from crmcore.workflows import Rule, RuleSet  # noqa: E402
from crmcore.workflows import _actions as a  # noqa: E402
from crmcore.workflows import _triggers as t  # noqa: E402

names = st.text("abcdefghij-", min_size=1, max_size=10).filter(lambda s: s.strip())
# control characters are left out: YAML folds some of them (NEL, U+0085) into line breaks
texts = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=12)
days = st.integers(0, 400)

event_triggers = st.one_of(
    st.builds(t.OnEvent, st.sampled_from([("created",), ("updated",), ("created", "updated")]),
              st.lists(fields, max_size=2).map(tuple)),
    st.builds(t.OnStageChange, st.sampled_from(["stage", "status"]),
              st.lists(st.sampled_from(["won", "lost"]), max_size=2).map(tuple),
              st.lists(st.sampled_from(["open"]), max_size=1).map(tuple)),
)
time_triggers = st.one_of(
    st.builds(t.DateOffset, fields, st.integers(-100, 100), st.none() | days),
    st.builds(t.Unchanged, fields, days, st.none() | fields, st.none() | days),
    st.builds(t.NoActivity, days),
)
field_actions = st.one_of(
    st.builds(a.update_field, fields, constants),
    st.builds(a.add_tag, texts),
    st.builds(a.remove_tag, texts),
    st.builds(lambda p: a.assign_owner("round_robin", pool=p), st.lists(names, min_size=1,
                                                                        max_size=3)),
    st.builds(lambda m: a.assign_owner("territory", territories=m, fallback="x"),
              st.dictionaries(st.sampled_from(["DE", "FR", "US"]), names, max_size=3)),
    st.builds(lambda p: a.assign_owner("load_balanced", pool=p), st.lists(names, min_size=1,
                                                                          max_size=3)),
    st.builds(a.shorten_sla, st.integers(0, 48)),
)
other_actions = st.one_of(
    st.builds(a.create_task, texts, due_in_days=st.integers(0, 9), delay_days=st.integers(0, 3)),
    st.builds(a.send_alert, names, texts),
    st.builds(a.send_email, names, at_field=st.none() | fields, offset_days=st.none() | days),
    st.builds(a.create_related, names, fields=st.dictionaries(names, constants, max_size=2),
              copy=st.dictionaries(names, fields, max_size=2)),
    st.builds(lambda n, x: a.custom_action(n, x=x), names, constants),
)
other_actions = other_actions | st.builds(
    a.delayed, other_actions, days=st.integers(0, 9), hours=st.integers(0, 23),
    at_field=st.none() | fields, offset_days=st.none() | st.integers(-60, 60),
)


@st.composite
def rules(draw) -> Rule:
    before = draw(st.booleans())
    return Rule(
        name=draw(names),
        record_type=draw(st.sampled_from(["deal", "contact", "ticket"])),
        trigger=draw(event_triggers if before else st.one_of(event_triggers, time_triggers)),
        actions=tuple(draw(st.lists(field_actions if before else
                                    st.one_of(field_actions, other_actions),
                                    min_size=1, max_size=3))),
        condition=draw(conditions),
        phase="before_save" if before else "after_save",
        priority=draw(st.integers(-5, 5)),
        enabled=draw(st.booleans()),
        newly_met=draw(st.booleans()),
        reenroll=draw(st.booleans()),
        description=draw(texts),
    )


rule_sets = st.lists(rules(), max_size=4, unique_by=lambda r: r.name).map(
    lambda rs: RuleSet(tuple(rs), "set", 3)
)
