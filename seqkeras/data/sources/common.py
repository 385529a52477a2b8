"""Helpers shared by the file sources: path types, checked file lists, line and CSV readers."""

from __future__ import annotations

import csv
import io
import os
import pathlib
from typing import Iterable, Sequence

import tensorflow as tf

from seqkeras.data import validation
from seqkeras.data.errors import DataError
from seqkeras.data.paths import expand_paths

PathLike = str | os.PathLike
Paths = PathLike | Iterable[PathLike]

READ_BUFFER_BYTES = 1 << 20
PARSE_CHUNK = 4096


def line_dataset(files: Sequence[pathlib.Path], transcode: Sequence[bool],
                 append_blank: bool = False) -> tf.data.Dataset:
    """Lines of `files` in order, without a leading byte-order mark; files flagged in
    `transcode` get U+FFFD for bad bytes."""
    def read(path, compression, needs_transcode):
        lines = tf.data.TextLineDataset(path, compression_type=compression,
                                        buffer_size=READ_BUFFER_BYTES)
        # A byte-order mark (Windows editors write one) is not text: drop it from line 1.
        lines = lines.take(1).map(_without_bom).concatenate(lines.skip(1))
        if append_blank:
            lines = lines.concatenate(tf.data.Dataset.from_tensors(tf.constant("")))
        if needs_transcode:
            lines = lines.map(_replace_invalid_utf8, num_parallel_calls=tf.data.AUTOTUNE)
        return lines

    datasets = [read(str(path), "GZIP" if validation.is_gzip(path) else "", flag)
                for path, flag in zip(files, transcode)]
    lines = datasets[0]
    for more in datasets[1:]:
        lines = lines.concatenate(more)
    return lines


def _without_bom(line: tf.Tensor) -> tf.Tensor:
    return tf.strings.regex_replace(line, "^\ufeff", "")


def _replace_invalid_utf8(line: tf.Tensor) -> tf.Tensor:
    return tf.strings.unicode_transcode(line, "UTF-8", "UTF-8", errors="replace",
                                        replacement_char=0xFFFD)


def checked_files(paths: Paths, encoding_errors: str) -> tuple[list[pathlib.Path], list[bool], list[int]]:
    files = expand_paths(paths)
    counts, invalid = [], []
    for path in files:
        count, bad = validation.scan_text_file(path, encoding_errors)
        counts.append(count)
        invalid.append(bad)
    return files, invalid, counts


def column_index(column: int | str, header: list[str] | None, path: pathlib.Path) -> int:
    if isinstance(column, int):
        return column
    if header is None:
        raise ValueError(f"column {column!r} is a name but the file has no header: use an index")
    if column not in header:
        raise DataError(path, 1, f"missing column {column!r}; the header has {header}")
    return header.index(column)


def csv_rows(path: pathlib.Path, delimiter: str, quoting: bool, encoding_errors: str):
    """Yield ``(line_number, fields)`` with RFC-4180 quoting or a plain split."""
    # utf-8-sig: a byte-order mark (Excel writes one) is not part of the first header name.
    stream = io.TextIOWrapper(validation.open_binary(path), encoding="utf-8-sig",
                              errors=encoding_errors, newline="")
    with stream:
        if quoting:
            reader = csv.reader(stream, delimiter=delimiter)
            line = 1
            for fields in reader:
                yield line, fields
                line = reader.line_num + 1
        else:
            for number, raw in enumerate(stream, start=1):
                yield number, raw.rstrip("\n").removesuffix("\r").split(delimiter)

