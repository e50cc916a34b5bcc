"""``crmcore compare``: what changed between two runs (or between a run and a truth set).

``crmcore compare BEFORE AFTER --id COLUMN --entity COLUMN [--after-id COLUMN]
[--after-entity COLUMN] [--out CHANGES] [--json REPORT] [--check]`` reads two CSV or Parquet
files that give every record an entity (e.g. two ``crmcore dedupe --out`` files, or a truth set
and a run), prints the entities split, merged, regrouped and unchanged with pairwise and cluster
precision / recall / F1 of AFTER measured against BEFORE, and optionally writes one row per
record behind a change (``--out``) and the whole comparison as JSON (``--json``). With
``--check`` the exit code is 1 when anything changed (for CI), else 0.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from crmcore.cli._common import EXIT_OK, EXIT_PROBLEMS, add_read_options, read_input

__all__ = ["register"]


def _compare(args: argparse.Namespace) -> int:
    from crmcore.io import atomic_output, check_outputs, write_table
    from crmcore.matching import compare_runs

    check_outputs([("--out", args.out), ("--json", args.json)], [args.before, args.after])
    before, before_report = read_input(args.before, args)
    after, after_report = read_input(args.after, args)
    for report in (before_report, after_report):
        for problem in report.problems[:5]:
            print(f"crmcore compare: warning: {report.path}: {problem}", file=sys.stderr)
    result = compare_runs(
        before, after, id_column=args.id_column, entity_column=args.entity,
        after_id_column=args.after_id, after_entity_column=args.after_entity,
    )
    print(result.summary())
    for problem in result.problems[:5]:
        print(f"crmcore compare: warning: {problem}", file=sys.stderr)
    if len(result.problems) > 5:
        print(f"crmcore compare: warning: {len(result.problems) - 5:,} more problems "
              "(all are in --json)", file=sys.stderr)
    if args.out:
        write_table(result.to_table(), args.out)
        print(f"wrote {args.out}")
    if args.json:
        with atomic_output(args.json) as fh:
            json.dump(result.to_dict(), fh, indent=1)
        print(f"wrote {args.json}")
    return EXIT_PROBLEMS if args.check and not result.identical else EXIT_OK


def register(subparsers: Any) -> None:
    """Add the ``compare`` sub-command."""
    p = subparsers.add_parser(
        "compare", help="compare two runs' entities (or a run and a truth set)",
        description=(
            "Entities split, merged, regrouped and unchanged between two files that give every "
            "record an entity, with pairwise and cluster precision / recall / F1 of AFTER "
            "measured against BEFORE."
        ),
    )
    p.add_argument("before", help="first run or truth set (.csv or .parquet)")
    p.add_argument("after", help="second run (.csv or .parquet)")
    p.add_argument("--id", dest="id_column", required=True, help="column of record ids")
    p.add_argument("--entity", required=True, help="column of entity ids")
    p.add_argument("--after-id", default=None, help="id column of AFTER (default --id)")
    p.add_argument("--after-entity", default=None,
                   help="entity column of AFTER (default --entity)")
    p.add_argument("--out", default=None,
                   help="write one row per record behind a change (.csv or .parquet)")
    p.add_argument("--json", default=None, help="write the whole comparison as JSON")
    p.add_argument("--check", action="store_true", help="exit 1 when anything changed")
    add_read_options(p)
    p.set_defaults(handler=_compare)
