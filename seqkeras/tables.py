"""Plain-text tables for evaluation reports (pure Python: benchmarks and peers import it
without TensorFlow).

Example:
    >>> print(text_table(["name", "MAE"], [["model", number(1.5)], ["persistence", number(float("nan"))]]))
    name           MAE
    -----------  -----
    model        1.500
    persistence      -
"""

from __future__ import annotations

import math


def number(value, digits: int = 3) -> str:
    """A table cell: `value` (any real number, NumPy's included) to `digits` decimals, ``-``
    for None or NaN."""
    return "-" if value is None or math.isnan(float(value)) else f"{float(value):.{digits}f}"


def text_table(header: list[str], rows: list[list[str]]) -> str:
    """Columns padded to their widest cell: the first left-aligned, the rest right-aligned,
    a dashed rule under the header."""
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    lines = [header, ["-" * width for width in widths], *rows]
    return "\n".join(
        "  ".join(cell.ljust(width) if column == 0 else cell.rjust(width)
                  for column, (cell, width) in enumerate(zip(line, widths))).rstrip()
        for line in lines)
