"""A directory of text files, split into training and validation BY FILE.

Splitting a corpus of many documents by line (the last 10 % of the lines) leaks: the
validation lines sit in files whose other lines were trained on. Splitting by file keeps
every validation file unseen. Which files go where is decided by a hash of the seed and
the file's path relative to the root, so

* it is deterministic (same seed, same files → same split, on any machine and Python);
* a file keeps its side when other files are added or removed (a new Python release
  moves only its new and deleted files);
* the validation share is about `validation_fraction` of the files (not of the
  characters): file ``f`` is a validation file when
  ``int(sha256(f"{seed}:{relative path}")[:16], 16) / 2**64 < validation_fraction``.
  At least one file is on each side: when the hash puts no file in validation, the
  file with the smallest hash goes there.

The root may be a directory (data-dir relative, absolute or ``~``) or ``sysconfig:NAME``,
a directory of the running interpreter (``sysconfig.get_paths()[NAME]``, e.g.
``sysconfig:stdlib``: the standard library's own sources, a corpus every Python user has).

Exclusion patterns are `fnmatch` patterns matched against the POSIX path relative to
the root, where ``*`` also matches ``/``: ``"site-packages/*"`` drops that whole tree,
``"*/tests/*"`` every nested ``tests`` directory (but not a top-level ``tests/``; add
``"tests/*"`` for that).

Files of zero bytes (e.g. empty ``__init__.py``) hold no text and are skipped; every
other file is checked like any corpus file (`validation.scan_text_file`), so invalid
UTF-8 or an unreadable file is a `DataError` naming the file (and line).

Example:
    >>> split = split_files(FileSet(root="sysconfig:stdlib", glob="*.py"), 0.1)  # doctest: +SKIP
    >>> lines = file_lines(split.validation)                                        # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import os
import pathlib
import sysconfig
from typing import Sequence

import tensorflow as tf

from seqkeras.data import validation
from seqkeras.data.errors import DataError, MissingDataError
from seqkeras.data.paths import resolve_path
from seqkeras.data.sources.common import READ_BUFFER_BYTES, PathLike

SYSCONFIG_PREFIX = "sysconfig:"


@dataclasses.dataclass
class FileSet:
    """Which files of a directory make a corpus (a pipeline spec's ``[data.files]`` table)."""

    root: str = ""                     # directory, or "sysconfig:NAME" (e.g. sysconfig:stdlib); "" = unused
    glob: str = "**/*"                 # pathlib glob under root ("**" recurses)
    exclude: list = dataclasses.field(default_factory=list)   # fnmatch patterns on the relative path
    seed: int = 0                      # the split's hash seed
    encoding_errors: str = "strict"    # "strict" (invalid UTF-8 → DataError) | "replace" (U+FFFD)


@dataclasses.dataclass(frozen=True)
class FileSplit:
    """The files of a `FileSet`, each on exactly one side (sorted by relative path).

    Attributes:
        root: the resolved root directory.
        train, validation: absolute paths.
        empty: the zero-byte files that matched and were skipped.
    """

    root: pathlib.Path
    train: tuple[pathlib.Path, ...]
    validation: tuple[pathlib.Path, ...]
    empty: tuple[pathlib.Path, ...] = ()


def resolve_root(root: str, data_dir: PathLike | None = None) -> pathlib.Path:
    """``sysconfig:NAME`` → ``sysconfig.get_paths()[NAME]``; any other root → `resolve_path`.

    Raises:
        DataError: an unknown sysconfig name.
        MissingDataError: the directory does not exist.
    """
    if root.startswith(SYSCONFIG_PREFIX):
        name = root[len(SYSCONFIG_PREFIX):]
        paths = sysconfig.get_paths()
        if name not in paths:
            raise DataError(root, None, f"no sysconfig path {name!r}; known: {', '.join(sorted(paths))}")
        path = pathlib.Path(paths[name])
    else:
        path = resolve_path(root, data_dir)
    if not path.is_dir():
        raise MissingDataError(path, None, "no such directory")
    return path


def list_files(root: pathlib.Path, pattern: str = "**/*", exclude: Sequence[str] = ()) -> list[pathlib.Path]:
    """Files under `root` matching `pattern` and no `exclude` pattern, sorted by relative path."""
    files = []
    for path in root.glob(pattern):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and not any(fnmatch.fnmatchcase(relative, ex) for ex in exclude):
            files.append(path)
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def split_hash(seed: int, relative: str) -> float:
    """The file's position in [0, 1): files below the validation fraction validate."""
    digest = hashlib.sha256(f"{seed}:{relative}".encode("utf-8")).hexdigest()
    return int(digest[:16], 16) / 2.0 ** 64


def split_files(files: FileSet, validation_fraction: float, data_dir: PathLike | None = None) -> FileSplit:
    """List the `FileSet` and split it by file (see the module docstring for the rule).

    Args:
        files: the file set.
        validation_fraction: the share of files in validation, in (0, 1).
        data_dir: the data directory for a relative root.

    Returns:
        `FileSplit`.

    Raises:
        DataError: no (non-empty) file matches, or fewer than two files (one per side).
        ValueError: `validation_fraction` outside (0, 1).
    """
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in (0, 1), received {validation_fraction}")
    root = resolve_root(files.root, data_dir)
    matched = list_files(root, files.glob, files.exclude)
    empty = tuple(p for p in matched if p.stat().st_size == 0)
    texts = [p for p in matched if p.stat().st_size > 0]
    where = f"{root}/{files.glob}"
    if not texts:
        raise DataError(where, None, f"no non-empty file matches (glob {files.glob!r}, "
                                     f"exclude {list(files.exclude)}, {len(empty)} empty)")
    if len(texts) < 2:
        raise DataError(where, None, f"only one file matches ({texts[0]}): a split by file needs two")
    position = {p: split_hash(files.seed, p.relative_to(root).as_posix()) for p in texts}
    validation_files = [p for p in texts if position[p] < validation_fraction]
    if not validation_files:
        validation_files = [min(texts, key=position.get)]
    if len(validation_files) == len(texts):
        validation_files.remove(max(validation_files, key=position.get))
    chosen = set(validation_files)
    return FileSplit(root=root, train=tuple(p for p in texts if p not in chosen),
                     validation=tuple(validation_files), empty=empty)


def file_lines(files: Sequence[PathLike], encoding_errors: str = "strict") -> tf.data.Dataset:
    """The lines of `files` in order (as `text_lines`: no newline, a trailing ``\\r`` and
    a leading byte-order mark dropped; ``.gz`` read through), every file checked first.

    One `flat_map` over the file names (not one `concatenate` per file, which nests
    hundreds deep for a source tree).

    Raises:
        DataError: no file, an unreadable or empty file, or (strict) invalid UTF-8,
            naming the file (and the line).
    """
    if not files:
        raise DataError(None, None, "no input files given")
    paths = [pathlib.Path(os.fspath(f)) for f in files]
    invalid = [validation.scan_text_file(path, encoding_errors)[1] for path in paths]
    compression = ["GZIP" if validation.is_gzip(path) else "" for path in paths]

    def read(path, compression_type):
        lines = tf.data.TextLineDataset(path, compression_type=compression_type, buffer_size=READ_BUFFER_BYTES)
        # A byte-order mark is not text: drop it from each file's first line only.
        return lines.enumerate().map(
            lambda i, line: tf.where(i == 0, tf.strings.regex_replace(line, "^\ufeff", ""), line))

    names = tf.data.Dataset.from_tensor_slices(([str(p) for p in paths], compression))
    lines = names.flat_map(read)
    if any(invalid):
        lines = lines.map(lambda line: tf.strings.unicode_transcode(
            line, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD), num_parallel_calls=tf.data.AUTOTUNE)
    return lines
