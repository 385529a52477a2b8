"""Streaming tf.data sources: corpora in, tf.data datasets of strings out.

Each source checks its files once in Python (constant memory, see `validation`) so
bad input raises a `DataError` naming file and line, then reads them with tf.data ops
(`TextLineDataset`, `CsvDataset`): the corpus is never held as a Python list.
"""

from __future__ import annotations

import csv
import io
import math
import os
import pathlib
from typing import Iterable, Sequence

import tensorflow as tf

from seqkeras.data import validation
from seqkeras.data.errors import DataError
from seqkeras.data.paths import expand_paths, resolve_path

PathLike = str | os.PathLike
Paths = PathLike | Iterable[PathLike]

READ_BUFFER_BYTES = 1 << 20


def _line_dataset(files: Sequence[pathlib.Path], transcode: Sequence[bool],
                  append_blank: bool = False) -> tf.data.Dataset:
    """Lines of `files` in order; files flagged in `transcode` get U+FFFD for bad bytes."""
    def read(path, compression, needs_transcode):
        lines = tf.data.TextLineDataset(path, compression_type=compression,
                                        buffer_size=READ_BUFFER_BYTES)
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


def _replace_invalid_utf8(line: tf.Tensor) -> tf.Tensor:
    return tf.strings.unicode_transcode(line, "UTF-8", "UTF-8", errors="replace",
                                        replacement_char=0xFFFD)


def _checked_files(paths: Paths, encoding_errors: str) -> tuple[list[pathlib.Path], list[bool], list[int]]:
    files = expand_paths(paths)
    counts, invalid = [], []
    for path in files:
        count, bad = validation.scan_text_file(path, encoding_errors)
        counts.append(count)
        invalid.append(bad)
    return files, invalid, counts


def text_lines(paths: Paths, encoding_errors: str = "replace") -> tf.data.Dataset:
    """Lines of one or many text files (globs, ``.gz``) as a dataset of scalar strings.

    Lines are split on ``\\n`` (a trailing ``\\r`` is dropped) and returned without the
    newline, file after file in the order given (each glob's matches sorted).

    Args:
        paths: a path, a glob pattern, or a list of them.
        encoding_errors: ``"replace"`` substitutes U+FFFD for invalid UTF-8 bytes;
            ``"strict"`` raises a `DataError` naming the file and line.

    Returns:
        `tf.data.Dataset` of `tf.string` scalars.

    Raises:
        DataError: a missing or empty file, or invalid UTF-8 in strict mode.

    Example:
        >>> lines = text_lines("ptb/ptb.valid.txt")          # doctest: +SKIP
        >>> next(iter(lines)).numpy()[:20]                   # doctest: +SKIP
        b' consumers may want '
    """
    files, invalid, _ = _checked_files(paths, encoding_errors)
    return _line_dataset(files, invalid)


def text_characters(paths: Paths, encoding_errors: str = "replace",
                    keep_newlines: bool = True) -> tf.data.Dataset:
    """The files' text as a stream of Unicode characters, one line per element.

    Each element is the line's characters, ``string[n]`` (with a final ``"\\n"`` when
    `keep_newlines`), so that ``.unbatch()`` gives the whole-file character stream and
    `Vocabulary.build` can count characters batch by batch.

    Returns:
        `tf.data.Dataset` of `tf.string` vectors of shape ``[None]``.
    """
    lines = text_lines(paths, encoding_errors)
    if keep_newlines:
        lines = lines.map(lambda line: line + "\n", num_parallel_calls=tf.data.AUTOTUNE)
    return lines.map(lambda line: tf.strings.unicode_split(line, "UTF-8"),
                     num_parallel_calls=tf.data.AUTOTUNE)
