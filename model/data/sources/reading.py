"""Reading a raw CSV defensively: encodings, BOMs, HXL tag rows, huge fields, ragged rows.

File-level problems (unreadable, empty, header only, missing columns) raise
:class:`~model.errors.StageError` naming the file, line and field. Row-level problems found
while reading (a row with the wrong number of fields, a field over ``max_field_bytes``) are
returned as quarantined rows, so that nothing read is ever silently dropped.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from model.errors import StageError

WIDTH = "wrong number of fields"
TOO_LARGE = "field too large"
EMPTY_ROW = "empty row"
PREVIEW_CHARS = 200
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _raise_field_limit() -> None:
    limit = sys.maxsize
    while True:
        try:
            csv.field_size_limit(limit)
            return
        except OverflowError:
            limit //= 10


_raise_field_limit()


def preview(value: object, limit: int = PREVIEW_CHARS) -> str:
    """A value as text, cut to ``limit`` characters with the full size noted."""
    text = "" if value is None else str(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text.encode('utf-8'))} bytes)"


_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)]}


def printable(value: object) -> str:
    """Text safe to print on a terminal: control characters (escape sequences) shown as \\xNN."""
    return str(value).translate(_CONTROL)


def neutralise_formula(value: object) -> object:
    """Prefix a quote to text a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``).

    Only for CSV outputs meant to be opened by people (``rejected.csv``); the events
    themselves keep the text as coded.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


@dataclass
class RawTable:
    """A CSV read as text: one row per data record, columns named by the (lower-cased) header.

    ``data`` has a column per header name plus ``_line`` (the 1-based line where the record
    starts; the header is line 1). ``problems`` lists rows quarantined while reading as
    ``(line, field, value, reason)``; they are not in ``data``.
    """

    file: str
    header: list[str]
    data: pd.DataFrame
    encoding: str
    rows_read: int
    problems: list[tuple[int, str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def decode(raw: bytes) -> tuple[str, str]:
    """Text and the encoding used: UTF-8 (with or without BOM), UTF-16 with a BOM, else cp1252.

    Bytes that are not UTF-8 are most often a Windows export (cp1252, a superset of
    Latin-1's printable range); Latin-1 is the last resort because it never fails.
    """
    if raw.startswith(codecs.BOM_UTF8):
        try:
            return raw[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            raw = raw[len(codecs.BOM_UTF8) :]
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            pass
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"


def sniff_delimiter(text: str) -> str:
    """The field separator of the header line: ``,`` unless ``;``, tab or ``|`` is more common.

    Spreadsheets in many locales save "CSV" with semicolons; the header line, which holds
    only column names, tells reliably which separator a file uses.
    """
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: first.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] > 0 else ","


def _is_hxl(record: list[str]) -> bool:
    cells = [c.strip() for c in record if c.strip()]
    return bool(cells) and all(c.startswith("#") for c in cells)


def _likeness(a: str, b: str) -> float:
    ta, tb = set(re.split(r"[\W_]+", a)) - {""}, set(re.split(r"[\W_]+", b)) - {""}
    jaccard = len(ta & tb) / len(ta | tb) if ta | tb else 0.0
    return max(jaccard, difflib.SequenceMatcher(None, a, b).ratio())


def _missing_columns_message(
    file: str, missing: list[str], header: list[str], required: list[str]
) -> str:
    candidates = [h for h in header if h and h not in required]
    hints = []
    for m in missing:
        best = max(candidates, key=lambda h: _likeness(m, h), default=None)
        if best is not None and _likeness(m, best) >= 0.6:
            hints.append(f"{m!r} (renamed to {best!r}?)")
        else:
            hints.append(repr(m))
    shown = ", ".join(header[:30]) + (" …" if len(header) > 30 else "")
    return f"{file}:1: field={', '.join(hints)}: missing column(s); the header has: {shown}"


def read_table(
    path: Path,
    file: str,
    required: list[str],
    max_field_bytes: int,
) -> RawTable:
    """Read ``path`` (named ``file`` in messages) and check its header has ``required``.

    Raises
    ------
    StageError
        The file is missing or unreadable, empty, has only a header, repeats or lacks
        required columns, or is not CSV at all.
    """
    text, encoding, notes = _read_text(path, file)
    delimiter = sniff_delimiter(text)
    if delimiter != ",":
        notes.append(f"fields separated by {delimiter!r}, not ','")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    records = _Records(file, required, max_field_bytes, notes)
    start = 1
    try:
        for record in reader:
            line, start = start, reader.line_num + 1
            if record:  # a blank line holds no row
                records.add(record, line)
    except csv.Error as e:
        raise StageError(f"{file}:{reader.line_num}: not readable as CSV: {e}") from None
    if records.header is None:  # pragma: no cover - text.strip() was non-empty
        raise StageError(f"{file}:1: empty file (no header line)")
    if records.rows_read == 0:
        raise StageError(f"{file}:2: header only, no data rows")
    header = records.header
    data = (
        pd.DataFrame(records.rows, columns=header, dtype=object)
        if records.rows
        else pd.DataFrame(columns=header, dtype=object)
    )
    data["_line"] = pd.array(records.lines, dtype="int64")
    return RawTable(file, header, data, encoding, records.rows_read, records.problems, notes)


def _read_text(path: Path, file: str) -> tuple[str, str, list[str]]:
    """The file's text, its encoding and a note when it is not UTF-8; raises when unreadable."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise StageError(f"{file}: file not found") from None
    except OSError as e:
        raise StageError(f"{file}: cannot read: {e.strerror or e}") from None
    text, encoding = decode(raw)
    notes: list[str] = []
    if encoding in ("cp1252", "latin-1"):
        notes.append(f"not valid UTF-8: decoded as {encoding}; check accented names")
    if not text.strip():
        raise StageError(f"{file}:1: empty file (no header line)")
    return text, encoding, notes


@dataclass
class _Records:
    """The records of a CSV as they are read: the header first, then rows or their problems."""

    file: str
    required: list[str]
    max_field_bytes: int
    notes: list[str]
    header: list[str] | None = None
    rows: list[list[str]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    problems: list[tuple[int, str, str, str]] = field(default_factory=list)
    rows_read: int = 0

    def add(self, record: list[str], line: int) -> None:
        if self.header is None:
            self.header = self._checked_header(record, line)
            return
        if not self.rows_read and not self.rows and not self.problems and _is_hxl(record):
            self.notes.append(f"skipped HXL tag row at line {line}")
            return
        self.rows_read += 1
        problem = self._problem(record, line)
        if problem is not None:
            self.problems.append(problem)
            return
        self.rows.append(record)
        self.lines.append(line)

    def _checked_header(self, record: list[str], line: int) -> list[str]:
        header = [h.replace("\ufeff", "").strip().lower() for h in record]
        dupes = sorted({h for h in header if h and header.count(h) > 1})
        if dupes:
            raise StageError(f"{self.file}:{line}: field={dupes[0]}: column repeats in header")
        missing = [c for c in self.required if c not in header]
        if missing:
            raise StageError(_missing_columns_message(self.file, missing, header, self.required))
        return header

    def _problem(self, record: list[str], line: int) -> tuple[int, str, str, str] | None:
        """Why a row is quarantined while reading (wrong width, a huge field, empty), if it is."""
        header = self.header or []
        if len(record) != len(header):
            return (line, "", f"{len(record)} fields, header has {len(header)}", WIDTH)
        limit = self.max_field_bytes
        big = next(
            (
                (h, c)
                for h, c in zip(header, record, strict=True)
                if len(c) * 4 > limit and len(c.encode("utf-8")) > limit
            ),
            None,
        )
        if big is not None:
            return (line, big[0], preview(big[1], 80), TOO_LARGE)
        if not any(c.strip() for c in record):
            return (line, "", "", EMPTY_ROW)
        return None


def column(table: RawTable, name: str, default: str = "") -> pd.Series:
    """A column as stripped text, or ``default`` everywhere when the file lacks it."""
    if name in table.data.columns:
        return table.data[name].fillna("").astype(object).map(str.strip)
    return pd.Series([default] * len(table.data), index=table.data.index, dtype=object)
