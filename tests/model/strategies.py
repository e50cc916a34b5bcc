"""Shared hypothesis strategies for the domain model tests."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import attrs
from hypothesis import strategies as st

from crmcore.model import (
    CURRENCY_CODES,
    Account,
    AccountMembership,
    Activity,
    ActivityType,
    Address,
    Consent,
    ConsentChannel,
    ConsentPurpose,
    ConsentStatus,
    Contact,
    Deal,
    LawfulBasis,
    LifecycleStage,
    Pipeline,
    Provenance,
    RecordRef,
    Stage,
    StageKind,
    Team,
    Ticket,
    TicketPriority,
    User,
)

#: The record types crmcore ships (hosts may register more).
BUILT_IN = ("contact", "account", "deal", "ticket", "activity", "consent", "user", "team")

COMMON = ("id", "created_at", "updated_at", "provenance", "field_provenance")

ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=10)
texts = st.text(max_size=20)
opt_texts = st.none() | texts
opt_ids = st.none() | ids

offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
#: IANA zones from the zoneinfo database (the system's or the tzdata package's). Sampled from
#: ``available_timezones()`` rather than ``st.timezones()``, which wants the tzdata package.
ZONE_KEYS = sorted(zoneinfo.available_timezones())
assert ZONE_KEYS, "no IANA time zone database: install tzdata"
zones = st.sampled_from(ZONE_KEYS).map(zoneinfo.ZoneInfo)
aware_datetimes = st.datetimes(
    min_value=datetime(1900, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.just(UTC) | offsets | zones,
)


def instant(value: datetime) -> datetime:
    """The UTC instant (same-zone datetimes compare by wall time, ignoring fold)."""
    return value.astimezone(UTC)
opt_datetimes = st.none() | aware_datetimes
opt_dates = st.none() | st.dates()
decimals = st.decimals(allow_nan=False, allow_infinity=False)
currencies = st.sampled_from(sorted(CURRENCY_CODES))
country_shapes = st.from_regex(r"[A-Z]{2}", fullmatch=True)
custom_values = (
    st.none()
    | texts
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.booleans()
)
custom_fields = st.dictionaries(st.text(min_size=1, max_size=10).filter(str.strip), custom_values)
tags = st.frozensets(texts, max_size=4)
str_tuples = st.lists(texts, max_size=3).map(tuple)
id_tuples = st.lists(ids, max_size=4, unique=True).map(tuple)

provenances = st.builds(
    Provenance,
    source_system=st.text(min_size=1, max_size=10).filter(str.strip),
    source_record_id=opt_texts,
    observed_at=opt_datetimes,
)
addresses = st.builds(
    Address,
    street=opt_texts,
    city=opt_texts,
    region=opt_texts,
    postcode=opt_texts,
    country=st.none() | country_shapes,
)
record_refs = st.builds(
    RecordRef,
    record_type=st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True),
    id=ids,
)


@st.composite
def memberships(draw: st.DrawFn) -> tuple[AccountMembership, ...]:
    """Memberships in distinct accounts with at most one primary."""
    accounts = draw(st.lists(ids, max_size=4, unique=True))
    primary = draw(st.none() | st.integers(0, max(len(accounts) - 1, 0)))
    return tuple(
        AccountMembership(a, draw(opt_texts), primary == i) for i, a in enumerate(accounts)
    )


@st.composite
def timestamps(draw: st.DrawFn) -> tuple[datetime | None, datetime | None]:
    """A ``(created_at, updated_at)`` pair with updated not before created."""
    created = draw(opt_datetimes)
    updated = draw(opt_datetimes)
    if created is not None and updated is not None and instant(updated) < instant(created):
        created, updated = updated, created
    return created, updated


def _with_common(cls: type, **fields: st.SearchStrategy) -> st.SearchStrategy:
    data_fields = [a.name for a in attrs.fields(cls) if a.name not in COMMON]

    @st.composite
    def build(draw: st.DrawFn) -> object:
        created, updated = draw(timestamps())
        kwargs = {name: draw(strategy) for name, strategy in fields.items()}
        field_prov = draw(st.dictionaries(st.sampled_from(data_fields), provenances, max_size=2))
        return cls(
            id=draw(ids),
            created_at=created,
            updated_at=updated,
            provenance=draw(st.none() | provenances),
            field_provenance=field_prov,
            **kwargs,
        )

    return build()


contacts = _with_common(
    Contact,
    first_name=opt_texts,
    last_name=opt_texts,
    emails=str_tuples,
    phones=str_tuples,
    title=opt_texts,
    company=opt_texts,
    birth_date=opt_dates,
    memberships=memberships(),
    address=st.none() | addresses,
    country=st.none() | country_shapes,
    lifecycle_stage=st.none() | st.sampled_from(LifecycleStage),
    lead_source=opt_texts,
    owner_id=opt_ids,
    tags=tags,
    custom_fields=custom_fields,
)


_accounts = _with_common(
    Account,
    name=opt_texts,
    domain=opt_texts,
    industry=opt_texts,
    size=opt_texts,
    phones=str_tuples,
    address=st.none() | addresses,
    owner_id=opt_ids,
    lifecycle_stage=st.none() | st.sampled_from(LifecycleStage),
    tags=tags,
    custom_fields=custom_fields,
)


@st.composite
def _accounts_with_parent(draw: st.DrawFn) -> Account:
    account = draw(_accounts)
    parent = draw(opt_ids.filter(lambda p: p != account.id))
    return attrs.evolve(account, parent_id=parent)


accounts = _accounts_with_parent()


@st.composite
def _money(draw: st.DrawFn) -> tuple[Decimal | None, str | None]:
    amount = draw(st.none() | decimals)
    currency = draw(currencies) if amount is not None else draw(st.none() | currencies)
    return amount, currency


@st.composite
def deals(draw: st.DrawFn) -> Deal:
    """Deals with any stage string and consistent money."""
    amount, currency = draw(_money())
    base = draw(
        _with_common(
            Deal,
            name=opt_texts,
            account_id=opt_ids,
            contact_ids=id_tuples,
            owner_id=opt_ids,
            pipeline=ids,
            stage=ids,
            close_date=opt_dates,
            next_step=opt_texts,
            next_step_date=opt_dates,
            loss_reason=opt_texts,
            tags=tags,
            custom_fields=custom_fields,
        )
    )
    return attrs.evolve(base, amount=amount, currency=currency)


tickets = _with_common(
    Ticket,
    subject=opt_texts,
    description=opt_texts,
    contact_id=opt_ids,
    account_id=opt_ids,
    priority=st.sampled_from(TicketPriority),
    pipeline=ids,
    status=ids,
    owner_id=opt_ids,
    queue=opt_texts,
    sla_due=opt_datetimes,
    close_reason=opt_texts,
    tags=tags,
    custom_fields=custom_fields,
)


@st.composite
def activities(draw: st.DrawFn) -> Activity:
    """Activities of every type; only tasks get a due date."""
    activity_type = draw(st.sampled_from(ActivityType))
    base = draw(
        _with_common(
            Activity,
            activity_type=st.just(activity_type),
            subject=opt_texts,
            body=opt_texts,
            related=st.lists(record_refs, max_size=3, unique=True).map(tuple),
            owner_id=opt_ids,
            occurred_at=opt_datetimes,
            outcome=opt_texts,
        )
    )
    due = draw(opt_dates) if activity_type is ActivityType.TASK else None
    return attrs.evolve(base, due_date=due)


@st.composite
def consents(draw: st.DrawFn) -> Consent:
    """Consents with expires_at after effective_from when both are set."""
    effective = draw(opt_datetimes)
    expires = draw(opt_datetimes)
    if effective is not None and expires is not None and instant(expires) <= instant(effective):
        expires = (instant(effective) + timedelta(days=1)).astimezone(effective.tzinfo)
    base = draw(
        _with_common(
            Consent,
            person_id=ids,
            channel=st.sampled_from(ConsentChannel),
            purpose=st.sampled_from(ConsentPurpose),
            status=st.sampled_from(ConsentStatus),
            contact_point=opt_texts,
            lawful_basis=st.none() | st.sampled_from(LawfulBasis),
            source=opt_texts,
            evidence=opt_texts,
            captured_at=opt_datetimes,
        )
    )
    return attrs.evolve(base, effective_from=effective, expires_at=expires)


users = _with_common(User, name=opt_texts, email=opt_texts, role=opt_texts, active=st.booleans())
teams = _with_common(Team, name=opt_texts, member_ids=id_tuples, manager_id=opt_ids)

RECORDS = {
    "contact": contacts,
    "account": accounts,
    "deal": deals(),
    "ticket": tickets,
    "activity": activities(),
    "consent": consents(),
    "user": users,
    "team": teams,
}
any_record = st.one_of(*RECORDS.values())

stage_kinds = st.sampled_from(StageKind)


@st.composite
def stage_lists(draw: st.DrawFn) -> list[Stage]:
    """Ordered stages with unique ids, an open first stage and any mix of kinds after it."""
    names = draw(st.lists(ids, min_size=1, max_size=7, unique=True))
    stages = [Stage(names[0], draw(opt_texts), StageKind.OPEN)]
    for name in names[1:]:
        probability = draw(
            st.none() | st.decimals(min_value=0, max_value=1, allow_nan=False, places=2)
        )
        stages.append(Stage(name, draw(opt_texts), draw(stage_kinds), probability))
    return stages


@st.composite
def pipelines(draw: st.DrawFn) -> Pipeline:
    """Linear pipelines for deals with random options."""
    stages = draw(stage_lists())
    open_ids = [s.id for s in stages if s.kind is StageKind.OPEN]
    reopen = draw(st.none() | st.sampled_from(open_ids))
    return Pipeline.linear(
        draw(ids),
        "deal",
        stages,
        allow_backward=draw(st.booleans()),
        allow_skip=draw(st.booleans()),
        reopen_to=reopen,
    )


VALUES = {
    "provenance": provenances,
    "address": addresses,
    "record_ref": record_refs,
    "membership": memberships().filter(bool).map(lambda ms: ms[0]),
    "stage": stage_lists().map(lambda s: s[-1]),
    "pipeline": pipelines(),
}
