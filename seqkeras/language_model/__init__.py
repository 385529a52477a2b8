"""Word and character language models (the template every application follows).

The application's rooms, as `seqkeras.pipeline.registry` expects them:

* `Spec` (`spec.py`): the typed pipeline spec (``[data]``, ``[model]``, ``[training]``
  with BPTT length, ``[tuning]``, ``[export]``).
* `build_data` (`data.py`): corpus → tokenizer/vocabulary → id streams → BPTT windows.
* `build_model` (this module) → `build_language_model` (`model.py`), compiled.
* `HyperModel` (`hypermodel.py`): the generic spec HyperModel.
* `evaluate`: whole-stream perplexity / bits per character (`metrics.py`).
* `export`: `seqkeras.language_model.server.export_language_model` (SavedModel
  signatures ``generate``, ``generate_beam``, ``score``), versioned by `seqkeras.serving`.

Example:
    >>> from seqkeras.pipeline import load_spec, run
    >>> report = run(load_spec("pipelines/shakespeare_char_lm.toml"))   # doctest: +SKIP
"""

from __future__ import annotations

import keras

from seqkeras.language_model.data import build_data, resolve_corpus, stream_windows
from seqkeras.language_model.hypermodel import HyperModel
from seqkeras.language_model.metrics import stream_nll, summarize
from seqkeras.language_model.model import (Logits, ResetStates, StreamMetrics, build_language_model,
                                           reset_states)
from seqkeras.language_model.spec import DataSpec, LMTrainingSpec, ModelSpec, Spec
from seqkeras.pipeline.training import make_optimizer

__all__ = ["DataSpec", "HyperModel", "LMTrainingSpec", "Logits", "ModelSpec", "ResetStates", "Spec",
           "build_data", "build_language_model", "build_model", "callbacks", "evaluate", "export",
           "reset_states", "resolve_corpus", "stream_windows"]


def cell_and_options(model_spec) -> tuple[str, dict]:
    """``model.cell`` → (registry name, options); ``"lstm:cifg"`` sets the LSTM variant."""
    cell, options = model_spec.cell, dict(model_spec.cell_options)
    if ":" in cell:
        cell, variant = cell.split(":", 1)
        options["variant"] = variant
    return cell, options


def loss_scale(spec) -> float:
    """T when the loss is summed over the window's steps (Zaremba), else 1."""
    return float(spec.training.bptt_length) if spec.training.sum_over_time else 1.0


def build_model(spec, data) -> keras.Model:
    """The compiled language model of `spec` for `data` (vocabulary size, batch size)."""
    m = spec.model
    cell, options = cell_and_options(m)
    jit = {"auto": "auto", "true": True, "false": False}[m.jit_compile]
    if spec.training.precision == "mixed_bfloat16":
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    else:
        keras.mixed_precision.set_global_policy("float32")
    model = build_language_model(
        data.info["vocabulary_size"], batch_size=spec.training.batch_size, cell=cell, cell_options=options,
        layers=m.layers, units=m.units, embedding_dim=m.embedding_dim, tie_embeddings=m.tie_embeddings,
        dropout=m.dropout, layer_dropout=m.layer_dropout, recurrent_dropout=m.recurrent_dropout,
        init_scale=m.init_scale, softmax_precision=m.softmax_precision, stateful=True, jit_compile=jit,
        sampled_softmax=m.sampled_softmax, name=spec.name or "language_model")
    model.compile(optimizer=make_optimizer(spec.training, loss_scale(spec)),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def callbacks(spec, data) -> list:
    """State resets (truncated BPTT) and the perplexity / bits-per-character logs."""
    return [ResetStates(), StreamMetrics(spec.data.level)]


def evaluate(model, spec, data) -> dict[str, float]:
    """Whole-validation-stream metrics (state carried across windows, reset before)."""
    windows = stream_windows(data.info["validation_ids"], spec.training.batch_size, spec.training.bptt_length)
    total, count = stream_nll(model, windows)
    return summarize(total, count, spec.data.level)


def export(model, spec, data, output):
    """Export for serving: `seqkeras.language_model.server.export_language_model` writes
    ``<output>/<export.model_name>/<version>/`` (signatures ``generate``,
    ``generate_beam``, ``score``; tokenization in the graph; warm-up records).

    Raises:
        NotImplementedError: the export module is not available in this installation.
    """
    from seqkeras.pipeline.runner import version_argument

    try:
        from seqkeras.language_model.server import export_language_model
    except ImportError as error:
        raise NotImplementedError(f"seqkeras.language_model.server is not available ({error})") from None
    return export_language_model(model, data.tokenizer, str(output), spec.model_name,
                                 version=version_argument(spec))


def after_run(model, spec, data, report) -> None:
    """Print the validation metric and, if the spec asks, a generated sample."""
    from seqkeras.language_model.generate import sample_text

    metrics = report.get("validation", {})
    if "bits_per_character" in metrics:
        print(f"validation bits per character: {metrics['bits_per_character']:.4f}")
    elif "perplexity" in metrics:
        print(f"validation perplexity: {metrics['perplexity']:.2f}")
    if spec.generate_prompt:
        text = sample_text(model, data.tokenizer, spec.generate_prompt, spec.generate_length,
                           spec.generate_temperature, seed=spec.training.seed)
        report["sample"] = text
        print("\n--- generated text " + "-" * 40 + "\n" + text + "\n" + "-" * 59)
