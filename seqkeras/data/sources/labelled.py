"""Labelled text source: text-classification files as (text, label) string pairs."""

from __future__ import annotations

import tensorflow as tf

from seqkeras.data import validation
from seqkeras.data.errors import DataError
from seqkeras.data.paths import expand_paths
from seqkeras.data.sources.common import (PARSE_CHUNK, READ_BUFFER_BYTES, PathLike, Paths, column_index,
                                          csv_rows, line_dataset)

MISSING_VALUES = frozenset({"", "na", "nan", "n/a", "null", "none"})


def labelled_text(path: PathLike, text_column: int | str = 0, label_column: int | str = 1,
                  delimiter: str = "\t", header: bool = True, quoting: bool = False,
                  split_on_last: bool = False, encoding_errors: str = "replace") -> tf.data.Dataset:
    """A text-classification file as ``(text, label)`` string pairs.

    Covers SST-2 (TSV with header), IMDB (``quoting=True``: RFC-4180 CSV, quoted
    fields with delimiters, doubled quotes, newlines) and the UCI sentiment files
    (``header=False, split_on_last=True``: the label follows the last tab and quotes
    are ordinary characters). Blank lines are skipped.

    Args:
        path: a plain or ``.gz`` file.
        text_column, label_column: column index, or name when `header`.
        delimiter: field separator.
        header: the first line names the columns.
        quoting: RFC-4180 quoting (`tf.data.experimental.CsvDataset`).
        split_on_last: split each line at its last delimiter only (text, label).

    Returns:
        `tf.data.Dataset` of ``(text: string[], label: string[])``.

    Raises:
        DataError: missing/empty file, missing column, a row with the wrong number of
            fields, or an empty/NaN label, naming file and line.
    """
    (path,) = expand_paths(path)
    _, invalid = validation.scan_text_file(path, encoding_errors)
    if split_on_last and quoting:
        raise ValueError("split_on_last and quoting cannot be combined")
    rows = csv_rows(path, delimiter, quoting, encoding_errors)
    names = None
    if header:
        _, names = next(rows)
    if split_on_last:
        text_index, label_index, width = 0, 1, None
    else:
        text_index = column_index(text_column, names, path)
        label_index = column_index(label_column, names, path)
        width = len(names) if names else None
    for line, fields in rows:
        if not quoting and fields == [""]:
            continue
        if split_on_last:
            fields = [delimiter.join(fields[:-1]), fields[-1]] if len(fields) > 1 else fields
        if len(fields) <= max(text_index, label_index) or (width and len(fields) != width):
            raise DataError(path, line, f"expected {width or max(text_index, label_index) + 1} "
                                        f"{delimiter!r}-separated fields, found {len(fields)}")
        if fields[label_index].strip().lower() in MISSING_VALUES:
            raise DataError(path, line, f"missing label (NaN/empty) {fields[label_index]!r}")

    compression = "GZIP" if validation.is_gzip(path) else ""
    if quoting:
        selected = sorted({text_index, label_index})
        records = tf.data.experimental.CsvDataset(
            str(path), [tf.constant("", tf.string)] * len(selected), compression_type=compression,
            buffer_size=READ_BUFFER_BYTES, header=header, field_delim=delimiter,
            use_quote_delim=True, select_cols=selected)
        return records.map(lambda *cols: (cols[selected.index(text_index)], cols[selected.index(label_index)]),
                           num_parallel_calls=tf.data.AUTOTUNE)

    lines = line_dataset([path], [invalid])
    if header:
        lines = lines.skip(1)
    width = max(text_index, label_index) + 1

    def split(lines):
        lines = tf.boolean_mask(lines, tf.strings.length(lines) > 0)
        if split_on_last:
            last = tf.strings.split(lines, delimiter)
            text = tf.strings.reduce_join(last[:, :-1], axis=1, separator=delimiter)
            return text, tf.gather(last.flat_values, last.row_limits() - 1)
        parts = tf.strings.split(lines, delimiter).to_tensor("", shape=[None, width])
        return parts[:, text_index], parts[:, label_index]

    return lines.batch(PARSE_CHUNK).map(split, num_parallel_calls=tf.data.AUTOTUNE).unbatch()


def csv_column(paths: Paths, column: int | str, delimiter: str = ",",
               encoding_errors: str = "replace") -> tf.data.Dataset:
    """One column of CSV files with a header line (RFC-4180 quoting) as lines of text.

    A corpus for the sources that read lines (the language model's ``data.train =
    "imdb/train.csv.gz#text"``): one element per row, file after file in the order
    given (each glob's matches sorted). A quoted field may hold newlines and stays one
    element; an empty field is an empty line (unlike `labelled_text`, no value counts
    as missing).

    Args:
        paths: a path, a glob pattern, or a list of them (plain or ``.gz``).
        column: the column's header name, or its index.
        delimiter: the field separator.

    Returns:
        `tf.data.Dataset` of `tf.string` scalars.

    Raises:
        DataError: a missing or empty file, a missing column, or a row with another
            number of fields than the header (file and line named).

    Example:
        >>> reviews = csv_column("imdb/train.csv.gz", "text")     # doctest: +SKIP
    """
    columns = None
    for path in expand_paths(paths):
        validation.scan_text_file(path, encoding_errors)
        rows = csv_rows(path, delimiter, True, encoding_errors)
        _, names = next(rows)
        index = column_index(column, names, path)
        for line, fields in rows:
            if len(fields) != len(names):
                raise DataError(path, line, f"expected {len(names)} {delimiter!r}-separated fields, "
                                            f"found {len(fields)}")
        lines = tf.data.experimental.CsvDataset(
            str(path), [tf.constant("", tf.string)], compression_type="GZIP" if validation.is_gzip(path) else "",
            buffer_size=READ_BUFFER_BYTES, header=True, field_delim=delimiter, use_quote_delim=True,
            select_cols=[index]).map(lambda *fields: fields[0])
        columns = lines if columns is None else columns.concatenate(lines)
    return columns
