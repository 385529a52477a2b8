"""Text sources: the lines of text files, or their characters line by line."""

from __future__ import annotations

import tensorflow as tf

from seqkeras.data.sources.common import Paths, checked_files, line_dataset


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
    files, invalid, _ = checked_files(paths, encoding_errors)
    return line_dataset(files, invalid)


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
