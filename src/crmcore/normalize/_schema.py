"""Schema mapping: source column names -> canonical flat fields, synonyms found automatically.

Column names are compared by a key: accents folded, case folded, everything but letters and
digits removed (``"E-mail Address"`` -> ``"emailaddress"``). A column maps onto a canonical field
of the preset when, in this order:

1. an override names the field (``overrides={"Mail 1": "email"}``; ``None`` keeps it custom);
2. its key is a synonym of the field (``"Company Name"``, ``"Organisation"``, ``"Zip"``,
   ``"Post Code"``, ``"Surname"``, ``"Given name"`` ...);
3. its key minus a common prefix (``contact``, ``primary``, ``mailing``, ``billing``, ``work``,
   ``business``, ``main``, ``customer``, ``account``) is a synonym (``"Contact Email"``);
4. its key contains an unambiguous stem (``email``, ``phone``, ``mobile``, ``zip``, ``postcode``,
   ``postal``, ``country``) and none of its words (split at spaces, punctuation and camelCase)
   marks a flag about the value rather than the value itself (``type``, ``status``, ``opt in``,
   ``consent``, ``verified``, ``valid``, ``count``, ``bounced`` ...).

Each field takes the best column that maps to it: an override before an exact synonym, before a
prefixed synonym, before a stem match, and in source order among equals (``"Email"`` wins over an
earlier ``"Secondary Email"``); the other candidates are kept as custom fields and listed in
:attr:`SchemaMapping.conflicts`. Columns that map to nothing are
kept as custom fields under their own name and listed in :attr:`SchemaMapping.unmapped`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from crmcore.errors import SchemaMappingError
from crmcore.io import Table
from crmcore.normalize._core import fold_accents

CONTACT_FIELDS = (
    "record_id",
    "source_system",
    "first_name",
    "last_name",
    "full_name",
    "email",
    "phone",
    "mobile",
    "company",
    "title",
    "website",
    "street",
    "city",
    "region",
    "postcode",
    "country",
    "dob",
    "lead_source",
    "owner",
    "created_at",
    "updated_at",
)
ACCOUNT_FIELDS = (
    "record_id",
    "source_system",
    "company",
    "domain",
    "industry",
    "size",
    "phone",
    "street",
    "city",
    "region",
    "postcode",
    "country",
    "parent",
    "owner",
    "created_at",
    "updated_at",
)

_COMMON = {
    "record_id": "id recordid recid rowid uid uuid key externalid sourceid sourcerecordid crmid",
    "source_system": "source sourcesystem system datasource sourcename sourcesys origin",
    "phone": "phone phonenumber phoneno telephone telephonenumber tel telno landline workphone "
    "businessphone officephone contactnumber telefon telefono telephone1 phone1 mainphone",
    "street": "street streetaddress address address1 addressline1 addressline street1 addr "
    "mailingstreet billingstreet strasse calle rue",
    "city": "city town locality mailingcity billingcity ort stadt ville ciudad citta",
    "region": "region state province county stateprovince stateorprovince mailingstate "
    "billingstate bundesland provincia",
    "postcode": "postcode postalcode zip zipcode zippostalcode postal plz postleitzahl "
    "codepostal cp cap pincode mailingpostalcode billingpostalcode postcodezip",
    "country": "country countrycode countryname nation mailingcountry billingcountry land pays "
    "pais paese iso2 countryiso",
    "owner": "owner ownername ownerid accountowner contactowner salesrep rep assignedto "
    "assignee accountmanager",
    "created_at": "createdat created createddate creationdate createdon datecreated createdtime "
    "createtime signupdate signedup dateadded added",
    "updated_at": "updatedat updated lastmodified lastmodifieddate modified modifiedon "
    "modifieddate updatedon lastupdated dateupdated lastmodifiedtime updatetime",
}
_CONTACTS = {
    **_COMMON,
    "record_id": _COMMON["record_id"] + " contactid customerid leadid personid",
    "first_name": "firstname first fname givenname givennames forename forenames christianname "
    "vorname prenom nombre nome voornaam",
    "last_name": "lastname last lname surname familyname nachname nom apellido apellidos cognome "
    "achternaam",
    "full_name": "name fullname contactname personname displayname customername completename",
    "email": "email emailaddress mail emailadress emailaddr primaryemail workemail emailid "
    "contactemail businessemail email1 correo courriel",
    "mobile": "mobile mobilephone mobilenumber mobileno cell cellphone cellular cellnumber handy "
    "movil portable",
    "company": "company companyname organisation organization org orgname organisationname "
    "organizationname account accountname employer business businessname firm firma "
    "entreprise empresa",
    "title": "title jobtitle position role designation jobrole",
    "website": "website web url homepage site websiteurl webaddress",
    "dob": "dob dateofbirth birthdate birthday born geburtsdatum",
    "lead_source": "leadsource leadorigin leadchannel channel acquisitionchannel "
    "acquisitionsource howdidyouhear",
}
_ACCOUNTS = {
    **_COMMON,
    "record_id": _COMMON["record_id"] + " accountid companyid orgid organizationid",
    "company": "company companyname name accountname account organisation organization org "
    "orgname organisationname organizationname legalname businessname firm entity",
    "domain": "domain website web url homepage site websiteurl emaildomain companydomain "
    "companywebsite",
    "industry": "industry sector vertical industrysector",
    "size": "size employees numberofemployees employeecount headcount companysize staff",
    "parent": "parent parentaccount parentcompany parentid parentaccountid parentorg",
}


def column_key(name: str) -> str:
    """Return the comparison key of a column name.

    Example:
        >>> column_key(" E-mail Address "), column_key("Post_Code"), column_key("Prénom")
        ('emailaddress', 'postcode', 'prenom')
    """
    return re.sub(r"[^0-9a-z]+", "", fold_accents(name).casefold())


def _synonyms(table: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for field, words in table.items():
        for word in words.split():
            out.setdefault(word, field)
    return out


SCHEMA_PRESETS: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "contacts": (CONTACT_FIELDS, _synonyms(_CONTACTS)),
    "accounts": (ACCOUNT_FIELDS, _synonyms(_ACCOUNTS)),
}
"""Preset name -> (canonical fields in order, synonym key -> field)."""

_PREFIXES = ("contact", "primary", "mailing", "billing", "work", "business", "main", "customer")
_PREFIXES_ACCOUNTS = (*_PREFIXES, "account", "company")
_STEMS = (
    ("email", "email"),
    ("mobile", "mobile"),
    ("phone", "phone"),
    ("zip", "postcode"),
    ("postcode", "postcode"),
    ("postal", "postcode"),
    ("country", "country"),
)

_NOT_VALUES = frozenset(
    {
        *("type", "status", "opt", "optin", "optout", "consent", "verified", "valid"),
        *("validated", "flag", "count", "bounced", "bounce", "unsubscribed", "subscribed"),
        *("permission", "permissions", "preference", "format"),
    }
)
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_RANK = {"override": 0, "synonym": 1, "prefix": 2, "stem": 3}


def _words(name: str) -> set[str]:
    """Words of a column name, split at punctuation, spaces and camelCase humps."""
    folded = fold_accents(name)
    words = {w.casefold() for w in _WORDS.findall(folded)}
    words.update(w for w in re.split(r"[^0-9a-z]+", folded.casefold()) if w)
    return words


@attrs.frozen
class SchemaMapping:
    """How a source's columns map onto canonical fields.

    Args:
        preset: ``"contacts"`` or ``"accounts"``.
        mapping: Source column -> canonical field, in source order.
        unmapped: Source columns kept as custom fields under their own name (conflicts included).
        conflicts: Canonical field -> later source columns that also looked like it.
        how: Source column -> ``"override"``, ``"synonym"``, ``"prefix"`` or ``"stem"``.
    """

    preset: str
    mapping: dict[str, str]
    unmapped: list[str]
    conflicts: dict[str, list[str]] = attrs.field(factory=dict)
    how: dict[str, str] = attrs.field(factory=dict)

    @property
    def fields(self) -> list[str]:
        """Canonical fields that have a source column, in canonical order."""
        order = SCHEMA_PRESETS[self.preset][0]
        used = set(self.mapping.values())
        return [f for f in order if f in used]

    def source_of(self, field: str) -> str | None:
        """Return the source column mapped onto ``field``, or None."""
        for source, target in self.mapping.items():
            if target == field:
                return source
        return None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict."""
        return {
            "preset": self.preset,
            "mapping": dict(self.mapping),
            "unmapped": list(self.unmapped),
            "conflicts": {k: list(v) for k, v in self.conflicts.items()},
            "how": dict(self.how),
        }


def _guess(name: str, synonyms: Mapping[str, str], prefixes: tuple[str, ...]) -> tuple[str, str]:
    key = column_key(name)
    if key in synonyms:
        return synonyms[key], "synonym"
    for prefix in prefixes:
        if key.startswith(prefix) and key[len(prefix) :] in synonyms:
            return synonyms[key[len(prefix) :]], "prefix"
    if _words(name) & _NOT_VALUES:
        return "", ""
    for stem, field in _STEMS:
        if stem in key and field in synonyms.values():
            return field, "stem"
    return "", ""


def map_schema(
    columns: Iterable[str],
    *,
    overrides: Mapping[str, str | None] | None = None,
    preset: str = "contacts",
) -> SchemaMapping:
    """Map source column names onto the preset's canonical fields (see the module rules).

    Args:
        columns: Source column names, in source order.
        overrides: Source column -> canonical field, or None to keep the column custom.
        preset: ``"contacts"`` or ``"accounts"`` (see SCHEMA: the canonical fields of each).

    Returns:
        The :class:`SchemaMapping`.

    Raises:
        SchemaMappingError: For an unknown preset, or overrides naming a column that does not
            exist, a field the preset does not have, or one field twice (all problems listed).

    Example:
        >>> m = map_schema(["E-mail Address", "Organisation", "Zip", "Surname", "Notes"])
        >>> m.mapping
        {'E-mail Address': 'email', 'Organisation': 'company', 'Zip': 'postcode', 'Surname': 'last_name'}
        >>> m.unmapped
        ['Notes']
    """  # noqa: E501
    if preset not in SCHEMA_PRESETS:
        choices = sorted(SCHEMA_PRESETS)
        raise SchemaMappingError(f"unknown preset {preset!r}; choose one of {choices}")
    fields, synonyms = SCHEMA_PRESETS[preset]
    names = [str(c) for c in columns]
    overrides = dict(overrides or {})
    problems: list[str] = []
    for source, target in overrides.items():
        if source not in names:
            problems.append(f"override for {source!r}: no such column (columns: {names})")
        if target is not None and target not in fields:
            problems.append(
                f"override {source!r} -> {target!r}: {target!r} is not a {preset} field"
            )
    targets = [t for t in overrides.values() if t is not None]
    problems.extend(
        f"overrides map several columns onto {target!r}"
        for target in sorted({t for t in targets if targets.count(t) > 1})
    )
    if problems:
        raise SchemaMappingError("invalid schema overrides:\n  " + "\n  ".join(problems))
    prefixes = _PREFIXES_ACCOUNTS if preset == "accounts" else _PREFIXES
    guesses: dict[str, tuple[str, str]] = {}
    for name in names:
        if name in overrides:
            target = overrides[name]
            guesses[name] = ("", "") if target is None else (target, "override")
        else:
            guesses[name] = _guess(name, synonyms, prefixes)
    winners: dict[str, str] = {}
    for _, name in sorted(
        enumerate(names), key=lambda item: (_RANK.get(guesses[item[1]][1], 9), item[0])
    ):
        field = guesses[name][0]
        if field and field not in winners:
            winners[field] = name
    mapping: dict[str, str] = {}
    how: dict[str, str] = {}
    conflicts: dict[str, list[str]] = {}
    unmapped: list[str] = []
    for name in names:
        field, method = guesses[name]
        if field and winners[field] == name:
            mapping[name] = field
            how[name] = method
            continue
        if field:
            conflicts.setdefault(field, []).append(name)
        unmapped.append(name)
    return SchemaMapping(preset, mapping, unmapped, conflicts, how)


def column_renames(
    column_names: Sequence[str], mapping: Mapping[str, str] | None = None, *,
    preset: str | None = None,
) -> dict[str, str]:
    """Source column -> canonical field: :func:`map_schema` of the preset (when one is given),
    then the explicit ``mapping`` entries over it.

    Raises:
        SchemaMappingError: As :func:`map_schema` does.
    """
    renames: dict[str, str] = {}
    if preset is not None:
        result = map_schema(column_names, overrides=dict(mapping or {}), preset=preset)
        renames.update({str(k): str(v) for k, v in result.mapping.items()})
    renames.update(mapping or {})
    return renames


def apply_mapping(
    table: Table, mapping: Mapping[str, str] | None = None, *, preset: str | None = None
) -> Table:
    """Rename source columns to canonical fields (schema mapping plus explicit overrides).

    With a ``preset``, columns are mapped by :func:`map_schema`; explicit ``mapping`` entries
    (source column -> field) always win, also over a column already named like the field.
    Unmapped columns are kept under their own names. When several source columns land on one
    field, the others are left out of the result (the source table is not changed).

    Raises:
        SchemaMappingError: As :func:`map_schema` does.

    Example:
        >>> from crmcore.io import Table
        >>> t = Table({"E-mail": ["a@x.io"], "Mail 2": ["b@x.io"], "Notes": ["hi"]})
        >>> apply_mapping(t, {"Mail 2": "email"}, preset="contacts").columns
        {'E-mail': ['a@x.io'], 'email': ['b@x.io'], 'Notes': ['hi']}
    """
    renames = column_renames(table.column_names, mapping, preset=preset)
    explicit = dict(mapping or {})
    # Several source columns for one field: an explicit mapping entry wins, then a column that
    # already has the field's name, then an automatic rename; among equals the first column.
    best: dict[str, tuple[int, int, str]] = {}
    for order, name in enumerate(table.column_names):
        target = renames.get(name, name)
        rank = 0 if explicit.get(name) == target else (1 if name == target else 2)
        if target not in best or (rank, order) < best[target][:2]:
            best[target] = (rank, order, name)
    chosen = {source: target for target, (_, _, source) in best.items()}
    return Table({
        chosen[name]: values for name, values in table.columns.items() if name in chosen
    })
