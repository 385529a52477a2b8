"""Machine translation: encoder–decoder with attention and in-graph beam search (#6).

The application's rooms, as `seqkeras.pipeline.registry` expects them:

* `Spec` (`spec.py`): ``[data]`` parallel files and WordPiece vocabularies,
  ``[model]`` encoder/decoder/attention, ``[decoding]`` beam width, length penalty,
  length limit, ``[training]`` with label smoothing, ``[tuning]``, ``[export]``.
* `build_data` (`data.py`): parallel lines → subword vocabularies learned on the
  training split → teacher-forcing batches.
* `build_model` (this module) → `Translator` (`model.py`), compiled with the masked,
  label-smoothed loss.
* `HyperModel` (`hypermodel.py`).
* `evaluate`: corpus BLEU (sacrebleu, detokenized output vs the raw references) on
  the validation split, greedy and beam search, decoded in the graph
  (`decoding.py`).
* `export` (`server.py`): signatures ``serving_default`` and ``translate``.

Example:
    >>> from seqkeras.pipeline import load_spec, runner
    >>> report = runner.run(load_spec("pipelines/multi30k_de_en.toml"))   # doctest: +SKIP
"""

from __future__ import annotations

import time

import keras
import tensorflow as tf

from seqkeras.pipeline.training import make_optimizer
from seqkeras.translation.data import build_data
from seqkeras.translation.hypermodel import HyperModel
from seqkeras.translation.model import Decoder, Translator, masked_accuracy, translation_loss
from seqkeras.translation.spec import DataSpec, DecodingSpec, ModelSpec, Spec

__all__ = ["DataSpec", "Decoder", "DecodingSpec", "HyperModel", "ModelSpec", "Spec", "Translator",
           "build_data", "build_model", "evaluate", "export", "make_server", "translate"]


def build_model(spec, data) -> keras.Model:
    """The compiled `Translator` of `spec` for `data`'s vocabularies."""
    m = spec.model
    model = Translator(data.info["source_vocabulary_size"], data.info["target_vocabulary_size"], cell=m.cell,
                       decoder_cell=m.decoder_cell, embedding_dim=m.embedding_dim, encoder_units=m.encoder_units,
                       encoder_layers=m.encoder_layers, units=m.units, decoder_layers=m.decoder_layers,
                       attention=m.attention, luong_score=m.luong_score, input_feeding=m.input_feeding,
                       attention_units=m.attention_units, dropout=m.dropout, cell_options=m.cell_options,
                       tie_embeddings=m.tie_embeddings,
                       name=spec.name or "translator")
    model.compile(optimizer=make_optimizer(spec.training), loss=translation_loss(spec.training.label_smoothing),
                  metrics=[masked_accuracy])
    return model


def make_server(model, spec, data):
    """The `TranslatorServer` (in-graph tokenization + decoding) with the spec's settings."""
    from seqkeras.translation.server import TranslatorServer

    d = spec.decoding
    return TranslatorServer(model, data.info["source_tokenizer"], data.info["target_tokenizer"],
                            beam_width=d.beam_width, length_penalty=d.length_penalty,
                            max_length_a=d.max_length_a, max_length_b=d.max_length_b,
                            max_length_cap=d.max_length_cap, max_beam_width=d.max_beam_width,
                            max_source_tokens=spec.data.max_source_tokens)


def translate(server, sources: list[str], beam_width: int, batch_size: int = 128) -> list[str]:
    """Translate Python strings in batches; beam_width 0 = greedy (`GreedySampler`)."""
    if beam_width == 0:
        decode = server.greedy
    else:
        decode = lambda s: server.translate(s, tf.constant(beam_width), tf.constant(0))["translation"]  # noqa: E731
    fn = tf.function(decode, input_signature=[tf.TensorSpec([None], tf.string)])  # one trace for every batch size
    out = []
    for start in range(0, len(sources), batch_size):
        batch = tf.constant(sources[start:start + batch_size])
        out += [t.decode("utf-8") for t in fn(batch).numpy()]
    return out


def evaluate(model, spec, data) -> dict[str, float]:
    """Corpus BLEU on the validation split, greedy and beam (spec width), plus the
    teacher-forced validation loss and token accuracy."""
    import sacrebleu

    server = make_server(model, spec, data)
    sources = data.info["validation_sources"]
    references = data.info["validation_references"]
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
        data.info[f"hypotheses_{name}"] = hypotheses
    results["sentences"] = len(sources)
    return results


def export(model, spec, data, output):
    """``<output>/<export.model_name>/<version>/`` (see `seqkeras.translation.server`)."""
    from seqkeras.pipeline.runner import version_argument
    from seqkeras.translation.server import export_translator

    d = spec.decoding
    return export_translator(model, data.info["source_tokenizer"], data.info["target_tokenizer"], str(output),
                             spec.model_name, version=version_argument(spec), beam_width=d.beam_width,
                             length_penalty=d.length_penalty, max_length_a=d.max_length_a,
                             max_length_b=d.max_length_b, max_length_cap=d.max_length_cap,
                             max_beam_width=d.max_beam_width, max_source_tokens=spec.data.max_source_tokens)


def after_run(model, spec, data, report) -> None:
    """Print BLEU and a few validation translations."""
    metrics = report.get("validation", {})
    if "bleu_beam" in metrics:
        print(f"validation BLEU: greedy {metrics['bleu_greedy']:.2f}, "
              f"beam (width {spec.decoding.beam_width}) {metrics['bleu_beam']:.2f}")
    hypotheses = data.info.get("hypotheses_beam") or []
    samples = []
    for i in range(min(spec.samples, len(hypotheses))):
        sample = {"source": data.info["validation_sources"][i], "reference": data.info["validation_references"][i],
                  "translation": hypotheses[i]}
        samples.append(sample)
        print(f"  src: {sample['source']}\n  ref: {sample['reference']}\n  hyp: {sample['translation']}")
    report["samples"] = samples
