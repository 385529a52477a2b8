"""Sentence classification (sequence-to-vector, the "acceptor").

`ClassificationApplication` (``application = "classification"``) plugs these modules
into the shared pipeline machinery:

* `Spec` (`spec.py`): ``[data]`` (labelled files, validation split, tokenizer),
  ``[model]`` (cell, depth, width, direction, pooling, dropout) and the shared
  ``[training]``, ``[tuning]``, ``[export]`` sections.
* `build_data` (`data.py`): labelled files → hash validation split → vocabulary →
  length-bucketed ``(ids, label)`` batches, as `ClassificationData`.
* `build_classifier` (`model.py`): shared `seqkeras.encoders.TextEncoder` → final
  state / mean / max / attention pooling → softmax; compiled with sparse categorical
  cross-entropy and accuracy.
* `load_pretrained_encoder` / `initialise_encoder` (`pretrained.py`): pretraining, a
  trained ``language_model`` run (ULMFiT, ``model.pretrained_language_model``) or a
  classifier trained on another corpus (``model.pretrained_classifier``) initialising
  the encoder.
* `ClassifierServer` (`server.py`): the export (signatures ``serving_default`` and
  ``classify``: text → label, probabilities, classes; tokenization in the graph).
* `starter_keys` (`starter.py`): the format, columns and labels that
  ``seqkeras init classification --data FILE`` reads from a user's file.

Pipelines: ``pipelines/sst2_sentiment.toml``, ``sst2_ulmfit.toml`` (its encoder from
``imdb_language_model.toml``), ``sst2_transfer.toml`` (from ``imdb_transfer_source.toml``),
``imdb_sentiment.toml``, ``imdb_ulmfit.toml``, ``uci_sentiment.toml``.

Example:
    >>> from seqkeras.pipeline import load_spec, runner
    >>> report = runner.run(load_spec("pipelines/sst2_sentiment.toml"))   # doctest: +SKIP
"""

from __future__ import annotations

from seqkeras.classification.application import ClassificationApplication
from seqkeras.classification.data import ClassificationData, build_data, hash_split, read_labelled
from seqkeras.classification.model import AttentionPooling, SequencePooling, build_classifier
from seqkeras.classification.pretrained import (Architecture, FreezePretrained, PretrainedEncoder,
                                                initialise_encoder, load_pretrained_encoder)
from seqkeras.classification.server import ClassifierServer, export_classifier
from seqkeras.classification.spec import ClassificationTuningSpec, DataSpec, ModelSpec, Spec
from seqkeras.classification.starter import detect_format, starter_keys

__all__ = ["Architecture", "AttentionPooling", "ClassificationApplication", "ClassificationData",
           "ClassificationTuningSpec", "ClassifierServer", "DataSpec", "FreezePretrained", "ModelSpec",
           "PretrainedEncoder", "SequencePooling", "Spec", "build_classifier", "build_data", "detect_format",
           "export_classifier", "hash_split", "initialise_encoder", "load_pretrained_encoder", "read_labelled",
           "starter_keys"]
