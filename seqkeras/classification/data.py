"""Classification data: labelled files → (text, label) arrays → vocabulary → bucketed batches.

Files are read with `seqkeras.data.labelled_text`:

* ``format = "tsv"``: header line, tab-separated (SST-2);
* ``format = "csv"``: header line, RFC-4180 quoting (IMDB's ``id,rating,label,text``);
* ``format = "last_tab"``: no header; each line is split on its LAST tab and quotes
  are ordinary characters (the UCI sentiment-labelled sentences, whose lines hold
  stray double quotes); lines are split on ``\\n`` only.

A glob (``sentiment_labelled_sentences/*_labelled.txt``) reads every match, sorted.

Validation split when no validation file is given: a text goes to validation when
``fingerprint64(text) mod 10000 < validation_fraction · 10000``
(`tf.strings.to_hash_bucket_fast`, FarmHash: the same on every machine and run).
It needs no ids, keeps exact duplicate texts on one side (no leakage), and is
independent of the label, so each class gets ≈ that fraction (per-class counts in
`ClassificationData`).
"""

from __future__ import annotations

import dataclasses
import os
import pathlib

import numpy as np
import tensorflow as tf

from seqkeras.classification.pretrained import (CLASSIFIER_KEY, LANGUAGE_MODEL_KEY, PretrainedEncoder,
                                                 load_pretrained_encoder)
from seqkeras.data import DataError, WordTokenizer, classification_batches, labelled_text, load_or_fit
from seqkeras.data.paths import expand_paths, resolve_path
from seqkeras.encoders import load_word_vectors
from seqkeras.pipeline.data import Data
from seqkeras.pipeline.run_paths import VOCABULARY_FILE

HASH_BUCKETS = 10_000


def read_labelled(path: str | os.PathLike, format: str = "tsv", text_column: str = "sentence",
                  label_column: str = "label") -> tuple[np.ndarray, np.ndarray]:
    """Read one labelled file (or every file of a glob) into ``(texts, labels)`` byte arrays.

    Raises:
        DataError: missing/empty file, malformed row, missing label (file and line named).
    """
    texts, labels = [], []
    for file in expand_paths(path):
        if format == "last_tab":
            pairs = labelled_text(file, header=False, split_on_last=True)
        elif format == "csv":
            pairs = labelled_text(file, text_column, label_column, delimiter=",", quoting=True)
        elif format == "tsv":
            pairs = labelled_text(file, text_column, label_column, delimiter="\t")
        else:
            raise ValueError(f"Argument `format` must be 'tsv', 'csv' or 'last_tab', received {format!r}")
        for text, label in pairs.batch(8192):
            texts.append(text.numpy())
            labels.append(label.numpy())
    if not texts:
        raise DataError(str(path), None, "no labelled rows")
    labels = np.concatenate(labels)
    return np.concatenate(texts), np.char.strip(labels.astype(bytes))


def hash_split(texts: np.ndarray, fraction: float) -> np.ndarray:
    """Boolean [N]: True for the validation texts (deterministic fingerprint split)."""
    buckets = tf.strings.to_hash_bucket_fast(tf.constant(texts), HASH_BUCKETS).numpy()
    return buckets < int(round(fraction * HASH_BUCKETS))


def make_tokenizer(data_spec) -> WordTokenizer:
    """The word tokenizer of ``[data]`` (lower-casing, punctuation stripping or Treebank splitting), not yet adapted."""
    return WordTokenizer(lowercase=data_spec.lowercase, strip_punctuation=data_spec.strip_punctuation,
                         treebank=data_spec.tokenizer == "treebank")


def class_labels(data_spec, train_labels: np.ndarray) -> list[str]:
    """The label values in class-index order: the spec's, or the sorted distinct train labels."""
    if data_spec.labels:
        return list(data_spec.labels)
    return sorted(v.decode("utf-8") for v in np.unique(train_labels))


def _check_labels(path, labels: np.ndarray, known: list[str]) -> None:
    unknown = sorted(set(np.unique(labels).tolist()) - {k.encode() for k in known})
    if unknown:
        raise DataError(path, None, f"labels {[u.decode('utf-8', 'replace') for u in unknown]} are not "
                                    f"among the spec's data.labels {known}")


@dataclasses.dataclass(kw_only=True)
class ClassificationData(Data):
    """Batches of ``(ids int64[B, T], label int32[B])`` and what the model and export need.

    Attributes:
        tokenizer: the fitted `WordTokenizer` (vocabulary set).
        vocabulary_size: V, reserved tokens included.
        num_classes: C ≥ 2.
        labels: the C label values of the files, in class-index order.
        class_names: the C names the export returns (``data.class_names`` or `labels`).
        train_examples, validation_examples: examples per split.
        train_counts, validation_counts: ``{label: examples}`` per split.
        embeddings: float32[V, E] pretrained vectors (``model.pretrained_embeddings``), or None.
        pretrained_encoder: the source run's embedding and recurrent weights
            (``model.pretrained_language_model`` or ``model.pretrained_classifier``), or None.
        pretrained_words: vocabulary words (reserved tokens aside) found among the
            pretrained vectors or in the source run's vocabulary.
    """

    tokenizer: WordTokenizer
    vocabulary_size: int
    num_classes: int
    labels: list[str]
    class_names: list[str]
    train_examples: int
    validation_examples: int
    train_counts: dict[str, int] = dataclasses.field(default_factory=dict)
    validation_counts: dict[str, int] = dataclasses.field(default_factory=dict)
    embeddings: np.ndarray | None = None
    pretrained_encoder: PretrainedEncoder | None = None
    pretrained_words: int = 0

    def summary(self) -> dict[str, int | float | str | bool]:
        """The scalar facts plus ``train_count_<label>`` / ``validation_count_<label>``."""
        counts = {f"{split}_count_{label}": count
                  for split, per_label in (("train", self.train_counts), ("validation", self.validation_counts))
                  for label, count in per_label.items()}
        return {**super().summary(), **counts}


def build_data(spec, data_dir: str | os.PathLike | None = None,
               run_dir: pathlib.Path | None = None) -> ClassificationData:
    """Read, split, tokenize and batch a labelled corpus.

    Args:
        spec: a `seqkeras.classification.Spec`.
        data_dir: the data directory (``--data-dir``); None = `resolve_data_dir()`.
        run_dir: the run directory: the vocabulary is loaded from
            ``run_dir / "vocabulary.txt"`` if present (so that evaluation and export
            use the training run's ids), else built and saved there; None = build it
            and save nothing.

    Returns:
        `ClassificationData`: ``train`` / ``validation`` batches of
        ``(ids int64[B, T], label int32[B])`` (bucketed by length; train shuffled with
        ``training.seed``), the tokenizer, sizes, labels and per-class counts, and with
        ``model.pretrained_embeddings`` the ``embeddings`` matrix (`load_word_vectors`),
        with ``model.pretrained_language_model`` or ``model.pretrained_classifier`` the
        ``pretrained_encoder`` (read from that run's directory, found beside `run_dir`:
        `load_pretrained_encoder`).
    """
    d, t = spec.data, spec.training
    train_path = resolve_path(d.train, data_dir)
    texts, labels = read_labelled(train_path, d.format, d.text_column, d.label_column)
    if d.validation:
        validation_path = resolve_path(d.validation, data_dir)
        val_texts, val_labels = read_labelled(validation_path, d.format, d.text_column, d.label_column)
    else:
        validation_path = train_path
        held_out = hash_split(texts, d.validation_fraction)
        val_texts, val_labels = texts[held_out], labels[held_out]
        texts, labels = texts[~held_out], labels[~held_out]
    if len(texts) == 0 or len(val_texts) == 0:
        raise DataError(str(train_path), None, f"{len(texts)} training and {len(val_texts)} validation "
                                               f"examples: both splits need at least one")
    known = class_labels(d, labels)
    if len(known) < 2:
        raise DataError(str(train_path), None, f"a classifier needs ≥ 2 classes, found labels {known}")
    _check_labels(str(train_path), labels, known)
    _check_labels(str(validation_path), val_labels, known)

    tokenizer = make_tokenizer(d)
    vocabulary = load_or_fit(None if run_dir is None else pathlib.Path(run_dir) / VOCABULARY_FILE,
                             lambda: tokenizer.adapt(tf.data.Dataset.from_tensor_slices(texts),
                                                     min_count=d.min_count, max_size=d.max_vocabulary or None))
    if tokenizer.vocabulary is None:  # loaded, not adapted
        tokenizer.set_vocabulary(vocabulary)

    def batches(x, y, training):
        pairs = tf.data.Dataset.from_tensor_slices((x, y))
        return classification_batches(pairs, tokenizer, t.batch_size, labels=known,
                                      max_length=d.max_length or None, pool_batches=d.pool_batches or None,
                                      shuffle_buffer=d.shuffle_buffer if training else None,
                                      seed=t.seed, cache=True, length_weight=d.length_weight if training else 0.0)

    embeddings, pretrained_words = None, 0
    if spec.model.pretrained_embeddings:
        vectors = resolve_path(spec.model.pretrained_embeddings, data_dir)
        embeddings, pretrained_words = load_word_vectors(vectors, tokenizer.vocabulary, seed=t.seed)
        print(f"pretrained embeddings: {pretrained_words} of {len(tokenizer.vocabulary)} words found in {vectors}")
    pretrained_encoder = None
    runs = {LANGUAGE_MODEL_KEY: spec.model.pretrained_language_model, CLASSIFIER_KEY: spec.model.pretrained_classifier}
    key, target = next(((key, target) for key, target in runs.items() if target), (None, None))
    if key:
        work_dir = "runs" if run_dir is None else pathlib.Path(run_dir).parent
        pretrained_encoder = load_pretrained_encoder(key, target, work_dir, spec.source)
        words = [token for token in tokenizer.vocabulary.tokens if token not in tokenizer.vocabulary.reserved]
        pretrained_words = len(pretrained_encoder.shared_rows(words)[0])
        kind = pretrained_encoder.kind
        print(f"pretrained {kind}: {pretrained_words} of {len(words)} words found in the vocabulary of "
              f"{pretrained_encoder.source}")
        if pretrained_encoder.lowercase != d.lowercase:
            print(f"note: the {kind}'s corpus was {'' if pretrained_encoder.lowercase else 'not '}"
                  f"lower-cased, this classifier's is {'' if d.lowercase else 'not '}(data.lowercase)")
        if pretrained_encoder.tokenizer != d.tokenizer:
            print(f"note: the {kind}'s data.tokenizer is {pretrained_encoder.tokenizer!r}, this "
                  f"classifier's {d.tokenizer!r}: fewer of their words are shared")
    train = batches(texts, labels, training=True)
    if t.steps_per_epoch:
        train = train.repeat()
    return ClassificationData(
        train=train, validation=batches(val_texts, val_labels, training=False), tokenizer=tokenizer,
        vocabulary_size=len(tokenizer.vocabulary), num_classes=len(known), labels=known,
        class_names=list(d.class_names) or known,
        train_examples=int(len(texts)), validation_examples=int(len(val_texts)),
        train_counts={label: int(np.sum(labels == label.encode())) for label in known},
        validation_counts={label: int(np.sum(val_labels == label.encode())) for label in known},
        embeddings=embeddings, pretrained_encoder=pretrained_encoder, pretrained_words=int(pretrained_words))

