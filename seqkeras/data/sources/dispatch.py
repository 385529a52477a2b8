"""Source dispatcher: build a source from a pipeline-spec string and a source kind."""

from __future__ import annotations

import tensorflow as tf

from seqkeras.data.paths import resolve_path
from seqkeras.data.sources.common import PathLike
from seqkeras.data.sources.conll import conll_sentences
from seqkeras.data.sources.interactions import interaction_log
from seqkeras.data.sources.labelled import labelled_text
from seqkeras.data.sources.parallel import parallel_lines
from seqkeras.data.sources.text import text_characters, text_lines
from seqkeras.data.sources.tfds import tfds_source
from seqkeras.data.sources.time_series import time_series_csv

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
