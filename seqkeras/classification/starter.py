"""What ``seqkeras init classification --data FILE`` reads from a user's labelled file.

* The format: ``.csv`` → ``"csv"``, ``.tsv`` → ``"tsv"`` (a ``.gz`` suffix is looked
  through); any other name is decided by the content: a header line naming a text and
  a label column → ``"tsv"`` (tab-separated) or ``"csv"`` (comma-separated); no header
  and every line ending in a tab and a label → ``"last_tab"``.
* The columns (``tsv``, ``csv``): the header names the text column (``sentence``,
  ``text``, ``review``, ...) and the label column (``label``, ``sentiment``,
  ``class``, ...); keys are set only where they differ from the spec's defaults.
* The labels: the sorted distinct labels of the first `MAX_ROWS` rows.

Example:
    >>> starter_keys(["reviews.csv"])                     # doctest: +SKIP
    {'data.train': 'reviews.csv', 'data.format': 'csv', 'data.text_column': 'review',
     'data.labels': ['negative', 'positive']}
"""

from __future__ import annotations

import csv
import itertools
import os
import pathlib

from seqkeras.classification.spec import DataSpec
from seqkeras.data.sources import MISSING_VALUES
from seqkeras.data.sources.common import csv_rows
from seqkeras.data.validation import iter_lines

# Header names, most likely first; a column matches one exactly (any case) or, failing
# that, contains it ("review_text", "class_label").
TEXT_NAMES = ("sentence", "text", "review", "document", "content")
LABEL_NAMES = ("label", "sentiment", "class", "category", "target")
MAX_ROWS = 100_000           # rows read for the labels
SNIFF_LINES = 20             # lines looked at to decide a format from the content
MAX_LABEL_CHARS = 40         # a last-tab field longer than this is text, not a label
MAX_LABELS = 1000            # more distinct values than this: not a label column
DELIMITERS = {"tsv": "\t", "csv": ","}


def starter_keys(data_files: list[str]) -> dict:
    """The ``[data]`` keys of a starter spec for a training file (and a validation file).

    Args:
        data_files: ``[train]`` or ``[train, validation]`` paths, as the spec should hold them.

    Returns:
        ``{dotted key: value}``: ``data.train`` (``data.validation``), ``data.format``,
        ``data.text_column`` / ``data.label_column`` where not the defaults, ``data.labels``.

    Raises:
        ValueError: more than two files, a format that cannot be told, no text or label
            column in the header (the columns are listed), a malformed row or missing
            label (file and line named), fewer than two labels.
    """
    if not 1 <= len(data_files) <= 2:
        raise ValueError(f"classification takes a training file and optionally a validation file, "
                         f"received {len(data_files)} files: {list(data_files)}")
    train = pathlib.Path(data_files[0])
    format = detect_format(train)
    keys = {"data.train": data_files[0], "data.format": format}
    text_column, label_column = DataSpec.text_column, DataSpec.label_column
    if format != "last_tab":
        text_column, label_column = pick_columns(train, format)
        if text_column != DataSpec.text_column:
            keys["data.text_column"] = text_column
        if label_column != DataSpec.label_column:
            keys["data.label_column"] = label_column
    labels = set()
    for file in data_files:
        labels |= read_labels(pathlib.Path(file), format, text_column, label_column)
    if len(labels) < 2:
        raise ValueError(f"{train}: a classifier needs ≥ 2 classes, found the labels {sorted(labels)}")
    if len(data_files) == 2:
        keys["data.validation"] = data_files[1]
    keys["data.labels"] = sorted(labels)
    return keys


def detect_format(path: str | os.PathLike) -> str:
    """``"csv"``, ``"tsv"`` or ``"last_tab"`` from the file's extension, else its first lines.

    Raises:
        ValueError: neither the name nor the content tells the format.
    """
    path = pathlib.Path(path)
    suffix = pathlib.Path(path.name.removesuffix(".gz")).suffix.lower()
    if suffix in (".csv", ".tsv"):
        return suffix[1:]
    lines = _first_lines(path, SNIFF_LINES)
    if not lines:
        raise ValueError(f"{path}: the file holds no text lines")
    for format, delimiter in DELIMITERS.items():
        header = next(csv.reader([lines[0]], delimiter=delimiter))
        if len(header) >= 2 and _match(header, TEXT_NAMES, exact=True) and _match(header, LABEL_NAMES, exact=True):
            return format
    if all("\t" in line and 0 < len(line.rsplit("\t", 1)[1].strip()) <= MAX_LABEL_CHARS for line in lines):
        return "last_tab"
    raise ValueError(f"{path}: cannot tell the format: expected a .csv or .tsv file with a header naming a "
                     f"text and a label column, or lines ending in a tab and a label; first line: {lines[0][:80]!r}")


def pick_columns(path: str | os.PathLike, format: str) -> tuple[str, str]:
    """(text column, label column) named by the header of a ``tsv`` / ``csv`` file.

    Raises:
        ValueError: the header names no text-like or no label-like column (the columns
            are listed).
    """
    header = _header(pathlib.Path(path), format)
    text = DataSpec.text_column if DataSpec.text_column in header else _match(header, TEXT_NAMES)
    label = DataSpec.label_column if DataSpec.label_column in header else \
        _match([c for c in header if c != text], LABEL_NAMES)
    for role, column, names in (("text", text, TEXT_NAMES), ("label", label, LABEL_NAMES)):
        if column is None:
            raise ValueError(f"{path}: no {role} column among the header's columns {header}: name it one of "
                             f"{list(names)} in the header, or write data.{role}_column in the spec by hand")
    if text == label:
        raise ValueError(f"{path}: the text and the label column are both {text!r} (columns {header})")
    return text, label


def read_labels(path: pathlib.Path, format: str, text_column: str, label_column: str) -> set[str]:
    """The distinct (stripped) labels of the first `MAX_ROWS` rows.

    Raises:
        ValueError: a row with too few fields, a missing label, or more than `MAX_LABELS`
            distinct values.
    """
    if format == "last_tab":
        rows = ((number, line.rsplit("\t", 1)) for number, line in iter_lines(path) if line)
        index, width = 1, 2
    else:
        header = _header(path, format)
        for column in (text_column, label_column):
            if column not in header:
                raise ValueError(f"{path}: no column {column!r} in the header {header}")
        rows = _rows(path, format)
        next(rows)
        index, width = header.index(label_column), len(header)
    labels = set()
    try:
        for number, fields in itertools.islice(rows, MAX_ROWS):
            if fields in ([], [""]):
                continue
            if (len(fields) < width) if format == "last_tab" else (len(fields) != width):
                raise ValueError(f"{path}:{number}: expected {width} fields, found {len(fields)}")
            label = fields[index].strip()
            if label.lower() in MISSING_VALUES:
                raise ValueError(f"{path}:{number}: missing label {fields[index]!r}")
            labels.add(label)
            if len(labels) > MAX_LABELS:
                raise ValueError(f"{path}: more than {MAX_LABELS} distinct values in the label column "
                                 f"{label_column if format != 'last_tab' else '(last field)'}: is it a label?")
    finally:
        rows.close()
    return labels


def _rows(path: pathlib.Path, format: str):
    """``(line, fields)`` of a ``tsv`` (split on tabs) or ``csv`` (RFC 4180) file."""
    if format == "csv":
        return csv_rows(path, ",", True, "replace")
    return ((number, line.split("\t")) for number, line in iter_lines(path))


def _header(path: pathlib.Path, format: str) -> list[str]:
    rows = _rows(path, format)
    try:
        _, header = next(rows)
    except StopIteration:
        raise ValueError(f"{path}: the file is empty") from None
    finally:
        rows.close()
    return header


def _first_lines(path: pathlib.Path, count: int) -> list[str]:
    """Up to `count` non-blank lines from the start of the file."""
    lines = iter_lines(path)
    try:
        return [line for _, line in itertools.islice(((n, l) for n, l in lines if l.strip()), count)]
    finally:
        lines.close()


def _match(columns: list[str], names: tuple[str, ...], exact: bool = False) -> str | None:
    """The first column named one of `names` (any case), else (unless `exact`) one
    containing one, else None."""
    lowered = [column.strip().lower() for column in columns]
    tests = [lambda column, name: column == name]
    if not exact:
        tests.append(lambda column, name: name in column)
    for test in tests:
        for name in names:
            for column, low in zip(columns, lowered):
                if test(low, name):
                    return column
    return None
