"""``crmcore validate FILE``: map, normalise and report per-field completeness and validity.

Prints, for every canonical field found in the file, the source column, completeness (share of
rows with a usable value), validity (share of informative values that normalised), how many
values normalisation changed, how many it rejected, then the row count, freshness and (with
``--duplicates``, which runs matching) the duplicate rate, the unmapped columns and the first
issues. ``--json`` prints the same as one JSON document. The exit code is 0 whatever the data
quality (2 for usage or input errors).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from crmcore.governance import format_quality_report, quality_report
from crmcore.io import read_table
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
    parser.add_argument("--preset", choices=["contacts", "accounts"], default="contacts")
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
    parser.add_argument("--region", default=None, help="country for rows without one")
    parser.add_argument("--issues", type=int, default=10, metavar="N", help="issues to show")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--duplicates",
        action="store_true",
        help="also run matching (the preset's settings) for the duplicate rate",
    )
    parser.set_defaults(handler=run)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def run(args: argparse.Namespace) -> int:
    """Run ``crmcore validate``; return the exit code."""
    table = read_table(args.file)
    overrides = dict(args.overrides)
    mapping = map_schema(table.column_names, overrides=overrides, preset=args.preset)
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
            **result.to_dict(max_issues=args.issues),
            "quality": quality.to_dict(),
        }
        print(json.dumps(doc, ensure_ascii=False, indent=2))
        return 0
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
    total = len(result.issues)
    print(f"issues: {total}")
    for problem in result.issues[: max(args.issues, 0)]:
        print(f"  {problem}")
    if total > args.issues > 0:
        print(f"  ... {total - args.issues} more (use --issues N or --json)")
    return 0
