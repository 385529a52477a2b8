"""Sequence tagging (POS, NER) with a BiRNN-CRF: the ``tagging`` application.

`TaggingApplication` supplies the hooks of `seqkeras.pipeline.Application`:

* `Spec` (`spec.py`): ``[data]`` (CoNLL-U / CoNLL-2003 / WikiANN file, tag format in
  the file → tag scheme predicted), ``[model]``, ``[training]``, ``[tuning]``, ``[export]``.
* ``build_data`` (`data.py`): sentences → IOB1/IOB2/BIOES conversion (`schemes.py`) →
  word, character and tag vocabularies → length-bucketed id batches (`TaggingData`).
* ``build_model`` → `build_tagger` (`model.py`): word embedding (+ character BiRNN per
  word) → deep bidirectional seqkeras stack → CRF or softmax, compiled.
* ``hypermodel``: the generic spec HyperModel; every ``model.*`` key and the optimiser
  keys of ``training.*`` are tunable (cell, units, layers, dropout, char_features,
  output, learning_rate); the trials share one set of batches.
  The tuning objective ``val_score`` is the real validation metric (`ValidationScore`).
* ``evaluate``: token accuracy (POS) or conlleval span P/R/F1 via seqeval (NER), on the
  decoded (Viterbi) tags of the validation split (`metrics.py`).
* ``exporter`` (`server.py`): `TaggerServer`, a SavedModel with ``serving_default``
  (sentences → tokens, tags, length) and ``tag_tokens`` (pre-tokenized → tags).
* ``starter``: the format and tag scheme of a user's column file for ``seqkeras init``.

Example:
    >>> from seqkeras.pipeline import load_spec, runner
    >>> report = runner.run(load_spec("pipelines/ud_ewt_pos.toml"))   # doctest: +SKIP
"""

from __future__ import annotations

from seqkeras.tagging.application import (_DECODERS, TaggingApplication, ValidationScore, _decoder, predict_tags,
                                          validation_metrics)
from seqkeras.tagging.data import TaggingData, detect_format, read_sentences
from seqkeras.tagging.metrics import span_scores, token_accuracy
from seqkeras.tagging.model import (ArgmaxTags, CharacterFeatures, TokenMask, WordDropout, build_tagger,
                                    tagger_loss, tagger_model)
from seqkeras.tagging.schemes import convert
from seqkeras.tagging.server import TaggerServer, export_tagger
from seqkeras.tagging.spec import DataSpec, ModelSpec, Spec

__all__ = ["ArgmaxTags", "CharacterFeatures", "DataSpec", "ModelSpec", "Spec", "TaggerServer", "TaggingApplication",
           "TaggingData", "TokenMask", "ValidationScore", "WordDropout", "build_tagger", "convert",
           "detect_format", "export_tagger", "predict_tags", "read_sentences", "span_scores", "tagger_loss",
           "tagger_model", "token_accuracy", "validation_metrics"]
