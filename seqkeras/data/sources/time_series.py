"""Time-series source: numeric columns of a CSV file as rows in file order."""

from __future__ import annotations

import math
from typing import Sequence

import tensorflow as tf

from seqkeras.data import validation
from seqkeras.data.errors import DataError
from seqkeras.data.paths import expand_paths
from seqkeras.data.sources.common import PathLike, column_index, csv_rows, line_dataset


def time_series_csv(path: PathLike, time_column: str | None, feature_columns: Sequence[str],
                    missing: str = "error", encoding_errors: str = "strict") -> tf.data.Dataset:
    """A CSV time series (quoted header, CRLF allowed) as rows in file order.

    Args:
        path: CSV file with a header line (plain or ``.gz``).
        time_column: the column with the time stamp, or None.
        feature_columns: numeric columns to read, in this order.
        missing: ``"error"`` raises on a missing/NaN value; ``"skip"`` drops the row.

    Returns:
        `tf.data.Dataset` of ``{"time": string[], "features": float32[F]}``.

    Raises:
        DataError: missing/empty file, missing column, wrong field count, or (with
            ``missing="error"``) a NaN/``NA``/non-numeric value, naming file and line.
    """
    if missing not in ("error", "skip"):
        raise ValueError(f"missing must be 'error' or 'skip', received {missing!r}")
    (path,) = expand_paths(path)
    validation.scan_text_file(path, encoding_errors)
    rows = csv_rows(path, ",", True, encoding_errors)
    _, names = next(rows)
    feature_index = [column_index(c, names, path) for c in feature_columns]
    time_index = None if time_column is None else column_index(time_column, names, path)
    for line, fields in rows:
        if fields == []:
            continue
        if len(fields) != len(names):
            raise DataError(path, line, f"expected {len(names)} fields, found {len(fields)}")
        if missing == "error":
            for column, index in zip(feature_columns, feature_index):
                value = _float_or_none(fields[index])
                if value is None:
                    raise DataError(path, line, f"column {column!r} has a missing or non-numeric "
                                                f"value {fields[index]!r} (NaN); use missing='skip'")

    wanted = sorted(set(feature_index) | ({time_index} if time_index is not None else set()))
    # Lines (BOM dropped, CRLF allowed) parsed as CSV records; the checks above passed, so
    # every non-empty line after the header has the header's fields.
    lines = line_dataset([path], [False]).skip(1).map(lambda line: tf.strings.regex_replace(line, "\r$", ""))
    records = lines.filter(lambda line: tf.strings.length(line) > 0).map(
        lambda line: tuple(tf.io.decode_csv(line, [tf.constant("", tf.string)] * len(wanted), select_cols=wanted)))

    def to_row(*cols):
        values = tf.stack([cols[wanted.index(i)] for i in feature_index])
        time = cols[wanted.index(time_index)] if time_index is not None else tf.constant("")
        return {"time": time, "values": values}

    rows_ds = records.map(to_row)
    if missing == "skip":
        numeric = r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*"
        rows_ds = rows_ds.filter(lambda r: tf.reduce_all(tf.strings.regex_full_match(r["values"], numeric)))
    return rows_ds.map(lambda r: {"time": r["time"],
                                  "features": tf.strings.to_number(r["values"], tf.float32)})


def _float_or_none(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
