"""``crmcore validate FILE``: map, normalise and report per-field completeness and validity.

Prints, for every canonical field found in the file, the source column, completeness (share of
rows with a usable value), validity (share of informative values that normalised), how many
values normalisation changed, how many it rejected, then the row count, freshness and (with
``--duplicates``, which runs matching) the duplicate rate, the unmapped columns and the first
issues. ``--json`` prints the same as one JSON document. The exit code is 0 whatever the data
quality (1 with ``--strict`` when rows could not be read cleanly, 2 for usage or input errors).
Rows read with a problem (unbalanced quote, ragged, oversized cell) and repeated record ids
(``--id``, else the column mapped onto ``record_id``) are listed among the issues.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from typing import Any

from crmcore.cli._common import add_read_options, read_input
from crmcore.governance import format_quality_report, quality_report
from crmcore.normalize import map_schema, normalize_table

__all__ = ["register", "run"]


def _override(text: str) -> tuple[str, str | None]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected SOURCE=FIELD, got {text!r}")
    source, field = text.rsplit("=", 1)
    field = field.strip()
    return source.strip(), (field if field and field != "-" else None)


def register(subparsers: Any) -> None:
    """Add the ``validate`` sub-command."""
    parser = subparsers.add_parser(
        "validate",
        help="report per-field completeness, validity and changes of a CSV / Parquet file",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE", help="CSV or Parquet file")
    parser.add_argument(
        "--map",
        dest="overrides",
        action="append",
        type=_override,
        default=[],
        metavar="SOURCE=FIELD",
        help="map a source column onto a canonical field (FIELD '-' keeps it custom); repeatable",
    )
    parser.add_argument(
        "--preset", choices=["contacts", "accounts"], default="contacts",
        help="schema mapping of the headers (default: contacts)",
    )
    parser.add_argument(
        "--id", dest="id_column", default=None, metavar="COLUMN",
        help="column of record ids checked for repeats (default: the column mapped onto "
             "record_id, if any)",
    )
    add_read_options(parser)
    order = parser.add_mutually_exclusive_group()
    order.add_argument(
        "--dayfirst",
        dest="dayfirst",
        action="store_const",
        const=True,
        default=None,
        help="numeric dates in this file are day first (25/03/2025)",
    )
    order.add_argument(
        "--monthfirst",
        dest="dayfirst",
        action="store_const",
        const=False,
        help="numeric dates in this file are month first (03/25/2025)",
    )
    parser.add_argument("--region", default=None,
                        help="country for rows without one (default: none)")
    parser.add_argument("--issues", type=int, default=10, metavar="N",
                        help="issues to print (default: 10; --json lists all)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON document with every issue")
    parser.add_argument(
        "--duplicates",
        action="store_true",
        help="also run matching (the preset's settings) for the duplicate rate",
    )
    parser.set_defaults(handler=run)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _repeated_ids(values: list[str | None], column: str) -> list[str]:
    counts = Counter(v for v in values if v is not None)
    return [
        f"record id {v!r} of column {column!r} is on {k} rows (ids must be unique)"
        for v, k in counts.items() if k > 1
    ]


def run(args: argparse.Namespace) -> int:
    """Run ``crmcore validate``; return the exit code."""
    table, report = read_input(args.file, args)
    overrides = dict(args.overrides)
    mapping = map_schema(table.column_names, overrides=overrides, preset=args.preset)
    id_column = args.id_column or next(
        (src for src, field in mapping.mapping.items() if field == "record_id"), None
    )
    repeated = [] if id_column is None else _repeated_ids(table.column(id_column), id_column)
    read_issues = [str(p) for p in report.problems]
    result = normalize_table(table, mapping, default_region=args.region, dayfirst=args.dayfirst)
    entity_ids = None
    if args.duplicates and result.table.n_rows:
        from crmcore.matching import dedupe

        ids = "record_id" if "record_id" in result.table.columns else None
        entity_ids = dedupe(result.table, id_column=ids).entity_ids
    quality = quality_report(result.table, entity_ids=entity_ids)
    if args.json:
        doc = {
            "file": str(args.file),
            "read": report.to_dict(),
            "repeated_ids": repeated,
            **result.to_dict(),
            "quality": quality.to_dict(),
        }
        print(json.dumps(doc, ensure_ascii=False, indent=2))
        return 0
    print(report.summary())
    print(
        f"{args.file}: {table.n_rows} rows, {len(table.column_names)} columns, "
        f"preset {mapping.preset}"
    )
    headers = ("field", "source", "complete", "valid", "changed", "rejected", "blank")
    rows = [
        (
            r.field,
            r.source,
            _pct(r.completeness),
            _pct(r.validity),
            str(r.changed),
            str(r.rejected),
            str(r.blank),
        )
        for r in result.reports
    ]
    widths = [
        max(len(h), *(len(row[i]) for row in rows)) if rows else len(h)
        for i, h in enumerate(headers)
    ]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line)
    print("-" * len(line))
    for row in rows:
        print(
            "  ".join(
                (v.ljust(w) if i < 2 else v.rjust(w))
                for i, (v, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    print(format_quality_report(quality, fields=False))
    if mapping.unmapped:
        print(f"unmapped (kept as custom fields): {', '.join(mapping.unmapped)}")
    for field, columns in mapping.conflicts.items():
        print(f"also looked like {field!r} (kept as custom): {', '.join(columns)}")
    issues = [*read_issues, *repeated, *(str(p) for p in result.issues)]
    total = len(issues)
    print(f"issues: {total}")
    for problem in issues[: max(args.issues, 0)]:
        print(f"  {problem}")
    if total > args.issues > 0:
        print(f"  ... {total - args.issues} more (use --issues N or --json)")
    return 0
