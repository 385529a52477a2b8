"""Streaming tf.data sources: corpora in, tf.data datasets of strings out.

Each source checks its files once in Python (constant memory, see `validation`) so
bad input raises a `DataError` naming file and line, then reads them with tf.data ops
(`TextLineDataset`, `CsvDataset`): the corpus is never held as a Python list.
"""

from __future__ import annotations

import collections
import csv
import io
import math
import os
import pathlib
from typing import Iterable, Sequence

import numpy as np
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


# ---------------------------------------------------------------------- CoNLL
CONLL_FORMATS = {
    # name: (delimiter, token column, tag column, exact column count or None)
    "conllu": ("\t", 1, 3, 10),
    "conll2003": (" ", 0, 3, None),
    "wikiann": ("\t", 0, 1, 2),
}
_CONLLU_ID = __import__("re").compile(r"\d+(-\d+|\.\d+)?")
_LANGUAGE_PREFIX = r"^[a-z]{2,3}:"


def _conll_line_checker(format: str, token_column: int, tag_column: int):
    delimiter, _, _, exact = CONLL_FORMATS[format]
    needed = max(token_column, tag_column) + 1

    def check(line: str) -> str | None:
        if not line.strip() or _is_conll_comment(format, line):
            return None
        fields = line.split(delimiter)
        if exact is not None and len(fields) != exact:
            return f"malformed {format} line: expected {exact} {delimiter!r}-separated columns, found {len(fields)}"
        if len(fields) < needed:
            return f"malformed {format} line: expected at least {needed} columns, found {len(fields)}"
        if format == "conllu" and not _CONLLU_ID.fullmatch(fields[0]):
            return f"malformed conllu line: ID {fields[0]!r} is not N, N-M or N.M"
        if not fields[token_column] or not fields[tag_column]:
            return f"malformed {format} line: empty token or tag"
        return None

    return check


def _is_conll_comment(format: str, line: str) -> bool:
    return (format == "conllu" and line.startswith("#")) or (
        format == "conll2003" and line.startswith("-DOCSTART-"))


def conll_sentences(paths: Paths, format: str = "conllu", token_column: int | None = None,
                    tag_column: int | None = None, encoding_errors: str = "replace") -> tf.data.Dataset:
    """Sentences of a column-format corpus as ``{"tokens": string[n], "tags": string[n]}``.

    Formats:
        * ``"conllu"`` (Universal Dependencies): 10 tab-separated columns; ``#``
          comment lines, multiword-token ranges (``3-4``) and empty nodes (``5.1``)
          are skipped; default token FORM (1), tag UPOS (3; use 4 for XPOS).
        * ``"conll2003"``: space-separated ``TOKEN POS CHUNK NER``; ``-DOCSTART-``
          lines skipped; default tag NER (3).
        * ``"wikiann"``: ``lang:TOKEN<TAB>TAG``; the ``lang:`` prefix is removed.

    Sentences are separated by blank lines; a file's last sentence needs none.

    Raises:
        DataError: missing/empty file, invalid UTF-8 (strict), or a malformed line
            (wrong column count, bad CoNLL-U ID), naming file and line.
    """
    if format not in CONLL_FORMATS:
        raise ValueError(f"format must be one of {sorted(CONLL_FORMATS)}, received {format!r}")
    delimiter, default_token, default_tag, _ = CONLL_FORMATS[format]
    token_column = default_token if token_column is None else token_column
    tag_column = default_tag if tag_column is None else tag_column
    files, invalid, _ = _checked_files(paths, encoding_errors)
    checker = _conll_line_checker(format, token_column, tag_column)
    for path in files:
        validation.check_lines(path, checker, encoding_errors)

    rows = _line_dataset(files, invalid, append_blank=True).batch(_CONLL_CHUNK).map(
        lambda lines: _conll_rows(lines, format, delimiter, token_column, tag_column),
        num_parallel_calls=tf.data.AUTOTUNE)
    empty = tf.zeros([0], tf.string)
    sentences = rows.scan((empty, empty), _cut_sentences).unbatch()
    return sentences.filter(lambda s: tf.size(s["tokens"]) > 0)


_CONLL_CHUNK = 8192


def _conll_rows(lines: tf.Tensor, format: str, delimiter: str, token_column: int, tag_column: int):
    """Vectorized parse of a chunk of lines ``string[b]`` → (blank, token, tag), each ``[b']``.

    Comment, ``-DOCSTART-``, multiword-token and empty-node lines are dropped.
    """
    width = max(token_column, tag_column) + 1
    # One split per line, only as far as the last column used (the rest stays joined).
    parts = tf.strings.split(lines, delimiter, maxsplit=width).to_tensor("", shape=[None, width])
    if format == "conllu":
        skip = (tf.strings.substr(lines, 0, 1) == "#") | tf.strings.regex_full_match(parts[:, 0], r"\d+[-.]\d+")
    elif format == "conll2003":
        skip = tf.strings.substr(lines, 0, 10) == "-DOCSTART-"
    else:
        skip = None
    if skip is not None:
        keep = tf.logical_not(skip)
        lines, parts = tf.boolean_mask(lines, keep), tf.boolean_mask(parts, keep)
    blank = tf.equal(tf.strings.length(tf.strings.strip(lines)), 0)
    tokens = parts[:, token_column]
    if format == "wikiann":
        tokens = tf.strings.regex_replace(tokens, _LANGUAGE_PREFIX, "")
    return blank, tokens, parts[:, tag_column]


def _cut_sentences(carry, rows):
    """Scan step: cut a chunk of rows into the sentences it completes.

    Args:
        carry: (tokens, tags) ``string[c]`` of the sentence still open from before.
        rows: (blank ``bool[b]``, token ``string[b]``, tag ``string[b]``).

    Returns:
        The new carry (the chunk's unfinished sentence) and the completed sentences
        as ``{"tokens", "tags"}`` ragged ``string[s, None]`` (some possibly empty).
    """
    carry_tokens, carry_tags = carry
    blank, tokens, tags = rows
    blank = tf.concat([tf.zeros_like(carry_tokens, tf.bool), blank], 0)
    tokens = tf.concat([carry_tokens, tokens], 0)
    tags = tf.concat([carry_tags, tags], 0)
    sentence = tf.cumsum(tf.cast(blank, tf.int64))
    n_complete = sentence[-1] if tf.size(sentence) > 0 else tf.constant(0, tf.int64)
    word = tf.logical_not(blank)
    done = word & (sentence < n_complete)
    still_open = word & (sentence == n_complete)

    def ragged(values):
        return tf.RaggedTensor.from_value_rowids(tf.boolean_mask(values, done),
                                                 tf.boolean_mask(sentence, done), nrows=n_complete)

    new_carry = (tf.boolean_mask(tokens, still_open), tf.boolean_mask(tags, still_open))
    return new_carry, {"tokens": ragged(tokens), "tags": ragged(tags)}


# ---------------------------------------------------------------------- parallel text
def parallel_lines(source_paths: Paths, target_paths: Paths,
                   encoding_errors: str = "replace") -> tf.data.Dataset:
    """Line-aligned source/target files (e.g. Multi30k) as ``(source, target)`` strings.

    Raises:
        DataError: a file is missing/empty, or the two sides have different numbers
            of lines (naming the shorter file and the first line it lacks).
    """
    sources, source_invalid, source_counts = _checked_files(source_paths, encoding_errors)
    targets, target_invalid, target_counts = _checked_files(target_paths, encoding_errors)
    pairs = (list(zip(sources, source_counts, targets, target_counts))
             if len(sources) == len(targets) else
             [(sources[-1], sum(source_counts), targets[-1], sum(target_counts))])
    for source, n_source, target, n_target in pairs:
        if n_source != n_target:
            shorter = source if n_source < n_target else target
            raise DataError(shorter, min(n_source, n_target) + 1,
                            f"parallel files differ in length: {source} has {n_source} lines, "
                            f"{target} has {n_target}")
    return tf.data.Dataset.zip((_line_dataset(sources, source_invalid),
                                _line_dataset(targets, target_invalid)))


# ---------------------------------------------------------------------- labelled text
MISSING_VALUES = frozenset({"", "na", "nan", "n/a", "null", "none"})


def _column_index(column: int | str, header: list[str] | None, path: pathlib.Path) -> int:
    if isinstance(column, int):
        return column
    if header is None:
        raise ValueError(f"column {column!r} is a name but the file has no header: use an index")
    if column not in header:
        raise DataError(path, 1, f"missing column {column!r}; the header has {header}")
    return header.index(column)


def _csv_rows(path: pathlib.Path, delimiter: str, quoting: bool, encoding_errors: str):
    """Yield ``(line_number, fields)`` with RFC-4180 quoting or a plain split."""
    stream = io.TextIOWrapper(validation.open_binary(path), encoding="utf-8",
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
    rows = _csv_rows(path, delimiter, quoting, encoding_errors)
    names = None
    if header:
        _, names = next(rows)
    if split_on_last:
        text_index, label_index, width = 0, 1, None
    else:
        text_index = _column_index(text_column, names, path)
        label_index = _column_index(label_column, names, path)
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

    lines = _line_dataset([path], [invalid])
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

    return lines.batch(_PARSE_CHUNK).map(split, num_parallel_calls=tf.data.AUTOTUNE).unbatch()


_PARSE_CHUNK = 4096


# ---------------------------------------------------------------------- time series
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
    rows = _csv_rows(path, ",", True, encoding_errors)
    _, names = next(rows)
    feature_index = [_column_index(c, names, path) for c in feature_columns]
    time_index = None if time_column is None else _column_index(time_column, names, path)
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
    records = tf.data.experimental.CsvDataset(
        str(path), [tf.constant("", tf.string)] * len(wanted), header=True,
        compression_type="GZIP" if validation.is_gzip(path) else "", select_cols=wanted)

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


# ---------------------------------------------------------------------- interaction logs
def interaction_log(path: PathLike, user_column: int = 0, item_column: int = 1,
                    time_column: int = 3, delimiter: str = "\t", header: bool = False,
                    encoding_errors: str = "replace", max_events_in_memory: int = 1 << 22) -> tf.data.Dataset:
    """Per-user chronological item sequences from a ``user item … time`` log.

    MovieLens ``u.data`` (``user<TAB>item<TAB>rating<TAB>unix_time``) is the default
    layout. Users come out in increasing id order; within a user, items are sorted
    by time (ties keep file order).

    Memory: a user's sequence is complete only at the end of an unsorted log, so
    grouping must hold events. It is bounded: the checking pass counts the events
    of each user (memory proportional to the number of users), then the users are
    cut into ranges of consecutive ids holding at most `max_events_in_memory`
    events each (a single larger user gets a range of its own), and each range is
    one pass over the file that keeps only its users' (user, time, item) int64
    triples, sorts them and emits them. A log that fits (MovieLens 100K: 1e5
    events) is read once; a larger one is read once per range.

    Returns:
        `tf.data.Dataset` of ``{"user": int64[], "items": int64[n], "times": int64[n]}``.

    Raises:
        DataError: missing/empty file, too few fields, or a non-integer id/time.
    """
    (path,) = expand_paths(path)
    validation.scan_text_file(path, encoding_errors)
    columns = {"user": user_column, "item": item_column, "time": time_column}
    rows = _csv_rows(path, delimiter, False, encoding_errors)
    if header:
        next(rows)
    events_per_user: collections.Counter = collections.Counter()
    for line, fields in rows:
        if fields == [""]:
            continue
        for name, index in columns.items():
            if index >= len(fields):
                raise DataError(path, line, f"expected at least {max(columns.values()) + 1} fields, found {len(fields)}")
            if not fields[index].strip().lstrip("-").isdigit():
                raise DataError(path, line, f"{name} must be an integer, found {fields[index]!r}")
        events_per_user[int(fields[user_column])] += 1

    lines = _line_dataset([path], [False])
    if header:
        lines = lines.skip(1)
    picked = [user_column, time_column, item_column]

    def parse(lines):
        lines = tf.strings.strip(lines)
        lines = tf.boolean_mask(lines, tf.strings.length(lines) > 0)
        fields = tf.strings.split(lines, delimiter).to_tensor("")
        return tf.strings.to_number(tf.gather(fields, picked, axis=1), tf.int64)

    log = lines.batch(_PARSE_CHUNK).map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    ranges = _user_ranges(events_per_user, max_events_in_memory)

    def users_in(first, last):
        """One pass: the (user, time, item) triples of users first..last as one int64[n, 3], one sort."""
        mine = log.map(lambda t: tf.boolean_mask(t, (t[:, 0] >= first) & (t[:, 0] <= last)))
        return mine.unbatch().batch(tf.int64.max).flat_map(_user_sequences)

    if len(ranges) == 1:
        return log.unbatch().batch(tf.int64.max).flat_map(_user_sequences)
    return tf.data.Dataset.from_tensor_slices(np.array(ranges, np.int64)).flat_map(lambda r: users_in(r[0], r[1]))


def _user_ranges(events_per_user: dict[int, int], budget: int) -> list[tuple[int, int]]:
    """Consecutive user-id ranges with at most `budget` events each (or one user)."""
    ranges, first, held = [], None, 0
    for user in sorted(events_per_user):
        count = events_per_user[user]
        if first is not None and held + count > budget:
            ranges.append((first, previous))
            first, held = None, 0
        if first is None:
            first = user
        held += count
        previous = user
    if first is not None:
        ranges.append((first, previous))
    return ranges or [(0, 0)]


def _user_sequences(log: tf.Tensor) -> tf.data.Dataset:
    """``int64[N, 3]`` (user, time, item) → one element per user, sorted by user id."""
    by_time = tf.argsort(log[:, 1], stable=True)
    log = tf.gather(log, by_time)
    log = tf.gather(log, tf.argsort(log[:, 0], stable=True))
    users, user_row = tf.unique(log[:, 0])
    items = tf.RaggedTensor.from_value_rowids(log[:, 2], tf.cast(user_row, tf.int64))
    times = tf.RaggedTensor.from_value_rowids(log[:, 1], tf.cast(user_row, tf.int64))
    return tf.data.Dataset.from_tensor_slices({"user": users, "items": items, "times": times})


# ---------------------------------------------------------------------- TFDS
def tfds_source(name: str, split: str = "train", keys: Sequence[str] | None = None,
                data_dir: PathLike | None = None, download: bool = False,
                shuffle_files: bool = False) -> tf.data.Dataset:
    """A TensorFlow Datasets split, with elements shaped like the file sources.

    Args:
        name: a TFDS name, with config if any (``"imdb_reviews"``, ``"glue/sst2"``);
            a leading ``"tfds:"`` is accepted.
        split: a TFDS split expression (``"train"``, ``"train[:90%]"``).
        keys: feature names to return as a tuple, e.g. ``("sentence", "label")``
            gives ``(text, label)`` pairs like `labelled_text`. None returns the
            supervised ``(input, target)`` pair when the dataset defines one, else
            the feature dict.
        data_dir: TFDS data directory (default: TFDS's own).
        download: allow downloading (off by default: offline machines).

    Raises:
        DataError: unknown dataset name, unknown feature key, or data not prepared.
    """
    import tensorflow_datasets as tfds  # heavy import, only for tfds: specs

    name = name.removeprefix("tfds:")
    spec = f"tfds:{name}"
    try:
        builder_names = tfds.list_builders(with_community_datasets=False)
    except TypeError:  # older TFDS
        builder_names = tfds.list_builders()
    if name.split("/")[0].split(":")[0] not in builder_names:
        raise DataError(spec, None, "unknown TensorFlow Datasets name; see tfds.list_builders()")
    try:
        dataset, info = tfds.load(name, split=split, data_dir=None if data_dir is None else str(data_dir),
                                  download=download, with_info=True, shuffle_files=shuffle_files,
                                  as_supervised=keys is None)
    except (tfds.core.registered.DatasetNotFoundError, AssertionError, FileNotFoundError,
            ValueError) as error:
        raise DataError(spec, None, f"cannot load split {split!r}: {error}") from None
    if keys is None:
        return dataset
    missing = [k for k in keys if k not in dataset.element_spec]
    if missing:
        raise DataError(spec, None, f"unknown feature(s) {missing}; features are {sorted(dataset.element_spec)}")
    return dataset.map(lambda features: tuple(features[k] for k in keys),
                       num_parallel_calls=tf.data.AUTOTUNE)


# ---------------------------------------------------------------------- dispatcher
SOURCE_KINDS = ("lines", "characters", "conll", "parallel", "labelled", "time_series", "interactions")


def source_from_spec(spec: str, data_dir: PathLike | None = None, kind: str = "lines",
                     **options) -> tf.data.Dataset:
    """Build a source from a pipeline-spec string.

    ``"tfds:NAME"`` goes to `tfds_source` (options: split, keys, …). Any other spec
    is a file name or glob relative to the data directory (see `paths`), read by the
    source named by `kind` (``"lines"`` → `text_lines`, ``"characters"``,
    ``"conll"``, ``"parallel"`` (spec = source files, ``target=`` option),
    ``"labelled"``, ``"time_series"``, ``"interactions"``), passing `options` on.

    Example:
        >>> source_from_spec("ud_en_ewt/en_ewt-ud-dev.conllu.gz", kind="conll",
        ...                  format="conllu")                     # doctest: +SKIP
    """
    if spec.startswith("tfds:"):
        return tfds_source(spec, **options)
    path = resolve_path(spec, data_dir)
    if kind == "lines":
        return text_lines(path, **options)
    if kind == "characters":
        return text_characters(path, **options)
    if kind == "conll":
        return conll_sentences(path, **options)
    if kind == "parallel":
        target = resolve_path(options.pop("target"), data_dir)
        return parallel_lines(path, target, **options)
    if kind == "labelled":
        return labelled_text(path, **options)
    if kind == "time_series":
        return time_series_csv(path, **options)
    if kind == "interactions":
        return interaction_log(path, **options)
    raise ValueError(f"kind must be one of {SOURCE_KINDS}, received {kind!r}")
