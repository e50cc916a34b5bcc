"""``crmcore dedupe`` and ``crmcore link``: the main jobs from the command line.

``crmcore dedupe INPUT --id COLUMN --out OUTPUT [--preset contacts|accounts]
[--map SOURCE=FIELD ...] [--threshold P] [--pairs PAIRS_OUT] [--golden OUT]`` reads CSV or Parquet,
writes every input row's id with its ``entity_id`` (rows that could not be used, or were read
with a problem, carry a note), optionally the matched pairs and the golden records with lineage,
and prints a summary. ``crmcore link LEFT RIGHT --id COLUMN --out OUTPUT ...`` does the same
across two files. Outputs are checked before the job runs and written atomically. Progress of
each phase goes to stderr.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import attrs

from crmcore.cli._common import DataProblems, add_read_options, done, progress, read_input
from crmcore.errors import MatchingConfigError

__all__ = ["register"]

_PARQUET = {".parquet", ".pq"}


def _mapping(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        source, eq, field = item.partition("=")
        if not eq or not source.strip() or not field.strip():
            raise MatchingConfigError(f"--map expects SOURCE=FIELD, got {item!r}")
        out[source.strip()] = field.strip()
    return out


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--id", dest="id_column", required=True,
                        help="column of record ids (unique; see --on-duplicate-ids)")
    parser.add_argument("--out", required=True,
                        help="output file (.csv or .parquet): every row's id and entity_id")
    parser.add_argument(
        "--preset", choices=["contacts", "accounts"], default="contacts",
        help="schema mapping, comparisons and golden-record rules (default: contacts)",
    )
    parser.add_argument(
        "--map", action="append", metavar="SOURCE=FIELD",
        help="map a source column to a canonical field (repeatable; default: the preset's "
             "schema mapping of the headers)",
    )
    parser.add_argument(
        "--threshold", type=float, default=None, metavar="P",
        help="match probability for a pair to join an entity (default: the preset's, "
             "0.95 for contacts, 0.9 for accounts)",
    )
    parser.add_argument("--pairs", default=None, metavar="FILE",
                        help="also write the matched pairs here (default: not written)")
    parser.add_argument("--model-out", default=None, metavar="FILE",
                        help="save the trained model as JSON (default: not saved)")
    parser.add_argument(
        "--on-duplicate-ids", choices=["refuse", "rename"], default="refuse",
        help="repeated record ids: refuse (exit 1, listing them) or rename repeats ID#2, "
             "ID#3 ... in file order, noted on the row (default: refuse)",
    )
    add_read_options(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument(
        "--report", metavar="HTML", default=None,
        help="also write a self-contained HTML report of the run (needs crmcore[plot]; "
             "default: not written)",
    )


def _outputs(args: argparse.Namespace) -> list[tuple[str, str | None]]:
    from crmcore.survivorship import lineage_path

    golden = getattr(args, "golden", None)
    return [
        ("--out", args.out), ("--pairs", args.pairs), ("--model-out", args.model_out),
        ("--golden", golden),
        ("--golden (its lineage file)", None if golden is None else str(lineage_path(golden))),
        ("--report", args.report),
    ]


def _check(args: argparse.Namespace, inputs: list[str]) -> None:
    """Before any work: every output can be written (no input, no directory, no two outputs
    naming one file), and ``--report`` has its extra installed."""
    from crmcore.io import check_outputs

    check_outputs(_outputs(args), inputs)
    if args.report:
        from crmcore.errors import require

        require("plotly", "plot", "--report")


def _with_read_notes(result: Any, reports: list[Any]) -> Any:
    """Notes of the rows read with a problem added to the result's notes."""
    notes = list(result.notes)
    offset = 0
    for report in reports:
        for row, text in report.notes().items():
            at = offset + row
            notes[at] = f"{notes[at]}; {text}" if notes[at] else text
        offset += report.rows_in
    return attrs.evolve(result, notes=notes)


def _finish(result: Any, args: argparse.Namespace, read_seconds: float, reports: list[Any]) -> int:
    from crmcore.io import write_table

    t = time.perf_counter()
    write_table(result.to_table(), args.out)
    if args.pairs:
        write_table(result.pairs_table(), args.pairs)
    if args.model_out:
        result.model.save(args.model_out)
    if args.report:
        result.report(args.report)
    result.timings["read"] = result.timings.get("read", 0.0) + read_seconds
    result.timings["write"] = time.perf_counter() - t
    for report in reports:
        print(report.summary())
    print(result.summary())
    print(f"wrote {args.out}" + (f" and {args.pairs}" if args.pairs else "")
          + (f"; report {args.report}" if args.report else ""))
    return 0


def _match(call: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a job; repeated ids stop it with exit code 1, other config errors get CLI advice."""
    import warnings

    try:
        with warnings.catch_warnings():  # the CLI prints the result's warnings itself
            warnings.simplefilter("ignore", UserWarning)
            return call(*args, **kwargs)
    except MatchingConfigError as exc:
        if "repeats" in str(exc) and "record ids" in str(exc):
            raise DataProblems(
                str(exc).replace("on_duplicate_ids='rename'", "--on-duplicate-ids rename")
            ) from None
        raise MatchingConfigError(f"{exc} (--map SOURCE=FIELD)") from None


def _check_observed(table: Any, column: str, mapping: dict[str, str], preset: str) -> None:
    """``--observed`` must name a column (as in the file, or its canonical field) before the
    job runs, not after the entities were written."""
    from crmcore.errors import DataInputError
    from crmcore.normalize import apply_mapping

    mapped = apply_mapping(table, mapping, preset=preset).column_names
    if column not in table.column_names and column not in mapped:
        raise DataInputError(
            f"--observed {column!r} is not a column of the input; it has {table.column_names}"
        )


def _dedupe(args: argparse.Namespace) -> int:
    from crmcore.io import ReadReport, Table
    from crmcore.matching import dedupe, needed_columns, read_records

    _check(args, [args.input])
    mapping = _mapping(args.map)
    say = progress(args.quiet)
    t = time.perf_counter()
    say(f"reading {args.input}")
    if not args.golden and Path(args.input).suffix.lower() in _PARQUET:
        # only the id and the columns the preset reads (column-selective)
        table = read_records(
            args.input, id_column=args.id_column, preset=args.preset, mapping=mapping
        )
        report = ReadReport(args.input, "parquet", False, "", table.n_rows)
    else:
        table, report = read_input(args.input, args)
        if not args.golden:  # survivorship reads every column; matching only some
            keep = needed_columns(
                table.column_names, id_column=args.id_column, preset=args.preset,
                mapping=mapping,
            )
            table = Table({k: table.columns[k] for k in keep})
    read_seconds = time.perf_counter() - t
    if args.golden and args.observed is not None:
        _check_observed(table, args.observed, mapping, args.preset)
    result = _match(
        dedupe, table, id_column=args.id_column, preset=args.preset, mapping=mapping,
        threshold=args.threshold, progress=say, on_duplicate_ids=args.on_duplicate_ids,
    )
    done(say)
    result = _with_read_notes(result, [report])
    code = _finish(result, args, read_seconds, [report])
    if args.golden:
        from crmcore.survivorship import write_golden

        say(f"writing golden records to {args.golden}")
        print(write_golden(
            table, result.ids, result.entity_ids, args.golden, preset=args.preset,
            mapping=mapping, id_column=args.id_column, observed_column=args.observed,
        ))
    return code


def _link(args: argparse.Namespace) -> int:
    from crmcore.matching import link

    _check(args, [args.left, args.right])
    say = progress(args.quiet)
    t = time.perf_counter()
    say(f"reading {args.left} and {args.right}")
    left, left_report = read_input(args.left, args)
    right, right_report = read_input(args.right, args)
    read_seconds = time.perf_counter() - t
    result = _match(
        link, left, right, id_column=args.id_column, right_id_column=args.right_id,
        preset=args.preset, mapping=_mapping(args.map), threshold=args.threshold,
        one_to_one_links=args.one_to_one, progress=say, on_duplicate_ids=args.on_duplicate_ids,
    )
    done(say)
    reports = [left_report, right_report]
    return _finish(_with_read_notes(result, reports), args, read_seconds, reports)


def register(subparsers: Any) -> None:
    """Add the ``dedupe`` and ``link`` sub-commands."""
    p = subparsers.add_parser(
        "dedupe", help="find duplicate records in one CSV / Parquet file",
        description="Give every row an entity_id: rows of the same person or company share one. "
                    "Exit codes: 0 done, 1 input problems it stops on (--strict, repeated ids), "
                    "2 usage / input / output errors.",
    )
    p.add_argument("input", help="input file (.csv or .parquet)")
    _common(p)
    p.add_argument(
        "--golden", metavar="OUT", default=None,
        help="also write golden records (.csv / .parquet) and their lineage (OUT.lineage.*) "
             "(default: not written)",
    )
    p.add_argument(
        "--observed", metavar="COLUMN", default=None,
        help="time column that most_recent uses for golden records (default: the first of "
             "updated_at, modified, last_activity, created_at present)",
    )
    p.set_defaults(handler=_dedupe)

    q = subparsers.add_parser(
        "link", help="link the records of two files",
        description="Give rows of two files entity ids; only pairs across the files are "
                    "compared. Exit codes as for dedupe.",
    )
    q.add_argument("left", help="first file")
    q.add_argument("right", help="second file")
    _common(q)
    q.add_argument("--right-id", default=None, metavar="COLUMN",
                   help="id column of the right file (default: --id)")
    q.add_argument("--one-to-one", action="store_true",
                   help="at most one link per record (default: any number)")
    q.set_defaults(handler=_link)
