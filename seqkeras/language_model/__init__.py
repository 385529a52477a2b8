"""Word and character language models.

The application (`LanguageModelApplication`, registered as ``"language_model"``) and
its parts:

* `Spec` (`spec.py`): the typed pipeline spec (``[data]``, ``[model]``, ``[training]``
  with the BPTT length, ``[tuning]``, ``[export]``).
* `build_data` (`data.py`): corpus → tokenizer/vocabulary → id streams → BPTT windows,
  as `LanguageModelData`.
* `build_language_model` (`model.py`): the stateful recurrent `LanguageModel` with its
  stateless step interface (`LanguageModel.step`, `LanguageModel.run_sequence`), the
  default ``model.kind = "rnn"``; the other kinds keep that interface:
  `build_nnlm` (`nnlm.py`, ``"nnlm"``: the fixed-window feed-forward LM) and
  `build_dilated_language_model` (`convolutional.py`, ``"dilated_cnn"``: a dilated causal
  convolution stack with queue-based generation).
* `stream_nll` / `summarize` (`metrics.py`): whole-stream perplexity and bits per
  character; `nll_by_position`: the same by the token's position in its sentence.
* `LanguageModelServer` (`server.py`): the `seqkeras.serving.Exporter` with the
  signatures ``generate`` (= ``serving_default``), ``generate_beam`` and ``score``.
* `sample_text` (`generate.py`): sampling in Python from a trained model.

Example:
    >>> from seqkeras.pipeline import load_spec, runner
    >>> report = runner.run(load_spec("pipelines/shakespeare_char_lm.toml"))   # doctest: +SKIP
"""

from __future__ import annotations

from seqkeras.language_model.application import LanguageModelApplication
from seqkeras.language_model.data import LanguageModelData, build_data, resolve_corpus, stream_windows
from seqkeras.language_model.convolutional import ConvolutionalLanguageModel, build_dilated_language_model
from seqkeras.language_model.generate import sample_text
from seqkeras.language_model.metrics import nll_by_position, sentence_positions, stream_nll, summarize
from seqkeras.language_model.model import (LanguageModel, Logits, ResetStates, StreamMetrics, WindowedLanguageModel,
                                           build_language_model, reset_states)
from seqkeras.language_model.nnlm import ContextWindow, FeedForwardLanguageModel, build_nnlm
from seqkeras.language_model.server import LanguageModelServer, export_language_model
from seqkeras.language_model.spec import DataSpec, LMTrainingSpec, LMTuningSpec, ModelSpec, Spec

__all__ = ["ContextWindow", "ConvolutionalLanguageModel", "DataSpec", "FeedForwardLanguageModel", "LMTrainingSpec",
           "LMTuningSpec", "LanguageModel", "LanguageModelApplication", "LanguageModelData", "LanguageModelServer",
           "Logits", "ModelSpec", "ResetStates", "Spec", "StreamMetrics", "WindowedLanguageModel", "build_data",
           "build_dilated_language_model", "build_language_model", "build_nnlm", "export_language_model",
           "nll_by_position", "reset_states", "resolve_corpus", "sample_text", "sentence_positions", "stream_nll",
           "stream_windows", "summarize"]
