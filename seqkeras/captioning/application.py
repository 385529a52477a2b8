"""`CaptioningApplication`: the captioning hooks of the shared pipeline.

* `build_data` (`data.py`): caption table + splits + image folder → word vocabulary
  (training captions) → batches of images with K captions each (`CaptionData`).
* `build_model`: a `Captioner` (`model.py`) compiled with the masked, label-smoothed
  token loss shared with translation.
* `evaluate`: corpus BLEU-1..4 (`evaluation.py`) on the validation images, greedy and
  beam search in the graph, beside the constant-caption and nearest-neighbour
  baselines; writes ``evaluation.json``, ``evaluation.txt``, every caption
  (``captions_validation.tsv``) and the examples page (``examples.html`` and
  ``examples.png``) to the run directory and prints the table.
* `exporter`: the `CaptionerServer` (`server.py`), signatures ``serving_default`` and
  ``caption_beam``.
* `starter`: ``seqkeras init captioning --data captions.tsv --data splits.tsv``.
"""

from __future__ import annotations

import json
import pathlib
import time

import keras
import numpy as np

from seqkeras.captioning import evaluation
from seqkeras.captioning.data import CaptionData, build_data, image_batches
from seqkeras.captioning.model import Captioner
from seqkeras.captioning.server import CaptionerServer, caption_images
from seqkeras.captioning.spec import Spec
from seqkeras.pipeline.application import Application
from seqkeras.translation.model import masked_accuracy, translation_loss


def make_server(spec: Spec, model: Captioner, data: CaptionData) -> CaptionerServer:
    """The `CaptionerServer` with the spec's decoding defaults and serving limits."""
    d, s = spec.decoding, spec.serving
    return CaptionerServer(model, data.tokenizer, beam_width=d.beam_width, length_penalty=d.length_penalty,
                           max_length=d.max_length, max_beam_width=s.max_beam_width, max_length_cap=s.max_length_cap,
                           max_image_pixels=s.max_image_pixels)


def pooled_features(model: Captioner, images: list[str], size: int, batch_size: int) -> np.ndarray:
    """float32 [N, D]: the encoder's pooled vector s of each image (inference mode)."""
    return np.concatenate([np.asarray(model.image_features(batch, training=False)[1])
                           for batch in image_batches(images, size, batch_size)])


class CaptioningApplication(Application):
    """CNN encoder + attentional recurrent decoder; BLEU beside baselines; image-bytes export."""

    name = "captioning"
    spec_class = Spec
    headline_metric = "bleu4_beam"

    def build_data(self, spec, data_dir, run_dir) -> CaptionData:
        """Images with K captions per batch and the caption tokenizer (vocabulary in `run_dir`)."""
        return build_data(spec, data_dir, run_dir)

    def build_model(self, spec, data) -> keras.Model:
        """The compiled `Captioner` of `spec` for `data`'s vocabulary."""
        m = spec.model
        model = Captioner(data.vocabulary_size, image_size=data.image_size, encoder=m.encoder,
                          encoder_weights=m.encoder_weights, encoder_width=m.encoder_width,
                          encoder_blocks=m.encoder_blocks, encoder_convs=m.encoder_convs, memory_dim=m.memory_dim,
                          cell=m.cell, units=m.units, layers=m.layers, attention=m.attention,
                          luong_score=m.luong_score, attention_units=m.attention_units,
                          embedding_dim=m.embedding_dim, dropout=m.dropout, cell_options=m.cell_options,
                          tie_embeddings=m.tie_embeddings, name=spec.name or "captioner")
        model.compile(optimizer=self.optimizer(spec), loss=translation_loss(spec.training.label_smoothing),
                      metrics=[masked_accuracy])
        return model

    def evaluate(self, spec, model, data) -> dict[str, float]:
        """BLEU-1..4 of greedy and beam captions and of both baselines on the validation
        images, the teacher-forced validation loss; the captions are kept in
        ``data.hypotheses``. Writes the run directory's evaluation files (module doc)."""
        images, references = data.validation_images, data.validation_captions
        if spec.evaluate_limit:
            images, references = images[:spec.evaluate_limit], references[:spec.evaluate_limit]
        server = make_server(spec, model, data)
        batch = spec.decoding.batch_size
        results: dict[str, float] = {}
        if data.validation is not None:
            values = model.evaluate(data.validation, verbose=0, return_dict=True)
            results.update({f"validation_{k}": float(v) for k, v in values.items()})
        systems: dict[str, dict[str, float]] = {}
        names = {"greedy": "model, greedy", "beam": f"model, beam {spec.decoding.beam_width}"}
        for key, width in (("greedy", 0), ("beam", spec.decoding.beam_width)):
            start = time.perf_counter()
            data.hypotheses[key] = caption_images(server, image_batches(images, data.image_size, batch), width)
            results[f"decode_{key}_seconds"] = round(time.perf_counter() - start, 2)
            systems[names[key]] = evaluation.bleu_scores(data.hypotheses[key], references)
        extra = {}
        if spec.evaluation.baselines:
            start = time.perf_counter()
            constant, train_bleu = evaluation.constant_caption(data.train_captions,
                                                               spec.evaluation.constant_candidates, spec.training.seed)
            data.hypotheses["constant"] = [constant] * len(images)
            systems["constant caption"] = evaluation.bleu_scores(data.hypotheses["constant"], references)
            train_features = pooled_features(model, data.train_images, data.image_size, batch)
            query_features = pooled_features(model, images, data.image_size, batch)
            data.hypotheses["nearest_neighbour"] = evaluation.retrieval_captions(query_features, train_features,
                                                                                 data.train_captions)
            systems["nearest neighbour"] = evaluation.bleu_scores(data.hypotheses["nearest_neighbour"], references)
            results["baselines_seconds"] = round(time.perf_counter() - start, 2)
            extra = {"constant_caption": constant, "constant_caption_train_bleu4": train_bleu}
        for (key, label) in (("greedy", names["greedy"]), ("beam", names["beam"]),
                             ("constant", "constant caption"), ("nearest", "nearest neighbour")):
            if label in systems:
                results.update({f"{name}_{key}": value for name, value in systems[label].items()})
        if spec.evaluation.baselines:
            best = max(results["bleu4_constant"], results["bleu4_nearest"])
            results["bleu4_beam_ratio_to_best_baseline"] = results["bleu4_beam"] / best if best else float("inf")
        results["images"] = len(images)
        bare_references = [[evaluation.without_punctuation(r) for r in refs] for refs in references]
        bare = {label: evaluation.bleu_scores([evaluation.without_punctuation(h) for h in data.hypotheses[key]],
                                              bare_references)
                for key, label in (("greedy", names["greedy"]), ("beam", names["beam"]),
                                   ("constant", "constant caption"), ("nearest_neighbour", "nearest neighbour"))
                if key in data.hypotheses}
        results["bleu4_beam_without_punctuation"] = bare[names["beam"]]["bleu4"]
        table = (f"validation: {len(images)} images, {evaluation.BLEU_DESCRIPTION}\n"
                 f"{evaluation.comparison_table(systems)}\n\npunctuation removed (as coco-caption's tokenizer does)\n"
                 f"{evaluation.comparison_table(bare)}")
        print(table)
        if data.run_dir is not None:
            report = {"images": len(images), "bleu": evaluation.BLEU_DESCRIPTION, "systems": systems,
                      "systems_without_punctuation": bare, "params": int(model.count_params()), **extra}
            (data.run_dir / "evaluation.json").write_text(json.dumps(report, indent=1))
            (data.run_dir / "evaluation.txt").write_text(table + "\n")
            count = min(spec.evaluation.examples, len(images))
            if count:
                chosen = np.linspace(0, len(images) - 1, count).astype(int).tolist()
                shown = {label: [data.hypotheses[key][i] for i in chosen]
                         for key, label in (("beam", names["beam"]), ("greedy", names["greedy"]),
                                            ("nearest_neighbour", "nearest neighbour"),
                                            ("constant", "constant caption")) if key in data.hypotheses}
                args = ([images[i] for i in chosen], [references[i] for i in chosen], shown)
                evaluation.examples_page(data.run_dir / "examples.html", *args,
                                         title=f"{spec.name}: validation captions")
                evaluation.examples_figure(data.run_dir / "examples.png", *args,
                                           title=f"{spec.name}: validation captions")
            with open(data.run_dir / "captions_validation.tsv", "w", encoding="utf-8") as out:
                keys = [key for key in ("greedy", "beam", "constant", "nearest_neighbour") if key in data.hypotheses]
                out.write("\t".join(["image"] + keys) + "\n")
                for i, image in enumerate(images):
                    out.write("\t".join([pathlib.Path(image).name] + [data.hypotheses[k][i] for k in keys]) + "\n")
        return results

    def exporter(self, spec, model, data) -> CaptionerServer:
        """The `CaptionerServer` (see `make_server`)."""
        return make_server(spec, model, data)

    def after_run(self, spec, model, data, report) -> None:
        """Print BLEU-4 beside the best baseline and a few validation captions."""
        metrics = report.get("validation", {})
        if "bleu4_beam" in metrics:
            line = f"validation BLEU-4: greedy {metrics['bleu4_greedy']:.2f}, beam {metrics['bleu4_beam']:.2f}"
            if "bleu4_constant" in metrics:
                line += (f"; baselines: constant {metrics['bleu4_constant']:.2f}, "
                         f"nearest neighbour {metrics['bleu4_nearest']:.2f}")
            print(line)
        captions = data.hypotheses.get("beam", [])
        samples = []
        for i in range(min(spec.samples, len(captions))):
            sample = {"image": data.validation_images[i], "caption": captions[i],
                      "references": data.validation_captions[i]}
            samples.append(sample)
            print(f"  {pathlib.Path(sample['image']).name}: {sample['caption']}\n    ref: {sample['references'][0]}")
        report["samples"] = samples

    def starter(self, data_files) -> dict:
        """``data.captions`` and ``data.splits`` (the two files in either order, told apart
        by their header), ``data.images`` = the ``images`` folder beside them.

        Raises:
            ValueError: not two files, or their headers are not ``image_id<TAB>caption`` and
                ``image_id<TAB>split``.
        """
        if len(data_files) != 2:
            raise ValueError(f"captioning needs two files, the caption table and the split table "
                             f"(--data captions.tsv --data splits.tsv), received {len(data_files)}")
        keys = {}
        for file in data_files:
            with open(file, encoding="utf-8", errors="replace") as stream:
                header = stream.readline().rstrip("\n").split("\t")
            column = header[1].strip() if len(header) == 2 and header[0].strip() == "image_id" else ""
            if column not in ("caption", "split"):
                raise ValueError(f"{file}: expected the header image_id<TAB>caption or image_id<TAB>split, "
                                 f"found {header!r}")
            keys[f"data.{column}s"] = file
        if len(keys) != 2:
            raise ValueError("captioning needs one caption table and one split table")
        keys["data.images"] = str(pathlib.Path(keys["data.captions"]).parent / "images")
        return keys
