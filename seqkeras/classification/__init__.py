"""Sentence classification (sequence-to-vector, the "acceptor"), issue #5.

The application's rooms, as `seqkeras.pipeline.registry` expects them
(``application = "classification"``):

* `Spec` (`spec.py`): ``[data]`` (labelled files, validation split, tokenizer),
  ``[model]`` (cell, depth, width, direction, pooling, dropout), ``[training]``,
  ``[tuning]``, ``[export]``.
* `build_data` (`data.py`): labelled files → hash validation split → vocabulary →
  length-bucketed ``(ids, label)`` batches.
* `build_model` (this module) → `build_classifier` (`model.py`): shared
  `seqkeras.encoders.TextEncoder` → final state / mean / max / attention pooling →
  softmax; compiled with sparse categorical cross-entropy and accuracy.
* `HyperModel` (`hypermodel.py`): the generic spec HyperModel.
* `evaluate`: validation loss and accuracy.
* `export`: `seqkeras.classification.server.export_classifier` (signature
  ``serving_default``: text → label, probabilities, classes; tokenization in the graph).

Pipelines: ``pipelines/sst2_sentiment.toml``, ``imdb_sentiment.toml``, ``uci_sentiment.toml``.

Example:
    >>> from seqkeras.pipeline import load_spec, runner
    >>> report = runner.run(load_spec("pipelines/sst2_sentiment.toml"))   # doctest: +SKIP
"""

from __future__ import annotations

import keras

from seqkeras.classification.data import build_data, hash_split, read_labelled
from seqkeras.classification.hypermodel import HyperModel
from seqkeras.classification.model import AttentionPooling, SequencePooling, build_classifier
from seqkeras.classification.spec import ClassificationTuningSpec, DataSpec, ModelSpec, Spec
from seqkeras.pipeline.training import make_optimizer

__all__ = ["AttentionPooling", "ClassificationTuningSpec", "DataSpec", "HyperModel", "ModelSpec",
           "SequencePooling", "Spec", "after_run", "build_classifier", "build_data", "build_model",
           "evaluate", "export", "hash_split", "read_labelled"]


def build_model(spec, data) -> keras.Model:
    """The compiled classifier of `spec` for `data` (vocabulary size, number of classes)."""
    m = spec.model
    keras.mixed_precision.set_global_policy(
        "mixed_bfloat16" if spec.training.precision == "mixed_bfloat16" else "float32")
    embeddings = data.info.get("embeddings")
    model = build_classifier(
        data.info["vocabulary_size"], data.info["num_classes"], cell=m.cell, cell_options=m.cell_options,
        layers=m.layers, units=m.units, bidirectional=m.bidirectional,
        embedding_dim=m.embedding_dim if embeddings is None else embeddings.shape[1],
        embeddings=embeddings, train_embeddings=m.train_embeddings,
        pooling=m.pooling, attention_units=m.attention_units, dropout=m.dropout, layer_dropout=m.layer_dropout,
        recurrent_dropout=m.recurrent_dropout, output_dropout=m.output_dropout,
        jit_compile={"auto": "auto", "true": True, "false": False}[m.jit_compile], name=spec.name or "classifier")
    model.compile(optimizer=make_optimizer(spec.training), loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    return model


def evaluate(model, spec, data) -> dict[str, float]:
    """Validation loss and accuracy over the whole validation split."""
    metrics = model.evaluate(data.validation, verbose=0, return_dict=True)
    return {"loss": float(metrics["loss"]), "accuracy": float(metrics["accuracy"]),
            "examples": int(data.info["validation_examples"])}


def export(model, spec, data, output):
    """Export for serving: ``<output>/<export.model_name>/<version>/`` (see
    `seqkeras.classification.server`); texts are cut to ``data.max_length`` tokens
    when it is set, as in training."""
    from seqkeras.classification.server import DEFAULT_MAX_TOKENS, export_classifier
    from seqkeras.pipeline.runner import version_argument

    return export_classifier(model, data.tokenizer, data.info["class_names"], str(output), spec.model_name,
                             version=version_argument(spec),
                             max_tokens=spec.data.max_length or DEFAULT_MAX_TOKENS)


def after_run(model, spec, data, report) -> None:
    """Print the validation accuracy."""
    metrics = report.get("validation", {})
    if "accuracy" in metrics:
        print(f"validation accuracy: {100 * metrics['accuracy']:.2f} % "
              f"({metrics.get('examples', '?')} examples)")
