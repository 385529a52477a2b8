"""Tagging data: CoNLL-style files → sentences (tags converted) → vocabularies → id batches.

The sentences are read with `seqkeras.data.conll_sentences` (malformed lines raise
`DataError` with file and line) and held in memory as Python lists (the corpora
are ≤ a few hundred thousand tokens): the tag-scheme conversion is the pure
`schemes.convert`, and the vocabularies are counted on the training split only.
Batches come from `seqkeras.data.tagging_batches` (length-bucketed, character ids
per token) as ``({"tokens": int64[B, T], "chars": int64[B, T, C]}, tags int32[B, T])``.

Files of a run (next to the runner's ``vocabulary.txt``): ``vocabulary.txt`` (words),
``characters.txt``, ``tags.txt`` — loaded instead of rebuilt when present, so that
evaluation and export use the training run's ids.
"""

from __future__ import annotations

import collections
import os
import pathlib

import tensorflow as tf

from seqkeras.data import DataError, Vocabulary, conll_sentences, resolve_path, tagging_batches
from seqkeras.pipeline.data import Data
from seqkeras.tagging.schemes import convert

Sentence = tuple[list[str], list[str]]


def read_sentences(path: str | os.PathLike, format: str, token_column: int = -1, tag_column: int = -1
                   ) -> list[Sentence]:
    """All sentences of a column file as ``(tokens, tags)`` lists of str."""
    dataset = conll_sentences(str(path), format=format,
                              token_column=None if token_column < 0 else token_column,
                              tag_column=None if tag_column < 0 else tag_column)
    out = []
    for s in dataset.as_numpy_iterator():
        out.append(([t.decode("utf-8", "replace") for t in s["tokens"]],
                    [t.decode("utf-8", "replace") for t in s["tags"]]))
    return out


def to_dataset(sentences: list[Sentence]) -> tf.data.Dataset:
    """Sentences → ``{"tokens": string[n], "tags": string[n]}`` elements (as `conll_sentences`)."""
    lengths = [len(tokens) for tokens, _ in sentences]
    flat_tokens = [t for tokens, _ in sentences for t in tokens]
    flat_tags = [t for _, tags in sentences for t in tags]
    ragged = lambda flat: tf.RaggedTensor.from_row_lengths(tf.constant(flat, tf.string),  # noqa: E731
                                                            tf.constant(lengths, tf.int64))
    return tf.data.Dataset.from_tensor_slices({"tokens": ragged(flat_tokens), "tags": ragged(flat_tags)})


def tag_inventory(*splits: list[Sentence]) -> list[str]:
    """The tag set in class-index order: ``O`` first (when present), then sorted."""
    tags = {t for split in splits for _, sentence_tags in split for t in sentence_tags}
    return (["O"] if "O" in tags else []) + sorted(tags - {"O"})


def _save_list(items: list[str], path: pathlib.Path) -> None:
    path.write_text("".join(item + "\n" for item in items), encoding="utf-8")


def _load_list(path: pathlib.Path) -> list[str]:
    items = path.read_text(encoding="utf-8").split("\n")[:-1]
    if not items:
        raise DataError(path, None, "empty tag list")
    return items


def build_data(spec, data_dir=None, vocabulary_path: str | os.PathLike | None = None) -> Data:
    """Read, convert, count, batch.

    Args:
        spec: a `seqkeras.tagging.Spec`.
        data_dir: the data directory; None = `resolve_data_dir()`.
        vocabulary_path: the word vocabulary file of the run (``characters.txt`` and
            ``tags.txt`` sit beside it); loaded when present, written otherwise.

    Returns:
        `Data` with ``train`` / ``validation`` batches, ``tokenizer`` = the word
        `Vocabulary`, and ``info``: ``tags`` (list), ``char_vocabulary``,
        ``vocabulary_size``, ``num_tags``, sentence and token counts.
    """
    d, t = spec.data, spec.training
    train_path = resolve_path(d.train, data_dir)
    train = read_sentences(train_path, d.format, d.token_column, d.tag_column)
    if not train:
        raise DataError(train_path, None, "the training file has no sentences")
    if d.validation:
        validation = read_sentences(resolve_path(d.validation, data_dir), d.format, d.token_column, d.tag_column)
    else:
        keep = len(train) - max(1, int(round(len(train) * d.validation_fraction)))
        train, validation = train[:keep], train[keep:]
    if d.tag_format != d.tag_scheme:
        train = [(tokens, convert(tags, d.tag_format, d.tag_scheme)) for tokens, tags in train]
        validation = [(tokens, convert(tags, d.tag_format, d.tag_scheme)) for tokens, tags in validation]

    folder = pathlib.Path(vocabulary_path).parent if vocabulary_path is not None else None
    if vocabulary_path is not None and pathlib.Path(vocabulary_path).is_file():
        words = Vocabulary.load(vocabulary_path)
        chars = Vocabulary.load(folder / "characters.txt")
        tags = _load_list(folder / "tags.txt")
    else:
        word_counts = collections.Counter(w.lower() if d.lowercase else w for tokens, _ in train for w in tokens)
        char_counts = collections.Counter(c for tokens, _ in train for w in tokens for c in w[:d.max_word_length])
        words = Vocabulary.from_counts(word_counts, d.min_count, d.max_vocabulary or None)
        chars = Vocabulary.from_counts(char_counts)
        tags = tag_inventory(train, validation)
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            words.save(vocabulary_path)
            chars.save(folder / "characters.txt")
            _save_list(tags, folder / "tags.txt")
    unknown = {tag for _, ts in train + validation for tag in ts} - set(tags)
    if unknown:
        raise DataError(train_path, None, f"tags {sorted(unknown)} are not in the run's tags.txt")

    # Character ids are always in the batches (a model without character features
    # ignores them), so tuning can switch `model.char_features` on the same data.
    def batches(sentences, shuffle):
        dataset = tagging_batches(to_dataset(sentences), words, tags, t.batch_size,
                                  char_vocabulary=chars, max_word_length=d.max_word_length,
                                  lowercase=d.lowercase, shuffle_buffer=len(sentences) if shuffle else None,
                                  seed=t.seed)
        return dataset

    train_batches = batches(train, shuffle=True)
    if t.steps_per_epoch:
        train_batches = train_batches.repeat()
    return Data(train=train_batches, validation=batches(validation, shuffle=False), tokenizer=words,
                info={"tags": tags, "num_tags": len(tags), "char_vocabulary": chars,
                      "vocabulary_size": len(words), "char_vocabulary_size": len(chars),
                      "train_sentences": len(train), "validation_sentences": len(validation),
                      "train_tokens": sum(len(s[0]) for s in train),
                      "validation_tokens": sum(len(s[0]) for s in validation)})
