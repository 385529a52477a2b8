"""Language-model data: corpus lines → tokenizer + vocabulary → id streams → BPTT windows."""

from __future__ import annotations

import atexit
import dataclasses
import importlib.resources
import os
import pathlib
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from seqkeras.data import (CharacterTokenizer, DataError, WordTokenizer, language_model_windows, load_or_fit,
                           resolve_path, text_lines, token_stream)
from seqkeras.data.builders.language_model import collect_ids
from seqkeras.data.id_file import IdFile, fingerprint, open_id_file, write_id_file
from seqkeras.data.sources.file_set import file_lines, split_files
from seqkeras.data.sources.labelled import csv_column
from seqkeras.data.vocabulary import EOS, PAD, UNK
from seqkeras.language_model.spec import DISK_IDS_ABOVE_BYTES
from seqkeras.pipeline.data import Data
from seqkeras.pipeline.run_paths import VOCABULARY_FILE

PACKAGE_PREFIX = "package:"
# ``file#column``: the lines are that column of a CSV file with a header (`csv_column`).
COLUMN_SEPARATOR = "#"
# The training ids when they live on disk (`seqkeras.data.id_file`), in the run directory.
TRAIN_IDS_FILE = "train_ids.bin"


def resolve_corpus(name: str, data_dir: str | os.PathLike | None = None) -> str:
    """A spec's corpus name → a path: ``package:NAME`` is a corpus shipped in
    ``seqkeras/corpora/`` (e.g. ``package:tinyshakespeare.txt.gz``); other names are
    relative to the data directory (see `seqkeras.data.resolve_path`).
    """
    if name.startswith(PACKAGE_PREFIX):
        path = importlib.resources.files("seqkeras") / "corpora" / name[len(PACKAGE_PREFIX):]
        if not path.is_file():
            raise DataError(str(path), None, f"no corpus {name!r} ships with seqkeras")
        return str(path)
    return str(resolve_path(name, data_dir))


@dataclasses.dataclass(kw_only=True)
class LanguageModelData(Data):
    """BPTT windows of one corpus and what the model, evaluation and export need.

    Attributes:
        train, validation: ``(inputs int32[B, T], targets int32[B, T])`` windows over B
            parallel streams (row b of window i+1 continues row b of window i).
        tokenizer: the fitted tokenizer (holding its `Vocabulary`).
        vocabulary_size: V, reserved tokens included.
        train_tokens, validation_tokens: the lengths of the two id streams.
        validation_ids: the validation id stream, int32[N] (whole-stream evaluation).
        level: ``"word"`` or ``"char"`` (which metric is the headline).
    """

    tokenizer: WordTokenizer | CharacterTokenizer
    vocabulary_size: int
    train_tokens: int
    validation_tokens: int
    validation_ids: np.ndarray
    level: str


def make_tokenizer(spec) -> "WordTokenizer | CharacterTokenizer":
    """The tokenizer the spec's ``[data]`` section describes (no vocabulary yet)."""
    add_eos = spec.data.newline == "eos"
    if spec.data.tokenizer == "character":
        return CharacterTokenizer(lowercase=spec.data.lowercase, add_eos=add_eos)
    return WordTokenizer(lowercase=spec.data.lowercase, treebank=spec.data.tokenizer == "treebank", add_eos=add_eos)


def reserved_tokens(spec) -> tuple:
    return (PAD, UNK, EOS) if spec.data.newline == "eos" else (PAD, UNK)


def split_column(name: str) -> tuple[str, str | None]:
    """A spec's corpus name → (file name, CSV column or None): ``"imdb/train.csv.gz#text"``
    → ``("imdb/train.csv.gz", "text")``; a name without ``#`` has no column."""
    name, _, column = name.partition(COLUMN_SEPARATOR)
    return name, column or None


def _lines(spec, path: str | None = None, lines: tf.data.Dataset | None = None,
           column: str | None = None) -> tf.data.Dataset:
    """The lines of `path` (the CSV `column` of it, when given) or the given `lines`, with
    ``"\\n"`` appended for ``newline = "char"``."""
    if lines is None:
        lines = text_lines(path) if column is None else csv_column(path, column)
    if spec.data.newline == "char":
        lines = lines.map(lambda line: line + "\n", num_parallel_calls=tf.data.AUTOTUNE)
    return lines


def stream_windows(ids: np.ndarray, batch_size: int, bptt_length: int, partial: bool = True):
    """Yield (inputs, targets) int32 [B, ≤T] windows over `batch_size` parallel streams,
    the last one shorter when `partial` (so every predictable token of the streams is
    scored once: the whole-stream metric of the literature). Only the < B tokens left
    over by cutting N into B equal streams are not scored.
    """
    ids = np.asarray(ids, np.int32)
    length = len(ids) // batch_size
    if length < 2:
        raise ValueError(f"{len(ids)} tokens are too few for {batch_size} streams")
    streams = ids[: batch_size * length].reshape(batch_size, length)
    for start in range(0, length - 1, bptt_length):
        stop = min(start + bptt_length, length - 1)
        if stop - start < bptt_length and not partial:
            break
        yield streams[:, start:stop], streams[:, start + 1:stop + 1]


def ids_on_disk(spec, train_files) -> bool:
    """Whether the training ids go to disk (``data.train_ids``; "auto": a corpus larger
    than `DISK_IDS_ABOVE_BYTES`, whose int32 ids would take about as much memory)."""
    if spec.data.train_ids != "auto":
        return spec.data.train_ids == "disk"
    return sum(os.path.getsize(path) for path in train_files) > DISK_IDS_ABOVE_BYTES


def disk_ids(spec, train_lines: tf.data.Dataset, tokenizer, train_files,
             run_dir: pathlib.Path | None) -> IdFile:
    """The training ids in ``run_dir / TRAIN_IDS_FILE``: reused when written from the same
    files, data options and vocabulary, else written in one streaming pass (without a
    run directory: in a temporary one, removed at exit)."""
    if run_dir is None:
        run_dir = pathlib.Path(tempfile.mkdtemp(prefix="seqkeras_ids_"))
        atexit.register(shutil.rmtree, run_dir, True)
    path = pathlib.Path(run_dir) / TRAIN_IDS_FILE
    digest = fingerprint(train_files, dataclasses.asdict(spec.data), tokenizer.vocabulary.tokens)
    return open_id_file(path, digest) or write_id_file(token_stream(train_lines, tokenizer), path,
                                                      len(tokenizer.vocabulary), digest)


def build_data(spec, data_dir: str | os.PathLike | None = None,
               run_dir: pathlib.Path | None = None) -> LanguageModelData:
    """Read the corpus, build or load the vocabulary, cut the BPTT windows.

    Args:
        spec: a `seqkeras.language_model.Spec`.
        data_dir: the data directory (``--data-dir``); None = `resolve_data_dir()`.
        run_dir: the run directory: the vocabulary is loaded from
            ``run_dir / "vocabulary.txt"`` if present (so that evaluation, export and
            generation use the training run's ids), else built and saved there;
            None = build it and save nothing.

    Returns:
        `LanguageModelData`.
    """
    t = spec.training
    tokenizer = make_tokenizer(spec)
    files = spec.data.files
    if files.root:
        # A directory of text files split by file: no validation file is trained on.
        split = split_files(files, spec.data.validation_fraction, data_dir)
        train_path = str(split.root)
        train_lines = _lines(spec, lines=file_lines(split.train, files.encoding_errors))
        validation_lines = _lines(spec, lines=file_lines(split.validation, files.encoding_errors))
    else:
        train_name, train_column = split_column(spec.data.train)
        train_path = resolve_corpus(train_name, data_dir)
        train_lines = _lines(spec, train_path, column=train_column)
        if spec.data.validation:
            validation_name, validation_column = split_column(spec.data.validation)
            validation_lines = _lines(spec, resolve_corpus(validation_name, data_dir), column=validation_column)
        else:
            count = int(train_lines.reduce(np.int64(0), lambda n, _: n + 1))
            keep = count - max(1, int(round(count * spec.data.validation_fraction)))
            validation_lines = train_lines.skip(keep)
            train_lines = train_lines.take(keep)
    vocabulary = load_or_fit(None if run_dir is None else pathlib.Path(run_dir) / VOCABULARY_FILE,
                             lambda: tokenizer.adapt(train_lines, min_count=spec.data.min_count,
                                                     max_size=spec.data.max_vocabulary or None,
                                                     reserved=reserved_tokens(spec)))
    if tokenizer.vocabulary is None:  # loaded, not adapted
        tokenizer.set_vocabulary(vocabulary)
    train_files = split.train if files.root else [train_path]
    if ids_on_disk(spec, train_files):
        train_ids = disk_ids(spec, train_lines, tokenizer, train_files, run_dir)
    else:
        train_ids = collect_ids(token_stream(train_lines, tokenizer))
    validation_ids = collect_ids(token_stream(validation_lines, tokenizer))
    if len(train_ids) == 0:
        raise DataError(train_path, None, "the training corpus has no tokens")
    if isinstance(train_ids, IdFile):
        train = train_ids.windows(t.batch_size, t.bptt_length)
    else:
        train = language_model_windows(train_ids, t.batch_size, t.bptt_length)
    if t.steps_per_epoch:
        train = train.repeat()
    validation = language_model_windows(validation_ids, t.batch_size, t.bptt_length)
    return LanguageModelData(train=train, validation=validation, tokenizer=tokenizer,
                             vocabulary_size=len(tokenizer.vocabulary), train_tokens=int(len(train_ids)),
                             validation_tokens=int(len(validation_ids)),
                             validation_ids=validation_ids, level=spec.data.level)
