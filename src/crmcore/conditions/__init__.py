"""A safe, declarative condition language over CRM records, their changes and related records.

Conditions are small frozen values; nothing in a rule file is ever passed to ``eval``. A
condition is evaluated against a *record* (a plain mapping ``field -> value``), optionally the
*change* that produced it (``field -> (before, after)``), *related* records (the deal's account,
the ticket's contact) and the host's clock ``now``::

    >>> c = all_(eq("stage", "won"), gt("amount", 1000), not_empty("account.name"))
    >>> evaluate(c, {"stage": "won", "amount": 5000}, related={"account": {"name": "Acme"}})
    True
    >>> condition_from_dict(c.to_dict()) == c
    True

Operators (the ``"op"`` key of the dict form):

* ``all`` / ``any`` / ``not`` combine conditions (``all`` of nothing is true, ``any`` of nothing
  is false);
* ``eq`` ``ne`` ``lt`` ``le`` ``gt`` ``ge`` compare a field with a constant;
* ``in`` / ``not_in`` test membership in a list of constants, ``contains`` tests that a text field
  contains a substring or a collection field contains an element;
* ``empty`` / ``not_empty`` (``None``, a missing field, ``""`` and empty collections are empty);
* ``changed`` / ``changed_to`` / ``changed_from`` look at the change (false without one);
* ``older_than`` / ``newer_than`` compare a date field with ``now`` minus a number of days.

Paths are dotted: ``"address.country"`` descends into a nested mapping, ``"account.industry"``
into the related record named ``account`` when the record itself has no ``account`` field.
Values are compared after light coercion: enums compare by their ``value``; ISO-8601 strings
compare as dates when the other side is a date or datetime; naive datetimes and plain dates are
taken as UTC (a date is its midnight). Ordering comparisons between values that cannot be ordered
(``"a" < 3``, anything with ``None``) are false, never an error.

Python callables join the language through :func:`predicate`; they receive an
:class:`EvalContext`. A predicate cannot be written to a rule file (``to_dict`` raises
:class:`~crmcore.errors.RuleValidationError`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crmcore import compat
from crmcore.conditions._context import EvalContext, resolve_path
from crmcore.conditions._language import (
    Condition,
    all_,
    any_,
    as_condition,
    changed,
    changed_from,
    changed_to,
    condition_from_dict,
    contains,
    empty,
    eq,
    evaluate,
    evaluate_many,
    ge,
    gt,
    in_,
    le,
    lt,
    ne,
    newer_than,
    not_,
    not_empty,
    not_in,
    older_than,
    predicate,
    referenced_fields,
)
from crmcore.conditions._values import decode_value, encode_value, to_datetime

__all__ = [
    "Condition",
    "EvalContext",
    "all_",
    "any_",
    "as_condition",
    "changed",
    "changed_from",
    "changed_to",
    "condition_from_dict",
    "contains",
    "decode_value",
    "empty",
    "encode_value",
    "eq",
    "evaluate",
    "evaluate_many",
    "ge",
    "gt",
    "in_",
    "le",
    "lt",
    "ne",
    "newer_than",
    "not_",
    "not_empty",
    "not_in",
    "older_than",
    "predicate",
    "referenced_fields",
    "resolve_path",
    "to_datetime",
]

compat.own(__name__, globals(), __all__)
if not TYPE_CHECKING:  # old names warn (type checkers see only the names above)
    __getattr__ = compat.door_getattr(__name__)
