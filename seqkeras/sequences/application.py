"""`SequencesApplication`: dense-feature sequences (frames of feature vectors) on the shared machinery.

Two tasks (``data.task``) over the same `.ts` utterances and folds:

* ``classify``: one label per sequence (Japanese Vowels: the speaker of an utterance).
  Every evaluation scores the model and the pooled logistic-regression baseline
  (`baselines.pooled_logistic_regression`) on the validation fold.
* ``label_frames``: a label per frame of streams of 2–6 concatenated utterances (the
  notes' video-frame pattern). Every evaluation scores the model and the per-frame MLP
  (`baselines.frame_mlp`) on the validation streams: frame accuracy and segment F1
  (a predicted turn counts only with the right speaker and both boundaries exact:
  each turn is written as ``B-speaker I-speaker …`` and scored by the tagger's
  conlleval `span_scores`).

The validation fold is one of ``data.folds``; the cross-validated figure is the mean of
every fold's run (``python bench/sequences_cv.py --pipeline pipelines/japanese_vowels.toml``).
"""

from __future__ import annotations

import json

import keras
import numpy as np

from seqkeras.data.sources.ts_format import ts_header
from seqkeras.pipeline.application import Application
from seqkeras.pipeline.spec import JIT_COMPILE
from seqkeras.pipeline.tuning import SpecHyperModel
from seqkeras.sequences import baselines
from seqkeras.sequences.data import SequenceData, build_data, with_split
from seqkeras.sequences.model import build_sequence_model, compile_sequence_model, predict_frames
from seqkeras.sequences.server import SequenceServer
from seqkeras.sequences.spec import Spec
from seqkeras.tables import number, text_table
from seqkeras.tagging.metrics import span_scores, token_accuracy

WARMUP_ROWS = 2


class SequencesApplication(Application):
    """A ``.ts`` file of labelled frame sequences → recurrent classifier or frame labeller → frames-in export."""

    name = "sequences"
    spec_class = Spec
    # Utterance accuracy (classify) or frame accuracy (label_frames) on the validation fold.
    headline_metric = "accuracy"

    def build_data(self, spec, data_dir, run_dir) -> SequenceData:
        """The ``.ts`` file read and checked, the stratified folds, the training folds'
        frame statistics, and padded ``({"frames", "length"}, labels)`` batches (`build_data`)."""
        return build_data(spec, data_dir, run_dir)

    def build_model(self, spec, data) -> keras.Model:
        """The classifier ``→ float32[B, C]`` or frame labeller ``→ {"emissions", "tags"}``,
        compiled (cross-entropy and accuracy, or the tagger's CRF / softmax loss)."""
        m = spec.model
        model = build_sequence_model(
            data.features, data.num_classes, data.mean, data.std, task=spec.data.task, cell=m.cell,
            cell_options=m.cell_options, layers=m.layers, units=m.units, bidirectional=m.bidirectional,
            projection=m.projection, pooling=m.pooling, output=m.output, noise=m.noise, dropout=m.dropout,
            recurrent_dropout=m.recurrent_dropout, jit_compile=JIT_COMPILE[m.jit_compile],
            name=spec.name or "sequences")
        return compile_sequence_model(model, self.optimizer(spec))

    def hypermodel(self, spec, data):
        """The spec's search space; a trial that changes a ``data.*`` key (the fold, the
        streams) or the batch size re-splits the utterances already read (`with_split`)."""
        return SpecHyperModel(self, spec, data, rebuild=with_split)

    def evaluate(self, spec, model, data) -> dict[str, float]:
        """The model beside its non-recurrent baseline on the validation fold: prints the
        table and a few examples, saves ``evaluation_fold<k>.json`` in the run directory."""
        if data.task == "classify":
            results, examples = classify_results(model, data, spec.training.seed)
        else:
            results, examples = frame_results(model, data, spec.training.seed)
        print(f"validation fold {data.fold} of {data.folds}: {data.validation_utterances} utterances"
              + (f", {len(data.validation_streams)} streams" if data.validation_streams else ""))
        print(compare(results))
        for line in examples[:spec.evaluation.examples]:
            print(line)
        if data.run_dir is not None:
            (data.run_dir / f"evaluation_fold{data.fold}.json").write_text(
                json.dumps({"fold": data.fold, "folds": data.folds, "results": results}, indent=1, default=float))
        summary = {key: float(value) for key, value in results["model"].items()}
        summary.update({f"baseline_{key}": float(value) for key, value in results["baseline"].items()})
        summary.update({f"gold_{key}": float(value) for key, value in results.get("gold", {}).items()})
        summary["fold"] = data.fold
        return summary

    def exporter(self, spec, model, data) -> SequenceServer:
        """The frames → label(s) server (`SequenceServer`), warmed up on real validation sequences."""
        source = data.validation_streams or data.split("validation")
        return SequenceServer(model, data.classes, source.frames[:WARMUP_ROWS])

    def after_run(self, spec, model, data, report) -> None:
        metrics = report.get("validation", {})
        if "accuracy" not in metrics:
            return
        what = "utterance" if data.task == "classify" else "frame"
        line = (f"validation fold {data.fold}: {what} accuracy {100 * metrics['accuracy']:.2f} % "
                f"(baseline {100 * metrics['baseline_accuracy']:.2f} %)")
        if "segment_f1" in metrics:
            line += (f", segment F1 {100 * metrics['segment_f1']:.2f} "
                     f"(baseline {100 * metrics['baseline_segment_f1']:.2f})")
        print(line)

    def starter(self, data_files):
        """``data.train``: a labelled ``.ts`` file (checked: the header and every case)."""
        header = ts_header(data_files[0])
        if not header.class_labels:
            raise ValueError(f"{data_files[0]}: the cases carry no class label (@classLabel false)")
        return {"data.train": data_files[0]}


def classify_results(model, data: SequenceData, seed: int = 0) -> tuple[dict, list[str]]:
    """``{"model": {...}, "baseline": {...}}`` utterance accuracy on the validation fold, and
    example lines for the misclassified utterances."""
    train, validation = data.split("train"), data.split("validation")
    predicted = np.argmax(predict_frames(model, validation.frames), axis=-1)
    baseline = baselines.pooled_logistic_regression(train.frames, train.labels, data.num_classes, seed)
    pooled = np.argmax(baseline.predict_proba(baselines.pooled_features(validation.frames)), axis=-1)
    results = {"model": {"accuracy": float(np.mean(predicted == validation.labels))},
               "baseline": {"accuracy": float(np.mean(pooled == validation.labels))}}
    classes = data.classes
    examples = [f"  utterance {i} ({len(validation.frames[j])} frames): speaker {classes[gold]}, model "
                f"{classes[got]}, baseline {classes[base]}"
                for j, (i, gold, got, base) in enumerate(zip(data.validation_index, validation.labels, predicted,
                                                             pooled)) if got != gold]
    return results, examples or ["  every validation utterance classified correctly"]


def turn_tags(labels, classes) -> list[str]:
    """Per-frame class ids → IOB2 tags, one chunk per run of equal labels (a speaker turn)."""
    tags, previous = [], None
    for label in labels:
        tags.append(f"{'I' if label == previous else 'B'}-{classes[label]}")
        previous = label
    return tags


def frame_scores(gold: list[np.ndarray], predicted: list[np.ndarray], classes) -> dict[str, float]:
    """Frame accuracy and exact-turn (segment) precision, recall, F1 of per-frame labels."""
    gold_tags = [turn_tags(g, classes) for g in gold]
    predicted_tags = [turn_tags(p, classes) for p in predicted]
    spans = span_scores(gold_tags, predicted_tags, "iob2")
    return {"accuracy": token_accuracy([list(g) for g in gold], [list(p) for p in predicted]),
            "segment_precision": spans["precision"], "segment_recall": spans["recall"], "segment_f1": spans["f1"],
            "turns_per_stream": float(np.mean([count_turns(p) for p in predicted]))}


def count_turns(labels) -> int:
    """The number of runs of equal labels."""
    return 1 + int(np.count_nonzero(np.diff(labels))) if len(labels) else 0


def frame_results(model, data: SequenceData, seed: int = 0) -> tuple[dict, list[str]]:
    """The frame labeller and the per-frame MLP on the validation streams."""
    train, streams = data.split("train"), data.validation_streams
    predicted, _ = predict_frames(model, streams.frames)
    baseline = baselines.frame_mlp(train.frames, train.labels, data.num_classes, seed)
    ends = np.cumsum([len(f) for f in streams.frames])[:-1]
    alone = np.split(np.argmax(baseline.predict_proba(np.concatenate(streams.frames)), axis=-1), ends)
    results = {"model": frame_scores(streams.labels, predicted, data.classes),
               "baseline": frame_scores(streams.labels, alone, data.classes)}
    results["gold"] = {"turns_per_stream": float(np.mean([count_turns(g) for g in streams.labels]))}
    examples = [f"  stream {s}: gold {turns(streams.labels[s], data.classes)}\n"
                f"  {' ' * len(str(s))}         model {turns(predicted[s], data.classes)}\n"
                f"  {' ' * len(str(s))}      baseline {turns(alone[s], data.classes)}"
                for s in range(len(streams))]
    return results, examples


def turns(labels, classes) -> str:
    """``"3×14 7×20"``: each run of equal labels as class×frames."""
    runs, start = [], 0
    for t in range(1, len(labels) + 1):
        if t == len(labels) or labels[t] != labels[start]:
            runs.append(f"{classes[labels[start]]}×{t - start}")
            start = t
    return " ".join(runs)


def compare(results: dict) -> str:
    """The model, its baseline (and the gold turn count) side by side, percentages."""
    names = [n for n in ("model", "baseline", "gold") if n in results]
    baseline = "baseline (pooled LR)" if "gold" not in results else "baseline (per-frame MLP)"
    rows = []
    for key in results["model"]:
        scale = 1.0 if key == "turns_per_stream" else 100.0
        rows.append([key.replace("_", " ") + ("" if scale == 1.0 else " (%)")] +
                    [number(scale * results[n][key], 2) if key in results[n] else "-" for n in names])
    return text_table(["metric", "model", baseline, *names[2:]], rows)
