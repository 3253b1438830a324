"""Go's text/tabwriter as the docker CLI configures it for tables (min width 10, padding 3,
space padding): what `ps`, `images`, `top` and `df` print."""
from __future__ import annotations


class TabWriter:
    """A port of Go's text/tabwriter (no flags): tab-terminated cells are aligned per
    column block; the last cell of a line is not part of a column and is never padded."""

    def __init__(self, minwidth: int = 10, padding: int = 3, padchar: str = " ") -> None:
        self.minwidth = minwidth
        self.padding = padding
        self.padchar = padchar

    def format(self, text: str) -> str:
        lines = [line.split("\t") for line in text.split("\n")]
        out: list[str] = []
        widths: list[int] = []

        def write_lines(line0: int, line1: int) -> None:
            for i in range(line0, line1):
                cells = lines[i]
                parts = []
                for j, cell in enumerate(cells):
                    if j < len(widths) and j < len(cells) - 1:
                        parts.append(cell + self.padchar * (widths[j] - len(cell)))
                    else:
                        parts.append(cell)
                out.append("".join(parts))

        def fmt(line0: int, line1: int) -> int:
            column = len(widths)
            this = line0
            while this < line1:
                if column >= len(lines[this]) - 1:
                    this += 1
                    continue
                write_lines(line0, this)
                line0 = this
                width = self.minwidth
                while this < line1:
                    cells = lines[this]
                    if column >= len(cells) - 1:
                        break
                    width = max(width, len(cells[column]) + self.padding)
                    this += 1
                widths.append(width)
                fmt(line0, this)
                widths.pop()
                line0 = this
            write_lines(line0, line1)
            return line1

        fmt(0, len(lines))
        return "\n".join(out)


def tabwrite(text: str, minwidth: int = 10, padding: int = 3) -> str:
    return TabWriter(minwidth, padding).format(text)


def render_table(header: list[str], rows: list[list[str]], minwidth: int = 10,
                 padding: int = 3) -> str:
    """Rows aligned like the docker CLI's tables (`docker top` uses minwidth=20)."""
    text = "".join("\t".join(cells) + "\n" for cells in [header, *rows])
    return tabwrite(text, minwidth, padding)
