"""The CSV reader that accounts for every physical line, and its report.

CRM exports are messy: a stray double quote that opens a field and never closes on its line, rows
with too few or too many values, cells of megabytes, files in cp1252 or latin-1. The reader:

* decodes the bytes with the given encoding, else the one a BOM names, else UTF-8 when the bytes
  are valid UTF-8, else the encoding ``charset_normalizer`` detects (bytes it cannot decode are
  replaced and the line reported);
* parses the text with :mod:`csv` line by line (no field-size limit), and checks every record that
  spans more than one physical line: a quoted value with line breaks is kept when the record has
  the header's width and no continuation line looks like a row of its own; otherwise the quote
  ran past its line, and each physical line is read as its own row and the quote reported;
* reports ragged rows (too few values, or extra non-empty values) and cells longer than
  ``max_cell`` characters with file, line and reason.

Lenient mode (the default) keeps every row, with its problems in the report (``notes()`` gives
one note per row); strict mode raises :class:`~crmcore.errors.DataInputError` listing them. Every
data row of the file is in the table: ``rows_in == rows_clean + rows_reported``.
"""

from __future__ import annotations

import codecs
import csv
import re
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from crmcore.errors import DataInputError

__all__ = ["MAX_CELL", "ReadReport", "RowProblem", "decode_bytes", "parse_csv_text"]

Cell = str | None

#: Default largest cell (characters) read without a report: the stdlib ``csv`` field limit.
MAX_CELL = 131_072
_LINES = re.compile(r"(?<=\n)|(?<=\r)(?!\n)")
_OTHER_BREAKS = re.compile("[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@attrs.frozen
class RowProblem:
    """One problem with one row of a file: where it is and why.

    Args:
        path: The file.
        line: First physical line of the row (1-based; the header is line 1).
        row: Index of the row in the table read (the row is kept, with this problem as a note).
        rule: Short machine-readable name (``csv.quote``, ``csv.too_few``, ``csv.too_many``,
            ``csv.cell_size``, ``csv.encoding``).
        message: What is wrong.
    """

    path: str
    line: int
    row: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message} ({self.rule})"

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-friendly dict."""
        return {"path": self.path, "line": self.line, "row": self.row, "rule": self.rule,
                "message": self.message}


@attrs.frozen
class ReadReport:
    """What reading a file found.

    Args:
        path: The file.
        encoding: The encoding used to decode it.
        detected: True when the encoding was detected (not given, no BOM, not plain UTF-8).
        delimiter: The delimiter used.
        rows_in: Data rows in the file (every one is in the table).
        problems: Problems found, in line order (a row may have several).
        blank_lines: Lines with nothing on them (not rows).
    """

    path: str
    encoding: str
    detected: bool
    delimiter: str
    rows_in: int
    problems: tuple[RowProblem, ...] = ()
    blank_lines: int = 0

    @property
    def rows_reported(self) -> int:
        """Rows with at least one problem."""
        return len({p.row for p in self.problems})

    @property
    def rows_clean(self) -> int:
        """Rows read without a problem."""
        return self.rows_in - self.rows_reported

    def notes(self) -> dict[int, str]:
        """Row index -> one note joining the row's problems."""
        out: dict[int, str] = {}
        for p in self.problems:
            text = f"line {p.line}: {p.message}"
            out[p.row] = f"{out[p.row]}; {text}" if p.row in out else text
        return out

    def summary(self) -> str:
        """One line: rows in = clean + reported, and the encoding."""
        how = "detected" if self.detected else "read as"
        return (
            f"{self.path}: {self.rows_in:,} rows in = {self.rows_clean:,} read cleanly + "
            f"{self.rows_reported:,} reported (kept with a note); encoding {self.encoding} "
            f"({how})"
        )

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-friendly dict."""
        return {
            "path": self.path, "encoding": self.encoding, "detected": self.detected,
            "delimiter": self.delimiter, "rows_in": self.rows_in,
            "rows_clean": self.rows_clean, "rows_reported": self.rows_reported,
            "blank_lines": self.blank_lines, "problems": [p.to_dict() for p in self.problems],
        }


def decode_bytes(data: bytes, encoding: str | None, path: str) -> tuple[str, str, bool]:
    """Decode a file's bytes; return ``(text, encoding, detected)``.

    Undecodable bytes under a detected encoding are replaced by U+FFFD (the lines holding them
    are reported by the parser); under a given encoding they are an error.

    Raises:
        DataInputError: For an unknown encoding, or bytes the given encoding cannot decode.
    """
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise DataInputError(f"{path}: unknown encoding {encoding!r}") from None
        try:
            return data.decode(encoding), encoding, False
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise DataInputError(
                f"{path}:{line}: bytes {data[exc.start:exc.end]!r} are not {encoding} "
                "(try another --encoding, or none to detect it)"
            ) from None
    for bom, name in _BOMS:
        if data.startswith(bom):
            text = data.decode(name, errors="replace")
            return (text[1:] if text.startswith("\ufeff") else text), name, False
    try:
        return data.decode("utf-8"), "utf-8", False
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    name = _legacy_encoding(from_bytes(data[:1_000_000]))
    return data.decode(name, errors="replace"), name, True


#: Among legacy code pages that fit the bytes equally well, the one to read a file as: Windows-1252
#: (a superset of Latin-1, what spreadsheet and CRM exports on Western systems write; WHATWG
#: reads Latin-1 labels as it too).
_PREFERRED_LEGACY = ("cp1252", "latin_1", "iso8859_15")


def _legacy_encoding(matches: Any) -> str:
    """The detected encoding, preferring Windows-1252 when it fits the bytes as well.

    charset-normalizer ranks code pages by how chaotic the decoded text looks; for Western text
    several (cp1250, cp1252, cp1257) often tie at no chaos although they decode letters such as
    ``å`` / ``ñ`` differently. A tie goes to :data:`_PREFERRED_LEGACY`.
    """
    best = matches.best()
    if best is None:
        return "cp1252"
    tied = {m.encoding for m in matches if m.chaos <= best.chaos}
    for name in _PREFERRED_LEGACY:
        if name in tied:
            return name
    return str(best.encoding)


def _split_lines(text: str) -> list[str]:
    """Physical lines as :mod:`csv` sees them (``\\r\\n``, ``\\r`` or ``\\n``), ends kept."""
    # str.splitlines also splits at \v \f \x1c-\x1e \x85 \u2028 \u2029, which csv does not
    lines = (
        _LINES.split(text) if _OTHER_BREAKS.search(text) else text.splitlines(keepends=True)
    )
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _looks_like_row(line: str, delimiter: str, width: int) -> bool:
    """True when a line alone parses into the header's number of values (width > 1)."""
    if width < 2 or line.count(delimiter) < width - 1:
        return False
    fields = next(csv.reader([line], delimiter=delimiter), [])
    return len(fields) == width


def parses_strictly(lines: Iterable[str], delimiter: str) -> bool:
    """Whether lines are well-formed CSV with this delimiter (no closing quote followed by
    more than a delimiter or the line's end, no quote left open at the end). Lines read as
    one quoted value that are not are rows of their own (the quote belonged to a neighbouring
    row, or the delimiter was guessed wrong); a delimiter guess a file fails is replaced."""
    try:
        for _ in csv.reader(lines, delimiter=delimiter, strict=True):
            pass
    except csv.Error:
        return False
    return True


def parse_csv_text(
    text: str,
    *,
    path: str,
    delimiter: str,
    max_cell: int = MAX_CELL,
    encoding: str = "utf-8",
    detected: bool = False,
) -> tuple[list[str], list[list[Cell]], ReadReport]:
    """Parse CSV text into header, columns and report; every physical line is accounted for.

    Raises:
        DataInputError: If the text has no header row or repeats a column name.
    """
    csv.field_size_limit(sys.maxsize)  # cells are measured and reported, never refused
    lines = _split_lines(text)
    reader = csv.reader(lines, delimiter=delimiter)
    header = next(reader, None)
    if header is None or not any(h.strip() for h in header):
        raise DataInputError(f"{path} has no header row")
    names = [h.strip() or f"column_{i + 1}" for i, h in enumerate(header)]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise DataInputError(f"{path}: duplicate column names {dupes}")
    width = len(names)
    cols: list[list[Cell]] = [[] for _ in names]
    problems: list[RowProblem] = []
    blank = 0
    starts: list[int] = []  # first physical line of every row
    done = reader.line_num  # physical lines consumed so far

    def add(fields: Sequence[str], line: int, extra: list[tuple[str, str]]) -> None:
        row = len(cols[0])
        for rule, message in extra:
            problems.append(RowProblem(path, line, row, rule, message))
        if len(fields) < width:
            problems.append(RowProblem(
                path, line, row, "csv.too_few", f"{len(fields)} values for {width} columns"
            ))
        elif len(fields) > width:
            surplus = [v for v in fields[width:] if v.strip()]
            if surplus:
                shown = ", ".join(repr(v[:40]) for v in surplus[:3])
                problems.append(RowProblem(
                    path, line, row, "csv.too_many",
                    f"{len(fields)} values for {width} columns; extra values not read: {shown}"
                    + (" ..." if len(surplus) > 3 else ""),
                ))
        for i in range(width):
            v = fields[i] if i < len(fields) else ""
            cols[i].append(v if v.strip() else None)
        starts.append(line)

    for record in reader:
        first = done + 1
        span = reader.line_num - done
        done = reader.line_num
        if not record or (len(record) == 1 and not record[0].strip() and span == 1):
            blank += 1
            continue
        if span == 1:
            if len(record) == width:  # the common case, kept tight
                for col, v in zip(cols, record, strict=True):
                    col.append(v if v.strip() else None)
                starts.append(first)
            else:
                add(record, first, [])
            continue
        raw = lines[first - 1 : done]
        # a quote never closed runs the value on to the end of the file: its lines are rows
        # (one-column files included, where no line "looks like a row" by its delimiters)
        unclosed = done == len(lines) and sum(line.count('"') for line in raw) % 2 == 1
        runaway = unclosed or len(record) != width or not parses_strictly(raw, delimiter) or any(
            _looks_like_row(line, delimiter, width) for line in raw[1:]
        )
        if not runaway:
            add(record, first, [])  # a quoted value with line breaks
            continue
        for k, line in enumerate(raw):  # each physical line is a row of its own
            fields = next(csv.reader([line], delimiter=delimiter), [])
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                blank += 1
                continue
            quote = []
            if line.count('"') % 2:
                literal = next(
                    csv.reader([line], delimiter=delimiter, quoting=csv.QUOTE_NONE), []
                )
                ran_on = any("\n" in f or "\r" in f for f in fields)  # the line's own end
                if len(literal) == width and (len(fields) != width or ran_on):
                    fields = literal  # the stray quote kept as a character of its value
                quote = [(
                    "csv.quote",
                    (f"unbalanced double quote: the value ran on over {len(raw) - 1} more "
                    "line(s) that are rows of their own; this line was read alone"),
                )]
            add(fields, first + k, quote)
    for i, col in enumerate(cols):  # cell sizes: one C-level pass per column
        if max(map(len, filter(None, col)), default=0) > max_cell:
            for row, cell in enumerate(col):
                if cell is not None and len(cell) > max_cell:
                    problems.append(RowProblem(
                        path, starts[row], row, "csv.cell_size",
                        f"column {names[i]!r} holds {len(cell):,} characters "
                        f"(over {max_cell:,})",
                    ))
    if detected and "\ufffd" in text:
        for i, col in enumerate(cols):
            for row, cell in enumerate(col):
                if cell is not None and "\ufffd" in cell:
                    problems.append(RowProblem(
                        path, starts[row], row, "csv.encoding",
                        f"column {names[i]!r}: bytes that are not {encoding} were replaced",
                    ))
    problems.sort(key=lambda p: (p.row, p.line))
    report = ReadReport(
        path, encoding, detected, delimiter, len(cols[0]), tuple(problems), blank
    )
    return names, cols, report
