"""Listings (``doctor``, ``models list``, ``history``) that read well wherever they go.

A wide terminal gets a table. Below ``NARROW`` columns a table folds paths into cells
six lines tall, so each row becomes a block: its short cells on one line, each long one
indented below. Through a pipe each row is one plain line of tab-separated cells, for
grep and cut. At a terminal the home folder is shown as ``~``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

NARROW = 100

Cell = str | Text  # a str is rich markup; a Text is shown as it is (a request may hold [brackets])


@dataclass(frozen=True)
class Column:
    header: str
    long: bool = False  # free text or a path: folds in the table, gets its own line in a block
    right: bool = False  # numbers
    style: str = ""


def print_listing(console: Console, columns: Sequence[Column], rows: Sequence[Sequence[Cell]]) -> None:
    if not console.is_terminal:  # written as is: rich would turn the tabs into spaces
        console.file.write("".join("\t".join(_plain(cell) for cell in row) + "\n" for row in rows))
        return
    texts = [[_text(cell) for cell in row] for row in rows]
    if console.width >= NARROW:
        table = Table(box=None, pad_edge=False, header_style="bold")
        for column in columns:
            table.add_column(column.header, style=column.style, justify="right" if column.right else "left",
                             overflow="fold" if column.long else "ellipsis", no_wrap=not column.long)
        for row in texts:
            table.add_row(*row)
        console.print(table)
        return
    short = [i for i, column in enumerate(columns) if not column.long]
    widths = {i: max((row[i].cell_len for row in texts), default=0) for i in short}
    for row in texts:
        line = Text()
        for n, i in enumerate(short):
            cell = row[i].copy()
            if columns[i].style:
                cell.stylize(columns[i].style)
            cell.pad_left(widths[i] - cell.cell_len) if columns[i].right else cell.pad_right(widths[i] - cell.cell_len)
            line.append_text(cell)
            line.append("  " if n + 1 < len(short) else "")
        line.rstrip()
        console.print(line, highlight=False)
        first = True
        for i, column in enumerate(columns):
            if not column.long or not row[i].plain.strip():
                continue
            label = Text("" if first else f"{column.header}: ", style="dim")
            first = False
            console.print(Padding(label + row[i], (0, 0, 0, 4), expand=False), highlight=False)


def _text(cell: Cell) -> Text:
    return Text.from_markup(_tilde(cell)) if isinstance(cell, str) else cell


def _plain(cell: Cell) -> str:
    text = Text.from_markup(cell).plain if isinstance(cell, str) else cell.plain
    return " ".join(text.split()) or "-"


def _tilde(text: str) -> str:
    home = str(Path.home())
    return text.replace(home + "/", "~/") if len(home) > 1 else text
