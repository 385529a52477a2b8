"""Cheap streaming checks run in Python before a tf.data pipeline is built.

TensorFlow reports a bad byte or a malformed record as an op error with no file name
or line number, deep inside the input pipeline. These helpers read a file once, in
constant memory, and raise a `DataError` naming the file and line instead. The data
path itself stays in tf.data; only the checks are Python.
"""

from __future__ import annotations

import codecs
import gzip
import os
import pathlib
from typing import Callable, Iterator

from seqkeras.data.errors import DataError

_CHUNK = 1 << 20
ENCODING_POLICIES = ("replace", "strict")


def is_gzip(path: str | os.PathLike) -> bool:
    """Whether the file is gzip-compressed (decided by the ``.gz`` suffix)."""
    return os.fspath(path).endswith(".gz")


def open_binary(path: str | os.PathLike):
    """Open a file for binary reading, decompressing ``.gz`` transparently."""
    return gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")


def check_encoding_policy(encoding_errors: str) -> None:
    if encoding_errors not in ENCODING_POLICIES:
        raise ValueError(
            f"encoding_errors must be one of {ENCODING_POLICIES}, received {encoding_errors!r}"
        )


def scan_text_file(path: pathlib.Path, encoding_errors: str = "replace") -> tuple[int, bool]:
    """Check that a text file is non-empty and (in strict mode) valid UTF-8.

    Reads 1 MiB chunks through an incremental decoder, so it runs at C speed and in
    constant memory.

    Args:
        path: a plain or ``.gz`` file.
        encoding_errors: ``"strict"`` raises on the first invalid byte; ``"replace"``
            only reports whether there was one.

    Returns:
        (number of lines, whether the file holds invalid UTF-8). A last line without a
        trailing newline counts as a line.

    Raises:
        DataError: the file is empty, unreadable (corrupt gzip), or, in strict mode,
            holds invalid UTF-8 (the message names the line).
    """
    check_encoding_policy(encoding_errors)
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    lines, size, invalid, last = 0, 0, False, b""
    try:
        with open_binary(path) as stream:
            while chunk := stream.read(_CHUNK):
                if not invalid:
                    try:
                        decoder.decode(chunk)
                    except UnicodeDecodeError as error:
                        if encoding_errors == "strict":
                            line = lines + chunk.count(b"\n", 0, max(error.start, 0)) + 1
                            raise DataError(
                                path, line, f"invalid UTF-8 byte 0x{chunk[max(error.start, 0)]:02x} "
                                "(use encoding_errors='replace' to substitute U+FFFD)"
                            ) from None
                        invalid = True
                lines += chunk.count(b"\n")
                size += len(chunk)
                last = chunk[-1:]
            if not invalid:
                try:
                    decoder.decode(b"", final=True)
                except UnicodeDecodeError:
                    if encoding_errors == "strict":
                        raise DataError(path, lines + 1, "file ends inside a UTF-8 sequence") from None
                    invalid = True
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise DataError(path, None, f"cannot read file: {error}") from None
    if size == 0:
        raise DataError(path, None, "file is empty")
    return lines + (last != b"\n"), invalid


def iter_lines(path: pathlib.Path, encoding_errors: str = "replace") -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for each line, split on ``\\n`` only.

    Trailing ``\\r`` is removed (CRLF files), as `tf.data.TextLineDataset` does. Unlike
    `str.splitlines`, characters such as U+0085 do not end a line.
    """
    check_encoding_policy(encoding_errors)
    with open_binary(path) as stream:
        for number, raw in enumerate(stream, start=1):
            try:
                text = raw.decode("utf-8", encoding_errors)
            except UnicodeDecodeError:
                raise DataError(path, number, "invalid UTF-8") from None
            if number == 1:
                text = text.removeprefix("\ufeff")  # a byte-order mark is not text (as `line_dataset`)
            yield number, text.rstrip("\n").removesuffix("\r")


def check_lines(path: pathlib.Path, check: Callable[[str], str | None],
                encoding_errors: str = "replace") -> int:
    """Run `check` on every line; a non-None result is raised as the line's error.

    Returns:
        The number of lines.
    """
    count = 0
    for count, text in iter_lines(path, encoding_errors):
        problem = check(text)
        if problem is not None:
            raise DataError(path, count, problem)
    if count == 0:
        raise DataError(path, None, "file is empty")
    return count
