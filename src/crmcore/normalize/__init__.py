"""Normalizers: one readable, consistent value for every field.

Every normalizer is a pure function ``str | None -> str | None`` (with keyword options) that
returns ``None`` for values carrying no information (empty, ``n/a``, ``-``, ``unknown``,
``test@test.com``-style placeholders). Lenient by default: a rejected value gives ``None`` and,
when an ``issues`` list is passed, a :class:`~crmcore.errors.FieldProblem` (field, value, rule,
reason); ``strict=True`` raises :class:`~crmcore.errors.NormalizationError` instead.

Normalizers are registered by name (:func:`get_normalizer`, :func:`register_normalizer`);
:func:`normalize_column` is the batch API with a per-distinct-value cache; :func:`map_schema`
maps source columns onto canonical fields and :func:`normalize_table` applies both to a table.

Example:
    >>> normalize_email("John.Smith+crm@GMAIL.com"), normalize_phone("415 555 0134", "US")
    ('johnsmith@gmail.com', '+14155550134')
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crmcore import compat
from crmcore.normalize._address import normalize_address, normalize_postcode
from crmcore.normalize._company import (
    LEGAL_FORMS,
    company_display_name,
    company_word_weight,
    company_words,
    normalize_company_name,
    split_legal_form,
    word_overlap,
)
from crmcore.normalize._core import (
    NULL_TOKENS,
    Normalizer,
    Rejection,
    repair_mojibake,
)
from crmcore.normalize._country import country_alpha3, normalize_country
from crmcore.normalize._dates import (
    DATE_ORDER_EVIDENCE,
    date_order,
    normalize_date,
    normalize_datetime,
)
from crmcore.normalize._email import normalize_domain, normalize_email
from crmcore.normalize._identity import (
    PHONE_CHANNELS,
    contact_point_key,
    date_of_birth_key,
    email_key,
    email_keys,
    identifier_keys,
    person_name_key,
    phone_key,
    phone_keys,
    text_identifier_keys,
)
from crmcore.normalize._names import (
    HONORIFICS,
    canonical_given_name,
    given_name_variants,
    name_key,
    natural_name_order,
    nickname_table,
    normalize_person_name,
    split_full_name,
)
from crmcore.normalize._phone import normalize_phone
from crmcore.normalize._registry import (
    NormalizerRegistryError,
    UnknownNormalizerError,
    get_normalizer,
    normalize_column,
    normalizer_names,
    register_normalizer,
)
from crmcore.normalize._schema import (
    SCHEMA_PRESETS,
    SchemaMapping,
    apply_mapping,
    column_renames,
    map_schema,
)
from crmcore.normalize._table import (
    FIELD_NORMALIZERS,
    FieldReport,
    NormalizedTable,
    normalize_table,
)

__all__ = [
    "DATE_ORDER_EVIDENCE",
    "FIELD_NORMALIZERS",
    "HONORIFICS",
    "LEGAL_FORMS",
    "NULL_TOKENS",
    "PHONE_CHANNELS",
    "SCHEMA_PRESETS",
    "FieldReport",
    "NormalizedTable",
    "Normalizer",
    "NormalizerRegistryError",
    "Rejection",
    "SchemaMapping",
    "UnknownNormalizerError",
    "apply_mapping",
    "canonical_given_name",
    "column_renames",
    "company_display_name",
    "company_word_weight",
    "company_words",
    "contact_point_key",
    "country_alpha3",
    "date_of_birth_key",
    "date_order",
    "email_key",
    "email_keys",
    "get_normalizer",
    "given_name_variants",
    "identifier_keys",
    "map_schema",
    "name_key",
    "natural_name_order",
    "nickname_table",
    "normalize_address",
    "normalize_column",
    "normalize_company_name",
    "normalize_country",
    "normalize_date",
    "normalize_datetime",
    "normalize_domain",
    "normalize_email",
    "normalize_person_name",
    "normalize_phone",
    "normalize_postcode",
    "normalize_table",
    "normalizer_names",
    "person_name_key",
    "phone_key",
    "phone_keys",
    "register_normalizer",
    "repair_mojibake",
    "split_full_name",
    "split_legal_form",
    "text_identifier_keys",
    "word_overlap",
]

compat.own(__name__, globals(), __all__)
if not TYPE_CHECKING:  # old names warn (type checkers see only the names above)
    __getattr__ = compat.door_getattr(__name__)
