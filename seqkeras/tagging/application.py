"""`TaggingApplication`: POS and NER tagging on the shared pipeline machinery."""

from __future__ import annotations

import weakref

import keras
import numpy as np
import tensorflow as tf

from seqkeras.pipeline.application import Application
from seqkeras.pipeline.spec import JIT_COMPILE
from seqkeras.tagging import data as tagging_data
from seqkeras.tagging.data import TaggingData, detect_format
from seqkeras.tagging.metrics import span_scores, token_accuracy
from seqkeras.tagging.model import build_tagger, tagger_loss, tagger_model
from seqkeras.tagging.server import TaggerServer
from seqkeras.tagging.spec import Spec


def predict_tags(model, dataset, tags) -> tuple[list[list[str]], list[list[str]]]:
    """Decode every batch of `dataset`: (gold, predicted) tag strings per sentence.

    Args:
        model: the training model (`build_tagger`) or its decoder (`tagger_model`).
        dataset: batches ``({"tokens": int64[B, T], "chars": int64[B, T, C]}, tag ids [B, T])``.
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


def validation_metrics(spec, model, data: TaggingData) -> dict[str, float]:
    """Validation metrics on the decoded tags: ``accuracy`` (POS) or span ``precision``,
    ``recall``, ``f1`` (conlleval), ``f1_strict`` and ``accuracy`` (NER); ``score`` is
    the headline one (accuracy or f1), all fractions in [0, 1]."""
    gold, predicted = predict_tags(model, data.validation, data.tags)
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
    """Put the validation metric of `validation_metrics` into the epoch logs as
    ``val_score`` (and ``val_accuracy`` or ``val_f1``): the tuning objective and a
    history column."""

    def __init__(self, spec, data):
        super().__init__()
        self.spec, self.data = spec, data

    def __deepcopy__(self, memo):  # keras-tuner deep-copies callbacks; share the data
        return ValidationScore(self.spec, self.data)

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or self.data.validation is None:
            return
        result = validation_metrics(self.spec, self.model, self.data)
        logs["val_score"] = result["score"]
        key = "val_accuracy" if self.spec.metric == "accuracy" else "val_f1"
        logs[key] = result["score"]


class TaggingApplication(Application):
    """POS and NER tagging: column files → BiRNN(+character BiRNN)-CRF → tags served."""

    name = "tagging"
    spec_class = Spec
    headline_metric = "score"

    def build_data(self, spec, data_dir, run_dir) -> TaggingData:
        """Sentences → vocabularies (kept in `run_dir`) → batches (`seqkeras.tagging.data.build_data`)."""
        return tagging_data.build_data(spec, data_dir, run_dir)

    def build_model(self, spec, data) -> keras.Model:
        """The compiled tagger of `spec` for `data` (vocabulary sizes, tag count)."""
        m = spec.model
        model = build_tagger(
            data.vocabulary_size, data.num_tags, data.char_vocabulary_size, cell=m.cell,
            cell_options=m.cell_options, layers=m.layers, units=m.units, embedding_dim=m.embedding_dim,
            word_dropout=m.word_dropout, char_features=m.char_features, char_cell=m.char_cell,
            char_embedding_dim=m.char_embedding_dim, char_units=m.char_units, dropout=m.dropout,
            recurrent_dropout=m.recurrent_dropout, output=m.output,
            jit_compile=JIT_COMPILE[m.jit_compile], name=spec.name or "tagger")
        model.compile(optimizer=self.optimizer(spec), loss={"emissions": tagger_loss(model)})
        return model

    def evaluate(self, spec, model, data) -> dict[str, float]:
        """`validation_metrics` of the decoded validation tags."""
        return validation_metrics(spec, model, data)

    def exporter(self, spec, model, data) -> TaggerServer:
        """`TaggerServer` (signatures ``serving_default`` and ``tag_tokens``) of the decoder."""
        return TaggerServer(tagger_model(model), data.words, data.chars, data.tags, lowercase=spec.data.lowercase,
                            max_tokens=spec.max_tokens,
                            max_word_length=spec.data.max_word_length)

    def callbacks(self, spec, data) -> list[keras.callbacks.Callback]:
        """The per-epoch validation metric (`ValidationScore`)."""
        return [ValidationScore(spec, data)]

    def after_run(self, spec, model, data, report) -> None:
        """Print the validation metric: token accuracy, or span F1 with precision and recall."""
        metrics = report.get("validation", {})
        if spec.metric == "accuracy":
            print(f"validation token accuracy: {100 * metrics.get('accuracy', float('nan')):.2f} %")
        else:
            print(f"validation span F1 (conlleval): {100 * metrics.get('f1', float('nan')):.2f} "
                  f"(P {100 * metrics.get('precision', float('nan')):.2f}, "
                  f"R {100 * metrics.get('recall', float('nan')):.2f})")

    def starter(self, data_files):
        """``data.train`` (and ``data.validation`` for a second file), the format and the
        tag scheme detected from the training file (`detect_format`)."""
        if len(data_files) > 2:
            raise ValueError(f"tagging reads a training file and optionally a validation file, "
                             f"received {len(data_files)} files")
        detected = detect_format(data_files[0])
        keys = {"data.train": data_files[0], **{f"data.{key}": value for key, value in detected.items()}}
        if len(data_files) == 2:
            keys["data.validation"] = data_files[1]
        return keys
