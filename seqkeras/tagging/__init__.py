"""Sequence tagging (POS, NER) with a BiRNN-CRF: the ``tagging`` application (issue #5).

The application's rooms, as `seqkeras.pipeline.registry` expects them:

* `Spec` (`spec.py`): ``[data]`` (CoNLL-U / CoNLL-2003 / WikiANN file, tag format in
  the file → tag scheme predicted), ``[model]``, ``[training]``, ``[tuning]``, ``[export]``.
* `build_data` (`data.py`): sentences → IOB1/IOB2/BIOES conversion (`schemes.py`) →
  word, character and tag vocabularies → length-bucketed id batches.
* `build_model` → `build_tagger` (`model.py`): word embedding (+ character BiRNN per
  word) → deep bidirectional seqkeras stack → CRF or softmax, compiled.
* `HyperModel`: the generic spec HyperModel; every ``model.*`` and ``training.*`` key
  is tunable (cell, units, layers, dropout, char_features, output, learning_rate).
  The tuning objective ``val_score`` is the real validation metric (`ValidationScore`).
* `evaluate`: token accuracy (POS) or conlleval span P/R/F1 via seqeval (NER), on the
  decoded (Viterbi) tags of the validation split (`metrics.py`).
* `export` (`export.py`): SavedModel with ``serving_default`` (sentences → tokens,
  tags, length) and ``tag_tokens`` (pre-tokenized → tags), versioned by `seqkeras.serving`.

Example:
    >>> from seqkeras.pipeline import load_spec, runner
    >>> report = runner.run(load_spec("pipelines/ud_ewt_pos.toml"))   # doctest: +SKIP
"""

from __future__ import annotations

import weakref

import keras
import numpy as np
import tensorflow as tf

from seqkeras.tagging import server
from seqkeras.pipeline.training import make_optimizer
from seqkeras.pipeline.tuning import SpecHyperModel
from seqkeras.tagging.data import build_data, read_sentences
from seqkeras.tagging.metrics import span_scores, token_accuracy
from seqkeras.tagging.model import (ArgmaxTags, CharacterFeatures, TokenMask, WordDropout, build_tagger,
                                    tagger_loss, tagger_model)
from seqkeras.tagging.schemes import convert
from seqkeras.tagging.spec import DataSpec, ModelSpec, Spec

__all__ = ["ArgmaxTags", "CharacterFeatures", "DataSpec", "HyperModel", "ModelSpec", "Spec", "TokenMask",
           "ValidationScore", "WordDropout", "build_data", "build_model", "build_tagger", "callbacks",
           "convert", "evaluate", "export", "predict_tags", "read_sentences", "span_scores", "tagger_loss",
           "tagger_model", "token_accuracy"]


class HyperModel(SpecHyperModel):
    """`SpecHyperModel` building `seqkeras.tagging.build_model` per trial.

    Every trial gets the same batches (character ids included), so
    ``model.char_features`` and ``model.output`` are tunable like any other key::

        [tuning.space]
        "model.cell" = ["lstm", "gru"]
        "model.units" = [64, 128]
        "model.layers" = [1, 2]
        "model.dropout" = [0.3, 0.5]
        "model.char_features" = [true, false]
        "model.output" = ["crf", "softmax"]
        "training.learning_rate" = {min = 1e-3, max = 5e-3, sampling = "log"}
    """


def build_model(spec, data) -> keras.Model:
    """The compiled tagger of `spec` for `data` (vocabulary sizes, tag count)."""
    m = spec.model
    keras.mixed_precision.set_global_policy("float32")
    model = build_tagger(
        data.info["vocabulary_size"], data.info["num_tags"], data.info["char_vocabulary_size"], cell=m.cell,
        cell_options=m.cell_options, layers=m.layers, units=m.units, embedding_dim=m.embedding_dim,
        word_dropout=m.word_dropout, char_features=m.char_features, char_cell=m.char_cell,
        char_embedding_dim=m.char_embedding_dim, char_units=m.char_units, dropout=m.dropout,
        recurrent_dropout=m.recurrent_dropout, output=m.output,
        jit_compile={"auto": "auto", "true": True, "false": False}[m.jit_compile], name=spec.name or "tagger")
    model.compile(optimizer=make_optimizer(spec.training), loss={"emissions": tagger_loss(model)})
    return model


def predict_tags(model, dataset, tags) -> tuple[list[list[str]], list[list[str]]]:
    """Decode every batch of `dataset`: (gold, predicted) tag strings per sentence.

    Args:
        model: the training model (`build_model`) or its decoder (`tagger_model`).
        dataset: batches ``({"tokens", "chars"}, tag ids)``.
        tags: tag strings in class-index order.
    """
    decode = _decoder(model)
    names = np.asarray(tags, dtype=object)
    gold, predicted = [], []
    for inputs, targets in dataset:
        ids = decode(inputs["tokens"], inputs["chars"]).numpy()
        lengths = np.sum(np.asarray(inputs["tokens"]) != 0, axis=1)
        targets = np.asarray(targets)
        for row, n in enumerate(lengths):
            gold.append(list(names[targets[row, :n]]))
            predicted.append(list(names[ids[row, :n]]))
    return gold, predicted


_DECODERS: "weakref.WeakKeyDictionary[keras.Model, tf.types.experimental.GenericFunction]" = weakref.WeakKeyDictionary()


def _decoder(model):
    """``decode(tokens, chars) → tag ids`` for `model`, traced once per model.

    One trace serves every batch shape (Keras's predict would retrace per T and C),
    and it is kept per model so the per-epoch `ValidationScore` does not retrace.
    """
    decode = _DECODERS.get(model)
    if decode is None:
        decoder = model if len(model.outputs) == 1 else tagger_model(model)
        decode = tf.function(lambda tokens, chars: decoder({"tokens": tokens, "chars": chars}, training=False),
                             input_signature=[tf.TensorSpec([None, None], tf.int64),
                                              tf.TensorSpec([None, None, None], tf.int64)])
        _DECODERS[model] = decode
    return decode


def evaluate(model, spec, data) -> dict[str, float]:
    """Validation metrics on the decoded tags: ``accuracy`` (POS) or span ``precision``,
    ``recall``, ``f1`` (conlleval), ``f1_strict`` and ``accuracy`` (NER); ``score`` is
    the headline one (accuracy or f1), all fractions in [0, 1]."""
    gold, predicted = predict_tags(model, data.validation, data.info["tags"])
    if spec.metric == "accuracy":
        result = {"accuracy": token_accuracy(gold, predicted)}
        result["score"] = result["accuracy"]
    else:
        result = span_scores(gold, predicted, spec.data.tag_scheme)
        result["score"] = result["f1"]
    result["sentences"] = len(gold)
    result["tokens"] = sum(len(g) for g in gold)
    return result


class ValidationScore(keras.callbacks.Callback):
    """Put the validation metric of `evaluate` into the epoch logs as ``val_score``
    (and ``val_accuracy`` or ``val_f1``): the tuning objective and a history column."""

    def __init__(self, spec, data):
        super().__init__()
        self.spec, self.data = spec, data

    def __deepcopy__(self, memo):  # keras-tuner deep-copies callbacks; share the data
        return ValidationScore(self.spec, self.data)

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or self.data.validation is None:
            return
        result = evaluate(self.model, self.spec, self.data)
        logs["val_score"] = result["score"]
        key = "val_accuracy" if self.spec.metric == "accuracy" else "val_f1"
        logs[key] = result["score"]


def callbacks(spec, data) -> list:
    """The per-epoch validation metric (`ValidationScore`)."""
    return [ValidationScore(spec, data)]


def export(model, spec, data, output):
    """Export for serving (`seqkeras.tagging.server.export_tagger`): writes
    ``<output>/<export.model_name>/<version>/`` with signatures ``serving_default``
    and ``tag_tokens``."""
    from seqkeras.pipeline.runner import version_argument

    return server.export_tagger(tagger_model(model), data.tokenizer, data.info["char_vocabulary"], data.info["tags"],
                         str(output), spec.model_name, version=version_argument(spec),
                         lowercase=spec.data.lowercase, max_tokens=spec.export.max_tokens,
                         max_word_length=spec.data.max_word_length)


def after_run(model, spec, data, report) -> None:
    """Print the validation metric."""
    metrics = report.get("validation", {})
    if spec.metric == "accuracy":
        print(f"validation token accuracy: {100 * metrics.get('accuracy', float('nan')):.2f} %")
    else:
        print(f"validation span F1 (conlleval): {100 * metrics.get('f1', float('nan')):.2f} "
              f"(P {100 * metrics.get('precision', float('nan')):.2f}, "
              f"R {100 * metrics.get('recall', float('nan')):.2f})")
