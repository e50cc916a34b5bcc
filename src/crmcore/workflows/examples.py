"""The seven standard CRM workflows, as ready-made rule sets.

Each function returns a :class:`~crmcore.workflows._rules.RuleSet` (plain data: print it with
``.to_json()``, edit it, load it back). Field names follow crmcore's canonical schema
(``owner_id``, ``lifecycle_stage``, ``lead_source``, ``country``, ``stage`` ...).

=================== ========== ============================================ ==================
function            records    trigger                                      actions
=================== ========== ============================================ ==================
fast_follow_up      contact    created, lead from a web form                assign owner (round
                                                                            robin), call task,
                                                                            alert the owner
stalled_deals       deal       stage unchanged 14 days, deal still open     task, alert manager,
                                                                            tag ``at-risk``
won_deal_handoff    deal       stage changed to won                         onboarding ticket
                                                                            (deal notes copied,
                                                                            priority set), alert
renewal_reminder    account    60 days before ``renewal_date``              task, tag
                                                                            ``renewal-list``,
                                                                            reminder email
inactive_leads      contact    no activity for 90 days, still a lead        status ``inactive``,
                                                                            re-engagement task
urgent_tickets      ticket     priority newly ``urgent``                    senior queue, alert
                                                                            on-call, 4 h SLA
region_routing      contact    country created / changed                    territory owner,
                                                                            region tag, queue
=================== ========== ============================================ ==================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from crmcore.conditions import all_, eq, in_, ne, not_in
from crmcore.workflows._actions import (
    add_tag,
    assign_owner,
    create_related,
    create_task,
    send_alert,
    send_email,
    shorten_sla,
    update_field,
)
from crmcore.workflows._rules import Rule, RuleSet
from crmcore.workflows._triggers import (
    DateOffset,
    NoActivity,
    OnStageChange,
    Unchanged,
    on_created,
    on_created_or_updated,
)

__all__ = [
    "DEFAULT_REGIONS",
    "fast_follow_up",
    "inactive_leads",
    "region_routing",
    "renewal_reminder",
    "stalled_deals",
    "standard_workflows",
    "urgent_tickets",
    "won_deal_handoff",
]

DEFAULT_REGIONS: Final[Mapping[str, Sequence[str]]] = {
    "emea": ("GB", "DE", "FR", "ES", "IT", "NL", "BE", "AT", "CH", "SE", "PL", "IE"),
    "amer": ("US", "CA", "MX", "BR", "AR", "CL", "CO"),
    "apac": ("JP", "CN", "IN", "AU", "NZ", "SG", "KR"),
}


def fast_follow_up(
    pool: Sequence[str] = ("rep-1", "rep-2", "rep-3"), *, hours: float = 1.0
) -> RuleSet:
    """New web-form leads: round-robin owner, call task within ``hours``, alert the owner."""
    rule = Rule(
        name="fast-follow-up",
        record_type="contact",
        description="A lead from a web form gets an owner, a call task and an alert at once.",
        trigger=on_created(),
        condition=all_(eq("lead_source", "web_form"), eq("lifecycle_stage", "lead")),
        actions=(
            assign_owner("round_robin", pool=tuple(pool)),
            create_task(
                "Call {first_name} {last_name} (web form lead)",
                due_in_days=hours / 24,
                priority="high",
            ),
            send_alert("$owner_id", "New web lead {first_name} {last_name}: call within 1 hour"),
        ),
        priority=10,
    )
    return RuleSet((rule,), "fast-follow-up", 1)


def stalled_deals(days: float = 14) -> RuleSet:
    """Open deals whose stage has not moved for ``days``: task, alert manager, tag at-risk."""
    rule = Rule(
        name="stalled-deal",
        record_type="deal",
        description=f"Deal stage unchanged for {days:g} days while the deal is open.",
        trigger=Unchanged("stage", days),
        condition=not_in("stage", ("won", "lost")),
        actions=(
            create_task("Stalled deal {name}: agree next step", due_in_days=2),
            send_alert("$manager_id", "Deal {name} has been in stage {stage} for too long"),
            add_tag("at-risk"),
        ),
    )
    return RuleSet((rule,), "stalled-deals", 1)


def won_deal_handoff(priority: str = "high") -> RuleSet:
    """A deal won: onboarding ticket with the deal's notes and priority set, alert onboarding."""
    rule = Rule(
        name="won-deal-handoff",
        record_type="deal",
        description="Hand a won deal to onboarding: a ticket carrying the deal's notes.",
        trigger=OnStageChange("stage", to=("won",)),
        actions=(
            create_related(
                "ticket",
                fields={"type": "onboarding", "priority": priority, "status": "new"},
                copy={"description": "notes", "account_id": "account_id", "subject": "name"},
                link_field="deal_id",
            ),
            send_alert("onboarding-team", "Deal {name} won: onboarding ticket opened"),
        ),
    )
    return RuleSet((rule,), "won-deal-handoff", 1)


def renewal_reminder(days_before: float = 60) -> RuleSet:
    """``days_before`` a renewal date: task, add to the renewal list, reminder email."""
    rule = Rule(
        name="renewal-reminder",
        record_type="account",
        description=f"{days_before:g} days before renewal: prepare the renewal.",
        trigger=DateOffset("renewal_date", -days_before),
        condition=ne("status", "churned"),
        actions=(
            create_task("Renewal of {name} on {renewal_date}", due_in_days=7),
            add_tag("renewal-list"),
            send_email(
                "renewal_reminder",
                to="$billing_email",
                context={"account": "$name", "renewal_date": "$renewal_date"},
            ),
        ),
    )
    return RuleSet((rule,), "renewal-reminder", 1)


def inactive_leads(days: float = 90) -> RuleSet:
    """Leads without activity for ``days``: status ``inactive`` and a re-engagement task."""
    rule = Rule(
        name="inactive-lead",
        record_type="contact",
        description=f"No activity for {days:g} days on a lead.",
        trigger=NoActivity(days),
        condition=all_(eq("lifecycle_stage", "lead"), ne("status", "inactive")),
        actions=(
            update_field("status", "inactive"),
            create_task("Re-engage {first_name} {last_name}", due_in_days=5),
        ),
    )
    return RuleSet((rule,), "inactive-leads", 1)


def urgent_tickets(sla_hours: float = 4, *, queue: str = "senior-support") -> RuleSet:
    """Tickets that become urgent: senior queue, alert on-call, SLA cut to ``sla_hours``."""
    rule = Rule(
        name="urgent-ticket",
        record_type="ticket",
        description="Urgent tickets go to the senior queue with a shorter SLA.",
        trigger=on_created_or_updated("priority"),
        condition=eq("priority", "urgent"),
        newly_met=True,
        actions=(
            update_field("queue", queue),
            send_alert("on-call", "Urgent ticket {id}: {subject}"),
            shorten_sla(sla_hours),
        ),
        priority=20,
    )
    return RuleSet((rule,), "urgent-tickets", 1)


def region_routing(
    regions: Mapping[str, Sequence[str]] = DEFAULT_REGIONS,
    owners: Mapping[str, str] | None = None,
    *,
    record_type: str = "contact",
) -> RuleSet:
    """Country created or changed: territory owner, region tag and queue, one rule per region.

    Args:
        regions: ``region -> countries`` (ISO 3166-1 alpha-2).
        owners: ``region -> owner``; default ``"<region>-owner"``.
        record_type: Which records to route.
    """
    rules = []
    for region, countries in regions.items():
        owner = (owners or {}).get(region, f"{region}-owner")
        rules.append(
            Rule(
                name=f"route-{region}",
                record_type=record_type,
                description=f"Route records in {region.upper()} countries.",
                trigger=on_created_or_updated("country"),
                condition=in_("country", tuple(countries)),
                actions=(
                    assign_owner(
                        "territory",
                        territories=dict.fromkeys(countries, owner),
                        by="country",
                        fallback=owner,
                    ),
                    update_field("region", region),
                    add_tag(f"region:{region}"),
                    update_field("queue", f"{region}-sales"),
                ),
            )
        )
    return RuleSet(tuple(rules), "region-routing", 1)


def standard_workflows() -> RuleSet:
    """All seven standard workflows in one rule set (names are unique across them)."""
    out = RuleSet((), "standard-workflows", 1)
    for part in (
        fast_follow_up(),
        stalled_deals(),
        won_deal_handoff(),
        renewal_reminder(),
        inactive_leads(),
        urgent_tickets(),
        region_routing(),
    ):
        out = RuleSet(out.rules + part.rules, out.name, out.version)
    return out
