"""The ``crmcore`` command line.

Each sub-command lives in a module of this package that defines ``register(subparsers)``; the
front door finds them, so adding a command never edits this file.

Example:
    >>> build_parser().prog
    'crmcore'
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

from crmcore.errors import CrmcoreError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every sub-command of this package registered."""
    from crmcore import __version__

    parser = argparse.ArgumentParser(
        prog="crmcore",
        description="Normalise, match, merge and govern CRM data.",
    )
    parser.add_argument("--version", action="version", version=f"crmcore {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code.

    Exit codes: 0 success; 1 the input has problems the command stops on (``--strict`` read
    problems, repeated record ids); 2 usage, input or output errors; 130 interrupted; 141
    standard output closed early (``| head``). Every error is one line on stderr.
    """
    from crmcore.cli._common import (
        EXIT_INTERRUPTED,
        EXIT_PIPE,
        EXIT_PROBLEMS,
        EXIT_USAGE,
        DataProblems,
    )

    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(handler(args))
    except DataProblems as exc:
        _error(args.command, exc)
        return EXIT_PROBLEMS
    except CrmcoreError as exc:
        _error(args.command, exc)
        return EXIT_USAGE
    except BrokenPipeError:
        # the reader of stdout went away (``| head``): stop quietly; Python would otherwise
        # complain again when it flushes stdout at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_PIPE
    except KeyboardInterrupt:
        print(f"crmcore {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:  # a file system error outside crmcore's own checks
        name = f" {exc.filename}" if exc.filename else ""
        _error(args.command, f"{exc.strerror or exc}{name}")
        return EXIT_USAGE


def _error(command: str, exc: object) -> None:
    text = " ".join(str(exc).split())  # one line, whatever the message held
    print(f"crmcore {command}: error: {text}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
