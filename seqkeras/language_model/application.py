"""`LanguageModelApplication`: word and character language models on the shared pipeline."""

from __future__ import annotations

import itertools
import pathlib

import keras

from seqkeras.data.validation import iter_lines
from seqkeras.encoders import split_cell_name
from seqkeras.language_model.data import LanguageModelData, build_data, stream_windows
from seqkeras.language_model.convolutional import build_dilated_language_model
from seqkeras.language_model.generate import sample_text
from seqkeras.language_model.metrics import stream_nll, summarize
from seqkeras.language_model.model import ResetStates, StreamMetrics, build_language_model
from seqkeras.language_model.nnlm import build_nnlm
from seqkeras.language_model.server import LanguageModelServer
from seqkeras.language_model.spec import Spec
from seqkeras.pipeline.application import Application
from seqkeras.pipeline.spec import JIT_COMPILE

# Lines of a user's corpus that `starter` reads.
STARTER_LINES = 10_000


class LanguageModelApplication(Application):
    """Text corpus → stateful LM (recurrent, fixed-window or dilated convolution) trained by
    truncated BPTT → generate / score export."""

    name = "language_model"
    spec_class = Spec
    # Reported at both levels; `after_run` prints bits per character for a char LM.
    headline_metric = "perplexity"

    def build_data(self, spec, data_dir, run_dir) -> LanguageModelData:
        """Corpus → vocabulary (``run_dir/vocabulary.txt``) → id streams → BPTT windows
        ``(int32[B, T], int32[B, T])``."""
        return build_data(spec, data_dir, run_dir)

    def build_model(self, spec, data) -> keras.Model:
        """The stateful `LanguageModel` of ``model.kind`` ``int32[B, T] → float32[B, T,
        V]``, compiled with the cross-entropy from logits. With
        ``training.sum_over_time`` the optimizer acts as if the loss were summed over the
        T steps of a window (Zaremba)."""
        m = spec.model
        shared = dict(batch_size=spec.training.batch_size, layers=m.layers, units=m.units,
                      embedding_dim=m.embedding_dim, tie_embeddings=m.tie_embeddings, dropout=m.dropout,
                      init_scale=m.init_scale, softmax_precision=m.softmax_precision, stateful=True,
                      sampled_softmax=m.sampled_softmax, name=spec.name or "language_model")
        if m.kind == "nnlm":
            model = build_nnlm(data.vocabulary_size, context=m.context, **shared)
        elif m.kind == "dilated_cnn":
            model = build_dilated_language_model(data.vocabulary_size, kernel_size=m.kernel_size,
                                                 dilation_cycle=m.dilation_cycle, **shared)
        else:
            cell, options = split_cell_name(m.cell, m.cell_options)
            model = build_language_model(
                data.vocabulary_size, cell=cell, cell_options=options, layer_dropout=m.layer_dropout,
                recurrent_dropout=m.recurrent_dropout, jit_compile=JIT_COMPILE[m.jit_compile], **shared)
        loss_scale = float(spec.training.bptt_length) if spec.training.sum_over_time else 1.0
        model.compile(optimizer=self.optimizer(spec, loss_scale),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return model

    def callbacks(self, spec, data) -> list[keras.callbacks.Callback]:
        """State resets (truncated BPTT) and the perplexity / bits-per-character logs."""
        return [ResetStates(), StreamMetrics(spec.data.level)]

    def evaluate(self, spec, model, data) -> dict[str, float]:
        """Whole-validation-stream ``nll``, ``tokens``, ``perplexity`` (and
        ``bits_per_character`` at char level), the state carried across windows."""
        windows = stream_windows(data.validation_ids, spec.training.batch_size, spec.training.bptt_length)
        total, count = stream_nll(model, windows)
        return summarize(total, count, spec.data.level)

    def exporter(self, spec, model, data) -> LanguageModelServer:
        """The ``generate`` / ``generate_beam`` / ``score`` server; prompts keep their last
        ``spec.max_tokens`` tokens."""
        return LanguageModelServer(model, data.tokenizer,
                                   max_prompt_tokens=spec.max_tokens)

    def after_run(self, spec, model, data, report) -> None:
        """Print bits per character (char level) or perplexity (word level) and, if the
        spec sets ``generate_prompt``, a generated sample (also kept in the report)."""
        metrics = report.get("validation", {})
        if spec.data.level == "char" and "bits_per_character" in metrics:
            print(f"validation bits per character: {metrics['bits_per_character']:.4f}")
        elif "perplexity" in metrics:
            print(f"validation perplexity: {metrics['perplexity']:.2f}")
        if spec.generate_prompt:
            text = sample_text(model, data.tokenizer, spec.generate_prompt, spec.generate_length,
                               spec.generate_temperature, seed=spec.training.seed)
            report["sample"] = text
            print("\n--- generated text " + "-" * 40 + "\n" + text + "\n" + "-" * 59)

    def starter(self, data_files):
        """``data.train`` (and ``data.validation`` for a second file) of a UTF-8 text
        corpus, one document or sentence per line.

        Raises:
            ValueError: more than two files, a file that is not UTF-8 text, or a training
                file with fewer than two non-blank lines and no validation file.
        """
        if not 1 <= len(data_files) <= 2:
            raise ValueError(f"language_model takes a training corpus and optionally a validation corpus, "
                             f"received {len(data_files)} files: {list(data_files)}")
        counts = [_text_lines(file) for file in data_files]
        if len(data_files) == 1 and counts[0] < 2:
            raise ValueError(f"{data_files[0]}: {counts[0]} non-blank line(s); the validation split is the "
                             f"last lines of the corpus, so give at least two lines or a validation file")
        keys = {"data.train": data_files[0]}
        if len(data_files) == 2:
            keys["data.validation"] = data_files[1]
        return keys


def _text_lines(file) -> int:
    """Non-blank lines among the first `STARTER_LINES` of a UTF-8 text file (gzip read
    through); `ValueError` (`DataError`) for a file that is not UTF-8 text."""
    path = pathlib.Path(file)
    count = 0
    for _, text in itertools.islice(iter_lines(path, encoding_errors="strict"), STARTER_LINES):
        if "\x00" in text:
            raise ValueError(f"{path}: not a text file (NUL bytes); the language model reads UTF-8 text")
        count += bool(text.strip())
    if not count:
        raise ValueError(f"{path}: no text; the language model reads UTF-8 text, one line per sentence")
    return count
