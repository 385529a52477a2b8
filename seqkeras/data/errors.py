"""The one exception type of the data layer.

Every bad-input problem found while reading a corpus (missing or empty file, invalid
UTF-8, malformed CoNLL line, mismatched parallel files, missing CSV column, NaN,
unknown TFDS name, vocabulary that does not match a model) is raised as a
`DataError`, whose message starts with ``path:line:`` so that editors and humans can
jump to the offending spot.
"""

from __future__ import annotations

import os


class DataError(ValueError):
    """Bad input data, located by file and (1-based) line where there is one.

    Attributes:
        path: the file (or source spec such as ``tfds:name``) as a string, or None.
        line: 1-based line number, or None when the problem is not on one line.
        reason: the message without its location prefix.

    Example:
        >>> str(DataError("a.txt", 3, "invalid UTF-8 byte 0xff"))
        'a.txt:3: invalid UTF-8 byte 0xff'
    """

    def __init__(self, path: str | os.PathLike | None, line: int | None, reason: str):
        self.path = None if path is None else os.fspath(path)
        self.line = line
        self.reason = reason
        location = self.path if self.path is not None else "<data>"
        if line is not None:
            location = f"{location}:{line}"
        super().__init__(f"{location}: {reason}")

    def __reduce__(self):
        return (type(self), (self.path, self.line, self.reason))


class MissingDataError(DataError):
    """A corpus file that does not exist, or a glob that matches nothing.

    Usually the data directory is not the one the user meant, so the command line
    answers it with how to point seqkeras at the data (``--data-dir``, ``SEQKERAS_DATA``).
    """
