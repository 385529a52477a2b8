"""UEA/UCR ``.ts`` source: variable-length multivariate series, one labelled case a line.

The format (sktime / aeon, the UEA & UCR archive)::

    # comment lines
    @problemName JapaneseVowels
    @dimensions 12
    @equalLength false
    @missing false
    @classLabel true 1 2 3 4 5 6 7 8 9
    @data
    1.86,1.89,1.94:-0.21,-0.19,-0.24: … :0.09,0.09,0.07:1

After ``@data`` each line is one case: its D dimensions separated by ``:``, the values
of one dimension (one per time step) by ``,``, then the class label as the last
``:`` field. Every dimension of a case has the same length T; cases differ in T unless
``@equalLength true``. ``?`` is a missing value (read as NaN) where ``@missing true``.

`ts_series` checks every line in Python first (one pass, the file is small), so a bad
line is a `DataError` naming file and line, then parses with tf.data ops.

Not supported (a `DataError` says so): ``@timeStamps true`` (``(t,v)`` pairs) and
regression targets (``@targetLabel true``).

Example:
    >>> for case in ts_series("JapaneseVowels_TRAIN.ts").take(1):     # doctest: +SKIP
    ...     case["frames"].shape, case["label"].numpy()
    (TensorShape([20, 12]), b'1')
"""

from __future__ import annotations

import dataclasses
import math

import tensorflow as tf

from seqkeras.data import validation
from seqkeras.data.errors import DataError
from seqkeras.data.paths import expand_paths
from seqkeras.data.sources.common import PathLike, line_dataset

MISSING = "?"


@dataclasses.dataclass(frozen=True)
class TsHeader:
    """What a ``.ts`` file declares before ``@data``, and what its cases hold.

    Attributes:
        problem: ``@problemName`` ("" when absent).
        dimensions: D, values per time step (``@dimensions``, else the first case's).
        class_labels: the ``@classLabel`` labels in declared order (() for unlabelled data).
        equal_length: ``@equalLength``.
        missing: ``@missing``: ``?`` values are allowed.
        data_line: the 1-based line number of ``@data``.
        cases: the number of cases.
        lengths: T of each case, in file order.
    """

    problem: str
    dimensions: int
    class_labels: tuple[str, ...]
    equal_length: bool
    missing: bool
    data_line: int
    cases: int
    lengths: tuple[int, ...]


def _flag(path, line, key, value) -> bool:
    if value.lower() not in ("true", "false"):
        raise DataError(path, line, f"{key} must be true or false, found {value!r}")
    return value.lower() == "true"


def _number(text: str, missing: bool) -> str | None:
    """None when `text` is a finite number (or an allowed ``?``), else the problem."""
    text = text.strip()
    if text == MISSING:
        return None if missing else "'?' (a missing value) but the header says @missing false"
    try:
        value = float(text)
    except ValueError:
        return f"{text!r} is not a number"
    return None if math.isfinite(value) else f"{text!r} is not a finite number"


def ts_header(path: PathLike, encoding_errors: str = "strict") -> TsHeader:
    """Read and check a whole ``.ts`` file; return its `TsHeader`.

    Raises:
        DataError: empty file, no ``@data`` line, an unsupported header, or a case with
            the wrong number of dimensions, dimensions of unequal length, an empty
            dimension, a non-number, or a label not in ``@classLabel``, naming file and line.
    """
    (path,) = expand_paths(path)
    validation.scan_text_file(path, encoding_errors)
    problem, dimensions, labels, labelled = "", None, (), None
    equal_length, missing, data_line = False, False, None
    lengths: list[int] = []
    for number, text in validation.iter_lines(path, encoding_errors):
        line = text.strip()
        if not line or line.startswith("#"):
            continue
        if data_line is None:
            if not line.startswith("@"):
                raise DataError(path, number, f"a case before the @data line: {line[:40]!r}")
            key, _, value = line.partition(" ")
            key, value = key.lower(), value.strip()
            words = value.split()
            if key == "@problemname":
                problem = value
            elif key == "@dimensions":
                if not value.isdigit() or int(value) < 1:
                    raise DataError(path, number, f"@dimensions must be a positive integer, found {value!r}")
                dimensions = int(value)
            elif key == "@equallength":
                equal_length = _flag(path, number, key, value)
            elif key == "@missing":
                missing = _flag(path, number, key, value)
            elif key == "@timestamps":
                if _flag(path, number, key, value):
                    raise DataError(path, number, "@timeStamps true ((t,v) pairs) is not supported")
            elif key == "@targetlabel":
                if words and _flag(path, number, key, words[0]):
                    raise DataError(path, number, "@targetLabel true (regression targets) is not supported")
            elif key == "@classlabel":
                labelled = _flag(path, number, key, words[0] if words else "")
                labels = tuple(words[1:])
                if labelled and not labels:
                    raise DataError(path, number, "@classLabel true names no labels")
                if len(set(labels)) != len(labels):
                    raise DataError(path, number, f"@classLabel repeats a label: {' '.join(labels)}")
            elif key == "@data":
                data_line = number
            # Other headers (@univariate, @seriesLength, ...) carry nothing the reader needs.
            continue
        if line.startswith("@"):
            raise DataError(path, number, f"a header line after @data: {line[:40]!r}")
        fields = line.split(":")
        if labelled:
            *series, label = fields
            if label.strip() not in labels:
                raise DataError(path, number, f"label {label.strip()!r} is not in @classLabel ({' '.join(labels)})")
        else:
            series = fields
        if dimensions is None:
            dimensions = len(series)
        if len(series) != dimensions:
            raise DataError(path, number, f"expected {dimensions} dimensions{' and a label' if labelled else ''} "
                            f"separated by ':', found {len(series)}{' and a label' if labelled else ''}")
        length = None
        for d, values in enumerate(series, 1):
            values = values.split(",")
            if values == [""] or values == [" "]:
                raise DataError(path, number, f"dimension {d} is empty")
            if length is None:
                length = len(values)
            elif len(values) != length:
                raise DataError(path, number, f"dimension {d} has {len(values)} values but dimension 1 has "
                                f"{length}: every dimension of a case must have the same length")
            for step, value in enumerate(values, 1):
                problem_text = _number(value, missing)
                if problem_text is not None:
                    raise DataError(path, number, f"dimension {d}, value {step}: {problem_text}")
        if equal_length and lengths and length != lengths[0]:
            raise DataError(path, number, f"a case of length {length} but @equalLength true and the first "
                            f"case has {lengths[0]}")
        lengths.append(length)
    if data_line is None:
        raise DataError(path, None, "no @data line: not a .ts file (the header must end with @data)")
    if not lengths:
        raise DataError(path, data_line, "no case after @data")
    if labelled is None:
        labelled = False
    return TsHeader(problem=problem, dimensions=dimensions, class_labels=labels if labelled else (),
                    equal_length=equal_length, missing=missing, data_line=data_line, cases=len(lengths),
                    lengths=tuple(lengths))


def ts_series(path: PathLike, encoding_errors: str = "strict") -> tf.data.Dataset:
    """The cases of a ``.ts`` file, in file order.

    Args:
        path: a ``.ts`` file (plain or ``.gz``).
        encoding_errors: ``"strict"`` (invalid UTF-8 is a `DataError`) or ``"replace"``.

    Returns:
        `tf.data.Dataset` of ``{"frames": float32[T, D], "label": string[]}`` (T varies;
        a missing ``?`` value is NaN; ``label`` is "" for unlabelled data). The header
        (labels, D, lengths) is `ts_header`.

    Raises:
        DataError: see `ts_header`.
    """
    header = ts_header(path, encoding_errors)
    (path,) = expand_paths(path)
    _, invalid = validation.scan_text_file(path, encoding_errors)
    labelled = bool(header.class_labels)
    dimensions = header.dimensions
    lines = line_dataset([path], [invalid]).skip(header.data_line)
    lines = lines.map(tf.strings.strip).filter(
        lambda line: (tf.strings.length(line) > 0) & ~tf.strings.regex_full_match(line, "#.*"))

    def parse(line):
        fields = tf.strings.split(line, ":")
        series = fields[:dimensions]
        values = tf.strings.strip(tf.strings.split(series, ","))             # ragged [D, T]
        text = values.to_tensor("")
        numbers = tf.where(text == MISSING, tf.constant(math.nan, tf.float32),
                           tf.strings.to_number(tf.where(text == MISSING, "0", text), tf.float32))
        label = fields[dimensions] if labelled else tf.constant("")
        return {"frames": tf.transpose(numbers), "label": tf.strings.strip(label)}

    return lines.map(parse, num_parallel_calls=tf.data.AUTOTUNE)
