"""Where corpora live: the data directory setting and spec-relative file names.

The data directory is chosen, first match wins, from

1. the command-line value (``--data-dir``) passed as ``cli_value``;
2. the ``SEQKERAS_DATA`` environment variable;
3. the default ``~/.seqkeras/data`` if it exists, else ``./data`` (relative to the
   current working directory). In this repository's development checkout the real
   corpora sit in ``../shared/data``; point ``SEQKERAS_DATA`` there.

Pipeline specs then name files relative to it (``ptb/ptb.train.txt.gz``,
``multi30k/train.*.gz``); absolute and ``~`` paths are used as they are.
"""

from __future__ import annotations

import glob
import os
import pathlib
from typing import Iterable

from seqkeras.data.errors import DataError, MissingDataError

ENV_VAR = "SEQKERAS_DATA"
DEFAULT_DATA_DIRS = (pathlib.Path("~/.seqkeras/data"), pathlib.Path("data"))
_GLOB_CHARS = set("*?[")


def resolve_data_dir(cli_value: str | os.PathLike | None = None) -> pathlib.Path:
    """The data directory: CLI value, then ``$SEQKERAS_DATA``, then the default.

    Args:
        cli_value: the value of a ``--data-dir`` flag, or None when not given.

    Returns:
        An absolute `pathlib.Path` (it need not exist for the default).
    """
    if cli_value:
        return pathlib.Path(cli_value).expanduser().resolve()
    configured = os.environ.get(ENV_VAR)
    if configured:
        return pathlib.Path(configured).expanduser().resolve()
    for candidate in DEFAULT_DATA_DIRS:
        candidate = candidate.expanduser()
        if candidate.is_dir():
            return candidate.resolve()
    return DEFAULT_DATA_DIRS[0].expanduser().resolve()


def is_glob(name: str | os.PathLike) -> bool:
    """Whether `name` contains glob characters (``*``, ``?``, ``[``)."""
    return bool(_GLOB_CHARS & set(os.fspath(name)))


def resolve_path(name: str | os.PathLike, data_dir: str | os.PathLike | None = None) -> pathlib.Path:
    """A spec-relative file name (possibly a glob pattern) made absolute.

    Relative names are taken relative to `data_dir` (default: `resolve_data_dir()`);
    absolute and ``~`` names are kept. Glob patterns are returned unexpanded: use
    `expand_paths` to list the matching files.

    Example:
        >>> resolve_path("ptb/ptb.valid.txt", "/data").as_posix()
        '/data/ptb/ptb.valid.txt'
    """
    path = pathlib.Path(name).expanduser()
    if path.is_absolute():
        return path
    base = pathlib.Path(data_dir) if data_dir is not None else resolve_data_dir()
    return base.expanduser() / path


def expand_paths(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[pathlib.Path]:
    """Expand one path, a glob, or a list of them to existing files, in order.

    Each glob's matches are sorted so that the order is deterministic.

    Raises:
        MissingDataError: a file does not exist or a glob matches nothing.
        DataError: no path is given.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files = []
    for name in paths:
        name = os.path.expanduser(os.fspath(name))
        if is_glob(name):
            matches = sorted(glob.glob(name))
            if not matches:
                raise MissingDataError(name, None, "no file matches this pattern")
            files.extend(pathlib.Path(m) for m in matches)
        else:
            path = pathlib.Path(name)
            if not path.is_file():
                raise MissingDataError(path, None, "no such file")
            files.append(path)
    if not files:
        raise DataError(None, None, "no input files given")
    return files
