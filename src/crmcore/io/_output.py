"""Output files that are safe to write: checked before a job runs, written atomically.

:func:`check_outputs` refuses, before any work is done, an output that names an input file (or
the same file twice), a directory, or a place that cannot be written. :func:`atomic_output`
writes to a temporary file next to the target and renames it over the target only when the
writing finished, so a failed run leaves no partial output and an existing file unchanged.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any, Literal, overload

from crmcore.errors import DataInputError

__all__ = ["atomic_output", "check_outputs"]

PathLike = str | os.PathLike[str]


def _same(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _writable_dir(directory: Path) -> Path | None:
    """The nearest existing ancestor of ``directory`` (it is created when writing)."""
    probe = directory
    while not probe.exists():
        if probe.parent == probe:
            return None
        probe = probe.parent
    return probe


def check_outputs(
    outputs: Sequence[tuple[str, PathLike | None]], inputs: Sequence[PathLike] = ()
) -> None:
    """Check output paths before a job runs.

    Args:
        outputs: ``(option name, path)`` pairs; None paths are skipped.
        inputs: The job's input files.

    Raises:
        DataInputError: Naming the option and the path, when an output is an input file, two
            outputs are the same file, an output is a directory, or its folder cannot be
            created or written.

    Example:
        >>> check_outputs([("--out", "in.csv")], inputs=["in.csv"])
        Traceback (most recent call last):
        ...
        crmcore.errors.DataInputError: --out in.csv is an input file: refusing to overwrite it
    """
    seen: dict[str, str] = {}
    ins = [Path(p) for p in inputs]
    for option, raw in outputs:
        if raw is None:
            continue
        path = Path(raw)
        resolved = str(path.resolve())
        for src in ins:
            if resolved == str(src.resolve()) or _same(path, src):
                raise DataInputError(
                    f"{option} {raw} is an input file: refusing to overwrite it"
                )
        if resolved in seen:
            raise DataInputError(f"{option} {raw} is also {seen[resolved]}: one file per output")
        seen[resolved] = option
        if path.is_dir():
            raise DataInputError(f"{option} {raw} is a directory; give a file name")
        if path.exists() and not os.access(path, os.W_OK):
            raise DataInputError(f"{option} {raw} cannot be written (permission denied)")
        base = _writable_dir(path.parent)
        if base is None or not base.is_dir():
            raise DataInputError(f"{option} {raw}: its folder cannot be created")
        try:  # a real probe (access() says yes to root even on /proc)
            fd, probe = tempfile.mkstemp(prefix=".crmcore-probe.", dir=base)
        except OSError as exc:
            raise DataInputError(
                f"{option} {raw} cannot be written: {exc.strerror or exc} ({base})"
            ) from None
        os.close(fd)
        os.unlink(probe)


@overload
def atomic_output(
    path: PathLike, *, binary: Literal[False] = ...
) -> contextlib.AbstractContextManager[IO[str]]: ...
@overload
def atomic_output(
    path: PathLike, *, binary: Literal[True]
) -> contextlib.AbstractContextManager[IO[bytes]]: ...
def atomic_output(path: PathLike, *, binary: bool = False) -> Any:
    """Open a temporary file next to ``path``; rename it over ``path`` when the block succeeds.

    Text mode writes UTF-8 with ``newline=""`` (what :mod:`csv` wants). On an error in the
    block the temporary file is removed and ``path`` is untouched.

    Raises:
        DataInputError: If the folder cannot be created or the file cannot be written.
    """
    return _atomic(Path(path), binary)


@contextlib.contextmanager
def _atomic(out: Path, binary: bool) -> Iterator[IO[Any]]:
    if out.is_dir():
        raise DataInputError(f"{out} is a directory; give a file name")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    except OSError as exc:
        raise DataInputError(f"cannot write {out}: {exc.strerror or exc}") from None
    try:
        if binary:
            fh: IO[Any] = os.fdopen(fd, "wb")
        else:
            fh = os.fdopen(fd, "w", encoding="utf-8", newline="")
        with fh:
            yield fh
        mode = 0o666 & ~_umask()
        os.chmod(tmp, mode)
        os.replace(tmp, out)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise DataInputError(f"cannot write {out}: {exc.strerror or exc}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
