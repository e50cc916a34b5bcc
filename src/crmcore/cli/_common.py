"""Options and steps every ``crmcore`` sub-command shares: reading inputs with a report,
checking outputs before the job runs, and the exit codes.

Exit codes (documented in ``docs/cli.md``):

* 0: success;
* 1: the input has problems the command stops on (``--strict`` read problems, repeated ids);
* 2: usage, input or output errors (a bad option, an unreadable file, an output that names an
  input, a directory or an unwritable place, settings that do not fit the data);
* 130: interrupted (Ctrl-C);
* 141: standard output was closed early (``crmcore ... | head``): quiet, like any Unix tool.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from crmcore.errors import CrmcoreError

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_PIPE",
    "EXIT_PROBLEMS",
    "EXIT_USAGE",
    "DataProblems",
    "add_read_options",
    "done",
    "progress",
    "read_input",
]

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_PIPE = 141


class DataProblems(CrmcoreError):
    """The input has problems the command stops on (exit code 1); the message lists them."""


def add_read_options(parser: argparse.ArgumentParser) -> None:
    """``--encoding`` and ``--strict``: how input files are read."""
    parser.add_argument(
        "--encoding", default=None, metavar="NAME",
        help="encoding of CSV inputs, any Python codec name (default: a BOM's, else UTF-8 when "
             "the bytes are UTF-8, else detected)",
    )
    parser.add_argument(
        "--strict", action="store_true",
        help="stop (exit 1) listing every row with an unbalanced quote, too few / too many "
             "values or an oversized cell (default: keep such rows, with a note)",
    )


def progress(quiet: bool) -> Any:
    """Progress of each phase on stderr: tqdm bars on a terminal, timestamped lines otherwise
    (logs and pipes), nothing with ``quiet``."""
    if not quiet and sys.stderr.isatty():
        from crmcore.display import ProgressBars

        return ProgressBars(file=sys.stderr)
    start = time.perf_counter()

    def say(message: str) -> None:
        if not quiet:
            print(f"[{time.perf_counter() - start:7.2f}s] {message}", file=sys.stderr, flush=True)

    return say


def done(say: Any) -> None:
    """End the last progress bar, if bars are drawn."""
    close = getattr(say, "close", None)
    if close is not None:
        close()


def read_input(path: str, args: argparse.Namespace) -> tuple[Any, Any]:
    """Read one input file with its report (``--encoding``, ``--strict``).

    Raises:
        DataProblems: In strict mode, listing the problem rows.
    """
    from crmcore.errors import DataInputError
    from crmcore.io import read_table_report

    try:
        return read_table_report(path, encoding=args.encoding, strict=args.strict)
    except DataInputError as exc:
        if args.strict and "(strict mode)" in str(exc):
            raise DataProblems(str(exc)) from None
        raise
