"""Sheet rows written as SpreadsheetML directly, then spliced into the package openpyxl wrote.

openpyxl turns every value into a cell object, registers its style and serialises it on
its own (about 10 µs a cell, see docs/performance.md); a 10,000-VM workbook has about
370,000 cells. Here the data rows of a table are written as ``<row>`` text into a
temporary file (so memory stays flat), with the few style ids they need registered once
in openpyxl's own stylesheet. openpyxl still writes everything else (header rows, widths,
frozen panes, filters, print setup, the summary sheet, charts, defined names, styles), and
:func:`splice` puts each sheet's rows into its ``<sheetData>`` once the package is saved.

The cell forms are the ones openpyxl writes: numbers ``t="n"`` as ``%.16g``, booleans
``t="b"``, dates as serial numbers with a date style, text as inline strings with ``&``,
``<`` and ``>`` escaped. Callers pass text that is already clean (see ``xlsx.clean_text``).
"""

from __future__ import annotations

import io
import math
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import IO, Any

from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel

INFINITIES = (math.inf, -math.inf)
FLUSH_ROWS = 512
"""Rows kept as text before they go to the temporary file."""


class CellStyles:
    """``s="…"`` attributes for looks registered in a workbook's stylesheet, each once."""

    def __init__(self, ws: Any) -> None:
        self._ws = ws
        self._attrs: dict[tuple[Any, ...], str] = {}

    def attr(
        self,
        *,
        font: Any = None,
        fill: Any = None,
        alignment: Any = None,
        number_format: str | None = None,
        quote_prefix: bool = False,
    ) -> str:
        """The style attribute of a cell with this look ("" for the default look)."""
        key = (font, fill, alignment, number_format, quote_prefix)
        found = self._attrs.get(key)
        if found is None:
            cell = WriteOnlyCell(self._ws)  # openpyxl registers the look, and says its id
            if font is not None:
                cell.font = font
            if fill is not None:
                cell.fill = fill
            if alignment is not None:
                cell.alignment = alignment
            if number_format is not None:
                cell.number_format = number_format
            if quote_prefix:
                cell.quotePrefix = True
            found = f' s="{cell.style_id}"' if cell.has_style else ""
            self._attrs[key] = found
        return found


# Each function gives what follows ``<c r="A2"`` in a cell element.


def text_cell(text: str, style: str) -> str:
    """An inline string; ``text`` must hold only characters XML allows."""
    if not text:
        return f'{style} t="inlineStr"/>'
    space = ' xml:space="preserve"' if text != text.strip() else ""
    if "&" in text or "<" in text or ">" in text:
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f'{style} t="inlineStr"><is><t{space}>{text}</t></is></c>'


def number_cell(value: float, style: str) -> str:
    if isinstance(value, float) and (value != value or value in INFINITIES):
        return f'{style} t="n"><v/></c>'  # as openpyxl: Excel has no NaN or infinity
    return f'{style} t="n"><v>{value:.16g}</v></c>'


def bool_cell(value: bool, style: str) -> str:
    return f'{style} t="b"><v>{1 if value else 0}</v></c>'


def date_cell(value: datetime, style: str) -> str:
    """A date as Excel's serial day number (``style`` must carry a date format)."""
    if value.tzinfo is not None:
        raise TypeError("Excel dates carry no time zone: convert to a naive datetime first")
    return number_cell(to_excel(value), style)


CellWriter = Callable[[Any, bool], "str | None"]
"""A column's cell maker: (value, row is taller than one line) → the XML after ``<c r="…"``,
or None for no cell."""


class SheetRows:
    """The data rows of one sheet, numbered from ``first_row``, kept in a temporary file."""

    def __init__(self, ws: Any, columns: int, first_row: int = 2) -> None:
        self.ws = ws
        self.next_row = first_row
        self._letters = [get_column_letter(index) for index in range(1, columns + 1)]
        self._file: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed by splice)
        self._pending: list[str] = []

    def add(self, values: Sequence[Any], cells: Sequence[CellWriter], height: float = 0) -> None:
        """One row of ``values``, each made a cell by the writer of its column (a value of
        None is no cell); ``height`` in points, 0 for the default."""
        number = str(self.next_row)
        self.next_row += 1
        top = bool(height)
        parts = [
            f'<row r="{number}" ht="{height:.16g}" customHeight="1">'
            if height
            else f'<row r="{number}">'
        ]
        for letter, write, value in zip(self._letters, cells, values, strict=False):
            if value is not None:
                cell = write(value, top)
                if cell is not None:
                    parts.append(f'<c r="{letter}{number}"{cell}')
        parts.append("</row>")
        self._pending.append("".join(parts))
        if len(self._pending) >= FLUSH_ROWS:
            self._flush()

    def _flush(self) -> None:
        self._file.write("".join(self._pending).encode("utf-8"))
        self._pending.clear()

    def copy_to(self, out: IO[bytes]) -> None:
        self._flush()
        self._file.seek(0)
        shutil.copyfileobj(self._file, out, 1 << 20)

    def close(self) -> None:
        self._file.close()


SHEET_DATA_END = b"</sheetData>"
COMPRESS_LEVEL = 1
"""zlib's fastest level compresses sheet XML about 10:1 at three times the speed of the
default level (6), for a file about a quarter bigger."""


def splice(package: bytes, sheets: Sequence[SheetRows]) -> bytes:
    """``package`` (an .xlsx openpyxl saved) with each sheet's rows put into its
    ``<sheetData>``, after the rows openpyxl wrote (the header)."""
    by_part = {rows.ws.path.lstrip("/"): rows for rows in sheets}
    out = io.BytesIO()
    try:
        with (
            zipfile.ZipFile(io.BytesIO(package)) as source,
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL) as target,
        ):
            for name in source.namelist():
                data = source.read(name)
                rows = by_part.pop(name, None)
                if rows is None:
                    target.writestr(name, data)
                    continue
                end = data.rindex(SHEET_DATA_END)
                with target.open(name, "w") as stream:
                    stream.write(data[:end])
                    rows.copy_to(stream)
                    stream.write(data[end:])
        if by_part:
            raise RuntimeError(f"sheet parts not in the package: {sorted(by_part)}")
    finally:
        for rows in sheets:
            rows.close()
    return out.getvalue()
