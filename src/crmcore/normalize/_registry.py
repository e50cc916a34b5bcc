"""The registry of normalizers by name, and the batch API over columns.

Built-in names: ``email``, ``domain``, ``phone``, ``person_name``, ``name_key``, ``given_name``,
``company``, ``company_display``, ``country``, ``postcode``, ``address``, ``date``, ``datetime``,
``text``.
A host registers its own with :func:`register_normalizer`; a field spec names one by its name.

:func:`normalize_column` is the batch path (the one matching uses): it normalises each distinct
value once (a dict over the distinct values, in first-seen order) and maps the column through
that cache, so cost grows with the number of distinct values, not rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableSequence, Sequence
from typing import Any

from crmcore.errors import CrmcoreError, FieldProblem, NormalizationError
from crmcore.normalize._address import ADDRESS, POSTCODE
from crmcore.normalize._company import COMPANY, COMPANY_DISPLAY
from crmcore.normalize._core import Normalizer, Outcome, Rejection, clean_text
from crmcore.normalize._country import COUNTRY
from crmcore.normalize._dates import DATE, DATETIME
from crmcore.normalize._email import DOMAIN, EMAIL
from crmcore.normalize._names import GIVEN_NAME, NAME_KEY, PERSON_NAME
from crmcore.normalize._phone import PHONE


class NormalizerRegistryError(CrmcoreError, ValueError):
    """A normalizer cannot be registered (name taken, not callable ...)."""


class UnknownNormalizerError(NormalizerRegistryError, LookupError):
    """No normalizer is registered under the requested name."""


def _text_core(text: str) -> Outcome:
    return clean_text(text) or None


TEXT = Normalizer("text", _text_core, "text with NFKC, control characters out, spaces collapsed")
"""Plain text tidying (registry name ``"text"``)."""

_BUILTINS: tuple[Normalizer, ...] = (
    EMAIL,
    DOMAIN,
    PHONE,
    PERSON_NAME,
    NAME_KEY,
    GIVEN_NAME,
    COMPANY,
    COMPANY_DISPLAY,
    COUNTRY,
    POSTCODE,
    ADDRESS,
    DATE,
    DATETIME,
    TEXT,
)
_REGISTRY: dict[str, Normalizer] = {n.name: n for n in _BUILTINS}


def _wrap(name: str, fn: Callable[..., str | None]) -> Callable[..., Outcome]:
    def core(text: str, **options: Any) -> Outcome:
        try:
            return fn(text, **options)
        except NormalizationError as exc:
            first = exc.problems[0] if exc.problems else None
            if first is None:
                return Rejection(f"{name}.invalid", str(exc))
            return Rejection(first.rule, first.message)
        except ValueError as exc:
            return Rejection(f"{name}.invalid", str(exc) or type(exc).__name__)

    core.__name__ = f"{name}_core"
    return core


def register_normalizer(
    name: str,
    fn: Normalizer | Callable[..., str | None],
    *,
    description: str = "",
    replace: bool = False,
) -> Normalizer:
    """Register a normalizer under ``name`` and return it as a :class:`Normalizer`.

    A plain function ``fn(text, **options) -> str | None`` is wrapped: ``None`` means "no
    information"; raising :class:`~crmcore.errors.NormalizationError` or ``ValueError`` rejects
    the value (the lenient / strict convention then applies as for built-ins).

    Args:
        name: Registry name.
        fn: A :class:`Normalizer` or a plain function.
        description: One line for listings.
        replace: Allow replacing an existing registration (built-ins included).

    Returns:
        The registered :class:`Normalizer`.

    Raises:
        NormalizerRegistryError: If the name is taken and ``replace`` is False, or ``fn`` is not
            callable, or the name is empty.

    Example:
        >>> sku = register_normalizer("sku", lambda text: text.upper().replace(" ", ""))
        >>> get_normalizer("sku")(" ab 12 ")
        'AB12'
    """
    if not name or not isinstance(name, str):
        raise NormalizerRegistryError("a normalizer needs a non-empty name")
    if name in _REGISTRY and not replace:
        raise NormalizerRegistryError(
            f"a normalizer named {name!r} is already registered; pass replace=True to replace it"
        )
    if isinstance(fn, Normalizer):
        normalizer = fn if fn.name == name else Normalizer(name, fn.core, fn.description)
    elif callable(fn):
        normalizer = Normalizer(name, _wrap(name, fn), description)
    else:
        raise NormalizerRegistryError(f"normalizer {name!r} must be callable, got {fn!r}")
    _REGISTRY[name] = normalizer
    return normalizer


def get_normalizer(name: str | Normalizer) -> Normalizer:
    """Return the normalizer registered under ``name`` (a :class:`Normalizer` is returned as is).

    Raises:
        UnknownNormalizerError: If nothing is registered under the name.

    Example:
        >>> get_normalizer("email")("  Bob@Example.ORG ") is None   # placeholder domain
        True
        >>> get_normalizer("country")("Deutschland")
        'DE'
    """
    if isinstance(name, Normalizer):
        return name
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise UnknownNormalizerError(
            f"no normalizer named {name!r}; registered: {sorted(_REGISTRY)}"
        ) from None


def normalizer_names() -> list[str]:
    """Return the registered names, sorted."""
    return sorted(_REGISTRY)


def _hashable(value: object) -> object:
    try:
        hash(value)
    except TypeError:
        return str(value)
    return value


def normalize_column(
    kind_or_name: str | Normalizer,
    values: Sequence[object],
    *,
    row_options: Mapping[str, Sequence[object]] | None = None,
    strict: bool = False,
    issues: MutableSequence[FieldProblem] | None = None,
    field: str | None = None,
    record_ids: Sequence[object] | None = None,
    **options: Any,
) -> list[str | None]:
    """Normalise a column of values, computing each distinct value (or value + options) once.

    Args:
        kind_or_name: A registry name or a :class:`Normalizer`.
        values: The column (hashable values: ``str`` or ``None`` in practice).
        row_options: Per-row options, e.g. ``{"region": countries}`` for phones or
            ``{"country": countries}`` for postcodes; each sequence as long as ``values``.
        strict: Raise one :class:`~crmcore.errors.NormalizationError` listing every rejected
            row instead of returning None for them.
        issues: A list that receives one :class:`~crmcore.errors.FieldProblem` per rejected row.
        field: Field name quoted in problems (default: the normalizer's name).
        record_ids: Record identifiers quoted in problems (default: the 0-based row number).
        **options: Options passed to the normalizer for every value (``strip_plus=True`` ...).

    Returns:
        The normalised values, one per input row, in order.

    Raises:
        NormalizationError: In strict mode, when any value is rejected.
        UnknownNormalizerError: If the name is not registered.
        DataInputError: Not raised; columns of unequal length raise ``ValueError``.

    Example:
        >>> normalize_column("email", ["A@X.com", None, "a@x.COM", "bad"])
        ['a@x.com', None, 'a@x.com', None]
        >>> normalize_column("phone", ["020 7946 0958", "(415) 555-0134"],
        ...                  row_options={"region": ["GB", "US"]})
        ['+442079460958', '+14155550134']
    """
    normalizer = get_normalizer(kind_or_name)
    outcome = normalizer.outcome
    rejected: dict[object, Rejection] = {}
    result: list[str | None]
    given = values
    if not row_options:
        try:
            cache: dict[object, str | None] = dict.fromkeys(values)
        except TypeError:  # unhashable cells (lists ...) are read as their text, as one by one
            values = [_hashable(v) for v in values]
            cache = dict.fromkeys(values)
        for value in cache:
            out = outcome(value, **options)
            if isinstance(out, Rejection):
                rejected[value] = out
                out = None
            cache[value] = out
        result = list(map(cache.__getitem__, values))
        keys: Sequence[object] = values
    else:
        names = list(row_options)
        columns = [row_options[n] for n in names]
        for name, column in zip(names, columns, strict=True):
            if len(column) != len(values):
                raise ValueError(
                    f"row option {name!r} has {len(column)} values for {len(values)} rows"
                )
        rows: list[tuple[object, ...]] = list(zip(values, *columns, strict=True))
        try:
            row_cache: dict[object, str | None] = dict.fromkeys(rows)
        except TypeError:  # unhashable cells, as above
            rows = [tuple(map(_hashable, row)) for row in rows]
            row_cache = dict.fromkeys(rows)
        keys = rows
        for key in row_cache:
            assert isinstance(key, tuple)
            out = outcome(key[0], **options, **dict(zip(names, key[1:], strict=True)))
            if isinstance(out, Rejection):
                rejected[key] = out
                out = None
            row_cache[key] = out
        result = list(map(row_cache.__getitem__, keys))
    if rejected and (strict or issues is not None):
        name = field or normalizer.name
        problems: list[FieldProblem] = []
        for i, key in enumerate(keys):
            rejection = rejected.get(key)
            if rejection is not None:
                record = str(record_ids[i]) if record_ids is not None else str(i)
                problems.append(
                    FieldProblem(name, given[i], rejection.rule, rejection.message, record)
                )
        if strict:
            raise NormalizationError(problems, f"{len(problems)} value(s) of {name!r} rejected")
        if issues is not None:
            issues.extend(problems)
    return result
