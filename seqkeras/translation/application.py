"""`TranslationApplication`: the translation hooks of the shared pipeline.

* `build_data` (`data.py`): parallel lines → subword vocabularies learned on the
  training split → teacher-forcing batches (`TranslationData`).
* `build_model`: a `Translator` (`model.py`) compiled with the masked,
  label-smoothed loss.
* `evaluate`: corpus BLEU (sacrebleu, detokenized output vs the raw references) on
  the validation split, greedy and beam search, decoded in the graph (`decoding.py`).
* `exporter`: the `TranslatorServer` (`server.py`), signatures ``serving_default``
  and ``translate``.
* `starter`: ``seqkeras init translation --data train.de --data train.en``.
"""

from __future__ import annotations

import pathlib
import re
import time

import keras
import sacrebleu

from seqkeras.data.validation import scan_text_file
from seqkeras.pipeline.application import Application
from seqkeras.translation.data import TranslationData, build_data
from seqkeras.translation.model import Translator, masked_accuracy, translation_loss
from seqkeras.translation.server import TranslatorServer, translate
from seqkeras.translation.spec import Spec

VALIDATION_NAMES = ("val", "valid", "dev")


def make_server(spec: Spec, model: Translator, data: TranslationData) -> TranslatorServer:
    """The `TranslatorServer` (in-graph tokenization + decoding) with the spec's settings.

    Args:
        spec: the translation spec (``[decoding]`` defaults, ``export.max_tokens``).
        model: the trained `Translator`.
        data: the `TranslationData` holding the model's tokenizers.
    """
    d = spec.decoding
    return TranslatorServer(model, data.source_tokenizer, data.target_tokenizer, beam_width=d.beam_width,
                            length_penalty=d.length_penalty, max_length_a=d.max_length_a,
                            max_length_b=d.max_length_b, max_length_cap=d.max_length_cap,
                            max_beam_width=d.max_beam_width,
                            max_source_tokens=spec.max_tokens)


def _validation_file(train_file: pathlib.Path) -> pathlib.Path | None:
    """``val.de`` / ``valid.de`` / ``dev.de`` (same suffixes) beside ``train.de``, if any."""
    match = re.match(r"(.*)train(.*)", train_file.name)
    if match is None:
        return None
    for name in VALIDATION_NAMES:
        candidate = train_file.with_name(f"{match.group(1)}{name}{match.group(2)}")
        if candidate.is_file():
            return candidate
    return None


class TranslationApplication(Application):
    """Encoder–decoder translation with attention, BLEU evaluation, beam-search export."""

    name = "translation"
    spec_class = Spec
    headline_metric = "bleu_beam"

    def build_data(self, spec, data_dir, run_dir) -> TranslationData:
        """Parallel batches and subword tokenizers (vocabularies kept in `run_dir`)."""
        return build_data(spec, data_dir, run_dir)

    def build_model(self, spec, data) -> keras.Model:
        """The compiled `Translator` of `spec` for `data`'s vocabularies."""
        m = spec.model
        model = Translator(data.source_vocabulary_size, data.target_vocabulary_size, cell=m.cell,
                           decoder_cell=m.decoder_cell, embedding_dim=m.embedding_dim,
                           encoder_units=m.encoder_units, encoder_layers=m.encoder_layers, units=m.units,
                           decoder_layers=m.decoder_layers, attention=m.attention, luong_score=m.luong_score,
                           input_feeding=m.input_feeding, attention_units=m.attention_units, dropout=m.dropout,
                           cell_options=m.cell_options, tie_embeddings=m.tie_embeddings,
                           name=spec.name or "translator")
        model.compile(optimizer=self.optimizer(spec), loss=translation_loss(spec.training.label_smoothing),
                      metrics=[masked_accuracy])
        return model

    def evaluate(self, spec, model, data) -> dict[str, float]:
        """Corpus BLEU on the validation split, greedy and beam (spec width), plus the
        teacher-forced validation loss and token accuracy. The translations are kept
        in ``data.hypotheses`` (``"greedy"``, ``"beam"``)."""
        server = make_server(spec, model, data)
        sources, references = data.validation_sources, data.validation_references
        if spec.evaluate_limit:
            sources, references = sources[:spec.evaluate_limit], references[:spec.evaluate_limit]
        results: dict[str, float] = {}
        if data.validation is not None:
            values = model.evaluate(data.validation, verbose=0, return_dict=True)
            results.update({f"validation_{k}": float(v) for k, v in values.items()})
        for name, width in (("greedy", 0), ("beam", spec.decoding.beam_width)):
            start = time.perf_counter()
            hypotheses = translate(server, sources, width, spec.decoding.batch_size)
            results[f"bleu_{name}"] = float(sacrebleu.corpus_bleu(hypotheses, [references]).score)
            results[f"decode_{name}_seconds"] = round(time.perf_counter() - start, 2)
            data.hypotheses[name] = hypotheses
        results["sentences"] = len(sources)
        return results

    def exporter(self, spec, model, data) -> TranslatorServer:
        """The `TranslatorServer` (see `make_server`)."""
        return make_server(spec, model, data)

    def after_run(self, spec, model, data, report) -> None:
        """Print BLEU and a few validation translations (also added to the report)."""
        metrics = report.get("validation", {})
        if "bleu_beam" in metrics:
            print(f"validation BLEU: greedy {metrics['bleu_greedy']:.2f}, "
                  f"beam (width {spec.decoding.beam_width}) {metrics['bleu_beam']:.2f}")
        hypotheses = data.hypotheses.get("beam", [])
        samples = []
        for i in range(min(spec.samples, len(hypotheses))):
            sample = {"source": data.validation_sources[i], "reference": data.validation_references[i],
                      "translation": hypotheses[i]}
            samples.append(sample)
            print(f"  src: {sample['source']}\n  ref: {sample['reference']}\n  hyp: {sample['translation']}")
        report["samples"] = samples

    def starter(self, data_files) -> dict:
        """``data.train_source`` / ``data.train_target`` from two line-aligned files
        (source, then target); the validation pair from ``val``/``valid``/``dev``
        files beside them (``train.de`` → ``val.de``), else "" (to be set by the user).

        Raises:
            ValueError: not exactly two files, or they differ in number of lines.
        """
        if len(data_files) != 2:
            raise ValueError(f"translation needs two line-aligned files, source then target "
                             f"(--data train.de --data train.en), received {len(data_files)}")
        counts = [scan_text_file(pathlib.Path(file))[0] for file in data_files]
        if counts[0] != counts[1]:
            raise ValueError(f"the parallel files differ in length: {data_files[0]} has {counts[0]} lines, "
                             f"{data_files[1]} has {counts[1]}")
        keys = {"data.train_source": data_files[0], "data.train_target": data_files[1],
                "data.validation_source": "", "data.validation_target": ""}
        validation = [_validation_file(pathlib.Path(file)) for file in data_files]
        if all(validation):
            keys["data.validation_source"], keys["data.validation_target"] = (str(v) for v in validation)
        return keys
