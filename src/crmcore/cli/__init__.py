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

    Exit codes: 0 success, 1 the command found problems it reports (e.g. invalid rows in strict
    mode), 2 usage or input errors.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args))
    except CrmcoreError as exc:
        print(f"crmcore {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
